"""``verify-theorem fig1 | fig2 | fig4 | fig5 | fig6 | table1 | fig7 ... fig11``: the experiments.

Reruns the training runs of Sections 3.2, 4.2, 5.2 and Appendix B (hyperparameters of Table 2,
:data:`sharpness.training.PRESETS`) over several seeds, draws the paper's panels (sharpness and
test error against epochs) as PNG and PDF, and checks the paper's qualitative claims as verdicts
with their numbers. ``table1`` prints the third column of Table 1 ("sharpness minimization
algorithms generalize") with its evidence.

Runs live in ``OUT/SCALE/PANEL/seedK`` and are reused when finished (resumed when interrupted).
``--scale quick`` runs a fixed fraction of each panel's epochs (:data:`QUICK_SCALE`), chosen
for run time only, with the paper's hyperparameters otherwise unchanged; ``--scale paper`` runs
the full schedules.

Verdict thresholds (the paper's claims are qualitative; these make them checkable):

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

import json
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from verify.report import CheckResult, ClaimReport

NAMES = ("fig1", "fig2", "fig4", "fig5", "fig6", "table1", "fig7", "fig8", "fig9", "fig10", "fig11")
HELP = "rerun the paper's experiments (Figs. 1-11, Table 1's 3rd column): figures and verdicts"
ORDER = 60

GENERALIZES = 0.05
DEGENERATES = 0.01

#: fraction of each panel's epochs run at --scale quick (chosen for run time on 2 CPU cores).
QUICK_SCALE = {
    "fig1a": 0.05,
    "fig1b": 0.05,
    "fig2a": 0.0005,
    "fig4a": 0.05,
    "fig4b": 0.01,
    "fig5a": 0.05,
    "fig5b": 0.025,
    "fig6a": 0.05,
    "fig6b": 1.0,
    "fig7a": 0.05,
    "fig7b": 0.05,
    "fig8a": 0.01,
    "fig8b": 0.05,
    "fig9a": 0.05,
    "fig9b": 0.05,
    "fig10a": 0.005,
    "fig10b": 0.05,
    "fig11a": 0.01,
    "fig11b": 0.01,
}
#: evaluations (sharpness + test error) per run at each scale
EVALS = {"quick": 12, "paper": 50}
#: sampled test-error points per evaluation where the exact count is not available (d = 30)
TEST_SAMPLES = {"quick": 4096, "paper": 16384}
#: --scale smoke: a seconds-long run of the whole pipeline on a tiny network (tests; not evidence)
SMOKE = {"width": 16, "d": 6, "n": 16, "epochs_per_phase": 4}


@dataclass(frozen=True)
class Panel:
    preset: str
    label: str


@dataclass(frozen=True)
class Experiment:
    id: str
    title: str
    reference: str
    panels: tuple[Panel, ...]
    verdicts: Callable
    notes: Callable | None = None
    extra_plot: Callable | None = None


# --------------------------------------------------------------------------------------------
# Evidence helpers
# --------------------------------------------------------------------------------------------
def _evals(r) -> list[dict]:
    return [m for m in r.metrics if "test_error" in m or "sharpness" in m]


def _final(r) -> dict:
    ev = _evals(r)
    return ev[-1] if ev else (r.metrics[-1] if r.metrics else {})


def _fmt(v, digits=4) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:.{digits}g}"
    return str(v)


def _seed_list(vals) -> str:
    return ", ".join(_fmt(v) for v in vals)


def _is_estimate(runs) -> bool:
    return any(not _final(r).get("test_exact", False) for r in runs)


def _te_detail(runs) -> str:
    parts = []
    for r in runs:
        f = _final(r)
        ci = f.get("test_ci")
        ci_s = f" [{ci[0]:.4f}, {ci[1]:.4f}]" if ci else " (exact)" if f.get("test_exact") else ""
        parts.append(
            f"seed {r.config.seed}: {_fmt(f.get('test_error'))}{ci_s} at epoch {f.get('epoch')}"
        )
    kind = "sampled estimates, 95% CI" if _is_estimate(runs) else "exact over the hypercube"
    return "; ".join(parts) + f" ({kind})"


def _mean(vals):
    vals = [v for v in vals if v is not None]
    return float(np.mean(vals)) if vals else None


def _upper(rec: dict):
    """The test error, or the upper end of its 95% interval when it is a sampled estimate."""
    ci = rec.get("test_ci")
    return ci[1] if ci else rec.get("test_error")


def _lower(rec: dict):
    ci = rec.get("test_ci")
    return ci[0] if ci else rec.get("test_error")


def check_generalizes(name: str, runs) -> CheckResult:
    te = [_final(r).get("test_error") for r in runs]
    ok = all(_upper(_final(r)) is not None and _upper(_final(r)) <= GENERALIZES for r in runs)
    return CheckResult(
        f"{name}: generalizes (test error <= {GENERALIZES:g})",
        ok,
        _mean(te),
        f"<= {GENERALIZES:g}",
        "every seed",
        _te_detail(runs),
        "estimate" if _is_estimate(runs) else "exact",
    )


def _sharpness_bounds(r) -> tuple[float | None, float | None, str]:
    """(low, high, how) for the final sharpness: the exact trace twice, or at a fatal ReLU kink
    the two one-sided traces (recorded, or computed from the final weights)."""
    rec = _final(r)
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
            return f"[{_fmt(t[0])}, {_fmt(t[1])}] (one-sided, at a kink)"
        return _fmt(t[0])

    detail = "; ".join(
        f"seed {a.config.seed}: {show(x)} vs {show(y)}"
        for (a, _), (x, y) in zip(pairs, bounds, strict=True)
    )
    missing = [_final(a).get("sharpness_note") or _final(b).get("sharpness_note") for a, b in pairs]
    missing = [m for m in missing if m]
    if missing:
        detail += f" ({missing[0]})"
    return CheckResult(
        f"{name} flatter than {base_name} (exact Tr H)",
        ok,
        _mean([a[1] for a, _ in bounds]),
        f"< {_fmt(_mean([b[0] for _, b in bounds]))}",
        "strict, every seed; at a kink both one-sided traces",
        detail,
        "float",
    )


def check_worse(name: str, runs, base_name: str, base) -> CheckResult:
    pairs = list(zip(runs, base, strict=True))
    vals = [(_final(a).get("test_error"), _final(b).get("test_error")) for a, b in pairs]
    bounds = [(_lower(_final(a)), _upper(_final(b))) for a, b in pairs]
    ok = all(a is not None and b is not None and a > b for a, b in bounds)
    detail = "; ".join(
        f"seed {a.config.seed}: {_fmt(x)} vs {_fmt(y)}"
        for (a, _), (x, y) in zip(pairs, vals, strict=True)
    )
    return CheckResult(
        f"{name} generalizes worse than {base_name}",
        ok,
        _mean([a for a, _ in vals]),
        f"> {_fmt(_mean([b for _, b in vals]))}",
        "strict, every seed",
        detail,
        "estimate" if _is_estimate(runs) or _is_estimate(base) else "exact",
    )


def check_degenerates(name: str, runs) -> CheckResult:
    rows = []
    for r in runs:
        ev = [m for m in _evals(r) if m.get("test_error") is not None]
        best = min(ev, key=lambda m: m["test_error"]) if ev else None
        rows.append((r.config.seed, best, _final(r)))
    gaps = [
        (f.get("test_error", math.nan) - b["test_error"]) if b else math.nan for _, b, f in rows
    ]
    ok = all(g >= DEGENERATES for g in gaps)
    detail = "; ".join(
        f"seed {s}: lowest {_fmt(b['test_error'])} at epoch {b['epoch']}, final {_fmt(f.get('test_error'))}"
        for s, b, f in rows
        if b
    )
    return CheckResult(
        f"{name}: test error degenerates late in training",
        ok,
        _mean(gaps),
        f">= {DEGENERATES:g}",
        "final minus lowest, every seed",
        detail,
        "estimate" if _is_estimate(runs) else "exact",
    )


def check_sharpness_decreases(name: str, runs) -> CheckResult:
    vals = []
    for r in runs:
        ev = [m for m in _evals(r) if m.get("sharpness") is not None]
        vals.append((ev[0]["sharpness"], ev[-1]["sharpness"]) if len(ev) >= 2 else (None, None))
    ok = all(a is not None and b < a for a, b in vals)
    return CheckResult(
        f"{name}: sharpness decreases during training",
        ok,
        _mean([b for _, b in vals]),
        f"< {_fmt(_mean([a for a, _ in vals]))} (at epoch 0)",
        "strict, every seed",
        "; ".join(
            f"seed {r.config.seed}: {_fmt(a)} -> {_fmt(b)}"
            for r, (a, b) in zip(runs, vals, strict=True)
        ),
        "float",
    )


def check_fits(name: str, runs) -> CheckResult:
    errs = [_final(r).get("train_error") for r in runs]
    losses = [_final(r).get("train_loss") for r in runs]
    ok = all(e == 0 for e in errs)
    return CheckResult(
        f"{name}: fits the training set (train error 0)",
        ok,
        _mean(errs),
        "0",
        "exact, every seed",
        "train loss " + _seed_list(losses),
        "exact",
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
            f"{name}: 4 largest neurons extract +-x[1] +-x[2]",
            all(ok for _, _, ok in per_seed),
            sum(ok for _, _, ok in per_seed),
            len(per_seed),
            "seeds passing; 10% rule (module docstring)",
            "(W1_i[1], W1_i[2], ||W1_i[3:]||) " + detail,
            "exact",
        ),
        CheckResult(
            f"{name}: columns 1-2 of W1 dominate",
            all(v > 1 for v in ratio_vals),
            _mean(ratio_vals),
            "> 1 (paper: 42.47/5.65 = 7.52)",
            "min(||col1||, ||col2||) / max_{j>=3} ||col j||, every seed",
            "; ".join(f"seed {s}: {c1:.3f}, {c2:.3f} vs {rest:.3f}" for s, c1, c2, rest in ratios),
            "float",
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
        f"{name}: ||(W1, b1)|| held at {norm:g}",
        all(tol.close(v, norm) for v in vals),
        worst,
        norm,
        tol.describe(),
        "final norms " + _seed_list(vals),
        "float",
    )


def _sim_bn_note() -> str:
    return (
        "Sim-BN initialization is not stated in the paper; gamma starts at 1/sqrt(width) "
        "(sharpness.training.runs note 1). With BatchNorm's gamma = 1, lr * ||df/dW2||^2 = "
        "0.005 * 500 = 2.5 > 1 at Table 2's first row and 1-SAM diverges in the first epoch "
        "(sharpness-train --arch simbn --gamma-init one ... to see it)"
    )


def _logistic_note() -> str:
    import torch

    from sharpness.training.algorithms import Loss

    p = 0.2
    gamma = math.log((1 - p) / p)
    loss = Loss("logistic", p)
    a = torch.tensor(gamma, dtype=torch.float64, requires_grad=True)
    y = torch.tensor(1.0, dtype=torch.float64)
    (g,) = torch.autograd.grad(loss.value(a, y), a, create_graph=True)
    (h,) = torch.autograd.grad(g, a)

    def printed(av):  # Definition A.2 as printed, b = 1
        return -p * torch.log(torch.exp(av) / (1 + torch.exp(av))) - (1 - p) * torch.log(
            1 / (1 + torch.exp(av))
        )

    grid = torch.linspace(-5, 5, 100001, dtype=torch.float64)
    amin = float(grid[torch.argmin(printed(grid))])
    return (
        f"Definition A.2 as printed (b = 1: -p log(e^a/(1+e^a)) - (1-p) log(1/(1+e^a))) is "
        f"minimized at a = {amin:.4f} for p = {p}, i.e. -gamma_p = {-gamma:.4f}, not at "
        f"+gamma_p as Theorem A.2 says: p and 1-p are swapped. We train with "
        f"-(1-p) log sigmoid(y f) - p log sigmoid(-y f) (minimum at y f = gamma_p). Lemma A.13 "
        f"prints Tr = 1/(p(1-p)) (1/n) sum ||grad f||^2; at the minimum ell'' = {float(h):.6f} "
        f"(autograd) = p(1-p) = {p * (1 - p):.6f}, so the factor is p(1-p), not "
        f"1/(p(1-p)) = {1 / (p * (1 - p)):.4f}."
    )


# --------------------------------------------------------------------------------------------
# The experiments
# --------------------------------------------------------------------------------------------
def _v_fig1(R):
    a, b = R["fig1a"], R["fig1b"]
    return [
        check_fits("GD+WD", a),
        check_generalizes("GD+WD (Fig. 1a)", a),
        check_sharpness_decreases("GD+WD", a),
        check_fits("1-SAM", b),
        check_generalizes("1-SAM (Fig. 1b)", b),
        check_sharpness_decreases("1-SAM", b),
    ]


def _v_fig2(R):
    a = R["fig2a"]
    return [
        check_fits("1-SAM", a),
        check_generalizes("1-SAM on Sim-BN (Fig. 2a)", a),
    ] + check_features("Fig. 2b", a)


def _flatter_but_worse(R, base_panel: str, sam_panel: str, base: str) -> list[CheckResult]:
    """Scenario II's verdict: both fit, 1-SAM ends flatter than the baseline and generalizes worse."""
    a, b = R[base_panel], R[sam_panel]
    return [
        check_fits(base, a),
        check_fits("1-SAM", b),
        check_flatter("1-SAM", b, base, a),
        check_worse("1-SAM", b, base, a),
    ]


def _v_fig4(R):
    return _flatter_but_worse(R, "fig4a", "fig4b", "GD+WD") + [
        check_degenerates("1-SAM (Fig. 4b)", R["fig4b"])
    ]


def _v_fig5(R):
    return _flatter_but_worse(R, "fig5a", "fig5b", "SGD+WD")


def _v_fig6(R):
    a, b = R["fig6a"], R["fig6b"]
    return [
        check_fits("1-SAM", a),
        check_generalizes("1-SAM on Sim-LN (Fig. 6a)", a),
        check_fits("projected 1-SAM", b),
        check_generalizes("projected 1-SAM on Sim-LN (Fig. 6b)", b),
        check_projection("Fig. 6b", b, 10.0),
    ]


def _v_fig7(R):
    a, b = R["fig7a"], R["fig7b"]
    return [check_fits("No-Bias", a), check_fits("Bias", b), check_worse("Bias", b, "No-Bias", a)]


def _v_fig8(R):
    a, b = R["fig8a"], R["fig8b"]
    return [
        check_fits("SGD+WD", a),
        check_generalizes("SGD+WD (Fig. 8a)", a),
        check_fits("1-SAM", b),
        check_generalizes("1-SAM (Fig. 8b)", b),
    ]


def _v_fig9(R):
    return _flatter_but_worse(R, "fig9a", "fig9b", "SGD+WD")


def _v_fig10(R):
    a, b = R["fig10a"], R["fig10b"]
    return [
        check_fits("1-SAM Sim-BN", a),
        check_generalizes("1-SAM on Sim-BN (Fig. 10a)", a),
        check_fits("1-SAM Sim-LN", b),
        check_generalizes("1-SAM on Sim-LN (Fig. 10b)", b),
    ]


def _v_fig11(R):
    return _flatter_but_worse(R, "fig11a", "fig11b", "SGD+WD")


def _plot_fig2b(ax, R):
    runs = R["fig2a"]
    r = runs[0]
    rows = top_neurons(r.params)
    c1, c2, rest = column_norm_ratio(r.params)
    ax.axis("off")
    cells = [[f"{t['w1']:.3f}", f"{t['w2']:.3f}", f"{t['rest']:.3f}"] for t in rows]
    table = ax.table(
        cellText=cells,
        colLabels=["W1,i[1]", "W1,i[2]", "||W1,i[3:d]||"],
        loc="center",
    )
    table.scale(1, 1.6)
    ax.set_title(
        f"(b) four largest first-layer neurons (seed {r.config.seed})\n"
        f"column norms {c1:.2f}, {c2:.2f}; largest other {rest:.2f}",
        fontsize=9,
    )


EXPERIMENTS: dict[str, Experiment] = {
    "fig1": Experiment(
        "fig1",
        "Scenario I (2-MLP-No-Bias): GD+WD and 1-SAM both reach perfect generalization",
        "Figure 1; Section 3.2; Table 2",
        (Panel("fig1a", "(a) Baseline: GD + weight decay"), Panel("fig1b", "(b) 1-SAM")),
        _v_fig1,
    ),
    "fig2": Experiment(
        "fig2",
        "Scenario I (2-MLP-Sim-BN): 1-SAM generalizes with interpretable features +-x[1] +-x[2]",
        "Figure 2; Section 3.2; Table 2",
        (Panel("fig2a", "(a) 2-layer MLP with simplified BN, 1-SAM"),),
        _v_fig2,
        notes=_sim_bn_note,
        extra_plot=_plot_fig2b,
    ),
    "fig4": Experiment(
        "fig4",
        "Scenario II (2-MLP-Bias): 1-SAM is flatter than GD+WD but generalizes worse",
        "Figure 4; Section 4.2; Table 2",
        (Panel("fig4a", "(a) Baseline: GD + weight decay"), Panel("fig4b", "(b) 1-SAM")),
        _v_fig4,
    ),
    "fig5": Experiment(
        "fig5",
        "Scenario II with softplus: 1-SAM is flatter than SGD+WD but generalizes worse",
        "Figure 5; Section 4.2; Table 2",
        (Panel("fig5a", "(a) Baseline: SGD + weight decay"), Panel("fig5b", "(b) 1-SAM")),
        _v_fig5,
    ),
    "fig6": Experiment(
        "fig6",
        "Scenario III (2-MLP-Sim-LN): 1-SAM generalizes, with and without the norm held at 10",
        "Figure 6; Section 5.2; Table 2",
        (Panel("fig6a", "(a) Standard training"), Panel("fig6b", "(b) Projected training")),
        _v_fig6,
    ),
    "fig7": Experiment(
        "fig7",
        "Uniform ball, y = |x[1]| - |x[2]|: 1-SAM on No-Bias generalizes better than on Bias",
        "Figure 7; Appendix B.2; Table 2",
        (Panel("fig7a", "(a) 2-MLP-No-Bias"), Panel("fig7b", "(b) 2-MLP-Bias")),
        _v_fig7,
    ),
    "fig8": Experiment(
        "fig8",
        "Scenario I with the logistic loss: SGD+WD and 1-SAM both generalize",
        "Figure 8; Appendix B.3; Table 2",
        (Panel("fig8a", "(a) Baseline: SGD + weight decay"), Panel("fig8b", "(b) 1-SAM")),
        _v_fig8,
        notes=_logistic_note,
    ),
    "fig9": Experiment(
        "fig9",
        "Scenario II with the logistic loss: 1-SAM is flatter but generalizes worse",
        "Figure 9; Appendix B.3; Table 2",
        (Panel("fig9a", "(a) Baseline: SGD + weight decay"), Panel("fig9b", "(b) 1-SAM")),
        _v_fig9,
        notes=_logistic_note,
    ),
    "fig10": Experiment(
        "fig10",
        "Sim-BN and Sim-LN with the logistic loss: 1-SAM nearly perfectly generalizes",
        "Figure 10; Appendix B.3; Table 2",
        (Panel("fig10a", "(a) Simplified BatchNorm"), Panel("fig10b", "(b) Simplified LayerNorm")),
        _v_fig10,
        notes=_logistic_note,
    ),
    "fig11": Experiment(
        "fig11",
        "3-layer MLP-Bias: 1-SAM is flatter than SGD+WD but generalizes worse",
        "Figure 11; Appendix B.4; Table 2",
        (Panel("fig11a", "(a) Baseline: SGD + weight decay"), Panel("fig11b", "(b) 1-SAM")),
        _v_fig11,
    ),
}

#: Table 1, third column: (architecture, paper's mark, the 1-SAM panel that is its evidence)
TABLE1 = (
    ("2-layer w/o Bias", True, "fig1b"),
    ("2-layer w/ Bias", False, "fig4b"),
    ("2-layer w/ simplified BatchNorm", True, "fig2a"),
    ("2-layer w/ simplified LayerNorm", True, "fig6a"),
)


# --------------------------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------------------------
def add_arguments(p) -> None:
    p.add_argument(
        "--scale",
        choices=("quick", "paper", "smoke"),
        default="quick",
        help="quick (default, minutes), paper (Table 2's epochs) or smoke (seconds; tests only)",
    )
    p.add_argument("--seeds", type=int, default=3, help="seeds per panel (default 3)")
    p.add_argument("--out", default="runs/experiments", metavar="DIR", help="run directory root")
    p.add_argument("--threads", type=int, default=1, help="CPU threads for the kernels (default 1)")
    p.add_argument(
        "--no-train",
        action="store_true",
        help="report on the runs already in DIR (finished or not) without training",
    )
    p.add_argument("--no-figures", action="store_true", help="skip drawing the figures")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def panel_configs(panel: str, scale: str, seeds: int):
    """The configurations of one panel at a scale (one per seed)."""
    import dataclasses

    from sharpness.training.runs import preset

    if scale == "smoke":
        base = preset(panel)
        n = SMOKE["n"]
        phases = tuple(
            dataclasses.replace(
                p,
                epochs=SMOKE["epochs_per_phase"],
                batch_size=n if p.batch_size == base.n else min(p.batch_size, n),
            )
            for p in base.phases
        )
        return [
            base.replace(
                phases=phases,
                width=SMOKE["width"],
                d=SMOKE["d"],
                n=n,
                seed=s,
                log_every=1,
                eval_every=2,
            )
            for s in range(seeds)
        ]
    factor = 1.0 if scale == "paper" else QUICK_SCALE[panel]
    base = preset(panel, epochs_scale=factor)
    total = base.epochs
    evals = EVALS[scale]
    log_every = max(1, total // (40 * evals))
    eval_every = log_every * max(1, (total // evals) // log_every)
    samples = TEST_SAMPLES[scale]
    return [
        base.replace(seed=s, log_every=log_every, eval_every=eval_every, test_samples=samples)
        for s in range(seeds)
    ]


def run_panels(panels, args) -> dict:
    """Train (or reuse) every panel; returns {panel: [RunResult per seed]}."""
    import torch

    from sharpness.training.runs import load_run, train_many

    configs, outs, keys = [], [], []
    root = Path(args.out) / args.scale
    for panel in panels:
        for cfg in panel_configs(panel, args.scale, args.seeds):
            configs.append(cfg)
            outs.append(root / panel / f"seed{cfg.seed}")
            keys.append(panel)
    if args.no_train:
        results = []
        for o in outs:
            if not (o / "config.json").exists():
                raise ValueError(f"--no-train: {o} holds no run; run without --no-train first")
            results.append(load_run(o))
    else:
        torch.set_num_threads(args.threads)
        results = train_many(configs, outs, progress=not args.no_progress, threads=args.threads)
    out: dict[str, list] = {}
    for k, r in zip(keys, results, strict=True):
        out.setdefault(k, []).append(r)
    return out


def _curves(runs, key):
    out = []
    for r in runs:
        ev = [m for m in r.metrics if m.get(key) is not None]
        out.append((np.array([m["epoch"] for m in ev]), np.array([m[key] for m in ev])))
    return out


def draw(exp: Experiment, R: dict, path_base: Path) -> list[Path]:
    """Sharpness, test error and train loss against epochs, one column per panel."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    ncols = len(exp.panels) + (1 if exp.extra_plot else 0)
    fig = Figure(figsize=(4.2 * ncols, 8.0))
    FigureCanvasAgg(fig)
    axes = fig.subplots(3, ncols, squeeze=False)
    for c, panel in enumerate(exp.panels):
        runs = R[panel.preset]
        est = _is_estimate(runs)
        for row, (key, ylabel, logy) in enumerate(
            (
                ("sharpness", "sharpness Tr(H) (exact; gray: one-sided at kinks)", True),
                (
                    "test_error",
                    "test error" + (" (sampled estimate)" if est else " (exact)"),
                    False,
                ),
                ("train_loss", "train loss", True),
            )
        ):
            ax = axes[row][c]
            for (x, v), r in zip(_curves(runs, key), runs, strict=True):
                if len(x):
                    ax.plot(x, v, lw=1.0, alpha=0.8, label=f"seed {r.config.seed}")
            if key == "sharpness":  # at a fatal ReLU kink: the two one-sided traces
                for r in runs:
                    ev = [m for m in r.metrics if m.get("sharpness_one_sided")]
                    if ev:
                        xs = [m["epoch"] for m in ev]
                        for j, mk in ((0, "v"), (1, "^")):
                            ys = [m["sharpness_one_sided"][j] for m in ev]
                            ax.plot(xs, ys, mk, ms=2.5, color="gray", alpha=0.7)
            ax.ticklabel_format(axis="x", style="sci", scilimits=(0, 4))
            if logy and key == "sharpness":
                ax.set_yscale("symlog", linthresh=1.0)  # away from a minimum Tr H can be < 0
            elif logy:
                ax.set_yscale("log")
            acc = 0
            for ph in runs[0].config.phases[:-1]:
                acc += ph.epochs
                ax.axvline(acc, color="gray", ls="--", lw=0.8)
            ax.set_ylabel(ylabel, fontsize=8)
            ax.grid(alpha=0.3)
            if row == 2:
                ax.set_xlabel("epoch")
            if row == 0:
                cfg = runs[0].config
                ax.set_title(f"{panel.label}\n{cfg.name}: {_schedule(cfg)}", fontsize=7)
        axes[1][c].set_ylim(-0.02, max(0.6, axes[1][c].get_ylim()[1]))
        axes[0][c].legend(fontsize=7)
    if exp.extra_plot:
        for row in range(3):
            axes[row][-1].axis("off")
        exp.extra_plot(axes[0][-1], R)
    fig.suptitle(f"{exp.reference.split(';')[0]}: {exp.title}", fontsize=10)
    fig.tight_layout()
    paths = []
    path_base.parent.mkdir(parents=True, exist_ok=True)
    for ext in ("png", "pdf"):
        p = path_base.with_suffix(f".{ext}")
        tmp = p.with_name(f".{p.name}.tmp.{ext}")
        fig.savefig(tmp, dpi=120)
        tmp.replace(p)
        paths.append(p)
    return paths


def _schedule(cfg) -> str:
    rows = []
    for p in cfg.phases:
        s = f"lr {p.lr:g}"
        if p.rho:
            s += f", rho {p.rho:g}"
        if p.weight_decay:
            s += f", wd {p.weight_decay:g}"
        s += f", B {p.batch_size}, {p.epochs} ep"
        rows.append(s)
    return "\nthen ".join(rows)


def _scale_notes(R, scale) -> list[str]:
    notes = []
    if scale == "smoke":
        notes.append(
            f"smoke scale (width {SMOKE['width']}, d = {SMOKE['d']}, n = {SMOKE['n']}, "
            f"{SMOKE['epochs_per_phase']} epochs per phase): exercises the pipeline, not evidence"
        )
    if scale == "quick":
        parts = [f"{k} {QUICK_SCALE[k]:g}" for k in R]
        notes.append(
            "quick scale: each panel runs a fraction of Table 2's epochs ("
            + ", ".join(parts)
            + "), same hyperparameters otherwise; a verdict here may differ from the paper's "
            "full-length run (use --scale paper)"
        )
    unfinished = [
        f"{k} seed {r.config.seed} ({r.epoch}/{r.config.epochs})"
        for k, rs in R.items()
        for r in rs
        if not r.finished
    ]
    if unfinished:
        notes.append("unfinished runs, verdicts at their current epoch: " + ", ".join(unfinished))
    if any(_is_estimate(rs) for rs in R.values()):
        cfg = next(iter(R.values()))[0].config
        notes.append(
            f"test errors are sampled estimates ({cfg.test_samples} uniform points of the "
            "hypercube, or fresh ball points) where exact enumeration is not available"
        )
    missing = {
        _final(r).get("sharpness_note")
        for rs in R.values()
        for r in rs
        if _final(r).get("sharpness_note")
    }
    for m in sorted(missing):
        notes.append(f"sharpness not reported for some runs: {m}")
    return notes


def _report_experiment(exp: Experiment, R: dict, args) -> tuple[ClaimReport, list[Path]]:
    checks = exp.verdicts(R)
    cfg = R[exp.panels[0].preset][0].config
    params = {
        "scale": args.scale,
        "seeds": args.seeds,
        "width": cfg.width,
        "d": cfg.d,
        "n": cfg.n,
        "epochs": ", ".join(f"{p.preset} {R[p.preset][0].config.epochs}" for p in exp.panels),
    }
    notes = _scale_notes(R, args.scale)
    if exp.notes:
        notes.append(exp.notes())
    report = ClaimReport(exp.id, exp.title, exp.reference, params, tuple(checks), tuple(notes))
    paths = []
    if not args.no_figures:
        paths = draw(exp, R, Path(args.out) / args.scale / exp.id)
    return report, paths


def _table1(R: dict, args) -> tuple[ClaimReport, str]:
    checks = []
    lines = [
        'Table 1, third column ("Sharpness Minimization Algorithms Generalize"), 1-SAM, '
        f"scale {args.scale}, {args.seeds} seed(s)",
        "",
    ]
    rows = [("architecture", "paper", "ours", "evidence (1-SAM, last evaluation)")]
    for arch_name, paper_mark, panel in TABLE1:
        runs = R[panel]
        te = [_final(r).get("test_error") for r in runs]
        tr = [_final(r).get("sharpness") for r in runs]
        up = [_upper(_final(r)) for r in runs]
        lo = [_lower(_final(r)) for r in runs]
        ours = all(v is not None and v <= GENERALIZES for v in up)
        fails = all(v is not None and v > GENERALIZES for v in lo)
        mark = "✓" if ours else ("✗" if fails else "?")
        kind = "estimate" if _is_estimate(runs) else "exact"
        ev = (
            f"{panel}: test error {_seed_list(te)} ({kind}), sharpness {_seed_list(tr)}, "
            f"epoch {_final(runs[0]).get('epoch')}/{runs[0].config.epochs}"
        )
        rows.append((arch_name, "✓" if paper_mark else "✗", mark, ev))
        agree = (paper_mark and ours) or (not paper_mark and fails)
        checks.append(
            CheckResult(
                f"{arch_name}: {'generalizes' if paper_mark else 'does not generalize'}",
                agree,
                _mean(te),
                f"{'<=' if paper_mark else '>'} {GENERALIZES:g}",
                "test error, every seed",
                _te_detail(runs),
                "estimate" if _is_estimate(runs) else "exact",
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
        "scale": args.scale,
        "seeds": args.seeds,
        "rule": f"generalizes = test error <= {GENERALIZES:g}",
    }
    report = ClaimReport(
        "table1",
        "Table 1, third column: does 1-SAM find generalizing models?",
        "Table 1; Sections 3.2, 4.2, 5.2; Figures 1b, 2a, 4b, 6a",
        params,
        tuple(checks),
        tuple(_scale_notes(R, args.scale)),
    )
    return report, "\n".join(lines)


def run(args) -> int:
    if args.seeds < 1:
        raise ValueError(f"--seeds must be an integer >= 1, got {args.seeds}")
    if args.threads < 1:
        raise ValueError(f"--threads must be an integer >= 1, got {args.threads}")
    name = args.command
    if name == "table1":
        R = run_panels([p for _, _, p in TABLE1], args)
        report, table = _table1(R, args)
        if args.json:
            out = report.to_dict()
            out["table"] = table
            print(json.dumps(out, sort_keys=True, indent=2))
        else:
            print(table)
            print()
            print(report.format_text())
        return 0 if report.passed else 1
    exp = EXPERIMENTS[name]
    R = run_panels([p.preset for p in exp.panels], args)
    report, paths = _report_experiment(exp, R, args)
    if args.json:
        out = report.to_dict()
        out["figures"] = [str(p) for p in paths]
        print(json.dumps(out, sort_keys=True, indent=2))
    else:
        print(report.format_text())
        if paths:
            print("  figures: " + ", ".join(str(p) for p in paths))
    sys.stdout.flush()
    return 0 if report.passed else 1


__all__ = [
    "EXPERIMENTS",
    "NAMES",
    "QUICK_SCALE",
    "TABLE1",
    "add_arguments",
    "check_degenerates",
    "check_features",
    "check_flatter",
    "check_generalizes",
    "check_worse",
    "column_norm_ratio",
    "draw",
    "panel_configs",
    "run",
    "top_neurons",
]
