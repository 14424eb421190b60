"""Training points where a ReLU pre-activation is (numerically) zero.

The Hessian of L is only guaranteed to exist where every ReLU at every training point is away
from its kink. A pre-activation is *numerically zero* when its computed value is within its
rigorous rounding-error bound of 0 (:mod:`sharpness._rounding`): its sign is then unknown.

Classification of a numerically-zero unit k of layer l at training point x_i. Call a unit *dead*
at x_i when its activation is 0 on a whole neighbourhood of theta: its pre-activation is
certainly negative, or all its inputs are dead (then its pre-activation is identically 0).

* **not a kink** when all inputs of unit k are dead: z_l[k] is identically 0 near theta and
  f does not depend on it.
* **harmless** when no path of *nonzero* weights leads from unit k through non-dead units to the
  output, and either no path at all leads there or x_i is interpolated (within the tolerance
  policy). Then f(x_i) depends on relu(z_l[k]) only through products with perturbations of zero
  weights, which enter L = (1/n) sum (f - y)^2 at third order (or times the residual, which is
  zero): L is twice differentiable at theta and autograd's Hessian is the true one. Eq. (5)'s
  unused zero neurons are of this kind.
* **fatal** otherwise: along some line through theta, f has a kink with a nonzero change of slope,
  L's second derivative jumps, and Tr(Hessian) is undefined. The one-sided traces with
  relu'(0) := 0 (PyTorch's convention) and relu'(0) := 1 bracket what autograd could report.

Smooth activations (softplus) have no kinks.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from constructions._checks import as_tensor
from constructions.tolerance import tolerance_for
from sharpness._rounding import bounded_forward
from sharpness.registry import Operation, ops_for

__all__ = ["Kink", "KinkReport", "NonDifferentiableError", "find_kinks", "find_relu_kinks"]


class NonDifferentiableError(ValueError):
    """Raised instead of silently differentiating through a ReLU kink."""

    def __init__(self, report: KinkReport):
        self.report = report
        super().__init__(f"the Hessian of L does not exist here: {report.summary()}")


@dataclass(frozen=True)
class Kink:
    """A numerically-zero hidden pre-activation at a training point."""

    point: int
    layer: int
    neuron: int
    preactivation: float
    harmless: bool


@dataclass(frozen=True)
class KinkReport:
    kinks: tuple[Kink, ...]

    @property
    def fatal(self) -> tuple[Kink, ...]:
        return tuple(k for k in self.kinks if not k.harmless)

    @property
    def harmless(self) -> tuple[Kink, ...]:
        return tuple(k for k in self.kinks if k.harmless)

    @property
    def twice_differentiable(self) -> bool:
        return not self.fatal

    def summary(self, limit: int = 3) -> str:
        if not self.kinks:
            return "no ReLU pre-activation is numerically zero at a training point"
        parts = []
        if self.fatal:
            ex = ", ".join(
                f"(point {k.point}, layer {k.layer}, neuron {k.neuron}, z={k.preactivation:.1e})"
                for k in self.fatal[:limit]
            )
            more = "" if len(self.fatal) <= limit else ", ..."
            parts.append(
                f"{len(self.fatal)} fatal kink(s) with a nonzero path to the output: {ex}{more}"
            )
        if self.harmless:
            parts.append(
                f"{len(self.harmless)} harmless kink(s) (no path of nonzero weights to the output; "
                "the Hessian exists)"
            )
        return "; ".join(parts)


def find_kinks(net, X, y=None) -> KinkReport:
    """Find and classify every numerically-zero hidden pre-activation at the training points.

    Dispatches to the architecture's own analysis (:func:`sharpness.registry.ops_for`).

    Args:
        net: a :class:`constructions.Network`.
        X: training inputs (n, d).
        y: training labels; without them a kink that is harmless only at interpolation is fatal.
    """
    return ops_for(net).require(Operation.KINKS, net.arch)(net, X, y)


def find_relu_kinks(net, X, y=None) -> KinkReport:
    """The layered-ReLU analysis of the module docstring, for MLPs of any depth (ReLU or smooth).

    Args:
        net: a :class:`constructions.Network` with an :class:`~constructions.MLP`.
        X: training inputs (n, d).
        y: training labels; without them a kink that is harmless only at interpolation is fatal.
    """
    arch = net.arch
    if arch.activation != "relu":
        return KinkReport(())
    X = as_tensor(X, net.dtype)
    params = net.param_dict()
    bf = bounded_forward(arch, params, X)
    tol = tolerance_for(net.dtype)
    n = X.shape[0]
    if y is not None:
        y = as_tensor(y, net.dtype)
        interpolated = (bf.output - y).abs() <= tol.atol + tol.rtol * y.abs()
    else:
        interpolated = torch.zeros(n, dtype=torch.bool)
    # Forward: which units are dead (activation 0 near theta) and which are constant zero.
    dead, const_zero = [], []
    inputs_dead = torch.all(X == 0, dim=1, keepdim=True) & (not arch.bias)
    for z, err in zip(bf.preacts, bf.preact_errors, strict=True):
        const_zero.append(inputs_dead.expand_as(z))
        d_l = (z + err < 0) | inputs_dead
        dead.append(d_l)
        inputs_dead = torch.all(d_l, dim=1, keepdim=True)
    # Backward: is there a path to the output through non-dead units (nonzero weights / any)?
    D = arch.depth
    reach_nz = torch.ones(n, 1, dtype=net.dtype)
    reach_any = torch.ones(n, 1, dtype=net.dtype)
    out_nz, out_any = [None] * (D - 1), [None] * (D - 1)
    for layer in range(D - 1, 0, -1):
        W = params[f"W{layer + 1}"]
        out_nz[layer - 1] = reach_nz @ (W != 0).to(net.dtype)
        out_any[layer - 1] = reach_any @ torch.ones_like(W)
        live = (~dead[layer - 1]).to(net.dtype)
        reach_nz = live * (out_nz[layer - 1] > 0)
        reach_any = live * (out_any[layer - 1] > 0)
    kinks = []
    for layer, (z, err) in enumerate(zip(bf.preacts, bf.preact_errors, strict=True), start=1):
        numerically_zero = (z.abs() <= err) & ~const_zero[layer - 1]
        for i, k in torch.nonzero(numerically_zero, as_tuple=False).tolist():
            if out_nz[layer - 1][i, k] > 0:
                harmless = False
            else:
                harmless = bool(out_any[layer - 1][i, k] == 0) or bool(interpolated[i])
            kinks.append(Kink(i, layer, k, float(z[i, k]), harmless))
    return KinkReport(tuple(kinks))
