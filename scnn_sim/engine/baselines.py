"""Dense baselines on the same multipliers: DCNN and DCNN-opt (SCNN section 6).

[SCNN] does not publish DCNN's dot-product mapping. Ours (PT-IS-DP-dense):

* Same planar tiling as SCNN, but of the *output* plane: each PE computes the outputs it
  owns (kernel-centre rule), so no halos.
* Per PE and cycle: I input channels x F output channels at one output position. An adder
  tree reduces the F x I products over the I channels into F accumulators: one accumulator
  read-modify-write per I products (MACs / I).
* Loop nest per PE: for each group of F output channels, for each group of I input channels,
  for each (r, s): load the F x I weights into registers (one weight-buffer read each), then
  sweep the PE's output pixels, reading I activations per pixel (reused by the F channels).
* Cycles = groups x max over PEs (owned pixels) x ceil(Kg / F) x ceil(Cg / I) x R x S:
  fragmentation comes from channel counts that are not multiples of F or I.
* On-chip SRAM of 2 MB (SCNN's DCNN): activations go to DRAM only when a layer's dense input or
  output exceeds it, or for a network's first layer. Weights are read once from DRAM.
* DCNN-opt: the same cycles; multipliers are zero-gated (only the products with both operands
  non-zero cost energy, which are SCNN's products) and DRAM transfers are compressed (SCNN's
  encoded bits), as [SCNN] Table 6 says; every other action is DCNN's.

Accesses follow the engine's rules (``engine.layer.ACCESS_KEYS``): dense values carry no
index, so an activation read is ``value_bits`` wide and a weight-buffer entry holds F values;
every MAC is one add (adder tree over I plus the accumulate); the weights are broadcast once
to all PEs; leakage counts the multipliers and the 2 MB SRAM for DCNN's cycles.
"""

from __future__ import annotations

from scnn_sim.arch import ArchConfig
from scnn_sim.engine.layer import LayerCounts
from scnn_sim.engine.mapping import owner_bounds, split_bounds
from scnn_sim.workload import Layer

DCNN_SRAM_BITS = 2 * 1024 * 1024 * 8


def dcnn_counts(layer: Layer, arch: ArchConfig, scnn: LayerCounts,
                input_from_dram: bool) -> dict[str, dict[str, float]]:
    """Cycles and action counts of DCNN and DCNN-opt for one layer.

    Returns ``{"dcnn": {"cycles": ..., "accesses": {...}}, "dcnn_opt": {...}}`` with the
    same access keys as the engine, so one energy table prices all three.
    """
    g = layer.groups
    Kg, Cg = layer.K // g, layer.C // g
    own_r = owner_bounds(layer, split_bounds(layer.H, arch.pe_rows, arch.tiling), layer.P, "row")
    own_c = owner_bounds(layer, split_bounds(layer.W, arch.pe_cols, arch.tiling), layer.Q, "col")
    pixels = [(r1 - r0) * (c1 - c0) for r0, r1 in own_r for c0, c1 in own_c]
    active_pes = sum(1 for p in pixels if p)
    per_pixel = -(-Kg // arch.F) * -(-Cg // arch.I) * layer.R * layer.S
    cycles = g * max(pixels) * per_pixel
    macs = layer.dense_macs
    vb, ab, F = arch.value_bits, arch.acc_bits, arch.F
    act_bits = layer.C * layer.H * layer.W * vb
    out_bits = layer.K * layer.P * layer.Q * vb
    weights = layer.K * Cg * layer.R * layer.S
    act_in = input_from_dram or act_bits > DCNN_SRAM_BITS
    outs = layer.K * layer.P * layer.Q
    # Weight-buffer entries of F dense values loaded into each active PE's registers.
    w_entries = -(-weights * active_pes // F)
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
        "iaram_reads": macs / F,
        "iaram_read_bits": macs / F * vb,
        "iaram_writes": layer.C * layer.H * layer.W if act_in else 0,
        "iaram_write_bits": act_bits if act_in else 0,
        "oaram_writes": outs,
        "oaram_write_bits": out_bits,
        "weight_fifo_reads": w_entries,
        "weight_fifo_writes": w_entries,
        "weight_fifo_read_bits": weights * active_pes * vb,
        "weight_fifo_write_bits": weights * active_pes * vb,
        "weight_broadcasts": -(-weights // F),
        "weight_broadcast_bits": weights * vb,
        "ppu_ops": outs,
        "halo_words": 0,
        "halo_bits": 0,
        "dram_read_bits_weight_values": weights * vb,
        "dram_read_bits_weight_index": 0,
        "dram_read_bits_act_values": act_bits if act_in else 0,
        "dram_read_bits_act_index": 0,
        "dram_write_bits_values": out_bits if out_bits > DCNN_SRAM_BITS else 0,
        "dram_write_bits_index": 0,
        "leakage_multiplier_cycles": arch.multipliers * cycles,
        "leakage_sram_kb_cycles": DCNN_SRAM_BITS / 8 / 1024 * cycles,
    }
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

    passes = max(1, int(scnn.mapping["passes"]))
    compressed(dense["dram_read_bits_weight_values"],
               s["dram_read_bits_weight_values"] // passes,
               s["dram_read_bits_weight_index"] // passes, "dram_read_bits_weight_")
    n_act = int(scnn.mapping["act_entries"])
    compressed(dense["dram_read_bits_act_values"], n_act * vb, n_act * ib,
               "dram_read_bits_act_")
    compressed(dense["dram_write_bits_values"], s["oaram_writes"] * vb,
               s["oaram_writes"] * ib, "dram_write_bits_")
    return {"dcnn": {"cycles": cycles, "accesses": dense},
            "dcnn_opt": {"cycles": cycles, "accesses": opt}}
