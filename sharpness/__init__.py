"""Sharpness Tr(nabla^2 L), exactly: Lemma 4.1, the Jacobian lower bound, kinks and hypercube error."""

from importlib import import_module
from importlib.metadata import version as _metadata_version
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # for type checkers and readers; at run time, loaded on first use
    from constructions.tolerance import Tolerance, tolerance_for
    from sharpness.architectures.sim_bn import lemma_a3_bound
    from sharpness.architectures.sim_ln import (
        EpsilonRange,
        SimLNLowerBound,
        memorizing_epsilon_range,
        sim_ln_lower_bound,
        xor_epsilon_range,
    )
    from sharpness.bounds import (
        JacobianLowerBound,
        eq4_residuals,
        jacobian_lower_bound,
        lemma31_norm,
        lower_bounds,
    )
    from sharpness.hypercube import (
        DEFAULT_MAX_POINTS,
        EnumerationTooLargeError,
        HypercubeError,
        SampledHypercubeError,
        branch_and_bound,
        fast_hypercube_error,
        hypercube_error,
        sampled_hypercube_error,
    )
    from sharpness.registry import ArchitectureOps, UnsupportedOperationError, ops_for, registered
    from sharpness.trace import (
        Kink,
        KinkReport,
        NonDifferentiableError,
        find_kinks,
        gradient_sq_norms,
        hessian_diagonal,
        hessian_trace,
        lemma41_trace,
        mse_loss,
        one_sided_traces,
    )

__version__ = _metadata_version("flatness-toolkit")

__all__ = [
    "__version__",
    # loss and sharpness (Section 2, Lemma 4.1)
    "mse_loss",
    "hessian_trace",
    "hessian_diagonal",
    "one_sided_traces",
    "gradient_sq_norms",
    "lemma41_trace",
    # lower bounds (Eqs. (2)-(3), App. A.3.1; per architecture: lower_bounds)
    "lower_bounds",
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
    # the architecture protocol (sharpness.registry)
    "ArchitectureOps",
    "UnsupportedOperationError",
    "ops_for",
    "registered",
    # tolerance policy
    "Tolerance",
    "tolerance_for",
]

# Where each public name lives: `import sharpness` imports none of them (nor torch); a name
# is imported on first use.
_EXPORTS = {
    "Tolerance": "constructions.tolerance",
    "tolerance_for": "constructions.tolerance",
    "lemma_a3_bound": "sharpness.architectures.sim_bn",
    "EpsilonRange": "sharpness.architectures.sim_ln",
    "SimLNLowerBound": "sharpness.architectures.sim_ln",
    "memorizing_epsilon_range": "sharpness.architectures.sim_ln",
    "sim_ln_lower_bound": "sharpness.architectures.sim_ln",
    "xor_epsilon_range": "sharpness.architectures.sim_ln",
    "JacobianLowerBound": "sharpness.bounds",
    "eq4_residuals": "sharpness.bounds",
    "jacobian_lower_bound": "sharpness.bounds",
    "lemma31_norm": "sharpness.bounds",
    "lower_bounds": "sharpness.bounds",
    "DEFAULT_MAX_POINTS": "sharpness.hypercube",
    "EnumerationTooLargeError": "sharpness.hypercube",
    "HypercubeError": "sharpness.hypercube",
    "SampledHypercubeError": "sharpness.hypercube",
    "branch_and_bound": "sharpness.hypercube",
    "fast_hypercube_error": "sharpness.hypercube",
    "hypercube_error": "sharpness.hypercube",
    "sampled_hypercube_error": "sharpness.hypercube",
    "ArchitectureOps": "sharpness.registry",
    "UnsupportedOperationError": "sharpness.registry",
    "ops_for": "sharpness.registry",
    "registered": "sharpness.registry",
    "Kink": "sharpness.trace",
    "KinkReport": "sharpness.trace",
    "NonDifferentiableError": "sharpness.trace",
    "find_kinks": "sharpness.trace",
    "gradient_sq_norms": "sharpness.trace",
    "hessian_diagonal": "sharpness.trace",
    "hessian_trace": "sharpness.trace",
    "lemma41_trace": "sharpness.trace",
    "mse_loss": "sharpness.trace",
    "one_sided_traces": "sharpness.trace",
    "TrainConfig": "sharpness.training.runs",
    "Phase": "sharpness.training.runs",
    "preset": "sharpness.training.runs",
    "train": "sharpness.training.runs",
    "train_many": "sharpness.training.runs",
    "load_run": "sharpness.training.runs",
    "SearchSettings": "sharpness.training.flattest_search",
    "SearchResult": "sharpness.training.flattest_search",
    "flattest_search": "sharpness.training.flattest_search",
    "error_versus_n": "sharpness.training.flattest_search",
}


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(import_module(_EXPORTS[name]), name)
        globals()[name] = value  # later lookups are plain attribute reads
        return value
    raise AttributeError(f"module 'sharpness' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
