"""``verify-theorem all``: run every claim, then reproduce the paper's Table 1, second column.

    verify-theorem all --d D [--json] [--save DIR] [--seed S] [--paper P] [any claim option]

Every claim of Wen, Li & Ma registered in :data:`verify.registry.CLAIMS` (``--paper chen2023``:
those of Chen et al., ids ``chen.*``; ``--paper every``: both) runs with the same options (its report
is printed as ``verify-theorem ID`` prints it), and the output ends with one table: for each
architecture row of Table 1 ("All flattest minimizers generalize well."), the paper's mark, the
mark the toolkit reproduces, what stands behind it, and the verdict of every claim it rests on
(how a mark is reproduced: :mod:`verify.experiments.table1`; the run of every claim, with
``--save`` and resuming: :mod:`verify.experiments.claims_runner`).

A claim that is not installed is shown as "not available". Exit code: 0 when every installed
claim verifies; 1 when a check failed; 2 for bad input (one line on stderr; a claim that refuses
the input, e.g. a Proposition given non-P_xor data, counts as bad input after the table is
printed); 3 for an internal error in a claim.

``--save DIR`` writes one subdirectory per claim (DIR/<id>/dataset.npz, params.npz, report.json,
as ``verify-theorem ID --save``) and DIR/all.json (settings, table, verdicts), all atomically. A
rerun with the same settings reuses the claims already saved (an interrupted run resumes);
``--fresh`` reruns everything.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

NAMES = ("all",)
HELP = "run every claim and end with the paper's Table 1 (second column), reproduced"
ORDER = 5


def add_arguments(p) -> None:
    from verify.cli import add_claim_arguments  # lazy: verify.cli discovers this module

    add_claim_arguments(p)
    p.add_argument(
        "--summary-only",
        action="store_true",
        help="print only the Table 1 summary, not every claim's report",
    )
    p.add_argument(
        "--fresh", action="store_true", help="with --save: rerun claims already saved in DIR"
    )
    p.add_argument(
        "--paper",
        choices=("wen2023", "chen2023", "every"),
        default="wen2023",
        help="whose claims: Wen, Li & Ma (default; ends with their Table 1), Chen et al. "
        "(the chen.* claims), or every claim",
    )


def run(args) -> int:
    from verify.cli import config_from_args
    from verify.experiments import (
        exit_code,
        format_second_column,
        reproduce_second_column,
        run_claims,
        summarize,
    )
    from verify.experiments.claims_runner import EXIT_BUG, EXIT_USAGE

    config = config_from_args(args)  # ValueError -> one line, exit 2
    if args.save is not None and not args.save.strip():
        raise ValueError("--save is empty: name a directory, e.g. --save results")
    save = Path(args.save) if args.save else None
    start = time.monotonic()
    outcomes = run_claims(
        config, save=save, fresh=args.fresh, progress=config.progress, paper=args.paper
    )
    code = exit_code(outcomes)
    if args.json:
        print(json.dumps(summarize(config, outcomes), sort_keys=True, indent=2, allow_nan=False))
    else:
        parts = []
        if not args.summary_only:
            parts += [o.report.format_text() for o in outcomes.values() if o.report is not None]
        n_ok = sum(o.status == "verified" for o in outcomes.values())
        table = format_second_column(reproduce_second_column(outcomes), outcomes)
        parts.append(
            f"verify-theorem all: {n_ok} of {len(outcomes)} installed claims verified "
            f"({', '.join(f'{k}={v}' for k, v in config.describe().items())}; "
            f"{time.monotonic() - start:.1f} s)\n\n" + table
        )
        print("\n\n".join(parts))
    if code == EXIT_USAGE:
        refused = [o for o in outcomes.values() if o.status == "refused"]
        print(
            "verify-theorem: error: "
            + "; ".join(f"claim {o.claim} refused the input: {o.reason}" for o in refused),
            file=sys.stderr,
        )
    elif code == EXIT_BUG:
        bad = [o for o in outcomes.values() if o.status == "error"]
        print(
            "verify-theorem: internal error in "
            + "; ".join(f"claim {o.claim} ({o.reason})" for o in bad),
            file=sys.stderr,
        )
    return code
