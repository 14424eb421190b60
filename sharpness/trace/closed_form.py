"""Exact Tr(nabla^2 L) in closed form for D-layer MLPs (ReLU or softplus) and 2-MLP-Sim-LN.

Same identity as :mod:`sharpness.trace.hessian` (Section 2's loss L = (1/n) sum_i (f(x_i) - y_i)^2):
every weight W_l[a, b] enters only z_l[a], linearly with coefficient a_{l-1}[b], so

.. math::
    \\frac{\\partial^2 L}{\\partial W_l[a,b]^2} = \\frac1n \\sum_i a_{l-1,i}[b]^2\\, h_{l,i}[a],
    \\qquad h_{l,i}[a] = 2\\, g_{l,i}[a]^2 + 2\\, r_i\\, s_{l,i}[a],

with r_i = f(x_i) - y_i, g_l = df/dz_l and s_l = diag(d^2 f / dz_l^2). Instead of one
Hessian-vector product per hidden unit, g and s come from one backward pass in closed form:

* **MLP** (z_l = W_l a_{l-1} (+ b_1), a_l = sigma(z_l), f = W_D a_{D-1}). With
  u_l = df/da_l (u_{D-1} = W_D, u_l = g_{l+1} W_{l+1}), g_l = u_l * sigma'(z_l). f is a function
  of z_l through the layers above, and the second-order chain rule gives

  .. math::
      \\frac{\\partial^2 f}{\\partial z_l^2} = \\sum_{k \\ge l} J_{k \\leftarrow l}^T
          \\operatorname{diag}(u_k \\odot \\sigma''(z_k))\\, J_{k \\leftarrow l},
      \\qquad J_{k \\leftarrow l} = \\frac{\\partial z_k}{\\partial z_l},

  so s_l[a] = sum_{k >= l} sum_c u_k[c] sigma''(z_k[c]) J_{k<-l}[c, a]^2. For ReLU sigma'' = 0
  away from the kinks (which :func:`~sharpness.find_kinks` reports first), so s = 0 and the
  diagonal is exactly (2/n) sum_i (df(x_i)/dtheta)^2 at any depth. For softplus,
  J_{l+1<-l} = W_{l+1} diag(sigma'(z_l)) makes the k = l + 1 term
  sigma'(z_l)^2 * ((u_{l+1} sigma''(z_{l+1})) W_{l+1}^2), a matrix product; terms with
  k >= l + 2 (depth >= 4) use the per-example Jacobians, in chunks of examples.
  sigma' and sigma'' are the analytic sigmoid(z) and sigmoid(z)(1 - sigmoid(z)).
* **2-MLP-Sim-LN** (f = w . h / N, h = relu(z), N = max{||h||, eps}). On an active unit and
  with ||h|| > eps, f = (w . h)/||h|| gives

  .. math::
      g_a = \\frac{w_a - f h_a / N}{N}, \\qquad
      s_a = -\\frac{2 w_a h_a}{N^3} - \\frac{f}{N^2} + \\frac{3 f h_a^2}{N^4};

  with ||h|| < eps, f = w . h / eps is linear in h: g_a = w_a/eps, s_a = 0; inactive units have
  g = s = 0. The output layer: d^2 L / dW2[a]^2 = (2/n) sum_i (h_{i,a}/N_i)^2.

Conventions at harmless kinks (the only ones allowed through, :func:`~sharpness.find_kinks`)
are torch's: relu'(0) = 0, so the results equal the autograd path's. Each cost is a few
matrix products of the size of the forward pass: at width 500, d = 30, n = 100 the trace takes
milliseconds (BENCHMARKS.md). The tests compare every entry with the dense reference
:func:`sharpness.reference.dense_hessian` in float64.
"""

from __future__ import annotations

import torch

from sharpness.trace.kinks import NonDifferentiableError, find_kinks

__all__ = ["mlp_hessian_diagonal", "sim_ln_hessian_diagonal"]

#: Examples per chunk for the per-example Jacobians of depth >= 4 smooth networks.
_JACOBIAN_CHUNK_ELEMENTS = 1 << 23


def _prepare(net, X, y, check_kinks: bool):
    from sharpness.trace.hessian import _as_tensors

    X, y = _as_tensors(net, X, y)
    if check_kinks:
        report = find_kinks(net, X, y)
        if not report.twice_differentiable:
            raise NonDifferentiableError(report)
    return X, y


def _derivatives(activation: str, z: torch.Tensor):
    """(sigma(z), sigma'(z), sigma''(z)); ReLU's sigma'(0) = 0 as in torch, sigma'' = 0."""
    if activation == "relu":
        return torch.relu(z), (z > 0).to(z.dtype), None
    s = torch.sigmoid(z)
    return torch.nn.functional.softplus(z), s, s * (1 - s)


def mlp_hessian_diagonal(net, X, y, *, check_kinks: bool = True) -> dict[str, torch.Tensor]:
    """Exact diagonal of nabla^2 L for an :class:`~constructions.MLP` (any depth, relu|softplus).

    Registered for ``MLP`` by :mod:`sharpness.architectures.mlp`, so
    :func:`~sharpness.hessian_diagonal` and :func:`~sharpness.hessian_trace` use it.

    Raises:
        NonDifferentiableError: if a training point sits on a fatal ReLU kink.
    """
    from sharpness.trace.hessian import _as_tensors

    X, y = _as_tensors(net, X, y)
    arch = net.arch
    p = net.param_dict()
    D = arch.depth
    n = X.shape[0]
    zs = None
    if check_kinks and arch.activation == "relu":
        zs, maybe_kink = _screen_relu_kinks(arch, p, X)
        if maybe_kink:
            _prepare(net, X, y, True)  # the full classification of find_kinks
    # Forward pass, keeping a_0 = x, a_1, ..., a_{D-1} and sigma', sigma'' of every hidden layer.
    acts, d1, d2 = [X], [], []
    for layer in range(1, D):
        if zs is not None:
            z = zs[layer - 1]
        else:
            z = acts[-1] @ p[f"W{layer}"].T
            if layer == 1 and arch.bias:
                z = z + p["b1"]
        a, s1, s2 = _derivatives(arch.activation, z)
        acts.append(a)
        d1.append(s1)
        d2.append(s2)
    f = acts[-1] @ p[f"W{D}"][0]
    r = f - y
    # Backward pass: u[l] = df/da_l, g[l] = df/dz_l (index l - 1 for hidden layer l).
    u: list[torch.Tensor] = [None] * (D - 1)
    g: list[torch.Tensor] = [None] * (D - 1)
    u[D - 2] = p[f"W{D}"][0].expand(n, -1)
    for li in range(D - 2, -1, -1):
        g[li] = u[li] * d1[li]
        if li > 0:
            u[li - 1] = g[li] @ p[f"W{li + 1}"]
    diag = {f"W{D}": (2.0 / n) * torch.sum(acts[D - 1] ** 2, dim=0, keepdim=True)}
    smooth = arch.activation != "relu"
    local = [u[li] * d2[li] for li in range(D - 1)] if smooth else None  # u_k sigma''(z_k)
    for li in range(D - 1):
        h = 2 * g[li] ** 2
        if smooth:
            s = local[li].clone()
            if li + 1 < D - 1:  # k = l + 1: J = W_{l+1} diag(sigma'(z_l)) factorizes
                W = p[f"W{li + 2}"]
                s = s + d1[li] ** 2 * (local[li + 1] @ W**2)
            if li + 2 < D - 1:  # k >= l + 2: per-example Jacobians
                s = s + _deep_terms(p, d1, local, li, D)
            h = h + 2 * r[:, None] * s
        layer = li + 1
        # torch.mm: here much faster than ``@`` on the transposed view (measured).
        diag[f"W{layer}"] = torch.mm(h.T, acts[li] ** 2) / n
        if layer == 1 and arch.bias:
            diag["b1"] = h.sum(dim=0) / n
    return {k: diag[k].detach() for k in arch.param_names}


def _screen_relu_kinks(arch, p, X):
    """(pre-activations, whether any unit might be numerically zero), in one forward pass.

    :func:`~sharpness.find_kinks` reports exactly the units with |z| <= its rigorous rounding
    bound and then classifies them (several more matrix products). This screen uses a cruder
    but still rigorous bound that costs no matrix product beyond the forward pass: for layer
    l >= 2, with a = relu(z) >= 0 and input errors e,
    |fl(z_c) - z_c| <= sum_b |W[c, b]| (gamma_{k+1} a_b + e_b) <= max_b |W[c, b]| *
    (gamma_{k+1} sum_b a_b + sum_b e_b) (Higham; ReLU exact and 1-Lipschitz). The crude bound
    is larger than find_kinks' own, so every unit find_kinks could report is flagged here; when
    nothing is flagged the network is twice differentiable at theta (no kink at all) and the
    classification is skipped. The screen's z are the forward pass's own values, reused.
    """
    from sharpness._rounding import TINY, gamma

    dt = X.dtype
    W1 = p["W1"]
    z = X @ W1.T
    mag = X.abs() @ W1.abs().T
    if arch.bias:
        z = z + p["b1"]
        mag = mag + p["b1"].abs()
    # 2x and 2 tiny: room for the rounding of each bound's own few operations.
    err = 2 * gamma(W1.shape[1] + 2, dt) * mag + 2 * TINY[dt]
    zs = []
    flagged = False
    for j in range(1, arch.depth):
        zs.append(z)
        flagged = flagged or bool(torch.any(z.abs() <= err))
        if j == arch.depth - 1:
            break
        a = torch.relu(z)
        e = torch.where(z + err <= 0, torch.zeros_like(err), err)
        W = p[f"W{j + 1}"]
        k = W.shape[1]
        z = a @ W.T
        rowmax = W.abs().amax(dim=1)
        err = 2 * rowmax[None, :] * (gamma(k + 2, dt) * a.sum(dim=1, keepdim=True)
                                     + e.sum(dim=1, keepdim=True)) + 2 * TINY[dt]  # fmt: skip
    return zs, flagged


def _deep_terms(p, d1, local, li: int, D: int) -> torch.Tensor:
    """sum_{k >= l+2} sum_c local_k[c] J_{k<-l}[c, a]^2, by chunks of examples."""
    n, m_l = d1[li].shape
    out = torch.zeros(n, m_l, dtype=d1[li].dtype, device=d1[li].device)
    widest = max(t.shape[1] for t in d1)
    step = max(1, _JACOBIAN_CHUNK_ELEMENTS // (widest * m_l))
    for s0 in range(0, n, step):
        sl = slice(s0, min(n, s0 + step))
        # J_{l+1<-l} for this chunk: (c, m_{l+1}, m_l)
        J = p[f"W{li + 2}"][None] * d1[li][sl, None, :]
        for k in range(li + 2, D - 1):  # hidden layer index k (0-based): J_{k<-l}
            J = (p[f"W{k + 1}"][None] * d1[k - 1][sl, None, :]) @ J
            out[sl] += torch.einsum("ic,ica->ia", local[k][sl], J**2)
    return out


def sim_ln_hessian_diagonal(net, X, y, *, check_kinks: bool = True) -> dict[str, torch.Tensor]:
    """Exact diagonal of nabla^2 L for 2-MLP-Sim-LN (closed form in the module docstring).

    Registered for ``SimLN`` by :mod:`sharpness.architectures.sim_ln`.

    Raises:
        NonDifferentiableError: at a fatal kink (a ReLU unit at 0, or ||h|| = eps).
    """
    X, y = _prepare(net, X, y, check_kinks)
    p = net.param_dict()
    n = X.shape[0]
    eps = float(net.arch.eps)
    z = X @ p["W1"].T + p["b1"]
    h = torch.relu(z)
    on = (z > 0).to(z.dtype)
    w = p["W2"][0]
    norm = torch.linalg.vector_norm(h, dim=1)
    normalized = norm > eps  # torch.clamp(min=eps) passes the gradient where norm >= eps; at
    # norm == eps exactly (a kink) the checks above allow it only with r = 0 and f = 0, where
    # both branches give the same g = w/eps and s is multiplied by r = 0.
    N = torch.clamp(norm, min=eps)
    f = (h @ w) / N
    r = f - y
    Nc = N[:, None]
    fc = f[:, None]
    g_norm = (w - fc * h / Nc) / Nc
    s_norm = -2 * w * h / Nc**3 - fc / Nc**2 + 3 * fc * h**2 / Nc**4
    g = torch.where(normalized[:, None], g_norm, w.expand(n, -1) / eps) * on
    s = torch.where(normalized[:, None], s_norm, torch.zeros_like(s_norm)) * on
    hz = 2 * g**2 + 2 * r[:, None] * s
    diag = {
        "W1": torch.mm(hz.T, X**2) / n,
        "b1": hz.sum(dim=0) / n,
        "W2": (2.0 / n) * torch.sum((h / Nc) ** 2, dim=0, keepdim=True),
    }
    return {k: diag[k].detach() for k in net.arch.param_names}
