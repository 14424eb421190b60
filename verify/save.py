"""``--save DIR``: dataset.npz (X, y), params.npz (W1, b1, W2, ...), report.json.

Files are first written under temporary names in DIR and renamed into place only once all three
are complete, so an interrupted or failed save leaves no half-written result behind.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from verify._common import ClaimRun

__all__ = ["save_run"]


def save_run(run: ClaimRun, directory: str | os.PathLike) -> list[Path]:
    """Write the run's three files into ``directory`` (created if needed)."""
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise ValueError(f"--save: {directory} exists and is not a directory")
    created = not directory.exists()
    directory.mkdir(parents=True, exist_ok=True)
    staged: list[tuple[Path, Path]] = []
    try:

        def stage(name: str, writer) -> None:
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=directory)
            os.close(fd)
            tmp = Path(tmp)
            staged.append((tmp, directory / name))
            writer(tmp)

        def write_npz(arrays):
            def writer(path: Path) -> None:
                with open(path, "wb") as fh:
                    np.savez(fh, **arrays)

            return writer

        if run.dataset is not None:
            stage("dataset.npz", write_npz({"X": run.dataset.X, "y": run.dataset.y}))
        if run.network is not None:
            stage("params.npz", write_npz(run.network.numpy_params()))
        stage("report.json", lambda p: p.write_text(run.report.to_json() + "\n"))
        umask = os.umask(0)
        os.umask(umask)
        for tmp, final in staged:
            os.chmod(tmp, 0o666 & ~umask)
            os.replace(tmp, final)
        return [final for _, final in staged]
    except BaseException:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        if created:
            try:
                directory.rmdir()
            except OSError:
                pass
        raise
