"""Proposition A.1 (App. A.3.2): if the label depends only on the first s coordinates, x[1:s] is
drawn from a finite set of extreme points and ||x|| = R, then for a sufficiently large width a
flattest 2-MLP-Bias interpolator has generalization error 0.

Verified on Eq. (16), corrected (:mod:`constructions.extreme_point_labels`: w_j in W_1 and
r_j^2 = |y_j| sqrt(R^2 + 1); ``--form printed`` builds Eq. (16) as printed and fails): the support
is k = 12 random points on the sphere of radius 2 in R^s (s = 3, or 2 when d <= 3), labels
1 + v[1]/4, the other coordinates a random direction of norm sqrt(R^2 - 4) (R = 3; R = 2 when
d = s), and the training set n i.i.d. draws (repeats are the rule: 100 draws from 12 points).
Checks: the support's extreme-point certificate (LP, independent of the construction's
directions), epsilon below the construction's margins, interpolation, differentiability, exact
Tr(nabla^2 L) = Lemma 4.1's sum = the Jacobian lower bound over all interpolators (flattest), and
the population error: every support point with fresh other coordinates is fitted (the
distribution is uniform on the support, so this is the whole expectation, not a sample of it).
"""

from __future__ import annotations

import numpy as np
import torch

from constructions.dataset import Dataset
from constructions.extreme_point_labels import (
    prop_a1_solution,
    sample_from_support,
    sample_support,
)
from verify._common import ClaimRun, check_epsilon
from verify.checks import (
    Evaluation,
    check_differentiability,
    check_extreme_points,
    check_interpolation,
    check_trace_bound,
    check_trace_identity,
)
from verify.claims.theorem_3_1 import depth_note
from verify.config import ClaimConfig
from verify.report import CheckResult, ClaimReport

CLAIM = "propA.1"
ORDER = 61
TITLE = "labels on s coordinates of extreme-point data: a flattest 2-MLP-Bias with zero error"
REFERENCE = "Proposition A.1; Eq. (16); App. A.3.2"

SUPPORT_SIZE = 12
SUPPORT_RADIUS = 2.0


def setting(d: int) -> tuple[int, float]:
    """(s, R) for input dimension d."""
    s = 3 if d >= 4 else 2
    return s, (3.0 if d > s else SUPPORT_RADIUS)


def check_population_error(net, support, d: int, R: float, seed: int) -> CheckResult:
    """max over the k support points (fresh other coordinates) of |f(x) - y| = 0."""
    test, idx = sample_from_support(support, 4 * support.k, d, R, seed=seed + 1)
    # every support point at least once: append them with the first draws' other coordinates
    X = test.X.copy()
    X[: support.k, : support.s] = support.points
    y = support.labels[np.r_[np.arange(support.k), idx[support.k :]]]
    X = torch.tensor(X, dtype=net.dtype)
    res = (net(X).detach().numpy().ravel() - y).__abs__()
    tol_allowed = 1e-12 + 1e-9 * np.abs(y)
    bad = int(np.sum(res > tol_allowed))
    return CheckResult(
        name="population error 0 (all k support points)",
        passed=bad == 0,
        value=float(res.max()),
        expected=0,
        tolerance="rtol=1e-09, atol=1e-12",
        detail=f"{bad} of {len(y)} test points (every support point, fresh coordinates s+1..d) "
        "not fitted",
    )


def run(config: ClaimConfig) -> ClaimRun:
    if config.dataset is not None:
        raise ValueError("propA.1 draws from its own distribution; --data is not supported")
    d = config.d
    s, R = setting(d)
    support = sample_support(SUPPORT_SIZE, s, SUPPORT_RADIUS, seed=config.seed)
    dataset, _ = sample_from_support(support, config.n, d, R, seed=config.seed)
    cons = prop_a1_solution(support, d, R, epsilon=config.epsilon, form=config.form)
    ev = Evaluation(cons.network, dataset)
    checks = [
        check_extreme_points(Dataset(support.points, support.labels, "support")),
        check_epsilon(cons.parameters["epsilon"], cons.parameters["min_margin"]),
        check_interpolation(ev),
        check_differentiability(ev),
        check_trace_identity(ev),
        check_trace_bound(ev),
        check_population_error(cons.network, support, d, R, config.seed),
    ]
    distinct = len({row.tobytes() for row in dataset.X[:, :s]})
    notes = [n for n in [depth_note(config, "2-MLP-Bias")] if n] + [
        f"Width m = k = {support.k} (one neuron per support point, 'sufficiently large width "
        f"depending on D'); the {dataset.n} draws hit {distinct} distinct support points, and a "
        "neuron whose point was not drawn is inactive on the training set, so it adds nothing to "
        "the trace.",
        "Eq. (16) as printed uses v_j instead of w_j in W_1 and r^2 = |y_j| (R^2 + 1): with "
        "--form printed the network neither interpolates (v = 2 != 1) nor is flattest; both "
        "corrections are entries of verify-theorem errata.",
    ]
    params = config.describe()
    params.update(
        s=s, k=support.k, v=SUPPORT_RADIUS, R=R, epsilon=cons.parameters["epsilon"], width=support.k
    )
    report = ClaimReport(CLAIM, TITLE, REFERENCE, params, checks, notes)
    return ClaimRun(report, cons.network, dataset)
