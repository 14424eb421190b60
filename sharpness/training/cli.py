"""``sharpness-train``: train one configuration of the paper's experiments (Appendix B, Table 2).

    sharpness-train --preset fig4b --out runs/fig4b            # a row group of Table 2
    sharpness-train --arch bias --algo sam --lr 0.01 --rho 0.05 --epochs 1000 --out runs/x

Metrics are appended to ``DIR/metrics.jsonl`` as they come (epoch, train loss, sharpness, test
error and whether it is exact or an estimate); checkpoints go to ``DIR/checkpoint.npz``. Running
the same command again resumes an interrupted run (Ctrl-C, SIGTERM or kill) and reuses a finished
one; the numbers are the same as those of an uninterrupted run. A larger ``--epochs`` (or a
longer last phase) extends a finished run, as if it had been run that long in one go; any other
change is refused. ``DIR/metadata.json`` records each session: timestamps, host, package
versions, git commit, the configuration and the engine of each phase.

    sharpness-train --version

Exit codes: 0 finished, 2 bad usage or hyperparameters (one line on stderr), 3 internal error,
130 interrupted (the checkpoint is saved; rerun to resume).

The parser needs no import of the trainer (its choices are repeated below, and a test keeps them
equal to :mod:`sharpness.training.runs`'s), and the hyperparameters that can be checked alone are
checked first: ``--help``, ``--version`` and such bad input are answered without importing torch.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sharpness._cli import (
    EXIT_OK,
    OneLineParser,
    VersionAction,
    run_main,
    show_progress,
)
from sharpness.limits import LIMITS

if TYPE_CHECKING:
    from sharpness.training.runs import TrainConfig

__all__ = ["build_config", "main", "parser"]


# sharpness.training.runs.ARCHITECTURES, ALGORITHMS and PRESETS (the panels of Table 2), repeated
# so that the parser is built without importing torch; tests/sharpness/training/test_cli.py
# checks that they are equal.
ARCHITECTURES = (
    "nobias",
    "bias",
    "bias-softplus",
    "nobias-softplus",
    "simln",
    "simbn",
    "simbn-nobias",
)
ALGORITHMS = ("sam", "gd", "sgd", "label-noise-sgd")
PRESETS = (
    "fig1a",
    "fig1b",
    "fig2a",
    "fig4a",
    "fig4b",
    "fig5a",
    "fig5b",
    "fig6a",
    "fig6b",
    "fig7a",
    "fig7b",
    "fig8a",
    "fig8b",
    "fig9a",
    "fig9b",
    "fig10a",
    "fig10b",
    "fig11a",
    "fig11b",
)


_Parser = OneLineParser


def parser() -> argparse.ArgumentParser:
    """The ``sharpness-train`` argument parser (built without importing the trainer)."""
    p = _Parser(
        prog="sharpness-train",
        description="Train a network of Wen, Li & Ma (2023) with 1-SAM, SAM, GD, SGD or "
        "label-noise SGD, logging the exact sharpness and the hypercube test error.",
        epilog="Exit codes: 0 finished, 2 bad input, 130 interrupted (rerun to resume).",
    )
    p.add_argument("--preset", choices=PRESETS, help="a panel of Table 2 (App. B.1)")
    p.add_argument("--arch", choices=ARCHITECTURES, help="architecture (default bias)")
    p.add_argument("--algo", choices=ALGORITHMS, help="algorithm (default sam)")
    p.add_argument("--lr", type=float, help="learning rate (default 0.01)")
    p.add_argument("--rho", type=float, help="SAM radius (default 0.05 for sam, else 0)")
    p.add_argument("--wd", type=float, help="weight decay (default 0)")
    p.add_argument("--label-noise", type=float, help="label-noise std (label-noise-sgd)")
    p.add_argument("--batch-size", type=int, help="batch size (default 1; n for gd)")
    p.add_argument("--epochs", type=int, help="epochs (default 100)")
    p.add_argument("--width", type=int, help="hidden width (default 500)")
    p.add_argument("--depth", type=int, help="layers of an MLP (default 2)")
    p.add_argument("--d", type=int, help="input dimension (default 30)")
    p.add_argument("--n", type=int, help="training-set size (default 100)")
    p.add_argument("--data", choices=("xor", "ball"), help="P_xor (default) or the ball of B.2")
    p.add_argument("--loss", choices=("mse", "logistic"), help="training loss (default mse)")
    p.add_argument("--smoothing", type=float, help="label smoothing of the logistic loss")
    p.add_argument("--seed", type=int, help="seed of data, init and order (default 0)")
    p.add_argument("--init", choices=("torch", "normal"), help="initialization (default torch)")
    p.add_argument(
        "--gamma-init",
        choices=("inv-sqrt-width", "one"),
        help="Sim-BN's initial gamma (default 1/sqrt(width); see sharpness.training.runs note 1)",
    )
    p.add_argument("--first-layer-scale", type=float, help="scale of W1, b1 at init (Fig. 6a)")
    p.add_argument("--projection", type=float, help="hold ||(W1, b1)|| at this norm (Fig. 6b)")
    p.add_argument("--order", choices=("shuffle", "cyclic", "iid"), help="example order")
    p.add_argument("--ln-eps", type=float, help="eps of Sim-LN")
    p.add_argument("--dtype", choices=("float64", "float32"), help="precision (default float64)")
    p.add_argument("--log-every", type=int, help="epochs between train-loss records")
    p.add_argument("--eval-every", type=int, help="epochs between sharpness/test records")
    p.add_argument(
        "--test", choices=("auto", "exact", "sampled", "none"), help="test-error mode (auto)"
    )
    p.add_argument(
        "--exact-final", action="store_true", help="exact hypercube error at the last epoch"
    )
    p.add_argument("--test-samples", type=int, help="samples of the estimated test error")
    p.add_argument("--backend", choices=("auto", "c", "torch", "autograd"), help="step engine")
    p.add_argument("--threads", type=int, default=1, help="CPU threads (default 1)")
    p.add_argument("--device", default="cpu", help="only 'cpu' is supported")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory (resumable)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument("--json", action="store_true", help="print the final record as JSON")
    p.add_argument("--version", action=VersionAction)
    return p


_PHASE_FLAGS = {
    "lr": "lr",
    "rho": "rho",
    "wd": "weight_decay",
    "label_noise": "label_noise",
    "batch_size": "batch_size",
    "epochs": "epochs",
}
_CONFIG_FLAGS = {
    "arch": "arch",
    "algo": "algo",
    "width": "width",
    "depth": "depth",
    "d": "d",
    "n": "n",
    "data": "data",
    "loss": "loss",
    "smoothing": "smoothing",
    "seed": "seed",
    "init": "init",
    "gamma_init": "gamma_init",
    "first_layer_scale": "first_layer_scale",
    "projection": "projection",
    "order": "order",
    "ln_eps": "ln_eps",
    "dtype": "dtype",
    "log_every": "log_every",
    "eval_every": "eval_every",
    "test": "test",
    "test_samples": "test_samples",
    "backend": "backend",
    "exact_final": "exact_final",
}


def build_config(args: argparse.Namespace) -> TrainConfig:
    """The :class:`~sharpness.training.TrainConfig` of parsed arguments.

    The checks that need no trainer come first, before :mod:`sharpness.training.runs` (torch)
    is imported.

    Raises:
        ValueError: for a bad or inconsistent value (one line, naming it).
    """
    if args.device != "cpu":
        raise ValueError(
            f"device must be 'cpu' (this toolkit's kernels are CPU code), got {args.device!r}"
        )
    cfg_over = {
        f: getattr(args, a) for a, f in _CONFIG_FLAGS.items() if getattr(args, a) is not None
    }
    phase_over = {
        f: getattr(args, a) for a, f in _PHASE_FLAGS.items() if getattr(args, a) is not None
    }
    for flag in ("epochs", "log_every", "eval_every", "batch_size", "width", "n", "test_samples"):
        v = getattr(args, flag)
        if v is not None and v < 1:  # before the defaults divide by them
            raise ValueError(f"--{flag.replace('_', '-')} must be an integer >= 1, got {v}")
    if args.seed is not None and not 0 <= args.seed < 2**63:  # torch seeds are 64-bit
        raise ValueError(f"--seed must be an integer in [0, 2^63), got {args.seed}")
    if args.lr is not None and args.lr <= 0:
        raise ValueError(f"--lr must be > 0, got {args.lr}")
    for flag in ("rho", "wd", "label_noise"):
        v = getattr(args, flag)
        if v is not None and v < 0:
            raise ValueError(f"--{flag.replace('_', '-')} must be >= 0, got {v}")
    if args.preset:
        from sharpness.training.runs import preset

        base = preset(args.preset)
        if phase_over:
            if len(base.phases) > 1:
                raise ValueError(
                    f"preset {args.preset} has {len(base.phases)} phases (Table 2 rows); "
                    f"--{'/--'.join(k.replace('_', '-') for k in phase_over)} cannot override them"
                )
            phases = (dataclasses.replace(base.phases[0], **phase_over),)
            cfg_over["phases"] = phases
        if "epochs" in phase_over or "log_every" in cfg_over or "eval_every" in cfg_over:
            total = sum(p.epochs for p in cfg_over.get("phases", base.phases))
            cfg_over.setdefault("log_every", max(1, min(base.log_every, total // 50 or 1)))
            le = cfg_over["log_every"]
            cfg_over.setdefault("eval_every", le * max(1, (total // 20) // le))
        return base.replace(**cfg_over)
    algo = cfg_over.get("algo", "sam")
    n = cfg_over.get("n", 100)
    phase = dict(
        epochs=100,
        lr=0.01,
        rho=0.05 if algo == "sam" else 0.0,
        batch_size=n if algo == "gd" else 1,
        weight_decay=0.0,
        label_noise=0.1 if algo == "label-noise-sgd" else 0.0,
    )
    phase.update(phase_over)
    if phase["batch_size"] > n:
        raise ValueError(f"--batch-size {phase['batch_size']} is larger than n = {n}")
    from sharpness.training.runs import Phase, TrainConfig

    epochs = phase["epochs"]
    cfg_over.setdefault("log_every", max(1, epochs // 100))
    le = cfg_over["log_every"]
    cfg_over.setdefault("eval_every", le * max(1, (epochs // 20) // le))
    cfg_over.setdefault("arch", "bias")
    cfg_over["algo"] = algo
    cfg_over["phases"] = (Phase(**phase),)
    return TrainConfig(**cfg_over)


#: Most CPU threads accepted by --threads (sharpness.limits.LIMITS["threads"]).
MAX_THREADS = int(LIMITS["threads"].value)


def _check_out(out: str) -> None:
    """Refuse an ``--out`` that cannot be a run directory, before any work: an empty name, or a
    path that exists and is not a directory (``/dev/null``, a regular file, a pipe)."""
    if not out or not out.strip():
        raise ValueError("--out is empty: name the run directory, e.g. --out runs/mine")
    if os.path.exists(out) and not os.path.isdir(out):
        raise ValueError(f"--out {out} exists and is not a directory (name a run directory)")


def _check_cost(config) -> None:
    """The request's cost against :data:`sharpness.limits.LIMITS`, before any work."""
    from sharpness.limits import check_train_request

    check_train_request(
        width=config.width,
        depth=config.depth,
        d=config.d,
        n=config.n,
        epochs=config.epochs,
        batch_size=min(p.batch_size for p in config.phases),
        log_every=config.log_every,
        eval_every=config.eval_every,
        test=config.test,
        test_samples=config.test_samples,
    )


def _fmt(v):
    if v is None:
        return "n/a"
    return f"{v:.6g}" if isinstance(v, float) else str(v)


def _run(argv: Sequence[str]) -> int:
    args = parser().parse_args(argv)
    if not 1 <= args.threads <= MAX_THREADS:
        raise ValueError(f"--threads must be an integer in [1, {MAX_THREADS}], got {args.threads}")
    _check_out(args.out)
    config = build_config(args)
    _check_cost(config)
    import torch

    from sharpness.training.runs import extension_config, train

    if args.log_every is None and args.eval_every is None and args.out.strip():
        # --epochs larger than a finished run's extends it: keep its log/eval intervals
        config = extension_config(config, args.out)
    torch.set_num_threads(args.threads)
    result = train(
        config,
        args.out,
        progress=show_progress(args, quiet_with_json=False),
        threads=args.threads,
    )
    last = result.metrics[-1] if result.metrics else {}
    evals = [m for m in result.metrics if "test_error" in m or "sharpness" in m]
    final = evals[-1] if evals else last
    if last.get("diverged"):
        final = last
    if args.json:
        print(
            json.dumps({"finished": result.finished, "out": str(args.out), **final}, sort_keys=True)
        )
    elif last.get("diverged"):
        print(
            f"{config.name or config.arch + '/' + config.algo}: diverged (non-finite parameters) "
            f"by epoch {last['epoch']}/{config.epochs}; metrics in "
            f"{os.path.join(args.out, 'metrics.jsonl')}"
        )
    else:
        kind = "exact" if final.get("test_exact") else "estimate"
        note = final.get("sharpness_note")
        print(
            f"{config.name or config.arch + '/' + config.algo}: epoch {result.epoch}/{config.epochs}, "
            f"train loss {_fmt(last.get('train_loss'))}, sharpness {_fmt(final.get('sharpness'))}"
            + (f" ({note})" if note else "")
            + f", test error {_fmt(final.get('test_error'))} ({kind}); metrics in "
            f"{os.path.join(args.out, 'metrics.jsonl')}"
        )
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``sharpness-train`` on ``argv`` (default ``sys.argv[1:]``); return the exit code."""
    return run_main(
        "sharpness-train",
        _run,
        argv,
        interrupted="interrupted; checkpoint saved, rerun the same command to resume",
    )


if __name__ == "__main__":
    sys.exit(main())
