"""constructions.torch_interop: toolkit MLPs <-> torch.nn, compared with torch's own forward pass."""

import copy
import math

import numpy as np
import pytest
import torch
from torch import nn
from torch.func import functional_call

from constructions import (
    MLP,
    Network,
    SimLN,
    from_state_dict,
    from_torch,
    load_network,
    random_network,
    sample_xor,
    to_state_dict,
    to_torch,
)
from constructions.torch_interop import sequential_layout, toolkit_params, torch_names
from sharpness.reference import dense_hessian_trace

F64 = dict(rtol=1e-12, atol=1e-12)


def _net(d, widths, *, bias=True, output_bias=False, activation="relu", seed=0):
    """A random toolkit MLP, with an output bias b_D drawn as well where asked."""
    base = random_network(d, widths, bias=bias, activation=activation, seed=seed)
    params = base.param_dict()
    if output_bias:
        params[f"b{base.arch.depth}"] = torch.tensor([0.3 + 0.1 * seed], dtype=torch.float64)
    arch = MLP(base.arch.depth, bias, activation, output_bias=output_bias)
    return Network(arch, params)


ARCHS = [
    pytest.param(widths, bias, out, act, id=f"D{len(widths) + 1}-{key}")
    for widths in ([5], [5, 4], [4, 3, 3])
    for bias, out, act, key in [
        (True, False, "relu", "bias"),
        (False, False, "relu", "nobias"),
        (True, True, "relu", "bias-out"),
        (False, True, "softplus", "nobias-out-softplus"),
        (True, False, "softplus", "bias-softplus"),
    ]
]


@pytest.mark.parametrize("widths,bias,out,act", ARCHS)
def test_to_torch_computes_the_same_function(widths, bias, out, act):
    net = _net(6, widths, bias=bias, output_bias=out, activation=act, seed=len(widths))
    model = to_torch(net)
    X = torch.randn(9, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    assert all(p.dtype == torch.float64 for p in model.parameters())
    torch.testing.assert_close(model(X)[:, 0], net(X), **F64)
    # Sequential: Linear, act, ..., Linear; biases exactly where the architecture has them.
    linears = [m for m in model if isinstance(m, nn.Linear)]
    assert len(linears) == net.arch.depth == len(model) // 2 + 1
    assert [lin.bias is not None for lin in linears] == (
        [bias] + [False] * (net.arch.depth - 2) + [out]
    )
    # And back: the same architecture and bit-identical parameters.
    back = from_torch(model)
    assert back.arch == net.arch
    for k in net.arch.param_names:
        assert torch.equal(back.params[k], net.params[k]), k


@pytest.mark.parametrize("widths,bias,out,act", ARCHS)
def test_from_torch_computes_the_same_function(widths, bias, out, act):
    torch.manual_seed(len(widths))
    dims = [7, *widths, 1]
    layers = []
    for j in range(len(dims) - 1):
        has_bias = (j == 0 and bias) or (j == len(dims) - 2 and out)
        layers.append(nn.Linear(dims[j], dims[j + 1], bias=has_bias, dtype=torch.float64))
        if j < len(dims) - 2:
            layers.append(nn.ReLU() if act == "relu" else nn.Softplus())
    model = nn.Sequential(*layers)
    net = from_torch(model)
    assert net.arch == MLP(len(widths) + 1, bias, act, output_bias=out)
    X = torch.randn(11, 7, dtype=torch.float64)
    torch.testing.assert_close(net(X), model(X)[:, 0], **F64)
    sd = model.state_dict()
    assert list(to_state_dict(net)) == list(sd)
    for k, v in to_state_dict(net).items():
        assert torch.equal(v, sd[k]), k
    # The state_dict alone gives the same network (the activation given by its key).
    key = net.arch.key
    again = from_state_dict(sd, arch=key)
    assert again.arch == net.arch
    torch.testing.assert_close(again(X), net(X), rtol=0, atol=0)


def test_float32_model_and_dtype_argument():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 1))
    net = from_torch(model)
    assert net.dtype == torch.float64 and net.arch.output_bias
    X = torch.randn(5, 4)
    torch.testing.assert_close(net(X.double()).float(), model(X)[:, 0], rtol=1e-5, atol=1e-6)
    m32 = to_torch(net, dtype=torch.float32)
    assert all(p.dtype == torch.float32 for p in m32.parameters())
    torch.testing.assert_close(m32(X), model(X), rtol=0, atol=0)
    with pytest.raises(ValueError, match="dtype must be a floating torch dtype"):
        to_torch(net, dtype=torch.int64)


def test_prefixed_state_dict_and_gaps_between_linear_layers():
    torch.manual_seed(2)
    inner = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Dropout(0.0), nn.Linear(4, 1, bias=False))
    wrapper = nn.Module()
    wrapper.net = inner
    sd = wrapper.state_dict()
    assert set(sd) == {"net.0.weight", "net.0.bias", "net.3.weight"}
    net = from_state_dict(sd)
    assert net.arch == MLP(2, True, "relu")
    X = torch.randn(6, 3)
    torch.testing.assert_close(
        net(X.double()), inner.eval()(X)[:, 0].double(), rtol=1e-6, atol=1e-6
    )
    layout = sequential_layout(sd)
    assert layout.prefix == "net." and dict(layout.rename) == {
        "net.0.weight": "W1",
        "net.0.bias": "b1",
        "net.3.weight": "W2",
    }


def test_functional_form_is_differentiable_and_matches_functional_call():
    net = _net(5, [4, 3], output_bias=True, seed=4)
    model = to_torch(net)
    sd = {k: v.clone().requires_grad_(True) for k, v in to_state_dict(net).items()}
    X = torch.randn(8, 5, dtype=torch.float64)
    y = torch.randn(8, dtype=torch.float64)
    assert torch_names(net.arch) == {"W1": "0.weight", "b1": "0.bias", "W2": "2.weight",
                                     "W3": "4.weight", "b3": "4.bias"}  # fmt: skip
    ours = torch.mean((net.arch.forward(toolkit_params(sd, net.arch), X) - y) ** 2)
    theirs = torch.mean((functional_call(model, sd, (X,))[:, 0] - y) ** 2)
    torch.testing.assert_close(ours, theirs, **F64)
    g_ours = torch.autograd.grad(ours, list(sd.values()))
    g_theirs = torch.autograd.grad(theirs, list(sd.values()))
    for a, b in zip(g_ours, g_theirs, strict=True):
        torch.testing.assert_close(a, b, **F64)
    with pytest.raises(ValueError, match="takes"):
        toolkit_params(sd, MLP(3, True))  # no output bias: b3 has nowhere to go


def test_softplus_threshold_documented_difference():
    # Default nn.Softplus(threshold=20) returns z above 20; the toolkit's is exact log(1 + e^z).
    model = nn.Sequential(nn.Linear(1, 2, dtype=torch.float64), nn.Softplus(),
                          nn.Linear(2, 1, bias=False, dtype=torch.float64))  # fmt: skip
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[1.0], [1.0]]))
        model[0].bias.zero_()
        model[2].weight.copy_(torch.tensor([[1.0, -2.0]]))
    net = from_torch(model)
    X = torch.tensor([[20.5], [25.0], [3.0]], dtype=torch.float64)
    gap = (net(X) - model(X)[:, 0]).abs()
    bound = 3.0 * math.log1p(math.exp(-20.0))  # sum |W2| log(1 + e^-20)
    gap = gap.detach()
    assert float(gap[:2].min()) > 0  # the switch is real ...
    assert float(gap.max()) <= bound  # ... and within the documented bound
    assert float(gap[2]) <= 1e-15
    # to_torch writes threshold 40: no visible switch in float64.
    exported = to_torch(net)
    assert exported[1].threshold == 40.0 and exported[1].beta == 1.0
    torch.testing.assert_close(exported(X)[:, 0], net(X), rtol=1e-15, atol=0)


def _trained_30_64_1(tmp_path, steps=5):
    torch.manual_seed(0)
    ds = sample_xor(30, 12, 0)
    X32 = torch.tensor(ds.X, dtype=torch.float32)
    y32 = torch.tensor(ds.y, dtype=torch.float32)
    model = nn.Sequential(nn.Linear(30, 64), nn.ReLU(), nn.Linear(64, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    for _ in range(steps):
        opt.zero_grad()
        loss = torch.mean((model(X32)[:, 0] - y32) ** 2)
        loss.backward()
        opt.step()
    path = tmp_path / "model.pt"
    torch.save(model.state_dict(), path)
    return model, path, torch.tensor(ds.X), torch.tensor(ds.y)


def _independent_trace(model, X, y) -> float:
    """Tr of the Hessian of mean (model(x) - y)^2, written here with torch.func on the module."""
    m64 = copy.deepcopy(model).double()
    names = [k for k, _ in m64.named_parameters()]
    shapes = [p.shape for _, p in m64.named_parameters()]
    flat = torch.cat([p.detach().reshape(-1) for _, p in m64.named_parameters()])

    def loss(v):
        params, s = {}, 0
        for k, shape in zip(names, shapes, strict=True):
            size = math.prod(shape)
            params[k] = v[s : s + size].reshape(shape)
            s += size
        return torch.mean((functional_call(m64, params, (X,))[:, 0] - y) ** 2)

    return float(torch.trace(torch.func.hessian(loss)(flat)))


def test_trained_torch_model_loaded_from_torch_save_trace_equals_dense_hessian(tmp_path):
    model, path, X, y = _trained_30_64_1(tmp_path)
    net = load_network(path)
    assert net.arch == MLP(2, True, "relu", output_bias=True)
    assert net.arch.name == "2-MLP-Bias + output bias" and net.num_params == 30 * 64 + 64 + 64 + 1
    loaded = from_torch(torch.load(path, weights_only=True))
    for k in net.arch.param_names:
        assert torch.equal(net.params[k], loaded.params[k])
    torch.testing.assert_close(net(X).float(), model(X.float())[:, 0], rtol=1e-5, atol=1e-5)
    expected = _independent_trace(model, X, y)
    assert dense_hessian_trace(net, X, y) == pytest.approx(expected, rel=1e-10, abs=1e-10)


def test_trained_torch_model_fast_trace(tmp_path):
    from sharpness import hessian_trace

    model, path, X, y = _trained_30_64_1(tmp_path)
    expected = _independent_trace(model, X, y)
    assert hessian_trace(load_network(path), X, y) == pytest.approx(expected, rel=1e-10, abs=1e-10)


# --- refusals: every message names the layer or key and what to change ------------------------
def _lin(i, o, bias=True):
    return nn.Linear(i, o, bias=bias)


MODULE_REFUSALS = {
    "dropout": (nn.Sequential(_lin(3, 4), nn.Dropout(), _lin(4, 1)),
                "layer 1 is Dropout: only Linear, ReLU and Softplus map; remove it"),
    "tanh": (nn.Sequential(_lin(3, 4), nn.Tanh(), _lin(4, 1)), "layer 1 is Tanh"),
    "hidden bias": (nn.Sequential(_lin(3, 4), nn.ReLU(), _lin(4, 4), nn.ReLU(), _lin(4, 1)),
                    "key '2.bias' is the bias of Linear layer 2 of 3, a hidden layer"),
    "two outputs": (nn.Sequential(_lin(3, 4), nn.ReLU(), _lin(4, 2)),
                    "key '2.weight' has 2 outputs"),
    "ends with activation": (nn.Sequential(_lin(3, 4), nn.ReLU()), "ends with ReLU"),
    "single linear": (nn.Sequential(_lin(3, 1)), "single Linear layer"),
    "empty": (nn.Sequential(), "is empty"),
    "no activation": (nn.Sequential(_lin(3, 4), _lin(4, 1)),
                      "layer 1 is Linear but an activation (ReLU or Softplus) must come here"),
    "two activations": (nn.Sequential(_lin(3, 4), nn.ReLU(), nn.ReLU(), _lin(4, 1)),
                        "layer 2 is ReLU but a Linear layer must come here"),
    "mixed": (nn.Sequential(_lin(3, 4), nn.ReLU(), _lin(4, 4, False), nn.Softplus(), _lin(4, 1)),
              "mixes activations"),
    "beta": (nn.Sequential(_lin(3, 4), nn.Softplus(beta=2.0), _lin(4, 1)),
             "layer 1 is Softplus(beta=2): only beta=1 maps"),
    "threshold": (nn.Sequential(_lin(3, 4), nn.Softplus(threshold=5.0), _lin(4, 1)),
                  ("layer 1 is Softplus(threshold=5)", "use threshold >= 20")),
    "not sequential": (_lin(3, 1), "Linear is not an nn.Sequential: rebuild it"),
    "not a model": ([1, 2], "needs an nn.Sequential or a state_dict, got list"),
}  # fmt: skip


@pytest.mark.parametrize("case", MODULE_REFUSALS)
def test_module_refusals(case):
    model, needles = MODULE_REFUSALS[case]
    with pytest.raises(ValueError) as info:
        from_torch(model)
    msg = str(info.value)
    assert "\n" not in msg
    for needle in (needles,) if isinstance(needles, str) else needles:
        assert needle in msg, msg


def test_arch_must_match_a_module():
    model = nn.Sequential(_lin(3, 4), nn.ReLU(), _lin(4, 1))
    assert from_torch(model, arch="bias-out").arch.output_bias
    with pytest.raises(ValueError, match="the model is a 2-MLP-Bias \\+ output bias"):
        from_torch(model, arch="bias")
    with pytest.raises(ValueError, match="not a 2-MLP-Sim-LN"):
        from_torch(model, arch=SimLN())
    with pytest.raises(ValueError, match="arch must be an architecture or a key"):
        from_torch(model, arch=3)


def _sd(**shapes):
    return {k.replace("_", "."): torch.ones(s) for k, s in shapes.items()}


STATE_DICT_REFUSALS = {
    "foreign key": ({"fc.weight": torch.ones(4, 3), "out.weight": torch.ones(1, 4)},
                    "key 'fc.weight' does not look like an nn.Sequential state_dict.*"
                    "rename the Linear layers' keys to 0.weight, 0.bias, 2.weight"),
    "running stats": ({"0.weight": torch.ones(4, 3), "1.running_mean": torch.ones(4),
                       "2.weight": torch.ones(1, 4)}, "key '1.running_mean'"),
    "two prefixes": ({"a.0.weight": torch.ones(4, 3), "b.2.weight": torch.ones(1, 4)},
                     "different prefixes"),
    "adjacent": ({"0.weight": torch.ones(4, 3), "1.weight": torch.ones(1, 4)},
                 "keys '0.weight' and '1.weight' are adjacent Linear layers"),
    "bias without weight": ({"0.weight": torch.ones(4, 3), "2.bias": torch.ones(1)},
                            "key '2.bias' has no matching weight 2.weight"),
    "vector weight": ({"0.weight": torch.ones(4), "2.weight": torch.ones(1, 4)},
                      "key '0.weight' must be a matrix"),
    "chain": ({"0.weight": torch.ones(4, 3), "2.weight": torch.ones(1, 5)},
              "key '2.weight' has 5 inputs but the layer before gives 4"),
    "bias shape": ({"0.weight": torch.ones(4, 3), "0.bias": torch.ones(3),
                    "2.weight": torch.ones(1, 4)}, "key '0.bias' must have shape \\(4,\\)"),
    "hidden bias": ({"0.weight": torch.ones(4, 3), "2.weight": torch.ones(4, 4),
                     "2.bias": torch.ones(4), "4.weight": torch.ones(1, 4)},
                    "key '2.bias' is the bias of Linear layer 2 of 3.*bias=False"),
    "one layer": ({"0.weight": torch.ones(1, 3)}, "only one Linear layer"),
    "empty": ({}, "empty"),
    "nan": ({"0.weight": torch.full((4, 3), math.nan), "2.weight": torch.ones(1, 4)},
            "key '0.weight' contains NaN or inf"),
    "inf": ({"0.weight": torch.ones(4, 3), "2.weight": torch.full((1, 4), math.inf)},
            "key '2.weight' contains NaN or inf"),
    "complex": ({"0.weight": torch.ones(4, 3, dtype=torch.complex64),
                 "2.weight": torch.ones(1, 4)}, "key '0.weight' must hold real numbers"),
    "bool": ({"0.weight": torch.ones(4, 3, dtype=torch.bool), "2.weight": torch.ones(1, 4)},
             "key '0.weight' must hold real numbers"),
    "strings": ({"0.weight": np.array([["a"] * 3] * 4), "2.weight": np.ones((1, 4))},
                "key '0.weight' must hold real numbers"),
}  # fmt: skip


@pytest.mark.parametrize("case", STATE_DICT_REFUSALS)
def test_state_dict_refusals(case):
    sd, match = STATE_DICT_REFUSALS[case]
    with pytest.raises(ValueError, match=match) as info:
        from_state_dict(sd)
    assert "\n" not in str(info.value)


def test_state_dict_arch_override_and_mismatch():
    sd = {"0.weight": torch.randn(4, 3), "0.bias": torch.randn(4), "2.weight": torch.randn(1, 4)}
    assert from_state_dict(sd).arch == MLP(2, True, "relu")
    assert from_state_dict(sd, arch="bias-softplus").arch == MLP(2, True, "softplus")
    assert from_state_dict(sd, arch=SimLN(0.5)).arch == SimLN(0.5)
    with pytest.raises(ValueError, match="unexpected b1 \\(keys mapped as 0.weight -> W1"):
        from_state_dict(sd, arch="nobias")
    with pytest.raises(ValueError, match="must be a mapping"):
        from_state_dict([1])


def test_sim_architectures_have_no_sequential_form():
    rng = np.random.default_rng(0)
    p = {"W1": rng.normal(size=(3, 2)), "b1": rng.normal(size=3), "W2": rng.normal(size=(1, 3))}
    net = Network(SimLN(), p)
    for fn in (to_torch, to_state_dict):
        with pytest.raises(ValueError, match="2-MLP-Sim-LN has no nn.Sequential form"):
            fn(net)
    with pytest.raises(ValueError, match="no nn.Sequential form"):
        torch_names(SimLN())
