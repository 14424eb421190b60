"""Zero-one error and MSE over the full hypercube {-1, 1}^d under P_xor (Props. 4.1 and 4.2).

The zero-one error counts y f(x) <= 0 as a mistake (so an output of exactly 0 is a mistake);
the paper's Section 2 prints the zero-one loss as Pr(y f(x) > 0), which is the accuracy.

Exactness. The count is exact for the float weights given: every point's sign is decided either
by the float64 forward pass when |f_hat(x)| exceeds its rigorous rounding-error bound
(:mod:`sharpness._rounding`), or, when every unit of the last hidden layer is certainly inactive,
as exactly 0, or otherwise by re-evaluating f(x) in exact rational arithmetic (float weights are
dyadic rationals and x has entries +-1, so ReLU networks are evaluated without any rounding).
Smooth activations cannot be evaluated exactly; their uncertain points are counted as
``undecided`` and reported. The MSE is a float64 sum (math.fsum over chunk sums).

When 2^d is too large to enumerate, :func:`sampled_hypercube_error` gives an *estimate* with a
Clopper-Pearson confidence interval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import torch
from scipy import stats
from tqdm.auto import tqdm

from constructions._checks import check_int
from constructions.hypercube import hypercube_points, iter_hypercube
from sharpness._rounding import bounded_forward

__all__ = [
    "DEFAULT_MAX_POINTS",
    "EnumerationTooLargeError",
    "HypercubeError",
    "SampledHypercubeError",
    "hypercube_error",
    "sampled_hypercube_error",
]

DEFAULT_MAX_POINTS = 1 << 24
_SAMPLING_STREAM = 0x48C0BE


class EnumerationTooLargeError(ValueError):
    """2^d points are more than the enumeration limit."""

    def __init__(self, d: int, limit: int):
        self.d, self.limit = d, limit
        super().__init__(
            f"exact evaluation over {{-1,1}}^{d} needs 2^{d} = {2**d:.3g} points, above the limit "
            f"of {limit:.3g} for this machine; ask for a sampled estimate with a confidence "
            f"interval instead (--hypercube-samples N)"
        )


@dataclass(frozen=True)
class HypercubeError:
    """Exact zero-one error count and MSE over all 2^d points."""

    d: int
    total: int
    errors: int
    mse: float
    exact_rechecks: int
    undecided: int

    @property
    def zero_one(self) -> float:
        return self.errors / self.total


@dataclass(frozen=True)
class SampledHypercubeError:
    """An ESTIMATE from uniform samples, with confidence intervals."""

    d: int
    samples: int
    errors: int
    seed: int
    confidence: float
    zero_one: float
    ci_low: float
    ci_high: float
    mse: float
    mse_ci_low: float
    mse_ci_high: float


class _ExactEvaluator:
    """f(x) in rational arithmetic for a ReLU MLP (lazy: only built when needed)."""

    def __init__(self, net):
        self.arch = net.arch
        self.layers = []
        p = net.numpy_params()
        self.W1 = [[Fraction(float(v)) for v in row] for row in p["W1"]]
        self.b1 = [Fraction(float(v)) for v in p["b1"]] if net.arch.bias else None
        self.Ws = [
            [[Fraction(float(v)) for v in row] for row in p[f"W{j}"]]
            for j in range(2, net.arch.depth + 1)
        ]

    def __call__(self, x: np.ndarray) -> Fraction:
        xs = [int(v) for v in x]
        z = []
        for k, row in enumerate(self.W1):
            s = sum((w if xi > 0 else -w) for w, xi in zip(row, xs, strict=True))
            z.append(s + self.b1[k] if self.b1 is not None else s)
        for W in self.Ws:
            a = [v if v > 0 else Fraction(0) for v in z]
            z = [sum(w * ai for w, ai in zip(row, a, strict=True) if ai) for row in W]
        return z[0]


def _classify(net, X: torch.Tensor, y: torch.Tensor, exact: _ExactEvaluator | None):
    """Return (mistakes, exact_rechecks, undecided, sum of squared errors) for one chunk."""
    arch = net.arch
    bf = bounded_forward(arch, net.param_dict(), X)
    f, e = bf.output, bf.output_error
    sse = float(torch.sum((f - y) ** 2))
    sure = f.abs() > e
    mistakes = int(torch.sum(sure & (torch.sign(f) != y)))
    unsure = ~sure
    if not bool(torch.any(unsure)):
        return mistakes, 0, 0, sse
    if arch.activation == "relu":
        zl, el = bf.preacts[-1], bf.preact_errors[-1]
        exactly_zero = unsure & torch.all(zl + el <= 0, dim=1)
        mistakes += int(torch.sum(exactly_zero))  # f(x) = 0 exactly: y f(x) = 0 <= 0
        rest = torch.nonzero(unsure & ~exactly_zero).flatten().tolist()
        if rest and exact is None:
            exact = _ExactEvaluator(net)
        for i in rest:
            fx = exact(X[i].cpu().numpy())
            if fx * int(y[i]) <= 0:
                mistakes += 1
        return mistakes, len(rest), 0, sse
    undecided = int(torch.sum(unsure))
    mistakes += int(torch.sum(unsure & (f * y <= 0)))
    return mistakes, 0, undecided, sse


def hypercube_error(
    net,
    *,
    chunk_size: int = 1 << 14,
    max_points: int = DEFAULT_MAX_POINTS,
    progress: bool = True,
) -> HypercubeError:
    """Exact zero-one error and MSE of ``net`` over all of {-1,1}^d, labels y = x[1] x[2].

    Raises:
        EnumerationTooLargeError: if 2^d > max_points.
    """
    d = net.d
    if d < 2:
        raise ValueError(f"P_xor needs d >= 2, got d={d}")
    if d > 62 or (1 << d) > max_points:
        raise EnumerationTooLargeError(d, max_points)
    total = 1 << d
    mistakes = rechecks = undecided = 0
    sses = []
    exact = None
    bar = tqdm(
        total=total,
        desc=f"hypercube 2^{d}",
        unit="pt",
        unit_scale=True,
        disable=not progress,
        delay=1.0,
        leave=False,
    )
    try:
        for _, Xc in iter_hypercube(d, chunk_size, dtype=net.dtype):
            yc = Xc[:, 0] * Xc[:, 1]
            m, r, u, sse = _classify(net, Xc, yc, exact)
            mistakes, rechecks, undecided = mistakes + m, rechecks + r, undecided + u
            sses.append(sse)
            bar.update(Xc.shape[0])
    finally:
        bar.close()
    return HypercubeError(d, total, mistakes, math.fsum(sses) / total, rechecks, undecided)


def sampled_hypercube_error(
    net, samples: int, *, seed: int = 0, confidence: float = 0.95, chunk_size: int = 1 << 14
) -> SampledHypercubeError:
    """ESTIMATE of the zero-one error and MSE from uniform samples of {-1,1}^d.

    The zero-one interval is Clopper-Pearson (exact binomial); the MSE interval is the normal
    approximation mean +- z * sd / sqrt(N). Each sampled point's sign is decided exactly.
    """
    samples = check_int("samples", samples, minimum=1)
    seed = check_int("seed", seed, minimum=0)
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    d = net.d
    # A stream of its own: the same integer seed also draws the training set (sample_xor), and
    # sharing its stream would make the "test" points start with the training points.
    rng = np.random.default_rng([_SAMPLING_STREAM, seed])
    mistakes = 0
    sq_sum = sq_sq_sum = 0.0
    done = 0
    while done < samples:
        c = min(chunk_size, samples - done)
        if d <= 62:
            X = hypercube_points(torch.as_tensor(rng.integers(0, 1 << d, size=c)), d, net.dtype)
        else:
            X = torch.as_tensor(1.0 - 2.0 * rng.integers(0, 2, size=(c, d)), dtype=net.dtype)
        y = X[:, 0] * X[:, 1]
        m, _, _, _ = _classify(net, X, y, None)
        mistakes += m
        sq = (net(X) - y) ** 2
        sq_sum += float(sq.sum())
        sq_sq_sum += float((sq**2).sum())
        done += c
    alpha = 1 - confidence
    lo = (
        0.0 if mistakes == 0 else float(stats.beta.ppf(alpha / 2, mistakes, samples - mistakes + 1))
    )
    hi = (
        1.0
        if mistakes == samples
        else float(stats.beta.ppf(1 - alpha / 2, mistakes + 1, samples - mistakes))
    )
    mse = sq_sum / samples
    var = max(sq_sq_sum / samples - mse**2, 0.0)
    zq = float(stats.norm.ppf(1 - alpha / 2))
    half = zq * math.sqrt(var / samples)
    return SampledHypercubeError(
        d,
        samples,
        mistakes,
        seed,
        confidence,
        mistakes / samples,
        lo,
        hi,
        mse,
        max(mse - half, 0.0),
        mse + half,
    )
