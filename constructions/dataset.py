"""Training sets {(x_i, y_i)}_{i in [n]} as immutable arrays (Section 2, "Data Distribution").

A :class:`Dataset` is the object every construction, sharpness quantity and check takes. It is
built from the P_xor sampler (:func:`constructions.sample_xor`), from user arrays
(:func:`dataset_from_arrays`) or from a ``dataset.npz`` file with arrays ``X`` and ``y`` (the
layout that ``verify-theorem --save`` writes).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

__all__ = ["Dataset", "dataset_from_arrays", "load_dataset"]


def _readonly(a: np.ndarray) -> np.ndarray:
    a = np.array(a, dtype=np.float64, copy=True)
    a.setflags(write=False)
    return a


@dataclass(frozen=True, eq=False)
class Dataset:
    """n labelled points in R^d, stored as float64 read-only arrays.

    Args:
        X: inputs, shape (n, d).
        y: real labels, shape (n,).
        description: where the data came from, for reports.

    Raises:
        ValueError: if the shapes disagree, the set is empty or a value is not finite.
    """

    X: np.ndarray
    y: np.ndarray
    description: str = "user arrays"

    def __post_init__(self) -> None:
        X = np.asarray(self.X)
        y = np.asarray(self.y)
        if X.ndim != 2:
            raise ValueError(f"X must be a 2-D array of shape (n, d), got shape {X.shape}")
        if y.ndim != 1:
            raise ValueError(f"y must be a 1-D array of shape (n,), got shape {y.shape}")
        if X.shape[0] != y.shape[0]:
            raise ValueError(f"X has {X.shape[0]} rows but y has {y.shape[0]} labels")
        if X.shape[0] < 1 or X.shape[1] < 1:
            raise ValueError(
                f"a dataset needs n >= 1 points in d >= 1 dimensions, got shape {X.shape}"
            )
        for name, a in (("X", X), ("y", y)):
            if not np.issubdtype(a.dtype, np.number) or np.iscomplexobj(a):
                raise ValueError(f"{name} must hold real numbers, got dtype {a.dtype}")
            if not np.all(np.isfinite(a)):
                raise ValueError(f"{name} contains NaN or inf")
        object.__setattr__(self, "X", _readonly(X))
        object.__setattr__(self, "y", _readonly(y))

    @property
    def n(self) -> int:
        """Number of training points."""
        return int(self.X.shape[0])

    @property
    def d(self) -> int:
        """Input dimension."""
        return int(self.X.shape[1])

    def tensors(self, dtype: torch.dtype = torch.float64, device: str | torch.device = "cpu"):
        """Return ``(X, y)`` as fresh torch tensors."""
        return (
            torch.tensor(self.X, dtype=dtype, device=device),
            torch.tensor(self.y, dtype=dtype, device=device),
        )

    def is_hypercube_xor(self) -> bool:
        """True iff every x_i lies in {-1, 1}^d (d >= 2) and y_i = x_i[1] x_i[2] (P_xor's support)."""
        if self.d < 2 or not np.all(np.abs(self.X) == 1.0):
            return False
        return bool(np.all(self.y == self.X[:, 0] * self.X[:, 1]))

    def duplicate_pair(self) -> tuple[int, int] | None:
        """The first pair (j, i), j < i, with x_j == x_i, or None if all points are distinct."""
        seen: dict[bytes, int] = {}
        for i, row in enumerate(self.X):
            key = row.tobytes()
            if key in seen:
                return seen[key], i
            seen[key] = i
        return None

    def save(self, path: str | os.PathLike) -> None:
        """Write ``X`` and ``y`` to an ``.npz`` file (the layout of ``--save``)."""
        np.savez(Path(path), X=self.X, y=self.y)


def dataset_from_arrays(X, y, description: str = "user arrays") -> Dataset:
    """Build a :class:`Dataset` from array-likes (lists, numpy arrays or tensors)."""
    if isinstance(X, torch.Tensor):
        X = X.detach().cpu().numpy()
    if isinstance(y, torch.Tensor):
        y = y.detach().cpu().numpy()
    return Dataset(np.asarray(X), np.asarray(y), description)


def load_dataset(path: str | os.PathLike) -> Dataset:
    """Load ``X`` and ``y`` from an ``.npz`` file, safely.

    The file must be a regular file (a named pipe or a device is refused before it is opened),
    and its declared sizes are checked before anything is decompressed
    (:func:`constructions.safe_npz.load_npz`: zip bombs, huge ``.npy`` headers, truncated or
    CRC-corrupt archives, pickled objects). A single ``.npy`` array is told apart and refused
    with a hint.

    Raises:
        ValueError: one line naming the file, if it cannot be read, misses ``X`` or ``y``, or
            holds bad values (shapes, NaN or inf, non-numeric dtypes).
    """
    from constructions.safe_npz import load_npz

    path = Path(path)
    if not str(path).strip():
        raise ValueError("dataset file path is empty")
    if path.is_file():
        try:
            with open(path, "rb") as fh:
                head = fh.read(6)
        except OSError as exc:
            raise ValueError(f"cannot read dataset file {path}: {exc.strerror or exc}") from None
        if head == b"\x93NUMPY":
            raise ValueError(
                f"{path}: a single .npy array, not a dataset file: save both arrays with "
                "np.savez(path, X=X, y=y)"
            )
    arrays = load_npz(path, what="dataset file")
    missing = [k for k in ("X", "y") if k not in arrays]
    if missing:
        raise ValueError(f"{path}: missing array(s) {', '.join(missing)} (found {sorted(arrays)})")
    try:
        return Dataset(arrays["X"], arrays["y"], description=f"loaded from {path}")
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
