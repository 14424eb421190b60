"""``verify-theorem fig* | table1``: the verdict checks fail on broken evidence; the pipeline runs."""

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from verify.commands import experiments as ex


def fake_run(seed=0, evals=(), params=None):
    """A stand-in for a RunResult: ``evals`` are (epoch, test_error, sharpness[, ci]) tuples."""
    metrics = []
    for e in evals:
        rec = {"epoch": e[0], "test_error": e[1], "sharpness": e[2], "train_error": 0.0}
        rec["train_loss"] = 1e-4
        if len(e) > 3:
            rec["test_ci"] = list(e[3])
            rec["test_exact"] = False
        else:
            rec["test_exact"] = True
        metrics.append(rec)
    cfg = SimpleNamespace(seed=seed, epochs=evals[-1][0] if evals else 0, phases=())
    return SimpleNamespace(config=cfg, metrics=tuple(metrics), params=params or {}, finished=True)


def runs(*finals):
    return [fake_run(s, [(0, 0.5, 100.0), (10, te, tr)]) for s, (te, tr) in enumerate(finals)]


def test_generalizes_passes_and_fails():
    assert ex.check_generalizes("x", runs((0.0, 1.0), (0.01, 1.0))).passed
    assert not ex.check_generalizes("x", runs((0.0, 1.0), (0.2, 1.0))).passed


def test_generalizes_uses_the_upper_confidence_bound_of_an_estimate():
    ok = [fake_run(0, [(10, 0.04, 1.0, (0.035, 0.045))])]
    wide = [fake_run(0, [(10, 0.04, 1.0, (0.02, 0.07))])]
    assert ex.check_generalizes("x", ok).passed
    r = ex.check_generalizes("x", wide)
    assert not r.passed and r.kind == "estimate"


def test_flatter_and_worse_compare_seed_by_seed():
    sam = runs((0.3, 10.0), (0.4, 12.0))
    base = runs((0.0, 50.0), (0.0, 40.0))
    assert ex.check_flatter("1-SAM", sam, "GD", base).passed
    assert ex.check_worse("1-SAM", sam, "GD", base).passed
    assert not ex.check_flatter("GD", base, "1-SAM", sam).passed
    assert not ex.check_worse("GD", base, "1-SAM", sam).passed
    mixed = runs((0.3, 10.0), (0.0, 60.0))  # one seed breaks both claims
    assert not ex.check_flatter("1-SAM", mixed, "GD", base).passed
    assert not ex.check_worse("1-SAM", mixed, "GD", base).passed


def test_worse_needs_separated_intervals_for_estimates():
    a = [fake_run(0, [(10, 0.10, 1.0, (0.08, 0.12))])]
    b = [fake_run(0, [(10, 0.09, 1.0, (0.07, 0.11))])]
    assert not ex.check_worse("a", a, "b", b).passed
    c = [fake_run(0, [(10, 0.02, 1.0, (0.01, 0.03))])]
    assert ex.check_worse("a", a, "c", c).passed


def test_degenerates_and_sharpness_decreases():
    late = [fake_run(0, [(0, 0.5, 100.0), (5, 0.1, 20.0), (10, 0.3, 10.0)])]
    steady = [fake_run(0, [(0, 0.5, 100.0), (5, 0.3, 20.0), (10, 0.1, 120.0)])]
    assert ex.check_degenerates("x", late).passed
    assert not ex.check_degenerates("x", steady).passed
    assert ex.check_sharpness_decreases("x", late).passed
    assert not ex.check_sharpness_decreases("x", steady).passed


def test_fits_fails_on_a_training_error():
    r = runs((0.0, 1.0))
    assert ex.check_fits("x", r).passed
    r[0].metrics[-1]["train_error"] = 0.01
    assert not ex.check_fits("x", r).passed


def _four_neurons(rest=0.01, signs=((1, 1), (1, -1), (-1, 1), (-1, -1)), d=8, m=12):
    rng = np.random.default_rng(0)
    W1 = rng.normal(scale=0.01, size=(m, d))
    for i, (a, b) in enumerate(signs):
        W1[i] = 0.0
        W1[i, 0], W1[i, 1] = 3.0 * a, 3.0 * b
        W1[i, 2:] = rest
    return {"W1": W1}


def test_feature_check_accepts_plus_minus_x1_x2_and_rejects_others():
    good = [fake_run(0, [(10, 0.0, 1.0)], _four_neurons())]
    checks = ex.check_features("Fig. 2b", good)
    assert all(c.passed for c in checks)
    assert checks[1].value > 10  # column-norm ratio
    noisy = [fake_run(0, [(10, 0.0, 1.0)], _four_neurons(rest=1.0))]
    assert not ex.check_features("Fig. 2b", noisy)[0].passed
    repeated = _four_neurons(signs=((1, 1), (1, 1), (-1, 1), (-1, -1)))
    assert not ex.check_features("Fig. 2b", [fake_run(0, [(10, 0, 1)], repeated)])[0].passed
    rng = np.random.default_rng(1)
    rand = [fake_run(0, [(10, 0.0, 1.0)], {"W1": rng.normal(size=(12, 8))})]
    assert not any(c.passed for c in ex.check_features("Fig. 2b", rand))


def test_projection_check():
    W1 = np.full((2, 2), 2.5)
    held = [fake_run(0, [(1, 0, 1)], {"W1": W1, "b1": np.zeros(2)})]
    assert ex.check_projection("p", held, 5.0).passed
    assert not ex.check_projection("p", held, 10.0).passed


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
    assert code2 == code and again["checks"] == rep["checks"]


def test_smoke_fig2_reports_neurons_and_table1(capsys, smoke_root):
    base = ["--scale", "smoke", "--seeds", "1", "--out", str(smoke_root), "--no-progress"]
    code, out, err = cli(capsys, "fig2", *base)
    assert code in (0, 1), err
    assert "4 largest neurons extract +-x[1] +-x[2]" in out
    code, out, err = cli(capsys, "table1", *base)
    assert code in (0, 1), err
    for row in ("2-layer w/o Bias", "2-layer w/ Bias", "simplified BatchNorm", "LayerNorm"):
        assert row in out


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


def test_flatter_at_a_kink_needs_both_one_sided_traces_below():
    def kinked(lo, hi):
        r = fake_run(0, [(10, 0.3, 1.0)])
        r.metrics[-1]["sharpness"] = None
        r.metrics[-1]["sharpness_one_sided"] = [lo, hi]
        return [r]

    base = runs((0.0, 50.0))
    assert ex.check_flatter("1-SAM", kinked(20.0, 22.0), "GD", base).passed
    assert not ex.check_flatter("1-SAM", kinked(20.0, 60.0), "GD", base).passed
