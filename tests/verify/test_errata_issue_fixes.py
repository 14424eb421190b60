"""Issue 12's four entries (Prop. 4.1 with repeats, Theorem 3.1 vacuous, Theorem 5.1's interval,
Lemma A.3's convention): each verdict, and its evidence recomputed with independent code (plain
numpy forward passes, dense torch.func Hessians, exact sympy sign checks)."""

import itertools
import math

import numpy as np
import pytest
import torch

from constructions import sample_xor
from constructions.architectures import MLP, Network
from constructions.sim_bn import condition1_dataset, near_flattest_sim_bn
from constructions.sim_ln import sim_ln_memorizing_solution
from sharpness.reference import dense_hessian_trace
from verify.errata import ErratumClass, section_3, section_4, section_5

X_REP = np.array([[1.0, 1], [1, 1], [-1, -1]])  # d = 2, n = 3, (1,1) drawn twice
Y_REP = X_REP[:, 0] * X_REP[:, 1]


def _sketch_neuron(x, w, t, eps=1.0):
    """Sec. 4.1 sketch: one neuron for the point x with label t and direction w (floats)."""
    r = math.sqrt(x @ x + 1)
    s = math.sqrt(r * abs(t))
    return s * w / eps, s * (-(w @ x) + eps) / eps, math.copysign(math.sqrt(abs(t) / r), t)


def _net(points, labels):
    rows = [
        _sketch_neuron(x, x / np.linalg.norm(x), t) for x, t in zip(points, labels, strict=True)
    ]
    W1 = np.array([r[0] for r in rows])
    b1 = np.array([r[1] for r in rows])
    W2 = np.array([[r[2] for r in rows]])
    return W1, b1, W2


def test_prop_4_1_entry_verdict():
    e = section_4.prop_4_1_iid()
    assert e.kind is ErratumClass.PROOF_GAP
    assert e.holds_as_printed is False and e.corrected_holds is True
    assert "6.9282032303" in e.evidence and "1/4" in e.evidence


def test_one_neuron_per_sample_doubles_a_repeated_point():
    W1, b1, W2 = _net(X_REP, Y_REP)
    f = (W2 @ np.maximum(W1 @ X_REP[0] + b1, 0))[0]
    assert f == pytest.approx(2 * Y_REP[0], abs=1e-12)
    # App. A.4.2 (Sim-LN): W1 = 2 eps x_i / delta, b1 = 2 eps (delta - d) / delta, W2 = y_i
    eps, delta, d = 1.0, 1.0, 2
    h = np.maximum(2 * eps * X_REP @ X_REP[0] / delta + 2 * eps * (delta - d) / delta, 0)
    f_ln = Y_REP @ h / max(np.linalg.norm(h), eps)
    assert f_ln == pytest.approx(math.sqrt(2) * Y_REP[0], abs=1e-12)


def test_spare_neuron_network_attains_the_bound_with_error_one_quarter():
    pts = np.array([[1.0, 1], [-1, -1], [1, -1]])
    W1, b1, W2 = _net(pts, pts[:, 0] * pts[:, 1])
    net = Network(MLP(2), {"W1": W1, "b1": b1, "W2": W2})
    X, y = torch.tensor(X_REP), torch.tensor(Y_REP)
    assert float((net(X) - y).abs().max()) < 1e-12
    assert dense_hessian_trace(net, X, y) == pytest.approx(4 * math.sqrt(3), rel=1e-12)
    # exact cube count: the pre-activations are a + b sqrt(2) with margins far from 0
    cube = np.array(list(itertools.product((1.0, -1.0), repeat=2)))
    pre = cube @ W1.T + b1
    assert np.min(np.abs(pre)) > 0.1
    f = np.maximum(pre, 0) @ W2[0]
    assert int(np.sum(f * cube[:, 0] * cube[:, 1] <= 0)) == 1  # (-1, 1) only: 1/4


def test_theorem_3_1_is_vacuous_not_false():
    e = section_3.theorem_3_1_argmin()
    assert e.kind is ErratumClass.VACUOUS and e.holds_as_printed is True
    assert e.corrected_holds is True and "vacuously" in e.corrected


def test_theorem_5_1_interval_is_closed_at_c_and_open_at_2c():
    e = section_5.theorem_5_1_small_eps()
    assert "[c_i, 2 c_i)" in e.evidence and "(c_i, 2 c_i]" not in e.evidence
    ds = sample_xor(4, 6, 0)  # c_i = sqrt(5) everywhere
    c = math.sqrt(5)
    X, y = ds.tensors()
    # eps = 2c: the printed linear regime pays 2c/eps = 1 per point, the bound
    net = sim_ln_memorizing_solution(ds, 2 * c, form="printed").network
    assert dense_hessian_trace(net, X, y) == pytest.approx(2.0, rel=1e-10)
    # just inside [c, 2c): strictly above the bound 2
    net = sim_ln_memorizing_solution(ds, 1.9 * c, form="printed").network
    assert dense_hessian_trace(net, X, y) == pytest.approx(2 * 2 / 1.9, rel=1e-10)
    # eps = c: the printed u_i = (eps c)^(1/2) = eps, so ||h(x_i)|| sits on the switch of the max
    p = sim_ln_memorizing_solution(ds, c, form="printed").network.numpy_params()
    h = np.maximum(ds.X @ p["W1"].T + p["b1"], 0)
    assert np.allclose(np.linalg.norm(h, axis=1), c, rtol=1e-12)


def test_theorem_5_1_notes_use_the_closed_open_interval():
    from pathlib import Path

    import verify.claims.theorem_5_1 as mod

    text = Path(mod.__file__).read_text()
    assert "[c_i, 2c_i)" in text and "(c_i, 2c_i]" not in text


def _sim_bn_trace_and_rhs(net, ds):
    X, y = ds.tensors()
    p = net.numpy_params()
    return dense_hessian_trace(net, X, y), float(np.sum(p["W2"] ** 2) + np.sum(p["gamma"] ** 2))


def test_lemma_a3_entries_verdicts():
    inf = section_3.lemma_a3()
    assert inf.kind is ErratumClass.WRONG_AS_PRINTED and not inf.holds_as_printed
    conv = section_3.lemma_a3_dead_neuron()
    assert conv.kind is ErratumClass.CONVENTION and conv.holds_as_printed is True
    assert conv.corrected_holds is True
    assert "Reading 1" in conv.evidence and "Reading 2" in conv.evidence


def test_lemma_a3_both_readings_with_dense_hessians():
    ds = condition1_dataset(5, seed=0)
    X = torch.tensor(ds.X)
    live = Network(
        near_flattest_sim_bn(5, 10.0, width=4).network.arch,
        near_flattest_sim_bn(5, 10.0, width=4).network.params,
        reference=X,
    )
    p = live.numpy_params()
    z = ds.X @ p["W1"].T + p["b1"]
    assert np.all(np.max(z, axis=0) > 0)  # every a[j] > 0: the paper's definition applies
    t, rhs = _sim_bn_trace_and_rhs(live, ds)
    assert t >= rhs and t == pytest.approx(8.045, rel=1e-9) and rhs == pytest.approx(4.0)
    base = near_flattest_sim_bn(5, 10.0, width=6).network
    q = base.numpy_params()
    q["b1"][5], q["gamma"][5], q["W2"][0, 5] = -1.0, 10.0, 10.0
    dead = Network(base.arch, q, reference=X)
    z = ds.X @ q["W1"].T + q["b1"]
    assert np.max(z[:, 5]) < 0  # a[5] = 0: only 0/0 := 0 defines f
    t, rhs = _sim_bn_trace_and_rhs(dead, ds)
    assert float((dead(X) - torch.tensor(ds.y)).abs().max()) < 1e-9
    assert t < rhs  # reading 2: the printed inequality fails
