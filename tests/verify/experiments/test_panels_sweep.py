"""``verify-theorem figN --workers N | --cluster ADDRESS``: the panels' (panel, seed) runs as cells
of the sweep engine, in the same PANEL/seedK directories, with the figure's table of final
metrics; the same numbers as the in-process route (``--workers 0``, today's train_many)."""

import json

import pandas as pd
import pytest

from verify.experiments.panels import RunSettings, _sweep, panel_configs, run_panels, table_dir

# columns that say when and where a run trained, not what it computed
_WHEN = {"started", "ended", "host", "seconds", "run_dir"}


def cli(capsys, *args):
    from verify.cli import main

    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def _numbers(path):
    df = pd.read_csv(path)
    keep = [c for c in df.columns if c not in _WHEN]
    return df[keep].sort_values("cell").reset_index(drop=True)


def test_fig4_on_a_real_two_worker_cluster_matches_in_process(capsys, tmp_path):
    base = ["fig4", "--scale", "smoke", "--seeds", "1", "--no-progress", "--json", "--no-figures"]
    code0, out0, err0 = cli(capsys, *base, "--out", str(tmp_path / "w0"), "--workers", "0")
    code2, out2, err2 = cli(capsys, *base, "--out", str(tmp_path / "w2"), "--workers", "2")
    assert code0 in (0, 1) and code2 == code0, (err0, err2)
    assert json.loads(out2) == json.loads(out0)  # every check's numbers, params and notes
    t0, t2 = (tmp_path / w / "smoke" / "fig4" / "results.csv" for w in ("w0", "w2"))
    a, b = _numbers(t0), _numbers(t2)
    assert len(a) == 2 and sorted(a["panel"]) == ["fig4a", "fig4b"]
    pd.testing.assert_frame_equal(a[b.columns], b)
    for panel in ("fig4a", "fig4b"):  # one cell per (panel, seed), in the PANEL/seedK layout
        run = tmp_path / "w2" / "smoke" / panel / "seed0"
        assert (run / "row.json").exists() and (run / "config.json").exists()
    assert not (tmp_path / "w0" / "smoke" / "fig4a" / "seed0" / "row.json").exists()
    # the layout is the one --no-train reads: the same report without training
    code3, out3, _ = cli(capsys, *base, "--out", str(tmp_path / "w2"), "--no-train")
    assert code3 == code0 and json.loads(out3) == json.loads(out0)


def test_the_cell_route_in_process_matches_train_many_and_reports_failures(tmp_path):
    """The sweep cells (run_panel_cell, run in this process: workers=0) train what train_many
    trains; a run that cannot train fails the figure with its cell named, the others kept."""
    ref = RunSettings(scale="smoke", seeds=2, out=tmp_path / "ref", progress=False)
    R = run_panels(["fig5a"], ref)
    cells_set = RunSettings(scale="smoke", seeds=2, out=tmp_path / "cells", progress=False)
    from sharpness.sweep.grid import Cell, cell_key

    configs = panel_configs("fig5a", "smoke", 2)
    cells = [Cell(options={}, config=c, key=cell_key(c)) for c in configs]
    outs = [cells_set.root / "fig5a" / f"seed{c.seed}" for c in configs]
    table = table_dir(["fig5a"], cells_set)
    _sweep(cells, outs, cells_set, table)
    pd.testing.assert_frame_equal(
        _numbers(table / "results.csv"), _numbers(table_dir(["fig5a"], ref) / "results.csv")
    )
    again = run_panels(["fig5a"], RunSettings(**{**vars(cells_set), "train": False}))
    for r, q in zip(R["fig5a"], again["fig5a"], strict=True):
        assert r.metrics == q.metrics
    # broken input: seed0's directory holds another run -> that cell fails, seed1 is kept
    bad = RunSettings(scale="smoke", seeds=2, out=tmp_path / "bad", progress=False)
    bad_outs = [bad.root / "fig5a" / f"seed{c.seed}" for c in configs]
    bad_outs[0].mkdir(parents=True)
    (bad_outs[0] / "config.json").write_text((outs[1] / "config.json").read_text())
    with pytest.raises(RuntimeError, match=f"1 of 2 runs failed.*cell {cells[0].key}"):
        _sweep(cells, bad_outs, bad, table_dir(["fig5a"], bad))
    assert (bad_outs[1] / "row.json").exists() and not (bad_outs[0] / "row.json").exists()


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--workers", "2", "--cluster", "tcp://127.0.0.1:1"], "not both"),
        (["--workers", "0", "--cluster", "tcp://127.0.0.1:1"], "not both"),
        (["--workers", "-1"], "--workers must be an integer >= 0, got -1"),
        (["--cluster", " "], "--cluster is empty"),
    ],
)
def test_bad_engine_options_one_line_exit_2(capsys, tmp_path, args, needle):
    code, _, err = cli(
        capsys, "fig4", "--scale", "smoke", "--seeds", "1", "--out", str(tmp_path), *args
    )
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], err


def test_cluster_address_reaches_the_sweep_engine(capsys, tmp_path, monkeypatch):
    """--cluster ADDRESS is handed to run_sweep as its scheduler (the engine's own tests submit to
    a real scheduler address); here the cells then run in process, to stay fast."""
    import sharpness.sweep.engine as engine

    seen = []
    real = engine.run_sweep

    def recording(cells, out, **kw):
        seen.append(kw)
        return real(cells, out, **{**kw, "workers": 0, "cluster": None})

    monkeypatch.setattr(engine, "run_sweep", recording)
    args = ["fig4", "--scale", "smoke", "--seeds", "1", "--out", str(tmp_path), "--no-progress"]
    code, _, err = cli(capsys, *args, "--cluster", "tcp://10.0.0.5:8786", "--no-figures")
    assert code in (0, 1), err
    assert len(seen) == 1 and seen[0]["cluster"] == "tcp://10.0.0.5:8786"
    assert seen[0]["workers"] is None and len(seen[0]["run_dirs"]) == 2
    assert len(pd.read_csv(tmp_path / "smoke" / "fig4" / "results.csv")) == 2


@pytest.mark.parametrize(
    "kw,match",
    [
        ({"workers": -1}, "workers must be an integer >= 0"),
        ({"workers": True}, "workers must be an integer >= 0"),
        ({"workers": 2, "cluster": "tcp://h:1"}, "not both"),
        ({"workers": None}, "when no cluster is given"),
        ({"workers": None, "cluster": ""}, "scheduler address"),
    ],
)
def test_run_settings_refuse_bad_engines(kw, match):
    with pytest.raises(ValueError, match=match):
        RunSettings(**kw)
