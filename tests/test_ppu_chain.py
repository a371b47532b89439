"""The PPU's pooling, layer chaining (on-chip inputs) and the dense baselines' DRAM time."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from scnn_sim.engine.layer import reference_conv, simulate_layer
from scnn_sim.engine.ppu import pool2d, pool_ops
from scnn_sim.errors import WorkloadError
from scnn_sim.simulation import simulate
from scnn_sim.workload.shapes import Layer, Pool, builtin_names, chain_producers, load_workload
from scnn_sim.workload.tensors import LayerTensors


def loop_pool(x: np.ndarray, kind: str, w: int, s: int, p: int, n_out: tuple[int, int]):
    """Pooling by explicit windows clipped to the plane (padding ignored by max and avg)."""
    C, H, W = x.shape
    out = np.zeros((C, *n_out))
    for i, j in itertools.product(range(n_out[0]), range(n_out[1])):
        r0, c0 = i * s - p, j * s - p
        win = x[:, max(r0, 0):min(r0 + w, H), max(c0, 0):min(c0 + w, W)]
        out[:, i, j] = win.max(axis=(1, 2)) if kind == "max" else win.mean(axis=(1, 2))
    return out


@pytest.mark.parametrize(("n", "pool", "expected"), [
    (112, Pool("max", 3, 2, 0, True), 56),     # GoogLeNet pool1/3x3_s2 (Caffe rounding)
    (112, Pool("max", 3, 2, 0, False), 55),
    (112, Pool("max", 3, 2, 1), 56),           # ResNet-50 stem max pool
    (55, Pool("max", 3, 2), 27),               # AlexNet pool1
    (5, Pool("max", 2, 2, 1, True), 3),        # last window would start in the padding
    (7, Pool("avg", 7, 1), 1),                 # GoogLeNet pool5/7x7_s1
])
def test_pooled_size_by_hand(n, pool, expected):
    assert pool.out_size(n) == expected


@pytest.mark.parametrize(("kind", "w", "s", "p", "ceil", "H", "W"), [
    ("max", 2, 2, 0, False, 8, 8),
    ("max", 3, 2, 0, True, 9, 7),
    ("max", 3, 2, 1, False, 7, 11),
    ("avg", 2, 2, 0, False, 7, 5),
    ("avg", 3, 1, 1, False, 5, 6),
    ("avg", 3, 2, 1, True, 8, 9),
    ("max", 3, 1, 1, False, 4, 4),
])
def test_pool2d_matches_explicit_windows(kind, w, s, p, ceil, H, W):
    rng = np.random.default_rng(3)
    x = np.maximum(rng.standard_normal((3, H, W)), 0).astype(np.float32)
    pool = Pool(kind, w, s, p, ceil)
    got = pool2d(x, pool)
    assert got.shape == (3, pool.out_size(H), pool.out_size(W))
    np.testing.assert_allclose(got, loop_pool(x, kind, w, s, p, got.shape[1:]), rtol=1e-6)


def test_pool_ops_by_hand():
    # 4x4 map, 2x2/2: four windows of 4 -> 3 comparisons (max) or 3 adds + 1 scale (avg).
    assert pool_ops(5, 4, 4, Pool("max", 2, 2)) == 5 * 4 * 3
    assert pool_ops(5, 4, 4, Pool("avg", 2, 2)) == 5 * 4 * 4
    # 3x3/1 pad 1 on 4x4: in-plane window extents per axis 2, 3, 3, 2 -> 10 x 10 elements.
    assert pool_ops(1, 4, 4, Pool("max", 3, 1, 1)) == 100 - 16
    assert pool_ops(5, 4, 4, None) == 0


def _pooled_layer(arch1, oaram_bytes=None):
    layer = Layer("p", C=2, K=3, R=3, S=3, H=6, W=6, padding=1, pool=Pool("max", 2, 2))
    rng = np.random.default_rng(5)
    w = rng.standard_normal(layer.weight_shape).astype(np.float32)
    w[rng.random(w.shape) < 0.4] = 0
    a = np.maximum(rng.standard_normal((2, 6, 6)), 0).astype(np.float32)
    arch = arch1 if oaram_bytes is None else arch1.replace(**{"buffers.oaram_bytes": oaram_bytes})
    return LayerTensors(layer, w, a), arch


def test_oaram_counts_pooled_outputs_by_hand(arch1, entries):
    lt, arch = _pooled_layer(arch1)
    c = simulate_layer(lt, arch, verify=True)
    assert c.verified
    pooled = loop_pool(np.maximum(reference_conv(lt.weights, lt.activations, lt.layer), 0),
                       "max", 2, 2, 0, (3, 3))
    # One PE owns the whole 3x3 pooled plane: one zero-run block per channel.
    expected = sum(entries(pooled[k].ravel(), arch.index_bits) for k in range(3))
    assert c.accesses["oaram_writes"] == expected
    assert c.mapping["output_shape"] == [3, 3, 3]
    assert c.mapping["outputs_spill"] is False
    assert c.accesses["dram_write_bits_values"] == 0
    # PPU: 3 x 6 x 6 ReLU/compress ops, no halos (one PE), 3 x 9 windows x 3 comparisons.
    assert c.mapping["pool_ops"] == 81
    assert c.accesses["ppu_ops"] == 108 + 81


def test_spilled_outputs_are_written_post_pool(arch1):
    lt, arch = _pooled_layer(arch1, oaram_bytes=4)
    c = simulate_layer(lt, arch, verify=True)
    assert c.mapping["outputs_spill"] is True
    n = c.accesses["oaram_writes"]
    assert n <= 27    # pooled 3x3x3, not the 3x6x6 conv outputs
    assert c.accesses["dram_write_bits_values"] == n * arch.value_bits
    assert c.accesses["dram_write_bits_index"] == n * arch.index_bits


CHAIN = """\
name: chain
layers:
  - {name: c1, C: 3, K: 8, R: 3, S: 3, H: 16, W: 16, padding: 1, weight_density: 0.6,
     act_density: 1.0, pool: {kind: max, window: 2}}
  - {name: c2, C: 8, K: 8, R: 3, S: 3, H: 8, W: 8, padding: 1, weight_density: 0.5,
     act_density: 0.5}
  - {name: c3, C: 4, K: 4, R: 1, S: 1, H: 8, W: 8, weight_density: 0.5, act_density: 0.5}
  - {name: c4, C: 12, K: 4, R: 1, S: 1, H: 8, W: 8, weight_density: 0.5, act_density: 0.5,
     input: [c2, c3]}
"""


@pytest.fixture(scope="module")
def chain_path(tmp_path_factory):
    p = tmp_path_factory.mktemp("chain") / "chain.yaml"
    p.write_text(CHAIN)
    return p


def _by_name(res):
    return {lr.name: lr.record for lr in res.layers}


def test_chained_input_stays_on_chip(chain_path):
    recs = _by_name(simulate(chain_path))
    first, second = recs["c1"], recs["c2"]
    assert first["mapping"]["input_source"] == "dram"
    assert first["accesses"]["dram_read_bits_act_values"] == first["mapping"]["act_entries"] * 16
    assert first["mapping"]["output_shape"] == [8, 8, 8]
    assert second["mapping"]["input_source"] == "chained"
    assert second["mapping"]["producers"] == ["c1"]
    assert second["accesses"]["dram_read_bits_act_values"] == 0
    assert second["accesses"]["dram_read_bits_act_index"] == 0
    # c3 reads 4 channels nobody produced: DRAM; c4 concatenates c2 and c3 on chip.
    assert recs["c3"]["mapping"]["input_source"] == "dram"
    assert recs["c3"]["accesses"]["dram_read_bits_act_values"] > 0
    assert recs["c4"]["mapping"]["input_source"] == "chained"
    assert recs["c4"]["mapping"]["producers"] == ["c2", "c3"]
    # The decision does not depend on which layers are simulated.
    alone = simulate(chain_path, layers=["c2"]).layers[0].record
    assert alone["mapping"]["input_source"] == "chained"
    assert alone["accesses"] == second["accesses"]


def test_spilled_producer_sends_consumer_to_dram(chain_path, arch):
    small = arch.replace(**{"buffers.oaram_bytes": 4})
    recs = _by_name(simulate(chain_path, arch=small))
    assert recs["c1"]["mapping"]["outputs_spill"] is True
    c2 = recs["c2"]
    assert c2["mapping"]["input_source"] == "dram"
    assert "c1" in c2["mapping"]["input_source_reason"]
    assert c2["accesses"]["dram_read_bits_act_values"] == c2["mapping"]["act_entries"] * 16
    alone = simulate(chain_path, arch=small, layers=["c2"]).layers[0].record
    assert alone["mapping"]["input_source"] == "dram"


def test_exported_tensors_chain_through_a_smaller_plane(tensors):
    a = tensors(C=3, K=4, R=3, S=3, H=8, W=8, padding=1, seed=1, name="a")
    b = tensors(C=4, K=4, R=3, S=3, H=4, W=4, padding=1, seed=2, name="b")
    recs = _by_name(simulate([a, b]))
    # a's outputs (8x8, pooled in the model to b's 4x4 input): b's real input is a's OARAM.
    assert recs["a"]["mapping"]["output_shape"] == [4, 4, 4]
    assert recs["a"]["accesses"]["oaram_writes"] >= np.count_nonzero(b.activations)
    assert recs["b"]["mapping"]["input_source"] == "chained"
    assert recs["b"]["accesses"]["dram_read_bits_act_values"] == 0


ONE = """\
name: one
layers:
  - {name: x, C: 4, K: 4, R: 1, S: 1, H: 8, W: 8, weight_density: 1.0, act_density: 1.0}
  - {name: y, C: 4, K: 4, R: 1, S: 1, H: 8, W: 8, weight_density: 1.0, act_density: 1.0}
"""


def test_dcnn_waits_for_dram_by_hand(tmp_path, arch1):
    """One PE, F = I = 4: 64 pixels x 1 x 1 = 64 compute cycles. At 8 bits/cycle, zero
    latency: weights (4 x 4 x 16 = 256 bits, 32 cycles) then the dense first-layer input
    (4 x 64 x 16 = 4096 bits, 512 cycles) must arrive first: 608 cycles. The chained second
    layer's input is on chip and its weights arrive (32 cycles) before its compute ends: 64."""
    p = tmp_path / "one.yaml"
    p.write_text(ONE)
    slow = arch1.replace(**{"dram.bandwidth_gbytes_per_s": 1.0, "dram.latency_cycles": 0,
                            "clock_ghz": 1.0})
    assert slow.dram_bits_per_cycle == 8
    recs = _by_name(simulate(p, arch=slow))
    x, y = recs["x"], recs["y"]
    assert x["dcnn"]["cycles"] == 32 + 512 + 64 == x["dcnn_opt"]["cycles"]
    assert x["dcnn"]["dram_stall_cycles"] == 544
    assert y["dcnn"]["cycles"] == 64 and y["dcnn"]["dram_stall_cycles"] == 0
    fast = _by_name(simulate(p, arch=arch1))
    assert fast["x"]["dcnn"]["cycles"] < x["dcnn"]["cycles"]


def test_vgg_conv1_1_dcnn_is_dram_bound():
    """64 x 224 x 224 x 16-bit outputs (6.4 MB) exceed DCNN's 2 MB SRAM and are written to
    DRAM; compute alone is 28 x 28 pixels x 16 x 1 x 9 = 112,896 cycles per PE."""
    rec = simulate("vgg16", layers=["conv1_1"]).layers[0].record
    assert rec["dcnn"]["cycles"] > 112_896
    assert rec["dcnn"]["dram_stall_cycles"] == rec["dcnn"]["cycles"] - 112_896
    dram_bits = 64 * 224 * 224 * 16 + 3 * 224 * 224 * 16
    assert rec["dcnn"]["cycles"] >= dram_bits / 400


@pytest.mark.parametrize("name", builtin_names())
def test_builtin_workloads_chain(name):
    wl = load_workload(name)
    prods = chain_producers(wl.layers)
    convs = wl.conv_layers
    assert prods[convs[0].name] is None
    by = {lay.name: lay for lay in convs}
    for lay in convs[1:]:
        assert prods[lay.name], lay.name
        assert sum(by[n].K for n in prods[lay.name]) == lay.C
        assert all(by[n].out_shape[1:] == (lay.H, lay.W) for n in prods[lay.name])


BAD_POOLS = [
    ("pool: {kind: min, window: 2}", "pool.kind"),
    ("pool: {kind: max, window: 0}", "pool.window"),
    ("pool: {kind: max, window: 3, padding: 2}", "pool.padding"),
    ("pool: {kind: max, window: 2, size: 2}", "pool.size"),
    ("pool: {window: 2}", "pool.kind"),
    ("pool: {kind: max, window: 2, ceil_mode: 1}", "pool.ceil_mode"),
    ("pool: {kind: max, window: 40}", "pool.window"),
    ("pool: 2", "pool"),
    ("pool: {kind: max, window: 3}", "pool"),        # 16 -> 5, the next layer reads 8x8
    ("input: [nope]", "input"),
    ("input: [b]", "input"),                         # b comes later
]


@pytest.mark.parametrize(("extra", "field"), BAD_POOLS)
def test_pool_and_input_errors_are_one_line(tmp_path, extra, field):
    p = tmp_path / "bad.yaml"
    p.write_text("layers:\n"
                 f"  - {{name: a, C: 3, K: 8, R: 3, S: 3, H: 16, W: 16, padding: 1, {extra}}}\n"
                 "  - {name: b, C: 8, K: 8, R: 3, S: 3, H: 8, W: 8, padding: 1}\n")
    with pytest.raises(WorkloadError) as exc:
        load_workload(p)
    msg = str(exc.value)
    assert "\n" not in msg
    assert msg.startswith(f"{p}:a:{field}:"), msg


def test_input_channel_mismatch_is_reported(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("layers:\n"
                 "  - {name: a, C: 3, K: 8, R: 3, S: 3, H: 8, W: 8, padding: 1}\n"
                 "  - {name: b, C: 9, K: 8, R: 3, S: 3, H: 8, W: 8, padding: 1, input: a}\n")
    with pytest.raises(WorkloadError, match=r"bad.yaml:b:input: .*add up to 8, C is 9"):
        load_workload(p)


def test_dcnn_opt_reads_compressed_input_that_scnn_keeps_on_chip(tensors, arch):
    """A sparse 64 x 160 x 160 input fits SCNN's IARAM compressed (chained: no DRAM) but is
    3.3 MB dense, over DCNN's 2 MB SRAM: DCNN reads it dense, DCNN-opt compressed."""
    from scnn_sim.engine.baselines import dcnn_counts

    lt = tensors(C=64, K=4, R=1, S=1, H=160, W=160, wd=1.0, ad=0.05, seed=4, name="big")
    c = simulate_layer(lt, arch, input_from_dram=False,
                       out_activations=np.zeros((4, 160, 160), np.float32))
    assert c.mapping["activations_resident"] is True
    assert c.accesses["dram_read_bits_act_values"] == 0
    base = dcnn_counts(lt.layer, arch, c, input_from_dram=False)
    assert base["dcnn"]["accesses"]["dram_read_bits_act_values"] == 64 * 160 * 160 * 16
    opt = base["dcnn_opt"]["accesses"]
    assert opt["dram_read_bits_act_values"] == c.mapping["act_entries"] * 16 > 0
    assert opt["dram_read_bits_act_index"] == c.mapping["act_entries"] * 4
