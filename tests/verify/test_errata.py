"""Each errata entry reproduces its verdicts; the key ones are recomputed independently in floats."""

import json

import numpy as np
import pytest
import torch

from constructions import four_neuron_solution, memorizing_solution, printed_r, sample_xor
from sharpness import hessian_trace, hypercube_error, jacobian_lower_bound
from tests.verify.test_cli import run
from verify.errata import ErrataEntry, entry_functions

ENTRIES = {f.__module__.rsplit(".", 1)[-1] + "." + f.__name__: f for f in entry_functions()}


@pytest.mark.parametrize("name", sorted(ENTRIES))
def test_entry_is_consistent(name):
    e = ENTRIES[name]()
    assert isinstance(e, ErrataEntry) and e.evidence
    if e.holds_as_printed:
        assert e.corrected is None and e.corrected_holds is None
    else:
        assert e.corrected and e.corrected_holds is True, e.evidence


EXPECTED_WRONG = {
    "section_2.zero_one_loss",
    "section_4.eq_4",
    "section_4.off_training_silence",
    "section_4.prop_4_1_iid",
    "section_4.eq_5_index",
    "section_4.eq_5_r",
    "section_4.prop_4_2_width",
    "appendix_a3.deep_construction",
    "appendix_a3.zero_labels",
    "appendix_a3.prop_a1_scale",
    "appendix_a3.prop_a1_directions",
}


@pytest.mark.parametrize("name", sorted(EXPECTED_WRONG))
def test_known_errata_are_reported_wrong(name):
    assert not ENTRIES[name]().holds_as_printed


def test_eq5_r_evidence_in_floats():
    d = 4
    ds = sample_xor(d, 6, 2)
    X, y = ds.tensors()
    t_printed = hessian_trace(four_neuron_solution(d, width=6, form="printed").network, X, y)
    bound = jacobian_lower_bound(ds.X, ds.y).trace
    assert t_printed == pytest.approx(2 * (np.sqrt(17) + 5 / np.sqrt(17)), rel=1e-12)
    assert bound == pytest.approx(4 * np.sqrt(5), rel=1e-14) and t_printed > bound
    assert printed_r(d) == pytest.approx(17**0.25)


def test_off_training_counterexample_in_floats():
    from constructions import Dataset

    X = np.array([[1.0, 1, 1], [1, 1, -1]])
    ds = Dataset(X, X[:, 0] * X[:, 1])
    W = np.array([[0.0, 0, 1], [0, 0, -1]])
    net = memorizing_solution(ds, 2, directions=W, epsilon=0.1).network
    assert hypercube_error(net, progress=False).errors == 4  # not 6


def test_deep_printed_kink_in_floats():
    ds = sample_xor(4, 4, 0)
    net = memorizing_solution(ds, 3, form="printed").network
    X, y = ds.tensors()
    base = float(torch.mean((net(X) - y) ** 2))
    h = 1e-4
    for sign, expect_zero in ((1, False), (-1, True)):
        W2 = net.params["W2"].clone()
        W2[1, 0] = sign * h
        moved = net.replace(W2=W2)
        second = 2 * (float(torch.mean((moved(X) - y) ** 2)) - base) / h**2
        assert (abs(second) < 1e-9) == expect_zero


def test_errata_command_json():
    p = run("errata", "--json")
    assert p.returncode == 0
    entries = json.loads(p.stdout)
    assert {
        "where",
        "printed",
        "holds_as_printed",
        "corrected",
        "corrected_holds",
        "evidence",
    } == set(entries[0])
    assert any(e["holds_as_printed"] for e in entries) and any(
        not e["holds_as_printed"] for e in entries
    )
