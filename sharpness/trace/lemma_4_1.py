"""Lemma 4.1: at an interpolating, twice-differentiable theta,

.. math::  \\mathrm{Tr}(\\nabla^2 L(\\theta)) = \\frac{2}{n} \\sum_{i=1}^n \\|\\nabla_\\theta f_\\theta(x_i)\\|_2^2 .

The general identity is Tr(nabla^2 L) = (2/n) sum_i ||grad f_i||^2 + (2/n) sum_i (f_i - y_i)
Tr(nabla^2_theta f_i). For ReLU MLPs f is, on each activation region, a multilinear function of
the weights (every weight enters at most once per path), so the diagonal of nabla^2_theta f_i is
zero and the identity holds even away from interpolation; for softplus it does not.

The per-example gradients here come from ``torch.func.vmap(grad(f))``, a computation independent
of :func:`sharpness.hessian_trace`.
"""

from __future__ import annotations

import torch
from torch.func import grad, vmap

from constructions._checks import as_tensor
from sharpness.registry import Operation, ops_for

__all__ = ["gradient_sq_norms", "gradient_sq_norms_masked", "lemma41_trace"]


def _per_example_sq_norms(forward, params, X, chunk: int) -> torch.Tensor:
    def f_single(p, x):
        return forward(p, x.unsqueeze(0))[0]

    g = vmap(grad(f_single), in_dims=(None, 0))
    out = []
    for s in range(0, X.shape[0], chunk):
        grads = g(params, X[s : s + chunk])
        out.append(sum(torch.sum(v.reshape(v.shape[0], -1) ** 2, dim=1) for v in grads.values()))
    return torch.cat(out).detach()


def gradient_sq_norms(net, X, *, chunk: int | None = None) -> torch.Tensor:
    """||nabla_theta f_theta(x_i)||^2 for every row x_i of X, shape (n,)."""
    X = as_tensor(X, net.dtype)
    chunk = chunk or max(1, (1 << 22) // max(1, net.num_params))
    return _per_example_sq_norms(net.arch.forward, net.param_dict(), X, chunk)


def gradient_sq_norms_masked(net, X, masks) -> torch.Tensor:
    """Like :func:`gradient_sq_norms` with each hidden ReLU replaced by z * mask (mask fixed).

    Used to evaluate the one-sided derivatives at a kink (relu'(0) := 0 or 1). Only for ReLU.
    """
    arch = net.arch
    X = as_tensor(X, net.dtype)
    D = arch.depth

    def forward(p, xb, m):
        z = arch.preactivation_1(p, xb)
        for j in range(2, D + 1):
            z = (z * m[j - 2]) @ p[f"W{j}"].T
        return z[:, 0]

    def f_single(p, x, m):
        return forward(p, x.unsqueeze(0), [mm.unsqueeze(0) for mm in m])[0]

    masks = [mm.to(X.dtype) for mm in masks]
    grads = vmap(grad(f_single), in_dims=(None, 0, 0))(net.param_dict(), X, masks)
    return sum(torch.sum(v.reshape(v.shape[0], -1) ** 2, dim=1) for v in grads.values()).detach()


def lemma41_trace(net, X) -> float:
    """(2/n) sum_i ||nabla_theta f_theta(x_i)||^2, the right-hand side of Lemma 4.1.

    The per-example gradients are the architecture's (:func:`sharpness.registry.ops_for`): for
    examples that do not interact, :func:`gradient_sq_norms`.
    """
    sq = ops_for(net).require(Operation.GRADIENTS, net.arch)(net, X)
    return float(2.0 / sq.shape[0] * torch.sum(sq))
