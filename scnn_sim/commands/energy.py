"""``scnn-sim energy``: print and validate an energy table with each entry's width and source."""

from __future__ import annotations

import argparse

from scnn_sim.pricing.energy import builtin_tables, load_energy_table, load_ert_table
from scnn_sim.results.tables import format_table


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``energy`` sub-command."""
    p = sub.add_parser(
        "energy", help="print or validate an energy table (shipped, YAML or Accelergy ERT)",
        description="Validate an energy table and print every action's energy, the width it "
        "is for, its width-independent part, pJ per bit, unit and source. TABLE is a shipped name "
        f"({', '.join(builtin_tables())}; default aladdin40), a table YAML, a mapping YAML "
        "with 'ert:', or an Accelergy ERT.yaml given with --mapping.")
    p.add_argument("table", nargs="?", default=None, metavar="TABLE",
                   help="shipped name, table YAML, ERT mapping YAML, or ERT.yaml with --mapping")
    p.add_argument("--mapping", default=None, metavar="MAP.yaml",
                   help="mapping of scnn-sim actions to the ERT's components and actions "
                   "(see scnn_sim/data/ert/example_mapping.yaml)")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    """Load (validate) the table and print it; errors are one line (exit 2)."""
    if args.mapping is not None:
        if args.table is None:
            from scnn_sim.errors import ConfigError

            raise ConfigError("--mapping: give the Accelergy ERT.yaml as TABLE")
        table = load_ert_table(args.table, args.mapping)
    else:
        table = load_energy_table(args.table)
    rows = []
    for r in table.describe():
        # Text, not floats: one shared number format would round 0.0643 pJ to 0.1.
        rows.append([r["action"], r["component"], f"{r['energy_pj']:.4g}",
                     "-" if r["bits"] is None else f"{r['bits']:g}",
                     f"{r['fixed_pj']:.4g}" if r["fixed_pj"] else "-",
                     "-" if r["pj_per_bit"] is None else f"{r['pj_per_bit']:.4g}",
                     r["unit"], r["source"]])
    print(f"# energy table {table.name} ({table.technology_node}): energy_pj is for one action "
          "of the stated width; accesses are priced per bit moved")
    print(format_table(["action", "component", "energy [pJ]", "width [bit]", "fixed [pJ]",
                        "[pJ/bit]", "per", "source"], rows))
    return 0
