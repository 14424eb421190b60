"""The thread policy: one thread for small work, one long parallel region for a big kernel.

Why (measured on these 2-core machines, issue 14, an independent performance audit): torch's
default is one intra-op thread per core, and every short parallel operation then waits for the
other core at its barrier, which on a shared machine is busy most of the time:

- ``hessian_trace`` at width 500: a median of 250 ms on 2 threads, 0.55 ms on 1 (450x);
- ``verify-theorem all --d 8``: 21-63 s, against 5.5 s with ``OMP_NUM_THREADS=1``;
- ``evaluate`` at d = 30: 160 s, against 23 s;
- the test suite: 221 s, against 168 s.

The toolkit's work is thousands of small operations (widths of 500, batches of 100), so the
default is one thread: :func:`use_one_thread` at the start of every command, in every sweep
worker and in the tests' conftest. A kernel large enough to keep every core busy for a long time
(the hypercube enumeration of 2^30 points, a batched trainer) asks for the cores *once* around
the whole computation with :func:`parallel_region`, so that one long region pays the barrier
once instead of thousands of short ones paying it each time.

An explicit ``OMP_NUM_THREADS`` from the user wins: the policy only fills it in when unset.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

__all__ = ["parallel_region", "use_one_thread"]

_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def _user_threads() -> int | None:
    v = os.environ.get("OMP_NUM_THREADS", "").strip()
    return int(v) if v.isdigit() and int(v) >= 1 else None


def use_one_thread() -> None:
    """Small work runs on one thread: set the environment (for torch not yet imported and for
    child processes) and, when torch is loaded, its intra-op thread count.

    Does not import torch (a command's ``--help`` stays fast). An explicit ``OMP_NUM_THREADS``
    set by the user is kept.
    """
    user = _user_threads()
    for name in _ENV:  # torch takes the smallest of them: follow the user's OMP_NUM_THREADS
        os.environ.setdefault(name, str(user or 1))
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(user or 1)


@contextlib.contextmanager
def parallel_region(threads: int | None = None) -> Iterator[int]:
    """Run one big kernel on ``threads`` threads (default: the cores this process may use),
    then go back to the previous count. Use it around a whole computation, not inside a loop.

    Yields:
        the thread count in force inside the region.

    Raises:
        ValueError: ``threads`` is not an integer >= 1.
    """
    import torch

    if threads is None:
        try:
            threads = len(os.sched_getaffinity(0))
        except AttributeError:
            threads = os.cpu_count() or 1
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads must be an integer >= 1, got {threads!r}")
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield threads
    finally:
        torch.set_num_threads(before)
