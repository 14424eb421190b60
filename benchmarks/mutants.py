"""Mutation testing, hand-rolled: mutate a module one operator at a time, rerun its tests.

    python benchmarks/mutants.py                                  # verify/checks.py
    python benchmarks/mutants.py verify/claims/theorem_4_1.py --tests tests/verify/test_mutants.py
    python benchmarks/mutants.py --list                           # the mutants, without running

Each mutant changes one thing in the module's syntax tree:

* a comparison operator (``<`` <-> ``<=``, ``>`` <-> ``>=``, ``==`` <-> ``!=``);
* a boolean operator (``and`` <-> ``or``) or a ``not`` dropped;
* an arithmetic operator (``+`` <-> ``-``, ``*`` <-> ``/``);
* a numeric constant (a float times 1e8, e.g. a tolerance 1e-12 -> 1e-4; an int plus 1);
* a tolerance read from the policy (``.atol``, ``.rtol``) replaced by 1e-4 (the issue's mutant:
  the interpolation atol raised from 1e-12 to 1e-4);
* ``passed=...`` of a result forced to ``True`` (a check that cannot fail).

The mutated module is executed into the real module's namespace by a pytest plugin before the
tests are collected (nothing is written into the working tree, so other work on the tree is not
disturbed), and the given tests run with ``-x``: a failing run kills the mutant, a passing run is
a survivor, printed with its line. A mutant that makes the tests run past ``--timeout`` counts as
killed (the fuzz tests treat a hang as a failure too). Survivors are recorded in docs/mutation.md.
"""

from __future__ import annotations

import argparse
import ast
import copy
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_TESTS = ("tests/verify/test_checks.py", "tests/verify/test_mutants.py")

_CMP = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq}
_CMP[ast.NotEq] = ast.Eq
_BIN = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult}

PLUGIN = """
import importlib, os
_mod = importlib.import_module(os.environ["MUTANT_MODULE"])
with open(os.environ["MUTANT_SOURCE"]) as _fh:
    exec(compile(_fh.read(), _mod.__file__, "exec"), _mod.__dict__)
"""


@dataclass(frozen=True)
class Mutant:
    index: int
    line: int
    description: str


def _sites(tree: ast.AST):
    """(node path, description, apply) for every mutation site, in source order."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # docstrings
        if isinstance(node, ast.Compare):
            for k, op in enumerate(node.ops):
                if type(op) in _CMP:
                    out.append(
                        (node, k, "cmp", f"{type(op).__name__} -> {_CMP[type(op)].__name__}")
                    )
        elif isinstance(node, ast.BoolOp):
            other = "Or" if isinstance(node.op, ast.And) else "And"
            out.append((node, None, "bool", f"{type(node.op).__name__} -> {other}"))
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            out.append((node, None, "not", "drop not"))
        elif isinstance(node, ast.BinOp) and type(node.op) in _BIN:
            out.append(
                (node, None, "bin", f"{type(node.op).__name__} -> {_BIN[type(node.op)].__name__}")
            )
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, int | float)
            and not isinstance(node.value, bool)
        ):
            if isinstance(node.value, float):
                new = node.value * 1e8 if node.value else 1.0
            else:
                new = node.value + 1
            out.append((node, new, "const", f"{node.value!r} -> {new!r}"))
        elif isinstance(node, ast.Attribute) and node.attr in ("atol", "rtol"):
            out.append((node, None, "tol", f".{node.attr} -> 1e-4"))
        elif isinstance(node, ast.keyword) and node.arg == "passed":
            out.append((node, None, "passed", "passed=... -> passed=True"))
    return sorted(out, key=lambda s: (getattr(s[0], "lineno", 0), getattr(s[0], "col_offset", 0)))


def _mutate(node, extra, kind) -> None:
    if kind == "cmp":
        node.ops[extra] = _CMP[type(node.ops[extra])]()
    elif kind == "bool":
        node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
    elif kind == "not":
        node.op = ast.UAdd()  # +x: truthiness of x itself
    elif kind == "bin":
        node.op = _BIN[type(node.op)]()
    elif kind == "const":
        node.value = extra
    elif kind == "passed":
        node.value = ast.Constant(True)
    elif kind == "tol":  # the tolerance read from the policy replaced by a loose one
        node.attr = "atol"
        node.value = ast.Call(
            ast.Name("__import__", ast.Load()),
            [ast.Constant("types")],
            [],
        )
        node.value = ast.Call(
            ast.Attribute(node.value, "SimpleNamespace", ast.Load()),
            [],
            [ast.keyword("atol", ast.Constant(1e-4))],
        )


def mutants(path: Path) -> list[tuple[Mutant, str]]:
    """Every mutant of the module at ``path`` with its mutated source."""
    tree = ast.parse(path.read_text())
    result = []
    for i, (node, _extra, kind, what) in enumerate(_sites(tree)):
        clone = copy.deepcopy(tree)
        target = _sites(clone)[i]
        _mutate(target[0], target[1], target[2])
        line = getattr(node, "lineno", 0) or getattr(getattr(node, "value", None), "lineno", 0)
        result.append((Mutant(i, line, f"{kind}: {what}"), ast.unparse(clone)))
    return result


def run_one(module: str, source: str, tests, timeout: float) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "_mutant_plugin.py").write_text(PLUGIN)
        src = Path(tmp) / "mutant.py"
        src.write_text(source)
        env = dict(
            os.environ,
            MUTANT_MODULE=module,
            MUTANT_SOURCE=str(src),
            PYTHONPATH=tmp + os.pathsep + os.environ.get("PYTHONPATH", ""),
            OMP_NUM_THREADS="1",
        )
        cmd = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "_mutant_plugin"]
        cmd += ["-p", "no:cacheprovider", *tests]
        try:
            proc = subprocess.run(
                cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
            )
        except subprocess.TimeoutExpired:
            return "killed (timeout)"
        if proc.returncode == 0:
            return "SURVIVED"
        if proc.returncode in (1,):
            return "killed"
        return f"error (pytest exit {proc.returncode})"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("module", nargs="?", default="verify/checks.py")
    p.add_argument("--tests", nargs="+", default=list(DEFAULT_TESTS))
    p.add_argument("--list", action="store_true", help="list the mutants and exit")
    p.add_argument("--only", type=int, nargs="+", help="run these mutant indices only")
    p.add_argument("--timeout", type=float, default=180.0, help="seconds per mutant")
    args = p.parse_args(argv)
    path = ROOT / args.module
    module = args.module.removesuffix(".py").replace("/", ".")
    found = mutants(path)
    survivors = []
    start = time.monotonic()
    for m, source in found:
        if args.only and m.index not in args.only:
            continue
        if args.list:
            print(f"{m.index:3d}  line {m.line:4d}  {m.description}")
            continue
        outcome = run_one(module, source, args.tests, args.timeout)
        print(f"{m.index:3d}  line {m.line:4d}  {m.description:40s}  {outcome}", flush=True)
        if outcome == "SURVIVED":
            survivors.append(m)
    if not args.list:
        ran = len(args.only) if args.only else len(found)
        print(
            f"\n{args.module}: {ran} mutants, {ran - len(survivors)} killed, "
            f"{len(survivors)} survived ({time.monotonic() - start:.0f} s; tests: "
            f"{' '.join(args.tests)})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
