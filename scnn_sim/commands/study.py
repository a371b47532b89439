"""Sub-command ``study``: the real-data granularity study (accuracy vs density, then SCNN).

``scnn-sim study --dataset digits|fashion-mnist [--data DIR] [--seed N] [--epochs N]
[--finetune-epochs N] [--schedule 1,0.8,...] [--granularities fine,vector,kernel,filter]
[--format table|csv|markdown|json] [--columns A,B] [--table accuracy|no-loss|scnn]
[-o OUTDIR]`` trains a small CNN, prunes it iteratively at each granularity with fine-tuning
(:func:`scnn_sim.studies.real.run_study`), prints the accuracy-vs-density table, the no-loss
densities and the SCNN table per granularity, and writes ``study.json``,
``accuracy_vs_density.png`` and the exported ``.h5`` files into OUTDIR.

Output formats go through :func:`scnn_sim.results.tables.format_table`, like the other commands:
``table`` prints the three tables with their headings; ``csv`` and ``markdown`` (and
``--columns``, or an explicit ``--table``) print one table, ``--table`` (default
``accuracy``); ``json`` prints the ``study.json`` document.

Needs PyTorch and scikit-learn (``pip install 'scnn-sim[torch]'``); Fashion-MNIST needs
Debian's ``dataset-fashion-mnist`` package or ``--data DIR``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from scnn_sim.commands.run import seed_arg
from scnn_sim.outputs import check_output_dir, file_in_dir, json_text
from scnn_sim.results.tables import add_format_options, format_table, note, select_columns
from scnn_sim.studies.real import (
    DATASET_DEFAULTS,
    DATASETS,
    DEFAULT_GRANULARITIES,
    DEFAULT_SCHEDULE,
    TABLES,
    RealStudyError,
    parse_granularities,
    run_study,
    study_table,
    table_headers,
    text_report,
)


def render(result: dict[str, Any], fmt: str = "table", columns: str | None = None,
           table: str | None = None) -> str:
    """A study result as ``scnn-sim study`` prints it.

    Parameters
    ----------
    result
        What :func:`scnn_sim.studies.real.run_study` returns.
    fmt : {"table", "csv", "markdown", "json"}
        ``json``: the ``study.json`` document. ``table`` without ``columns`` and ``table``:
        the three tables with headings (:func:`scnn_sim.studies.real.text_report`). Otherwise
        one table (:func:`scnn_sim.studies.real.study_table`) in that format.
    columns
        Keep only these columns of the table (header or CSV name; the first is always kept).
    table
        One of :data:`scnn_sim.studies.real.TABLES` (default ``accuracy``).
    """
    if fmt == "json":
        return json_text(result)
    if fmt == "table" and not columns and table is None:
        return text_report(result)
    return format_table(*study_table(result, table or "accuracy"), fmt, columns)


def _check_table_options(args: argparse.Namespace) -> None:
    """Refuse, before any training, a --table or --columns the study cannot print."""
    table = args.table or "accuracy"
    if table == "scnn" and args.no_simulate and args.format != "json":
        raise RealStudyError("--table scnn: the SCNN table needs the simulation; drop "
                             "--no-simulate")
    if args.columns and args.format != "json":
        headers = table_headers(table, parse_granularities(args.granularities))
        select_columns(headers, args.columns)


def run_study_command(args: argparse.Namespace) -> int:
    """Run ``scnn-sim study``; print the tables and return the exit status."""
    out_dir = args.output if args.output is not None else f"real-study-{args.dataset}"
    option = "-o" if args.output is not None else "output"
    check_output_dir(out_dir, option)
    for name in ("study.json", "accuracy_vs_density.png"):  # no symlink planted in it
        file_in_dir(out_dir, name, option)
    _check_table_options(args)
    result = run_study(
        args.dataset,
        data_root=args.data,
        seed=args.seed,
        schedule=args.schedule,
        epochs=args.epochs,
        finetune_epochs=args.finetune_epochs,
        granularities=args.granularities,
        out_dir=out_dir,
        train_limit=args.train_limit,
        threads=args.threads,
        simulate_scnn=not args.no_simulate,
        progress=args.progress,
    )
    print(render(result, args.format, args.columns, args.table))
    n_h5 = len(result["files"]["h5"])
    note(args.format, f"\nwrote {out_dir}/study.json, {out_dir}/accuracy_vs_density.png"
         + (f" and {n_h5} .h5 file(s)" if n_h5 else ""))
    return 0


def _int_arg(minimum: int) -> Callable[[str], int]:
    """argparse type: an integer >= ``minimum``."""
    def parse(text: str) -> int:
        try:
            n = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
        if n < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {n}")
        return n
    return parse


def _per_dataset(key: str) -> str:
    """``digits 30, fashion-mnist 10``: a default of the study, per dataset, from the one
    table the study uses (:data:`scnn_sim.studies.real.DATASET_DEFAULTS`)."""
    return ", ".join(f"{name} {d[key]}" for name, d in DATASET_DEFAULTS.items())


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``study`` sub-command to the top-level parser."""
    p = subparsers.add_parser(
        "study",
        help="real-data granularity study: accuracy vs density per granularity, on SCNN",
        description="Train a small VGG-style CNN on real images, prune every conv layer "
        "iteratively (with fine-tuning) at each granularity over a density schedule, report "
        "test accuracy vs density and the lowest density within 0.5 points of the dense "
        "model, then export the pruned models with their real activations and simulate them "
        "on SCNN. Needs pip install 'scnn-sim[torch]'; fashion-mnist needs apt-get install "
        "dataset-fashion-mnist (or --data DIR).",
    )
    p.add_argument("--dataset", required=True, choices=DATASETS)
    p.add_argument("--data", metavar="DIR", default=None,
                   help="directory of the Fashion-MNIST IDX files (default: Debian's "
                   "dataset-fashion-mnist package)")
    p.add_argument("--seed", type=seed_arg, default=0,
                   help="seed of split, weights, shuffling, >= 0")
    p.add_argument("--epochs", type=_int_arg(1), default=None, metavar="N",
                   help=f"dense training epochs (default: {_per_dataset('epochs')})")
    p.add_argument("--finetune-epochs", type=_int_arg(0), default=None, metavar="N",
                   help="fine-tuning epochs after each pruning step (default: "
                   f"{_per_dataset('finetune_epochs')})")
    p.add_argument("--schedule", default=",".join(f"{d:g}" for d in DEFAULT_SCHEDULE),
                   metavar="D,D,...",
                   help="strictly decreasing densities in (0, 1] (default %(default)s)")
    p.add_argument("--granularities", default=",".join(DEFAULT_GRANULARITIES),
                   metavar="G,G,...", help="default %(default)s (fine always runs)")
    p.add_argument("--train-limit", type=_int_arg(0), default=None, metavar="N",
                   help="train on a seeded subset of N images, 0 = all (default: digits "
                   "all, fashion-mnist 30000)")
    p.add_argument("--threads", type=_int_arg(1), default=1, metavar="N",
                   help="torch intra-op threads (default 1; results are repeatable for a "
                   "given thread count)")
    p.add_argument("--no-simulate", action="store_true",
                   help="accuracy part only: no export and no SCNN simulation")
    p.add_argument("--progress", action="store_true", help="one line per step on stderr")
    p.add_argument("--table", choices=TABLES, default=None,
                   help="the table --format csv|markdown and --columns print: accuracy "
                   "(default; accuracy vs density), no-loss (no-loss densities) or scnn "
                   "(the simulated models)")
    add_format_options(p, json_doc="the study.json document")
    p.add_argument("-o", "--output", metavar="OUTDIR", default=None,
                   help="output directory (default real-study-DATASET)")
    p.set_defaults(func=run_study_command)
