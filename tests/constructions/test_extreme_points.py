import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from constructions import (
    NotExtremePointsError,
    certify_extreme_points,
    directions_certificate,
    sphere_directions,
)
from tests.strategies import extreme_point_sets


@given(extreme_point_sets(max_n=10))
def test_generated_sets_are_certified(X):
    cert = certify_extreme_points(X)
    assert cert.directions.shape == X.shape
    np.testing.assert_allclose(np.linalg.norm(cert.directions, axis=1), 1.0)
    # Independent recomputation of every margin.
    for i in range(X.shape[0]):
        others = np.delete(X, i, axis=0)
        if others.size:
            assert np.min((X[i] - others) @ cert.directions[i]) > 0


@given(extreme_point_sets(max_n=8), st.integers(0, 7), st.floats(0.05, 0.95))
def test_a_convex_combination_is_named(X, j, t):
    if X.shape[0] < 2:
        return
    j = j % X.shape[0]
    k = (j + 1) % X.shape[0]
    inner = t * X[j] + (1 - t) * X[k]
    Y = np.vstack([X, inner])
    with pytest.raises(NotExtremePointsError) as info:
        certify_extreme_points(Y)
    assert info.value.index == X.shape[0]


def test_duplicate_point_is_named():
    X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    with pytest.raises(NotExtremePointsError, match="point 2 duplicates point 0"):
        certify_extreme_points(X)


def test_interior_point_of_square():
    X = np.array([[0.0, 0], [1, 0], [0, 1], [1, 1], [0.5, 0.5]])
    with pytest.raises(NotExtremePointsError) as info:
        certify_extreme_points(X)
    assert info.value.index == 4


def test_sphere_directions_margin_on_cube_is_two_over_root_d():
    from constructions import hypercube_points

    X = hypercube_points(np.arange(32), 5).numpy()
    cert = sphere_directions(X)
    assert cert.min_margin == pytest.approx(2 / np.sqrt(5), rel=1e-15)


def test_sphere_directions_need_a_sphere():
    with pytest.raises(ValueError, match="same nonzero distance"):
        sphere_directions(np.array([[1.0, 0.0], [0.0, 2.0]]))


def test_given_directions_that_do_not_separate_fail():
    X = np.array([[1.0, 0.0], [0.0, 1.0]])
    with pytest.raises(NotExtremePointsError):
        directions_certificate(X, np.array([[0.0, 1.0], [0.0, 1.0]]))
