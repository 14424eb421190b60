"""The kernel's fixed-order vectorized sums and blocked sweep, at widths that exercise them.

``one_sam.c`` sums in 32 lanes and sweeps W1 in blocks of 32 neurons (issue 14); the other
kernel tests use width 7, below one lane block. Here m = 70 (two full blocks and a remainder of
6) is compared with the ``torch.func`` reference, and the memory-bound limit loop of the
benchmark (``one_sam_sweep_*``) with numpy.
"""

import ctypes

import numpy as np
import pytest
import torch

from constructions.architectures import MLP, SimLN
from constructions.tolerance import tolerance_for
from sharpness.training.algorithms import CEngine, Loss, StepRule, reference_train
from sharpness.training.kernels import KernelUnavailableError, OneSamArgs, load_kernel

TOL = tolerance_for(torch.float64)
M, D, N, T = 70, 5, 9, 8
ARCHS = {
    "nobias": MLP(2, bias=False),
    "bias": MLP(2, bias=True),
    "bias-softplus": MLP(2, bias=True, activation="softplus"),
    "simln": SimLN(eps=1e-3),
}


def _c_available():
    try:
        load_kernel()
        return True
    except KernelUnavailableError:
        return False


pytestmark = pytest.mark.skipif(not _c_available(), reason="no C compiler")


def _problem(arch, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randint(0, 2, (N, D), generator=g).to(torch.float64) * 2 - 1
    y = X[:, 0] * X[:, 1]
    p = {"W1": torch.randn(M, D, generator=g, dtype=torch.float64) * 0.3}
    if arch.bias:
        p["b1"] = torch.randn(M, generator=g, dtype=torch.float64) * 0.3
    p["W2"] = torch.randn(1, M, generator=g, dtype=torch.float64) * 0.1
    return X, y, {k: p[k] for k in arch.param_names}


@pytest.mark.parametrize("projection", [None, 3.0], ids=["fused", "projected"])
@pytest.mark.parametrize("arch_id", list(ARCHS))
def test_c_engine_at_width_70_matches_the_reference(arch_id, projection):
    arch = ARCHS[arch_id]
    X, y, p0 = _problem(arch)
    rule = StepRule(0.05, rho=0.1, weight_decay=0.01)
    order = np.random.default_rng(1).integers(0, N, size=T)
    ref = reference_train(arch, dict(p0), X, y, [[k] for k in order], rule, projection=projection)
    P = {k: v[None].clone() for k, v in p0.items()}
    CEngine(arch).run(P, X[None], y[None], order[None], rule, projection=projection)
    for k in ref:
        diff = float((P[k][0] - ref[k]).abs().max())
        assert diff <= TOL.atol + TOL.rtol * float(ref[k].abs().max()), (arch_id, k, diff)


def test_c_engine_at_width_70_is_bitwise_repeatable_and_sees_a_changed_weight():
    arch = ARCHS["bias"]
    X, y, p0 = _problem(arch)
    rule = StepRule(0.05, rho=0.1)
    order = np.random.default_rng(2).integers(0, N, size=(1, T))
    outs = []
    for bump in (0.0, 0.0, 1e-9):
        P = {k: v[None].clone() for k, v in p0.items()}
        P["W1"][0, 64, 0] += bump  # a neuron of the remainder after the two blocks
        CEngine(arch).run(P, X[None], y[None], order, rule)
        outs.append(P)
    assert all(torch.equal(outs[0][k], outs[1][k]) for k in p0)
    assert not torch.equal(outs[0]["W2"], outs[2]["W2"])


@pytest.mark.parametrize("bits", [64, 32])
def test_the_memory_bound_sweep_does_what_the_benchmark_says(bits):
    """one_sam_sweep_*: W1 <- W1 - lr dir x_t^T for every step t, and z = W1 x_{t+1} after it."""
    kernel = load_kernel()
    fn = kernel.sweep_f64 if bits == 64 else kernel.sweep_f32
    dt = np.float64 if bits == 64 else np.float32
    rng = np.random.default_rng(3)
    lr, steps = 0.01, 5
    W1T = rng.normal(size=(1, D, M)).astype(dt)
    X = (rng.integers(0, 2, size=(1, N, D)) * 2 - 1).astype(dt)
    order = rng.integers(0, N, size=(1, steps)).astype(np.int32)
    work = np.zeros(9 * M, dtype=dt)
    direction = rng.normal(size=M).astype(dt)
    work[M : 2 * M] = direction
    expected = W1T[0].astype(np.float64).copy()
    for t in range(steps):
        expected -= np.outer(X[0, order[0, t]], lr * direction.astype(np.float64))
    args = OneSamArgs.of(
        runs=1,
        width=M,
        dim=D,
        n=N,
        steps=steps,
        W1T=W1T.ctypes.data,
        b1=None,
        W2=None,
        X=X.ctypes.data,
        y=None,
        order=order.ctypes.data,
        noise=None,
        work=work.ctypes.data,
        lr=lr,
        rho=0.0,
        weight_decay=0.0,
        eps=0.0,
        smoothing=0.0,
        projection=-1.0,
        activation=0,
        head=0,
        loss=0,
        general=0,
        threads=1,
    )
    fn(ctypes.byref(args))
    tol = tolerance_for(torch.float64 if bits == 64 else torch.float32)
    assert np.allclose(W1T[0], expected, rtol=tol.rtol, atol=tol.atol)
    z_expected = X[0, order[0, -1]].astype(np.float64) @ expected  # the last step reuses x_t
    assert np.allclose(work[:M], z_expected, rtol=tol.rtol, atol=tol.atol)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize(
    "arch_id, rule",
    [
        ("bias", StepRule(0.05, rho=0.1, weight_decay=0.01)),
        ("nobias", StepRule(0.05, rho=0.1)),
        ("bias", StepRule(0.05, weight_decay=0.01)),  # SGD: no perturbed pass
        ("bias", StepRule(0.05, label_noise=0.2)),
        ("bias", StepRule(0.5, rho=0.1, loss=Loss("logistic", 0.1))),
    ],
    ids=["sam-wd", "sam-nobias", "sgd", "label-noise", "logistic"],
)
def test_fused_relu_mlp_step_equals_the_general_path_bit_for_bit(arch_id, rule, dtype):
    """The fused ReLU-MLP step recomputes h, relu', dL/dz, W2' and z' instead of storing them."""
    arch = ARCHS[arch_id]
    X, y, p0 = _problem(arch)
    if rule.loss.kind == "logistic":
        y = torch.sign(y)
    order = np.random.default_rng(4).integers(0, N, size=(2, 3 * T))
    noise = None
    if rule.label_noise:
        noise = np.random.default_rng(5).normal(0, rule.label_noise, size=order.shape)
    outs = []
    for fused in (True, False):
        P = {k: torch.stack([v, 0.9 * v]).to(dtype) for k, v in p0.items()}
        XR, yR = torch.stack([X, X]).to(dtype), torch.stack([y, y]).to(dtype)
        CEngine(arch, fused=fused).run(P, XR, yR, order, rule, noise)
        outs.append(P)
    for k in p0:
        assert torch.equal(outs[0][k], outs[1][k]), k


def test_general_path_differs_when_the_inputs_do():
    """The comparison above is not vacuous: a changed label changes the bits."""
    arch = ARCHS["bias"]
    X, y, p0 = _problem(arch)
    order = np.random.default_rng(4).integers(0, N, size=(1, T))
    outs = []
    for yy in (y, y + 1e-6):
        P = {k: v[None].clone() for k, v in p0.items()}
        CEngine(arch, fused=False).run(P, X[None], yy[None], order, StepRule(0.05, rho=0.1))
        outs.append(P["W2"])
    assert not torch.equal(*outs)
