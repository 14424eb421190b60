"""Smoke test of ``python -m benchmarks.bench_hypercube`` at tiny sizes: every row agrees.

Timings are measured by the benchmark, never asserted here.
"""

import json

from benchmarks.bench_hypercube import main


def test_quick_cube_benchmark_agrees_with_the_naive_forward(capsys):
    code = main(["--quick", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["all_agree"]
    assert [r["d"] for r in out["rows"]] == [4, 11, 13]
    assert all(r["limit_evaluations_per_s"] > 0 for r in out["rows"])
