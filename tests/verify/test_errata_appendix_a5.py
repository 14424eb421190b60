"""App. A.5 errata: their verdicts, and the evidence recomputed in floats with autograd."""

import math

import torch

from verify.errata.appendix_a5 import definition_a2, lemma_a13


def test_verdicts():
    for entry in (definition_a2(), lemma_a13()):
        assert not entry.holds_as_printed and entry.corrected_holds is True


def _printed(a, b, p):
    return -p * torch.log(torch.exp(b * a) / (1 + torch.exp(a))) - (1 - p) * torch.log(
        torch.exp((1 - b) * a) / (1 + torch.exp(a))
    )


def test_printed_minimum_is_at_minus_gamma_in_floats():
    p = 0.2
    grid = torch.linspace(-5, 5, 200001, dtype=torch.float64)
    amin = float(grid[torch.argmin(_printed(grid, 1.0, p))])
    assert abs(amin + math.log((1 - p) / p)) < 1e-4


def test_second_derivative_at_the_corrected_minimum_in_floats():
    p = 0.2
    gamma = math.log((1 - p) / p)
    a = torch.tensor(gamma, dtype=torch.float64, requires_grad=True)
    # the corrected loss at b = 1: p and 1-p swapped
    loss = -(1 - p) * torch.log(torch.sigmoid(a)) - p * torch.log(1 - torch.sigmoid(a))
    (g,) = torch.autograd.grad(loss, a, create_graph=True)
    (h,) = torch.autograd.grad(g, a)
    g, h = g.detach().item(), h.item()
    assert abs(g) < 1e-12 and abs(h - p * (1 - p)) < 1e-12
