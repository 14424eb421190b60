"""Definition 4.1 (set of extreme points), certified by linear programming.

A finite S subset of R^d is a set of extreme points iff every x_i in S is a vertex of conv(S),
i.e. iff for every i there is a unit direction w_i with

.. math::  \\mu_i = \\min_{j \\ne i} w_i^\\top (x_i - x_j) > 0 .

For each i we solve, with scipy's HiGHS,

.. math::  \\max_{w, t}\\; t \\quad \\text{s.t.}\\quad (x_i - x_j)^\\top w \\ge t \\;(j \\ne i),
           \\; -1 \\le w \\le 1,

normalize w_i to unit length and *recompute* the margin mu_i in float64 from the returned w_i, so
the certificate never rests on the LP solver's own tolerances. A margin counts as positive only
if it exceeds a bound on the float64 rounding error of that recomputation.

The margins are what "sufficiently small epsilon" means for the memorizing construction of
Theorem 4.1: it needs 0 < epsilon < mu_i for every i.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from scipy.optimize import linprog

from constructions.tolerance import tolerance_for

__all__ = [
    "ExtremePointCertificate",
    "NotExtremePointsError",
    "certify_extreme_points",
    "directions_certificate",
    "resolve_directions",
    "sphere_directions",
]

_U64 = np.finfo(np.float64).eps / 2
_RTOL = tolerance_for(torch.float64).rtol


class NotExtremePointsError(ValueError):
    """The points are not a set of extreme points; ``index`` names the offending point."""

    def __init__(self, index: int, reason: str):
        self.index = index
        self.reason = reason
        super().__init__(f"not a set of extreme points (Definition 4.1): point {index} {reason}")


@dataclass(frozen=True, eq=False)
class ExtremePointCertificate:
    """Separating unit directions w_i and margins mu_i = min_{j != i} w_i^T (x_i - x_j).

    Attributes:
        directions: (n, d) unit vectors.
        margins: (n,) positive margins (inf when n == 1).
        method: how the directions were found ("lp", "sphere" or "given").
    """

    directions: np.ndarray
    margins: np.ndarray
    method: str

    @property
    def min_margin(self) -> float:
        """The smallest margin: every epsilon in (0, min_margin) works for Theorem 4.1."""
        return float(np.min(self.margins))


def _margins(X: np.ndarray, W: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Margins mu_i and the threshold each must exceed (rounding bound, relative tolerance)."""
    n, d = X.shape
    margins = np.full(n, np.inf)
    errors = np.zeros(n)
    for i in range(n):
        if n == 1:
            break
        D = X[i] - np.delete(X, i, axis=0)
        vals = D @ W[i]
        j = int(np.argmin(vals))
        margins[i] = vals[j]
        # |fl(D w) - D w| <= gamma_{d+1} * sum |D||w| (subtraction and the dot product).
        gamma = (d + 2) * _U64 / (1 - (d + 2) * _U64)
        rounding = gamma * float(np.max(np.abs(D) @ np.abs(W[i]))) * 2.0
        relative = _RTOL * float(np.max(np.linalg.norm(D, axis=1)))
        errors[i] = max(rounding, relative)
    return margins, errors


def _as_points(X) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] < 1:
        raise ValueError(f"points must be a non-empty 2-D array (n, d), got shape {X.shape}")
    if not np.all(np.isfinite(X)):
        raise ValueError("points contain NaN or inf")
    return X


def _check_duplicates(X: np.ndarray) -> None:
    seen: dict[bytes, int] = {}
    for i, row in enumerate(X):
        key = row.tobytes()
        if key in seen:
            raise NotExtremePointsError(i, f"duplicates point {seen[key]}")
        seen[key] = i


def directions_certificate(X, directions, method: str = "given") -> ExtremePointCertificate:
    """Certify given directions: raise if some w_i does not strictly separate x_i.

    Raises:
        NotExtremePointsError: naming the first point whose margin is not certifiably positive.
    """
    X = _as_points(X)
    W = np.asarray(directions, dtype=np.float64)
    if W.shape != X.shape:
        raise ValueError(f"directions must have shape {X.shape}, got {W.shape}")
    norms = np.linalg.norm(W, axis=1)
    if np.any(norms == 0) or not np.all(np.isfinite(norms)):
        raise ValueError("every direction must be a finite nonzero vector")
    W = W / norms[:, None]
    margins, errors = _margins(X, W)
    bad = np.flatnonzero(~(margins > errors))
    if bad.size:
        i = int(bad[0])
        raise NotExtremePointsError(
            i,
            f"is not separated by its direction (margin {margins[i]:.3g}, needs > {errors[i]:.3g})",
        )
    W.setflags(write=False)
    margins.setflags(write=False)
    return ExtremePointCertificate(W, margins, method)


def sphere_directions(X) -> ExtremePointCertificate:
    """w_i = x_i / ||x_i|| for points on a common sphere centred at 0 (e.g. the hypercube).

    On the hypercube this w_i separates x_i from *every* other vertex with margin 2/sqrt(d), not
    only from the training points: Proposition 4.1 needs exactly that.

    Raises:
        ValueError: if the norms differ (beyond rounding) or a point is 0.
        NotExtremePointsError: for duplicated points.
    """
    X = _as_points(X)
    _check_duplicates(X)
    norms = np.linalg.norm(X, axis=1)
    if np.any(norms == 0) or np.max(norms) - np.min(norms) > 1e-12 * np.max(norms):
        raise ValueError("sphere directions need all points at the same nonzero distance from 0")
    return directions_certificate(X, X, method="sphere")


def certify_extreme_points(X) -> ExtremePointCertificate:
    """Certify Definition 4.1 by one LP per point (scipy HiGHS).

    Returns:
        The certificate with unit directions and recomputed margins.

    Raises:
        NotExtremePointsError: naming the first point that is not a vertex of conv(S).
    """
    X = _as_points(X)
    n, d = X.shape
    _check_duplicates(X)
    W = np.zeros((n, d))
    if n == 1:
        W[0, 0] = 1.0
        return directions_certificate(X, W, method="lp")
    c = np.zeros(d + 1)
    c[-1] = -1.0
    bounds = [(-1.0, 1.0)] * d + [(None, None)]
    # Definition 4.1 is scale-invariant, HiGHS is not: data scaled by 1e20 are a "Model error"
    # and by 1e-10 a margin below its tolerances (w = 0). The LP is solved on X / max|X| (a power
    # of two, so the scaling is exact); the margins are recomputed on X itself below.
    peak = float(np.max(np.abs(X)))
    Xs = X if peak == 0 else X * 2.0 ** -math.frexp(peak)[1]
    for i in range(n):
        D = Xs[i] - np.delete(Xs, i, axis=0)
        A_ub = np.hstack([-D, np.ones((n - 1, 1))])
        res = linprog(c, A_ub=A_ub, b_ub=np.zeros(n - 1), bounds=bounds, method="highs")
        if res.status != 0 or res.x is None:
            raise RuntimeError(f"HiGHS failed on point {i}: {res.message}")
        w = res.x[:d]
        if not np.any(w):
            raise NotExtremePointsError(i, "lies in the convex hull of the other points")
        W[i] = w
    try:
        return directions_certificate(X, W, method="lp")
    except NotExtremePointsError as exc:
        raise NotExtremePointsError(
            exc.index, "lies in the convex hull of the other points"
        ) from None


def resolve_directions(X, directions) -> ExtremePointCertificate:
    """The certificate the constructions use: "lp" (:func:`certify_extreme_points`), "sphere"
    (:func:`sphere_directions`), an existing certificate, or an (n, d) array of directions
    (:func:`directions_certificate`)."""
    if isinstance(directions, ExtremePointCertificate):
        return directions
    if isinstance(directions, str):
        if directions == "lp":
            return certify_extreme_points(X)
        if directions == "sphere":
            return sphere_directions(X)
        raise ValueError(
            f"directions must be 'lp', 'sphere' or an (n, d) array, got {directions!r}"
        )
    return directions_certificate(X, directions)
