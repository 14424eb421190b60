"""Eq. (5): the four-neuron solution, printed and corrected."""

import numpy as np
import pytest
import torch

from constructions import flattest_r, four_neuron_solution, iter_hypercube, printed_r, xor_labels


@pytest.mark.parametrize("form", ["printed", "corrected"])
@pytest.mark.parametrize("d", [2, 3, 7])
def test_exactly_one_neuron_fires_with_activation_r(d, form):
    cons = four_neuron_solution(d, width=6, form=form)
    r = cons.parameters["r"]
    net = cons.network
    for _, X in iter_hypercube(d):
        z = net.arch.preactivation_1(net.param_dict(), X)
        a = torch.relu(z)
        # printed claim: relu(W1 x + b1) = r e_{5/2 - x[1] - x[2]/2}
        k = (2.5 - X[:, 0] - X[:, 1] / 2).long() - 1
        expected = torch.zeros_like(a)
        expected[torch.arange(X.shape[0]), k] = r
        torch.testing.assert_close(a, expected, rtol=0, atol=0)
        torch.testing.assert_close(net(X), xor_labels(X), rtol=0, atol=1e-15)


def test_printed_r_versus_flattest_r():
    assert printed_r(10) == pytest.approx(101**0.25)
    assert flattest_r(10) == pytest.approx(11**0.25)
    for d in range(2, 40):
        # (d+1)/r^2 + r^2 is minimized at r^2 = sqrt(d+1), where it equals 2 sqrt(d+1)
        def per_point(r, d=d):
            return (d + 1) / r**2 + r**2

        assert per_point(flattest_r(d)) == pytest.approx(2 * np.sqrt(d + 1), rel=1e-14)
        assert per_point(printed_r(d)) > 2 * np.sqrt(d + 1) * (1 + 1e-3)


@pytest.mark.parametrize("depth", [3, 4])
def test_deep_extension_computes_xor(depth):
    net = four_neuron_solution(5, width=7, depth=depth).network
    for _, X in iter_hypercube(5):
        torch.testing.assert_close(net(X), xor_labels(X), rtol=0, atol=1e-14)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"d": 1}, "d must"),
        ({"d": 3, "width": 3}, "width"),
        ({"d": 3, "depth": 3, "form": "printed"}, "depth 2 only"),
        ({"d": 3, "r": -1.0}, "r must"),
        ({"d": 3, "depth": 3, "r": 1.0}, "depth 2"),
    ],
    ids=["d", "width", "printed-deep", "r-negative", "r-deep"],
)
def test_argument_checks(kwargs, match):
    with pytest.raises(ValueError, match=match):
        four_neuron_solution(**kwargs)
