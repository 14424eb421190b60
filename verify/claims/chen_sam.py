"""Chen et al. (NeurIPS 2023), Thm. 4.2 (SAM): SAM overfits benignly in a region where SGD's
overfitting is harmful, because it stops noise memorization early (Sec. 5: under SAM max |rho|
stays small in the first epochs while max gamma grows).

Checked on the ``chen2023`` preset (:mod:`verify.claims._chen_common`) at d = 400, n = 20 over
||mu|| in {0.5, 1, 1.5, 2, 3, 4, 6}, 3 seeds, SGD and SAM on the same data and initialization:

* the band: the ||mu|| where SGD is harmful (mean error >= p + 0.1) and SAM benign (mean error
  <= p + 0.05) is non-empty (reported);
* SAM's mean error <= SGD's in every cell, up to 2 standard errors of the difference (test-set
  sampling and seed spread);
* early epochs (first 10, recorded once per epoch) in a band cell: SAM's max |rho| <= SGD's at
  every epoch, and <= 1/2 of SGD's at epoch 10 ("far below"); SAM's max gamma grows
  (epoch 10 > epoch 1).

The exact Hessian trace of the logistic loss at the end of training (where it is twice
differentiable) is reported for both: is SAM's solution also the flatter one?
"""

from __future__ import annotations

import math

import numpy as np

from sharpness.signal_noise import Algorithm
from verify._common import ClaimRun
from verify.claims import _chen_common as cc
from verify.config import ClaimConfig
from verify.report import CheckResult, ClaimReport

CLAIM = "chen.sam"
ORDER = 112
TITLE = "SAM is benign where SGD is harmful; SAM keeps max|rho| small early while gamma grows"
REFERENCE = "Chen et al. (2023), Thm. 4.2; Sec. 5 (proof sketch)"
D, N = 400, 20
MUS = (0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0)
EARLY_EPOCHS = 10


def band(sgd: dict, sam: dict, flip: float) -> list:
    """The ||mu|| where SGD is harmful and SAM benign (mean errors)."""
    return [mu for mu in sgd if cc.mean(sgd[mu]) >= flip + cc.HARMFUL
            and cc.mean(sam[mu]) <= flip + cc.EPSILON]  # fmt: skip


def check_band(sgd: dict, sam: dict, flip: float) -> CheckResult:
    b = band(sgd, sam, flip)
    return CheckResult(name="band where SGD is harmful and SAM benign", passed=bool(b),
                       value=b, expected="non-empty", tolerance="mean over seeds",
                       detail=f"harmful: >= p + {cc.HARMFUL}, benign: <= p + {cc.EPSILON}",
                       kind="exact")  # fmt: skip


def check_sam_not_worse(sgd: dict, sam: dict) -> CheckResult:
    """mean(SAM) <= mean(SGD) + 2 s.e. of the difference, in every cell."""
    worst, where, bad = -math.inf, None, []
    for mu in sgd:
        a, b = np.asarray(sam[mu]), np.asarray(sgd[mu])
        se = math.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size + 2 * 0.25 / 1000 / a.size)
        excess = (a.mean() - b.mean()) / se if se > 0 else (math.inf if a.mean() > b.mean() else 0)
        if excess > worst:
            worst, where = float(excess), mu
        if excess > 2:
            bad.append(mu)
    return CheckResult(name="SAM error <= SGD error in every cell", passed=not bad,
                       value=round(worst, 3) + 0.0, expected="<= 2 (s.e. units)",
                       tolerance="2 standard errors of the difference of means",
                       detail=f"largest excess at ||mu||={where}; cells where SAM is worse: {bad}",
                       kind="estimate")  # fmt: skip


def early_curves(cell_runs):
    """(epochs, mean max gamma, mean max |rho|) over seeds for the first EARLY_EPOCHS epochs."""
    hist = [r.history for r in cell_runs]
    steps = [h[0] for h in hist[0]]
    keep = [i for i, s in enumerate(steps) if 0 < s <= EARLY_EPOCHS * cc.EPOCH_STEPS]
    g = np.array([[h[i][1] for i in keep] for h in hist]).mean(0)
    r = np.array([[h[i][2] for i in keep] for h in hist]).mean(0)
    return [steps[i] // cc.EPOCH_STEPS for i in keep], g, r


def check_early(sgd_runs, sam_runs, mu: float) -> list:
    ep, _, r_sgd = early_curves(sgd_runs)
    _, g_sam, r_sam = early_curves(sam_runs)
    ratio = r_sam / r_sgd
    below = [int(e) for e, q in zip(ep, ratio, strict=True) if q > 1]
    curve = ", ".join(f"{e}: {q:.2f}" for e, q in zip(ep, ratio, strict=True))
    return [
        CheckResult(name=f"max|rho| SAM <= SGD, epochs 1-{EARLY_EPOCHS} [||mu||={mu:g}]",
                    passed=not below, value=float(ratio.max()), expected="<= 1 at every epoch",
                    tolerance="mean over seeds", kind="float",
                    detail=f"ratio SAM/SGD by epoch {{{curve}}}; above 1 at epochs {below}"),
        CheckResult(name=f"max|rho| SAM <= SGD/2 at epoch {EARLY_EPOCHS} [||mu||={mu:g}]",
                    passed=bool(ratio[-1] <= 0.5), value=float(ratio[-1]), expected="<= 0.5",
                    tolerance="mean over seeds", kind="float",
                    detail="'far below': at most half"),
        CheckResult(name=f"max gamma grows under SAM [||mu||={mu:g}]",
                    passed=bool(g_sam[-1] > g_sam[0] > 0), value=float(g_sam[-1]),
                    expected=f"> {g_sam[0]:.3g} (epoch 1) > 0", tolerance="mean over seeds",
                    kind="float", detail="signal learning continues"),
    ]  # fmt: skip


def _trace(runs) -> tuple[float | None, int]:
    from verify.experiments.phase_diagram import _final_trace

    tr = [t for t in (_final_trace(r) for r in runs) if t is not None]
    return (float(np.mean(tr)) if tr else None), len(tr)


def run(config: ClaimConfig) -> ClaimRun:
    cc.refuse_foreign_options(config, CLAIM)
    cells = [(D, N, mu) for mu in MUS]
    sgd_runs = cc.train_cells(cells, Algorithm.SGD, config.seed)
    sam_runs = cc.train_cells(cells, Algorithm.SAM, config.seed)
    flip = cc.chen_preset().flip
    sgd = {mu: cc.errors(sgd_runs[(D, N, mu)]) for mu in MUS}
    sam = {mu: cc.errors(sam_runs[(D, N, mu)]) for mu in MUS}
    checks = [check_band(sgd, sam, flip), check_sam_not_worse(sgd, sam)]
    b = band(sgd, sam, flip)
    mu0 = b[0] if b else 2.0
    checks += check_early(sgd_runs[(D, N, mu0)], sam_runs[(D, N, mu0)], mu0)
    table = "; ".join(f"||mu||={mu:g}: SGD {cc.mean(sgd[mu]):.3f}, SAM {cc.mean(sam[mu]):.3f}"
                      for mu in MUS)  # fmt: skip
    traces = []
    for mu in MUS:
        (ts, ks), (tm, km) = _trace(sgd_runs[(D, N, mu)]), _trace(sam_runs[(D, N, mu)])
        f = lambda t: "undefined (kink)" if t is None else f"{t:.4g}"  # noqa: E731
        traces.append(
            f"||mu||={mu:g}: SGD {f(ts)} ({ks}/{cc.SEEDS}), SAM {f(tm)} ({km}/{cc.SEEDS})"
        )
    notes = [
        f"Mean test error (p = {flip}): {table}.",
        f"Band (SGD harmful, SAM benign): {b}.",
        "Final exact Tr(Hessian) of the logistic loss (seeds where it is twice differentiable): "
        + "; ".join(traces)
        + ".",
    ]
    params = {"seed": config.seed, "seeds": cc.SEEDS, "preset": "chen2023", "d": D, "n": N,
              "mu": list(MUS), "p": flip}  # fmt: skip
    net, data = cc.as_saved(sgd_runs[cells[0]][0])  # --save: the first run's weights and data
    return ClaimRun(ClaimReport(CLAIM, TITLE, REFERENCE, params, checks, notes), net, data)
