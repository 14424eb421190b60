"""Sharpness Tr(nabla^2 L), exactly: Lemma 4.1, the Jacobian lower bound, kinks and hypercube error."""

from constructions.tolerance import Tolerance, tolerance_for
from sharpness.flattest_search import SearchResult, SearchSettings, error_versus_n, flattest_search
from sharpness.hessian_trace import hessian_diagonal, hessian_trace, one_sided_traces
from sharpness.hypercube_error import (
    DEFAULT_MAX_POINTS,
    EnumerationTooLargeError,
    HypercubeError,
    SampledHypercubeError,
    hypercube_error,
    sampled_hypercube_error,
)
from sharpness.hypercube_fast import fast_hypercube_error
from sharpness.kinks import Kink, KinkReport, NonDifferentiableError, find_kinks
from sharpness.lemma_4_1 import gradient_sq_norms, lemma41_trace
from sharpness.loss import mse_loss
from sharpness.lower_bound import JacobianLowerBound, eq4_residuals, jacobian_lower_bound
from sharpness.no_bias import lemma31_norm
from sharpness.sim_bn import lemma_a3_bound
from sharpness.sim_ln import (
    EpsilonRange,
    SimLNLowerBound,
    memorizing_epsilon_range,
    sim_ln_lower_bound,
    xor_epsilon_range,
)
from sharpness.subcube import branch_and_bound

__all__ = [
    # loss and sharpness (Section 2, Lemma 4.1)
    "mse_loss",
    "hessian_trace",
    "hessian_diagonal",
    "one_sided_traces",
    "gradient_sq_norms",
    "lemma41_trace",
    # lower bound (Eqs. (2)-(3), App. A.3.1)
    "JacobianLowerBound",
    "jacobian_lower_bound",
    "eq4_residuals",
    # 2-MLP-Sim-LN (Lemma A.12, "eps sufficiently small")
    "SimLNLowerBound",
    "sim_ln_lower_bound",
    "EpsilonRange",
    "memorizing_epsilon_range",
    "xor_epsilon_range",
    # differentiability
    "Kink",
    "KinkReport",
    "NonDifferentiableError",
    "find_kinks",
    # generalization over {-1,1}^d
    "HypercubeError",
    "SampledHypercubeError",
    "EnumerationTooLargeError",
    "DEFAULT_MAX_POINTS",
    "hypercube_error",
    "sampled_hypercube_error",
    "fast_hypercube_error",
    "branch_and_bound",
    # Scenario I (Theorem 3.1, Lemma 3.1, Lemma A.3) and the flattest-interpolator search
    "lemma31_norm",
    "lemma_a3_bound",
    "SearchSettings",
    "SearchResult",
    "flattest_search",
    "error_versus_n",
    # training (Sections 3.2, 4.2, 5.2; App. B): 1-SAM, SAM, GD+WD, SGD, label-noise SGD
    "TrainConfig",
    "Phase",
    "preset",
    "train",
    "train_many",
    "load_run",
    # tolerance policy
    "Tolerance",
    "tolerance_for",
]


def __getattr__(name):  # the trainer is imported on first use (it is heavier than the rest)
    if name in ("TrainConfig", "Phase", "preset", "train", "train_many", "load_run"):
        from sharpness import training

        return getattr(training, name)
    raise AttributeError(f"module 'sharpness' has no attribute {name!r}")
