"""``scnn-sim run``: simulate a network on SCNN and print per-layer results."""

from __future__ import annotations

import argparse
import sys
import textwrap

from scnn_sim.commands.options import add_cli_options, cli_parser, options_from_args
from scnn_sim.inputs.options import DEFAULT_WEIGHT_FORMAT, SimOptions
from scnn_sim.outputs import check_output_path, json_text
from scnn_sim.results.records import SimulationResult
from scnn_sim.results.tables import (
    TABLE_WIDTH,
    add_format_options,
    format_table,
    note,
    select_columns,
)

#: The options of ``run``: every field of :class:`~scnn_sim.inputs.options.SimOptions`.
RUN_OPTIONS = SimOptions.__struct_fields__
#: The options shared by ``run`` and the commands built on it (``granularity``).
SHARED_OPTIONS = ("arch", "energy", "seed", "clustered", "pointwise_group", "layers")


_SEED = cli_parser("seed")


def seed_arg(text: str) -> int:
    """argparse type of ``--seed``: a non-negative integer (numpy's seeds), as
    :class:`~scnn_sim.inputs.options.SimOptions` checks it."""
    return _SEED(text)


def add_sim_options(p: argparse.ArgumentParser) -> None:
    """Options shared by ``run`` and the commands built on it (:data:`SHARED_OPTIONS`)."""
    add_cli_options(p, SHARED_OPTIONS)


def add_weight_format_option(p: argparse.ArgumentParser) -> None:
    """``--weight-format``, with the one default of run, granularity and sweep."""
    add_cli_options(p, ("weight_format",))


def add_pruning_options(p: argparse.ArgumentParser) -> None:
    """``--granularity``, ``--density`` and ``--weight-format`` of ``run`` and the commands
    built on it."""
    add_cli_options(p, ("granularity", "density", "weight_format"))


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="simulate a network on SCNN",
                       description="Simulate every conv layer of WORKLOAD (a built-in name, a "
                       "workload YAML, an exported-layer .h5 file or a one-layer .npz file) "
                       "on SCNN.")
    p.add_argument("workload", metavar="WORKLOAD|FILE.h5|FILE.npz")
    add_cli_options(p, RUN_OPTIONS)
    p.add_argument("--json", default=None, metavar="PATH", help="write results as JSON")
    p.add_argument("--h5", default=None, metavar="PATH", help="write results as HDF5")
    add_format_options(p)
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from scnn_sim.simulation import simulate

    json_path = check_output_path(args.json, "--json") if args.json is not None else None
    h5_path = check_output_path(args.h5, "--h5") if args.h5 is not None else None
    fmt = getattr(args, "format", "table")
    columns = getattr(args, "columns", None)
    select_columns(HEADERS, columns)  # an unknown column fails before the simulation
    opts = options_from_args(args)
    result = simulate(args.workload, **opts.kwargs(), progress=sys.stderr.isatty())
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

    ``fmt`` is one of :data:`scnn_sim.results.tables.FORMATS`: ``json`` gives the ``--json``
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
