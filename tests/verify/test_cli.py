"""The installed ``verify-theorem`` command: exit codes, JSON and one-line errors."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest


def _command():
    exe = Path(sys.executable).with_name("verify-theorem")
    if exe.exists():
        return [str(exe)]
    found = shutil.which("verify-theorem")
    return [found] if found else [sys.executable, "-m", "verify"]


def run(*args, cwd=None):
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    return subprocess.run(
        _command() + list(args), capture_output=True, text=True, cwd=cwd, env=env, timeout=300
    )


def test_main_job_table_and_exit_zero():
    p = run("4.1", "--d", "10")
    assert p.returncode == 0, p.stderr
    assert "verdict: VERIFIED" in p.stdout and "Tr(H) = lower bound (D=2)" in p.stdout


def test_json_output_shape():
    p = run("prop4.1", "--d", "6", "--n", "10", "--depth", "3", "--json")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert {"claim", "passed", "parameters", "checks"} <= set(out)
    assert out["claim"] == "prop4.1" and out["passed"] is True
    for check in out["checks"]:
        assert {"name", "passed", "value", "expected"} <= set(check)
    assert p.stdout == json.dumps(out, sort_keys=True, indent=2) + "\n"


def test_failing_check_exits_one():
    p = run("prop4.2", "--d", "5", "--form", "printed", "--json")
    assert p.returncode == 1
    assert json.loads(p.stdout)["passed"] is False


def test_list():
    p = run("--list")
    assert p.returncode == 0
    for claim in ("4.1", "prop4.1", "prop4.2", "lemma4.1"):
        assert claim in p.stdout


@pytest.mark.parametrize(
    "args,needle",
    [
        (["4.1", "--d", "1"], "d must be an integer >= 2"),
        (["4.1", "--d", "2.5"], "invalid int value"),
        (["4.1", "--d", "3", "--n", "9"], "n must be <= 2^d"),
        (["4.1", "--n", "0"], "n must be an integer >= 1"),
        (["4.1", "--depth", "1"], "depth must be an integer >= 2"),
        (["9.9"], "unknown claim id"),
        (["prop4.1", "--d", "65"], "--hypercube-samples"),
        ([], "claim id is required"),
        (["4.1", "--bogus"], "unrecognized arguments"),
    ],
    ids=[
        "d<2",
        "d-float",
        "n>2^d",
        "n<1",
        "depth<2",
        "unknown",
        "too-large",
        "no-claim",
        "bad-flag",
    ],
)
def test_bad_input_is_one_line_exit_two(args, needle):
    p = run(*args)
    assert p.returncode == 2
    assert needle in p.stderr
    assert "Traceback" not in p.stderr and len(p.stderr.strip().splitlines()) == 1
    assert p.stdout == ""


def test_non_extreme_user_data_names_the_point(tmp_path):
    X = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0], [0.5, 0.5]])
    np.savez(tmp_path / "d.npz", X=X, y=np.ones(4))
    p = run("4.1", "--data", str(tmp_path / "d.npz"))
    assert p.returncode == 2 and "point 3" in p.stderr and "Traceback" not in p.stderr


def test_too_large_offers_a_labelled_estimate():
    p = run("prop4.1", "--d", "24", "--n", "50", "--hypercube-samples", "2000", "--json")
    assert p.returncode == 0, p.stderr
    checks = {c["name"]: c for c in json.loads(p.stdout)["checks"]}
    est = [c for c in checks.values() if c["kind"] == "estimate"]
    assert len(est) == 1 and "ESTIMATE" in est[0]["detail"] and "MSE estimate" in est[0]["detail"]


def test_paper_constructions_are_counted_exactly_beyond_enumeration():
    # 2^64 points: sub-cube pruning, no sampling
    proc = run("prop4.1", "--d", "64", "--n", "100")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "{-1,1}^64" in proc.stdout and "estimate" not in proc.stdout.lower().split("notes")[0]
