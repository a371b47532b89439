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
from scnn_sim.engine.mapping import (
    Tiling,
    candidate_subtiles,
    halo_entries,
    make_tiling,
    owner_bounds,
    phases,
    split_bounds,
)
from scnn_sim.engine.ppu import pool2d, pool_ops, pooled_owner_bounds
from scnn_sim.engine.timeline import Fetch, Step, run_timeline
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
    accesses: dict[str, int]
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


def _order_axes(order: str) -> tuple[tuple[int, ...], np.ndarray]:
    axis = {"k": 0, "r": 2, "s": 3}
    perm = (1,) + tuple(axis[ch] for ch in order)
    dim_of = np.array(["krs".index(ch) for ch in order], np.int64)
    return perm, dim_of


def _encode_activations(acts: np.ndarray, tiling: Tiling, n_phases: int,
                        index_bits: int, placeholders: bool = True) -> RLEStream:
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
                             index_bits, placeholders)


def _encode_weights(w: np.ndarray, layer: Layer, groups_k: list[tuple[int, int]],
                    order: str, index_bits: int, placeholders: bool = True) -> RLEStream:
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
                             index_bits, placeholders)


def _tile_entries(stream: RLEStream, n_tiles: int) -> np.ndarray:
    """Entries (values incl. placeholders) of each work tile in an activation stream."""
    per_block = np.diff(stream.block_ptr)
    return per_block.reshape(n_tiles, -1).sum(axis=1)


@dataclass(frozen=True)
class MappingPlan:
    """What :func:`plan_mapping` chose for a layer.

    Attributes
    ----------
    tiling, kc, stream
        Work tiles, output channels per group and the encoded activations.
    resident
        The activations fit the IARAM whole (no temporal tiling).
    overflow
        ``"resident"`` or the ``dataflow.overflow`` rule that tiled the activations in time.
    acc_passes
        Passes the accumulator alone needs (Kc rule); ``tiling.n_passes`` may be more when
        the IARAM forced extra passes.
    """

    tiling: Tiling
    kc: int
    stream: RLEStream
    resident: bool
    overflow: str
    acc_passes: int


def channel_bits(stream: RLEStream, n_tiles: int, n_phases: int, n_channels: int,
                 entry_bits: int) -> np.ndarray:
    """IARAM bits of each (work tile, input channel) of an activation stream, phases summed."""
    per_block = np.diff(stream.block_ptr).reshape(n_tiles, n_phases, n_channels)
    return per_block.sum(axis=1) * entry_bits


def handover_bits(chan: np.ndarray, n_pes: int) -> np.ndarray:
    """Peak IARAM bits of each work tile under ``fewest_passes`` streaming.

    ``chan`` is :func:`channel_bits` (``[T, C]``, ``t = pass * n_pes + pe``). While a PE's
    last output-channel group of a pass consumes channel ``c``, channels ``< c`` of the pass
    are free and the next pass's channels ``0..c`` have been staged, so the IARAM holds
    ``cur[c:] + nxt[:c + 1]``; the peak over ``c`` is what must fit (the next pass's first
    channel block is the staging reserve). The last pass holds only itself.
    """
    T, C = chan.shape
    peak = chan.sum(axis=1).astype(np.int64)
    if T > n_pes and C:
        cur, nxt = chan[:-n_pes], chan[n_pes:]
        suffix = np.cumsum(cur[:, ::-1], axis=1)[:, ::-1]
        prefix = np.cumsum(nxt, axis=1)
        peak[:-n_pes] = np.maximum(peak[:-n_pes], (suffix + prefix).max(axis=1))
    return peak


def _fewest_pass_candidates(first: tuple[int, int], tile_h: int, tile_w: int):
    """From the accumulator's sub-tiling, more passes: rows first, then columns."""
    sr, sc = first
    rows = max(tile_h, sr, 1)
    for r in range(sr, rows + 1):
        yield (r, sc)
    for c in range(sc + 1, max(tile_w, sc, 1) + 1):
        yield (rows, c)


def choose_mapping(lt: LayerTensors, arch: ArchConfig) -> tuple[Tiling, int, RLEStream, bool]:
    """Pick the sub-tiling and Kc (README "Kc and sub-tiles"); encode the activations.

    Returns the tiling, Kc, the activation stream and whether the activations stay resident
    in IARAM (False: they are streamed from DRAM, see :func:`plan_mapping`).
    """
    plan = plan_mapping(lt, arch)
    return plan.tiling, plan.kc, plan.stream, plan.resident


def plan_mapping(lt: LayerTensors, arch: ArchConfig) -> MappingPlan:
    """The sub-tiling, Kc and temporal tiling of a layer (README "Temporal tiling").

    When every PE's compressed activations fit its IARAM they stay resident and only the
    accumulator (Kc rule) splits tiles into passes. Otherwise ``arch.overflow`` decides:
    ``half_iaram`` (the smallest sub-tiling whose work tiles fit half the IARAM),
    ``fewest_passes`` (the fewest passes, rows first, whose :func:`handover_bits` fit the
    IARAM) or ``channel_chunk`` (the accumulator's sub-tiling; input channels are chunked
    later, see :func:`channel_chunks`).
    """
    if arch.kc_rule == "dnnsim":
        return _kc_dnnsim(lt, arch)
    layer = lt.layer
    Kg = layer.K // layer.groups
    entry_bits = arch.value_bits + arch.index_bits
    iaram_bits = arch.iaram_bytes * 8
    n_ph = layer.stride ** 2
    kc_need = min(Kg, arch.kc if arch.kc is not None else arch.kc_max)
    pe_r = split_bounds(layer.H, arch.pe_rows, arch.tiling, layer.padding)
    pe_c = split_bounds(layer.W, arch.pe_cols, arch.tiling, layer.padding)
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

    # Tilings and encoded streams, each built once (the resident check, the accumulator's
    # sub-tiling and the overflow rules often ask for the same sub-tiling).
    tilings: dict[tuple[int, int], Tiling] = {}
    streams: dict[tuple[tuple[int, int], bool], RLEStream] = {}

    def tiling_of(sub: tuple[int, int]) -> Tiling:
        sub = tuple(sub)
        if sub not in tilings:
            tilings[sub] = make_tiling(layer, arch.pe_rows, arch.pe_cols, sub, arch.tiling)
        return tilings[sub]

    def stream_of(tiling: Tiling, placeholders: bool = True) -> RLEStream:
        key = (tuple(tiling.sub), bool(placeholders))
        if key not in streams:
            streams[key] = _encode_activations(lt.activations, tiling, n_ph, arch.index_bits,
                                               placeholders)
        return streams[key]

    def nnz_rect(r0: int, r1: int, c0: int, c1: int) -> int:
        return int(nz[r1, c1] - nz[r0, c1] - nz[r1, c0] + nz[r0, c0])

    def max_tile_nnz(tiling: Tiling) -> int:
        return max(nnz_rect(r0, r1, c0, c1)
                   for (r0, r1), (c0, c1) in zip(tiling.rows, tiling.cols, strict=True))

    def kc_for(tiling: Tiling) -> int:
        buf = tiling.BH * tiling.BW
        if kc_need * buf <= arch.acc_capacity:
            return kc_need
        if arch.kc is not None:
            raise SimulationError(
                f"{layer.name}: Kc={kc_need} x {tiling.BH}x{tiling.BW} accumulator entries "
                f"exceed the {arch.acc_capacity}-entry accumulator; lower dataflow.kc or "
                f"raise dataflow.subtiles")
        kc = arch.acc_capacity // buf
        if kc < 1:
            raise SimulationError(
                f"{layer.name}: one output channel of a {tiling.BH}x{tiling.BW} buffer "
                f"does not fit {arch.acc_capacity} accumulator entries")
        return kc

    per_pe_nnz = max(nnz_rect(r0, r1, c0, c1) for r0, r1 in pe_r for c0, c1 in pe_c)
    resident = per_pe_nnz * entry_bits <= iaram_bits
    if resident:
        # Placeholders count too: check the exact encoded size of each PE's whole tile.
        whole = tiling_of((1, 1))
        stream = stream_of(whole, arch.placeholders)
        resident = bool(_tile_entries(stream, whole.n_tiles).max(initial=0) * entry_bits
                        <= iaram_bits)
    # The accumulator's sub-tiling: the first candidate whose buffer holds Kc channels.
    acc_tiling = None
    for sub in cands:
        acc_tiling = tiling_of(sub)
        if kc_need * acc_tiling.BH * acc_tiling.BW <= arch.acc_capacity:
            break
    assert acc_tiling is not None
    acc_passes = acc_tiling.n_passes

    def plan(tiling: Tiling, stream: RLEStream, rule: str) -> MappingPlan:
        return MappingPlan(tiling, kc_for(tiling), stream, resident, rule, acc_passes)

    if resident:
        return plan(acc_tiling, stream_of(acc_tiling), "resident")
    if arch.overflow == "channel_chunk":
        stream = stream_of(acc_tiling)
        chan = channel_bits(stream, acc_tiling.n_tiles, n_ph, layer.C, entry_bits)
        if chan.max(initial=0) > iaram_bits // 2:
            raise SimulationError(
                f"{layer.name}: one input channel of a work tile needs {int(chan.max())} "
                f"bits, half the IARAM holds {iaram_bits // 2} (dataflow.overflow: "
                f"channel_chunk double-buffers channel chunks)")
        return plan(acc_tiling, stream, "channel_chunk")
    if arch.overflow == "fewest_passes":
        fp = [acc_tiling.sub] if arch.subtiles is not None else list(
            _fewest_pass_candidates(acc_tiling.sub, tile_h, tile_w))
        need = 0
        for i, sub in enumerate(fp):
            tiling = tiling_of(sub)
            if i < len(fp) - 1 and max_tile_nnz(tiling) * entry_bits > iaram_bits:
                continue
            stream = stream_of(tiling)
            peak = handover_bits(channel_bits(stream, tiling.n_tiles, n_ph, layer.C,
                                              entry_bits), tiling.n_pes)
            need = int(peak.max(initial=0))
            if need <= iaram_bits:
                return plan(tiling, stream, "fewest_passes")
        raise SimulationError(
            f"{layer.name}: cannot map on the PE array with subtiles={list(fp[-1])}: a pass "
            f"and the next pass's first channel need {need} bits, IARAM holds {iaram_bits} "
            f"(dataflow.overflow: fewest_passes)")
    # half_iaram: the smallest sub-tiling (longer side first) that fits half the IARAM.
    last_reason = ""
    for sub in cands:
        final = arch.subtiles is not None or sub == cands[-1]
        tiling = tiling_of(sub)
        buf = tiling.BH * tiling.BW
        fits_acc = kc_need * buf <= arch.acc_capacity
        if not fits_acc and not final:
            continue
        if not final and max_tile_nnz(tiling) * entry_bits > iaram_bits // 2:
            last_reason = "sub-tile activations exceed half the IARAM"
            continue
        stream = stream_of(tiling, arch.placeholders)
        tile_bits = _tile_entries(stream, tiling.n_tiles) * entry_bits
        if tile_bits.max(initial=0) <= iaram_bits // 2:
            return plan(tiling, stream, "half_iaram")
        last_reason = (f"sub-tile activations need {int(tile_bits.max())} bits, IARAM holds "
                       f"{iaram_bits} (half for double-buffered streaming)")
    raise SimulationError(f"{layer.name}: cannot map on the PE array with "
                          f"subtiles={cands[-1]}: {last_reason}")


def channel_chunks(chan: np.ndarray, c0: int, c1: int, capacity: int) -> list[tuple[int, int]]:
    """Split input channels ``[c0, c1)`` into contiguous chunks for ``channel_chunk``.

    ``chan`` holds the bits of each (work tile of one pass, channel); a chunk is one DRAM
    transfer for all PEs, so a channel joins the current chunk while every PE's share still
    fits ``capacity`` (half the IARAM: the next chunk streams in while this one computes).
    """
    out, lo = [], c0
    acc = np.zeros(chan.shape[0], np.int64)
    for c in range(c0, c1):
        if c > lo and (acc + chan[:, c]).max(initial=0) > capacity:
            out.append((lo, c))
            lo, acc = c, np.zeros_like(acc)
        acc += chan[:, c]
    out.append((lo, c1))
    return out


def _kc_dnnsim(lt: LayerTensors, arch: ArchConfig) -> MappingPlan:
    """DNNsim's Kc rule: accumulator entries // the output tile's area; whole tiles, no cap.

    The output tile is ``ceil(P / pe_rows) x ceil(Q / pe_cols)`` (SCNN.cpp:266-270); the halo
    is not counted and the accumulator capacity is not checked (no sub-tiles). An explicit
    ``dataflow.kc`` replaces the rule.
    """
    layer = lt.layer
    if arch.kc is not None:
        kc = arch.kc
    else:
        area = -(-layer.P // arch.pe_rows) * -(-layer.Q // arch.pe_cols)
        kc = arch.acc_capacity // area
        if kc < 1:
            raise SimulationError(
                f"{layer.name}: dataflow.kc_rule: dnnsim: an output tile of {area} entries "
                f"exceeds the {arch.acc_capacity}-entry accumulator")
    kc = min(kc, layer.K // layer.groups)
    tiling = make_tiling(layer, arch.pe_rows, arch.pe_cols, (1, 1), arch.tiling)
    stream = _encode_activations(lt.activations, tiling, layer.stride ** 2, arch.index_bits,
                                 arch.placeholders)
    entry_bits = arch.value_bits + arch.index_bits
    resident = bool(_tile_entries(stream, tiling.n_tiles).max(initial=0) * entry_bits
                    <= arch.iaram_bytes * 8)
    # DNNsim does not tile in time: a layer that does not fit the IARAM runs whole anyway
    # (overflow "untiled"); its activations are counted as read from DRAM once.
    return MappingPlan(tiling, kc, stream, resident, "resident" if resident else "untiled", 1)


def dnnsim_halo_words(layer: Layer, arch: ArchConfig) -> int:
    """Per output channel: DNNsim's halo, the largest single neighbour region of a PE.

    Regions are ``{R-1-pad, tw, pad} x {S-1-pad, th, pad}`` without the centre, in pixels of
    the zero-padded input tile ``tw x th`` (stride ignored; SCNN.cpp:314-335). Negative
    extents (padding larger than R - 1) count as 0.
    """
    pad = layer.padding
    tw = -(-(layer.H + 2 * pad) // arch.pe_rows)
    th = -(-(layer.W + 2 * pad) // arch.pe_cols)
    xs = [max(layer.R - 1 - pad, 0), tw, pad]
    ys = [max(layer.S - 1 - pad, 0), th, pad]
    return max(xs[i] * ys[j] for i in range(3) for j in range(3) if (i, j) != (1, 1))


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
    count_merges = bool(count_merges) or arch.access_model != "per_product"
    layer = lt.layer
    g_conv = layer.groups
    Kg, Cg = layer.K // g_conv, layer.C // g_conv
    phs = phases(layer)
    n_ph = len(phs)
    plan = plan_mapping(lt, arch)
    tiling, kc, a_stream, resident = plan.tiling, plan.kc, plan.stream, plan.resident
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
    mapping = {"linear": kernels.MAP_LINEAR, "xor": kernels.MAP_XOR,
               "dnnsim_xor": kernels.MAP_DNNSIM}[arch.bank_mapping]
    per_channel = arch.barrier == "input_channel"
    access_model = {"per_product": kernels.ACC_PER_PRODUCT,
                    "same_address": kernels.ACC_SAME_ADDRESS,
                    "wide": kernels.ACC_WIDE}[arch.access_model]

    a_off = kernels.decode_activation_offsets(a_stream.runs, a_stream.block_ptr, layer.C, n_ph,
                                              a_ncols, a_u0, a_w0, tiling.oy, tiling.ox,
                                              tiling.BW)
    sums = {k: 0 for k in ("products", "same", "wide", "pairs", "iaram", "fifo_r", "fifo_w",
                           "plane")}
    busy_tg, stall_tg, chan_tg, w_streams, outs = [], [], [], [], []
    for gi in range(g_conv):
        w = np.ascontiguousarray(lt.weights[gi * Kg:(gi + 1) * Kg], dtype=np.float32)
        ws = _encode_weights(w, layer, groups_k, arch.weight_order, arch.index_bits,
                             arch.placeholders)
        w_streams.append(ws)
        w_off = kernels.decode_weight_offsets(ws.runs, ws.block_ptr, Cg, n_ph, group_kc,
                                              phase_rv, phase_sv, dim_of, tiling.BH, tiling.BW)
        (busy, stall, prods, same, wide, pairs, iaram, fifo_r, fifo_w, chan, plane,
         out) = kernels.simulate_tiles(
            a_stream.values, a_off, a_stream.block_ptr, ws.values, w_off, ws.block_ptr,
            group_k0, group_kc, T, Cg, layer.C, gi * Cg, n_ph, arch.F, arch.I,
            tiling.BH, tiling.BW, arch.acc_banks, mapping, contention, arch.queue_depth,
            arch.wide_words, per_channel, verify, Kg, count_merges, access_model,
            tiling.oy, tiling.ox, gi * Kg, layer.P, layer.Q, arch.bank_load == "on_plane")
        busy_tg.append(busy)
        stall_tg.append(stall)
        chan_tg.append(chan)
        outs.append(out)
        for key, arr in (("products", prods), ("same", same), ("wide", wide),
                         ("pairs", pairs), ("iaram", iaram), ("fifo_r", fifo_r),
                         ("fifo_w", fifo_w), ("plane", plane)):
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
        # The PPU: ReLU, then pooling, before compression into OARAM.
        out_activations = np.maximum(full, 0.0).astype(np.float32)
        if layer.pool is not None:
            out_activations = pool2d(out_activations, layer.pool)
    if out_activations is None:
        raise SimulationError(f"{layer.name}: output activations are needed to count OARAM "
                              "writes (pass out_activations or verify=True)")
    o_stream, out_spill = encode_outputs(layer, out_activations, arch)
    entry_bits = arch.value_bits + arch.index_bits

    # Per-step timing: barrier per output-channel group (or per input channel).
    w_entries = sum(ws.n_entries for ws in w_streams)
    w_value_bits = w_entries * arch.value_bits
    w_index_bits = w_entries * arch.index_bits
    if weight_storage is not None:
        w_value_bits, w_index_bits = weight_storage.value_bits, weight_storage.index_bits
    # DRAM bits per weight entry, so that each step streams its share of the weights.
    w_bits_per_entry = (w_value_bits + w_index_bits) / max(w_entries, 1)
    halo_t = halo_entries(layer, tiling)
    halo_dnnsim = dnnsim_halo_words(layer, arch) if arch.halo_model == "dnnsim" else 0
    dram_on = arch.dram_timing
    steps: list[Step] = []
    fetches: list[Fetch] = []
    busy_sum = stall_sum = idle_sum = idle_active_sum = 0.0
    halo_words = 0
    n_steps = tiling.n_passes * g_conv * G
    a_tile_entries = _tile_entries(a_stream, T)
    # PEs that hold at least one pixel: barrier idle is also reported over these only.
    pe_rows_b = split_bounds(layer.H, arch.pe_rows, arch.tiling, layer.padding)
    pe_cols_b = split_bounds(layer.W, arch.pe_cols, arch.tiling, layer.padding)
    pe_active = np.array([r1 > r0 and c1 > c0 for r0, r1 in pe_rows_b for c0, c1 in pe_cols_b])
    n_active = max(int(pe_active.sum()), 1)
    rule = plan.overflow
    a_blocks = np.diff(a_stream.block_ptr).reshape(T, n_ph, layer.C)
    chan = a_blocks.sum(axis=1) * entry_bits
    w_blocks = [np.diff(ws.block_ptr).reshape(G, n_ph, Cg) for ws in w_streams]
    act_dram_bits = 0.0   # bits of activations fetched (channel_chunk re-fetches)
    prev_first = -1       # first step of the previous pass
    for s in range(tiling.n_passes):
        sel = np.nonzero(tiling.pass_of == s)[0]
        active = pe_active[tiling.pe_of[sel]]
        pass_act_bits = float(a_tile_entries[sel].sum() * entry_bits)
        if resident:
            pass_act_bits = float(a_stream.n_entries * entry_bits) if (
                input_from_dram and s == 0) else 0.0
        first_step = len(steps)
        if rule == "fewest_passes" and s > 0:
            # The part of this pass that fits beside the previous pass streams from the
            # previous pass's start; the rest once its last group frees channels.
            prev = np.nonzero(tiling.pass_of == s - 1)[0]
            free = arch.iaram_bytes * 8 - chan[prev].sum(axis=1)
            pre = np.cumsum(chan[sel], axis=1)
            early_c = int(min(np.searchsorted(pre[i], free[i], side="right")
                              for i in range(len(sel))))
            early = float(pre[:, early_c - 1].sum()) if early_c > 0 else 0.0
            fetches.append(Fetch(early, prev_first, first_step))
            fetches.append(Fetch(pass_act_bits - early, first_step - 1, first_step,
                                 streamed=True))
            act_dram_bits += pass_act_bits
        elif rule != "channel_chunk":
            fetches.append(Fetch(pass_act_bits, fetches[-1].needed_by if fetches else -1,
                                 first_step))
            act_dram_bits += pass_act_bits
        prev_first = first_step
        for gi in range(g_conv):
            wblk = w_blocks[gi].sum(axis=(1, 2))
            chunks = ([(gi * Cg, (gi + 1) * Cg)] if rule != "channel_chunk" else
                      channel_chunks(chan[sel], gi * Cg, (gi + 1) * Cg, arch.iaram_bytes * 4))
            for g in range(G):
                own = busy_tg[gi][sel, g] + stall_tg[gi][sel, g]
                busy_sum += busy_tg[gi][sel, g].sum() / arch.n_pes
                stall_sum += stall_tg[gi][sel, g].sum() / arch.n_pes
                hw = halo_t[sel] * group_kc[g]
                halo_words += int(hw.sum())
                # Halo time: the slowest PE's own words, or DNNsim's rule (one region x Kc).
                halo_step = (halo_dnnsim * int(group_kc[g]) if arch.halo_model == "dnnsim"
                             else int(hw.max(initial=0)))
                if len(chunks) == 1:
                    own_parts = own[:, None]
                else:
                    own_parts = _split_cycles(own, _chunk_weights(
                        a_blocks[sel], w_blocks[gi][g], chunks, gi * Cg, arch.F, arch.I))
                for j, (c0, c1) in enumerate(chunks):
                    last = j == len(chunks) - 1
                    own_j = own_parts[:, j]
                    if per_channel:
                        compute = int(chan_tg[gi][sel, g, c0 - gi * Cg:c1 - gi * Cg]
                                      .max(axis=0).sum())
                    else:
                        compute = int(own_j.max(initial=0))
                    idle = compute - own_j
                    idle_sum += idle.sum() / arch.n_pes
                    idle_active_sum += idle[active].sum() / n_active
                    if rule == "channel_chunk" and (len(chunks) > 1 or g == 0):
                        bits = float(chan[sel, c0:c1].sum())
                        fetches.append(Fetch(bits, fetches[-1].needed_by if fetches else -1,
                                             len(steps)))
                        act_dram_bits += bits
                    wb = w_blocks[gi][g][:, c0 - gi * Cg:c1 - gi * Cg].sum()
                    # dram.timing / accumulator.drain_timing off: transfers and drains take
                    # no time (their bits and accesses are still counted below).
                    steps.append(Step(
                        compute_cycles=compute,
                        halo_cycles=(int(-(-halo_step // arch.halo_words_per_cycle))
                                     if last else 0),
                        drain_cycles=(int(-(-(group_kc[g] * tiling.BH * tiling.BW)
                                            // arch.drain_words_per_cycle))
                                      if last and arch.drain_timing else 0),
                        weight_bits=(float((wblk[g] if len(chunks) == 1 else wb)
                                           * w_bits_per_entry) if dram_on else 0.0),
                        act_bits=(pass_act_bits if (gi == 0 and g == 0 and j == 0 and dram_on)
                                  else 0.0),
                        out_bits=((o_stream.n_entries * entry_bits / n_steps)
                                  if out_spill and last and dram_on else 0.0),
                        first_of_pass=(gi == 0 and g == 0 and j == 0),
                        ends_group=last,
                    ))
    if not dram_on:
        fetches = [Fetch(0.0, f.release, f.needed_by, f.streamed) for f in fetches]
    tl = run_timeline(steps, arch.dram_bits_per_cycle, arch.dram_latency_cycles,
                      arch.acc_double_buffered, fetches)

    act_from_dram = (not resident) or input_from_dram
    n_pool_ops = pool_ops(layer.K, layer.P, layer.Q, layer.pool)
    # Activation entries read from DRAM: each once, or once per group (channel_chunk).
    act_fetched = a_stream.n_entries if act_from_dram else 0
    if rule == "channel_chunk":
        act_fetched = round(act_dram_bits / entry_bits)
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
    iaram_writes = act_fetched   # every activation entry that arrives from DRAM
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
        # ReLU/compression of every conv output, halo additions, and the pooling
        # comparisons (max) or additions and scaling (avg) of engine.ppu.pool_ops.
        "ppu_ops": int(layer.K * layer.P * layer.Q) + halo_words + n_pool_ops,
        "halo_words": halo_words,
        "halo_bits": halo_words * arch.acc_bits,
        "dram_read_bits_weight_values": w_value_bits * tiling.n_passes,
        "dram_read_bits_weight_index": w_index_bits * tiling.n_passes,
        "dram_read_bits_act_values": act_fetched * arch.value_bits,
        "dram_read_bits_act_index": act_fetched * arch.index_bits,
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
            "outputs_spill": out_spill, "output_shape": list(out_activations.shape),
            "pool": layer.pool.describe() if layer.pool is not None else "none",
            "pool_ops": n_pool_ops, "weight_entries": w_entries,
            "weight_placeholders": sum(ws.placeholders for ws in w_streams),
            "act_entries": a_stream.n_entries, "act_placeholders": a_stream.placeholders,
            "dram_busy_cycles": tl.dram_busy,
            "overflow": rule, "accumulator_passes": plan.acc_passes,
            "act_dram_fetches": act_fetched / a_stream.n_entries if a_stream.n_entries else 0.0,
            "weight_dram_fetches": tiling.n_passes,
        },
        dense_macs=layer.dense_macs,
        on_plane_products=sums["plane"],
        verified=verified,
        max_abs_error=max_err,
        active_pes=int(pe_active.sum()),
        barrier_idle_active_cycles=idle_active_sum,
        output=output,
    )


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


def _chunk_weights(a_blocks: np.ndarray, w_blocks: np.ndarray, chunks: list[tuple[int, int]],
                   c_first: int, F: int, I: int) -> np.ndarray:
    """Estimated vector pairs of each (work tile, channel chunk) of one output-channel group.

    ``a_blocks [n, phases, C]`` are the tiles' activation entries, ``w_blocks [phases, Cg]``
    the group's weight entries (conv-group channels from ``c_first``). A (tile, phase,
    channel) block issues about ceil(a / I) x ceil(w / F) vector pairs.
    """
    cs = slice(chunks[0][0], chunks[-1][1])
    pairs = (-(-a_blocks[:, :, cs] // I) * -(-w_blocks[None, :, cs.start - c_first:
                                                         cs.stop - c_first] // F)).sum(axis=1)
    starts = [c0 - chunks[0][0] for c0, _ in chunks]
    return np.add.reduceat(pairs, starts, axis=1) if pairs.shape[1] else pairs


def _split_cycles(own: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Split each tile's cycles ``own [n]`` over chunks in proportion to ``weights [n, J]``.

    Integer parts that sum to ``own`` exactly (floors of the cumulative shares); a tile
    without weight puts all its cycles in the last chunk.
    """
    total = weights.sum(axis=1, keepdims=True)
    frac = np.where(total > 0, np.cumsum(weights, axis=1) / np.maximum(total, 1), 0.0)
    frac[:, -1] = 1.0
    cum = np.floor(own[:, None] * frac).astype(np.int64)
    return np.diff(cum, axis=1, prepend=0)


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
