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

Deviation (3), form="corrected", repeated samples (the paper draws i.i.d., so points repeat): the
printed one-neuron-per-sample network puts k neurons on a point that occurs k times and gives
f = k y there, so it does not interpolate. Corrected: one neuron per DISTINCT point memorizes it
(equal points must have equal labels, else no function interpolates them: ValueError), and the
n - n_distinct spare neurons keep the width n. With ``spare="xor"`` (hypercube data) each spare
neuron fires on exactly one vertex v of {-1,1}^d not in the training set, built as a memorizing
neuron for (v, v[1] v[2]) with w = v/sqrt(d) and its own epsilon 1/sqrt(d) (half the cube margin
2/sqrt(d)); with ``spare="dead"`` (or once the unseen vertices run out) a spare neuron has
W_1 row 0, b_1 = -1 and output weight 0. Either way its pre-activation is strictly negative at
every training point, so it changes neither f nor any second derivative of L there: the trace is
that of the distinct-point network, which is the bound summed over all n samples.
"""

from __future__ import annotations

import enum
import math
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from constructions._checks import check_int, check_positive_float
from constructions.architectures import MLP, Network
from constructions.construction import Construction, Form
from constructions.dataset import Dataset
from constructions.extreme_points import (
    ExtremePointCertificate,
    resolve_directions,
)

__all__ = [
    "NeuronPlan",
    "RepeatedPoints",
    "Spare",
    "group_repeats",
    "interval_digits",
    "memorizing_plan",
    "memorizing_scalings",
    "memorizing_solution",
    "memorizing_weights_interval",
    "unseen_vertices",
]

#: The spare neurons' pre-activation where they are dead: strictly negative, so no kink.
DEAD_BIAS = -1.0


class Spare(enum.StrEnum):
    """What the n - n_distinct spare neurons of a draw with repeated points do (Deviation (3))."""

    DEAD = "dead"  # zero weights, bias -1, output 0: nothing fires anywhere
    XOR = "xor"  # each fires on one unseen vertex of {-1,1}^d with output y = x[1] x[2]

    @classmethod
    def parse(cls, value) -> Spare:
        """``value`` as a :class:`Spare`, or ValueError naming it."""
        try:
            return cls(value)
        except ValueError:
            raise ValueError(f"spare must be 'dead' or 'xor', got {value!r}") from None


@dataclass(frozen=True, eq=False)
class RepeatedPoints:
    """How the n samples of a training set map onto its distinct points.

    Attributes:
        first: (n_distinct,) index of each distinct point's first occurrence, in order.
        owner: (n,) for each sample, the position of its point in ``first``.
    """

    first: np.ndarray
    owner: np.ndarray

    @property
    def n_distinct(self) -> int:
        """Number of distinct training inputs."""
        return int(self.first.shape[0])

    @property
    def has_repeats(self) -> bool:
        """True iff some input occurs more than once."""
        return self.n_distinct < int(self.owner.shape[0])

    def distinct(self, dataset: Dataset) -> Dataset:
        """The training set with each input once (first occurrences, in order)."""
        if not self.has_repeats:
            return dataset
        return Dataset(
            dataset.X[self.first],
            dataset.y[self.first],
            description=f"{dataset.description}, {self.n_distinct} distinct points",
        )


def group_repeats(dataset: Dataset) -> RepeatedPoints:
    """Group equal inputs of ``dataset``.

    Raises:
        ValueError: naming two equal inputs with different labels (no function interpolates
            both).
    """
    seen: dict[bytes, int] = {}
    first: list[int] = []
    owner = np.empty(dataset.n, dtype=np.int64)
    for i, row in enumerate(dataset.X):
        key = row.tobytes()
        k = seen.get(key)
        if k is None:
            k = seen[key] = len(first)
            first.append(i)
        elif dataset.y[i] != dataset.y[first[k]]:
            raise ValueError(
                f"points {first[k]} and {i} are the same input with different labels "
                f"({dataset.y[first[k]]:g} and {dataset.y[i]:g}): no network interpolates both"
            )
        owner[i] = k
    return RepeatedPoints(np.asarray(first, dtype=np.int64), owner)


def _on_cube(X: np.ndarray) -> bool:
    return X.shape[1] >= 2 and bool(np.all(np.abs(X) == 1.0))


def unseen_vertices(X, count: int) -> np.ndarray:
    """The first ``count`` vertices of {-1,1}^d (in the index order of
    :mod:`constructions.hypercube`: coordinate j is 1 - 2 bit_j) that are not rows of X; fewer
    when the cube runs out. X must lie on {-1,1}^d."""
    X = np.asarray(X, dtype=np.float64)
    count = check_int("count", count, minimum=0)
    d = X.shape[1]
    if not np.all(np.abs(X) == 1.0):
        raise ValueError("unseen vertices need points of {-1,1}^d")
    weights = [1 << j for j in range(d)]
    taken = {sum(w for w, v in zip(weights, row, strict=True) if v < 0) for row in X}
    found: list[np.ndarray] = []
    k, total = 0, 1 << d
    while len(found) < count and k < total:
        if k not in taken:
            found.append(1.0 - 2.0 * np.array([(k >> j) & 1 for j in range(d)], dtype=np.float64))
        k += 1
    return np.stack(found) if found else np.zeros((0, d))


@dataclass(frozen=True, eq=False)
class NeuronPlan:
    """What each first-layer neuron of a memorizing construction is built for.

    Neuron k memorizes the input ``centers[k]`` with label ``labels[k]``: first-layer row
    u_k w_k / eps_k and bias u_k (-w_k^T c_k + eps_k) / eps_k with w_k = ``directions[k]`` and
    eps_k = ``epsilons[k]``; a neuron with ``alive[k]`` False is a dead spare (row 0, bias
    :data:`DEAD_BIAS`, output weight 0).

    Attributes:
        centers, directions: (width, d).
        labels, epsilons: (width,).
        alive: (width,) bool.
        cert: the extreme-point certificate of the distinct training inputs.
        epsilon: the training neurons' epsilon.
        groups: how the samples map onto distinct points.
        n_fired: spare neurons that fire on an unseen vertex.
        spare_epsilon: their epsilon (None if there are none).
    """

    centers: np.ndarray
    directions: np.ndarray
    labels: np.ndarray
    epsilons: np.ndarray
    alive: np.ndarray
    cert: ExtremePointCertificate
    epsilon: float
    groups: RepeatedPoints
    n_fired: int = 0
    spare_epsilon: float | None = None

    @property
    def width(self) -> int:
        return int(self.centers.shape[0])

    @property
    def n_dead(self) -> int:
        return int(np.sum(~self.alive))

    def describe(self) -> dict:
        """Entries for a construction's ``parameters`` (empty without repeated points)."""
        if not self.groups.has_repeats:
            return {}
        out = {"n_distinct": self.groups.n_distinct, "spare_fired": self.n_fired}
        out["spare_dead"] = self.n_dead
        if self.spare_epsilon is not None:
            out["spare_epsilon"] = self.spare_epsilon
        return out


def _distinct_directions(directions, groups: RepeatedPoints, n: int):
    """Directions given for all n samples, restricted to the distinct points' first occurrences."""
    if not groups.has_repeats or isinstance(directions, (str, ExtremePointCertificate)):
        return directions
    W = np.asarray(directions, dtype=np.float64)
    if W.ndim == 2 and W.shape[0] == n:
        return W[groups.first]
    return W


def memorizing_plan(
    dataset: Dataset,
    directions="lp",
    epsilon: float | None = None,
    form: str = "corrected",
    spare: str = "dead",
    *,
    epsilon_name: str = "epsilon",
) -> NeuronPlan:
    """The neurons of Theorem 4.1's construction (App. A.3.1), with Deviation (3) for repeats.

    Without repeated inputs: neuron i memorizes x_i (the printed construction). With them,
    form="printed" keeps one neuron per sample (the paper's, which does not interpolate a
    repeated point); form="corrected" uses one neuron per distinct point and n - n_distinct
    spares (``spare``, see :class:`Spare`).

    Args:
        dataset: the training set.
        directions: as for :func:`memorizing_solution`, for the distinct points (an (n, d)
            array given for all samples is restricted to first occurrences).
        epsilon: the separation epsilon (default half the smallest margin; 1 if n_distinct = 1).
        form: "corrected" or "printed".
        spare: "dead" or "xor".
        epsilon_name: the name an error message gives epsilon.

    Raises:
        ValueError: for bad arguments, equal inputs with different labels, or spare="xor" on
            points off {-1,1}^d. NotExtremePointsError names a point off the convex hull.
    """
    form = Form.parse(form)
    spare = Spare.parse(spare)
    groups = group_repeats(dataset)
    X, y = dataset.X, dataset.y
    Xd = X[groups.first]
    cert = resolve_directions(Xd, _distinct_directions(directions, groups, dataset.n))
    if cert.directions.shape != Xd.shape:
        raise ValueError(
            f"directions must be given for the {Xd.shape[0]} distinct points, got shape "
            f"{cert.directions.shape}"
        )
    eps = 0.5 * cert.min_margin if epsilon is None else check_positive_float(epsilon_name, epsilon)
    if not np.isfinite(eps):  # one distinct point: any epsilon works
        eps = 1.0
    n = dataset.n
    if not groups.has_repeats or form == "printed":
        W = cert.directions[groups.owner] if groups.has_repeats else cert.directions
        return NeuronPlan(
            X, W, y, np.full(n, eps), np.ones(n, dtype=bool), cert, float(eps), groups
        )
    m = groups.n_distinct
    centers = [Xd]
    dirs = [cert.directions]
    labels = [y[groups.first]]
    epss = [np.full(m, eps)]
    n_fired, spare_eps = 0, None
    if spare == Spare.XOR:
        if not _on_cube(X):
            raise ValueError("spare='xor' needs points of {-1,1}^d (d >= 2)")
        V = unseen_vertices(Xd, n - m)
        n_fired = int(V.shape[0])
        spare_eps = 1.0 / math.sqrt(dataset.d)
        centers.append(V)
        dirs.append(V / math.sqrt(dataset.d))
        labels.append(V[:, 0] * V[:, 1])
        epss.append(np.full(n_fired, spare_eps))
    dead = n - m - n_fired
    centers.append(np.zeros((dead, dataset.d)))
    dirs.append(np.zeros((dead, dataset.d)))
    labels.append(np.zeros(dead))
    epss.append(np.ones(dead))
    alive = np.concatenate([np.ones(m + n_fired, dtype=bool), np.zeros(dead, dtype=bool)])
    return NeuronPlan(
        np.concatenate(centers),
        np.concatenate(dirs),
        np.concatenate(labels),
        np.concatenate(epss),
        alive,
        cert,
        float(eps),
        groups,
        n_fired,
        spare_eps,
    )


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
    spare: str = "dead",
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
        form: "corrected" (default) or "printed"; they differ for D >= 3 (deviation (1)) and
            on repeated inputs (deviation (3): printed keeps one neuron per sample).
        spare: what the n - n_distinct spare neurons do on repeated inputs (corrected form):
            "dead" (default) or "xor" (each fires on one unseen vertex of {-1,1}^d with output
            x[1] x[2]; hypercube data only). No effect without repeats.

    Returns:
        The construction; ``parameters`` records epsilon, the margins' minimum and the method
        (and, with repeated inputs, n_distinct and the spare neurons).

    Raises:
        ValueError: for bad arguments or equal inputs with different labels.
            NotExtremePointsError (a ValueError) names a point that is not a vertex of the
            convex hull.
    """
    depth = check_int("depth", depth, minimum=2)
    form = Form.parse(form)
    plan = memorizing_plan(dataset, directions, epsilon, form, spare)
    cert, eps = plan.cert, plan.epsilon
    X, y, W, e = plan.centers, plan.labels, plan.directions, plan.epsilons
    n = plan.width
    xp_norm = np.sqrt(np.sum(X * X, axis=1) + 1.0)
    r, u = memorizing_scalings(y, xp_norm, depth)
    W1 = (u / e)[:, None] * W
    b1 = u * (-np.sum(W * X, axis=1) + e) / e
    b1[~plan.alive] = DEAD_BIAS
    params = {"W1": W1, "b1": b1}
    for j in range(2, depth):
        Wj = np.diag(1.0 / r)
        if form == "corrected":
            Wj = Wj - (1.0 / r)[:, None] * (1.0 - np.eye(n))
        params[f"W{j}"] = Wj
    params[f"W{depth}"] = (np.sign(y) / r)[None, :]
    notes = []
    if plan.groups.has_repeats:
        notes.append(_repeats_note(plan, form))
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
            **plan.describe(),
        },
        notes=tuple(notes),
    )


def _repeats_note(plan: NeuronPlan, form: str) -> str:
    g = plan.groups
    if form == "printed":
        return (
            f"(3) {g.owner.shape[0]} samples, {g.n_distinct} distinct: one neuron per sample as "
            "printed, so a point occurring k times gets k active neurons and f = k y there"
        )
    return (
        f"(3) {g.owner.shape[0]} samples, {g.n_distinct} distinct: one neuron per distinct point; "
        f"{plan.n_fired} spare neuron(s) fire on one unseen cube vertex each, {plan.n_dead} dead "
        "(strictly negative pre-activation at every training point)"
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
    spare: str = "dead",
) -> dict[str, list]:
    """Rigorous enclosures of the exact weights of :func:`memorizing_solution`.

    Same formulas as :func:`memorizing_solution` (App. A.3.1, with its deviations (1)-(3)),
    evaluated in mpmath interval arithmetic at ``digits`` decimal digits from the float64 inputs
    taken as exact: r_i = (||x'_i|| / |y_i|)^{1/D}, u_i = |y_i| r_i^{D-1}, W_1 = [u_i w_i/eps],
    b_1 = [u_i (-w_i^T x_i + eps)/eps], W_j = diag(1/r_i) (corrected: off-diagonal -1/r_k),
    W_D = [sign(y_i)/r_i]. Each interval contains the true real weight; its float64 midpoint is
    the correctly rounded weight up to a few ulps of :func:`memorizing_solution`'s own rounding.

    Args:
        dataset, depth, directions, epsilon, form, spare: as for :func:`memorizing_solution`.
        digits: decimal digits of the interval endpoints (>= 16).

    Returns:
        ``{"W1": rows, "b1": list, "W2": rows, ...}``: matrices as lists of rows of
        ``mpmath.iv.mpf`` intervals, shaped like the float64 parameters.

    Raises:
        ValueError: for bad arguments, as :func:`memorizing_solution`.
    """
    depth = check_int("depth", depth, minimum=2)
    form = Form.parse(form)
    plan = memorizing_plan(dataset, directions, epsilon, form, spare)
    X, y, W = plan.centers, plan.labels, plan.directions
    n, d = X.shape
    with interval_digits(digits) as iv:
        es = [iv.mpf(float(v)) for v in plan.epsilons]
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
            "W1": [[u[k] * iv.mpf(float(W[k, j])) / es[k] for j in range(d)] for k in range(n)],
            "b1": [
                u[k]
                * (
                    es[k]
                    - iv.fsum(iv.mpf(float(W[k, j])) * iv.mpf(float(X[k, j])) for j in range(d))
                )
                / es[k]
                if plan.alive[k]
                else iv.mpf(DEAD_BIAS)
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
