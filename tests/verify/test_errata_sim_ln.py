"""The Section 5 / App. A.4 errata entries, their verdicts and their evidence recomputed in floats
with independent code (dense torch.func Hessian, naive enumeration)."""

import math

import numpy as np
import pytest

from constructions import Dataset, sample_xor
from constructions.sim_ln import (
    sim_ln_four_neuron_solution,
    sim_ln_memorizing_solution,
    sim_ln_xor_memorizing_solution,
)
from sharpness.reference import dense_hessian_trace, naive_hypercube_error
from verify.errata import entry_functions

ENTRIES = {f.__module__.rsplit(".", 1)[-1] + "." + f.__name__: f for f in entry_functions()}

WRONG = {
    "appendix_a4.a41_case_split",
    "appendix_a4.a41_zero_labels",
    "appendix_a4.eq_18_index",
    "appendix_a4.prop_5_2_width",
    "section_5.section_titles",
}
HOLDS = {
    "appendix_a4.lemma_a12",
    "appendix_a4.lemma_a12_identity",
    "appendix_a4.a42_construction",
    "section_5.theorem_5_1_small_eps",
    "section_5.propositions_5_eps",
}


@pytest.mark.parametrize("name", sorted(WRONG | HOLDS))
def test_verdict(name):
    e = ENTRIES[name]()
    assert e.holds_as_printed == (name in HOLDS)
    assert e.corrected_holds in (None, True)


def _trace(net, ds):
    X, y = ds.tensors()
    return dense_hessian_trace(net, X, y)


def test_case_split_evidence_in_floats():
    ds = sample_xor(4, 6, 0)  # c = sqrt(5) ~ 2.236 < eps = 3 < 2c
    printed = sim_ln_memorizing_solution(ds, 3.0, form="printed").network
    fixed = sim_ln_memorizing_solution(ds, 3.0, form="corrected").network
    assert _trace(printed, ds) == pytest.approx(4 * math.sqrt(5) / 3, rel=1e-10)
    assert _trace(fixed, ds) == pytest.approx(2.0, rel=1e-10)


def test_zero_label_evidence_in_floats():
    ds = sample_xor(3, 4, 0)
    y = np.array(ds.y, dtype=float)
    y[0] = 0.0
    net = sim_ln_memorizing_solution(Dataset(ds.X, y), 1.0).network
    bound = (2 / 4) * 3  # three points with c = 2 >= eps/2: min(1, .) = 1 each; zero label: 0
    assert _trace(net, Dataset(ds.X, y)) == pytest.approx(bound + 0.5, rel=1e-10)


def test_a42_beyond_2sqrt_d_plus_1_in_floats():
    d = 4
    ds = sample_xor(d, 6, 0)
    eps = 3 * math.sqrt(d + 1)
    net = sim_ln_xor_memorizing_solution(ds, eps, delta=1.0, form="printed").network
    assert _trace(net, ds) == pytest.approx(2.0, rel=1e-10)  # bound 2 * 2c/eps = 4/3


def test_eq18_index_evidence_by_naive_enumeration():
    printed = sim_ln_four_neuron_solution(4, 1.0, form="printed").network
    fixed = sim_ln_four_neuron_solution(4, 1.0).network
    assert naive_hypercube_error(printed)[0] == 8
    assert naive_hypercube_error(fixed)[0] == 0
