"""The float estimate of the test error along a run, against the rigorous sampled estimate."""

import json
import math

import pytest
import torch

from constructions.architectures import MLP, Network
from sharpness.hypercube.error import clopper_pearson, sampled_hypercube_error
from sharpness.training.runs import Phase, TrainConfig, build_arch, initial_params, train
from sharpness.training.sampled_error import CHUNK, SampledTestSet


def _net(d=6, m=9, seed=0, sign=1.0):
    g = torch.Generator().manual_seed(seed)
    p = {
        "W1": torch.randn(m, d, generator=g, dtype=torch.float64),
        "b1": torch.randn(m, generator=g, dtype=torch.float64),
        "W2": sign * torch.randn(1, m, generator=g, dtype=torch.float64),
    }
    return Network(MLP(2, bias=True), p)


@pytest.mark.parametrize("samples", [100, CHUNK + 7])  # one chunk; two, the second partial
@pytest.mark.parametrize("seed", [0, 3])
def test_float_estimate_equals_the_rigorous_one_on_the_same_points(samples, seed):
    """Same stream, same chunks: no sign of a generic network is within rounding of 0."""
    net = _net(seed=seed)
    fast = SampledTestSet.draw(6, samples, seed).evaluate(net)
    slow = sampled_hypercube_error(net, samples, seed=seed, chunk_size=CHUNK)
    assert fast["test_error"] == slow.zero_one
    assert fast["test_points"] == slow.samples == samples
    assert fast["test_ci"] == [slow.ci_low, slow.ci_high]
    assert math.isclose(fast["test_mse"], slow.mse, rel_tol=1e-12)
    assert fast["test_exact"] is False and fast["test_method"] == "sampled-float"


def test_points_are_uniform_cube_points_with_xor_labels_and_depend_on_the_seed():
    a, b = SampledTestSet.draw(5, 300, 0), SampledTestSet.draw(5, 300, 1)
    assert set(a.X.unique().tolist()) == {-1.0, 1.0} and a.X.shape == (300, 5)
    assert torch.equal(a.y, a.X[:, 0] * a.X[:, 1])
    assert not torch.equal(a.X, b.X)
    assert torch.equal(a.X, SampledTestSet.draw(5, 300, 0).X)


def test_a_flipped_network_has_the_complementary_error():
    """The count is not vacuous: negating W2 turns every correct sign into a mistake."""
    pts = SampledTestSet.draw(6, 500, 0)
    e = pts.evaluate(_net())["test_error"]
    e_flip = pts.evaluate(_net(sign=-1.0))["test_error"]
    assert 0 < e < 1 and e + e_flip == pytest.approx(1.0, abs=1e-12)


def test_a_zero_output_counts_as_a_mistake():
    pts = SampledTestSet.draw(4, 64, 0)
    net = _net(d=4)
    net = Network(net.arch, {**net.params, "W2": torch.zeros_like(net.params["W2"])})
    assert pts.evaluate(net)["test_error"] == 1.0


def test_clopper_pearson_against_its_closed_forms():
    # M = 0: upper = 1 - (alpha/2)^(1/N); M = N: lower = (alpha/2)^(1/N) (independent formulas)
    assert clopper_pearson(0, 50) == (0.0, pytest.approx(1 - 0.025 ** (1 / 50), rel=1e-12))
    assert clopper_pearson(50, 50) == (pytest.approx(0.025 ** (1 / 50), rel=1e-12), 1.0)
    lo, hi = clopper_pearson(7, 100)
    assert lo < 0.07 < hi


@pytest.mark.parametrize(
    "args, needle",
    [((5, 4), "mistakes must be <= samples"), ((0, 0), "samples"), ((-1, 4), "mistakes")],
)
def test_clopper_pearson_rejects_bad_counts(args, needle):
    with pytest.raises(ValueError, match=needle):
        clopper_pearson(*args)


def test_draw_rejects_bad_arguments():
    with pytest.raises(ValueError, match="samples"):
        SampledTestSet.draw(5, 0, 0)


def test_trainer_records_float_estimates_along_the_run_and_a_rigorous_one_at_the_end(tmp_path):
    cfg = TrainConfig(
        arch="bias",
        phases=(Phase(4, 0.05, 0.05),),
        width=12,
        d=6,
        n=10,
        log_every=2,
        eval_every=2,
        test="sampled",
        test_samples=300,
    )
    res = train(cfg, tmp_path / "run", progress=False)
    full = [r for r in res.metrics if "test_error" in r]
    assert [r["test_method"] for r in full] == ["sampled-float"] * 2 + ["sampled-rigorous"]
    # the record at epoch 0 is the initial network's estimate on the rigorous one's points
    arch = build_arch(cfg)
    net0 = Network(arch, initial_params(cfg, arch))
    slow = sampled_hypercube_error(net0, 300, seed=cfg.seed, chunk_size=CHUNK)
    assert full[0]["epoch"] == 0 and full[0]["test_error"] == slow.zero_one
    # the final record is the rigorous estimate of the final network
    slow = sampled_hypercube_error(res.network(), 300, seed=cfg.seed, chunk_size=CHUNK)
    assert full[-1]["test_error"] == slow.zero_one
    lines = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    assert json.loads(lines[-1])["test_method"] == "sampled-rigorous"
