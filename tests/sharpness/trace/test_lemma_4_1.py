"""Lemma 4.1 and the per-example gradient norms against a one-example-at-a-time reference."""

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from constructions import random_network, sample_xor, self_labelled
from sharpness import gradient_sq_norms, hessian_trace, lemma41_trace, tolerance_for
from sharpness.reference import naive_gradient_sq_norms
from tests.strategies import random_networks

TOL = tolerance_for(torch.float64)


@given(st.data())
def test_per_example_norms_match_naive_loop(data):
    d = data.draw(st.integers(1, 4))
    net = data.draw(random_networks(d, activation=data.draw(st.sampled_from(["relu", "softplus"]))))
    X = torch.randn(5, d, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(
        gradient_sq_norms(net, X), naive_gradient_sq_norms(net, X), rtol=1e-12, atol=1e-14
    )


@given(st.data())
def test_identity_at_interpolation_for_any_activation(data):
    d = data.draw(st.integers(2, 4))
    act = data.draw(st.sampled_from(["relu", "softplus"]))
    net = data.draw(random_networks(d, activation=act))
    ds = self_labelled(net, sample_xor(d, min(2**d, 6), data.draw(st.integers(0, 99))).X)
    X, y = ds.tensors()
    assert TOL.close(hessian_trace(net, X, y, check_kinks=act == "relu"), lemma41_trace(net, X))


def test_softplus_off_interpolation_breaks_the_identity():
    net = random_network(3, 5, activation="softplus", seed=0)
    X = torch.tensor(sample_xor(3, 8, 0).X)
    y = -net(X) + 1.0
    t, s = hessian_trace(net, X, y, check_kinks=False), lemma41_trace(net, X)
    assert abs(t - s) > 1e-3 * abs(s)


def test_relu_identity_holds_off_interpolation():
    net = random_network(3, [5, 4], seed=2)
    X = torch.tensor(sample_xor(3, 8, 0).X)
    y = torch.ones(8, dtype=torch.float64) * 3
    assert hessian_trace(net, X, y) == pytest.approx(lemma41_trace(net, X), rel=1e-12)
