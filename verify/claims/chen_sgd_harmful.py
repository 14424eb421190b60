"""Chen et al. (NeurIPS 2023), Thm. 4.1 (SGD, harmful overfitting; Kou et al. 2023, Thm. 4.3 for
GD): if n ||mu||^4 <= C_3 d P^4 sigma_p^4, SGD still interpolates but its test error is
>= p + 0.1; the phase boundary follows ||mu||* ∝ (d P^4 sigma_p^4 / n)^{1/4}.

Checked on the ``chen2023`` preset (:mod:`verify.claims._chen_common`):

* at d = 800, n = 20, ||mu|| in {0.5, 1} (ratio 1e-4 and 1.6e-3), over 3 seeds: the training set
  is interpolated and every seed's test error is >= p + 0.1;
* the boundary (where the mean test error crosses p + 0.1, :mod:`verify.experiments.
  phase_diagram`) over d in {100, 200, 400, 800} x n in {20, 40}: log ||mu||* fitted on log d and
  log n (2 seeds per cell, ||mu|| in {1, 1.5, ..., 3.5}); the predicted exponents 1/4 and -1/4 must lie in the 95% intervals.
"""

from __future__ import annotations

from sharpness.signal_noise import Algorithm
from verify._common import ClaimRun
from verify.claims import _chen_common as cc
from verify.config import ClaimConfig
from verify.report import CheckResult, ClaimReport

CLAIM = "chen.sgd-harmful"
ORDER = 111
TITLE = "SGD overfits harmfully when n||mu||^4 <= C3 d P^4 sigma_p^4; boundary (d/n)^{1/4}"
REFERENCE = "Chen et al. (2023), Thm. 4.1; Kou et al. (2023), Thm. 4.3"
CELLS = ((800, 20, 0.5), (800, 20, 1.0))
SWEEP_D = (100, 200, 400, 800)
SWEEP_N = (20, 40)
SWEEP_MU = (1.0, 1.5, 2.0, 2.5, 3.0, 3.5)
SWEEP_SEEDS = 2  #: repeats per sweep cell (the claim stays under ~15 s on one core)


def evaluate(runs: dict, flip: float) -> list:
    """The checks, from measured runs ((d, n, mu) -> runs); pure, so a test can break them."""
    return cc.sgd_error_checks(runs, flip, cc.HARMFUL, above=True)


def check_exponent(name: str, value, interval, predicted: float) -> CheckResult:
    """The predicted exponent lies in the fitted 95% interval."""
    ok = interval is not None and interval[0] <= predicted <= interval[1]
    shown = None if interval is None else f"[{interval[0]:.3f}, {interval[1]:.3f}]"
    return CheckResult(name=name, passed=ok, value=value, expected=f"{predicted:g} in 95% CI",
                       tolerance=f"95% t interval {shown}", kind="estimate",
                       detail="least squares of log ||mu||* on log d and log n")  # fmt: skip


def sweep_rows(seed: int) -> list:
    cells = [(d, n, mu) for d in SWEEP_D for n in SWEEP_N for mu in SWEEP_MU]
    runs = cc.train_cells(cells, Algorithm.SGD, seed, record_every=10**6, seeds=SWEEP_SEEDS)
    return [{"d": d, "n": n, "mu_norm": mu, "algorithm": "sgd",
             "test_error": cc.mean(cc.errors(runs[(d, n, mu)]))} for d, n, mu in cells]  # fmt: skip


def run(config: ClaimConfig) -> ClaimRun:
    from verify.experiments.phase_diagram import boundary_points, fit_boundary

    cc.refuse_foreign_options(config, CLAIM)
    runs = cc.train_cells(CELLS, Algorithm.SGD, config.seed)
    flip = cc.chen_preset().flip
    checks = evaluate(runs, flip)
    pts = boundary_points(sweep_rows(config.seed), "sgd", flip + cc.HARMFUL)
    fit = fit_boundary(pts, "sgd")
    checks.append(check_exponent("boundary exponent of d", fit.a_d, fit.a_d_interval, 0.25))
    checks.append(check_exponent("boundary exponent of n", fit.b_n, fit.b_n_interval, -0.25))
    notes = [
        "C_3 is not given numerically; the cells tested have ratio "
        + ", ".join(f"{cc.ratio(d, n, mu):.3g}" for d, n, mu in CELLS)
        + ".",
        "Measured boundary ||mu||* (error = p + 0.1): "
        + "; ".join(f"d={d}, n={n}: {m:.3g}" for (d, n), m in sorted(pts.items()))
        + ".",
    ]
    params = {"seed": config.seed, "seeds": cc.SEEDS, "preset": "chen2023", "p": flip,
              "cells": [list(c) for c in CELLS], "sweep_d": list(SWEEP_D),
              "sweep_n": list(SWEEP_N), "sweep_mu": list(SWEEP_MU),
              "sweep_seeds": SWEEP_SEEDS}  # fmt: skip
    net, data = cc.as_saved(runs[CELLS[0]][0])  # --save: the first run's weights and data
    return ClaimRun(ClaimReport(CLAIM, TITLE, REFERENCE, params, checks, notes), net, data)
