"""Smoke test of ``python -m benchmarks.run`` at tiny sizes: every row agrees with its reference.

Timings are measured by the benchmark, never asserted here.
"""

import json

from benchmarks.run import main


def test_quick_benchmark_agrees_with_references(capsys):
    code = main(["--quick", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    sections = {r["section"] for r in out["rows"]}
    assert sections == {"hypercube", "pruning", "trace", "hutchinson"}
    bad = [r["case"] for r in out["rows"] if not r["agree"]]
    assert out["all_agree"] and not bad, bad
