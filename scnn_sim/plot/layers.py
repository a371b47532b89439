"""Per-layer figures' shared parts: layer selection, stages, and the bar layout.

Up to :data:`HORIZONTAL_ABOVE` layers the bars are vertical; more (GoogLeNet's 57,
DenseNet-121's 120) are drawn as horizontal bars, one row per layer top to bottom, the figure
growing to fit (labels thinned past :data:`MAX_HEIGHT`), with faint rules between stages.
"""

from __future__ import annotations

import fnmatch
import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

from scnn_sim.plot.data import PlotData, PlotError
from scnn_sim.plot.style import new_axes, xticks

#: Per-layer plots switch to horizontal bars (a row per layer, top to bottom) above this count.
HORIZONTAL_ABOVE = 30
#: Height of one layer row of a horizontal per-layer plot, inches (5.4 pt: a 4.5 pt label).
ROW_HEIGHT = 0.075
#: Tallest per-layer figure, inches; beyond ``MAX_HEIGHT / ROW_HEIGHT`` rows labels are thinned.
MAX_HEIGHT = 9.5


def stage_of(name: str) -> str:
    """The stage / block of a layer: its name up to the first ``/`` or ``.``
    (``denseblock1.denselayer2.conv1`` -> ``denseblock1``, ``inception_3a/1x1`` ->
    ``inception_3a``); a name without separator is its own stage."""
    cut = [i for i in (name.find("/"), name.find(".")) if i > 0]
    return name[:min(cut)] if cut else name


def select_layers(recs: Sequence[Mapping[str, Any]], patterns: Sequence[str] | None,
                  where: str) -> list[Mapping[str, Any]]:
    """The records whose name, or stage, matches one of ``patterns`` (shell-style globs, e.g.
    ``conv1``, ``denseblock1``, ``inception_4*``), in network order.

    Raises
    ------
    PlotError
        A pattern that matches no layer (named, with the available stages).
    """
    if not patterns:
        return list(recs)
    keep = []
    hit = dict.fromkeys(patterns, False)
    for r in recs:
        name = str(r["name"])
        for pat in patterns:
            if fnmatch.fnmatchcase(name, pat) or fnmatch.fnmatchcase(stage_of(name), pat):
                hit[pat] = True
                keep.append(r)
                break
    missing = [p for p, ok in hit.items() if not ok]
    if missing:
        stages = list(dict.fromkeys(stage_of(str(r["name"])) for r in recs))
        shown = ", ".join(stages[:12]) + (" ..." if len(stages) > 12 else "")
        raise PlotError(f"{where}: --layers {','.join(missing)}: no such layer or stage "
                        f"(stages: {shown})")
    return keep


def _add_leaves(dst: dict[str, Any], src: Mapping[str, Any]) -> None:
    for k, v in src.items():
        if isinstance(v, Mapping):
            _add_leaves(dst.setdefault(k, {}), v)
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            dst[k] = dst.get(k, 0.0) + float(v)


def group_by_stage(recs: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One record per stage (see :func:`stage_of`), in order of first appearance: cycles,
    oracle cycles, DCNN cycles and energy by component summed over the stage's layers."""
    out: dict[str, dict[str, Any]] = {}
    for r in recs:
        agg = out.setdefault(stage_of(str(r["name"])), {"name": stage_of(str(r["name"]))})
        _add_leaves(agg, {k: r[k] for k in ("cycles", "oracle_cycles", "dcnn", "energy_pj")
                          if k in r})
    return list(out.values())


def layer_series(d: PlotData, layers: Sequence[str] | None, group: bool
                 ) -> dict[str, list[Mapping[str, Any]]]:
    """Label (granularity, or ``""`` for a run) -> the selected (or stage-grouped) records."""
    series: dict[str, list[Mapping[str, Any]]] = {}
    for g, run in d.runs.items():
        where = d.source + (f":granularities.{g}" if g else "")
        recs = select_layers(run["layers"], layers, where)
        series[g] = list(group_by_stage(recs)) if group else recs
    return series


def short_labels(labels: Sequence[str]) -> tuple[list[str], str]:
    """Drop a prefix shared by every label up to a ``/`` (e.g. ``inception_3a/``)."""
    labels = [str(x) for x in labels]
    prefix = os.path.commonprefix(labels) if len(labels) > 1 else ""
    prefix = prefix[:prefix.rfind("/") + 1] if "/" in prefix else ""
    if not prefix or any(len(x) == len(prefix) for x in labels):
        return labels, ""
    return [x[len(prefix):] for x in labels], prefix


def per_layer_axes(ax: Any, n: int, long_labels: bool,
                   rows: bool = False) -> tuple[Any, bool]:
    """(axes, horizontal): vertical bars up to :data:`HORIZONTAL_ABOVE` layers (12 when labels
    are long), else (or with ``rows``) one row per layer with the figure height growing with
    the count (capped at :data:`MAX_HEIGHT`)."""
    horizontal = rows or n > HORIZONTAL_ABOVE or (n > 12 and long_labels)
    if ax is not None:
        return ax, horizontal
    if horizontal:
        return new_axes(None, height=min(MAX_HEIGHT, max(2.6, 1.1 + n * ROW_HEIGHT))), True
    return new_axes(None, height=2.6 if not long_labels else 3.4), False


def layer_ticks(ax: Any, labels: Sequence[str], horizontal: bool) -> None:
    """Layer labels: rotated x ticks, or y ticks (one per row, thinned past the height cap)."""
    if not horizontal:
        xticks(ax, labels)
        ax.set_xlim(-0.6, len(labels) - 0.4)
        return
    n = len(labels)
    step = max(1, math.ceil(n / (MAX_HEIGHT / ROW_HEIGHT)))
    pos = list(range(0, n, step))
    ax.set_yticks(pos)
    ax.set_yticklabels([labels[i] for i in pos], fontsize=4.5 if n > 60 else 5.5)
    ax.tick_params(axis="y", length=1.5, pad=1)
    ax.set_ylim(n - 0.4, -0.6)  # first layer on top


def _staged(names: Sequence[str]) -> bool:
    stages = [stage_of(n) for n in names]
    return 1 < len(set(stages)) < len(stages)


def row_labels(names: Sequence[str], labels: list[str], horizontal: bool) -> list[str]:
    """Horizontal plots of a staged network drop the stage from each row label (the stage is
    written once beside its block by :func:`stage_rules`)."""
    if not horizontal or not _staged(names):
        return labels
    return [n[len(stage_of(n)) + 1:] if stage_of(n) != n else n for n in names]


def stage_rules(ax: Any, names: Sequence[str], horizontal: bool) -> None:
    """Faint rules between stages, so blocks of a 120-layer network read as groups; on a
    horizontal plot each block's stage name is written at the right edge of its first row."""
    if not _staged(names):
        return
    stages = [stage_of(n) for n in names]
    for i in range(len(stages)):
        first = i == 0 or stages[i] != stages[i - 1]
        if not first:
            continue
        if i:
            (ax.axhline if horizontal else ax.axvline)(i - 0.5, color="0.75", linewidth=0.3,
                                                       zorder=0)
        if horizontal and stages[i] != names[i]:
            ax.annotate(stages[i], (1.0, i - 0.5), xycoords=("axes fraction", "data"),
                        ha="right", va="top", fontsize=5, style="italic", color="0.3",
                        bbox={"facecolor": "white", "alpha": 0.7, "pad": 0.2, "linewidth": 0})
