"""Random networks, and the datasets they interpolate by construction.

A random network f interpolates the labels it outputs itself: (x_i, f(x_i)) is a training set on
which f has zero loss. This gives arbitrary interpolating models on which the lower bound of
:func:`sharpness.jacobian_lower_bound` must hold and Lemma 4.1 must apply.
"""

from __future__ import annotations

import numpy as np
import torch

from constructions._checks import check_int
from constructions.architectures import MLP, Network
from constructions.dataset import Dataset

__all__ = ["random_network", "self_labelled"]


def random_network(
    d: int,
    widths,
    *,
    depth: int | None = None,
    bias: bool = True,
    activation: str = "relu",
    seed: int = 0,
) -> Network:
    """Gaussian weights N(0, 1/fan_in) (and N(0, 1) biases), reproducible from ``seed``.

    Args:
        d: input dimension.
        widths: hidden widths (an int repeats for every hidden layer).
        depth: number of layers (default: len(widths) + 1).
    """
    d = check_int("d", d, minimum=1)
    seed = check_int("seed", seed, minimum=0)
    if isinstance(widths, int):
        depth = check_int("depth", 2 if depth is None else depth, minimum=2)
        widths = [widths] * (depth - 1)
    widths = [check_int("width", w, minimum=1) for w in widths]
    depth = len(widths) + 1 if depth is None else check_int("depth", depth, minimum=2)
    if depth != len(widths) + 1:
        raise ValueError(f"depth {depth} needs {depth - 1} hidden widths, got {len(widths)}")
    g = torch.Generator().manual_seed(seed)
    dims = [d] + widths + [1]
    params = {}
    for j in range(1, depth + 1):
        params[f"W{j}"] = torch.randn(
            dims[j], dims[j - 1], generator=g, dtype=torch.float64
        ) / np.sqrt(dims[j - 1])
    if bias:
        params["b1"] = torch.randn(widths[0], generator=g, dtype=torch.float64)
    return Network(MLP(depth=depth, bias=bias, activation=activation), params)


def self_labelled(net: Network, X) -> Dataset:
    """The dataset (x_i, f(x_i)): ``net`` interpolates it exactly (in float64 evaluation)."""
    X = np.asarray(X, dtype=np.float64)
    y = net(torch.tensor(X)).detach().numpy()
    return Dataset(X, y, description=f"self-labelled by a random {net.arch.name}")
