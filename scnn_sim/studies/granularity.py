"""Granularity study: the same network pruned at several granularities, simulated on SCNN.

Mao et al. 2017 ("Exploring the Regularity of Sparse Structure in CNNs") claim that on SCNN
coarse-grained weight sparsity (``vector`` = kernel rows ``W[k,c,r,:]``, ``kernel`` =
``W[k,c,:,:]``) saves about 2x of the memory references of fine-grained sparsity at the same
density. :func:`granularity_study` runs :func:`scnn_sim.simulate` once per granularity with the
same seed (same dense weights, same activations; only the pruning mask differs), counting the
accumulator read-modify-writes under the three access models of the engine:

``per_product``
    every product is one read-modify-write of an accumulator bank (SCNN as published);
``same_address``
    products of one vector pair (one cycle) to the same address are summed before the bank;
``wide``
    one access serves ``accumulator.wide_words`` adjacent words of one accumulator-buffer row.

Memory references (the definition every record uses)
-----------------------------------------------------
One definition, :func:`scnn_sim.results.records.memory_references`, shared with ``run``: per
structure (accumulator banks, IARAM, OARAM, weight FIFO, DRAM) the accesses at the
structure's native width (an accumulator word or, under ``wide``, ``wide_words`` words; an
IARAM/OARAM entry; a weight-FIFO entry of F weights; a 32-bit DRAM access) and the bits they
move; memory references = the sum of the accesses, next to the bits moved. A read-modify-write
is one read and one write. The study adds ``memory_references_by_access_model``: the same
definition with the accumulator counted under each access model.

Every record also gets ``energy_pj_by_access_model`` (the energy of the record with the
accumulator charged under each model; ``energy_pj`` itself follows the architecture's
``accumulator.access_model``; every access priced at its width) and ``ratios_vs_fine``
(this record over the fine-grained record
of the same layer; ``None`` where the fine value is 0).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import msgspec

from scnn_sim.engine.layer import ACC_MODELS
from scnn_sim.errors import ConfigError, ScnnSimError
from scnn_sim.inputs.arch import ArchConfig, load_arch
from scnn_sim.inputs.options import DEFAULT_WEIGHT_FORMAT, sim_options
from scnn_sim.pricing.energy import COMPONENTS, EnergyTable, load_energy_table
from scnn_sim.results.provenance import provenance
from scnn_sim.results.records import DRAM_WORD_BITS, MEMORY_STRUCTURES
from scnn_sim.results.records import memory_references as _memory_references
from scnn_sim.sparsity.pruning import parse_granularity
from scnn_sim.workload.shapes import Workload
from scnn_sim.workload.tensors import LayerTensors

__all__ = [
    "ACC_MODELS",
    "DEFAULT_GRANULARITIES",
    "DRAM_WORD_BITS",
    "StudyError",
    "granularity_study",
    "memory_references",
    "parse_granularity_list",
    "reprice_study",
    "weight_order_effect",
]

#: Granularities of the study by default (``fine`` is always the reference).
DEFAULT_GRANULARITIES = ("fine", "vector", "kernel", "filter")
#: The :class:`~scnn_sim.inputs.options.SimOptions` fields the study takes (it sets the
#: granularity per simulation and always counts merges).
STUDY_OPTIONS = ("arch", "energy", "density", "seed", "weight_format", "pointwise_group",
                 "layers", "clustered")


class StudyError(ConfigError):
    """Bad arguments of a granularity study (density options, granularity list, order)."""


def parse_granularity_list(granularities: str | Sequence[str]) -> list[str]:
    """Validate a granularity list (comma-separated string or sequence); ``fine`` first.

    Parameters
    ----------
    granularities
        ``"fine,vector,kernel"`` or ``["fine", "vector"]``. Every entry must be a
        granularity :func:`scnn_sim.sparsity.pruning.parse_granularity` accepts. ``fine`` is the
        reference of every ratio: it is added in front when missing.

    Returns
    -------
    list of str
        Canonical specs, ``fine`` first, in the given order otherwise.

    Raises
    ------
    StudyError
        On an empty list, an unknown granularity or a duplicate.
    """
    items = granularities.split(",") if isinstance(granularities, str) else list(granularities)
    items = [str(g).strip() for g in items if str(g).strip()]
    if not items:
        raise StudyError("granularities: give at least one (e.g. fine,vector,kernel,filter)")
    out: list[str] = []
    for item in items:
        try:
            spec = parse_granularity(item).spec
        except ScnnSimError as exc:
            raise StudyError(f"granularities: {exc}") from None
        if spec in out:
            raise StudyError(f"granularities: {spec!r} given twice")
        out.append(spec)
    if "fine" in out:
        out.remove("fine")
    return ["fine", *out]


def _check_density_options(density: float | None, published_densities: bool) -> None:
    if density is not None and published_densities:
        raise StudyError("give either a density or published densities, not both")
    if density is None and not published_densities:
        raise StudyError("give a density (e.g. --density 0.35) or --published-densities")


def _ratio(num: float | None, den: float | None) -> float | None:
    if num is None or den is None or not den:
        return None
    return float(num) / float(den)


def _model_accesses(record: dict[str, Any], model: str) -> dict[str, Any] | None:
    """The record's accesses with the accumulator counted under ``model`` (None if not)."""
    n = record["accumulator_accesses"].get(model)
    if n is None:
        return None
    bits = (record.get("accumulator_access_bits") or {}).get(model)
    if bits is None:
        per = record["accesses"]["acc_read_bits"] / max(record["accesses"]["acc_reads"] or 1, 1)
        bits = n * per
    return dict(record["accesses"], acc_reads=n, acc_writes=n, acc_read_bits=bits,
                acc_write_bits=bits)


def memory_references(record: dict[str, Any],
                      word_bits: int = DRAM_WORD_BITS) -> dict[str, Any]:
    """Memory references of one record under each accumulator access model.

    Parameters
    ----------
    record
        A layer or totals record of :class:`scnn_sim.results.records.SimulationResult`
        simulated with
        ``count_merges=True``.
    word_bits
        Bits per DRAM access.

    Returns
    -------
    dict
        ``{model: scnn_sim.results.records.memory_references(...) or None}`` for every model of
        :data:`ACC_MODELS` (``per_structure``, ``accesses``, ``bits``).
    """
    out: dict[str, Any] = {}
    for m in ACC_MODELS:
        acc = _model_accesses(record, m)
        out[m] = None if acc is None else _memory_references(acc, word_bits)
    return out


def _energy_by_model(record: dict[str, Any], table: EnergyTable) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for m in ACC_MODELS:
        acc = _model_accesses(record, m)
        if acc is None:
            out[m] = None
            continue
        e = table.breakdown(acc)
        e["total"] = sum(e.values())
        out[m] = e
    return out


def _mr(mr: dict[str, Any], m: str, *path: str) -> float | None:
    v: Any = mr.get(m)
    for key in path:
        if v is None:
            return None
        v = v[key]
    return v


def _dram_bits(rec: dict[str, Any]) -> float:
    return sum(v for k, v in rec["accesses"].items() if k.startswith("dram_"))


def _ratios(rec: dict[str, Any], ref: dict[str, Any]) -> dict[str, Any]:
    mr, mf = (rec["memory_references_by_access_model"],
              ref["memory_references_by_access_model"])
    ea, ef = rec["energy_pj_by_access_model"], ref["energy_pj_by_access_model"]
    acc_r, acc_f = rec["accumulator_accesses"], ref["accumulator_accesses"]
    return {
        "products": _ratio(rec["products"], ref["products"]),
        "cycles": _ratio(rec["cycles"], ref["cycles"]),
        "multiplier_utilization": _ratio(rec["multiplier_utilization"],
                                         ref["multiplier_utilization"]),
        "accumulator_accesses": {m: _ratio(acc_r.get(m), acc_f.get(m)) for m in ACC_MODELS},
        "memory_references": {m: _ratio(_mr(mr, m, "accesses"), _mr(mf, m, "accesses"))
                              for m in ACC_MODELS},
        "memory_bits": {m: _ratio(_mr(mr, m, "bits"), _mr(mf, m, "bits")) for m in ACC_MODELS},
        "memory_by_structure": {
            st: {q: {m: _ratio(_mr(mr, m, "per_structure", st, q),
                               _mr(mf, m, "per_structure", st, q)) for m in ACC_MODELS}
                 for q in ("accesses", "bits")}
            for st in (*MEMORY_STRUCTURES, "dram")},
        "dram_bits": _ratio(_dram_bits(rec), _dram_bits(ref)),
        "weight_index_bits": _ratio(rec["accesses"]["dram_read_bits_weight_index"],
                                    ref["accesses"]["dram_read_bits_weight_index"]),
        "energy_pj": {k: _ratio(rec["energy_pj"].get(k), ref["energy_pj"].get(k))
                      for k in (*COMPONENTS, "total")},
        "energy_total_by_access_model": {
            m: _ratio(None if ea[m] is None else ea[m]["total"],
                      None if ef[m] is None else ef[m]["total"]) for m in ACC_MODELS},
    }


def _network_weight_density(records: list[dict[str, Any]]) -> float:
    """Kept weights over all weights of the simulated conv layers."""
    kept = total = 0.0
    for r in records:
        sh = r["shape"]
        n = sh["K"] * (sh["C"] // sh["groups"]) * sh["R"] * sh["S"]
        kept += r["weight_density"] * n
        total += n
    return kept / total if total else 0.0


def _has_published(workload: Any, layers: Sequence[str] | None) -> bool:
    """False only for a workload of shapes whose selected conv layers all use defaults."""
    from scnn_sim.simulation import resolve_workload

    _, wl, tensors = resolve_workload(workload)
    if tensors is not None or wl is None:
        return True  # exported tensors: each layer's own (exported) density
    convs = [lay for lay in wl.layers if lay.kind == "conv"
             and (layers is None or lay.name in set(layers))]
    return not convs or any(lay.density_source == "published" for lay in convs)


# Over 80 lines (101) only for its numpy docstring: the code is 33 lines.
def granularity_study(
    workload: str | os.PathLike | Workload | Sequence[LayerTensors],
    *,
    density: float | None = None,
    published_densities: bool = False,
    granularities: str | Sequence[str] = DEFAULT_GRANULARITIES,
    arch: ArchConfig | str | os.PathLike | None = None,
    energy: EnergyTable | str | os.PathLike | None = None,
    seed: int = 0,
    weight_format: str = DEFAULT_WEIGHT_FORMAT,
    pointwise_group: int = 1,
    layers: Sequence[str] | None = None,
    clustered: float = 0.0,
    progress: bool = False,
) -> dict[str, Any]:
    """Simulate a network once per pruning granularity and compare each with fine-grained.

    Parameters
    ----------
    workload
        Anything :func:`scnn_sim.simulate` accepts (built-in name, YAML, ``.h5``,
        :class:`~scnn_sim.workload.shapes.Workload`, list of
        :class:`~scnn_sim.workload.tensors.LayerTensors`).
    density
        Prune every conv layer to this weight density, in ``[0, 1]``.
    published_densities
        Instead of ``density``: prune each layer to its own density (SCNN Fig. 1 where the
        workload publishes it, the workload's default otherwise). Exactly one of ``density``
        and ``published_densities`` must be given.
    granularities
        Granularities to simulate (comma-separated string or sequence). ``fine`` is the
        reference of the ratios and is always simulated first.
    arch, energy
        Architecture and energy table (objects, shipped names or YAML paths).
    seed
        Seed of the synthetic tensors; the same for every granularity, so every granularity
        prunes the same dense weights and sees the same activations.
    weight_format
        ``"group"`` (default): coarse granularities store one index per kept group in DRAM;
        ``"scnn"``: every granularity uses SCNN's per-weight zero-run format.
    pointwise_group
        What ``vector``/``kernel`` mean on 1x1 layers (1: single weights, i.e. ``fine``).
    layers
        Simulate only these conv layers.
    clustered
        Spatial clustering of synthetic activations, 0..1.
    progress
        Show progress bars on stderr.

    Returns
    -------
    dict
        The :func:`scnn_sim.results.provenance.provenance` fields (format ``scnn-sim-granularity``:
        version, workload and source, full architecture, energy table values, seed, weight
        format, clustering, pointwise group, layers), ``density`` and ``granularities``;
        ``density`` is the float or ``"published"``; ``granularities[g]`` is
        ``{"layers": [record, ...], "totals": record}`` where a record is the ``run --json``
        record (totals also get the network ``weight_density``) plus
        ``memory_references_by_access_model``,
        ``energy_pj_by_access_model`` and ``ratios_vs_fine`` (see the module docstring).

    Raises
    ------
    StudyError
        Neither or both of ``density`` / ``published_densities``, a density outside
        ``[0, 1]``, a bad granularity list or weight format, or published densities asked of
        a workload that has none.
    """
    from scnn_sim.simulation import simulate

    _check_density_options(density, published_densities)
    # The options are checked as every simulation checks them (one model, one error type).
    opts = sim_options(arch=arch, energy=energy, density=density, seed=seed,
                       weight_format=weight_format, pointwise_group=pointwise_group,
                       layers=layers, clustered=clustered, count_merges=True)
    d = opts.density
    grans = parse_granularity_list(granularities)
    arch_cfg = arch if isinstance(arch, ArchConfig) else load_arch(opts.arch)
    table = energy if isinstance(energy, EnergyTable) else load_energy_table(opts.energy)
    layer_list = opts.layers
    opts = msgspec.structs.replace(opts, arch=arch_cfg, energy=table)
    if published_densities and not _has_published(workload, layer_list):
        raise StudyError("published densities: no selected conv layer of this workload has a "
                         "published density (SCNN Fig. 1); give a density instead")

    out: dict[str, Any] = {"granularities": {}}
    for g in grans:
        res = simulate(workload, **{**opts.kwargs(), "granularity": g}, progress=progress)
        if len(out) == 1:  # the first granularity: the workload's name and source are known
            out = {**provenance("scnn-sim-granularity", workload=res.meta["workload"],
                                workload_source=res.meta["workload_source"], arch=arch_cfg,
                                energy=table, seed=opts.seed,
                                weight_format=opts.weight_format, clustered=opts.clustered,
                                pointwise_group=opts.pointwise_group,
                                layers=layer_list,
                                density=d if d is not None else "published"),
                   "granularities": {}}
        out["granularities"][g] = _entry([dict(lr.record) for lr in res.layers],
                                         dict(res.totals.record), table)
    _add_ratios(out["granularities"])
    return out


def _entry(layers: list[dict[str, Any]], totals: dict[str, Any],
           table: EnergyTable) -> dict[str, Any]:
    """One granularity's records with the study's per-access-model fields."""
    entry = {"layers": layers, "totals": totals}
    totals["weight_density"] = _network_weight_density(layers)
    for rec in [*layers, totals]:
        rec["memory_references_by_access_model"] = memory_references(rec)
        rec["energy_pj_by_access_model"] = _energy_by_model(rec, table)
    return entry


def _add_ratios(granularities: dict[str, Any]) -> None:
    fine = granularities["fine"]
    for entry in granularities.values():
        for rec, ref in zip(entry["layers"], fine["layers"], strict=True):
            rec["ratios_vs_fine"] = _ratios(rec, ref)
        entry["totals"]["ratios_vs_fine"] = _ratios(entry["totals"], fine["totals"])


def reprice_study(study: dict[str, Any], table: EnergyTable) -> dict[str, Any]:
    """A granularity study priced with another energy table, without re-simulating.

    Counts are unchanged; every energy field (records, totals, per access model, ratios to
    fine) is recomputed, as :func:`granularity_study` with ``energy=table`` would give.
    """
    from scnn_sim.pricing.layer import price_record
    from scnn_sim.results.provenance import energy_provenance
    from scnn_sim.results.records import totals_record

    a = study["arch"]
    multipliers = (a["pe_array"]["rows"] * a["pe_array"]["cols"] * a["multiplier"]["F"]
                   * a["multiplier"]["I"])
    grans = {}
    for g, entry in study["granularities"].items():
        layers = [price_record(dict(r, dcnn=dict(r["dcnn"]), dcnn_opt=dict(r["dcnn_opt"])),
                               table) for r in entry["layers"]]
        grans[g] = _entry(layers, totals_record(layers, multipliers), table)
    _add_ratios(grans)
    return {**study, "energy_table": table.name, "energy": energy_provenance(table),
            "granularities": grans}


def weight_order_effect(
    workload: str | os.PathLike | Workload | Sequence[LayerTensors],
    *,
    orders: Sequence[str] = ("krs", "rsk"),
    granularities: str | Sequence[str] = ("fine", "vector", "kernel"),
    arch: ArchConfig | str | os.PathLike | None = None,
    **study_kwargs: Any,
) -> dict[str, Any]:
    """The granularity study under several weight orders (``dataflow.weight_order``).

    The weight order is the linear order of a ``(c, k')`` weight block; F consecutive
    non-zeros of it form a weight vector. With ``krs`` (s innermost) a vector of a
    vector/kernel-pruned layer holds neighbouring weights of one kernel row, whose products
    with one activation land on neighbouring outputs of one channel; with ``rsk`` (k
    innermost) the F weights belong to different output channels and nothing merges.

    Parameters
    ----------
    workload
        As for :func:`granularity_study`.
    orders
        Permutations of ``krs`` (first letter outermost) to compare; the first is the
        reference of ``effect``.
    granularities
        As for :func:`granularity_study` (default fine, vector, kernel).
    arch
        The base architecture; only ``dataflow.weight_order`` is changed.
    **study_kwargs
        Other arguments of :func:`granularity_study` (``density`` or
        ``published_densities``, ``seed``, ``layers``...).

    Returns
    -------
    dict
        ``{"workload", "density", "seed", "orders": [...], "studies": {order: study},
        "effect": {granularity: {order: {...}}}}`` where ``effect`` gives, per granularity
        and order, the network-level accumulator read-modify-writes under each model, their
        ratio to fine under that order, and their ratio to the same granularity under the
        first order.
    """
    orders = [str(o).strip().lower() for o in orders]
    if len(orders) < 1 or len(set(orders)) != len(orders):
        raise StudyError(f"weight orders: give distinct permutations of krs, got {orders}")
    base = arch if isinstance(arch, ArchConfig) else load_arch(arch)
    studies: dict[str, Any] = {}
    for order in orders:
        if sorted(order) != ["k", "r", "s"]:
            raise StudyError(f"weight order {order!r}: must be a permutation of krs "
                             "(first letter outermost), e.g. krs or rsk")
        studies[order] = granularity_study(
            workload, arch=base.replace(**{"dataflow.weight_order": order}),
            granularities=granularities, **study_kwargs)
    first = studies[orders[0]]
    effect: dict[str, Any] = {}
    for g in first["granularities"]:
        effect[g] = {}
        for order in orders:
            tot = studies[order]["granularities"][g]["totals"]
            ref = studies[orders[0]]["granularities"][g]["totals"]
            acc = tot["accumulator_accesses"]
            effect[g][order] = {
                "accumulator_accesses": dict(acc),
                "vs_fine": dict(tot["ratios_vs_fine"]["accumulator_accesses"]),
                f"vs_{orders[0]}": {m: _ratio(acc[m], ref["accumulator_accesses"][m])
                                    for m in ACC_MODELS},
                "memory_references_vs_fine": dict(tot["ratios_vs_fine"]["memory_references"]),
                "memory_bits_vs_fine": dict(tot["ratios_vs_fine"]["memory_bits"]),
            }
    return {"workload": first["workload"], "density": first["density"], "seed": first["seed"],
            "orders": orders, "studies": studies, "effect": effect}
