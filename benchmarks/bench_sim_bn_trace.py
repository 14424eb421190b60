"""Benchmark: the exact 2-MLP-Sim-BN trace in closed form against the autograd route, side by side.

Ours: :func:`sharpness.architectures.sim_bn.hessian_trace_sim_bn` (three matrix products, issue 14
section 5). The old path: the sum of :func:`~sharpness.architectures.sim_bn.hessian_diagonal_sim_bn_jvp`
(d + 3 vmapped forward-over-forward JVPs), which is what ``hessian_trace`` ran for Sim-BN before.
For the target ("within 2x of the 2-MLP-Bias trace") the 2-MLP-Bias ``hessian_trace`` is timed in
the same run. Each pair is timed alternately (median of repeats), with and without the kink
check, and the two traces are compared (float64 policy, rtol 1e-9).

    python -m benchmarks.bench_sim_bn_trace                 # widths 100, 500, 1000, 5000
    python -m benchmarks.bench_sim_bn_trace --json
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import time

import numpy as np
import torch

__all__ = ["main"]


def _median_ms(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times)


def _problem(m: int, d: int, n: int, seed: int):
    from constructions import MLP, Network, SimBN

    rng = np.random.default_rng(seed)
    X = torch.tensor(np.sign(rng.normal(size=(n, d))))
    y = torch.tensor(np.sign(rng.normal(size=n)))
    W1, b1 = rng.normal(size=(m, d)) / math.sqrt(d), 0.3 * rng.normal(size=m)
    W2 = rng.normal(size=(1, m)) / math.sqrt(m)
    simbn = Network(SimBN(), {"W1": W1, "b1": b1, "gamma": rng.normal(size=m), "W2": W2})
    mlp = Network(MLP(2, bias=True), {"W1": W1, "b1": b1, "W2": W2})
    return simbn, mlp, X, y


def measure(m: int, *, d: int = 30, n: int = 100, repeats: int = 7, seed: int = 0) -> dict:
    from constructions.tolerance import tolerance_for
    from sharpness import hessian_trace
    from sharpness.architectures.sim_bn import hessian_diagonal_sim_bn_jvp, hessian_trace_sim_bn

    net, mlp, X, y = _problem(m, d, n, seed)

    def old(check):
        diag = hessian_diagonal_sim_bn_jvp(net, X, y, check_kinks=check)
        return float(sum(torch.sum(v) for v in diag.values()))

    ours_value, old_value = hessian_trace_sim_bn(net, X, y), old(True)
    out = {"width": m, "d": d, "n": n, "trace": ours_value}
    out["agrees"] = tolerance_for(torch.float64).close(ours_value, old_value)
    for check in (True, False):
        tag = "checked" if check else "unchecked"
        reps = max(1, repeats // 3) if m >= 2000 else repeats
        old_ms = _median_ms(lambda c=check: old(c), reps)
        ours_ms = _median_ms(lambda c=check: hessian_trace_sim_bn(net, X, y, check_kinks=c), reps)
        mlp_ms = _median_ms(lambda c=check: hessian_trace(mlp, X, y, check_kinks=c), reps)
        out[tag] = {
            "ours_ms": ours_ms,
            "old_ms": old_ms,
            "speedup": old_ms / ours_ms,
            "mlp_bias_ms": mlp_ms,
            "vs_mlp_bias": ours_ms / mlp_ms,
        }
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.bench_sim_bn_trace")
    p.add_argument("--widths", type=int, nargs="+", default=[100, 500, 1000, 5000])
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    torch.set_num_threads(1)  # the thread policy (sharpness/_threads.py)
    rows = [measure(m, repeats=args.repeats) for m in args.widths]
    head = {
        "machine": platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
    }
    if args.json:
        print(json.dumps({**head, "rows": rows}, sort_keys=True))
        return 0
    print(f"torch {head['torch']}, {head['threads']} thread(s); d = 30, n = 100, y = +-1 (r != 0)")
    print(
        "width | kink check | ours (closed form) | old (JVP diagonal) | speedup | 2-MLP-Bias | ours / Bias | agrees"
    )
    for r in rows:
        for tag in ("checked", "unchecked"):
            t = r[tag]
            print(
                f"{r['width']} | {'yes' if tag == 'checked' else 'no'} | {t['ours_ms']:.3f} ms | "
                f"{t['old_ms']:.2f} ms | {t['speedup']:.0f}x | {t['mlp_bias_ms']:.3f} ms | "
                f"{t['vs_mlp_bias']:.2f}x | {'yes' if r['agrees'] else 'NO'}"
            )
    return 0 if all(r["agrees"] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
