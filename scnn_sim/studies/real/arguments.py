"""Defaults of the study and checks of its arguments (density schedule, granularities)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from scnn_sim.errors import ScnnSimError
from scnn_sim.sparsity.pruning import parse_granularity
from scnn_sim.studies.real.errors import RealStudyError

#: Density schedule of the iterative pruning (1.0 is the dense reference).
DEFAULT_SCHEDULE = (1.0, 0.8, 0.6, 0.5, 0.4, 0.3, 0.2, 0.15, 0.1)
#: Granularities of the study (``fine`` is the reference of the common density).
DEFAULT_GRANULARITIES = ("fine", "vector", "kernel", "filter")


#: Default training settings per dataset: epochs, fine-tuning epochs, batch size, conv widths.
DATASET_DEFAULTS: dict[str, dict[str, Any]] = {
    "digits": {"epochs": 30, "finetune_epochs": 3, "batch_size": 64, "width": (16, 32),
               "train_limit": 0},
    "fashion-mnist": {"epochs": 10, "finetune_epochs": 1, "batch_size": 128, "width": (16, 32),
                      "train_limit": 30000},
}


def parse_schedule(schedule: str | Sequence[float]) -> tuple[float, ...]:
    """Validate a density schedule: strictly decreasing values in ``(0, 1]``.

    Parameters
    ----------
    schedule : str or sequence of float
        ``"1,0.5,0.25"`` or ``[1.0, 0.5, 0.25]``. ``1.0`` (the dense reference) is put in
        front when missing.

    Returns
    -------
    tuple of float
        Starting with 1.0.

    Raises
    ------
    RealStudyError
        Empty, non-numeric, out of ``(0, 1]``, NaN, not strictly decreasing, or no density
        below 1.
    """
    if isinstance(schedule, str):
        items: list[Any] = [s.strip() for s in schedule.split(",") if s.strip()]
    else:
        try:
            items = list(schedule)
        except TypeError:
            raise RealStudyError(f"schedule: expected a list of densities, got {schedule!r}") \
                from None
    if not items:
        raise RealStudyError("schedule: give at least one density (e.g. 1,0.5,0.25)")
    values: list[float] = []
    for item in items:
        if isinstance(item, bool):
            raise RealStudyError(f"schedule: not a density: {item!r}")
        try:
            d = float(item)
        except (TypeError, ValueError):
            raise RealStudyError(f"schedule: not a number: {item!r}") from None
        if not (0.0 < d <= 1.0):  # also rejects NaN
            raise RealStudyError(f"schedule: densities must be in (0, 1], got {item!r}")
        values.append(d)
    for a, b in zip(values, values[1:], strict=False):
        if not b < a:
            raise RealStudyError(
                f"schedule: densities must be strictly decreasing (pruning only removes "
                f"weights), got {a:g} then {b:g}"
            )
    if values[0] != 1.0:
        values.insert(0, 1.0)
    if len(values) < 2:
        raise RealStudyError("schedule: give at least one density below 1 (e.g. 1,0.5,0.25)")
    return tuple(values)


def parse_granularities(granularities: str | Sequence[str]) -> list[str]:
    """Validate the granularity list; ``fine`` is put first (it sets the common density).

    Parameters
    ----------
    granularities : str or sequence of str
        ``"fine,vector,kernel,filter"``; any granularity with rectangular groups
        (``fine``, ``vector``, ``kernel``, ``filter``, ``channel``, ``block:AxBxCxD``).

    Returns
    -------
    list of str
        Canonical specs, ``fine`` first.

    Raises
    ------
    RealStudyError
        Empty list, unknown or duplicate granularity, or ``nm:N:M`` (its density is fixed by
        N/M, so it cannot follow a schedule).
    """
    if isinstance(granularities, str):
        items = [s.strip() for s in granularities.split(",") if s.strip()]
    else:
        items = [str(s).strip() for s in granularities if str(s).strip()]
    if not items:
        raise RealStudyError("granularities: give at least one (e.g. fine,vector,kernel,filter)")
    out: list[str] = []
    for item in items:
        try:
            g = parse_granularity(item)
        except ScnnSimError as exc:
            raise RealStudyError(f"granularities: {exc}") from None
        if g.kind == "nm":
            raise RealStudyError(
                f"granularities: {g.spec} has a fixed density (N/M) and cannot follow a "
                f"density schedule"
            )
        if g.spec in out:
            raise RealStudyError(f"granularities: {g.spec!r} given twice")
        out.append(g.spec)
    if "fine" in out:
        out.remove("fine")
    return ["fine", *out]


def _positive_int(value: Any, what: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise RealStudyError(f"{what} must be an integer >= {minimum}, got {value!r}")
    return int(value)
