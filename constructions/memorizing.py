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

import numpy as np

from constructions._checks import check_int, check_positive_float
from constructions.architectures import MLP, Network
from constructions.construction import Construction
from constructions.dataset import Dataset
from constructions.extreme_points import (
    resolve_directions,
)

__all__ = ["memorizing_scalings", "memorizing_solution"]


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
    if form not in ("printed", "corrected"):
        raise ValueError(f"form must be 'printed' or 'corrected', got {form!r}")
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
