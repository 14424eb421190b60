"""run_sweep(run_dirs=...): each cell trains in a directory its caller names (the figure
commands' PANEL/seedK), its cache entry row.json beside the run; bad mappings are refused."""

import pytest

from sharpness.sweep import load_results, run_sweep
from sharpness.sweep.grid import expand_grid, normalize_grid

TINY = {"arch": "bias", "width": 8, "d": 4, "n": 8, "epochs": 6}


def _cells(**axes):
    return expand_grid(normalize_grid({**TINY, **axes}))


def test_named_run_dirs_hold_the_runs_and_the_cache(tmp_path):
    cells = _cells(seed=[0, 1])
    dirs = {c.key: tmp_path / "runs" / f"seed{c.config.seed}" for c in cells}
    first = run_sweep(cells, tmp_path / "table", workers=0, run_dirs=dirs)
    assert (first.computed, first.cached, first.failed) == (2, 0, 0)
    for d in dirs.values():
        assert (d / "row.json").exists() and (d / "config.json").exists()
    assert not (tmp_path / "table" / "cells").exists()
    assert len(load_results(tmp_path / "table")) == 2
    again = run_sweep(cells, tmp_path / "table", workers=0, run_dirs=dirs)
    assert (again.computed, again.cached) == (0, 2)
    # the cache lives with the run: a removed run is computed again
    gone = next(iter(dirs.values()))
    (gone / "row.json").unlink()
    third = run_sweep(cells, tmp_path / "table", workers=0, run_dirs=dirs)
    assert (third.computed, third.cached) == (1, 1)


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda cells, p: {cells[0].key: p / "a"}, "names no directory for cell"),
        (lambda cells, p: {c.key: p / "same" for c in cells}, "the same directory"),
        (lambda cells, p: {c.key: " " for c in cells}, "names no directory"),
        (lambda cells, p: [p / "a", p / "b"], "must map cell keys"),
    ],
)
def test_bad_run_dirs_refused_before_anything_runs(tmp_path, make, match):
    cells = _cells(seed=[0, 1])
    with pytest.raises(ValueError, match=match):
        run_sweep(cells, tmp_path / "t", workers=0, run_dirs=make(cells, tmp_path))
    assert not (tmp_path / "t").exists()
