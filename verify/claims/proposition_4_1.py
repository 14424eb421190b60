"""Proposition 4.1: on P_xor, for any n, a width-n 2-MLP-Bias memorizes the training set as in
Theorem 4.1, has minimal sharpness among interpolators, and has zero-one error max{1 - n/2^d, 0}.

Construction: Theorem 4.1's with w_i = x_i/sqrt(d). On the hypercube this direction separates x_i
from *every* other vertex with margin 2/sqrt(d), so with epsilon = 1/sqrt(d) no neuron fires off
the training set and f = 0 there: exactly 2^d - n mistakes (y f(x) = 0 counts as a mistake) and
MSE (2^d - n)/2^d, because (0 - y)^2 = 1 off the training set and f = y on it.

Repeated samples (the paper draws i.i.d.; a ``--data`` file may repeat points): one neuron per
distinct point memorizes it and each of the n - n_distinct spare neurons fires on one unseen
vertex with the right sign (:mod:`constructions.memorizing`, Deviation (3)), so the error is
still exactly max{1 - n/2^d, 0}. Memorization (Def. 4.2, an injection from the input data) is
checked on the distinct inputs. ``--form printed`` builds the paper's one-neuron-per-sample
network, which gives f = 2y at a point drawn twice and fails interpolation.
"""

from __future__ import annotations

import math

from constructions import Dataset, memorizing_solution
from constructions.memorizing import Spare, group_repeats
from sharpness import hypercube_error
from verify._common import ClaimRun, require_enumerable, require_xor, training_set
from verify.checks import (
    Evaluation,
    check_differentiability,
    check_hypercube_mse,
    check_hypercube_zero_one,
    check_interpolation,
    check_memorization,
    check_trace_bound,
    check_trace_identity,
)
from verify.config import ClaimConfig
from verify.report import CheckResult, ClaimReport

CLAIM = "prop4.1"
ORDER = 41
TITLE = "a memorizing flattest 2-MLP-Bias on P_xor has zero-one error max{1 - n/2^d, 0}"
REFERENCE = "Proposition 4.1; Sec. 4.1 proof sketch"

ZERO_ONE_NOTE = (
    "Section 2 prints the zero-one loss as Pr(y f(x) > 0), which is the accuracy, not the error. "
    "Corrected: error = Pr(y f(x) <= 0); with the printed form the memorizing model would score "
    "n/2^d instead of max{1 - n/2^d, 0}."
)
IID_NOTE = (
    "The paper draws the n training points i.i.d., so points may repeat (the sampler here draws "
    "distinct points; a --data file may repeat them). The one-neuron-per-sample construction "
    "does not interpolate a repeated point (k neurons fire there); with one neuron per distinct "
    "point and each of the n - n_distinct spare neurons firing on one unseen vertex with the "
    "right sign, the error is max{1 - n/2^d, 0} on every draw (0 once n >= 2^d)."
)


def repeats_note(dataset: Dataset, cons, factor: str) -> str | None:
    """What the construction did with repeated points, or None without repeats."""
    groups = group_repeats(dataset)
    if not groups.has_repeats:
        return None
    p = cons.parameters
    if cons.form == "printed":
        return (
            f"{dataset.n} samples, {groups.n_distinct} distinct: built as printed, one neuron per "
            f"sample, so a point drawn k times has k active neurons and f = {factor} y there."
        )
    return (
        f"{dataset.n} samples, {groups.n_distinct} distinct: one neuron per distinct point; "
        f"{p['spare_fired']} spare neuron(s) each fire on one unseen vertex with f = x[1] x[2] "
        f"there, {p['spare_dead']} dead"
        + (" (no unseen vertex left)" if p["spare_dead"] else "")
        + ". Memorization is checked on the distinct inputs (Def. 4.2's injection is from the "
        "input data)."
    )


_LP_EVIDENCE_MAX_D = 16


def lp_direction_note(dataset, depth: int) -> str | None:
    """Compare with Theorem 4.1's generic separating directions (LP), which need not separate
    x_i from the rest of the cube."""
    if dataset.d > _LP_EVIDENCE_MAX_D:
        return None
    cons = memorizing_solution(dataset, depth, directions="lp", spare=Spare.XOR)
    hc = hypercube_error(cons.network, progress=False)
    expected = 2**dataset.d - dataset.n
    verdict = (
        "coincides with the formula here"
        if hc.errors == expected
        else f"differs from the formula's {expected}"
    )
    return (
        "The proof sketch's 'for sufficiently small epsilon, relu(W_1 x + b_1) = 0 off the training "
        "set' needs w_i to separate x_i from the whole cube, which Definition 4.1's directions do "
        "not guarantee. We use w_i = x_i/sqrt(d) and epsilon = 1/sqrt(d) < 2/sqrt(d). With the LP "
        f"directions instead (epsilon = half the LP margin = {cons.parameters['epsilon']:.6g}), "
        f"the same seed gives {hc.errors} mistakes on the cube, which {verdict}."
    )


def run(config: ClaimConfig) -> ClaimRun:
    require_enumerable(config)
    dataset = training_set(config)
    require_xor(dataset, "Proposition 4.1", allow_repeats=True)
    d, n = dataset.d, dataset.n
    cube_margin = 2 / math.sqrt(d)
    eps = config.epsilon if config.epsilon is not None else cube_margin / 2
    cons = memorizing_solution(
        dataset,
        config.depth,
        directions="sphere",
        epsilon=eps,
        form=config.form,
        spare=Spare.XOR,
    )
    ev = Evaluation.from_config(cons.network, dataset, config)
    distinct = group_repeats(dataset).distinct(dataset)
    ev_distinct = ev if distinct is dataset else Evaluation(cons.network, distinct)
    expected_errors = max(2**d - n, 0)
    checks = [
        CheckResult(
            name="epsilon < cube margin 2/sqrt(d)",
            passed=0 < eps < cube_margin,
            value=eps,
            expected=f"< {cube_margin:.12g}",
            tolerance="strict",
            detail="w_i = x_i/sqrt(d) then separates x_i from every other vertex",
            kind="certificate",
        ),
        check_interpolation(ev),
        check_memorization(ev_distinct),
        check_differentiability(ev),
        check_trace_identity(ev),
        check_trace_bound(ev),
        check_hypercube_zero_one(ev, expected_errors, "max{1 - n/2^d, 0}"),
    ]
    if not config.hypercube_samples:
        checks.append(
            check_hypercube_mse(ev, expected_errors / 2**d, "(2^d - n)/2^d"),
        )
    notes = [ZERO_ONE_NOTE, IID_NOTE]
    note = repeats_note(dataset, cons, "k")
    if note:
        notes.append(note)
    lp = lp_direction_note(dataset, config.depth)
    if lp:
        notes.append(lp)
    params = config.describe()
    params.update(epsilon=eps, width=n)
    return ClaimRun(
        ClaimReport(CLAIM, TITLE, REFERENCE, params, checks, notes), cons.network, dataset
    )
