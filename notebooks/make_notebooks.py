"""Generate the scnn-sim notebooks (committed without outputs).

    .venv/bin/python notebooks/make_notebooks.py          # rewrite notebooks/*.ipynb

Each notebook starts with a parameter cell (tag ``parameters``): ``SMALL`` comes from the
environment variable ``SCNN_SIM_NOTEBOOK_SMALL`` (``1`` = layer subsets, each notebook runs in
well under 30 s; unset = full networks, minutes). Each ends by printing one line
``RESULT {json}`` with its key numbers and the titles of the figures it drew, which
``tests/test_notebooks.py`` checks.

The notebooks build no result dicts by hand: they call the public API (``simulate``,
``granularity_study``, ``run_sweep``), whose results carry the density, granularity and
energy table the figures' titles are made from, and they read every number from the records.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

PARAMS = '''\
import os

# SMALL = True: layer subsets, so the notebook runs in well under 30 s (the tests set
# SCNN_SIM_NOTEBOOK_SMALL=1). SMALL = False: full networks (several minutes on 2 cores).
SMALL = os.environ.get("SCNN_SIM_NOTEBOOK_SMALL", "0") == "1"
SEED = 0'''

SETUP = '''\
%matplotlib inline
%config InlineBackend.figure_format = "retina"
import dataclasses
import json

import matplotlib.pyplot as plt
import pandas as pd

from scnn_sim import simulate
from scnn_sim.plot import STYLE

pd.set_option("display.precision", 3)
print(f"SMALL = {SMALL}")'''


def notebook(cells: list) -> nbformat.NotebookNode:
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def params_cell() -> nbformat.NotebookNode:
    cell = new_code_cell(PARAMS)
    cell.metadata["tags"] = ["parameters"]
    return cell


# ---------------------------------------------------------------------------------------------

NB01 = [
    new_markdown_cell("""\
# 01 - Reproducing SCNN: density sweep and per-layer speed-ups

Parashar et al., *SCNN: An Accelerator for Compressed-sparse Convolutional Neural Networks*,
ISCA 2017, evaluate SCNN (64 PEs of 4x4 multipliers, Table 3; `scnn_sim/data/arch/scnn.yaml`)
against DCNN, a dense accelerator with the same 1,024 multipliers, and against an *oracle*
that keeps every multiplier busy on non-zero products (cycles = products / 1,024).

This notebook reproduces two of its results:

1. **Density sweep.** GoogLeNet layers with the weight density and the input-activation
   density set equal, swept from 0.1 to 1.0. Paper: SCNN is about **24x faster** than DCNN at
   density 0.1 and becomes **slower than DCNN above about 0.85** (its sparse dataflow has
   overheads a dense design does not pay).
2. **Per-layer performance** of AlexNet, GoogLeNet and VGG-16 at the per-layer densities of the
   paper's Fig. 1 (`workloads/*.yaml`), against DCNN and the oracle. Paper, whole networks:
   SCNN / DCNN speed-up **AlexNet 2.37x, GoogLeNet 2.19x, VGGNet 3.52x**.

With `SMALL = True` only subsets of layers are simulated (listed below), so the network
speed-ups are those of the subsets, not of the whole networks."""),
    params_cell(),
    new_code_cell(SETUP),
    new_markdown_cell("""\
## 1. Density sweep (GoogLeNet)

Every conv layer gets weight density = input-activation density = *d*; the synthetic weights
are magnitude-pruned to *d* (`simulate(..., density=d)`), and the synthetic activations are
drawn at *d*."""),
    new_code_cell('''\
from scnn_sim.workload.shapes import load_workload

GOOGLENET = load_workload("googlenet")
SWEEP_LAYERS = ["inception_3a/3x3", "inception_3a/5x5"] if SMALL else None  # None: all 57
DENSITIES = [0.1, 0.3, 0.5, 0.7, 0.85, 1.0] if SMALL else [round(0.1 * i, 1)
                                                          for i in range(1, 11)]


def at_density(workload, d):
    """The workload with every conv layer's weight and activation density set to d."""
    layers = tuple(lay.with_densities(d, d, "default") if lay.kind == "conv" else lay
                   for lay in workload.layers)
    return dataclasses.replace(workload, layers=layers)


rows = []
for d in DENSITIES:
    t = simulate(at_density(GOOGLENET, d), density=d, layers=SWEEP_LAYERS, seed=SEED).totals
    rows.append({
        "density": d,
        "SCNN cycles": t["cycles"],
        "DCNN cycles": t["dcnn"]["cycles"],
        "oracle cycles": t["oracle_cycles"],
        "SCNN / DCNN speed-up [x]": t["speedup_vs_dcnn"],
        "DCNN / SCNN energy [x]": t["dcnn"]["energy_pj"]["total"] / t["energy_pj"]["total"],
        "utilisation": t["multiplier_utilization"],
    })
density_df = pd.DataFrame(rows).set_index("density")
density_df'''),
    new_code_cell('''\
def crossover(df, col="SCNN / DCNN speed-up [x]"):
    """Density where the speed-up falls through 1 (linear interpolation), or None."""
    xs, ys = list(df.index), list(df[col])
    for (x0, y0), (x1, y1) in zip(zip(xs, ys), zip(xs[1:], ys[1:])):
        if y0 >= 1.0 > y1:
            return x0 + (y0 - 1.0) * (x1 - x0) / (y0 - y1)
    return None


speedup_01 = float(density_df["SCNN / DCNN speed-up [x]"].iloc[0])
cross = crossover(density_df)
print(f"speed-up at density {DENSITIES[0]}: {speedup_01:.1f}x (paper: 24x at 0.1)")
print("SCNN slower than DCNN above density "
      + (f"{cross:.2f}" if cross is not None else "- (never within the sweep)")
      + " (paper: about 0.85)")

with plt.rc_context(STYLE):
    fig, ax = plt.subplots(figsize=(3.5, 2.4), layout="constrained")
    ax.plot(density_df.index * 100, density_df["SCNN / DCNN speed-up [x]"], "o-",
            label="SCNN / DCNN (this model)")
    ax.plot(density_df.index * 100, density_df["DCNN cycles"] / density_df["oracle cycles"],
            ":", color="0.5", label="oracle / DCNN")
    ax.plot([10, 85], [24, 1], "kx", label="paper (24x at 10%, 1x at ~85%)")
    ax.axhline(1.0, color="black", linewidth=0.5)
    ax.set_yscale("log")
    ax.set_xlabel("weight = activation density [%]")
    ax.set_ylabel("speed-up over DCNN [x]")
    ax.legend()
    fig.suptitle(f"googlenet | weight = activation density {DENSITIES[0]:g}-{DENSITIES[-1]:g}"
                 " | SCNN / DCNN cycles", fontsize=7, x=0.02, ha="left")
    density_title = fig.get_suptitle()
    plt.show()'''),
    new_markdown_cell("""\
## 2. Per-layer performance vs oracle and DCNN

Each network at its published per-layer densities (fine-grained pruning, seed 0). The bars
show SCNN cycles next to the oracle (what perfect multiplier utilisation would take) and
DCNN."""),
    new_code_cell('''\
INCEPTION_3A = ["inception_3a/1x1", "inception_3a/3x3_reduce", "inception_3a/3x3",
                "inception_3a/5x5_reduce", "inception_3a/5x5", "inception_3a/pool_proj"]
NETWORKS = {  # layer subsets when SMALL; None = every conv layer
    "alexnet": ["conv3", "conv4", "conv5"] if SMALL else None,
    "googlenet": INCEPTION_3A if SMALL else None,
    "vgg16": ["conv5_1", "conv5_2", "conv5_3"] if SMALL else None,
}
PAPER_SPEEDUP = {"alexnet": 2.37, "googlenet": 2.19, "vgg16": 3.52}

runs = {name: simulate(name, layers=layers, seed=SEED) for name, layers in NETWORKS.items()}
summary_rows = []
for name, r in runs.items():
    t = r.totals
    summary_rows.append({
        "network": name,
        "layers": len(r.layers),
        "SCNN / DCNN [x]": t["speedup_vs_dcnn"],
        "paper (whole network) [x]": PAPER_SPEEDUP[name],
        "oracle / SCNN cycles": t["oracle_fraction"],
        "DCNN / SCNN energy [x]": t["dcnn"]["energy_pj"]["total"] / t["energy_pj"]["total"],
    })
network_df = pd.DataFrame(summary_rows).set_index("network")
network_df'''),
    new_code_cell('''\
per_layer = pd.concat({
    name: pd.DataFrame([{
        "layer": lr["name"],
        "SCNN [kcycles]": lr["cycles"] / 1e3,
        "oracle [kcycles]": lr["oracle_cycles"] / 1e3,
        "DCNN [kcycles]": lr["dcnn"]["cycles"] / 1e3,
        "SCNN / DCNN [x]": lr["speedup_vs_dcnn"],
        "oracle / SCNN": lr["oracle_fraction"],
    } for lr in r.layers]).set_index("layer")
    for name, r in runs.items()
})
per_layer'''),
    new_code_cell('''\
from scnn_sim.plot import plot_cycles

# Each result records its workload, density (null: each layer's published density) and energy
# table, so plot_cycles titles each figure from the result itself.
figs = {name: plot_cycles(r) for name, r in runs.items()}
figs["alexnet"]'''),
    new_code_cell('''\
figs["googlenet"]'''),
    new_code_cell('''\
figs["vgg16"]'''),
    new_code_cell('''\
result = {
    "small": SMALL,
    "density_speedup": {str(d): round(float(v), 4)
                        for d, v in density_df["SCNN / DCNN speed-up [x]"].items()},
    "speedup_at_lowest_density": round(speedup_01, 3),
    "crossover_density": None if cross is None else round(cross, 3),
    "network_speedup": {n: round(float(v), 3)
                        for n, v in network_df["SCNN / DCNN [x]"].items()},
    "paper": {"network_speedup": PAPER_SPEEDUP, "speedup_at_0.1": 24,
              "crossover_density": 0.85},
    "titles": {"density_sweep": density_title,
               **{f"cycles {n}": fig.get_suptitle() for n, fig in figs.items()}},
}
print("RESULT " + json.dumps(result))'''),
]

# ---------------------------------------------------------------------------------------------

NB02 = [
    new_markdown_cell("""\
# 02 - Granularity of sparsity: storage, memory references and energy

Mao et al., *Exploring the Granularity of Sparsity in Convolutional Neural Networks* (CVPR
workshops 2017), argue that pruning weights in coarse groups (a vector of a kernel, a whole
RxS kernel, a whole filter) instead of one by one costs little accuracy at a given density
but **saves index storage** (one index per kept group instead of one per weight) and **memory
references** (a group of weights lands on neighbouring accumulator entries, so accesses can be
merged).

This notebook prunes AlexNet's conv weights to the same density at each granularity and shows:

1. **Storage**: compressed weight bits and index bits per granularity (`scnn_sim.studies.storage`),
   and the index saving relative to fine-grained pruning.
2. **Memory references and energy on SCNN**: accumulator accesses under three models
   (`per_product` as published; `same_address`: products of one cycle to the same entry
   merged; `wide`: one wide access serves neighbouring words), memory references (accesses
   at each structure's native width, and the bits they move:
   `scnn_sim.results.records.memory_references`), DRAM traffic and energy, each relative to `fine`
   (weights stored in the group-index format of each granularity: `weight_format="group"`),
   from `scnn_sim.studies.granularity.granularity_study`, the API of `scnn-sim granularity`."""),
    params_cell(),
    new_code_cell(SETUP),
    new_code_cell('''\
WORKLOAD = "alexnet"
DENSITY = 0.35
GRANULARITIES = ["fine", "vector", "kernel", "filter"]
LAYERS = ["conv3", "conv4", "conv5"] if SMALL else None  # None: every conv layer'''),
    new_markdown_cell("## 1. Storage and index saving (all conv layers)"),
    new_code_cell('''\
from scnn_sim.studies.storage import storage_report

report = storage_report(WORKLOAD, DENSITY, granularities=GRANULARITIES, seed=SEED)
storage_df = pd.DataFrame(report["granularities"]).set_index("granularity")
fine_index = storage_df.loc["fine", "index_bits"]
storage_df["index saving vs fine [%]"] = 100 * (1 - storage_df["index_bits"] / fine_index)
storage_df["total vs fine [x]"] = storage_df["total_bits"] / storage_df.loc["fine", "total_bits"]
storage_df[["achieved_density", "value_bits", "index_bits", "total_bits", "compression_ratio",
            "index saving vs fine [%]", "total vs fine [x]"]]'''),
    new_markdown_cell("## 2. Memory references and energy on SCNN"),
    new_code_cell('''\
from scnn_sim.studies.granularity import granularity_study  # the API of `scnn-sim granularity`

# One simulation per granularity, same seed (same dense weights, same activations). The study
# records its provenance (workload, density, energy table...) beside the records, and every
# record carries its memory references (scnn_sim.results.records.memory_references, the one
# definition `run` uses), so nothing below is recomputed.
study = granularity_study(WORKLOAD, density=DENSITY, granularities=GRANULARITIES,
                          weight_format="group", layers=LAYERS, seed=SEED)
print(f"{study['workload']}: density {study['density']}, energy table {study['energy_table']}")


def refs(t):
    mem = t["memory_references"]  # accesses at each structure's native width, bits moved
    return {
        "cycles": t["cycles"],
        "acc. per-product": t["accumulator_accesses"]["per_product"],
        "acc. same-address": t["accumulator_accesses"]["same_address"],
        "acc. wide": t["accumulator_accesses"]["wide"],
        "memory refs [M]": mem["accesses"] / 1e6,
        "bits moved [Mbit]": mem["bits"] / 1e6,
        "DRAM [Mbit]": mem["per_structure"]["dram"]["bits"] / 1e6,
        "weight storage [Mbit]": sum(v for k, v in t["accesses"].items()
                                     if k.startswith("dram_read_bits_weight")) / 1e6,
        "energy [uJ]": t["energy_pj"]["total"] / 1e6,
    }


refs_df = pd.DataFrame({g: refs(v["totals"]) for g, v in study["granularities"].items()}).T
relative_df = refs_df / refs_df.loc["fine"]
refs_df'''),
    new_code_cell('''\
relative_df  # each column relative to fine'''),
    new_code_cell('''\
from scnn_sim.plot import plot_energy_breakdown, plot_granularity

# Titled from the study's provenance: workload, density, granularities, energy table.
figs = {"granularity": plot_granularity(study),
        "energy-breakdown": plot_energy_breakdown(study)}
figs["granularity"]'''),
    new_code_cell('''\
figs["energy-breakdown"]'''),
    new_code_cell('''\
result = {
    "small": SMALL,
    "index_saving_pct": {g: round(float(v), 2)
                         for g, v in storage_df["index saving vs fine [%]"].items()},
    "relative_to_fine": {col: {g: round(float(v), 4) for g, v in relative_df[col].items()}
                         for col in ("acc. same-address", "acc. wide", "DRAM [Mbit]",
                                     "weight storage [Mbit]", "energy [uJ]")},
    "titles": {kind: fig.get_suptitle() for kind, fig in figs.items()},
}
print("RESULT " + json.dumps(result))'''),
]

# ---------------------------------------------------------------------------------------------

NB03 = [
    new_markdown_cell("""\
# 03 - PE granularity at 1,024 multipliers

SCNN's evaluation also asks how to spend a fixed budget of 1,024 multipliers: many small PEs
(64 PEs of 4x4, the published design) or a few large ones (4 PEs of 16x16). Large PEs suffer
from intra-PE fragmentation (a weight vector of F and an activation vector of I are rarely
both full) and fewer, larger tiles; small PEs pay for more halos and barriers. Paper:
**64 PEs of 4x4 are 11% faster than 4 PEs of 16x16 on GoogLeNet**.

This notebook runs the comparison as a sweep (`scnn_sim.sweep.run_sweep`, the API behind
`scnn-sim sweep`), with two intermediate points, and plots energy against latency with the
Pareto front. Speed is not the whole answer: the configurations differ in silicon. Every
sweep point records its area (`area_mm2`, `scnn_sim.pricing.area`: SCNN's Table 4 at 16 nm, each
component scaled with the configuration, README "Area model"), so the table and the plot also
compare performance per mm2 and energy x delay x area. The F*I x A crossbar grows with
(F x I)^2 per PE when A = 2 x F x I, so large PEs pay most of their area in the scatter network.

Modelling assumption, so that only the PE granularity changes: per PE, the accumulator has
A = 2 x F x I banks (SCNN's ratio, 32 banks for 4x4) of 32 entries, IARAM/OARAM scale
with the PE's share of the array (total SRAM fixed at 64 x 10 KB each), and the cap of the
output-channel group Kc scales with F (`dataflow.kc_max` = 2 x F: 8 for 4x4, 32 for 16x16),
as in `benchmarks/scnn_reproduction.py`, so the whole-network figure here is the one the
README reports (without the scaled cap, 16x16 PEs are held to Kc = 8 and lose far more)."""),
    params_cell(),
    new_code_cell(SETUP),
    new_code_cell('''\
from pathlib import Path

from scnn_sim.sweep import load_sweep_results, run_sweep

WORKLOAD = "googlenet"
LAYERS = ["inception_3a/1x1", "inception_3a/3x3", "inception_3a/5x5"] if SMALL else None
WORKERS = 1 if SMALL else None  # None: one process per core
OUT = Path("results") / "03_pe_sweep.sqlite"  # re-running resumes from this file

PE_CONFIGS = [(16, 2), (8, 4), (4, 8), (2, 16)]  # (PE array side, F = I)
points = [{
    "label": f"{side * side} PEs of {f}x{f}",
    "pe_array.rows": side, "pe_array.cols": side,
    "multiplier.F": f, "multiplier.I": f,
    "accumulator.banks": 2 * f * f,
    "buffers.iaram_bytes": 10240 * 64 // (side * side),
    "buffers.oaram_bytes": 10240 * 64 // (side * side),
    "dataflow.kc_max": 2 * f,  # Kc cap scaled with F, as in the benchmark
} for side, f in PE_CONFIGS]
spec = {"workloads": [WORKLOAD], "mode": "list", "points": points, "seeds": [SEED]}
if LAYERS:
    spec["layers"] = LAYERS

summary = run_sweep(spec, OUT, workers=WORKERS, progress=False)
print(summary)'''),
    new_code_cell('''\
df = load_sweep_results(OUT)
df = df[df["point_id"].isin(summary.point_ids)]  # this spec's points only
tot = df[df["layer"] == "total"].set_index("label").loc[[p["label"] for p in points]]
table = pd.DataFrame({
    "PEs x (F x I)": tot["pe_config"],
    "status": tot["status"],
    "cycles [k]": tot["cycles"] / 1e3,
    "energy [uJ]": tot["energy_pj.total"] / 1e6,
    "utilisation": tot["multiplier_utilization"],
    "barrier idle": tot["barrier_fraction"],
    "SCNN / DCNN [x]": tot["speedup_vs_dcnn"],
})
table["speed vs 4 PEs of 16x16 [x]"] = tot.loc["4 PEs of 16x16", "cycles"] / tot["cycles"]
latency_s = tot["cycles"] / 1e9  # 1 GHz
table["area [mm2]"] = tot["area_mm2.total"]
table["crossbar area [mm2]"] = tot["area_mm2.crossbar"]
table["perf. / area [1/(s mm2)]"] = 1 / latency_s / tot["area_mm2.total"]
table["E x D x A [uJ ms mm2]"] = (tot["energy_pj.total"] / 1e6 * latency_s * 1e3
                                  * tot["area_mm2.total"])
table'''),
    new_code_cell('''\
from scnn_sim.plot import plot_pe_sweep

# Titled from the sweep table: workload, density (each layer's own: no density axis), energy.
pe_fig = plot_pe_sweep(df)
pe_fig'''),
    new_code_cell('''\
small_vs_large = float(tot.loc["4 PEs of 16x16", "cycles"] / tot.loc["64 PEs of 4x4", "cycles"])
print(f"64 PEs of 4x4 vs 4 PEs of 16x16: {100 * (small_vs_large - 1):+.1f}% faster "
      "(paper: +11% on GoogLeNet)")
result = {
    "small": SMALL,
    "cycles": {k: float(v) for k, v in tot["cycles"].items()},
    "energy_uj": {k: round(float(v) / 1e6, 3) for k, v in tot["energy_pj.total"].items()},
    "speedup_64x4x4_vs_4x16x16": round(small_vs_large, 4),
    "paper_speedup_64x4x4_vs_4x16x16": 1.11,
    "area_mm2": {k: round(float(v), 3) for k, v in tot["area_mm2.total"].items()},
    "perf_per_area": {k: round(float(v), 2) for k, v in table["perf. / area [1/(s mm2)]"].items()},
    "edap": {k: round(float(v), 2) for k, v in table["E x D x A [uJ ms mm2]"].items()},
    "titles": {"pe-sweep": pe_fig.get_suptitle()},
}
per_area = result["perf_per_area"]["64 PEs of 4x4"] / result["perf_per_area"]["4 PEs of 16x16"]
print(f"performance per mm2, 64 PEs of 4x4 vs 4 PEs of 16x16: {per_area:.2f}x "
      f"({result['area_mm2']['64 PEs of 4x4']} vs {result['area_mm2']['4 PEs of 16x16']} mm2)")
print("RESULT " + json.dumps(result))'''),
]


NOTEBOOKS = {
    "01_scnn_reproduction.ipynb": NB01,
    "02_granularity_study.ipynb": NB02,
    "03_pe_sweep.ipynb": NB03,
}


def build() -> dict[str, nbformat.NotebookNode]:
    """The notebooks, by file name (fresh objects, no outputs)."""
    out = {}
    for name, cells in NOTEBOOKS.items():
        nb = notebook([nbformat.from_dict(c) for c in cells])
        for i, cell in enumerate(nb.cells):
            cell["id"] = f"{Path(name).stem[:2]}-{i:02d}"
        nbformat.validate(nb)
        out[name] = nb
    return out


def main() -> None:
    for name, nb in build().items():
        path = HERE / name
        nbformat.write(nb, path)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
