"""Hypothesis strategies that build structure in rather than filter for it.

Every generator returns a set of extreme points by construction:

* random subsets of the hypercube {-1,1}^d (every vertex of a cube is extreme);
* Gaussian points normalized onto a sphere of random radius (points on a sphere are extreme);
* a regular polygon, randomly rotated, embedded in a random 2-plane of R^d and translated
  (Figure 3's picture: data on a circle);
* points on the moment curve t -> (t, t^2, ..., t^d) (vertices of a cyclic polytope);
* points on the paraboloid z -> (z, ||z||^2) (all on a strictly convex surface).

Labels are nonzero by construction: a magnitude in [1/4, 4] times a random sign.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from constructions import Dataset, hypercube_points, random_network

GENERATORS = ("hypercube", "sphere", "polygon", "moment_curve", "paraboloid")


def _points(kind: str, d: int, n: int, rng: np.random.Generator) -> np.ndarray:
    if kind == "hypercube":
        idx = rng.choice(2**d, size=n, replace=False)
        return hypercube_points(idx, d).numpy()
    if kind == "sphere":
        G = rng.normal(size=(n, d))
        return rng.uniform(0.5, 3.0) * G / np.linalg.norm(G, axis=1, keepdims=True)
    if kind == "polygon":
        angles = rng.uniform(0, 2 * np.pi) + 2 * np.pi * np.arange(n) / n
        circle = rng.uniform(0.5, 3.0) * np.stack([np.cos(angles), np.sin(angles)], axis=1)
        Q, _ = np.linalg.qr(rng.normal(size=(d, 2)))
        return circle @ Q.T + rng.normal(size=d)
    if kind == "moment_curve":
        t = np.linspace(-1.2, 1.2, n) + rng.uniform(-0.05, 0.05, size=n) * (2.4 / max(n, 2))
        return np.stack([t**k for k in range(1, d + 1)], axis=1)
    if kind == "paraboloid":
        z = rng.normal(size=(n, d - 1))
        return np.concatenate([z, np.sum(z * z, axis=1, keepdims=True)], axis=1)
    raise ValueError(kind)


@st.composite
def extreme_point_sets(draw, max_n: int = 8, min_d: int = 2, max_d: int = 5, kinds=GENERATORS):
    kind = draw(st.sampled_from(kinds))
    d = draw(st.integers(min_d, max_d))
    cap = 2**d if kind == "hypercube" else max_n
    n = draw(st.integers(1, min(max_n, cap)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return _points(kind, d, n, rng)


@st.composite
def nonzero_labels(draw, n: int):
    mags = draw(st.lists(st.floats(0.25, 4.0), min_size=n, max_size=n))
    signs = draw(st.lists(st.sampled_from([-1.0, 1.0]), min_size=n, max_size=n))
    return np.array(mags) * np.array(signs)


@st.composite
def extreme_point_datasets(draw, **kwargs):
    X = draw(extreme_point_sets(**kwargs))
    y = draw(nonzero_labels(X.shape[0]))
    return Dataset(X, y, description="hypothesis")


depths = st.integers(2, 4)


@st.composite
def random_networks(draw, d: int, activation: str = "relu", bias=None, max_depth: int = 3):
    depth = draw(st.integers(2, max_depth))
    widths = draw(st.lists(st.integers(1, 7), min_size=depth - 1, max_size=depth - 1))
    use_bias = draw(st.booleans()) if bias is None else bias
    seed = draw(st.integers(0, 2**31 - 1))
    return random_network(d, widths, bias=use_bias, activation=activation, seed=seed)


# --- 2-MLP-Sim-LN (Theorem 5.1, Props. 5.1-5.2) -----------------------------------------------

#: eps as a multiple of a point's c = ||x'|| |y|: below, at and above the regime boundaries
#: eps = c (the printed case split) and eps = 2c (the flattest one).
LN_EPS_FACTORS = (0.3, 0.75, 1.0, 1.5, 2.0, 3.0)


@st.composite
def sim_ln_epss(draw, c):
    """eps = factor * c_j for a random point j: lands in every regime of App. A.4.1 by design."""
    c = np.asarray(c)
    j = draw(st.integers(0, c.shape[0] - 1))
    return float(draw(st.sampled_from(LN_EPS_FACTORS)) * c[j])


@st.composite
def sim_ln_networks(draw, d: int, max_width: int = 6):
    """A Gaussian 2-MLP-Sim-LN whose scale is drawn relative to its eps, so that the activation
    norms ||h(x)|| fall below eps (linear regime), above it (normalized) or both."""
    from constructions import Network, SimLN

    width = draw(st.integers(1, max_width))
    eps = draw(st.sampled_from([0.05, 0.5, 2.0]))
    scale = draw(st.sampled_from([0.1, 0.5, 1.0, 4.0])) * eps
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    params = {
        "W1": scale * rng.normal(size=(width, d)) / np.sqrt(d),
        "b1": scale * rng.normal(size=width),
        "W2": rng.normal(size=(1, width)),
    }
    return Network(SimLN(eps), params)


# --- 2-MLP-Sim-BN and Condition 1 (Theorem 3.2) -----------------------------------------------


@st.composite
def sim_bn_networks(draw, d: int, max_width: int = 5):
    """A Gaussian 2-MLP-Sim-BN (with or without b1); biases centred at +-0.5 so that most
    neurons are active on some but not all inputs (the statistics a_j then really couple)."""
    from constructions import Network, SimBN

    width = draw(st.integers(1, max_width))
    bias = draw(st.booleans())
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    params = {"W1": rng.normal(size=(width, d)) / np.sqrt(d)}
    if bias:
        params["b1"] = rng.normal(size=width) * 0.5 + 0.3
    params["gamma"] = rng.normal(size=width)
    params["W2"] = rng.normal(size=(1, width))
    return Network(SimBN(bias=bias), params)


@st.composite
def condition1_rests(draw, k: int, max_extra: int = 4):
    """A set S subset {-1,1}^k with span(S - S) of rank k by construction: s0, its k one-flip
    neighbours, and up to ``max_extra`` further distinct points (as a (|S|, k) array)."""
    if k == 0:
        return np.zeros((1, 0))
    bits = draw(st.lists(st.sampled_from([-1.0, 1.0]), min_size=k, max_size=k))
    s0 = np.array(bits)
    rows = [s0] + [s0 * np.where(np.arange(k) == b, -1.0, 1.0) for b in range(k)]
    seen = {r.tobytes() for r in rows}
    extra = draw(st.lists(st.integers(0, 2**k - 1), max_size=max_extra, unique=True))
    for e in extra:
        r = 1.0 - 2.0 * ((e >> np.arange(k)) & 1)
        if r.tobytes() not in seen:
            rows.append(r)
            seen.add(r.tobytes())
    order = draw(st.permutations(range(len(rows))))
    return np.stack([rows[i] for i in order])
