"""How close scnn-sim comes to the SCNN paper's published results (Parashar et al., ISCA 2017).

Measures, on the built-in workloads with synthetic tensors at the published densities:
  1. SCNN speed-up over DCNN and energy ratios per network (paper: AlexNet 2.37x, GoogLeNet
     2.19x, VGGNet 3.52x; SCNN 2.3x less energy than DCNN, DCNN-opt 2.0x);
  2. GoogLeNet density sweep, equal weight and activation density (paper: SCNN slower than
     DCNN above ~0.85, 24x faster at 0.1, 0.79x at 1.0);
  3. 64 PEs of 4x4 vs 4 PEs of 16x16 at 1,024 multipliers on GoogLeNet (paper: 64x(4x4)
     11% faster, utilisation 59% vs 35%);
  4. bank-contention model: queued (default) vs lock-step.
Prints tables and writes benchmarks/results/scnn_reproduction.json.

    python benchmarks/scnn_reproduction.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import replace

from _common import results_dir

import scnn_sim
from scnn_sim.arch import load_arch
from scnn_sim.workload import Workload, load_workload

OUT = results_dir() / "scnn_reproduction.json"  # benchmarks/out unless --refresh
PAPER_SPEEDUP = {"alexnet": 2.37, "googlenet": 2.19, "vgg16": 3.52}


def with_density(wl: Workload, d: float) -> Workload:
    layers = tuple(replace(lay, weight_density=d, act_density=d) for lay in wl.layers)
    return replace(wl, layers=layers, name=f"{wl.name}@{d:g}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer sweep points, no VGG-16")
    args = ap.parse_args()
    out: dict = {"scnn_sim_version": scnn_sim.__version__}
    t0 = time.time()

    nets = ["alexnet", "googlenet"] + ([] if args.quick else ["vgg16"])
    rows = []
    for net in nets:
        tot = scnn_sim.simulate(net).totals.record
        e, ed, eo = (tot["energy_pj"]["total"], tot["dcnn"]["energy_pj"]["total"],
                     tot["dcnn_opt"]["energy_pj"]["total"])
        rows.append({"network": net, "speedup_vs_dcnn": tot["speedup_vs_dcnn"],
                     "paper_speedup": PAPER_SPEEDUP[net], "dcnn_energy_over_scnn": ed / e,
                     "dcnn_energy_over_dcnn_opt": ed / eo,
                     "utilization": tot["multiplier_utilization"],
                     "oracle_fraction": tot["oracle_fraction"]})
    out["networks"] = rows
    print("1. SCNN vs DCNN at published densities (paper energy: DCNN/SCNN 2.3x, "
          "DCNN/DCNN-opt 2.0x)")
    print(f"{'network':10} {'speed-up':>9} {'paper':>6} {'E DCNN/SCNN':>12} "
          f"{'E DCNN/opt':>11} {'util':>6} {'oracle frac':>11}")
    for r in rows:
        print(f"{r['network']:10} {r['speedup_vs_dcnn']:9.2f} {r['paper_speedup']:6.2f} "
              f"{r['dcnn_energy_over_scnn']:12.2f} {r['dcnn_energy_over_dcnn_opt']:11.2f} "
              f"{r['utilization']:6.3f} {r['oracle_fraction']:11.3f}")

    g = load_workload("googlenet")
    dens = [0.1, 0.5, 1.0] if args.quick else [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
    sweep = []
    for d in dens:
        tot = scnn_sim.simulate(with_density(g, d)).totals.record
        sweep.append({"density": d, "speedup_vs_dcnn": tot["speedup_vs_dcnn"],
                      "energy_scnn_over_dcnn": tot["energy_pj"]["total"]
                      / tot["dcnn"]["energy_pj"]["total"],
                      "utilization": tot["multiplier_utilization"]})
    out["googlenet_density_sweep"] = sweep
    print("\n2. GoogLeNet, equal weight/activation density (paper: 24x at 0.1, 0.79x at 1.0, "
          "crossover ~0.85)")
    print(f"{'density':>7} {'SCNN/DCNN speed':>16} {'E SCNN/DCNN':>12} {'util':>6}")
    for r in sweep:
        print(f"{r['density']:7.1f} {r['speedup_vs_dcnn']:16.2f} "
              f"{r['energy_scnn_over_dcnn']:12.2f} {r['utilization']:6.3f}")

    base = load_arch()
    pe = {}
    for label, over in (("64 PEs x 4x4", {}),
                        ("4 PEs x 16x16", {"pe_array.rows": 2, "pe_array.cols": 2,
                                           "multiplier.F": 16, "multiplier.I": 16,
                                           # same total storage: 16x the per-PE buffers
                                           "accumulator.banks": 512,
                                           "buffers.iaram_bytes": 16 * 10240,
                                           "buffers.oaram_bytes": 16 * 10240,
                                           "buffers.weight_fifo_entries": 50,
                                           # Kc cap scaled with F (4 -> 16)
                                           "dataflow.kc_max": 32})):
        tot = scnn_sim.simulate("googlenet", arch=base.replace(**over)).totals.record
        pe[label] = {"cycles": tot["cycles"], "utilization": tot["multiplier_utilization"]}
    out["pe_configs"] = pe
    a, b = pe["64 PEs x 4x4"], pe["4 PEs x 16x16"]
    print("\n3. GoogLeNet, 1,024 multipliers (paper: 64x(4x4) 11% faster, util 59% vs 35%)")
    print(f"64x(4x4): {a['cycles']:,} cycles, util {a['utilization']:.3f}; 4x(16x16): "
          f"{b['cycles']:,} cycles, util {b['utilization']:.3f}; 64x(4x4) is "
          f"{b['cycles'] / a['cycles'] - 1:+.1%} faster")

    cont = {}
    for mode in ("queued", "lockstep"):
        tot = scnn_sim.simulate("alexnet", arch=base.replace(
            **{"accumulator.contention": mode})).totals.record
        cont[mode] = {"cycles": tot["cycles"], "utilization": tot["multiplier_utilization"],
                      "conflict_stall_fraction": tot["conflict_stall_fraction"]}
    out["contention_alexnet"] = cont
    print("\n4. AlexNet bank contention: " + "; ".join(
        f"{k}: {v['cycles']:,} cycles, util {v['utilization']:.3f}, conflict stalls "
        f"{v['conflict_stall_fraction']:.3f}" for k, v in cont.items()))
    out["wall_s"] = time.time() - t0
    OUT.parent.mkdir(parents=True, exist_ok=True)
    tmp = OUT.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(out, indent=2) + "\n")
    os.replace(tmp, OUT)
    print(f"\nwrote {OUT.name} in {out['wall_s']:.0f} s")


if __name__ == "__main__":
    main()
