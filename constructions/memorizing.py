"""The memorizing flattest solution of Theorem 4.1 (Sec. 4.1 proof sketch; App. A.3.1).

For a training set whose inputs are a set of extreme points (Definition 4.1), with unit
directions w_i such that w_i^T x_i > w_i^T x_j (j != i), margins mu_i, 0 < epsilon < min_i mu_i and
x'_i = (x_i, 1), the appendix prints, for any depth D >= 2,

.. math::
    W_1 &= [u_i w_i / \\epsilon]_i^\\top, \\qquad b_1 = [u_i(-w_i^\\top x_i + \\epsilon)/\\epsilon]_i,\\\\
    W_j &= \\mathrm{diag}([1/r_i]_i) \\quad (2 \\le j \\le D-1), \\qquad W_D = [\\mathrm{sign}(y_i)/r_i]_i,\\\\
    r_i &= (\\|x'_i\\| / |y_i|)^{1/D}, \\quad u_i = |y_i|\\, r_i^{D-1}
        \\quad (r_i = u_i = 1 \\text{ when } y_i = 0).

For D = 2 this is the main text's W_1 = [sqrt(r_i|y_i|) w_i/eps], W_2 = [sign(y_i) sqrt(|y_i|/r_i)]
with r_i = ||x'_i||. At x_i only neuron i is active in every hidden layer (Definition 4.2) and all
D terms of ||grad_theta f(x_i)||^2 equal |y_i|^{2(D-1)/D} ||x'_i||^{2/D}, which is the balance that
attains the lower bound of :func:`sharpness.jacobian_lower_bound`.

Deviation (1), form="corrected", D >= 3 only: the printed W_j = diag(1/r_i) leaves the
pre-activation of every neuron k != i of layers 2..D-1 *exactly zero* at x_i. Those ReLUs sit on
their kink with a nonzero path to the output, so L is not twice differentiable there and
Tr(Hessian) is undefined (autograd would silently use relu'(0) = 0). We set the off-diagonal
entries to W_j[k, l] = -1/r_k (l != k): the same neuron i carries x_i, every other pre-activation
becomes -a/r_k < 0, the function on the training set and every term of the trace are unchanged,
and the Hessian exists.

Deviation (2): a zero label is built as printed (r_i = u_i = 1), but the bound term for that point
is 0 while the construction pays ||relu(W'_1 x'_i)||^2 > 0 for it: with a zero label no memorizing
solution attains the bound, so the theorem needs nonzero labels (the verifier reports this).
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np

from constructions._checks import check_int, check_positive_float
from constructions.architectures import MLP, Network
from constructions.construction import Construction, Form
from constructions.dataset import Dataset
from constructions.extreme_points import (
    resolve_directions,
)

__all__ = [
    "interval_digits",
    "memorizing_scalings",
    "memorizing_solution",
    "memorizing_weights_interval",
]


def memorizing_scalings(y: np.ndarray, x_prime_norms: np.ndarray, depth: int):
    """(r_i, u_i) of App. A.3.1: r = (||x'||/|y|)^(1/D), u = |y| r^(D-1); r = u = 1 if y = 0."""
    y = np.asarray(y, dtype=np.float64)
    absy = np.abs(y)
    safe = np.where(absy > 0, absy, 1.0)
    r = np.where(absy > 0, (x_prime_norms / safe) ** (1.0 / depth), 1.0)
    u = np.where(absy > 0, absy * r ** (depth - 1), 1.0)
    return r, u


def memorizing_solution(
    dataset: Dataset,
    depth: int = 2,
    *,
    directions="lp",
    epsilon: float | None = None,
    form: str = "corrected",
) -> Construction:
    """Build the width-n memorizing D-layer MLP-Bias of Theorem 4.1.

    Args:
        dataset: training set; its inputs must be a set of extreme points.
        depth: D >= 2.
        directions: "lp" (certified by linear programming, any extreme-point set), "sphere"
            (w_i = x_i/||x_i||, for points on a sphere such as the hypercube), an (n, d) array,
            or an :class:`ExtremePointCertificate`.
        epsilon: the construction's epsilon; defaults to half the smallest margin. Any value is
            accepted so that its limits can be explored: epsilon >= a margin breaks memorization,
            and the verifier says so.
        form: "corrected" (default) or "printed"; they differ only for D >= 3 (deviation (1)).

    Returns:
        The construction; ``parameters`` records epsilon, the margins' minimum and the method.

    Raises:
        ValueError: for bad arguments. NotExtremePointsError (a ValueError) names a point that
            is not a vertex of the convex hull.
    """
    depth = check_int("depth", depth, minimum=2)
    form = Form.parse(form)
    cert = resolve_directions(dataset.X, directions)
    eps = 0.5 * cert.min_margin if epsilon is None else check_positive_float("epsilon", epsilon)
    if not np.isfinite(eps):  # n == 1: any epsilon works
        eps = 1.0
    X, y = dataset.X, dataset.y
    n = dataset.n
    xp_norm = np.sqrt(np.sum(X * X, axis=1) + 1.0)
    r, u = memorizing_scalings(y, xp_norm, depth)
    W = cert.directions
    W1 = (u / eps)[:, None] * W
    b1 = u * (-np.sum(W * X, axis=1) + eps) / eps
    params = {"W1": W1, "b1": b1}
    for j in range(2, depth):
        Wj = np.diag(1.0 / r)
        if form == "corrected":
            Wj = Wj - (1.0 / r)[:, None] * (1.0 - np.eye(n))
        params[f"W{j}"] = Wj
    params[f"W{depth}"] = (np.sign(y) / r)[None, :]
    notes = []
    if depth >= 3 and form == "corrected":
        notes.append(
            "(1) off-diagonal W_j[k,l] = -1/r_k (2 <= j <= D-1) instead of the printed 0, so that "
            "no hidden ReLU sits on its kink at a training point (the printed form has an "
            "undefined Hessian)"
        )
    if np.any(y == 0):
        notes.append(
            "(2) zero labels: built as printed (r = u = 1); no memorizing solution "
            "attains the bound for them"
        )
    return Construction(
        name="memorizing solution",
        reference="Theorem 4.1; Sec. 4.1 proof sketch; App. A.3.1",
        network=Network(MLP(depth=depth, bias=True), params),
        form=form,
        parameters={
            "epsilon": float(eps),
            "min_margin": cert.min_margin,
            "directions": cert.method,
            "depth": depth,
        },
        notes=tuple(notes),
    )


# --- the same weights at a chosen precision, as rigorous enclosures -------------------------------
#
# The float64 weights above are roundings of App. A.3.1's real numbers, and at small epsilon the
# first layer cancels terms of size u_i/epsilon down to u_i, so float64 rounding shows up in
# f(x_i) - y_i and in the trace at 1/epsilon times the unit roundoff. The builder below takes the
# same inputs as exact rational numbers (the float64 data X, y, the float64 directions w_i and the
# float64 epsilon are exactly what was built on) and encloses every weight of the mathematical
# construction in an mpmath interval with outward rounding, so a verifier can decide there.


@contextmanager
def interval_digits(digits: int):
    """Run the block with mpmath's interval context at ``digits`` decimal digits (restored after)."""
    from mpmath import iv

    digits = check_int("digits", digits, minimum=16)
    old = iv.prec
    iv.dps = digits
    try:
        yield iv
    finally:
        iv.prec = old


def memorizing_weights_interval(
    dataset: Dataset,
    depth: int = 2,
    *,
    directions="lp",
    epsilon: float | None = None,
    form: str = "corrected",
    digits: int = 60,
) -> dict[str, list]:
    """Rigorous enclosures of the exact weights of :func:`memorizing_solution`.

    Same formulas as :func:`memorizing_solution` (App. A.3.1, with its deviations (1)-(2)),
    evaluated in mpmath interval arithmetic at ``digits`` decimal digits from the float64 inputs
    taken as exact: r_i = (||x'_i|| / |y_i|)^{1/D}, u_i = |y_i| r_i^{D-1}, W_1 = [u_i w_i/eps],
    b_1 = [u_i (-w_i^T x_i + eps)/eps], W_j = diag(1/r_i) (corrected: off-diagonal -1/r_k),
    W_D = [sign(y_i)/r_i]. Each interval contains the true real weight; its float64 midpoint is
    the correctly rounded weight up to a few ulps of :func:`memorizing_solution`'s own rounding.

    Args:
        dataset, depth, directions, epsilon, form: as for :func:`memorizing_solution`.
        digits: decimal digits of the interval endpoints (>= 16).

    Returns:
        ``{"W1": rows, "b1": list, "W2": rows, ...}``: matrices as lists of rows of
        ``mpmath.iv.mpf`` intervals, shaped like the float64 parameters.

    Raises:
        ValueError: for bad arguments, as :func:`memorizing_solution`.
    """
    depth = check_int("depth", depth, minimum=2)
    form = Form.parse(form)
    cert = resolve_directions(dataset.X, directions)
    eps = 0.5 * cert.min_margin if epsilon is None else check_positive_float("epsilon", epsilon)
    if not np.isfinite(eps):  # n == 1: any epsilon works
        eps = 1.0
    X, y, W = dataset.X, dataset.y, cert.directions
    n, d = X.shape
    with interval_digits(digits) as iv:
        e = iv.mpf(float(eps))
        one = iv.mpf(1)
        zero = iv.mpf(0)
        r, u = [], []
        for i in range(n):
            if y[i] == 0:
                r.append(one)
                u.append(one)
                continue
            sq = iv.fsum([iv.mpf(float(v)) ** 2 for v in X[i]] + [one])
            ratio = iv.sqrt(sq) / abs(iv.mpf(float(y[i])))
            ri = iv.sqrt(ratio) if depth == 2 else iv.exp(iv.log(ratio) / depth)
            r.append(ri)
            u.append(abs(iv.mpf(float(y[i]))) * ri ** (depth - 1))
        params: dict[str, list] = {
            "W1": [[u[k] * iv.mpf(float(W[k, j])) / e for j in range(d)] for k in range(n)],
            "b1": [
                u[k]
                * (e - iv.fsum(iv.mpf(float(W[k, j])) * iv.mpf(float(X[k, j])) for j in range(d)))
                / e
                for k in range(n)
            ],
        }
        inv = [one / rk for rk in r]
        for j in range(2, depth):
            rows = []
            for k in range(n):
                off = -inv[k] if form == "corrected" else zero
                row = [off] * n
                row[k] = inv[k]
                rows.append(row)
            params[f"W{j}"] = rows
        params[f"W{depth}"] = [[iv.mpf(float(np.sign(y[k]))) * inv[k] for k in range(n)]]
    return params
