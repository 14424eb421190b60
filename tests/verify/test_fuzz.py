"""Fuzz both commands (issue 15): hostile argument vectors and malformed files never end in an
internal error (exit 3), a traceback or a hang.

Hypothesis draws command lines from the real option names and nasty values (huge integers,
negatives, NaN and inf, empty strings, non-numbers) and paths to malformed files (truncated and
CRC-corrupt ``.npz``, a bare ``.npy``, random bytes, wrong shapes, NaN data, a zip bomb's
declared sizes) and to things that are not files (a FIFO, a directory, ``/dev/null``). Each
command line runs in this process through ``main(argv)`` (a subprocess per example would be far
too slow), under ``signal.alarm``: an example that runs longer than :data:`HANG_S` is a hang.
Every legitimate run is kept small by a prefix of small sizes that fuzzed options override.

The profile is derandomized (tests/conftest.py's "ci"), so CI sees the same examples each time.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import os
import signal
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from verify.claim_index import CLAIM_IDS

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGALRM"), reason="needs signal.alarm")

#: Seconds after which one example counts as a hang (the slowest legitimate example, a claim at
#: d = 3 or a two-epoch run, takes well under a second once torch is imported).
HANG_S = 15

#: Claims cheap enough at d <= 3 to be fuzzed many times (the searches of 3.1 / lemma3.1, the
#: Sim-BN runs of 3.2 and the trained claims take seconds each; their argument checks are the
#: same code, and tests/verify/test_limits.py runs the issue's command lines for them).
FAST_CLAIMS = ("4.1", "prop4.1", "prop4.2", "lemma4.1", "5.1", "prop5.1", "prop5.2")
assert set(FAST_CLAIMS) <= set(CLAIM_IDS)

NASTY_INTS = ("-1", "0", "1", "2", "3", "1000000000000", str(2**70), "1e12", "nan", "", "x", "-0")
NASTY_FLOATS = ("nan", "inf", "-inf", "-1", "0", "1e-300", "1e300", "0.25", "", "abc")


_RUNS = itertools.count()


class Hang(Exception):
    pass


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Malformed inputs by name: path."""
    from constructions import sample_xor

    t = tmp_path_factory.mktemp("fuzz")
    ds = sample_xor(3, 4, seed=0)
    good = t / "good.npz"
    np.savez(good, X=ds.X, y=ds.y)
    raw = good.read_bytes()
    out = {"good": good}
    (t / "trunc.npz").write_bytes(raw[: len(raw) // 2])
    out["trunc"] = t / "trunc.npz"
    crc = bytearray(raw)
    crc[len(crc) // 3] ^= 0xFF
    (t / "crc.npz").write_bytes(bytes(crc))
    out["crc"] = t / "crc.npz"
    np.save(t / "one.npy", ds.X)
    out["npy"] = t / "one.npy"
    (t / "random.npz").write_bytes(np.random.default_rng(0).bytes(300))
    out["random"] = t / "random.npz"
    (t / "empty.npz").write_bytes(b"")
    out["empty"] = t / "empty.npz"
    np.savez(t / "shape.npz", X=ds.X.ravel(), y=ds.y)
    out["shape"] = t / "shape.npz"
    np.savez(t / "nan.npz", X=ds.X * np.nan, y=ds.y)
    out["nan"] = t / "nan.npz"
    np.savez(t / "zeros.npz", X=ds.X, y=0 * ds.y)
    out["zeros"] = t / "zeros.npz"
    np.savez(t / "huge.npz", X=ds.X * 1e20, y=ds.y)
    out["huge"] = t / "huge.npz"
    np.savez(t / "tiny.npz", X=ds.X * 1e-10, y=ds.y)
    out["tiny"] = t / "tiny.npz"
    np.savez(t / "params.npz", W1=np.ones((2, 3)), b1=np.zeros(2), W2=np.ones(2))
    out["params"] = t / "params.npz"
    # a bomb's declaration: a member whose .npy header declares 10^12 float64 values
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": (10**6, 10**6)}
    )
    with zipfile.ZipFile(t / "bomb.npz", "w") as zf:
        zf.writestr("X.npy", header.getvalue())
        zf.writestr("y.npy", header.getvalue())
    out["bomb"] = t / "bomb.npz"
    os.mkfifo(t / "fifo")
    out["fifo"] = t / "fifo"
    out["dir"] = t
    out["devnull"] = "/dev/null"
    out["missing"] = t / "missing.npz"
    out["blank"] = ""
    return {k: str(v) for k, v in out.items()}


def _run(main, argv: list[str]) -> tuple[int, str]:
    """(exit code, stderr) of ``main(argv)`` in this process, or raise :class:`Hang`."""

    def alarm(signum, frame):
        raise Hang(f"no answer after {HANG_S} s: {argv}")

    old = signal.signal(signal.SIGALRM, alarm)
    err = io.StringIO()
    signal.alarm(HANG_S)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            code = main(argv)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    return code, err.getvalue()


def _assert_clean(prog: str, argv, code: int, err: str) -> None:
    assert code in (0, 1, 2), f"{argv}: exit {code}, stderr {err!r}"
    assert "Traceback" not in err, f"{argv}: {err}"
    if code == 2:
        lines = [line for line in err.splitlines() if line.strip()]
        assert lines and lines[-1].startswith(f"{prog}: error: "), f"{argv}: {err!r}"


def _option(name: str, values):
    return st.tuples(st.just(name), st.sampled_from(values))


@st.composite
def verify_argv(draw, paths):
    claim = draw(st.sampled_from(FAST_CLAIMS + ("evaluate",)))
    ints = NASTY_INTS
    options = [
        _option("--d", ints),
        _option("--n", ints),
        _option("--depth", ints),
        _option("--seed", ints),
        _option("--epsilon", NASTY_FLOATS),
        _option("--ln-eps", NASTY_FLOATS),
        _option("--hypercube-samples", ints),
        _option("--form", ("printed", "corrected", "", "bogus")),
        _option("--data", tuple(paths.values())),
        _option("--save", (paths["devnull"], paths["good"], paths["fifo"], "")),
    ]
    flags = ["--exact", "--json", "--no-progress"]
    if claim == "evaluate":
        options = [
            _option("--params", tuple(paths.values())),
            _option("--data", tuple(paths.values())),
            _option("--arch", ("bias", "simln", "simbn", "nobias-out", "", "x")),
            _option("--ln-eps", NASTY_FLOATS),
        ]
        flags = ["--json"]
    chosen = draw(st.lists(st.sampled_from(range(len(options))), max_size=4, unique=True))
    argv = [claim] if claim == "evaluate" else [claim, "--no-progress"]
    for i in chosen:
        argv += list(draw(options[i]))
    argv += draw(st.lists(st.sampled_from(flags), max_size=2, unique=True))
    if claim == "evaluate" and "--params" not in argv:
        argv += ["--params", paths["params"]]
    if claim != "evaluate" and "--data" not in argv and "--d" not in argv:
        argv += ["--d", "3"]  # keep legitimate runs small
    return argv


@st.composite
def train_argv(draw, paths, out_dir):
    options = [
        _option("--arch", ("bias", "nobias", "simln", "simbn", "bias-softplus", "")),
        _option("--algo", ("sam", "gd", "sgd", "label-noise-sgd")),
        _option("--lr", NASTY_FLOATS),
        _option("--rho", NASTY_FLOATS),
        _option("--wd", NASTY_FLOATS),
        _option("--label-noise", NASTY_FLOATS),
        _option("--batch-size", NASTY_INTS),
        _option("--epochs", NASTY_INTS),
        _option("--width", NASTY_INTS),
        _option("--depth", NASTY_INTS),
        _option("--d", NASTY_INTS),
        _option("--n", NASTY_INTS),
        _option("--seed", NASTY_INTS),
        _option("--log-every", NASTY_INTS),
        _option("--eval-every", NASTY_INTS),
        _option("--test", ("auto", "exact", "sampled", "none")),
        _option("--test-samples", NASTY_INTS),
        _option("--threads", NASTY_INTS),
        _option("--smoothing", NASTY_FLOATS),
        _option("--loss", ("mse", "logistic")),
        _option("--data", ("xor", "ball")),
        _option("--backend", ("torch", "autograd")),
        _option("--preset", ("fig1a", "fig4b", "fig9a")),
    ]
    bad_outs = (paths["devnull"], paths["good"], paths["fifo"], "")
    # a fresh directory most of the time (a reused one refuses a changed configuration)
    fresh = str(out_dir / f"run{next(_RUNS)}")
    out = fresh if draw(st.integers(0, 9)) < 7 else draw(st.sampled_from(bad_outs))
    argv = ["--width", "3", "--d", "3", "--n", "4", "--epochs", "2", "--test-samples", "64"]
    argv += ["--no-progress", "--backend", "torch"]
    chosen = draw(st.lists(st.sampled_from(range(len(options))), max_size=3, unique=True))
    for i in chosen:
        argv += list(draw(options[i]))
    argv += ["--out", out]
    if "--preset" in argv:  # a preset's schedule is long: only its refusals are fuzzed here
        argv += ["--epochs", "0"]
    return argv


def test_fuzz_verify_theorem(files):
    from verify.cli import main

    @settings(
        max_examples=150,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        derandomize=True,
        database=None,
    )
    @given(verify_argv(files))
    def check(argv):
        code, err = _run(main, argv)
        _assert_clean("verify-theorem", argv, code, err)

    check()


def test_fuzz_sharpness_train(files, tmp_path):
    from sharpness.training.cli import main

    @settings(
        max_examples=150,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        derandomize=True,
        database=None,
    )
    @given(train_argv(files, tmp_path / "run"))
    def check(argv):
        code, err = _run(main, argv)
        _assert_clean("sharpness-train", argv, code, err)

    check()


@pytest.mark.parametrize(
    "name", ["trunc", "crc", "npy", "random", "empty", "shape", "nan", "bomb", "fifo", "dir"]
)
def test_every_malformed_dataset_is_one_line_and_exit_2(files, name):
    from verify.cli import main

    code, err = _run(main, ["4.1", "--data", files[name]])
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("verify-theorem: error: "), err
