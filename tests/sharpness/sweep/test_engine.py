"""Running a sweep: the per-cell cache, resume after a kill, and a real 2-worker Dask cluster."""

import json
import multiprocessing as mp
import os

import pytest

from sharpness.sweep import load_results, run_sweep
from sharpness.sweep.engine import run_cell
from sharpness.sweep.grid import expand_grid, normalize_grid

TINY = {"arch": "bias", "width": 8, "d": 4, "n": 8, "epochs": 6}
# columns that say when and where a cell ran, not what it computed
_WHEN = {"started", "ended", "host", "seconds"}


def _cells(**axes):
    return expand_grid(normalize_grid({**TINY, **axes}))


def _numbers(df):
    keep = [c for c in df.columns if c not in _WHEN]
    return df[keep].sort_values("cell").reset_index(drop=True)


def test_rerun_computes_only_missing_cells(tmp_path):
    first = run_sweep(_cells(seed=[0, 1]), tmp_path, workers=0)
    assert (first.cells, first.computed, first.cached, first.failed) == (2, 2, 0, 0)
    again = run_sweep(_cells(seed=[0, 1]), tmp_path, workers=0)
    assert (again.computed, again.cached) == (0, 2)
    more = run_sweep(_cells(seed=[0, 1, 2]), tmp_path, workers=0)
    assert (more.cells, more.computed, more.cached) == (3, 1, 2)
    df = load_results(tmp_path)
    assert sorted(df["seed"]) == [0, 1, 2] and df["cell"].is_unique
    row = df.iloc[0]
    assert row["status"] == "ok" and row["final_epoch"] == 6 and bool(row["test_exact"])
    assert json.loads(row["config"])["width"] == 8
    assert {"sharpness", "test_error", "train_loss", "started", "ended", "host"} <= set(df.columns)


def _killed_sweep(out, cells):
    done = []

    def dies_on_third(key, config, run_dir):
        if len(done) == 2:
            os._exit(9)  # no cleanup at all, as SIGKILL
        done.append(key)
        return run_cell(key, config, run_dir)

    run_sweep(cells, out, workers=0, cell_fn=dies_on_third)


def test_killed_sweep_then_rerun_completes(tmp_path):
    cells = _cells(seed=[0, 1, 2, 3])
    child = mp.get_context("fork").Process(target=_killed_sweep, args=(tmp_path / "k", cells))
    child.start()
    child.join(60)
    assert child.exitcode == 9
    assert len(load_results(tmp_path / "k")) == 2  # the two finished cells survived the kill
    # a kill between row.json and the table: the row comes back from row.json
    table = tmp_path / "k" / "results.csv"
    lines = table.read_text().splitlines()
    table.write_text("\n".join(lines[:2]) + "\n")
    resumed = run_sweep(cells, tmp_path / "k", workers=0)
    assert (resumed.computed, resumed.cached, resumed.failed) == (2, 2, 0)
    whole = run_sweep(cells, tmp_path / "w", workers=0)
    assert whole.computed == 4
    a, b = _numbers(load_results(tmp_path / "k")), _numbers(load_results(tmp_path / "w"))
    assert a.equals(b)  # same numbers as an uninterrupted sweep


def test_a_failing_cell_is_reported_not_cached(tmp_path):
    def boom(key, config, run_dir):
        raise RuntimeError("boom")

    res = run_sweep(_cells(seed=[0]), tmp_path, workers=0, cell_fn=boom)
    assert (res.failed, res.computed) == (1, 0) and "RuntimeError: boom" in res.errors[0]
    assert run_sweep(_cells(seed=[0]), tmp_path, workers=0).computed == 1


@pytest.mark.parametrize(
    "kw, match",
    [
        ({"workers": -1}, "workers must be an integer >= 0"),
        ({"workers": 2, "cluster": "tcp://127.0.0.1:1"}, "not both"),
        ({"cluster": " "}, "scheduler address"),
    ],
    ids=["negative", "both", "blank"],
)
def test_bad_engine_arguments(tmp_path, kw, match):
    with pytest.raises(ValueError, match=match):
        run_sweep(_cells(), tmp_path, **kw)


def test_real_local_cluster_two_workers(tmp_path):
    """A real distributed.LocalCluster on loopback, 2 worker processes, started and stopped here;
    the sweep submits to its address as it would to a remote scheduler."""
    from distributed import Client, LocalCluster

    cells = _cells(seed=[0, 1], algo=["sam", "sgd"])
    with LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        env={"OMP_NUM_THREADS": "1"},
    ) as cluster:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        res = run_sweep(cells, tmp_path / "c", cluster=cluster.scheduler_address)
        with Client(cluster) as client:
            workers = client.scheduler_info()["workers"]
            assert len(workers) == 2
            pids = set(client.run(os.getpid).values())
    assert (res.cells, res.computed, res.failed) == (4, 4, 0)
    assert os.getpid() not in pids and len(pids) == 2  # the cells ran in two other processes
    serial = run_sweep(cells, tmp_path / "s", workers=0)
    assert serial.computed == 4
    assert _numbers(load_results(tmp_path / "c")).equals(_numbers(load_results(tmp_path / "s")))
