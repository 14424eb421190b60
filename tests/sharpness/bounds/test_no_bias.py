"""2-MLP-No-Bias: Lemma A.11's per-neuron decomposition (corrected) against the dense Hessian,
balancing, the complete-symmetric infimum 4 sqrt(2d), and the Jacobian-bound attainability."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from constructions import MLP, Network, dataset_from_arrays, sample_xor
from constructions.no_bias import a24_solution
from constructions.sim_bn import condition1_dataset
from sharpness import find_kinks, hessian_trace, jacobian_lower_bound
from sharpness.bounds.no_bias import (
    balance_neurons,
    complete_symmetric_infimum,
    jacobian_attainability,
    lemma31_norm,
    lemma_a11_ratio,
    neuron_decomposition,
)
from sharpness.reference import dense_hessian_trace


def close(a, b, rtol=1e-9, atol=1e-12):
    return abs(a - b) <= atol + rtol * abs(b)


def random_nobias(d, m, seed):
    rng = np.random.default_rng(seed)
    return Network(
        MLP(2, bias=False), {"W1": rng.normal(size=(m, d)), "W2": rng.normal(size=(1, m))}
    )


@settings(max_examples=20)
@given(st.integers(2, 5), st.integers(1, 6), st.integers(0, 2**16), st.booleans())
def test_decomposition_equals_dense_hessian_trace(d, m, seed, interpolate):
    net = random_nobias(d, m, seed)
    X = torch.tensor(np.random.default_rng(seed + 1).normal(size=(6, d)))
    y = net(X).detach() if interpolate else torch.ones(6, dtype=torch.float64)
    if not find_kinks(net, X, y).twice_differentiable:
        return
    dec = neuron_decomposition(net, X)
    assert close(dec.trace, dense_hessian_trace(net, X, y))  # ReLU MLP: holds off interpolation
    assert close(dec.norm, lemma31_norm(net))
    balanced = balance_neurons(net, X)
    assert torch.allclose(balanced(X), net(X), rtol=1e-12, atol=1e-12)
    assert close(hessian_trace(balanced, X, balanced(X).detach()), dec.balanced)
    assert dec.balanced <= dec.trace + 1e-9
    assert dec.norm <= dec.norm_bound * (1 + 1e-9)  # the corrected chain of Lemma A.4


def test_lemma_a11_ratio_and_norm_on_the_witness():
    cube = sample_xor(4, 16, 0)
    net = a24_solution(4, 0.1).network
    p = net.numpy_params()
    denom = np.sum(p["W1"] ** 2) + 4 * np.sum(p["W2"] ** 2)
    X, y = cube.tensors()
    assert close(lemma_a11_ratio(net, cube.X), hessian_trace(net, X, y) / denom)


def test_complete_symmetric_infimum_accepts_cube_and_symmetric_condition1_sets():
    inf = complete_symmetric_infimum(*sample_xor(4, 16, 0).tensors())
    assert close(inf.value, 4 * math.sqrt(8)) and close(inf.jacobian, 8.0)
    ds = condition1_dataset(6, seed=1, symmetric=True)
    assert close(complete_symmetric_infimum(ds.X, ds.y).value, 4 * math.sqrt(12))
    # the Jacobian bound of the data is the infimum's "jacobian" (Eq. (3), no bias)
    assert close(jacobian_lower_bound(ds.X, ds.y, 2, bias=False).trace, 4 * math.sqrt(6))


def test_the_infimum_is_a_strict_lower_bound_approached_by_the_balanced_witness():
    cube = sample_xor(3, 8, 0)
    X, y = cube.tensors()
    inf = 4 * math.sqrt(6)
    traces = [
        hessian_trace(a24_solution(3, e, form="corrected", X=cube.X).network, X, y)
        for e in (0.3, 0.03, 0.003)
    ]
    assert all(t > inf for t in traces) and traces[0] > traces[1] > traces[2]
    assert traces[2] - inf < 0.05


@pytest.mark.parametrize(
    "X,y,match",
    [
        (np.array([[1.0, 1, 1], [-1, -1, -1]]), np.array([1.0, 1]), "not complete"),
        (sample_xor(3, 4, 0).X, sample_xor(3, 4, 0).y, "not"),
        (np.array([[1.0, 0.5]]), np.array([0.5]), "not in"),
        (np.array([[1.0, 1.0]]), np.array([-1.0]), "label of point 0"),
        (np.ones((2, 2)), np.ones(2), "repeats"),
    ],
    ids=["incomplete", "asymmetric-sample", "off-cube", "label", "repeat"],
)
def test_complete_symmetric_infimum_refuses_other_sets(X, y, match):
    with pytest.raises(ValueError, match=match):
        complete_symmetric_infimum(X, y)


def test_jacobian_bound_not_attainable_on_the_cube_with_exact_certificates():
    cube = sample_xor(3, 8, 0)
    att = jacobian_attainability(cube.X, cube.y, limit=2)
    assert att.attained is False and len(att.blocked) == 2
    for i, cert in att.blocked:  # mu_{-1} x_i = sum_k mu_k x_k, mu >= 0, sum 1: exact
        assert all(v >= 0 for v in cert.values()) and sum(cert.values()) == 1
        for c in range(3):
            lhs = cert.get(-1, 0) * int(cube.X[i, c])
            rhs = sum(v * int(cube.X[k, c]) for k, v in cert.items() if k != -1)
            assert lhs == rhs


def test_jacobian_bound_attainable_when_points_are_separable():
    X = np.array([[1.0, 1, 1], [1, -1, -1], [-1, 1, -1]])
    ds = dataset_from_arrays(X, np.array([1.0, -1, -1]))
    att = jacobian_attainability(ds.X, ds.y)
    assert att.attained is True and att.separable_from_all


def test_bad_input():
    with pytest.raises(ValueError, match="integer-valued"):
        jacobian_attainability(np.array([[0.5, 1.0]]), np.array([1.0]))
    with pytest.raises(ValueError, match="nonzero labels"):
        jacobian_attainability(np.array([[1.0, 1.0]]), np.array([0.0]))
    with pytest.raises(ValueError, match="2-MLP-No-Bias"):
        neuron_decomposition(
            Network(MLP(2), {"W1": np.ones((1, 2)), "b1": np.ones(1), "W2": np.ones((1, 1))}),
            np.ones((1, 2)),
        )
