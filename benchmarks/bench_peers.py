"""scnn-sim against SCALE-Sim 3.0 on the same dense AlexNet conv layers, whole processes.

SCALE-Sim (PyPI ``scalesim``, needs ``numpy<2``) lives in its own venv (``make bench-peers``
creates ``.venv-peers``). Both simulators run ALTERNATELY, ``--rounds`` times each, as whole
processes (interpreter start, imports and simulation), on AlexNet conv1..conv5 with dense
weights and activations (0.666 G MACs):

* scnn-sim: ``scnn-sim run <dense alexnet YAML> --json ...`` (weight/act density 1.0; SCNN's
  Table 3 architecture).
* SCALE-Sim: a topology CSV of the same layers (grouped conv2/conv4/conv5 as two ungrouped
  halves each; padding folded into the IFMAP size, as SCALE-Sim expects), a 32x32
  weight-stationary array, 64 KB ifmap/filter/ofmap SRAMs and the default bandwidth settings
  of SCALE-Sim's ``configs/scale.cfg`` (USER interface bandwidth 64; one SRAM bank of that
  bandwidth each, since 3.0 asserts bank bandwidth x banks = bandwidth). SCALE-Sim 3.0 reads a
  layout CSV even with custom layouts off, so one is written (identity factors, never used).
  Traces are not written (``save_disk_space=True``).

Prints whole-process wall, MACs, MACs/s and the ratio; JSON to benchmarks/out/bench_peers.json
(``--refresh``: benchmarks/results/).

    python benchmarks/bench_peers.py --peer-python .venv-peers/bin/python [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from _common import results_dir

HERE = Path(__file__).resolve().parent
OUT = results_dir() / "bench_peers.json"  # benchmarks/out unless --refresh

#: SCALE-Sim's topology columns (rows end in a comma).
TOPO_HEADER = ("Layer name", "IFMAP Height", "IFMAP Width", "Filter Height", "Filter Width",
               "Channels", "Num Filter", "Strides")
#: SCALE-Sim 3.0's layout columns (read even when custom layouts are off).
LAYOUT_HEADER = (
    "Layer name", "IFMAP Height Intraline Factor", "IFMAP Width Intraline Factor",
    "Filter Height Intraline Factor", "Filter Width Intraline Factor",
    "Channel Intraline Factor", "Num Filter Intraline Factor", "IFMAP Height Intraline Order",
    "IFMAP Width Intraline Order", "Channel Intraline Order", "IFMAP Height Interline Order",
    "IFMAP Width Interline Order", "Channel Interline Order", "Num Filter Intraline Order",
    "Channel Intraline Order", "Filter Height Intraline Order", "Filter Width Intraline Order",
    "Num Filter Interline Order", "Channel Interline Order", "Filter Height Interline Order",
    "Filter Width Interline Order")
#: Orders of SCALE-Sim's example layouts; factors are all 1.
_LAYOUT_ORDERS = (1, 2, 0, 4, 5, 3, 3, 0, 1, 2, 7, 4, 5, 6)

PEER_CHILD = r"""
import sys
from scalesim.scale_sim import scalesim
s = scalesim(save_disk_space=True, verbose=False, config=sys.argv[1], topology=sys.argv[2],
             layout=sys.argv[3])
s.run_scale(top_path=sys.argv[4])
"""


def scalesim_rows(layers: list) -> list[tuple]:
    """SCALE-Sim topology rows ``(name, H, W, R, S, C, K, stride)`` of conv ``layers``.

    Padding is folded into the IFMAP size (SCALE-Sim has no padding column) and a layer of
    ``g`` groups becomes ``g`` ungrouped layers ``<name>_g<i>`` of ``C/g`` channels and
    ``K/g`` filters (SCALE-Sim has no groups).

    Parameters
    ----------
    layers : list of scnn_sim.workload.shapes.Layer
        Conv layers.

    Returns
    -------
    list of tuple
        One row per (layer, group).
    """
    rows = []
    for layer in layers:
        h, w = layer.H + 2 * layer.padding, layer.W + 2 * layer.padding
        g = layer.groups
        for i in range(g):
            name = layer.name if g == 1 else f"{layer.name}_g{i}"
            rows.append((name, h, w, layer.R, layer.S, layer.C // g, layer.K // g, layer.stride))
    return rows


def row_macs(row: tuple) -> int:
    """Dense MACs of one topology row (floor output size, as scnn-sim counts)."""
    _, h, w, r, s, c, k, st = row
    return ((h - r) // st + 1) * ((w - s) // st + 1) * r * s * c * k


def write_topology(rows: list[tuple], path: Path) -> None:
    """Write SCALE-Sim topology ``rows`` (see :func:`scalesim_rows`) as its CSV."""
    lines = [", ".join(TOPO_HEADER) + ","]
    lines += [",".join(str(v) for v in row) + "," for row in rows]
    path.write_text("\n".join(lines) + "\n")


def write_layout(rows: list[tuple], path: Path) -> None:
    """Write the layout CSV SCALE-Sim 3.0 insists on, one row per topology row."""
    lines = [", ".join(LAYOUT_HEADER) + ","]
    for row in rows:
        vals = (row[0],) + (1,) * 6 + _LAYOUT_ORDERS
        lines.append(",".join(str(v) for v in vals) + ",")
    path.write_text("\n".join(lines) + "\n")


def write_config(path: Path, *, rows: int = 32, cols: int = 32, sram_kb: int = 64,
                 dataflow: str = "ws", bandwidth: int = 64) -> None:
    """Write a SCALE-Sim 3.0 config: array, SRAM sizes, dataflow; the rest as its default
    ``configs/scale.cfg`` (USER interface bandwidth 64, no custom layouts, no sparsity)."""
    text = f"""[general]
run_name = scnn_sim_peer_{rows}x{cols}_{dataflow}

[architecture_presets]
ArrayHeight: {rows}
ArrayWidth: {cols}
IfmapSramSzkB: {sram_kb}
FilterSramSzkB: {sram_kb}
OfmapSramSzkB: {sram_kb}
IfmapOffset: 0
FilterOffset: 10000000
OfmapOffset: 20000000
Bandwidth: {bandwidth}
Dataflow: {dataflow}
ReadRequestBuffer: 60
WriteRequestBuffer: 60
OnChipMemoryBanks: 1
OnChipMemoryBankPorts: 2

[layout]
IfmapCustomLayout: False
FilterCustomLayout: False
IfmapSRAMBankBandwidth: {bandwidth}
IfmapSRAMBankNum: 1
IfmapSRAMBankPort: 2
FilterSRAMBankBandwidth: {bandwidth}
FilterSRAMBankNum: 1
FilterSRAMBankPort: 2

[sparsity]
SparsitySupport: false
SparseRep: ellpack_block
OptimizedMapping: false
BlockSize: 8
RandomNumberGeneratorSeed: 40

[run_presets]
InterfaceBandwidth: USER
UseRamulatorTrace: False
"""
    path.write_text(text)


def dense_workload_yaml(layers: list, path: Path) -> None:
    """Write ``layers`` (conv, in order) as a workload YAML with every density 1.0."""
    entries = []
    for layer in layers:
        e = {"name": layer.name, "kind": "conv", "C": layer.C, "K": layer.K, "R": layer.R,
             "S": layer.S, "H": layer.H, "W": layer.W, "stride": layer.stride,
             "padding": layer.padding, "groups": layer.groups, "weight_density": 1.0,
             "act_density": 1.0}
        if layer.pool is not None:
            e["pool"] = layer.pool.to_dict()
        entries.append(e)
    doc = {"name": "alexnet-dense", "description": "AlexNet conv1..conv5, dense",
           "provenance": "alexnet built-in shapes, every density 1.0 (benchmarks/bench_peers.py)",
           "layers": entries}
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def report_cycles(path: Path) -> int:
    """Sum of the ``Total Cycles`` column of a SCALE-Sim ``COMPUTE_REPORT.csv``.

    (SCALE-Sim 3.0's own ``get_total_cycles()`` raises ``TypeError``, so the report is read.)
    """
    lines = [ln for ln in path.read_text().splitlines() if ln.strip()]
    header = [h.strip() for h in lines[0].split(",")]
    col = header.index("Total Cycles")
    return sum(int(float(ln.split(",")[col])) for ln in lines[1:])


def timed(cmd: list[str]) -> tuple[float, str]:
    """Wall seconds and stdout of one whole process."""
    t0 = time.perf_counter()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return time.perf_counter() - t0, out.stdout


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--peer-python", default=".venv-peers/bin/python",
                    help="python of the venv with scalesim (default .venv-peers/bin/python)")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds (default 3)")
    args = ap.parse_args()

    from scnn_sim.workload.shapes import load_workload

    layers = list(load_workload("alexnet").conv_layers)
    rows = scalesim_rows(layers)
    macs = sum(row_macs(r) for r in rows)
    work = Path(tempfile.mkdtemp(prefix="bench_peers_"))
    topo, layout, cfg, wl = (work / "alexnet_dense.csv", work / "layout.csv",
                             work / "scale.cfg", work / "alexnet_dense.yaml")
    write_topology(rows, topo)
    write_layout(rows, layout)
    write_config(cfg)
    dense_workload_yaml(layers, wl)

    ours_cmd = [sys.executable, "-m", "scnn_sim.cli", "run", str(wl), "--json",
                str(work / "ours.json")]
    peer_cmd = [args.peer_python, "-c", PEER_CHILD, str(cfg), str(topo), str(layout),
                str(work / "peer_out")]
    subprocess.run(ours_cmd, check=True, capture_output=True)   # fill numba's cache once
    ours_t, peer_t, peer_cycles = [], [], None
    for i in range(args.rounds):
        peer_s, _ = timed(peer_cmd)
        peer_t.append(peer_s)
        peer_cycles = report_cycles(next((work / "peer_out").glob("*/COMPUTE_REPORT.csv")))
        ours_s, _ = timed(ours_cmd)
        ours_t.append(ours_s)
        print(f"round {i + 1}: SCALE-Sim {peer_s:.1f} s, scnn-sim {ours_s:.2f} s", flush=True)
    ours = json.loads((work / "ours.json").read_text())
    ours_cycles = ours.get("totals", {}).get("cycles")
    ours_macs = ours.get("totals", {}).get("dense_macs", macs)
    res = {"layers": [r[0] for r in rows], "dense_macs": macs, "scnn_sim_dense_macs": ours_macs,
           "rounds": args.rounds, "scalesim_wall_s": peer_t, "scnn_sim_wall_s": ours_t,
           "scalesim_cycles": peer_cycles, "scnn_sim_cycles": ours_cycles,
           "scalesim_config": "32x32 ws, 64 KB ifmap/filter/ofmap, USER bandwidth 64",
           "machine": platform.platform(), "python": platform.python_version()}
    med_p, med_o = statistics.median(peer_t), statistics.median(ours_t)
    res["ratio"] = med_p / med_o
    print()
    print("| simulator | whole-process wall [s], median | MACs [G] | MACs/s [M] | cycles |")
    print("|---|---:|---:|---:|---:|")
    print(f"| SCALE-Sim 3.0 (32x32 WS) | {med_p:.1f} | {macs / 1e9:.3f} | "
          f"{macs / med_p / 1e6:.1f} | {peer_cycles:,} |")
    print(f"| scnn-sim (SCNN, 64 PEs) | {med_o:.2f} | {macs / 1e9:.3f} | "
          f"{macs / med_o / 1e6:.0f} | {ours_cycles:,} |")
    print(f"\nscnn-sim is {res['ratio']:.0f}x faster per whole process "
          f"(median of {args.rounds} alternating rounds)")
    OUT.write_text(json.dumps(res, indent=1) + "\n")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
