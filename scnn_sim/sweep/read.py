"""Reading the committed results table of a sweep store or of its HDF5 export."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from scnn_sim.errors import ScnnSimError
from scnn_sim.sweep.store import FORMAT, SweepStore, _sniff

#: HDF5 export layout (also the results file of scnn-sim before the SQLite store; still read).
H5_FORMAT_VERSION = 1


def _check_format(f: Any, path: Path) -> None:
    fmt = f.attrs.get("format")
    if isinstance(fmt, bytes):
        fmt = fmt.decode()
    if fmt != FORMAT or "rows" not in f:
        raise ScnnSimError(f"{path}: not an scnn-sim sweep results file (format {fmt!r})")
    ver = int(f.attrs.get("format_version", 0))
    if ver > H5_FORMAT_VERSION:
        raise ScnnSimError(f"{path}: sweep file format version {ver} is newer than this "
                           f"scnn-sim reads ({H5_FORMAT_VERSION})")


def _read_h5_columns(path: Path) -> dict[str, np.ndarray]:
    """Columns of an HDF5 export (or a results file of an older scnn-sim)."""
    import h5py

    try:
        with h5py.File(path, "r", locking=False) as f:
            _check_format(f, path)
            g = f["rows"]
            n = int(g.attrs["n_committed"])
            cols: dict[str, np.ndarray] = {}
            for k, ds in g.items():
                if ds.dtype.kind == "f":
                    cols[k] = ds[:n].astype("f8")
                else:
                    cols[k] = np.array(ds.asstr()[:n], dtype=object)
    except (OSError, KeyError) as exc:
        raise ScnnSimError(f"{path}: not a readable sweep results file ({exc})") from None
    return cols


def read_sweep_columns(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The committed columns of a sweep store (SQLite) or of its HDF5 export.

    Raises
    ------
    ScnnSimError
        Missing, foreign, truncated or corrupt file (one line).
    """
    p = Path(path)
    if not p.is_file():
        raise ScnnSimError(f"{p}: no such sweep results file")
    try:
        kind = _sniff(p)
    except OSError as exc:
        raise ScnnSimError(f"{p}: cannot read ({exc.strerror or exc})") from None
    if kind == "hdf5":
        return _read_h5_columns(p)
    if kind == "sqlite":
        return SweepStore(p).read_columns()
    raise ScnnSimError(f"{p}: not an scnn-sim sweep results file (neither an SQLite sweep "
                       f"store nor its HDF5 export)")


def load_sweep_results(path: str | os.PathLike):
    """Read the committed rows of a sweep store (or of its HDF5 export).

    Parameters
    ----------
    path
        The SQLite store written by :func:`run_sweep`, or an HDF5 file of
        :func:`export_sweep` (also the results files of older scnn-sim versions).

    Returns
    -------
    pandas.DataFrame or numpy.ndarray
        With pandas installed, a DataFrame with one row per (point, layer) plus a ``total``
        row per point (column ``layer``) and the columns described in :mod:`scnn_sim.sweep`
        (numeric columns ``float64``, text columns ``object``). Without pandas, a numpy
        structured array with the same fields (``f8`` or ``O``).

    Raises
    ------
    ScnnSimError
        Missing file, or not a sweep store / export (foreign, truncated, corrupt).
    """
    cols = read_sweep_columns(path)
    try:
        import pandas as pd
    except ImportError:
        n = len(next(iter(cols.values()))) if cols else 0
        arr = np.empty(n, dtype=[(k, v.dtype) for k, v in cols.items()])
        for k, v in cols.items():
            arr[k] = v
        return arr
    return pd.DataFrame(cols)


#: Documented alias: the reader plot and notebooks use.
load_sweep = load_sweep_results
