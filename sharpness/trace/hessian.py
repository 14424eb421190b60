"""Exact Tr(nabla^2 L) by automatic differentiation, without any estimator.

L(theta) = (1/n) sum_i (f_theta(x_i) - y_i)^2 (Section 2, "Loss"). Write z_l = W_l a_{l-1} (+ b_1
for l = 1) for the pre-activations, a_0 = x, and ell_i = (f(x_i) - y_i)^2. Each weight W_l[a, b]
enters exactly one pre-activation, z_l[a], and enters it linearly with coefficient a_{l-1}[b], so

.. math::
    \\frac{\\partial^2 L}{\\partial W_l[a,b]^2}
        = \\frac1n \\sum_i a_{l-1,i}[b]^2 \\, \\frac{\\partial^2 \\ell_i}{\\partial z_{l,i}[a]^2},
    \\qquad
    \\frac{\\partial^2 L}{\\partial b_1[a]^2} = \\frac1n \\sum_i \\frac{\\partial^2 \\ell_i}{\\partial z_{1,i}[a]^2},
    \\qquad
    \\frac{\\partial^2 L}{\\partial W_D[0,b]^2} = \\frac2n \\sum_i a_{D-1,i}[b]^2 .

This is an identity, not an approximation. The diagonal second derivatives
h_{i,a} = d^2 ell_i / d z_{l,i}[a]^2 come from autograd Hessian-vector products of the loss as a
function of the pre-activations of layer l. Examples do not interact in these architectures, so
that Hessian is block-diagonal across examples and one HVP with the tangent "unit vector a in
every row" yields h_{:, a} for all n examples at once: m_l HVPs per hidden layer, instead of one
per parameter. Where the head is separable in z (the last hidden layer of an MLP, f = W_D sigma(z)),
h = 2 g^2 + 2 (f - y) (Hessian of f)_aa with the diagonal read off a single HVP along the all-ones
tangent.

The dense reference (:func:`sharpness.reference.dense_hessian_trace`, ``torch.func.hessian``) is
compared with this in the tests, entry by entry, in float64.

At a fatal ReLU kink the Hessian does not exist; :func:`hessian_trace` refuses
(:class:`~sharpness.trace.kinks.NonDifferentiableError`) unless ``check_kinks=False``.
"""

from __future__ import annotations

import torch
from torch.func import grad, jvp, vmap

from constructions._checks import as_tensor
from sharpness.registry import Operation, UnsupportedOperationError, ops_for
from sharpness.trace.kinks import NonDifferentiableError, find_kinks

__all__ = [
    "autograd_hessian_diagonal",
    "checked_autograd_hessian_diagonal",
    "hessian_diagonal",
    "hessian_trace",
    "one_sided_traces",
    "one_sided_traces_mlp",
]


def _as_tensors(net, X, y):
    X = as_tensor(X, net.dtype)
    y = as_tensor(y, net.dtype)
    if X.ndim != 2 or y.ndim != 1 or X.shape[0] != y.shape[0] or X.shape[1] != net.d:
        raise ValueError(
            f"need X of shape (n, {net.d}) and y of shape (n,), got {tuple(X.shape)} and {tuple(y.shape)}"
        )
    return X, y


def _preact_hessian_diag(arch, params, layer: int, z: torch.Tensor, y: torch.Tensor, chunk: int):
    """h[i, a] = d^2 (f_i - y_i)^2 / d z[i, a]^2 for the hidden layer ``layer`` (1-based)."""
    n, m = z.shape

    def loss_of_z(zz):
        return torch.sum((arch.head(layer, params, zz) - y) ** 2)

    if arch.head_separable(layer):
        # Separable head: f_i = sum_a W_D[a] sigma(z_ia).
        g = grad(lambda zz: torch.sum(arch.head(layer, params, zz)))(z)
        resid = (arch.head(layer, params, z) - y).detach()

        def weighted(zz):
            return torch.sum(resid * arch.head(layer, params, zz))

        _, diag_f = jvp(grad(weighted), (z,), (torch.ones_like(z),))
        return 2 * g**2 + 2 * diag_f

    g_loss = grad(loss_of_z)
    eye = torch.eye(m, dtype=z.dtype, device=z.device)

    def hvp_col(a_onehot):
        tangent = a_onehot.expand(n, m)
        return jvp(g_loss, (z,), (tangent,))[1] @ a_onehot

    out = torch.empty(n, m, dtype=z.dtype, device=z.device)
    for s in range(0, m, chunk):
        block = eye[s : s + chunk]
        out[:, s : s + block.shape[0]] = vmap(hvp_col)(block).T
    return out


def hessian_diagonal(net, X, y, *, check_kinks: bool = True) -> dict[str, torch.Tensor]:
    """The exact diagonal of nabla^2 L, as a dict shaped like the parameters.

    The architecture's own closed form, or its autograd path (:func:`sharpness.registry.ops_for`).

    Raises:
        NonDifferentiableError: if a training point sits on a fatal kink.
        UnsupportedOperationError: if the architecture declares no exact diagonal.
    """
    X, y = _as_tensors(net, X, y)
    diagonal = ops_for(net).require(Operation.HESSIAN_DIAGONAL, net.arch)
    return diagonal(net, X, y, check_kinks=check_kinks)


def checked_autograd_hessian_diagonal(net, X, y, *, check_kinks: bool = True):
    """:func:`autograd_hessian_diagonal` after the kink check: the generic exact diagonal that an
    architecture without a closed form registers (examples must not interact)."""
    if net.arch.couples_examples:
        raise UnsupportedOperationError(
            f"{net.arch.name} couples examples; register its exact diagonal"
        )
    if check_kinks:
        report = find_kinks(net, X, y)
        if not report.twice_differentiable:
            raise NonDifferentiableError(report)
    return autograd_hessian_diagonal(net, X, y)


def autograd_hessian_diagonal(net, X, y, *, chunk: int | None = None) -> dict[str, torch.Tensor]:
    """The generic path of :func:`hessian_diagonal`: one HVP per hidden unit w.r.t. the
    pre-activations, for any architecture whose examples do not interact. It bypasses the closed
    forms the architectures register (the benchmarks use it as their reference) and does not
    check kinks: call it only where L is twice differentiable."""
    X, y = _as_tensors(net, X, y)
    arch, params = net.arch, net.param_dict()
    n = X.shape[0]
    acts = arch.layer_inputs(params, X)
    zs = arch.preactivations(params, X)
    D = arch.depth
    diag = {f"W{D}": (2.0 / n) * torch.sum(acts[D - 1] ** 2, dim=0, keepdim=True)}
    for layer in range(1, D):
        z = zs[layer - 1]
        c = chunk or max(1, (1 << 21) // max(1, z.numel()))
        h = _preact_hessian_diag(arch, params, layer, z, y, c)
        diag[f"W{layer}"] = (h.T @ acts[layer - 1] ** 2) / n
        if layer == 1 and arch.bias:
            diag["b1"] = h.sum(dim=0) / n
    return {k: diag[k].detach() for k in arch.param_names}


def hessian_trace(net, X, y, *, check_kinks: bool = True) -> float:
    """Exact Tr(nabla^2 L(theta)) for the MSE loss (see the module docstring).

    Raises:
        NonDifferentiableError: if a training point sits on a fatal ReLU kink.
    """
    diag = hessian_diagonal(net, X, y, check_kinks=check_kinks)
    return float(sum(torch.sum(v, dtype=torch.float64) for v in diag.values()))


def one_sided_traces(net, X) -> tuple[float, float]:
    """The traces of the one-sided Hessians at a kink (relu'(0) := 0 and := 1), per architecture.

    Raises:
        UnsupportedOperationError: if the architecture declares none.
    """
    return ops_for(net).require(Operation.ONE_SIDED, net.arch)(net, X)


def one_sided_traces_mlp(net, X) -> tuple[float, float]:
    """(2/n) sum ||grad f||^2 with relu'(0) := 0 and with relu'(0) := 1 at numerically-zero units.

    For a ReLU MLP the diagonal of the Hessian of f vanishes wherever it exists, so these are the
    traces of the one-sided Hessians at a kink; they coincide when there is no fatal kink.
    """
    from sharpness._rounding import bounded_forward
    from sharpness.trace.lemma_4_1 import gradient_sq_norms_masked

    X = as_tensor(X, net.dtype)
    bf = bounded_forward(net.arch, net.param_dict(), X)
    lows = [(z > err) for z, err in zip(bf.preacts, bf.preact_errors, strict=True)]
    highs = [(z >= -err) for z, err in zip(bf.preacts, bf.preact_errors, strict=True)]
    n = X.shape[0]
    t0 = 2.0 / n * float(gradient_sq_norms_masked(net, X, lows).sum())
    t1 = 2.0 / n * float(gradient_sq_norms_masked(net, X, highs).sum())
    return t0, t1
