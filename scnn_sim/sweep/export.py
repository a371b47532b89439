"""Export of a sweep store's table to HDF5 or CSV (``scnn-sim sweep ... --export``)."""

from __future__ import annotations

import contextlib
import math
import os
from pathlib import Path

import numpy as np

from scnn_sim import __version__
from scnn_sim.errors import ConfigError, ScnnSimError
from scnn_sim.sweep.read import H5_FORMAT_VERSION
from scnn_sim.sweep.store import EXPORT_SUFFIXES, FORMAT, SweepStore


def export_sweep(store: str | os.PathLike, out: str | os.PathLike) -> int:
    """Export the committed table of a sweep store to HDF5 (``.h5``/``.hdf5``) or ``.csv``.

    The HDF5 layout is the ``scnn-sim-sweep`` version 1 file (group ``/rows``, one dataset per
    column, attribute ``n_committed``), which :func:`load_sweep_results` and ``scnn-sim plot``
    read. The file is written under a temporary name and renamed, so it is whole or absent.

    Returns
    -------
    int
        Rows written.

    Raises
    ------
    ScnnSimError
        Unreadable store, unknown export suffix, or the output cannot be written.
    """
    import csv

    dst = Path(out)
    suffix = dst.suffix.lower()
    if suffix not in EXPORT_SUFFIXES:
        raise ConfigError(f"{dst}: --export: unknown format {suffix or '(none)'!r} "
                          f"(.h5, .hdf5 or .csv)")
    st = SweepStore(store)
    meta = st.meta()
    cols = st.read_columns()
    n = len(next(iter(cols.values()))) if cols else 0
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
    try:
        dst.parent.mkdir(parents=True, exist_ok=True)
        if suffix == ".csv":
            with open(tmp, "w", newline="", encoding="utf-8") as fh:
                w = csv.writer(fh)
                w.writerow(list(cols))
                for i in range(n):
                    w.writerow(["" if (c.dtype.kind == "f" and math.isnan(c[i])) else
                                (repr(float(c[i])) if c.dtype.kind == "f" else c[i])
                                for c in cols.values()])
        else:
            import h5py

            with h5py.File(tmp, "w", libver=("v110", "latest"), locking=False) as f:
                f.attrs["format"] = FORMAT
                f.attrs["format_version"] = H5_FORMAT_VERSION
                f.attrs["scnn_sim_version"] = meta.get("scnn_sim_version", __version__)
                if "spec_json" in meta:
                    f.attrs["spec_json"] = meta["spec_json"]
                g = f.create_group("rows", track_order=True)
                for k, c in cols.items():
                    if c.dtype.kind == "f":
                        g.create_dataset(k, data=c, maxshape=(None,), chunks=(128,),
                                         fillvalue=np.nan)
                    else:
                        g.create_dataset(k, data=c, maxshape=(None,), chunks=(128,),
                                         dtype=h5py.string_dtype())
                g.attrs["n_committed"] = n
        os.replace(tmp, dst)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise ScnnSimError(f"{dst}: cannot write export ({exc.strerror or exc})") from None
    return n
