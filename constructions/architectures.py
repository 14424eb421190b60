"""The network architectures of Section 2, as pure functions of named parameters.

.. math::
    f^{\\text{nobias}}_\\theta(x) &= W_2\\,\\mathrm{relu}(W_1 x)                        &&\\text{(2-MLP-No-Bias)}\\\\
    f^{\\text{bias}}_\\theta(x)   &= W_2\\,\\mathrm{relu}(W_1 x + b_1)                  &&\\text{(2-MLP-Bias)}\\\\
    f^{\\text{bias},D}_\\theta(x) &= W_D\\,\\mathrm{relu}(\\cdots W_2\\,\\mathrm{relu}(W_1 x + b_1))
                                                                                    &&\\text{(MLP-Bias, bias in layer 1 only)}

Parameters are a mapping ``{"W1": (m1, d), "b1": (m1,), "W2": (m2, m1), ..., "WD": (1, m_{D-1})}``
of float64 tensors by default; an MLP with ``output_bias=True`` adds ``"bD": (1,)``. Every function
here is built from plain torch ops on that mapping, so ``torch.func.grad``, ``jvp``, ``vmap`` and
``hessian`` apply directly.

Deviation (1): the activation is selectable. ``"softplus"`` (log(1 + e^z), computed as
``logaddexp(z, 0)`` so that it has no threshold switch) is the variant of Figure 5.

Deviation (2): an optional output bias, f = W_D sigma(...) + b_D (the default of ``torch.nn.Linear``),
so that networks trained elsewhere map exactly; the paper's architectures have none (``output_bias``
is False by default). Hidden-layer biases b_2, ..., b_{D-1} stay unsupported.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch

from constructions._checks import as_tensor

__all__ = ["ACTIVATIONS", "MLP", "Network", "SimBN", "SimLN", "architecture"]


def _softplus(z: torch.Tensor) -> torch.Tensor:
    return torch.logaddexp(z, torch.zeros_like(z))


ACTIVATIONS = {"relu": torch.relu, "softplus": _softplus}


@dataclass(frozen=True)
class MLP:
    """A D-layer perceptron with an optional bias in the first layer (and optionally the output).

    Args:
        depth: number of weight layers D >= 2.
        bias: whether the first layer has a bias b1.
        activation: "relu" (the paper's default) or "softplus" (Figure 5).
        output_bias: whether the output has a bias b_D of shape (1,): f = W_D sigma(...) + b_D
            (deviation (2) of the module docstring; not in the paper).
    """

    depth: int = 2
    bias: bool = True
    activation: str = "relu"
    output_bias: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.depth, bool) or not isinstance(self.depth, int) or self.depth < 2:
            raise ValueError(f"depth must be an integer >= 2, got {self.depth!r}")
        if not isinstance(self.output_bias, bool):
            raise ValueError(f"output_bias must be True or False, got {self.output_bias!r}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(
                f"activation must be one of {sorted(ACTIVATIONS)}, got {self.activation!r}"
            )

    @property
    def name(self) -> str:
        """The paper's name for the architecture, e.g. "2-MLP-Bias"."""
        out = " + output bias" if self.output_bias else ""
        if self.depth == 2 and self.activation == "relu":
            return ("2-MLP-Bias" if self.bias else "2-MLP-No-Bias") + out
        base = f"{self.depth}-layer MLP-{'Bias' if self.bias else 'No-Bias'}{out}"
        return base if self.activation == "relu" else f"{base} ({self.activation})"

    @property
    def key(self) -> str:
        """Short key used by the command line and saved reports, e.g. "bias-out-softplus"."""
        return (
            ("bias" if self.bias else "nobias")
            + ("-out" if self.output_bias else "")
            + ("" if self.activation == "relu" else "-softplus")
        )

    @property
    def param_names(self) -> tuple[str, ...]:
        names = ["W1"] + (["b1"] if self.bias else [])
        names += [f"W{j}" for j in range(2, self.depth + 1)]
        return tuple(names + ([self.output_bias_name] if self.output_bias else []))

    @property
    def output_bias_name(self) -> str:
        """The name of the output bias b_D, e.g. "b2" (whether or not this MLP has one)."""
        return f"b{self.depth}"

    @property
    def sigma(self):
        return ACTIVATIONS[self.activation]

    def check_params(self, params: Mapping[str, torch.Tensor]) -> tuple[int, tuple[int, ...]]:
        """Validate names and shapes; return ``(d, hidden widths)``.

        Raises:
            ValueError: for a missing or unexpected array, a shape mismatch or a non-finite value.
        """
        expected = set(self.param_names)
        got = set(params)
        if got != expected:
            missing = sorted(expected - got, key=_layer_order)
            extra = sorted(got - expected, key=_layer_order)
            parts = []
            if missing:
                parts.append(f"missing {', '.join(missing)}")
            if extra:
                parts.append(f"unexpected {', '.join(extra)}")
            raise ValueError(f"parameters for {self.name}: " + "; ".join(parts))
        shapes = {k: tuple(params[k].shape) for k in self.param_names}
        if len(shapes["W1"]) != 2:
            raise ValueError(f"W1 must be a matrix (m1, d), got shape {shapes['W1']}")
        widths = [shapes["W1"][0]]
        d = shapes["W1"][1]
        if self.bias and shapes["b1"] != (widths[0],):
            raise ValueError(f"b1 must have shape ({widths[0]},), got {shapes['b1']}")
        for j in range(2, self.depth + 1):
            s = shapes[f"W{j}"]
            rows = 1 if j == self.depth else None
            if len(s) != 2 or s[1] != widths[-1] or (rows is not None and s[0] != rows):
                want = f"({'1' if rows else 'm'}, {widths[-1]})"
                raise ValueError(f"W{j} must have shape {want}, got {s}")
            if j < self.depth:
                widths.append(s[0])
        if self.output_bias and shapes[self.output_bias_name] != (1,):
            raise ValueError(
                f"{self.output_bias_name} (the output bias) must have shape (1,), "
                f"got {shapes[self.output_bias_name]}"
            )
        for k in self.param_names:
            if not torch.all(torch.isfinite(params[k])):
                raise ValueError(f"{k} contains NaN or inf")
        return d, tuple(widths)

    # --- forward passes -------------------------------------------------------------------
    def preactivation_1(self, params, X: torch.Tensor) -> torch.Tensor:
        z = X @ params["W1"].T
        return z + params["b1"] if self.bias else z

    def layer_inputs(self, params, X: torch.Tensor) -> list[torch.Tensor]:
        """[a_0, a_1, ..., a_{D-1}]: a_0 = x, a_l = sigma(z_l) the input of layer l + 1."""
        acts = [X]
        z = self.preactivation_1(params, X)
        for j in range(2, self.depth + 1):
            a = self.sigma(z)
            acts.append(a)
            z = a @ params[f"W{j}"].T
        return acts

    def preactivations(self, params, X: torch.Tensor) -> list[torch.Tensor]:
        """[z_1, ..., z_{D-1}], the hidden pre-activations, each of shape (n, m_l)."""
        zs = [self.preactivation_1(params, X)]
        for j in range(2, self.depth):
            zs.append(self.sigma(zs[-1]) @ params[f"W{j}"].T)
        return zs

    def head(self, layer: int, params, z: torch.Tensor) -> torch.Tensor:
        """The output f as a function of the hidden pre-activation z_layer (1 <= layer < D)."""
        for j in range(layer + 1, self.depth + 1):
            z = self.sigma(z) @ params[f"W{j}"].T
        if self.output_bias:
            z = z + params[self.output_bias_name]
        return z[..., 0]

    #: Examples do not interact: the loss Hessian w.r.t. pre-activations is block-diagonal.
    couples_examples = False

    def head_separable(self, layer: int) -> bool:
        """Whether f is a sum of functions of single units of z_layer (true for the last hidden layer)."""
        return layer == self.depth - 1

    def forward(self, params, X: torch.Tensor, reference=None) -> torch.Tensor:
        """f_theta(X), shape (n,). ``reference`` is ignored (no batch statistics)."""
        return self.head(1, params, self.preactivation_1(params, X))

    __call__ = forward


@dataclass(frozen=True)
class SimLN:
    """2-MLP-Sim-LN (Section 2): f(x) = W2 h / max{||h||_2, eps}, h = relu(W1 x + b1).

    eps is a hyperparameter of the architecture, not a parameter. Examples do not interact.
    """

    eps: float = 1e-3

    depth = 2
    bias = True
    activation = "relu"
    couples_examples = False
    param_names = ("W1", "b1", "W2")

    def __post_init__(self) -> None:
        import math

        if not (isinstance(self.eps, int | float) and math.isfinite(self.eps) and self.eps > 0):
            raise ValueError(f"eps must be a finite number > 0, got {self.eps!r}")

    @property
    def name(self) -> str:
        return "2-MLP-Sim-LN"

    @property
    def key(self) -> str:
        return "simln"

    @property
    def sigma(self):
        return torch.relu

    def check_params(self, params):
        return MLP(2, True).check_params(params)

    def head_separable(self, layer: int) -> bool:
        return False

    def normalize(self, h: torch.Tensor) -> torch.Tensor:
        """h / max{||h||, eps}, row by row."""
        norm = torch.linalg.vector_norm(h, dim=-1, keepdim=True)
        return h / torch.clamp(norm, min=self.eps)

    def preactivation_1(self, params, X):
        return X @ params["W1"].T + params["b1"]

    def preactivations(self, params, X):
        return [self.preactivation_1(params, X)]

    def layer_inputs(self, params, X):
        """[x, s] with s = h / max{||h||, eps} the input of the output layer."""
        return [X, self.normalize(torch.relu(self.preactivation_1(params, X)))]

    def head(self, layer: int, params, z):
        if layer != 1:
            raise ValueError("2-MLP-Sim-LN has one hidden layer")
        return (self.normalize(torch.relu(z)) @ params["W2"].T)[..., 0]

    def forward(self, params, X, reference=None):
        return self.head(1, params, self.preactivation_1(params, X))

    __call__ = forward


@dataclass(frozen=True)
class SimBN:
    """2-MLP-Sim-BN (Section 2): simplified BatchNorm without mean subtraction or bias.

    .. math::
        f(x) = \\sum_j W_2[j]\\, \\gamma[j]\\, h(x)[j] / a[j], \\qquad
        a[j] = \\Big(\\tfrac1n \\sum_{i=1}^n h(x_i)[j]^2\\Big)^{1/2}, \\qquad h = \\mathrm{relu}(W_1 x + b_1).

    gamma is a vector in R^m (one scale per neuron): Section 2 prints the scalar-looking
    "gamma x[j]", but the proofs use gamma . W2 and gamma[2i+j+1] (Lemmas A.1-A.3), which need a
    per-neuron gamma. The statistics a[j] are over the n training points (the ``reference``
    batch); a test point is normalized with the training statistics. Deviation (1): a neuron that
    is zero on every training point (a[j] = 0) contributes 0, the limit of its contribution as
    it is switched off. Examples interact through a, so the loss Hessian is not block-diagonal
    across examples.
    """

    bias: bool = True

    depth = 2
    activation = "relu"
    couples_examples = True

    @property
    def param_names(self) -> tuple[str, ...]:
        return ("W1", "b1", "gamma", "W2") if self.bias else ("W1", "gamma", "W2")

    @property
    def name(self) -> str:
        return "2-MLP-Sim-BN" if self.bias else "2-MLP-Sim-BN (no bias)"

    @property
    def key(self) -> str:
        return "simbn" if self.bias else "simbn-nobias"

    @property
    def sigma(self):
        return torch.relu

    def check_params(self, params):
        rest = {k: v for k, v in params.items() if k != "gamma"}
        if "gamma" not in params:
            raise ValueError(f"parameters for {self.name}: missing gamma")
        d, widths = MLP(2, self.bias).check_params(rest)
        if tuple(params["gamma"].shape) != (widths[0],):
            raise ValueError(
                f"gamma must have shape ({widths[0]},), got {tuple(params['gamma'].shape)}"
            )
        if not torch.all(torch.isfinite(params["gamma"])):
            raise ValueError("gamma contains NaN or inf")
        return d, widths

    def head_separable(self, layer: int) -> bool:
        return False

    def preactivation_1(self, params, X):
        z = X @ params["W1"].T
        return z + params["b1"] if self.bias else z

    def preactivations(self, params, X):
        return [self.preactivation_1(params, X)]

    def statistics(self, params, reference) -> torch.Tensor:
        """a[j] = sqrt(mean_i relu(W1 x_i + b1)[j]^2) over the reference (training) inputs."""
        h = torch.relu(self.preactivation_1(params, reference))
        return torch.sqrt(torch.mean(h * h, dim=0))

    def normalized(self, params, X, reference=None) -> torch.Tensor:
        """gamma . h(x) / a for each row of X (statistics from ``reference``, default X itself)."""
        h = torch.relu(self.preactivation_1(params, X))
        ref_h = h if reference is None else torch.relu(self.preactivation_1(params, reference))
        a = torch.sqrt(torch.mean(ref_h * ref_h, dim=0))
        alive = a > 0
        safe = torch.where(alive, a, torch.ones_like(a))
        return torch.where(alive, params["gamma"] * h / safe, torch.zeros_like(h))

    def layer_inputs(self, params, X):
        return [X, self.normalized(params, X)]

    def forward(self, params, X, reference=None):
        return (self.normalized(params, X, reference) @ params["W2"].T)[..., 0]

    __call__ = forward


def _layer_order(name: str) -> tuple[int, str]:
    digits = "".join(ch for ch in name if ch.isdigit())
    return (int(digits) if digits else 0, name)


def architecture(key: str, depth: int = 2, *, eps: float | None = None):
    """Architecture from a command-line key: "bias", "nobias", "bias-softplus" (or "softplus"),
    "nobias-softplus", the same with an output bias ("bias-out", "nobias-out", "bias-out-softplus",
    "nobias-out-softplus"), "simln" (eps: its epsilon), "simbn" or "simbn-nobias".

    Raises:
        ValueError: for an unknown key or a bad depth.
    """
    table = {
        "bias": (True, "relu", False),
        "nobias": (False, "relu", False),
        "bias-softplus": (True, "softplus", False),
        "softplus": (True, "softplus", False),
        "nobias-softplus": (False, "softplus", False),
        "bias-out": (True, "relu", True),
        "nobias-out": (False, "relu", True),
        "bias-out-softplus": (True, "softplus", True),
        "nobias-out-softplus": (False, "softplus", True),
    }
    special = {
        "simln": lambda: SimLN(**({} if eps is None else {"eps": eps})),
        "simbn": SimBN,
        "simbn-nobias": lambda: SimBN(bias=False),
    }
    if key in special:
        if depth != 2:
            raise ValueError(f"{key} is a 2-layer architecture, got depth {depth}")
        return special[key]()
    if key not in table:
        raise ValueError(
            f"unknown architecture {key!r}; choose one of {sorted(table) + sorted(special)}"
        )
    bias, act, out = table[key]
    return MLP(depth=depth, bias=bias, activation=act, output_bias=out)


@dataclass(frozen=True, eq=False)
class Network:
    """An architecture together with concrete parameters (read-only mapping of tensors).

    Args:
        arch: the architecture.
        params: mapping of parameter name to array or tensor; converted to ``dtype``.
        dtype: float64 by default.
    """

    arch: MLP | SimLN | SimBN
    params: Mapping[str, torch.Tensor]
    dtype: torch.dtype = torch.float64
    reference: torch.Tensor | None = None

    def __post_init__(self) -> None:
        converted = {}
        for k, v in self.params.items():
            if isinstance(v, torch.Tensor):
                t = v.detach().to(self.dtype).clone()
            else:
                arr = np.asarray(v)
                if not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
                    raise ValueError(f"{k} must hold real numbers, got dtype {arr.dtype}")
                t = torch.tensor(arr, dtype=self.dtype)
            converted[k] = t
        self.arch.check_params(converted)
        object.__setattr__(self, "params", types.MappingProxyType(converted))
        if self.reference is not None:
            ref = as_tensor(self.reference, self.dtype).detach().clone()
            if ref.ndim != 2 or ref.shape[1] != converted["W1"].shape[1]:
                raise ValueError(
                    f"reference must have shape (n, {converted['W1'].shape[1]}), got {tuple(ref.shape)}"
                )
            object.__setattr__(self, "reference", ref)

    @property
    def d(self) -> int:
        return int(self.params["W1"].shape[1])

    @property
    def widths(self) -> tuple[int, ...]:
        return self.arch.check_params(self.params)[1]

    @property
    def num_params(self) -> int:
        return int(sum(p.numel() for p in self.params.values()))

    def __call__(self, X) -> torch.Tensor:
        """f(X); architectures with batch statistics normalize with ``reference`` if it is set."""
        X = as_tensor(X, self.dtype)
        return self.arch.forward(dict(self.params), X, self.reference)

    def param_dict(self) -> dict[str, torch.Tensor]:
        """A fresh dict of the parameter tensors (for torch.func transforms)."""
        return dict(self.params)

    def numpy_params(self) -> dict[str, np.ndarray]:
        return {k: v.cpu().numpy().copy() for k, v in self.params.items()}

    def replace(self, **arrays) -> Network:
        """A copy with some parameter arrays replaced (handy for breaking a construction)."""
        params = dict(self.params)
        params.update(arrays)
        return Network(self.arch, params, self.dtype, self.reference)
