"""Figures of scnn-sim results, sized for a paper column (3.5 in wide, 6-8 pt text).

Inputs (any plot function's ``data``, or ``scnn-sim plot RESULTS``; read once by
:mod:`scnn_sim.plot.data`):

* a ``run --json`` file or its dict (``{"workload", "layers": [record...], "totals": record}``),
  or a :class:`~scnn_sim.results.records.SimulationResult`;
* a ``granularity --json`` file or dict
  (``{"workload", "granularities": {"fine": {"layers": [...], "totals": {...}}, ...}}``),
  or what :func:`scnn_sim.studies.granularity.granularity_study` returns;
* a ``run --h5`` result table (:mod:`scnn_sim.results.h5table`);
* a sweep store or its HDF5 export (:mod:`scnn_sim.sweep`), or its DataFrame
  (:func:`scnn_sim.sweep.load_sweep_results`).

Kinds (one module each): ``energy-breakdown`` (:mod:`~scnn_sim.plot.energy`: stacked energy
per component and layer, µJ), ``cycles`` (:mod:`~scnn_sim.plot.cycles`: per-layer SCNN vs
oracle vs DCNN cycles; for a sweep: multiplier utilisation vs weight density),
``granularity`` (:mod:`~scnn_sim.plot.granularity`: memory references, weight storage and
energy normalised to ``fine``), ``pe-sweep`` (:mod:`~scnn_sim.plot.pe_sweep`: energy vs
latency of a sweep's points, one Pareto front per series; then performance per area and
energy x delay x area against chip area). ``scnn-sim compare --plot`` draws
:func:`~scnn_sim.plot.compare.plot_compare`.

A sweep figure never averages over a parameter the sweep varies (:func:`sweep_parameters`):
each one is shown (a line, colour, marker or bar label named in the legend), or the figure is
refused with one line naming the parameter to filter (``load_sweep_results``, filter the
DataFrame, pass it to the plot function).

Every function returns the :class:`matplotlib.figure.Figure`; with ``ax`` given it draws into
that axes and returns its figure. Figures are created with the Agg canvas directly (pyplot is
never imported, so no display or global backend is touched).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from scnn_sim.plot.compare import plot_compare
from scnn_sim.plot.cycles import plot_cycles, plot_utilization
from scnn_sim.plot.data import (
    PlotData,
    PlotError,
    as_plot_data,
    figure_title,
    load_results,
)
from scnn_sim.plot.energy import MAX_BARS, plot_energy_breakdown
from scnn_sim.plot.granularity import plot_granularity
from scnn_sim.plot.layers import (
    HORIZONTAL_ABOVE,
    MAX_HEIGHT,
    ROW_HEIGHT,
    group_by_stage,
    select_layers,
    stage_of,
)
from scnn_sim.plot.output import OUTPUT_SUFFIXES, check_output_suffix, save_figure
from scnn_sim.plot.pe_sweep import pareto_front, plot_pe_sweep
from scnn_sim.plot.style import (
    COLUMN_WIDTH,
    COMPONENT_COLORS,
    ENERGY_UNIT,
    HATCHES,
    LINESTYLES,
    MARKERS,
    SERIES_COLORS,
    STYLE,
)
from scnn_sim.plot.sweeptable import MAX_CONFIGS, MAX_SERIES, POINT_AXES, sweep_parameters

KINDS = ("energy-breakdown", "cycles", "granularity", "pe-sweep")


def _unknown_kind(kind: str) -> PlotError:
    return PlotError(f"--kind: unknown plot kind {kind!r} (choose from {', '.join(KINDS)})")


def plot(data: Any, kind: str, ax: Any = None, *, layers: Sequence[str] | None = None,
         group: bool = False, title: str | None = None) -> Any:
    """Draw ``kind`` (one of :data:`KINDS`) for ``data``; returns the Figure.

    ``layers`` and ``group`` apply to the per-layer kinds (``energy-breakdown``, ``cycles``
    of run or granularity results); ``title`` overrides :func:`figure_title` on every kind.
    """
    funcs = {"energy-breakdown": plot_energy_breakdown, "cycles": plot_cycles,
             "granularity": plot_granularity, "pe-sweep": plot_pe_sweep}
    if kind not in funcs:
        raise _unknown_kind(kind)
    if kind in ("energy-breakdown", "cycles"):
        if (layers or group) and as_plot_data(data).kind == "sweep":
            raise PlotError("--layers/--group: only for run or granularity results")
        return funcs[kind](data, ax=ax, layers=layers, group=group, title=title)
    if layers or group:
        raise PlotError(f"--layers/--group: not for --kind {kind} (network totals)")
    return funcs[kind](data, ax=ax, title=title)


def render(results: Any, kind: str, out_path: str | os.PathLike, *,
           layers: Sequence[str] | None = None, group: bool = False,
           title: str | None = None) -> Path:
    """Plot ``results`` (a path or data) as ``kind`` and save to a .png, .pdf or .svg file.

    ``layers``, ``group`` and ``title`` are passed to :func:`plot`.

    Returns
    -------
    pathlib.Path
        The written file.

    Raises
    ------
    PlotError
        Unknown kind, unsupported output type, or unsuitable results.
    """
    check_output_suffix(out_path)
    if kind not in KINDS:
        raise _unknown_kind(kind)
    return save_figure(plot(results, kind, layers=layers, group=group, title=title), out_path)


__all__ = ["COLUMN_WIDTH", "COMPONENT_COLORS", "ENERGY_UNIT", "HATCHES", "HORIZONTAL_ABOVE",
           "KINDS", "LINESTYLES", "MARKERS", "MAX_BARS", "MAX_CONFIGS", "MAX_HEIGHT",
           "MAX_SERIES", "OUTPUT_SUFFIXES", "POINT_AXES", "ROW_HEIGHT", "SERIES_COLORS",
           "STYLE", "PlotData", "PlotError", "as_plot_data", "check_output_suffix",
           "figure_title", "group_by_stage", "load_results", "pareto_front", "plot",
           "plot_compare", "plot_cycles", "plot_energy_breakdown", "plot_granularity",
           "plot_pe_sweep", "plot_utilization", "render", "save_figure", "select_layers",
           "stage_of", "sweep_parameters"]
