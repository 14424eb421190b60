"""The MLP with an output bias, f = g + c: what ``nn.Linear`` layers bring from PyTorch.

g is the MLP of :mod:`sharpness.architectures.mlp` (bias in the first layer or none; ReLU or
softplus; any depth D) and c = b_D is a scalar output bias. This module is the whole cost of adding
an architecture: it declares the operations below and registers them once.

**Hessian diagonal (exact, ours).** L(theta, c) = (1/n) sum_i (g(x_i) - (y_i - c))^2, so every
diagonal entry of g's parameters equals the one of g's loss on the shifted labels y - c (the
closed form of the MLP), and d^2 L / dc^2 = (2/n) sum_i 1 = 2.

**Kinks.** c enters f additively, so f has a kink exactly where g has one; whether x_i is
interpolated is the same statement for (g, y - c) and (f, y). The MLP analysis on (g, y - c).

**Lower bound over interpolators (ours).** At an interpolating theta where L is twice
differentiable, Tr = (2/n) sum_i ||grad f(x_i)||^2 (Lemma 4.1's identity holds for any model at
interpolation), ||grad f||^2 = ||grad_g g||^2 + 1, and g interpolates r_i = y_i - c, so by the
Jacobian bound of Eqs. (2)-(3) for g (per example),

.. math::
    \\mathrm{Tr}(\\nabla^2 L) \\ge 2 + \\min_{c \\in \\mathbb{R}} \\frac2n \\sum_i
        D\\, |y_i - c|^{2(D-1)/D} \\|x'_i\\|^{2/D} .

For D = 2 the objective is piecewise linear and convex in c, so its minimum is attained at one of
the y_i (a weighted median) and is computed exactly by evaluating it there. For D >= 3 it is
convex and differentiable (exponent in (1, 2)): a bounded scalar minimization, accurate to far
below the tolerance policy. With a first-layer bias the memorizing construction for labels
y - c* plus the output bias c* attains it on extreme-point data, so equality certifies a
flattest output-bias interpolator.

**Hypercube.** The same function in a family the enumeration knows: one extra unit per hidden
layer carries the constant 1 (first layer: weights 0, bias 1; later layers: weight 1 from the
previous constant unit), and the output weight c on it adds c exactly. The twin has a first-layer
bias (zero on the original units where g has none).

**Memorization (Def. 4.2).** g's hidden layers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.optimize import minimize_scalar

from constructions.architectures import MLP, Network
from sharpness.bounds.jacobian import jacobian_lower_bound
from sharpness.registry import (
    ArchitectureOps,
    CubeFamily,
    UnsupportedOperationError,
    register,
)
from sharpness.trace.closed_form import mlp_hessian_diagonal
from sharpness.trace.hessian import _as_tensors, one_sided_traces_mlp
from sharpness.trace.kinks import find_relu_kinks
from sharpness.trace.lemma_4_1 import gradient_sq_norms

__all__ = ["OPS", "OutputBiasLowerBound", "inner_network", "output_bias_lower_bound"]


def _bias_name(arch) -> str:
    return f"b{arch.depth}"


def inner_network(net) -> tuple[Network, float]:
    """(g, c): the MLP without its output bias, and the bias."""
    arch = net.arch
    p = net.param_dict()
    c = p[_bias_name(arch)]
    inner = MLP(depth=arch.depth, bias=arch.bias, activation=arch.activation)
    g = Network(inner, {k: v for k, v in p.items() if k != _bias_name(arch)}, net.dtype)
    return g, c


def _hessian_diagonal(net, X, y, *, check_kinks: bool = True) -> dict[str, torch.Tensor]:
    X, y = _as_tensors(net, X, y)
    g, c = inner_network(net)
    diag = mlp_hessian_diagonal(g, X, y - c, check_kinks=check_kinks)
    diag[_bias_name(net.arch)] = torch.full((1,), 2.0, dtype=net.dtype)
    return {k: diag[k] for k in net.arch.param_names}


def _find_kinks(net, X, y=None):
    g, c = inner_network(net)
    if y is not None:
        y = torch.as_tensor(y, dtype=net.dtype) - c
    return find_relu_kinks(g, X, y)


def _one_sided(net, X) -> tuple[float, float]:
    g, _ = inner_network(net)
    t0, t1 = one_sided_traces_mlp(g, X)
    return t0 + 2.0, t1 + 2.0  # (2/n) sum_i (d f / d c)^2 = 2


@dataclass(frozen=True, eq=False)
class OutputBiasLowerBound:
    """2 + min_c of the Jacobian bound of g on the labels y - c (module docstring).

    Attributes:
        trace: the bound.
        c: a minimizing output bias.
        inner: the Jacobian bound of g at c.
    """

    trace: float
    c: float
    inner: object
    depth: int
    bias: bool

    name = "Jacobian bound with output bias (2 + min_c, ours)"

    @property
    def attainable(self) -> bool:
        return self.bias


def output_bias_lower_bound(X, y, depth: int = 2, *, bias: bool = True) -> OutputBiasLowerBound:
    """inf Tr(nabla^2 L) over interpolating D-layer MLPs with an output bias, from the data."""
    y = np.asarray(y, dtype=np.float64)

    def value(c: float) -> float:
        return jacobian_lower_bound(X, y - c, depth, bias=bias).trace

    if depth == 2:
        best = min(np.unique(y), key=value)
    else:
        lo, hi = float(np.min(y)), float(np.max(y))
        if lo == hi:
            best = lo
        else:
            res = minimize_scalar(value, bounds=(lo, hi), method="bounded",
                                  options={"xatol": 1e-12 * max(1.0, hi - lo)})  # fmt: skip
            best = min((float(res.x), lo, hi), key=value)
    best = float(best)
    inner = jacobian_lower_bound(X, y - best, depth, bias=bias)
    return OutputBiasLowerBound(2.0 + inner.trace, best, inner, depth, bias)


def _lower_bounds(net, X, y) -> tuple:
    if net.arch.activation != "relu":
        raise UnsupportedOperationError(
            f"a lower bound over interpolators for {net.arch.name}: the Jacobian bound needs ReLU"
        )
    return (output_bias_lower_bound(X, y, net.arch.depth, bias=net.arch.bias),)


def cube_twin(net) -> Network:
    """An output-bias-free MLP computing f exactly on {-1,1}^d (module docstring).

    Raises:
        UnsupportedOperationError: for softplus (softplus(1) != 1: no exact constant unit).
    """
    if net.arch.activation != "relu":
        raise UnsupportedOperationError(
            f"the exact hypercube error for {net.arch.name}: the constant unit needs ReLU"
        )
    g, c = inner_network(net)
    arch, p = g.arch, g.param_dict()
    D, dt = arch.depth, net.dtype
    W1 = p["W1"]
    m1, d = W1.shape
    q = {"W1": torch.cat([W1, torch.zeros(1, d, dtype=dt)])}
    b1 = p["b1"] if arch.bias else torch.zeros(m1, dtype=dt)
    q["b1"] = torch.cat([b1, torch.ones(1, dtype=dt)])
    for j in range(2, D + 1):
        W = p[f"W{j}"]
        rows = W.shape[0]
        W = torch.cat([W, torch.zeros(rows, 1, dtype=dt)], dim=1)  # no path from the constant
        if j < D:
            carry = torch.zeros(1, W.shape[1], dtype=dt)
            carry[0, -1] = 1.0
            W = torch.cat([W, carry])
        else:
            W[0, -1] = c[0]
        q[f"W{j}"] = W
    return Network(MLP(depth=D, bias=True, activation=arch.activation), q, dt)


def _cube_family(arch) -> CubeFamily:
    two_layer_relu = arch.depth == 2 and arch.activation == "relu"
    return CubeFamily.RELU_TWO_LAYER if two_layer_relu else CubeFamily.MLP


def _hidden_twin(net) -> Network:
    if net.arch.activation != "relu":
        raise ValueError(f"memorization (Def. 4.2) needs ReLU units, got {net.arch.activation!r}")
    return inner_network(net)[0]


OPS = register(
    ArchitectureOps(
        key="mlp_output_bias",
        arch_type=MLP,
        accepts=lambda arch: bool(getattr(arch, "output_bias", False)),
        hessian_diagonal=_hessian_diagonal,
        find_kinks=_find_kinks,
        gradient_sq_norms=gradient_sq_norms,
        one_sided_traces=_one_sided,
        lower_bounds=_lower_bounds,
        cube_family=_cube_family,
        cube_twin=cube_twin,
        hidden_twin=_hidden_twin,
        training_head=lambda arch: None,  # the closed-form engines have no output bias
        f_diagonal_vanishes=lambda arch: arch.activation == "relu",
    )
)
