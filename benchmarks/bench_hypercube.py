"""The exact hypercube enumeration against the naive forward and against the machine's limit.

    python -m benchmarks.bench_hypercube                 # d = 10 .. 30, width 100 (about 1 min)
    python -m benchmarks.bench_hypercube --d 30 --json   # one JSON object
    python -m benchmarks.bench_hypercube --quick         # tiny sizes (agreement only)

For each d, in this one process and one right after the other:

* **ours**: :func:`sharpness.hypercube.enumeration.fast_hypercube_error` with ``backend="auto"``
  (the C kernel of :mod:`sharpness.hypercube.kernels.cube_relu2`: every point, exact sign
  decisions), all 2^d points;
* **torch path**: the same enumeration on the torch path the project used before the C kernel
  (``backend="eager"``; only where it takes under a few seconds);
* **naive**: the chunked float64 forward ``net(X)`` of ``benchmarks.run`` over all points, or,
  above ``--sub-bits``, over one sub-cube of 2^sub_bits points, extrapolated;
Every time is the best of repeated runs where one run takes under a second (the machine is
shared), a single run above; the limit is the better of two measurements, just before and just after ours.

* **limit**: the machine's rate for the kernel's instruction pair (max + fused multiply-add, on
  registers, no memory; ``CubeKernel.limit``), measured now on the same number of threads:
  points x width / rate is the time no evaluation with two operations per neuron and point can
  beat here.

Agreement: ours equals the naive count (and MSE to 1e-12) on the whole cube where it is
enumerated, and on the naive sub-cube (the same points, by :class:`CubeEnumerator`) otherwise;
Gaussian weights put no point within rounding of f = 0, so the float count is right there.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time

import torch

__all__ = ["main", "run"]


def _timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


#: Seconds of repeats per timing, and of each limit measurement (``--quick`` shrinks both).
BUDGET = {"repeat": 1.0, "limit": 0.3}


def _best(fn, budget: float | None = None):
    """(best seconds, result) over repeated calls while they total under ``budget`` seconds."""
    budget = BUDGET["repeat"] if budget is None else budget
    times = []
    while not times or (sum(times) < budget and len(times) < 50):
        t, out = _timed(fn)
        times.append(t)
    return min(times), out


def bench_d(d: int, width: int, sub_bits: int, threads: int, eager_max_d: int) -> dict:
    from benchmarks.run import _naive_subcube
    from constructions import random_network
    from sharpness.hypercube.enumeration import CubeEnumerator, fast_hypercube_error
    from sharpness.hypercube.kernels import load_cube_kernel

    net = random_network(d, width, seed=0)
    points = 1 << d
    bits = min(sub_bits, d)
    k0 = (points - 1) ^ ((1 << bits) - 1)  # coordinates bits .. d-1 all -1
    naive_s, (naive_m, naive_sse) = _best(lambda: _naive_subcube(net, k0, bits))
    naive_full = naive_s * (points >> bits)
    kernel = load_cube_kernel(net.dtype)
    rate = kernel.limit(BUDGET["limit"], threads)
    fast_hypercube_error(random_network(d, width, seed=1), progress=False, threads=threads)  # warm
    ours_s, hc = _best(lambda: fast_hypercube_error(net, progress=False, threads=threads))
    rate = max(
        rate, kernel.limit(BUDGET["limit"], threads)
    )  # the limit's best rate, before and after
    if bits == d:
        agree = hc.errors == naive_m and math.isclose(hc.mse * points, naive_sse, rel_tol=1e-12)
    else:
        fixed = list(range(bits, d))
        enum = CubeEnumerator(net, threads=threads)
        sub = enum.run(fixed, list(range(bits)), -torch.ones(1, len(fixed), dtype=torch.int8))
        agree = sub.mistakes == naive_m and math.isclose(sub.sse, naive_sse, rel_tol=1e-12)
    eager_s = None
    if d <= eager_max_d:
        eager_s, he = _best(lambda: fast_hypercube_error(net, backend="eager", progress=False))
        agree = agree and he.errors == hc.errors and math.isclose(he.mse, hc.mse, rel_tol=1e-12)
    limit_s = points * width / rate
    return {
        "d": d,
        "width": width,
        "points": points,
        "neuron_evaluations": points * width,
        "ours_s": ours_s,
        "naive_s": naive_full,
        "naive_measured_points": 1 << bits,
        "torch_path_s": eager_s,
        "limit_s": limit_s,
        "limit_evaluations_per_s": rate,
        "speedup_vs_naive": naive_full / ours_s,
        "ours_over_limit": ours_s / limit_s,
        "errors": hc.errors,
        "mse": hc.mse,
        "exact_rechecks": hc.exact_rechecks,
        "agree": bool(agree),
    }


def run(ds, width: int, sub_bits: int, threads: int, eager_max_d: int) -> dict:
    rows = [bench_d(d, width, sub_bits, threads, eager_max_d) for d in ds]
    return {
        "machine": f"{platform.platform()}, {platform.processor() or platform.machine()}",
        "torch": torch.__version__,
        "threads": threads,
        "rows": rows,
        "all_agree": all(r["agree"] for r in rows),
    }


def _print(out: dict) -> None:
    print(f"{out['machine']}; torch {out['torch']}; {out['threads']} thread(s)")
    head = "d  | ours s   | torch path s | naive s    | limit s  | ours/limit | x naive | agree"
    print(head)
    for r in out["rows"]:
        tp = f"{r['torch_path_s']:.3f}" if r["torch_path_s"] is not None else "-"
        naive = f"{r['naive_s']:.3g}" + ("*" if r["naive_measured_points"] < r["points"] else "")
        print(
            f"{r['d']:<3}| {r['ours_s']:<9.4f}| {tp:<13}| {naive:<11}| {r['limit_s']:<9.4f}| "
            f"{r['ours_over_limit']:<11.2f}| {r['speedup_vs_naive']:<8.0f}| {r['agree']}"
        )
    print(
        "* naive extrapolated from one sub-cube; limit: max + FMA pairs on registers, measured now"
    )


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_hypercube", description=__doc__.split("\n")[0]
    )
    p.add_argument("--d", type=int, nargs="+", default=[10, 14, 18, 20, 22, 24, 26, 30])
    p.add_argument("--width", type=int, default=100)
    p.add_argument("--sub-bits", type=int, default=20, help="log2 points of the naive timing")
    p.add_argument("--threads", type=int, default=1, help="threads of the C kernel")
    p.add_argument("--eager-max-d", type=int, default=20, help="largest d for the torch path")
    p.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    if args.quick:
        args.d, args.width, args.sub_bits = [4, 11, 13], 7, 12
        BUDGET.update(repeat=0.0, limit=0.01)
    out = run(args.d, args.width, args.sub_bits, args.threads, args.eager_max_d)
    if args.json:
        json.dump(out, sys.stdout, indent=2)
        print()
    else:
        _print(out)
    return 0 if out["all_agree"] else 1


if __name__ == "__main__":
    sys.exit(main())
