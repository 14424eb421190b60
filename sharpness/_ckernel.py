"""Build, cache and load a small C kernel shipped as package data (ctypes, no extension module).

The same build model as the 1-SAM kernel (:mod:`sharpness.training.kernels.one_sam`, whose
docstring gives the reasons: compiled on first use with the system C compiler and
``-march=native``, ``-ffp-contract=off -fno-fast-math`` so the floating-point operations are the
source's own, cached under a key of sources, flags, compiler and CPU), and the same safety
rules (its note 7): the cache directory must be private (:func:`private_cache_dir`), a cached
library is loaded only through a descriptor whose bytes hash to the SHA-256 recorded at build
time, and each compiler call runs in its own process group with a timeout.

It lives here, below every subpackage, so that the hypercube enumeration (which may not import
the training package, see the import-linter layers in pyproject.toml) can use it.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import os
import platform
import shutil
import signal
import stat
import subprocess
import tempfile
from pathlib import Path

__all__ = [
    "C_FLAGS",
    "COMPILE_TIMEOUT_S",
    "KernelUnavailableError",
    "load_library",
    "private_cache_dir",
]

C_FLAGS = ("-O3", "-march=native", "-ffp-contract=off", "-fno-fast-math", "-fPIC", "-shared")

#: Seconds one compiler call may take before the build is abandoned.
COMPILE_TIMEOUT_S = 300.0


class KernelUnavailableError(RuntimeError):
    """No C compiler, a failed or timed-out build, or a refused cache: use the torch path."""


def _cache_dir() -> Path:
    env = os.environ.get("FLATNESS_KERNEL_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "flatness-toolkit"


def _unsafe(st: os.stat_result, *, sticky_ok: bool) -> str:
    uid = os.getuid()
    if st.st_uid not in (uid, 0):
        return f"owned by uid {st.st_uid}"
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        if sticky_ok and st.st_mode & stat.S_ISVTX and stat.S_ISDIR(st.st_mode):
            return ""
        return f"writable by others (mode {stat.S_IMODE(st.st_mode):#o})"
    return ""


def private_cache_dir() -> Path:
    """The kernel cache directory, created 0700, refused if anyone else can write it or a
    non-sticky directory above it.

    Raises:
        KernelUnavailableError: naming the directory and why it is refused.
    """
    if not hasattr(os, "getuid"):
        path = _cache_dir()
        path.mkdir(parents=True, exist_ok=True)
        return path
    path = Path(os.path.abspath(_cache_dir()))
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        st = os.stat(path)
    except OSError as exc:
        raise KernelUnavailableError(
            f"cannot use the kernel cache {path}: {exc.strerror or exc} (set FLATNESS_KERNEL_CACHE)"
        ) from None
    if st.st_uid != os.getuid() or not stat.S_ISDIR(st.st_mode):
        why = "not a directory" if not stat.S_ISDIR(st.st_mode) else f"owned by uid {st.st_uid}"
    else:
        why = _unsafe(st, sticky_ok=False)
    for parent in path.parents if not why else ():
        reason = _unsafe(os.stat(parent), sticky_ok=True)
        if reason:
            why = f"{parent} above it is {reason}"
            break
    if why:
        raise KernelUnavailableError(
            f"the kernel cache {path} is refused: {why} (set FLATNESS_KERNEL_CACHE to a "
            f"directory only you can write)"
        )
    return path


def _hash_path(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def _sha256_fd(fd: int) -> str:
    h = hashlib.sha256()
    while chunk := os.read(fd, 1 << 20):
        h.update(chunk)
    return h.hexdigest()


def _open_private(path: Path) -> int | None:
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise KernelUnavailableError(f"cannot open the cached {path}: {exc.strerror}") from None
    st = os.fstat(fd)
    why = "not a regular file" if not stat.S_ISREG(st.st_mode) else ""
    if hasattr(os, "getuid"):
        why = why or ("" if st.st_uid == os.getuid() else f"owned by uid {st.st_uid}")
        why = why or _unsafe(st, sticky_ok=False)
    if why:
        os.close(fd)
        raise KernelUnavailableError(f"the cached kernel {path} is refused: {why} (delete it)")
    return fd


_LOADED_FDS: list[int] = []


def _load_verified(path: Path) -> ctypes.CDLL | None:
    """The library, loaded through the descriptor whose bytes were hashed; None to rebuild."""
    hfd = _open_private(_hash_path(path))
    if hfd is None:
        return None
    try:
        expected = os.read(hfd, 256).decode("ascii", errors="replace").strip()
    finally:
        os.close(hfd)
    fd = _open_private(path)
    if fd is None:
        return None
    try:
        if _sha256_fd(fd) != expected:
            os.close(fd)
            return None
        proc = f"/proc/self/fd/{fd}"
        lib = ctypes.CDLL(proc if os.path.exists(proc) else str(path))
    except BaseException:
        os.close(fd)
        raise
    _LOADED_FDS.append(fd)  # kept open: the loader knows the library by this descriptor's name
    return lib


def _cpu_signature() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("flags"):
                    return line.strip()
    except OSError:
        pass
    return platform.processor()


def _compiler() -> tuple[str, str]:
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not cc:
        raise KernelUnavailableError("no C compiler found (set CC)")
    try:
        version = subprocess.run([cc, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as exc:
        raise KernelUnavailableError(f"cannot run the C compiler {cc}: {exc}") from None
    return cc, (version.stdout.splitlines()[0] if version.stdout else cc)


def _run_compiler(cmd: list[str], cwd: str) -> subprocess.CompletedProcess:
    try:
        proc = subprocess.Popen(
            cmd,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
    except OSError as exc:
        raise KernelUnavailableError(f"cannot run the C compiler {cmd[0]}: {exc}") from None
    try:
        out, err = proc.communicate(timeout=COMPILE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise KernelUnavailableError(
            f"the C compiler {cmd[0]} did not finish within {COMPILE_TIMEOUT_S:g} s"
        ) from None
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def _cache_key(sources: dict, flags: tuple, cc_id: str, machine: str, cpu: str) -> str:
    """16 hex digits of SHA-256 over every source file, the flags, compiler, machine and CPU."""
    parts = [*(f"{name}\0{text}" for name, text in sorted(sources.items()))]
    parts += [" ".join(flags), cc_id, machine, cpu]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


def _build(cc: str, sources: dict, main: str, flags: tuple, target: Path) -> None:
    """Compile ``main`` into ``target`` (OpenMP if available), with its SHA-256 beside it.

    Built in a private temporary directory of the cache, from relative file names (so the
    bytes do not depend on that directory's name), then renamed into place: the hash first,
    the library second. A kill between the two leaves a library whose hash does not match,
    which the next load rebuilds.
    """
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        for name, text in sources.items():
            (Path(tmp) / name).write_text(text, encoding="utf-8")
        out = Path(tmp) / target.name
        for extra in (["-fopenmp"], []):  # OpenMP spreads the work over threads; optional
            proc = _run_compiler([cc, *flags, *extra, main, "-o", out.name, "-lm"], cwd=tmp)
            if proc.returncode == 0 and out.exists():
                break
        else:
            raise KernelUnavailableError(
                f"building the C kernel {main} failed: {proc.stderr.strip()[:500]}"
            )
        os.chmod(out, 0o700)
        fd = os.open(out, os.O_RDONLY)
        try:
            digest = _sha256_fd(fd)
        finally:
            os.close(fd)
        hash_tmp = Path(tmp) / "hash"
        hash_tmp.write_text(digest + "\n", encoding="ascii")
        os.chmod(hash_tmp, 0o600)
        os.replace(hash_tmp, _hash_path(target))
        os.replace(out, target)


def load_library(
    stem: str, sources: dict, main: str, defines: tuple = (), flags: tuple = C_FLAGS
) -> tuple[ctypes.CDLL, Path]:
    """Compile (cached) and load one shared library.

    Args:
        stem: the cached file's name prefix (``<stem>_<key>.so``).
        sources: file name -> text of every source the build reads.
        main: the file compiled.
        defines: extra ``-D`` flags.
        flags: the compiler flags (default :data:`C_FLAGS`); flags and defines are part of the
            cache key, with the sources, the compiler's version line, the machine and the CPU.

    Returns:
        the loaded library and the cached file it was loaded from.

    Raises:
        KernelUnavailableError: no compiler, a failed or timed-out build, a refused cache.
    """
    cc, cc_id = _compiler()
    flags = tuple(flags) + tuple(defines)
    key = _cache_key(sources, flags, cc_id, platform.machine(), _cpu_signature())
    path = private_cache_dir() / f"{stem}_{key}.so"
    lib = _load_verified(path)
    if lib is None:  # missing, or not what was built: build it (again)
        _build(cc, sources, main, flags, path)
        lib = _load_verified(path)
    if lib is None:
        raise KernelUnavailableError(f"the kernel {path} changed while it was being loaded")
    return lib, path
