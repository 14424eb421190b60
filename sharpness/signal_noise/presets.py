"""The two presets of ``verify-theorem phase-diagram``: Kou et al.'s official experiment and a
grid where SGD and SAM differ (Chen et al., 2023).

``kou2023`` reproduces ``syntheticrelu.py`` of ``uclaml/Benign_ReLU_CNN`` (Kou et al., ICML 2023,
Fig. 1), with its quirks: ``Conv1d(1, 20, kernel_size=d, stride=d)`` with a bias and PyTorch's
default initialization (U(-1/sqrt(d), 1/sqrt(d)) for weights and bias), ReLU, the mean over the 2
patches, the sum over the 10 filters of a class (no 1/m), two-logit cross-entropy (= the logistic
loss of f = F_{+1} - F_{-1}), full-batch GD with lr 0.1 for 100 steps in float32, n = 20 training
and 1000 test points, label flip 0.1 on both, mu = ||mu|| e_1, sigma_p = 1, noise not projected;
grid ||mu|| in {0, 0.1, ..., 9.9} x d in {100, 110, ..., 1090}, 10 repeats per cell.
Deviation (1): the code's logits are (sum of filters 0-9, sum of filters 10-19) for labels (-1, +1);
here rows 0-9 are the +1 filters. The initialization is i.i.d. and symmetric, so the law of every
run is the same.

``chen2023``: the papers' network (1/m, sum over patches, no bias, N(0, sigma_0^2) init), the
logistic loss, mini-batch SGD and SAM with the theory's tau, on a grid of ||mu|| and d at fixed n
where SGD overfits the noise and SAM, in part of it, does not.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np
import torch

from constructions.signal_noise import SignalNoiseConfig
from sharpness.architectures.signal_noise_cnn import FilterScale, PatchReduction
from sharpness.signal_noise.trainer import Algorithm, Init, TrainConfig

__all__ = ["Preset", "PresetName", "preset"]


class PresetName(enum.StrEnum):
    KOU2023 = "kou2023"
    CHEN2023 = "chen2023"


@dataclass(frozen=True, kw_only=True)
class Preset:
    """A grid, its data options and the training of each algorithm."""

    name: PresetName
    d_grid: tuple[int, ...]
    n_grid: tuple[int, ...]
    mu_grid: tuple[float, ...]
    repeats: int
    algorithms: tuple[Algorithm, ...]
    train: TrainConfig
    patches: int = 2
    sigma_p: float = 1.0
    flip: float = 0.1
    projected: bool = False

    def data(self, d: int, mu_norm: float) -> SignalNoiseConfig:
        return SignalNoiseConfig(d=d, patches=self.patches, mu_norm=float(mu_norm),
                                 sigma_p=self.sigma_p, flip=self.flip,
                                 projected=self.projected)  # fmt: skip

    def config(self, algorithm: Algorithm) -> TrainConfig:
        from dataclasses import replace

        return replace(self.train, algorithm=algorithm)


def _kou() -> Preset:
    return Preset(
        name=PresetName.KOU2023,
        d_grid=tuple(range(100, 1091, 10)),
        n_grid=(20,),
        mu_grid=tuple(float(v) for v in np.round(np.arange(100) * 0.1, 10)),
        repeats=10,
        algorithms=(Algorithm.GD, Algorithm.SAM),
        train=TrainConfig(
            algorithm=Algorithm.GD,
            steps=100,
            lr=0.1,
            m=10,
            bias=True,
            patch_reduction=PatchReduction.MEAN,
            filter_scale=FilterScale.SUM,
            init=Init.TORCH_DEFAULT,
            n_test=1000,
            dtype=torch.float32,
            record_every=10,
        ),
    )


def _chen() -> Preset:
    return Preset(
        name=PresetName.CHEN2023,
        d_grid=(200, 400, 800),
        n_grid=(20, 40),
        mu_grid=(0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0),
        repeats=3,
        algorithms=(Algorithm.SGD, Algorithm.SAM),
        train=TrainConfig(
            algorithm=Algorithm.SGD,
            steps=400,
            lr=0.1,
            batch=5,
            m=10,
            init=Init.GAUSSIAN,
            sigma_0=0.01,
            n_test=1000,
            dtype=torch.float32,
            record_every=10,
        ),
    )


def preset(name: str) -> Preset:
    """The preset called ``name`` (ValueError naming the known ones otherwise)."""
    try:
        key = PresetName(name)
    except ValueError:
        known = ", ".join(p.value for p in PresetName)
        raise ValueError(f"unknown preset {name!r}; known: {known}") from None
    return _kou() if key is PresetName.KOU2023 else _chen()
