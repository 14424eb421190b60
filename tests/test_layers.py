"""Layers run one way (constructions -> sharpness -> verify), and no module imports itself back.

The layer contracts live in pyproject.toml ([tool.importlinter]) and are checked here with
import-linter, the tool that defines them; the cycle check walks grimp's import graph (the one
import-linter builds), lazy imports inside functions included.
"""

import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_are_kept():
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.fail("lint-imports is not installed (pip install -e '.[test]')")
    p = subprocess.run([exe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-2000:]
    assert "BROKEN" not in p.stdout and "KEPT" in p.stdout


def test_no_import_cycles():
    graph = grimp.build_graph("constructions", "sharpness", "verify")
    cycles = [
        (a, b)
        for a in sorted(graph.modules)
        for b in sorted(graph.find_modules_directly_imported_by(a))
        if graph.find_shortest_chain(importer=b, imported=a)
    ]
    assert not cycles, f"import cycles through: {cycles[:5]}"


def test_the_cycle_check_can_fail(tmp_path, monkeypatch):
    pkg = tmp_path / "cyc"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def f():\n    from cyc import b\n")
    (pkg / "b.py").write_text("from cyc import a\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    graph = grimp.build_graph("cyc")
    assert graph.find_shortest_chain(importer="cyc.b", imported="cyc.a")
    assert graph.find_shortest_chain(importer="cyc.a", imported="cyc.b")
