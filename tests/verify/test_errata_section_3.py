"""Section 3 errata: each verdict, and the key numbers recomputed independently in floats."""

import itertools
import math

import numpy as np
import pytest
import torch

from constructions import sample_xor
from constructions.no_bias import a24_solution
from constructions.sim_bn import condition1_dataset, theorem_3_2_counterexample
from sharpness.reference import dense_hessian_trace
from verify.errata import ErrataEntry, entry_functions, section_3

NAMES = {f.__name__: f for f in section_3.ENTRIES}
EXPECTED_WRONG = {
    "lemma_a11_display",
    "lemma_a4_last_step",
    "lemma_a1_weights",
    "lemma_a3",
    "theorem_3_2",
}


@pytest.mark.parametrize("name", sorted(NAMES))
def test_verdicts(name):
    e = NAMES[name]()
    assert isinstance(e, ErrataEntry) and e.evidence
    assert e.holds_as_printed == (name not in EXPECTED_WRONG), e.evidence
    if not e.holds_as_printed:
        assert e.corrected and e.corrected_holds is True, e.evidence


def test_registered_in_paper_order():
    funcs = entry_functions()
    mods = [f.__module__.rsplit(".", 1)[-1] for f in funcs]
    assert "section_3" in mods
    assert mods.index("section_3") > mods.index("section_2")
    assert mods.index("section_3") < mods.index("section_4")


def test_a24_on_the_cube_in_plain_numpy():
    for eps in (0.1, 0.5, 3.0):
        p = a24_solution(6, eps).network.numpy_params()
        for x in itertools.product([1.0, -1.0], repeat=6):
            f = np.maximum(p["W1"] @ np.array(x), 0) @ p["W2"][0]
            assert abs(f - x[0] * x[1]) < 1e-12


def test_lemma_a11_printed_display_is_off_by_the_missing_two_over_n():
    ds = sample_xor(5, 32, 0)
    X, y = ds.tensors()
    net = a24_solution(5, 0.1).network
    p = net.param_dict()
    Z = X @ p["W1"].T
    A = (2 / 32) * ((Z > 0).double().T @ torch.sum(X * X, dim=1))
    printed = float(torch.sum(p["W2"][0] ** 2 * A) + torch.sum(torch.relu(Z) ** 2))
    fixed = float(torch.sum(p["W2"][0] ** 2 * A) + (2 / 32) * torch.sum(torch.relu(Z) ** 2))
    t = dense_hessian_trace(net, X, y)
    assert abs(t - fixed) < 1e-9 * t and printed > 5 * t


def test_theorem_3_2_counterexample_in_floats():
    ds = condition1_dataset(6, seed=0)
    X, y = ds.tensors()
    net = theorem_3_2_counterexample(ds, 0.01).network
    assert 8 < dense_hessian_trace(net, X, y) <= 8.01
    cube = torch.tensor(list(itertools.product([1.0, -1.0], repeat=6)), dtype=torch.float64)
    assert int(torch.sum(net(cube) * cube[:, 0] * cube[:, 1] <= 0)) > 0
    assert math.isfinite(float(net(cube).abs().max()))
