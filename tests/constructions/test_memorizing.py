"""Property tests of Theorem 4.1's construction over random extreme-point datasets."""

import numpy as np
import pytest
import torch
from hypothesis import given

from constructions import memorizing_scalings, memorizing_solution, sample_xor
from sharpness import find_kinks, hessian_trace, jacobian_lower_bound, lemma41_trace, tolerance_for
from tests.strategies import depths, extreme_point_datasets
from verify import Evaluation, check_interpolation, check_memorization

TOL = tolerance_for(torch.float64)


@given(extreme_point_datasets(), depths)
def test_memorizing_interpolates_and_memorizes(ds, depth):
    cons = memorizing_solution(ds, depth)
    ev = Evaluation(cons.network, ds)
    assert check_interpolation(ev).passed
    assert check_memorization(ev).passed
    assert find_kinks(cons.network, ds.X, ds.y).twice_differentiable


@given(extreme_point_datasets(), depths)
def test_exact_trace_equals_identity_and_bound(ds, depth):
    cons = memorizing_solution(ds, depth)
    X, y = ds.tensors()
    t = hessian_trace(cons.network, X, y)
    assert TOL.close(t, lemma41_trace(cons.network, X))
    assert TOL.close(t, jacobian_lower_bound(ds.X, ds.y, depth).trace)


def test_width_is_n_and_activations_are_balanced():
    ds = sample_xor(6, 10, 0)
    cons = memorizing_solution(ds, 3)
    assert cons.network.widths == (10, 10)
    X, _ = ds.tensors()
    acts = cons.network.arch.layer_inputs(cons.network.param_dict(), X)
    # a_{i,l} = u_i / r_i^(l-1) e_i with r = (||x'||/|y|)^(1/3), u = r^2 (|y| = 1)
    r, u = memorizing_scalings(ds.y, np.sqrt(ds.X.shape[1] + 1.0) * np.ones(10), 3)
    np.testing.assert_allclose(acts[1].diagonal().numpy(), u, rtol=1e-14)
    np.testing.assert_allclose(acts[2].diagonal().numpy(), u / r, rtol=1e-14)


def test_scalings_match_main_text_for_depth_two():
    y = np.array([2.0, -0.5])
    xp = np.array([3.0, 5.0])
    r, u = memorizing_scalings(y, xp, 2)
    # main text: first-layer scale sqrt(||x'|| |y|), output weight sqrt(|y| / ||x'||)
    np.testing.assert_allclose(u, np.sqrt(xp * np.abs(y)))
    np.testing.assert_allclose(1 / r, np.sqrt(np.abs(y) / xp))


def test_printed_and_corrected_agree_at_depth_two():
    ds = sample_xor(5, 8, 1)
    a = memorizing_solution(ds, 2, form="printed").network.numpy_params()
    b = memorizing_solution(ds, 2, form="corrected").network.numpy_params()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])


def test_printed_depth_three_sits_on_fatal_kinks_corrected_does_not():
    ds = sample_xor(5, 8, 1)
    printed = memorizing_solution(ds, 3, form="printed").network
    corrected = memorizing_solution(ds, 3, form="corrected").network
    assert len(find_kinks(printed, ds.X, ds.y).fatal) == 8 * 7
    assert find_kinks(corrected, ds.X, ds.y).twice_differentiable
    X, _ = ds.tensors()
    np.testing.assert_allclose(printed(X).numpy(), corrected(X).numpy(), rtol=0, atol=1e-15)


def test_zero_label_cannot_attain_the_bound():
    ds = sample_xor(4, 6, 0)
    y = ds.y.copy()
    y[0] = 0.0
    from constructions import Dataset

    zero = Dataset(ds.X, y)
    cons = memorizing_solution(zero, 2)
    ev = Evaluation(cons.network, zero)
    assert check_interpolation(ev).passed
    assert ev.trace > ev.bound.trace + 0.1


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"depth": 1}, "depth"),
        ({"epsilon": 0.0}, "epsilon"),
        ({"form": "typo"}, "form"),
        ({"directions": "nope"}, "directions"),
    ],
)
def test_argument_checks(kwargs, match):
    with pytest.raises(ValueError, match=match):
        memorizing_solution(sample_xor(3, 4, 0), **kwargs)


def test_repeated_points_use_spare_neurons_and_keep_the_trace():
    """Issue 12: (1,1), (1,1), (-1,-1). Dense float64 Hessian vs the hand bound 4 sqrt(3)."""
    from constructions import Dataset
    from sharpness.reference import dense_hessian_trace

    X = np.array([[1.0, 1.0], [1.0, 1.0], [-1.0, -1.0]])
    ds = Dataset(X, X[:, 0] * X[:, 1])
    cons = memorizing_solution(ds, directions="sphere", epsilon=0.5, spare="xor")
    Xt, yt = ds.tensors()
    assert cons.parameters["n_distinct"] == 2 and cons.parameters["spare_fired"] == 1
    assert torch.allclose(cons.network(Xt).detach(), yt, atol=1e-12)
    assert dense_hessian_trace(cons.network, Xt, yt) == pytest.approx(4 * np.sqrt(3), rel=1e-12)
    # the spare neuron fires at the first unseen vertex in index order, (-1,1), with y = -1
    f = cons.network(torch.tensor([[1.0, -1.0], [-1.0, 1.0]], dtype=torch.float64)).detach()
    assert f.tolist() == pytest.approx([0.0, -1.0])
    printed = memorizing_solution(ds, directions="sphere", epsilon=0.5, form="printed")
    assert printed.network(Xt).detach().tolist() == pytest.approx([2.0, 2.0, 1.0])
    with pytest.raises(ValueError, match="spare must be"):
        memorizing_solution(ds, spare="bogus")
    with pytest.raises(ValueError, match=r"needs points of \{-1,1\}\^d"):
        memorizing_solution(Dataset(X * 2, X[:, 0]), spare="xor")
