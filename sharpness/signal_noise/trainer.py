"""Full-batch GD, mini-batch SGD and SAM on the signal-noise CNN, many runs in one tensor op.

The algorithms of Chen et al. (NeurIPS 2023), Sec. 3 (Eq. (3.2) for SGD, Eq. (3.4) for SAM):

.. math::
    W^{(t+1)} = W^{(t)} - \\eta\\, \\nabla L_{B_t}(W^{(t)})                       \\quad\\text{(SGD)}\\\\
    W^{+} = W^{(t)} + \\tau\\, \\frac{\\nabla L_{B_t}(W^{(t)})}{\\|\\nabla L_{B_t}(W^{(t)})\\|_F},
    \\qquad W^{(t+1)} = W^{(t)} - \\eta\\, \\nabla L_{B_t}(W^{+})                   \\quad\\text{(SAM)}

with the same mini-batch B_t in both gradients, the norm over all trainable parameters (the
filters, and the bias where there is one), and the theory's default tau = m sqrt(B) / (P sigma_p
sqrt(d)) (Chen et al.'s tau = Theta(...) with constant 1: :func:`theory_tau`). Full-batch GD is
SGD with B = n. Mini-batches: every epoch a fresh permutation of the n examples, cut into
ceil(n / B) batches (the last one may be smaller).

**The gamma/rho decomposition** (Chen et al., Eq. (5.1); Kou et al., Def. 5.1). Every gradient is
a combination of the training patches, grad_{w_{j,r}} L_B = sum_{i,p} c_{j,r,i,p} x_i^(p), so

.. math::
    w_{j,r}^{(t)} = w_{j,r}^{(0)} + j\\,\\gamma_{j,r}^{(t)} \\frac{\\mu}{\\|\\mu\\|^2}
        + \\sum_{i} \\rho_{j,r,i}^{(t)} \\frac{\\xi_i}{\\|\\xi_i\\|^2}

holds exactly with gamma and rho accumulated from the coefficients of each step (the signal patch
of example i is y_hat_i mu): Delta gamma_{j,r} = -eta j ||mu||^2 sum_i c_{j,r,i,sig(i)} y_hat_i and
Delta rho_{j,r,i,p} = -eta ||xi_{i,p}||^2 c_{j,r,i,p}. With shared noise the rho of one example is
summed over its noise patches. max_{j,r} gamma (signal learning) and max |rho| (noise
memorization) are recorded against time.

**Test error** on n_test fresh examples, against the observed (flipped) labels, so that its floor
is the Bayes error p. The noise patches enter f only through W xi, which is N(0, sigma_p^2 W Pi W^T)
(Pi = I, or the projection orthogonal to mu), so it is drawn in the 2m-dimensional filter space
instead of R^d: the same distribution of the error, 50x fewer draws at d = 1000. A tie f = 0
predicts -1 (argmax of Kou et al.'s two logits returns the first, class -1).

Determinism: every run draws its data, initialization, batches and test sample from its own
``torch.Generator``s seeded by :func:`run_seeds` (the run's key), so a run gives the same numbers
alone or in any batch (tests/sharpness/signal_noise: batched == per-run loop).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from constructions._checks import check_int
from constructions.signal_noise import NoiseSharing, SignalNoiseConfig, sample_signal_noise
from sharpness.architectures.signal_noise_cnn import (
    FilterScale,
    PatchReduction,
    SignalNoiseCNN,
    SignalNoiseNetwork,
    filter_signs,
    loss_and_gradient,
)

__all__ = [
    "Algorithm",
    "BatchResult",
    "Init",
    "RunKey",
    "RunResult",
    "TrainConfig",
    "run_seeds",
    "theory_tau",
    "train_batched",
    "train_one",
]


class Algorithm(enum.StrEnum):
    GD = "gd"  #: full-batch gradient descent
    SGD = "sgd"  #: mini-batch SGD, batch size B
    SAM = "sam"  #: sharpness-aware minimization on the same mini-batches


class Init(enum.StrEnum):
    GAUSSIAN = "gaussian"  #: w ~ N(0, sigma_0^2 I) (the papers)
    TORCH_DEFAULT = "torch-default"  #: Conv1d's default: U(-1/sqrt(d), 1/sqrt(d)), bias too (Kou)


def theory_tau(*, m: int, batch: int, patches: int, sigma_p: float, d: int) -> float:
    """Chen et al.'s tau = Theta(m sqrt(B) / (P sigma_p sqrt(d))), with constant 1."""
    return m * math.sqrt(batch) / (patches * sigma_p * math.sqrt(d))


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """Network, initialization and algorithm (shared by every run of a batch).

    Attributes:
        algorithm: GD, SGD or SAM.
        steps: number of parameter updates.
        lr: step size eta.
        batch: mini-batch size B (None: n, i.e. full batch).
        tau: SAM's radius (None: :func:`theory_tau`, a function of the cell's d).
        tau_scale: multiplies the default tau.
        m: filters per class.
        q: ReLU^q.
        bias, patch_reduction, filter_scale: see :class:`SignalNoiseCNN`.
        init, sigma_0: initialization.
        n_test: test examples per run.
        dtype: float32 or float64.
        record_every: steps between diagnostic records (the last step is always recorded).
        record_test_error: also measure the test error at every record (on the run's one test
            sample; :attr:`RunResult.test_history`), for the per-run metrics records.
    """

    algorithm: Algorithm = Algorithm.SGD
    steps: int = 100
    lr: float = 0.1
    batch: int | None = None
    tau: float | None = None
    tau_scale: float = 1.0
    m: int = 10
    q: int = 1
    bias: bool = False
    patch_reduction: PatchReduction = PatchReduction.SUM
    filter_scale: FilterScale = FilterScale.MEAN
    init: Init = Init.GAUSSIAN
    sigma_0: float = 0.01
    n_test: int = 1000
    dtype: torch.dtype = torch.float32
    record_every: int = 10
    record_test_error: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "algorithm", Algorithm(self.algorithm))
        object.__setattr__(self, "init", Init(self.init))
        check_int("steps", self.steps, minimum=1)
        check_int("m", self.m, minimum=1)
        check_int("n_test", self.n_test, minimum=1)
        check_int("record_every", self.record_every, minimum=1)
        if self.batch is not None:
            check_int("batch", self.batch, minimum=1)
        for name in ("lr", "tau_scale", "sigma_0"):
            v = getattr(self, name)
            if not (isinstance(v, int | float) and math.isfinite(v) and v > 0):
                raise ValueError(f"{name} must be a finite number > 0, got {v!r}")
        if self.tau is not None and not (math.isfinite(self.tau) and self.tau >= 0):
            raise ValueError(f"tau must be a finite number >= 0, got {self.tau!r}")
        if self.dtype not in (torch.float32, torch.float64):
            raise ValueError(f"dtype must be torch.float32 or torch.float64, got {self.dtype}")

    def arch(self, patches: int) -> SignalNoiseCNN:
        return SignalNoiseCNN(patches=patches, q=self.q, bias=self.bias,
                              patch_reduction=self.patch_reduction,
                              filter_scale=self.filter_scale)  # fmt: skip

    def batch_size(self, n: int) -> int:
        return n if self.algorithm is Algorithm.GD or self.batch is None else min(self.batch, n)

    def sam_tau(self, data: SignalNoiseConfig, n: int) -> float:
        if self.tau is not None:
            return self.tau * self.tau_scale
        B = self.batch_size(n)
        t = theory_tau(m=self.m, batch=B, patches=data.patches, sigma_p=data.sigma_p, d=data.d)
        return t * self.tau_scale


@dataclass(frozen=True, kw_only=True)
class RunKey:
    """One run: a data distribution, a training-set size and a repeat index."""

    data: SignalNoiseConfig
    n: int
    repeat: int = 0
    seed: int = 0

    def __post_init__(self) -> None:
        check_int("n", self.n, minimum=1)
        check_int("repeat", self.repeat, minimum=0)
        check_int("seed", self.seed, minimum=0)


def run_seeds(key: RunKey) -> tuple[int, int, int, int]:
    """(train data, test sample, init, batches) seeds: a pure function of the run's key."""
    mu_micro = int(round(key.data.mu_norm * 1e6))
    sig_micro = int(round(key.data.sigma_p * 1e6))
    entropy = [key.seed, key.data.d, key.n, mu_micro, key.repeat, key.data.patches, sig_micro]
    s = np.random.SeedSequence(entropy).generate_state(4, dtype=np.uint32)
    return tuple(int(v) for v in s)


@dataclass(frozen=True, kw_only=True, eq=False)
class RunResult:
    """The outcome of one run.

    Attributes:
        test_error: against the observed test labels (floor: the Bayes error p).
        clean_test_error: against the true labels.
        train_loss: final logistic loss on the training set.
        train_error: final training error (against the observed labels).
        max_gamma, max_rho: at the end.
        history: step -> (max gamma, max |rho|, train loss), at the recorded steps (step 0 too).
        test_history: (step, test error) at the same steps, where ``record_test_error``; else ().
        network: the trained network (float64 copy).
        init_network: the initial network.
        data: the training set.
    """

    key: RunKey
    test_error: float
    clean_test_error: float
    train_loss: float
    train_error: float
    max_gamma: float
    max_rho: float
    history: tuple[tuple[int, float, float, float], ...]
    network: SignalNoiseNetwork
    init_network: SignalNoiseNetwork
    data: object = field(repr=False)
    test_history: tuple[tuple[int, float], ...] = ()


@dataclass(frozen=True, kw_only=True, eq=False)
class BatchResult:
    runs: tuple[RunResult, ...]


def _init(
    config: TrainConfig, d: int, seed: int, dtype
) -> tuple[torch.Tensor, torch.Tensor | None]:
    g = torch.Generator().manual_seed(seed)
    F = 2 * config.m
    if config.init is Init.TORCH_DEFAULT:
        bound = 1.0 / math.sqrt(d)  # kaiming_uniform_(a=sqrt(5)) on fan_in = d; bias the same
        W = (torch.rand(F, d, generator=g, dtype=torch.float64) * 2 - 1) * bound
        b = (torch.rand(F, generator=g, dtype=torch.float64) * 2 - 1) * bound
    else:
        W = config.sigma_0 * torch.randn(F, d, generator=g, dtype=torch.float64)
        b = torch.zeros(F, dtype=torch.float64)
    return W.to(dtype), (b.to(dtype) if config.bias else None)


def _test_error(arch, W, b, datas: Sequence[SignalNoiseConfig], n_test: int, seeds):
    """(error vs observed labels, error vs true labels) per run, from the Gaussian W xi law."""
    R, F, d = W.shape
    dt = W.dtype
    m = F // 2
    s = filter_signs(m, torch.float64)
    W64 = W.to(torch.float64)
    data = datas[0]  # the noise options are shared by the batch; mu is per run
    mu = torch.stack([D.mu(torch.float64) for D in datas])  # (R, d)
    G = W64 @ W64.transpose(1, 2)  # (R, F, F)
    if data.projected:
        Wu = torch.einsum("rfk,rk->rf", W64, mu / mu.norm(dim=1, keepdim=True))
        G = G - Wu[:, :, None] * Wu[:, None, :]
    evals, evecs = torch.linalg.eigh(G)
    L = evecs * evals.clamp(min=0).sqrt()[:, None, :]  # L L^T = G
    k = 1 if data.sharing is NoiseSharing.SHARED else data.patches - 1
    y_true, flip, u_noise = [], [], []
    for sd in seeds:
        g = torch.Generator().manual_seed(sd)
        y_true.append(
            torch.where(torch.rand(n_test, generator=g, dtype=torch.float64) < 0.5, -1.0, 1.0)
        )
        flip.append(torch.rand(n_test, generator=g, dtype=torch.float64) < data.flip)
        u_noise.append(torch.randn(n_test, k, F, generator=g, dtype=torch.float64))
    y_true = torch.stack(y_true)
    flip = torch.stack(flip)
    y_obs = torch.where(flip, -y_true, y_true)
    zn = data.sigma_p * torch.einsum("rtkg,rfg->rtkf", torch.stack(u_noise), L)  # (R, T, k, F)
    zs = y_true[:, :, None] * torch.einsum("rfk,rk->rf", W64, mu)[:, None, :]  # (R, T, F)
    if b is not None:
        b64 = b.to(torch.float64)
        zn = zn + b64[:, None, None, :]
        zs = zs + b64[:, None, :]
    zn, zs = zn.to(dt).to(torch.float64), zs.to(dt).to(torch.float64)  # the dtype's rounding
    noise_patches = data.patches - 1
    act_noise = arch.sigma(zn).sum(2) * (noise_patches if k == 1 else 1)
    f = arch.scale(m) * torch.einsum("rtf,f->rt", arch.sigma(zs) + act_noise, s)
    pred = torch.where(f > 0, 1.0, -1.0)
    return (pred != y_obs).double().mean(1), (pred != y_true).double().mean(1)


def train_batched(keys: Sequence[RunKey], config: TrainConfig, *, chunk: int = 256) -> BatchResult:
    """Train every run of ``keys`` (all with the same d, n and P) in tensor ops of ``chunk`` runs.

    Raises:
        ValueError: if the runs do not share d, n, P and the noise options.
    """
    keys = list(keys)
    if not keys:
        raise ValueError("keys must name at least one run")
    k0 = keys[0]
    for k in keys:
        same = (k.data.d, k.n, k.data.patches, k.data.sharing, k.data.projected,
                k.data.sigma_p, k.data.flip)  # fmt: skip
        want = (k0.data.d, k0.n, k0.data.patches, k0.data.sharing, k0.data.projected,
                k0.data.sigma_p, k0.data.flip)  # fmt: skip
        if same != want:
            raise ValueError(
                "train_batched needs runs that share d, n, P, sigma_p, flip and the noise "
                f"options; got {want} and {same}"
            )
    out: list[RunResult] = []
    for start in range(0, len(keys), chunk):
        out.extend(_train_chunk(keys[start : start + chunk], config))
    return BatchResult(runs=tuple(out))


def train_one(key: RunKey, config: TrainConfig) -> RunResult:
    """One run (the reference the batched engine is tested against; same numbers)."""
    return _train_chunk([key], config)[0]


def _train_chunk(keys: list[RunKey], config: TrainConfig) -> list[RunResult]:  # noqa: C901
    dt = config.dtype
    k0 = keys[0]
    P, d, n = k0.data.patches, k0.data.d, k0.n
    arch = config.arch(P)
    R, F = len(keys), 2 * config.m
    seeds = [run_seeds(k) for k in keys]
    datas = [sample_signal_noise(k.data, k.n, s[0], dtype=torch.float64) for k, s in zip(keys, seeds, strict=True)]  # fmt: skip
    Xp64 = torch.stack([D.X for D in datas])  # (R, n, P, d)
    Xp = Xp64.to(dt)
    y = torch.stack([D.y for D in datas]).to(dt)
    y_true = torch.stack([D.y_true for D in datas]).to(dt)
    sig = torch.stack([D.signal_patch for D in datas])  # (R, n)
    xi_sq = (Xp64**2).sum(-1)  # (R, n, P): ||x^(p)||^2; the signal patch's entry is unused
    mu_sq = torch.tensor([k.data.mu_norm**2 for k in keys], dtype=torch.float64)
    inits = [_init(config, d, s[2], dt) for s in seeds]
    W = torch.stack([w for w, _ in inits])
    b = torch.stack([bb for _, bb in inits]) if config.bias else None
    W0, b0 = W.clone(), (b.clone() if b is not None else None)
    s_f = filter_signs(config.m, torch.float64)
    gamma = torch.zeros(R, F, dtype=torch.float64)
    rho = torch.zeros(R, F, n, P, dtype=torch.float64)
    is_sig = torch.nn.functional.one_hot(sig, P).to(torch.bool)  # (R, n, P)
    B = config.batch_size(n)
    full = B == n
    gens = [torch.Generator().manual_seed(s[3]) for s in seeds]
    taus = torch.tensor([config.sam_tau(k.data, n) for k in keys], dtype=dt)
    rows = torch.arange(R)[:, None]
    order: torch.Tensor | None = None
    history: list[list[tuple[int, float, float, float]]] = [[] for _ in keys]
    test_history: list[list[tuple[int, float]]] = [[] for _ in keys]

    def record(step: int) -> None:
        loss = loss_and_gradient(arch, W, b, Xp, y).loss
        mg = gamma.max(1).values
        mr = _max_rho(rho, is_sig, k0.data.sharing)
        for r in range(R):
            history[r].append((step, float(mg[r]), float(mr[r]), float(loss[r])))
        if config.record_test_error:
            te, _ = _test_error(arch, W, b, [k.data for k in keys], config.n_test,
                                [s[1] for s in seeds])  # fmt: skip
            for r in range(R):
                test_history[r].append((step, float(te[r])))

    record(0)
    per_epoch = math.ceil(n / B)
    for step in range(config.steps):
        if full:
            idx = None
        else:
            j = step % per_epoch
            if j == 0:
                order = torch.stack([torch.randperm(n, generator=g) for g in gens])
            idx = order[:, j * B : (j + 1) * B]
        Xb = Xp if idx is None else Xp[rows, idx]
        yb = y if idx is None else y[rows, idx]
        g1 = loss_and_gradient(arch, W, b, Xb, yb)
        if config.algorithm is Algorithm.SAM:
            sq = (g1.grad_W**2).sum(dim=(1, 2))
            if b is not None:
                sq = sq + (g1.grad_b**2).sum(1)
            norm = sq.sqrt()
            scale = torch.where(norm > 0, taus / torch.where(norm > 0, norm, 1), 0)
            Wp = W + scale[:, None, None] * g1.grad_W
            bp = b + scale[:, None] * g1.grad_b if b is not None else None
            g = loss_and_gradient(arch, Wp, bp, Xb, yb)
        else:
            g = g1
        W = W - config.lr * g.grad_W
        if b is not None:
            b = b - config.lr * g.grad_b
        coef = g.coef.to(torch.float64)  # (R, nb, F, P)
        if idx is None:
            full_coef = coef
        else:
            full_coef = torch.zeros(R, n, F, P, dtype=torch.float64)
            full_coef[rows, idx] = coef
        yt = y_true.to(torch.float64)
        c_sig = (full_coef * is_sig[:, :, None, :]).sum(-1)  # (R, n, F)
        gamma -= config.lr * s_f * mu_sq[:, None] * torch.einsum("rnf,rn->rf", c_sig, yt)
        rho -= config.lr * (xi_sq[:, :, None, :] * full_coef).permute(0, 2, 1, 3)
        if (step + 1) % config.record_every == 0 or step + 1 == config.steps:
            record(step + 1)
    final = loss_and_gradient(arch, W, b, Xp, y)
    train_err = (torch.where(final.f > 0, 1.0, -1.0) != y).double().mean(1)
    test_err, clean_err = _test_error(
        arch, W, b, [k.data for k in keys], config.n_test, [s[1] for s in seeds]
    )
    out = []
    for r, key in enumerate(keys):
        p = {"W1": W[r]} | ({"b1": b[r]} if b is not None else {})
        p0 = {"W1": W0[r]} | ({"b1": b0[r]} if b0 is not None else {})
        out.append(
            RunResult(
                key=key,
                test_error=float(test_err[r]),
                clean_test_error=float(clean_err[r]),
                train_loss=float(final.loss[r]),
                train_error=float(train_err[r]),
                max_gamma=history[r][-1][1],
                max_rho=history[r][-1][2],
                history=tuple(history[r]),
                test_history=tuple(test_history[r]),
                network=SignalNoiseNetwork(arch, p),
                init_network=SignalNoiseNetwork(arch, p0),
                data=datas[r],
            )
        )
    return out


def _max_rho(rho: torch.Tensor, is_sig: torch.Tensor, sharing: NoiseSharing) -> torch.Tensor:
    noise = rho * (~is_sig)[:, None, :, :]  # (R, F, n, P)
    if sharing is NoiseSharing.SHARED:
        noise = noise.sum(-1, keepdim=True)
    return noise.abs().flatten(1).max(1).values
