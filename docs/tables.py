"""Markdown tables of the committed benchmark results (benchmarks/results/*.json).

``python docs/tables.py NAME`` prints one table; ``docs/regen.py`` includes it in a page with
``<!-- include: docs/tables.py NAME -->``, so the figures on the page are the JSON's, with the
date and the machine they were measured on.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"


def _load(name: str) -> dict:
    return json.loads((RESULTS / f"{name}.json").read_text())


def _committed(name: str) -> str:
    """Date of the commit that last wrote the JSON (its measurement date when not recorded)."""
    out = subprocess.run(["git", "log", "-1", "--format=%cs", "--", f"benchmarks/results/"
                          f"{name}.json"], cwd=ROOT, capture_output=True, text=True).stdout
    return out.strip() or "uncommitted"


def _n(v: float | None, digits: int = 0) -> str:
    return "-" if v is None else f"{v:,.{digits}f}"


def bench_run() -> str:
    """`make bench`: whole-process wall time, throughput and memory per workload."""
    d = _load("bench_run")
    m = d["meta"]
    lines = [f"Measured {m['date']} on {m['machine']}, {m['cpus']} cores (Python {m['python']}; "
             f"load average {m['load_before'][0]} before, {m['load_after'][0]} after), median of "
             f"{m['repeat']} runs; `benchmarks/results/bench_run.json`.", "",
             "| workload | tree | wall [s] | products [M] | M products/s, whole process | "
             "M/s in process, first call | M/s warm | M/s warm, timing kernel alone | "
             "peak RSS [MB] |", "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    trees = list(d["results"])
    names = list(d["results"][trees[-1]])
    for name in names:
        for tree in trees:
            r = d["results"][tree].get(name)
            if r is None:
                continue
            def mps(key: str, r: dict = r) -> float | None:
                return None if r.get(key) is None else r[key] / 1e6

            lines.append(
                f"| {name} | {tree} | {_n(r.get('wall_s'), 2)} | "
                f"{_n(None if r.get('products') is None else r['products'] / 1e6, 1)} | "
                f"{_n(mps('products_per_s_whole_process'))} | {_n(mps('first_products_per_s'))} "
                f"| {_n(mps('warm_products_per_s'))} | {_n(mps('kernel_products_per_s'))} | "
                f"{_n(r.get('peak_rss_mb'))} |")
    return "\n".join(lines)


def bench_peers() -> str:
    """`make bench-peers`: scnn-sim against SCALE-Sim 3.0 on dense AlexNet."""
    d = _load("bench_peers")
    med = sorted(d["scalesim_wall_s"])[len(d["scalesim_wall_s"]) // 2]
    ours = sorted(d["scnn_sim_wall_s"])[len(d["scnn_sim_wall_s"]) // 2]
    g = d["dense_macs"] / 1e9
    return "\n".join([
        f"Measured on {d['machine']} (Python {d['python']}), {d['rounds']} alternating rounds, "
        f"committed {_committed('bench_peers')}; `benchmarks/results/bench_peers.json`.", "",
        "| simulator | whole-process wall [s], median | MACs [G] | MACs/s [M] | cycles |",
        "|---|---:|---:|---:|---:|",
        f"| SCALE-Sim 3.0 (32x32 WS) | {med:.1f} | {g:.3f} | {g * 1e3 / med:.1f} | "
        f"{d['scalesim_cycles']:,} |",
        f"| scnn-sim (SCNN, 64 PEs) | {ours:.2f} | {g:.3f} | {g * 1e3 / ours:.0f} | "
        f"{d['scnn_sim_cycles']:,} |", "",
        f"scnn-sim is {d['ratio']:.0f}x faster per whole process."])


def bench_sweep_scaling() -> str:
    """`make bench-sweep`: the example sweep with 1 and 2 local or dask workers."""
    d = _load("bench_sweep_scaling")
    lines = [f"Measured on {d['machine']} (Python {d['python']}), committed "
             f"{_committed('bench_sweep_scaling')}; `benchmarks/results/"
             f"bench_sweep_scaling.json`.", "",
             "| workers | scheduler | whole-process wall [s] | points/s | speed-up |",
             "|---:|---|---:|---:|---:|"]
    base: dict[str, float] = {}
    for r in d["rows"]:
        base.setdefault(r["scheduler"], r["wall_s"])
        lines.append(f"| {r['workers']} | {r['scheduler']} | {r['wall_s']:.1f} | "
                     f"{r['points_per_s']:.2f} | {base[r['scheduler']] / r['wall_s']:.2f}x |")
    return "\n".join(lines)


def dnnsim() -> str:
    """`python benchmarks/dnnsim_crosscheck.py`: cycles against DNNsim's golden figures."""
    d = _load("dnnsim_crosscheck")
    lines = [f"DNNsim `{d['dnnsim']}`; `benchmarks/results/dnnsim_crosscheck.json`, committed "
             f"{_committed('dnnsim_crosscheck')}.", "",
             "| layer | config | Kc | scnn-sim cycles | DNNsim cycles | error |",
             "|---|---|---:|---:|---:|---:|"]
    for r in d["rows"]:
        theirs = r["dnnsim"]["cycles"] if r["dnnsim"] else None
        err = "-" if r["error_pct"] is None else f"{r['error_pct']['cycles']:+.3f}%"
        lines.append(f"| {r['layer']} | {r['config']} | {r['kc']} | {r['ours']['cycles']:,} | "
                     f"{_n(theirs)} | {err} |")
    lines += ["", f"Worst |error| against DNNsim: {d['worst_abs_error_pct']:.3f}%."]
    return "\n".join(lines)


def papers() -> str:
    """`python benchmarks/scnn_reproduction.py`: the SCNN paper's network figures."""
    d = _load("scnn_reproduction")
    lines = [f"`python benchmarks/scnn_reproduction.py` (scnn-sim {d['scnn_sim_version']}, "
             f"synthetic tensors at the published densities, energy table aladdin40), "
             f"`benchmarks/results/scnn_reproduction.json` committed "
             f"{_committed('scnn_reproduction')}:", "",
             "| network | speed-up over DCNN | paper | SCNN energy / DCNN | paper | "
             "DCNN-opt energy / DCNN | paper |", "|---|---:|---:|---:|---:|---:|---:|"]
    for n in d["networks"]:
        e = d["energy_vs_paper"][n["network"]]
        lines.append(f"| {n['network']} | {n['speedup_vs_dcnn']:.2f} | {n['paper_speedup']:.2f} "
                     f"| {e['scnn_over_dcnn']:.2f} | {e['paper'][0]:.2f} | "
                     f"{e['opt_over_dcnn']:.2f} | {e['paper'][1]:.2f} |")
    return "\n".join(lines)


def tiling_layers() -> str:
    """VGG-16's overflowing layers under the three temporal-tiling rules."""
    d = _load("scnn_reproduction")["temporal_tiling"]["vgg16"]
    rules = ("fewest_passes", "half_iaram", "channel_chunk")
    lines = [f"`benchmarks/results/scnn_reproduction.json` (section 6), committed "
             f"{_committed('scnn_reproduction')}:", "",
             "| layer | passes fewest / half / chunk | penalty fewest / half / chunk | "
             "intra-PE util fewest / half | cycles @ 50 GB/s fewest / half / chunk [k] | "
             "cycles @ 4 GB/s fewest / half / chunk [k] |", "|---|---|---|---|---|---|"]
    for name in d["overflowing_layers"]:
        r = [d["layers"][name][rule] for rule in rules]
        lines.append(
            f"| {name} | {' / '.join(str(x['passes']) for x in r)} | "
            f"{r[0]['penalty']:.3f} / {r[1]['penalty']:.3f} / {r[2]['penalty']:.2f} | "
            f"{r[0]['intra_pe_utilization']:.3f} / {r[1]['intra_pe_utilization']:.3f} | "
            f"{' / '.join(_n(x['cycles_hi'] / 1e3) for x in r)} | "
            f"{' / '.join(_n(x['cycles_low'] / 1e3) for x in r)} |")
    return "\n".join(lines)


def tiling_totals() -> str:
    """Network totals under `half_iaram` and `fewest_passes` (and `channel_chunk`)."""
    d = _load("scnn_reproduction")["temporal_tiling"]
    lines = ["| network | rule | cycles | utilisation | intra-PE utilisation | energy [µJ] | "
             "cycles at 4 GB/s |", "|---|---|---:|---:|---:|---:|---:|"]
    for net, t in d.items():
        for rule in ("half_iaram", "fewest_passes", "channel_chunk"):
            hi, lo = t["totals"][f"{rule}@50"], t["totals"][f"{rule}@4"]
            lines.append(f"| {net} | {rule} | {hi['cycles']:,} | {hi['utilization']:.3f} | "
                         f"{hi['intra_pe_utilization']:.3f} | {hi['energy_pj'] / 1e6:,.1f} | "
                         f"{lo['cycles']:,} |")
    return "\n".join(lines)


def record_fields() -> str:
    """The fields of a run's layer record, from their one declaration (results/fields.py)."""
    from scnn_sim.results.fields import field_table

    return field_table().rstrip("\n")


def sensitivity() -> str:
    """`benchmarks/sensitivity_study.py`: headline metrics and coarse/fine ratios across the
    open modelling choices, AlexNet and VGG-16 at their published densities."""
    d = _load("sensitivity")["networks"]
    head = ["| network | metric | base | min (one at a time) | at | max (one at a time) | at |",
            "|---|---|---|---|---|---|---|"]
    rows = []
    for net, v in d.items():
        for key, label in (("energy_vs_dcnn", "SCNN/DCNN energy"),
                           ("energy_vs_dcnn_opt", "SCNN/DCNN-opt energy"),
                           ("speedup_vs_dcnn", "speed-up vs DCNN"),
                           ("intra_pe_utilization", "intra-PE utilisation"),
                           ("barrier", "barrier fraction")):
            m = v[key]
            o = m["one_at_a_time"]
            rows.append(f"| {net} | {label} | {m['base']:.3f} | {o['min']:.3f} | {o['min_at']} | "
                        f"{o['max']:.3f} | {o['max_at']} |")
        for key, label in (("energy", "kernel/fine energy"),
                           ("memory_references", "kernel/fine memory references"),
                           ("memory_bits", "kernel/fine bits moved"),
                           ("cycles", "kernel/fine cycles")):
            m = v["kernel_over_fine"][key]
            o = m["one_at_a_time"]
            rows.append(f"| {net} | {label} | {m['base']:.3f} | {o['min']:.3f} | {o['min_at']} | "
                        f"{o['max']:.3f} | {o['max_at']} |")
    verdicts = [f"- {net}: {x}" for net, v in d.items() for x in v["verdicts"]]
    return "\n".join(head + rows) + ("\n\nVerdicts per claim:\n\n" + "\n".join(verdicts)
                                     + f"\n\n(benchmarks/results/sensitivity.json, committed "
                                     f"{_committed('sensitivity')})")


def tiling_penalty() -> str:
    """VGG-16's layers that overflow the IARAM: the default rule's temporal-tiling penalty
    against both baselines (simulated here, at the published densities)."""
    from scnn_sim import simulate
    from scnn_sim.pricing.energy import load_energy_table
    from scnn_sim.pricing.layer import record_penalty

    res = simulate("vgg16")
    table = load_energy_table()
    rows = ["| layer | overflow rule | penalty vs DRAM once | penalty vs on chip |",
            "|---|---|---|---|"]
    pens: dict[str, list[float]] = {"dram_once": [], "on_chip": []}
    for lr in res.layers:
        r = lr.record
        if r["mapping"].get("overflow", "resident") == "resident":
            continue
        once, chip = (record_penalty(r, table, b) for b in ("dram_once", "on_chip"))
        pens["dram_once"].append(once - 1)
        pens["on_chip"].append(chip - 1)
        rows.append(f"| {r['name']} | {r['mapping']['overflow']} | {once - 1:.0%} | "
                    f"{chip - 1:.0%} |")
    summary = "; ".join(f"{k}: {min(v):.0%}-{max(v):.0%}, mean {sum(v) / len(v):.0%}"
                        for k, v in pens.items() if v)
    return "\n".join(rows) + f"\n\n{len(pens['dram_once'])} layers; {summary} " \
        "(paper: 9 layers, 5-62%, mean 18%)."


TABLES = {"record_fields": record_fields, "sensitivity": sensitivity,
          "tiling_penalty": tiling_penalty, "bench_run": bench_run,
          "bench_peers": bench_peers,
          "bench_sweep_scaling": bench_sweep_scaling, "dnnsim": dnnsim, "papers": papers,
          "tiling_layers": tiling_layers, "tiling_totals": tiling_totals}

if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in TABLES:
        sys.exit(f"usage: python docs/tables.py {{{','.join(TABLES)}}}")
    print(TABLES[sys.argv[1]]())
