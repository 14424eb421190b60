"""``verify-theorem``: check a claim of Wen, Li & Ma (2023) on concrete weights.

    verify-theorem CLAIM [options]        one claim (see --list)
    verify-theorem COMMAND [options]      a subcommand from verify/commands (see --list)
    verify-theorem --version

Exit codes: 0 every check passed, 1 a check failed, 2 bad usage or bad input (one line on stderr),
3 an internal error (a bug; one line unless VERIFY_THEOREM_DEBUG is set), 130 interrupted.

The parser is built from light metadata only (:mod:`verify.claim_index` and the static
:data:`COMMAND_INDEX`), and the arguments that can be checked without data are checked before the
library is imported: ``--help``, ``--list``, ``--version`` and bad input are answered without
importing torch. A subcommand's module is imported only when that subcommand runs.
"""

from __future__ import annotations

import argparse
import importlib
import math
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING

from sharpness._cli import (
    EXIT_FAILED,
    EXIT_OK,
    OneLineParser,
    UsageError,
    VersionAction,
    run_main,
    show_progress,
)
from verify.claim_index import CLAIM_IDS, CLAIM_INDEX, check_claim_id

if TYPE_CHECKING:
    from verify.config import ClaimConfig

__all__ = [
    "COMMANDS",
    "UsageError",
    "add_claim_arguments",
    "check_claim_arguments",
    "config_from_args",
    "main",
]


#: ``verify.config.DEFAULT_D``, repeated here so that ``--help`` needs no import of the library
#: (tests/verify/test_startup.py keeps the two equal).
DEFAULT_D = 10


_Parser = OneLineParser  # one line, exit 2, no usage dump


# --- subcommands -----------------------------------------------------------------------------


@dataclass(frozen=True)
class CommandInfo:
    """One module of :mod:`verify.commands`: its ``NAMES``, ``HELP`` and ``ORDER``."""

    module: str
    names: tuple[str, ...]
    help: str
    order: float


#: The modules of :mod:`verify.commands` with their ``NAMES``, ``HELP`` and ``ORDER``, known
#: without importing them (tests/verify/test_startup.py checks every module against this).
COMMAND_INDEX: tuple[CommandInfo, ...] = (
    CommandInfo(
        "all",
        ("all",),
        "run every claim and end with the paper's Table 1 (second column), reproduced",
        5,
    ),
    CommandInfo(
        "errata",
        ("errata",),
        "check every explicit formula of the paper as printed; corrections with evidence",
        10,
    ),
    CommandInfo(
        "evaluate",
        ("evaluate",),
        "exact hypercube error, trace and Lemma 4.1 quantities for your own weights (PARAMS.npz)",
        20,
    ),
    CommandInfo(
        "experiments",
        (
            "fig1",
            "fig2",
            "fig4",
            "fig5",
            "fig6",
            "table1",
            "fig7",
            "fig8",
            "fig9",
            "fig10",
            "fig11",
        ),
        "rerun the paper's experiments (Figs. 1-11, Table 1's 3rd column): figures and verdicts",
        60,
    ),
    CommandInfo(
        "phase_diagram",
        ("phase-diagram",),
        "Chen et al. (2023) / Kou et al. (2023): test-error phase diagram, SGD beside SAM",
        70,
    ),
)


class _Commands(Mapping[str, ModuleType]):
    """Command name -> its module, in ``--list`` order; a module is imported on first lookup."""

    def __init__(self, index: Sequence[CommandInfo]):
        found: dict[str, CommandInfo] = {}
        for info in index:
            for name in info.names:
                if name in found or name in CLAIM_IDS:
                    raise RuntimeError(f"command name {name!r} is defined twice")
                found[name] = info
        self.info = dict(sorted(found.items(), key=lambda kv: (kv[1].order, kv[0])))

    def __getitem__(self, name: str) -> ModuleType:
        info = self.info[name]
        return importlib.import_module(f"verify.commands.{info.module}")

    def __iter__(self) -> Iterator[str]:
        return iter(self.info)

    def __len__(self) -> int:
        return len(self.info)


COMMANDS: Mapping[str, ModuleType] = _Commands(COMMAND_INDEX)


# --- the claims' options ---------------------------------------------------------------------


def add_claim_arguments(p: argparse.ArgumentParser) -> None:
    """The options shared by every claim (and by commands that run claims)."""
    p.add_argument("--d", type=int, default=None, help=f"input dimension (default {DEFAULT_D})")
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
        help="write dataset.npz, params.npz and report.json into DIR, as one set (atomically)",
    )
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.add_argument(
        "--ln-eps",
        "--ln-epsilon",  # the name before 0.2, still accepted
        dest="ln_eps",
        type=float,
        default=None,
        metavar="EPS",
        help="eps of 2-MLP-Sim-LN's max{||h||, eps} (claims about Sim-LN)",
    )
    p.add_argument(
        "--exact",
        action="store_true",
        help="prove the claim in exact arithmetic (sympy) instead of floating point",
    )


def _at_least(name: str, value: int, minimum: int) -> None:
    # the message of constructions._checks.check_int, which ClaimConfig raises
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value}")


def _positive(name: str, value: float) -> None:
    # the message of constructions._checks.check_positive_float
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")


def check_claim_arguments(args: argparse.Namespace) -> None:
    """Check the claim options that need no data, as :class:`~verify.config.ClaimConfig` would.

    Runs before the library (torch) is imported. The checks, and their messages, are those of
    ``ClaimConfig`` in the same order; then the combinations that would silently ignore an option
    are refused (``--d``/``--n`` with ``--data``, ``--hypercube-samples`` with ``--exact``),
    ``--data`` must name an existing regular file (a named pipe is refused without being opened;
    it is loaded later), and the cost of the request is estimated against
    :data:`sharpness.limits.LIMITS` (with ``--data``, again once its size is known).

    Raises:
        ValueError: naming the first bad value, combination or exceeded limit.
    """
    from sharpness.limits import check_claim_request, check_regular_input_file

    d = DEFAULT_D if getattr(args, "d", None) is None else args.d
    if args.data is None:
        _at_least("d", d, 2)
        if args.n is not None:
            _at_least("n", args.n, 1)
            if (args.n - 1).bit_length() > d:  # n > 2^d, without building 2^d
                raise ValueError(
                    f"n must be <= 2^d = {_pow2(d)} (distinct points of {{-1,1}}^{d}), "
                    f"got n={args.n}"
                )
    elif getattr(args, "d", None) is not None or args.n is not None:
        raise ValueError(
            "--d and --n cannot be combined with --data: the dataset's shape gives d and n"
        )
    _at_least("depth", args.depth, 2)
    _at_least("seed", args.seed, 0)
    if args.seed > 2**63 - 1:  # verify.config.MAX_SEED (torch seeds are 64-bit)
        raise ValueError(f"seed must be an integer <= {2**63 - 1}, got {args.seed}")
    if args.epsilon is not None:
        _positive("epsilon", args.epsilon)
    if args.hypercube_samples is not None:
        _at_least("hypercube_samples", args.hypercube_samples, 1)
    if args.ln_eps is not None:
        _positive("ln_eps", args.ln_eps)
    if getattr(args, "exact", False) and args.hypercube_samples is not None:
        raise ValueError(
            "--hypercube-samples cannot be combined with --exact: the exact proof counts the "
            "whole cube, a sample would be ignored"
        )
    if args.data is not None:
        check_regular_input_file(args.data, "dataset file")
    else:
        n = (100 if d >= 7 else 2**d) if args.n is None else args.n  # verify.config.DEFAULT_N
        check_claim_request(d=d, n=n, depth=args.depth, hypercube_samples=args.hypercube_samples)


def _pow2(d: int) -> str:
    """2^d as ClaimConfig writes it (an integer), as a power beyond int-to-str's digit limit."""
    return str(2**d) if d <= 10_000 else f"2^{d}"


def config_from_args(args: argparse.Namespace) -> ClaimConfig:
    """The :class:`~verify.config.ClaimConfig` of parsed claim options (loads ``--data``).

    Raises:
        ValueError: for a bad value or an unreadable dataset file.
    """
    check_claim_arguments(args)
    from constructions import load_dataset
    from sharpness.limits import check_claim_request
    from verify.config import ClaimConfig

    dataset = load_dataset(args.data) if args.data else None
    if dataset is not None:  # the size is known only now
        check_claim_request(
            d=dataset.d, n=dataset.n, depth=args.depth, hypercube_samples=args.hypercube_samples
        )
    return ClaimConfig(
        d=DEFAULT_D if args.d is None else args.d,
        n=args.n,
        depth=args.depth,
        seed=args.seed,
        epsilon=args.epsilon,
        form=args.form,
        dataset=dataset,
        hypercube_samples=args.hypercube_samples,
        progress=show_progress(args),
        ln_eps=args.ln_eps,
        exact=args.exact,
    )


# --- the command line ------------------------------------------------------------------------


def _claim_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="verify-theorem",
        description="Verify a claim of 'Sharpness Minimization Algorithms Do Not Only Minimize "
        "Sharpness To Achieve Better Generalization' on explicit weights.",
        epilog="Claims: "
        + ", ".join(CLAIM_IDS)
        + ". Commands: "
        + ", ".join(COMMANDS)
        + ". Exit codes: 0 verified, 1 a check failed, 2 bad input.",
    )
    p.add_argument("claim", nargs="?", help="claim id or command (see --list)")
    p.add_argument("--list", action="store_true", help="list the claim ids and commands, and exit")
    p.add_argument("--version", action=VersionAction)
    add_claim_arguments(p)
    p.add_argument(
        "--force",
        action="store_true",
        help="with --save: replace DIR even though it holds other files (they are deleted)",
    )
    return p


def _list() -> str:
    names = list(CLAIM_IDS) + list(COMMANDS)
    width = max(len(c) for c in names)
    lines = ["claims:"]
    lines += [f"  {c.id.ljust(width)}  {c.title}  [{c.reference}]" for c in CLAIM_INDEX]
    if COMMANDS:
        lines.append("commands:")
        lines += [f"  {name.ljust(width)}  {info.help}" for name, info in COMMANDS.info.items()]
    return "\n".join(lines)


def _run(argv: Sequence[str]) -> int:
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
    check_claim_id(args.claim)
    check_claim_arguments(args)
    from verify.save import check_save_target, save_run

    if args.save is not None:  # refused before the work, not after it
        check_save_target(args.save, force=args.force)
    elif args.force:
        raise UsageError("--force applies to --save DIR only")
    # the request is well formed: now the library (torch, sympy) is imported
    from verify.registry import get_claim

    claim = get_claim(args.claim)
    config = config_from_args(args)
    if config.exact:
        from verify.exact import get_exact_runner

        run = get_exact_runner(claim.id)(claim.id, config)
    else:
        run = claim.run(config)
    print(run.report.to_json() if args.json else run.report.format_text())
    if args.save is not None:
        sys.stdout.flush()  # the report stands even when the save fails (exit 2)
        save_run(run, args.save, force=args.force)
    return EXIT_OK if run.report.passed else EXIT_FAILED


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``verify-theorem`` on ``argv`` (default ``sys.argv[1:]``); return the exit code."""
    return run_main("verify-theorem", _run, argv)


if __name__ == "__main__":
    sys.exit(main())
