"""The appendix claims A.1, propA.1, propA.2: they verify at default size, and every check fails
on a deliberately broken input. References are computed here (dense torch.func.hessian, closed
forms by hand), never by the code under test."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from constructions.architectures import MLP, Network
from constructions.circle import prop_a2_solution, sample_circle
from sharpness.reference import dense_hessian_trace
from tests.verify.test_cli import main
from verify import ClaimConfig, run_claim
from verify.claims import proposition_a_1 as pa1
from verify.claims import proposition_a_2 as pa2
from verify.claims import theorem_a_1 as ta1


@pytest.fixture(scope="module")
def a1_run():
    return run_claim("A.1", ClaimConfig(d=3))


def test_theorem_a1_verifies(a1_run):
    assert a1_run.report.passed, a1_run.report.format_text()


@pytest.mark.parametrize("claim", ["propA.1", "propA.2"])
def test_appendix_claims_verify(claim):
    r = run_claim(claim, ClaimConfig(d=4))
    assert r.report.passed, r.report.format_text()


@pytest.mark.parametrize("claim", ["propA.1", "propA.2"])
def test_printed_forms_fail(claim):
    r = run_claim(claim, ClaimConfig(d=4, form="printed"))
    assert not r.report.passed
    assert not next(c for c in r.report.checks if c.name == "interpolation").passed


def test_prop_a1_trace_against_dense_hessian():
    r = run_claim("propA.1", ClaimConfig(d=5, n=30))
    X, y = r.dataset.tensors()
    dense = dense_hessian_trace(r.network, X, y)
    # bound by hand: (2/n) sum 2 |y_i| sqrt(||x_i||^2 + 1), ||x_i|| = R = 3
    bound = 2 / 30 * np.sum(2 * np.abs(r.dataset.y) * math.sqrt(10.0))
    assert dense == pytest.approx(bound, rel=1e-9)


def test_prop_a2_trace_against_dense_hessian():
    ds = sample_circle(12, seed=3)
    net = prop_a2_solution(ds).network
    X, y = ds.tensors()
    bound = 2 / 12 * np.sum(2 * np.abs(ds.y) * math.sqrt(2.0))
    assert dense_hessian_trace(net, X, y) == pytest.approx(bound, rel=1e-9)


def test_cli_json_list_and_save(capsys, tmp_path):
    code, out, err = main(capsys, "propA.1", "--d", "4", "--json")
    assert code == 0, err
    assert json.loads(out)["claim"] == "propA.1"
    code, out, _ = main(capsys, "--list")
    assert code == 0 and all(c in out for c in ("A.1", "propA.1", "propA.2"))
    code, _, err = main(capsys, "propA.2", "--d", "2", "--save", str(tmp_path / "a2"))
    assert code == 0, err
    assert (tmp_path / "a2" / "report.json").exists() and (tmp_path / "a2" / "params.npz").exists()


@pytest.mark.parametrize("claim", ["A.1", "propA.1", "propA.2"])
def test_user_data_is_refused(claim, capsys, tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, X=np.ones((3, 4)), y=np.ones(3))
    code, _, err = main(capsys, claim, "--data", str(path))
    assert code == 2 and "not supported" in err


# --- negative tests: every check of the three claims fails on a broken input -----------------


def _bias_net(d):
    W1 = np.zeros((1, d))
    W1[0, 0] = 1.0
    return Network(MLP(2), {"W1": W1, "b1": np.array([1.0]), "W2": np.array([[1.0]])})


def test_a1_realizer_check_fails_on_a_wrong_network():
    ds = ta1.gaussian_abs_data(20, 3, 0)
    good = ta1.check_realizer(ta1.realizer(3), [ds])
    assert good.passed
    W1 = np.zeros((4, 3))
    W1[0, 0], W1[1, 0], W1[2, 1], W1[3, 1] = 1.0, -1.0, 1.0, -1.0
    bad = Network(MLP(2, bias=False), {"W1": W1, "W2": np.array([[1.0, 1.0, -1.0, -0.5]])})
    assert not ta1.check_realizer(bad, [ds]).passed
    big = Network(MLP(2, bias=False), {"W1": 2 * W1, "W2": np.array([[1.0, 1.0, -1.0, -1.0]])})
    assert not ta1.check_realizer(big, [ds]).passed  # wrong values and norm 8 > 4


def test_a1_homogeneity_check_fails_with_a_bias():
    X = torch.tensor(np.random.default_rng(0).normal(size=(50, 3)))
    assert ta1.check_homogeneity([ta1.realizer(3)], X).passed
    assert not ta1.check_homogeneity([_bias_net(3)], X).passed


def test_a1_search_checks_fail(a1_run):
    from dataclasses import replace

    from sharpness.training.flattest_search import SearchSettings, flattest_search

    s = flattest_search(
        ta1.gaussian_abs_data(40, 3, 0),
        SearchSettings(arch="nobias", width=1, starts=1, steps=5),
        hypercube=False,
    )
    assert s.best is None  # width 1 cannot interpolate |x1| - |x2|
    assert not ta1.check_interpolating([s]).passed
    assert not ta1.check_bound([s]).passed
    good = flattest_search(
        ta1.gaussian_abs_data(24, 3, 0),
        SearchSettings(arch="nobias", width=4, starts=2, steps=300),
        hypercube=False,
    )
    assert good.best is not None and ta1.check_bound([good]).passed
    below = replace(good.best, trace=good.best.bound * 0.5)
    broken = replace(good, results=(below,))
    assert not ta1.check_bound([broken]).passed


def test_a1_norm_and_rate_checks_fail():
    assert ta1.check_norm({10: 4.0}).passed
    assert not ta1.check_norm({10: 9.0}).passed
    assert not ta1.check_norm({}).passed
    d = 3
    assert ta1.check_rate({12: 1.0, 24: 1e-3, 48: 1e-4}, d).passed
    assert not ta1.check_rate({12: 1.0, 24: 1e-3, 48: 2.0}, d).passed  # does not fall
    assert not ta1.check_rate({12: 1.0, 24: 0.5, 48: 0.1}, d).passed  # 0.5 > d/24


def test_prop_a1_population_check_fails_on_a_wrong_label():
    from constructions.extreme_point_labels import (
        LabelledSupport,
        prop_a1_solution,
        sample_support,
    )

    sup = sample_support(12, 3, seed=0)
    net = prop_a1_solution(sup, 5, 3.0).network
    assert pa1.check_population_error(net, sup, 5, 3.0, 0).passed
    y = sup.labels.copy()
    y[3] *= -1
    wrong = LabelledSupport(sup.points, y)
    assert not pa1.check_population_error(net, wrong, 5, 3.0, 0).passed


def test_prop_a2_eq4_check_fails_on_the_printed_network():
    ds = sample_circle(20, seed=0)
    assert pa2.check_eq4_structure(prop_a2_solution(ds).network, ds).passed
    assert not pa2.check_eq4_structure(prop_a2_solution(ds, "printed").network, ds).passed


def test_prop_a2_closed_form_check_fails_on_another_network():
    ds = sample_circle(20, seed=0)
    assert pa2.check_closed_form(prop_a2_solution(ds).network, ds).passed
    other = sample_circle(20, seed=1)
    assert not pa2.check_closed_form(prop_a2_solution(other).network, ds).passed


def test_prop_a2_witness_check():
    assert pa2.check_not_a_witness(0.4, 0.003, 4000, 0.016).passed
    assert not pa2.check_not_a_witness(0.001, 0.003, 4000, 0.016).passed


def test_tent_closed_form_by_hand():
    # three equally spaced points, labels 1: gaps 2pi/3, alpha = 0.9 * 2pi/3; at phi_j the tent is 1
    phi = np.array([0.0, 2 * np.pi / 3, 4 * np.pi / 3])
    y = np.ones(3)
    assert pa2.tent_outputs(phi, y, phi) == pytest.approx(np.ones(3))
    a = 0.9 * 2 * np.pi / 3
    mid = np.array([np.pi / 3])  # distance pi/3 from points 0 and 1
    want = 2 * (1 - np.sin(np.pi / 6) ** 2 / np.sin(a / 2) ** 2)
    assert pa2.tent_outputs(phi, y, mid)[0] == pytest.approx(want)


def test_paper_delta_and_bound_by_hand():
    delta = pa2.paper_delta(4000)
    N = math.ceil(2 * math.pi / delta)
    assert 4000 >= N * math.log(N / delta)
    assert pa2.paper_delta(100) is None  # no delta < 1/20 is reached with 100 points
    assert pa2.paper_bound(0.01, 1.0, 0.0) == pytest.approx(4e-4 / 0.81)


# --- label-noise SGD beside Figure 4 ----------------------------------------------------------


def test_lnsgd_verifies_small(capsys):

    r = run_claim("lnsgd", ClaimConfig(d=6, n=16))
    assert r.report.passed, r.report.format_text()


def test_lnsgd_checks_fail_on_broken_inputs():
    from verify.claims import label_noise_sgd as ln

    assert not ln.check_loss("x", 0.5).passed and ln.check_loss("x", 1e-6).passed
    assert ln.check_ratio("x", 10.0, 10.0).passed
    assert not ln.check_ratio("x", 12.0, 10.0).passed
    assert not ln.check_ratio("x", None, 10.0).passed
    assert ln.check_memorization_agrees({"a": 3, "b": 5}, 8).passed
    assert not ln.check_memorization_agrees({"a": 0, "b": 5}, 8).passed


def test_lnsgd_determinism_check_sees_a_difference(monkeypatch):
    from verify.claims import label_noise_sgd as ln

    cfg = ln.configs(4, 8, 0, scale=0.01)[0]
    assert ln.check_deterministic(cfg).passed
    calls = iter([0, 1])
    real = ln.train

    def shifted(c, **kw):  # second run with another seed: the check must see it
        return real(ln.TrainConfig(**{**c.__dict__, "seed": next(calls)}), **kw)

    monkeypatch.setattr(ln, "train", shifted)
    assert not ln.check_deterministic(cfg).passed
