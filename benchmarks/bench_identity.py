"""Whole-network result identity between a base commit and this tree (issue 13).

Runs ``scnn-sim run WORKLOAD --json`` in subprocesses with ``PYTHONPATH`` set to each tree
and compares the complete records (every layer's counts, cycles, energies and mapping, and
the totals). Provenance fields that name the tree or the time (``provenance``, wall times)
and the workload file path are left out. Prints ``identical`` or the first difference per
workload, and writes benchmarks/out/bench_identity.json.

    git worktree add /tmp/perfbase <base-commit>
    python benchmarks/bench_identity.py --base /tmp/perfbase [--workloads alexnet,vgg16,googlenet]
        [--run-args "--arch ARCH.yaml --granularity kernel --count-merges"]

``--run-args`` passes further options to both runs (another architecture, a granularity, the
merge counters), so that kernel paths the default configuration does not take are compared too.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import results_dir

from scnn_sim.results.records import first_difference

HERE = Path(__file__).resolve().parent
TREE = HERE.parent
IGNORED = {"provenance", "wall_s", "elapsed_s", "created", "timestamp", "git", "version",
           "workload_source"}


def run_tree(tree: Path, workload: str, out: Path,
             extra: list[str]) -> tuple[dict[str, Any], float]:
    """Run ``scnn-sim run`` from ``tree``; return its JSON record and the wall time."""
    env = dict(os.environ, PYTHONPATH=str(tree))
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "scnn_sim.cli", "run", workload, *extra, "--json",
                    str(out)],
                   check=True, env=env, cwd=tree, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    return json.loads(out.read_text()), wall


def main(argv: list[str] | None = None) -> int:
    """Compare the workloads' records between ``--base`` and this tree; 1 if any differ."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", required=True, type=Path, help="work tree of the base commit")
    ap.add_argument("--workloads", default="alexnet,vgg16,googlenet")
    ap.add_argument("--run-args", default="", help="further options of both runs")
    ap.add_argument("--refresh", action="store_true", help="write to benchmarks/results")
    args = ap.parse_args(argv)
    extra = shlex.split(args.run_args)
    summary = {}
    with tempfile.TemporaryDirectory() as tmp:
        for w in args.workloads.split(","):
            base, t_base = run_tree(args.base.resolve(), w, Path(tmp, f"{w}-base.json"), extra)
            ours, t_ours = run_tree(TREE, w, Path(tmp, f"{w}-ours.json"), extra)
            diff = first_difference(base, ours, ignore=IGNORED, strict_types=False)
            summary[f"{w} {args.run_args}".strip()] = {
                "run_args": extra, "identical": diff is None, "first_difference": diff,
                "base_wall_s": t_base, "ours_wall_s": t_ours}
            verdict = "identical" if diff is None else "DIFFERENT: " + diff
            print(f"{w:10s} {args.run_args} {verdict}"
                  f"  (wall base {t_base:.1f} s, ours {t_ours:.1f} s)", flush=True)
    out = results_dir(["--refresh"] if args.refresh else []) / "bench_identity.json"
    out.write_text(json.dumps(summary, indent=1) + "\n")
    return 0 if all(v["identical"] for v in summary.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
