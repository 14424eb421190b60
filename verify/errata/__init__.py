"""The errata report: every explicit formula of the paper, checked as printed.

Each module here defines ``ENTRIES``, a list of functions returning an :class:`ErrataEntry`, and
``ORDER`` (its place in the paper: sections 2-5, then appendices A.1-A.4 as 101-104);
every entry recomputes its evidence when called (exactly, with sympy, where possible), so the
report is reproducible by rerunning ``verify-theorem errata``. Entries that hold as printed are
included too: they are evidence as well.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import asdict, dataclass

__all__ = ["ErrataEntry", "collect_entries", "entry_functions"]


@dataclass(frozen=True)
class ErrataEntry:
    """One printed formula: does it hold, and if not, what does.

    Attributes:
        where: section, equation or theorem, e.g. "Eq. (5)".
        printed: the formula as printed (paraphrased in plain text where needed).
        holds_as_printed: whether it holds as printed.
        corrected: the corrected form (None when it holds as printed).
        corrected_holds: whether the corrected form was verified (None when not applicable).
        evidence: a short text with the numbers, from a computation rerun on each call.
    """

    where: str
    printed: str
    holds_as_printed: bool
    corrected: str | None
    corrected_holds: bool | None
    evidence: str

    def __post_init__(self) -> None:
        if self.holds_as_printed and self.corrected is not None:
            raise ValueError(f"{self.where}: an entry that holds as printed has no correction")
        if (self.corrected is None) != (self.corrected_holds is None):
            raise ValueError(f"{self.where}: corrected and corrected_holds go together")

    def to_dict(self) -> dict:
        return asdict(self)


def entry_functions() -> list[Callable[[], ErrataEntry]]:
    """All entry functions, in module order (section 2, 3, 4, 5, appendices)."""
    modules = []
    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("_"):
            modules.append(importlib.import_module(f"{__name__}.{info.name}"))
    modules.sort(key=lambda m: (getattr(m, "ORDER", 1e9), m.__name__))
    return [f for m in modules for f in getattr(m, "ENTRIES", [])]


def collect_entries(progress: bool = False) -> list[ErrataEntry]:
    """Run every entry function."""
    from tqdm.auto import tqdm

    funcs = entry_functions()
    return [f() for f in tqdm(funcs, desc="errata", disable=not progress, leave=False, delay=1.0)]
