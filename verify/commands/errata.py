"""``verify-theorem errata``: every explicit formula of the paper, checked as printed.

Prints what is wrong in the paper as printed and what holds, each entry with the evidence of a
computation rerun now (exact, with sympy, wherever possible). ``--json`` prints one list of
objects with the keys where, printed, holds_as_printed, corrected, corrected_holds, evidence
and kind (the class of the verdict, :class:`verify.errata.ErratumClass`: "holds", "wrong as
printed", "gap in a proof", "false statement", "vacuous", "depends on a convention", "textual").
Exit code 0 when every printed formula either holds or has a verified correction, 1 otherwise.
"""

from __future__ import annotations

import json
import textwrap

from sharpness._cli import show_progress

NAMES = ("errata",)
HELP = "check every explicit formula of the paper as printed; corrections with evidence"
ORDER = 10


def add_arguments(p) -> None:
    p.add_argument("--json", action="store_true", help="print one JSON list of entries")
    p.add_argument(
        "--only-wrong", action="store_true", help="list only formulas that fail as printed"
    )


def format_text(entries) -> str:
    from verify.errata import class_counts

    wrong = [e for e in entries if not e.holds_as_printed]
    counts = ", ".join(f"{k.value} {v}" for k, v in class_counts(entries).items() if v)
    lines = [
        f"Errata of Wen, Li & Ma (2023), as printed: {len(wrong)} of {len(entries)} checked formulas "
        f"do not hold; each correction's status is shown.",
        f"By class: {counts}.",
        "",
    ]
    for e in entries:
        if e.holds_as_printed:
            status = {
                None: "HOLDS",
                True: "HOLDS -> alternative form (verified)",
                False: "HOLDS -> alternative form FAILS",
            }[e.corrected_holds]
        else:
            status = {
                True: "WRONG -> corrected (verified)",
                False: "WRONG -> correction FAILS",
                None: "WRONG",
            }[e.corrected_holds]
        lines.append(f"[{status}] ({e.kind.value}) {e.where}")
        lines.append(textwrap.fill(f"printed:   {e.printed}", 100, subsequent_indent=" " * 13))
        if e.corrected:
            lines.append(
                textwrap.fill(f"corrected: {e.corrected}", 100, subsequent_indent=" " * 13)
            )
        lines.append(textwrap.fill(f"evidence:  {e.evidence}", 100, subsequent_indent=" " * 13))
        lines.append("")
    return "\n".join(lines).rstrip()


def run(args) -> int:
    from verify.errata import collect_entries  # lazy: sympy and torch, only when it runs

    entries = collect_entries(progress=show_progress(args))
    if args.only_wrong:
        entries = [e for e in entries if not e.holds_as_printed]
    if args.json:
        print(json.dumps([e.to_dict() for e in entries], indent=2, sort_keys=True))
    else:
        print(format_text(entries))
    return 1 if any(e.corrected_holds is False for e in entries) else 0
