"""Sweep throughput (points/s) with 1 and 2 workers, and the store's own cost per point.

Runs the example sweep (workloads/sweeps/example.yaml: 8 AlexNet points) into a fresh SQLite
store per worker count, after one warm-up run that fills numba's on-disk cache, and times the
store alone (committing canned results of many tiny points). Prints a table and writes
benchmarks/results/bench_sweep.json.

    python benchmarks/bench_sweep.py [--spec workloads/sweeps/example.yaml] [--workers 1,2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "results" / "bench_sweep.json"


def store_cost(tmp: Path, n: int = 500) -> dict[str, float]:
    """Commit ``n`` one-layer points' rows (canned) into a fresh store: ms per point."""
    from scnn_sim.sweep import SweepStore

    store = SweepStore(tmp / "store_only.sqlite")
    store.ensure()
    row = {f"m{i}": float(i) for i in range(120)}
    t0 = time.perf_counter()
    with store.session():
        for i in range(n):
            pid = f"{i:016x}"
            store.append([{"point_id": pid, "status": "ok", "layer": "c1", **row},
                          {"point_id": pid, "status": "ok", "layer": "total", **row}],
                         params={"i": i})
    dt = time.perf_counter() - t0
    return {"points": n, "ms_per_point": 1e3 * dt / n}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spec", default=str(HERE.parent / "workloads" / "sweeps" / "example.yaml"))
    ap.add_argument("--workers", default="1,2")
    args = ap.parse_args()
    from scnn_sim.sweep import load_spec, run_sweep

    spec = load_spec(args.spec)
    out: dict = {"spec": os.path.relpath(args.spec, HERE.parent), "points": len(spec),
                 "host": platform.node(), "cpus": os.cpu_count(),
                 "python": sys.version.split()[0], "runs": []}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        run_sweep(spec, tmp / "warmup.sqlite", workers=1, progress=False, max_points=1)
        for w in [int(x) for x in args.workers.split(",")]:
            s = run_sweep(spec, tmp / f"w{w}.sqlite", workers=w, progress=False)
            rate = s.ran / s.elapsed_s
            out["runs"].append({"workers": w, "points": s.ran, "ok": s.ok,
                                "elapsed_s": round(s.elapsed_s, 2),
                                "points_per_s": round(rate, 3)})
        out["store_only"] = store_cost(tmp)
    print(f"{'workers':>7} {'points':>6} {'wall [s]':>9} {'points/s':>9}")
    for r in out["runs"]:
        print(f"{r['workers']:>7} {r['points']:>6} {r['elapsed_s']:>9.2f} "
              f"{r['points_per_s']:>9.3f}")
    so = out["store_only"]
    print(f"store alone: {so['ms_per_point']:.2f} ms per committed point ({so['points']} points)")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(out, indent=2) + "\n")
    print(f"-> {OUT}")


if __name__ == "__main__":
    main()
