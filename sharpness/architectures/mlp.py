"""The D-layer MLP of Section 2 (bias in the first layer only, or none; ReLU or softplus).

Declares, for :class:`constructions.MLP` without an output bias:

* Hessian diagonal: the closed forms of :mod:`sharpness.trace.closed_form` (one backward pass);
* kinks: the layered-ReLU analysis :func:`sharpness.trace.kinks.find_relu_kinks`;
* per-example gradients: :func:`sharpness.trace.lemma_4_1.gradient_sq_norms` (vmap of grad);
* one-sided traces at a kink: :func:`sharpness.trace.hessian.one_sided_traces_mlp`;
* lower bound: the Jacobian bound of Eqs. (2)-(3) for depth D (App. A.3.1), attained with a bias
  on extreme-point data (Theorem 4.1), valid but not always attained without one;
* hypercube: the two-layer ReLU table kernel and sub-cube pruning (D = 2, ReLU), otherwise the
  generic enumeration with rounding bounds;
* memorization (Def. 4.2): its own hidden layers (ReLU only).
"""

from __future__ import annotations

from constructions.architectures import MLP
from sharpness.bounds.jacobian import jacobian_lower_bound
from sharpness.registry import (
    ArchitectureOps,
    CubeFamily,
    TrainingHead,
    UnsupportedOperationError,
    register,
)
from sharpness.trace.closed_form import mlp_hessian_diagonal
from sharpness.trace.hessian import one_sided_traces_mlp
from sharpness.trace.kinks import find_relu_kinks
from sharpness.trace.lemma_4_1 import gradient_sq_norms

__all__ = ["OPS", "mlp_lower_bounds"]


def mlp_lower_bounds(net, X, y) -> tuple:
    """The Jacobian bound for the network's depth and bias (Eqs. (2)-(3)).

    Raises:
        UnsupportedOperationError: for softplus: the derivation needs v_l . a_l = f at every
            layer, i.e. positively homogeneous (ReLU) units; with softplus it can fail.
    """
    arch = net.arch
    if arch.activation != "relu":
        raise UnsupportedOperationError(
            f"a lower bound over interpolators for {arch.name}: the Jacobian bound of Eqs. (2)-(3) "
            "needs ReLU units (v_l . a_l = f at every layer)"
        )
    return (jacobian_lower_bound(X, y, arch.depth, bias=arch.bias),)


def _cube_family(arch) -> CubeFamily:
    two_layer_relu = arch.depth == 2 and arch.activation == "relu"
    return CubeFamily.RELU_TWO_LAYER if two_layer_relu else CubeFamily.MLP


def _hidden_twin(net):
    if net.arch.activation != "relu":
        raise ValueError(f"memorization (Def. 4.2) needs ReLU units, got {net.arch.activation!r}")
    return net


OPS = register(
    ArchitectureOps(
        key="mlp",
        arch_type=MLP,
        accepts=lambda arch: not getattr(arch, "output_bias", False),
        hessian_diagonal=mlp_hessian_diagonal,
        find_kinks=find_relu_kinks,
        gradient_sq_norms=gradient_sq_norms,
        one_sided_traces=one_sided_traces_mlp,
        lower_bounds=mlp_lower_bounds,
        cube_family=_cube_family,
        hidden_twin=_hidden_twin,
        training_head=lambda arch: TrainingHead.LINEAR if arch.depth == 2 else None,
        f_diagonal_vanishes=lambda arch: arch.activation == "relu",
    )
)
