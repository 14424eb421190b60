import pytest
import torch

from sharpness import Tolerance, tolerance_for


def test_policy_values_and_semantics():
    t = tolerance_for(torch.float64)
    assert (t.rtol, t.atol) == (1e-9, 1e-12)
    assert t.close(1.0 + 5e-10, 1.0) and not t.close(1.0 + 2e-9, 1.0)
    assert t.close(5e-13, 0.0) and not t.close(2e-12, 0.0)
    assert not t.close(float("nan"), 0.0)
    assert tolerance_for(torch.float32).rtol == 1e-4


def test_bad_tolerances():
    with pytest.raises(ValueError, match="rtol"):
        Tolerance(-1.0, 0.0)
    with pytest.raises(ValueError, match="no tolerance policy"):
        tolerance_for(torch.int64)
