"""The exact trace against the slow dense reference (torch.func.hessian), in float64."""

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from constructions import (
    Network,
    four_neuron_solution,
    memorizing_solution,
    random_network,
    sample_xor,
)
from sharpness import NonDifferentiableError, hessian_diagonal, hessian_trace, one_sided_traces
from sharpness.reference import dense_hessian
from tests.strategies import random_networks


def _flat(net, diag):
    return torch.cat([diag[k].reshape(-1) for k in net.arch.param_names])


@given(st.data(), st.sampled_from(["relu", "softplus"]))
def test_diagonal_matches_dense_reference(data, activation):
    d = data.draw(st.integers(1, 4))
    net = data.draw(random_networks(d, activation=activation))
    n = data.draw(st.integers(1, 6))
    g = torch.Generator().manual_seed(data.draw(st.integers(0, 1000)))
    X = torch.randn(n, d, generator=g, dtype=torch.float64)
    y = torch.randn(n, generator=g, dtype=torch.float64)  # arbitrary labels: off interpolation
    H = dense_hessian(net, X, y)
    diag = _flat(net, hessian_diagonal(net, X, y, check_kinks=False))
    torch.testing.assert_close(diag, torch.diagonal(H), rtol=1e-10, atol=1e-12)


def test_general_path_matches_separable_shortcut():
    # The last hidden layer uses one HVP; compare it with the general per-unit HVP path by
    # asking for the head one layer earlier (a depth-3 net's layer 2 is the shortcut layer).
    from sharpness.trace.hessian import _preact_hessian_diag

    net = random_network(3, [4, 5], activation="softplus", seed=4)
    X = torch.randn(6, 3, dtype=torch.float64)
    y = torch.randn(6, dtype=torch.float64)
    p = net.param_dict()
    z2 = net.arch.preactivations(p, X)[1]
    fast = _preact_hessian_diag(net.arch, p, 2, z2, y, chunk=3)

    class NotSeparable:  # same head, but declared non-separable: forces the per-unit HVP path
        def head(self, layer, params, zz):
            return net.arch.head(2, params, zz)

        def head_separable(self, layer):
            return False

    slow = _preact_hessian_diag(NotSeparable(), p, 2, z2, y, chunk=2)
    torch.testing.assert_close(fast, slow, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("depth", [2, 3, 4])
def test_constructions_match_dense_trace(depth):
    ds = sample_xor(4, 6, 2)
    X, y = ds.tensors()
    for net in (
        memorizing_solution(ds, depth).network,
        four_neuron_solution(4, width=6, depth=depth).network,
    ):
        assert hessian_trace(net, X, y) == pytest.approx(
            float(torch.trace(dense_hessian(net, X, y))), rel=1e-11
        )


def test_refuses_to_differentiate_through_a_fatal_kink():
    ds = sample_xor(4, 5, 0)
    net = memorizing_solution(ds, 3, form="printed").network
    X, y = ds.tensors()
    with pytest.raises(NonDifferentiableError, match="fatal kink"):
        hessian_trace(net, X, y)
    t0, t1 = one_sided_traces(net, X)
    # relu'(0) = 0 is what the dense autograd reference silently computes here
    assert t0 == pytest.approx(float(torch.trace(dense_hessian(net, X, y))), rel=1e-12)
    assert t1 > t0 * 1.5


def test_shape_errors():
    net = random_network(3, 2)
    with pytest.raises(ValueError, match="need X of shape"):
        hessian_trace(net, torch.zeros(4, 2), torch.zeros(4))


def test_float32_network_runs():
    net = random_network(3, 4, seed=1)
    n32 = Network(net.arch, net.params, dtype=torch.float32)
    X = torch.randn(5, 3)
    y = torch.randn(5)
    assert hessian_trace(n32, X, y) == pytest.approx(
        hessian_trace(net, X.double(), y.double()), rel=1e-4
    )
