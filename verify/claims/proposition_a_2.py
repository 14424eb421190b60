"""Proposition A.2 (App. A.3.3): circle data (x[1:2] uniform on the unit circle, ||x|| = R),
L-Lipschitz labels of x[1:2]; for delta in (0, 1/20) and n = Omega(log(1/delta)/delta), with
probability 1 - delta a flattest width-n 2-MLP-Bias has generalization error O(delta^2).

**Verdict: unproven.** The proof's network, Eq. (17), does not interpolate: its neurons fire on
half-planes, not on the arcs z_j z_{j+1} (d = 2, n = 40, y = 1 + v[1]/2: max |f - y| = 19.1;
``--form printed``). The repair that does what the proof says a neuron does, a cap around v_j
(:func:`constructions.circle.prop_a2_solution`, the default), interpolates and is flattest
(trace = the Jacobian bound), but a ReLU cap vanishes at its edge, so f is a tent on each cap and
not ~ y_1 on the arc as the proof's last display assumes; its error stays near 0.5 from n = 40 to
n = 4000, far above the proposition's own bound 4 Y^2 delta^2/(1 - 10 delta)^2 + L^2 delta^2.
No flattest width-n interpolator with error O(delta^2) is known to us, and one is constrained:
a flattest interpolator attains Eq. (3) with equality at every x_i, so (Eq. (4), corrected) every
neuron active at x_i has pre-activation |W_2[j]| ||x_i'|| there, the same value at every training
point where it is active; on the circle (d = 2) a non-constant neuron a cos(phi - psi) + c takes
a value at most twice, so it is active at no more than 2 training points. Whether the bound
holds is not settled here.

Checked (default, the cap repair): interpolation, differentiability, exact Tr(nabla^2 L) =
Lemma 4.1's sum = the Jacobian bound (flattest), the Eq. (4) structure above, the network's error
over a test grid against an independent closed form of the tents, and that this flattest network's
error exceeds the proposition's bound at n = 4000 (so it is no witness for it).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from constructions.circle import CAP_FRACTION, circle_labels, prop_a2_solution, sample_circle
from constructions.construction import Form
from constructions.tolerance import tolerance_for
from verify._common import ClaimRun
from verify.checks import (
    Evaluation,
    check_differentiability,
    check_interpolation,
    check_trace_bound,
    check_trace_identity,
)
from verify.claims.theorem_3_1 import depth_note
from verify.config import ClaimConfig
from verify.report import CheckResult, ClaimReport

CLAIM = "propA.2"
ORDER = 62
TITLE = (
    "circle data, Lipschitz labels: Eq. (17) repaired is flattest; the O(delta^2) bound is unproven"
)
REFERENCE = "Proposition A.2; Eq. (17); App. A.3.3"

#: Test-grid size (midpoint rule over the angle) for the error, and the large n of the rate check.
GRID = 20000
LARGE_N = 4000
LIPSCHITZ = 0.5  # of the default label 1 + v[1]/2
DEFAULT_N = 40


def tent_outputs(phi_train: np.ndarray, y: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """The cap network's f at angles ``phi``, in closed form (independent of the weights):
    f = sum_j y_j relu(1 - sin^2((phi - phi_j)/2) / sin^2(alpha_j/2)), alpha_j = 0.9 x the
    smaller gap (cos D - cos a = 2 (sin^2(a/2) - sin^2(D/2)), no cancellation)."""
    n = len(phi_train)
    gap = np.diff(np.concatenate([phi_train, [phi_train[0] + 2 * np.pi]]))
    alpha = CAP_FRACTION * np.minimum(gap, np.roll(gap, 1))
    idx = np.searchsorted(phi_train, phi)
    f = np.zeros_like(phi)
    for shift in (-2, -1, 0, 1):
        j = np.mod(idx + shift, n)
        t = 1.0 - np.sin((phi - phi_train[j]) / 2) ** 2 / np.sin(alpha[j] / 2) ** 2
        f += y[j] * np.maximum(t, 0.0)
    return f


def paper_delta(n: int) -> float | None:
    """The smallest delta in (0, 1/20) with n >= N log(N/delta), N = ceil(2 pi/delta) (the
    coupon-collector condition, corrected), or None if there is none."""
    best = None
    for delta in np.linspace(0.0499, 0.001, 2000):
        N = math.ceil(2 * math.pi / delta)
        if n >= N * math.log(N / delta):
            best = float(delta)
    return best


def paper_bound(delta: float, Y: float, L: float) -> float:
    """The proof's error bound 4 Y^2 delta^2 / (1 - 10 delta)^2 + L^2 delta^2."""
    return 4 * Y**2 * delta**2 / (1 - 10 * delta) ** 2 + L**2 * delta**2


def _angles(dataset) -> np.ndarray:
    return np.mod(np.arctan2(dataset.X[:, 1], dataset.X[:, 0]), 2 * np.pi)


def _grid() -> np.ndarray:
    return (np.arange(GRID) + 0.5) * (2 * np.pi / GRID)


def check_eq4_structure(net, dataset) -> CheckResult:
    """Eq. (4), corrected, at every training point: each active neuron has z_ij = |W2_j| ||x_i'||
    and sign(W2_j) = sign(y_i) (what attaining Eq. (3) requires)."""
    X = torch.tensor(dataset.X, dtype=net.dtype)
    Z = (X @ net.params["W1"].T + net.params["b1"]).numpy()
    w2 = net.params["W2"].numpy().ravel()
    xp = np.sqrt(np.sum(dataset.X**2, axis=1) + 1.0)
    on = Z > 0
    want = np.abs(w2)[None, :] * xp[:, None]
    tol = tolerance_for(net.dtype)
    dev = np.where(on, np.abs(Z - want), 0.0)
    allowed = tol.atol + tol.rtol * want
    sign_ok = np.all(~on | (np.sign(w2)[None, :] == np.sign(dataset.y)[:, None]))
    bad = int(np.sum(dev > allowed)) + (0 if sign_ok else 1)
    return CheckResult(
        name="Eq. (4): active z_ij = |W2_j| ||x_i'||, sign(W2_j) = sign(y_i)",
        passed=bad == 0,
        value=float(dev.max()),
        expected=0,
        tolerance=tol.describe(),
        detail=f"{bad} violations over {int(on.sum())} active (point, neuron) pairs; at most "
        f"{int(on.sum(axis=1).max())} active neuron(s) per training point",
    )


def check_closed_form(net, dataset) -> CheckResult:
    """The network's test MSE over the angle grid equals that of the closed-form tents."""
    phi = _grid()
    T = np.zeros((GRID, dataset.d))
    T[:, 0], T[:, 1] = np.cos(phi), np.sin(phi)
    g = circle_labels(T[:, :2])
    f_net = net(torch.tensor(T, dtype=net.dtype)).detach().numpy().ravel()
    f_ref = tent_outputs(_angles(dataset), dataset.y, phi)
    mse_net, mse_ref = float(np.mean((f_net - g) ** 2)), float(np.mean((f_ref - g) ** 2))
    # the weights are ~ r/alpha^2, so W1 x + b1 cancels: allow rtol = 1e-6 (1e-9 policy x the
    # condition number ~ 1e3 at n = 40), stated here
    ok = abs(mse_net - mse_ref) <= 1e-12 + 1e-6 * abs(mse_ref)
    return CheckResult(
        name="test MSE (network) = closed-form tents",
        passed=ok,
        value=mse_net,
        expected=mse_ref,
        tolerance="rtol=1e-06, atol=1e-12 (cancellation in W1 x + b1 ~ 1/alpha^2)",
        detail=f"midpoint rule over {GRID} angles; max |f_net - f_ref| = "
        f"{float(np.max(np.abs(f_net - f_ref))):.3e}",
    )


def check_not_a_witness(mse: float, bound: float, n: int, delta: float) -> CheckResult:
    """This flattest network's error exceeds the proposition's bound: no witness for it."""
    return CheckResult(
        name=f"error of the flattest caps at n = {n} > Prop. A.2's bound",
        passed=mse > bound,
        value=mse,
        expected=f"> {bound:.6g}",
        tolerance="strict",
        detail=f"closed-form tents, {GRID}-point grid; bound 4Y^2 delta^2/(1-10 delta)^2 + "
        f"L^2 delta^2 with delta = {delta:.4g} (n >= N log(N/delta)), Y = 1.5, L = {LIPSCHITZ}",
    )


def run(config: ClaimConfig) -> ClaimRun:
    if config.dataset is not None:
        raise ValueError("propA.2 draws its own circle data; --data is not supported")
    n = DEFAULT_N if config.n == min(100, 2**config.d) else config.n
    if n < 3:
        raise ValueError(f"n must be >= 3 for Proposition A.2's construction, got n={n}")
    d = config.d
    R = 1.0 if d == 2 else 2.0
    dataset = sample_circle(n, d, R, seed=config.seed)
    cons = prop_a2_solution(dataset, form=config.form)
    ev = Evaluation(cons.network, dataset)
    checks = [
        check_interpolation(ev),
        check_differentiability(ev),
        check_trace_identity(ev),
        check_trace_bound(ev),
        check_eq4_structure(cons.network, dataset),
    ]
    phi = _grid()
    g = 1.0 + np.cos(phi) / 2
    errors = {}
    for m in (n, 400, LARGE_N):
        big = sample_circle(m, 2, 1.0, seed=config.seed)
        errors[m] = float(np.mean((tent_outputs(_angles(big), big.y, phi) - g) ** 2))
    delta = paper_delta(LARGE_N)
    bound = paper_bound(delta, 1.5, LIPSCHITZ)
    if config.form is Form.CORRECTED:
        checks += [
            check_closed_form(cons.network, dataset),
            check_not_a_witness(errors[LARGE_N], bound, LARGE_N, delta),
        ]
    from verify.errata.appendix_a3_circle import eq17_outputs

    f_p, y_p, act_p, _ = eq17_outputs(40, 0)
    notes = [n for n in [depth_note(config, "2-MLP-Bias")] if n] + [
        f"Eq. (17) as printed (n = 40, seed 0, d = 2): {act_p.mean():.2f} neurons active per "
        f"training point on average, max |f(v_i) - y_i| = {np.max(np.abs(f_p - y_p)):.1f}: its "
        "pre-activations are positive on half-planes, not on the arcs z_j z_{j+1}.",
        "Error of the flattest cap repair (closed form, same seed): "
        + ", ".join(f"n = {m}: {e:.4f}" for m, e in errors.items())
        + f"; the proposition's bound at n = {LARGE_N} (delta = {delta:.4g}) is {bound:.3g}. "
        "A ReLU cap vanishes at its edge, so each neuron is a tent, not ~ y_1 on its arc.",
        "Verdict on Proposition A.2: unproven (the printed proof fails) and not verified here; "
        "flattest forces every neuron active at a training point to take the value |W2_j| ||x'|| "
        "at each such point, so on the circle (d = 2) a non-constant neuron is active at no more "
        "than 2 training points. No flattest width-n network with error O(delta^2) is known.",
        "'n >= N log delta' is negative for delta < 1; the coupon-collector bound needs n >= "
        "N log(N/delta) (errata entry).",
    ]
    params = config.describe()
    params.update(n=n, R=R, width=n, data=dataset.description)
    report = ClaimReport(CLAIM, TITLE, REFERENCE, params, checks, notes)
    return ClaimRun(report, cons.network, dataset)
