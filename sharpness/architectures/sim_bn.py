"""Exact sharpness of 2-MLP-Sim-BN: Hessian diagonal, kinks and Lemma A.3 (App. A.1).

The network (Section 2; :class:`constructions.SimBN`) is, with z_{ij} = W_{1,j} x_i + b_1[j],

.. math::
    f(x_i) = \\sum_j c_j\\, \\varphi_{ij}, \\qquad c_j = \\gamma_j W_2[j], \\qquad
    \\varphi_{ij} = \\frac{\\mathrm{relu}(z_{ij})}{a_j}, \\qquad
    a_j = \\Big(\\frac1n \\sum_{k=1}^n \\mathrm{relu}(z_{kj})^2\\Big)^{1/2},

and L = (1/n) sum_i (f(x_i) - y_i)^2. The statistics a_j couple all n training points, so the
loss Hessian with respect to the pre-activations is not block-diagonal across examples.

**Exact diagonal by autograd (:func:`hessian_diagonal_sim_bn_jvp`).** Column j of F_{ij} = c_j phi_{ij} depends only on the parameters
of neuron j (W_{1,j}, b_1[j], gamma_j, W_2[j]), and f = sum_j F_{:,j}. Hence for any parameter
theta_p of neuron j,

.. math::
    \\frac{\\partial^2 L}{\\partial \\theta_p^2}
    = \\frac2n \\sum_i \\Big(\\frac{\\partial F_{ij}}{\\partial \\theta_p}\\Big)^2
    + \\frac2n \\sum_i r_i \\frac{\\partial^2 F_{ij}}{\\partial \\theta_p^2},
    \\qquad r_i = f(x_i) - y_i .

A tangent that moves the *same slot* of every neuron at once (column b of W_1, or all of b_1,
gamma, W_2) therefore yields, in one forward-mode JVP of F, the first derivatives of every neuron
along its own parameter, and in one forward-over-forward JVP of sum_i r_i F_{ij} the second
derivatives, column by column. d + 3 probes give the whole diagonal; each costs a few forward
passes, O(n m d). Nothing is estimated: these are the true second derivatives (autograd), exactly
the entries of torch.func.hessian, against which the tests compare entry by entry.

**Lemma 4.1 holds here only at interpolation.** phi is homogeneous of degree 0 in
(W_{1,j}, b_1[j]) and not multilinear, so the diagonal of the Hessian of f does not vanish;
Tr(nabla^2 L) = (2/n) sum ||grad f(x_i)||^2 + (2/n) sum_i r_i Tr(nabla^2 f(x_i)).

**Closed form of (2/n) sum ||grad f(x_i)||^2 (ours).** With x'_i = (x_i, 1), D_j = diag(1[z_{:j} > 0])
and d phi_{ij} / d z_{kj} = (delta_{ik} 1[z_{kj} > 0] - phi_{ij} phi_{kj} / n) / a_j, summing the
squared entries over i and using sum_i phi_{ij}^2 = n for a live neuron,

.. math::
    \\frac2n \\sum_i \\|\\nabla_\\theta f(x_i)\\|^2 = \\sum_{j:\\,a_j>0} \\Big[\\, 2(W_2[j]^2 + \\gamma_j^2)
      + \\frac{2 c_j^2}{n a_j^2}\\Big(\\sum_i 1[z_{ij}>0]\\, \\|x'_i\\|^2
      - \\frac1n \\Big\\|\\sum_i \\varphi_{ij} x'_i\\Big\\|^2\\Big)\\Big].

The bracket is >= 0 by Cauchy-Schwarz and vanishes iff phi_{:j} x'^T is rank one on the active
set; it scales as 1/s^2 when (W_{1,j}, b_1[j]) is scaled by s. This is an independent formula
(no autograd) that the tests compare with the autograd route.

**Closed-form Hessian diagonal and trace (ours; issue 14, section 5).** Away from kinks relu is
linear near z, so with the per-neuron statistics (live neurons a_j > 0; M = 1[Z > 0])

.. math::
    u_j = \\frac1n \\sum_i \\varphi_{ij} x'_i, \\quad
    R_j = \\sum_i r_i\\, 1[z_{ij}>0]\\, x'_i, \\quad \\rho_j = \\sum_i r_i \\varphi_{ij}, \\quad
    S_{jb} = \\sum_i 1[z_{ij}>0]\\, x'^2_{ib},

one has da_j / dw_j = u_j (w_j = (W_{1,j}, b_1[j])),
d phi_{ij} / dw_{jb} = (1[z_{ij}>0] x'_{ib} - phi_{ij} u_{jb}) / a_j and
d^2 phi_{ij} / dw_{jb}^2 = (-2 1[z_{ij}>0] x'_{ib} u_{jb} + phi_{ij}(3 u_{jb}^2 - S_{jb}/n)) / a_j^2,
so every diagonal entry of nabla^2 L is

.. math::
    \\frac{\\partial^2 L}{\\partial w_{jb}^2} = \\frac{2}{n a_j^2}\\Big[c_j^2 (S_{jb} - n u_{jb}^2)
      + c_j\\big(-2 R_{jb} u_{jb} + \\rho_j (3 u_{jb}^2 - S_{jb}/n)\\big)\\Big], \\qquad
    \\frac{\\partial^2 L}{\\partial \\gamma_j^2} = 2 W_2[j]^2, \\qquad
    \\frac{\\partial^2 L}{\\partial W_2[j]^2} = 2 \\gamma_j^2 ,

(f is linear in gamma_j and in W_2[j] separately), and 0 for a dead neuron. Z = X' W^T,
U = Phi^T X' / n and R = (M o r)^T X' are three matrix products; the trace sums over b, where
S_j = M^T ||x'_i||^2 is a matrix-vector product: O(n m d) in all, against d + 3 vmapped JVP passes
of the autograd route. At interpolation (r = 0) it reduces to the gradient-sum formula above.
The tests compare it with the autograd route and with dense ``torch.func.hessian`` in float64.

**Lemma A.3, checked as printed.** Printed: Tr(nabla^2 L) >= ||W_2||^2 + ||gamma||^2 at
interpolation, with "Tr = (1/n) sum ||grad f||^2", and inf Tr = inf (||W_2||^2 + ||gamma||^2).
Since L = (1/n) sum (f - y)^2, the Hessian at interpolation is (2/n) sum grad f grad f^T (Lemma 4.1
has 2/n, which is right; the 1/n in the proof is a misprint). The gamma and W_2 diagonal entries
alone give (2/n) sum_i (W_2[j] phi_{ij})^2 = 2 W_2[j]^2 for a live neuron, so the correct bound is

.. math::
    \\mathrm{Tr}(\\nabla^2 L) \\ge 2 \\sum_{j:\\, a_j > 0} (W_2[j]^2 + \\gamma_j^2),

twice the printed one, and restricted to live neurons: a neuron dead on every training point
(a_j = 0) contributes nothing to f or to the Hessian, so the printed sum over all neurons fails
(a dead neuron with gamma_j = W_2[j] = 10 adds 200 to the printed right-hand side and 0 to the
trace). Under Condition 1, Lemma A.1 gives sum_{live} |c_j| >= 2, hence with AM-GM
Tr >= 4 ||gamma . W_2||_1 >= 8, and the scaled construction of Lemma A.1 reaches 8 + O(1/s^2):

.. math::  \\inf_{L(\\theta) = 0} \\mathrm{Tr}(\\nabla^2 L) = 8 = 2 \\inf_{L(\\theta)=0}(\\|W_2\\|^2 + \\|\\gamma\\|^2),

not inf (||W_2||^2 + ||gamma||^2) = 4 as printed. The infimum is not attained (the W_1 part is
> 0 at every finite scale whenever some neuron is active on two different points).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.func import jvp, vmap

from constructions._checks import as_tensor
from constructions.architectures import MLP, Network, SimBN
from constructions.tolerance import tolerance_for
from sharpness._rounding import bounded_forward
from sharpness.registry import ArchitectureOps, CubeFamily, Operation, TrainingHead, register
from sharpness.trace.kinks import Kink, KinkReport, NonDifferentiableError

__all__ = [
    "OPS",
    "INFIMUM_CONDITION_1",
    "LemmaA3Bound",
    "SimBNKinkReport",
    "find_kinks_sim_bn",
    "gradient_sq_norms_sim_bn",
    "gradient_sum_closed_form",
    "hessian_diagonal_sim_bn",
    "hessian_diagonal_sim_bn_jvp",
    "hessian_trace_sim_bn",
    "lemma41_trace_sim_bn",
    "lemma_a3_bound",
    "neuron_outputs",
]

#: inf of Tr(nabla^2 L) over interpolating 2-MLP-Sim-BN on a Condition-1 training set (labels
#: +-1): 4 * min ||gamma . W2||_1 = 4 * 2 (Lemma A.1 with Lemma A.3 corrected; module docstring).
INFIMUM_CONDITION_1 = 8.0


def _require_simbn(net) -> None:
    if not isinstance(net.arch, SimBN):
        raise ValueError(f"need a 2-MLP-Sim-BN network, got {net.arch.name}")


def _twice_differentiable_inputs(net, X, y, check_kinks: bool):
    """X and y as tensors of the net's dtype, after refusing (NonDifferentiableError) a point where
    the Hessian does not exist, unless ``check_kinks`` is False."""
    _require_simbn(net)
    X, y = _tensors(net, X, y)
    if check_kinks:
        report = find_kinks_sim_bn(net, X, y)
        if not report.twice_differentiable:
            raise NonDifferentiableError(report)
    return X, y


def _tensors(net, X, y=None):
    X = as_tensor(X, net.dtype)
    if X.ndim != 2 or X.shape[1] != net.d:
        raise ValueError(f"need X of shape (n, {net.d}), got {tuple(X.shape)}")
    if net.reference is not None and (
        net.reference.shape != X.shape or not torch.equal(net.reference.to(X.dtype), X)
    ):
        raise ValueError(
            "the network's reference batch differs from X: L is defined with the statistics of "
            "its own training inputs X; pass the training set as X (or a network without reference)"
        )
    if y is None:
        return X, None
    y = as_tensor(y, net.dtype)
    if y.shape != (X.shape[0],):
        raise ValueError(f"need y of shape ({X.shape[0]},), got {tuple(y.shape)}")
    return X, y


def neuron_outputs(params, X: torch.Tensor) -> torch.Tensor:
    """F[i, j] = gamma_j W2[j] relu(z_ij) / a_j, statistics over the rows of X; f = F.sum(1).

    A neuron with a_j = 0 contributes 0 (the convention of :class:`constructions.SimBN`). The
    square root is taken of a value that is 1 where a_j = 0, so no derivative is infinite there.
    """
    z = X @ params["W1"].T
    if "b1" in params:
        z = z + params["b1"]
    h = torch.relu(z)
    s = torch.mean(h * h, dim=0)
    alive = s > 0
    a = torch.sqrt(torch.where(alive, s, torch.ones_like(s)))
    c = params["gamma"] * params["W2"][0]
    return torch.where(alive, c * h / a, torch.zeros_like(h))


def _slot_tangents(params) -> tuple[list[str], dict]:
    """Stacked tangents: probe k moves one slot of every neuron by 1 (W1 column b, b1, gamma, W2)."""
    m, d = params["W1"].shape
    names = ["W1"] * d + (["b1"] if "b1" in params else []) + ["gamma", "W2"]
    P = len(names)
    dt = params["W1"].dtype
    out = {k: torch.zeros((P, *v.shape), dtype=dt) for k, v in params.items()}
    for k in range(d):
        out["W1"][k, :, k] = 1.0
    row = d
    if "b1" in params:
        out["b1"][row] = 1.0
        row += 1
    out["gamma"][row] = 1.0
    out["W2"][row + 1] = 1.0
    return names, out


def _first_and_second(params, X, weights: torch.Tensor | None):
    """For every probe: dF (n, m) and, if ``weights`` (n,) is given, d^2 (w . F) (m,)."""
    _, tangents = _slot_tangents(params)

    def F(p):
        return neuron_outputs(p, X)

    def first(t):
        return jvp(F, (params,), (t,))[1]

    dF = vmap(first)(tangents)
    if weights is None:
        return dF, None

    def weighted_dir(p, t):
        return jvp(lambda q: weights @ neuron_outputs(q, X), (p,), (t,))[1]

    def second(t):
        return jvp(lambda p: weighted_dir(p, t), (params,), (t,))[1]

    d2 = vmap(second)(tangents)
    return dF, d2


def _assemble(params, values: torch.Tensor) -> dict[str, torch.Tensor]:
    """Probe-major (P, m) values -> a dict shaped like the parameters."""
    m, d = params["W1"].shape
    out = {"W1": values[:d].T.contiguous()}
    row = d
    if "b1" in params:
        out["b1"] = values[row].clone()
        row += 1
    out["gamma"] = values[row].clone()
    out["W2"] = values[row + 1].reshape(1, m).clone()
    return out


def hessian_diagonal_sim_bn_jvp(net, X, y, *, check_kinks: bool = True) -> dict[str, torch.Tensor]:
    """The exact diagonal of nabla^2 L for 2-MLP-Sim-BN by d + 3 forward-mode probes (autograd).

    The route of the module docstring's "Exact diagonal": true second derivatives by JVPs, cost
    O((d + 3) n m) in d + 3 vmapped passes. :func:`hessian_diagonal_sim_bn` computes the same
    numbers by the closed form in a few matrix products; this one is kept as its independent
    check (tests) and as the "old path" of the benchmark.

    Args:
        net: a Sim-BN :class:`constructions.Network` (its ``reference``, if set, must equal X).
        X: training inputs (n, d).
        y: training labels (n,); need not be interpolated.
        check_kinks: refuse (NonDifferentiableError) where the Hessian does not exist.

    Raises:
        NonDifferentiableError: at a fatal kink or a fatal degenerate statistic a_j = 0.
        ValueError: for shapes that do not fit, or a reference batch other than X.
    """
    X, y = _twice_differentiable_inputs(net, X, y, check_kinks)
    params = net.param_dict()
    n = X.shape[0]
    r = (neuron_outputs(params, X).sum(dim=1) - y).detach()
    dF, d2 = _first_and_second(params, X, r)
    values = (2.0 / n) * (torch.sum(dF * dF, dim=1) + d2)
    diag = _assemble(params, values.detach())
    return {k: diag[k] for k in net.arch.param_names}


def _closed_form_terms(params, X, y):
    """The per-neuron statistics of the closed form (module docstring, "Closed-form trace"):
    Phi, active mask, a_j^2, c_j, U = Phi^T X' / n, R = (M o r)^T X', rho = Phi^T r, X', with
    r = Phi c - y (a dead neuron's column of Phi is 0, as in :func:`neuron_outputs`)."""
    n = X.shape[0]
    Xp = torch.cat([X, torch.ones(n, 1, dtype=X.dtype)], dim=1) if "b1" in params else X
    z = X @ params["W1"].T  # product 1: the forward pass
    if "b1" in params:
        z = z + params["b1"]
    h = torch.relu(z)
    s = torch.mean(h * h, dim=0)
    alive = s > 0
    s_safe = torch.where(alive, s, torch.ones_like(s))
    phi = h / torch.sqrt(s_safe)
    active = (z > 0).to(X.dtype)
    c = params["gamma"] * params["W2"][0]
    r = phi @ c - y
    U = (phi.T @ Xp) / n  # product 2
    R = (active * r[:, None]).T @ Xp  # product 3
    rho = phi.T @ r
    return phi, active, alive, s_safe, c, U, R, rho, Xp


def hessian_diagonal_sim_bn(net, X, y, *, check_kinks: bool = True) -> dict[str, torch.Tensor]:
    """The exact diagonal of nabla^2 L for 2-MLP-Sim-BN, shaped like the parameters, in closed
    form (module docstring, "Closed-form trace"): four matrix products, O(n m d), no autograd.

    The batch statistics are those of X (the training set that defines L). Equal, to rounding,
    to the autograd route :func:`hessian_diagonal_sim_bn_jvp` and to the dense
    ``torch.func.hessian`` (tests/sharpness/architectures/test_sim_bn_trace.py).

    Args:
        net: a Sim-BN :class:`constructions.Network` (its ``reference``, if set, must equal X).
        X: training inputs (n, d).
        y: training labels (n,); need not be interpolated.
        check_kinks: refuse (NonDifferentiableError) where the Hessian does not exist.

    Raises:
        NonDifferentiableError: at a fatal kink or a fatal degenerate statistic a_j = 0.
        ValueError: for shapes that do not fit, or a reference batch other than X.
    """
    X, y = _twice_differentiable_inputs(net, X, y, check_kinks)
    with torch.no_grad():
        params = net.param_dict()
        n = X.shape[0]
        phi, active, alive, s_safe, c, U, R, rho, Xp = _closed_form_terms(params, X, y)
        S = active.T @ (Xp * Xp)  # (m, d'): sum_i 1[z_ij > 0] x'_ib^2 (product 4)
        first = c[:, None] ** 2 * (S - n * U * U)
        second = c[:, None] * (-2.0 * R * U + rho[:, None] * (3.0 * U * U - S / n))
        w = (2.0 / n) * (first + second) / s_safe[:, None]
        w = torch.where(alive[:, None], w, torch.zeros_like(w))
        col_sq = torch.sum(phi * phi, dim=0)  # n for a live neuron, 0 for a dead one
        W2 = params["W2"][0]
        diag = {
            "W1": w[:, : X.shape[1]].contiguous(),
            "gamma": (2.0 / n) * W2 * W2 * col_sq,
            "W2": ((2.0 / n) * params["gamma"] ** 2 * col_sq).reshape(1, -1),
        }
        if "b1" in params:
            diag["b1"] = w[:, X.shape[1]].contiguous()
    return {k: diag[k] for k in net.arch.param_names}


def hessian_trace_sim_bn(net, X, y, *, check_kinks: bool = True) -> float:
    """Exact Tr(nabla^2 L) for 2-MLP-Sim-BN in closed form: three matrix products, O(n m d).

    The sum over coordinates of :func:`hessian_diagonal_sim_bn` (module docstring,
    "Closed-form trace"), where S_j = sum_i 1[z_ij > 0] ||x'_i||^2 is a matrix-vector product.

    Raises:
        NonDifferentiableError: at a fatal kink or a fatal degenerate statistic a_j = 0.
        ValueError: for shapes that do not fit, or a reference batch other than X.
    """
    X, y = _twice_differentiable_inputs(net, X, y, check_kinks)
    with torch.no_grad():
        params = net.param_dict()
        n = X.shape[0]
        phi, active, alive, s_safe, c, U, R, rho, Xp = _closed_form_terms(params, X, y)
        S = active.T @ torch.sum(Xp * Xp, dim=1)  # (m,)
        uu = torch.sum(U * U, dim=1)
        col_sq = torch.sum(phi * phi, dim=0)
        W2 = params["W2"][0]
        w = c * c * (S - n * uu) + c * (-2.0 * torch.sum(R * U, dim=1) + rho * (3.0 * uu - S / n))
        per = (2.0 / n) * (w / s_safe + (W2 * W2 + params["gamma"] ** 2) * col_sq)
        return float(torch.sum(torch.where(alive, per, torch.zeros_like(per)), dtype=torch.float64))


def _per_slot_sq(net, X) -> torch.Tensor:
    """(P, n, m) squared first derivatives dF^2 of every probe."""
    params = net.param_dict()
    dF, _ = _first_and_second(params, X, None)
    return dF * dF


def gradient_sq_norms_sim_bn(net, X) -> torch.Tensor:
    """||grad_theta f(x_i)||^2 for each training point, statistics over X (shape (n,)).

    (:func:`sharpness.gradient_sq_norms` evaluates f one example at a time, which for Sim-BN
    normalizes each x_i by its own statistics: use this function instead.)
    """
    _require_simbn(net)
    X, _ = _tensors(net, X)
    return _per_slot_sq(net, X).sum(dim=(0, 2)).detach()


def lemma41_trace_sim_bn(net, X) -> float:
    """(2/n) sum_i ||grad f(x_i)||^2 with training statistics: Tr(nabla^2 L) at interpolation."""
    sq = gradient_sq_norms_sim_bn(net, X)
    return float(2.0 / sq.shape[0] * torch.sum(sq))


def gradient_sum_closed_form(params, X, *, differentiable: bool = False):
    """(2/n) sum_i ||grad f(x_i)||^2 by the closed form of the module docstring (no autograd).

    Args:
        params: dict with W1, (b1,) gamma, W2 (tensors; batched leading dims are not supported).
        X: (n, d) training inputs.
        differentiable: return a tensor (for optimization) instead of a float.
    """
    z = X @ params["W1"].T
    ones = torch.ones(X.shape[0], 1, dtype=X.dtype)
    Xp = torch.cat([X, ones], dim=1) if "b1" in params else X
    if "b1" in params:
        z = z + params["b1"]
    n = X.shape[0]
    h = torch.relu(z)
    s = torch.mean(h * h, dim=0)
    alive = s > 0
    s_safe = torch.where(alive, s, torch.ones_like(s))
    phi = h / torch.sqrt(s_safe)
    c = params["gamma"] * params["W2"][0]
    active = (z > 0).to(X.dtype)
    norms = torch.sum(Xp * Xp, dim=1)
    g = phi.T @ Xp  # (m, d')
    bracket = active.T @ norms - torch.sum(g * g, dim=1) / n
    per = 2 * (params["W2"][0] ** 2 + params["gamma"] ** 2) + 2 * c * c / (n * s_safe) * bracket
    total = torch.sum(torch.where(alive, per, torch.zeros_like(per)))
    return total if differentiable else float(total)


# --- kinks ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SimBNKinkReport(KinkReport):
    """Kinks of a 2-MLP-Sim-BN, plus neurons whose statistic a_j is (numerically) 0.

    Attributes:
        degenerate: neurons with no certainly-positive pre-activation but some numerically-zero
            one: a_j may be 0 while an arbitrarily small change of theta switches the neuron on
            with phi = relu(z)/a of order 1 (phi is homogeneous of degree 0), so f jumps or bends
            there. Their kinks are classified by :func:`find_kinks_sim_bn`.
        dead: neurons with every pre-activation certainly negative: a_j = 0 on a whole
            neighbourhood, the neuron contributes 0 to f and to the Hessian (not a kink).
    """

    degenerate: tuple[int, ...] = ()
    dead: tuple[int, ...] = ()

    def summary(self, limit: int = 3) -> str:
        base = super().summary(limit)
        extra = []
        if self.degenerate:
            extra.append(
                f"{len(self.degenerate)} neuron(s) with a[j] = 0 at a kink (dead on the training "
                f"set but switched on by an arbitrarily small change: {list(self.degenerate[:limit])})"
            )
        if self.dead:
            extra.append(
                f"{len(self.dead)} neuron(s) dead on every training point (a[j] = 0, contributes 0)"
            )
        return "; ".join([base] + extra) if extra else base


def find_kinks_sim_bn(net, X, y=None) -> SimBNKinkReport:
    """ReLU kinks of a 2-MLP-Sim-BN at the training points, classified for the coupled statistics.

    A pre-activation z_ij is numerically zero when |z_ij| is within its rigorous rounding bound.
    Write c_j = gamma_j W2[j]. For a neuron with a_j > 0 (some pre-activation certainly > 0):
    f(x_i) depends on relu(z_ij) linearly (a first-derivative jump of slope c_j / a_j) and every
    other f(x_k) through a_j^2 = (1/n) sum relu(z)^2, which is C^1 in z_ij. Hence the kink is

    * fatal if c_j != 0 (f(x_i) has a kink along b_1[j]; the one-sided Hessians differ);
    * harmless if gamma_j = W2[j] = 0 (neuron j enters f at second order with a continuous
      coefficient);
    * otherwise (exactly one of gamma_j, W2[j] is 0) harmless iff x_i is interpolated: the
      non-quadratic second-order term of f(x_i) enters L multiplied by its residual.

    For a *degenerate* neuron (a_j numerically 0 with some z_ij numerically 0), a small change of
    theta switches it on with phi of order 1, so

    * c_j != 0: f is discontinuous in theta (fatal);
    * exactly one of gamma_j, W2[j] nonzero: f is not differentiable, and even at interpolation
      L's second-order term is not a quadratic form (fatal);
    * gamma_j = W2[j] = 0: harmless iff every point where z_ij is numerically zero is interpolated.

    Args:
        net: a Sim-BN network.
        X: training inputs (n, d) (they define the statistics).
        y: training labels; without them nothing counts as interpolated.
    """
    _require_simbn(net)
    X, y = _tensors(net, X, y)
    p = net.param_dict()
    mlp = MLP(2, bias=net.arch.bias)
    first = {k: p[k] for k in ("W1", "b1") if k in p}
    first["W2"] = torch.zeros(1, p["W1"].shape[0], dtype=net.dtype)
    bf = bounded_forward(mlp, first, X)
    z, err = bf.preacts[0], bf.preact_errors[0]
    n = z.shape[0]
    const_zero = torch.all(X == 0, dim=1) if not net.arch.bias else torch.zeros(n, dtype=torch.bool)
    numerically_zero = (z.abs() <= err) & ~const_zero[:, None]
    certainly_pos = z > err
    gamma, w2 = p["gamma"], p["W2"][0]
    kinks, degenerate = [], []
    # vectorized over neurons (a Python loop over m = 500 columns cost 10 ms per call); only the
    # columns with a numerically-zero pre-activation are visited one by one
    has_zero, live_any = torch.any(numerically_zero, dim=0), torch.any(certainly_pos, dim=0)
    interpolated = torch.zeros(n, dtype=torch.bool)
    if y is not None and bool(torch.any(has_zero)):  # needed only to classify a kink
        tol = tolerance_for(net.dtype)
        f = neuron_outputs(p, X).sum(dim=1)
        interpolated = (f - y).abs() <= tol.atol + tol.rtol * y.abs()
    dead = torch.nonzero(~live_any & ~has_zero).flatten().tolist()
    for j in torch.nonzero(has_zero).flatten().tolist():
        zeros_j = torch.nonzero(numerically_zero[:, j]).flatten().tolist()
        live = bool(live_any[j])
        g_nz, w_nz = bool(gamma[j] != 0), bool(w2[j] != 0)
        if not live:
            degenerate.append(j)
            if g_nz or w_nz:
                harmless_all = False
            else:
                harmless_all = all(bool(interpolated[i]) for i in zeros_j)
            for i in zeros_j:
                kinks.append(Kink(i, 1, j, float(z[i, j]), harmless_all))
            continue
        for i in zeros_j:
            if g_nz and w_nz:
                harmless = False
            elif not g_nz and not w_nz:
                harmless = True
            else:
                harmless = bool(interpolated[i])
            kinks.append(Kink(i, 1, j, float(z[i, j]), harmless))
    return SimBNKinkReport(tuple(kinks), tuple(degenerate), tuple(dead))


# --- Lemma A.3 -------------------------------------------------------------------------------


@dataclass(frozen=True)
class LemmaA3Bound:
    """Lemma A.3's lower bound on Tr(nabla^2 L) at an interpolating Sim-BN, printed and corrected.

    Attributes:
        printed: ||W2||^2 + ||gamma||^2 over all neurons (as printed).
        corrected: 2 sum_{j: a_j > 0} (W2[j]^2 + gamma_j^2) (2/n normalization, live neurons).
        l1: sum_{j: a_j > 0} |gamma_j W2[j]| (the quantity of Lemma A.1; corrected >= 4 * l1).
        live: indices of neurons with a_j > 0.
    """

    printed: float
    corrected: float
    l1: float
    live: tuple[int, ...]

    #: The protocol's bound interface: a bound of this network's trace, not an infimum.
    name = "Lemma A.3 (corrected): 2 sum_live (W2^2 + gamma^2)"
    attainable = False

    @property
    def trace(self) -> float:
        return self.corrected


def lemma_a3_bound(net, X) -> LemmaA3Bound:
    """Both forms of Lemma A.3's bound for ``net`` on training inputs X (see module docstring)."""
    _require_simbn(net)
    X, _ = _tensors(net, X)
    p = net.param_dict()
    z = X @ p["W1"].T + (p["b1"] if "b1" in p else 0.0)
    live = torch.any(z > 0, dim=0)
    g, w = p["gamma"], p["W2"][0]
    printed = float(torch.sum(w * w) + torch.sum(g * g))
    corrected = float(2 * torch.sum(torch.where(live, w * w + g * g, torch.zeros_like(g))))
    l1 = float(torch.sum(torch.where(live, (g * w).abs(), torch.zeros_like(g))))
    return LemmaA3Bound(printed, corrected, l1, tuple(torch.nonzero(live).flatten().tolist()))


# --------------------------------------------------------------------------------------------
# the registry entry (sharpness.registry): what the toolkit computes for 2-MLP-Sim-BN
# --------------------------------------------------------------------------------------------


def _relu_layer(net):
    """The 2-MLP with the same hidden ReLU layer relu(W1 x (+ b1)), for Definition 4.2."""
    p = net.param_dict()
    names = ("W1", "b1", "W2") if net.arch.bias else ("W1", "W2")
    return Network(MLP(2, bias=net.arch.bias), {k: p[k] for k in names}, net.dtype)


def _sim_bn_lower_bounds(net, X, y) -> tuple:
    return (lemma_a3_bound(net, X),)


OPS = register(
    ArchitectureOps(
        key="sim_bn",
        arch_type=SimBN,
        hessian_diagonal=hessian_diagonal_sim_bn,
        find_kinks=find_kinks_sim_bn,
        gradient_sq_norms=gradient_sq_norms_sim_bn,
        lower_bounds=_sim_bn_lower_bounds,
        cube_family=lambda arch: CubeFamily.SIM_BN,
        hidden_twin=_relu_layer,
        training_head=lambda arch: TrainingHead.SIM_BN,
        f_diagonal_vanishes=lambda arch: False,
        limits={
            Operation.ONE_SIDED: "the one-sided traces at a Sim-BN kink are not derived (the "
            "batch statistics couple every training point)",
        },
    )
)
