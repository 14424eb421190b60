"""constructions.circle (Proposition A.2): sampling, validation, Eq. (17) printed and repaired.

Expected values are computed here by hand (angles, caps), not by the module."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from constructions.circle import circle_dataset, prop_a2_solution, sample_circle


def test_sample_is_on_the_circle_with_norm_r_and_sorted():
    ds = sample_circle(30, d=5, R=2.0, seed=1)
    assert np.allclose(np.linalg.norm(ds.X[:, :2], axis=1), 1.0)
    assert np.allclose(np.linalg.norm(ds.X, axis=1), 2.0)
    phi = np.mod(np.arctan2(ds.X[:, 1], ds.X[:, 0]), 2 * np.pi)
    assert np.all(np.diff(phi) > 0)
    assert np.allclose(ds.y, 1 + ds.X[:, 0] / 2)


def test_same_seed_same_numbers():
    assert np.array_equal(sample_circle(10, seed=4).X, sample_circle(10, seed=4).X)


@pytest.mark.parametrize(
    "kwargs, needle",
    [
        ({"n": 0}, "n must"),
        ({"n": 5, "d": 1}, "d must"),
        ({"n": 5, "d": 2, "R": 2.0}, "R must be 1"),
        ({"n": 5, "d": 3, "R": 0.5}, "R must be >= 1"),
    ],
)
def test_bad_arguments(kwargs, needle):
    with pytest.raises(ValueError, match=needle):
        sample_circle(**kwargs)


def test_circle_dataset_refuses_off_circle_and_repeats():
    with pytest.raises(ValueError, match="not 1"):
        circle_dataset(np.array([[2.0, 0.0], [0.0, 1.0]]), np.ones(2))
    with pytest.raises(ValueError, match="same angle"):
        circle_dataset(np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]), np.ones(3))


def test_construction_refuses_zero_labels_and_tiny_sets():
    ds = sample_circle(5, seed=0)
    with pytest.raises(ValueError, match="label"):
        prop_a2_solution(circle_dataset(ds.X, np.r_[0.0, ds.y[1:]]))
    with pytest.raises(ValueError, match="n >= 3"):
        prop_a2_solution(sample_circle(2, seed=0))
    with pytest.raises(ValueError, match="form"):
        prop_a2_solution(ds, form="both")


def test_caps_by_hand_on_a_square():
    # four points at angles 0, pi/2, pi, 3pi/2: gaps pi/2, alpha = 0.9 pi/2
    X = np.array([[1.0, 0], [0, 1.0], [-1.0, 0], [0, -1.0]])
    ds = circle_dataset(X, np.array([1.0, 2.0, 0.5, 1.5]))
    net = prop_a2_solution(ds).network
    Xt = torch.tensor(ds.X)
    assert np.allclose(net(Xt).detach().numpy().ravel(), ds.y, rtol=1e-12)
    a = 0.9 * math.pi / 2
    t = math.pi / 4  # halfway between points 0 and 1
    v = torch.tensor([[math.cos(t), math.sin(t)]], dtype=torch.float64)
    cap = lambda d_: max(0.0, (math.cos(d_) - math.cos(a)) / (1 - math.cos(a)))  # noqa: E731
    want = ds.y[0] * cap(t) + ds.y[1] * cap(t)
    assert float(net(v)) == pytest.approx(want, rel=1e-12)
    # on a square the printed Eq. (17) happens to fire on caps too (threshold 1 - cos(pi/4))
    assert np.allclose(prop_a2_solution(ds, "printed").network(Xt).detach().numpy().ravel(), ds.y)


def test_printed_fires_on_half_planes_for_dense_data():
    ds = sample_circle(40, seed=0)
    net = prop_a2_solution(ds, "printed").network
    X = torch.tensor(ds.X)
    pre = X @ net.params["W1"].T + net.params["b1"]
    # threshold w_j^T v_j - w_j^T z_j -> 0 as the gaps shrink: about half the neurons fire
    assert 15 <= float((pre > 0).sum(dim=1).double().mean()) <= 25
    assert float((net(X).detach().ravel() - torch.tensor(ds.y)).abs().max()) > 10


def test_gap_wider_than_pi_is_handled():
    X = np.array([[1.0, 0.0], [math.cos(0.3), math.sin(0.3)], [math.cos(0.6), math.sin(0.6)]])
    ds = circle_dataset(X, np.ones(3))
    net = prop_a2_solution(ds).network
    assert np.allclose(net(torch.tensor(ds.X)).detach().numpy().ravel(), 1.0, rtol=1e-12)
