"""The Jacobian lower bound on Tr(nabla^2 L) over all interpolating models (Eqs. (2)-(3), App. A.3.1).

D = 2 (Section 4.1). With x' = (x, 1), W'_1 = [W_1, b_1] and Lemma 4.1, Eq. (2) gives
||grad f(x_i)||^2 = ||W_2 . 1[W'_1 x'_i > 0]||^2 ||x'_i||^2 + ||relu(W'_1 x'_i)||^2, and AM-GM with
Cauchy-Schwarz (Eq. (3)) gives ||grad f(x_i)||^2 >= 2 ||x'_i|| |y_i| when f(x_i) = y_i.

D >= 2 (our derivation, following App. A.3.1). Let a_{i,0} = x'_i, a_{i,l} the hidden
activations, A_{i,l} = diag(1[a_{i,l} > 0]) and v_{i,l} = W_D A_{i,D-1} W_{D-1} ... W_{l+1} A_{i,l}
(the gradient of f with respect to a_{i,l}). The chain rule gives D terms,

.. math::
    \\|\\nabla_\\theta f(x_i)\\|^2 = \\sum_{l=1}^{D-1} \\|v_{i,l}\\|^2 \\|a_{i,l-1}\\|^2 + \\|a_{i,D-1}\\|^2 .

Their product telescopes: prod_l ||a_{i,l-1}||^2 * ||a_{i,D-1}||^2 = ||x'_i||^2 prod_{l=1}^{D-1}
||a_{i,l}||^2, and v_{i,l} a_{i,l} = f(x_i) = y_i for every l, so by Cauchy-Schwarz
||v_{i,l}|| ||a_{i,l}|| >= |y_i|. AM-GM over the D terms then gives

.. math::
    \\|\\nabla_\\theta f(x_i)\\|^2 \\ge D\\, |y_i|^{2(D-1)/D}\\, \\|x'_i\\|^{2/D},
    \\qquad
    \\mathrm{Tr}(\\nabla^2 L) \\ge \\frac{2}{n} \\sum_i D\\, |y_i|^{2(D-1)/D}\\, \\|x'_i\\|^{2/D}.

Equality holds iff all D terms are equal and every v_{i,l} is parallel to a_{i,l}, with the sign
of y_i: the balanced memorizing construction attains it. (Eq. (4) as printed,
W_2 . 1[W'_1 x' > 0] = relu(W'_1 x')/||x'||, omits that sign and so cannot hold when y_i < 0.)

Without a bias the same argument holds with ||x_i|| in place of ||x'_i||; the bound is then valid
but need not be attained.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from constructions._checks import check_int

__all__ = ["JacobianLowerBound", "eq4_residuals", "jacobian_lower_bound"]


@dataclass(frozen=True, eq=False)
class JacobianLowerBound:
    """Per-example bounds on ||grad f(x_i)||^2 and the implied bound on the trace."""

    per_example: np.ndarray
    trace: float
    depth: int
    bias: bool

    @property
    def name(self) -> str:
        return f"Jacobian bound (Eqs. (2)-(3), D={self.depth})"

    @property
    def attainable(self) -> bool:
        """With a first-layer bias a memorizing network attains it on extreme points (Thm 4.1)."""
        return self.bias


def jacobian_lower_bound(X, y, depth: int = 2, *, bias: bool = True) -> JacobianLowerBound:
    """Lower bound on Tr(nabla^2 L) over every interpolating D-layer MLP (any width).

    Computed from the data alone: (2/n) sum_i D |y_i|^{2(D-1)/D} ||x'_i||^{2/D}.
    """
    depth = check_int("depth", depth, minimum=2)
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if X.ndim != 2 or y.shape != (X.shape[0],):
        raise ValueError(f"need X (n, d) and y (n,), got {X.shape} and {y.shape}")
    sq = np.sum(X * X, axis=1) + (1.0 if bias else 0.0)
    per = depth * np.abs(y) ** (2.0 * (depth - 1) / depth) * sq ** (1.0 / depth)
    return JacobianLowerBound(per, float(2.0 / X.shape[0] * np.sum(per)), depth, bias)


def eq4_residuals(net, X, y, *, with_sign: bool = True) -> np.ndarray:
    """Per-point residual of the D = 2 equality condition, Eq. (4).

    Printed: W_2 . 1[W'_1 x'_i > 0] = relu(W'_1 x'_i) / ||x'_i||. Equality in Cauchy-Schwarz
    also needs the common sign of y_i = (W_2 . 1[...])^T relu(...), so the corrected condition is
    W_2 . 1[W'_1 x'_i > 0] = sign(y_i) relu(W'_1 x'_i) / ||x'_i||. Returns the max-abs residual of
    the corrected (``with_sign=True``) or the printed (``with_sign=False``) condition.
    """
    import torch

    from constructions._checks import as_tensor

    if net.arch.depth != 2 or not net.arch.bias:
        raise ValueError("Eq. (4) is the equality condition of 2-MLP-Bias")
    X = as_tensor(X, net.dtype)
    y = np.asarray(y, dtype=np.float64)
    z = net.arch.preactivation_1(net.param_dict(), X)
    lhs = net.params["W2"][0] * (z > 0).to(z.dtype)
    xp = torch.sqrt(torch.sum(X * X, dim=1) + 1.0)
    sign = torch.as_tensor(np.sign(y) if with_sign else np.ones_like(y), dtype=z.dtype)
    rhs = sign[:, None] * torch.relu(z) / xp[:, None]
    return (lhs - rhs).abs().max(dim=1).values.numpy()
