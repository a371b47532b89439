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

from scnn_sim import __version__
from scnn_sim.arch import ArchConfig, load_arch
from scnn_sim.area import AreaTable, area_model, load_area_table
from scnn_sim.energy import EnergyTable, load_energy_table
from scnn_sim.engine.baselines import dcnn_counts
from scnn_sim.engine.layer import LayerCounts, simulate_layer
from scnn_sim.errors import ConfigError, ScnnSimError, SparsityError, WorkloadError
from scnn_sim.formats import size_group_index
from scnn_sim.results import LayerResult, SimulationResult, totals_record
from scnn_sim.sparsity import parse_granularity, prune, synthetic_activations, synthetic_weights
from scnn_sim.tensors import LayerTensors
from scnn_sim.workload import Layer, Workload, load_workload

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
            from scnn_sim.h5io import read_layers

            wl, tensors = read_layers(workload)
            return wl.name, wl, list(tensors)
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
    arch: ArchConfig | str | os.PathLike | None = None,
    energy: EnergyTable | str | os.PathLike | None = None,
    granularity: str | None = None,
    density: float | None = None,
    seed: int = 0,
    verify: bool = False,
    count_merges: bool | None = None,
    clustered: float = 0.0,
    pointwise_group: int = 1,
    layers: Sequence[str] | None = None,
    weight_format: str = "scnn",
    progress: bool = False,
    area: AreaTable | str | os.PathLike | None = None,
) -> SimulationResult:
    """Simulate the conv layers of a network on SCNN.

    Parameters
    ----------
    workload
        A built-in name (``"alexnet"``), a workload YAML, an exported-layer HDF5 file
        (``.h5``), a :class:`~scnn_sim.workload.Workload`, or a list of
        :class:`~scnn_sim.tensors.LayerTensors`.
    arch, energy
        Architecture (default SCNN's Table 3) and energy table (default ``horowitz45``):
        objects, shipped names or YAML paths.
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
        ``"scnn"``: weights stored in SCNN's per-weight zero-run format. ``"group"``: stored
        in the group-index format of the granularity (one index per kept group; for ``fine``
        the same as ``"scnn"``); changes DRAM weight bits only.
    progress
        Show a progress bar (tqdm) on stderr.
    area
        Area table (default ``scnn16``, SCNN's Table 4): an object, a shipped name or a YAML
        path; the result's ``area_mm2`` (:func:`scnn_sim.area.area_model`).

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
    if weight_format not in ("scnn", "group"):
        raise ConfigError(f"weight_format: must be scnn or group, got {weight_format!r}")
    name, wl, tensors = resolve_workload(workload)
    if tensors is not None:
        items: list[tuple[int, Layer, LayerTensors | None]] = [
            (i, t.layer, t) for i, t in enumerate(tensors)]
    else:
        items = [(i, lay, None) for i, lay in enumerate(wl.layers) if lay.kind == "conv"]
    first_index = items[0][0] if items else None
    next_of = {items[i][0]: items[i + 1] for i in range(len(items) - 1)}
    if layers is not None:
        wanted = set(layers)
        unknown = wanted - {lay.name for _, lay, _ in items}
        if unknown:
            raise WorkloadError(f"{name}: no conv layer named {sorted(unknown)[0]!r}")
        items = [it for it in items if it[1].name in wanted]
    if not items:
        raise WorkloadError(f"{name}: no conv layers to simulate")
    gran = granularity or ("fine" if tensors is None or density is not None else None)

    iterator: Any = items
    if progress:
        from tqdm import tqdm

        iterator = tqdm(items, desc=f"scnn-sim {name}", unit="layer")
    records, outputs = [], {}
    for index, layer, given in iterator:
        lt = given if given is not None else synthesize(layer, index, seed, clustered)
        try:
            lt = _prune_layer(lt, gran, density, pointwise_group)
            out_acts = _output_activations(lt, next_of.get(index), seed, index, clustered)
            storage = None
            if weight_format == "group" and gran not in (None, "fine"):
                storage = size_group_index(lt.weights, gran, value_bits=arch_cfg.value_bits,
                                           index_bits=arch_cfg.index_bits,
                                           pointwise_group=pointwise_group)
            first = index == first_index
            counts = simulate_layer(lt, arch_cfg, verify=verify, input_from_dram=first,
                                    out_activations=out_acts, count_merges=count_merges,
                                    weight_storage=storage)
        except ScnnSimError as exc:
            msg = str(exc)
            raise type(exc)(msg if msg.startswith(layer.name) else f"{layer.name}: {msg}") \
                from None
        records.append(layer_record(lt, counts, arch_cfg, table, input_from_dram=first))
        if verify and counts.output is not None:
            outputs[layer.name] = counts.output
    meta = {
        "scnn_sim_version": __version__,
        "workload": name,
        "workload_source": wl.source if wl is not None else None,
        "arch": arch_cfg.to_dict(),
        "energy_table": table.name,
        "seed": seed,
        "granularity": gran or "as exported",
        "density": density,
        "clustered": clustered,
        "pointwise_group": pointwise_group,
        "weight_format": weight_format,
        "area_table": area_table.name,
        "area_mm2": area_model(arch_cfg, area_table).to_dict(),
    }
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


def _output_activations(lt: LayerTensors, nxt: tuple[int, Layer, LayerTensors | None] | None,
                        seed: int, index: int, clustered: float) -> np.ndarray:
    """The layer's output activations for OARAM counts.

    ``nxt`` is the next conv layer of the network (whether or not it is simulated).
    Exported tensors: the next layer's real input when its shape is this layer's output shape.
    Otherwise synthetic, at the next layer's input density when the next layer consumes this
    layer's K channels, else at this layer's own input density (README, modelling choices).
    """
    layer = lt.layer
    shape = (layer.K, layer.P, layer.Q)
    if nxt is not None and nxt[2] is not None and nxt[2].activations.shape == shape:
        return nxt[2].activations
    dens = layer.act_density
    if nxt is not None and nxt[1].C == layer.K:
        dens = nxt[1].act_density
    return synthetic_activations(shape, dens, _layer_rng(seed, index, 2), clustered=clustered)


def layer_record(lt: LayerTensors, c: LayerCounts, arch: ArchConfig, table: EnergyTable,
                 input_from_dram: bool) -> dict[str, Any]:
    """The JSON record of one layer (see :mod:`scnn_sim.results` for the schema)."""
    layer = lt.layer
    energy = table.breakdown(c.accesses)
    energy["total"] = sum(energy.values())
    base = dcnn_counts(layer, arch, c, input_from_dram)
    dcnn = {}
    for key, val in base.items():
        e = table.breakdown(val["accesses"])
        e["total"] = sum(e.values())
        dcnn[key] = {"cycles": int(val["cycles"]), "energy_pj": e}
    return {
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
        "dense_macs": c.dense_macs,
        "multiplier_utilization": c.multiplier_utilization,
        "barrier_fraction": c.barrier_idle_cycles / c.cycles if c.cycles else 0.0,
        "conflict_stall_fraction": c.conflict_stall_cycles / c.cycles if c.cycles else 0.0,
        "accesses": dict(c.accesses),
        "accumulator_accesses": dict(c.accumulator_accesses),
        "energy_pj": energy,
        "dcnn": dcnn["dcnn"],
        "dcnn_opt": dcnn["dcnn_opt"],
        "speedup_vs_dcnn": dcnn["dcnn"]["cycles"] / c.cycles if c.cycles else 0.0,
        "oracle_fraction": c.oracle_cycles / c.cycles if c.cycles else 0.0,
        "mapping": c.mapping,
        "verified": c.verified,
        "max_abs_error": c.max_abs_error,
    }
