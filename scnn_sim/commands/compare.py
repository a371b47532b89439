"""``scnn-sim compare``: per-layer and network ratios of two or more ``run --json``/``--h5``
results."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``compare`` sub-command."""
    p = sub.add_parser(
        "compare", help="compare run results (ratios to the first)",
        description="Per-layer and total ratios (B/A, C/A, ...) of cycles, energy by "
        "component, on-chip memory references and DRAM bits of `run --json` (or `run --h5`) "
        "results. Runs of different workloads or layer lists are refused unless --force.")
    p.add_argument("runs", nargs="+", metavar="RUN.json|RUN.h5",
                   help="two or more run --json or run --h5 files")
    p.add_argument("--force", action="store_true",
                   help="compare different workloads / layer lists over the shared layers")
    p.add_argument("--totals-only", action="store_true", help="print only the network table")
    p.add_argument("--json", default=None, metavar="PATH",
                   help="write values and ratios as JSON")
    p.add_argument("--plot", default=None, metavar="FILE.png|pdf|svg",
                   help="figure of the per-layer ratios of cycles and energy")
    p.add_argument("--title", default=None, help="figure title (default: workload and runs)")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    """Run ``scnn-sim compare``."""
    from scnn_sim.outputs import atomic_write_json, check_output_path
    from scnn_sim.results.compare import compare_runs, render_comparison

    if args.json:
        check_output_path(args.json, "--json")
    if args.plot:
        from scnn_sim.plot import check_output_suffix

        check_output_suffix(args.plot, "--plot")
    cmp = compare_runs(args.runs, force=args.force)
    print(render_comparison(cmp, layers=not args.totals_only))
    if args.json:
        atomic_write_json(args.json, cmp.to_dict(), "--json")
        print(f"wrote {args.json}")
    if args.plot:
        from scnn_sim.plot import plot_compare, save_figure

        save_figure(plot_compare(cmp, title=args.title), args.plot)
        print(f"wrote {args.plot}")
    return 0
