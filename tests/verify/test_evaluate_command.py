"""``verify-theorem evaluate``: your own weights, exact answers, one-line errors (exit 2)."""

import json
import math

import numpy as np
import pytest
import torch

from constructions import Network, SimBN, SimLN, random_network, sample_xor
from constructions.tolerance import tolerance_for
from sharpness.reference import dense_hessian_trace, naive_hypercube_error
from tests.verify.test_cli import run as run_installed
from verify.cli import main

TOL = tolerance_for(torch.float64)


def _evaluate(capsys, *args):
    code = main(["evaluate", "--no-progress", *args])
    out, err = capsys.readouterr()
    return code, out, err


def _save(path, **arrays):
    np.savez(path, **arrays)
    return str(path)


def test_installed_command_on_saved_prop41_run(tmp_path):
    d, n = 10, 16
    assert main(["prop4.1", "--d", str(d), "--n", str(n), "--no-progress", "--json",
                 "--save", str(tmp_path)]) == 0  # fmt: skip
    p = run_installed("evaluate", "--arch", "bias", "--params", str(tmp_path / "params.npz"),
                      "--data", str(tmp_path / "dataset.npz"), "--json")  # fmt: skip
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["hypercube"]["kind"] == "exact"
    assert out["hypercube"]["errors"] == 2**d - n  # Proposition 4.1
    # Theorem 4.1: the memorizing network attains the bound (an independent closed form).
    assert out["trace"] == pytest.approx(out["lower_bound"], rel=TOL.rtol, abs=TOL.atol)
    assert out["lemma41_rhs"] == pytest.approx(out["trace"], rel=TOL.rtol, abs=TOL.atol)


@pytest.mark.parametrize("arch", ["bias", "nobias", "bias-softplus"])
def test_random_mlp_matches_references(tmp_path, capsys, arch):
    bias, _, act = arch.partition("-")
    net = random_network(7, [6, 5], bias=bias == "bias", activation=act or "relu", seed=3)
    ds = sample_xor(7, 12, 1)
    params = _save(tmp_path / "p.npz", **net.numpy_params())
    data = _save(tmp_path / "d.npz", X=ds.X, y=ds.y)
    code, out, err = _evaluate(capsys, "--arch", arch, "--params", params, "--data", data, "--json")
    assert code == 0, err
    res = json.loads(out)
    errors, mse = naive_hypercube_error(net)
    if act != "softplus":
        assert res["hypercube"]["errors"] == errors
    assert res["hypercube"]["mse"] == pytest.approx(mse, rel=1e-12)
    X, y = torch.tensor(ds.X), torch.tensor(ds.y)
    assert res["trace"] == pytest.approx(dense_hessian_trace(net, X, y), rel=TOL.rtol, abs=TOL.atol)
    assert (res["lower_bound"] is None) == (act == "softplus")


@pytest.mark.parametrize("kind", ["simln", "simbn"])
def test_normalized_architectures(tmp_path, capsys, kind):
    rng = np.random.default_rng(4)
    p = {"W1": rng.normal(size=(5, 6)), "b1": rng.normal(size=5), "W2": rng.normal(size=(1, 5))}
    ds = sample_xor(6, 10, 2)
    args = ["--arch", kind]
    if kind == "simln":
        net = Network(SimLN(0.7), p)
        args += ["--ln-eps", "0.7"]
    else:
        p["gamma"] = rng.normal(size=5)
        net = Network(SimBN(), p, reference=ds.X)
    params = _save(tmp_path / "p.npz", **p)
    data = _save(tmp_path / "d.npz", X=ds.X, y=ds.y)
    code, out, err = _evaluate(capsys, *args, "--params", params, "--data", data, "--json")
    assert code == 0, err
    res = json.loads(out)
    assert res["hypercube"]["errors"] == naive_hypercube_error(net)[0]
    X, y = torch.tensor(ds.X), torch.tensor(ds.y)
    assert res["trace"] == pytest.approx(dense_hessian_trace(net, X, y), rel=TOL.rtol, abs=TOL.atol)


def test_text_output_and_kink_is_reported_not_differentiated(tmp_path, capsys):
    # z = x1 - x2 is exactly 0 at training points with x1 = x2: the trace does not exist.
    p = {"W1": [[1.0, -1.0, 0.0]], "b1": [0.0], "W2": [[1.0]]}
    X = np.array([[1.0, 1.0, 1.0], [1.0, -1.0, -1.0]])
    params = _save(tmp_path / "p.npz", **p)
    data = _save(tmp_path / "d.npz", X=X, y=X[:, 0] * X[:, 1])
    code, out, err = _evaluate(capsys, "--arch", "bias", "--params", params, "--data", data)
    assert code == 0, err
    assert "Tr(nabla^2 L) (exact): n/a" in out and "fatal kink" in out
    assert "zero-one error on {-1,1}^3 (exact)" in out


def test_sampled_estimate_is_labelled(tmp_path, capsys):
    net = random_network(40, 3, seed=0)
    params = _save(tmp_path / "p.npz", **net.numpy_params())
    code, out, err = _evaluate(capsys, "--arch", "bias", "--params", params,
                               "--hypercube-samples", "2000")  # fmt: skip
    assert code == 0, err
    assert "ESTIMATE" in out and "CI" in out


def _bad_cases(tmp_path):
    good = {"W1": np.ones((2, 3)), "b1": np.zeros(2), "W2": np.ones((1, 2))}
    ds = sample_xor(3, 4, 0)
    data = _save(tmp_path / "d.npz", X=ds.X, y=ds.y)
    bad_data = _save(tmp_path / "d4.npz", X=sample_xor(4, 4, 0).X, y=np.ones(4))
    (tmp_path / "notnpz.npz").write_text("{}")
    nan = dict(good, W2=np.array([[1.0, math.nan]]))
    return {
        "missing file": (["--arch", "bias", "--params", str(tmp_path / "none.npz")], "no such"),
        "not an npz": (["--arch", "bias", "--params", str(tmp_path / "notnpz.npz")], ".npz"),
        "missing array": (
            ["--arch", "bias", "--params", _save(tmp_path / "m.npz", W1=good["W1"], W2=good["W2"])],
            "missing b1",
        ),
        "wrong shape": (
            ["--arch", "bias", "--params", _save(tmp_path / "s.npz", **dict(good, b1=np.zeros(3)))],
            "b1 must have shape",
        ),
        "nan": (["--arch", "bias", "--params", _save(tmp_path / "n.npz", **nan)], "NaN"),
        "unknown arch": (
            ["--arch", "resnet", "--params", _save(tmp_path / "g.npz", **good)],
            "--arch",
        ),
        "d mismatch": (
            ["--arch", "bias", "--params", str(tmp_path / "g.npz"), "--data", bad_data],
            "d = 4",
        ),
        "simbn without data": (
            ["--arch", "simbn", "--params", str(tmp_path / "g.npz")],
            "needs --data",
        ),
        "missing data file": (
            ["--arch", "bias", "--params", str(tmp_path / "g.npz"), "--data", data + "x"],
            "no such",
        ),
        "too large": (
            [
                "--arch",
                "bias",
                "--params",
                _save(tmp_path / "big.npz", **random_network(40, 50, seed=1).numpy_params()),
            ],
            "--hypercube-samples",
        ),  # fmt: skip
    }


def test_bad_input_is_one_line_exit_2(tmp_path, capsys):
    for name, (args, needle) in _bad_cases(tmp_path).items():
        code, out, err = _evaluate(capsys, *args)
        assert code == 2, (name, err)
        assert err.count("\n") == 1 and err.startswith("verify-theorem: error:"), (name, err)
        assert needle in err, (name, err)
        assert out == "", name


def test_deterministic(tmp_path, capsys):
    net = random_network(8, 6, seed=9)
    params = _save(tmp_path / "p.npz", **net.numpy_params())
    a = _evaluate(capsys, "--arch", "bias", "--params", params, "--json")
    b = _evaluate(capsys, "--arch", "bias", "--params", params, "--json")
    assert a == b and a[0] == 0


# --- bring your own model: torch.save, .safetensors, inferred --arch, bad files ---------------
def _torch_model(d, m, *, out_bias, seed=0):
    from torch import nn

    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(d, m), nn.ReLU(), nn.Linear(m, 1, bias=out_bias))


def _independent_trace(model, X, y) -> float:
    """Tr of the Hessian of mean (model(x) - y)^2 by torch.func on the module itself."""
    import copy

    from torch.func import functional_call

    m64 = copy.deepcopy(model).double()
    named = list(m64.named_parameters())
    flat = torch.cat([p.detach().reshape(-1) for _, p in named])

    def loss(v):
        params, s = {}, 0
        for k, p in named:
            params[k] = v[s : s + p.numel()].reshape(p.shape)
            s += p.numel()
        return torch.mean((functional_call(m64, params, (X,))[:, 0] - y) ** 2)

    return float(torch.trace(torch.func.hessian(loss)(flat)))


def _write(model, path, fmt):
    if fmt == "pt":
        torch.save(model.state_dict(), path)
    else:
        from safetensors.torch import save_file

        save_file(dict(model.state_dict()), str(path))
    return str(path)


@pytest.mark.parametrize("fmt", ["pt", "safetensors"])
def test_torch_model_without_output_bias_in_one_command(tmp_path, fmt):
    model = _torch_model(7, 6, out_bias=False, seed=1)
    ds = sample_xor(7, 10, 3)
    params = _write(model, tmp_path / f"model.{fmt}", fmt)
    data = _save(tmp_path / "d.npz", X=ds.X, y=ds.y)
    p = run_installed("evaluate", "--params", params, "--data", data, "--json")
    assert p.returncode == 0, p.stderr
    res = json.loads(p.stdout)
    assert res["architecture"] == "2-MLP-Bias" and res["d"] == 7 and res["widths"] == [6]
    from constructions import from_torch

    net = from_torch(model)
    assert res["hypercube"]["errors"] == naive_hypercube_error(net)[0]
    X, y = torch.tensor(ds.X), torch.tensor(ds.y)
    assert res["trace"] == pytest.approx(
        _independent_trace(model, X, y), rel=TOL.rtol, abs=TOL.atol
    )
    assert res["lower_bound_name"].startswith("Jacobian bound")


def _output_bias_run(tmp_path, capsys, fmt):
    model = _torch_model(8, 5, out_bias=True, seed=2)
    ds = sample_xor(8, 12, 4)
    params = _write(model, tmp_path / f"model.{fmt}", fmt)
    data = _save(tmp_path / "d.npz", X=ds.X, y=ds.y)
    code, out, err = _evaluate(capsys, "--params", params, "--data", data, "--json")
    return model, ds, code, out, err


@pytest.mark.parametrize("fmt", ["pt", "safetensors"])
def test_torch_model_with_output_bias_is_read_and_named(tmp_path, capsys, fmt):
    from constructions import load_network

    model, ds, code, out, err = _output_bias_run(tmp_path, capsys, fmt)
    net = load_network(tmp_path / f"model.{fmt}")  # what the command reads, and the model's f:
    X = torch.tensor(ds.X)
    torch.testing.assert_close(net(X), model.double()(X)[:, 0], rtol=1e-12, atol=1e-12)
    assert net.arch.name == "2-MLP-Bias + output bias"


@pytest.mark.parametrize("fmt", ["pt", "safetensors"])
def test_torch_model_with_output_bias_in_one_command(tmp_path, capsys, fmt):
    from constructions import load_network

    model, ds, code, out, err = _output_bias_run(tmp_path, capsys, fmt)
    assert code == 0, err
    res = json.loads(out)
    assert res["architecture"] == "2-MLP-Bias + output bias"
    X, y = torch.tensor(ds.X), torch.tensor(ds.y)
    assert res["trace"] == pytest.approx(
        _independent_trace(model, X, y), rel=TOL.rtol, abs=TOL.atol
    )
    net = load_network(tmp_path / f"model.{fmt}")
    assert res["hypercube"]["errors"] == naive_hypercube_error(net)[0]
    assert res["lower_bound"] is not None and res["lower_bound"] > 2.0  # 2 from d^2 L / d b^2


def test_arch_is_inferred_from_save_layout(tmp_path, capsys):
    net = random_network(6, [4, 3], bias=False, seed=2)
    params = _save(tmp_path / "p.npz", **net.numpy_params())
    a = _evaluate(capsys, "--params", params, "--json")
    b = _evaluate(capsys, "--arch", "nobias", "--params", params, "--json")
    assert a == b and a[0] == 0
    assert json.loads(a[1])["architecture"] == "3-layer MLP-No-Bias"


def test_arch_keys_match_the_library():
    from constructions.param_files import ARCH_KEYS
    from verify.commands.evaluate import ARCHS

    assert ARCHS == ARCH_KEYS


def _bad_model_files(tmp_path):
    from torch import nn

    model = _torch_model(3, 2, out_bias=True)
    pt = _write(model, tmp_path / "good.pt", "pt")
    st = _write(model, tmp_path / "good.safetensors", "safetensors")
    raw_pt, raw_st = (
        (tmp_path / "good.pt").read_bytes(),
        (tmp_path / "good.safetensors").read_bytes(),
    )
    (tmp_path / "trunc.pt").write_bytes(raw_pt[: len(raw_pt) // 3])
    (tmp_path / "trunc.safetensors").write_bytes(raw_st[:-5])
    (tmp_path / "random.pt").write_bytes(np.random.default_rng(1).bytes(2000))
    torch.save(model, tmp_path / "module.pt")
    torch.save({"0.weight": torch.full((2, 3), math.nan), "2.weight": torch.ones(1, 2)},
               tmp_path / "nan.pt")  # fmt: skip
    hidden = nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1))
    torch.save(hidden.state_dict(), tmp_path / "hidden.pt")
    return {
        "truncated pt": (["--params", str(tmp_path / "trunc.pt")], "truncated"),
        "truncated safetensors": (["--params", str(tmp_path / "trunc.safetensors")], "corrupt"),
        "random bytes": (["--params", str(tmp_path / "random.pt")], "not a parameter file"),
        "pickled module": (["--params", str(tmp_path / "module.pt")], "model.state_dict()"),
        "nan": (["--params", str(tmp_path / "nan.pt")], "NaN"),
        "hidden bias": (["--params", str(tmp_path / "hidden.pt")], "bias=False"),
        "arch without output bias": (["--arch", "bias", "--params", pt], "'bias-out'"),
        "softplus key on safetensors": (["--arch", "nobias-softplus", "--params", st], "b1"),
    }


def test_bad_model_files_are_one_line_exit_2(tmp_path, capsys):
    for name, (args, needle) in _bad_model_files(tmp_path).items():
        code, out, err = _evaluate(capsys, *args)
        assert code == 2, (name, err)
        assert err.count("\n") == 1 and err.startswith("verify-theorem: error: --params"), (
            name,
            err,
        )
        assert needle in err and "Traceback" not in err, (name, err)
        assert out == "", name


def test_installed_command_on_a_pickled_module_no_warning_no_traceback(tmp_path):
    import os
    import subprocess

    from tests.verify.test_cli import _command

    torch.save(_torch_model(3, 2, out_bias=True), tmp_path / "module.pt")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    p = subprocess.run(_command() + ["evaluate", "--params", str(tmp_path / "module.pt")],
                       capture_output=True, text=True, env=env, timeout=300)  # fmt: skip
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr.count("\n") == 1 and "pickled object" in p.stderr, p.stderr
