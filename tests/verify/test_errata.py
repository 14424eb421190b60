"""Each errata entry reproduces its verdicts; the key ones are recomputed independently in floats."""

import json

import numpy as np
import pytest
import torch

from constructions import four_neuron_solution, memorizing_solution, printed_r, sample_xor
from sharpness import hessian_trace, hypercube_error, jacobian_lower_bound
from tests.verify.test_cli import run
from verify.errata import ErrataEntry, ErratumClass, class_counts, entry_functions

ENTRIES = {f.__module__.rsplit(".", 1)[-1] + "." + f.__name__: f for f in entry_functions()}


@pytest.mark.parametrize("name", sorted(ENTRIES))
def test_entry_is_consistent(name):
    e = ENTRIES[name]()
    assert isinstance(e, ErrataEntry) and e.evidence
    assert e.kind is EXPECTED_CLASS[name], (e.kind, e.evidence)
    if e.holds_as_printed:
        assert e.kind in (ErratumClass.HOLDS, ErratumClass.VACUOUS, ErratumClass.CONVENTION)
        assert e.corrected_holds in (None, True), e.evidence
    else:
        assert e.corrected and e.corrected_holds is True, e.evidence


W, G, F = ErratumClass.WRONG_AS_PRINTED, ErratumClass.PROOF_GAP, ErratumClass.FALSE_STATEMENT
H = ErratumClass.HOLDS
#: every entry's class, read from the paper (not from the entries)
EXPECTED_CLASS = {
    "section_2.zero_one_loss": W,
    "section_2.mse_normalization": H,
    "section_3.a24_construction": H,
    "section_3.lemma_a11_display": W,
    "section_3.lemma_a4_last_step": W,
    "section_3.theorem_3_1_argmin": ErratumClass.VACUOUS,
    "section_3.lemma_a1_weights": W,
    "section_3.lemma_a3": W,
    "section_3.lemma_a3_dead_neuron": ErratumClass.CONVENTION,
    "section_3.theorem_3_2": F,
    "section_4.lemma_4_1": H,
    "section_4.eq_2": H,
    "section_4.eq_3": H,
    "section_4.eq_4": W,
    "section_4.proof_sketch_construction": H,
    "section_4.off_training_silence": G,
    "section_4.prop_4_1_iid": G,
    "section_4.eq_5_index": W,
    "section_4.eq_5_r": W,
    "section_4.eq_5_function": H,
    "section_4.prop_4_2_width": F,
    "section_5.theorem_5_1_small_eps": H,
    "section_5.propositions_5_eps": H,
    "section_5.section_titles": ErratumClass.TEXTUAL,
    "appendix_a3.gradient_decomposition": H,
    "appendix_a3.deep_bound": H,
    "appendix_a3.deep_construction": W,
    "appendix_a3.zero_labels": G,
    "appendix_a3.prop_a1_scale": W,
    "appendix_a3.prop_a1_directions": W,
    "appendix_a4.lemma_a12": H,
    "appendix_a4.lemma_a12_identity": H,
    "appendix_a4.a41_case_split": W,
    "appendix_a4.a41_zero_labels": G,
    "appendix_a4.a42_construction": H,
    "appendix_a4.eq_18_index": W,
    "appendix_a4.prop_5_2_width": F,
    "appendix_a5.definition_a2": W,
    "appendix_a5.lemma_a13": W,
    # issue 12, second pass (tests/verify/test_errata_missed.py)
    "appendix_a2.lemma_a5_chebyshev": G,
    "appendix_a2.lemma_a6_covering": W,
    "appendix_a2.lemma_a8_rademacher": W,
    "appendix_a2.lemma_a10_cauchy_schwarz": W,
    "appendix_a2.theorem_a1_truncated_loss": H,
    "appendix_a2.theorem_a1_truncation": W,
    "appendix_a3_circle.eq17_half_planes": W,
    "appendix_a3_circle.coupon_collector": W,
    "appendix_a3_circle.triangle_step": W,
    "appendix_a6.lemma_a24_index": W,
    "appendix_a6.lemma_a25_jensen": W,
    "appendix_a6.lemmas_a26_a27": H,
}


def test_every_entry_has_an_expected_class():
    assert set(EXPECTED_CLASS) == set(ENTRIES)


@pytest.mark.parametrize(
    "kind, holds, corrected",
    [
        (ErratumClass.HOLDS, False, None),
        (ErratumClass.HOLDS, True, "x"),
        (ErratumClass.VACUOUS, False, "x"),
        (ErratumClass.WRONG_AS_PRINTED, True, None),
        (ErratumClass.WRONG_AS_PRINTED, False, None),
        (ErratumClass.FALSE_STATEMENT, True, "x"),
        ("no such class", True, None),
    ],
)
def test_entry_invariants_reject_broken_entries(kind, holds, corrected):
    with pytest.raises(ValueError):
        ErrataEntry("w", "p", holds, corrected, None if corrected is None else True, "e", kind=kind)


def test_class_counts_counts_every_class():
    e = ErrataEntry("w", "p", True, None, None, "e", kind="holds")
    counts = class_counts([e, e])
    assert counts[ErratumClass.HOLDS] == 2 and sum(counts.values()) == 2
    assert list(counts) == list(ErratumClass)


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
        "kind",
    } == set(entries[0])
    assert {e["kind"] for e in entries} <= {k.value for k in ErratumClass}
    by_where = {e["where"]: e["kind"] for e in entries}
    assert by_where["Theorem 3.2 and Lemma A.2"] == "false statement"
    assert len(entries) == len(EXPECTED_CLASS)
    assert any(e["holds_as_printed"] for e in entries) and any(
        not e["holds_as_printed"] for e in entries
    )


def test_errata_text_shows_each_class_and_counts_them():
    from verify.commands.errata import format_text

    entries = [
        ErrataEntry("A", "p", True, None, None, "e", kind=ErratumClass.HOLDS),
        ErrataEntry("B", "p", True, "c", True, "e", kind=ErratumClass.VACUOUS),
        ErrataEntry("C", "p", False, "c", True, "e", kind=ErratumClass.FALSE_STATEMENT),
        ErrataEntry("D", "p", False, "c", True, "e", kind=ErratumClass.FALSE_STATEMENT),
    ]
    text = format_text(entries)
    assert "2 of 4 checked formulas do not hold" in text
    assert "By class: holds 1, false statement 2, vacuous 1." in text
    assert "(vacuous) B" in text and "(false statement) D" in text
