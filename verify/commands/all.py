"""``verify-theorem all``: run every claim, then reproduce the paper's Table 1, second column.

    verify-theorem all --d D [--json] [--save DIR] [--seed S] [any claim option]

Every claim registered in :data:`verify.registry.CLAIMS` runs with the same options (its report
is printed as ``verify-theorem ID`` prints it), and the output ends with one table: for each
architecture row of Table 1 ("All flattest minimizers generalize well."), the paper's mark, the
mark the toolkit reproduces, what stands behind it, and the verdict of every claim it rests on.

* A ✗ row ("there provably exists a flattest minimizer that generalizes poorly") is an existence
  claim: it is reproduced *by construction* when the construction's claims verify (flattest by
  Tr(H) = the lower bound over all interpolators, its error by exact enumeration).
* A ✓ row ("all (near) flattest minimizers generalize") quantifies over all flattest models;
  no single construction proves it. What stands behind the mark is whatever its claims provide
  (a claim module may say so in ``EVIDENCE``; by default, numerical evidence).
* The kinds of the underlying checks are listed (float under the tolerance policy, exact,
  certificate, symbolic proof, sampled estimate), so an estimate is never passed off as a proof.

A claim that is not installed is shown as "not available". Exit code: 0 when every installed
claim verifies; 1 when a check failed; 2 for bad input (one line on stderr; a claim that refuses
the input, e.g. a Proposition given non-P_xor data, counts as bad input after the table is
printed); 3 for an internal error in a claim.

``--save DIR`` writes one subdirectory per claim (DIR/<id>/dataset.npz, params.npz, report.json,
as ``verify-theorem ID --save``) and DIR/all.json (settings, table, verdicts), all atomically. A
rerun with the same settings reuses the claims already saved (an interrupted run resumes);
``--fresh`` reruns everything.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from verify.registry import CLAIMS
from verify.report import CheckResult, ClaimReport
from verify.save import save_run

NAMES = ("all",)
HELP = "run every claim and end with the paper's Table 1 (second column), reproduced"
ORDER = 5

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_BUG = 0, 1, 2, 3
SAVED_FILES = ("dataset.npz", "params.npz", "report.json")


@dataclass(frozen=True)
class Table1Row:
    """One architecture row of Table 1 and the claims its second-column mark rests on."""

    architecture: str
    paper_mark: str
    theorem: str
    claims: tuple[str, ...]
    supporting: tuple[str, ...] = ()


#: Table 1 of the paper, second column ("All flattest minimizers generalize well.").
TABLE1 = (
    Table1Row("2-layer w/o bias", "✓", "Theorem 3.1", ("3.1",), ("lemma3.1",)),
    Table1Row("2-layer w/ bias", "✗", "Theorem 4.1", ("4.1", "prop4.1"), ("prop4.2", "lemma4.1")),
    Table1Row("2-layer w/ simplified BatchNorm", "✓", "Theorem 3.2", ("3.2",)),
    Table1Row(
        "2-layer w/ simplified LayerNorm", "✗", "Theorem 5.1", ("5.1", "prop5.1"), ("prop5.2",)
    ),
)

MARK_MEANING = {
    "✓": "all (near) flattest minimizers provably generalize well",
    "✗": "there provably exists a flattest minimizer that generalizes poorly",
}


@dataclass(frozen=True)
class Outcome:
    """What happened to one claim: a report, or why there is none."""

    claim: str
    status: str  # "verified", "failed", "refused", "error", "not available"
    report: ClaimReport | None = None
    reason: str = ""
    resumed: bool = False
    evidence: str | None = None
    qualifier: str | None = None
    kinds: dict = field(default_factory=dict)

    def verdict(self) -> str:
        if self.report is not None:
            n_ok = sum(c.passed for c in self.report.checks)
            word = "VERIFIED" if self.report.passed else "NOT VERIFIED"
            return f"{word} ({n_ok}/{len(self.report.checks)})"
        return {"refused": "refused the input", "error": "internal error"}.get(
            self.status, self.status
        )


def add_arguments(p) -> None:
    from verify.cli import add_claim_arguments  # lazy: verify.cli discovers this module

    add_claim_arguments(p)
    p.add_argument(
        "--summary-only",
        action="store_true",
        help="print only the Table 1 summary, not every claim's report",
    )
    p.add_argument(
        "--fresh", action="store_true", help="with --save: rerun claims already saved in DIR"
    )


# --- running ---------------------------------------------------------------------------------


def _claim_module(claim):
    return sys.modules.get(getattr(claim.run, "__module__", ""), None)


def _kinds(report: ClaimReport) -> dict:
    out: dict[str, int] = {}
    for c in report.checks:
        out[c.kind] = out.get(c.kind, 0) + 1
    return dict(sorted(out.items()))


def settings_fingerprint(config) -> dict:
    """Everything that determines the claims' results (compared before resuming)."""
    s = {
        "d": config.d,
        "n": config.n,
        "depth": config.depth,
        "seed": config.seed,
        "epsilon": config.epsilon,
        "form": config.form,
        "hypercube_samples": config.hypercube_samples,
        "max_points": config.max_points,
        "ln_epsilon": config.ln_epsilon,
        "exact": config.exact,
        "data": None,
    }
    if config.dataset is not None:
        h = hashlib.sha256(config.dataset.X.tobytes() + config.dataset.y.tobytes())
        s["data"] = h.hexdigest()
    return s


def _load_report(path: Path) -> ClaimReport | None:
    try:
        data = json.loads(path.read_text())
        checks = [
            CheckResult(
                c["name"],
                c["passed"],
                c["value"],
                c["expected"],
                c["tolerance"],
                c.get("detail", ""),
                c.get("kind", "float"),
            )
            for c in data["checks"]
        ]
        return ClaimReport(
            data["claim"],
            data["title"],
            data["reference"],
            data["parameters"],
            checks,
            data.get("notes", ()),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_json_atomic(path: Path, obj) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(json.dumps(obj, sort_keys=True, indent=2, ensure_ascii=False) + "\n")
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _remove_stale(directory: Path) -> None:
    """Remove a claim's previously saved files (only the three names we write)."""
    for name in SAVED_FILES:
        (directory / name).unlink(missing_ok=True)
    try:
        directory.rmdir()
    except OSError:
        pass


def run_claims(config, *, save: Path | None = None, fresh: bool = False, progress: bool = False):
    """Run every registered claim; return {claim id: Outcome} in registry order."""
    resumable = False
    settings = settings_fingerprint(config)
    if save is not None:
        if save.exists() and not save.is_dir():
            raise ValueError(f"--save: {save} exists and is not a directory")
        save.mkdir(parents=True, exist_ok=True)
        index = save / "all.json"
        if index.exists() and not fresh:
            try:
                resumable = json.loads(index.read_text()).get("settings") == settings
            except (OSError, ValueError, AttributeError):
                resumable = False
        _write_json_atomic(index, {"settings": settings, "complete": False})
    exact_runners = {}
    if config.exact:
        from verify.exact import EXACT_RUNNERS

        exact_runners = EXACT_RUNNERS
    outcomes: dict[str, Outcome] = {}
    bar = tqdm(
        list(CLAIMS.values()),
        desc="claims",
        unit="claim",
        disable=not progress,
        leave=False,
        delay=1.0,
    )
    try:
        for claim in bar:
            bar.set_postfix_str(claim.id)
            module = _claim_module(claim)
            evidence = getattr(module, "EVIDENCE", None)
            qualifier = getattr(module, "MARK_QUALIFIER", None)
            target = save / claim.id if save is not None else None
            if resumable and target is not None and (target / "report.json").exists():
                report = _load_report(target / "report.json")
                if report is not None and report.claim == claim.id:
                    outcomes[claim.id] = Outcome(
                        claim.id,
                        "verified" if report.passed else "failed",
                        report,
                        resumed=True,
                        evidence=evidence,
                        qualifier=qualifier,
                        kinds=_kinds(report),
                    )
                    continue
            runner = claim.run
            if config.exact and claim.id in exact_runners:
                exact = exact_runners[claim.id]

                def runner(cfg, _exact=exact, _id=claim.id):
                    return _exact(_id, cfg)

            try:
                result = runner(config)
            except ValueError as exc:
                reason = " ".join(str(exc).split())
                outcomes[claim.id] = Outcome(claim.id, "refused", reason=reason)
                if target is not None and target.exists():
                    _remove_stale(target)
                continue
            except KeyboardInterrupt:
                raise
            except Exception as exc:  # a bug in one claim must not hide the others
                if os.environ.get("VERIFY_THEOREM_DEBUG"):
                    raise
                reason = " ".join(f"{type(exc).__name__}: {exc}".split())
                outcomes[claim.id] = Outcome(claim.id, "error", reason=reason)
                if target is not None and target.exists():
                    _remove_stale(target)
                continue
            if target is not None:
                save_run(result, target)
            report = result.report
            if config.exact and claim.id not in exact_runners:
                evidence = (evidence or "") + " (no --exact proof for this claim: float run)"
            outcomes[claim.id] = Outcome(
                claim.id,
                "verified" if report.passed else "failed",
                report,
                evidence=evidence,
                qualifier=qualifier,
                kinds=_kinds(report),
            )
    finally:
        bar.close()
    return outcomes


# --- Table 1 ---------------------------------------------------------------------------------


def _evidence(row: Table1Row, outcomes: dict[str, Outcome]) -> str:
    declared = [outcomes[c].evidence for c in row.claims if c in outcomes and outcomes[c].evidence]
    if declared:
        base = "; ".join(dict.fromkeys(declared))
    elif row.paper_mark == "✗":
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


def table1(outcomes: dict[str, Outcome]) -> list[dict]:
    """The rows of Table 1's second column, reproduced from the claims' outcomes."""
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
            reproduced = row.paper_mark
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
                "paper": row.paper_mark,
                "reproduced": reproduced,
                "matches_paper": reproduced == row.paper_mark,
                "evidence": evidence,
                "meaning": MARK_MEANING[row.paper_mark],
                "claims": verdicts(row.claims),
                "supporting": verdicts(row.supporting),
            }
        )
    return rows


def format_table(rows: list[dict], outcomes: dict[str, Outcome]) -> str:
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


def exit_code(outcomes: dict[str, Outcome]) -> int:
    statuses = {o.status for o in outcomes.values()}
    if "error" in statuses:
        return EXIT_BUG
    if "refused" in statuses:
        return EXIT_USAGE
    if "failed" in statuses:
        return EXIT_FAILED
    return EXIT_OK


def _outcome_dict(o: Outcome) -> dict:
    d = {"status": o.status, "verdict": o.verdict()}
    if o.report is not None:
        d["report"] = o.report.to_dict()
    if o.reason:
        d["reason"] = o.reason
    return d


def run(args) -> int:
    from verify.cli import config_from_args

    config = config_from_args(args)  # ValueError -> one line, exit 2
    if not config.hypercube_is_enumerable:
        from sharpness import EnumerationTooLargeError

        raise EnumerationTooLargeError(config.d, config.max_points)
    save = Path(args.save) if args.save else None
    start = time.monotonic()
    outcomes = run_claims(config, save=save, fresh=args.fresh, progress=config.progress)
    rows = table1(outcomes)
    code = exit_code(outcomes)
    summary = {
        "command": "all",
        "parameters": config.describe(),
        "claims": {cid: _outcome_dict(o) for cid, o in outcomes.items()},
        "table1": rows,
        "not_available": sorted(
            {c for row in TABLE1 for c in row.claims + row.supporting} - set(outcomes)
        ),
        "passed": code == EXIT_OK,
    }
    if save is not None:
        _write_json_atomic(
            save / "all.json",
            {
                "settings": settings_fingerprint(config),
                "complete": True,
                "table1": rows,
                "verdicts": {cid: o.verdict() for cid, o in outcomes.items()},
                "passed": code == EXIT_OK,
            },
        )
    if args.json:
        print(json.dumps(summary, sort_keys=True, indent=2, allow_nan=False))
    else:
        parts = []
        if not args.summary_only:
            parts += [o.report.format_text() for o in outcomes.values() if o.report is not None]
        n_ok = sum(o.status == "verified" for o in outcomes.values())
        parts.append(
            f"verify-theorem all: {n_ok} of {len(outcomes)} installed claims verified "
            f"({', '.join(f'{k}={v}' for k, v in config.describe().items())}; "
            f"{time.monotonic() - start:.1f} s)\n\n" + format_table(rows, outcomes)
        )
        print("\n\n".join(parts))
    if code == EXIT_USAGE:
        refused = [o for o in outcomes.values() if o.status == "refused"]
        print(
            "verify-theorem: error: "
            + "; ".join(f"claim {o.claim} refused the input: {o.reason}" for o in refused),
            file=sys.stderr,
        )
    elif code == EXIT_BUG:
        bad = [o for o in outcomes.values() if o.status == "error"]
        print(
            "verify-theorem: internal error in "
            + "; ".join(f"claim {o.claim} ({o.reason})" for o in bad),
            file=sys.stderr,
        )
    return code
