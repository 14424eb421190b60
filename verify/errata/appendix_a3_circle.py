"""Appendix A.3.3 (Proposition A.2, circle data): Eq. (17) and the proof's counting and
triangle steps, checked as printed with plain numpy written for this module (independent of
:mod:`constructions.circle`, which the claim ``propA.2`` and its tests compare against this)."""

from __future__ import annotations

import math

import numpy as np

from verify.errata import ErrataEntry, ErratumClass


def _circle(n: int, seed: int):
    phi = np.sort(np.random.default_rng(seed).uniform(0.0, 2.0 * np.pi, n))
    V = np.stack([np.cos(phi), np.sin(phi)], axis=1)
    return phi, V, 1.0 + V[:, 0] / 2.0


def eq17_outputs(n: int = 40, seed: int = 0, cap: bool = False):
    """Outputs at the training points, active neurons per point, the trace minus the bound.

    d = 2, R = 1 (||x'||^2 = 2). ``cap=False``: Eq. (17) as printed; ``cap=True``: neuron j
    fires on the cap {v : v_j^T v > cos(alpha_j)}, alpha_j = 0.9 x the smaller gap to a neighbour.
    """
    phi, V, y = _circle(n, seed)
    prev = np.concatenate([[phi[-1] - 2 * np.pi], phi[:-1]])
    zang = (prev + phi) / 2  # z_j: midpoint of the arc v_{j-1} v_j
    wang = (zang + np.concatenate([zang[1:], [zang[0] + 2 * np.pi]])) / 2  # normal of z_j z_{j+1}
    Z = np.stack([np.cos(zang), np.sin(zang)], axis=1)
    W = np.stack([np.cos(wang), np.sin(wang)], axis=1)
    r = np.sqrt(np.abs(y) * math.sqrt(2.0))
    if not cap:
        wz = np.sum(W * Z, axis=1)
        pre = (V @ W.T - np.sum(W * V, axis=1) + wz) * r / wz  # pre[i, j], Eq. (17)
    else:
        gap = np.diff(np.concatenate([phi, [phi[0] + 2 * np.pi]]))
        alpha = 0.9 * np.minimum(gap, np.concatenate([[gap[-1]], gap[:-1]]))
        pre = (V @ V.T - np.cos(alpha)) * r / (1 - np.cos(alpha))
    act = np.maximum(pre, 0.0)
    f = act @ (y / r)
    on = pre > 0
    # (2/n) sum_i ||grad f(x_i)||^2: W2[j]^2 ||x_i'||^2 on each active unit, plus ||relu||^2
    grad2 = 2.0 * (on * (y / r) ** 2).sum(axis=1) + (act**2).sum(axis=1)
    excess = float(2.0 / n * grad2.sum() - 2.0 / n * np.sum(2.0 * math.sqrt(2.0) * np.abs(y)))
    return f, y, on.sum(axis=1), excess


def eq17_half_planes() -> ErrataEntry:
    f, y, active, _ = eq17_outputs()
    fc, yc, active_c, excess = eq17_outputs(cap=True)
    res, res_c = float(np.max(np.abs(f - y))), float(np.max(np.abs(fc - yc)))
    return ErrataEntry(
        "App. A.3.3, Proposition A.2, Eq. (17)",
        "W_{1,j} = r[w_j, ..., 0]/(w_j^T z_j), b_1[j] = r(-w_j^T v_j + w_j^T z_j)/(w_j^T z_j), W_2[j] "
        "= y_j/r, r^2 = |y_j| sqrt(R^2 + 1): neuron j active on the arc z_j z_{j+1}",
        res <= 1e-9,
        "the pre-activation r_j (w_j^T (v - v_j) + w_j^T z_j)/(w_j^T z_j) is positive on the half-plane "
        "w_j^T v > w_j^T v_j - w_j^T z_j (-> 0 as the gaps shrink), not on the arc; a cap, e.g. r_j (v_j^T v - cos "
        "alpha_j)/(1 - cos alpha_j) with alpha_j below the gaps to both neighbours, interpolates "
        "and is flattest (constructions.circle, form corrected); it does NOT rescue the "
        "proposition's error bound (a ReLU cap vanishes at its edge, so f is a tent, not ~ y_1 on "
        "the arc as the proof assumes: verify-theorem propA.2)",
        res_c <= 1e-9 and abs(excess) <= 1e-9,
        f"d = 2, R = 1, n = 40 uniform angles (numpy default_rng(0)), y = 1 + v[1]/2: as printed "
        f"{active.mean():.2f} neurons are active per training point on average (min {active.min()}, "
        f"max {active.max()}) and max |f(v_i) - y_i| = {res:.1f}: no interpolation. With caps: "
        f"{active_c.max()} active neuron per point, max residual {res_c:.1e}, trace - bound = "
        f"{excess:.1e}.",
        kind=ErratumClass.WRONG_AS_PRINTED,
    )


def _all_arcs_hit(N: int, n: int) -> float:
    """Pr(n uniform points hit all N equal arcs), by inclusion-exclusion, in exact integers."""
    total = sum((-1) ** k * math.comb(N, k) * (N - k) ** n for k in range(N + 1))
    return total / N**n


def coupon_collector() -> ErrataEntry:
    cases = [(N, delta) for N in (8, 20, 63) for delta in (0.5, 0.1, 0.01)]
    printed_n = {c: max(1, math.ceil(c[0] * math.log(c[1]))) for c in cases}  # N log delta < 0
    fixed_n = {c: math.ceil(c[0] * math.log(c[0] / c[1])) for c in cases}
    miss_printed = {c: 1 - _all_arcs_hit(c[0], printed_n[c]) for c in cases}
    miss_fixed = {c: 1 - _all_arcs_hit(c[0], fixed_n[c]) for c in cases}
    ok_printed = all(miss_printed[c] <= c[1] for c in cases)
    ok_fixed = all(miss_fixed[c] <= c[1] for c in cases)
    worst = max(cases, key=lambda c: miss_fixed[c] / c[1])
    N, delta = 63, 0.1
    return ErrataEntry(
        "App. A.3.3, Proposition A.2 (proof, coupon collector)",
        "with probability at least 1 - delta, when n >= N log delta, there is at least one point in "
        "each arc",
        ok_printed,
        "n >= N log(N/delta) (union bound: Pr(some arc empty) <= N (1 - 1/N)^n <= N e^{-n/N}); "
        "with N = ceil(2 pi/delta) this is the statement's n = Omega(log(1/delta)/delta)",
        ok_fixed,
        f"N log delta < 0 for delta < 1, so the printed condition holds for every n >= 1; at n = 1 "
        f"and N = {N}, delta = {delta} an arc is empty with probability {miss_printed[(N, delta)]:.3f} "
        f"> delta. Exact inclusion-exclusion for N in (8, 20, 63), delta in (0.5, 0.1, 0.01): at n = "
        f"ceil(N log(N/delta)) the miss probability is at most {miss_fixed[worst]:.3g} (N = "
        f"{worst[0]}, delta = {worst[1]}), always <= delta.",
        kind=ErratumClass.WRONG_AS_PRINTED,
    )


def triangle_step() -> ErrataEntry:
    a, b = 1.0, 1.0  # f - y_1 and y_1 - y at one test point
    rng = np.random.default_rng(0)
    A, B = rng.normal(size=(2, 100000))
    fixed = bool(np.all((A + B) ** 2 <= 2 * A**2 + 2 * B**2 + 1e-12))
    return ErrataEntry(
        "App. A.3.3, Proposition A.2 (proof, last display)",
        "||f(x) - y||^2 <= ||f(v) - y_1||^2 + ||y_1 - y||^2",
        (a + b) ** 2 <= a**2 + b**2,
        "||f - y||^2 <= 2 ||f - y_1||^2 + 2 ||y_1 - y||^2, giving 8 Y^2 delta^2/(1 - 10 delta)^2 + 2 "
        "L^2 delta^2: a constant only, so this step's O(delta^2) survives (the premise f ~ y_1 on "
        "the arc does not: Eq. (17) entry)",
        fixed,
        f"f - y_1 = y_1 - y = 1: the left side is {(a + b) ** 2:g}, the printed right side "
        f"{a**2 + b**2:g}; (a + b)^2 <= 2a^2 + 2b^2 holds on 100000 Gaussian pairs ({fixed}).",
        kind=ErratumClass.WRONG_AS_PRINTED,
    )


ORDER = 103.5
ENTRIES = [eq17_half_planes, coupon_collector, triangle_step]
