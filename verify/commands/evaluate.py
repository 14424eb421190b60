"""``verify-theorem evaluate``: exact answers for weights trained elsewhere (bring your own).

    verify-theorem evaluate --params PARAMS [--arch ARCH] [--data DATASET.npz] [--json]

PARAMS is read by :mod:`constructions.param_files` (the format told by content): an ``.npz`` with
the arrays that ``--save`` writes (``W1``, ``b1`` if the architecture has a bias, ``W2``, ...,
``WD``, the last as (1, m) or (m,); ``bD`` for an output bias; Sim-BN adds ``gamma``), a PyTorch
``nn.Sequential`` state_dict saved with ``torch.save`` (keys ``0.weight``, ``0.bias``,
``2.weight``, optionally ``2.bias``; loaded with ``weights_only=True``) or a ``.safetensors``
file. The architecture is inferred from the arrays (depth, first-layer bias, output bias,
Sim-BN's gamma); ``--arch`` overrides, and is needed for what the arrays cannot tell: Softplus
(``--arch bias-softplus``) and 2-MLP-Sim-LN (``--arch simln``, same arrays as 2-MLP-Bias).
DATASET.npz holds ``X`` (n, d) and ``y`` (n,), as ``--save`` writes them.

Prints the exact zero-one error Pr(y f(x) <= 0) and MSE over all of {-1,1}^d under P_xor
(Props. 4.1-4.2; :func:`sharpness.hypercube_error`: sub-cube pruning, then the fast exact
enumeration for arbitrary weights). With a dataset also the exact Tr(nabla^2 L)
(:func:`sharpness.hessian_trace`), the Lemma 4.1 quantities ((2/n) sum ||grad f(x_i)||^2 and the
interpolation residual) and the architecture's lower bound on the trace of interpolators
(Theorem 4.1's D-layer bound, Lemma A.12 for Sim-LN, Lemma A.3 corrected for Sim-BN, and for an
MLP with an output bias the bound its entry in :mod:`sharpness.registry` declares). Sim-BN
needs ``--data``: its batch statistics come from the training inputs.

Bad input (a missing, truncated, corrupt or foreign file, a pickled module, missing or unexpected
arrays, wrong shapes, NaN or inf, an unknown --arch, a dataset whose d differs from the weights')
is one line on stderr, exit 2.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from sharpness._cli import show_progress

NAMES = ("evaluate",)
HELP = "exact hypercube error, trace and Lemma 4.1 quantities for your own weights (PARAMS.npz)"
ORDER = 20

#: --arch values: constructions.param_files.ARCH_KEYS, repeated so that ``--help`` imports no
#: torch (tests/verify/test_evaluate_command.py keeps the two equal).
ARCHS = (
    "bias",
    "nobias",
    "bias-softplus",
    "nobias-softplus",
    "bias-out",
    "nobias-out",
    "bias-out-softplus",
    "nobias-out-softplus",
    "simln",
    "simbn",
)


def add_arguments(p) -> None:
    p.add_argument(
        "--arch",
        default=None,
        help=f"architecture: one of {', '.join(ARCHS)}; default: inferred from the arrays (depth, "
        "b1, output bias bD, gamma). The arrays cannot tell Softplus from ReLU or 2-MLP-Sim-LN "
        "from 2-MLP-Bias: give --arch bias-softplus or --arch simln for those",
    )
    p.add_argument(
        "--params",
        required=True,
        metavar="PARAMS",
        help="the weights: .npz (as --save writes), a torch.save(model.state_dict()) file "
        "(.pt/.pth; nn.Sequential keys 0.weight, 0.bias, 2.weight, ...) or .safetensors",
    )
    p.add_argument("--data", default=None, metavar="DATASET.npz", help="training set (X, y)")
    p.add_argument(
        "--ln-eps",
        "--ln-epsilon",  # the name before 0.2, still accepted
        dest="ln_eps",
        type=float,
        default=None,
        metavar="EPS",
        help="Sim-LN's eps",
    )
    p.add_argument(
        "--hypercube-samples",
        type=int,
        default=None,
        metavar="N",
        help="estimate the hypercube error from N samples instead (labelled as an estimate)",
    )
    p.add_argument("--device", default=None, help="cpu (default) or cuda for the enumeration")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")


def evaluate(
    net, dataset=None, *, hypercube_samples=None, device=None, progress=True
) -> dict[str, object]:
    """Everything ``evaluate`` prints, as one dict (JSON-ready)."""
    import torch

    from sharpness import hypercube_error, sampled_hypercube_error

    out: dict[str, object] = {"architecture": net.arch.name, "d": net.d, "widths": net.widths}
    if hypercube_samples:
        s = sampled_hypercube_error(net, hypercube_samples)
        out["hypercube"] = {
            "kind": "ESTIMATE",
            "samples": s.samples,
            "errors": s.errors,
            "zero_one": s.zero_one,
            "zero_one_ci": [s.ci_low, s.ci_high],
            "mse": s.mse,
            "mse_ci": [s.mse_ci_low, s.mse_ci_high],
            "confidence": s.confidence,
        }
    else:
        hc = hypercube_error(net, progress=progress, device=device)
        out["hypercube"] = {
            "kind": "exact",
            "total": hc.total,
            "errors": hc.errors,
            "zero_one": hc.zero_one,
            "mse": hc.mse,
            "method": hc.method,
            "evaluated": hc.evaluated,
            "exact_rechecks": hc.exact_rechecks,
            "undecided": hc.undecided,
        }
    if dataset is None:
        return out
    X = torch.tensor(np.array(dataset.X), dtype=net.dtype)
    y = torch.tensor(np.array(dataset.y), dtype=net.dtype)
    out.update(_trace_quantities(net, X, y, dataset))
    return out


def _trace_quantities(net, X, y, dataset) -> dict[str, object]:
    """The training-set quantities, from :func:`verify.check_network` (the public check API)."""
    from verify.network_check import HypercubeMode, check_network

    report = check_network(net, dataset, hypercube=HypercubeMode.OFF)
    f = net(X).detach()
    res = {"n": X.shape[0], "max_abs_residual": float((f - y).abs().max())}
    res["trace"] = report.trace  # None where the Hessian does not exist: never differentiated
    smooth = next(p for p in report.properties if p.name.startswith("twice differentiable"))
    res["kinks"] = (
        None if smooth.passed else f"the Hessian of L does not exist here: {smooth.detail}"
    )
    res["lemma41_rhs"] = report.lemma41
    if report.bounds:
        res["lower_bound"], res["lower_bound_name"] = report.bounds[0].trace, report.bounds[0].name
    else:
        why = dict(report.not_applicable).get("lower bound over interpolators", "")
        res["lower_bound"], res["lower_bound_name"] = None, f"none for this architecture ({why})"
    res["lemma41_rhs_name"] = "(2/n) sum_i ||grad_theta f(x_i)||^2"
    res["network_check"] = report.to_dict()
    return res


def _load(args):
    from constructions import load_dataset
    from constructions.param_files import load_params

    if args.arch is not None and args.arch not in ARCHS:
        raise ValueError(f"--arch must be one of {', '.join(ARCHS)}, got {args.arch!r}")
    if args.arch == "simbn" and args.data is None:
        raise ValueError("--arch simbn needs --data: Sim-BN's batch statistics use the training X")
    try:
        pf = load_params(args.params, arch=args.arch)
    except ValueError as exc:  # one line, starting with the path
        raise ValueError(f"--params {exc}") from None
    dataset = None
    if args.data is not None:
        if not Path(args.data).is_file():
            raise ValueError(f"--data: no such file {args.data}")
        dataset = load_dataset(args.data)
    try:
        arch = pf.architecture(eps=args.ln_eps)
    except ValueError as exc:
        raise ValueError(f"--ln-eps: {exc}") from None
    batch_statistics = arch.couples_examples  # Sim-BN: f(x) depends on the training inputs
    if batch_statistics and dataset is None:
        raise ValueError(
            f"--params {args.params} holds gamma (2-MLP-Sim-BN), which needs --data: Sim-BN's "
            "batch statistics use the training X"
        )
    try:
        net = pf.network(eps=args.ln_eps, reference=dataset.X if batch_statistics else None)
    except ValueError as exc:
        raise ValueError(f"--params {exc}") from None
    if dataset is not None and dataset.d != net.d:
        raise ValueError(
            f"--data {args.data}: X has d = {dataset.d} columns but W1 expects d = {net.d}"
        )
    if args.device not in (None, "cpu", "cuda"):
        raise ValueError(f"--device must be cpu or cuda, got {args.device!r}")
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise ValueError("--device cuda: no CUDA device is available here")
    return net, dataset


def _fmt(v) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:.12g}"
    return str(v)


def format_text(res: dict) -> str:
    lines = [f"{res['architecture']}, d = {res['d']}, widths {tuple(res['widths'])}"]
    hc = res["hypercube"]
    if hc["kind"] == "exact":
        lines += [
            f"  zero-one error on {{-1,1}}^{res['d']} (exact): {hc['errors']} / {hc['total']} = "
            f"{_fmt(hc['zero_one'])}",
            f"  MSE on {{-1,1}}^{res['d']} (exact count, float64 sum): {_fmt(hc['mse'])}",
            f"    method: {hc['method']}; {hc['evaluated']} points evaluated one by one, "
            f"{hc['exact_rechecks']} re-evaluated in rational arithmetic"
            + (f", {hc['undecided']} UNDECIDED (softplus)" if hc["undecided"] else ""),
        ]
    else:
        lo, hi = hc["zero_one_ci"]
        lines += [
            f"  zero-one error ESTIMATE from {hc['samples']} samples: {_fmt(hc['zero_one'])} "
            f"({100 * hc['confidence']:g}% CI [{lo:.6g}, {hi:.6g}], Clopper-Pearson)",
            f"  MSE ESTIMATE: {_fmt(hc['mse'])} (CI [{hc['mse_ci'][0]:.6g}, {hc['mse_ci'][1]:.6g}])",
        ]
    if "trace" in res:
        lines += [
            f"  training set: n = {res['n']}, max |f(x_i) - y_i| = {res['max_abs_residual']:.6g}",
            f"  Tr(nabla^2 L) (exact): {_fmt(res['trace'])}",
        ]
        if res["kinks"]:
            lines.append(f"    undefined: {res['kinks']}")
        lines += [
            f"  {res['lemma41_rhs_name']} (Lemma 4.1 right-hand side): {_fmt(res['lemma41_rhs'])}",
            f"  lower bound, {res['lower_bound_name']}: {_fmt(res['lower_bound'])}",
        ]
        if res["trace"] is not None and res["lower_bound"] is not None:
            gap = res["trace"] - res["lower_bound"]
            lines.append(f"    Tr - bound = {gap:.6g} (the bound holds for interpolators)")
    return "\n".join(lines)


def run(args) -> int:
    if args.hypercube_samples is not None and args.hypercube_samples < 1:
        raise ValueError(f"--hypercube-samples must be >= 1, got {args.hypercube_samples}")
    net, dataset = _load(args)
    res = evaluate(
        net,
        dataset,
        hypercube_samples=args.hypercube_samples,
        device=args.device,
        progress=show_progress(args),
    )
    if args.json:
        print(json.dumps(_jsonable(res), sort_keys=True))
    else:
        print(format_text(res))
    return 0


def _jsonable(v):
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    return v
