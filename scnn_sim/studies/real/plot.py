"""The accuracy-vs-density figure of the study."""

from __future__ import annotations

import io
import os
from typing import Any

from scnn_sim.outputs import atomic_write_bytes


def plot_accuracy(result: dict[str, Any], path: str | os.PathLike) -> None:
    """Write the accuracy-vs-density plot (one line per granularity) as a PNG, atomically.

    Parameters
    ----------
    result : dict
        What :func:`run_study` returns.
    path : str or os.PathLike
        Output ``.png``.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9.0, 3.6), dpi=110)
    FigureCanvasAgg(fig)
    dense = 100 * result["dense"]["accuracy"]
    tol = 100 * result["provenance"]["tolerance"]
    ticks = sorted({float(d) for d in result["provenance"]["schedule"]})
    lo = min(100 * p["accuracy"] for pts in result["accuracy"].values() for p in pts)
    hi = max(100 * p["accuracy"] for pts in result["accuracy"].values() for p in pts)
    hi = max([hi] + [100 * c["accuracy"] for c in result.get("dense_control") or []])
    markers = ("o", "s", "^", "v", "D", "x")
    # Left: the whole range (filter pruning can collapse); right: zoom on the no-loss band.
    panels = (("all points", max(0.0, lo - 2), min(100.0, hi + 1)),
              ("zoom", max(0.0, dense - 4 * max(tol, 0.5)), min(100.0, hi + 0.3)))
    for j, (label, y0, y1) in enumerate(panels):
        ax = fig.add_subplot(1, 2, j + 1)
        for i, (g, points) in enumerate(result["accuracy"].items()):
            ax.plot([p["density"] for p in points], [100 * p["accuracy"] for p in points],
                    marker=markers[i % len(markers)], markersize=4, linewidth=1.2, label=g)
        control = result.get("dense_control")
        if control:
            xs = [c["target"] for c in control]
            ax.plot(xs, [100 * c["accuracy"] for c in control], color="black",
                    linestyle=":", linewidth=1.0, marker=".", label="dense + same fine-tuning")
        ax.axhline(dense - tol, color="grey", linestyle="--", linewidth=0.8,
                   label=f"dense - {tol:g} pt")
        ax.set_xscale("log")
        ax.set_xlim(max(ticks) * 1.08, min(ticks) / 1.08)  # decreasing density to the right
        ax.set_xticks(ticks)
        ax.set_xticklabels([f"{d:g}" for d in ticks])
        ax.minorticks_off()
        ax.set_ylim(y0, y1)
        ax.set_xlabel("weight density (fraction of conv weights kept)")
        ax.set_ylabel("test accuracy [%]")
        ax.set_title(f"{result['provenance']['dataset']['name']}: accuracy vs density "
                     f"({label})", fontsize=9)
        ax.grid(True, linewidth=0.3, alpha=0.5)
        ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    atomic_write_bytes(path, buf.getvalue())
