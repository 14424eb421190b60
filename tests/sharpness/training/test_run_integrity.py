"""A run directory loses nothing and trusts nothing (issue 15, section 3; issue 14, run metadata).

Each data-loss path is reproduced: a kill after "finished" is saved but before final.npz and
summary.json, a corrupt metrics line, a corrupt or edited checkpoint (one case each), a resume
on another engine; and a finished run extended with more epochs equals one run in one go.
"""

import datetime
import io
import json
import re
import zipfile

import numpy as np
import pytest

import sharpness.training.runs as runs
from sharpness.training.runs import Phase, load_run, train
from tests.sharpness.training.test_kernel import needs_c
from tests.sharpness.training.test_runs import small  # the same small run as the resume tests


class Kill(BaseException):
    """Stands for SIGKILL: nothing after the point where it is raised runs."""


def _cli(capsys, *args):
    from sharpness.training.cli import main

    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def _metrics(out):
    return (out / "metrics.jsonl").read_text()


# --------------------------------------------------------------------------------------------
# A finished run can always be completed
# --------------------------------------------------------------------------------------------
def test_a_kill_between_finished_and_final_files_is_completed_on_rerun(tmp_path, monkeypatch):
    out = tmp_path / "run"

    def killed(self, *a):
        raise Kill

    monkeypatch.setattr(runs._Run, "write_final", killed)
    with pytest.raises(Kill):
        train(small(), out, progress=False)
    assert load_run(out).finished  # the checkpoint says finished ...
    assert not (out / "final.npz").exists() and not (out / "summary.json").exists()  # ... no files
    monkeypatch.undo()
    again = train(small(), out, progress=False)
    assert again.finished
    final = np.load(out / "final.npz")
    for k, v in again.params.items():
        assert np.array_equal(final[k], v)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["epochs"] == 6 and summary["final"] == again.metrics[-1]
    whole = train(small(), tmp_path / "whole", progress=False)
    assert _metrics(out) == _metrics(tmp_path / "whole")
    assert np.array_equal(whole.params["W1"], again.params["W1"])


# --------------------------------------------------------------------------------------------
# One corrupt line of metrics.jsonl does not erase history
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("finished", [True, False], ids=["finished", "interrupted"])
def test_a_corrupt_middle_metrics_line_is_refused_and_nothing_is_dropped(tmp_path, finished):
    out = tmp_path / "run"
    train(small(), out, progress=False, stop_after_epochs=None if finished else 4)
    lines = _metrics(out).splitlines()
    assert len(lines) == (7 if finished else 5)
    lines[2] = lines[2][: len(lines[2]) // 2]  # a middle line cut in half
    text = "\n".join(lines) + "\n"
    (out / "metrics.jsonl").write_text(text)
    with pytest.raises(ValueError, match=r"metrics.jsonl: line 3 of \d+ is not a metrics record"):
        train(small(), out, progress=False)
    assert _metrics(out) == text  # every record still there, the file untouched
    with pytest.raises(ValueError, match="line 3"):
        load_run(out)


def test_a_corrupt_metrics_line_is_exit_2_through_the_command(tmp_path, capsys):
    args = ["--width", "8", "--d", "5", "--n", "10", "--epochs", "4", "--out", str(tmp_path / "r")]
    assert _cli(capsys, *args, "--no-progress")[0] == 0
    path = tmp_path / "r" / "metrics.jsonl"
    lines = path.read_text().splitlines()
    lines[1] = "{not json"
    path.write_text("\n".join(lines) + "\n")
    code, _, err = _cli(capsys, *args, "--no-progress")
    assert code == 2 and "line 2" in err and len(err.strip().splitlines()) == 1
    assert len(path.read_text().splitlines()) == len(lines)


def test_a_line_cut_by_a_kill_at_the_end_is_rewritten_and_resume_is_bitwise(tmp_path):
    whole = train(small(), tmp_path / "whole", progress=False)
    out = tmp_path / "part"
    train(small(), out, progress=False, stop_after_epochs=3)
    with open(out / "metrics.jsonl", "a") as fh:
        fh.write('{"epoch": 4, "train_lo')  # the write a kill interrupted
    resumed = train(small(), out, progress=False)
    assert np.array_equal(resumed.params["W1"], whole.params["W1"])
    assert _metrics(out) == _metrics(tmp_path / "whole")


def test_records_out_of_order_are_refused(tmp_path):
    out = tmp_path / "run"
    train(small(), out, progress=False, stop_after_epochs=4)
    lines = _metrics(out).splitlines()
    lines[1], lines[2] = lines[2], lines[1]
    (out / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match="does not follow"):
        train(small(), out, progress=False)


# --------------------------------------------------------------------------------------------
# Corrupt or edited checkpoints are refused, naming the file
# --------------------------------------------------------------------------------------------
def _rewrite(path, edit):
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    meta = json.loads(str(arrays["meta"]))
    edit(arrays, meta)
    arrays["meta"] = np.array(json.dumps(meta))
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)


def _truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _bomb(path):
    """A small archive whose member declares 16 MiB of zeros (a zip bomb for this file)."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": "<f8", "fortran_order": False, "shape": (1 << 21,)}
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open("p_W1.npy", "w", force_zip64=True) as fh:
            fh.write(buf.getvalue())
            chunk = bytes(1 << 20)
            for _ in range(16):
                fh.write(chunk)


def _huge_header(path):
    def edit(arrays, meta):
        arrays.pop("p_W1")

    _rewrite(path, edit)
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": "<f8", "fortran_order": False, "shape": (1 << 30, 1 << 10)}
    )
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr("p_W1.npy", buf.getvalue() + bytes(64))


def _meta(**changes):
    return lambda p: _rewrite(p, lambda arrays, meta: meta.update(changes))


def _array(name, fn):
    return lambda p: _rewrite(p, lambda arrays, meta: arrays.__setitem__(name, fn(arrays[name])))


def _nan(a):
    a = a.copy()
    a.flat[3] = np.nan
    return a


def _drop(name):
    return lambda p: _rewrite(p, lambda arrays, meta: arrays.pop(name))


CORRUPTIONS = {
    "truncated": (_truncate, "corrupt or truncated"),
    "empty": (lambda p: p.write_bytes(b""), "is empty"),
    "not-a-zip": (lambda p: p.write_bytes(b"x" * 100), "corrupt"),
    "missing-key": (_drop("p_b1"), r"missing \['p_b1'\]"),
    "missing-meta-field": (
        lambda p: _rewrite(p, lambda arrays, meta: meta.pop("order_rng")),
        "lacks 'order_rng'",
    ),
    "nan-params": (_array("p_W1", _nan), "NaN or inf, and the run did not diverge"),
    "wrong-dtype": (_array("p_W1", lambda a: a.astype(np.float32)), "W1 is float32"),
    "wrong-shape": (_array("p_W2", lambda a: a[:, :3]), "W2 is float64 of shape"),
    "epoch-negative": (_meta(epoch=-1), r"epoch -1 is outside \[0, 6\]"),
    "epoch-too-large": (_meta(epoch=7), r"epoch 7 is outside \[0, 6\]"),
    "epoch-not-int": (_meta(epoch=2.5), "epoch 2.5 is outside"),
    "step-inconsistent": (_meta(step=3), "step 3 is not the 30 steps of 3 epochs"),
    "finished-early": (_meta(finished=True), "finished at epoch 3, before the last epoch 6"),
    "bad-rng-state": (_meta(order_rng={"bit_generator": "MT19937"}), "order_rng is not"),
    "bad-engine": (_meta(engines={"0": "gpu"}), "engines"),
    "zip-bomb": (_bomb, "declares 16777344 uncompressed bytes, above the limit"),
    "huge-header": (_huge_header, "declares shape"),
}


@pytest.mark.parametrize("case", list(CORRUPTIONS))
def test_a_corrupt_or_edited_checkpoint_is_refused_naming_the_file(tmp_path, case):
    out = tmp_path / "run"
    train(small(), out, progress=False, stop_after_epochs=3)
    path = out / "checkpoint.npz"
    corrupt, needle = CORRUPTIONS[case]
    corrupt(path)
    before = path.read_bytes()
    with pytest.raises(ValueError, match=needle) as info:
        train(small(), out, progress=False)
    assert str(path) in str(info.value)
    assert path.read_bytes() == before  # refused, not repaired over
    with pytest.raises(ValueError, match=re.escape(str(path))):
        load_run(out)


def test_a_corrupt_checkpoint_is_exit_2_through_the_command(tmp_path, capsys):
    args = ["--width", "8", "--d", "5", "--n", "10", "--epochs", "4", "--out", str(tmp_path / "r")]
    assert _cli(capsys, *args, "--no-progress")[0] == 0
    _truncate(tmp_path / "r" / "checkpoint.npz")
    code, _, err = _cli(capsys, *args, "--no-progress")
    assert code == 2 and "checkpoint.npz" in err and "Traceback" not in err


def test_a_diverged_run_keeps_its_nan_parameters_and_is_reused(tmp_path):
    cfg = small(algo="gd", phases=(Phase(30, 50.0, 0.0, 10),), test="none")
    first = train(cfg, tmp_path / "run", progress=False)
    assert first.finished and first.epoch < 30 and first.metrics[-1]["diverged"]
    again = train(cfg, tmp_path / "run", progress=False)  # finished early, and legitimately so
    assert again.finished and again.epoch == first.epoch


# --------------------------------------------------------------------------------------------
# --out
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("target", ["", "file", "/dev/null"])
def test_an_unusable_out_is_refused(tmp_path, target):
    if target == "file":
        target = tmp_path / "f"
        target.write_text("keep")
    with pytest.raises(ValueError, match="--out"):
        train(small(), target, progress=False)
    if target != "" and target != "/dev/null":
        assert target.read_text() == "keep"


# --------------------------------------------------------------------------------------------
# The engine
# --------------------------------------------------------------------------------------------
def test_the_engine_is_recorded_and_a_resume_on_another_engine_is_refused(tmp_path):
    out = tmp_path / "run"
    train(small(), out, progress=False, stop_after_epochs=2)
    with np.load(out / "checkpoint.npz") as data:
        engines = json.loads(str(data["meta"]))["engines"]
    assert set(engines) == {"0"} and engines["0"] in ("c", "torch")
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["engines"] == engines
    if engines["0"] != "c":
        return  # no compiler here: the refusal is tested with one below
    # a phase the torch engine began (e.g. under auto on a machine without a compiler) stays
    # on the torch engine under auto, so that the resumed run is the run
    _rewrite(out / "checkpoint.npz", lambda arrays, m: m.update(engines={"0": "torch"}))
    assert train(small(), out, progress=False).finished
    assert json.loads((out / "metadata.json").read_text())["engines"] == {"0": "torch"}
    # backend c cannot continue it: refused
    out2 = tmp_path / "run2"
    train(small(backend="c"), out2, progress=False, stop_after_epochs=2)
    _rewrite(out2 / "checkpoint.npz", lambda arrays, m: m.update(engines={"0": "torch"}))
    with pytest.raises(ValueError, match=r"round differently .*use another --out"):
        train(small(backend="c"), out2, progress=False)


def test_backend_c_without_a_compiler_is_exit_2(tmp_path, monkeypatch, capsys):
    import sharpness.training.kernels.one_sam as one_sam

    monkeypatch.setattr(one_sam, "_KERNEL", None)
    monkeypatch.setenv("CC", "")
    monkeypatch.setenv("PATH", str(tmp_path))
    args = ["--width", "8", "--d", "5", "--n", "10", "--epochs", "2", "--backend", "c"]
    code, _, err = _cli(capsys, *args, "--out", str(tmp_path / "r"), "--no-progress")
    assert code == 2 and "C kernel is unavailable (no C compiler found" in err
    assert len(err.strip().splitlines()) == 1


# --------------------------------------------------------------------------------------------
# Metadata, and extending a finished run
# --------------------------------------------------------------------------------------------
def test_a_session_killed_without_a_clean_exit_is_marked_killed_on_resume(tmp_path):
    out = tmp_path / "run"
    train(small(), out, progress=False, stop_after_epochs=2)
    meta = json.loads((out / "metadata.json").read_text())
    meta["sessions"][-1].update(outcome="running", ended=None)  # what a SIGKILL leaves
    del meta["engines"]
    (out / "metadata.json").write_text(json.dumps(meta))
    train(small(), out, progress=False)
    meta = json.loads((out / "metadata.json").read_text())
    assert [s["outcome"] for s in meta["sessions"]] == ["killed", "finished"]
    assert set(meta["engines"]) == {"0"}


def test_metadata_records_when_where_what_and_how(tmp_path):
    out = tmp_path / "run"
    train(small(), out, progress=False, stop_after_epochs=2)
    res = train(small(), out, progress=False)
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["config"] == json.loads((out / "config.json").read_text()) == small().to_dict()
    assert meta["host"] and meta["versions"]["numpy"] == np.__version__
    import torch

    assert meta["versions"]["torch"] == torch.__version__
    assert meta["git_commit"] is None or re.fullmatch(r"[0-9a-f]{40}", meta["git_commit"])
    first, second = meta["sessions"]
    assert (first["outcome"], first["from_epoch"], first["to_epoch"]) == ("stopped", 0, 2)
    assert (second["outcome"], second["from_epoch"], second["to_epoch"]) == ("finished", 2, 6)
    stamps = [
        datetime.datetime.fromisoformat(s[k]) for s in (first, second) for k in ("started", "ended")
    ]
    assert stamps == sorted(stamps) and all(t.tzinfo is not None for t in stamps)
    assert meta["finished"] == second["ended"] and res.metadata == meta


@pytest.mark.parametrize(
    "log_every,eval_every,old,new",
    [(1, 2, 5, 9), (2, 4, 5, 9), (1, 1, 6, 7)],
    ids=["old-end-on-log-grid", "old-end-off-log-grid", "one-more"],
)
def test_extending_a_finished_run_equals_one_run_in_one_go(
    tmp_path, log_every, eval_every, old, new
):
    def cfg(epochs):
        return small(phases=(Phase(epochs, 0.05, 0.1),), log_every=log_every, eval_every=eval_every)

    out = tmp_path / "ext"
    assert train(cfg(old), out, progress=False).finished
    extended = train(cfg(new), out, progress=False)
    whole = train(cfg(new), tmp_path / "whole", progress=False)
    assert extended.finished and extended.epoch == new
    for k in whole.params:
        assert np.array_equal(extended.params[k], whole.params[k])
    assert _metrics(out) == _metrics(tmp_path / "whole")
    assert json.loads((out / "config.json").read_text()) == cfg(new).to_dict()
    assert json.loads((out / "summary.json").read_text())["epochs"] == new


def test_extending_a_multi_phase_run_grows_its_last_phase_only(tmp_path):
    two = (Phase(3, 0.05, 0.1), Phase(2, 0.03, 0.2))
    out = tmp_path / "run"
    train(small(phases=two), out, progress=False)
    longer = (two[0], Phase(5, 0.03, 0.2))
    extended = train(small(phases=longer), out, progress=False)
    whole = train(small(phases=longer), tmp_path / "whole", progress=False)
    assert np.array_equal(extended.params["W1"], whole.params["W1"])
    for changed in (
        (Phase(4, 0.05, 0.1), Phase(5, 0.03, 0.2)),  # an earlier phase
        (two[0], Phase(9, 0.02, 0.2)),  # the last phase's learning rate
        (two[0], Phase(4, 0.03, 0.2)),  # shorter than recorded
    ):
        with pytest.raises(ValueError, match="different configuration"):
            train(small(phases=changed), out, progress=False)


def test_the_command_extends_a_finished_run_with_a_larger_epochs(tmp_path, capsys):
    base = ["--width", "8", "--d", "5", "--n", "10", "--seed", "2", "--no-progress", "--json"]
    out = str(tmp_path / "ext")
    assert _cli(capsys, *base, "--epochs", "150", "--out", out)[0] == 0
    code, text, err = _cli(capsys, *base, "--epochs", "250", "--out", out)
    assert code == 0, err
    recorded = json.loads((tmp_path / "ext" / "config.json").read_text())
    # the intervals of the 150-epoch run are kept (250 epochs alone would log every 2)
    le, ee = recorded["log_every"], recorded["eval_every"]
    assert (le, ee) == (1, 7)
    whole = str(tmp_path / "whole")
    one_go = _cli(
        capsys, *base, "--epochs", "250", "--log-every", "1", "--eval-every", "7", "--out", whole
    )
    assert one_go[0] == 0 and json.loads(one_go[1]) == {**json.loads(text), "out": whole}
    assert _metrics(tmp_path / "ext") == _metrics(tmp_path / "whole")
    code, _, err = _cli(capsys, *base, "--epochs", "250", "--lr", "0.02", "--out", out)
    assert code == 2 and "different configuration" in err


@needs_c
def test_a_run_started_on_the_c_kernel_is_not_resumed_without_it(tmp_path, monkeypatch):
    import sharpness.training.kernels.one_sam as one_sam

    out = tmp_path / "run"
    train(small(), out, progress=False, stop_after_epochs=2)  # backend auto: the C kernel
    monkeypatch.setattr(one_sam, "_KERNEL", None)
    monkeypatch.setenv("CC", "")
    monkeypatch.setenv("PATH", str(tmp_path))  # no compiler: auto would fall back to torch
    with pytest.raises(ValueError, match=r"trained phase 1 with the C kernel.*no C compiler"):
        train(small(), out, progress=False)
    monkeypatch.undo()
    monkeypatch.setattr(one_sam, "_KERNEL", None)
    assert train(small(), out, progress=False).finished  # where the kernel is, it resumes


@needs_c
def test_a_sim_bn_phase_begun_on_the_torch_engine_stays_on_it_under_auto(tmp_path, monkeypatch):
    """Runs begun under auto before the Sim-BN C engine existed resume on the torch engine."""
    from sharpness.training.algorithms import TorchEngine

    cfg = small(arch="simbn")  # backend auto
    with monkeypatch.context() as m:  # the old auto: the torch engine for Sim-BN
        m.setattr(runs, "engine_for", lambda arch, *a, **k: TorchEngine(arch))
        out = tmp_path / "run"
        train(cfg, out, progress=False, stop_after_epochs=2)
        whole = train(cfg, tmp_path / "whole", progress=False)
    resumed = train(cfg, out, progress=False)  # today's auto
    assert resumed.finished
    assert json.loads((out / "metadata.json").read_text())["engines"] == {"0": "torch"}
    assert all(np.array_equal(resumed.params[k], whole.params[k]) for k in whole.params)
    fresh = tmp_path / "fresh"
    train(cfg, fresh, progress=False)  # a new run under auto: the C engine
    assert json.loads((fresh / "metadata.json").read_text())["engines"] == {"0": "c"}
