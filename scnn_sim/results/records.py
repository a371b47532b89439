"""Per-layer and network results: uniform records, JSON, HDF5 and DataFrame output.

HDF5 output is the result table of :mod:`scnn_sim.results.h5table` (the layout sweeps export too).

JSON schema (stable keys; more may be added):

``{"scnn_sim_version", "workload", "arch", "energy_table", "seed", "granularity", "density",
"area_table", "area_mm2", "layers": [record, ...], "totals": record}`` where ``area_mm2`` is
the configuration's area (:mod:`scnn_sim.pricing.area`: mm2 of the chip per component, ``total``,
``per_pe`` with its ``total``, ``dcnn`` and ``dcnn_opt``) and a record has ``name``, ``cycles``,
``cycle_breakdown`` (busy, conflict_stall, barrier_idle, halo, dram_stall, drain_stall; mean
over PEs for the first three), ``oracle_cycles``, ``products`` (every multiplier product),
``on_plane_products`` (those whose output lies on the output plane; DNNsim's ``mults``),
``vector_pairs`` (F x I issue slots, summed over PEs), ``dense_macs``,
``multiplier_utilization`` (products over multiplier slots of all cycles),
``intra_pe_utilization`` (products over the multiplier slots of PE-cycles issuing or stalled
on banks: SCNN's Fig. 10), ``barrier_fraction`` (barrier idle over all PEs' cycles),
``barrier_fraction_active`` (over the ``active_pes`` that hold pixels, the largest count
over layers in totals; ``barrier_idle_active_cycles`` is the mean over those PEs),
``temporal_tiling_penalty`` (energy over
the energy without temporal-tiling DRAM re-fetches; 1.0 when the activations are resident;
the total is total energy over the sum of the baselines), ``conflict_stall_fraction``,
``accesses``
(counts by component; keys starting ``dram_`` are bits), ``accumulator_accesses``
(``per_product``, ``same_address``, ``wide``; ``null`` when not counted), ``energy_pj``
(by component, plus ``total``), ``memory_references`` (:func:`memory_references`),
``accumulator_access_bits`` (bits one direction of the read-modify-writes moves, per access
model), ``dcnn`` and ``dcnn_opt`` (``cycles``, ``dram_stall_cycles``, ``energy_pj``,
``memory_references``), ``speedup_vs_dcnn``, ``oracle_fraction`` (oracle / SCNN cycles),
``mapping`` and ``verified`` (true / false / null when not checked).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from scnn_sim.outputs import atomic_write_json

CYCLE_KEYS = ("busy", "conflict_stall", "barrier_idle", "halo", "dram_stall", "drain_stall")
#: Bits of one DRAM access when DRAM traffic is counted in accesses (memory references).
DRAM_WORD_BITS = 32
#: Memory structures of :func:`memory_references`: (access count keys, bits keys).
MEMORY_STRUCTURES = {
    "accumulator": (("acc_reads", "acc_writes", "acc_drain_reads"),
                    ("acc_read_bits", "acc_write_bits", "acc_drain_read_bits")),
    "iaram": (("iaram_reads", "iaram_writes"), ("iaram_read_bits", "iaram_write_bits")),
    "oaram": (("oaram_writes",), ("oaram_write_bits",)),
    "weight_fifo": (("weight_fifo_reads", "weight_fifo_writes"),
                    ("weight_fifo_read_bits", "weight_fifo_write_bits")),
}


def memory_references(accesses: dict[str, Any],
                      dram_word_bits: int = DRAM_WORD_BITS) -> dict[str, Any]:
    """Memory references of one record's ``accesses``: the one definition scnn-sim uses.

    Per structure (accumulator banks, IARAM, OARAM, weight FIFO, DRAM), ``accesses`` counts
    accesses at the structure's native width (an accumulator word, or ``wide_words`` words
    under the wide model; an IARAM/OARAM entry of value + index; a FIFO entry of F weights;
    a DRAM access of ``dram_word_bits`` bits) and ``bits`` the bits they move. *Memory
    references* = the sum of the accesses over the structures; ``bits`` = the bits moved.
    Transfers over wires (crossbar, halo links, weight broadcast) are not memory references.

    Parameters
    ----------
    accesses
        The ``accesses`` dict of a record (engine :data:`~scnn_sim.engine.layer.ACCESS_KEYS`).
    dram_word_bits
        Bits per DRAM access.

    Returns
    -------
    dict
        ``{"per_structure": {name: {"accesses", "bits"}}, "accesses", "bits"}``.
    """
    per: dict[str, dict[str, float]] = {}
    for name, (counts, bits) in MEMORY_STRUCTURES.items():
        per[name] = {"accesses": sum(accesses.get(k, 0) or 0 for k in counts),
                     "bits": sum(accesses.get(k, 0) or 0 for k in bits)}
    dram_bits = sum(v for k, v in accesses.items() if k.startswith("dram_"))
    per["dram"] = {"accesses": dram_bits / dram_word_bits, "bits": dram_bits}
    return {"per_structure": per,
            "accesses": sum(v["accesses"] for v in per.values()),
            "bits": sum(v["bits"] for v in per.values())}


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


def first_difference(a: Any, b: Any, *, ignore: Collection[str] = (), strict_types: bool = True,
                     path: str = "") -> str | None:
    """Where two JSON-like results first differ, or ``None`` when they are identical.

    Used to check that an optimisation changes no result (``tests/test_regression_pin.py``,
    ``benchmarks/bench_identity.py``).

    Parameters
    ----------
    a, b
        Nested dicts, lists and scalars (e.g. two ``SimulationResult.to_json()`` documents).
    ignore
        Dict keys skipped at every depth (provenance, wall times).
    strict_types
        Also require equal types (``1`` differs from ``1.0``). Two NaNs are equal.
    path
        Prefix of the reported path.

    Returns
    -------
    str or None
        ``".layers[2].cycles: 10 != 11"``-style description of the first difference.
    """
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k in ignore:
                continue
            if k not in a or k not in b:
                return f"{path}.{k}: present in only one record"
            d = first_difference(a[k], b[k], ignore=ignore, strict_types=strict_types,
                                 path=f"{path}.{k}")
            if d:
                return d
        return None
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{path}: length {len(a)} != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            d = first_difference(x, y, ignore=ignore, strict_types=strict_types,
                                 path=f"{path}[{i}]")
            if d:
                return d
        return None
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return None
    same = a == b and (not strict_types or type(a) is type(b))
    return None if same else f"{path}: {a!r} != {b!r}"


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
    energy = add([r["energy_pj"] for r in records])
    products = sum(r["products"] for r in records)
    bd = add([r["cycle_breakdown"] for r in records])
    dc = sum(r["dcnn"]["cycles"] for r in records)
    verified = [r["verified"] for r in records]
    accesses = add([r["accesses"] for r in records])
    base = {key: add([r[key]["accesses"] for r in records]) for key in ("dcnn", "dcnn_opt")
            if all("accesses" in r[key] for r in records)}
    return {
        "name": "total",
        "cycles": cycles,
        "cycle_breakdown": bd,
        "oracle_cycles": products / multipliers,
        "products": products,
        "on_plane_products": sum(r.get("on_plane_products", 0) for r in records),
        "vector_pairs": sum(r.get("vector_pairs", 0) for r in records),
        "dense_macs": sum(r["dense_macs"] for r in records),
        "multiplier_utilization": _ratio(products, cycles * multipliers),
        "intra_pe_utilization": _ratio(products, (bd["busy"] + bd["conflict_stall"])
                                       * multipliers),
        "barrier_fraction": _ratio(bd["barrier_idle"], cycles),
        "barrier_fraction_active": _ratio(
            sum(r["barrier_idle_active_cycles"] * r["active_pes"] for r in records),
            sum(r["cycles"] * r["active_pes"] for r in records)),
        "active_pes": max((r["active_pes"] for r in records), default=0),
        "barrier_idle_active_cycles": sum(r["barrier_idle_active_cycles"] for r in records),
        "conflict_stall_fraction": _ratio(bd["conflict_stall"], cycles),
        "accesses": accesses,
        "accumulator_accesses": add([r["accumulator_accesses"] for r in records]),
        "accumulator_access_bits": add([r.get("accumulator_access_bits", {})
                                        for r in records]),
        "memory_references": memory_references(accesses),
        "energy_pj": energy,
        "temporal_tiling_penalty": _ratio(
            energy["total"], sum(r["energy_pj"]["total"] / r["temporal_tiling_penalty"]
                                 for r in records)),
        **{key: {"cycles": dc,
                 "dram_stall_cycles": sum(r[key].get("dram_stall_cycles", 0) for r in records),
                 "energy_pj": add([r[key]["energy_pj"] for r in records]),
                 **({"accesses": base[key], "memory_references": memory_references(base[key])}
                    if key in base else {})}
           for key in ("dcnn", "dcnn_opt")},
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

    def table_rows(self) -> list[dict[str, Any]]:
        """The rows of a result table (:mod:`scnn_sim.results.h5table`): ``layer`` (``total`` last),
        every flat record key (:meth:`flat_rows`), then the configuration's area
        ``area_mm2.*`` (the same metric columns as each point of a sweep)."""
        area = flatten({"area_mm2": self.meta["area_mm2"]}) if "area_mm2" in self.meta else {}
        rows = []
        for r in self.flat_rows():
            name = r.pop("name")
            rows.append({"layer": name, **r, **area})
        return rows

    def write_h5(self, path: str | os.PathLike) -> None:
        """Write the result table to HDF5 (:mod:`scnn_sim.results.h5table`, kind ``run``),
        atomically.

        One row per layer plus ``total`` (:meth:`table_rows`); the provenance (:attr:`meta`)
        is the root attribute ``provenance_json``.
        """
        from scnn_sim.results.h5table import write_table

        write_table(path, self.table_rows(), kind="run", provenance=self.meta)


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
