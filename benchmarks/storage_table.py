"""The index-saving table of Mao et al. (2017) for the five built-in networks.

Prunes every conv layer of each network to one density at each granularity (same seeded
weights) and tabulates weight storage with indices, as `scnn-sim storage` does. Writes
benchmarks/results/storage_table.{json,md}.

    python benchmarks/storage_table.py [--density 0.35] [--value-bits 16] [--index-bits 4]
"""

from __future__ import annotations

import argparse
import json
import os
import time

from _common import results_dir

from scnn_sim.studies.storage import storage_report

NETS = ("alexnet", "vgg16", "googlenet", "resnet50", "densenet121")
OUT = results_dir()  # benchmarks/out unless --refresh


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--density", type=float, default=0.35)
    ap.add_argument("--value-bits", type=int, default=16)
    ap.add_argument("--index-bits", type=int, default=4)
    args = ap.parse_args()
    t0 = time.time()
    reports = {n: storage_report(n, args.density, value_bits=args.value_bits,
                                 index_bits=args.index_bits) for n in NETS}
    lines = ["| network | granularity | kept weights | value [Mbit] | index [Mbit] | "
             "total [Mbit] | compression [x] | index vs fine | SCNN-RLE index [Mbit] |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for n, rep in reports.items():
        fine = rep["granularities"][0]["index_bits"]
        for g in rep["granularities"]:
            lines.append(
                f"| {n} | {g['granularity']} | {g['kept_weights']:,} | "
                f"{g['value_bits'] / 1e6:.2f} | {g['index_bits'] / 1e6:.2f} | "
                f"{g['total_bits'] / 1e6:.2f} | {g['compression_ratio']:.2f} | "
                f"{g['index_bits'] / fine:.3f} | {g['index_bits_scnn_rle'] / 1e6:.2f} |")
    md = "\n".join(lines)
    print(md)
    OUT.mkdir(parents=True, exist_ok=True)
    for suffix, text in (("md", md + "\n"), ("json", json.dumps(
            {n: {k: v for k, v in r.items() if k != "layers"} for n, r in reports.items()},
            indent=2) + "\n")):
        tmp = OUT / f"storage_table.{suffix}.tmp"
        tmp.write_text(text)
        os.replace(tmp, OUT / f"storage_table.{suffix}")
    print(f"\n{time.time() - t0:.1f} s; wrote {OUT / 'storage_table.md'}")


if __name__ == "__main__":
    main()
