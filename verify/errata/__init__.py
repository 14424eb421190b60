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
from enum import StrEnum

__all__ = ["ErrataEntry", "ErratumClass", "class_counts", "collect_entries", "entry_functions"]


class ErratumClass(StrEnum):
    """What kind of verdict an entry is (its value is the text the report prints).

    Attributes:
        HOLDS: the formula or statement holds as printed.
        WRONG_AS_PRINTED: a displayed formula (an equation, a constant, an index, a weight, a
            case condition) is wrong; the corrected formula is given and verified.
        PROOF_GAP: the statement holds (or is not in question), but a step or construction of
            its proof does not do what the proof says; a repair is given and verified.
        FALSE_STATEMENT: a theorem, lemma or proposition as stated fails (a counterexample).
        VACUOUS: the statement quantifies over an empty set, so it holds but says nothing.
        CONVENTION: the verdict depends on a convention the paper leaves open (e.g. 0/0);
            ``holds_as_printed`` is the verdict under the paper's own definitions and the
            evidence gives both readings.
        TEXTUAL: a wording or labelling inconsistency, not a computation.
    """

    HOLDS = "holds"
    WRONG_AS_PRINTED = "wrong as printed"
    PROOF_GAP = "gap in a proof"
    FALSE_STATEMENT = "false statement"
    VACUOUS = "vacuous"
    CONVENTION = "depends on a convention"
    TEXTUAL = "textual"


#: Classes of an entry that does not hold as printed: each carries a verified correction.
WRONG_CLASSES = frozenset(
    {
        ErratumClass.WRONG_AS_PRINTED,
        ErratumClass.PROOF_GAP,
        ErratumClass.FALSE_STATEMENT,
        ErratumClass.TEXTUAL,
    }
)


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
        kind: the class of the verdict (:class:`ErratumClass`).

    Invariants (checked at construction):
        - HOLDS: holds_as_printed is True and there is no correction.
        - VACUOUS: holds_as_printed is True (nothing to falsify); ``corrected`` may state what
          would make the statement say something.
        - CONVENTION: holds_as_printed is the verdict under the paper's own definitions;
          ``corrected`` may state the form that holds under the other convention.
        - WRONG_AS_PRINTED, PROOF_GAP, FALSE_STATEMENT, TEXTUAL: holds_as_printed is False and
          there is a correction.
        - corrected and corrected_holds are both None or both given.
    """

    where: str
    printed: str
    holds_as_printed: bool
    corrected: str | None
    corrected_holds: bool | None
    evidence: str
    kind: ErratumClass

    def __post_init__(self) -> None:
        try:
            kind = ErratumClass(self.kind)
        except ValueError:
            raise ValueError(
                f"{self.where}: kind must be one of {[k.value for k in ErratumClass]}, "
                f"got {self.kind!r}"
            ) from None
        object.__setattr__(self, "kind", kind)
        if not isinstance(self.holds_as_printed, bool):
            raise ValueError(
                f"{self.where}: holds_as_printed must be True or False, got {self.holds_as_printed!r}"
            )
        if (self.corrected is None) != (self.corrected_holds is None):
            raise ValueError(f"{self.where}: corrected and corrected_holds go together")
        if kind is ErratumClass.HOLDS and (not self.holds_as_printed or self.corrected is not None):
            raise ValueError(
                f"{self.where}: kind 'holds' needs holds_as_printed True and no correction, got "
                f"holds_as_printed={self.holds_as_printed!r}, corrected={self.corrected!r}"
            )
        if kind is ErratumClass.VACUOUS and not self.holds_as_printed:
            raise ValueError(f"{self.where}: a vacuous statement holds, got holds_as_printed False")
        if kind in WRONG_CLASSES and (self.holds_as_printed or self.corrected is None):
            raise ValueError(
                f"{self.where}: kind {kind.value!r} needs holds_as_printed False and a correction, "
                f"got holds_as_printed={self.holds_as_printed!r}, corrected={self.corrected!r}"
            )

    def to_dict(self) -> dict:
        out = asdict(self)
        out["kind"] = self.kind.value
        return out


def class_counts(entries) -> dict[ErratumClass, int]:
    """How many entries fall in each class, in the order of :class:`ErratumClass` (zeros kept)."""
    counts = dict.fromkeys(ErratumClass, 0)
    for e in entries:
        counts[e.kind] += 1
    return counts


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
