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
