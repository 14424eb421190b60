"""Table enumeration of {-1,1}^d against the naive float loop, and its exact sign decisions."""

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from constructions import MLP, Network, SimBN, SimLN, random_network, sample_xor
from constructions.hypercube import hypercube_points
from sharpness.hypercube.enumeration import LOW_BITS, CubeEnumerator, fast_hypercube_error
from sharpness.reference import naive_hypercube_error
from tests.strategies import random_networks


@given(st.data())
def test_matches_naive_for_random_mlps(data):
    d = data.draw(st.integers(2, 7))
    activation = data.draw(st.sampled_from(["relu", "softplus"]))
    net = data.draw(random_networks(d, activation=activation, max_depth=4))
    chunk = data.draw(st.sampled_from([1, 5, 1 << 18]))  # blocks of one row up to one block
    hc = fast_hypercube_error(net, backend="eager", chunk_size=chunk, progress=False)
    errors, mse = naive_hypercube_error(net)
    assert hc.total == 2**d and hc.evaluated == 2**d
    if activation == "relu":
        assert hc.errors == errors and hc.undecided == 0
    else:  # softplus outputs cannot be evaluated exactly: a point near 0 may stay undecided
        assert abs(hc.errors - errors) <= hc.undecided
    assert hc.mse == pytest.approx(mse, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("kind", ["relu2", "deep", "simln", "simbn"])
def test_low_and_high_tables_beyond_one_block(kind):
    # d > LOW_BITS: both the low table A and the high table B are used, every family.
    d = LOW_BITS + 2
    if kind == "relu2":
        net = random_network(d, 9, seed=1)
    elif kind == "deep":
        net = random_network(d, [6, 5], seed=2)
    else:
        rng = np.random.default_rng(3)
        p = {"W1": rng.normal(size=(7, d)), "b1": rng.normal(size=7), "W2": rng.normal(size=(1, 7))}
        if kind == "simln":
            net = Network(SimLN(eps=0.5), p)
        else:
            p["gamma"] = rng.normal(size=7)
            net = Network(SimBN(), p, reference=sample_xor(d, 15, 0).X)
    hc = fast_hypercube_error(net, backend="eager", chunk_size=1 << 12, progress=False)
    errors, mse = naive_hypercube_error(net)
    assert hc.errors == errors and hc.undecided == 0
    assert hc.mse == pytest.approx(mse, rel=1e-12, abs=1e-15)


def test_sub_cubes_with_fixed_coordinates():
    d = 7
    net = random_network(d, 6, seed=4)
    fixed, free = [5, 0, 3], [1, 2, 4, 6]
    assign = torch.tensor([[1, -1, 1], [-1, -1, -1], [1, 1, -1]], dtype=torch.int8)
    tally = CubeEnumerator(net, backend="eager", chunk_size=3).run(fixed, free, assign)
    X = torch.empty(3 * 16, d, dtype=torch.float64)
    X[:, free] = hypercube_points(torch.arange(16), 4, torch.float64).repeat(3, 1)
    X[:, fixed] = assign.repeat_interleave(16, dim=0).to(torch.float64)
    y = X[:, 0] * X[:, 1]
    f = net(X)
    assert tally.points == 48
    assert tally.mistakes == int(torch.sum(y * f <= 0))
    assert tally.sse == pytest.approx(float(torch.sum((f - y) ** 2)), rel=1e-12)
    with pytest.raises(ValueError, match="partition"):
        CubeEnumerator(net).run([0], [1, 2], torch.ones(1, 1, dtype=torch.int8))


def test_float_rounding_never_decides_a_sign():
    # z = 1e16 x1 + x2 - 1e16 is exactly 1 at x1 = x2 = 1, but 1e16 + 1 rounds to 1e16 in float64
    # (and anything in float32): the float output 0 would count a mistake. The kernel flags it
    # (|f| <= the uniform bound) and the rational recheck decides f = 1 > 0 = correct.
    params = {"W1": np.array([[1e16, 1.0, 0.0]]), "b1": np.array([-1e16]), "W2": np.ones((1, 1))}
    net = Network(MLP(), params)
    hc = fast_hypercube_error(net, backend="eager", progress=False)
    assert hc.errors == 6 and hc.exact_rechecks >= 2
    assert naive_hypercube_error(net)[0] == 8  # the naive float count is wrong here


def test_exact_zero_with_active_units_is_a_mistake():
    # f = relu(x1 + x2) - relu(x1 + x2) = 0 exactly: y f = 0 is a mistake at all 4 points.
    params = {"W1": [[1.0, 1.0], [1.0, 1.0]], "b1": [0.0, 0.0], "W2": [[1.0, -1.0]]}
    hc = fast_hypercube_error(Network(MLP(), params), backend="eager", progress=False)
    assert hc.errors == 4


def test_compiled_kernel_agrees_with_eager():
    # One compiled run (torch.compile; it falls back to plain torch with a warning where no
    # compiler is available, which must give the same numbers).
    net = random_network(11, 12, seed=5)
    a = fast_hypercube_error(net, backend="compiled", progress=False)
    b = fast_hypercube_error(net, backend="eager", progress=False)
    assert (a.errors, a.undecided) == (b.errors, b.undecided)
    assert a.mse == pytest.approx(b.mse, rel=1e-12)


def test_bad_arguments():
    net = random_network(3, 2, seed=0)
    with pytest.raises(ValueError, match="backend"):
        fast_hypercube_error(net, backend="fast")
    with pytest.raises(ValueError, match="use hypercube_error"):
        fast_hypercube_error(random_network(63, 1, seed=0))


def test_deterministic():
    net = random_network(9, 7, seed=6)
    assert fast_hypercube_error(net, progress=False) == fast_hypercube_error(net, progress=False)
