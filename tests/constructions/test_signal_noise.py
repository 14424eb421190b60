"""The signal-noise data model: patch structure, flip rate, SNR, options, determinism."""

import math

import pytest
import torch

from constructions.signal_noise import NoiseSharing, SignalNoiseConfig, sample_signal_noise


def test_patch_structure_one_signal_patch_and_noise_elsewhere():
    cfg = SignalNoiseConfig(d=50, patches=4, mu_norm=3.0, flip=0.2, sharing="independent")
    D = sample_signal_noise(cfg, 400, seed=1)
    rows = torch.arange(D.n)
    sig = D.X[rows, D.signal_patch]
    torch.testing.assert_close(sig, D.y_true[:, None] * cfg.mu(), rtol=0, atol=0)
    noise = D.X.clone()
    noise[rows, D.signal_patch] = 0
    torch.testing.assert_close(noise, D.noise, rtol=0, atol=0)
    # independent noise: different patches differ; the signal position is uniform
    other = (D.signal_patch + 1) % 4
    other2 = (D.signal_patch + 2) % 4
    assert not torch.equal(D.X[rows, other], D.X[rows, other2])
    counts = torch.bincount(D.signal_patch, minlength=4).double() / D.n
    assert torch.all((counts - 0.25).abs() < 4 * math.sqrt(0.25 * 0.75 / D.n))


def test_shared_noise_is_the_same_vector_in_every_noise_patch():
    cfg = SignalNoiseConfig(d=20, patches=3, mu_norm=1.0, sharing=NoiseSharing.SHARED)
    D = sample_signal_noise(cfg, 50, seed=2)
    rows = torch.arange(D.n)
    a, b = D.X[rows, (D.signal_patch + 1) % 3], D.X[rows, (D.signal_patch + 2) % 3]
    torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_flip_rate_and_noise_variance_match_the_model():
    cfg = SignalNoiseConfig(d=200, mu_norm=2.0, sigma_p=1.5, flip=0.1)
    D = sample_signal_noise(cfg, 4000, seed=3)
    rate = float(D.flipped.double().mean())
    assert abs(rate - 0.1) < 4 * math.sqrt(0.09 / 4000)  # 4 standard errors
    assert abs(float(D.y_true.mean())) < 4 / math.sqrt(4000)
    rows = torch.arange(D.n)
    xi = D.X[rows, 1 - D.signal_patch]
    var = float(xi.var())
    assert abs(var - 1.5**2) < 0.02 * 1.5**2
    assert cfg.snr == pytest.approx(2.0 / (1.5 * math.sqrt(200)))
    assert cfg.bayes_error == 0.1


def test_projected_noise_is_orthogonal_to_mu():
    cfg = SignalNoiseConfig(d=30, mu_norm=2.0, projected=True)
    D = sample_signal_noise(cfg, 100, seed=4)
    assert float((D.noise @ cfg.mu()).abs().max()) < 1e-12
    unprojected = sample_signal_noise(SignalNoiseConfig(d=30, mu_norm=2.0), 100, seed=4)
    assert float((unprojected.noise @ cfg.mu()).abs().max()) > 0.1  # the negative control


def test_same_seed_same_numbers_other_seed_other_numbers():
    cfg = SignalNoiseConfig(d=10)
    a, b = sample_signal_noise(cfg, 5, 7), sample_signal_noise(cfg, 5, 7)
    assert torch.equal(a.X, b.X) and torch.equal(a.y, b.y)
    assert not torch.equal(a.X, sample_signal_noise(cfg, 5, 8).X)
    assert a.flat().shape == (5, 20)


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"d": 0}, "d must be"),
        ({"d": 5, "patches": 1}, "patches must be"),
        ({"d": 5, "flip": 0.5}, "flip must be in"),
        ({"d": 5, "sigma_p": 0.0}, "sigma_p must be > 0"),
        ({"d": 5, "mu_norm": -1.0}, "mu_norm must be >= 0"),
        ({"d": 5, "mu_norm": 0.0, "projected": True}, "projected noise needs"),
        ({"d": 5, "sharing": "sometimes"}, "sometimes"),
    ],
)
def test_bad_configs_are_refused_naming_the_value(kw, match):
    with pytest.raises(ValueError, match=match):
        SignalNoiseConfig(**kw)
