"""``verify-theorem fig1 | fig2 | fig4 | fig5 | fig6 | table1 | fig7 ... fig11``: the experiments.

Reruns the training runs of Sections 3.2, 4.2, 5.2 and Appendix B (hyperparameters of Table 2)
over several seeds, draws the paper's panels (sharpness and test error against epochs) as PNG and
PDF, and checks the paper's qualitative claims as verdicts with their numbers (the figures:
:mod:`verify.experiments.figures`; the verdicts and their thresholds:
:mod:`verify.experiments.verdicts`). ``table1`` prints the third column of Table 1 ("sharpness
minimization algorithms generalize") with its evidence (:mod:`verify.experiments.table1`).

Runs live in ``OUT/SCALE/PANEL/seedK`` and are reused when finished (resumed when interrupted);
the scales are described in :mod:`verify.experiments.panels`. ``--workers N`` / ``--cluster
ADDRESS`` train the (panel, seed) runs as cells of the sweep engine (:mod:`sharpness.sweep`, Dask)
instead of in this process; the table of final metrics is ``OUT/SCALE/FIGURE/results.csv``.
"""

from __future__ import annotations

import json
import os
import sys

from sharpness._cli import show_progress

NAMES = ("fig1", "fig2", "fig4", "fig5", "fig6", "table1", "fig7", "fig8", "fig9", "fig10", "fig11")
HELP = "rerun the paper's experiments (Figs. 1-11, Table 1's 3rd column): figures and verdicts"
ORDER = 60


def add_arguments(p) -> None:
    p.add_argument(
        "--scale",
        choices=("quick", "paper", "smoke"),
        default="quick",
        help="quick (default, minutes), paper (Table 2's epochs) or smoke (seconds; tests only)",
    )
    p.add_argument("--seeds", type=int, default=3, help="seeds per panel (default 3)")
    p.add_argument("--out", default="runs/experiments", metavar="DIR", help="run directory root")
    p.add_argument("--threads", type=int, default=1, help="CPU threads for the kernels (default 1)")
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="train the runs on a local Dask cluster of N one-thread processes "
        "(default 0: in this process, with --threads)",
    )
    p.add_argument(
        "--cluster",
        metavar="ADDRESS",
        help="train the runs on a running Dask scheduler, tcp://host:port",
    )
    p.add_argument(
        "--no-train",
        action="store_true",
        help="report on the runs already in DIR (finished or not) without training",
    )
    p.add_argument("--no-figures", action="store_true", help="skip drawing the figures")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def run(args) -> int:
    from sharpness.limits import check_experiment_request

    if args.seeds < 1:
        raise ValueError(f"--seeds must be an integer >= 1, got {args.seeds}")
    if args.threads < 1:
        raise ValueError(f"--threads must be an integer >= 1, got {args.threads}")
    if args.workers is not None and args.cluster is not None:
        raise ValueError("give --workers (a local cluster) or --cluster (an address), not both")
    if args.workers is not None and args.workers < 0:
        raise ValueError(f"--workers must be an integer >= 0, got {args.workers}")
    if args.cluster is not None and not args.cluster.strip():
        raise ValueError("--cluster is empty: give a scheduler address, e.g. tcp://host:8786")
    if not args.out.strip():
        raise ValueError("--out is empty: name the run directory root, e.g. --out runs/figs")
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise ValueError(f"--out {args.out} exists and is not a directory")
    check_experiment_request(seeds=args.seeds, threads=args.threads)  # before any work
    from verify.experiments import RunSettings, run_experiment, run_third_column

    settings = RunSettings(
        scale=args.scale,
        seeds=args.seeds,
        out=args.out,
        threads=args.threads,
        train=not args.no_train,
        progress=show_progress(args, quiet_with_json=False),
        workers=None if args.cluster is not None else (args.workers or 0),
        cluster=args.cluster,
    )
    if args.command == "table1":
        report, table = run_third_column(settings)
        if args.json:
            out = report.to_dict()
            out["table"] = table
            print(json.dumps(out, sort_keys=True, indent=2))
        else:
            print(table)
            print()
            print(report.format_text())
        return 0 if report.passed else 1
    report, paths = run_experiment(args.command, settings, figures=not args.no_figures)
    if args.json:
        out = report.to_dict()
        out["figures"] = [str(p) for p in paths]
        print(json.dumps(out, sort_keys=True, indent=2))
    else:
        print(report.format_text())
        if paths:
            print("  figures: " + ", ".join(str(p) for p in paths))
    sys.stdout.flush()
    return 0 if report.passed else 1
