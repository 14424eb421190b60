"""Propositions 4.1 and 5.1 on i.i.d. draws with repeated points (issue 12, item 1).

Expected values are computed here by hand or by slow references (dense torch.func.hessian in
float64, a brute-force loop over the cube), never by the code under test.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from constructions import Dataset
from constructions.memorizing import group_repeats, memorizing_solution, unseen_vertices
from constructions.sim_ln import sim_ln_xor_memorizing_solution
from sharpness.reference import dense_hessian_trace
from verify import ClaimConfig, run_claim

# The example: d = 2, samples (1,1), (1,1), (-1,-1).
X_EX = np.array([[1.0, 1.0], [1.0, 1.0], [-1.0, -1.0]])
DS_EX = Dataset(X_EX, X_EX[:, 0] * X_EX[:, 1])
# 2-MLP-Bias bound: (2/n) sum_i 2 |y_i| ||x'_i|| = (2/3) * 3 * 2 sqrt(3) = 4 sqrt(3).
BOUND_EX = 4 * math.sqrt(3)


def _cube_errors(net, d: int) -> int:
    """Brute force: count the vertices with y f(x) <= 0, y = x[1] x[2]."""
    pts = torch.tensor(list(itertools.product([1.0, -1.0], repeat=d)), dtype=torch.float64)
    f = net(pts).detach()
    return int(torch.sum(pts[:, 0] * pts[:, 1] * f <= 0))


def _iid(d: int, n: int, seed: int) -> Dataset:
    rng = np.random.default_rng(seed)
    X = 1.0 - 2.0 * rng.integers(0, 2, size=(n, d))
    return Dataset(X, X[:, 0] * X[:, 1])


def _check(report, name_start: str):
    return next(c for c in report.checks if c.name.startswith(name_start))


@pytest.mark.parametrize("depth", [2, 3])
def test_bias_example_attains_bound_and_quarter_error(depth):
    cons = memorizing_solution(
        DS_EX, depth, directions="sphere", epsilon=1 / math.sqrt(2), spare="xor"
    )
    X, y = DS_EX.tensors()
    assert torch.allclose(cons.network(X).detach(), y, atol=1e-12)
    assert cons.network.params["W1"].shape[0] == 3  # width n
    assert _cube_errors(cons.network, 2) == 1  # exactly 1/4
    if depth == 2:
        assert dense_hessian_trace(cons.network, X, y) == pytest.approx(BOUND_EX, rel=1e-12)
        assert BOUND_EX == pytest.approx(6.9282032303, abs=1e-10)


def test_bias_trace_on_iid_draw_equals_the_bound():
    """Spare neurons are dead on the training set: the trace is the distinct-point network's
    per-sample sum (dense reference for both)."""
    ds = _iid(4, 9, seed=5)
    cons = memorizing_solution(ds, 2, directions="sphere", epsilon=0.5, spare="xor")
    X, y = ds.tensors()
    trace = dense_hessian_trace(cons.network, X, y)
    # Theorem 4.1's bound (App. A.3.1), by hand: (2/n) sum_i 2 |y_i| ||x'_i|| with ||x'|| = sqrt(5).
    assert trace == pytest.approx(2 * 2 * math.sqrt(5), rel=1e-12)
    assert _cube_errors(cons.network, 4) == 16 - 9


def test_sim_ln_example_interpolates_at_the_bound():
    eps = math.sqrt(3) / 2
    cons = sim_ln_xor_memorizing_solution(DS_EX, eps)
    X, y = DS_EX.tensors()
    assert torch.allclose(cons.network(X).detach(), y, atol=1e-12)
    # Lemma A.12: (2/n) sum min(1, 2 sqrt(3)/eps) = 2 (eps <= 2 sqrt(3)).
    assert dense_hessian_trace(cons.network, X, y) == pytest.approx(2.0, rel=1e-12)
    assert _cube_errors(cons.network, 2) == 1


def test_printed_one_neuron_per_sample_does_not_interpolate():
    X, y = DS_EX.tensors()
    bias = memorizing_solution(DS_EX, 2, directions="sphere", epsilon=0.5, form="printed")
    assert bias.network(X).detach()[:2].tolist() == pytest.approx([2.0, 2.0])
    ln = sim_ln_xor_memorizing_solution(DS_EX, 0.5, form="printed")
    assert ln.network(X).detach()[:2].tolist() == pytest.approx([math.sqrt(2)] * 2)


def test_dead_spares_have_no_kink_and_no_output():
    """Non-cube data: spare neurons are dead (bias -1 < 0, output weight 0)."""
    X = np.array([[0.0, 1.0], [0.0, 1.0], [1.0, 0.0], [-1.0, -0.5]])
    ds = Dataset(X, np.array([0.5, 0.5, -1.0, 2.0]))
    cons = memorizing_solution(ds, 3)
    p = cons.network.params
    assert p["W1"].shape[0] == 4
    pre = (torch.tensor(X) @ p["W1"].T + p["b1"]).detach()
    assert torch.all(pre[:, 3] < 0)  # the spare neuron is strictly dead at every training point
    Xt, yt = ds.tensors()
    assert torch.allclose(cons.network(Xt).detach(), yt, atol=1e-12)
    assert cons.parameters["spare_dead"] == 1


def test_conflicting_labels_are_refused():
    ds = Dataset(np.array([[1.0, 2.0], [1.0, 2.0]]), np.array([1.0, -1.0]))
    with pytest.raises(ValueError, match="points 0 and 1 are the same input"):
        memorizing_solution(ds)
    with pytest.raises(ValueError, match="points 0 and 1"):
        group_repeats(ds)


def test_unseen_vertices_skip_the_training_set():
    V = unseen_vertices(X_EX, 5)
    assert sorted(map(tuple, V.tolist())) == [(-1.0, 1.0), (1.0, -1.0)]


@pytest.mark.parametrize("claim", ["prop4.1", "prop5.1"])
def test_claims_pass_on_the_example_with_error_one_quarter(claim):
    report = run_claim(claim, ClaimConfig(dataset=DS_EX)).report
    assert report.passed, [(c.name, c.detail) for c in report.checks if not c.passed]
    err = _check(report, "zero-one error")
    assert err.value == 0.25 and err.expected == 0.25
    if claim == "prop4.1":
        assert _check(report, "Tr(H) = lower bound").value == pytest.approx(BOUND_EX, rel=1e-9)


@pytest.mark.parametrize("claim", ["prop4.1", "prop5.1"])
@pytest.mark.parametrize("d,n,seed", [(3, 12, 3), (4, 9, 5), (2, 7, 1)])
def test_claims_pass_on_iid_draws(claim, d, n, seed):
    ds = _iid(d, n, seed)
    assert group_repeats(ds).has_repeats
    report = run_claim(claim, ClaimConfig(dataset=ds)).report
    assert report.passed, [(c.name, c.detail) for c in report.checks if not c.passed]
    assert _check(report, "zero-one error").value == max(1 - n / 2**d, 0)


@pytest.mark.parametrize("claim", ["prop4.1", "prop5.1"])
def test_printed_construction_fails_interpolation_in_the_verifier(claim):
    report = run_claim(claim, ClaimConfig(dataset=DS_EX, form="printed")).report
    assert not report.passed
    assert not _check(report, "interpolation").passed
    assert not _check(report, "memorization").passed


@pytest.mark.parametrize("claim", ["prop4.1", "prop5.1"])
def test_exact_refuses_repeats_with_a_clear_message(claim):
    from verify.exact import get_exact_runner

    with pytest.raises(ValueError, match="does not handle repeated points"):
        get_exact_runner(claim)(claim, ClaimConfig(dataset=DS_EX))
