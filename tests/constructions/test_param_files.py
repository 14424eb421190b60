"""constructions.param_files: every format read by content, every bad file one ValueError line."""

import pickle
import struct
import zipfile

import numpy as np
import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from constructions import MLP, SimBN, SimLN, load_network, load_params
from constructions.param_files import ARCH_KEYS, Layout, ParamFormat


def _model(bias_out=True, seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 1, bias=bias_out))


def _X():
    return torch.randn(7, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(3))


def _same_function(net, model):
    X = _X()
    torch.testing.assert_close(net(X), model.double()(X)[:, 0], rtol=1e-12, atol=1e-12)


WRITERS = {
    "torch.save": lambda m, p: torch.save(m.state_dict(), p),
    "torch.save legacy": lambda m, p: torch.save(
        m.state_dict(), p, _use_new_zipfile_serialization=False
    ),
    "safetensors": lambda m, p: save_file(dict(m.state_dict()), str(p)),
    "npz of a state_dict": lambda m, p: _savez(
        p, {k: v.numpy() for k, v in m.state_dict().items()}
    ),
}


def _savez(path, arrays):
    with open(path, "wb") as fh:  # a file object: np.savez appends no .npz suffix
        np.savez(fh, **arrays)


FORMATS = {
    "torch.save": ParamFormat.TORCH,
    "torch.save legacy": ParamFormat.TORCH,
    "safetensors": ParamFormat.SAFETENSORS,
    "npz of a state_dict": ParamFormat.NPZ,
}


@pytest.mark.parametrize("writer", WRITERS)
@pytest.mark.parametrize("suffix", [".pt", ".bin"], ids=["named", "misnamed"])
def test_state_dict_in_every_format(tmp_path, writer, suffix):
    model = _model()
    path = tmp_path / f"m{suffix}"
    WRITERS[writer](model, path)
    pf = load_params(path)
    assert pf.format == FORMATS[writer]  # told by content, whatever the name
    assert pf.layout == Layout.SEQUENTIAL
    assert pf.arch_key == "bias-out" and pf.depth == 2
    assert dict(pf.source_keys) == {"W1": "0.weight", "b1": "0.bias", "W2": "2.weight",
                                    "b2": "2.bias"}  # fmt: skip
    net = load_network(path)
    assert net.arch == MLP(2, True, "relu", output_bias=True)
    _same_function(net, model)


def test_save_layout_npz_with_w2_as_vector_or_row(tmp_path):
    rng = np.random.default_rng(0)
    W1, b1, w = rng.normal(size=(4, 3)), rng.normal(size=4), rng.normal(size=4)
    X = rng.normal(size=(6, 3))
    expected = np.maximum(X @ W1.T + b1, 0) @ w
    for name, W2 in (("vec", w), ("row", w[None, :])):
        np.savez(tmp_path / f"{name}.npz", W1=W1, b1=b1, W2=W2)
        pf = load_params(tmp_path / f"{name}.npz")
        assert (pf.format, pf.layout, pf.arch_key) == (ParamFormat.NPZ, Layout.TOOLKIT, "bias")
        assert pf.arrays["W2"].shape == (1, 4)
        np.testing.assert_allclose(load_network(tmp_path / f"{name}.npz")(X).numpy(), expected,
                                   rtol=1e-13)  # fmt: skip


@pytest.mark.parametrize(
    "arrays,key,depth",
    [
        ({"W1": (4, 3), "W2": (1, 4)}, "nobias", 2),
        ({"W1": (4, 3), "b1": (4,), "W2": (2, 4), "W3": (1, 2)}, "bias", 3),
        ({"W1": (4, 3), "W2": (1, 4), "b2": ()}, "nobias-out", 2),
        ({"W1": (4, 3), "b1": (4,), "W2": (3, 4), "W3": (1, 3), "b3": (1,)}, "bias-out", 3),
        ({"W1": (4, 3), "b1": (4,), "gamma": (4,), "W2": (1, 4)}, "simbn", 2),
        ({"W1": (4, 3), "gamma": (4,), "W2": (4,)}, "simbn", 2),
    ],
    ids=["nobias", "depth3", "out-scalar", "depth3-out", "simbn", "simbn-nobias"],
)
def test_inferred_architecture(tmp_path, arrays, key, depth):
    rng = np.random.default_rng(1)
    np.savez(tmp_path / "p.npz", **{k: rng.normal(size=s) for k, s in arrays.items()})
    pf = load_params(tmp_path / "p.npz")
    assert (pf.arch_key, pf.depth) == (key, depth)
    net = load_network(tmp_path / "p.npz")
    if key == "simbn":  # the --arch key; the architecture takes its bias from b1
        assert net.arch == SimBN(bias="b1" in arrays)
    else:
        assert net.arch.key == key


def test_arch_overrides_what_the_arrays_cannot_tell(tmp_path):
    model = nn.Sequential(nn.Linear(5, 4), nn.Softplus(), nn.Linear(4, 1, bias=False))
    torch.save(model.state_dict(), tmp_path / "sp.pt")
    assert load_params(tmp_path / "sp.pt").arch_key == "bias"  # ReLU assumed
    net = load_network(tmp_path / "sp.pt", arch="bias-softplus")
    assert net.arch == MLP(2, True, "softplus")
    _same_function(net, model)
    simln = load_network(tmp_path / "sp.pt", arch="simln", eps=0.25)
    assert simln.arch == SimLN(0.25)


def _bad_files(tmp_path):
    """name -> (path, needle in the message)."""
    t = tmp_path
    model = _model()
    torch.save(model.state_dict(), t / "good.pt")
    np.savez(t / "good.npz", W1=np.ones((4, 5)), b1=np.zeros(4), W2=np.ones(4))
    save_file(dict(model.state_dict()), str(t / "good.safetensors"))
    cases = {}

    def bytes_case(name, data, needle):
        (t / name).write_bytes(data)
        cases[name] = (t / name, needle)

    def npz_case(name, needle, **arrays):
        np.savez(t / name, **arrays)
        cases[name] = (t / name, needle)

    def pt_case(name, obj, needle):
        torch.save(obj, t / name)
        cases[name] = (t / name, needle)

    pt = (t / "good.pt").read_bytes()
    npz = (t / "good.npz").read_bytes()
    st = (t / "good.safetensors").read_bytes()
    bytes_case("truncated.pt", pt[: len(pt) // 2], "corrupt or truncated zip")
    bytes_case("truncated.npz", npz[: len(npz) // 2], "corrupt or truncated zip")
    bytes_case("truncated.safetensors", st[:-7], "corrupt .safetensors")
    bytes_case("random.pt", np.random.default_rng(0).bytes(4096), "not a parameter file")
    bytes_case("empty.npz", b"", "not a parameter file")
    bytes_case("text.npz", b"{}", "not a parameter file")
    bytes_case("bad-header.safetensors", struct.pack("<Q", 5) + b"{oops" + b"\0" * 8,
               "nor a valid .safetensors header")  # fmt: skip
    bytes_case(
        "plain.pkl",
        pickle.dumps({"0.weight": [1.0]}),
        "a pickle that torch.load(weights_only=True) refuses",
    )
    bytes_case("one.npy", b"\x93NUMPY" + b"\0" * 64, "a single .npy array")
    pt_case("module.pt", model, "pickled object (torch.nn.modules.container.Sequential)")
    pt_case("list.pt", [torch.ones(2)], "holds a list, not a state_dict")
    pt_case("checkpoint.pt", {"model": model.state_dict(), "epoch": 3},
            "entry 'model' is not a tensor (type OrderedDict): a checkpoint?")  # fmt: skip
    pt_case("nan.pt", {"0.weight": torch.full((4, 5), float("nan")), "2.weight": torch.ones(1, 4)},
            "key '0.weight' (W1) contains NaN or inf")  # fmt: skip
    pt_case("complex.pt", {"0.weight": torch.ones(4, 5, dtype=torch.complex64),
                           "2.weight": torch.ones(1, 4)}, "not real-valued")  # fmt: skip
    pt_case("hidden-bias.pt", nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 4),
                                            nn.ReLU(), nn.Linear(4, 1)).state_dict(),
            "key '2.bias' is the bias of Linear layer 2 of 3")  # fmt: skip
    pt_case("two-outputs.pt", nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 2))
            .state_dict(), "has 2 outputs")  # fmt: skip
    pt_case("foreign-keys.pt", {"fc1.weight": torch.ones(4, 5), "fc2.weight": torch.ones(1, 4)},
            "rename the Linear layers' keys to 0.weight")  # fmt: skip
    save_file({"0.weight": torch.full((4, 5), float("inf")), "2.weight": torch.ones(1, 4)},
              str(t / "inf.safetensors"))  # fmt: skip
    cases["inf.safetensors"] = (t / "inf.safetensors", "contains NaN or inf")
    npz_case(
        "nan.npz", "W2 contains NaN or inf", W1=np.ones((4, 5)), W2=np.array([1, np.nan, 1, 1])
    )
    npz_case(
        "shape.npz", "b1 must have shape (4,)", W1=np.ones((4, 5)), b1=np.ones(3), W2=np.ones(4)
    )
    npz_case("w2-shape.npz", "W2 must have shape (1, 4)", W1=np.ones((4, 5)), W2=np.ones((2, 4)))
    npz_case("strings.npz", "array W1 is not numeric", W1=np.array(["a"]), W2=np.ones(4))
    npz_case("bools.npz", "array W1 is not numeric", W1=np.ones((4, 5), bool), W2=np.ones(4))
    npz_case("hidden-b2.npz", "b2 is a bias in hidden layer 2 (of 3)",
             W1=np.ones((4, 5)), W2=np.ones((3, 4)), b2=np.ones(3), W3=np.ones(3))  # fmt: skip
    npz_case("gap.npz", "missing W2", W1=np.ones((4, 5)), W3=np.ones((1, 4)))
    npz_case("only-w1.npz", "only W1", W1=np.ones((1, 5)))
    npz_case("no-w.npz", "no weight arrays W1, W2", b1=np.ones(3))
    npz_case("mixed.npz", "array '0.weight' is not one of the --save names",
             W1=np.ones((4, 5)), **{"0.weight": np.ones((1, 4))})  # fmt: skip
    npz_case("gamma-out.npz", "gamma marks 2-MLP-Sim-BN",
             W1=np.ones((4, 5)), gamma=np.ones(4), W2=np.ones(4), b2=np.ones(1))  # fmt: skip
    npz_case("nothing.npz", "holds no arrays")
    with zipfile.ZipFile(t / "foreign.zip", "w") as zf:
        zf.writestr("readme.txt", "hello")
    cases["foreign.zip"] = (t / "foreign.zip", "neither an .npz (members *.npy) nor a torch.save")
    np.savez(t / "obj.npz", W1=np.array([{"a": 1}], dtype=object), W2=np.ones(4))
    cases["obj.npz"] = (t / "obj.npz", "cannot read the .npz archive")
    cases["missing"] = (t / "none.pt", "no such file")
    return cases


def test_every_bad_file_is_one_line_naming_it(tmp_path):
    cases = _bad_files(tmp_path)
    for name, (path, needle) in cases.items():
        with pytest.raises(ValueError) as info:
            load_network(path)
        msg = str(info.value)
        assert "\n" not in msg, (name, msg)
        assert msg.startswith(str(path)), (name, msg)
        assert needle in msg, (name, msg)


class _Evil:
    """Unpickling it would create a file: the loaders must never run it."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_pickles_are_never_executed(tmp_path):
    marker = tmp_path / "pwned"
    for name, save in (("evil.pt", lambda o, p: torch.save(o, p)),
                       ("evil.pkl", lambda o, p: p.write_bytes(pickle.dumps(o)))):  # fmt: skip
        save({"0.weight": _Evil(str(marker))}, tmp_path / name)
        with pytest.raises(ValueError):
            load_params(tmp_path / name)
    assert not marker.exists()


def test_arch_argument_and_hint(tmp_path):
    torch.save(_model().state_dict(), tmp_path / "m.pt")
    with pytest.raises(ValueError, match="arch must be one of"):
        load_params(tmp_path / "m.pt", arch="resnet")
    with pytest.raises(
        ValueError, match="unexpected b2 \\(keys read as 0.weight -> W1.*look like arch 'bias-out'"
    ):
        load_params(tmp_path / "m.pt", arch="bias")
    np.savez(tmp_path / "d3.npz", W1=np.ones((2, 3)), b1=np.ones(2), W2=np.ones((2, 2)),
             W3=np.ones((1, 2)))  # fmt: skip
    with pytest.raises(ValueError, match="simln is a 2-layer architecture, got depth 3"):
        load_params(tmp_path / "d3.npz", arch="simln")
    assert set(ARCH_KEYS) >= {"bias", "nobias", "bias-out", "simln", "simbn"}
