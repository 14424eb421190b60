"""The paper's constructions in exact arithmetic (sympy rationals and radicals), for ``--exact``.

Same formulas as :mod:`constructions.memorizing` (Theorem 4.1, App. A.3.1) and
:mod:`constructions.four_neuron` (Eq. (5)), with every entry an exact sympy number.

Deviation (1): the separating directions w_i need not be unit vectors here. The float LP
directions are taken as exact rationals (every float is one), their margins
mu_i = min_{j != i} w_i^T (x_i - x_j) are recomputed exactly, and epsilon = min_i mu_i / 2; the
network is the printed one for the unit vector w_i/||w_i|| and epsilon/||w_i|| (the construction
only uses w_i/epsilon and w_i^T x_i/epsilon), so nothing changes but the radicals disappear.
On the hypercube, "sphere" directions are w_i = x_i with margin 2 against every other vertex.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import sympy as sp

from constructions._checks import check_int
from constructions.architectures import MLP
from constructions.construction import Form
from constructions.extreme_points import certify_extreme_points

__all__ = [
    "ExactConstruction",
    "exact_four_neuron_solution",
    "exact_memorizing_solution",
    "exact_separation",
    "rational_matrix",
]


def rational_matrix(a) -> sp.Matrix:
    """An exact sympy matrix from an array of floats or ints (each float is a dyadic rational)."""
    arr = np.atleast_2d(np.asarray(a))
    return sp.Matrix(
        [
            [
                sp.Rational(float(v)) if not float(v).is_integer() else sp.Integer(int(v))
                for v in row
            ]
            for row in arr
        ]
    )


@dataclass(frozen=True, eq=False)
class ExactConstruction:
    """Exact parameters {name: sympy Matrix} of an MLP, with the data they are built for."""

    name: str
    reference: str
    arch: MLP
    params: Mapping[str, sp.Matrix]
    X: sp.Matrix
    y: tuple
    form: str
    parameters: Mapping[str, object] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", types.MappingProxyType(dict(self.params)))
        object.__setattr__(self, "parameters", types.MappingProxyType(dict(self.parameters)))


def exact_separation(X, directions="lp") -> tuple[sp.Matrix, list]:
    """Separating directions w_i and their exact margins mu_i = min_{j != i} w_i^T (x_i - x_j).

    Definition 4.1 holds with these directions iff every margin is > 0. Nothing is raised here, so
    a verifier can report a non-positive margin (e.g. an LP certificate that is wrong in exact
    arithmetic) as a failed check.

    Args:
        X: (n, d) inputs (floats are taken as the exact rationals they are).
        directions: "lp" (exact rationals of the LP directions), "sphere" (w_i = x_i) or an
            (n, d) array.
    """
    Xf = np.asarray(X, dtype=np.float64)
    return _separation(rational_matrix(Xf), Xf, directions)


def _separation(X: sp.Matrix, Xf: np.ndarray, directions) -> tuple[sp.Matrix, list]:
    n = X.rows
    if isinstance(directions, str) and directions == "sphere":
        W = sp.Matrix(X)
    elif isinstance(directions, str) and directions == "lp":
        W = rational_matrix(certify_extreme_points(Xf).directions)
    elif isinstance(directions, str):
        raise ValueError(
            f"directions must be 'lp', 'sphere' or an (n, d) array, got {directions!r}"
        )
    else:
        W = directions if isinstance(directions, sp.Matrix) else rational_matrix(directions)
        if W.shape != X.shape:
            raise ValueError(f"directions must have shape {X.shape}, got {W.shape}")
    margins = []
    for i in range(n):
        vals = [(W.row(i) * (X.row(i) - X.row(j)).T)[0, 0] for j in range(n) if j != i]
        margins.append(min(vals) if vals else sp.oo)
    return W, margins


def _exact_directions(X: sp.Matrix, Xf: np.ndarray, directions) -> tuple[sp.Matrix, list]:
    """:func:`exact_separation`, raising ValueError when a direction does not separate its point."""
    W, margins = _separation(X, Xf, directions)
    bad = [i for i, m in enumerate(margins) if not m > 0]
    if bad:
        raise ValueError(
            f"direction of point {bad[0]} does not separate it (exact margin {margins[bad[0]]})"
        )
    return W, margins


def exact_memorizing_solution(
    X, y, depth: int = 2, *, directions="lp", epsilon=None, form: str = "corrected"
) -> ExactConstruction:
    """Theorem 4.1's memorizing network with exact entries (see :func:`memorizing_solution`).

    Args:
        X: (n, d) inputs (floats are taken as the exact rationals they are).
        y: (n,) labels.
        depth: D >= 2.
        directions: "lp" (exact rationals of the LP directions) or "sphere" (w_i = x_i).
        epsilon: an exact positive number (default: half the smallest exact margin).
        form: "corrected" or "printed" (differ for D >= 3, see constructions.memorizing).
    """
    depth = check_int("depth", depth, minimum=2)
    form = Form.parse(form)
    Xf = np.asarray(X, dtype=np.float64)
    Xs = rational_matrix(Xf)
    ys = [sp.Rational(float(v)) for v in np.asarray(y, dtype=np.float64)]
    n, d = Xs.shape
    W, margins = _exact_directions(Xs, Xf, directions)
    min_margin = min(margins)
    eps = (
        (min_margin / 2 if min_margin != sp.oo else sp.Integer(1))
        if epsilon is None
        else sp.nsimplify(epsilon)
    )
    if not eps > 0:
        raise ValueError(f"epsilon must be > 0, got {eps}")
    xp_norm = [sp.sqrt(sum(v**2 for v in Xs.row(i)) + 1) for i in range(n)]
    r, u = [], []
    for i in range(n):
        if ys[i] == 0:
            r.append(sp.Integer(1))
            u.append(sp.Integer(1))
        else:
            ri = (xp_norm[i] / abs(ys[i])) ** sp.Rational(1, depth)
            r.append(ri)
            u.append(abs(ys[i]) * ri ** (depth - 1))
    W1 = sp.Matrix(n, d, lambda i, k: u[i] * W[i, k] / eps)
    b1 = sp.Matrix(n, 1, lambda i, _: u[i] * (-(W.row(i) * Xs.row(i).T)[0, 0] + eps) / eps)
    params = {"W1": W1, "b1": b1}
    for j in range(2, depth):
        if form == "corrected":
            params[f"W{j}"] = sp.Matrix(n, n, lambda a, b: 1 / r[a] if a == b else -1 / r[a])
        else:
            params[f"W{j}"] = sp.diag(*[1 / ri for ri in r])
    params[f"W{depth}"] = sp.Matrix(1, n, lambda _, i: sp.sign(ys[i]) / r[i])
    return ExactConstruction(
        "memorizing solution (exact)",
        "Theorem 4.1; App. A.3.1",
        MLP(depth=depth, bias=True),
        params,
        Xs,
        tuple(ys),
        form,
        {"epsilon": eps, "min_margin": min_margin, "directions": directions, "depth": depth},
    )


def exact_four_neuron_solution(
    X, d: int, *, width: int = 4, depth: int = 2, form: str = "corrected", r=None
) -> ExactConstruction:
    """Eq. (5) with exact entries; ``r`` may be a sympy symbol (depth 2) to keep it free.

    Args:
        X: the training inputs (points of {-1,1}^d) the construction is evaluated on.
        d: dimension. width: >= 4. depth: >= 2 (>= 3 is the balanced extension).
        form: "printed" (r = (d^2+1)^(1/4)) or "corrected" (r = (d+1)^(1/4)).
    """
    d = check_int("d", d, minimum=2)
    width = check_int("width", width, minimum=4)
    depth = check_int("depth", depth, minimum=2)
    if depth > 2 and (form == "printed" or r is not None):
        raise ValueError(
            "Eq. (5) is printed for depth 2 only; depth >= 3 uses the corrected extension"
        )
    if r is None:
        r = (
            (sp.Integer(d) ** 2 + 1) ** sp.Rational(1, 4)
            if form == "printed"
            else sp.Integer(d + 1) ** sp.Rational(1, 4)
        )
    rho = sp.Integer(d + 1) ** sp.Rational(1, 2 * depth) if depth > 2 else r
    scale = rho ** (depth - 1) if depth > 2 else r
    W1 = sp.zeros(width, d)
    b1 = sp.zeros(width, 1)
    out = sp.zeros(1, width)
    for k, (i, j) in enumerate([(0, 0), (0, 1), (1, 0), (1, 1)]):
        W1[k, 0], W1[k, 1] = scale * (-1) ** i, scale * (-1) ** j
        b1[k] = -scale
        out[0, k] = sp.Integer((-1) ** (i + j)) / rho
    params = {"W1": W1, "b1": b1}
    for layer in range(2, depth):
        Wj = sp.zeros(width, width)
        for a in range(4):
            for b in range(4):
                Wj[a, b] = (1 if a == b else -1) / rho
        params[f"W{layer}"] = Wj
    params[f"W{depth}"] = out
    Xs = rational_matrix(np.asarray(X, dtype=np.float64))
    ys = tuple(Xs[i, 0] * Xs[i, 1] for i in range(Xs.rows))
    return ExactConstruction(
        "four-neuron solution (exact)",
        "Eq. (5); Proposition 4.2",
        MLP(depth=depth, bias=True),
        params,
        Xs,
        ys,
        form,
        {"r": r, "rho": rho, "width": width, "depth": depth},
    )


def exact_random_network(d: int, widths, seed: int = 0, *, bias: bool = True) -> dict:
    """Random MLP parameters with generic exact rationals (odd numerators over 64 and 128).

    Generic rationals keep pre-activations away from exact zeros; callers that need a kink-free
    network at given points redraw with the next seed when one occurs.
    """
    rng = np.random.default_rng(seed)
    dims = [d, *widths, 1]

    def draw(shape, denom):
        return rational_matrix((2 * rng.integers(-40, 40, size=shape) + 1) / denom)

    params = {"W1": draw((dims[1], d), 64)}
    if bias:
        params["b1"] = draw((dims[1], 1), 128)
    for j in range(2, len(dims)):
        params[f"W{j}"] = draw((dims[j], dims[j - 1]), 64)
    return params
