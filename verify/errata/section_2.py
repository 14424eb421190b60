"""Section 2 (Setup): the loss definitions."""

from __future__ import annotations

import itertools

import sympy as sp

from constructions import sample_xor
from constructions.symbolic import exact_four_neuron_solution, exact_memorizing_solution
from sharpness.symbolic.scenario_ii import exact_forward, exact_hessian_trace, exact_sign
from verify.errata import ErrataEntry, ErratumClass


def zero_one_loss() -> ErrataEntry:
    d = 4
    cons = exact_four_neuron_solution(sample_xor(d, 4, 0).X, d)
    positive = nonpositive = 0
    for bits in itertools.product((1, -1), repeat=d):
        s = (
            exact_sign(exact_forward(cons.arch, cons.params, sp.Matrix(bits)).output)
            * bits[0]
            * bits[1]
        )
        positive += s > 0
        nonpositive += s <= 0
    total = 2**d
    return ErrataEntry(
        where="Sec. 2, 'Loss' (zero one loss)",
        printed="zero one loss Pr(y f(x) > 0)",
        holds_as_printed=False,
        corrected="zero-one error Pr(y f(x) <= 0)",
        corrected_holds=nonpositive == 0,
        evidence=(
            f"On Eq. (5) (corrected r), which computes x[1]x[2] exactly, over all {total} points of "
            f"{{-1,1}}^{d}: Pr(y f > 0) = {positive}/{total} (the printed 'loss' of a perfect model), "
            f"Pr(y f <= 0) = {nonpositive}/{total}; Props. 4.1-4.2 use the error, not the accuracy."
        ),
        kind=ErratumClass.WRONG_AS_PRINTED,
    )


def mse_normalization() -> ErrataEntry:
    ds = sample_xor(4, 6, 1)
    cons = exact_memorizing_solution(ds.X, ds.y, 2)
    res = exact_hessian_trace(cons.arch, cons.params, cons.X, cons.y)
    same = sp.simplify(res["trace"] - res["lemma41"]) == 0
    return ErrataEntry(
        where="Sec. 2, 'Loss' (MSE) with Lemma 4.1's factor 2/n",
        printed="L(theta) = (1/n) sum_i (f(x_i) - y_i)^2 and Tr(Hess L) = (2/n) sum ||grad f(x_i)||^2",
        holds_as_printed=same,
        corrected=None,
        corrected_holds=None,
        evidence=(
            f"Exact: the memorizing network (d=4, n=6), trace from sympy second derivatives of the "
            f"printed L: {res['trace']} = (2/n) sum ||grad f||^2 = {res['lemma41']}."
        ),
        kind=ErratumClass.HOLDS,
    )


ORDER = 2
ENTRIES = [zero_one_loss, mse_normalization]
