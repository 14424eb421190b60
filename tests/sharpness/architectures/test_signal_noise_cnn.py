"""The signal-noise CNN: forward vs a Conv1d, gradients vs autograd, the exact Hessian diagonal
vs dense torch.func.hessian in float64, kinks reported and refused."""

import pytest
import torch

from sharpness import hessian_trace, ops_for
from sharpness.architectures.signal_noise_cnn import (
    FilterScale,
    Loss,
    PatchReduction,
    SignalNoiseCNN,
    SignalNoiseNetwork,
    find_cnn_kinks,
    gradient_sq_norms_cnn,
    hessian_diagonal_cnn,
    logistic_hessian_trace,
    loss_and_gradient,
)
from sharpness.registry import Operation, UnsupportedOperationError
from sharpness.trace.kinks import NonDifferentiableError

ARCHS = {
    "chen-relu": SignalNoiseCNN(patches=3),
    "relu2": SignalNoiseCNN(patches=2, q=2),
    "relu3": SignalNoiseCNN(patches=2, q=3),
    "kou": SignalNoiseCNN(
        patches=2, bias=True, patch_reduction=PatchReduction.MEAN, filter_scale=FilterScale.SUM
    ),  # fmt: skip
}


def _net(arch, seed, m=3, d=4, n=6):
    g = torch.Generator().manual_seed(seed)
    p = {"W1": torch.randn(2 * m, d, generator=g, dtype=torch.float64)}
    if arch.bias:
        p["b1"] = torch.randn(2 * m, generator=g, dtype=torch.float64)
    X = torch.randn(n, arch.patches * d, generator=g, dtype=torch.float64)
    y = torch.where(torch.rand(n, generator=g) < 0.5, -1.0, 1.0).double()
    return SignalNoiseNetwork(arch, p), X, y


def _loss_fn(net, X, y, loss):
    def L(flat):
        params, i = {}, 0
        for k in net.arch.param_names:
            size = net.params[k].numel()
            params[k] = flat[i : i + size].reshape(net.params[k].shape)
            i += size
        f = net.arch.forward(params, X)
        if loss is Loss.LOGISTIC:
            return torch.logaddexp(torch.zeros_like(f), -y * f).mean()  # exact (no threshold)
        return ((f - y) ** 2).mean()

    flat = torch.cat([net.params[k].reshape(-1) for k in net.arch.param_names])
    return L, flat


def test_forward_equals_the_conv1d_of_kou_et_al():
    arch = ARCHS["kou"]
    net, X, _ = _net(arch, 0, m=10, d=5)
    conv = torch.nn.Conv1d(1, 20, 5, 5).double()
    with torch.no_grad():
        conv.weight.copy_(net.params["W1"][:, None, :])
        conv.bias.copy_(net.params["b1"])
    h = torch.relu(conv(X[:, None, :])).mean(2)
    logits = torch.stack([h[:, 10:].sum(1), h[:, :10].sum(1)], 1)  # (class -1, class +1)
    torch.testing.assert_close(net(X), logits[:, 1] - logits[:, 0], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ARCHS)
@pytest.mark.parametrize("loss", list(Loss))
def test_gradient_equals_autograd(name, loss):
    net, X, y = _net(ARCHS[name], 1)
    L, flat = _loss_fn(net, X, y, loss)
    want = torch.func.grad(L)(flat)
    b = net.params["b1"][None] if net.arch.bias else None
    Xp = net.arch.patched(X, net.patch_dim)[None]
    got = loss_and_gradient(net.arch, net.params["W1"][None], b, Xp, y[None], loss)
    flat_got = got.grad_W[0].reshape(-1)
    if b is not None:
        flat_got = torch.cat([flat_got, got.grad_b[0]])
    torch.testing.assert_close(flat_got, want, rtol=1e-12, atol=1e-14)
    assert float(got.loss[0]) == pytest.approx(float(L(flat)), rel=1e-13)
    # the coefficients reproduce the gradient as a combination of the patches
    recon = torch.einsum("nfp,npk->fk", got.coef[0], Xp[0])
    torch.testing.assert_close(recon, got.grad_W[0], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", ARCHS)
@pytest.mark.parametrize("loss", list(Loss))
@pytest.mark.parametrize("seed", range(3))
def test_exact_hessian_diagonal_equals_dense_float64_reference(name, loss, seed):
    net, X, y = _net(ARCHS[name], 10 + seed)
    assert find_cnn_kinks(net, X, y, loss=loss).twice_differentiable
    L, flat = _loss_fn(net, X, y, loss)
    want = torch.diagonal(torch.func.hessian(L)(flat))
    got = hessian_diagonal_cnn(net, X, y, loss=loss)
    flat_got = torch.cat([got[k].reshape(-1) for k in net.arch.param_names])
    torch.testing.assert_close(flat_got, want, rtol=1e-9, atol=1e-12)  # float64 policy
    if loss is Loss.LOGISTIC:
        assert logistic_hessian_trace(net, X, y) == pytest.approx(float(want.sum()), rel=1e-9)
    else:  # through the registry, as every architecture
        assert hessian_trace(net, X, y) == pytest.approx(float(want.sum()), rel=1e-9)


def test_gradient_sq_norms_against_per_example_autograd():
    net, X, _ = _net(ARCHS["kou"], 3)
    want = []
    for i in range(X.shape[0]):
        params = {k: v.clone().requires_grad_(True) for k, v in net.params.items()}
        grads = torch.autograd.grad(
            net.arch.forward(params, X[i : i + 1])[0], list(params.values())
        )
        want.append(sum(float((g**2).sum()) for g in grads))
    torch.testing.assert_close(
        gradient_sq_norms_cnn(net, X), torch.tensor(want, dtype=torch.float64)
    )


@pytest.mark.parametrize("name", ["chen-relu", "relu2", "kou"])
def test_a_planted_kink_is_reported_and_the_hessian_refused(name):
    net, X, y = _net(ARCHS[name], 4)
    W = net.params["W1"].clone()
    d = net.patch_dim
    x0 = X[0, :d]
    W[0] = W[0] - (W[0] @ x0) / (x0 @ x0) * x0  # <w_0, x_0^(1)> = 0
    if net.arch.bias:
        net = net.replace(W1=W, b1=torch.cat([torch.zeros(1), net.params["b1"][1:]]).double())
    else:
        net = net.replace(W1=W)
    report = find_cnn_kinks(net, X, y, loss=Loss.LOGISTIC)
    assert any(k.point == 0 and k.neuron == 0 and k.layer == 1 for k in report.fatal)
    with pytest.raises(NonDifferentiableError):
        logistic_hessian_trace(net, X, y)
    if name != "relu2":  # ReLU^2 under MSE off interpolation is also fatal; ReLU always
        with pytest.raises(NonDifferentiableError):
            hessian_trace(net, X, y)


def test_relu2_kink_is_harmless_for_mse_at_interpolation_and_relu3_has_none():
    net, X, _ = _net(ARCHS["relu2"], 5)
    W = net.params["W1"].clone()
    x0 = X[0, : net.patch_dim]
    W[0] = W[0] - (W[0] @ x0) / (x0 @ x0) * x0
    net = net.replace(W1=W)
    y = net(X).detach()
    report = find_cnn_kinks(net, X, y, loss=Loss.MSE)
    assert report.kinks and report.twice_differentiable
    net3, X3, y3 = _net(ARCHS["relu3"], 5)
    assert not find_cnn_kinks(net3, X3 * 0, y3).kinks


def test_zero_patch_without_bias_is_not_a_kink():
    net, X, y = _net(ARCHS["chen-relu"], 6)
    X = X.clone()
    X[0, : net.patch_dim] = 0
    assert not any(k.point == 0 and k.layer == 1 for k in find_cnn_kinks(net, X, y).kinks)


def test_registry_serves_the_cnn_and_declares_what_it_cannot_do():
    net, _, _ = _net(ARCHS["chen-relu"], 0)
    ops = ops_for(net)
    assert ops.key == "signal_noise_cnn"
    with pytest.raises(UnsupportedOperationError, match="no lower bound"):
        ops.require(Operation.LOWER_BOUND, net.arch)


@pytest.mark.parametrize(
    ("kw", "match"), [({"patches": 0}, "patches"), ({"q": 0}, "q must"), ({"bias": 1}, "bias")]
)
def test_bad_architecture_is_refused(kw, match):
    with pytest.raises(ValueError, match=match):
        SignalNoiseCNN(**kw)


def test_bad_parameters_are_refused():
    with pytest.raises(ValueError, match="W1 must have shape"):
        SignalNoiseNetwork(SignalNoiseCNN(), {"W1": torch.zeros(3, 4)})
    with pytest.raises(ValueError, match="need W1, b1"):
        SignalNoiseNetwork(SignalNoiseCNN(bias=True), {"W1": torch.zeros(2, 4)})
