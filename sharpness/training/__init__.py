"""Training: the sharpness-minimization algorithms, their engines, runs and presets, the search.

The heavy modules are imported on first use of one of their names.
"""

from importlib import import_module

_LAZY = {
    # runs and presets (App. B, Table 2)
    "ALGORITHMS": "runs",
    "ARCHITECTURES": "runs",
    "PRESETS": "runs",
    "Phase": "runs",
    "RunResult": "runs",
    "TrainConfig": "runs",
    "load_run": "runs",
    "preset": "runs",
    "train": "runs",
    "train_many": "runs",
    # algorithms (Section 2)
    "Loss": "algorithms",
    "StepRule": "algorithms",
    # the flattest-interpolator search (Scenario I evidence)
    "SearchResult": "flattest_search",
    "SearchSettings": "flattest_search",
    "error_versus_n": "flattest_search",
}

__all__ = sorted(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        return getattr(import_module(f"sharpness.training.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'sharpness.training' has no attribute {name!r}")
