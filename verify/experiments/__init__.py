"""The paper's experiments (Figs. 1-11), its Table 1 and the run of every claim, as a library."""

from verify.experiments.claims_runner import Outcome, exit_code, run_claims, summarize
from verify.experiments.explore import (
    ActivationRegions,
    ErrorTable,
    SharpnessCurve,
    SimLNEpsilonCurve,
    activation_regions,
    circle_dataset,
    eq5_sharpness_curve,
    hypercube_error_table,
    scale_schedule,
    sim_ln_eps_curve,
    train_in_chunks,
)
from verify.experiments.figures import EXPERIMENTS, Experiment, Panel, run_experiment
from verify.experiments.panels import QUICK_SCALE, SCALES, RunSettings, panel_configs, run_panels
from verify.experiments.plotting import (
    draw_experiment,
    plot_activation_regions,
    plot_error_table,
    plot_runs,
    plot_sharpness_curve,
    plot_sim_ln_eps_curve,
)
from verify.experiments.table1 import (
    MARK_MEANING,
    TABLE1,
    Table1Row,
    format_second_column,
    reproduce_second_column,
    reproduce_third_column,
    run_third_column,
)
from verify.experiments.verdicts import (
    DEGENERATES,
    GENERALIZES,
    check_degenerates,
    check_features,
    check_fits,
    check_flatter,
    check_generalizes,
    check_projection,
    check_sharpness_decreases,
    check_worse,
    column_norm_ratio,
    top_neurons,
)

__all__ = [
    # Table 1 (both result columns)
    "TABLE1",
    "Table1Row",
    "MARK_MEANING",
    "reproduce_second_column",
    "format_second_column",
    "reproduce_third_column",
    "run_third_column",
    # every claim at once (Table 1's second column)
    "Outcome",
    "run_claims",
    "exit_code",
    "summarize",
    # Figures 1-11: panels, runs, verdicts
    "EXPERIMENTS",
    "Experiment",
    "Panel",
    "RunSettings",
    "SCALES",
    "QUICK_SCALE",
    "panel_configs",
    "run_panels",
    "run_experiment",
    "GENERALIZES",
    "DEGENERATES",
    "check_generalizes",
    "check_flatter",
    "check_worse",
    "check_degenerates",
    "check_sharpness_decreases",
    "check_fits",
    "check_features",
    "check_projection",
    "top_neurons",
    "column_norm_ratio",
    # the notebooks' computations
    "ActivationRegions",
    "ErrorTable",
    "SharpnessCurve",
    "SimLNEpsilonCurve",
    "activation_regions",
    "circle_dataset",
    "eq5_sharpness_curve",
    "hypercube_error_table",
    "sim_ln_eps_curve",
    "scale_schedule",
    "train_in_chunks",
    # drawings
    "draw_experiment",
    "plot_runs",
    "plot_activation_regions",
    "plot_sharpness_curve",
    "plot_error_table",
    "plot_sim_ln_eps_curve",
]
