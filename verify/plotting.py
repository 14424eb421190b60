"""Matplotlib drawings of :mod:`verify.explore`'s results, for the notebooks and the README."""

from __future__ import annotations

import numpy as np

__all__ = ["plot_activation_regions", "plot_error_table", "plot_sharpness_curve"]


def plot_activation_regions(ax, regions) -> None:
    """Figure 3: one shaded region per neuron (light grey where several overlap), the data on the
    circle, and white where no neuron fires (there f = 0)."""
    import matplotlib

    n = regions.dataset.n
    colors = matplotlib.colormaps["tab20"](np.arange(max(n, 1)) % 20)
    rgb = np.ones(regions.owner.shape + (3,))
    single = regions.owner >= 0
    rgb[single] = 0.45 * colors[regions.owner[single], :3] + 0.55
    rgb[regions.owner == -2] = 0.85
    extent = (regions.xs[0], regions.xs[-1], regions.ys[0], regions.ys[-1])
    ax.imshow(rgb, origin="lower", extent=extent, interpolation="nearest")
    X, y = regions.dataset.X, regions.dataset.y
    ax.scatter(X[:, 0], X[:, 1], c=np.where(y > 0, "tab:red", "tab:blue"), edgecolors="k", zorder=3)
    ax.set_aspect("equal")
    ax.set_title(
        f"memorizing 2-MLP-Bias, eps = {regions.epsilon:.3g}: each colour is one neuron's\n"
        "active region (grey: several neurons; white: none, f = 0)",
        fontsize=9,
    )


def plot_sharpness_curve(ax, curve) -> None:
    """Tr(Hessian) of Eq. (5) against r, with the bound and the printed and optimal r."""
    ax.plot(curve.r, curve.measured, "o", ms=3, label="exact trace (autograd)")
    ax.plot(curve.r, curve.closed_form, "-", lw=1, label="2((d+1)/r^2 + r^2)")
    ax.axhline(curve.bound, color="k", ls="--", lw=1, label="lower bound over interpolators")
    ax.axvline(
        curve.r_star, color="tab:green", ls=":", label=f"r* = (d+1)^(1/4) = {curve.r_star:.3g}"
    )
    ax.axvline(
        curve.r_printed,
        color="tab:red",
        ls=":",
        label=f"printed r = (d^2+1)^(1/4) = {curve.r_printed:.3g}",
    )
    ax.set_xlabel("r")
    ax.set_ylabel("Tr(Hessian of L)")
    ax.set_title(f"Eq. (5), d = {curve.d}")
    ax.legend(fontsize=8)


def plot_error_table(ax, table) -> None:
    """Zero-one error on the cube against n, one line per d, for both flattest models."""
    ds_ = sorted({r["d"] for r in table.rows})
    for d in ds_:
        rows = [r for r in table.rows if r["d"] == d]
        ns = [r["n"] for r in rows]
        ax.plot(ns, [r["memorizing"] for r in rows], "o-", label=f"memorizing, d={d}")
        ax.plot(ns, [r["formula"] for r in rows], "k:", lw=0.8)
        ax.plot(ns, [r["four_neuron"] for r in rows], "s--", label=f"four-neuron, d={d}")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("n")
    ax.set_ylabel("zero-one error on {-1,1}^d (exact)")
    ax.legend(fontsize=8)


def plot_sim_ln_epsilon_curve(ax, curve) -> None:
    """Tr(Hessian) of the Sim-LN constructions against eps, with the Lemma A.12 bound."""
    ax.plot(curve.eps, curve.bound, "k--", lw=1, label="Lemma A.12 bound")
    ax.plot(curve.eps, curve.memorizing_corrected, "o", ms=3, label="memorizing (corrected split)")
    ax.plot(curve.eps, curve.memorizing_printed, "x", ms=4, label="memorizing (printed split)")
    ax.plot(curve.eps, curve.four_neuron, "-", lw=1, label="Eq. (18) (corrected)")
    ax.axvspan(curve.c, 2 * curve.c, color="tab:red", alpha=0.1, label="c < eps < 2c")
    ax.set_xscale("log")
    ax.set_xlabel("eps")
    ax.set_ylabel("Tr(Hessian of L)")
    ax.set_title(f"2-MLP-Sim-LN, d = {curve.d}, n = {curve.n}, c = sqrt(d+1)")
    ax.legend(fontsize=8)


def plot_runs(axes, results, labels) -> None:
    """Train loss, exact sharpness and test error against epochs, one line per run (the paper's
    panels). ``axes`` holds three matplotlib axes; sampled test errors are marked as estimates."""
    keys = (
        ("train_loss", "train loss", True),
        ("sharpness", "Tr(Hessian of L)", False),
        ("test_error", "test zero-one error", False),
    )
    for ax, (key, ylabel, logy) in zip(axes, keys, strict=True):
        for res, label in zip(results, labels, strict=True):
            pts = [(m["epoch"], m[key]) for m in res.metrics if m.get(key) is not None]
            if not pts:
                continue
            est = key == "test_error" and any(m.get("test_exact") is False for m in res.metrics)
            ax.plot(
                *zip(*pts, strict=True),
                "-",
                marker="." if len(pts) < 30 else None,
                label=label + (" (sampled estimate)" if est else ""),
            )
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        if logy:
            ax.set_yscale("log")
        ax.legend(fontsize=8)
