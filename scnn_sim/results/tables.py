"""Plain-text result tables: one renderer (aligned text, CSV, Markdown, JSON records) for
every command's stdout, with one number format per column and units in the headers."""

from __future__ import annotations

import csv
import inspect
import io
import json
import math
import re
import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import tabulate as tabulate_module

from scnn_sim.errors import OutputError

__all__ = ["FORMATS", "TABLE_WIDTH", "add_format_options", "column_key", "format_table",
           "note", "select_columns", "table_records"]

_TABULATE_KEEPS_SPACE_ARG = "preserve_whitespace" in inspect.signature(
    tabulate_module.tabulate).parameters

#: Output formats of the commands' ``--format`` option.
FORMATS = ("table", "csv", "markdown", "json")

#: Default width of terminal tables; wider tables are split into column blocks.
TABLE_WIDTH = 120


def column_key(header: str) -> str:
    """The CSV/JSON name of a table header: units kept, punctuation dropped.

    ``"energy [uJ]"`` -> ``"energy_uJ"``, ``"cycles [k]"`` -> ``"cycles_k"``, ``"w dens"`` ->
    ``"w_dens"``.
    """
    key = re.sub(r"[^0-9A-Za-z]+", "_", header.replace("+", "_plus_")).strip("_")
    return key or "column"


def select_columns(headers: Sequence[str], columns: str | Sequence[str] | None,
                   option: str = "--columns") -> list[int]:
    """Indices of the chosen columns (by header or :func:`column_key`), in the order given.

    The first column (the row label) is always kept.

    Raises
    ------
    OutputError
        One line naming the unknown column and listing the allowed ones.
    """
    if not columns:
        return list(range(len(headers)))
    wanted = [c.strip() for c in columns.split(",")] if isinstance(columns, str) else list(columns)
    keys = [column_key(h) for h in headers]
    chosen = [0]
    for c in wanted:
        if not c:
            continue
        for i, (h, k) in enumerate(zip(headers, keys, strict=True)):
            if c in (h, k):
                if i not in chosen:
                    chosen.append(i)
                break
        else:
            raise OutputError(f"{option}: unknown column {c!r}; allowed: {', '.join(keys)}")
    return chosen


def _column_format(values: Sequence[Any]) -> Callable[[Any], str]:
    """One number format for a whole column, chosen from its values."""
    nums = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if nums and all(isinstance(v, int) for v in nums):
        return lambda v: f"{v:,}"
    finite = [abs(float(v)) for v in nums if math.isfinite(v)]
    big = max(finite, default=0.0)
    small = min((v for v in finite if v), default=0.0)
    if big >= 1e7 or (small and small < 1e-3 and big < 1e3):
        return lambda v: f"{v:.3e}"
    if big >= 100:
        return lambda v: f"{v:,.1f}"
    return lambda v: f"{v:.3f}"


def _cells(rows: Sequence[Sequence[Any]], n: int) -> tuple[list[list[str]], list[bool]]:
    text = [[""] * n for _ in rows]
    numeric = []
    for i in range(n):
        col = [r[i] for r in rows]
        fmt = _column_format(col)
        isnum = [isinstance(v, (int, float)) and not isinstance(v, bool) for v in col]
        numeric.append(bool(col) and sum(isnum) * 2 >= len(col))
        for j, v in enumerate(col):
            text[j][i] = fmt(v) if isnum[j] and math.isfinite(v) else ("-" if isnum[j] else str(v))
    return text, numeric


def _tab(headers: Sequence[str], text: list[list[str]], numeric: list[bool],
         tablefmt: str) -> str:
    # Keep indented labels ("  dram [uJ]"): a keyword from tabulate 0.10, a module flag before.
    kw = {"preserve_whitespace": True} if _TABULATE_KEEPS_SPACE_ARG else {}
    old = tabulate_module.PRESERVE_WHITESPACE
    tabulate_module.PRESERVE_WHITESPACE = True
    try:
        out: str = tabulate_module.tabulate(
            text, headers=list(headers), tablefmt=tablefmt, disable_numparse=True,
            colalign=["right" if x else "left" for x in numeric], **kw)
        return out
    finally:
        tabulate_module.PRESERVE_WHITESPACE = old


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], fmt: str = "table",
                 columns: str | Sequence[str] | None = None,
                 width: int | None = TABLE_WIDTH) -> str:
    """Render rows as a table: aligned text, CSV, Markdown or JSON records.

    Parameters
    ----------
    headers
        Column names with units (``"cycles"``, ``"energy [uJ]"``).
    rows
        The rows; numbers are formatted with one format per column (text tables).
    fmt : {"table", "csv", "markdown", "json"}
        ``table``: aligned text, numbers right-aligned; ``csv``: one header row of
        :func:`column_key` names, full-precision values; ``markdown``: a GitHub table;
        ``json``: a list of ``{column_key: value}`` records.
    columns
        Keep only these columns (headers or keys; the first column is always kept).
    width
        ``table`` only: a table wider than this is split into blocks of columns, each
        repeating the first column (``None``: never split).

    Returns
    -------
    str
        The rendered table, without a trailing newline.
    """
    keep = select_columns(headers, columns)
    headers = [headers[i] for i in keep]
    rows = [[r[i] for i in keep] for r in rows]
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow([column_key(h) for h in headers])
        w.writerows([[_py(v) for v in r] for r in rows])
        return buf.getvalue().rstrip("\n")
    if fmt == "json":
        keys = [column_key(h) for h in headers]
        return json.dumps([{k: _py(v) for k, v in zip(keys, r, strict=True)} for r in rows],
                          indent=2)
    text, numeric = _cells(rows, len(headers))
    if fmt == "markdown":
        return _tab(headers, text, numeric, "github")
    if fmt != "table":
        raise OutputError(f"--format: unknown format {fmt!r}; allowed: {', '.join(FORMATS)}")
    out = _tab(headers, text, numeric, "simple")
    if width is None or max(map(len, out.splitlines()), default=0) <= width or len(headers) < 3:
        return out
    def block(idx: list[int]) -> str:
        return _tab([headers[j] for j in idx], [[t[j] for j in idx] for t in text],
                    [numeric[j] for j in idx], "simple")

    blocks: list[str] = []
    current = [0]
    for i in range(1, len(headers)):
        cand = block(current + [i])
        if len(current) == 1 or max(map(len, cand.splitlines())) <= width:
            current.append(i)
        else:
            blocks.append(block(current))
            current = [0, i]
    blocks.append(block(current))
    return "\n\n".join(blocks)


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


# --------------------------------------------------------------------------------------------
# Command-line options


def add_format_options(p: Any, columns: bool = True,
                       json_doc: str = "the --json document") -> None:
    """Add ``--format`` (and ``--columns``) to an argparse parser; ``json_doc`` says what
    ``--format json`` prints."""
    p.add_argument("--format", choices=FORMATS, default="table",
                   help="stdout format: table (aligned text, at most 120 columns wide, wider "
                   "tables split into blocks), csv (one header row, units in the column "
                   f"names), markdown, json ({json_doc}); default table")
    if columns:
        p.add_argument("--columns", default=None, metavar="A,B,...",
                       help="show only these columns (header or CSV name; the first column "
                       "is always kept)")


def note(fmt: str, message: str) -> None:
    """Print a status line: on stdout for text tables, on stderr for machine formats."""
    print(message, file=sys.stdout if fmt == "table" else sys.stderr, flush=True)
