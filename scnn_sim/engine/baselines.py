"""Dense baselines on the same multipliers: DCNN and DCNN-opt (SCNN section 6).

[SCNN] does not publish DCNN's dot-product mapping. Ours (PT-IS-DP-dense):

* Same planar tiling as SCNN, but of the *output* plane: each PE computes the outputs it
  owns (kernel-centre rule), so no halos.
* Per PE and cycle: I input channels x F output channels. An adder tree reduces the F x I
  products over the I channels into F accumulators: one accumulator read-modify-write per I
  products (MACs / I).
* Input stationary ([SCNN] names DCNN's dataflow PT-IS-DP-dense): a PE reads a vector of I
  dense activations (one position, I channels) from its activation SRAM once per group of
  Kc output channels and holds it in the multiplier inputs while the weights of those Kc
  channels and every (r, s) stream past it. Kc is as many output channels as the PE's
  accumulator buffer (``arch.acc_capacity`` entries, as SCNN's) holds for the outputs it
  owns; a PE owning more outputs than the buffer holds works in spatial chunks, re-reading
  its input window per chunk. A dot product has no weight reuse inside the array, so every
  MAC reads its weight from the PE's weight buffer: F 16-bit values per input lane and
  cycle, priced per bit like the weight FIFO.
* Cycles = groups x max over PEs (owned pixels) x ceil(Kg / F) x ceil(Cg / I) x R x S:
  fragmentation comes from channel counts that are not multiples of F or I.
* On-chip SRAM of 2 MB (SCNN's DCNN): activations go to DRAM only when a layer's dense input or
  (pooled) output exceeds it, or for a layer whose input is the network's input or of unknown
  producer. Weights are read once from DRAM.
* Cycles include DRAM time when bandwidth binds, overlapped with compute like SCNN's
  (:func:`~scnn_sim.engine.timeline.run_timeline`): one step per group of F output channels
  (per convolution group), its dense weights streamed one step ahead; the input arrives before
  the first step; spilled outputs are written behind the steps. An input larger than half the
  SRAM is processed in ``ceil(input bits / (SRAM / 2))`` spatial passes (double-buffered
  halves of the SRAM), each pass's input share prefetched during the previous pass; weights
  stay in SRAM across passes.
* DCNN-opt: the same cycles ([SCNN]: same speed as DCNN); multipliers are zero-gated (only the
  products with both operands non-zero cost energy, which are SCNN's products) and DRAM
  transfers are compressed (SCNN's encoded bits), as [SCNN] Table 6 says; every other action
  (operand reads, adder tree, accumulators) is DCNN's.

Accesses follow the engine's rules (``engine.layer.ACCESS_KEYS``): dense values carry no
index, so an activation read is I x ``value_bits`` wide and a weight-buffer entry holds F values;
every MAC is one add (adder tree over I plus the accumulate); the weights are broadcast once
to all PEs; leakage counts the multipliers and the 2 MB SRAM for DCNN's cycles.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, SupportsInt, cast

from scnn_sim.engine.layer import LayerCounts
from scnn_sim.engine.mapping import owner_bounds, split_bounds
from scnn_sim.engine.timeline import Step, Timeline, run_timeline
from scnn_sim.inputs.arch import ArchConfig
from scnn_sim.workload.shapes import Layer

DCNN_SRAM_BITS = 2 * 1024 * 1024 * 8


def dcnn_counts(layer: Layer, arch: ArchConfig, scnn: LayerCounts,
                input_from_dram: bool) -> dict[str, dict[str, Any]]:
    """Cycles and action counts of DCNN and DCNN-opt for one layer.

    Returns ``{"dcnn": {"cycles": ..., "dram_stall_cycles": ..., "accesses": {...}},
    "dcnn_opt": {...}}`` with the same access keys as the engine, so one energy table prices
    all three.
    """
    g = layer.groups
    Cg = layer.C // g
    own_r = owner_bounds(layer, split_bounds(layer.H, arch.pe_rows, arch.tiling,
                                               layer.padding), layer.P, "row")
    own_c = owner_bounds(layer, split_bounds(layer.W, arch.pe_cols, arch.tiling,
                                               layer.padding), layer.Q, "col")
    pixels = [(r1 - r0) * (c1 - c0) for r0, r1 in own_r for c0, c1 in own_c]
    active_pes = sum(1 for p in pixels if p)
    macs = layer.dense_macs
    vb, ab, F = arch.value_bits, arch.acc_bits, arch.F
    act_bits = layer.C * layer.H * layer.W * vb
    # The PPU pools before the output buffer: OARAM writes and output DRAM bits are post-pool.
    out_shape = cast("Sequence[int]", scnn.mapping.get("output_shape") or layer.out_shape)
    out_elems = int(out_shape[0]) * int(out_shape[1]) * int(out_shape[2])
    out_bits = out_elems * vb
    act_in = input_from_dram or act_bits > DCNN_SRAM_BITS
    out_write = out_bits > DCNN_SRAM_BITS
    tl = dcnn_timeline(layer, arch, max(pixels), act_bits if act_in else 0,
                       out_bits if out_write else 0)
    cycles = tl.total
    weights = layer.K * Cg * layer.R * layer.S
    outs = layer.K * layer.P * layer.Q          # conv outputs drained from the accumulators
    # Weight-buffer entries of F dense values loaded into each active PE's buffer.
    w_entries = -(-weights * active_pes // F)
    # Input-stationary activation reads: I-wide vectors of each PE's input window, once per
    # group of Kc output channels (and per spatial chunk of the PE's outputs).
    act_vectors = _input_vector_reads(layer, arch, own_r, own_c, max(pixels))
    # Every MAC reads its weight: F values per lane and cycle.
    w_reads = -(-macs // F)
    dense = {
        "multiplies": macs,
        "adds": macs,
        "coord_ops": 0,
        "crossbar_transfers": 0,
        "crossbar_bits": 0,
        "acc_reads": macs / arch.I,
        "acc_writes": macs / arch.I,
        "acc_drain_reads": outs,
        "acc_read_bits": macs / arch.I * ab,
        "acc_write_bits": macs / arch.I * ab,
        "acc_drain_read_bits": outs * ab,
        "iaram_reads": act_vectors,
        "iaram_read_bits": act_vectors * arch.I * vb,
        "iaram_writes": layer.C * layer.H * layer.W if act_in else 0,
        "iaram_write_bits": act_bits if act_in else 0,
        "oaram_writes": out_elems,
        "oaram_write_bits": out_bits,
        "weight_fifo_reads": w_reads,
        "weight_fifo_writes": w_entries,
        "weight_fifo_read_bits": macs * vb,
        "weight_fifo_write_bits": weights * active_pes * vb,
        "weight_broadcasts": -(-weights // F),
        "weight_broadcast_bits": weights * vb,
        "ppu_ops": outs + _mapping_int(scnn, "pool_ops", 0),
        "halo_words": 0,
        "halo_bits": 0,
        "dram_read_bits_weight_values": weights * vb,
        "dram_read_bits_weight_index": 0,
        "dram_read_bits_act_values": act_bits if act_in else 0,
        "dram_read_bits_act_index": 0,
        "dram_write_bits_values": out_bits if out_write else 0,
        "dram_write_bits_index": 0,
        "leakage_multiplier_cycles": arch.multipliers * cycles,
        "leakage_sram_kb_cycles": DCNN_SRAM_BITS / 8 / 1024 * cycles,
    }
    opt = _dcnn_opt(dense, scnn, arch)
    # No halos or drains: every cycle beyond compute waits for DRAM (input and weights
    # before a step, or the last spilled outputs after the final step).
    stall = tl.total - tl.compute
    return {"dcnn": {"cycles": cycles, "dram_stall_cycles": stall, "accesses": dense},
            "dcnn_opt": {"cycles": cycles, "dram_stall_cycles": stall, "accesses": opt}}


def _mapping_int(scnn: LayerCounts, key: str, default: int | None = None) -> int:
    """An integer entry of the layer's mapping record (:func:`engine.layer._mapping_record`
    writes them as numbers)."""
    value = scnn.mapping[key] if default is None else scnn.mapping.get(key, default)
    return int(cast(SupportsInt, value))


def _dcnn_opt(dense: dict[str, float], scnn: LayerCounts,
              arch: ArchConfig) -> dict[str, float]:
    """DCNN-opt's accesses: DCNN's, with SCNN's products as multiplies and compressed DRAM
    transfers wherever they are smaller than the dense ones."""
    vb = arch.value_bits
    s = scnn.accesses
    opt = dict(dense)
    opt["multiplies"] = scnn.products
    ib = arch.index_bits

    def compressed(dense_bits: float, value_bits: float, index_bits: float,
                   prefix: str) -> None:
        # A compressed transfer is sent only when it is smaller than the dense one (the
        # sender picks the smaller form), so DCNN-opt never moves more DRAM bits than DCNN.
        if not dense_bits or value_bits + index_bits >= dense_bits:
            return
        opt[f"{prefix}values"], opt[f"{prefix}index"] = value_bits, index_bits

    passes = max(1, _mapping_int(scnn, "passes"))
    compressed(dense["dram_read_bits_weight_values"],
               s["dram_read_bits_weight_values"] // passes,
               s["dram_read_bits_weight_index"] // passes, "dram_read_bits_weight_")
    # Compressed input, once (SCNN's encoded entries), whenever DCNN reads it: also when SCNN
    # keeps a sparse input on chip that is larger than 2 MB dense.
    n_act = _mapping_int(scnn, "act_entries")
    compressed(dense["dram_read_bits_act_values"], n_act * vb, n_act * ib,
               "dram_read_bits_act_")
    compressed(dense["dram_write_bits_values"], s["oaram_writes"] * vb,
               s["oaram_writes"] * ib, "dram_write_bits_")
    return opt


def _input_vector_reads(layer: Layer, arch: ArchConfig, own_r: list[tuple[int, int]],
                        own_c: list[tuple[int, int]], max_pixels: int) -> int:
    """I-wide activation vectors DCNN's PEs read from their activation SRAM (input stationary).

    Each PE reads every input pixel of the window its owned outputs need (clipped to the
    plane: padding is not stored) once per group of Kc output channels, for each group of I
    input channels of each convolution group. Kc = the output channels whose partial sums for
    the busiest PE's outputs fit the accumulator buffer; when even one channel does not fit,
    Kc = 1 and the PE works in ``ceil(outputs / capacity)`` spatial chunks, each re-reading
    its window (overlap between chunks is ignored).
    """
    g = layer.groups
    Kg, Cg = layer.K // g, layer.C // g
    cap = arch.acc_capacity
    if max_pixels > cap:
        k_groups = Kg * -(-max_pixels // cap)
    else:
        k_groups = -(-Kg // max(1, min(Kg, cap // max(max_pixels, 1))))

    def window(lo: int, hi: int, k: int, n_in: int) -> int:
        if hi <= lo:
            return 0
        first = lo * layer.stride - layer.padding
        last = (hi - 1) * layer.stride - layer.padding + k - 1
        return max(0, min(last, n_in - 1) - max(first, 0) + 1)

    rows = [window(r0, r1, layer.R, layer.H) for r0, r1 in own_r]
    cols = [window(c0, c1, layer.S, layer.W) for c0, c1 in own_c]
    in_pixels = sum(rows) * sum(cols)
    return int(in_pixels * -(-Cg // arch.I) * g * k_groups)


def dcnn_timeline(layer: Layer, arch: ArchConfig, max_pixels: int, act_bits: float,
                  out_bits: float) -> Timeline:
    """DCNN's cycles with its DRAM transfers overlapped with compute (module docstring).

    Parameters
    ----------
    layer
        The conv layer.
    arch
        Multiplier array (F, I), DRAM bandwidth and latency.
    max_pixels
        Output pixels of the busiest PE.
    act_bits, out_bits
        Dense input bits read from DRAM and (pooled) output bits written to it (0: on chip).

    Returns
    -------
    Timeline
        ``total`` cycles, of which ``dram_stall`` waiting for DRAM.
    """
    g = layer.groups
    Kg, Cg = layer.K // g, layer.C // g
    per_pixel = -(-Cg // arch.I) * layer.R * layer.S
    n_kf = -(-Kg // arch.F)
    n_pass = max(1, -(-int(act_bits) // (DCNN_SRAM_BITS // 2)))
    n_pass = min(n_pass, max(max_pixels, 1))
    pass_pixels = [hi - lo for lo, hi in split_bounds(max_pixels, n_pass)]
    w_bits_f = Cg * layer.R * layer.S * arch.value_bits   # one output channel's weights
    n_steps = n_pass * g * n_kf
    steps = []
    for p, pix in enumerate(pass_pixels):
        for gi in range(g):
            for f in range(n_kf):
                first = gi == 0 and f == 0
                kf = min(arch.F, Kg - f * arch.F)
                steps.append(Step(
                    compute_cycles=pix * per_pixel, halo_cycles=0, drain_cycles=0,
                    weight_bits=float(kf * w_bits_f) if p == 0 else 0.0,
                    act_bits=act_bits / n_pass if first else 0.0,
                    out_bits=out_bits / n_steps, first_of_pass=first))
    return run_timeline(steps, arch.dram_bits_per_cycle, arch.dram_latency_cycles, True)
