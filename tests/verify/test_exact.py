"""--exact: proofs, not tolerances; and each exact check fails on a broken construction."""

import numpy as np
import pytest
import sympy as sp

from constructions import sample_xor
from constructions.symbolic import exact_four_neuron_solution, exact_memorizing_solution
from tests.verify.test_cli import run
from verify import ClaimConfig
from verify.exact import get_exact_runner
from verify.exact.scenario_ii import interpolation_check, pattern_check, trace_checks


@pytest.mark.parametrize("claim", ["4.1", "prop4.1", "prop4.2", "lemma4.1"])
@pytest.mark.parametrize("depth", [2, 3])
def test_exact_claims_pass(claim, depth):
    run_ = get_exact_runner(claim)(claim, ClaimConfig(d=4, n=6, depth=depth, exact=True))
    assert run_.report.passed, [(c.name, c.detail) for c in run_.report.checks if not c.passed]
    assert all(c.kind == "symbolic" for c in run_.report.checks)
    # one row ties the proof to the float run: the float weights lie within a proven number of
    # ulps of the exact construction (verify.exact.scenario_ii.float_weights_check)
    rounded = [c for c in run_.report.checks if c.name.startswith("float weights = exact")]
    assert all(c.tolerance == "4 ulps, proven" for c in rounded)
    assert len(rounded) == (claim in ("4.1", "prop4.2"))
    assert all(c.tolerance == "none (symbolic)" for c in run_.report.checks if c not in rounded)


def test_each_exact_check_fails_on_a_broken_construction():
    ds = sample_xor(4, 6, 0)
    cons = exact_memorizing_solution(ds.X, ds.y, 2)
    assert interpolation_check(cons).passed and pattern_check(cons, True).passed
    # broken output layer: no interpolation
    bad = exact_memorizing_solution(ds.X, ds.y, 2)
    object.__setattr__(bad, "params", {**bad.params, "W2": bad.params["W2"] * sp.Rational(11, 10)})
    assert not interpolation_check(bad).passed
    # epsilon beyond the margins: not one-hot
    wide = exact_memorizing_solution(ds.X, ds.y, 2, epsilon=10)
    assert not pattern_check(wide, True).passed
    # unbalanced (same function): the bound is not attained
    unbal = exact_memorizing_solution(ds.X, ds.y, 2)
    p = dict(unbal.params)
    p["W1"], p["b1"], p["W2"] = p["W1"] * 2, p["b1"] * 2, p["W2"] / 2
    object.__setattr__(unbal, "params", p)
    checks = trace_checks(unbal, 2)
    assert checks[0].passed and checks[1].passed and not checks[2].passed
    # printed depth 3: the Hessian does not exist
    printed = exact_memorizing_solution(ds.X, ds.y, 3, form="printed")
    assert not any(c.passed for c in trace_checks(printed, 3))


def test_exact_zero_one_check_fails_for_a_flipped_network():
    from constructions import Dataset
    from verify.exact.scenario_ii import run_exact

    ds = sample_xor(4, 6, 0)
    flipped = Dataset(ds.X, ds.y, "P_xor")
    report = run_exact("prop4.2", ClaimConfig(dataset=flipped, exact=True)).report
    assert report.passed
    cons = exact_four_neuron_solution(ds.X, 4)
    from sharpness.symbolic.scenario_ii import exact_hypercube_errors

    p = dict(cons.params)
    p["W2"] = -p["W2"]
    assert exact_hypercube_errors(cons.arch, p, 4) == 16


def test_cli_exact_prints_proofs_and_limits():
    p = run("prop4.2", "--d", "4", "--exact")
    assert p.returncode == 0 and "PASS (proof)" in p.stdout and "rtol" not in p.stdout
    p = run("4.1", "--d", "4", "--n", "6", "--exact", "--json")
    assert p.returncode == 0
    p = run("4.1", "--d", "12", "--exact")
    assert p.returncode == 2 and "--exact supports" in p.stderr


def test_unknown_exact_claim():
    with pytest.raises(ValueError, match="no exact"):
        get_exact_runner("nope")


def test_exact_user_data():
    X = np.array([[2.0, 0.0], [0.0, 2.0], [-2.0, 0.0], [0.0, -2.0], [1.0, 1.0]])
    from constructions import Dataset

    with pytest.raises(ValueError):  # (1,1) is inside the square: not extreme
        get_exact_runner("4.1")("4.1", ClaimConfig(dataset=Dataset(X, np.ones(5)), exact=True))
    report = get_exact_runner("4.1")(
        "4.1", ClaimConfig(dataset=Dataset(X[:4], [1.0, -2.0, 0.5, 3.0]), exact=True)
    ).report
    assert report.passed
