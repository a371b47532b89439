"""Simulate one convolution layer on SCNN: mapping, compressed streams, kernel, timeline.

The input is a :class:`~scnn_sim.tensors.LayerTensors` (pruned weights and input activations);
the output is a :class:`LayerCounts`: cycles by cause and action counts by component. Energy is
not computed here (see :mod:`scnn_sim.energy`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from scnn_sim.arch import ArchConfig
from scnn_sim.engine import kernels
from scnn_sim.engine.mapping import (
    Tiling,
    candidate_subtiles,
    halo_entries,
    make_tiling,
    owner_bounds,
    phases,
    split_bounds,
)
from scnn_sim.engine.timeline import Step, run_timeline
from scnn_sim.errors import SimulationError
from scnn_sim.formats import FormatSize, RLEStream, rle_encode_blocks
from scnn_sim.tensors import LayerTensors
from scnn_sim.workload import Layer

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
    accesses: dict[str, int]
    accumulator_accesses: dict[str, int | None]
    mapping: dict[str, object]
    dense_macs: int
    verified: bool | None = None
    max_abs_error: float | None = None
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


def _order_axes(order: str) -> tuple[tuple[int, ...], np.ndarray]:
    axis = {"k": 0, "r": 2, "s": 3}
    perm = (1,) + tuple(axis[ch] for ch in order)
    dim_of = np.array(["krs".index(ch) for ch in order], np.int64)
    return perm, dim_of


def _encode_activations(acts: np.ndarray, tiling: Tiling, n_phases: int,
                        index_bits: int) -> RLEStream:
    """Blocks (work tile, phase, channel), each row-major over the tile's phase pixels."""
    C = acts.shape[0]
    parts, lengths = [], []
    for t in range(tiling.n_tiles):
        for p in range(n_phases):
            ys, xs = tiling.phase_rows[t][p], tiling.phase_cols[t][p]
            n = len(ys) * len(xs)
            if n:
                parts.append(acts[:, ys[:, None], xs[None, :]].reshape(C, n).ravel())
            lengths.append(np.full(C, n, np.int64))
    flat = np.concatenate(parts) if parts else np.zeros(0, np.float32)
    return rle_encode_blocks(flat.astype(np.float32, copy=False), np.concatenate(lengths),
                             index_bits)


def _encode_weights(w: np.ndarray, layer: Layer, groups_k: list[tuple[int, int]],
                    order: str, index_bits: int) -> RLEStream:
    """Blocks (output-channel group, phase, input channel), each Kc x Rv x Sv in ``order``."""
    st = layer.stride
    perm, _ = _order_axes(order)
    parts, lengths = [], []
    Cg = w.shape[1]
    for k0, k1 in groups_k:
        for ph in phases(layer):
            sub = w[k0:k1, :, ph.a::st, ph.b::st]
            n = (k1 - k0) * ph.rv * ph.sv
            if n:
                parts.append(np.ascontiguousarray(sub.transpose(perm)).ravel())
            lengths.append(np.full(Cg, n, np.int64))
    flat = np.concatenate(parts) if parts else np.zeros(0, np.float32)
    return rle_encode_blocks(flat.astype(np.float32, copy=False), np.concatenate(lengths),
                             index_bits)


def _tile_entries(stream: RLEStream, n_tiles: int) -> np.ndarray:
    """Entries (values incl. placeholders) of each work tile in an activation stream."""
    per_block = np.diff(stream.block_ptr)
    return per_block.reshape(n_tiles, -1).sum(axis=1)


def choose_mapping(lt: LayerTensors, arch: ArchConfig) -> tuple[Tiling, int, RLEStream, bool]:
    """Pick the sub-tiling and Kc (README "Kc and sub-tiles"); encode the activations.

    Returns the tiling, Kc, the activation stream and whether the activations stay resident
    in IARAM (False: they are streamed from DRAM, one pass's sub-tiles at a time).
    """
    layer = lt.layer
    Kg = layer.K // layer.groups
    entry_bits = arch.value_bits + arch.index_bits
    iaram_bits = arch.iaram_bytes * 8
    n_ph = layer.stride ** 2
    kc_need = min(Kg, arch.kc if arch.kc is not None else arch.kc_max)
    pe_r = split_bounds(layer.H, arch.pe_rows, arch.tiling)
    pe_c = split_bounds(layer.W, arch.pe_cols, arch.tiling)
    tile_h = max(hi - lo for lo, hi in pe_r)
    tile_w = max(hi - lo for lo, hi in pe_c)
    if arch.subtiles is not None:
        cands = [arch.subtiles]
    else:
        cands = list(candidate_subtiles(tile_h, tile_w))
    # Non-zeros per work tile (a lower bound of its entries) from a 2-D prefix sum, so that
    # candidates that cannot fit are rejected before they are encoded.
    nz = np.zeros((layer.H + 1, layer.W + 1), np.int64)
    nz[1:, 1:] = np.count_nonzero(lt.activations, axis=0).cumsum(0).cumsum(1)

    def nnz_rect(r0: int, r1: int, c0: int, c1: int) -> int:
        return int(nz[r1, c1] - nz[r0, c1] - nz[r1, c0] + nz[r0, c0])

    per_pe_nnz = max(nnz_rect(r0, r1, c0, c1) for r0, r1 in pe_r for c0, c1 in pe_c)
    resident = per_pe_nnz * entry_bits <= iaram_bits
    if resident:
        # Placeholders count too: check the exact encoded size of each PE's whole tile.
        whole = make_tiling(layer, arch.pe_rows, arch.pe_cols, (1, 1), arch.tiling)
        stream = _encode_activations(lt.activations, whole, n_ph, arch.index_bits)
        resident = bool(_tile_entries(stream, whole.n_tiles).max(initial=0) * entry_bits
                        <= iaram_bits)
    last_reason = ""
    for sub in cands:
        final = arch.subtiles is not None or sub == cands[-1]
        tiling = make_tiling(layer, arch.pe_rows, arch.pe_cols, sub, arch.tiling)
        buf = tiling.BH * tiling.BW
        fits_acc = kc_need * buf <= arch.acc_capacity
        if not fits_acc and not final:
            continue
        if not resident and not final and max(
                nnz_rect(r0, r1, c0, c1) for (r0, r1), (c0, c1)
                in zip(tiling.rows, tiling.cols, strict=True)) * entry_bits > iaram_bits // 2:
            last_reason = "sub-tile activations exceed half the IARAM"
            continue
        stream = _encode_activations(lt.activations, tiling, n_ph, arch.index_bits)
        tile_bits = _tile_entries(stream, tiling.n_tiles) * entry_bits
        fits_iaram = resident or tile_bits.max(initial=0) <= iaram_bits // 2
        if fits_iaram:
            kc = kc_need if fits_acc else arch.acc_capacity // buf
            if arch.kc is not None and not fits_acc:
                raise SimulationError(
                    f"{layer.name}: Kc={kc_need} x {tiling.BH}x{tiling.BW} accumulator entries "
                    f"exceed the {arch.acc_capacity}-entry accumulator; lower dataflow.kc or "
                    f"raise dataflow.subtiles")
            if kc < 1:
                raise SimulationError(
                    f"{layer.name}: one output channel of a {tiling.BH}x{tiling.BW} buffer "
                    f"does not fit {arch.acc_capacity} accumulator entries")
            return tiling, kc, stream, resident
        last_reason = (f"sub-tile activations need {int(tile_bits.max())} bits, IARAM holds "
                       f"{iaram_bits} (half for double-buffered streaming)")
    raise SimulationError(f"{layer.name}: cannot map on the PE array with "
                          f"subtiles={cands[-1]}: {last_reason}")


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


def simulate_layer(lt: LayerTensors, arch: ArchConfig, *, verify: bool = False,
                   input_from_dram: bool = False, out_activations: np.ndarray | None = None,
                   count_merges: bool | None = None,
                   weight_storage: FormatSize | None = None) -> LayerCounts:
    """Simulate one conv layer.

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
        The layer's output activations ``[K, P, Q]`` (after ReLU) used to count OARAM writes
        and output DRAM bits; with ``verify`` the computed outputs are used instead.
    count_merges
        Count accumulator accesses under the same-address and wide models too (about 30%
        slower). Always on when ``arch.access_model`` needs them.
    weight_storage
        Size of the weights in another format (e.g. the group-index format of a coarse
        granularity: one index per kept group): DRAM weight bits come from it instead of
        from SCNN's per-weight encoding. Compute and coordinates are unchanged.
    """
    count_merges = bool(count_merges) or arch.access_model != "per_product"
    layer = lt.layer
    g_conv = layer.groups
    Kg, Cg = layer.K // g_conv, layer.C // g_conv
    phs = phases(layer)
    n_ph = len(phs)
    tiling, kc, a_stream, resident = choose_mapping(lt, arch)
    T = tiling.n_tiles
    groups_k = [(k0, min(k0 + kc, Kg)) for k0 in range(0, Kg, kc)]
    G = len(groups_k)
    _, dim_of = _order_axes(arch.weight_order)
    phase_rv = np.array([p.rv for p in phs], np.int64)
    phase_sv = np.array([p.sv for p in phs], np.int64)
    a_ncols = np.array([len(tiling.phase_cols[t][p]) for t in range(T) for p in range(n_ph)],
                       np.int64)
    a_u0 = np.array([(tiling.phase_rows[t][p][0] + layer.padding) // layer.stride
                     if len(tiling.phase_rows[t][p]) else 0
                     for t in range(T) for p in range(n_ph)], np.int64)
    a_w0 = np.array([(tiling.phase_cols[t][p][0] + layer.padding) // layer.stride
                     if len(tiling.phase_cols[t][p]) else 0
                     for t in range(T) for p in range(n_ph)], np.int64)
    a_ncols = np.maximum(a_ncols, 1)
    group_k0 = np.array([k0 for k0, _ in groups_k], np.int64)
    group_kc = np.array([k1 - k0 for k0, k1 in groups_k], np.int64)
    contention = kernels.QUEUED if arch.contention == "queued" else kernels.LOCKSTEP
    mapping = kernels.MAP_XOR if arch.bank_mapping == "xor" else kernels.MAP_LINEAR
    per_channel = arch.barrier == "input_channel"
    access_model = {"per_product": kernels.ACC_PER_PRODUCT,
                    "same_address": kernels.ACC_SAME_ADDRESS,
                    "wide": kernels.ACC_WIDE}[arch.access_model]

    a_off = kernels.decode_activation_offsets(a_stream.runs, a_stream.block_ptr, layer.C, n_ph,
                                              a_ncols, a_u0, a_w0, tiling.oy, tiling.ox,
                                              tiling.BW)
    sums = {k: 0 for k in ("products", "same", "wide", "pairs", "iaram", "fifo_r", "fifo_w")}
    busy_tg, stall_tg, chan_tg, w_streams, outs = [], [], [], [], []
    for gi in range(g_conv):
        w = np.ascontiguousarray(lt.weights[gi * Kg:(gi + 1) * Kg], dtype=np.float32)
        ws = _encode_weights(w, layer, groups_k, arch.weight_order, arch.index_bits)
        w_streams.append(ws)
        w_off = kernels.decode_weight_offsets(ws.runs, ws.block_ptr, Cg, n_ph, group_kc,
                                              phase_rv, phase_sv, dim_of, tiling.BH, tiling.BW)
        (busy, stall, prods, same, wide, pairs, iaram, fifo_r, fifo_w, chan,
         out) = kernels.simulate_tiles(
            a_stream.values, a_off, a_stream.block_ptr, ws.values, w_off, ws.block_ptr,
            group_k0, group_kc, T, Cg, layer.C, gi * Cg, n_ph, arch.F, arch.I,
            tiling.BH, tiling.BW, arch.acc_banks, mapping, contention, arch.queue_depth,
            arch.wide_words, per_channel, verify, Kg, count_merges, access_model)
        busy_tg.append(busy)
        stall_tg.append(stall)
        chan_tg.append(chan)
        outs.append(out)
        for key, arr in (("products", prods), ("same", same), ("wide", wide),
                         ("pairs", pairs), ("iaram", iaram), ("fifo_r", fifo_r),
                         ("fifo_w", fifo_w)):
            sums[key] += int(arr.sum())

    # Outputs: computed (verify) or given; encoded per (PE owned tile, channel) for OARAM.
    verified = max_err = None
    output = None
    if verify:
        full = np.zeros((layer.K, layer.P, layer.Q))
        for gi in range(g_conv):
            _scatter_outputs(full[gi * Kg:(gi + 1) * Kg], outs[gi], tiling, layer)
        ref = reference_conv(lt.weights, lt.activations, layer)
        max_err = float(np.max(np.abs(full - ref))) if full.size else 0.0
        scale = float(np.max(np.abs(ref))) if ref.size else 0.0
        verified = bool(max_err <= 1e-4 * max(scale, 1.0))
        output = full
        out_activations = np.maximum(full, 0.0).astype(np.float32)
    if out_activations is None:
        raise SimulationError(f"{layer.name}: output activations are needed to count OARAM "
                              "writes (pass out_activations or verify=True)")
    own_r = owner_bounds(layer, split_bounds(layer.H, arch.pe_rows, arch.tiling), layer.P, "row")
    own_c = owner_bounds(layer, split_bounds(layer.W, arch.pe_cols, arch.tiling), layer.Q, "col")
    o_stream = _encode_owned(out_activations, own_r, own_c, arch.index_bits)
    entry_bits = arch.value_bits + arch.index_bits
    o_tile_bits = _tile_entries(o_stream, arch.n_pes) * entry_bits
    out_spill = bool(o_tile_bits.max(initial=0) > arch.oaram_bytes * 8)

    # Per-step timing: barrier per output-channel group (or per input channel).
    w_entries = sum(ws.n_entries for ws in w_streams)
    w_value_bits = w_entries * arch.value_bits
    w_index_bits = w_entries * arch.index_bits
    if weight_storage is not None:
        w_value_bits, w_index_bits = weight_storage.value_bits, weight_storage.index_bits
    # DRAM bits per weight entry, so that each step streams its share of the weights.
    w_bits_per_entry = (w_value_bits + w_index_bits) / max(w_entries, 1)
    halo_t = halo_entries(layer, tiling)
    steps: list[Step] = []
    busy_sum = stall_sum = idle_sum = 0.0
    halo_words = 0
    n_steps = tiling.n_passes * g_conv * G
    a_tile_entries = _tile_entries(a_stream, T)
    for s in range(tiling.n_passes):
        sel = np.nonzero(tiling.pass_of == s)[0]
        pass_act_bits = float(a_tile_entries[sel].sum() * entry_bits)
        if resident:
            pass_act_bits = float(a_stream.n_entries * entry_bits) if (
                input_from_dram and s == 0) else 0.0
        for gi in range(g_conv):
            wblk = np.diff(w_streams[gi].block_ptr).reshape(G, -1).sum(axis=1)
            for g in range(G):
                own = busy_tg[gi][sel, g] + stall_tg[gi][sel, g]
                if per_channel:
                    compute = int(chan_tg[gi][sel, g, :].max(axis=0).sum())
                else:
                    compute = int(own.max(initial=0))
                busy_sum += busy_tg[gi][sel, g].sum() / arch.n_pes
                stall_sum += stall_tg[gi][sel, g].sum() / arch.n_pes
                idle_sum += (compute * len(sel) - own.sum()) / arch.n_pes
                hw = halo_t[sel] * group_kc[g]
                halo_words += int(hw.sum())
                steps.append(Step(
                    compute_cycles=compute,
                    halo_cycles=int(-(-hw.max(initial=0) // arch.halo_words_per_cycle)),
                    drain_cycles=int(-(-(group_kc[g] * tiling.BH * tiling.BW)
                                       // arch.drain_words_per_cycle)),
                    weight_bits=float(wblk[g] * w_bits_per_entry),
                    act_bits=pass_act_bits if (gi == 0 and g == 0) else 0.0,
                    out_bits=(o_stream.n_entries * entry_bits / n_steps) if out_spill else 0.0,
                    first_of_pass=(gi == 0 and g == 0),
                ))
    tl = run_timeline(steps, arch.dram_bits_per_cycle, arch.dram_latency_cycles,
                      arch.acc_double_buffered)

    act_from_dram = (not resident) or input_from_dram
    buffer_entries = int(group_kc.sum()) * tiling.BH * tiling.BW
    drain_reads = buffer_entries * int((tiling.bh > 0).sum()) * g_conv
    acc_models = {"per_product": sums["products"],
                  "same_address": sums["same"] if count_merges else None,
                  "wide": sums["wide"] if count_merges else None}
    acc_width = {m: arch.acc_bits * (arch.wide_words if m == "wide" else 1) for m in ACC_MODELS}
    acc_bits_moved = {m: None if n is None else n * acc_width[m] for m, n in acc_models.items()}
    acc = acc_models[arch.access_model]
    fifo = _fifo_entries(a_stream, w_streams, T, n_ph, layer.C, Cg, G, arch.F, arch.I)
    # A physical FIFO entry holds F weights: F values and F indices (or, in a group-index
    # format, the entry's share of the group indices; never less than the F values).
    idx_per_weight = min(float(arch.index_bits), w_index_bits / max(w_entries, 1))
    fifo_entry_bits = arch.F * (arch.value_bits + idx_per_weight)
    broadcasts = fifo["entries"] * tiling.n_passes
    iaram_writes = a_stream.n_entries if act_from_dram else 0
    sram_kb = arch.n_pes * (arch.iaram_bytes + arch.oaram_bytes
                            + 2 * arch.acc_capacity * arch.acc_bits / 8
                            + arch.weight_fifo_entries * arch.F * entry_bits / 8) / 1024
    accesses = {
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
        "acc_read_bits": acc * acc_width[arch.access_model],
        "acc_write_bits": acc * acc_width[arch.access_model],
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
        "ppu_ops": int(layer.K * layer.P * layer.Q) + halo_words,
        "halo_words": halo_words,
        "halo_bits": halo_words * arch.acc_bits,
        "dram_read_bits_weight_values": w_value_bits * tiling.n_passes,
        "dram_read_bits_weight_index": w_index_bits * tiling.n_passes,
        "dram_read_bits_act_values": (a_stream.n_entries * arch.value_bits
                                      if act_from_dram else 0),
        "dram_read_bits_act_index": (a_stream.n_entries * arch.index_bits
                                     if act_from_dram else 0),
        "dram_write_bits_values": o_stream.n_entries * arch.value_bits if out_spill else 0,
        "dram_write_bits_index": o_stream.n_entries * arch.index_bits if out_spill else 0,
        "leakage_multiplier_cycles": arch.multipliers * tl.total,
        "leakage_sram_kb_cycles": sram_kb * tl.total,
    }
    return LayerCounts(
        name=layer.name,
        cycles=tl.total,
        busy_cycles=busy_sum,
        conflict_stall_cycles=stall_sum,
        barrier_idle_cycles=idle_sum,
        halo_cycles=tl.halo,
        dram_stall_cycles=tl.dram_stall,
        drain_stall_cycles=tl.drain_stall,
        products=sums["products"],
        vector_pairs=sums["pairs"],
        multipliers=arch.multipliers,
        accesses=accesses,
        accumulator_accesses=acc_models,
        accumulator_access_bits=acc_bits_moved,
        mapping={
            "kc": kc, "subtiles": list(tiling.sub), "passes": tiling.n_passes,
            "work_tiles": T, "buffer": [tiling.BH, tiling.BW], "output_channel_groups": G,
            "conv_groups": g_conv, "stride_phases": n_ph, "activations_resident": resident,
            "outputs_spill": out_spill, "weight_entries": w_entries,
            "weight_placeholders": sum(ws.placeholders for ws in w_streams),
            "act_entries": a_stream.n_entries, "act_placeholders": a_stream.placeholders,
            "dram_busy_cycles": tl.dram_busy,
        },
        dense_macs=layer.dense_macs,
        verified=verified,
        max_abs_error=max_err,
        output=output,
    )


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


def _encode_owned(out: np.ndarray, own_r, own_c, index_bits: int) -> RLEStream:
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
