"""Per-layer ratios of runs to a reference run (``scnn-sim compare --plot``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from scnn_sim.plot.data import PlotData, figure_title
from scnn_sim.plot.layers import (
    HORIZONTAL_ABOVE,
    layer_ticks,
    per_layer_axes,
    row_labels,
    short_labels,
    stage_rules,
)
from scnn_sim.plot.style import MARKERS, set_title, styled, top_legend

METRICS = (("cycles", "cycles"), ("energy_pj", "energy"), ("dram_bits", "DRAM bits"))
COLORS = ("#4c72b0", "#c44e52", "#55a868")


def _draw_ratios(ax: Any, cmp: Any, names: list[str], tags: list[str], horizontal: bool,
                 many: bool) -> None:
    pos = np.arange(len(names))
    for r, run in enumerate(cmp.runs[1:], start=1):
        for m, (key, label) in enumerate(METRICS):
            vals = np.array([cmp.ratios(run, n)[key] for n in names])
            xy = (vals, pos) if horizontal else (pos, vals)
            name = label + (f" {tags[r]}/A" if len(cmp.runs) > 2 else "")
            ax.plot(*xy, linestyle="none", marker=MARKERS[(r - 1) % len(MARKERS)],
                    markersize=2.2 if many else 3.5,
                    color=COLORS[m], alpha=0.85, label=name, markeredgewidth=0)
    (ax.axvline if horizontal else ax.axhline)(1.0, color="black", linewidth=0.5,
                                               linestyle=":")
    allr = np.array([cmp.ratios(run, n)[k] for run in cmp.runs[1:] for n in names
                     for k, _ in METRICS], dtype=float)
    allr = allr[np.isfinite(allr) & (allr > 0)]
    if allr.size and allr.max() / allr.min() > 10:
        # ratios spanning more than a decade: a log axis keeps 0.5x and 2x equally far from 1
        (ax.set_xscale if horizontal else ax.set_yscale)("log")


@styled
def plot_compare(cmp: Any, ax: Any = None, *, title: str | None = None) -> Any:
    """Per-layer ratios (run / reference) of cycles, energy and DRAM bits, one marker per layer.

    Layout as :func:`plot_energy_breakdown` (horizontal rows past
    :data:`~scnn_sim.plot.layers.HORIZONTAL_ABOVE` layers); the ratio axis is logarithmic when
    the ratios span more than a factor of 10.

    Parameters
    ----------
    cmp
        A :class:`scnn_sim.results.compare.Comparison`.
    ax
        Axes to draw into.
    title
        Figure title; default: workload, density, energy table and the runs compared.

    Returns
    -------
    matplotlib.figure.Figure
    """
    own = ax is None
    names = list(cmp.layer_names)
    labels, prefix = short_labels(names)
    ax, horizontal = per_layer_axes(ax, len(labels), max(len(x) for x in labels) > 12)
    tags = [chr(65 + i) if i < 26 else str(i) for i in range(len(cmp.runs))]
    _draw_ratios(ax, cmp, names, tags, horizontal, len(labels) > HORIZONTAL_ABOVE)
    layer_ticks(ax, row_labels(names, labels, horizontal), horizontal)
    stage_rules(ax, names, horizontal)
    what = f"layer ({prefix}...)" if prefix else "layer"
    ref = cmp.reference.label
    ratio = f"ratio to A ({ref}) [x]"
    ax.set_xlabel(ratio if horizontal else what)
    ax.set_ylabel(what if horizontal else ratio)
    top_legend(ax, ncol=3)
    if title is None:
        ref_data = PlotData(kind="run", source=cmp.reference.path,
                            workload=cmp.reference.workload, meta=cmp.reference.meta)
        title = figure_title(ref_data) + " | " + ", ".join(
            f"{t}={r.label}" for t, r in zip(tags, cmp.runs, strict=True))
    set_title(ax, title, own)
    return ax.figure
