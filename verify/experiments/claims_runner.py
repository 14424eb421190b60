"""Run every claim of :data:`verify.registry.CLAIMS` with one configuration (``verify-theorem all``).

Each claim's outcome is a report or why there is none (refused the input, internal error). With
``save``, each claim's run is written to ``save/<id>/`` (dataset.npz, params.npz, report.json, as
``verify-theorem ID --save``) and ``save/all.json`` holds the settings, Table 1's second column
and the verdicts, all atomically; a rerun with the same settings reuses the claims already saved
(an interrupted run resumes), ``fresh=True`` reruns everything. The outcomes reproduce Table 1's
second column (:func:`verify.experiments.table1.reproduce_second_column`).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from verify.claim_index import claims_of
from verify.experiments.table1 import TABLE1, reproduce_second_column
from verify.registry import CLAIMS
from verify.report import CheckResult, ClaimReport
from verify.save import save_run

__all__ = [
    "EXIT_BUG",
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_USAGE",
    "SAVED_FILES",
    "Outcome",
    "check_kinds",
    "exit_code",
    "run_claims",
    "settings_fingerprint",
    "summarize",
]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_BUG = 0, 1, 2, 3
SAVED_FILES = ("dataset.npz", "params.npz", "report.json")


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
        """One line: "VERIFIED (k/n)", "NOT VERIFIED (k/n)", or why there is no report."""
        if self.report is not None:
            n_ok = sum(c.passed for c in self.report.checks)
            word = "VERIFIED" if self.report.passed else "NOT VERIFIED"
            return f"{word} ({n_ok}/{len(self.report.checks)})"
        return {"refused": "refused the input", "error": "internal error"}.get(
            self.status, self.status
        )


def _claim_module(claim):
    return sys.modules.get(getattr(claim.run, "__module__", ""), None)


def check_kinds(report: ClaimReport) -> dict:
    """How many of a report's checks are of each kind (float, exact, symbolic, estimate, ...)."""
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
        "ln_eps": config.ln_eps,
        "exact": config.exact,
        "data": None,
    }
    if config.dataset is not None:
        h = hashlib.sha256(config.dataset.X.tobytes() + config.dataset.y.tobytes())
        s["data"] = h.hexdigest()
    return s


def _load_report(path: Path) -> ClaimReport | None:
    """A report saved as JSON, or None when it cannot be read back."""
    try:
        data = json.loads(path.read_text())
        checks = [
            CheckResult(
                name=c["name"],
                passed=c["passed"],
                value=c["value"],
                expected=c["expected"],
                tolerance=c["tolerance"],
                detail=c.get("detail", ""),
                kind=c.get("kind", "float"),
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
    """Write ``obj`` as JSON to ``path`` through a temporary file and a rename."""
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


def run_claims(
    config,
    *,
    save: str | Path | None = None,
    fresh: bool = False,
    progress: bool = False,
    paper: str = "wen2023",
):
    """Run every registered claim of ``paper`` (``"wen2023"``, the default: Wen, Li & Ma;
    ``"chen2023"``; or ``"every"``) with ``config`` (a :class:`~verify.config.ClaimConfig`);
    return {claim id: :class:`Outcome`} in registry order.

    A claim that refuses the input (``ValueError``) or fails with an internal error is recorded as
    such and the others still run. With ``save`` (a directory), every run is saved, the claims
    already saved with the same settings are reused unless ``fresh``, and ``save/all.json`` is
    completed at the end.

    Raises:
        EnumerationTooLargeError: when the exact hypercube error cannot be enumerated at this d.
        ValueError: when ``save`` exists and is not a directory.
    """
    selected = claims_of(paper, CLAIMS)  # ValueError for an unknown paper, before any work
    if not config.hypercube_is_enumerable:
        from sharpness import EnumerationTooLargeError

        raise EnumerationTooLargeError(config.d, config.max_points)
    save = Path(save) if save is not None else None
    resumable = False
    settings = settings_fingerprint(config) | {"paper": paper}
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
        [CLAIMS[c] for c in selected],
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
                        kinds=check_kinds(report),
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
                kinds=check_kinds(report),
            )
    finally:
        bar.close()
    if save is not None:
        passed = exit_code(outcomes) == EXIT_OK
        _write_json_atomic(
            save / "all.json",
            {
                "settings": settings,
                "complete": True,
                "table1": reproduce_second_column(outcomes),
                "verdicts": {cid: o.verdict() for cid, o in outcomes.items()},
                "passed": passed,
            },
        )
    return outcomes


def exit_code(outcomes: dict[str, Outcome]) -> int:
    """0 every claim verified; 1 a check failed; 2 a claim refused the input; 3 an internal
    error in a claim (the worst wins)."""
    statuses = {o.status for o in outcomes.values()}
    if "error" in statuses:
        return EXIT_BUG
    if "refused" in statuses:
        return EXIT_USAGE
    if "failed" in statuses:
        return EXIT_FAILED
    return EXIT_OK


def _outcome_dict(o: Outcome) -> dict:
    """One claim's outcome as JSON: status, verdict, and the report or the reason."""
    d = {"status": o.status, "verdict": o.verdict()}
    if o.report is not None:
        d["report"] = o.report.to_dict()
    if o.reason:
        d["reason"] = o.reason
    return d


def summarize(config, outcomes: dict[str, Outcome]) -> dict:
    """The JSON object of ``verify-theorem all --json``: parameters, every claim's outcome, Table
    1's second column, the table's claims that are not installed, and whether all passed."""
    return {
        "command": "all",
        "parameters": config.describe(),
        "claims": {cid: _outcome_dict(o) for cid, o in outcomes.items()},
        "table1": reproduce_second_column(outcomes),
        "not_available": sorted(
            {c for row in TABLE1 for c in row.claims + row.supporting} - set(outcomes)
        ),
        "passed": exit_code(outcomes) == EXIT_OK,
    }
