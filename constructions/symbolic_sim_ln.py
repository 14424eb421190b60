"""The 2-MLP-Sim-LN constructions of App. A.4 in exact arithmetic, for ``--exact``.

Same formulas as :mod:`constructions.sim_ln` (Theorem 5.1 / App. A.4.1, Proposition 5.1 /
App. A.4.2, Proposition 5.2 / Eq. (18)), with every entry an exact sympy number (rationals and
radicals), and eps exact too (e.g. sqrt(d+1)/2).

As in :mod:`constructions.symbolic`, the separating directions need not be unit vectors: the
float LP directions are taken as the exact rationals they are and their margins are recomputed
exactly; App. A.4.1 only uses w_i/delta and w_i^T x_i/delta, so a direction w and separation
delta build the same network as w/||w|| and delta/||w||. On the hypercube, "sphere" directions are
w_i = x_i, margin 2 against every other vertex; with delta < 2 this is App. A.4.2 exactly as printed
(W_1 = [2 eps x_i/delta], b_1 = [2 eps(-d + delta)/delta]) in the normalized regime.

The case split is exact: normalized iff 2 c_i >= eps (corrected) or c_i > eps (printed), with
c_i = ||x'_i|| |y_i| a radical; the comparison is proven, never rounded.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from constructions._checks import check_int
from constructions.architectures import SimLN
from constructions.construction import Form
from constructions.symbolic import ExactConstruction, _exact_directions, rational_matrix

__all__ = [
    "exact_epsilon",
    "exact_sim_ln_four_neuron_solution",
    "exact_sim_ln_memorizing_solution",
    "exact_sim_ln_xor_memorizing_solution",
]


def exact_epsilon(value, name: str = "eps") -> sp.Expr:
    """An exact positive number from a sympy number, an int, or a float (read as its shortest
    decimal, e.g. 0.7 -> 7/10, so what the user typed is what is used)."""
    if isinstance(value, sp.Basic):
        e = value
    elif isinstance(value, int):
        e = sp.Integer(value)
    elif isinstance(value, float):
        if not np.isfinite(value):
            raise ValueError(f"{name} must be finite, got {value!r}")
        e = sp.Rational(repr(value))
    else:
        raise ValueError(f"{name} must be a number, got {value!r}")
    if e.is_positive is not True:
        raise ValueError(f"{name} must be > 0, got {e}")
    return e


def _check_form(form: str) -> str:
    form = Form.parse(form)
    return form


def _normalized(c, eps, form: str) -> bool:
    """Exact case split of App. A.4.1 (see the module docstring)."""
    if form == "printed":
        return bool(sp.simplify(c - eps) != 0 and c > eps)
    return bool(sp.simplify(2 * c - eps) == 0 or 2 * c > eps)


def exact_sim_ln_memorizing_solution(
    X, y, eps, *, directions="lp", delta=None, form: str = "corrected"
) -> ExactConstruction:
    """App. A.4.1's memorizing 2-MLP-Sim-LN (Theorem 5.1) with exact entries.

    Args:
        X: (n, d) inputs (floats are taken as the exact rationals they are).
        y: (n,) labels.
        eps: the architecture's eps, exact (see :func:`exact_epsilon`).
        directions: "lp" (exact rationals of the LP directions) or "sphere" (w_i = x_i).
        delta: exact separation (default: half the smallest exact margin).
        form: "corrected" (normalized iff 2 c_i >= eps) or "printed" (iff c_i > eps).

    Returns:
        An :class:`~constructions.symbolic.ExactConstruction` whose ``arch`` is ``SimLN(float(eps))``
        and whose ``parameters["ln_eps"]`` is the exact eps; ``parameters["regimes"]`` lists
        each point's regime.
    """
    eps = exact_epsilon(eps)
    _check_form(form)
    Xf = np.asarray(X, dtype=np.float64)
    Xs = rational_matrix(Xf)
    ys = [sp.Rational(float(v)) for v in np.asarray(y, dtype=np.float64)]
    n, d = Xs.shape
    if len(ys) != n:
        raise ValueError(f"need one label per point, got {len(ys)} labels for {n} points")
    W, margins = _exact_directions(Xs, Xf, directions)
    min_margin = min(margins)
    if delta is None:
        delta = min_margin / 2 if min_margin != sp.oo else sp.Integer(1)
    else:
        delta = exact_epsilon(delta, "delta")
    r, u, regimes = [], [], []
    for i in range(n):
        c = sp.sqrt(sum(v**2 for v in Xs.row(i)) + 1) * abs(ys[i])
        if ys[i] == 0:
            r.append(sp.Integer(0))
            u.append(2 * eps)
            regimes.append("zero label")
        elif _normalized(c, eps, form):
            r.append(sp.Integer(1))
            u.append(2 * eps)
            regimes.append("normalized")
        else:
            r.append(sp.sqrt(eps / c))
            u.append(sp.sqrt(eps * c))
            regimes.append("linear")
    W1 = sp.Matrix(n, d, lambda i, k: u[i] * W[i, k] / delta)
    b1 = sp.Matrix(n, 1, lambda i, _: u[i] * (-(W.row(i) * Xs.row(i).T)[0, 0] + delta) / delta)
    W2 = sp.Matrix(1, n, lambda _, i: r[i] * ys[i])
    return ExactConstruction(
        "Sim-LN memorizing solution (exact)",
        "Theorem 5.1; App. A.4.1",
        SimLN(float(eps)),
        {"W1": W1, "b1": b1, "W2": W2},
        Xs,
        tuple(ys),
        form,
        {
            "ln_eps": eps,
            "delta": delta,
            "min_margin": min_margin,
            "directions": directions if isinstance(directions, str) else "given",
            "regimes": tuple(regimes),
        },
    )


def exact_sim_ln_xor_memorizing_solution(
    X, y, eps, *, delta=1, form: str = "corrected"
) -> ExactConstruction:
    """Proposition 5.1's memorizing 2-MLP-Sim-LN on hypercube data (App. A.4.2), exactly.

    Printed: W_1 = [2 eps x_i/delta], b_1 = [2 eps(-d + delta)/delta], W_2 = [y_i] (the normalized
    regime for every eps). Corrected: App. A.4.1 (corrected) with w_i = x_i and separation delta,
    identical to the printed form when 2 sqrt(d+1) >= eps, the linear regime beyond.
    """
    eps = exact_epsilon(eps)
    delta = exact_epsilon(delta, "delta")
    _check_form(form)
    Xf = np.asarray(X, dtype=np.float64)
    if Xf.ndim != 2 or Xf.shape[1] < 2 or not np.all(np.abs(Xf) == 1.0):
        raise ValueError("App. A.4.2's construction is built for points of {-1,1}^d (d >= 2)")
    if form == "corrected":
        cons = exact_sim_ln_memorizing_solution(
            X, y, eps, directions="sphere", delta=delta, form="corrected"
        )
        return ExactConstruction(
            "Sim-LN memorizing solution on P_xor (exact)",
            "Proposition 5.1; App. A.4.2 (via App. A.4.1)",
            cons.arch,
            cons.params,
            cons.X,
            cons.y,
            form,
            cons.parameters,
        )
    Xs = rational_matrix(Xf)
    ys = [sp.Rational(float(v)) for v in np.asarray(y, dtype=np.float64)]
    n, d = Xs.shape
    W1 = sp.Matrix(n, d, lambda i, k: 2 * eps * Xs[i, k] / delta)
    b1 = sp.Matrix(n, 1, lambda i, _: 2 * eps * (-d + delta) / delta)
    W2 = sp.Matrix(1, n, lambda _, i: ys[i])
    return ExactConstruction(
        "Sim-LN memorizing solution on P_xor (exact)",
        "Proposition 5.1; App. A.4.2",
        SimLN(float(eps)),
        {"W1": W1, "b1": b1, "W2": W2},
        Xs,
        tuple(ys),
        form,
        {"ln_eps": eps, "delta": delta, "regimes": ("normalized",) * n},
    )


def exact_sim_ln_four_neuron_solution(
    X, d: int, eps, *, width: int = 4, form: str = "corrected"
) -> ExactConstruction:
    """Eq. (18) (Proposition 5.2) with exact entries, evaluated on the training inputs ``X``.

    Corrected: neuron 2i+j+1 (i, j in {0, 1}) has W_1 = s[(-1)^i, (-1)^j, 0, ...], b_1 = -s and
    W_2 = o (-1)^{i+j}, with s = 2 eps, o = 1 when 2 sqrt(d+1) >= eps (normalized regime) and
    s = (eps sqrt(d+1))^(1/2), o = eps/s otherwise (linear regime). Printed: i, j in {1, 2}, neuron
    2i+j (1-based), s = 2 eps, o = 1, then neurons k > 4 zeroed (the two printed lines in order).
    """
    d = check_int("d", d, minimum=2)
    width = check_int("width", width, minimum=4)
    eps = exact_epsilon(eps)
    _check_form(form)
    W1, b1, W2 = sp.zeros(width, d), sp.zeros(width, 1), sp.zeros(1, width)
    c = sp.sqrt(d + 1)
    if form == "printed":
        s, o, regime = 2 * eps, sp.Integer(1), "normalized"
        for i in (1, 2):
            for j in (1, 2):
                k = 2 * i + j - 1  # 0-based index of the printed 1-based neuron 2i+j
                if k < width:
                    W1[k, 0], W1[k, 1], b1[k] = s * (-1) ** i, s * (-1) ** j, -s
                    W2[0, k] = sp.Integer((-1) ** (i + j))
        for k in range(4, width):  # "for all k > 4", applied after
            W1[k, :] = sp.zeros(1, d)
            b1[k] = 0
            W2[0, k] = 0
    else:
        if _normalized(c, eps, "corrected"):
            s, o, regime = 2 * eps, sp.Integer(1), "normalized"
        else:
            s = sp.sqrt(eps * c)
            o, regime = eps / s, "linear"
        for k, (i, j) in enumerate([(0, 0), (0, 1), (1, 0), (1, 1)]):
            W1[k, 0], W1[k, 1], b1[k] = s * (-1) ** i, s * (-1) ** j, -s
            W2[0, k] = o * (-1) ** (i + j)
    Xs = rational_matrix(np.asarray(X, dtype=np.float64))
    ys = tuple(Xs[i, 0] * Xs[i, 1] for i in range(Xs.rows))
    return ExactConstruction(
        "Sim-LN four-neuron solution (exact)",
        "Proposition 5.2; Eq. (18)",
        SimLN(float(eps)),
        {"W1": W1, "b1": b1, "W2": W2},
        Xs,
        ys,
        form,
        {"ln_eps": eps, "scale": s, "output": o, "regime": regime, "width": width},
    )
