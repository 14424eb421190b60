"""The verdicts of the paper's experiments: its qualitative claims about training runs, as checks.

Figures 1-11 and Table 1's third column (Sections 3.2, 4.2, 5.2; Appendix B) state qualitative
claims ("1-SAM generalizes", "is flatter but generalizes worse"). Each ``check_*`` function turns
one of them into a :class:`~verify.report.CheckResult` on a list of runs (one per seed) with its
numbers. The thresholds that make the claims checkable:

* "generalizes": final zero-one test error <= 5% for every seed (the paper: "perfect
  generalization", "almost perfectly generalize"); for a sampled estimate, the upper end of its
  95% Clopper-Pearson interval must be <= 5% ("does not generalize": the lower end > 5%);
* "flatter": final exact sharpness smaller than the baseline's, seed by seed (same data);
* "generalizes worse": final test error larger than the baseline's, seed by seed (for sampled
  estimates: the lower end of one interval above the upper end of the other);
* "degenerates": the final test error exceeds the lowest one along the run by >= 1%;
* "extracts +-x[1] +-x[2]" (Fig. 2b): each of the four largest first-layer neurons has
  ||W1_i[3:d]|| <= 0.1 ||W1_i[1:2]|| and |W1_i[1]|, |W1_i[2]| within 10% of each other, and the
  four sign patterns (sign W1_i[1], sign W1_i[2]) are all different.

A sampled test error (d = 30 until the exact 2^30 enumeration is available) makes a verdict an
``estimate``; its confidence interval is in the details.
"""

from __future__ import annotations

import math

import numpy as np

from verify.report import CheckResult

__all__ = [
    "DEGENERATES",
    "GENERALIZES",
    "check_degenerates",
    "check_features",
    "check_fits",
    "check_flatter",
    "check_generalizes",
    "check_projection",
    "check_sharpness_decreases",
    "check_worse",
    "column_norm_ratio",
    "top_neurons",
]

#: "generalizes": final zero-one test error at most this, every seed
GENERALIZES = 0.05
#: "degenerates": final test error at least this above the lowest along the run
DEGENERATES = 0.01


# --------------------------------------------------------------------------------------------
# Evidence helpers (shared with the figures, Table 1 and the panels' notes)
# --------------------------------------------------------------------------------------------
def evaluations(r) -> list[dict]:
    """The records of a run that carry an evaluation (test error or sharpness)."""
    return [m for m in r.metrics if "test_error" in m or "sharpness" in m]


def final_record(r) -> dict:
    """The last evaluation of a run (its last record if it has none)."""
    ev = evaluations(r)
    return ev[-1] if ev else (r.metrics[-1] if r.metrics else {})


def fmt(v, digits=4) -> str:
    """A number for a detail line: ``digits`` significant digits, "n/a" for None."""
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:.{digits}g}"
    return str(v)


def seed_list(vals) -> str:
    """One value per seed, comma-separated."""
    return ", ".join(fmt(v) for v in vals)


def is_estimate(runs) -> bool:
    """Whether any run's final test error is a sampled estimate (not exact)."""
    return any(not final_record(r).get("test_exact", False) for r in runs)


def error_detail(runs) -> str:
    """Each seed's final test error (with its 95% interval when sampled) and epoch."""
    parts = []
    for r in runs:
        f = final_record(r)
        ci = f.get("test_ci")
        ci_s = f" [{ci[0]:.4f}, {ci[1]:.4f}]" if ci else " (exact)" if f.get("test_exact") else ""
        parts.append(
            f"seed {r.config.seed}: {fmt(f.get('test_error'))}{ci_s} at epoch {f.get('epoch')}"
        )
    kind = "sampled estimates, 95% CI" if is_estimate(runs) else "exact over the hypercube"
    return "; ".join(parts) + f" ({kind})"


def mean(vals):
    """The mean of the values that are not None (None when there are none)."""
    vals = [v for v in vals if v is not None]
    return float(np.mean(vals)) if vals else None


def error_upper(rec: dict):
    """The test error, or the upper end of its 95% interval when it is a sampled estimate."""
    ci = rec.get("test_ci")
    return ci[1] if ci else rec.get("test_error")


def error_lower(rec: dict):
    """The test error, or the lower end of its 95% interval when it is a sampled estimate."""
    ci = rec.get("test_ci")
    return ci[0] if ci else rec.get("test_error")


def check_generalizes(name: str, runs) -> CheckResult:
    te = [final_record(r).get("test_error") for r in runs]
    ok = all(
        error_upper(final_record(r)) is not None and error_upper(final_record(r)) <= GENERALIZES
        for r in runs
    )
    return CheckResult(
        name=f"{name}: generalizes (test error <= {GENERALIZES:g})",
        passed=ok,
        value=mean(te),
        expected=f"<= {GENERALIZES:g}",
        tolerance="every seed",
        detail=error_detail(runs),
        kind="estimate" if is_estimate(runs) else "exact",
    )


def _sharpness_bounds(r) -> tuple[float | None, float | None, str]:
    """(low, high, how) for the final sharpness: the exact trace twice, or at a fatal ReLU kink
    the two one-sided traces (recorded, or computed from the final weights)."""
    rec = final_record(r)
    s = rec.get("sharpness")
    if s is not None:
        return s, s, "exact"
    b = rec.get("sharpness_one_sided")
    if b is None and getattr(r, "dataset", None) is not None:
        from sharpness.training.runs import one_sided_sharpness

        X, _ = r.dataset.tensors()
        b = one_sided_sharpness(r.network(), X)
    if b is None:
        return None, None, "n/a"
    return b[0], b[1], "one-sided"


def check_flatter(name: str, runs, base_name: str, base) -> CheckResult:
    """Seed by seed, Tr H of ``runs`` below the baseline's. At a fatal ReLU kink (Tr H undefined)
    the one-sided traces are used, and the claim must hold under both conventions."""
    pairs = list(zip(runs, base, strict=True))
    bounds = [(_sharpness_bounds(a), _sharpness_bounds(b)) for a, b in pairs]
    ok = all(a[1] is not None and b[0] is not None and a[1] < b[0] for a, b in bounds)

    def show(t):
        if t[2] == "one-sided":
            return f"[{fmt(t[0])}, {fmt(t[1])}] (one-sided, at a kink)"
        return fmt(t[0])

    detail = "; ".join(
        f"seed {a.config.seed}: {show(x)} vs {show(y)}"
        for (a, _), (x, y) in zip(pairs, bounds, strict=True)
    )
    missing = [
        final_record(a).get("sharpness_note") or final_record(b).get("sharpness_note")
        for a, b in pairs
    ]
    missing = [m for m in missing if m]
    if missing:
        detail += f" ({missing[0]})"
    return CheckResult(
        name=f"{name} flatter than {base_name} (exact Tr H)",
        passed=ok,
        value=mean([a[1] for a, _ in bounds]),
        expected=f"< {fmt(mean([b[0] for _, b in bounds]))}",
        tolerance="strict, every seed; at a kink both one-sided traces",
        detail=detail,
        kind="float",
    )


def check_worse(name: str, runs, base_name: str, base) -> CheckResult:
    pairs = list(zip(runs, base, strict=True))
    vals = [
        (final_record(a).get("test_error"), final_record(b).get("test_error")) for a, b in pairs
    ]
    bounds = [(error_lower(final_record(a)), error_upper(final_record(b))) for a, b in pairs]
    ok = all(a is not None and b is not None and a > b for a, b in bounds)
    detail = "; ".join(
        f"seed {a.config.seed}: {fmt(x)} vs {fmt(y)}"
        for (a, _), (x, y) in zip(pairs, vals, strict=True)
    )
    return CheckResult(
        name=f"{name} generalizes worse than {base_name}",
        passed=ok,
        value=mean([a for a, _ in vals]),
        expected=f"> {fmt(mean([b for _, b in vals]))}",
        tolerance="strict, every seed",
        detail=detail,
        kind="estimate" if is_estimate(runs) or is_estimate(base) else "exact",
    )


def check_degenerates(name: str, runs) -> CheckResult:
    rows = []
    for r in runs:
        ev = [m for m in evaluations(r) if m.get("test_error") is not None]
        best = min(ev, key=lambda m: m["test_error"]) if ev else None
        rows.append((r.config.seed, best, final_record(r)))
    gaps = [
        (f.get("test_error", math.nan) - b["test_error"]) if b else math.nan for _, b, f in rows
    ]
    ok = all(g >= DEGENERATES for g in gaps)
    detail = "; ".join(
        f"seed {s}: lowest {fmt(b['test_error'])} at epoch {b['epoch']}, final {fmt(f.get('test_error'))}"
        for s, b, f in rows
        if b
    )
    return CheckResult(
        name=f"{name}: test error degenerates late in training",
        passed=ok,
        value=mean(gaps),
        expected=f">= {DEGENERATES:g}",
        tolerance="final minus lowest, every seed",
        detail=detail,
        kind="estimate" if is_estimate(runs) else "exact",
    )


def check_sharpness_decreases(name: str, runs) -> CheckResult:
    vals = []
    for r in runs:
        ev = [m for m in evaluations(r) if m.get("sharpness") is not None]
        vals.append((ev[0]["sharpness"], ev[-1]["sharpness"]) if len(ev) >= 2 else (None, None))
    ok = all(a is not None and b < a for a, b in vals)
    return CheckResult(
        name=f"{name}: sharpness decreases during training",
        passed=ok,
        value=mean([b for _, b in vals]),
        expected=f"< {fmt(mean([a for a, _ in vals]))} (at epoch 0)",
        tolerance="strict, every seed",
        detail="; ".join(
            f"seed {r.config.seed}: {fmt(a)} -> {fmt(b)}"
            for r, (a, b) in zip(runs, vals, strict=True)
        ),
        kind="float",
    )


def check_fits(name: str, runs) -> CheckResult:
    errs = [final_record(r).get("train_error") for r in runs]
    losses = [final_record(r).get("train_loss") for r in runs]
    ok = all(e == 0 for e in errs)
    return CheckResult(
        name=f"{name}: fits the training set (train error 0)",
        passed=ok,
        value=mean(errs),
        expected="0",
        tolerance="exact, every seed",
        detail="train loss " + seed_list(losses),
        kind="exact",
    )


def top_neurons(params: dict, k: int = 4) -> list[dict]:
    """The k first-layer neurons of largest ||W1_i||: W1_i[1], W1_i[2], ||W1_i[3:]|| (Fig. 2b)."""
    W1 = np.asarray(params["W1"], dtype=np.float64)
    order = np.argsort(-np.linalg.norm(W1, axis=1), kind="stable")[:k]
    return [
        {
            "neuron": int(i),
            "w1": float(W1[i, 0]),
            "w2": float(W1[i, 1]),
            "rest": float(np.linalg.norm(W1[i, 2:])),
            "norm": float(np.linalg.norm(W1[i])),
        }
        for i in order
    ]


def column_norm_ratio(params: dict) -> tuple[float, float, float]:
    """(||col 1||, ||col 2||, max_{j>=3} ||col j||) of W1 (Sec. 3.2: 42.47, 42.48 and 5.65)."""
    W1 = np.asarray(params["W1"], dtype=np.float64)
    cols = np.linalg.norm(W1, axis=0)
    return float(cols[0]), float(cols[1]), float(np.max(cols[2:]))


def _extracts(rows) -> bool:
    ok = True
    signs = set()
    for t in rows:
        a, b = abs(t["w1"]), abs(t["w2"])
        big = max(a, b)
        ok &= big > 0 and t["rest"] <= 0.1 * math.hypot(a, b) and abs(a - b) <= 0.1 * big
        signs.add((t["w1"] > 0, t["w2"] > 0))
    return bool(ok and len(signs) == 4)


def check_features(name: str, runs) -> list[CheckResult]:
    per_seed = []
    ratios = []
    for r in runs:
        rows = top_neurons(r.params)
        per_seed.append((r.config.seed, rows, _extracts(rows)))
        c1, c2, rest = column_norm_ratio(r.params)
        ratios.append((r.config.seed, c1, c2, rest))
    detail = " | ".join(
        f"seed {s}: " + "; ".join(f"({t['w1']:.3f}, {t['w2']:.3f}, {t['rest']:.3f})" for t in rows)
        for s, rows, _ in per_seed
    )
    ratio_vals = [min(c1, c2) / rest for _, c1, c2, rest in ratios]
    return [
        CheckResult(
            name=f"{name}: 4 largest neurons extract +-x[1] +-x[2]",
            passed=all(ok for _, _, ok in per_seed),
            value=sum(ok for _, _, ok in per_seed),
            expected=len(per_seed),
            tolerance="seeds passing; 10% rule (module docstring)",
            detail="(W1_i[1], W1_i[2], ||W1_i[3:]||) " + detail,
            kind="exact",
        ),
        CheckResult(
            name=f"{name}: columns 1-2 of W1 dominate",
            passed=all(v > 1 for v in ratio_vals),
            value=mean(ratio_vals),
            expected="> 1 (paper: 42.47/5.65 = 7.52)",
            tolerance="min(||col1||, ||col2||) / max_{j>=3} ||col j||, every seed",
            detail="; ".join(
                f"seed {s}: {c1:.3f}, {c2:.3f} vs {rest:.3f}" for s, c1, c2, rest in ratios
            ),
            kind="float",
        ),
    ]


def check_projection(name: str, runs, norm: float) -> CheckResult:
    import torch

    from constructions.tolerance import tolerance_for

    tol = tolerance_for(torch.float64)
    vals = []
    for r in runs:
        p = r.params
        vals.append(
            float(np.sqrt(np.sum(np.asarray(p["W1"]) ** 2) + np.sum(np.asarray(p["b1"]) ** 2)))
        )
    worst = max(vals, key=lambda v: abs(v - norm))
    return CheckResult(
        name=f"{name}: ||(W1, b1)|| held at {norm:g}",
        passed=all(tol.close(v, norm) for v in vals),
        value=worst,
        expected=norm,
        tolerance=tol.describe(),
        detail="final norms " + seed_list(vals),
        kind="float",
    )
