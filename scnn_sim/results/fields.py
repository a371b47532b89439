"""The result records, declared once: :class:`LayerRecord` and its sub-records, and
:class:`NetworkRecord` generated from it.

Each field carries its description (documentation, JSON Schema) and the rule that makes its
network total from the layers' values (``Meta(extra={"total": RULE})``, :data:`TOTAL_RULES`;
applied by :func:`scnn_sim.results.records.network_totals`). From these classes come the
``run --json`` records (:func:`plain`), the JSON Schema (:mod:`scnn_sim.results.models`), the
table columns (:func:`flat_columns`) and the field table of the docs (:func:`field_table`).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Annotated, Any, Literal, get_args, get_origin, get_type_hints

import msgspec
from msgspec import UNSET, Meta, UnsetType

from scnn_sim.pricing.energy import COMPONENTS

__all__ = ["TOTAL_RULES", "BaselineRecord", "CycleBreakdown", "EnergyBreakdown",
           "LayerRecord", "MappingRecord", "MemoryReferences", "NetworkRecord", "Shape",
           "StructureReferences", "CYCLE_KEYS", "FIELD_TABLE_MARKERS", "field_docs",
           "field_table", "flat_columns", "plain", "rule_of",
           "annotated_type", "hints_of"]

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


Counts = dict[str, "int | float"]  # ints stay ints (exact counts), bits may be fractional
OptCounts = dict[str, "int | None"]

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
if TYPE_CHECKING:
    class EnergyBreakdown(msgspec.Struct):  # made at import by defstruct
        def __getattr__(self, name: str) -> Any: ...
else:
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


@functools.cache
def hints_of(tp: type) -> dict[str, Any]:
    """The field annotations of a record class (``Annotated``, resolved once)."""
    return get_type_hints(tp, include_extras=True)


def rule_of(tp: type, name: str) -> str:
    """The total rule declared for field ``name`` of record class ``tp`` (default sum)."""
    for m in getattr(hints_of(tp)[name], "__metadata__", ()):
        if isinstance(m, Meta) and m.extra and "total" in m.extra:
            return str(m.extra["total"])
    return "sum"


def _network_fields() -> list[tuple[str, Any]]:
    hints = get_type_hints(LayerRecord, include_extras=True)
    out: list[tuple[str, Any]] = []
    for name in LayerRecord.__struct_fields__:
        rule = rule_of(LayerRecord, name)
        if rule == "layer":
            continue
        hint = hints[name]
        if rule == "name":
            hint = Annotated[Literal["total"], Meta(description="total")]
        out.append((name, hint))
    return out


if TYPE_CHECKING:
    class NetworkRecord(msgspec.Struct):  # made at import by defstruct
        def __getattr__(self, name: str) -> Any: ...
else:
    NetworkRecord = msgspec.defstruct("NetworkRecord", _network_fields(), bases=(_Record,),
                                      module=__name__, kw_only=True)
    NetworkRecord.__doc__ = ("The network: the fields of LayerRecord that have a total rule, each "
                             "made from the layers by its rule (counts summed, ratios recomputed "
                             "from the sums).")


def annotated_type(hint: Any) -> Any:
    """The type inside an ``Annotated[...]`` hint (the hint itself otherwise)."""
    return get_args(hint)[0] if get_origin(hint) is Annotated else hint


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
    tp = annotated_type(tp)
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def field_docs(tp: type[msgspec.Struct] = LayerRecord, prefix: str = "") -> list[dict[str, Any]]:
    """The documentation of a record's fields, from the declaration: one row per field
    (sub-records expanded) with its dotted ``path``, ``type``, ``total`` rule and
    ``description``. Open mappings (``accesses``...) are one row, ``path`` ending ``.*``."""
    rows: list[dict[str, Any]] = []
    hints = hints_of(tp)
    for name in tp.__struct_fields__:
        hint = hints[name]
        desc = ""
        for m in getattr(hint, "__metadata__", ()):
            if isinstance(m, Meta) and m.description:
                desc = m.description
        inner = annotated_type(hint)
        path = f"{prefix}{name}"
        if isinstance(inner, type) and issubclass(inner, msgspec.Struct):
            rows.append({"path": path, "type": inner.__name__, "total": rule_of(tp, name),
                         "description": desc, "record": True})
            rows.extend(field_docs(inner, path + "."))
            continue
        if get_origin(inner) is dict:
            path += ".*"
        rows.append({"path": path, "type": _type_name(inner), "total": rule_of(tp, name),
                     "description": desc})
    return rows


#: Markers of the generated field table in the docs (docs/formats.md, filled by
#: ``python docs/regen.py`` from :func:`field_table` through ``docs/tables.py record_fields``).
FIELD_TABLE_MARKERS = ("<!-- include: docs/tables.py record_fields -->", "<!-- /include -->")


def field_table() -> str:
    """The fields of a layer record as a Markdown table (the docs' file-format page, between
    :data:`FIELD_TABLE_MARKERS`): dotted path, type, network total rule, description."""
    rows = ["| field | type | network total | description |", "|---|---|---|---|"]
    for d in field_docs(LayerRecord):
        total = "(layer only)" if d["total"] == "layer" else d["total"]
        typ = d["type"].replace("|", "or")
        rows.append(f"| `{d['path']}` | {typ} | {total} | {' '.join(d['description'].split())} |")
    rules = "\n".join(f"- `{k}`: {v}" for k, v in TOTAL_RULES.items() if k != "layer")
    return "\n".join(rows) + "\n\nNetwork total rules:\n\n" + rules + "\n"


def flat_columns(tp: type = LayerRecord) -> list[str]:
    """The table columns (:mod:`scnn_sim.results.h5table`) a record's declaration fixes, in
    order; a ``.*`` column stands for one column per key of an open mapping (``accesses``)."""
    return [d["path"] for d in field_docs(tp) if not d.get("record")]
