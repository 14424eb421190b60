"""The step engines against the torch.func reference and the naive nn.Module loop (float64)."""

import math

import numpy as np
import pytest
import torch

from benchmarks.bench_training import NaiveNet, naive_sam_steps
from constructions.architectures import MLP, SimBN, SimLN
from constructions.tolerance import tolerance_for
from sharpness.training.algorithms import (
    AutogradEngine,
    CEngine,
    KernelUnavailableError,
    Loss,
    StepRule,
    TorchEngine,
    engine_for,
    load_kernel,
    project_first_layer,
    reference_step,
    reference_train,
)

TOL = tolerance_for(torch.float64)
ARCHS = {
    "nobias": MLP(2, bias=False),
    "bias": MLP(2, bias=True),
    "bias-softplus": MLP(2, bias=True, activation="softplus"),
    "simln": SimLN(eps=1e-3),
    "simbn": SimBN(bias=True),
    "simbn-nobias": SimBN(bias=False),
}
M, D, N = 7, 5, 9


def _c_available():
    try:
        load_kernel()
        return True
    except KernelUnavailableError:
        return False


needs_c = pytest.mark.skipif(not _c_available(), reason="no C compiler")


def _problem(arch, seed=0, scale=0.6):
    g = torch.Generator().manual_seed(seed)
    X = torch.randint(0, 2, (N, D), generator=g).to(torch.float64) * 2 - 1
    y = X[:, 0] * X[:, 1]
    p = {"W1": torch.randn(M, D, generator=g, dtype=torch.float64) * scale}
    if arch.bias:
        p["b1"] = torch.randn(M, generator=g, dtype=torch.float64) * scale
    p["W2"] = torch.randn(1, M, generator=g, dtype=torch.float64) * scale
    if isinstance(arch, SimBN):
        p["gamma"] = 1 + 0.1 * torch.randn(M, generator=g, dtype=torch.float64)
    return X, y, {k: p[k] for k in arch.param_names}


def _close(a: dict, b: dict, where: str):
    for k in b:
        diff = float((a[k] - b[k]).abs().max())
        scale = float(b[k].abs().max())
        assert diff <= TOL.atol + TOL.rtol * scale, f"{where}: {k} differs by {diff:.3e}"


def _batched(p, R=1):
    return {k: torch.stack([v] * R).clone() for k, v in p.items()}


RULES = {
    "1-SAM": StepRule(0.05, rho=0.1),
    "SAM+WD": StepRule(0.05, rho=0.1, weight_decay=0.05),
    "SGD+WD": StepRule(0.05, weight_decay=0.05),
}


@pytest.mark.parametrize("rule_id", list(RULES))
@pytest.mark.parametrize("arch_id", list(ARCHS))
@pytest.mark.parametrize("B", [1, 3])
def test_torch_engine_matches_reference_step_for_step(arch_id, rule_id, B):
    arch, rule = ARCHS[arch_id], RULES[rule_id]
    X, y, p0 = _problem(arch)
    rng = np.random.default_rng(1)
    batches = [rng.choice(N, B, replace=False) for _ in range(6)]
    P = _batched(p0)
    eng = TorchEngine(arch)
    ref = dict(p0)
    for t, b in enumerate(batches):
        ref = reference_step(arch, ref, X, y, b, rule)
        eng.step(P, X[None], y[None], torch.as_tensor(b)[None], rule)
        _close({k: v[0] for k, v in P.items()}, ref, f"{arch_id} step {t}")


C_RULES = {**RULES, "1-SAM logistic": StepRule(0.05, rho=0.1, loss=Loss("logistic", 0.1))}


@needs_c
@pytest.mark.parametrize("rule_id", list(C_RULES))
@pytest.mark.parametrize("arch_id", ["nobias", "bias", "bias-softplus", "simln"])
def test_c_engine_matches_reference(arch_id, rule_id):
    arch, rule = ARCHS[arch_id], C_RULES[rule_id]
    X, y, p0 = _problem(arch)
    order = np.random.default_rng(2).integers(0, N, size=12)
    ref = reference_train(arch, dict(p0), X, y, [[k] for k in order], rule)
    P = _batched(p0)
    CEngine(arch).run(P, X[None], y[None], order[None], rule)
    _close({k: v[0] for k, v in P.items()}, ref, arch_id)


@needs_c
@pytest.mark.parametrize("arch_id", ["nobias", "bias-softplus", "simln"])
def test_c_engine_float32_matches_the_float64_reference(arch_id):
    """The float build of the kernel (one_sam_f32) against torch.func in float64."""
    arch, rule = ARCHS[arch_id], RULES["SAM+WD"]
    X, y, p0 = _problem(arch)
    order = np.random.default_rng(2).integers(0, N, size=12)
    ref = reference_train(arch, dict(p0), X, y, [[k] for k in order], rule)
    P = {k: v.to(torch.float32) for k, v in _batched(p0).items()}
    CEngine(arch).run(P, X[None].float(), y[None].float(), order[None], rule)
    tol = tolerance_for(torch.float32)
    for k in ref:
        assert P[k].dtype == torch.float32
        diff = float((P[k][0].double() - ref[k]).abs().max())
        assert diff <= tol.atol + tol.rtol * float(ref[k].abs().max()), (arch_id, k, diff)


@needs_c
def test_c_engine_label_noise_and_projection_match_reference():
    arch = ARCHS["simln"]
    X, y, p0 = _problem(arch)
    order = np.random.default_rng(3).integers(0, N, size=10)
    noise = np.random.default_rng(4).normal(0, 0.3, size=10)
    rule = StepRule(0.05, label_noise=0.3)
    ref = reference_train(
        arch, dict(p0), X, y, [[k] for k in order], rule, noises=noise[:, None], projection=2.0
    )
    P = _batched(p0)
    CEngine(arch).run(P, X[None], y[None], order[None], rule, noise[None], projection=2.0)
    _close({k: v[0] for k, v in P.items()}, ref, "label noise + projection")
    norm = math.sqrt(float((P["W1"] ** 2).sum() + (P["b1"] ** 2).sum()))
    assert TOL.close(norm, 2.0)


@needs_c
def test_naive_module_loop_matches_c_engine():
    """The benchmark's nn.Module loop (two-pass SAM, SGD with weight decay) is the same algorithm."""
    arch = ARCHS["bias"]
    X, y, p0 = _problem(arch, seed=5)
    order = np.random.default_rng(6).integers(0, N, size=40)
    net = NaiveNet(D, M, dtype=torch.float64).load(p0)
    naive_sam_steps(net, X, y, order, 0.05, 0.1, wd=0.01)
    P = _batched(p0)
    CEngine(arch).run(P, X[None], y[None], order[None], StepRule(0.05, 0.1, 0.01))
    _close({k: v[0] for k, v in P.items()}, net.dump(), "naive loop")


def test_naive_module_loop_matches_torch_engine_on_sim_bn():
    arch = ARCHS["simbn"]
    X, y, p0 = _problem(arch, seed=7)
    order = np.random.default_rng(8).integers(0, N, size=15)
    net = NaiveNet(D, M, simbn=True, dtype=torch.float64).load(p0)
    naive_sam_steps(net, X, y, order, 0.05, 0.1)
    P = _batched(p0)
    TorchEngine(arch).run(
        P, X[None], y[None], torch.as_tensor(order)[:, None, None], RULES["1-SAM"]
    )
    _close({k: v[0] for k, v in P.items()}, net.dump(), "naive Sim-BN loop")


def test_autograd_engine_three_layers_matches_reference():
    arch = MLP(3, bias=True)
    g = torch.Generator().manual_seed(0)
    X, y, _ = _problem(ARCHS["bias"])
    p0 = {
        "W1": torch.randn(M, D, generator=g, dtype=torch.float64) * 0.6,
        "b1": torch.randn(M, generator=g, dtype=torch.float64) * 0.6,
        "W2": torch.randn(M, M, generator=g, dtype=torch.float64) * 0.6,
        "W3": torch.randn(1, M, generator=g, dtype=torch.float64) * 0.6,
    }
    rule = RULES["SAM+WD"]
    batches = [[1], [4], [2], [0]]
    ref = reference_train(arch, dict(p0), X, y, batches, rule)
    P = _batched(p0)
    AutogradEngine(arch).run(P, X[None], y[None], torch.tensor(batches)[:, None, :], rule)
    _close({k: v[0] for k, v in P.items()}, ref, "3-layer")


@pytest.mark.parametrize("engine_id", ["torch", "c"])
def test_runs_batched_together_equal_separate_runs_bitwise(engine_id):
    if engine_id == "c" and not _c_available():
        pytest.skip("no C compiler")
    arch = ARCHS["bias"]
    probs = [_problem(arch, seed=s) for s in range(3)]
    orders = np.random.default_rng(9).integers(0, N, size=(3, 8))
    rule = RULES["1-SAM"]
    make = (lambda: CEngine(arch)) if engine_id == "c" else (lambda: TorchEngine(arch))

    def go(P, X, y, order):
        if engine_id == "c":
            make().run(P, X, y, order, rule)
        else:
            make().run(P, X, y, torch.as_tensor(order).T[:, :, None], rule)

    P = {k: torch.stack([p[2][k] for p in probs]) for k in probs[0][2]}
    go(P, torch.stack([p[0] for p in probs]), torch.stack([p[1] for p in probs]), orders)
    for r, (X, y, p0) in enumerate(probs):
        Q = _batched(p0)
        go(Q, X[None], y[None], orders[r : r + 1])
        for k in Q:
            assert torch.equal(Q[k][0], P[k][r]), (r, k)


def test_sam_at_a_zero_gradient_is_a_plain_step():
    """Note 2: ||g|| = 0 gives no perturbation (and no division by zero)."""
    arch = ARCHS["nobias"]
    X, y, p0 = _problem(arch)
    p0 = {k: torch.zeros_like(v) for k, v in p0.items()}  # relu'(0) = 0 and W2 = 0: g = 0
    new = reference_step(arch, p0, X, y, [0], RULES["1-SAM"])
    for k in p0:
        assert torch.equal(new[k], p0[k])
    P = _batched(p0)
    TorchEngine(arch).step(P, X[None], y[None], torch.tensor([[0]]), RULES["1-SAM"])
    assert all(torch.isfinite(v).all() for v in P.values())


def test_logistic_loss_derivatives_and_minimum():
    p = 0.2
    loss = Loss("logistic", p)
    f = torch.linspace(-4, 4, 41, dtype=torch.float64, requires_grad=True)
    y = torch.where(torch.arange(41) % 2 == 0, 1.0, -1.0).to(torch.float64)
    (g,) = torch.autograd.grad(loss.value(f, y).sum(), f, create_graph=True)
    (h,) = torch.autograd.grad(g.sum(), f)
    assert torch.allclose(g, loss.d1(f, y), rtol=TOL.rtol, atol=TOL.atol)
    assert torch.allclose(h, loss.d2(f.detach(), y), rtol=TOL.rtol, atol=TOL.atol)
    gamma = math.log((1 - p) / p)
    at = torch.tensor([gamma], dtype=torch.float64)
    assert abs(float(loss.d1(at, torch.tensor([1.0], dtype=torch.float64)))) < 1e-15


def test_projection_rescales_first_layer_jointly():
    X, y, p0 = _problem(ARCHS["bias"])
    out = project_first_layer(p0, 10.0)
    norm = math.sqrt(float((out["W1"] ** 2).sum() + (out["b1"] ** 2).sum()))
    assert TOL.close(norm, 10.0)
    assert torch.equal(out["W2"], p0["W2"])


@pytest.mark.parametrize(
    "kwargs,needle",
    [
        ({"lr": -0.1}, "lr must be > 0"),
        ({"lr": 0.0}, "lr must be > 0"),
        ({"lr": 0.1, "rho": -1}, "rho must be >= 0"),
        ({"lr": 0.1, "weight_decay": float("nan")}, "weight_decay must be a finite number"),
        ({"lr": 0.1, "rho": 0.1, "label_noise": 0.1}, "rho = 0"),
    ],
)
def test_step_rule_rejects_bad_values(kwargs, needle):
    with pytest.raises(ValueError, match=needle):
        StepRule(**kwargs)


def test_engine_for_rejects_impossible_choices():
    with pytest.raises(ValueError, match="backend"):
        engine_for(ARCHS["bias"], 1, backend="gpu")
    with pytest.raises(ValueError, match="batch size 1"):
        engine_for(ARCHS["simbn"], 2, backend="c")
    with pytest.raises(ValueError, match="2-layer"):
        engine_for(MLP(3, bias=True), 1, backend="torch")
    assert isinstance(engine_for(ARCHS["simbn"], 2), TorchEngine)
    assert isinstance(engine_for(MLP(3, bias=True), 1), AutogradEngine)
