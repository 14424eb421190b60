"""2-MLP-Sim-BN: the exact Hessian diagonal (true second derivatives, coupled examples) against
the dense torch.func.hessian reference, the closed form of Lemma 4.1's sum, kinks, Lemma A.3."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from constructions import MLP, Network, SimBN, sample_xor
from constructions.sim_bn import condition1_dataset, lemma_a1_solution, near_flattest_sim_bn
from sharpness import NonDifferentiableError, find_kinks, hessian_diagonal, hessian_trace
from sharpness.architectures.sim_bn import (
    INFIMUM_CONDITION_1,
    find_kinks_sim_bn,
    gradient_sq_norms_sim_bn,
    gradient_sum_closed_form,
    hessian_diagonal_sim_bn,
    lemma41_trace_sim_bn,
    lemma_a3_bound,
)
from sharpness.reference import dense_hessian, dense_hessian_trace
from tests.strategies import sim_bn_networks


def close(a, b, rtol=1e-9, atol=1e-12):
    return abs(a - b) <= atol + rtol * abs(b)


def flat_diag(net, diag):
    return torch.cat([diag[k].reshape(-1) for k in net.arch.param_names])


@settings(max_examples=20)
@given(sim_bn_networks(3), st.integers(0, 2**16), st.booleans())
def test_diagonal_matches_dense_hessian_entry_by_entry(net, seed, interpolate):
    X = torch.tensor(np.random.default_rng(seed).normal(size=(6, 3)))
    y = (
        net(X).detach()
        if interpolate
        else torch.tensor(np.random.default_rng(seed + 1).normal(size=6))
    )
    if not find_kinks(net, X, y).twice_differentiable:
        return  # a Gaussian draw on a kink has probability 0; nothing to compare
    ours = flat_diag(net, hessian_diagonal(net, X, y))
    dense = torch.diagonal(dense_hessian(net, X, y))
    assert torch.allclose(ours, dense, rtol=1e-9, atol=1e-12), float((ours - dense).abs().max())


@settings(max_examples=20)
@given(sim_bn_networks(4), st.integers(0, 2**16))
def test_closed_form_gradient_sum_equals_autograd_and_trace_at_interpolation(net, seed):
    X = torch.tensor(np.random.default_rng(seed).normal(size=(7, 4)))
    y = net(X).detach()
    if not find_kinks(net, X, y).twice_differentiable:
        return
    auto = lemma41_trace_sim_bn(net, X)
    closed = gradient_sum_closed_form(net.param_dict(), X)
    assert close(closed, auto)
    assert close(hessian_trace(net, X, y), auto)


def test_lemma_4_1_fails_off_interpolation_and_per_example_gradients_differ():
    g = torch.Generator().manual_seed(0)
    params = {
        "W1": torch.randn(4, 3, generator=g, dtype=torch.float64),
        "b1": torch.randn(4, generator=g, dtype=torch.float64),
        "gamma": torch.randn(4, generator=g, dtype=torch.float64),
        "W2": torch.randn(1, 4, generator=g, dtype=torch.float64),
    }
    net = Network(SimBN(), params)
    X = torch.randn(8, 3, generator=g, dtype=torch.float64)
    y = net(X).detach() + 1.0
    t = hessian_trace(net, X, y)
    assert close(t, dense_hessian_trace(net, X, y))
    assert not close(t, lemma41_trace_sim_bn(net, X), rtol=1e-6)
    # per-example gradients with training statistics: (n,) and summing to the Lemma 4.1 side
    sq = gradient_sq_norms_sim_bn(net, X)
    assert sq.shape == (8,) and close(2 / 8 * float(sq.sum()), lemma41_trace_sim_bn(net, X))


def test_width_500_route_runs_and_agrees_with_closed_form_at_interpolation():
    rng = np.random.default_rng(1)
    d, n, m = 30, 40, 500
    X = torch.tensor(np.sign(rng.normal(size=(n, d))))
    params = {
        "W1": rng.normal(size=(m, d)) / math.sqrt(d),
        "b1": 0.3 * rng.normal(size=m),
        "gamma": rng.normal(size=m),
        "W2": rng.normal(size=(1, m)) / math.sqrt(m),
    }
    net = Network(SimBN(), params)
    y = net(X).detach()
    assert close(hessian_trace(net, X, y), gradient_sum_closed_form(net.param_dict(), X))


def test_kinks_are_classified_by_the_coupled_statistics():
    ds = condition1_dataset(4, seed=0)
    X, y = ds.tensors()
    printed = Network(
        SimBN(), lemma_a1_solution(4, width=6, form="printed").network.params, reference=X
    )
    rep = find_kinks_sim_bn(printed, X, y)
    assert not rep.twice_differentiable and set(rep.degenerate) == {4, 5}
    with pytest.raises(NonDifferentiableError):
        hessian_trace(printed, X, y)
    fixed = Network(SimBN(), lemma_a1_solution(4, width=6).network.params, reference=X)
    rep = find_kinks_sim_bn(fixed, X, y)
    assert rep.twice_differentiable and set(rep.dead) == {4, 5}
    # a live neuron exactly at 0 on one point: fatal with c != 0, harmless with gamma = W2 = 0
    p = fixed.numpy_params()
    p["W1"][4] = [1.0, 1.0, 0.0, 0.0]
    p["b1"][4] = 0.0  # z = x1 + x2: 0 on the mixed points, 2 on (1, 1)
    p["gamma"][4], p["W2"][0, 4] = 0.5, 0.0
    rep = find_kinks_sim_bn(fixed.replace(**p), X, y)
    assert rep.kinks and all(k.harmless for k in rep.kinks)  # interpolated and gamma W2 = 0
    p["W2"][0, 4] = 0.5
    rep = find_kinks_sim_bn(fixed.replace(**p), X, y)
    assert rep.fatal and "fatal" in rep.summary()


def test_fatal_kink_one_sided_second_derivatives_differ():
    """Independent of the classifier: finite differences of L along b1[j] differ on both sides."""
    ds = condition1_dataset(4, seed=0)
    X, y = ds.tensors()
    net = Network(SimBN(), near_flattest_sim_bn(4, 1.0, width=6).network.params, reference=X)
    p = net.numpy_params()
    p["b1"][0] = 0.0  # quadrant neuron (1, 1): z = x1 + x2, still phi = 2 on (1, 1), 0 elsewhere
    kinked = net.replace(**p)
    assert float((kinked(X) - y).abs().max()) < 1e-12  # still interpolates
    assert not find_kinks_sim_bn(kinked, X, y).twice_differentiable

    v = np.random.default_rng(0).normal(size=5)  # a generic line through neuron 0's (W1, b1)

    def loss(t):
        q = {k: a.copy() for k, a in p.items()}
        q["W1"][0] += t * v[:4]
        q["b1"][0] += t * v[4]
        return float(torch.mean((kinked.replace(**q)(X) - y) ** 2))

    h = 1e-4
    right = (loss(2 * h) - 2 * loss(h) + loss(0.0)) / h**2
    left = (loss(-2 * h) - 2 * loss(-h) + loss(0.0)) / h**2
    assert abs(right - left) > 1e-3


def test_lemma_a3_bounds_on_the_family_and_a_dead_neuron():
    ds = condition1_dataset(5, seed=2)
    X, y = ds.tensors()
    for s in (1.0, 5.0, 50.0):
        net = Network(SimBN(), near_flattest_sim_bn(5, s, width=6).network.params, reference=X)
        b = lemma_a3_bound(net, X)
        t = hessian_trace(net, X, y)
        assert t >= b.corrected - 1e-9 and close(b.corrected, 8.0) and close(b.l1, 2.0)
        assert t >= INFIMUM_CONDITION_1 and close(b.printed, 4.0)
    p = net.numpy_params()
    p["b1"][5], p["gamma"][5], p["W2"][0, 5] = -1.0, 10.0, 10.0
    dead = net.replace(**p)
    b = lemma_a3_bound(dead, X)
    assert close(hessian_trace(dead, X, y), t) and b.printed > t and close(b.corrected, 8.0)


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda net, X, y: hessian_diagonal_sim_bn(net, X[:3], y[:3]), "reference batch differs"),
        (lambda net, X, y: hessian_diagonal_sim_bn(net, X[:, :2], y), "need X of shape"),
        (lambda net, X, y: hessian_diagonal_sim_bn(net, X, y[:2]), "need y of shape"),
        (
            lambda net, X, y: lemma41_trace_sim_bn(
                Network(MLP(2), {"W1": np.ones((2, 4)), "b1": np.ones(2), "W2": np.ones((1, 2))}), X
            ),
            "need a 2-MLP-Sim-BN",
        ),
    ],
    ids=["reference", "X-shape", "y-shape", "arch"],
)
def test_bad_input_names_the_problem(call, match):
    ds = condition1_dataset(4, seed=0)
    X, y = ds.tensors()
    net = Network(SimBN(), near_flattest_sim_bn(4, 1.0).network.params, reference=X)
    with pytest.raises(ValueError, match=match):
        call(net, X, y)


def test_other_architectures_unchanged_by_registration():
    ds = sample_xor(4, 8, 0)
    X, y = ds.tensors()
    net = Network(MLP(2, bias=False), {"W1": np.eye(4)[:3], "W2": np.ones((1, 3))})
    assert close(hessian_trace(net, X, y, check_kinks=False), dense_hessian_trace(net, X, y))
