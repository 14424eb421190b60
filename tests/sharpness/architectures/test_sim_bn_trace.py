"""2-MLP-Sim-BN: the closed-form Hessian diagonal and trace (three matrix products) against the
dense torch.func.hessian in float64 and against the autograd (JVP) route, on and off
interpolation, with and without b1, dead neurons included; kinks are refused, not differentiated.

Tolerance: the float64 policy (constructions/tolerance.py, rtol 1e-9, atol 1e-12): the three
routes are different sums of the same O(n m d) products, whose rounding is ~1e-13 relative here.
"""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from constructions import Network, SimBN
from constructions.sim_bn import condition1_dataset, lemma_a1_solution
from constructions.tolerance import tolerance_for
from sharpness import NonDifferentiableError, find_kinks
from sharpness.architectures.sim_bn import (
    gradient_sum_closed_form,
    hessian_diagonal_sim_bn,
    hessian_diagonal_sim_bn_jvp,
    hessian_trace_sim_bn,
)
from sharpness.reference import dense_hessian, dense_hessian_trace
from tests.strategies import sim_bn_networks

TOL = tolerance_for(torch.float64)


def flat(net, diag):
    return torch.cat([diag[k].reshape(-1) for k in net.arch.param_names])


@settings(max_examples=10)
@given(sim_bn_networks(3), st.integers(0, 2**16), st.booleans())
def test_closed_form_equals_dense_hessian(net, seed, interpolate):
    rng = np.random.default_rng(seed)
    X = torch.tensor(rng.normal(size=(6, 3)))
    y = net(X).detach() if interpolate else torch.tensor(rng.normal(size=6))
    if not find_kinks(net, X, y).twice_differentiable:
        return  # a Gaussian draw on a kink has probability 0
    H = dense_hessian(net, X, y)
    ours = flat(net, hessian_diagonal_sim_bn(net, X, y))
    assert torch.allclose(ours, torch.diagonal(H), rtol=TOL.rtol, atol=TOL.atol)
    assert TOL.close(hessian_trace_sim_bn(net, X, y), float(torch.trace(H)))


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("m", [100, 500])
def test_closed_form_equals_autograd_route_at_width(m, bias):
    rng = np.random.default_rng(m)
    d, n = 30, 40
    X = torch.tensor(np.sign(rng.normal(size=(n, d))))
    params = {"W1": rng.normal(size=(m, d)) / math.sqrt(d)}
    if bias:
        params["b1"] = 0.3 * rng.normal(size=m)
    params |= {"gamma": rng.normal(size=m), "W2": rng.normal(size=(1, m)) / math.sqrt(m)}
    net = Network(SimBN(bias=bias), params)
    y = torch.tensor(np.sign(rng.normal(size=n)))  # far from interpolation: r matters
    jvp = hessian_diagonal_sim_bn_jvp(net, X, y, check_kinks=False)
    ours = hessian_diagonal_sim_bn(net, X, y, check_kinks=False)
    for k in net.arch.param_names:
        assert torch.allclose(ours[k], jvp[k], rtol=TOL.rtol, atol=TOL.atol), k
    old = float(sum(torch.sum(v) for v in jvp.values()))
    assert TOL.close(hessian_trace_sim_bn(net, X, y, check_kinks=False), old)
    # the residual term is what the closed form adds to Lemma 4.1's gradient sum
    lemma41 = gradient_sum_closed_form(net.param_dict(), X)
    assert not TOL.close(old, lemma41)
    assert TOL.close(hessian_trace_sim_bn(net, X, net(X).detach(), check_kinks=False), lemma41)


def test_dead_neurons_contribute_nothing_and_kinks_are_refused():
    ds = condition1_dataset(4, seed=0)
    X, y = ds.tensors()
    fixed = Network(SimBN(), lemma_a1_solution(4, width=6).network.params, reference=X)
    diag = hessian_diagonal_sim_bn(fixed, X, y)
    assert find_kinks(fixed, X, y).twice_differentiable
    dead = list(find_kinks(fixed, X, y).dead)
    assert dead and all(float(diag[k][..., dead].abs().sum()) == 0 for k in ("gamma", "W2"))
    assert TOL.close(hessian_trace_sim_bn(fixed, X, y), dense_hessian_trace(fixed, X, y))
    printed = Network(
        SimBN(), lemma_a1_solution(4, width=6, form="printed").network.params, reference=X
    )
    for fn in (hessian_trace_sim_bn, hessian_diagonal_sim_bn):
        with pytest.raises(NonDifferentiableError):
            fn(printed, X, y)
