"""The two-layer convolutional ReLU network of Chen et al. (NeurIPS 2023), Sec. 3, and Kou et al.
(ICML 2023), Eq. (2.1):

.. math::
    f(W, x) = F_{+1}(W_{+1}, x) - F_{-1}(W_{-1}, x), \\qquad
    F_j(W_j, x) = \\frac1m \\sum_{r=1}^m \\sum_{p=1}^P \\sigma(\\langle w_{j,r}, x^{(p)} \\rangle),

with sigma = ReLU, or ReLU^q (Cao et al., 2022), and a fixed second layer. The filters are stored
as one matrix ``W1`` of shape (2m, d): rows 0..m-1 are w_{+1,r}, rows m..2m-1 are w_{-1,r}; an
optional bias ``b1`` (2m,) is Kou et al.'s ``Conv1d`` bias. Inputs are flat (n, P d), the patches
concatenated, as ``Conv1d(1, 2m, kernel_size=d, stride=d)`` reads them; (n, P, d) is accepted.

Deviations, each an option of :class:`SignalNoiseCNN` (for Kou et al.'s public code):
(1) ``patch_reduction=MEAN``: the mean over the patches instead of the sum;
(2) ``filter_scale=SUM``: the sum over the filters, without 1/m;
(3) ``bias=True``: a bias per filter.

Everything here is closed form and batched over a leading run axis R (one tensor op for many
independent networks, :mod:`sharpness.signal_noise`):

* the logistic (or MSE) loss and its gradient, with the per-(example, filter, patch) coefficient
  of each input patch in the gradient (the gamma/rho decomposition is read off it);
* the exact Hessian diagonal where the loss is twice differentiable: with J_i = df_i/dtheta and
  H_i = diag d^2 f_i/dtheta^2 (zero for ReLU off the kinks),
  diag nabla^2 L = (1/n) sum_i [l''_i J_i^2 + l'_i H_i];
* kinks: a pre-activation within its rounding bound of 0 at a training patch that is not zero
  (the unit is not identically dead) is reported, and the Hessian is refused there
  (:class:`sharpness.trace.kinks.NonDifferentiableError`), never differentiated through.

Registered as ``signal_noise_cnn``. The registry's Hessian diagonal is, as for every architecture,
that of the MSE loss L = (1/n) sum (f - y)^2; :func:`logistic_hessian_trace` is the trace of the
logistic loss the papers train.
"""

from __future__ import annotations

import enum
import types
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch

from sharpness._rounding import unit_roundoff
from sharpness.registry import ArchitectureOps, Operation, register
from sharpness.trace.kinks import Kink, KinkReport, NonDifferentiableError

__all__ = [
    "OPS",
    "FilterScale",
    "Loss",
    "PatchReduction",
    "SignalNoiseCNN",
    "SignalNoiseNetwork",
    "filter_signs",
    "find_cnn_kinks",
    "hessian_diagonal_cnn",
    "logistic_hessian_trace",
    "loss_and_gradient",
]


class PatchReduction(enum.StrEnum):
    SUM = "sum"  #: Chen et al., Kou et al. (paper): sum over the P patches
    MEAN = "mean"  #: Kou et al.'s code: mean over the patches


class FilterScale(enum.StrEnum):
    MEAN = "1/m"  #: the papers: (1/m) sum over the filters
    SUM = "sum"  #: Kou et al.'s code: sum, no 1/m


class Loss(enum.StrEnum):
    LOGISTIC = "logistic"  #: l(z) = log(1 + e^{-z}) on z = y f (= two-logit cross-entropy)
    MSE = "mse"  #: (f - y)^2, the loss of the toolkit's registry contract


@dataclass(frozen=True, kw_only=True)
class SignalNoiseCNN:
    """The architecture (module docstring). ``q`` is the power of ReLU^q (q = 1: ReLU)."""

    patches: int = 2
    q: int = 1
    bias: bool = False
    patch_reduction: PatchReduction = PatchReduction.SUM
    filter_scale: FilterScale = FilterScale.MEAN

    couples_examples = False

    def __post_init__(self) -> None:
        for name, lo in (("patches", 1), ("q", 1)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < lo:
                raise ValueError(f"{name} must be an integer >= {lo}, got {v!r}")
        if not isinstance(self.bias, bool):
            raise ValueError(f"bias must be True or False, got {self.bias!r}")
        object.__setattr__(self, "patch_reduction", PatchReduction(self.patch_reduction))
        object.__setattr__(self, "filter_scale", FilterScale(self.filter_scale))

    @property
    def activation(self) -> str:
        return "relu" if self.q == 1 else f"relu^{self.q}"

    @property
    def name(self) -> str:
        return f"signal-noise CNN ({self.activation}, P={self.patches})"

    @property
    def key(self) -> str:
        return "signal_noise_cnn"

    @property
    def param_names(self) -> tuple[str, ...]:
        return ("W1", "b1") if self.bias else ("W1",)

    def check_params(self, params: Mapping[str, torch.Tensor]) -> tuple[int, tuple[int, ...]]:
        """Validate names and shapes; return (input dimension P d, (2m,))."""
        if set(params) != set(self.param_names):
            raise ValueError(
                f"parameters for {self.name}: need {', '.join(self.param_names)}, "
                f"got {', '.join(sorted(params)) or 'none'}"
            )
        W = params["W1"]
        if W.ndim != 2 or W.shape[0] < 2 or W.shape[0] % 2:
            raise ValueError(f"W1 must have shape (2m, d) with m >= 1, got {tuple(W.shape)}")
        if self.bias and tuple(params["b1"].shape) != (W.shape[0],):
            raise ValueError(f"b1 must have shape ({W.shape[0]},), got {tuple(params['b1'].shape)}")
        for k in self.param_names:
            if not torch.isfinite(params[k]).all():
                raise ValueError(f"{k} has a non-finite entry")
        return self.patches * int(W.shape[1]), (int(W.shape[0]),)

    def scale(self, m: int) -> float:
        c = 1.0 / m if self.filter_scale is FilterScale.MEAN else 1.0
        return c / self.patches if self.patch_reduction is PatchReduction.MEAN else c

    def patched(self, X: torch.Tensor, d: int) -> torch.Tensor:
        """X as (..., n, P, d)."""
        if X.shape[-1] == d and X.ndim >= 3 and X.shape[-2] == self.patches:
            return X
        if X.shape[-1] != self.patches * d:
            raise ValueError(
                f"inputs must have P*d = {self.patches * d} columns or shape (n, P, d), "
                f"got {tuple(X.shape)}"
            )
        return X.reshape(*X.shape[:-1], self.patches, d)

    def sigma(self, z: torch.Tensor) -> torch.Tensor:
        r = torch.relu(z)
        return r if self.q == 1 else r**self.q

    def sigma_prime(self, z: torch.Tensor) -> torch.Tensor:
        if self.q == 1:
            return (z > 0).to(z.dtype)
        return self.q * torch.relu(z) ** (self.q - 1)

    def sigma_second(self, z: torch.Tensor) -> torch.Tensor:
        """sigma'' off the kinks (ReLU: 0)."""
        if self.q == 1:
            return torch.zeros_like(z)
        if self.q == 2:
            return 2.0 * (z > 0).to(z.dtype)
        return self.q * (self.q - 1) * torch.relu(z) ** (self.q - 2)

    def forward(self, params, X: torch.Tensor, reference=None) -> torch.Tensor:
        W = params["W1"]
        b = params.get("b1") if self.bias else None
        Xp = self.patched(X, W.shape[1])
        Z = torch.einsum("npk,fk->nfp", Xp, W)
        if b is not None:
            Z = Z + b[None, :, None]
        s = filter_signs(W.shape[0] // 2, W.dtype)
        return self.scale(W.shape[0] // 2) * torch.einsum("nfp,f->n", self.sigma(Z), s)


def filter_signs(m: int, dtype=torch.float64) -> torch.Tensor:
    """j for each filter row: +1 for rows 0..m-1, -1 for rows m..2m-1."""
    return torch.cat([torch.ones(m, dtype=dtype), -torch.ones(m, dtype=dtype)])


@dataclass(frozen=True, eq=False)
class SignalNoiseNetwork:
    """A :class:`SignalNoiseCNN` with concrete filters; ``d`` is the flat input size P d."""

    arch: SignalNoiseCNN
    params: Mapping[str, torch.Tensor]
    dtype: torch.dtype = torch.float64
    reference: None = None

    def __post_init__(self) -> None:
        conv = {k: torch.as_tensor(np.asarray(v) if not isinstance(v, torch.Tensor) else v)
                .detach().to(self.dtype).clone() for k, v in self.params.items()}  # fmt: skip
        self.arch.check_params(conv)
        object.__setattr__(self, "params", types.MappingProxyType(conv))

    @property
    def d(self) -> int:
        return self.arch.patches * self.patch_dim

    @property
    def patch_dim(self) -> int:
        return int(self.params["W1"].shape[1])

    @property
    def m(self) -> int:
        return int(self.params["W1"].shape[0]) // 2

    @property
    def widths(self) -> tuple[int, ...]:
        return (2 * self.m,)

    @property
    def num_params(self) -> int:
        return int(sum(p.numel() for p in self.params.values()))

    def __call__(self, X) -> torch.Tensor:
        return self.arch.forward(dict(self.params), torch.as_tensor(X, dtype=self.dtype))

    def param_dict(self) -> dict[str, torch.Tensor]:
        return dict(self.params)

    def numpy_params(self) -> dict[str, np.ndarray]:
        return {k: v.cpu().numpy().copy() for k, v in self.params.items()}

    def replace(self, **arrays) -> SignalNoiseNetwork:
        p = dict(self.params)
        p.update(arrays)
        return SignalNoiseNetwork(self.arch, p, self.dtype)


# --- batched closed forms (leading run axis R) ----------------------------------------------


def preactivations(W: torch.Tensor, b: torch.Tensor | None, Xp: torch.Tensor) -> torch.Tensor:
    """Z[r, i, f, p] = <w_{r,f}, x_{r,i}^(p)> (+ b_{r,f}); W (R, 2m, d), Xp (R, n, P, d)."""
    Z = torch.einsum("rnpk,rfk->rnfp", Xp, W)
    return Z if b is None else Z + b[:, None, :, None]


def _loss_derivatives(loss: Loss, f: torch.Tensor, y: torch.Tensor):
    """(L per run, dl/df, d^2l/df^2) per example."""
    if loss is Loss.LOGISTIC:
        margin = y * f
        value = torch.logaddexp(torch.zeros_like(margin), -margin).mean(-1)  # no threshold
        return value, -y * torch.sigmoid(-margin), torch.sigmoid(margin) * torch.sigmoid(-margin)
    r = f - y
    return (r**2).mean(-1), 2.0 * r, torch.full_like(f, 2.0)


@dataclass(frozen=True, kw_only=True, eq=False)
class LossGradient:
    """The loss of R networks, its gradient, and the coefficient of every input patch in it.

    ``coef[r, i, f, p]``: grad_{w_{r,f}} L = sum_{i,p} coef[r, i, f, p] x_{r,i}^(p).
    """

    loss: torch.Tensor
    f: torch.Tensor
    grad_W: torch.Tensor
    grad_b: torch.Tensor | None
    coef: torch.Tensor


def loss_and_gradient(
    arch: SignalNoiseCNN,
    W: torch.Tensor,
    b: torch.Tensor | None,
    Xp: torch.Tensor,
    y: torch.Tensor,
    loss: Loss = Loss.LOGISTIC,
) -> LossGradient:
    """L(W) = (1/n) sum_i l(x_i) for R networks at once, and its gradient in closed form.

    ReLU'(0) := 0 (PyTorch's convention); the gradient is the one autograd returns.
    """
    m = W.shape[1] // 2
    c = arch.scale(m)
    Z = preactivations(W, b, Xp)
    s = filter_signs(m, W.dtype)
    f = c * torch.einsum("rnfp,f->rn", arch.sigma(Z), s)
    value, d1, _ = _loss_derivatives(Loss(loss), f, y)
    n = y.shape[-1]
    coef = (c / n) * d1[:, :, None, None] * s[None, None, :, None] * arch.sigma_prime(Z)
    gW = torch.einsum("rnfp,rnpk->rfk", coef, Xp)
    gb = coef.sum(dim=(1, 3)) if b is not None else None
    return LossGradient(loss=value, f=f, grad_W=gW, grad_b=gb, coef=coef)


def _single(net: SignalNoiseNetwork, X):
    W = net.params["W1"][None]
    b = net.params["b1"][None] if net.arch.bias else None
    Xp = net.arch.patched(torch.as_tensor(X, dtype=net.dtype), net.patch_dim)[None]
    return W, b, Xp


def _hessian_diagonal(net: SignalNoiseNetwork, X, y, loss: Loss) -> dict[str, torch.Tensor]:
    arch = net.arch
    W, b, Xp = _single(net, X)
    y = torch.as_tensor(y, dtype=net.dtype)[None]
    m, n = net.m, y.shape[-1]
    c = arch.scale(m)
    s = filter_signs(m, net.dtype)
    Z = preactivations(W, b, Xp)
    f = c * torch.einsum("rnfp,f->rn", arch.sigma(Z), s)
    _, d1, d2 = _loss_derivatives(loss, f, y)
    J = c * s[None, None, :, None] * torch.einsum("rnfp,rnpk->rnfk", arch.sigma_prime(Z), Xp)
    H = c * s[None, None, :, None] * torch.einsum("rnfp,rnpk->rnfk", arch.sigma_second(Z), Xp**2)
    diag = {"W1": (torch.einsum("rn,rnfk->rfk", d2, J**2) + torch.einsum("rn,rnfk->rfk", d1, H))[0]}
    if arch.bias:
        Jb = c * s * arch.sigma_prime(Z).sum(-1)
        Hb = c * s * arch.sigma_second(Z).sum(-1)
        diag["b1"] = (torch.einsum("rn,rnf->rf", d2, Jb**2) + torch.einsum("rn,rnf->rf", d1, Hb))[0]
    return {k: v.detach() / n for k, v in diag.items()}


def find_cnn_kinks(net: SignalNoiseNetwork, X, y=None, *, loss: Loss = Loss.MSE) -> KinkReport:
    """Every (training point, filter, patch) whose pre-activation is within its rounding bound of
    0 (gamma_k u sum_k |w_k x_k| + |b|, k = d + 1 terms), for sigma = ReLU (f has a kink) and
    ReLU^2 (sigma'' jumps). A zero patch without a bias is not a kink (the unit is identically
    0 near theta). For ReLU^2 under the MSE loss, a kink at an interpolated point is harmless
    (L'' = 2 (f')^2 + 2 (f - y) f'' and f' is continuous); under the logistic loss l' != 0, so
    every kink is fatal. ReLU^q, q >= 3, is twice differentiable: no kinks.

    ``Kink.neuron`` is the filter row; ``Kink.layer`` is 1 + the patch index.
    """
    arch = net.arch
    if arch.q >= 3:
        return KinkReport(())
    W, b, Xp = _single(net, X)
    Z = preactivations(W, b, Xp)[0]
    k = net.patch_dim + 1
    u = unit_roundoff(net.dtype)
    gamma = k * u / (1 - k * u)
    mag = torch.einsum("npk,fk->nfp", Xp[0].abs(), W[0].abs())
    if b is not None:
        mag = mag + b[0].abs()[None, :, None]
    bound = 2 * gamma * mag + torch.finfo(net.dtype).tiny
    live = Xp[0].abs().amax(-1) > 0  # (n, P)
    if b is not None:
        live = torch.ones_like(live)
    hit = (Z.abs() <= bound) & live[:, None, :]
    interpolated = None
    if y is not None and arch.q == 2 and Loss(loss) is Loss.MSE:
        from constructions.tolerance import tolerance_for

        tol = tolerance_for(net.dtype)
        fx = net(X).detach()
        yy = torch.as_tensor(y, dtype=net.dtype)
        interpolated = [tol.close(float(a), float(e)) for a, e in zip(fx, yy, strict=True)]
    kinks = []
    for i, f, p in torch.nonzero(hit).tolist():
        harmless = bool(interpolated is not None and interpolated[i])
        kinks.append(Kink(point=i, layer=1 + p, neuron=f, preactivation=float(Z[i, f, p]),
                          harmless=harmless))  # fmt: skip
    return KinkReport(tuple(kinks))


def hessian_diagonal_cnn(net, X, y, *, check_kinks: bool = True, loss: Loss = Loss.MSE):
    """The exact diagonal of nabla^2 L for the chosen loss (module docstring).

    Raises:
        NonDifferentiableError: if a training point sits on a fatal kink (with ``check_kinks``).
    """
    loss = Loss(loss)
    if check_kinks:
        report = find_cnn_kinks(net, X, y, loss=loss)
        if not report.twice_differentiable:
            raise NonDifferentiableError(report)
    return _hessian_diagonal(net, X, y, loss)


def logistic_hessian_trace(net, X, y, *, check_kinks: bool = True) -> float:
    """Exact Tr(nabla^2 L) of the logistic loss (1/n) sum log(1 + exp(-y_i f(x_i))).

    Raises:
        NonDifferentiableError: at a fatal kink.
    """
    diag = hessian_diagonal_cnn(net, X, y, check_kinks=check_kinks, loss=Loss.LOGISTIC)
    return float(sum(torch.sum(v, dtype=torch.float64) for v in diag.values()))


def gradient_sq_norms_cnn(net, X) -> torch.Tensor:
    """||grad_theta f(x_i)||^2 per example, closed form (relu'(0) := 0)."""
    arch = net.arch
    W, b, Xp = _single(net, X)
    c = arch.scale(net.m)
    Sp = arch.sigma_prime(preactivations(W, b, Xp))[0]  # (n, F, P)
    J = c * torch.einsum("nfp,npk->nfk", Sp, Xp[0])  # the sign j drops out of the square
    out = (J**2).sum(dim=(1, 2))
    if arch.bias:
        out = out + (c * Sp.sum(-1)) ** 2 @ torch.ones(Sp.shape[1], dtype=net.dtype)
    return out.detach()


def _mse_hessian_diagonal(net, X, y, *, check_kinks: bool = True):
    return hessian_diagonal_cnn(net, X, y, check_kinks=check_kinks, loss=Loss.MSE)


OPS = register(
    ArchitectureOps(
        key="signal_noise_cnn",
        arch_type=SignalNoiseCNN,
        hessian_diagonal=_mse_hessian_diagonal,
        find_kinks=lambda net, X, y=None: find_cnn_kinks(net, X, y, loss=Loss.MSE),
        gradient_sq_norms=gradient_sq_norms_cnn,
        training_head=lambda arch: None,
        f_diagonal_vanishes=lambda arch: arch.q == 1,
        limits={
            Operation.LOWER_BOUND: "no lower bound over interpolators is derived for this CNN "
            "(the Jacobian bound of Eqs. (2)-(3) is for MLPs)",
            Operation.ONE_SIDED: "not implemented for the CNN",
            Operation.HYPERCUBE: "the CNN is trained on signal-noise data, not P_xor",
            Operation.MEMORIZATION: "Def. 4.2 is defined for MLPs",
            Operation.TRAINING: "trained by sharpness.signal_noise, not sharpness-train",
        },
    )
)
