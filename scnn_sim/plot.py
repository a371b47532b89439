"""Figures of scnn-sim results, sized for a paper column (3.5 in wide, 6-8 pt text).

Inputs (any plot function's ``data``, or ``scnn-sim plot RESULTS``):

* a ``run --json`` file or its dict (``{"workload", "layers": [record...], "totals": record}``),
  or a :class:`~scnn_sim.results.records.SimulationResult`;
* a ``granularity --json`` file or dict
  (``{"workload", "granularities": {"fine": {"layers": [...], "totals": {...}}, ...}}``);
* a ``run --h5`` result table (:mod:`scnn_sim.results.h5table`);
* a sweep store or its HDF5 export (:mod:`scnn_sim.sweep`), or its DataFrame
  (:func:`scnn_sim.sweep.load_sweep_results`).

Kinds: ``energy-breakdown`` (stacked energy per component and layer, µJ), ``cycles`` (per-layer
SCNN vs oracle vs DCNN cycles; for a sweep: multiplier utilisation vs weight density),
``granularity`` (memory references, weight storage and energy normalised to ``fine``),
``pe-sweep`` (energy vs latency of a sweep's points, one Pareto front per series; then
performance per area and energy x delay x area against chip area, :mod:`scnn_sim.pricing.area`).

A sweep figure never averages over a parameter the sweep varies (:func:`sweep_parameters`):
each one is shown (a line, colour, marker or bar label named in the legend), or the figure is
refused with one line naming the parameter to filter (``load_sweep_results``, filter the
DataFrame, pass it to the plot function).

Every function returns the :class:`matplotlib.figure.Figure`; with ``ax`` given it draws into
that axes and returns its figure. Figures are created with the Agg canvas directly (pyplot is
never imported, so no display or global backend is touched).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from scnn_sim.errors import ScnnSimError
from scnn_sim.outputs import atomic_output, check_output_path
from scnn_sim.pricing.energy import COMPONENTS
from scnn_sim.results.records import memory_references
from scnn_sim.results.tables import table_records

KINDS = ("energy-breakdown", "cycles", "granularity", "pe-sweep")
OUTPUT_SUFFIXES = (".png", ".pdf", ".svg")
#: Figure width of one paper column, inches.
COLUMN_WIDTH = 3.5

STYLE = {
    "font.size": 8,
    "axes.labelsize": 8,
    "axes.titlesize": 8,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "legend.fontsize": 6.5,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.linewidth": 0.6,
    "xtick.major.width": 0.6,
    "ytick.major.width": 0.6,
    "lines.linewidth": 1.0,
    "lines.markersize": 4,
    "patch.linewidth": 0.3,
    "hatch.linewidth": 0.5,
    "savefig.dpi": 300,
    "pdf.fonttype": 42,
}

#: One colour per energy component (COMPONENTS order).
COMPONENT_COLORS = dict(zip(COMPONENTS, (
    "#4c72b0", "#a1c9f4", "#8de5a1", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860",
    "#debb9b", "#da8bc3", "#8c8c8c", "#ccb974", "#cfcfcf"), strict=True))
SERIES_COLORS = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3",
                 "#8c8c8c", "#ccb974", "#64b5cd")
HATCHES = ("", "////", "....", "xxxx", "\\\\\\\\", "oo", "++", "--")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">")
MAX_BARS = 48
#: Energy unit of every figure (values are pJ / 1e6).
ENERGY_UNIT = "\u00b5J"
#: Per-layer plots switch to horizontal bars (a row per layer, top to bottom) above this count.
HORIZONTAL_ABOVE = 30
#: Height of one layer row of a horizontal per-layer plot, inches (5.4 pt: a 4.5 pt label).
ROW_HEIGHT = 0.075
#: Tallest per-layer figure, inches; beyond ``MAX_HEIGHT / ROW_HEIGHT`` rows labels are thinned.
MAX_HEIGHT = 9.5


class PlotError(ScnnSimError):
    """Unreadable or unsuitable results given to a plot."""


@dataclass
class PlotData:
    """Results normalised for plotting.

    Attributes
    ----------
    kind
        ``"run"``, ``"granularity"`` or ``"sweep"``.
    runs
        For run / granularity results: label -> ``{"layers": [...], "totals": {...}}``
        (a run has the single label ``""``).
    frame
        For a sweep: the table of :func:`scnn_sim.sweep.load_sweep_results` (a DataFrame, or
        a numpy structured array when pandas is not installed).
    """

    kind: str
    source: str
    workload: str = ""
    runs: dict[str, dict[str, Any]] = field(default_factory=dict)
    frame: Any = None
    meta: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# Loading


def load_results(path: str | os.PathLike) -> PlotData:
    """Read a results file for plotting (``run``/``granularity`` JSON, a ``run --h5`` table, a
    sweep store or its HDF5 export).

    Raises
    ------
    PlotError
        Missing file, unsupported type, malformed JSON, or JSON of another shape.
    """
    from scnn_sim.inputs.readers import as_path

    p = as_path(path, "results file", PlotError)
    if not p.is_file():
        raise PlotError(f"{p}: no such results file")
    suffix = p.suffix.lower()
    from scnn_sim.sweep import SQLITE_MAGIC

    try:
        with open(p, "rb") as fh:
            is_store = fh.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC
    except OSError as exc:
        raise PlotError(f"{p}: cannot read ({exc.strerror or exc})") from None
    if is_store or suffix in (".sqlite", ".db"):
        from scnn_sim.sweep import load_sweep_results

        return PlotData(kind="sweep", source=str(p), frame=load_sweep_results(p))
    from scnn_sim.results.h5table import is_hdf5

    if suffix in (".h5", ".hdf5") or is_hdf5(p):
        return _from_h5(p)
    if suffix != ".json":
        raise PlotError(f"{p}: unsupported results file type {suffix or '(none)'!r}: expected "
                        f"a .json from `run --json` / `granularity --json`, a `run --h5` "
                        f"table, a sweep .sqlite or its .h5 export")
    from scnn_sim.inputs.readers import read_json

    return as_plot_data(read_json(p, PlotError, "results file"), source=str(p))


def _from_h5(p: Path) -> PlotData:
    """A result table (:mod:`scnn_sim.results.h5table`): a run's layers, or a sweep's table."""
    from scnn_sim.results.h5table import TableError, read_table

    try:
        table = read_table(p)
    except TableError as exc:
        raise PlotError(str(exc)) from None
    if table.kind == "sweep":
        return PlotData(kind="sweep", source=str(p), frame=table.frame())
    records = table.records()
    if not records or records[-1]["name"] != "total":
        raise PlotError(f"{p}: a run table without its 'total' row (damaged file)")
    run = _check_run({"layers": records[:-1], "totals": records[-1]}, str(p))
    meta = dict(table.provenance)
    return PlotData(kind="run", source=str(p), workload=str(meta.get("workload", "")),
                    runs={"": run}, meta=meta)


def _check_record(rec: Any, where: str) -> dict[str, Any]:
    if not isinstance(rec, Mapping) or "name" not in rec:
        raise PlotError(f"{where}: expected a layer record (a mapping with 'name', 'cycles', "
                        f"'energy_pj', ...)")
    return dict(rec)


def _check_run(obj: Any, where: str) -> dict[str, Any]:
    if not isinstance(obj, Mapping):
        raise PlotError(f"{where}: expected a mapping with 'layers' and 'totals'")
    layers = obj.get("layers")
    if not isinstance(layers, list) or not layers:
        raise PlotError(f"{where}.layers: expected a non-empty list of layer records")
    recs = [_check_record(r, f"{where}.layers[{i}]") for i, r in enumerate(layers)]
    totals = obj.get("totals")
    if totals is not None:
        totals = _check_record(totals, f"{where}.totals")
    return {"layers": recs, "totals": totals}


def as_plot_data(data: Any, source: str = "<data>") -> PlotData:
    """Normalise any accepted input (path, dict, SimulationResult, DataFrame) to PlotData.

    Raises
    ------
    PlotError
        Input of an unknown shape.
    """
    if isinstance(data, PlotData):
        return data
    if isinstance(data, (str, os.PathLike)):
        return load_results(data)
    if hasattr(data, "to_dict") and hasattr(data, "totals") and hasattr(data, "meta"):
        data = data.to_dict()  # SimulationResult
    table_columns = (data.dtype.names if isinstance(data, np.ndarray) and data.dtype.names
                     else data.columns if hasattr(data, "columns") and hasattr(data, "loc")
                     else None)
    if table_columns is not None:
        need = {"point_id", "layer", "status"}
        missing = need - set(table_columns)
        if missing:
            raise PlotError(f"{source}: not a sweep results table (missing columns "
                            f"{', '.join(sorted(missing))})")
        return PlotData(kind="sweep", source=source, frame=data)
    if not isinstance(data, Mapping):
        raise PlotError(f"{source}: expected scnn-sim results (run or granularity JSON, or a "
                        f"sweep file), got {type(data).__name__}")
    if "granularities" in data:
        grans = data["granularities"]
        if not isinstance(grans, Mapping) or not grans:
            hint = " (this looks like a `storage --json` report)" \
                if isinstance(grans, list) else ""
            raise PlotError(f"{source}:granularities: expected a mapping from granularity to "
                            f"{{'layers': [...], 'totals': {{...}}}}{hint}")
        runs = {str(g): _check_run(v, f"{source}:granularities.{g}") for g, v in grans.items()}
        return PlotData(kind="granularity", source=source,
                        workload=str(data.get("workload", "")), runs=runs,
                        meta={k: v for k, v in data.items() if k != "granularities"})
    if "layers" in data:
        run = _check_run(data, source)
        return PlotData(kind="run", source=source, workload=str(data.get("workload", "")),
                        runs={"": run},
                        meta={k: v for k, v in data.items() if k not in ("layers", "totals")})
    keys = ", ".join(list(map(str, data))[:6]) or "none"
    raise PlotError(f"{source}: not scnn-sim results: expected 'layers' (run --json) or "
                    f"'granularities' (granularity --json); found keys {keys}")


# --------------------------------------------------------------------------------------------
# Helpers


def _styled(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Run a plot function under :data:`STYLE` (fonts are fixed when artists are created)."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        import matplotlib

        with matplotlib.rc_context(STYLE):
            return fn(*args, **kwargs)

    return wrapper


def _axes(ax: Any, height: float = 2.4, width: float = COLUMN_WIDTH) -> Any:
    if ax is not None:
        return ax
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig.add_subplot()


def _get(rec: Mapping[str, Any], dotted: str, where: str) -> Any:
    node: Any = rec
    for k in dotted.split("."):
        if not isinstance(node, Mapping) or k not in node:
            raise PlotError(f"{where}: layer {rec.get('name', '?')!r} has no {dotted!r}")
        node = node[k]
    return node


def _num(v: Any) -> float:
    return math.nan if v is None else float(v)


def _xticks(ax: Any, labels: Sequence[str], positions: Sequence[float] | None = None) -> None:
    pos = list(range(len(labels))) if positions is None else list(positions)
    ax.set_xticks(pos)
    many = len(labels) > 6 or max((len(s) for s in labels), default=0) > 8
    size = 7 if len(labels) <= 12 else (5.5 if len(labels) <= 30 else 4)
    ax.set_xticklabels(labels, rotation=60 if many else 0, ha="right" if many else "center",
                       rotation_mode="anchor" if many else "default", fontsize=size)


def _short_labels(labels: Sequence[str]) -> tuple[list[str], str]:
    """Drop a prefix shared by every label up to a ``/`` (e.g. ``inception_3a/``)."""
    labels = [str(x) for x in labels]
    prefix = os.path.commonprefix(labels) if len(labels) > 1 else ""
    prefix = prefix[:prefix.rfind("/") + 1] if "/" in prefix else ""
    if not prefix or any(len(x) == len(prefix) for x in labels):
        return labels, ""
    return [x[len(prefix):] for x in labels], prefix


def _scale(values: np.ndarray, unit: str) -> tuple[float, str]:
    """(divisor, label prefix) so the largest value shows as 1..999."""
    top = float(np.nanmax(np.abs(values))) if np.size(values) else 0.0
    for div, prefix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if top >= div:
            return div, f"{prefix}{unit}" if unit else prefix
    return 1.0, unit


def _top_legend(ax: Any, handles: Sequence[Any] | None = None, ncol: int = 5) -> Any:
    kwargs = {"handles": handles} if handles is not None else {}
    return ax.legend(**kwargs, ncol=ncol, loc="lower center", bbox_to_anchor=(0.5, 1.0),
                     handlelength=1.2, columnspacing=0.8, borderaxespad=0.2)


Row = dict[str, Any]

#: Parameters of a sweep point besides its architecture (the ``arch.*`` columns).
POINT_AXES = ("workload", "granularity", "density", "seed", "energy")
#: Most lines (series) a sweep figure tells apart by colour; more are refused (filter first).
MAX_SERIES = len(SERIES_COLORS)
#: Most configurations a sweep figure tells apart by marker.
MAX_CONFIGS = len(MARKERS)
LINESTYLES = ("-", "--", ":", "-.")


def _sweep_ok_totals(d: PlotData) -> list[Row]:
    """The ``total`` rows of the completed points, as dicts, in spec order (pandas-free)."""
    tot = [r for r in table_records(d.frame) if r["layer"] == "total" and r["status"] == "ok"]
    if not tot:
        raise PlotError(f"{d.source}: the sweep has no completed points")
    if "point_index" in tot[0]:
        tot.sort(key=lambda r: r["point_index"])
    return tot


def _isnan(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def _group(rows: list[Row], cols: Sequence[str]) -> list[tuple[tuple, list[Row]]]:
    """Rows grouped by the values of ``cols``, groups in first-seen order."""
    groups: dict[tuple, list[Row]] = {}
    for r in rows:
        groups.setdefault(tuple(_fmt(r[c]) for c in cols), []).append(r)
    return list(groups.items())


def _all_labelled(tot: list[Row]) -> bool:
    return "label" in tot[0] and all(r["label"] != "" for r in tot)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        if math.isnan(v):
            return "own"
        return f"{v:g}"
    return str(v)


def _values(tot: list[Row], col: str) -> list[str]:
    return list(dict.fromkeys(_fmt(r[col]) for r in tot))


def _param_name(col: str) -> str:
    """How a parameter is named in labels and errors: ``arch.`` dropped."""
    return col.removeprefix("arch.")


def _value_text(col: str, v: Any) -> str:
    """A parameter's value as a legend or tick label names it (``density 0.3``, ``seed 1``,
    ``accumulator.banks=64``)."""
    if col == "density":
        return "density " + ("per-layer" if _isnan(v) else _fmt(v))
    if col == "seed":
        return f"seed {_fmt(v)}"
    if col == "granularity":
        return str(v) or "default"
    if col in ("workload", "energy"):
        return Path(str(v)).stem if v else "default"
    if col.startswith("arch."):
        return f"{_param_name(col)}={_fmt(v)}"
    return _fmt(v)


def _determines(tot: list[Row], by: str, col: str) -> bool:
    """Whether each value of column ``by`` comes with one value of ``col``."""
    seen: dict[str, str] = {}
    return all(seen.setdefault(_fmt(r[by]), _fmt(r[col])) == _fmt(r[col]) for r in tot)


def _config_columns(tot: list[Row]) -> tuple[str, list[str]]:
    """(PE-configuration label column, varied ``arch.*`` columns that label does not determine).

    The label is the spec's ``label`` when every point has one, else ``pe_config``
    (``PEs x (F x I)``); an architecture parameter varied independently of it (e.g.
    ``accumulator.queue_depth``) is part of a point's configuration too.
    """
    lab = "label" if _all_labelled(tot) else "pe_config"
    arch = [c for c in tot[0] if c.startswith("arch.") and len(_values(tot, c)) > 1]
    return lab, [c for c in arch if not _determines(tot, lab, c)]


def sweep_parameters(tot: list[Row]) -> list[str]:
    """Every parameter the completed points of a sweep vary, as table columns.

    The axes (``workload``, ``granularity``, ``density``, ``seed``, ``energy``) that take more
    than one value, then the PE configuration (its label column, when more than one), then the
    varied architecture parameters the label does not determine (:func:`_config_columns`). A
    sweep figure shows every one of them (colour, marker, label or panel) or refuses.
    """
    axes = [c for c in POINT_AXES if c in tot[0] and len(_values(tot, c)) > 1]
    lab, extra = _config_columns(tot)
    return axes + ([lab] if len(_values(tot, lab)) > 1 else []) + extra


def _check_count(d: PlotData, n: int, limit: int, what: str, cols: Sequence[str],
                 tot: list[Row]) -> None:
    """Refuse, in one line naming the parameter to filter, more series than a figure shows."""
    if n <= limit:
        return
    counts = {c: len(_values(tot, c)) for c in cols}
    fix = "seed" if "seed" in counts else max(counts, key=lambda c: counts[c])
    first = _literal(tot[0][fix])
    raise PlotError(
        f"{d.source}: {n} {what} ({' x '.join(_param_name(c) for c in cols)}) are more than "
        f"one figure tells apart ({limit}); filter {_param_name(fix)} "
        f"({', '.join(_values(tot, fix)[:4])}{' ...' if counts[fix] > 4 else ''}) first, "
        f"e.g. df = load_sweep_results(FILE); df = df[df[{fix!r}] == {first!r}]; then plot df")


def _literal(v: Any) -> Any:
    """A table value as written in a filter expression (``0`` for a seed of ``0.0``)."""
    return int(v) if isinstance(v, float) and v.is_integer() else v


def _check_one_row_each(d: PlotData, groups: list[tuple[tuple, list[Row]]],
                        shown: Sequence[str]) -> None:
    """Refuse points that the shown parameters do not tell apart (never average them)."""
    for key, rows in groups:
        if len(rows) > 1:
            ids = ", ".join(str(r.get("point_id", "?"))[:8] for r in rows[:3])
            what = ", ".join(f"{_param_name(c)}={k}" for c, k in zip(shown, key, strict=True))
            raise PlotError(f"{d.source}: points {ids} share {what or 'every parameter shown'} "
                            f"and differ in something the table does not name (a store filled "
                            f"by different specs?); plot a filtered table")


def _point_labels(tot: list[Row]) -> list[str]:
    """One label per point naming every varied parameter (unique; point id when needed)."""
    lab, _ = _config_columns(tot)
    cols = [lab] + [c for c in sweep_parameters(tot) if c != lab]
    labels = [", ".join(_value_text(c, r[c]) for c in cols) for r in tot]
    if len(set(labels)) < len(labels):
        labels = [f"{t}, {str(r.get('point_id', ''))[:8]}" for t, r in zip(labels, tot,
                                                                          strict=True)]
    return labels


def _clock_ghz(row: Any) -> float:
    try:
        return float(json.loads(row["arch_json"])["clock_ghz"])
    except (KeyError, TypeError, ValueError, RecursionError):
        return 1.0


def stage_of(name: str) -> str:
    """The stage / block of a layer: its name up to the first ``/`` or ``.``
    (``denseblock1.denselayer2.conv1`` -> ``denseblock1``, ``inception_3a/1x1`` ->
    ``inception_3a``); a name without separator is its own stage."""
    cut = [i for i in (name.find("/"), name.find(".")) if i > 0]
    return name[:min(cut)] if cut else name


def select_layers(recs: Sequence[Mapping[str, Any]], patterns: Sequence[str] | None,
                  where: str) -> list[Mapping[str, Any]]:
    """The records whose name, or stage, matches one of ``patterns`` (shell-style globs, e.g.
    ``conv1``, ``denseblock1``, ``inception_4*``), in network order.

    Raises
    ------
    PlotError
        A pattern that matches no layer (named, with the available stages).
    """
    import fnmatch

    if not patterns:
        return list(recs)
    keep = []
    hit = dict.fromkeys(patterns, False)
    for r in recs:
        name = str(r["name"])
        for pat in patterns:
            if fnmatch.fnmatchcase(name, pat) or fnmatch.fnmatchcase(stage_of(name), pat):
                hit[pat] = True
                keep.append(r)
                break
    missing = [p for p, ok in hit.items() if not ok]
    if missing:
        stages = list(dict.fromkeys(stage_of(str(r["name"])) for r in recs))
        shown = ", ".join(stages[:12]) + (" ..." if len(stages) > 12 else "")
        raise PlotError(f"{where}: --layers {','.join(missing)}: no such layer or stage "
                        f"(stages: {shown})")
    return keep


def _add_leaves(dst: dict[str, Any], src: Mapping[str, Any]) -> None:
    for k, v in src.items():
        if isinstance(v, Mapping):
            _add_leaves(dst.setdefault(k, {}), v)
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            dst[k] = dst.get(k, 0.0) + float(v)


def group_by_stage(recs: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One record per stage (see :func:`stage_of`), in order of first appearance: cycles,
    oracle cycles, DCNN cycles and energy by component summed over the stage's layers."""
    out: dict[str, dict[str, Any]] = {}
    for r in recs:
        agg = out.setdefault(stage_of(str(r["name"])), {"name": stage_of(str(r["name"]))})
        _add_leaves(agg, {k: r[k] for k in ("cycles", "oracle_cycles", "dcnn", "energy_pj")
                          if k in r})
    return list(out.values())


def _layer_series(d: PlotData, layers: Sequence[str] | None, group: bool
                  ) -> dict[str, list[Mapping[str, Any]]]:
    series = {}
    for g, run in d.runs.items():
        where = d.source + (f":granularities.{g}" if g else "")
        recs = select_layers(run["layers"], layers, where)
        series[g] = group_by_stage(recs) if group else recs
    return series


def figure_title(d: PlotData, title: str | None = None) -> str:
    """``title`` if given, else ``workload | density | energy table`` of the results."""
    if title is not None:
        return title
    if d.kind == "sweep":
        rows = table_records(d.frame)   # a DataFrame, or a structured array without pandas

        def uniq(col: str, fmt: Callable[[Any], str]) -> str:
            if not rows or col not in rows[0]:
                return "?"
            vals = list(dict.fromkeys(fmt(r[col]) for r in rows))
            return ", ".join(vals[:3]) + (" ..." if len(vals) > 3 else "")

        # The table's name as the points used it (stores of earlier versions: as the spec
        # gave it; "default" when it gave none, since the default may have changed since).
        named = list(dict.fromkeys(str(r["energy_table"]) for r in rows
                                   if r.get("energy_table")))
        energy = (", ".join(named[:3]) + (" ..." if len(named) > 3 else "") if named
                  else uniq("energy", lambda v: Path(str(v)).stem if v else "default"))
        return (f"{uniq('workload', lambda v: Path(str(v)).stem)} | density "
                f"{uniq('density', lambda v: 'per-layer' if _isnan(v) else _fmt(v))} | energy "
                f"{energy}")
    m = d.meta
    dens = m.get("density")
    if dens is None:
        dens = "per-layer"
    elif isinstance(dens, (int, float)) and not isinstance(dens, bool):
        dens = f"{float(dens):g}"
    else:
        dens = str(dens)  # e.g. "published" (granularity --published-densities)
    gran = m.get("granularity")
    if d.kind == "granularity":
        gran = ", ".join(d.runs)
    parts = [d.workload or "?", f"density {dens}" + (f" ({gran})" if gran else ""),
             f"energy {m.get('energy_table', '?')}"]
    return " | ".join(parts)


def _set_title(ax: Any, text: str, own_figure: bool) -> None:
    if not text:
        return
    if own_figure:
        ax.figure.suptitle(text, fontsize=7, x=0.02, ha="left")
    else:
        ax.set_title(text, fontsize=7, loc="left")


def _per_layer_axes(ax: Any, n: int, long_labels: bool,
                    rows: bool = False) -> tuple[Any, bool]:
    """(axes, horizontal): vertical bars up to :data:`HORIZONTAL_ABOVE` layers (12 when labels
    are long), else (or with ``rows``) one row per layer with the figure height growing with
    the count (capped at :data:`MAX_HEIGHT`)."""
    horizontal = rows or n > HORIZONTAL_ABOVE or (n > 12 and long_labels)
    if ax is not None:
        return ax, horizontal
    if horizontal:
        return _axes(None, height=min(MAX_HEIGHT, max(2.6, 1.1 + n * ROW_HEIGHT))), True
    return _axes(None, height=2.6 if not long_labels else 3.4), False


def _layer_ticks(ax: Any, labels: Sequence[str], horizontal: bool) -> None:
    """Layer labels: rotated x ticks, or y ticks (one per row, thinned past the height cap)."""
    if not horizontal:
        _xticks(ax, labels)
        ax.set_xlim(-0.6, len(labels) - 0.4)
        return
    n = len(labels)
    step = max(1, math.ceil(n / (MAX_HEIGHT / ROW_HEIGHT)))
    pos = list(range(0, n, step))
    ax.set_yticks(pos)
    ax.set_yticklabels([labels[i] for i in pos], fontsize=4.5 if n > 60 else 5.5)
    ax.tick_params(axis="y", length=1.5, pad=1)
    ax.set_ylim(n - 0.4, -0.6)  # first layer on top


def _staged(names: Sequence[str]) -> bool:
    stages = [stage_of(n) for n in names]
    return 1 < len(set(stages)) < len(stages)


def _row_labels(names: Sequence[str], labels: list[str], horizontal: bool) -> list[str]:
    """Horizontal plots of a staged network drop the stage from each row label (the stage is
    written once beside its block by :func:`_stage_rules`)."""
    if not horizontal or not _staged(names):
        return labels
    return [n[len(stage_of(n)) + 1:] if stage_of(n) != n else n for n in names]


def _stage_rules(ax: Any, names: Sequence[str], horizontal: bool) -> None:
    """Faint rules between stages, so blocks of a 120-layer network read as groups; on a
    horizontal plot each block's stage name is written at the right edge of its first row."""
    if not _staged(names):
        return
    stages = [stage_of(n) for n in names]
    for i in range(len(stages)):
        first = i == 0 or stages[i] != stages[i - 1]
        if not first:
            continue
        if i:
            (ax.axhline if horizontal else ax.axvline)(i - 0.5, color="0.75", linewidth=0.3,
                                                       zorder=0)
        if horizontal and stages[i] != names[i]:
            ax.annotate(stages[i], (1.0, i - 0.5), xycoords=("axes fraction", "data"),
                        ha="right", va="top", fontsize=5, style="italic", color="0.3",
                        bbox={"facecolor": "white", "alpha": 0.7, "pad": 0.2, "linewidth": 0})


# --------------------------------------------------------------------------------------------
# energy-breakdown


@_styled
def plot_energy_breakdown(data: Any, ax: Any = None, *, layers: Sequence[str] | None = None,
                          group: bool = False, title: str | None = None) -> Any:
    """Stacked energy per component (COMPONENTS order) for every layer, in \u00b5J.

    Up to :data:`HORIZONTAL_ABOVE` layers the bars are vertical; more (GoogLeNet's 57,
    DenseNet-121's 120) are drawn as horizontal bars, one row per layer top to bottom, the
    figure growing to fit (labels thinned past :data:`MAX_HEIGHT`), with faint rules between
    stages.

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
        tot = _sweep_ok_totals(d)
        if len(tot) > MAX_BARS:
            raise PlotError(f"{d.source}: {len(tot)} points are too many bars; filter the "
                            f"DataFrame (load_sweep_results) and pass it to "
                            f"plot_energy_breakdown")
        names = _point_labels(tot)
        series = {"": [{"name": n, "energy_pj": {c: r.get(f"energy_pj.{c}", 0.0)
                                                 for c in COMPONENTS}}
                       for n, r in zip(names, tot, strict=True)]}
        xlabel = "sweep point"
    else:
        series = _layer_series(d, layers, group)
        xlabel = "stage" if group else "layer"
    names = [str(r["name"]) for r in next(iter(series.values()))]
    labels, prefix = _short_labels(names)
    longest = max(len(x) for x in labels)
    n_groups, n_series = len(labels), len(series)
    # Sweep points are named by every varied parameter: long labels read best as rows.
    ax, horizontal = _per_layer_axes(ax, n_groups * max(1, n_series // 2 + 1) if n_series > 1
                                     else n_groups, longest > 12,
                                     rows=d.kind == "sweep" and longest > 16)
    width = 0.8 / n_series
    handles = []
    for s, (gran, recs) in enumerate(series.items()):
        where = f"{d.source}" + (f":granularities.{gran}" if gran else "")
        if [str(r["name"]) for r in recs] != names:
            raise PlotError(f"{where}: layers differ from the first granularity's")
        x = np.arange(n_groups) + (s - (n_series - 1) / 2) * width
        bottom = np.zeros(n_groups)
        for comp in COMPONENTS:
            vals = np.array([_num(_get(r, f"energy_pj.{comp}", where)) for r in recs]) / 1e6
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
    staged = not group and d.kind != "sweep"
    _layer_ticks(ax, _row_labels(names, labels, horizontal) if staged else labels, horizontal)
    if staged:
        _stage_rules(ax, names, horizontal)
    what = f"{xlabel} ({prefix}...)" if prefix else xlabel
    energy = f"energy [{ENERGY_UNIT}]"
    ax.set_xlabel(energy if horizontal else what)
    ax.set_ylabel(what if horizontal else energy)
    _top_legend(ax, handles, ncol=5)
    _set_title(ax, figure_title(d, title), own)
    return ax.figure


# --------------------------------------------------------------------------------------------
# cycles / utilization


@_styled
def plot_cycles(data: Any, ax: Any = None, granularity: str | None = None, *,
                layers: Sequence[str] | None = None, group: bool = False,
                title: str | None = None) -> Any:
    """Per-layer SCNN cycles vs the oracle (products / multipliers) vs DCNN, grouped bars.

    A sweep is drawn as :func:`plot_utilization` instead. More than
    :data:`HORIZONTAL_ABOVE` layers are drawn as horizontal bars (see
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
    recs = _layer_series(d, layers, group)[granularity]
    where = d.source
    series = {
        "SCNN": [_num(_get(r, "cycles", where)) for r in recs],
        "oracle": [_num(_get(r, "oracle_cycles", where)) for r in recs],
        "DCNN": [_num(_get(r, "dcnn.cycles", where)) for r in recs],
    }
    names = [str(r["name"]) for r in recs]
    labels, prefix = _short_labels(names)
    ax, horizontal = _per_layer_axes(ax, len(labels), max(len(x) for x in labels) > 12)
    allv = np.array([v for vals in series.values() for v in vals], dtype=float)
    div, unit = _scale(allv, "")
    width = 0.8 / 3
    colors = ("#4c72b0", "#8c8c8c", "#c44e52")
    for s, (name, vals) in enumerate(series.items()):
        x = np.arange(len(labels)) + (s - 1) * width
        draw = ax.barh if horizontal else ax.bar
        draw(x, np.array(vals) / div, width * 0.95, label=name, color=colors[s], linewidth=0)
    _layer_ticks(ax, labels if group else _row_labels(names, labels, horizontal), horizontal)
    if not group:
        _stage_rules(ax, names, horizontal)
    what = "stage" if group else "layer"
    what = f"{what} ({prefix}...)" if prefix else what
    latency = f"latency [{unit}cycles]"
    ax.set_xlabel(latency if horizontal else what)
    ax.set_ylabel(what if horizontal else latency)
    _top_legend(ax, ncol=3)
    default = figure_title(d) + (f" | {granularity}" if d.kind == "granularity" else "")
    _set_title(ax, default if title is None else title, own)
    return ax.figure


@_styled
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
    every = _sweep_ok_totals(d)
    tot = [r for r in every if not _isnan(r["density"])]
    if not tot:
        raise PlotError(f"{d.source}: the sweep has no density axis (give `densities:` "
                        f"numbers in the spec)")
    line_cols = ["granularity", *(c for c in sweep_parameters(tot)
                                  if c not in ("granularity", "density"))]
    lines = _group(tot, line_cols)
    _check_count(d, len(lines), MAX_SERIES, "lines", line_cols, tot)
    _check_one_row_each(d, _group(tot, [*line_cols, "density"]), [*line_cols, "density"])
    ax = _axes(ax, height=2.4)
    for i, (_, grp) in enumerate(lines):
        dens = np.array([float(r["density"]) for r in grp])
        util = np.array([float(r["multiplier_utilization"]) for r in grp])
        o = np.argsort(dens, kind="stable")
        ax.plot(dens[o] * 100, util[o] * 100, marker=MARKERS[i % len(MARKERS)],
                color=SERIES_COLORS[i % len(SERIES_COLORS)],
                label=", ".join(_value_text(c, grp[0][c]) for c in line_cols))
    ax.set_xlabel("weight density [%]")
    ax.set_ylabel("multiplier utilisation [%]")
    ax.set_ylim(bottom=0)
    ax.legend(loc="best")
    if len(tot) < len(every):
        ax.annotate(f"{len(every) - len(tot)} point(s) at each layer's own density not shown",
                    (0.0, -0.3), xycoords="axes fraction", fontsize=5.5, color="0.35")
    _set_title(ax, figure_title(d, title), own)
    return ax.figure


# --------------------------------------------------------------------------------------------
# granularity


def _granularity_metrics(rec: Mapping[str, Any], where: str) -> dict[str, float]:
    acc = rec.get("accumulator_accesses") or {}
    a = _get(rec, "accesses", where)
    mem = memory_references({k: _num(v) for k, v in a.items()})
    dram = mem["per_structure"]["dram"]["bits"]
    weight_bits = sum(_num(v) for k, v in a.items() if k.startswith("dram_read_bits_weight"))
    return {
        "acc. per-product": _num(acc.get("per_product")),
        "acc. same-addr.": _num(acc.get("same_address")),
        "acc. wide": _num(acc.get("wide")),
        "memory refs": mem["accesses"],
        "bits moved": mem["bits"],
        "DRAM traffic": dram,
        "weight storage": weight_bits,
        "energy": _num(_get(rec, "energy_pj.total", where)),
    }


def _flat_to_record(row: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {"name": "total"}
    for k, v in row.items():
        if not isinstance(k, str) or "." not in k:
            continue
        if k.split(".", 1)[0] not in ("accesses", "accumulator_accesses", "energy_pj"):
            continue
        node = rec
        parts = k.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = None if isinstance(v, float) and math.isnan(v) else v
    return rec


@_styled
def plot_granularity(data: Any, ax: Any = None, *, title: str | None = None) -> Any:
    """Memory references, weight storage and energy of each granularity, relative to fine.

    Categories (network totals): accumulator accesses under the per-product, same-address and
    wide models, memory references and bits moved
    (:func:`scnn_sim.results.records.memory_references`,
    the architecture's accumulator model), DRAM traffic (bits), weight storage (DRAM weight
    value + index bits) and energy.
    Categories not counted (``count_merges`` off) are left empty.

    Parameters
    ----------
    data
        Granularity results, or a sweep with one completed point per granularity.
    ax
        Axes to draw into.
    title
        Figure title; default :func:`figure_title`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    d = as_plot_data(data)
    own = ax is None
    if d.kind == "sweep":
        tot = _sweep_ok_totals(d)
        others = [c for c in sweep_parameters(tot) if c != "granularity"]
        if others:
            fix = others[0]
            varies = "; ".join(f"{_param_name(c)} ({', '.join(_values(tot, c)[:4])}"
                               f"{' ...' if len(_values(tot, c)) > 4 else ''})" for c in others)
            raise PlotError(f"{d.source}: several points per granularity: besides granularity "
                            f"the sweep varies {varies}; the granularity plot compares one "
                            f"configuration: filter to one value of each, e.g. "
                            f"df = load_sweep_results(FILE); df = df[df[{fix!r}] == "
                            f"{_literal(tot[0][fix])!r}]; then plot df")
        _check_one_row_each(d, _group(tot, ["granularity"]), ["granularity"])
        per = {str(r["granularity"]): _flat_to_record(r) for r in tot}
    elif d.kind == "granularity":
        per = {}
        for g, run in d.runs.items():
            rec = run["totals"]
            if rec is None:
                raise PlotError(f"{d.source}:granularities.{g}.totals: missing")
            per[g] = rec
    else:
        raise PlotError(f"{d.source}: a single run; the granularity plot needs "
                        f"`granularity --json` results or a sweep over granularities")
    metrics = {g: _granularity_metrics(rec, f"{d.source}:granularities.{g}")
               for g, rec in per.items()}
    ref_name = "fine" if "fine" in metrics else next(iter(metrics))
    ref = metrics[ref_name]
    cats = list(ref)
    ax = _axes(ax, height=2.5)
    n = len(metrics)
    width = 0.8 / n
    for s, (g, m) in enumerate(metrics.items()):
        vals = np.array([m[c] / ref[c] if ref[c] and not math.isnan(ref[c]) else math.nan
                         for c in cats])
        x = np.arange(len(cats)) + (s - (n - 1) / 2) * width
        ax.bar(x, vals, width * 0.95, label=g, color=SERIES_COLORS[s % len(SERIES_COLORS)],
               linewidth=0)
    ax.axhline(1.0, color="black", linewidth=0.5, linestyle=":")
    _xticks(ax, cats)
    ax.set_ylabel(f"relative to {ref_name} [x]")
    ax.set_xlim(-0.6, len(cats) - 0.4)
    _top_legend(ax, ncol=min(n, 5))
    _set_title(ax, figure_title(d, title), own)
    return ax.figure


# --------------------------------------------------------------------------------------------
# pe-sweep


def pareto_front(x: Sequence[float], y: Sequence[float]) -> np.ndarray:
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


def _area_mm2(row: Row) -> float:
    """Chip area of a sweep point: its ``area_mm2.total`` column, or (sweep files written
    before the area model) the default area table applied to its ``arch_json``."""
    value = row.get("area_mm2.total")
    if value is not None and not (isinstance(value, float) and math.isnan(value)):
        return float(value)
    from scnn_sim.inputs.arch import arch_from_dict
    from scnn_sim.pricing.area import area_model

    try:
        arch = arch_from_dict(json.loads(row["arch_json"]), where="arch_json")
    except (KeyError, TypeError, ValueError, RecursionError) as exc:
        raise PlotError(f"point {row.get('point_id', '?')}: no area_mm2.total and no "
                        f"readable arch_json ({exc})") from None
    return area_model(arch).total


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
    lab, extra = _config_columns(tot)
    series_cols = [c for c in sweep_parameters(tot) if c in POINT_AXES]
    series = _group(tot, series_cols) if series_cols else [((), tot)]
    _check_count(d, len(series), MAX_SERIES, "series", series_cols, tot)
    for r in tot:
        r["_config"] = ", ".join([str(r[lab]), *(_value_text(c, r[c]) for c in extra)])
    names = list(dict.fromkeys(r["_config"] for r in tot))
    _check_count(d, len(names), MAX_CONFIGS, "PE configurations", [lab, *extra], tot)
    shown = [*series_cols, lab, *extra]
    _check_one_row_each(d, _group(tot, shown), shown)
    return _PeSweepLayout(lab=lab, extra=extra, series_cols=series_cols, series=series,
                          configs={n: MARKERS[i] for i, n in enumerate(names)})


def _series_name(lay: _PeSweepLayout, grp: list[Row]) -> str:
    return ", ".join(_value_text(c, grp[0][c]) for c in lay.series_cols) or "all points"


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
    markers = [Line2D([], [], linestyle="none", marker=m, color="0.45", markersize=3.5,
                      label=name) for name, m in lay.configs.items()]
    markers.append(Line2D([], [], linestyle="none", marker="o", markerfacecolor="white",
                          markeredgecolor="black", markersize=4, label="on the Pareto front"))
    # Two legend columns: the series (colours) left, the configurations (markers) right.
    rows = max(len(handles), len(markers))
    blank = [Line2D([], [], linestyle="none", label="") for _ in range(2 * rows)]
    handles = [*handles, *blank[:rows - len(handles)], *markers,
               *blank[rows:rows + rows - len(markers)]]
    ax.set_xlabel("latency [ms]")
    ax.set_ylabel(f"energy [{ENERGY_UNIT}]")
    ax.margins(x=0.08, y=0.1)
    ax.legend(handles=handles, ncol=2, loc="lower center", bbox_to_anchor=(0.5, 1.02),
              handlelength=1.4, columnspacing=0.8, borderaxespad=0.2, fontsize=5.5)


def _draw_vs_area(ax: Any, lay: _PeSweepLayout, column: str, ylabel: str,
                  names_on_top: bool) -> None:
    """One metric of every point against its chip area (log x): a line per series (colour)
    and value of the other varied architecture parameters (line style), a marker per PE
    configuration; dotted guides at each configuration's area, named on a top axis when
    ``names_on_top``."""
    names: dict[float, list[str]] = {}
    for i, (_, grp) in enumerate(lay.series):
        color = SERIES_COLORS[i % len(SERIES_COLORS)]
        subs = _group(grp, lay.extra) if lay.extra else [((), grp)]
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
    for xj in names:
        ax.axvline(xj, color="0.85", linewidth=0.5, linestyle=":", zorder=1)
    ax.set_xscale("log")
    from matplotlib.ticker import FuncFormatter, NullFormatter, NullLocator

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

        combos = _group([r for _, grp in lay.series for r in grp], lay.extra)
        ax.legend(handles=[Line2D([], [], color="0.3", linewidth=0.7,
                                  linestyle=LINESTYLES[k % len(LINESTYLES)],
                                  label=", ".join(_value_text(c, sub[0][c]) for c in lay.extra))
                           for k, (_, sub) in enumerate(combos)], loc="best", fontsize=5.5)


@_styled
def plot_pe_sweep(data: Any, ax: Any = None, area: bool = True, *,
                  title: str | None = None) -> Any:
    """Energy vs latency of every completed point of a sweep, one Pareto front per series,
    and the same points per chip area (:mod:`scnn_sim.pricing.area`).

    Panels: (a) energy vs latency; (b) performance per area (inferences per second per mm2,
    higher is better) vs chip area; (c) energy x delay x area (µJ x ms x mm2, lower is
    better) vs chip area. Every parameter the sweep varies is shown (:func:`sweep_parameters`),
    nothing is averaged: each combination of workload, granularity, density, seed and energy
    table is a series (a colour) with its own Pareto front; each PE configuration (the spec's
    ``label`` when given, else ``PEs x (F x I)``, plus any architecture parameter varied
    independently of it) has a marker named in the legend. More than :data:`MAX_SERIES`
    series or :data:`MAX_CONFIGS` configurations are refused, naming the parameter to filter.

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
    tot = _sweep_ok_totals(d)
    lay = _pe_sweep_layout(d, tot)
    for r in tot:
        r["_latency_ms"] = r["cycles"] / (_clock_ghz(r) * 1e9) * 1e3
        r["_energy_uj"] = r["energy_pj.total"] / 1e6
    many = ax is not None and isinstance(ax, (Sequence, np.ndarray))
    if (ax is None and not area) or (ax is not None and not many):
        own = ax is None
        target = _axes(ax, height=2.6 + 0.09 * (len(lay.series) + len(lay.configs)))
        _draw_energy_latency(target, lay)
        _set_title(target, figure_title(d, title), own)
        return target.figure
    own = ax is None
    if ax is None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        legend_rows = (len(lay.series) + len(lay.configs) + 2) // 2
        fig = Figure(figsize=(COLUMN_WIDTH, 5.6 + 0.1 * legend_rows), layout="constrained")
        FigureCanvasAgg(fig)
        axes = list(fig.subplots(3, 1, height_ratios=(1.35 + 0.06 * legend_rows, 1, 1)))
        axes[2].sharex(axes[1])
    elif np.size(ax) != 3:
        raise PlotError(f"ax: the pe-sweep plot draws into one axes or three, got {np.size(ax)}")
    else:
        axes = list(np.ravel(ax))
    for r in tot:
        r["_area_mm2"] = _area_mm2(r)
        r["_perf_per_area"] = 1e3 / r["_latency_ms"] / r["_area_mm2"]
        r["_edap"] = r["_energy_uj"] * r["_latency_ms"] * r["_area_mm2"]
    _draw_energy_latency(axes[0], lay)
    _draw_vs_area(axes[1], lay, "_perf_per_area", "perf. / area\n[1/(s mm²)]",
                  names_on_top=True)
    _draw_vs_area(axes[2], lay, "_edap", f"energy x delay x area\n[{ENERGY_UNIT} ms mm²]",
                  names_on_top=False)
    axes[2].set_xlabel("chip area [mm²]")
    text = figure_title(d, title)
    for a, letter in zip(axes, "abc", strict=True):
        # A left title clears the tick labels (a text at the corner overlapped them).
        head = f"({letter})" if own or letter != "a" or not text else f"(a) {text}"
        a.set_title(head, loc="left", fontsize=7, pad=3)
    if own:
        _set_title(axes[0], text, own)
    return axes[0].figure


# --------------------------------------------------------------------------------------------
# compare


@_styled
def plot_compare(cmp: Any, ax: Any = None, *, title: str | None = None) -> Any:
    """Per-layer ratios (run / reference) of cycles, energy and DRAM bits, one marker per layer.

    Layout as :func:`plot_energy_breakdown` (horizontal rows past :data:`HORIZONTAL_ABOVE`
    layers); the ratio axis is logarithmic when the ratios span more than a factor of 10.

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
    labels, prefix = _short_labels(names)
    ax, horizontal = _per_layer_axes(ax, len(labels), max(len(x) for x in labels) > 12)
    pos = np.arange(len(labels))
    metrics = (("cycles", "cycles"), ("energy_pj", "energy"), ("dram_bits", "DRAM bits"))
    colors = ("#4c72b0", "#c44e52", "#55a868")
    tags = [chr(65 + i) if i < 26 else str(i) for i in range(len(cmp.runs))]
    for r, run in enumerate(cmp.runs[1:], start=1):
        for m, (key, label) in enumerate(metrics):
            vals = np.array([cmp.ratios(run, n)[key] for n in names])
            xy = (vals, pos) if horizontal else (pos, vals)
            name = label + (f" {tags[r]}/A" if len(cmp.runs) > 2 else "")
            ax.plot(*xy, linestyle="none", marker=MARKERS[(r - 1) % len(MARKERS)],
                    markersize=2.2 if len(labels) > HORIZONTAL_ABOVE else 3.5,
                    color=colors[m], alpha=0.85, label=name, markeredgewidth=0)
    (ax.axvline if horizontal else ax.axhline)(1.0, color="black", linewidth=0.5,
                                               linestyle=":")
    allr = np.array([cmp.ratios(run, n)[k] for run in cmp.runs[1:] for n in names
                     for k, _ in metrics], dtype=float)
    allr = allr[np.isfinite(allr) & (allr > 0)]
    if allr.size and allr.max() / allr.min() > 10:
        # ratios spanning more than a decade: a log axis keeps 0.5x and 2x equally far from 1
        (ax.set_xscale if horizontal else ax.set_yscale)("log")
    _layer_ticks(ax, _row_labels(names, labels, horizontal), horizontal)
    _stage_rules(ax, names, horizontal)
    what = f"layer ({prefix}...)" if prefix else "layer"
    ref = cmp.reference.label
    ratio = f"ratio to A ({ref}) [x]"
    ax.set_xlabel(ratio if horizontal else what)
    ax.set_ylabel(what if horizontal else ratio)
    _top_legend(ax, ncol=3)
    if title is None:
        ref_data = PlotData(kind="run", source=cmp.reference.path,
                            workload=cmp.reference.workload, meta=cmp.reference.meta)
        title = figure_title(ref_data) + " | " + ", ".join(
            f"{t}={r.label}" for t, r in zip(tags, cmp.runs, strict=True))
    _set_title(ax, title, own)
    return ax.figure


# --------------------------------------------------------------------------------------------
# Dispatch


def plot(data: Any, kind: str, ax: Any = None, *, layers: Sequence[str] | None = None,
         group: bool = False, title: str | None = None) -> Any:
    """Draw ``kind`` (one of :data:`KINDS`) for ``data``; returns the Figure.

    ``layers`` and ``group`` apply to the per-layer kinds (``energy-breakdown``, ``cycles``
    of run or granularity results); ``title`` overrides :func:`figure_title` on every kind.
    """
    funcs = {"energy-breakdown": plot_energy_breakdown, "cycles": plot_cycles,
             "granularity": plot_granularity, "pe-sweep": plot_pe_sweep}
    if kind not in funcs:
        raise PlotError(f"--kind: unknown plot kind {kind!r} (choose from {', '.join(KINDS)})")
    if kind in ("energy-breakdown", "cycles"):
        if (layers or group) and as_plot_data(data).kind == "sweep":
            raise PlotError("--layers/--group: only for run or granularity results")
        return funcs[kind](data, ax=ax, layers=layers, group=group, title=title)
    if layers or group:
        raise PlotError(f"--layers/--group: not for --kind {kind} (network totals)")
    return funcs[kind](data, ax=ax, title=title)


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
        raise PlotError(f"--kind: unknown plot kind {kind!r} (choose from {', '.join(KINDS)})")
    return save_figure(plot(results, kind, layers=layers, group=group, title=title), out_path)


__all__ = ["KINDS", "MAX_CONFIGS", "MAX_SERIES", "PlotData", "PlotError", "as_plot_data",
           "check_output_suffix", "figure_title", "group_by_stage", "load_results",
           "pareto_front", "plot", "plot_compare", "plot_cycles", "plot_energy_breakdown",
           "plot_granularity", "plot_pe_sweep", "plot_utilization", "render", "save_figure",
           "select_layers", "stage_of", "sweep_parameters"]
