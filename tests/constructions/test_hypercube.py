import numpy as np
import pytest
import torch

from constructions import hypercube_points, iter_hypercube, sample_xor, xor_labels


@pytest.mark.parametrize("d,n", [(2, 4), (5, 12), (10, 100), (40, 50), (70, 20)], ids=str)
def test_sample_xor_distinct_labelled_seeded(d, n):
    ds = sample_xor(d, n, seed=7)
    assert ds.X.shape == (n, d)
    assert np.all(np.abs(ds.X) == 1)
    assert ds.duplicate_pair() is None
    np.testing.assert_array_equal(ds.y, ds.X[:, 0] * ds.X[:, 1])
    again = sample_xor(d, n, seed=7)
    np.testing.assert_array_equal(ds.X, again.X)
    assert ds.is_hypercube_xor()


def test_sample_xor_seed_changes_sample():
    assert not np.array_equal(sample_xor(10, 20, 0).X, sample_xor(10, 20, 1).X)


def test_full_cube_sample_is_the_cube():
    ds = sample_xor(4, 16, seed=0)
    assert len({row.tobytes() for row in ds.X}) == 16


@pytest.mark.parametrize(
    "d,n,match",
    [
        (1, 1, "d must be an integer >= 2"),
        (3, 9, "n must be <= 2"),
        (3, 0, "n must be an integer >= 1"),
        (2.5, 1, "d must be an integer"),
        (3, 2, None),
    ],
    ids=["d<2", "n>2^d", "n<1", "d-float", "ok"],
)
def test_sample_xor_argument_checks(d, n, match):
    if match is None:
        sample_xor(d, n)
    else:
        with pytest.raises(ValueError, match=match):
            sample_xor(d, n)


def test_enumeration_in_chunks_covers_cube_once():
    d = 7
    seen = []
    for start, X in iter_hypercube(d, chunk_size=10):
        assert X.shape[0] <= 10
        seen.extend(map(tuple, X.tolist()))
        assert torch.equal(X, hypercube_points(torch.arange(start, start + X.shape[0]), d))
    assert len(seen) == 2**d == len(set(seen))


def test_index_zero_is_all_ones_and_bits_are_little_endian():
    X = hypercube_points(torch.tensor([0, 1, 2]), 3)
    assert X.tolist() == [[1, 1, 1], [-1, 1, 1], [1, -1, 1]]
    assert xor_labels(X).tolist() == [1, -1, -1]


def test_enumeration_refuses_beyond_int64():
    with pytest.raises(ValueError, match="int64"):
        next(iter_hypercube(63))
