"""Verifier for the claims of Wen, Li & Ma (2023): checks, claim runners and the CLI."""

from importlib.metadata import version as _metadata_version

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
