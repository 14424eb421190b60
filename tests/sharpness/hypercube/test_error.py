"""Exact hypercube error against a naive float loop, and where float rounding would be wrong."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from constructions import MLP, Network, four_neuron_solution, memorizing_solution, sample_xor
from sharpness import EnumerationTooLargeError, hypercube_error, sampled_hypercube_error
from sharpness.reference import naive_hypercube_error
from tests.strategies import random_networks


@given(st.data())
def test_matches_naive_enumeration_for_random_networks(data):
    d = data.draw(st.integers(2, 6))
    net = data.draw(random_networks(d, max_depth=3))
    hc = hypercube_error(net, chunk_size=7, progress=False)
    errors, mse = naive_hypercube_error(net)
    assert hc.errors == errors and hc.total == 2**d
    assert hc.mse == pytest.approx(mse, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("d,n", [(3, 1), (6, 10), (9, 100)])
def test_memorizing_errs_everywhere_off_the_training_set(d, n):
    ds = sample_xor(d, n, 0)
    net = memorizing_solution(ds, 2, directions="sphere", epsilon=1 / math.sqrt(d)).network
    hc = hypercube_error(net, progress=False)
    assert hc.errors == 2**d - n and hc.mse == pytest.approx((2**d - n) / 2**d, abs=1e-15)


def test_four_neuron_is_perfect():
    hc = hypercube_error(four_neuron_solution(8, width=8).network, progress=False)
    assert hc.errors == 0 and hc.mse == 0.0


def test_rational_recheck_corrects_float_rounding():
    # z = 1e16 x1 + x2 - 1e16: at x1 = x2 = 1 it is exactly 1, but float64 gives 0 (1e16 + 1 rounds
    # to 1e16). f = relu(z) is then positive, where y = x1 x2 = 1: a correct prediction that a
    # naive float evaluation counts as a mistake.
    params = {"W1": np.array([[1e16, 1.0, 0.0]]), "b1": np.array([-1e16]), "W2": np.ones((1, 1))}
    net = Network(MLP(), params)
    naive_errors, _ = naive_hypercube_error(net)
    hc = hypercube_error(net, progress=False)
    # Exact truth: f > 0 only where x1 = x2 = 1 (2 of 8 points, both with y = +1).
    assert hc.errors == 6
    assert naive_errors == 8
    assert hc.exact_rechecks >= 2


def test_exactly_cancelling_outputs_are_mistakes():
    # f = relu(x1 + x2) - relu(x1 + x2) = 0 everywhere, with active units: decided exactly as 0.
    params = {
        "W1": np.array([[1.0, 1.0], [1.0, 1.0]]),
        "b1": np.zeros(2),
        "W2": np.array([[1.0, -1.0]]),
    }
    hc = hypercube_error(Network(MLP(), params), progress=False)
    assert hc.errors == 4


def test_too_large_is_refused_with_a_pointer_to_sampling():
    # A generic width-100 network at d = 40: pruning cannot resolve it and 2^40 points would be
    # left to enumerate, beyond the limit: refused before any point is evaluated.
    from constructions import random_network

    net = random_network(40, 100, seed=0)
    with pytest.raises(EnumerationTooLargeError, match="--hypercube-samples") as info:
        hypercube_error(net, progress=False)
    assert info.value.needed is not None and info.value.needed > info.value.limit
    # Without pruning the limit applies to 2^d itself.
    with pytest.raises(EnumerationTooLargeError, match="2\\^33"):
        hypercube_error(random_network(33, 3, seed=0), prune=False, progress=False)


def test_paper_constructions_beyond_enumeration_are_exact():
    # d = 30 (the paper's setting) and d = 64 (2^64 points): decided by sub-cube pruning alone.
    four = hypercube_error(four_neuron_solution(30).network, progress=False)
    assert four.errors == 0 and four.evaluated == 0 and four.method == "sub-cube pruning"
    ds = sample_xor(64, 20, 0)
    net = memorizing_solution(ds, 2, directions="sphere", epsilon=1 / math.sqrt(64)).network
    hc = hypercube_error(net, progress=False)
    assert hc.total == 2**64 and hc.errors == 2**64 - 20 and hc.evaluated == 0


def test_sampled_estimate_interval_and_determinism():
    ds = sample_xor(12, 40, 0)
    net = memorizing_solution(ds, 2, directions="sphere", epsilon=1 / math.sqrt(12)).network
    a = sampled_hypercube_error(net, 4000, seed=5, confidence=0.999)
    b = sampled_hypercube_error(net, 4000, seed=5, confidence=0.999)
    assert a == b
    truth = 1 - 40 / 4096
    assert a.ci_low <= truth <= a.ci_high
    assert a.ci_high - a.ci_low < 0.02


def test_sampled_interval_covers_truth_at_nominal_rate():
    # Convergence, not one draw: over 200 seeds the 90% interval covers the truth ~90% of the time.
    params = {"W1": np.array([[1.0, 0.0, 0.0, 0.0]]), "b1": np.array([0.5]), "W2": np.ones((1, 1))}
    net = Network(MLP(), params)  # f > 0 iff x1 = 1, else f = 0: error exactly 1/4 + 1/2
    cover = [sampled_hypercube_error(net, 60, seed=s, confidence=0.9) for s in range(200)]
    rate = np.mean([c.ci_low <= 0.75 <= c.ci_high for c in cover])
    assert 0.85 <= rate <= 0.99
    assert torch.tensor([c.zero_one for c in cover]).mean() == pytest.approx(0.75, abs=0.02)
    assert hypercube_error(net, progress=False).zero_one == 0.75


@given(st.integers(0, 10_000), st.sampled_from(["simln", "simbn"]))
def test_normalized_architectures_match_naive_enumeration(seed, kind):
    from constructions import SimBN, SimLN

    g = torch.Generator().manual_seed(seed)
    d, m = 5, 4
    p = {
        "W1": torch.randn(m, d, generator=g, dtype=torch.float64),
        "b1": torch.randn(m, generator=g, dtype=torch.float64),
        "W2": torch.randn(1, m, generator=g, dtype=torch.float64),
    }
    if kind == "simln":
        net = Network(SimLN(eps=0.3), p)
    else:
        p["gamma"] = torch.randn(m, generator=g, dtype=torch.float64)
        net = Network(SimBN(), p, reference=torch.tensor(sample_xor(d, 7, seed % 50).X))
    hc = hypercube_error(net, progress=False)
    errors, mse = naive_hypercube_error(net)
    assert hc.errors == errors and hc.undecided == 0
    assert hc.mse == pytest.approx(mse, rel=1e-12, abs=1e-15)


def test_sim_bn_exact_cancellation_is_zero_and_needs_reference():
    from constructions import SimBN

    p = {
        "W1": np.array([[1.0, 1, 0], [1.0, 1, 0]]),
        "b1": np.zeros(2),
        "gamma": np.ones(2),
        "W2": np.array([[1.0, -1.0]]),
    }
    net = Network(SimBN(), p, reference=sample_xor(3, 5, 0).X)
    hc = hypercube_error(net, progress=False)
    assert hc.errors == 8 and hc.undecided == 0  # f = 0 exactly everywhere
    with pytest.raises(ValueError, match="reference"):
        hypercube_error(Network(SimBN(), p), progress=False)
