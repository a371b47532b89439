"""Per-layer and network results: uniform records, JSON, HDF5 and DataFrame output.

JSON schema (stable keys; more may be added):

``{"scnn_sim_version", "workload", "arch", "energy_table", "seed", "granularity", "density",
"area_table", "area_mm2", "layers": [record, ...], "totals": record}`` where ``area_mm2`` is
the configuration's area (:mod:`scnn_sim.area`: mm2 of the chip per component, ``total``,
``per_pe`` with its ``total``, ``dcnn`` and ``dcnn_opt``) and a record has ``name``, ``cycles``,
``cycle_breakdown`` (busy, conflict_stall, barrier_idle, halo, dram_stall, drain_stall; mean
over PEs for the first three), ``oracle_cycles``, ``products``, ``dense_macs``,
``multiplier_utilization``, ``barrier_fraction``, ``conflict_stall_fraction``, ``accesses``
(counts by component; keys starting ``dram_`` are bits), ``accumulator_accesses``
(``per_product``, ``same_address``, ``wide``; ``null`` when not counted), ``energy_pj``
(by component, plus ``total``), ``dcnn`` and ``dcnn_opt`` (``cycles``, ``energy_pj``),
``speedup_vs_dcnn``, ``oracle_fraction`` (oracle / SCNN cycles), ``mapping`` and ``verified``
(true / false / null when not checked).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from scnn_sim.report import atomic_write_bytes, atomic_write_json

CYCLE_KEYS = ("busy", "conflict_stall", "barrier_idle", "halo", "dram_stall", "drain_stall")


@dataclass
class LayerResult:
    """One layer's (or the network's) results; ``record`` is the JSON form."""

    record: dict[str, Any]

    def __getitem__(self, key: str) -> Any:
        return self.record[key]

    @property
    def name(self) -> str:
        """Layer name (``"total"`` for network totals)."""
        return self.record["name"]


def _ratio(num: float, den: float) -> float:
    return float(num) / float(den) if den else 0.0


def totals_record(records: list[dict[str, Any]], multipliers: int) -> dict[str, Any]:
    """Network totals of per-layer records: sums of counts, ratios recomputed from sums."""
    def add(dicts: list[dict[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for d in dicts:
            for k, v in d.items():
                if v is None or out.get(k, 0) is None:
                    out[k] = None
                else:
                    out[k] = out.get(k, 0) + v
        return out

    cycles = sum(r["cycles"] for r in records)
    products = sum(r["products"] for r in records)
    bd = add([r["cycle_breakdown"] for r in records])
    dc = sum(r["dcnn"]["cycles"] for r in records)
    verified = [r["verified"] for r in records]
    return {
        "name": "total",
        "cycles": cycles,
        "cycle_breakdown": bd,
        "oracle_cycles": products / multipliers,
        "products": products,
        "dense_macs": sum(r["dense_macs"] for r in records),
        "multiplier_utilization": _ratio(products, cycles * multipliers),
        "barrier_fraction": _ratio(bd["barrier_idle"], cycles),
        "conflict_stall_fraction": _ratio(bd["conflict_stall"], cycles),
        "accesses": add([r["accesses"] for r in records]),
        "accumulator_accesses": add([r["accumulator_accesses"] for r in records]),
        "energy_pj": add([r["energy_pj"] for r in records]),
        "dcnn": {"cycles": dc,
                 "energy_pj": add([r["dcnn"]["energy_pj"] for r in records])},
        "dcnn_opt": {"cycles": dc,
                     "energy_pj": add([r["dcnn_opt"]["energy_pj"] for r in records])},
        "speedup_vs_dcnn": _ratio(dc, cycles),
        "oracle_fraction": _ratio(products / multipliers, cycles),
        "verified": None if any(v is None for v in verified) else all(verified),
    }


@dataclass
class SimulationResult:
    """What :func:`scnn_sim.simulate` returns: per-layer records, totals and provenance."""

    meta: dict[str, Any]
    layers: list[LayerResult]
    totals: LayerResult
    outputs: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The documented JSON structure as Python objects."""
        return {**self.meta, "layers": [lr.record for lr in self.layers],
                "totals": self.totals.record}

    def to_json(self, indent: int | None = 2) -> str:
        """JSON text of :meth:`to_dict`."""
        return json.dumps(self.to_dict(), indent=indent)

    def write_json(self, path: str | os.PathLike) -> None:
        """Write the JSON atomically (temporary file, then rename)."""
        atomic_write_json(path, self.to_dict())

    def flat_rows(self) -> list[dict[str, Any]]:
        """One flat dict per layer plus a ``total`` row (nested keys joined with ``.``)."""
        return [flatten(lr.record) for lr in [*self.layers, self.totals]]

    def to_dataframe(self):
        """A pandas DataFrame, one row per layer plus ``total`` (needs pandas installed)."""
        try:
            import pandas as pd
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError("to_dataframe() needs pandas: pip install 'scnn-sim[pandas]'") \
                from exc
        return pd.DataFrame(self.flat_rows()).set_index("name")

    def write_h5(self, path: str | os.PathLike) -> None:
        """Write the flat per-layer table to HDF5 (dataset ``/layers``, provenance attrs)."""
        import io

        import h5py

        rows = self.flat_rows()
        keys = [k for k in rows[0] if not isinstance(rows[0][k], (list, dict))]
        buf = io.BytesIO()
        with h5py.File(buf, "w") as f:
            f.attrs["format"] = "scnn-sim-results"
            f.attrs["meta_json"] = json.dumps(self.meta)
            g = f.create_group("layers")
            for k in keys:
                vals = [r.get(k) for r in rows]
                if all(isinstance(v, str) for v in vals):
                    g.create_dataset(k, data=np.array(vals, dtype=h5py.string_dtype()))
                else:
                    g.create_dataset(k, data=np.array(
                        [np.nan if v is None else float(v) for v in vals]))
        atomic_write_bytes(path, buf.getvalue())


def flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dict -> flat dict with dotted keys."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out
