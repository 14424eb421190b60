"""The claims ``verify-theorem`` knows, by id, discovered from :mod:`verify.claims`.

Their ids, titles and references are also listed in :mod:`verify.claim_index` (no import of a
claim needed, for a fast ``--list``); a test keeps the two equal.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass

from verify import claims as _claims_pkg
from verify._common import ClaimRun
from verify.claim_index import check_claim_id
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
    return CLAIMS[check_claim_id(claim_id, CLAIMS)]


def run_claim(claim_id: str, config: ClaimConfig | None = None) -> ClaimRun:
    return get_claim(claim_id).run(config or ClaimConfig())
