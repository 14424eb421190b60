"""Proposition 4.2: on P_xor, for any n, a 2-MLP-Bias interpolates, has minimal sharpness among
interpolators, and has zero zero-one error: the four-neuron solution of Eq. (5).

Width. The proposition says width n, but Eq. (5) needs 4 neurons; we use width max(n, 4). For
n <= 2 no width-n network can do it at all: with one hidden unit the output a relu(.) never takes
both signs; with two, zero error forces one unit a relu(p) with a > 0 positive on both
x[1] = x[2] points of a square {(+-1, +-1, z)} and one unit c relu(q), c < 0, positive on both
mixed points; as p, q are affine, p(1,-1)+p(-1,1) = p(1,1)+p(-1,-1) =: S_p and likewise S_q, and
the four sign conditions give S_q > relu(p(1,-1)) + relu(p(-1,1)) >= S_p and
S_p > relu(q(1,1)) + relu(q(-1,-1)) >= S_q, a contradiction. (Scaling a, c to +-1 loses nothing.)
"""

from __future__ import annotations

from constructions import four_neuron_solution, printed_r
from sharpness import hessian_trace, jacobian_lower_bound
from verify._common import ClaimRun, require_enumerable, require_xor, training_set
from verify.checks import (
    Evaluation,
    check_differentiability,
    check_hypercube_mse,
    check_hypercube_zero_one,
    check_interpolation,
    check_trace_bound,
    check_trace_identity,
)
from verify.config import ClaimConfig
from verify.report import ClaimReport

CLAIM = "prop4.2"
ORDER = 42
TITLE = "a flattest 2-MLP-Bias on P_xor with zero zero-one error (Eq. (5))"
REFERENCE = "Proposition 4.2; Eq. (5)"


def printed_r_note(dataset) -> str:
    d = dataset.d
    printed = four_neuron_solution(d, width=max(dataset.n, 4), form="printed")
    X, y = dataset.tensors()
    t = hessian_trace(printed.network, X, y)
    b = jacobian_lower_bound(dataset.X, dataset.y, 2).trace
    r = printed_r(d)
    return (
        f"Eq. (5) prints r = (d^2+1)^(1/4) = {r:.6g}. It interpolates and generalizes, but each "
        f"training point contributes (d+1)/r^2 + r^2 to ||grad f||^2, which by AM-GM is >= "
        f"2 sqrt(d+1) with equality iff r^2 = sqrt(d+1). Measured: Tr(H) = {t:.12g} vs the bound "
        f"{b:.12g} (ratio {t / b:.6g}). Corrected: r = (d+1)^(1/4) = {(d + 1) ** 0.25:.6g}."
    )


INDEX_NOTE = (
    "Eq. (5) indexes the output weights W_2[2i+j] but the neurons W_{1,2i+j+1}; read as "
    "W_2[2i+j+1] (index 0 does not exist)."
)


def run(config: ClaimConfig) -> ClaimRun:
    require_enumerable(config)
    dataset = training_set(config)
    require_xor(dataset, "Proposition 4.2")
    d, n = dataset.d, dataset.n
    width = max(n, 4)
    cons = four_neuron_solution(d, width=width, depth=config.depth, form=config.form)
    ev = Evaluation.from_config(cons.network, dataset, config)
    checks = [
        check_interpolation(ev),
        check_differentiability(ev),
        check_trace_identity(ev),
        check_trace_bound(ev),
        check_hypercube_zero_one(ev, 0, "0"),
    ]
    if not config.hypercube_samples:
        checks.append(
            check_hypercube_mse(ev, 0.0, "0"),
        )
    notes = [INDEX_NOTE]
    if config.depth == 2:
        notes.insert(0, printed_r_note(dataset))
    else:
        notes.append(
            f"Depth {config.depth}: the paper states Prop. 4.2 for 2 layers; this is our "
            "balanced extension of Eq. (5) (four quadrant neurons through every layer)."
        )
    if n < 4:
        notes.append(
            f"n = {n} < 4: Eq. (5) needs 4 neurons, so the width is 4, not n as stated. "
            "For n <= 2 no width-n 2-MLP-Bias has zero error on P_xor (proof in "
            "verify/claims/proposition_4_2.py); n = 3 is not settled here."
        )
    params = config.describe()
    params.update(width=width, r=cons.parameters["r"])
    return ClaimRun(
        ClaimReport(CLAIM, TITLE, REFERENCE, params, checks, notes), cons.network, dataset
    )
