"""The training runs behind each panel of Figures 1-11, at a scale, trained or reused from disk.

A panel (e.g. ``fig4b``) is one preset of :data:`sharpness.training.PRESETS`, with Table 2's
hyperparameters (Appendix B). Runs live in ``OUT/SCALE/PANEL/seedK`` and are reused when finished
(resumed when interrupted). ``quick`` runs a fixed fraction of each panel's epochs
(:data:`QUICK_SCALE`), chosen for run time only, with the paper's hyperparameters otherwise
unchanged; ``paper`` runs the full schedules; ``smoke`` is a seconds-long run of the whole
pipeline on a tiny network (tests; not evidence).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from verify.experiments.verdicts import final_record, is_estimate

__all__ = [
    "EVALS",
    "QUICK_SCALE",
    "SCALES",
    "SMOKE",
    "TEST_SAMPLES",
    "RunSettings",
    "panel_configs",
    "run_panels",
    "scale_notes",
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


@dataclass(frozen=True)
class RunSettings:
    """How the panels' runs are obtained: at which scale, how many seeds, where they live.

    ``train=False`` reports on the runs already under ``out`` (finished or not) without training.
    """

    scale: str = "quick"
    seeds: int = 3
    out: str | Path = "runs/experiments"
    threads: int = 1
    train: bool = True
    progress: bool = True

    def __post_init__(self):
        if self.scale not in SCALES:
            raise ValueError(f"scale must be one of {', '.join(SCALES)}, got {self.scale!r}")
        for name in ("seeds", "threads"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")

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


def run_panels(panels, settings: RunSettings) -> dict:
    """Train (or reuse) every panel; returns {panel: [RunResult per seed]}."""
    import torch

    from sharpness.training.runs import load_run, train_many

    configs, outs, keys = [], [], []
    root = settings.root
    for panel in panels:
        for cfg in panel_configs(panel, settings.scale, settings.seeds):
            configs.append(cfg)
            outs.append(root / panel / f"seed{cfg.seed}")
            keys.append(panel)
    if not settings.train:
        results = []
        for o in outs:
            if not (o / "config.json").exists():
                raise ValueError(f"--no-train: {o} holds no run; run without --no-train first")
            results.append(load_run(o))
    else:
        torch.set_num_threads(settings.threads)
        results = train_many(configs, outs, progress=settings.progress, threads=settings.threads)
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
