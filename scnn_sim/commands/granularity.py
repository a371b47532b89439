"""Sub-command ``granularity``: SCNN cycles, accesses and energy of each pruning granularity.

Runs :func:`scnn_sim.studies.granularity.granularity_study` (one simulation per granularity,
same seed, with
accumulator accesses counted under the per-product, same-address and wide models) and prints
the network table per granularity with every value's ratio to fine-grained pruning.
"""

from __future__ import annotations

import argparse
import re
import sys
import textwrap
from collections.abc import Callable
from functools import partial
from typing import Any

from scnn_sim.commands.options import add_cli_options, options_from_args
from scnn_sim.commands.run import add_sim_options, add_weight_format_option
from scnn_sim.outputs import atomic_write_json, check_output_path, json_text
from scnn_sim.results.tables import TABLE_WIDTH, add_format_options, format_table, note
from scnn_sim.studies.granularity import (
    ACC_MODELS,
    DEFAULT_GRANULARITIES,
    DRAM_WORD_BITS,
    STUDY_OPTIONS,
    StudyError,
)

_SHORT = {"per_product": "product", "same_address": "addr", "wide": "wide"}

Record = dict[str, Any]
#: A table column: header (with unit), value of a record, ratio of a record to its fine record.
Column = tuple[str, Callable[[Record], float], Callable[[Record, Record], float | None] | None]


def _q(*path: str) -> Callable[[Record, Record], float | None]:
    """Ratio getter reading ``record["ratios_vs_fine"][path...]``."""
    def get(rec: Record, _ref: Record) -> float | None:
        v: Any = rec["ratios_vs_fine"]
        for key in path:
            v = v[key]
        return v
    return get


def _v(scale: float, *path: str) -> Callable[[Record], float]:
    """Value getter reading ``record[path...] / scale``."""
    def get(rec: Record) -> float:
        v: Any = rec
        for key in path:
            v = v[key]
        return v / scale
    return get


def _compute_cols() -> list[Column]:
    cols: list[Column] = [
        ("w dens", _v(1, "weight_density"), None),
        ("products [M]", _v(1e6, "products"), _q("products")),
        ("cycles [k]", _v(1e3, "cycles"), _q("cycles")),
        ("util", _v(1, "multiplier_utilization"), _q("multiplier_utilization")),
    ]
    cols += [(f"acc RMW {_SHORT[m]} [M]", _v(1e6, "accumulator_accesses", m),
              _q("accumulator_accesses", m)) for m in ACC_MODELS]
    return cols


def _memory_cols() -> list[Column]:
    mr = "memory_references_by_access_model"
    st = ("memory_by_structure",)
    cols: list[Column] = []
    for name, label in (("iaram", "IARAM"), ("oaram", "OARAM"), ("weight_fifo", "W FIFO")):
        cols.append((f"{label} acc [M]", _v(1e6, mr, "per_product", "per_structure", name,
                                            "accesses"),
                     _q(*st, name, "accesses", "per_product")))
    cols += [(f"acc bank {_SHORT[m]} [M]",
              _v(1e6, mr, m, "per_structure", "accumulator", "accesses"),
              _q(*st, "accumulator", "accesses", m)) for m in ACC_MODELS]
    cols += [
        ("DRAM [Mbit]", _v(1e6, mr, "per_product", "per_structure", "dram", "bits"),
         _q("dram_bits")),
        ("w index [Mbit]", _v(1e6, "accesses", "dram_read_bits_weight_index"),
         _q("weight_index_bits")),
    ]
    cols += [(f"mem refs {_SHORT[m]} [M]", _v(1e6, mr, m, "accesses"),
              _q("memory_references", m)) for m in ACC_MODELS]
    cols += [(f"bits moved {_SHORT[m]} [Mbit]", _v(1e6, mr, m, "bits"),
              _q("memory_bits", m)) for m in ACC_MODELS]
    return cols


_ENERGY_PARTS = (("acc", ("accumulator",)),
                 ("mult+add+coord+xbar", ("multipliers", "adders", "coordinates", "crossbar")),
                 ("IARAM+OARAM", ("iaram", "oaram")),
                 ("W FIFO+bcast", ("weight_fifo", "weight_broadcast")),
                 ("DRAM", ("dram",)), ("leak", ("leakage",)))


def _energy_cols(table_model: str) -> list[Column]:
    def part(keys: tuple[str, ...]) -> Callable[[Record], float]:
        return lambda r: sum(r["energy_pj"][k] for k in keys) / 1e6

    def part_ratio(keys: tuple[str, ...]) -> Callable[[Record, Record], float | None]:
        def get(rec: Record, ref: Record) -> float | None:
            den = sum(ref["energy_pj"][k] for k in keys)
            return sum(rec["energy_pj"][k] for k in keys) / den if den else None
        return get

    cols: list[Column] = [(f"E total [uJ] ({_SHORT[table_model]})", _v(1e6, "energy_pj", "total"),
                           _q("energy_pj", "total"))]
    cols += [(f"E {name} [uJ]", part(keys), part_ratio(keys)) for name, keys in _ENERGY_PARTS]
    cols += [(f"E total {_SHORT[m]} [uJ]", _v(1e6, "energy_pj_by_access_model", m, "total"),
              _q("energy_total_by_access_model", m))
             for m in ACC_MODELS if m != table_model]
    return cols


def _ratio_header(h: str) -> str:
    return re.sub(r"\[[^\]]*\]", "[x]", h) if "[" in h else f"{h} [x]"


def _tables(study: dict[str, Any], sections: list[tuple[str, list[Column]]],
            pick: Callable[[dict[str, Any]], list[Record]]) -> list[str]:
    """Absolute and ratio-to-fine tables of each section for ``pick(entry) -> records``."""
    lines: list[str] = []
    grans = list(study["granularities"])
    fine = pick(study["granularities"]["fine"])
    for title, cols in sections:
        rows = [[g] + [get(rec) for _, get, _ in cols]
                for g in grans for rec in pick(study["granularities"][g])]
        lines += ["", f"{title}:", format_table(["granularity"] + [h for h, _, _ in cols], rows)]
        rcols = [(h, r) for h, _, r in cols if r is not None]
        ratio_rows: list[list[Any]] = []
        for g in grans:
            if g == "fine":
                continue
            for rec, ref in zip(pick(study["granularities"][g]), fine, strict=True):
                vals = [r(rec, ref) for _, r in rcols]
                ratio_rows.append([f"{g} / fine"] + ["-" if v is None else float(v)
                                                      for v in vals])
        if ratio_rows:
            lines += ["", f"{title}, ratio to fine:",
                      format_table(["granularity"] + [_ratio_header(h) for h, _ in rcols],
                                   ratio_rows)]
    return lines


def _per_layer_tables(study: dict[str, Any], model: str) -> list[str]:
    lines: list[str] = []
    fine = study["granularities"]["fine"]["layers"]
    for g, entry in study["granularities"].items():
        headers = ["layer", "w dens", "products [M]", "cycles [k]"] + [
            f"acc RMW {_SHORT[m]} [M]" for m in ACC_MODELS] + [
            f"mem refs {_SHORT[m]} [M]" for m in ACC_MODELS] + ["DRAM [Mbit]", "energy [uJ]"]
        if g != "fine":
            headers += [f"acc {_SHORT[m]} [x fine]" for m in ACC_MODELS] + [
                f"mem refs {_SHORT[m]} [x fine]" for m in ACC_MODELS] + ["energy [x fine]"]
        rows = []
        for rec, _ref in zip(entry["layers"], fine, strict=True):
            mr = rec["memory_references_by_access_model"]
            row = [rec["name"], rec["weight_density"], rec["products"] / 1e6,
                   rec["cycles"] / 1e3]
            row += [rec["accumulator_accesses"][m] / 1e6 for m in ACC_MODELS]
            row += [mr[m]["accesses"] / 1e6 for m in ACC_MODELS]
            row += [mr["per_product"]["per_structure"]["dram"]["bits"] / 1e6,
                    rec["energy_pj"]["total"] / 1e6]
            if g != "fine":
                q = rec["ratios_vs_fine"]
                vals = ([q["accumulator_accesses"][m] for m in ACC_MODELS]
                        + [q["memory_references"][m] for m in ACC_MODELS]
                        + [q["energy_pj"]["total"]])
                row += ["-" if v is None else float(v) for v in vals]
            rows.append(row)
        lines += ["", f"granularity {g}, per layer (energy with the {_SHORT[model]} "
                  "accumulator model):", format_table(headers, rows)]
    return lines


def network_table(study: dict[str, Any], fmt: str = "table", columns: str | None = None) -> str:
    """Every network column of the study in one table, one row per granularity.

    What ``--format csv|markdown`` and ``--columns`` print (ratios to fine are in the JSON).
    """
    model = study["arch"]["accumulator"]["access_model"]
    cols = _compute_cols() + _memory_cols() + _energy_cols(model)
    rows = [[g] + [get(entry["totals"]) for _, get, _ in cols]
            for g, entry in study["granularities"].items()]
    return format_table(["granularity"] + [h for h, _, _ in cols], rows, fmt, columns)


def study_text(study: dict[str, Any], per_layer: bool = False, fmt: str = "table",
               columns: str | None = None) -> str:
    """Render a granularity study (:func:`scnn_sim.studies.granularity.granularity_study`) as text.

    Parameters
    ----------
    study
        The study dict.
    per_layer
        Also print one table per granularity with a row per layer.
    fmt : {"table", "csv", "markdown", "json"}
        ``json``: the ``--json`` document; ``csv``/``markdown``: :func:`network_table`.
    columns
        Comma-separated columns: print :func:`network_table` with only these.

    Returns
    -------
    str
        A header, the network tables (absolute values, then ratios to fine) and notes.
    """
    if fmt == "json":
        return json_text(study)
    if fmt != "table" or columns:
        return network_table(study, fmt, columns)
    a = study["arch"]
    model = a["accumulator"]["access_model"]
    dens = study["density"]
    dens_text = "each layer's published density" if dens == "published" else f"{dens:g}"
    head = [
        f"scnn-sim {study['scnn_sim_version']}  granularity study  workload="
        f"{study['workload']}  density={dens_text}  seed={study['seed']}",
        f"arch={a['name']} ({a['pe_array']['rows']}x{a['pe_array']['cols']} PEs, "
        f"F={a['multiplier']['F']} I={a['multiplier']['I']}, weight order "
        f"{a['dataflow']['weight_order']}, wide access = {a['accumulator']['wide_words']} "
        f"words)",
    ]
    sections = [("network: compute and accumulator read-modify-writes (RMW)", _compute_cols()),
                ("network: memory references", _memory_cols()),
                ("network: energy", _energy_cols(model))]
    lines = head + _tables(study, sections, lambda e: [e["totals"]])
    lines += [
        "",
        "accumulator models: product = one RMW per product (SCNN as published); addr = "
        "products of one cycle to one address summed first; wide = one access per "
        f"{a['accumulator']['wide_words']} adjacent words of an accumulator row.",
        "mem refs = accesses at each structure's native width, summed: accumulator (2 per "
        "RMW + drain reads; a wide access is one), IARAM and OARAM entries, weight-FIFO entries"
        f" of F weights, DRAM accesses of {DRAM_WORD_BITS} bits; bits moved = their bits.",
        f"E total [uJ] ({_SHORT[model]}) and the component columns charge the accumulator "
        f"with the architecture's model ({model}).",
    ]
    if per_layer:
        lines += _per_layer_tables(study, model)
    # Prose lines wrap at the table width (tables, the elements with newlines, are split).
    return "\n".join(x if "\n" in x else "\n".join(textwrap.wrap(x, TABLE_WIDTH)) or x
                     for x in lines)


def run_granularity(args: argparse.Namespace) -> int:
    """Run the study, print it and optionally save it as JSON; return the exit status."""
    from scnn_sim.studies.granularity import granularity_study

    if args.density is not None and args.published_densities:
        raise StudyError("give either --density or --published-densities, not both")
    if args.density is None and not args.published_densities:
        raise StudyError("give --density D (e.g. 0.35) or --published-densities")
    json_path = check_output_path(args.json, "--json") if args.json is not None else None
    opts = options_from_args(args)
    # --- granularity --sensitivity (issue 23): the study under every open modelling choice
    if args.sensitivity:
        from scnn_sim.commands.sensitivity import granularity_text
        from scnn_sim.inputs.choices import get_choices
        from scnn_sim.studies.sensitivity import granularity_sensitivity

        get_choices(args.choices)  # a bad --choices fails before anything runs
        granularity_study = partial(granularity_sensitivity, choices=args.choices)
    elif args.choices is not None:
        raise StudyError("--choices needs --sensitivity")
    # ---
    study = granularity_study(
        args.workload, published_densities=args.published_densities,
        granularities=args.granularities, progress=sys.stderr.isatty(),
        **{k: getattr(opts, k) for k in STUDY_OPTIONS})
    if args.sensitivity:  # granularity --sensitivity: the base study, then the sensitivity
        sens, study = study, {**study["base"], "sensitivity": {
            k: v for k, v in study.items() if k != "base"}}
        text = study_text(study, per_layer=args.per_layer, fmt=args.format,
                          columns=args.columns)
        print(text + (granularity_text(sens) if args.format == "table" else ""))
    else:
        print(study_text(study, per_layer=args.per_layer, fmt=args.format,
                         columns=args.columns))
    if json_path:
        atomic_write_json(json_path, study)
        note(args.format, f"\nwrote {args.json}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``granularity`` sub-command to the top-level parser."""
    p = subparsers.add_parser(
        "granularity",
        help="compare pruning granularities on SCNN (Mao et al. 2017)",
        description="Prune WORKLOAD at each granularity to the same density (same seed: same "
        "dense weights and activations), simulate it on SCNN and compare cycles, accumulator "
        "accesses (per-product, same-address and wide models), memory references and energy "
        "with fine-grained pruning.",
    )
    p.add_argument("workload", metavar="WORKLOAD|FILE.h5|FILE.npz")
    add_cli_options(p, ("density",), {"density": "weight density of every conv layer, in "
                                      "[0, 1]"})
    p.add_argument("--published-densities", action="store_true",
                   help="instead of --density: prune each layer to its own (published) density")
    p.add_argument("--granularities", default=",".join(DEFAULT_GRANULARITIES),
                   help="comma-separated: fine, vector, kernel, filter, channel, "
                   "block:AxBxCxD, nm:N:M (fine is always included as the reference; "
                   f"default {','.join(DEFAULT_GRANULARITIES)})")
    add_sim_options(p)
    add_weight_format_option(p)
    p.add_argument("--per-layer", action="store_true", help="also print per-layer tables")
    p.add_argument("--sensitivity", action="store_true",
                   help="also the coarse/fine ratios under every open modelling choice (scnn-"
                   "sim sensitivity --list-choices) and a verdict per claim")
    p.add_argument("--choices", default=None, metavar="A,B",
                   help="with --sensitivity: vary only these choices (default: all)")
    p.add_argument("--json", default=None, metavar="PATH",
                   help="write the study as JSON (atomically)")
    add_format_options(p)
    p.set_defaults(func=run_granularity)
