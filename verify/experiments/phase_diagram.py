"""The benign-overfitting phase diagram of Kou et al. (ICML 2023, Thm. 4.2 / Fig. 1) and Chen et
al. (NeurIPS 2023, Thms. 4.1-4.2, Fig. 1): test error over (||mu||, d, n), GD/SGD beside SAM.

The theory: SGD's test error is <= p + eps when n ||mu||^4 >= C_1 d P^4 sigma_p^4 and >= p + 0.1
when n ||mu||^4 <= C_3 d P^4 sigma_p^4, so the boundary is

.. math::   \\|\\mu\\|^* \\propto (d P^4 \\sigma_p^4 / n)^{1/4}.

Here the boundary of each (d, n) column is where the measured test error crosses p + 0.1 (Kou et
al.'s binary heat map thresholds at 0.2 = p + 0.1), linearly interpolated between grid points; the
exponents of d and n are fitted by least squares on log ||mu||* = c + a log d + b log n, with a
95% t interval, against a = 1/4, b = -1/4.

Everything is one table of rows (one per cell and algorithm, averaged over the repeats).
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sharpness.signal_noise import Algorithm, Preset, RunKey, train_batched, write_metrics

__all__ = [
    "BoundaryFit",
    "PhaseDiagram",
    "boundary_points",
    "cell_config",
    "cell_key",
    "draw_heat_maps",
    "fit_boundary",
    "run_phase_diagram",
    "write_table",
]

#: the harmful/benign threshold above the Bayes error (Chen et al.'s "p + 0.1")
HARMFUL_MARGIN = 0.1


@dataclass(frozen=True, kw_only=True)
class BoundaryFit:
    """log ||mu||* = c + a log d + b log n, with 95% intervals (None where not identifiable)."""

    algorithm: str
    points: int
    a_d: float | None
    a_d_interval: tuple[float, float] | None
    b_n: float | None
    b_n_interval: tuple[float, float] | None
    constant: float | None

    def to_dict(self) -> dict:
        return {
            "algorithm": self.algorithm,
            "points": self.points,
            "exponent_d": self.a_d,
            "exponent_d_interval": list(self.a_d_interval) if self.a_d_interval else None,
            "exponent_n": self.b_n,
            "exponent_n_interval": list(self.b_n_interval) if self.b_n_interval else None,
            "constant": self.constant,
            "predicted": {"exponent_d": 0.25, "exponent_n": -0.25},
        }


@dataclass(frozen=True, kw_only=True, eq=False)
class PhaseDiagram:
    preset: str
    rows: tuple[dict, ...]
    fits: tuple[BoundaryFit, ...]
    boundaries: dict
    seconds: float
    runs: int  #: runs trained by this call
    computed: int = 0  #: cells trained by this call
    reused: int = 0  #: cells read back from the resume table

    def to_dict(self) -> dict:
        return {
            "preset": self.preset,
            "rows": list(self.rows),
            "boundary": self.boundaries,
            "fits": [f.to_dict() for f in self.fits],
            "runs": self.runs,
            "cells_computed": self.computed,
            "cells_reused": self.reused,
            "seconds": self.seconds,
            "seconds_per_run": self.seconds / max(self.runs, 1),
        }


def _final_trace(run) -> float | None:
    from sharpness.architectures.signal_noise_cnn import logistic_hessian_trace
    from sharpness.trace.kinks import NonDifferentiableError

    D = run.data
    try:
        return logistic_hessian_trace(run.network, D.X, D.y)
    except NonDifferentiableError:
        return None


#: the columns of a row, in order (ints, the algorithm's name, then floats); the trace columns
#: only where traces are computed
INT_COLUMNS = ("d", "n", "repeats")
ROW_COLUMNS = ("d", "n", "mu_norm", "algorithm", "repeats", "test_error", "test_error_sd",
               "clean_test_error", "bayes_error", "train_loss", "train_error", "max_gamma",
               "max_rho", "snr")  # fmt: skip
TRACE_COLUMNS = ("final_trace", "trace_defined")
#: the resume table's extra columns: the cell's key (a hash of its configuration) and the
#: configuration itself as JSON
KEY_COLUMN = "cell_key"
CONFIG_COLUMN = "config"


def _plain(obj) -> dict:
    """A frozen dataclass's fields as JSON-able values (enums by value, dtypes by name)."""
    import dataclasses
    import enum

    out = {}
    for f in dataclasses.fields(obj):
        v = getattr(obj, f.name)
        if isinstance(v, enum.Enum):
            v = v.value
        elif not isinstance(v, bool | int | float | str | type(None)):
            v = str(v)
        out[f.name] = v
    return out


def cell_config(preset: Preset, algorithm: Algorithm, *, d: int, n: int, mu: float,
                repeats: int, seed: int, traces: bool) -> str:  # fmt: skip
    """The full configuration of one cell as canonical JSON: the preset's name, every training
    option of the algorithm, every data option, n, the repeats, the seed and whether traces are
    computed. Grid options other than the cell's own (d, n, ||mu||) do not enter: a cell's numbers
    depend on its configuration alone (every run is seeded by its key)."""
    cfg = {
        "preset": preset.name.value,
        "algorithm": Algorithm(algorithm).value,
        "train": _plain(preset.config(algorithm)),
        "data": _plain(preset.data(d, mu)),
        "n": int(n),
        "repeats": int(repeats),
        "seed": int(seed),
        "traces": bool(traces),
    }
    return json.dumps(cfg, sort_keys=True, allow_nan=False)


def cell_key(config: str) -> str:
    """The key of a cell: the first 20 hex digits of the SHA-256 of its configuration's JSON."""
    return hashlib.sha256(config.encode()).hexdigest()[:20]


def _row_from_table(rec: dict, traces: bool) -> dict:
    """A row read back from the resume table, with the types and columns of a fresh one."""

    def num(v):
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return None
        return float(v)

    row = {}
    for c in ROW_COLUMNS + (TRACE_COLUMNS if traces else ()):
        v = rec.get(c)
        if c == "algorithm":
            row[c] = str(v)
        elif c in INT_COLUMNS or c == "trace_defined":
            row[c] = int(v)
        else:
            row[c] = num(v)
    return row


def _load_cache(table: Path | None) -> dict[str, dict]:
    """cell_key -> the table's record (empty without a table).

    Raises:
        ValueError: the file is not a phase diagram's resume table.
    """
    from sharpness.sweep.table import read_table

    if table is None or not table.exists():
        return {}
    try:
        frame = read_table(table)
    except Exception as exc:  # a damaged file: one line, not a traceback
        raise ValueError(f"{table}: not a readable CSV table ({type(exc).__name__})") from None
    if frame.empty:
        return {}
    missing = [c for c in (KEY_COLUMN, *ROW_COLUMNS) if c not in frame.columns]
    if missing:
        raise ValueError(f"{table}: not a phase-diagram table (no column(s) {missing})")
    return {str(r[KEY_COLUMN]): r for r in frame.to_dict("records")}


def run_phase_diagram(
    preset: Preset,
    *,
    d_grid: Sequence[int],
    n_grid: Sequence[int],
    mu_grid: Sequence[float],
    repeats: int,
    algorithms: Sequence[Algorithm] | None = None,
    seed: int = 0,
    traces: bool = True,
    table: Path | None = None,
    metrics: Path | None = None,
    progress: bool = False,
) -> PhaseDiagram:
    """Train every (d, n, ||mu||, algorithm, repeat), one batch per (d, n, algorithm).

    With ``table`` (a ``.csv`` path), each batch's rows are written there as soon as the batch
    is done (:func:`sharpness.sweep.table.write_rows`, keyed by :func:`cell_key`), and a cell
    whose key is already there is read back instead of trained: a killed run resumes, and a
    rerun with the same options trains nothing. With ``metrics`` (a folder), every trained cell's
    per-run records (:mod:`sharpness.signal_noise.metrics`: step, epoch, train loss, max gamma,
    max |rho|, test error at every record) go to ``metrics/<cell_key>.jsonl``, before its row is
    written to ``table``; the test error along the way is part of the configuration (new keys).
    ``progress`` shows a bar over the batches.

    Raises:
        ValueError: ``repeats`` < 1, or ``table`` is not a phase-diagram table.
    """
    from tqdm.auto import tqdm

    from sharpness.sweep.table import write_rows

    if repeats < 1:
        raise ValueError(f"repeats must be an integer >= 1, got {repeats}")
    algorithms = tuple(algorithms or preset.algorithms)
    if metrics is not None:
        from dataclasses import replace

        preset = replace(preset, train=replace(preset.train, record_test_error=True))
    cache = _load_cache(table)
    rows: list[dict] = []
    t0 = time.perf_counter()
    total = len(d_grid) * len(n_grid) * len(algorithms)
    runs = computed = reused = 0
    bar = tqdm(total=total, unit="batch", desc="phase-diagram", disable=not progress)
    try:
        for alg in algorithms:
            cfg = preset.config(alg)
            for n in n_grid:
                for d in d_grid:
                    confs = [cell_config(preset, alg, d=d, n=n, mu=mu, repeats=repeats,
                                         seed=seed, traces=traces) for mu in mu_grid]  # fmt: skip
                    ids = [cell_key(c) for c in confs]
                    todo = [i for i, k in enumerate(ids) if k not in cache]
                    fresh: dict[int, dict] = {}
                    if todo:
                        keys = [RunKey(data=preset.data(d, mu_grid[i]), n=n, repeat=r, seed=seed)
                                for i in todo for r in range(repeats)]  # fmt: skip
                        res = train_batched(keys, cfg).runs
                        runs += len(res)
                        for j, i in enumerate(todo):
                            cell = res[j * repeats : (j + 1) * repeats]
                            fresh[i] = _row(preset, d, n, mu_grid[i], alg, cell, traces)
                            if metrics is not None:
                                extra = {KEY_COLUMN: ids[i], "d": d, "n": n,
                                         "mu_norm": float(mu_grid[i]), "algorithm": alg.value}  # fmt: skip
                                write_metrics(metrics / f"{ids[i]}.jsonl", cell, cfg, extra=extra)
                        if table is not None:
                            write_rows([{KEY_COLUMN: ids[i], CONFIG_COLUMN: confs[i]} | fresh[i]
                                        for i in todo], table, key=KEY_COLUMN)  # fmt: skip
                    computed += len(todo)
                    reused += len(ids) - len(todo)
                    for i, k in enumerate(ids):
                        rows.append(fresh[i] if i in fresh else _row_from_table(cache[k], traces))
                    bar.set_postfix(computed=computed, reused=reused, refresh=False)
                    bar.update(1)
    finally:
        bar.close()
    seconds = time.perf_counter() - t0
    bounds, fits = {}, []
    for alg in algorithms:
        pts = boundary_points(rows, alg.value, preset.flip + HARMFUL_MARGIN)
        bounds[alg.value] = [{"d": d, "n": n, "mu_star": m} for (d, n), m in sorted(pts.items())]
        fits.append(fit_boundary(pts, alg.value))
    return PhaseDiagram(preset=preset.name.value, rows=tuple(rows), fits=tuple(fits),
                        boundaries=bounds, seconds=seconds, runs=runs, computed=computed,
                        reused=reused)  # fmt: skip


def _row(preset, d, n, mu, alg, cell, traces) -> dict:
    def mean(xs):
        return float(np.mean(xs))

    row = {
        "d": d,
        "n": n,
        "mu_norm": float(mu),
        "algorithm": alg.value,
        "repeats": len(cell),
        "test_error": mean([r.test_error for r in cell]),
        "test_error_sd": float(np.std([r.test_error for r in cell])),
        "clean_test_error": mean([r.clean_test_error for r in cell]),
        "bayes_error": preset.flip,
        "train_loss": mean([r.train_loss for r in cell]),
        "train_error": mean([r.train_error for r in cell]),
        "max_gamma": mean([r.max_gamma for r in cell]),
        "max_rho": mean([r.max_rho for r in cell]),
        "snr": preset.data(d, mu).snr,
    }
    if traces:
        tr = [t for t in (_final_trace(r) for r in cell) if t is not None]
        row["final_trace"] = mean(tr) if tr else None
        row["trace_defined"] = len(tr)
    return row


def boundary_points(rows, algorithm: str, threshold: float) -> dict:
    """(d, n) -> the ||mu|| where the test error first falls to ``threshold``, interpolated
    linearly between the grid points around the last crossing from above (None-free: a column
    that never crosses, or starts below, gives no point)."""
    out = {}
    cols: dict = {}
    for r in rows:
        if r["algorithm"] == algorithm:
            cols.setdefault((r["d"], r["n"]), []).append((r["mu_norm"], r["test_error"]))
    for key, pts in cols.items():
        pts.sort()
        mus = [p[0] for p in pts]
        errs = [p[1] for p in pts]
        if errs[0] <= threshold:
            continue
        above = [i for i in range(len(errs) - 1) if errs[i] > threshold >= errs[i + 1]]
        if not above:
            continue
        i = above[-1]
        e0, e1 = errs[i], errs[i + 1]
        t = (e0 - threshold) / (e0 - e1)
        star = mus[i] + t * (mus[i + 1] - mus[i])
        if star > 0:
            out[key] = star
    return out


def fit_boundary(points: dict, algorithm: str) -> BoundaryFit:
    """Least squares of log ||mu||* on log d (and log n, where n varies), 95% t intervals."""
    from scipy import stats

    if not points:
        return BoundaryFit(algorithm=algorithm, points=0, a_d=None, a_d_interval=None,
                           b_n=None, b_n_interval=None, constant=None)  # fmt: skip
    ds = np.array([k[0] for k in points], dtype=float)
    ns = np.array([k[1] for k in points], dtype=float)
    y = np.log(np.array(list(points.values()), dtype=float))
    cols = [np.ones_like(ds)]
    vary_d, vary_n = len(set(ds)) > 1, len(set(ns)) > 1
    if vary_d:
        cols.append(np.log(ds))
    if vary_n:
        cols.append(np.log(ns))
    A = np.stack(cols, 1)
    dof = len(y) - A.shape[1]
    coef, *_ = np.linalg.lstsq(A, y, rcond=None)
    if dof > 0:
        resid = y - A @ coef
        s2 = float(resid @ resid) / dof
        cov = s2 * np.linalg.inv(A.T @ A)
        half = stats.t.ppf(0.975, dof) * np.sqrt(np.diag(cov))
    else:
        half = np.full(A.shape[1], np.nan)

    def get(j):
        if j is None:
            return None, None
        iv = (float(coef[j] - half[j]), float(coef[j] + half[j]))
        return float(coef[j]), (iv if math.isfinite(iv[0]) else None)

    jd = 1 if vary_d else None
    jn = (2 if vary_d else 1) if vary_n else None
    a, ai = get(jd)
    b, bi = get(jn)
    return BoundaryFit(algorithm=algorithm, points=len(y), a_d=a, a_d_interval=ai, b_n=b,
                       b_n_interval=bi, constant=float(coef[0]))  # fmt: skip


def write_table(diagram: PhaseDiagram, path: Path) -> Path:
    """The tidy table as CSV (pandas)."""
    import pandas as pd

    pd.DataFrame(list(diagram.rows)).to_csv(path, index=False)
    return path


def draw_heat_maps(diagram: PhaseDiagram, path: Path, *, patches: int, sigma_p: float) -> Path:
    """Test error over (||mu||, d), one panel per algorithm side by side (first n of the grid),
    with the predicted boundary C (d P^4 sigma_p^4 / n)^{1/4} overlaid (C fitted to the measured
    boundary with the exponent fixed at 1/4) and the measured boundary points."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    algs = list(dict.fromkeys(r["algorithm"] for r in diagram.rows))
    n0 = min(r["n"] for r in diagram.rows)
    ds = sorted({r["d"] for r in diagram.rows})
    mus = sorted({r["mu_norm"] for r in diagram.rows})
    fig, axes = plt.subplots(1, len(algs), figsize=(4.2 * len(algs), 3.6), squeeze=False,
                             sharey=True)  # fmt: skip
    first = [b for b in diagram.boundaries.get(algs[0], []) if b["n"] == n0]
    law = np.array([(d * patches**4 * sigma_p**4 / n0) ** 0.25 for d in ds])
    if first:
        ratio = [b["mu_star"] / (b["d"] * patches**4 * sigma_p**4 / n0) ** 0.25 for b in first]
        C = float(np.exp(np.mean(np.log(ratio))))
    else:
        C = None
    for ax, alg in zip(axes[0], algs, strict=True):
        grid = np.full((len(ds), len(mus)), np.nan)
        for r in diagram.rows:
            if r["algorithm"] == alg and r["n"] == n0:
                grid[ds.index(r["d"]), mus.index(r["mu_norm"])] = r["test_error"]
        dm = np.diff(mus).min() / 2 if len(mus) > 1 else 0.5
        dd = np.diff(ds).min() / 2 if len(ds) > 1 else 5
        im = ax.imshow(grid, origin="lower", aspect="auto", cmap="YlGnBu", vmin=0, vmax=0.6,
                       extent=(mus[0] - dm, mus[-1] + dm, ds[0] - dd, ds[-1] + dd),
                       interpolation="nearest")  # fmt: skip
        if C is not None:
            ax.plot(C * law, ds, "r--", lw=1.2, label=r"$C\,(dP^4\sigma_p^4/n)^{1/4}$")
        pts = [b for b in diagram.boundaries.get(alg, []) if b["n"] == n0]
        if pts:
            ax.plot([b["mu_star"] for b in pts], [b["d"] for b in pts], "k.", ms=2,
                    label="measured (error = p + 0.1)")  # fmt: skip
        ax.set_xlim(mus[0] - dm, mus[-1] + dm)
        ax.set_title(f"{alg.upper()}: test error ({diagram.preset}, n = {n0})", fontsize=9)
        ax.set_xlabel(r"$\|\mu\|$")
        ax.legend(fontsize=6, loc="upper left")
    axes[0][0].set_ylabel("d")
    fig.colorbar(im, ax=axes[0].tolist(), shrink=0.85)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
