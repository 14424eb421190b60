"""``--exact`` proofs for Scenario II: Theorem 4.1, Propositions 4.1-4.2 and Lemma 4.1.

Everything is built and checked in exact arithmetic (:mod:`constructions.symbolic`,
:mod:`sharpness.symbolic.scenario_ii`): interpolation as f(x_i) - y_i == 0, activation patterns with proven
strict signs, Tr(Hessian of L) from sympy second derivatives of the (locally polynomial) loss,
equal to the lower bound as simplified expressions, and the full-hypercube zero-one error as an
exact count. No float tolerance appears in any check.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from constructions import (
    certify_extreme_points,
    four_neuron_solution,
    memorizing_solution,
    sample_xor,
)
from constructions.symbolic import (
    exact_four_neuron_solution,
    exact_memorizing_solution,
    exact_separation,
    rational_matrix,
)
from sharpness.symbolic.scenario_ii import (
    eq5_analysis,
    eq5_sharpness,
    exact_forward,
    exact_hessian_trace,
    exact_hypercube_errors,
    exact_lower_bound,
    exact_sign,
    r_sym,
)
from verify._common import ClaimRun, require_xor, training_set
from verify.config import ClaimConfig
from verify.registry import get_claim
from verify.report import CheckResult, ClaimReport

EXACT_CLAIMS = ("4.1", "prop4.1", "prop4.2", "lemma4.1")

MAX_D, MAX_N, MAX_DEPTH = 10, 64, 4
PROOF = "none (symbolic)"


def _refuse_repeats(dataset, claim: str) -> None:
    """--exact builds one neuron per sample; a draw with repeated points needs the float run's
    spare neurons (constructions.memorizing, Deviation (3)), which have no exact version yet."""
    dup = dataset.duplicate_pair()
    if dup:
        raise ValueError(
            f"{claim} --exact does not handle repeated points yet (point {dup[1]} duplicates "
            f"point {dup[0]}); run it without --exact, which uses spare neurons for repeats"
        )


def _limits(config: ClaimConfig) -> None:
    if config.d > MAX_D or config.n > MAX_N or config.depth > MAX_DEPTH:
        raise ValueError(
            f"--exact supports d <= {MAX_D}, n <= {MAX_N}, depth <= {MAX_DEPTH} "
            f"(got d={config.d}, n={config.n}, depth={config.depth}); pass a smaller --n or --d"
        )


def _s(e) -> str:
    return str(sp.nsimplify(e)) if isinstance(e, sp.Basic) and e.is_Rational else str(e)


def extreme_point_check(margins) -> CheckResult:
    """Definition 4.1 in exact arithmetic: every LP direction, read as exact rationals,
    separates its point with a margin > 0 (a cross-check of the float LP certificate)."""
    margin = min(margins)
    bad = [i for i, m in enumerate(margins) if not m > 0]
    detail = "min_i min_{j!=i} w_i^T (x_i - x_j) with the LP directions as exact rationals"
    if bad:
        detail = (
            f"point {bad[0]}: its direction does not separate it (exact margin {margins[bad[0]]})"
        )
    return CheckResult(
        name="extreme points (Def. 4.1, exact margins)",
        passed=not bad,
        value=_s(margin),
        expected="> 0",
        tolerance=PROOF,
        detail=detail,
        kind="symbolic",
    )


#: Most units in the last place between a float weight and its exact value, in ulps of the
#: largest |entry| of the weight's array (so a small entry computed by a difference of large ones
#: is not held to its own ulp). Eq. (5)'s float path rounds twice per weight (a float power such
#: as (d+1)**0.25 within 1 ulp, then one product or division, 1/2 ulp); the memorizing weights
#: measured at most 1.05 ulps (d = 5, n = 10). A perturbation of r by a factor 1 + 1e-5 is about
#: 4.5e10 ulps.
FLOAT_WEIGHT_ULPS = 4


def float_weights_check(float_params, exact_params) -> CheckResult:
    """The float path's network is the exact construction, rounded: every float weight lies
    within :data:`FLOAT_WEIGHT_ULPS` ulps (of its array's largest entry) of its exact value,
    proven with :func:`exact_sign`.

    This ties ``--exact`` to what the float run verifies: a construction whose float weights
    were built differently (e.g. r scaled by 1 + 1e-5 in Eq. (5), which the float trace check,
    rtol 1e-9, cannot see) fails here.
    """
    worst, where, bad = 0.0, "", []
    for name, E in exact_params.items():
        F = np.asarray(float_params[name].detach().cpu().numpy(), dtype=np.float64)
        F = F.reshape(E.rows, E.cols)
        peak = float(np.max(np.abs(F))) if F.size else 0.0
        ulp = float(np.spacing(peak)) if peak else float(np.nextafter(0.0, 1.0))
        h = sp.Rational(FLOAT_WEIGHT_ULPS) * sp.Rational(ulp)
        for (a, b), f in np.ndenumerate(F):
            e = E[a, b]
            diff = sp.Rational(float(f)) - e
            if exact_sign(diff - h) > 0 or exact_sign(diff + h) < 0:
                bad.append(f"{name}[{a},{b}] = {float(f)!r} vs exact {e}")
                continue
            off = abs(float(sp.N(diff, 20))) / ulp
            if off > worst:
                worst, where = off, f"{name}[{a},{b}]"
    detail = (
        f"every float weight within {FLOAT_WEIGHT_ULPS} ulps (of its array's largest entry) of "
        "the exact construction "
        f"(worst {worst:.3g} ulps at {where or 'none'}; the float run verifies this network)"
        if not bad
        else f"{len(bad)} float weight(s) are not the exact construction rounded, e.g. {bad[0]}"
    )
    return CheckResult(
        name="float weights = exact construction, rounded",
        passed=not bad,
        value=len(bad),
        expected=0,
        tolerance=f"{FLOAT_WEIGHT_ULPS} ulps, proven",
        detail=detail,
        kind="symbolic",
    )


def interpolation_check(cons) -> CheckResult:
    bad = []
    for i in range(cons.X.rows):
        out = exact_forward(cons.arch, cons.params, cons.X.row(i)).output
        if exact_sign(out - cons.y[i]) != 0:
            bad.append(i)
    detail = (
        f"f(x_i) - y_i simplifies to 0 at all {cons.X.rows} points"
        if not bad
        else f"{len(bad)} point(s) not interpolated, e.g. point {bad[0]}"
    )
    return CheckResult(
        name="interpolation (exact)",
        passed=not bad,
        value=len(bad),
        expected=0,
        tolerance=PROOF,
        detail=detail,
        kind="symbolic",
    )


def pattern_check(cons, one_hot: bool) -> CheckResult:
    """Proven strict signs of every pre-activation; one-hot and injective if ``one_hot``."""
    problems = []
    n = cons.X.rows
    for layer in range(1, cons.arch.depth):
        owners = {}
        for i in range(n):
            signs = exact_forward(cons.arch, cons.params, cons.X.row(i)).signs[layer - 1]
            zeros = [k for k, s in enumerate(signs) if s == 0]
            active = [k for k, s in enumerate(signs) if s > 0]
            if zeros and one_hot:
                problems.append(
                    f"layer {layer}, point {i}: pre-activation exactly 0 at neuron {zeros[0]}"
                )
            if one_hot:
                if len(active) != 1:
                    problems.append(f"layer {layer}, point {i}: {len(active)} active units")
                elif active[0] in owners:
                    problems.append(
                        f"layer {layer}: points {owners[active[0]]} and {i} share neuron {active[0]}"
                    )
                else:
                    owners[active[0]] = i
    name = "memorization, strict signs (exact)" if one_hot else "activation pattern (exact)"
    detail = (
        "; ".join(problems[:3])
        if problems
        else (
            "every pre-activation has a proven strict sign; one-hot and injective at every hidden layer"
            if one_hot
            else "every pre-activation sign proven"
        )
    )
    return CheckResult(
        name=name,
        passed=not problems,
        value=len(problems),
        expected=0,
        tolerance=PROOF,
        detail=detail,
        kind="symbolic",
    )


def trace_checks(cons, depth: int) -> list[CheckResult]:
    res = exact_hessian_trace(cons.arch, cons.params, cons.X, cons.y)
    bound = exact_lower_bound(cons.X, cons.y, depth)
    fatal = res["fatal_kinks"]
    diff = CheckResult(
        name="twice differentiable at theta (exact)",
        passed=not fatal,
        value=len(fatal),
        expected=0,
        tolerance=PROOF,
        detail=(
            f"{len(res['harmless_kinks'])} harmless zero pre-activation(s) (zero outgoing weights)"
            if not fatal
            else f"{len(fatal)} exactly-zero pre-activation(s) with a live path to the "
            f"output, e.g. (point, layer, neuron) = {fatal[0]}: the Hessian does not exist"
        ),
        kind="symbolic",
    )
    if fatal:
        undefined = "Hessian undefined (fatal kinks)"
        return [
            diff,
            CheckResult(
                name="Tr(H) = (2/n) sum ||grad f||^2 (exact)",
                passed=False,
                value=None,
                expected=None,
                tolerance=PROOF,
                detail=undefined,
                kind="symbolic",
            ),
            CheckResult(
                name=f"Tr(H) = lower bound, D={depth} (exact)",
                passed=False,
                value=None,
                expected=_s(bound),
                tolerance=PROOF,
                detail=undefined,
                kind="symbolic",
            ),
        ]
    trace, lemma = res["trace"], res["lemma41"]
    same = sp.simplify(trace - lemma) == 0
    flat = sp.simplify(trace - bound) == 0
    return [
        diff,
        CheckResult(
            name="Tr(H) = (2/n) sum ||grad f||^2 (exact)",
            passed=same,
            value=_s(trace),
            expected=_s(lemma),
            tolerance=PROOF,
            detail="trace from sympy second derivatives of the loss polynomial",
            kind="symbolic",
        ),
        CheckResult(
            name=f"Tr(H) = lower bound, D={depth} (exact)",
            passed=flat,
            value=_s(trace),
            expected=_s(bound),
            tolerance=PROOF,
            detail="equality proves a flattest interpolator"
            if flat
            else f"difference {sp.simplify(trace - bound)}",
            kind="symbolic",
        ),
    ]


def _report(claim_id, config, checks, notes, params) -> ClaimReport:
    claim = get_claim(claim_id)
    p = config.describe()
    p.update(params)
    return ClaimReport(claim_id, claim.title, claim.reference, p, checks, notes)


def run_exact(claim_id: str, config: ClaimConfig) -> ClaimRun:
    _limits(config)
    dataset = training_set(config)
    depth = config.depth
    if claim_id == "4.1":
        W, margins = exact_separation(dataset.X, "lp")
        separation = extreme_point_check(margins)
        if not separation.passed:  # nothing to build on
            return ClaimRun(_report(claim_id, config, [separation], [], {}), None, dataset)
        cons = exact_memorizing_solution(
            dataset.X, dataset.y, depth, directions=W, epsilon=config.epsilon, form=config.form
        )
        margin = cons.parameters["min_margin"]
        eps = cons.parameters["epsilon"]
        floats = memorizing_solution(
            dataset,
            depth,
            directions=certify_extreme_points(dataset.X),
            epsilon=config.epsilon,
            form=config.form,
        )  # what the float run (verify.claims.theorem_4_1) builds
        checks = [
            float_weights_check(floats.network.params, cons.params),
            separation,
            CheckResult(
                name="epsilon < min margin (exact)",
                passed=bool(0 < eps < margin),
                value=_s(eps),
                expected=f"< {_s(margin)}",
                tolerance=PROOF,
                detail="",
                kind="symbolic",
            ),
            interpolation_check(cons),
            pattern_check(cons, one_hot=True),
            *trace_checks(cons, depth),
        ]
        return ClaimRun(_report(claim_id, config, checks, [], {"epsilon": _s(eps)}), None, dataset)
    if claim_id == "prop4.1":
        _refuse_repeats(dataset, "prop4.1")
        require_xor(dataset, "Proposition 4.1")
        cons = exact_memorizing_solution(
            dataset.X,
            dataset.y,
            depth,
            directions="sphere",
            epsilon=1 if config.epsilon is None else config.epsilon,
            form=config.form,
        )
        d, n = dataset.d, dataset.n
        mistakes = exact_hypercube_errors(cons.arch, cons.params, d)
        expected = max(2**d - n, 0)
        checks = [
            interpolation_check(cons),
            pattern_check(cons, one_hot=True),
            *trace_checks(cons, depth),
            CheckResult(
                name=f"zero-one error on {{-1,1}}^{d} = max{{1 - n/2^d, 0}} (exact)",
                passed=mistakes == expected,
                value=f"{mistakes}/{2**d}",
                expected=f"{expected}/{2**d}",
                tolerance=PROOF,
                detail="sign of f(x) proven at every vertex; y f(x) <= 0 counts as a mistake",
                kind="symbolic",
            ),
        ]
        notes = [
            "Directions w_i = x_i (margin 2 against every other vertex) with epsilon = 1: the printed "
            "network for w_i/sqrt(d) and epsilon/sqrt(d)."
        ]
        return ClaimRun(_report(claim_id, config, checks, notes, {"epsilon": 1}), None, dataset)
    if claim_id == "prop4.2":
        require_xor(dataset, "Proposition 4.2")
        d, n = dataset.d, dataset.n
        cons = exact_four_neuron_solution(
            dataset.X, d, width=max(n, 4), depth=depth, form=config.form
        )
        mistakes = exact_hypercube_errors(cons.arch, cons.params, d)
        floats = four_neuron_solution(d, width=max(n, 4), depth=depth, form=config.form)
        checks = [
            float_weights_check(floats.network.params, cons.params),
            interpolation_check(cons),
            pattern_check(cons, one_hot=False),
            *trace_checks(cons, depth),
            CheckResult(
                name=f"zero-one error on {{-1,1}}^{d} = 0 (exact)",
                passed=mistakes == 0,
                value=f"{mistakes}/{2**d}",
                expected=f"0/{2**d}",
                tolerance=PROOF,
                detail="sign of f(x) proven at every vertex",
                kind="symbolic",
            ),
        ]
        notes = []
        if depth == 2:
            sym = exact_four_neuron_solution(dataset.X, d, width=4, r=r_sym)
            t_r = exact_hessian_trace(sym.arch, sym.params, sym.X, sym.y)["trace"]
            closed = eq5_sharpness(r_sym, d)
            checks.append(
                CheckResult(
                    name="Tr(H) as a function of r = 2((d+1)/r^2 + r^2) (exact)",
                    passed=sp.simplify(t_r - closed) == 0,
                    value=str(sp.simplify(t_r)),
                    expected=str(closed),
                    tolerance=PROOF,
                    detail="Eq. (5) built with a free symbol r",
                    kind="symbolic",
                )
            )
            a = eq5_analysis(sp.Integer(d))
            notes.append(
                f"Sharpness of Eq. (5) in r: {sp.simplify(a['sharpness'])}; minimized at r* = {a['r_star']} "
                f"with minimum {a['min']} = the bound. The printed r = {a['r_printed']} exceeds it by "
                f"{a['printed_excess']} = {sp.N(a['printed_excess'], 6)} > 0."
            )
        return ClaimRun(
            _report(claim_id, config, checks, notes, {"width": max(n, 4)}), None, dataset
        )
    if claim_id == "lemma4.1":
        cons = exact_memorizing_solution(
            dataset.X, dataset.y, depth, epsilon=config.epsilon, form=config.form
        )
        res = exact_hessian_trace(cons.arch, cons.params, cons.X, cons.y)
        checks = [trace_checks(cons, depth)[1]]
        rng = np.random.default_rng(config.seed)
        data = sample_xor(min(dataset.d, 6), min(dataset.n, 8), config.seed)
        X = rational_matrix(data.X)
        k = draws = 0
        while k < 2:
            draws += 1
            if draws > 40:
                raise RuntimeError("could not draw a kink-free random rational network")
            dims = [data.d] + [3 + k] * (depth - 1) + [1]
            # generic rationals (odd numerators over 64): exact zeros are rare, and a draw that
            # still puts a unit exactly on its kink is redrawn (the Hessian would not exist there).
            params = {
                "W1": rational_matrix(
                    (2 * rng.integers(-40, 40, size=(dims[1], dims[0])) + 1) / 64
                ),
                "b1": rational_matrix((2 * rng.integers(-40, 40, size=(dims[1], 1)) + 1) / 128),
            }
            for j in range(2, depth + 1):
                params[f"W{j}"] = rational_matrix(
                    (2 * rng.integers(-40, 40, size=(dims[j], dims[j - 1])) + 1) / 64
                )
            y = [exact_forward(cons.arch, params, X.row(i)).output for i in range(X.rows)]
            r = exact_hessian_trace(cons.arch, params, X, y)
            if r["trace"] is None:
                continue
            k += 1
            bound = exact_lower_bound(X, y, depth)
            label = f"random rational interpolator {k}"
            checks.append(
                CheckResult(
                    name=f"Tr(H) = (2/n) sum ||grad f||^2 [{label}]",
                    passed=sp.simplify(r["trace"] - r["lemma41"]) == 0,
                    value=_s(r["trace"]),
                    expected=_s(r["lemma41"]),
                    tolerance=PROOF,
                    detail="labels are the network's own exact outputs",
                    kind="symbolic",
                )
            )
            checks.append(
                CheckResult(
                    name=f"Tr(H) >= lower bound [{label}]",
                    passed=exact_sign(r["trace"] - bound) >= 0,
                    value=_s(r["trace"]),
                    expected=f">= {_s(bound)}",
                    tolerance=PROOF,
                    detail="sign of the difference proven",
                    kind="symbolic",
                )
            )
        notes = [
            f"Residual term (2/n) sum (f_i - y_i) Tr Hess f_i at the construction: {res['residual_term']}"
        ]
        return ClaimRun(_report(claim_id, config, checks, notes, {}), None, dataset)
    raise ValueError(f"no exact proof for claim {claim_id!r}")
