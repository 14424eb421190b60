"""Pieces shared by the claim runners."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from constructions import Dataset, Network, sample_xor
from sharpness import EnumerationTooLargeError
from verify.config import ClaimConfig
from verify.report import CheckResult, ClaimReport

__all__ = ["ClaimRun", "check_epsilon", "require_enumerable", "require_xor", "training_set"]


@dataclass(frozen=True, eq=False)
class ClaimRun:
    """A claim's report together with the weights and data it was verified on."""

    report: ClaimReport
    network: Network | None
    dataset: Dataset | None


def training_set(config: ClaimConfig) -> Dataset:
    return (
        config.dataset
        if config.dataset is not None
        else sample_xor(config.d, config.n, config.seed)
    )


def require_xor(dataset: Dataset, claim: str, *, allow_repeats: bool = False) -> None:
    """Raise ValueError unless the data lie on {-1,1}^d with y = x[1] x[2] (P_xor's support);
    repeated points only with ``allow_repeats`` (an i.i.d. draw from P_xor)."""
    if dataset.d < 2:
        raise ValueError(f"{claim} is about P_xor, which needs d >= 2")
    off = np.flatnonzero(~np.all(np.abs(dataset.X) == 1.0, axis=1))
    if off.size:
        raise ValueError(f"{claim} is about P_xor: point {off[0]} is not in {{-1,1}}^{dataset.d}")
    bad = np.flatnonzero(dataset.y != dataset.X[:, 0] * dataset.X[:, 1])
    if bad.size:
        raise ValueError(f"{claim} is about P_xor: label of point {bad[0]} is not x[1]*x[2]")
    dup = None if allow_repeats else dataset.duplicate_pair()
    if dup:
        raise ValueError(f"{claim}: point {dup[1]} duplicates point {dup[0]}")


def require_enumerable(config: ClaimConfig) -> None:
    """Fail before any work if the hypercube can neither be enumerated nor is sampled."""
    if not config.hypercube_is_enumerable:
        raise EnumerationTooLargeError(config.d, config.max_points)


def check_epsilon(epsilon: float, min_margin: float) -> CheckResult:
    """ "epsilon sufficiently small" made checkable: 0 < epsilon < min_i mu_i (the LP margins)."""
    ok = 0 < epsilon < min_margin
    detail = (
        "every neuron fires only at its own training point"
        if ok
        else "epsilon >= a margin: some neuron also fires at another training point"
    )
    return CheckResult(
        name="epsilon < min margin",
        passed=ok,
        value=epsilon,
        expected=f"< {min_margin:.12g}",
        tolerance="strict",
        detail=detail,
        kind="certificate",
    )
