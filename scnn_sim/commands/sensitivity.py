"""``scnn-sim sensitivity``: a run's headline metrics under every open modelling choice.

Runs :func:`scnn_sim.studies.sensitivity.sensitivity` (the run as configured, then each
choice of :data:`scnn_sim.inputs.choices.CHOICES` one alternative at a time; pricing choices
re-priced, not re-simulated) and prints one row per choice and alternative, then the range
of every metric over the combinations. ``--plot`` draws a tornado chart per metric.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from typing import Any

from scnn_sim.commands.options import options_from_args
from scnn_sim.commands.run import add_pruning_options, add_sim_options
from scnn_sim.inputs.choices import MAX_SIMULATIONS
from scnn_sim.outputs import atomic_write_json, check_output_path, json_text
from scnn_sim.results.tables import (
    TABLE_WIDTH,
    add_format_options,
    format_table,
    note,
    select_columns,
)

#: The options of the options model that ``sensitivity`` takes (those of ``run`` it offers).
SENSITIVITY_OPTIONS = ("arch", "energy", "granularity", "density", "seed", "clustered",
                       "pointwise_group", "layers", "weight_format")

_BY = {"simulation": "sim", "simulation (the base run)": "base run", "re-pricing": "re-priced",
       "reading": "read"}


def choices_table(fmt: str = "table") -> str:
    """The declared open modelling choices: kind, default, alternatives and range."""
    from scnn_sim.inputs.choices import CHOICES

    headers = ["choice", "kind", "default", "alternatives"]
    rows = [[c.name, c.kind, c.default.name, ", ".join(a.name for a in c.alternatives[1:])]
            for c in CHOICES]
    if fmt != "table":
        return format_table(headers + ["open question", "range"],
                            [r + [c.question, c.range or ""] for r, c in zip(rows, CHOICES,
                                                                             strict=True)], fmt)
    lines = [format_table(headers, rows), ""]
    for c in CHOICES:
        text = f"{c.name}: {c.question}." + (f" Range: {c.range}." if c.range else "")
        lines += textwrap.wrap(text, TABLE_WIDTH, subsequent_indent="  ")
    lines += ["", "Each alternative's source: scnn-sim sensitivity WORKLOAD --json (choices[]."
              "alternatives[].source) or scnn_sim/inputs/choices.py."]
    return "\n".join(lines)


def _headers(study: dict[str, Any]) -> list[str]:
    return ["choice=alternative", "by"] + list(study["metrics"].values())


def table_rows(study: dict[str, Any], with_base: bool = True) -> list[list[Any]]:
    """One row for the base, then one per choice and alternative (``-`` where skipped);
    ``with_base=False`` leaves out the alternatives the base run already uses."""
    names = list(study["metrics"])
    rows: list[list[Any]] = [["(base run)", "sim"] + [study["base"][m] for m in names]]
    for ch in study["choices"]:
        for r in ch["results"]:
            if r.get("is_base") and not with_base:
                continue
            label = f"{ch['name']}={r['alternative']}" + (" *" if r.get("is_base") else "")
            if r["skipped"]:
                rows.append([label, "skipped"] + ["-"] * len(names))
            else:
                rows.append([label, _BY[r["produced_by"]]] + [r["values"][m] for m in names])
    return rows


def _where(at: dict[str, str], study: dict[str, Any]) -> str:
    defaults = {c["name"]: c["default"] for c in study["choices"]}
    moved = [f"{c}={a}" for c, a in at.items() if defaults.get(c) != a]
    return ", ".join(moved) or "defaults"


def range_rows(study: dict[str, Any]) -> list[list[Any]]:
    """Per metric: base, min and max over the combinations, and where they are reached."""
    rows = []
    for m, label in study["metrics"].items():
        b = study["range"]["metrics"][m]
        rows.append([label, f"{study['base'][m]:,.4g}", f"{b['min']:,.4g}", f"{b['max']:,.4g}",
                     _where(b["min_at"], study), _where(b["max_at"], study)])
    return rows


def render(study: dict[str, Any], fmt: str = "table", columns: str | None = None) -> str:
    """The sensitivity study as text: ``table`` (header, per-choice table, range table and
    notes), ``csv`` / ``markdown`` (the per-choice table) or ``json`` (the document)."""
    if fmt == "json":
        return json_text(study)
    headers = _headers(study)
    if fmt != "table":
        return format_table(headers, table_rows(study), fmt, columns)
    rows = table_rows(study, with_base=False)
    a, rng = study["arch"], study["range"]
    head = (f"scnn-sim {study['scnn_sim_version']}  sensitivity  workload={study['workload']}  "
            f"arch={a['name']}  energy={study['energy_table']}  granularity="
            f"{study['granularity']}  seed={study['seed']}  ({study['simulations']} runs of "
            f"the {study['engine']})")
    notes = [
        "by: sim = one more run of the cycle-level engine; base run = the alternative is the "
        "run's own configuration; re-priced = the base run's counts priced with another "
        "energy table (no simulation); read = another reading of the base run. * marks the "
        "run's own configuration (the alternatives it already uses equal the base row; "
        "they are in --json and --format csv).",
        f"range over combinations: {rng['note']} ({rng['combinations']:,} combinations, "
        f"{rng['simulated_configurations']} simulated configurations).",
    ]
    lines = [*textwrap.wrap(head, TABLE_WIDTH, subsequent_indent="  "), "",
             "one choice at a time:", format_table(headers, rows, columns=columns), "",
             "range of each metric over the combinations of the choices:",
             format_table(["metric", "base", "min", "max", "min at", "max at"],
                          range_rows(study)), ""]
    lines += [w for n in notes for w in textwrap.wrap(n, TABLE_WIDTH)]
    return "\n".join(lines)


def main(args: argparse.Namespace) -> int:
    if args.list_choices:
        print(choices_table(args.format if args.format != "json" else "table"))
        return 0
    if args.workload is None:
        from scnn_sim.inputs.choices import ChoiceError

        raise ChoiceError("sensitivity: give a WORKLOAD (or --list-choices)")
    from scnn_sim.inputs.choices import get_choices
    from scnn_sim.studies.sensitivity import METRICS, sensitivity

    get_choices(args.choices)  # a bad --choices fails before anything runs
    json_path = check_output_path(args.json, "--json") if args.json is not None else None
    plot_path = None
    if args.plot is not None:
        from scnn_sim.plot.tornado import check_plot_path

        check_plot_path(args.plot)
        plot_path = check_output_path(args.plot, "--plot")
    select_columns(["choice=alternative", "by"] + [lab for lab, _ in METRICS.values()],
                   args.columns)
    opts = options_from_args(args)  # the options model: validated once, as for `run`
    study = sensitivity(
        args.workload, choices=args.choices, max_simulations=args.max_simulations,
        progress=sys.stderr.isatty(),
        **{k: getattr(opts, k) for k in SENSITIVITY_OPTIONS})
    print(render(study, args.format, args.columns))
    if json_path:
        atomic_write_json(json_path, study)
        note(args.format, f"wrote {args.json}")
    if plot_path:
        from scnn_sim.plot.tornado import tornado

        tornado(study, plot_path)
        note(args.format, f"wrote {args.plot}")
    return 0


def _positive(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {n}")
    return n


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``sensitivity`` sub-command."""
    p = sub.add_parser(
        "sensitivity", help="headline metrics under every open modelling choice",
        description="Run WORKLOAD as configured, then under each alternative of each open "
        "modelling choice (scnn-sim sensitivity --list-choices), one at a time: cycles, "
        "energy, speed-up and energy relative to DCNN and DCNN-opt, memory references, "
        "intra-PE utilisation, barrier, temporal-tiling penalty; then the range of each over "
        "the combinations. Energy-table choices re-price the counts (no simulation).")
    p.add_argument("workload", nargs="?", default=None, metavar="WORKLOAD|FILE.h5|FILE.npz")
    add_sim_options(p)
    add_pruning_options(p)
    p.add_argument("--choices", default=None, metavar="A,B",
                   help="vary only these choices (default: all; see --list-choices)")
    p.add_argument("--max-simulations", type=_positive, default=MAX_SIMULATIONS,
                   metavar="N",
                   help="simulate every combination of the simulation choices when there are "
                   f"at most N, else only one at a time (default {MAX_SIMULATIONS})")
    p.add_argument("--list-choices", action="store_true",
                   help="print the declared open modelling choices and exit")
    p.add_argument("--json", default=None, metavar="PATH",
                   help="write every metric per choice and alternative as JSON")
    p.add_argument("--plot", default=None, metavar="FILE.png",
                   help="write a tornado chart per metric (PNG, PDF or SVG)")
    add_format_options(p)
    p.set_defaults(func=main)


# ----------------------------------------------------------------------------- granularity

_RATIO_LABELS = {"memory_references": "mem refs", "memory_bits": "bits", "energy": "energy",
                 "cycles": "cycles"}


def granularity_rows(gs: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    """Headers and rows of the coarse/fine ratios per choice and alternative
    (:func:`scnn_sim.studies.sensitivity.granularity_sensitivity`)."""
    from scnn_sim.studies.sensitivity import _study_ratios

    base = _study_ratios(gs["base"])
    grans = list(base)
    headers = ["choice=alternative", "by"] + [
        f"{g} {_RATIO_LABELS[q]} [x fine]" for g in grans for q in gs["ratios"]]

    def cells(ratios: dict[str, Any]) -> list[Any]:
        return ["-" if ratios[g][q] is None else ratios[g][q] for g in grans
                for q in gs["ratios"]]

    rows: list[list[Any]] = [["(base run)", "sim"] + cells(base)]
    for ch in gs["choices"]:
        for r in ch["results"]:
            if r.get("is_base"):
                continue
            label = f"{ch['name']}={r['alternative']}"
            if r["skipped"]:
                rows.append([label, "skipped"] + ["-"] * (len(headers) - 2))
            else:
                rows.append([label, _BY[r["produced_by"]]] + cells(r["ratios"]))
    return headers, rows


def granularity_text(gs: dict[str, Any]) -> str:
    """The ``granularity --sensitivity`` section: ratios per alternative, then one verdict
    line per claim and coarse granularity."""
    headers, rows = granularity_rows(gs)
    model = gs["base"]["arch"]["accumulator"]["access_model"]
    lines = ["", *textwrap.wrap(
        "sensitivity: network coarse/fine ratios under each open modelling choice (one at a "
        f"time; memory references and bits under the run's access model, {model}, or the "
        "alternative's):", TABLE_WIDTH),
        format_table(headers, rows), "", "claims of Mao et al. (base value in brackets):"]
    for v in gs["verdicts"]:
        lines += textwrap.wrap(f"- {v['verdict']} [{v['base']:.3f}]" if v["base"] is not None
                               else f"- {v['verdict']}", TABLE_WIDTH, subsequent_indent="  ")
    lines += textwrap.wrap(f"({gs['simulations']} granularity studies simulated; pricing "
                           "choices re-priced from their counts; reading choices do not "
                           "change these ratios.)", TABLE_WIDTH)
    return "\n".join(lines)
