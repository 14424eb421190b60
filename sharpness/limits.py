"""What a request may cost on this machine: one table of limits, and the estimates checked against it.

Both commands (``verify-theorem`` and ``sharpness-train``) estimate the cost of a request from
its arguments alone, before any data are built or any library is imported, and refuse what
cannot finish here with one line that names the limit and the estimate (exit code 2). The module
imports nothing but the standard library, so the checks run before torch is loaded.

The figures behind the limits were measured on the shared 2-core machine (``OMP_NUM_THREADS=1``):

* a claim's memory is dominated by per-example gradients, n x P float64 values with P the
  construction's parameter count (the memorizing constructions have width n): ``4.1 --d 12
  --n 3000`` peaks at 0.89 GB against the estimate 8 n P = 1.0 GB, in 55 s (the n LPs of
  Definition 4.1, about n^2 d operations, dominate the time);
* a sampled hypercube estimate evaluates about 3e8 multiply-adds (points x width x d) per second
  (``4.1 --d 10 --hypercube-samples 300000``: 1 s);
* a 1-SAM step of a width-500, d = 30 network takes about 6 us with the C kernel (Table 2's
  fig1b, 10^7 steps, about a minute), i.e. about 2.5e9 multiply-adds per second.

Limits are deliberately round; :data:`LIMITS` is the single place that states them.
"""

from __future__ import annotations

import math
import os
import stat
from dataclasses import dataclass

__all__ = [
    "LIMITS",
    "Limit",
    "LimitExceededError",
    "check_claim_request",
    "check_experiment_request",
    "check_regular_input_file",
    "check_train_request",
    "claim_memory_bytes",
]


class LimitExceededError(ValueError):
    """A request whose estimated cost exceeds a :class:`Limit` (bad input: exit code 2)."""


@dataclass(frozen=True, kw_only=True)
class Limit:
    """One bound on a request, with its unit and the reason for its value."""

    name: str
    value: float
    unit: str
    why: str

    def check(self, what: str, estimate: float) -> None:
        """Raise :class:`LimitExceededError` naming ``what``, the estimate and this limit."""
        if not estimate <= self.value:  # NaN is refused too
            raise LimitExceededError(
                f"{what}: estimated {_fmt(estimate)} {self.unit}, above the limit of "
                f"{_fmt(self.value)} {self.unit} ({self.name}: {self.why})"
            )


def _fmt(x: float) -> str:
    if isinstance(x, int) and abs(x) < 10**6:
        return str(x)
    try:
        return f"{float(x):.3g}"
    except OverflowError:  # an int beyond float range (str() of it may exceed Python's limit)
        return f"~10^{math.floor((abs(int(x)).bit_length() - 1) * math.log10(2))}"


#: The one table of limits (see the module docstring for the measurements behind them).
LIMITS: dict[str, Limit] = {
    limit.name: limit
    for limit in (
        Limit(
            name="claim memory",
            value=4 * 2**30,
            unit="bytes",
            why="per-example gradients of the construction, 8 n P bytes, on a machine with a few "
            "GiB free",
        ),
        Limit(
            name="training points",
            value=8192,
            unit="points",
            why="Definition 4.1 solves one LP of n x d per point: n = 3000, d = 12 takes 55 s",
        ),
        Limit(
            name="input dimension",
            value=100_000,
            unit="dimensions",
            why="every point and weight row holds d float64 values",
        ),
        Limit(
            name="hypercube samples",
            value=10**8,
            unit="samples",
            why="a sampled estimate evaluates about 1e6 points per second at small width",
        ),
        Limit(
            name="sampling work",
            value=2e11,
            unit="multiply-adds",
            why="about 3e8 per second: ten minutes",
        ),
        Limit(
            name="training parameters",
            value=5 * 10**7,
            unit="parameters",
            why="float64 parameters, their gradients and SAM's perturbation: 1.2 GB",
        ),
        Limit(
            name="training work",
            value=1e13,
            unit="multiply-adds",
            why="steps x width x d at about 2.5e9 per second with the C kernel: about an hour",
        ),
        Limit(
            name="metric records",
            value=10**7,
            unit="records",
            why="metrics.jsonl grows by one line per record and is read back on resume",
        ),
        Limit(
            name="exact test points",
            value=2**32,
            unit="points",
            why="sharpness.hypercube.DEFAULT_MAX_POINTS: larger cubes of a trained network "
            "cannot be enumerated",
        ),
        Limit(
            name="seeds",
            value=100,
            unit="seeds",
            why="every seed reruns each panel's training: the quick scale takes minutes per seed",
        ),
        Limit(
            name="threads",
            value=256,
            unit="threads",
            why="torch and the kernels allocate per-thread state (1e5 threads: std::bad_alloc)",
        ),
        Limit(
            name="data magnitude",
            value=2.0**100,
            unit="(max |x|, |y|)",
            why="traces multiply squares of the data over the layers; float64 overflows at 1.8e308",
        ),
    )
}


#: sharpness.training.runs.EXACT_ALONG_RUN_MAX_D (repeated: this module imports no torch;
#: tests/sharpness/test_limits.py keeps them equal).
_EXACT_ALONG_RUN_MAX_D = 20


def claim_memory_bytes(n: int, d: int, depth: int = 2) -> int:
    """Upper estimate of a claim's peak memory: 8 n P bytes, P the parameters of a memorizing
    width-n depth-D network (n d + n first-layer, (D - 2) n^2 hidden, n output)."""
    params = n * (d + 2) + (depth - 2) * n * n
    return 8 * n * params


def check_claim_request(
    *, d: int, n: int, depth: int = 2, hypercube_samples: int | None = None
) -> None:
    """Refuse a claim request that cannot finish here (``verify-theorem CLAIM ...``).

    Args:
        d, n, depth: the training set's dimension and size, the network's depth.
        hypercube_samples: the sampled estimate's size, if one is asked for.

    Raises:
        LimitExceededError: naming the first limit exceeded and the estimate.
    """
    LIMITS["input dimension"].check(f"--d {d}", d)
    LIMITS["training points"].check(f"--n {n}", n)
    LIMITS["claim memory"].check(
        f"--d {d} --n {n} --depth {depth} (memory)", claim_memory_bytes(n, d, depth)
    )
    if hypercube_samples is not None:
        LIMITS["hypercube samples"].check(
            f"--hypercube-samples {hypercube_samples}", hypercube_samples
        )
        LIMITS["sampling work"].check(
            f"--hypercube-samples {hypercube_samples} at d = {d}, width ~{max(n, 4)}",
            hypercube_samples * max(n, 4) * d,
        )


def check_train_request(
    *,
    width: int,
    depth: int,
    d: int,
    n: int,
    epochs: int,
    batch_size: int,
    log_every: int,
    eval_every: int,
    test: str,
    test_samples: int,
) -> None:
    """Refuse a training run that cannot finish here (``sharpness-train ...``).

    The work is steps x (parameters) for training plus evaluations x test points x width x d for
    the test error (``test="exact"``: 2^d points per evaluation).

    Raises:
        LimitExceededError: naming the first limit exceeded and the estimate.
    """
    LIMITS["input dimension"].check(f"--d {d}", d)
    params = width * (d + 2) + (depth - 2) * width * width
    LIMITS["training parameters"].check(
        f"--width {width} --d {d} --depth {depth} (parameters)", params
    )
    steps = epochs * math.ceil(n / batch_size)
    # a full-batch step costs n per-example passes, a batch-1 step one
    work = steps * batch_size * params
    evals = epochs // eval_every + 1
    if test == "exact":
        LIMITS["exact test points"].check(f"--test exact at --d {d} (2^{d} points)", 2**d)
        work += evals * 2**d * params
    elif test == "auto" and d <= _EXACT_ALONG_RUN_MAX_D:
        work += evals * 2**d * params
    elif test in ("sampled", "auto"):
        LIMITS["hypercube samples"].check(f"--test-samples {test_samples}", test_samples)
        work += evals * test_samples * params
    LIMITS["training work"].check(
        f"--epochs {epochs} --n {n} --width {width} --d {d} (training and test evaluations)", work
    )
    LIMITS["metric records"].check(
        f"--epochs {epochs} --log-every {log_every}", epochs // log_every + evals
    )


def check_experiment_request(*, seeds: int, threads: int) -> None:
    """Refuse an experiments request (``verify-theorem fig1 --seeds N --threads T``) that cannot
    finish here.

    Raises:
        LimitExceededError: naming the first limit exceeded.
    """
    LIMITS["seeds"].check(f"--seeds {seeds}", seeds)
    LIMITS["threads"].check(f"--threads {threads}", threads)


def check_regular_input_file(path: str, what: str) -> None:
    """Refuse, without opening it, a path that is empty, missing or not a regular file.

    A named pipe would block the reader forever and a device (``/dev/zero``) never ends; both are
    refused from ``os.stat`` alone.

    Raises:
        ValueError: ``cannot read <what> <path>: ...``.
    """
    if not path or not path.strip():
        raise ValueError(f"{what} path is empty")
    try:
        st = os.stat(path)
    except OSError as exc:
        why = "no such file" if isinstance(exc, FileNotFoundError) else exc.strerror or str(exc)
        raise ValueError(f"cannot read {what} {path}: {why}") from None
    if not stat.S_ISREG(st.st_mode):
        kind = "a named pipe" if stat.S_ISFIFO(st.st_mode) else "a device or socket"
        if stat.S_ISDIR(st.st_mode):
            kind = "a directory"
        raise ValueError(f"cannot read {what} {path}: not a regular file ({kind})")
