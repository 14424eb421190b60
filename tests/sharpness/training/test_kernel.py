"""The C kernel as shipped package data: its files, its struct of named arguments, its build cache."""

import ctypes
import fnmatch
import hashlib
import re
import shutil
import subprocess
import time
import tomllib
from importlib import resources
from pathlib import Path

import pytest

import sharpness._ckernel as ckernel
import sharpness.training.kernels.one_sam as one_sam
from constructions.architectures import MLP
from sharpness.training.algorithms import TorchEngine, engine_for
from sharpness.training.kernels import (
    KernelLayoutError,
    KernelUnavailableError,
    OneSamArgs,
    check_layout,
    load_kernel,
    source_text,
)

PACKAGE = "sharpness.training.kernels"
PYPROJECT = Path(__file__).resolve().parents[3] / "pyproject.toml"


def _c_available():
    try:
        load_kernel()
        return True
    except KernelUnavailableError:
        return False


needs_c = pytest.mark.skipif(not _c_available(), reason="no C compiler")


# --------------------------------------------------------------------------------------------
# The shipped files
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["one_sam.c", "one_sam.h"])
def test_sources_are_found_through_importlib_resources(name):
    """The files are read as package resources, as an installed wheel would find them."""
    res = resources.files(PACKAGE).joinpath(name)
    assert res.is_file()
    assert source_text(name) == res.read_text(encoding="utf-8")
    assert "one_sam_args" in source_text(name)


def test_source_includes_its_header_and_defines_both_entry_points():
    c = source_text("one_sam.c")
    assert '#include "one_sam.h"' in c
    assert re.search(r"#define ENTRY one_sam_f64", c) and re.search(r"#define ENTRY one_sam_f32", c)


def test_source_text_rejects_other_names():
    with pytest.raises(ValueError, match="'../runs.py'"):
        source_text("../runs.py")


def test_pyproject_ships_the_sources_as_package_data():
    """Without a package-data entry a wheel would install the loader but not the C files."""
    cfg = tomllib.loads(PYPROJECT.read_text())
    patterns = cfg["tool"]["setuptools"].get("package-data", {}).get(PACKAGE, [])
    for name in one_sam.SOURCES:
        assert any(fnmatch.fnmatch(name, p) for p in patterns), (name, patterns)


# --------------------------------------------------------------------------------------------
# The struct of named arguments against its C definition
# --------------------------------------------------------------------------------------------
C_TYPES = {"int64_t": ctypes.c_int64, "int32_t": ctypes.c_int32, "double": ctypes.c_double}


def _c_struct_fields(text: str) -> list[tuple[str, type]]:
    """(name, ctypes type) of every field of ``struct one_sam_args`` in C source ``text``."""
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    body = re.search(r"struct\s+one_sam_args\s*\{(.*?)\}\s*;", text, flags=re.S)
    assert body, "no struct one_sam_args definition"
    fields = []
    for decl in filter(None, (d.strip() for d in body.group(1).split(";"))):
        m = re.fullmatch(r"(?:const\s+)?(\w+)\s*(\*?)\s*(\w+)", " ".join(decl.split()))
        assert m, f"cannot parse field {decl!r}"
        base, star, name = m.groups()
        fields.append((name, ctypes.c_void_p if star else C_TYPES[base]))
    return fields


def test_ctypes_struct_mirrors_the_c_struct_names_order_and_types():
    assert _c_struct_fields(source_text("one_sam.h")) == list(OneSamArgs._fields_)


@pytest.mark.parametrize(
    "edit",
    [
        ("double lr;", "double lr_;"),  # a renamed field
        ("int64_t width;  ", "int32_t width;  "),  # a changed type
        ("double rho; ", "double rho; double extra;"),  # an extra field
        ("    double lr;             /* learning rate eta */\n", ""),  # a removed field
    ],
    ids=["renamed", "retyped", "added", "removed"],
)
def test_struct_comparison_detects_a_changed_c_struct(edit):
    old, new = edit
    text = source_text("one_sam.h")
    assert old in text
    assert _c_struct_fields(text.replace(old, new, 1)) != list(OneSamArgs._fields_)


def test_struct_comparison_detects_swapped_fields():
    text = source_text("one_sam.h")
    swapped = text.replace("double lr;", "double @;").replace("double rho;", "double lr;")
    swapped = swapped.replace("double @;", "double rho;")
    assert _c_struct_fields(swapped) != list(OneSamArgs._fields_)


@needs_c
def test_c_layout_equals_the_ctypes_layout():
    for fn in (load_kernel().f64, load_kernel().f32):
        assert fn.argtypes == [ctypes.POINTER(OneSamArgs)]
    for path in load_kernel().paths.values():
        check_layout(ctypes.CDLL(str(path)))


def _broken(fields):
    return type("Broken", (ctypes.Structure,), {"_fields_": fields})


@needs_c
@pytest.mark.parametrize(
    "fields",
    [
        OneSamArgs._fields_[:-1],  # a field missing
        [*OneSamArgs._fields_[:-1], ("threads", ctypes.c_int64)],  # a wider type
        # narrower types: (padding would hide a single one; two move the next offset)
        [("runs", ctypes.c_int32), ("width", ctypes.c_int32), *OneSamArgs._fields_[2:]],
        [*OneSamArgs._fields_, ("extra", ctypes.c_int32)],  # a field too many
    ],
    ids=["missing", "wider", "narrower", "extra"],
)
def test_check_layout_rejects_a_mismatched_mirror(fields):
    lib = ctypes.CDLL(str(load_kernel().paths["f32"]))
    with pytest.raises(KernelLayoutError, match="one_sam_args"):
        check_layout(lib, _broken(fields))


def test_args_need_every_field_and_no_other():
    values = {name: 0 for name, _ in OneSamArgs._fields_}
    assert OneSamArgs.of(**values).threads == 0
    missing = dict(values)
    del missing["threads"]
    with pytest.raises(ValueError, match=r"missing \['threads'\]"):
        OneSamArgs.of(**missing)
    with pytest.raises(ValueError, match=r"unknown \['thread'\]"):
        OneSamArgs.of(**values, thread=1)


# --------------------------------------------------------------------------------------------
# Build cache and fallback
# --------------------------------------------------------------------------------------------
def test_cache_key_changes_with_every_ingredient():
    base = ({"one_sam.c": "a", "one_sam.h": "b"}, ("-O3",), "gcc 12", "x86_64", "flags: avx2")
    key = ckernel._cache_key(*base)
    assert re.fullmatch(r"[0-9a-f]{16}", key)
    assert ckernel._cache_key(*base) == key
    variants = [
        ({"one_sam.c": "a ", "one_sam.h": "b"}, *base[1:]),  # the .c file
        ({"one_sam.c": "a", "one_sam.h": "b "}, *base[1:]),  # the header
        (base[0], ("-O2",), *base[2:]),
        (*base[:2], "gcc 13", *base[3:]),
        (*base[:3], "aarch64", base[4]),
        (*base[:4], "flags: avx512f"),
    ]
    keys = {ckernel._cache_key(*v) for v in variants}
    assert len(keys) == len(variants) and key not in keys


@needs_c
def test_a_cached_build_is_reused(monkeypatch):
    load_kernel()

    def no_build(*args):
        raise AssertionError("rebuilt a cached kernel")

    monkeypatch.setattr(one_sam, "_KERNEL", None)
    monkeypatch.setattr(ckernel, "_build", no_build)
    assert load_kernel().paths == one_sam._KERNEL.paths


def test_no_compiler_raises_unavailable_and_the_trainer_falls_back(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(one_sam, "_KERNEL", None)
    monkeypatch.setenv("CC", "")
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("FLATNESS_KERNEL_CACHE", str(tmp_path / "cache"))
    with pytest.raises(KernelUnavailableError, match="no C compiler"):
        load_kernel()
    assert isinstance(engine_for(MLP(2, bias=True), 1), TorchEngine)
    assert "C kernel unavailable" in capsys.readouterr().err
    with pytest.raises(KernelUnavailableError):
        engine_for(MLP(2, bias=True), 1, backend="c")


def test_a_failing_build_raises_unavailable(monkeypatch, tmp_path):
    fake = tmp_path / "cc"
    fake.write_text(
        '#!/bin/sh\necho fake cc 1.0\n[ "$1" = --version ] || { echo boom >&2; exit 1; }\n'
    )
    fake.chmod(0o755)
    monkeypatch.setattr(one_sam, "_KERNEL", None)
    monkeypatch.setenv("CC", str(fake))
    monkeypatch.setenv("FLATNESS_KERNEL_CACHE", str(tmp_path / "cache"))
    with pytest.raises(
        KernelUnavailableError, match="building the C kernel one_sam.c failed: boom"
    ):
        load_kernel()
    assert not list((tmp_path / "cache").glob("*.so"))


# --------------------------------------------------------------------------------------------
# The cache is not a way in (issue 15, section 4; one_sam.py note 7)
# --------------------------------------------------------------------------------------------
PLANTED_C = r"""
#include <stdio.h>
#include <stdlib.h>
__attribute__((constructor)) static void planted(void) {
    FILE *f = fopen(getenv("PLANT_MARKER"), "w");
    if (f) { fputs("the planted constructor ran\n", f); fclose(f); }
}
void one_sam_f64(void) {}
"""


@pytest.fixture
def private_cache(tmp_path, monkeypatch):
    """A fresh cache holding copies of the real builds (with their hashes), and a marker path."""
    good = load_kernel().paths
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o700)
    for path in good.values():
        for src in (path, ckernel._hash_path(path)):
            shutil.copy2(src, cache / src.name)
    marker = tmp_path / "marker"
    monkeypatch.setenv("FLATNESS_KERNEL_CACHE", str(cache))
    monkeypatch.setenv("PLANT_MARKER", str(marker))
    monkeypatch.setattr(one_sam, "_KERNEL", None)
    rebuilt = []

    def rebuild(cc, sources, main, flags, target):  # stands for the compiler: the good build
        rebuilt.append(target.name)
        bits = 64 if "-DREAL_BITS=64" in flags else 32
        for src in (good[f"f{bits}"], ckernel._hash_path(good[f"f{bits}"])):
            shutil.copy2(src, target.parent / src.name)

    monkeypatch.setattr(ckernel, "_build", rebuild)
    return {"cache": cache, "marker": marker, "rebuilt": rebuilt, "f64": cache / good["f64"].name}


def _plant(tmp_path, target):
    src = tmp_path / "planted.c"
    src.write_text(PLANTED_C)
    out = tmp_path / "planted.so"
    subprocess.run(
        [shutil.which("cc") or "gcc", "-shared", "-fPIC", str(src), "-o", str(out)], check=True
    )
    shutil.copyfile(out, target)
    return hashlib.sha256(out.read_bytes()).hexdigest()


@needs_c
@pytest.mark.parametrize("hash_file", ["kept", "missing", "of-the-planted-file-but-not-ours"])
def test_a_planted_library_is_never_loaded(tmp_path, private_cache, hash_file):
    target = private_cache["f64"]
    digest = _plant(tmp_path, target)
    if hash_file == "missing":
        ckernel._hash_path(target).unlink()
    elif hash_file != "kept":  # a matching hash, written by someone else: world-writable
        ckernel._hash_path(target).write_text(digest + "\n")
        ckernel._hash_path(target).chmod(0o666)
    if hash_file == "of-the-planted-file-but-not-ours":
        with pytest.raises(KernelUnavailableError, match="writable by others"):
            load_kernel()
    else:
        kernel = load_kernel()
        assert private_cache["rebuilt"] == [target.name]  # rebuilt, not loaded
        assert kernel.paths["f64"] == target
    assert not private_cache["marker"].exists()  # its constructor never ran


@needs_c
@pytest.mark.parametrize("where", ["cache", "above-the-cache"])
def test_a_cache_directory_others_can_write_is_refused(tmp_path, private_cache, where, capsys):
    target = private_cache["f64"]
    digest = _plant(tmp_path, target)
    ckernel._hash_path(target).write_text(digest + "\n")  # even with a matching hash
    opened = private_cache["cache"] if where == "cache" else tmp_path
    opened.chmod(0o777)
    try:
        with pytest.raises(KernelUnavailableError, match=r"refused: .*writable by others"):
            load_kernel()
        # the trainer's automatic choice falls back to the torch engine, saying why
        assert isinstance(engine_for(MLP(2, bias=True), 1), TorchEngine)
        assert "kernel cache" in capsys.readouterr().err
    finally:
        opened.chmod(0o700)
    assert not private_cache["marker"].exists()


@needs_c
def test_a_sticky_world_writable_directory_above_the_cache_is_accepted(tmp_path, private_cache):
    tmp_path.chmod(0o1777)  # like /tmp
    try:
        assert load_kernel().paths["f64"] == private_cache["f64"]
    finally:
        tmp_path.chmod(0o700)


@needs_c
def test_a_truncated_library_is_rebuilt_not_mapped(private_cache):
    target = private_cache["f64"]
    target.write_bytes(target.read_bytes()[: target.stat().st_size // 2])
    kernel = load_kernel()  # mapping the truncated file would end this process with SIGBUS
    assert private_cache["rebuilt"] == [target.name]
    check_layout(ctypes.CDLL(str(kernel.paths["f64"])))


def test_a_hung_compiler_times_out(monkeypatch, tmp_path):
    fake = tmp_path / "cc"
    fake.write_text(
        '#!/bin/sh\n[ "$1" = --version ] && { echo fake cc 1.0; exit 0; }\nexec sleep 60\n'
    )
    fake.chmod(0o755)
    monkeypatch.setattr(one_sam, "_KERNEL", None)
    monkeypatch.setattr(ckernel, "COMPILE_TIMEOUT_S", 0.5)
    monkeypatch.setenv("CC", str(fake))
    monkeypatch.setenv("FLATNESS_KERNEL_CACHE", str(tmp_path / "cache"))
    t0 = time.monotonic()
    with pytest.raises(KernelUnavailableError, match=r"did not finish within 0.5 s"):
        load_kernel()
    assert time.monotonic() - t0 < 20
    assert not list((tmp_path / "cache").glob("*.so"))
