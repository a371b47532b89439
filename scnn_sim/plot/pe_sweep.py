"""``pe-sweep``: energy vs latency of a sweep's points, one Pareto front per series; then
performance per area and energy x delay x area against chip area
(:mod:`scnn_sim.pricing.area`)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np

from scnn_sim.plot.data import PlotData, PlotError, as_plot_data, figure_title, isnan
from scnn_sim.plot.style import (
    COLUMN_WIDTH,
    ENERGY_UNIT,
    LINESTYLES,
    MARKERS,
    SERIES_COLORS,
    new_axes,
    new_figure,
    set_title,
    styled,
)
from scnn_sim.plot.sweeptable import (
    MAX_CONFIGS,
    MAX_SERIES,
    POINT_AXES,
    Row,
    check_count,
    check_one_row_each,
    clock_ghz,
    config_columns,
    group_rows,
    ok_totals,
    sweep_parameters,
    value_text,
)


def pareto_front(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> np.ndarray:
    """Indices of the points no other point beats on both ``x`` and ``y`` (lower is better),
    sorted by ``x``."""
    xs, ys = np.asarray(x, float), np.asarray(y, float)
    order = np.lexsort((ys, xs))
    front, best = [], math.inf
    for i in order:
        if ys[i] < best:
            front.append(i)
            best = ys[i]
    return np.array(front, dtype=int)


#: Note drawn under panel (a) when the points record no area (the panels are left out).
NO_AREA_NOTE = ("no area_mm2.total in this sweep (written before the area model):\n"
                "area panels left out; re-run the sweep to record them")


def _has_area(tot: list[Row]) -> bool:
    """Whether every point records its chip area (``area_mm2.total``; sweeps written before
    the area model have none: plotting never prices an architecture itself)."""
    return all(not isnan(r.get("area_mm2.total")) for r in tot)


@dataclass
class _PeSweepLayout:
    """How the pe-sweep figure encodes a sweep's parameters.

    ``series``: one per combination of the varied point axes (workload, granularity, density,
    seed, energy): a colour and one Pareto front each. ``configs``: the PE configurations
    (label plus any architecture parameter varied independently of it): a marker each, named in
    the legend. Lines of the area panels: one per series and value of ``extra``.
    """

    lab: str
    extra: list[str]
    series_cols: list[str]
    series: list[tuple[tuple, list[Row]]]
    configs: dict[str, str]  # configuration name -> marker


def _pe_sweep_layout(d: PlotData, tot: list[Row]) -> _PeSweepLayout:
    lab, extra = config_columns(tot)
    series_cols = [c for c in sweep_parameters(tot) if c in POINT_AXES]
    series = group_rows(tot, series_cols) if series_cols else [((), tot)]
    check_count(d, len(series), MAX_SERIES, "series", series_cols, tot)
    for r in tot:
        r["_config"] = ", ".join([str(r[lab]), *(value_text(c, r[c]) for c in extra)])
    names = list(dict.fromkeys(r["_config"] for r in tot))
    check_count(d, len(names), MAX_CONFIGS, "PE configurations", [lab, *extra], tot)
    shown = [*series_cols, lab, *extra]
    check_one_row_each(d, group_rows(tot, shown), shown)
    return _PeSweepLayout(lab=lab, extra=extra, series_cols=series_cols, series=series,
                          configs={n: MARKERS[i] for i, n in enumerate(names)})


def _series_name(lay: _PeSweepLayout, grp: list[Row]) -> str:
    return ", ".join(value_text(c, grp[0][c]) for c in lay.series_cols) or "all points"


def _energy_latency_legend(ax: Any, lay: _PeSweepLayout, handles: list[Any]) -> None:
    """Two legend columns: the series (colours) left, the configurations (markers) right."""
    from matplotlib.lines import Line2D

    markers = [Line2D([], [], linestyle="none", marker=m, color="0.45", markersize=3.5,
                      label=name) for name, m in lay.configs.items()]
    markers.append(Line2D([], [], linestyle="none", marker="o", markerfacecolor="white",
                          markeredgecolor="black", markersize=4, label="on the Pareto front"))
    rows = max(len(handles), len(markers))
    blank = [Line2D([], [], linestyle="none", label="") for _ in range(2 * rows)]
    handles = [*handles, *blank[:rows - len(handles)], *markers,
               *blank[rows:rows + rows - len(markers)]]
    ax.legend(handles=handles, ncol=2, loc="lower center", bbox_to_anchor=(0.5, 1.02),
              handlelength=1.4, columnspacing=0.8, borderaxespad=0.2, fontsize=5.5)


def _draw_energy_latency(ax: Any, lay: _PeSweepLayout) -> None:
    from matplotlib.lines import Line2D

    handles = []
    for i, (_, grp) in enumerate(lay.series):
        color = SERIES_COLORS[i % len(SERIES_COLORS)]
        x = np.array([r["_latency_ms"] for r in grp], dtype=float)
        y = np.array([r["_energy_uj"] for r in grp], dtype=float)
        front = pareto_front(x, y)
        ax.plot(x[front], y[front], color=color, linewidth=0.9, drawstyle="steps-post",
                zorder=3, gid="pareto-front")
        on_front = set(front.tolist())
        for j, r in enumerate(grp):
            ring = j in on_front
            ax.scatter(x[j], y[j], s=22 if ring else 14, marker=lay.configs[r["_config"]],
                       color=color, alpha=1.0 if ring else 0.7,
                       edgecolors="black" if ring else "none", linewidths=0.6 if ring else 0,
                       zorder=4 if ring else 2, gid="front-point" if ring else "point")
        handles.append(Line2D([], [], color=color, linewidth=0.9, label=_series_name(lay, grp)))
    ax.set_xlabel("latency [ms]")
    ax.set_ylabel(f"energy [{ENERGY_UNIT}]")
    ax.margins(x=0.08, y=0.1)
    _energy_latency_legend(ax, lay, handles)


def _area_lines(ax: Any, lay: _PeSweepLayout, column: str) -> dict[float, list[str]]:
    """A line per series and value of the other varied parameters; returns area -> names."""
    names: dict[float, list[str]] = {}
    for i, (_, grp) in enumerate(lay.series):
        color = SERIES_COLORS[i % len(SERIES_COLORS)]
        subs = group_rows(grp, lay.extra) if lay.extra else [((), grp)]
        for k, (_, sub) in enumerate(subs):
            g = sorted(sub, key=lambda r: r["_area_mm2"])
            x = np.array([r["_area_mm2"] for r in g], dtype=float)
            y = np.array([r[column] for r in g], dtype=float)
            ax.plot(x, y, color=color, linestyle=LINESTYLES[k % len(LINESTYLES)],
                    linewidth=0.7, zorder=3, gid="series")
            for xj, yj, r in zip(x, y, g, strict=True):
                ax.scatter(xj, yj, s=10, marker=lay.configs[r["_config"]], color=color,
                           linewidths=0, zorder=4)
                key, text = round(float(xj), 6), str(r[lay.lab])
                if text not in names.setdefault(key, []):
                    names[key].append(text)
    return names


def _draw_vs_area(ax: Any, lay: _PeSweepLayout, column: str, ylabel: str,
                  names_on_top: bool) -> None:
    """One metric of every point against its chip area (log x): a line per series (colour)
    and value of the other varied architecture parameters (line style), a marker per PE
    configuration; dotted guides at each configuration's area, named on a top axis when
    ``names_on_top``."""
    from matplotlib.ticker import FuncFormatter, NullFormatter, NullLocator

    names = _area_lines(ax, lay, column)
    for xj in names:
        ax.axvline(xj, color="0.85", linewidth=0.5, linestyle=":", zorder=1)
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    lo, hi = min(names), max(names)
    if hi / lo < 20:
        ax.xaxis.set_minor_formatter(FuncFormatter(
            lambda v, _: f"{v:g}" if f"{v:g}"[0] in "2358" else ""))
    else:
        ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_ylabel(ylabel)
    ax.margins(x=0.08, y=0.12)
    if names_on_top and len(names) <= 16:
        top = ax.secondary_xaxis("top")
        top.set_xticks(list(names), labels=[" / ".join(v) for v in names.values()],
                       rotation=35, ha="left", rotation_mode="anchor", fontsize=5.5)
        top.tick_params(length=2, pad=1)
        top.xaxis.set_minor_locator(NullLocator())
    if lay.extra and names_on_top:
        from matplotlib.lines import Line2D

        combos = group_rows([r for _, grp in lay.series for r in grp], lay.extra)
        ax.legend(handles=[Line2D([], [], color="0.3", linewidth=0.7,
                                  linestyle=cast(Any, LINESTYLES[k % len(LINESTYLES)]),
                                  label=", ".join(value_text(c, sub[0][c]) for c in lay.extra))
                           for k, (_, sub) in enumerate(combos)], loc="best", fontsize=5.5)


def _three_axes(ax: Any, lay: _PeSweepLayout) -> list[Any]:
    """The three panels: a new figure's (with room for the legend), or the given ones."""
    if ax is None:
        legend_rows = (len(lay.series) + len(lay.configs) + 2) // 2
        fig = new_figure(COLUMN_WIDTH, 5.6 + 0.1 * legend_rows)
        axes = list(fig.subplots(3, 1, height_ratios=(1.35 + 0.06 * legend_rows, 1, 1)))
        axes[2].sharex(axes[1])
        return axes
    if np.size(ax) != 3:
        raise PlotError(f"ax: the pe-sweep plot draws into one axes or three, got {np.size(ax)}")
    return list(np.ravel(ax))


def _draw_three(axes: list[Any], lay: _PeSweepLayout, tot: list[Row], text: str,
                own: bool) -> None:
    for r in tot:
        r["_area_mm2"] = float(r["area_mm2.total"])
        r["_perf_per_area"] = 1e3 / r["_latency_ms"] / r["_area_mm2"]
        r["_edap"] = r["_energy_uj"] * r["_latency_ms"] * r["_area_mm2"]
    _draw_energy_latency(axes[0], lay)
    _draw_vs_area(axes[1], lay, "_perf_per_area", "perf. / area\n[1/(s mm²)]",
                  names_on_top=True)
    _draw_vs_area(axes[2], lay, "_edap", f"energy x delay x area\n[{ENERGY_UNIT} ms mm²]",
                  names_on_top=False)
    axes[2].set_xlabel("chip area [mm²]")
    for a, letter in zip(axes, "abc", strict=True):
        # A left title clears the tick labels (a text at the corner overlapped them).
        head = f"({letter})" if own or letter != "a" or not text else f"(a) {text}"
        a.set_title(head, loc="left", fontsize=7, pad=3)
    if own:
        set_title(axes[0], text, own)


@styled
def plot_pe_sweep(data: Any, ax: Any = None, area: bool = True, *,
                  title: str | None = None) -> Any:
    """Energy vs latency of every completed point of a sweep, one Pareto front per series,
    and the same points per chip area (:mod:`scnn_sim.pricing.area`).

    Panels: (a) energy vs latency; (b) performance per area (inferences per second per mm2,
    higher is better) vs chip area; (c) energy x delay x area (µJ x ms x mm2, lower is
    better) vs chip area, the area being each point's recorded ``area_mm2.total`` (a sweep
    without it, written before the area model, gets panel (a) and a note). Every parameter
    the sweep varies is shown (:func:`sweep_parameters`), nothing is averaged: each
    combination of workload, granularity, density, seed and energy table is a series (a
    colour) with its own Pareto front; each PE configuration (the spec's ``label`` when
    given, else ``PEs x (F x I)``, plus any architecture parameter varied independently of
    it) has a marker named in the legend. More than :data:`MAX_SERIES` series or
    :data:`MAX_CONFIGS` configurations are refused, naming the parameter to filter.

    Parameters
    ----------
    data
        A sweep results store, export or table.
    ax
        One axes: draw panel (a) only into it. A sequence of three axes: draw (a), (b), (c).
    area
        With ``ax=None``: also draw the per-area panels (default); False gives panel (a) only.
    title
        Figure title; default :func:`figure_title`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    d = as_plot_data(data)
    if d.kind != "sweep":
        raise PlotError(f"{d.source}: the pe-sweep plot needs sweep results (scnn-sim sweep)")
    tot = ok_totals(d)
    lay = _pe_sweep_layout(d, tot)
    for r in tot:
        r["_latency_ms"] = r["cycles"] / (clock_ghz(r) * 1e9) * 1e3
        r["_energy_uj"] = r["energy_pj.total"] / 1e6
    many = ax is not None and isinstance(ax, (Sequence, np.ndarray))
    own = ax is None
    has_area = _has_area(tot)
    if many and not has_area:
        raise PlotError(f"{d.source}: {NO_AREA_NOTE.split(':')[0]}: draw into one axes "
                        f"(panel a), or re-run the sweep to record the area of each point")
    if (ax is None and not (area and has_area)) or (ax is not None and not many):
        target = new_axes(ax, height=2.6 + 0.09 * (len(lay.series) + len(lay.configs)))
        _draw_energy_latency(target, lay)
        if own and area and not has_area:
            target.annotate(NO_AREA_NOTE, (0.0, -0.22), xycoords="axes fraction", va="top",
                            fontsize=5, color="0.35", gid="no-area-note")
        set_title(target, figure_title(d, title), own)
        return target.figure
    axes = _three_axes(ax, lay)
    _draw_three(axes, lay, tot, figure_title(d, title), own)
    return axes[0].figure
