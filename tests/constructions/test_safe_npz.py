"""constructions.safe_npz: declared sizes are checked before anything is decompressed."""

import io
import os
import zipfile

import numpy as np
import pytest

from constructions.safe_npz import load_npz


def _header(shape, descr="<f8"):
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": descr, "fortran_order": False, "shape": shape}
    )
    return buf.getvalue()


def test_round_trip(tmp_path):
    path = tmp_path / "a.npz"
    np.savez(path, X=np.arange(6.0).reshape(2, 3), y=np.array([1, 2], dtype=np.int32))
    out = load_npz(path)
    assert set(out) == {"X", "y"} and out["X"].shape == (2, 3) and out["y"].dtype == np.int32
    assert np.array_equal(out["X"], np.arange(6.0).reshape(2, 3))


def test_a_zip_bomb_is_refused_before_decompressing(tmp_path):
    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open("X.npy", "w", force_zip64=True) as fh:
            fh.write(_header((1 << 22,)))
            for _ in range(32):
                fh.write(bytes(1 << 20))
    assert path.stat().st_size < 100_000  # 32 MiB of zeros in a small archive
    with pytest.raises(
        ValueError, match=r"declares \d+ uncompressed bytes, above the limit of 1000000"
    ):
        load_npz(path, max_bytes=10**6)
    assert load_npz(path, max_bytes=1 << 26)["X"].shape == (1 << 22,)


def test_a_header_declaring_more_than_its_member_holds_is_refused(tmp_path):
    path = tmp_path / "h.npz"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("X.npy", _header((1 << 40,)) + bytes(64))  # 8 TiB declared, 64 bytes given
    with pytest.raises(ValueError, match=r"array 'X' declares shape \(1099511627776,\)"):
        load_npz(path)


def _text_member(fh):
    with zipfile.ZipFile(fh, "w") as zf:
        zf.writestr("X.txt", "1")


def _write(save):
    def make(path):
        with open(path, "wb") as fh:
            save(fh)

    return make


@pytest.mark.parametrize(
    "make,needle",
    [
        (_write(lambda fh: None), "is empty"),
        (_write(lambda fh: fh.write(b"PK\x03\x04" + bytes(40))), "corrupt"),
        (_write(lambda fh: np.save(fh, np.zeros(3))), "corrupt"),  # a .npy is not a zip
        (
            _write(lambda fh: np.savez(fh, X=np.array([{"a": 1}], dtype=object))),
            "holds Python objects",
        ),
        (_write(_text_member), "not a .npy"),
    ],
    ids=["empty", "not-a-zip", "npy", "pickled-objects", "other-member"],
)
def test_bad_files_are_value_errors_naming_the_file(tmp_path, make, needle):
    path = tmp_path / "bad.npz"
    make(path)
    with pytest.raises(ValueError, match=needle) as info:
        load_npz(path, what="dataset file")
    assert str(path) in str(info.value)


def test_truncated_and_crc_corrupt_archives_are_refused(tmp_path):
    good = tmp_path / "good.npz"
    np.savez(good, X=np.arange(1000.0))
    raw = good.read_bytes()
    cut = tmp_path / "cut.npz"
    cut.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match="corrupt"):
        load_npz(cut)
    flipped = bytearray(raw)
    flipped[len(raw) // 2] ^= 0xFF  # inside X's stored data
    bad = tmp_path / "crc.npz"
    bad.write_bytes(bytes(flipped))
    with pytest.raises(ValueError, match="CRC"):
        load_npz(bad)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_named_pipe_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match="not a regular file"):
        load_npz(fifo)
    with pytest.raises(ValueError, match="no such file|No such file"):
        load_npz(tmp_path / "missing.npz")
