"""Argument checks shared by the packages: they raise ValueError naming the parameter and value."""

from __future__ import annotations

import math
import numbers

__all__ = ["check_int", "check_positive_float"]


def check_int(name: str, value, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """Return ``value`` as an int, or raise ValueError that names it."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise ValueError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be an integer <= {maximum}, got {value}")
    return value


def check_positive_float(name: str, value) -> float:
    """Return ``value`` as a finite float > 0, or raise ValueError that names it."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a positive real number, got {value!r}")
    value = float(value)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return value


def as_tensor(a, dtype):
    """A torch tensor of ``dtype`` from a tensor or array-like (numpy arrays are copied, so
    read-only arrays are safe)."""
    import numpy as np
    import torch

    if isinstance(a, torch.Tensor):
        return a.to(dtype)
    return torch.tensor(np.asarray(a), dtype=dtype)
