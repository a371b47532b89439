"""``scnn-sim arch``: print or check an architecture configuration."""

from __future__ import annotations

import argparse

import yaml

from scnn_sim.inputs.arch import load_arch


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("arch", help="print or validate an architecture YAML",
                       description="Print the architecture (SCNN's Table 3 by default) as "
                       "YAML, after validating every field. Several sources are merged in "
                       "order, later ones overriding earlier ones.")
    p.add_argument("file", nargs="*", metavar="NAME|ARCH.yaml",
                   help="shipped names (scnn, dnnsim) or architecture files to validate, merge "
                   "and print (default: scnn)")
    p.add_argument("--arch", action="append", default=[], metavar="NAME|ARCH.yaml",
                   help="more sources, merged after FILE (the same as on run)")
    p.add_argument("--show", action="store_true", help="print the full configuration")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    sources = [*args.file, *args.arch]
    arch = load_arch(sources or None)
    if args.show or not sources:
        print(yaml.safe_dump(arch.to_dict(), sort_keys=False).rstrip())
    print(f"# {arch.n_pes} PEs x {arch.F}x{arch.I} = {arch.multipliers} multipliers, "
          f"{arch.acc_capacity} accumulator entries per buffer per PE, "
          f"{arch.dram_bits_per_cycle:g} DRAM bits/cycle")
    return 0
