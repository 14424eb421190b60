"""Exact sign decisions on {-1,1}^d (y f(x) <= 0) and the hypercube result types.

The rounding-error argument is in :mod:`sharpness.hypercube.error`; the enumeration
(:mod:`~sharpness.hypercube.enumeration`) and the pruning (:mod:`~sharpness.hypercube.pruning`)
decide their uncertain points here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import torch

from constructions.architectures import MLP, Network
from sharpness._rounding import bounded_forward, unit_roundoff
from sharpness.registry import CubeFamily, UnsupportedOperationError, ops_for

__all__ = [
    "DEFAULT_MAX_OPEN",
    "DEFAULT_MAX_POINTS",
    "EnumerationTooLargeError",
    "HypercubeError",
    "SampledHypercubeError",
    "decider",
]

#: Most points enumerated one by one. The compiled kernel does 14-58 M points/s at width 100 on
#: the shared 2-core machine (BENCHMARKS.md), so 2^32 takes about 1.5-5 minutes; sub-cubes
#: resolved by pruning do not count. Beyond it, hypercube_error refuses before any work and
#: points to sampled_hypercube_error (--hypercube-samples).
DEFAULT_MAX_POINTS = 1 << 32
DEFAULT_MAX_OPEN = 1 << 14
_SAMPLING_STREAM = 0x48C0BE


def _approx_pow2(d: int) -> str:
    """2^d to three digits, for any d (``f"{2**d:.3g}"`` overflows a float beyond d = 1023)."""
    exponent = math.floor(d * math.log10(2))
    return f"{10 ** (d * math.log10(2) - exponent):.3g}e+{exponent:02d}"


class EnumerationTooLargeError(ValueError):
    """2^d points are more than the enumeration limit."""

    def __init__(self, d: int, limit: int, needed: int | None = None):
        self.d, self.limit, self.needed = d, limit, needed
        what = (
            f"needs 2^{d} = {_approx_pow2(d)} points"
            if needed is None
            else f"leaves {needed:.3g} points to enumerate after sub-cube pruning"
        )
        super().__init__(
            f"exact evaluation over {{-1,1}}^{d} {what}, above the limit of {limit:.3g} for "
            f"this machine; ask for a sampled estimate with a confidence interval instead "
            f"(--hypercube-samples N)"
        )


@dataclass(frozen=True)
class HypercubeError:
    """Exact zero-one error count and MSE over all 2^d points.

    ``method`` says how: "enumeration", "sub-cube pruning" or both; ``evaluated`` is the number of
    points evaluated one by one (the rest were counted by sub-cube in closed form).
    """

    d: int
    total: int
    errors: int
    mse: float
    exact_rechecks: int
    undecided: int
    method: str = "enumeration"
    evaluated: int | None = None

    @property
    def zero_one(self) -> float:
        return self.errors / self.total


@dataclass(frozen=True)
class SampledHypercubeError:
    """An ESTIMATE from uniform samples, with confidence intervals."""

    d: int
    samples: int
    errors: int
    seed: int
    confidence: float
    zero_one: float
    ci_low: float
    ci_high: float
    mse: float
    mse_ci_low: float
    mse_ci_high: float


class _ExactEvaluator:
    """f(x) in rational arithmetic for a ReLU MLP (built lazily, only when needed)."""

    def __init__(self, net):
        p = net.numpy_params()
        self.W1 = [[Fraction(float(v)) for v in row] for row in p["W1"]]
        self.b1 = [Fraction(float(v)) for v in p["b1"]] if net.arch.bias else None
        self.Ws = [
            [[Fraction(float(v)) for v in row] for row in p[f"W{j}"]]
            for j in range(2, net.arch.depth + 1)
        ]

    def hidden_1(self, x) -> list[Fraction]:
        """relu(W1 x + b1) exactly, for x with entries +-1."""
        xs = [int(v) for v in x]
        out = []
        for k, row in enumerate(self.W1):
            s = sum((w if xi > 0 else -w) for w, xi in zip(row, xs, strict=True))
            if self.b1 is not None:
                s += self.b1[k]
            out.append(s if s > 0 else Fraction(0))
        return out

    def __call__(self, x) -> Fraction:
        a = self.hidden_1(x)
        z = a
        for W in self.Ws:
            z = [sum(w * ai for w, ai in zip(row, a, strict=True) if ai) for row in W]
            a = [v if v > 0 else Fraction(0) for v in z]
        return z[0]


class _MLPDecider:
    """Exact sign decisions for a ReLU MLP (or a softplus one, with undecided points)."""

    def __init__(self, net):
        self.net = net
        self._exact = None

    def mistakes(self, X: torch.Tensor, y: torch.Tensor) -> tuple[int, int, int]:
        arch = self.net.arch
        bf = bounded_forward(arch, self.net.param_dict(), X)
        f, e = bf.output, bf.output_error
        sure = f.abs() > e
        mistakes = int(torch.sum(sure & (torch.sign(f) != y)))
        unsure = ~sure
        if not bool(torch.any(unsure)):
            return mistakes, 0, 0
        if arch.activation != "relu":
            return mistakes + int(torch.sum(unsure & (f * y <= 0))), 0, int(torch.sum(unsure))
        zl, el = bf.preacts[-1], bf.preact_errors[-1]
        exactly_zero = unsure & torch.all(zl + el <= 0, dim=1)
        mistakes += int(torch.sum(exactly_zero))  # f(x) = 0 exactly: y f(x) = 0 <= 0
        rest = torch.nonzero(unsure & ~exactly_zero).flatten().tolist()
        if rest and self._exact is None:
            self._exact = _ExactEvaluator(self.net)
        for i in rest:
            if self._exact(X[i].cpu().numpy()) * int(y[i]) <= 0:
                mistakes += 1
        return mistakes, len(rest), 0


class _SimBNDecider:
    """Exact sign decisions for 2-MLP-Sim-BN, f(x) = sum_j c_j relu(z_j(x)), c_j = W2_j gamma_j / a_j.

    a_j = sqrt(q_j) with q_j = mean over the training inputs (``net.reference``) of relu(z_j)^2.
    Float values carry rigorous error bounds (also through q_j, sqrt and the division); where
    they cannot decide, f(x) is evaluated from exact rationals (W, b, x, q_j) with square roots in
    mpmath at 80 and then 400 significant digits; a point still undecided there is reported.
    """

    def __init__(self, net):
        if net.reference is None:
            raise ValueError("a 2-MLP-Sim-BN needs its training inputs: Network(..., reference=X)")
        self.net = net
        arch = net.arch
        p = net.param_dict()
        self.mlp = MLP(2, bias=arch.bias)
        self.first = {k: p[k] for k in ("W1", "b1") if k in p}
        self.first["W2"] = p["W2"]  # placeholder output layer for bounded_forward
        ref = net.reference.to(net.dtype)
        bf = bounded_forward(self.mlp, self.first, ref)
        z, e = bf.preacts[0], bf.preact_errors[0]
        h = torch.relu(z)
        eh = torch.where(z + e <= 0, torch.zeros_like(e), e)
        n = ref.shape[0]
        u = unit_roundoff(net.dtype)
        q = torch.mean(h * h, dim=0)
        # |h_hat^2 - h^2| <= (2|h_hat| + e) e, plus rounding of squares, sum and division.
        eq = torch.mean((2 * h + eh) * eh, dim=0) + (n + 3) * u / (1 - (n + 3) * u) * q
        self.alive = q > 0
        self.certain = (q - eq > 0) | ((q == 0) & (eq == 0))
        a = torch.sqrt(q)
        lo = torch.sqrt(torch.clamp(q - eq, min=0.0))
        ea = eq / torch.clamp(a + lo, min=float(torch.finfo(net.dtype).tiny)) + 2 * u * a
        w = (p["W2"][0] * p["gamma"]).to(net.dtype)
        safe_a = torch.where(self.alive, a, torch.ones_like(a))
        self.c = torch.where(self.alive, w / safe_a, torch.zeros_like(a))
        # |c_hat - c| <= |w| (ea / (a (a - ea))) + 2u |c_hat|  (valid where a > ea)
        margin = torch.clamp(safe_a - ea, min=float(torch.finfo(net.dtype).tiny))
        self.ec = torch.where(self.alive, w.abs() * ea / (safe_a * margin), torch.zeros_like(a))
        self.ec = self.ec + 2 * u * self.c.abs()
        self._exact = None

    def mistakes(self, X: torch.Tensor, y: torch.Tensor) -> tuple[int, int, int]:
        bf = bounded_forward(self.mlp, self.first, X)
        z, e = bf.preacts[0], bf.preact_errors[0]
        h = torch.relu(z)
        eh = torch.where(z + e <= 0, torch.zeros_like(e), e)
        f = h @ self.c
        m = h.shape[1]
        u = unit_roundoff(X.dtype)
        err = (eh @ self.c.abs()) + (h @ self.ec) + (eh @ self.ec)
        err = err + m * u / (1 - m * u) * (h @ self.c.abs())
        possibly_active = z + e > 0
        uncertain_stats = torch.any(possibly_active & ~self.certain, dim=1)
        sure = (f.abs() > err) & ~uncertain_stats
        mistakes = int(torch.sum(sure & (torch.sign(f) != y)))
        all_off = ~torch.any(possibly_active, dim=1)
        mistakes += int(torch.sum(~sure & all_off))  # f = 0 exactly
        rest = torch.nonzero(~sure & ~all_off).flatten().tolist()
        undecided = 0
        for i in rest:
            sign = self._exact_sign(X[i].cpu().numpy())
            if sign is None:
                undecided += 1
                mistakes += int(float(f[i]) * float(y[i]) <= 0)
            elif sign * int(y[i]) <= 0:
                mistakes += 1
        return mistakes, len(rest), undecided

    def _exact_sign(self, x) -> int | None:
        import mpmath

        if self._exact is None:
            ev = _ExactEvaluator(Network(self.mlp, {k: v for k, v in self.first.items()}))
            ref = self.net.reference.cpu().numpy()
            n = ref.shape[0]
            q = [Fraction(0)] * len(ev.W1)
            for r in ref:
                hr = _hidden_rational(ev, r)
                q = [qj + hj * hj for qj, hj in zip(q, hr, strict=True)]
            p = self.net.numpy_params()
            w = [
                Fraction(float(a)) * Fraction(float(g))
                for a, g in zip(p["W2"][0], p["gamma"], strict=True)
            ]
            self._exact = (ev, [qj / n for qj in q], w)
        ev, q, w = self._exact
        h = ev.hidden_1(x)
        # Terms with equal q_j share one square root: combine them exactly first (this catches
        # exact cancellations such as duplicated neurons with opposite output weights).
        groups: dict[Fraction, Fraction] = {}
        for wj, hj, qj in zip(w, h, q, strict=True):
            if hj and qj and wj:
                groups[qj] = groups.get(qj, Fraction(0)) + wj * hj
        terms = [(coef, qj) for qj, coef in groups.items() if coef]
        if not terms:
            return 0
        for digits in (80, 400):
            with mpmath.workdps(digits):
                total = mpmath.mpf(0)
                scale = mpmath.mpf(0)
                for coef, qj in terms:
                    t = (
                        mpmath.mpf(coef.numerator)
                        / coef.denominator
                        / mpmath.sqrt(mpmath.mpf(qj.numerator) / qj.denominator)
                    )
                    total += t
                    scale += abs(t)
                if abs(total) > scale * mpmath.mpf(10) ** (-(digits - 20)):
                    return 1 if total > 0 else -1
        return None


def _hidden_rational(ev: _ExactEvaluator, x) -> list[Fraction]:
    """relu(W1 x + b1) for arbitrary float x (exact rationals)."""
    xs = [Fraction(float(v)) for v in x]
    out = []
    for k, row in enumerate(ev.W1):
        s = sum(w * xi for w, xi in zip(row, xs, strict=True))
        if ev.b1 is not None:
            s += ev.b1[k]
        out.append(s if s > 0 else Fraction(0))
    return out


def decider(net):
    """Sign decisions for y f(x) <= 0, exact for every architecture the registry declares.

    An architecture with a ``sign_twin`` (Sim-LN: sign f = sign W2 relu(W1 x + b1)) is decided on
    the twin; Sim-BN has its own decider; MLPs of any depth the rounding-bound decider.
    """
    ops = ops_for(net)
    if ops.sign_twin is not None:
        return _MLPDecider(ops.sign_twin(net))
    family = ops.cube_family(net.arch) if ops.cube_family else None
    if family is CubeFamily.SIM_BN:
        return _SimBNDecider(net)
    if family in (CubeFamily.RELU_TWO_LAYER, CubeFamily.MLP):
        return _MLPDecider(net)
    raise UnsupportedOperationError(f"no exact hypercube evaluation for {net.arch.name}")
