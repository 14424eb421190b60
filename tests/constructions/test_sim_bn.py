"""Condition 1 (builder and exact checker), Lemma A.1's weights, Lemma A.3's near-flattest
family and the counterexample to Theorem 3.2 as printed, each rechecked independently."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from constructions import Network, SimBN, dataset_from_arrays, sample_xor
from constructions.sim_bn import (
    check_condition1,
    concentration,
    condition1_dataset,
    condition1_from_rest,
    exact_rank,
    lemma_a1_solution,
    near_flattest_sim_bn,
    near_flattest_trace,
    theorem_3_2_counterexample,
)
from sharpness import hessian_trace, hypercube_error
from sharpness.reference import dense_hessian_trace, naive_hypercube_error
from tests.strategies import condition1_rests


def close(a, b, rtol=1e-9, atol=1e-12):
    return abs(a - b) <= atol + rtol * abs(b)


def ref(net, X):
    return Network(net.arch, net.params, reference=torch.tensor(np.array(X)))


@settings(max_examples=30)
@given(st.integers(2, 7).flatmap(lambda d: st.tuples(st.just(d), condition1_rests(d - 2))))
def test_built_rests_satisfy_condition_1(case):
    d, S = case
    ds = condition1_from_rest(S)
    rep = check_condition1(ds.X, ds.y)
    assert rep.holds and rep.rank == d - 2 and ds.n == 4 * len(S), rep.failures
    # drop one point: no longer complete
    broken = check_condition1(ds.X[1:], ds.y[1:])
    assert not broken.holds and "lacks" in broken.failures[0]


@settings(max_examples=40)
@given(st.integers(1, 5), st.integers(1, 6), st.integers(0, 2**16))
def test_exact_rank_matches_numpy_on_small_integer_matrices(r, c, seed):
    M = np.random.default_rng(seed).integers(-2, 3, size=(r, c))
    assert exact_rank(M.tolist()) == np.linalg.matrix_rank(M.astype(float))


@pytest.mark.parametrize("d,seed", [(2, 0), (3, 1), (6, 2), (9, 3)])
def test_condition1_dataset_and_sizes(d, seed):
    ds = condition1_dataset(d, seed=seed)
    assert check_condition1(ds.X, ds.y).holds
    big = condition1_dataset(d, size=2 ** (d - 2), seed=seed)
    assert big.n == 2**d and check_condition1(big.X, big.y).holds


@pytest.mark.parametrize(
    "mutate,needle",
    [
        (lambda X, y: (X, -y), "is not x[1] x[2]"),
        (lambda X, y: (np.where(X == 1, 0.5, X), y), "is not in {-1, 1}"),
        (lambda X, y: (np.concatenate([X, X[:1]]), np.concatenate([y, y[:1]])), "repeats point"),
    ],
    ids=["labels", "off-cube", "repeat"],
)
def test_checker_names_what_fails(mutate, needle):
    ds = condition1_dataset(5, seed=0)
    rep = check_condition1(*mutate(ds.X.copy(), ds.y.copy()))
    assert not rep.holds and any(needle in f for f in rep.failures) and needle in rep.summary()


def test_rank_deficient_rest_fails():
    s = np.array([1.0, -1, 1, 1])
    ds = condition1_from_rest(np.stack([s, -s]))  # span(S - S) has rank 1 < 4
    rep = check_condition1(ds.X, ds.y)
    assert not rep.holds and rep.rank == 1 and "rank" in rep.failures[0]


def test_lemma_a1_printed_fails_corrected_interpolates_and_generalizes():
    ds = condition1_dataset(5, seed=0)
    X, y = ds.tensors()
    printed = ref(lemma_a1_solution(5, width=6, form="printed").network, ds.X)
    assert float((printed(X) - y).abs().max()) == pytest.approx(2.0)
    fixed = ref(lemma_a1_solution(5, width=6).network, ds.X)
    assert float((fixed(X) - y).abs().max()) < 1e-12
    assert naive_hypercube_error(fixed)[0] == 0 == hypercube_error(fixed, progress=False).errors
    c = concentration(fixed)
    assert c.max_used == 0.0 and np.all(c.weights[4:] == 0)


@pytest.mark.parametrize("d,scale", [(3, 1.0), (4, 2.0), (5, 7.0)])
def test_near_flattest_trace_closed_form_against_dense_hessian(d, scale):
    ds = condition1_dataset(d, seed=d)
    X, y = ds.tensors()
    net = ref(near_flattest_sim_bn(d, scale, width=5).network, ds.X)
    assert float((net(X) - y).abs().max()) < 1e-12
    want = near_flattest_trace(ds.X, scale)
    assert close(dense_hessian_trace(net, X, y), want)
    assert close(hessian_trace(net, X, y), want)
    assert want > 8.0 and naive_hypercube_error(net)[0] == 0


@pytest.mark.parametrize("d", [4, 6])
def test_counterexample_rechecked_with_dense_hessian_and_naive_enumeration(d):
    ds = condition1_dataset(d, seed=1)
    X, y = ds.tensors()
    kappa = 0.1
    net = theorem_3_2_counterexample(ds, kappa).network
    assert float((net(X) - y).abs().max()) < 1e-12
    t = dense_hessian_trace(net, X, y)
    assert 8.0 < t <= 8.0 + kappa and close(t, hessian_trace(net, X, y))
    errors, _ = naive_hypercube_error(net)
    assert errors > 0 and errors == hypercube_error(net, progress=False).errors
    assert concentration(net).max_used > 0.9


def test_counterexample_bad_input():
    ds = condition1_dataset(4, seed=0)
    with pytest.raises(ValueError, match="kappa"):
        theorem_3_2_counterexample(ds, 0.0)
    with pytest.raises(ValueError, match="width"):
        theorem_3_2_counterexample(ds, 0.1, width=5)
    with pytest.raises(ValueError, match="Condition 1 fails"):
        theorem_3_2_counterexample(sample_xor(4, 5, 0), 0.1)
    with pytest.raises(ValueError, match="d >= 3"):
        theorem_3_2_counterexample(condition1_dataset(2), 0.1)


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: condition1_dataset(1), "d must be an integer >= 2"),
        (lambda: condition1_dataset(5, size=2), "size must be"),
        (lambda: condition1_dataset(5, size=9), "size must be"),
        (lambda: condition1_dataset(5, size=5, symmetric=True), "even"),
        (lambda: condition1_from_rest(np.array([[1.0, 0.0]])), "is not in"),
        (lambda: condition1_from_rest(np.ones((2, 2))), "repeated row"),
        (lambda: lemma_a1_solution(4, width=3), "width"),
        (lambda: lemma_a1_solution(4, form="x"), "form"),
        (lambda: near_flattest_sim_bn(4, -1.0), "scale"),
        (lambda: exact_rank([[0.5]]), "integer entries"),
    ],
    ids=[
        "d",
        "size-small",
        "size-large",
        "odd",
        "rest-entry",
        "rest-repeat",
        "width",
        "form",
        "scale",
        "rank",
    ],
)
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_user_arrays_round_trip_through_the_checker():
    ds = condition1_dataset(4, seed=0)
    user = dataset_from_arrays(ds.X, ds.y)
    assert check_condition1(user.X, user.y).holds
    assert SimBN().name == "2-MLP-Sim-BN" and math.isfinite(near_flattest_trace(ds.X, 3.0))
