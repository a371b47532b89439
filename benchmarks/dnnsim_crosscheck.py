"""Cross-check of ``--arch dnnsim`` against DNNsim's SCNN model (isakedo/DNNsim at 4748a60).

Writes the four cross-check layers (the generator of the DNNsim data's ``make_tensors.py``,
as copied into tests/dnnsim_data.py: same seed, same arrays) as .npz, simulates each with
``--arch dnnsim`` at 1,024 accumulator entries (DNNsim's rule gives Kc = 64 on conv2 /
aligned) and at 128 entries (Kc = 8, DNNsim's ``out_acc_size = 128`` run), and prints ours
against DNNsim's golden figures (from the data's CSVs; conv1 and conv3 have none) with the %
error. The default SCNN
architecture runs on the same layers for contrast. JSON: benchmarks/out/dnnsim_crosscheck.json
(benchmarks/results/ with --refresh).

    python benchmarks/dnnsim_crosscheck.py [--layers conv2,aligned] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from scnn_sim import simulate

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from _common import results_dir  # noqa: E402
from dnnsim_data import GOLDEN as _GOLDEN  # noqa: E402  (the tests' copy of the generator)
from dnnsim_data import LAYERS, make  # noqa: E402

OUT = results_dir()  # benchmarks/out unless --refresh
# DNNsim's figures (the tests' copy of the DNNsim data's CSVs); its Kc = 8 run used 128 entries.
GOLDEN = {(name, "acc128" if cfg == "kc8" else cfg): v for (name, cfg), v in _GOLDEN.items()}
CONFIGS = {
    "acc1024": ["dnnsim"],
    "acc128": ["dnnsim", {"accumulator": {"entries_per_bank": 4}}],
    "scnn": ["scnn"],
}
METRICS = ("cycles", "mults", "idle_conflicts", "idle_pe", "idle_halo", "f_loop")


def dnnsim_units(rec: dict, arch: dict) -> dict[str, int]:
    """A scnn-sim layer record in DNNsim's columns (idle_* summed over PEs x F*I)."""
    n = (arch["pe_array"]["rows"] * arch["pe_array"]["cols"] * arch["multiplier"]["F"]
         * arch["multiplier"]["I"])
    bd = rec["cycle_breakdown"]
    return {"cycles": rec["cycles"], "mults": rec["on_plane_products"],
            "idle_conflicts": round(bd["conflict_stall"] * n),
            "idle_pe": round(bd["barrier_idle"] * n), "idle_halo": round(bd["halo"] * n),
            "f_loop": rec["vector_pairs"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layers", default=",".join(n for n, *_ in LAYERS))
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args()
    wanted = args.layers.split(",")
    rows, lines = [], []
    t0 = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, C, K, R, H, st, pad, g) in enumerate(LAYERS):
            if name not in wanted:
                continue
            w, a = make(i, C, K, R, H, g)
            path = os.path.join(tmp, f"{name}.npz")
            np.savez(path, weights=w, activations=a, C=C, K=K, R=R, S=R, H=H, W=H, stride=st,
                     padding=pad, groups=g)
            for cfg, arch in CONFIGS.items():
                t1 = time.time()
                res = simulate(path, arch=arch)
                rec = res.layers[0].record
                ours = dnnsim_units(rec, res.meta["arch"])
                gold = GOLDEN.get((name, cfg))
                err = {m: 100.0 * (ours[m] - gold[m]) / gold[m] for m in METRICS} if gold else None
                rows.append({"layer": name, "config": cfg, "arch": arch, "kc": rec["mapping"]["kc"],
                             "ours": ours, "dnnsim": gold, "error_pct": err,
                             "seconds": round(time.time() - t1, 2)})
                for m in METRICS:
                    lines.append(f"{name:8s} {cfg:8s} Kc={rec['mapping']['kc']:<3d} {m:15s} "
                                 f"{ours[m]:>13,d} "
                                 + (f"{gold[m]:>13,d} {err[m]:+8.3f}%" if gold else
                                    f"{'-':>13s} {'-':>9s}"))
    head = f"{'layer':8s} {'config':8s} {'Kc':6s} {'metric':15s} {'scnn-sim':>13s} " \
           f"{'DNNsim':>13s} {'error':>9s}"
    print(head)
    print("\n".join(lines))
    worst = max((abs(e) for r in rows if r["error_pct"] for e in r["error_pct"].values()),
                default=None)
    print(f"\nworst |error| vs DNNsim: {worst:.3f}%" if worst is not None else "")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "dnnsim_crosscheck.json").write_text(json.dumps(
        {"dnnsim": "isakedo/DNNsim@4748a6001ec5b69061e9e75db824008846c50e07",
         "rows": rows, "worst_abs_error_pct": worst,
         "seconds": round(time.time() - t0, 1)}, indent=2) + "\n")
    print(f"wrote {out / 'dnnsim_crosscheck.json'} ({time.time() - t0:.0f} s)")


if __name__ == "__main__":
    main()
