"""Figures of scnn-sim results, sized for a paper column (3.5 in wide, 6-8 pt text).

Inputs (any plot function's ``data``, or ``scnn-sim plot RESULTS``):

* a ``run --json`` file or its dict (``{"workload", "layers": [record...], "totals": record}``),
  or a :class:`~scnn_sim.results.SimulationResult`;
* a ``granularity --json`` file or dict
  (``{"workload", "granularities": {"fine": {"layers": [...], "totals": {...}}, ...}}``);
* a sweep results HDF5 file (:mod:`scnn_sim.sweep`) or its DataFrame
  (:func:`scnn_sim.sweep.load_sweep_results`).

Kinds: ``energy-breakdown`` (stacked energy per component and layer, uJ), ``cycles`` (per-layer
SCNN vs oracle vs DCNN cycles; for a sweep: multiplier utilisation vs weight density, a line per
granularity), ``granularity`` (memory references, weight storage and energy normalised to
``fine``), ``pe-sweep`` (energy vs latency of a sweep's points, Pareto front highlighted;
then performance per area and energy x delay x area against chip area, :mod:`scnn_sim.area`).

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

from scnn_sim.energy import COMPONENTS
from scnn_sim.errors import ScnnSimError

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
    "#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c",
    "#ccb974"), strict=True))
SERIES_COLORS = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3",
                 "#8c8c8c", "#ccb974", "#64b5cd")
HATCHES = ("", "////", "....", "xxxx", "\\\\\\\\", "oo", "++", "--")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">")
MAX_BARS = 48


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
        For a sweep: the DataFrame of :func:`scnn_sim.sweep.load_sweep_results`.
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
    """Read a results file for plotting (``run``/``granularity`` JSON or a sweep HDF5).

    Raises
    ------
    PlotError
        Missing file, unsupported type, malformed JSON, or JSON of another shape.
    """
    p = Path(path)
    if not p.is_file():
        raise PlotError(f"{p}: no such results file")
    suffix = p.suffix.lower()
    if suffix in (".h5", ".hdf5"):
        return _from_h5(p)
    if suffix != ".json":
        raise PlotError(f"{p}: unsupported results file type {suffix or '(none)'!r}: expected "
                        f"a .json from `run --json` / `granularity --json` or a sweep .h5")
    try:
        obj = json.loads(p.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise PlotError(f"{p}: not a text JSON file") from None
    except json.JSONDecodeError as exc:
        raise PlotError(f"{p}:{exc.lineno}: malformed JSON ({exc.msg})") from None
    return as_plot_data(obj, source=str(p))


def _from_h5(p: Path) -> PlotData:
    try:
        import h5py

        with h5py.File(p, "r") as f:
            fmt = f.attrs.get("format")
    except OSError as exc:
        raise PlotError(f"{p}: not a readable HDF5 file ({exc})") from None
    if isinstance(fmt, bytes):
        fmt = fmt.decode()
    from scnn_sim.sweep import FORMAT, load_sweep_results

    if fmt == "scnn-sim-results":
        raise PlotError(f"{p}: a `run --h5` file; plot reads `run --json` output or sweep "
                        f"results (scnn-sim sweep)")
    if fmt != FORMAT:
        raise PlotError(f"{p}: not an scnn-sim sweep results file (format {fmt!r})")
    df = load_sweep_results(p)
    return PlotData(kind="sweep", source=str(p), frame=df)


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
    if hasattr(data, "columns") and hasattr(data, "loc"):
        need = {"point_id", "layer", "status"}
        missing = need - set(data.columns)
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


def _sweep_ok_totals(d: PlotData) -> Any:
    df = d.frame
    tot = df[(df["layer"] == "total") & (df["status"] == "ok")]
    if tot.empty:
        raise PlotError(f"{d.source}: the sweep has no completed points")
    if "point_index" in tot:
        tot = tot.sort_values("point_index", kind="stable")
    return tot


def _varying(tot: Any, cols: Sequence[str]) -> list[str]:
    return [c for c in cols if c in tot and tot[c].astype(str).nunique() > 1]


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        if math.isnan(v):
            return "own"
        return f"{v:g}"
    return str(v)


def _point_labels(tot: Any) -> list[str]:
    lab = "label" if "label" in tot and (tot["label"] != "").all() else "pe_config"
    cols = [lab] + [c for c in _varying(tot, ["workload", "granularity", "density", "seed"])]
    if len(cols) == 1 and tot[lab].nunique() < len(tot):
        cols.append("point_id")
    return [", ".join(_fmt(r[c])[:8] if c == "point_id" else _fmt(r[c]) for c in cols)
            for _, r in tot.iterrows()]


def _clock_ghz(row: Any) -> float:
    try:
        return float(json.loads(row["arch_json"])["clock_ghz"])
    except (KeyError, TypeError, ValueError):
        return 1.0


# --------------------------------------------------------------------------------------------
# energy-breakdown


@_styled
def plot_energy_breakdown(data: Any, ax: Any = None) -> Any:
    """Stacked energy per component (COMPONENTS order) for every layer, in uJ.

    Parameters
    ----------
    data
        Run or granularity results (a bar group per layer with one hatched bar per
        granularity), or a sweep (one bar per completed point, its network total).
    ax
        Axes to draw into (default: a new column-width figure).

    Returns
    -------
    matplotlib.figure.Figure
    """
    d = as_plot_data(data)
    if d.kind == "sweep":
        tot = _sweep_ok_totals(d)
        if len(tot) > MAX_BARS:
            raise PlotError(f"{d.source}: {len(tot)} points are too many bars; filter the "
                            f"DataFrame (load_sweep_results) and pass it to "
                            f"plot_energy_breakdown")
        names = _point_labels(tot)
        series = {"": [{"name": n, "energy_pj": {c: r.get(f"energy_pj.{c}", 0.0)
                                                 for c in COMPONENTS}}
                       for n, (_, r) in zip(names, tot.iterrows(), strict=True)]}
        xlabel = "sweep point"
    else:
        series = {g: run["layers"] for g, run in d.runs.items()}
        xlabel = "layer"
    names = [str(r["name"]) for r in next(iter(series.values()))]
    labels, prefix = _short_labels(names)
    longest = max(len(x) for x in labels)
    ax = _axes(ax, height=2.6 if longest <= 12 else 3.4)
    n_groups, n_series = len(labels), len(series)
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
            bars = ax.bar(x, vals, width * 0.92, bottom=bottom, color=COMPONENT_COLORS[comp],
                          hatch=HATCHES[s % len(HATCHES)], edgecolor="white" if s == 0
                          else "black", linewidth=0.2 if s else 0.3,
                          label=comp.replace("_", " ") if s == 0 else "_nolegend_")
            if s == 0:
                handles.append(bars)
            bottom = bottom + np.nan_to_num(vals)
    if n_series > 1:
        from matplotlib.patches import Patch

        handles += [Patch(facecolor="white", edgecolor="black", linewidth=0.4,
                          hatch=HATCHES[s % len(HATCHES)], label=g)
                    for s, g in enumerate(series)]
    _xticks(ax, labels)
    ax.set_xlabel(f"{xlabel} ({prefix}...)" if prefix else xlabel)
    ax.set_ylabel("energy [uJ]")
    ax.set_xlim(-0.6, n_groups - 0.4)
    _top_legend(ax, handles, ncol=5)
    return ax.figure


# --------------------------------------------------------------------------------------------
# cycles / utilization


@_styled
def plot_cycles(data: Any, ax: Any = None, granularity: str | None = None) -> Any:
    """Per-layer SCNN cycles vs the oracle (products / multipliers) vs DCNN, grouped bars.

    A sweep is drawn as :func:`plot_utilization` instead.

    Parameters
    ----------
    data
        Run or granularity results (``granularity`` picks one; default ``fine`` or the
        first), or a sweep.
    ax
        Axes to draw into.

    Returns
    -------
    matplotlib.figure.Figure
    """
    d = as_plot_data(data)
    if d.kind == "sweep":
        return plot_utilization(d, ax=ax)
    if granularity is None:
        granularity = "fine" if "fine" in d.runs else next(iter(d.runs))
    if granularity not in d.runs:
        raise PlotError(f"{d.source}: no granularity {granularity!r} "
                        f"(have {', '.join(d.runs)})")
    recs = d.runs[granularity]["layers"]
    where = d.source
    series = {
        "SCNN": [_num(_get(r, "cycles", where)) for r in recs],
        "oracle": [_num(_get(r, "oracle_cycles", where)) for r in recs],
        "DCNN": [_num(_get(r, "dcnn.cycles", where)) for r in recs],
    }
    labels, prefix = _short_labels([str(r["name"]) for r in recs])
    ax = _axes(ax, height=2.4 if max(len(x) for x in labels) <= 12 else 3.0)
    allv = np.array([v for vals in series.values() for v in vals], dtype=float)
    div, unit = _scale(allv, "")
    width = 0.8 / 3
    colors = ("#4c72b0", "#8c8c8c", "#c44e52")
    for s, (name, vals) in enumerate(series.items()):
        x = np.arange(len(labels)) + (s - 1) * width
        ax.bar(x, np.array(vals) / div, width * 0.95, label=name, color=colors[s],
               linewidth=0)
    _xticks(ax, labels)
    ax.set_xlabel(f"layer ({prefix}...)" if prefix else "layer")
    ax.set_ylabel(f"latency [{unit}cycles]")
    ax.set_xlim(-0.6, len(labels) - 0.4)
    title = d.workload + (f" ({granularity})" if granularity else "")
    _top_legend(ax, ncol=3)
    if title:
        ax.set_title(title, loc="left", fontsize=7, pad=14)
    return ax.figure


@_styled
def plot_utilization(data: Any, ax: Any = None) -> Any:
    """Multiplier utilisation (network total) vs weight density, one line per granularity.

    Points with the same density and series (e.g. several seeds) are averaged. When other
    parameters vary (PE configuration, workload), each combination is its own line.

    Parameters
    ----------
    data
        A sweep (file or DataFrame) with a ``densities`` axis.
    ax
        Axes to draw into.

    Returns
    -------
    matplotlib.figure.Figure
    """
    d = as_plot_data(data)
    if d.kind != "sweep":
        raise PlotError(f"{d.source}: utilisation vs density needs sweep results")
    tot = _sweep_ok_totals(d)
    if tot["density"].isna().all():
        raise PlotError(f"{d.source}: the sweep has no density axis (give `densities:` "
                        f"numbers in the spec)")
    tot = tot[tot["density"].notna()]
    extra = _varying(tot, ["workload", "label" if "label" in tot else "pe_config",
                           "pe_config"])
    extra = list(dict.fromkeys(extra))
    group_cols = ["granularity", *extra]
    ax = _axes(ax, height=2.4)
    for i, (key, grp) in enumerate(tot.groupby(group_cols, sort=False)):
        key = key if isinstance(key, tuple) else (key,)
        g = grp.groupby("density")["multiplier_utilization"].mean().sort_index()
        ax.plot(g.index * 100, g.values * 100, marker=MARKERS[i % len(MARKERS)],
                color=SERIES_COLORS[i % len(SERIES_COLORS)],
                label=", ".join(_fmt(k) or "default" for k in key))
    ax.set_xlabel("weight density [%]")
    ax.set_ylabel("multiplier utilisation [%]")
    ax.set_ylim(bottom=0)
    ax.legend(loc="best")
    return ax.figure


# --------------------------------------------------------------------------------------------
# granularity


def _granularity_metrics(rec: Mapping[str, Any], where: str) -> dict[str, float]:
    acc = rec.get("accumulator_accesses") or {}
    a = _get(rec, "accesses", where)
    sram = sum(_num(a.get(k, 0)) for k in ("iaram_reads", "oaram_writes", "weight_fifo_reads",
                                           "weight_fifo_writes"))
    dram = sum(_num(v) for k, v in a.items() if k.startswith("dram_"))
    weight_bits = sum(_num(v) for k, v in a.items() if k.startswith("dram_read_bits_weight"))
    return {
        "acc. per-product": _num(acc.get("per_product")),
        "acc. same-addr.": _num(acc.get("same_address")),
        "acc. wide": _num(acc.get("wide")),
        "SRAM buffers": sram,
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
def plot_granularity(data: Any, ax: Any = None) -> Any:
    """Memory references, weight storage and energy of each granularity, relative to fine.

    Categories (network totals): accumulator accesses under the per-product, same-address and
    wide models, SRAM buffer accesses (IARAM reads, OARAM writes, weight FIFO reads and
    writes), DRAM traffic (bits), weight storage (DRAM weight value + index bits) and energy.
    Categories not counted (``count_merges`` off) are left empty.

    Parameters
    ----------
    data
        Granularity results, or a sweep with one completed point per granularity.
    ax
        Axes to draw into.

    Returns
    -------
    matplotlib.figure.Figure
    """
    d = as_plot_data(data)
    if d.kind == "sweep":
        tot = _sweep_ok_totals(d)
        if tot["granularity"].duplicated().any():
            raise PlotError(f"{d.source}: several points per granularity; filter the sweep "
                            f"to one configuration (load_sweep_results) first")
        per = {str(r["granularity"]): _flat_to_record(r) for _, r in tot.iterrows()}
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


def _area_mm2(row: Any) -> float:
    """Chip area of a sweep point: its ``area_mm2.total`` column, or (sweep files written
    before the area model) the default area table applied to its ``arch_json``."""
    value = row.get("area_mm2.total") if hasattr(row, "get") else None
    if value is not None and not (isinstance(value, float) and math.isnan(value)):
        return float(value)
    from scnn_sim.arch import arch_from_dict
    from scnn_sim.area import area_model

    try:
        arch = arch_from_dict(json.loads(row["arch_json"]), where="arch_json")
    except (KeyError, TypeError, ValueError) as exc:
        raise PlotError(f"point {row.get('point_id', '?')}: no area_mm2.total and no "
                        f"readable arch_json ({exc})") from None
    return area_model(arch).total


def _pe_sweep_series(tot: Any) -> tuple[str, list[tuple[Any, Any]]]:
    """(label column, [(series key, rows)]) of the pe-sweep panels."""
    lab = "label" if "label" in tot and (tot["label"] != "").all() else "pe_config"
    other = _varying(tot, ["workload", "granularity", "density", "seed"])
    if tot[lab].nunique() > 1:
        # Series = everything but the PE configuration; points labelled by PE configuration.
        groups = list(tot.groupby(other, sort=False)) if other else [((), tot)]
    else:
        # One PE configuration: a single series, points labelled by what varies instead.
        tot["_label"] = [", ".join(_fmt(r[c]) for c in other) or str(r[lab])
                         for _, r in tot.iterrows()]
        lab, groups = "_label", [((str(tot[lab].iloc[0]),), tot)]
    return lab, groups


def _series_style(i: int) -> tuple[str, str]:
    return SERIES_COLORS[i % len(SERIES_COLORS)], MARKERS[i % len(MARKERS)]


def _draw_energy_latency(ax: Any, lab: str, groups: list[tuple[Any, Any]]) -> None:
    for i, (key, grp) in enumerate(groups):
        key = key if isinstance(key, tuple) else (key,)
        color, marker = _series_style(i)
        name = ", ".join(_fmt(k) for k in key) or "sweep points"
        x, y = grp["_latency_ms"].to_numpy(), grp["_energy_uj"].to_numpy()
        ax.scatter(x, y, s=12, marker=marker, color=color, alpha=0.55,
                   linewidths=0, label=name, zorder=2)
        front = pareto_front(x, y)
        ax.plot(x[front], y[front], color=color, linewidth=0.9, drawstyle="steps-post",
                zorder=3, label="_nolegend_")
        ax.scatter(x[front], y[front], s=22, marker=marker,
                   facecolors=color, edgecolors="black", linewidths=0.6, zorder=4,
                   label="_nolegend_")
        show = range(len(grp)) if len(grp) <= 12 else front
        labels = grp[lab].astype(str).to_numpy()
        for j in show:
            ax.annotate(labels[j], (x[j], y[j]), xytext=(3, 2), textcoords="offset points",
                        fontsize=5.5, color="black" if j in front else "0.35", zorder=5)
    from matplotlib.lines import Line2D

    handles, _ = ax.get_legend_handles_labels()
    handles.append(Line2D([], [], color="black", marker="o", markerfacecolor="white",
                          markeredgecolor="black", linewidth=0.9, markersize=4,
                          label="Pareto front"))
    ax.set_xlabel("latency [ms]")
    ax.set_ylabel("energy [uJ]")
    ax.margins(x=0.12, y=0.1)
    ax.legend(handles=handles, loc="best")


def _draw_vs_area(ax: Any, lab: str, groups: list[tuple[Any, Any]], column: str,
                  ylabel: str, names_on_top: bool) -> None:
    """One metric of every point against its chip area (log x), a line per series; dotted
    guides at each configuration's area, named on a top axis when ``names_on_top``."""
    names: dict[float, list[str]] = {}
    for i, (_, grp) in enumerate(groups):
        color, marker = _series_style(i)
        g = grp.sort_values("_area_mm2", kind="stable")
        x, y = g["_area_mm2"].to_numpy(), g[column].to_numpy()
        ax.plot(x, y, color=color, marker=marker, linewidth=0.7, markersize=3.5, zorder=3)
        for xj, text in zip(x, g[lab].astype(str), strict=True):
            key = round(float(xj), 6)
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


@_styled
def plot_pe_sweep(data: Any, ax: Any = None, area: bool = True) -> Any:
    """Energy vs latency of every completed point of a sweep (Pareto front highlighted), and
    the same points per chip area (:mod:`scnn_sim.area`).

    Panels: (a) energy vs latency; (b) performance per area (inferences per second per mm2,
    higher is better) vs chip area; (c) energy x delay x area (uJ x ms x mm2, lower is
    better) vs chip area. Points are labelled by PE configuration (the spec's ``label`` when
    given, else ``PEs x (F x I)``). Points of different workloads, granularities, densities or
    seeds are separate series (colour and marker), each with its own front. A sweep of a
    single PE configuration is one series whose points are labelled by what varies.

    Parameters
    ----------
    data
        A sweep results file or DataFrame.
    ax
        One axes: draw panel (a) only into it. A sequence of three axes: draw (a), (b), (c).
    area
        With ``ax=None``: also draw the per-area panels (default); False gives panel (a) only.

    Returns
    -------
    matplotlib.figure.Figure
    """
    d = as_plot_data(data)
    if d.kind != "sweep":
        raise PlotError(f"{d.source}: the pe-sweep plot needs sweep results (scnn-sim sweep)")
    tot = _sweep_ok_totals(d).copy()
    tot["_latency_ms"] = [r["cycles"] / (_clock_ghz(r) * 1e9) * 1e3 for _, r in tot.iterrows()]
    tot["_energy_uj"] = tot["energy_pj.total"] / 1e6
    many = ax is not None and isinstance(ax, (Sequence, np.ndarray))
    if (ax is None and not area) or (ax is not None and not many):
        target = _axes(ax, height=2.6)
        _draw_energy_latency(target, *_pe_sweep_series(tot))
        return target.figure
    if ax is None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        fig = Figure(figsize=(COLUMN_WIDTH, 5.6), layout="constrained")
        FigureCanvasAgg(fig)
        axes = list(fig.subplots(3, 1, height_ratios=(1.35, 1, 1)))
        axes[2].sharex(axes[1])
    elif np.size(ax) != 3:
        raise PlotError(f"ax: the pe-sweep plot draws into one axes or three, got {np.size(ax)}")
    else:
        axes = list(np.ravel(ax))
    tot["_area_mm2"] = [_area_mm2(r) for _, r in tot.iterrows()]
    tot["_perf_per_area"] = 1e3 / tot["_latency_ms"] / tot["_area_mm2"]
    tot["_edap"] = tot["_energy_uj"] * tot["_latency_ms"] * tot["_area_mm2"]
    lab, groups = _pe_sweep_series(tot)
    _draw_energy_latency(axes[0], lab, groups)
    _draw_vs_area(axes[1], lab, groups, "_perf_per_area", "perf. / area\n[1/(s mm2)]",
                  names_on_top=True)
    _draw_vs_area(axes[2], lab, groups, "_edap", "energy x delay x area\n[uJ ms mm2]",
                  names_on_top=False)
    axes[2].set_xlabel("chip area [mm2]")
    for a, letter in zip(axes, "abc", strict=True):
        a.text(-0.02, 1.0, f"({letter})", transform=a.transAxes, ha="right", va="bottom",
               fontsize=7)
    return axes[0].figure


# --------------------------------------------------------------------------------------------
# Dispatch


def plot(data: Any, kind: str, ax: Any = None) -> Any:
    """Draw ``kind`` (one of :data:`KINDS`) for ``data``; returns the Figure."""
    funcs = {"energy-breakdown": plot_energy_breakdown, "cycles": plot_cycles,
             "granularity": plot_granularity, "pe-sweep": plot_pe_sweep}
    if kind not in funcs:
        raise PlotError(f"--kind: unknown plot kind {kind!r} (choose from {', '.join(KINDS)})")
    return funcs[kind](data, ax=ax)


def render(results: Any, kind: str, out_path: str | os.PathLike) -> Path:
    """Plot ``results`` (a path or data) as ``kind`` and save to a .png, .pdf or .svg file.

    Returns
    -------
    pathlib.Path
        The written file.

    Raises
    ------
    PlotError
        Unknown kind, unsupported output type, or unsuitable results.
    """
    out = Path(out_path)
    if out.suffix.lower() not in OUTPUT_SUFFIXES:
        raise PlotError(f"{out}: output must end in {', '.join(OUTPUT_SUFFIXES)}")
    if kind not in KINDS:
        raise PlotError(f"--kind: unknown plot kind {kind!r} (choose from {', '.join(KINDS)})")
    fig = plot(results, kind)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.tmp{out.suffix}")
    try:
        fig.savefig(tmp, dpi=300, bbox_inches="tight", pad_inches=0.02)
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            tmp.unlink()
    return out


__all__ = ["KINDS", "PlotData", "PlotError", "as_plot_data", "load_results", "pareto_front",
           "plot", "plot_cycles", "plot_energy_breakdown", "plot_granularity", "plot_pe_sweep",
           "plot_utilization", "render"]
