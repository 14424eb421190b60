"""Lemma 4.1: for the MSE loss, at a differentiable interpolating theta,
Tr(nabla^2 L) = (2/n) sum_i ||grad_theta f(x_i)||^2; and the bound derived from it holds.

Verified at the memorizing construction and at random networks that interpolate their own
outputs (arbitrary interpolators), where the exact trace must also respect the lower bound.

Where float64 cannot decide the identity (it misses by no more than float64 rounding can explain,
e.g. the memorizing construction at a tiny epsilon), :class:`verify.precision.Escalation` decides
it on interval weights: App. A.3.1's weights rebuilt for the construction, the float64 weights
themselves (exactly) for the random interpolators.
"""

from __future__ import annotations

from constructions import (
    certify_extreme_points,
    memorizing_solution,
    random_network,
    sample_xor,
    self_labelled,
)
from sharpness import hessian_trace, lemma41_trace
from verify._common import ClaimRun, training_set
from verify.checks import Evaluation, check_bound_respected, check_trace_identity
from verify.config import ClaimConfig
from verify.precision import Decidable, Escalation, memorizing_escalation
from verify.report import ClaimReport

CLAIM = "lemma4.1"
ORDER = 43
TITLE = "Tr(Hessian of L) = (2/n) sum ||grad f(x_i)||^2 at interpolation; the lower bound holds"
REFERENCE = "Lemma 4.1; Eqs. (1)-(3); App. A.3.1"
RANDOM_NETWORKS = 3


def _renamed(check, suffix: str):
    from dataclasses import replace

    return replace(check, name=f"{check.name} [{suffix}]")


def off_interpolation_note(config: ClaimConfig) -> str:
    """Evidence: ReLU MLPs satisfy the identity even off interpolation, softplus ones do not."""
    d = min(config.d, 8)
    data = sample_xor(d, min(config.n, 16, 2**d), config.seed)
    X, y = data.tensors()
    y = -y  # labels the networks do not fit
    out = []
    for act in ("relu", "softplus"):
        net = random_network(data.d, 6, depth=config.depth, activation=act, seed=config.seed + 7)
        out.append(
            (act, hessian_trace(net, X, y, check_kinks=(act == "relu")), lemma41_trace(net, X))
        )
    (_, tr, jr), (_, ts, js) = out
    return (
        "Lemma 4.1 assumes interpolation. For ReLU MLPs it holds at every twice-differentiable "
        "theta (the diagonal of the Hessian of f vanishes: f is multilinear in the weights on each "
        f"activation region): off interpolation, trace {tr:.12g} vs sum {jr:.12g}. For softplus "
        f"it does not: trace {ts:.12g} vs sum {js:.12g}."
    )


def run(config: ClaimConfig) -> ClaimRun:
    dataset = training_set(config)
    cert = certify_extreme_points(dataset.X)
    cons = memorizing_solution(
        dataset, config.depth, directions=cert, epsilon=config.epsilon, form=config.form
    )
    ev = Evaluation(cons.network, dataset)
    esc = memorizing_escalation(
        ev, cert, config.depth, epsilon=cons.parameters["epsilon"], form=config.form
    )
    identity = esc.decide(check_trace_identity(ev), Decidable.TRACE_IDENTITY)
    checks = [_renamed(identity, "memorizing construction")]
    for k in range(RANDOM_NETWORKS):
        width = 3 + (config.seed + 5 * k) % 10
        net = random_network(dataset.d, width, depth=config.depth, seed=config.seed + 1000 + k)
        rev = Evaluation(net, self_labelled(net, dataset.X))
        label = f"random interpolator {k + 1}, width {width}"
        identity = Escalation(rev).decide(check_trace_identity(rev), Decidable.TRACE_IDENTITY)
        checks.append(_renamed(identity, label))
        checks.append(_renamed(check_bound_respected(rev), label))
    notes = [off_interpolation_note(config)]
    params = config.describe()
    params.update(random_networks=RANDOM_NETWORKS)
    return ClaimRun(
        ClaimReport(CLAIM, TITLE, REFERENCE, params, checks, notes), cons.network, dataset
    )
