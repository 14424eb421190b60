"""``sharpness-train``: bad input, metrics, kill-and-resume equals uninterrupted.

The installed command runs as a real process where a process is what is tested: one bad-input
run (the entry point, its exit code and stderr) and the runs that are killed mid-way. Everything
else calls :func:`sharpness.training.cli.main` in this process (same parsing, same training),
which saves an interpreter start per case.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

SMALL = ["--arch", "bias", "--width", "16", "--d", "6", "--n", "16", "--seed", "3"]
# slow enough (torch engine, frequent evaluations) that a kill lands mid-run
LONG = SMALL + ["--epochs", "300", "--backend", "torch", "--log-every", "5", "--eval-every", "20"]


def _command():
    exe = Path(sys.executable).with_name("sharpness-train")
    if exe.exists():
        return [str(exe)]
    found = shutil.which("sharpness-train")
    return [found] if found else [sys.executable, "-m", "sharpness.training.cli"]


def run(*args, timeout=120):
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    return subprocess.run(
        _command() + list(args), capture_output=True, text=True, env=env, timeout=timeout
    )


def main(capsys, *args):
    from sharpness.training.cli import main as cli_main

    code = cli_main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_parser_choices_equal_the_trainer():
    # repeated in the CLI so that --help and bad input need no torch (tests/verify/test_startup.py)
    from sharpness.training import cli, runs

    assert cli.ARCHITECTURES == runs.ARCHITECTURES
    assert cli.ALGORITHMS == runs.ALGORITHMS
    assert cli.PRESETS == runs.PRESETS


def test_installed_command_bad_lr_one_line_exit_2(tmp_path):
    out = tmp_path / "run"
    p = run(*SMALL, "--out", str(out), "--no-progress", "--lr", "-0.1")
    assert p.returncode == 2, p.stderr
    assert p.stderr.strip().splitlines() == ["sharpness-train: error: --lr must be > 0, got -0.1"]
    assert not out.exists()


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--lr", "-0.1"], "--lr must be > 0, got -0.1"),
        (["--rho", "-1"], "--rho must be >= 0"),
        (["--batch-size", "17"], "--batch-size 17 is larger than n = 16"),
        (["--arch", "resnet"], "invalid choice: 'resnet'"),
        (["--algo", "adam"], "invalid choice: 'adam'"),
        (["--algo", "gd", "--batch-size", "4"], "full-batch GD needs batch size n = 16"),
        (["--epochs", "0"], "epochs must be"),
        (["--width", "x"], "invalid int value: 'x'"),
    ],
)
def test_bad_hyperparameters_one_line_exit_2(capsys, tmp_path, args, needle):
    out = tmp_path / "run"
    code, _, err = main(capsys, *SMALL, "--out", str(out), "--no-progress", *args)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sharpness-train: error:")
    assert needle in lines[0]
    assert not out.exists()


def test_version(capsys):
    from importlib.metadata import version

    with pytest.raises(SystemExit) as exc:
        main(capsys, "--version")
    assert exc.value.code in (0, None)
    assert capsys.readouterr().out == f"sharpness-train {version('flatness-toolkit')}\n"


def test_trains_and_writes_metrics(capsys, tmp_path):
    out = tmp_path / "run"
    code, stdout, err = main(
        capsys, *SMALL, "--epochs", "20", "--eval-every", "10", "--out", str(out), "--json"
    )
    assert code == 0, err
    final = json.loads(stdout)
    assert final["finished"] is True and final["epoch"] == 20 and final["test_exact"] is True
    recs = [json.loads(s) for s in (out / "metrics.jsonl").read_text().splitlines()]
    assert {"epoch", "train_loss", "sharpness", "test_error"} <= set(recs[-1])
    assert {"checkpoint.npz", "config.json", "final.npz", "summary.json"} <= {
        f.name for f in out.iterdir()
    }


def _kill_mid_run(out: Path, sig: int) -> int:
    """Start the long run, wait for its second evaluation's checkpoint, send ``sig``."""
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    proc = subprocess.Popen(
        _command() + LONG + ["--out", str(out), "--no-progress"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )
    metrics = out / "metrics.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if metrics.exists() and '"epoch": 40,' in metrics.read_text():
            break
        time.sleep(0.005)
    proc.send_signal(sig)
    proc.wait(timeout=60)
    return proc.returncode


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    from sharpness.training.cli import main as cli_main

    whole = tmp_path_factory.mktemp("cli") / "whole"
    assert cli_main([*LONG, "--out", str(whole), "--no-progress"]) == 0
    return whole


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["kill", "ctrl-c"])
def test_rerun_after_interruption_equals_uninterrupted(capsys, tmp_path, sig, uninterrupted):
    part = tmp_path / "part"
    code = _kill_mid_run(part, sig)
    assert code == (-9 if sig == signal.SIGKILL else 130)
    assert not (part / "final.npz").exists()  # it really was interrupted mid-run
    code, _, err = main(capsys, *LONG, "--out", str(part), "--no-progress")
    assert code == 0, err
    with np.load(uninterrupted / "final.npz") as a, np.load(part / "final.npz") as b:
        assert set(a.files) == set(b.files)
        for k in a.files:
            assert np.array_equal(a[k], b[k]), k
    assert (uninterrupted / "metrics.jsonl").read_text() == (part / "metrics.jsonl").read_text()


def test_other_configuration_in_same_directory_is_refused(capsys, tmp_path):
    out = tmp_path / "run"
    assert main(capsys, *SMALL, "--epochs", "2", "--out", str(out), "--no-progress")[0] == 0
    code, _, err = main(
        capsys, *SMALL, "--epochs", "2", "--lr", "0.02", "--out", str(out), "--no-progress"
    )
    assert code == 2 and "different configuration" in err
