"""Table 1 (verify.experiments.table1): one table, both result columns, marks that follow the evidence."""

import pytest

from tests.verify.experiments.test_verdicts import fake_run
from verify import CLAIMS
from verify.experiments import (
    EXPERIMENTS,
    GENERALIZES,
    MARK_MEANING,
    TABLE1,
    Outcome,
    format_second_column,
    reproduce_second_column,
    reproduce_third_column,
)
from verify.experiments.claims_runner import check_kinds, exit_code
from verify.report import CheckResult, ClaimReport


def test_one_table_of_four_rows_with_both_columns():
    assert [row.architecture for row in TABLE1] == [
        "2-layer w/o Bias",
        "2-layer w/ Bias",
        "2-layer w/ simplified BatchNorm",
        "2-layer w/ simplified LayerNorm",
    ]
    # the paper's marks: second column (Theorems 3.1, 4.1, 3.2, 5.1), third (Figs 1, 4, 2, 6)
    assert [(r.theorem, r.flattest_mark) for r in TABLE1] == [
        ("Theorem 3.1", "✓"),
        ("Theorem 4.1", "✗"),
        ("Theorem 3.2", "✓"),
        ("Theorem 5.1", "✗"),
    ]
    assert [(r.sam_panel, r.sam_mark) for r in TABLE1] == [
        ("fig1b", "✓"),
        ("fig4b", "✗"),
        ("fig2a", "✓"),
        ("fig6a", "✓"),
    ]
    panels = {p.preset for exp in EXPERIMENTS.values() for p in exp.panels}
    for row in TABLE1:
        assert row.flattest_mark in MARK_MEANING and row.sam_mark in ("✓", "✗")
        assert row.sam_panel in panels  # the third column's evidence is a panel of Figs 1-11
        assert set(row.claims + row.supporting) <= set(CLAIMS)


# --- the second column, on fabricated outcomes ------------------------------------------------


def _outcome(cid, passed=True, kinds=("float",), evidence=None):
    checks = [
        CheckResult(name=f"c{i}", passed=passed, value=1.0, expected=1.0, tolerance="t", kind=k)
        for i, k in enumerate(kinds)
    ]
    report = ClaimReport(cid, "t", "r", {}, checks)
    status = "verified" if passed else "failed"
    return Outcome(cid, status, report, evidence=evidence, kinds=check_kinds(report))


def test_second_column_marks_follow_the_claims():
    outcomes = {c: _outcome(c) for c in ("4.1", "prop4.1", "5.1", "prop5.1", "prop5.2")}
    outcomes["prop5.1"] = _outcome("prop5.1", passed=False)
    outcomes["3.2"] = _outcome("3.2", kinds=("float", "estimate"), evidence="numerical evidence")
    rows = {r["architecture"]: r for r in reproduce_second_column(outcomes)}
    assert rows["2-layer w/o Bias"]["reproduced"] == "not available"
    assert rows["2-layer w/ Bias"]["reproduced"] == "✗"
    assert rows["2-layer w/ Bias"]["evidence"].startswith("proof by construction")
    assert rows["2-layer w/ simplified LayerNorm"]["reproduced"] == "not reproduced"
    bn = rows["2-layer w/ simplified BatchNorm"]
    assert bn["reproduced"] == "✓" and "ESTIMATE" in bn["evidence"]
    assert bn["evidence"].startswith("numerical evidence")
    assert exit_code(outcomes) == 1
    outcomes["prop5.1"] = Outcome("prop5.1", "refused", reason="bad data")
    assert exit_code(outcomes) == 2
    assert reproduce_second_column(outcomes)[3]["reproduced"] == "not run"
    outcomes["4.1"] = Outcome("4.1", "error", reason="bug")
    assert exit_code(outcomes) == 3
    text = format_second_column(reproduce_second_column(outcomes), outcomes)
    assert "4.1: internal error: bug" in text and "prop5.1: refused the input: bad data" in text
    assert "✗ (Thm 4.1)" in text and MARK_MEANING["✗"] in text


def test_a_claim_can_qualify_its_mark():
    outcomes = {c: _outcome(c) for c in ("4.1", "prop4.1", "5.1", "prop5.1")}
    outcomes["3.2"] = Outcome(
        "3.2", "verified", _outcome("3.2").report, qualifier="(corrected statement only)"
    )
    bn = {r["architecture"]: r for r in reproduce_second_column(outcomes)}[
        "2-layer w/ simplified BatchNorm"
    ]
    assert bn["reproduced"] == "✓ (corrected statement only)" and not bn["matches_paper"]


# --- the third column, on fabricated runs -----------------------------------------------------


def _sam_runs(test_errors):
    """{panel: one fake 1-SAM run per seed} with the given final test error for every row."""
    return {
        row.sam_panel: [fake_run(s, [(0, 0.5, 100.0), (10, te, 1.0)]) for s in range(2)]
        for row, te in zip(TABLE1, test_errors, strict=True)
    }


@pytest.mark.parametrize(
    "errors,marks,passed",
    [
        ((0.0, 0.4, 0.01, 0.0), ("✓", "✗", "✓", "✓"), (True, True, True, True)),
        ((0.3, 0.0, 0.01, 0.5), ("✗", "✓", "✓", "✗"), (False, False, True, False)),
    ],
)
def test_third_column_marks_follow_the_runs(errors, marks, passed):
    report, table = reproduce_third_column(_sam_runs(errors), "smoke", 2)
    assert [c.passed for c in report.checks] == list(passed)
    assert report.passed == all(passed) and report.parameters["seeds"] == 2
    lines = table.splitlines()[4:]
    for row, mark, line in zip(TABLE1, marks, lines, strict=True):
        assert row.architecture in line and row.sam_panel in line
        cells = line[len("  ") :].split("  ")
        cells = [c.strip() for c in cells if c.strip()]
        assert cells[1:3] == [row.sam_mark, mark]
    assert f"<= {GENERALIZES:g}" in report.checks[0].expected


def test_third_column_is_undecided_when_intervals_straddle_the_threshold():
    R = _sam_runs((0.0, 0.4, 0.0, 0.0))
    R["fig4b"] = [fake_run(0, [(10, 0.05, 1.0, (0.03, 0.07))])]
    report, table = reproduce_third_column(R, "quick", 1)
    bias = table.splitlines()[5]
    assert "2-layer w/ Bias" in bias and " ? " in bias
    assert not report.checks[1].passed and report.checks[1].kind == "estimate"
