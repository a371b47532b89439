"""How sweep figures read a sweep's table: its completed points and the parameters they vary.

A sweep figure never averages over a parameter the sweep varies (:func:`sweep_parameters`):
each one is shown (a line, colour, marker or bar label named in the legend), or the figure is
refused with one line naming the parameter to filter (``load_sweep_results``, filter the
DataFrame, pass it to the plot function).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from scnn_sim.plot.data import PlotData, PlotError, fmt, isnan, table_rows
from scnn_sim.plot.style import MARKERS, SERIES_COLORS

Row = dict[str, Any]

#: Parameters of a sweep point besides its architecture (the ``arch.*`` columns).
POINT_AXES = ("workload", "granularity", "density", "seed", "energy")
#: Most lines (series) a sweep figure tells apart by colour; more are refused (filter first).
MAX_SERIES = len(SERIES_COLORS)
#: Most configurations a sweep figure tells apart by marker.
MAX_CONFIGS = len(MARKERS)


def ok_totals(d: PlotData) -> list[Row]:
    """The ``total`` rows of the completed points, as dicts, in spec order (pandas-free)."""
    tot = [r for r in table_rows(d.frame) if r["layer"] == "total" and r["status"] == "ok"]
    if not tot:
        raise PlotError(f"{d.source}: the sweep has no completed points")
    if "point_index" in tot[0]:
        tot.sort(key=lambda r: r["point_index"])
    return tot


def group_rows(rows: list[Row], cols: Sequence[str]) -> list[tuple[tuple, list[Row]]]:
    """Rows grouped by the values of ``cols``, groups in first-seen order."""
    groups: dict[tuple, list[Row]] = {}
    for r in rows:
        groups.setdefault(tuple(fmt(r[c]) for c in cols), []).append(r)
    return list(groups.items())


def values(tot: list[Row], col: str) -> list[str]:
    """The distinct values of a column, as labels, in first-seen order."""
    return list(dict.fromkeys(fmt(r[col]) for r in tot))


def param_name(col: str) -> str:
    """How a parameter is named in labels and errors: ``arch.`` dropped."""
    return col.removeprefix("arch.")


def value_text(col: str, v: Any) -> str:
    """A parameter's value as a legend or tick label names it (``density 0.3``, ``seed 1``,
    ``accumulator.banks=64``)."""
    if col == "density":
        return "density " + ("per-layer" if isnan(v) else fmt(v))
    if col == "seed":
        return f"seed {fmt(v)}"
    if col == "granularity":
        return str(v) or "default"
    if col in ("workload", "energy"):
        return Path(str(v)).stem if v else "default"
    if col.startswith("arch."):
        return f"{param_name(col)}={fmt(v)}"
    return fmt(v)


def _determines(tot: list[Row], by: str, col: str) -> bool:
    """Whether each value of column ``by`` comes with one value of ``col``."""
    seen: dict[str, str] = {}
    return all(seen.setdefault(fmt(r[by]), fmt(r[col])) == fmt(r[col]) for r in tot)


def config_columns(tot: list[Row]) -> tuple[str, list[str]]:
    """(PE-configuration label column, varied ``arch.*`` columns that label does not determine).

    The label is the spec's ``label`` when every point has one, else ``pe_config``
    (``PEs x (F x I)``); an architecture parameter varied independently of it (e.g.
    ``accumulator.queue_depth``) is part of a point's configuration too.
    """
    labelled = "label" in tot[0] and all(r["label"] != "" for r in tot)
    lab = "label" if labelled else "pe_config"
    arch = [c for c in tot[0] if c.startswith("arch.") and len(values(tot, c)) > 1]
    return lab, [c for c in arch if not _determines(tot, lab, c)]


def sweep_parameters(tot: list[Row]) -> list[str]:
    """Every parameter the completed points of a sweep vary, as table columns.

    The axes (``workload``, ``granularity``, ``density``, ``seed``, ``energy``) that take more
    than one value, then the PE configuration (its label column, when more than one), then the
    varied architecture parameters the label does not determine (:func:`config_columns`). A
    sweep figure shows every one of them (colour, marker, label or panel) or refuses.
    """
    axes = [c for c in POINT_AXES if c in tot[0] and len(values(tot, c)) > 1]
    lab, extra = config_columns(tot)
    return axes + ([lab] if len(values(tot, lab)) > 1 else []) + extra


def literal(v: Any) -> Any:
    """A table value as written in a filter expression (``0`` for a seed of ``0.0``)."""
    return int(v) if isinstance(v, float) and v.is_integer() else v


def check_count(d: PlotData, n: int, limit: int, what: str, cols: Sequence[str],
                tot: list[Row]) -> None:
    """Refuse, in one line naming the parameter to filter, more series than a figure shows."""
    if n <= limit:
        return
    counts = {c: len(values(tot, c)) for c in cols}
    fix = "seed" if "seed" in counts else max(counts, key=lambda c: counts[c])
    first = literal(tot[0][fix])
    raise PlotError(
        f"{d.source}: {n} {what} ({' x '.join(param_name(c) for c in cols)}) are more than "
        f"one figure tells apart ({limit}); filter {param_name(fix)} "
        f"({', '.join(values(tot, fix)[:4])}{' ...' if counts[fix] > 4 else ''}) first, "
        f"e.g. df = load_sweep_results(FILE); df = df[df[{fix!r}] == {first!r}]; then plot df")


def check_one_row_each(d: PlotData, groups: list[tuple[tuple, list[Row]]],
                       shown: Sequence[str]) -> None:
    """Refuse points that the shown parameters do not tell apart (never average them)."""
    for key, rows in groups:
        if len(rows) > 1:
            ids = ", ".join(str(r.get("point_id", "?"))[:8] for r in rows[:3])
            what = ", ".join(f"{param_name(c)}={k}" for c, k in zip(shown, key, strict=True))
            raise PlotError(f"{d.source}: points {ids} share {what or 'every parameter shown'} "
                            f"and differ in something the table does not name (a store filled "
                            f"by different specs?); plot a filtered table")


def point_labels(tot: list[Row]) -> list[str]:
    """One label per point naming every varied parameter (unique; point id when needed)."""
    lab, _ = config_columns(tot)
    cols = [lab] + [c for c in sweep_parameters(tot) if c != lab]
    labels = [", ".join(value_text(c, r[c]) for c in cols) for r in tot]
    if len(set(labels)) < len(labels):
        labels = [f"{t}, {str(r.get('point_id', ''))[:8]}" for t, r in zip(labels, tot,
                                                                          strict=True)]
    return labels


def clock_ghz(row: Row) -> float:
    """The clock of a point's architecture (its ``arch_json``), GHz; 1.0 when not recorded."""
    try:
        return float(json.loads(row["arch_json"])["clock_ghz"])
    except (KeyError, TypeError, ValueError, RecursionError):
        return 1.0
