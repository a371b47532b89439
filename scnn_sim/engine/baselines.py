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
  encoded bits).
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
    own_r = owner_bounds(layer, split_bounds(layer.H, arch.pe_rows, arch.tiling,
                                               layer.padding), layer.P, "row")
    own_c = owner_bounds(layer, split_bounds(layer.W, arch.pe_cols, arch.tiling,
                                               layer.padding), layer.Q, "col")
    pixels = [(r1 - r0) * (c1 - c0) for r0, r1 in own_r for c0, c1 in own_c]
    active_pes = sum(1 for p in pixels if p)
    per_pixel = -(-Kg // arch.F) * -(-Cg // arch.I) * layer.R * layer.S
    cycles = g * max(pixels) * per_pixel
    macs = layer.dense_macs
    vb = arch.value_bits
    act_bits = layer.C * layer.H * layer.W * vb
    out_bits = layer.K * layer.P * layer.Q * vb
    dense = {
        "multiplies": macs,
        "crossbar_transfers": 0,
        "acc_reads": macs / arch.I,
        "acc_writes": macs / arch.I,
        "acc_drain_reads": layer.K * layer.P * layer.Q,
        "iaram_reads": macs / arch.F,
        "oaram_writes": layer.K * layer.P * layer.Q,
        "weight_fifo_reads": layer.K * Cg * layer.R * layer.S * active_pes,
        "weight_fifo_writes": layer.K * Cg * layer.R * layer.S * active_pes,
        "weight_fifo_read_bits": layer.K * Cg * layer.R * layer.S * active_pes * arch.value_bits,
        "weight_fifo_write_bits": layer.K * Cg * layer.R * layer.S * active_pes * arch.value_bits,
        "ppu_ops": layer.K * layer.P * layer.Q,
        "halo_words": 0,
        "dram_read_bits_weight_values": layer.K * Cg * layer.R * layer.S * vb,
        "dram_read_bits_weight_index": 0,
        "dram_read_bits_act_values": act_bits if (input_from_dram or act_bits > DCNN_SRAM_BITS)
        else 0,
        "dram_read_bits_act_index": 0,
        "dram_write_bits_values": out_bits if out_bits > DCNN_SRAM_BITS else 0,
        "dram_write_bits_index": 0,
    }
    s = scnn.accesses
    opt = dict(dense)
    opt["multiplies"] = scnn.products
    for key in ("dram_read_bits_weight_values", "dram_read_bits_weight_index"):
        opt[key] = s[key] // max(1, int(scnn.mapping["passes"]))
    for key in ("dram_read_bits_act_values", "dram_read_bits_act_index"):
        opt[key] = s[key] if dense["dram_read_bits_act_values"] else 0
    for key in ("dram_write_bits_values", "dram_write_bits_index"):
        opt[key] = (s["oaram_writes"] * (vb if key.endswith("values") else arch.index_bits)
                    if dense["dram_write_bits_values"] else 0)
    return {"dcnn": {"cycles": cycles, "accesses": dense},
            "dcnn_opt": {"cycles": cycles, "accesses": opt}}
