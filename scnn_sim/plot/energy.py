"""``energy-breakdown``: stacked energy per component (COMPONENTS order), µJ.

One bar per layer (run), a group of hatched bars per layer (granularity results, one bar per
granularity), or one bar per completed sweep point (its network total).

A sweep's points are named by every parameter the sweep varies, so its labels are long and
its rows many (12 for 3 PE configurations x 2 granularities x 2 densities): the sweep figure
is laid out for rows, one horizontal bar per point with its label wrapped at the commas, the
figure growing with the rows, and the component legend below the bars (in the figure, not
beside the axes) so the bars keep most of the column's width.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from scnn_sim.plot.data import PlotData, PlotError, as_plot_data, figure_title, get, num
from scnn_sim.plot.layers import (
    MAX_HEIGHT,
    layer_series,
    layer_ticks,
    per_layer_axes,
    row_labels,
    short_labels,
    stage_rules,
)
from scnn_sim.plot.style import (
    COLUMN_WIDTH,
    COMPONENT_COLORS,
    ENERGY_UNIT,
    HATCHES,
    new_figure,
    set_title,
    styled,
)
from scnn_sim.plot.sweeptable import ok_totals, point_labels
from scnn_sim.pricing.energy import COMPONENTS

#: Most sweep points drawn as bars; more are refused (filter the table first).
MAX_BARS = 48
#: A sweep point's label is wrapped at its commas to lines of at most this many characters.
LABEL_CHARS = 24
#: Height of one text line of a wrapped sweep-point label, inches (5.5 pt type).
LINE_HEIGHT = 0.085
#: The component legend: 13 entries (and a hatch per granularity) within a column's width.
LEGEND = {"ncol": 4, "fontsize": 5.5, "handlelength": 1.0, "columnspacing": 0.8}

Series = dict[str, list[Mapping[str, Any]]]


def _sweep_series(d: PlotData) -> Series:
    """One pseudo-record per completed point: its label and network energy by component."""
    tot = ok_totals(d)
    if len(tot) > MAX_BARS:
        raise PlotError(f"{d.source}: {len(tot)} points are too many bars; filter the "
                        f"DataFrame (load_sweep_results) and pass it to "
                        f"plot_energy_breakdown")
    names = point_labels(tot)
    return {"": [{"name": n, "energy_pj": {c: r.get(f"energy_pj.{c}", 0.0)
                                           for c in COMPONENTS}}
                 for n, r in zip(names, tot, strict=True)]}


def wrap_label(text: str, width: int = LABEL_CHARS) -> str:
    """``text`` broken after its commas into lines of at most ``width`` characters (a part
    longer than that keeps a line of its own)."""
    lines: list[str] = []
    for part in text.split(", "):
        if lines and len(lines[-1]) + 2 + len(part) <= width:
            lines[-1] += ", " + part
        else:
            if lines:
                lines[-1] += ","
            lines.append(part)
    return "\n".join(lines)


def _sweep_breakdown(d: PlotData, ax: Any, title: str | None) -> Any:
    """One horizontal stacked bar per sweep point, labels wrapped, legend below."""
    own = ax is None
    series = _sweep_series(d)
    names = [str(r["name"]) for r in series[""]]
    labels = [wrap_label(n) for n in names]
    lines = max(t.count("\n") + 1 for t in labels)
    if own:
        height = 1.6 + len(names) * (0.05 + LINE_HEIGHT * lines)
        ax = new_figure(COLUMN_WIDTH, min(MAX_HEIGHT, max(2.6, height))).add_subplot()
    handles = _draw_stacks(ax, d, series, names, horizontal=True)
    ax.set_yticks(range(len(names)))
    ax.set_yticklabels(labels, fontsize=5.5, linespacing=1.0)
    ax.tick_params(axis="y", length=1.5, pad=1)
    ax.set_ylim(len(names) - 0.4, -0.6)  # first point on top
    ax.set_xlabel(f"energy [{ENERGY_UNIT}]")
    if own:
        ax.figure.legend(handles=handles, loc="outside lower center", **LEGEND)
    else:
        _legend_above(ax, handles)
    set_title(ax, figure_title(d, title), own)
    return ax.figure


def _legend_above(ax: Any, handles: list[Any]) -> None:
    ax.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 1.0),
              borderaxespad=0.2, **LEGEND)


def _draw_stacks(ax: Any, d: PlotData, series: Series, names: list[str],
                 horizontal: bool) -> list[Any]:
    """The stacked bars, a hatch per series; returns the legend handles."""
    n_groups, n_series = len(names), len(series)
    width = 0.8 / n_series
    handles = []
    for s, (gran, recs) in enumerate(series.items()):
        where = f"{d.source}" + (f":granularities.{gran}" if gran else "")
        if [str(r["name"]) for r in recs] != names:
            raise PlotError(f"{where}: layers differ from the first granularity's")
        x = np.arange(n_groups) + (s - (n_series - 1) / 2) * width
        bottom = np.zeros(n_groups)
        for comp in COMPONENTS:
            vals = np.array([num(get(r, f"energy_pj.{comp}", where)) for r in recs]) / 1e6
            draw = ax.barh if horizontal else ax.bar
            base = {"left": bottom} if horizontal else {"bottom": bottom}
            bars = draw(x, vals, width * 0.92, **base, color=COMPONENT_COLORS[comp],
                        hatch=HATCHES[s % len(HATCHES)], edgecolor="white" if s == 0
                        else "black", linewidth=0.2 if s else (0.1 if horizontal else 0.3),
                        label=comp.replace("_", " ") if s == 0 else "_nolegend_")
            if s == 0:
                handles.append(bars)
            bottom = bottom + np.nan_to_num(vals)
    if n_series > 1:
        from matplotlib.patches import Patch

        handles += [Patch(facecolor="white", edgecolor="black", linewidth=0.4,
                          hatch=HATCHES[s % len(HATCHES)], label=g)
                    for s, g in enumerate(series)]
    return handles


@styled
def plot_energy_breakdown(data: Any, ax: Any = None, *, layers: Sequence[str] | None = None,
                          group: bool = False, title: str | None = None) -> Any:
    """Stacked energy per component (COMPONENTS order) for every layer, in \u00b5J.

    Up to :data:`~scnn_sim.plot.layers.HORIZONTAL_ABOVE` layers the bars are vertical; more
    (GoogLeNet's 57, DenseNet-121's 120) are drawn as horizontal bars, one row per layer top to
    bottom, the figure growing to fit (labels thinned past
    :data:`~scnn_sim.plot.layers.MAX_HEIGHT`), with faint rules between stages.

    Parameters
    ----------
    data
        Run or granularity results (a bar group per layer with one hatched bar per
        granularity), or a sweep (one bar per completed point, its network total).
    ax
        Axes to draw into (default: a new column-width figure).
    layers
        Only these layers or stages (glob patterns, see :func:`select_layers`).
    group
        One bar per stage (:func:`group_by_stage`) instead of per layer.
    title
        Figure title; default :func:`figure_title` (workload, density, energy table).

    Returns
    -------
    matplotlib.figure.Figure
    """
    d = as_plot_data(data)
    own = ax is None
    if d.kind == "sweep":
        return _sweep_breakdown(d, ax, title)
    series, xlabel = layer_series(d, layers, group), "stage" if group else "layer"
    names = [str(r["name"]) for r in next(iter(series.values()))]
    labels, prefix = short_labels(names)
    longest = max(len(x) for x in labels)
    n_groups, n_series = len(labels), len(series)
    ax, horizontal = per_layer_axes(ax, n_groups * max(1, n_series // 2 + 1) if n_series > 1
                                    else n_groups, longest > 12)
    handles = _draw_stacks(ax, d, series, names, horizontal)
    staged = not group
    layer_ticks(ax, row_labels(names, labels, horizontal) if staged else labels, horizontal)
    if staged:
        stage_rules(ax, names, horizontal)
    what = f"{xlabel} ({prefix}...)" if prefix else xlabel
    energy = f"energy [{ENERGY_UNIT}]"
    ax.set_xlabel(energy if horizontal else what)
    ax.set_ylabel(what if horizontal else energy)
    _legend_above(ax, handles)
    set_title(ax, figure_title(d, title), own)
    return ax.figure
