"""The claims about Chen et al. (2023): each check fails on a deliberately broken input, and the
claims run end to end, deterministically, with a verdict and their evidence."""

import pytest

from verify import ClaimConfig, run_claim
from verify.claims import _chen_common as cc
from verify.claims import chen_sam, chen_sgd_benign, chen_sgd_harmful


class FakeRun:
    def __init__(self, test_error, train_error=0.0, history=()):
        self.test_error, self.train_error, self.history = test_error, train_error, history
        self.train_loss = 0.01


def _cell(*errs, train_error=0.0):
    return [FakeRun(e, train_error) for e in errs]


def test_benign_checks_pass_on_benign_numbers_and_fail_on_broken_ones():
    good = {(200, 20, 4.0): _cell(0.10, 0.11, 0.12)}
    assert all(c.passed for c in chen_sgd_benign.evaluate(good, 0.1))
    one_bad_seed = {(200, 20, 4.0): _cell(0.10, 0.16, 0.12)}
    assert not all(c.passed for c in chen_sgd_benign.evaluate(one_bad_seed, 0.1))
    not_fitted = {(200, 20, 4.0): _cell(0.10, 0.11, 0.12, train_error=0.05)}
    assert [c.passed for c in chen_sgd_benign.evaluate(not_fitted, 0.1)] == [False, True]


def test_harmful_checks_fail_when_one_seed_generalizes():
    assert all(c.passed for c in chen_sgd_harmful.evaluate({(800, 20, 1.0): _cell(0.3, 0.4)}, 0.1))
    res = chen_sgd_harmful.evaluate({(800, 20, 1.0): _cell(0.3, 0.19)}, 0.1)
    assert [c.passed for c in res] == [True, False]


def test_exponent_check_fails_outside_its_interval_and_without_one():
    assert chen_sgd_harmful.check_exponent("a", 0.24, (0.2, 0.3), 0.25).passed
    assert not chen_sgd_harmful.check_exponent("a", 0.15, (0.1, 0.2), 0.25).passed
    assert not chen_sgd_harmful.check_exponent("a", 0.15, None, 0.25).passed


def test_sam_band_and_not_worse_checks_fail_on_broken_inputs():
    sgd = {1.0: [0.40, 0.41, 0.39], 2.0: [0.25, 0.24, 0.26], 4.0: [0.11, 0.12, 0.11]}
    sam = {1.0: [0.30, 0.31, 0.29], 2.0: [0.12, 0.13, 0.12], 4.0: [0.11, 0.11, 0.12]}
    assert chen_sam.check_band(sgd, sam, 0.1).passed and chen_sam.band(sgd, sam, 0.1) == [2.0]
    assert chen_sam.check_sam_not_worse(sgd, sam).passed
    no_band = {**sam, 2.0: [0.2, 0.21, 0.2]}
    assert not chen_sam.check_band(sgd, no_band, 0.1).passed
    worse = {**sam, 4.0: [0.30, 0.31, 0.29]}
    assert not chen_sam.check_sam_not_worse(sgd, worse).passed


def _hist(rhos, gammas):
    return tuple((4 * k, g, r, 0.1) for k, (g, r) in enumerate(zip(gammas, rhos, strict=True)))


def test_early_rho_checks_fail_when_sam_memorizes_as_much():
    e = chen_sam.EARLY_EPOCHS + 1
    sgd = [FakeRun(0.2, history=_hist([0.0] + [k for k in range(1, e)], [0.0] * e))]
    sam_good = [FakeRun(0.1, history=_hist([0.0] + [0.2 * k for k in range(1, e)],
                                          [0.0] + [0.1 * k for k in range(1, e)]))]  # fmt: skip
    assert all(c.passed for c in chen_sam.check_early(sgd, sam_good, 2.0))
    sam_bad = [FakeRun(0.1, history=_hist([0.0] + [1.1 * k for k in range(1, e)],
                                         [0.0] + [0.1 * k for k in range(1, e)]))]  # fmt: skip
    assert [c.passed for c in chen_sam.check_early(sgd, sam_bad, 2.0)] == [False, False, True]
    no_signal = [FakeRun(0.1, history=_hist([0.0] + [0.2 * k for k in range(1, e)], [0.0] * e))]
    assert not chen_sam.check_early(sgd, no_signal, 2.0)[-1].passed


def test_a_claim_runs_end_to_end_with_its_verdict_and_evidence():
    # one end-to-end run (seconds); determinism is tested on the engine
    # (tests/sharpness/signal_noise/test_trainer.py), the checks above on broken inputs
    report = run_claim("chen.sgd-benign", ClaimConfig(seed=0)).report
    assert report.checks and report.notes
    assert report.passed  # the measured verdict at the default size (docs/chen2023.md)


def test_foreign_options_are_refused():
    from constructions import sample_xor

    with pytest.raises(ValueError, match="--data does not apply"):
        cc.refuse_foreign_options(ClaimConfig(dataset=sample_xor(3, 4, 0)), "chen.sam")
    with pytest.raises(ValueError, match="--exact does not apply"):
        cc.refuse_foreign_options(ClaimConfig(exact=True), "chen.sam")
