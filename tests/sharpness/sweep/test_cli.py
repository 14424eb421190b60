"""``sharpness-sweep``: --json's object, resume, bad input as one line with exit code 2."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sharpness.sweep.cli import main

GRID = 'arch = "bias"\nwidth = 8\nd = 4\nn = 8\nepochs = 5\nseed = [0, 1]\n'


def _command():
    exe = Path(sys.executable).with_name("sharpness-sweep")
    if exe.exists():
        return [str(exe)]
    found = shutil.which("sharpness-sweep")
    return [found] if found else [sys.executable, "-m", "sharpness.sweep.cli"]


def test_json_and_resume(tmp_path, capsys):
    grid = tmp_path / "g.toml"
    grid.write_text(GRID)
    out = tmp_path / "out"
    assert main([str(grid), "--out", str(out), "--workers", "0", "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert {k: first[k] for k in ("cells", "computed", "cached")} == {
        "cells": 2,
        "computed": 2,
        "cached": 0,
    }
    assert Path(first["table"]) == out / "results.csv" and Path(first["table"]).exists()
    assert main([str(grid), "--out", str(out), "--workers", "0"]) == 0
    assert "2 cells: 0 computed, 2 cached, 0 failed" in capsys.readouterr().out


@pytest.mark.parametrize(
    "grid, extra, message",
    [
        ("width = [\n", [], "is not valid TOML"),
        ("bogus = 1\n", [], "unknown key 'bogus'"),
        ("width = [8, -1]\n", [], "cell (width=-1)"),
        ("width = 8\n", ["--workers", "-1"], "--workers must be >= 0"),
        ("width = 8\n", ["--workers", "1", "--cluster", "tcp://127.0.0.1:1"], "not allowed with"),
    ],
    ids=["toml", "unknown-key", "bad-value", "negative-workers", "workers-and-cluster"],
)
def test_bad_input_is_one_line_exit_2(tmp_path, capsys, grid, extra, message):
    g = tmp_path / "g.toml"
    g.write_text(grid)
    assert main([str(g), "--out", str(tmp_path / "o"), *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("sharpness-sweep: error: ") and err.count("\n") == 1
    assert message in err
    assert not (tmp_path / "o" / "results.csv").exists()  # nothing run, nothing written


def test_installed_command_bad_grid(tmp_path):
    g = tmp_path / "g.toml"
    g.write_text("lr = [0.01, true]\n")
    proc = subprocess.run(
        _command() + [str(g), "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "sharpness-sweep: error: cell (lr=True): --lr takes a value, not true"
    ]
