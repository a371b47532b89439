"""``granularity``: memory references, weight storage and energy of each granularity,
relative to ``fine``."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from scnn_sim.plot.data import PlotData, PlotError, as_plot_data, figure_title, get, num
from scnn_sim.plot.style import SERIES_COLORS, new_axes, set_title, styled, top_legend, xticks
from scnn_sim.plot.sweeptable import (
    check_one_row_each,
    group_rows,
    literal,
    ok_totals,
    param_name,
    sweep_parameters,
    values,
)


def _granularity_metrics(rec: Mapping[str, Any], where: str) -> dict[str, float]:
    """The categories of one totals record, each a field of the record (nothing recomputed;
    a field the record lacks, e.g. a count not made, is NaN and its bar left empty)."""
    acc = rec.get("accumulator_accesses") or {}
    mem = rec.get("memory_references") or {}
    a = get(rec, "accesses", where)
    weight_bits = sum(num(v) for k, v in a.items() if k.startswith("dram_read_bits_weight"))
    return {
        "acc. per-product": num(acc.get("per_product")),
        "acc. same-addr.": num(acc.get("same_address")),
        "acc. wide": num(acc.get("wide")),
        "memory refs": num(mem.get("accesses")),
        "bits moved": num(mem.get("bits")),
        "DRAM traffic": num(((mem.get("per_structure") or {}).get("dram") or {}).get("bits")),
        "weight storage": weight_bits,
        "energy": num(get(rec, "energy_pj.total", where)),
    }


#: The record fields a sweep row's dotted columns are folded back into.
_FIELDS = ("accesses", "accumulator_accesses", "memory_references", "energy_pj")


def _flat_to_record(row: Any) -> dict[str, Any]:
    """A sweep table row's dotted columns (:data:`_FIELDS`) as a nested totals record."""
    rec: dict[str, Any] = {"name": "total"}
    for k, v in row.items():
        if not isinstance(k, str) or "." not in k:
            continue
        if k.split(".", 1)[0] not in _FIELDS:
            continue
        node = rec
        parts = k.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = None if isinstance(v, float) and math.isnan(v) else v
    return rec


def _sweep_totals(d: PlotData) -> dict[str, dict[str, Any]]:
    """Granularity -> the totals record of a sweep's one point per granularity."""
    tot = ok_totals(d)
    others = [c for c in sweep_parameters(tot) if c != "granularity"]
    if others:
        fix = others[0]
        varies = "; ".join(f"{param_name(c)} ({', '.join(values(tot, c)[:4])}"
                           f"{' ...' if len(values(tot, c)) > 4 else ''})" for c in others)
        raise PlotError(f"{d.source}: several points per granularity: besides granularity "
                        f"the sweep varies {varies}; the granularity plot compares one "
                        f"configuration: filter to one value of each, e.g. "
                        f"df = load_sweep_results(FILE); df = df[df[{fix!r}] == "
                        f"{literal(tot[0][fix])!r}]; then plot df")
    check_one_row_each(d, group_rows(tot, ["granularity"]), ["granularity"])
    return {str(r["granularity"]): _flat_to_record(r) for r in tot}


def _totals(d: PlotData) -> dict[str, dict[str, Any]]:
    """Granularity -> its network totals record."""
    if d.kind == "sweep":
        return _sweep_totals(d)
    if d.kind != "granularity":
        raise PlotError(f"{d.source}: a single run; the granularity plot needs "
                        f"`granularity --json` results or a sweep over granularities")
    per = {}
    for g, run in d.runs.items():
        rec = run["totals"]
        if rec is None:
            raise PlotError(f"{d.source}:granularities.{g}.totals: missing")
        per[g] = rec
    return per


@styled
def plot_granularity(data: Any, ax: Any = None, *, title: str | None = None) -> Any:
    """Memory references, weight storage and energy of each granularity, relative to fine.

    Categories (network totals): accumulator accesses under the per-product, same-address and
    wide models, memory references and bits moved (the records' ``memory_references``:
    :func:`scnn_sim.results.records.memory_references` under the architecture's accumulator
    model), DRAM traffic (bits), weight storage (DRAM weight value + index bits) and energy,
    each read from the network totals record. Categories not counted (``count_merges`` off)
    or not recorded are left empty.

    Parameters
    ----------
    data
        Granularity results, or a sweep with one completed point per granularity.
    ax
        Axes to draw into.
    title
        Figure title; default :func:`figure_title`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    d = as_plot_data(data)
    own = ax is None
    metrics = {g: _granularity_metrics(rec, f"{d.source}:granularities.{g}")
               for g, rec in _totals(d).items()}
    ref_name = "fine" if "fine" in metrics else next(iter(metrics))
    ref = metrics[ref_name]
    cats = list(ref)
    ax = new_axes(ax, height=2.5)
    n = len(metrics)
    width = 0.8 / n
    for s, (g, m) in enumerate(metrics.items()):
        vals = np.array([m[c] / ref[c] if ref[c] and not math.isnan(ref[c]) else math.nan
                         for c in cats])
        x = np.arange(len(cats)) + (s - (n - 1) / 2) * width
        ax.bar(x, vals, width * 0.95, label=g, color=SERIES_COLORS[s % len(SERIES_COLORS)],
               linewidth=0)
    ax.axhline(1.0, color="black", linewidth=0.5, linestyle=":")
    xticks(ax, cats)
    ax.set_ylabel(f"relative to {ref_name} [x]")
    ax.set_xlim(-0.6, len(cats) - 0.4)
    top_legend(ax, ncol=min(n, 5))
    set_title(ax, figure_title(d, title), own)
    return ax.figure
