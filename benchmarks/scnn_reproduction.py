"""How close scnn-sim comes to the SCNN paper's published results (Parashar et al., ISCA 2017).

Measures, on the built-in workloads with synthetic tensors at the published densities:
  1. SCNN speed-up over DCNN and energy ratios per network (paper: AlexNet 2.37x, GoogLeNet
     2.19x, VGGNet 3.52x; SCNN 2.3x less energy than DCNN, DCNN-opt 2.0x);
  2. GoogLeNet density sweep, equal weight and activation density (paper: SCNN slower than
     DCNN above ~0.85, 24x faster at 0.1, 0.79x at 1.0);
  3. 64 PEs of 4x4 vs 4 PEs of 16x16 at 1,024 multipliers on GoogLeNet (paper: 64x(4x4)
     11% faster, utilisation 59% vs 35%);
  4. bank-contention model: queued (default) vs lock-step;
  5. per layer of every network: intra-PE utilisation (the paper's Fig. 10 metric), barrier
     idle over the PEs that hold pixels, SCNN/oracle and speed-up over DCNN (paper: VGG-16
     conv2_2 0.94, conv3_2/3_3 0.87-0.91, conv4_2 0.79; GoogLeNet inception 5a/5b below 0.2);
  6. temporal tiling of VGG-16's layers that exceed the IARAM under the three
     ``dataflow.overflow`` rules: passes, energy penalty and cycles at 50 and 4 GB/s (paper:
     penalty 5-62%, mean 18%; slower only near 4 GB/s), and the default rule against the
     previous one (half_iaram) on AlexNet, GoogLeNet and VGG-16.
Rule comparisons simulate only the layers whose activations overflow (the others are mapped
the same way under every rule) and combine them with the default run's other layers.
Section 1 is followed by each layer's SCNN/DCNN and DCNN-opt/DCNN energy and SCNN's
energy shares.
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
from scnn_sim.inputs.arch import ArchConfig, load_arch
from scnn_sim.pricing.energy import load_energy_table
from scnn_sim.pricing.layer import record_penalty
from scnn_sim.results.records import totals_record
from scnn_sim.workload.shapes import Workload, load_workload

OUT = results_dir() / "scnn_reproduction.json"  # benchmarks/out unless --refresh
PAPER_SPEEDUP = {"alexnet": 2.37, "googlenet": 2.19, "vgg16": 3.52}
# SCNN Fig. 10 (intra-PE multiplier utilisation) where the text quotes it.
PAPER_LAYER_UTIL = {("vgg16", "conv2_2"): "0.94", ("vgg16", "conv3_2"): "0.87-0.91",
                    ("vgg16", "conv3_3"): "0.87-0.91", ("vgg16", "conv4_2"): "0.79"}
RULES = ("fewest_passes", "half_iaram", "channel_chunk")
LOW_GBPS = 4.0


def layer_row(net: str, r: dict) -> dict:
    m = r.get("mapping", {})
    return {"layer": r["name"], "intra_pe_utilization": r["intra_pe_utilization"],
            "barrier_fraction_active": r["barrier_fraction_active"],
            "barrier_fraction": r["barrier_fraction"], "oracle_fraction": r["oracle_fraction"],
            "speedup_vs_dcnn": r["speedup_vs_dcnn"], "overflow": m.get("overflow", "-"),
            "passes": m.get("passes", 0), "paper_util": PAPER_LAYER_UTIL.get((net, r["name"]))}


def combined(base: list[dict], repl: dict[str, dict], multipliers: int) -> dict:
    """Network totals of ``base`` records with some layers replaced (by name)."""
    return totals_record([repl.get(r["name"], r) for r in base], multipliers)


def rule_runs(net: str, base: ArchConfig, layers: list[str], given: list[dict]) -> dict:
    """{(rule, GB/s): {layer: record}} of the overflowing layers, for every rule.

    ``given`` are the default run's records (reused for the default rule and bandwidth)."""
    out = {}
    for rule in RULES:
        for gbps in (base.dram_gbytes_per_s, LOW_GBPS):
            if not layers:
                out[rule, gbps] = {}
                continue
            if rule == base.overflow and gbps == base.dram_gbytes_per_s:
                out[rule, gbps] = {r["name"]: r for r in given if r["name"] in layers}
                continue
            arch = base.replace(**{"dataflow.overflow": rule,
                                   "dram.bandwidth_gbytes_per_s": gbps})
            res = scnn_sim.simulate(net, arch=arch, layers=layers)
            out[rule, gbps] = {lr.name: lr.record for lr in res.layers}
    return out


#: Network energy relative to DCNN (SCNN Fig. 11 / section 6): SCNN and DCNN-opt.
PAPER_ENERGY = {"alexnet": (0.49, 0.52), "googlenet": (0.39, 0.48), "vgg16": (0.43, 0.51)}
# SCNN section 6: per layer, SCNN's energy advantage ranges 0.89x-4.7x over DCNN and
# 0.76x-1.9x over DCNN-opt (as SCNN/DCNN energy: 1/0.89 .. 1/4.7).
PAPER_LAYER_RANGE = {"scnn_over_dcnn": (1 / 4.7, 1 / 0.89), "scnn_over_opt": (1 / 1.9, 1 / 0.76)}
# SCNN Fig. 8 (GoogLeNet, equal weight/activation density): SCNN uses 33% more energy than
# DCNN at 1.0, 6% of it at 0.1; it matches DCNN at ~0.83 and DCNN-opt at ~0.6.
PAPER_SWEEP_ENERGY = {"at_1.0": 1.33, "at_0.1": 0.06, "equal_dcnn": 0.83, "equal_opt": 0.6}


def ratios(tot: dict, table=None) -> tuple[float, float]:
    """(SCNN / DCNN, DCNN-opt / DCNN) energy of a record, priced by ``table`` if given."""
    if table is None:
        e, d, o = (tot["energy_pj"]["total"], tot["dcnn"]["energy_pj"]["total"],
                   tot["dcnn_opt"]["energy_pj"]["total"])
    else:
        e, d, o = (sum(table.breakdown(a).values()) for a in
                   (tot["accesses"], tot["dcnn"]["accesses"], tot["dcnn_opt"]["accesses"]))
    return e / d, o / d


def crossover(xs: list[float], ys: list[float], level: float = 1.0) -> float | None:
    """Density at which ``ys`` (ascending with density) first reaches ``level`` (linear)."""
    pts = sorted(zip(xs, ys, strict=True))
    for (x0, y0), (x1, y1) in zip(pts, pts[1:], strict=False):
        if (y0 - level) * (y1 - level) <= 0 and y1 != y0:
            return x0 + (level - y0) * (x1 - x0) / (y1 - y0)
    return None


def energy_vs_paper(results: dict) -> dict:
    """Per-layer SCNN/DCNN and DCNN-opt/DCNN energy, network ratios next to the paper's,
    and the energy shares the paper reports (IARAM under 1%, weight FIFO about 6.7%)."""
    out: dict = {}
    print("\n1b. Energy relative to DCNN per layer (paper Fig. 11; network SCNN 0.49 / 0.39 / "
          "0.43, DCNN-opt 0.52 / 0.48 / 0.51) and SCNN's energy shares (paper: IARAM < 1%, "
          "weight FIFO ~6.7%)")
    for net, res in results.items():
        layers = [{"layer": lr["name"],
                   "scnn_over_dcnn": lr["energy_pj"]["total"] / lr["dcnn"]["energy_pj"]["total"],
                   "opt_over_dcnn": (lr["dcnn_opt"]["energy_pj"]["total"]
                                     / lr["dcnn"]["energy_pj"]["total"])}
                  for lr in res.layers]
        tot = res.totals.record
        e = tot["energy_pj"]
        shares = {k: v / e["total"] for k, v in e.items() if k != "total"}
        net_s = e["total"] / tot["dcnn"]["energy_pj"]["total"]
        net_o = tot["dcnn_opt"]["energy_pj"]["total"] / tot["dcnn"]["energy_pj"]["total"]
        paper = PAPER_ENERGY.get(net)
        out[net] = {"layers": layers, "scnn_over_dcnn": net_s, "opt_over_dcnn": net_o,
                    "paper": paper, "shares": shares}
        print(f"{net}: SCNN/DCNN {net_s:.2f} (paper {paper[0]:.2f}), DCNN-opt/DCNN "
              f"{net_o:.2f} (paper {paper[1]:.2f}); IARAM {shares['iaram']:.1%}, weight FIFO "
              f"{shares['weight_fifo']:.1%}, broadcast {shares['weight_broadcast']:.1%}, "
              f"accumulator {shares['accumulator']:.1%}, crossbar {shares['crossbar']:.1%}, "
              f"DRAM {shares['dram']:.1%}, leakage {shares['leakage']:.1%}")
        print("  " + "  ".join(f"{r['layer']} {r['scnn_over_dcnn']:.2f}/{r['opt_over_dcnn']:.2f}"
                               for r in layers))
        worst = max(layers, key=lambda r: r["scnn_over_dcnn"])
        out[net]["worst_layer"] = worst
        top = PAPER_LAYER_RANGE["scnn_over_dcnn"][1]
        print(f"  worst layer: {worst['layer']} SCNN/DCNN {worst['scnn_over_dcnn']:.2f} (paper: "
              f"the input layers are the worst case, up to {top:.2f})")
    nets = list(out)
    every = [r for net in nets for r in out[net]["layers"]]
    s_rng = (min(r["scnn_over_dcnn"] for r in every), max(r["scnn_over_dcnn"] for r in every))
    so = [r["scnn_over_dcnn"] / r["opt_over_dcnn"] for r in every]
    mae_s = sum(abs(out[n]["scnn_over_dcnn"] - out[n]["paper"][0]) for n in nets) / len(nets)
    mae_o = sum(abs(out[n]["opt_over_dcnn"] - out[n]["paper"][1]) for n in nets) / len(nets)
    out["layer_range"] = {"scnn_over_dcnn": s_rng, "scnn_over_opt": (min(so), max(so)),
                          "paper": PAPER_LAYER_RANGE}
    out["network_mae"] = {"scnn_over_dcnn": mae_s, "opt_over_dcnn": mae_o}
    ps, po = PAPER_LAYER_RANGE["scnn_over_dcnn"], PAPER_LAYER_RANGE["scnn_over_opt"]
    print(f"per layer, all networks: SCNN/DCNN {s_rng[0]:.2f}-{s_rng[1]:.2f} (paper "
          f"{ps[0]:.2f}-{ps[1]:.2f}); SCNN/DCNN-opt {min(so):.2f}-{max(so):.2f} (paper "
          f"{po[0]:.2f}-{po[1]:.2f})")
    print(f"network-level mean absolute error: SCNN/DCNN {mae_s:.3f}, DCNN-opt/DCNN "
          f"{mae_o:.3f}")
    return out


def why_dcnn_opt(res) -> dict:
    """AlexNet's DCNN and DCNN-opt energy by component: what zero-gating and compressed DRAM
    transfers remove, and what they cannot."""
    tot = res.totals.record
    d, o = tot["dcnn"]["energy_pj"], tot["dcnn_opt"]["energy_pj"]
    print("\n1c. Why DCNN-opt saves what it saves (AlexNet, uJ; DCNN -> DCNN-opt): " + ", ".join(
        f"{k} {d[k] / 1e6:,.0f}" + (f" -> {o[k] / 1e6:,.0f}" if o[k] != d[k] else "")
        for k in d if k != "total" and d[k] > 0))
    gated = (d["multipliers"] - o["multipliers"]) / d["total"]
    dram = (d["dram"] - o["dram"]) / d["total"]
    print(f"   zero-gated multipliers save {gated:.1%} of DCNN, compressed DRAM transfers "
          f"{dram:.1%}; DCNN-opt = {o['total'] / d['total']:.2f} of DCNN")
    return {"dcnn_uj": {k: v / 1e6 for k, v in d.items()},
            "dcnn_opt_uj": {k: v / 1e6 for k, v in o.items()},
            "gated_fraction": gated, "dram_fraction": dram}


def tables_side_by_side(sims: dict, sweep_recs: dict) -> dict:
    """The same runs priced with every shipped energy table (energy = counts x table)."""
    from scnn_sim.pricing.energy import builtin_tables, load_energy_table

    out = {}
    print("\n1d. The same counts priced with every shipped table: SCNN/DCNN and DCNN-opt/DCNN "
          "per network (paper 0.49/0.52, 0.39/0.48, 0.43/0.51); GoogLeNet sweep: SCNN/DCNN at "
          "1.0 (paper 1.33) and 0.1 (0.06), density where SCNN = DCNN (~0.83) and = DCNN-opt "
          "(~0.6)")
    for name in builtin_tables():
        t = load_energy_table(name)
        nets = {net: ratios(res.totals.record, t) for net, res in sims.items()}
        xs = sorted(sweep_recs)
        sd = [ratios(sweep_recs[x], t) for x in xs]
        eq_d = crossover(xs, [a for a, _ in sd])
        eq_o = crossover(xs, [a / b for a, b in sd])
        out[name] = {"networks": nets, "sweep_at_1.0": sd[-1][0], "sweep_at_0.1": sd[0][0],
                     "equal_dcnn": eq_d, "equal_opt": eq_o}
        fmt = lambda v: "-" if v is None else f"{v:.2f}"  # noqa: E731
        print(f"  {name:12} " + "  ".join(f"{n} {a:.2f}/{b:.2f}" for n, (a, b) in nets.items())
              + f"  | sweep {sd[-1][0]:.2f} at 1.0, {sd[0][0]:.2f} at {xs[0]:g}, = DCNN at "
              f"{fmt(eq_d)}, = DCNN-opt at {fmt(eq_o)}")
    return out


def with_density(wl: Workload, d: float) -> Workload:
    layers = tuple(replace(lay, weight_density=d, act_density=d) for lay in wl.layers)
    return replace(wl, layers=layers, name=f"{wl.name}@{d:g}")


_LOW_CACHE: dict = {}


def low_base_of(net: str, base: ArchConfig, gbps: float, results: dict,
                over: list[str]) -> list[dict]:
    """The default run's records at another bandwidth (non-overflowing layers re-run)."""
    key = (net, gbps)
    if key not in _LOW_CACHE:
        rest = [r["name"] for r in results[net] if r["name"] not in over]
        recs = {}
        if rest:
            arch = base.replace(**{"dram.bandwidth_gbytes_per_s": gbps})
            recs = {lr.name: lr.record
                    for lr in scnn_sim.simulate(net, arch=arch, layers=rest).layers}
        _LOW_CACHE[key] = [recs.get(r["name"], r) for r in results[net]]
    return _LOW_CACHE[key]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer sweep points, no VGG-16")
    args = ap.parse_args()
    out: dict = {"scnn_sim_version": scnn_sim.__version__}
    t0 = time.time()

    nets = ["alexnet", "googlenet"] + ([] if args.quick else ["vgg16"])
    base = load_arch()
    rows, layer_tables, results, sims = [], {}, {}, {}
    for net in nets:
        res = scnn_sim.simulate(net, arch=base)
        results[net] = [lr.record for lr in res.layers]
        sims[net] = res
        tot = res.totals.record
        e, ed, eo = (tot["energy_pj"]["total"], tot["dcnn"]["energy_pj"]["total"],
                     tot["dcnn_opt"]["energy_pj"]["total"])
        rows.append({"network": net, "speedup_vs_dcnn": tot["speedup_vs_dcnn"],
                     "paper_speedup": PAPER_SPEEDUP[net], "dcnn_energy_over_scnn": ed / e,
                     "dcnn_energy_over_dcnn_opt": ed / eo,
                     "utilization": tot["multiplier_utilization"],
                     "intra_pe_utilization": tot["intra_pe_utilization"],
                     "barrier_fraction_active": tot["barrier_fraction_active"],
                     "barrier_fraction": tot["barrier_fraction"],
                     "oracle_fraction": tot["oracle_fraction"], "cycles": tot["cycles"],
                     "energy_pj": e})
        layer_tables[net] = [layer_row(net, r) for r in results[net]]
    out["networks"] = rows
    out["layers"] = layer_tables
    print("1. SCNN vs DCNN at published densities (paper energy: DCNN/SCNN 2.3x, "
          "DCNN/DCNN-opt 2.0x; paper GoogLeNet utilisation 0.59)")
    print(f"{'network':10} {'speed-up':>9} {'paper':>6} {'E DCNN/SCNN':>12} "
          f"{'E DCNN/opt':>11} {'util':>6} {'intra-PE':>8} {'barrier all':>11} "
          f"{'barrier act':>11} {'oracle frac':>11}")
    for r in rows:
        print(f"{r['network']:10} {r['speedup_vs_dcnn']:9.2f} {r['paper_speedup']:6.2f} "
              f"{r['dcnn_energy_over_scnn']:12.2f} {r['dcnn_energy_over_dcnn_opt']:11.2f} "
              f"{r['utilization']:6.3f} {r['intra_pe_utilization']:8.3f} "
              f"{r['barrier_fraction']:11.3f} {r['barrier_fraction_active']:11.3f} "
              f"{r['oracle_fraction']:11.3f}")
    print("   barrier all = idle over every PE, empty ones included (the reading that fits the "
          "paper; scnn-sim sensitivity --choices barrier_reading); barrier act = over the PEs "
          "that hold pixels")
    out["energy_vs_paper"] = energy_vs_paper(sims)
    out["why_dcnn_opt"] = why_dcnn_opt(sims["alexnet"])

    g = load_workload("googlenet")
    dens = [0.1, 0.5, 1.0] if args.quick else [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
    sweep, sweep_recs = [], {}
    for d in dens:
        tot = scnn_sim.simulate(with_density(g, d)).totals.record
        sweep_recs[d] = tot
        e_s, e_o = ratios(tot)
        sweep.append({"density": d, "speedup_vs_dcnn": tot["speedup_vs_dcnn"],
                      "energy_scnn_over_dcnn": e_s, "energy_opt_over_dcnn": e_o,
                      "utilization": tot["multiplier_utilization"]})
    xs = [r["density"] for r in sweep]
    eq = {"equal_dcnn": crossover(xs, [r["energy_scnn_over_dcnn"] for r in sweep]),
          "equal_opt": crossover(xs, [r["energy_scnn_over_dcnn"] / r["energy_opt_over_dcnn"]
                                      for r in sweep]),
          "speed_equal": crossover(xs, [1 / r["speedup_vs_dcnn"] for r in sweep])}
    out["googlenet_density_sweep"] = sweep
    out["googlenet_density_crossovers"] = {**eq, "paper": {**PAPER_SWEEP_ENERGY,
                                                            "speed_equal": 0.85}}
    print("\n2. GoogLeNet, equal weight/activation density (paper: 24x at 0.1, 0.79x at 1.0, "
          "speed crossover ~0.85; energy SCNN/DCNN 1.33 at 1.0, 0.06 at 0.1)")
    print(f"{'density':>7} {'SCNN/DCNN speed':>16} {'E SCNN/DCNN':>12} {'E opt/DCNN':>11} "
          f"{'util':>6}")
    for r in sweep:
        print(f"{r['density']:7.1f} {r['speedup_vs_dcnn']:16.2f} "
              f"{r['energy_scnn_over_dcnn']:12.2f} {r['energy_opt_over_dcnn']:11.2f} "
              f"{r['utilization']:6.3f}")
    fmt = lambda v: "-" if v is None else f"{v:.2f}"  # noqa: E731
    print(f"SCNN as fast as DCNN at density {fmt(eq['speed_equal'])} (paper ~0.85); as much "
          f"energy as DCNN at {fmt(eq['equal_dcnn'])} (paper ~0.83), as DCNN-opt at "
          f"{fmt(eq['equal_opt'])} (paper ~0.6)")
    out["energy_tables"] = tables_side_by_side(sims, sweep_recs)

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

    print("\n5. Per layer (intra-PE utilisation = SCNN Fig. 10; barrier over PEs holding "
          "pixels, over all PEs; SCNN/oracle; speed-up vs DCNN)")
    for net in nets:
        print(f"{net}:")
        print(f"  {'layer':26} {'intra-PE':>8} {'paper':>9} {'barrier act':>11} "
              f"{'barrier all':>11} {'oracle frac':>11} {'vs DCNN':>8} {'overflow':>14} "
              f"{'passes':>6}")
        for r in layer_tables[net]:
            print(f"  {r['layer']:26} {r['intra_pe_utilization']:8.3f} "
                  f"{r['paper_util'] or '':>9} {r['barrier_fraction_active']:11.3f} "
                  f"{r['barrier_fraction']:11.3f} {r['oracle_fraction']:11.3f} "
                  f"{r['speedup_vs_dcnn']:8.2f} {r['overflow']:>14} {r['passes']:6d}")

    # 6. Temporal tiling: the layers that overflow, under every rule, at 50 and 4 GB/s.
    hi = base.dram_gbytes_per_s
    table = load_energy_table()  # the runs' (default) table
    tiling_out: dict = {}
    for net in nets:
        over = [r["name"] for r in results[net]
                if r.get("mapping", {}).get("overflow", "resident") != "resident"]
        runs = rule_runs(net, base, over, results[net])
        nets_tot = {}
        for rule in RULES:
            for gbps in (hi, LOW_GBPS):
                low_base = results[net]
                if gbps != hi:
                    low_base = low_base_of(net, base, gbps, results, over)
                t = combined(low_base, runs.get((rule, gbps), {}), base.multipliers)
                nets_tot[f"{rule}@{gbps:g}"] = {
                    "cycles": t["cycles"], "utilization": t["multiplier_utilization"],
                    "intra_pe_utilization": t["intra_pe_utilization"],
                    "energy_pj": t["energy_pj"]["total"],
                    "temporal_tiling_penalty": t["temporal_tiling_penalty"]}
        per_layer = {}
        for name in over:
            per_layer[name] = {rule: {
                "passes": runs[rule, hi][name]["mapping"]["passes"],
                "act_dram_fetches": runs[rule, hi][name]["mapping"]["act_dram_fetches"],
                "weight_dram_fetches": runs[rule, hi][name]["mapping"]["weight_dram_fetches"],
                "penalty": runs[rule, hi][name]["temporal_tiling_penalty"],
                "penalty_on_chip": record_penalty(runs[rule, hi][name], table, "on_chip"),
                "intra_pe_utilization": runs[rule, hi][name]["intra_pe_utilization"],
                "cycles_hi": runs[rule, hi][name]["cycles"],
                "cycles_low": runs[rule, LOW_GBPS][name]["cycles"]} for rule in RULES}
        tiling_out[net] = {"overflowing_layers": over, "totals": nets_tot,
                           "layers": per_layer}
    out["temporal_tiling"] = tiling_out
    if "vgg16" in tiling_out:
        vt = tiling_out["vgg16"]
        print(f"\n6. VGG-16 layers whose activations exceed the IARAM, by dataflow.overflow "
              f"(paper: penalty 5-62%, mean 18%; slower only near {LOW_GBPS:g} GB/s)")
        print(f"  {'layer':8} {'rule':14} {'passes':>6} {'act fetch':>9} {'w fetch':>7} "
              f"{'penalty':>7} {'on chip':>7} {'intra-PE':>8} {f'cycles@{hi:g}':>11} "
              f"{f'cycles@{LOW_GBPS:g}':>11}")
        for name, by in vt["layers"].items():
            for rule, v in by.items():
                print(f"  {name:8} {rule:14} {v['passes']:6d} {v['act_dram_fetches']:9.2f} "
                      f"{v['weight_dram_fetches']:7d} {v['penalty']:7.3f} "
                      f"{v['penalty_on_chip']:7.3f} "
                      f"{v['intra_pe_utilization']:8.3f} {v['cycles_hi']:11,} "
                      f"{v['cycles_low']:11,}")
        for key, what in (("penalty", "against each activation read from DRAM once"),
                          ("penalty_on_chip", "against activations kept on chip")):
            pens = [v["fewest_passes"][key] - 1 for v in vt["layers"].values()]
            if pens:
                print(f"  default penalty {what}: {min(pens):.0%}-{max(pens):.0%}, "
                      f"mean {sum(pens) / len(pens):.0%} (paper 5-62%, mean 18%)")
    print(f"\n   Network totals by rule (cycles at {hi:g} / {LOW_GBPS:g} GB/s, utilisation, "
          f"energy)")
    for net, v in tiling_out.items():
        for rule in RULES:
            a, b = v["totals"][f"{rule}@{hi:g}"], v["totals"][f"{rule}@{LOW_GBPS:g}"]
            print(f"  {net:10} {rule:14} {a['cycles']:>10,} / {b['cycles']:>10,} "
                  f"util {a['utilization']:.3f} intra-PE {a['intra_pe_utilization']:.3f} "
                  f"energy {a['energy_pj'] / 1e6:,.1f} uJ "
                  f"(penalty {a['temporal_tiling_penalty']:.3f})")
    out["wall_s"] = time.time() - t0
    OUT.parent.mkdir(parents=True, exist_ok=True)
    tmp = OUT.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(out, indent=2) + "\n")
    os.replace(tmp, OUT)
    print(f"\nwrote {OUT.name} in {out['wall_s']:.0f} s")


if __name__ == "__main__":
    main()
