"""Load and call ``cube_relu2.c``: the 2-layer ReLU inner loop of the exact enumeration.

The kernel evaluates f(x) = sum_k w_k relu(z_k(x)) at every point (row r, low index l) of the
low/high tables of :mod:`sharpness.hypercube.enumeration` as

.. math::  \\hat s = \\mathrm{fl}\\Big(c(r) + \\sum_k w_k \\max(\\hat a_k(l), -\\hat b_k(r))\\Big),
           \\qquad c(r) = \\sum_k w_k \\hat b_k(r),

using max(a + b, 0) = max(a, -b) + b, exact in real arithmetic: two vector operations per neuron
and point (a max and a fused multiply-add) instead of three (add, max, multiply-add).

Rounding bound (:func:`max_form_output_bound`). â_k and b̂_k are computed partial sums of the
d + 1 exact terms +-W1[k, j], b1[k], so their *real* sum is a summation tree of those terms and
|â_k + b̂_k - z_k| <= E_k (Higham, any order; E_k from
:func:`sharpness._rounding.cube_preactivation_bounds`), and |â_k|, |b̂_k| <= S_k + E_k. In real
arithmetic w_k max(â_k, -b̂_k) + w_k b̂_k = w_k relu(â_k + b̂_k), so ŝ is an inner product of 2m
terms computed in some order (FMA included):

.. math::  |\\hat s - f| \\le \\sum_k |w_k| E_k
           + \\gamma_{2m+1} \\sum_k |w_k| \\, 2 (S_k + E_k) \\;[+ \\sum_k ec_k (S_k + E_k)],

the last term for weights known only to within ec_k (Sim-BN's c_k). The bound holds for every
point and every order, so it covers the kernel's blocking, vector lanes and threads alike. It is
about twice :func:`sharpness._rounding.relu2_output_bound`'s (the two terms per neuron can
cancel); points with |ŝ| <= E_f are flagged and decided exactly by the caller.

Build: :func:`sharpness._ckernel.load_library` (private cache, hash-verified load, compiler
timeout, OpenMP when the compiler has it), once per precision. Without a compiler
:func:`load_cube_kernel` raises :class:`~sharpness._ckernel.KernelUnavailableError` and the
enumeration keeps its torch path.
"""

from __future__ import annotations

import ctypes
import threading
from dataclasses import dataclass
from importlib import resources

import numpy as np
import torch

from sharpness._ckernel import KernelUnavailableError, load_library
from sharpness._rounding import TINY, gamma, round_up

__all__ = ["CubeKernel", "KernelUnavailableError", "load_cube_kernel", "max_form_output_bound"]

SOURCE = "cube_relu2.c"
#: Most neurons per row the kernel accepts (its per-thread row buffer).
MAX_WIDTH = 4096
_BITS = {torch.float64: 64, torch.float32: 32}


def max_form_output_bound(E, S, w, ec=None) -> float:
    """Uniform bound on |ŝ - f| over the whole cube for the kernel's evaluation (module docstring)."""
    m = w.shape[0]
    mag = S + E
    total = (w.abs() * E).sum() + gamma(2 * m + 1, w.dtype) * (2 * w.abs() * mag).sum()
    if ec is not None:
        total = total + (ec * mag).sum()
    return float(round_up(total + 4 * (m + 1) * TINY[w.dtype], 4 * m))


def _ptr(t: torch.Tensor) -> int:
    return t.data_ptr()


@dataclass(frozen=True)
class CubeKernel:
    """The loaded entry point of one precision."""

    fn: object
    peak: object
    block: int
    dtype: torch.dtype

    def limit(self, seconds: float = 0.3, threads: int = 1) -> float:
        """The machine's neuron evaluations per second for this kernel's instruction pair
        (max + fused multiply-add on registers, no memory): the limit the kernel is held to.

        One run of at least ``seconds`` (short bursts on a shared machine read high: they fall
        in quiet moments and at boost clocks that a long enumeration does not keep).
        """
        import time

        iters = 1 << 12
        while True:
            t = time.perf_counter()
            done = self.peak(iters, threads)
            dt = time.perf_counter() - t
            if dt >= seconds:
                return done / dt
            iters *= 2

    def run(self, *, AT, C0, T1, T2, w, E1, yA, yN, y1, y2, E, row0, row1, capacity, threads):
        """Rows [row0, row1): (per-row sse (float64 numpy), sure mistakes, exact zeros,
        flagged indices r * L + l, sorted (int64 numpy)). Every tensor contiguous, CPU, dtype."""
        m, L = AT.shape
        ts = (AT, C0, T1, T2, w, E1, yA, yN, y1, y2)
        for t in ts:
            if t.dtype != self.dtype or not t.is_contiguous() or t.device.type != "cpu":
                raise ValueError("cube kernel arguments must be contiguous CPU tensors")
        rows = row1 - row0
        work = _workspace((L // self.block) * self.block * m, self.dtype)
        while True:
            sse = np.empty(rows, dtype=np.float64)
            counts = np.zeros(3, dtype=np.int64)
            flags = np.empty(max(1, capacity), dtype=np.int64)
            self.fn(
                m, L, T1.shape[0], T2.shape[0], row0, row1, *(_ptr(t) for t in ts),
                float(E), sse.ctypes.data, counts.ctypes.data, flags.ctypes.data,
                capacity, threads, work.data_ptr(),
            )  # fmt: skip
            if counts[2] == -2:
                raise MemoryError("the cube kernel could not allocate its buffers")
            if counts[2] < 0:
                raise ValueError(f"width {m} outside the kernel's 1..{MAX_WIDTH}")
            if counts[2] <= capacity:
                break
            capacity = int(counts[2])  # rare: more flagged points than room; the same again
        flagged = np.sort(flags[: counts[2]])
        return sse, int(counts[0]), int(counts[1]), flagged


_KERNELS: dict = {}
_LOCAL = threading.local()  # one workspace per thread: the call releases the GIL


def _workspace(size: int, dtype: torch.dtype) -> torch.Tensor:
    """A reused buffer of at least ``size`` values (at least one) for this thread."""
    bufs = getattr(_LOCAL, "bufs", None)
    if bufs is None:
        bufs = _LOCAL.bufs = {}
    buf = bufs.get(dtype)
    if buf is None or buf.numel() < size:
        buf = bufs[dtype] = torch.empty(max(1, size), dtype=dtype)
    return buf


def load_cube_kernel(dtype: torch.dtype) -> CubeKernel:
    """Compile (cached) and load the kernel for float64 or float32.

    Raises:
        KernelUnavailableError: no compiler, a failed build, a refused cache, another dtype.
    """
    if dtype not in _BITS:
        raise KernelUnavailableError(f"no cube kernel for {dtype}")
    if dtype in _KERNELS:
        return _KERNELS[dtype]
    bits = _BITS[dtype]
    text = resources.files(__package__).joinpath(SOURCE).read_text(encoding="utf-8")
    lib, _ = load_library(f"cube_relu2_f{bits}", {SOURCE: text}, SOURCE, (f"-DREAL_BITS={bits}",))
    fn = getattr(lib, f"cube_relu2_f{bits}")
    i64, vp = ctypes.c_int64, ctypes.c_void_p
    fn.argtypes = [i64] * 6 + [vp] * 10 + [ctypes.c_double, vp, vp, vp, i64, ctypes.c_int32, vp]
    fn.restype = None
    peak = getattr(lib, f"cube_peak_f{bits}")
    peak.argtypes = [i64, ctypes.c_int32]
    peak.restype = ctypes.c_double
    block = getattr(lib, f"cube_block_f{bits}")
    block.argtypes = []
    block.restype = i64
    _KERNELS[dtype] = CubeKernel(fn, peak, int(block()), dtype)
    return _KERNELS[dtype]
