"""Sharpness of 2-MLP-No-Bias: Lemma 3.1's norm, Lemma A.11's decomposition, and the exact
infimum over interpolators on complete symmetric training sets (Theorem 3.1, App. A.2).

**Per-neuron decomposition (Lemma A.11's display, corrected).** For f(x) = sum_j W2[j] relu(w_j . x),
at a twice-differentiable theta (Lemma 4.1 holds for ReLU MLPs even off interpolation),

.. math::
    \\mathrm{Tr}(\\nabla^2 L) = \\sum_j \\Big( W_2[j]^2 A_j + B_j \\Big), \\quad
    A_j = \\frac2n \\sum_i 1[w_j\\cdot x_i > 0]\\,\\|x_i\\|^2, \\quad
    B_j = \\frac2n \\sum_i \\mathrm{relu}(w_j\\cdot x_i)^2 .

The paper prints the second sum without its 2/n and writes dL/dW instead of d f(x_i)/dW in the
first line; with the 2/n on both terms its constants C_1, C_2 are consistent. Rescaling a neuron,
(w_j, W2[j]) -> (t w_j, W2[j]/t), leaves f unchanged, A_j too, and multiplies B_j by t^2, so the
flattest rescaling gives 2 |W2[j]| sqrt(A_j B_j) (AM-GM; :func:`balance_neurons`). With
\\hat B_j = B_j / ||w_j||^2 this yields, for every theta,

.. math::
    \\sum_j \\|W_{1,j}\\| |W_2[j]| \\le \\frac{\\mathrm{Tr}(\\nabla^2 L)}{2 \\min_j \\sqrt{A_j \\hat B_j}},

the inequality behind Lemma 3.1 / A.4 (the last step of the paper's chain, printed "=", is ">=").

**The Jacobian bound is valid, but not attained on P_xor.** Eq. (3) gives
Tr >= (2/n) sum_i 2 ||x_i|| |y_i| = 4 sqrt(d) on cube data
(:func:`sharpness.jacobian_lower_bound` with ``bias=False``). Equality needs, at every x_i, all
active neurons to carry the sign of y_i; a neuron active (strictly, else Tr is undefined) at x_i
and strictly inactive on every point of the other label exists iff there is no mu >= 0, mu != 0,
with mu_0 x_i = sum_k mu_k x_k over those points (Gordan's alternative; mu_0 = 0 covers an
other-label cone that is not pointed, e.g. one holding x and -x). :func:`jacobian_attainability`
decides this per point and returns the exact rational certificate when it fails.

**Exact infimum on complete, antipodally symmetric sets (ours).** Let the training set T lie in
{-1,1}^d with y = x[1] x[2], contain with every x all four sign choices of (x[1], x[2]) (complete)
and -x (symmetric); the full cube is such a set. Then for every interpolating 2-MLP-No-Bias at which
L is twice differentiable,

.. math::  \\mathrm{Tr}(\\nabla^2 L) > 4\\sqrt{2d} = \\sqrt2 \\cdot (\\text{Jacobian bound}),

and the bound is the infimum, approached by App. A.2.4's network, balanced, as eps -> 0+:
4 sqrt(2d) sqrt(1 + eps^2) / (1 - eps). Proof. Write a neuron as c relu(w . x) with ||w|| = 1,
w = (a, b, v). No pre-activation is 0 at a training point (that would be a fatal kink unless the
neuron has W2 = 0), so by symmetry exactly half of T is active: A = d. Also
(1/n) sum relu(w.x)^2 = (1/2)(1/n) sum (w.x)^2 = (a^2 + b^2 + q)/2 with q = mean (v.s)^2 >= 0, by
symmetry and completeness. Per block of four points with rest R = v.s,
mean y relu(w.x) = (1/2) mean x1 x2 |a x1 + b x2 + R| = (1/4)(max(|a+b|, |R|) - max(|a-b|, |R|)),
which is at most (1/4)| |a+b| - |a-b| | = min(|a|, |b|)/2 <= sqrt((a^2+b^2)/2)/2. Summing
y_i f(x_i) = 1 over T: 1 <= sum_j |c_j| sqrt((a_j^2+b_j^2)/2)/2. The balanced per-neuron trace is
2 |c_j| sqrt(A_j B_j) >= 2 sqrt(d) |c_j| sqrt(a_j^2+b_j^2), so Tr >= 2 sqrt(d) 2 sqrt(2) = 4 sqrt(2d).
Equality would need |a| = |b|, q = 0 and |R| <= |a - b| = 0, i.e. w = (a, a, 0): its pre-activation
is 0 on the mixed points, a kink. So the inequality is strict and the minimum is not attained:
"argmin_{L=0} Tr" in Theorem 3.1 is empty on such sets. The balanced kink network (eps = 0) has one-sided
trace 4 sqrt(d) with relu'(0) = 0, which autograd would silently report.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import torch

from constructions._checks import as_tensor
from constructions.no_bias import balance_neurons, lemma31_norm

__all__ = [
    "Attainability",
    "NeuronDecomposition",
    "balance_neurons",
    "complete_symmetric_infimum",
    "jacobian_attainability",
    "lemma31_norm",
    "lemma_a11_ratio",
    "neuron_decomposition",
]


def _require_nobias(net) -> None:
    arch = net.arch
    if arch.param_names != ("W1", "W2") or arch.activation != "relu":
        raise ValueError(f"need a 2-MLP-No-Bias network, got {arch.name}")


@dataclass(frozen=True, eq=False)
class NeuronDecomposition:
    """Lemma A.11's per-neuron terms: Tr = sum_j (W2[j]^2 A_j + B_j).

    Attributes:
        A: (2/n) sum_i 1[w_j . x_i > 0] ||x_i||^2 per neuron.
        B: (2/n) sum_i relu(w_j . x_i)^2 per neuron.
        B_hat: B_j / ||w_j||^2 (nan for a zero row).
        trace: sum_j (W2[j]^2 A_j + B_j), the Lemma 4.1 sum.
        balanced: sum_j 2 |W2[j]| sqrt(A_j B_j), the trace after the flattest per-neuron rescaling.
        norm: sum_j ||w_j|| |W2[j]| (Lemma 3.1).
        norm_bound: trace / (2 min_j sqrt(A_j B_hat_j)) over neurons with W2[j] w_j != 0: an upper
            bound on ``norm`` (inf if some used neuron has A_j B_hat_j = 0).
    """

    A: np.ndarray
    B: np.ndarray
    B_hat: np.ndarray
    trace: float
    balanced: float
    norm: float
    norm_bound: float


def neuron_decomposition(net, X) -> NeuronDecomposition:
    """The decomposition of the module docstring for a 2-MLP-No-Bias on inputs X.

    Activity is decided by the computed sign of w_j . x_i (relu'(0) = 0); call
    :func:`sharpness.find_kinks` first where that matters.
    """
    _require_nobias(net)
    X = as_tensor(X, net.dtype)
    p = net.param_dict()
    n = X.shape[0]
    Z = X @ p["W1"].T
    norms = torch.sum(X * X, dim=1)
    A = (2.0 / n) * ((Z > 0).to(X.dtype).T @ norms)
    B = (2.0 / n) * torch.sum(torch.relu(Z) ** 2, dim=0)
    wn = torch.linalg.vector_norm(p["W1"], dim=1)
    w2 = p["W2"][0]
    B_hat = torch.where(wn > 0, B / torch.where(wn > 0, wn**2, torch.ones_like(wn)), torch.nan)
    trace = float(torch.sum(w2**2 * A + B))
    balanced = float(torch.sum(2 * w2.abs() * torch.sqrt(A * B)))
    used = (w2 != 0) & (wn > 0)
    if torch.any(used):
        k = torch.sqrt(A[used] * B_hat[used])
        norm_bound = float(trace / (2 * torch.min(k))) if float(torch.min(k)) > 0 else math.inf
    else:
        norm_bound = 0.0
    out = [t.detach().numpy().copy() for t in (A, B, B_hat)]
    for a in out:
        a.setflags(write=False)
    return NeuronDecomposition(*out, trace, balanced, lemma31_norm(net), norm_bound)


def lemma_a11_ratio(net, X) -> float:
    """Tr / (||W1||_F^2 + d ||W2||^2) with Tr the Lemma 4.1 sum (Lemma A.11: in [C1, C2])."""
    dec = neuron_decomposition(net, X)
    p = net.numpy_params()
    denom = float(np.sum(p["W1"] ** 2) + net.d * np.sum(p["W2"] ** 2))
    return dec.trace / denom if denom > 0 else math.nan


@dataclass(frozen=True)
class CompleteSymmetricInfimum:
    """The exact infimum of Tr over twice-differentiable interpolators (module docstring).

    Attributes:
        value: 4 sqrt(2d) (not attained).
        jacobian: the Jacobian bound 4 sqrt(d) (valid, not the infimum).
        d: input dimension.
    """

    value: float
    jacobian: float
    d: int


def complete_symmetric_infimum(X, y) -> CompleteSymmetricInfimum:
    """inf Tr(nabla^2 L) = 4 sqrt(2d) over no-bias interpolators, after checking exactly that the
    training set is complete and antipodally symmetric (module docstring).

    Raises:
        ValueError: naming the first point that breaks a precondition.
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if X.ndim != 2 or y.shape != (X.shape[0],) or X.shape[1] < 2:
        raise ValueError(f"need X (n, d >= 2) and y (n,), got {X.shape} and {y.shape}")
    off = np.argwhere(np.abs(X) != 1.0)
    if off.size:
        raise ValueError(f"point {off[0][0]} is not in {{-1,1}}^{X.shape[1]}")
    bad = np.flatnonzero(y != X[:, 0] * X[:, 1])
    if bad.size:
        raise ValueError(f"label of point {bad[0]} is not x[1] x[2]")
    keys = {}
    for i, row in enumerate(X.astype(np.int64)):
        key = tuple(int(v) for v in row)
        if key in keys:
            raise ValueError(f"point {i} repeats point {keys[key]}")
        keys[key] = i
    for key, i in keys.items():
        neg = tuple(-v for v in key)
        if neg not in keys:
            raise ValueError(f"not antipodally symmetric: -x_{i} is missing")
        for a in (1, -1):
            for b in (1, -1):
                if (a, b) + key[2:] not in keys:
                    raise ValueError(
                        f"not complete: point {i} has no partner with (x[1], x[2]) = ({a}, {b})"
                    )
    d = X.shape[1]
    return CompleteSymmetricInfimum(4 * math.sqrt(2 * d), 4 * math.sqrt(d), d)


# --- attainability of the Jacobian bound ------------------------------------------------------


@dataclass(frozen=True)
class Attainability:
    """Whether some twice-differentiable no-bias interpolator attains the Jacobian bound.

    Attributes:
        attained: False (certified impossible), True (a memorizing interpolator exists: every
            point strictly separated from all others by a direction checked in exact
            arithmetic) or None (undecided).
        blocked: points x_i that no neuron can fire on while strictly off every point of the
            other label, each with its exact Gordan certificate {k: mu_k} (Fractions, mu >= 0,
            sum mu = 1, mu_{-1} x_i = sum_k mu_k x_k; key -1 is x_i itself).
        separable_from_all: whether every x_i is strictly separable (through 0) from all others.
    """

    attained: bool | None
    blocked: tuple[tuple[int, dict], ...]
    separable_from_all: bool


def _solve_exact(M: list[list[Fraction]], rhs: list[Fraction]) -> list[Fraction] | None:
    """An exact solution of M lam = rhs (Gauss-Jordan in Fractions; free variables 0), or None."""
    rows, cols = len(M), len(M[0]) if M else 0
    A = [list(r) + [b] for r, b in zip(M, rhs, strict=True)]
    piv_cols, r = [], 0
    for c in range(cols):
        p = next((i for i in range(r, rows) if A[i][c] != 0), None)
        if p is None:
            continue
        A[r], A[p] = A[p], A[r]
        inv = 1 / A[r][c]
        A[r] = [v * inv for v in A[r]]
        for i in range(rows):
            if i != r and A[i][c] != 0:
                f = A[i][c]
                A[i] = [a - f * b for a, b in zip(A[i], A[r], strict=True)]
        piv_cols.append(c)
        r += 1
    if any(all(v == 0 for v in A[i][:cols]) and A[i][cols] != 0 for i in range(rows)):
        return None
    sol = [Fraction(0)] * cols
    for i, c in enumerate(piv_cols):
        sol[c] = A[i][cols]
    return sol


def _gordan_certificate(x: np.ndarray, others: np.ndarray, idx: np.ndarray) -> dict | None:
    """Exact mu >= 0, sum mu = 1, with mu_0 x = sum_k mu_k x_k (Gordan), or None.

    Such mu exists iff no w has w . x > 0 > w . x_k for every k. The LP (HiGHS) finds a vertex;
    its support is re-solved in exact rationals and checked (mu >= 0, equations exact). Key -1
    of the returned dict is mu_0 (the weight of x itself).
    """
    from scipy.optimize import linprog

    if others.shape[0] == 0:
        return None
    d = x.shape[0]
    cols = np.concatenate([-x[:, None], others.T], axis=1)
    A_eq = np.concatenate([cols, np.ones((1, cols.shape[1]))])
    b_eq = np.concatenate([np.zeros(d), [1.0]])
    res = linprog(np.zeros(cols.shape[1]), A_eq=A_eq, b_eq=b_eq, bounds=(0, None), method="highs")
    if res.status != 0:
        return None
    support = np.flatnonzero(res.x > 1e-12)
    M = [[Fraction(int(A_eq[r, k])) for k in support] for r in range(d + 1)]
    rhs = [Fraction(0)] * d + [Fraction(1)]
    mu = _solve_exact(M, rhs)
    if mu is None or any(v < 0 for v in mu):
        return None
    keys = [-1 if k == 0 else int(idx[k - 1]) for k in support]
    return {key: v for key, v in zip(keys, mu, strict=True) if v != 0}


def _exact_separates(w: np.ndarray, X: np.ndarray, i: int) -> bool:
    """w . x_i > 0 and w . x_k < 0 for k != i, decided in exact rational arithmetic."""
    wf = [Fraction(float(v)) for v in w]
    for k, row in enumerate(X):
        s = sum((wv * int(xv) for wv, xv in zip(wf, row, strict=True)), Fraction(0))
        if (k == i and s <= 0) or (k != i and s >= 0):
            return False
    return True


def jacobian_attainability(X, y, *, limit: int | None = None) -> Attainability:
    """Decide, per point, whether the Jacobian bound can be attained by a no-bias interpolator.

    Integer inputs only (cube data): certificates are re-solved exactly in rationals.

    Args:
        X: (n, d) integer-valued inputs.
        y: (n,) nonzero labels.
        limit: stop after this many blocked points (default: check all).
    """
    from scipy.optimize import linprog

    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if np.any(X != np.round(X)):
        raise ValueError("jacobian_attainability needs integer-valued inputs (e.g. cube points)")
    if np.any(y == 0):
        raise ValueError("jacobian_attainability needs nonzero labels")
    n = X.shape[0]
    blocked = []
    for i in range(n):
        other = np.flatnonzero(np.sign(y) != np.sign(y[i]))
        cert = _gordan_certificate(X[i], X[other], other)
        if cert is not None:
            blocked.append((i, cert))
            if limit is not None and len(blocked) >= limit:
                break
    sep_all = True
    if not blocked:
        for i in range(n):
            rest = np.delete(np.arange(n), i)
            # w . x_i >= 1, w . x_k <= -1 for all k != i
            A_ub = np.concatenate([-X[i : i + 1], X[rest]])
            b_ub = np.concatenate([[-1.0], -np.ones(rest.size)])
            res = linprog(
                np.zeros(X.shape[1]), A_ub=A_ub, b_ub=b_ub, bounds=(None, None), method="highs"
            )
            if res.status != 0 or not _exact_separates(res.x, X, i):
                sep_all = False
                break
    else:
        sep_all = False
    attained = False if blocked else (True if sep_all else None)
    return Attainability(attained, tuple(blocked), sep_all)
