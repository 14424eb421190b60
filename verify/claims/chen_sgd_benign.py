"""Chen et al. (NeurIPS 2023), Thm. 4.1 (SGD, benign overfitting; Kou et al. 2023, Thm. 4.2 for GD):
if n ||mu||^4 >= C_1 d P^4 sigma_p^4, SGD reaches a training loss <= eps and its test error is
<= p + eps.

Checked on the ``chen2023`` preset (:mod:`verify.claims._chen_common`) at d = 200, n = 20,
||mu|| in {4, 6} (n ||mu||^4 / (d P^4 sigma_p^4) = 1.6 and 8.1), over 3 seeds: the training set is
interpolated (flipped labels included) and every seed's test error is <= p + 0.05.
"""

from __future__ import annotations

from sharpness.signal_noise import Algorithm
from verify._common import ClaimRun
from verify.claims import _chen_common as cc
from verify.config import ClaimConfig
from verify.report import ClaimReport

CLAIM = "chen.sgd-benign"
ORDER = 110
TITLE = "SGD overfits benignly when n||mu||^4 >= C1 d P^4 sigma_p^4: test error <= p + eps"
REFERENCE = "Chen et al. (2023), Thm. 4.1; Kou et al. (2023), Thm. 4.2"
CELLS = ((200, 20, 4.0), (200, 20, 6.0))


def evaluate(runs: dict, flip: float) -> list:
    """The checks, from measured runs ((d, n, mu) -> runs); pure, so a test can break them."""
    return cc.sgd_error_checks(runs, flip, cc.EPSILON, above=False)


def run(config: ClaimConfig) -> ClaimRun:
    cc.refuse_foreign_options(config, CLAIM)
    runs = cc.train_cells(CELLS, Algorithm.SGD, config.seed)
    flip = cc.chen_preset().flip
    checks = evaluate(runs, flip)
    notes = [
        "C_1 is not given numerically by the paper; the cells tested have n||mu||^4/(dP^4"
        "sigma_p^4) = " + ", ".join(f"{cc.ratio(d, n, mu):.3g}" for d, n, mu in CELLS) + ".",
        "Final train loss per cell: "
        + "; ".join(
            f"||mu||={mu:g}: {cc.mean(r.train_loss for r in runs[(d, n, mu)]):.4f}"
            for d, n, mu in CELLS
        )
        + ".",  # fmt: skip
    ]
    params = {"seed": config.seed, "seeds": cc.SEEDS, "preset": "chen2023", "epsilon": cc.EPSILON,
              "cells": [list(c) for c in CELLS], "p": flip}  # fmt: skip
    net, data = cc.as_saved(runs[CELLS[0]][0])  # --save: the first run's weights and data
    return ClaimRun(ClaimReport(CLAIM, TITLE, REFERENCE, params, checks, notes), net, data)
