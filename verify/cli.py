"""``verify-theorem``: check a claim of Wen, Li & Ma (2023) on concrete weights.

    verify-theorem CLAIM [options]        one claim (see --list)
    verify-theorem COMMAND [options]      a subcommand from verify/commands (see --list)

Exit codes: 0 every check passed, 1 a check failed, 2 bad usage or bad input (one line on stderr),
3 an internal error (a bug; one line unless VERIFY_THEOREM_DEBUG is set), 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys

from constructions import load_dataset
from verify import commands as _commands_pkg
from verify.config import DEFAULT_D, ClaimConfig
from verify.registry import CLAIMS, get_claim
from verify.save import save_run

__all__ = ["COMMANDS", "UsageError", "add_claim_arguments", "config_from_args", "main"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_BUG, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


class UsageError(Exception):
    """Bad usage: reported as one line on stderr with exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2, no usage dump
        raise UsageError(message)


def _discover_commands() -> dict[str, object]:
    found = {}
    for info in pkgutil.iter_modules(_commands_pkg.__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{_commands_pkg.__name__}.{info.name}")
        for name in getattr(module, "NAMES", ()):
            if name in found or name in CLAIMS:
                raise RuntimeError(f"command name {name!r} is defined twice")
            found[name] = module
    return dict(sorted(found.items(), key=lambda kv: (getattr(kv[1], "ORDER", 1e9), kv[0])))


COMMANDS = _discover_commands()


def add_claim_arguments(p: argparse.ArgumentParser) -> None:
    """The options shared by every claim (and by commands that run claims)."""
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
    p.add_argument(
        "--ln-epsilon",
        type=float,
        default=None,
        metavar="EPS",
        help="epsilon of 2-MLP-Sim-LN's max{||h||, eps} (claims about Sim-LN)",
    )
    p.add_argument(
        "--exact",
        action="store_true",
        help="prove the claim in exact arithmetic (sympy) instead of floating point",
    )


def config_from_args(args) -> ClaimConfig:
    dataset = load_dataset(args.data) if args.data else None
    return ClaimConfig(
        d=args.d,
        n=args.n,
        depth=args.depth,
        seed=args.seed,
        epsilon=args.epsilon,
        form=args.form,
        dataset=dataset,
        hypercube_samples=args.hypercube_samples,
        progress=not args.no_progress and not args.json,
        ln_epsilon=args.ln_epsilon,
        exact=args.exact,
    )


def _claim_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="verify-theorem",
        description="Verify a claim of 'Sharpness Minimization Algorithms Do Not Only Minimize "
        "Sharpness To Achieve Better Generalization' on explicit weights.",
        epilog="Claims: "
        + ", ".join(CLAIMS)
        + ". Commands: "
        + ", ".join(COMMANDS)
        + ". Exit codes: 0 verified, 1 a check failed, 2 bad input.",
    )
    p.add_argument("claim", nargs="?", help="claim id or command (see --list)")
    p.add_argument("--list", action="store_true", help="list the claim ids and commands, and exit")
    add_claim_arguments(p)
    return p


def _list() -> str:
    names = list(CLAIMS) + list(COMMANDS)
    width = max(len(c) for c in names)
    lines = ["claims:"]
    lines += [f"  {c.id.ljust(width)}  {c.title}  [{c.reference}]" for c in CLAIMS.values()]
    if COMMANDS:
        lines.append("commands:")
        lines += [f"  {name.ljust(width)}  {mod.HELP}" for name, mod in COMMANDS.items()]
    return "\n".join(lines)


def _run(argv) -> int:
    if argv and argv[0] in COMMANDS:
        module = COMMANDS[argv[0]]
        p = _Parser(prog=f"verify-theorem {argv[0]}", description=module.HELP)
        module.add_arguments(p)
        args = p.parse_args(argv[1:])
        args.command = argv[0]
        return int(module.run(args))
    args = _claim_parser().parse_args(argv)
    if args.list:
        print(_list())
        return EXIT_OK
    if not args.claim:
        raise UsageError("a claim id is required (see verify-theorem --list)")
    claim = get_claim(args.claim)
    config = config_from_args(args)
    if config.exact:
        from verify.exact import get_exact_runner

        run = get_exact_runner(claim.id)(claim.id, config)
    else:
        run = claim.run(config)
    if args.save:
        save_run(run, args.save)
    print(run.report.to_json() if args.json else run.report.format_text())
    return EXIT_OK if run.report.passed else EXIT_FAILED


def main(argv=None) -> int:
    try:
        code = _run(sys.argv[1:] if argv is None else argv)
    except (UsageError, ValueError) as exc:
        print(f"verify-theorem: error: {exc}", file=sys.stderr)
        code = EXIT_USAGE
    except KeyboardInterrupt:
        print("verify-theorem: interrupted", file=sys.stderr)
        code = EXIT_INTERRUPTED
    except Exception as exc:  # a bug, not bad input: one line unless debugging
        if os.environ.get("VERIFY_THEOREM_DEBUG"):
            raise
        print(
            f"verify-theorem: internal error ({type(exc).__name__}: {exc}); "
            "rerun with VERIFY_THEOREM_DEBUG=1 for the traceback",
            file=sys.stderr,
        )
        code = EXIT_BUG
    sys.stdout.flush()
    return code


if __name__ == "__main__":
    sys.exit(main())
