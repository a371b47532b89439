"""Per-layer and network result records, declared once; JSON, schema, table columns, totals.

:class:`LayerRecord` is the one declaration of what a simulated layer reports, and
:class:`NetworkRecord` (generated from it) of the network totals. Everything else comes from
these classes: the ``run --json`` records (:meth:`SimulationResult.to_dict`), the JSON Schema
(``scnn-sim schema run-output``, :mod:`scnn_sim.results.models`), the HDF5/CSV columns
(:func:`flat_columns`, :mod:`scnn_sim.results.h5table`) and the field documentation
(:func:`field_docs`, the ``description`` of every field). Each field also declares how the
network total is made from the layers' values (``Meta(extra={"total": RULE})``, see
:data:`TOTAL_RULES`), so :func:`network_totals` is one loop over the fields.

A new metric is one field here (with its description and total rule) plus its counting code
in the engine.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, get_args, get_origin, get_type_hints

import msgspec
import numpy as np
from msgspec import UNSET, Meta, UnsetType

from scnn_sim.engine.layer import LayerCounts
from scnn_sim.engine.network import InputSource
from scnn_sim.pricing.energy import COMPONENTS
from scnn_sim.pricing.layer import LayerPrices
from scnn_sim.report import atomic_write_json
from scnn_sim.workload.tensors import LayerTensors

__all__ = ["TOTAL_RULES", "LayerRecord", "NetworkRecord", "MappingRecord", "CycleBreakdown",
           "BaselineRecord", "LayerResult", "SimulationResult", "network_totals",
           "totals_record", "memory_references", "memory_record", "field_docs",
           "flat_columns", "plain", "field_table", "write_field_table",
           "first_difference", "flatten", "build_layer_record"]

#: How a field's network total is made from the layers' values (``Meta(extra={"total": ...})``).
TOTAL_RULES = {
    "sum": "the sum over the layers (per key for a mapping, per field for a sub-record; "
           "null if any layer's value is null)",
    "max": "the largest value over the layers",
    "all": "true if every layer's is true, null if any is null",
    "derived": "recomputed from the network's other fields by the formula that defines it "
               "for a layer",
    "pe_weighted": "barrier_idle_active_cycles x active_pes summed over the layers, over "
                   "cycles x active_pes summed",
    "energy_harmonic": "total energy over the sum of the layers' energy / value (the "
                       "energy-weighted harmonic mean)",
    "name": "the text \"total\"",
    "layer": "a layer-only field: absent from the network record",
}


def _f(desc: str, total: str = "sum", **meta: Any) -> Meta:
    """Field metadata: its description (documentation and schema) and its total rule."""
    assert total in TOTAL_RULES, total
    return Meta(description=desc, extra={"total": total}, **meta)


Counts = dict[str, float]
OptCounts = dict[str, "int | None"]


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



class _Record(msgspec.Struct, kw_only=True):
    """A record whose declared keys are required; readers accept other keys (the schema
    leaves records open, so a new field is not a schema break)."""


class Shape(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The layer's shape (workload file keys)."""

    C: Annotated[int, _f("input channels", "layer")]
    K: Annotated[int, _f("output channels", "layer")]
    R: Annotated[int, _f("filter height", "layer")]
    S: Annotated[int, _f("filter width", "layer")]
    H: Annotated[int, _f("input height", "layer")]
    W: Annotated[int, _f("input width", "layer")]
    stride: Annotated[int, _f("stride", "layer")]
    padding: Annotated[int, _f("zero padding on each side", "layer")]
    groups: Annotated[int, _f("convolution groups", "layer")]


class CycleBreakdown(_Record):
    """Where the cycles went (accelerator cycles; mean over the PEs for the first three)."""

    busy: Annotated[float, _f("issuing products (mean over PEs)")]
    conflict_stall: Annotated[float, _f("stalled on accumulator bank conflicts (mean over "
                                        "PEs)")]
    barrier_idle: Annotated[float, _f("waiting at barriers for the slowest PE (mean over "
                                      "PEs)")]
    halo: Annotated[int, _f("exchanging halos between neighbouring PEs")]
    dram_stall: Annotated[int, _f("waiting for DRAM")]
    drain_stall: Annotated[int, _f("waiting for the accumulator buffers to drain")]


#: The causes of :class:`CycleBreakdown`, in order.
CYCLE_KEYS = CycleBreakdown.__struct_fields__

#: Energy in pJ per component (:data:`scnn_sim.pricing.energy.COMPONENTS`) and ``total``.
EnergyBreakdown = msgspec.defstruct(
    "EnergyBreakdown",
    [(c, Annotated[float, _f(f"energy of the {c} (pJ)")]) for c in COMPONENTS]
    + [("total", Annotated[float, _f("sum of the components (pJ)")])],
    bases=(_Record,), module=__name__, kw_only=True)
EnergyBreakdown.__doc__ = "Energy in pJ per component (pricing.energy.COMPONENTS) and total."


class StructureReferences(_Record):
    """Accesses to one storage structure and the bits they move."""

    accesses: Annotated[float, _f("accesses at the structure's native width")]
    bits: Annotated[float, _f("bits the accesses move")]


class MemoryReferences(_Record):
    """Memory references per structure (accumulator, IARAM, OARAM, weight FIFO, DRAM):
    :func:`memory_references` of the record's ``accesses``."""

    per_structure: Annotated[dict[str, StructureReferences], _f("per structure")]
    accesses: Annotated[float, _f("memory references: accesses summed over the structures")]
    bits: Annotated[float, _f("bits moved, summed over the structures")]


class BaselineRecord(_Record):
    """A dense baseline (DCNN or DCNN-opt, SCNN Table 6) of the same layer or network."""

    cycles: Annotated[int, _f("cycles of the baseline")]
    dram_stall_cycles: Annotated[int, _f("cycles waiting for DRAM")]
    energy_pj: Annotated[EnergyBreakdown, _f("energy by component (pJ)")]
    accesses: Annotated[Counts, _f("per-action counts of the baseline")]
    memory_references: Annotated[MemoryReferences, _f("memory references of its accesses",
                                                      "derived")]


class MappingRecord(_Record):
    """How the layer was mapped onto the PEs (README "Mapping"), and where its input came
    from (README "layer chaining")."""

    kc: Annotated[int, _f("output channels per group (Kc)")]
    subtiles: Annotated[list[int], _f("PE sub-tile height and width")]
    passes: Annotated[int, _f("passes over the input (temporal tiling)")]
    work_tiles: Annotated[int, _f("work tiles per PE")]
    buffer: Annotated[list[int], _f("accumulator buffer height and width")]
    output_channel_groups: Annotated[int, _f("groups of Kc output channels")]
    conv_groups: Annotated[int, _f("convolution groups")]
    stride_phases: Annotated[int, _f("stride phases")]
    activations_resident: Annotated[bool, _f("the input activations fit the IARAM")]
    outputs_spill: Annotated[bool, _f("the outputs do not fit the OARAM: written to DRAM")]
    output_shape: Annotated[list[int], _f("shape of the outputs after the PPU (K, P, Q)")]
    pool: Annotated[str, _f("pooling applied by the PPU, or none")]
    pool_ops: Annotated[int, _f("pooling operations")]
    weight_entries: Annotated[int, _f("weight stream entries (placeholders included)")]
    weight_placeholders: Annotated[int, _f("placeholder entries of the weight stream")]
    act_entries: Annotated[int, _f("activation stream entries (placeholders included)")]
    act_placeholders: Annotated[int, _f("placeholder entries of the activation stream")]
    dram_busy_cycles: Annotated[float, _f("cycles DRAM transfers were under way")]
    overflow: Annotated[str, _f("overflow rule when the activations do not fit (resident: "
                                "none)")]
    accumulator_passes: Annotated[int, _f("passes forced by the accumulator capacity")]
    act_dram_fetches: Annotated[float, _f("times each activation entry was read from DRAM")]
    weight_dram_fetches: Annotated[int, _f("times the weights were read from DRAM")]
    # Set for the layers of a network run; absent for a layer simulated on its own.
    input_source: Annotated[Literal["dram", "chained"] | UnsetType, _f(
        "where the input came from (network runs)")] = UNSET
    input_source_reason: Annotated[str | UnsetType, _f("why (network runs)")] = UNSET
    producers: Annotated[list[str] | UnsetType, _f(
        "layers whose outputs form this layer's input (network runs)")] = UNSET


class LayerRecord(_Record):
    """One simulated conv layer: the JSON record of ``run --json`` ``layers[i]``."""

    name: Annotated[str, _f("layer name", "name")]
    shape: Annotated[Shape, _f("the layer's shape", "layer")]
    weight_density: Annotated[float, _f("non-zero weights over all weights (after pruning)",
                                        "layer")]
    act_density: Annotated[float, _f("non-zero input activations over all", "layer")]
    cycles: Annotated[int, _f("accelerator cycles")]
    cycle_breakdown: Annotated[CycleBreakdown, _f("cycles by cause")]
    oracle_cycles: Annotated[float, _f("products / multipliers: perfect utilisation",
                                       "derived")]
    products: Annotated[int, _f("every multiplier product")]
    on_plane_products: Annotated[int, _f("products whose output lies on the output plane "
                                         "(DNNsim's mults)")]
    vector_pairs: Annotated[int, _f("F x I issue slots, summed over PEs")]
    dense_macs: Annotated[int, _f("multiply-accumulates of the dense layer")]
    multiplier_utilization: Annotated[float, _f("products over multiplier slots of all "
                                                "cycles", "derived")]
    intra_pe_utilization: Annotated[float, _f(
        "products over the multiplier slots of PE-cycles issuing or stalled on banks "
        "(SCNN Fig. 10)", "derived")]
    barrier_fraction: Annotated[float, _f("barrier idle over all PEs' cycles", "derived")]
    barrier_fraction_active: Annotated[float, _f(
        "barrier idle of the PEs that hold pixels (active_pes) over the cycles",
        "pe_weighted")]
    active_pes: Annotated[int, _f("PEs holding at least one input pixel", "max")]
    barrier_idle_active_cycles: Annotated[float, _f("mean over the active PEs of the cycles "
                                                    "waiting at barriers")]
    conflict_stall_fraction: Annotated[float, _f("bank-conflict stalls over the cycles",
                                                 "derived")]
    accesses: Annotated[Counts, _f(
        "per-action counts (the engine's action counts, priced by the energy table); keys "
        "starting dram_ are bits, *_bits keys the bits the accesses move")]
    accumulator_accesses: Annotated[OptCounts, _f(
        "accumulator read-modify-writes per access model (per_product, same_address, wide; "
        "null when not counted)")]
    accumulator_access_bits: Annotated[OptCounts, _f(
        "bits one direction of the read-modify-writes moves, per access model")]
    memory_references: Annotated[MemoryReferences, _f("memory references of the accesses",
                                                      "derived")]
    energy_pj: Annotated[EnergyBreakdown, _f("energy by component (pJ)")]
    temporal_tiling_penalty: Annotated[float, _f(
        "energy over the energy without temporal-tiling DRAM re-fetches (1.0 when the "
        "activations are resident)", "energy_harmonic")]
    dcnn: Annotated[BaselineRecord, _f("the dense DCNN baseline (SCNN Table 6)")]
    dcnn_opt: Annotated[BaselineRecord, _f("the DCNN-opt baseline (SCNN Table 6)")]
    speedup_vs_dcnn: Annotated[float, _f("DCNN cycles over SCNN cycles", "derived")]
    oracle_fraction: Annotated[float, _f("oracle cycles over SCNN cycles", "derived")]
    mapping: Annotated[MappingRecord, _f("how the layer was mapped", "layer")]
    verified: Annotated[bool | None, _f("outputs match a dense reference convolution; null: "
                                        "not verified (run --verify)", "all")]
    max_abs_error: Annotated[float | None, _f("largest output error against the reference "
                                              "(null: not verified)", "layer")]


def _rule(tp: type, name: str) -> str:
    """The total rule declared for field ``name`` of record class ``tp`` (default sum)."""
    hint = get_type_hints(tp, include_extras=True)[name]
    for m in getattr(hint, "__metadata__", ()):
        if isinstance(m, Meta) and m.extra and "total" in m.extra:
            return m.extra["total"]
    return "sum"


def _network_fields() -> list[tuple[str, Any]]:
    hints = get_type_hints(LayerRecord, include_extras=True)
    out: list[tuple[str, Any]] = []
    for name in LayerRecord.__struct_fields__:
        rule = _rule(LayerRecord, name)
        if rule == "layer":
            continue
        hint = hints[name]
        if rule == "name":
            hint = Annotated[Literal["total"], Meta(description="total")]
        out.append((name, hint))
    return out


NetworkRecord = msgspec.defstruct("NetworkRecord", _network_fields(), bases=(_Record,),
                                  module=__name__, kw_only=True)
NetworkRecord.__doc__ = ("The network: the fields of LayerRecord that have a total rule, each "
                         "made from the layers by its rule (counts summed, ratios recomputed "
                         "from the sums).")


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


def derive(tp: type, values: dict[str, Any], multipliers: int) -> None:
    """Fill the ``derived`` fields of record class ``tp`` in ``values`` (in place)."""
    for name in tp.__struct_fields__:
        if _rule(tp, name) == "derived":
            values[name] = DERIVED[name](values, multipliers)


def _add(values: Sequence[Any]) -> Any:
    """Sum in layer order; ``None`` if any value is ``None``."""
    out: Any = 0
    for v in values:
        out = None if v is None or out is None else out + v
    return out


def _hint_type(hint: Any) -> Any:
    return get_args(hint)[0] if get_origin(hint) is Annotated else hint


def _sum(tp: Any, values: Sequence[Any], multipliers: int) -> Any:
    """The ``sum`` rule: per field of a sub-record, per key of a mapping, else :func:`_add`."""
    if isinstance(tp, type) and issubclass(tp, msgspec.Struct):
        return _combine(tp, tp, values, multipliers)
    if get_origin(tp) is dict:
        keys = list(dict.fromkeys(k for v in values for k in v))
        return {k: _add([v[k] for v in values if k in v]) for k in keys}
    return _add(values)


def _combine(source: type, target: type, values: Sequence[Any], multipliers: int) -> Any:
    """A ``target`` record made from ``values`` (of class ``source``) by each field's rule."""
    hints = get_type_hints(source, include_extras=True)
    out: dict[str, Any] = {}
    later = []
    for name in target.__struct_fields__:
        rule = _rule(source, name)
        vals = [getattr(v, name) for v in values]
        if rule == "sum":
            out[name] = _sum(_hint_type(hints[name]), vals, multipliers)
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
    return _combine(LayerRecord, NetworkRecord, layers, multipliers)


def totals_record(records: list[dict[str, Any]], multipliers: int) -> dict[str, Any]:
    """:func:`network_totals` of plain (JSON) layer records, as a plain record."""
    typed = [msgspec.json.decode(json.dumps(r), type=LayerRecord) for r in records]
    return plain(network_totals(typed, multipliers))


def plain(obj: Any) -> Any:
    """A record as plain JSON-ready Python (dicts in field order, lists), values untouched."""
    if isinstance(obj, msgspec.Struct):
        return {f: plain(v) for f in obj.__struct_fields__
                if (v := getattr(obj, f)) is not UNSET}
    if isinstance(obj, dict):
        return {k: plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    return obj


def _type_name(tp: Any) -> str:
    tp = _hint_type(tp)
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def field_docs(tp: type = LayerRecord, prefix: str = "") -> list[dict[str, Any]]:
    """The documentation of a record's fields, from the declaration: one row per field
    (sub-records expanded) with its dotted ``path``, ``type``, ``total`` rule and
    ``description``. Open mappings (``accesses``...) are one row, ``path`` ending ``.*``."""
    rows: list[dict[str, Any]] = []
    hints = get_type_hints(tp, include_extras=True)
    for name in tp.__struct_fields__:
        hint = hints[name]
        desc = ""
        for m in getattr(hint, "__metadata__", ()):
            if isinstance(m, Meta) and m.description:
                desc = m.description
        inner = _hint_type(hint)
        path = f"{prefix}{name}"
        if isinstance(inner, type) and issubclass(inner, msgspec.Struct):
            rows.append({"path": path, "type": inner.__name__, "total": _rule(tp, name),
                         "description": desc, "record": True})
            rows.extend(field_docs(inner, path + "."))
            continue
        if get_origin(inner) is dict:
            path += ".*"
        rows.append({"path": path, "type": _type_name(inner), "total": _rule(tp, name),
                     "description": desc})
    return rows


#: Markers of the generated field table in the README (:func:`field_table`).
FIELD_TABLE_MARKERS = ("<!-- record fields: generated by scnn_sim.results.records.field_table"
                       " -->", "<!-- end of record fields -->")


def field_table() -> str:
    """The fields of a layer record as a Markdown table (the README's, between
    :data:`FIELD_TABLE_MARKERS`): dotted path, type, network total rule, description."""
    rows = ["| field | type | network total | description |", "|---|---|---|---|"]
    for d in field_docs(LayerRecord):
        total = "(layer only)" if d["total"] == "layer" else d["total"]
        typ = d["type"].replace("|", "or")
        rows.append(f"| `{d['path']}` | {typ} | {total} | {' '.join(d['description'].split())} |")
    rules = "\n".join(f"- `{k}`: {v}" for k, v in TOTAL_RULES.items() if k != "layer")
    return "\n".join(rows) + "\n\nNetwork total rules:\n\n" + rules + "\n"


def write_field_table(readme: str | os.PathLike) -> bool:
    """Replace the generated field table in ``readme``; return whether it changed."""
    start, end = FIELD_TABLE_MARKERS
    with open(readme) as fh:
        text = fh.read()
    a, b = text.index(start) + len(start), text.index(end)
    new = text[:a] + "\n" + field_table() + text[b:]
    if new != text:
        with open(readme, "w") as fh:
            fh.write(new)
    return new != text


def flat_columns(tp: type = LayerRecord) -> list[str]:
    """The table columns (:mod:`scnn_sim.results.h5table`) a record's declaration fixes, in
    order; a ``.*`` column stands for one column per key of an open mapping (``accesses``)."""
    return [d["path"] for d in field_docs(tp) if not d.get("record")]


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
        b = {"cycles": int(val["cycles"]), "dram_stall_cycles": int(val["dram_stall_cycles"]),
             "energy_pj": EnergyBreakdown(**prices.baselines_pj[key]),
             "accesses": dict(val["accesses"])}
        derive(BaselineRecord, b, m)
        base[key] = BaselineRecord(**b)
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
        "mapping": MappingRecord(**c.mapping) if source is None else MappingRecord(
            **c.mapping, input_source=source.input_source, input_source_reason=source.reason,
            producers=list(source.producers)),
    }
    # Every other field is the engine's count of the same name (a new counted metric is a
    # LayerCounts attribute and a LayerRecord field, nothing here); derived fields follow.
    for name in LayerRecord.__struct_fields__:
        if name not in values and _rule(LayerRecord, name) != "derived":
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
        return self.record["name"]


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
