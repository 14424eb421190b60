"""Structured results: one :class:`CheckResult` per check, one :class:`ClaimReport` per claim."""

from __future__ import annotations

import json
import math
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CheckResult", "ClaimReport", "KINDS"]

#: float: compared under the tolerance policy; exact: integers, patterns or signs compared with ==;
#: certificate: a certified inequality (e.g. an LP margin above its rounding-error bound);
#: estimate: a sampled estimate, passing when the expected value lies in its confidence interval;
#: symbolic: proven in exact arithmetic (sympy) -- equality of simplified expressions, no tolerance.
KINDS = ("float", "exact", "certificate", "estimate", "symbolic")


def _jsonable(v):
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    if isinstance(v, Mapping):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    if hasattr(v, "item") and callable(v.item):
        return _jsonable(v.item())
    return v


@dataclass(frozen=True, kw_only=True)
class CheckResult:
    """The outcome of one check: what was measured, against what, how strictly, and the verdict.

    Built by keyword: ``CheckResult(name=..., passed=..., value=..., expected=..., tolerance=...)``.
    """

    name: str
    passed: bool
    value: Any
    expected: Any
    tolerance: str
    detail: str = ""
    kind: str = "float"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        object.__setattr__(self, "passed", bool(self.passed))

    def to_dict(self) -> dict:
        return _jsonable(
            {
                "name": self.name,
                "passed": self.passed,
                "value": self.value,
                "expected": self.expected,
                "tolerance": self.tolerance,
                "detail": self.detail,
                "kind": self.kind,
            }
        )


@dataclass(frozen=True)
class ClaimReport:
    """Every check of one claim, the parameters used, and notes on where the paper is wrong."""

    claim: str
    title: str
    reference: str
    parameters: Mapping[str, Any]
    checks: tuple[CheckResult, ...]
    notes: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "parameters", types.MappingProxyType(dict(self.parameters)))
        object.__setattr__(self, "checks", tuple(self.checks))
        object.__setattr__(self, "notes", tuple(self.notes))

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(c.passed for c in self.checks)

    def to_dict(self) -> dict:
        return {
            "claim": self.claim,
            "title": self.title,
            "reference": self.reference,
            "passed": self.passed,
            "parameters": _jsonable(dict(self.parameters)),
            "checks": [c.to_dict() for c in self.checks],
            "notes": list(self.notes),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, indent=2, allow_nan=False)

    def format_text(self) -> str:
        lines = [f"{self.claim}: {self.title}", f"  paper: {self.reference}"]
        params = ", ".join(f"{k}={_fmt(v)}" for k, v in self.parameters.items())
        lines.append(f"  parameters: {params}")
        rows = [("check", "measured", "expected", "tolerance", "status")]
        for c in self.checks:
            status = "PASS" if c.passed else "FAIL"
            if c.kind == "estimate":
                status += " (estimate)"
            elif c.kind == "symbolic":
                status += " (proof)"
            rows.append((c.name, _fmt(c.value), _fmt(c.expected), c.tolerance, status))
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        lines.append("")
        for j, r in enumerate(rows):
            lines.append(
                "  " + "  ".join(s.ljust(w) for s, w in zip(r, widths, strict=True)).rstrip()
            )
            if j == 0:
                lines.append("  " + "  ".join("-" * w for w in widths))
        details = [(c.name, c.detail) for c in self.checks if c.detail]
        if details:
            lines.append("")
            lines.append("  details:")
            for name, det in details:
                lines.append(f"    - {name}: {det}")
        if self.notes:
            lines.append("")
            lines.append("  notes on the paper:")
            for note in self.notes:
                lines.append(f"    * {note}")
        n_ok = sum(c.passed for c in self.checks)
        verdict = "VERIFIED" if self.passed else "NOT VERIFIED"
        lines.append("")
        lines.append(f"  verdict: {verdict} ({n_ok}/{len(self.checks)} checks passed)")
        return "\n".join(lines)


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, float):
        if v == 0 or (1e-4 <= abs(v) < 1e6):
            return f"{v:.12g}"
        return f"{v:.6e}"
    return str(v)
