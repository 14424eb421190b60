"""Matplotlib drawings: the panels of Figures 1-11 (sharpness, test error, train loss against
epochs; Fig. 2b's neuron table) and the notebooks' pictures of Figure 3, Eq. (5) and Sim-LN."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from verify.experiments.verdicts import column_norm_ratio, is_estimate, top_neurons

__all__ = [
    "draw_experiment",
    "figure_title",
    "plot_activation_regions",
    "plot_error_table",
    "plot_fig2b_neurons",
    "plot_runs",
    "plot_sharpness_curve",
    "plot_sim_ln_eps_curve",
    "seed_band",
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
    for sign, color, name in ((1, "tab:red", "label y = +1"), (-1, "tab:blue", "label y = -1")):
        mask = np.sign(y) == sign
        if mask.any():
            ax.scatter(X[mask, 0], X[mask, 1], c=color, edgecolors="k", zorder=3, label=name)
    ax.set_aspect("equal")
    ax.set_xlabel("v[1]")
    ax.set_ylabel("v[2]")
    ax.legend(fontsize=8, loc="upper right", framealpha=0.9)
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
    ax.plot([], [], "k:", lw=0.8, label="1 - n/2^d (Prop. 4.1)")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("n")
    ax.set_ylabel("zero-one error on {-1,1}^d (exact)")
    # outside the axes: inside, the legend covers the curves near error 1 and 0
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.02, 0.5))


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
        x = np.array([m["epoch"] for m in ev], dtype=float)
        v = np.array([m[key] for m in ev], dtype=float)
        x, last = np.unique(x[::-1], return_index=True)  # a resumed run may log an epoch twice
        out.append((x, v[::-1][last]))
    return out


def seed_band(curves, level: float = 0.95, log: bool = False):
    """Mean over seeds and its two-sided ``level`` Student-t confidence band, on the epochs every
    run logged: ``(epochs, mean, lower, upper)``, or None with fewer than two runs. ``curves`` is a
    list of (epochs, values) pairs, one per seed. With ``log`` (a quantity drawn on a log axis,
    positive) the mean and band are those of log(values), mapped back: a geometric mean, and a
    band that stays positive."""
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie in (0, 1), got {level!r}")
    curves = [(x, v) for x, v in curves if len(x)]
    if log:
        if any(np.any(~(v > 0)) for _, v in curves):
            raise ValueError("log=True needs positive values")
        band = seed_band([(x, np.log(v)) for x, v in curves], level)
        return None if band is None else (band[0], *(np.exp(b) for b in band[1:]))
    if len(curves) < 2:
        return None
    from scipy.stats import t as student_t

    common = curves[0][0]
    for x, _ in curves[1:]:
        common = np.intersect1d(common, x)
    if not len(common):
        return None
    V = np.stack([v[np.searchsorted(x, common)] for x, v in curves])
    k = len(curves)
    mean = V.mean(axis=0)
    half = student_t.ppf(0.5 + level / 2, k - 1) * V.std(axis=0, ddof=1) / np.sqrt(k)
    return common, mean, mean - half, mean + half


def _share_sharpness_axis(axes_row, values) -> None:
    """One sharpness axis for every panel, so that the panels' values can be read against each
    other (Fig. 4: 22 against 103), with ticks at 1, 2 and 5 times each power of ten. ``values``
    are every sharpness value drawn."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter, SymmetricalLogLocator

    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if not len(values):
        return
    if values.min() > 0:  # log axis, labelled 10, 20, 50, 100 rather than a lone 10^2
        lo, hi = values.min() / 1.15, values.max() * 1.15
        for ax in axes_row:
            ax.set_yscale("log")
            ax.set_ylim(lo, hi)
            ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            ax.yaxis.set_minor_formatter(NullFormatter())
    else:  # away from a minimum Tr H can be < 0: symmetric log, linear only near 0
        mags = np.abs(values[values != 0])
        span = float(mags.max()) if len(mags) else 1.0
        # the linear band: below the smallest 5% of the magnitudes drawn (Sim-BN's trace sits
        # at 1e-5..1e-2 for long stretches before it fits), never below span * 1e-4
        small = float(np.quantile(mags, 0.05)) if len(mags) else 1.0
        linthresh = 10.0 ** np.floor(np.log10(max(small, span * 1e-4)))
        subs = (1.0, 2.0, 5.0) if span / linthresh <= 1e3 else (1.0,)  # at most ~10 labels a side
        for ax in axes_row:
            ax.set_yscale("symlog", linthresh=linthresh)
            ax.set_ylim(min(values.min() * 1.15, -linthresh), span * 1.15)
            ax.yaxis.set_major_locator(
                SymmetricalLogLocator(base=10, linthresh=linthresh, subs=subs)
            )
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            ax.yaxis.set_minor_formatter(NullFormatter())


def figure_title(exp, verified: bool | None) -> str:
    """The claim in the title only under a verdict that holds; otherwise the title says it was not
    verified here (or not judged, when ``verified`` is None)."""
    where = exp.reference.split(";")[0]
    if verified:
        return f"{where}: {exp.title} (VERIFIED)"
    state = "not judged" if verified is None else "NOT VERIFIED here"
    return f"{where}, {state}. The paper's claim:\n{exp.title}"


def draw_experiment(exp, R: dict, path_base: Path, verified: bool | None = None) -> list[Path]:
    """Sharpness, test error and train loss against epochs, one column per panel of ``exp`` (an
    :class:`~verify.experiments.figures.Experiment`), from the runs ``R`` ({panel: runs}); written
    as ``path_base``.png and .pdf (atomically). Returns the two paths.

    With several seeds each panel shows every seed thinly and their mean with its 95% confidence
    band (:func:`seed_band`); the sharpness row shares one axis across panels. The title states
    the paper's claim as verified only when ``verified`` is True (the figure's verdict)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    ncols = len(exp.panels) + (1 if exp.extra_plot else 0)
    fig = Figure(figsize=(4.2 * ncols, 8.0))
    FigureCanvasAgg(fig)
    axes = fig.subplots(3, ncols, squeeze=False)
    sharpness_values = []
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
            curves = _curves(runs, key)
            positive = all(np.all(v > 0) for _, v in curves)
            band = seed_band(curves, log=logy and positive)
            if key == "sharpness":
                sharpness_values.extend(v for _, v in curves)
            for (x, v), r in zip(curves, runs, strict=True):
                if len(x):
                    ax.plot(
                        x,
                        v,
                        lw=0.6 if band else 1.0,
                        alpha=0.45 if band else 0.8,
                        label=f"seed {r.config.seed}",
                    )
            if band is not None:
                bx, mean, lo, hi = band
                ax.plot(bx, mean, color="k", lw=1.4, label=f"mean of {len(runs)} seeds")
                ax.fill_between(bx, lo, hi, color="k", alpha=0.15, lw=0, label="95% band")
            if key == "sharpness":  # at a fatal ReLU kink: the two one-sided traces
                for r in runs:
                    ev = [m for m in r.metrics if m.get("sharpness_one_sided")]
                    if ev:
                        xs = [m["epoch"] for m in ev]
                        for j, mk in ((0, "v"), (1, "^")):
                            ys = [m["sharpness_one_sided"][j] for m in ev]
                            ax.plot(xs, ys, mk, ms=2.5, color="gray", alpha=0.7)
                            sharpness_values.append(np.asarray(ys, dtype=float))
            ax.ticklabel_format(axis="x", style="sci", scilimits=(0, 4))
            if logy and key != "sharpness":
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
    _share_sharpness_axis(
        [axes[0][c] for c in range(len(exp.panels))],
        np.concatenate(sharpness_values) if sharpness_values else [],
    )
    if exp.extra_plot:
        for row in range(3):
            axes[row][-1].axis("off")
        exp.extra_plot(axes[0][-1], R)
    fig.suptitle(figure_title(exp, verified), fontsize=10)
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
