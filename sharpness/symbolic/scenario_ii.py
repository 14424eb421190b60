"""Exact (sympy) sharpness quantities: proofs with no float tolerance, for ``--exact``.

* :func:`exact_sign` proves the sign of a real algebraic number: 0 only when sympy simplifies it
  to 0 or its minimal polynomial is x; otherwise ``evalf(strict=True)``, which raises rather than
  return a digit it cannot guarantee.
* :func:`exact_forward` evaluates a ReLU MLP with exact entries and proves the sign of every
  pre-activation (the activation pattern), reporting a kink when one is exactly 0.
* :func:`exact_hessian_trace`: where every pre-activation at every training point has a proven
  strict sign, L is a polynomial in the parameters on a neighbourhood of theta (the activation
  pattern is frozen), so

  .. math:: \\mathrm{Tr}\\,\\nabla^2 L = \\frac{2}{n}\\sum_i \\sum_s
            \\Big[\\Big(\\frac{\\partial f_i}{\\partial s}\\Big)^2
            + (f_i - y_i)\\frac{\\partial^2 f_i}{\\partial s^2}\\Big]

  with both derivatives taken by ``sympy.diff`` of that polynomial, parameter by parameter.
* :func:`exact_lower_bound`: the Jacobian bound of :mod:`sharpness.bounds.jacobian`, exactly.
* Closed forms in the free parameters: :func:`eq5_sharpness` (Eq. (5) as a function of r and d),
  its minimizer, and :func:`memorizing_sharpness` (App. A.3.1's one-parameter scaling family for
  any depth D) with its minimizer and minimum.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

__all__ = [
    "d_sym",
    "r_sym",
    "ExactForward",
    "eq5_sharpness",
    "eq5_analysis",
    "exact_forward",
    "exact_gradient_sq_norms",
    "exact_hessian_trace",
    "exact_hypercube_errors",
    "exact_lower_bound",
    "exact_sign",
    "memorizing_analysis",
    "memorizing_sharpness",
]

_x = sp.Symbol("x")


def exact_sign(expr) -> int:
    """The sign (-1, 0, 1) of a real number given exactly (rational, radical, algebraic)."""
    e = sp.sympify(expr)
    if e.is_Rational:
        return int(sp.sign(e))
    if e.is_zero is True:
        return 0
    try:
        v = sp.N(e, 30, strict=True)
    except sp.core.evalf.PrecisionExhausted:
        s = sp.simplify(e)
        if s == 0:
            return 0
        if sp.minimal_polynomial(s, _x) == _x:
            return 0
        v = sp.N(s, 60, strict=True)
    return 1 if v > 0 else -1


@dataclass(frozen=True)
class ExactForward:
    """Output and proven pre-activation signs of one input.

    ``constant`` marks layers whose every input unit is dead on a neighbourhood of theta (its
    pre-activation is certainly negative, or itself identically 0): their pre-activations are
    identically 0 near theta, so a 0 there is not a kink.
    """

    output: sp.Expr
    signs: tuple[tuple[int, ...], ...]  # per hidden layer, sign of each pre-activation
    constant: tuple[bool, ...] = ()

    @property
    def kinks(self) -> list[tuple[int, int]]:
        """(layer, neuron) with an exactly-zero pre-activation that is not identically 0."""
        const = self.constant or (False,) * len(self.signs)
        return [
            (l + 1, k)
            for l, row in enumerate(self.signs)
            if not const[l]
            for k, s in enumerate(row)
            if s == 0
        ]


def exact_forward(arch, params, x) -> ExactForward:
    """f(x) for a ReLU MLP with exact entries, and the proven sign of every pre-activation."""
    if arch.activation != "relu":
        raise ValueError("exact evaluation is implemented for ReLU networks")
    x = (
        sp.Matrix(x).reshape(len(x), 1)
        if not isinstance(x, sp.Matrix)
        else x.reshape(x.rows * x.cols, 1)
    )
    z = params["W1"] * x
    if arch.bias:
        z = z + params["b1"]
    signs = []
    for j in range(2, arch.depth + 1):
        s = tuple(exact_sign(v) for v in z)
        signs.append(s)
        a = sp.Matrix([v if sk > 0 else 0 for v, sk in zip(z, s, strict=True)])
        z = params[f"W{j}"] * a
    return ExactForward(
        sp.nsimplify(z[0, 0]) if z[0, 0].is_Rational else sp.radsimp(z[0, 0]), tuple(signs)
    )


def _symbolic_params(arch, params):
    syms, values, mats = [], {}, {}
    for name in arch.param_names:
        M = params[name]
        S = sp.Matrix(M.rows, M.cols, lambda i, j, name=name: sp.Symbol(f"{name}_{i}_{j}"))
        mats[name] = S
        for i in range(M.rows):
            for j in range(M.cols):
                syms.append(S[i, j])
                values[S[i, j]] = M[i, j]
    return syms, values, mats


def exact_hessian_trace(arch, params, X: sp.Matrix, y) -> dict:
    """Exact Tr(Hessian of L) and (2/n) sum ||grad f||^2 where the Hessian provably exists.

    A pre-activation that is exactly 0 at a training point is a kink. It is harmless (the Hessian
    exists and both one-sided conventions give it; see :mod:`sharpness.trace.kinks`) when the unit's
    outgoing weights are all exactly 0 and the point is interpolated exactly; it is then treated
    as inactive. Any other kink is fatal and no trace is returned.

    Returns:
        dict with ``trace``, ``lemma41`` (the Lemma 4.1 sum), ``residual_term``
        ((2/n) sum_i (f_i - y_i) Tr Hess f_i), ``harmless_kinks`` and ``fatal_kinks`` (lists of
        (point, layer, neuron)); traces are None when a fatal kink exists.
    """
    n = X.rows
    fwd = [exact_forward(arch, params, X.row(i)) for i in range(n)]
    interpolated = [exact_sign(fwd[i].output - sp.sympify(y[i])) == 0 for i in range(n)]
    harmless, fatal = [], []
    for i, f in enumerate(fwd):
        for layer, k in f.kinks:
            silent = all(v == 0 for v in params[f"W{layer + 1}"].col(k))
            (harmless if silent and interpolated[i] else fatal).append((i, layer, k))
    if fatal:
        return {
            "trace": None,
            "lemma41": None,
            "residual_term": None,
            "harmless_kinks": harmless,
            "fatal_kinks": fatal,
        }
    syms, values, S = _symbolic_params(arch, params)
    grad_sq = sp.Integer(0)
    resid_term = sp.Integer(0)
    for i in range(n):
        x = X.row(i).T
        z = S["W1"] * x + (S["b1"] if arch.bias else sp.zeros(S["W1"].rows, 1))
        for j, signs in zip(range(2, arch.depth + 1), fwd[i].signs, strict=True):
            z = S[f"W{j}"] * sp.Matrix([v if s > 0 else 0 for v, s in zip(z, signs, strict=True)])
        poly = sp.expand(z[0, 0])
        resid = sp.radsimp(poly.xreplace(values) - sp.sympify(y[i]))
        present = poly.free_symbols
        for s in syms:
            if s not in present:
                continue  # f_i does not depend on s on this region: both derivatives vanish
            g = sp.diff(poly, s)
            h = sp.diff(g, s)
            grad_sq += g.xreplace(values) ** 2
            resid_term += resid * h.xreplace(values)
    lemma41 = sp.Rational(2, n) * grad_sq
    trace = lemma41 + sp.Rational(2, n) * resid_term
    return {
        "trace": sp.radsimp(sp.expand(trace)),
        "lemma41": sp.radsimp(sp.expand(lemma41)),
        "residual_term": sp.simplify(sp.Rational(2, n) * resid_term),
        "harmless_kinks": harmless,
        "fatal_kinks": [],
    }


def exact_gradient_sq_norms(arch, params, X: sp.Matrix) -> list:
    """||grad_theta f(x_i)||^2 for each row, from sympy derivatives of f on its activation region.

    Raises:
        ValueError: if a pre-activation at some x_i is exactly zero (the gradient may not exist).
    """
    syms, values, S = _symbolic_params(arch, params)
    out = []
    for i in range(X.rows):
        fw = exact_forward(arch, params, X.row(i))
        if fw.kinks:
            raise ValueError(f"point {i} sits on a ReLU kink {fw.kinks[0]}")
        z = S["W1"] * X.row(i).T + (S["b1"] if arch.bias else sp.zeros(S["W1"].rows, 1))
        for j, signs in zip(range(2, arch.depth + 1), fw.signs, strict=True):
            z = S[f"W{j}"] * sp.Matrix([v if s > 0 else 0 for v, s in zip(z, signs, strict=True)])
        poly = sp.expand(z[0, 0])
        out.append(
            sp.radsimp(
                sp.expand(sum(sp.diff(poly, s).xreplace(values) ** 2 for s in poly.free_symbols))
            )
        )
    return out


def exact_lower_bound(X: sp.Matrix, y, depth: int, bias: bool = True) -> sp.Expr:
    """(2/n) sum_i D |y_i|^{2(D-1)/D} ||x'_i||^{2/D}, exactly."""
    n = X.rows
    total = sp.Integer(0)
    for i in range(n):
        sq = sp.sympify(sum(v**2 for v in X.row(i)) + (1 if bias else 0))
        absy = abs(sp.sympify(y[i]))
        total += depth * absy ** sp.Rational(2 * (depth - 1), depth) * sq ** sp.Rational(1, depth)
    return sp.radsimp(sp.Rational(2, n) * total)


def exact_hypercube_errors(arch, params, d: int) -> int:
    """The number of x in {-1,1}^d with y f(x) <= 0 (y = x[1] x[2]), each sign proven."""
    import itertools

    mistakes = 0
    for bits in itertools.product((1, -1), repeat=d):
        fw = exact_forward(arch, params, sp.Matrix(bits))
        if exact_sign(fw.output) * bits[0] * bits[1] <= 0:
            mistakes += 1
    return mistakes


# --- closed forms in the free parameters ----------------------------------------------------

#: The free parameters of the closed forms (positive reals r, positive integer d).
r_sym = sp.Symbol("r", positive=True)
d_sym = sp.Symbol("d", positive=True, integer=True)


def eq5_sharpness(r=r_sym, d=d_sym) -> sp.Expr:
    """Tr(Hessian of L) of Eq. (5) on any training set from {-1,1}^d, as a function of r and d.

    At every cube point exactly one neuron is active, with activation r and output weight +-1/r,
    so by Eq. (2) ||grad f||^2 = (1/r)^2 ||x'||^2 + r^2 = (d+1)/r^2 + r^2 at every training point,
    and Tr = (2/n) sum_i of it = 2((d+1)/r^2 + r^2). (Checked against exact_hessian_trace of the
    built network in the tests, for symbolic r and several d.)
    """
    return 2 * ((d + 1) / r**2 + r**2)


def eq5_analysis(d=d_sym) -> dict:
    """Minimizer of :func:`eq5_sharpness` over r > 0, the bound, and the printed r's excess."""
    T = eq5_sharpness(r_sym, d)
    crit = [c for c in sp.solve(sp.diff(T, r_sym), r_sym) if c.is_positive is not False]
    r_star = sp.simplify(crit[0])
    t_min = sp.simplify(T.subs(r_sym, r_star))
    bound = 4 * sp.sqrt(d + 1)  # (2/n) sum 2 ||x'|| |y| on the hypercube
    r_printed = (d**2 + 1) ** sp.Rational(1, 4)
    excess = sp.simplify(T.subs(r_sym, r_printed) - bound)
    square_form = 2 * (sp.sqrt(d**2 + 1) - sp.sqrt(d + 1)) ** 2 / sp.sqrt(d**2 + 1)
    if sp.simplify(sp.expand(excess - square_form)) == 0:
        excess = square_form  # proven equal: >= 0, and 0 iff d^2 + 1 = d + 1
    zero_at = sp.solve(sp.Eq(sp.simplify(T.subs(r_sym, r_printed) - bound), 0), d)
    return {
        "sharpness": T,
        "r_star": r_star,
        "min": t_min,
        "bound": bound,
        "min_equals_bound": sp.simplify(t_min - bound) == 0,
        "r_printed": r_printed,
        "printed_excess": excess,
        "printed_excess_zero_at": zero_at,
    }


def memorizing_sharpness(D=None, r=r_sym):
    """Per-point ||grad f||^2 of App. A.3.1's construction as a function of its scale r.

    With A = ||x'||^2, B = y^2 > 0 and the interpolation constraint u = |y| r^{D-1}, the D terms of
    ||grad f(x_i)||^2 are A r^{-2(D-1)} (first layer) and D-1 copies of B r^2 (the later layers).
    """
    A, B = sp.symbols("A B", positive=True)
    D = sp.Symbol("D", positive=True, integer=True) if D is None else sp.Integer(D)
    return A * r ** (-2 * (D - 1)) + (D - 1) * B * r**2, (A, B, D)


def memorizing_analysis(D=None) -> dict:
    """The minimizer r* = (A/B)^{1/(2D)} of :func:`memorizing_sharpness`, the minimum, and whether
    it equals the lower bound D |y|^{2(D-1)/D} ||x'||^{2/D} = D B^{(D-1)/D} A^{1/D}."""
    expr, (A, B, Dsym) = memorizing_sharpness(D)
    r_star = (A / B) ** (1 / (2 * Dsym))
    deriv_at = sp.simplify(sp.powsimp(sp.diff(expr, r_sym).subs(r_sym, r_star), force=True))
    minimum = sp.simplify(sp.powsimp(expr.subs(r_sym, r_star), force=True))
    bound = Dsym * B ** ((Dsym - 1) / Dsym) * A ** (1 / Dsym)
    same = sp.simplify(sp.powsimp(minimum - bound, force=True)) == 0
    second = sp.simplify(sp.diff(expr, r_sym, 2).subs(r_sym, r_star))
    return {
        "per_point": expr,
        "r_star": r_star,
        "derivative_at_r_star": deriv_at,
        "second_derivative_at_r_star": second,
        "minimum": minimum,
        "bound": bound,
        "minimum_equals_bound": same,
    }
