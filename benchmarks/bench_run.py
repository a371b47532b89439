"""Speed and memory of `scnn-sim run` (issue 13): whole-process wall, in-process rate, RSS.

Every measurement is a fresh process, after one warm-up process per tree that fills numba's
on-disk cache:

* whole process: ``python -m scnn_sim run WORKLOAD`` wall time (interpreter start, imports,
  loading numba's cached machine code, simulation, table) and its peak RSS;
* in process: products/s of ``scnn_sim.simulate`` on the first call of a process (compiled
  code loaded during the call) and on a second, warm call (a notebook, a sweep worker);
* fixed cost: the whole-process wall of ``run`` on a one-layer 16x16 workload, and the floor
  of any numba program here (import numpy and numba, call one cached jitted function);
* GoogLeNet's small planes: its layers on 7x7 and 14x14 inputs, in process, with the time
  spent in the timing kernel (``engine.kernels.simulate_tiles``) of the warm call apart.

Workloads: AlexNet, VGG-16 and GoogLeNet at published densities, dense AlexNet (the five
conv layers with every density 1.0: the work of ``make bench-peers``), ``vgg16-merges``
(VGG-16 pruned at kernel granularity to density 0.35 with ``--count-merges``: what
``scnn-sim granularity`` simulates per granularity) and ``granularity-vgg16`` (the whole
``scnn-sim granularity vgg16 --density 0.35``: fine, vector, kernel and filter; whole process
only) and ``sweep-example`` (the whole ``scnn-sim sweep example``: 8 points of AlexNet on
2x2 to 16x16 multiplier arrays, banks 8 to 512; whole process only, a fresh store per run).
With ``--base TREE`` (a work tree of another commit, e.g. ``git worktree add /tmp/base
27113c4``) every
measurement also runs from that tree, alternating with this one; figures are medians of
``--repeat`` runs. The load average is printed and stored with the results, which go to
benchmarks/out/bench_run.json (``--refresh``: benchmarks/results/).

Targets (issue 13): VGG-16 whole process about 4 s or less (~800 M products/s); GoogLeNet's
small planes >= 500 M products/s (the issue's 190 M/s before matches the timing kernel's
rate on them); dense AlexNet's conv layers <= 3.7 s whole process (100x
SCALE-Sim 3.0's ~377 s, ``make bench-peers``); fixed cost <= 0.4 s; peak RSS < 1 GB.

    python benchmarks/bench_run.py [--base /tmp/base] [--repeat 3] [--workloads ...]
"""

from __future__ import annotations

import argparse
import json
import os
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
TREE = HERE.parent
OUT = results_dir() / "bench_run.json"  # benchmarks/out unless --refresh
WORKLOADS = ("alexnet", "vgg16", "googlenet", "alexnet-dense", "vgg16-merges",
             "granularity-vgg16", "sweep-example")
# Workloads that are not a built-in name: their command after ``python -m scnn_sim``, and the
# simulate() arguments of their in-process measurement (None: whole process only).
SPECIAL = {
    "vgg16-merges": (["run", "vgg16", "--granularity", "kernel", "--density", "0.35",
                      "--count-merges"],
                     {"workload": "vgg16", "granularity": "kernel", "density": 0.35,
                      "count_merges": True}),
    "granularity-vgg16": (["granularity", "vgg16", "--density", "0.35"], None),
    "sweep-example": (["sweep", "example", "--no-progress", "-o", "sweep_example.sqlite"],
                      None),
}
# Files a workload's command writes and would resume from: removed before each of its runs.
FRESH = {"sweep-example": "sweep_example.sqlite*"}
TINY = {"name": "tiny", "description": "fixed-cost probe", "provenance": "bench_run.py",
        "layers": [{"name": "conv", "kind": "conv", "C": 16, "K": 16, "R": 3, "S": 3, "H": 16,
                    "W": 16, "stride": 1, "padding": 1, "groups": 1, "weight_density": 0.5,
                    "act_density": 0.5}]}

# In-process rate: first and warm simulate() of a workload (or of GoogLeNet's small planes);
# argv[1] is simulate()'s arguments as JSON. The timing kernel's share of the warm call is
# timed apart (the layer module calls it through the kernels module in every tree measured).
CHILD = r"""
import json, resource, sys, time
t0 = time.perf_counter()
import scnn_sim
import scnn_sim.engine.kernels as kernels
try:
    from scnn_sim.workload.shapes import load_workload
except ImportError:   # a base tree from before the stage folders (issue 18)
    from scnn_sim.workload import load_workload
kw = json.loads(sys.argv[1])
if kw["workload"] == "googlenet-small":
    kw["workload"] = "googlenet"
    kw["layers"] = [l.name for l in load_workload("googlenet").layers
                    if l.kind == "conv" and l.H <= 14]
spent = [0.0]
inner = kernels.simulate_tiles
def timed_tiles(*args, **kw):
    t = time.perf_counter()
    out = inner(*args, **kw)
    spent[0] += time.perf_counter() - t
    return out
kernels.simulate_tiles = timed_tiles
t1 = time.perf_counter()
res = scnn_sim.simulate(**kw)   # first call: loads numba's cached code
t2 = time.perf_counter()
spent[0] = 0.0
res = scnn_sim.simulate(**kw)   # warm
t3 = time.perf_counter()
tot = res.totals.record
print(json.dumps({"import_s": t1 - t0, "first_s": t2 - t1, "warm_s": t3 - t2,
                  "warm_kernel_s": spent[0],
                  "products": tot["products"], "dense_macs": tot["dense_macs"],
                  "cycles": tot["cycles"], "layers": len(res.layers),
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

# The floor of any numba program: imports and one cached jitted call.
FLOOR = r"""
import numpy as np
from numba import njit

@njit(cache=True)
def one(x):
    return x + 1

one(1)
"""


def _env(tree: Path) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(tree))
    env.pop("PYTHONDONTWRITEBYTECODE", None)   # bytecode cached, as in a normal install
    return env


def timed(cmd: list[str], tree: Path, cwd: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS [MB] of one process (its own, from wait4)."""
    with tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env=_env(tree),
                             cwd=cwd)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        if status != 0:
            err.seek(0)
            raise RuntimeError(f"{' '.join(cmd)} failed: {err.read().decode()[-2000:]}")
    return wall, ru.ru_maxrss / 1024


def in_process(kwargs: dict, tree: Path, cwd: Path) -> dict:
    """The CHILD measurement of ``simulate(**kwargs)`` from ``tree``."""
    out = subprocess.run([sys.executable, "-c", CHILD, json.dumps(kwargs)], check=True,
                         capture_output=True, text=True, env=_env(tree), cwd=cwd)
    return json.loads(out.stdout.strip().splitlines()[-1])


def dense_alexnet_yaml(path: Path) -> None:
    """AlexNet's conv layers with every density 1.0, as ``make bench-peers`` runs them."""
    from bench_peers import dense_workload_yaml

    from scnn_sim.workload.shapes import load_workload

    dense_workload_yaml([lay for lay in load_workload("alexnet").layers if lay.kind == "conv"],
                        path)


def load() -> list[float]:
    """The 1, 5 and 15 minute load averages."""
    return [round(x, 2) for x in os.getloadavg()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workloads", default=",".join(WORKLOADS))
    ap.add_argument("--repeat", type=int, default=3, help="runs per measurement (median)")
    ap.add_argument("--base", type=Path, default=None,
                    help="work tree of a base commit, measured alternately with this tree")
    args = ap.parse_args()
    trees = {"ours": TREE}
    if args.base is not None:
        trees = {"base": args.base.resolve(), "ours": TREE}
    names = args.workloads.split(",")
    results: dict[str, dict] = {label: {} for label in trees}
    load_before = load()
    print(f"load average before: {load_before}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        dense, tiny = work / "alexnet_dense.yaml", work / "tiny.yaml"
        dense_alexnet_yaml(dense)
        tiny.write_text(yaml.safe_dump(TINY, sort_keys=False))
        floor = work / "floor.py"
        floor.write_text(FLOOR)
        target = {"alexnet-dense": str(dense)}
        run = [sys.executable, "-m", "scnn_sim", "run"]
        for tree in trees.values():      # warm numba's caches (and compile if needed)
            timed(run + ["alexnet", "--layers", "conv5", "--count-merges"], tree, work)
            timed([sys.executable, str(floor)], tree, work)
        jobs = [("fixed", "tiny", run + [str(tiny)]), ("floor", "numba", [sys.executable,
                                                                          str(floor)])]
        py = [sys.executable, "-m", "scnn_sim"]
        jobs += [("run", w, py + SPECIAL[w][0] if w in SPECIAL else run + [target.get(w, w)])
                 for w in names]
        for kind, name, cmd in jobs:
            samples: dict[str, list[tuple[float, float]]] = {label: [] for label in trees}
            for _ in range(args.repeat):
                for label, tree in trees.items():
                    for stale in (work.glob(FRESH[name]) if name in FRESH else ()):
                        stale.unlink()
                    samples[label].append(timed(cmd, tree, work))
            for label in trees:
                walls = [w for w, _ in samples[label]]
                rec = results[label].setdefault(name, {})
                rec["wall_s"] = statistics.median(walls)
                rec["wall_all_s"] = walls
                rec["peak_rss_mb"] = max(r for _, r in samples[label])
                print(f"{label:4} {kind:5} {name:14} wall {rec['wall_s']:7.2f} s  (runs "
                      f"{', '.join(f'{w:.2f}' for w in walls)})  peak RSS "
                      f"{rec['peak_rss_mb']:.0f} MB", flush=True)
        in_proc = [n for n in names if n != "alexnet-dense"] + ["googlenet-small"]
        in_proc += ["alexnet-dense"] if "alexnet-dense" in names else []
        for name in in_proc:
            kw = {"workload": str(dense) if name == "alexnet-dense" else name}
            if name in SPECIAL:
                kw = SPECIAL[name][1]
                if kw is None:
                    continue
            samples2: dict[str, list[dict]] = {label: [] for label in trees}
            for _ in range(args.repeat):
                for label, tree in trees.items():
                    samples2[label].append(in_process(kw, tree, work))
            for label in trees:
                recs = samples2[label]
                rec = results[label].setdefault(name, {})
                for key in ("products", "dense_macs", "cycles", "layers"):
                    rec[key] = recs[0][key]
                for key in ("first_s", "warm_s", "import_s", "warm_kernel_s"):
                    rec[key] = statistics.median(r[key] for r in recs)
                rec["first_products_per_s"] = rec["products"] / rec["first_s"]
                rec["warm_products_per_s"] = rec["products"] / rec["warm_s"]
                rec["kernel_products_per_s"] = rec["products"] / rec["warm_kernel_s"]
                if "wall_s" in rec:
                    rec["products_per_s_whole_process"] = rec["products"] / rec["wall_s"]
                print(f"{label:4} in-process {name:16} first {rec['first_s']:6.2f} s "
                      f"({rec['first_products_per_s'] / 1e6:5.0f} M/s)  warm "
                      f"{rec['warm_s']:6.2f} s ({rec['warm_products_per_s'] / 1e6:5.0f} M/s), "
                      f"of which timing kernel {rec['warm_kernel_s']:6.2f} s "
                      f"({rec['kernel_products_per_s'] / 1e6:5.0f} M/s)", flush=True)
    load_after = load()
    print(f"load average after: {load_after}\n")
    print_table(results, names)
    meta = {"python": platform.python_version(), "machine": platform.machine(),
            "cpus": os.cpu_count(), "date": time.strftime("%Y-%m-%d %H:%M:%S"),
            "repeat": args.repeat, "load_before": load_before, "load_after": load_after,
            "trees": {k: str(v) for k, v in trees.items()},
            "numba_threads": os.environ.get("NUMBA_NUM_THREADS", "default")}
    tmp_out = OUT.with_suffix(".json.tmp")
    tmp_out.write_text(json.dumps({"meta": meta, "results": results}, indent=2) + "\n")
    os.replace(tmp_out, OUT)
    print(f"\nwrote {OUT.relative_to(TREE)}")


def print_table(results: dict[str, dict], names: list[str]) -> None:
    """The README table: one row per workload and tree."""
    print("| workload | tree | wall [s] | products [M] | M products/s, whole process "
          "| M/s in process, first call | M/s warm | M/s warm, timing kernel alone "
          "| peak RSS [MB] |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for name in [*names, "googlenet-small", "tiny", "numba"]:
        for label, res in results.items():
            r = res.get(name)
            if not r:
                continue
            print(f"| {name} | {label} | {_num(r, 'wall_s', fmt='.2f')} | "
                  f"{_num(r, 'products', 1e6, ',.1f')} | "
                  f"{_num(r, 'products_per_s_whole_process', 1e6)} | "
                  f"{_num(r, 'first_products_per_s', 1e6)} | "
                  f"{_num(r, 'warm_products_per_s', 1e6)} | "
                  f"{_num(r, 'kernel_products_per_s', 1e6)} | {_num(r, 'peak_rss_mb')} |")


def _num(rec: dict, key: str, scale: float = 1.0, fmt: str = ",.0f") -> str:
    return format(rec[key] / scale, fmt) if key in rec else "-"


if __name__ == "__main__":
    main()
