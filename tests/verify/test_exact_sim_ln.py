"""--exact for Sim-LN (5.1, prop5.1, prop5.2): proofs pass, and each check fails when broken."""

import pytest
import sympy as sp

from constructions import sample_xor
from constructions.symbolic_sim_ln import (
    exact_sim_ln_four_neuron_solution,
    exact_sim_ln_memorizing_solution,
)
from tests.verify.test_cli import run
from verify import ClaimConfig
from verify.exact import get_exact_runner
from verify.exact.sim_ln import (
    interpolation_check,
    memorization_check,
    regime_check,
    trace_checks,
)


def _checks(claim, **kw):
    cfg = ClaimConfig(d=kw.pop("d", 4), n=kw.pop("n", 6), exact=True, **kw)
    return {c.name: c for c in get_exact_runner(claim)(claim, cfg).report.checks}


@pytest.mark.parametrize("claim", ["5.1", "prop5.1", "prop5.2"])
@pytest.mark.parametrize("ln_eps", [None, 0.1, 20.0])
def test_exact_sim_ln_claims_pass(claim, ln_eps):
    checks = _checks(claim, ln_eps=ln_eps)
    assert all(c.passed for c in checks.values()), [
        (c.name, c.detail) for c in checks.values() if not c.passed
    ]
    assert all(c.kind == "symbolic" and c.tolerance == "none (symbolic)" for c in checks.values())


def test_printed_case_split_is_not_flattest_for_eps_between_c_and_2c():
    # c = sqrt(5) ~ 2.236 < eps = 3 < 2c: printed puts the points in the linear regime
    checks = _checks("5.1", ln_eps=3.0, form="printed")
    assert not checks["regime attains min(1, 2c/eps) per point (exact)"].passed
    bound = checks["Tr(H) = Lemma A.12 bound (exact)"]
    assert not bound.passed and bound.value == str(4 * sp.sqrt(5) / 3)


def test_printed_eq18_fails_and_a42_beyond_2sqrt_d_plus_1_is_not_flattest():
    checks = _checks("prop5.2", form="printed")
    assert checks["zero-one error on {-1,1}^4 = 0 (exact)"].value == "8/16"
    assert not checks["interpolation (exact)"].passed
    a42 = _checks("prop5.1", d=5, n=8, ln_eps=20.0, form="printed")
    assert not a42["Tr(H) = Lemma A.12 bound (exact)"].passed


def test_each_exact_sim_ln_check_fails_on_a_broken_construction():
    ds = sample_xor(4, 6, 0)
    eps = sp.sqrt(5) / 2
    good = exact_sim_ln_memorizing_solution(ds.X, ds.y, eps)
    assert interpolation_check(good).passed and memorization_check(good).passed
    assert regime_check(good).passed and all(c.passed for c in trace_checks(good))
    # output weights scaled: not interpolated
    bad = exact_sim_ln_memorizing_solution(ds.X, ds.y, eps)
    object.__setattr__(bad, "params", {**bad.params, "W2": bad.params["W2"] * 2})
    assert not interpolation_check(bad).passed
    # delta beyond the margins: neurons fire at several training points
    wide = exact_sim_ln_memorizing_solution(ds.X, ds.y, eps, delta=50)
    assert not memorization_check(wide).passed
    # first layer halved: ||h(x_i)|| = eps exactly, the switch of the max (fatal)
    half = exact_sim_ln_memorizing_solution(ds.X, ds.y, eps)
    p = dict(half.params)
    p["W1"], p["b1"] = p["W1"] / 2, p["b1"] / 2
    object.__setattr__(half, "params", p)
    diff, ident, bound = trace_checks(half)
    assert not diff.passed and not ident.passed and not bound.passed
    assert not regime_check(half).passed


def test_exact_zero_one_check_fails_for_a_flipped_network():
    d = 4
    cons = exact_sim_ln_four_neuron_solution(sample_xor(d, 4, 0).X, d, 1)
    from sharpness.symbolic.sim_ln import exact_hypercube_errors_sim_ln

    p = dict(cons.params)
    p["W2"] = -p["W2"]
    assert exact_hypercube_errors_sim_ln(p, d) == 2**d


def test_cli_exact_sim_ln_and_limits():
    proc = run("prop5.2", "--d", "4", "--n", "6", "--exact")
    assert proc.returncode == 0 and "PASS (proof)" in proc.stdout
    big = run("5.1", "--d", "9", "--exact")
    assert big.returncode == 2 and "d <= 8" in big.stderr


@pytest.mark.parametrize("claim", ["4.1", "5.1"])
def test_exact_margin_check_catches_a_wrong_lp_certificate(claim, monkeypatch):
    import numpy as np

    import constructions.symbolic as symbolic

    real = symbolic.certify_extreme_points

    def broken(X):  # an LP certificate whose first direction does not separate its point
        cert = real(X)
        W = np.array(cert.directions, dtype=float)
        W[0] = 0.0
        return type("Cert", (), {"directions": W})()

    monkeypatch.setattr(symbolic, "certify_extreme_points", broken)
    report = get_exact_runner(claim)(claim, ClaimConfig(d=4, n=6, exact=True)).report
    assert not report.passed
    check = report.checks[0]
    assert check.name == "extreme points (Def. 4.1, exact margins)" and not check.passed
    assert "point 0" in check.detail


@pytest.mark.parametrize(
    "claim, kw, name",
    [
        ("4.1", {"epsilon": 10.0}, "epsilon < min margin (exact)"),
        ("5.1", {"epsilon": 10.0}, "delta < min margin (exact)"),
        ("prop5.1", {"epsilon": 3.0}, "delta < 2 (A.4.2)"),
    ],
)
def test_exact_separation_parameter_checks_fail_when_too_large(claim, kw, name):
    checks = _checks(claim, **kw)
    assert not checks[name].passed


def test_exact_identity_check_fails_off_interpolation():
    # delta far beyond the margins: several units active per point (normalized regime, where
    # Hess f has a nonzero diagonal); output weights doubled: residuals are nonzero
    ds = sample_xor(4, 6, 0)
    cons = exact_sim_ln_memorizing_solution(ds.X, ds.y, sp.sqrt(5) / 2, delta=50)
    object.__setattr__(cons, "params", {**cons.params, "W2": cons.params["W2"] * 2})
    diff, ident, _ = trace_checks(cons)
    assert diff.passed and not ident.passed  # defined, but the residual term is nonzero
