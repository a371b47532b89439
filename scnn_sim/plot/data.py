"""Plot inputs: read and check results once, into :class:`PlotData`; the figure title.

Accepted: a ``run --json`` file or its dict, or a
:class:`~scnn_sim.results.records.SimulationResult`; a ``granularity --json`` file or dict; a
``run --h5`` result table (:mod:`scnn_sim.results.h5table`); a sweep store, its HDF5 export,
or its DataFrame (:func:`scnn_sim.sweep.load_sweep_results`).

This is the one module of :mod:`scnn_sim.plot` that knows how a result is stored: a result
object, a typed record (attributes) or a dict (keys) is turned into plain mappings here
(:func:`as_record`, :func:`as_result_mapping`), and the figure modules read records only
through :func:`get`, :func:`num` and :func:`table_rows`.

Plotting never re-prices or recomputes: every number drawn is a field of the records (energy
by component, memory references, area) and every title word is from their provenance
(workload, density, granularity, energy table). What the results do not say is shown as
``unknown``, never guessed.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from scnn_sim.errors import ScnnSimError
from scnn_sim.results.tables import table_records


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
# Reading records


#: What a title shows for a fact (workload, density, energy table) the results do not record.
UNKNOWN = "unknown"


def as_record(rec: Any) -> dict[str, Any] | None:
    """A layer or totals record as a plain dict, whatever carries it: a mapping, a
    :class:`~scnn_sim.results.records.LayerResult` (``.record``) or a typed record (a msgspec
    Struct, read by attribute); None for anything else."""
    if isinstance(rec, Mapping):
        return dict(rec)
    inner = getattr(rec, "record", None)
    if isinstance(inner, Mapping):
        return dict(inner)
    import msgspec

    if isinstance(rec, msgspec.Struct):
        out = msgspec.to_builtins(rec)
        return out if isinstance(out, dict) else None
    return None


def as_result_mapping(data: Any) -> Any:
    """A result object (:class:`~scnn_sim.results.records.SimulationResult`, a typed result
    Struct) as its documented JSON structure; anything else unchanged."""
    if hasattr(data, "to_dict") and hasattr(data, "totals") and hasattr(data, "meta"):
        return data.to_dict()  # SimulationResult
    import msgspec

    if isinstance(data, msgspec.Struct):
        return msgspec.to_builtins(data)
    return data


def get(rec: Mapping[str, Any], dotted: str, where: str) -> Any:
    """The value at ``dotted`` (``"energy_pj.total"``) of a record.

    Raises
    ------
    PlotError
        The record has no such field (named, with the layer).
    """
    node: Any = rec
    for k in dotted.split("."):
        if not isinstance(node, Mapping) or k not in node:
            raise PlotError(f"{where}: layer {rec.get('name', '?')!r} has no {dotted!r}")
        node = node[k]
    return node


def num(v: Any) -> float:
    """A record's number as float (``None``, a count not made, as NaN)."""
    return math.nan if v is None else float(v)


def table_rows(frame: Any) -> list[dict[str, Any]]:
    """The rows of a sweep table (DataFrame or structured array) as dicts."""
    return table_records(frame)


def isnan(v: Any) -> bool:
    """Whether a table value is missing (None or NaN)."""
    return v is None or (isinstance(v, float) and math.isnan(v))


def fmt(v: Any) -> str:
    """A table value as a label shows it (``0.3``, ``own`` for a missing density)."""
    if isinstance(v, float):
        if math.isnan(v):
            return "own"
        return f"{v:g}"
    return str(v)


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
    from scnn_sim.inputs.readers import as_path, read_json

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
    out = as_record(rec)
    if out is None or "name" not in out:
        raise PlotError(f"{where}: expected a layer record (a mapping with 'name', 'cycles', "
                        f"'energy_pj', ...)")
    return out


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


def _table_columns(data: Any) -> Any:
    """The column names of a sweep table (DataFrame or structured array), else None."""
    if isinstance(data, np.ndarray) and data.dtype.names:
        return data.dtype.names
    if hasattr(data, "columns") and hasattr(data, "loc"):
        return data.columns
    return None


def _from_mapping(data: Mapping[str, Any], source: str) -> PlotData:
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
    data = as_result_mapping(data)
    table_columns = _table_columns(data)
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
    return _from_mapping(data, source)


# --------------------------------------------------------------------------------------------
# Title


def _sweep_title(d: PlotData) -> str:
    rows = table_rows(d.frame)   # a DataFrame, or a structured array without pandas

    def uniq(col: str, show: Callable[[Any], str]) -> str:
        if not rows or col not in rows[0]:
            return UNKNOWN
        vals = list(dict.fromkeys(show(r[col]) for r in rows))
        return ", ".join(vals[:3]) + (" ..." if len(vals) > 3 else "")

    # The table's name as the points used it (stores of earlier versions: as the spec
    # gave it; "default" when it gave none, since the default may have changed since).
    named = list(dict.fromkeys(str(r["energy_table"]) for r in rows if r.get("energy_table")))
    energy = (", ".join(named[:3]) + (" ..." if len(named) > 3 else "") if named
              else uniq("energy", lambda v: Path(str(v)).stem if v else "default"))
    return (f"{uniq('workload', lambda v: Path(str(v)).stem)} | density "
            f"{uniq('density', lambda v: 'per-layer' if isnan(v) else fmt(v))} | energy "
            f"{energy}")


def _density_text(meta: Mapping[str, Any]) -> str:
    """The density the results record: a number, ``published``, ``per-layer`` (recorded as
    null: each layer's own), or :data:`UNKNOWN` when not recorded at all."""
    if "density" not in meta:
        return UNKNOWN
    dens = meta["density"]
    if dens is None:
        return "per-layer"
    if isinstance(dens, (int, float)) and not isinstance(dens, bool):
        return f"{float(dens):g}"
    return str(dens)  # e.g. "published" (granularity --published-densities)


def figure_title(d: PlotData, title: str | None = None) -> str:
    """``title`` if given, else ``workload | density | energy table`` of the results.

    Each part is read from the results' provenance; one they do not record (a dict built by
    hand) is shown as :data:`UNKNOWN`.
    """
    if title is not None:
        return title
    if d.kind == "sweep":
        return _sweep_title(d)
    m = d.meta
    gran = m.get("granularity")
    if d.kind == "granularity":
        gran = ", ".join(d.runs)
    parts = [d.workload or UNKNOWN,
             f"density {_density_text(m)}" + (f" ({gran})" if gran else ""),
             f"energy {m.get('energy_table') or UNKNOWN}"]
    return " | ".join(parts)
