"""``sharpness-sweep``: run a grid of ``sharpness-train`` runs, cached per cell, on Dask.

    sharpness-sweep grid.toml --out runs/grid                   # a local cluster on every core
    sharpness-sweep grid.toml --out runs/grid --workers 2
    sharpness-sweep grid.toml --out runs/grid --cluster tcp://10.0.0.5:8786
    sharpness-sweep grid.toml --out runs/grid --json            # {"cells":..,"computed":..,..}

The grid's keys are ``sharpness-train``'s options; a list is an axis, the grid is the product
(:mod:`sharpness.sweep.grid`). Results go to ``DIR/results.csv``, one row per cell
(:func:`sharpness.sweep.load_results` reads it as a DataFrame). Rerunning computes only the
cells not yet done.

Exit codes: 0 every cell finished, 1 some cell failed (the others are saved; rerun to retry),
2 bad usage or a bad grid (one line on stderr, nothing run), 3 internal error, 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from sharpness._cli import (
    EXIT_FAILED,
    EXIT_OK,
    OneLineParser,
    UsageError,
    VersionAction,
    run_main,
    show_progress,
)

__all__ = ["main", "parser"]

_Parser = OneLineParser


def parser() -> argparse.ArgumentParser:
    """The ``sharpness-sweep`` argument parser."""
    p = _Parser(
        prog="sharpness-sweep",
        description="Run a grid of sharpness-train runs (a TOML file of its options; a list is "
        "an axis) on a local Dask cluster or a remote one, caching every cell.",
        epilog="Exit codes: 0 done, 1 a cell failed, 2 bad input, 130 interrupted (rerun).",
    )
    p.add_argument("grid", metavar="GRID.toml", help="the grid: sharpness-train options")
    p.add_argument("--out", required=True, metavar="DIR", help="the sweep's folder (resumable)")
    where = p.add_mutually_exclusive_group()
    where.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="worker processes of the local cluster, one thread each (default: the cores); "
        "0 runs the cells in this process",
    )
    where.add_argument("--cluster", metavar="ADDRESS", help="a Dask scheduler, tcp://host:port")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--version", action=VersionAction)
    return p


def _run(argv: Sequence[str]) -> int:
    args = parser().parse_args(argv)
    if args.workers is not None and args.workers < 0:
        raise UsageError(f"--workers must be >= 0, got {args.workers}")
    if not args.out.strip():
        raise UsageError("--out must name a folder")
    from sharpness.sweep.engine import run_sweep
    from sharpness.sweep.grid import expand_grid, load_grid

    cells = expand_grid(load_grid(args.grid))  # every cell checked before anything runs
    result = run_sweep(
        cells,
        args.out,
        workers=args.workers,
        cluster=args.cluster,
        progress=show_progress(args),
    )
    for err in result.errors:
        print(f"sharpness-sweep: {err}", file=sys.stderr)
    if args.json:
        print(json.dumps(result.to_dict(), sort_keys=True))
    else:
        print(
            f"{result.cells} cells: {result.computed} computed, {result.cached} cached, "
            f"{result.failed} failed in {result.seconds:.1f} s; table {result.table}"
        )
    return EXIT_FAILED if result.failed else EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``sharpness-sweep`` on ``argv`` (default ``sys.argv[1:]``); return the exit code.
    SIGTERM stops it as Ctrl-C does: finished cells are kept."""
    return run_main(
        "sharpness-sweep",
        _run,
        argv,
        interrupted="interrupted; finished cells are saved, rerun to compute the rest",
        sigterm=True,
    )


if __name__ == "__main__":
    sys.exit(main())
