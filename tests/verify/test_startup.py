"""Fast start: ``--help``, ``--list``, ``--version`` and bad input never import torch.

The two command lines build their parsers from light metadata (:mod:`verify.claim_index`,
``verify.cli.COMMAND_INDEX``, the choices repeated in :mod:`sharpness.training.cli`) and check
what can be checked without data before the library is imported. The light copies are compared
with what they copy, so they cannot drift; the startup itself is checked in a fresh interpreter,
by what ``sys.modules`` holds after each request, and once through the installed command with
``PYTHONPROFILEIMPORTTIME`` (``python -X importtime``).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import pkgutil
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import verify.commands
from verify import cli
from verify.claim_index import CLAIM_IDS, CLAIM_INDEX, check_claim_id

HEAVY = ("torch", "numpy", "scipy", "sympy")
ROOT = Path(__file__).resolve().parents[2]

# (command, argv, expected exit code, text expected on stdout or stderr)
REQUESTS = [
    ("verify-theorem", ["--help"], 0, "usage: verify-theorem"),
    ("verify-theorem", ["--list"], 0, "prop4.1"),
    ("verify-theorem", ["--version"], 0, "verify-theorem "),
    ("verify-theorem", ["4.1", "--d", "1"], 2, "d must be an integer >= 2, got 1"),
    ("verify-theorem", ["nosuch"], 2, "unknown claim id 'nosuch'"),
    ("verify-theorem", ["4.1", "--form", "x"], 2, "invalid choice: 'x'"),
    ("verify-theorem", ["4.1", "--data", "no-such-file.npz"], 2, "no such file"),
    ("verify-theorem", ["4.1", "--data", "."], 2, "not a regular file"),
    ("sharpness-train", ["--help"], 0, "usage: sharpness-train"),
    ("sharpness-train", ["--version"], 0, "sharpness-train "),
    ("sharpness-train", ["--lr", "-1", "--out", "x"], 2, "--lr must be > 0"),
    ("sharpness-train", ["--arch", "resnet", "--out", "x"], 2, "invalid choice: 'resnet'"),
]

# Runs each request through main() in one fresh interpreter and reports, per request, the exit
# code, the output and the heavy modules imported so far. With STUB set, the packages `verify`
# and `sharpness` are registered without running their __init__.py, which isolates what the CLI
# modules themselves import from what the package __init__ files import.
_PROBE = r"""
import contextlib, io, json, os, sys, types
if os.environ.get("STUB"):
    for pkg in ("verify", "sharpness"):
        mod = types.ModuleType(pkg)
        mod.__path__ = [os.path.join(os.environ["ROOT"], pkg)]
        sys.modules[pkg] = mod
requests = json.loads(sys.argv[1])
heavy = json.loads(sys.argv[2])
results = []
for command, argv, _, _ in requests:
    if command == "verify-theorem":
        from verify.cli import main
    else:
        from sharpness.training.cli import main
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:
            code = exc.code or 0
    results.append({"code": code, "out": out.getvalue(), "err": err.getvalue(),
                    "heavy": sorted(m for m in heavy if m in sys.modules)})
print(json.dumps(results))
"""


def _probe(stub: bool) -> list[dict]:
    env = dict(os.environ, PYTHONWARNINGS="ignore", ROOT=str(ROOT))
    env.pop("STUB", None)
    if stub:
        env["STUB"] = "1"
    p = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(REQUESTS), json.dumps(HEAVY)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=300,
    )
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def _check(results: list[dict]) -> None:
    assert len(results) == len(REQUESTS)
    for (command, argv, code, needle), r in zip(REQUESTS, results, strict=True):
        where = f"{command} {' '.join(argv)}"
        assert r["heavy"] == [], f"{where} imported {r['heavy']}"
        assert r["code"] == code, (where, r)
        if code == 0:
            assert needle in r["out"] and r["err"] == "", (where, r)
        else:  # one line on stderr, nothing on stdout
            assert r["out"] == "" and r["err"].count("\n") == 1, (where, r)
            assert r["err"].startswith(f"{command}: error: ") and needle in r["err"], (where, r)


def test_cli_modules_answer_without_importing_torch():
    """The CLI modules themselves (package __init__ files not run): no torch, right answers."""
    _check(_probe(stub=True))


def test_requests_never_import_torch():
    """The same requests through the real packages, in one fresh interpreter."""
    _check(_probe(stub=False))


def _installed(name: str) -> list[str]:
    exe = Path(sys.executable).with_name(name)
    if exe.exists():
        return [str(exe)]
    found = shutil.which(name)
    if found:
        return [found]
    module = "verify" if name == "verify-theorem" else "sharpness.training.cli"
    return [sys.executable, "-m", module]


@pytest.mark.parametrize("command", ["verify-theorem", "sharpness-train"])
def test_installed_command_version_imports_no_torch(command):
    """The installed entry point, import by import (``PYTHONPROFILEIMPORTTIME``)."""
    env = dict(os.environ, PYTHONWARNINGS="ignore", PYTHONPROFILEIMPORTTIME="1")
    p = subprocess.run(
        _installed(command) + ["--version"], capture_output=True, text=True, env=env, timeout=300
    )
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith(f"{command} ") and p.stdout.count("\n") == 1
    imported = {
        line.rsplit("|", 1)[1].strip()
        for line in p.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    assert "verify" in imported or "sharpness" in imported  # the profile was really recorded
    assert not imported & set(HEAVY), sorted(imported & set(HEAVY))


# --- the light copies equal what they copy -------------------------------------------------


def test_claim_index_equals_the_registry():
    from verify.registry import CLAIMS

    assert CLAIM_IDS == tuple(CLAIMS)
    for info, claim in zip(CLAIM_INDEX, CLAIMS.values(), strict=True):
        assert (info.id, info.title, info.reference, info.order) == (
            claim.id,
            claim.title,
            claim.reference,
            claim.order,
        )
        assert claim.run.__module__ == f"verify.claims.{info.module}"


def test_command_index_equals_the_command_modules():
    modules = sorted(
        info.name
        for info in pkgutil.iter_modules(verify.commands.__path__)
        if not info.name.startswith("_")
    )
    assert sorted(c.module for c in cli.COMMAND_INDEX) == modules
    for info in cli.COMMAND_INDEX:
        module = importlib.import_module(f"verify.commands.{info.module}")
        assert (info.names, info.help, info.order) == (
            tuple(module.NAMES),
            module.HELP,
            getattr(module, "ORDER", 1e9),
        )
        for name in info.names:
            assert cli.COMMANDS[name] is module
            assert callable(module.add_arguments) and callable(module.run)


def test_command_names_are_unique_and_not_claim_ids():
    names = [n for c in cli.COMMAND_INDEX for n in c.names]
    assert len(set(names)) == len(names) and not set(names) & set(CLAIM_IDS)
    clash = cli.CommandInfo("errata", ("4.1",), "clashes with a claim id", 0)
    with pytest.raises(RuntimeError, match="'4.1' is defined twice"):
        cli._Commands((*cli.COMMAND_INDEX, clash))


def test_light_default_equals_the_library():
    from verify.config import DEFAULT_D

    assert cli.DEFAULT_D == DEFAULT_D  # sharpness-train's choices: tests/sharpness/training/


def test_unknown_claim_id_is_refused_with_the_known_ones():
    assert check_claim_id("prop4.2") == "prop4.2"
    with pytest.raises(ValueError, match=r"unknown claim id '4\.9'; known: 3\.1, lemma3\.1"):
        check_claim_id("4.9")


# --- the early checks say what ClaimConfig says --------------------------------------------

GOOD = dict(d=10, n=None, depth=2, seed=0, epsilon=None, hypercube_samples=None, ln_eps=None)
EARLY_CASES = {
    "good": {},
    "d<2": dict(d=1),
    "d<0": dict(d=-3),
    "n<1": dict(n=0),
    "n>2^d": dict(d=3, n=9),
    "n=2^d": dict(d=3, n=8),
    "n>2^d-large-d": dict(d=70, n=2**70 + 1),
    "depth<2": dict(depth=1),
    "seed<0": dict(seed=-1),
    "epsilon<0": dict(epsilon=-1.0),
    "epsilon=0": dict(epsilon=0.0),
    "epsilon-nan": dict(epsilon=float("nan")),
    "epsilon-inf": dict(epsilon=float("inf")),
    "epsilon-ok": dict(epsilon=0.25),
    "samples<1": dict(hypercube_samples=0),
    "ln-eps=0": dict(ln_eps=0.0),
    "ln-eps-nan": dict(ln_eps=float("nan")),
    "two-bad-values": dict(d=1, depth=1),
}


@pytest.mark.parametrize("case", list(EARLY_CASES.values()), ids=list(EARLY_CASES))
def test_early_checks_raise_what_claim_config_raises(case):
    from verify.config import ClaimConfig

    values = {**GOOD, **case}
    try:
        ClaimConfig(**values)
        expected = None
    except ValueError as exc:
        expected = str(exc)
    args = argparse.Namespace(data=None, **values)
    try:
        cli.check_claim_arguments(args)
        got = None
    except ValueError as exc:
        got = str(exc)
    assert got == expected


def test_early_checks_refuse_d_and_n_with_data_and_need_a_regular_file(tmp_path):
    path = tmp_path / "data.npz"
    path.write_bytes(b"not read by the early checks")
    args = argparse.Namespace(data=str(path), **{**GOOD, "d": 1, "n": 0})
    with pytest.raises(ValueError, match="--d and --n cannot be combined with --data"):
        cli.check_claim_arguments(args)  # the dataset gives d and n: they would be ignored
    args.d = args.n = None
    cli.check_claim_arguments(args)
    args.depth = 1
    with pytest.raises(ValueError, match="depth must be an integer >= 2, got 1"):
        cli.check_claim_arguments(args)
    args.depth = 2
    for bad, why in ((tmp_path / "missing.npz", "no such file"), (tmp_path, "not a regular file")):
        args.data = str(bad)
        with pytest.raises(ValueError, match=f"cannot read dataset file .*: {why}"):
            cli.check_claim_arguments(args)
