"""``scnn-sim plot``: figures of run, granularity and sweep results (PNG, PDF or SVG)."""

from __future__ import annotations

import argparse

KIND_HELP = ("energy-breakdown: stacked energy per component and layer [\u00b5J]; "
             "cycles: SCNN vs oracle vs DCNN cycles per layer (sweep: utilisation vs density, "
             "a line per combination of the other varied parameters); "
             "granularity: memory references, storage and energy relative to fine; "
             "pe-sweep: energy vs latency of a sweep, one Pareto front per series "
             "(granularity, density, ...) and a marker per PE configuration, and "
             "performance / area and energy x delay x area vs chip area")


def register(sub: argparse._SubParsersAction) -> None:
    from scnn_sim.plot import KINDS

    p = sub.add_parser("plot", help="plot results (run/granularity JSON, run HDF5, sweep)",
                       description="Draw a column-width figure (3.5 in) of RESULTS: a "
                       "`run --json` or `granularity --json` file, a `run --h5` table, or a "
                       "sweep store or its .h5 export.")
    p.add_argument("results", metavar="RESULTS",
                   help="results .json, run .h5, sweep .sqlite store or its .h5 export")
    p.add_argument("--kind", required=True, metavar="KIND",
                   help=f"{', '.join(KINDS)}. {KIND_HELP}")
    p.add_argument("-o", "--output", required=True, metavar="FILE.png|pdf",
                   help="figure file (.png, .pdf or .svg)")
    p.add_argument("--layers", default=None, metavar="A,B",
                   help="per-layer kinds: only these layers or stages (comma-separated, globs "
                   "allowed: conv1,denseblock1,inception_4*)")
    p.add_argument("--group", action="store_true",
                   help="per-layer kinds: one bar per stage/block (name up to the first / or .)")
    p.add_argument("--title", default=None,
                   help="figure title (default: workload | density | energy table)")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from scnn_sim.plot import render

    layers = [x for x in args.layers.split(",") if x] if args.layers else None
    out = render(args.results, args.kind, args.output, layers=layers, group=args.group,
                 title=args.title)
    print(f"wrote {out}")
    return 0
