"""The trainer for the paper's experiments (Sections 3.2, 4.2, 5.2; Appendix B, Table 2).

A run is a :class:`TrainConfig`: an architecture of Section 2, a training set (P_xor, or the
uniform ball of App. B.2), a loss, and a schedule of :class:`Phase` rows (Table 2 gives several
rows where the hyperparameters change during training). :func:`train` runs one configuration;
:func:`train_many` runs several, batching together those that differ only in their seed (one
kernel call advances all of them). Along the run the metrics are appended to ``metrics.jsonl``:
the training loss at every ``log_every`` epochs and, every ``eval_every`` epochs, the exact
sharpness Tr(nabla^2 L) (:func:`sharpness.hessian_trace`) and the test error over the hypercube
(:func:`sharpness.hypercube_error` when it accepts the dimension, otherwise a sampled estimate
labelled ``"test_exact": false``: a plain float64 forward on fixed sampled points along the run,
:mod:`sharpness.training.sampled_error`, and :func:`sharpness.sampled_hypercube_error`, every
sampled sign decided exactly, on the same points for the final model; ``"test_method"`` says
which).

Output directory (one per run): ``config.json``; ``metrics.jsonl`` (one JSON object per logged
epoch, written as it comes); ``checkpoint.npz`` (parameters, epoch, step and the random
generators' states, written atomically); ``dataset.npz``; at the end ``final.npz`` (parameters)
and ``summary.json``. Running the same configuration again with the same directory resumes from
the checkpoint (after Ctrl-C, SIGTERM or a kill) and gives bitwise the same numbers as an
uninterrupted run; a finished run is reused (and its ``final.npz`` and ``summary.json`` written
if a kill came before them). A longer last phase extends a finished run, with the numbers of
one run of that length; a directory holding any other configuration is refused.
``metadata.json`` records each session (start and end time, host, package versions, git
commit), the full configuration and the engine of each phase; the checkpoint records the
engines too, and a resume on another engine is refused (:func:`_resolve_engines` says why).

Nothing in the directory is trusted blindly: a checkpoint is read through
:func:`constructions.safe_npz.load_npz` (declared sizes checked before anything is
decompressed) and every field is checked (shapes, dtype, finite values, an epoch in
[0, epochs] with its step count, "finished" only at the last epoch); ``metrics.jsonl`` keeps
every record, and a corrupt line other than a last line cut by a kill is refused with the file
left as it is. Each refusal is a ValueError naming the file.

Choices where the paper is silent (numbered; each is an option of :class:`TrainConfig`):

1. Initialization (``init``): PyTorch's ``nn.Linear`` default, weights and first-layer bias
   U(-1/sqrt(fan_in), 1/sqrt(fan_in)); no bias in later layers (Section 2's f = W2 relu(.));
   ``"normal"``: N(0, 1/fan_in) for the same tensors. Sim-BN's gamma (``gamma_init``):
   ``"inv-sqrt-width"`` (default) sets gamma = 1/sqrt(m), so that ||SBN(h)|| is about 1 at a
   training point at initialization (the scale of Sim-LN's h/||h||); ``"one"`` is BatchNorm's
   default gamma = 1. With gamma = 1, ||df/dW2||^2 = sum_j h_j^2/a_j^2 averages m over the
   training points, so one step at Table 2's lr = 0.005 (Fig. 2a) multiplies the residual by
   about 1 - 2 lr m = -4: training diverges within the first epoch (22 steps for seed 0,
   measured). The paper does not state its initialization.
2. ``first_layer_scale``: W1 and b1 are both multiplied by it at initialization (1/100 for
   Figures 6a and 10b: "we scale down the initialization of the first layer by a factor of 100").
3. ``projection``: (W1, b1) are rescaled jointly to this Frobenius norm at initialization and
   after every step (Figure 6b: "the norm of the weight and the bias of the first layer" held at
   10). Sim-LN's output is invariant under this rescaling (where ||h|| > eps).
4. Order of examples (``order``): ``"shuffle"`` reshuffles the training set every epoch (a
   PyTorch DataLoader with shuffle=True); ``"cyclic"`` visits 0..n-1 in turn; ``"iid"`` draws
   each batch with replacement.
5. An epoch is ceil(n / B) steps (batch size B; the last batch is smaller when B does not divide
   n, as DataLoader's drop_last=False): at batch size 1 an epoch is n = 100 1-SAM steps.
6. Multi-row schedules run one row after the other: Figure 4b is 2e5 epochs at rho = 0.05 and
   then 4e5 epochs at rho = 0.1 (6e5 in all), not 4e5 in all.
7. Data: the P_xor training set is n distinct points (:func:`constructions.sample_xor`); the
   paper draws i.i.d. points, which for d = 30, n = 100 are distinct with probability
   1 - 2.3e-6. The ball data of App. B.2 are uniform in the ball of radius sqrt(d), labels
   y = |x[1]| - |x[2]|, and their test error is estimated on 10^4 fresh points (sign errors
   y f <= 0 and MSE).
8. Label noise (``algo="label-noise-sgd"``): xi ~ N(0, sigma^2) added to each label at every
   step, drawn afresh (``label_noise`` = sigma).
9. Seeds: one integer ``seed`` gives the training set (the stream of ``sample_xor``), the
   initialization (a torch Generator seeded with [seed, 1]) and the example order and label
   noise (numpy PCG64 streams [seed, 2] and [seed, 3]).
10. The logistic loss (App. B.3) uses labels +-1 and the label smoothing of
    :class:`sharpness.algorithms.Loss` (note 4 there: Definition A.2 as printed swaps p and
    1 - p). Its sharpness is computed here by the same exact pre-activation identity as
    :func:`sharpness.hessian_trace`, with ell'' and ell' of the logistic loss.

Precision: float64 by default. ``dtype="float32"`` runs the C kernel in single precision
(1.5x faster); the evaluations are always in float64 on the float32 weights.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import json
import math
import os
import platform
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from constructions._checks import check_int
from constructions.architectures import Network, architecture
from constructions.dataset import Dataset
from constructions.hypercube import sample_xor
from constructions.safe_npz import load_npz
from sharpness.registry import TrainingHead, ops_for
from sharpness.training.algorithms import (
    CEngine,
    Loss,
    SimBNEngine,
    StepRule,
    TorchEngine,
    engine_for,
    training_head,
)
from sharpness.training.sampled_error import CHUNK, SampledTestSet

__all__ = [
    "ALGORITHMS",
    "EXACT_ALONG_RUN_MAX_D",
    "ARCHITECTURES",
    "PRESETS",
    "Phase",
    "RunResult",
    "TrainConfig",
    "build_arch",
    "closed_form_trace",
    "exact_sharpness",
    "one_sided_sharpness",
    "initial_params",
    "engine_kind",
    "extension_config",
    "load_run",
    "make_dataset",
    "recorded_config",
    "run_metadata",
    "preset",
    "train",
    "train_many",
]

ARCHITECTURES = (
    "nobias",
    "bias",
    "bias-softplus",
    "nobias-softplus",
    "simln",
    "simbn",
    "simbn-nobias",
)
ALGORITHMS = ("sam", "gd", "sgd", "label-noise-sgd")
_FORMAT_VERSION = 1


# --------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------
def _num(name, v, *, positive=False, allow_zero=True):
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise ValueError(f"{name} must be a finite number, got {v!r}")
    if positive and v <= 0:
        raise ValueError(f"{name} must be > 0, got {v!r}")
    if not allow_zero and v == 0:
        raise ValueError(f"{name} must be nonzero, got {v!r}")
    if v < 0:
        raise ValueError(f"{name} must be >= 0, got {v!r}")
    return float(v)


@dataclass(frozen=True)
class Phase:
    """One row of Table 2: hyperparameters held for ``epochs`` epochs.

    Args:
        epochs: number of epochs (>= 1).
        lr: learning rate (> 0).
        rho: SAM perturbation radius (>= 0).
        batch_size: examples per step (>= 1).
        weight_decay: lambda >= 0.
        label_noise: sigma of the Gaussian label noise (label-noise SGD).
    """

    epochs: int
    lr: float
    rho: float = 0.0
    batch_size: int = 1
    weight_decay: float = 0.0
    label_noise: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "epochs", check_int("epochs", self.epochs, minimum=1))
        object.__setattr__(self, "lr", _num("lr", self.lr, positive=True))
        object.__setattr__(self, "rho", _num("rho", self.rho))
        object.__setattr__(self, "batch_size", check_int("batch size", self.batch_size, minimum=1))
        object.__setattr__(self, "weight_decay", _num("weight decay", self.weight_decay))
        object.__setattr__(self, "label_noise", _num("label noise", self.label_noise))


@dataclass(frozen=True)
class TrainConfig:
    """One training run. See the module docstring for the numbered choices.

    Args:
        arch: one of :data:`ARCHITECTURES` ("nobias", "bias", "bias-softplus", "simln", ...).
        algo: one of :data:`ALGORITHMS`; checked against the phases ("sam": rho > 0;
            "gd": batch size n and rho = 0; "sgd": rho = 0, no label noise;
            "label-noise-sgd": label noise > 0, rho = 0).
        phases: the schedule (Table 2's rows, run in order; note 6).
        depth: number of layers (MLP architectures only).
        width: hidden width m (500 in the paper).
        d, n: input dimension and training-set size (30 and 100).
        data: "xor" (P_xor) or "ball" (App. B.2).
        loss: "mse" or "logistic"; smoothing: the logistic loss's label smoothing p.
        seed: note 9.
        init, gamma_init, first_layer_scale, projection, order: notes 1-4.
        ln_eps: eps of Sim-LN's max{||h||, eps}.
        dtype: "float64" or "float32".
        log_every: epochs between training-loss records.
        eval_every: epochs between sharpness and test-error records (a multiple of log_every).
        test: "auto" (exact when d <= :data:`EXACT_ALONG_RUN_MAX_D`, else a labelled sampled
            estimate), "exact" (every evaluation enumerates the hypercube), "sampled" or "none".
        test_samples: samples of the estimate.
        exact_final: with test="auto", enumerate the hypercube exactly at the last epoch.
        eval_geometric: also evaluate at epochs log_every * 2^k (resolves early training).
        backend: "auto", "c", "torch" or "autograd" (see :func:`sharpness.algorithms.engine_for`).
        name: a label for reports (e.g. "fig4b").

    Raises:
        ValueError: naming the first bad value.
    """

    arch: str = "bias"
    algo: str = "sam"
    phases: tuple[Phase, ...] = (Phase(epochs=100, lr=0.01, rho=0.05),)
    depth: int = 2
    width: int = 500
    d: int = 30
    n: int = 100
    data: str = "xor"
    loss: str = "mse"
    smoothing: float = 0.0
    seed: int = 0
    init: str = "torch"
    gamma_init: str = "inv-sqrt-width"
    first_layer_scale: float = 1.0
    projection: float | None = None
    order: str = "shuffle"
    ln_eps: float = 1e-3
    dtype: str = "float64"
    log_every: int = 10
    eval_every: int = 100
    test: str = "auto"
    test_samples: int = 1 << 14
    exact_final: bool = False
    eval_geometric: bool = False
    backend: str = "auto"
    name: str = ""

    def __post_init__(self) -> None:
        if self.arch not in ARCHITECTURES:
            raise ValueError(
                f"unknown architecture {self.arch!r}; choose one of {', '.join(ARCHITECTURES)}"
            )
        if self.algo not in ALGORITHMS:
            raise ValueError(
                f"unknown algorithm {self.algo!r}; choose one of {', '.join(ALGORITHMS)}"
            )
        phases = tuple(self.phases)
        if not phases or not all(isinstance(p, Phase) for p in phases):
            raise ValueError("phases must be a non-empty sequence of Phase")
        object.__setattr__(self, "phases", phases)
        depth = check_int("depth", self.depth, minimum=2)
        if depth != 2 and not self.arch.startswith(("bias", "nobias")):
            raise ValueError(f"{self.arch} is a 2-layer architecture, got depth {depth}")
        check_int("width", self.width, minimum=1)
        d = check_int("d", self.d, minimum=2)
        n = check_int("n", self.n, minimum=1)
        if self.data not in ("xor", "ball"):
            raise ValueError(f"data must be 'xor' or 'ball', got {self.data!r}")
        if self.data == "xor" and d < 63 and n > (1 << d):
            raise ValueError(f"n must be <= 2^d = {1 << d} distinct points, got n={n}")
        Loss(self.loss, self.smoothing)  # validates
        if self.loss == "logistic" and self.data != "xor":
            raise ValueError("the logistic loss needs +-1 labels (data='xor')")
        check_int("seed", self.seed, minimum=0)
        if self.init not in ("torch", "normal"):
            raise ValueError(f"init must be 'torch' or 'normal', got {self.init!r}")
        if self.gamma_init not in ("inv-sqrt-width", "one"):
            raise ValueError(
                f"gamma_init must be 'inv-sqrt-width' or 'one', got {self.gamma_init!r}"
            )
        _num("first layer scale", self.first_layer_scale, positive=True)
        if self.projection is not None:
            _num("projection norm", self.projection, positive=True)
            if self.arch.startswith("simbn"):
                raise ValueError("projected training is defined for the first layer (W1, b1)")
        if self.order not in ("shuffle", "cyclic", "iid"):
            raise ValueError(f"order must be shuffle, cyclic or iid, got {self.order!r}")
        _num("ln_eps", self.ln_eps, positive=True)
        if self.dtype not in ("float64", "float32"):
            raise ValueError(f"dtype must be float64 or float32, got {self.dtype!r}")
        log_every = check_int("log_every", self.log_every, minimum=1)
        eval_every = check_int("eval_every", self.eval_every, minimum=1)
        if eval_every % log_every:
            raise ValueError(
                f"eval_every ({eval_every}) must be a multiple of log_every ({log_every})"
            )
        if self.test not in ("auto", "exact", "sampled", "none"):
            raise ValueError(f"test must be auto, exact, sampled or none, got {self.test!r}")
        if not isinstance(self.exact_final, bool):
            raise ValueError(f"exact_final must be True or False, got {self.exact_final!r}")
        check_int("test_samples", self.test_samples, minimum=1)
        if self.backend not in ("auto", "c", "torch", "autograd"):
            raise ValueError(f"backend must be auto, c, torch or autograd, got {self.backend!r}")
        for i, p in enumerate(phases):
            where = f"phase {i + 1}: " if len(phases) > 1 else ""
            if p.batch_size > n:
                raise ValueError(f"{where}batch size {p.batch_size} is larger than n = {n}")
            if self.algo == "sam" and p.rho <= 0:
                raise ValueError(f"{where}SAM needs rho > 0, got rho = {p.rho}")
            if self.algo != "sam" and p.rho > 0:
                raise ValueError(f"{where}{self.algo} takes rho = 0, got rho = {p.rho}")
            if self.algo == "gd" and p.batch_size != n:
                raise ValueError(
                    f"{where}full-batch GD needs batch size n = {n}, got {p.batch_size}"
                )
            if self.algo == "label-noise-sgd" and p.label_noise <= 0:
                raise ValueError(f"{where}label-noise SGD needs label noise > 0")
            if self.algo != "label-noise-sgd" and p.label_noise > 0:
                raise ValueError(f"{where}label noise is for algo label-noise-sgd")
            StepRule(p.lr, p.rho, p.weight_decay, p.label_noise, Loss(self.loss, self.smoothing))

    @property
    def epochs(self) -> int:
        return sum(p.epochs for p in self.phases)

    def replace(self, **changes) -> TrainConfig:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        out = dataclasses.asdict(self)
        out["phases"] = [dataclasses.asdict(p) for p in self.phases]
        return out

    @classmethod
    def from_dict(cls, data: dict) -> TrainConfig:
        data = dict(data)
        data["phases"] = tuple(Phase(**p) for p in data["phases"])
        return cls(**data)

    def identity(self) -> dict:
        """The fields that determine the numbers (everything but labels and log intervals' names)."""
        out = self.to_dict()
        out.pop("name")
        return out

    def group_key(self) -> str:
        """Configurations with equal keys are batched together (they differ in seed only)."""
        out = self.identity()
        out.pop("seed")
        return json.dumps(out, sort_keys=True)


def build_arch(config: TrainConfig):
    """The :mod:`constructions.architectures` object of a configuration."""
    eps = config.ln_eps if config.arch == "simln" else None
    return architecture(config.arch, depth=config.depth, eps=eps)


# --------------------------------------------------------------------------------------------
# Presets: Table 2 (Appendix B.1)
# --------------------------------------------------------------------------------------------
def _p(epochs, lr, rho=0.0, batch=1, wd=0.0):
    return Phase(epochs=int(epochs), lr=lr, rho=rho, batch_size=batch, weight_decay=wd)


_TABLE2 = {
    # figure: (arch, algo, phases, extra)
    "fig1a": ("nobias", "gd", (_p(1e5, 0.01, 0, 100, 0.05),), {}),
    "fig1b": ("nobias", "sam", (_p(1e5, 0.01, 0.05),), {}),
    "fig2a": ("simbn", "sam", (_p(1e5, 0.005, 0.1), _p(1e5, 0.003, 1.0)), {}),
    "fig4a": ("bias", "gd", (_p(1e5, 0.01, 0, 100, 0.05),), {}),
    "fig4b": ("bias", "sam", (_p(2e5, 0.01, 0.05), _p(4e5, 0.01, 0.1)), {}),
    "fig5a": ("bias-softplus", "sgd", (_p(1e5, 0.001, 0, 1, 0.05),), {}),
    "fig5b": (
        "bias-softplus",
        "sam",
        (_p(1e5, 0.0005, 0.05), _p(1e5, 0.001, 0.1), _p(5e3, 0.005, 1.0)),
        {},
    ),
    "fig6a": ("simln", "sam", (_p(1e5, 0.1, 0.1),), {"first_layer_scale": 0.01}),
    "fig6b": (
        "simln",
        "sam",
        (_p(5e2, 0.01, 0.1), _p(5e2, 0.01, 0.5), _p(5e2, 0.01, 1.0)),
        {"projection": 10.0},
    ),
    "fig7a": ("nobias", "sam", (_p(1e5, 0.01, 0.2),), {"data": "ball", "d": 10}),
    "fig7b": ("bias", "sam", (_p(1e5, 0.01, 0.2),), {"data": "ball", "d": 10}),
    "fig8a": ("nobias", "sgd", (_p(1e5, 0.1, 0, 10, 0.01),), {"loss": "logistic"}),
    "fig8b": ("nobias", "sam", (_p(1e5, 0.1, 0.2),), {"loss": "logistic"}),
    "fig9a": ("bias", "sgd", (_p(1e5, 0.01, 0, 1, 0.05),), {"loss": "logistic"}),
    "fig9b": ("bias", "sam", (_p(1e5, 0.1, 0.2),), {"loss": "logistic"}),
    "fig10a": ("simbn", "sam", (_p(4e4, 0.1, 0.2),), {"loss": "logistic"}),
    "fig10b": (
        "simln",
        "sam",
        (_p(1e3, 1.0, 0.5), _p(1e5, 1.0, 1.0)),
        {"loss": "logistic", "first_layer_scale": 0.01},
    ),
    "fig11a": ("bias", "sgd", (_p(1e5, 0.01, 0, 1, 0.05),), {"depth": 3}),
    "fig11b": ("bias", "sam", (_p(1e5, 0.01, 0.05),), {"depth": 3}),
}

#: Table 2 of Appendix B.1 as named presets (width 500, d = 30, n = 100 unless stated).
PRESETS: tuple[str, ...] = tuple(_TABLE2)


def preset(name: str, *, seed: int = 0, epochs_scale: float = 1.0, **overrides) -> TrainConfig:
    """The configuration of one panel of Table 2, e.g. ``preset("fig4b")``.

    Args:
        name: one of :data:`PRESETS`.
        seed: the run's seed.
        epochs_scale: multiply every phase's epochs by this (at least 1 epoch each); the
            "quick" scale of ``verify-theorem fig*``.
        overrides: other :class:`TrainConfig` fields.

    Raises:
        ValueError: for an unknown name.
    """
    if name not in _TABLE2:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    arch, algo, phases, extra = _TABLE2[name]
    if epochs_scale != 1.0:
        _num("epochs_scale", epochs_scale, positive=True)
        phases = tuple(
            dataclasses.replace(p, epochs=max(1, round(p.epochs * epochs_scale))) for p in phases
        )
    total = sum(p.epochs for p in phases)
    log_every = max(1, total // 400)
    eval_every = log_every * max(1, (total // 50) // log_every)
    fields = dict(
        arch=arch,
        algo=algo,
        phases=phases,
        name=name,
        seed=seed,
        log_every=log_every,
        eval_every=eval_every,
    )
    fields.update(extra)
    fields.update(overrides)
    if "log_every" in overrides and "eval_every" not in overrides:
        le = fields["log_every"]
        fields["eval_every"] = max(le, (fields["eval_every"] // le) * le)
    return TrainConfig(**fields)


# --------------------------------------------------------------------------------------------
# Data and initialization
# --------------------------------------------------------------------------------------------
def make_dataset(config: TrainConfig) -> Dataset:
    """The training set of a configuration (note 7)."""
    if config.data == "xor":
        return sample_xor(config.d, config.n, seed=config.seed)
    X = _ball(config.d, config.n, np.random.default_rng(config.seed))
    y = np.abs(X[:, 0]) - np.abs(X[:, 1])
    return Dataset(
        X, y, description=f"uniform ball (d={config.d}, n={config.n}, seed={config.seed})"
    )


def _ball(d: int, n: int, rng: np.random.Generator) -> np.ndarray:
    G = rng.normal(size=(n, d))
    G /= np.linalg.norm(G, axis=1, keepdims=True)
    r = math.sqrt(d) * rng.random(n) ** (1.0 / d)
    return G * r[:, None]


def initial_params(config: TrainConfig, arch=None) -> dict[str, torch.Tensor]:
    """The initial parameters of a run (notes 1-3), float64."""
    arch = arch or build_arch(config)
    g = torch.Generator().manual_seed(
        int(np.random.SeedSequence([config.seed, 1]).generate_state(1)[0])
    )
    dims = [config.d] + [config.width] * (arch.depth - 1) + [1]
    params: dict[str, torch.Tensor] = {}

    def draw(shape, fan_in):
        if config.init == "torch":
            bound = 1.0 / math.sqrt(fan_in)
            return (torch.rand(shape, generator=g, dtype=torch.float64) * 2 - 1) * bound
        return torch.randn(shape, generator=g, dtype=torch.float64) / math.sqrt(fan_in)

    params["W1"] = draw((dims[1], dims[0]), dims[0])
    if arch.bias:
        params["b1"] = draw((dims[1],), dims[0])
    for j in range(2, arch.depth + 1):
        params[f"W{j}"] = draw((dims[j], dims[j - 1]), dims[j - 1])
    if "gamma" in arch.param_names:  # Sim-BN's per-neuron scale (note 1)
        g0 = 1.0 if config.gamma_init == "one" else 1.0 / math.sqrt(dims[1])
        params["gamma"] = torch.full((dims[1],), g0, dtype=torch.float64)
    for k in ("W1", "b1"):
        if k in params:
            params[k] = params[k] * config.first_layer_scale
    if config.projection is not None:
        from sharpness.training.algorithms import project_first_layer

        params = project_first_layer(params, config.projection)
    return {k: params[k] for k in arch.param_names}


# --------------------------------------------------------------------------------------------
# Exact sharpness and test error along the run
# --------------------------------------------------------------------------------------------
def _no_relu_kink(net, X) -> bool:
    """Cheap sufficient test that no first-layer ReLU pre-activation is numerically zero.

    |fl(z) - z| <= gamma_{d+1} (|W1| |x| + |b1|) with gamma_k = k u / (1 - k u) (Higham, Thm 3.1);
    when every |fl(z)| exceeds twice that bound, no sign is in doubt and no unit sits on its kink
    (2-layer networks: the first layer is the only hidden layer). Sim-LN also needs ||h|| away
    from eps.
    """
    arch = net.arch
    if arch.depth != 2 or arch.activation != "relu":
        return arch.activation != "relu" and arch.depth == 2
    p = net.param_dict()
    W1 = p["W1"]
    Z = X @ W1.T
    A = X.abs() @ W1.abs().T
    if "b1" in p:
        Z = Z + p["b1"]
        A = A + p["b1"].abs()
    u = 2.0**-53
    k = X.shape[1] + 1
    bound = (k * u / (1 - k * u)) * A
    if not bool(torch.all(Z.abs() > 2 * bound)):
        return False
    if training_head(arch) is TrainingHead.SIM_LN:
        nrm = torch.linalg.vector_norm(torch.relu(Z), dim=1)
        return bool(torch.all((nrm - arch.eps).abs() > 1e-9 * arch.eps))
    return True


def closed_form_trace(net, X, y, loss: Loss | None = None) -> float:
    r"""Exact Tr(nabla^2 L) in closed form for 2-layer MLPs (relu, softplus) and Sim-LN.

    L = (1/n) sum_i ell(f(x_i), y_i). Each first-layer weight enters one pre-activation z_a
    linearly and f is linear in W2, so the Hessian's diagonal is

    .. math::
        \partial^2_{W_1[a,b]} L = \frac1n \sum_i x_i[b]^2 k_{ia}, \quad
        \partial^2_{b_1[a]} L = \frac1n \sum_i k_{ia}, \quad
        \partial^2_{W_2[a]} L = \frac1n \sum_i \ell''_i\, u_{ia}^2,
        \qquad k_{ia} = \ell''_i \Big(\frac{\partial f_i}{\partial z_a}\Big)^2
                     + \ell'_i \frac{\partial^2 f_i}{\partial z_a^2},

    with u = sigma(z) (MLP) or h/max{||h||, eps} (Sim-LN). MLP: df/dz_a = W2_a sigma'(z_a),
    d2f/dz_a^2 = W2_a sigma''(z_a). Sim-LN with N = ||h|| > eps and relu (sigma'' = 0 off the
    kink): df/dh_a = (W2_a - f u_a)/N and d2f/dh_a^2 = (-2 (W2_a - f u_a) u_a - f (1 - u_a^2))/N^2;
    with N < eps, f = W2 h / eps is linear in h. Valid away from ReLU kinks (the caller checks).
    Compared with :func:`sharpness.hessian_trace` and dense ``torch.func.hessian`` in the tests.
    """
    loss = loss or Loss()
    arch, p = net.arch, net.param_dict()
    if arch.couples_examples or arch.depth != 2:
        raise ValueError(f"no closed-form trace for {arch.name}")
    n = X.shape[0]
    W2 = p["W2"][0]
    z = arch.preactivation_1(p, X)
    if arch.activation == "relu":
        h = torch.relu(z)
        s1 = (z > 0).to(z.dtype)
        s2 = torch.zeros_like(z)
    else:
        h = torch.logaddexp(z, torch.zeros_like(z))
        s1 = torch.sigmoid(z)
        s2 = s1 * (1 - s1)
    if training_head(arch) is TrainingHead.SIM_LN:
        N = torch.linalg.vector_norm(h, dim=1, keepdim=True)
        big = N > arch.eps
        den = torch.where(big, N, torch.full_like(N, arch.eps))
        u = h / den
        f = u @ W2
        fa = f[:, None]
        dfdh = torch.where(big, (W2 - fa * u) / den, W2 / den)
        d2fdh2 = torch.where(big, (-2 * (W2 - fa * u) * u - fa * (1 - u * u)) / den**2, 0.0)
        dfdz = dfdh * s1
        d2fdz2 = d2fdh2 * s1 * s1 + dfdh * s2
    else:
        u = h
        f = h @ W2
        dfdz = W2 * s1
        d2fdz2 = W2 * s2
    l1 = loss.d1(f, y)[:, None]
    l2 = loss.d2(f, y)[:, None]
    k = l2 * dfdz**2 + l1 * d2fdz2
    tr = torch.sum(l2 * u * u) + torch.sum(k * (X * X).sum(dim=1, keepdim=True))
    if arch.bias:
        tr = tr + torch.sum(k)
    return float(tr) / n


def exact_sharpness(net, X, y, loss: Loss | None = None) -> tuple[float | None, str]:
    """(Tr(nabla^2 L), "") or (None, why): never differentiates through a ReLU kink.

    MSE: :func:`sharpness.hessian_trace`, with its (slow, rigorous) kink analysis skipped only
    when :func:`_no_relu_kink` already proves that no pre-activation is near 0. Sim-LN and the
    logistic loss: :func:`closed_form_trace` (hessian_trace's generic path needs m HVPs for
    Sim-LN, seconds per evaluation at m = 500), after the same kink check.
    """
    from sharpness.trace.hessian import hessian_trace
    from sharpness.trace.kinks import NonDifferentiableError

    loss = loss or Loss()
    try:
        safe = _no_relu_kink(net, X)
        closed = not net.arch.couples_examples and net.arch.depth == 2
        sim_ln = training_head(net.arch) is TrainingHead.SIM_LN
        if loss.kind == "mse" and not (closed and sim_ln):
            return hessian_trace(net, X, y, check_kinks=not safe), ""
        if not closed:
            return None, f"no exact sharpness for the logistic loss on {net.arch.name}"
        if not safe:
            from sharpness.trace.kinks import find_kinks

            report = find_kinks(net, X, y)
            if not report.twice_differentiable:
                raise NonDifferentiableError(report)
        return closed_form_trace(net, X, y, loss), ""
    except NonDifferentiableError as exc:
        return None, f"not twice differentiable: {exc.report.summary(1)}"
    except NotImplementedError as exc:
        return None, f"not available yet: {exc}"


def one_sided_sharpness(net, X, loss: Loss | None = None) -> tuple[float, float] | None:
    """At a fatal ReLU kink: the traces with relu'(0) := 0 and := 1, or None where not defined.

    For a ReLU MLP every diagonal entry of the Hessian of f vanishes wherever it exists (f is
    piecewise linear in each single parameter), so with the MSE loss
    Tr(nabla^2 L) = (2/n) sum_i ||grad f(x_i)||^2 at every point, interpolating or not, and at a
    kink the two one-sided conventions bound it (:func:`sharpness.one_sided_traces`). Any value
    a convention could assign lies between them; a comparison that holds for both is
    convention-free.
    """
    loss = loss or Loss()
    ops = ops_for(net)
    if ops.f_diagonal_vanishes is None or not ops.f_diagonal_vanishes(net.arch):
        return None
    if loss.kind != "mse":
        return None
    from sharpness.trace.hessian import one_sided_traces

    lo, hi = one_sided_traces(net, X)
    return (min(lo, hi), max(lo, hi))


#: Along the run, "auto" enumerates the hypercube exactly only up to this dimension (2^20 points
#: take about a second at width 500); above it, the run logs a labelled sampled estimate and, with
#: ``exact_final``, one exact enumeration at the last epoch (2^30 points at width 500: minutes).
EXACT_ALONG_RUN_MAX_D = 20


def _test_error(net, config: TrainConfig, test_set, final: bool = False, sampled=None) -> dict:
    """Zero-one test error: exact over the hypercube, or a labelled sampled estimate.

    Along the run (not ``final``) a sampled estimate is one float64 forward of the run's
    :class:`sharpness.training.sampled_error.SampledTestSet` (``sampled``, drawn once;
    ``"test_method": "sampled-float"``): no rounding analysis, whose cost made 43% of a 2e6-step
    run (issue 14; that module says why an estimate does not need it). The final model's estimate
    decides every sampled sign exactly (``"sampled-rigorous"``), on the same points.
    """
    from sharpness.hypercube.error import (
        EnumerationTooLargeError,
        hypercube_error,
        sampled_hypercube_error,
    )

    if config.test == "none":
        return {}
    if config.data == "ball":
        Xt, yt = test_set
        f = net(Xt)
        return {
            "test_error": float(torch.mean((yt * f <= 0).to(torch.float64))),
            "test_mse": float(torch.mean((f - yt) ** 2)),
            "test_exact": False,
            "test_points": int(Xt.shape[0]),
        }
    exact = config.test == "exact" or (
        config.test == "auto"
        and (config.d <= EXACT_ALONG_RUN_MAX_D or (final and config.exact_final))
    )
    if exact:
        try:
            h = hypercube_error(net, progress=False)
            return {
                "test_error": h.zero_one,
                "test_mse": h.mse,
                "test_exact": True,
                "test_points": h.total,
                "test_method": "exact",
            }
        except EnumerationTooLargeError:
            pass
    if not final and sampled is not None:
        return sampled.evaluate(net)
    s = sampled_hypercube_error(net, config.test_samples, seed=config.seed, chunk_size=CHUNK)
    return {
        "test_error": s.zero_one,
        "test_mse": s.mse,
        "test_exact": False,
        "test_points": s.samples,
        "test_ci": [s.ci_low, s.ci_high],
        "test_method": "sampled-rigorous",
    }


# --------------------------------------------------------------------------------------------
# Runs
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class RunResult:
    """A finished (or interrupted) run: its configuration, final parameters and metrics."""

    config: TrainConfig
    params: dict
    metrics: tuple
    dataset: Dataset
    epoch: int
    finished: bool
    out: Path | None = None
    seconds: float = 0.0
    steps: int = 0
    notes: tuple = field(default=())
    metadata: dict | None = None

    def network(self) -> Network:
        arch = build_arch(self.config)
        ref = self.dataset.X if arch.couples_examples else None
        return Network(arch, {k: np.asarray(v) for k, v in self.params.items()}, reference=ref)


def _atomic_write(path: Path, write) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        with open(tmp, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _atomic_text(path: Path, text: str) -> None:
    _atomic_write(path, lambda fh: fh.write(text.encode()))


def _steps_at(config: TrainConfig, epoch: int) -> int:
    """The number of steps after ``epoch`` epochs of the schedule (note 5)."""
    steps, start = 0, 0
    for p in config.phases:
        steps += min(p.epochs, max(0, epoch - start)) * math.ceil(config.n / p.batch_size)
        start += p.epochs
    return steps


def _extends(old: TrainConfig, new: TrainConfig) -> bool:
    """Whether ``new`` is ``old`` with a longer last phase (a finished run can be extended)."""
    if new.phases[-1].epochs <= old.phases[-1].epochs:
        return False
    longer = old.phases[:-1] + (dataclasses.replace(old.phases[-1], epochs=new.phases[-1].epochs),)
    return old.replace(phases=longer).identity() == new.identity()


def recorded_config(out: str | os.PathLike) -> TrainConfig | None:
    """The configuration recorded in a run directory (``config.json``), or None if there is none.

    Raises:
        ValueError: if ``config.json`` exists but cannot be read as a configuration.
    """
    cfg_path = Path(out) / "config.json"
    if not cfg_path.exists():
        return None
    try:
        old = json.loads(cfg_path.read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"{cfg_path} cannot be read ({exc}); use another --out") from None
    try:  # fields added since the run was written take their defaults
        return TrainConfig.from_dict(old)
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise ValueError(f"{cfg_path} holds no valid configuration ({exc})") from None


def extension_config(config: TrainConfig, out: str | os.PathLike) -> TrainConfig:
    """``config`` with the recorded run's log and evaluation intervals, when it extends that run.

    The command line derives ``log_every`` and ``eval_every`` from the number of epochs, so
    ``--epochs 200`` on a directory trained with ``--epochs 100`` would otherwise ask for other
    intervals: a different configuration. When ``config`` extends the recorded run (a longer
    last phase) once the intervals are taken from it, the intervals are taken from it; otherwise
    ``config`` is returned unchanged (and :func:`train` decides).
    """
    old = recorded_config(out)
    if old is None:
        return config
    kept = config.replace(log_every=old.log_every, eval_every=old.eval_every)
    return kept if _extends(old, kept) else config


def engine_kind(engine) -> str:
    """The name recorded for an engine: "c" (the C kernel), "autograd" or "torch"."""
    from sharpness.training.algorithms import AutogradEngine

    if isinstance(engine, (CEngine, SimBNEngine)):
        return "c"
    return "autograd" if isinstance(engine, AutogradEngine) else "torch"


_ENGINE_NAMES = {"c": "the C kernel", "torch": "the torch engine", "autograd": "torch.func"}


def _git_commit() -> str | None:
    """The commit of the toolkit's source tree (an editable install), or None."""
    here = Path(__file__).resolve().parent
    try:
        proc = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = proc.stdout.strip()
    return commit if proc.returncode == 0 and len(commit) == 40 else None


def _versions() -> dict:
    from importlib import metadata

    out = {"python": platform.python_version()}
    for dist in ("flatness-toolkit", "numpy", "torch", "scipy", "tqdm"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    return out


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds")


def run_metadata(config: TrainConfig) -> dict:
    """What a run records about where it ran: host, versions, git commit, config (``metadata.json``)."""
    return {
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "versions": _versions(),
        "git_commit": _git_commit(),
        "config": config.to_dict(),
    }


class _Run:
    """The mutable state of one run inside a group."""

    def __init__(self, config: TrainConfig, out: Path | None):
        self.config = config
        self.out = out
        self.arch = build_arch(config)
        self.dataset = make_dataset(config)
        self.epoch = 0
        self.step = 0
        self.metrics: list[dict] = []
        self.order_rng = np.random.Generator(np.random.PCG64([config.seed, 2]))
        self.noise_rng = np.random.Generator(np.random.PCG64([config.seed, 3]))
        self.params = initial_params(config, self.arch)
        self.finished = False
        self.diverged = False
        self.engines: dict[int, str] = {}  # phase index -> engine kind (engine_kind)
        self.metadata: dict | None = None
        self.test_set = None
        self._sampled_test: SampledTestSet | None = None
        if config.data == "ball":
            rng = np.random.default_rng([config.seed, 4])
            Xt = _ball(config.d, 10_000, rng)
            yt = np.abs(Xt[:, 0]) - np.abs(Xt[:, 1])
            self.test_set = (torch.tensor(Xt), torch.tensor(yt))

    # --- persistence ------------------------------------------------------------------------
    def prepare_dir(self) -> None:
        if self.out is None:
            return
        if self.out.exists() and not self.out.is_dir():
            raise ValueError(f"--out {self.out} exists and is not a directory")
        try:
            self.out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ValueError(f"cannot create --out {self.out}: {exc.strerror or exc}") from None
        if not os.access(self.out, os.W_OK | os.X_OK):
            raise ValueError(f"cannot write into --out {self.out}: permission denied")
        self.lock()
        old = recorded_config(self.out)
        recorded_epochs = self.config.epochs
        if old is not None:
            old_id, new_id = old.identity(), self.config.identity()
            if old_id != new_id and not _extends(old, self.config):
                diff = sorted(
                    k for k in set(old_id) | set(new_id) if old_id.get(k) != new_id.get(k)
                )
                raise ValueError(
                    f"{self.out} holds a run with a different configuration ({', '.join(diff)} "
                    f"differ; only a longer last phase extends a run); use another --out or "
                    f"delete it"
                )
            recorded_epochs = old.epochs
        self.load_checkpoint(recorded_epochs)
        if old is None or old.identity() != self.config.identity():
            _atomic_text(
                self.out / "config.json",
                json.dumps(self.config.to_dict(), sort_keys=True, indent=2),
            )
        if not (self.out / "dataset.npz").exists():
            _atomic_write(
                self.out / "dataset.npz",
                lambda fh: np.savez(fh, X=self.dataset.X, y=self.dataset.y),
            )
        self.start_session()

    def lock(self) -> None:
        """Hold an exclusive lock on the directory while this process trains it."""
        try:
            import fcntl
        except ImportError:  # not POSIX: no locking
            return
        fh = open(self.out / ".lock", "w")  # noqa: SIM115 (held until the process ends)
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.close()
            raise ValueError(
                f"{self.out} is being trained by another process; wait for it or use another --out"
            ) from None
        self._lock = fh

    def unlock(self) -> None:
        fh = getattr(self, "_lock", None)
        if fh is not None:
            fh.close()
            self._lock = None

    def read_checkpoint(self, path: Path, recorded_epochs: int) -> dict:
        """The checkpoint's state, every field checked; ValueError naming the file otherwise.

        Checked: the archive (truncated, empty, CRC, declared sizes: :func:`load_npz`); every
        key; the format version; parameters of the configuration's shapes and dtype, finite
        unless the checkpoint says the run diverged; 0 <= epoch <= the recorded epochs, the
        step count that epoch implies, "finished" only at the last epoch (or at divergence);
        the generators' states.
        """
        dtype = np.float64 if self.config.dtype == "float64" else np.float32
        shapes = {k: tuple(v.shape) for k, v in initial_params(self.config, self.arch).items()}
        limit = 16 * sum(math.prod(s) for s in shapes.values()) + (1 << 20)

        def bad(why: str) -> ValueError:
            return ValueError(
                f"checkpoint {path} is corrupt or was edited ({why}); delete it to restart the "
                f"run, or use another --out"
            )

        data = load_npz(path, max_bytes=limit, what="checkpoint")
        expected = {"meta"} | {f"p_{k}" for k in shapes}
        missing, extra = sorted(expected - set(data)), sorted(set(data) - expected)
        if missing or extra:
            raise bad(f"missing {missing}" if missing else f"unexpected arrays {extra}")
        raw = data["meta"]
        if raw.shape != () or raw.dtype.kind != "U":
            raise bad("meta is not a JSON string")
        try:
            meta = json.loads(str(raw))
        except ValueError as exc:
            raise bad(f"meta is not JSON: {exc}") from None
        if not isinstance(meta, dict):
            raise bad("meta is not a JSON object")
        if meta.get("version") != _FORMAT_VERSION:
            raise ValueError(f"{path}: unknown checkpoint format; use another --out")
        for key in ("epoch", "step", "finished", "order_rng", "noise_rng"):
            if key not in meta:
                raise bad(f"meta lacks {key!r}")
        diverged = meta.get("diverged", False)
        if not isinstance(diverged, bool) or not isinstance(meta["finished"], bool):
            raise bad("finished/diverged are not true or false")
        target = meta.get("epochs", recorded_epochs)
        epoch = meta["epoch"]
        if not isinstance(target, int) or isinstance(target, bool) or target > self.config.epochs:
            raise bad(f"its target of {target!r} epochs is not this run's")
        if not isinstance(epoch, int) or isinstance(epoch, bool) or not 0 <= epoch <= target:
            raise bad(f"epoch {epoch!r} is outside [0, {target}]")
        if meta["step"] != _steps_at(self.config, epoch):
            raise bad(
                f"step {meta['step']!r} is not the {_steps_at(self.config, epoch)} steps of "
                f"{epoch} epochs"
            )
        if meta["finished"] and epoch != target and not diverged:
            raise bad(f"finished at epoch {epoch}, before the last epoch {target}")
        params = {}
        for k, shape in shapes.items():
            a = data[f"p_{k}"]
            if a.dtype != dtype or a.shape != shape:
                raise bad(
                    f"{k} is {a.dtype} of shape {a.shape}, expected {np.dtype(dtype)} of {shape}"
                )
            if not diverged and not np.all(np.isfinite(a)):
                raise bad(f"{k} holds NaN or inf, and the run did not diverge")
            params[k] = torch.from_numpy(a.copy())
        engines = meta.get("engines", {})
        if not isinstance(engines, dict) or not all(
            isinstance(v, str) and v in _ENGINE_NAMES and str(k).isdigit()
            for k, v in engines.items()
        ):
            raise bad(f"engines {engines!r} is not a map from phase to engine")
        rngs = []
        for key in ("order_rng", "noise_rng"):
            g = np.random.Generator(np.random.PCG64())
            try:
                g.bit_generator.state = meta[key]
            except (TypeError, ValueError, KeyError) as exc:
                raise bad(f"{key} is not a PCG64 state ({exc})") from None
            rngs.append(g)
        return {
            "params": params,
            "epoch": epoch,
            "step": meta["step"],
            "finished": meta["finished"],
            "diverged": diverged,
            "target": target,
            "order_rng": rngs[0],
            "noise_rng": rngs[1],
            "engines": {int(k): v for k, v in engines.items()},
        }

    def read_metrics(self, path: Path, upto: int) -> tuple[list[dict], bool]:
        """The records of ``metrics.jsonl`` up to epoch ``upto`` (the checkpoint's), and whether
        the file holds more than them (records of the unsaved epochs after the checkpoint, which
        training writes again with the same numbers, or a last line cut by a kill).

        Raises:
            ValueError: for a line that is not a record and is not the cut last line, or for
                records out of order; nothing is dropped or rewritten then.
        """
        try:
            text = path.read_text()
        except OSError as exc:
            raise ValueError(f"cannot read {path}: {exc.strerror or exc}") from None
        except UnicodeDecodeError:
            text = path.read_bytes().decode("utf-8", errors="replace")
        lines = text.split("\n")
        cut = lines.pop() if lines else ""  # after the last newline: "" or a line cut by a kill
        kept: list[dict] = []
        later = False  # a record of an epoch after the checkpoint's has been seen
        last = None
        for i, line in enumerate(lines, start=1):
            try:
                rec = json.loads(line)
                epoch = rec["epoch"]
                if not isinstance(epoch, int) or isinstance(epoch, bool):
                    raise ValueError(f"epoch {epoch!r} is not an integer")
            except (ValueError, TypeError, KeyError) as exc:
                raise ValueError(
                    f"{path}: line {i} of {len(lines)} is not a metrics record ({exc}); the file "
                    f"is left as it is: repair or delete that line, then rerun"
                ) from None
            if last is not None and epoch <= last:
                raise ValueError(
                    f"{path}: line {i} (epoch {epoch}) does not follow epoch {last}; "
                    f"the file is left as it is: repair it, then rerun"
                )
            last = epoch
            if epoch > upto:
                later = True
            else:
                kept.append(rec)
        return kept, later or bool(cut)

    def load_checkpoint(self, recorded_epochs: int | None = None, *, write: bool = True) -> None:
        recorded_epochs = self.config.epochs if recorded_epochs is None else recorded_epochs
        path = self.out / "checkpoint.npz"
        metrics_path = self.out / "metrics.jsonl"
        if not path.exists():
            if write and metrics_path.exists():  # records of epoch 0 written before its checkpoint
                metrics_path.unlink()
            return
        state = self.read_checkpoint(path, recorded_epochs)
        if not metrics_path.exists():
            raise ValueError(
                f"{metrics_path} is missing, but {path} is at epoch {state['epoch']}: the history "
                f"cannot be rebuilt; use another --out"
            )
        kept, more = self.read_metrics(metrics_path, state["epoch"])
        if not kept:
            raise ValueError(f"{metrics_path} holds no record up to epoch {state['epoch']}")
        self.params = state["params"]
        self.epoch, self.step, self.finished = state["epoch"], state["step"], state["finished"]
        self.diverged = state["diverged"]
        self.order_rng, self.noise_rng = state["order_rng"], state["noise_rng"]
        self.engines = state["engines"]
        self.metrics = kept
        extend = self.finished and not self.diverged and self.epoch < self.config.epochs
        if not write:
            return
        if extend:
            # Extending a finished run: it continues from its last epoch E as if it had been
            # trained for the longer schedule in one go. The record at E was the last one, with
            # a full evaluation; an uninterrupted run logs E only on the log grid, and evaluates
            # it only when due, not as a final epoch.
            self.finished = False
            last = self.metrics[-1]
            if last["epoch"] == self.epoch:
                self.metrics.pop()
                if self.epoch % self.config.log_every == 0:
                    self.metrics.append(self.record(_eval_due(self.config, self.epoch)))
            more = True
        if more:
            _atomic_text(
                metrics_path, "".join(json.dumps(r, sort_keys=True) + "\n" for r in self.metrics)
            )
        if extend:
            for name in ("final.npz", "summary.json"):
                (self.out / name).unlink(missing_ok=True)
            self.save_checkpoint()

    def save_checkpoint(self) -> None:
        if self.out is None:
            return
        finite = all(bool(torch.isfinite(v).all()) for v in self.params.values())
        diverged = self.diverged or not finite
        meta = {
            "version": _FORMAT_VERSION,
            "epoch": self.epoch,
            "epochs": self.config.epochs,
            "step": self.step,
            "finished": self.finished,
            "diverged": diverged,
            "engines": {str(k): v for k, v in sorted(self.engines.items())},
            "order_rng": self.order_rng.bit_generator.state,
            "noise_rng": self.noise_rng.bit_generator.state,
        }
        arrays = {f"p_{k}": v.detach().numpy() for k, v in self.params.items()}
        _atomic_write(
            self.out / "checkpoint.npz",
            lambda fh: np.savez(fh, meta=np.array(json.dumps(meta)), **arrays),
        )

    def append_metrics(self, rec: dict) -> None:
        self.metrics.append(rec)
        if self.out is not None:
            with open(self.out / "metrics.jsonl", "a") as fh:
                fh.write(json.dumps(rec, sort_keys=True) + "\n")
                fh.flush()

    # --- metadata (metadata.json) -------------------------------------------------------------
    def start_session(self) -> None:
        """Record this process's session in ``metadata.json`` (one entry per session)."""
        path = self.out / "metadata.json"
        meta = None
        if path.exists():
            try:
                meta = json.loads(path.read_text())
                if not isinstance(meta, dict) or not isinstance(meta.get("sessions"), list):
                    raise ValueError("not a metadata object")
            except (OSError, ValueError) as exc:
                aside = path.with_name(f"metadata.unreadable-{int(time.time())}.json")
                os.replace(path, aside)
                print(f"note: {path} was unreadable ({exc}); kept as {aside}", file=sys.stderr)
                meta = None
        now = _now()
        here = run_metadata(self.config)
        if meta is None:
            meta = {"created": now, "sessions": []}
        meta.update(here)
        for old in meta["sessions"]:
            # this process holds the run's lock, so a session still "running" was killed
            # without a clean exit (SIGKILL, a lost worker, a power cut)
            if isinstance(old, dict) and old.get("outcome") == "running":
                old["outcome"] = "killed"
        if self.engines:
            meta["engines"] = {str(k): v for k, v in sorted(self.engines.items())}
        meta["sessions"].append(
            {
                "started": now,
                "ended": None,
                "outcome": "running",
                "from_epoch": self.epoch,
                "to_epoch": None,
                "host": here["host"],
                "versions": here["versions"],
                "git_commit": here["git_commit"],
            }
        )
        self.metadata = meta
        _atomic_text(path, json.dumps(meta, sort_keys=True, indent=2))

    def end_session(self, outcome: str) -> None:
        if self.out is None or self.metadata is None:
            return
        session = self.metadata["sessions"][-1]
        if session["ended"] is not None:
            return
        session.update(ended=_now(), outcome=outcome, to_epoch=self.epoch)
        self.metadata["engines"] = {str(k): v for k, v in sorted(self.engines.items())}
        if outcome == "finished":
            self.metadata["finished"] = session["ended"]
        with contextlib.suppress(OSError):  # metadata must not turn a result into a failure
            _atomic_text(
                self.out / "metadata.json", json.dumps(self.metadata, sort_keys=True, indent=2)
            )

    def finish(self, seconds: float, eval_seconds: float = 0.0) -> None:
        self.finished = True
        self.save_checkpoint()
        self.write_final(seconds, eval_seconds)

    def write_final(self, seconds: float | None, eval_seconds: float | None) -> None:
        """``final.npz`` and ``summary.json`` of a finished run (again, if a kill lost them)."""
        if self.out is None:
            return
        arrays = {k: v.detach().to(torch.float64).numpy() for k, v in self.params.items()}
        _atomic_write(self.out / "final.npz", lambda fh: np.savez(fh, **arrays))
        last = self.metrics[-1] if self.metrics else {}
        summary = {
            "epochs": self.epoch,
            "steps": self.step,
            "final": last,
            "engines": {str(k): v for k, v in sorted(self.engines.items())},
            # wall-clock of the last session of this group (all its seeds), not of the run;
            # None when the files were written again after a kill
            "session_seconds": None if seconds is None else round(seconds, 3),
            "session_eval_seconds": None if eval_seconds is None else round(eval_seconds, 3),
        }
        _atomic_text(self.out / "summary.json", json.dumps(summary, sort_keys=True, indent=2))

    def complete(self) -> None:
        """A finished run whose ``final.npz`` or ``summary.json`` a kill did not let be written."""
        if self.out is None or not self.finished:
            return
        if not ((self.out / "final.npz").exists() and (self.out / "summary.json").exists()):
            self.write_final(None, None)

    # --- evaluation ---------------------------------------------------------------------------
    def network(self) -> Network:
        ref = self.dataset.X if self.arch.couples_examples else None
        params = {k: v.detach().to(torch.float64) for k, v in self.params.items()}
        return Network(self.arch, params, reference=ref)

    def sampled_test(self) -> SampledTestSet | None:
        """The run's sampled test points, drawn on first use (None where the test is not sampled)."""
        cfg = self.config
        if cfg.data != "xor" or cfg.test not in ("auto", "sampled"):
            return None
        if cfg.test == "auto" and cfg.d <= EXACT_ALONG_RUN_MAX_D:
            return None
        if self._sampled_test is None:
            self._sampled_test = SampledTestSet.draw(cfg.d, cfg.test_samples, cfg.seed)
        return self._sampled_test

    def record(self, full: bool, final: bool = False) -> dict:
        cfg = self.config
        if not all(bool(torch.isfinite(v).all()) for v in self.params.values()):
            return {"epoch": self.epoch, "step": self.step, "diverged": True, "train_loss": None}
        net = self.network()
        X, y = self.dataset.tensors()
        loss = Loss(cfg.loss, cfg.smoothing)
        with torch.no_grad():
            f = net(X)
            rec = {
                "epoch": self.epoch,
                "step": self.step,
                "phase": _phase_index(cfg, self.epoch),
                "train_loss": float(torch.mean(loss.value(f, y))),
                "train_error": float(torch.mean((y * f <= 0).to(torch.float64))),
                "max_residual": float(torch.max(torch.abs(f - y))),
                "w1_norm": float(torch.linalg.vector_norm(net.params["W1"])),
                f"w{self.arch.depth}_norm": float(
                    torch.linalg.vector_norm(net.params[f"W{self.arch.depth}"])
                ),
            }
        if "b1" in net.params:
            rec["b1_norm"] = float(torch.linalg.vector_norm(net.params["b1"]))
        if not math.isfinite(rec["train_loss"]):
            rec["diverged"] = True
            return rec
        if full:
            s, why = exact_sharpness(net, X, y, loss)
            rec["sharpness"] = s
            if why:
                rec["sharpness_note"] = why
            bounds = one_sided_sharpness(net, X, loss) if s is None else None
            if bounds is not None:
                rec["sharpness_one_sided"] = list(bounds)
            rec.update(_test_error(net, cfg, self.test_set, final, self.sampled_test()))
        return rec

    def result(self, seconds: float = 0.0) -> RunResult:
        return RunResult(
            self.config,
            {k: v.detach().numpy().copy() for k, v in self.params.items()},
            tuple(self.metrics),
            self.dataset,
            self.epoch,
            self.finished,
            self.out,
            seconds,
            self.step,
            metadata=self.metadata,
        )


def _eval_due(cfg: TrainConfig, epoch: int) -> bool:
    """Whether the record at ``epoch`` (a multiple of log_every) carries sharpness and test error."""
    if epoch % cfg.eval_every == 0 or epoch >= cfg.epochs:
        return True
    k = epoch // cfg.log_every
    return cfg.eval_geometric and k & (k - 1) == 0


def _phase_index(config: TrainConfig, epoch: int) -> int:
    """The phase that runs epoch ``epoch + 1`` (the last phase at the end)."""
    acc = 0
    for i, p in enumerate(config.phases):
        acc += p.epochs
        if epoch < acc:
            return i
    return len(config.phases) - 1


def _phase_end(config: TrainConfig, epoch: int) -> int:
    acc = 0
    for p in config.phases:
        acc += p.epochs
        if epoch < acc:
            return acc
    return acc


def _epoch_order(run: _Run) -> np.ndarray:
    """The n examples of one epoch in the order visited (note 4), advancing the order generator."""
    n = run.config.n
    if run.config.order == "shuffle":
        return run.order_rng.permutation(n)
    if run.config.order == "cyclic":
        return np.arange(n)
    return run.order_rng.integers(0, n, size=n)


def _epoch_batches(run: _Run, B: int) -> list[np.ndarray]:
    """The batches of one epoch for one run (note 4, 5), advancing its order generator."""
    perm = _epoch_order(run)
    return [perm[s : s + B] for s in range(0, run.config.n, B)]


class _Interrupt:
    """Defers SIGINT/SIGTERM to the next chunk boundary (so a checkpoint is consistent)."""

    def __init__(self):
        self.signal = None
        self._old = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handler)
        return self

    def _handler(self, signum, frame):
        if self.signal is not None:  # a second Ctrl-C: stop now
            raise KeyboardInterrupt
        self.signal = signum

    def __exit__(self, *exc):
        for sig, old in self._old.items():
            signal.signal(sig, old)
        return False


def _run_group(
    runs: list[_Run],
    *,
    progress: bool,
    threads: int,
    chunk_seconds: float,
    checkpoint_seconds: float,
    stop_after_epochs: int | None,
) -> float:
    """Train runs that share everything but the seed, in lockstep, from their common epoch."""
    cfg = runs[0].config
    arch = runs[0].arch
    R = len(runs)
    dtype = torch.float64 if cfg.dtype == "float64" else torch.float32
    X = torch.stack([r.dataset.tensors(dtype)[0] for r in runs])
    y = torch.stack([r.dataset.tensors(dtype)[1] for r in runs])
    if cfg.loss == "logistic":
        y = torch.sign(y)
    P = {
        k: torch.stack([r.params[k] for r in runs]).to(dtype).contiguous() for k in arch.param_names
    }
    total = cfg.epochs
    epoch = runs[0].epoch
    start_epoch = epoch
    engines = _resolve_engines(runs, arch, cfg, epoch, threads)
    t_start = time.perf_counter()
    last_ckpt = time.perf_counter()
    epochs_per_chunk = 1
    bar = tqdm(
        total=total,
        initial=epoch,
        desc=(cfg.name or f"{cfg.arch}/{cfg.algo}") + (f" x{R}" if R > 1 else ""),
        unit="ep",
        disable=not progress,
        dynamic_ncols=True,
        leave=False,
    )

    def sync():
        for i, r in enumerate(runs):
            r.params = {k: P[k][i].detach().clone() for k in P}

    eval_seconds = 0.0

    def log(full_due: bool):
        nonlocal eval_seconds
        t0 = time.perf_counter()
        sync()
        for r in runs:
            r.append_metrics(r.record(full_due, final=r.epoch >= total))
        eval_seconds += time.perf_counter() - t0
        last = runs[0].metrics[-1]
        post = {"loss": "diverged" if last.get("diverged") else f"{last['train_loss']:.2e}"}
        if last.get("test_error") is not None:
            post["test"] = f"{last['test_error']:.3f}"
        if last.get("sharpness") is not None:
            post["tr"] = f"{last['sharpness']:.3g}"
        bar.set_postfix(post, refresh=False)

    if epoch == 0 and not runs[0].metrics:
        log(True)
        for r in runs:
            r.save_checkpoint()
    busy = False  # True while the state is being changed (a checkpoint then would be torn)
    diverged = False
    with _Interrupt() as intr:
        try:
            while epoch < total:
                if stop_after_epochs is not None and epoch - start_epoch >= stop_after_epochs:
                    break
                if intr.signal is not None:
                    raise KeyboardInterrupt
                pi = _phase_index(cfg, epoch)
                phase = cfg.phases[pi]
                rule = StepRule(
                    phase.lr,
                    phase.rho,
                    phase.weight_decay,
                    phase.label_noise,
                    Loss(cfg.loss, cfg.smoothing),
                )
                nxt_log = (epoch // cfg.log_every + 1) * cfg.log_every
                end = min(total, _phase_end(cfg, epoch), nxt_log, epoch + epochs_per_chunk)
                if stop_after_epochs is not None:
                    end = min(end, start_epoch + stop_after_epochs)
                engine = engines[pi]
                t0 = time.perf_counter()
                busy = True
                _advance(runs, engine, P, X, y, rule, phase, end - epoch, cfg)
                dt = time.perf_counter() - t0
                steps = (end - epoch) * math.ceil(cfg.n / phase.batch_size)
                for r in runs:
                    r.epoch = end
                    r.step += steps
                bar.update(end - epoch)
                # adapt the chunk length to about chunk_seconds of work
                per_epoch = dt / max(1, end - epoch)
                epochs_per_chunk = max(1, min(10**6, int(chunk_seconds / max(per_epoch, 1e-9))))
                epoch = end
                if epoch % cfg.log_every == 0 or epoch == total:
                    full = _eval_due(cfg, epoch)
                    log(full)
                    busy = False
                    if all(r.metrics[-1].get("diverged") for r in runs):
                        diverged = True  # NaN stays NaN: stop, and keep the record
                        break
                    if full or time.perf_counter() - last_ckpt > checkpoint_seconds:
                        for r in runs:
                            r.save_checkpoint()
                        last_ckpt = time.perf_counter()
                else:
                    busy = False
                if (
                    not busy
                    and epoch % cfg.log_every
                    and (time.perf_counter() - last_ckpt > checkpoint_seconds)
                ):
                    sync()
                    for r in runs:
                        r.save_checkpoint()
                    last_ckpt = time.perf_counter()
        except KeyboardInterrupt:
            if not busy:  # a second Ctrl-C mid-chunk keeps the previous checkpoint instead
                sync()
                for r in runs:
                    r.save_checkpoint()
            bar.close()
            raise
    sync()
    seconds = time.perf_counter() - t_start
    bar.close()
    if epoch >= total or diverged:
        for r in runs:
            r.diverged = diverged or not all(
                bool(torch.isfinite(v).all()) for v in r.params.values()
            )
            r.finish(seconds, eval_seconds)
    else:
        for r in runs:
            r.save_checkpoint()
    return seconds


#: Memory the Sim-BN C engine may hold per run for its per-neuron matrices (width x (d+1)^2,
#: padded, as float64); above it backend auto uses the torch engine. 500 x 32^2 x 8 = 4 MiB at
#: Table 2's size; the limit allows d up to about 255 at width 500.
SIM_BN_C_BYTES = 512 * 2**20


def _sim_bn_c_bytes(cfg: TrainConfig) -> int:
    dp = -(-(cfg.d + 1) // 32) * 32
    return cfg.width * dp * dp * 8


def _sim_bn_c_fits(cfg: TrainConfig) -> bool:
    return _sim_bn_c_bytes(cfg) <= SIM_BN_C_BYTES


def _resolve_engines(runs: list[_Run], arch, cfg: TrainConfig, epoch: int, threads: int) -> dict:
    """The engine of every phase still to run, checked against the engines the runs used.

    A run is never resumed on another engine than the one that trained its phase. The C kernel
    sums in its own fixed order (32 lanes added pairwise), with explicit fused multiply-adds
    (kernels/one_sam.py, note 2); the torch engine sums through torch's vectorized reductions. Both are exact to
    round-off, but not bit for bit: the parameters differ by 4.4e-16 after 10 epochs and 9.4e-16
    after 100 (width 100, d = 10, n = 50, 1-SAM; measured), and the audit of issue 15 measured
    2.9e-14 on a longer run. So a run resumed on the other engine would equal neither an
    uninterrupted C run nor an uninterrupted torch run, and "a resumed run equals an
    uninterrupted one" would silently stop holding. Making them agree bitwise would mean
    replaying the kernel's summation order in torch, one neuron at a time, which costs the
    speed the kernel exists for; so the engine is recorded (checkpoint and metadata.json) and a
    resume on another one is refused. Under backend auto a phase the torch engine began stays on
    it (auto chooses the fastest engine for new work; for a resume, the one that can continue
    it exactly).

    Raises:
        ValueError: with backend "c" and no usable C kernel (an environment error), or when a
            phase would run on another engine than the one that trained it.
    """
    from sharpness.training.kernels import KernelUnavailableError, load_kernel

    engines: dict[int, object] = {}
    by_batch: dict[int, object] = {}
    for pi in range(_phase_index(cfg, epoch), len(cfg.phases)):
        B = cfg.phases[pi].batch_size
        if B not in by_batch:
            try:
                by_batch[B] = engine_for(arch, B, cfg.backend, threads, cfg.dtype)
            except KernelUnavailableError as exc:
                raise ValueError(
                    f"backend c: the C kernel is unavailable ({exc}); install a C compiler, "
                    f"or use backend auto or torch"
                ) from None
            if isinstance(by_batch[B], SimBNEngine) and not _sim_bn_c_fits(cfg):
                if cfg.backend == "c":
                    raise ValueError(
                        f"backend c: the Sim-BN kernel keeps a (d+1)^2 matrix per neuron, "
                        f"{_sim_bn_c_bytes(cfg) / 2**20:.0f} MiB a run at --width {cfg.width} "
                        f"--d {cfg.d} (limit {SIM_BN_C_BYTES / 2**20:.0f} MiB); use backend "
                        f"auto or torch"
                    )
                by_batch[B] = TorchEngine(arch)
        engines[pi] = by_batch[B]
        # under auto, a phase the torch engine trained stays on it (e.g. a Sim-BN run begun
        # before the Sim-BN C engine existed): auto picks the fastest engine for new work only
        olds = {r.engines.get(pi) for r in runs}
        if cfg.backend == "auto" and olds == {"torch"} and engine_kind(engines[pi]) == "c":
            engines[pi] = TorchEngine(arch)
    for r in runs:
        for pi, engine in engines.items():
            kind, old = engine_kind(engine), r.engines.get(pi)
            if old is not None and old != kind:
                why = ""
                if old == "c":
                    try:
                        load_kernel()
                    except KernelUnavailableError as exc:
                        why = f" (C kernel unavailable: {exc})"
                raise ValueError(
                    f"{r.out} trained phase {pi + 1} with {_ENGINE_NAMES[old]}, and this process "
                    f"would continue it with {_ENGINE_NAMES[kind]}{why}: the two round differently "
                    f"(by 1e-16 to 3e-14), so the resumed run would not be the run; resume where "
                    f"{_ENGINE_NAMES[old]} is available (backend {old}), or use another --out"
                )
    for r in runs:
        for pi, engine in engines.items():
            r.engines[pi] = engine_kind(engine)
    return engines


def _advance(runs, engine, P, X, y, rule, phase, epochs, cfg) -> None:
    """Advance every run by ``epochs`` epochs of one phase (draws the order and noise)."""
    R = len(runs)
    B = phase.batch_size
    n = cfg.n
    if isinstance(engine, (CEngine, SimBNEngine)):  # batch size 1: an epoch's order, one array
        order = np.stack([np.concatenate([_epoch_order(r) for _ in range(epochs)]) for r in runs])
        noise = None
        if phase.label_noise > 0:  # the draws of the general path below: (steps, 1) per run
            size = (order.shape[1], 1)
            noise = np.stack(
                [r.noise_rng.normal(0.0, phase.label_noise, size=size).reshape(-1) for r in runs]
            )
        engine.run(P, X, y, order, rule, noise, cfg.projection)
        return
    per_run = []
    noises = []
    for r in runs:
        batches = []
        for _ in range(epochs):
            batches.extend(_epoch_batches(r, B))
        per_run.append(batches)
        if phase.label_noise > 0:
            noises.append(r.noise_rng.normal(0.0, phase.label_noise, size=(len(batches), B)))
    dtype = P["W1"].dtype
    full = [len(b) == B for b in per_run[0]]
    T = len(per_run[0])
    if all(full):
        idx = torch.from_numpy(np.stack([np.stack(b) for b in per_run], axis=1).astype(np.int64))
        nz = None
        if noises:
            nz = torch.from_numpy(np.stack(noises, axis=1)).to(dtype)
        engine.run(P, X, y, idx, rule, nz, cfg.projection)
        return
    for t in range(T):  # uneven last batches (B does not divide n)
        idx = torch.from_numpy(np.stack([b[t] for b in per_run]).astype(np.int64))
        nz = None
        if noises:
            k = len(per_run[0][t])
            nz = torch.from_numpy(np.stack([z[t, :k] for z in noises])).to(dtype)
        engine.step(P, X, y, idx, rule, nz, cfg.projection)
    del R, n


def train_many(
    configs: Sequence[TrainConfig],
    outs: Sequence[str | os.PathLike | None] | None = None,
    *,
    progress: bool = True,
    threads: int = 1,
    chunk_seconds: float = 0.5,
    checkpoint_seconds: float = 60.0,
    stop_after_epochs: int | None = None,
) -> list[RunResult]:
    """Train several runs; those differing only in seed advance together (batched over runs).

    Args:
        configs: the runs.
        outs: an output directory per run (or None: nothing written, no resume).
        progress: show a tqdm bar per group.
        threads: threads for the C kernel (runs of a group are spread over them).
        chunk_seconds: target length of one uninterrupted kernel call.
        checkpoint_seconds: write checkpoints at least this often (and at every evaluation).
        stop_after_epochs: stop (with a checkpoint) after this many epochs (tests).

    Returns:
        one :class:`RunResult` per configuration, in order.

    Raises:
        ValueError: for a bad configuration or an output directory holding another run.
        KeyboardInterrupt: after saving checkpoints, on Ctrl-C or SIGTERM.
    """
    configs = list(configs)
    if outs is not None and any(o is not None and not str(o).strip() for o in outs):
        raise ValueError("an output directory must not be empty (--out '')")
    outs = [None] * len(configs) if outs is None else [None if o is None else Path(o) for o in outs]
    if len(outs) != len(configs):
        raise ValueError(f"got {len(configs)} configurations but {len(outs)} output directories")
    named = [o for o in outs if o is not None]
    if len({o.resolve() for o in named}) != len(named):
        raise ValueError("two runs share an output directory")
    runs = [_Run(c, o) for c, o in zip(configs, outs, strict=True)]
    outcome = "failed"
    try:
        results = _train_runs(
            runs,
            progress=progress,
            threads=threads,
            chunk_seconds=chunk_seconds,
            checkpoint_seconds=checkpoint_seconds,
            stop_after_epochs=stop_after_epochs,
        )
        outcome = "stopped"
        return results
    except KeyboardInterrupt:
        outcome = "interrupted"
        raise
    finally:
        for r in runs:
            r.end_session("finished" if r.finished else outcome)
            r.unlock()


def _train_runs(runs, *, progress, threads, chunk_seconds, checkpoint_seconds, stop_after_epochs):
    for r in runs:
        r.prepare_dir()
        r.complete()  # a kill after "finished" was saved, before final.npz / summary.json
    seconds = {}
    groups: dict[tuple, list[_Run]] = {}
    for r in runs:
        if not r.finished:
            # Sim-BN's step is dense (all n points): batching runs in bmm is slower than
            # running them one after the other (benchmarks/bench_training.py), so no grouping
            alone = r.arch.couples_examples
            key = (r.config.group_key(), r.epoch, r.config.seed if alone else None)
            groups.setdefault(key, []).append(r)
    for members in groups.values():
        s = _run_group(
            members,
            progress=progress,
            threads=threads,
            chunk_seconds=chunk_seconds,
            checkpoint_seconds=checkpoint_seconds,
            stop_after_epochs=stop_after_epochs,
        )
        for r in members:
            seconds[id(r)] = s
    return [r.result(seconds.get(id(r), 0.0)) for r in runs]


def train(config: TrainConfig, out: str | os.PathLike | None = None, **kwargs) -> RunResult:
    """Train one configuration (see :func:`train_many` for the keyword arguments)."""
    return train_many([config], [out], **kwargs)[0]


def load_run(out: str | os.PathLike) -> RunResult:
    """Read a run directory written by :func:`train` (finished or not) without training.

    The checkpoint and the metrics are checked as a resume checks them (a corrupt or edited
    checkpoint, or a corrupt metrics line, is a ValueError naming the file); nothing is written.
    """
    out = Path(out)
    config = recorded_config(out)
    if config is None:
        raise ValueError(f"{out} holds no run (no config.json)")
    r = _Run(config, out)
    r.load_checkpoint(write=False)
    with contextlib.suppress(OSError, ValueError):
        r.metadata = json.loads((out / "metadata.json").read_text())
    return r.result()
