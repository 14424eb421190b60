"""Verifier for the claims of Wen, Li & Ma (2023): checks, claim runners and the CLI."""

from importlib import import_module
from importlib.metadata import version as _metadata_version
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # for type checkers and readers; at run time, loaded on first use
    from verify._common import ClaimRun
    from verify.checks import (
        Evaluation,
        check_bound_respected,
        check_differentiability,
        check_extreme_points,
        check_hypercube_mse,
        check_hypercube_zero_one,
        check_interpolation,
        check_memorization,
        check_trace_bound,
        check_trace_identity,
    )
    from verify.config import ClaimConfig
    from verify.network_check import HypercubeMode, NetworkReport, check_network
    from verify.registry import CLAIMS, Claim, get_claim, run_claim
    from verify.report import CheckResult, ClaimReport
    from verify.save import save_run

__version__ = _metadata_version("flatness-toolkit")

__all__ = [
    "__version__",
    # check any network (the public check API)
    "check_network",
    "NetworkReport",
    "HypercubeMode",
    # running claims
    "ClaimConfig",
    "Claim",
    "ClaimRun",
    "CLAIMS",
    "get_claim",
    "run_claim",
    "save_run",
    # results
    "CheckResult",
    "ClaimReport",
    # checks
    "Evaluation",
    "check_extreme_points",
    "check_interpolation",
    "check_memorization",
    "check_differentiability",
    "check_trace_identity",
    "check_trace_bound",
    "check_bound_respected",
    "check_hypercube_zero_one",
    "check_hypercube_mse",
]

# Where each public name lives: `import verify` imports none of them (nor torch); a name
# is imported on first use.
_EXPORTS = {
    "ClaimRun": "verify._common",
    "Evaluation": "verify.checks",
    "check_bound_respected": "verify.checks",
    "check_differentiability": "verify.checks",
    "check_extreme_points": "verify.checks",
    "check_hypercube_mse": "verify.checks",
    "check_hypercube_zero_one": "verify.checks",
    "check_interpolation": "verify.checks",
    "check_memorization": "verify.checks",
    "check_trace_bound": "verify.checks",
    "check_trace_identity": "verify.checks",
    "ClaimConfig": "verify.config",
    "HypercubeMode": "verify.network_check",
    "NetworkReport": "verify.network_check",
    "check_network": "verify.network_check",
    "CLAIMS": "verify.registry",
    "Claim": "verify.registry",
    "get_claim": "verify.registry",
    "run_claim": "verify.registry",
    "CheckResult": "verify.report",
    "ClaimReport": "verify.report",
    "save_run": "verify.save",
}


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(import_module(_EXPORTS[name]), name)
        globals()[name] = value  # later lookups are plain attribute reads
        return value
    raise AttributeError(f"module 'verify' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
