"""One contract for every registered architecture (sharpness.registry).

Each registered architecture needs a factory here (a random network of it, and a way to plant a
kink); a new architecture without one fails ``test_every_architecture_has_a_factory``. Then the
same properties hold for all of them:

* its exact Hessian diagonal equals the dense ``torch.func.hessian`` reference in float64, at and
  off interpolation;
* a kink planted at a training point is detected (and the trace refused);
* no random self-labelled interpolator lies below any of its lower bounds;
* Lemma 4.1's right-hand side equals an independent per-example autograd sum at interpolation.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from constructions import MLP, Network, SimBN, SimLN
from sharpness import (
    NonDifferentiableError,
    find_kinks,
    hessian_diagonal,
    hessian_trace,
    lemma41_trace,
    lower_bounds,
    ops_for,
    registered,
)
from sharpness.reference import dense_hessian
from sharpness.registry import UnsupportedOperationError

TOL = dict(rtol=1e-9, atol=1e-10)


def _mlp(rng, d, depth=2, bias=True, activation="relu", output_bias=False):
    widths = [int(rng.integers(3, 7)) for _ in range(depth - 1)]
    p = {"W1": rng.normal(size=(widths[0], d))}
    if bias:
        p["b1"] = rng.normal(size=widths[0])
    for j in range(2, depth + 1):
        rows = 1 if j == depth else widths[j - 1]
        p[f"W{j}"] = rng.normal(size=(rows, widths[j - 2]))
    arch = MLP(depth=depth, bias=bias, activation=activation, output_bias=output_bias)
    if output_bias:
        p[f"b{depth}"] = rng.normal(size=1)
    return Network(arch, p)


def _sim_ln(rng, d):
    m = int(rng.integers(3, 7))
    return Network(SimLN(eps=0.7), {"W1": rng.normal(size=(m, d)), "b1": rng.normal(size=m),
                                    "W2": rng.normal(size=(1, m))})  # fmt: skip


def _signal_noise_cnn(rng, d):
    from sharpness.architectures.signal_noise_cnn import SignalNoiseCNN, SignalNoiseNetwork

    m, bias = int(rng.integers(1, 4)), bool(rng.integers(2))
    p = {"W1": rng.normal(size=(2 * m, d // 2))} | ({"b1": rng.normal(size=2 * m)} if bias else {})
    return SignalNoiseNetwork(SignalNoiseCNN(patches=2, bias=bias), p)


def _sim_bn(rng, d, X):
    m = int(rng.integers(3, 7))
    p = {"W1": rng.normal(size=(m, d)), "b1": rng.normal(size=m) + 1.0,
         "gamma": rng.normal(size=m), "W2": rng.normal(size=(1, m))}  # fmt: skip
    return Network(SimBN(), p, reference=X)


#: registry key -> (factory(rng, d, X) -> Network). A new architecture adds one line here.
FACTORIES = {
    "mlp": lambda rng, d, X: _mlp(
        rng,
        d,
        depth=int(rng.integers(2, 4)),
        bias=bool(rng.integers(2)),
        activation=("relu", "softplus")[int(rng.integers(2))],
    ),  # fmt: skip
    "mlp_output_bias": lambda rng, d, X: _mlp(
        rng, d, depth=int(rng.integers(2, 4)), bias=bool(rng.integers(2)), output_bias=True
    ),  # fmt: skip
    "sim_ln": lambda rng, d, X: _sim_ln(rng, d),
    "sim_bn": _sim_bn,
    "signal_noise_cnn": lambda rng, d, X: _signal_noise_cnn(rng, d),
}

KEYS = [ops.key for ops in registered()]
SEEDS = range(4)


def _data(seed, d=4, n=7):
    rng = np.random.default_rng(seed)
    return rng, torch.tensor(rng.normal(size=(n, d)))


def _dense_diag(net, X, y):
    H = dense_hessian(net, X, y)
    diag = torch.diagonal(H)
    out, i = {}, 0
    for k in net.arch.param_names:
        size = net.params[k].numel()
        out[k] = diag[i : i + size].reshape(net.params[k].shape)
        i += size
    return out


def test_every_architecture_has_a_factory():
    assert set(KEYS) == set(FACTORIES), "add a factory for each registered architecture"


def test_lookup_is_by_registry_and_unknown_types_are_refused():
    for key in KEYS:
        rng, X = _data(0)
        net = FACTORIES[key](rng, 4, X)
        assert ops_for(net).key == key
    with pytest.raises(UnsupportedOperationError, match="no registered architecture"):
        ops_for(object())


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("seed", SEEDS)
def test_hessian_diagonal_matches_dense_reference(key, seed):
    rng, X = _data(seed)
    net = FACTORIES[key](rng, X.shape[1], X)
    for y in (torch.tensor(rng.normal(size=X.shape[0])), net(X).detach()):  # off / at interpolation
        if not find_kinks(net, X, y).twice_differentiable:
            pytest.skip("random draw on a kink")
        got = hessian_diagonal(net, X, y)
        want = _dense_diag(net, X, y)
        assert set(got) == set(want)
        for k in want:
            torch.testing.assert_close(got[k], want[k], **TOL)
        assert hessian_trace(net, X, y) == pytest.approx(
            float(sum(v.sum() for v in want.values())), rel=1e-9
        )


@pytest.mark.parametrize("key", KEYS)
def test_planted_kink_is_detected(key):
    rng, X = _data(7)
    net = FACTORIES[key](rng, X.shape[1], X)
    if net.arch.activation != "relu":
        pytest.skip("smooth activation: no kinks")
    # Plant: neuron 0's first-layer pre-activation is exactly 0 at x_0, with a live output weight.
    p = net.numpy_params()
    w = p["W1"][0]
    if "b1" in p:
        p["b1"][0] = -float(X[0, : w.shape[0]].numpy() @ w)  # the CNN: its first patch
    else:
        X = X.clone()
        X[0] = 0.0
        X[0, 1] = 1.0
        w[1] = 0.0  # z_0(x_0) = w . x_0 = 0
    y = torch.tensor(rng.normal(size=X.shape[0]))  # off interpolation: a kink with a path is fatal
    kw = {"reference": X} if net.reference is not None else {}
    planted = net.replace(**p) if not isinstance(net, Network) else Network(net.arch, p, **kw)
    report = find_kinks(planted, X, y)
    assert not report.twice_differentiable
    assert any(k.point == 0 and k.neuron == 0 for k in report.fatal)
    with pytest.raises(NonDifferentiableError):
        hessian_trace(planted, X, y)


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("seed", SEEDS)
def test_no_self_labelled_interpolator_below_its_bounds(key, seed):
    rng, X = _data(100 + seed, n=9)
    net = FACTORIES[key](rng, X.shape[1], X)
    y = net(X).detach()  # interpolates the labels it outputs itself
    if not find_kinks(net, X, y).twice_differentiable:
        pytest.skip("random draw on a kink")
    trace = float(sum(v.sum() for v in _dense_diag(net, X, y).values()))
    try:
        bounds = lower_bounds(net, X.numpy(), y.numpy())
    except UnsupportedOperationError as exc:  # declared, with its reason
        assert ("needs ReLU" in str(exc) and net.arch.activation != "relu") or (
            "no lower bound" in str(exc) and ops_for(net).key == "signal_noise_cnn"
        )
        return
    assert bounds
    for b in bounds:
        assert trace >= b.trace * (1 - 1e-9) - 1e-12, b.name


@pytest.mark.parametrize("key", KEYS)
def test_lemma41_at_interpolation_against_independent_gradients(key):
    rng, X = _data(11)
    net = FACTORIES[key](rng, X.shape[1], X)
    params = {k: v.clone().requires_grad_(True) for k, v in net.params.items()}
    total = 0.0
    for i in range(X.shape[0]):  # one backward pass per example, the batch statistics fixed by X
        out = net.arch.forward(params, X, net.reference)[i]
        grads = torch.autograd.grad(out, list(params.values()))
        total += float(sum((g**2).sum() for g in grads))
    assert lemma41_trace(net, X) == pytest.approx(2.0 / X.shape[0] * total, rel=1e-10)


def test_the_jacobian_bound_does_not_hold_for_softplus_so_it_is_refused():
    # One softplus unit deep in its tail: f = softplus(-5) at x' = (1, 0, 1). The dense trace at
    # interpolation is far below the ReLU-derived bound, so the registry must not offer it.
    from sharpness.bounds import jacobian_lower_bound
    from sharpness.reference import dense_hessian_trace

    X = np.array([[1.0, 0.0]])
    p = {"W1": np.zeros((1, 2)), "b1": np.array([-5.0]), "W2": np.array([[1.0]])}
    net = Network(MLP(2, bias=True, activation="softplus"), p)
    y = net(X).detach()
    trace = dense_hessian_trace(net, torch.tensor(X), y)
    assert trace < jacobian_lower_bound(X, y.numpy(), 2).trace / 100
    with pytest.raises(UnsupportedOperationError, match="needs ReLU"):
        lower_bounds(net, X, y.numpy())
