"""What the command lines share and can import without torch: the exit codes, the one-line
argument parser, the ``main`` wrapper that turns every outcome into one of those codes,
``--version`` from the metadata, and the progress-bar policy."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence

__all__ = [
    "EXIT_BUG",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "OneLineParser",
    "UsageError",
    "VersionAction",
    "package_version",
    "run_main",
    "show_progress",
]

#: 0 done (every check passed), 1 a check or a cell failed, 2 bad usage, bad input or a fault of
#: the environment (one line on stderr), 3 an internal error (a bug), 130 interrupted.
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_BUG, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


class UsageError(Exception):
    """Bad usage: reported as one line on stderr with exit code 2."""


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose errors are a :class:`UsageError` (one line, exit 2), not a usage
    dump and ``SystemExit``."""

    def error(self, message: str):
        raise UsageError(message)


def _environment_fault(prog: str, exc: OSError) -> int:
    """One line for a fault of the environment, exit code 2 (exit 3 is for bugs only)."""
    if isinstance(exc, BrokenPipeError):  # e.g. piped into head: stop writing, quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_USAGE
    where = f" ({exc.filename})" if exc.filename else ""
    print(
        f"{prog}: error: environment fault{where}: {exc.strerror or exc} "
        f"(disk space, permissions or a device; not a bug in {prog})",
        file=sys.stderr,
    )
    return EXIT_USAGE


def _terminate(signum, frame):
    raise KeyboardInterrupt


def run_main(
    prog: str,
    run: Callable[[list[str]], int],
    argv: Sequence[str] | None,
    *,
    interrupted: str = "interrupted",
    sigterm: bool = False,
) -> int:
    """Run a command's ``run(argv)`` (default ``sys.argv[1:]``) and return its exit code.

    Bad usage and bad input (:class:`UsageError`, ``ValueError``) are one line on stderr and
    exit 2; an ``OSError`` is a fault of the environment (a full disk, permissions, a closed
    pipe), also exit 2; Ctrl-C (and SIGTERM with ``sigterm``) prints ``interrupted`` and exits
    130; anything else is a bug: one line and exit 3, or the traceback with
    ``VERIFY_THEOREM_DEBUG`` set. Small work runs on one thread (:mod:`sharpness._threads`).
    """
    from sharpness._threads import use_one_thread

    use_one_thread()
    trap = sigterm and threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if trap else None
    try:
        code = run(sys.argv[1:] if argv is None else list(argv))
    except (UsageError, ValueError) as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        code = EXIT_USAGE
    except KeyboardInterrupt:
        print(f"{prog}: {interrupted}", file=sys.stderr)
        code = EXIT_INTERRUPTED
    except OSError as exc:
        code = _environment_fault(prog, exc)
    except Exception as exc:  # a bug, not bad input: one line unless debugging
        if os.environ.get("VERIFY_THEOREM_DEBUG"):
            raise
        print(
            f"{prog}: internal error ({type(exc).__name__}: {exc}); "
            "rerun with VERIFY_THEOREM_DEBUG=1 for the traceback",
            file=sys.stderr,
        )
        code = EXIT_BUG
    finally:
        if trap:
            signal.signal(signal.SIGTERM, previous)
    sys.stdout.flush()
    return code


_DISTRIBUTION = "flatness-toolkit"


def package_version() -> str:
    """The installed version of the toolkit, from its package metadata."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(_DISTRIBUTION)
    except PackageNotFoundError:
        return "unknown (not installed)"


class VersionAction(argparse.Action):
    """``--version``: print ``<prog> <version>`` on stdout and exit 0 (metadata read only then)."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, **kw):
        kw.setdefault("help", "show the version and exit")
        super().__init__(option_strings, dest=dest, default=default, nargs=0, **kw)

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"{parser.prog} {package_version()}")
        parser.exit()


def show_progress(args, *, quiet_with_json: bool = True) -> bool:
    """Progress bars go to a terminal only: not with ``--no-progress``, not with ``--json`` (by
    default), and not when stderr is a pipe or a file."""
    if getattr(args, "no_progress", False):
        return False
    if quiet_with_json and getattr(args, "json", False):
        return False
    return sys.stderr.isatty()
