"""Claims 3.1, lemma3.1 and 3.2: verdicts as evidence, each check failing on a broken
construction, the printed forms, bad input (exit 2), and saved weights rechecked independently."""

import itertools
import json
import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from constructions import MLP, Network, sample_xor
from constructions.no_bias import a24_solution
from constructions.sim_bn import condition1_dataset, lemma_a1_solution, near_flattest_sim_bn
from sharpness.training.flattest_search import SearchSettings, flattest_search
from tests.verify.test_cli import run as run_installed
from verify import ClaimConfig, run_claim, save_run
from verify.checks import Evaluation
from verify.claims import lemma_3_1, theorem_3_1, theorem_3_2
from verify.claims.theorem_3_2 import SimBNEvaluation, with_reference

CLAIMS = ("3.1", "lemma3.1", "3.2")


def failed(report):
    return {c.name for c in report.checks if not c.passed}


@pytest.fixture(scope="module")
def summary():
    return theorem_3_1.nobias_search(sample_xor(5, 32, 0), 0)  # full cube: rate 0.25


@pytest.mark.parametrize("claim", CLAIMS)
def test_verdicts_are_labelled_as_evidence(claim):
    report = run_claim(claim, ClaimConfig(d=5, n=16)).report
    assert report.passed, failed(report)
    assert any(n.startswith("Evidence, not proof") for n in report.notes)
    module = {"3.1": theorem_3_1, "lemma3.1": lemma_3_1, "3.2": theorem_3_2}[claim]
    assert "not a proof" in module.EVIDENCE


def test_printed_forms():
    assert run_claim("3.1", ClaimConfig(d=5, n=16, form="printed")).report.passed  # A.2.4 holds
    r = run_claim("3.2", ClaimConfig(d=5, n=16, form="printed")).report
    assert {
        "Lemma A.1 weights: interpolation",
        "Lemma A.1 weights: twice differentiable at theta",
        "Theorem 3.2 as printed (kappa = 0.05, eps = 0.1)",
    } <= failed(r)
    r2 = run_claim("3.2", ClaimConfig(d=2, form="printed")).report  # d = 2: trivially true
    assert "Theorem 3.2 as printed (kappa = 0.05, eps = 0.1)" not in failed(r2)


# --- each check fails on a broken construction --------------------------------------------


def test_a24_checks_fail_for_a_bad_epsilon_and_at_the_kink():
    r = run_claim("3.1", ClaimConfig(d=4, n=10, epsilon=1.0 - 1e-3)).report
    assert r.passed  # eps close to 1: still interpolates
    ds = sample_xor(4, 10, 0)
    kink = Evaluation(a24_solution(4, 0.0).network, ds)
    assert not theorem_3_1.check_a11_decomposition(kink).passed
    neg = a24_solution(4, -0.2).network
    from verify.checks import check_hypercube_zero_one, check_interpolation

    assert not check_interpolation(Evaluation(neg, ds)).passed
    assert check_hypercube_zero_one(Evaluation(neg, ds), 0, "0").passed  # right sign, wrong size


def test_search_checks_fail_on_tampered_results(summary):
    r0 = summary.results[0]
    assert theorem_3_1.check_search_objective(summary).passed
    bad = replace(summary, results=(replace(r0, objective=r0.objective + 1.0),))
    assert not theorem_3_1.check_search_objective(bad).passed
    bound = 4 * math.sqrt(5)
    assert theorem_3_1.check_search_bound(summary, bound, "J").passed
    low = replace(r0, interpolates=True, trace=bound / 2)
    assert not theorem_3_1.check_search_bound(replace(summary, results=(low,)), bound, "J").passed
    assert not theorem_3_1.check_search_bound(replace(summary, results=()), bound, "J").passed
    assert not theorem_3_1.check_complete_symmetric_infimum(
        replace(summary, results=(replace(low, trace=12.0),)), 4 * math.sqrt(10)
    ).passed
    assert theorem_3_1.check_search_generalizes(summary).passed
    wrong = replace(r0, interpolates=True, errors=16, trace=1.0)
    assert not theorem_3_1.check_search_generalizes(replace(summary, results=(wrong,))).passed


def test_theta_c_fails_for_a_padded_interpolator(summary):
    best = summary.best
    assert lemma_3_1.check_theta_c(summary).passed
    p = best.network.numpy_params()
    w = np.ones((1, p["W1"].shape[1]))
    padded = best.network.replace(
        W1=np.concatenate([p["W1"], w, w]), W2=np.concatenate([p["W2"], [[3.0, -3.0]]], axis=1)
    )
    X = torch.tensor(summary.dataset.X)
    assert torch.allclose(padded(X), best.network(X))  # the same function on every input
    broken = replace(
        summary, results=(replace(best, network=padded, norm=best.norm + 6 * np.sqrt(5)),)
    )
    assert not lemma_3_1.check_theta_c(broken).passed
    assert not lemma_3_1.check_witness_norm(a24_solution(5, 0.2).network, 0.1).passed


def test_sim_bn_checks_fail_on_broken_constructions(monkeypatch):
    ds = condition1_dataset(5, seed=0)
    assert not theorem_3_2.check_condition_1(
        type(ds)(ds.X[1:], ds.y[1:], description="one point dropped")
    ).passed
    fixed = with_reference(lemma_a1_solution(5, width=6).network, ds.X)
    p = fixed.numpy_params()
    assert theorem_3_2.check_l1(fixed).passed
    assert not theorem_3_2.check_l1(fixed.replace(W2=2 * p["W2"])).passed
    nf = with_reference(near_flattest_sim_bn(5, 3.0, width=6).network, ds.X)
    ev = SimBNEvaluation(nf, ds)
    assert all(c.passed for c in theorem_3_2.check_near_flattest(ev, ev.trace, 10.0))
    assert not all(c.passed for c in theorem_3_2.check_near_flattest(ev, ev.trace + 1, 10.0))
    assert not all(c.passed for c in theorem_3_2.check_near_flattest(ev, ev.trace, 1e-3))
    printed = with_reference(lemma_a1_solution(5, width=6, form="printed").network, ds.X)
    assert not theorem_3_2.check_lemma_a3(SimBNEvaluation(printed, ds)).passed
    assert theorem_3_2.check_lemma_a3(ev).passed
    from constructions.sim_bn import theorem_3_2_counterexample

    ce = theorem_3_2_counterexample(ds, 0.1).network
    assert not theorem_3_2.check_concentration(ce, 0.1).passed
    assert theorem_3_2.check_counterexample(ds).passed
    monkeypatch.setattr(
        theorem_3_2,
        "theorem_3_2_counterexample",
        lambda data, kappa: near_flattest_sim_bn(data.d, 50.0, width=6).__class__(
            "fake",
            "none",
            with_reference(near_flattest_sim_bn(data.d, 50.0, width=6).network, data.X),
            "corrected",
            {"L": 1.0, "delta": 0.0},
        ),
    )
    assert not theorem_3_2.check_counterexample(ds).passed
    assert theorem_3_2.check_printed_theorem(ds).passed  # no counterexample left to find


def test_sim_bn_search_bound_check_fails_below_eight():
    ds = condition1_dataset(4, seed=0)
    s = flattest_search(ds, SearchSettings("simbn", 6, starts=1, steps=100))
    r = replace(s.results[0], interpolates=True, trace=7.0)
    assert not theorem_3_1.check_search_bound(replace(s, results=(r,)), 8.0, "8").passed


# --- bad input ------------------------------------------------------------------------------


def test_bad_input_is_refused_with_the_value_named(tmp_path):
    ds = sample_xor(4, 6, 0)
    with pytest.raises(ValueError, match="Theorem 3.2 needs Condition 1"):
        run_claim("3.2", ClaimConfig(dataset=ds))
    with pytest.raises(ValueError, match="label of point 0"):
        run_claim("3.1", ClaimConfig(dataset=type(ds)(ds.X, -ds.y)))
    np.savez(tmp_path / "d.npz", X=ds.X, y=ds.y)
    p = run_installed("3.2", "--data", str(tmp_path / "d.npz"))
    assert p.returncode == 2 and "Condition 1" in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1 and "Traceback" not in p.stderr
    p = run_installed("lemma3.1", "--epsilon", "-1")
    assert p.returncode == 2 and "epsilon" in p.stderr


def test_user_condition1_dataset_is_accepted():
    ds = condition1_dataset(5, size=6, seed=3)
    report = run_claim("3.2", ClaimConfig(dataset=ds)).report
    assert report.passed and report.parameters["n"] == 24


# --- saved weights, rechecked with independent code -----------------------------------------


def _hessian_trace(loss, flat):
    return float(torch.trace(torch.func.hessian(loss)(flat)))


def test_saved_no_bias_weights_recheck(tmp_path):
    save_run(run_claim("3.1", ClaimConfig(d=4, n=10, seed=1)), tmp_path)
    report = json.loads((tmp_path / "report.json").read_text())
    params = dict(np.load(tmp_path / "params.npz"))
    data = np.load(tmp_path / "dataset.npz")
    X, y = torch.tensor(data["X"]), torch.tensor(data["y"])
    W1, W2 = torch.tensor(params["W1"]), torch.tensor(params["W2"])
    assert set(params) == {"W1", "W2"}

    def loss(flat):
        A = flat[: W1.numel()].reshape(W1.shape)
        return torch.mean((torch.relu(X @ A.T) @ flat[W1.numel() :] - y) ** 2)

    trace = _hessian_trace(loss, torch.cat([W1.reshape(-1), W2.reshape(-1)]))
    checks = {c["name"]: c for c in report["checks"]}
    assert abs(trace - checks["A.2.4: Tr(H) >= lower bound"]["value"]) <= 1e-9 * trace
    mistakes = sum(
        float(torch.relu(torch.tensor(x, dtype=torch.float64) @ W1.T) @ W2[0]) * x[0] * x[1] <= 0
        for x in itertools.product([1.0, -1.0], repeat=4)
    )
    assert mistakes == 0


def test_saved_sim_bn_weights_recheck(tmp_path):
    save_run(run_claim("3.2", ClaimConfig(d=4, n=12, seed=2)), tmp_path)
    report = json.loads((tmp_path / "report.json").read_text())
    params = {k: torch.tensor(v) for k, v in np.load(tmp_path / "params.npz").items()}
    data = np.load(tmp_path / "dataset.npz")
    X, y = torch.tensor(data["X"]), torch.tensor(data["y"])
    assert set(params) == {"W1", "b1", "gamma", "W2"}
    shapes = [params[k].shape for k in ("W1", "b1", "gamma", "W2")]
    sizes = [math.prod(s) for s in shapes]

    def forward(flat, inputs):
        W1, b1, g, W2 = (
            t.reshape(s) for t, s in zip(torch.split(flat, sizes), shapes, strict=True)
        )
        h = torch.relu(inputs @ W1.T + b1)
        ref = torch.relu(X @ W1.T + b1)
        a = torch.sqrt(torch.mean(ref * ref, dim=0))
        live = a > 0
        phi = torch.where(live, h / torch.where(live, a, torch.ones_like(a)), torch.zeros_like(h))
        return (g * phi) @ W2[0]

    flat = torch.cat([params[k].reshape(-1) for k in ("W1", "b1", "gamma", "W2")])
    trace = _hessian_trace(lambda f: torch.mean((forward(f, X) - y) ** 2), flat)
    checks = {c["name"]: c for c in report["checks"]}
    name = [n for n in checks if n.endswith("(closed form)")][0]
    assert abs(trace - checks[name]["value"]) <= 1e-9 * trace and 8 < trace < 8.05
    cube = torch.tensor(list(itertools.product([1.0, -1.0], repeat=4)), dtype=torch.float64)
    f = forward(flat, cube)
    assert torch.all(f * cube[:, 0] * cube[:, 1] > 0)
    assert report["parameters"]["kappa"] == 0.05


def test_network_independent_of_sim_bn_default_width():
    assert MLP(2, bias=False).name and Network


@pytest.mark.parametrize("claim", ["3.1", "3.2"])
def test_beyond_enumeration_the_cube_is_sampled_and_labelled(claim):
    report = run_claim(claim, ClaimConfig(d=22, n=40, hypercube_samples=400)).report
    assert report.passed, failed(report)
    kinds = {c.kind for c in report.checks}
    assert "estimate" in kinds
    if claim == "3.2":
        text = " ".join(c.detail for c in report.checks)
        assert "only the test point evaluated" in text
