"""The four-neuron flattest solution that generalizes, Eq. (5) (Proposition 4.2).

Printed, for 2-MLP-Bias on P_xor (i, j in {0, 1}):

.. math::
    W_{1,2i+j+1} = r[(-1)^i, (-1)^j, 0, \\dots, 0], \\quad b_1[2i+j+1] = -r, \\quad
    W_2[2i+j] = (-1)^{i+j}/r, \\qquad r = (d^2+1)^{1/4},

and W_{1,k} = 0, b_1[k] = 0, W_2[k] = 0 for k > 4. On {-1,1}^d exactly one neuron fires, with
activation r, and f(x) = x[1] x[2].

At a hypercube point the per-example squared gradient norm is (d+1)/r^2 + r^2, while the bound
(Eq. (3)) is 2 sqrt(d+1): equality needs r^2 = sqrt(d+1).

Deviation (1), both forms: the index W_2[2i+j] is read as W_2[2i+j+1]; with 1-based neurons
index 0 does not exist, and only this reading gives f = x[1]x[2].

Deviation (2), form="corrected": r = (d+1)^{1/4}. The printed r = (d^2+1)^{1/4} interpolates and
generalizes but its sharpness exceeds the bound for every d >= 2 (it equals it only at d in {0, 1}).

Extension (3), depth D >= 3 (corrected form only; the paper gives D = 2): the same four quadrant
neurons carried through D-1 hidden layers with the balanced scaling of App. A.3.1,
rho = (d+1)^{1/(2D)}, first-layer scale u = rho^{D-1}, W_j = (1/rho)(2 I - 1 1^T) on the four
neurons, W_D = [(-1)^{i+j}/rho]. Every per-example term then equals (d+1)^{1/D}, the D-layer bound.

Unused neurons (k > 4) have all-zero weights: their ReLUs sit at 0 but with zero outgoing weight,
which leaves L twice differentiable at an interpolating point (reported as harmless kinks).
"""

from __future__ import annotations

import numpy as np

from constructions._checks import check_int, check_positive_float
from constructions.architectures import MLP, Network
from constructions.construction import Construction, Form

__all__ = ["four_neuron_solution", "printed_r", "flattest_r"]


def printed_r(d: int) -> float:
    """r as printed under Eq. (5): (d^2 + 1)^(1/4)."""
    return float((d * d + 1) ** 0.25)


def flattest_r(d: int) -> float:
    """The r that attains the bound: (d + 1)^(1/4)."""
    return float((d + 1) ** 0.25)


_SIGNS = [(0, 0), (0, 1), (1, 0), (1, 1)]  # (i, j) for neuron 2i + j + 1


def four_neuron_solution(
    d: int,
    *,
    width: int = 4,
    depth: int = 2,
    form: str = "corrected",
    r: float | None = None,
) -> Construction:
    """Build Eq. (5) for P_xor in dimension d.

    Args:
        d: input dimension >= 2.
        width: hidden width >= 4 (extra neurons are zero, as printed).
        depth: D >= 2; D >= 3 is our balanced extension (corrected form only).
        form: "corrected" (r = (d+1)^(1/4)) or "printed" (r = (d^2+1)^(1/4)).
        r: override r (depth 2 only), to explore the sharpness as a function of r.

    Raises:
        ValueError: for d < 2, width < 4, depth < 2, a printed form at depth >= 3, or r <= 0.
    """
    d = check_int("d", d, minimum=2)
    width = check_int("width", width, minimum=4)
    depth = check_int("depth", depth, minimum=2)
    form = Form.parse(form)
    if depth > 2 and form == "printed":
        raise ValueError("Eq. (5) is printed for depth 2 only; use form='corrected' for depth >= 3")
    if r is not None:
        if depth != 2:
            raise ValueError("r can only be overridden at depth 2")
        r = check_positive_float("r", r)
    else:
        r = printed_r(d) if form == "printed" else flattest_r(d)
    rho = (d + 1) ** (1.0 / (2 * depth)) if depth > 2 else r
    u = rho ** (depth - 1) if depth > 2 else r
    W1 = np.zeros((width, d))
    b1 = np.zeros(width)
    out = np.zeros((1, width))
    for k, (i, j) in enumerate(_SIGNS):
        W1[k, 0], W1[k, 1] = u * (-1) ** i, u * (-1) ** j
        b1[k] = -u
        out[0, k] = (-1) ** (i + j) / rho
    params = {"W1": W1, "b1": b1}
    for layer in range(2, depth):
        Wj = np.zeros((width, width))
        Wj[:4, :4] = (2 * np.eye(4) - np.ones((4, 4))) / rho
        params[f"W{layer}"] = Wj
    params[f"W{depth}"] = out
    notes = ["(1) W_2[2i+j] read as W_2[2i+j+1] (1-based neurons)"]
    if form == "corrected" and depth == 2 and r == flattest_r(d):
        notes.append(
            f"(2) r = (d+1)^(1/4) = {r:.6g} instead of the printed (d^2+1)^(1/4) = "
            f"{printed_r(d):.6g}"
        )
    if depth > 2:
        notes.append(f"(3) depth-{depth} extension with rho = (d+1)^(1/(2D)) = {rho:.6g}")
    return Construction(
        name="four-neuron solution",
        reference="Eq. (5); Proposition 4.2",
        network=Network(MLP(depth=depth, bias=True), params),
        form=form,
        parameters={"r": float(r), "rho": float(rho), "width": width, "depth": depth},
        notes=tuple(notes),
    )
