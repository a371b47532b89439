"""The envelope of the ``run --json`` and ``granularity --json`` results: provenance, area,
and the layer and network records of :mod:`scnn_sim.results.records` (declared there once).

These classes give ``scnn-sim schema run-output`` / ``granularity-output`` and the tests that
check real outputs against those schemas. They pin the keys every result has and their types,
and leave open what is open-ended: per-action counts (``accesses``), the ratios of the
granularity study, keys a newer version adds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

import msgspec
from msgspec import Meta

from scnn_sim.inputs.arch import ArchModel
from scnn_sim.inputs.options import WeightFormat
from scnn_sim.results.fields import (
    EnergyBreakdown,
    LayerRecord,
    MemoryReferences,
    NetworkRecord,
)
from scnn_sim.results.provenance import FormatVersion

__all__ = ["RunOutput", "GranularityOutput"]

Number = float  # JSON number (an integer is a number too)
Counts = dict[str, Number]


class _Open(msgspec.Struct, kw_only=True):
    """A record whose listed keys are required; other keys may be added."""


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
    format_version: FormatVersion
    scnn_sim_version: str
    workload: str
    workload_source: str | None
    arch: ArchModel
    energy_table: str
    energy: EnergyRecord
    seed: int
    weight_format: WeightFormat
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
    totals: NetworkRecord


#: What the granularity study adds to every record: the three accumulator access models.
_BY_ACCESS_MODEL = [
    ("memory_references_by_access_model", dict[str, MemoryReferences]),
    ("energy_pj_by_access_model", dict[str, EnergyBreakdown]),
    ("ratios_vs_fine", Annotated[dict[str, Any], Meta(
        description="this granularity over fine pruning: numbers, or mappings of them")]),
]

if TYPE_CHECKING:
    class GranularityLayerRecord(msgspec.Struct):  # made at import by defstruct
        def __getattr__(self, name: str) -> Any: ...
else:
    GranularityLayerRecord = msgspec.defstruct(
        "GranularityLayerRecord", _BY_ACCESS_MODEL, bases=(LayerRecord,), module=__name__,
        kw_only=True)
    GranularityLayerRecord.__doc__ = "One conv layer pruned at one granularity."

if TYPE_CHECKING:
    class GranularityTotalsRecord(msgspec.Struct):  # made at import by defstruct
        def __getattr__(self, name: str) -> Any: ...
else:
    GranularityTotalsRecord = msgspec.defstruct(
        "GranularityTotalsRecord", [("weight_density", Number), *_BY_ACCESS_MODEL],
        bases=(NetworkRecord,), module=__name__, kw_only=True)
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
