"""The verifier's checks. Each takes an :class:`Evaluation` and returns a :class:`CheckResult`.

No expected value is computed by the code it checks: the lower bound comes from the data alone
(:func:`sharpness.jacobian_lower_bound`), the Lemma 4.1 side from per-example gradients (a
different autograd path than the Hessian trace), and the hypercube targets from the paper's
closed forms.
"""

from __future__ import annotations

import math
from functools import cached_property

import torch

from constructions import (
    Dataset,
    NotExtremePointsError,
    certify_extreme_points,
    directions_certificate,
)
from sharpness import (
    NonDifferentiableError,
    find_kinks,
    hessian_trace,
    hypercube_error,
    lemma41_trace,
    lower_bounds,
    one_sided_traces,
    sampled_hypercube_error,
    tolerance_for,
)
from sharpness.hypercube.error import DEFAULT_MAX_POINTS
from sharpness.memorization import memorization_violations
from sharpness.registry import Operation, ops_for
from verify.report import CheckResult

__all__ = [
    "Evaluation",
    "check_bound_respected",
    "check_differentiability",
    "check_extreme_points",
    "check_hypercube_mse",
    "check_hypercube_zero_one",
    "check_interpolation",
    "check_memorization",
    "check_trace_bound",
    "check_trace_identity",
]


class Evaluation:
    """Quantities of one network on one dataset, each computed at most once.

    Args:
        net: the network.
        dataset: the training set.
        depth: depth used for the lower bound (defaults to the network's).
        hypercube_samples: if set, the hypercube error is a sampled ESTIMATE of this many points.
        max_points: the exact-enumeration limit.
        seed: seed of the sampled estimate.
    """

    def __init__(
        self,
        net,
        dataset: Dataset,
        *,
        hypercube_samples: int | None = None,
        max_points: int = DEFAULT_MAX_POINTS,
        seed: int = 0,
        progress: bool = False,
    ):
        self.net = net
        self.dataset = dataset
        self.X, self.y = dataset.tensors(net.dtype)
        self.tol = tolerance_for(net.dtype)
        self.hypercube_samples = hypercube_samples
        self.max_points = max_points
        self.seed = seed
        self.progress = progress

    @classmethod
    def from_config(cls, net, dataset: Dataset, config) -> Evaluation:
        """An evaluation with the hypercube settings of a :class:`verify.config.ClaimConfig`."""
        return cls(
            net,
            dataset,
            hypercube_samples=config.hypercube_samples,
            max_points=config.max_points,
            seed=config.seed,
            progress=config.progress,
        )

    @cached_property
    def outputs(self) -> torch.Tensor:
        return self.net(self.X).detach()

    @cached_property
    def kinks(self):
        return find_kinks(self.net, self.X, self.y)

    @cached_property
    def trace(self) -> float | None:
        """Exact Tr(nabla^2 L), or None where the Hessian does not exist."""
        try:
            return hessian_trace(self.net, self.X, self.y)
        except NonDifferentiableError:
            return None

    @cached_property
    def one_sided(self) -> tuple[float, float]:
        return one_sided_traces(self.net, self.X)

    @cached_property
    def lemma41(self) -> float:
        return lemma41_trace(self.net, self.X)

    @cached_property
    def bounds(self) -> tuple:
        """The architecture's lower bounds over interpolators (:func:`sharpness.lower_bounds`)."""
        return lower_bounds(self.net, self.dataset.X, self.dataset.y)

    @cached_property
    def bound(self):
        """The first (primary) of :attr:`bounds`: for MLPs the Jacobian bound of Eqs. (2)-(3)."""
        return self.bounds[0]

    @cached_property
    def hypercube(self):
        if self.hypercube_samples:
            return sampled_hypercube_error(self.net, self.hypercube_samples, seed=self.seed)
        return hypercube_error(self.net, max_points=self.max_points, progress=self.progress)

    def nonfinite_result(self, name: str, expected) -> CheckResult | None:
        """The failed row of a trace check whose trace overflowed to inf or NaN (an overflow is
        not an exact trace), or None when the trace and ``expected`` are finite."""
        values = [v for v in (self.trace, expected) if isinstance(v, float)]
        if all(math.isfinite(v) for v in values):
            return None
        return CheckResult(
            name=name,
            passed=False,
            value=self.trace,
            expected=expected,
            tolerance=self.tol.describe(),
            detail="the trace or its bound is inf or NaN in float64 (overflow): not a value "
            "that can be compared; rescale the data",
        )

    def undefined_result(self, name: str, expected) -> CheckResult:
        """The failed row of a trace check where the Hessian does not exist (never differentiated
        through): no measured value, the kinks and one-sided traces in the detail."""
        return CheckResult(
            name=name,
            passed=False,
            value=None,
            expected=expected,
            tolerance=self.tol.describe(),
            detail=self.undefined_detail(),
        )

    def undefined_detail(self) -> str:
        t0, t1 = self.one_sided
        return (
            f"Hessian undefined ({self.kinks.summary()}); one-sided traces: "
            f"{t0:.12g} with relu'(0)=0 (what autograd would silently report), "
            f"{t1:.12g} with relu'(0)=1"
        )


def check_extreme_points(dataset: Dataset, certificate=None) -> CheckResult:
    """Definition 4.1 by LP, margins recomputed and certified above their rounding bound.

    With a ``certificate`` (the one a construction was built on), its directions are re-certified
    on ``dataset`` instead of solving the LP again: the check fails if any of them does not
    separate its point.
    """
    try:
        if certificate is None:
            cert = certify_extreme_points(dataset.X)
        else:
            cert = directions_certificate(dataset.X, certificate.directions, certificate.method)
    except ValueError as exc:  # NotExtremePointsError names the point
        where = f"point {exc.index}" if isinstance(exc, NotExtremePointsError) else "directions"
        return CheckResult(
            name="extreme points (Def. 4.1)",
            passed=False,
            value=where,
            expected="> 0 margins",
            tolerance="certified",
            detail=str(exc),
            kind="certificate",
        )
    source = "LP (HiGHS)" if cert.method == "lp" else f"{cert.method!r} direction"
    return CheckResult(
        name="extreme points (Def. 4.1)",
        passed=True,
        value=cert.min_margin,
        expected="> 0",
        tolerance="certified",
        detail=f"{source} margins of all {dataset.n} points, recomputed in float64",
        kind="certificate",
    )


def check_interpolation(ev: Evaluation) -> CheckResult:
    """f(x_i) = y_i for every training point, within the tolerance policy."""
    res = (ev.outputs - ev.y).abs()
    allowed = ev.tol.atol + ev.tol.rtol * ev.y.abs()
    bad = torch.nonzero(res > allowed).flatten()
    worst = int(torch.argmax(res))
    detail = f"max |f(x_i) - y_i| at point {worst}"
    if bad.numel():
        i = int(bad[0])
        detail = (
            f"{bad.numel()} of {ev.dataset.n} points not interpolated, e.g. point {i}: "
            f"f = {float(ev.outputs[i]):.6g}, y = {float(ev.y[i]):.6g}"
        )
    return CheckResult(
        name="interpolation",
        passed=bad.numel() == 0,
        value=float(res.max()),
        expected=0.0,
        tolerance=ev.tol.describe(),
        detail=detail,
    )


def check_memorization(ev: Evaluation) -> CheckResult:
    """Definition 4.2: at every hidden layer each x_i has a one-hot activation, injectively.

    A unit counts as active when its pre-activation is certainly positive and as zero when it is
    certainly <= 0 (rounding-error bounds); anything else is a violation.
    """
    arch = ev.net.arch
    try:
        twin = ops_for(ev.net).require(Operation.MEMORIZATION, arch)(ev.net)
    except ValueError as exc:
        return CheckResult(
            name="memorization (Def. 4.2)",
            passed=False,
            value=None,
            expected=0,
            tolerance="exact",
            detail=str(exc),
            kind="exact",
        )
    violations = memorization_violations(twin, ev.X)
    detail = (
        ""
        if not violations
        else "; ".join(violations[:3]) + ("; ..." if len(violations) > 3 else "")
    )
    return CheckResult(
        name="memorization (Def. 4.2)",
        passed=not violations,
        value=len(violations),
        expected=0,
        tolerance="exact",
        detail=detail or f"one-hot and injective at all {arch.depth - 1} hidden layer(s)",
        kind="exact",
    )


def check_differentiability(ev: Evaluation) -> CheckResult:
    """No training point sits on a ReLU kink that makes the Hessian undefined."""
    fatal = len(ev.kinks.fatal)
    return CheckResult(
        name="twice differentiable at theta",
        passed=fatal == 0,
        value=fatal,
        expected=0,
        tolerance="exact",
        detail=ev.kinks.summary(),
        kind="exact",
    )


def check_trace_identity(ev: Evaluation) -> CheckResult:
    """Lemma 4.1: exact Tr(nabla^2 L) equals (2/n) sum ||grad f(x_i)||^2."""
    name = "Tr(H) = (2/n) sum ||grad f||^2 (Lemma 4.1)"
    if ev.trace is None:
        return ev.undefined_result(name, ev.lemma41)
    bad = ev.nonfinite_result(name, ev.lemma41)
    if bad is not None:
        return bad
    ok = ev.tol.close(ev.trace, ev.lemma41)
    return CheckResult(
        name=name,
        passed=ok,
        value=ev.trace,
        expected=ev.lemma41,
        tolerance=ev.tol.describe(),
        detail=f"exact Hessian trace (true second derivatives, no estimator) vs per-example gradients; "
        f"difference {ev.trace - ev.lemma41:.3e}",
    )


def check_trace_bound(ev: Evaluation, name: str | None = None, bound_note: str = "") -> CheckResult:
    """Tr(nabla^2 L) equals the lower bound over all interpolators: the flattest-model certificate.

    ``ev.bound`` is any bound with a ``trace``: the architecture's own (:func:`sharpness.lower_bounds`,
    the Jacobian bound for MLPs); ``name`` and ``bound_note`` describe it.
    """
    b = ev.bound
    depth = getattr(b, "depth", None)
    name = name or (f"Tr(H) = lower bound (D={depth})" if depth else f"Tr(H) = {b.name}")
    if ev.trace is None:
        return ev.undefined_result(name, b.trace)
    bad = ev.nonfinite_result(name, b.trace)
    if bad is not None:
        return bad
    ok = ev.tol.close(ev.trace, b.trace)
    gap = ev.trace - b.trace
    if ok:
        detail = bound_note + "equality certifies a flattest interpolator"
    elif gap < 0:
        detail = f"trace BELOW the bound by {-gap:.3e}: the model does not interpolate, or the bound is wrong"
    else:
        ratio = f" (ratio {ev.trace / b.trace:.6g})" if b.trace > 0 else " (the bound is 0)"
        detail = f"trace exceeds the bound by {gap:.6g}{ratio}: not flattest"
    return CheckResult(
        name=name,
        passed=ok,
        value=ev.trace,
        expected=b.trace,
        tolerance=ev.tol.describe(),
        detail=detail,
    )


def check_bound_respected(
    ev: Evaluation, name: str = "Tr(H) >= lower bound", extra_detail: str = ""
) -> CheckResult:
    """Tr(nabla^2 L) >= the lower bound (for any interpolating model); ``extra_detail`` is
    appended to the ratio."""
    b = ev.bound
    if ev.trace is None:
        return ev.undefined_result(name, b.trace)
    bad = ev.nonfinite_result(name, b.trace)
    if bad is not None:
        return bad
    ok = ev.trace >= b.trace - ev.tol.allowed(b.trace)
    return CheckResult(
        name=name,
        passed=ok,
        value=ev.trace,
        expected=f">= {b.trace:.12g}",
        tolerance=ev.tol.describe(),
        detail=f"ratio trace/bound = {ev.trace / b.trace:.6g}{extra_detail}"
        if b.trace > 0
        else "bound is 0 (all labels 0)",
    )


def check_hypercube_zero_one(ev: Evaluation, expected_errors: int, label: str) -> CheckResult:
    """Zero-one error over {-1,1}^d (y f(x) <= 0 is a mistake) against a closed-form count.

    Exact enumeration compares the integer number of mistakes; a sampled estimate passes when the
    expected fraction lies in its Clopper-Pearson interval.
    """
    total = 1 << ev.net.d
    expected = expected_errors / total
    name = f"zero-one error on {{-1,1}}^{ev.net.d} ({label})"
    hc = ev.hypercube
    if ev.hypercube_samples:
        ok = hc.ci_low <= expected <= hc.ci_high
        return CheckResult(
            name=name,
            passed=ok,
            value=hc.zero_one,
            expected=expected,
            tolerance=f"{hc.confidence:.0%} CI",
            detail=f"ESTIMATE from {hc.samples} uniform samples: {hc.errors} mistakes, "
            f"Clopper-Pearson interval [{hc.ci_low:.4g}, {hc.ci_high:.4g}]; MSE estimate "
            f"{hc.mse:.6g} (normal-approximation interval [{hc.mse_ci_low:.4g}, {hc.mse_ci_high:.4g}])",
            kind="estimate",
        )
    ok = hc.errors == expected_errors and not hc.undecided
    detail = (
        f"{hc.errors} of {hc.total} points have y f(x) <= 0 (expected {expected_errors}); "
        f"exact count ({hc.exact_rechecks} point(s) re-evaluated in rational arithmetic)"
    )
    if hc.undecided:
        detail += f"; {hc.undecided} point(s) undecidable in float (smooth activation)"
    return CheckResult(
        name=name,
        passed=ok,
        value=hc.zero_one,
        expected=expected,
        tolerance="exact count",
        detail=detail,
        kind="exact",
    )


def check_hypercube_mse(ev: Evaluation, expected: float, label: str) -> CheckResult:
    """E[(f(x) - y)^2] over all of {-1,1}^d against a closed form (float, tolerance policy).

    Exact enumeration only: a sampled MSE has no distribution-free interval (the squared error is
    unbounded), so in estimate mode the MSE is reported in the zero-one check's detail instead.
    """
    if ev.hypercube_samples:
        raise ValueError(
            "the MSE check needs exact enumeration; in estimate mode it is reported "
            "with the zero-one estimate"
        )
    hc = ev.hypercube
    name = f"MSE on {{-1,1}}^{ev.net.d} ({label})"
    ok = ev.tol.close(hc.mse, expected)
    return CheckResult(
        name=name,
        passed=ok,
        value=hc.mse,
        expected=expected,
        tolerance=ev.tol.describe(),
        detail=f"mean over all {hc.total} points",
    )
