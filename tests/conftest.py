"""Test configuration: hypothesis profiles and shared fixtures."""

import os

import pytest
import torch  # noqa: F401 (loaded first: use_one_thread then sets its thread count)
from hypothesis import HealthCheck, settings

from sharpness._threads import use_one_thread

# A derandomized profile that fits a 2-core CI machine; "dev" explores more.
settings.register_profile(
    "ci",
    derandomize=True,
    max_examples=50,
    deadline=10_000,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
settings.register_profile("dev", max_examples=200, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# the thread policy of the commands: one thread for small work (sharpness/_threads.py)
use_one_thread()


@pytest.fixture(scope="session")
def xor_small():
    from constructions import sample_xor

    return sample_xor(5, 12, seed=3)
