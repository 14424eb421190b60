"""The training loss of Section 2: L(theta) = (1/n) sum_i (f_theta(x_i) - y_i)^2."""

from __future__ import annotations

import torch

from constructions._checks import as_tensor

__all__ = ["mse_loss"]


def mse_loss(net, X, y) -> float:
    X = as_tensor(X, net.dtype)
    y = as_tensor(y, net.dtype)
    return float(torch.mean((net(X) - y) ** 2))
