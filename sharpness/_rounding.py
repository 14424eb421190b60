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


# --- uniform bounds over the whole hypercube (used by the fast enumeration and the pruning) ----
#
# On {-1,1}^d every product W[k, j] x_j is exact (x_j = +-1), so a first-layer pre-activation is a
# sum of the d + 1 exact terms +-W[k, j] and b[k]. Whatever tree the additions form (row by row,
# a low-coordinate table plus a high-coordinate table, a partial sum over fixed coordinates plus
# the rest), the computed value obeys Higham's bound for summation in any order,
# |fl(z) - z| <= gamma_{d+1} (sum_j |W[k, j]| + |b[k]|): one bound per neuron, valid at every
# vertex at once. Subnormals: the kernels may run with flush-to-zero/denormals-are-zero (compiled
# code, some BLAS), which can lose up to one smallest normal number per operation; every bound
# below adds that much per operation.

TINY = {
    torch.float64: float(torch.finfo(torch.float64).tiny),
    torch.float32: float(torch.finfo(torch.float32).tiny),
}


def gamma(k: int, dtype: torch.dtype = torch.float64) -> float:
    """gamma_k = k u / (1 - k u), the relative error bound of a length-k sum or inner product."""
    return _gamma(k, unit_roundoff(dtype))


def round_up(x: torch.Tensor, ops: int = 4) -> torch.Tensor:
    """x (>= 0) enlarged to cover the rounding of the few operations that computed the bound itself."""
    u = unit_roundoff(x.dtype)
    return x * (1 + 2 * (ops + 2) * u) + TINY[x.dtype]


def cube_preactivation_bounds(W1: torch.Tensor, b1: torch.Tensor | None):
    """Per-neuron bounds valid at every vertex x of {-1,1}^d, for any summation order.

    Returns:
        (E, S): |fl(z_k(x)) - z_k(x)| <= E[k] and |z_k(x)| <= S[k] (so |fl(z_k)| <= S[k] + E[k]),
        where z_k(x) = W1[k] . x + b1[k] and S[k] = sum_j |W1[k, j]| + |b1[k]| (rounded up).
    """
    d = W1.shape[1]
    S = W1.abs().sum(dim=1)
    if b1 is not None:
        S = S + b1.abs()
    S = round_up(S, d + 2)
    k = d + 1
    E = round_up(gamma(k, W1.dtype) * S + 2 * k * TINY[W1.dtype])
    # A neuron whose weights (and bias) are all exactly 0 has z = 0 computed exactly.
    nonzero = torch.any(W1 != 0, dim=1)
    if b1 is not None:
        nonzero = nonzero | (b1 != 0)
    E = torch.where(nonzero, E, torch.zeros_like(E))
    S = torch.where(nonzero, S, torch.zeros_like(S))
    return E, S


def relu2_output_bound(E, S, c, ec=None):
    """Uniform bound on |fl(sum_k c_k relu(fl z_k)) - sum_k c_k relu(z_k)| over the whole cube.

    The inner product of length m contributes gamma_m sum |c_k| relu(fl z_k) <= gamma_m sum |c_k|
    (S_k + E_k); relu is 1-Lipschitz, so the pre-activation errors contribute sum |c_k| E_k; an
    error ec_k in the weights themselves (Sim-BN's c_k = W2_k gamma_k / a_k) adds
    sum ec_k (S_k + E_k).
    """
    m = c.shape[0]
    mag = S + E
    total = (c.abs() * E).sum() + gamma(m + 1, c.dtype) * (c.abs() * mag).sum()
    if ec is not None:
        total = total + (ec * mag).sum()
    return float(round_up(total + 2 * (m + 1) * TINY[c.dtype], 2 * m))


def mlp_cube_output_bound(arch, params) -> float:
    """Uniform bound on |fl(f(x)) - f(x)| over every vertex x, for an MLP evaluated in any order.

    Layer by layer: with |a| <= A (computed and exact alike) and |fl(a) - a| <= e,
    z = W a has |fl(z) - z| <= |W| e + gamma_{k+1} |W| A (Higham, any order, FMA included).
    ReLU is exact and 1-Lipschitz; softplus is 1-Lipschitz, adds <= 8 u A + tiny per evaluation,
    and softplus(z) <= max(z, 0) + log 2.
    """
    dtype = params["W1"].dtype
    u = unit_roundoff(dtype)
    E, S = cube_preactivation_bounds(params["W1"], params.get("b1") if arch.bias else None)
    for j in range(2, arch.depth + 1):
        if arch.activation == "relu":
            amag, aerr = S + E, E
        else:
            amag = S + E + 0.6931471805599454
            aerr = E + 8 * u * amag + TINY[dtype]
        W = params[f"W{j}"].abs()
        k = W.shape[1]
        E = round_up(W @ aerr + gamma(k + 1, dtype) * (W @ amag) + 2 * (k + 1) * TINY[dtype], k)
        S = round_up(W @ amag, k)
    return float(E[0])
