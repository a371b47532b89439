"""The Python entry point: ``scnn_sim.simulate(workload, ...)``.

Pipeline: workload -> tensors (synthetic, seeded; or exported real ones) -> pruning at a
granularity -> engine (cycles and action counts) -> energy table -> results.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from scnn_sim.engine.baselines import dcnn_counts
from scnn_sim.engine.layer import LayerCounts, encode_outputs, simulate_layer
from scnn_sim.errors import ConfigError, ScnnSimError, SparsityError, WorkloadError
from scnn_sim.inputs.arch import ArchConfig, load_arch
from scnn_sim.inputs.limits import check_fixed_density, check_layer_memory, check_mapping_sane
from scnn_sim.pricing.area import AreaTable, area_model, load_area_table
from scnn_sim.pricing.energy import EnergyTable, load_energy_table
from scnn_sim.results.provenance import DEFAULT_WEIGHT_FORMAT, WEIGHT_FORMATS, provenance
from scnn_sim.results.records import LayerResult, SimulationResult, memory_references, totals_record
from scnn_sim.sparsity.formats import size_group_index
from scnn_sim.sparsity.pruning import (
    parse_granularity,
    prune,
    synthetic_activations,
    synthetic_weights,
)
from scnn_sim.workload.npzio import NPZ_SUFFIXES, read_npz_layer
from scnn_sim.workload.shapes import Layer, Workload, chain_producers, load_workload
from scnn_sim.workload.tensors import LayerTensors, validate_tensors

H5_SUFFIXES = (".h5", ".hdf5")


def _layer_rng(seed: int, index: int, what: int) -> np.random.Generator:
    # One independent stream per (seed, layer, tensor): a layer's tensors do not depend on
    # which other layers are simulated, nor on the granularity.
    return np.random.default_rng([seed, index, what])


def synthesize(layer: Layer, index: int, seed: int, clustered: float = 0.0) -> LayerTensors:
    """Seeded dense Gaussian weights and post-ReLU activations at the layer's act density."""
    w = synthetic_weights(layer.weight_shape, _layer_rng(seed, index, 0))
    a = synthetic_activations((layer.C, layer.H, layer.W), layer.act_density,
                              _layer_rng(seed, index, 1), clustered=clustered)
    return LayerTensors(layer, w, a)


def _check_density(density: float | None) -> None:
    if density is not None and not (0.0 <= float(density) <= 1.0):
        raise SparsityError(f"--density: must be within [0, 1], got {density}")


def resolve_workload(workload: str | os.PathLike | Workload | Sequence[LayerTensors]
                     ) -> tuple[str, Workload | None, list[LayerTensors] | None]:
    """(name, workload of shapes, real tensors or None) for any accepted workload argument."""
    if isinstance(workload, Workload):
        return workload.name, workload, None
    if isinstance(workload, (str, os.PathLike)):
        if Path(workload).suffix.lower() in H5_SUFFIXES:
            from scnn_sim.workload.h5io import read_layers

            wl, tensors = read_layers(workload)
            return wl.name, wl, list(tensors)
        if Path(workload).suffix.lower() in NPZ_SUFFIXES:
            wl, tensors = read_npz_layer(workload)
            return wl.name, wl, tensors
        wl = load_workload(workload)
        return wl.name, wl, None
    tensors = list(workload)
    if not tensors or not all(isinstance(t, LayerTensors) for t in tensors):
        raise WorkloadError("workload: expected a name, a YAML/HDF5 path, a Workload or a "
                            "list of LayerTensors")
    return "tensors", None, tensors


def simulate(
    workload: str | os.PathLike | Workload | Sequence[LayerTensors],
    *,
    arch: ArchConfig | str | os.PathLike | Sequence[Any] | None = None,
    energy: EnergyTable | str | os.PathLike | None = None,
    granularity: str | None = None,
    density: float | None = None,
    seed: int = 0,
    verify: bool = False,
    count_merges: bool | None = None,
    clustered: float = 0.0,
    pointwise_group: int = 1,
    layers: Sequence[str] | None = None,
    weight_format: str = DEFAULT_WEIGHT_FORMAT,
    progress: bool = False,
    area: AreaTable | str | os.PathLike | None = None,
) -> SimulationResult:
    """Simulate the conv layers of a network on SCNN.

    Parameters
    ----------
    workload
        A built-in name (``"alexnet"``), a workload YAML, an exported-layer HDF5 file
        (``.h5``), a one-layer numpy file (``.npz``, :mod:`scnn_sim.workload.npzio`), a
        :class:`~scnn_sim.workload.shapes.Workload`, or a list of
        :class:`~scnn_sim.workload.tensors.LayerTensors`.
    arch
        Architecture (default SCNN's Table 3): an object, a shipped name (``"dnnsim"``), a
        YAML path, a nested dict, or a list of names / paths / dicts merged in order (later
        ones override earlier ones), e.g. ``["dnnsim", {"dataflow": {"kc": 8}}]``.
    energy
        Energy table (default ``aladdin40``): an object, a shipped name or a YAML path.
    granularity, density
        Prune the weights at this granularity (``fine``, ``vector``, ``kernel``, ``filter``,
        ``channel``, ``block:...``, ``nm:N:M``) to this weight density. Synthetic workloads
        default to ``fine`` at each layer's published density; exported tensors are used as
        they are unless a granularity or density is given.
    seed
        Seed of the synthetic tensors (results are deterministic for a seed).
    verify
        Check every layer's outputs against a dense reference convolution.
    count_merges
        Also count accumulator accesses under the same-address and wide models.
    clustered
        Spatial clustering of synthetic activations, 0 (uniform) to 1.
    pointwise_group
        What vector/kernel mean on 1x1 layers: blocks of this many input channels.
    layers
        Simulate only these layer names.
    weight_format
        ``"group"`` (default): weights stored in the group-index format of the granularity
        (one index per kept group; for ``fine`` the same as ``"scnn"``). ``"scnn"``: SCNN's
        per-weight zero-run format for every granularity. Changes DRAM weight bits only.
    progress
        Show a progress bar (tqdm) on stderr.
    area
        Area table (default ``scnn16``, SCNN's Table 4): an object, a shipped name or a YAML
        path; the result's ``area_mm2`` (:func:`scnn_sim.pricing.area.area_model`).

    Returns
    -------
    SimulationResult
        Per-layer records, network totals and provenance; ``.to_json()``, ``.to_dataframe()``.
    """
    arch_cfg = arch if isinstance(arch, ArchConfig) else load_arch(arch)
    table = energy if isinstance(energy, EnergyTable) else load_energy_table(energy)
    area_table = area if isinstance(area, AreaTable) else load_area_table(area)
    _check_density(density)
    if granularity is not None:
        parse_granularity(granularity)
    check_fixed_density(granularity, density)
    if weight_format not in WEIGHT_FORMATS:
        raise ConfigError(f"weight_format: must be group or scnn, got {weight_format!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"seed: must be a non-negative integer, got {seed!r}")
    name, wl, tensors = resolve_workload(workload)
    if tensors is not None:
        items: list[tuple[int, Layer, LayerTensors | None]] = [
            (i, t.layer, t) for i, t in enumerate(tensors)]
    else:
        items = [(i, lay, None) for i, lay in enumerate(wl.layers) if lay.kind == "conv"]
    chain = _Chain(items, tensors is not None, arch_cfg, seed, clustered)
    if layers is not None:
        wanted = set(layers)
        unknown = wanted - {lay.name for _, lay, _ in items}
        if unknown:
            raise WorkloadError(f"{name}: no conv layer named {sorted(unknown)[0]!r}")
        items = [it for it in items if it[1].name in wanted]
    if not items:
        raise WorkloadError(f"{name}: no conv layers to simulate")
    gran = granularity or ("fine" if tensors is None or density is not None else None)
    # Every layer is checked before the first one runs: sizes, memory, mapping.
    for _, layer, given in items:
        where = f"{name}:{layer.name}"
        if given is not None:  # also when built around LayerTensors' own check
            validate_tensors(given, where)
        check_mapping_sane(layer, arch_cfg, where)
        check_layer_memory(layer, where, arch_cfg)

    iterator: Any = items
    if progress:
        from tqdm import tqdm

        iterator = tqdm(items, desc=f"scnn-sim {name}", unit="layer")
    records, outputs = [], {}
    for index, layer, given in iterator:
        lt = given if given is not None else synthesize(layer, index, seed, clustered)
        try:
            lt = _prune_layer(lt, gran, density, pointwise_group)
            out_acts = chain.output_activations(index, lt.layer)
            storage = None
            if weight_format == "group" and gran not in (None, "fine"):
                storage = size_group_index(lt.weights, gran, value_bits=arch_cfg.value_bits,
                                           index_bits=arch_cfg.index_bits,
                                           pointwise_group=pointwise_group)
            from_dram, reason = chain.input_from_dram(index, layer)
            counts = simulate_layer(lt, arch_cfg, verify=verify, input_from_dram=from_dram,
                                    out_activations=out_acts, count_merges=count_merges,
                                    weight_storage=storage)
        except ScnnSimError as exc:
            msg = str(exc)
            raise type(exc)(msg if msg.startswith(layer.name) else f"{layer.name}: {msg}") \
                from None
        chain.spilled[layer.name] = bool(counts.mapping["outputs_spill"])
        if not from_dram and not counts.mapping["activations_resident"]:
            from_dram, reason = True, "input does not fit the IARAM: streamed from DRAM"
        counts.mapping["input_source"] = "dram" if from_dram else "chained"
        counts.mapping["input_source_reason"] = reason
        counts.mapping["producers"] = list(chain.producers.get(layer.name) or [])
        records.append(layer_record(lt, counts, arch_cfg, table,
                                    input_from_dram=chain.network_input(index, layer)))
        if verify and counts.output is not None:
            outputs[layer.name] = counts.output
    meta = provenance(
        "scnn-sim-results", workload=name,
        workload_source=wl.source if wl is not None else None, arch=arch_cfg, energy=table,
        seed=seed, weight_format=weight_format, clustered=clustered,
        pointwise_group=pointwise_group, layers=layers,
        granularity=gran or "as exported", density=density)
    meta["area_table"] = area_table.name
    meta["area_mm2"] = area_model(arch_cfg, area_table).to_dict()
    result_layers = [LayerResult(r) for r in records]
    totals = LayerResult(totals_record(records, arch_cfg.multipliers))
    return SimulationResult(meta=meta, layers=result_layers, totals=totals, outputs=outputs)


def _prune_layer(lt: LayerTensors, granularity: str | None, density: float | None,
                 pointwise_group: int) -> LayerTensors:
    if granularity is None and density is None:
        return lt
    target = lt.layer.weight_density if density is None else density
    pruned, _ = prune(lt.weights, target, granularity or "fine",
                      pointwise_group=pointwise_group)
    kept = float(np.count_nonzero(pruned)) / pruned.size
    layer = replace(lt.layer, weight_density=kept)
    return LayerTensors(layer, pruned, lt.activations)


class _Chain:
    """Which layer feeds which, and whether a layer's input is on chip (README "layer
    chaining").

    ``items`` are all conv layers of the network, ``(index, layer, tensors or None)``, in order
    (before any ``layers=`` selection, so a layer's result does not depend on the selection).
    """

    def __init__(self, items: list[tuple[int, Layer, LayerTensors | None]], exported: bool,
                 arch: ArchConfig, seed: int, clustered: float) -> None:
        self.items = items
        self.pos = {index: k for k, (index, _, _) in enumerate(items)}
        self.by_name = {lay.name: k for k, (_, lay, _) in enumerate(items)}
        self.exported = exported
        self.arch, self.seed, self.clustered = arch, seed, clustered
        layers = [lay for _, lay, _ in items]
        self.producers = _exported_producers(layers) if exported else chain_producers(layers)
        self.consumer: dict[str, int] = {}
        for k, lay in enumerate(layers):
            for name in self.producers.get(lay.name) or ():
                self.consumer.setdefault(name, k)
        self.spilled: dict[str, bool] = {}

    def network_input(self, index: int, layer: Layer) -> bool:
        """The layer reads the network's input, or an input of unknown producer, from DRAM."""
        return self.pos[index] == 0 or self.producers.get(layer.name) is None

    def input_from_dram(self, index: int, layer: Layer) -> tuple[bool, str]:
        """Whether the layer's input comes from DRAM, and why (before the IARAM check)."""
        if self.pos[index] == 0:
            return True, "the network's first layer reads its input from DRAM"
        prods = self.producers.get(layer.name)
        if prods is None:
            return True, ("no producer: the input is not the previous layer's output "
                          "(a branch or concatenation without an input field)")
        for name in prods:
            if self._spills(name):
                return True, f"producer {name!r} spilled its outputs to DRAM"
        return False, "on chip: the producers' outputs stay in OARAM, swapped to IARAM"

    def _spills(self, name: str) -> bool:
        if name not in self.spilled:
            index, lay, given = self.items[self.by_name[name]]
            out = self.output_activations(index, lay)
            self.spilled[name] = encode_outputs(lay, out, self.arch)[1]
        return self.spilled[name]

    def output_activations(self, index: int, layer: Layer) -> np.ndarray:
        """The layer's outputs after the PPU (ReLU, pooling), for OARAM counts.

        Exported tensors: the consumer's real input when it is this layer's output alone (its
        plane may be smaller: pooled in the exported model). Synthetic: drawn post-pool,
        ``layer.out_shape``, at the first consumer's input density; without a consumer at the
        next layer's density when it reads K channels, else at this layer's own input density.
        """
        k = self.pos[index]
        c = self.consumer.get(layer.name)
        if self.exported and c is not None and c == k + 1:
            acts = self.items[c][2].activations
            if acts.shape[0] == layer.K and self.producers[self.items[c][1].name] == (
                    layer.name,):
                return acts
        dens = layer.act_density
        if c is not None:
            dens = self.items[c][1].act_density
        elif k + 1 < len(self.items) and self.items[k + 1][1].C == layer.K:
            dens = self.items[k + 1][1].act_density
        return synthetic_activations(layer.out_shape, dens, _layer_rng(self.seed, index, 2),
                                     clustered=self.clustered)


def _exported_producers(layers: list[Layer]) -> dict[str, tuple[str, ...] | None]:
    """Exported networks: the previous layer feeds a layer that reads its K channels on the
    same or a smaller plane (pooled in the model; the file does not store pooling layers)."""
    out: dict[str, tuple[str, ...] | None] = {}
    prev: Layer | None = None
    for lay in layers:
        ok = (prev is not None and prev.K == lay.C and lay.H <= prev.P and lay.W <= prev.Q)
        out[lay.name] = (prev.name,) if ok else None
        prev = lay
    return out


#: Baselines of the temporal-tiling penalty: ``dram_once``, each input activation read from
#: DRAM once (the record's ``temporal_tiling_penalty``); ``on_chip``, the activations kept on
#: chip (no activation DRAM reads). Both stream the weights once per accumulator pass.
PENALTY_BASELINES = ("dram_once", "on_chip")


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


def _priced(accesses: dict[str, Any], table: EnergyTable) -> dict[str, float]:
    energy = table.breakdown(accesses)
    energy["total"] = sum(energy.values())
    return energy


def price_record(record: dict[str, Any], table: EnergyTable) -> dict[str, Any]:
    """Fill (or re-price) a layer record's energy fields from its counts with ``table``.

    The one place that says which fields of a record are priced: ``energy_pj``, the DCNN and
    DCNN-opt ``energy_pj`` and ``temporal_tiling_penalty``. Counts are not touched, so a
    record re-priced with another table equals the record simulated with it (energy =
    counts x table). Updates ``record`` in place (key order kept) and returns it.
    """
    record["energy_pj"] = _priced(record["accesses"], table)
    for key in ("dcnn", "dcnn_opt"):
        record[key]["energy_pj"] = _priced(record[key]["accesses"], table)
    record["temporal_tiling_penalty"] = record_penalty(record, table)
    return record


def record_penalty(record: dict[str, Any], table: EnergyTable,
                   baseline: str = "dram_once") -> float:
    """:func:`temporal_tiling_penalty` of a priced layer record (its counts and mapping)."""
    return temporal_tiling_penalty(_Counts(record["accesses"], record["mapping"]), table,
                                   record["energy_pj"]["total"], baseline=baseline)


class _Counts:
    """The counts :func:`temporal_tiling_penalty` reads, taken from a record."""

    def __init__(self, accesses: dict[str, Any], mapping: dict[str, Any]) -> None:
        self.accesses, self.mapping = accesses, mapping


def layer_record(lt: LayerTensors, c: LayerCounts, arch: ArchConfig, table: EnergyTable,
                 input_from_dram: bool) -> dict[str, Any]:
    """The JSON record of one layer (see :mod:`scnn_sim.results.records` for the schema).

    ``input_from_dram``: the dense baselines read the layer's input from DRAM whatever their
    SRAM holds (the network's first layer, or an input of unknown producer).
    """
    layer = lt.layer
    base = dcnn_counts(layer, arch, c, input_from_dram)
    dcnn = {}
    for key, val in base.items():
        dcnn[key] = {"cycles": int(val["cycles"]),
                     "dram_stall_cycles": int(val["dram_stall_cycles"]), "energy_pj": None,
                     "accesses": dict(val["accesses"]),
                     "memory_references": memory_references(val["accesses"])}
    return price_record({
        "name": layer.name,
        "shape": {"C": layer.C, "K": layer.K, "R": layer.R, "S": layer.S, "H": layer.H,
                  "W": layer.W, "stride": layer.stride, "padding": layer.padding,
                  "groups": layer.groups},
        "weight_density": float(np.count_nonzero(lt.weights)) / lt.weights.size,
        "act_density": float(np.count_nonzero(lt.activations)) / max(lt.activations.size, 1),
        "cycles": c.cycles,
        "cycle_breakdown": {
            "busy": c.busy_cycles, "conflict_stall": c.conflict_stall_cycles,
            "barrier_idle": c.barrier_idle_cycles, "halo": c.halo_cycles,
            "dram_stall": c.dram_stall_cycles, "drain_stall": c.drain_stall_cycles,
        },
        "oracle_cycles": c.oracle_cycles,
        "products": c.products,
        "on_plane_products": c.on_plane_products,
        "vector_pairs": c.vector_pairs,
        "dense_macs": c.dense_macs,
        "multiplier_utilization": c.multiplier_utilization,
        "intra_pe_utilization": c.intra_pe_utilization,
        "barrier_fraction": c.barrier_idle_cycles / c.cycles if c.cycles else 0.0,
        "barrier_fraction_active": (c.barrier_idle_active_cycles / c.cycles
                                    if c.cycles else 0.0),
        "active_pes": c.active_pes,
        "barrier_idle_active_cycles": c.barrier_idle_active_cycles,
        "conflict_stall_fraction": c.conflict_stall_cycles / c.cycles if c.cycles else 0.0,
        "accesses": dict(c.accesses),
        "accumulator_accesses": dict(c.accumulator_accesses),
        "accumulator_access_bits": dict(c.accumulator_access_bits),
        "memory_references": memory_references(c.accesses),
        "energy_pj": None,  # the priced fields: price_record
        "temporal_tiling_penalty": None,
        "dcnn": dcnn["dcnn"],
        "dcnn_opt": dcnn["dcnn_opt"],
        "speedup_vs_dcnn": dcnn["dcnn"]["cycles"] / c.cycles if c.cycles else 0.0,
        "oracle_fraction": c.oracle_cycles / c.cycles if c.cycles else 0.0,
        "mapping": c.mapping,
        "verified": c.verified,
        "max_abs_error": c.max_abs_error,
    }, table)
