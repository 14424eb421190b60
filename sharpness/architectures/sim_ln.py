"""2-MLP-Sim-LN: kinks, the Lemma A.12 lower bound over interpolators, and "eps sufficiently
small" (Theorem 5.1, Propositions 5.1-5.2, App. A.4).

The architecture is f(x) = W_2 s, s = h / N, N = max{||h||, eps}, h = relu(W_1 x + b_1) and
L = (1/n) sum_i (f(x_i) - y_i)^2. Write x' = (x, 1), W'_1 = [W_1, b_1], z = W'_1 x' and
c_i = ||x'_i|| |y_i|.

**Lemma A.12 (derivation).** At an interpolating theta where L is twice differentiable,
Tr(nabla^2 L) = (2/n) sum_i ||grad_theta f(x_i)||^2 + (2/n) sum_i (f_i - y_i) Tr(nabla^2 f_i) and
the second sum vanishes (Lemma 4.1's identity; for Sim-LN only *at interpolation*, since the
diagonal of nabla^2 f is not zero: s depends nonlinearly on z). Fix one point, drop the index,
let A = {k : z_k > 0} and W_{2,A} the output weights of the active units.

* Regime ||h|| > eps (normalized): s = h/||h||, grad_{W_2} f = s, so ||grad f||^2 >= ||s||^2 = 1.
  In full, ||grad f||^2 = 1 + ||x'||^2 ||W_{2,A} - f s_A||^2 / ||h||^2, with equality iff
  W_{2,A} = y s_A (e.g. one active unit k with W_2[k] = y: s = e_k does not move with W'_1).
* Regime ||h|| < eps (linear): f = W_2 h / eps, grad_{W_2} f = h/eps, grad_{z_k} f = W_2[k]/eps
  (k in A), so with t = ||h|| in (0, eps) and Cauchy-Schwarz |W_2 h| <= ||W_{2,A}|| t, and
  W_2 h = eps y,

  .. math::
      \\|\\nabla f\\|^2 = \\frac{t^2 + \\|W_{2,A}\\|^2\\|x'\\|^2}{\\epsilon^2}
      \\ge \\frac{t^2 + \\epsilon^2 c^2 / t^2}{\\epsilon^2} \\ge \\frac{2c}{\\epsilon},

  the last step AM-GM, with equality iff t^2 = eps c, which lies in the regime iff c < eps.
  For c >= eps the infimum over t < eps is 1 + c^2 > 1 (approached, not attained).
* ||h|| = eps: the max switches; for y != 0 the one-sided gradients of f differ by f s/eps and
  L is not twice differentiable (excluded; see the kinks below).

Hence, per point, inf ||grad f||^2 = 1 if 2c >= eps and 2c/eps if 2c < eps, i.e.
min(1, 2c/eps); it is attained for y != 0 (normalized regime with u > eps, or linear regime with
t^2 = eps c < eps^2/2), and for y = 0 by an all-inactive point (not by a memorizing network).
The points are independent, so

.. math::  \\inf_{L(\\theta)=0} \\mathrm{Tr}(\\nabla^2 L) = \\frac2n \\sum_i \\min\\Big(1, \\frac{2}{\\epsilon}\\|x'_i\\|\\,|y_i|\\Big),

for any width and any data (extreme points are not needed for the bound). This is Lemma A.12
exactly as printed (same 2/n normalization as Lemma 4.1); the printed case 2 ("||h|| <= eps")
includes the switch ||h|| = eps, where the gradient does not exist for y != 0, which does not
affect the bound. On P_xor, c_i = sqrt(d+1) and the bound is 2 iff eps <= 2 sqrt(d+1) (the paper
says "for eps < sqrt(d+1) the minimal sharpness is always 2": true, not sharp).

**Kinks.** A ReLU unit k with z_k numerically zero at x_i (|z_k| within its rounding bound):

* W_2[k] != 0: f has a kink of slope W_2[k]/N along b_1[k] in either regime: *fatal*.
* W_2[k] == 0: h_k = relu(z_k) enters f as (delta W_2[k]) relu(z_k) / N (a product of
  perturbations) and, in the normalized regime, through ||h||^2 = ||h_{-k}||^2 + relu(z_k)^2, i.e.
  as -f relu(z_k)^2 / (2 ||h||^2): still second order, but relu^2 has a jump in its second
  derivative. So f(theta + Delta) - y = g.Delta + q(Delta) + o(|Delta|^2) with q non-smooth,
  homogeneous of degree 2. At interpolation, (f - y)^2 = (g.Delta)^2 + O(|Delta|^3) and
  grad L = (2/n) sum (g.Delta)(g + O(|Delta|)): L is twice differentiable with
  nabla^2 L = (2/n) sum g g^T, which autograd reproduces. Off interpolation the residual
  multiplies q: *fatal*. So: harmless iff W_2[k] == 0 and x_i is interpolated (the same rule as
  the 2-layer MLP, for a different reason: the unit influences f through ||h|| even where no
  output weight could carry it).
* The switch ||h(x_i)|| = eps (within the rounding bound of the computed norm): the one-sided
  gradients of f differ by f(x_i) s / eps. Fatal unless f(x_i) = 0, i.e. unless x_i is
  interpolated with y_i == 0 (then grad f is Lipschitz across the switch and, as above, L is
  twice differentiable at theta).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch.func import grad, vmap

from constructions._checks import as_tensor, check_int, check_positive_float
from constructions.architectures import MLP, Network, SimLN
from constructions.construction import Form
from constructions.tolerance import tolerance_for
from sharpness._rounding import bounded_forward, unit_roundoff
from sharpness.registry import ArchitectureOps, CubeFamily, TrainingHead, register
from sharpness.trace.closed_form import sim_ln_hessian_diagonal
from sharpness.trace.kinks import Kink, KinkReport
from sharpness.trace.lemma_4_1 import gradient_sq_norms

__all__ = [
    "OPS",
    "EpsilonRange",
    "NormSwitch",
    "SimLNKinkReport",
    "SimLNLowerBound",
    "find_kinks_sim_ln",
    "lemma_a12_printed",
    "memorizing_epsilon_range",
    "one_sided_traces_sim_ln",
    "sim_ln_lower_bound",
    "sim_ln_regimes",
    "xor_epsilon_range",
]


# --------------------------------------------------------------------------------------------
# kinks and the switch of the max
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NormSwitch(Kink):
    """A training point with ||h(x_i)|| = eps within rounding: max{||h||, eps} switches branch.

    ``neuron`` is -1 and ``preactivation`` holds the computed ||h(x_i)||.
    """

    eps: float = 0.0


@dataclass(frozen=True)
class SimLNKinkReport(KinkReport):
    """A :class:`~sharpness.trace.kinks.KinkReport` whose kinks may include :class:`NormSwitch` points,
    with the number of training points in each regime."""

    normalized: int = 0
    linear: int = 0

    @property
    def switches(self) -> tuple[NormSwitch, ...]:
        return tuple(k for k in self.kinks if isinstance(k, NormSwitch))

    def summary(self, limit: int = 3) -> str:
        regimes = (
            f"regimes: {self.normalized} point(s) with ||h|| > eps, {self.linear} with "
            f"||h|| < eps, {len(self.switches)} at ||h|| = eps"
        )
        if not self.kinks:
            return "no ReLU pre-activation is numerically zero at a training point; " + regimes
        parts = []
        fatal_units = [k for k in self.fatal if not isinstance(k, NormSwitch)]
        fatal_sw = [k for k in self.fatal if isinstance(k, NormSwitch)]
        if fatal_units:
            ex = ", ".join(
                f"(point {k.point}, neuron {k.neuron}, z={k.preactivation:.1e})"
                for k in fatal_units[:limit]
            )
            more = "" if len(fatal_units) <= limit else ", ..."
            parts.append(f"{len(fatal_units)} fatal ReLU kink(s): {ex}{more}")
        if fatal_sw:
            ex = ", ".join(
                f"(point {k.point}, ||h||={k.preactivation:.17g})" for k in fatal_sw[:limit]
            )
            more = "" if len(fatal_sw) <= limit else ", ..."
            parts.append(
                f"{len(fatal_sw)} point(s) at the switch ||h|| = eps = {fatal_sw[0].eps:.6g} "
                f"with f != 0 (the max is not differentiable there): {ex}{more}"
            )
        if self.harmless:
            parts.append(
                f"{len(self.harmless)} harmless kink(s) (zero output weight or f = 0 at an "
                "interpolated point; the Hessian exists)"
            )
        return "; ".join(parts) + "; " + regimes


def _bounds(net, X: torch.Tensor):
    """(z, err_z, ||h||, err_norm): computed values with rigorous rounding bounds."""
    p = net.param_dict()
    bf = bounded_forward(MLP(2, bias=True), {k: p[k] for k in ("W1", "b1", "W2")}, X)
    z, err = bf.preacts[0], bf.preact_errors[0]
    h = torch.relu(z)
    eh = torch.where(z + err <= 0, torch.zeros_like(err), err)
    norm = torch.linalg.vector_norm(h, dim=1)
    m = z.shape[1]
    u = unit_roundoff(X.dtype)
    gamma = (m + 2) * u / (1 - (m + 2) * u)
    # | ||h_hat|| - ||h|| | <= ||h_hat - h|| <= ||eh||, plus the float evaluation of the norm.
    enorm = torch.linalg.vector_norm(eh, dim=1) + gamma * norm
    return z, err, norm, enorm


def sim_ln_regimes(net, X) -> np.ndarray:
    """Per training point: "normalized" (||h|| > eps certainly), "linear" (||h|| < eps
    certainly) or "switch" (||h|| = eps within the rounding bound)."""
    X = as_tensor(X, net.dtype)
    _, _, norm, enorm = _bounds(net, X)
    eps = net.arch.eps
    out = np.full(X.shape[0], "switch", dtype=object)
    out[(norm - enorm > eps).numpy()] = "normalized"
    out[(norm + enorm < eps).numpy()] = "linear"
    return out


def find_kinks_sim_ln(net, X, y=None) -> SimLNKinkReport:
    """Find and classify the non-differentiable points of 2-MLP-Sim-LN at the training points.

    Registered for Sim-LN (:data:`OPS`), so :func:`sharpness.find_kinks` and
    :func:`sharpness.hessian_trace` use it for :class:`~constructions.SimLN`. The rules are in
    the module docstring: a numerically-zero ReLU unit is harmless iff its output weight is 0
    and the point is interpolated; a point at ||h|| = eps is harmless iff it is interpolated with
    label exactly 0.

    Args:
        net: a Network with a SimLN architecture.
        X: training inputs (n, d).
        y: training labels; without them nothing counts as interpolated.
    """
    if type(net.arch).__name__ != "SimLN":
        raise ValueError(f"find_kinks_sim_ln needs a 2-MLP-Sim-LN, got {net.arch.name}")
    X = as_tensor(X, net.dtype)
    n = X.shape[0]
    tol = tolerance_for(net.dtype)
    if y is not None:
        y = as_tensor(y, net.dtype)
        f = net(X).detach()
        interpolated = (f - y).abs() <= tol.atol + tol.rtol * y.abs()
        zero_label = y == 0
    else:
        interpolated = torch.zeros(n, dtype=torch.bool)
        zero_label = torch.zeros(n, dtype=torch.bool)
    z, err, norm, enorm = _bounds(net, X)
    W2 = net.params["W2"][0]
    kinks: list[Kink] = []
    for i, k in torch.nonzero(z.abs() <= err, as_tuple=False).tolist():
        harmless = bool(W2[k] == 0) and bool(interpolated[i])
        kinks.append(Kink(i, 1, k, float(z[i, k]), harmless))
    eps = float(net.arch.eps)
    at_switch = (norm - eps).abs() <= enorm
    for i in torch.nonzero(at_switch).flatten().tolist():
        harmless = bool(interpolated[i]) and bool(zero_label[i])
        kinks.append(NormSwitch(i, 1, -1, float(norm[i]), harmless, eps))
    return SimLNKinkReport(
        tuple(kinks),
        normalized=int(torch.sum(norm - enorm > eps)),
        linear=int(torch.sum(norm + enorm < eps)),
    )


def one_sided_traces_sim_ln(net, X) -> tuple[float, float]:
    """The smallest and largest one-sided value of (2/n) sum ||grad f(x_i)||^2 at a kink.

    Every numerically-zero ReLU unit takes relu'(0) in {0, 1} and every point at the switch
    takes the branch N = ||h|| or N = eps (all kinks on the same side at once: four
    combinations). At interpolation these are traces of the one-sided Hessians of L; where
    there is no kink both values equal the Lemma 4.1 sum.
    """
    X = as_tensor(X, net.dtype)
    z, err, norm, enorm = _bounds(net, X)
    eps = float(net.arch.eps)
    certain_on = (z > err).to(X.dtype)
    kink = (z.abs() <= err).to(X.dtype)
    norm_branch = norm - enorm > eps
    switch = (norm - eps).abs() <= enorm

    def f_single(p, x, mask, use_norm):
        h = (x @ p["W1"].T + p["b1"]) * mask
        N = torch.where(use_norm, torch.linalg.vector_norm(h), torch.as_tensor(eps, dtype=h.dtype))
        return (p["W2"][0] @ h) / N

    g = vmap(grad(f_single), in_dims=(None, 0, 0, 0))
    values = []
    for relu0 in (0.0, 1.0):
        mask = certain_on + relu0 * kink
        for branch in (False, True):
            use = norm_branch | (switch & torch.tensor(branch))
            grads = g(net.param_dict(), X, mask, use)
            sq = sum(torch.sum(v.reshape(v.shape[0], -1) ** 2, dim=1) for v in grads.values())
            values.append(2.0 / X.shape[0] * float(sq.sum()))
    return min(values), max(values)


# --------------------------------------------------------------------------------------------
# Lemma A.12
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class SimLNLowerBound:
    """The Lemma A.12 bound: per-point infima of ||grad f(x_i)||^2 and the trace bound.

    Attributes:
        per_example: inf ||grad f(x_i)||^2 over interpolators: 1 if 2 c_i >= eps else 2 c_i/eps.
        trace: (2/n) sum of per_example.
        eps: the architecture's epsilon.
        c: c_i = ||x'_i|| |y_i|.
        regimes: the regime that attains each infimum ("normalized", "linear", "zero label").
    """

    per_example: np.ndarray
    trace: float
    eps: float
    c: np.ndarray
    regimes: np.ndarray
    depth: int = 2

    name = "Lemma A.12 bound"
    attainable = True


def _constants(X, y) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if X.ndim != 2 or y.shape != (X.shape[0],):
        raise ValueError(f"need X (n, d) and y (n,), got shapes {X.shape} and {y.shape}")
    return np.sqrt(np.sum(X * X, axis=1) + 1.0) * np.abs(y)


def sim_ln_lower_bound(X, y, eps: float) -> SimLNLowerBound:
    """inf over interpolating 2-MLP-Sim-LN (any width) of Tr(nabla^2 L), by the case analysis of
    the module docstring: per point 1 (normalized regime) if 2 c_i >= eps, else 2 c_i / eps
    (linear regime, t^2 = eps c_i).

    Raises:
        ValueError: for eps <= 0 or mismatched shapes.
    """
    eps = check_positive_float("eps", eps)
    c = _constants(X, y)
    normalized = 2.0 * c >= eps
    per = np.where(normalized, 1.0, 2.0 * c / eps)
    regimes = np.where(c == 0, "zero label", np.where(normalized, "normalized", "linear"))
    return SimLNLowerBound(per, float(2.0 / c.shape[0] * np.sum(per)), eps, c, regimes)


def lemma_a12_printed(X, y, eps: float) -> float:
    """Lemma A.12 literally: (2/n) sum_i min(1, (2/eps) sqrt(||x_i||^2 + 1) |y_i|)."""
    eps = check_positive_float("eps", eps)
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    terms = [
        min(1.0, (2.0 / eps) * math.sqrt(float(x @ x) + 1.0) * abs(float(yi)))
        for x, yi in zip(X, y, strict=True)
    ]
    return 2.0 / len(terms) * math.fsum(terms)


# --------------------------------------------------------------------------------------------
# "eps sufficiently small"
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EpsilonRange:
    """The eps > 0 for which a Sim-LN construction attains the Lemma A.12 bound.

    Attributes:
        intervals: disjoint, sorted (low, low_closed, high, high_closed); high may be inf.
        sufficiently_small: eps* with every eps in (0, eps*) admissible ("eps sufficiently
            small" made checkable); inf when every eps > 0 is.
        inclusive: whether eps* itself is admissible.
        condition: the condition in words.
        paper: what the paper states.
    """

    intervals: tuple[tuple[float, bool, float, bool], ...]
    sufficiently_small: float
    inclusive: bool
    condition: str
    paper: str

    def contains(self, eps: float) -> bool:
        for lo, lo_c, hi, hi_c in self.intervals:
            if (eps > lo or (lo_c and eps == lo)) and (eps < hi or (hi_c and eps == hi)):
                return True
        return False

    def describe(self) -> str:
        if not self.intervals:
            return "empty"
        parts = []
        for lo, lo_c, hi, hi_c in self.intervals:
            parts.append(
                f"{'[' if lo_c else '('}{lo:.12g}, {hi:.12g}{']' if hi_c else ')'}"
                if math.isfinite(hi)
                else f"{'[' if lo_c else '('}{lo:.12g}, inf)"
            )
        return " U ".join(parts)


_ALL = ((0.0, False, math.inf, False),)


def memorizing_epsilon_range(X, y, form: str = "corrected") -> EpsilonRange:
    """Admissible eps for Theorem 5.1's construction (App. A.4.1), nonzero labels only.

    Corrected: every eps > 0. Printed: the construction is flattest iff no c_i lies in
    (eps/2, eps] (a point with eps/2 < c_i < eps is put in the linear regime and pays 2 c_i/eps > 1;
    c_i = eps lands on the switch), i.e. eps outside the union of [c_i, 2 c_i); "sufficiently
    small" is eps < min_i c_i. Zero labels are left out: for them no eps helps (the verifier
    reports it separately).
    """
    form = Form.parse(form)
    c = _constants(X, y)
    c = np.sort(c[c > 0])
    paper = "eps 'sufficiently small' (no value given)"
    if form == "corrected" or c.size == 0:
        return EpsilonRange(_ALL, math.inf, False, "every eps > 0", paper)
    # Complement in (0, inf) of the union of the half-open intervals [c_i, 2 c_i).
    bad = []
    for ci in c:
        if bad and ci <= bad[-1][1]:
            bad[-1][1] = max(bad[-1][1], 2 * ci)
        else:
            bad.append([ci, 2 * ci])
    intervals = []
    lo, lo_closed = 0.0, False
    for a, b in bad:
        if a > lo:
            intervals.append((lo, lo_closed, float(a), False))
        lo, lo_closed = float(b), True
    intervals.append((lo, lo_closed, math.inf, False))
    return EpsilonRange(
        tuple(intervals),
        float(c[0]),
        False,
        f"eps < min_i ||x'_i|| |y_i| = {c[0]:.12g} (all points normalized); in general eps "
        "outside every [c_i, 2 c_i)",
        paper,
    )


def xor_epsilon_range(d: int, form: str = "corrected") -> EpsilonRange:
    """Admissible eps for Props. 5.1 and 5.2 on P_xor (App. A.4.2 and Eq. (18)).

    Printed: both constructions are in the normalized regime (||h|| = 2 eps) and pay 1 per point;
    the bound is min(1, 2 sqrt(d+1)/eps), so they are flattest iff eps <= 2 sqrt(d+1). The paper
    assumes eps < sqrt(d+1) (sufficient, not necessary). Corrected: every eps > 0 (linear regime
    beyond 2 sqrt(d+1)).
    """
    d = check_int("d", d, minimum=2)
    form = Form.parse(form)
    paper = f"eps < sqrt(d+1) = {math.sqrt(d + 1):.12g}"
    if form == "corrected":
        return EpsilonRange(_ALL, math.inf, False, "every eps > 0", paper)
    top = 2 * math.sqrt(d + 1)
    return EpsilonRange(
        ((0.0, False, top, True),), top, True, f"eps <= 2 sqrt(d+1) = {top:.12g}", paper
    )


# --------------------------------------------------------------------------------------------
# the registry entry (sharpness.registry): what the toolkit computes for 2-MLP-Sim-LN
# --------------------------------------------------------------------------------------------


def _relu_part(net):
    """The 2-MLP-Bias W2 relu(W1 x + b1): same hidden layer (Def. 4.2) and, since the
    denominator max{||h||, eps} is > 0, the same sign as f everywhere."""
    p = net.param_dict()
    return Network(MLP(2, bias=True), {k: p[k] for k in ("W1", "b1", "W2")}, net.dtype)


def _sim_ln_lower_bounds(net, X, y) -> tuple:
    return (sim_ln_lower_bound(X, y, net.arch.eps),)


OPS = register(
    ArchitectureOps(
        key="sim_ln",
        arch_type=SimLN,
        hessian_diagonal=sim_ln_hessian_diagonal,
        find_kinks=find_kinks_sim_ln,
        gradient_sq_norms=gradient_sq_norms,
        one_sided_traces=one_sided_traces_sim_ln,
        lower_bounds=_sim_ln_lower_bounds,
        cube_family=lambda arch: CubeFamily.SIM_LN,
        hidden_twin=_relu_part,
        sign_twin=_relu_part,
        training_head=lambda arch: TrainingHead.SIM_LN,
        f_diagonal_vanishes=lambda arch: False,
    )
)
