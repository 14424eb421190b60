"""``verify-theorem phase-diagram``: grids, the boundary fit, a small diagram with its transition,
the tidy table and heat map, and bad input (exit 2, nothing written)."""

import json
import math

import numpy as np
import pytest

from sharpness.signal_noise import Algorithm, preset
from tests.verify.test_cli import run as run_installed
from verify.cli import main as cli_main
from verify.commands.phase_diagram import parse_grid
from verify.experiments.phase_diagram import boundary_points, fit_boundary, run_phase_diagram


def test_grids_include_the_stop_and_refuse_bad_text():
    assert parse_grid("100:130:10", "d-grid", integer=True) == (100, 110, 120, 130)
    assert parse_grid("0:0.3:0.1", "mu-grid", integer=False) == (0.0, 0.1, 0.2, 0.3)
    assert parse_grid("3,1,2", "n-grid", integer=True) == (1, 2, 3)
    for bad, integer in (("1:x", True), ("1.5", True), ("0", True), ("-1", False),
                         ("", False), ("1:0:1", False), ("1:2:0", False), ("nan", False)):  # fmt: skip
        with pytest.raises(ValueError, match="--g"):
            parse_grid(bad, "g", integer=integer)


def test_fit_recovers_a_planted_power_law_and_its_interval_can_exclude_the_truth():
    rng = np.random.default_rng(0)
    pts = {(d, n): 0.7 * (d / n) ** 0.25 * math.exp(rng.normal(0, 0.01))
           for d in (100, 200, 400, 800) for n in (10, 20, 40)}  # fmt: skip
    fit = fit_boundary(pts, "sgd")
    assert fit.a_d_interval[0] < 0.25 < fit.a_d_interval[1]
    assert fit.b_n_interval[0] < -0.25 < fit.b_n_interval[1]
    wrong = {k: v * (k[0] / 100) ** 0.25 for k, v in pts.items()}  # exponent 1/2 in d
    assert not wrong_fit_contains(fit_boundary(wrong, "sgd"), 0.25)


def wrong_fit_contains(fit, a):
    return fit.a_d_interval[0] <= a <= fit.a_d_interval[1]


def test_boundary_is_the_interpolated_crossing():
    rows = [{"d": 10, "n": 5, "mu_norm": m, "algorithm": "gd", "test_error": e}
            for m, e in ((0.0, 0.5), (1.0, 0.3), (2.0, 0.1))]  # fmt: skip
    assert boundary_points(rows, "gd", 0.2) == {(10, 5): pytest.approx(1.5)}
    assert boundary_points(rows, "gd", 0.05) == {}  # never crosses


def test_a_small_kou_diagram_shows_the_transition():
    pre = preset("kou2023")
    diag = run_phase_diagram(pre, d_grid=(100,), n_grid=(20,), mu_grid=(0.0, 8.0), repeats=3,
                             algorithms=(Algorithm.GD,))  # fmt: skip
    err = {r["mu_norm"]: r["test_error"] for r in diag.rows}
    assert err[0.0] > 0.35 and err[8.0] < 0.2  # harmful without signal, benign with a strong one
    assert all(r["train_loss"] < 0.1 for r in diag.rows)  # both interpolate
    for key in ("d", "n", "mu_norm", "algorithm", "test_error", "train_loss", "max_gamma",
                "max_rho", "repeats", "final_trace"):  # fmt: skip
        assert key in diag.rows[0]


def test_installed_command_json_and_save(tmp_path, capsys):
    out = tmp_path / "pd"
    p = run_installed("phase-diagram", "--preset", "chen2023", "--d-grid", "100", "--n-grid", "10",
                      "--mu-grid", "1,4", "--repeats", "1", "--json", "--save", str(out))  # fmt: skip
    assert p.returncode == 0, p.stderr
    obj = json.loads(p.stdout)
    assert len(obj["rows"]) == 4 and {r["algorithm"] for r in obj["rows"]} == {"sgd", "sam"}
    assert sorted(f.name for f in out.iterdir()) == ["cells.csv", "cells.csv.lock", "heat_map.png",
                                                     "phase_diagram.csv", "phase_diagram.json"]  # fmt: skip
    assert out.joinpath("phase_diagram.csv").read_text().startswith("d,n,mu_norm,algorithm")
    assert "\r" not in p.stderr  # no bar: stderr is a pipe (and --json)
    # a rerun into the same DIR trains nothing and prints the same rows
    code = cli_main(["phase-diagram", "--preset", "chen2023", "--d-grid", "100", "--n-grid", "10",
                     "--mu-grid", "1,4", "--repeats", "1", "--json", "--save", str(out)])  # fmt: skip
    assert code == 0
    obj2 = json.loads(capsys.readouterr().out)
    assert obj2["cells_computed"] == 0 and obj2["cells_reused"] == 4 and obj2["runs"] == 0
    assert obj2["rows"] == obj["rows"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--d-grid", "1:x"], "--d-grid must be a comma list"),
        (["--repeats", "0"], "--repeats must be an integer >= 1"),
        (["--preset", "nope"], "invalid choice"),
        (["--algorithms", "adam"], "--algorithms must list"),
        (["--mu-grid", "-1"], "--mu-grid values must be >= 0"),
    ],
)
def test_bad_input_exits_two_with_one_line_and_writes_nothing(tmp_path, capsys, args, message):
    out = tmp_path / "pd"
    code = cli_main(["phase-diagram", *args, "--save", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert "Traceback" not in err and not out.exists()


def test_a_non_empty_save_directory_is_refused(tmp_path, capsys):
    (tmp_path / "x").write_text("keep")
    code = cli_main(["phase-diagram", "--save", str(tmp_path), "--repeats", "1"])
    assert code == 2 and "not an empty directory" in capsys.readouterr().err
    assert sorted(f.name for f in tmp_path.iterdir()) == ["x"]
    assert (tmp_path / "x").read_text() == "keep"


def test_a_foreign_cells_table_is_refused(tmp_path, capsys):
    (tmp_path / "cells.csv").write_text("a,b\n1,2\n")
    code = cli_main(["phase-diagram", "--save", str(tmp_path), "--repeats", "1", "--d-grid", "50",
                     "--n-grid", "4", "--mu-grid", "1", "--no-progress"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "not a phase-diagram table" in err and len(err.strip().splitlines()) == 1
    assert sorted(f.name for f in tmp_path.iterdir()) == ["cells.csv"]
    assert (tmp_path / "cells.csv").read_text() == "a,b\n1,2\n"


# -- resume: a tiny grid of short runs, the trainer wrapped to count (and to simulate a kill) --

TINY = {"d_grid": (40, 60), "n_grid": (6,), "mu_grid": (0.0, 2.0, 5.0), "repeats": 2}


def _tiny_preset():
    from dataclasses import replace

    pre = preset("chen2023")
    return replace(pre, train=replace(pre.train, steps=6, n_test=50, batch=3))


class CountingTrainer:
    """train_batched, counting the cells it is asked for; raises KeyboardInterrupt on call
    ``kill_at`` (before training), as a kill between two batches would."""

    def __init__(self, kill_at=None):
        from verify.experiments import phase_diagram as pd_mod

        self.real = pd_mod.train_batched
        self.calls, self.cells, self.kill_at = 0, [], kill_at

    def __call__(self, keys, cfg, **kw):
        self.calls += 1
        if self.kill_at is not None and self.calls == self.kill_at:
            raise KeyboardInterrupt
        self.cells.extend({(k.data.d, k.n, k.data.mu_norm, cfg.algorithm.value) for k in keys})
        return self.real(keys, cfg, **kw)


def _run(monkeypatch, table, trainer, **kw):
    from verify.experiments import phase_diagram as pd_mod

    monkeypatch.setattr(pd_mod, "train_batched", trainer)
    return run_phase_diagram(_tiny_preset(), **(TINY | kw), table=table)


def test_resume_after_a_kill_trains_only_the_missing_cells_and_equals_an_uninterrupted_run(
    tmp_path, monkeypatch
):
    from sharpness.sweep.table import read_table

    ref = _run(monkeypatch, None, CountingTrainer(), traces=False)
    table = tmp_path / "cells.csv"
    with pytest.raises(KeyboardInterrupt):  # killed before the 3rd of 4 batches
        _run(monkeypatch, table, CountingTrainer(kill_at=3), traces=False)
    assert len(read_table(table)) == 6  # two batches of three cells
    resumed = CountingTrainer()
    diag = _run(monkeypatch, table, resumed, traces=False)
    assert resumed.calls == 2 and len(resumed.cells) == 6  # the two missing batches only
    assert {c[3] for c in resumed.cells} == {"sam"}  # sgd's two batches were done
    assert list(diag.rows) == list(ref.rows)  # bit for bit, types and columns too
    assert (diag.computed, diag.reused) == (6, 6)
    # delete two rows of one batch: only those two cells are trained again
    frame = read_table(table)
    gone = frame[(frame.d == 40) & (frame.algorithm == "sgd") & (frame.mu_norm > 0)]
    frame.drop(gone.index).to_csv(table, index=False)
    again = CountingTrainer()
    diag2 = _run(monkeypatch, table, again, traces=False)
    assert sorted(again.cells) == [(40, 6, 2.0, "sgd"), (40, 6, 5.0, "sgd")]
    # (a batch of 1 run instead of 3 may round differently: float32 runs, so rel 1e-5; the
    # test errors are counts over 50 points, equal unless a rounding flips a prediction)
    for a, b in zip(diag2.rows, ref.rows, strict=True):
        assert list(a) == list(b) and a["algorithm"] == b["algorithm"]
        num = [k for k in a if k != "algorithm"]
        assert [a[k] for k in num] == pytest.approx([b[k] for k in num], rel=1e-5, abs=1e-9)
    # nothing missing: nothing trained
    idle = CountingTrainer()
    assert list(_run(monkeypatch, table, idle, traces=False).rows) == list(diag2.rows)
    assert idle.calls == 0


def test_options_that_differ_make_new_keys(tmp_path, monkeypatch):
    table = tmp_path / "cells.csv"
    _run(monkeypatch, table, CountingTrainer(), traces=False)
    for kw in ({"seed": 1}, {"repeats": 1}, {"traces": True}):
        t = CountingTrainer()
        _run(monkeypatch, table, t, **({"traces": False} | kw))
        assert len(t.cells) == 12, kw  # nothing reused
    from dataclasses import replace

    from verify.experiments.phase_diagram import cell_config, cell_key

    pre = _tiny_preset()
    base = {"d": 40, "n": 6, "mu": 2.0, "repeats": 2, "seed": 0, "traces": False}
    k0 = cell_key(cell_config(pre, Algorithm.SGD, **base))
    other = replace(pre, train=replace(pre.train, lr=0.2))
    assert cell_key(cell_config(other, Algorithm.SGD, **base)) != k0
    assert cell_key(cell_config(pre, Algorithm.SAM, **base)) != k0
    assert cell_key(cell_config(pre, Algorithm.SGD, **(base | {"mu": 2.5}))) != k0
    assert cell_key(cell_config(pre, Algorithm.SGD, **base)) == k0  # a pure function


def test_the_bar_counts_batches_and_is_off_by_default(capsys):
    run_phase_diagram(_tiny_preset(), **(TINY | {"d_grid": (40,)}), traces=False, progress=True)
    err = capsys.readouterr().err
    assert "2/2" in err and "batch" in err
    run_phase_diagram(_tiny_preset(), **(TINY | {"d_grid": (40,)}), traces=False)
    assert capsys.readouterr().err == ""


def test_metrics_records_one_file_per_trained_cell_written_before_its_row(tmp_path, monkeypatch):
    from sharpness.sweep.table import read_table

    table, mdir = tmp_path / "cells.csv", tmp_path / "metrics"
    diag = _run(monkeypatch, table, CountingTrainer(), traces=False, metrics=mdir)
    frame = read_table(table)
    assert sorted(p.stem for p in mdir.iterdir()) == sorted(frame.cell_key)
    assert all('"record_test_error": true' in c for c in frame.config)
    lines = [json.loads(s) for s in (mdir / f"{frame.cell_key[0]}.jsonl").read_text().splitlines()]
    steps = [0, 6]  # record_every 10 > steps 6: step 0 and the last
    assert [x["step"] for x in lines] == steps * 2 and [x["repeat"] for x in lines] == [0, 0, 1, 1]
    row = diag.rows[0]
    assert {x["algorithm"] for x in lines} == {row["algorithm"]}
    assert all("test_error" in x for x in lines)
    last = [x for x in lines if x["step"] == 6]
    assert sum(x["test_error"] for x in last) / 2 == pytest.approx(row["test_error"], rel=1e-12)
    assert sum(x["max_rho"] for x in last) / 2 == pytest.approx(row["max_rho"], rel=1e-12)
    # the rows equal those of a run without records (the records change no number)
    plain = _run(monkeypatch, None, CountingTrainer(), traces=False)
    assert list(diag.rows) == list(plain.rows)


def test_metrics_needs_save(capsys):
    assert cli_main(["phase-diagram", "--metrics"]) == 2
    assert "--metrics needs --save" in capsys.readouterr().err
