"""Matplotlib drawings: the panels of Figures 1-11 (sharpness, test error, train loss against
epochs; Fig. 2b's neuron table) and the notebooks' pictures of Figure 3, Eq. (5) and Sim-LN."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from verify.experiments.verdicts import column_norm_ratio, is_estimate, top_neurons

__all__ = [
    "draw_experiment",
    "plot_activation_regions",
    "plot_error_table",
    "plot_fig2b_neurons",
    "plot_runs",
    "plot_sharpness_curve",
    "plot_sim_ln_eps_curve",
]


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


def plot_sim_ln_eps_curve(ax, curve) -> None:
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


# --------------------------------------------------------------------------------------------
# Figures 1-11: one column per panel
# --------------------------------------------------------------------------------------------
def _curves(runs, key):
    out = []
    for r in runs:
        ev = [m for m in r.metrics if m.get(key) is not None]
        out.append((np.array([m["epoch"] for m in ev]), np.array([m[key] for m in ev])))
    return out


def draw_experiment(exp, R: dict, path_base: Path) -> list[Path]:
    """Sharpness, test error and train loss against epochs, one column per panel of ``exp`` (an
    :class:`~verify.experiments.figures.Experiment`), from the runs ``R`` ({panel: runs}); written
    as ``path_base``.png and .pdf (atomically). Returns the two paths."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    ncols = len(exp.panels) + (1 if exp.extra_plot else 0)
    fig = Figure(figsize=(4.2 * ncols, 8.0))
    FigureCanvasAgg(fig)
    axes = fig.subplots(3, ncols, squeeze=False)
    for c, panel in enumerate(exp.panels):
        runs = R[panel.preset]
        est = is_estimate(runs)
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


def plot_fig2b_neurons(ax, R) -> None:
    """Figure 2b: the four largest first-layer neurons of the first fig2a run, as a table."""
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
