"""Build, cache and call the C kernel ``one_sam.c`` of :class:`sharpness.training.algorithms.CEngine`.

The kernel is a real C file shipped as package data (``one_sam.c`` and its interface
``one_sam.h``, read through :mod:`importlib.resources`, so an installed wheel or a zipped package
finds them as a source checkout does). Its arguments are one ``struct one_sam_args`` of named
fields, passed by pointer; :class:`OneSamArgs` mirrors it as a :class:`ctypes.Structure`.

How it is built, and why this way (numbered; the alternatives were weighed for speed, bitwise
reproducibility and a fresh install):

1. **Compiled on first use with the system C compiler, cached.** ``cc -O3 -march=native
   -ffp-contract=off -fno-fast-math``, once per precision (``-DREAL_BITS=64`` and ``32``: a
   compile-time macro instead of string templating), into ``$FLATNESS_KERNEL_CACHE`` (default
   ``~/.cache/flatness-toolkit``). The cache key hashes the two source files, the flags, the
   compiler's ``--version`` line, the machine and the CPU's feature flags (``-march=native``
   makes the binary CPU-specific), so a changed source, compiler or CPU builds afresh. The build
   goes to a temporary file renamed atomically, so concurrent first uses are safe. Each
   compiler call has a timeout (``COMPILE_TIMEOUT_S``).
2. **Bitwise reproducibility comes from the flags, not from the build path.**
   ``-ffp-contract=off`` forbids the compiler to fuse ``a * b + c`` on its own, and without
   ``-ffast-math`` it may not reassociate sums: the only fused multiply-adds are the explicit
   ``FMA()`` calls of the source (correctly rounded, in hardware or in libm), so the bits depend
   on the source and libm, not on the vector width ``-march`` picks (same seed, same numbers; a
   resumed run equals an uninterrupted one). Checked: a build without ``-march=native`` gives the
   same bits as the native one, for both precisions and all three heads. The kernel's sums
   (the dot products of a step) are written in a fixed order of 32 lanes added pairwise, and
   its sweep over W1 in blocks of 32 neurons, and a ReLU MLP's step recomputes instead of
   storing its O(m) vectors (comments in ``one_sam.c``): vector code without any reassociation
   by the compiler, with bits that are the source's; 1.45x the serial-sum kernel it replaced
   (BENCHMARKS.md). That order changed the bits of older runs once (issue 14; CHANGELOG.md).
3. **Not a setuptools extension built at wheel time.** A wheel must run on every CPU of its
   platform, so it loses ``-march=native``: on x86-64 the baseline has no FMA instruction, each
   ``fma()`` becomes a libm call and the sweeps over the m neurons stop vectorizing. Measured on
   this project's machine (AVX-512; m = 500, d = 30, 1-SAM), the baseline build ran 5x-14x
   slower than the native one. It would also turn a pure-Python package into a platform wheel
   that needs a compiler at install time (or fails there), and an editable install would need a
   rebuild after every edit of the C file. Compiling at first use keeps ``pip install`` pure
   Python and keeps working without a compiler (note 5).
4. **Not** ``torch.utils.cpp_extension``: it is a first-use build too, but of C++ against the
   torch headers (typically tens of seconds, against about half a second of CPU time per
   precision here, and ``ninja`` to install), keyed to the torch version, for a kernel that
   touches no tensor. **Not numba**: a new dependency (numba + llvmlite) that trails new Python
   and numpy releases, a JIT compile in every process (or its own cache), and its own code
   generation and math library: the bits of the existing runs would not be guaranteed.
5. **Without a compiler** (or when the build fails) :func:`load_kernel` raises
   :class:`KernelUnavailableError` and the trainer falls back to the torch engine
   (:func:`sharpness.training.algorithms.engine_for`): slower, and equal to the C results to
   round-off, not bit for bit.
6. **The struct's layout is checked before the first call**: ``one_sam_args_layout`` reports
   ``sizeof`` and every ``offsetof`` from C, and they must equal :class:`OneSamArgs`'s
   (a field added on one side only would otherwise pass garbage silently).
7. **The cache is not a way in.** A shared library runs code when it is loaded (its
   constructors), before any check of its contents could. So nothing is loaded from a cache
   directory that another user can write (it, or a directory above it that is not sticky like
   /tmp: :func:`private_cache_dir`; the default one is created 0700), nor a cached file that is
   a link, not ours, or writable by others. The SHA-256 of each library is written beside it
   when it is built, and a library is loaded only if its bytes, read through the descriptor
   that is then loaded, hash to it; otherwise it is rebuilt. A truncated library (a full disk,
   a kill during an older build) is therefore rebuilt instead of killing every later run with
   SIGBUS, and a library planted under the cache's name without its build's hash is never
   loaded. The hash guards against corruption and stray files; against another user, the
   directory's permissions are what protect.
"""

from __future__ import annotations

import ctypes
import platform
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources

# The build, the private hash-checked cache and the compiler timeout (notes 1 and 7) are shared
# with the hypercube's kernel: one implementation, in sharpness._ckernel.
from sharpness._ckernel import C_FLAGS as BASE_FLAGS
from sharpness._ckernel import (
    COMPILE_TIMEOUT_S,
    KernelUnavailableError,
    load_library,
    private_cache_dir,
)

__all__ = [
    "COMPILE_TIMEOUT_S",
    "SOURCES",
    "Kernel",
    "KernelLayoutError",
    "KernelUnavailableError",
    "NamedArgs",
    "OneSamArgs",
    "check_layout",
    "load_kernel",
    "private_cache_dir",
    "source_text",
]

SOURCES = ("one_sam.c", "one_sam.h")
"""The package-data files of the kernel: the implementation and its interface."""

C_FLAGS = BASE_FLAGS + (
    # x86-64: GCC prefers 256-bit vectors even where AVX-512 exists; the kernel's sweep over W1
    # is faster with 512 (issue 14). It changes the speed only, never the bits (note 2).
    ("-mprefer-vector-width=512",) if platform.machine() in ("x86_64", "AMD64") else ()
)
PRECISIONS = {"f64": 64, "f32": 32}


class KernelLayoutError(RuntimeError):
    """The C struct and its ctypes mirror :class:`OneSamArgs` disagree (a bug, not a fallback)."""


class NamedArgs(ctypes.Structure):
    """A C struct of named arguments, built only with every field given by name (:meth:`of`).

    Subclasses set ``_fields_`` and ``c_name`` (the C struct's name, for messages).
    """

    c_name = "struct"

    @classmethod
    def of(cls, **values):
        """The struct with every field given by name (a forgotten field would silently be 0).

        Raises:
            ValueError: if a field is missing or a name is not a field.
        """
        names = [name for name, _ in cls._fields_]
        missing = [k for k in names if k not in values]
        unknown = sorted(set(values) - set(names))
        if missing or unknown:
            raise ValueError(
                f"{cls.c_name} needs exactly its fields: missing {missing}, unknown {unknown}"
            )
        return cls(**values)


class OneSamArgs(NamedArgs):
    """ctypes mirror of ``struct one_sam_args`` (one_sam.h), field by field, in order.

    REAL arrays (double or float, by the entry point called) are ``void *``; scalars are double
    and converted to REAL once in C. Build it with :meth:`of`, which insists on every field.
    """

    c_name = "one_sam_args"
    _fields_ = [
        ("runs", ctypes.c_int64),
        ("width", ctypes.c_int64),
        ("dim", ctypes.c_int64),
        ("n", ctypes.c_int64),
        ("steps", ctypes.c_int64),
        ("general", ctypes.c_int64),
        ("W1T", ctypes.c_void_p),
        ("b1", ctypes.c_void_p),
        ("W2", ctypes.c_void_p),
        ("X", ctypes.c_void_p),
        ("y", ctypes.c_void_p),
        ("order", ctypes.c_void_p),
        ("noise", ctypes.c_void_p),
        ("work", ctypes.c_void_p),
        ("lr", ctypes.c_double),
        ("rho", ctypes.c_double),
        ("weight_decay", ctypes.c_double),
        ("eps", ctypes.c_double),
        ("smoothing", ctypes.c_double),
        ("projection", ctypes.c_double),
        ("activation", ctypes.c_int32),
        ("head", ctypes.c_int32),
        ("loss", ctypes.c_int32),
        ("threads", ctypes.c_int32),
    ]


@dataclass(frozen=True)
class Kernel:
    """The loaded kernel: one entry point per precision, each taking a ``POINTER(OneSamArgs)``.

    Args:
        f64: ``one_sam_f64`` (REAL = double).
        f32: ``one_sam_f32`` (REAL = float).
        paths: the shared libraries they were loaded from, by precision.
        sweep_f64, sweep_f32: ``one_sam_sweep_f64`` / ``_f32``, the memory-bound limit of a step
            (only the sweep over W1 that every step makes; benchmarks/bench_training.py).
    """

    f64: Callable
    f32: Callable
    paths: dict
    sweep_f64: Callable | None = None
    sweep_f32: Callable | None = None


def source_text(name: str) -> str:
    """The text of one shipped source file (``one_sam.c`` or ``one_sam.h``), as installed."""
    if name not in SOURCES:
        raise ValueError(f"kernel source must be one of {SOURCES}, got {name!r}")
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def check_layout(
    lib: ctypes.CDLL,
    struct: type[ctypes.Structure] = OneSamArgs,
    symbol: str = "one_sam_args_layout",
) -> None:
    """Compare C's ``sizeof``/``offsetof`` (``symbol`` in ``lib``) with ``struct``'s.

    Equal sizes and offsets cannot tell two swapped fields of one type apart; the test suite
    compares the names with the parsed C definition for that.

    Raises:
        KernelLayoutError: on a different field count, size or offset.
    """
    layout = getattr(lib, symbol)
    layout.argtypes = [ctypes.POINTER(ctypes.c_int64), ctypes.c_int64]
    layout.restype = ctypes.c_int64
    cap = len(struct._fields_) + 8
    out = (ctypes.c_int64 * cap)()
    k = int(layout(out, cap))
    mine = [ctypes.sizeof(struct)] + [getattr(struct, name).offset for name, _ in struct._fields_]
    theirs = list(out[: min(k, cap - 1) + 1])
    if k != len(struct._fields_) or theirs != mine:
        raise KernelLayoutError(
            f"the C struct of {symbol} has {k} fields, [sizeof, offsets...] = {theirs}; "
            f"{struct.__name__} has {len(struct._fields_)}, {mine}"
        )


_KERNEL: Kernel | None = None


def load_kernel() -> Kernel:
    """Compile (once per machine and source, cached) and load the C kernel (note 1).

    Returns:
        the entry points ``one_sam_f64`` and ``one_sam_f32``, layout-checked (note 6).

    Raises:
        KernelUnavailableError: if no C compiler is found, the build fails or times out, or
            the cache directory or a cached file can be written by others (note 7).
        KernelLayoutError: if the C struct and :class:`OneSamArgs` disagree.
    """
    global _KERNEL
    if _KERNEL is not None:
        return _KERNEL
    sources = {name: source_text(name) for name in SOURCES}
    fns, paths = {}, {}
    for sfx, bits in PRECISIONS.items():
        # missing, or not what was built (hash-checked): built (again) by load_library (note 7)
        lib, path = load_library(
            f"one_sam_{sfx}", sources, SOURCES[0], (f"-DREAL_BITS={bits}",), flags=C_FLAGS
        )
        check_layout(lib)
        for name in (f"one_sam_{sfx}", f"one_sam_sweep_{sfx}"):
            fn = getattr(lib, name)
            fn.argtypes = [ctypes.POINTER(OneSamArgs)]
            fn.restype = None
            fns[name] = fn
        paths[sfx] = path
    _KERNEL = Kernel(
        f64=fns["one_sam_f64"],
        f32=fns["one_sam_f32"],
        paths=paths,
        sweep_f64=fns["one_sam_sweep_f64"],
        sweep_f32=fns["one_sam_sweep_f32"],
    )
    return _KERNEL
