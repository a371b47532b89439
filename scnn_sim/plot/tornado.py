"""Tornado charts of a sensitivity study: per metric, how far each choice moves it.

One panel per headline metric; one bar per choice that moves it, from the lowest to the
highest value over the choice's alternatives, as a change relative to the base run (the run
as configured), widest first. The alternatives reaching either end are written beside the
bar.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

from scnn_sim.errors import OutputError
from scnn_sim.outputs import atomic_write_bytes

#: Bars narrower than this relative change (0.1%) are left out (they would not show).
MIN_SWING = 1e-3
#: Figure formats matplotlib writes here.
PLOT_SUFFIXES = (".png", ".pdf", ".svg")


def _bars(study: dict[str, Any], metric: str) -> list[tuple[str, float, float, str, str]]:
    """(choice, low, high, alternative at low, at high), relative to the base, widest
    first."""
    base = study["base"][metric]
    out = []
    for ch in study["choices"]:
        vals = [(r["values"][metric], r["alternative"]) for r in ch["results"]
                if not r["skipped"]]
        if not vals:
            continue
        lo, hi = min(vals), max(vals)
        rel = (lambda v: v / base - 1.0) if base else (lambda v: v - base)
        if rel(hi[0]) - rel(lo[0]) < MIN_SWING:
            continue
        out.append((ch["name"], rel(lo[0]), rel(hi[0]), lo[1], hi[1]))
    return sorted(out, key=lambda b: b[2] - b[1], reverse=True)


def check_plot_path(path: str | os.PathLike) -> None:
    """Refuse a ``--plot`` file matplotlib is not asked to write here, before any work."""
    if Path(path).suffix.lower() not in PLOT_SUFFIXES:
        raise OutputError(f"--plot {path}: give a .png, .pdf or .svg file")


def tornado(study: dict[str, Any], path: str | os.PathLike) -> Path:
    """Draw one tornado panel per metric of ``study`` (:func:`~scnn_sim.studies.sensitivity.
    sensitivity`) and write the figure to ``path`` atomically (PNG, PDF or SVG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    check_plot_path(path)
    out = Path(path)
    metrics = list(study["metrics"].items())
    bars = {m: _bars(study, m) for m, _ in metrics}
    ncols = 2
    nrows = (len(metrics) + ncols - 1) // ncols
    heights = [max(2, max(len(bars[m]) for m, _ in metrics[i * ncols:(i + 1) * ncols]))
               for i in range(nrows)]
    fig, axes = plt.subplots(nrows, ncols, figsize=(15, 0.42 * sum(heights) + 1.1 * nrows),
                             gridspec_kw={"height_ratios": heights}, squeeze=False)
    for k, (metric, label) in enumerate(metrics):
        ax = axes[k // ncols][k % ncols]
        rows = bars[metric]
        base = study["base"][metric]
        shown = f"{base:,.0f}" if abs(base) >= 1000 else f"{base:.4g}"
        ax.set_title(f"{label}: base {shown}", fontsize=10, loc="left")
        ax.axvline(0.0, color="black", linewidth=0.8)
        if not rows:
            ax.text(0.5, 0.5, "no choice moves it", ha="center", va="center",
                    transform=ax.transAxes, fontsize=9, color="0.4")
            ax.set_yticks([])
            ax.set_xticks([])
            continue
        ys = list(range(len(rows)))[::-1]
        for y, (_, lo, hi, alt_lo, alt_hi) in zip(ys, rows, strict=True):
            if lo < 0:  # below the base: blue; above: red
                ax.barh(y, min(hi, 0.0) - lo, left=lo, height=0.6, color="tab:blue",
                        alpha=0.75)
            if hi > 0:
                ax.barh(y, hi - max(lo, 0.0), left=max(lo, 0.0), height=0.6,
                        color="tab:red", alpha=0.75)
            ax.text(lo, y, f"{alt_lo} ({lo:+.1%}) ", ha="right", va="center", fontsize=7)
            ax.text(hi, y, f" {alt_hi} ({hi:+.1%})", ha="left", va="center", fontsize=7)
        ax.set_yticks(ys, [r[0] for r in rows], fontsize=8)
        span = max(max(abs(r[1]), abs(r[2])) for r in rows)
        ax.set_xlim(-1.9 * span, 1.9 * span)
        ax.xaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0, decimals=None))
        ax.tick_params(axis="x", labelsize=8)
        ax.grid(axis="x", alpha=0.3)
    for k in range(len(metrics), nrows * ncols):
        axes[k // ncols][k % ncols].axis("off")
    fig.suptitle(f"scnn-sim sensitivity: {study['workload']} (change vs the base run; a bar "
                 "spans the lowest to the highest value over a choice's alternatives)",
                 fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.985))
    buf = io.BytesIO()
    fig.savefig(buf, format=out.suffix.lower()[1:], dpi=110)
    plt.close(fig)
    atomic_write_bytes(out, buf.getvalue())
    return out
