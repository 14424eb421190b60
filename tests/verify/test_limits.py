"""Issue 15, sections 1-2: oversized requests and bad input end in one line and exit 2, fast.

Every command line of the issue that hung (more than 60 s) or ended in an internal error runs
here in this process, under ``signal.alarm``: it must be refused up front (well within
:data:`QUICK_S`) with a line that names the limit or the bad value.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal

import numpy as np
import pytest

from sharpness.training.cli import main as train_main
from verify.cli import main as verify_main

QUICK_S = 10


def _run(main, argv):
    def alarm(signum, frame):
        raise TimeoutError(f"{argv} did not answer within {QUICK_S} s")

    old = signal.signal(signal.SIGALRM, alarm)
    out, err = io.StringIO(), io.StringIO()
    signal.alarm(QUICK_S)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(argv)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    from constructions import sample_xor

    t = tmp_path_factory.mktemp("limits")
    ds = sample_xor(5, 12, seed=0)
    paths = {}
    for name, X, y in (
        ("zeros", ds.X, 0 * ds.y),
        ("scaled1e20", ds.X * 1e20, ds.y),
        ("scaled1e-10", ds.X * 1e-10, ds.y),
        ("scaled1e200", ds.X * 1e200, ds.y),
    ):
        paths[name] = str(t / f"{name}.npz")
        np.savez(paths[name], X=X, y=y)
    os.mkfifo(t / "fifo")
    paths["fifo"] = str(t / "fifo")
    paths["file"] = paths["zeros"]
    return paths


VERIFY_REFUSED = {
    "hypercube-samples-1e12": (
        ["prop4.2", "--d", "4", "--hypercube-samples", "1000000000000"],
        "above the limit of 1e+08 samples",
    ),
    "3.2-n-1e9": (["3.2", "--d", "40", "--n", "1000000000"], "above the limit of 8192 points"),
    "prop4.1-d-10000": (["prop4.1", "--d", "10000"], "needs 2^10000 = 2e+3010 points"),
    "d-1e12": (["4.1", "--d", "1000000000000"], "above the limit of 100000 dimensions"),
    "memory": (["4.1", "--d", "5000", "--n", "8000"], "(claim memory: "),
    "seed-2^70": (["lemma4.1", "--d", "3", "--seed", str(2**70)], "seed must be an integer <="),
    "exact-with-samples": (
        ["prop4.2", "--d", "4", "--exact", "--hypercube-samples", "10"],
        "--hypercube-samples cannot be combined with --exact",
    ),
    "empty-data": (["4.1", "--data", ""], "dataset file path is empty"),
}


@pytest.mark.parametrize("argv, message", VERIFY_REFUSED.values(), ids=VERIFY_REFUSED.keys())
def test_verify_theorem_refuses_up_front(argv, message):
    code, out, err = _run(verify_main, argv)
    assert code == 2, err
    assert err.startswith("verify-theorem: error: ") and err.count("\n") == 1, err
    assert message in err
    assert out == ""


def test_fifo_and_d_with_data_are_refused_without_reading(data):
    code, _, err = _run(verify_main, ["4.1", "--data", data["fifo"]])
    assert code == 2 and "not a regular file (a named pipe)" in err, err
    for extra in (["--d", "5"], ["--n", "3"]):
        code, _, err = _run(verify_main, ["4.1", "--data", data["file"], *extra])
        assert code == 2 and "cannot be combined with --data" in err, err


def test_scaled_data_are_still_extreme_points(data):
    # Definition 4.1 is scale-invariant: 1e-10 and 1e20 are accepted (the LP is solved on
    # rescaled points, the margins certified on the data themselves)
    for name in ("scaled1e-10", "scaled1e20"):
        code, out, err = _run(verify_main, ["4.1", "--data", data[name], "--no-progress"])
        assert code == 0, (name, err, out)
        assert "VERIFIED (7/7" in out
    code, _, err = _run(verify_main, ["4.1", "--data", data["scaled1e200"]])
    assert code == 2 and "(data magnitude: " in err, err


def test_all_labels_zero_is_a_result_not_a_crash(data):
    code, out, err = _run(verify_main, ["4.1", "--data", data["zeros"], "--no-progress"])
    assert code == 1, err  # a failed check (the bound is 0), not ZeroDivisionError
    assert "internal error" not in err
    assert "(the bound is 0)" in out


TRAIN_REFUSED = {
    "test-samples-1e12": (
        ["--test", "sampled", "--test-samples", "1000000000000"],
        "above the limit of 1e+08 samples",
    ),
    "epochs-1e12": (["--epochs", "1000000000000"], "(training work: "),
    "width-1e9": (["--width", "1000000000"], "(training parameters: "),
    "exact-d-40": (["--test", "exact", "--d", "40"], "(exact test points: "),
    "log-every-0": (["--epochs", "10", "--log-every", "0"], "--log-every must be an integer >= 1"),
    "seed-2^70": (["--seed", str(2**70)], "--seed must be an integer in [0, 2^63)"),
    "threads-1e5": (["--threads", "100000"], "--threads must be an integer in [1, 256]"),
}


@pytest.mark.parametrize("argv, message", TRAIN_REFUSED.values(), ids=TRAIN_REFUSED.keys())
def test_sharpness_train_refuses_up_front(tmp_path, argv, message):
    out_dir = tmp_path / "run"
    code, out, err = _run(train_main, [*argv, "--out", str(out_dir)])
    assert code == 2, err
    assert err.startswith("sharpness-train: error: ") and err.count("\n") == 1, err
    assert message in err
    assert not out_dir.exists()  # nothing half-written


@pytest.mark.parametrize("kind", ["devnull", "file", "fifo", "empty"])
def test_sharpness_train_out_must_be_a_directory(data, kind):
    out = {"devnull": "/dev/null", "file": data["file"], "fifo": data["fifo"], "empty": ""}[kind]
    code, _, err = _run(train_main, ["--epochs", "1", "--out", out])
    assert code == 2, err
    assert "--out" in err and err.count("\n") == 1, err


def _full_disk(*args, **kwargs):
    raise OSError(28, "No space left on device", "/full/disk/file")


def test_an_environment_fault_is_named_as_such_not_an_internal_error(monkeypatch):
    import verify.claims.proposition_4_2 as prop42

    monkeypatch.setattr(prop42, "four_neuron_solution", _full_disk)
    code, _, err = _run(verify_main, ["prop4.2", "--d", "3"])
    assert code == 2, err
    assert "environment fault (/full/disk/file): No space left on device" in err
    assert "internal error" not in err


def test_sharpness_train_names_an_environment_fault(monkeypatch, tmp_path):
    import sharpness.training.runs as runs

    monkeypatch.setattr(runs, "train", _full_disk)
    argv = ["--epochs", "1", "--width", "3", "--d", "3", "--n", "4", "--out", str(tmp_path / "r")]
    code, _, err = _run(train_main, argv)
    assert code == 2, err
    assert "sharpness-train: error: environment fault" in err


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--seeds", "1000000000"], "above the limit of 100 seeds"),
        (["--threads", "100000"], "above the limit of 256 threads"),
        (["--out", ""], "--out is empty"),
        (["--out", "/dev/null"], "exists and is not a directory"),
    ],
)
def test_experiment_requests_are_refused_before_any_work(
    args, needle, capsys, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    code = verify_main(["fig1", "--scale", "smoke", *args])
    err = capsys.readouterr().err
    assert code == 2 and needle in err and len(err.strip().splitlines()) == 1
    assert not list(tmp_path.iterdir())  # nothing trained, nothing written
