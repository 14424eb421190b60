"""The tidy results table of a sweep: one row per cell, its configuration and final metrics.

The table is one CSV file (``results.csv`` in a sweep's output folder), read and written through
pandas. CSV rather than Parquet: pandas writes it without an extra engine (pyarrow is ~100 MB),
and a reader can open it in anything.

Two writers, one table. Every write is a read-modify-write under an exclusive ``fcntl.flock`` on a
lock file beside the table (``results.csv.lock``), and the new table is written to a temporary file
in the same folder and moved over the old one with ``os.replace`` (atomic on POSIX). So:

- two sweeps (or two processes of one) writing the same table never lose each other's rows: the
  second writer waits for the lock, then reads the table the first one left;
- a reader (``read_table``) never sees a half-written file, with or without the lock;
- a writer killed mid-write leaves the old table intact (and at most a stray ``.tmp`` file, which
  nothing reads).

``flock`` is advisory and local: it serialises writers on one machine (or one NFS client), which is
where a sweep's table lives; remote Dask workers return their rows to the client, which writes.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

__all__ = ["TABLE_NAME", "load_results", "read_table", "table_path", "write_rows"]

TABLE_NAME = "results.csv"


def table_path(path: str | os.PathLike[str]) -> Path:
    """The table's file: ``path`` itself if it names a ``.csv`` file, else ``path/results.csv``."""
    p = Path(path)
    return p if p.suffix == ".csv" else p / TABLE_NAME


@contextlib.contextmanager
def _locked(table: Path) -> Iterator[None]:
    """An exclusive advisory lock on ``<table>.lock`` for the duration of the block."""
    lock = table.with_name(table.name + ".lock")
    with open(lock, "a+") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _atomic_write_csv(frame: Any, table: Path) -> None:
    fd, tmp = tempfile.mkstemp(dir=table.parent, prefix=f".{table.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", newline="") as fh:
            if not frame.columns.empty:
                frame.to_csv(fh, index=False)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, table)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_rows(
    rows: Sequence[dict[str, Any]],
    path: str | os.PathLike[str],
    *,
    key: str | Sequence[str] | None = None,
) -> Path:
    """Add ``rows`` to the table at ``path`` (a ``.csv`` file or a folder), safely against other
    writers, and return the table's path.

    Args:
        rows: one dict per row; the table's columns are the union of all rows' keys (a missing
            value is empty).
        path: the table file (``*.csv``) or the folder that holds ``results.csv`` (created).
        key: column(s) that identify a row. When given, a new row replaces every existing row
            with the same key (the last write wins); when ``None``, rows are appended.

    Returns:
        The table's path.

    Raises:
        ValueError: ``rows`` is not a sequence of dicts, or a row lacks a ``key`` column.
    """
    import pandas as pd

    rows = list(rows)
    if not all(isinstance(r, dict) for r in rows):
        raise ValueError("rows must be a list of dicts")
    keys = [key] if isinstance(key, str) else list(key or [])
    for r in rows:
        missing = [k for k in keys if k not in r]
        if missing:
            raise ValueError(
                f"every row needs the key column(s) {missing}, got a row with {sorted(r)}"
            )
    table = table_path(path)
    table.parent.mkdir(parents=True, exist_ok=True)
    with _locked(table):
        new = pd.DataFrame(rows)
        old = _read(table)
        if not old.columns.empty:
            if keys and not old.empty and not new.empty:
                # align dtypes through strings so that a key read back from CSV matches a fresh one
                old_ids = old[keys].astype(str).agg("\x1f".join, axis=1)
                new_ids = set(new[keys].astype(str).agg("\x1f".join, axis=1))
                old = old[~old_ids.isin(new_ids)]
            frames = [f for f in (old, new) if not f.empty]
            frame = pd.concat(frames, ignore_index=True) if frames else old
        else:
            frame = new
        _atomic_write_csv(frame, table)
    return table


def read_table(path: str | os.PathLike[str]) -> Any:
    """The table at ``path`` (a ``.csv`` file or a sweep's folder) as a ``pandas.DataFrame``.

    Raises:
        FileNotFoundError: there is no table there.
    """

    table = table_path(path)
    if not table.exists():
        raise FileNotFoundError(f"no results table at {table}")
    return _read(table)


def _read(table: Path) -> Any:
    import pandas as pd

    try:
        return pd.read_csv(table)
    except (FileNotFoundError, pd.errors.EmptyDataError):  # none yet, or a table of no rows
        return pd.DataFrame()


def load_results(out: str | os.PathLike[str]) -> Any:
    """A sweep's results (``sharpness-sweep ... --out DIR``) as a ``pandas.DataFrame``: one row
    per cell, its configuration's columns (``arch``, ``algo``, ``d``, ``n``, ``seed``, ``lr``, ...;
    ``config`` holds the full configuration as JSON) and its final metrics (``train_loss``,
    ``sharpness``, ``test_error``, ``test_exact``, ...).

    Raises:
        FileNotFoundError: ``out`` holds no results table.
    """
    return read_table(out)
