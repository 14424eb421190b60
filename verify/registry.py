"""The claims ``verify-theorem`` knows, by id, discovered from :mod:`verify.claims`."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass

from verify import claims as _claims_pkg
from verify._common import ClaimRun
from verify.config import ClaimConfig

__all__ = ["CLAIMS", "Claim", "get_claim", "run_claim"]


@dataclass(frozen=True)
class Claim:
    id: str
    title: str
    reference: str
    run: Callable[[ClaimConfig], ClaimRun]
    order: float = 0.0


def _discover() -> dict[str, Claim]:
    found = []
    for info in pkgutil.iter_modules(_claims_pkg.__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{_claims_pkg.__name__}.{info.name}")
        if hasattr(module, "CLAIM"):
            found.append(
                Claim(
                    module.CLAIM,
                    module.TITLE,
                    module.REFERENCE,
                    module.run,
                    getattr(module, "ORDER", 1e9),
                )
            )
    found.sort(key=lambda c: (c.order, c.id))
    ids = [c.id for c in found]
    if len(set(ids)) != len(ids):
        raise RuntimeError(f"duplicate claim ids in verify.claims: {ids}")
    return {c.id: c for c in found}


CLAIMS: dict[str, Claim] = _discover()


def get_claim(claim_id: str) -> Claim:
    """Raises ValueError for an unknown id, listing the known ones."""
    if claim_id not in CLAIMS:
        raise ValueError(
            f"unknown claim id {claim_id!r}; known: {', '.join(CLAIMS)} (see verify-theorem --list)"
        )
    return CLAIMS[claim_id]


def run_claim(claim_id: str, config: ClaimConfig | None = None) -> ClaimRun:
    return get_claim(claim_id).run(config or ClaimConfig())
