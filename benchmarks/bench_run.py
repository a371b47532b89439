"""Speed and memory of `scnn-sim run` on AlexNet, VGG-16 and GoogLeNet at published densities.

Each measurement runs in a fresh process (so peak RSS is that run's alone) after one warm-up
process that fills numba's on-disk cache. Prints a table and writes
benchmarks/results/bench_run.json.

Targets (issue 3): VGG-16 conv layers <= 15 s wall (>= 200 M products/s), AlexNet <= 2 s,
peak memory < 2 GB, and >= 100x SCALE-Sim 3.0's ~3 M simulated MACs/s on AlexNet conv3 dense.

    python benchmarks/bench_run.py [--workloads alexnet,vgg16,googlenet] [--repeat 1]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from _common import results_dir

HERE = Path(__file__).resolve().parent
OUT = results_dir() / "bench_run.json"  # benchmarks/out unless --refresh

CHILD = r"""
import json, resource, sys, time
from dataclasses import replace
t0 = time.perf_counter()
import scnn_sim
from scnn_sim.workload import load_workload, Workload
kind, name = sys.argv[1], sys.argv[2]
t1 = time.perf_counter()
if kind == "dense":
    wl = load_workload("alexnet")
    layer = replace(wl.layer(name), weight_density=1.0, act_density=1.0)
    wl = Workload("alexnet-dense", (layer,), wl.source, "dense " + name)
else:
    wl = name
res = scnn_sim.simulate(wl)          # first call: loads numba's cached machine code
t2 = time.perf_counter()
rss_cold = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
res = scnn_sim.simulate(wl)          # warm: what a notebook or a sweep worker sees
t3 = time.perf_counter()
tot = res.totals.record
print(json.dumps({"import_s": t1 - t0, "simulate_s": t2 - t1, "simulate_warm_s": t3 - t2,
                  "peak_rss_cold_mb": rss_cold, "products": tot["products"],
                  "dense_macs": tot["dense_macs"], "cycles": tot["cycles"],
                  "layers": len(res.layers),
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def child(kind: str, name: str) -> dict:
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", CHILD, kind, name], check=True,
                         capture_output=True, text=True)
    rec = json.loads(out.stdout.strip().splitlines()[-1])
    rec["process_wall_s"] = time.perf_counter() - t0
    return rec


def cli_wall(name: str) -> float:
    exe = Path(sys.executable).with_name("scnn-sim")
    t0 = time.perf_counter()
    subprocess.run([str(exe), "run", name], check=True, capture_output=True)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workloads", default="alexnet,vgg16,googlenet")
    ap.add_argument("--repeat", type=int, default=1, help="runs per workload (best kept)")
    args = ap.parse_args()
    child("net", "alexnet")  # warm numba's on-disk cache
    results = {}
    for name in args.workloads.split(","):
        best = min((child("net", name) for _ in range(args.repeat)),
                   key=lambda r: r["simulate_s"])
        best["cli_wall_s"] = cli_wall(name)
        best["products_per_s"] = best["products"] / best["simulate_s"]
        results[name] = best
    dense = child("dense", "conv3")
    dense["macs_per_s"] = dense["dense_macs"] / dense["simulate_s"]
    dense["macs_per_s_warm"] = dense["dense_macs"] / dense["simulate_warm_s"]
    dense["vs_scalesim_3M_per_s"] = dense["macs_per_s"] / 3e6
    dense["vs_scalesim_3M_per_s_warm"] = dense["macs_per_s_warm"] / 3e6
    results["alexnet_conv3_dense"] = dense
    print(f"{'workload':22} {'CLI wall [s]':>12} {'simulate [s]':>12} {'warm [s]':>9} "
          f"{'products [M]':>12} {'Mprod/s':>8} {'warm Mprod/s':>12} {'peak RSS [MB]':>13}")
    for name, r in results.items():
        print(f"{name:22} {r.get('cli_wall_s', float('nan')):12.2f} {r['simulate_s']:12.2f} "
              f"{r['simulate_warm_s']:9.2f} {r['products'] / 1e6:12.1f} "
              f"{r['products'] / r['simulate_s'] / 1e6:8.1f} "
              f"{r['products'] / r['simulate_warm_s'] / 1e6:12.1f} {r['peak_rss_cold_mb']:13.0f}")
    print(f"AlexNet conv3 dense: {dense['macs_per_s'] / 1e6:.1f} M simulated MACs/s on the "
          f"first call of a process ({dense['vs_scalesim_3M_per_s']:.0f}x SCALE-Sim 3.0's "
          f"~3 M/s), {dense['macs_per_s_warm'] / 1e6:.1f} M/s warm "
          f"({dense['vs_scalesim_3M_per_s_warm']:.0f}x)")
    meta = {"python": platform.python_version(), "machine": platform.machine(),
            "cpus": os.cpu_count(), "date": time.strftime("%Y-%m-%d %H:%M:%S")}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    tmp = OUT.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({"meta": meta, "results": results}, indent=2) + "\n")
    os.replace(tmp, OUT)
    print(f"wrote {OUT.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main()
