"""App. A.2.4's width-4 2-MLP-No-Bias (Condition 2 for P_xor): printed and balanced forms."""

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from constructions import sample_xor
from constructions.no_bias import (
    a24_balanced_trace,
    a24_exact_check,
    a24_printed_trace,
    a24_solution,
)
from sharpness import find_kinks, hessian_trace, hypercube_error
from sharpness.reference import dense_hessian_trace, naive_hypercube_error


def close(a, b, rtol=1e-9, atol=1e-12):
    return abs(a - b) <= atol + rtol * abs(b)


@settings(max_examples=15)
@given(st.integers(2, 7), st.one_of(st.floats(0.01, 0.95), st.floats(1.05, 5.0)))
def test_printed_network_computes_xor_on_the_whole_cube(d, eps):
    net = a24_solution(d, eps).network
    hc = hypercube_error(net, progress=False)
    assert hc.errors == 0 and hc.mse < 1e-25
    assert naive_hypercube_error(net) == (0, pytest.approx(0.0, abs=1e-25))
    assert a24_exact_check(d, eps) == (0, 0)


def test_exact_check_outside_the_admissible_range():
    assert a24_exact_check(4, Fraction(-1, 10)) == (0, 16)  # interpolates nowhere, right sign
    assert a24_exact_check(4, Fraction(3, 2)) == (0, 0)  # eps > 1 still interpolates
    ds = sample_xor(3, 8, 0)
    X, y = ds.tensors()
    assert len(find_kinks(a24_solution(3, 0.0).network, X, y).fatal) == 16


@pytest.mark.parametrize("d", [2, 3, 4])
@pytest.mark.parametrize("eps", [0.1, 0.5])
def test_closed_form_traces_on_the_full_cube_against_dense_hessian(d, eps):
    cube = sample_xor(d, 2**d, 0)
    X, y = cube.tensors()
    printed = a24_solution(d, eps).network
    assert close(dense_hessian_trace(printed, X, y), a24_printed_trace(d, eps))
    balanced = a24_solution(d, eps, form="corrected", X=cube.X).network
    assert close(dense_hessian_trace(balanced, X, y), a24_balanced_trace(d, eps))
    assert close(hessian_trace(balanced, X, y), a24_balanced_trace(d, eps))
    assert np.allclose(balanced(X).detach().numpy(), cube.y, atol=1e-12)
    assert a24_balanced_trace(d, eps) > 4 * math.sqrt(2 * d)


def test_lemma31_norm_recorded():
    cons = a24_solution(5, 0.2)
    p = cons.network.numpy_params()
    manual = float(np.sum(np.linalg.norm(p["W1"], axis=1) * np.abs(p["W2"][0])))
    assert close(cons.parameters["lemma31_norm"], manual)
    assert close(manual, 2 * math.sqrt(2) * math.sqrt(1.04) / 0.8)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"d": 1}, "d must be an integer >= 2"),
        ({"d": 3, "epsilon": 1.0}, "epsilon must be finite and != 1"),
        ({"d": 3, "epsilon": "x"}, "epsilon must be a real number"),
        ({"d": 3, "epsilon": float("nan")}, "epsilon must be finite"),
        ({"d": 3, "form": "bogus"}, "form must be"),
        ({"d": 3, "form": "corrected"}, "pass X"),
    ],
    ids=["d", "eps-1", "eps-str", "eps-nan", "form", "no-X"],
)
def test_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        a24_solution(**kwargs)
