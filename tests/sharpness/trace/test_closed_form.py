"""Closed-form Hessian diagonals against the dense torch.func.hessian reference (float64)."""

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from constructions import MLP, Network, sample_xor
from constructions.tolerance import tolerance_for
from sharpness.reference import dense_hessian
from sharpness.trace.closed_form import mlp_hessian_diagonal, sim_ln_hessian_diagonal
from sharpness.trace.hessian import hessian_diagonal, hessian_trace
from sharpness.trace.kinks import NonDifferentiableError
from tests.strategies import random_networks, sim_ln_networks

TOL = tolerance_for(torch.float64)


def _data(d, n, seed):
    ds = sample_xor(d, n, seed)
    return torch.tensor(ds.X), torch.tensor(ds.y, dtype=torch.float64)


def _assert_matches_dense(net, diag, X, y):
    ref = torch.diagonal(dense_hessian(net, X, y))
    ours = torch.cat([diag[k].reshape(-1) for k in net.arch.param_names])
    assert ours.shape == ref.shape
    torch.testing.assert_close(ours, ref, rtol=TOL.rtol, atol=TOL.atol)


@given(random_networks(4, max_depth=5), st.integers(0, 50))
def test_relu_mlp_any_depth_matches_dense(net, seed):
    X, y = _data(4, 9, seed)
    _assert_matches_dense(net, mlp_hessian_diagonal(net, X, y, check_kinks=False), X, y)


@given(random_networks(4, activation="softplus", max_depth=5), st.integers(0, 50))
def test_softplus_mlp_any_depth_matches_dense(net, seed):
    # depth 3 uses the factorized k = l + 1 term, depth >= 4 the per-example Jacobians as well.
    X, y = _data(4, 9, seed)
    _assert_matches_dense(net, mlp_hessian_diagonal(net, X, y, check_kinks=False), X, y)


@given(sim_ln_networks(4), st.integers(0, 50))
def test_sim_ln_matches_dense_in_both_regimes(net, seed):
    X, y = _data(4, 9, seed)
    _assert_matches_dense(net, sim_ln_hessian_diagonal(net, X, y, check_kinks=False), X, y)


def test_sim_ln_regimes_are_both_exercised():
    # The strategy above must reach ||h|| < eps and ||h|| > eps, or the branch is untested.
    from constructions import SimLN

    X, _ = _data(4, 9, 0)
    rng = np.random.default_rng(0)
    p = {"W1": rng.normal(size=(3, 4)), "b1": rng.normal(size=3), "W2": rng.normal(size=(1, 3))}
    z = X @ torch.tensor(p["W1"]).T + torch.tensor(p["b1"])
    norms = torch.sort(torch.linalg.vector_norm(torch.relu(z), dim=1)).values
    eps = float(norms[4] + norms[5]) / 2  # strictly between two points' norms: no kink
    net = Network(SimLN(eps), p)
    assert bool((norms < eps).any()) and bool((norms > eps).any())
    y = torch.tensor(np.sign(rng.normal(size=9)))
    _assert_matches_dense(net, sim_ln_hessian_diagonal(net, X, y), X, y)
    # At ||h|| = eps exactly (a fatal kink unless interpolated with y = 0) it refuses.
    at_kink = Network(SimLN(float(norms[4])), p)
    with pytest.raises(NonDifferentiableError):
        sim_ln_hessian_diagonal(at_kink, X, y)


def test_dispatch_uses_closed_form_and_trace_sums_it():
    net = Network(MLP(3), {"W1": np.eye(3)[:2] + 0.5, "b1": [0.3, 0.2], "W2": np.ones((2, 2)),
                           "W3": np.array([[1.0, -2.0]])})  # fmt: skip
    X, y = _data(3, 5, 1)
    diag = hessian_diagonal(net, X, y)
    ref = mlp_hessian_diagonal(net, X, y)
    for k in net.arch.param_names:
        assert torch.equal(diag[k], ref[k])
    dense = float(torch.trace(dense_hessian(net, X, y)))
    assert hessian_trace(net, X, y) == pytest.approx(dense, rel=TOL.rtol, abs=TOL.atol)


def test_fatal_kink_is_refused_not_differentiated():
    # z = x1 - x2 is exactly 0 at (1, 1): the Hessian does not exist there.
    net = Network(MLP(), {"W1": [[1.0, -1.0, 0.0]], "b1": [0.0], "W2": [[1.0]]})
    X = torch.tensor([[1.0, 1.0, 1.0], [1.0, -1.0, 1.0]])
    y = torch.tensor([1.0, -1.0])
    with pytest.raises(NonDifferentiableError):
        mlp_hessian_diagonal(net, X, y)


def test_deterministic():
    from constructions.random_networks import random_network

    net = random_network(6, [5, 4, 3], activation="softplus", seed=2)
    X, y = _data(6, 20, 2)
    a = mlp_hessian_diagonal(net, X, y)
    b = mlp_hessian_diagonal(net, X, y)
    assert all(torch.equal(a[k], b[k]) for k in a)
