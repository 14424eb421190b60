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
        args += ["--ln-epsilon", "0.7"]
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
