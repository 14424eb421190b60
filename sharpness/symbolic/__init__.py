"""Symbolic (sympy) proofs: exact forwards, traces and bounds; Eq. (5) and the depth-D scaling."""

from sharpness.symbolic.scenario_ii import (
    ExactForward,
    d_sym,
    eq5_analysis,
    eq5_sharpness,
    exact_forward,
    exact_gradient_sq_norms,
    exact_hessian_trace,
    exact_hypercube_errors,
    exact_lower_bound,
    exact_sign,
    memorizing_analysis,
    memorizing_sharpness,
    r_sym,
)
from sharpness.symbolic.sim_ln import (
    ExactSimLNForward,
    exact_forward_sim_ln,
    exact_hessian_trace_sim_ln,
    exact_hypercube_errors_sim_ln,
    exact_sim_ln_lower_bound,
)

__all__ = [
    # MLP (Scenario II)
    "ExactForward",
    "exact_forward",
    "exact_sign",
    "exact_hessian_trace",
    "exact_gradient_sq_norms",
    "exact_lower_bound",
    "exact_hypercube_errors",
    "d_sym",
    "r_sym",
    "eq5_sharpness",
    "eq5_analysis",
    "memorizing_sharpness",
    "memorizing_analysis",
    # 2-MLP-Sim-LN (Scenario III)
    "ExactSimLNForward",
    "exact_forward_sim_ln",
    "exact_hessian_trace_sim_ln",
    "exact_sim_ln_lower_bound",
    "exact_hypercube_errors_sim_ln",
]
