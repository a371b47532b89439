"""Per-layer and network results: the records of a simulation, their network totals, JSON,
HDF5 and DataFrame output.

The records are declared once, in :mod:`scnn_sim.results.fields` (re-exported here):
:class:`LayerRecord`, and :class:`NetworkRecord` generated from it. Each field declares how
its network total is made from the layers' values (``Meta(extra={"total": RULE})``), so
:func:`network_totals` is one loop over the fields; :func:`build_layer_record` fills a layer's
record from the engine's counts (a field of the same name), their prices, the dense baselines
and the input source. A new metric is one field in :class:`LayerRecord` plus its counting
code in the engine (or, for a ratio, its formula in :data:`DERIVED`).

HDF5 output is the result table of :mod:`scnn_sim.results.h5table` (the layout sweeps export
too).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any, get_origin

import msgspec
import numpy as np

from scnn_sim.engine.layer import LayerCounts
from scnn_sim.engine.network import InputSource
from scnn_sim.outputs import atomic_write_json
from scnn_sim.pricing.layer import LayerPrices
from scnn_sim.results.fields import (  # noqa: F401 (re-exported: the records' one declaration)
    CYCLE_KEYS,
    FIELD_TABLE_MARKERS,
    TOTAL_RULES,
    BaselineRecord,
    CycleBreakdown,
    EnergyBreakdown,
    LayerRecord,
    MappingRecord,
    MemoryReferences,
    NetworkRecord,
    Shape,
    StructureReferences,
    annotated_type,
    field_docs,
    field_table,
    flat_columns,
    hints_of,
    plain,
    rule_of,
)
from scnn_sim.workload.tensors import LayerTensors

__all__ = ["TOTAL_RULES", "LayerRecord", "NetworkRecord", "MappingRecord", "CycleBreakdown",
           "BaselineRecord", "EnergyBreakdown", "MemoryReferences", "LayerResult",
           "SimulationResult", "network_totals", "totals_record", "memory_references",
           "memory_record", "field_docs", "flat_columns", "plain", "field_table",
           "first_difference", "flatten", "build_layer_record",
           "CYCLE_KEYS", "DRAM_WORD_BITS", "MEMORY_STRUCTURES", "DERIVED"]

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



def memory_record(accesses: dict[str, Any]) -> MemoryReferences:
    """:func:`memory_references` as a typed :class:`MemoryReferences`."""
    m = memory_references(accesses)
    return MemoryReferences(
        per_structure={k: StructureReferences(**v) for k, v in m["per_structure"].items()},
        accesses=m["accesses"], bits=m["bits"])


def _ratio(num: float, den: float) -> float:
    return float(num) / float(den) if den else 0.0


#: The formula of every ``derived`` field, the same for a layer and for the network:
#: ``f(record fields so far, multipliers)``.
DERIVED: dict[str, Any] = {
    "oracle_cycles": lambda r, m: r["products"] / m,
    "multiplier_utilization": lambda r, m: _ratio(r["products"], r["cycles"] * m),
    "intra_pe_utilization": lambda r, m: _ratio(
        r["products"], (r["cycle_breakdown"].busy + r["cycle_breakdown"].conflict_stall) * m),
    "barrier_fraction": lambda r, m: _ratio(r["cycle_breakdown"].barrier_idle, r["cycles"]),
    "conflict_stall_fraction": lambda r, m: _ratio(r["cycle_breakdown"].conflict_stall,
                                                   r["cycles"]),
    "speedup_vs_dcnn": lambda r, m: _ratio(r["dcnn"].cycles, r["cycles"]),
    "oracle_fraction": lambda r, m: _ratio(r["products"] / m, r["cycles"]),
    "memory_references": lambda r, m: memory_record(r["accesses"]),
}

#: Network totals of the rules that need the layers' values, not only the summed fields.
_OVER_LAYERS: dict[str, Any] = {
    "pe_weighted": lambda name, out, layers: _ratio(
        _add([r.barrier_idle_active_cycles * r.active_pes for r in layers]),
        _add([r.cycles * r.active_pes for r in layers])),
    "energy_harmonic": lambda name, out, layers: _ratio(
        out["energy_pj"].total,
        _add([r.energy_pj.total / getattr(r, name) for r in layers])),
}


def derive(tp: type[msgspec.Struct], values: dict[str, Any], multipliers: int) -> None:
    """Fill the ``derived`` fields of record class ``tp`` in ``values`` (in place)."""
    for name in tp.__struct_fields__:
        if rule_of(tp, name) == "derived":
            values[name] = DERIVED[name](values, multipliers)


def _add(values: Sequence[Any]) -> Any:
    """Sum in layer order; ``None`` if any value is ``None``."""
    out: Any = 0
    for v in values:
        out = None if v is None or out is None else out + v
    return out


def _sum(tp: Any, values: Sequence[Any], multipliers: int) -> Any:
    """The ``sum`` rule: per field of a sub-record, per key of a mapping, else :func:`_add`."""
    if isinstance(tp, type) and issubclass(tp, msgspec.Struct):
        return _combine(tp, tp, values, multipliers)
    if get_origin(tp) is dict:
        keys = list(dict.fromkeys(k for v in values for k in v))
        return {k: _add([v[k] for v in values if k in v]) for k in keys}
    return _add(values)


def _combine(source: type[msgspec.Struct], target: type[msgspec.Struct],
             values: Sequence[Any], multipliers: int) -> Any:
    """A ``target`` record made from ``values`` (of class ``source``) by each field's rule."""
    hints = hints_of(source)
    out: dict[str, Any] = {}
    later = []
    for name in target.__struct_fields__:
        rule = rule_of(source, name)
        vals = [getattr(v, name) for v in values]
        if rule == "sum":
            out[name] = _sum(annotated_type(hints[name]), vals, multipliers)
        elif rule == "max":
            out[name] = max(vals, default=0)
        elif rule == "all":
            out[name] = None if any(v is None for v in vals) else all(vals)
        elif rule == "name":
            out[name] = "total"
        elif rule != "layer":
            out[name] = None
            later.append((name, rule))
    derive(source, out, multipliers)
    for name, rule in later:
        if rule in _OVER_LAYERS:
            out[name] = _OVER_LAYERS[rule](name, out, values)
    return target(**out)


def network_totals(layers: Sequence[LayerRecord], multipliers: int) -> NetworkRecord:
    """The network record of the layers' records, each field by its declared total rule.

    Parameters
    ----------
    layers
        The layers' records, in network order.
    multipliers
        Multipliers of the architecture (for the ratios recomputed from the sums).
    """
    totals: NetworkRecord = _combine(LayerRecord, NetworkRecord, layers, multipliers)
    return totals


def totals_record(records: list[dict[str, Any]], multipliers: int) -> dict[str, Any]:
    """:func:`network_totals` of plain (JSON) layer records, as a plain record."""
    typed = [msgspec.json.decode(json.dumps(r), type=LayerRecord) for r in records]
    out: dict[str, Any] = plain(network_totals(typed, multipliers))
    return out


def build_layer_record(lt: LayerTensors, c: LayerCounts,
                       baselines: dict[str, dict[str, Any]], prices: LayerPrices,
                       source: InputSource | None) -> LayerRecord:
    """The record of one layer: the engine's counts, their prices and where the input came
    from.

    Parameters
    ----------
    lt
        The layer's (pruned) tensors, for the densities.
    c
        The engine's counts (:func:`scnn_sim.engine.layer.simulate_layer`).
    baselines
        The dense baselines' counts (:func:`scnn_sim.engine.baselines.dcnn_counts`).
    prices
        The priced counts (:func:`scnn_sim.pricing.energy.price_layer`).
    source
        Where the layer's input came from (:mod:`scnn_sim.engine.network`); ``None`` for a
        layer simulated on its own (the mapping then has no ``input_source*``, ``producers``).
    """
    layer = lt.layer
    m = c.multipliers
    bd = CycleBreakdown(busy=c.busy_cycles, conflict_stall=c.conflict_stall_cycles,
                        barrier_idle=c.barrier_idle_cycles, halo=c.halo_cycles,
                        dram_stall=c.dram_stall_cycles, drain_stall=c.drain_stall_cycles)
    base = {}
    for key, val in baselines.items():
        b: dict[str, Any] = {
            "cycles": int(val["cycles"]), "dram_stall_cycles": int(val["dram_stall_cycles"]),
            "energy_pj": EnergyBreakdown(**prices.baselines_pj[key]),
            "accesses": dict(val["accesses"])}
        derive(BaselineRecord, b, m)
        base[key] = BaselineRecord(**b)
    mapping: dict[str, Any] = c.mapping  # the engine's MappingRecord fields, by name
    values: dict[str, Any] = {
        "name": layer.name,
        "shape": Shape(C=layer.C, K=layer.K, R=layer.R, S=layer.S, H=layer.H, W=layer.W,
                       stride=layer.stride, padding=layer.padding, groups=layer.groups),
        "weight_density": float(np.count_nonzero(lt.weights)) / lt.weights.size,
        "act_density": float(np.count_nonzero(lt.activations)) / max(lt.activations.size, 1),
        "cycle_breakdown": bd,
        "barrier_fraction_active": _ratio(c.barrier_idle_active_cycles, c.cycles),
        "energy_pj": EnergyBreakdown(**prices.energy_pj),
        "temporal_tiling_penalty": prices.temporal_tiling_penalty,
        "dcnn": base["dcnn"], "dcnn_opt": base["dcnn_opt"],
        "mapping": MappingRecord(**mapping) if source is None else MappingRecord(
            **mapping, input_source=source.input_source, input_source_reason=source.reason,
            producers=list(source.producers)),
    }
    # Every other field is the engine's count of the same name (a new counted metric is a
    # LayerCounts attribute and a LayerRecord field, nothing here); derived fields follow.
    for name in LayerRecord.__struct_fields__:
        if name not in values and rule_of(LayerRecord, name) != "derived":
            v = getattr(c, name)
            values[name] = dict(v) if isinstance(v, dict) else v
    derive(LayerRecord, values, m)
    return LayerRecord(**{k: values[k] for k in LayerRecord.__struct_fields__})


@dataclass
class LayerResult:
    """One layer's (or the network's) results: the typed record and its JSON form."""

    record: dict[str, Any]
    data: LayerRecord | NetworkRecord | None = field(default=None, repr=False)

    @classmethod
    def of(cls, data: LayerRecord | NetworkRecord) -> LayerResult:
        """The result of a typed record."""
        return cls(plain(data), data)

    def __getitem__(self, key: str) -> Any:
        return self.record[key]

    @property
    def name(self) -> str:
        """Layer name (``"total"`` for network totals)."""
        return str(self.record["name"])


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

    def write_json(self, path: str | os.PathLike[str]) -> None:
        """Write the JSON atomically (temporary file, then rename)."""
        atomic_write_json(path, self.to_dict())

    def flat_rows(self) -> list[dict[str, Any]]:
        """One flat dict per layer plus a ``total`` row (nested keys joined with ``.``)."""
        return [flatten(lr.record) for lr in [*self.layers, self.totals]]

    def to_dataframe(self) -> Any:  # a pandas DataFrame; pandas is optional, untyped here
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

    def write_h5(self, path: str | os.PathLike[str]) -> None:
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
