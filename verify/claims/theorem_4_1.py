"""Theorem 4.1: for any D >= 2 and any training set whose inputs are a set of extreme points,
a width-n D-layer MLP-Bias memorizes it (Definition 4.2) with minimal sharpness among all
interpolating models.

Verified on the construction of App. A.3.1 (:func:`constructions.memorizing_solution`): the
extreme-point certificate (LP), epsilon below the margins, interpolation, one-hot activations at
every hidden layer, differentiability at theta, exact Tr(nabla^2 L) = Lemma 4.1's sum, and
Tr(nabla^2 L) = the lower bound over all interpolators (equality certifies flattest).

Precision is not a verdict. The claim is about the construction's real weights, not their float64
rounding: at a small epsilon (points close together, e.g. 400 points on a circle) the first layer's
weights u_i/epsilon cancel in W_1 x_i + b_1, and float64 misses interpolation and the bound by
1/epsilon times the unit roundoff. Where a float check fails by no more than float64 rounding can
explain, :class:`verify.precision.Escalation` says so and decides it again on the weights rebuilt
in mpmath interval arithmetic (:func:`constructions.memorizing.memorizing_weights_interval`);
a check that fails there too, or fails by more than rounding explains, stays a failure.
"""

from __future__ import annotations

import numpy as np

from constructions import certify_extreme_points, memorizing_solution
from sharpness import (
    eq4_residuals,
    find_kinks,
    jacobian_lower_bound,
    one_sided_traces,
    tolerance_for,
)
from verify._common import ClaimRun, check_epsilon, training_set
from verify.checks import (
    Evaluation,
    check_differentiability,
    check_extreme_points,
    check_interpolation,
    check_memorization,
    check_trace_bound,
    check_trace_identity,
)
from verify.config import ClaimConfig
from verify.precision import Decidable, memorizing_escalation
from verify.report import ClaimReport

CLAIM = "4.1"
ORDER = 40
TITLE = "a memorizing width-n D-layer MLP-Bias is a flattest interpolator (extreme-point data)"
REFERENCE = "Theorem 4.1; Def. 4.1-4.2; Sec. 4.1 proof sketch; App. A.3.1"


def printed_kink_note(dataset, cert, depth: int, epsilon: float | None) -> str:
    """Evidence that App. A.3.1's W_j = diag(1/r_i) puts the network on ReLU kinks (D >= 3)."""
    printed = memorizing_solution(dataset, depth, directions=cert, epsilon=epsilon, form="printed")
    X, y = dataset.tensors()
    report = find_kinks(printed.network, X, y)
    t0, t1 = one_sided_traces(printed.network, X)
    bound = jacobian_lower_bound(dataset.X, dataset.y, depth).trace
    return (
        f"App. A.3.1 prints W_j = diag(1/r_i) for 2 <= j <= D-1. Built as printed (D={depth}), "
        f"{len(report.fatal)} hidden pre-activations are exactly 0 at training points with a "
        f"nonzero path to the output, so L is not twice differentiable and Tr(Hessian) is "
        f"undefined: the one-sided traces are {t0:.12g} (relu'(0)=0, equal to the bound "
        f"{bound:.12g}) and {t1:.12g} (relu'(0)=1). Corrected: off-diagonal W_j[k,l] = -1/r_k, "
        f"which makes those pre-activations strictly negative and changes no term of the trace "
        f"(verified by the checks above when form=corrected)."
    )


def eq4_note(net, dataset) -> str | None:
    """Evidence that Eq. (4) lacks sign(y_i)."""
    if net.arch.depth != 2:
        return None
    tol = tolerance_for(net.dtype)
    printed = eq4_residuals(net, dataset.X, dataset.y, with_sign=False)
    fixed = eq4_residuals(net, dataset.X, dataset.y, with_sign=True)
    scale = tol.atol + tol.rtol * float(np.max(np.abs(dataset.y)))
    fails = int(np.sum(printed > scale))
    neg = int(np.sum(dataset.y < 0))
    return (
        f"Eq. (4) as printed, W_2 . 1[W'_1 x' > 0] = relu(W'_1 x')/||x'||, fails at {fails} of "
        f"{dataset.n} training points ({neg} have y_i < 0; max residual {printed.max():.6g}): "
        f"Cauchy-Schwarz equality also needs the sign of y_i = (W_2 . 1[...])^T relu(...). "
        f"Corrected: W_2 . 1[W'_1 x' > 0] = sign(y_i) relu(W'_1 x')/||x'||, max residual "
        f"{fixed.max():.3g} here."
    )


def run(config: ClaimConfig) -> ClaimRun:
    dataset = training_set(config)
    cert = certify_extreme_points(dataset.X)  # raises NotExtremePointsError naming the point
    cons = memorizing_solution(
        dataset, config.depth, directions=cert, epsilon=config.epsilon, form=config.form
    )
    ev = Evaluation(cons.network, dataset)
    esc = memorizing_escalation(
        ev, cert, config.depth, epsilon=cons.parameters["epsilon"], form=config.form
    )
    checks = [
        check_extreme_points(dataset, cert),
        check_epsilon(cons.parameters["epsilon"], cert.min_margin),
        esc.decide(check_interpolation(ev), Decidable.INTERPOLATION),
        check_memorization(ev),
        check_differentiability(ev),
        esc.decide(check_trace_identity(ev), Decidable.TRACE_IDENTITY),
        esc.decide(check_trace_bound(ev), Decidable.TRACE_BOUND),
    ]
    notes = []
    if config.depth >= 3:
        notes.append(printed_kink_note(dataset, cert, config.depth, config.epsilon))
    note = eq4_note(cons.network, dataset)
    if note:
        notes.append(note)
    if np.any(dataset.y == 0):
        notes.append(
            "A zero label: App. A.3.1 sets r_i = u_i = 1, so neuron i is active at x_i and adds "
            "||relu(W'_1 x'_i)||^2 > 0 to the trace while the bound's term is 0. No memorizing "
            "solution attains the bound then: Theorem 4.1 needs nonzero labels."
        )
    params = config.describe()
    params.update(
        epsilon=cons.parameters["epsilon"], width=config.n if config.dataset is None else dataset.n
    )
    report = ClaimReport(CLAIM, TITLE, REFERENCE, params, checks, notes)
    return ClaimRun(report, cons.network, dataset)
