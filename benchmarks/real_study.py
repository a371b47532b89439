"""Real-data granularity study on Fashion-MNIST and digits (Mao et al. 2017 on real data).

Runs :func:`scnn_sim.studies.real.run_study` -- dense training, iterative magnitude pruning with
fine-tuning at the fine, vector, kernel and filter granularities over the density schedule
1.0, 0.8, 0.6, 0.5, 0.4, 0.3, 0.2, 0.15, 0.1, no-loss densities, and SCNN simulation of the
pruned models with their real weights and activations -- and writes, per dataset,

* ``benchmarks/results/real_study_<dataset>.json`` (the study's JSON),
* ``benchmarks/results/real_study_<dataset>.png`` (accuracy vs density),
* ``benchmarks/results/real_study_<dataset>.md`` (accuracy table, no-loss densities, SCNN
  table per granularity, wall time).

For digits (360 test images: one image is 0.28 points) the accuracy part is repeated over
``--digits-seeds`` (default 0-4; each seed changes the split, the initial weights and the
data order) into ``real_study_digits_seeds.json`` and a section of the markdown summary: mean
and standard deviation per granularity and density, no-loss densities per seed, and how often
fine >= vector >= kernel >= filter holds.

The exported ``.h5`` files go to a work directory outside the repository (``--work-dir``,
default ``$TMPDIR/scnn-real-study``). Fashion-MNIST needs Debian's ``dataset-fashion-mnist``
package (``apt-get install dataset-fashion-mnist``) or ``--data DIR``.

    python benchmarks/real_study.py [--datasets fashion-mnist,digits] [--seed 0]
        [--epochs N] [--finetune-epochs N] [--train-limit N] [--threads 1]

Defaults (:data:`scnn_sim.studies.real.DATASET_DEFAULTS`): digits 30 dense epochs and 3
fine-tuning epochs per step on all 1438 training images; Fashion-MNIST 10 dense epochs and 1
fine-tuning epoch per step on a seeded 30000-image subset of the training set (about 12
minutes on one core of the 2-core reference machine).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from _common import results_dir

from scnn_sim.outputs import atomic_write_bytes, atomic_write_json
from scnn_sim.results.tables import format_table
from scnn_sim.studies.real import (
    DATASETS,
    load_result,
    markdown_summary,
    run_study,
    text_report,
)

HERE = Path(__file__).resolve().parent
RESULTS = results_dir()  # benchmarks/out unless --refresh


def run_one(dataset: str, args: argparse.Namespace) -> float:
    """Run the study of one dataset, copy its results into ``--out``; return the wall time."""
    work = Path(args.work_dir) / dataset
    out = Path(args.out)
    t0 = time.perf_counter()
    result = run_study(
        dataset,
        data_root=args.data if dataset == "fashion-mnist" else None,
        seed=args.seed,
        epochs=args.epochs,
        finetune_epochs=args.finetune_epochs,
        train_limit=args.train_limit,
        threads=args.threads,
        out_dir=work,
        progress=True,
    )
    wall = time.perf_counter() - t0
    stem = f"real_study_{dataset.replace('-', '_')}"
    # Compact JSON (one line) keeps the committed file small.
    atomic_write_bytes(out / f"{stem}.json",
                       (json.dumps(result, separators=(",", ":")) + "\n").encode())
    shutil.copyfile(work / "accuracy_vs_density.png", out / f"{stem}.png.tmp")
    Path(out / f"{stem}.png.tmp").replace(out / f"{stem}.png")
    seeds = [int(v) for v in args.digits_seeds.split(",") if v.strip()] \
        if dataset == "digits" else []
    if len(seeds) > 1:
        t_seeds = time.perf_counter()
        runs = [result if s == args.seed else run_study(
            dataset, seed=s, epochs=args.epochs, finetune_epochs=args.finetune_epochs,
            train_limit=args.train_limit, threads=args.threads, out_dir=work / f"seed{s}",
            simulate_scnn=False, progress=True) for s in seeds]
        summary = seed_summary(runs)
        summary["wall_s"] = round(time.perf_counter() - t_seeds, 1)
        atomic_write_json(out / f"{stem}_seeds.json", summary)
    write_summary(result, out, stem)
    print(text_report(result))
    wall = time.perf_counter() - t0
    print(f"{dataset}: wall time {wall:.0f} s; wrote {out / stem}.{{json,md,png}}")
    return wall


def seed_summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Accuracy mean / std over seeds per granularity and density, no-loss densities per seed.

    Also counts, over seeds and pruned schedule densities, how often the accuracy ordering
    fine >= vector >= kernel >= filter holds pair by pair.
    """
    grans = list(runs[0]["accuracy"])
    targets = runs[0]["provenance"]["schedule"]
    acc = {g: np.array([[p["accuracy"] for p in r["accuracy"][g]] for r in runs])
           for g in grans}
    if all(r.get("dense_control") for r in runs):
        ctl = np.array([[c["accuracy"] for c in r["dense_control"]] for r in runs])
        acc["dense+ft"] = ctl
    out: dict[str, Any] = {
        "seeds": [r["provenance"]["seed"] for r in runs],
        "schedule": targets,
        "dense_accuracy": [r["dense"]["accuracy"] for r in runs],
        "mean_accuracy": {g: acc[g].mean(axis=0).tolist() for g in grans},
        "std_accuracy": {g: acc[g].std(axis=0, ddof=1).tolist() for g in grans},
        "no_loss_target": {g: [r["no_loss"][g]["target"] for r in runs] for g in grans},
        "no_loss_vs_control_target": {
            g: [r["no_loss_vs_control"][g]["target"] for r in runs] for g in grans}
        if all(r.get("no_loss_vs_control") for r in runs) else None,
        "ordering": {},
    }
    out["mean_accuracy"] = {g: acc[g].mean(axis=0).tolist() for g in acc}
    out["std_accuracy"] = {g: acc[g].std(axis=0, ddof=1).tolist() for g in acc}
    for a, b in zip(grans, grans[1:], strict=False):
        diff = acc[a][:, 1:] - acc[b][:, 1:]
        out["ordering"][f"{a}>={b}"] = {"holds": int((diff >= 0).sum()),
                                        "of": int(diff.size),
                                        "mean_gap_points": float(100 * diff.mean())}
    return out


def seeds_markdown(summary: dict[str, Any]) -> str:
    """Markdown section of :func:`seed_summary`."""
    grans = list(summary["mean_accuracy"])
    seeds = ", ".join(map(str, summary["seeds"]))
    dense = 100 * np.array(summary["dense_accuracy"])
    lines = [
        "",
        f"## Repeat over seeds {seeds} (accuracy part only)",
        "",
        "Each seed changes the train/test split, the initial weights and the data order. "
        f"Dense accuracy {dense.mean():.2f} +- {dense.std(ddof=1):.2f}%. The "
        f"{len(summary['seeds']) - 1} extra runs took {summary.get('wall_s', 0):.0f} s. "
        "Mean +- standard deviation of the test accuracy [%]:",
        "",
        format_table(["target", *grans],
                     [[float(t)] + [f"{100 * summary['mean_accuracy'][g][i]:.2f} +- "
                                    f"{100 * summary['std_accuracy'][g][i]:.2f}" for g in grans]
                      for i, t in enumerate(summary["schedule"])], "markdown"),
    ]
    ctl = summary.get("no_loss_vs_control_target")
    headers = ["granularity", "per seed", "mean"] + (["vs dense+ft", "mean vs dense+ft"]
                                                     if ctl else [])
    rows = []
    for g, v in summary["no_loss_target"].items():
        row: list[Any] = [g, ", ".join(f"{x:g}" for x in v), float(np.mean(v))]
        if ctl:
            row += [", ".join(f"{x:g}" for x in ctl[g]), float(np.mean(ctl[g]))]
        rows.append(row)
    lines += ["", "No-loss density (target) per seed, against the dense model"
              + (" and against dense+ft at the same step" if ctl else "") + ":", "",
              format_table(headers, rows, "markdown"),
              "", "Pairwise ordering over seeds x pruned densities:", "",
              format_table(["pair", "holds", "mean gap [pt]"],
                           [[pair, f"{o['holds']} / {o['of']}", f"{o['mean_gap_points']:+.2f}"]
                            for pair, o in summary["ordering"].items()], "markdown")]
    return "\n".join(lines) + "\n"


def write_summary(result: dict, out: Path, stem: str) -> None:
    """Write ``<stem>.md`` from a study result (wall time from its provenance)."""
    prov = result["provenance"]
    md = markdown_summary(result)
    seeds_file = out / f"{stem}_seeds.json"
    if seeds_file.is_file():
        md += seeds_markdown(json.loads(seeds_file.read_text()))
    md += (f"\nWall time of the study (`python benchmarks/real_study.py --datasets "
           f"{prov['dataset']['name']}`): {prov['elapsed_s']:.0f} s with {prov['threads']} "
           f"torch thread(s) on the 2-core machine, shared with other jobs. "
           f"Plot: `{stem}.png`.\n")
    atomic_write_bytes(out / f"{stem}.md", md.encode())


def main(argv: list[str] | None = None) -> int:
    """Command line of the benchmark; returns the exit status."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", default="fashion-mnist,digits",
                   help="comma-separated: fashion-mnist, digits")
    p.add_argument("--data", default=None, help="directory of the Fashion-MNIST IDX files")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--finetune-epochs", type=int, default=None)
    p.add_argument("--train-limit", type=int, default=None,
                   help="training images used (0 = all; default per dataset)")
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    p.add_argument("--out", default=str(RESULTS), help="results directory")
    p.add_argument("--work-dir", default=str(Path(tempfile.gettempdir()) / "scnn-real-study"),
                   help="where the exported .h5 files go (not committed)")
    p.add_argument("--digits-seeds", default="0,1,2,3,4",
                   help="seeds of the accuracy-only repeat of the digits study ('' for none)")
    p.add_argument("--render-only", action="store_true",
                   help="only rebuild the markdown summaries from the saved JSON files")
    args = p.parse_args(argv)
    names = [d.strip() for d in args.datasets.split(",") if d.strip()]
    for d in names:
        if d not in DATASETS:
            p.error(f"unknown dataset {d!r}: expected {', '.join(DATASETS)}")
    Path(args.out).mkdir(parents=True, exist_ok=True)
    if args.render_only:
        for d in names:
            stem = f"real_study_{d.replace('-', '_')}"
            write_summary(load_result(Path(args.out) / f"{stem}.json"), Path(args.out), stem)
        return 0
    walls = {d: run_one(d, args) for d in names}
    for d, w in walls.items():
        print(f"wall time {d}: {w:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
