"""Exact Tr(nabla^2 L): the Hessian diagonal, Lemma 4.1's identity, the loss and kink detection."""

from sharpness.trace.hessian import (
    autograd_hessian_diagonal,
    hessian_diagonal,
    hessian_trace,
    one_sided_traces,
)
from sharpness.trace.kinks import Kink, KinkReport, NonDifferentiableError, find_kinks
from sharpness.trace.lemma_4_1 import gradient_sq_norms, gradient_sq_norms_masked, lemma41_trace
from sharpness.trace.loss import mse_loss

__all__ = [
    # Section 2 loss and its exact Hessian trace
    "mse_loss",
    "hessian_diagonal",
    "hessian_trace",
    "autograd_hessian_diagonal",
    "one_sided_traces",
    # Lemma 4.1
    "gradient_sq_norms",
    "gradient_sq_norms_masked",
    "lemma41_trace",
    # differentiability
    "Kink",
    "KinkReport",
    "NonDifferentiableError",
    "find_kinks",
]
