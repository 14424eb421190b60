import numpy as np
import pytest
import torch

from constructions import random_network, sample_xor, self_labelled


def test_seeded_and_self_labelled():
    a = random_network(4, [3, 5], seed=9)
    b = random_network(4, [3, 5], seed=9)
    for k in a.params:
        assert torch.equal(a.params[k], b.params[k])
    ds = self_labelled(a, sample_xor(4, 6, 0).X)
    np.testing.assert_array_equal(a(torch.tensor(ds.X)).numpy(), ds.y)


def test_depth_width_mismatch():
    with pytest.raises(ValueError, match="needs 2 hidden widths"):
        random_network(3, [2], depth=3)
