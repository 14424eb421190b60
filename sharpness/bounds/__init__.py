"""Lower bounds on Tr(nabla^2 L) over interpolators: the Jacobian bound (Eqs. (2)-(3)) and Lemma 3.1."""

from sharpness.bounds.jacobian import JacobianLowerBound, eq4_residuals, jacobian_lower_bound
from sharpness.bounds.no_bias import (
    Attainability,
    NeuronDecomposition,
    balance_neurons,
    complete_symmetric_infimum,
    jacobian_attainability,
    lemma31_norm,
    lemma_a11_ratio,
    neuron_decomposition,
)
from sharpness.registry import Operation, ops_for

__all__ = [
    # the bounds that apply to a network's architecture (sharpness.registry)
    "lower_bounds",
    # MLP-Bias / No-Bias, any depth (Eqs. (2)-(3), App. A.3.1)
    "JacobianLowerBound",
    "jacobian_lower_bound",
    "eq4_residuals",
    # 2-MLP-No-Bias (Lemma 3.1, Lemma A.11, App. A.2)
    "lemma31_norm",
    "NeuronDecomposition",
    "neuron_decomposition",
    "balance_neurons",
    "lemma_a11_ratio",
    "complete_symmetric_infimum",
    "Attainability",
    "jacobian_attainability",
]


def lower_bounds(net, X, y) -> tuple:
    """The lower bounds on Tr(nabla^2 L) over interpolators that apply to ``net``'s architecture.

    Each has ``name``, ``trace`` and ``attainable`` (whether interpolators reach it, so that
    equality certifies a flattest one). For an MLP: the Jacobian bound of Eqs. (2)-(3); Sim-LN:
    Lemma A.12; Sim-BN: Lemma A.3 (corrected, a bound of this network's trace); an output bias:
    2 + min_c of the Jacobian bound on y - c.

    Raises:
        UnsupportedOperationError: if the architecture declares none.
    """
    return ops_for(net).require(Operation.LOWER_BOUND, net.arch)(net, X, y)
