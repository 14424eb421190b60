"""The second pass over the appendix (issue 12, section 2): each new errata entry's evidence
reproduces, its class and correction are right, and its helpers can fail.

Expected values are computed here by hand, by brute force or Monte Carlo, never by the entry.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from constructions.circle import prop_a2_solution, sample_circle
from verify.errata import (
    ErratumClass,
    appendix_a2,
    appendix_a3_circle,
    appendix_a6,
    entry_functions,
)

WRONG = [
    appendix_a2.lemma_a6_covering,
    appendix_a2.lemma_a8_rademacher,
    appendix_a2.lemma_a10_cauchy_schwarz,
    appendix_a2.theorem_a1_truncation,
    appendix_a3_circle.eq17_half_planes,
    appendix_a3_circle.coupon_collector,
    appendix_a3_circle.triangle_step,
    appendix_a6.lemma_a24_index,
    appendix_a6.lemma_a25_jensen,
]
HOLDS = [appendix_a2.theorem_a1_truncated_loss, appendix_a6.lemmas_a26_a27]


@pytest.mark.parametrize("fn", WRONG, ids=lambda f: f.__name__)
def test_wrong_entries_fail_as_printed_and_are_corrected(fn):
    e = fn()
    assert e.kind is ErratumClass.WRONG_AS_PRINTED
    assert e.holds_as_printed is False and e.corrected_holds is True
    assert e.evidence and e.corrected


@pytest.mark.parametrize("fn", HOLDS, ids=lambda f: f.__name__)
def test_holding_entries(fn):
    e = fn()
    assert e.kind is ErratumClass.HOLDS and e.holds_as_printed is True


def test_new_entries_are_collected_in_paper_order():
    names = [f.__name__ for f in entry_functions()]
    for fn in WRONG + HOLDS:
        assert fn.__name__ in names
    # App. A.2 after Sec. 5, before App. A.3; A.3.3 after A.3; A.6 after A.5
    assert names.index("lemma_a8_rademacher") < names.index("gradient_decomposition")
    assert names.index("prop_a1_directions") < names.index("eq17_half_planes")
    assert names.index("eq17_half_planes") < names.index("lemma_a25_jensen")


# --- Eq. (17): the entry's numpy against constructions.circle's network (two codes) -----------


@pytest.mark.parametrize("form,cap", [("printed", False), ("corrected", True)])
def test_eq17_numpy_matches_the_network(form, cap):
    f, y, active, _ = appendix_a3_circle.eq17_outputs(40, 0, cap=cap)
    net = prop_a2_solution(sample_circle(40, seed=0), form=form).network
    X = torch.tensor(sample_circle(40, seed=0).X)
    np.testing.assert_allclose(net(X).detach().numpy().ravel(), f, rtol=1e-7, atol=1e-9)


def test_eq17_issue_numbers():
    f, y, active, _ = appendix_a3_circle.eq17_outputs(40, 0)
    assert round(float(np.max(np.abs(f - y))), 1) == 19.1
    assert 19 <= active.mean() <= 21  # "about 20 neurons are active per training point"


def test_eq17_caps_one_neuron_each_and_flattest():
    f, y, active, excess = appendix_a3_circle.eq17_outputs(40, 0, cap=True)
    assert np.all(active == 1)
    assert abs(excess) < 1e-9 and np.max(np.abs(f - y)) < 1e-9


# --- coupon collector: exact inclusion-exclusion against brute force and Monte Carlo ----------


@pytest.mark.parametrize("N,n", [(2, 3), (3, 4), (3, 6), (4, 5)])
def test_all_arcs_hit_brute_force(N, n):
    hits = sum(len(set(c)) == N for c in itertools.product(range(N), repeat=n))
    assert appendix_a3_circle._all_arcs_hit(N, n) == pytest.approx(hits / N**n, abs=1e-15)


def test_all_arcs_hit_monte_carlo():
    rng = np.random.default_rng(0)
    N, n = 20, 90
    draws = rng.integers(0, N, size=(4000, n))
    mc = np.mean([len(np.unique(r)) == N for r in draws])
    assert abs(mc - appendix_a3_circle._all_arcs_hit(N, n)) < 0.03


def test_printed_coupon_condition_is_vacuous():
    # N log delta < 0 for every delta < 1: n = 1 passes it, and then an arc is empty (N >= 2)
    for delta in (0.5, 0.1, 0.01):
        assert 63 * math.log(delta) < 1
    assert appendix_a3_circle._all_arcs_hit(63, 1) == 0.0


# --- Lemma A.25: exact sign enumeration against a direct loop ---------------------------------


def test_rademacher_mean_norm_direct():
    X = np.array([[1.0, 2.0], [0.5, -1.0], [3.0, 0.0]])
    direct = np.mean(
        [np.linalg.norm(np.array(s) @ X) for s in itertools.product((-1, 1), repeat=3)]
    )
    assert appendix_a6._rademacher_mean_norm(X) == pytest.approx(direct, rel=1e-15)
    e1 = np.array([[1.0, 0.0], [1.0, 0.0]])
    assert appendix_a6._rademacher_mean_norm(e1) == 1.0  # the issue's 1 vs sqrt 2


def test_jensen_equality_for_orthogonal_points():
    # a check that could pass vacuously: for orthonormal points E||sum sigma x|| = sqrt(n)
    X = np.eye(3)
    assert appendix_a6._rademacher_mean_norm(X) == pytest.approx(math.sqrt(3), rel=1e-15)


# --- Theorem A.1 truncation: the corrected bound is tight enough to fail when weakened --------


def test_truncation_counterexample_by_hand():
    lhs, printed, fixed = appendix_a2._truncation_sides(np.array([0.6]), np.array([-0.6]), 1.0)
    assert lhs[0] == pytest.approx(1.44) and printed[0] == 0.0 and fixed[0] == pytest.approx(2.88)


def test_truncation_constant_matters():
    # with factor 4 but threshold c (not c/2) the bound fails: the c/2 is needed
    f, y, c = np.array([0.6]), np.array([-0.6]), 1.0
    weak = 4 * f**2 * (np.abs(f) >= c) + 4 * y**2 * (np.abs(y) >= c)
    assert ((f - y) ** 2)[0] > weak[0]


# --- Lemma A.10 / A.6: the unsquared step is the one that holds --------------------------------


def test_square_step_by_hand():
    lhs, printed, fixed = appendix_a2._square_step(np.array([1.0]), np.array([0.9]))
    assert lhs == pytest.approx(0.19) and printed == pytest.approx(0.01 * 3.61)
    assert fixed == pytest.approx(0.19)  # a^2 - b^2 = (a - b)(a + b): equality, one point


def test_binomial_cdf_against_math():
    assert appendix_a2._binom_cdf(4, 1) == pytest.approx(5 / 16)
    assert appendix_a2._binom_cdf(4, -1) == 0.0
    assert appendix_a2._binom_cdf(4, 10) == 1.0


def test_lemma_a5_chebyshev_step_by_hand():
    """Independent of the entry's sympy: mpmath at d = 1, the case's first integer n (about 445
    digits, every one exact at 600 digits of working precision)."""
    import mpmath

    from verify.errata.appendix_a2 import lemma_a5_chebyshev

    d = 1
    with mpmath.workdps(600):
        for delta in (mpmath.mpf("0.5"), mpmath.mpf("1e-6")):
            n = mpmath.floor(delta / 2 * mpmath.exp(1024 * d)) + 1
            assert mpmath.log(2 * n / delta) > 1024 * d  # inside the case
            printed_rhs = 2048 * d**2 * mpmath.exp(-1024 * d) * delta
            assert 2048 * d**2 / n > printed_rhs  # the printed step fails
            assert 2048 * d**2 / n <= 4096 * d**2 * mpmath.exp(-1024 * d) / delta  # corrected
        star = 64 * mpmath.sqrt(2) * d * mpmath.exp(-512 * d)
        assert mpmath.almosteq(
            4096 * d**2 * mpmath.exp(-1024 * d) / star, star / 2, rel_eps=mpmath.mpf("1e-500")
        )
    e = lemma_a5_chebyshev()
    assert e.kind is ErratumClass.PROOF_GAP
    assert e.holds_as_printed is False and e.corrected_holds is True
