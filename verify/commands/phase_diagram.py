"""``verify-theorem phase-diagram``: the benign-overfitting phase diagram of Kou et al. (2023) and
Chen et al. (2023), GD/SGD beside SAM (:mod:`verify.experiments.phase_diagram`).

    verify-theorem phase-diagram --preset kou2023 --d-grid 100:1090:10 --mu-grid 0:9.9:0.1 --json

``--json`` prints one object with a ``rows`` list (one row per cell and algorithm: d, n, mu_norm,
algorithm, repeats, test_error, train_loss, max_gamma, max_rho, final_trace, ...), the measured
boundary and the fitted exponents.

``--save DIR`` (a new or empty DIR, or one a previous ``--save`` wrote) resumes: each (d, n,
algorithm) batch's rows go to ``DIR/cells.csv`` as soon as the batch is done, keyed by a hash of
the cell's full configuration (``cell_key``; the configuration itself in ``config``), and a rerun
trains only the cells whose key is not there yet (options that differ make new keys, so one DIR
can hold several requests). At the end ``phase_diagram.csv`` (this request's rows, in grid order),
``phase_diagram.json`` and ``heat_map.png`` are written, each atomically. ``--metrics`` adds
each trained cell's per-run records (step, epoch, train loss, max gamma, max |rho|, test error)
as ``DIR/metrics/<cell_key>.jsonl``. A progress bar over the
batches is shown on a terminal only (not with ``--json`` or ``--no-progress``).
Exit codes: 0 done, 2 bad input (nothing written).
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path

NAMES = ("phase-diagram",)
HELP = "Chen et al. (2023) / Kou et al. (2023): test-error phase diagram, SGD beside SAM"
ORDER = 70


def add_arguments(p) -> None:
    p.add_argument("--preset", choices=("kou2023", "chen2023"), default="chen2023",
                   help="kou2023: Kou et al.'s official experiment; chen2023 (default): SGD vs SAM")  # fmt: skip
    for name, what in (("d-grid", "patch dimensions d"), ("n-grid", "training-set sizes n"),
                       ("mu-grid", "signal strengths ||mu||")):  # fmt: skip
        p.add_argument(f"--{name}", default=None, metavar="LIST",
                       help=f"{what}: a,b,c or start:stop:step (stop included); default: preset")  # fmt: skip
    p.add_argument("--repeats", type=int, default=None, help="repeats per cell (default: preset)")
    p.add_argument("--seed", type=int, default=0, help="base seed (default 0)")
    p.add_argument("--algorithms", default=None, metavar="LIST",
                   help="comma list of gd, sgd, sam (default: the preset's two)")  # fmt: skip
    p.add_argument("--no-trace", action="store_true", help="skip the final Hessian traces")
    p.add_argument("--json", action="store_true", help="print one JSON object with a rows list")
    p.add_argument("--save", default=None, metavar="DIR", help="write CSV, JSON and heat map")
    p.add_argument("--metrics", action="store_true",
                   help="with --save: per-run records (epoch, train loss, max gamma, max |rho|, "
                        "test error) in DIR/metrics/<cell_key>.jsonl")  # fmt: skip
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")


def parse_grid(text: str, name: str, *, integer: bool) -> tuple:
    """A comma list ``a,b,c`` or ``start:stop:step`` (stop included) as a sorted tuple.

    Raises:
        ValueError: naming the option and the bad text.
    """
    text = text.strip()
    try:
        if ":" in text:
            parts = text.split(":")
            if len(parts) != 3:
                raise ValueError("need start:stop:step")
            a, b, s = (float(p) for p in parts)
            if not s > 0 or b < a:
                raise ValueError("need step > 0 and stop >= start")
            count = int(math.floor((b - a) / s + 1e-9)) + 1
            if count > 100_000:
                raise ValueError(f"{count} values (at most 100000)")
            vals = [a + k * s for k in range(count)]
        else:
            vals = [float(p) for p in text.split(",") if p.strip()]
            if not vals:
                raise ValueError("empty")
    except ValueError as exc:
        msg = f"--{name} must be a comma list or start:stop:step, got {text!r} ({exc})"
        raise ValueError(msg) from None
    if any(not math.isfinite(v) for v in vals):
        raise ValueError(f"--{name} values must be finite, got {text!r}")
    if integer:
        if any(abs(v - round(v)) > 1e-9 for v in vals) or any(v < 1 for v in vals):
            raise ValueError(f"--{name} values must be integers >= 1, got {text!r}")
        return tuple(sorted({int(round(v)) for v in vals}))
    if any(v < 0 for v in vals):
        raise ValueError(f"--{name} values must be >= 0, got {text!r}")
    return tuple(sorted({round(v, 10) for v in vals}))


#: the resume table in a --save DIR, and every file a --save DIR may hold
CELLS_TABLE = "cells.csv"
METRICS_DIR = "metrics"
SAVE_FILES = frozenset({CELLS_TABLE, CELLS_TABLE + ".lock", "phase_diagram.csv",
                        "phase_diagram.json", "heat_map.png", METRICS_DIR})  # fmt: skip


def _check_save(target: str) -> Path:
    path = Path(target)
    if path.exists():
        if not path.is_dir():
            raise ValueError(f"--save {target}: exists and is not a directory")
        other = sorted(f.name for f in path.iterdir() if f.name not in SAVE_FILES
                       and not f.name.startswith(f".{CELLS_TABLE}."))  # fmt: skip
        if other:
            raise ValueError(f"--save {target}: not an empty directory nor one a previous "
                             f"phase-diagram --save wrote (holds {other[0]!r})")  # fmt: skip
    if not path.resolve().parent.is_dir():
        raise ValueError(f"--save {target}: the parent directory does not exist")
    return path


def _atomic(path: Path, write) -> None:
    """``write(tmp)`` into a temporary file beside ``path``, then moved over it."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _text(diagram) -> str:
    lines = [f"phase diagram ({diagram.preset}): {diagram.runs} runs in {diagram.seconds:.1f} s "
             f"({1e3 * diagram.seconds / max(diagram.runs, 1):.2f} ms per run)"]  # fmt: skip
    lines.append(f"{'algorithm':>9} {'d':>5} {'n':>4} {'||mu||':>7} {'test err':>9} "
                 f"{'train loss':>10} {'max gamma':>9} {'max|rho|':>9} {'trace':>9}")  # fmt: skip
    for r in diagram.rows:
        tr = r.get("final_trace")
        lines.append(f"{r['algorithm']:>9} {r['d']:>5} {r['n']:>4} {r['mu_norm']:>7.3g} "
                     f"{r['test_error']:>9.3f} {r['train_loss']:>10.4f} {r['max_gamma']:>9.3g} "
                     f"{r['max_rho']:>9.3g} {('-' if tr is None else f'{tr:.3g}'):>9}")  # fmt: skip
    for f in diagram.fits:
        iv = f.a_d_interval
        lines.append(f"boundary {f.algorithm}: {f.points} points; exponent of d = "
                     f"{f.a_d if f.a_d is None else round(f.a_d, 3)} "
                     f"(95% CI {None if iv is None else tuple(round(v, 3) for v in iv)}), "
                     f"of n = {f.b_n if f.b_n is None else round(f.b_n, 3)} "
                     f"(95% CI {None if f.b_n_interval is None else tuple(round(v, 3) for v in f.b_n_interval)}); "
                     "predicted 1/4 and -1/4")  # fmt: skip
    return "\n".join(lines)


def run(args) -> int:
    if args.repeats is not None and args.repeats < 1:
        raise ValueError(f"--repeats must be an integer >= 1, got {args.repeats}")
    if args.seed < 0:
        raise ValueError(f"--seed must be an integer >= 0, got {args.seed}")
    d_grid = parse_grid(args.d_grid, "d-grid", integer=True) if args.d_grid else None
    n_grid = parse_grid(args.n_grid, "n-grid", integer=True) if args.n_grid else None
    mu_grid = parse_grid(args.mu_grid, "mu-grid", integer=False) if args.mu_grid else None
    algs = None
    if args.algorithms:
        names = [a.strip() for a in args.algorithms.split(",") if a.strip()]
        bad = [a for a in names if a not in ("gd", "sgd", "sam")]
        if bad or not names:
            raise ValueError(f"--algorithms must list gd, sgd or sam, got {args.algorithms!r}")
    if args.metrics and not args.save:
        raise ValueError("--metrics needs --save DIR (the records go to DIR/metrics/)")
    save = _check_save(args.save) if args.save else None
    # the request is well formed: now torch is imported
    from sharpness._cli import show_progress
    from sharpness.signal_noise import Algorithm, preset
    from verify.experiments.phase_diagram import draw_heat_maps, run_phase_diagram, write_table

    pre = preset(args.preset)
    if args.algorithms:
        algs = [Algorithm(a) for a in names]
    d_grid, n_grid = d_grid or pre.d_grid, n_grid or pre.n_grid
    mu_grid = mu_grid or pre.mu_grid
    repeats = args.repeats or pre.repeats
    table = save / CELLS_TABLE if save is not None else None
    diagram = run_phase_diagram(pre, d_grid=d_grid, n_grid=n_grid, mu_grid=mu_grid,
                                repeats=repeats, algorithms=algs, seed=args.seed,
                                traces=not args.no_trace, table=table,
                                metrics=save / METRICS_DIR if args.metrics else None,
                                progress=show_progress(args))  # fmt: skip
    out = diagram.to_dict()
    if args.json:
        print(json.dumps(out, sort_keys=True, indent=1, allow_nan=False))
    else:
        print(_text(diagram))
    if save is not None:
        save.mkdir(exist_ok=True)
        _atomic(save / "phase_diagram.csv", lambda p: write_table(diagram, p))
        _atomic(save / "phase_diagram.json",
                lambda p: p.write_text(json.dumps(out, sort_keys=True, indent=1)))  # fmt: skip
        _atomic(save / "heat_map.png",
                lambda p: draw_heat_maps(diagram, p, patches=pre.patches, sigma_p=pre.sigma_p))  # fmt: skip
        if not args.json:
            print(f"  saved: {save}/phase_diagram.csv, phase_diagram.json, heat_map.png; "
                  f"{diagram.computed} cells trained, {diagram.reused} read back from "
                  f"{CELLS_TABLE}")  # fmt: skip
    return 0
