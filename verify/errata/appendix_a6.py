"""Appendix A.6 (technical lemmas: Rademacher complexity, elementary inequalities), checked as
printed, with plain numpy and exact enumeration written for this module."""

from __future__ import annotations

import itertools
import math

import numpy as np

from verify.errata import ErrataEntry, ErratumClass


def _rademacher_mean_norm(X: np.ndarray) -> float:
    """E_sigma ||sum_i sigma_i x_i||, exactly: the average over all 2^n sign vectors."""
    signs = np.array(list(itertools.product((-1.0, 1.0), repeat=X.shape[0])))
    return float(np.mean(np.linalg.norm(signs @ X, axis=1)))


def lemma_a25_jensen() -> ErrataEntry:
    e1 = np.array([[1.0, 0.0], [1.0, 0.0]])
    lhs, rhs = _rademacher_mean_norm(e1), math.sqrt(float(np.sum(e1**2)))
    rng = np.random.default_rng(0)
    worst = 0.0
    ok = True
    for n in (3, 6, 10):
        X = rng.normal(size=(n, 4))
        a, b = _rademacher_mean_norm(X), math.sqrt(float(np.sum(X**2)))
        ok &= a <= b
        worst = max(worst, a / b)
    return ErrataEntry(
        "Lemma A.25 (proof, last step)",
        "(1/n) E_sigma ||sum_i sigma_i x_i||_2 = (1/n) sqrt(sum_i ||x_i||_2^2)",
        lhs == rhs,
        "(1/n) E ||sum sigma_i x_i|| <= (1/n) sqrt(E ||sum sigma_i x_i||^2) = (1/n) sqrt(sum_i "
        "||x_i||^2) (Jensen; the cross terms vanish); R_S(F) <= C/sqrt(n) survives",
        ok,
        f"Exact over all sign vectors: x_1 = x_2 = e_1 gives E||sigma_1 x_1 + sigma_2 x_2|| = {lhs:g} "
        f"and sqrt(sum ||x_i||^2) = {rhs:.6f} (sqrt 2). Random Gaussian sets in R^4, n = 3, 6, 10: "
        f"the ratio of the two sides is at most {worst:.4f} < 1.",
        kind=ErratumClass.WRONG_AS_PRINTED,
    )


def lemma_a24_index() -> ErrataEntry:
    # n = 2 samples, m = 3 neurons: the bound sum_j c_j S_j <= (sum_j c_j) max_{k in [n]} S_k,
    # with S_k = sum_i sigma_i relu(u_k^T x_i), fails when the weight sits on neuron 3 > n.
    X = np.array([[1.0, 0.0], [0.0, 1.0]])
    U = np.array([[0.0, -1.0], [-1.0, 0.0], [1.0, 0.0]])
    U /= np.linalg.norm(U, axis=1, keepdims=True)
    sigma = np.array([1.0, 1.0])
    S = np.maximum(X @ U.T, 0).T @ sigma  # one sum per neuron
    c = np.array([0.0, 0.0, 1.0])  # |W2,j| ||W1,j||
    lhs = float(c @ S)
    printed = float(c.sum() * S[:2].max())
    fixed = float(c.sum() * S.max())
    return ErrataEntry(
        "Lemma A.24 (proof, the max)",
        "sum_j |W2,j| ||W1,j|| (sum_i sigma_i relu(W1,j^T x_i)) <= sum_j |W2,j| ||W1,j|| max_{k in "
        "[n]} |sum_i sigma_i relu(W1,k^T x_i)|",
        lhs <= printed,
        "max over k in [m] (the neurons, not the n samples); the lemma's 2CB/sqrt(n) survives",
        lhs <= fixed,
        f"n = 2 samples e_1, e_2, m = 3 unit neurons (-e_2, -e_1, e_1), sigma = (1, 1), all weight "
        f"on neuron 3: left side {lhs:g}, printed right side (k in [2]) {printed:g}, corrected (k in "
        f"[3]) {fixed:g}.",
        kind=ErratumClass.WRONG_AS_PRINTED,
    )


def lemmas_a26_a27() -> ErrataEntry:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(2, 100000))
    relu = lambda t: np.maximum(t, 0.0)  # noqa: E731
    a26 = bool(
        np.all(
            np.abs(relu(x) ** 2 - relu(y) ** 2) <= (np.abs(x) + np.abs(y)) * np.abs(x - y) + 1e-12
        )
    )
    a, b, c = rng.normal(size=(3, 100000))
    d = b + c - a
    lhs = (relu(a) + relu(d) - relu(b) - relu(c)) ** 2
    rhs = relu(a) ** 2 + relu(d) ** 2 + relu(b) ** 2 + relu(c) ** 2
    a27 = bool(np.all(lhs <= rhs + 1e-12))
    nonpos = (np.stack([a, b, c, d]) <= 0).sum(axis=0) >= 3
    eq = np.isclose(lhs, rhs, rtol=1e-12, atol=1e-12)
    iff = bool(np.all(eq == nonpos))
    return ErrataEntry(
        "Lemmas A.26 and A.27 (elementary inequalities)",
        "|relu(x)^2 - relu(y)^2| <= (|x| + |y|)|x - y|; a + d = b + c implies |relu(a) + relu(d) - "
        "relu(b) - relu(c)|^2 <= sum of the four relu^2, with equality iff three of the four are <= 0",
        a26 and a27 and iff,
        None,
        None,
        f"100000 Gaussian draws each: Lemma A.26 holds at all ({a26}), Lemma A.27 at all ({a27}), and "
        f"equality (rtol = atol = 1e-12) occurs exactly where three values are <= 0 ({iff}; "
        f"{int(nonpos.sum())} such draws).",
        kind=ErratumClass.HOLDS,
    )


ORDER = 106
ENTRIES = [lemma_a24_index, lemma_a25_jensen, lemmas_a26_a27]
