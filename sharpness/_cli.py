"""What both command lines share and can import without torch: ``--version`` from the metadata."""

from __future__ import annotations

import argparse

__all__ = ["VersionAction", "package_version"]

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
    import sys

    if getattr(args, "no_progress", False):
        return False
    if quiet_with_json and getattr(args, "json", False):
        return False
    return sys.stderr.isatty()
