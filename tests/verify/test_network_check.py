"""``verify.check_network``: the right checks for each architecture, and checks that can fail."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from constructions import (
    MLP,
    Dataset,
    Network,
    SimLN,
    from_torch,
    memorizing_solution,
    random_network,
    sample_xor,
)
from sharpness.reference import dense_hessian_trace
from verify import HypercubeMode, check_network


def _self_labelled(net, d=6, n=10, seed=0):
    X = sample_xor(d, n, seed).X
    return Dataset(X, net(X).detach().numpy())


def test_memorizing_network_is_flattest_memorizes_and_has_the_printed_error():
    data = sample_xor(d=8, n=40, seed=0)
    report = check_network(memorizing_solution(data).network, data)
    assert report.passed
    assert report.property("interpolation") and report.property("twice differentiable")
    assert report.property("flattest") and report.property("memorization")
    # Proposition 4.1's closed form, computed here: every unseen vertex is a mistake.
    assert report.hypercube.errors == 2**8 - len({tuple(x) for x in data.X})
    out = json.loads(report.to_json())
    assert out["passed"] and out["hypercube"]["kind"] == "exact"


def test_off_interpolation_the_theory_checks_are_reported_as_not_applicable():
    data = sample_xor(6, 10, 0)
    net = random_network(6, 5, seed=2)
    report = check_network(net, data)
    assert not report.property("interpolation")
    assert report.checks == ()
    assert any("Lemma 4.1" in what for what, _ in report.not_applicable)


def test_sim_ln_gets_lemma_a12_not_the_mlp_bound():
    rng = np.random.default_rng(0)
    p = {"W1": rng.normal(size=(5, 6)), "b1": rng.normal(size=5), "W2": rng.normal(size=(1, 5))}
    net = Network(SimLN(0.5), p)
    report = check_network(net, _self_labelled(net), hypercube=HypercubeMode.OFF)
    names = [c.name for c in report.checks]
    assert any("Lemma A.12" in n for n in names) and not any("Jacobian" in n for n in names)
    assert report.passed
    assert not report.property("memorization")  # a random net does not memorize (Def. 4.2)


def test_a_torch_model_with_output_bias_gets_its_own_bound_and_exact_trace():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
    net = from_torch(model)
    ds = _self_labelled(net)
    report = check_network(net, ds, hypercube="exact")
    assert report.passed
    assert any("output bias" in c.name for c in report.checks)
    ident = next(c for c in report.checks if "Lemma 4.1" in c.name)
    dense = dense_hessian_trace(net, torch.tensor(ds.X), torch.tensor(ds.y))
    assert ident.value == pytest.approx(dense, rel=1e-9)


def test_softplus_has_no_bound_and_says_why():
    net = random_network(6, 5, activation="softplus", seed=1)
    report = check_network(net, _self_labelled(net), hypercube="off")
    assert any("needs ReLU" in why for _, why in report.not_applicable)
    assert report.passed  # Lemma 4.1 at interpolation still holds


def test_a_wrong_bound_is_caught(monkeypatch):
    """Break the bound (a registry entry that overstates it): the theory check must fail."""
    from sharpness.architectures import mlp

    net = random_network(6, 5, seed=3)
    ds = _self_labelled(net)
    real = mlp.mlp_lower_bounds

    class Inflated:
        name, attainable = "inflated bound", True

        def __init__(self, b):
            self.trace = 10 * b.trace + 1

    monkeypatch.setattr(
        "verify.checks.lower_bounds", lambda n, X, y: tuple(Inflated(b) for b in real(n, X, y))
    )
    report = check_network(net, ds, hypercube="off")
    assert not report.passed
    assert "A CHECK OF THE THEORY FAILED" in report.format_text()


def test_a_broken_lemma41_side_is_caught(monkeypatch):
    net = random_network(6, 5, seed=4)
    ds = _self_labelled(net)
    monkeypatch.setattr("verify.checks.lemma41_trace", lambda n, X: 1.5)
    report = check_network(net, ds, hypercube="off")
    assert not report.passed
    assert not next(c for c in report.checks if "Lemma 4.1" in c.name).passed


def test_bad_input_is_one_clear_value_error():
    net = random_network(6, 5, seed=1)
    with pytest.raises(ValueError, match="d = 5 but the network takes d = 6"):
        check_network(net, sample_xor(5, 4, 0))
    with pytest.raises(ValueError, match="hypercube_samples"):
        check_network(net, sample_xor(6, 4, 0), hypercube="sampled")
    with pytest.raises(ValueError):
        check_network(net, sample_xor(6, 4, 0), hypercube="sometimes")
    with pytest.raises(ValueError, match="Dataset"):
        check_network(net, np.zeros((4, 6)))


def test_at_a_kink_the_theory_is_not_checked_and_the_one_sided_traces_are_given():
    net = Network(MLP(2, bias=False), {"W1": np.eye(3)[:2], "W2": np.array([[1.0, -1.0]])})
    X = np.array([[1.0, 0, 0], [0, 1.0, 0], [1.0, 1.0, 1.0]])  # z = 0 at points 0 and 1
    report = check_network(net, Dataset(X, net(X).detach().numpy()), hypercube="off")
    assert not report.property("twice differentiable") and report.checks == ()
    why = dict(report.not_applicable)["Lemma 4.1 identity and the lower bounds"]
    assert "Hessian undefined" in why and "one-sided traces" in why


def test_mlp_without_bias_has_a_valid_but_unattainable_bound():
    net = Network(MLP(2, bias=False), {"W1": np.eye(3)[:2], "W2": np.array([[1.0, -1.0]])})
    X = np.array([[1.0, 2.0, 0], [2.0, 1.0, 1.0], [1.0, 3.0, 1.0]])
    ds = Dataset(X, net(X).detach().numpy())
    report = check_network(net, ds, hypercube="off")
    assert report.passed
    assert any(what == "flattest" for what, _ in report.not_applicable)
