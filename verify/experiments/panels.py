"""The training runs behind each panel of Figures 1-11, at a scale, trained or reused from disk.

A panel (e.g. ``fig4b``) is one preset of :data:`sharpness.training.PRESETS`, with Table 2's
hyperparameters (Appendix B). Runs live in ``OUT/SCALE/PANEL/seedK`` and are reused when finished
(resumed when interrupted). ``quick`` runs a fixed fraction of each panel's epochs
(:data:`QUICK_SCALE`), chosen for run time only, with the paper's hyperparameters otherwise
unchanged; ``paper`` runs the full schedules; ``smoke`` is a seconds-long run of the whole
pipeline on a tiny network (tests; not evidence).

**Where the runs train.** By default (``workers=0``) in this process, the seeds of a panel
batched together (:func:`sharpness.training.train_many`). With ``workers=N`` (a local Dask
cluster of N one-thread processes) or ``cluster=ADDRESS`` (a running Dask scheduler) every
(panel, seed) run is one cell of :func:`sharpness.sweep.run_sweep`, trained in the same
directory ``OUT/SCALE/PANEL/seedK`` (so ``--no-train``, reuse and resume work either way), its
cache entry ``row.json`` beside its checkpoint. Either way the figure's tidy table of final
metrics, one row per run (:mod:`sharpness.sweep.table`), is written to
``OUT/SCALE/FIGURE/results.csv``, next to the figure ``OUT/SCALE/FIGURE.png``.
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass
from pathlib import Path

from verify.experiments.verdicts import final_record, is_estimate

__all__ = [
    "EVALS",
    "TABLE_FILE",
    "QUICK_SCALE",
    "SCALES",
    "SMOKE",
    "TEST_SAMPLES",
    "RunSettings",
    "panel_configs",
    "run_panel_cell",
    "run_panels",
    "scale_notes",
    "table_dir",
]

SCALES = ("quick", "paper", "smoke")

#: fraction of each panel's epochs run at --scale quick (chosen for run time on 2 CPU cores).
QUICK_SCALE = {
    "fig1a": 0.05,
    "fig1b": 0.05,
    "fig2a": 0.0005,
    "fig4a": 0.05,
    "fig4b": 0.01,
    "fig5a": 0.05,
    "fig5b": 0.025,
    "fig6a": 0.05,
    "fig6b": 1.0,
    "fig7a": 0.05,
    "fig7b": 0.05,
    "fig8a": 0.01,
    "fig8b": 0.05,
    "fig9a": 0.05,
    "fig9b": 0.05,
    "fig10a": 0.005,
    "fig10b": 0.05,
    "fig11a": 0.01,
    "fig11b": 0.01,
}
#: evaluations (sharpness + test error) per run at each scale
EVALS = {"quick": 12, "paper": 50}
#: sampled test-error points per evaluation where the exact count is not available (d = 30)
TEST_SAMPLES = {"quick": 4096, "paper": 16384}
#: --scale smoke: a seconds-long run of the whole pipeline on a tiny network (tests; not evidence)
SMOKE = {"width": 16, "d": 6, "n": 16, "epochs_per_phase": 4}


#: the figure's table of final metrics, in ``OUT/SCALE/FIGURE/``
TABLE_FILE = "results.csv"


@dataclass(frozen=True)
class RunSettings:
    """How the panels' runs are obtained: at which scale, how many seeds, where they live.

    ``train=False`` reports on the runs already under ``out`` (finished or not) without training.
    ``workers=0`` trains in this process (``threads`` threads); ``workers=N`` on a local Dask
    cluster of N one-thread worker processes; ``cluster`` on a running Dask scheduler (with
    ``workers=None``).
    """

    scale: str = "quick"
    seeds: int = 3
    out: str | Path = "runs/experiments"
    threads: int = 1
    train: bool = True
    progress: bool = True
    workers: int | None = 0
    cluster: str | None = None

    def __post_init__(self):
        if self.scale not in SCALES:
            raise ValueError(f"scale must be one of {', '.join(SCALES)}, got {self.scale!r}")
        for name in ("seeds", "threads"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        w = self.workers
        if w is not None and (isinstance(w, bool) or not isinstance(w, int) or w < 0):
            raise ValueError(f"workers must be an integer >= 0, got {w!r}")
        if self.cluster is not None:
            if not (isinstance(self.cluster, str) and self.cluster.strip()):
                raise ValueError(
                    f"cluster must be a scheduler address such as tcp://host:8786, "
                    f"got {self.cluster!r}"
                )
            if w is not None:
                raise ValueError("give workers (a local cluster) or cluster (an address), not both")
        elif w is None:
            raise ValueError("workers must be an integer >= 0 when no cluster is given")

    @property
    def on_sweep(self) -> bool:
        """Whether the runs train as cells of :func:`sharpness.sweep.run_sweep`."""
        return self.cluster is not None or bool(self.workers)

    @property
    def root(self) -> Path:
        """The directory of this scale's runs: ``out/scale``."""
        return Path(self.out) / self.scale


def panel_configs(panel: str, scale: str, seeds: int):
    """The training configurations of one panel (e.g. ``"fig4b"``) at a scale, one per seed.

    Table 2's hyperparameters; ``quick`` shortens each phase by :data:`QUICK_SCALE`, ``smoke``
    shrinks the network and data to :data:`SMOKE`.
    """
    from sharpness.training.runs import preset

    if scale == "smoke":
        base = preset(panel)
        n = SMOKE["n"]
        phases = tuple(
            dataclasses.replace(
                p,
                epochs=SMOKE["epochs_per_phase"],
                batch_size=n if p.batch_size == base.n else min(p.batch_size, n),
            )
            for p in base.phases
        )
        return [
            base.replace(
                phases=phases,
                width=SMOKE["width"],
                d=SMOKE["d"],
                n=n,
                seed=s,
                log_every=1,
                eval_every=2,
            )
            for s in range(seeds)
        ]
    factor = 1.0 if scale == "paper" else QUICK_SCALE[panel]
    base = preset(panel, epochs_scale=factor)
    total = base.epochs
    evals = EVALS[scale]
    log_every = max(1, total // (40 * evals))
    eval_every = log_every * max(1, (total // evals) // log_every)
    samples = TEST_SAMPLES[scale]
    return [
        base.replace(seed=s, log_every=log_every, eval_every=eval_every, test_samples=samples)
        for s in range(seeds)
    ]


def table_dir(panels, settings: RunSettings) -> Path:
    """The folder of the table of ``panels``' runs: ``root/FIGURE`` when they are the panels of
    one figure (``fig4a``, ``fig4b`` -> ``fig4``), else ``root/`` + the panels joined by ``+``."""
    figures = {p.rstrip("abcdefgh") for p in panels}
    name = figures.pop() if len(figures) == 1 else "+".join(panels)
    return settings.root / name


def run_panel_cell(key: str, config_dict: dict, run_dir: str) -> dict:
    """One (panel, seed) run as a sweep cell (on a worker): trains (or reuses) it in
    ``run_dir`` = ``.../PANEL/seedK`` and returns its table row, with its panel and directory."""
    from sharpness.sweep.engine import run_cell

    row = run_cell(key, config_dict, run_dir)
    row.update(panel=Path(run_dir).parent.name, run_dir=str(run_dir))
    return row


def _run_row(key: str, panel: str, result) -> dict:
    """The table row of a run trained in this process (or read back), as the sweep writes one:
    times and host from the run's ``metadata.json`` sessions."""
    from sharpness.sweep.engine import cell_row

    meta = result.metadata or {}
    sessions = meta.get("sessions") or [{}]
    row = cell_row(key, result.config.to_dict(), result, started=sessions[0].get("started") or "")
    ended = sessions[-1].get("ended")
    host = sessions[-1].get("host") or meta.get("host")
    if ended:
        row["ended"] = ended
    if host:
        row["host"] = host
    row.update(panel=panel, run_dir=str(result.out))
    return row


def _sweep(cells, outs, settings: RunSettings, table: Path) -> None:
    from sharpness.sweep.engine import run_sweep

    done = run_sweep(
        cells,
        table,
        workers=settings.workers,
        cluster=settings.cluster,
        progress=settings.progress,
        cell_fn=run_panel_cell,
        run_dirs={c.key: o for c, o in zip(cells, outs, strict=True)},
    )
    if done.failed:
        raise RuntimeError(
            f"{done.failed} of {done.cells} runs failed on the sweep engine: "
            + "; ".join(done.errors)
        )


def run_panels(panels, settings: RunSettings) -> dict:
    """Train (or reuse) every panel; returns {panel: [RunResult per seed]}.

    Also writes the table of the runs' final metrics (one row per run, keyed by the run's
    configuration hash) into :func:`table_dir`.

    Raises:
        ValueError: ``--no-train`` and a run is missing, or two runs have one configuration.
        RuntimeError: a run failed on the sweep engine (the others are kept).
    """
    from sharpness.sweep.grid import Cell, cell_key
    from sharpness.sweep.table import write_rows
    from sharpness.training.runs import load_run, train_many

    cells, outs, keys = [], [], []
    root = settings.root
    for panel in panels:
        for cfg in panel_configs(panel, settings.scale, settings.seeds):
            cells.append(Cell(options={"preset": panel}, config=cfg, key=cell_key(cfg)))
            outs.append(root / panel / f"seed{cfg.seed}")
            keys.append(panel)
    if len({c.key for c in cells}) != len(cells):
        raise ValueError(f"two runs of {', '.join(panels)} have the same configuration")
    table = table_dir(panels, settings)
    if not settings.train:
        for o in outs:
            if not (o / "config.json").exists():
                raise ValueError(f"--no-train: {o} holds no run; run without --no-train first")
    if settings.train and settings.on_sweep:  # the sweep writes the table (worker rows)
        _sweep(cells, outs, settings, table)
        results = [load_run(o) for o in outs]
    else:
        if settings.train:
            import torch

            torch.set_num_threads(settings.threads)
            configs = [c.config for c in cells]
            results = train_many(
                configs, outs, progress=settings.progress, threads=settings.threads
            )
        else:
            results = [load_run(o) for o in outs]
        rows = [_run_row(c.key, k, r) for c, k, r in zip(cells, keys, results, strict=True)]
        try:
            write_rows(rows, table / TABLE_FILE, key="cell")
        except OSError as exc:  # a read-only --no-train folder: the report still stands
            print(f"note: the table {table / TABLE_FILE} was not written: {exc}", file=sys.stderr)
    out: dict[str, list] = {}
    for k, r in zip(keys, results, strict=True):
        out.setdefault(k, []).append(r)
    return out


def scale_notes(R, scale: str) -> list[str]:
    """The notes a report on the runs ``R`` ({panel: runs}) carries: the scale, unfinished runs,
    sampled test errors, sharpness not reported."""
    notes = []
    if scale == "smoke":
        notes.append(
            f"smoke scale (width {SMOKE['width']}, d = {SMOKE['d']}, n = {SMOKE['n']}, "
            f"{SMOKE['epochs_per_phase']} epochs per phase): exercises the pipeline, not evidence"
        )
    if scale == "quick":
        parts = [f"{k} {QUICK_SCALE[k]:g}" for k in R]
        notes.append(
            "quick scale: each panel runs a fraction of Table 2's epochs ("
            + ", ".join(parts)
            + "), same hyperparameters otherwise; a verdict here may differ from the paper's "
            "full-length run (use --scale paper)"
        )
    unfinished = [
        f"{k} seed {r.config.seed} ({r.epoch}/{r.config.epochs})"
        for k, rs in R.items()
        for r in rs
        if not r.finished
    ]
    if unfinished:
        notes.append("unfinished runs, verdicts at their current epoch: " + ", ".join(unfinished))
    if any(is_estimate(rs) for rs in R.values()):
        cfg = next(iter(R.values()))[0].config
        notes.append(
            f"test errors are sampled estimates ({cfg.test_samples} uniform points of the "
            "hypercube, or fresh ball points) where exact enumeration is not available"
        )
    missing = {
        final_record(r).get("sharpness_note")
        for rs in R.values()
        for r in rs
        if final_record(r).get("sharpness_note")
    }
    for m in sorted(missing):
        notes.append(f"sharpness not reported for some runs: {m}")
    return notes
