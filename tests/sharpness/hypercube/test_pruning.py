"""Sub-cube branch-and-bound against the naive float loop, and at d where nothing can enumerate."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from constructions import (
    MLP,
    Network,
    four_neuron_solution,
    memorizing_solution,
    random_network,
    sample_xor,
)
from sharpness.hypercube.error import EnumerationTooLargeError
from sharpness.hypercube.pruning import branch_and_bound, coordinate_order
from sharpness.reference import naive_hypercube_error


def _sparse_relu_network(d: int, widths, seed: int, shift: float) -> Network:
    """Gaussian ReLU network whose first-layer biases are shifted down: many units are dead on
    large sub-cubes (the trained-network case the pruning is for)."""
    net = random_network(d, widths, seed=seed)
    p = net.numpy_params()
    p["b1"] = p["b1"] - shift
    return Network(net.arch, p)


@given(
    st.integers(3, 8),
    st.sampled_from([[5], [4, 3], [3, 3, 2]]),
    st.integers(0, 10_000),
    st.sampled_from([0.0, 0.8, 1.5]),
    st.sampled_from([1, 4, 64, 1 << 14]),
)
def test_matches_naive_enumeration(d, widths, seed, shift, max_open):
    # max_open = 1 enumerates everything; small values stop the pruning part-way (pruned +
    # enumerated sub-cubes); large values prune as far as possible.
    net = _sparse_relu_network(d, widths, seed, shift)
    out = branch_and_bound(net, max_points=1 << 20, max_open=max_open, backend="eager")
    errors, mse = naive_hypercube_error(net)
    assert out.resolved_points + out.enumerated_points == 2**d
    assert out.tally.mistakes == errors
    assert out.tally.sse / 2**d == pytest.approx(mse, rel=1e-12, abs=1e-15)


def test_pruning_resolves_dead_and_affine_sub_cubes():
    # Neuron 1 fires only where x1 = x2 = 1 (affine, sign certain), neuron 2 never: the whole
    # cube is resolved after branching on the two label coordinates.
    p = {"W1": [[1.0, 1.0, 0.1, 0.1], [0.1, 0.0, 0.0, 0.0]], "b1": [-1.5, -2.0], "W2": [[1.0, 3.0]]}
    net = Network(MLP(), p)
    out = branch_and_bound(net, max_points=1, backend="eager")
    assert out.enumerated_points == 0 and out.resolved_points == 16
    errors, mse = naive_hypercube_error(net)
    assert out.tally.mistakes == errors == 12
    assert out.tally.sse / 16 == pytest.approx(mse, rel=1e-12)


def test_near_zero_affine_piece_is_not_decided_in_float():
    # f = relu(1e16 x1 + x2 - 1e16 + ...) is affine with a range that touches 0 on float
    # evaluation: the bound keeps such sub-cubes open and the exact recheck decides them.
    params = {"W1": np.array([[1e16, 1.0, 0.0]]), "b1": np.array([-1e16]), "W2": np.ones((1, 1))}
    out = branch_and_bound(Network(MLP(), params), max_points=1 << 10, backend="eager")
    assert out.tally.mistakes == 6


@pytest.mark.parametrize("depth", [2, 3])
def test_memorizing_solution_at_d_64(depth):
    d, n = 64, 30
    ds = sample_xor(d, n, 1)
    net = memorizing_solution(ds, depth, directions="sphere", epsilon=1 / math.sqrt(d)).network
    out = branch_and_bound(net, max_points=1, backend="eager")
    assert out.enumerated_points == 0
    assert out.tally.mistakes == 2**d - n  # Proposition 4.1, as an exact integer
    assert out.tally.sse == pytest.approx(float(2**d - n), rel=1e-12)


def test_four_neuron_solution_at_d_64():
    out = branch_and_bound(four_neuron_solution(64).network, max_points=1, backend="eager")
    assert out.enumerated_points == 0 and out.tally.mistakes == 0 and out.tally.sse == 0.0


def test_refuses_before_enumerating_when_too_much_is_left():
    net = random_network(30, 20, seed=0)
    with pytest.raises(EnumerationTooLargeError, match="--hypercube-samples"):
        branch_and_bound(net, max_points=1 << 20, max_open=1 << 8, backend="eager")


def test_label_coordinates_branch_first():
    W1 = torch.tensor([[0.0, 0.0, 5.0, 1.0, 3.0]])
    assert coordinate_order(W1) == [0, 1, 2, 4, 3]
