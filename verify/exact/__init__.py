"""Exact (sympy) proofs for constructive claims, run by ``verify-theorem ID --exact``.

A module here defines ``EXACT_CLAIMS`` (the claim ids it proves) and
``run_exact(claim_id, config) -> ClaimRun``; checks it returns have kind "exact" and no float
tolerance. Discovered by :func:`get_exact_runner`.
"""

from __future__ import annotations

import importlib
import pkgutil

__all__ = ["EXACT_RUNNERS", "get_exact_runner"]


def _discover() -> dict:
    found = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        for claim in getattr(module, "EXACT_CLAIMS", ()):
            if claim in found:
                raise RuntimeError(f"two exact runners for claim {claim!r}")
            found[claim] = module.run_exact
    return found


EXACT_RUNNERS = _discover()


def get_exact_runner(claim_id: str):
    """Raises ValueError when the claim has no exact proof."""
    if claim_id not in EXACT_RUNNERS:
        known = ", ".join(sorted(EXACT_RUNNERS)) or "none yet"
        raise ValueError(f"claim {claim_id!r} has no exact (--exact) proof; available: {known}")
    return EXACT_RUNNERS[claim_id]
