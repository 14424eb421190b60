"""The signal-noise patch data model of Cao et al. (2022), Kou et al. (ICML 2023) and Chen et al.
(NeurIPS 2023, "Why does sharpness-aware minimization generalize better than SGD?", Sec. 3,
Definition 3.1 of that line of work).

An input is x = (x^(1), ..., x^(P)) in R^{P x d}:

* the true label y_hat is Rademacher; the observed label y is y_hat flipped with probability p;
* one patch, chosen uniformly at random, is y_hat * mu (the signal);
* every other patch is Gaussian noise xi ~ N(0, sigma_p^2 I_d).

Options (where the papers differ, both sides are implemented):

* :class:`NoiseSharing`: the same xi in every noise patch of an example (Chen et al.'s "the rest
  are xi") or an independent one per patch. With P = 2 the two coincide.
* ``projected``: xi drawn from N(0, sigma_p^2 (I - mu mu^T / ||mu||^2)) (Cao et al.) or not
  (Kou et al.'s public code, ``uclaml/Benign_ReLU_CNN``).

SNR = ||mu|| / (sigma_p sqrt(d)); the Bayes error is p (the signal patch reveals y_hat exactly and
the flip is independent of x).

Every draw is a pure function of its seed (a ``torch.Generator`` seeded with it, CPU float64
draws cast to the requested dtype), so batched and one-at-a-time generation agree bit for bit.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

import torch

from constructions._checks import check_int

__all__ = [
    "NoiseSharing",
    "SignalNoiseConfig",
    "SignalNoiseData",
    "sample_signal_noise",
]


class NoiseSharing(enum.StrEnum):
    """Whether the noise patches of one example share one xi."""

    SHARED = "shared"  #: one xi per example, copied into every noise patch
    INDEPENDENT = "independent"  #: an independent xi per noise patch


@dataclass(frozen=True, kw_only=True)
class SignalNoiseConfig:
    """The distribution of the signal-noise data (module docstring).

    Attributes:
        d: patch dimension (>= 1).
        patches: number of patches P (>= 2).
        mu_norm: ||mu|| (>= 0); mu = mu_norm * e_1 unless ``mu_direction`` is given.
        sigma_p: noise standard deviation (> 0).
        flip: label-flip probability p in [0, 1/2).
        sharing: shared or independent noise patches.
        projected: draw xi orthogonal to mu (Cao et al.) or not (Kou et al.).
    """

    d: int
    patches: int = 2
    mu_norm: float = 1.0
    sigma_p: float = 1.0
    flip: float = 0.1
    sharing: NoiseSharing = NoiseSharing.SHARED
    projected: bool = False

    def __post_init__(self) -> None:
        check_int("d", self.d, minimum=1)
        check_int("patches", self.patches, minimum=2)
        for name, v, ok in (
            ("mu_norm", self.mu_norm, lambda v: v >= 0),
            ("sigma_p", self.sigma_p, lambda v: v > 0),
            ("flip", self.flip, lambda v: 0 <= v < 0.5),
        ):
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                raise ValueError(f"{name} must be a finite number, got {v!r}")
            if not ok(v):
                want = {"mu_norm": ">= 0", "sigma_p": "> 0", "flip": "in [0, 1/2)"}[name]
                raise ValueError(f"{name} must be {want}, got {v!r}")
        object.__setattr__(self, "sharing", NoiseSharing(self.sharing))
        if not isinstance(self.projected, bool):
            raise ValueError(f"projected must be True or False, got {self.projected!r}")
        if self.projected and self.mu_norm == 0:
            raise ValueError("projected noise needs mu_norm > 0 (the projection is along mu)")

    @property
    def snr(self) -> float:
        """||mu|| / (sigma_p sqrt(d))."""
        return self.mu_norm / (self.sigma_p * math.sqrt(self.d))

    @property
    def bayes_error(self) -> float:
        """The Bayes error, p: y_hat is a function of x and the flip is independent of x."""
        return float(self.flip)

    def mu(self, dtype=torch.float64) -> torch.Tensor:
        """mu = ||mu|| e_1 (Kou et al.'s choice; every result here is rotation invariant)."""
        out = torch.zeros(self.d, dtype=dtype)
        out[0] = self.mu_norm
        return out


@dataclass(frozen=True, kw_only=True, eq=False)
class SignalNoiseData:
    """n draws of the model.

    Attributes:
        X: inputs, shape (n, P, d).
        y: observed labels in {-1, +1}, shape (n,).
        y_true: the true labels y_hat, shape (n,).
        signal_patch: the index of the signal patch of each example, shape (n,).
        noise: the noise vectors, shape (n, P, d), zero in the signal patch (shared noise is
            repeated in every noise patch).
        config: the distribution.
    """

    X: torch.Tensor
    y: torch.Tensor
    y_true: torch.Tensor
    signal_patch: torch.Tensor
    noise: torch.Tensor
    config: SignalNoiseConfig

    @property
    def n(self) -> int:
        return int(self.X.shape[0])

    @property
    def flipped(self) -> torch.Tensor:
        return self.y != self.y_true

    def flat(self) -> torch.Tensor:
        """X as (n, P d), the patches concatenated (what ``Conv1d(kernel=stride=d)`` reads)."""
        return self.X.reshape(self.n, -1)


def sample_signal_noise(
    config: SignalNoiseConfig, n: int, seed: int, *, dtype: torch.dtype = torch.float64
) -> SignalNoiseData:
    """n i.i.d. examples of ``config``, a pure function of ``seed``.

    Raises:
        ValueError: for n < 1 or a negative seed.
    """
    check_int("n", n, minimum=1)
    check_int("seed", seed, minimum=0)
    g = torch.Generator().manual_seed(int(seed))
    P, d = config.patches, config.d
    f64 = torch.float64
    y_true = torch.where(torch.rand(n, generator=g, dtype=f64) < 0.5, -1.0, 1.0).to(f64)
    flip = torch.rand(n, generator=g, dtype=f64) < config.flip
    y = torch.where(flip, -y_true, y_true)
    signal = torch.randint(P, (n,), generator=g)
    k = 1 if config.sharing is NoiseSharing.SHARED else P
    xi = config.sigma_p * torch.randn(n, k, d, generator=g, dtype=f64)
    if config.projected:
        u = config.mu(f64) / config.mu_norm
        xi = xi - (xi @ u)[..., None] * u
    xi = xi.expand(n, P, d).clone() if k == 1 else xi
    rows = torch.arange(n)
    xi[rows, signal] = 0.0
    X = xi.clone()
    X[rows, signal] = y_true[:, None] * config.mu(f64)
    cast = {"dtype": dtype}
    return SignalNoiseData(
        X=X.to(**cast),
        y=y.to(**cast),
        y_true=y_true.to(**cast),
        signal_patch=signal,
        noise=xi.to(**cast),
        config=config,
    )
