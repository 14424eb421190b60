"""Bring your own model: the toolkit's MLPs and ``torch.nn`` models, both ways.

A toolkit :class:`~constructions.MLP` of depth D (Section 2, with deviation (2) of
:mod:`constructions.architectures`: an optional output bias) is the ``nn.Sequential``

.. math::
    f(x) = \\mathrm{Linear}_D \\circ \\sigma \\circ \\cdots \\circ \\sigma \\circ \\mathrm{Linear}_1 (x),
    \\qquad \\sigma \\in \\{\\mathrm{ReLU}, \\mathrm{Softplus}\\},

with the names mapped as ``W_j <-> {2(j-1)}.weight``, ``b1 <-> 0.bias`` and
``b_D <-> {2(D-1)}.bias``. Three forms convert:

* the module: :func:`from_torch` (an ``nn.Sequential``) and :func:`to_torch`;
* the state_dict: :func:`from_state_dict` (also via :func:`from_torch`) and :func:`to_state_dict`;
  keys may carry one common prefix (``net.0.weight``), and the Linear layers may sit at any
  increasing indices (a parameter-free module such as Dropout between them leaves a gap; two
  adjacent indices mean two Linear layers with no activation between them and are refused);
* the functional form: :func:`torch_names` maps the toolkit's parameter names to state_dict keys,
  and :func:`toolkit_params` renames a state_dict without copying or detaching, so that
  ``net.arch.forward(toolkit_params(sd), X)`` equals
  ``torch.func.functional_call(to_torch(net), sd, (X,))[:, 0]`` and is differentiable in ``sd``.

What does not map is refused with a ValueError naming the layer or key and what to change:
modules other than Linear, ReLU and Softplus; biases in hidden layers 2..D-1 (the paper's
MLP-Bias has a bias in layer 1 only; dropping one would change f and the trace, even a zero one,
whose Hessian entry is not zero); more than one output; mixed activations.

Deviation (3), Softplus: the toolkit's softplus is log(1 + e^z) exactly (``logaddexp``), while
``nn.Softplus(beta, threshold)`` returns z itself where beta z > threshold. ``beta`` must be 1. The
threshold is accepted when it is >= 20 (torch's default): the switch then moves f by at most
log(1 + e^-20) < 2.1e-9 per unit above it, and its first and second derivatives by less than
e^-20. :func:`to_torch` writes ``threshold=40``, where the switch is invisible in float64
(e^-40 is below half an ulp of 40, and exp(40) is finite in float32).
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from constructions.architectures import MLP, Network, SimBN, SimLN, architecture

__all__ = [
    "SequentialLayout",
    "from_state_dict",
    "from_torch",
    "sequential_layout",
    "to_state_dict",
    "to_torch",
    "toolkit_params",
    "torch_names",
]

#: The smallest nn.Softplus threshold accepted (torch's default), and the one to_torch writes.
MIN_SOFTPLUS_THRESHOLD = 20.0
EXPORT_SOFTPLUS_THRESHOLD = 40.0

_KEY = re.compile(r"^(?P<prefix>(?:.*\.)?)(?P<index>\d+)\.(?P<kind>weight|bias)$")
_HINT = "rename the Linear layers' keys to 0.weight, 0.bias, 2.weight, ... in the order they apply"


@dataclass(frozen=True)
class SequentialLayout:
    """How the keys of an ``nn.Sequential`` state_dict map onto the toolkit's names.

    Attributes:
        prefix: the common prefix of the keys ("" or e.g. "net.").
        rename: state_dict key -> toolkit name (W1, b1, W2, ..., WD, bD).
        depth: number of Linear layers D.
        bias: whether the first Linear has a bias (b1).
        output_bias: whether the last Linear has a bias (bD).
    """

    prefix: str
    rename: Mapping[str, str]
    depth: int
    bias: bool
    output_bias: bool

    def architecture(self, activation: str = "relu") -> MLP:
        return MLP(self.depth, self.bias, activation, output_bias=self.output_bias)


def _shape(v) -> tuple[int, ...]:
    return tuple(int(s) for s in getattr(v, "shape", np.shape(v)))


def sequential_layout(shapes: Mapping[str, object]) -> SequentialLayout:
    """Map the keys of a state_dict (key -> array or shape) onto the toolkit's names.

    Raises:
        ValueError: naming the key that does not map (not ``<prefix><i>.weight|bias``, two
            prefixes, a hidden-layer bias, adjacent Linear layers, a shape that does not chain, an
            output wider than 1) and what to change.
    """
    shapes = {k: v if isinstance(v, tuple) else _shape(v) for k, v in shapes.items()}
    if not shapes:
        raise ValueError("the state_dict is empty: it holds no Linear weights")
    layers: dict[int, dict[str, str]] = {}
    prefixes = set()
    for key in shapes:
        m = _KEY.match(str(key))
        if m is None:
            raise ValueError(
                f"key {key!r} does not look like an nn.Sequential state_dict of Linear layers: "
                f"{_HINT}"
            )
        prefixes.add(m["prefix"])
        layers.setdefault(int(m["index"]), {})[m["kind"]] = key
    if len(prefixes) > 1:
        raise ValueError(
            f"the keys have different prefixes {sorted(prefixes)}: save one nn.Sequential's "
            "state_dict (its keys share one prefix)"
        )
    indices = sorted(layers)
    for i in indices:
        if "weight" not in layers[i]:
            raise ValueError(f"key {layers[i]['bias']!r} has no matching weight {i}.weight")
    for a, b in zip(indices, indices[1:], strict=False):
        if b == a + 1:
            raise ValueError(
                f"keys {layers[a]['weight']!r} and {layers[b]['weight']!r} are adjacent Linear "
                "layers with no activation between them: put a ReLU or Softplus between them"
            )
    depth = len(indices)
    if depth < 2:
        raise ValueError(
            f"only one Linear layer ({layers[indices[0]]['weight']!r}): the toolkit's networks "
            "have at least one hidden layer (Linear, ReLU, Linear)"
        )
    rename: dict[str, str] = {}
    width = None
    for j, i in enumerate(indices, start=1):
        wkey = layers[i]["weight"]
        s = shapes[wkey]
        if len(s) != 2:
            raise ValueError(f"key {wkey!r} must be a matrix (out, in), got shape {s}")
        if width is not None and s[1] != width:
            raise ValueError(
                f"key {wkey!r} has {s[1]} inputs but the layer before gives {width} outputs"
            )
        width = s[0]
        rename[wkey] = f"W{j}"
        bkey = layers[i].get("bias")
        if bkey is not None:
            if 1 < j < depth:
                raise ValueError(
                    f"key {bkey!r} is the bias of Linear layer {j} of {depth}, a hidden layer: the toolkit's "
                    "MLP has a bias in the first layer (and optionally the output) only; use "
                    "nn.Linear(..., bias=False) for the layers between"
                )
            if shapes[bkey] != (s[0],):
                raise ValueError(f"key {bkey!r} must have shape ({s[0]},), got {shapes[bkey]}")
            rename[bkey] = f"b{j}"
    if width != 1:
        last = layers[indices[-1]]["weight"]
        raise ValueError(
            f"key {last!r} has {width} outputs: the toolkit's networks have one output "
            "(make the last layer nn.Linear(m, 1))"
        )
    return SequentialLayout(
        prefix=prefixes.pop(),
        rename=rename,
        depth=depth,
        bias="b1" in rename.values(),
        output_bias=f"b{depth}" in rename.values(),
    )


def _as_arch(arch):
    if arch is None or isinstance(arch, MLP | SimLN | SimBN):
        return arch
    if isinstance(arch, str):
        return arch
    raise ValueError(f"arch must be an architecture or a key such as 'bias', got {arch!r}")


def from_state_dict(state_dict: Mapping[str, object], *, arch=None, dtype=torch.float64) -> Network:
    """A :class:`~constructions.Network` from an ``nn.Sequential`` state_dict.

    Args:
        state_dict: key -> tensor (or array), keys like ``0.weight``, ``0.bias``, ``2.weight`` and
            optionally ``2.bias`` (the output bias), possibly under one common prefix.
        arch: the architecture (an instance, or a key of :func:`~constructions.architecture`; the
            depth comes from the keys). Default: inferred, an :class:`MLP` with the biases the
            keys hold and ReLU (a state_dict cannot tell ReLU from Softplus).
        dtype: of the network's parameters (float64 by default).

    Raises:
        ValueError: for a key that does not map (see :func:`sequential_layout`), a non-numeric
            tensor or one with NaN or inf, or parameters that ``arch`` does not take.
    """
    if not isinstance(state_dict, Mapping):
        raise ValueError(
            f"a state_dict must be a mapping of tensors, got {type(state_dict).__name__}"
        )
    layout = sequential_layout(state_dict)
    params = {}
    for key, name in layout.rename.items():
        v = state_dict[key]
        if isinstance(v, torch.Tensor):
            if v.is_complex() or not (v.is_floating_point() or _is_integer(v)):
                raise ValueError(f"key {key!r} must hold real numbers, got dtype {v.dtype}")
            t = v.detach().to(device="cpu", dtype=dtype)
        else:
            a = np.asarray(v)
            if not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)):
                raise ValueError(f"key {key!r} must hold real numbers, got dtype {a.dtype}")
            t = torch.tensor(a, dtype=dtype)
        if not bool(torch.all(torch.isfinite(t))):
            raise ValueError(f"key {key!r} contains NaN or inf")
        params[name] = t
    arch = _as_arch(arch)
    if arch is None:
        arch = layout.architecture()
    elif isinstance(arch, str):
        arch = architecture(arch, layout.depth)
    try:
        return Network(arch, params, dtype)
    except ValueError as exc:
        names = ", ".join(f"{k} -> {v}" for k, v in layout.rename.items())
        raise ValueError(f"{exc} (keys mapped as {names})") from None


def _is_integer(t: torch.Tensor) -> bool:
    return not t.is_floating_point() and not t.is_complex() and t.dtype != torch.bool


def _activation_of(i: int, layer: nn.Module) -> str:
    if isinstance(layer, nn.ReLU):
        return "relu"
    beta, threshold = float(layer.beta), float(layer.threshold)
    if beta != 1.0:
        raise ValueError(
            f"layer {i} is Softplus(beta={beta:g}): only beta=1 maps (the toolkit's softplus is "
            "log(1 + e^z)); use nn.Softplus()"
        )
    if not threshold >= MIN_SOFTPLUS_THRESHOLD:
        raise ValueError(
            f"layer {i} is Softplus(threshold={threshold:g}), which returns z above it, a change "
            f"of up to log(1 + e^-{threshold:g}) from log(1 + e^z); use threshold >= 20 (the default)"
        )
    return "softplus"


def from_torch(model, *, arch=None, dtype=torch.float64) -> Network:
    """A :class:`~constructions.Network` computing the same function as ``model``.

    Args:
        model: an ``nn.Sequential`` of Linear, ReLU and Softplus layers
            (Linear, act, Linear, ..., act, Linear(m, 1)), or a state_dict
            (see :func:`from_state_dict`).
        arch: for a module, the architecture it must be (a mismatch is an error); for a
            state_dict, the architecture to read it as.
        dtype: of the network's parameters (float64 by default).

    Raises:
        ValueError: naming the layer (its index in the Sequential) or key that does not map, and
            what to change.
    """
    if isinstance(model, Mapping):
        return from_state_dict(model, arch=arch, dtype=dtype)
    if not isinstance(model, nn.Module):
        raise ValueError(
            f"from_torch needs an nn.Sequential or a state_dict, got {type(model).__name__}"
        )
    if not isinstance(model, nn.Sequential):
        raise ValueError(
            f"{type(model).__name__} is not an nn.Sequential: rebuild it as nn.Sequential(Linear, "
            "ReLU, ..., Linear) or pass a state_dict with keys 0.weight, 0.bias, 2.weight, ..."
        )
    layers = list(model)
    activations = set()
    for i, layer in enumerate(layers):
        kind = type(layer).__name__
        if not isinstance(layer, nn.Linear | nn.ReLU | nn.Softplus):
            raise ValueError(f"layer {i} is {kind}: only Linear, ReLU and Softplus map; remove it")
        want_linear = i % 2 == 0
        if want_linear != isinstance(layer, nn.Linear):
            what = "a Linear layer" if want_linear else "an activation (ReLU or Softplus)"
            raise ValueError(
                f"layer {i} is {kind} but {what} must come here: the layers must alternate "
                "Linear, activation, Linear, ..., Linear"
            )
        if not want_linear:
            activations.add((_activation_of(i, layer), kind))
    if not layers or not isinstance(layers[-1], nn.Linear):
        what = f"ends with {type(layers[-1]).__name__}" if layers else "is empty"
        raise ValueError(f"the Sequential {what}: the output must be a Linear layer")
    if len({a for a, _ in activations}) > 1:
        raise ValueError(
            f"the Sequential mixes activations {sorted(k for _, k in activations)}: the toolkit's "
            "MLP uses one activation throughout"
        )
    activation = activations.pop()[0] if activations else "relu"
    if len(layers) < 3:
        raise ValueError(
            "the Sequential is a single Linear layer: the toolkit's networks have at least one "
            "hidden layer (Linear, ReLU, Linear)"
        )
    sd = model.state_dict()
    layout = sequential_layout(sd)  # hidden biases, widths, one output: named by key
    inferred = layout.architecture(activation)
    if arch is not None:
        arch = _as_arch(arch)
        wanted = architecture(arch, layout.depth) if isinstance(arch, str) else arch
        if wanted != inferred:
            raise ValueError(
                f"the model is a {inferred.name} (key {inferred.key!r}), not a "
                f"{getattr(wanted, 'name', wanted)}: leave arch out, or change the model"
            )
    return from_state_dict(sd, arch=inferred, dtype=dtype)


def _mlp_of(net: Network) -> MLP:
    if not isinstance(net.arch, MLP):
        raise ValueError(
            f"{net.arch.name} has no nn.Sequential form: only the MLP architectures "
            "(Linear, ReLU or Softplus, ..., Linear) convert"
        )
    return net.arch


def torch_names(arch: MLP, *, prefix: str = "") -> dict[str, str]:
    """Toolkit parameter name -> ``nn.Sequential`` state_dict key, e.g. ``{"W1": "0.weight"}``."""
    if not isinstance(arch, MLP):
        raise ValueError(f"{getattr(arch, 'name', arch)!r} has no nn.Sequential form")
    out = {}
    for name in arch.param_names:
        j = int(name[1:])
        out[name] = f"{prefix}{2 * (j - 1)}.{'weight' if name[0] == 'W' else 'bias'}"
    return out


def toolkit_params(state_dict: Mapping[str, torch.Tensor], arch: MLP | None = None) -> dict:
    """The state_dict's tensors under the toolkit's names (the same tensor objects: no copy,
    no detach, so gradients flow). ``arch``, if given, must take exactly these names."""
    layout = sequential_layout(state_dict)
    params = {name: state_dict[key] for key, name in layout.rename.items()}
    if arch is not None and set(params) != set(arch.param_names):
        raise ValueError(
            f"the state_dict maps to {sorted(params)}, but {arch.name} takes "
            f"{sorted(arch.param_names)}"
        )
    return params


def to_state_dict(net: Network, *, dtype=torch.float64) -> OrderedDict[str, torch.Tensor]:
    """The state_dict of :func:`to_torch` (``net``): keys 0.weight, 0.bias, 2.weight, ..."""
    arch = _mlp_of(net)
    names = torch_names(arch)
    ordered = sorted(arch.param_names, key=lambda k: (int(k[1:]), k[0] != "W"))
    return OrderedDict((names[k], net.params[k].detach().to(dtype).clone()) for k in ordered)


def to_torch(net: Network, *, dtype=torch.float64) -> nn.Sequential:
    """An ``nn.Sequential`` computing ``net`` (output shape (n, 1)), parameters in ``dtype``.

    Softplus layers are written as ``nn.Softplus(beta=1, threshold=40)`` (see the module
    docstring, deviation (3)).

    Raises:
        ValueError: for Sim-LN and Sim-BN, which are not Sequential models.
    """
    arch = _mlp_of(net)
    if not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise ValueError(f"dtype must be a floating torch dtype, got {dtype!r}")
    dims = [net.d, *net.widths, 1]
    layers: list[nn.Module] = []
    for j in range(1, arch.depth + 1):
        has_bias = (j == 1 and arch.bias) or (j == arch.depth and arch.output_bias)
        layers.append(nn.Linear(dims[j - 1], dims[j], bias=has_bias, dtype=dtype))
        if j < arch.depth:
            layers.append(
                nn.ReLU()
                if arch.activation == "relu"
                else nn.Softplus(beta=1.0, threshold=EXPORT_SOFTPLUS_THRESHOLD)
            )
    model = nn.Sequential(*layers)
    model.load_state_dict(to_state_dict(net, dtype=dtype))
    return model
