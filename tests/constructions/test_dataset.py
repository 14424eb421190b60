import numpy as np
import pytest

from constructions import Dataset, dataset_from_arrays, load_dataset


def test_dataset_is_readonly_float64():
    ds = dataset_from_arrays([[1, 2], [3, 4]], [1, -1])
    assert ds.X.dtype == np.float64 and not ds.X.flags.writeable
    with pytest.raises(ValueError):
        ds.X[0, 0] = 5


@pytest.mark.parametrize(
    "X,y,match",
    [
        (np.zeros((3,)), np.zeros(3), "2-D"),
        (np.zeros((3, 2)), np.zeros((3, 1)), "1-D"),
        (np.zeros((3, 2)), np.zeros(2), "3 rows but y has 2"),
        (np.array([[np.nan, 1.0]]), np.ones(1), "NaN or inf"),
        (np.zeros((0, 2)), np.zeros(0), "n >= 1"),
    ],
    ids=["X-1d", "y-2d", "mismatch", "nan", "empty"],
)
def test_bad_arrays(X, y, match):
    with pytest.raises(ValueError, match=match):
        Dataset(X, y)


def test_load_roundtrip_and_errors(tmp_path):
    ds = dataset_from_arrays(np.eye(3), [1.0, 2.0, 3.0])
    ds.save(tmp_path / "d.npz")
    back = load_dataset(tmp_path / "d.npz")
    np.testing.assert_array_equal(back.X, ds.X)
    np.savez(tmp_path / "bad.npz", X=np.eye(2))
    with pytest.raises(ValueError, match="missing array"):
        load_dataset(tmp_path / "bad.npz")
    (tmp_path / "junk.npz").write_text("not a zip")
    with pytest.raises(ValueError, match="junk.npz is corrupt"):
        load_dataset(tmp_path / "junk.npz")
    with pytest.raises(ValueError, match="cannot read"):
        load_dataset(tmp_path / "nope.npz")
