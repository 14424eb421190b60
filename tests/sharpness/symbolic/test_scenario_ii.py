"""Exact quantities against the float ones (checked against dense Hessians elsewhere) and by hand."""

import numpy as np
import pytest
import sympy as sp
import torch

from constructions import MLP, Network, sample_xor
from constructions.symbolic import (
    exact_four_neuron_solution,
    exact_memorizing_solution,
    exact_random_network,
    rational_matrix,
)
from sharpness.reference import dense_hessian
from sharpness.symbolic.scenario_ii import (
    eq5_analysis,
    eq5_sharpness,
    exact_forward,
    exact_hessian_trace,
    exact_hypercube_errors,
    exact_lower_bound,
    exact_sign,
    memorizing_analysis,
    r_sym,
)


def test_exact_sign_decides_radicals_and_detects_hidden_zeros():
    assert exact_sign(sp.sqrt(2) + sp.sqrt(3) - sp.sqrt(5 + 2 * sp.sqrt(6))) == 0
    assert exact_sign(sp.sqrt(2) - sp.Rational(141421356237, 10**11)) == 1
    assert exact_sign(sp.Integer(10) ** -40 + sp.sqrt(2) - sp.sqrt(2)) == 1
    assert exact_sign(-sp.Rational(1, 3)) == -1


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_exact_trace_matches_dense_float_hessian_off_interpolation(seed):
    X = rational_matrix(sample_xor(3, 5, seed).X)
    y = [sp.Rational(1, 3), -1, 2, sp.Rational(-1, 2), 1]
    for s in range(10 * seed, 10 * seed + 50):  # the first kink-free draw
        params = exact_random_network(3, [3, 2], s)
        res = exact_hessian_trace(MLP(3), params, X, y)
        if res["trace"] is not None:
            break
    net = Network(
        MLP(3),
        {
            k: np.array(v.evalf(20).tolist(), dtype=float).reshape(v.shape)
            if k != "b1"
            else np.array(v.evalf(20).tolist(), dtype=float).reshape(-1)
            for k, v in params.items()
        },
    )
    H = dense_hessian(
        net, torch.tensor(np.array(X.tolist(), dtype=float)), torch.tensor([float(v) for v in y])
    )
    assert float(res["trace"]) == pytest.approx(float(torch.trace(H)), rel=1e-12)
    # off interpolation the residual term is still 0 for ReLU: the diagonal of Hess f vanishes
    assert res["residual_term"] == 0


def test_constructions_attain_the_bound_exactly():
    ds = sample_xor(4, 6, 3)
    for depth in (2, 3):
        cons = exact_memorizing_solution(ds.X, ds.y, depth)
        res = exact_hessian_trace(cons.arch, cons.params, cons.X, cons.y)
        assert sp.simplify(res["trace"] - exact_lower_bound(cons.X, cons.y, depth)) == 0
    four = exact_four_neuron_solution(ds.X, 4, width=6)
    res = exact_hessian_trace(four.arch, four.params, four.X, four.y)
    assert len(res["harmless_kinks"]) == 2 * 6 and res["fatal_kinks"] == []
    assert res["trace"] == 4 * sp.sqrt(5)


def test_printed_deep_construction_has_fatal_kinks():
    ds = sample_xor(4, 4, 0)
    cons = exact_memorizing_solution(ds.X, ds.y, 3, form="printed")
    res = exact_hessian_trace(cons.arch, cons.params, cons.X, cons.y)
    assert res["trace"] is None and len(res["fatal_kinks"]) == 4 * 3


def test_exact_hypercube_count_matches_closed_forms():
    ds = sample_xor(4, 5, 1)
    cons = exact_memorizing_solution(ds.X, ds.y, 2, directions="sphere", epsilon=1)
    assert exact_hypercube_errors(cons.arch, cons.params, 4) == 16 - 5
    four = exact_four_neuron_solution(ds.X, 4)
    assert exact_hypercube_errors(four.arch, four.params, 4) == 0


@pytest.mark.parametrize("d", [2, 3, 5])
def test_eq5_closed_form_matches_the_built_network(d):
    cons = exact_four_neuron_solution(sample_xor(d, 4, 0).X, d, r=r_sym)
    res = exact_hessian_trace(cons.arch, cons.params, cons.X, cons.y)
    assert sp.simplify(res["trace"] - eq5_sharpness(r_sym, d)) == 0


def test_eq5_analysis():
    a = eq5_analysis()
    d = sp.Symbol("d", positive=True, integer=True)
    assert sp.simplify(a["r_star"] - (d + 1) ** sp.Rational(1, 4)) == 0
    assert a["min_equals_bound"] and a["printed_excess_zero_at"] == [1]
    for dv in range(2, 30):  # the printed excess is positive for every d >= 2 (float spot check)
        assert float(a["printed_excess"].subs(d, dv)) > 0


@pytest.mark.parametrize("D", [2, 3, 4, None])
def test_memorizing_scaling_is_balanced_at_the_bound(D):
    m = memorizing_analysis(D)
    assert m["derivative_at_r_star"] == 0 and m["minimum_equals_bound"]
    second = m["second_derivative_at_r_star"]
    # 4 B D (D - 1): positive for every depth D >= 2 (for a symbolic D sympy proves >= 0)
    assert second.is_positive if D is not None else second.is_nonnegative


def test_exact_forward_reports_kinks():
    params = {"W1": sp.Matrix([[1, -1]]), "b1": sp.Matrix([0]), "W2": sp.Matrix([[1]])}
    fw = exact_forward(MLP(), params, sp.Matrix([1, 1]))
    assert fw.kinks == [(1, 0)] and fw.output == 0
