"""Every check of the verifier passes on a correct construction and FAILS on a broken one."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given

from constructions import (
    Dataset,
    four_neuron_solution,
    memorizing_solution,
    random_network,
    sample_xor,
)
from tests.strategies import depths, extreme_point_datasets
from verify import (
    Evaluation,
    check_bound_respected,
    check_differentiability,
    check_extreme_points,
    check_hypercube_mse,
    check_hypercube_zero_one,
    check_interpolation,
    check_memorization,
    check_trace_bound,
    check_trace_identity,
)
from verify._common import check_epsilon


@pytest.fixture(scope="module")
def ds():
    return sample_xor(5, 12, seed=3)


@pytest.fixture(scope="module")
def good(ds):
    return Evaluation(memorizing_solution(ds, 2).network, ds)


def _scaled(net, **factors):
    return net.replace(**{k: net.params[k] * f for k, f in factors.items()})


def test_all_checks_pass_on_the_construction(good):
    for check in (
        check_interpolation,
        check_memorization,
        check_differentiability,
        check_trace_identity,
        check_trace_bound,
        check_bound_respected,
    ):
        result = check(good)
        assert result.passed, (result.name, result.detail)


# --- each check, broken on purpose -----------------------------------------------------------


def test_extreme_points_fails_on_an_interior_point():
    X = np.array([[0.0, 0], [2, 0], [0, 2], [0.5, 0.5]])
    result = check_extreme_points(Dataset(X, np.ones(4)))
    assert not result.passed and result.value == "point 3"
    assert check_extreme_points(Dataset(X[:3], np.ones(3))).passed


def test_epsilon_check_fails_at_or_above_the_margin():
    assert check_epsilon(0.1, 0.5).passed
    assert not check_epsilon(0.5, 0.5).passed
    assert not check_epsilon(0.7, 0.5).passed


def test_interpolation_fails_when_the_output_layer_is_perturbed(ds, good):
    broken = _scaled(good.net, W2=1.01)
    result = check_interpolation(Evaluation(broken, ds))
    assert not result.passed and result.value == pytest.approx(0.01, rel=1e-6)


def test_memorization_fails_when_epsilon_exceeds_a_margin(ds):
    cons = memorizing_solution(ds, 2, epsilon=5.0)
    result = check_memorization(Evaluation(cons.network, ds))
    assert not result.passed and "active unit" in result.detail


def test_memorization_fails_when_two_points_share_a_neuron():
    X = np.array([[1.0, 1, 1], [1, 1, -1], [-1, 1, 1]])  # first two share Eq. (5)'s quadrant neuron
    ds = Dataset(X, X[:, 0] * X[:, 1])
    result = check_memorization(Evaluation(four_neuron_solution(3).network, ds))
    assert not result.passed and "share neuron" in result.detail


def test_differentiability_fails_on_the_printed_deep_construction(ds):
    result = check_differentiability(
        Evaluation(memorizing_solution(ds, 3, form="printed").network, ds)
    )
    assert not result.passed and result.value == 12 * 11


def test_identity_fails_off_interpolation_with_softplus(ds):
    net = random_network(ds.d, 6, activation="softplus", seed=1)
    result = check_trace_identity(Evaluation(net, Dataset(ds.X, ds.y * 3)))
    assert not result.passed


def test_identity_and_bound_are_undefined_at_a_fatal_kink(ds):
    ev = Evaluation(memorizing_solution(ds, 3, form="printed").network, ds)
    for check in (check_trace_identity, check_trace_bound, check_bound_respected):
        result = check(ev)
        assert not result.passed and result.value is None and "Hessian undefined" in result.detail


def test_bound_fails_for_an_unbalanced_interpolator(ds, good):
    broken = _scaled(good.net, W1=2.0, b1=2.0, W2=0.5)  # same function, wrong balance
    ev = Evaluation(broken, ds)
    assert check_interpolation(ev).passed
    result = check_trace_bound(ev)
    assert not result.passed and "exceeds the bound" in result.detail


def test_bound_fails_for_printed_eq5(ds):
    ev = Evaluation(four_neuron_solution(ds.d, width=12, form="printed").network, ds)
    assert check_interpolation(ev).passed and not check_trace_bound(ev).passed


def test_bound_respected_fails_for_a_non_interpolator(ds, good):
    tiny = _scaled(good.net, W2=1e-3)
    result = check_bound_respected(Evaluation(tiny, ds))
    assert not result.passed


def test_zero_one_and_mse_fail_for_a_wrong_sign_or_scale():
    ds = sample_xor(6, 10, 0)
    net = four_neuron_solution(6, width=10).network
    ok = Evaluation(net, ds)
    assert check_hypercube_zero_one(ok, 0, "0").passed and check_hypercube_mse(ok, 0.0, "0").passed
    flipped = Evaluation(_scaled(net, W2=-1.0), ds)
    r = check_hypercube_zero_one(flipped, 0, "0")
    assert not r.passed and r.value == 1.0
    scaled = Evaluation(_scaled(net, W2=1.1), ds)
    assert check_hypercube_zero_one(scaled, 0, "0").passed
    m = check_hypercube_mse(scaled, 0.0, "0")
    assert not m.passed and m.value == pytest.approx(0.01)


def test_zero_one_fails_for_the_wrong_memorizing_count():
    ds = sample_xor(6, 10, 0)
    net = memorizing_solution(ds, 2, directions="sphere", epsilon=1 / math.sqrt(6)).network
    ev = Evaluation(net, ds)
    assert check_hypercube_zero_one(ev, 64 - 10, "formula").passed
    assert not check_hypercube_zero_one(ev, 64 - 11, "off by one").passed


def test_estimates_pass_and_fail_by_their_interval():
    ds = sample_xor(8, 10, 0)
    net = four_neuron_solution(8, width=10).network
    ev = Evaluation(net, ds, hypercube_samples=500)
    r = check_hypercube_zero_one(ev, 0, "0")
    assert r.passed and r.kind == "estimate" and "ESTIMATE" in r.detail
    assert not check_hypercube_zero_one(ev, 128, "half").passed
    with pytest.raises(ValueError, match="exact enumeration"):
        check_hypercube_mse(ev, 0.0, "0")


@given(extreme_point_datasets(max_n=6), depths)
def test_trace_bound_breaks_for_any_rebalancing(data, depth):
    cons = memorizing_solution(data, depth)
    net = cons.network
    # Multiply layer 1 by 3 and the output layer by 1/3: the function is unchanged (ReLU is
    # positively homogeneous) but the balance of App. A.3.1 is lost, so the bound is not attained.
    broken = net.replace(
        W1=net.params["W1"] * 3,
        b1=net.params["b1"] * 3,
        **{f"W{depth}": net.params[f"W{depth}"] / 3},
    )
    ev = Evaluation(broken, data)
    assert check_interpolation(ev).passed
    assert not check_trace_bound(ev).passed
    assert check_bound_respected(ev).passed


def test_check_results_are_structured(good):
    r = check_trace_bound(good).to_dict()
    assert set(r) >= {"name", "passed", "value", "expected", "tolerance", "detail", "kind"}
    assert r["tolerance"] == "rtol=1e-09, atol=1e-12"


def test_float32_uses_its_own_tolerance(ds):
    from constructions import Network

    net = memorizing_solution(ds, 2).network
    ev = Evaluation(Network(net.arch, net.params, dtype=torch.float32), ds)
    r = check_trace_bound(ev)
    assert r.passed and r.tolerance == "rtol=0.0001, atol=1e-06"


def test_extreme_point_check_recertifies_a_given_certificate():
    from constructions import certify_extreme_points, sample_xor

    ds = sample_xor(5, 10, 0)
    cert = certify_extreme_points(ds.X)
    assert check_extreme_points(ds, cert).passed
    W = np.array(cert.directions)
    W[3] = -W[3]  # no longer separates point 3
    broken = type(cert)(W, cert.margins, cert.method)
    result = check_extreme_points(ds, broken)
    assert not result.passed and result.value == "point 3"
