"""The notebook helpers (verify.experiments.explore, .plotting) compute and draw what they claim."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from constructions import certify_extreme_points
from verify.experiments import (
    activation_regions,
    circle_dataset,
    eq5_sharpness_curve,
    hypercube_error_table,
    plot_activation_regions,
    plot_error_table,
    plot_sharpness_curve,
)


def test_regions_shrink_with_epsilon_and_f_vanishes_outside():
    ds = circle_dataset(7, radius=2.0, seed=1)
    certify_extreme_points(ds.X)
    small = activation_regions(ds, epsilon=0.05, grid=121)
    large = activation_regions(ds, grid=121)
    covered = lambda reg: np.mean(reg.owner != -1)  # noqa: E731
    assert covered(small) < covered(large)
    assert np.all(small.output[small.owner == -1] == 0.0)  # no active neuron: f = 0 exactly
    # the regions are half-planes: near each data point only its own neuron is active
    for i, x in enumerate(ds.X):
        gi = np.argmin(np.abs(small.xs - 0.995 * x[0]))
        gj = np.argmin(np.abs(small.ys - 0.995 * x[1]))
        assert small.owner[gj, gi] in (i, -1)


def test_sharpness_curve_minimum_and_bound():
    c = eq5_sharpness_curve(6, rs=[1.0, 7**0.25, 37**0.25])
    np.testing.assert_allclose(c.measured, c.closed_form, rtol=1e-12)
    assert c.measured[1] == pytest.approx(c.bound, rel=1e-12)
    assert c.measured[2] > c.bound


def test_error_table_matches_formula():
    t = hypercube_error_table([3, 5], [1, 4, 8])
    for row in t.rows:
        assert row["memorizing"] == row["formula"] and row["four_neuron"] == 0.0


def test_plots_draw_what_they_are_given(tmp_path):
    import matplotlib.image
    import matplotlib.pyplot as plt
    from matplotlib.collections import PathCollection
    from matplotlib.image import AxesImage

    regions = activation_regions(circle_dataset(5), grid=30)
    curve = eq5_sharpness_curve(3, rs=[1.0, 2.0])
    table = hypercube_error_table([3], [2, 4])
    fig, axes = plt.subplots(1, 3)
    plot_activation_regions(axes[0], regions)
    plot_sharpness_curve(axes[1], curve)
    plot_error_table(axes[2], table)
    # Figure 3: one image of the regions, the five data points drawn over it
    (image,) = axes[0].get_images()
    assert isinstance(image, AxesImage) and image.get_array().shape == (30, 30, 3)
    # the points, drawn per label with a key for the colours, and labelled axes
    groups = {c.get_label(): c for c in axes[0].collections if isinstance(c, PathCollection)}
    X, y = regions.dataset.X, regions.dataset.y
    for label, sign in (("label y = +1", 1), ("label y = -1", -1)):
        expected = X[np.sign(y) == sign]
        if len(expected):
            np.testing.assert_array_equal(groups[label].get_offsets(), expected)
    assert sum(len(g.get_offsets()) for g in groups.values()) == len(X)
    legend = [t.get_text() for t in axes[0].get_legend().get_texts()]
    assert set(legend) == set(groups)
    assert axes[0].get_xlabel() and axes[0].get_ylabel()
    assert "memorizing 2-MLP-Bias" in axes[0].get_title()
    # Eq. (5): the measured traces and the closed form at the given r, the bound, r* and printed r
    lines = {line.get_label(): line for line in axes[1].get_lines()}
    np.testing.assert_array_equal(lines["exact trace (autograd)"].get_ydata(), curve.measured)
    np.testing.assert_array_equal(lines["2((d+1)/r^2 + r^2)"].get_xdata(), curve.r)
    bound = lines["lower bound over interpolators"].get_ydata()
    assert bound[0] == bound[1] == curve.bound
    assert any(label.startswith("r* = (d+1)^(1/4)") for label in lines)
    assert any(label.startswith("printed r = (d^2+1)^(1/4)") for label in lines)
    assert axes[1].get_xlabel() == "r" and axes[1].get_legend() is not None
    # error table: memorizing on the formula 1 - n/2^d, four-neuron at 0, n on a log2 axis
    lines = {line.get_label(): line for line in axes[2].get_lines()}
    np.testing.assert_array_equal(lines["memorizing, d=3"].get_xdata(), [2, 4])
    np.testing.assert_allclose(lines["memorizing, d=3"].get_ydata(), [1 - 2 / 8, 1 - 4 / 8])
    np.testing.assert_array_equal(lines["four-neuron, d=3"].get_ydata(), [0.0, 0.0])
    assert axes[2].get_xscale() == "log"
    path = tmp_path / "x.png"
    fig.savefig(path, dpi=50)
    plt.close(fig)
    assert path.stat().st_size > 1000
    width, height = fig.get_size_inches() * 50
    assert matplotlib.image.imread(path).shape[:2] == (round(height), round(width))


def test_argument_checks():
    with pytest.raises(ValueError, match="d = 2"):
        from constructions import sample_xor

        activation_regions(sample_xor(3, 4, 0))
    with pytest.raises(ValueError, match="n must"):
        circle_dataset(0)


def test_sim_ln_eps_curve_against_the_closed_bound():
    import math

    from verify.experiments import plot_sim_ln_eps_curve, sim_ln_eps_curve

    d = 3
    c = math.sqrt(d + 1)
    curve = sim_ln_eps_curve(d, n=4, eps=[0.5 * c, c, 1.5 * c, 4 * c])
    expected = [2 * min(1.0, 2 * c / e) for e in curve.eps]
    np.testing.assert_allclose(curve.bound, expected, rtol=1e-12)
    np.testing.assert_allclose(curve.memorizing_corrected, expected, rtol=1e-10)
    np.testing.assert_allclose(curve.four_neuron, expected, rtol=1e-10)
    # printed split: fine below c, on the switch at c (no Hessian), too sharp on (c, 2c)
    assert curve.memorizing_printed[0] == pytest.approx(2.0, rel=1e-10)
    assert np.isnan(curve.memorizing_printed[1])
    assert curve.memorizing_printed[2] > expected[2] + 0.1
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    plot_sim_ln_eps_curve(ax, curve)
    lines = {line.get_label(): line for line in ax.get_lines()}
    np.testing.assert_array_equal(lines["Lemma A.12 bound"].get_ydata(), curve.bound)
    printed = lines["memorizing (printed split)"].get_ydata()
    assert np.isnan(printed[1])  # no Hessian on the switch: a gap in the curve, not a value
    plt.close(fig)


def test_train_in_chunks_equals_one_uninterrupted_run(tmp_path):
    import matplotlib.pyplot as plt

    from sharpness.training.runs import train
    from verify.experiments import panel_configs, plot_runs, train_in_chunks

    cfg = panel_configs("fig4b", "smoke", 1)[0]
    seen = [r[0].epoch for r in train_in_chunks([cfg], [tmp_path / "a"], chunks=3)]
    assert seen[-1] == cfg.epochs and seen == sorted(seen)
    chunked = train_in_chunks([cfg], [tmp_path / "a"], chunks=1)
    final = next(chunked)[0]
    whole = train(cfg, tmp_path / "b", progress=False)
    for k in whole.params:
        np.testing.assert_array_equal(np.asarray(final.params[k]), np.asarray(whole.params[k]))
    fig, axes = plt.subplots(1, 3)
    plot_runs(axes, [final], ["1-SAM"])
    assert [ax.get_ylabel() for ax in axes] == [
        "train loss",
        "Tr(Hessian of L)",
        "test zero-one error",
    ]
    for ax, key in zip(axes, ("train_loss", "sharpness", "test_error"), strict=True):
        (line,) = ax.get_lines()
        expected = [m[key] for m in final.metrics if m.get(key) is not None]
        assert line.get_label() == "1-SAM" and list(line.get_ydata()) == expected
    plt.close(fig)
    with pytest.raises(ValueError, match="one output directory per run"):
        next(train_in_chunks([cfg], [], chunks=2))


def test_scale_schedule_rescales_every_phase():
    from verify.experiments import panel_configs, scale_schedule

    cfg = panel_configs("fig4b", "smoke", 1)[0]
    new = scale_schedule(cfg, 2.0, 0.5)
    for a, b in zip(cfg.phases, new.phases, strict=True):
        assert b.lr == 2 * a.lr and b.rho == 0.5 * a.rho and b.epochs == a.epochs
    with pytest.raises(ValueError, match="lr_factor"):
        scale_schedule(cfg, -1.0)
