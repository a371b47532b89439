"""Temporal tiling of activations that exceed the IARAM (``dataflow.overflow``), the
temporal-tiling energy penalty, and the intra-PE / active-PE metrics, all hand-counted on
tiny layers.

The overflow layer: one PE, C=4 dense channels of 4x4 pixels, 1x1 kernel, K=16 dense
weights (Kc=8: two output-channel groups). Every activation is one 20-bit entry (dense: no
placeholders), so a channel of an h x w tile is 20 h w bits and the layer's 64 entries are
1,280 bits; the 64 weights are 64 entries, 1,024 value bits and 256 index bits per stream.
"""

from __future__ import annotations

import numpy as np
import pytest

from scnn_sim.engine.layer import handover_bits, simulate_layer
from scnn_sim.engine.timeline import Fetch, Step, run_timeline
from scnn_sim.errors import ConfigError, SimulationError
from scnn_sim.inputs.arch import load_arch
from scnn_sim.pricing.energy import load_energy_table
from scnn_sim.results.records import totals_record
from scnn_sim.simulation import layer_record
from scnn_sim.workload.shapes import Layer
from scnn_sim.workload.tensors import LayerTensors


@pytest.fixture(scope="module")
def lt() -> LayerTensors:
    layer = Layer("ov", C=4, K=16, R=1, S=1, H=4, W=4)
    rng = np.random.default_rng(3)
    w = rng.uniform(0.5, 1.0, layer.weight_shape).astype(np.float32)
    a = rng.uniform(0.5, 1.0, (4, 4, 4)).astype(np.float32)
    return LayerTensors(layer, w, a)


def small(rule: str, iaram_bytes: int = 100, **over):
    return load_arch().replace(**{"pe_array.rows": 1, "pe_array.cols": 1,
                                  "buffers.iaram_bytes": iaram_bytes,
                                  "dataflow.overflow": rule, **over})


def run(lt, arch):
    return simulate_layer(lt, arch, verify=True)


def test_overflow_is_validated():
    with pytest.raises(ConfigError, match="dataflow.overflow: must be one of"):
        load_arch().replace(**{"dataflow.overflow": "quarter"})


def test_fewest_passes_two_passes_of_two_rows(lt):
    """800-bit IARAM. One pass needs 1,280 bits. Two passes of 2x4 px: a pass is 4 channels
    x 160 bits = 640; at the hand-over the IARAM holds the current pass (640) and the next
    pass's first channel (160): 800 <= 800, so 2 passes (rows split, columns whole)."""
    c = run(lt, small("fewest_passes"))
    assert c.verified
    m = c.mapping
    assert (m["overflow"], m["passes"], m["subtiles"]) == ("fewest_passes", 2, [2, 1])
    assert m["accumulator_passes"] == 1
    assert c.accesses["dram_read_bits_act_values"] == 64 * 16
    assert c.accesses["dram_read_bits_act_index"] == 64 * 4
    assert m["act_dram_fetches"] == 1.0
    assert m["weight_dram_fetches"] == 2
    assert c.accesses["dram_read_bits_weight_values"] == 64 * 16 * 2
    assert c.accesses["dram_read_bits_weight_index"] == 64 * 4 * 2


def test_fewest_passes_one_bit_short_needs_three_passes(lt):
    """99 B = 792 bits: 2 passes need 800 at the hand-over. Three row passes of 2, 1, 1
    rows: 8 px x 4 ch = 640 bits + the next pass's first channel (4 px = 80 bits) = 720."""
    c = run(lt, small("fewest_passes", 99))
    assert c.verified
    assert (c.mapping["passes"], c.mapping["subtiles"]) == (3, [3, 1])
    assert c.accesses["dram_read_bits_weight_values"] == 64 * 16 * 3
    assert c.accesses["dram_read_bits_act_values"] == 64 * 16


def test_fewest_passes_splits_columns_only_after_rows():
    """A 2x8 plane, 4 dense channels, 600-bit IARAM: whole tile 1,280 bits; 2 row passes of
    1x8 px need 640 + 160 = 800; rows cannot split further, so columns: 2x2 passes of 1x4 px,
    320 + 80 = 400 <= 600."""
    layer = Layer("wide", C=4, K=8, R=1, S=1, H=2, W=8)
    rng = np.random.default_rng(5)
    lt2 = LayerTensors(layer, rng.uniform(0.5, 1, layer.weight_shape).astype(np.float32),
                       rng.uniform(0.5, 1, (4, 2, 8)).astype(np.float32))
    c = run(lt2, small("fewest_passes", 75))
    assert c.verified
    assert (c.mapping["subtiles"], c.mapping["passes"]) == ([2, 2], 4)


def test_handover_bits_by_hand():
    # One PE, passes [100, 50] and [30, 70]: c=0: 150 + 30, c=1: 50 + 100 -> 180; last: 100.
    chan = np.array([[100, 50], [30, 70]])
    assert handover_bits(chan, 1).tolist() == [180, 100]


def test_half_iaram_four_passes(lt):
    """Half of 800 bits = 400. 2x1 sub-tiles (8 px, 640 bits) do not fit, 2x2 (4 px x 4 ch x
    20 = 320 bits) do: 4 passes, weights streamed 4 times."""
    c = run(lt, small("half_iaram"))
    assert c.verified
    m = c.mapping
    assert (m["overflow"], m["passes"], m["subtiles"]) == ("half_iaram", 4, [2, 2])
    assert c.accesses["dram_read_bits_weight_values"] == 64 * 16 * 4
    assert c.accesses["dram_read_bits_act_values"] == 64 * 16
    assert m["act_dram_fetches"] == 1.0


def test_channel_chunk_refetches_per_output_group(lt):
    """Whole 4x4 tile, one channel = 320 bits <= 400 (half), two = 640 > 400: four chunks of
    one channel; each of the two output-channel groups re-reads every chunk: 2 x 1,280 bits;
    weights once."""
    c = run(lt, small("channel_chunk"))
    assert c.verified
    m = c.mapping
    assert (m["overflow"], m["passes"], m["output_channel_groups"]) == ("channel_chunk", 1, 2)
    assert c.accesses["dram_read_bits_act_values"] == 2 * 64 * 16
    assert c.accesses["dram_read_bits_act_index"] == 2 * 64 * 4
    assert m["act_dram_fetches"] == 2.0
    assert m["weight_dram_fetches"] == 1
    assert c.accesses["dram_read_bits_weight_values"] == 64 * 16


def test_channel_chunk_one_channel_too_big(lt):
    with pytest.raises(SimulationError, match="one input channel of a work tile"):
        run(lt, small("channel_chunk", 30))


def test_rules_agree_when_resident(lt):
    """With the default 10 KB IARAM the layer is resident: every rule maps it the same."""
    c = [run(lt, small(r, 10240)) for r in ("fewest_passes", "half_iaram", "channel_chunk")]
    assert {x.mapping["overflow"] for x in c} == {"resident"}
    assert len({(x.cycles, x.accesses["dram_read_bits_weight_values"]) for x in c}) == 1
    assert c[0].accesses["dram_read_bits_act_values"] == 0


@pytest.mark.parametrize(("rule", "weight_fraction", "act_fraction"), [
    ("fewest_passes", 1 / 2, 1.0), ("half_iaram", 1 / 4, 1.0), ("channel_chunk", 1.0, 1 / 2)])
def test_penalty_baseline_by_hand(lt, rule, weight_fraction, act_fraction):
    """Baseline = the same energy with weights read once and activations once: subtract the
    re-fetched DRAM bits priced at the table's pJ per bit."""
    arch = small(rule)
    table = load_energy_table()
    c = run(lt, arch)
    rec = layer_record(lt, c, arch, table, input_from_dram=False)
    e = rec["energy_pj"]["total"]
    a = c.accesses
    w_bits = a["dram_read_bits_weight_values"] + a["dram_read_bits_weight_index"]
    act_bits = a["dram_read_bits_act_values"] + a["dram_read_bits_act_index"]
    saved = (w_bits * (1 - weight_fraction) + act_bits * (1 - act_fraction)) \
        * table.energy_pj["dram_bit"]
    assert saved > 0
    assert rec["temporal_tiling_penalty"] == pytest.approx(e / (e - saved))
    resident = small(rule, 10240)
    rec = layer_record(lt, run(lt, resident), resident, table, input_from_dram=False)
    assert rec["temporal_tiling_penalty"] == 1.0


def test_fewest_passes_stalls_at_low_bandwidth(lt):
    """The second pass (640 bits) streams in during the first: at 50 GB/s (400 bits/cycle) it
    hides; at 0.05 GB/s (0.4 bits/cycle) it takes 1,600 cycles, more than the compute."""
    fast = run(lt, small("fewest_passes"))
    slow = run(lt, small("fewest_passes", **{"dram.bandwidth_gbytes_per_s": 0.05}))
    assert slow.dram_stall_cycles > fast.dram_stall_cycles
    assert slow.cycles > fast.cycles
    # DRAM moves at least all activation and weight bits: 1,280 + 2 x 1,280 at 0.4 b/c.
    assert slow.mapping["dram_busy_cycles"] >= (1280 + 2 * 1280) / 0.4
    assert slow.cycles >= slow.mapping["dram_busy_cycles"]


def step(compute, first=False, ends=True, drain=0, halo=0):
    return Step(compute_cycles=compute, halo_cycles=halo, drain_cycles=drain, weight_bits=0.0,
                act_bits=0.0, out_bits=0.0, first_of_pass=first, ends_group=ends)


@pytest.mark.parametrize(("bpc", "total", "stall"), [(10.0, 400, 100), (4.0, 625, 325)])
def test_timeline_streamed_fetch_by_hand(bpc, total, stall):
    """Pass 0 = steps 0, 1; pass 1 = step 2, each 100 cycles; no latency.
    F0 (1,000 bits) before step 0; pass 1's early part (500 bits) released by step 0's start;
    its rest (1,000 bits) released by step 1's start and streamed into step 2.
    10 b/c: F0 0..100; step 0 100..200; early 100..150; step 1 200..300; rest 200..300;
    step 2 300..400: total 400, stall 100.
    4 b/c: F0 0..250; step 0 250..350; early 250..375; step 1 350..450; rest 375..625;
    step 2 450..550 then waits for the rest: total 625, stall 250 + 75."""
    steps = [step(100, first=True), step(100), step(100, first=True)]
    fetches = [Fetch(1000, -1, 0), Fetch(500, 0, 2), Fetch(1000, 1, 2, streamed=True)]
    tl = run_timeline(steps, bpc, 0, True, fetches)
    assert (tl.total, tl.dram_stall) == (total, stall)


def test_timeline_chunk_steps_share_one_buffer():
    """Single accumulator buffer, two groups of two chunk steps (10 cycles each); halo and
    drain only at a group's last chunk: 0..10, 10..20, halo 20..25, drain 25..55; group 1
    waits for it (30), 55..65, 65..75, halo 75..80, drain 80..110."""
    steps = [step(10, first=True, ends=False, halo=99, drain=99), step(10, halo=5, drain=30),
             step(10, ends=False), step(10, halo=5, drain=30)]
    tl = run_timeline(steps, 10.0, 0, False, [])
    assert (tl.total, tl.halo, tl.drain_stall) == (110, 10, 30 + 30)


# --------------------------------------------------------------------------- metrics


@pytest.fixture(scope="module")
def grid3():
    """1 x 3 PEs, a 2x2 plane: PE 0 holds column 0, PE 1 column 1, PE 2 nothing.
    C=2, K=1, 1x1 dense weight 1.0. PE 0: one non-zero in each channel (2 vector pairs,
    2 busy cycles); PE 1: one non-zero in channel 0 (1 cycle). No bank conflicts (one
    product per pair). Group compute = 2: idle PE 0 = 0, PE 1 = 1, PE 2 = 2."""
    layer = Layer("m", C=2, K=1, R=1, S=1, H=2, W=2)
    a = np.zeros((2, 2, 2), np.float32)
    a[0, 0, 0] = a[1, 1, 0] = a[0, 0, 1] = 1.0
    lt = LayerTensors(layer, np.ones((1, 2, 1, 1), np.float32), a)
    arch = load_arch().replace(**{"pe_array.rows": 1, "pe_array.cols": 3})
    return lt, arch, simulate_layer(lt, arch, verify=True)


def test_intra_pe_utilization_by_hand(grid3):
    _, arch, c = grid3
    assert c.verified
    assert c.products == 3
    assert c.busy_cycles * 3 == 3 and c.conflict_stall_cycles == 0
    assert c.intra_pe_utilization == pytest.approx(3 / (16 * 3))
    assert c.multiplier_utilization == pytest.approx(3 / (48 * c.cycles))


def test_barrier_over_active_pes_by_hand(grid3):
    lt, arch, c = grid3
    assert c.active_pes == 2
    assert c.barrier_idle_cycles == pytest.approx((0 + 1 + 2) / 3)
    assert c.barrier_idle_active_cycles == pytest.approx((0 + 1) / 2)
    rec = layer_record(lt, c, arch, load_energy_table(), input_from_dram=False)
    assert rec["barrier_fraction"] == pytest.approx(1 / c.cycles)
    assert rec["barrier_fraction_active"] == pytest.approx(0.5 / c.cycles)
    assert rec["intra_pe_utilization"] == pytest.approx(1 / 16)


def test_totals_recomputed_from_sums(grid3, lt):
    """Two layers of different size on the 1 x 3 grid with a 480-bit IARAM (the 4-channel
    layer overflows it; balanced tiling: 2, 1, 1 columns): totals are ratios of sums, not
    means of ratios."""
    l1, _, _ = grid3
    arch = load_arch().replace(**{"pe_array.rows": 1, "pe_array.cols": 3,
                                  "buffers.iaram_bytes": 60, "dataflow.tiling": "balanced",
                                  "dataflow.overflow": "half_iaram"})
    table = load_energy_table()
    c1, c2 = run(l1, arch), run(lt, arch)
    assert (c1.active_pes, c2.active_pes) == (2, 3)
    assert c2.mapping["overflow"] == "half_iaram"
    r1, r2 = (layer_record(x, c, arch, table, input_from_dram=False)
              for x, c in ((l1, c1), (lt, c2)))
    tot = totals_record([r1, r2], arch.multipliers)
    work = (c1.busy_cycles + c1.conflict_stall_cycles + c2.busy_cycles
            + c2.conflict_stall_cycles)
    assert tot["intra_pe_utilization"] == pytest.approx((c1.products + c2.products)
                                                        / (work * arch.multipliers))
    assert tot["barrier_fraction_active"] == pytest.approx(
        (c1.barrier_idle_active_cycles * 2 + c2.barrier_idle_active_cycles * 3)
        / (c1.cycles * 2 + c2.cycles * 3))
    e1, e2 = r1["energy_pj"]["total"], r2["energy_pj"]["total"]
    assert r1["temporal_tiling_penalty"] == 1.0
    assert tot["temporal_tiling_penalty"] == pytest.approx(
        (e1 + e2) / (e1 + e2 / r2["temporal_tiling_penalty"]))
    assert 1.0 < tot["temporal_tiling_penalty"] < r2["temporal_tiling_penalty"]


def test_run_table_shows_intra_pe_and_active_barrier(grid3):
    import scnn_sim
    from scnn_sim.commands.run import render

    lt, arch, _ = grid3
    res = scnn_sim.simulate([lt], arch=arch)
    text = render(res)
    lines = text.splitlines()  # the table wraps at 120 columns: join its blocks
    head = [w for ln in lines if ln.startswith("layer ") for w in ln.split()]
    assert "intra-PE" in head and "act" in head
    row = [w for ln in lines if ln.startswith(res.layers[0].record["name"] + " ")
           for w in ln.split()]
    rec = res.layers[0].record
    assert f"{rec['intra_pe_utilization']:.3f}" in row
    assert f"(intra-PE {res.totals['intra_pe_utilization']:.3f})" in text
