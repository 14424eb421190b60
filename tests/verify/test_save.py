"""--save writes files that independent code (numpy, a dense Hessian, naive enumeration) rechecks."""

import itertools
import json

import numpy as np
import pytest
import torch

from tests.verify.test_cli import run


def numpy_forward(params, X):
    """An independent forward pass: only numpy and the array names W1, b1, W2, ..."""
    depth = max(int(k[1:]) for k in params if k.startswith("W"))
    h = X @ params["W1"].T + params.get("b1", 0.0)
    for j in range(2, depth + 1):
        h = np.maximum(h, 0.0) @ params[f"W{j}"].T
    return h[:, 0]


def dense_trace(params, X, y):
    names = sorted(params, key=lambda k: (int(k[1:]), k[0]))
    shapes = [params[k].shape for k in names]
    flat0 = torch.cat([torch.tensor(params[k]).reshape(-1) for k in names])
    Xt, yt = torch.tensor(X), torch.tensor(y)

    def loss(flat):
        p, s = {}, 0
        for k, shape in zip(names, shapes, strict=True):
            size = int(np.prod(shape))
            p[k] = flat[s : s + size].reshape(shape)
            s += size
        depth = max(int(k[1:]) for k in p if k.startswith("W"))
        h = Xt @ p["W1"].T + p["b1"]
        for j in range(2, depth + 1):
            h = torch.relu(h) @ p[f"W{j}"].T
        return torch.mean((h[:, 0] - yt) ** 2)

    return float(torch.trace(torch.func.hessian(loss)(flat0)))


@pytest.mark.parametrize("claim,depth", [("4.1", 3), ("prop4.1", 2), ("prop4.2", 2)])
def test_saved_files_recheck_independently(tmp_path, claim, depth):
    out = tmp_path / "run"
    p = run(claim, "--d", "6", "--n", "10", "--depth", str(depth), "--save", str(out))
    assert p.returncode == 0, p.stderr
    assert sorted(f.name for f in out.iterdir()) == ["dataset.npz", "params.npz", "report.json"]
    data = np.load(out / "dataset.npz")
    params = dict(np.load(out / "params.npz"))
    report = json.loads((out / "report.json").read_text())
    X, y = data["X"], data["y"]
    # interpolation, recomputed with numpy
    np.testing.assert_allclose(numpy_forward(params, X), y, rtol=0, atol=1e-12)
    # the reported trace, recomputed from a dense Hessian
    checks = {c["name"]: c for c in report["checks"]}
    bound_check = next(c for name, c in checks.items() if name.startswith("Tr(H) = lower bound"))
    assert dense_trace(params, X, y) == pytest.approx(bound_check["value"], rel=1e-10)
    # the bound, recomputed from the data alone
    D = depth
    bound = (
        2 / len(y) * np.sum(D * np.abs(y) ** (2 * (D - 1) / D) * (np.sum(X**2, 1) + 1) ** (1 / D))
    )
    assert bound == pytest.approx(bound_check["expected"], rel=1e-12)
    # the zero-one error, by naive enumeration
    zo = [c for name, c in checks.items() if name.startswith("zero-one")]
    if zo:
        cube = np.array(list(itertools.product([-1.0, 1.0], repeat=6)))
        f = numpy_forward(params, cube)
        err = np.mean(cube[:, 0] * cube[:, 1] * f <= 0)
        assert err == zo[0]["value"]


def test_save_into_a_file_path_fails_cleanly(tmp_path):
    target = tmp_path / "file"
    target.write_text("x")
    p = run("4.1", "--d", "4", "--n", "5", "--save", str(target))
    assert p.returncode == 2 and "not a directory" in p.stderr
    assert target.read_text() == "x"


def test_failed_save_leaves_nothing_behind(tmp_path, monkeypatch):
    from verify import ClaimConfig, run_claim, save_run

    run_ = run_claim("4.1", ClaimConfig(d=4, n=5))
    out = tmp_path / "new"

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", boom)
    with pytest.raises(OSError):
        save_run(run_, out)
    assert not out.exists()
