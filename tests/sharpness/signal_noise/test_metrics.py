"""Per-run metrics records: the test error along the way against runs stopped at that step, the
epoch count, and the JSON-lines file."""

import json
import math

import pytest
import torch

from constructions.signal_noise import SignalNoiseConfig
from sharpness.signal_noise import (
    Algorithm,
    RunKey,
    TrainConfig,
    metrics_records,
    train_batched,
    write_metrics,
)

F64 = torch.float64
KEYS = [RunKey(data=SignalNoiseConfig(d=30, mu_norm=2.0), n=10, repeat=r) for r in range(2)]


def _cfg(steps, **kw):
    return TrainConfig(algorithm=Algorithm.SAM, steps=steps, lr=0.5, batch=4, m=3, sigma_0=0.1,
                       n_test=200, dtype=F64, record_every=3, **kw)  # fmt: skip


def test_test_error_along_the_way_equals_runs_stopped_there():
    cfg = _cfg(9, record_test_error=True)
    runs = train_batched(KEYS, cfg).runs
    for run in runs:
        assert [s for s, _ in run.test_history] == [s for s, *_ in run.history] == [0, 3, 6, 9]
        assert run.test_history[-1][1] == run.test_error
    for stop in (3, 6):  # the same seeds: the first `stop` steps are the same steps
        short = train_batched(KEYS, _cfg(stop)).runs
        for run, ref in zip(runs, short, strict=True):
            assert dict(run.test_history)[stop] == ref.test_error
            assert metrics_records(ref, _cfg(stop))[-1]["train_loss"] == pytest.approx(
                dict((s, loss) for s, _, _, loss in run.history)[stop], rel=1e-12
            )
    recs = metrics_records(runs[0], cfg)
    per_epoch = math.ceil(10 / 4)
    assert [r["epoch"] for r in recs] == [0, 3 / per_epoch, 6 / per_epoch, 9 / per_epoch]
    assert all("test_error" in r for r in recs)
    assert recs[-1]["max_rho"] == runs[0].max_rho and recs[-1]["max_gamma"] == runs[0].max_gamma


def test_without_the_option_only_the_last_record_has_a_test_error(tmp_path):
    cfg = _cfg(7)
    runs = train_batched(KEYS, cfg).runs
    assert runs[0].test_history == ()
    recs = metrics_records(runs[0], cfg)
    assert [r["step"] for r in recs] == [0, 3, 6, 7]
    assert ["test_error" in r for r in recs] == [False, False, False, True]
    path = write_metrics(tmp_path / "m" / "metrics.jsonl", runs, cfg, extra={"cell": "x"})
    lines = [json.loads(s) for s in path.read_text().splitlines()]
    assert len(lines) == 8 and [x["repeat"] for x in lines] == [0] * 4 + [1] * 4
    assert all(x["cell"] == "x" for x in lines)
    assert lines[4:] == [{"cell": "x", "repeat": 1} | r for r in metrics_records(runs[1], cfg)]
    assert sorted(p.name for p in path.parent.iterdir()) == ["metrics.jsonl"]  # no temp left
