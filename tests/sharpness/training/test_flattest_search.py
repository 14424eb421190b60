"""The flattest-interpolator search: determinism, independent re-evaluation of every result,
the bounds, the Sim-BN and 2-MLP-Bias variants, the error-versus-n sweep and bad settings."""

import math

import numpy as np
import pytest
import torch

from constructions import sample_xor
from constructions.sim_bn import condition1_dataset
from sharpness import hessian_trace, jacobian_lower_bound
from sharpness.reference import dense_hessian_trace, naive_hypercube_error
from sharpness.training.flattest_search import (
    SearchSettings,
    cached_search,
    error_versus_n,
    flattest_search,
    summary_table,
)

SMALL = dict(starts=2, steps=150)


def close(a, b, rtol=1e-9, atol=1e-12):
    return abs(a - b) <= atol + rtol * abs(b)


@pytest.fixture(scope="module")
def nobias_cube():
    return flattest_search(sample_xor(3, 8, 0), SearchSettings("nobias", 6, **SMALL))


def test_same_seed_same_numbers_and_starts_are_independent(nobias_cube):
    again = flattest_search(sample_xor(3, 8, 0), SearchSettings("nobias", 6, **SMALL))
    for a, b in zip(nobias_cube.results, again.results, strict=True):
        assert a.objective == b.objective and a.sharpness == b.sharpness
    one = flattest_search(sample_xor(3, 8, 0), SearchSettings("nobias", 6, starts=1, steps=150))
    assert close(one.results[0].objective, nobias_cube.results[0].objective, rtol=1e-6)
    other = flattest_search(sample_xor(3, 8, 0), SearchSettings("nobias", 6, seed=1, **SMALL))
    assert other.results[0].objective != nobias_cube.results[0].objective


def test_results_recheck_with_independent_code(nobias_cube):
    ds = nobias_cube.dataset
    X, y = ds.tensors()
    bound = jacobian_lower_bound(ds.X, ds.y, 2, bias=False).trace
    assert nobias_cube.interpolating
    for r in nobias_cube.results:
        assert close(r.objective, r.autograd_objective)
        assert naive_hypercube_error(r.network)[0] == r.errors
        if r.interpolates:
            assert r.sharpness >= bound * (1 - 1e-9)
        if r.trace is not None:
            assert close(r.trace, dense_hessian_trace(r.network, X, y))
            if r.interpolates:  # complete symmetric: proven strict infimum 4 sqrt(2d)
                assert r.trace > 4 * math.sqrt(6)
        else:
            assert r.fatal_kinks > 0 and r.one_sided is not None
            assert r.sharpness == r.one_sided[0]
    rows = summary_table(nobias_cube)
    assert len(rows) == 2 and {"sharpness", "fatal_kinks", "norm"} <= set(rows[0])


def test_sim_bn_search_on_condition_1_data_respects_the_infimum():
    ds = condition1_dataset(4, seed=0)
    X, y = ds.tensors()
    s = flattest_search(ds, SearchSettings("simbn", 6, **SMALL))
    assert s.infimum == 8.0 and s.interpolating
    for r in s.results:
        assert close(r.objective, r.autograd_objective)
        assert r.concentration is not None and 0 <= r.concentration <= 1
        if r.interpolates:
            assert r.sharpness >= 8.0 - 1e-9
        if r.trace is not None:
            assert close(r.trace, hessian_trace(r.network, X, y))


def test_bias_search_reports_memorization_and_stays_above_the_bound():
    ds = sample_xor(4, 6, 0)
    s = flattest_search(ds, SearchSettings("bias", 6, starts=2, steps=200))
    bound = jacobian_lower_bound(ds.X, ds.y, 2, bias=True).trace
    assert s.infimum == pytest.approx(bound)
    for r in s.results:
        assert isinstance(r.memorizing, bool)
        if r.interpolates:
            assert r.sharpness >= bound * (1 - 1e-9)


def test_cached_search_and_error_versus_n():
    settings = SearchSettings("nobias", 4, starts=1, steps=100)
    ds = sample_xor(4, 8, 0)
    assert cached_search(ds, settings) is cached_search(ds, settings)
    rows = error_versus_n(4, (8, 16), settings)
    assert [r.n for r in rows] == [8, 16]
    for r in rows:
        assert r.rate == pytest.approx(4 * math.log(4) / r.n)
        if r.errors is not None:
            assert r.error_rate == r.errors / 16


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"arch": "cnn", "width": 4}, "arch must be one of"),
        ({"arch": "nobias", "width": 0}, "width must be an integer >= 1"),
        ({"arch": "nobias", "width": 4, "starts": 0}, "starts must be"),
        ({"arch": "nobias", "width": 4, "smooth": 2}, "smooth must be"),
        ({"arch": "nobias", "width": 4, "lr": -1.0}, "lr must be"),
    ],
    ids=["arch", "width", "starts", "smooth", "lr"],
)
def test_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SearchSettings(**kwargs)


def test_bad_calls():
    with pytest.raises(ValueError, match="dataset must be"):
        flattest_search(np.ones((2, 2)), SearchSettings("nobias", 2))
    with pytest.raises(ValueError, match="settings must be"):
        flattest_search(sample_xor(3, 4, 0), {"arch": "nobias"})
    with pytest.raises(ValueError, match="n must be an integer <= 16"):
        error_versus_n(4, (17,), SearchSettings("nobias", 2, starts=1, steps=1))
    with pytest.raises(ValueError, match="at least one"):
        error_versus_n(4, (), SearchSettings("nobias", 2, starts=1, steps=1))
    assert torch.get_default_dtype() == torch.float32  # the search never changes global state
