"""``--exact`` proofs for 2-MLP-Sim-LN: Theorem 5.1, Propositions 5.1 and 5.2.

The constructions are built in exact arithmetic (:mod:`constructions.symbolic_sim_ln`, eps exact,
e.g. sqrt(d+1)/2 by default) and checked with :mod:`sharpness.symbolic.sim_ln`: interpolation as
f(x_i) - y_i == 0, strict ReLU signs and the regime of max{||h||, eps} proven (squares compared, so
no root is rounded), Tr(nabla^2 L) from sympy second derivatives, equal to the Lemma A.12 bound
(2/n) sum_i min(1, 2 c_i/eps) as simplified expressions, and the full-hypercube zero-one error
as an exact count. No float tolerance appears in any check.
"""

from __future__ import annotations

import sympy as sp

from constructions.symbolic import exact_separation
from constructions.symbolic_sim_ln import (
    exact_epsilon,
    exact_sim_ln_four_neuron_solution,
    exact_sim_ln_memorizing_solution,
    exact_sim_ln_xor_memorizing_solution,
)
from sharpness.symbolic.scenario_ii import exact_sign
from sharpness.symbolic.sim_ln import (
    exact_forward_sim_ln,
    exact_hessian_trace_sim_ln,
    exact_hypercube_errors_sim_ln,
    exact_sim_ln_lower_bound,
)
from verify._common import ClaimRun, require_xor, training_set
from verify.config import ClaimConfig
from verify.exact.scenario_ii import extreme_point_check
from verify.registry import get_claim
from verify.report import CheckResult, ClaimReport

EXACT_CLAIMS = ("5.1", "prop5.1", "prop5.2")

MAX_D, MAX_N = 8, 32
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
    if config.d > MAX_D or config.n > MAX_N:
        raise ValueError(
            f"--exact for Sim-LN supports d <= {MAX_D}, n <= {MAX_N} "
            f"(got d={config.d}, n={config.n}); pass a smaller --n or --d"
        )


def _check(name, passed, measured, expected, detail) -> CheckResult:
    return CheckResult(
        name=name,
        passed=bool(passed),
        value=measured,
        expected=expected,
        tolerance=PROOF,
        detail=detail,
        kind="symbolic",
    )


def interpolation_check(cons) -> CheckResult:
    eps = cons.parameters["ln_eps"]
    bad = [
        i
        for i in range(cons.X.rows)
        if exact_sign(exact_forward_sim_ln(cons.params, eps, cons.X.row(i)).output - cons.y[i]) != 0
    ]
    detail = (
        f"f(x_i) - y_i simplifies to 0 at all {cons.X.rows} points"
        if not bad
        else f"{len(bad)} point(s) not interpolated, e.g. point {bad[0]}"
    )
    return _check("interpolation (exact)", not bad, len(bad), 0, detail)


def memorization_check(cons) -> CheckResult:
    """Definition 4.2 with proven strict signs: one active unit per point, distinct units."""
    eps = cons.parameters["ln_eps"]
    problems, owners = [], {}
    for i in range(cons.X.rows):
        signs = exact_forward_sim_ln(cons.params, eps, cons.X.row(i)).signs
        zeros = [k for k, s in enumerate(signs) if s == 0]
        active = [k for k, s in enumerate(signs) if s > 0]
        if zeros:
            problems.append(f"point {i}: pre-activation exactly 0 at neuron {zeros[0]}")
        if len(active) != 1:
            problems.append(f"point {i}: {len(active)} active units")
        elif active[0] in owners:
            problems.append(f"points {owners[active[0]]} and {i} share neuron {active[0]}")
        else:
            owners[active[0]] = i
    detail = (
        "; ".join(problems[:3])
        if problems
        else "every pre-activation has a proven strict sign; one-hot and injective"
    )
    return _check("memorization, strict signs (exact)", not problems, len(problems), 0, detail)


def regime_check(cons) -> CheckResult:
    """Each point's regime can attain its Lemma A.12 term: normalized needs 2c >= eps, linear
    needs 2c <= eps (c > 0); the switch ||h|| = eps is never flattest for y != 0."""
    eps = cons.parameters["ln_eps"]
    bad, counts = [], {"normalized": 0, "linear": 0, "switch": 0}
    for i in range(cons.X.rows):
        regime = exact_forward_sim_ln(cons.params, eps, cons.X.row(i)).regime
        counts[regime] += 1
        c = sp.sqrt(sum(v**2 for v in cons.X.row(i)) + 1) * abs(cons.y[i])
        gap = exact_sign(2 * c - eps)
        ok = c != 0 and ((regime == "normalized" and gap >= 0) or (regime == "linear" and gap <= 0))
        if not ok:
            bad.append(i)
    detail = (
        f"{counts['normalized']} normalized (||h||^2 > eps^2), {counts['linear']} linear "
        f"(||h||^2 < eps^2), {counts['switch']} at the switch, each proven"
    )
    if bad:
        detail += f"; point {bad[0]} is in a regime that cannot attain min(1, 2c/eps)"
    return _check("regime attains min(1, 2c/eps) per point (exact)", not bad, len(bad), 0, detail)


def trace_checks(cons) -> list[CheckResult]:
    eps = cons.parameters["ln_eps"]
    res = exact_hessian_trace_sim_ln(cons.params, eps, cons.X, cons.y)
    bound = exact_sim_ln_lower_bound(cons.X, cons.y, eps)
    fatal = res["fatal_kinks"]
    diff = _check(
        "twice differentiable at theta (exact)",
        not fatal,
        len(fatal),
        0,
        f"{len(res['harmless_kinks'])} harmless kink(s) (zero output weight, interpolated point)"
        if not fatal
        else f"{len(fatal)} fatal kink(s), e.g. (point, unit) = {fatal[0]} (unit None: the "
        "switch ||h|| = eps): the Hessian does not exist",
    )
    if fatal:
        undefined = "Hessian undefined (fatal kinks)"
        return [
            diff,
            _check("Tr(H) = (2/n) sum ||grad f||^2 (exact)", False, None, None, undefined),
            _check("Tr(H) = Lemma A.12 bound (exact)", False, None, str(bound), undefined),
        ]
    trace, lemma = res["trace"], res["lemma41"]
    flat = sp.simplify(trace - bound) == 0
    return [
        diff,
        _check(
            "Tr(H) = (2/n) sum ||grad f||^2 (exact)",
            sp.simplify(trace - lemma) == 0,
            str(trace),
            str(lemma),
            f"trace from sympy second derivatives; residual term {res['residual_term']}",
        ),
        _check(
            "Tr(H) = Lemma A.12 bound (exact)",
            flat,
            str(trace),
            str(bound),
            "equality proves a flattest interpolator"
            if flat
            else f"difference {sp.simplify(trace - bound)} = {sp.N(trace - bound, 6)}",
        ),
    ]


def _eps(config: ClaimConfig, default) -> sp.Expr:
    return default if config.ln_eps is None else exact_epsilon(config.ln_eps, "ln_eps")


def _report(claim_id, config, checks, notes, params) -> ClaimReport:
    claim = get_claim(claim_id)
    p = config.describe()
    p.update({k: str(v) for k, v in params.items()})
    return ClaimReport(claim_id, claim.title, claim.reference, p, checks, notes)


def run_exact(claim_id: str, config: ClaimConfig) -> ClaimRun:
    _limits(config)
    dataset = training_set(config)
    notes = []
    if config.depth != 2:
        notes.append(f"2-MLP-Sim-LN has two layers: --depth {config.depth} is ignored.")
    if claim_id == "5.1":
        cs = [
            sp.sqrt(sum(sp.Rational(float(v)) ** 2 for v in row) + 1) * abs(sp.Rational(float(t)))
            for row, t in zip(dataset.X, dataset.y, strict=True)
        ]
        nz = [c for c in cs if c != 0]
        eps = _eps(config, min(nz) / 2 if nz else sp.Integer(1))
        delta = None if config.epsilon is None else config.epsilon
        W, margins = exact_separation(dataset.X, "lp")
        separation = extreme_point_check(margins)
        if not separation.passed:  # nothing to build on
            return ClaimRun(_report(claim_id, config, [separation], notes, {}), None, dataset)
        cons = exact_sim_ln_memorizing_solution(
            dataset.X, dataset.y, eps, directions=W, delta=delta, form=config.form
        )
        margin, delta = cons.parameters["min_margin"], cons.parameters["delta"]
        checks = [
            separation,
            _check("delta < min margin (exact)", 0 < delta < margin, str(delta), f"< {margin}", ""),
            interpolation_check(cons),
            memorization_check(cons),
            regime_check(cons),
            *trace_checks(cons),
        ]
        params = {"ln_eps": eps, "delta": delta}
    elif claim_id == "prop5.1":
        _refuse_repeats(dataset, "prop5.1")
        require_xor(dataset, "Proposition 5.1")
        d, n = dataset.d, dataset.n
        eps = _eps(config, sp.sqrt(d + 1) / 2)
        delta = sp.Integer(1) if config.epsilon is None else exact_epsilon(config.epsilon, "delta")
        cons = exact_sim_ln_xor_memorizing_solution(
            dataset.X, dataset.y, eps, delta=delta, form=config.form
        )
        mistakes = exact_hypercube_errors_sim_ln(cons.params, d)
        expected = max(2**d - n, 0)
        checks = [
            _check("delta < 2 (A.4.2)", 0 < delta < 2, str(delta), "< 2", ""),
            interpolation_check(cons),
            memorization_check(cons),
            regime_check(cons),
            *trace_checks(cons),
            _check(
                f"zero-one error on {{-1,1}}^{d} = max{{1 - n/2^d, 0}} (exact)",
                mistakes == expected,
                f"{mistakes}/{2**d}",
                f"{expected}/{2**d}",
                "sign of f(x) = sign(W2 relu(W1 x + b1)) proven at every vertex",
            ),
        ]
        if config.form == "printed":
            notes.append(
                "App. A.4.2 as printed: W1 = [2 eps x_i/delta], b1 = [2 eps(-d + delta)/delta], "
                "W2 = [y_i] (normalized regime at every eps; flattest iff eps <= 2 sqrt(d+1))."
            )
        else:
            notes.append(
                "App. A.4.1 (corrected) with directions w_i = x_i and separation delta: App. A.4.2 "
                "as printed when eps <= 2 sqrt(d+1), the linear regime beyond."
            )
        params = {"ln_eps": eps, "delta": delta, "width": n}
    elif claim_id == "prop5.2":
        require_xor(dataset, "Proposition 5.2")
        d, n = dataset.d, dataset.n
        eps = _eps(config, sp.sqrt(d + 1) / 2)
        width = max(n, 4)
        cons = exact_sim_ln_four_neuron_solution(dataset.X, d, eps, width=width, form=config.form)
        mistakes = exact_hypercube_errors_sim_ln(cons.params, d)
        checks = [
            interpolation_check(cons),
            regime_check(cons),
            *trace_checks(cons),
            _check(
                f"zero-one error on {{-1,1}}^{d} = 0 (exact)",
                mistakes == 0,
                f"{mistakes}/{2**d}",
                f"0/{2**d}",
                "sign of f(x) proven at every vertex",
            ),
        ]
        params = {"ln_eps": eps, "width": width, "scale": cons.parameters["scale"]}
    else:
        raise ValueError(f"no exact proof for claim {claim_id!r}")
    return ClaimRun(_report(claim_id, config, checks, notes, params), None, dataset)
