"""2-MLP-Sim-LN: exact trace vs the dense reference, kinks vs one-sided finite differences,
Lemma A.12 against random interpolators, and the "eps sufficiently small" ranges."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from constructions import Network, SimLN, sample_xor
from sharpness import NonDifferentiableError, find_kinks, hessian_trace, lemma41_trace
from sharpness.architectures.sim_ln import (
    NormSwitch,
    find_kinks_sim_ln,
    lemma_a12_printed,
    memorizing_epsilon_range,
    one_sided_traces_sim_ln,
    sim_ln_lower_bound,
    sim_ln_regimes,
    xor_epsilon_range,
)
from sharpness.reference import dense_hessian, dense_hessian_trace, naive_gradient_sq_norms
from tests.strategies import extreme_point_datasets, sim_ln_networks


def close(a, b, rtol=1e-9, atol=1e-12):
    return abs(a - b) <= atol + rtol * abs(b)


# --- exact trace ------------------------------------------------------------------------------


@settings(max_examples=25)
@given(sim_ln_networks(3), st.integers(0, 2**16), st.booleans())
def test_exact_trace_matches_dense_hessian(net, seed, interpolate):
    X = torch.tensor(np.random.default_rng(seed).normal(size=(5, 3)))
    y = (
        net(X).detach()
        if interpolate
        else torch.tensor(np.random.default_rng(seed + 1).normal(size=5))
    )
    t = hessian_trace(net, X, y)
    assert close(t, dense_hessian_trace(net, X, y), rtol=1e-8)
    if interpolate:  # Lemma 4.1's identity, at interpolation only for Sim-LN
        assert close(t, lemma41_trace(net, X), rtol=1e-8)


def test_lemma41_identity_fails_off_interpolation():
    net = Network(
        SimLN(0.5),
        {
            "W1": [[1.0, -0.5], [0.3, 0.8], [-1.0, 0.2]],
            "b1": [0.4, 0.1, 0.95],
            "W2": [[1.0, -2.0, 0.5]],
        },
    )
    X = torch.tensor([[1.0, 0.5], [-0.3, 1.0], [0.2, -0.7]], dtype=torch.float64)
    y = net(X).detach() + 1.0
    assert abs(hessian_trace(net, X, y) - lemma41_trace(net, X)) > 1e-3


# --- kinks vs one-sided finite differences ----------------------------------------------------


def _loss_along(net, X, y, v):
    names = net.arch.param_names
    shapes = [net.params[k].shape for k in names]
    flat0 = torch.cat([net.params[k].reshape(-1) for k in names])

    def phi(t):
        flat, p, s = flat0 + t * v, {}, 0
        for k, shape in zip(names, shapes, strict=True):
            size = int(np.prod(shape))
            p[k] = flat[s : s + size].reshape(shape)
            s += size
        return float(torch.mean((net.arch.forward(p, X) - y) ** 2))

    return phi


def one_sided_second_derivatives(net, X, y, v, t=1e-4):
    """phi''(0+) and phi''(0-) of phi(t) = L(theta + t v), Richardson-extrapolated."""
    phi = _loss_along(net, X, y, v)

    def second(s):
        D = lambda h: (phi(2 * h) - 2 * phi(h) + phi(0.0)) / h**2  # noqa: E731
        return 2 * D(s) - D(2 * s)

    return second(t), second(-t)


def _directions(net, k, rng, count=4):
    """Random directions with a component along b1[k] and W2[k] (across the kink of unit k)."""
    names = net.arch.param_names
    sizes = {n: net.params[n].numel() for n in names}
    offset = {n: sum(sizes[m] for m in names[: names.index(n)]) for n in names}
    P = sum(sizes.values())
    out = []
    for _ in range(count):
        v = torch.tensor(rng.normal(size=P))
        v[offset["b1"] + k] = 1.0
        v[offset["W2"] + k] = 1.0
        out.append(v / v.norm())
    return out


def _net(W1, b1, W2, eps):
    return Network(SimLN(eps), {"W1": W1, "b1": b1, "W2": W2})


X1 = torch.tensor([[1.0, 0.5]], dtype=torch.float64)
# unit 0 active (z = 2), unit 1 on its kink (z = 1 - 2*0.5 = 0 exactly)
KINK_W1 = [[1.0, 0.0], [1.0, -2.0]]
KINK_B1 = [1.0, 0.0]


@pytest.mark.parametrize("eps", [0.1, 5.0], ids=["normalized", "linear"])
def test_zero_weight_kink_at_interpolation_is_harmless_both_sides_agree(eps):
    net = _net(KINK_W1, KINK_B1, [[0.7, 0.0]], eps)
    y = net(X1).detach()
    rep = find_kinks(net, X1, y)
    assert len(rep.kinks) == 1 and rep.twice_differentiable
    H = dense_hessian(net, X1, y)
    for v in _directions(net, 1, np.random.default_rng(0)):
        right, left = one_sided_second_derivatives(net, X1, y, v)
        vHv = float(v @ H @ v)
        assert abs(right - left) < 1e-5 * max(1.0, abs(vHv))
        assert abs(right - vHv) < 1e-5 * max(1.0, abs(vHv))


@pytest.mark.parametrize("eps", [0.1, 5.0], ids=["normalized", "linear"])
def test_zero_weight_kink_off_interpolation_is_fatal_sides_differ(eps):
    net = _net(KINK_W1, KINK_B1, [[0.7, 0.0]], eps)
    y = net(X1).detach() - 1.0
    rep = find_kinks(net, X1, y)
    assert len(rep.fatal) == 1
    with pytest.raises(NonDifferentiableError):
        hessian_trace(net, X1, y)
    gaps = [
        abs(r - l)
        for r, l in (
            one_sided_second_derivatives(net, X1, y, v)
            for v in _directions(net, 1, np.random.default_rng(1))
        )
    ]
    assert max(gaps) > 1e-3


def test_nonzero_weight_kink_is_fatal_even_at_interpolation():
    net = _net(KINK_W1, KINK_B1, [[0.7, 0.4]], 0.1)
    y = net(X1).detach()
    assert len(find_kinks(net, X1, y).fatal) == 1
    gaps = [
        abs(r - l)
        for r, l in (
            one_sided_second_derivatives(net, X1, y, v)
            for v in _directions(net, 1, np.random.default_rng(2))
        )
    ]
    assert max(gaps) > 1e-3
    lo, hi = one_sided_traces_sim_ln(net, X1)
    assert hi - lo > 1e-3


def test_switch_with_nonzero_output_is_fatal_sides_differ():
    # one active unit with h = 0.5 = eps: f = W2 exactly on both branches, slopes differ
    net = _net([[1.0, 0.0]], [-0.5], [[0.7]], 0.5)
    y = net(X1).detach()
    rep = find_kinks_sim_ln(net, X1, y)
    assert [type(k) for k in rep.fatal] == [NormSwitch] and "switch" in rep.summary()
    assert list(sim_ln_regimes(net, X1)) == ["switch"]
    with pytest.raises(NonDifferentiableError):
        hessian_trace(net, X1, y)
    v = torch.tensor([0.0, 0.0, 1.0, 0.0], dtype=torch.float64)  # along b1: ||h|| crosses eps
    right, left = one_sided_second_derivatives(net, X1, y, v)
    assert abs(right - left) > 1e-3
    lo, hi = one_sided_traces_sim_ln(net, X1)
    assert lo < hi


def test_switch_with_zero_output_at_interpolation_is_harmless():
    # h = (0.5, 0.5), ||h|| = sqrt(0.5) = eps and W2 = (1, -1): f = 0 = y
    net = _net([[1.0, 0.0], [0.0, 1.0]], [-0.5, 0.0], [[1.0, -1.0]], math.sqrt(0.5))
    X = torch.tensor([[1.0, 0.5]], dtype=torch.float64)
    y = torch.zeros(1, dtype=torch.float64)
    rep = find_kinks_sim_ln(net, X, y)
    assert len(rep.switches) == 1 and rep.twice_differentiable
    H = dense_hessian(net, X, y)
    rng = np.random.default_rng(3)
    for _ in range(4):
        v = torch.tensor(rng.normal(size=8))
        right, left = one_sided_second_derivatives(net, X, y, v)
        vHv = float(v @ H @ v)
        assert abs(right - left) < 1e-5 * max(1.0, abs(vHv))
        assert abs(right - vHv) < 1e-5 * max(1.0, abs(vHv))
    assert not find_kinks_sim_ln(net, X, y + 0.5).twice_differentiable


def test_without_labels_every_kink_is_fatal_and_wrong_architecture_is_refused():
    net = _net(KINK_W1, KINK_B1, [[0.7, 0.0]], 0.1)
    assert len(find_kinks_sim_ln(net, X1).fatal) == 1
    from constructions import random_network

    with pytest.raises(ValueError, match="Sim-LN"):
        find_kinks_sim_ln(random_network(2, 3), X1)


# --- Lemma A.12 -------------------------------------------------------------------------------


@settings(max_examples=40)
@given(sim_ln_networks(4, max_width=8), st.integers(0, 2**16))
def test_every_random_interpolator_respects_the_bound_point_by_point(net, seed):
    X = sample_xor(4, 10, seed % 1000).X
    y = net(torch.tensor(X)).detach().numpy()  # net interpolates its own outputs
    b = sim_ln_lower_bound(X, y, net.arch.eps)
    sq = naive_gradient_sq_norms(net, X).numpy()  # ||grad f(x_i)||^2, one backward per point
    assert np.all(sq >= b.per_example - 1e-9 * np.maximum(1.0, b.per_example))
    assert hessian_trace(net, X, y) >= b.trace - 1e-9 * max(1.0, b.trace)


@given(extreme_point_datasets(), st.floats(1e-3, 1e3))
def test_printed_lemma_a12_equals_the_case_analysis(ds, eps):
    assert close(sim_ln_lower_bound(ds.X, ds.y, eps).trace, lemma_a12_printed(ds.X, ds.y, eps))


def test_bound_on_pxor_is_two_up_to_twice_sqrt_d_plus_one():
    ds = sample_xor(8, 20, 0)
    c = math.sqrt(9)
    assert sim_ln_lower_bound(ds.X, ds.y, 0.99 * c).trace == 2.0  # the paper's eps < sqrt(d+1)
    assert sim_ln_lower_bound(ds.X, ds.y, 2 * c).trace == 2.0  # ... and up to 2 sqrt(d+1)
    assert close(sim_ln_lower_bound(ds.X, ds.y, 3 * c).trace, 4 / 3)
    b = sim_ln_lower_bound(ds.X, np.zeros(20), 1.0)
    assert b.trace == 0.0 and set(b.regimes) == {"zero label"}
    with pytest.raises(ValueError, match="eps"):
        sim_ln_lower_bound(ds.X, ds.y, 0.0)


# --- "eps sufficiently small" -----------------------------------------------------------------


def test_memorizing_range_is_the_complement_of_the_bad_intervals():
    X = np.zeros((3, 1))  # ||x'|| = 1, so c = |y|
    y = np.array([1.0, 1.5, 5.0])
    rng = memorizing_epsilon_range(X, y, "printed")
    # bad: [1, 2) U [1.5, 3) = [1, 3) and [5, 10)
    assert rng.intervals == (
        (0.0, False, 1.0, False),
        (3.0, True, 5.0, False),
        (10.0, True, math.inf, False),
    )
    assert rng.sufficiently_small == 1.0 and not rng.inclusive
    for eps, ok in [
        (0.5, True),
        (1.0, False),
        (2.9, False),
        (3.0, True),
        (4.99, True),
        (5.0, False),
        (10.0, True),
    ]:
        assert rng.contains(eps) is ok, eps
    assert "[3, 5)" in rng.describe()
    everything = memorizing_epsilon_range(X, y, "corrected")
    assert (
        everything.contains(1e-300) and everything.contains(1e300) and not everything.contains(0.0)
    )


def test_xor_range_printed_is_up_to_twice_sqrt_d_plus_one():
    rng = xor_epsilon_range(8, "printed")
    assert rng.contains(6.0) and not rng.contains(6.000001) and rng.inclusive
    assert "sqrt(d+1) = 3" in rng.paper
    assert xor_epsilon_range(8).contains(1e6)
    with pytest.raises(ValueError, match="form"):
        xor_epsilon_range(8, "typo")
