"""Where benchmark scripts write: ``benchmarks/out/`` (git-ignored) unless ``--refresh``.

Re-running a benchmark to look at numbers must not dirty the tree; refreshing the committed
figures quoted in README.md is a deliberate act::

    python benchmarks/bench_run.py              # -> benchmarks/out/bench_run.json
    python benchmarks/bench_run.py --refresh    # -> benchmarks/results/bench_run.json

Each script calls :func:`results_dir` once, at import, to pick its output directory; the
helper removes ``--refresh`` from ``sys.argv`` so the script's own argparse never sees it.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
#: Committed results (quoted in README.md); written only with ``--refresh``.
COMMITTED = HERE / "results"
#: Scratch results of ordinary runs (git-ignored).
SCRATCH = HERE / "out"


def results_dir(argv: list[str] | None = None) -> Path:
    """``benchmarks/results`` if ``--refresh`` is in ``argv`` (default ``sys.argv``, from
    which it is removed), else ``benchmarks/out``; the directory is created."""
    args = sys.argv if argv is None else argv
    refresh = "--refresh" in args
    while "--refresh" in args:
        args.remove("--refresh")
    out = COMMITTED if refresh else SCRATCH
    out.mkdir(parents=True, exist_ok=True)
    return out
