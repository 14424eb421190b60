"""Benchmark: how fast the command lines answer, side by side with ``python -c "import torch"``.

``verify-theorem`` and ``sharpness-train`` answer ``--help``, ``--list``, ``--version`` and bad
input without importing torch, so each should take less time than importing torch alone. Every
case runs the installed command as a fresh process (what a user or a test pays), ``--repeat``
times, and reports the median wall time next to the median of ``python -c "import torch"``
measured in the same session, interleaved with the cases. Before its time counts, each case is
checked: the exit code is the expected one, and a run under ``PYTHONPROFILEIMPORTTIME`` (the
environment form of ``python -X importtime``) shows that none of torch, numpy, scipy or sympy
was imported (the ``light`` column).

    python -m benchmarks.bench_startup              # 5 runs per case
    python -m benchmarks.bench_startup --json       # one JSON object
    python -m benchmarks.bench_startup --repeat 1   # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = ["CASES", "Case", "main", "parser", "run"]

HEAVY = ("torch", "numpy", "scipy", "sympy")


@dataclass(frozen=True)
class Case:
    """One command line and the exit code it must return."""

    command: str
    args: tuple[str, ...]
    exit_code: int

    @property
    def label(self) -> str:
        return " ".join((self.command, *self.args))


CASES = (
    Case("verify-theorem", ("--help",), 0),
    Case("verify-theorem", ("--list",), 0),
    Case("verify-theorem", ("--version",), 0),
    Case("verify-theorem", ("4.1", "--d", "1"), 2),
    Case("verify-theorem", ("nosuch",), 2),
    Case("sharpness-train", ("--help",), 0),
    Case("sharpness-train", ("--version",), 0),
    Case("sharpness-train", ("--lr", "-1", "--out", "unused"), 2),
)


def _argv(command: str) -> list[str]:
    exe = Path(sys.executable).with_name(command)
    if exe.exists():
        return [str(exe)]
    found = shutil.which(command)
    if found:
        return [found]
    module = "verify" if command == "verify-theorem" else "sharpness.training.cli"
    return [sys.executable, "-m", module]


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    env.pop("PYTHONPROFILEIMPORTTIME", None)
    env.update(extra)
    return env


def _once(argv: list[str]) -> tuple[float, int]:
    t = time.perf_counter()
    p = subprocess.run(argv, capture_output=True, env=_env(), timeout=600)
    return time.perf_counter() - t, p.returncode


def _heavy_imports(argv: list[str]) -> list[str]:
    p = subprocess.run(
        argv, capture_output=True, text=True, env=_env(PYTHONPROFILEIMPORTTIME="1"), timeout=600
    )
    imported = {
        line.rsplit("|", 1)[1].strip()
        for line in p.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    return sorted(imported & set(HEAVY))


def run(args: argparse.Namespace) -> dict:
    """Time every case and the ``import torch`` baseline; return one JSON-able object."""
    baseline_argv = [sys.executable, "-c", "import torch"]
    floor_argv = [sys.executable, "-c", "pass"]
    baseline, floor, rows = [], [], []
    for case in CASES:
        argv = _argv(case.command) + list(case.args)
        heavy = _heavy_imports(argv)
        times, codes = [], set()
        for _ in range(args.repeat):  # interleaved, so load changes hit both sides alike
            baseline.append(_once(baseline_argv)[0])
            floor.append(_once(floor_argv)[0])
            dt, code = _once(argv)
            times.append(dt)
            codes.add(code)
        rows.append(
            {
                "case": case.label,
                "seconds": statistics.median(times),
                "exit_codes": sorted(codes),
                "exit_ok": codes == {case.exit_code},
                "heavy_imports": heavy,
                "light": not heavy,
            }
        )
    torch_s = statistics.median(baseline)
    for r in rows:
        r["import_torch_seconds"] = torch_s
        r["fraction_of_import_torch"] = r["seconds"] / torch_s
        r["faster_than_import_torch"] = r["seconds"] < torch_s
    return {
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
        },
        "repeat": args.repeat,
        "import_torch_seconds": torch_s,
        "python_pass_seconds": statistics.median(floor),
        "rows": rows,
        "cases": [asdict(c) for c in CASES],
        "all_light": all(r["light"] for r in rows),
        "all_exit_ok": all(r["exit_ok"] for r in rows),
        "all_faster_than_import_torch": all(r["faster_than_import_torch"] for r in rows),
    }


def _print(out: dict) -> None:
    m = out["machine"]
    print(f"machine: {m['platform']}, Python {m['python']}, {m['cpus']} CPUs; "
          f"median of {out['repeat']} fresh processes per case")  # fmt: skip
    print(f"baseline: python -c 'import torch' {out['import_torch_seconds']:.3f} s "
          f"(python -c pass {out['python_pass_seconds']:.3f} s)\n")  # fmt: skip
    width = max(len(r["case"]) for r in out["rows"])
    print(f"  {'case'.ljust(width)}  seconds  / import torch  exit  light")
    for r in out["rows"]:
        light = "yes" if r["light"] else "NO: " + ", ".join(r["heavy_imports"])
        print(f"  {r['case'].ljust(width)}  {r['seconds']:7.3f}  {r['fraction_of_import_torch']:13.2f}"
              f"  {'ok' if r['exit_ok'] else 'BAD ' + str(r['exit_codes']):>4}  {light}")  # fmt: skip
    print(f"\nevery case faster than import torch: "
          f"{'yes' if out['all_faster_than_import_torch'] else 'NO'}; "
          f"none imports torch/numpy/scipy/sympy: {'yes' if out['all_light'] else 'NO'}")  # fmt: skip


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_startup", description=__doc__.split("\n")[0]
    )
    p.add_argument("--repeat", type=int, default=5, help="fresh processes per case (default 5)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.repeat < 1:
        print(f"bench_startup: error: --repeat must be >= 1, got {args.repeat}", file=sys.stderr)
        return 2
    out = run(args)
    if args.json:
        print(json.dumps(out, sort_keys=True, indent=2))
    else:
        _print(out)
    return 0 if out["all_light"] and out["all_exit_ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
