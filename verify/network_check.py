"""Check any registered network on a dataset: every check of the paper that applies to it.

    report = check_network(net, dataset)
    print(report.format_text())        # or report.to_json(), report.passed

What is checked, for the network's architecture (:func:`sharpness.registry.ops_for`):

* **properties of the network** (facts, reported yes/no): interpolation f(x_i) = y_i (tolerance
  policy); twice differentiable at theta (no fatal kink: kinks are reported, never
  differentiated through); flattest, Tr(nabla^2 L) = the attainable lower bound over
  interpolators (Theorem 4.1's certificate); memorization (Definition 4.2) where it is defined;
* **the theory on this network** (must hold; a failure means the paper or the instrument is
  wrong): at interpolation, Lemma 4.1's identity Tr(nabla^2 L) = (2/n) sum ||grad f(x_i)||^2
  and Tr(nabla^2 L) >= each lower bound of the architecture (Eqs. (2)-(3), Lemma A.12, Lemma A.3);
* **the exact zero-one error and MSE over {-1,1}^d under P_xor** (Props. 4.1-4.2), when asked
  for or when the training set is itself a P_xor sample.

Off interpolation, or where the Hessian does not exist (a fatal kink), Lemma 4.1 and the bounds
say nothing, and the report says so (with the one-sided traces at a kink) instead of checking them.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field

from constructions import Dataset
from sharpness import EnumerationTooLargeError, UnsupportedOperationError
from verify.checks import (
    Evaluation,
    check_bound_respected,
    check_differentiability,
    check_interpolation,
    check_memorization,
    check_trace_bound,
    check_trace_identity,
)
from verify.report import CheckResult, _fmt, _jsonable

__all__ = ["HypercubeMode", "NetworkReport", "check_network"]

#: ``HypercubeMode.AUTO`` enumerates the cube exactly up to this d on P_xor training sets.
AUTO_HYPERCUBE_MAX_D = 20


class HypercubeMode(enum.StrEnum):
    """Whether to compute the P_xor hypercube error."""

    AUTO = "auto"  #: exactly, when the training set is a P_xor sample and d <= 20
    EXACT = "exact"  #: exactly (enumeration / sub-cube pruning), whatever the data
    SAMPLED = "sampled"  #: a sampled estimate (needs ``hypercube_samples``)
    OFF = "off"


@dataclass(frozen=True)
class NetworkReport:
    """The checks that apply to one network on one dataset (module docstring).

    Attributes:
        architecture: the architecture's name.
        parameters: d, n, width(s), number of parameters.
        properties: facts about the network (interpolates, differentiable, flattest, memorizes).
        checks: the theory on this network; all must pass.
        hypercube: the hypercube error (exact or estimate) or None.
        not_applicable: (what, why) for each check that does not apply here.
        trace: exact Tr(nabla^2 L), or None where the Hessian does not exist.
        lemma41: (2/n) sum_i ||grad_theta f(x_i)||^2 (the architecture's per-example gradients).
        bounds: the architecture's lower bounds over interpolators (may be empty).
    """

    architecture: str
    parameters: dict
    properties: tuple[CheckResult, ...]
    checks: tuple[CheckResult, ...]
    hypercube: object | None = None
    not_applicable: tuple[tuple[str, str], ...] = field(default=())
    trace: float | None = None
    lemma41: float | None = None
    bounds: tuple = field(default=())

    @property
    def passed(self) -> bool:
        """Every check of the theory holds (properties are facts, not verdicts)."""
        return all(c.passed for c in self.checks)

    def property(self, name: str) -> bool:
        """Whether the property whose name starts with ``name`` holds (e.g. "interpolation")."""
        for p in self.properties:
            if p.name.startswith(name):
                return p.passed
        raise ValueError(f"no property {name!r}; have {[p.name for p in self.properties]}")

    def to_dict(self) -> dict:
        hc = self.hypercube
        return _jsonable(
            {
                "architecture": self.architecture,
                "parameters": dict(self.parameters),
                "passed": self.passed,
                "properties": [c.to_dict() for c in self.properties],
                "checks": [c.to_dict() for c in self.checks],
                "hypercube": None if hc is None else _hypercube_dict(hc),
                "not_applicable": [{"check": a, "why": b} for a, b in self.not_applicable],
                "trace": self.trace,
                "lemma41_rhs": self.lemma41,
                "bounds": [{"name": b.name, "trace": b.trace} for b in self.bounds],
            }
        )

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, indent=2, allow_nan=False)

    def format_text(self) -> str:
        params = ", ".join(f"{k}={_fmt(v)}" for k, v in self.parameters.items())
        lines = [f"network: {self.architecture}", f"  parameters: {params}", ""]
        rows = [("", "measured", "expected", "tolerance", "status")]
        for c in self.properties:
            rows.append((c.name, _fmt(c.value), _fmt(c.expected), c.tolerance, _yes(c.passed)))
        for c in self.checks:
            rows.append((c.name, _fmt(c.value), _fmt(c.expected), c.tolerance, _status(c)))
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        for j, r in enumerate(rows):
            lines.append("  " + "  ".join(s.ljust(w) for s, w in zip(r, widths, strict=True)))
            if j == 0:
                lines.append("  " + "  ".join("-" * w for w in widths))
        lines = [ln.rstrip() for ln in lines]
        hc = self.hypercube
        if hc is not None:
            lines.append("")
            lines.append(
                f"  hypercube {{-1,1}}^{self.parameters['d']} (P_xor): {_hypercube_line(hc)}"
            )
        details = [(c.name, c.detail) for c in self.properties + self.checks if c.detail]
        if details:
            lines += ["", "  details:"] + [f"    - {a}: {b}" for a, b in details]
        if self.not_applicable:
            lines += ["", "  not checked:"] + [f"    - {a}: {b}" for a, b in self.not_applicable]
        n_ok = sum(c.passed for c in self.checks)
        verdict = (
            "the theory holds on this network" if self.passed else "A CHECK OF THE THEORY FAILED"
        )
        lines += ["", f"  verdict: {verdict} ({n_ok}/{len(self.checks)} checks passed)"]
        return "\n".join(lines)


def _yes(ok: bool) -> str:
    return "yes" if ok else "no"


def _status(c: CheckResult) -> str:
    return ("PASS" if c.passed else "FAIL") + (" (estimate)" if c.kind == "estimate" else "")


def _hypercube_dict(hc) -> dict:
    if hasattr(hc, "ci_low"):
        return {"kind": "estimate", "zero_one": hc.zero_one, "samples": hc.samples,
                "ci": [hc.ci_low, hc.ci_high], "mse": hc.mse}  # fmt: skip
    return {"kind": "exact", "zero_one": hc.zero_one, "errors": hc.errors, "total": hc.total,
            "mse": hc.mse, "undecided": hc.undecided}  # fmt: skip


def _hypercube_line(hc) -> str:
    if hasattr(hc, "ci_low"):
        return (
            f"zero-one error {hc.zero_one:.6g} (ESTIMATE from {hc.samples} samples, "
            f"CI [{hc.ci_low:.4g}, {hc.ci_high:.4g}]), MSE {hc.mse:.6g}"
        )
    line = f"zero-one error {hc.errors}/{hc.total} = {hc.zero_one:.6g} (exact), MSE {hc.mse:.6g}"
    if hc.undecided:
        line += f"; {hc.undecided} point(s) undecidable in float (smooth activation)"
    return line


def _flattest(ev: Evaluation, bounds: tuple) -> tuple[CheckResult | None, str]:
    """Tr = the first attainable bound (flattest among interpolators), or why not decidable."""
    attainable = [b for b in bounds if getattr(b, "attainable", False)]
    if not attainable:
        names = ", ".join(b.name for b in bounds)
        return None, f"no attainable bound is known here ({names} holds but need not be attained)"
    b = attainable[0]
    return check_trace_bound(_WithBound(ev, b), name=f"flattest: Tr(H) = {b.name}"), ""


def check_network(
    net,
    dataset: Dataset,
    *,
    hypercube: HypercubeMode | str = HypercubeMode.AUTO,
    hypercube_samples: int | None = None,
    seed: int = 0,
    progress: bool = False,
) -> NetworkReport:
    """Every check of the paper that applies to ``net`` on ``dataset`` (module docstring).

    Args:
        net: a :class:`constructions.Network` of any registered architecture (from PyTorch:
            :func:`constructions.from_torch`).
        dataset: the training set (:class:`constructions.Dataset`).
        hypercube: :class:`HypercubeMode` (or its value).
        hypercube_samples: number of samples for ``HypercubeMode.SAMPLED``.
        seed: seed of the sampled estimate.
        progress: show progress bars (on a terminal).

    Raises:
        ValueError: for a dataset whose d differs from the network's, or a bad mode.
    """
    mode = HypercubeMode(hypercube)
    if not isinstance(dataset, Dataset):
        raise ValueError(f"dataset must be a constructions.Dataset, got {type(dataset).__name__}")
    if dataset.d != net.d:
        raise ValueError(f"the dataset has d = {dataset.d} but the network takes d = {net.d}")
    if mode is HypercubeMode.SAMPLED and not hypercube_samples:
        raise ValueError("hypercube mode 'sampled' needs hypercube_samples > 0")
    samples = hypercube_samples if mode is HypercubeMode.SAMPLED else None
    ev = Evaluation(net, dataset, hypercube_samples=samples, seed=seed, progress=progress)
    skipped: list[tuple[str, str]] = []
    interp = check_interpolation(ev)
    smooth = check_differentiability(ev)
    props = [interp, smooth]
    checks: list[CheckResult] = []
    try:
        bounds = ev.bounds
    except UnsupportedOperationError as exc:
        bounds = ()
        skipped.append(("lower bound over interpolators", str(exc)))
    if interp.passed and not smooth.passed:
        skipped.append(("Lemma 4.1 identity and the lower bounds", ev.undefined_detail()))
    elif interp.passed:
        checks.append(check_trace_identity(ev))
        for b in bounds:
            ev_b = _WithBound(ev, b)
            checks.append(check_bound_respected(ev_b, name=f"Tr(H) >= {b.name}"))
        if bounds:
            flat, why = _flattest(ev, bounds)
            if flat is not None:
                props.append(flat)
            else:
                skipped.append(("flattest", why))
    else:
        why = "the network does not interpolate its training set (they hold at interpolation)"
        skipped.append(("Lemma 4.1 identity and the lower bounds", why))
    mem = check_memorization(ev)
    if mem.value is None:
        skipped.append(("memorization (Def. 4.2)", mem.detail))
    else:
        props.append(mem)
    hc = None
    want = mode in (HypercubeMode.EXACT, HypercubeMode.SAMPLED) or (
        mode is HypercubeMode.AUTO and dataset.is_hypercube_xor() and net.d <= AUTO_HYPERCUBE_MAX_D
    )
    if want:
        try:
            hc = ev.hypercube
        except (EnumerationTooLargeError, UnsupportedOperationError) as exc:
            skipped.append(("hypercube error", str(exc)))
    elif mode is HypercubeMode.AUTO:
        skipped.append(("hypercube error", "the training set is not a P_xor sample with d <= "
                        f"{AUTO_HYPERCUBE_MAX_D}; ask for hypercube='exact' or 'sampled'"))  # fmt: skip
    params = {"d": net.d, "n": dataset.n, "widths": list(net.widths), "parameters": net.num_params}
    return NetworkReport(
        architecture=net.arch.name,
        parameters=params,
        properties=tuple(props),
        checks=tuple(checks),
        hypercube=hc,
        not_applicable=tuple(skipped),
        trace=ev.trace,
        lemma41=ev.lemma41,
        bounds=tuple(bounds),
    )


class _WithBound:
    """An evaluation seen through one of its bounds (for the per-bound checks)."""

    def __init__(self, ev: Evaluation, bound):
        self._ev, self.bound = ev, bound

    def __getattr__(self, name):
        return getattr(self._ev, name)
