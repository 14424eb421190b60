"""The 2-parity distribution P_xor on the hypercube {-1, 1}^d (Section 2, "Data Distribution").

x is uniform on {-1, 1}^d and y = x[1] x[2]. Points are indexed by integers: index k stands for
the point with coordinate j (0-based) equal to ``1 - 2 * ((k >> j) & 1)``, so index 0 is the
all-ones point. The full cube is only ever produced in chunks (:func:`iter_hypercube`), never as
one 2^d x d array.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from constructions._checks import check_int
from constructions.dataset import Dataset

__all__ = ["hypercube_points", "iter_hypercube", "sample_xor", "xor_labels"]

_DIRECT_SAMPLING_MAX_D = 62


def xor_labels(X):
    """y = x[1] x[2] (1-based, as in the paper) for each row of X (numpy array or tensor)."""
    return X[:, 0] * X[:, 1]


def hypercube_points(indices, d: int, dtype=torch.float64, device="cpu") -> torch.Tensor:
    """Points of {-1, 1}^d for integer indices (int64 tensor or array), shape (len, d)."""
    idx = torch.as_tensor(indices, dtype=torch.int64, device=device)
    shifts = torch.arange(d, dtype=torch.int64, device=device)
    bits = (idx.unsqueeze(1) >> shifts) & 1
    return (1 - 2 * bits).to(dtype)


def iter_hypercube(
    d: int,
    chunk_size: int = 1 << 16,
    *,
    start: int = 0,
    stop: int | None = None,
    dtype=torch.float64,
    device="cpu",
) -> Iterator[tuple[int, torch.Tensor]]:
    """Yield ``(first_index, X_chunk)`` covering the cube indices [start, stop) in order.

    Memory is O(chunk_size * d) whatever d is.
    """
    d = check_int("d", d, minimum=1)
    if d > 62:
        raise ValueError(f"cannot enumerate {{-1,1}}^{d}: indices beyond 2^62 do not fit int64")
    chunk_size = check_int("chunk_size", chunk_size, minimum=1)
    total = 1 << d
    stop = total if stop is None else stop
    if not 0 <= start <= stop <= total:
        raise ValueError(
            f"need 0 <= start <= stop <= 2^d = {total}, got start={start}, stop={stop}"
        )
    for s in range(start, stop, chunk_size):
        e = min(s + chunk_size, stop)
        yield (
            s,
            hypercube_points(
                torch.arange(s, e, dtype=torch.int64, device=device), d, dtype, device
            ),
        )


def sample_xor(d: int, n: int, seed: int = 0) -> Dataset:
    """n distinct points drawn uniformly without replacement from {-1, 1}^d, y = x[1] x[2].

    The paper draws i.i.d. samples; distinct points make the training set a set (Definition 4.1)
    and make n <= 2^d the only constraint. The same seed always gives the same dataset.

    Raises:
        ValueError: if d < 2, n < 1, n > 2^d or seed is not a non-negative integer.
    """
    d = check_int("d", d, minimum=2)
    n = check_int("n", n, minimum=1)
    seed = check_int("seed", seed, minimum=0)
    if d < 63 and n > (1 << d):
        raise ValueError(
            f"n must be <= 2^d = {1 << d} (distinct points of {{-1,1}}^{d}), got n={n}"
        )
    rng = np.random.default_rng(seed)
    if d <= _DIRECT_SAMPLING_MAX_D:
        idx = rng.choice(1 << d, size=n, replace=False)
        X = hypercube_points(torch.as_tensor(idx, dtype=torch.int64), d).numpy()
    else:
        rows: list[np.ndarray] = []
        seen: set[bytes] = set()
        while len(rows) < n:
            row = 1.0 - 2.0 * rng.integers(0, 2, size=d)
            key = row.tobytes()
            if key not in seen:
                seen.add(key)
                rows.append(row)
        X = np.stack(rows)
    return Dataset(X, xor_labels(X), description=f"P_xor sample (d={d}, n={n}, seed={seed})")
