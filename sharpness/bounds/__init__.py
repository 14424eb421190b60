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

__all__ = [
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
