"""The claims ``verify-theorem`` knows, by id."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from verify import lemma_4_1, proposition_4_1, proposition_4_2, theorem_4_1
from verify._common import ClaimRun
from verify.config import ClaimConfig

__all__ = ["CLAIMS", "Claim", "get_claim", "run_claim"]


@dataclass(frozen=True)
class Claim:
    id: str
    title: str
    reference: str
    run: Callable[[ClaimConfig], ClaimRun]


def _claim(module) -> Claim:
    return Claim(module.CLAIM, module.TITLE, module.REFERENCE, module.run)


CLAIMS: dict[str, Claim] = {
    c.id: c
    for c in (
        _claim(theorem_4_1),
        _claim(proposition_4_1),
        _claim(proposition_4_2),
        _claim(lemma_4_1),
    )
}


def get_claim(claim_id: str) -> Claim:
    """Raises ValueError for an unknown id, listing the known ones."""
    if claim_id not in CLAIMS:
        raise ValueError(
            f"unknown claim id {claim_id!r}; known: {', '.join(CLAIMS)} (see verify-theorem --list)"
        )
    return CLAIMS[claim_id]


def run_claim(claim_id: str, config: ClaimConfig | None = None) -> ClaimRun:
    return get_claim(claim_id).run(config or ClaimConfig())
