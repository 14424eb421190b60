"""``verify-theorem``: exit codes, JSON and one-line errors.

One test runs the installed command (pyhf's ``test_scripts.py`` pattern: the entry point, the
real process, its exit code and streams); the others call :func:`verify.cli.main` in this
process, which parses and runs exactly what the command does without paying an interpreter
start for each case. ``tests/verify/test_startup.py`` runs the fast paths (``--help``,
``--list``, ``--version``, bad input) as real processes.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from verify.cli import main as cli_main


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


def main(capsys, *args):
    """(exit code, stdout, stderr) of ``verify-theorem ARGS``, in this process."""
    code = cli_main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_installed_command_main_job_table_and_exit_zero():
    p = run("4.1", "--d", "10")
    assert p.returncode == 0, p.stderr
    assert "verdict: VERIFIED" in p.stdout and "Tr(H) = lower bound (D=2)" in p.stdout


def test_installed_command_bad_input_one_line_exit_two():
    p = run("4.1", "--d", "3", "--n", "9")
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr.splitlines() == [
        "verify-theorem: error: n must be <= 2^d = 8 (distinct points of {-1,1}^3), got n=9"
    ]


def test_json_output_shape(capsys):
    code, out, _ = main(capsys, "prop4.1", "--d", "6", "--n", "10", "--depth", "3", "--json")
    assert code == 0
    report = json.loads(out)
    assert {"claim", "passed", "parameters", "checks"} <= set(report)
    assert report["claim"] == "prop4.1" and report["passed"] is True
    for check in report["checks"]:
        assert {"name", "passed", "value", "expected"} <= set(check)
    assert out == json.dumps(report, sort_keys=True, indent=2) + "\n"


def test_failing_check_exits_one(capsys):
    code, out, _ = main(capsys, "prop4.2", "--d", "5", "--form", "printed", "--json")
    assert code == 1
    assert json.loads(out)["passed"] is False


def test_list(capsys):
    code, out, err = main(capsys, "--list")
    assert code == 0 and err == ""
    for claim in ("4.1", "prop4.1", "prop4.2", "lemma4.1"):
        assert claim in out
    assert "commands:" in out and "errata" in out


def test_version(capsys):
    from importlib.metadata import version

    with pytest.raises(SystemExit) as exc:
        cli_main(["--version"])
    assert exc.value.code in (0, None)
    assert capsys.readouterr().out == f"verify-theorem {version('flatness-toolkit')}\n"


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
        (["4.1", "--data", "no-such-file.npz"], "no such file"),
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
        "no-data-file",
    ],
)
def test_bad_input_is_one_line_exit_two(capsys, args, needle):
    code, out, err = main(capsys, *args)
    assert code == 2
    assert needle in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert out == ""


def test_non_extreme_user_data_names_the_point(capsys, tmp_path):
    X = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0], [0.5, 0.5]])
    np.savez(tmp_path / "d.npz", X=X, y=np.ones(4))
    code, _, err = main(capsys, "4.1", "--data", str(tmp_path / "d.npz"))
    assert code == 2 and "point 3" in err and "Traceback" not in err


def test_too_large_offers_a_labelled_estimate(capsys):
    code, out, _ = main(
        capsys, "prop4.1", "--d", "24", "--n", "50", "--hypercube-samples", "2000", "--json"
    )
    assert code == 0
    checks = {c["name"]: c for c in json.loads(out)["checks"]}
    est = [c for c in checks.values() if c["kind"] == "estimate"]
    assert len(est) == 1 and "ESTIMATE" in est[0]["detail"] and "MSE estimate" in est[0]["detail"]


def test_paper_constructions_are_counted_exactly_beyond_enumeration(capsys):
    # 2^64 points: sub-cube pruning, no sampling
    code, out, err = main(capsys, "prop4.1", "--d", "64", "--n", "100")
    assert code == 0, out + err
    assert "{-1,1}^64" in out and "estimate" not in out.lower().split("notes")[0]
