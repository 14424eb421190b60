"""The figures a reader compares: bands over seeds, one sharpness axis, a title that follows the
verdict (issue 14, section 2)."""

from types import SimpleNamespace

import numpy as np
import pytest

from verify.experiments.figures import EXPERIMENTS
from verify.experiments.plotting import draw_experiment, figure_title, seed_band


def test_seed_band_is_the_student_t_interval():
    # three seeds at epochs 0, 10, 20 (seed 2 also logged 30, which is not on every run)
    curves = [
        (np.array([0.0, 10, 20]), np.array([1.0, 2.0, 3.0])),
        (np.array([0.0, 10, 20]), np.array([3.0, 2.0, 5.0])),
        (np.array([0.0, 10, 20, 30]), np.array([2.0, 2.0, 4.0, 9.0])),
    ]
    x, mean, lo, hi = seed_band(curves)
    np.testing.assert_array_equal(x, [0, 10, 20])
    np.testing.assert_allclose(mean, [2.0, 2.0, 4.0])
    # sample sd of (1, 3, 2) is 1; t_{0.975, 2} = 4.302652729749464 (tables); / sqrt 3
    half = 4.302652729749464 / np.sqrt(3)
    np.testing.assert_allclose(hi - mean, [half, 0.0, half], rtol=1e-12)
    np.testing.assert_allclose(mean - lo, hi - mean)


def test_seed_band_needs_two_runs_and_a_valid_level():
    assert seed_band([(np.array([0.0]), np.array([1.0]))]) is None
    with pytest.raises(ValueError, match="level"):
        seed_band([], level=1.0)


def _run(seed, sharpness, epochs):
    metrics = [
        {"epoch": e, "sharpness": s, "test_error": 0.1, "train_loss": 0.5 / (1 + e)}
        for e, s in zip(epochs, sharpness, strict=True)
    ]
    phases = (
        SimpleNamespace(lr=0.1, rho=0.0, weight_decay=0.0, batch_size=100, epochs=epochs[-1]),
    )
    config = SimpleNamespace(seed=seed, phases=phases, name="toy", epochs=epochs[-1])
    return SimpleNamespace(metrics=metrics, config=config)


@pytest.mark.parametrize("verified", [True, False, None])
def test_figure_shares_the_sharpness_axis_and_titles_by_verdict(tmp_path, verified, monkeypatch):
    import matplotlib.figure

    exp = EXPERIMENTS["fig4"]
    epochs = [0, 50, 100]
    R = {
        exp.panels[0].preset: [_run(s, [100.0, 103.0 + s, 103.0], epochs) for s in range(3)],
        exp.panels[1].preset: [_run(s, [100.0, 22.0 + s, 22.0], epochs) for s in range(3)],
    }
    figs = []
    monkeypatch.setattr(
        matplotlib.figure.Figure, "tight_layout", lambda self, *a, **k: figs.append(self)
    )
    paths = draw_experiment(exp, R, tmp_path / "fig4", verified=verified)
    assert [p.suffix for p in paths] == [".png", ".pdf"] and all(p.exists() for p in paths)
    (fig,) = figs
    sharp = [ax for ax in fig.axes if ax.get_ylabel().startswith("sharpness")]
    assert len(sharp) == 2
    assert sharp[0].get_ylim() == sharp[1].get_ylim()  # 22 and 103 read on one axis
    lo, hi = sharp[0].get_ylim()
    assert lo < 22 and hi > 105
    labels = {t.get_text() for t in sharp[0].yaxis.get_ticklabels()} - {""}
    assert {"20", "50", "100"} <= labels  # not a lone 10^2
    # three seeds: their mean and its band are drawn
    assert any(line.get_label() == "mean of 3 seeds" for line in sharp[1].get_lines())
    title = fig._suptitle.get_text()
    assert title == figure_title(exp, verified)
    assert ("(VERIFIED)" in title) == bool(verified)
    if not verified:
        assert "NOT VERIFIED" in title or "not judged" in title


def test_log_band_is_geometric_and_positive():
    curves = [
        (np.array([0.0, 1.0]), np.array([1e-4, 1.0])),
        (np.array([0.0, 1.0]), np.array([1e-2, 1.0])),
    ]
    x, mean, lo, hi = seed_band(curves, log=True)
    np.testing.assert_allclose(mean, [1e-3, 1.0])  # geometric mean
    assert np.all(lo > 0) and np.all(lo <= mean) and np.all(mean <= hi)
    with pytest.raises(ValueError, match="positive"):
        seed_band([(np.array([0.0]), np.array([0.0]))] * 2, log=True)


def test_a_sharpness_axis_through_zero_is_symlog_with_readable_ticks():
    """Sim-BN's trace sits at 1e-5..1e-2, of either sign, before it fits: the linear band of the
    symmetric log axis sits below the small values instead of swallowing them."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from verify.experiments.plotting import _share_sharpness_axis

    small = np.geomspace(1e-4, 1e-2, 30) * np.where(np.arange(30) % 2, 1, -1)
    values = np.concatenate([small, np.linspace(1, 12, 10)])
    fig, axes = plt.subplots(1, 2)
    for ax in axes:
        ax.plot(values)
    _share_sharpness_axis(axes, values)
    fig.canvas.draw()
    ax = axes[0]
    assert ax.get_yscale() == "symlog"
    assert ax.yaxis.get_transform().linthresh == 1e-3  # span 12 x 1e-4, rounded down
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert {"-0.01", "0.01", "0.1", "1", "10"} <= set(labels), labels
    assert axes[1].get_ylim() == ax.get_ylim()
    plt.close(fig)
