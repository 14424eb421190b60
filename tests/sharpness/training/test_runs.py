"""The trainer: Table 2 presets, initialization, exact sharpness, determinism and resume."""

import json
import math

import numpy as np
import pytest
import torch

from constructions.architectures import Network
from constructions.tolerance import tolerance_for
from sharpness.reference import dense_hessian_trace
from sharpness.training.algorithms import Loss, StepRule, reference_train
from sharpness.training.runs import (
    Phase,
    TrainConfig,
    build_arch,
    closed_form_trace,
    exact_sharpness,
    initial_params,
    load_run,
    make_dataset,
    one_sided_sharpness,
    preset,
    train,
    train_many,
)

TOL = tolerance_for(torch.float64)

# Appendix B.1, Table 2, typed from the paper: (lr, rho, batch size, weight decay, epochs) rows.
TABLE2 = {
    "fig1a": [(0.01, 0, 100, 0.05, 1e5)],
    "fig1b": [(0.01, 0.05, 1, 0, 1e5)],
    "fig2a": [(0.005, 0.1, 1, 0, 1e5), (0.003, 1, 1, 0, 1e5)],
    "fig4a": [(0.01, 0, 100, 0.05, 1e5)],
    "fig4b": [(0.01, 0.05, 1, 0, 2e5), (0.01, 0.1, 1, 0, 4e5)],
    "fig5a": [(0.001, 0, 1, 0.05, 1e5)],
    "fig5b": [(0.0005, 0.05, 1, 0, 1e5), (0.001, 0.1, 1, 0, 1e5), (0.005, 1, 1, 0, 5e3)],
    "fig6a": [(0.1, 0.1, 1, 0, 1e5)],
    "fig6b": [(0.01, 0.1, 1, 0, 5e2), (0.01, 0.5, 1, 0, 5e2), (0.01, 1, 1, 0, 5e2)],
    "fig7a": [(0.01, 0.2, 1, 0, 1e5)],
    "fig7b": [(0.01, 0.2, 1, 0, 1e5)],
    "fig8a": [(0.1, 0, 10, 0.01, 1e5)],
    "fig8b": [(0.1, 0.2, 1, 0, 1e5)],
    "fig9a": [(0.01, 0, 1, 0.05, 1e5)],
    "fig9b": [(0.1, 0.2, 1, 0, 1e5)],
    "fig10a": [(0.1, 0.2, 1, 0, 4e4)],
    "fig10b": [(1, 0.5, 1, 0, 1e3), (1, 1, 1, 0, 1e5)],
    "fig11a": [(0.01, 0, 1, 0.05, 1e5)],
    "fig11b": [(0.01, 0.05, 1, 0, 1e5)],
}


def small(**kw):
    base = dict(
        arch="bias",
        algo="sam",
        phases=(Phase(6, 0.05, 0.1),),
        width=8,
        d=5,
        n=10,
        seed=1,
        log_every=1,
        eval_every=2,
    )
    base.update(kw)
    return TrainConfig(**base)


@pytest.mark.parametrize("name", list(TABLE2))
def test_presets_are_table_2(name):
    cfg = preset(name)
    got = [(p.lr, p.rho, p.batch_size, p.weight_decay, p.epochs) for p in cfg.phases]
    assert got == [(a, b, c, d, int(e)) for a, b, c, d, e in TABLE2[name]]
    assert cfg.width == 500 and cfg.n == 100
    assert cfg.d == (10 if name.startswith("fig7") else 30)


def test_preset_extras():
    assert preset("fig6a").first_layer_scale == 0.01
    assert preset("fig10b").first_layer_scale == 0.01
    assert preset("fig6b").projection == 10.0
    assert preset("fig11b").depth == 3
    assert preset("fig7a").data == "ball"
    assert preset("fig8b").loss == "logistic"


def test_first_layer_scale_and_projection_at_initialization():
    base = initial_params(small(arch="simln"))
    scaled = initial_params(small(arch="simln", first_layer_scale=0.01))
    for k in ("W1", "b1"):
        assert torch.equal(scaled[k], base[k] * 0.01)
    assert torch.equal(scaled["W2"], base["W2"])
    proj = initial_params(small(arch="simln", projection=10.0))
    norm = math.sqrt(float((proj["W1"] ** 2).sum() + (proj["b1"] ** 2).sum()))
    assert TOL.close(norm, 10.0)
    assert torch.equal(
        initial_params(small(arch="simbn"))["gamma"],
        torch.full((8,), 1 / math.sqrt(8), dtype=torch.float64),
    )
    assert torch.equal(
        initial_params(small(arch="simbn", gamma_init="one"))["gamma"],
        torch.ones(8, dtype=torch.float64),
    )


@pytest.mark.parametrize(
    "kw,needle",
    [
        ({"arch": "resnet"}, "unknown architecture 'resnet'"),
        ({"algo": "adam"}, "unknown algorithm 'adam'"),
        ({"phases": (Phase(2, 0.1, 0.1, batch_size=11),)}, "batch size 11 is larger than n = 10"),
        ({"algo": "gd", "phases": (Phase(2, 0.1, 0.0, batch_size=3),)}, "batch size n = 10"),
        ({"algo": "sgd"}, "sgd takes rho = 0"),
        ({"phases": (Phase(2, 0.1, 0.0),)}, "SAM needs rho > 0"),
        ({"algo": "label-noise-sgd", "phases": (Phase(2, 0.1),)}, "label noise > 0"),
        ({"arch": "simbn", "projection": 1.0}, "projected training"),
        ({"gamma_init": "zero"}, "gamma_init"),
        ({"eval_every": 3, "log_every": 2}, "multiple of log_every"),
    ],
)
def test_config_rejects_bad_values(kw, needle):
    with pytest.raises(ValueError, match=needle):
        small(**kw)


@pytest.mark.parametrize(
    "kw,needle",
    [({"lr": -1.0}, "lr must be > 0"), ({"lr": 0.1, "rho": -0.5}, "rho must be >= 0")],
)
def test_phase_rejects_bad_values(kw, needle):
    with pytest.raises(ValueError, match=needle):
        Phase(epochs=1, **kw)


@pytest.mark.parametrize("arch", ["nobias", "bias", "bias-softplus", "simln"])
def test_closed_form_trace_matches_dense_hessian(arch):
    cfg = small(arch=arch, width=6, d=4, n=7)
    ds = make_dataset(cfg)
    X, y = ds.tensors()
    net = Network(build_arch(cfg), initial_params(cfg))
    dense = dense_hessian_trace(net, X, y)
    assert TOL.close(closed_form_trace(net, X, y), dense)
    s, why = exact_sharpness(net, X, y)
    assert why == "" and TOL.close(s, dense)


def test_closed_form_trace_logistic_matches_dense_hessian():
    cfg = small(arch="bias-softplus", width=6, d=4, n=7)
    X, y = make_dataset(cfg).tensors()
    arch = build_arch(cfg)
    p = initial_params(cfg)
    loss = Loss("logistic", 0.1)
    names = arch.param_names
    flat = torch.cat([p[k].reshape(-1) for k in names])

    def L(v):
        params, s = {}, 0
        for k in names:
            params[k] = v[s : s + p[k].numel()].reshape(p[k].shape)
            s += p[k].numel()
        return torch.mean(loss.value(arch.forward(params, X), y))

    dense = float(torch.trace(torch.func.hessian(L)(flat)))
    assert TOL.close(closed_form_trace(Network(arch, p), X, y, loss), dense)


def _replay_reference(cfg):
    """The trainer's run replayed by torch.func steps (note 4: a reshuffle per epoch)."""
    arch = build_arch(cfg)
    X, y = make_dataset(cfg).tensors()
    rng = np.random.Generator(np.random.PCG64([cfg.seed, 2]))
    params = initial_params(cfg, arch)
    for ph in cfg.phases:
        rule = StepRule(ph.lr, ph.rho, ph.weight_decay)
        for _ in range(ph.epochs):
            perm = rng.permutation(cfg.n)
            batches = [perm[s : s + ph.batch_size] for s in range(0, cfg.n, ph.batch_size)]
            params = reference_train(arch, params, X, y, batches, rule, projection=cfg.projection)
    return params


@pytest.mark.parametrize(
    "kw",
    [
        {"arch": "bias"},
        {"arch": "nobias", "algo": "gd", "phases": (Phase(4, 0.1, 0, 10, 0.05),)},
        {"arch": "bias-softplus", "algo": "sgd", "phases": (Phase(3, 0.05, 0, 3, 0.05),)},
        {"arch": "simln", "projection": 3.0},
        {"arch": "simbn", "phases": (Phase(2, 0.05, 0.1), Phase(2, 0.03, 0.5))},
    ],
    ids=[
        "1-sam-bias",
        "gd-wd-nobias",
        "sgd-b3-softplus",
        "sam-simln-projected",
        "sam-simbn-2phases",
    ],
)
def test_trainer_matches_reference_step_for_step(kw):
    cfg = small(test="none", **kw)
    res = train(cfg, None, progress=False)
    ref = _replay_reference(cfg)
    for k in ref:
        diff = float(np.max(np.abs(res.params[k] - ref[k].numpy())))
        assert diff <= TOL.atol + TOL.rtol * float(ref[k].abs().max()), (k, diff)


def test_metrics_record_loss_exact_sharpness_and_exact_test_error(tmp_path):
    res = train(small(), tmp_path / "run", progress=False)
    lines = [json.loads(s) for s in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in lines] == list(range(7))
    full = [r for r in lines if "sharpness" in r]
    assert [r["epoch"] for r in full] == [0, 2, 4, 6]
    assert all(r["test_exact"] and r["test_points"] == 32 for r in full)
    net = res.network()
    X, y = res.dataset.tensors()
    assert TOL.close(full[-1]["sharpness"], dense_hessian_trace(net, X, y))
    assert res.finished and (tmp_path / "run" / "final.npz").exists()


def test_same_seed_same_numbers_and_batched_seeds_equal_separate_runs(tmp_path):
    cfgs = [small(seed=s) for s in (0, 1, 2)]
    together = train_many(cfgs, [tmp_path / f"t{s}" for s in range(3)], progress=False)
    for s, cfg in enumerate(cfgs):
        alone = train(cfg, tmp_path / f"a{s}", progress=False)
        for k in alone.params:
            assert np.array_equal(alone.params[k], together[s].params[k])
        a = (tmp_path / f"a{s}" / "metrics.jsonl").read_text()
        assert a == (tmp_path / f"t{s}" / "metrics.jsonl").read_text()
    assert not np.array_equal(together[0].params["W1"], together[1].params["W1"])


@pytest.mark.parametrize("arch", ["bias", "simbn"])
def test_resume_after_interruption_equals_uninterrupted(tmp_path, arch):
    cfg = small(arch=arch, phases=(Phase(5, 0.05, 0.1), Phase(4, 0.03, 0.2)), eval_every=3)
    whole = train(cfg, tmp_path / "whole", progress=False)
    part = tmp_path / "part"
    for stop in (2, 3):  # two interruptions, one of them inside the first phase
        r = train(cfg, part, progress=False, stop_after_epochs=stop)
        assert not r.finished
    resumed = train(cfg, part, progress=False)
    assert resumed.finished and resumed.epoch == whole.epoch
    for k in whole.params:
        assert np.array_equal(whole.params[k], resumed.params[k])
    a = (tmp_path / "whole" / "metrics.jsonl").read_text()
    assert a == (part / "metrics.jsonl").read_text()
    again = train(cfg, part, progress=False)  # a finished run is reused
    assert np.array_equal(again.params["W1"], whole.params["W1"])
    assert load_run(part).finished


def test_directory_with_another_configuration_is_refused(tmp_path):
    train(small(), tmp_path / "run", progress=False, stop_after_epochs=1)
    with pytest.raises(ValueError, match="different configuration"):
        train(small(seed=5), tmp_path / "run", progress=False)


def test_divergence_is_recorded_not_raised(tmp_path):
    cfg = small(algo="gd", phases=(Phase(30, 50.0, 0.0, 10),), test="none")
    res = train(cfg, tmp_path / "run", progress=False)
    assert res.finished and res.metrics[-1].get("diverged") is True


def test_one_sided_sharpness_is_the_trace_away_from_interpolation():
    """Tr H = (2/n) sum ||grad f||^2 for a ReLU MLP at any point (both sides agree off kinks)."""
    cfg = small(arch="bias", width=6, d=4, n=7)
    X, y = make_dataset(cfg).tensors()
    net = Network(build_arch(cfg), initial_params(cfg))
    assert float(torch.max(torch.abs(net(X) - y))) > 0.1  # far from interpolation
    lo, hi = one_sided_sharpness(net, X)
    dense = dense_hessian_trace(net, X, y)
    assert TOL.close(lo, dense) and TOL.close(hi, dense)
    assert (
        one_sided_sharpness(
            Network(build_arch(small(arch="simln")), initial_params(small(arch="simln"))), X
        )
        is None
    )
