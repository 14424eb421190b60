"""Definition 4.2 (memorization): at every hidden layer each training point has a one-hot
activation, and no two points share a neuron.

A unit counts as active when its pre-activation is certainly positive and as zero when it is
certainly <= 0 (rigorous rounding-error bounds, :mod:`sharpness._rounding`); anything else is a
violation, so a float64 sign that cannot be trusted never passes.
"""

from __future__ import annotations

import torch

from constructions._checks import as_tensor
from sharpness._rounding import bounded_forward

__all__ = ["memorization_violations"]


def memorization_violations(net, X) -> list[str]:
    """Every violation of Definition 4.2 by ``net`` on the inputs X (empty if it memorizes).

    Raises:
        ValueError: if the hidden units are not ReLUs (one-hot activations need them).
    """
    arch = net.arch
    if arch.activation != "relu":
        raise ValueError(f"memorization (Def. 4.2) needs ReLU units, got {arch.activation!r}")
    X = as_tensor(X, net.dtype)
    bf = bounded_forward(arch, net.param_dict(), X)
    violations = []
    for layer, (z, err) in enumerate(zip(bf.preacts, bf.preact_errors, strict=True), start=1):
        active = z > err
        zero = z + err <= 0
        for i in range(z.shape[0]):
            n_active = int(active[i].sum())
            if n_active != 1 or int(zero[i].sum()) != z.shape[1] - 1:
                violations.append(f"layer {layer}, point {i}: {n_active} active unit(s)")
        owners = torch.argmax(active.to(torch.int8), dim=1)
        one_hot = active.sum(dim=1) == 1
        seen: dict[int, int] = {}
        for i in torch.nonzero(one_hot).flatten().tolist():
            k = int(owners[i])
            if k in seen:
                violations.append(f"layer {layer}: points {seen[k]} and {i} share neuron {k}")
            seen[k] = i
    return violations
