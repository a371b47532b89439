"""Export of a sweep store's table to HDF5 or CSV (``scnn-sim sweep ... --export``)."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from scnn_sim.errors import ConfigError
from scnn_sim.inputs.readers import parse_json
from scnn_sim.outputs import atomic_output
from scnn_sim.results.h5table import write_table
from scnn_sim.sweep.store import EXPORT_SUFFIXES, SweepStore


def export_sweep(store: str | os.PathLike, out: str | os.PathLike) -> int:
    """Export the committed table of a sweep store to HDF5 (``.h5``/``.hdf5``) or ``.csv``.

    The HDF5 file is the result table of :mod:`scnn_sim.results.h5table` (kind ``sweep``: the
    layout ``run --h5`` writes too), with the store and its spec as provenance; the CSV has
    one header row of column names. Either is written under a temporary name and renamed,
    so it is whole or absent.

    Returns
    -------
    int
        Rows written.

    Raises
    ------
    ScnnSimError
        Unreadable store or unknown export suffix;
        :class:`~scnn_sim.errors.OutputError` if the output cannot be written.
    """
    dst = Path(out)
    suffix = dst.suffix.lower()
    if suffix not in EXPORT_SUFFIXES:
        raise ConfigError(f"{dst}: --export: unknown format {suffix or '(none)'!r} "
                          f"(.h5, .hdf5 or .csv)")
    st = SweepStore(store)
    meta = st.meta()
    cols = st.read_columns()
    if suffix != ".csv":
        return write_table(dst, kind="sweep", columns=cols, provenance=_provenance(st, meta))
    import csv

    n = len(next(iter(cols.values()))) if cols else 0
    with atomic_output(dst, "--export") as tmp, open(tmp, "w", newline="",
                                                     encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(list(cols))
        for i in range(n):
            w.writerow(["" if (c.dtype.kind == "f" and math.isnan(c[i])) else
                        (repr(float(c[i])) if c.dtype.kind == "f" else c[i])
                        for c in cols.values()])
    return n


def _provenance(st: SweepStore, meta: dict[str, str]) -> dict[str, Any]:
    """The store an export came from, and the spec last run into it."""
    spec = meta.get("spec_json")
    return {
        "store": str(st.path.resolve()),
        "store_format": meta.get("format"),
        "store_format_version": int(meta.get("format_version", "0")),
        "store_created_at": float(meta["created_at"]) if "created_at" in meta else None,
        "store_scnn_sim_version": meta.get("scnn_sim_version"),
        "spec": parse_json(spec, f"{st.path}:spec_json", ConfigError) if spec else None,
    }
