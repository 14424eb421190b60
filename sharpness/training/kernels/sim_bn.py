"""Build, cache and call the C kernel ``sim_bn.c`` of :class:`sharpness.training.algorithms.SimBNEngine`.

Built and loaded exactly as the 1-SAM kernel (:mod:`sharpness.training.kernels.one_sam`, whose
notes 1-7 give the reasons: first use, private hash-checked cache, fixed floating-point order,
layout checked before the first call), float64 only: 2-MLP-Sim-BN is trained in float64 in every
preset, and the certified activation-pattern radius of the kernel is a float64 rounding guard.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources

from sharpness._ckernel import load_library
from sharpness.training.kernels.one_sam import C_FLAGS, NamedArgs, check_layout

__all__ = ["SOURCES", "SimBNArgs", "SimBNKernel", "load_sim_bn_kernel"]

SOURCES = ("sim_bn.c", "sim_bn.h")
"""The package-data files of the kernel: the implementation and its interface."""


class SimBNArgs(NamedArgs):
    """ctypes mirror of ``struct sim_bn_args`` (sim_bn.h), field by field, in order."""

    c_name = "sim_bn_args"

    _fields_ = [
        ("runs", ctypes.c_int64),
        ("width", ctypes.c_int64),
        ("dim", ctypes.c_int64),
        ("dp", ctypes.c_int64),
        ("n", ctypes.c_int64),
        ("steps", ctypes.c_int64),
        ("W", ctypes.c_void_p),
        ("W2", ctypes.c_void_p),
        ("gamma", ctypes.c_void_p),
        ("X", ctypes.c_void_p),
        ("y", ctypes.c_void_p),
        ("order", ctypes.c_void_p),
        ("noise", ctypes.c_void_p),
        ("counters", ctypes.c_void_p),
        ("lr", ctypes.c_double),
        ("rho", ctypes.c_double),
        ("weight_decay", ctypes.c_double),
        ("smoothing", ctypes.c_double),
        ("projection", ctypes.c_double),
        ("loss", ctypes.c_int32),
        ("exact_updates", ctypes.c_int32),
        ("threads", ctypes.c_int32),
    ]


@dataclass(frozen=True)
class SimBNKernel:
    """The loaded kernel: ``sim_bn_f64`` taking a ``POINTER(SimBNArgs)``, returning 0 or -1."""

    f64: Callable
    path: object


_KERNEL: SimBNKernel | None = None


def load_sim_bn_kernel() -> SimBNKernel:
    """Compile (once per machine and source, cached) and load the Sim-BN kernel.

    Raises:
        KernelUnavailableError: no compiler, a failed or timed-out build, a refused cache.
        KernelLayoutError: if the C struct and :class:`SimBNArgs` disagree.
    """
    global _KERNEL
    if _KERNEL is not None:
        return _KERNEL
    files = resources.files(__package__)
    sources = {name: files.joinpath(name).read_text(encoding="utf-8") for name in SOURCES}
    lib, path = load_library("sim_bn_f64", sources, SOURCES[0], (), flags=C_FLAGS)
    check_layout(lib, SimBNArgs, "sim_bn_args_layout")
    fn = lib.sim_bn_f64
    fn.argtypes = [ctypes.POINTER(SimBNArgs)]
    fn.restype = ctypes.c_int
    _KERNEL = SimBNKernel(f64=fn, path=path)
    return _KERNEL
