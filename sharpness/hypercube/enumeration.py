"""Fast exact enumeration of {-1,1}^d (Props. 4.1 and 4.2 at the paper's d = 30).

The zero-one error Pr(y f(x) <= 0) and the MSE E[(f(x) - y)^2] under P_xor (y = x[1] x[2]) are
sums over all 2^d vertices. A naive evaluation multiplies every x by W1: d m operations per point
before the output layer. Here the first-layer pre-activation splits into a part from the *low*
free coordinates and a part from the *high* ones (and, for a sub-cube, a constant from its fixed
coordinates),

.. math::
    z(x) = \\underbrace{W_1[:, \\mathrm{lo}]\\, x_{\\mathrm{lo}}}_{A[\\ell]}
         + \\underbrace{b_1 + W_1[:, \\mathrm{fix}]\\, x_{\\mathrm{fix}} + W_1[:, \\mathrm{hi}]\\, x_{\\mathrm{hi}}}_{B[h]},

so every point is one vector addition A[l] + B[h] of two table rows: 2^{|lo|} + 2^{|hi|} rows
are built once, and a block of points costs one add, one ReLU and one multiply-accumulate per
neuron. For 2-layer ReLU outputs (2-MLP-Bias/No-Bias, Sim-BN) that inner loop is a compiled C
kernel (:mod:`sharpness.hypercube.kernels.cube_relu2`: register-blocked, AVX-512 where the CPU
has it, one OpenMP parallel region per call over the rows, two vector operations per neuron and
point through max(a + b, 0) = max(a, -b) + b; the high part is itself split into two tables, so
no table exceeds 2^11 rows). Without a C compiler, and for Sim-LN, the loop runs as a fused torch
kernel (``torch.compile`` for large enumerations, else plain torch); deeper or softplus networks
run the remaining layers as matrix products.

Exactness (every decision is explained where it is made, in :func:`_tally_block`):

1. *Uniform rounding bound.* At a vertex every product W1[k, j] x_j is exact, so fl(z_k) is a
   sum of d + 1 exact terms in *some* order, and Higham's bound for summation in any order gives
   one error bound E_k per neuron for every point at once
   (:func:`sharpness._rounding.cube_preactivation_bounds`); likewise the output has one bound
   E_f for the whole cube (:func:`~sharpness._rounding.relu2_output_bound`,
   :func:`~sharpness._rounding.mlp_cube_output_bound`; for the C kernel's max-form evaluation
   :func:`~sharpness.hypercube.kernels.cube_relu2.max_form_output_bound`). These hold for any
   evaluation order, so they cover vectorized reductions, fused multiply-adds, register blocks
   and threads.
2. |fl(f)| > E_f: the float sign is the true sign. This is the only decision made in float.
3. |fl(f)| <= E_f ("flagged"): never decided from the float value. If every neuron satisfies
   fl(z_k) + E_k <= 0 the output is *exactly* 0 (every ReLU outputs an exact 0, and a sum of
   zeros is 0), a mistake since y f = 0. Otherwise the point goes to the per-point deciders of
   :mod:`sharpness.hypercube.error` (a tighter per-point bound, then exact rational arithmetic;
   for Sim-BN, exact rationals with high-precision square roots).

The MSE is a float64 sum of the computed outputs (math.fsum over block sums; the C kernel sums
each row in a fixed order, so its MSE does not depend on the thread count). The counts are
integers, the same for every path, order and thread count.

Cost. A point costs one operation pair per neuron, so the work is points x width neuron
evaluations (:func:`neuron_evaluations`), which is what a size cap should count.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from constructions.hypercube import hypercube_points
from sharpness._ckernel import KernelUnavailableError
from sharpness._rounding import (
    cube_preactivation_bounds,
    mlp_cube_output_bound,
    relu2_output_bound,
)
from sharpness.hypercube.decisions import HypercubeError, decider
from sharpness.hypercube.kernels import cube_relu2
from sharpness.registry import CubeFamily, UnsupportedOperationError, ops_for

__all__ = [
    "CubeEnumerator",
    "EnumerationTally",
    "cube_network",
    "fast_hypercube_error",
    "neuron_evaluations",
]

#: Number of free coordinates in the low table A (2^10 = 1024 rows: one kernel block's width).
LOW_BITS = 10
#: Rows of B per compiled-kernel call (one call evaluates ROWS x 2^LOW_BITS points).
KERNEL_ROWS = 256
#: Enumerations at least this large use the compiled kernel on the CPU (compilation takes
#: seconds the first time; below this size plain torch is as fast overall).
COMPILE_MIN_POINTS = 1 << 24
#: Neuron evaluations (points x width) per C-kernel call: one parallel region each, long enough
#: (tens of ms and up) that the region's start and barrier cost nothing, short enough for progress.
C_CALL_EVALUATIONS = 1 << 32
#: Flagged points (|f| <= E_f, not exactly zero) the C kernel records per call before a rerun.
C_FLAG_CAPACITY = 1 << 16
#: Backends of :class:`CubeEnumerator`.
BACKENDS = ("auto", "c", "compiled", "eager")


def neuron_evaluations(net, points: int) -> int:
    """The enumeration's cost: points x the network's hidden widths summed (the first layer's
    for 2-layer networks). This, not the number of points, is what an enumeration cap should
    count: 2^30 points cost 10x more at width 1000 than at width 100."""
    arch = net.arch
    widths = [net.params["W1"].shape[0]]
    widths += [net.params[f"W{j}"].shape[0] for j in range(2, getattr(arch, "depth", 2))]
    return int(points) * sum(widths)


@dataclass
class EnumerationTally:
    """Running totals of an exact enumeration (mutable while it runs)."""

    points: int = 0
    mistakes: int = 0
    rechecks: int = 0
    undecided: int = 0
    sse_parts: list = field(default_factory=list)

    def add(self, other: EnumerationTally) -> None:
        self.points += other.points
        self.mistakes += other.mistakes
        self.rechecks += other.rechecks
        self.undecided += other.undecided
        self.sse_parts.extend(other.sse_parts)

    @property
    def sse(self) -> float:
        return math.fsum(self.sse_parts)


# --- kernels -----------------------------------------------------------------------------------
# AT: (m, L) low table transposed; B: (H, m) rows of the high table (constant parts included);
# w: (m,) output weights. Result (H, L): f for every pair (row h, low index l).


def _relu2_kernel(AT, B, w):
    z = AT[None, :, :] + B[:, :, None]
    return (torch.relu(z) * w[None, :, None]).sum(1)


def _simln_kernel(AT, B, w, eps):
    z = AT[None, :, :] + B[:, :, None]
    h = torch.relu(z)
    num = (h * w[None, :, None]).sum(1)
    norm = torch.sqrt((h * h).sum(1))
    return num, num / torch.clamp(norm, min=eps)


def _reduce_kernel(s, f, yA, yB, valid, E):
    """s: the sign-carrying value (f, or Sim-LN's numerator); f: the output (for the MSE)."""
    y = yB[:, None] * yA[None, :]
    ys = s * y
    v = valid[:, None]
    sse = (((f - y) ** 2) * v).sum()
    wrong = ((ys < -E) & v).sum()
    flagged = ((ys.abs() <= E) & v).sum()
    return sse, wrong, flagged


_COMPILED: dict[str, Callable] = {}
_COMPILE_FAILED: list[str] = []


def _kernel(name: str, fn: Callable, compiled: bool) -> Callable:
    if not compiled or _COMPILE_FAILED:
        return fn
    if name not in _COMPILED:
        _COMPILED[name] = torch.compile(fn, dynamic=False)
    return _COMPILED[name]


def _call(name: str, fn: Callable, compiled: bool, *args):
    """Run the compiled kernel; if compilation is impossible here, warn once and use plain torch."""
    try:
        return _kernel(name, fn, compiled)(*args)
    except Exception as exc:  # no C++ compiler, unsupported platform, ...
        if not compiled or _COMPILE_FAILED:
            raise
        _COMPILE_FAILED.append(f"{type(exc).__name__}: {exc}")
        warnings.warn(
            f"torch.compile is unavailable here ({type(exc).__name__}); the hypercube "
            "enumeration falls back to plain torch (about the naive forward's speed)",
            RuntimeWarning,
            stacklevel=3,
        )
        return fn(*args)


_WARNED: list[str] = []


def _warn_once(message: str) -> None:
    if message not in _WARNED:
        _WARNED.append(message)
        warnings.warn(message, RuntimeWarning, stacklevel=4)


def compiled_kernels_available() -> bool:
    """False once a compilation has failed in this process."""
    return not _COMPILE_FAILED


# --- the enumerator ----------------------------------------------------------------------------


def _signs(bits: int, dtype, device) -> torch.Tensor:
    """All of {-1,1}^bits, row k having coordinate j = 1 - 2 ((k >> j) & 1), shape (2^bits, bits)."""
    return hypercube_points(torch.arange(1 << bits, device=device), bits, dtype, device)


_TABLES: dict = {}


def _sign_table(bits: int, dtype) -> torch.Tensor:
    """_signs(bits) on the CPU, cached (bits <= 32 here: at most 2^11 rows in practice)."""
    key = ("signs", bits, dtype)
    if key not in _TABLES:
        _TABLES[key] = _signs(bits, dtype, "cpu")
    return _TABLES[key]


def _label_table(coords: list[int], dtype) -> torch.Tensor:
    """The factor of y = x[0] x[1] carried by the table over ``coords``: the product of the
    columns of the label coordinates among them (ones where there are none)."""
    cols = tuple(coords.index(c) for c in (0, 1) if c in coords)
    key = ("labels", len(coords), cols, dtype)
    if key not in _TABLES:
        y = torch.ones(1 << len(coords), dtype=dtype)
        S = _sign_table(len(coords), dtype)
        for j in cols:
            y = y * S[:, j]
        _TABLES[key] = y.contiguous()
    return _TABLES[key]


def cube_network(net):
    """The network itself, or the registry's ``cube_twin`` of it: a network of a family the
    enumeration knows that computes the same function on {-1,1}^d (an output bias, say)."""
    ops = ops_for(net)
    return ops.cube_twin(net) if ops.cube_twin is not None else net


def _family(net) -> CubeFamily:
    ops = ops_for(net)
    if ops.cube_family is None:
        raise UnsupportedOperationError(f"no hypercube enumeration for {net.arch.name}")
    return ops.cube_family(net.arch)


class CubeEnumerator:
    """Exact zero-one count and squared-error sum of one network over batches of sub-cubes.

    Args:
        net: a :class:`~constructions.Network` (MLP of any depth with ReLU or softplus,
            2-MLP-Sim-LN, 2-MLP-Sim-BN with its ``reference``).
        device: where the tables and kernels live ("cpu" or "cuda"); exact rechecks run on the CPU.
        backend: "auto" (the C kernel where it applies and builds; else torch.compile for large
            CPU enumerations, else plain torch), "c" (the C kernel, or
            :class:`~sharpness._ckernel.KernelUnavailableError`), "compiled" or "eager".
        chunk_size: target number of points per eager block.
        threads: threads of the C kernel (default: torch's current intra-op thread count,
            which the thread policy of :mod:`sharpness._threads` sets).
    """

    def __init__(
        self,
        net,
        *,
        device=None,
        backend: str = "auto",
        chunk_size: int = 1 << 18,
        threads: int | None = None,
    ):
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        if threads is not None and (
            isinstance(threads, bool) or not isinstance(threads, int) or threads < 1
        ):
            raise ValueError(f"threads must be an integer >= 1, got {threads!r}")
        self.threads = threads
        net = cube_network(net)
        self.net = net
        self.device = torch.device(device) if device is not None else torch.device("cpu")
        self.backend = backend
        self.chunk_size = max(1, int(chunk_size))
        self.decider = decider(net)
        self.dtype = net.dtype
        arch = net.arch
        p = {k: v.to(self.device) for k, v in net.param_dict().items()}
        self.W1 = p["W1"]
        self.b1 = p.get("b1") if arch.bias else None
        self.E1, self.S1 = cube_preactivation_bounds(self.W1, self.b1)
        self.eps = None
        family = _family(net)
        if family is CubeFamily.RELU_TWO_LAYER:
            self.family = "relu2"
            self.w = p["W2"][0]
            self.Ef = relu2_output_bound(self.E1, self.S1, self.w)
        elif family is CubeFamily.SIM_LN:
            # Sign of f = sign of W2 relu(W1 x + b1) (the denominator max{||h||, eps} is > 0).
            self.family = "simln"
            self.w = p["W2"][0]
            self.eps = float(arch.eps)
            self.Ef = relu2_output_bound(self.E1, self.S1, self.w)
        elif family is CubeFamily.SIM_BN:
            dec = self.decider
            self.family = "simbn"
            self.w = dec.c.to(self.device)
            # A neuron whose statistic a_j is itself uncertain (q_j within its error of 0) has an
            # unbounded weight error: such networks use the per-point decider everywhere.
            if not bool(torch.all(dec.certain | ~dec.alive)):
                self.family = "pointwise"
            self.Ef = relu2_output_bound(self.E1, self.S1, self.w, dec.ec.to(self.device))
        elif family is CubeFamily.MLP:
            self.family = "mlp"
            self.params = p
            self.Ef = mlp_cube_output_bound(arch, p)
        else:
            raise ValueError(f"no hypercube enumeration for {arch!r}")
        self.ckernel = self._load_ckernel()

    def _load_ckernel(self):
        """The C kernel for this network, or None where the torch path is used."""
        if self.backend in ("compiled", "eager"):
            return None
        why = None
        if self.family not in ("relu2", "simbn"):
            why = f"the C kernel covers 2-layer ReLU outputs, not {self.net.arch.name}"
        elif self.device.type != "cpu":
            why = f"the C kernel runs on the CPU, not {self.device}"
        elif self.W1.shape[0] > cube_relu2.MAX_WIDTH:
            why = f"width {self.W1.shape[0]} is above the C kernel's {cube_relu2.MAX_WIDTH}"
        if why is None:
            try:
                kernel = cube_relu2.load_cube_kernel(self.dtype)
            except KernelUnavailableError as exc:
                if self.backend == "c":
                    raise
                _warn_once(f"the C cube kernel is unavailable ({exc}); using the torch path")
                return None
            ec = self.decider.ec.to(self.W1) if self.family == "simbn" else None
            self.Ef_c = cube_relu2.max_form_output_bound(self.E1, self.S1, self.w, ec)
            self.w_c, self.E1_c = self.w.contiguous(), self.E1.contiguous()
            return kernel
        if self.backend == "c":
            raise KernelUnavailableError(why)
        return None

    # -- public -------------------------------------------------------------------------------
    def run(
        self,
        fixed: list[int],
        free: list[int],
        assign: torch.Tensor | None = None,
        advance: Callable[[int], None] | None = None,
    ) -> EnumerationTally:
        """Enumerate every vertex of N sub-cubes that fix coordinates ``fixed`` to the rows of
        ``assign`` (int8, values +-1, shape (N, len(fixed))) and leave ``free`` free.

        With no fixed coordinates, ``assign`` may be None (one sub-cube: the whole cube).
        """
        d = self.net.d
        if sorted(list(fixed) + list(free)) != list(range(d)):
            raise ValueError("fixed and free must partition the coordinates 0..d-1")
        if assign is None:
            assign = torch.zeros(1, 0, dtype=torch.int8)
        if assign.ndim != 2 or assign.shape[1] != len(fixed):
            raise ValueError(f"assign must have shape (N, {len(fixed)}), got {tuple(assign.shape)}")
        tally = EnumerationTally()
        if assign.shape[0] == 0:
            return tally
        if self.family == "pointwise":
            return self._run_pointwise(fixed, free, assign, advance)
        if self.ckernel is not None:
            return self._run_c(list(fixed), list(free), assign, advance, tally)
        return self._run_tables(list(fixed), list(free), assign, advance, tally)

    # -- the C kernel -------------------------------------------------------------------------
    def _run_c(self, fixed, free, assign, advance, tally) -> EnumerationTally:
        """Tables A (low, <= 2^LOW_BITS rows), T1 and T2 (the rest split in two halves) and the
        sub-cubes' constants C0; the kernel sums z = A[l] + ((C0 + T1) + T2), any order being
        covered by the bounds (module docstring)."""
        dt = self.dtype
        W1 = self.W1
        m = W1.shape[0]
        F = len(free)
        f_lo = min(F, LOW_BITS)
        lo, rest = free[:f_lo], free[f_lo:]
        mid, hi = rest[: len(rest) // 2], rest[len(rest) // 2 :]
        # AT: the low table transposed (m, L), as the kernel reads it; T1, T2: (rows, m)
        AT = W1[:, lo] @ _sign_table(len(lo), dt).T
        T1, T2 = (
            _sign_table(len(c), dt) @ W1[:, c].T if c else torch.zeros(1, m, dtype=dt)
            for c in (mid, hi)
        )
        N = assign.shape[0]
        xs = assign.to(dt)
        if fixed:
            C0 = xs @ W1[:, fixed].T
            if self.b1 is not None:
                C0 = C0 + self.b1
        else:
            C0 = (self.b1 if self.b1 is not None else torch.zeros(m, dtype=dt)).expand(N, m)
        yN = torch.ones(N, dtype=dt)
        for c in (0, 1):
            if c in fixed:
                yN = yN * xs[:, fixed.index(c)]
        L, M1, M2 = AT.shape[1], T1.shape[0], T2.shape[0]
        rows = N * M1 * M2
        step = max(1, C_CALL_EVALUATIONS // (L * m))
        threads = self.threads or torch.get_num_threads()
        args = dict(
            AT=AT.contiguous(), C0=C0.contiguous(), T1=T1.contiguous(), T2=T2.contiguous(),
            w=self.w_c, E1=self.E1_c, yA=_label_table(lo, dt), yN=yN.contiguous(),
            y1=_label_table(mid, dt), y2=_label_table(hi, dt),
            E=self.Ef_c, capacity=C_FLAG_CAPACITY, threads=threads,
        )  # fmt: skip
        for r0 in range(0, rows, step):
            r1 = min(rows, r0 + step)
            sse, wrong, dead, flagged = self.ckernel.run(row0=r0, row1=r1, **args)
            tally.points += (r1 - r0) * L
            tally.mistakes += wrong + dead
            tally.sse_parts.append(math.fsum(sse.tolist()))
            if flagged.size:
                self._recheck_c(flagged, L, M1, M2, fixed, lo, mid, hi, assign, tally)
            if advance is not None:
                advance((r1 - r0) * L)
        return tally

    def _recheck_c(self, flagged, L, M1, M2, fixed, lo, mid, hi, assign, tally):
        """Decide the kernel's flagged points (|s| <= E_f, not exactly zero) exactly."""
        idx = torch.as_tensor(flagged)
        r, ll = idx // L, idx % L
        node, rem = r // (M1 * M2), r % (M1 * M2)
        X = torch.empty(idx.numel(), self.net.d, dtype=self.net.dtype)
        if fixed:
            X[:, fixed] = assign[node].to(X.dtype)
        for coords, k in ((lo, ll), (mid, rem // M2), (hi, rem % M2)):
            if coords:
                X[:, coords] = hypercube_points(k, len(coords), X.dtype)
        mistakes, rechecks, undecided = self.decider.mistakes(X, X[:, 0] * X[:, 1])
        tally.mistakes += mistakes
        tally.rechecks += rechecks
        tally.undecided += undecided

    # -- table enumeration --------------------------------------------------------------------
    def _run_tables(self, fixed, free, assign, advance, tally) -> EnumerationTally:
        dev, dt = self.device, self.dtype
        F = len(free)
        f_lo = min(F, LOW_BITS)
        lo, hi = free[:f_lo], free[f_lo:]
        f_hi = len(hi)
        N = assign.shape[0]
        total = N << F
        W1 = self.W1
        A = _signs(f_lo, dt, dev) @ W1[:, lo].T  # (L, m)
        Bh = _signs(f_hi, dt, dev) @ W1[:, hi].T  # (2^f_hi, m)
        xs = assign.to(dev, dt)
        C0 = xs @ W1[:, fixed].T if fixed else torch.zeros(N, W1.shape[0], dtype=dt, device=dev)
        if self.b1 is not None:
            C0 = C0 + self.b1
        # Labels y = x[0] x[1] = yA[l] * yB[row]: each factor from wherever the coordinate lives.
        yA = torch.ones(1 << f_lo, dtype=dt, device=dev)
        yBh = torch.ones(1 << f_hi, dtype=dt, device=dev)
        yN = torch.ones(N, dtype=dt, device=dev)
        sA, sB = _signs(f_lo, dt, dev), _signs(f_hi, dt, dev)
        for c in (0, 1):
            if c in lo:
                yA = yA * sA[:, lo.index(c)]
            elif c in hi:
                yBh = yBh * sB[:, hi.index(c)]
            else:
                yN = yN * xs[:, fixed.index(c)]
        L = 1 << f_lo
        compiled = self.family in ("relu2", "simln", "simbn") and (
            self.backend == "compiled"
            or (
                self.backend == "auto"
                and dev.type == "cpu"
                and total >= COMPILE_MIN_POINTS
                and f_lo == LOW_BITS
            )
        )
        m = W1.shape[0]
        if compiled:
            H = KERNEL_ROWS
        else:
            budget = self.chunk_size if dev.type == "cpu" else max(self.chunk_size, 1 << 22)
            H = max(1, budget // (L * max(1, m // 16)))
        rows = N << f_hi
        AT = A.T.contiguous()
        E = torch.tensor(self.Ef, dtype=dt, device=dev)
        for r0 in range(0, rows, H):
            r1 = min(rows, r0 + H)
            ridx = torch.arange(r0, r1, device=dev)
            node, h = ridx >> f_hi, ridx & ((1 << f_hi) - 1)
            B = C0[node] + Bh[h]
            yB = yN[node] * yBh[h]
            valid = torch.ones(r1 - r0, dtype=torch.bool, device=dev)
            if compiled and r1 - r0 < H:  # fixed shapes for the compiled kernel: pad, mask out
                pad = H - (r1 - r0)
                B = torch.cat([B, torch.zeros(pad, m, dtype=dt, device=dev)])
                yB = torch.cat([yB, torch.ones(pad, dtype=dt, device=dev)])
                valid = torch.cat([valid, torch.zeros(pad, dtype=torch.bool, device=dev)])
            block = self._tally_block(A, AT, B, yA, yB, valid, E, compiled)
            sse, wrong, flagged, s_val = block
            tally.points += (r1 - r0) * L
            tally.mistakes += wrong
            tally.sse_parts.append(sse)
            if flagged:
                self._recheck(s_val, A, B, yA, yB, valid, E, fixed, lo, hi, assign, node, h, tally)
            if advance is not None:
                advance((r1 - r0) * L)
        return tally

    def _tally_block(self, A, AT, B, yA, yB, valid, E, compiled):
        """(sse, sure mistakes, number flagged, sign-carrying values) of one block of points.

        Decision rule (module docstring, items 2-3): a point counts as a mistake here only when
        y * s < -E_f, i.e. its computed sign-carrying value s (f, or Sim-LN's numerator) is
        farther from 0 than the uniform rounding bound and has the wrong sign; |s| <= E_f is
        flagged and decided later, exactly, by :meth:`_recheck`, never from its float value.
        """
        fam = self.family
        if fam == "mlp":
            f = self._mlp_forward(A, B)
            s = f
        elif fam == "simln":
            s, f = _call("simln", _simln_kernel, compiled, AT, B, self.w, self.eps)
        else:
            s = f = _call("relu2", _relu2_kernel, compiled, AT, B, self.w)
        sse, wrong, flagged = _call("reduce", _reduce_kernel, compiled, s, f, yA, yB, valid, E)
        return float(sse), int(wrong), int(flagged), s

    def _mlp_forward(self, A, B):
        """Deep or softplus MLP on a block: first layer from the tables, then matrix products."""
        arch, p = self.net.arch, self.params
        H, L, m = B.shape[0], A.shape[0], A.shape[1]
        a = arch.sigma((A[None, :, :] + B[:, None, :]).reshape(H * L, m))
        for j in range(2, arch.depth + 1):
            z = a @ p[f"W{j}"].T
            a = arch.sigma(z) if j < arch.depth else z
        return a[:, 0].reshape(H, L)

    def _recheck(self, s, A, B, yA, yB, valid, E, fixed, lo, hi, assign, node, h, tally):
        """Decide every flagged point exactly (module docstring, item 3)."""
        y = yB[:, None] * yA[None, :]
        flagged = ((s * y).abs() <= E) & valid[:, None]
        rr, ll = torch.nonzero(flagged, as_tuple=True)
        if self.family != "mlp":
            # Exactly zero: every neuron certainly inactive (fl(z_k) + E_k <= 0 means z_k <= 0,
            # relu gives an exact 0 and f = 0 exactly (Sim-LN: 0 / eps; Sim-BN: a sum of zeros).
            z = A[ll] + B[rr]
            dead = torch.all(z + self.E1 <= 0, dim=1)
            tally.mistakes += int(dead.sum())
            rr, ll = rr[~dead], ll[~dead]
        if rr.numel() == 0:
            return
        d = self.net.d
        X = torch.empty(rr.numel(), d, dtype=self.net.dtype)
        rr_c, ll_c = rr.cpu(), ll.cpu()
        if fixed:
            X[:, fixed] = assign[node.cpu()[rr_c]].to(X.dtype)
        if lo:
            X[:, lo] = hypercube_points(ll_c, len(lo), X.dtype)
        if hi:
            X[:, hi] = hypercube_points(h.cpu()[rr_c], len(hi), X.dtype)
        yy = X[:, 0] * X[:, 1]
        mistakes, rechecks, undecided = self.decider.mistakes(X, yy)
        tally.mistakes += mistakes
        tally.rechecks += rechecks
        tally.undecided += undecided

    # -- fallback: per-point decisions (Sim-BN with an uncertain batch statistic) -------------
    def _run_pointwise(self, fixed, free, assign, advance) -> EnumerationTally:
        tally = EnumerationTally()
        d = self.net.d
        F = len(free)
        step = max(1, self.chunk_size)
        for i in range(assign.shape[0]):
            for s in range(0, 1 << F, step):
                e = min(1 << F, s + step)
                X = torch.empty(e - s, d, dtype=self.net.dtype)
                X[:, free] = hypercube_points(torch.arange(s, e), F, X.dtype)
                if fixed:
                    X[:, fixed] = assign[i].to(X.dtype)
                y = X[:, 0] * X[:, 1]
                m, r, u = self.decider.mistakes(X, y)
                tally.mistakes += m
                tally.rechecks += r
                tally.undecided += u
                tally.sse_parts.append(float(torch.sum((self.net(X) - y) ** 2)))
                tally.points += e - s
                if advance is not None:
                    advance(e - s)
        return tally


def fast_hypercube_error(
    net,
    *,
    device=None,
    backend: str = "auto",
    chunk_size: int = 1 << 18,
    progress: bool = True,
    threads: int | None = None,
):
    """Exact zero-one error and MSE over all of {-1,1}^d by table enumeration, no pruning.

    This is the general path for arbitrary weights; :func:`sharpness.hypercube_error` adds
    sub-cube pruning in front of it. Returns a :class:`~sharpness.HypercubeError`.
    """
    from tqdm.auto import tqdm

    d = net.d
    if d < 2:
        raise ValueError(f"P_xor needs d >= 2, got d={d}")
    if d > 62:
        raise ValueError(f"cannot enumerate {{-1,1}}^{d} point by point; use hypercube_error")
    enum = CubeEnumerator(
        net, device=device, backend=backend, chunk_size=chunk_size, threads=threads
    )
    bar = tqdm(
        total=1 << d,
        desc=f"hypercube 2^{d}",
        unit="pt",
        unit_scale=True,
        disable=not progress,
        delay=1.0,
        leave=False,
    )
    try:
        tally = enum.run([], list(range(d)), None, bar.update)
    finally:
        bar.close()
    return HypercubeError(
        d,
        1 << d,
        tally.mistakes,
        tally.sse / (1 << d),
        tally.rechecks,
        tally.undecided,
        method="enumeration",
        evaluated=tally.points,
    )
