"""A search for flattest interpolators: minimize Tr(nabla^2 L) subject to f(x_i) = y_i.

Theorem 3.1, Lemma 3.1 and Theorem 3.2 are statements about *all* flattest interpolators, which
no single construction can verify. This module gathers numerical evidence (never a proof): it
minimizes, from many seeded random starts, the Lemma 4.1 sum

.. math::  G(\\theta) = \\frac2n \\sum_{i=1}^n \\|\\nabla_\\theta f_\\theta(x_i)\\|^2
           \\quad\\text{subject to}\\quad f_\\theta(x_i) = y_i ,

which equals Tr(nabla^2 L) at every interpolating, twice-differentiable theta (Lemma 4.1). G is
evaluated in closed form (2-layer ReLU MLPs: Lemma A.11's per-neuron display; 2-MLP-Sim-BN: the
formula in :mod:`sharpness.architectures.sim_bn`), all starts batched in one tensor program.

Algorithm (deterministic per seed; start k uses the generator seeded by (seed, k), so adding
starts does not change earlier ones):

1. Augmented Lagrangian: Adam on G + lambda . r + (mu/2) ||r||^2, r = f(X) - y, with lambda <- lambda +
   mu r every ``inner`` steps and mu growing geometrically. During the first part the indicators
   in G are smoothed (sigmoid(z / tau), tau annealed to small), so that the optimizer sees the cost
   of a barely active unit; the exact G is used at the end.
2. Polish: Gauss-Newton minimum-norm steps theta <- theta - J^+ r until max |r| is at rounding level
   (J from torch.func.jacrev); the trace moves by O(|r|). The optimum of this piecewise-smooth
   problem tends to sit on ReLU kinks (a pre-activation exactly 0 at a training point, where the
   trace is undefined); a minimum-norm step moves each such pre-activation to -1e-7 (the cheaper,
   relu'(0) = 0 side) while keeping interpolation, then Gauss-Newton again.
3. Evaluation with independent code: the exact trace by :func:`sharpness.hessian_trace` (autograd;
   refused at a fatal kink, then the one-sided traces are reported), the Lemma 4.1 sum by
   per-example autograd gradients with PyTorch's relu'(0) = 0 (``autograd_objective``, compared
   with the closed form G), interpolation under the tolerance policy, the bound, Lemma 3.1's norm,
   and the exact hypercube error (:func:`sharpness.hypercube_error`; Sim-BN networks carry their
   training inputs as reference).

**Kinks are the rule, not the exception (measured).** On P_xor samples the 2-MLP-No-Bias search
converges to neurons like c relu(a x[1] + a x[2]) whose pre-activation is 0 on every point with
x[1] = -x[2]: at d = 8, n = 100 every start ends with ~200 fatal kinks, where the Hessian does
not exist (the infimum over twice-differentiable interpolators is not attained; on complete
symmetric sets this is proven in :mod:`sharpness.bounds.no_bias`). The paper's own objective, Lemma
A.11's (2/n) sum ||grad f||^2 with 1[W1 x > 0] (i.e. relu'(0) = 0), is defined there. Each result
therefore reports ``sharpness``: the exact trace where the Hessian exists, else the paper's
convention (labelled as such, with both one-sided traces), and :attr:`SearchSummary.best` ranks
interpolating starts by it. The bounds below hold for that convention too (Cauchy-Schwarz only
uses f(x_i) = sum_j W2[j] 1[z_ij > 0] z_ij).

**2-MLP-Bias (measured, not a proof).** Theorem 4.1 says memorizing flattest interpolators exist;
the search does not find them. With width n, 6 starts and 400 steps, every start interpolated and
none memorized (Definition 4.2): d = 5, n = 12: sharpness within 8e-5 of the Jacobian bound (which
is attained), best start 1 cube error; d = 6, n = 24: gap 2e-4, 0 errors; d = 8, n = 32: gap 1e-3,
0 errors. The search lands on near-flattest solutions that generalize, which is the paper's
point about what sharpness minimization finds in practice (Scenario II), not a contradiction.

The bound against which the gap is reported is, per architecture:

* ``nobias``: the Jacobian bound 4 sqrt(d)-type (2/n) sum 2 ||x_i|| |y_i| (valid, not attained on
  P_xor: :func:`sharpness.bounds.no_bias.jacobian_attainability`); on complete symmetric sets the exact
  infimum 4 sqrt(2d) is also reported.
* ``bias``: the Jacobian bound with x' = (x, 1), attained (Theorem 4.1, Proposition 4.2).
* ``simbn``: 8 on Condition-1 sets (:data:`sharpness.architectures.sim_bn.INFIMUM_CONDITION_1`); otherwise the
  bound 4 (sum_{live} |c_j| >= 1 by Cauchy-Schwarz for labels +-1, and Tr >= 4 sum |c_j|).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
from torch.func import jacrev
from tqdm.auto import tqdm

from constructions._checks import check_int, check_positive_float
from constructions.architectures import MLP, Network, SimBN
from constructions.dataset import Dataset
from constructions.tolerance import tolerance_for

__all__ = [
    "ARCHITECTURES",
    "ErrorVersusN",
    "SearchResult",
    "SearchSettings",
    "SearchSummary",
    "cached_search",
    "describe_values",
    "error_versus_n",
    "flattest_search",
    "summary_table",
]

ARCHITECTURES = ("nobias", "bias", "simbn")

#: The search enumerates {-1,1}^d for each start only up to this d (2^20 points); beyond it the
#: hypercube error of a result is left to the caller (e.g. a sampled estimate).
SEARCH_ENUMERATION_MAX_D = 20


@dataclass(frozen=True)
class SearchSettings:
    """Settings of one multi-start search.

    Args:
        arch: "nobias" (2-MLP-No-Bias), "bias" (2-MLP-Bias) or "simbn" (2-MLP-Sim-BN).
        width: hidden width m.
        starts: number of seeded random starts.
        steps: Adam steps of the augmented Lagrangian.
        seed: base seed.
        lr: Adam learning rate.
        inner: steps between multiplier updates.
        mu0: initial penalty weight; grows by ``growth`` at each update up to ``mu_max``.
        tau0, tau_end, smooth: for the first ``smooth`` fraction of the steps the indicator
            1[z > 0] in G is replaced by sigmoid(z / tau), tau annealed geometrically from tau0 to
            tau_end; the rest use the exact G. Without it the optimizer cannot see that a barely
            active ReLU costs as much as a fully active one, and settles on kinks.
    """

    arch: str
    width: int
    starts: int = 8
    steps: int = 600
    seed: int = 0
    lr: float = 0.02
    inner: int = 50
    mu0: float = 10.0
    growth: float = 1.5
    mu_max: float = 1e4
    tau0: float = 0.3
    tau_end: float = 0.003
    smooth: float = 0.8

    def __post_init__(self) -> None:
        if self.arch not in ARCHITECTURES:
            raise ValueError(f"arch must be one of {ARCHITECTURES}, got {self.arch!r}")
        object.__setattr__(self, "width", check_int("width", self.width, minimum=1))
        object.__setattr__(self, "starts", check_int("starts", self.starts, minimum=1))
        object.__setattr__(self, "steps", check_int("steps", self.steps, minimum=0))
        object.__setattr__(self, "seed", check_int("seed", self.seed, minimum=0))
        object.__setattr__(self, "inner", check_int("inner", self.inner, minimum=1))
        if not (isinstance(self.smooth, int | float) and 0 <= self.smooth <= 1):
            raise ValueError(f"smooth must be a fraction in [0, 1], got {self.smooth!r}")
        for name in ("lr", "mu0", "growth", "mu_max", "tau0", "tau_end"):
            object.__setattr__(self, name, check_positive_float(name, getattr(self, name)))


@dataclass(frozen=True, eq=False)
class SearchResult:
    """One start's interpolator and what independent code measured on it.

    Attributes:
        start: index of the start.
        network: the polished network (Sim-BN: with the training inputs as reference).
        residual: max |f(x_i) - y_i|.
        interpolates: residual within the tolerance policy at every point.
        trace: exact Tr(nabla^2 L) (autograd), or None where the Hessian does not exist.
        one_sided: (relu'(0)=0, relu'(0)=1) traces where ``trace`` is None (MLPs), else None.
        objective: the search's closed-form G at the end (should equal ``trace``).
        bound: the lower bound for this architecture and data (see module docstring).
        gap: trace / bound - 1 (None if trace is None).
        norm: Lemma 3.1's sum_j ||W1,j|| |W2,j| (MLPs) or sum_j |gamma_j W2[j]| (Sim-BN).
        errors: zero-one mistakes over {-1,1}^d (exact), or None if not enumerated.
        mse: hypercube mean squared error, or None.
        memorizing: Definition 4.2 (2-MLP-Bias only), else None.
        concentration: weighted ||W1,i[3:d]|| / ||W1,i|| (Sim-BN only), else None.
        max_concentration: the largest ratio over neurons with gamma_i W2[i] != 0 (Sim-BN).
        autograd_objective: (2/n) sum ||grad f(x_i)||^2 by per-example autograd with
            relu'(0) = 0 (independent of the closed form ``objective``).
        fatal_kinks: number of fatal kinks (0 iff the Hessian exists).
    """

    start: int
    network: Network
    residual: float
    interpolates: bool
    trace: float | None
    one_sided: tuple[float, float] | None
    objective: float
    bound: float
    gap: float | None
    norm: float
    errors: int | None = None
    mse: float | None = None
    memorizing: bool | None = None
    concentration: float | None = None
    max_concentration: float | None = None
    autograd_objective: float | None = None
    fatal_kinks: int = 0

    @property
    def sharpness(self) -> float:
        """The exact trace where the Hessian exists, else Lemma A.11's convention relu'(0) = 0.

        At a kink (MLPs) this is the one-sided trace with every numerically-zero pre-activation
        (within its rounding bound) counted inactive; for Sim-BN, whose one-sided traces are not
        implemented, the autograd sum with PyTorch's computed-sign convention.
        """
        if self.trace is not None:
            return self.trace
        if self.one_sided is not None:
            return self.one_sided[0]
        return self.autograd_objective if self.autograd_objective is not None else self.objective

    @property
    def sharpness_gap(self) -> float:
        """sharpness / bound - 1."""
        return self.sharpness / self.bound - 1.0 if self.bound > 0 else math.nan


@dataclass(frozen=True, eq=False)
class SearchSummary:
    """All starts of one search, with the data and settings.

    Attributes:
        dataset: the training set.
        settings: the settings.
        results: one :class:`SearchResult` per start.
        bound_name: what ``bound`` is.
        infimum: the exact infimum where it is known (complete symmetric / Condition-1 data), else None.
    """

    dataset: Dataset
    settings: SearchSettings
    results: tuple[SearchResult, ...]
    bound_name: str
    infimum: float | None = None
    extra: dict = field(default_factory=dict)

    @property
    def valid(self) -> tuple[SearchResult, ...]:
        """Starts that interpolate and have an exact trace."""
        return tuple(r for r in self.results if r.interpolates and r.trace is not None)

    @property
    def interpolating(self) -> tuple[SearchResult, ...]:
        """Starts that interpolate (under the tolerance policy), kinks or not."""
        return tuple(r for r in self.results if r.interpolates)

    @property
    def best(self) -> SearchResult | None:
        """The interpolating start of least ``sharpness`` (None if no start interpolates)."""
        cand = self.interpolating
        return min(cand, key=lambda r: (r.sharpness, r.start)) if cand else None

    @property
    def best_valid(self) -> SearchResult | None:
        """The flattest twice-differentiable interpolating start, or None."""
        valid = self.valid
        return min(valid, key=lambda r: (r.trace, r.start)) if valid else None


# --- batched closed forms ------------------------------------------------------------------


def _indicator(Z, tau: float):
    """1[Z > 0], or its smoothing sigmoid(Z / tau) while tau > 0 (annealed during the search)."""
    return torch.sigmoid(Z / tau) if tau > 0 else (Z > 0).to(Z.dtype)


def _mlp_terms(p, X, y, bias: bool, tau: float = 0.0):
    """(G (B,), r (B, n)) for batched 2-layer ReLU MLPs; G = (2/n) sum ||grad f||^2 (tau = 0)."""
    n = X.shape[0]
    Z = torch.einsum("bmd,nd->bnm", p["W1"], X)
    if bias:
        Z = Z + p["b1"][:, None, :]
    h = torch.relu(Z)
    f = torch.einsum("bnm,bm->bn", h, p["W2"])
    sq = torch.sum(X * X, dim=1) + (1.0 if bias else 0.0)
    A = (2.0 / n) * torch.einsum("bnm,n->bm", _indicator(Z, tau), sq)
    Bt = (2.0 / n) * torch.sum(h * h, dim=1)
    G = torch.sum(p["W2"] ** 2 * A + Bt, dim=1)
    return G, f - y


def _simbn_terms(p, X, y, tau: float = 0.0):
    """(G (B,), r (B, n)) for batched 2-MLP-Sim-BN (closed form of sharpness.architectures.sim_bn; tau = 0)."""
    n = X.shape[0]
    Z = torch.einsum("bmd,nd->bnm", p["W1"], X) + p["b1"][:, None, :]
    h = torch.relu(Z)
    s = torch.mean(h * h, dim=1)
    alive = s > 0
    s_safe = torch.where(alive, s, torch.ones_like(s))
    phi = h / torch.sqrt(s_safe)[:, None, :]
    c = p["gamma"] * p["W2"]
    f = torch.einsum("bnm,bm->bn", phi, c)
    Xp = torch.cat([X, torch.ones(n, 1, dtype=X.dtype)], dim=1)
    sq = torch.sum(Xp * Xp, dim=1)
    act = torch.einsum("bnm,n->bm", _indicator(Z, tau), sq)
    g = torch.einsum("bnm,nk->bmk", phi, Xp)
    bracket = act - torch.sum(g * g, dim=2) / n
    per = 2 * (p["W2"] ** 2 + p["gamma"] ** 2) + 2 * c * c / (n * s_safe) * bracket
    G = torch.sum(torch.where(alive, per, torch.zeros_like(per)), dim=1)
    return G, f - y


def _terms(arch: str, p, X, y, tau: float = 0.0):
    if arch == "simbn":
        return _simbn_terms(p, X, y, tau)
    return _mlp_terms(p, X, y, bias=(arch == "bias"), tau=tau)


def _init(arch: str, width: int, d: int, seed: int, start: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(1_000_003 * seed + start)
    p = {"W1": torch.randn(width, d, generator=g, dtype=torch.float64) / math.sqrt(d)}
    if arch in ("bias", "simbn"):
        p["b1"] = 0.5 * torch.randn(width, generator=g, dtype=torch.float64)
    p["W2"] = torch.randn(width, generator=g, dtype=torch.float64) / math.sqrt(width)
    if arch == "simbn":
        p["gamma"] = 1.0 + 0.1 * torch.randn(width, generator=g, dtype=torch.float64)
    return p


def _network(arch: str, p: dict[str, torch.Tensor], X: torch.Tensor) -> Network:
    params = {k: (v.reshape(1, -1) if k == "W2" else v) for k, v in p.items()}
    if arch == "simbn":
        return Network(SimBN(), params, reference=X)
    return Network(MLP(2, bias=(arch == "bias")), params)


def _polish(arch: str, p: dict[str, torch.Tensor], X, y, iterations: int = 30):
    """Gauss-Newton minimum-norm steps on f(X) = y for one start (unbatched params)."""
    names = list(p)
    tol = tolerance_for(torch.float64)

    def resid(q):
        batched = {k: v.unsqueeze(0) for k, v in q.items()}
        return _terms(arch, batched, X, y)[1][0]

    for _ in range(iterations):
        r = resid(p)
        if float(r.abs().max()) <= 0.1 * tol.atol:
            break
        J = jacrev(resid)(p)
        Jm = torch.cat([J[k].reshape(X.shape[0], -1) for k in names], dim=1)
        step = torch.linalg.lstsq(Jm, r.unsqueeze(1), driver="gelsd").solution[:, 0]
        p = _step(p, names, step)
    return p


def _preacts(arch: str, q, X):
    z = X @ q["W1"].T
    return z + q["b1"] if "b1" in q else z


def _step(p, names, step):
    new, s = {}, 0
    for k in names:
        size = p[k].numel()
        new[k] = p[k] - step[s : s + size].reshape(p[k].shape)
        s += size
    return new


def _repair_kinks(arch: str, p, X, y, before, *, eta: float = 1e-7, rounds: int = 3):
    """Move fatal kinks (pre-activation numerically 0 at a training point) off zero.

    The optimum of a piecewise-smooth objective tends to lie on a kink, where Tr(nabla^2 L) is
    undefined (the Gauss-Newton polish can also land there). One minimum-norm linearized step
    moves every fatal z_ij to -eta (the cheaper relu'(0) = 0 side), or to +eta where the
    pre-polish point ``before`` had it positive (e.g. x_k = -x_i forces opposite signs), while
    keeping f(X) = y to first order; then Gauss-Newton restores interpolation. The trace changes
    by O(eta).
    """
    from sharpness.trace.kinks import find_kinks

    names = list(p)
    original = p
    for _ in range(rounds):
        net = _network(arch, p, X)
        fatal = find_kinks(net, X, y).fatal
        if not fatal:
            break
        idx = sorted({(k.point, k.neuron) for k in fatal})
        rows = torch.tensor([i for i, _ in idx])
        cols = torch.tensor([j for _, j in idx])

        def stacked(q, rows=rows, cols=cols):
            batched = {k: v.unsqueeze(0) for k, v in q.items()}
            r = _terms(arch, batched, X, y)[1][0]
            return torch.cat([r, _preacts(arch, q, X)[rows, cols]])

        J = jacrev(stacked)(p)
        Jm = torch.cat([J[k].reshape(J[k].shape[0], -1) for k in names], dim=1)
        current = stacked(p)
        side = torch.where(_preacts(arch, before, X)[rows, cols] > 0, eta, -eta)
        target = torch.cat([torch.zeros(X.shape[0], dtype=X.dtype), side])
        step = torch.linalg.lstsq(
            Jm, (current - target).unsqueeze(1), rcond=1e-10, driver="gelsd"
        ).solution[:, 0]
        scale = max(float(torch.linalg.vector_norm(v)) for v in p.values())
        if (
            not torch.all(torch.isfinite(step))
            or float(torch.linalg.vector_norm(step)) > 1e-3 * scale
        ):
            return original  # the linearized system is (nearly) inconsistent: keep the kink
        p = _polish(arch, _step(p, names, step), X, y)
    before = float(_terms(arch, {k: v.unsqueeze(0) for k, v in original.items()}, X, y)[0][0])
    after = float(_terms(arch, {k: v.unsqueeze(0) for k, v in p.items()}, X, y)[0][0])
    r = _terms(arch, {k: v.unsqueeze(0) for k, v in p.items()}, X, y)[1][0]
    if (
        not (math.isfinite(after) and after <= before * (1 + 1e-4) + 1e-9)
        or float(r.abs().max()) > 1e-10
    ):
        return original
    return p


def _bound(arch: str, dataset: Dataset) -> tuple[float, str, float | None]:
    from sharpness.bounds.jacobian import jacobian_lower_bound

    if arch == "simbn":
        from constructions.sim_bn import check_condition1
        from sharpness.architectures.sim_bn import INFIMUM_CONDITION_1

        if check_condition1(dataset.X, dataset.y).holds:
            return (
                INFIMUM_CONDITION_1,
                "inf over interpolators = 8 (Condition 1)",
                INFIMUM_CONDITION_1,
            )
        return 4.0, "Tr >= 4 sum|c_j| >= 4 (Cauchy-Schwarz, labels +-1)", None
    b = jacobian_lower_bound(dataset.X, dataset.y, 2, bias=(arch == "bias")).trace
    infimum = None
    if arch == "nobias":
        from sharpness.bounds.no_bias import complete_symmetric_infimum

        try:
            infimum = complete_symmetric_infimum(dataset.X, dataset.y).value
        except ValueError:
            infimum = None
    elif arch == "bias":
        infimum = b
    return b, "Jacobian bound (Eq. (3))", infimum


def _evaluate(arch, start, p, dataset, X, y, bound, hypercube: bool) -> SearchResult:
    from sharpness.hypercube.error import hypercube_error
    from sharpness.memorization import memorization_violations
    from sharpness.trace.hessian import hessian_trace, one_sided_traces
    from sharpness.trace.kinks import NonDifferentiableError, find_kinks
    from sharpness.trace.lemma_4_1 import lemma41_trace

    net = _network(arch, {k: v.detach() for k, v in p.items()}, X)
    tol = tolerance_for(net.dtype)
    f = net(X).detach()
    res = (f - y).abs()
    interpolates = bool(torch.all(res <= tol.atol + tol.rtol * y.abs()))
    objective = float(_terms(arch, {k: v.unsqueeze(0) for k, v in p.items()}, X, y)[0][0])
    one_sided = None
    fatal = len(find_kinks(net, X, y).fatal)
    try:
        trace = hessian_trace(net, X, y)
    except NonDifferentiableError:
        trace = None
        if arch != "simbn":
            one_sided = one_sided_traces(net, X)
    if arch == "simbn":
        from sharpness.architectures.sim_bn import lemma41_trace_sim_bn

        autograd_objective = lemma41_trace_sim_bn(net, X)
    else:
        autograd_objective = lemma41_trace(net, X)
    gap = None if trace is None or bound <= 0 else trace / bound - 1.0
    params = net.param_dict()
    if arch == "simbn":
        from constructions.sim_bn import concentration

        norm = float(torch.sum((params["gamma"] * params["W2"][0]).abs()))
        conc = concentration(net)
        extra = {"concentration": conc.weighted, "max_concentration": conc.max_used}
    else:
        norm = float(
            torch.sum(torch.linalg.vector_norm(params["W1"], dim=1) * params["W2"][0].abs())
        )
        extra = {}
    errors = mse = None
    if hypercube and dataset.is_hypercube_xor() and dataset.d <= SEARCH_ENUMERATION_MAX_D:
        hc = hypercube_error(net, progress=False)
        errors, mse = hc.errors, hc.mse
    memorizing = None
    if arch == "bias":
        memorizing = not memorization_violations(net, X)
    return SearchResult(
        start,
        net,
        float(res.max()),
        interpolates,
        trace,
        one_sided,
        objective,
        bound,
        gap,
        norm,
        errors,
        mse,
        memorizing,
        autograd_objective=autograd_objective,
        fatal_kinks=fatal,
        **extra,
    )


def flattest_search(
    dataset: Dataset,
    settings: SearchSettings,
    *,
    hypercube: bool = True,
    progress: bool = False,
) -> SearchSummary:
    """Run the multi-start search of the module docstring.

    Args:
        dataset: the training set (labels must be nonzero for the bounds to mean anything).
        settings: architecture, width, starts, steps, seed, optimizer constants.
        hypercube: compute the exact hypercube error of each result (P_xor data, 2^d enumerable).
        progress: show tqdm bars (optimization steps, then evaluation of the starts).

    Returns:
        A :class:`SearchSummary`; every number in it is evidence about this search, not a proof
        about all flattest interpolators.
    """
    if not isinstance(dataset, Dataset):
        raise ValueError(f"dataset must be a constructions.Dataset, got {type(dataset).__name__}")
    if not isinstance(settings, SearchSettings):
        raise ValueError(f"settings must be a SearchSettings, got {type(settings).__name__}")
    arch = settings.arch
    X, y = dataset.tensors()
    inits = [
        _init(arch, settings.width, dataset.d, settings.seed, k) for k in range(settings.starts)
    ]
    p = {k: torch.stack([q[k] for q in inits]).requires_grad_(True) for k in inits[0]}
    opt = torch.optim.Adam(list(p.values()), lr=settings.lr)
    lam = torch.zeros(settings.starts, dataset.n, dtype=torch.float64)
    mu = settings.mu0
    bar = tqdm(
        range(settings.steps),
        desc=f"search {arch} x{settings.starts}",
        disable=not progress,
        leave=False,
    )
    smooth_steps = int(settings.smooth * settings.steps)
    for step in bar:
        opt.zero_grad()
        if step < smooth_steps:
            frac = step / max(1, smooth_steps - 1)
            tau = settings.tau0 * (settings.tau_end / settings.tau0) ** frac
        else:
            tau = 0.0
        G, r = _terms(arch, p, X, y, tau)
        loss = torch.sum(G + torch.sum(lam * r, dim=1) + 0.5 * mu * torch.sum(r * r, dim=1))
        loss.backward()
        opt.step()
        if (step + 1) % settings.inner == 0:
            with torch.no_grad():
                lam = lam + mu * _terms(arch, p, X, y)[1]
            mu = min(mu * settings.growth, settings.mu_max)
    bar.close()
    bound, bound_name, infimum = _bound(arch, dataset)
    results = []
    for k in tqdm(range(settings.starts), desc="evaluate", disable=not progress, leave=False):
        single = {name: v[k].detach().clone() for name, v in p.items()}
        single = _repair_kinks(arch, _polish(arch, single, X, y), X, y, single)
        results.append(_evaluate(arch, k, single, dataset, X, y, bound, hypercube))
    return SearchSummary(dataset, settings, tuple(results), bound_name, infimum)


def summary_table(summary: SearchSummary) -> list[dict]:
    """One row per start (plain numbers), for reports and notebooks."""
    rows = []
    for r in summary.results:
        rows.append(
            {
                "start": r.start,
                "interpolates": r.interpolates,
                "trace": r.trace,
                "sharpness": r.sharpness,
                "fatal_kinks": r.fatal_kinks,
                "bound": r.bound,
                "gap": r.gap,
                "norm": r.norm,
                "errors": r.errors,
                "memorizing": r.memorizing,
                "concentration": r.concentration,
            }
        )
    return rows


def describe_values(values) -> str:
    """ "min, median, max" of the non-None values, or "-"."""
    v = np.asarray([x for x in values if x is not None], dtype=np.float64)
    if v.size == 0:
        return "-"
    return f"min {v.min():.4g}, median {np.median(v):.4g}, max {v.max():.4g}"


# --- cached search and the error-versus-n sweep ---------------------------------------------

_CACHE: dict = {}
_CACHE_SIZE = 8


def cached_search(
    dataset: Dataset, settings: SearchSettings, *, hypercube: bool = True
) -> SearchSummary:
    """:func:`flattest_search`, memoized on the data bytes, settings and ``hypercube``.

    Claims 3.1 and lemma3.1 read the same search; the summary is immutable, so sharing it is
    safe. At most a few summaries are kept (oldest dropped first).
    """
    if not isinstance(dataset, Dataset):
        raise ValueError(f"dataset must be a constructions.Dataset, got {type(dataset).__name__}")
    key = (dataset.X.tobytes(), dataset.X.shape, dataset.y.tobytes(), settings, bool(hypercube))
    if key not in _CACHE:
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = flattest_search(dataset, settings, hypercube=hypercube)
    return _CACHE[key]


@dataclass(frozen=True)
class ErrorVersusN:
    """One row of the hypercube error of the flattest found interpolator versus n.

    Attributes:
        n: training-set size (a P_xor sample of distinct points, seed ``seed``).
        errors: zero-one mistakes of the flattest found interpolator over {-1,1}^d (exact).
        error_rate: errors / 2^d.
        mse: its hypercube mean squared error (exact enumeration).
        rate: d ln(d) / n, our reading of the O~(d/n) of Theorem 3.1 (constant 1, one log factor).
        sharpness: its sharpness (exact trace, or relu'(0) = 0 at kinks; see SearchResult).
        norm: its sum_j ||W1,j|| |W2,j|.
        interpolating: how many starts interpolated.
    """

    n: int
    errors: int | None
    error_rate: float | None
    mse: float | None
    rate: float
    sharpness: float | None
    norm: float | None
    interpolating: int


def error_versus_n(
    d: int, ns, settings: SearchSettings, *, seed: int = 0, progress: bool = False
) -> tuple[ErrorVersusN, ...]:
    """Hypercube error of the flattest found no-bias (or other) interpolator for each n.

    Evidence for Theorem 3.1's O~(d/n) (never a proof): for every n a P_xor sample is drawn with
    ``seed``, the search runs, and the exact hypercube error of its flattest interpolating start
    is set against d ln(d) / n.

    Raises:
        ValueError: for d < 2, an n outside [1, 2^d], or 2^d too large to enumerate.
    """
    from constructions import sample_xor
    from sharpness.hypercube.error import DEFAULT_MAX_POINTS

    d = check_int("d", d, minimum=2)
    if 2**d > DEFAULT_MAX_POINTS:
        raise ValueError(f"d must have 2^d <= {DEFAULT_MAX_POINTS} to enumerate, got d={d}")
    ns = [check_int("n", n, minimum=1, maximum=2**d) for n in ns]
    if not ns:
        raise ValueError("ns must hold at least one training-set size, got none")
    rows = []
    for n in tqdm(ns, desc="error vs n", disable=not progress, leave=False):
        summary = cached_search(sample_xor(d, n, seed), settings)
        b = summary.best
        rows.append(
            ErrorVersusN(
                n,
                None if b is None else b.errors,
                None if b is None or b.errors is None else b.errors / 2**d,
                None if b is None else b.mse,
                d * math.log(d) / n,
                None if b is None else b.sharpness,
                None if b is None else b.norm,
                len(summary.interpolating),
            )
        )
    return tuple(rows)
