"""Sharpness-minimization algorithms of Section 2 and Appendix B: 1-SAM, SAM, GD/SGD, label-noise SGD.

One step on the examples B (a batch of indices into the training set) with loss
L_B(theta) = (1/|B|) sum_{k in B} ell(f_theta(x_k), y_k):

.. math::
    g &= \\nabla L_B(\\theta), \\qquad
    \\theta \\leftarrow (1 - \\eta\\lambda)\\,\\theta
        - \\eta\\, \\nabla L_B\\!\\Big(\\theta + \\rho\\, \\frac{g}{\\lVert g\\rVert}\\Big)
        &&\\text{(SAM; 1-SAM when } |B| = 1\\text{)}\\\\
    \\theta &\\leftarrow (1 - \\eta\\lambda)\\,\\theta - \\eta\\, \\nabla L_B(\\theta)
        &&\\text{(GD when } B = [n]\\text{, SGD otherwise; } \\rho = 0\\text{)}

with learning rate eta, perturbation radius rho and weight decay lambda (Table 2). Label-noise SGD
replaces y_k by y_k + xi, xi ~ N(0, sigma^2) drawn afresh at every step (Blanc et al., 2019;
Damian et al., 2021), with rho = 0.

Notes on choices the paper leaves open (numbered; the trainer documents the others):

1. Weight decay acts like PyTorch's ``SGD(weight_decay=lambda)``: lambda * theta is added to the
   gradient of the update, on every parameter (biases and gamma included), and does not enter the
   SAM perturbation (whose direction is the gradient of the loss alone, as in Foret et al.).
2. Where ||g|| = 0 exactly (an interpolated example for the MSE), the perturbation is taken as 0,
   the limit used by implementations that divide by ||g|| + 1e-12; no epsilon is added otherwise.
3. 2-MLP-Sim-BN normalizes every example, in every step, with the statistics of the whole
   training set {x_i}_{i in [n]} (the definition of Section 2), and gradients flow through those
   statistics: the step on example k touches every training point. (Batch statistics over a batch
   of one example would make SBN(x)[j] = gamma[j] sign, a different model.)
4. The logistic loss with label smoothing p (Appendix B.3) is
   ell(f, y) = -(1 - p) log sigmoid(y f) - p log sigmoid(-y f) for y in {-1, 1}, minimized at
   y f = gamma_p = ln((1 - p)/p) as Theorem A.2 states. Definition A.2 as printed,
   -p log(e^{ba}/(1 + e^a)) - (1 - p) log(e^{(1-b)a}/(1 + e^a)), puts the weight p on the true
   class and is minimized at a = -(2b - 1) gamma_p instead: p and 1 - p are swapped there.

Three implementations, compared step for step in the tests (float64):

* :func:`reference_step` -- plain ``torch.func.grad`` of the architecture's own forward pass,
  one run, nothing clever. The slow, obviously correct reference.
* :class:`TorchEngine` -- closed-form per-example forward/backward for the 2-layer architectures
  (MLP with or without bias, relu or softplus; Sim-LN; Sim-BN), any batch size, batched over R
  independent runs with ``bmm``; :class:`AutogradEngine` does the same with ``torch.func`` for
  any architecture (the 3-layer MLP of Figure 11).
* :class:`CEngine` -- batch size 1 on the non-coupled 2-layer architectures, in C: the shipped
  source ``sharpness/training/kernels/one_sam.c``, called with one struct of named arguments,
  compiled on first use with the system compiler and cached (:mod:`sharpness.training.kernels.
  one_sam` says why this build path; without a compiler the trainer uses :class:`TorchEngine`).
  A per-example gradient of a 2-layer network is rank one: with z = W1 x + b1 and delta = dL_k/dz,
  grad_{W1} L_k = delta x^T, grad_{b1} L_k = delta, so ||g||^2 = ||grad_{W2}||^2 + ||delta||^2
  (||x||^2 + 1), and the perturbed pre-activation is z' = z + c delta (||x||^2 + 1) with
  c = rho/||g||: the perturbed point needs O(m) work, not a second pass over W1. One step is one
  fused pass over W1 (the rank-one update W1 <- (1 - eta lambda) W1 - eta delta' x^T and the next
  example's pre-activations), in O(m d) flops. Its dot products sum in a fixed order of 32
  lanes and the pass goes over blocks of 32 neurons (issue 14: vector code, bits fixed by the
  source); the pass itself is the step's memory-bound limit (``one_sam_sweep_*``, measured in
  benchmarks/bench_training.py).
* :class:`SimBNEngine` -- batch size 1 on 2-MLP-Sim-BN, in C (``kernels/sim_bn.c``; issue 14).
  The step on example k needs the statistics s_j = sum_i relu(z_ij)^2 over all n points and
  their gradient, V_j = sum_i relu(z_ij) x'_i (x' = (x, 1), w_j = (W1[j], b1[j])):
  grad_{w_j} L_k = alpha_j x'_k + beta_j V_j with alpha_j = g c_j / a_j,
  beta_j = -g c_j z_kj / (n a_j^3), c_j = gamma_j W2[j], g = ell'(f_k, y_k), and only neurons
  active at x_k move. With neuron j's activation pattern over the training set fixed,
  V_j = C_j w_j and s_j = w_j . V_j where C_j = sum_{i active} x'_i x'_i^T: a (d+1)^2
  matrix-vector product per moved neuron instead of the dense O(n m d) forward and backward over
  every point (twice per 1-SAM step). C_j is kept with a certified radius (no z_ij can change sign
  within it, by Cauchy-Schwarz) and rebuilt when the pattern changes, so the result is the dense
  gradient's, to round-off; the tests compare it with :class:`TorchEngine` and
  :func:`reference_step` step for step.
"""

from __future__ import annotations

import ctypes
import math
import sys
from dataclasses import dataclass

import numpy as np
import torch
from torch.func import grad, vmap

from sharpness.registry import TrainingHead, ops_for
from sharpness.training.kernels import KernelUnavailableError, OneSamArgs, load_kernel
from sharpness.training.kernels.sim_bn import SimBNArgs

__all__ = [
    "AutogradEngine",
    "CEngine",
    "SimBNEngine",
    "KernelUnavailableError",
    "Loss",
    "StepRule",
    "TorchEngine",
    "engine_for",
    "load_kernel",
    "project_first_layer",
    "reference_step",
    "reference_train",
]


# --------------------------------------------------------------------------------------------
# Losses and step rules
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Loss:
    """The per-example training loss ell(f, y).

    Args:
        kind: "mse" (ell = (f - y)^2, Section 2) or "logistic" (with label smoothing, App. B.3;
            note 4 of the module docstring; labels must be +-1).
        smoothing: the label-smoothing probability p in [0, 1/2) of the logistic loss.
    """

    kind: str = "mse"
    smoothing: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in ("mse", "logistic"):
            raise ValueError(f"loss must be 'mse' or 'logistic', got {self.kind!r}")
        p = self.smoothing
        if not (isinstance(p, int | float) and math.isfinite(p) and 0 <= p < 0.5):
            raise ValueError(f"label smoothing must be a number in [0, 0.5), got {p!r}")
        if self.kind == "mse" and p != 0:
            raise ValueError(f"label smoothing applies to the logistic loss only, got {p!r}")

    @property
    def code(self) -> int:
        return 0 if self.kind == "mse" else 1

    def value(self, f: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.kind == "mse":
            return (f - y) ** 2
        p = self.smoothing
        return (1 - p) * torch.nn.functional.softplus(-y * f) + p * torch.nn.functional.softplus(
            y * f
        )

    def d1(self, f: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """d ell / d f."""
        if self.kind == "mse":
            return 2 * (f - y)
        return y * (torch.sigmoid(y * f) - (1 - self.smoothing))

    def d2(self, f: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """d^2 ell / d f^2 (labels +-1 for the logistic loss)."""
        if self.kind == "mse":
            return torch.full_like(f, 2.0)
        s = torch.sigmoid(y * f)
        return s * (1 - s)


def _check_number(name: str, v, *, positive: bool = False) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise ValueError(f"{name} must be a finite number, got {v!r}")
    v = float(v)
    if positive and v <= 0:
        raise ValueError(f"{name} must be > 0, got {v!r}")
    if not positive and v < 0:
        raise ValueError(f"{name} must be >= 0, got {v!r}")
    return v


@dataclass(frozen=True)
class StepRule:
    """Hyperparameters of one step (one row of Table 2, less the batch size and epochs).

    Args:
        lr: learning rate eta > 0.
        rho: SAM perturbation radius (0: plain gradient step).
        weight_decay: lambda >= 0 (note 1).
        label_noise: standard deviation sigma of the Gaussian label noise (0: none).
        loss: the training loss.
    """

    lr: float
    rho: float = 0.0
    weight_decay: float = 0.0
    label_noise: float = 0.0
    loss: Loss = Loss()

    def __post_init__(self) -> None:
        object.__setattr__(self, "lr", _check_number("lr", self.lr, positive=True))
        object.__setattr__(self, "rho", _check_number("rho", self.rho))
        object.__setattr__(self, "weight_decay", _check_number("weight_decay", self.weight_decay))
        object.__setattr__(self, "label_noise", _check_number("label_noise", self.label_noise))
        if self.label_noise > 0 and self.loss.kind != "mse":
            raise ValueError("label noise is defined for the MSE loss only")
        if self.label_noise > 0 and self.rho > 0:
            raise ValueError("label-noise SGD takes rho = 0 (no SAM perturbation)")


# --------------------------------------------------------------------------------------------
# The reference (plain torch.func)
# --------------------------------------------------------------------------------------------
def _batch_loss(arch, params, X, y, idx, loss: Loss, noise=None):
    """L_B(theta) = mean_{k in B} ell(f(x_k), y_k (+ noise)); Sim-BN normalizes with all of X."""
    Xb, yb = X[idx], y[idx]
    if noise is not None:
        yb = yb + noise
    f = arch.forward(params, Xb, X if arch.couples_examples else None)
    return torch.mean(loss.value(f, yb))


def project_first_layer(params: dict, norm: float) -> dict:
    """Rescale (W1, b1) jointly to Frobenius norm ``norm`` (the projected training of Fig. 6b)."""
    keys = [k for k in ("W1", "b1") if k in params]
    total = torch.sqrt(sum(torch.sum(params[k] ** 2) for k in keys))
    scale = norm / total
    out = dict(params)
    for k in keys:
        out[k] = params[k] * scale
    return out


def reference_step(
    arch,
    params: dict,
    X: torch.Tensor,
    y: torch.Tensor,
    idx,
    rule: StepRule,
    *,
    noise=None,
    projection: float | None = None,
) -> dict:
    """One step of SAM / SGD / GD / label-noise SGD by ``torch.func.grad`` (the reference).

    Args:
        arch: the architecture (any of :mod:`constructions.architectures`).
        params: dict of parameter tensors (unbatched).
        X, y: the whole training set (Sim-BN's statistics come from all of X; note 3).
        idx: indices of the batch B (a list or 1-D tensor).
        rule: the hyperparameters.
        noise: label noise added to y[idx] (label-noise SGD), or None.
        projection: rescale (W1, b1) to this norm after the step (Fig. 6b), or None.

    Returns:
        the new parameters (a new dict).
    """
    idx = torch.as_tensor(idx, dtype=torch.int64).reshape(-1)

    def L(p):
        return _batch_loss(arch, p, X, y, idx, rule.loss, noise)

    g = grad(L)(params)
    if rule.rho > 0:
        gnorm = torch.sqrt(sum(torch.sum(v**2) for v in g.values()))
        if float(gnorm) > 0:
            perturbed = {k: params[k] + rule.rho * g[k] / gnorm for k in params}
            g = grad(L)(perturbed)
    decay = 1 - rule.lr * rule.weight_decay
    new = {k: decay * params[k] - rule.lr * g[k] for k in params}
    if projection is not None:
        new = project_first_layer(new, projection)
    return new


def reference_train(arch, params, X, y, batches, rule, *, noises=None, projection=None) -> dict:
    """Apply :func:`reference_step` for each batch of index lists in order (tests only)."""
    for t, b in enumerate(batches):
        noise = None if noises is None else torch.as_tensor(noises[t], dtype=X.dtype)
        params = reference_step(arch, params, X, y, b, rule, noise=noise, projection=projection)
    return params


# --------------------------------------------------------------------------------------------
# Closed-form engine in torch, batched over runs
# --------------------------------------------------------------------------------------------
def training_head(arch) -> TrainingHead | None:
    """The closed-form gradient the registry declares for ``arch`` (None: autograd only)."""
    ops = ops_for(arch)
    return ops.training_head(arch) if ops.training_head is not None else None


def _act(name):
    if name == "relu":
        return torch.relu, lambda z: (z > 0).to(z.dtype)
    return (lambda z: torch.logaddexp(z, torch.zeros_like(z))), torch.sigmoid


class TorchEngine:
    """Closed-form forward/backward for the 2-layer architectures, batched over R runs.

    Parameters are dicts of tensors with a leading run dimension R, updated in place:
    W1 (R, m, d), b1 (R, m), W2 (R, 1, m), gamma (R, m) (Sim-BN).

    Args:
        arch: a depth-2 :class:`MLP`, :class:`SimLN` or :class:`SimBN`.
    """

    def __init__(self, arch):
        self.head = training_head(arch)
        if self.head is None:
            if arch.depth != 2:
                raise ValueError("TorchEngine handles 2-layer networks; use AutogradEngine")
            raise ValueError(f"no closed form for {arch!r}")
        self.arch = arch
        self.sigma, self.dsigma = _act(arch.activation)

    def grads(
        self, P: dict, X: torch.Tensor, y: torch.Tensor, idx: torch.Tensor, loss: Loss, noise
    ):
        """Gradient of L_B for each run: (dict of grads shaped like P, ||g||^2 of shape (R,)).

        X (R, n, d), y (R, n), idx (R, B) int64, noise (R, B) or None.
        """
        arch = self.arch
        R, B = idx.shape
        bias = "b1" in P
        W1, W2 = P["W1"], P["W2"][:, 0, :]
        Xb = torch.gather(X, 1, idx[:, :, None].expand(R, B, X.shape[2]))
        yb = torch.gather(y, 1, idx)
        if noise is not None:
            yb = yb + noise
        out = {}
        if self.head is TrainingHead.SIM_BN:
            Z = torch.bmm(X, W1.transpose(1, 2))  # (R, n, m)
            if bias:
                Z = Z + P["b1"][:, None, :]
            H = torch.relu(Z)
            n = X.shape[1]
            a = torch.sqrt(torch.mean(H * H, dim=1))  # (R, m)
            alive = a > 0
            safe = torch.where(alive, a, torch.ones_like(a))
            gam = P["gamma"]
            coef = torch.where(alive, gam / safe, torch.zeros_like(a))  # gamma / a
            Hb = torch.gather(H, 1, idx[:, :, None].expand(R, B, H.shape[2]))  # (R, B, m)
            S = Hb * coef[:, None, :]
            f = torch.einsum("rbm,rm->rb", S, W2)
            g = loss.d1(f, yb) / B  # (R, B)
            out["W2"] = torch.einsum("rb,rbm->rm", g, S)[:, None, :]
            out["gamma"] = torch.where(
                alive, torch.einsum("rb,rbm->rm", g, Hb) * W2 / safe, torch.zeros_like(a)
            )
            c = W2 * coef  # (R, m): W2 gamma / a
            G = torch.zeros(R, n, dtype=X.dtype, device=X.device)
            G.scatter_add_(1, idx, g)  # g at each training point
            q = torch.einsum("rb,rbm->rm", g, Hb)  # sum_b g_b H_bj
            denom = n * safe * safe
            dH = c[:, None, :] * (G[:, :, None] - H * (q / denom)[:, None, :])
            dZ = dH * (Z > 0).to(Z.dtype)
            out["W1"] = torch.bmm(dZ.transpose(1, 2), X)
            if bias:
                out["b1"] = dZ.sum(dim=1)
        else:
            Z = torch.bmm(Xb, W1.transpose(1, 2))  # (R, B, m)
            if bias:
                Z = Z + P["b1"][:, None, :]
            H = self.sigma(Z)
            S = self.dsigma(Z)
            if self.head is TrainingHead.SIM_LN:
                nrm = torch.linalg.vector_norm(H, dim=2, keepdim=True)
                den = torch.clamp(nrm, min=arch.eps)
                U = H / den
                f = torch.einsum("rbm,rm->rb", U, W2)
                g = loss.d1(f, yb) / B
                out["W2"] = torch.einsum("rb,rbm->rm", g, U)[:, None, :]
                wu = torch.einsum("rbm,rm->rb", U, W2)[:, :, None]
                proj = (nrm > arch.eps).to(H.dtype)
                dH = g[:, :, None] * (W2[:, None, :] - proj * wu * U) / den
                dZ = dH * S
            else:
                f = torch.einsum("rbm,rm->rb", H, W2)
                g = loss.d1(f, yb) / B
                out["W2"] = torch.einsum("rb,rbm->rm", g, H)[:, None, :]
                dZ = g[:, :, None] * W2[:, None, :] * S
            out["W1"] = torch.bmm(dZ.transpose(1, 2), Xb)
            if bias:
                out["b1"] = dZ.sum(dim=1)
        sq = sum(torch.sum(v.reshape(R, -1) ** 2, dim=1) for v in out.values())
        return {k: out[k] for k in P}, sq

    def step(self, P, X, y, idx, rule: StepRule, noise=None, projection=None) -> None:
        """One step of every run, in place."""
        g, sq = self.grads(P, X, y, idx, rule.loss, noise)
        if rule.rho > 0:
            norm = torch.sqrt(sq)
            c = torch.where(norm > 0, rule.rho / torch.where(norm > 0, norm, 1), 0)
            Pp = {k: v + _bcast(c, v) * g[k] for k, v in P.items()}
            g, _ = self.grads(Pp, X, y, idx, rule.loss, noise)
        decay = 1 - rule.lr * rule.weight_decay
        for k, v in P.items():
            if decay != 1:
                v.mul_(decay)
            v.sub_(rule.lr * g[k])
        if projection is not None:
            _project_batched(P, projection)

    def run(self, P, X, y, idx, rule: StepRule, noise=None, projection=None) -> None:
        """Steps t = 0..T-1 with batches idx[t] (T, R, B) and noise[t] (T, R, B) or None."""
        for t in range(idx.shape[0]):
            self.step(P, X, y, idx[t], rule, None if noise is None else noise[t], projection)


def _bcast(c: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    return c.reshape((-1,) + (1,) * (v.ndim - 1))


def _project_batched(P: dict, norm: float) -> None:
    keys = [k for k in ("W1", "b1") if k in P]
    R = P["W1"].shape[0]
    total = torch.sqrt(sum(torch.sum(P[k].reshape(R, -1) ** 2, dim=1) for k in keys))
    scale = norm / total
    for k in keys:
        P[k].mul_(_bcast(scale, P[k]))


class AutogradEngine(TorchEngine):
    """Any architecture (e.g. the 3-layer MLP of Fig. 11): ``torch.func.grad`` vmapped over runs."""

    def __init__(self, arch):
        self.arch = arch

    def grads(self, P, X, y, idx, loss, noise):
        arch = self.arch

        def one(params, Xr, yr, ir, nr):
            return grad(lambda p: _batch_loss(arch, p, Xr, yr, ir, loss, nr))(params)

        if noise is None:
            g = vmap(lambda p, Xr, yr, ir: one(p, Xr, yr, ir, None))(P, X, y, idx)
        else:
            g = vmap(one)(P, X, y, idx, noise)
        R = idx.shape[0]
        sq = sum(torch.sum(v.reshape(R, -1) ** 2, dim=1) for v in g.values())
        return g, sq


# --------------------------------------------------------------------------------------------
# The C kernel (batch size 1, non-coupled 2-layer networks)
# --------------------------------------------------------------------------------------------
def _order_array(order, R: int, n: int) -> np.ndarray:
    """The (R, T) example order as C-contiguous int32, checked: every entry in [0, n)."""
    order = np.ascontiguousarray(np.asarray(order, dtype=np.int32))
    T = order.shape[1] if order.ndim == 2 else -1
    if order.shape != (R, T) or (T and (order.min() < 0 or order.max() >= n)):
        raise ValueError(f"order must have shape ({R}, T) with entries in [0, {n})")
    return order


def _ptr(a: np.ndarray | None) -> int | None:
    """The address of a C-contiguous array, for a ``void *`` field of the kernel's struct."""
    return None if a is None else a.ctypes.data


class CEngine:
    """1-SAM / SGD / label-noise SGD with batch size 1 on 2-layer MLPs and Sim-LN, in C.

    Same parameter layout as :class:`TorchEngine` (tensors with a leading run dimension,
    updated in place). Runs are independent: R runs in one call give the same numbers as R
    separate calls, and ``threads`` spreads them over cores (OpenMP). ``fused=False`` runs a
    ReLU MLP through the kernel's general forward/backward instead of its fused step (the same
    operations in the same order: the tests compare the two bit for bit).

    Raises:
        KernelUnavailableError: if the kernel cannot be built.
        ValueError: for an architecture it does not handle (depth > 2 or Sim-BN).
    """

    def __init__(self, arch, threads: int = 1, *, fused: bool = True):
        head = training_head(arch)
        if head is TrainingHead.SIM_BN or arch.couples_examples:
            raise ValueError("CEngine handles architectures whose examples do not interact")
        if head not in (TrainingHead.LINEAR, TrainingHead.SIM_LN):
            raise ValueError(f"CEngine handles 2-layer MLPs and Sim-LN, got {arch!r}")
        self.arch = arch
        self.threads = max(1, int(threads))
        self.fused = bool(fused)
        self.kernel = load_kernel()

    def run(self, P, X, y, order, rule: StepRule, noise=None, projection=None) -> None:
        """Run T steps: order (R, T) example indices, noise (R, T) or None; P updated in place."""
        arch = self.arch
        W1 = P["W1"]
        dtype = W1.dtype
        if dtype not in (torch.float64, torch.float32):
            raise ValueError(f"CEngine needs float64 or float32 parameters, got {dtype}")
        R, m, d = W1.shape
        n = X.shape[1]
        order = _order_array(order, R, n)
        T = order.shape[1]
        npdt = np.float64 if dtype == torch.float64 else np.float32
        W1T = np.ascontiguousarray(W1.detach().numpy().transpose(0, 2, 1))
        b1 = np.ascontiguousarray(P["b1"].detach().numpy()) if "b1" in P else None
        W2 = np.ascontiguousarray(P["W2"].detach().numpy()[:, 0, :])
        Xn = np.ascontiguousarray(X.detach().numpy(), dtype=npdt)
        yn = np.ascontiguousarray(y.detach().numpy(), dtype=npdt)
        nz = None
        if noise is not None:
            nz = np.ascontiguousarray(np.asarray(noise, dtype=npdt))
            if nz.shape != (R, T):
                raise ValueError(f"noise must have shape ({R}, {T})")
        work = np.empty(R * 9 * m, dtype=npdt)
        fn = self.kernel.f64 if dtype == torch.float64 else self.kernel.f32
        sim_ln = training_head(arch) is TrainingHead.SIM_LN
        head = 1 if sim_ln else 0
        eps = arch.eps if sim_ln else 0.0
        act = 0 if arch.activation == "relu" else 1
        args = OneSamArgs.of(
            runs=R,
            width=m,
            dim=d,
            n=n,
            steps=T,
            W1T=_ptr(W1T),
            b1=_ptr(b1),
            W2=_ptr(W2),
            X=_ptr(Xn),
            y=_ptr(yn),
            order=_ptr(order),
            noise=_ptr(nz),
            work=_ptr(work),
            lr=rule.lr,
            rho=rule.rho,
            weight_decay=rule.weight_decay,
            eps=eps,
            smoothing=rule.loss.smoothing,
            projection=-1.0 if projection is None else float(projection),
            activation=act,
            head=head,
            loss=rule.loss.code,
            general=0 if self.fused else 1,
            threads=min(self.threads, R),
        )
        fn(ctypes.byref(args))
        with torch.no_grad():
            W1.copy_(torch.from_numpy(W1T.transpose(0, 2, 1)))
            if b1 is not None:
                P["b1"].copy_(torch.from_numpy(b1))
            P["W2"][:, 0, :].copy_(torch.from_numpy(W2))


class SimBNEngine:
    """1-SAM / SGD with batch size 1 on 2-MLP-Sim-BN, in C (the module docstring's last entry).

    Same interface as :class:`CEngine` (parameters with a leading run dimension, updated in
    place; ``run`` takes the (R, T) example order). ``counters`` accumulates, per run, how many
    neuron updates stayed inside their certified radius, were rechecked over the training set,
    changed their activation pattern, and rebuilt their C_j.

    Raises:
        KernelUnavailableError: if the kernel cannot be built.
        ValueError: for an architecture other than 2-MLP-Sim-BN.
    """

    def __init__(self, arch, threads: int = 1):
        if training_head(arch) is not TrainingHead.SIM_BN:
            raise ValueError(f"SimBNEngine handles 2-MLP-Sim-BN, got {arch!r}")
        from sharpness.training.kernels.sim_bn import load_sim_bn_kernel

        self.arch = arch
        self.threads = max(1, int(threads))
        self.kernel = load_sim_bn_kernel()
        self.counters = np.zeros(4, dtype=np.int64)

    def run(self, P, X, y, order, rule: StepRule, noise=None, projection=None) -> None:
        """Run T steps: order (R, T) example indices, noise (R, T) or None; P updated in place."""
        W1 = P["W1"]
        if W1.dtype != torch.float64:
            raise ValueError(f"SimBNEngine needs float64 parameters, got {W1.dtype}")
        R, m, d = W1.shape
        n = X.shape[1]
        bias = "b1" in P
        D = d + (1 if bias else 0)
        dp = -(-D // 32) * 32
        order = _order_array(order, R, n)
        T = order.shape[1]
        W = np.zeros((R, m, dp))
        W[:, :, :d] = W1.detach().numpy()
        Xp = np.zeros((R, n, dp))
        Xp[:, :, :d] = X.detach().numpy()
        if bias:
            W[:, :, d] = P["b1"].detach().numpy()
            Xp[:, :, d] = 1.0
        W2 = np.ascontiguousarray(P["W2"].detach().numpy()[:, 0, :], dtype=np.float64)
        gam = np.ascontiguousarray(P["gamma"].detach().numpy(), dtype=np.float64)
        yn = np.ascontiguousarray(y.detach().numpy(), dtype=np.float64)
        nz = None
        if noise is not None:
            nz = np.ascontiguousarray(np.asarray(noise, dtype=np.float64))
            if nz.shape != (R, T):
                raise ValueError(f"noise must have shape ({R}, {T})")
        counters = np.zeros((R, 4), dtype=np.int64)
        # integer inputs (the hypercube): every C_j entry is an integer of at most n max|x'|^2,
        # exact in float64 below 2^53, so a changed pattern updates C_j by exact rank-one terms
        # (mode 1), and stored as int8 when its entries fit (mode 2: the matrices stay in L2)
        bound = n * float(np.max(np.abs(Xp), initial=0.0)) ** 2
        exact = 0
        if np.all(Xp == np.round(Xp)) and bound < 2.0**52:
            exact = 2 if bound <= 127 else 1
        args = SimBNArgs.of(
            runs=R,
            width=m,
            dim=D,
            dp=dp,
            n=n,
            steps=T,
            W=_ptr(W),
            W2=_ptr(W2),
            gamma=_ptr(gam),
            X=_ptr(Xp),
            y=_ptr(yn),
            order=_ptr(order),
            noise=_ptr(nz),
            counters=_ptr(counters),
            lr=rule.lr,
            rho=rule.rho,
            weight_decay=rule.weight_decay,
            smoothing=rule.loss.smoothing,
            projection=-1.0 if projection is None else float(projection),
            loss=rule.loss.code,
            exact_updates=exact,
            threads=min(self.threads, R),
        )
        if self.kernel.f64(ctypes.byref(args)) != 0:
            raise MemoryError(f"SimBNEngine: no memory for {R} runs of width {m}")
        self.counters += counters.sum(axis=0)
        with torch.no_grad():
            W1.copy_(torch.from_numpy(np.ascontiguousarray(W[:, :, :d])))
            if bias:
                P["b1"].copy_(torch.from_numpy(np.ascontiguousarray(W[:, :, d])))
            P["W2"][:, 0, :].copy_(torch.from_numpy(W2))
            P["gamma"].copy_(torch.from_numpy(gam))


def engine_for(
    arch, batch_size: int, backend: str = "auto", threads: int = 1, dtype: str = "float64"
):
    """The fastest engine for this architecture, batch size and parameter dtype.

    backend: "auto" (C for batch size 1 where it applies and a compiler exists, else torch),
    "c", "torch" (closed form) or "autograd" (torch.func, any architecture). The C engines are
    :class:`CEngine` (non-coupled architectures, float64 or float32) and :class:`SimBNEngine`
    (2-MLP-Sim-BN, float64).
    """
    if backend not in ("auto", "c", "torch", "autograd"):
        raise ValueError(f"backend must be auto, c, torch or autograd, got {backend!r}")
    two_layer = training_head(arch) is not None
    if backend == "autograd" or not two_layer:
        if backend in ("c", "torch") and not two_layer:
            raise ValueError(f"backend {backend!r} handles 2-layer networks only")
        return AutogradEngine(arch)
    if backend == "torch":
        return TorchEngine(arch)
    sim_bn = training_head(arch) is TrainingHead.SIM_BN
    c_ok = batch_size == 1 and (not arch.couples_examples or (sim_bn and dtype == "float64"))
    make = (lambda: SimBNEngine(arch, threads)) if sim_bn else (lambda: CEngine(arch, threads))
    if backend == "c":
        if not c_ok:
            raise ValueError(
                "the C backend needs batch size 1, and a non-coupled architecture or "
                "2-MLP-Sim-BN in float64"
            )
        return make()
    if c_ok:
        try:
            return make()
        except KernelUnavailableError as exc:
            print(f"note: C kernel unavailable ({exc}); using the torch engine", file=sys.stderr)
    return TorchEngine(arch)
