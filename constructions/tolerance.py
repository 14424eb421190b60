"""The one tolerance policy of the toolkit, by dtype, with rtol and atol always explicit.

A float comparison of a measured value m with an expected value e passes iff

.. math::  |m - e| \\le \\mathrm{atol} + \\mathrm{rtol}\\,|e| .

float64: rtol = 1e-9, atol = 1e-12. The quantities compared (a Hessian trace, a sum of squared
gradient norms, a network output) are sums of at most N ~ 1e6 products in this toolkit's use;
the worst-case relative rounding error of such a sum is about N * 2^-53 ~ 1e-10, so rtol = 1e-9
leaves a 10x margin while still catching any construction whose sharpness is off by more than
one part in a billion. atol = 1e-12 covers expected values that are exactly 0 (a residual, an
MSE), where only absolute rounding of O(1) terms remains.

float32: rtol = 1e-4, atol = 1e-6, by the same argument with 2^-24.

Exact claims (counts, activation patterns, signs) are never compared with a tolerance; symbolic
proofs (``--exact``) use exact equality of simplified expressions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

__all__ = ["Tolerance", "tolerance_for"]


@dataclass(frozen=True)
class Tolerance:
    """|measured - expected| <= atol + rtol * |expected|."""

    rtol: float
    atol: float

    def __post_init__(self) -> None:
        for name in ("rtol", "atol"):
            v = getattr(self, name)
            if not (isinstance(v, int | float) and math.isfinite(v) and v >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {v!r}")

    def allowed(self, expected: float) -> float:
        """The largest allowed |measured - expected|."""
        return self.atol + self.rtol * abs(expected)

    def close(self, measured: float, expected: float) -> bool:
        if not (math.isfinite(measured) and math.isfinite(expected)):
            return False
        return abs(measured - expected) <= self.allowed(expected)

    def describe(self) -> str:
        return f"rtol={self.rtol:g}, atol={self.atol:g}"


_POLICY = {
    torch.float64: Tolerance(rtol=1e-9, atol=1e-12),
    torch.float32: Tolerance(rtol=1e-4, atol=1e-6),
}


def tolerance_for(dtype: torch.dtype = torch.float64) -> Tolerance:
    """The policy's tolerance for a floating dtype."""
    if dtype not in _POLICY:
        raise ValueError(f"no tolerance policy for dtype {dtype}; use float64 or float32")
    return _POLICY[dtype]
