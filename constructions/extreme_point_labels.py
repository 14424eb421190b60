"""Proposition A.1 (App. A.3.2): labels on s coordinates, x[1:s] from a finite set of extreme
points of norm v, ||x|| = R; a flattest 2-MLP-Bias with zero generalization error.

The distribution's support is k points v_1, ..., v_k in R^s (on the sphere of radius v, so every
one is an extreme point, separated by w_j = v_j / v with margin mu_j = v - max_{i != j} w_j^T v_i)
with labels y_1, ..., y_k; the other d - s coordinates are any vector of norm sqrt(R^2 - v^2).
Eq. (16), one neuron per support point (width m = k, "sufficiently large width depending on D"):

.. math::  W_{1,j} = r_j [w_j, 0, \\dots]/\\epsilon, \\quad
           b_1[j] = r_j(-w_j^T v_j + \\epsilon)/\\epsilon, \\quad W_2[j] = y_j / r_j,
           \\quad r_j^2 = |y_j| \\sqrt{R^2 + 1}.

Deviations from Eq. (16) as printed (``Form.CORRECTED``; both are entries of
``verify-theorem errata``): (1) W_{1,j} uses the separating direction w_j, not v_j (with v_j
the pre-activation at v_j is off by r_j (v^2 - v)/epsilon unless v = 1); (2) r_j^2 =
|y_j| sqrt(R^2 + 1), not |y_j| (R^2 + 1) (the printed r exceeds the bound by
y (R^2 - 2 sqrt(R^2 + 1) + 2) > 0 per point). With 0 < epsilon < min_j mu_j, neuron j fires
exactly where x[1:s] = v_j, with activation r_j, whatever the other coordinates are: f = y on the
whole support (zero error, any training set, repeats included: each neuron belongs to a support
point, not to a sample), and at every training point ||grad f||^2 = y_j^2 (R^2 + 1)/r_j^2 + r_j^2
= 2 |y_j| sqrt(R^2 + 1), the Jacobian bound: flattest. Labels must be nonzero (r_j > 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from constructions._checks import check_int, check_positive_float
from constructions.architectures import MLP, Network
from constructions.construction import Construction, Form
from constructions.dataset import Dataset

__all__ = ["LabelledSupport", "prop_a1_solution", "sample_support", "sample_from_support"]

REFERENCE = "Proposition A.1, Eq. (16), App. A.3.2"


@dataclass(frozen=True, eq=False)
class LabelledSupport:
    """The support of x[1:s] (k points of norm ``radius`` in R^s) and its labels.

    Raises:
        ValueError: for a shape mismatch, unequal norms, a repeated point or a zero label.
    """

    points: np.ndarray
    labels: np.ndarray

    def __post_init__(self) -> None:
        P = np.array(self.points, dtype=np.float64)
        y = np.array(self.labels, dtype=np.float64)
        if P.ndim != 2 or y.shape != (P.shape[0],) or P.shape[0] < 2:
            raise ValueError(
                f"points (k, s), k >= 2, and labels (k,) expected, got {P.shape}, {y.shape}"
            )
        norms = np.linalg.norm(P, axis=1)
        if np.ptp(norms) > 1e-12 * max(1.0, norms.max()) or norms.min() == 0:
            raise ValueError("the support points must share one nonzero norm v")
        if len({row.tobytes() for row in P}) != P.shape[0]:
            raise ValueError("the support points must be distinct")
        if np.any(y == 0):
            raise ValueError(
                f"label {int(np.flatnonzero(y == 0)[0])} is 0; Eq. (16) needs y_j != 0"
            )
        P.setflags(write=False)
        y.setflags(write=False)
        object.__setattr__(self, "points", P)
        object.__setattr__(self, "labels", y)

    @property
    def k(self) -> int:
        return int(self.points.shape[0])

    @property
    def s(self) -> int:
        return int(self.points.shape[1])

    @property
    def radius(self) -> float:
        return float(np.linalg.norm(self.points[0]))

    def margins(self) -> np.ndarray:
        """mu_j = min_{i != j} w_j^T (v_j - v_i) with w_j = v_j / v."""
        W = self.points / self.radius
        G = W @ self.points.T
        diag = np.diag(G).copy()
        np.fill_diagonal(G, -np.inf)
        return diag - G.max(axis=1)


def sample_support(k: int, s: int, radius: float = 2.0, seed: int = 0) -> LabelledSupport:
    """k random points on the sphere of radius ``radius`` in R^s, labels 1 + v[1]/(2 radius)."""
    k = check_int("k", k, minimum=2)
    s = check_int("s", s, minimum=1)
    radius = check_positive_float("radius", radius)
    if s == 1 and k > 2:
        raise ValueError(f"the sphere in R^1 has 2 points, got k={k}")
    rng = np.random.default_rng(check_int("seed", seed, minimum=0))
    P = rng.normal(size=(k, s))
    P *= radius / np.linalg.norm(P, axis=1, keepdims=True)
    return LabelledSupport(P, 1.0 + P[:, 0] / (2.0 * radius))


def sample_from_support(
    support: LabelledSupport, n: int, d: int, R: float, seed: int = 0
) -> tuple[Dataset, np.ndarray]:
    """n i.i.d. draws: x[1:s] uniform on the support, x[s+1:d] a uniform direction of norm
    sqrt(R^2 - v^2); returns the dataset and the support index of each draw.

    Raises:
        ValueError: for d <= s with R != v, d < s, or R < v.
    """
    n = check_int("n", n, minimum=1)
    d = check_int("d", d, minimum=support.s)
    R = check_positive_float("R", R)
    v = support.radius
    if R < v - 1e-12 or (d == support.s and abs(R - v) > 1e-12):
        raise ValueError(f"R must be >= v = {v:g} (and = v when d = s), got R={R!r}")
    rng = np.random.default_rng(check_int("seed", seed, minimum=0))
    idx = rng.integers(0, support.k, size=n)
    X = np.zeros((n, d))
    X[:, : support.s] = support.points[idx]
    if d > support.s:
        rest = rng.normal(size=(n, d - support.s))
        rest *= np.sqrt(max(R**2 - v**2, 0.0)) / np.linalg.norm(rest, axis=1, keepdims=True)
        X[:, support.s :] = rest
    ds = Dataset(X, support.labels[idx], "Prop. A.1 sample")
    return ds, idx


def prop_a1_solution(
    support: LabelledSupport,
    d: int,
    R: float,
    epsilon: float | None = None,
    form: str | Form = Form.CORRECTED,
) -> Construction:
    """Eq. (16)'s width-k network (see the module docstring for the corrected form).

    Args:
        support: the support of x[1:s] and its labels.
        d: input dimension (>= s).
        R: ||x|| on the support of the distribution.
        epsilon: in (0, min margin); default half the smallest margin.
        form: "printed" (Eq. (16) as printed) or "corrected".

    Raises:
        ValueError: for epsilon <= 0 or d < s.
    """
    form = Form.parse(form)
    d = check_int("d", d, minimum=support.s)
    R = check_positive_float("R", R)
    mu = float(support.margins().min())
    eps = 0.5 * mu if epsilon is None else check_positive_float("epsilon", epsilon)
    P, y = support.points, support.labels
    W = P / support.radius
    if form is Form.PRINTED:
        r = np.sqrt(np.abs(y) * (R**2 + 1.0))
        rows = P
    else:
        r = np.sqrt(np.abs(y) * np.sqrt(R**2 + 1.0))
        rows = W
    W1 = np.zeros((support.k, d))
    W1[:, : support.s] = r[:, None] * rows / eps
    b1 = r * (-np.sum(W * P, axis=1) + eps) / eps
    net = Network(MLP(2), {"W1": W1, "b1": b1, "W2": (y / r)[None, :]})
    notes = () if form is Form.PRINTED else ("(1) w_j in W1", "(2) r_j^2 = |y_j| sqrt(R^2+1)")
    return Construction(
        name="Proposition A.1 network",
        reference=REFERENCE,
        network=net,
        form=form,
        parameters={"epsilon": eps, "min_margin": mu, "R": R, "k": support.k, "s": support.s},
        notes=notes,
    )
