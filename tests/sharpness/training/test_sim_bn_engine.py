"""The Sim-BN C engine (kernels/sim_bn.c) against torch.func, the torch engine, and itself."""

import ctypes
import re

import numpy as np
import pytest
import torch

from constructions.architectures import SimBN
from sharpness.training.algorithms import (
    KernelUnavailableError,
    Loss,
    SimBNEngine,
    StepRule,
    TorchEngine,
    engine_for,
    reference_train,
)
from sharpness.training.kernels import KernelLayoutError, check_layout
from sharpness.training.kernels import sim_bn as sim_bn_kernel
from sharpness.training.kernels.sim_bn import SimBNArgs, load_sim_bn_kernel
from tests.sharpness.training.test_algorithms import RULES, N, _batched, _close, _problem


def _available():
    try:
        load_sim_bn_kernel()
        return True
    except KernelUnavailableError:
        return False


needs_c = pytest.mark.skipif(not _available(), reason="no C compiler")

ARCHS = {"simbn": SimBN(bias=True), "simbn-nobias": SimBN(bias=False)}
SIM_BN_RULES = {
    **RULES,
    "1-SAM logistic": StepRule(0.05, rho=0.1, loss=Loss("logistic", 0.1)),
    "label-noise SGD": StepRule(0.05, label_noise=0.3),
}


def _run(arch, p0, X, y, order, rule, noise=None, projection=None, chunks=(None,)):
    P = _batched(p0)
    eng = SimBNEngine(arch)
    T = order.shape[0]
    cuts = [0, *[c for c in chunks if c is not None], T]
    for a, b in zip(cuts[:-1], cuts[1:], strict=True):
        nz = None if noise is None else noise[None, a:b]
        eng.run(P, X[None], y[None], order[None, a:b], rule, nz, projection)
    return {k: v[0] for k, v in P.items()}, eng


# -- the struct --------------------------------------------------------------------------------
def _c_fields(text: str) -> list[str]:
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    body = re.search(r"struct\s+sim_bn_args\s*\{(.*?)\}\s*;", text, flags=re.S)
    assert body, "no struct sim_bn_args definition"
    return [d.split()[-1].lstrip("*") for d in filter(None, map(str.strip, body[1].split(";")))]


def test_ctypes_struct_mirrors_the_c_struct_names_and_order():
    text = (sim_bn_kernel.resources.files(sim_bn_kernel.__package__) / "sim_bn.h").read_text()
    assert _c_fields(text) == [name for name, _ in SimBNArgs._fields_]


@needs_c
def test_c_layout_equals_the_ctypes_layout_and_a_wrong_mirror_is_refused():
    lib = ctypes.CDLL(str(load_sim_bn_kernel().path))
    check_layout(lib, SimBNArgs, "sim_bn_args_layout")
    broken = type("Broken", (ctypes.Structure,), {"_fields_": SimBNArgs._fields_[:-1]})
    with pytest.raises(KernelLayoutError):
        check_layout(lib, broken, "sim_bn_args_layout")


def test_args_need_every_field():
    with pytest.raises(ValueError, match="missing"):
        SimBNArgs.of(runs=1)


# -- against the references --------------------------------------------------------------------
@needs_c
@pytest.mark.parametrize("rule_id", list(SIM_BN_RULES))
@pytest.mark.parametrize("arch_id", list(ARCHS))
def test_engine_matches_torch_func_reference(arch_id, rule_id):
    """20 steps on +-1 data (C_j stored as int8) against plain torch.func.grad (float64)."""
    arch, rule = ARCHS[arch_id], SIM_BN_RULES[rule_id]
    X, y, p0 = _problem(arch)
    order = np.random.default_rng(2).integers(0, N, size=20)
    noise = None
    if rule.label_noise > 0:
        noise = torch.from_numpy(np.random.default_rng(3).normal(0, 0.3, size=(20, 1)))
    ref = reference_train(arch, dict(p0), X, y, [[k] for k in order], rule, noises=noise)
    got, eng = _run(arch, p0, X, y, order, rule, None if noise is None else noise[:, 0])
    _close(got, ref, f"{arch_id} {rule_id}")


@needs_c
@pytest.mark.parametrize("data", ["integer-large", "gaussian"])
def test_engine_matches_the_torch_engine_on_other_data(data):
    """C_j updated by exact integer rank-one terms (entries > 127), or rebuilt (real data)."""
    arch, rule = ARCHS["simbn"], RULES["SAM+WD"]
    X, y, p0 = _problem(arch)
    if data == "integer-large":
        X = X * 4
    else:
        X = X + 0.3 * torch.randn(X.shape, generator=torch.Generator().manual_seed(5))
    order = np.random.default_rng(4).integers(0, N, size=40)
    P = _batched(p0)
    te = TorchEngine(arch)
    for k in order:
        te.step(P, X[None], y[None], torch.tensor([[k]]), rule)
    got, eng = _run(arch, p0, X, y, order, rule)
    _close(got, {k: v[0] for k, v in P.items()}, data)


@needs_c
def test_patterns_change_and_the_result_is_still_the_dense_one():
    """A long run with many activation-pattern changes (the recheck and update paths)."""
    arch, rule = ARCHS["simbn"], StepRule(0.05, rho=0.3)
    X, y, p0 = _problem(arch, seed=1, scale=0.3)
    order = np.random.default_rng(6).integers(0, N, size=60)
    P = _batched(p0)
    te = TorchEngine(arch)
    for k in order:
        te.step(P, X[None], y[None], torch.tensor([[k]]), rule)
    got, eng = _run(arch, p0, X, y, order, rule)
    certified, rechecked, changed, _ = eng.counters
    assert certified > 0 and rechecked > 0 and changed > 0, eng.counters
    _close(got, {k: v[0] for k, v in P.items()}, "pattern changes")


@needs_c
def test_projection_holds_the_norm_and_matches_the_torch_engine():
    arch, rule = ARCHS["simbn"], RULES["1-SAM"]
    X, y, p0 = _problem(arch)
    order = np.random.default_rng(7).integers(0, N, size=15)
    P = _batched(p0)
    te = TorchEngine(arch)
    for k in order:
        te.step(P, X[None], y[None], torch.tensor([[k]]), rule, projection=2.0)
    got, _ = _run(arch, p0, X, y, order, rule, projection=2.0)
    _close(got, {k: v[0] for k, v in P.items()}, "projection")
    norm = torch.sqrt(got["W1"].square().sum() + got["b1"].square().sum())
    assert abs(float(norm) - 2.0) < 1e-12


@needs_c
def test_a_dead_neuron_stays_as_it_is():
    arch, rule = ARCHS["simbn"], RULES["1-SAM"]
    X, y, p0 = _problem(arch)
    p0 = {k: v.clone() for k, v in p0.items()}
    p0["W1"][0] = 0.0
    p0["b1"][0] = -1.0  # z = -1 on every point: a_0 = 0
    order = np.random.default_rng(8).integers(0, N, size=10)
    got, _ = _run(arch, p0, X, y, order, rule)
    for k in p0:  # neuron 0: index 0 of the neuron axis (the last one of W2)
        first = (lambda v: v[..., 0]) if k == "W2" else (lambda v: v[0])
        assert torch.equal(first(got[k]), first(p0[k])), k
    ref = reference_train(arch, dict(p0), X, y, [[k] for k in order], rule)
    _close(got, ref, "dead neuron")


@needs_c
def test_the_bits_do_not_depend_on_how_a_run_is_cut_into_calls():
    arch, rule = ARCHS["simbn"], StepRule(0.05, rho=0.3)
    X, y, p0 = _problem(arch, seed=1, scale=0.3)
    order = np.random.default_rng(6).integers(0, N, size=60)
    whole, _ = _run(arch, p0, X, y, order, rule)
    cut, _ = _run(arch, p0, X, y, order, rule, chunks=(7, 30, 31))
    assert all(torch.equal(whole[k], cut[k]) for k in whole)


@needs_c
def test_runs_are_independent():
    arch, rule = ARCHS["simbn"], RULES["1-SAM"]
    X, y, p0 = _problem(arch)
    _, _, p1 = _problem(arch, seed=3)
    order = np.random.default_rng(9).integers(0, N, size=(2, 12))
    P = {k: torch.stack([p0[k], p1[k]]).clone() for k in p0}
    SimBNEngine(arch, threads=2).run(P, torch.stack([X, X]), torch.stack([y, y]), order, rule)
    for r, p in enumerate((p0, p1)):
        alone, _ = _run(arch, p, X, y, order[r], rule)
        assert all(torch.equal(P[k][r], alone[k]) for k in p)


# -- choice of engine and refusals -------------------------------------------------------------
@needs_c
def test_engine_for_picks_it_for_batch_size_one_in_float64_only():
    arch = ARCHS["simbn"]
    assert isinstance(engine_for(arch, 1), SimBNEngine)
    assert isinstance(engine_for(arch, 1, backend="c"), SimBNEngine)
    assert isinstance(engine_for(arch, 1, dtype="float32"), TorchEngine)
    assert isinstance(engine_for(arch, 4), TorchEngine)
    with pytest.raises(ValueError, match="batch size 1"):
        engine_for(arch, 4, backend="c")
    with pytest.raises(ValueError, match="float64"):
        engine_for(arch, 1, backend="c", dtype="float32")


@needs_c
def test_engine_refuses_other_inputs():
    from constructions.architectures import MLP

    with pytest.raises(ValueError, match="Sim-BN"):
        SimBNEngine(MLP(2, bias=True))
    arch = ARCHS["simbn"]
    X, y, p0 = _problem(arch)
    P = {k: v.float() for k, v in _batched(p0).items()}
    with pytest.raises(ValueError, match="float64"):
        SimBNEngine(arch).run(P, X[None], y[None], np.zeros((1, 3)), RULES["1-SAM"])
    with pytest.raises(ValueError, match="order"):
        SimBNEngine(arch).run(_batched(p0), X[None], y[None], np.full((1, 3), N), RULES["1-SAM"])


@needs_c
def test_a_sim_bn_run_too_large_for_the_c_matrices_uses_the_torch_engine(monkeypatch, tmp_path):
    import json

    import sharpness.training.runs as runs

    cfg = runs.preset("fig2a", width=8, d=5, n=10, epochs_scale=1e-5)
    monkeypatch.setattr(runs, "SIM_BN_C_BYTES", runs._sim_bn_c_bytes(cfg) - 1)
    runs.train(cfg, tmp_path / "auto", progress=False)
    assert json.loads((tmp_path / "auto" / "metadata.json").read_text())["engines"] == {
        "0": "torch",
        "1": "torch",
    }
    with pytest.raises(ValueError, match="MiB a run"):
        runs.train(cfg.replace(backend="c"), tmp_path / "c", progress=False)
