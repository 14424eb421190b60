"""Running a sweep's cells: a per-cell cache, and execution on Dask (local or a cluster).

**Why Dask distributed.** One engine covers both cases the issue asks for: with no address it
starts a ``distributed.LocalCluster`` of N worker *processes* with one thread each on this
machine, and with ``--cluster tcp://host:port`` the very same client code submits to a running
scheduler on other machines. joblib/loky would need a second engine for the cluster case (its
Dask backend is Dask anyway), and Ray brings a much larger runtime (a raylet, an object store,
a 200 MB wheel) for what is here a bag of independent, seconds-to-hours tasks with small inputs
and outputs. Dask is pure Python on PyPI, installs nothing that replaces torch, and its
scheduler already retries work from a lost worker. We write no scheduler: a cell is one
``client.submit``; the client consumes results ``as_completed``.

**Cache and resume.** Every cell has a folder ``DIR/cells/<key>/`` (the key is the SHA-256 of its
full configuration, :func:`sharpness.sweep.grid.cell_key`). The cell trains there through
:func:`sharpness.training.train` (which checkpoints, resumes from a kill and reuses a finished
run), and when it ends the client writes ``row.json`` atomically there, then adds the row to the
tidy table ``DIR/results.csv`` (:mod:`sharpness.sweep.table`, locked and atomically replaced). A
cell with a ``row.json`` is cached; rerunning a sweep computes only the others, so a killed sweep
loses at most the cells in flight, and those resume from their last checkpoint. A row in
``row.json`` but missing from the table (a kill between the two writes) is put back on rerun.
On a cluster, the workers write the cell folders at the same absolute path: put DIR on a
filesystem they share for in-flight checkpoints to survive a lost worker; the rows and the table
are written by the client either way. A caller may name each cell's run directory instead
(``run_dirs``: the figure commands keep ``PANEL/seedK``); ``row.json`` then lives there.

**Threads.** Each worker is one process with one thread (``threads_per_worker=1``, and
:func:`sharpness._threads.use_one_thread` in the task): N cells on N cores, no oversubscription
(see :mod:`sharpness._threads` for the measured cost of two threads per process here).
"""

from __future__ import annotations

import contextlib
import datetime
import json
import math
import os
import socket
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sharpness.sweep.grid import Cell
from sharpness.sweep.table import read_table, table_path, write_rows

__all__ = ["SweepResult", "cell_row", "default_workers", "run_cell", "run_sweep"]

ROW_FILE = "row.json"
CELLS_DIR = "cells"

# final-metric columns of a row, from the run's last records
_METRICS = (
    "train_loss",
    "train_error",
    "sharpness",
    "sharpness_note",
    "test_error",
    "test_mse",
    "test_exact",
    "diverged",
)


@dataclass(frozen=True, kw_only=True)
class SweepResult:
    """What a sweep did: how many cells, computed now, cached from before, failed; its table."""

    cells: int
    computed: int
    cached: int
    failed: int
    table: Path
    seconds: float
    errors: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "cells": self.cells,
            "computed": self.computed,
            "cached": self.cached,
            "failed": self.failed,
            "table": str(self.table),
            "seconds": round(self.seconds, 3),
            "errors": list(self.errors),
        }


def default_workers() -> int:
    """The cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds")


def _flat_config(config_dict: dict[str, Any]) -> dict[str, Any]:
    """The configuration as table columns: every scalar field, the total epochs, the phase's
    hyperparameters when there is one phase, and the full configuration as JSON."""
    out = {k: v for k, v in config_dict.items() if k != "phases"}
    phases = config_dict["phases"]
    out["epochs"] = sum(p["epochs"] for p in phases)
    out["phases"] = len(phases)
    if len(phases) == 1:
        for k, v in phases[0].items():
            if k != "epochs":
                out[k] = v
    out["config"] = json.dumps(config_dict, sort_keys=True)
    return out


def cell_row(key: str, config_dict: dict[str, Any], result: Any, *, started: str) -> dict:
    """A table row: the cell key, its configuration, its final metrics and where it ran."""
    metrics = list(result.metrics)
    row: dict[str, Any] = {"cell": key, **_flat_config(config_dict)}
    for name in _METRICS:
        row[name] = None
        for m in reversed(metrics):
            if name in m:
                row[name] = m[name]
                break
    row.update(
        final_epoch=result.epoch,
        finished=bool(result.finished),
        steps=int(result.steps),
        seconds=float(result.seconds),
        started=started,
        ended=_now(),
        host=socket.gethostname(),
        status="ok" if result.finished else "stopped",
    )
    meta = getattr(result, "metadata", None) or {}  # the run's metadata.json (training.runs)
    row["git_commit"] = meta.get("git_commit")
    row["toolkit_version"] = (meta.get("versions") or {}).get("flatness-toolkit")
    for k, v in row.items():  # JSON-safe (a diverged run's loss is inf or nan)
        if isinstance(v, float) and not math.isfinite(v):
            row[k] = str(v)
    return row


def run_cell(key: str, config_dict: dict[str, Any], run_dir: str) -> dict:
    """Train one cell in ``run_dir`` (resuming it) and return its row. Runs on a worker."""
    from sharpness._threads import use_one_thread

    use_one_thread()
    from sharpness.training.runs import TrainConfig, train

    started = _now()
    config = TrainConfig.from_dict(config_dict)
    result = train(config, run_dir, progress=False, threads=1)
    return cell_row(key, config_dict, result, started=started)


def _write_json_atomic(path: Path, obj: dict) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(obj, fh, sort_keys=True, indent=1)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _cached_row(cell_dir: Path, key: str) -> dict | None:
    try:
        row = json.loads((cell_dir / ROW_FILE).read_text())
    except (OSError, ValueError):
        return None
    return row if isinstance(row, dict) and row.get("cell") == key else None


class _Recorder:
    """Client side: writes each finished cell's row.json and table row, counts, shows progress."""

    def __init__(self, out: Path, dirs: dict[str, Path], total: int, cached: int, progress: bool):
        from tqdm.auto import tqdm

        self.out = out
        self.dirs = dirs
        self.computed = 0
        self.errors: list[str] = []
        self.bar = tqdm(total=total, initial=cached, unit="cell", disable=not progress)

    def done(self, key: str, row: dict) -> None:
        _write_json_atomic(self.dirs[key] / ROW_FILE, row)
        write_rows([row], self.out, key="cell")
        self.computed += 1
        self.bar.update(1)

    def failed(self, key: str, exc: BaseException) -> None:
        self.errors.append(f"cell {key}: {type(exc).__name__}: {exc}")
        self.bar.update(1)


def _run_local_serial(todo, dirs, recorder, cell_fn):
    for cell in todo:
        run_dir = str(dirs[cell.key])
        try:
            row = cell_fn(cell.key, cell.config.to_dict(), run_dir)
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as exc:
            recorder.failed(cell.key, exc)
        else:
            recorder.done(cell.key, row)


@contextlib.contextmanager
def _client(workers: int, cluster: str | None):
    import logging

    from distributed import Client, LocalCluster

    if cluster is not None:
        try:
            client = Client(cluster, timeout="10s")
        except (OSError, TimeoutError) as exc:
            raise ValueError(
                f"cannot connect to the Dask scheduler at {cluster!r}: {exc}"
            ) from None
        with client:
            yield client
        return
    with (
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
            env={"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"},
        ) as local,
        Client(local) as client,
    ):
        yield client


def _run_dask(todo, dirs, recorder, cell_fn, workers, cluster):
    from distributed import as_completed

    with _client(workers, cluster) as client:
        keys, futures = {}, []
        for cell in todo:
            run_dir = str(dirs[cell.key].resolve())
            fut = client.submit(
                cell_fn,
                cell.key,
                cell.config.to_dict(),
                run_dir,
                key=f"cell-{cell.key}",
                pure=False,
            )
            keys[fut.key] = cell.key
            futures.append(fut)
        try:
            for fut in as_completed(futures):
                key = keys[fut.key]
                if fut.status == "error":
                    recorder.failed(key, fut.exception())
                else:
                    recorder.done(key, fut.result())
        except BaseException:
            client.cancel(futures)
            raise


def _cell_dirs(cells, out: Path, run_dirs) -> dict[str, Path]:
    """Each cell's run directory: ``run_dirs[key]`` when given (checked: one per cell, distinct,
    non-empty), else ``out/cells/<key>``."""
    if run_dirs is None:
        return {cell.key: out / CELLS_DIR / cell.key for cell in cells}
    if not isinstance(run_dirs, Mapping):
        raise ValueError(f"run_dirs must map cell keys to directories, got {run_dirs!r}")
    dirs: dict[str, Path] = {}
    for cell in cells:
        where = run_dirs.get(cell.key)
        if where is None or not str(where).strip():
            raise ValueError(f"run_dirs names no directory for cell {cell.key}")
        dirs[cell.key] = Path(where)
    if len({d.resolve() for d in dirs.values()}) != len(dirs):
        raise ValueError("run_dirs gives two cells the same directory")
    return dirs


def run_sweep(
    cells: Sequence[Cell],
    out: str | os.PathLike[str],
    *,
    workers: int | None = None,
    cluster: str | None = None,
    progress: bool = False,
    cell_fn: Callable[[str, dict, str], dict] = run_cell,
    run_dirs: Mapping[str, str | os.PathLike[str]] | None = None,
) -> SweepResult:
    """Run the cells not yet cached in ``out``; return the counts and the table's path.

    Args:
        cells: from :func:`sharpness.sweep.grid.expand_grid`.
        out: the sweep's folder (created): ``cells/<key>/`` per cell and ``results.csv``.
        workers: worker processes of the local cluster (default: the cores of this machine);
            ``0`` runs the cells one after the other in this process, without Dask.
        cluster: a Dask scheduler's address (``tcp://host:8786``) instead of a local cluster.
        progress: a bar over cells.
        cell_fn: runs one cell (tests replace it); must be importable by the workers.
        run_dirs: the run directory of each cell, by cell key, instead of ``out/cells/<key>``
            (the figure commands keep their ``PANEL/seedK`` layout this way); the cell's
            ``row.json`` (its cache entry) is written there, and the table is still ``out``'s.

    Raises:
        ValueError: for bad ``workers``/``cluster``/``run_dirs``, or an unreachable scheduler.
    """
    if workers is not None and (
        isinstance(workers, bool) or not isinstance(workers, int) or workers < 0
    ):
        raise ValueError(f"workers must be an integer >= 0, got {workers!r}")
    if cluster is not None and workers is not None:
        raise ValueError("give workers (a local cluster) or cluster (an address), not both")
    if cluster is not None and not (isinstance(cluster, str) and cluster.strip()):
        raise ValueError(
            f"cluster must be a scheduler address such as tcp://host:8786, got {cluster!r}"
        )
    t0 = time.perf_counter()
    out = Path(out)
    dirs = _cell_dirs(cells, out, run_dirs)
    out.mkdir(parents=True, exist_ok=True)
    if run_dirs is None:
        (out / CELLS_DIR).mkdir(exist_ok=True)
    table = table_path(out)
    try:
        in_table = set(read_table(out)["cell"].astype(str))
    except (FileNotFoundError, KeyError):
        in_table = set()
    todo, restore = [], []
    for cell in cells:
        row = _cached_row(dirs[cell.key], cell.key)
        if row is None:
            todo.append(cell)
        elif cell.key not in in_table:
            restore.append(row)
    if restore:  # rows whose table write a kill interrupted
        write_rows(restore, out, key="cell")
    cached = len(cells) - len(todo)
    recorder = _Recorder(out, dirs, len(cells), cached, progress)
    try:
        for cell in todo:
            dirs[cell.key].mkdir(parents=True, exist_ok=True)
        if todo and workers == 0:
            _run_local_serial(todo, dirs, recorder, cell_fn)
        elif todo:
            n = min(len(todo), workers or default_workers())
            _run_dask(todo, dirs, recorder, cell_fn, n, cluster)
    finally:
        recorder.bar.close()
    if not table.exists():  # a sweep with nothing to compute still has a table
        write_rows([], out)
    return SweepResult(
        cells=len(cells),
        computed=recorder.computed,
        cached=cached,
        failed=len(recorder.errors),
        table=table,
        seconds=time.perf_counter() - t0,
        errors=tuple(recorder.errors),
    )
