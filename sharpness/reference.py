"""Slow, obviously correct references that the fast paths are tested against (float64).

Nothing here is clever: dense Hessians from ``torch.func.hessian`` on the flattened parameters,
per-example gradients one ``torch.autograd.grad`` call at a time, and a plain loop over the
hypercube that counts y f(x) <= 0 in floating point.
"""

from __future__ import annotations

import torch

from constructions._checks import as_tensor
from constructions.hypercube import iter_hypercube

__all__ = [
    "dense_hessian",
    "dense_hessian_trace",
    "naive_gradient_sq_norms",
    "naive_hypercube_error",
]


def _flat_loss(net, X, y):
    names = net.arch.param_names
    shapes = [net.params[k].shape for k in names]
    sizes = [net.params[k].numel() for k in names]

    def loss(flat):
        params, s = {}, 0
        for k, shape, size in zip(names, shapes, sizes, strict=True):
            params[k] = flat[s : s + size].reshape(shape)
            s += size
        return torch.mean((net.arch.forward(params, X) - y) ** 2)

    flat = torch.cat([net.params[k].reshape(-1) for k in names])
    return loss, flat


def dense_hessian(net, X, y) -> torch.Tensor:
    """The full P x P Hessian of L = mean (f - y)^2 in the parameter order of the architecture."""
    X = as_tensor(X, net.dtype)
    y = as_tensor(y, net.dtype)
    loss, flat = _flat_loss(net, X, y)
    return torch.func.hessian(loss)(flat).detach()


def dense_hessian_trace(net, X, y) -> float:
    return float(torch.trace(dense_hessian(net, X, y)))


def naive_gradient_sq_norms(net, X) -> torch.Tensor:
    """||grad_theta f(x_i)||^2 by one backward pass per example."""
    X = as_tensor(X, net.dtype)
    out = []
    for i in range(X.shape[0]):
        params = {k: v.clone().requires_grad_(True) for k, v in net.params.items()}
        f = net.arch.forward(params, X[i : i + 1])[0]
        grads = torch.autograd.grad(f, list(params.values()), allow_unused=True)
        out.append(sum(float((g**2).sum()) for g in grads if g is not None))
    return torch.tensor(out, dtype=torch.float64)


def naive_hypercube_error(net, chunk_size: int = 4096) -> tuple[int, float]:
    """(number of x with y f(x) <= 0, MSE) over {-1,1}^d by plain float evaluation."""
    mistakes, sse, total = 0, 0.0, 0
    for _, X in iter_hypercube(net.d, chunk_size, dtype=net.dtype):
        y = X[:, 0] * X[:, 1]
        f = net(X)
        mistakes += int(torch.sum(y * f <= 0))
        sse += float(torch.sum((f - y) ** 2))
        total += X.shape[0]
    return mistakes, sse / total
