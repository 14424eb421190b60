"""Per-run metrics records of the signal-noise runs, for a reader to plot (Chen et al., 2023,
Fig. 2: signal learning max gamma and noise memorization max |rho| against time; Kou et al. /
Chen et al.'s test error against the Bayes error p).

One record per recorded step of a run (:attr:`RunResult.history`, every ``record_every`` steps,
step 0 and the last step included)::

    {"step": 40, "epoch": 2.0, "train_loss": ..., "max_gamma": ..., "max_rho": ...,
     "test_error": ...}

``epoch`` is step / ceil(n / B) (B = n for GD). ``test_error`` is at every record where the run
was trained with ``record_test_error``, and at the last record always (the run's final test error,
the same test sample). The records of several runs go to one JSON-lines file, one object per
line, each with the run's ``repeat``; the file is written atomically.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from sharpness.signal_noise.trainer import RunResult, TrainConfig

__all__ = ["metrics_records", "write_metrics"]


def metrics_records(run: RunResult, config: TrainConfig) -> list[dict]:
    """The records of one run (module docstring), in step order."""
    n = run.key.n
    per_epoch = math.ceil(n / config.batch_size(n))
    tests = dict(run.test_history)
    out = []
    for step, gamma, rho, loss in run.history:
        rec = {"step": int(step), "epoch": step / per_epoch, "train_loss": float(loss),
               "max_gamma": float(gamma), "max_rho": float(rho)}  # fmt: skip
        if step in tests:
            rec["test_error"] = float(tests[step])
        out.append(rec)
    if out:
        out[-1]["test_error"] = float(run.test_error)
    return out


def write_metrics(path: str | os.PathLike[str], runs: Sequence[RunResult],
                  config: TrainConfig, *, extra: dict | None = None) -> Path:  # fmt: skip
    """All records of ``runs`` as JSON lines at ``path`` (each with ``repeat`` and ``extra``),
    written to a temporary file beside it and moved over it (a reader never sees half a file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = _lines(runs, config, extra or {})
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            for rec in lines:
                fh.write(json.dumps(rec, sort_keys=True, allow_nan=False) + "\n")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def _lines(runs, config, extra) -> Iterable[dict]:
    for run in runs:
        for rec in metrics_records(run, config):
            yield extra | {"repeat": run.key.repeat} | rec
