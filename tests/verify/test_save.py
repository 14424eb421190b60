"""--save writes files that independent code (numpy, a dense Hessian, naive enumeration) rechecks."""

import itertools
import json
import os
import stat

import numpy as np
import pytest
import torch

import verify.save as save
from tests.verify.test_cli import run
from verify.save import SAVED_FILES


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
    with pytest.raises(ValueError, match="cannot write .disk full"):
        save_run(run_, out)
    assert not out.exists() and list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------------------------
# The set is replaced as a set (issue 15, section 3)
# --------------------------------------------------------------------------------------------
def _fake_run(tag: float):
    """A stand-in with what save_run reads: every file carries ``tag``."""
    from types import SimpleNamespace

    X = np.full((3, 2), tag)
    return SimpleNamespace(
        dataset=SimpleNamespace(X=X, y=np.full(3, tag)),
        network=SimpleNamespace(numpy_params=lambda: {"W1": np.full((2, 2), tag)}),
        report=SimpleNamespace(to_json=lambda: json.dumps({"tag": tag})),
    )


def _tags(directory):
    """The tag of each file of a saved set (one value when the set is whole)."""
    assert sorted(p.name for p in directory.iterdir()) == sorted(SAVED_FILES)
    return {
        float(np.load(directory / "dataset.npz")["X"][0, 0]),
        float(np.load(directory / "params.npz")["W1"][0, 0]),
        json.loads((directory / "report.json").read_text())["tag"],
    }


STEPS = ["wrote dataset.npz", "wrote params.npz", "wrote report.json", "written", "swapped", "done"]


KILLS = [(step, True) for step in STEPS] + [(step, False) for step in STEPS + ["moved aside"]]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
@pytest.mark.parametrize(
    "step,exchange",
    KILLS,
    ids=[f"{'exchange' if x else 'two-renames'}-{s.replace(' ', '-')}" for s, x in KILLS],
)
def test_a_kill_at_any_step_leaves_the_old_set_or_the_new_set(tmp_path, step, exchange):
    target = tmp_path / "out"
    save.save_run(_fake_run(1.0), target)
    pid = os.fork()
    if pid == 0:  # the child saves and is killed at `step` (no cleanup runs, as with SIGKILL)
        try:
            save._step = lambda name: os._exit(9) if name == step else None
            if not exchange:
                save._exchange = lambda a, b: False
            save.save_run(_fake_run(2.0), target)
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 9
    if step == "moved aside":  # between the two renames: DIR is gone, the old set whole aside
        assert not target.exists()
        save.recover(target)
    tags = _tags(target)
    after_swap = STEPS.index(step) >= STEPS.index("swapped") if step in STEPS else False
    assert tags == ({2.0} if after_swap else {1.0})
    assert not list(target.glob("*.part"))
    save.save_run(_fake_run(3.0), target)  # the next save cleans up what the kill left
    assert _tags(target) == {3.0}
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_other_files_need_force_and_force_replaces_the_directory(tmp_path):
    target = tmp_path / "out"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    with pytest.raises(
        ValueError, match=r"holds files --save did not write \(notes.txt\).*--force"
    ):
        save.save_run(_fake_run(1.0), target)
    assert [p.name for p in target.iterdir()] == ["notes.txt"]
    save.save_run(_fake_run(1.0), target, force=True)
    assert _tags(target) == {1.0}
    save.save_run(_fake_run(2.0), target)  # its own files need no --force
    assert _tags(target) == {2.0}


def test_a_directory_mode_is_kept(tmp_path):
    target = tmp_path / "out"
    target.mkdir(mode=0o750)
    os.chmod(target, 0o750)
    save.save_run(_fake_run(1.0), target)
    assert stat.S_IMODE(target.stat().st_mode) == 0o750


@pytest.mark.parametrize("bad", ["", "  ", "."])
def test_an_empty_name_or_the_working_directory_is_refused(tmp_path, monkeypatch, bad):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="--save"):
        save.check_save_target(bad)
    with pytest.raises(ValueError, match="--save"):
        save.save_run(_fake_run(1.0), bad)
    assert list(tmp_path.iterdir()) == []


def _main(capsys, *args):
    from verify.cli import main

    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_an_unwritable_target_is_exit_2_after_the_report(capsys):
    code, out, err = _main(capsys, "4.1", "--d", "4", "--n", "5", "--json", "--save", "/proc/x")
    assert code == 2
    assert json.loads(out)["claim"] == "4.1"  # the computed report is printed first
    assert err.startswith("verify-theorem: error: --save /proc/x: cannot write")
    assert len(err.strip().splitlines()) == 1


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_a_read_only_directory_is_exit_2_after_the_report(tmp_path, capsys):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        code, out, err = _main(capsys, "4.1", "--d", "4", "--n", "5", "--save", str(ro / "x"))
    finally:
        ro.chmod(0o700)
    assert code == 2 and "verdict" in out and "cannot write" in err


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--save", ""], "empty"),
        (["--force"], "--force applies to --save"),
    ],
)
def test_bad_save_options_are_exit_2_before_the_work(capsys, args, needle):
    code, out, err = _main(capsys, "4.1", "--d", "4", "--n", "5", *args)
    assert code == 2 and out == "" and needle in err


def test_other_files_are_exit_2_before_the_work_and_force_saves(tmp_path, capsys):
    target = tmp_path / "out"
    target.mkdir()
    (target / "keep.txt").write_text("x")
    code, out, err = _main(capsys, "4.1", "--d", "4", "--n", "5", "--save", str(target))
    assert code == 2 and out == "" and "--force" in err
    code, out, err = _main(capsys, "4.1", "--d", "4", "--n", "5", "--save", str(target), "--force")
    assert code == 0 and sorted(p.name for p in target.iterdir()) == sorted(SAVED_FILES)
