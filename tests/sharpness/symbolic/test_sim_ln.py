"""Exact Sim-LN sharpness against independent float references (dense Hessian, naive loops)."""

import numpy as np
import pytest
import sympy as sp
import torch

from constructions import Network, SimLN, sample_xor
from constructions.symbolic import rational_matrix
from constructions.symbolic_sim_ln import (
    exact_sim_ln_four_neuron_solution,
    exact_sim_ln_memorizing_solution,
)
from sharpness.reference import dense_hessian_trace, naive_hypercube_error
from sharpness.symbolic.sim_ln import (
    exact_forward_sim_ln,
    exact_hessian_trace_sim_ln,
    exact_hypercube_errors_sim_ln,
    exact_sim_ln_lower_bound,
)


def _float_net(params, eps):
    def num(m):
        return np.array(m.evalf(20).tolist(), dtype=np.float64)

    p = {k: num(v) for k, v in params.items()}
    p["b1"] = p["b1"].reshape(-1)
    return Network(SimLN(float(eps)), p)


def _random_params(d, width, seed):
    rng = np.random.default_rng(seed)
    return {
        "W1": rational_matrix((2 * rng.integers(-40, 40, size=(width, d)) + 1) / 64),
        "b1": rational_matrix((2 * rng.integers(-40, 40, size=(width, 1)) + 1) / 128),
        "W2": rational_matrix((2 * rng.integers(-40, 40, size=(1, width)) + 1) / 64),
    }


@pytest.mark.parametrize("eps", [sp.Rational(1, 10), sp.Rational(3, 2), sp.Integer(8)])
@pytest.mark.parametrize("interpolate", [True, False])
def test_exact_trace_matches_dense_hessian_off_and_at_interpolation(eps, interpolate):
    # random rational network: several active units, normalized or linear regime, with or
    # without residuals (the residual term of the Hessian is kept)
    d, width = 3, 4
    params = _random_params(d, width, 7)
    ds = sample_xor(d, 5, 1)
    X = rational_matrix(ds.X)
    outs = [exact_forward_sim_ln(params, eps, X.row(i)).output for i in range(X.rows)]
    y = outs if interpolate else [o + sp.Rational(1, 3) for o in outs]
    res = exact_hessian_trace_sim_ln(params, eps, X, y)
    assert res["fatal_kinks"] == []
    net = _float_net(params, eps)
    Xt = torch.tensor(ds.X)
    yt = torch.tensor([float(v) for v in y], dtype=torch.float64)
    assert float(res["trace"]) == pytest.approx(dense_hessian_trace(net, Xt, yt), rel=1e-10)
    same = sp.simplify(res["trace"] - res["lemma41"]) == 0
    assert same == interpolate or (not interpolate and res["residual_term"] == 0)


def test_regimes_are_proven_and_match_float():
    ds = sample_xor(4, 6, 0)
    for eps, regime in [(sp.sqrt(5), "normalized"), (sp.Integer(10), "linear")]:
        cons = exact_sim_ln_memorizing_solution(ds.X, ds.y, eps)
        got = {exact_forward_sim_ln(cons.params, eps, cons.X.row(i)).regime for i in range(6)}
        assert got == {regime}


def test_switch_is_a_fatal_kink():
    # one unit, ||h(x)|| = eps exactly at the training point, nonzero label
    params = {"W1": sp.Matrix([[1, 0]]), "b1": sp.Matrix([[0]]), "W2": sp.Matrix([[2]])}
    X = sp.Matrix([[1, 1]])
    f = exact_forward_sim_ln(params, 1, X.row(0))
    assert f.regime == "switch"
    res = exact_hessian_trace_sim_ln(params, 1, X, [f.output])
    assert res["trace"] is None and res["fatal_kinks"] == [(0, None)]


def test_relu_kink_with_live_output_is_fatal():
    params = {
        "W1": sp.Matrix([[1, 0], [0, 1]]),
        "b1": sp.Matrix([[0], [-1]]),
        "W2": sp.Matrix([[1, 1]]),
    }
    X = sp.Matrix([[3, 1]])
    f = exact_forward_sim_ln(params, 1, X.row(0))
    res = exact_hessian_trace_sim_ln(params, 1, X, [f.output])
    assert (0, 1) in res["fatal_kinks"]


def test_lower_bound_matches_closed_form():
    ds = sample_xor(3, 4, 2)
    X = rational_matrix(ds.X)
    assert exact_sim_ln_lower_bound(X, list(ds.y), sp.Integer(1)) == 2
    b = exact_sim_ln_lower_bound(X, list(ds.y), sp.Integer(100))
    assert sp.simplify(b - sp.Rational(2, 4) * 4 * 2 * 2 / 100) == 0  # 2c/eps, c = sqrt(4) = 2


@pytest.mark.parametrize("form, expected", [("corrected", 0), ("printed", 8)])
def test_hypercube_errors_match_naive_enumeration(form, expected):
    d = 4
    cons = exact_sim_ln_four_neuron_solution(sample_xor(d, 4, 0).X, d, sp.Integer(1), form=form)
    count = exact_hypercube_errors_sim_ln(cons.params, d)
    naive, _ = naive_hypercube_error(_float_net(cons.params, 1))
    assert count == naive == expected
