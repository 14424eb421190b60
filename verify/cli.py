"""``verify-theorem``: check a claim of Wen, Li & Ma (2023) on concrete weights.

Exit codes: 0 every check passed, 1 a check failed, 2 bad usage or bad input (one line on stderr),
3 an internal error (a bug; one line unless VERIFY_THEOREM_DEBUG is set).
"""

from __future__ import annotations

import argparse
import os
import sys

from constructions import load_dataset
from verify.config import DEFAULT_D, ClaimConfig
from verify.registry import CLAIMS, get_claim
from verify.save import save_run

__all__ = ["main"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2, no usage dump
        raise _UsageError(message)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="verify-theorem",
        description="Verify a claim of 'Sharpness Minimization Algorithms Do Not Only Minimize "
        "Sharpness To Achieve Better Generalization' on explicit weights.",
        epilog="Claims: "
        + ", ".join(CLAIMS)
        + ". Exit codes: 0 verified, 1 a check failed, 2 bad input.",
    )
    p.add_argument("claim", nargs="?", help="claim id (see --list)")
    p.add_argument("--list", action="store_true", help="list the claim ids and exit")
    p.add_argument(
        "--d", type=int, default=DEFAULT_D, help=f"input dimension (default {DEFAULT_D})"
    )
    p.add_argument("--n", type=int, default=None, help="training-set size (default min(100, 2^d))")
    p.add_argument("--depth", type=int, default=2, help="number of layers D (default 2)")
    p.add_argument("--seed", type=int, default=0, help="seed of the P_xor sample (default 0)")
    p.add_argument(
        "--epsilon",
        type=float,
        default=None,
        help="epsilon of the memorizing construction (default: half the smallest margin)",
    )
    p.add_argument(
        "--form",
        choices=("corrected", "printed"),
        default="corrected",
        help="build the formula as printed in the paper, or our verified correction",
    )
    p.add_argument(
        "--data",
        default=None,
        metavar="DATASET.npz",
        help="use your own training set (arrays X, y) instead of a P_xor sample",
    )
    p.add_argument(
        "--hypercube-samples",
        type=int,
        default=None,
        metavar="N",
        help="estimate the hypercube error from N samples (labelled as an estimate)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    p.add_argument(
        "--save",
        default=None,
        metavar="DIR",
        help="write dataset.npz, params.npz and report.json into DIR",
    )
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    return p


def _list() -> str:
    width = max(len(c) for c in CLAIMS)
    return "\n".join(f"{c.id.ljust(width)}  {c.title}  [{c.reference}]" for c in CLAIMS.values())


def _run(argv) -> int:
    args = _parser().parse_args(argv)
    if args.list:
        print(_list())
        return EXIT_OK
    if not args.claim:
        raise _UsageError("a claim id is required (see verify-theorem --list)")
    claim = get_claim(args.claim)
    dataset = load_dataset(args.data) if args.data else None
    config = ClaimConfig(
        d=args.d,
        n=args.n,
        depth=args.depth,
        seed=args.seed,
        epsilon=args.epsilon,
        form=args.form,
        dataset=dataset,
        hypercube_samples=args.hypercube_samples,
        progress=not args.no_progress and not args.json,
    )
    run = claim.run(config)
    if args.save:
        save_run(run, args.save)
    print(run.report.to_json() if args.json else run.report.format_text())
    return EXIT_OK if run.report.passed else EXIT_FAILED


def main(argv=None) -> int:
    try:
        code = _run(sys.argv[1:] if argv is None else argv)
    except (_UsageError, ValueError) as exc:
        print(f"verify-theorem: error: {exc}", file=sys.stderr)
        code = EXIT_USAGE
    except KeyboardInterrupt:
        print("verify-theorem: interrupted", file=sys.stderr)
        code = 130
    except Exception as exc:  # a bug, not bad input: one line unless debugging
        if os.environ.get("VERIFY_THEOREM_DEBUG"):
            raise
        print(
            f"verify-theorem: internal error ({type(exc).__name__}: {exc}); "
            "rerun with VERIFY_THEOREM_DEBUG=1 for the traceback",
            file=sys.stderr,
        )
        code = 3
    sys.stdout.flush()
    return code


if __name__ == "__main__":
    sys.exit(main())
