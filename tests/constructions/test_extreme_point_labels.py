"""constructions.extreme_point_labels (Proposition A.1, Eq. (16)): support, draws, validation,
and the printed versus corrected network. Expected values by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from constructions.extreme_point_labels import (
    LabelledSupport,
    prop_a1_solution,
    sample_from_support,
    sample_support,
)


def test_support_on_sphere_and_margins_by_hand():
    sup = LabelledSupport(np.array([[2.0, 0.0], [0.0, 2.0], [-2.0, 0.0]]), np.array([1.0, -1, 2]))
    # w_0 = e_1: margins 2 - 0 = 2 (to (0, 2)); w_1 = e_2: 2; w_2 = -e_1: 2
    assert np.allclose(sup.margins(), [2.0, 2.0, 2.0])
    assert sup.radius == 2.0 and sup.k == 3 and sup.s == 2


@pytest.mark.parametrize(
    "points, labels, needle",
    [
        ([[1.0, 0.0], [0.0, 2.0]], [1.0, 1.0], "norm"),
        ([[1.0, 0.0], [1.0, 0.0]], [1.0, 1.0], "distinct"),
        ([[1.0, 0.0], [0.0, 1.0]], [1.0, 0.0], "is 0"),
        ([[1.0, 0.0]], [1.0], "k >= 2"),
    ],
)
def test_bad_support(points, labels, needle):
    with pytest.raises(ValueError, match=needle):
        LabelledSupport(np.array(points), np.array(labels))


def test_draws_norms_and_determinism():
    sup = sample_support(6, 3, seed=2)
    ds, idx = sample_from_support(sup, 40, 7, 3.0, seed=5)
    assert np.allclose(np.linalg.norm(ds.X, axis=1), 3.0)
    assert np.array_equal(ds.X[:, :3], sup.points[idx]) and np.array_equal(ds.y, sup.labels[idx])
    again, _ = sample_from_support(sup, 40, 7, 3.0, seed=5)
    assert np.array_equal(ds.X, again.X)
    with pytest.raises(ValueError, match="R must be"):
        sample_from_support(sup, 5, 7, 1.0)
    with pytest.raises(ValueError, match="R must be"):
        sample_from_support(sup, 5, 3, 3.0)


def test_corrected_interpolates_and_attains_the_bound_per_point():
    sup = sample_support(8, 3, seed=1)
    ds, _ = sample_from_support(sup, 30, 6, 3.0, seed=1)
    net = prop_a1_solution(sup, 6, 3.0).network
    X = torch.tensor(ds.X)
    assert np.allclose(net(X).detach().numpy().ravel(), ds.y, rtol=1e-12, atol=1e-13)
    # one active unit per point, activation r_j with r_j^2 = |y_j| sqrt(R^2 + 1)
    act = torch.relu(X @ net.params["W1"].T + net.params["b1"]).numpy()
    assert np.all((act > 0).sum(axis=1) == 1)
    assert np.allclose(act.max(axis=1) ** 2, np.abs(ds.y) * math.sqrt(10.0))


def test_printed_does_not_interpolate_and_bad_epsilon():
    sup = sample_support(8, 3, seed=1)
    ds, _ = sample_from_support(sup, 10, 6, 3.0, seed=1)
    net = prop_a1_solution(sup, 6, 3.0, form="printed").network
    assert not np.allclose(net(torch.tensor(ds.X)).detach().numpy().ravel(), ds.y)
    with pytest.raises(ValueError, match="epsilon"):
        prop_a1_solution(sup, 6, 3.0, epsilon=-1.0)
