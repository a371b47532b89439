"""Reading the committed results table of a sweep store or of its HDF5 export."""

from __future__ import annotations

import os

import numpy as np

from scnn_sim.errors import ScnnSimError
from scnn_sim.inputs.readers import as_path
from scnn_sim.results.h5table import read_table, table_frame
from scnn_sim.sweep.store import SweepStore, _sniff_existing


def read_sweep_columns(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The committed columns of a sweep store (SQLite) or of its HDF5 export.

    The export is the result table of :mod:`scnn_sim.results.h5table` (kind ``sweep``); the
    export layout of earlier versions (``scnn-sim-sweep`` version 1) is still read.

    Raises
    ------
    ScnnSimError
        Missing, foreign, truncated or corrupt file, or a ``run --h5`` table (one line).
    """
    p = as_path(path, "sweep results file", ScnnSimError)
    kind = _sniff_existing(p, "cannot read")
    if kind == "hdf5":
        return read_table(p, kind="sweep").columns
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
    return table_frame(read_sweep_columns(path))


#: Documented alias: the reader plot and notebooks use.
load_sweep = load_sweep_results
