"""``scnn-sim sweep``: run a design-space sweep spec into one crash-safe results store."""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path
from typing import Any

from scnn_sim.outputs import check_output_path
from scnn_sim.results.tables import add_format_options, format_table, note, table_records

#: Rows of the per-point table printed at the end (the file has them all).
MAX_TABLE_ROWS = 60


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sweep", help="run a design-space sweep (architecture x granularity x density x seed)",
        description="Expand SPEC.yaml into points, simulate them in parallel (local processes, "
        "or a dask.distributed scheduler) and stream the results into one SQLite store "
        "(crash-safe: one transaction per point). "
        "Re-running the same command resumes: complete points are skipped, failed ones retried.")
    p.add_argument("spec", metavar="SPEC.yaml|NAME", help="sweep specification, or the "
                   "name of a shipped one: example (workloads/sweeps/example.yaml)")
    p.add_argument("-o", "--output", default=None, metavar="RESULTS.sqlite",
                   help="results store (default: SPEC's name with .sqlite, in the current "
                   "directory)")
    p.add_argument("--export", default=None, metavar="FILE.h5|FILE.csv",
                   help="after the run, export the store's table to HDF5 or CSV")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="local worker processes (default: the cores available; 1 = in-process)")
    p.add_argument("--scheduler", default=None, metavar="tcp://HOST:PORT",
                   help="submit points to this dask.distributed scheduler instead "
                   "(needs scnn-sim[distributed])")
    p.add_argument("--max-points", type=int, default=None, metavar="N",
                   help="run at most N new points, then stop (run again to continue)")
    p.add_argument("--no-progress", action="store_true",
                   help="no progress (default: a bar on a terminal, else one line per point "
                   "on stderr)")
    add_format_options(p)
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from scnn_sim.sweep import load_spec, load_sweep_results, run_sweep

    if args.scheduler is not None:  # before any work: a malformed address is one line
        from scnn_sim.sweep.executors import check_scheduler_address

        check_scheduler_address(args.scheduler)
    spec = load_spec(args.spec)
    out = args.output if args.output is not None else f"{Path(args.spec).stem}.sqlite"
    target = check_output_path(out, "-o" if args.output is not None else "output")
    if os.path.islink(out):  # write the link's target, not over the link
        out = str(target)
    from scnn_sim.sweep import EXPORT_SUFFIXES

    if target.suffix.lower() in EXPORT_SUFFIXES and not target.exists():
        from scnn_sim.errors import ConfigError

        raise ConfigError(f"{out}: the sweep store is an SQLite file: name it .sqlite (HDF5 "
                          "and CSV are exports: --export FILE.h5|.csv)")
    if args.export is not None:

        if Path(args.export).suffix.lower() not in EXPORT_SUFFIXES:
            from scnn_sim.errors import ConfigError

            raise ConfigError(f"--export {args.export}: unknown format (.h5, .hdf5 or .csv)")
        check_output_path(args.export, "--export")
    varied = ", ".join(spec.varied) or "-"
    note(args.format, f"sweep {spec.name}: {len(spec)} points (varied: {varied}) -> {out}")
    summary = run_sweep(spec, out, workers=args.workers, scheduler=args.scheduler,
                        progress=progress_mode(args.no_progress, sys.stderr),
                        max_points=args.max_points)
    print(render(load_sweep_results(out), summary.point_ids, spec.varied, args.format,
                 args.columns))
    note(args.format, str(summary))
    if args.export is not None:
        from scnn_sim.sweep import export_sweep

        n = export_sweep(out, args.export)
        note(args.format, f"exported {n} rows -> {args.export}")
    for pid, msg in summary.error_messages[:10]:
        note(args.format, f"  error {pid}: {msg}")
    if len(summary.error_messages) > 10:
        note(args.format, f"  ... {len(summary.error_messages) - 10} more errors "
             "(column 'error' of the file)")
    return 1 if summary.errors else 0


def progress_mode(off: bool, stream: Any) -> bool | str:
    """A tqdm bar on a terminal; one line per point in a log (no ``\\r`` frames); or none."""
    if off:
        return False
    isatty = getattr(stream, "isatty", None)
    return True if isatty is not None and isatty() else "lines"


def _num(v: Any) -> Any:
    if isinstance(v, float):
        if math.isnan(v):
            return "-"
        if v.is_integer() and abs(v) < 2**53:
            return int(v)
    return v


def render(table: Any, point_ids: list[str], varied: list[str], fmt: str = "table",
           columns: str | None = None) -> str:
    """One line per point of this spec (its ``total`` row), with units.

    ``fmt`` (:data:`scnn_sim.results.tables.FORMATS`) and ``columns`` as in
    :func:`scnn_sim.results.tables.format_table`; csv/json list every point, the text table the
    first :data:`MAX_TABLE_ROWS`.

    ``table`` is what :func:`scnn_sim.sweep.load_sweep_results` returns (a DataFrame, or a
    numpy structured array without pandas).
    """
    recs = table_records(table)
    present = set(recs[0]) if recs else set()
    order = {pid: i for i, pid in enumerate(point_ids)}
    tot = sorted((r for r in recs if r["layer"] == "total" and r["point_id"] in order),
                 key=lambda r: order[r["point_id"]])
    labels = "label" in present and any(r["label"] != "" for r in tot)
    # Labelled configurations (mode: list) are shown by label, others by their varied values.
    arch_cols = [] if labels else [f"arch.{k}" for k in varied if f"arch.{k}" in present]
    headers = ["point", "workload", "PEs", *(["label"] if labels else []),
               *[c.split(".", 1)[1] for c in arch_cols],
               "granularity", "density", "seed", "cycles [k]", "energy [uJ]", "util",
               "vs DCNN [x]", "status"]
    rows = []
    for r in (tot[:MAX_TABLE_ROWS] if fmt in ("table", "markdown") else tot):
        ok = r["status"] == "ok"
        rows.append([
            r["point_id"][:8], r["workload"], r["pe_config"], *([r["label"]] if labels else []),
            *[_num(r[c]) for c in arch_cols],
            r["granularity"] or "-", _num(r["density"]), int(r["seed"]),
            r.get("cycles", math.nan) / 1e3 if ok else "-",
            r.get("energy_pj.total", math.nan) / 1e6 if ok else "-",
            r.get("multiplier_utilization", "-") if ok else "-",
            r.get("speedup_vs_dcnn", "-") if ok else "-",
            r["status"],
        ])
    text = format_table(headers, rows, fmt, columns)
    if len(tot) > MAX_TABLE_ROWS and fmt in ("table", "markdown"):
        text += f"\n... {len(tot) - MAX_TABLE_ROWS} more points in the file"
    return text
