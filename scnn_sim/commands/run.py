"""``scnn-sim run``: simulate a network on SCNN and print per-layer results."""

from __future__ import annotations

import argparse
import sys
import textwrap

from scnn_sim.report import (
    TABLE_WIDTH,
    add_format_options,
    check_output_path,
    format_table,
    json_text,
    note,
    select_columns,
)
from scnn_sim.results.provenance import DEFAULT_WEIGHT_FORMAT, WEIGHT_FORMATS
from scnn_sim.results.records import SimulationResult


def seed_arg(text: str) -> int:
    """argparse type of ``--seed``: a non-negative integer (numpy's seeds)."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if n < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, got {n}")
    return n


def add_sim_options(p: argparse.ArgumentParser) -> None:
    """Options shared by ``run`` and the commands built on it."""
    p.add_argument("--arch", action="append", default=None, metavar="NAME|ARCH.yaml",
                   help="architecture: a shipped name (scnn, dnnsim) or a YAML path; repeat "
                   "to merge several, later ones override earlier ones (default: scnn)")
    p.add_argument("--energy", default=None, metavar="TABLE",
                   help="energy table: aladdin40 (default), horowitz45, accelergy45 or "
                   "a YAML path")
    p.add_argument("--seed", type=seed_arg, default=0,
                   help="seed of synthetic tensors, >= 0 (default 0)")
    p.add_argument("--clustered", type=float, default=0.0,
                   help="spatial clustering of synthetic activations, 0..1 (default 0)")
    p.add_argument("--pointwise-group", type=int, default=1, metavar="N",
                   help="vector/kernel groups on 1x1 layers: N consecutive input channels")
    p.add_argument("--layers", default=None, metavar="A,B",
                   help="simulate only these conv layers (comma-separated names)")


def add_weight_format_option(p: argparse.ArgumentParser) -> None:
    """``--weight-format``, with the one default of run, granularity and sweep."""
    p.add_argument("--weight-format", choices=WEIGHT_FORMATS, default=DEFAULT_WEIGHT_FORMAT,
                   help="DRAM weight format of coarse granularities: group (one index per "
                   f"kept group; the same as scnn for fine) or scnn (per-weight zero runs); "
                   f"default {DEFAULT_WEIGHT_FORMAT}")


def add_pruning_options(p: argparse.ArgumentParser) -> None:
    """``--granularity``, ``--density`` and ``--weight-format`` of ``run`` and the commands
    built on it."""
    p.add_argument("--granularity", default=None,
                   help="prune weights at this granularity (fine, vector, kernel, filter, "
                   "channel, block:AxBxCxD, nm:N:M)")
    p.add_argument("--density", type=float, default=None,
                   help="weight density for every layer (default: each layer's own)")
    add_weight_format_option(p)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="simulate a network on SCNN",
                       description="Simulate every conv layer of WORKLOAD (a built-in name, a "
                       "workload YAML, an exported-layer .h5 file or a one-layer .npz file) "
                       "on SCNN.")
    p.add_argument("workload", metavar="WORKLOAD|FILE.h5|FILE.npz")
    add_sim_options(p)
    p.add_argument("--area", default=None, metavar="TABLE",
                   help="area table: scnn16 (default, SCNN's Table 4) or a YAML path")
    add_pruning_options(p)
    p.add_argument("--verify", action="store_true",
                   help="check each layer's outputs against a dense reference convolution")
    p.add_argument("--count-merges", action="store_true",
                   help="also count accumulator accesses of the same-address and wide models")
    p.add_argument("--json", default=None, metavar="PATH", help="write results as JSON")
    p.add_argument("--h5", default=None, metavar="PATH", help="write results as HDF5")
    add_format_options(p)
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from scnn_sim.simulation import simulate

    json_path = check_output_path(args.json, "--json") if args.json else None
    h5_path = check_output_path(args.h5, "--h5") if args.h5 else None
    fmt = getattr(args, "format", "table")
    columns = getattr(args, "columns", None)
    select_columns(HEADERS, columns)  # an unknown column fails before the simulation
    result = simulate(
        args.workload, arch=args.arch, energy=args.energy, area=args.area,
        granularity=args.granularity, density=args.density, seed=args.seed, verify=args.verify,
        count_merges=True if args.count_merges else None, clustered=args.clustered,
        pointwise_group=args.pointwise_group,
        layers=args.layers.split(",") if args.layers else None,
        weight_format=args.weight_format,
        progress=sys.stderr.isatty(),
    )
    print(render(result, fmt, columns))
    if json_path:
        result.write_json(json_path)
        note(fmt, f"wrote {args.json}")
    if h5_path:
        result.write_h5(h5_path)
        note(fmt, f"wrote {args.h5}")
    if args.verify and result.totals["verified"] is False:
        print("scnn-sim: error: verification failed (see the 'verified' column)",
              file=sys.stderr)
        return 1
    return 0


def non_default_options(meta: dict) -> dict[str, str]:
    """The simulation options of a result's provenance that differ from their defaults."""
    out: dict[str, str] = {}
    if meta.get("density") is not None:
        out["density"] = f"{meta['density']:g}"
    if meta.get("weight_format", DEFAULT_WEIGHT_FORMAT) != DEFAULT_WEIGHT_FORMAT:
        out["weight_format"] = str(meta["weight_format"])
    if meta.get("clustered"):
        out["clustered"] = f"{meta['clustered']:g}"
    if meta.get("pointwise_group", 1) != 1:
        out["pointwise_group"] = str(meta["pointwise_group"])
    if meta.get("layer_subset"):
        out["layers"] = ",".join(meta["layer_subset"])
    return out


#: Columns of the per-layer table (``--columns`` chooses among them).
HEADERS = ["layer", "w dens", "a dens", "products [M]", "cycles [k]", "oracle [k]",
           "util [frac]", "intra-PE [frac]", "conflict [frac]", "barrier [frac]",
           "barrier act [frac]", "DRAM [Mbit]", "mem refs [M]", "bits moved [Mbit]",
           "energy [uJ]", "vs DCNN [x]", "E vs DCNN [x]", "verified"]


def table_rows(result: SimulationResult) -> list[list]:
    """One row per layer and a ``total`` row, in the order of :data:`HEADERS`."""
    rows = []
    for lr in [*result.layers, result.totals]:
        r = lr.record
        dram = sum(v for k, v in r["accesses"].items() if k.startswith("dram_"))
        e = r["energy_pj"]["total"]
        rows.append([
            r["name"],
            r.get("weight_density", "") if r["name"] != "total" else "",
            r.get("act_density", "") if r["name"] != "total" else "",
            r["products"] / 1e6, r["cycles"] / 1e3, r["oracle_cycles"] / 1e3,
            r["multiplier_utilization"], r["intra_pe_utilization"],
            r["conflict_stall_fraction"], r["barrier_fraction"], r["barrier_fraction_active"],
            dram / 1e6, r["memory_references"]["accesses"] / 1e6,
            r["memory_references"]["bits"] / 1e6, e / 1e6, r["speedup_vs_dcnn"],
            r["dcnn"]["energy_pj"]["total"] / e if e else 0.0,
            {True: "yes", False: "NO", None: "-"}[r["verified"]],
        ])
    return rows


def render(result: SimulationResult, fmt: str = "table", columns: str | None = None) -> str:
    """The per-layer table and network totals, with units.

    ``fmt`` is one of :data:`scnn_sim.report.FORMATS`: ``json`` gives the ``--json``
    document, ``csv`` and ``markdown`` the per-layer table only, ``table`` adds a header line
    and the network summary lines.
    """
    if fmt == "json":
        return json_text(result.to_dict())
    if fmt != "table":
        return format_table(HEADERS, table_rows(result), fmt, columns)
    m = result.meta
    head = (f"scnn-sim {m['scnn_sim_version']}  workload={m['workload']}  "
            f"arch={m['arch']['name']} ({m['arch']['pe_array']['rows']}x"
            f"{m['arch']['pe_array']['cols']} PEs, F={m['arch']['multiplier']['F']} "
            f"I={m['arch']['multiplier']['I']}, {m['arch']['accumulator']['contention']})  "
            f"granularity={m['granularity']}  seed={m['seed']}  energy={m['energy_table']}")
    head += "".join(f"  {k}={v}" for k, v in non_default_options(m).items())
    headers, rows = HEADERS, table_rows(result)
    tot = result.totals.record
    clock = m["arch"]["clock_ghz"]
    lines = [head, format_table(headers, rows, columns=columns), "",
             f"network: {tot['cycles']:,} cycles = {tot['cycles'] / clock / 1e6:.3f} ms at "
             f"{clock:g} GHz; utilisation {tot['multiplier_utilization']:.3f} (intra-PE "
             f"{tot['intra_pe_utilization']:.3f}); energy "
             f"{tot['energy_pj']['total'] / 1e6:,.1f} uJ; DCNN {tot['dcnn']['cycles']:,} cycles, "
             f"{tot['dcnn']['energy_pj']['total'] / 1e6:,.1f} uJ; DCNN-opt "
             f"{tot['dcnn_opt']['energy_pj']['total'] / 1e6:,.1f} uJ",
             "energy by component [uJ]: " + ", ".join(
                 f"{k} {v / 1e6:,.2f}" for k, v in tot["energy_pj"].items() if k != "total"),
             "memory references by structure [M accesses at native width / Mbit]: " + ", ".join(
                 f"{k} {v['accesses'] / 1e6:,.3f} / {v['bits'] / 1e6:,.1f}"
                 for k, v in tot["memory_references"]["per_structure"].items())]
    # The header and summary lines wrap at the table width like the tables.
    def wrap(part: list[str]) -> list[str]:
        return [w for ln in part
                for w in (textwrap.wrap(ln, TABLE_WIDTH, subsequent_indent="  ") or [""])]
    return "\n".join([*wrap(lines[:1]), lines[1], *wrap(lines[2:])])
