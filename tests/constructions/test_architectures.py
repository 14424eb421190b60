import numpy as np
import pytest
import torch
from torch.func import grad, vmap

from constructions import MLP, Network, architecture, random_network


def test_forward_matches_hand_written_numpy():
    net = random_network(4, [5, 3], seed=1)
    p = net.numpy_params()
    X = np.random.default_rng(0).normal(size=(6, 4))
    h = np.maximum(X @ p["W1"].T + p["b1"], 0)
    h = np.maximum(h @ p["W2"].T, 0)
    out = (h @ p["W3"].T)[:, 0]
    np.testing.assert_allclose(net(torch.tensor(X)).numpy(), out, rtol=1e-14)


def test_nobias_and_softplus():
    net = random_network(3, 4, bias=False, activation="softplus", seed=2)
    p = net.numpy_params()
    X = np.random.default_rng(1).normal(size=(5, 3))
    out = (np.logaddexp(X @ p["W1"].T, 0) @ p["W2"].T)[:, 0]
    np.testing.assert_allclose(net(torch.tensor(X)).numpy(), out, rtol=1e-14)
    assert net.arch.name == "2-layer MLP-No-Bias (softplus)"


def test_pure_function_works_with_torch_func():
    net = random_network(3, [4, 4], seed=3)
    X = torch.randn(5, 3, dtype=torch.float64)
    g = vmap(grad(lambda p, x: net.arch.forward(p, x[None])[0]), in_dims=(None, 0))(
        net.param_dict(), X
    )
    assert set(g) == {"W1", "b1", "W2", "W3"} and g["W1"].shape == (5, 4, 3)


@pytest.mark.parametrize(
    "params,match",
    [
        ({"W1": np.ones((3, 2)), "W2": np.ones((1, 3))}, "missing b1"),
        ({"W1": np.ones((3, 2)), "b1": np.ones(2), "W2": np.ones((1, 3))}, "b1 must have shape"),
        ({"W1": np.ones((3, 2)), "b1": np.ones(3), "W2": np.ones((2, 3))}, "W2 must have shape"),
        (
            {"W1": np.ones((3, 2)), "b1": np.ones(3), "W2": np.ones((1, 3)), "W9": np.ones(1)},
            "unexpected W9",
        ),
        ({"W1": np.full((3, 2), np.inf), "b1": np.ones(3), "W2": np.ones((1, 3))}, "NaN or inf"),
    ],
    ids=["missing", "bias-shape", "out-shape", "extra", "inf"],
)
def test_bad_parameters(params, match):
    with pytest.raises(ValueError, match=match):
        Network(MLP(), params)


def test_architecture_keys():
    assert architecture("bias", 3).name == "3-layer MLP-Bias"
    assert architecture("nobias").name == "2-MLP-No-Bias"
    with pytest.raises(ValueError, match="unknown architecture"):
        architecture("resnet")
    with pytest.raises(ValueError, match="depth must be an integer >= 2"):
        MLP(depth=1)


# --- output bias (deviation (2)): f = W_D sigma(...) + b_D ---------------------------------------
def _with_output_bias(net, value=0.7):
    arch = MLP(net.arch.depth, net.arch.bias, net.arch.activation, output_bias=True)
    return Network(arch, dict(net.param_dict(), **{f"b{arch.depth}": [value]}))


def test_output_bias_forward_matches_hand_written_numpy():
    net = _with_output_bias(random_network(4, [5, 3], seed=1), 0.7)
    p = net.numpy_params()
    X = np.random.default_rng(0).normal(size=(6, 4))
    h = np.maximum(np.maximum(X @ p["W1"].T + p["b1"], 0) @ p["W2"].T, 0)
    np.testing.assert_allclose(
        net(torch.tensor(X)).numpy(), (h @ p["W3"].T)[:, 0] + 0.7, rtol=1e-14, atol=1e-15
    )
    assert net.arch.param_names == ("W1", "b1", "W2", "W3", "b3")


@pytest.mark.parametrize(
    "arch,name,key",
    [
        (MLP(2, True, output_bias=True), "2-MLP-Bias + output bias", "bias-out"),
        (MLP(2, False, output_bias=True), "2-MLP-No-Bias + output bias", "nobias-out"),
        (MLP(3, True, "softplus", True), "3-layer MLP-Bias + output bias (softplus)",
         "bias-out-softplus"),
        (MLP(2, False, "softplus", True), "2-layer MLP-No-Bias + output bias (softplus)",
         "nobias-out-softplus"),
    ],
)  # fmt: skip
def test_output_bias_names_and_keys(arch, name, key):
    assert (arch.name, arch.key) == (name, key)
    assert architecture(key, arch.depth) == arch  # the key round-trips


def test_output_bias_parameter_checks():
    good = {"W1": np.ones((3, 2)), "b1": np.ones(3), "W2": np.ones((1, 3)), "b2": np.ones(1)}
    Network(MLP(output_bias=True), good)
    with pytest.raises(ValueError, match="missing b2"):
        Network(MLP(output_bias=True), {k: v for k, v in good.items() if k != "b2"})
    with pytest.raises(ValueError, match="unexpected b2"):
        Network(MLP(), good)
    with pytest.raises(ValueError, match=r"b2 \(the output bias\) must have shape \(1,\)"):
        Network(MLP(output_bias=True), dict(good, b2=np.ones(2)))
    with pytest.raises(ValueError, match="b2 contains NaN or inf"):
        Network(MLP(output_bias=True), dict(good, b2=[np.nan]))
    with pytest.raises(ValueError, match="output_bias must be True or False"):
        MLP(output_bias="yes")


def test_output_bias_second_derivative_is_two():
    # d^2 L / d b_D^2 = (2/n) sum_i 1 = 2 for L = mean (f - y)^2: read off the dense Hessian.
    from sharpness.reference import dense_hessian

    net = _with_output_bias(random_network(3, 4, seed=5), -0.2)
    X, y = torch.randn(7, 3, dtype=torch.float64), torch.randn(7, dtype=torch.float64)
    H = dense_hessian(net, X, y)
    assert float(H[-1, -1]) == pytest.approx(2.0, rel=1e-14)
