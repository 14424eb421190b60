"""Loading ``.npz`` files from users and from disk without trusting their declared contents.

An ``.npz`` file is a zip archive of ``.npy`` members. ``numpy.load`` trusts it: a 1 MB archive
whose members declare gigabytes decompresses to a multi-GiB peak (a zip bomb), a member whose
``.npy`` header declares a huge shape makes numpy allocate that shape before it reads a byte,
and a truncated or CRC-corrupt archive raises ``zipfile.BadZipFile`` (not ``ValueError``).

:func:`load_npz` reads the zip directory and every member's ``.npy`` header first and refuses,
before anything is decompressed, an archive whose declared sizes exceed ``max_bytes``; it then
reads each member (``allow_pickle=False``), where zipfile stops at the declared size and checks
the CRC. Every failure is a :class:`ValueError` that names the file.
"""

from __future__ import annotations

import math
import os
import stat
import zipfile
import zlib
from pathlib import Path

import numpy as np

__all__ = ["DEFAULT_MAX_BYTES", "load_npz"]

#: The default cap on the declared uncompressed size of all members together (1 GiB).
DEFAULT_MAX_BYTES = 1 << 30

_HEADER_READERS = {
    (1, 0): np.lib.format.read_array_header_1_0,
    (2, 0): np.lib.format.read_array_header_2_0,
}


class _Refused(ValueError):
    """A refusal already worded for the user (not wrapped again)."""


def _member_header(zf: zipfile.ZipFile, info: zipfile.ZipInfo, where: str):
    """(shape, dtype) from one member's ``.npy`` header (reads only the header)."""
    with zf.open(info) as fh:
        version = np.lib.format.read_magic(fh)
        reader = _HEADER_READERS.get(version)
        if reader is None:  # 3.0 (utf-8 field names) is not written by this toolkit
            raise _Refused(f"{where}: array {info.filename[:-4]!r} has .npy format {version}")
        shape, _, dtype = reader(fh)
    return shape, dtype


def load_npz(
    path: str | os.PathLike,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    what: str = "file",
) -> dict[str, np.ndarray]:
    """All arrays of an ``.npz`` file, after checking its declared sizes (see the module doc).

    Args:
        path: the file (it must be a regular file: a FIFO or a device would block or never end).
        max_bytes: cap on the declared uncompressed size of the members together, and on the
            bytes their ``.npy`` headers declare (shape times item size).
        what: what the file is, for messages ("checkpoint", "dataset file", ...).

    Returns:
        ``{name: array}`` with the ``.npy`` suffix dropped from each member's name.

    Raises:
        ValueError: naming the file, for a missing or non-regular file, an archive that is not
            a zip file, is truncated or fails its CRC, a member that is not ``.npy``, an
            object (pickled) array, or declared sizes above ``max_bytes``.
    """
    path = Path(path)
    try:
        st = os.stat(path)
    except OSError as exc:
        raise _Refused(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(st.st_mode):
        raise _Refused(f"cannot read {what} {path}: not a regular file")
    if st.st_size == 0:
        raise _Refused(f"{what} {path} is empty")
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            declared = sum(i.file_size for i in infos)
            if declared > max_bytes:
                raise _Refused(
                    f"{what} {path} declares {declared} uncompressed bytes, above the limit of "
                    f"{max_bytes} (a zip bomb or not this kind of file)"
                )
            for info in infos:
                if not info.filename.endswith(".npy"):
                    raise _Refused(f"{what} {path}: member {info.filename!r} is not a .npy array")
                shape, dtype = _member_header(zf, info, f"{what} {path}")
                if dtype.hasobject:
                    raise _Refused(
                        f"{what} {path}: array {info.filename[:-4]!r} holds Python objects "
                        "(pickles are not loaded)"
                    )
                nbytes = math.prod(shape) * dtype.itemsize
                if nbytes > info.file_size or nbytes > max_bytes:
                    raise _Refused(
                        f"{what} {path}: array {info.filename[:-4]!r} declares shape {shape} "
                        f"({nbytes} bytes) in a {info.file_size}-byte member"
                    )
            out = {}
            for info in infos:
                with zf.open(info) as fh:
                    out[info.filename[:-4]] = np.lib.format.read_array(fh, allow_pickle=False)
            return out
    except _Refused:
        raise
    except ValueError as exc:
        raise ValueError(f"{what} {path} is corrupt: {exc}") from None
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, KeyError, TypeError) as exc:
        raise ValueError(f"{what} {path} is corrupt or truncated: {exc}") from None
