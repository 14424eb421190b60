"""The thread policy: one thread for small work, a parallel region restores the count after it."""

import os
import subprocess
import sys

import pytest
import torch

from sharpness._threads import parallel_region, use_one_thread


def _threads_in_fresh_process():
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    code = (
        "from sharpness._threads import use_one_thread\nuse_one_thread()\n"
        "import torch, os\nprint(torch.get_num_threads(), os.environ['OMP_NUM_THREADS'])"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    return out.stdout.split()


def test_one_thread_before_torch_is_imported():
    assert _threads_in_fresh_process() == ["1", "1"]


def test_the_users_omp_num_threads_wins(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    try:
        use_one_thread()
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(1)


def test_parallel_region_restores():
    use_one_thread()
    before = torch.get_num_threads()
    with parallel_region(2) as n:
        assert n == 2 and torch.get_num_threads() == 2
    assert torch.get_num_threads() == before
    with pytest.raises(ValueError, match="threads must be an integer >= 1, got 0"):
        with parallel_region(0):
            pass
    assert torch.get_num_threads() == before
