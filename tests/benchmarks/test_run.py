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
    startup = out["startup"]  # --help, --list, --version, bad input: no torch, right exit codes
    assert startup["all_light"] and startup["all_exit_ok"], startup["rows"]


def test_quick_training_benchmark_agrees_with_the_naive_loop(capsys):
    import pytest

    from sharpness.training.algorithms import KernelUnavailableError, load_kernel

    try:
        load_kernel()
    except KernelUnavailableError as exc:  # no C compiler: the trainer falls back to torch
        pytest.skip(str(exc))
    code = main(["--quick", "--only", "training", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    agree = out["training"]["agreement_float64"]
    assert agree["max_abs_diff"] <= 1e-12 * max(1.0, agree["max_abs_param"])
