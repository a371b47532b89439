"""The steps of a layer on the timeline: barriers, halo, drains and DRAM transfers.

The kernels time every work tile through every output-channel group; this module lays those
counts out as :class:`~scnn_sim.engine.timeline.Step` s, one per (pass, convolution group,
output-channel group, channel chunk), with the DRAM fetches of the activations
(:class:`~scnn_sim.engine.timeline.Fetch`) that the overflow rule implies, and keeps the
per-PE means of busy, stall and barrier-idle cycles that the layer's record reports.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scnn_sim.engine import kernels
from scnn_sim.engine.mapping import (
    MappingPlan,
    _tile_entries,
    channel_chunks,
    halo_entries,
    split_bounds,
)
from scnn_sim.engine.timeline import Fetch, Step
from scnn_sim.inputs.arch import ArchConfig
from scnn_sim.sparsity.formats import RLEStream
from scnn_sim.workload.shapes import Layer
from scnn_sim.workload.tensors import LayerTensors


@dataclass
@dataclass
class KernelRun:
    """What the kernels measured for a layer: per convolution group, the counts and the
    weight stream, and the layer's sums of the counts that are reported whole."""

    group_kc: np.ndarray                 # output channels of each output-channel group
    counts: list[kernels.TileCounts]
    w_streams: list[RLEStream]
    sums: dict[str, int]


@dataclass
class Schedule:
    """The layer's timeline steps and DRAM fetches, with the per-PE means they came from."""

    steps: list[Step]
    fetches: list[Fetch]
    busy: float = 0.0          # mean over PEs of issue cycles
    stall: float = 0.0         # mean over PEs of bank-conflict stalls
    idle: float = 0.0          # mean over PEs of barrier waits
    idle_active: float = 0.0   # mean over active PEs of barrier waits
    halo_words: int = 0
    act_dram_bits: float = 0.0  # activation bits fetched (channel_chunk re-fetches)


def active_pes(layer: Layer, arch: ArchConfig) -> np.ndarray:
    """Per PE: whether it holds at least one input pixel (barrier idle is also reported over
    these only)."""
    pe_rows_b = split_bounds(layer.H, arch.pe_rows, arch.tiling, layer.padding)
    pe_cols_b = split_bounds(layer.W, arch.pe_cols, arch.tiling, layer.padding)
    return np.array([r1 > r0 and c1 > c0 for r0, r1 in pe_rows_b for c0, c1 in pe_cols_b])


def _pass_fetches(sch: Schedule, plan: MappingPlan, arch: ArchConfig, chan: np.ndarray,
                  s: int, sel: np.ndarray, pass_act_bits: float, prev_first: int) -> None:
    """The DRAM fetches of pass ``s``'s activations (``channel_chunk`` fetches per chunk)."""
    tiling, rule = plan.tiling, plan.overflow
    first_step = len(sch.steps)
    if rule == "fewest_passes" and s > 0:
        # The part of this pass that fits beside the previous pass streams from the
        # previous pass's start; the rest once its last group frees channels.
        prev = np.nonzero(tiling.pass_of == s - 1)[0]
        free = arch.iaram_bytes * 8 - chan[prev].sum(axis=1)
        pre = np.cumsum(chan[sel], axis=1)
        early_c = int(min(np.searchsorted(pre[i], free[i], side="right")
                          for i in range(len(sel))))
        early = float(pre[:, early_c - 1].sum()) if early_c > 0 else 0.0
        sch.fetches.append(Fetch(early, prev_first, first_step))
        sch.fetches.append(Fetch(pass_act_bits - early, first_step - 1, first_step,
                                 streamed=True))
        sch.act_dram_bits += pass_act_bits
    elif rule != "channel_chunk":
        sch.fetches.append(Fetch(pass_act_bits,
                                 sch.fetches[-1].needed_by if sch.fetches else -1, first_step))
        sch.act_dram_bits += pass_act_bits


@dataclass(frozen=True)
class Layout:
    """What every step of a layer's schedule reads: the layer, its mapping, the kernels'
    counts and the block sizes of both streams."""

    lt: LayerTensors
    arch: ArchConfig
    plan: MappingPlan
    run: KernelRun
    a_blocks: np.ndarray        # activation entries [T, phases, C]
    chan: np.ndarray            # IARAM bits [T, C]
    w_blocks: list[np.ndarray]  # per convolution group: weight entries [G, phases, Cg]
    halo_t: np.ndarray          # halo entries per work tile and output channel
    halo_dnnsim: int
    pe_active: np.ndarray
    w_bits_per_entry: float     # DRAM bits per weight entry (each step streams its share)
    out_bits_per_step: float    # output DRAM bits per step (spilled outputs)


def schedule_layer(lt: LayerTensors, arch: ArchConfig, plan: MappingPlan, run: KernelRun,
              input_from_dram: bool, w_bits_per_entry: float,
              out_bits_per_step: float) -> Schedule:
    """Per-step timing: a barrier per output-channel group (or per input channel), the steps
    of every pass, convolution group, output-channel group and channel chunk in order."""
    layer, tiling, a_stream = lt.layer, plan.tiling, plan.stream
    n_ph = layer.stride ** 2
    T, G = tiling.n_tiles, len(run.group_kc)
    Cg = layer.C // layer.groups
    entry_bits = arch.value_bits + arch.index_bits
    a_blocks = np.diff(a_stream.block_ptr).reshape(T, n_ph, layer.C)
    lay = Layout(lt, arch, plan, run, a_blocks, a_blocks.sum(axis=1) * entry_bits,
                  [np.diff(ws.block_ptr).reshape(G, n_ph, Cg) for ws in run.w_streams],
                  halo_entries(layer, tiling),
                  dnnsim_halo_words(layer, arch) if arch.halo_model == "dnnsim" else 0,
                  active_pes(layer, arch), w_bits_per_entry, out_bits_per_step)
    a_tile_entries = _tile_entries(a_stream, T)
    sch = Schedule([], [])
    prev_first = -1       # first step of the previous pass
    for s in range(tiling.n_passes):
        sel = np.nonzero(tiling.pass_of == s)[0]
        pass_act_bits = float(a_tile_entries[sel].sum() * entry_bits)
        if plan.resident:
            pass_act_bits = float(a_stream.n_entries * entry_bits) if (
                input_from_dram and s == 0) else 0.0
        first_step = len(sch.steps)
        _pass_fetches(sch, plan, arch, lay.chan, s, sel, pass_act_bits, prev_first)
        prev_first = first_step
        for gi in range(layer.groups):
            _conv_group_steps(sch, lay, gi, sel, pass_act_bits)
    if not arch.dram_timing:
        sch.fetches = [Fetch(0.0, f.release, f.needed_by, f.streamed) for f in sch.fetches]
    return sch


def _conv_group_steps(sch: Schedule, lay: Layout, gi: int, sel: np.ndarray,
                      pass_act_bits: float) -> None:
    """The steps of convolution group ``gi`` in one pass (work tiles ``sel``): one per
    output-channel group and channel chunk, and the per-PE means of their cycles."""
    arch, layer, tiling, rule = lay.arch, lay.lt.layer, lay.plan.tiling, lay.plan.overflow
    Cg = layer.C // layer.groups
    counts = lay.run.counts[gi]
    active = lay.pe_active[tiling.pe_of[sel]]
    n_active = max(int(lay.pe_active.sum()), 1)
    dram_on = arch.dram_timing
    wblk = lay.w_blocks[gi].sum(axis=(1, 2))
    chunks = ([(gi * Cg, (gi + 1) * Cg)] if rule != "channel_chunk" else
              channel_chunks(lay.chan[sel], gi * Cg, (gi + 1) * Cg, arch.iaram_bytes * 4))
    for g in range(len(lay.run.group_kc)):
        own = counts.busy[sel, g] + counts.stall[sel, g]
        sch.busy += counts.busy[sel, g].sum() / arch.n_pes
        sch.stall += counts.stall[sel, g].sum() / arch.n_pes
        hw = lay.halo_t[sel] * lay.run.group_kc[g]
        sch.halo_words += int(hw.sum())
        # Halo time: the slowest PE's own words, or DNNsim's rule (one region x Kc).
        halo_step = (lay.halo_dnnsim * int(lay.run.group_kc[g]) if arch.halo_model == "dnnsim"
                     else int(hw.max(initial=0)))
        if len(chunks) == 1:
            own_parts = own[:, None]
        else:
            own_parts = _split_cycles(own, _chunk_weights(
                lay.a_blocks[sel], lay.w_blocks[gi][g], chunks, gi * Cg, arch.F, arch.I))
        for j, (c0, c1) in enumerate(chunks):
            last = j == len(chunks) - 1
            own_j = own_parts[:, j]
            if arch.barrier == "input_channel":
                compute = int(counts.chan[sel, g, c0 - gi * Cg:c1 - gi * Cg]
                              .max(axis=0).sum())
            else:
                compute = int(own_j.max(initial=0))
            idle = compute - own_j
            sch.idle += idle.sum() / arch.n_pes
            sch.idle_active += idle[active].sum() / n_active
            if rule == "channel_chunk" and (len(chunks) > 1 or g == 0):
                bits = float(lay.chan[sel, c0:c1].sum())
                sch.fetches.append(Fetch(bits, sch.fetches[-1].needed_by if sch.fetches else -1,
                                         len(sch.steps)))
                sch.act_dram_bits += bits
            wb = lay.w_blocks[gi][g][:, c0 - gi * Cg:c1 - gi * Cg].sum()
            # dram.timing / accumulator.drain_timing off: transfers and drains take
            # no time (their bits and accesses are still counted below).
            sch.steps.append(Step(
                compute_cycles=compute,
                halo_cycles=(int(-(-halo_step // arch.halo_words_per_cycle)) if last else 0),
                drain_cycles=(int(-(-(lay.run.group_kc[g] * tiling.BH * tiling.BW)
                                    // arch.drain_words_per_cycle))
                              if last and arch.drain_timing else 0),
                weight_bits=(float((wblk[g] if len(chunks) == 1 else wb)
                                   * lay.w_bits_per_entry) if dram_on else 0.0),
                act_bits=(pass_act_bits if (gi == 0 and g == 0 and j == 0 and dram_on)
                          else 0.0),
                out_bits=lay.out_bits_per_step if last and dram_on else 0.0,
                first_of_pass=(gi == 0 and g == 0 and j == 0),
                ends_group=last,
            ))


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
