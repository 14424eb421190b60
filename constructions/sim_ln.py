"""The 2-MLP-Sim-LN constructions of App. A.4: Theorem 5.1 (A.4.1), Prop. 5.1 (A.4.2) and
Prop. 5.2 (Eq. (18)).

The architecture is f(x) = W_2 h / max{||h||, eps}, h = relu(W_1 x + b_1). Write x' = (x, 1) and

.. math::  c_i = \\|x'_i\\|\\,|y_i| .

A training point is fitted in one of two *regimes* (Lemma A.12, :mod:`sharpness.architectures.sim_ln`):

* **normalized**, ||h(x_i)|| > eps: one active unit k with W_2[k] = y_i gives f(x_i) = y_i and
  ||grad f(x_i)||^2 = ||s||^2 = 1 (the first layer has zero gradient: s = h/||h|| = e_k does not
  move);
* **linear**, ||h(x_i)|| < eps: one active unit with h_k = t, W_2[k] = y_i eps / t gives
  ||grad f(x_i)||^2 = (t^2 + W_2[k]^2 ||x'_i||^2)/eps^2, minimal (= 2 c_i / eps) at t^2 = eps c_i.

The lower bound over all interpolators is min(1, 2 c_i / eps) per point, so the flattest regime
is *normalized* iff 2 c_i >= eps and *linear* iff 2 c_i < eps. At ||h|| = eps exactly the network
sits on the switch of the max and is not differentiable (unless f(x_i) = 0).

App. A.4.1 as printed (Theorem 5.1), for unit directions w_i with margins mu_i and 0 < delta <
min mu_i:

.. math::
    W_1 = [u_i w_i/\\delta]_i^\\top, \\quad b_1 = [u_i(-w_i^\\top x_i + \\delta)/\\delta]_i, \\quad
    W_2 = [r_i y_i]_i,

    (1)\\; r_i = 1,\\ u_i = 2\\epsilon \\text{ if } c_i > \\epsilon; \\quad
    (2)\\; r_i = (\\epsilon / c_i)^{1/2},\\ u_i = \\epsilon (c_i/\\epsilon)^{1/2}
        \\text{ if } 0 < c_i \\le \\epsilon; \\quad
    (3)\\; r_i = 0,\\ u_i = 2\\epsilon \\text{ if } y_i = 0 .

At x_i only unit i is active, with h_i = u_i: case (1) is the normalized regime (u = 2 eps),
case (2) the linear one (u^2 = eps c_i).

Deviation (1), form="corrected": the split between cases (1) and (2) is at 2 c_i = eps, not at
c_i = eps. As printed, a point with eps/2 < c_i < eps is put in the linear regime and costs
2 c_i / eps in (1, 2) where the bound is 1: not flattest; a point with c_i = eps gets
||h(x_i)|| = u_i = eps exactly, the switch of the max, where the Hessian does not exist. The
corrected form uses case (1) iff 2 c_i >= eps. The printed form is flattest iff no c_i lies in
(eps/2, eps], i.e. iff eps avoids every [c_i, 2 c_i), in particular for every eps < min_i c_i
("eps sufficiently small"); the corrected form is flattest for *every* eps > 0
(:func:`sharpness.architectures.sim_ln.memorizing_epsilon_range`).

Deviation (2), both forms: a zero label is built as printed (case (3): r = 0, u = 2 eps). Its
bound term is 0 but a memorizing (one-hot) network pays 1 (normalized) or t^2/eps^2 > 0 (linear)
for it: no memorizing solution attains the bound, so Theorem 5.1 needs nonzero labels.

App. A.4.2 as printed (Prop. 5.1), P_xor, 0 < delta < 2: W_1 = [2 eps x_i / delta]_i^T,
b_1 = [2 eps(-d + delta)/delta]_i, W_2 = [y_i]_i. This is A.4.1's case (1) with w_i = x_i/sqrt(d)
and margin delta/sqrt(d) (which separates x_i from the whole cube iff delta < 2); it is flattest
iff eps <= 2 sqrt(d+1) (the paper assumes eps < sqrt(d+1)). The corrected form is the corrected
A.4.1 with those directions: identical for eps <= 2 sqrt(d+1), linear regime beyond.

Eq. (18) as printed (Prop. 5.2): for i, j in [2], W_{1,2i+j} = 2 eps[(-1)^i, (-1)^j, 0, ..., 0],
b_1[2i+j] = -2 eps, W_2[2i+j] = (-1)^{i+j}; for k > 4, W_{1,k} = 0, b_1[k] = 0, W_2[k] = 0.

Deviation (3), form="corrected": with [2] = {1, 2} (the paper's notation) the first line defines
neurons 3..6 and the second zeroes neurons 5 and 6; built literally (lines applied in order) only
the two quadrants x[1] = -1 are covered and f = 0 on half the cube. Corrected: i, j in {0, 1},
neuron 2i+j+1 (1-based), i.e. the four quadrant neurons of Eq. (5). The scale 2 eps is right: at
every cube point exactly one unit is active, with h_k = 2 eps > eps, and f = (-1)^{i+j} =
x[1] x[2].

Deviation (4), form="corrected", Eq. (18) with eps > 2 sqrt(d+1): the bound per point is
2 sqrt(d+1)/eps < 1 and the normalized regime is not flattest; the corrected form uses the
linear regime, scale t = (eps sqrt(d+1))^{1/2} and W_2 = +-eps/t.

Deviation (5), form="corrected", A.4.1/A.4.2 on repeated samples: as printed (one neuron per
sample) a point occurring k times has k active units of equal h and f = sqrt(k) y there, so the
network does not interpolate. Corrected as :mod:`constructions.memorizing`'s Deviation (3): one
neuron per distinct point, and the n - n_distinct spare neurons either fire on one unseen
vertex each (``spare="xor"``) or are dead; at every training point their pre-activation is
strictly negative, so h, f and every second derivative of L there are unchanged.
"""

from __future__ import annotations

import math

import numpy as np

from constructions._checks import check_int, check_positive_float
from constructions.architectures import Network, SimLN
from constructions.construction import Construction, Form
from constructions.dataset import Dataset
from constructions.memorizing import DEAD_BIAS, Spare, memorizing_plan

__all__ = [
    "NORMALIZED",
    "LINEAR",
    "ZERO_LABEL",
    "sim_ln_constants",
    "sim_ln_scalings",
    "sim_ln_memorizing_solution",
    "sim_ln_xor_memorizing_solution",
    "sim_ln_four_neuron_solution",
]

#: Regimes of a training point (see the module docstring).
NORMALIZED, LINEAR, ZERO_LABEL = "normalized", "linear", "zero label"

_SIGNS_CORRECTED = [(0, 0), (0, 1), (1, 0), (1, 1)]  # (i, j) for neuron 2i + j + 1


def _check_form(form: str) -> str:
    form = Form.parse(form)
    return form


def sim_ln_constants(X, y) -> np.ndarray:
    """c_i = ||x'_i|| |y_i| with x' = (x, 1), the only data App. A.4 depends on."""
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if X.ndim != 2 or y.shape != (X.shape[0],):
        raise ValueError(f"need X (n, d) and y (n,), got shapes {X.shape} and {y.shape}")
    return np.sqrt(np.sum(X * X, axis=1) + 1.0) * np.abs(y)


def sim_ln_scalings(c, eps: float, form: str = "corrected"):
    """(r_i, u_i, regime_i) of App. A.4.1 for constants c_i = ||x'_i|| |y_i|.

    Printed: normalized iff c_i > eps; corrected: normalized iff 2 c_i >= eps (Deviation (1)).
    Normalized: r = 1, u = 2 eps. Linear: r = (eps/c)^(1/2), u = (eps c)^(1/2). Zero label:
    r = 0, u = 2 eps.

    Returns:
        Three arrays: r, u and the regime names.
    """
    eps = check_positive_float("eps", eps)
    _check_form(form)
    c = np.asarray(c, dtype=np.float64)
    if np.any(c < 0) or not np.all(np.isfinite(c)):
        raise ValueError("c must hold finite numbers >= 0")
    normal = c > eps if form == "printed" else 2.0 * c >= eps
    zero = c == 0
    linear = ~normal & ~zero
    safe = np.where(linear, c, 1.0)
    r = np.where(linear, np.sqrt(eps / safe), np.where(zero, 0.0, 1.0))
    u = np.where(linear, np.sqrt(eps * safe), 2.0 * eps)
    regime = np.where(zero, ZERO_LABEL, np.where(normal, NORMALIZED, LINEAR))
    return r, u, regime


def _regime_counts(regime) -> dict:
    return {name: int(np.sum(regime == name)) for name in (NORMALIZED, LINEAR, ZERO_LABEL)}


def sim_ln_memorizing_solution(
    dataset: Dataset,
    eps: float,
    *,
    directions="lp",
    delta: float | None = None,
    form: str = "corrected",
    spare: str = "dead",
) -> Construction:
    """Build the width-n memorizing 2-MLP-Sim-LN of Theorem 5.1 (App. A.4.1).

    Args:
        dataset: training set; its inputs must be a set of extreme points (Definition 4.1).
        eps: the architecture's epsilon in max{||h||, eps}.
        directions: "lp" (certified by linear programming), "sphere" (w_i = x_i/||x_i||), an
            (n, d) array, or an :class:`~constructions.ExtremePointCertificate`.
        delta: the separation parameter (the paper's delta), default half the smallest margin.
            Any value is accepted; delta >= a margin breaks memorization (the verifier says so).
        form: "corrected" (default) or "printed" (Deviation (1) in the module docstring). On
            repeated inputs printed keeps one neuron per sample (f = sqrt(k) y at a point
            occurring k times); corrected uses one neuron per distinct point and spares
            (:mod:`constructions.memorizing`, Deviation (3)).
        spare: "dead" (default) or "xor": what the n - n_distinct spare neurons do on repeated
            inputs (see :class:`constructions.memorizing.Spare`); an "xor" spare neuron is
            built as this construction's neuron for an unseen vertex v with label v[1] v[2] and
            separation 1/sqrt(d), so it fires only at v. No effect without repeats.

    Returns:
        The construction; ``parameters`` records eps, delta, the margins' minimum, the
        directions' method and how many points are in each regime (and, with repeated inputs,
        n_distinct and the spare neurons).

    Raises:
        ValueError: for bad arguments or equal inputs with different labels;
            NotExtremePointsError (a ValueError) names a point that is not a vertex of the
            convex hull.
    """
    eps = check_positive_float("eps", eps)
    _check_form(form)
    plan = memorizing_plan(dataset, directions, delta, form, spare, epsilon_name="delta")
    cert, delta = plan.cert, plan.epsilon
    X, y, W, e = plan.centers, plan.labels, plan.directions, plan.epsilons
    c = sim_ln_constants(X, y)
    r, u, regime = sim_ln_scalings(c, eps, form)
    b1 = u * (-np.sum(W * X, axis=1) + e) / e
    b1[~plan.alive] = DEAD_BIAS
    params = {
        "W1": (u / e)[:, None] * W,
        "b1": b1,
        "W2": (r * y)[None, :],
    }
    regime = regime[: plan.width - plan.n_fired - plan.n_dead]  # the training neurons
    c = sim_ln_constants(dataset.X, dataset.y)
    notes = []
    if form == "corrected":
        moved = int(np.sum((2 * c >= eps) & (c <= eps) & (c > 0)))
        notes.append(
            "(1) normalized regime iff 2 c_i >= eps (printed: c_i > eps); "
            f"{moved} point(s) move from the printed linear case to the normalized one"
        )
    if np.any(y == 0):
        notes.append(
            "(2) zero labels: built as printed (r = 0, u = 2 eps); no memorizing solution attains "
            "the bound for them"
        )
    if plan.groups.has_repeats:
        g = plan.groups
        notes.append(
            f"(5) {dataset.n} samples, {g.n_distinct} distinct: "
            + (
                "one neuron per sample as printed (f = sqrt(k) y at a point occurring k times)"
                if form == "printed"
                else f"one neuron per distinct point; {plan.n_fired} spare neuron(s) fire on "
                f"one unseen cube vertex each, {plan.n_dead} dead"
            )
        )
    return Construction(
        name="Sim-LN memorizing solution",
        reference="Theorem 5.1; App. A.4.1",
        network=Network(SimLN(eps), params),
        form=form,
        parameters={
            "ln_eps": eps,
            "delta": float(delta),
            "min_margin": cert.min_margin,
            "directions": cert.method,
            "regimes": _regime_counts(regime),
            **plan.describe(),
        },
        notes=tuple(notes),
    )


def _require_cube(dataset: Dataset, what: str) -> None:
    if dataset.d < 2 or not np.all(np.abs(dataset.X) == 1.0):
        raise ValueError(f"{what} is built for points of {{-1,1}}^d (d >= 2)")


def sim_ln_xor_memorizing_solution(
    dataset: Dataset,
    eps: float,
    *,
    delta: float = 1.0,
    form: str = "corrected",
    spare: str = "xor",
) -> Construction:
    """Build the memorizing 2-MLP-Sim-LN of Proposition 5.1 (App. A.4.2) for hypercube data.

    Printed: W_1 = [2 eps x_i/delta], b_1 = [2 eps(-d + delta)/delta], W_2 = [y_i]. Corrected:
    App. A.4.1 (corrected) with w_i = x_i/sqrt(d) and separation delta/sqrt(d), the same weights
    wherever the normalized regime is flattest (2 ||x'_i|| |y_i| >= eps).

    Repeated samples (P_xor draws i.i.d.): printed keeps one neuron per sample, so a point
    occurring k times has k active units with h = 2 eps each and f = k y / sqrt(k) = sqrt(k) y
    there (no interpolation); corrected uses one neuron per distinct point and each of the
    n - n_distinct spare neurons fires on one unseen vertex v with f(v) = v[1] v[2]
    (``spare="xor"``, the default; App. A.4.2's neuron for v with delta = 1), so the cube error
    is max{1 - n/2^d, 0}.

    Args:
        dataset: points of {-1,1}^d with their labels (repeats allowed).
        eps: the architecture's epsilon.
        delta: A.4.2's delta; every neuron fires only at its own point of the cube iff
            0 < delta < 2 (any positive value is accepted; the verifier checks it).
        form: "corrected" (default) or "printed".
        spare: "xor" (default) or "dead", the spare neurons on repeated inputs (corrected form).

    Raises:
        ValueError: for bad arguments, points off the hypercube or equal inputs with different
            labels.
    """
    eps = check_positive_float("eps", eps)
    delta = check_positive_float("delta", delta)
    _check_form(form)
    Spare.parse(spare)
    _require_cube(dataset, "App. A.4.2's construction")
    d = dataset.d
    if form == "printed":
        X, y = dataset.X, dataset.y
        params = {
            "W1": 2 * eps * X / delta,
            "b1": np.full(dataset.n, 2 * eps * (-d + delta) / delta),
            "W2": y[None, :].copy(),
        }
        regime = np.full(dataset.n, NORMALIZED)
        regime[y == 0] = ZERO_LABEL
        return Construction(
            name="Sim-LN memorizing solution on P_xor",
            reference="Proposition 5.1; App. A.4.2",
            network=Network(SimLN(eps), params),
            form=form,
            parameters={"ln_eps": eps, "delta": delta, "regimes": _regime_counts(regime)},
        )
    w = dataset.X / math.sqrt(d)
    inner = sim_ln_memorizing_solution(
        dataset, eps, directions=w, delta=delta / math.sqrt(d), form="corrected", spare=spare
    )
    params = dict(inner.parameters)
    params["delta"] = delta
    return Construction(
        name="Sim-LN memorizing solution on P_xor",
        reference="Proposition 5.1; App. A.4.2 (via App. A.4.1)",
        network=inner.network,
        form=form,
        parameters=params,
        notes=(
            "App. A.4.1 (corrected) with w_i = x_i/sqrt(d) and separation delta/sqrt(d): equal "
            "to A.4.2 as printed where the normalized regime is flattest (eps <= 2 sqrt(d+1)); "
            "the linear regime beyond",
            *(note for note in inner.notes if note.startswith("(5)")),
        ),
    )


def sim_ln_four_neuron_solution(
    d: int, eps: float, *, width: int = 4, form: str = "corrected", scale: float | None = None
) -> Construction:
    """Build Eq. (18) (Proposition 5.2): a 2-MLP-Sim-LN with f = x[1] x[2] on all of {-1,1}^d.

    Args:
        d: input dimension >= 2.
        eps: the architecture's epsilon.
        width: hidden width >= 4 (extra neurons are zero, as printed).
        form: "corrected" (default: neurons 2i+j+1 for i, j in {0, 1}; linear regime when
            eps > 2 sqrt(d+1)) or "printed" (i, j in {1, 2}, neurons 2i+j, then neurons > 4
            zeroed, as the two printed lines read in order).
        scale: override the neurons' scale s (corrected form only), to explore the sharpness
            as a function of s: W_2 = +-1 if s >= eps (normalized regime; s = eps is the
            switch), +-eps/s otherwise (linear regime).

    Raises:
        ValueError: for d < 2, width < 4, eps <= 0, scale <= 0, or a scale with form="printed".
    """
    d = check_int("d", d, minimum=2)
    width = check_int("width", width, minimum=4)
    eps = check_positive_float("eps", eps)
    _check_form(form)
    if scale is not None:
        if form == "printed":
            raise ValueError("scale can only be overridden with form='corrected'")
        scale = check_positive_float("scale", scale)
    W1 = np.zeros((width, d))
    b1 = np.zeros(width)
    W2 = np.zeros((1, width))
    c = math.sqrt(d + 1)  # ||x'|| |y| at every cube point
    notes = []
    if form == "printed":
        scale, out = 2 * eps, 1.0
        for i in (1, 2):
            for j in (1, 2):
                k = 2 * i + j  # 1-based, as printed
                if k - 1 < width:
                    W1[k - 1, 0], W1[k - 1, 1] = scale * (-1) ** i, scale * (-1) ** j
                    b1[k - 1] = -scale
                    W2[0, k - 1] = (-1) ** (i + j)
        W1[4:], b1[4:], W2[0, 4:] = 0.0, 0.0, 0.0  # "for all k > 4", applied after
        regime = NORMALIZED
    else:
        if scale is not None:
            out, regime = (1.0, NORMALIZED) if scale >= eps else (eps / scale, LINEAR)
        elif 2 * c >= eps:
            scale, out, regime = 2 * eps, 1.0, NORMALIZED
        else:
            scale = math.sqrt(eps * c)
            out, regime = eps / scale, LINEAR
            notes.append(
                f"(4) eps = {eps:.6g} > 2 sqrt(d+1) = {2 * c:.6g}: linear regime, scale "
                f"(eps sqrt(d+1))^(1/2) = {scale:.6g}, output weights +-{out:.6g}"
            )
        for k, (i, j) in enumerate(_SIGNS_CORRECTED):
            W1[k, 0], W1[k, 1] = scale * (-1) ** i, scale * (-1) ** j
            b1[k] = -scale
            W2[0, k] = out * (-1) ** (i + j)
        notes.insert(0, "(3) i, j in {0, 1} and neuron 2i+j+1 (1-based)")
    return Construction(
        name="Sim-LN four-neuron solution",
        reference="Proposition 5.2; Eq. (18)",
        network=Network(SimLN(eps), {"W1": W1, "b1": b1, "W2": W2}),
        form=form,
        parameters={"ln_eps": eps, "width": width, "scale": scale, "regime": regime},
        notes=tuple(notes),
    )
