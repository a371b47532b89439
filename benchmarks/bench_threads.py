"""Thread policy of the kernels (issue 22): whole processes under each policy, alternately.

``scnn-sim run WORKLOAD`` is timed as a fresh process under each policy in turn, ``--repeat``
rounds, and the medians are compared; the load average before and after is printed and
stored, since the machine may be shared (ratios between policies of the same run are what
count). Policies:

* ``default``: what the package does (``OMP_WAIT_POLICY=PASSIVE`` unless set; threads from
  the load average, :func:`scnn_sim.engine.kernels.threads_for_load`);
* ``before``: the policy before issue 22: every core a thread, the OpenMP runtime's own wait
  policy (spin a while, then sleep): ``OMP_WAIT_POLICY=`` (set, so the package leaves it
  alone; empty, so libgomp ignores it) and ``NUMBA_NUM_THREADS`` = the cores;
* ``passive-all``: ``OMP_WAIT_POLICY=PASSIVE`` with every core a thread;
* ``one-thread``: ``NUMBA_NUM_THREADS=1``.

    python benchmarks/bench_threads.py [--workloads googlenet,vgg16] [--repeat 3]

Results go to benchmarks/out/bench_threads.json (``--refresh``: benchmarks/results/).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _common import results_dir

TREE = Path(__file__).resolve().parent.parent
CPUS = str(os.cpu_count() or 1)
POLICIES = {
    "default": {},
    "before": {"OMP_WAIT_POLICY": "", "NUMBA_NUM_THREADS": CPUS},
    "passive-all": {"NUMBA_NUM_THREADS": CPUS},
    "one-thread": {"NUMBA_NUM_THREADS": "1"},
}


def timed(workload: str, extra_env: dict[str, str]) -> float:
    """Wall seconds of one ``scnn-sim run WORKLOAD`` process under ``extra_env``."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("OMP_WAIT_POLICY", "NUMBA_NUM_THREADS", "GOMP_SPINCOUNT")}
    env.update(extra_env, PYTHONPATH=str(TREE))
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "scnn_sim", "run", workload], check=True, env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    """Time every policy on every workload, alternately; print and store the medians."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workloads", default="googlenet")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--policies", default=",".join(POLICIES))
    ap.add_argument("--refresh", action="store_true", help="write to benchmarks/results")
    args = ap.parse_args(argv)
    policies = args.policies.split(",")
    load_before = [round(x, 2) for x in os.getloadavg()]
    print(f"load average before: {load_before}", flush=True)
    timed(args.workloads.split(",")[0], {})   # numba's cache warm
    out: dict[str, dict[str, dict]] = {}
    for w in args.workloads.split(","):
        samples: dict[str, list[float]] = {p: [] for p in policies}
        for _ in range(args.repeat):
            for p in policies:
                samples[p].append(timed(w, POLICIES[p]))
        base = statistics.median(samples["one-thread"]) if "one-thread" in samples else None
        for p in policies:
            med = statistics.median(samples[p])
            ratio = f"  {med / base:5.2f}x one thread" if base else ""
            print(f"{w:10s} {p:11s} median {med:6.2f} s  (runs "
                  f"{', '.join(f'{s:.2f}' for s in samples[p])}){ratio}", flush=True)
            out.setdefault(w, {})[p] = {"median_s": med, "runs_s": samples[p],
                                        "env": POLICIES[p]}
    load_after = [round(x, 2) for x in os.getloadavg()]
    print(f"load average after: {load_after}")
    path = results_dir(["--refresh"] if args.refresh else []) / "bench_threads.json"
    path.write_text(json.dumps({"meta": {"load_before": load_before, "load_after": load_after,
                                         "cpus": os.cpu_count(), "repeat": args.repeat,
                                         "date": time.strftime("%Y-%m-%d %H:%M:%S")},
                                "results": out}, indent=1) + "\n")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
