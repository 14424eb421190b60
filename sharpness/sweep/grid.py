"""A sweep's grid: a TOML file of ``sharpness-train`` options, expanded into cells.

.. code-block:: toml

    arch = "bias"
    algo = ["sam", "sgd"]          # a list is an axis
    width = 50
    d = [8, 12]
    seed = [0, 1, 2]
    epochs = 200                   # the grid is the product: 2 * 2 * 3 = 12 cells

The keys are ``sharpness-train``'s option names (``label-noise`` or ``label_noise``); those that do
not describe a run (``out``, ``json``, ``threads``, ...) are refused. Every cell is turned into its
:class:`~sharpness.training.TrainConfig` by ``sharpness-train``'s own parser and
:func:`~sharpness.training.cli.build_config`, so a grid means exactly what the same options mean
on the command line, and every bad value is refused before anything runs.

A cell's key is the SHA-256 of its full configuration (:meth:`TrainConfig.identity`, JSON with
sorted keys): two cells with the same numbers share a key whatever option spelled them.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sharpness.training.runs import TrainConfig

__all__ = ["Cell", "GridError", "cell_key", "expand_grid", "grid_options", "load_grid"]

# options of sharpness-train that say how to run, not what to run
_NOT_GRID = {"out", "json", "no_progress", "threads", "device", "version", "help"}


class GridError(ValueError):
    """A bad grid file: one line naming the key or the cell and the value."""


@dataclass(frozen=True, kw_only=True)
class Cell:
    """One run of a sweep: the grid's values for it, its configuration and its key."""

    options: dict[str, Any] = field(hash=False)
    config: TrainConfig = field(hash=False)
    key: str

    def __post_init__(self) -> None:
        if not (isinstance(self.key, str) and len(self.key) == 16):
            raise ValueError(f"a cell key is 16 hex digits, got {self.key!r}")


def grid_options() -> dict[str, Any]:
    """``sharpness-train``'s options that a grid may set: name (with underscores) -> action."""
    from sharpness.training.cli import parser

    out = {}
    for action in parser()._actions:
        if action.option_strings and action.dest not in _NOT_GRID:
            out[action.dest] = action
    return out


def cell_key(config: TrainConfig) -> str:
    """The cache key of a configuration: 16 hex digits of the SHA-256 of its identity."""
    text = json.dumps(config.identity(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _scalar_ok(v: Any) -> bool:
    return isinstance(v, bool | int | float | str)


def load_grid(path: str | os.PathLike[str]) -> dict[str, list[Any]]:
    """Read a grid file: option name (underscores) -> the axis (a list; a scalar is one value).

    Raises:
        GridError: the file is missing or not TOML, a key is not an option, a value is not a
            scalar or a non-empty list of scalars, or an axis repeats a value.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise GridError(f"cannot read the grid {p}: {exc}") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise GridError(f"{p} is not valid TOML: {exc}") from None
    return normalize_grid(raw, where=str(p))


def normalize_grid(raw: dict[str, Any], *, where: str = "grid") -> dict[str, list[Any]]:
    """Check a parsed grid and return it with option names normalized and every value a list."""
    options = grid_options()
    if not raw:
        raise GridError(f"{where}: the grid sets no option")
    axes: dict[str, list[Any]] = {}
    for key, value in raw.items():
        name = key.replace("-", "_")
        if name not in options:
            known = ", ".join(sorted(o.replace("_", "-") for o in options))
            raise GridError(
                f"{where}: unknown key {key!r}; the keys are sharpness-train options: {known}"
            )
        if name in axes:
            raise GridError(f"{where}: {key!r} is given twice")
        values = value if isinstance(value, list) else [value]
        if not values:
            raise GridError(f"{where}: {key!r} is an empty list (an axis needs a value)")
        for v in values:
            if not _scalar_ok(v):
                raise GridError(
                    f"{where}: {key!r} must be a number, a string, a boolean or a list of them, got {v!r}"
                )
        if len({json.dumps(v) for v in values}) != len(values):
            raise GridError(f"{where}: the axis {key!r} repeats a value: {values!r}")
        axes[name] = values
    return axes


def _argv(assignment: dict[str, Any], options: dict[str, Any]) -> list[str]:
    argv = ["--out", "-"]
    for name, v in assignment.items():
        action = options[name]
        flag = action.option_strings[0]
        if action.nargs == 0:  # a store_true flag such as --exact-final
            if not isinstance(v, bool):
                raise ValueError(f"{flag} is true or false, got {v!r}")
            if v:
                argv.append(flag)
            continue
        if isinstance(v, bool):
            raise ValueError(f"{flag} takes a value, not {str(v).lower()}")
        if action.type is int and isinstance(v, float) and v.is_integer():
            v = int(v)  # epochs = 1e5
        argv += [flag, str(v)]
    return argv


def expand_grid(axes: dict[str, list[Any]]) -> list[Cell]:
    """The cells of a grid (the product of its axes, in the file's order), each a checked
    configuration; cells with the same configuration are listed once.

    Raises:
        GridError: naming the first cell whose options are refused and why.
    """
    from sharpness._cli import UsageError
    from sharpness.training.cli import build_config, parser

    options = grid_options()
    names = list(axes)
    cells: list[Cell] = []
    seen: set[str] = set()
    for values in itertools.product(*(axes[k] for k in names)):
        assignment = dict(zip(names, values, strict=True))
        label = ", ".join(f"{k}={v!r}" for k, v in assignment.items())
        try:
            args = parser().parse_args(_argv(assignment, options))
            config = build_config(args)
        except (UsageError, ValueError) as exc:
            raise GridError(f"cell ({label}): {exc}") from None
        key = cell_key(config)
        if key not in seen:
            seen.add(key)
            cells.append(Cell(options=assignment, config=config, key=key))
    return cells
