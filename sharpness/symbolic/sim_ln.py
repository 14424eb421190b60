"""Exact (sympy) sharpness of 2-MLP-Sim-LN: Theorem 5.1, Propositions 5.1-5.2, Lemma A.12.

f(x) = W_2 h / N, h = relu(W_1 x + b_1), N = max{||h||, eps}, with exact entries and exact eps.

* :func:`exact_forward_sim_ln` proves the sign of every pre-activation and the regime of the max:
  ``normalized`` (||h||^2 > eps^2), ``linear`` (||h||^2 < eps^2) or ``switch`` (equal), comparing
  squares, so no square root is ever rounded.
* :func:`exact_hessian_trace_sim_ln`: where every ReLU pre-activation has a proven strict sign and
  no training point sits on the switch, f_i is, near theta, the smooth function
  W_2 h_A / ||h_A|| (normalized) or W_2 h_A / eps (linear) of the parameters (A the active units),
  so Tr(nabla^2 L) = (2/n) sum_i sum_s [(df_i/ds)^2 + (f_i - y_i) d^2 f_i/ds^2] with both
  derivatives from ``sympy.diff``. The residual term is kept: Lemma 4.1's identity holds for Sim-LN
  at interpolation only (the diagonal of nabla^2 f does not vanish).
  Kinks follow the rules derived in :mod:`sharpness.architectures.sim_ln`: a zero pre-activation is harmless iff
  the unit's output weight is exactly 0 and the point is interpolated (then the unit is dropped:
  it enters L at second order times the residual); the switch is harmless iff f(x_i) = y_i = 0.
* :func:`exact_sim_ln_lower_bound`: Lemma A.12, (2/n) sum_i min(1, 2 c_i/eps), c_i = ||x'_i|| |y_i|,
  with the min decided exactly.
* :func:`exact_hypercube_errors_sim_ln`: sign f(x) = sign(W_2 h(x)) since N > 0, proven per vertex.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import sympy as sp

from sharpness.symbolic.scenario_ii import _symbolic_params, exact_sign

__all__ = [
    "ExactSimLNForward",
    "exact_forward_sim_ln",
    "exact_hessian_trace_sim_ln",
    "exact_hypercube_errors_sim_ln",
    "exact_sim_ln_lower_bound",
]

REGIMES = ("normalized", "linear", "switch")


@dataclass(frozen=True)
class ExactSimLNForward:
    """f(x), the proven sign of every ReLU pre-activation, ||h||^2 and the regime of the max."""

    output: sp.Expr
    signs: tuple[int, ...]
    norm_sq: sp.Expr
    regime: str

    @property
    def kinks(self) -> list[int]:
        """Units whose pre-activation is exactly 0."""
        return [k for k, s in enumerate(self.signs) if s == 0]


def _column(x) -> sp.Matrix:
    if isinstance(x, sp.Matrix):
        return x.reshape(x.rows * x.cols, 1)
    return sp.Matrix(list(x)).reshape(len(x), 1)


class _SimLNNames:
    """The parameter names of 2-MLP-Sim-LN, for :func:`sharpness.symbolic._symbolic_params`."""

    param_names = ("W1", "b1", "W2")


def exact_forward_sim_ln(params, eps, x) -> ExactSimLNForward:
    """Evaluate the 2-MLP-Sim-LN at one input with exact entries; every comparison is proven."""
    x = _column(x)
    z = params["W1"] * x + params["b1"]
    signs = tuple(exact_sign(v) for v in z)
    h = [v if s > 0 else sp.Integer(0) for v, s in zip(z, signs, strict=True)]
    norm_sq = sp.radsimp(sp.expand(sum(v**2 for v in h)))
    eps = sp.sympify(eps)
    regime = {1: "normalized", -1: "linear", 0: "switch"}[exact_sign(norm_sq - eps**2)]
    num = sum((params["W2"][0, k] * h[k] for k in range(len(h))), sp.Integer(0))
    out = num / sp.sqrt(norm_sq) if regime == "normalized" else num / eps
    return ExactSimLNForward(sp.radsimp(sp.expand(out)), signs, norm_sq, regime)


def exact_hessian_trace_sim_ln(params, eps, X: sp.Matrix, y) -> dict:
    """Exact Tr(nabla^2 L) and (2/n) sum ||grad f||^2 where the Hessian provably exists.

    Returns:
        dict with ``trace``, ``lemma41`` ((2/n) sum ||grad f||^2), ``residual_term``, ``regimes``
        (per point), ``harmless_kinks`` and ``fatal_kinks`` (lists of (point, unit), the switch
        as unit None); the traces are None when a fatal kink exists.
    """
    eps = sp.sympify(eps)
    n = X.rows
    fwd = [exact_forward_sim_ln(params, eps, X.row(i)) for i in range(n)]
    resid = [sp.radsimp(fwd[i].output - sp.sympify(y[i])) for i in range(n)]
    interpolated = [exact_sign(r) == 0 for r in resid]
    harmless, fatal = [], []
    for i, f in enumerate(fwd):
        for k in f.kinks:
            silent = params["W2"][0, k] == 0
            (harmless if silent and interpolated[i] else fatal).append((i, k))
        if f.regime == "switch":
            ok = interpolated[i] and sp.sympify(y[i]) == 0
            (harmless if ok else fatal).append((i, None))
    regimes = tuple(f.regime for f in fwd)
    if fatal:
        return {
            "trace": None,
            "lemma41": None,
            "residual_term": None,
            "regimes": regimes,
            "harmless_kinks": harmless,
            "fatal_kinks": fatal,
        }
    syms, values, S = _symbolic_params(_SimLNNames, params)
    grad_sq = sp.Integer(0)
    resid_term = sp.Integer(0)
    for i in range(n):
        x = X.row(i).T
        z = S["W1"] * x + S["b1"]
        active = [k for k, s in enumerate(fwd[i].signs) if s > 0]
        num = sum((S["W2"][0, k] * z[k] for k in active), sp.Integer(0))
        if fwd[i].regime == "normalized":
            f = num / sp.sqrt(sum((z[k] ** 2 for k in active), sp.Integer(0)))
        else:  # linear, or a harmless switch (f = y = 0: both sides give the same gradient)
            f = num / eps
        for s in f.free_symbols:
            g = sp.diff(f, s)
            grad_sq += g.xreplace(values) ** 2
            if resid[i] != 0:
                resid_term += resid[i] * sp.diff(g, s).xreplace(values)
    lemma41 = sp.radsimp(sp.expand(sp.Rational(2, n) * grad_sq))
    residual = sp.radsimp(sp.expand(sp.Rational(2, n) * resid_term))
    return {
        "trace": sp.radsimp(sp.expand(lemma41 + residual)),
        "lemma41": lemma41,
        "residual_term": residual,
        "regimes": regimes,
        "harmless_kinks": harmless,
        "fatal_kinks": [],
    }


def exact_sim_ln_lower_bound(X: sp.Matrix, y, eps) -> sp.Expr:
    """Lemma A.12: (2/n) sum_i min(1, 2 ||x'_i|| |y_i| / eps), the min decided exactly."""
    eps = sp.sympify(eps)
    n = X.rows
    total = sp.Integer(0)
    for i in range(n):
        c = sp.sqrt(sum(v**2 for v in X.row(i)) + 1) * abs(sp.sympify(y[i]))
        total += 1 if exact_sign(2 * c - eps) >= 0 else 2 * c / eps
    return sp.radsimp(sp.Rational(2, n) * total)


def exact_hypercube_errors_sim_ln(params, d: int) -> int:
    """The number of x in {-1,1}^d with y f(x) <= 0 (y = x[1] x[2]); sign f = sign(W_2 h) is
    proven at every vertex (the normalizer N = max{||h||, eps} > 0 does not change it)."""
    mistakes = 0
    W1, b1, W2 = params["W1"], params["b1"], params["W2"]
    for bits in itertools.product((1, -1), repeat=d):
        z = W1 * sp.Matrix(bits) + b1
        h = [v if exact_sign(v) > 0 else 0 for v in z]
        out = sum((W2[0, k] * h[k] for k in range(len(h))), sp.Integer(0))
        if exact_sign(out) * bits[0] * bits[1] <= 0:
            mistakes += 1
    return mistakes
