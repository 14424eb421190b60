"""Every notebook runs top to bottom on a fresh kernel, with small parameters and no widget frontend."""

import ast
import hashlib
import importlib
import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))

#: Small values for each notebook's "parameters" cell (papermill-style injection).
SMALL = {
    "01_scenario_ii_tour": {
        "D": 5,
        "N": 8,
        "CIRCLE_N": 5,
        "R_POINTS": 5,
        "ERROR_DS": [3, 4],
        "ERROR_NS": [1, 4],
    },
    "02_table1_scenarios_i_iii": {"D": 4, "N": 6, "EPS_POINTS": 6},
    "03_experiments": {"SCALE": "smoke", "SEEDS": 1, "CHUNKS": 2},
}


def _inject(nb, values: dict) -> None:
    for cell in nb.cells:
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            cell.source += "\n# injected by the tests\n" + "\n".join(
                f"{k} = {v!r}" for k, v in values.items()
            )
            return
    raise AssertionError("notebook has no cell tagged 'parameters'")


def test_notebooks_exist():
    assert NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path, tmp_path, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "agg")
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []  # run from scratch; the committed outputs are checked on their own
    _inject(nb, SMALL.get(path.stem, {}))
    os.chdir(tmp_path)
    NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors


def _digest(source: str) -> str:
    """The stamp notebooks/render.py writes: computed here again, not imported from it."""
    return hashlib.sha256(source.encode()).hexdigest()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_committed_outputs_are_current(path):
    """The committed outputs (what a reader browsing the repository sees) were produced by the
    committed source: every code cell carries the digest of the source that ran, and no output is
    an error. Edit a cell and this fails until `python notebooks/render.py` is rerun."""
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    stale = [i for i, c in enumerate(code) if c.metadata.get("source_sha256") != _digest(c.source)]
    assert not stale, f"code cells {stale} changed since their outputs were rendered"
    assert any("image/png" in o.get("data", {}) for c in code for o in c.get("outputs", [])), (
        "no figure in the committed outputs"
    )
    errors = [o for c in code for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    assert path.stat().st_size < 1_000_000, "keep committed outputs small"


def test_stale_outputs_are_caught(tmp_path):
    """The currency check can fail: a cell edited after rendering no longer matches its stamp."""
    nb = nbformat.read(NOTEBOOKS[0], as_version=4)
    cell = next(c for c in nb.cells if c.cell_type == "code")
    assert cell.metadata.get("source_sha256") == _digest(cell.source)
    cell.source += "\n# edited"
    assert cell.metadata.get("source_sha256") != _digest(cell.source)


PACKAGES = {"constructions", "sharpness", "verify"}
OTHERS = {"matplotlib", "ipywidgets", "numpy", "math", "json", "pathlib", "IPython"}


def _imports(nb):
    """(module, names) of every import in the code cells; names is None for ``import module``."""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for node in ast.walk(ast.parse(cell.source)):
            if isinstance(node, ast.Import):
                yield from ((alias.name, None) for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                yield node.module, [alias.name for alias in node.names]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_imports_only_public_names_of_the_packages(path):
    """The notebooks call the packages through what a package exports (its ``__all__``): no
    command module, no CLI, no module-level or private name."""
    nb = nbformat.read(path, as_version=4)
    seen = set()
    for module, names in _imports(nb):
        top = module.split(".")[0]
        assert top in PACKAGES | OTHERS, module
        if top not in PACKAGES:
            continue
        seen.add(top)
        package = importlib.import_module(module)
        assert names is not None, f"import {module}: import the names it exports instead"
        assert hasattr(package, "__path__"), f"{module} is a module, not a package"
        missing = set(names) - set(package.__all__)
        assert not missing, f"{module} does not export {sorted(missing)}"
    assert seen  # the check saw the notebook's imports
