"""Numerically-zero ReLU pre-activations: found, classified, never differentiated through."""

import numpy as np
import torch

from constructions import (
    MLP,
    Network,
    four_neuron_solution,
    memorizing_solution,
    random_network,
    sample_xor,
)
from sharpness import find_kinks
from sharpness.reference import dense_hessian


def test_eq5_zero_neurons_are_harmless_and_hessian_is_the_true_one():
    ds = sample_xor(4, 8, 0)
    net = four_neuron_solution(4, width=8).network
    report = find_kinks(net, ds.X, ds.y)
    assert report.twice_differentiable and len(report.harmless) == 4 * 8
    # relu'(0) = 0 and relu'(0) = 1 give the same Hessian there: mimic the latter by a net whose
    # dead neurons have tiny positive bias (they are then active, with zero outgoing weight).
    p = net.numpy_params()
    p["b1"][4:] = 1e-300
    X, y = ds.tensors()
    torch.testing.assert_close(dense_hessian(net, X, y), dense_hessian(Network(net.arch, p), X, y))


def test_same_zero_neurons_are_fatal_off_interpolation():
    ds = sample_xor(4, 8, 0)
    net = four_neuron_solution(4, width=8).network
    assert not find_kinks(net, ds.X, -ds.y).twice_differentiable


def test_printed_deep_memorizing_is_fatal():
    ds = sample_xor(4, 6, 1)
    rep = find_kinks(memorizing_solution(ds, 4, form="printed").network, ds.X, ds.y)
    assert len(rep.fatal) == 2 * 6 * 5  # two middle layers, n-1 silent neurons per point
    assert "fatal" in rep.summary()


def test_dead_layer_is_not_a_kink():
    # Layer 1 entirely dead at the point: layer 2's pre-activations are identically 0 nearby.
    params = {
        "W1": -np.ones((2, 2)),
        "b1": -np.ones(2),
        "W2": np.ones((3, 2)),
        "W3": np.ones((1, 3)),
    }
    net = Network(MLP(depth=3), params)
    assert find_kinks(net, np.array([[1.0, 1.0]]), np.array([0.0])).kinks == ()


def test_a_kink_on_a_live_path_is_fatal():
    params = {"W1": np.array([[1.0, -1.0]]), "b1": np.zeros(1), "W2": np.ones((1, 1))}
    net = Network(MLP(), params)
    rep = find_kinks(net, np.array([[1.0, 1.0]]), np.array([0.0]))
    assert len(rep.fatal) == 1 and rep.fatal[0].point == 0


def test_random_networks_have_no_kinks():
    net = random_network(5, [6, 6], seed=0)
    assert find_kinks(net, sample_xor(5, 10, 0).X).kinks == ()
