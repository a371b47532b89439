"""The look shared by every figure: paper-column size, fonts, colours, axes and legends.

A figure is one paper column wide (:data:`COLUMN_WIDTH`, 3.5 in) with 6-8 pt text
(:data:`STYLE`, applied by :func:`styled` while a plot function creates its artists). Figures
are created with the Agg canvas directly (pyplot is never imported, so no display or global
backend is touched).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, cast

import numpy as np

from scnn_sim.pricing.energy import COMPONENTS

#: Figure width of one paper column, inches.
COLUMN_WIDTH = 3.5

STYLE = {
    "font.size": 8,
    "axes.labelsize": 8,
    "axes.titlesize": 8,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "legend.fontsize": 6.5,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.linewidth": 0.6,
    "xtick.major.width": 0.6,
    "ytick.major.width": 0.6,
    "lines.linewidth": 1.0,
    "lines.markersize": 4,
    "patch.linewidth": 0.3,
    "hatch.linewidth": 0.5,
    "savefig.dpi": 300,
    "pdf.fonttype": 42,
}

#: One colour per energy component (COMPONENTS order).
COMPONENT_COLORS = dict(zip(COMPONENTS, (
    "#4c72b0", "#a1c9f4", "#8de5a1", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860",
    "#debb9b", "#da8bc3", "#8c8c8c", "#ccb974", "#cfcfcf"), strict=True))
SERIES_COLORS = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3",
                 "#8c8c8c", "#ccb974", "#64b5cd")
HATCHES = ("", "////", "....", "xxxx", "\\\\\\\\", "oo", "++", "--")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">")
LINESTYLES = ("-", "--", ":", "-.")
#: Energy unit of every figure (values are pJ / 1e6).
ENERGY_UNIT = "\u00b5J"


def styled(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Run a plot function under :data:`STYLE` (fonts are fixed when artists are created)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        import matplotlib

        # matplotlib types rc keys as a Literal of every rcParam name; STYLE's are such names
        with matplotlib.rc_context(cast(Any, STYLE)):
            return fn(*args, **kwargs)

    return wrapper


def new_figure(width: float, height: float) -> Any:
    """A constrained-layout Figure on the Agg canvas (no pyplot)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def new_axes(ax: Any, height: float = 2.4, width: float = COLUMN_WIDTH) -> Any:
    """``ax`` when given, else the axes of a new column-wide figure."""
    if ax is not None:
        return ax
    return new_figure(width, height).add_subplot()


def xticks(ax: Any, labels: Sequence[str], positions: Sequence[float] | None = None) -> None:
    """Category labels on the x axis, rotated and smaller when many or long."""
    pos = list(range(len(labels))) if positions is None else list(positions)
    ax.set_xticks(pos)
    many = len(labels) > 6 or max((len(s) for s in labels), default=0) > 8
    size = 7 if len(labels) <= 12 else (5.5 if len(labels) <= 30 else 4)
    ax.set_xticklabels(labels, rotation=60 if many else 0, ha="right" if many else "center",
                       rotation_mode="anchor" if many else "default", fontsize=size)


def scale(values: np.ndarray, unit: str) -> tuple[float, str]:
    """(divisor, label prefix) so the largest value shows as 1..999."""
    top = float(np.nanmax(np.abs(values))) if np.size(values) else 0.0
    for div, prefix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if top >= div:
            return div, f"{prefix}{unit}" if unit else prefix
    return 1.0, unit


def top_legend(ax: Any, handles: Sequence[Any] | None = None, ncol: int = 5) -> Any:
    """A frameless legend in ``ncol`` columns above the axes."""
    kwargs = {"handles": handles} if handles is not None else {}
    return ax.legend(**kwargs, ncol=ncol, loc="lower center", bbox_to_anchor=(0.5, 1.0),
                     handlelength=1.2, columnspacing=0.8, borderaxespad=0.2)


def set_title(ax: Any, text: str, own_figure: bool) -> None:
    """The figure's title (suptitle) on a figure of its own, else the axes' left title."""
    if not text:
        return
    if own_figure:
        ax.figure.suptitle(text, fontsize=7, x=0.02, ha="left")
    else:
        ax.set_title(text, fontsize=7, loc="left")
