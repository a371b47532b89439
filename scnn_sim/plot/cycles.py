"""``cycles``: per-layer SCNN vs oracle vs DCNN cycles; for a sweep, multiplier utilisation
against weight density."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from scnn_sim.plot.data import PlotError, as_plot_data, figure_title, get, isnan, num
from scnn_sim.plot.layers import (
    layer_series,
    layer_ticks,
    per_layer_axes,
    row_labels,
    short_labels,
    stage_rules,
)
from scnn_sim.plot.style import (
    MARKERS,
    SERIES_COLORS,
    new_axes,
    scale,
    set_title,
    styled,
    top_legend,
)
from scnn_sim.plot.sweeptable import (
    MAX_SERIES,
    check_count,
    check_one_row_each,
    group_rows,
    ok_totals,
    sweep_parameters,
    value_text,
)


@styled
def plot_cycles(data: Any, ax: Any = None, granularity: str | None = None, *,
                layers: Sequence[str] | None = None, group: bool = False,
                title: str | None = None) -> Any:
    """Per-layer SCNN cycles vs the oracle (products / multipliers) vs DCNN, grouped bars.

    A sweep is drawn as :func:`plot_utilization` instead. More than
    :data:`~scnn_sim.plot.layers.HORIZONTAL_ABOVE` layers are drawn as horizontal bars (see
    :func:`plot_energy_breakdown`).

    Parameters
    ----------
    data
        Run or granularity results (``granularity`` picks one; default ``fine`` or the
        first), or a sweep.
    ax
        Axes to draw into.
    layers, group, title
        As for :func:`plot_energy_breakdown`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    d = as_plot_data(data)
    if d.kind == "sweep":
        return plot_utilization(d, ax=ax, title=title)
    own = ax is None
    if granularity is None:
        granularity = "fine" if "fine" in d.runs else next(iter(d.runs))
    if granularity not in d.runs:
        raise PlotError(f"{d.source}: no granularity {granularity!r} "
                        f"(have {', '.join(d.runs)})")
    recs = layer_series(d, layers, group)[granularity]
    where = d.source
    series = {
        "SCNN": [num(get(r, "cycles", where)) for r in recs],
        "oracle": [num(get(r, "oracle_cycles", where)) for r in recs],
        "DCNN": [num(get(r, "dcnn.cycles", where)) for r in recs],
    }
    names = [str(r["name"]) for r in recs]
    labels, prefix = short_labels(names)
    ax, horizontal = per_layer_axes(ax, len(labels), max(len(x) for x in labels) > 12)
    allv = np.array([v for vals in series.values() for v in vals], dtype=float)
    div, unit = scale(allv, "")
    width = 0.8 / 3
    colors = ("#4c72b0", "#8c8c8c", "#c44e52")
    for s, (name, vals) in enumerate(series.items()):
        x = np.arange(len(labels)) + (s - 1) * width
        draw = ax.barh if horizontal else ax.bar
        draw(x, np.array(vals) / div, width * 0.95, label=name, color=colors[s], linewidth=0)
    layer_ticks(ax, labels if group else row_labels(names, labels, horizontal), horizontal)
    if not group:
        stage_rules(ax, names, horizontal)
    what = "stage" if group else "layer"
    what = f"{what} ({prefix}...)" if prefix else what
    latency = f"latency [{unit}cycles]"
    ax.set_xlabel(latency if horizontal else what)
    ax.set_ylabel(what if horizontal else latency)
    top_legend(ax, ncol=3)
    default = figure_title(d) + (f" | {granularity}" if d.kind == "granularity" else "")
    set_title(ax, default if title is None else title, own)
    return ax.figure


@styled
def plot_utilization(data: Any, ax: Any = None, *, title: str | None = None) -> Any:
    """Multiplier utilisation (network total) vs weight density, a line per combination of
    every other parameter the sweep varies.

    Nothing is averaged: each line is one granularity and one value of every other varied
    parameter (workload, seed, energy table, PE configuration, other architecture parameters;
    :func:`sweep_parameters`), named in the legend, so each (line, density) is one point. More
    lines than :data:`MAX_SERIES` are refused with the parameter to filter.

    Parameters
    ----------
    data
        A sweep (file or DataFrame) with a ``densities`` axis.
    ax
        Axes to draw into.
    title
        Figure title; default :func:`figure_title`.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    PlotError
        Not a sweep, no density axis, too many lines, or points the table does not tell
        apart.
    """
    d = as_plot_data(data)
    own = ax is None
    if d.kind != "sweep":
        raise PlotError(f"{d.source}: utilisation vs density needs sweep results")
    every = ok_totals(d)
    tot = [r for r in every if not isnan(r["density"])]
    if not tot:
        raise PlotError(f"{d.source}: the sweep has no density axis (give `densities:` "
                        f"numbers in the spec)")
    line_cols = ["granularity", *(c for c in sweep_parameters(tot)
                                  if c not in ("granularity", "density"))]
    lines = group_rows(tot, line_cols)
    check_count(d, len(lines), MAX_SERIES, "lines", line_cols, tot)
    check_one_row_each(d, group_rows(tot, [*line_cols, "density"]), [*line_cols, "density"])
    ax = new_axes(ax, height=2.4)
    for i, (_, grp) in enumerate(lines):
        dens = np.array([float(r["density"]) for r in grp])
        util = np.array([float(r["multiplier_utilization"]) for r in grp])
        o = np.argsort(dens, kind="stable")
        ax.plot(dens[o] * 100, util[o] * 100, marker=MARKERS[i % len(MARKERS)],
                color=SERIES_COLORS[i % len(SERIES_COLORS)],
                label=", ".join(value_text(c, grp[0][c]) for c in line_cols))
    ax.set_xlabel("weight density [%]")
    ax.set_ylabel("multiplier utilisation [%]")
    ax.set_ylim(bottom=0)
    ax.legend(loc="best")
    if len(tot) < len(every):
        ax.annotate(f"{len(every) - len(tot)} point(s) at each layer's own density not shown",
                    (0.0, -0.3), xycoords="axes fraction", fontsize=5.5, color="0.35")
    set_title(ax, figure_title(d, title), own)
    return ax.figure
