"""Exact constructions agree with the float ones (which the float tests verify independently)."""

import numpy as np
import pytest
import sympy as sp

from constructions import four_neuron_solution, memorizing_solution, sample_xor
from constructions.symbolic import (
    exact_four_neuron_solution,
    exact_memorizing_solution,
    exact_random_network,
    rational_matrix,
)


def _floats(params):
    return {k: np.array(v.evalf(30).tolist(), dtype=float) for k, v in params.items()}


@pytest.mark.parametrize("depth,form", [(2, "corrected"), (3, "corrected"), (3, "printed")])
def test_exact_memorizing_matches_float_for_sphere_directions(depth, form):
    ds = sample_xor(4, 6, 0)
    exact = exact_memorizing_solution(ds.X, ds.y, depth, directions="sphere", epsilon=1, form=form)
    flt = memorizing_solution(
        ds, depth, directions="sphere", epsilon=0.5, form=form
    ).network.numpy_params()
    # w_i = x_i with eps = 1 is the printed network for w_i/sqrt(d) = x_i/2 with eps = 1/2
    for k, v in _floats(exact.params).items():
        np.testing.assert_allclose(v.reshape(flt[k].shape), flt[k], rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("depth", [2, 3])
def test_exact_four_neuron_matches_float(depth):
    exact = exact_four_neuron_solution(sample_xor(5, 6, 0).X, 5, width=6, depth=depth)
    flt = four_neuron_solution(5, width=6, depth=depth).network.numpy_params()
    for k, v in _floats(exact.params).items():
        np.testing.assert_allclose(v.reshape(flt[k].shape), flt[k], rtol=1e-13, atol=1e-15)


def test_rational_matrix_is_exact():
    m = rational_matrix([[0.1, 2.0], [-3.0, 0.5]])
    assert m[0, 0] == sp.Rational(0.1) and m[1, 1] == sp.Rational(1, 2) and m[1, 0] == -3


def test_random_network_seeded():
    assert exact_random_network(3, [2], 5) == exact_random_network(3, [2], 5)


def test_bad_directions_are_refused():
    X = np.array([[1.0, 0.0], [0.0, 1.0]])
    with pytest.raises(ValueError, match="does not separate"):
        exact_memorizing_solution(X, [1.0, 1.0], directions=np.array([[0.0, 1.0], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="directions must"):
        exact_memorizing_solution(X, [1.0, 1.0], directions="typo")
