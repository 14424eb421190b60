"""Exact hypercube error by branch-and-bound over sub-cubes (Props. 4.1 and 4.2 beyond enumeration).

A sub-cube fixes some coordinates of x and leaves the other F free. On a sub-cube every
first-layer pre-activation z_k(x) = W1[k] . x + b1[k] ranges over an interval that is known
*exactly*: its centre is b1[k] + sum_{j fixed} W1[k, j] x_j and its radius sum_{j free} |W1[k, j]|
(the extremes are attained at vertices). Deeper layers get intervals by interval arithmetic.
A hidden unit whose interval lies in (-inf, 0] is *off* on the whole sub-cube, one in [0, inf) is
*on*. Then:

* every unit of the last hidden layer off (or with output weight exactly 0): f = 0 exactly on all
  2^F vertices: 2^F mistakes (y f = 0 <= 0) and squared error 2^F (y^2 = 1);
* every unit off or on: the network is *affine* there, f(x) = c + g . x_free. The labels are
  constant on the sub-cube because coordinates 1 and 2 are branched first, y = y0. If the exact
  range [c - ||g||_1, c + ||g||_1] (widened by its rounding bound) excludes 0, all 2^F points
  have the same, certain sign; the squared error is 2^F ((c - y0)^2 + ||g||^2) in closed form
  (E[x_j] = 0, E[x_j x_l] = delta_jl on the cube);
* otherwise the sub-cube is split on its next coordinate.

Branching is breadth-first, one coordinate per level (1 and 2 first, then the others by
decreasing sum_k |W1[k, j]|). When the open sub-cubes would exceed ``max_open`` (or no
coordinate is left) the remaining ones are enumerated exactly by
:class:`sharpness.hypercube.enumeration.CubeEnumerator`, after checking that their points fit in
``max_points``. For the paper's constructions no enumeration is left: Eq. (5) is decided after
the two label coordinates, and Theorem 4.1's memorizing network (w_i = x_i/sqrt(d)) keeps open
only the sub-cubes that contain a training point, n per level, so d = 64 takes well under a
second.

Exactness of each decision: interval endpoints are sums of d + 1 exact terms (x_j = +-1), so
their computed values are within the uniform bound E_k of
:func:`sharpness._rounding.cube_preactivation_bounds` and every interval is widened by it;
interval arithmetic in deeper layers adds Higham's inner-product bound; the affine
coefficients (c, g) carry the bound gamma_K |w_D| |W_{D-1}| ... |W_1| of a product of matrices
evaluated in any association. A sub-cube is only ever resolved on bounds that hold for the exact
real function of the given float weights.

Sim-LN and Sim-BN. Sim-LN's sign is that of its ReLU numerator; its MSE has a closed form only
where f is 0 or where one unit is on with z >= eps on the whole sub-cube (then f = W2[k]);
other sub-cubes are enumerated. Sim-BN is a ReLU network with output weights
c_j = W2_j gamma_j / a_j, which carry their own error bounds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from sharpness._rounding import TINY, cube_preactivation_bounds, gamma, round_up
from sharpness.hypercube.decisions import EnumerationTooLargeError, _SimBNDecider
from sharpness.hypercube.enumeration import CubeEnumerator, EnumerationTally, _family, cube_network
from sharpness.registry import CubeFamily

__all__ = ["PruningOutcome", "branch_and_bound", "coordinate_order"]

#: Default cap on the number of open sub-cubes per level.
DEFAULT_MAX_OPEN = 1 << 14


@dataclass(frozen=True)
class PruningOutcome:
    """What the branch-and-bound resolved without enumerating, and what it enumerated."""

    tally: EnumerationTally
    resolved_points: int
    enumerated_points: int
    nodes: int
    levels: int


def coordinate_order(W1: torch.Tensor) -> list[int]:
    """Coordinates 0 and 1 (the label's) first, then by decreasing sum_k |W1[k, j]| (stable)."""
    d = W1.shape[1]
    infl = W1.abs().sum(dim=0).tolist()
    rest = sorted(range(2, d), key=lambda j: (-infl[j], j))
    return [0, 1] + rest


class _Bounds:
    """Interval bounds of every hidden unit on a batch of sub-cubes (exact semantics, see module)."""

    def __init__(self, net, device):
        arch = net.arch
        self.arch = arch
        p = {k: v.to(device) for k, v in net.param_dict().items()}
        self.p = p
        self.W1 = p["W1"]
        self.b1 = p.get("b1") if arch.bias else None
        self.E1, self.S1 = cube_preactivation_bounds(self.W1, self.b1)
        self.depth = arch.depth
        self.family = _family(net)  # looked up once; the hot loops read it from here
        if self.family is CubeFamily.SIM_BN:
            dec = _SimBNDecider(net)
            self.c = dec.c.to(device)
            self.ec = dec.ec.to(device)
            # Exactly-zero contributions: a neuron dead on the training batch (a_j = 0) or with
            # W2_j gamma_j = 0 contributes exactly 0 at every test point.
            self.irrelevant = ~dec.alive.to(device) | (p["W2"][0] == 0) | (p["gamma"] == 0)
            self.certain = bool(torch.all(dec.certain | ~dec.alive))
        else:
            self.c = p[f"W{arch.depth}"][0]
            self.ec = None
            self.irrelevant = self.c == 0
            self.certain = True
        widths = [self.W1.shape[0]] + [p[f"W{j}"].shape[0] for j in range(2, arch.depth)]
        self.K = net.d + 2 + sum(widths)

    def layers(self, C, rad):
        """Per hidden layer: (lo, hi) enclosures of the exact pre-activation on each sub-cube."""
        E1 = self.E1
        lo, hi = C - rad - E1, C + rad + E1
        out = [(lo, hi)]
        for j in range(2, self.depth):
            W = self.p[f"W{j}"]
            a_lo, a_hi = torch.relu(lo), torch.relu(hi)
            Wp, Wn = torch.clamp(W, min=0), torch.clamp(W, max=0)
            hi = _bound_sum(a_hi, Wp, a_lo, Wn, upper=True)
            lo = _bound_sum(a_lo, Wp, a_hi, Wn, upper=False)
            out.append((lo, hi))
        return out


def _bound_sum(a_pos, Wp, a_neg, Wn, *, upper: bool) -> torch.Tensor:
    """Rigorous bound on the exact P + N, P = a_pos Wp^T >= 0 and N = a_neg Wn^T <= 0 (a >= 0).

    Each part is an inner product of length k computed in some order, so
    |fl(P) - P| <= gamma_k P + (underflow) and likewise for N; the bound below adds a relative
    2 gamma_{k+2} of each part, 4u more for the bound's own few roundings, and k smallest normals
    for underflow. The underflow term is only added where some term has two nonzero factors:
    a part with no such term is exactly 0. This keeps an exactly-zero pre-activation (a unit fed
    only by off units) provably <= 0 instead of "unknown".
    """
    dt = a_pos.dtype
    k = Wp.shape[1]
    u = float(torch.finfo(dt).eps) / 2
    g = 2 * gamma(k + 2, dt) + 4 * u
    tiny = 2 * (k + 2) * TINY[dt]
    P = a_pos @ Wp.T
    N = a_neg @ Wn.T
    anyP = (((a_pos != 0).to(dt) @ (Wp != 0).to(dt).T) > 0).to(dt)
    anyN = (((a_neg != 0).to(dt) @ (Wn != 0).to(dt).T) > 0).to(dt)
    slack = g * (P - N) + tiny * (anyP + anyN)
    return P + N + slack if upper else P + N - slack


def branch_and_bound(
    net,
    *,
    max_points: int,
    max_open: int = DEFAULT_MAX_OPEN,
    enumerator: CubeEnumerator | None = None,
    advance=None,
    device=None,
    backend: str = "auto",
    chunk_size: int = 1 << 18,
) -> PruningOutcome:
    """Exact mistakes and squared-error sum over {-1,1}^d, pruning whole sub-cubes.

    Args:
        net: MLP (ReLU, any depth), 2-MLP-Sim-LN or 2-MLP-Sim-BN; softplus networks have no
            flat regions and are enumerated directly.
        max_points: most points that may be left to enumerate after pruning.
        max_open: most open sub-cubes per level before the rest is enumerated.
        advance: progress callback, called with a number of points.

    Raises:
        EnumerationTooLargeError: if more than ``max_points`` points remain after pruning
            (raised before any of them is evaluated).
    """
    net = cube_network(net)
    arch = net.arch
    d = net.d
    dev = torch.device(device) if device is not None else torch.device("cpu")
    dt = net.dtype
    tally = EnumerationTally()
    family = _family(net)
    prunable = family is not CubeFamily.MLP or arch.activation == "relu"
    bounds = _Bounds(net, dev) if prunable else None
    if bounds is not None and not bounds.certain:
        prunable = False
    order = coordinate_order(net.params["W1"]) if prunable else list(range(d))
    W1 = net.params["W1"].to(dev)
    m1 = W1.shape[0]
    C = torch.zeros(1, m1, dtype=dt, device=dev)
    if arch.bias:
        C = C + net.params["b1"].to(dev)
    assign = torch.zeros(1, 0, dtype=torch.int8)
    # rad_t[k] = sum over the still-free coordinates of |W1[k, j]|; recomputed per level (the
    # sum of the free terms, any order: covered by E_k like the centre).
    absW = W1.abs()
    resolved = 0
    nodes = 1
    t = 0
    while prunable:
        F = d - t
        free = order[t:]
        N = C.shape[0]
        if N == 0:
            break
        rad = absW[:, free].sum(dim=1) if free else torch.zeros(m1, dtype=dt, device=dev)
        keep, n_res = _resolve(net, bounds, C, rad, assign, order, t, tally)
        resolved += n_res
        if advance is not None and n_res:
            advance(n_res)
        C, assign = C[keep], assign[keep.cpu()]
        N = C.shape[0]
        if N == 0 or F == 0 or 2 * N > max_open:
            break
        j = order[t]
        col = W1[:, j]
        C = torch.cat([C + col, C - col])
        ones = torch.ones(N, 1, dtype=torch.int8)
        assign = torch.cat([torch.cat([assign, ones], 1), torch.cat([assign, -ones], 1)])
        nodes += 2 * N
        t += 1
    # Enumerate what is left: N sub-cubes fixing order[:t].
    N = C.shape[0]
    F = d - t
    left = N << F
    if left > max_points:
        raise EnumerationTooLargeError(d, max_points, needed=left)
    enumerated = 0
    if N:
        enum = enumerator or CubeEnumerator(net, device=dev, backend=backend, chunk_size=chunk_size)
        sub = enum.run(order[:t], order[t:], assign, advance)
        tally.add(sub)
        enumerated = sub.points
    return PruningOutcome(tally, resolved, enumerated, nodes, t)


def _resolve(net, bounds, C, rad, assign, order, t, tally) -> tuple[torch.Tensor, int]:
    """Resolve the sub-cubes whose output is exactly 0 or affine with a certain sign.

    Returns the mask of sub-cubes that stay open and the number of points resolved.
    """
    d = net.d
    F = d - t
    size = 1 << F
    layers = bounds.layers(C, rad)
    N = C.shape[0]
    off = [hi <= 0 for lo, hi in layers]
    on = [lo >= 0 for lo, hi in layers]
    last_off = off[-1] | bounds.irrelevant
    # (1) f = 0 exactly: every relevant unit of the last hidden layer is off on the whole
    # sub-cube (its exact pre-activation is <= 0, so its ReLU is exactly 0).
    zero = torch.all(last_off, dim=1)
    fixed = torch.ones(N, dtype=torch.bool, device=C.device)
    for li, (o, a) in enumerate(zip(off, on, strict=True)):
        ok = o | a
        if li == len(off) - 1 and bounds.family is not CubeFamily.SIM_LN:
            # A unit with output weight exactly 0 does not change f (Sim-LN excepted: every
            # active unit enters the norm ||h||).
            ok = ok | bounds.irrelevant
        fixed &= torch.all(ok, dim=1)
    n_zero = int(zero.sum())
    if n_zero:
        tally.mistakes += n_zero * size
        tally.sse_parts.append(float(n_zero) * size)  # (0 - y)^2 = 1 at every point
    resolved = zero.clone()
    if t >= 2:  # labels constant on the sub-cube: y0 = x[0] x[1]
        cand = fixed & ~zero
        if bool(cand.any()):
            idx = torch.nonzero(cand).flatten()
            y0 = (assign[idx.cpu(), 0].to(C.dtype) * assign[idx.cpu(), 1].to(C.dtype)).to(C.device)
            done = _resolve_affine(net, bounds, C[idx], layers, idx, y0, order, t, tally, on, off)
            resolved[idx[done]] = True
    return ~resolved, int(resolved.sum()) * size


def _resolve_affine(net, bounds, C, layers, idx, y0, order, t, tally, on, off) -> torch.Tensor:
    """Affine sub-cubes: decide the sign on all 2^F points at once where it is certain."""
    arch = net.arch
    d = net.d
    F = d - t
    size = 1 << F
    dt = C.dtype
    free = order[t:]
    W1 = bounds.W1
    act = [a[idx] & ~o[idx] for a, o in zip(on, off, strict=True)]  # units on (and not off)
    if bounds.family is CubeFamily.SIM_LN:
        # f = W2 h / max{||h||, eps}: closed form only when exactly one unit is on and its
        # pre-activation is >= eps on the whole sub-cube (then ||h|| = z_k and f = W2[k]).
        a1 = act[0]
        single = a1.sum(dim=1) == 1
        lo1 = layers[0][0][idx]
        k = torch.argmax(a1.to(torch.int8), dim=1)
        big = lo1.gather(1, k[:, None])[:, 0] >= arch.eps
        done = single & big
        wk = bounds.c[k]
        pos, neg = wk > 0, wk < 0
        wrong = done & ~((pos & (y0 > 0)) | (neg & (y0 < 0)))  # w_k = 0: f = 0, a mistake
        tally.mistakes += int(wrong.sum()) * size
        if bool(done.any()):
            tally.sse_parts.append(float(torch.sum((wk[done] - y0[done]) ** 2)) * size)
        return done
    # v: gradient of f with respect to the first-layer pre-activation (constant on the sub-cube).
    c = bounds.c
    relevant = ~bounds.irrelevant
    v = torch.where(act[-1] & relevant, c, torch.zeros_like(c))
    vabs = v.abs()
    for j in range(arch.depth - 1, 1, -1):
        W = bounds.p[f"W{j}"]
        v = (v @ W) * act[j - 2]
        vabs = (vabs @ W.abs()) * act[j - 2]
    g = v @ W1[:, free] if free else torch.zeros(C.shape[0], 0, dtype=dt, device=C.device)
    c0 = torch.sum(v * C, dim=1)
    g1 = g.abs().sum(dim=1)
    # Rounding: gamma_K times the absolute path sum (|v| . S1), plus the sum ||g||_1 itself;
    # Sim-BN's weights c_j carry an error ec_j on top.
    err = gamma(bounds.K, dt) * (vabs @ bounds.S1) + gamma(F + 2, dt) * (c0.abs() + g1)
    if bounds.ec is not None:
        err = err + (act[0].to(dt) * bounds.ec) @ (bounds.S1 + bounds.E1)
    err = round_up(err + 2 * bounds.K * TINY[dt], bounds.K)
    positive = c0 - g1 - err > 0
    negative = c0 + g1 + err < 0
    done = positive | negative
    wrong = (positive & (y0 < 0)) | (negative & (y0 > 0))
    tally.mistakes += int(wrong.sum()) * size
    if bool(done.any()):
        sse = (c0[done] - y0[done]) ** 2 + torch.sum(g[done] ** 2, dim=1)
        tally.sse_parts.append(math.fsum(sse.tolist()) * size)
    return done
