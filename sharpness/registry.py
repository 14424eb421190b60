"""The architecture protocol and its one registry.

Each architecture of the toolkit is one module in :mod:`sharpness.architectures` that declares,
in one :class:`ArchitectureOps`, everything the rest of the toolkit needs to know about it:

* the forward pass: ``arch_type``, the class of :mod:`constructions.architectures` (or any class
  with the same methods) whose instances it accepts;
* per-example gradients (``gradient_sq_norms``, the right-hand side of Lemma 4.1);
* the exact Hessian diagonal (``hessian_diagonal``): a closed form where one exists, else the
  autograd path;
* kink detection (``find_kinks``) and, at a kink, the one-sided traces;
* the lower bound(s) over interpolators that apply to it (``lower_bounds``);
* how the hypercube error is decided (``cube_family`` and, where needed, ``cube_twin``: a network
  of a supported family that computes the same function on {-1,1}^d);
* memorization (Definition 4.2) through ``hidden_twin``, where it is defined;
* what it cannot do: ``limits`` maps an operation to the reason, and asking for it raises
  :class:`UnsupportedOperationError` with that reason.

It is registered once (:func:`register`, at the bottom of its module). No code outside this
registry branches on an architecture's type or name: everything asks :func:`ops_for`.

This module is the bottom of the sharpness layers (it imports nothing of the toolkit), so every
layer may look architectures up; the first lookup imports :mod:`sharpness.architectures`, whose
modules register the built-in ones.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

__all__ = [
    "ArchitectureOps",
    "CubeFamily",
    "TrainingHead",
    "Operation",
    "UnsupportedOperationError",
    "ops_for",
    "register",
    "registered",
]


class Operation(enum.StrEnum):
    """The operations of the protocol (the keys of :attr:`ArchitectureOps.limits`)."""

    HESSIAN_DIAGONAL = "the exact Hessian diagonal"
    KINKS = "kink detection"
    ONE_SIDED = "one-sided traces at a kink"
    GRADIENTS = "per-example gradients"
    LOWER_BOUND = "a lower bound over interpolators"
    HYPERCUBE = "the exact hypercube error"
    MEMORIZATION = "memorization (Def. 4.2)"
    TRAINING = "training"


class CubeFamily(enum.StrEnum):
    """How the exact hypercube enumeration evaluates a family (:mod:`sharpness.hypercube`)."""

    RELU_TWO_LAYER = "relu2"  #: f = w . relu(W1 x + b1): table kernel, sub-cube pruning
    SIM_LN = "simln"  #: f = w . h / max{||h||, eps}: the sign of the ReLU part, eps for values
    SIM_BN = "simbn"  #: f = (gamma W2 / a) . relu(W1 x + b1), a from the training inputs
    MLP = "mlp"  #: any depth, ReLU or softplus: generic enumeration with rounding bounds


class TrainingHead(enum.StrEnum):
    """The closed-form per-example gradient a training engine uses (:mod:`sharpness.training`)."""

    LINEAR = "linear"  #: f = W2 . sigma(W1 x + b1): 2-layer MLP (rank-one per-example gradient)
    SIM_LN = "sim_ln"  #: f = W2 . h / max{||h||, eps}
    SIM_BN = "sim_bn"  #: f = (gamma W2 / a) . relu(W1 x + b1), a over the whole training set


class UnsupportedOperationError(NotImplementedError, ValueError):
    """An operation that an architecture declares it cannot do, with the reason."""


@dataclass(frozen=True)
class ArchitectureOps:
    """What the toolkit computes for one architecture (see the module docstring).

    Attributes:
        key: registry key, e.g. ``"mlp"``.
        arch_type: the forward-pass class whose instances this entry serves.
        accepts: optional refinement of ``isinstance(arch, arch_type)`` (e.g. only MLPs with an
            output bias); the first registered entry that accepts an architecture serves it.
        hessian_diagonal: ``(net, X, y, *, check_kinks) -> dict`` of exact diagonals.
        find_kinks: ``(net, X, y) -> KinkReport``.
        gradient_sq_norms: ``(net, X) -> tensor (n,)`` of ||grad_theta f(x_i)||^2.
        one_sided_traces: ``(net, X) -> (t0, t1)`` with relu'(0) := 0 and := 1, or None.
        lower_bounds: ``(X, y, arch) -> tuple`` of bounds, each with ``name``, ``trace`` and
            ``attained`` (whether interpolators reach it, so equality certifies flattest).
        cube_family: ``arch -> CubeFamily``, the hypercube family of the network (of its
            ``cube_twin`` where it has one).
        cube_twin: ``net -> Network`` computing the same function on {-1,1}^d in a family the
            enumeration knows (None: the network itself).
        hidden_twin: ``net -> Network``, an MLP with the same hidden ReLU layers, for
            Definition 4.2 (None where memorization is not defined).
        sign_twin: ``net -> Network`` with sign f_twin = sign f everywhere (None: itself).
        training_head: ``arch -> TrainingHead | None``, the closed-form gradient the training
            engines use (None: the autograd engine).
        f_diagonal_vanishes: ``arch -> bool``, whether the diagonal of the Hessian of f is zero
            wherever it exists (ReLU MLPs: f is piecewise linear in each single parameter), so
            Tr(nabla^2 L) = (2/n) sum ||grad f||^2 on and off interpolation.
        limits: operation -> why it is not available.
    """

    key: str
    arch_type: type
    hessian_diagonal: Callable | None = None
    find_kinks: Callable | None = None
    gradient_sq_norms: Callable | None = None
    one_sided_traces: Callable | None = None
    lower_bounds: Callable | None = None
    cube_family: Callable | None = None
    cube_twin: Callable | None = None
    hidden_twin: Callable | None = None
    sign_twin: Callable | None = None
    training_head: Callable | None = None
    f_diagonal_vanishes: Callable | None = None
    accepts: Callable | None = None
    limits: Mapping[Operation, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.key, str) or not self.key:
            raise ValueError(f"key must be a non-empty string, got {self.key!r}")
        if not isinstance(self.arch_type, type):
            raise ValueError(f"arch_type must be a class, got {self.arch_type!r}")
        object.__setattr__(self, "limits", MappingProxyType(dict(self.limits)))

    def serves(self, arch) -> bool:
        return isinstance(arch, self.arch_type) and (self.accepts is None or self.accepts(arch))

    def require(self, operation: Operation, arch=None):
        """The callable for ``operation`` or :class:`UnsupportedOperationError` with the reason."""
        attr = {
            Operation.HESSIAN_DIAGONAL: "hessian_diagonal",
            Operation.KINKS: "find_kinks",
            Operation.ONE_SIDED: "one_sided_traces",
            Operation.GRADIENTS: "gradient_sq_norms",
            Operation.LOWER_BOUND: "lower_bounds",
            Operation.MEMORIZATION: "hidden_twin",
        }.get(operation)
        fn = getattr(self, attr) if attr else None
        if fn is None or operation in self.limits:
            name = getattr(arch, "name", self.key)
            why = self.limits.get(operation, "not implemented")
            raise UnsupportedOperationError(f"{operation.value} for {name}: {why}")
        return fn


_REGISTRY: dict[str, ArchitectureOps] = {}
_BUILTINS_LOADED = False


def _load_builtins() -> None:
    """Import :mod:`sharpness.architectures` once, whose modules register themselves.

    Loaded on the first lookup (a plugin load, not a dependency of this module: the registry
    stays the bottom layer, and ``import sharpness`` stays free of torch until it is needed).
    """
    global _BUILTINS_LOADED
    if not _BUILTINS_LOADED:
        _BUILTINS_LOADED = True
        import importlib

        importlib.import_module("sharpness.architectures")


def register(ops: ArchitectureOps) -> ArchitectureOps:
    """Register an architecture once; a second entry under the same key is an error."""
    if not isinstance(ops, ArchitectureOps):
        raise ValueError(f"register needs an ArchitectureOps, got {type(ops).__name__}")
    if ops.key in _REGISTRY:
        raise ValueError(f"architecture {ops.key!r} is registered twice")
    _REGISTRY[ops.key] = ops
    return ops


def registered() -> tuple[ArchitectureOps, ...]:
    """Every registered architecture, in registration order."""
    _load_builtins()
    return tuple(_REGISTRY.values())


def ops_for(arch) -> ArchitectureOps:
    """The operations of ``arch`` (an architecture object, or a network with ``.arch``).

    Raises:
        UnsupportedOperationError: if no registered architecture serves it, naming what is known.
    """
    _load_builtins()
    arch = getattr(arch, "arch", arch)
    for ops in _REGISTRY.values():
        if ops.serves(arch):
            return ops
    known = ", ".join(o.arch_type.__name__ for o in _REGISTRY.values()) or "none"
    raise UnsupportedOperationError(
        f"no registered architecture serves {type(arch).__name__} "
        f"(registered: {known}); add a module to sharpness.architectures and register it"
    )
