"""Plain-text tables and atomic file writes shared by every command."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Render rows as an aligned text table; numbers right-aligned, text left-aligned.

    Put units in the headers (``"cycles"``, ``"energy [uJ]"``).
    """
    def cell(v: Any) -> str:
        if isinstance(v, float):
            if v != 0 and (abs(v) >= 1e7 or abs(v) < 1e-3):
                return f"{v:.3e}"
            return f"{v:,.3f}" if abs(v) < 100 else f"{v:,.1f}"
        if isinstance(v, int):
            return f"{v:,}"
        return str(v)

    text = [[cell(v) for v in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in text:
        for i, v in enumerate(row):
            widths[i] = max(widths[i], len(v))
    numeric = [
        all(isinstance(r[i], (int, float)) for r in rows) if rows else False
        for i in range(len(headers))
    ]

    def line(vals: Sequence[str]) -> str:
        return "  ".join(
            v.rjust(widths[i]) if numeric[i] else v.ljust(widths[i]) for i, v in enumerate(vals)
        ).rstrip()

    out = [line(list(headers)), line(["-" * w for w in widths])]
    out += [line(r) for r in text]
    return "\n".join(out)


def table_records(table: Any) -> list[dict[str, Any]]:
    """The rows of a results table as plain dicts, with or without pandas.

    Parameters
    ----------
    table
        A pandas DataFrame, a numpy structured array (what
        :func:`scnn_sim.sweep.load_sweep_results` returns without pandas), or an iterable of
        mappings.

    Returns
    -------
    list of dict
        One dict per row, column name -> value (numpy scalars as Python numbers).
    """
    if hasattr(table, "to_dict") and hasattr(table, "columns"):
        return [dict(r) for r in table.to_dict("records")]
    if isinstance(table, np.ndarray) and table.dtype.names:
        names = table.dtype.names
        return [{n: _py(row[n]) for n in names} for row in table]
    return [dict(r) for r in table]


def _py(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename: never half-written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual file mode
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as indented JSON, atomically."""
    atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=False) + "\n").encode())
