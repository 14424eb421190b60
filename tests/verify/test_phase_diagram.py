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


def test_installed_command_json_and_save(tmp_path):
    out = tmp_path / "pd"
    p = run_installed("phase-diagram", "--preset", "chen2023", "--d-grid", "100", "--n-grid", "10",
                      "--mu-grid", "1,4", "--repeats", "1", "--json", "--save", str(out))  # fmt: skip
    assert p.returncode == 0, p.stderr
    obj = json.loads(p.stdout)
    assert len(obj["rows"]) == 4 and {r["algorithm"] for r in obj["rows"]} == {"sgd", "sam"}
    assert sorted(f.name for f in out.iterdir()) == ["heat_map.png", "phase_diagram.csv",
                                                     "phase_diagram.json"]  # fmt: skip
    assert out.joinpath("phase_diagram.csv").read_text().startswith("d,n,mu_norm,algorithm")


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
    assert (tmp_path / "x").read_text() == "keep"
