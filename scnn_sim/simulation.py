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
from scnn_sim.engine.layer import LayerCounts
from scnn_sim.engine.network import InputSource, Network, synthesize
from scnn_sim.errors import ScnnSimError, WorkloadError
from scnn_sim.inputs.arch import ArchConfig, load_arch
from scnn_sim.inputs.limits import check_fixed_density, check_layer_memory, check_mapping_sane
from scnn_sim.inputs.options import DEFAULT_WEIGHT_FORMAT, SimOptions, sim_options
from scnn_sim.pricing.area import AreaTable, area_model, load_area_table
from scnn_sim.pricing.energy import EnergyTable, load_energy_table
from scnn_sim.pricing.layer import price_layer
from scnn_sim.results.provenance import provenance
from scnn_sim.results.records import (
    LayerRecord,
    LayerResult,
    SimulationResult,
    build_layer_record,
    network_totals,
    plain,
)
from scnn_sim.sparsity.formats import size_group_index
from scnn_sim.sparsity.pruning import parse_granularity, prune
from scnn_sim.workload.npzio import NPZ_SUFFIXES, read_npz_layer
from scnn_sim.workload.shapes import Layer, Workload, load_workload
from scnn_sim.workload.tensors import LayerTensors, validate_tensors

H5_SUFFIXES = (".h5", ".hdf5")


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
    tensors = list(workload) if isinstance(workload, (list, tuple)) else []
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
    opts = sim_options(arch=arch, energy=energy, area=area, granularity=granularity,
                       density=density, seed=seed, verify=verify, count_merges=count_merges,
                       clustered=clustered, pointwise_group=pointwise_group, layers=layers,
                       weight_format=weight_format)
    return run_pipeline(workload, opts, progress=progress)


def run_pipeline(workload: str | os.PathLike | Workload | Sequence[LayerTensors],
                 opts: SimOptions, *, progress: bool = False) -> SimulationResult:
    """:func:`simulate` with validated options: inputs -> engine -> pricing -> records."""
    arch_cfg = opts.arch if isinstance(opts.arch, ArchConfig) else load_arch(opts.arch)
    table = opts.energy if isinstance(opts.energy, EnergyTable) \
        else load_energy_table(opts.energy)
    area_table = opts.area if isinstance(opts.area, AreaTable) else load_area_table(opts.area)
    granularity, density, layers = opts.granularity, opts.density, opts.layers
    seed, clustered, pointwise_group = opts.seed, opts.clustered, opts.pointwise_group
    if granularity is not None:
        parse_granularity(granularity)
    check_fixed_density(granularity, density)
    name, wl, tensors = resolve_workload(workload)
    if tensors is not None:
        items: list[tuple[int, Layer, LayerTensors | None]] = [
            (i, t.layer, t) for i, t in enumerate(tensors)]
    else:
        assert wl is not None  # resolve_workload returns shapes whenever it has no tensors
        items = [(i, lay, None) for i, lay in enumerate(wl.layers) if lay.kind == "conv"]
    network = Network(items, tensors is not None, arch_cfg, seed, clustered)
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
            storage = None
            if opts.weight_format == "group" and gran not in (None, "fine"):
                storage = size_group_index(lt.weights, gran, value_bits=arch_cfg.value_bits,
                                           index_bits=arch_cfg.index_bits,
                                           pointwise_group=pointwise_group)
            counts, source = network.simulate(index, lt, verify=opts.verify,
                                              count_merges=opts.count_merges,
                                              weight_storage=storage)
        except ScnnSimError as exc:
            msg = str(exc)
            raise type(exc)(msg if msg.startswith(layer.name) else f"{layer.name}: {msg}") \
                from None
        records.append(record_layer(lt, counts, source, network.network_input(index, layer),
                                    arch_cfg, table))
        if opts.verify and counts.output is not None:
            outputs[layer.name] = counts.output
    meta = provenance(
        "scnn-sim-results", workload=name,
        workload_source=wl.source if wl is not None else None, arch=arch_cfg, energy=table,
        seed=seed, weight_format=opts.weight_format, clustered=clustered,
        pointwise_group=pointwise_group, layers=layers,
        granularity=gran or _recorded_granularity(workload) or "as exported", density=density)
    meta["area_table"] = area_table.name
    meta["area_mm2"] = area_model(arch_cfg, area_table).to_dict()
    totals = network_totals(records, arch_cfg.multipliers)
    return SimulationResult(meta=meta, layers=[LayerResult.of(r) for r in records],
                            totals=LayerResult.of(totals), outputs=outputs)


def record_layer(lt: LayerTensors, counts: LayerCounts, source: InputSource | None,
                 network_input: bool, arch: ArchConfig, table: EnergyTable) -> LayerRecord:
    """Engine counts -> dense baselines -> prices -> the layer's typed record.

    ``network_input``: the dense baselines read the layer's input from DRAM whatever their
    SRAM holds (the network's first layer, or an input of unknown producer).
    """
    baselines = dcnn_counts(lt.layer, arch, counts, network_input)
    prices = price_layer(counts, baselines, table)
    return build_layer_record(lt, counts, baselines, prices, source)


def layer_record(lt: LayerTensors, c: LayerCounts, arch: ArchConfig, table: EnergyTable,
                 input_from_dram: bool) -> dict[str, Any]:
    """The JSON record of one layer simulated on its own (no network: no input source).

    ``input_from_dram``: the dense baselines read the layer's input from DRAM.
    """
    return plain(record_layer(lt, c, None, input_from_dram, arch, table))


def _recorded_granularity(workload: Any) -> str | None:
    """What an exported-layer file says its weights were pruned at (header and provenance)."""
    if isinstance(workload, (str, os.PathLike)) and Path(workload).suffix.lower() in H5_SUFFIXES:
        from scnn_sim.workload.export import recorded_granularity

        return recorded_granularity(workload)
    return None


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
