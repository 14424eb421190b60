"""Sweeps: grids of training runs, cached per cell, on Dask; one tidy results table.

The heavy modules are imported on first use of one of their names.
"""

from importlib import import_module

_LAZY = {
    # the grid (a TOML file of sharpness-train options)
    "Cell": "grid",
    "GridError": "grid",
    "expand_grid": "grid",
    "load_grid": "grid",
    # running it
    "SweepResult": "engine",
    "run_sweep": "engine",
    # the results table
    "load_results": "table",
    "read_table": "table",
    "write_rows": "table",
}

__all__ = sorted(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        return getattr(import_module(f"sharpness.sweep.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'sharpness.sweep' has no attribute {name!r}")
