"""The configuration of one claim run, validated when it is built."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from constructions import Dataset
from constructions._checks import check_int, check_positive_float
from constructions.construction import Form
from sharpness import DEFAULT_MAX_POINTS

__all__ = ["ClaimConfig", "DEFAULT_D", "DEFAULT_N"]

DEFAULT_D = 10
DEFAULT_N = 100  # the paper's n; capped at 2^d


#: Largest seed: torch.manual_seed takes a 64-bit integer.
MAX_SEED = 2**63 - 1

#: Largest d for which the claims attempt the exact hypercube error by sub-cube pruning.
MAX_PRUNED_D = 64


def _check_magnitude(dataset: Dataset) -> None:
    """Refuse data whose squares would take the traces near float64 overflow
    (:data:`sharpness.limits.LIMITS`, "data magnitude"); tiny data are accepted (the LP of
    Definition 4.1 is solved on rescaled points)."""
    from sharpness.limits import LIMITS

    peak = max(float(np.max(np.abs(dataset.X))), float(np.max(np.abs(dataset.y))))
    LIMITS["data magnitude"].check(f"dataset {dataset.description}", peak)


@dataclass(frozen=True, eq=False)
class ClaimConfig:
    """Parameters shared by every claim.

    Args:
        d: input dimension (>= 2); ignored when ``dataset`` is given.
        n: training-set size, 1 <= n <= 2^d; default min(100, 2^d).
        depth: number of layers D >= 2.
        seed: seed of the P_xor sample and of random networks.
        epsilon: the memorizing construction's epsilon (default: half the smallest margin).
        form: "corrected" or "printed" (the formula exactly as the paper prints it).
        dataset: a user dataset, replacing the P_xor sample.
        hypercube_samples: estimate the hypercube error from this many samples instead.
        max_points: largest 2^d enumerated exactly.
        progress: show progress bars for long enumerations.
        ln_eps: epsilon of 2-MLP-Sim-LN (claims about Sim-LN choose a default if None).
        exact: prove in exact arithmetic (``--exact``) instead of floating point.

    Raises:
        ValueError: naming the first bad value.
    """

    d: int = DEFAULT_D
    n: int | None = None
    depth: int = 2
    seed: int = 0
    epsilon: float | None = None
    form: str = "corrected"
    dataset: Dataset | None = None
    hypercube_samples: int | None = None
    max_points: int = DEFAULT_MAX_POINTS
    progress: bool = False
    ln_eps: float | None = None
    exact: bool = False

    def __post_init__(self) -> None:
        if self.dataset is not None:
            object.__setattr__(self, "d", self.dataset.d)
            object.__setattr__(self, "n", self.dataset.n)
        d = check_int("d", self.d, minimum=2)
        object.__setattr__(self, "d", d)
        # 2^d is never built for a large d (d = 10^12 would not finish)
        default_n = DEFAULT_N if d > DEFAULT_N.bit_length() else min(DEFAULT_N, 2**d)
        n = default_n if self.n is None else check_int("n", self.n, minimum=1)
        if self.dataset is None and (n - 1).bit_length() > d:  # n > 2^d
            raise ValueError(
                f"n must be <= 2^d = {2**d} (distinct points of {{-1,1}}^{d}), got n={n}"
            )
        object.__setattr__(self, "n", n)
        object.__setattr__(self, "depth", check_int("depth", self.depth, minimum=2))
        # torch seeds are 64-bit: a larger seed ends in "Overflow when unpacking long long"
        object.__setattr__(self, "seed", check_int("seed", self.seed, minimum=0, maximum=MAX_SEED))
        if self.epsilon is not None:
            object.__setattr__(self, "epsilon", check_positive_float("epsilon", self.epsilon))
        object.__setattr__(self, "form", Form.parse(self.form))
        if self.hypercube_samples is not None:
            object.__setattr__(
                self,
                "hypercube_samples",
                check_int("hypercube_samples", self.hypercube_samples, minimum=1),
            )
        object.__setattr__(self, "max_points", check_int("max_points", self.max_points, minimum=1))
        if self.ln_eps is not None:
            object.__setattr__(self, "ln_eps", check_positive_float("ln_eps", self.ln_eps))
        object.__setattr__(self, "exact", bool(self.exact))
        if self.exact and self.hypercube_samples is not None:
            raise ValueError(
                "hypercube_samples cannot be combined with exact: the exact proof counts the "
                "whole cube, a sample would be ignored"
            )
        if self.dataset is not None:
            _check_magnitude(self.dataset)

    def describe(self) -> dict:
        out = {"d": self.d, "n": self.n, "depth": self.depth, "seed": self.seed, "form": self.form}
        out["data"] = self.dataset.description if self.dataset is not None else "P_xor sample"
        if self.hypercube_samples:
            out["hypercube"] = f"sampled estimate, {self.hypercube_samples} points"
        if self.exact:
            out["arithmetic"] = "exact (sympy)"
        return out

    @property
    def hypercube_is_enumerable(self) -> bool:
        """Whether the exact hypercube count is attempted: up to 2^d <= max_points by enumeration,
        and up to d = MAX_PRUNED_D by sub-cube pruning (the paper's constructions finish in
        seconds at d = 64; a network without that structure is refused by
        :func:`sharpness.hypercube_error` when more than max_points points remain)."""
        if self.hypercube_samples is not None:
            return True
        return self.d <= max(math.log2(self.max_points), MAX_PRUNED_D)
