"""``energy-breakdown``: stacked energy per component (COMPONENTS order), µJ.

One bar per layer (run), a group of hatched bars per layer (granularity results, one bar per
granularity), or one bar per completed sweep point (its network total).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from scnn_sim.plot.data import PlotData, PlotError, as_plot_data, figure_title, get, num
from scnn_sim.plot.layers import (
    layer_series,
    layer_ticks,
    per_layer_axes,
    row_labels,
    short_labels,
    stage_rules,
)
from scnn_sim.plot.style import (
    COMPONENT_COLORS,
    ENERGY_UNIT,
    HATCHES,
    set_title,
    styled,
    top_legend,
)
from scnn_sim.plot.sweeptable import ok_totals, point_labels
from scnn_sim.pricing.energy import COMPONENTS

#: Most sweep points drawn as bars; more are refused (filter the table first).
MAX_BARS = 48

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
        series, xlabel = _sweep_series(d), "sweep point"
    else:
        series, xlabel = layer_series(d, layers, group), "stage" if group else "layer"
    names = [str(r["name"]) for r in next(iter(series.values()))]
    labels, prefix = short_labels(names)
    longest = max(len(x) for x in labels)
    n_groups, n_series = len(labels), len(series)
    # Sweep points are named by every varied parameter: long labels read best as rows.
    ax, horizontal = per_layer_axes(ax, n_groups * max(1, n_series // 2 + 1) if n_series > 1
                                    else n_groups, longest > 12,
                                    rows=d.kind == "sweep" and longest > 16)
    handles = _draw_stacks(ax, d, series, names, horizontal)
    staged = not group and d.kind != "sweep"
    layer_ticks(ax, row_labels(names, labels, horizontal) if staged else labels, horizontal)
    if staged:
        stage_rules(ax, names, horizontal)
    what = f"{xlabel} ({prefix}...)" if prefix else xlabel
    energy = f"energy [{ENERGY_UNIT}]"
    ax.set_xlabel(energy if horizontal else what)
    ax.set_ylabel(what if horizontal else energy)
    top_legend(ax, handles, ncol=5)
    set_title(ax, figure_title(d, title), own)
    return ax.figure
