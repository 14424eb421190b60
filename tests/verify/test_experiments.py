"""``verify-theorem fig* | table1``: the pipeline runs, draws, reuses its runs, and prints what the
library (verify.experiments) returns; bad input is one line with exit code 2."""

import json
from pathlib import Path

import pytest

from verify.experiments import RunSettings, run_experiment, run_third_column


def cli(capsys, *args):
    from verify.cli import main

    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_experiment_commands_are_listed(capsys):
    code, out, _ = cli(capsys, "--list")
    assert code == 0
    for name in ("fig1", "fig2", "fig4", "fig5", "fig6", "table1"):
        assert name in out


@pytest.fixture(scope="module")
def smoke_root(tmp_path_factory):
    return tmp_path_factory.mktemp("experiments")


def test_smoke_figure_runs_draws_and_is_reused(capsys, smoke_root):
    args = ["fig4", "--scale", "smoke", "--seeds", "2", "--out", str(smoke_root), "--no-progress"]
    code, out, err = cli(capsys, *args, "--json")
    assert code in (0, 1), err
    rep = json.loads(out)
    assert rep["claim"] == "fig4" and len(rep["checks"]) == 5
    for f in rep["figures"]:
        assert Path(f).stat().st_size > 1000
    assert {Path(f).suffix for f in rep["figures"]} == {".png", ".pdf"}
    assert any("smoke scale" in n for n in rep["notes"])
    code2, out2, _ = cli(capsys, *args, "--json", "--no-train", "--no-figures")
    again = json.loads(out2)
    assert code2 == code and again["checks"] == rep["checks"] and again["figures"] == []
    # the command prints what the library returns
    settings = RunSettings(scale="smoke", seeds=2, out=smoke_root, train=False, progress=False)
    report, paths = run_experiment("fig4", settings, figures=False)
    assert report.to_dict() == {k: v for k, v in again.items() if k != "figures"} and paths == []


def test_smoke_fig2_reports_neurons_and_table1(capsys, smoke_root):
    base = ["--scale", "smoke", "--seeds", "1", "--out", str(smoke_root), "--no-progress"]
    code, out, err = cli(capsys, "fig2", *base)
    assert code in (0, 1), err
    assert "4 largest neurons extract +-x[1] +-x[2]" in out
    code, out, err = cli(capsys, "table1", *base)
    assert code in (0, 1), err
    for row in ("2-layer w/o Bias", "2-layer w/ Bias", "simplified BatchNorm", "LayerNorm"):
        assert row in out
    settings = RunSettings(scale="smoke", seeds=1, out=smoke_root, train=False, progress=False)
    report, table = run_third_column(settings)
    assert out == table + "\n\n" + report.format_text() + "\n"
    assert code == (0 if report.passed else 1)


@pytest.mark.parametrize(
    "args,needle",
    [
        (["fig1", "--seeds", "0"], "--seeds must be an integer >= 1, got 0"),
        (["fig1", "--scale", "huge"], "invalid choice: 'huge'"),
        (["table1", "--no-train", "--scale", "smoke"], "holds no run"),
    ],
)
def test_bad_input_one_line_exit_2(capsys, tmp_path, args, needle):
    code, _, err = cli(capsys, *args, "--out", str(tmp_path / "none"))
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0]


def test_the_commands_only_parse_call_and_print():
    """verify/commands/{all,experiments}.py define the command interface and nothing else; the
    logic is in verify.experiments."""
    import importlib
    import inspect

    for name in ("all", "experiments"):
        module = importlib.import_module(f"verify.commands.{name}")
        own = {
            k
            for k, v in vars(module).items()
            if (inspect.isfunction(v) or inspect.isclass(v)) and v.__module__ == module.__name__
        }
        assert own == {"add_arguments", "run"}, (name, own)
        assert {"NAMES", "HELP", "ORDER"} <= set(vars(module))
