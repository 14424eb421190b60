"""Shared set-up of the claims about Chen et al. (NeurIPS 2023) and Kou et al. (ICML 2023).

The runs: the ``chen2023`` preset of :mod:`sharpness.signal_noise` (the papers' CNN with 1/m,
m = 10, P = 2, sigma_p = 1, sigma_0 = 0.01, logistic loss, batch B = 5, lr 0.1, 400 steps = 100
epochs, float32, label flip p = 0.1, 1000 test points, SAM's tau the theory's
m sqrt(B) / (P sigma_p sqrt(d))), over :data:`SEEDS` repeats from ``config.seed``.

The papers state their conditions with unspecified constants C_1, C_3 (n ||mu||^4 >= C_1 d P^4
sigma_p^4, resp. <= C_3 ...); a claim is checked at cells whose ratio
n ||mu||^4 / (d P^4 sigma_p^4) is reported with it, so a reader sees which constant was tested.
The test error is measured on 1000 fresh test points per run (sampling s.e. <= 0.016).
"""

from __future__ import annotations

import functools
from dataclasses import replace

import numpy as np

from sharpness.signal_noise import Algorithm, RunKey, preset, train_batched
from verify.config import ClaimConfig
from verify.report import CheckResult

SEEDS = 3
EPSILON = 0.05  #: benign: test error <= p + EPSILON
HARMFUL = 0.1  #: harmful: test error >= p + HARMFUL (the papers' constant)
EPOCH_STEPS = 4  #: n / B = 20 / 5


def refuse_foreign_options(config: ClaimConfig, claim: str) -> None:
    """These claims draw their own signal-noise data: --data and --exact do not apply."""
    if config.dataset is not None:
        raise ValueError(f"{claim} draws signal-noise data itself; --data does not apply")
    if config.exact:
        raise ValueError(f"{claim} is a training experiment; --exact does not apply")


def chen_preset():
    return preset("chen2023")


def ratio(d: int, n: int, mu: float, P: int = 2, sigma_p: float = 1.0) -> float:
    """n ||mu||^4 / (d P^4 sigma_p^4), the quantity of the phase condition."""
    return n * mu**4 / (d * P**4 * sigma_p**4)


def train_cells(cells, algorithm: Algorithm, seed: int, *, record_every: int = EPOCH_STEPS,
                seeds: int = SEEDS):  # fmt: skip
    """(d, n, mu) -> the ``seeds`` runs of ``algorithm`` (one batch per (d, n)).

    Deterministic, so a repeated request in one process is answered from a cache (``verify-
    theorem all`` and the tests ask for the same seed many times).
    """
    return dict(_train_cells(tuple(cells), Algorithm(algorithm), seed, record_every, seeds))


def as_saved(run):
    """(network, dataset) of one run, for ``--save`` (the flat (n, P d) inputs and labels)."""
    from constructions import Dataset

    D = run.data
    data = Dataset(D.flat().numpy(), D.y.numpy(), description="signal-noise sample (chen2023)")
    return run.network, data


@functools.lru_cache(maxsize=32)
def _train_cells(cells, algorithm, seed, record_every, seeds):
    pre = chen_preset()
    cfg = replace(pre.config(algorithm), record_every=record_every)
    out = {}
    by_shape: dict = {}
    for d, n, mu in cells:
        by_shape.setdefault((d, n), []).append(mu)
    for (d, n), mus in by_shape.items():
        keys = [RunKey(data=pre.data(d, mu), n=n, repeat=r, seed=seed)
                for mu in mus for r in range(seeds)]  # fmt: skip
        runs = train_batched(keys, cfg).runs
        for i, mu in enumerate(mus):
            out[(d, n, mu)] = runs[i * seeds : (i + 1) * seeds]
    return tuple(out.items())


def errors(runs) -> list[float]:
    return [float(r.test_error) for r in runs]


def fmt_errors(errs) -> str:
    return "[" + ", ".join(f"{e:.3f}" for e in errs) + "]"


def check_error_bound(name: str, errs, bound: float, *, above: bool, detail: str) -> CheckResult:
    """Every seed's test error <= bound (or >= bound with ``above``)."""
    errs = [float(e) for e in errs]
    ok = bool(errs) and (min(errs) >= bound if above else max(errs) <= bound)
    worst = min(errs) if above else max(errs)
    return CheckResult(name=name, passed=ok, value=worst,
                       expected=(">= " if above else "<= ") + f"{bound:.3g}",
                       tolerance="every seed (test-set s.e. <= 0.016)",
                       detail=f"{detail}; per seed {fmt_errors(errs)}", kind="float")  # fmt: skip


def check_interpolates(name: str, train_errors) -> CheckResult:
    """Training error 0 in every seed: the network overfits (fits the flipped labels too)."""
    worst = float(max(train_errors))
    return CheckResult(name=name, passed=worst == 0.0, value=worst, expected="0",
                       tolerance="exact (a count)", kind="exact",
                       detail="benign/harmful *overfitting*: the training set is interpolated")  # fmt: skip


def mean(xs) -> float:
    return float(np.mean(list(xs)))


def sgd_error_checks(runs: dict, flip: float, margin: float, *, above: bool) -> list:
    """Per cell ((d, n, mu) -> runs): SGD interpolates, and its test error is >= p + margin
    (``above``, harmful) or <= p + margin (benign) in every seed."""
    checks = []
    sign = ">=" if above else "<="
    for (d, n, mu), cell in runs.items():
        tag = f"d={d}, n={n}, ||mu||={mu:g}, ratio {ratio(d, n, mu):.3g}"
        checks.append(
            check_interpolates(f"SGD interpolates [{tag}]", [r.train_error for r in cell])
        )
        checks.append(
            check_error_bound(
                f"SGD test error {sign} p + {margin} [{tag}]",
                errors(cell),
                flip + margin,
                above=above,
                detail=f"Bayes error p = {flip}",
            )
        )
    return checks
