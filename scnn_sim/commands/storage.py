"""Sub-command ``storage``: weight storage and index cost of each pruning granularity."""

from __future__ import annotations

import argparse
from typing import Any

from scnn_sim.commands.run import seed_arg
from scnn_sim.outputs import atomic_write_json, check_output_path, json_text
from scnn_sim.results.tables import add_format_options, format_table, note, select_columns
from scnn_sim.studies.storage import dense_bits, ratio_text, storage_report

DEFAULT_GRANULARITIES = "fine,vector,kernel,filter"

_HEADERS = [
    "granularity",
    "density",
    "non-zero weights",
    "stored values",
    "value bits [Mbit]",
    "index bits [Mbit]",
    "placeholders",
    "total [Mbit]",
    "compression ratio [x]",
    "SCNN-RLE index bits [Mbit]",
]


def _mbit(bits: int) -> float:
    return bits / 1e6


def _row(r: dict[str, Any], first: list[Any]) -> list[Any]:
    ratio = r["compression_ratio"]
    return first + [
        round(r["achieved_density"], 4),
        r["kept_weights"],
        r["stored_values"],
        _mbit(r["value_bits"]),
        _mbit(r["index_bits"]),
        r["placeholders"],
        _mbit(r["total_bits"]),
        float(ratio) if ratio is not None else ratio_text(ratio),
        _mbit(r["index_bits_scnn_rle"]),
    ]


def storage_text(report: dict[str, Any], per_layer: bool = False, fmt: str = "table",
                 columns: str | None = None) -> str:
    """Render a storage report (from :func:`scnn_sim.studies.storage.storage_report`) as text.

    Parameters
    ----------
    report : dict
        The report.
    per_layer : bool
        Also print one table per granularity with a row per layer.
    fmt : {"table", "csv", "markdown", "json"}
        ``json``: the ``--json`` document; ``csv``: the granularity table (with
        ``per_layer``: one row per granularity and layer, a ``granularity`` column first);
        ``markdown``: the tables without the notes.
    columns : str, optional
        Comma-separated columns to keep.

    Returns
    -------
    str
        A header, the table with one row per granularity, and a note on the formats.
    """
    rows = report["granularities"]
    if fmt == "json":
        return json_text(report)
    if fmt == "csv" and per_layer:
        return format_table(["granularity", "layer"] + _HEADERS[1:],
                            [_row(x, [x["granularity"], x["layer"]]) for x in report["layers"]],
                            fmt, columns)
    if fmt in ("csv", "markdown") and not per_layer:
        return format_table(_HEADERS, [_row(r, [r["granularity"]]) for r in rows], fmt, columns)
    n_layers = len({r["layer"] for r in report["layers"]})
    total = rows[0]["total_weights"] if rows else 0
    lines = [
        f"workload {report['workload']}: {n_layers} conv layers, {total:,} weights, dense "
        f"{dense_bits(report) / 1e6:.3f} Mbit at {report['value_bits']}-bit values",
        (f"target density {report['density']:g}" if report["density"] is not None else
         "stored weights as they are (no pruning)")
        + f", {report['index_bits_per_index']}-bit indices"
        + (f", seed {report['seed']}" if report.get("weights") != "stored" else
           ", weights from the file"),
        "",
        format_table(_HEADERS, [_row(r, [r["granularity"]]) for r in rows], fmt, columns),
        "",
        "fine: SCNN per-weight zero-run index; coarser: one run index per kept group.",
        "non-zero weights: the weights left that are not zero; stored values: the value",
        "slots stored (the value bits): whole groups when coarse, placeholders when fine.",
    ]
    if per_layer:
        for r in rows:
            g = r["granularity"]
            per = [x for x in report["layers"] if x["granularity"] == g]
            lines += [
                "",
                f"granularity {g}, per layer:",
                format_table(["layer"] + _HEADERS[1:], [_row(x, [x["layer"]]) for x in per],
                             fmt, columns),
            ]
    return "\n".join(lines)


def run_storage(args: argparse.Namespace) -> int:
    """Compute, print and optionally save the storage report; return the exit status."""
    json_path = check_output_path(args.json, "--json") if args.json is not None else None
    select_columns(["layer", "granularity"] + _HEADERS[1:], args.columns)
    report = storage_report(
        args.workload,
        args.density,
        value_bits=args.value_bits,
        index_bits=args.index_bits,
        granularities=args.granularities,
        seed=args.seed,
        norm=args.norm,
        pointwise_group=args.pointwise_group,
        kc=args.kc,
    )
    print(storage_text(report, per_layer=args.per_layer, fmt=args.format, columns=args.columns))
    if json_path:
        atomic_write_json(json_path, report)
        note(args.format, f"\nJSON written to {args.json}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``storage`` sub-command to the top-level parser."""
    p = subparsers.add_parser(
        "storage",
        help="weight storage and index bits of each pruning granularity",
        description="Prune synthetic Gaussian weights of every conv layer to one density at "
        "each granularity and report value bits, index bits, placeholders and compression "
        "(fine: SCNN per-weight zero-run index; coarse: one run index per kept group).",
    )
    p.add_argument("workload", metavar="WORKLOAD|FILE.h5|FILE.npz",
                   help="built-in workload name, YAML path, or an exported-layer .h5 / "
                   "one-layer .npz file (its real weights)")
    p.add_argument("--density", type=float, default=None,
                   help="target weight density in [0, 1] (required for workloads of shapes; "
                   "for a file, omit it to size the stored weights without pruning)")
    p.add_argument("--value-bits", type=int, default=16, help="bits per weight value: 16, 8 or 4")
    p.add_argument("--index-bits", type=int, default=4, help="bits per run index, 1..16")
    p.add_argument(
        "--granularities",
        default=DEFAULT_GRANULARITIES,
        help="comma-separated: fine, vector, kernel, filter, channel, block:AxBxCxD, nm:N:M "
        f"(default {DEFAULT_GRANULARITIES})",
    )
    p.add_argument("--seed", type=seed_arg, default=0, help="seed of the synthetic weights")
    p.add_argument("--norm", default="l1", help="group saliency: l1 (default) or l2")
    p.add_argument(
        "--pointwise-group",
        type=int,
        default=1,
        help="input channels per vector/kernel group on 1x1 layers (default 1: single weights)",
    )
    p.add_argument(
        "--kc", type=int, default=8, help="output channels per SCNN weight block (default 8)"
    )
    p.add_argument("--per-layer", action="store_true", help="also print per-layer tables")
    p.add_argument("--json", metavar="PATH", help="write the report as JSON (atomically)")
    add_format_options(p)
    p.set_defaults(func=run_storage)
