"""Points/s of ``scnn-sim sweep example`` with 1 and 2 local workers and on a dask LocalCluster.

Each measurement is one whole ``scnn-sim sweep example -o <fresh file>`` process (interpreter
start, imports, all 8 points, the results file); the dask cases start
``distributed.LocalCluster(n_workers=k, threads_per_worker=1, processes=True)``, each worker
with ``NUMBA_NUM_THREADS`` = cores // k (the local pool's split), here, pass its
address with ``--scheduler`` and close it afterwards (cluster start-up is not timed). The
output is an SQLite sweep store (``.sqlite``, the CLI's default). Prints a table; JSON to
benchmarks/out/bench_sweep_scaling.json (``--refresh``: benchmarks/results/).

    python benchmarks/bench_sweep_scaling.py [--spec example] [--cases local1,local2,dask1,dask2]
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import results_dir

OUT = results_dir() / "bench_sweep_scaling.json"  # benchmarks/out unless --refresh
CASES = ("local1", "local2", "dask1", "dask2")


def parse_case(case: str) -> tuple[str, int]:
    """``"local2"`` -> ``("local", 2)``; ``"dask1"`` -> ``("dask", 1)``."""
    for kind in ("local", "dask"):
        if case.startswith(kind) and case[len(kind):].isdigit() and int(case[len(kind):]) > 0:
            return kind, int(case[len(kind):])
    raise SystemExit(f"--cases: unknown case {case!r} (want local<N> or dask<N>)")


def sweep_cmd(spec: str, out: Path, kind: str, n: int, address: str | None = None) -> list[str]:
    """The ``scnn-sim sweep`` command line of one case."""
    cmd = [sys.executable, "-m", "scnn_sim.cli", "sweep", spec, "-o", str(out), "--no-progress"]
    if kind == "local":
        return cmd + ["--workers", str(n)]
    return cmd + ["--scheduler", str(address)]


def count_points(spec: str) -> int:
    """Points of the sweep ``spec`` (8 for ``example``)."""
    from scnn_sim.sweep import load_spec

    return len(load_spec(spec).points())


def run_case(spec: str, kind: str, n: int, work: Path) -> float:
    """Whole-process wall seconds of one sweep into a fresh output file."""
    out = work / f"{kind}{n}.sqlite"
    if kind == "local":
        t0 = time.perf_counter()
        subprocess.run(sweep_cmd(spec, out, kind, n), check=True, capture_output=True)
        return time.perf_counter() - t0
    from distributed import LocalCluster

    from scnn_sim.sweep.executors import worker_threads

    # Each worker's kernels on its share of the cores, as the local pool does (scnn-sim does
    # not configure a cluster it is given; its workers take NUMBA_NUM_THREADS from here).
    with LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                      dashboard_address=None,
                      env={"NUMBA_NUM_THREADS": str(worker_threads(n))}) as cluster:
        t0 = time.perf_counter()
        subprocess.run(sweep_cmd(spec, out, kind, n, cluster.scheduler_address), check=True,
                       capture_output=True)
        return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spec", default="example", help="sweep name or YAML (default example)")
    ap.add_argument("--cases", default=",".join(CASES),
                    help="comma-separated local<N>/dask<N> (default local1,local2,dask1,dask2)")
    args = ap.parse_args()
    cases = [parse_case(c) for c in args.cases.split(",") if c]
    points = count_points(args.spec)
    work = Path(tempfile.mkdtemp(prefix="bench_sweep_"))
    # one untimed point first: fills numba's on-disk cache so no case pays the compile
    subprocess.run(sweep_cmd(args.spec, work / "warm.sqlite", "local", 1) + ["--max-points", "1"],
                   check=True, capture_output=True)
    rows = []
    for kind, n in cases:
        wall = run_case(args.spec, kind, n, work)
        rows.append({"case": f"{kind}{n}", "workers": n, "scheduler": kind, "wall_s": wall,
                     "points": points, "points_per_s": points / wall})
        print(f"{kind} x{n}: {wall:.1f} s", flush=True)
    print()
    print("| workers | scheduler | whole-process wall [s] | points/s | speed-up |")
    print("|---:|---|---:|---:|---:|")
    base = {r["scheduler"]: r["wall_s"] for r in rows if r["workers"] == 1}
    for r in rows:
        b = base.get(r["scheduler"])
        up = f"{b / r['wall_s']:.2f}x" if b else "-"
        print(f"| {r['workers']} | {r['scheduler']} | {r['wall_s']:.1f} | "
              f"{r['points_per_s']:.2f} | {up} |")
    OUT.write_text(json.dumps({"spec": args.spec, "rows": rows, "machine": platform.platform(),
                               "python": platform.python_version()}, indent=1) + "\n")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
