"""Section 5 (Scenario III, 2-MLP-Sim-LN): Theorem 5.1 and Propositions 5.1-5.2 as stated, and the
titles of Sections 4 and 5."""

from __future__ import annotations

import sympy as sp

from constructions import sample_xor
from constructions.symbolic import rational_matrix
from constructions.symbolic_sim_ln import exact_sim_ln_memorizing_solution
from sharpness.symbolic.sim_ln import exact_hessian_trace_sim_ln, exact_sim_ln_lower_bound
from verify.errata import ErrataEntry, ErratumClass


def theorem_5_1_small_eps() -> ErrataEntry:
    X = [[1.0, 1, 1], [1, -1, 1], [-1, 1, -1], [1, 1, -1]]
    y = [2.0, -1.0, 0.5, -3.0]  # c_i = 2 |y_i|: 4, 2, 1, 6
    ok, shown = True, []
    for eps in (sp.Rational(1, 2), sp.Rational(9, 10)):  # both below min c_i = 1
        cons = exact_sim_ln_memorizing_solution(X, y, eps, form="printed")
        res = exact_hessian_trace_sim_ln(cons.params, eps, cons.X, cons.y)
        bound = exact_sim_ln_lower_bound(cons.X, cons.y, eps)
        ok &= res["trace"] is not None and sp.simplify(res["trace"] - bound) == 0
        shown.append(f"eps={eps}: Tr = {res['trace']} = bound {bound}")
    # the ends of the printed construction's failing interval [c, 2c), c = sqrt(5) on P_xor, d = 4
    ds = sample_xor(4, 6, 0)
    c = sp.sqrt(5)
    ends = {}
    for eps in (c, 2 * c):
        cons = exact_sim_ln_memorizing_solution(ds.X, ds.y, eps, form="printed")
        ends[eps] = (
            exact_hessian_trace_sim_ln(cons.params, eps, cons.X, cons.y),
            exact_sim_ln_lower_bound(cons.X, cons.y, eps),
        )
    at_c, at_2c = ends[c], ends[2 * c]
    ok &= bool(at_c[0]["fatal_kinks"]) and at_c[0]["trace"] is None
    ok &= at_2c[0]["trace"] is not None and sp.simplify(at_2c[0]["trace"] - at_2c[1]) == 0
    return ErrataEntry(
        "Theorem 5.1",
        "for extreme-point inputs and sufficiently small eps there is a memorizing width-n "
        "2-MLP-Sim-LN with minimal sharpness over all interpolators",
        ok,
        None,
        None,
        "Exact, d=3, n=4, labels 2, -1, 1/2, -3 (c_i = 4, 2, 1, 6), App. A.4.1 as printed: "
        + "; ".join(shown)
        + ". 'Sufficiently small' made checkable: eps < min_i c_i suffices for the printed "
        "construction (it fails exactly for eps in some [c_i, 2 c_i), see App. A.4.1), and the "
        "corrected one works for every eps > 0. The ends, exact on P_xor (d = 4, n = 6, "
        f"c = sqrt(5)): at eps = 2c the printed network has Tr = {sp.simplify(at_2c[0]['trace'])} "
        f"= {sp.N(at_2c[0]['trace'], 8)} = bound {at_2c[1]}; at eps = c it sits on the switch "
        f"||h|| = eps ({len(at_c[0]['fatal_kinks'])} fatal kinks, no Hessian). Labels must be "
        "nonzero (App. A.4.1, case 3).",
        kind=ErratumClass.HOLDS,
    )


def propositions_5_eps() -> ErrataEntry:
    eps, d = sp.symbols("epsilon d", positive=True)
    c = sp.sqrt(d + 1)
    # P_xor: every c_i = sqrt(d+1); the bound is 2 min(1, 2c/eps), equal to 2 iff eps <= 2c
    threshold = sp.solve(sp.Eq(2 * c / eps, 1), eps)
    ok = threshold == [2 * c]
    checks = []
    for dd in (2, 5, 10):
        X = rational_matrix(sample_xor(dd, 4, 0).X)
        y = [X[i, 0] * X[i, 1] for i in range(4)]
        e = sp.sqrt(dd + 1)  # eps = sqrt(d+1): the edge of the paper's range
        checks.append(exact_sim_ln_lower_bound(X, y, e) == 2)
        checks.append(exact_sim_ln_lower_bound(X, y, 2 * e) == 2)
        checks.append(exact_sim_ln_lower_bound(X, y, 3 * e) != 2)
    ok &= all(checks)
    return ErrataEntry(
        "Propositions 5.1-5.2 (proofs in App. A.4.2)",
        "suppose eps < sqrt(d+1); then for P_xor the minimal sharpness is always 2 (Lemma A.12)",
        ok,
        None,
        None,
        f"Exact: on the hypercube c_i = sqrt(d+1) and the Lemma A.12 bound is 2 min(1, 2 sqrt(d+1)/eps), "
        f"equal to 2 iff eps <= {threshold[0]}; checked at d = 2, 5, 10 for eps = sqrt(d+1), "
        "2 sqrt(d+1) (bound 2) and 3 sqrt(d+1) (bound 4/3). True as printed, with room to spare.",
        kind=ErratumClass.HOLDS,
    )


def section_titles() -> ErrataEntry:
    return ErrataEntry(
        "Titles of Sections 4 and 5",
        "Sec. 4 (2-MLP-Bias): '... and SAM Finds the Former'; Sec. 5 (2-MLP-Sim-LN): '... and SAM "
        "Finds the Latter' (of 'Flattest Generalizing and Non-generalizing Models')",
        False,
        "swapped: SAM finds the latter (non-generalizing) in Sec. 4 and the former (generalizing) "
        "in Sec. 5",
        True,
        "The paper's own subsections say so: 4.2 'SAM empirically finds the non-generalizing "
        "solutions', 5.2 'SAM empirically finds generalizing models'; Table 1's third column marks "
        "2-layer w/ bias x and w/ simplified LayerNorm check. A textual inconsistency, not a "
        "computation; the runs behind it: verify-theorem fig4 --scale paper (1-SAM test error 0.40 "
        "vs 0 for GD+WD on 2-MLP-Bias) and fig6 (1-SAM generalizes on 2-MLP-Sim-LN).",
        kind=ErratumClass.TEXTUAL,
    )


ORDER = 5
ENTRIES = [theorem_5_1_small_eps, propositions_5_eps, section_titles]
