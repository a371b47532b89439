"""Writing a figure: the output path checked before any work, then saved atomically."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from scnn_sim.outputs import atomic_output, check_output_path
from scnn_sim.plot.data import PlotError

OUTPUT_SUFFIXES = (".png", ".pdf", ".svg")


def check_output_suffix(out_path: str | os.PathLike, option: str = "-o") -> Path:
    """Check a figure's output path before any work: a .png, .pdf or .svg file that can be
    written (:func:`scnn_sim.outputs.check_output_path`); returns the path to write.

    Raises
    ------
    PlotError
        Another suffix.
    OutputError
        The path cannot be written (a directory, a path under a file, a read-only place).
    """
    out = Path(out_path)
    if out.suffix.lower() not in OUTPUT_SUFFIXES:
        raise PlotError(f"{out}: output must end in {', '.join(OUTPUT_SUFFIXES)}")
    return check_output_path(out, option)


def save_figure(fig: Any, out_path: str | os.PathLike) -> Path:
    """Save ``fig`` at 300 dpi (tight box) atomically; returns the written path."""
    check_output_suffix(out_path)
    with atomic_output(out_path, "-o") as tmp:
        fig.savefig(tmp, dpi=300, bbox_inches="tight", pad_inches=0.02,
                    format=Path(out_path).suffix.lower()[1:])
    return Path(out_path)
