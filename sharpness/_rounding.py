"""Rigorous float rounding-error bounds for an MLP forward pass.

Used to decide signs exactly: a pre-activation or an output whose computed value is larger in
magnitude than its error bound has a certain sign; anything else is "numerically zero" and is
either reported (a kink) or re-evaluated in exact rational arithmetic (the hypercube error).

Model (Higham, Accuracy and Stability of Numerical Algorithms, Sec. 3.1): with unit roundoff u,
an inner product of length k, computed in any order (FMA included), satisfies
|fl(w^T a) - w^T a| <= gamma_k |w|^T |a|, gamma_k = k u / (1 - k u). Propagating an input error
e (|a_hat - a| <= e) through z = W a + b:

.. math::  |\\hat z - z| \\le |W| e + \\gamma_{k+1} (|W| |\\hat a| + |b|).

ReLU is exact in floating point and 1-Lipschitz, so the bound passes through it unchanged.
softplus is 1-Lipschitz and its evaluation adds at most a few ulps; we add 8 u |a_hat| plus the
smallest subnormal for underflow.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["BoundedForward", "bounded_forward", "unit_roundoff"]


def unit_roundoff(dtype: torch.dtype) -> float:
    return float(torch.finfo(dtype).eps) / 2


def _gamma(k: int, u: float) -> float:
    return k * u / (1 - k * u)


@dataclass(frozen=True, eq=False)
class BoundedForward:
    """Computed hidden pre-activations and output with elementwise error bounds."""

    preacts: list[torch.Tensor]
    preact_errors: list[torch.Tensor]
    output: torch.Tensor
    output_error: torch.Tensor


def bounded_forward(arch, params, X: torch.Tensor) -> BoundedForward:
    """Forward pass of an :class:`~constructions.MLP` with rigorous error bounds.

    X is taken as exact (its entries are the inputs).
    """
    if type(arch).__name__ != "MLP":
        raise NotImplementedError(f"rounding bounds are implemented for MLPs, not {arch.name}")
    u = unit_roundoff(X.dtype)
    W1 = params["W1"]
    k = W1.shape[1] + (1 if arch.bias else 0)
    z = X @ W1.T
    mag = X.abs() @ W1.abs().T
    if arch.bias:
        z = z + params["b1"]
        mag = mag + params["b1"].abs()
    err = _gamma(k, u) * mag
    preacts, errors = [z], [err]
    tiny = float(torch.finfo(X.dtype).tiny)
    for j in range(2, arch.depth + 1):
        a = arch.sigma(z)
        if arch.activation == "relu":
            # Where z is certainly <= 0, relu(z_hat) = relu(z) = 0 exactly.
            e = torch.where(z + err <= 0, torch.zeros_like(err), err)
        else:
            e = err + 8 * u * a.abs() + tiny
        W = params[f"W{j}"]
        z = a @ W.T
        err = e @ W.abs().T + _gamma(W.shape[1], u) * (a.abs() @ W.abs().T)
        if j < arch.depth:
            preacts.append(z)
            errors.append(err)
    return BoundedForward(preacts, errors, z[:, 0], err[:, 0])
