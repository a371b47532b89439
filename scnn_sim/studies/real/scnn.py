"""Export of the pruned models with real activations, and their simulation on SCNN."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from scnn_sim.engine.layer import ACC_MODELS
from scnn_sim.studies.granularity import _ratio, memory_references
from scnn_sim.studies.real.data import DatasetSplit
from scnn_sim.studies.real.errors import RealStudyError
from scnn_sim.studies.real.model import _model_from_state


def _scnn_summary(rec: dict[str, Any]) -> dict[str, Any]:
    mem = memory_references(rec)
    return {
        "cycles": int(rec["cycles"]),
        "multiplier_utilization": float(rec["multiplier_utilization"]),
        "products": int(rec["products"]),
        "dense_macs": int(rec["dense_macs"]),
        "accumulator_accesses": {m: rec["accumulator_accesses"].get(m) for m in ACC_MODELS},
        "memory_references": {m: None if v is None else float(v["accesses"])
                              for m, v in mem.items()},
        "memory_bits": {m: None if v is None else float(v["bits"]) for m, v in mem.items()},
        "dram_bits": int(sum(v for k, v in rec["accesses"].items() if k.startswith("dram_"))),
        "weight_index_bits": int(rec["accesses"]["dram_read_bits_weight_index"]),
        "weight_value_bits": int(rec["accesses"]["dram_read_bits_weight_values"]),
        "energy_pj": {k: float(v) for k, v in rec["energy_pj"].items()},
        "speedup_vs_dcnn": float(rec["speedup_vs_dcnn"]),
    }


def _export_and_simulate(
    torch: Any, data: DatasetSplit, out: Path, dense_state: dict[str, Any],
    snapshots: dict[tuple[str, float], dict[str, Any]],
    accuracy: dict[str, list[dict[str, Any]]], no_loss: dict[str, dict[str, Any]],
    grans: list[str], common: float, *, width: tuple[int, int], seed: int,
    export_batch: int, say: Callable[[str], None],
) -> list[dict[str, Any]]:
    from scnn_sim.simulation import simulate
    from scnn_sim.workload.export import from_torch
    from scnn_sim.workload.h5io import read_stored

    wanted = _wanted_models(grans, common, no_loss)
    inputs = torch.from_numpy(np.ascontiguousarray(data.x_test[:export_batch]))
    prefix = data.name.replace("-", "_")
    entries: list[dict[str, Any]] = []
    for (g, target), roles in wanted.items():
        if g == "dense":
            state, point = dense_state, accuracy["fine"][0]
            fname = f"{prefix}_dense.h5"
        else:
            state = snapshots[(g, target)]
            point = next(p for p in accuracy[g] if p["target"] == target)
            fname = f"{prefix}_{g.replace(':', '-')}_d{target:.3f}.h5"
        model = _model_from_state(torch, data, state, width, seed)
        path = out / fname
        from_torch(model, inputs, path, source_model=f"SmallVGG-{data.name}",
                   granularity="dense" if g == "dense" else g,
                   density=None if g == "dense" else target)
        t0 = time.perf_counter()
        res = simulate(path, granularity=None if g == "dense" else g, count_merges=True,
                       weight_format="scnn" if g in ("dense", "fine") else "group")
        _, stored = read_stored(path)
        layers = _checked_layers(path, stored, res)
        kept = sum(ly["weight_density"] * math.prod(s.tensors.weights.shape)
                   for ly, s in zip(layers, stored, strict=True))
        total = sum(math.prod(s.tensors.weights.shape) for s in stored)
        entry = {
            "granularity": g,
            "roles": roles,
            "target": target,
            "density": kept / total,
            "accuracy": point["accuracy"],
            "file": fname,
            "weight_format": "scnn" if g in ("dense", "fine") else "group",
            "provenance": res.meta,  # scnn_sim.results.provenance: arch, energy values, options
            "totals": _scnn_summary(res.totals.record),
            "layers": layers,
        }
        entries.append(entry)
        say(f"SCNN {g:>7} d={target:<5g} cycles {entry['totals']['cycles']:,} "
            f"({time.perf_counter() - t0:.1f}s)")
    _add_ratios_vs_fine(entries)
    return entries


def _wanted_models(grans: list[str], common: float, no_loss: dict[str, dict[str, Any]]
                   ) -> dict[tuple[str, float], list[str]]:
    """(granularity, target) -> roles; dense first, then per granularity common and own
    no-loss."""
    wanted: dict[tuple[str, float], list[str]] = {("dense", 1.0): ["dense"]}
    for g in grans:
        wanted.setdefault((g, common), []).append("common")
        own = float(no_loss[g]["target"])
        if own < 1.0:
            wanted.setdefault((g, own), []).append("no_loss")
        else:
            wanted[("dense", 1.0)].append(f"no_loss:{g}")
    return wanted


def _checked_layers(path: Path, stored: Any, res: Any) -> list[dict[str, Any]]:
    """Per-layer figures of a simulated exported file, after checking that the exported masks
    are what SCNN simulated (re-pruning at the measured density with the same granularity
    reproduces the mask exactly)."""
    layers = []
    for s, lr_ in zip(stored, res.layers, strict=True):
        mask = s.mask if s.mask is not None else np.ones(s.tensors.weights.shape, bool)
        mask_density = float(np.count_nonzero(mask)) / mask.size
        sim_density = float(lr_.record["weight_density"])
        if abs(sim_density - mask_density) > 1e-12:
            raise RealStudyError(
                f"{path}:{s.tensors.layer.name}: simulated weight density "
                f"{sim_density:.6f} differs from the exported mask's {mask_density:.6f}"
            )
        layers.append({"name": lr_.record["name"], "weight_density": sim_density,
                       "act_density": float(lr_.record["act_density"]),
                       "cycles": int(lr_.record["cycles"]),
                       "products": int(lr_.record["products"]),
                       "multiplier_utilization":
                           float(lr_.record["multiplier_utilization"])})
    return layers


def _add_ratios_vs_fine(entries: list[dict[str, Any]]) -> None:
    """Each entry at the common density gets its totals over fine's (``ratios_vs_fine``)."""
    fine = next((e for e in entries if e["granularity"] == "fine" and "common" in e["roles"]),
                None)
    for e in entries:
        if fine is None or "common" not in e["roles"]:
            e["ratios_vs_fine"] = None
            continue
        a, f = e["totals"], fine["totals"]
        e["ratios_vs_fine"] = {
            "cycles": _ratio(a["cycles"], f["cycles"]),
            "products": _ratio(a["products"], f["products"]),
            "multiplier_utilization": _ratio(a["multiplier_utilization"],
                                             f["multiplier_utilization"]),
            "accumulator_accesses": {m: _ratio(a["accumulator_accesses"][m],
                                               f["accumulator_accesses"][m])
                                     for m in ACC_MODELS},
            "memory_references": {m: _ratio(a["memory_references"][m],
                                            f["memory_references"][m])
                                for m in ACC_MODELS},
            "dram_bits": _ratio(a["dram_bits"], f["dram_bits"]),
            "energy_pj": _ratio(a["energy_pj"]["total"], f["energy_pj"]["total"]),
        }
