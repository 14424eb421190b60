"""2-MLP-Sim-BN on P_xor: Condition 1, the weights of Lemma A.1, and the near-flattest family
of Lemma A.3 (Theorem 3.2, App. A.1).

**Condition 1 (printed).** There is S subset {-1,1}^{d-2} such that span(S - S) has rank d - 2 and
the training set is {(x, y) : x[3:d] in S, x[1], x[2] in {-1, 1}, y = x[1] x[2]}: all 4|S|
points, every (x[1], x[2]) for every s in S. We read the training set as a *set* (each point once)
and check the rank exactly, with integer Gaussian elimination (:func:`check_condition1`).

**Lemma A.1's weights (printed).** For i, j in {0, 1}:
W'_{1,2i+j+1} = [(-1)^i, (-1)^j, 0, ..., 0], b'_1[2i+j+1] = -1, W'_2[2i+j] = 1/2,
gamma[2i+j+1] = 1, and for k > 4: W'_{1,k} = 0, b'_1[k] = 0, W'_2[k] = 0, gamma[k] = 1.

* Index: W'_2[2i+j] is read as W'_2[2i+j+1] (as for Eq. (5)).
* Sign, deviation (1): with W'_2 = 1/2 on all four neurons f >= 0 everywhere, so the printed
  weights do not interpolate the points with y = -1 (f = +1 there). Neuron (i, j) fires only on
  the quarter of the training set with (x[1], x[2]) = ((-1)^i, (-1)^j), with activation 1, so
  a = 1/2 and phi = 2 there; interpolation needs W'_2[2i+j+1] gamma = (-1)^{i+j} / 2.
  ||gamma . W2||_1 = 2 holds in both forms.
* Unused neurons, deviation (2): W'_{1,k} = 0, b'_1[k] = 0 puts every pre-activation of neuron k
  exactly at 0 with a[k] = 0 (0/0 in the paper's SBN, 0 by our convention) and gamma[k] = 1 != 0:
  an arbitrarily small change switches the neuron on with phi of order 1, so f is not
  differentiable there and Tr(nabla^2 L) is undefined (the kink report says so). Corrected:
  b_1[k] = -1 (strictly dead) and gamma[k] = W_2[k] = 0.

**Near-flattest family (Lemma A.3, "equality approached as ||W_1|| -> infinity with W_2 = gamma").**
Scale s > 0: W_1 rows s [(-1)^i, (-1)^j, 0...], b_1 = -s, gamma = 1/sqrt(2),
W_2[2i+j+1] = (-1)^{i+j}/sqrt(2). Then f is unchanged (phi is scale invariant), gamma . W_2 is
the corrected Lemma A.1 vector, and (closed form, ours, from the formula in :mod:`sharpness.architectures.sim_bn`):

.. math::
    \\mathrm{Tr}(\\nabla^2 L)(s) = 8 + \\frac{2}{s^2} \\sum_{b=3}^{d} \\mathrm{Var}_{s \\in S}(s[b])
      = 8 + \\frac{2}{s^2} \\sum_{b=3}^{d} \\big(1 - \\bar s_b^2\\big),

where \\bar s_b is the mean of coordinate b over S. Each neuron is active on one point per block
with activation s, so the W_1 term of neuron j is (2 c_j^2 / (n a_j^2)) (r(d+1) - r(3 + ||\\bar s||^2))
with c_j^2 = 1/4, a_j^2 = s^2/4, n = 4r. The infimum 8 (:data:`sharpness.architectures.sim_bn.INFIMUM_CONDITION_1`)
is approached, never attained. Concentration ||W_{1,i}[3:d]|| / ||W_{1,i}|| is 0 for every neuron.

**Counterexample to Theorem 3.2 and Lemma A.2 as printed (ours).** For width m >= 6 and any
kappa > 0, add to the family two neurons that fire on one training point x_k = (1, 1, s_k) only,
W_1 = (1, 1, L u), b_1 = -1 - L u.s_k and W_1 = (1, 1, 2L u), b_1 = -1 - 2L u.s_k, with
gamma . W_2 = +delta and -delta. On the training set both have phi = sqrt(n) e_k, so they cancel,
f still interpolates, their W_1-gradients vanish (phi is locally constant), and they add
8 |delta| to the trace. At a cube point x' = (1, 1, s') with u.s' > u.s_k they do not cancel:
f(x') = 1 - delta sqrt(n) L (u.s' - u.s_k), which is <= -1 for L large. So for every kappa there
are interpolators with Tr <= 8 + kappa that misclassify a cube point (whenever S is not all of
{-1,1}^{d-2}) and whose extra neuron has ||W_1[3:d]|| / ||W_1|| -> 1 (always). The paper's proof
of Lemma A.2 normalizes the first layer and passes to an accumulation point, assuming L and the
test error continuous; both jump where a statistic a_j tends to 0, which is what happens here.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from constructions._checks import check_int, check_positive_float
from constructions.architectures import Network, SimBN
from constructions.construction import Construction, Form
from constructions.dataset import Dataset

__all__ = [
    "Concentration",
    "Condition1Report",
    "check_condition1",
    "concentration",
    "condition1_dataset",
    "condition1_from_rest",
    "exact_rank",
    "lemma_a1_solution",
    "near_flattest_sim_bn",
    "near_flattest_trace",
    "theorem_3_2_counterexample",
]

_QUADRANTS = [(0, 0), (0, 1), (1, 0), (1, 1)]  # (i, j) for neuron 2i + j + 1


# --- Condition 1 -----------------------------------------------------------------------------


def exact_rank(rows) -> int:
    """Rank of an integer matrix by fraction-free Gaussian elimination (exact, Python ints).

    Raises:
        ValueError: if an entry is not an integer.
    """
    mat = []
    for row in rows:
        out = []
        for v in row:
            if float(v) != int(v):
                raise ValueError(f"exact_rank needs integer entries, got {v!r}")
            out.append(int(v))
        mat.append(out)
    if not mat:
        return 0
    ncols = len(mat[0])
    rank, col = 0, 0
    while rank < len(mat) and col < ncols:
        pivot = next((i for i in range(rank, len(mat)) if mat[i][col] != 0), None)
        if pivot is None:
            col += 1
            continue
        mat[rank], mat[pivot] = mat[pivot], mat[rank]
        p = mat[rank][col]
        for i in range(rank + 1, len(mat)):
            q = mat[i][col]
            if q:
                mat[i] = [p * a - q * b for a, b in zip(mat[i], mat[rank], strict=True)]
                g = math.gcd(*mat[i])
                if g > 1:
                    mat[i] = [a // g for a in mat[i]]
        rank += 1
        col += 1
    return rank


@dataclass(frozen=True)
class Condition1Report:
    """The outcome of checking Condition 1 exactly.

    Attributes:
        holds: whether the training set satisfies Condition 1.
        rank: rank of span(S - S) (exact), or None when S could not be formed.
        required: d - 2.
        rest: the set S as a sorted tuple of tuples (+-1 ints), or () when not formed.
        failures: what fails, one line each (empty when ``holds``).
    """

    holds: bool
    rank: int | None
    required: int
    rest: tuple[tuple[int, ...], ...]
    failures: tuple[str, ...]

    def summary(self) -> str:
        if self.holds:
            return (
                f"Condition 1 holds: |S| = {len(self.rest)}, n = 4|S| = {4 * len(self.rest)}, "
                f"rank span(S - S) = {self.rank} = d - 2 (exact integer elimination)"
            )
        return (
            "Condition 1 fails: "
            + "; ".join(self.failures[:3])
            + ("; ..." if len(self.failures) > 3 else "")
        )


def check_condition1(X, y) -> Condition1Report:
    """Check Condition 1 exactly on a training set (X, y) and name what fails.

    Checks, in order: X is in {-1,1}^d (exact comparison), y = x[1] x[2] exactly, no point
    repeats, for every s in S = {x[3:d]} all four (x[1], x[2]) occur, and rank span(S - S) = d - 2
    (exact integer elimination over {s - s_0 : s in S}, which spans the same space as S - S).
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if X.ndim != 2 or y.shape != (X.shape[0],):
        raise ValueError(f"need X (n, d) and y (n,), got {X.shape} and {y.shape}")
    n, d = X.shape
    required = d - 2
    failures = []
    if d < 2:
        return Condition1Report(False, None, required, (), (f"d = {d} < 2",))
    off = np.argwhere(np.abs(X) != 1.0)
    if off.size:
        i, j = off[0]
        failures.append(f"point {i}: x[{j + 1}] = {X[i, j]!r} is not in {{-1, 1}}")
    bad = np.flatnonzero(y != X[:, 0] * X[:, 1])
    if bad.size:
        failures.append(f"point {bad[0]}: y = {y[bad[0]]!r} is not x[1] x[2]")
    if failures:
        return Condition1Report(False, None, required, (), tuple(failures))
    Xi = X.astype(np.int64)
    seen: dict[tuple[int, ...], int] = {}
    blocks: dict[tuple[int, ...], set[tuple[int, int]]] = {}
    for i, row in enumerate(Xi):
        key = tuple(int(v) for v in row)
        if key in seen:
            failures.append(f"point {i} repeats point {seen[key]}")
            continue
        seen[key] = i
        blocks.setdefault(key[2:], set()).add((key[0], key[1]))
    for s, got in blocks.items():
        missing = sorted({(1, 1), (1, -1), (-1, 1), (-1, -1)} - got, reverse=True)
        if missing:
            failures.append(
                f"x[3:d] = {list(s)} lacks (x[1], x[2]) in {[list(m) for m in missing]}"
            )
    rest = tuple(sorted(blocks))
    s0 = rest[0]
    diffs = [[a - b for a, b in zip(s, s0, strict=True)] for s in rest[1:]]
    rank = exact_rank(diffs) if required > 0 else 0
    if rank != required:
        failures.append(f"rank of span(S - S) is {rank} < d - 2 = {required} (|S| = {len(rest)})")
    return Condition1Report(not failures, rank, required, rest, tuple(failures))


def condition1_from_rest(S) -> Dataset:
    """The training set of Condition 1 built from S (rows in {-1,1}^{d-2}): all 4|S| points.

    Order: block k holds (1,1), (1,-1), (-1,1), (-1,-1) with x[3:d] = S[k] (as in Lemma A.1's
    proof). Raises ValueError if S has a repeated row or an entry outside {-1, 1}; the rank
    condition is not enforced here (use :func:`check_condition1`).
    """
    S = np.asarray(S, dtype=np.float64)
    if S.ndim != 2 or S.shape[0] < 1:
        raise ValueError(f"S must be a non-empty 2-D array (|S|, d-2), got shape {S.shape}")
    if np.any(np.abs(S) != 1.0):
        i, j = np.argwhere(np.abs(S) != 1.0)[0]
        raise ValueError(f"S[{i}][{j}] = {S[i, j]!r} is not in {{-1, 1}}")
    if len({row.tobytes() for row in S}) != S.shape[0]:
        raise ValueError("S has a repeated row")
    heads = np.array([[1, 1], [1, -1], [-1, 1], [-1, -1]], dtype=np.float64)
    X = np.concatenate([np.concatenate([heads, np.tile(s, (4, 1))], axis=1) for s in S])
    return Dataset(
        X, X[:, 0] * X[:, 1], description=f"Condition 1 set (d={X.shape[1]}, |S|={len(S)})"
    )


def condition1_dataset(
    d: int, size: int | None = None, *, seed: int = 0, symmetric: bool = False
) -> Dataset:
    """A training set satisfying Condition 1, with the rank built in.

    S contains s_0 and the d - 2 points s_0 with one coordinate flipped (s_0 - flip_b(s_0) = +-2 e_b,
    so span(S - S) has rank d - 2), then further distinct random points of {-1,1}^{d-2}, all from
    ``seed``. With ``symmetric=True`` S is closed under negation (S = -S), which makes the training
    set antipodally symmetric (the setting of :func:`sharpness.bounds.no_bias.complete_symmetric_infimum`).

    Args:
        d: input dimension >= 2.
        size: |S| (default: the smallest this construction allows, d - 1 for d >= 3, or its
            symmetric closure); at most 2^(d-2); even when ``symmetric`` (d >= 3).
        seed: seed of s_0 and the extra points.
        symmetric: close S under negation.

    Raises:
        ValueError: for d < 2 or a size that is impossible.
    """
    d = check_int("d", d, minimum=2)
    seed = check_int("seed", seed, minimum=0)
    k = d - 2
    if k == 0:
        if size not in (None, 1):
            raise ValueError(f"size must be 1 for d = 2 (S = {{()}}), got {size!r}")
        return condition1_from_rest(np.zeros((1, 0)))
    rng = np.random.default_rng(seed)
    s0 = 1.0 - 2.0 * rng.integers(0, 2, size=k)
    rows = [s0]
    for b in range(k):
        s = s0.copy()
        s[b] = -s[b]
        rows.append(s)
    chosen = {r.tobytes() for r in rows}
    if symmetric:
        for r in list(rows):
            if (-r).tobytes() not in chosen:
                rows.append(-r)
                chosen.add((-r).tobytes())
    smallest, cap = len(rows), 2**k
    size = smallest if size is None else check_int("size", size, minimum=1)
    if not smallest <= size <= cap or (symmetric and size % 2):
        raise ValueError(
            f"size must be {'an even number ' if symmetric else ''}between {smallest} and "
            f"2^(d-2) = {cap} for d = {d}{' (symmetric)' if symmetric else ''}, got {size}"
        )
    while len(rows) < size:
        s = 1.0 - 2.0 * rng.integers(0, 2, size=k)
        if s.tobytes() in chosen:
            continue
        rows.append(s)
        chosen.add(s.tobytes())
        if symmetric:
            rows.append(-s)
            chosen.add((-s).tobytes())
    ds = condition1_from_rest(np.stack(rows))
    kind = "symmetric " if symmetric else ""
    return Dataset(
        ds.X, ds.y, description=f"Condition 1 {kind}set (d={d}, |S|={len(rows)}, seed={seed})"
    )


# --- Lemma A.1 and Lemma A.3 constructions ---------------------------------------------------


def _quadrant_weights(d: int, width: int, scale: float, out: float, signed: bool, form: str):
    W1 = np.zeros((width, d))
    b1 = np.zeros(width)
    W2 = np.zeros((1, width))
    gamma = np.zeros(width)
    for n_idx, (i, j) in enumerate(_QUADRANTS):
        W1[n_idx, 0] = scale * (-1) ** i
        W1[n_idx, 1] = scale * (-1) ** j
        b1[n_idx] = -scale
        W2[0, n_idx] = out * ((-1) ** (i + j) if signed else 1.0)
    if form == "printed":
        gamma[:] = 1.0  # printed: gamma = 1 on every neuron, W1 = 0, b1 = 0 for k > 4
    else:
        b1[4:] = -1.0  # corrected: strictly dead, gamma = W2 = 0
    return W1, b1, W2, gamma


def lemma_a1_solution(d: int, *, width: int = 4, form: str = "corrected") -> Construction:
    """The minimizer of ||gamma . W2||_1 of Lemma A.1's proof (value 2).

    Args:
        d: input dimension >= 2.
        width: m >= 4.
        form: "printed" (W2 = 1/2 on the four neurons, gamma = 1 everywhere, extra neurons at 0)
            or "corrected" (W2 = (-1)^{i+j}/2, extra neurons strictly dead with gamma = W2 = 0).
    """
    d = check_int("d", d, minimum=2)
    width = check_int("width", width, minimum=4)
    form = Form.parse(form)
    W1, b1, W2, gamma = _quadrant_weights(d, width, 1.0, 0.5, form == "corrected", form)
    if form == "corrected":
        gamma[:4] = 1.0
    net = Network(SimBN(), {"W1": W1, "b1": b1, "gamma": gamma, "W2": W2})
    notes = ("W'_2[2i+j] read as W'_2[2i+j+1]",)
    if form == "corrected":
        notes += (
            "(1) W_2[2i+j+1] = (-1)^{i+j}/2: the printed W_2 = 1/2 gives f = +1 where y = -1",
            "(2) neurons k > 4: b_1[k] = -1 and gamma[k] = 0 (printed b_1 = 0, gamma = 1 sits at "
            "a[k] = 0 with gamma != 0, where f is not differentiable)",
        )
    return Construction(
        "Lemma A.1 minimizer of ||gamma . W2||_1",
        "Lemma A.1 (App. A.1.1)",
        net,
        form,
        {"l1": float(np.sum(np.abs(gamma * W2[0]))), "width": width},
        notes,
    )


def near_flattest_sim_bn(d: int, scale: float, *, width: int = 4) -> Construction:
    """The near-flattest family of Lemma A.3: W2 = gamma (up to sign), first layer scaled by s.

    Tr(nabla^2 L) = :func:`near_flattest_trace` -> 8 as scale -> infinity (Condition-1 data).
    For a Sim-BN network, pass the training inputs as ``Network.replace``-free reference when
    evaluating off the training set: ``Network(net.arch, net.params, reference=X)``.
    """
    d = check_int("d", d, minimum=2)
    scale = check_positive_float("scale", scale)
    width = check_int("width", width, minimum=4)
    W1, b1, W2, gamma = _quadrant_weights(d, width, scale, 1 / math.sqrt(2), True, "corrected")
    gamma[:4] = 1 / math.sqrt(2)
    net = Network(SimBN(), {"W1": W1, "b1": b1, "gamma": gamma, "W2": W2})
    return Construction(
        "near-flattest Sim-BN interpolator",
        "Lemma A.3 (App. A.1.1); Lemma A.1's weights with W2 = gamma",
        net,
        "corrected",
        {"scale": scale, "width": width},
        ("W_2 = gamma (balanced) with the sign of Lemma A.1's corrected weights",),
    )


def near_flattest_trace(X, scale: float) -> float:
    """Closed form 8 + (2/s^2) sum_{b>=3} (1 - mean_S(s_b)^2) of the family's trace (Condition 1).

    Computed from the data alone (S = the distinct x[3:d] of X), not from a network.
    """
    scale = check_positive_float("scale", scale)
    X = np.asarray(X, dtype=np.float64)
    S = np.unique(X[:, 2:], axis=0)
    if S.shape[1] == 0:
        return 8.0
    mean = S.mean(axis=0)
    return 8.0 + 2.0 / scale**2 * float(np.sum(1.0 - mean**2))


@dataclass(frozen=True)
class Concentration:
    """How the first layer concentrates on coordinates 1-2 (Theorem 3.2: ||W1,i[3:d]|| <= eps ||W1,i||).

    Attributes:
        ratios: ||W1,i[3:d]|| / ||W1,i|| per neuron (nan for a zero row).
        weights: |gamma_i W2[i]| per neuron (neurons with weight 0 do not affect f).
        max_used: the largest ratio over neurons with nonzero weight (nan if none).
        weighted: sum_i weights_i ratios_i / sum_i weights_i (nan if all weights are 0).
    """

    ratios: np.ndarray
    weights: np.ndarray
    max_used: float
    weighted: float


def concentration(net) -> Concentration:
    """Per-neuron ||W1,i[3:d]|| / ||W1,i|| and the |gamma . W2| weights of a Sim-BN (or MLP) network."""
    p = net.numpy_params()
    W1 = p["W1"]
    full = np.linalg.norm(W1, axis=1)
    tail = np.linalg.norm(W1[:, 2:], axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratios = np.where(full > 0, tail / np.where(full > 0, full, 1.0), np.nan)
    w = np.abs(p["W2"][0] * p.get("gamma", np.ones_like(p["W2"][0])))
    used = (w > 0) & np.isfinite(ratios)
    max_used = float(np.max(ratios[used])) if np.any(used) else float("nan")
    weighted = (
        float(np.sum(w[used] * ratios[used]) / np.sum(w[used])) if np.any(used) else float("nan")
    )
    ratios.setflags(write=False)
    w.setflags(write=False)
    return Concentration(ratios, w, max_used, weighted)


# --- counterexample to Theorem 3.2 as printed ------------------------------------------------


def _separating_direction(S: np.ndarray) -> tuple[np.ndarray, int, np.ndarray | None]:
    """u, k, s' with s_k the unique maximizer of u.s over S and u.s' > u.s_k (s' None if S is full)."""
    k_dim = S.shape[1]
    present = {tuple(int(v) for v in s) for s in S}
    outside = None
    for bits in itertools.product((1, -1), repeat=k_dim):
        if bits not in present:
            outside = np.array(bits, dtype=np.float64)
            break
    base = outside if outside is not None else S[0]
    scores = S @ base
    k = int(np.argmax(scores))
    tau = 1.0 / (2.0 * max(k_dim, 1))
    u = base + tau * S[k]
    return u, k, outside


def theorem_3_2_counterexample(dataset: Dataset, kappa: float, *, width: int = 6) -> Construction:
    """An interpolating width-m Sim-BN (m >= 6) with Tr(nabla^2 L) <= 8 + kappa that violates
    Theorem 3.2's conclusions (module docstring).

    The trace budget is split: scale s of the four quadrant neurons with
    (2/s^2) sum_b Var <= kappa/2, and delta = kappa/32 for the two cancelling neurons (8 delta =
    kappa/4), so Tr <= 8 + 3 kappa/4 < 8 + kappa strictly. L is
    chosen so that f(x') <= -1 at the cube point x' = (1, 1, s') outside the training set (when
    S is not the whole cube; otherwise only the concentration conclusion is violated).

    Raises:
        ValueError: if the data do not satisfy Condition 1, kappa <= 0 or width < 6.
    """
    kappa = check_positive_float("kappa", kappa)
    width = check_int("width", width, minimum=6)
    rep = check_condition1(dataset.X, dataset.y)
    if not rep.holds:
        raise ValueError(rep.summary())
    d, n = dataset.d, dataset.n
    if d < 3:
        raise ValueError("the counterexample needs d >= 3 (coordinates 3..d to concentrate on)")
    S = np.array(rep.rest, dtype=np.float64)
    var = float(np.sum(1.0 - S.mean(axis=0) ** 2))
    scale = max(1.0, math.sqrt(4.0 * var / kappa)) if var > 0 else 1.0
    delta = kappa / 32.0
    u, k, outside = _separating_direction(S)
    uk = float(u @ S[k])
    others = np.delete(S @ u, k)
    gap_train = uk - float(np.max(others)) if others.size else 1.0
    gap_test = float(u @ outside) - uk if outside is not None else 0.0
    L = 2.0 / gap_train + 1.0
    if gap_test > 0:
        L = max(L, 2.5 / (delta * math.sqrt(n) * gap_test))
    base = near_flattest_sim_bn(d, scale, width=width).network.numpy_params()
    W1, b1, g, W2 = base["W1"], base["b1"], base["gamma"], base["W2"]
    root = math.sqrt(delta)
    for idx, mult, sign in ((4, 1.0, 1.0), (5, 2.0, -1.0)):
        W1[idx] = np.concatenate([[1.0, 1.0], mult * L * u])
        b1[idx] = -1.0 - mult * L * uk
        g[idx] = root
        W2[0, idx] = sign * root
    net = Network(SimBN(), {"W1": W1, "b1": b1, "gamma": g, "W2": W2}, reference=dataset.X)
    test_point = None if outside is None else np.concatenate([[1.0, 1.0], outside])
    return Construction(
        "counterexample to Theorem 3.2 as printed",
        "Theorem 3.2; Lemma A.2 (App. A.1.1)",
        net,
        "corrected",
        {
            "kappa": kappa,
            "scale": scale,
            "delta": delta,
            "L": L,
            "block": k,
            "test_point": None if test_point is None else test_point.tolist(),
            "width": width,
        },
        (
            "neurons 5 and 6 fire only on the training point (1, 1, s_k) and cancel there; they "
            "add 8 delta to the trace and -delta sqrt(n) L (u.s' - u.s_k) to f at the test point",
        ),
    )
