"""The C cube kernel (sharpness/hypercube/kernels/cube_relu2.c) against slow obvious references.

References never come from the code under test: exact rational arithmetic over every vertex
(Fractions; the sign of f and hence the count is then exact by construction), the naive float
forward (MSE, and counts where no point is near the boundary), and the eager torch path.
"""

import itertools
import math
import warnings
from fractions import Fraction

import numpy as np
import pytest
import torch

from constructions import MLP, Network, SimBN, random_network, sample_xor
from sharpness._ckernel import KernelUnavailableError
from sharpness.hypercube import enumeration
from sharpness.hypercube.enumeration import (
    LOW_BITS,
    CubeEnumerator,
    fast_hypercube_error,
    neuron_evaluations,
)
from sharpness.hypercube.kernels import cube_relu2
from sharpness.reference import naive_hypercube_error

try:
    cube_relu2.load_cube_kernel(torch.float64)
    HAVE_KERNEL = True
except KernelUnavailableError:  # no C compiler here: only the fallback tests run
    HAVE_KERNEL = False
needs_kernel = pytest.mark.skipif(not HAVE_KERNEL, reason="no C compiler for the cube kernel")


def exact_errors(net) -> int:
    """Mistakes y f(x) <= 0 over {-1,1}^d, f of a 2-layer ReLU MLP in exact rationals."""
    p = net.numpy_params()
    W1 = [[Fraction(float(v)) for v in row] for row in p["W1"]]
    b1 = [Fraction(float(v)) for v in p["b1"]] if net.arch.bias else [Fraction(0)] * len(W1)
    w = [Fraction(float(v)) for v in p["W2"][0]]
    mistakes = 0
    for x in itertools.product((1, -1), repeat=net.d):
        f = sum(
            wk * max(Fraction(0), sum(a * xi for a, xi in zip(row, x, strict=True)) + bk)
            for wk, row, bk in zip(w, W1, b1, strict=True)
        )
        mistakes += f * x[0] * x[1] <= 0
    return mistakes


def mlp(W1, b1, W2, dtype=torch.float64):
    params = {
        "W1": torch.tensor(W1, dtype=dtype),
        "b1": torch.tensor(b1, dtype=dtype),
        "W2": torch.tensor(W2, dtype=dtype),
    }
    return Network(MLP(), params)


def both(net, **kw):
    c = fast_hypercube_error(net, backend="c", progress=False, **kw)
    e = fast_hypercube_error(net, backend="eager", progress=False)
    return c, e


@needs_kernel
@pytest.mark.parametrize("seed", range(6))
def test_random_networks_equal_the_exact_count(seed):
    rng = np.random.default_rng(seed)
    d, m = int(rng.integers(2, 8)), int(rng.integers(1, 7))
    # coarse dyadic weights (multiples of 1/4) make many points land exactly on f = 0
    p = {
        "W1": rng.integers(-4, 5, size=(m, d)) / 4,
        "b1": rng.integers(-4, 5, size=m) / 4,
        "W2": rng.integers(-4, 5, size=(1, m)) / 4,
    }
    net = Network(MLP(), p)
    c, e = both(net)
    assert c.errors == e.errors == exact_errors(net)
    assert c.undecided == 0 and c.total == c.evaluated == 2**d
    assert c.mse == pytest.approx(naive_hypercube_error(net)[1], rel=1e-12, abs=1e-15)


@needs_kernel
@pytest.mark.parametrize(("d", "width", "bias"), [(LOW_BITS + 3, 37, True), (15, 100, False)])
def test_low_mid_and_high_tables(d, width, bias):
    # d > LOW_BITS: all three tables are used; widths not a multiple of the register block
    net = random_network(d, width, bias=bias, seed=d)
    c, e = both(net)
    errors, mse = naive_hypercube_error(net)
    assert c.errors == e.errors == errors and c.undecided == 0
    assert c.mse == pytest.approx(mse, rel=1e-12)


@needs_kernel
def test_points_exactly_on_the_boundary():
    # f = relu(x1 + x2) - relu(x1 + x2) + relu(x3 - 1) - relu(x3 - 1): exactly 0 everywhere with
    # active units; every point is flagged, not provably dead, and decided exactly: all mistakes.
    net = mlp([[1.0, 1.0, 0.0]] * 2 + [[0.0, 0.0, 1.0]] * 2, [0, 0, -1, -1], [[1, -1, 1, -1]])
    c, e = both(net)
    assert c.errors == e.errors == 8 and c.exact_rechecks > 0
    # ties: f = relu(x1) - relu(x2) is 0 exactly where x1 = x2 = -1 or x1 = x2 = 1 (4 of 8 points)
    # and y f = x1 x2 (x1 - x2) relu-wise: at x1 = 1, x2 = -1, f = 1 and y = -1: wrong.
    net = mlp([[1.0, 0, 0], [0, 1.0, 0]], [0.0, 0.0], [[1.0, -1.0]])
    c, e = both(net)
    assert c.errors == e.errors == exact_errors(net) == 6


@needs_kernel
def test_dead_points_are_exact_zeros_decided_in_the_kernel():
    # every unit off at every vertex except x = (1, 1, ...): f = 0 exactly elsewhere
    d = 12
    net = mlp([[1.0] * d], [-(d - 1.0)], [[1.0]])
    hc = fast_hypercube_error(net, backend="c", progress=False)
    assert hc.errors == 2**d - 1  # wrong wherever f = 0; at x = (1, ..., 1), y f = 1 > 0
    assert hc.errors == fast_hypercube_error(net, backend="eager", progress=False).errors
    assert hc.exact_rechecks == 0  # the kernel decided the zeros itself


@needs_kernel
def test_float_rounding_never_decides_a_sign():
    # z = 1e16 x1 + x2 - 1e16 is exactly 1 at x1 = x2 = 1, but 1e16 + 1 rounds to 1e16
    net = mlp([[1e16, 1.0, 0.0]], [-1e16], [[1.0]])
    c, e = both(net)
    assert c.errors == e.errors == exact_errors(net) == 6
    assert naive_hypercube_error(net)[0] == 8  # the float count is wrong


@needs_kernel
def test_more_flagged_points_than_room(monkeypatch):
    monkeypatch.setattr(enumeration, "C_FLAG_CAPACITY", 3)
    net = mlp([[1.0, 1.0, 0.0, 0.5, 0.25]] * 2, [0.5, 0.5], [[1.0, -1.0]])
    c, e = both(net)
    assert c.errors == e.errors == 32 and c.exact_rechecks > 3


@needs_kernel
def test_sub_cubes_with_fixed_coordinates():
    d = 13
    net = random_network(d, 10, seed=4)
    fixed, free = [12, 0, 3], [1, 2, 4, 5, 6, 7, 8, 9, 10, 11]
    assign = torch.tensor([[1, -1, 1], [-1, -1, -1], [1, 1, -1]], dtype=torch.int8)
    c = CubeEnumerator(net, backend="c").run(fixed, free, assign)
    e = CubeEnumerator(net, backend="eager").run(fixed, free, assign)
    assert (c.points, c.mistakes) == (e.points, e.mistakes) == (3 << 10, e.mistakes)
    assert c.sse == pytest.approx(e.sse, rel=1e-12)


@needs_kernel
def test_sim_bn():
    d = LOW_BITS + 2
    rng = np.random.default_rng(3)
    p = {"W1": rng.normal(size=(7, d)), "b1": rng.normal(size=7), "W2": rng.normal(size=(1, 7))}
    p["gamma"] = rng.normal(size=7)
    net = Network(SimBN(), p, reference=sample_xor(d, 15, 0).X)
    assert CubeEnumerator(net, backend="auto").ckernel is not None
    c, e = both(net)
    errors, mse = naive_hypercube_error(net)
    assert c.errors == e.errors == errors and c.undecided == 0
    assert c.mse == pytest.approx(mse, rel=1e-12)


@needs_kernel
def test_float32():
    base = random_network(11, 9, seed=8)
    net = Network(base.arch, base.param_dict(), dtype=torch.float32)
    c, e = both(net)
    assert c.errors == e.errors
    assert c.mse == pytest.approx(e.mse, rel=1e-5)


@needs_kernel
def test_deterministic_across_threads_and_calls(monkeypatch):
    net = random_network(14, 20, seed=9)
    one = fast_hypercube_error(net, backend="c", progress=False, threads=1)
    two = fast_hypercube_error(net, backend="c", progress=False, threads=2)
    assert one == two  # counts and the MSE bit for bit: each row is summed in a fixed order
    monkeypatch.setattr(enumeration, "C_CALL_EVALUATIONS", 1 << 12)  # many calls
    many = fast_hypercube_error(net, backend="c", progress=False, threads=2)
    assert many.errors == one.errors and math.isclose(many.mse, one.mse, rel_tol=1e-14)


def test_without_a_compiler_the_torch_path_gives_the_same_results(monkeypatch):
    def unavailable(dtype):
        raise KernelUnavailableError("no C compiler found (set CC)")

    monkeypatch.setattr(cube_relu2, "load_cube_kernel", unavailable)
    monkeypatch.setattr(enumeration, "_WARNED", [])
    net = random_network(12, 8, seed=10)
    with pytest.warns(RuntimeWarning, match="C cube kernel is unavailable"):
        enum = CubeEnumerator(net, backend="auto")
    assert enum.ckernel is None
    auto = fast_hypercube_error(net, backend="auto", progress=False)
    assert auto == fast_hypercube_error(net, backend="eager", progress=False)
    assert auto.errors == naive_hypercube_error(net)[0]
    with pytest.raises(KernelUnavailableError, match="no C compiler"):
        CubeEnumerator(net, backend="c")


def test_networks_the_kernel_does_not_cover_use_torch():
    deep = random_network(6, [4, 3], seed=11)
    assert CubeEnumerator(deep, backend="auto").ckernel is None
    with pytest.raises(KernelUnavailableError, match="2-layer ReLU"):
        CubeEnumerator(deep, backend="c")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        hc = fast_hypercube_error(deep, progress=False)
    assert hc.errors == naive_hypercube_error(deep)[0]


def test_bad_threads_and_cost():
    net = random_network(4, 3, seed=0)
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="threads"):
            CubeEnumerator(net, threads=bad)
    assert neuron_evaluations(net, 1 << 30) == 3 << 30
    assert neuron_evaluations(random_network(4, [5, 6], seed=0), 10) == 110


def test_the_output_bound_covers_the_max_form():
    # A deliberately broken bound must be caught. f = relu(1e16 x1 + x2 - 1e16) - relu(x3 + x4) / 2
    # is 1/2 at x = (1, 1, 1, 1), but 1e16 + 1 rounds to 1e16 and the kernel's value is -1/2.
    # With E_f = 0 that point is decided from its float value and the count is one too many;
    # with the bound it is flagged and decided exactly.
    if not HAVE_KERNEL:
        pytest.skip("no C compiler")
    net = mlp([[1e16, 1.0, 0.0, 0.0], [0.0, 0.0, 0.5, 0.5]], [-1e16, 0.0], [[1.0, -0.5]])
    enum = CubeEnumerator(net, backend="c")
    assert enum.Ef_c >= 2.0  # |fl(z) - z| can be 1 here (1e16 has ulp 2)
    free = [0, 1, 2, 3]
    assert enum.run([], free).mistakes == exact_errors(net)
    enum.Ef_c = 0.0
    assert enum.run([], free).mistakes == exact_errors(net) + 1
