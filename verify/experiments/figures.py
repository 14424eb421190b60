"""Figures 1-11 of the paper (Sections 3.2, 4.2, 5.2; Appendix B): their panels, their verdicts.

Each :class:`Experiment` names the panels of one figure (presets of
:data:`sharpness.training.PRESETS`, Table 2's hyperparameters) and the paper's qualitative claims
about them as checks (:mod:`verify.experiments.verdicts`). :func:`run_experiment` trains (or
reuses) the runs of every panel over several seeds, draws the figure as PNG and PDF and returns
the verdicts as a :class:`~verify.report.ClaimReport`; ``verify-theorem fig1 ... fig11`` prints it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from verify.experiments.panels import RunSettings, run_panels, scale_notes
from verify.experiments.plotting import draw_experiment, plot_fig2b_neurons
from verify.experiments.verdicts import (
    check_degenerates,
    check_features,
    check_fits,
    check_flatter,
    check_generalizes,
    check_projection,
    check_sharpness_decreases,
    check_worse,
)
from verify.report import CheckResult, ClaimReport

__all__ = ["EXPERIMENTS", "Experiment", "Panel", "report_experiment", "run_experiment"]


@dataclass(frozen=True)
class Panel:
    """One panel of a figure: the training preset it reruns and the paper's caption label."""

    preset: str
    label: str


@dataclass(frozen=True)
class Experiment:
    """One figure: its panels, the paper's claims about them (``verdicts(R) -> [CheckResult]``
    on ``R`` = {panel: runs}), an optional note on the paper and an optional extra drawing."""

    id: str
    title: str
    reference: str
    panels: tuple[Panel, ...]
    verdicts: Callable
    notes: Callable | None = None
    extra_plot: Callable | None = None


# --------------------------------------------------------------------------------------------
# Notes on the paper
# --------------------------------------------------------------------------------------------
def _sim_bn_note() -> str:
    """Figure 2 (Sec. 3.2): the Sim-BN initialization the paper leaves unstated."""
    return (
        "Sim-BN initialization is not stated in the paper; gamma starts at 1/sqrt(width) "
        "(sharpness.training.runs note 1). With BatchNorm's gamma = 1, lr * ||df/dW2||^2 = "
        "0.005 * 500 = 2.5 > 1 at Table 2's first row and 1-SAM diverges in the first epoch "
        "(sharpness-train --arch simbn --gamma-init one ... to see it)"
    )


def _logistic_note() -> str:
    """Figures 8-10 (App. B.3): Definition A.2 and Lemma A.13 as printed, recomputed now."""
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
# The experiments: each figure's claims as checks on R = {panel: runs}
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


#: The figures of the paper that are rerun, by command name (Table 2 gives their hyperparameters).
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
        extra_plot=plot_fig2b_neurons,
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


# --------------------------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------------------------
def report_experiment(
    exp: Experiment, R: dict, settings: RunSettings, figures: bool = True
) -> tuple[ClaimReport, list[Path]]:
    """The verdicts of ``exp`` on the runs ``R`` ({panel: runs}) as a report, and the figure drawn
    into ``settings.root / exp.id`` (.png, .pdf; none when ``figures`` is False)."""
    checks = exp.verdicts(R)
    cfg = R[exp.panels[0].preset][0].config
    params = {
        "scale": settings.scale,
        "seeds": settings.seeds,
        "width": cfg.width,
        "d": cfg.d,
        "n": cfg.n,
        "epochs": ", ".join(f"{p.preset} {R[p.preset][0].config.epochs}" for p in exp.panels),
    }
    notes = scale_notes(R, settings.scale)
    if exp.notes:
        notes.append(exp.notes())
    report = ClaimReport(exp.id, exp.title, exp.reference, params, tuple(checks), tuple(notes))
    paths = []
    if figures:
        paths = draw_experiment(exp, R, settings.root / exp.id, verified=report.passed)
    return report, paths


def run_experiment(
    name: str, settings: RunSettings | None = None, figures: bool = True
) -> tuple[ClaimReport, list[Path]]:
    """Rerun one figure (``"fig1"`` ... ``"fig11"``): train or reuse its panels' runs, check the
    paper's claims, draw the figure. Returns the report and the figure's paths (PNG, PDF)."""
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; known: {', '.join(EXPERIMENTS)}")
    settings = RunSettings() if settings is None else settings
    exp = EXPERIMENTS[name]
    R = run_panels([p.preset for p in exp.panels], settings)
    return report_experiment(exp, R, settings, figures=figures)
