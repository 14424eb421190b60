"""Claims 5.1, prop5.1, prop5.2: verdicts, broken constructions, bad input, saved weights."""

import itertools
import json
import math

import numpy as np
import pytest
import torch

from constructions import Dataset, sample_xor
from constructions.sim_ln import (
    sim_ln_four_neuron_solution,
    sim_ln_memorizing_solution,
    sim_ln_xor_memorizing_solution,
)
from sharpness.architectures.sim_ln import memorizing_epsilon_range, xor_epsilon_range
from verify import ClaimConfig, run_claim, save_run
from verify.checks import check_differentiability, check_interpolation, check_trace_identity
from verify.claims.theorem_5_1 import (
    SimLNEvaluation,
    check_bound_respected_sim_ln,
    check_ln_eps,
    check_memorization_sim_ln,
    check_regimes,
    check_trace_bound_sim_ln,
    random_sim_ln_interpolator,
)

SIM_LN_CLAIMS = ("5.1", "prop5.1", "prop5.2")


def failed(report):
    return {c.name for c in report.checks if not c.passed}


@pytest.mark.parametrize("claim", SIM_LN_CLAIMS)
def test_default_run_verifies_and_records_epsilon(claim):
    report = run_claim(claim, ClaimConfig(d=6, n=12)).report
    assert report.passed, failed(report)
    params = json.loads(report.to_json())["parameters"]
    assert params["ln_eps"] > 0 and params["depth"] == 2


@pytest.mark.parametrize("claim", SIM_LN_CLAIMS)
@pytest.mark.parametrize("factor", [0.1, 1.0, 2.0, 3.0, 40.0])
def test_corrected_forms_hold_for_every_epsilon(claim, factor):
    eps = factor * math.sqrt(6)
    report = run_claim(claim, ClaimConfig(d=5, n=10, ln_eps=eps)).report
    assert report.passed, failed(report)


def test_printed_forms_fail_where_the_paper_is_wrong():
    c = math.sqrt(7)  # d = 6
    r = run_claim("5.1", ClaimConfig(d=6, n=10, form="printed", ln_eps=1.5 * c)).report
    assert {"eps admissible ('sufficiently small')", "Tr(H) = Lemma A.12 bound"} <= failed(r)
    assert "regime attains min(1, 2c/eps) per point" in failed(r)
    r = run_claim("5.1", ClaimConfig(d=6, n=10, form="printed", ln_eps=c)).report
    assert "twice differentiable at theta" in failed(r)
    r = run_claim("prop5.1", ClaimConfig(d=6, n=10, form="printed", ln_eps=3 * c)).report
    assert failed(r) == {
        "eps admissible ('sufficiently small')",
        "Tr(H) = Lemma A.12 bound",
        "regime attains min(1, 2c/eps) per point",
    }
    r = run_claim("prop5.2", ClaimConfig(d=6, n=10, form="printed")).report
    assert {"interpolation", "zero-one error on {-1,1}^6 (0)"} <= failed(r)
    # the paper's own range: as printed, A.4.1 and A.4.2 hold for small eps
    assert run_claim("5.1", ClaimConfig(d=6, n=10, form="printed", ln_eps=0.5 * c)).report.passed
    assert run_claim(
        "prop5.1", ClaimConfig(d=6, n=10, form="printed", ln_eps=1.9 * c)
    ).report.passed


def test_delta_checks_fail_when_neurons_fire_elsewhere():
    r = run_claim("prop5.1", ClaimConfig(d=6, n=10, epsilon=2.0)).report
    assert {"delta < 2 (A.4.2)", "memorization (Def. 4.2)"} <= failed(r)
    assert "twice differentiable at theta" in failed(r)  # delta = 2: neighbours sit on kinks
    r = run_claim("5.1", ClaimConfig(d=6, n=10, epsilon=5.0)).report
    assert {"delta < min margin", "memorization (Def. 4.2)", "interpolation"} <= failed(r)
    assert "Tr(H) = 2.66666666667 vs the bound 2" in " ".join(r.notes)  # evidence: default delta


def test_notes_carry_the_evidence():
    notes = " ".join(run_claim("5.1", ClaimConfig(d=6, n=10)).report.notes)
    assert "1.5 min c_i" in notes and "switch" in notes and "Lemma A.12 holds as printed" in notes
    assert "only at interpolation" in notes
    notes = " ".join(run_claim("prop5.1", ClaimConfig(d=6, n=10)).report.notes)
    assert "2 sqrt(d+1)" in notes and "Pr(y f(x) > 0)" in notes
    notes = " ".join(run_claim("prop5.2", ClaimConfig(d=6, n=3)).report.notes)
    assert "[2] = {1, 2}" in notes and "n = 3 < 4" in notes
    notes = " ".join(run_claim("5.1", ClaimConfig(d=4, n=6, depth=3)).report.notes)
    assert "--depth 3 is ignored" in notes


def test_user_data_and_zero_labels_for_theorem_5_1():
    ds = sample_xor(5, 9, 1)
    y = ds.y * np.linspace(0.2, 3.0, 9)
    report = run_claim("5.1", ClaimConfig(dataset=Dataset(ds.X, y), ln_eps=1.0)).report
    assert report.passed, failed(report)
    y[0] = 0.0
    report = run_claim("5.1", ClaimConfig(dataset=Dataset(ds.X, y))).report
    assert "Tr(H) = Lemma A.12 bound" in failed(report)
    assert any("nonzero labels" in n for n in report.notes)


# --- each Sim-LN check, broken on purpose -----------------------------------------------------


@pytest.fixture(scope="module")
def ds():
    return sample_xor(5, 10, 2)


def _constructions(ds):
    eps = 0.5 * math.sqrt(6)
    return {
        "memorizing": sim_ln_memorizing_solution(ds, eps).network,
        "xor memorizing": sim_ln_xor_memorizing_solution(ds, eps).network,
        "four-neuron": sim_ln_four_neuron_solution(5, eps, width=10).network,
        "memorizing, linear regime": sim_ln_memorizing_solution(ds, 8 * math.sqrt(6)).network,
    }


@pytest.mark.parametrize(
    "which", ["memorizing", "xor memorizing", "four-neuron", "memorizing, linear regime"]
)
def test_checks_pass_on_the_construction_and_fail_when_it_is_broken(ds, which):
    net = _constructions(ds)[which]
    good = SimLNEvaluation(net, ds)
    for check in (
        check_interpolation,
        check_regimes,
        check_differentiability,
        check_trace_identity,
        check_trace_bound_sim_ln,
        check_bound_respected_sim_ln,
    ):
        assert check(good).passed, (which, check.__name__)
    # 1. output weights off by 1%: not interpolating
    bad = SimLNEvaluation(net.replace(W2=net.params["W2"] * 1.01), ds)
    assert not check_interpolation(bad).passed
    # 2. first layer scaled so every point lands on the switch ||h|| = eps
    p = net.param_dict()
    h = torch.relu(net.arch.preactivation_1(p, torch.tensor(ds.X)))
    norm = float(h.norm(dim=1)[0])
    s = net.arch.eps / norm
    on_switch = SimLNEvaluation(net.replace(W1=p["W1"] * s, b1=p["b1"] * s), ds)
    assert not check_regimes(on_switch).passed
    assert not check_differentiability(on_switch).passed
    assert not check_trace_bound_sim_ln(on_switch).passed
    # 3. first layer shrunk 5x (normalized points become linear; linear points lose the balance
    #    t^2 = eps c), output weights rescaled to interpolate again: not flattest
    shrink = 0.2
    linear = which == "memorizing, linear regime"
    W2 = p["W2"] / shrink if linear else p["W2"] / (2 * shrink)  # f = W2 h / eps afterwards
    unbalanced = SimLNEvaluation(net.replace(W1=p["W1"] * shrink, b1=p["b1"] * shrink, W2=W2), ds)
    assert check_interpolation(unbalanced).passed
    assert not check_trace_bound_sim_ln(unbalanced).passed


def test_memorization_check_fails_when_two_neurons_fire(ds):
    net = _constructions(ds)["memorizing"]
    ev = SimLNEvaluation(net, ds)
    assert check_memorization_sim_ln(ev).passed
    b1 = net.params["b1"].clone()
    b1[0] += 10.0  # neuron 0 now fires everywhere
    assert not check_memorization_sim_ln(SimLNEvaluation(net.replace(b1=b1), ds)).passed
    four = SimLNEvaluation(_constructions(ds)["four-neuron"], ds)
    assert not check_memorization_sim_ln(four).passed  # 4 neurons for 10 points: not injective


def test_bound_respected_fails_below_the_bound(ds):
    net, own = random_sim_ln_interpolator(ds, 0.5, 6, 0.02, 0)  # every point linear
    assert check_bound_respected_sim_ln(SimLNEvaluation(net, own)).passed
    # output weights 1000x smaller and the P_xor labels: no longer an interpolator, and its
    # trace (all terms carry W_2^2 or ||h||^2/eps^2) falls far below the bound 2
    tiny = net.replace(W2=net.params["W2"] * 1e-3)
    result = check_bound_respected_sim_ln(SimLNEvaluation(tiny, ds))
    assert not result.passed and result.value < 0.1


def test_epsilon_check_flags_epsilons_outside_the_range(ds):
    c = math.sqrt(6)
    printed = memorizing_epsilon_range(ds.X, ds.y, "printed")
    assert check_ln_eps(0.5 * c, printed, "printed").passed
    result = check_ln_eps(1.5 * c, printed, "printed")
    assert not result.passed and "NOT admissible" in result.detail
    assert not check_ln_eps(2.5 * c, xor_epsilon_range(5, "printed"), "printed").passed
    assert check_ln_eps(1e6, xor_epsilon_range(5), "corrected").passed


# --- command line (in-process: the installed command is exercised in test_all_command) -------


def cli(capsys, *args):
    from verify.cli import main

    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize(
    "args,needle",
    [
        (["5.1", "--ln-eps", "0"], "ln_eps must be a finite number > 0"),
        (["prop5.2", "--ln-eps", "-1"], "ln_eps must be a finite number > 0"),
        (["prop5.1", "--ln-eps", "nan"], "ln_eps must be a finite number > 0"),
        (["prop5.1", "--d", "65"], "--hypercube-samples"),
        (["prop5.2", "--ln-eps", "x"], "invalid float value"),
    ],
    ids=["zero", "negative", "nan", "too-large", "not-a-number"],
)
def test_bad_input_is_one_line_exit_two(capsys, args, needle):
    code, out, err = cli(capsys, *args)
    assert code == 2 and needle in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert out == ""


def test_non_xor_data_is_refused_and_not_small_enough_epsilon_is_flagged(capsys, tmp_path):
    ds = sample_xor(4, 6, 0)
    np.savez(tmp_path / "d.npz", X=ds.X, y=-ds.y)
    code, out, err = cli(capsys, "prop5.1", "--data", str(tmp_path / "d.npz"))
    assert code == 2 and "not x[1]*x[2]" in err and out == ""
    code, out, err = cli(capsys, "5.1", "--d", "6", "--form", "printed", "--ln-eps", "4", "--json")
    assert code == 1
    report = json.loads(out)
    eps_check = {c["name"]: c for c in report["checks"]}["eps admissible ('sufficiently small')"]
    assert eps_check["passed"] is False and "NOT admissible" in eps_check["detail"]
    assert report["parameters"]["ln_eps"] == 4.0


# --- saved weights recheck with independent code ----------------------------------------------


def numpy_sim_ln(params, eps, X):
    h = np.maximum(X @ params["W1"].T + params["b1"], 0.0)
    return (h @ params["W2"][0]) / np.maximum(np.linalg.norm(h, axis=1), eps)


def independent_dense_trace(params, eps, X, y):
    """torch.func.hessian of a loss written here from the saved arrays only."""
    names = ("W1", "b1", "W2")
    sizes = [params[k].size for k in names]
    flat0 = torch.cat([torch.tensor(params[k]).reshape(-1) for k in names])
    Xt, yt = torch.tensor(X), torch.tensor(y)

    def loss(flat):
        W1, b1, W2 = torch.split(flat, sizes)
        h = torch.relu(Xt @ W1.reshape(params["W1"].shape).T + b1)
        N = torch.clamp(torch.sqrt(torch.sum(h * h, dim=1)), min=eps)
        return torch.mean(((h @ W2) / N - yt) ** 2)

    return float(torch.trace(torch.func.hessian(loss)(flat0)))


@pytest.mark.parametrize("claim", SIM_LN_CLAIMS)
def test_saved_weights_recheck_independently(claim, tmp_path):
    result = run_claim(claim, ClaimConfig(d=4, n=6, seed=1))
    save_run(result, tmp_path)
    report = json.loads((tmp_path / "report.json").read_text())
    params = dict(np.load(tmp_path / "params.npz"))
    data = np.load(tmp_path / "dataset.npz")
    X, y = data["X"], data["y"]
    eps = report["parameters"]["ln_eps"]
    assert set(params) == {"W1", "b1", "W2"}
    np.testing.assert_allclose(numpy_sim_ln(params, eps, X), y, rtol=1e-9, atol=1e-12)
    checks = {c["name"]: c for c in report["checks"]}
    bound = checks["Tr(H) = Lemma A.12 bound"]
    trace = independent_dense_trace(params, eps, X, y)
    assert abs(trace - bound["value"]) <= 1e-9 * abs(bound["value"])
    # Lemma A.12 by hand: (2/n) sum min(1, 2 ||x'|| |y| / eps)
    by_hand = (
        2
        / len(y)
        * sum(min(1.0, 2 * math.sqrt(x @ x + 1) * abs(t) / eps) for x, t in zip(X, y, strict=True))
    )
    assert abs(trace - by_hand) <= 1e-9 * by_hand
    if claim != "5.1":  # naive enumeration of the cube, counting y f(x) <= 0 as a mistake
        mistakes = sum(
            float(numpy_sim_ln(params, eps, np.array([x]))[0]) * x[0] * x[1] <= 0
            for x in itertools.product([1.0, -1.0], repeat=4)
        )
        zero_one = [c for name, c in checks.items() if name.startswith("zero-one")][0]
        assert mistakes == round(zero_one["value"] * 16)
        assert mistakes == (16 - 6 if claim == "prop5.1" else 0)


def test_same_seed_same_numbers():
    a = run_claim("prop5.1", ClaimConfig(d=5, n=7, seed=3)).report.to_json()
    b = run_claim("prop5.1", ClaimConfig(d=5, n=7, seed=3)).report.to_json()
    assert a == b


def test_evaluation_reports_one_sided_traces_when_undefined(ds):
    net = _constructions(ds)["memorizing"]
    p = net.param_dict()
    h = torch.relu(net.arch.preactivation_1(p, torch.tensor(ds.X)))
    s = net.arch.eps / float(h.norm(dim=1)[0])
    ev = SimLNEvaluation(net.replace(W1=p["W1"] * s, b1=p["b1"] * s), ds)
    assert ev.trace is None
    result = check_trace_bound_sim_ln(ev)
    assert "one-sided traces" in result.detail and "switch" in result.detail
