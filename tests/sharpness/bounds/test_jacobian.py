"""The Jacobian lower bound: a closed form from the data, never beaten by an interpolator."""

import numpy as np
import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st

from constructions import four_neuron_solution, memorizing_solution, sample_xor, self_labelled
from sharpness import eq4_residuals, find_kinks, hessian_trace, jacobian_lower_bound, tolerance_for
from tests.strategies import extreme_point_sets, random_networks

TOL = tolerance_for(torch.float64)


def test_closed_form_on_the_hypercube():
    ds = sample_xor(10, 20, 0)
    assert jacobian_lower_bound(ds.X, ds.y, 2).trace == pytest.approx(4 * np.sqrt(11), rel=1e-15)
    # D layers: (2/n) sum D |y|^{2(D-1)/D} ||x'||^{2/D} = 2 D (d+1)^{1/D}
    for D in (3, 4, 5):
        assert jacobian_lower_bound(ds.X, ds.y, D).trace == pytest.approx(
            2 * D * 11 ** (1 / D), rel=1e-14
        )


@given(st.data())
def test_random_interpolators_never_beat_the_bound(data):
    X = data.draw(extreme_point_sets(max_n=6))
    bias = data.draw(st.booleans())
    net = data.draw(random_networks(X.shape[1], bias=bias, max_depth=4))
    ds = self_labelled(net, X)
    assume(find_kinks(net, ds.X, ds.y).twice_differentiable)
    Xt, yt = ds.tensors()
    bound = jacobian_lower_bound(ds.X, ds.y, net.arch.depth, bias=bias).trace
    assert hessian_trace(net, Xt, yt) >= bound - TOL.allowed(bound)


def test_eq4_printed_fails_exactly_at_negative_labels():
    ds = sample_xor(6, 16, 0)
    net = memorizing_solution(ds, 2).network
    printed = eq4_residuals(net, ds.X, ds.y, with_sign=False)
    fixed = eq4_residuals(net, ds.X, ds.y, with_sign=True)
    assert np.all(fixed < 1e-14)
    np.testing.assert_array_equal(printed > 1e-6, ds.y < 0)
    # the four-neuron solution satisfies the corrected condition too
    four = four_neuron_solution(6, width=16).network
    assert np.all(eq4_residuals(four, ds.X, ds.y) < 1e-14)


def test_argument_checks():
    with pytest.raises(ValueError, match="depth"):
        jacobian_lower_bound(np.ones((2, 2)), np.ones(2), 1)
    with pytest.raises(ValueError, match="need X"):
        jacobian_lower_bound(np.ones((2, 2)), np.ones(3))
