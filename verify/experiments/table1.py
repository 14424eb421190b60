"""Table 1 of the paper, both result columns, reproduced: one row per architecture.

The paper's Table 1 has, for each 2-layer architecture (without bias, with bias, with simplified
BatchNorm, with simplified LayerNorm), two marks:

* second column, "All flattest minimizers generalize well." (Theorems 3.1, 4.1, 3.2, 5.1): checked
  by the claims of :data:`verify.registry.CLAIMS` (:func:`reproduce_second_column`, the end of
  ``verify-theorem all``). A ✗ row ("there provably exists a flattest minimizer that generalizes
  poorly") is an existence claim: it is reproduced *by construction* when the construction's claims
  verify (flattest by Tr(H) = the lower bound over all interpolators, its error by exact
  enumeration). A ✓ row ("all (near) flattest minimizers generalize") quantifies over all
  flattest models; no single construction proves it. What stands behind the mark is whatever its
  claims provide (a claim module may say so in ``EVIDENCE``; by default, numerical evidence). The
  kinds of the underlying checks are listed (float under the tolerance policy, exact, certificate,
  symbolic proof, sampled estimate), so an estimate is never passed off as a proof.
* third column, "Sharpness Minimization Algorithms Generalize" (Figures 1b, 4b, 2a, 6a): checked
  by rerunning 1-SAM on that panel (:func:`reproduce_third_column`, ``verify-theorem table1``).
"""

from __future__ import annotations

from dataclasses import dataclass

from verify.experiments.panels import RunSettings, run_panels, scale_notes
from verify.experiments.verdicts import (
    GENERALIZES,
    error_detail,
    error_lower,
    error_upper,
    final_record,
    is_estimate,
    mean,
    seed_list,
)
from verify.report import CheckResult, ClaimReport

__all__ = [
    "MARK_MEANING",
    "TABLE1",
    "Table1Row",
    "format_second_column",
    "reproduce_second_column",
    "reproduce_third_column",
    "run_third_column",
]


@dataclass(frozen=True)
class Table1Row:
    """One architecture row of Table 1.

    Second column: the paper's mark ``flattest_mark``, the ``theorem`` it cites, the ``claims``
    the mark rests on and the ``supporting`` claims behind them. Third column: the paper's mark
    ``sam_mark`` and the 1-SAM panel ``sam_panel`` (a preset of Figures 1-11) that is its evidence.
    """

    architecture: str
    theorem: str
    flattest_mark: str
    claims: tuple[str, ...]
    supporting: tuple[str, ...]
    sam_mark: str
    sam_panel: str


#: Table 1 of the paper, row by row: the second column (Theorems 3.1, 4.1, 3.2, 5.1) and the
#: third (Figures 1b, 4b, 2a, 6a).
TABLE1 = (
    Table1Row(
        "2-layer w/o Bias",
        theorem="Theorem 3.1",
        flattest_mark="✓",
        claims=("3.1",),
        supporting=("lemma3.1",),
        sam_mark="✓",
        sam_panel="fig1b",
    ),
    Table1Row(
        "2-layer w/ Bias",
        theorem="Theorem 4.1",
        flattest_mark="✗",
        claims=("4.1", "prop4.1"),
        supporting=("prop4.2", "lemma4.1"),
        sam_mark="✗",
        sam_panel="fig4b",
    ),
    Table1Row(
        "2-layer w/ simplified BatchNorm",
        theorem="Theorem 3.2",
        flattest_mark="✓",
        claims=("3.2",),
        supporting=(),
        sam_mark="✓",
        sam_panel="fig2a",
    ),
    Table1Row(
        "2-layer w/ simplified LayerNorm",
        theorem="Theorem 5.1",
        flattest_mark="✗",
        claims=("5.1", "prop5.1"),
        supporting=("prop5.2",),
        sam_mark="✓",
        sam_panel="fig6a",
    ),
)

#: What a second-column mark asserts.
MARK_MEANING = {
    "✓": "all (near) flattest minimizers provably generalize well",
    "✗": "there provably exists a flattest minimizer that generalizes poorly",
}


# --------------------------------------------------------------------------------------------
# Second column: from the claims' outcomes
# --------------------------------------------------------------------------------------------
def _evidence(row: Table1Row, outcomes: dict) -> str:
    """What stands behind a reproduced mark: the claims' declared evidence and check kinds."""
    declared = [outcomes[c].evidence for c in row.claims if c in outcomes and outcomes[c].evidence]
    if declared:
        base = "; ".join(dict.fromkeys(declared))
    elif row.flattest_mark == "✗":
        base = "proof by construction"
    else:
        base = "numerical evidence (not a proof)"
    kinds: dict[str, int] = {}
    for c in row.claims:
        if c in outcomes:
            for k, v in outcomes[c].kinds.items():
                kinds[k] = kinds.get(k, 0) + v
    if kinds.get("estimate"):
        base += "; includes a sampled ESTIMATE"
    if kinds.get("symbolic"):
        base += "; exact certificate (symbolic proof)"
    if kinds:
        base += " [checks: " + ", ".join(f"{v} {k}" for k, v in sorted(kinds.items())) + "]"
    return base


def reproduce_second_column(outcomes: dict) -> list[dict]:
    """The rows of Table 1's second column, reproduced from the claims' outcomes.

    ``outcomes`` maps claim ids to :class:`~verify.experiments.claims_runner.Outcome` (what
    :func:`~verify.experiments.claims_runner.run_claims` returns). Each row (a JSON-ready dict)
    holds the paper's mark, the reproduced one ("not available", "not run" or "not reproduced"
    when a claim is missing, did not run or failed), the evidence and every claim's verdict.
    """
    rows = []
    for row in TABLE1:
        missing = [
            c for c in row.claims if c not in outcomes or outcomes[c].status == "not available"
        ]
        not_run = [
            c for c in row.claims if c in outcomes and outcomes[c].status in ("refused", "error")
        ]
        failed = [c for c in row.claims if c in outcomes and outcomes[c].status == "failed"]
        if missing:
            reproduced = "not available"
            evidence = f"claim(s) {', '.join(missing)} not installed"
        elif not_run:
            reproduced = "not run"
            evidence = f"claim(s) {', '.join(not_run)} did not run"
        elif failed:
            reproduced = "not reproduced"
            evidence = f"claim(s) {', '.join(failed)} NOT VERIFIED"
        else:
            reproduced = row.flattest_mark
            qualifiers = [outcomes[c].qualifier for c in row.claims if outcomes[c].qualifier]
            if qualifiers:  # e.g. only a corrected statement is reproduced
                reproduced += " " + " ".join(dict.fromkeys(qualifiers))
            evidence = _evidence(row, outcomes)

        def verdicts(ids):
            return [
                {
                    "claim": c,
                    "status": outcomes[c].status if c in outcomes else "not available",
                    "verdict": outcomes[c].verdict() if c in outcomes else "not available",
                }
                for c in ids
            ]

        rows.append(
            {
                "architecture": row.architecture,
                "theorem": row.theorem,
                "paper": row.flattest_mark,
                "reproduced": reproduced,
                "matches_paper": reproduced == row.flattest_mark,
                "evidence": evidence,
                "meaning": MARK_MEANING[row.flattest_mark],
                "claims": verdicts(row.claims),
                "supporting": verdicts(row.supporting),
            }
        )
    return rows


def format_second_column(rows: list[dict], outcomes: dict) -> str:
    """The second column as a text table (paper vs reproduced, with what stands behind each
    mark), then the claims outside the table, those reused from a save and those that did not
    run."""
    head = ("architecture", "paper", "reproduced", "what stands behind it / claims")
    cells = []
    for r in rows:
        paper = f"{r['paper']} ({r['theorem'].replace('Theorem ', 'Thm ')})"
        lines = [r["evidence"]]
        lines.append("; ".join(f"{v['claim']} {v['verdict']}" for v in r["claims"]))
        if r["supporting"]:
            lines.append(
                "supporting: " + "; ".join(f"{v['claim']} {v['verdict']}" for v in r["supporting"])
            )
        cells.append((r["architecture"], paper, r["reproduced"], lines))
    w = [
        max(len(head[0]), *(len(c[0]) for c in cells)),
        max(len(head[1]), *(len(c[1]) for c in cells)),
        max(len(head[2]), *(len(c[2]) for c in cells)),
    ]
    out = [
        'Table 1, second column: "All flattest minimizers generalize well." (paper vs reproduced)',
        "",
        "  " + "  ".join(h.ljust(x) for h, x in zip(head[:3], w, strict=True)) + "  " + head[3],
        "  " + "  ".join("-" * x for x in w) + "  " + "-" * len(head[3]),
    ]
    pad = "  " + " " * (sum(w) + 2 * len(w))
    for arch, paper, rep, lines in cells:
        out.append(
            "  "
            + "  ".join(s.ljust(x) for s, x in zip((arch, paper, rep), w, strict=True))
            + "  "
            + lines[0]
        )
        out.extend(pad + line for line in lines[1:])
    out.append("")
    out.append("  ✓: " + MARK_MEANING["✓"] + ".")
    out.append("  ✗: " + MARK_MEANING["✗"] + ".")
    in_table = {c for row in TABLE1 for c in row.claims + row.supporting}
    others = [o for cid, o in outcomes.items() if cid not in in_table]
    if others:
        out.append("  other claims: " + "; ".join(f"{o.claim} {o.verdict()}" for o in others))
    resumed = [o.claim for o in outcomes.values() if o.resumed]
    if resumed:
        out.append(f"  reused from --save (same settings): {', '.join(resumed)}")
    problems = [o for o in outcomes.values() if o.status in ("refused", "error")]
    for o in problems:
        out.append(f"  {o.claim}: {o.verdict()}: {o.reason}")
    return "\n".join(out)


# --------------------------------------------------------------------------------------------
# Third column: from 1-SAM's runs
# --------------------------------------------------------------------------------------------
def reproduce_third_column(R: dict, scale: str, seeds: int) -> tuple[ClaimReport, str]:
    """Table 1's third column from 1-SAM's runs ``R`` ({panel: runs}, every row's ``sam_panel``):
    a row generalizes when every seed's final test error is <= :data:`GENERALIZES` (for sampled
    estimates, the interval's upper end; "does not generalize": the lower end above it). Returns
    the checks as a report and the column as a text table."""
    checks = []
    lines = [
        'Table 1, third column ("Sharpness Minimization Algorithms Generalize"), 1-SAM, '
        f"scale {scale}, {seeds} seed(s)",
        "",
    ]
    rows = [("architecture", "paper", "ours", "evidence (1-SAM, last evaluation)")]
    for row in TABLE1:
        arch_name, paper_mark, panel = row.architecture, row.sam_mark == "✓", row.sam_panel
        runs = R[panel]
        te = [final_record(r).get("test_error") for r in runs]
        tr = [final_record(r).get("sharpness") for r in runs]
        up = [error_upper(final_record(r)) for r in runs]
        lo = [error_lower(final_record(r)) for r in runs]
        ours = all(v is not None and v <= GENERALIZES for v in up)
        fails = all(v is not None and v > GENERALIZES for v in lo)
        mark = "✓" if ours else ("✗" if fails else "?")
        kind = "estimate" if is_estimate(runs) else "exact"
        ev = (
            f"{panel}: test error {seed_list(te)} ({kind}), sharpness {seed_list(tr)}, "
            f"epoch {final_record(runs[0]).get('epoch')}/{runs[0].config.epochs}"
        )
        rows.append((arch_name, row.sam_mark, mark, ev))
        agree = (paper_mark and ours) or (not paper_mark and fails)
        checks.append(
            CheckResult(
                name=f"{arch_name}: {'generalizes' if paper_mark else 'does not generalize'}",
                passed=agree,
                value=mean(te),
                expected=f"{'<=' if paper_mark else '>'} {GENERALIZES:g}",
                tolerance="test error, every seed",
                detail=error_detail(runs),
                kind="estimate" if is_estimate(runs) else "exact",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for j, r in enumerate(rows):
        lines.append(
            "  " + "  ".join(s.ljust(w) for s, w in zip(r[:3], widths, strict=True)) + "  " + r[3]
        )
        if j == 0:
            lines.append("  " + "  ".join("-" * w for w in widths) + "  " + "-" * 34)
    params = {
        "scale": scale,
        "seeds": seeds,
        "rule": f"generalizes = test error <= {GENERALIZES:g}",
    }
    report = ClaimReport(
        "table1",
        "Table 1, third column: does 1-SAM find generalizing models?",
        "Table 1; Sections 3.2, 4.2, 5.2; Figures 1b, 2a, 4b, 6a",
        params,
        tuple(checks),
        tuple(scale_notes(R, scale)),
    )
    return report, "\n".join(lines)


def run_third_column(settings: RunSettings | None = None) -> tuple[ClaimReport, str]:
    """Train (or reuse) 1-SAM on each row's panel, then :func:`reproduce_third_column`."""
    settings = RunSettings() if settings is None else settings
    R = run_panels([row.sam_panel for row in TABLE1], settings)
    return reproduce_third_column(R, settings.scale, settings.seeds)
