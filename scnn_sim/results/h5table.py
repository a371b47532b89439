"""The one HDF5 layout of result tables, written by ``run --h5`` and ``sweep --export FILE.h5``.

Both producers hold the same per-layer records, flattened to one row per layer (dotted keys:
``energy_pj.total``, ``accesses.dram_read_bits_weight_values``, ...) plus a ``total`` row;
a sweep adds one block of such rows per point, with the point's configuration in front.
One writer (:func:`write_table`) and one reader (:func:`read_table`) serve both.

Layout (format ``scnn-sim-table``, version 1)
---------------------------------------------
Root attributes:

=====================  ======================================================================
``format``             ``"scnn-sim-table"``
``format_version``     ``1`` (:data:`FORMAT_VERSION`; raised when a column or attribute
                       changes meaning or disappears, not when one is added)
``kind``               ``"run"`` (one simulation) or ``"sweep"`` (a sweep store's table)
``n_rows``             rows of the table
``scnn_sim_version``   version of the writer
``created_at``         UTC time of writing, ISO 8601
``provenance_json``    JSON: how the rows were made. ``run``: the run's provenance
                       (:func:`scnn_sim.results.provenance.provenance`: architecture, energy table
                       with its values, options, area). ``sweep``: the store it was
                       exported from, the store's format and version, and the spec
=====================  ======================================================================

Group ``/rows``: one 1-D dataset of length ``n_rows`` per column, in column order. Numeric
columns are ``float64`` (``NaN`` = missing; booleans as 0/1); text columns are variable-length
UTF-8 strings (``""`` = missing; lists and dicts as JSON text). Column ``layer`` names the
layer (``total`` for network totals). The metric columns are the keys of
:meth:`scnn_sim.results.records.SimulationResult.table_rows` (every flat record key and the
configuration's area ``area_mm2.*``); a sweep table has its configuration columns first
(:mod:`scnn_sim.sweep`).

Older layouts are still read: the ``run --h5`` file of earlier versions (format
``scnn-sim-results`` version 1: group ``/layers`` with a ``name`` column, attribute
``meta_json``) and the sweep export (format ``scnn-sim-sweep`` version 1: group ``/rows``,
attribute ``n_committed``). Anything else -- another application's HDF5, a newer version, a
truncated or damaged file -- is refused with one line naming the file.
"""

from __future__ import annotations

import io
import json
import math
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from scnn_sim import __version__
from scnn_sim.errors import ScnnSimError
from scnn_sim.inputs.readers import as_path, parse_json, stuck_guard

#: Format name and version of the layout above.
FORMAT = "scnn-sim-table"
FORMAT_VERSION = 1
#: What a table holds.
KINDS = ("run", "sweep")
#: Older layouts still read: format name -> (kind, highest version read).
LEGACY_FORMATS = {"scnn-sim-results": ("run", 1), "scnn-sim-sweep": ("sweep", 1)}
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"

__all__ = ["FORMAT", "FORMAT_VERSION", "KINDS", "ResultTable", "TableError", "columns_of",
           "is_hdf5", "read_table", "table_frame", "unflatten", "write_table"]


class TableError(ScnnSimError):
    """A result table that cannot be written or read (foreign, newer, damaged)."""


# --------------------------------------------------------------------------------------------
# Rows <-> typed columns


def _is_text(v: Any) -> bool:
    return isinstance(v, (str, list, tuple, dict))


def _to_num(v: Any) -> float:
    if v is None:
        return math.nan
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def _to_str(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, str):
        return v
    if isinstance(v, (list, tuple, dict)):
        return json.dumps(v)
    return str(v)


def columns_of(rows: Sequence[Mapping[str, Any]]) -> dict[str, np.ndarray]:
    """Rows -> typed columns, in first-seen key order.

    A column is text (object array of ``str``; missing = ``""``; lists and dicts as JSON) if
    any of its values is text, a list or a dict; otherwise ``float64`` (missing = ``NaN``,
    booleans 0/1).
    """
    keys = list(dict.fromkeys(k for r in rows for k in r))
    cols: dict[str, np.ndarray] = {}
    for k in keys:
        vals = [r.get(k) for r in rows]
        if any(_is_text(v) for v in vals):
            cols[k] = np.array([_to_str(v) for v in vals], dtype=object)
        else:
            cols[k] = np.array([_to_num(v) for v in vals], dtype="f8")
    return cols


def unflatten(row: Mapping[str, Any]) -> dict[str, Any]:
    """A flat row (dotted keys) -> the nested record; ``NaN`` becomes ``None``.

    ``{"energy_pj.total": 5.0, "layer": "c1"}`` -> ``{"energy_pj": {"total": 5.0},
    "layer": "c1"}``.
    """
    out: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, float) and math.isnan(value):
            value = None
        node = out
        parts = str(key).split(".")
        for p in parts[:-1]:
            nxt = node.setdefault(p, {})
            if not isinstance(nxt, dict):  # "a" and "a.b" both present: keep the scalar
                break
            node = nxt
        else:
            node[parts[-1]] = value
    return out


def table_frame(columns: Mapping[str, np.ndarray]) -> Any:
    """Columns as a pandas DataFrame, or a numpy structured array without pandas."""
    try:
        import pandas as pd
    except ImportError:
        n = len(next(iter(columns.values()))) if columns else 0
        arr = np.empty(n, dtype=[(k, v.dtype) for k, v in columns.items()])
        for k, v in columns.items():
            arr[k] = v
        return arr
    return pd.DataFrame(dict(columns))


# --------------------------------------------------------------------------------------------
# Writing


def write_table(path: str | os.PathLike[str], rows: Sequence[Mapping[str, Any]] | None = None, *,
                kind: str, provenance: Mapping[str, Any],
                columns: Mapping[str, np.ndarray] | None = None) -> int:
    """Write a result table in the layout of this module, atomically.

    Parameters
    ----------
    path
        The ``.h5`` file (written to a temporary file, then renamed: whole or absent).
    rows
        The table as flat dicts (:func:`columns_of` types them); or give ``columns``.
    kind
        ``"run"`` or ``"sweep"`` (:data:`KINDS`).
    provenance
        JSON-serialisable description of how the rows were made (root ``provenance_json``).
    columns
        The table as typed columns (``float64`` or object arrays of ``str``), instead of
        ``rows``.

    Returns
    -------
    int
        Rows written.

    Raises
    ------
    TableError
        Unknown kind or columns of different lengths.
    OutputError
        The file cannot be written.
    """
    import h5py

    from scnn_sim.outputs import atomic_write_bytes

    if kind not in KINDS:
        raise TableError(f"{path}: unknown table kind {kind!r} (one of {', '.join(KINDS)})")
    if columns is None:
        columns = columns_of(rows or [])
    lengths = {len(c) for c in columns.values()}
    if len(lengths) > 1:
        raise TableError(f"{path}: columns of different lengths {sorted(lengths)}")
    n = lengths.pop() if lengths else 0
    buf = io.BytesIO()
    with h5py.File(buf, "w", track_order=True) as f:
        f.attrs["format"] = FORMAT
        f.attrs["format_version"] = FORMAT_VERSION
        f.attrs["kind"] = kind
        f.attrs["n_rows"] = n
        f.attrs["scnn_sim_version"] = __version__
        f.attrs["created_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        f.attrs["provenance_json"] = json.dumps(provenance, default=json_default)
        g = f.create_group("rows", track_order=True)
        for k, c in columns.items():
            if np.asarray(c).dtype.kind == "O":
                g.create_dataset(k, data=np.asarray(c, dtype=object),
                                 dtype=h5py.string_dtype())
            else:
                g.create_dataset(k, data=np.asarray(c, dtype="f8"))
    atomic_write_bytes(path, buf.getvalue())  # the output gate: OutputError if unwritable
    return n


def json_default(v: Any) -> Any:
    """``json.dumps`` default for numpy scalars and arrays (anything else as text)."""
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    return str(v)


# --------------------------------------------------------------------------------------------
# Reading


@dataclass
class ResultTable:
    """A result table read back by :func:`read_table`.

    Attributes
    ----------
    kind
        ``"run"`` or ``"sweep"``.
    columns
        Column name -> ``float64`` array or object array of ``str``, in file order.
    provenance
        The root ``provenance_json`` (for older files: what they recorded).
    format, format_version
        Of the file as written (an older layout keeps its own name and version).
    """

    path: str
    kind: str
    columns: dict[str, np.ndarray]
    provenance: dict[str, Any] = field(default_factory=dict)
    format: str = FORMAT
    format_version: int = FORMAT_VERSION
    scnn_sim_version: str = ""

    @property
    def n_rows(self) -> int:
        """Rows of the table."""
        return len(next(iter(self.columns.values()))) if self.columns else 0

    def rows(self) -> list[dict[str, Any]]:
        """The rows as flat dicts (Python floats and strings)."""
        names = list(self.columns)
        cols = [self.columns[k].tolist() for k in names]
        return [dict(zip(names, vals, strict=True)) for vals in zip(*cols, strict=True)]

    def records(self) -> list[dict[str, Any]]:
        """The rows as nested records (:func:`unflatten`) with the layer name as ``name``."""
        out = []
        for r in self.rows():
            rec = unflatten(r)
            rec["name"] = rec.pop("layer", rec.get("name"))
            out.append(rec)
        return out

    def frame(self) -> Any:
        """:func:`table_frame` of the columns (DataFrame, or structured array)."""
        return table_frame(self.columns)


def is_hdf5(path: str | os.PathLike[str]) -> bool:
    """Whether the file starts with the HDF5 signature (False when unreadable)."""
    try:
        with open(path, "rb") as fh:
            return fh.read(len(HDF5_MAGIC)) == HDF5_MAGIC
    except OSError:
        return False


def _text(v: Any) -> Any:
    return v.decode() if isinstance(v, bytes) else v


def read_table(path: str | os.PathLike[str], kind: str | None = None) -> ResultTable:
    """Read a result table (this layout, or an older ``run --h5`` / sweep export).

    Parameters
    ----------
    path
        The HDF5 file.
    kind
        ``"run"`` or ``"sweep"`` to accept only that kind (the error then says what the file
        is instead); ``None`` accepts both.

    Returns
    -------
    ResultTable

    Raises
    ------
    TableError
        One line naming the file: missing, not HDF5, damaged, of another application, of a
        newer format version, or of the other kind.
    """
    import h5py

    p = as_path(path, "results table", TableError)
    if not p.is_file():
        raise TableError(f"{p}: no such results file")
    if not is_hdf5(p):
        raise TableError(f"{p}: not an HDF5 file (no HDF5 signature)")
    try:
        with stuck_guard(str(p)), h5py.File(p, "r", locking=False) as f:
            return _read(f, p, kind)
    except TableError:
        raise
    except (OSError, KeyError, ValueError, TypeError) as exc:
        msg = " ".join(str(exc).split())
        raise TableError(f"{p}: damaged or unreadable results table ({msg})") from None


_WANT = {"run": "a `scnn-sim run --h5` table", "sweep": "sweep results"}


def _read(f: Any, p: Path, want: str | None) -> ResultTable:
    import h5py

    fmt = _text(f.attrs.get("format"))
    version = int(f.attrs.get("format_version", 0))
    if fmt == FORMAT:
        kind, newest = _text(f.attrs.get("kind")), FORMAT_VERSION
    elif fmt in LEGACY_FORMATS:
        kind, newest = LEGACY_FORMATS[fmt]
    else:
        raise TableError(f"{p}: not an scnn-sim results table (format {fmt!r}; expected "
                         f"{FORMAT!r})")
    if version > newest:
        raise TableError(f"{p}: {fmt} format version {version} is newer than this scnn-sim "
                         f"reads ({newest}); upgrade scnn-sim")
    if kind not in KINDS:
        raise TableError(f"{p}: {fmt} version {version}: unknown table kind {kind!r}")
    if want is not None and kind != want:
        what = "not an scnn-sim sweep results file" if want == "sweep" \
            else "not a `scnn-sim run` result"
        raise TableError(f"{p}: {what} ({_WANT[kind]}, {fmt} version {version})")
    group = "layers" if fmt == "scnn-sim-results" else "rows"
    if group not in f or not isinstance(f[group], h5py.Group):
        raise TableError(f"{p}: {fmt} version {version}: no /{group} group (damaged file)")
    g = f[group]
    if fmt == FORMAT:
        n = int(f.attrs["n_rows"])
        provenance = parse_json(_text(f.attrs["provenance_json"]), f"{p}:provenance_json",
                                TableError)
    elif fmt == "scnn-sim-sweep":
        n = int(g.attrs["n_committed"])
        spec = _text(f.attrs.get("spec_json"))
        provenance = {"spec": parse_json(spec, f"{p}:spec_json", TableError)} if spec else {}
    else:
        n = None
        provenance = parse_json(_text(f.attrs.get("meta_json", "{}")), f"{p}:meta_json",
                                TableError)
    cols: dict[str, np.ndarray] = {}
    for k, ds in g.items():
        length = ds.shape[0] if isinstance(ds, h5py.Dataset) and ds.ndim == 1 else -1
        if n is None:
            n = length
        # The old sweep layout's datasets could be longer than its committed rows.
        if length < 0 or (length < n if fmt == "scnn-sim-sweep" else length != n):
            shape = getattr(ds, "shape", "a group")
            raise TableError(f"{p}: /{group}/{k} has shape {shape}, expected ({n},) "
                             f"(damaged file)")
        key = "layer" if (fmt == "scnn-sim-results" and k == "name") else k
        if ds.dtype.kind == "f":
            cols[key] = ds[:n].astype("f8")
        else:
            cols[key] = np.array(ds.asstr()[:n], dtype=object)
    return ResultTable(path=str(p), kind=kind, columns=cols, provenance=provenance,
                       format=fmt, format_version=version,
                       scnn_sim_version=str(_text(f.attrs.get("scnn_sim_version", ""))))
