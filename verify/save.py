"""``--save DIR``: dataset.npz (X, y), params.npz (W1, b1, W2, ...), report.json, as one set.

The three files belong together (the report's numbers are those of these weights on this data),
so they are replaced together or not at all:

1. The new set is written into a fresh temporary directory next to DIR (``.DIR.new-<pid>-*``),
   every file flushed to disk.
2. The temporary directory then takes DIR's place in one step: ``renameat2(RENAME_EXCHANGE)``
   swaps the two directories atomically (Linux), and the old set, now under the temporary name,
   is deleted. A reader, or a kill at any point, sees the whole old set or the whole new set,
   never a mix, and no ``.part`` file inside DIR.
3. Where the exchange is not available (another OS, a file system without it), DIR is first
   renamed aside (``.DIR.old-<pid>-*``) and the new directory renamed into place. A kill between
   the two renames leaves no DIR but the whole old set aside; the next save (or
   :func:`recover`) puts it back first.

Leftovers of a killed save (its temporary directories) are removed by the next save into the
same DIR. A DIR that holds anything but these three files is not replaced without ``force``
(with it, DIR is replaced as a whole: what else it held is deleted). DIR may not be the working
directory or one above it (the swap would move the directory the shell is in).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import glob
import os
import shutil
import stat
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from verify._common import ClaimRun

__all__ = ["SAVED_FILES", "check_save_target", "recover", "save_run"]

#: The files of one saved run.
SAVED_FILES = ("dataset.npz", "params.npz", "report.json")

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _step(name: str) -> None:
    """A point between two steps of a save (the tests stop the process here)."""


def _target(directory: str | os.PathLike) -> Path:
    text = os.fspath(directory)
    if not str(text).strip():
        raise ValueError("--save needs a directory name, got an empty one")
    return Path(os.path.realpath(text))


def check_save_target(directory: str | os.PathLike, *, force: bool = False) -> Path:
    """Refuse, before any work, a ``--save`` directory that cannot take a saved set.

    Args:
        directory: the directory (created by the save if missing; symbolic links are followed).
        force: allow replacing a directory that holds files other than :data:`SAVED_FILES`.

    Returns:
        the directory, as an absolute path with links resolved.

    Raises:
        ValueError: for an empty name, a path that exists and is not a directory, the working
            directory or one of its ancestors, or (without ``force``) a directory holding other
            files, each named.
    """
    target = _target(directory)
    if target.exists() and not target.is_dir():
        raise ValueError(f"--save: {directory} exists and is not a directory")
    cwd = Path(os.path.realpath(os.getcwd()))
    if target == cwd or target in cwd.parents:
        raise ValueError(
            f"--save: {directory} is the working directory or holds it; name a directory for "
            "the saved files, e.g. --save results"
        )
    if target.is_dir() and not force:
        try:
            others = sorted(p.name for p in target.iterdir() if p.name not in SAVED_FILES)
        except OSError as exc:
            raise ValueError(f"--save: cannot list {directory}: {exc.strerror or exc}") from None
        if others:
            shown = ", ".join(others[:3]) + (
                f" and {len(others) - 3} more" if len(others) > 3 else ""
            )
            raise ValueError(
                f"--save: {directory} holds files --save did not write ({shown}); "
                "use --force to replace the directory and everything in it"
            )
    return target


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (``renameat2(RENAME_EXCHANGE)``); False where unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_uint,
    ]
    renameat2.restype = ctypes.c_int
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, not ours
        return True
    return True


def _leftovers(target: Path, kind: str) -> list[Path]:
    """Temporary directories (``kind`` "new" or "old") of saves into ``target`` that died."""
    out = []
    for p in target.parent.glob(f".{glob.escape(target.name)}.{kind}-*"):
        try:
            pid = int(p.name[len(f".{target.name}.{kind}-") :].split("-", 1)[0])
        except ValueError:
            continue
        if not _alive(pid):
            out.append(p)
    return sorted(out)


def recover(directory: str | os.PathLike) -> None:
    """Undo what a killed save left: put an old set renamed aside back, remove temporaries."""
    target = _target(directory)
    if not target.parent.is_dir():
        return
    old = _leftovers(target, "old")
    if old and not target.exists():
        os.rename(old.pop(), target)  # the set a save moved aside and did not get to replace
    for p in old + _leftovers(target, "new"):
        shutil.rmtree(p, ignore_errors=True)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def save_run(run: ClaimRun, directory: str | os.PathLike, *, force: bool = False) -> list[Path]:
    """Write the run's files into ``directory`` as one set (see the module docstring).

    Args:
        run: the claim run (its dataset, network and report; a missing dataset or network
            writes no file for it).
        directory: where the set goes (created, with its parents, if missing).
        force: replace a directory that holds other files too (they are deleted).

    Returns:
        the paths written.

    Raises:
        ValueError: for a target :func:`check_save_target` refuses, or when the files cannot be
            written (permissions, a full disk, a read-only file system): nothing is changed then.
    """
    import numpy as np  # here: the checks above run before the CLI imports numpy

    target = check_save_target(directory, force=force)
    staging: Path | None = None
    aside: Path | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        recover(target)
        umask = os.umask(0)
        os.umask(umask)
        staging = Path(
            tempfile.mkdtemp(prefix=f".{target.name}.new-{os.getpid()}-", dir=target.parent)
        )
        files: list[tuple[str, object]] = []
        if run.dataset is not None:
            files.append(("dataset.npz", {"X": run.dataset.X, "y": run.dataset.y}))
        if run.network is not None:
            files.append(("params.npz", run.network.numpy_params()))
        files.append(("report.json", run.report.to_json() + "\n"))
        for name, content in files:
            with open(staging / name, "wb") as fh:
                if isinstance(content, str):
                    fh.write(content.encode())
                else:
                    np.savez(fh, **content)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(staging / name, 0o666 & ~umask)
            _step(f"wrote {name}")
        mode = stat.S_IMODE(target.stat().st_mode) if target.is_dir() else 0o777 & ~umask
        os.chmod(staging, mode)
        _fsync_dir(staging)
        _step("written")
        if not target.exists():
            os.rename(staging, target)
            staging = None
        elif _exchange(staging, target):
            _step("swapped")
            shutil.rmtree(staging, ignore_errors=True)  # now the old set
            staging = None
        else:
            aside = Path(
                tempfile.mkdtemp(prefix=f".{target.name}.old-{os.getpid()}-", dir=target.parent)
            )
            os.rename(target, aside)  # replaces the empty directory just made
            _step("moved aside")
            os.rename(staging, target)
            staging = None
            _step("swapped")
            shutil.rmtree(aside, ignore_errors=True)
            aside = None
        _fsync_dir(target.parent)
        _step("done")
        return [target / name for name, _ in files]
    except OSError as exc:
        if aside is not None and not target.exists():
            with contextlib.suppress(OSError):
                os.rename(aside, target)  # the old set back in place
        where = exc.filename or directory
        raise ValueError(
            f"--save {directory}: cannot write ({exc.strerror or exc}: {where}); nothing was "
            "changed there"
        ) from None
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
