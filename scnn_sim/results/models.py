"""The structure of the ``run --json`` and ``granularity --json`` results, declared once.

:mod:`scnn_sim.results.records` and :mod:`scnn_sim.simulation` write these results; the classes here
only describe them, for ``scnn-sim schema run-output`` / ``granularity-output`` and the tests
that check real outputs against those schemas. They pin the keys every result has and their
types, and leave open what is open-ended: per-action counts (``accesses``), the mapping
details, the ratios of the granularity study. Energy breakdowns have one key per
:data:`scnn_sim.pricing.energy.COMPONENTS` plus ``total``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from scnn_sim.inputs.arch import ArchModel
from scnn_sim.pricing.energy import COMPONENTS
from scnn_sim.results.provenance import FORMAT_VERSION, WEIGHT_FORMATS

__all__ = ["RunOutput", "GranularityOutput"]

Number = float  # JSON number (an integer is a number too)
Counts = dict[str, Number]

EnergyBreakdown = msgspec.defstruct(
    "EnergyBreakdown", [(c, Number) for c in (*COMPONENTS, "total")], module=__name__,
    kw_only=True)
EnergyBreakdown.__doc__ = "Energy in pJ per component (pricing.energy.COMPONENTS) and total."


class _Open(msgspec.Struct, kw_only=True):
    """A record whose listed keys are required; other keys may be added."""


class StructureReferences(_Open):
    """Accesses to one storage structure and the bits they move."""

    accesses: Number
    bits: Number


class MemoryReferences(_Open):
    """Memory references per structure (accumulator, IARAM, OARAM, weight FIFO, DRAM)."""

    per_structure: dict[str, StructureReferences]
    accesses: Number
    bits: Number


class Baseline(_Open):
    """A dense baseline (DCNN or DCNN-opt, SCNN Table 6) of the same layer."""

    cycles: int
    dram_stall_cycles: int
    energy_pj: EnergyBreakdown


class LayerBaseline(Baseline):
    accesses: Annotated[Counts, Meta(description="per-action counts")]
    memory_references: MemoryReferences


class Shape(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The layer's shape (workload file keys)."""

    C: int
    K: int
    R: int
    S: int
    H: int
    W: int
    stride: int
    padding: int
    groups: int


class _Record(_Open):
    cycles: Annotated[int, Meta(description="accelerator cycles")]
    cycle_breakdown: Annotated[Counts, Meta(description="busy, conflict_stall, barrier_idle, "
                                            "halo, dram_stall, drain_stall (cycles)")]
    oracle_cycles: Number
    products: int
    on_plane_products: int
    vector_pairs: int
    dense_macs: int
    multiplier_utilization: Number
    intra_pe_utilization: Number
    barrier_fraction: Number
    barrier_fraction_active: Number
    active_pes: int
    barrier_idle_active_cycles: Number
    conflict_stall_fraction: Number
    accesses: Annotated[Counts, Meta(description="per-action counts (the engine's action "
                                     "counts, priced by the energy table)")]
    accumulator_accesses: dict[str, int | None]
    accumulator_access_bits: dict[str, int | None]
    memory_references: MemoryReferences
    energy_pj: EnergyBreakdown
    temporal_tiling_penalty: Number
    speedup_vs_dcnn: Number
    oracle_fraction: Number
    verified: Annotated[bool | None, Meta(description="null: not verified (run --verify)")]


class LayerRecord(_Record):
    """One simulated conv layer."""

    name: str
    shape: Shape
    weight_density: Number
    act_density: Number
    dcnn: LayerBaseline
    dcnn_opt: LayerBaseline
    mapping: Annotated[dict[str, Any], Meta(description="how the layer was mapped (Kc, "
                                            "sub-tiles, passes, ...)")]
    max_abs_error: Number | None


class TotalsRecord(_Record):
    """The network: counts summed over the layers, ratios recomputed from the sums."""

    name: Literal["total"]
    dcnn: Baseline
    dcnn_opt: Baseline


class Area(_Open):
    """Silicon area in mm2 (README "Area model")."""

    total: Number
    per_pe: Counts
    dcnn: Number
    dcnn_opt: Number


class EnergyRecord(_Open):
    """The energy table used, with its values."""

    name: str
    technology_node: str
    energy_pj: Annotated[Counts, Meta(description="pJ per action")]
    bits: Annotated[Counts, Meta(description="the width each entry is for")]


class _Provenance(_Open):
    format_version: Literal[FORMAT_VERSION]
    scnn_sim_version: str
    workload: str
    workload_source: str | None
    arch: ArchModel
    energy_table: str
    energy: EnergyRecord
    seed: int
    weight_format: Literal[WEIGHT_FORMATS]
    clustered: Number
    pointwise_group: int
    layer_subset: list[str] | None


class RunOutput(_Provenance):
    """The result of ``scnn-sim run --json`` (SimulationResult.to_dict)."""

    format: Literal["scnn-sim-results"]
    granularity: str | None
    density: Number | None
    area_table: str
    area_mm2: Area
    layers: list[LayerRecord]
    totals: TotalsRecord


#: What the granularity study adds to every record: the three accumulator access models.
_BY_ACCESS_MODEL = [
    ("memory_references_by_access_model", dict[str, MemoryReferences]),
    ("energy_pj_by_access_model", dict[str, EnergyBreakdown]),
    ("ratios_vs_fine", Annotated[dict[str, Any], Meta(
        description="this granularity over fine pruning: numbers, or mappings of them")]),
]

GranularityLayerRecord = msgspec.defstruct(
    "GranularityLayerRecord", _BY_ACCESS_MODEL, bases=(LayerRecord,), module=__name__,
    kw_only=True)
GranularityLayerRecord.__doc__ = "One conv layer pruned at one granularity."

GranularityTotalsRecord = msgspec.defstruct(
    "GranularityTotalsRecord", [("weight_density", Number), *_BY_ACCESS_MODEL],
    bases=(TotalsRecord,), module=__name__, kw_only=True)
GranularityTotalsRecord.__doc__ = "The network at one granularity."


class GranularityResult(_Open):
    """The layers and totals of one granularity."""

    layers: list[GranularityLayerRecord]
    totals: GranularityTotalsRecord


class GranularityOutput(_Provenance):
    """The result of ``scnn-sim granularity --json``: every granularity at one density."""

    format: Literal["scnn-sim-granularity"]
    density: Annotated[Number | None, Meta(description="null: each layer's published "
                                           "density")]
    granularities: Annotated[dict[str, GranularityResult], Meta(
        description="granularity spec (fine first) -> its results")]
