"""Issue 15, section 5: mutations of the code under test that must fail a test.

Each test plants one mutant (by monkeypatching the code under test) and shows the verifier
notices it; the expected values come from closed forms computed here, never from the code under
test. ``benchmarks/mutants.py`` mutates ``verify/checks.py`` mechanically; its survivors are
listed in docs/mutation.md.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from constructions import Dataset, Network, sample_xor
from constructions import four_neuron as four_neuron_module
from verify.claims import proposition_4_1, proposition_4_2, theorem_4_1
from verify.config import ClaimConfig


def _row(report, start):
    rows = [c for c in report.checks if c.name.startswith(start)]
    assert len(rows) == 1, [c.name for c in report.checks]
    return rows[0]


# --- (a) prop4.1's expected count comes from the closed form, not from hypercube_error --------
def _with_one_flipped_output(cons):
    """The construction with the sign of one output weight flipped: one training point (and so
    one more cube point) is misclassified."""
    params = {k: v.clone() for k, v in cons.network.params.items()}
    last = f"W{cons.network.arch.depth}"
    params[last][0, 0] = -params[last][0, 0]
    return dataclasses.replace(cons, network=Network(cons.network.arch, params))


def test_prop41_expected_count_is_the_closed_form():
    d, n = 5, 7
    report = proposition_4_1.run(ClaimConfig(d=d, n=n)).report
    row = _row(report, "zero-one error")
    assert row.passed and row.expected == max(1 - n / 2**d, 0) == 25 / 32  # computed here


def test_prop41_fails_a_wrong_network_and_its_mutant_would_not(monkeypatch):
    real = proposition_4_1.memorizing_solution
    monkeypatch.setattr(
        proposition_4_1,
        "memorizing_solution",
        lambda *a, **k: _with_one_flipped_output(real(*a, **k)),
    )
    config = ClaimConfig(d=5, n=7)
    row = _row(proposition_4_1.run(config).report, "zero-one error")
    assert not row.passed  # 26 mistakes against the formula's 25
    assert row.value == pytest.approx(26 / 32)

    # the mutant: expected count taken from hypercube_error itself -- it passes the same broken
    # network, which is why the expected value must come from the closed form
    real_check = proposition_4_1.check_hypercube_zero_one
    monkeypatch.setattr(
        proposition_4_1,
        "check_hypercube_zero_one",
        lambda ev, expected, label: real_check(ev, ev.hypercube.errors, label),
    )
    assert _row(proposition_4_1.run(config).report, "zero-one error").passed


# --- (b) r in Eq. (5) scaled by 1 + delta ------------------------------------------------------
def _scaled_r(monkeypatch, delta):
    flattest = four_neuron_module.flattest_r
    monkeypatch.setattr(four_neuron_module, "flattest_r", lambda d: flattest(d) * (1 + delta))


@pytest.mark.parametrize("delta, detected", [(1e-5, False), (1.5e-5, False), (3e-5, True)])
def test_smallest_r_perturbation_the_float_trace_check_detects(monkeypatch, delta, detected):
    """Eq. (5)'s trace is 2 sqrt(d+1) n ((1+delta)^2 + (1+delta)^-2)/2 ... relative excess
    2 delta^2 + O(delta^3) over the bound (r* is a minimum): the float check (rtol 1e-9) sees
    delta > sqrt(1e-9 / 2) = 2.24e-5 and no smaller. Interpolation cannot see it at all: u/rho = 1
    for every r."""
    _scaled_r(monkeypatch, delta)
    report = proposition_4_2.run(ClaimConfig(d=6, n=20)).report
    row = _row(report, "Tr(H) = lower bound")
    assert row.passed is not detected
    excess = row.value / row.expected - 1
    assert excess == pytest.approx(2 * delta**2, rel=1e-3)  # the closed form, computed here
    assert _row(report, "interpolation").passed
    assert math.sqrt(1e-9 / 2) == pytest.approx(2.236e-5, rel=1e-3)


def test_exact_proves_the_float_construction_so_a_scaled_r_fails(monkeypatch):
    from verify.exact.scenario_ii import run_exact

    config = ClaimConfig(d=3, n=6, exact=True)
    row = _row(run_exact("prop4.2", config).report, "float weights = exact construction")
    assert row.passed
    _scaled_r(monkeypatch, 1e-5)
    report = run_exact("prop4.2", config).report
    row = _row(report, "float weights = exact construction")
    assert not row.passed and not report.passed
    assert row.value == 16  # the 4 x 3 entries of W1, b1 (r) and the 4 of W2 (1/r)


def test_float_weights_check_accepts_rounding_and_refuses_one_ulp_too_many():
    import sympy as sp

    from verify.exact.scenario_ii import FLOAT_WEIGHT_ULPS, float_weights_check

    e = sp.Integer(5) ** sp.Rational(1, 4)
    f = float(5**0.25)
    ok = float_weights_check(
        {"W": torch.tensor([[f]], dtype=torch.float64)}, {"W": sp.Matrix([[e]])}
    )
    assert ok.passed
    far = f + (FLOAT_WEIGHT_ULPS + 2) * np.spacing(f)
    bad = float_weights_check(
        {"W": torch.tensor([[far]], dtype=torch.float64)}, {"W": sp.Matrix([[e]])}
    )
    assert not bad.passed


# --- interpolation atol 1e-12 -> 1e-4 and the memorization row of 4.1 --------------------------
def test_interpolation_misses_of_1e_6_fail_the_claim(monkeypatch):
    real = proposition_4_2.four_neuron_solution

    def off_by_1e_6(*a, **k):
        cons = real(*a, **k)
        if k.get("form") == "printed":  # the note on the printed r: left alone
            return cons
        params = {k: v.clone() for k, v in cons.network.params.items()}
        params["W2"] = params["W2"] * (1 + 1e-6)  # f = (1 + 1e-6) y on every point
        return dataclasses.replace(cons, network=Network(cons.network.arch, params))

    monkeypatch.setattr(proposition_4_2, "four_neuron_solution", off_by_1e_6)
    report = proposition_4_2.run(ClaimConfig(d=4)).report
    row = _row(report, "interpolation")
    assert not row.passed and row.value == pytest.approx(1e-6, rel=1e-6)
    assert not report.passed


def test_theorem41_reports_every_row_of_its_statement():
    report = theorem_4_1.run(ClaimConfig(d=4, n=6)).report
    names = [c.name for c in report.checks]
    for start in (
        "extreme points (Def. 4.1)",
        "epsilon < min margin",
        "interpolation",
        "memorization (Def. 4.2)",
        "twice differentiable",
        "Tr(H) = (2/n) sum",
        "Tr(H) = lower bound",
    ):
        assert sum(n.startswith(start) for n in names) == 1, (start, names)


def test_theorem41_memorization_row_fails_a_non_memorizing_network(monkeypatch):
    real = theorem_4_1.memorizing_solution

    def two_fire(*a, **k):  # neuron 0 also fires wherever neuron 1 does: not one-hot
        cons = real(*a, **k)
        params = {k: v.clone() for k, v in cons.network.params.items()}
        params["W1"][0] = params["W1"][1]
        params["b1"][0] = params["b1"][1]
        return dataclasses.replace(cons, network=Network(cons.network.arch, params))

    monkeypatch.setattr(theorem_4_1, "memorizing_solution", two_fire)
    report = theorem_4_1.run(ClaimConfig(d=4, n=6)).report
    assert not _row(report, "memorization (Def. 4.2)").passed


def test_the_sampled_training_set_is_the_one_checked():
    # the fixtures above rely on P_xor samples being distinct hypercube points
    ds = sample_xor(5, 7, 0)
    assert ds.duplicate_pair() is None and np.all(np.abs(ds.X) == 1)


def test_exact_41_proves_the_float_memorizing_construction(monkeypatch):
    import constructions.memorizing as memorizing_module
    from verify.exact import scenario_ii

    config = ClaimConfig(d=4, n=6, exact=True)
    row = _row(scenario_ii.run_exact("4.1", config).report, "float weights = exact construction")
    assert row.passed
    real = scenario_ii.memorizing_solution

    def nudged(*a, **k):  # the float run's construction with one weight off by 1e-9
        cons = real(*a, **k)
        params = {k: v.clone() for k, v in cons.network.params.items()}
        params["W1"][0, 0] *= 1 + 1e-9
        return dataclasses.replace(cons, network=Network(cons.network.arch, params))

    monkeypatch.setattr(scenario_ii, "memorizing_solution", nudged)
    row = _row(scenario_ii.run_exact("4.1", config).report, "float weights = exact construction")
    assert not row.passed and row.value == 1
    assert memorizing_module.memorizing_solution is real  # the library itself is untouched


@pytest.mark.parametrize("epsilon, ok", [(0.5, True), (1.0, False), (1.25, False)])
def test_prop41_epsilon_row_is_the_cube_margin_2_over_sqrt_d(epsilon, ok):
    # d = 4: w_i = x_i/2 separates x_i from every other vertex by exactly 2/sqrt(4) = 1, so
    # epsilon = 1 already lets a neuron fire (at 0) off its own point: the row is strict
    report = proposition_4_1.run(ClaimConfig(d=4, n=5, epsilon=epsilon)).report
    row = _row(report, "epsilon < cube margin")
    assert row.passed is ok
    assert row.expected == "< 1"


def test_theorem41_notes_on_the_paper_count_what_they_claim():
    # Eq. (4) as printed lacks sign(y_i): it fails exactly at the points with y_i < 0 (counted
    # here from the data), and the note says so; at depth 3 the printed kink note appears; a zero
    # label gets its own note
    ds = sample_xor(6, 20, 0)
    neg = int(np.sum(ds.y < 0))
    assert 0 < neg < 20
    notes = " ".join(theorem_4_1.run(ClaimConfig(dataset=ds)).report.notes)
    assert f"fails at {neg} of 20 training points ({neg} have y_i < 0;" in notes
    assert "A zero label" not in notes
    deep = " ".join(theorem_4_1.run(ClaimConfig(d=4, n=6, depth=3)).report.notes)
    assert "diag(1/r_i)" in deep and "Eq. (4) as printed" not in deep
    zero = Dataset(ds.X[:5], np.array([0.0, 1.0, -1.0, 1.0, -1.0]))
    assert any("A zero label" in n for n in theorem_4_1.run(ClaimConfig(dataset=zero)).report.notes)
