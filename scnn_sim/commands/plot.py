"""``scnn-sim plot``: figures of run, granularity and sweep results (PNG, PDF or SVG)."""

from __future__ import annotations

import argparse

KIND_HELP = ("energy-breakdown: stacked energy per component and layer [uJ]; "
             "cycles: SCNN vs oracle vs DCNN cycles per layer (sweep: utilisation vs density); "
             "granularity: memory references, storage and energy relative to fine; "
             "pe-sweep: energy vs latency of a sweep with its Pareto front, and "
             "performance / area and energy x delay x area vs chip area")


def register(sub: argparse._SubParsersAction) -> None:
    from scnn_sim.plot import KINDS

    p = sub.add_parser("plot", help="plot results (run/granularity JSON or sweep HDF5)",
                       description="Draw a column-width figure (3.5 in) of RESULTS: a "
                       "`run --json` or `granularity --json` file, or a sweep results .h5.")
    p.add_argument("results", metavar="RESULTS", help="results .json or sweep .h5")
    p.add_argument("--kind", required=True, metavar="KIND",
                   help=f"{', '.join(KINDS)}. {KIND_HELP}")
    p.add_argument("-o", "--output", required=True, metavar="FILE.png|pdf",
                   help="figure file (.png, .pdf or .svg)")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from scnn_sim.plot import render

    out = render(args.results, args.kind, args.output)
    print(f"wrote {out}")
    return 0
