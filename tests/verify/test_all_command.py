"""``verify-theorem all``: every claim, one Table 1 summary, --json, --save with resume, exit codes."""

import json

import numpy as np
import pytest

from constructions import sample_xor
from tests.verify.test_cli import run as run_installed
from verify import CLAIMS
from verify.claim_index import claims_of
from verify.experiments import TABLE1, run_claims, summarize

ROWS = [row.architecture for row in TABLE1]
#: ``all`` runs Wen, Li & Ma's claims by default (``--paper chen2023`` for Chen et al.'s)
WEN = claims_of("wen2023", CLAIMS)


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
    assert out["passed"] is True and set(out["claims"]) == set(WEN)
    assert [r["architecture"] for r in out["table1"]] == ROWS
    rows = {r["architecture"]: r for r in out["table1"]}
    for arch in ("2-layer w/ Bias", "2-layer w/ simplified LayerNorm"):
        assert rows[arch]["reproduced"] == "✗" and rows[arch]["matches_paper"]
        assert rows[arch]["evidence"].startswith("proof by construction")
    for row in TABLE1:  # the other half's claims may or may not be installed
        if any(c not in CLAIMS for c in row.claims):
            assert rows[row.architecture]["reproduced"] == "not available"
    for cid in WEN:
        sub = save / cid
        assert sorted(f.name for f in sub.iterdir()) == ["dataset.npz", "params.npz", "report.json"]
    report = json.loads((save / "5.1" / "report.json").read_text())
    assert report["parameters"]["ln_eps"] > 0
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
    assert out.count("verdict: VERIFIED") == len(WEN)  # every claim's report is printed
    assert "notes on the paper" in out


def test_a_failing_claim_gives_exit_one_and_not_reproduced(capsys):
    code, out, _ = cli(capsys, "--d", "4", "--n", "6", "--form", "printed", "--summary-only")
    assert code == 1
    assert "not reproduced" in out or "NOT VERIFIED" in out


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--ln-eps", "-1"], "ln_eps must be a finite number > 0"),
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


def test_json_is_what_the_library_returns(capsys, tmp_path):
    from verify import ClaimConfig

    code, out, err = cli(capsys, "--d", "3", "--n", "5", "--json", "--save", str(tmp_path / "s"))
    assert code == 0, err
    outcomes = run_claims(ClaimConfig(d=3, n=5, progress=False), save=tmp_path / "lib")
    assert json.loads(out) == json.loads(json.dumps(summarize(ClaimConfig(d=3, n=5), outcomes)))
    index = json.loads((tmp_path / "lib" / "all.json").read_text())
    assert index == json.loads((tmp_path / "s" / "all.json").read_text())
    assert index["complete"] is True and index["table1"] == json.loads(out)["table1"]


def test_papers_partition_the_claims(capsys):
    from verify.claim_index import PAPERS

    parts = [set(claims_of(p, CLAIMS)) for p in PAPERS]
    assert set.union(*parts) == set(CLAIMS) == set(claims_of("every", CLAIMS))
    assert not set.intersection(*parts)
    assert parts[1] == {c for c in CLAIMS if c.startswith("chen.")} and parts[1]
    with pytest.raises(ValueError, match="unknown paper 'kou'"):
        claims_of("kou", CLAIMS)
    code, _, err = cli(capsys, "--paper", "kou")
    assert code == 2 and "--paper" in err
