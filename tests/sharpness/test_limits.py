"""sharpness.limits: the one table of limits and the estimates checked against it."""

import os

import pytest

from sharpness import limits
from sharpness.limits import (
    LIMITS,
    LimitExceededError,
    check_claim_request,
    check_regular_input_file,
    check_train_request,
    claim_memory_bytes,
)

TRAIN = dict(
    width=500,
    depth=2,
    d=30,
    n=100,
    epochs=100,
    batch_size=1,
    log_every=1,
    eval_every=5,
    test="sampled",
    test_samples=1 << 14,
)


def test_limit_message_names_the_limit_the_estimate_and_why():
    with pytest.raises(LimitExceededError) as info:
        LIMITS["hypercube samples"].check("--hypercube-samples 1000000000000", 10**12)
    msg = str(info.value)
    assert msg.startswith("--hypercube-samples 1000000000000: estimated 1e+12 samples")
    assert "above the limit of 1e+08 samples (hypercube samples: " in msg
    assert isinstance(info.value, ValueError)  # bad input: exit 2 in both commands


def test_nan_and_astronomical_estimates_are_refused():
    with pytest.raises(LimitExceededError):
        LIMITS["sampling work"].check("x", float("nan"))
    with pytest.raises(LimitExceededError, match=r"estimated ~10\^3010"):
        LIMITS["exact test points"].check("x", 2**10000)


def test_memory_estimate_matches_the_measurement_it_cites():
    # 4.1 --d 12 --n 3000 peaked at 0.89 GB (module docstring); the estimate is an upper bound
    assert 0.89e9 <= claim_memory_bytes(3000, 12) <= 1.2e9
    assert claim_memory_bytes(10, 4, depth=3) == 8 * 10 * (10 * 6 + 100)


@pytest.mark.parametrize(
    "request_, limit",
    [
        (dict(d=4, n=16, hypercube_samples=10**12), "hypercube samples"),
        (dict(d=40, n=10**9), "training points"),
        (dict(d=10**6, n=10), "input dimension"),
        (dict(d=5000, n=8000), "claim memory"),
        (dict(d=64, n=1000, hypercube_samples=10**8), "sampling work"),
    ],
)
def test_claim_requests_beyond_a_limit_are_refused(request_, limit):
    with pytest.raises(LimitExceededError, match=f"\\({limit}: "):
        check_claim_request(**request_)


def test_the_default_and_documented_claim_requests_pass():
    check_claim_request(d=10, n=100)
    check_claim_request(d=64, n=100, depth=4)
    check_claim_request(d=12, n=4096)
    check_claim_request(d=10, n=100, hypercube_samples=10**6)


@pytest.mark.parametrize(
    "change, limit",
    [
        (dict(test_samples=10**12), "hypercube samples"),
        (dict(width=10**9), "training parameters"),
        (dict(epochs=10**12), "training work"),
        (dict(test="exact", d=40), "exact test points"),
        (dict(test="exact", d=30), "training work"),
        (dict(epochs=10**7, n=1, width=1, d=2, log_every=1, eval_every=10**7), "metric records"),
    ],
)
def test_train_requests_beyond_a_limit_are_refused(change, limit):
    with pytest.raises(LimitExceededError, match=f"\\({limit}: "):
        check_train_request(**{**TRAIN, **change})


def test_every_preset_of_table_2_is_within_the_limits():
    from sharpness.training import cli

    for name in cli.PRESETS:
        config = cli.build_config(cli.parser().parse_args(["--preset", name, "--out", "x"]))
        cli._check_cost(config)


def test_exact_along_run_limit_is_the_trainers():
    from sharpness.training.runs import EXACT_ALONG_RUN_MAX_D

    assert limits._EXACT_ALONG_RUN_MAX_D == EXACT_ALONG_RUN_MAX_D


def test_input_files_must_be_regular_and_are_not_opened(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)  # opening it for reading would block this test forever
    for path, why in (
        (fifo, "not a regular file \\(a named pipe\\)"),
        (tmp_path, "not a regular file \\(a directory\\)"),
        ("/dev/null", "not a regular file \\(a device or socket\\)"),
        (tmp_path / "missing", "no such file"),
    ):
        with pytest.raises(ValueError, match=f"cannot read dataset file .*: {why}"):
            check_regular_input_file(str(path), "dataset file")
    with pytest.raises(ValueError, match="dataset file path is empty"):
        check_regular_input_file("  ", "dataset file")
    (tmp_path / "ok.npz").write_bytes(b"x")
    check_regular_input_file(str(tmp_path / "ok.npz"), "dataset file")


def test_experiment_requests():
    from sharpness.limits import check_experiment_request

    check_experiment_request(seeds=3, threads=1)
    with pytest.raises(LimitExceededError, match=r"--seeds 1000000000: .*\(seeds: "):
        check_experiment_request(seeds=10**9, threads=1)
    with pytest.raises(LimitExceededError, match=r"\(threads: "):
        check_experiment_request(seeds=3, threads=10**5)
