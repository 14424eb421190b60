"""Proposition A.2 (App. A.3.3): circle data with Lipschitz labels, and Eq. (17)'s network.

Data: x[1:2] = v uniform on the unit circle, the other coordinates (if any) of norm
sqrt(R^2 - 1), so that ||x|| = R; the label y = g(v) depends on v only (default
g(v) = 1 + v[1]/2, which is 1/2-Lipschitz). Sorted by angle, z_j is the midpoint of the arc
v_{j-1} v_j and w_j the unit normal of the chord z_j z_{j+1}, pointing outwards.

Eq. (17) as printed:

.. math::  W_{1,j} = r_j [w_j, 0, \\dots]/(w_j^T z_j), \\quad
           b_1[j] = r_j(-w_j^T v_j + w_j^T z_j)/(w_j^T z_j), \\quad W_2[j] = y_j / r_j,
           \\quad r_j^2 = |y_j| \\sqrt{R^2 + 1}.

Its pre-activation r_j (w_j^T (v - v_j) + w_j^T z_j)/(w_j^T z_j) is positive on a half-plane
(w_j^T v > w_j^T v_j - w_j^T z_j, which tends to 0 as the gaps shrink), not on the arc
z_j z_{j+1}: for dense data about half of the
neurons fire at every training point, and the network does not interpolate (n = 40, seed 0:
max |f(v_i) - y_i| = 19.1).

Deviation (1), ``Form.CORRECTED`` (caps, as the proof intends): neuron j fires on the cap of
half-angle alpha_j = 0.9 min(angle(v_{j-1}, v_j), angle(v_j, v_{j+1})) around v_j,

.. math::  \\mathrm{relu}\\big(r_j (v_j^T v - \\cos\\alpha_j)/(1 - \\cos\\alpha_j)\\big),

which is r_j at v_j and negative at every other training point: a memorizing interpolator whose
trace equals the Jacobian bound (2/n) sum_i 2 ||x_i'|| |y_i| (Theorem 4.1's argument: one active
unit with activation r_j and output weight y_j/r_j, r_j^2 = |y_j| ||x_j'||). It is flattest, but
on each cap it is a tent (0 at its edge), and the caps' sum is not y, so its error does not shrink with n: it is
not the function the proof's generalization step assumes (f ~ y_1 on the whole arc).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from constructions._checks import check_int
from constructions.architectures import MLP, Network
from constructions.construction import Construction, Form
from constructions.dataset import Dataset

__all__ = ["circle_dataset", "circle_labels", "prop_a2_solution", "sample_circle"]

REFERENCE = "Proposition A.2, Eq. (17), App. A.3.3"

#: The corrected caps' half-angle as a fraction of the smaller gap to a neighbour: < 1, so that no
#: neighbour is on a kink; not small, since the weights grow like 1/alpha^2 (rounding).
CAP_FRACTION = 0.9


def circle_labels(V: np.ndarray) -> np.ndarray:
    """The default label g(v) = 1 + v[1]/2 (1/2-Lipschitz, positive on the circle)."""
    return 1.0 + np.asarray(V, dtype=np.float64)[:, 0] / 2.0


def _check_radius(d: int, R: float) -> float:
    if isinstance(R, bool) or not isinstance(R, int | float) or not np.isfinite(R):
        raise ValueError(f"R must be a finite number, got {R!r}")
    R = float(R)
    if d == 2 and R != 1.0:
        raise ValueError(f"R must be 1 when d = 2 (x is on the unit circle), got {R!r}")
    if R < 1.0:
        raise ValueError(f"R must be >= 1 (||x[1:2]|| = 1), got {R!r}")
    return R


def sample_circle(
    n: int,
    d: int = 2,
    R: float = 1.0,
    seed: int = 0,
    labels: Callable[[np.ndarray], np.ndarray] = circle_labels,
) -> Dataset:
    """n i.i.d. points of Proposition A.2's distribution, sorted by the angle of v = x[1:2].

    The angles are ``np.random.default_rng(seed).uniform(0, 2 pi, n)``, sorted; for d > 2 the
    remaining coordinates are a uniform direction scaled to norm sqrt(R^2 - 1).

    Raises:
        ValueError: for n < 1, d < 2, R < 1 or R != 1 with d = 2.
    """
    n = check_int("n", n, minimum=1)
    d = check_int("d", d, minimum=2)
    R = _check_radius(d, R)
    rng = np.random.default_rng(check_int("seed", seed, minimum=0))
    phi = np.sort(rng.uniform(0.0, 2.0 * np.pi, n))
    X = np.zeros((n, d))
    X[:, 0], X[:, 1] = np.cos(phi), np.sin(phi)
    if d > 2:
        rest = rng.normal(size=(n, d - 2))
        rest /= np.linalg.norm(rest, axis=1, keepdims=True)
        X[:, 2:] = rest * np.sqrt(R**2 - 1.0)
    return Dataset(X, labels(X[:, :2]), "circle sample (Prop. A.2)")


def circle_dataset(X, y) -> Dataset:
    """A user's circle data as a :class:`Dataset`, checked and sorted by angle.

    Raises:
        ValueError: if ||x[1:2]|| != 1 (beyond rounding), the norms ||x|| differ, or two points
            share an angle.
    """
    ds = Dataset(np.asarray(X), np.asarray(y), "circle data")
    if ds.d < 2:
        raise ValueError(f"circle data needs d >= 2, got d={ds.d}")
    r2 = np.linalg.norm(ds.X[:, :2], axis=1)
    bad = np.flatnonzero(np.abs(r2 - 1.0) > 1e-12)
    if bad.size:
        raise ValueError(f"point {bad[0]}: ||x[1:2]|| = {r2[bad[0]]!r}, not 1")
    R = np.linalg.norm(ds.X, axis=1)
    if np.ptp(R) > 1e-12:
        raise ValueError(f"||x|| must be the same R for every point, got {R.min()!r}..{R.max()!r}")
    phi = np.mod(np.arctan2(ds.X[:, 1], ds.X[:, 0]), 2.0 * np.pi)
    order = np.argsort(phi, kind="stable")
    if np.any(np.diff(phi[order]) <= 0):
        raise ValueError("two points share the same angle on the circle")
    return Dataset(ds.X[order], ds.y[order], "circle data (sorted by angle)")


def _arcs(V: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """z_j (midpoint of arc v_{j-1} v_j) and w_j (outward unit normal of chord z_j z_{j+1}).

    Computed from the angles (not from v_{j-1} + v_j), so that a gap wider than pi is handled.
    """
    phi = np.mod(np.arctan2(V[:, 1], V[:, 0]), 2.0 * np.pi)
    prev = np.roll(phi, 1)
    prev[0] -= 2.0 * np.pi
    zang = (prev + phi) / 2.0
    nxt = np.roll(zang, -1)
    nxt[-1] += 2.0 * np.pi
    wang = (zang + nxt) / 2.0
    unit = lambda a: np.stack([np.cos(a), np.sin(a)], axis=1)  # noqa: E731
    return unit(zang), unit(wang)


def prop_a2_solution(dataset: Dataset, form: str | Form = Form.CORRECTED) -> Construction:
    """Eq. (17)'s width-n 2-MLP-Bias for sorted circle data (see the module docstring).

    Args:
        dataset: circle data sorted by angle (:func:`sample_circle`, :func:`circle_dataset`),
            n >= 3 points with nonzero labels.
        form: "printed" (Eq. (17) as printed) or "corrected" (deviation (1): caps on the arcs).

    Raises:
        ValueError: for n < 3, a zero label, or points not on the circle.
    """
    form = Form.parse(form)
    ds = circle_dataset(dataset.X, dataset.y)
    if ds.n < 3:
        raise ValueError(f"Proposition A.2's construction needs n >= 3 points, got n={ds.n}")
    zero = np.flatnonzero(ds.y == 0)
    if zero.size:
        raise ValueError(f"label of point {zero[0]} is 0; Eq. (17) divides by r_j = 0")
    V = ds.X[:, :2]
    R = float(np.linalg.norm(ds.X[0]))
    Z, W = _arcs(V)
    r = np.sqrt(np.abs(ds.y) * np.sqrt(R**2 + 1.0))
    wz = np.sum(W * Z, axis=1)
    wv = np.sum(W * V, axis=1)
    W1 = np.zeros((ds.n, ds.d))
    if form is Form.PRINTED:
        W1[:, :2] = r[:, None] * W / wz[:, None]
        b1 = r * (-wv + wz) / wz
    else:
        # deviation (1): a cap centred at v_j, half-angle alpha_j = 0.9 x the smaller gap
        gaps = np.arccos(np.clip(np.sum(V * np.roll(V, -1, axis=0), axis=1), -1.0, 1.0))
        alpha = CAP_FRACTION * np.minimum(gaps, np.roll(gaps, 1))
        scale = r / (1.0 - np.cos(alpha))
        W1[:, :2] = scale[:, None] * V
        b1 = -scale * np.cos(alpha)
    net = Network(MLP(2), {"W1": W1, "b1": b1, "W2": (ds.y / r)[None, :]})
    notes = (
        ()
        if form is Form.PRINTED
        else ("(1) caps centred at v_j of half-angle 0.9 x the smaller gap, see module",)
    )
    return Construction(
        name="Proposition A.2 network",
        reference=REFERENCE,
        network=net,
        form=form,
        parameters={"R": R, "n": ds.n},
        notes=notes,
    )
