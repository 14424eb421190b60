"""Appendix A.5 (logistic loss with label smoothing): Definition A.2, Theorem A.2, Lemma A.13.

Exact (sympy) in the smoothing probability p: where the printed loss is minimized, and its second
derivative there, which is the factor between Tr(Hess L_log) and (1/n) sum ||grad f||^2 at an
interpolating model (the first-derivative term vanishes at the minimum).
"""

from __future__ import annotations

import sympy as sp

from verify.errata import ErrataEntry, ErratumClass

p = sp.Symbol("p", positive=True)
a = sp.Symbol("a", real=True)
GAMMA = sp.log((1 - p) / p)


def _printed(b):
    """Definition A.2 as printed: -p log(e^{ba}/(1+e^a)) - (1-p) log(e^{(1-b)a}/(1+e^a))."""
    return -p * sp.log(sp.exp(b * a) / (1 + sp.exp(a))) - (1 - p) * sp.log(
        sp.exp((1 - b) * a) / (1 + sp.exp(a))
    )


def _corrected(b):
    """p and 1 - p swapped: -(1-p) log(e^{ba}/(1+e^a)) - p log(e^{(1-b)a}/(1+e^a))."""
    return -(1 - p) * sp.log(sp.exp(b * a) / (1 + sp.exp(a))) - p * sp.log(
        sp.exp((1 - b) * a) / (1 + sp.exp(a))
    )


def _stationary(loss) -> list:
    return sp.solve(sp.simplify(sp.diff(loss, a)), a)


def _at(expr, value):
    return sp.simplify(sp.expand_log(expr.subs(a, value), force=True))


def definition_a2() -> ErrataEntry:
    printed = {b: _stationary(_printed(b)) for b in (0, 1)}
    fixed = {b: _stationary(_corrected(b)) for b in (0, 1)}

    def is_(sols, target):
        # compare exp of both sides (both real): log identities need 0 < p < 1, which sympy
        # cannot assume for a positive symbol
        return len(sols) == 1 and sp.simplify(sp.exp(sols[0]) - sp.exp(target)) == 0

    holds = all(is_(printed[b], (2 * b - 1) * GAMMA) for b in (0, 1))
    ok = all(is_(fixed[b], (2 * b - 1) * GAMMA) for b in (0, 1))
    return ErrataEntry(
        "Definition A.2 and Theorem A.2 (logistic loss with label smoothing)",
        "l(a, b) = -p log(e^{ba}/(1+e^a)) - (1-p) log(e^{(1-b)a}/(1+e^a)), minimized at "
        "a = (2b - 1) gamma_p, gamma_p = ln((1-p)/p)",
        holds,
        "l(a, b) = -(1-p) log(e^{ba}/(1+e^a)) - p log(e^{(1-b)a}/(1+e^a)) (p and 1-p swapped): "
        "then the minimum is at a = (2b - 1) gamma_p",
        ok,
        f"Exact (sympy, p symbolic): the printed loss has one stationary point, e^a = "
        f"{sp.simplify(sp.exp(printed[1][0]))} for b = 1 and e^a = "
        f"{sp.simplify(sp.exp(printed[0][0]))} for b = 0, i.e. a = -(2b - 1) gamma_p "
        f"(-gamma_p = {float(-GAMMA.subs(p, sp.Rational(1, 5))):.4f} at p = 0.2); the corrected "
        f"loss at e^a = {sp.simplify(sp.exp(fixed[1][0]))} and "
        f"{sp.simplify(sp.exp(fixed[0][0]))}, i.e. a = (2b - 1) gamma_p.",
        kind=ErratumClass.WRONG_AS_PRINTED,
    )


def lemma_a13() -> ErrataEntry:
    second = _at(sp.diff(_corrected(1), a, 2), GAMMA)
    factor_ok = sp.simplify(second - p * (1 - p)) == 0
    printed_ok = sp.simplify(second - 1 / (p * (1 - p))) == 0
    first = _at(sp.diff(_corrected(1), a), GAMMA)
    return ErrataEntry(
        "Lemma A.13",
        "Tr(Hess L_log(theta)) = 1/(p(1-p)) (1/n) sum_i ||grad_theta f(x_i)||^2 at an interpolator "
        "of {x_i, gamma_p (2 y_i - 1)}",
        printed_ok,
        "Tr(Hess L_log(theta)) = p(1-p) (1/n) sum_i ||grad_theta f(x_i)||^2",
        factor_ok and first == 0,
        f"Exact (sympy): Tr Hess L = (1/n) sum_i [l'' ||grad f_i||^2 + l' Tr Hess f_i]; at "
        f"f_i = (2 y_i - 1) gamma_p, l' = {first} and l'' = {sp.factor(second)}, so the factor is "
        "p(1-p) (e.g. 0.16 at p = 0.2), not 1/(p(1-p)) (6.25).",
        kind=ErratumClass.WRONG_AS_PRINTED,
    )


ORDER = 105
ENTRIES = [definition_a2, lemma_a13]
