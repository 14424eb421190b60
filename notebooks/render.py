"""Execute the notebooks with their own parameters and store their outputs in the files.

    python notebooks/render.py                 every notebook
    python notebooks/render.py 03_experiments  one (by file stem)

The outputs are committed so that a reader browsing the repository sees the figures. Each code
cell is stamped with the SHA-256 of the source that produced its outputs
(``metadata["source_sha256"]``); ``tests/test_notebooks.py`` fails when a cell's source no longer
matches its stamp, so the committed outputs cannot silently go stale: edit a cell, rerun this.
Figures are stored at a low resolution (``RENDER_DPI``) to keep the files small.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
from pathlib import Path

import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent
RENDER_DPI = 60
STAMP = "source_sha256"


def source_digest(source: str) -> str:
    return hashlib.sha256(source.encode()).hexdigest()


def render(path: Path) -> int:
    nb = nbformat.read(path, as_version=4)
    with tempfile.TemporaryDirectory() as work:
        rc = Path(work) / "matplotlibrc"
        rc.write_text(f"figure.dpi: {RENDER_DPI}\nsavefig.dpi: {RENDER_DPI}\n")
        env_before = dict(os.environ)
        os.environ["MATPLOTLIBRC"] = str(rc)
        try:
            NotebookClient(
                nb, timeout=3600, kernel_name="python3", resources={"metadata": {"path": work}}
            ).execute()
        finally:
            os.environ.clear()
            os.environ.update(env_before)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.metadata[STAMP] = source_digest(cell.source)
            cell.execution_count = None  # no counters: a rerun changes only what changed
            for out in cell.get("outputs", []):
                if out.get("output_type") == "execute_result":
                    out["execution_count"] = None
    tmp = path.with_suffix(".ipynb.part")
    nbformat.write(nb, tmp)
    tmp.replace(path)
    return path.stat().st_size


def main(argv: list[str]) -> int:
    stems = set(argv)
    paths = [p for p in sorted(HERE.glob("*.ipynb")) if not stems or p.stem in stems]
    unknown = stems - {p.stem for p in paths}
    if unknown:
        print(f"render: no notebook named {sorted(unknown)}", file=sys.stderr)
        return 2
    for p in paths:
        size = render(p)
        print(f"{p.name}: {size / 1024:.0f} KiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
