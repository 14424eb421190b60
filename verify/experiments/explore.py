"""Computations behind the notebooks: Figure 3's activation regions, Eq. (5)'s sharpness in r,
hypercube error against n and d (Props 4.1-4.2), the Sim-LN sharpness against eps (Theorem 5.1),
and live training of the Appendix B panels. :mod:`verify.experiments.plotting` draws them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from constructions import Dataset, four_neuron_solution, memorizing_solution, sample_xor
from constructions._checks import check_int, check_positive_float
from sharpness import hessian_trace, hypercube_error, jacobian_lower_bound
from sharpness.symbolic.scenario_ii import eq5_sharpness

__all__ = [
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
]


def circle_dataset(n: int, radius: float = 1.0, seed: int = 0) -> Dataset:
    """n points evenly spaced on a circle (randomly rotated), random labels +-1: Figure 3's data.

    Points on a circle are a set of extreme points (Definition 4.1) by construction.
    """
    n = check_int("n", n, minimum=1)
    radius = check_positive_float("radius", radius)
    rng = np.random.default_rng(seed)
    angles = rng.uniform(0, 2 * np.pi) + 2 * np.pi * np.arange(n) / n
    X = radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    return Dataset(X, rng.choice([-1.0, 1.0], size=n), f"circle (n={n}, seed={seed})")


@dataclass(frozen=True, eq=False)
class ActivationRegions:
    """For each grid point, the active first-layer neuron (-1: none, -2: several) and f."""

    xs: np.ndarray
    ys: np.ndarray
    owner: np.ndarray
    output: np.ndarray
    dataset: Dataset
    epsilon: float


def activation_regions(
    dataset: Dataset, epsilon: float | None = None, grid: int = 200, extent: float = 1.25
) -> ActivationRegions:
    """Figure 3: where each neuron of the memorizing 2-MLP-Bias is active, on a 2-D grid.

    Args:
        dataset: 2-D extreme-point data (e.g. :func:`circle_dataset`).
        epsilon: the construction's epsilon (default: half the smallest margin). Larger values
            widen the regions until neurons overlap and memorization fails.
        grid: points per axis. extent: half-width of the square drawn, in units of max ||x||.
    """
    if dataset.d != 2:
        raise ValueError(f"activation regions are drawn for d = 2, got d = {dataset.d}")
    grid = check_int("grid", grid, minimum=2)
    norms = np.linalg.norm(dataset.X, axis=1)
    on_sphere = np.ptp(norms) <= 1e-12 * np.max(norms)
    # Radial directions on a circle, as Figure 3 draws them; LP directions otherwise.
    cons = memorizing_solution(
        dataset, 2, epsilon=epsilon, directions="sphere" if on_sphere else "lp"
    )
    net = cons.network
    half = extent * float(np.max(np.linalg.norm(dataset.X, axis=1)))
    xs = np.linspace(-half, half, grid)
    gx, gy = np.meshgrid(xs, xs)
    pts = torch.tensor(np.stack([gx.ravel(), gy.ravel()], axis=1))
    z = net.arch.preactivation_1(net.param_dict(), pts)
    active = z > 0
    owner = torch.where(
        active.sum(1) == 1,
        torch.argmax(active.to(torch.int8), 1),
        torch.full_like(active.sum(1), -1),
    )
    owner = torch.where(active.sum(1) > 1, torch.full_like(owner, -2), owner)
    out = net(pts).detach().numpy().reshape(grid, grid)
    return ActivationRegions(
        xs, xs, owner.numpy().reshape(grid, grid), out, dataset, cons.parameters["epsilon"]
    )


@dataclass(frozen=True, eq=False)
class SharpnessCurve:
    """Tr(Hessian) of Eq. (5) against r: measured (exact autograd), closed form, and the bound."""

    d: int
    r: np.ndarray
    measured: np.ndarray
    closed_form: np.ndarray
    bound: float
    r_printed: float
    r_star: float


def eq5_sharpness_curve(d: int, rs=None, n: int = 16, seed: int = 0) -> SharpnessCurve:
    """Sharpness of Eq. (5) as a function of r on a P_xor training set, with the bound."""
    d = check_int("d", d, minimum=2)
    ds = sample_xor(d, min(n, 2**d), seed)
    X, y = ds.tensors()
    r_star, r_printed = (d + 1) ** 0.25, (d * d + 1) ** 0.25
    if rs is None:
        rs = np.linspace(0.5 * r_star, 1.6 * max(r_printed, r_star), 40)
    rs = np.asarray(rs, dtype=float)
    measured = np.array(
        [hessian_trace(four_neuron_solution(d, width=4, r=float(r)).network, X, y) for r in rs]
    )
    closed = np.array([float(eq5_sharpness(float(r), d)) for r in rs])
    return SharpnessCurve(
        d, rs, measured, closed, jacobian_lower_bound(ds.X, ds.y).trace, r_printed, r_star
    )


@dataclass(frozen=True, eq=False)
class ErrorTable:
    """Exact zero-one error on {-1,1}^d of the memorizing and four-neuron flattest models."""

    rows: tuple[dict, ...]


def hypercube_error_table(ds_: list[int], ns: list[int], seed: int = 0) -> ErrorTable:
    """Exact cube errors of Prop. 4.1's and Prop. 4.2's flattest models for each (d, n <= 2^d)."""
    rows = []
    for d in ds_:
        for n in ns:
            if n > 2**d:
                continue
            data = sample_xor(d, n, seed)
            mem = memorizing_solution(
                data, 2, directions="sphere", epsilon=1 / math.sqrt(d)
            ).network
            four = four_neuron_solution(d, width=max(n, 4)).network
            rows.append(
                {
                    "d": d,
                    "n": n,
                    "memorizing": hypercube_error(mem, progress=False).zero_one,
                    "formula": max(1 - n / 2**d, 0.0),
                    "four_neuron": hypercube_error(four, progress=False).zero_one,
                }
            )
    return ErrorTable(tuple(rows))


@dataclass(frozen=True, eq=False)
class SimLNEpsilonCurve:
    """Tr(Hessian) of App. A.4.1's memorizing 2-MLP-Sim-LN (printed and corrected case split) and
    of Eq. (18) (corrected) against eps, with the Lemma A.12 bound. NaN where the Hessian does not
    exist (a training point on the switch ||h|| = eps)."""

    d: int
    n: int
    eps: np.ndarray
    bound: np.ndarray
    memorizing_printed: np.ndarray
    memorizing_corrected: np.ndarray
    four_neuron: np.ndarray
    c: float  # sqrt(d+1) = ||x'|| |y| at every cube point


def sim_ln_eps_curve(d: int, n: int = 16, eps=None, seed: int = 0) -> SimLNEpsilonCurve:
    """Sharpness of the Sim-LN flattest constructions as eps varies (Theorem 5.1, Props 5.1-5.2).

    On P_xor every c_i = sqrt(d+1): the bound is 2 min(1, 2 sqrt(d+1)/eps); the printed A.4.1
    construction leaves it on (sqrt(d+1), 2 sqrt(d+1)), and sits on the switch at eps = sqrt(d+1).
    """
    from constructions import sim_ln_four_neuron_solution, sim_ln_memorizing_solution
    from sharpness import NonDifferentiableError, sim_ln_lower_bound

    d = check_int("d", d, minimum=2)
    n = check_int("n", n, minimum=1)
    ds = sample_xor(d, min(n, 2**d), seed)
    X, y = ds.tensors()
    c = math.sqrt(d + 1)
    if eps is None:
        eps = np.geomspace(0.1 * c, 6 * c, 60)
    eps = np.asarray([check_positive_float("eps", float(e)) for e in eps])

    def trace(net):
        try:
            return hessian_trace(net, X, y)
        except NonDifferentiableError:
            return float("nan")

    rows = []
    for e in eps:
        rows.append(
            (
                sim_ln_lower_bound(ds.X, ds.y, float(e)).trace,
                trace(sim_ln_memorizing_solution(ds, float(e), form="printed").network),
                trace(sim_ln_memorizing_solution(ds, float(e)).network),
                trace(sim_ln_four_neuron_solution(d, float(e), width=max(ds.n, 4)).network),
            )
        )
    cols = [np.array(col) for col in zip(*rows, strict=True)]
    return SimLNEpsilonCurve(d, ds.n, eps, *cols, c)


def train_in_chunks(configs, outs, chunks: int = 4, threads: int = 1):
    """Train several runs (:func:`sharpness.train_many`) in ``chunks`` pieces, yielding the list
    of :class:`~sharpness.training.RunResult` after each piece, for live plots. Each piece
    resumes from the checkpoints in ``outs``, so the result is the same as one uninterrupted run;
    a finished run is reused."""
    from sharpness.training.runs import train_many

    chunks = check_int("chunks", chunks, minimum=1)
    if len(outs) != len(configs):
        raise ValueError(f"need one output directory per run, got {len(outs)} for {len(configs)}")
    longest = max(c.epochs for c in configs)
    step = -(-longest // chunks)
    for _ in range(chunks):
        yield train_many(configs, outs, progress=False, threads=threads, stop_after_epochs=step)


def scale_schedule(config, lr_factor: float = 1.0, rho_factor: float = 1.0):
    """A training configuration with every phase's learning rate and SAM radius rescaled."""
    import dataclasses

    lr_factor = check_positive_float("lr_factor", lr_factor)
    rho_factor = check_positive_float("rho_factor", rho_factor)
    phases = tuple(
        dataclasses.replace(p, lr=p.lr * lr_factor, rho=p.rho * rho_factor) for p in config.phases
    )
    return config.replace(phases=phases)
