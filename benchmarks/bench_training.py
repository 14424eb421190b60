"""Benchmark: the fast 1-SAM trainer against a naive PyTorch loop, side by side in one process.

The naive loop is what one writes first (issue 6): an ``nn.Module`` 2-layer network, batch size
1, a two-pass SAM step (backward, perturb by rho g/||g||, backward again, restore, SGD step).
The fast paths are :class:`sharpness.algorithms.CEngine` (closed-form rank-one per-example
gradient in C, one fused pass over W1 per step) for one run and for several seeds advanced in
one call, and for 2-MLP-Sim-BN, whose every step touches all n training points,
:class:`sharpness.algorithms.TorchEngine` (dense) and :class:`sharpness.algorithms.SimBNEngine`
(C, per-neuron second moments of the active points).

The memory-bound limit of a step is measured beside them: ``one_sam_sweep_*`` (in the
kernel's source) runs only the sweep over W1 that every step must make (rewrite each row with
the rank-one update, accumulate the next pre-activation), with none of the forward, backward or
SAM work; "kernel / limit" is the fraction of that speed the full 1-SAM step reaches (issue 14).
The trainer end to end is the ``sharpness-train`` command itself, with its default metrics
(exact Tr H and the sampled test error every epochs/20, the loss every epochs/100), timed as a
fresh process from start to exit, between two naive-loop measurements.

Before timing, the fast trainer is checked against the naive loop step for step in float64 on
the same configuration (max abs difference of the parameters).

    python -m benchmarks.bench_training            # width 500, d = 30, n = 100 (Table 2)
    python -m benchmarks.bench_training --trainer-epochs 20000 --seeds 16   # issue 14's figures
    python -m benchmarks.bench_training --trainer-only --trainer-epochs 100000   # 1e7 steps
    python -m benchmarks.bench_training --sim-bn-only --seeds 5   # Sim-BN engines only
    python -m benchmarks.bench_training --json     # one JSON object

Timings on a shared machine are noisy: every ratio is ours / naive measured in the same process,
one right after the other.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

__all__ = ["NaiveNet", "main", "naive_sam_steps"]


class NaiveNet(nn.Module):
    """f(x) = W2 relu(W1 x + b1), or the 2-MLP-Sim-BN head gamma * h / sqrt(mean_i h_i^2)."""

    def __init__(self, d: int, m: int, *, bias: bool = True, simbn: bool = False, dtype=None):
        super().__init__()
        self.fc1 = nn.Linear(d, m, bias=bias, dtype=dtype)
        self.fc2 = nn.Linear(m, 1, bias=False, dtype=dtype)
        self.simbn = simbn
        if simbn:
            self.gamma = nn.Parameter(torch.ones(m, dtype=dtype))

    def forward(self, x, reference=None):
        h = torch.relu(self.fc1(x))
        if self.simbn:
            a = torch.sqrt(torch.mean(torch.relu(self.fc1(reference)) ** 2, dim=0))
            h = self.gamma * h / a
        return self.fc2(h)[:, 0]

    def load(self, params: dict) -> NaiveNet:
        with torch.no_grad():
            self.fc1.weight.copy_(params["W1"])
            if "b1" in params:
                self.fc1.bias.copy_(params["b1"])
            self.fc2.weight.copy_(params["W2"])
            if self.simbn:
                self.gamma.copy_(params["gamma"])
        return self

    def dump(self) -> dict:
        out = {"W1": self.fc1.weight.detach().clone(), "W2": self.fc2.weight.detach().clone()}
        if self.fc1.bias is not None:
            out["b1"] = self.fc1.bias.detach().clone()
        if self.simbn:
            out["gamma"] = self.gamma.detach().clone()
        return out


def naive_sam_steps(model: NaiveNet, X, y, order, lr: float, rho: float, wd: float = 0.0):
    """The naive loop: one 1-SAM step per index in ``order`` (MSE), in place."""
    params = list(model.parameters())
    opt = torch.optim.SGD(params, lr=lr, weight_decay=wd)
    ref = X if model.simbn else None
    for k in order:
        k = int(k)
        xb, yb = X[k : k + 1], y[k : k + 1]
        opt.zero_grad()
        loss = torch.mean((model(xb, ref) - yb) ** 2)
        loss.backward()
        if rho > 0:
            norm = torch.sqrt(sum(torch.sum(p.grad**2) for p in params))
            saved = [p.detach().clone() for p in params]
            with torch.no_grad():
                if norm > 0:
                    for p in params:
                        p.add_(p.grad * (rho / norm))
            opt.zero_grad()
            loss = torch.mean((model(xb, ref) - yb) ** 2)
            loss.backward()
            with torch.no_grad():
                for p, s in zip(params, saved, strict=True):
                    p.copy_(s)
        opt.step()


def _setup(arch_name: str, width: int, d: int, n: int, seed: int):
    from sharpness.training.runs import Phase, TrainConfig, build_arch, initial_params, make_dataset

    cfg = TrainConfig(
        arch=arch_name, phases=(Phase(1, 0.01, 0.05),), width=width, d=d, n=n, seed=seed
    )
    arch = build_arch(cfg)
    X, y = make_dataset(cfg).tensors()
    return arch, X, y, initial_params(cfg, arch)


def _time(fn, min_seconds: float) -> float:
    """Seconds per call of fn() (repeated until min_seconds have passed; best of the repeats)."""
    fn()  # warm up
    best = math.inf
    spent = 0.0
    reps = 0
    while spent < min_seconds or reps < 3:
        t = time.perf_counter()
        fn()
        dt = time.perf_counter() - t
        best = min(best, dt)
        spent += dt
        reps += 1
    return best


def _stack(p0: dict, R: int, dtype) -> dict:
    return {k: torch.stack([v] * R).to(dtype).contiguous() for k, v in p0.items()}


def _sweep(R: int, m: int, d: int, n: int, T: int, dtype, threads: int, rng):
    """A call of the memory-bound limit loop (``one_sam_sweep_*``) on R runs of T steps."""
    from sharpness.training.kernels import OneSamArgs, load_kernel

    kernel = load_kernel()
    fn = kernel.sweep_f64 if dtype == torch.float64 else kernel.sweep_f32
    npdt = np.float64 if dtype == torch.float64 else np.float32
    W1T = (rng.uniform(-1, 1, size=(R, d, m)) / math.sqrt(d)).astype(npdt)
    X = (2.0 * rng.integers(0, 2, size=(R, n, d)) - 1).astype(npdt)
    order = rng.integers(0, n, size=(R, T)).astype(np.int32)
    work = np.zeros((R, 9 * m), dtype=npdt)
    work[:, m : 2 * m] = 1e-3 * rng.normal(size=(R, m))  # a fixed rank-one direction
    args = OneSamArgs.of(
        runs=R,
        width=m,
        dim=d,
        n=n,
        steps=T,
        W1T=W1T.ctypes.data,
        b1=None,
        W2=None,
        X=X.ctypes.data,
        y=None,
        order=order.ctypes.data,
        noise=None,
        work=work.ctypes.data,
        lr=0.01,
        rho=0.0,
        weight_decay=0.0,
        eps=0.0,
        smoothing=0.0,
        projection=-1.0,
        activation=0,
        head=0,
        loss=0,
        general=0,
        threads=min(threads, R),
    )
    keep = (W1T, X, order, work)

    def call(keep=keep):
        fn(ctypes.byref(args))

    return call


def _command(epochs: int, out: str) -> dict:
    """Run ``sharpness-train --epochs E --out OUT`` as a fresh process; its wall time and summary."""
    code = "import sys; from sharpness.training.cli import main; sys.exit(main())"
    cmd = [sys.executable, "-c", code, "--epochs", str(epochs), "--out", out]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise RuntimeError(f"sharpness-train failed ({proc.returncode}): {proc.stderr[-500:]}")
    summary = json.loads((Path(out) / "summary.json").read_text())
    metrics = [json.loads(line) for line in (Path(out) / "metrics.jsonl").read_text().splitlines()]
    return {
        "command": f"sharpness-train --epochs {epochs} --out DIR",
        "wall_s": wall,
        "train_s": summary["session_seconds"],
        "eval_s": summary["session_eval_seconds"],
        "steps": summary["steps"],
        "evaluations": sum("sharpness" in r for r in metrics),
        "loss_records": len(metrics),
        "test_methods": sorted({r["test_method"] for r in metrics if "test_method" in r}),
    }


def _trainer(epochs: int, naive_once) -> dict:
    """``sharpness-train --epochs E`` as a fresh process, between two naive-loop measurements."""
    before = naive_once()
    with tempfile.TemporaryDirectory() as tmp:
        cmd = _command(epochs, str(Path(tmp) / "run"))
    after = naive_once()
    side = (before + after) / 2
    cmd.update(
        {
            "epochs": epochs,
            "naive_steps_per_s_before_after": [before, after],
            "steps_per_s_command": cmd["steps"] / cmd["wall_s"],
            "steps_per_s_train": cmd["steps"] / cmd["train_s"],
            "vs_naive_command": cmd["steps"] / cmd["wall_s"] / side,
            "vs_naive_train": cmd["steps"] / cmd["train_s"] / side,
        }
    )
    return cmd


def run(args) -> dict:
    from sharpness.training.algorithms import CEngine, StepRule

    torch.set_num_threads(1)
    m, d, n = args.width, args.d, args.n
    lr, rho = 0.01, 0.05
    rule = StepRule(lr, rho)
    out = {
        "machine": f"{platform.processor() or platform.machine()}, {platform.system()}, "
        f"torch {torch.__version__}, {torch.get_num_threads()} torch thread(s)",
        "config": {"width": m, "d": d, "n": n, "lr": lr, "rho": rho, "batch_size": 1},
    }
    rng = np.random.default_rng(0)

    # ---- agreement, float64, step for step ------------------------------------------------
    arch, X, y, p0 = _setup("bias", m, d, n, 0)
    T = args.agree_steps
    order = rng.integers(0, n, size=T)
    naive = NaiveNet(d, m, dtype=torch.float64).load(p0)
    naive_sam_steps(naive, X, y, order, lr, rho)
    P = _stack(p0, 1, torch.float64)
    CEngine(arch).run(P, X[None], y[None], order[None], rule)
    ref = naive.dump()
    out["agreement_float64"] = {
        "steps": T,
        "max_abs_diff": max(float((P[k][0] - ref[k]).abs().max()) for k in ref),
        "max_abs_param": max(float(ref[k].abs().max()) for k in ref),
    }

    # ---- naive loop -------------------------------------------------------------------------
    naive_order = rng.integers(0, n, size=args.naive_steps)
    rates = {}
    for name, dt in (("float32", torch.float32), ("float64", torch.float64)):
        net = NaiveNet(d, m, dtype=dt).load({k: v.to(dt) for k, v in p0.items()})
        Xd, yd = X.to(dt), y.to(dt)
        s = _time(
            lambda net=net, Xd=Xd, yd=yd: naive_sam_steps(net, Xd, yd, naive_order, lr, rho), 1.0
        )
        rates[name] = args.naive_steps / s
    naive_rate = max(rates.values())
    out["naive_steps_per_s"] = rates
    net = NaiveNet(d, m, dtype=torch.float32).load({k: v.float() for k, v in p0.items()})
    X32, y32 = X.float(), y.float()

    def naive_once() -> float:
        return args.naive_steps / _time(
            lambda: naive_sam_steps(net, X32, y32, naive_order, lr, rho), 1.0
        )

    if args.trainer_only:
        out["trainer"] = _trainer(args.trainer_epochs, naive_once)
        return out
    if args.sim_bn_only:
        out["sim_bn"] = _sim_bn(args, rng, rule)
        return out

    # ---- interleaved rounds: naive and fast one after the other, ratio per round --------------
    eng = CEngine(arch, threads=1)
    order1 = rng.integers(0, n, size=(1, args.fast_steps))
    rounds = []
    for _ in range(args.rounds):
        sn = _time(lambda: naive_sam_steps(net, X32, y32, naive_order, lr, rho), 0.5)
        row = {"naive_float32": args.naive_steps / sn}
        for name, dt in (("fast_float64", torch.float64), ("fast_float32", torch.float32)):
            P = _stack(p0, 1, dt)
            Xd, yd = X[None].to(dt), y[None].to(dt)
            sf = _time(lambda P=P, Xd=Xd, yd=yd: eng.run(P, Xd, yd, order1, rule), 0.5)
            row[name] = args.fast_steps / sf
            sweep = _sweep(1, m, d, n, args.fast_steps, dt, 1, rng)
            row["limit_" + name[5:]] = args.fast_steps / _time(sweep, 0.5)
        rounds.append(row)
    med = {k: float(np.median([r[k] for r in rounds])) for k in rounds[0]}
    out["interleaved"] = {
        "rounds": rounds,
        "median_steps_per_s": med,
        "median_ratio_float64": float(
            np.median([r["fast_float64"] / r["naive_float32"] for r in rounds])
        ),
        "median_ratio_float32": float(
            np.median([r["fast_float32"] / r["naive_float32"] for r in rounds])
        ),
        "median_kernel_over_limit_float64": float(
            np.median([r["fast_float64"] / r["limit_float64"] for r in rounds])
        ),
        "median_kernel_over_limit_float32": float(
            np.median([r["fast_float32"] / r["limit_float32"] for r in rounds])
        ),
    }

    # ---- fast: one run, then several seeds together -------------------------------------------
    fast = {}
    for dtype_name, dt in (("float64", torch.float64), ("float32", torch.float32)):
        for R, threads in ((1, 1), (args.seeds, 1), (args.seeds, args.threads)):
            key = f"{dtype_name} R={R} threads={threads}"
            if key in fast:
                continue
            eng = CEngine(arch, threads=threads)
            P = _stack(p0, R, dt)
            XR, yR = X[None].expand(R, -1, -1).to(dt), y[None].expand(R, -1).to(dt)
            order = rng.integers(0, n, size=(R, args.fast_steps))
            s = _time(
                lambda eng=eng, P=P, XR=XR, yR=yR, order=order: eng.run(P, XR, yR, order, rule), 1.0
            )
            rate = R * args.fast_steps / s
            sweep = _sweep(R, m, d, n, args.fast_steps, dt, threads, rng)
            limit = R * args.fast_steps / _time(sweep, 1.0)
            fast[key] = {
                "steps_per_s": rate,
                "vs_naive": rate / naive_rate,
                "limit_steps_per_s": limit,
                "vs_limit": rate / limit,
            }
    out["fast"] = fast
    out["naive_steps_per_s_after"] = naive_once()

    # ---- the trainer end to end: the command, default metrics, between two naive loops ------
    if args.trainer_epochs:
        out["trainer"] = _trainer(args.trainer_epochs, naive_once)

    out["sim_bn"] = _sim_bn(args, rng, rule)
    return out


def _sim_bn(args, rng, rule) -> dict:
    """2-MLP-Sim-BN: the naive loop, the dense torch engine and the C engine, side by side.

    Every step couples all n training points through the statistics. The naive loop and
    ``TorchEngine`` recompute them densely (O(n m d) per gradient); ``SimBNEngine`` keeps
    C_j = sum over neuron j's active points of x' x'^T and needs a (d+1)^2 product per moved
    neuron (sharpness.training.algorithms). Its cost depends on how often activation patterns
    change, which is highest at initialization, where this measures; the paper-scale Figure 2
    run's own rate is in BENCHMARKS.md. Before timing, the C engine is checked against the torch
    engine step for step (float64, Figure 2a's lr and rho).
    """
    from sharpness.training.algorithms import SimBNEngine, StepRule, TorchEngine

    m, d, n = args.width, args.d, args.n
    lr, rho = rule.lr, rule.rho
    arch_bn, X, y, p0 = _setup("simbn", m, d, n, 0)
    fig2 = StepRule(0.005, rho=0.1)
    T = max(1, min(args.agree_steps, 300))
    order = rng.integers(0, n, size=(1, T))
    Pt, Pc = _stack(p0, 1, torch.float64), _stack(p0, 1, torch.float64)
    te = TorchEngine(arch_bn)
    for t in range(T):
        te.step(Pt, X[None], y[None], torch.from_numpy(order[:, t : t + 1]), fig2)
    SimBNEngine(arch_bn).run(Pc, X[None], y[None], order, fig2)
    out = {
        "agreement_with_torch_engine": {
            "steps": T,
            "max_abs_diff": max(float((Pt[k] - Pc[k]).abs().max()) for k in Pt),
            "max_abs_param": max(float(Pt[k].abs().max()) for k in Pt),
        }
    }
    bn_steps = max(1, args.naive_steps // 2)
    order = rng.integers(0, n, size=bn_steps)
    net = NaiveNet(d, m, simbn=True, dtype=torch.float64).load(p0)
    s = _time(lambda: naive_sam_steps(net, X, y, order, lr, rho), 1.0)
    bn_naive = bn_steps / s
    out["naive_float64_steps_per_s"] = bn_naive
    for dtype_name, dt in (("float64", torch.float64), ("float32", torch.float32)):
        for R in (1, args.seeds):
            eng = TorchEngine(arch_bn)
            P = _stack(p0, R, dt)
            XR, yR = X[None].expand(R, -1, -1).to(dt), y[None].expand(R, -1).to(dt)
            idx = torch.from_numpy(rng.integers(0, n, size=(bn_steps, R, 1)))
            s = _time(
                lambda eng=eng, P=P, XR=XR, yR=yR, idx=idx: eng.run(P, XR, yR, idx, rule), 1.0
            )
            rate = R * bn_steps / s
            out[f"TorchEngine {dtype_name} R={R}"] = {
                "steps_per_s": rate,
                "vs_naive": rate / bn_naive,
            }
    c_steps = args.sim_bn_steps
    for R, threads in ((1, 1), (args.seeds, args.threads)):
        eng = SimBNEngine(arch_bn, threads=threads)
        XR, yR = X[None].expand(R, -1, -1).contiguous(), y[None].expand(R, -1).contiguous()
        orderR = rng.integers(0, n, size=(R, c_steps))

        def call(eng=eng, R=R, XR=XR, yR=yR, orderR=orderR):
            eng.run(_stack(p0, R, torch.float64), XR, yR, orderR, rule)

        s = _time(call, 1.0)
        rate = R * c_steps / s
        out[f"SimBNEngine float64 R={R} threads={threads}"] = {
            "steps_per_s": rate,
            "vs_naive": rate / bn_naive,
        }
    out["naive_float64_steps_per_s_after"] = bn_steps / _time(
        lambda: naive_sam_steps(net, X, y, order, lr, rho), 1.0
    )
    return out


def _print(out: dict) -> None:
    print(f"machine: {out['machine']}")
    c = out["config"]
    print(
        f"1-SAM, width {c['width']}, d = {c['d']}, n = {c['n']}, lr {c['lr']}, rho {c['rho']}, batch 1"
    )
    a = out["agreement_float64"]
    print(
        f"agreement with the naive loop (float64, {a['steps']} steps): max |diff| "
        f"{a['max_abs_diff']:.3e} (max |param| {a['max_abs_param']:.3g})"
    )
    if "interleaved" in out:
        i = out["interleaved"]
        med = i["median_steps_per_s"]
        print(
            f"interleaved ({len(i['rounds'])} rounds, median): naive float32 "
            f"{med['naive_float32']:,.0f} steps/s; fast float64 {med['fast_float64']:,.0f} "
            f"({i['median_ratio_float64']:.1f}x); fast float32 {med['fast_float32']:,.0f} "
            f"({i['median_ratio_float32']:.1f}x)"
        )
        print(
            f"memory-bound limit (sweep over W1 only): float64 {med['limit_float64']:,.0f} "
            f"steps/s, kernel at {i['median_kernel_over_limit_float64']:.0%} of it; float32 "
            f"{med['limit_float32']:,.0f}, kernel at {i['median_kernel_over_limit_float32']:.0%}"
        )
    for k, v in out["naive_steps_per_s"].items():
        print(f"naive nn.Module loop, {k}: {v:,.0f} steps/s")
    if "fast" in out:
        print("fast (CEngine), aggregate steps/s over R runs, ratio to the faster naive loop:")
        for k, v in out["fast"].items():
            print(
                f"  {k:28s} {v['steps_per_s']:>12,.0f} steps/s  {v['vs_naive']:7.1f}x   limit "
                f"{v['limit_steps_per_s']:>12,.0f} ({v['vs_limit']:.0%})"
            )
        print(f"naive loop again after them: {out['naive_steps_per_s_after']:,.0f} steps/s")
    if "trainer" in out:
        t = out["trainer"]
        nb, na = t["naive_steps_per_s_before_after"]
        print(
            f"trainer end to end, `{t['command']}` ({t['steps']:,} steps, {t['evaluations']} "
            f"evaluations of exact Tr H + test error {'/'.join(t['test_methods'])}, "
            f"{t['loss_records']} records): {t['wall_s']:.2f} s wall "
            f"({t['steps_per_s_command']:,.0f} steps/s, {t['vs_naive_command']:.1f}x the naive "
            f"loop of {nb:,.0f}/{na:,.0f} steps/s before/after); inside train(): "
            f"{t['train_s']:.2f} s, of which {t['eval_s']:.2f} s evaluation "
            f"({t['vs_naive_train']:.1f}x)"
        )
    if "sim_bn" not in out:
        return
    s = out["sim_bn"]
    a = s["agreement_with_torch_engine"]
    print(
        f"Sim-BN: SimBNEngine vs TorchEngine ({a['steps']} steps of Figure 2a's 1-SAM): max |diff| "
        f"{a['max_abs_diff']:.3e} (max |param| {a['max_abs_param']:.3g})"
    )
    print(
        f"Sim-BN naive nn.Module loop, float64: {s['naive_float64_steps_per_s']:,.0f} steps/s "
        f"(after: {s['naive_float64_steps_per_s_after']:,.0f})"
    )
    for k, v in s.items():
        if isinstance(v, dict) and "steps_per_s" in v:
            print(f"  {k:36s} {v['steps_per_s']:>10,.0f} steps/s  {v['vs_naive']:6.1f}x")


def parser() -> argparse.ArgumentParser:
    """The options of this benchmark (also used by ``python -m benchmarks.run``)."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.bench_training", description=__doc__)
    p.add_argument("--width", type=int, default=500)
    p.add_argument("--d", type=int, default=30)
    p.add_argument("--n", type=int, default=100)
    p.add_argument("--naive-steps", type=int, default=500)
    p.add_argument("--fast-steps", type=int, default=50_000)
    p.add_argument("--agree-steps", type=int, default=300)
    p.add_argument("--seeds", type=int, default=16, help="runs advanced together")
    p.add_argument("--threads", type=int, default=2, help="threads for the aggregate")
    p.add_argument("--trainer-epochs", type=int, default=3000, help="0: skip the trainer")
    p.add_argument(
        "--trainer-only", action="store_true", help="only the naive loop and the command"
    )
    p.add_argument("--rounds", type=int, default=5, help="interleaved naive/fast rounds")
    p.add_argument("--sim-bn-only", action="store_true", help="only the Sim-BN section")
    p.add_argument("--sim-bn-steps", type=int, default=2000, help="steps per SimBNEngine timing")
    p.add_argument("--json", action="store_true")
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    out = run(args)
    if args.json:
        print(json.dumps(out, sort_keys=True, indent=2))
    else:
        _print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
