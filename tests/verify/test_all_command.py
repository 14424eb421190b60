"""``verify-theorem all``: every claim, one Table 1 summary, --json, --save with resume, exit codes."""

import json

import numpy as np
import pytest

from constructions import sample_xor
from tests.verify.test_cli import run as run_installed
from verify import CLAIMS
from verify.commands import all as all_command
from verify.report import CheckResult, ClaimReport

ROWS = [row.architecture for row in all_command.TABLE1]


def cli(capsys, *args):
    from verify.cli import main

    code = main(["all", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_installed_command_json_saves_and_resumes(capsys, tmp_path):
    save = tmp_path / "runs"
    p = run_installed("all", "--d", "4", "--n", "8", "--json", "--save", str(save))
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["passed"] is True and set(out["claims"]) == set(CLAIMS)
    assert [r["architecture"] for r in out["table1"]] == ROWS
    rows = {r["architecture"]: r for r in out["table1"]}
    for arch in ("2-layer w/ bias", "2-layer w/ simplified LayerNorm"):
        assert rows[arch]["reproduced"] == "✗" and rows[arch]["matches_paper"]
        assert rows[arch]["evidence"].startswith("proof by construction")
    for row in all_command.TABLE1:  # the other half's claims may or may not be installed
        if any(c not in CLAIMS for c in row.claims):
            assert rows[row.architecture]["reproduced"] == "not available"
    for cid in CLAIMS:
        sub = save / cid
        assert sorted(f.name for f in sub.iterdir()) == ["dataset.npz", "params.npz", "report.json"]
    report = json.loads((save / "5.1" / "report.json").read_text())
    assert report["parameters"]["ln_epsilon"] > 0
    index = json.loads((save / "all.json").read_text())
    assert index["complete"] is True and index["settings"]["d"] == 4
    # resume: the saved reports are reused (tamper with one to see it), --fresh reruns
    report["checks"][0]["passed"] = False
    (save / "5.1" / "report.json").write_text(json.dumps(report))
    code, out, _ = cli(capsys, "--d", "4", "--n", "8", "--save", str(save), "--summary-only")
    assert code == 1
    assert "reused from --save" in out and "5.1 NOT VERIFIED" in out
    code, out, _ = cli(capsys, "--d", "4", "--n", "8", "--save", str(save), "--fresh", "--json")
    assert code == 0 and json.loads(out)["passed"] is True
    # other settings: nothing is reused
    code, out, _ = cli(capsys, "--d", "4", "--n", "7", "--save", str(save), "--summary-only")
    assert code == 0 and "reused" not in out


def test_text_output_ends_with_the_table(capsys):
    code, out, err = cli(capsys, "--d", "3", "--n", "5", "--no-progress")
    assert code == 0, err
    table = out[out.index("Table 1, second column") :]
    for arch in ROWS:
        assert arch in table
    assert "✗ (Thm 5.1)" in table and "5.1 VERIFIED" in table and "prop5.1 VERIFIED" in table
    assert out.count("verdict: VERIFIED") == len(CLAIMS)  # every claim's report is printed
    assert "notes on the paper" in out


def test_a_failing_claim_gives_exit_one_and_not_reproduced(capsys):
    code, out, _ = cli(capsys, "--d", "4", "--n", "6", "--form", "printed", "--summary-only")
    assert code == 1
    assert "not reproduced" in out or "NOT VERIFIED" in out


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--ln-epsilon", "-1"], "ln_epsilon must be a finite number > 0"),
        (["--d", "65"], "--hypercube-samples"),
        (["--d", "1"], "d must be an integer >= 2"),
        (["--bogus"], "unrecognized arguments"),
    ],
    ids=["ln-eps", "too-large", "d", "flag"],
)
def test_bad_input_is_one_line_exit_two(capsys, args, needle):
    code, out, err = cli(capsys, *args)
    assert code == 2 and needle in err and out == ""
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_claims_that_refuse_the_data_are_reported_after_the_table(capsys, tmp_path):
    ds = sample_xor(4, 6, 0)
    np.savez(tmp_path / "d.npz", X=ds.X, y=2 * ds.y)  # extreme points, but not P_xor labels
    code, out, err = cli(capsys, "--data", str(tmp_path / "d.npz"), "--summary-only", "--json")
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "prop5.1 refused the input" in err
    claims = json.loads(out)["claims"]
    assert claims["5.1"]["status"] == "verified" and claims["prop5.1"]["status"] == "refused"
    rows = {r["architecture"]: r for r in json.loads(out)["table1"]}
    assert rows["2-layer w/ simplified LayerNorm"]["reproduced"] == "not run"


# --- the table logic, on fabricated outcomes --------------------------------------------------


def _outcome(cid, passed=True, kinds=("float",), evidence=None):
    checks = [CheckResult(f"c{i}", passed, 1.0, 1.0, "t", kind=k) for i, k in enumerate(kinds)]
    report = ClaimReport(cid, "t", "r", {}, checks)
    status = "verified" if passed else "failed"
    return all_command.Outcome(
        cid, status, report, evidence=evidence, kinds=all_command._kinds(report)
    )


def test_table_marks_follow_the_claims():
    outcomes = {c: _outcome(c) for c in ("4.1", "prop4.1", "5.1", "prop5.1", "prop5.2")}
    outcomes["prop5.1"] = _outcome("prop5.1", passed=False)
    outcomes["3.2"] = _outcome("3.2", kinds=("float", "estimate"), evidence="numerical evidence")
    rows = {r["architecture"]: r for r in all_command.table1(outcomes)}
    assert rows["2-layer w/o bias"]["reproduced"] == "not available"
    assert rows["2-layer w/ bias"]["reproduced"] == "✗"
    assert rows["2-layer w/ simplified LayerNorm"]["reproduced"] == "not reproduced"
    bn = rows["2-layer w/ simplified BatchNorm"]
    assert bn["reproduced"] == "✓" and "ESTIMATE" in bn["evidence"]
    assert bn["evidence"].startswith("numerical evidence")
    assert all_command.exit_code(outcomes) == 1
    outcomes["prop5.1"] = all_command.Outcome("prop5.1", "refused", reason="bad data")
    assert all_command.exit_code(outcomes) == 2
    assert all_command.table1(outcomes)[3]["reproduced"] == "not run"
    outcomes["4.1"] = all_command.Outcome("4.1", "error", reason="bug")
    assert all_command.exit_code(outcomes) == 3
    text = all_command.format_table(all_command.table1(outcomes), outcomes)
    assert "4.1: internal error: bug" in text and "prop5.1: refused the input: bad data" in text


def test_a_claim_can_qualify_its_mark():
    outcomes = {c: _outcome(c) for c in ("4.1", "prop4.1", "5.1", "prop5.1")}
    outcomes["3.2"] = all_command.Outcome(
        "3.2", "verified", _outcome("3.2").report, qualifier="(corrected statement only)"
    )
    bn = {r["architecture"]: r for r in all_command.table1(outcomes)}[
        "2-layer w/ simplified BatchNorm"
    ]
    assert bn["reproduced"] == "✓ (corrected statement only)" and not bn["matches_paper"]
