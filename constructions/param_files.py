"""Parameter files for networks trained elsewhere: ``.npz``, ``torch.save`` state_dicts, ``.safetensors``.

The format is told by the file's content, not its name:

* ``.npz`` (``np.savez``): a zip archive whose members are ``*.npy``; read with
  ``allow_pickle=False``;
* ``torch.save``: a zip archive with a ``<name>/data.pkl`` member (or a legacy pickle stream); read
  with ``torch.load(weights_only=True, map_location="cpu")``, which unpickles tensors and plain
  containers only, so a whole pickled ``nn.Module`` is refused (save ``model.state_dict()``);
* ``.safetensors``: an 8-byte little-endian header length, then a JSON header.

Two layouts of the arrays are read, in any of the formats:

* the toolkit's (what ``verify-theorem ... --save`` writes): ``W1`` (m1, d), ``b1`` (m1,) for a
  first-layer bias, ``W2``, ..., ``WD`` (the last as (1, m) or (m,)), ``bD`` (1,) or () for an
  output bias, ``gamma`` (m1,) for Sim-BN;
* an ``nn.Sequential`` state_dict, ``0.weight``, ``0.bias``, ``2.weight``, ``2.bias`` (see
  :mod:`constructions.torch_interop`).

The architecture is inferred where the arrays tell it: the depth from the W arrays, a first-layer
bias from b1, an output bias from bD, Sim-BN from gamma. Two things they cannot tell: ReLU from
Softplus (ReLU is assumed) and 2-MLP-Sim-LN from 2-MLP-Bias (the same arrays; the MLP is assumed),
so those need an explicit ``arch`` ("bias-softplus", "simln", ...), which always overrides.

Every bad file (missing, truncated, corrupt, foreign, a pickled object, non-numeric arrays, NaN
or inf, wrong shapes) is a ValueError with one line that starts with the path.
"""

from __future__ import annotations

import enum
import json
import re
import struct
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import numpy as np

from constructions.architectures import Network, SimBN, architecture

__all__ = ["ARCH_KEYS", "ParamFile", "ParamFormat", "load_network", "load_params"]

#: Architecture keys accepted as ``arch`` (see :func:`constructions.architecture`).
ARCH_KEYS = (
    "bias",
    "nobias",
    "bias-softplus",
    "nobias-softplus",
    "bias-out",
    "nobias-out",
    "bias-out-softplus",
    "nobias-out-softplus",
    "simln",
    "simbn",
)

_SAVE_NAME = re.compile(r"^(W|b)(\d+)$")


class ParamFormat(enum.StrEnum):
    """The file formats read, told apart by content."""

    NPZ = "npz"
    TORCH = "torch.save"
    SAFETENSORS = "safetensors"


class Layout(enum.StrEnum):
    """How the arrays are named."""

    TOOLKIT = "toolkit"  #: W1, b1, W2, ..., WD, bD, gamma (as --save writes)
    SEQUENTIAL = "nn.Sequential state_dict"  #: 0.weight, 0.bias, 2.weight, ...


@dataclass(frozen=True)
class ParamFile:
    """The arrays of a parameter file under the toolkit's names, and the architecture they imply.

    Attributes:
        path: the file.
        format: how it was read.
        layout: how its arrays were named.
        arrays: toolkit name -> float64 array (read-only mapping).
        arch_key: the architecture key (``arch`` if one was given, else inferred).
        depth: number of weight layers D.
        source_keys: toolkit name -> the key in the file (e.g. ``{"W1": "0.weight"}``).
    """

    path: Path
    format: ParamFormat
    layout: Layout
    arrays: Mapping[str, np.ndarray]
    arch_key: str
    depth: int
    source_keys: Mapping[str, str] = field(default_factory=dict)
    inferred_key: str = ""

    def architecture(self, *, eps: float | None = None):
        """The architecture (``eps``: Sim-LN's epsilon; Sim-BN takes its bias from b1)."""
        if self.arch_key == "simbn":
            return SimBN(bias="b1" in self.arrays)
        return architecture(self.arch_key, self.depth, eps=eps)

    def network(self, *, eps: float | None = None, reference=None) -> Network:
        """The :class:`~constructions.Network` of these arrays.

        Raises:
            ValueError: one line starting with the path, if the arrays do not fit the
                architecture (missing or unexpected arrays, shapes), with a hint where the arrays
                suggest another architecture key.
        """
        arch = self.architecture(eps=eps)
        try:
            return Network(arch, dict(self.arrays), reference=reference)
        except ValueError as exc:
            msg = f"{self.path}: {exc}"
            if self.layout == Layout.SEQUENTIAL:
                pairs = ", ".join(f"{k} -> {v}" for v, k in self.source_keys.items())
                msg += f" (keys read as {pairs})"
            if self.inferred_key and self.inferred_key != self.arch_key:
                msg += f" (the arrays look like arch {self.inferred_key!r}; omit arch to infer it)"
            raise ValueError(msg) from None


def load_network(path, *, arch=None, eps: float | None = None, reference=None) -> Network:
    """A :class:`~constructions.Network` from a parameter file (see the module docstring).

    Args:
        path: ``.npz``, ``torch.save`` state_dict (``.pt``/``.pth``) or ``.safetensors``.
        arch: an architecture key of :data:`ARCH_KEYS` (default: inferred from the arrays).
        eps: Sim-LN's epsilon (``arch="simln"``).
        reference: training inputs for Sim-BN's batch statistics.

    Raises:
        ValueError: one line naming the file and what is wrong with it.
    """
    return load_params(path, arch=arch).network(eps=eps, reference=reference)


def load_params(path, *, arch: str | None = None) -> ParamFile:
    """Read a parameter file: its arrays under the toolkit's names and the architecture key.

    The arrays are checked against the architecture (``arch``, or the inferred one) too.

    Raises:
        ValueError: one line naming the file and what is wrong with it.
    """
    if arch is not None and arch not in ARCH_KEYS:
        raise ValueError(f"arch must be one of {', '.join(ARCH_KEYS)}, got {arch!r}")
    path = Path(path)
    if not path.is_file():  # a FIFO or a device is refused before it is opened
        raise ValueError(f"{path}: {'not a regular file' if path.exists() else 'no such file'}")
    fmt, raw = _read(path)
    if not raw:
        raise ValueError(f"{path}: the file holds no arrays")
    arrays, layout, source = _to_toolkit_names(path, raw)
    depth, inferred = _infer(path, arrays)
    _reshape_last(arrays, depth)
    pf = ParamFile(
        path=path,
        format=fmt,
        layout=layout,
        arrays=MappingProxyType(arrays),
        arch_key=arch or inferred,
        depth=depth,
        source_keys=MappingProxyType(source),
        inferred_key=inferred,
    )
    try:
        pf.architecture()
    except ValueError as exc:  # e.g. "simln is a 2-layer architecture, got depth 3"
        raise ValueError(f"{path}: {exc}") from None
    pf.network()  # names, shapes and NaN/inf against the architecture; raises with the path
    return pf


# --- reading ------------------------------------------------------------------------------------
def _read(path: Path) -> tuple[ParamFormat, dict[str, object]]:
    with open(path, "rb") as fh:
        head = fh.read(8)
    size = path.stat().st_size
    if head[:2] == b"PK":
        return _read_zip(path)
    if head[:6] == b"\x93NUMPY":
        raise ValueError(
            f"{path}: a single .npy array, not a parameter file: save the arrays together with "
            "np.savez(path, W1=..., b1=..., W2=...)"
        )
    if len(head) == 8:
        (n,) = struct.unpack("<Q", head)
        if 2 <= n <= size - 8 and n <= 100_000_000:
            with open(path, "rb") as fh:
                fh.seek(8)
                header = fh.read(n)
            if header[:1] == b"{":
                return ParamFormat.SAFETENSORS, _read_safetensors(path, header)
    if head[:1] == b"\x80":  # a pickle stream: the legacy (non-zip) torch.save format
        return ParamFormat.TORCH, _read_torch(path)
    raise ValueError(
        f"{path}: not a parameter file (expected an .npz archive as --save writes, a torch.save "
        "state_dict (.pt) or a .safetensors file)"
    )


def _read_zip(path: Path) -> tuple[ParamFormat, dict[str, object]]:
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise ValueError(f"{path}: a corrupt or truncated zip archive ({exc})") from None
    if any(n == "data.pkl" or n.endswith("/data.pkl") for n in names):
        return ParamFormat.TORCH, _read_torch(path)
    if not names:
        raise ValueError(f"{path}: an empty zip archive: the file holds no arrays")
    if not all(n.endswith(".npy") for n in names):
        odd = next(n for n in names if not n.endswith(".npy"))
        raise ValueError(
            f"{path}: a zip archive that is neither an .npz (members *.npy) nor a torch.save "
            f"file (member */data.pkl); it holds {odd!r}"
        )
    from constructions.safe_npz import load_npz

    try:  # declared sizes checked before anything is decompressed (zip bombs), CRC, no pickles
        raw = load_npz(path, what="parameter file")
    except ValueError as exc:
        raise ValueError(f"{path}: cannot read the .npz archive: {_one_line(exc)}") from None
    for k, v in raw.items():
        if not (np.issubdtype(v.dtype, np.floating) or np.issubdtype(v.dtype, np.integer)):
            raise ValueError(f"{path}: array {k} is not numeric (dtype {v.dtype})")
    return ParamFormat.NPZ, {k: v.astype(np.float64) for k, v in raw.items()}


def _read_torch(path: Path) -> dict[str, object]:
    import pickle
    import warnings

    import torch

    try:
        with warnings.catch_warnings():  # e.g. "Detected pickle protocol 4": the error says it all
            warnings.simplefilter("ignore")
            obj = torch.load(path, weights_only=True, map_location="cpu")
    except pickle.UnpicklingError as exc:
        text = str(exc)
        m = re.search(r"GLOBAL ([\w.]+)", text)
        if m:
            raise ValueError(
                f"{path}: holds a pickled object ({m.group(1)}), not a state_dict of tensors: "
                "save torch.save(model.state_dict(), path) instead"
            ) from None
        detail = re.search(r"WeightsUnpickler error:(.*?)(Check the documentation|$)", text, re.S)
        why = _one_line(RuntimeError(detail.group(1))) if detail else _one_line(exc)
        raise ValueError(
            f"{path}: a pickle that torch.load(weights_only=True) refuses ({why}): save "
            "torch.save(model.state_dict(), path)"
        ) from None
    except Exception as exc:  # noqa: BLE001 - torch.load raises many types on foreign files
        raise ValueError(f"{path}: cannot read the torch.save file: {_one_line(exc)}") from None
    if not isinstance(obj, Mapping):
        raise ValueError(
            f"{path}: holds a {type(obj).__name__}, not a state_dict: save "
            "torch.save(model.state_dict(), path)"
        )
    out = {}
    for k, v in obj.items():
        if not isinstance(v, torch.Tensor):
            hint = (
                f"a checkpoint? save its state_dict alone: torch.save(checkpoint[{k!r}], path)"
                if isinstance(v, Mapping)
                else "save torch.save(model.state_dict(), path)"
            )
            raise ValueError(
                f"{path}: entry {k!r} is not a tensor (type {type(v).__name__}): {hint}"
            )
        out[str(k)] = _tensor_to_numpy(path, str(k), v)
    return out


def _read_safetensors(path: Path, header: bytes) -> dict[str, object]:
    try:
        json.loads(header)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ValueError(
            f"{path}: not a parameter file (neither .npz, torch.save nor a valid .safetensors "
            "header)"
        ) from None
    from safetensors import safe_open

    try:
        out = {}
        with safe_open(str(path), framework="pt") as fh:
            for k in fh.keys():  # noqa: SIM118 - safe_open is not a mapping
                out[k] = fh.get_tensor(k)
    except Exception as exc:  # noqa: BLE001 - the Rust reader raises its own error types
        raise ValueError(f"{path}: a corrupt .safetensors file: {_one_line(exc)}") from None
    return {k: _tensor_to_numpy(path, k, v) for k, v in out.items()}


def _tensor_to_numpy(path: Path, key: str, t) -> np.ndarray:
    import torch

    if t.layout != torch.strided:
        raise ValueError(f"{path}: tensor {key!r} is {t.layout}, not a dense tensor")
    integer = t.dtype in (torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64)
    if not (t.is_floating_point() or integer):
        raise ValueError(f"{path}: tensor {key!r} is not real-valued (dtype {t.dtype})")
    return t.detach().to(device="cpu", dtype=torch.float64).numpy().copy()


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return (text[:200] + "...") if len(text) > 200 else (text or type(exc).__name__)


# --- naming and inference -----------------------------------------------------------------------
def _to_toolkit_names(path: Path, raw: dict[str, object]):
    keys = list(raw)
    if all(_SAVE_NAME.match(k) or k == "gamma" for k in keys):
        return (
            {k: np.asarray(v, dtype=np.float64) for k, v in raw.items()},
            Layout.TOOLKIT,
            {k: k for k in keys},
        )
    from constructions.torch_interop import sequential_layout

    toolkit_like = [k for k in keys if _SAVE_NAME.match(k) or k == "gamma"]
    try:
        layout = sequential_layout({k: np.shape(v) for k, v in raw.items()})
    except ValueError as exc:
        if toolkit_like:
            odd = next(k for k in keys if k not in toolkit_like)
            raise ValueError(
                f"{path}: array {odd!r} is not one of the --save names W1, b1, W2, ..., WD, bD, "
                "gamma: rename it, or remove it"
            ) from None
        raise ValueError(
            f"{path}: the arrays are neither the --save layout (W1, b1, W2, ...) nor an "
            f"nn.Sequential state_dict: {exc}"
        ) from None
    arrays = {name: np.asarray(raw[key], dtype=np.float64) for key, name in layout.rename.items()}
    source = {name: key for key, name in layout.rename.items()}
    for name, a in arrays.items():
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{path}: key {source[name]!r} ({name}) contains NaN or inf")
    return arrays, Layout.SEQUENTIAL, source


def _infer(path: Path, arrays: dict[str, np.ndarray]) -> tuple[int, str]:
    """(depth, architecture key) from the names present."""
    ws = sorted(int(m.group(2)) for k in arrays if (m := _SAVE_NAME.match(k)) and m.group(1) == "W")
    if not ws:
        raise ValueError(f"{path}: no weight arrays W1, W2, ... found")
    depth = max(ws)
    missing = [f"W{j}" for j in range(1, depth + 1) if j not in ws]
    if missing:
        raise ValueError(f"{path}: missing {', '.join(missing)} (the W arrays go up to W{depth})")
    if depth < 2:
        raise ValueError(
            f"{path}: only W1: the toolkit's networks have at least two weight layers (W1, W2)"
        )
    bs = sorted(int(m.group(2)) for k in arrays if (m := _SAVE_NAME.match(k)) and m.group(1) == "b")
    for j in bs:
        if 1 < j < depth:
            raise ValueError(
                f"{path}: b{j} is a bias in hidden layer {j} (of {depth}): the toolkit's MLP has "
                f"a bias in the first layer (b1) and optionally the output (b{depth}) only; "
                "remove it (retrain without it: dropping it changes f)"
            )
        if j > depth:
            raise ValueError(f"{path}: unexpected b{j} (the W arrays go up to W{depth})")
    bias, out = 1 in bs, depth in bs
    if "gamma" in arrays:
        if depth != 2 or out:
            raise ValueError(
                f"{path}: gamma marks 2-MLP-Sim-BN, which has two layers and no output bias"
            )
        return depth, "simbn"
    return depth, ("bias" if bias else "nobias") + ("-out" if out else "")


def _reshape_last(arrays: dict[str, np.ndarray], depth: int) -> None:
    """W_D given as (m,) becomes (1, m); b_D given as () becomes (1,)."""
    last = f"W{depth}"
    if arrays[last].ndim == 1:
        arrays[last] = arrays[last].reshape(1, -1)
    bias = f"b{depth}"
    if bias in arrays and arrays[bias].ndim == 0:
        arrays[bias] = arrays[bias].reshape(1)
