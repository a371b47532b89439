"""Engine correctness: functional truth (outputs equal a dense convolution), counting
invariants re-derived independently from the tensors, and hand-derived cycle counts of the
numba PE kernel (queued and lock-step bank contention) on a single PE."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scnn_sim.engine.layer import choose_mapping, reference_conv, simulate_layer
from scnn_sim.errors import SimulationError
from scnn_sim.workload.shapes import Layer
from scnn_sim.workload.tensors import LayerTensors


def check_layer(lt, arch, conv_ref, work, *, merges: bool = True):
    """Simulate with verify; check outputs, independent work counts and cycle identities."""
    c = simulate_layer(lt, arch, verify=True, count_merges=merges)
    ref = conv_ref(lt.weights, lt.activations, lt.layer)
    scale = max(float(np.abs(ref).max(initial=0.0)), 1.0)
    assert c.verified is True
    assert c.output.shape == (lt.layer.K, lt.layer.P, lt.layer.Q)
    np.testing.assert_allclose(c.output, ref, rtol=0, atol=1e-5 * scale)
    np.testing.assert_allclose(reference_conv(lt.weights, lt.activations, lt.layer), ref,
                               rtol=0, atol=1e-9 * scale)

    tiling, kc, _, _ = choose_mapping(lt, arch)
    assert c.mapping["kc"] == kc
    exp = work(lt, arch, tiling, kc)
    assert c.products == exp.products
    assert c.vector_pairs == exp.pairs
    assert c.accesses["multiplies"] == exp.products
    assert c.accesses["iaram_reads"] == exp.iaram
    assert c.accesses["weight_fifo_writes"] == exp.fifo_w
    assert c.accesses["weight_fifo_reads"] == exp.fifo_r
    # The accumulator holds Kc channels of the (common) buffer.
    BH, BW = c.mapping["buffer"]
    assert 1 <= kc * BH * BW <= arch.acc_capacity

    # Cycle identities.
    parts = (c.busy_cycles, c.conflict_stall_cycles, c.barrier_idle_cycles, c.halo_cycles,
             c.dram_stall_cycles, c.drain_stall_cycles)
    assert all(p >= -1e-9 for p in parts), parts
    assert c.cycles == pytest.approx(sum(parts), abs=1e-6 * max(c.cycles, 1))
    assert c.cycles >= c.oracle_cycles - 1e-9
    assert 0.0 <= c.multiplier_utilization <= 1.0
    if c.products:
        # Every product needs an issue slot: F*I products per issued pair at most.
        assert c.vector_pairs * arch.F * arch.I >= c.products
    if merges:
        acc = c.accumulator_accesses
        assert acc["wide"] <= acc["same_address"] <= acc["per_product"] == c.products
    return c


# ----------------------------------------------------------------------- functional truth

# (id, layer kwargs for make_tensors, arch overrides)
CASES = [
    ("fine", dict(C=3, K=6, R=3, S=3, H=10, W=10, padding=1, granularity="fine"), {}),
    ("vector", dict(C=3, K=6, R=3, S=3, H=10, W=10, padding=1, granularity="vector"), {}),
    ("kernel", dict(C=4, K=6, R=3, S=3, H=10, W=10, padding=1, granularity="kernel"), {}),
    ("filter", dict(C=3, K=8, R=3, S=3, H=10, W=10, padding=1, granularity="filter"), {}),
    ("stride2-pad0", dict(C=2, K=5, R=3, S=3, H=11, W=11, stride=2), {}),
    ("stride2-pad1", dict(C=2, K=5, R=3, S=3, H=12, W=12, stride=2, padding=1), {}),
    ("stride2-pad2", dict(C=2, K=4, R=5, S=5, H=9, W=10, stride=2, padding=2), {}),
    ("stride4-alexnet-conv1", dict(C=3, K=8, R=11, S=11, H=31, W=31, stride=4, ad=1.0,
                                   wd=0.85), {}),
    ("stride4-pad2-odd", dict(C=2, K=3, R=7, S=5, H=17, W=14, stride=4, padding=2), {}),
    ("stride3-kernel1", dict(C=2, K=3, R=1, S=1, H=10, W=10, stride=3), {}),
    ("groups2", dict(C=4, K=6, R=3, S=3, H=8, W=8, padding=1, groups=2), {}),
    ("depthwise", dict(C=5, K=5, R=3, S=3, H=9, W=9, padding=1, groups=5), {}),
    ("depthwise-x2-stride2", dict(C=3, K=6, R=3, S=3, H=9, W=9, stride=2, padding=1,
                                  groups=3), {}),
    ("tiles-smaller-than-kernel", dict(C=2, K=4, R=5, S=5, H=9, W=9, padding=2), {}),
    ("plane13", dict(C=2, K=4, R=3, S=3, H=13, W=13, padding=1), {}),
    ("plane7", dict(C=2, K=4, R=3, S=3, H=7, W=7, padding=1), {}),
    ("plane3x5", dict(C=2, K=4, R=3, S=3, H=3, W=5, padding=1), {}),
    ("plane3x5-ceil", dict(C=2, K=4, R=3, S=3, H=3, W=5, padding=1),
     {"dataflow.tiling": "ceil"}),
    ("K13-kcmax8", dict(C=2, K=13, R=3, S=3, H=8, W=8, padding=1), {}),
    ("kc5", dict(C=2, K=13, R=3, S=3, H=8, W=8, padding=1), {"dataflow.kc": 5}),
    ("subtiles-2x3", dict(C=2, K=6, R=3, S=3, H=16, W=16, padding=1),
     {"dataflow.subtiles": [2, 3]}),
    ("subtiles-2x3-1pe-stride2", dict(C=2, K=6, R=3, S=3, H=15, W=13, stride=2, padding=1),
     {"dataflow.subtiles": [2, 3], "pe_array.rows": 1, "pe_array.cols": 1}),
    ("lockstep", dict(C=3, K=8, R=3, S=3, H=10, W=10, padding=1),
     {"accumulator.contention": "lockstep"}),
    ("queued-depth1", dict(C=3, K=8, R=3, S=3, H=10, W=10, padding=1),
     {"accumulator.queue_depth": 1}),
    ("xor", dict(C=3, K=8, R=3, S=3, H=10, W=10, padding=1),
     {"accumulator.bank_mapping": "xor"}),
    ("xor-lockstep-8banks", dict(C=3, K=8, R=3, S=3, H=10, W=10, padding=1),
     {"accumulator.bank_mapping": "xor", "accumulator.contention": "lockstep",
      "accumulator.banks": 8}),
    ("order-rsk", dict(C=2, K=6, R=3, S=5, H=9, W=9, padding=1),
     {"dataflow.weight_order": "rsk"}),
    ("order-skr-stride2", dict(C=2, K=6, R=5, S=3, H=11, W=11, stride=2, padding=1),
     {"dataflow.weight_order": "skr"}),
    ("tiling-ceil", dict(C=2, K=6, R=3, S=3, H=13, W=11, padding=1),
     {"dataflow.tiling": "ceil"}),
    ("barrier-input-channel", dict(C=4, K=6, R=3, S=3, H=10, W=10, padding=1),
     {"dataflow.barrier": "input_channel"}),
    ("barrier-input-channel-lockstep", dict(C=4, K=6, R=3, S=3, H=10, W=10, padding=1),
     {"dataflow.barrier": "input_channel", "accumulator.contention": "lockstep"}),
    ("placeholders", dict(C=2, K=6, R=3, S=3, H=20, W=20, padding=1, ad=0.05, wd=0.1),
     {"pe_array.rows": 2, "pe_array.cols": 2, "data.index_bits": 2}),
    ("wide-F8-I2", dict(C=2, K=9, R=3, S=3, H=10, W=10, padding=1),
     {"multiplier.F": 8, "multiplier.I": 2}),
    ("dense", dict(C=2, K=4, R=3, S=3, H=8, W=8, padding=1, wd=1.0, ad=1.0), {}),
    ("all-zero-acts", dict(C=2, K=4, R=3, S=3, H=8, W=8, padding=1, ad=0.0), {}),
]


@pytest.mark.parametrize(("layer_kw", "over"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_functional_truth(layer_kw, over, arch, tensors, conv_ref, work):
    a = arch.replace(**over) if over else arch
    lt = tensors(**layer_kw, seed=len(str(layer_kw)))
    c = check_layer(lt, a, conv_ref, work)
    if "dataflow.subtiles" in over:
        assert c.mapping["subtiles"] == list(over["dataflow.subtiles"])
        assert c.mapping["passes"] == over["dataflow.subtiles"][0] * over["dataflow.subtiles"][1]
    if "dataflow.kc" in over:
        assert c.mapping["kc"] == over["dataflow.kc"]
        assert c.mapping["output_channel_groups"] == math.ceil(lt.layer.K / over["dataflow.kc"])
    assert c.mapping["stride_phases"] == lt.layer.stride ** 2
    assert c.mapping["conv_groups"] == lt.layer.groups


def test_k13_output_channel_groups(arch, tensors):
    lt = tensors(C=2, K=13, R=3, S=3, H=8, W=8, padding=1)
    c = simulate_layer(lt, arch, verify=True)
    assert c.mapping["kc"] == 8
    assert c.mapping["output_channel_groups"] == 2


def test_verify_detects_a_wrong_reference(arch, tensors, monkeypatch):
    """``verified`` can be False: corrupt the reference and the engine must notice."""
    import scnn_sim.engine.layer as layer_mod

    lt = tensors(C=2, K=4, R=3, S=3, H=8, W=8, padding=1, ad=1.0, wd=1.0)
    real = layer_mod.reference_conv
    monkeypatch.setattr(layer_mod, "reference_conv",
                        lambda w, a, lay: real(w, a, lay) + 1.0)
    c = simulate_layer(lt, arch, verify=True)
    assert c.verified is False
    assert c.max_abs_error == pytest.approx(1.0, abs=1e-4)


def test_verified_is_none_without_verify(arch, tensors):
    lt = tensors(C=2, K=4, R=3, S=3, H=8, W=8, padding=1)
    ref = np.maximum(reference_conv(lt.weights, lt.activations, lt.layer), 0).astype(np.float32)
    c = simulate_layer(lt, arch, out_activations=ref)
    assert c.verified is None and c.output is None


def test_out_activations_required(arch, tensors):
    lt = tensors(C=2, K=4, R=3, S=3, H=8, W=8, padding=1)
    with pytest.raises(SimulationError):
        simulate_layer(lt, arch)


ORDERS = ["".join(p) for p in itertools.permutations("krs")]


@st.composite
def layer_and_arch(draw):
    groups = draw(st.sampled_from([1, 1, 1, 2, 3]))
    Cg = draw(st.integers(1, 3))
    Kg = draw(st.integers(1, 6))
    if draw(st.booleans()) and groups > 1:
        Cg, Kg = 1, draw(st.integers(1, 2))  # depthwise (x multiplier)
    R = draw(st.integers(1, 5))
    S = draw(st.integers(1, 5))
    stride = draw(st.sampled_from([1, 1, 2, 3, 4]))
    pad = draw(st.integers(0, 2))
    H = draw(st.integers(max(1, R - 2 * pad), 12))
    W = draw(st.integers(max(1, S - 2 * pad), 12))
    kw = dict(C=Cg * groups, K=Kg * groups, R=R, S=S, H=H, W=W, stride=stride, padding=pad,
              groups=groups, wd=draw(st.sampled_from([0.0, 0.1, 0.3, 0.6, 1.0])),
              ad=draw(st.sampled_from([0.0, 0.05, 0.3, 0.7, 1.0])),
              granularity=draw(st.sampled_from(["fine", "vector", "kernel", "filter"])),
              seed=draw(st.integers(0, 10_000)))
    banks = draw(st.sampled_from([1, 2, 4, 8, 32]))
    over = {
        "pe_array.rows": draw(st.integers(1, 4)),
        "pe_array.cols": draw(st.integers(1, 4)),
        "multiplier.F": draw(st.integers(1, 4)),
        "multiplier.I": draw(st.integers(1, 4)),
        "accumulator.banks": banks,
        "accumulator.entries_per_bank": max(32, 256 // banks),
        "accumulator.contention": draw(st.sampled_from(["queued", "lockstep"])),
        "accumulator.queue_depth": draw(st.integers(1, 4)),
        "accumulator.bank_mapping": draw(st.sampled_from(["linear", "xor"])),
        "data.index_bits": draw(st.sampled_from([2, 4])),
        "dataflow.weight_order": draw(st.sampled_from(ORDERS)),
        "dataflow.kc_max": draw(st.integers(1, 8)),
        "dataflow.tiling": draw(st.sampled_from(["balanced", "ceil"])),
        "dataflow.barrier": draw(st.sampled_from(["group", "input_channel"])),
    }
    if draw(st.integers(0, 3)) == 0:
        over["dataflow.subtiles"] = [draw(st.integers(1, 3)), draw(st.integers(1, 3))]
    return kw, over


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=layer_and_arch())
def test_functional_truth_random(case, arch, tensors, conv_ref, work):
    kw, over = case
    check_layer(tensors(**kw), arch.replace(**over), conv_ref, work)


# ----------------------------------------------------------------------------- invariants


def test_products_stride1_one_pass_closed_form(arch, tensors):
    """Stride 1, one pass: products = sum over conv groups, channels of nnz(W[:, c]) nnz(A[c]),
    counted over *work tiles* (a tile's activations meet every weight)."""
    lt = tensors(C=6, K=8, R=3, S=3, H=12, W=12, padding=1, groups=2, wd=0.4, ad=0.5)
    c = simulate_layer(lt, arch, verify=True)
    assert c.mapping["passes"] == 1
    Kg, Cg = 4, 3
    exp = sum(np.count_nonzero(lt.weights[g * Kg:(g + 1) * Kg, ci])
              * np.count_nonzero(lt.activations[g * Cg + ci])
              for g in range(2) for ci in range(Cg))
    assert c.products == exp


def test_products_invariant_across_contention_and_banks(arch, tensors):
    lt = tensors(C=3, K=10, R=3, S=3, H=12, W=12, padding=1, stride=2, wd=0.5, ad=0.6)
    ref = None
    cycles = {}
    for cont, bm, banks in itertools.product(["queued", "lockstep"], ["linear", "xor"],
                                             [8, 32]):
        a = arch.replace(**{"accumulator.contention": cont, "accumulator.bank_mapping": bm,
                            "accumulator.banks": banks})
        c = simulate_layer(lt, a, verify=True, count_merges=True)
        key = (c.products, c.vector_pairs, c.accumulator_accesses["same_address"],
               c.accumulator_accesses["wide"], c.accesses["iaram_reads"])
        ref = ref or key
        assert key == ref
        assert c.verified
        cycles[cont, bm, banks] = c.busy_cycles + c.conflict_stall_cycles
    # Busy (issue) cycles do not depend on the banks; stalls do.
    for bm, banks in itertools.product(["linear", "xor"], [8, 32]):
        assert cycles["lockstep", bm, banks] >= cycles["queued", bm, banks]


def test_lockstep_slower_than_queued_with_conflicts(arch, tensors):
    """32 banks: conflicts are sporadic, the queues absorb most of them; lock-step pays each.
    (With very few banks both are throughput-bound by the banks and may tie.)"""
    lt = tensors(C=4, K=16, R=3, S=3, H=16, W=16, padding=1, wd=0.8, ad=0.9)
    q = simulate_layer(lt, arch, verify=True)
    ls = simulate_layer(lt, arch.replace(**{"accumulator.contention": "lockstep"}), verify=True)
    assert q.conflict_stall_cycles > 0
    assert ls.conflict_stall_cycles > q.conflict_stall_cycles
    assert ls.cycles > q.cycles
    assert ls.busy_cycles == q.busy_cycles
    assert ls.products == q.products


def test_more_banks_fewer_stalls(arch, tensors):
    lt = tensors(C=4, K=16, R=3, S=3, H=16, W=16, padding=1, wd=0.8, ad=0.9)
    lock = arch.replace(**{"accumulator.contention": "lockstep"})
    stalls = [simulate_layer(lt, lock.replace(**{"accumulator.banks": b,
                                                 "accumulator.entries_per_bank": 1024 // b}),
                             verify=True).conflict_stall_cycles for b in (1, 4, 32)]
    assert stalls[0] > stalls[1] > stalls[2]


def test_dense_layer_has_no_placeholders(arch, tensors):
    lt = tensors(C=4, K=8, R=3, S=3, H=40, W=40, padding=1, wd=1.0, ad=1.0)
    c = simulate_layer(lt, arch.replace(**{"pe_array.rows": 2, "pe_array.cols": 2}),
                       verify=True)
    assert c.mapping["act_placeholders"] == 0
    assert c.mapping["weight_placeholders"] == 0
    assert c.mapping["act_entries"] == lt.activations.size
    assert c.products == lt.layer.K * lt.layer.C * 9 * 40 * 40
    # ... and the same plane at 2% density does need them (runs longer than 15).
    sparse = tensors(C=4, K=8, R=3, S=3, H=40, W=40, padding=1, wd=1.0, ad=0.02)
    c = simulate_layer(sparse, arch.replace(**{"pe_array.rows": 2, "pe_array.cols": 2}),
                       verify=True)
    assert c.mapping["act_placeholders"] > 0


def test_acc_merge_counts_are_none_unless_counted(arch, tensors):
    lt = tensors(C=2, K=4, R=3, S=3, H=8, W=8, padding=1)
    c = simulate_layer(lt, arch, verify=True, count_merges=False)
    assert c.accumulator_accesses["same_address"] is None
    assert c.accumulator_accesses["wide"] is None
    c = simulate_layer(lt, arch.replace(**{"accumulator.access_model": "wide"}), verify=True)
    assert c.accesses["acc_reads"] == c.accumulator_accesses["wide"] < c.products


def test_wide_words_one_equals_same_address(arch, tensors):
    lt = tensors(C=3, K=8, R=3, S=3, H=10, W=10, padding=1, wd=0.7, ad=0.8)
    c = simulate_layer(lt, arch.replace(**{"accumulator.wide_words": 1}), verify=True,
                       count_merges=True)
    assert c.accumulator_accesses["wide"] == c.accumulator_accesses["same_address"]


def test_same_address_merges_3x3_on_one_row(arch1):
    """One activation row, 1x3 kernel, all weights of one channel in one F-vector: products
    of different (activation, weight) pairs hitting one output merge."""
    a = arch1.replace(**{"multiplier.F": 3, "multiplier.I": 4})
    layer = Layer("m", C=1, K=1, R=1, S=3, H=1, W=4, padding=0)
    w = np.ones((1, 1, 1, 3), np.float32)
    acts = np.ones((1, 1, 4), np.float32)
    c = simulate_layer(LayerTensors(layer, w, acts), a, verify=True, count_merges=True)
    # One pair: 12 products; output columns x - s for x in 0..3, s in 0..2: -2..3 -> 6 addresses.
    assert c.vector_pairs == 1 and c.products == 12
    assert c.accumulator_accesses["same_address"] == 6
    # Buffer width 6 (columns -2..3): wide words of 4 -> words {0..3}, {4, 5}: 2 accesses.
    assert c.mapping["buffer"] == [1, 6]
    assert c.accumulator_accesses["wide"] == 2


def test_seed_determinism(tensors, arch):
    import scnn_sim

    a = scnn_sim.simulate("alexnet", layers=["conv5"], seed=3)
    b = scnn_sim.simulate("alexnet", layers=["conv5"], seed=3)
    d = scnn_sim.simulate("alexnet", layers=["conv5"], seed=4)
    assert a.to_json() == b.to_json()
    assert a.to_json() != d.to_json()
    assert a.layers[0]["products"] != d.layers[0]["products"]


# ------------------------------------------------------------- hand-derived cycle counts


def _one_pe(arch1, **over):
    return arch1.replace(**over) if over else arch1


def _layer(C, K, R, S, H, W, w, a, **kw):
    layer = Layer("h", C=C, K=K, R=R, S=S, H=H, W=W, **kw)
    return LayerTensors(layer, np.asarray(w, np.float32).reshape(layer.weight_shape),
                        np.asarray(a, np.float32).reshape(C, H, W))


def test_single_pair_single_cycle(arch1):
    """1x1 conv, C=1, K=F=4, one activation: one vector pair, 4 products, 1 busy cycle."""
    lt = _layer(1, 4, 1, 1, 1, 1, [1, 2, 3, 4], [2.0])
    for cont in ("queued", "lockstep"):
        c = simulate_layer(lt, _one_pe(arch1, **{"accumulator.contention": cont}), verify=True)
        assert c.verified
        assert (c.vector_pairs, c.products) == (1, 4)
        assert c.busy_cycles == 1
        assert c.conflict_stall_cycles == 0
        assert c.barrier_idle_cycles == 0
        np.testing.assert_allclose(c.output.ravel(), [2, 4, 6, 8])
        # Timeline: 4 weight entries x 20 bits = 80 bits -> 1 DRAM cycle + 100 latency, needed
        # after the 1-cycle compute (stall 101 - 1); then a drain of 4 entries at 32/cycle.
        assert c.dram_stall_cycles == 100
        assert c.drain_stall_cycles == 1
        assert c.cycles == 1 + 100 + 1


@pytest.mark.parametrize("cont", ["lockstep", "queued"])
def test_one_bank_serialises_a_pair(arch1, cont):
    """All F x I = 16 products of one pair in one bank: 16 cycles (1 issue + 15 stall)."""
    a = _one_pe(arch1, **{"accumulator.banks": 1, "accumulator.entries_per_bank": 1024,
                          "accumulator.contention": cont})
    lt = _layer(1, 4, 1, 1, 1, 4, np.ones(4), np.ones(4))
    c = simulate_layer(lt, a, verify=True)
    assert (c.vector_pairs, c.products) == (1, 16)
    assert c.busy_cycles == 1
    assert c.conflict_stall_cycles == 15


@pytest.mark.parametrize(("model", "accesses", "cycles"),
                         [("per_product", 16, 16), ("same_address", 7, 7), ("wide", 2, 2)])
def test_access_model_sets_bank_load(arch1, model, accesses, cycles):
    """A 1x4 kernel over a 1x4 row, F = I = 4, one bank, lock-step: one vector pair of 16
    products whose outputs x - s span 7 addresses (buffer columns 0..6), i.e. 2 aligned wide
    words of 4. Merged products take one bank slot, so the pair holds the array for 16, 7 or 2
    cycles, and the accumulator is accessed that many times."""
    a = _one_pe(arch1, **{"accumulator.banks": 1, "accumulator.entries_per_bank": 1024,
                          "accumulator.contention": "lockstep",
                          "accumulator.access_model": model})
    lt = _layer(1, 1, 1, 4, 1, 4, np.ones(4), np.ones(4))
    c = simulate_layer(lt, a, verify=True, count_merges=True)
    assert c.verified
    assert c.mapping["buffer"] == [1, 7]
    assert (c.vector_pairs, c.products) == (1, 16)
    assert c.accumulator_accesses == {"per_product": 16, "same_address": 7, "wide": 2}
    assert c.accesses["acc_writes"] == accesses
    assert c.busy_cycles + c.conflict_stall_cycles == cycles


@pytest.mark.parametrize(("index_bits", "pairs", "busy", "stall"),
                         [(8, 1, 1, 15), (4, 2, 2, 14)])
def test_colliding_addresses_mod_banks(arch1, index_bits, pairs, busy, stall):
    """32 banks, plane width 128: activations at x = 0, 32, 64, 96 and channels k = 0..3 give
    addresses k*128 + x, all in bank 0. With 8-bit runs: one pair, 16 products, 16 cycles.
    With 4-bit runs each 31-zero gap costs a placeholder (31 // 16 = 1), so the I=4 vectors
    are [a0, ph, a32, ph], [a64, ph, a96]: two pairs of 8 products each, still 16 cycles."""
    a = _one_pe(arch1, **{"accumulator.contention": "lockstep", "data.index_bits": index_bits})
    acts = np.zeros(128)
    acts[[0, 32, 64, 96]] = 1.0
    lt = _layer(1, 4, 1, 1, 1, 128, np.ones(4), acts)
    c = simulate_layer(lt, a, verify=True)
    assert c.mapping["buffer"] == [1, 128]
    assert c.mapping["act_entries"] == 4 + (3 if index_bits == 4 else 0)
    assert (c.vector_pairs, c.products) == (pairs, 16)
    assert (c.busy_cycles, c.conflict_stall_cycles) == (busy, stall)


@pytest.mark.parametrize(("cont", "depth", "stall"),
                         [("lockstep", 4, 4), ("queued", 4, 2), ("queued", 3, 2),
                          ("queued", 2, 3), ("queued", 1, 3)])
def test_queue_rule_hand_derived(arch1, cont, depth, stall):
    """F=2, I=1, 2 banks, 1x1 conv, C=1, K=4, plane 1x2: address k*2 + x, bank x.

    Pairs in order (act x, weights k): (0, {0,1}) -> bank 0 x2, (0, {2,3}) -> bank 0 x2,
    (1, {0,1}) -> bank 1 x2, (1, {2,3}) -> bank 1 x2. Four issue cycles.
    lock-step: every pair takes 2 cycles -> 4 stalls.
    queued depth >= 3: p0@0 (b0 holds 2), p1@1 (b0 1+2=3 <= depth), p2@2 (b1: 2), p3@3 (b1: 3);
    at t=4 bank 1 still holds 2 -> drain 2 stalls, 6 cycles.
    queued depth 2: p1 needs b0 <= 0 -> waits 1 (issues @2); p2@3; p3 waits 1 (@5); drain of
    b1 (2 - 1 = 1) -> 3 stalls, 7 cycles. depth 1 < load 2: wait for an empty queue: same.
    """
    a = _one_pe(arch1, **{"multiplier.F": 2, "multiplier.I": 1, "accumulator.banks": 2,
                          "accumulator.entries_per_bank": 512, "accumulator.contention": cont,
                          "accumulator.queue_depth": depth})
    lt = _layer(1, 4, 1, 1, 1, 2, [1, 2, 3, 4], [1, 1])
    c = simulate_layer(lt, a, verify=True)
    assert c.verified
    assert c.mapping["buffer"] == [1, 2] and c.mapping["kc"] == 4
    assert (c.vector_pairs, c.products) == (4, 8)
    assert c.busy_cycles == 4
    assert c.conflict_stall_cycles == stall


def test_queue_no_stall_when_banks_spread(arch1):
    """4 banks, plane 1x4, K=2, F=2, I=1: pair x loads bank x with 2 products.
    queued (depth 4): issues at 0..3, bank 3 drains 1 more cycle -> 1 stall; lock-step: 4."""
    base = {"multiplier.F": 2, "multiplier.I": 1, "accumulator.banks": 4}
    lt = _layer(1, 2, 1, 1, 1, 4, [1, 1], [1, 1, 1, 1])
    q = simulate_layer(lt, _one_pe(arch1, **base), verify=True)
    ls = simulate_layer(lt, _one_pe(arch1, **base, **{"accumulator.contention": "lockstep"}),
                        verify=True)
    assert (q.busy_cycles, q.conflict_stall_cycles) == (4, 1)
    assert (ls.busy_cycles, ls.conflict_stall_cycles) == (4, 4)


def test_queues_drain_per_output_channel_group(arch1):
    """Same layout as the hand-derived queue case but Kc=2: each group's queues drain before
    the next. Group (k 0,1): pairs x=0 -> b0 x2... with plane 1x2 and kc=2 the address is
    k*2 + x, bank x: p(x=0)@0, p(x=1)@1, drain 1 -> 3 cycles per group, 2 groups."""
    a = _one_pe(arch1, **{"multiplier.F": 2, "multiplier.I": 1, "accumulator.banks": 2,
                          "dataflow.kc": 2})
    lt = _layer(1, 4, 1, 1, 1, 2, [1, 2, 3, 4], [1, 1])
    c = simulate_layer(lt, a, verify=True)
    assert c.mapping["output_channel_groups"] == 2
    assert (c.busy_cycles, c.conflict_stall_cycles) == (4, 2)


def test_placeholder_weight_gated_but_occupies_slot(arch1):
    """A weight block with a 20-zero gap (index_bits 4) holds 1 placeholder: F=4 slots hold
    [w0, ph, w21] -> one pair, 2 products (the placeholder's multiplier is gated)."""
    layer_w = np.zeros((22, 1, 1, 1))
    layer_w[[0, 21]] = 1.0
    lt = _layer(1, 22, 1, 1, 1, 1, layer_w, [3.0])
    a = _one_pe(arch1, **{"dataflow.kc": 22, "multiplier.F": 4})
    c = simulate_layer(lt, a, verify=True)
    assert c.mapping["weight_placeholders"] == 1
    assert c.mapping["weight_entries"] == 3
    assert (c.vector_pairs, c.products) == (1, 2)
    # The 3 entries (placeholder included) fill one physical FIFO entry of F = 4 weights.
    assert c.accesses["weight_fifo_writes"] == 1
    assert c.accesses["weight_fifo_write_bits"] == 4 * (16 + 4)


@pytest.mark.parametrize("seed", [0, 1])
def test_vector_pairs_per_block(arch1, tensors, entries, seed):
    """Single PE, stride 1: pairs = sum_c sum_g ceil(na_c / I) * ceil(nw_gc / F), na and nw
    counting placeholders; fifo reads = ceil(na/I) * ceil(nw/F) (entries of F weights)."""
    a = _one_pe(arch1, **{"multiplier.F": 3, "multiplier.I": 2, "data.index_bits": 2,
                          "dataflow.kc": 3})
    lt = tensors(C=3, K=7, R=2, S=3, H=6, W=5, padding=1, wd=0.3, ad=0.3, seed=seed)
    c = simulate_layer(lt, a, verify=True)
    pairs = reads = 0
    for ch in range(3):
        na = entries(lt.activations[ch], 2)
        for k0 in range(0, 7, 3):
            nw = entries(lt.weights[k0:k0 + 3, ch], 2)  # krs order
            if na and nw:
                pairs += math.ceil(na / 2) * math.ceil(nw / 3)
                reads += math.ceil(na / 2) * math.ceil(nw / 3)
    assert c.vector_pairs == pairs
    assert c.accesses["weight_fifo_reads"] == reads


def test_barrier_idle_from_imbalance(arch):
    """2 PEs (1x2 grid), lock-step, one bank per product: the left PE has 3 activations, the
    right PE 1, K=F=1, I=1: left busy 3, right busy 1 -> barrier idle = (3 - 1) / 2 = 1."""
    a = arch.replace(**{"pe_array.rows": 1, "pe_array.cols": 2, "multiplier.F": 1,
                        "multiplier.I": 1})
    lt = _layer(1, 1, 1, 1, 1, 8, [1.0], [1, 1, 1, 0, 0, 0, 0, 1])
    c = simulate_layer(lt, a, verify=True)
    assert c.busy_cycles == pytest.approx((3 + 1) / 2)
    assert c.barrier_idle_cycles == pytest.approx((3 - 1) / 2)
    assert c.conflict_stall_cycles == 0


def test_input_channel_barrier_costs_more(arch, tensors):
    lt = tensors(C=8, K=8, R=3, S=3, H=16, W=16, padding=1, wd=0.4, ad=0.4)
    g = simulate_layer(lt, arch, verify=True)
    ch = simulate_layer(lt, arch.replace(**{"dataflow.barrier": "input_channel"}), verify=True)
    assert ch.barrier_idle_cycles > g.barrier_idle_cycles
    assert ch.busy_cycles == g.busy_cycles


# ------------------------------------------------------------------- DRAM / mapping effects


def test_resident_activations_not_read_from_dram(arch, tensors):
    lt = tensors(C=2, K=4, R=3, S=3, H=8, W=8, padding=1)
    c = simulate_layer(lt, arch, verify=True)
    assert c.mapping["activations_resident"] is True
    assert c.accesses["dram_read_bits_act_values"] == 0
    c = simulate_layer(lt, arch, verify=True, input_from_dram=True)
    assert c.accesses["dram_read_bits_act_values"] == c.mapping["act_entries"] * 16
    assert c.accesses["dram_read_bits_act_index"] == c.mapping["act_entries"] * 4
    assert c.accesses["dram_read_bits_weight_values"] == c.mapping["weight_entries"] * 16


def test_subtiles_reread_weights_per_pass(arch, tensors):
    lt = tensors(C=2, K=4, R=3, S=3, H=16, W=16, padding=1)
    one = simulate_layer(lt, arch, verify=True)
    six = simulate_layer(lt, arch.replace(**{"dataflow.subtiles": [2, 3]}), verify=True)
    assert six.mapping["passes"] == 6
    assert six.mapping["weight_entries"] == one.mapping["weight_entries"]
    assert (six.accesses["dram_read_bits_weight_values"]
            == 6 * one.accesses["dram_read_bits_weight_values"])


def test_impossible_kc_is_a_clean_error(arch, tensors):
    lt = tensors(C=2, K=64, R=3, S=3, H=64, W=64, padding=1, wd=0.1, ad=0.1)
    a = arch.replace(**{"dataflow.kc": 64, "dataflow.subtiles": [1, 1]})
    with pytest.raises(SimulationError, match="Kc=64"):
        simulate_layer(lt, a, verify=True)


def test_one_channel_does_not_fit_is_a_clean_error(arch, tensors):
    lt = tensors(C=1, K=1, R=5, S=5, H=20, W=20, padding=2)
    a = arch.replace(**{"accumulator.banks": 1, "accumulator.entries_per_bank": 8})
    with pytest.raises(SimulationError):
        simulate_layer(lt, a, verify=True)


# ------------------------------------------- cycle model re-derived from the docstring rules


def _entries(vec, index_bits):
    """(value, dense position) of each entry of a zero-run block; placeholders have value 0."""
    period = 1 << index_bits
    out, prev = [], -1
    for i, v in enumerate(np.asarray(vec).ravel()):
        if v != 0:
            for j in range((i - prev - 1) // period):
                out.append((0.0, prev + period * (j + 1)))
            out.append((float(v), i))
            prev = i
    return out


def _tick(q):
    """One cycle: every non-empty bank queue retires one update."""
    np.subtract(q, 1, out=q, where=q > 0)


def model_cycles(lt, arch, kc):
    """Busy and stall cycles of one PE holding the whole plane (stride 1), stepping cycle by
    cycle through the queued rule, or charging the most-loaded bank under lock-step."""
    lay = lt.layer
    R, S, H, W = lay.R, lay.S, lay.H, lay.W
    BH, BW = H + R - 1, W + S - 1
    axis = {"k": 0, "r": 1, "s": 2}
    perm = tuple(axis[ch] for ch in arch.weight_order)
    busy = stall = 0
    for k0 in range(0, lay.K, kc):
        k1 = min(k0 + kc, lay.K)
        q = np.zeros(arch.acc_banks, np.int64)  # queue occupancy per bank
        for c in range(lay.C):
            acts = [(v, divmod(p, W)) for v, p in _entries(lt.activations[c], arch.index_bits)]
            blk = lt.weights[k0:k1, c].transpose(perm)
            shape = blk.shape
            wts = []
            for v, p in _entries(blk, arch.index_bits):
                idx = np.unravel_index(p, shape)
                krs = [0, 0, 0]
                for d, ch in enumerate(arch.weight_order):
                    krs["krs".index(ch)] = int(idx[d])
                wts.append((v, tuple(krs)))
            if not acts or not wts:
                continue
            for a0 in range(0, len(acts), arch.I):
                for w0 in range(0, len(wts), arch.F):
                    load = np.zeros(arch.acc_banks, np.int64)
                    for wv, (k, r, s) in wts[w0:w0 + arch.F]:
                        for av, (y, x) in acts[a0:a0 + arch.I]:
                            if wv != 0 and av != 0:
                                addr = k * BH * BW + (y + R - 1 - r) * BW + (x + S - 1 - s)
                                load[addr % arch.acc_banks] += 1
                    busy += 1
                    if arch.contention == "lockstep":
                        stall += max(int(load.max()), 1) - 1
                        continue
                    hit = load > 0
                    d = arch.queue_depth
                    while not np.all(np.where(load[hit] <= d, q[hit] + load[hit] <= d,
                                              q[hit] == 0)):
                        _tick(q)
                        stall += 1
                    q += load
                    _tick(q)
            if arch.barrier == "input_channel" and arch.contention == "queued":
                while q.any():
                    _tick(q)
                    stall += 1
        if arch.contention == "queued":
            while q.any():
                _tick(q)
                stall += 1
    return busy, stall


@st.composite
def one_pe_case(draw):
    C = draw(st.integers(1, 3))
    K = draw(st.integers(1, 6))
    R = draw(st.integers(1, 3))
    S = draw(st.integers(1, 3))
    pad = draw(st.integers(0, 1))
    H = draw(st.integers(max(1, R - 2 * pad), 7))
    W = draw(st.integers(max(1, S - 2 * pad), 7))
    kw = dict(C=C, K=K, R=R, S=S, H=H, W=W, padding=pad,
              wd=draw(st.sampled_from([0.2, 0.5, 1.0])),
              ad=draw(st.sampled_from([0.1, 0.4, 1.0])), seed=draw(st.integers(0, 999)))
    over = {
        "pe_array.rows": 1, "pe_array.cols": 1,
        "multiplier.F": draw(st.integers(1, 4)),
        "multiplier.I": draw(st.integers(1, 4)),
        "accumulator.banks": draw(st.sampled_from([1, 2, 3, 5, 8])),
        "accumulator.entries_per_bank": 1024,
        "accumulator.contention": draw(st.sampled_from(["queued", "lockstep"])),
        "accumulator.queue_depth": draw(st.integers(1, 5)),
        "data.index_bits": draw(st.sampled_from([1, 2, 4])),
        "dataflow.weight_order": draw(st.sampled_from(ORDERS)),
        "dataflow.kc": draw(st.integers(1, 6)),
        "dataflow.barrier": draw(st.sampled_from(["group", "input_channel"])),
    }
    return kw, over


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=one_pe_case())
def test_cycles_match_cycle_stepping_model(case, arch, tensors):
    kw, over = case
    a = arch.replace(**over)
    lt = tensors(**kw)
    c = simulate_layer(lt, a, verify=True)
    lay = lt.layer
    assert c.mapping["subtiles"] == [1, 1]
    assert c.mapping["buffer"] == [lay.H + lay.R - 1, lay.W + lay.S - 1]
    busy, stall = model_cycles(lt, a, min(a.kc, lay.K))
    assert (c.busy_cycles, c.conflict_stall_cycles) == (busy, stall)
    assert c.barrier_idle_cycles == 0


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=layer_and_arch())
def test_lockstep_never_faster_than_queued(case, arch, tensors):
    """Per PE the queues can only hide bank conflicts that lock-step pays in full."""
    kw, over = case
    lt = tensors(**kw)
    out = np.maximum(reference_conv(lt.weights, lt.activations, lt.layer), 0).astype(np.float32)
    res = {}
    for cont in ("queued", "lockstep"):
        c = simulate_layer(lt, arch.replace(**{**over, "accumulator.contention": cont}),
                           out_activations=out)
        res[cont] = c
    q, ls = res["queued"], res["lockstep"]
    assert ls.busy_cycles == q.busy_cycles and ls.products == q.products
    assert (ls.busy_cycles + ls.conflict_stall_cycles + ls.barrier_idle_cycles
            >= q.busy_cycles + q.conflict_stall_cycles + q.barrier_idle_cycles - 1e-9)


def test_xor_mapping_spreads_power_of_two_strides(arch1):
    """The colliding layout above (addresses k*128 + 32j, all bank 0 under ``mod 32``) under the
    xor fold ``(a ^ a >> 5 ^ a >> 10) & 31``: a >> 5 = 4k + j, so the 16 products hit 16
    distinct banks: 1 cycle, no stall."""
    acts = np.zeros(128)
    acts[[0, 32, 64, 96]] = 1.0
    lt = _layer(1, 4, 1, 1, 1, 128, np.ones(4), acts)
    for mapping, stall in (("linear", 15), ("xor", 0)):
        a = _one_pe(arch1, **{"accumulator.contention": "lockstep", "data.index_bits": 8,
                              "accumulator.bank_mapping": mapping})
        c = simulate_layer(lt, a, verify=True)
        assert (c.vector_pairs, c.products) == (1, 16)
        assert (c.busy_cycles, c.conflict_stall_cycles) == (1, stall)


@pytest.mark.parametrize("over", [
    {},
    {"dataflow.barrier": "input_channel"},
    {"dataflow.subtiles": [2, 2], "accumulator.contention": "lockstep"},
    {"dataflow.kc": 3, "pe_array.rows": 3, "pe_array.cols": 2},
])
def test_pe_cycles_sum_to_step_compute(arch, tensors, monkeypatch, over):
    """busy + conflict stall + barrier idle (means over PEs) == sum of the steps' compute
    cycles handed to the timeline; one step per (pass, conv group, output-channel group)."""
    import scnn_sim.engine.layer as layer_mod

    seen = []
    real = layer_mod.run_timeline

    def spy(steps, *args):
        seen.append(list(steps))
        return real(steps, *args)

    monkeypatch.setattr(layer_mod, "run_timeline", spy)
    lt = tensors(C=4, K=10, R=3, S=3, H=14, W=14, padding=1, groups=2, wd=0.5, ad=0.5)
    c = simulate_layer(lt, arch.replace(**over) if over else arch, verify=True)
    (steps,) = seen
    m = c.mapping
    assert len(steps) == m["passes"] * m["conv_groups"] * m["output_channel_groups"]
    assert sum(s.first_of_pass for s in steps) == m["passes"]
    assert c.busy_cycles + c.conflict_stall_cycles + c.barrier_idle_cycles == pytest.approx(
        sum(s.compute_cycles for s in steps))
    assert c.halo_cycles == sum(s.halo_cycles for s in steps)
    assert sum(s.weight_bits for s in steps) == pytest.approx(
        c.accesses["dram_read_bits_weight_values"] + c.accesses["dram_read_bits_weight_index"])
