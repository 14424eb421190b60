"""Theorem 5.1: for a training set whose inputs are a set of extreme points, and eps > 0
("sufficiently small" in the paper; any eps > 0 with the corrected construction), a width-n
2-MLP-Sim-LN with hyperparameter eps memorizes it (Definition 4.2) with minimal sharpness over
all interpolating models.

Verified on App. A.4.1's construction (:func:`constructions.sim_ln.sim_ln_memorizing_solution`):
the extreme-point certificate, delta below the margins, eps in the admissible range
(:func:`sharpness.architectures.sim_ln.memorizing_epsilon_range`), interpolation, one-hot activations, every
point in a regime that attains its per-point infimum, differentiability (ReLU kinks and the
switch ||h|| = eps), exact Tr(nabla^2 L) = Lemma 4.1's sum (valid for Sim-LN at interpolation
only), and Tr(nabla^2 L) = the Lemma A.12 bound (equality certifies flattest). Two random
2-MLP-Sim-LN that interpolate their own outputs must respect the bound (evidence for Lemma A.12,
whose derivation is in :mod:`sharpness.architectures.sim_ln`).

This module also holds the Sim-LN checks shared by Propositions 5.1 and 5.2.
"""

from __future__ import annotations

import math
from dataclasses import replace
from functools import cached_property

import numpy as np
import torch

from constructions import Network, certify_extreme_points
from constructions.sim_ln import sim_ln_constants, sim_ln_memorizing_solution
from sharpness import NonDifferentiableError, hessian_trace, lemma41_trace
from sharpness.architectures.sim_ln import (
    EpsilonRange,
    find_kinks_sim_ln,
    lemma_a12_printed,
    memorizing_epsilon_range,
    one_sided_traces_sim_ln,
    sim_ln_lower_bound,
    sim_ln_regimes,
)
from verify._common import ClaimRun, check_epsilon, training_set
from verify.checks import (
    Evaluation,
    check_bound_respected,
    check_differentiability,
    check_extreme_points,
    check_interpolation,
    check_memorization,
    check_trace_bound,
    check_trace_identity,
)
from verify.config import ClaimConfig
from verify.report import CheckResult, ClaimReport

CLAIM = "5.1"
ORDER = 50
TITLE = "a memorizing width-n 2-MLP-Sim-LN is a flattest interpolator (extreme-point data)"
REFERENCE = "Theorem 5.1; Lemma A.12; App. A.4.1"
#: What stands behind a verdict of this claim (read by ``verify-theorem all``).
EVIDENCE = "proof by construction"
RANDOM_INTERPOLATORS = 2

__all__ = [
    "SimLNEvaluation",
    "check_bound_respected_sim_ln",
    "check_ln_eps",
    "check_memorization_sim_ln",
    "check_regimes",
    "check_trace_bound_sim_ln",
    "depth_note",
    "run",
]


class SimLNEvaluation(Evaluation):
    """:class:`verify.checks.Evaluation` with Sim-LN's regimes and its wording at a kink (the
    Lemma A.12 bound and the one-sided traces come from the registry, as for any network)."""

    @cached_property
    def regimes(self) -> np.ndarray:
        return sim_ln_regimes(self.net, self.X)

    def undefined_detail(self) -> str:
        lo, hi = self.one_sided
        return (
            f"Hessian undefined ({self.kinks.summary()}); one-sided traces of (2/n) sum "
            f"||grad f||^2 range over [{lo:.12g}, {hi:.12g}] (relu'(0) in {{0, 1}}, "
            "N = ||h|| or eps at the switch)"
        )


def check_ln_eps(eps: float, rng: EpsilonRange, form: str) -> CheckResult:
    """eps lies in the range where the construction attains the bound ("sufficiently small")."""
    ok = rng.contains(eps)
    detail = f"{form} construction attains the Lemma A.12 bound iff {rng.condition}"
    if not ok:
        detail = f"eps = {eps:.12g} is NOT admissible: {detail}; paper: {rng.paper}"
    return CheckResult(
        name="eps admissible ('sufficiently small')",
        passed=ok,
        value=eps,
        expected=rng.describe(),
        tolerance="exact",
        detail=detail,
        kind="exact",
    )


def check_memorization_sim_ln(ev: Evaluation) -> CheckResult:
    """Definition 4.2 for the hidden layer h = relu(W1 x + b1) (s = h/N has the same support):
    :func:`verify.checks.check_memorization`, through Sim-LN's hidden twin in the registry."""
    return check_memorization(ev)


def check_regimes(ev: SimLNEvaluation) -> CheckResult:
    """Each training point sits in a regime that attains its per-point infimum min(1, 2c/eps):
    normalized (||h|| > eps, certified) needs 2c >= eps, linear (||h|| < eps) needs 2c <= eps."""
    b = ev.bound
    got = ev.regimes
    ok_norm = (got == "normalized") & (2 * b.c >= b.eps) & (b.c > 0)
    ok_lin = (got == "linear") & (2 * b.c <= b.eps) & (b.c > 0)
    bad = np.flatnonzero(~(ok_norm | ok_lin))
    counts = {k: int(np.sum(got == k)) for k in ("normalized", "linear", "switch")}
    detail = (
        f"{counts['normalized']} normalized (||h|| > eps), {counts['linear']} linear "
        f"(||h|| < eps), {counts['switch']} at ||h|| = eps (rounding bounds)"
    )
    if bad.size:
        i = int(bad[0])
        why = (
            "label 0: no memorizing regime attains the bound 0"
            if b.c[i] == 0
            else f"regime {got[i]} with 2c/eps = {2 * b.c[i] / b.eps:.6g}"
        )
        detail += (
            f"; {bad.size} point(s) in a regime that cannot attain the bound, e.g. point {i}: {why}"
        )
    return CheckResult(
        name="regime attains min(1, 2c/eps) per point",
        passed=bad.size == 0,
        value=int(bad.size),
        expected=0,
        tolerance="exact",
        detail=detail,
        kind="exact",
    )


def check_trace_bound_sim_ln(ev: SimLNEvaluation) -> CheckResult:
    """Tr(nabla^2 L) equals the Lemma A.12 bound: the flattest-interpolator certificate."""
    return check_trace_bound(
        ev, "Tr(H) = Lemma A.12 bound", "(2/n) sum min(1, 2||x'_i|| |y_i|/eps); "
    )


def check_bound_respected_sim_ln(ev: SimLNEvaluation) -> CheckResult:
    """Tr(nabla^2 L) >= the Lemma A.12 bound (any interpolating Sim-LN), with the regime counts."""
    extra = ""
    if ev.trace is not None:
        counts = {k: int(np.sum(ev.regimes == k)) for k in ("normalized", "linear")}
        extra = f"; {counts['normalized']} normalized, {counts['linear']} linear point(s)"
    return check_bound_respected(ev, name="Tr(H) >= Lemma A.12 bound", extra_detail=extra)


def trace_text(net, X, y) -> str:
    """Exact Tr(nabla^2 L) for a note, or why it does not exist (never differentiated through)."""
    try:
        return f"{hessian_trace(net, X, y):.12g}"
    except NonDifferentiableError as exc:
        return f"undefined ({exc.report.summary(limit=1)})"


def depth_note(config: ClaimConfig) -> str | None:
    if config.depth == 2:
        return None
    return f"2-MLP-Sim-LN has two layers: --depth {config.depth} is ignored (depth 2 used)."


def default_ln_eps(dataset) -> float:
    """Half of min_i ||x'_i|| |y_i| over nonzero labels: the printed and corrected forms agree."""
    c = sim_ln_constants(dataset.X, dataset.y)
    c = c[c > 0]
    return 0.5 * float(np.min(c)) if c.size else 1.0


def random_sim_ln_interpolator(dataset, eps: float, width: int, scale: float, seed: int):
    """A Gaussian 2-MLP-Sim-LN and the labels it outputs itself (it interpolates them)."""
    from constructions import SimLN, dataset_from_arrays

    g = torch.Generator().manual_seed(seed)
    d = dataset.d
    params = {
        "W1": scale * torch.randn(width, d, generator=g, dtype=torch.float64) / math.sqrt(d),
        "b1": scale * torch.randn(width, generator=g, dtype=torch.float64),
        "W2": torch.randn(1, width, generator=g, dtype=torch.float64),
    }
    net = Network(SimLN(eps), params)
    y = net(torch.tensor(dataset.X)).detach().numpy()
    return net, dataset_from_arrays(dataset.X, y, "self-labelled by a random 2-MLP-Sim-LN")


def _traces_note(dataset, cert) -> str:
    """Evidence: App. A.4.1's printed case split, at an eps where it matters (default delta)."""
    c = sim_ln_constants(dataset.X, dataset.y)
    nz = c[c > 0]
    if nz.size == 0:
        return "All labels are 0: Theorem 5.1's construction cannot attain the bound (see below)."
    cmin = float(np.min(nz))
    X, y = dataset.tensors()
    bad = 1.5 * cmin
    bound_bad = sim_ln_lower_bound(dataset.X, dataset.y, bad).trace

    def build(e, form):
        return sim_ln_memorizing_solution(dataset, e, directions=cert, form=form).network

    printed, fixed = build(bad, "printed"), build(bad, "corrected")
    t_printed = trace_text(printed, X, y)
    t_fixed = trace_text(fixed, X, y)
    at = build(cmin, "printed")
    rep = find_kinks_sim_ln(at, X, y)
    lo, hi = one_sided_traces_sim_ln(at, X)
    return (
        "App. A.4.1 prints case 2 (linear regime, r = (eps/c)^(1/2), u = (eps c)^(1/2)) for "
        "0 < c_i = ||x'_i|| |y_i| <= eps. It pays 2c_i/eps, which exceeds the bound 1 when "
        "eps/2 < c_i < eps (at eps = 2c_i it pays exactly 1), so it fails exactly for eps in "
        f"[c_i, 2c_i): at eps = 1.5 min c_i = {bad:.12g} the printed construction has "
        f"Tr(H) = {t_printed} vs the bound {bound_bad:.12g}; the corrected split (normalized "
        f"iff 2 c_i >= eps) gives {t_fixed}. At c_i = eps the printed u_i = eps puts x_i on "
        f"the switch ||h|| = eps: at eps = min c_i = {cmin:.12g}, {len(rep.switches)} point(s) sit "
        "there with f != 0, L is not twice differentiable, and the one-sided traces range over "
        f"[{lo:.12g}, {hi:.12g}]."
    )


def _sufficiently_small_note(dataset) -> str:
    rng = memorizing_epsilon_range(dataset.X, dataset.y, "printed")
    return (
        "'For sufficiently small eps' made checkable: the corrected construction attains the "
        "Lemma A.12 bound for every eps > 0 (so Theorem 5.1 needs no smallness); the printed one "
        f"iff eps avoids every [c_i, 2c_i), here eps in {rng.describe()}, i.e. 'sufficiently "
        f"small' = eps < min_i ||x'_i|| |y_i| = {rng.sufficiently_small:.12g}."
    )


def _lemma_a12_note(dataset, eps: float, bound) -> str:
    printed = lemma_a12_printed(dataset.X, dataset.y, eps)
    return (
        "Lemma A.12 holds as printed and is tight (derivation in sharpness/architectures/sim_ln.py): the "
        "per-point infimum of ||grad f||^2 is 1 (||h|| > eps) or 2c/eps (||h|| < eps, t^2 = eps c), "
        f"so inf Tr = (2/n) sum min(1, (2/eps)||x'_i|| |y_i|) = {printed:.12g} as printed vs "
        f"{bound.trace:.12g} from the case analysis, with Lemma 4.1's 2/n. Typo: its proof writes "
        "relu(W_1 x_i + b_i) for relu(W_1 x_i + b_1). It needs neither extreme points nor width n."
    )


def off_interpolation_note(seed: int) -> str:
    """Evidence that Lemma 4.1's identity needs interpolation for Sim-LN."""
    from constructions import sample_xor

    data = sample_xor(4, 8, seed)
    net, own = random_sim_ln_interpolator(data, 0.5, 5, 1.0, seed + 11)
    X, _ = data.tensors()
    y_off = torch.tensor(own.y) + 1.0
    t = hessian_trace(net, X, y_off)
    s = lemma41_trace(net, X)
    return (
        "Lemma 4.1's identity holds for 2-MLP-Sim-LN only at interpolation: h/max{||h||, eps} "
        "is not multilinear in the weights, so the diagonal of the Hessian of f is not zero. A "
        f"random Sim-LN off interpolation (residual 1): Tr(H) = {t:.12g} vs (2/n) sum "
        f"||grad f||^2 = {s:.12g}."
    )


ZERO_LABEL_NOTE = (
    "A zero label: App. A.4.1 case 3 sets r_i = 0, u_i = 2 eps, so x_i is in the normalized regime "
    "and pays 1 while the bound's term is 0; a linear-regime neuron pays (u_i/eps)^2 > 0. No "
    "memorizing solution attains the bound then: Theorem 5.1 needs nonzero labels."
)


def run(config: ClaimConfig) -> ClaimRun:
    dataset = training_set(config)
    cert = certify_extreme_points(dataset.X)  # raises NotExtremePointsError naming the point
    eps = config.ln_eps if config.ln_eps is not None else default_ln_eps(dataset)
    cons = sim_ln_memorizing_solution(
        dataset, eps, directions=cert, delta=config.epsilon, form=config.form
    )
    ev = SimLNEvaluation(cons.network, dataset)
    checks = [
        check_extreme_points(dataset, cert),
        replace(
            check_epsilon(cons.parameters["delta"], cert.min_margin), name="delta < min margin"
        ),
        check_ln_eps(eps, memorizing_epsilon_range(dataset.X, dataset.y, config.form), config.form),
        check_interpolation(ev),
        check_memorization_sim_ln(ev),
        check_regimes(ev),
        check_differentiability(ev),
        check_trace_identity(ev),
        check_trace_bound_sim_ln(ev),
    ]
    for k in range(RANDOM_INTERPOLATORS):
        width = 3 + (config.seed + 4 * k) % 8
        scale = (4.0, 0.25)[k % 2] * eps  # mostly normalized, then mostly linear points
        net, own = random_sim_ln_interpolator(dataset, eps, width, scale, config.seed + 500 + k)
        label = f"random Sim-LN interpolator {k + 1}, width {width}"
        rc = check_bound_respected_sim_ln(SimLNEvaluation(net, own))
        checks.append(replace(rc, name=f"{rc.name} [{label}]"))
    notes = [_traces_note(dataset, cert), _sufficiently_small_note(dataset)]
    notes.append(_lemma_a12_note(dataset, eps, ev.bound))
    notes.append(off_interpolation_note(config.seed))
    if np.any(dataset.y == 0):
        notes.append(ZERO_LABEL_NOTE)
    note = depth_note(config)
    if note:
        notes.append(note)
    params = config.describe()
    params.update(
        depth=2,
        ln_eps=eps,
        delta=cons.parameters["delta"],
        width=dataset.n,
        regimes=cons.parameters["regimes"],
    )
    report = ClaimReport(CLAIM, TITLE, REFERENCE, params, checks, notes)
    return ClaimRun(report, cons.network, dataset)
