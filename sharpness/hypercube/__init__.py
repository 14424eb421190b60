"""The exact zero-one error and MSE over {-1,1}^d: enumeration, sub-cube pruning, sampled estimates."""

from sharpness.hypercube.enumeration import CubeEnumerator, EnumerationTally, fast_hypercube_error
from sharpness.hypercube.error import (
    DEFAULT_MAX_POINTS,
    EnumerationTooLargeError,
    HypercubeError,
    SampledHypercubeError,
    hypercube_error,
    sampled_hypercube_error,
)
from sharpness.hypercube.pruning import PruningOutcome, branch_and_bound, coordinate_order

__all__ = [
    "DEFAULT_MAX_POINTS",
    "EnumerationTooLargeError",
    "HypercubeError",
    "SampledHypercubeError",
    "hypercube_error",
    "sampled_hypercube_error",
    # fast enumeration and pruning
    "CubeEnumerator",
    "EnumerationTally",
    "fast_hypercube_error",
    "PruningOutcome",
    "branch_and_bound",
    "coordinate_order",
]
