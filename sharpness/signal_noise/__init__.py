"""Chen et al. (2023) / Kou et al. (2023): GD, SGD and SAM on the signal-noise CNN, batched."""

from sharpness.signal_noise.metrics import metrics_records, write_metrics
from sharpness.signal_noise.presets import Preset, PresetName, preset
from sharpness.signal_noise.trainer import (
    Algorithm,
    BatchResult,
    Init,
    RunKey,
    RunResult,
    TrainConfig,
    run_seeds,
    theory_tau,
    train_batched,
    train_one,
)

__all__ = [
    # training
    "Algorithm",
    "Init",
    "RunKey",
    "TrainConfig",
    "train_batched",
    "train_one",
    "run_seeds",
    "theory_tau",
    # results
    "BatchResult",
    "RunResult",
    "metrics_records",
    "write_metrics",
    # presets
    "Preset",
    "PresetName",
    "preset",
]
