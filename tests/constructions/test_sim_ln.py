"""Property tests of the Sim-LN constructions (App. A.4) over random extreme-point datasets."""

import itertools
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from constructions import Dataset, sample_xor
from constructions.sim_ln import (
    LINEAR,
    NORMALIZED,
    sim_ln_constants,
    sim_ln_four_neuron_solution,
    sim_ln_memorizing_solution,
    sim_ln_scalings,
    sim_ln_xor_memorizing_solution,
)
from sharpness import NonDifferentiableError, find_kinks, hessian_trace, lemma41_trace
from sharpness.architectures.sim_ln import lemma_a12_printed, memorizing_epsilon_range
from sharpness.reference import dense_hessian_trace
from tests.strategies import extreme_point_datasets, sim_ln_epss
from verify import Evaluation, check_interpolation

TOL_RTOL, TOL_ATOL = 1e-9, 1e-12


def close(a, b):
    return abs(a - b) <= TOL_ATOL + TOL_RTOL * abs(b)


def numpy_sim_ln(params, eps, X):
    """Independent forward pass: numpy only."""
    h = np.maximum(X @ params["W1"].T + params["b1"], 0.0)
    return (h @ params["W2"][0]) / np.maximum(np.linalg.norm(h, axis=1), eps)


def one_hot_owner(params, X):
    z = X @ params["W1"].T + params["b1"]
    active = z > 0
    assert np.all(active.sum(axis=1) == 1)
    return active.argmax(axis=1)


@st.composite
def datasets_and_eps(draw):
    ds = draw(extreme_point_datasets(max_n=6, max_d=4))
    return ds, draw(sim_ln_epss(sim_ln_constants(ds.X, ds.y)))


@settings(max_examples=30)
@given(datasets_and_eps())
def test_corrected_memorizing_is_a_flattest_memorizing_interpolator(case):
    ds, eps = case
    cons = sim_ln_memorizing_solution(ds, eps)
    p = cons.network.numpy_params()
    np.testing.assert_allclose(numpy_sim_ln(p, eps, ds.X), ds.y, rtol=1e-9, atol=1e-12)
    owners = one_hot_owner(p, ds.X)
    assert sorted(owners) == list(range(ds.n))  # Definition 4.2: one-hot and injective
    X, y = ds.tensors()
    assert find_kinks(cons.network, X, y).twice_differentiable
    t = hessian_trace(cons.network, X, y)
    assert close(t, lemma41_trace(cons.network, X))
    assert close(t, lemma_a12_printed(ds.X, ds.y, eps))  # Lemma A.12, literally


@settings(max_examples=30)
@given(datasets_and_eps())
def test_printed_memorizing_attains_the_bound_exactly_on_its_epsilon_range(case):
    """App. A.4.1 as printed is flattest iff eps avoids every [c_i, 2 c_i): the range of (c)."""
    ds, eps = case
    cons = sim_ln_memorizing_solution(ds, eps, form="printed")
    X, y = ds.tensors()
    assert check_interpolation(Evaluation(cons.network, ds)).passed
    try:
        attained = close(hessian_trace(cons.network, X, y), lemma_a12_printed(ds.X, ds.y, eps))
    except NonDifferentiableError:
        attained = False
    assert attained == memorizing_epsilon_range(ds.X, ds.y, "printed").contains(eps)


def test_printed_case_split_costs_two_c_over_eps_and_sits_on_the_switch_at_c():
    ds = sample_xor(4, 6, 0)
    c = math.sqrt(5.0)
    X, y = ds.tensors()
    printed = sim_ln_memorizing_solution(ds, 1.5 * c, form="printed").network
    # linear regime: ||grad f||^2 = 2c/eps = 4/3 per point, the bound is 1
    assert close(hessian_trace(printed, X, y), 2 * 4 / 3)
    assert close(hessian_trace(sim_ln_memorizing_solution(ds, 1.5 * c).network, X, y), 2.0)
    at = sim_ln_memorizing_solution(ds, c, form="printed").network
    rep = find_kinks(at, X, y)
    assert len(rep.fatal) == ds.n and not rep.twice_differentiable
    with pytest.raises(NonDifferentiableError):
        hessian_trace(at, X, y)


def test_scalings_follow_the_printed_cases_and_the_corrected_split():
    c = np.array([0.0, 0.4, 0.6, 1.0, 3.0])
    r, u, reg = sim_ln_scalings(c, 1.0, "printed")
    assert list(reg) == ["zero label", LINEAR, LINEAR, LINEAR, NORMALIZED]
    np.testing.assert_allclose(r[1:4], np.sqrt(1.0 / c[1:4]))
    np.testing.assert_allclose(u[1:4], np.sqrt(c[1:4]))
    assert r[0] == 0 and u[0] == 2.0 and r[4] == 1 and u[4] == 2.0
    _, _, reg = sim_ln_scalings(c, 1.0, "corrected")
    assert list(reg) == ["zero label", LINEAR, NORMALIZED, NORMALIZED, NORMALIZED]


def test_zero_label_interpolates_but_cannot_attain_the_bound():
    ds = sample_xor(4, 5, 0)
    y = ds.y.copy()
    y[2] = 0.0
    zero = Dataset(ds.X, y)
    cons = sim_ln_memorizing_solution(zero, 1.0)
    X, yt = zero.tensors()
    assert check_interpolation(Evaluation(cons.network, zero)).passed
    assert hessian_trace(cons.network, X, yt) > lemma_a12_printed(zero.X, y, 1.0) + 0.3


@pytest.mark.parametrize("factor", [0.5, 1.0, 2.0, 3.0])
def test_xor_memorizing_printed_formula_and_cube_error(factor):
    d, n, delta = 4, 6, 1.0
    ds = sample_xor(d, n, 1)
    eps = factor * math.sqrt(d + 1)
    printed = sim_ln_xor_memorizing_solution(ds, eps, delta=delta, form="printed")
    p = printed.network.numpy_params()
    np.testing.assert_array_equal(p["W1"], 2 * eps * ds.X / delta)
    np.testing.assert_array_equal(p["b1"], np.full(n, 2 * eps * (-d + delta) / delta))
    np.testing.assert_array_equal(p["W2"][0], ds.y)
    corrected = sim_ln_xor_memorizing_solution(ds, eps, delta=delta)
    q = corrected.network.numpy_params()
    if factor <= 2:  # both normalized: the same weights up to rounding
        for k in p:
            np.testing.assert_allclose(q[k], p[k], rtol=1e-13, atol=1e-13)
    # naive enumeration: f = y on the training set, f = 0 elsewhere
    cube = np.array(list(itertools.product([1.0, -1.0], repeat=d)))
    f = numpy_sim_ln(q, eps, cube)
    train = {tuple(x) for x in ds.X}
    for x, fx in zip(cube, f, strict=True):
        if tuple(x) in train:
            assert abs(fx - x[0] * x[1]) < 1e-12
        else:
            assert fx == 0.0
    X, y = ds.tensors()
    expected = 2 * min(1.0, 2 * math.sqrt(d + 1) / eps)  # Lemma A.12 on P_xor, by hand
    assert close(hessian_trace(corrected.network, X, y), expected)


@pytest.mark.parametrize("factor", [0.25, 1.0, 2.0, 2.5, 6.0])
def test_four_neuron_corrected_is_xor_everywhere_and_flattest(factor):
    d = 3
    eps = factor * math.sqrt(d + 1)
    cons = sim_ln_four_neuron_solution(d, eps, width=6)
    p = cons.network.numpy_params()
    cube = np.array(list(itertools.product([1.0, -1.0], repeat=d)))
    np.testing.assert_allclose(numpy_sim_ln(p, eps, cube), cube[:, 0] * cube[:, 1], atol=1e-12)
    ds = Dataset(cube, cube[:, 0] * cube[:, 1])
    X, y = ds.tensors()
    expected = 2 * min(1.0, 2 * math.sqrt(d + 1) / eps)
    assert close(dense_hessian_trace(cons.network, X, y), expected)
    assert close(hessian_trace(cons.network, X, y), expected)


def test_four_neuron_printed_indices_cover_only_half_the_cube():
    d, eps = 3, 0.5
    printed = sim_ln_four_neuron_solution(d, eps, form="printed").network.numpy_params()
    cube = np.array(list(itertools.product([1.0, -1.0], repeat=d)))
    f = numpy_sim_ln(printed, eps, cube)
    np.testing.assert_allclose(f[cube[:, 0] < 0], (cube[:, 0] * cube[:, 1])[cube[:, 0] < 0])
    assert np.all(f[cube[:, 0] > 0] == 0.0)
    # i = j = 1 is neuron 3 (1-based): W_1 = 2 eps [-1, -1, 0], b_1 = -2 eps, W_2 = +1
    np.testing.assert_array_equal(printed["W1"][2], [-2 * eps, -2 * eps, 0.0])
    assert printed["b1"][2] == -2 * eps and printed["W2"][0, 2] == 1.0
    assert not np.any(printed["W1"][[0, 1]])


def test_four_neuron_scale_override_explores_the_regimes():
    d, eps = 3, 1.0
    ds = sample_xor(d, 8, 0)
    X, y = ds.tensors()
    # normalized (s >= eps): 1 per point; linear: (s^2 + (eps/s)^2 ||x'||^2)/eps^2 = 0.25 + 4 * 4
    for scale, expected in [(2.0, 2.0), (0.5, 2 * (0.25 + 4 * 4))]:
        net = sim_ln_four_neuron_solution(d, eps, scale=scale).network
        assert close(hessian_trace(net, X, y), expected)


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda ds: sim_ln_memorizing_solution(ds, 0.0), "eps"),
        (lambda ds: sim_ln_memorizing_solution(ds, -1.0), "eps"),
        (lambda ds: sim_ln_memorizing_solution(ds, 1.0, form="typo"), "form"),
        (lambda ds: sim_ln_memorizing_solution(ds, 1.0, delta=0.0), "delta"),
        (lambda ds: sim_ln_memorizing_solution(ds, 1.0, directions="nope"), "directions"),
        (lambda ds: sim_ln_xor_memorizing_solution(Dataset(ds.X * 2, ds.y), 1.0), "-1,1"),
        (lambda ds: sim_ln_four_neuron_solution(3, 1.0, width=3), "width"),
        (lambda ds: sim_ln_four_neuron_solution(1, 1.0), "d must"),
        (lambda ds: sim_ln_four_neuron_solution(3, 1.0, form="printed", scale=1.0), "scale"),
        (lambda ds: sim_ln_four_neuron_solution(3, float("nan")), "eps"),
    ],
    ids=["eps0", "eps<0", "form", "delta", "directions", "off-cube", "width", "d", "scale", "nan"],
)
def test_argument_checks(call, match):
    with pytest.raises(ValueError, match=match):
        call(sample_xor(3, 4, 0))


def test_same_inputs_same_weights():
    ds = sample_xor(5, 9, 2)
    a = sim_ln_memorizing_solution(ds, 0.7).network.numpy_params()
    b = sim_ln_memorizing_solution(ds, 0.7).network.numpy_params()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    assert torch.equal(
        sim_ln_four_neuron_solution(4, 0.3).network.params["W1"],
        sim_ln_four_neuron_solution(4, 0.3).network.params["W1"],
    )


def test_xor_construction_on_repeated_points():
    """Issue 12: printed gives f = sqrt(2) y at a point drawn twice; corrected interpolates."""
    from sharpness.reference import dense_hessian_trace

    X = np.array([[1.0, 1.0], [1.0, 1.0], [-1.0, -1.0]])
    ds = Dataset(X, X[:, 0] * X[:, 1])
    Xt, yt = ds.tensors()
    printed = sim_ln_xor_memorizing_solution(ds, 0.5, form="printed")
    assert printed.network(Xt).detach()[0].item() == pytest.approx(math.sqrt(2))
    cons = sim_ln_xor_memorizing_solution(ds, 0.5)
    assert torch.allclose(cons.network(Xt).detach(), yt, atol=1e-12)
    # Lemma A.12 by hand: (2/n) sum min(1, 2 sqrt(3)/eps) = 2
    assert dense_hessian_trace(cons.network, Xt, yt) == pytest.approx(2.0, rel=1e-12)
    assert cons.parameters["regimes"]["normalized"] == 2  # the training neurons only
