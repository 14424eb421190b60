"""Zero-one error and MSE over the full hypercube {-1, 1}^d under P_xor (Props. 4.1 and 4.2).

The zero-one error counts y f(x) <= 0 as a mistake (so an output of exactly 0 is a mistake);
the paper's Section 2 prints the zero-one loss as Pr(y f(x) > 0), which is the accuracy.

Exactness. The count is exact for the float weights given: every point's sign is decided either
by the float64 forward pass when |f_hat(x)| exceeds its rigorous rounding-error bound
(:mod:`sharpness._rounding`), or, when every unit of the last hidden layer is certainly inactive,
as exactly 0, or otherwise by re-evaluating f(x) in exact rational arithmetic (float weights are
dyadic rationals and x has entries +-1, so ReLU networks are evaluated without any rounding).
Smooth activations cannot be evaluated exactly; their uncertain points are counted as
``undecided`` and reported. 2-MLP-Sim-LN divides by max{||h||, eps} > 0, so its sign is that of
the ReLU MLP W2 relu(W1 x + b1), decided exactly as above. 2-MLP-Sim-BN's output weights
W2 gamma / a_j involve square roots of the training statistics; they carry error bounds, and
uncertain points are evaluated from exact rationals with mpmath square roots at high precision.
The MSE is a float64 sum (math.fsum over chunk sums) of the network's own outputs.

Speed and scale. :func:`hypercube_error` first prunes sub-cubes on which the network is provably
0 or affine with a certain sign (:mod:`sharpness.hypercube.pruning`, exact for the paper's constructions at
any d) and enumerates what is left with first-layer tables and a compiled kernel
(:mod:`sharpness.hypercube.enumeration`, 2^30 points of a width-100 network in 20-80 s on 2 shared
cores, about 50x the naive forward; BENCHMARKS.md); every sign
decision there follows the rules above. The classes below decide single points and serve both.

When too many points are left to enumerate, :func:`sampled_hypercube_error` gives an *estimate* with a
Clopper-Pearson confidence interval.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy import stats
from tqdm.auto import tqdm

from constructions._checks import check_int
from constructions.hypercube import hypercube_points
from sharpness.hypercube.decisions import (
    _SAMPLING_STREAM,
    DEFAULT_MAX_OPEN,
    DEFAULT_MAX_POINTS,
    EnumerationTooLargeError,
    HypercubeError,
    SampledHypercubeError,
    decider,
)
from sharpness.hypercube.enumeration import cube_network
from sharpness.hypercube.pruning import branch_and_bound

__all__ = [
    "DEFAULT_MAX_POINTS",
    "EnumerationTooLargeError",
    "HypercubeError",
    "SampledHypercubeError",
    "clopper_pearson",
    "hypercube_error",
    "sampled_hypercube_error",
]


def clopper_pearson(mistakes: int, samples: int, confidence: float = 0.95) -> tuple[float, float]:
    """The exact (Clopper-Pearson) two-sided interval of a binomial proportion mistakes/samples.

    Raises:
        ValueError: for counts outside 0 <= mistakes <= samples, samples >= 1, or a confidence
            outside (0, 1).
    """
    samples = check_int("samples", samples, minimum=1)
    mistakes = check_int("mistakes", mistakes, minimum=0)
    if mistakes > samples:
        raise ValueError(f"mistakes must be <= samples = {samples}, got {mistakes}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    alpha = 1 - confidence
    lo = (
        0.0 if mistakes == 0 else float(stats.beta.ppf(alpha / 2, mistakes, samples - mistakes + 1))
    )
    hi = (
        1.0
        if mistakes == samples
        else float(stats.beta.ppf(1 - alpha / 2, mistakes + 1, samples - mistakes))
    )
    return lo, hi


def hypercube_error(
    net,
    *,
    chunk_size: int = 1 << 18,
    max_points: int = DEFAULT_MAX_POINTS,
    progress: bool = True,
    device=None,
    backend: str = "auto",
    prune: bool = True,
) -> HypercubeError:
    """Exact zero-one error and MSE of ``net`` over all of {-1,1}^d, labels y = x[1] x[2].

    Sub-cubes on which the network is provably 0 or affine with a certain sign are counted in
    closed form (:mod:`sharpness.hypercube.pruning`); the rest is enumerated point by point with exact
    sign decisions (:mod:`sharpness.hypercube.enumeration`). The paper's constructions need no
    enumeration at all, for any d; a general width-100 network at d = 30 is enumerated in
    20-80 s on the shared 2-core machine (see BENCHMARKS.md).

    Args:
        net: the network (MLP of any depth, ReLU or softplus; 2-MLP-Sim-LN; 2-MLP-Sim-BN with
            its ``reference`` training inputs).
        chunk_size: points per block of the plain-torch enumeration (memory only).
        max_points: most points that may be enumerated one by one after pruning.
        progress: show a progress bar (after one second).
        device: "cpu" (default) or "cuda" for the enumeration kernels.
        backend: "auto", "compiled" or "eager" (see :class:`~sharpness.hypercube.enumeration.CubeEnumerator`).
        prune: use sub-cube pruning (default); False enumerates every point.

    Raises:
        EnumerationTooLargeError: if more than ``max_points`` points are left to enumerate
            (raised before any of them is evaluated).
    """
    net = cube_network(net)
    d = net.d
    if d < 2:
        raise ValueError(f"P_xor needs d >= 2, got d={d}")
    max_points = check_int("max_points", max_points, minimum=1)
    chunk_size = check_int("chunk_size", chunk_size, minimum=1)
    if not prune and (d > 62 or (1 << d) > max_points):
        raise EnumerationTooLargeError(d, max_points)
    total = 1 << d
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
        outcome = branch_and_bound(
            net,
            max_points=max_points,
            max_open=DEFAULT_MAX_OPEN if prune else 1,
            advance=bar.update,
            device=device,
            backend=backend,
            chunk_size=chunk_size,
        )
    finally:
        bar.close()
    t = outcome.tally
    method = "enumeration" if outcome.resolved_points == 0 else "sub-cube pruning"
    if outcome.resolved_points and outcome.enumerated_points:
        method = "sub-cube pruning + enumeration"
    return HypercubeError(
        d,
        total,
        t.mistakes,
        t.sse / total,
        t.rechecks,
        t.undecided,
        method=method,
        evaluated=outcome.enumerated_points,
    )


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
    decide = decider(net)
    while done < samples:
        c = min(chunk_size, samples - done)
        if d <= 62:
            X = hypercube_points(torch.as_tensor(rng.integers(0, 1 << d, size=c)), d, net.dtype)
        else:
            X = torch.as_tensor(1.0 - 2.0 * rng.integers(0, 2, size=(c, d)), dtype=net.dtype)
        y = X[:, 0] * X[:, 1]
        m, _, _ = decide.mistakes(X, y)
        mistakes += m
        sq = (net(X) - y) ** 2
        sq_sum += float(sq.sum())
        sq_sq_sum += float((sq**2).sum())
        done += c
    lo, hi = clopper_pearson(mistakes, samples, confidence)
    mse = sq_sum / samples
    var = max(sq_sq_sum / samples - mse**2, 0.0)
    zq = float(stats.norm.ppf(1 - (1 - confidence) / 2))
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
