"""Issue 5 benchmarks: exact evaluation at the paper's scale, ours and the baselines side by side.

    python -m benchmarks.run            # d = 30, width 100 / 500, n = 100 (about a minute)
    python -m benchmarks.run --json     # one JSON object
    python -m benchmarks.run --quick    # tiny sizes (what tests/benchmarks runs; agreement only)

Every row is measured in this one process, ours right next to its baseline, and reports
ours/baseline as a speed-up. Before a time is reported, the result is checked against a slow
reference on the same case (the ``agree`` column); a row that disagrees says so.

1. **Full hypercube, general weights** (Props. 4.1-4.2): a Gaussian 2-MLP-Bias of width 100 at
   d = 30, all 2^30 points, by :func:`sharpness.hypercube.enumeration.fast_hypercube_error` (low/high
   coordinate tables, compiled kernel, exact sign decisions). Baseline: the naive chunked torch
   forward (float64), timed on one sub-cube of 2^21 points (25 minutes for the whole cube is not
   worth waiting for); the same sub-cube is evaluated by ours and both counts must agree.
2. **Sub-cube pruning** at d = 64 (2^64 points) for the paper's constructions: Theorem 4.1's
   memorizing network (Prop. 4.1; depth 2 and 3) and Eq. (5)'s four-neuron network (Prop. 4.2).
   Agreement: the exact count must equal the proposition's closed form 2^d - n (resp. 0), and
   the same code must match naive enumeration at d = 16. The naive time is extrapolated.
3. **Exact Tr(nabla^2 L)** at width 500, d = 30, n = 100 for 2-MLP-Bias, 2-MLP-No-Bias,
   3-layer MLP-Bias, softplus, 2-MLP-Sim-LN and 2-MLP-Sim-BN (:func:`sharpness.hessian_trace`,
   kink check included). Baselines: BackPACK's ``DiagHessian`` (ReLU MLPs only; its diagonal must
   equal ours entry by entry); where it does not apply, the target is <= 3x BackPACK's time on
   2-MLP-Bias, and agreement is with the autograd per-unit HVP path of
   :mod:`sharpness.trace.hessian`. Dense ``torch.func.hessian`` is timed at width 100 (at width
   500 it needs about 2 GB); every architecture is also checked against it at width 40.
4. **Hutchinson** (Rademacher probes, the PyHessian/curvlinops estimator) for context: the
   number of Hessian-vector products for a standard error of 1% of the exact trace, from the
   sample variance of 64 probes, times the measured time per probe.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import time
import warnings
from dataclasses import asdict, dataclass

import numpy as np
import torch

__all__ = ["Row", "main", "run"]


@dataclass(frozen=True)
class Row:
    """One benchmark: ours and a baseline, timed in the same process."""

    section: str
    case: str
    ours_s: float
    baseline: str
    baseline_s: float | None
    agree: bool
    detail: str

    @property
    def speedup(self) -> float | None:
        return None if not self.baseline_s else self.baseline_s / self.ours_s


def _time(fn, repeat: int = 5, min_total: float = 0.2):
    """(median seconds per call, last result); at least ``repeat`` calls and ``min_total`` s."""
    out = fn()  # warm-up (lazy imports, allocator)
    times = []
    start = time.perf_counter()
    while len(times) < repeat or time.perf_counter() - start < min_total:
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
        if len(times) >= 200:
            break
    return statistics.median(times), out


# --- 1. full hypercube -----------------------------------------------------------------------


def _naive_subcube(net, k0: int, bits: int, chunk: int = 1 << 16):
    """Naive chunked float64 forward over indices k0 .. k0 + 2^bits (a sub-cube)."""
    from constructions.hypercube import hypercube_points

    mistakes, sse = 0, 0.0
    for s in range(k0, k0 + (1 << bits), chunk):
        X = hypercube_points(torch.arange(s, min(s + chunk, k0 + (1 << bits))), net.d)
        y = X[:, 0] * X[:, 1]
        f = net(X)
        mistakes += int(torch.sum(y * f <= 0))
        sse += float(torch.sum((f - y) ** 2))
    return mistakes, sse


def bench_hypercube(d: int, width: int, sub_bits: int) -> list[Row]:
    from constructions import random_network
    from sharpness.hypercube.enumeration import CubeEnumerator, fast_hypercube_error

    net = random_network(d, width, seed=0)
    sub_bits = min(sub_bits, d)
    # The sub-cube with coordinates sub_bits .. d-1 all = -1 (index bits set): indices k0 ...
    k0 = ((1 << d) - 1) ^ ((1 << sub_bits) - 1)
    t = time.perf_counter()
    naive_m, naive_sse = _naive_subcube(net, k0, sub_bits)
    naive_s = time.perf_counter() - t
    naive_rate = (1 << sub_bits) / naive_s
    fixed = list(range(sub_bits, d))
    enum = CubeEnumerator(net, backend="compiled" if d >= 20 else "eager")
    assign = -torch.ones(1, len(fixed), dtype=torch.int8)
    t = time.perf_counter()
    sub = enum.run(fixed, list(range(sub_bits)), assign)  # also compiles the kernel (warm-up)
    first_s = time.perf_counter() - t
    agree = sub.mistakes == naive_m and math.isclose(sub.sse, naive_sse, rel_tol=1e-12)
    t = time.perf_counter()
    hc = fast_hypercube_error(net, backend="auto", progress=False)
    ours_s = time.perf_counter() - t
    naive_full = (1 << d) / naive_rate
    return [
        Row(
            "hypercube",
            f"2-MLP-Bias width {width}, all 2^{d} points",
            ours_s,
            f"naive chunked forward (rate on 2^{sub_bits} points, extrapolated)",
            naive_full,
            agree,
            f"ours {(1 << d) / ours_s / 1e6:.1f} M points/s vs naive {naive_rate / 1e6:.2f} M/s; "
            f"{hc.errors} mistakes, MSE {hc.mse:.6g}, {hc.exact_rechecks} exact rechecks; "
            f"sub-cube check: {sub.mistakes} vs naive {naive_m} (first call incl. compile "
            f"{first_s:.1f} s)",
        )
    ]


# --- 2. pruning ------------------------------------------------------------------------------


def bench_pruning(d: int, n: int, naive_rate: float, check_d: int) -> list[Row]:
    from constructions import four_neuron_solution, memorizing_solution, sample_xor
    from sharpness.hypercube.error import hypercube_error
    from sharpness.reference import naive_hypercube_error

    rows = []
    cases = []
    for depth in (2, 3):
        ds = sample_xor(d, n, 0)
        small = sample_xor(check_d, min(n, 2**check_d // 4), 0)

        def build(data, depth=depth):
            return memorizing_solution(
                data, depth, directions="sphere", epsilon=1 / math.sqrt(data.d)
            ).network

        cases.append((f"memorizing (Thm 4.1) depth {depth}, n={n}", build(ds), 2**d - n,
                      build(small), 2**check_d - small.n))  # fmt: skip
    cases.append(("four-neuron Eq. (5)", four_neuron_solution(d).network, 0,
                  four_neuron_solution(check_d).network, 0))  # fmt: skip
    for name, net, expected, small_net, small_expected in cases:
        t = time.perf_counter()
        hc = hypercube_error(net, progress=False)
        ours_s = time.perf_counter() - t
        small_hc = hypercube_error(small_net, progress=False)
        naive_small = naive_hypercube_error(small_net)[0]
        agree = (
            hc.errors == expected
            and hc.evaluated == 0
            and small_hc.errors == naive_small == small_expected
        )
        rows.append(
            Row(
                "pruning",
                f"{name}, d={d} (2^{d} points)",
                ours_s,
                "naive enumeration (extrapolated)",
                (1 << d) / naive_rate,
                agree,
                f"{hc.errors} mistakes = closed form {expected}: {hc.errors == expected}; "
                f"{hc.evaluated} points enumerated; d={check_d} vs naive: "
                f"{small_hc.errors} / {naive_small}",
            )
        )
    return rows


# --- 3. traces -------------------------------------------------------------------------------


def _networks(d: int, width: int, ds):
    from constructions import Network, SimBN, SimLN, random_network

    g = torch.Generator().manual_seed(7)
    nets = {
        "2-MLP-Bias": random_network(d, width, seed=1),
        "2-MLP-No-Bias": random_network(d, width, bias=False, seed=2),
        "3-layer MLP-Bias": random_network(d, [width, width], seed=3),
        "2-MLP-Bias softplus": random_network(d, width, activation="softplus", seed=4),
    }
    p = {
        "W1": torch.randn(width, d, generator=g, dtype=torch.float64) / math.sqrt(d),
        "b1": torch.randn(width, generator=g, dtype=torch.float64),
        "W2": torch.randn(1, width, generator=g, dtype=torch.float64) / math.sqrt(width),
    }
    nets["2-MLP-Sim-LN"] = Network(SimLN(0.1), p)
    pb = dict(p, gamma=torch.randn(width, generator=g, dtype=torch.float64))
    nets["2-MLP-Sim-BN"] = Network(SimBN(), pb, reference=ds.X)
    return nets


def _backpack(net, X, y):
    """BackPACK DiagHessian on the same ReLU MLP: (function returning the diagonal dict) or None.

    The torch model is :func:`constructions.to_torch` of the network; architectures it does not
    map (Sim-LN, Sim-BN) and softplus (BackPACK's DiagHessian has no softplus) have no baseline.
    """
    from constructions import to_torch

    if net.arch.activation != "relu":
        return None
    try:
        model = to_torch(net)
    except ValueError:
        return None
    try:
        from backpack import backpack, extend
        from backpack.extensions import DiagHessian
    except ImportError:
        return None
    model = extend(model)
    lossf = extend(torch.nn.MSELoss())
    yy = y[:, None]

    def diag():
        model.zero_grad()
        loss = lossf(model(X), yy)
        with backpack(DiagHessian()), warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "full backward hook ... no inputs"
            loss.backward()
        out = {}
        for j, lin in enumerate(m for m in model if isinstance(m, torch.nn.Linear)):
            out[f"W{j + 1}"] = lin.weight.diag_h.detach().clone()
            if lin.bias is not None:
                out["b1"] = lin.bias.diag_h.detach().clone()
        return out

    return diag


def autograd_diagonal(net, X, y):
    """The generic autograd path of :mod:`sharpness.trace.hessian` (one HVP per hidden unit),
    bypassing the closed forms the architectures register: the width-500 reference."""
    from sharpness.trace.hessian import autograd_hessian_diagonal

    return autograd_hessian_diagonal(net, X, y)


def _close(a: dict, b: dict, keys) -> bool:
    return all(
        torch.allclose(a[k].reshape(-1), b[k].reshape(-1), rtol=1e-9, atol=1e-12) for k in keys
    )


def _hutchinson(net, X, y, exact: float, probes: int, seed: int = 0):
    """(HVPs needed for a 1% standard error, seconds per HVP) with Rademacher probes."""
    from sharpness.reference import _flat_loss

    loss, flat = _flat_loss(net, X, y)
    g = torch.Generator().manual_seed(seed)
    V = (torch.randint(0, 2, (probes, flat.numel()), generator=g) * 2 - 1).to(flat.dtype)
    hvp = torch.func.vmap(lambda v: torch.func.jvp(torch.func.grad(loss), (flat,), (v,))[1])
    t = time.perf_counter()
    HV = hvp(V)
    per = (time.perf_counter() - t) / probes
    est = torch.sum(V * HV, dim=1)
    sd = float(est.std())
    needed = max(1, math.ceil((sd / (0.01 * abs(exact))) ** 2))
    return needed, per, float(est.mean()), sd


def bench_traces(d: int, n: int, width: int, dense_width: int, check_width: int, probes: int):
    from constructions import sample_xor
    from sharpness.reference import dense_hessian
    from sharpness.trace.hessian import hessian_diagonal, hessian_trace

    ds = sample_xor(d, n, 0)
    X, y = torch.tensor(np.array(ds.X)), torch.tensor(np.array(ds.y))
    rows = []
    # Agreement with the dense reference at a small width, for every architecture.
    dense_ok = {}
    for name, net in _networks(d, check_width, ds).items():
        ref = torch.diagonal(dense_hessian(net, X, y))
        ours = hessian_diagonal(net, X, y)
        flat = torch.cat([ours[k].reshape(-1) for k in net.arch.param_names])
        dense_ok[name] = bool(torch.allclose(flat, ref, rtol=1e-9, atol=1e-12))
    nets = _networks(d, width, ds)
    bp_ref_s = None
    for name, net in nets.items():
        ours_s, tr = _time(lambda net=net: hessian_trace(net, X, y))
        ours_diag = hessian_diagonal(net, X, y)
        bp = _backpack(net, X, y)
        if bp is not None:
            bp_s, bp_diag = _time(bp)
            agree = dense_ok[name] and _close(ours_diag, bp_diag, net.arch.param_names)
            if name == "2-MLP-Bias":
                bp_ref_s = bp_s
            base, base_s = "BackPACK DiagHessian", bp_s
            note = "target: at least as fast as BackPACK"
        else:
            if name == "2-MLP-Sim-BN":  # no per-unit HVP path (examples interact): dense check
                agree = dense_ok[name]
            else:
                agree = dense_ok[name] and _close(
                    ours_diag, autograd_diagonal(net, X, y), net.arch.param_names
                )
            base = "3x BackPACK DiagHessian on 2-MLP-Bias (BackPACK cannot run this)"
            base_s = None if bp_ref_s is None else 3 * bp_ref_s
            note = "target: <= 3x BackPACK's 2-MLP-Bias time"
        rows.append(
            Row(
                "trace",
                f"{name}, width {width}, d={d}, n={n}",
                ours_s,
                base,
                base_s,
                agree,
                f"Tr = {tr:.10g}; {note}; dense check at width {check_width}: {dense_ok[name]}",
            )
        )
    # Dense torch.func.hessian at a width where it fits, ours at the same width.
    net = _networks(d, dense_width, ds)["2-MLP-Bias"]
    t = time.perf_counter()
    dense_tr = float(torch.trace(dense_hessian(net, X, y)))
    dense_s = time.perf_counter() - t
    ours_s, tr = _time(lambda: hessian_trace(net, X, y))
    rows.append(
        Row(
            "trace",
            f"2-MLP-Bias, width {dense_width} (dense fits)",
            ours_s,
            "dense torch.func.hessian",
            dense_s,
            math.isclose(tr, dense_tr, rel_tol=1e-9, abs_tol=1e-12),
            f"Tr = {tr:.10g} vs dense {dense_tr:.10g}",
        )
    )
    # Hutchinson, for context, on the width-`width` networks.
    for name in ("2-MLP-Bias", "2-MLP-Sim-LN"):
        net = nets[name]
        ours_s, tr = _time(lambda net=net: hessian_trace(net, X, y))
        needed, per, mean, sd = _hutchinson(net, X, y, tr, probes)
        rows.append(
            Row(
                "hutchinson",
                f"{name}, width {width}: 1% standard error",
                ours_s,
                f"Hutchinson, {needed} Rademacher HVPs (projected from {probes})",
                needed * per,
                abs(mean - tr) <= 5 * sd / math.sqrt(probes),  # unbiased: within 5 sigma
                f"{per * 1e3:.2f} ms per HVP; {probes}-probe mean {mean:.6g} vs exact {tr:.6g}",
            )
        )
    return rows


# --- driver ----------------------------------------------------------------------------------


def run(args) -> dict:
    torch.manual_seed(0)
    rows: list[Row] = []
    only = set(args.only or ("hypercube", "pruning", "trace"))
    if only & {"hypercube", "pruning"}:
        rows += bench_hypercube(args.d, args.width, args.sub_bits)
        naive_rate = (1 << args.d) / rows[0].baseline_s  # points/s of the naive forward
    if "pruning" in only:
        rows += bench_pruning(args.prune_d, args.n, naive_rate, args.check_d)
    if "trace" in only:
        rows += bench_traces(
            args.d, args.n, args.trace_width, args.dense_width, args.check_width, args.probes
        )
    return {
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(),
        },
        "parameters": {k: v for k, v in vars(args).items() if k != "json"},
        "rows": [dict(asdict(r), speedup=r.speedup) for r in rows],
        "all_agree": all(r.agree for r in rows),
    }


def _print(out: dict) -> None:
    m = out["machine"]
    print(f"machine: {m['platform']}, {m['processor']}, Python {m['python']}, torch {m['torch']}, "
          f"{m['torch_threads']} threads")  # fmt: skip
    print(f"parameters: {out['parameters']}")
    section = None
    for r in out["rows"]:
        if r["section"] != section:
            section = r["section"]
            print(f"\n[{section}]")
        base = "n/a" if r["baseline_s"] is None else f"{r['baseline_s']:.4g} s"
        speed = "n/a" if r["speedup"] is None else f"{r['speedup']:.3g}x"
        print(f"  {r['case']}")
        print(f"    ours {r['ours_s']:.4g} s | {r['baseline']}: {base} | speed-up {speed} | "
              f"agree: {'yes' if r['agree'] else 'NO'}")  # fmt: skip
        print(f"    {r['detail']}")
    print(f"\nall results agree with their references: {'yes' if out['all_agree'] else 'NO'}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n")[0])
    p.add_argument("--d", type=int, default=30, help="hypercube and trace dimension")
    p.add_argument("--n", type=int, default=100)
    p.add_argument("--width", type=int, default=100, help="width of the hypercube network")
    p.add_argument("--sub-bits", type=int, default=21, help="log2 points of the naive timing")
    p.add_argument("--prune-d", type=int, default=64)
    p.add_argument("--check-d", type=int, default=16, help="d of the pruning-vs-naive check")
    p.add_argument("--trace-width", type=int, default=500)
    p.add_argument("--dense-width", type=int, default=100)
    p.add_argument("--check-width", type=int, default=40)
    p.add_argument("--probes", type=int, default=64)
    p.add_argument(
        "--only",
        action="append",
        choices=("hypercube", "pruning", "trace", "training", "startup"),
        help="run only this section (repeatable; default all but training with --quick; "
        "pruning also runs hypercube; training is python -m benchmarks.bench_training, startup "
        "python -m benchmarks.bench_startup)",
    )
    p.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    if args.quick:
        args.d, args.n, args.width, args.sub_bits = 12, 20, 8, 8
        args.prune_d, args.check_d = 20, 8
        args.trace_width, args.dense_width, args.check_width, args.probes = 12, 6, 5, 16
    training = args.only is None and not args.quick or "training" in (args.only or ())
    startup = args.only is None or "startup" in (args.only or ())
    if args.only and set(args.only) <= {"training", "startup"}:
        out = {"rows": [], "all_agree": True}
    else:
        out = run(args)
    if startup:  # the command lines against `python -c "import torch"`, fresh processes
        from benchmarks import bench_startup

        out["startup"] = bench_startup.run(
            bench_startup.parser().parse_args(["--repeat", "1" if args.quick else "5"])
        )
    if training:  # issue 6: the trainer against the naive PyTorch loop, same process
        from benchmarks import bench_training

        targs = bench_training.parser().parse_args([])
        if args.quick:
            targs.width, targs.d, targs.n = 16, 6, 10
            targs.naive_steps, targs.fast_steps, targs.agree_steps = 20, 200, 20
            targs.seeds, targs.trainer_epochs, targs.rounds = 2, 0, 1
        out["training"] = bench_training.run(targs)
    if args.json:
        print(json.dumps(out, sort_keys=True, indent=2))
    else:
        if out["rows"]:
            _print(out)
        if training:
            from benchmarks import bench_training

            bench_training._print(out["training"])
        if startup:
            from benchmarks import bench_startup

            bench_startup._print(out["startup"])
    ok = out["all_agree"]
    if startup:  # a heavy import or a wrong exit code is a failure; the times are measurements
        ok = ok and out["startup"]["all_light"] and out["startup"]["all_exit_ok"]
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
