"""Precision is not a verdict: decide at higher precision what float64 cannot decide.

A float check compares a float64 value with the tolerance policy (rtol 1e-9,
:mod:`constructions.tolerance`). For a claim about a *mathematical* construction that is not
enough when the construction is ill-conditioned: the memorizing construction of Theorem 4.1 at
epsilon = 3.7e-8 (400 points on a circle) has first-layer weights u_i/epsilon ~ 3e7 that cancel
in W_1 x_i + b_1 down to u_i ~ 1, so float64 weights and float64 arithmetic leave errors of
1/epsilon times the unit roundoff in f(x_i) and in the trace: about 1e-8, above the tolerance.

This module separates the two questions.

1. **Can float64 decide?** :func:`float64_conditioning` propagates a first-order bound on the
   float64 error of the network's outputs and of (2/n) sum ||grad f||^2, counting both the
   arithmetic (Higham's gamma_k |W||a|, as in :mod:`sharpness._rounding`) and the rounding of the
   weights themselves (at most ``kappa`` ulps each, checked against the rebuild below). A failed
   float check whose miss is within that bound is *undecided at float64*; one that misses by more
   is a genuine failure and stays as it is.
2. **Decide with more precision.** The construction is rebuilt in mpmath interval arithmetic
   (outward rounding, e.g. :func:`constructions.memorizing.memorizing_weights_interval`), and the
   quantities are re-evaluated there as rigorous enclosures of their exact values
   (:class:`IntervalEvaluation`). A check passes only if its whole enclosure is within a
   tolerance ~1e-40 far below anything float64 could resolve, and fails if it is certainly
   outside: a construction that is really wrong (a weight off by 1e-8, Eq. (4) without sign(y_i),
   an epsilon above a margin) fails at every precision.

The exact trace, for a ReLU MLP with the training points off every kink. With z_l the
pre-activations, v_l = d f / d z_l and a'_0 = (x, 1) (bias) or x, every weight W_l[a, b] enters
z_l[a] linearly with coefficient a'_{l-1}[b] (:mod:`sharpness.trace.hessian`), so

.. math::
    \\mathrm{Tr}\\,\\nabla^2 L = \\frac1n \\sum_i \\Big[\\sum_{l<D} \\sum_a h_{i,l,a}
        \\|a'_{i,l-1}\\|^2 + 2 \\|a_{i,D-1}\\|^2\\Big],
    \\qquad h_{i,l,a} = 2 v_{i,l}[a]^2 + 2 (f_i - y_i)\\, \\partial^2 f_i / \\partial z_l[a]^2 .

On a certified activation region f is piecewise linear in z_l (ReLU'' = 0; the later layers are
linear with a fixed pattern), so the curvature term is exactly 0 for every depth D >= 2, with or
without interpolation, and Tr(nabla^2 L) = (2/n) sum_i ||grad_theta f(x_i)||^2 (Lemma 4.1). The
interval evaluation certifies the pattern (every hidden pre-activation's enclosure excludes 0,
or the unit is harmless in the sense of :mod:`sharpness.trace.kinks`) before it uses this; a
fatal or undecidable kink leaves the trace undefined and the check failed.

The lower bound (2/n) sum_i D |y_i|^{2(D-1)/D} ||x'_i||^{2/D} (:mod:`sharpness.bounds.jacobian`)
is enclosed from the data the same way.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from constructions import MLP, Network
from constructions._checks import check_int
from constructions.memorizing import interval_digits, memorizing_weights_interval
from verify.report import CheckResult

__all__ = [
    "Conditioning",
    "Decidable",
    "Escalation",
    "IntervalEvaluation",
    "IntervalMLP",
    "Precision",
    "float64_conditioning",
    "memorizing_escalation",
]

#: float64 unit roundoff 2^-53.
U64 = 2.0**-53
#: Ulps by which a float64 weight may differ from the exact weight it rounds (a few correctly
#: rounded operations each; checked against the interval rebuild before it is relied on).
KAPPA = 8
#: Tolerance of the high-precision decision, far below float64 and far above the enclosures'
#: width at the chosen precision.
HIGH_RTOL = 1e-40
HIGH_ATOL = 1e-43

_ACTIVE, _DEAD, _KINK = 1, 0, -1


def _gamma(k: int, u: float = U64) -> float:
    return k * u / (1 - k * u)


@dataclass(frozen=True)
class Precision:
    """A precision to decide at: mpmath intervals of ``digits`` decimal digits, and a tolerance.

    A measured enclosure M passes against an expected enclosure E iff every point of M - E is
    within atol + rtol |E| (for every point of E): the decision holds for the exact values.
    """

    digits: int
    rtol: float = HIGH_RTOL
    atol: float = HIGH_ATOL

    def __post_init__(self) -> None:
        check_int("digits", self.digits, minimum=20)
        for name in ("rtol", "atol"):
            v = getattr(self, name)
            if not (isinstance(v, int | float) and math.isfinite(v) and v >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {v!r}")

    @classmethod
    def for_amplification(cls, amplification: float, *, minimum: int = 60) -> Precision:
        """Digits that leave 10 digits between the amplified roundoff and rtol = 1e-40."""
        extra = (
            math.ceil(math.log10(max(amplification, 1.0))) if math.isfinite(amplification) else 0
        )
        return cls(max(minimum, math.ceil(-math.log10(HIGH_RTOL)) + extra + 10))

    def describe(self) -> str:
        return f"mpmath intervals, {self.digits} digits, rtol={self.rtol:g}, atol={self.atol:g}"

    def verdict(self, measured, expected):
        """True (certainly within tolerance), False (certainly not) or None (undecided)."""
        with interval_digits(self.digits) as iv:
            diff = abs(measured - expected)
            mag = abs(expected)
            atol, rtol = iv.mpf(self.atol), iv.mpf(self.rtol)
            if (diff.b <= atol + rtol * mag.a) is True:
                return True
            if (diff.a > atol + rtol * mag.b) is True:
                return False
            return None


def _iv():
    from mpmath import iv

    return iv


def _hi(x) -> float:
    """The upper endpoint of an interval, as a float."""
    return float(x.b)


def _mid(x) -> float:
    return float(x.mid)


def _exactly_zero(x) -> bool:
    return x.a == 0 and x.b == 0


# --- an MLP with interval weights -------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class IntervalMLP:
    """A ReLU MLP(-Bias) whose weights are mpmath intervals (lists of rows, b1 a list).

    Args:
        arch: the :class:`~constructions.MLP` (ReLU).
        params: ``{"W1": rows, "b1": list, "W2": rows, ...}`` of ``mpmath.iv.mpf``.
        digits: decimal digits the evaluation runs at.
    """

    arch: MLP
    params: Mapping[str, list]
    digits: int

    def __post_init__(self) -> None:
        if not isinstance(self.arch, MLP) or self.arch.activation != "relu":
            raise ValueError(f"interval evaluation is implemented for ReLU MLPs, got {self.arch!r}")
        if set(self.params) != set(self.arch.param_names):
            raise ValueError(
                f"params must be {sorted(self.arch.param_names)}, got {sorted(self.params)}"
            )
        check_int("digits", self.digits, minimum=16)

    @classmethod
    def from_network(cls, net: Network, digits: int) -> IntervalMLP:
        """The float64 weights of ``net`` themselves, exactly (degenerate intervals)."""
        with interval_digits(digits) as iv:
            params = {}
            for k, v in net.params.items():
                a = v.detach().numpy()
                if a.ndim == 1:
                    params[k] = [iv.mpf(float(x)) for x in a]
                else:
                    params[k] = [[iv.mpf(float(x)) for x in row] for row in a]
        return cls(net.arch, params, digits)

    def rounded(self) -> Network:
        """The float64 network of the midpoints (the weights rounded to float64)."""
        out = {}
        for k, v in self.params.items():
            if v and isinstance(v[0], list):
                out[k] = np.array([[_mid(x) for x in row] for row in v])
            else:
                out[k] = np.array([_mid(x) for x in v])
        return Network(self.arch, out)

    def max_ulps_from(self, net: Network) -> float:
        """max over weights of |float64 weight - exact weight| in float64 ulps of the weight."""
        worst = 0.0
        for k, v in self.params.items():
            a = net.params[k].detach().numpy()
            rows = v if a.ndim == 2 else [v]
            arr = a if a.ndim == 2 else a[None, :]
            for row, frow in zip(rows, arr, strict=True):
                for x, f in zip(row, frow, strict=True):
                    far = max(abs(float(x.a) - f), abs(float(x.b) - f))
                    if far:
                        ulp = math.ulp(abs(f)) if f else math.ulp(abs(float(x.b)))
                        worst = max(worst, far / ulp)
        return worst


@dataclass(frozen=True, eq=False)
class _Point:
    """One training point through an :class:`IntervalMLP`."""

    inputs: list  # a'_0: x (and 1 with a bias)
    status: list  # per hidden layer: list of _ACTIVE / _DEAD / _KINK
    acts: list  # per hidden layer: {unit: relu(z) enclosure} for units not dead
    output: object


class IntervalEvaluation:
    """Rigorous enclosures of f(x_i), the activation pattern, the trace and the bound.

    Args:
        model: the interval network.
        X, y: the training set (float64 numbers, taken as exact).
        precision: the tolerance of :meth:`Precision.verdict` (``model.digits`` is used to evaluate).
    """

    def __init__(self, model: IntervalMLP, X, y, precision: Precision):
        self.model = model
        self.X = np.asarray(X, dtype=np.float64)
        self.y = np.asarray(y, dtype=np.float64)
        self.precision = precision
        self.n = self.X.shape[0]

    # forward ---------------------------------------------------------------------------------
    @cached_property
    def points(self) -> list[_Point]:
        arch, p = self.model.arch, self.model.params
        out = []
        with interval_digits(self.model.digits) as iv:
            zero = iv.mpf(0)
            for x in self.X:
                xs = [iv.mpf(float(v)) for v in x]
                inputs = xs + ([iv.mpf(1)] if arch.bias else [])
                rows = p["W1"]
                b1 = p["b1"] if arch.bias else None
                z = [
                    iv.fsum([w * v for w, v in zip(row, xs, strict=True)] + ([b1[k]] if b1 else []))
                    for k, row in enumerate(rows)
                ]
                statuses, acts = [], []
                alive_inputs = arch.bias or bool(np.any(x != 0))
                for j in range(2, arch.depth + 1):
                    st, a = self._relu(z, alive_inputs)
                    statuses.append(st)
                    acts.append(a)
                    W = p[f"W{j}"]
                    alive_inputs = bool(a)
                    if a:
                        z = [iv.fsum(row[m] * am for m, am in a.items()) for row in W]
                    else:
                        z = [zero for _ in W]
                out.append(_Point(inputs, statuses, acts, z[0]))
        return out

    @staticmethod
    def _relu(z, alive_inputs: bool):
        iv = _iv()
        status, acts = [], {}
        for k, zk in enumerate(z):
            if (zk > 0) is True:
                status.append(_ACTIVE)
                acts[k] = zk
            elif (zk < 0) is True or not alive_inputs:
                status.append(_DEAD)
            else:
                status.append(_KINK)
                acts[k] = iv.mpf([0, zk.b])  # zk.a <= 0 <= zk.b
        return status, acts

    @cached_property
    def outputs(self) -> list:
        return [pt.output for pt in self.points]

    @cached_property
    def residuals(self) -> list:
        """Enclosures of |f(x_i) - y_i|."""
        with interval_digits(self.model.digits) as iv:
            return [abs(f - iv.mpf(float(y))) for f, y in zip(self.outputs, self.y, strict=True)]

    @cached_property
    def interpolated(self) -> list:
        """Per point: True / False / None (:meth:`Precision.verdict` of f(x_i) against y_i)."""
        with interval_digits(self.model.digits) as iv:
            return [
                self.precision.verdict(f, iv.mpf(float(y)))
                for f, y in zip(self.outputs, self.y, strict=True)
            ]

    # kinks -----------------------------------------------------------------------------------
    def _reaches(self, pt: _Point, layer: int, unit: int, nonzero: bool) -> bool:
        """A path from hidden unit (layer, unit) to the output through non-dead units
        (with every weight not exactly zero if ``nonzero``)."""
        D = self.model.arch.depth
        W = self.model.params[f"W{layer + 1}"]
        if layer == D - 1:
            return not (nonzero and _exactly_zero(W[0][unit]))
        nxt = pt.status[layer]  # statuses of layer + 1 (0-based list)
        return any(
            nxt[m] != _DEAD
            and not (nonzero and _exactly_zero(W[m][unit]))
            and self._reaches(pt, layer + 1, m, nonzero)
            for m in range(len(W))
        )

    @cached_property
    def kinks(self) -> tuple[list, list]:
        """(fatal, harmless): (point, layer, unit) of pre-activations whose enclosure meets 0."""
        fatal, harmless = [], []
        for i, pt in enumerate(self.points):
            for layer, st in enumerate(pt.status, start=1):
                for k, s in enumerate(st):
                    if s != _KINK:
                        continue
                    ok = not self._reaches(pt, layer, k, True) and (
                        self.interpolated[i] is True or not self._reaches(pt, layer, k, False)
                    )
                    (harmless if ok else fatal).append((i, layer, k))
        return fatal, harmless

    @property
    def certified(self) -> bool:
        """Every training point is off every fatal kink: the Hessian of L exists."""
        return not self.kinks[0]

    # gradients and traces --------------------------------------------------------------------
    @cached_property
    def _sides(self) -> tuple:
        """(trace, lemma41 sum) enclosures, or (None, None) if a fatal kink leaves them undefined.

        trace: the Hessian-diagonal form of the module docstring (curvature term 0 on the
        certified pattern); lemma41: (2/n) sum_i of the squared gradient entries v_l[a] a'_{l-1}[b].
        """
        if not self.certified:
            return None, None
        arch, p = self.model.arch, self.model.params
        D = arch.depth
        with interval_digits(self.model.digits) as iv:
            zero = iv.mpf(0)
            trace_terms, lemma_terms = [], []
            for i, pt in enumerate(self.points):
                resid = self.outputs[i] - iv.mpf(float(self.y[i]))
                layer_inputs = [dict(enumerate(pt.inputs))] + pt.acts  # a'_0, a_1, ..., a_{D-1}
                # v_{D-1} = W_D on the active units; v_l = (W_{l+1}^T v_{l+1}) on active units.
                vs = [None] * D
                vs[D - 1] = {
                    k: p[f"W{D}"][0][k] for k, s in enumerate(pt.status[D - 2]) if s == _ACTIVE
                }
                for layer in range(D - 2, 0, -1):
                    W = p[f"W{layer + 1}"]
                    vs[layer] = {
                        k: iv.fsum(W[m][k] * vm for m, vm in vs[layer + 1].items())
                        for k, s in enumerate(pt.status[layer - 1])
                        if s == _ACTIVE
                    }
                last = layer_inputs[D - 1]
                t = 2 * iv.fsum(a * a for a in last.values()) if last else zero
                g = iv.fsum(a * a for a in last.values()) if last else zero
                for layer in range(1, D):
                    ins, v_l = layer_inputs[layer - 1], vs[layer]
                    if not (ins and v_l):
                        continue
                    norm_in = iv.fsum(a * a for a in ins.values())
                    curvature = zero  # d^2 f / d z_l[a]^2 = 0 on a certified ReLU pattern
                    t += iv.fsum(
                        (2 * v * v + 2 * resid * curvature) * norm_in for v in v_l.values()
                    )
                    g += iv.fsum((v * a) ** 2 for v in v_l.values() for a in ins.values())
                trace_terms.append(t)
                lemma_terms.append(g)
            n = iv.mpf(self.n)
            return iv.fsum(trace_terms) / n, 2 * iv.fsum(lemma_terms) / n

    @property
    def trace(self):
        """Enclosure of Tr(nabla^2 L), or None where the Hessian does not exist."""
        return self._sides[0]

    @property
    def lemma41(self):
        """Enclosure of (2/n) sum ||grad_theta f(x_i)||^2, or None at a fatal kink."""
        return self._sides[1]

    @cached_property
    def bound(self):
        """Enclosure of the Jacobian lower bound (2/n) sum D |y|^{2(D-1)/D} ||x'||^{2/D}."""
        D, bias = self.model.arch.depth, self.model.arch.bias
        with interval_digits(self.model.digits) as iv:
            terms = []
            for x, y in zip(self.X, self.y, strict=True):
                if y == 0:
                    continue
                sq = iv.fsum([iv.mpf(float(v)) ** 2 for v in x] + ([iv.mpf(1)] if bias else []))
                if _exactly_zero(sq):
                    continue
                ay = abs(iv.mpf(float(y)))
                if D == 2:
                    terms.append(2 * ay * iv.sqrt(sq))
                else:
                    terms.append(D * iv.exp(iv.log(ay) * (2 * (D - 1)) / D + iv.log(sq) / D))
            return 2 * iv.fsum(terms) / iv.mpf(self.n) if terms else iv.mpf(0)


# --- can float64 decide? ----------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Conditioning:
    """First-order bounds on what float64 rounding can do to a network's checked quantities.

    Attributes:
        output_error: (n,) bound on |computed f(x_i) - exact f(x_i)|.
        trace_error: bound on |computed - exact| (2/n) sum ||grad f||^2 (inf at an undecided sign).
        cancellation: the largest (|W||a| + |b|) / |z| over certainly active units and outputs.
        weight_scale: the largest |weight|.
        kappa: ulps assumed for the rounding of each weight.
    """

    output_error: np.ndarray
    trace_error: float
    cancellation: float
    weight_scale: float
    kappa: int

    def why(self, cause: str = "") -> str:
        """The cancellation that amplifies float64 rounding, in words."""
        cause = f"; {cause}" if cause else ""
        return (
            f"weights up to {self.weight_scale:.2g}{cause}: the pre-activations cancel terms up "
            f"to {self.cancellation:.2g} times their value, so the rounding of each weight (within "
            f"{self.kappa} ulps) and of each operation (unit roundoff {U64:.2g}) is amplified"
        )


def float64_conditioning(net: Network, X, *, kappa: int = KAPPA) -> Conditioning:
    """Bounds on the float64 error of f(x_i) and of (2/n) sum ||grad f(x_i)||^2 at ``net``.

    Errors are measured from the *exact* quantities of the exact weights that ``net``'s weights
    round (each within ``kappa`` ulps): Higham's |fl(W a + b) - (W a + b)| <= gamma_{k+1}
    (|W||a| + |b|) for the arithmetic, plus 2 kappa u (|W||a| + |b|) for the weights, propagated
    through the layers (ReLU is 1-Lipschitz) and, for the gradient norms, through the backward
    pass and the products ||v_l||^2 ||a'_{l-1}||^2. First order in u: an estimate of what
    float64 can explain, used to decide whether to escalate -- never to pass a check.
    """
    arch = net.arch
    p = {k: v.detach().numpy().astype(np.float64) for k, v in net.params.items()}
    X = np.asarray(X, dtype=np.float64)
    n = X.shape[0]
    D = arch.depth
    wrel = 2 * kappa * U64
    W1 = p["W1"]
    z = X @ W1.T
    M = np.abs(X) @ np.abs(W1).T
    if arch.bias:
        z = z + p["b1"]
        M = M + np.abs(p["b1"])
    E = (_gamma(W1.shape[1] + 1) + wrel) * M
    zs, Es, Ms = [z], [E], [M]
    acts, act_err = [], []
    for j in range(2, D + 1):
        a = np.maximum(z, 0.0)
        ea = np.where(z + E <= 0, 0.0, E)
        acts.append(a)
        act_err.append(ea)
        W = p[f"W{j}"]
        z = a @ W.T
        M = a @ np.abs(W).T
        E = ea @ np.abs(W).T + (_gamma(W.shape[1] + 1) + wrel) * M
        zs.append(z)
        Es.append(E)
        Ms.append(M)
    out_err = E[:, 0]
    cancel = 0.0
    for z, E, M in zip(zs, Es, Ms, strict=True):
        sure = np.abs(z) > E
        if np.any(sure):
            cancel = max(cancel, float(np.max(M[sure] / np.abs(z[sure]))))
    scale = max(float(np.max(np.abs(v))) if v.size else 0.0 for v in p.values())
    # Backward: v_{D-1} = W_D on the active units, v_l = (W_{l+1}^T v_{l+1}) on the active units.
    hidden = list(zip(zs[:-1], Es[:-1], strict=True))
    certain = all(np.all((z > E) | (z + E <= 0)) for z, E in hidden)
    if not certain:
        return Conditioning(out_err, math.inf, cancel, scale, kappa)
    masks = [(z > E).astype(np.float64) for z, E in hidden]
    v = p[f"W{D}"][0][None, :] * masks[-1]
    ev = wrel * np.abs(p[f"W{D}"][0])[None, :] * masks[-1]
    vs, evs = {D - 1: v}, {D - 1: ev}
    for layer in range(D - 2, 0, -1):
        W = p[f"W{layer + 1}"]
        v_next, ev_next = vs[layer + 1], evs[layer + 1]
        vs[layer] = (v_next @ W) * masks[layer - 1]
        evs[layer] = (
            ev_next @ np.abs(W) + (_gamma(W.shape[0] + 1) + wrel) * (np.abs(v_next) @ np.abs(W))
        ) * masks[layer - 1]

    def sq_and_err(a, e):
        m = a.shape[1]
        s = np.sum(a * a, axis=1)
        return s, np.sum(2 * np.abs(a) * e + e * e, axis=1) + _gamma(m) * s

    inputs0 = np.hstack([X, np.ones((n, 1))]) if arch.bias else X
    layer_in = [(inputs0, np.zeros_like(inputs0))] + list(zip(acts, act_err, strict=True))
    total = np.zeros(n)
    err = np.zeros(n)
    A, dA = sq_and_err(*layer_in[D - 1])
    total += A
    err += dA + 2 * U64 * A
    for layer in range(1, D):
        A, dA = sq_and_err(*layer_in[layer - 1])
        V, dV = sq_and_err(vs[layer], evs[layer])
        total += V * A
        err += V * dA + A * dV + dA * dV + 2 * U64 * V * A
    T = 2.0 / n * float(np.sum(total))
    trace_err = 2.0 / n * float(np.sum(err)) + _gamma(n * (D + 1)) * T
    return Conditioning(out_err, trace_err, cancel, scale, kappa)


# --- escalation -------------------------------------------------------------------------------


class Decidable(enum.StrEnum):
    """The float checks that can be decided again at higher precision."""

    INTERPOLATION = "interpolation"
    TRACE_IDENTITY = "trace identity"
    TRACE_BOUND = "trace bound"


class Escalation:
    """Re-decide, at higher precision, float checks that float64 cannot decide.

    Args:
        ev: the float64 :class:`verify.checks.Evaluation` of a ReLU MLP.
        build: ``digits -> interval weights`` of the exact network whose float64 rounding is
            ``ev.net`` (e.g. a partial of
            :func:`constructions.memorizing.memorizing_weights_interval`). Without it, the
            float64 weights themselves are taken as the exact network.
        what: what ``build`` rebuilds, for the report.
        cause: where the ill-conditioning comes from, for the report (e.g. "1/epsilon = 3e7").
        kappa: ulps a float64 weight may be off from its exact value (the rebuild must agree).
    """

    def __init__(
        self,
        ev,
        build: Callable[[int], Mapping[str, list]] | None = None,
        *,
        what: str = "the network's own float64 weights, exactly",
        cause: str = "",
        kappa: int = KAPPA,
    ):
        self.ev = ev
        self.build = build
        self.what = what
        self.cause = cause
        self.kappa = kappa

    @property
    def applicable(self) -> bool:
        arch = self.ev.net.arch
        return isinstance(arch, MLP) and arch.activation == "relu"

    @cached_property
    def conditioning(self) -> Conditioning:
        return float64_conditioning(self.ev.net, self.ev.dataset.X, kappa=self.kappa)

    @cached_property
    def precision(self) -> Precision:
        c = self.conditioning
        y = np.maximum(np.abs(self.ev.dataset.y), 1.0)
        amp = float(np.max(c.output_error / (U64 * y)))
        trace = abs(self.ev.lemma41) or 1.0
        if math.isfinite(c.trace_error):
            amp = max(amp, c.trace_error / (U64 * trace))
        return Precision.for_amplification(amp)

    @cached_property
    def model(self) -> IntervalMLP:
        digits = self.precision.digits
        if self.build is None:
            return IntervalMLP.from_network(self.ev.net, digits)
        return IntervalMLP(self.ev.net.arch, self.build(digits), digits)

    @cached_property
    def mismatch(self) -> float:
        """Ulps between the float64 weights and the rebuild (must be <= kappa to escalate)."""
        return self.model.max_ulps_from(self.ev.net)

    @cached_property
    def high(self) -> IntervalEvaluation:
        ds = self.ev.dataset
        return IntervalEvaluation(self.model, ds.X, ds.y, self.precision)

    def decide(self, check: CheckResult, which: Decidable) -> CheckResult:
        """``check`` itself if it passed or failed beyond float64's rounding; else the verdict at
        :attr:`precision`, with float64's margin, the precision it would need and why."""
        which = Decidable(which)
        if check.passed or not self.applicable:
            return check
        triage = self._triage(which)
        if triage is None:
            return check
        undecided = "float64 cannot decide: " + triage
        if self.mismatch > self.kappa:
            return _replace_detail(
                check,
                f"{check.detail}; {undecided}; not escalated: the rebuild at higher precision "
                f"differs from these float64 weights by {self.mismatch:.3g} ulps "
                f"(> {self.kappa}), so it is not the network checked here",
            )
        return {
            Decidable.INTERPOLATION: self._interpolation,
            Decidable.TRACE_IDENTITY: self._identity,
            Decidable.TRACE_BOUND: self._bound,
        }[which](check, undecided)

    # float64 triage ----------------------------------------------------------------------------
    def _need(self, error: float, allowed: float) -> str:
        """The unit roundoff (and digits) that would shrink ``error`` below ``allowed``."""
        u_needed = U64 * allowed / error if error > 0 else U64
        digits = math.ceil(-math.log10(u_needed)) if u_needed > 0 else math.inf
        return (
            f"deciding at this tolerance needs a unit roundoff below {u_needed:.2g} "
            f"(about {digits} digits; float64 has 16)"
        )

    def _triage(self, which: Decidable) -> str | None:
        """Why float64 cannot decide, or None if the miss exceeds what rounding explains."""
        ev, c = self.ev, self.conditioning
        if which is Decidable.INTERPOLATION:
            f = ev.outputs.numpy()
            y = ev.dataset.y
            res = np.abs(f - y)
            allowed = ev.tol.atol + ev.tol.rtol * np.abs(y)
            bad = res > allowed
            if not np.any(bad) or np.any(res[bad] > allowed[bad] + c.output_error[bad]):
                return None
            i = int(np.argmax(np.where(bad, res - allowed, -np.inf)))
            amp = c.output_error[i] / (U64 * max(abs(y[i]), 1.0))
            return (
                f"max |f(x_i) - y_i| = {res.max():.3g} misses the float64 tolerance at "
                f"{int(bad.sum())} point(s) (point {i}: {res[i]:.3g} > {allowed[i]:.3g}) but "
                f"within the {c.output_error[i]:.3g} that float64 rounding can produce there "
                f"(amplification {amp:.2g} x unit roundoff; {c.why(self.cause)}); "
                + self._need(float(c.output_error[i]), float(allowed[i]))
            )
        if ev.trace is None or not math.isfinite(c.trace_error):
            return None
        if which is Decidable.TRACE_IDENTITY:
            expected, label, extra = ev.lemma41, "(2/n) sum ||grad f||^2", c.trace_error
        else:
            expected, label = ev.bound.trace, "the lower bound"
            extra = _gamma(ev.dataset.n + 16) * abs(expected)
        gap = abs(ev.trace - expected)
        allowed = ev.tol.allowed(expected)
        explained = c.trace_error + extra
        if gap <= allowed or gap > allowed + explained:
            return None
        amp = explained / (U64 * abs(expected)) if expected else math.inf
        return (
            f"|Tr(H) - {label}| = {gap:.3g} (relative {gap / abs(expected):.2g}) exceeds the "
            f"float64 tolerance {allowed:.3g} but is within the {explained:.3g} that float64 "
            f"rounding can produce in the two sides (amplification {amp:.2g} x unit roundoff; "
            f"{c.why(self.cause)}); " + self._need(explained, allowed)
        )

    # decisions at high precision -----------------------------------------------------------------
    def _where(self) -> str:
        return f"rebuilt {self.what} in {self.precision.describe()}"

    def _interpolation(self, check: CheckResult, undecided: str) -> CheckResult:
        hp = self.high
        verdicts = hp.interpolated
        worst = max(_hi(r) for r in hp.residuals)
        fails = [i for i, v in enumerate(verdicts) if v is False]
        unknown = [i for i, v in enumerate(verdicts) if v is None]
        ok = not fails and not unknown
        if ok:
            said = f"max |f(x_i) - y_i| <= {worst:.3g} (rigorous enclosure) at all {hp.n} points: interpolates"
        elif fails:
            i = fails[0]
            said = (
                f"FAILS there too: {len(fails)} of {hp.n} points not interpolated, e.g. point {i}: "
                f"|f - y| >= {float(hp.residuals[i].a):.3g}; not a rounding artefact"
            )
        else:
            said = f"still undecided at {len(unknown)} point(s) (enclosure too wide)"
        return CheckResult(
            name=check.name,
            passed=ok,
            value=worst,
            expected=check.expected,
            tolerance=self.precision.describe(),
            detail=f"{undecided}. Decided with more precision ({self._where()}): {said}",
            kind="certificate",
        )

    def _undefined(self, check: CheckResult, undecided: str, expected) -> CheckResult:
        fatal, _ = self.high.kinks
        i, layer, k = fatal[0]
        return CheckResult(
            name=check.name,
            passed=False,
            value=None,
            expected=expected,
            tolerance=self.precision.describe(),
            detail=f"{undecided}. At higher precision ({self._where()}): {len(fatal)} hidden "
            f"pre-activation(s) meet 0 with a path to the output (e.g. point {i}, layer {layer}, "
            f"neuron {k}): the Hessian is undefined there",
            kind="certificate",
        )

    def _identity(self, check: CheckResult, undecided: str) -> CheckResult:
        hp = self.high
        if hp.trace is None:
            return self._undefined(check, undecided, check.expected)
        v = self.precision.verdict(hp.trace, hp.lemma41)
        with interval_digits(self.precision.digits):
            diff_hi = _hi(abs(hp.trace - hp.lemma41))
        said = {
            True: "equal within the tolerance: the curvature term (2/n) sum (f_i - y_i) "
            "Tr(nabla^2 f(x_i)) vanishes on the certified activation pattern",
            False: "FAILS there too: not a rounding artefact",
            None: "still undecided (enclosures too wide)",
        }[v]
        return CheckResult(
            name=check.name,
            passed=v is True,
            value=_mid(hp.trace),
            expected=_mid(hp.lemma41),
            tolerance=self.precision.describe(),
            detail=f"{undecided}. Decided with more precision ({self._where()}): trace in "
            f"[{float(hp.trace.a):.17g}, {float(hp.trace.b):.17g}], {said}; difference "
            f"<= {diff_hi:.3g}",
            kind="certificate",
        )

    def _bound(self, check: CheckResult, undecided: str) -> CheckResult:
        hp = self.high
        if hp.trace is None:
            return self._undefined(check, undecided, _mid(hp.bound))
        v = self.precision.verdict(hp.trace, hp.bound)
        with interval_digits(self.precision.digits):
            gap = hp.trace - hp.bound
            gap_hi = _hi(abs(gap))
        if v is True:
            said = "equal within the tolerance: equality certifies a flattest interpolator"
        elif v is False:
            side = "exceeds" if gap.a > 0 else "is BELOW"
            said = (
                f"FAILS there too: the trace {side} the bound by "
                f"{min(abs(float(gap.a)), abs(float(gap.b))):.3g}; not a rounding artefact"
            )
        else:
            said = "still undecided (enclosures too wide)"
        return CheckResult(
            name=check.name,
            passed=v is True,
            value=_mid(hp.trace),
            expected=_mid(hp.bound),
            tolerance=self.precision.describe(),
            detail=f"{undecided}. Decided with more precision ({self._where()}; the bound enclosed "
            f"from the data): {said}; |Tr(H) - bound| <= {gap_hi:.3g}",
            kind="certificate",
        )


def memorizing_escalation(
    ev, directions, depth: int, *, epsilon: float, form: str = "corrected"
) -> Escalation:
    """An :class:`Escalation` for :func:`constructions.memorizing_solution` (Theorem 4.1, App.
    A.3.1): the weights are rebuilt in interval arithmetic from the same data, directions and
    epsilon (:func:`constructions.memorizing.memorizing_weights_interval`), and only if a check
    needs it."""

    def build(digits: int):
        return memorizing_weights_interval(
            ev.dataset, depth, directions=directions, epsilon=epsilon, form=form, digits=digits
        )

    return Escalation(
        ev,
        build,
        what="App. A.3.1's weights from the same data, directions and epsilon",
        cause=f"W_1 = u_i w_i / epsilon with 1/epsilon = {1 / epsilon:.2g}",
    )


def _replace_detail(check: CheckResult, detail: str) -> CheckResult:
    from dataclasses import replace

    return replace(check, detail=detail)
