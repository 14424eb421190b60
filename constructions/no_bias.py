"""Scenario I: 2-MLP-No-Bias interpolators of P_xor (Theorem 3.1, Lemma 3.1, App. A.2.4).

**App. A.2.4 as printed.** Width 4,

.. math::
    W_1 = \\begin{pmatrix} 1+\\epsilon & 1-\\epsilon & 0 & \\cdots \\\\
                         1+\\epsilon & -1+\\epsilon & 0 & \\cdots \\\\
                         -1-\\epsilon & 1-\\epsilon & 0 & \\cdots \\\\
                         -1-\\epsilon & -1+\\epsilon & 0 & \\cdots \\end{pmatrix}, \\qquad
    W_2 = \\frac{1}{2-2\\epsilon}\\,[1, -1, -1, 1].

At (x1, x2) = (1, 1) the pre-activations are (2, 2 eps, -2 eps, -2), at (1, -1) they are
(2 eps, 2, -2, -2 eps), and symmetrically at the other two, so f = (2 - 2 eps)/(2 - 2 eps) x1 x2:
**the printed network computes y = x[1] x[2] on all of {-1,1}^d for every eps > 0, eps != 1** (checked
in exact rational arithmetic by :func:`a24_exact_check`). The paper leaves eps unspecified: eps = 0
also interpolates but puts half of the pre-activations exactly at 0 (a fatal kink: Tr undefined);
eps < 0 does not interpolate (f(1,1) = (1 - |eps|)/(1 + |eps|)), eps = 1 divides by 0, and
eps > 1 swaps which neuron fires but still interpolates (:func:`a24_exact_check`). Its
Lemma 3.1 norm is sum_j ||W1,j|| |W2,j| = 2 sqrt(2) sqrt(1 + eps^2)/|1 - eps|, the constant C of
Condition 2 (-> 2 sqrt 2 as eps -> 0).

It is not meant to be flattest. On a complete symmetric training set (every x with all four
(x1, x2), and -x) its trace is d/(1-eps)^2 + 8(1+eps^2) as printed, and after the flattest
per-neuron rescaling (form "corrected": function unchanged) 4 sqrt(2d) sqrt(1+eps^2)/(1-eps), which
tends to the exact infimum 4 sqrt(2d) of :func:`sharpness.bounds.no_bias.complete_symmetric_infimum`
as eps -> 0+. The Jacobian bound 4 sqrt(d) is reached by the balanced kink network eps = 0 with the
one-sided convention relu'(0) = 0.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import torch

from constructions._checks import as_tensor, check_int
from constructions.architectures import MLP, Network
from constructions.construction import Construction, Form

__all__ = [
    "a24_balanced_trace",
    "a24_exact_check",
    "a24_printed_trace",
    "a24_solution",
    "balance_neurons",
    "lemma31_norm",
]

_SIGNS = np.array([[1, 1], [1, -1], [-1, 1], [-1, -1]], dtype=np.float64)
_OUT = np.array([1.0, -1.0, -1.0, 1.0])


def _check_eps(epsilon) -> float:
    if isinstance(epsilon, bool) or not isinstance(epsilon, int | float | Fraction):
        raise ValueError(f"epsilon must be a real number, got {epsilon!r}")
    e = float(epsilon)
    if not math.isfinite(e) or e == 1.0:
        raise ValueError(f"epsilon must be finite and != 1 (W2 has 1/(2 - 2 eps)), got {epsilon!r}")
    return e


def _printed_weights(d: int, eps: float) -> tuple[np.ndarray, np.ndarray]:
    W1 = np.zeros((4, d))
    W1[:, 0] = _SIGNS[:, 0] * (1 + eps)
    W1[:, 1] = _SIGNS[:, 1] * (1 - eps)
    W2 = (_OUT / (2 - 2 * eps))[None, :]
    return W1, W2


def a24_solution(d: int, epsilon: float = 0.1, *, form: str = "printed", X=None) -> Construction:
    """App. A.2.4's width-4 2-MLP-No-Bias for P_xor.

    Args:
        d: input dimension >= 2.
        epsilon: the printed eps; every eps > 0, eps != 1 interpolates without kinks (others are
            allowed, to show what fails).
        form: "printed" (as printed) or "corrected" (each neuron rescaled to minimize its trace
            term on X; the function is unchanged).
        X: training inputs, required for form "corrected".

    Raises:
        ValueError: for d < 2, eps = 1, a bad form, or form "corrected" without X.
    """
    d = check_int("d", d, minimum=2)
    eps = _check_eps(epsilon)
    form = Form.parse(form)
    W1, W2 = _printed_weights(d, eps)
    net = Network(MLP(2, bias=False), {"W1": W1, "W2": W2})
    notes: tuple[str, ...] = ()
    if form == "corrected":
        if X is None:
            raise ValueError("form 'corrected' rescales on a training set: pass X")
        net = balance_neurons(net, X)
        notes = ("each neuron rescaled (w, W2) -> (t w, W2/t) to minimize its trace term on X",)
    return Construction(
        "App. A.2.4 no-bias network",
        "App. A.2.4 (Condition 2 for P_xor)",
        net,
        form,
        {"epsilon": eps, "lemma31_norm": lemma31_norm(net)},
        notes,
    )


def lemma31_norm(net) -> float:
    """sum_j ||W1,j||_2 |W2,j|, the complexity measure of Lemma 3.1 (Theta_C)."""
    p = net.param_dict()
    return float(torch.sum(torch.linalg.vector_norm(p["W1"], dim=1) * p["W2"][0].abs()))


def balance_neurons(net, X):
    """The same function with each neuron rescaled to minimize its trace term on X (Lemma A.11).

    With A_j = (2/n) sum_i 1[w_j . x_i > 0] ||x_i||^2 and B_j = (2/n) sum_i relu(w_j . x_i)^2,
    neuron j costs W2[j]^2 A_j + B_j; (w_j, W2[j]) -> (t_j w_j, W2[j]/t_j) with
    t_j^4 = W2[j]^2 A_j / B_j minimizes it. Neurons with A_j B_j W2[j] = 0 are left as they are.
    (:func:`sharpness.bounds.no_bias.neuron_decomposition` computes the same A, B.)
    """
    X = as_tensor(X, net.dtype)
    p = net.param_dict()
    n = X.shape[0]
    Z = X @ p["W1"].T
    A = ((2.0 / n) * ((Z > 0).to(X.dtype).T @ torch.sum(X * X, dim=1))).numpy()
    B = ((2.0 / n) * torch.sum(torch.relu(Z) ** 2, dim=0)).numpy()
    q = net.numpy_params()
    w2 = q["W2"][0]
    ok = (A > 0) & (B > 0) & (w2 != 0)
    t = np.ones_like(w2)
    t[ok] = (w2[ok] ** 2 * A[ok] / B[ok]) ** 0.25
    return net.replace(W1=q["W1"] * t[:, None], W2=(w2 / t)[None, :])


def a24_exact_check(d: int, epsilon) -> tuple[int, int]:
    """(mistakes, non-interpolated points) of the printed network on {-1,1}^d, in exact rationals.

    The network only reads x[1], x[2], so the four (x1, x2) classes decide every point; each
    class stands for 2^(d-2) cube points. Exact: eps is taken as the Fraction of its value.
    """
    d = check_int("d", d, minimum=2)
    eps = Fraction(epsilon) if not isinstance(epsilon, Fraction) else epsilon
    _check_eps(float(eps))
    rows = [(s1 * (1 + eps), s2 * (1 - eps)) for s1, s2 in ((1, 1), (1, -1), (-1, 1), (-1, -1))]
    out = [Fraction(int(o)) / (2 - 2 * eps) for o in _OUT]
    mistakes = wrong = 0
    for x1 in (1, -1):
        for x2 in (1, -1):
            f = sum(
                (
                    o * max(Fraction(0), r1 * x1 + r2 * x2)
                    for o, (r1, r2) in zip(out, rows, strict=True)
                ),
                Fraction(0),
            )
            y = x1 * x2
            mult = 2 ** (d - 2)
            if f != y:
                wrong += mult
            if f * y <= 0:
                mistakes += mult
    return mistakes, wrong


def a24_printed_trace(d: int, epsilon: float) -> float:
    """Closed form d/(1-eps)^2 + 8(1+eps^2) of the printed network on complete symmetric data."""
    e = _check_eps(epsilon)
    return d / (1 - e) ** 2 + 8 * (1 + e * e)


def a24_balanced_trace(d: int, epsilon: float) -> float:
    """Closed form 4 sqrt(2d) sqrt(1+eps^2)/(1-eps) after balancing, complete symmetric data."""
    e = _check_eps(epsilon)
    return 4 * math.sqrt(2 * d) * math.sqrt(1 + e * e) / (1 - e)
