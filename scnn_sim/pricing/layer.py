"""Price one layer: the engine's counts (and its dense baselines' counts) x an energy table.

Like Accelergy's energy calculator, this is a loop of action count x table entry over counts
produced elsewhere (:mod:`scnn_sim.engine`); the engine never prices. The one derived figure
is the temporal-tiling penalty: the same counts re-priced without the DRAM re-fetches that
temporal tiling causes (README "Modelling choices", overflow rules).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from scnn_sim.engine.layer import LayerCounts
from scnn_sim.pricing.energy import EnergyTable

__all__ = ["PENALTY_BASELINES", "LayerPrices", "energy_breakdown", "price_layer", "price_record",
           "record_penalty", "temporal_tiling_penalty"]

#: Baselines of the temporal-tiling penalty: ``dram_once``, each input activation read from
#: DRAM once (the record's ``temporal_tiling_penalty``); ``on_chip``, the activations kept on
#: chip (no activation DRAM reads). Both stream the weights once per accumulator pass.
PENALTY_BASELINES = ("dram_once", "on_chip")


@dataclass(frozen=True)
class LayerPrices:
    """The energies of one layer, in pJ: per component of :data:`~scnn_sim.pricing.energy.
    COMPONENTS` plus ``total``, for SCNN and each dense baseline."""

    energy_pj: dict[str, float]
    baselines_pj: dict[str, dict[str, float]]
    temporal_tiling_penalty: float


def energy_breakdown(table: EnergyTable, accesses: Mapping[str, float]) -> dict[str, float]:
    """:meth:`EnergyTable.breakdown` of ``accesses`` plus its ``total`` (pJ)."""
    e = table.breakdown(accesses)
    e["total"] = sum(e.values())
    return e


def price_layer(counts: LayerCounts, baselines: Mapping[str, Mapping[str, Any]],
                table: EnergyTable) -> LayerPrices:
    """Price one layer's counts and its baselines' counts with ``table``.

    Parameters
    ----------
    counts
        The engine's counts of the layer (:func:`scnn_sim.engine.layer.simulate_layer`).
    baselines
        ``{name: {"accesses": ...}}`` of the dense baselines
        (:func:`scnn_sim.engine.baselines.dcnn_counts`).
    table
        The energy table.
    """
    energy = energy_breakdown(table, counts.accesses)
    return LayerPrices(
        energy_pj=energy,
        baselines_pj={k: energy_breakdown(table, v["accesses"]) for k, v in baselines.items()},
        temporal_tiling_penalty=temporal_tiling_penalty(counts, table, energy["total"]))


def temporal_tiling_penalty(c: Any, table: EnergyTable, energy_total: float,
                            baseline: str = "dram_once") -> float:
    """A layer's energy over its energy without temporal-tiling re-fetches.

    The baseline re-prices the same counts (``c.accesses``, ``c.mapping``: a
    :class:`~scnn_sim.engine.layer.LayerCounts` or anything with both) with each input
    activation read from DRAM once (``dram_once``) or not at all (``on_chip``: what the layer
    would cost had its activations stayed on chip, see :data:`PENALTY_BASELINES`), and the
    weights streamed once per accumulator pass (what the layer needs when its activations
    fit); output bits are unchanged (each output is written at most once). 1.0 for layers
    whose activations are resident.
    """
    m = c.mapping
    if m.get("overflow", "resident") == "resident" or not energy_total:
        return 1.0
    base = dict(c.accesses)
    act = m["act_dram_fetches"]
    for key in ("dram_read_bits_act_values", "dram_read_bits_act_index"):
        if baseline == "on_chip":
            base[key] = 0
        else:
            base[key] = c.accesses[key] / act if act else c.accesses[key]
    w = m["accumulator_passes"] / m["weight_dram_fetches"]
    for key in ("dram_read_bits_weight_values", "dram_read_bits_weight_index"):
        base[key] = c.accesses[key] * w
    e = sum(table.breakdown(base).values())
    return energy_total / e if e else 1.0


class _RecordCounts:
    """The counts :func:`temporal_tiling_penalty` reads, taken from a JSON layer record."""

    def __init__(self, accesses: Mapping[str, Any], mapping: Mapping[str, Any]) -> None:
        self.accesses, self.mapping = accesses, mapping


def record_penalty(record: Mapping[str, Any], table: EnergyTable,
                   baseline: str = "dram_once") -> float:
    """:func:`temporal_tiling_penalty` of a priced JSON layer record (its counts and mapping)."""
    return temporal_tiling_penalty(_RecordCounts(record["accesses"], record["mapping"]), table,
                                   record["energy_pj"]["total"], baseline=baseline)


def price_record(record: dict[str, Any], table: EnergyTable) -> dict[str, Any]:
    """Re-price a JSON layer record's energy fields from its counts with ``table``.

    The fields :func:`price_layer` fills: ``energy_pj``, the DCNN and DCNN-opt ``energy_pj``
    and ``temporal_tiling_penalty``. Counts are not touched, so a record re-priced with
    another table equals the record simulated with it (energy = counts x table). Updates
    ``record`` in place (key order kept) and returns it.
    """
    record["energy_pj"] = energy_breakdown(table, record["accesses"])
    for key in ("dcnn", "dcnn_opt"):
        record[key]["energy_pj"] = energy_breakdown(table, record[key]["accesses"])
    record["temporal_tiling_penalty"] = record_penalty(record, table)
    return record
