"""Proposition 5.2: on P_xor, for any n (and eps "sufficiently small"; any eps > 0 with the
corrected construction), a 2-MLP-Sim-LN interpolates, has minimal sharpness among interpolators,
and has zero zero-one error: Eq. (18).

Construction (:func:`constructions.sim_ln.sim_ln_four_neuron_solution`): four quadrant neurons
W_{1,k} = 2 eps[+-1, +-1, 0, ..., 0], b_1[k] = -2 eps, W_2[k] = +-1. At every cube point exactly
one neuron is active with h_k = 2 eps > eps (normalized regime), so f = W_2[k] = x[1] x[2] and
||grad f||^2 = 1 = the Lemma A.12 bound per point (for eps <= 2 sqrt(d+1)).

Width. The proposition says width n; Eq. (18) needs 4 neurons, so we use width max(n, 4). For
n <= 2 no width-n 2-MLP-Sim-LN has zero error: its sign is that of the 2-MLP-Bias
W_2 relu(W_1 x + b_1), and the argument in verify/claims/proposition_4_2.py applies. The unused
neurons (k > 4) are exactly zero: their ReLUs sit at 0 at every point, harmless at interpolation
only (W_2[k] = 0; they reach f through ||h|| at second order, see sharpness/architectures/sim_ln.py).
"""

from __future__ import annotations

import math

from constructions.sim_ln import sim_ln_four_neuron_solution
from sharpness import hypercube_error
from sharpness.architectures.sim_ln import sim_ln_lower_bound, xor_epsilon_range
from verify._common import ClaimRun, require_enumerable, require_xor, training_set
from verify.checks import (
    check_differentiability,
    check_hypercube_mse,
    check_hypercube_zero_one,
    check_interpolation,
    check_trace_identity,
)
from verify.claims.theorem_5_1 import (
    SimLNEvaluation,
    check_ln_eps,
    check_regimes,
    check_trace_bound_sim_ln,
    depth_note,
    trace_text,
)
from verify.config import ClaimConfig
from verify.report import ClaimReport

CLAIM = "prop5.2"
ORDER = 52
TITLE = "a flattest 2-MLP-Sim-LN on P_xor with zero zero-one error (Eq. (18))"
REFERENCE = "Proposition 5.2; Lemma A.12; Eq. (18)"
EVIDENCE = "proof by construction"
_INDEX_EVIDENCE_MAX_D = 10


def index_note(dataset, eps: float, width: int) -> str:
    """Evidence: Eq. (18)'s indices, read literally, leave half the cube uncovered."""
    printed = sim_ln_four_neuron_solution(dataset.d, eps, width=width, form="printed").network
    X, y = dataset.tensors()
    missed = int((printed(X) - y).abs().gt(1e-9).sum())
    cube = ""
    if dataset.d <= _INDEX_EVIDENCE_MAX_D:
        hc = hypercube_error(printed, progress=False)
        cube = f" and {hc.errors} of {hc.total} cube points are mistakes (zero-one error {hc.zero_one:.6g})"
    return (
        "Eq. (18) takes i, j in [2] = {1, 2} and neurons 2i+j, i.e. 3..6, then sets neurons k > 4 "
        "to zero. Read literally (lines in order) only neurons 3 and 4 survive, both with "
        f"x[1] = -1: f = 0 where x[1] = +1, so {missed} of {dataset.n} training points are not "
        f"interpolated{cube}. Corrected: i, j in {{0, 1}}, neuron 2i+j+1 (1-based), as in Eq. (5). "
        "The scale 2 eps is right: the active neuron has h_k = 2 eps > eps."
    )


def large_epsilon_note(dataset, width: int) -> str:
    d = dataset.d
    big = 3 * math.sqrt(d + 1)
    X, y = dataset.tensors()
    bound = sim_ln_lower_bound(dataset.X, dataset.y, big).trace
    t2eps = trace_text(
        sim_ln_four_neuron_solution(d, big, width=width, scale=2 * big).network, X, y
    )
    t_fixed = trace_text(
        sim_ln_four_neuron_solution(d, big, width=width, form="corrected").network, X, y
    )
    return (
        f"A.4.2 assumes eps < sqrt(d+1) = {math.sqrt(d + 1):.12g}; the scale-2 eps solution is "
        f"flattest iff eps <= 2 sqrt(d+1). At eps = 3 sqrt(d+1) = {big:.12g} the bound is "
        f"{bound:.12g} while the scale-2 eps solution (corrected indices) has Tr(H) = {t2eps}; "
        "the corrected solution switches to the linear regime (h_k^2 = eps sqrt(d+1), "
        f"W_2 = +-eps/h_k) and has Tr(H) = {t_fixed}, with zero "
        "error. So Proposition 5.2 holds for every eps > 0."
    )


def run(config: ClaimConfig) -> ClaimRun:
    require_enumerable(config)
    dataset = training_set(config)
    require_xor(dataset, "Proposition 5.2")
    d, n = dataset.d, dataset.n
    eps = config.ln_eps if config.ln_eps is not None else 0.5 * math.sqrt(d + 1)
    width = max(n, 4)
    cons = sim_ln_four_neuron_solution(d, eps, width=width, form=config.form)
    ev = SimLNEvaluation.from_config(cons.network, dataset, config)
    checks = [
        check_ln_eps(eps, xor_epsilon_range(d, config.form), config.form),
        check_interpolation(ev),
        check_regimes(ev),
        check_differentiability(ev),
        check_trace_identity(ev),
        check_trace_bound_sim_ln(ev),
        check_hypercube_zero_one(ev, 0, "0"),
    ]
    if not config.hypercube_samples:
        checks.append(check_hypercube_mse(ev, 0.0, "0"))
    notes = [index_note(dataset, eps, width), large_epsilon_note(dataset, width)]
    if width > 4:
        notes.append(
            f"The {width - 4} unused neurons are exactly zero: their ReLUs sit at 0 at every "
            "training point. With W_2[k] = 0 they still reach f through ||h|| (at second order), "
            "which leaves L twice differentiable at interpolation only (reported as harmless "
            "kinks above; with other labels they would be fatal)."
        )
    if n < 4:
        notes.append(
            f"n = {n} < 4: Eq. (18) needs 4 neurons, so the width is 4, not n as stated. For "
            "n <= 2 no width-n 2-MLP-Sim-LN has zero error on P_xor (its sign is that of a "
            "2-MLP-Bias; proof in verify/claims/proposition_4_2.py)."
        )
    note = depth_note(config)
    if note:
        notes.append(note)
    params = config.describe()
    params.update(depth=2, ln_eps=eps, width=width, scale=cons.parameters["scale"])
    return ClaimRun(
        ClaimReport(CLAIM, TITLE, REFERENCE, params, checks, notes), cons.network, dataset
    )
