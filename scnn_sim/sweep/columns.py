"""Rows of the results table <-> typed columns (``float64`` numbers, ``str`` text)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from scnn_sim.sweep.checks import _is_real

_STR = "str"
_NUM = "num"


def _kind_of(values: Sequence[Any]) -> str:
    """Text if any value is text, a list or a dict; else numeric (also when all are None)."""
    for v in values:
        if isinstance(v, (str, list, tuple, dict)):
            return _STR
    return _NUM


def _to_num(v: Any) -> float:
    if v is None:
        return math.nan
    if isinstance(v, (bool, np.bool_)):
        return float(v)
    if _is_real(v):
        return float(v)
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def _to_str(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, str):
        return v
    if isinstance(v, (list, tuple, dict)):
        return json.dumps(v)
    return str(v)


def _json_default(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    return str(v)


def _columns(rows: Sequence[Mapping[str, Any]]) -> dict[str, np.ndarray]:
    """Rows -> columns in first-seen order: text (object ``str``) or ``float64`` (NaN missing)."""
    keys = list(dict.fromkeys(k for r in rows for k in r))
    cols: dict[str, np.ndarray] = {}
    for k in keys:
        vals = [r.get(k) for r in rows]
        if _kind_of(vals) == _STR:
            cols[k] = np.array([_to_str(v) for v in vals], dtype=object)
        else:
            cols[k] = np.array([_to_num(v) for v in vals], dtype="f8")
    return cols
