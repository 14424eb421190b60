"""verify.experiments: a curated public API, below the command line (it imports no command)."""

import subprocess
import sys

import verify.experiments

EXPECTED = {
    # Table 1
    "TABLE1",
    "Table1Row",
    "MARK_MEANING",
    "reproduce_second_column",
    "format_second_column",
    "reproduce_third_column",
    "run_third_column",
    # every claim at once
    "Outcome",
    "run_claims",
    "exit_code",
    "summarize",
    # Figures 1-11
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
    # the notebooks' computations and drawings
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
    "draw_experiment",
    "plot_runs",
    "plot_activation_regions",
    "plot_sharpness_curve",
    "plot_error_table",
    "plot_sim_ln_eps_curve",
}


def test_public_names_are_pinned():
    module = verify.experiments
    assert set(module.__all__) == EXPECTED and len(module.__all__) == len(EXPECTED)
    for name in EXPECTED:
        assert hasattr(module, name), name
    assert module.__doc__ and "\n" not in module.__doc__.strip()


def test_the_library_imports_neither_the_cli_nor_a_command():
    code = (
        "import sys, verify.experiments; "
        "print(sorted(m for m in sys.modules if m == 'verify.cli' or m.startswith('verify.commands')))"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "[]"
