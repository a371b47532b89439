"""Simulate one convolution layer on SCNN: mapping, compressed streams, kernel, timeline.

The input is a :class:`~scnn_sim.workload.tensors.LayerTensors` (pruned weights and input
activations);
the output is a :class:`LayerCounts`: cycles by cause and action counts by component. Energy is
not computed here (see :mod:`scnn_sim.pricing.energy`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from scnn_sim.engine import kernels
from scnn_sim.engine.mapping import (  # noqa: F401  (re-exported: engine.layer's old API)
    MappingPlan,
    Tiling,
    _encode_weights,
    _order_axes,
    _tile_entries,
    channel_bits,
    channel_chunks,
    choose_mapping,
    handover_bits,
    owner_bounds,
    phases,
    plan_mapping,
    split_bounds,
)
from scnn_sim.engine.ppu import pool2d, pool_ops, pooled_owner_bounds
from scnn_sim.engine.schedule import (  # noqa: F401  (dnnsim_halo_words: re-exported)
    KernelRun,
    Schedule,
    active_pes,
    dnnsim_halo_words,
    schedule_layer,
)
from scnn_sim.engine.timeline import run_timeline
from scnn_sim.errors import SimulationError
from scnn_sim.inputs.arch import ArchConfig
from scnn_sim.sparsity.formats import FormatSize, RLEStream, rle_encode_blocks
from scnn_sim.workload.shapes import Layer
from scnn_sim.workload.tensors import LayerTensors

#: Keys of LayerCounts.accesses. Counts are accesses at the structure's native width (an
#: accumulator word, or ``wide_words`` words under the wide model; a weight-FIFO entry of F
#: weights; an IARAM/OARAM entry of value + index) or operations; ``*_bits`` keys are the
#: bits those accesses move; ``dram_*`` keys are DRAM bits; ``leakage_*`` keys are
#: multiplier-cycles and KB-of-SRAM-cycles (README "Modelling choices", energy).
ACCESS_KEYS = (
    "multiplies", "adds", "coord_ops", "crossbar_transfers", "crossbar_bits",
    "acc_reads", "acc_writes", "acc_drain_reads", "acc_read_bits", "acc_write_bits",
    "acc_drain_read_bits", "iaram_reads", "iaram_read_bits", "iaram_writes",
    "iaram_write_bits", "oaram_writes", "oaram_write_bits", "weight_fifo_reads",
    "weight_fifo_writes", "weight_fifo_read_bits", "weight_fifo_write_bits",
    "weight_broadcasts", "weight_broadcast_bits", "ppu_ops", "halo_words", "halo_bits",
    "dram_read_bits_weight_values", "dram_read_bits_weight_index",
    "dram_read_bits_act_values", "dram_read_bits_act_index", "dram_write_bits_values",
    "dram_write_bits_index", "leakage_multiplier_cycles", "leakage_sram_kb_cycles",
)
ACC_MODELS = ("per_product", "same_address", "wide")


@dataclass
class LayerCounts:
    """What the engine measured for one layer (cycles in accelerator cycles)."""

    name: str
    cycles: int
    busy_cycles: float            # mean over PEs of issue cycles
    conflict_stall_cycles: float  # mean over PEs of bank-conflict stalls
    barrier_idle_cycles: float    # mean over PEs of waiting at barriers
    halo_cycles: int
    dram_stall_cycles: int
    drain_stall_cycles: int
    products: int
    vector_pairs: int
    multipliers: int
    accesses: dict[str, int | float]   # counts are ints; leakage kB-cycles are fractional
    accumulator_accesses: dict[str, int | None]
    mapping: dict[str, object]
    dense_macs: int
    on_plane_products: int = 0    # products whose output lies on the output plane
    verified: bool | None = None
    max_abs_error: float | None = None
    active_pes: int = 0                      # PEs holding at least one input pixel
    barrier_idle_active_cycles: float = 0.0  # mean over active PEs of waiting at barriers
    output: np.ndarray | None = field(default=None, repr=False)
    #: Bits moved by one direction (read or write) of the accumulator read-modify-writes under
    #: each access model: accesses x (acc_bits, or acc_bits x wide_words for ``wide``).
    accumulator_access_bits: dict[str, int | None] = field(default_factory=dict)

    @property
    def oracle_cycles(self) -> float:
        """Products divided by the multipliers: perfect utilisation, no overheads."""
        return self.products / self.multipliers

    @property
    def multiplier_utilization(self) -> float:
        """Products over multiplier slots of all cycles."""
        return self.products / (self.cycles * self.multipliers) if self.cycles else 0.0

    @property
    def intra_pe_utilization(self) -> float:
        """Products over the multiplier slots of PE-cycles spent issuing or stalled on banks.

        SCNN's Fig. 10 "multiplier utilisation": barrier, halo, DRAM and drain waits are
        excluded (``busy_cycles`` and ``conflict_stall_cycles`` are means over the PEs).
        """
        work = (self.busy_cycles + self.conflict_stall_cycles) * self.multipliers
        return self.products / work if work else 0.0


def reference_conv(weights: np.ndarray, acts: np.ndarray, layer: Layer) -> np.ndarray:
    """Dense direct convolution in float64: the functional reference for ``--verify``."""
    st, pad, g = layer.stride, layer.padding, layer.groups
    x = np.pad(acts.astype(np.float64), ((0, 0), (pad, pad), (pad, pad)))
    P, Q = layer.P, layer.Q
    Kg, Cg = layer.K // g, layer.C // g
    out = np.zeros((layer.K, P, Q))
    for gi in range(g):
        wg = weights[gi * Kg:(gi + 1) * Kg].astype(np.float64)
        xg = x[gi * Cg:(gi + 1) * Cg]
        for r in range(layer.R):
            for s in range(layer.S):
                patch = xg[:, r:r + st * (P - 1) + 1:st, s:s + st * (Q - 1) + 1:st]
                out[gi * Kg:(gi + 1) * Kg] += np.tensordot(wg[:, :, r, s], patch, axes=1)
    return out


def _bank_model(arch: ArchConfig, count_merges: bool) -> kernels.BankModel:
    """The accumulator banks' behaviour as the kernels' codes."""
    return kernels.BankModel(
        banks=int(arch.acc_banks),
        mapping={"linear": kernels.MAP_LINEAR, "xor": kernels.MAP_XOR,
                 "dnnsim_xor": kernels.MAP_DNNSIM}[arch.bank_mapping],
        contention=kernels.QUEUED if arch.contention == "queued" else kernels.LOCKSTEP,
        depth=int(arch.queue_depth), wide_words=int(arch.wide_words),
        per_channel=arch.barrier == "input_channel", merges=bool(count_merges),
        access_model={"per_product": kernels.ACC_PER_PRODUCT,
                      "same_address": kernels.ACC_SAME_ADDRESS,
                      "wide": kernels.ACC_WIDE}[arch.access_model],
        on_plane_only=arch.bank_load == "on_plane")


def _decode_activations(layer: Layer, tiling: Tiling, a_stream: RLEStream,
                        n_ph: int) -> np.ndarray:
    """Every activation entry's buffer offset (:func:`kernels.decode_activation_offsets`)."""
    T = tiling.n_tiles
    a_ncols = np.array([len(tiling.phase_cols[t][p]) for t in range(T) for p in range(n_ph)],
                       np.int64)
    a_u0 = np.array([(tiling.phase_rows[t][p][0] + layer.padding) // layer.stride
                     if len(tiling.phase_rows[t][p]) else 0
                     for t in range(T) for p in range(n_ph)], np.int64)
    a_w0 = np.array([(tiling.phase_cols[t][p][0] + layer.padding) // layer.stride
                     if len(tiling.phase_cols[t][p]) else 0
                     for t in range(T) for p in range(n_ph)], np.int64)
    a_ncols = np.maximum(a_ncols, 1)
    offsets: np.ndarray = kernels.decode_activation_offsets(
        a_stream.runs, a_stream.block_ptr, layer.C, n_ph, a_ncols, a_u0, a_w0, tiling.oy,
        tiling.ox, tiling.BW)
    return offsets


def _run_kernels(lt: LayerTensors, arch: ArchConfig, plan: MappingPlan,
                 groups_k: list[tuple[int, int]], count_merges: bool,
                 verify: bool) -> KernelRun:
    """Encode each convolution group's weights and time all work tiles through the kernels."""
    layer, tiling, a_stream = lt.layer, plan.tiling, plan.stream
    g_conv = layer.groups
    Kg, Cg = layer.K // g_conv, layer.C // g_conv
    phs = phases(layer)
    n_ph = len(phs)
    _, dim_of = _order_axes(arch.weight_order)
    phase_rv = np.array([p.rv for p in phs], np.int64)
    phase_sv = np.array([p.sv for p in phs], np.int64)
    group_k0 = np.array([k0 for k0, _ in groups_k], np.int64)
    group_kc = np.array([k1 - k0 for k0, k1 in groups_k], np.int64)
    model = _bank_model(arch, count_merges)
    acts = kernels.Stream(a_stream.values, _decode_activations(layer, tiling, a_stream, n_ph),
                          a_stream.block_ptr)
    sums = {k: 0 for k in ("products", "same", "wide", "pairs", "iaram", "fifo_r", "fifo_w",
                           "plane")}
    run = KernelRun(group_kc, [], [], sums)
    for gi in range(g_conv):
        w = np.ascontiguousarray(lt.weights[gi * Kg:(gi + 1) * Kg], dtype=np.float32)
        ws = _encode_weights(w, layer, groups_k, arch.weight_order, arch.index_bits,
                             arch.placeholders)
        w_off = kernels.decode_weight_offsets(ws.runs, ws.block_ptr, Cg, n_ph, group_kc,
                                              phase_rv, phase_sv, dim_of, tiling.BH, tiling.BW)
        geom = kernels.Geometry(
            T=tiling.n_tiles, C=Cg, CA=layer.C, c_off=gi * Cg, NP=n_ph, F=arch.F, I=arch.I,
            BH=tiling.BH, BW=tiling.BW, group_k0=group_k0, group_kc=group_kc,
            tile_oy=tiling.oy, tile_ox=tiling.ox, k_base=gi * Kg, P=layer.P, Q=layer.Q,
            K_out=Kg)
        c = kernels.simulate_tiles(acts, kernels.Stream(ws.values, w_off, ws.block_ptr), geom,
                                   model, verify=verify)
        run.w_streams.append(ws)
        run.counts.append(c)
        for key, arr in (("products", c.products), ("same", c.acc_same),
                         ("wide", c.acc_wide), ("pairs", c.pairs), ("iaram", c.iaram),
                         ("fifo_r", c.fifo_r), ("fifo_w", c.fifo_w), ("plane", c.on_plane)):
            sums[key] += int(arr.sum())
    return run


def _computed_outputs(lt: LayerTensors, tiling: Tiling,
                      run: KernelRun) -> tuple[bool, float, np.ndarray, np.ndarray]:
    """``verify``: the accumulated outputs against :func:`reference_conv`, then the PPU.

    Returns (verified, max_abs_error, the conv outputs, the outputs after ReLU and pooling).
    """
    layer = lt.layer
    Kg = layer.K // layer.groups
    full = np.zeros((layer.K, layer.P, layer.Q))
    for gi, c in enumerate(run.counts):
        _scatter_outputs(full[gi * Kg:(gi + 1) * Kg], c.out, tiling, layer)
    ref = reference_conv(lt.weights, lt.activations, layer)
    max_err = float(np.max(np.abs(full - ref))) if full.size else 0.0
    scale = float(np.max(np.abs(ref))) if ref.size else 0.0
    verified = bool(max_err <= 1e-4 * max(scale, 1.0))
    # The PPU: ReLU, then pooling, before compression into OARAM.
    out_activations = np.maximum(full, 0.0).astype(np.float32)
    if layer.pool is not None:
        out_activations = pool2d(out_activations, layer.pool)
    return verified, max_err, full, out_activations


def _weight_dram_bits(run: KernelRun, arch: ArchConfig,
                      weight_storage: FormatSize | None) -> tuple[int, int, int]:
    """Weight entries, and the DRAM value and index bits of one copy of the weights (from
    ``weight_storage`` when another format stores them)."""
    w_entries = sum(ws.n_entries for ws in run.w_streams)
    if weight_storage is not None:
        return w_entries, weight_storage.value_bits, weight_storage.index_bits
    return w_entries, w_entries * arch.value_bits, w_entries * arch.index_bits


def _access_counts(lt: LayerTensors, arch: ArchConfig, plan: MappingPlan, run: KernelRun,
                   sch: Schedule, o_stream: RLEStream, out_spill: bool, acc: int,
                   weight_bits: tuple[int, int, int], act_fetched: int, n_pool_ops: int,
                   total_cycles: int) -> dict[str, int | float]:
    """The layer's action counts (:data:`ACCESS_KEYS`), from the kernels' sums, the streams
    and the schedule."""
    layer, tiling, sums = lt.layer, plan.tiling, run.sums
    Cg = layer.C // layer.groups
    entry_bits = arch.value_bits + arch.index_bits
    w_entries, w_value_bits, w_index_bits = weight_bits
    G = len(run.group_kc)
    buffer_entries = int(run.group_kc.sum()) * tiling.BH * tiling.BW
    drain_reads = buffer_entries * int((tiling.bh > 0).sum()) * layer.groups
    fifo = _fifo_entries(plan.stream, run.w_streams, tiling.n_tiles, layer.stride ** 2,
                         layer.C, Cg, G, arch.F, arch.I)
    # A physical FIFO entry holds F weights: F values and F indices (or, in a group-index
    # format, the entry's share of the group indices; never less than the F values).
    idx_per_weight = min(float(arch.index_bits), w_index_bits / max(w_entries, 1))
    fifo_entry_bits = arch.F * (arch.value_bits + idx_per_weight)
    broadcasts = fifo["entries"] * tiling.n_passes
    iaram_writes = act_fetched   # every activation entry that arrives from DRAM
    acc_width = arch.acc_bits * (arch.wide_words if arch.access_model == "wide" else 1)
    sram_kb = arch.n_pes * (arch.iaram_bytes + arch.oaram_bytes
                            + 2 * arch.acc_capacity * arch.acc_bits / 8
                            + arch.weight_fifo_entries * arch.F * entry_bits / 8) / 1024
    return {
        "multiplies": sums["products"],
        # One add per product under every access model: merging moves the additions of
        # products to one word into an adder before the bank, it does not remove them.
        "adds": sums["products"],
        "coord_ops": sums["products"],
        "crossbar_transfers": sums["products"],
        "crossbar_bits": sums["products"] * arch.acc_bits,
        "acc_reads": acc,
        "acc_writes": acc,
        "acc_drain_reads": drain_reads,
        "acc_read_bits": acc * acc_width,
        "acc_write_bits": acc * acc_width,
        "acc_drain_read_bits": drain_reads * arch.acc_bits,
        "iaram_reads": sums["iaram"],
        "iaram_read_bits": sums["iaram"] * entry_bits,
        # Activations written into IARAM: those arriving from DRAM. Outputs of the previous
        # layer are not copied: OARAM and IARAM swap roles, the OARAM write stored them.
        "iaram_writes": iaram_writes,
        "iaram_write_bits": iaram_writes * entry_bits,
        "oaram_writes": o_stream.n_entries,
        "oaram_write_bits": o_stream.n_entries * entry_bits,
        "weight_fifo_reads": fifo["reads"],
        "weight_fifo_writes": fifo["writes"],
        "weight_fifo_read_bits": round(fifo["reads"] * fifo_entry_bits),
        "weight_fifo_write_bits": round(fifo["writes"] * fifo_entry_bits),
        # The weight buffer broadcasts every FIFO entry once per pass to all PEs.
        "weight_broadcasts": broadcasts,
        "weight_broadcast_bits": round(broadcasts * fifo_entry_bits),
        # ReLU/compression of every conv output, halo additions, and the pooling
        # comparisons (max) or additions and scaling (avg) of engine.ppu.pool_ops.
        "ppu_ops": int(layer.K * layer.P * layer.Q) + sch.halo_words + n_pool_ops,
        "halo_words": sch.halo_words,
        "halo_bits": sch.halo_words * arch.acc_bits,
        "dram_read_bits_weight_values": w_value_bits * tiling.n_passes,
        "dram_read_bits_weight_index": w_index_bits * tiling.n_passes,
        "dram_read_bits_act_values": act_fetched * arch.value_bits,
        "dram_read_bits_act_index": act_fetched * arch.index_bits,
        "dram_write_bits_values": o_stream.n_entries * arch.value_bits if out_spill else 0,
        "dram_write_bits_index": o_stream.n_entries * arch.index_bits if out_spill else 0,
        "leakage_multiplier_cycles": arch.multipliers * total_cycles,
        "leakage_sram_kb_cycles": sram_kb * total_cycles,
    }


# Over 80 lines (99) only for its numpy docstring: the code is 63 lines.
def simulate_layer(lt: LayerTensors, arch: ArchConfig, *, verify: bool = False,
                   input_from_dram: bool = False, out_activations: np.ndarray | None = None,
                   count_merges: bool | None = None,
                   weight_storage: FormatSize | None = None) -> LayerCounts:
    """Simulate one conv layer.

    The steps: map the layer (:func:`plan_mapping`), time its work tiles in the kernels,
    take or compute its outputs and compress them for OARAM (:func:`encode_outputs`), lay
    the barrier-separated steps and DRAM fetches on the timeline (:func:`schedule_layer`),
    then count every action.

    Parameters
    ----------
    lt
        The layer with its pruned weights ``[K, C/groups, R, S]`` and activations ``[C, H, W]``.
    arch
        The accelerator.
    verify
        Also accumulate the products' values and compare the outputs with
        :func:`reference_conv`; the result's ``verified`` and ``output`` are then set.
    input_from_dram
        The activations come from DRAM even when they fit the IARAM (a network's first layer).
    out_activations
        The layer's output activations after the PPU (ReLU, then the layer's ``pool``):
        ``layer.out_shape``, used to count OARAM writes, the OARAM spill and output DRAM
        bits; with ``verify`` the computed outputs, ReLU'd and pooled, are used instead.
    count_merges
        Count accumulator accesses under the same-address and wide models too (a counting
        pass beside the timing under per-product access, :func:`kernels.merge_counts`).
        Always on when ``arch.access_model`` needs them.
    weight_storage
        Size of the weights in another format (e.g. the group-index format of a coarse
        granularity: one index per kept group): DRAM weight bits come from it instead of
        from SCNN's per-weight encoding. Compute and coordinates are unchanged.
    """
    # Over 80 lines with its docstring; the body is the sequence of named steps.
    count_merges = bool(count_merges) or arch.access_model != "per_product"
    layer = lt.layer
    Kg = layer.K // layer.groups
    plan = plan_mapping(lt, arch)
    tiling, a_stream = plan.tiling, plan.stream
    groups_k = [(k0, min(k0 + plan.kc, Kg)) for k0 in range(0, Kg, plan.kc)]
    run = _run_kernels(lt, arch, plan, groups_k, count_merges, verify)

    # Outputs: computed (verify) or given; encoded per (PE owned tile, channel) for OARAM.
    verified = max_err = output = None
    if verify:
        verified, max_err, output, out_activations = _computed_outputs(lt, tiling, run)
    out_acts = _required(out_activations, layer)
    o_stream, out_spill = encode_outputs(layer, out_acts, arch)
    entry_bits = arch.value_bits + arch.index_bits

    weight_bits = _weight_dram_bits(run, arch, weight_storage)
    w_entries, w_value_bits, w_index_bits = weight_bits
    n_steps = tiling.n_passes * layer.groups * len(groups_k)
    sch = schedule_layer(lt, arch, plan, run, input_from_dram,
                         (w_value_bits + w_index_bits) / max(w_entries, 1),
                         o_stream.n_entries * entry_bits / n_steps if out_spill else 0.0)
    tl = run_timeline(sch.steps, arch.dram_bits_per_cycle, arch.dram_latency_cycles,
                      arch.acc_double_buffered, sch.fetches)

    # Activation entries read from DRAM: each once, or once per group (channel_chunk).
    act_fetched = a_stream.n_entries if (not plan.resident) or input_from_dram else 0
    if plan.overflow == "channel_chunk":
        act_fetched = round(sch.act_dram_bits / entry_bits)
    sums = run.sums
    acc_models = {"per_product": sums["products"],
                  "same_address": sums["same"] if count_merges else None,
                  "wide": sums["wide"] if count_merges else None}
    n_pool_ops = pool_ops(layer.K, layer.P, layer.Q, layer.pool)
    acc = acc_models[arch.access_model]
    assert acc is not None   # count_merges is on whenever the access model needs the merges
    accesses = _access_counts(lt, arch, plan, run, sch, o_stream, out_spill, acc, weight_bits,
                              act_fetched, n_pool_ops, tl.total)
    return LayerCounts(
        name=layer.name,
        cycles=tl.total,
        busy_cycles=sch.busy,
        conflict_stall_cycles=sch.stall,
        barrier_idle_cycles=sch.idle,
        halo_cycles=tl.halo,
        dram_stall_cycles=tl.dram_stall,
        drain_stall_cycles=tl.drain_stall,
        products=sums["products"],
        vector_pairs=sums["pairs"],
        multipliers=arch.multipliers,
        accesses=accesses,
        accumulator_accesses=acc_models,
        accumulator_access_bits=_accumulator_access_bits(acc_models, arch),
        mapping=_mapping_record(lt, plan, run, out_spill, out_acts, n_pool_ops,
                                act_fetched, tl.dram_busy),
        dense_macs=layer.dense_macs,
        on_plane_products=sums["plane"],
        verified=verified,
        max_abs_error=max_err,
        active_pes=int(active_pes(layer, arch).sum()),
        barrier_idle_active_cycles=sch.idle_active,
        output=output,
    )


def _required(out_activations: np.ndarray | None, layer: Layer) -> np.ndarray:
    if out_activations is None:
        raise SimulationError(f"{layer.name}: output activations are needed to count OARAM "
                              "writes (pass out_activations or verify=True)")
    return out_activations


def _accumulator_access_bits(acc_models: dict[str, int | None],
                              arch: ArchConfig) -> dict[str, int | None]:
    """Bits moved by one direction of the accumulator read-modify-writes, per access model."""
    width = {m: arch.acc_bits * (arch.wide_words if m == "wide" else 1) for m in ACC_MODELS}
    return {m: None if n is None else n * width[m] for m, n in acc_models.items()}


def _mapping_record(lt: LayerTensors, plan: MappingPlan, run: KernelRun, out_spill: bool,
                    out_activations: np.ndarray, n_pool_ops: int, act_fetched: int,
                    dram_busy: int) -> dict[str, object]:
    """How the layer was mapped, as reported in its record's ``mapping``."""
    layer, tiling, a_stream = lt.layer, plan.tiling, plan.stream
    return {
        "kc": plan.kc, "subtiles": list(tiling.sub), "passes": tiling.n_passes,
        "work_tiles": tiling.n_tiles, "buffer": [tiling.BH, tiling.BW],
        "output_channel_groups": len(run.group_kc), "conv_groups": layer.groups,
        "stride_phases": layer.stride ** 2, "activations_resident": plan.resident,
        "outputs_spill": out_spill, "output_shape": list(out_activations.shape),
        "pool": layer.pool.describe() if layer.pool is not None else "none",
        "pool_ops": n_pool_ops, "weight_entries": sum(ws.n_entries for ws in run.w_streams),
        "weight_placeholders": sum(ws.placeholders for ws in run.w_streams),
        "act_entries": a_stream.n_entries, "act_placeholders": a_stream.placeholders,
        "dram_busy_cycles": dram_busy,
        "overflow": plan.overflow, "accumulator_passes": plan.acc_passes,
        "act_dram_fetches": act_fetched / a_stream.n_entries if a_stream.n_entries else 0.0,
        "weight_dram_fetches": tiling.n_passes,
    }


def encode_outputs(layer: Layer, out_activations: np.ndarray,
                   arch: ArchConfig) -> tuple[RLEStream, bool]:
    """Compress a layer's PPU outputs per PE for OARAM; say whether they spill to DRAM.

    Parameters
    ----------
    layer
        The conv layer (its ``pool`` decides the expected shape and the owners).
    out_activations
        Outputs after ReLU and pooling: ``layer.out_shape``. Without ``layer.pool`` a smaller
        plane than ``P x Q`` is accepted (an exported network's real next-layer input, pooled
        by parameters we do not know).
    arch
        The accelerator (PE grid, tiling, OARAM size, index bits).

    Returns
    -------
    (RLEStream, bool)
        The per-(PE, channel) output stream and whether some PE's share exceeds its OARAM.
    """
    shape = tuple(out_activations.shape)
    ok = (shape == layer.out_shape if layer.pool is not None else
          len(shape) == 3 and shape[0] == layer.K and 1 <= shape[1] <= layer.P
          and 1 <= shape[2] <= layer.Q)
    if not ok:
        raise SimulationError(f"{layer.name}: output activations shaped {shape}, expected "
                              f"{layer.out_shape} (after the PPU's pooling)")
    own_r = owner_bounds(layer, split_bounds(layer.H, arch.pe_rows, arch.tiling,
                                             layer.padding), layer.P, "row")
    own_c = owner_bounds(layer, split_bounds(layer.W, arch.pe_cols, arch.tiling,
                                             layer.padding), layer.Q, "col")
    if layer.pool is not None or shape[1:] != (layer.P, layer.Q):
        own_r = pooled_owner_bounds(own_r, layer.P, shape[1], layer.pool)
        own_c = pooled_owner_bounds(own_c, layer.Q, shape[2], layer.pool)
    o_stream = _encode_owned(out_activations, own_r, own_c, arch.index_bits)
    o_tile_bits = _tile_entries(o_stream, arch.n_pes) * (arch.value_bits + arch.index_bits)
    return o_stream, bool(o_tile_bits.max(initial=0) > arch.oaram_bytes * 8)


def _fifo_entries(a_stream: RLEStream, w_streams: list[RLEStream], T: int, n_ph: int,
                  C: int, Cg: int, G: int, F: int, I: int) -> dict[str, int]:
    """Weight-FIFO entries (F weights each) written and read, and entries per broadcast.

    The kernel writes a weight block (g, p, c) into a work tile's FIFO when the tile's
    activation block (t, p, c) is not empty, and reads the block's ceil(nw / F) entries once
    per I-wide activation vector, so per (p, c) the reads are (sum over t of ceil(na / I)) x
    (sum over g of ceil(nw / F)) and the writes (tiles with na > 0) x (same sum).
    """
    na = np.diff(a_stream.block_ptr).reshape(T, n_ph, C)
    reads = writes = entries = 0
    for gi, ws in enumerate(w_streams):
        nw = np.diff(ws.block_ptr).reshape(G, n_ph, Cg)
        w_vec = (-(-nw // F)).sum(axis=0)                      # [p, c]
        a_g = na[:, :, gi * Cg:(gi + 1) * Cg]
        a_vec = (-(-a_g // I)).sum(axis=0)                      # [p, c]
        a_any = (a_g > 0).sum(axis=0)
        reads += int((a_vec * w_vec).sum())
        writes += int((a_any * w_vec).sum())
        entries += int(w_vec.sum())
    return {"reads": reads, "writes": writes, "entries": entries}


def _encode_owned(out: np.ndarray, own_r: list[tuple[int, int]], own_c: list[tuple[int, int]],
                  index_bits: int) -> RLEStream:
    """Output activations per (PE owned tile, channel) block, row-major: OARAM contents."""
    K = out.shape[0]
    parts, lengths = [], []
    for r0, r1 in own_r:
        for c0, c1 in own_c:
            n = (r1 - r0) * (c1 - c0)
            if n:
                parts.append(out[:, r0:r1, c0:c1].reshape(K, n).ravel())
            lengths.append(np.full(K, n, np.int64))
    flat = np.concatenate(parts) if parts else np.zeros(0, np.float32)
    return rle_encode_blocks(flat.astype(np.float32, copy=False), np.concatenate(lengths),
                             index_bits)


def _scatter_outputs(full: np.ndarray, out: np.ndarray, tiling: Tiling, layer: Layer) -> None:
    """Add every work tile's accumulator buffer into the output plane (valid entries only)."""
    for t in range(tiling.n_tiles):
        if tiling.bh[t] == 0:
            continue
        oy, ox = int(tiling.oy[t]), int(tiling.ox[t])
        r0, r1 = max(oy, 0), min(oy + int(tiling.bh[t]), layer.P)
        c0, c1 = max(ox, 0), min(ox + int(tiling.bw[t]), layer.Q)
        if r1 > r0 and c1 > c0:
            full[:, r0:r1, c0:c1] += out[t, :, r0 - oy:r1 - oy, c0 - ox:c1 - ox]
