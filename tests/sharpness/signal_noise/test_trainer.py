"""The batched GD/SGD/SAM engine: against a naive autograd reference step for step, batched ==
one run at a time, determinism, the exact gamma/rho decomposition, and the test-error shortcut."""

import math
from dataclasses import replace

import pytest
import torch

from constructions.signal_noise import SignalNoiseConfig, sample_signal_noise
from sharpness.signal_noise import (
    Algorithm,
    Init,
    RunKey,
    TrainConfig,
    preset,
    run_seeds,
    theory_tau,
    train_batched,
    train_one,
)
from sharpness.signal_noise.trainer import _test_error

F64 = torch.float64


def _cfg(alg, **kw):
    base = dict(algorithm=alg, steps=12, lr=0.5, batch=4, m=3, sigma_0=0.1, n_test=200,
                dtype=F64, record_every=3)  # fmt: skip
    base.update(kw)
    return TrainConfig(**base)


def _naive(key: RunKey, cfg: TrainConfig):
    """Two-pass reference with autograd: L_B(W), its gradient, W+ = W + tau g/||g||, grad at W+."""
    s = run_seeds(key)
    D = sample_signal_noise(key.data, key.n, s[0], dtype=F64)
    from sharpness.signal_noise.trainer import _init

    W, b = _init(cfg, key.data.d, s[2], F64)
    arch = cfg.arch(key.data.patches)
    params = {"W1": W} | ({"b1": b} if b is not None else {})
    B = cfg.batch_size(key.n)
    g = torch.Generator().manual_seed(s[3])
    tau = cfg.sam_tau(key.data, key.n)
    per_epoch = math.ceil(key.n / B)

    def grad(p, X, y):
        p = {k: v.clone().requires_grad_(True) for k, v in p.items()}
        loss = torch.logaddexp(torch.zeros(len(y), dtype=F64), -y * arch.forward(p, X)).mean()
        return dict(zip(p, torch.autograd.grad(loss, list(p.values())), strict=True))

    traj = []
    for step in range(cfg.steps):
        if step % per_epoch == 0:
            order = torch.randperm(key.n, generator=g)
        idx = order[(step % per_epoch) * B : (step % per_epoch + 1) * B] if B < key.n else None
        X = D.X if idx is None else D.X[idx]
        y = D.y if idx is None else D.y[idx]
        gr = grad(params, X, y)
        if cfg.algorithm is Algorithm.SAM:
            norm = math.sqrt(sum(float((v**2).sum()) for v in gr.values()))
            plus = {k: params[k] + tau * gr[k] / norm for k in params} if norm > 0 else params
            gr = grad(plus, X, y)
        params = {k: params[k] - cfg.lr * gr[k] for k in params}
        traj.append({k: v.detach().clone() for k, v in params.items()})
    return traj


@pytest.mark.parametrize("alg", list(Algorithm))
@pytest.mark.parametrize("bias", [False, True])
def test_every_step_equals_the_naive_two_pass_reference(alg, bias):
    key = RunKey(data=SignalNoiseConfig(d=7, patches=3, mu_norm=1.5), n=10, seed=3)
    for steps in (1, 5, 12):  # step for step: the engine stopped after k steps = reference step k
        cfg = _cfg(alg, bias=bias, steps=steps, lr=0.2)
        ref = _naive(key, cfg)[-1]
        got = train_one(key, cfg).network.params
        for k in ref:
            torch.testing.assert_close(got[k], ref[k], rtol=1e-12, atol=1e-13)
        assert float(train_one(key, cfg).train_loss) < math.log(2)  # alive: it learned


def test_sam_is_not_sgd_the_negative_control():
    key = RunKey(data=SignalNoiseConfig(d=7, mu_norm=1.5), n=10)
    a = train_one(key, _cfg(Algorithm.SAM)).network.params["W1"]
    b = train_one(key, _cfg(Algorithm.SGD)).network.params["W1"]
    assert float((a - b).abs().max()) > 1e-3


def test_batched_equals_one_run_at_a_time_and_is_deterministic():
    keys = [RunKey(data=SignalNoiseConfig(d=9, mu_norm=mu), n=8, repeat=r)
            for mu in (0.0, 1.0, 3.0) for r in range(2)]  # fmt: skip
    for alg in (Algorithm.GD, Algorithm.SAM):
        # float64: a batched reduction may round differently from a single one (BLAS blocking),
        # so batched == loop holds to rounding (rtol 1e-12), not bit for bit
        cfg = _cfg(alg)
        batch = train_batched(keys, cfg, chunk=4).runs
        for key, got in zip(keys, batch, strict=True):
            one = train_one(key, cfg)
            assert got.test_error == one.test_error
            assert got.train_loss == pytest.approx(one.train_loss, rel=1e-12)
            torch.testing.assert_close(got.network.params["W1"], one.network.params["W1"],
                                       rtol=1e-12, atol=1e-14)  # fmt: skip
            for a, b in zip(got.history, one.history, strict=True):
                assert a == pytest.approx(b, rel=1e-10, abs=1e-14)
        # determinism: the same request twice gives the same numbers, bit for bit (float32 too)
        cfg32 = replace(cfg, dtype=torch.float32)
        a, b = train_batched(keys, cfg32, chunk=4).runs, train_batched(keys, cfg32, chunk=4).runs
        for x, y in zip(a, b, strict=True):
            assert x.history == y.history and x.test_error == y.test_error
            assert torch.equal(x.network.params["W1"], y.network.params["W1"])
    assert len({r.test_error for r in batch}) > 1


def test_runs_of_different_shapes_are_refused():
    keys = [RunKey(data=SignalNoiseConfig(d=9), n=8), RunKey(data=SignalNoiseConfig(d=10), n=8)]
    with pytest.raises(ValueError, match="share d, n"):
        train_batched(keys, _cfg(Algorithm.GD))


@pytest.mark.parametrize("sharing", ["shared", "independent"])
@pytest.mark.parametrize("alg", [Algorithm.SGD, Algorithm.SAM])
def test_gamma_rho_decomposition_reconstructs_the_filters_exactly(sharing, alg):
    data = SignalNoiseConfig(d=40, patches=3, mu_norm=2.0, sharing=sharing)
    key = RunKey(data=data, n=6)
    cfg = _cfg(alg)
    r = train_one(key, cfg)
    # Rebuild gamma and rho by least squares on the span of mu and the noise vectors, and compare
    # their maxima with the engine's bookkeeping (an independent route).
    D = r.data
    mu = data.mu()
    vecs, kinds = [mu / mu.norm() ** 2], ["mu"]
    rows = torch.arange(D.n)
    for i in range(D.n):
        for p in range(data.patches):
            if p == int(D.signal_patch[i]):
                continue
            xi = D.noise[i, p]
            if sharing == "shared" and any(k == ("xi", i) for k in kinds):
                continue
            vecs.append(xi / (xi @ xi))
            kinds.append(("xi", i))
    A = torch.stack(vecs, 1)  # (d, K)
    dW = r.network.params["W1"] - r.init_network.params["W1"]
    coef = torch.linalg.lstsq(A, dW.T).solution  # (K, F)
    torch.testing.assert_close(A @ coef, dW.T, rtol=0, atol=1e-10)  # in the span: exact
    j = torch.cat([torch.ones(cfg.m), -torch.ones(cfg.m)]).double()
    gamma = coef[0] * j
    rho = coef[1:]
    assert float(gamma.max()) == pytest.approx(r.max_gamma, rel=1e-8, abs=1e-12)
    assert float(rho.abs().max()) == pytest.approx(r.max_rho, rel=1e-8, abs=1e-12)
    del rows


@pytest.mark.parametrize("projected", [False, True])
def test_test_error_from_the_gaussian_law_matches_explicit_test_points(projected):
    data = SignalNoiseConfig(d=60, mu_norm=1.0, flip=0.1, projected=projected)
    key = RunKey(data=data, n=10)
    cfg = _cfg(Algorithm.GD, steps=5, lr=0.2, sigma_0=0.2)
    net = train_one(key, cfg).network
    W = net.params["W1"][None]
    T = 40000
    err, clean = _test_error(net.arch, W, None, [data], T, [11])
    D = sample_signal_noise(data, T, seed=5)
    pred = torch.where(net(D.flat()) > 0, 1.0, -1.0)
    want, want_clean = (
        float((pred != D.y).double().mean()),
        float((pred != D.y_true).double().mean()),
    )
    se = math.sqrt(0.25 / T)
    assert abs(float(err[0]) - want) < 6 * se and abs(float(clean[0]) - want_clean) < 6 * se


def test_theory_tau_and_the_presets():
    assert theory_tau(m=10, batch=4, patches=2, sigma_p=1.0, d=100) == pytest.approx(1.0)
    kou = preset("kou2023")
    assert kou.train.init is Init.TORCH_DEFAULT and kou.train.steps == 100 and kou.repeats == 10
    assert len(kou.d_grid) * len(kou.mu_grid) == 10_000 and kou.d_grid[-1] == 1090
    assert kou.mu_grid[-1] == pytest.approx(9.9)
    with pytest.raises(ValueError, match="unknown preset 'x'; known: kou2023, chen2023"):
        preset("x")
    cfg = replace(preset("chen2023").train, tau=0.5, tau_scale=2.0)
    assert cfg.sam_tau(SignalNoiseConfig(d=10), 20) == 1.0


@pytest.mark.parametrize(
    ("kw", "match"),
    [({"steps": 0}, "steps"), ({"lr": -1.0}, "lr must"), ({"algorithm": "adam"}, "adam"),
     ({"dtype": torch.float16}, "dtype"), ({"tau": -1.0}, "tau must")],
)  # fmt: skip
def test_bad_train_config_is_refused(kw, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**kw)
