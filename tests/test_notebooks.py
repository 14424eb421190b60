"""Every notebook runs top to bottom on a fresh kernel, with small parameters and no widget frontend."""

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))

#: Small values for each notebook's "parameters" cell (papermill-style injection).
SMALL = {
    "01_scenario_ii_tour": {"D": 5, "N": 8, "CIRCLE_N": 5, "R_POINTS": 5, "ERROR_DS": [3, 4], "ERROR_NS": [1, 4]},
    "02_table1_scenarios_i_iii": {"D": 4, "N": 6, "EPS_POINTS": 6},
    "03_experiments": {"SCALE": "smoke", "SEEDS": 1, "CHUNKS": 2},
}


def _inject(nb, values: dict) -> None:
    for cell in nb.cells:
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            cell.source += "\n# injected by the tests\n" + "\n".join(f"{k} = {v!r}" for k, v in values.items())
            return
    raise AssertionError("notebook has no cell tagged 'parameters'")


def test_notebooks_exist():
    assert NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path, tmp_path, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "agg")
    nb = nbformat.read(path, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), "commit notebooks stripped"
    _inject(nb, SMALL.get(path.stem, {}))
    os.chdir(tmp_path)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_imports_only_the_packages(path):
    allowed = {"constructions", "sharpness", "verify", "matplotlib", "ipywidgets", "numpy", "math", "json", "pathlib"}
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for line in cell.source.splitlines():
            words = line.split()
            if words[:1] in (["import"], ["from"]):
                assert words[1].split(".")[0] in allowed, line
