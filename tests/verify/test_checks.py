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


@pytest.mark.parametrize("bad", [math.inf, math.nan])
def test_an_overflowed_trace_is_never_an_exact_trace(ds, bad):
    # data scaled far up make the float64 trace inf (or NaN): the trace checks fail, with the
    # reason, rather than comparing inf with inf
    ev = Evaluation(memorizing_solution(ds, 2).network, ds)
    ev.__dict__["trace"] = bad  # the cached value an overflow would leave
    for check in (check_trace_identity, check_trace_bound, check_bound_respected):
        r = check(ev)
        assert not r.passed, check.__name__
        assert "inf or NaN" in r.detail


def test_all_labels_zero_give_a_result_not_a_division_by_zero():
    ds0 = sample_xor(4, 6, seed=0)
    zero = Dataset(ds0.X, 0 * ds0.y)
    ev = Evaluation(memorizing_solution(ds0, 2).network, zero)  # f = y0 != 0: trace > bound 0
    r = check_trace_bound(ev)
    assert not r.passed and r.expected == 0 and "(the bound is 0)" in r.detail
    assert check_bound_respected(ev).passed


def test_interpolation_tolerance_is_relative_to_the_label():
    # rtol scales with |y|: at labels of size 1000 a relative miss of 5e-10 (5e-7 absolute) is
    # within rtol = 1e-9, and a relative miss of 5e-9 is not
    ds0 = sample_xor(4, 6, seed=0)
    big = Dataset(ds0.X, 1000 * ds0.y)
    net = memorizing_solution(big, 2).network
    for scale, ok in ((1 + 5e-10, True), (1 + 5e-9, False)):
        params = dict(net.params)
        params["W2"] = params["W2"] * scale
        r = check_interpolation(Evaluation(type(net)(net.arch, params), big))
        assert r.passed is ok, (scale, r.value)


def test_reported_targets_are_the_statements(good):
    # the expected column is what the paper states, not decoration: 0 residual, 0 violations,
    # 0 fatal kinks
    assert check_interpolation(good).expected == 0.0
    assert check_memorization(good).expected == 0
    assert check_differentiability(good).expected == 0


def test_memorization_fails_where_it_is_not_defined(good, monkeypatch):
    import verify.checks as checks_module

    class NoMemorization:
        def require(self, operation, arch=None):
            raise ValueError("memorization (Def. 4.2) for this net: not defined")

    monkeypatch.setattr(checks_module, "ops_for", lambda net: NoMemorization())
    r = check_memorization(good)
    assert not r.passed and r.value is None and r.expected == 0
    assert "not defined" in r.detail


def test_trace_bound_detail_says_which_side_of_the_bound(ds, good):
    # Eq. (5) as printed (r = (d^2+1)^(1/4)) interpolates P_xor but is sharper than the bound
    sharp = Evaluation(four_neuron_solution(ds.d, width=ds.n, form="printed").network, ds)
    r = check_trace_bound(sharp)
    assert not r.passed and "exceeds the bound" in r.detail and "(ratio " in r.detail
    below = Evaluation(good.net, ds)
    below.__dict__["trace"] = good.bound.trace * 0.5  # a trace below a true lower bound
    r = check_trace_bound(below)
    assert not r.passed and "BELOW the bound" in r.detail
