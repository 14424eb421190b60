"""The verdicts of Figures 1-11 and Table 1 (verify.experiments.verdicts) fail on broken evidence."""

from types import SimpleNamespace

import numpy as np

import verify.experiments as ex


def fake_run(seed=0, evals=(), params=None):
    """A stand-in for a RunResult: ``evals`` are (epoch, test_error, sharpness[, ci]) tuples."""
    metrics = []
    for e in evals:
        rec = {"epoch": e[0], "test_error": e[1], "sharpness": e[2], "train_error": 0.0}
        rec["train_loss"] = 1e-4
        if len(e) > 3:
            rec["test_ci"] = list(e[3])
            rec["test_exact"] = False
        else:
            rec["test_exact"] = True
        metrics.append(rec)
    cfg = SimpleNamespace(
        seed=seed, epochs=evals[-1][0] if evals else 0, phases=(), test_samples=4096
    )
    return SimpleNamespace(config=cfg, metrics=tuple(metrics), params=params or {}, finished=True)


def runs(*finals):
    return [fake_run(s, [(0, 0.5, 100.0), (10, te, tr)]) for s, (te, tr) in enumerate(finals)]


def test_generalizes_passes_and_fails():
    assert ex.check_generalizes("x", runs((0.0, 1.0), (0.01, 1.0))).passed
    assert not ex.check_generalizes("x", runs((0.0, 1.0), (0.2, 1.0))).passed


def test_generalizes_uses_the_upper_confidence_bound_of_an_estimate():
    ok = [fake_run(0, [(10, 0.04, 1.0, (0.035, 0.045))])]
    wide = [fake_run(0, [(10, 0.04, 1.0, (0.02, 0.07))])]
    assert ex.check_generalizes("x", ok).passed
    r = ex.check_generalizes("x", wide)
    assert not r.passed and r.kind == "estimate"


def test_flatter_and_worse_compare_seed_by_seed():
    sam = runs((0.3, 10.0), (0.4, 12.0))
    base = runs((0.0, 50.0), (0.0, 40.0))
    assert ex.check_flatter("1-SAM", sam, "GD", base).passed
    assert ex.check_worse("1-SAM", sam, "GD", base).passed
    assert not ex.check_flatter("GD", base, "1-SAM", sam).passed
    assert not ex.check_worse("GD", base, "1-SAM", sam).passed
    mixed = runs((0.3, 10.0), (0.0, 60.0))  # one seed breaks both claims
    assert not ex.check_flatter("1-SAM", mixed, "GD", base).passed
    assert not ex.check_worse("1-SAM", mixed, "GD", base).passed


def test_worse_needs_separated_intervals_for_estimates():
    a = [fake_run(0, [(10, 0.10, 1.0, (0.08, 0.12))])]
    b = [fake_run(0, [(10, 0.09, 1.0, (0.07, 0.11))])]
    assert not ex.check_worse("a", a, "b", b).passed
    c = [fake_run(0, [(10, 0.02, 1.0, (0.01, 0.03))])]
    assert ex.check_worse("a", a, "c", c).passed


def test_degenerates_and_sharpness_decreases():
    late = [fake_run(0, [(0, 0.5, 100.0), (5, 0.1, 20.0), (10, 0.3, 10.0)])]
    steady = [fake_run(0, [(0, 0.5, 100.0), (5, 0.3, 20.0), (10, 0.1, 120.0)])]
    assert ex.check_degenerates("x", late).passed
    assert not ex.check_degenerates("x", steady).passed
    assert ex.check_sharpness_decreases("x", late).passed
    assert not ex.check_sharpness_decreases("x", steady).passed


def test_fits_fails_on_a_training_error():
    r = runs((0.0, 1.0))
    assert ex.check_fits("x", r).passed
    r[0].metrics[-1]["train_error"] = 0.01
    assert not ex.check_fits("x", r).passed


def _four_neurons(rest=0.01, signs=((1, 1), (1, -1), (-1, 1), (-1, -1)), d=8, m=12):
    rng = np.random.default_rng(0)
    W1 = rng.normal(scale=0.01, size=(m, d))
    for i, (a, b) in enumerate(signs):
        W1[i] = 0.0
        W1[i, 0], W1[i, 1] = 3.0 * a, 3.0 * b
        W1[i, 2:] = rest
    return {"W1": W1}


def test_feature_check_accepts_plus_minus_x1_x2_and_rejects_others():
    good = [fake_run(0, [(10, 0.0, 1.0)], _four_neurons())]
    checks = ex.check_features("Fig. 2b", good)
    assert all(c.passed for c in checks)
    assert checks[1].value > 10  # column-norm ratio
    noisy = [fake_run(0, [(10, 0.0, 1.0)], _four_neurons(rest=1.0))]
    assert not ex.check_features("Fig. 2b", noisy)[0].passed
    repeated = _four_neurons(signs=((1, 1), (1, 1), (-1, 1), (-1, -1)))
    assert not ex.check_features("Fig. 2b", [fake_run(0, [(10, 0, 1)], repeated)])[0].passed
    rng = np.random.default_rng(1)
    rand = [fake_run(0, [(10, 0.0, 1.0)], {"W1": rng.normal(size=(12, 8))})]
    assert not any(c.passed for c in ex.check_features("Fig. 2b", rand))


def test_projection_check():
    W1 = np.full((2, 2), 2.5)
    held = [fake_run(0, [(1, 0, 1)], {"W1": W1, "b1": np.zeros(2)})]
    assert ex.check_projection("p", held, 5.0).passed
    assert not ex.check_projection("p", held, 10.0).passed


def test_flatter_at_a_kink_needs_both_one_sided_traces_below():
    def kinked(lo, hi):
        r = fake_run(0, [(10, 0.3, 1.0)])
        r.metrics[-1]["sharpness"] = None
        r.metrics[-1]["sharpness_one_sided"] = [lo, hi]
        return [r]

    base = runs((0.0, 50.0))
    assert ex.check_flatter("1-SAM", kinked(20.0, 22.0), "GD", base).passed
    assert not ex.check_flatter("1-SAM", kinked(20.0, 60.0), "GD", base).passed
