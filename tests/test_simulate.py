"""scnn_sim.simulate and its results: record schema, totals, energy, DCNN baseline, files."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import scnn_sim
from scnn_sim.engine.layer import ACCESS_KEYS
from scnn_sim.errors import ConfigError, SimulationError, SparsityError, WorkloadError
from scnn_sim.inputs.arch import load_arch
from scnn_sim.inputs.options import OptionError
from scnn_sim.pricing.energy import COMPONENTS, load_energy_table
from scnn_sim.results.records import CYCLE_KEYS
from scnn_sim.simulation import simulate, synthesize
from scnn_sim.sparsity.pruning import prune
from scnn_sim.workload.shapes import load_workload

TINY = """\
name: tiny
description: small layers for tests
layers:
  - {name: c1, kind: conv, C: 3, K: 8, R: 3, S: 3, H: 16, W: 16, padding: 1,
     weight_density: 0.6, act_density: 1.0}
  - {name: c2, C: 8, K: 8, R: 3, S: 3, H: 16, W: 16, stride: 2, padding: 1, groups: 2,
     weight_density: 0.5, act_density: 0.5}
  - {name: c3, C: 8, K: 6, R: 1, S: 1, H: 8, W: 8, weight_density: 0.4, act_density: 0.4}
  - {name: fc, kind: fc, C: 384, K: 10, R: 1, S: 1, H: 1, W: 1}
"""

RECORD_KEYS = {
    "name", "cycles", "cycle_breakdown", "oracle_cycles", "products", "dense_macs",
    "multiplier_utilization", "barrier_fraction", "conflict_stall_fraction", "accesses",
    "accumulator_accesses", "energy_pj", "dcnn", "dcnn_opt", "speedup_vs_dcnn",
    "oracle_fraction", "verified",
}


@pytest.fixture(scope="module")
def tiny_path(tmp_path_factory):
    p = tmp_path_factory.mktemp("wl") / "tiny.yaml"
    p.write_text(TINY)
    return p


@pytest.fixture(scope="module")
def conv3():
    return simulate("alexnet", layers=["conv3"])


@pytest.fixture(scope="module")
def tiny(tiny_path):
    return simulate(tiny_path, verify=True, count_merges=True)


def test_lazy_attribute():
    assert scnn_sim.simulate is simulate


def test_record_has_stable_keys(conv3):
    d = conv3.to_dict()
    for key in ("arch", "workload", "seed", "scnn_sim_version", "energy_table", "granularity",
                "density", "layers", "totals"):
        assert key in d
    assert d["workload"] == "alexnet" and d["seed"] == 0
    assert d["scnn_sim_version"] == scnn_sim.__version__
    assert d["arch"]["pe_array"] == {"rows": 8, "cols": 8}
    assert d["granularity"] == "fine"
    assert [r["name"] for r in d["layers"]] == ["conv3"]
    rec = conv3.layers[0].record
    assert RECORD_KEYS <= set(rec)
    assert RECORD_KEYS - {"dcnn_opt"} <= set(d["totals"])
    assert set(rec["cycle_breakdown"]) == set(CYCLE_KEYS)
    assert set(rec["accesses"]) == set(ACCESS_KEYS)
    assert set(rec["energy_pj"]) == set(COMPONENTS) | {"total"}
    assert rec["verified"] is None
    assert rec["accumulator_accesses"]["same_address"] is None
    for base in ("dcnn", "dcnn_opt"):
        assert set(rec[base]) >= {"cycles", "energy_pj"}
        assert set(rec[base]["energy_pj"]) == set(COMPONENTS) | {"total"}
    json.loads(conv3.to_json())  # serialisable


def test_record_arithmetic(conv3):
    rec = conv3.layers[0].record
    mult = 1024
    assert rec["oracle_cycles"] == pytest.approx(rec["products"] / mult)
    assert rec["multiplier_utilization"] == pytest.approx(rec["products"] / (rec["cycles"] * mult))
    assert 0 < rec["multiplier_utilization"] <= 1
    bd = rec["cycle_breakdown"]
    assert rec["cycles"] == pytest.approx(sum(bd.values()))
    assert rec["barrier_fraction"] == pytest.approx(bd["barrier_idle"] / rec["cycles"])
    assert rec["conflict_stall_fraction"] == pytest.approx(bd["conflict_stall"] / rec["cycles"])
    assert rec["oracle_fraction"] == pytest.approx(rec["oracle_cycles"] / rec["cycles"])
    assert rec["dense_macs"] == 384 * 256 * 9 * 13 * 13
    assert rec["accesses"]["multiplies"] == rec["products"]


def test_dram_keys_are_bits(conv3):
    rec = conv3.layers[0].record
    a, m = rec["accesses"], rec["mapping"]
    assert a["dram_read_bits_weight_values"] == m["weight_entries"] * 16 * m["passes"]
    assert a["dram_read_bits_weight_index"] == m["weight_entries"] * 4 * m["passes"]
    # conv3's input fits the IARAM and conv3 is not the network's first layer: no DRAM reads
    # of activations, even when it is the only layer simulated.
    assert m["activations_resident"] is True
    assert a["dram_read_bits_act_values"] == a["dram_read_bits_act_index"] == 0
    dram_bits = sum(v for k, v in a.items() if k.startswith("dram_"))
    assert m["dram_busy_cycles"] >= dram_bits / 400


def test_network_first_layer_reads_its_input_from_dram():
    rec = simulate("alexnet", layers=["conv1"]).layers[0].record
    a, m = rec["accesses"], rec["mapping"]
    assert a["dram_read_bits_act_values"] == m["act_entries"] * 16
    assert a["dram_read_bits_act_index"] == m["act_entries"] * 4


def test_energy_is_counts_times_table(conv3):
    rec = conv3.layers[0].record
    table = load_energy_table()
    exp = table.breakdown(rec["accesses"])
    for comp in COMPONENTS:
        assert rec["energy_pj"][comp] == pytest.approx(exp[comp])
    assert rec["energy_pj"]["total"] == pytest.approx(sum(exp.values()))
    assert rec["energy_pj"]["dram"] == pytest.approx(
        sum(v for k, v in rec["accesses"].items() if k.startswith("dram_"))
        * table.energy_pj["dram_bit"])


def test_energy_table_choice_changes_only_energy():
    a = simulate("alexnet", layers=["conv5"], energy="horowitz45")
    b = simulate("alexnet", layers=["conv5"], energy="accelergy45")
    ra, rb = a.layers[0].record, b.layers[0].record
    assert ra["cycles"] == rb["cycles"] and ra["accesses"] == rb["accesses"]
    assert ra["energy_pj"]["total"] != rb["energy_pj"]["total"]
    assert b.meta["energy_table"] == "accelergy45"


def test_products_match_synthesized_tensors(conv3):
    """conv3 (stride 1, one pass): products = sum_c nnz(W[:, c]) nnz(A[c]) of the seeded
    tensors pruned at the layer's density."""
    wl = load_workload("alexnet")
    index = [lay.name for lay in wl.layers].index("conv3")
    lt = synthesize(wl.layers[index], index, seed=0)
    w, _ = prune(lt.weights, wl.layers[index].weight_density, "fine")
    exp = sum(int(np.count_nonzero(w[:, c])) * int(np.count_nonzero(lt.activations[c]))
              for c in range(256))
    rec = conv3.layers[0].record
    assert rec["mapping"]["passes"] == 1
    assert rec["products"] == exp
    assert rec["weight_density"] == pytest.approx(np.count_nonzero(w) / w.size)


def test_dcnn_cycles_hand_derived(conv3):
    """13x13 over 8x8 PEs: the largest owned output tile is 2x2 pixels; per pixel
    ceil(384/4) * ceil(256/4) * 3 * 3 = 55296 cycles -> 221184 cycles, for both baselines."""
    rec = conv3.layers[0].record
    assert rec["dcnn"]["cycles"] == 4 * 96 * 64 * 9 == rec["dcnn_opt"]["cycles"]
    assert rec["speedup_vs_dcnn"] == pytest.approx(221184 / rec["cycles"])
    # DCNN-opt gates zero products: its multiplier energy is SCNN's.
    assert rec["dcnn_opt"]["energy_pj"]["multipliers"] == pytest.approx(
        rec["energy_pj"]["multipliers"])
    assert rec["dcnn"]["energy_pj"]["multipliers"] > rec["dcnn_opt"]["energy_pj"]["multipliers"]


def test_totals_sum_the_layers(tiny):
    recs = [lr.record for lr in tiny.layers]
    tot = tiny.totals.record
    assert [r["name"] for r in recs] == ["c1", "c2", "c3"]      # the fc layer is skipped
    assert tot["name"] == "total"
    for key in ("cycles", "products", "dense_macs"):
        assert tot[key] == sum(r[key] for r in recs)
    for group in ("accesses", "energy_pj", "cycle_breakdown", "accumulator_accesses"):
        for k in recs[0][group]:
            assert tot[group][k] == pytest.approx(sum(r[group][k] for r in recs)), (group, k)
    assert tot["dcnn"]["cycles"] == sum(r["dcnn"]["cycles"] for r in recs)
    assert tot["oracle_cycles"] == pytest.approx(tot["products"] / 1024)
    assert tot["multiplier_utilization"] == pytest.approx(tot["products"]
                                                          / (tot["cycles"] * 1024))
    assert tot["speedup_vs_dcnn"] == pytest.approx(tot["dcnn"]["cycles"] / tot["cycles"])
    assert tot["verified"] is True
    assert all(r["verified"] is True for r in recs)
    assert all(r["max_abs_error"] < 1e-3 for r in recs)
    acc = tot["accumulator_accesses"]
    assert acc["wide"] <= acc["same_address"] <= acc["per_product"]


def test_only_first_layer_reads_input_from_dram(tiny):
    first, second = tiny.layers[0].record, tiny.layers[1].record
    assert first["accesses"]["dram_read_bits_act_values"] > 0
    assert second["mapping"]["activations_resident"] is True
    assert second["accesses"]["dram_read_bits_act_values"] == 0


def test_outputs_of_verify(tiny):
    assert set(tiny.outputs) == {"c1", "c2", "c3"}
    assert tiny.outputs["c2"].shape == (8, 8, 8)
    assert tiny.outputs["c3"].shape == (6, 8, 8)


def test_tensor_list_workload_outputs_equal_convolution(tensors, conv_ref):
    lts = [tensors(C=3, K=5, R=3, S=3, H=9, W=9, padding=1, stride=2, seed=1, name="a"),
           tensors(C=4, K=4, R=3, S=3, H=7, W=7, padding=1, groups=2, seed=2, name="b")]
    res = simulate(lts, verify=True)
    assert res.meta["granularity"] == "as exported"
    assert res.meta["workload"] == "tensors"
    for lt in lts:
        np.testing.assert_allclose(res.outputs[lt.layer.name],
                                   conv_ref(lt.weights, lt.activations, lt.layer), atol=1e-5)
        rec = next(lr.record for lr in res.layers if lr.name == lt.layer.name)
        # Exported tensors are used as they are (no pruning).
        assert rec["weight_density"] == pytest.approx(
            np.count_nonzero(lt.weights) / lt.weights.size)


@pytest.mark.parametrize("gran", ["fine", "vector", "kernel", "filter"])
def test_granularity_through_simulate(tiny_path, gran):
    res = simulate(tiny_path, granularity=gran, density=0.3, layers=["c1"], verify=True)
    rec = res.layers[0].record
    assert res.meta["granularity"] == gran and res.meta["density"] == 0.3
    assert rec["verified"] is True
    assert abs(rec["weight_density"] - 0.3) <= 0.1


def test_dataframe(tiny):
    df = tiny.to_dataframe()
    assert list(df.index) == ["c1", "c2", "c3", "total"]
    assert df.loc["total", "cycles"] == sum(df.loc[n, "cycles"] for n in ("c1", "c2", "c3"))
    assert "energy_pj.total" in df.columns and "accesses.dram_read_bits_act_values" in df.columns
    assert df.loc["c2", "shape.groups"] == 2


def test_write_json(tiny, tmp_path):
    p = tmp_path / "sub" / "out.json"
    tiny.write_json(p)
    data = json.loads(p.read_text())
    assert data == json.loads(tiny.to_json())
    assert data["totals"]["cycles"] == tiny.totals["cycles"]
    assert [r["name"] for r in data["layers"]] == ["c1", "c2", "c3"]


def test_write_h5(tiny, tmp_path):
    h5py = pytest.importorskip("h5py")
    p = tmp_path / "out.h5"
    tiny.write_h5(p)
    with h5py.File(p, "r") as f:
        assert f.attrs["format"] == "scnn-sim-table" and f.attrs["kind"] == "run"
        meta = json.loads(f.attrs["provenance_json"])
        assert meta["workload"] == "tiny"
        names = [n.decode() if isinstance(n, bytes) else n for n in f["rows/layer"][()]]
        assert names == ["c1", "c2", "c3", "total"]
        np.testing.assert_array_equal(
            f["rows/cycles"][()], [r["cycles"] for r in (*tiny.layers, tiny.totals)])
        assert f["rows/energy_pj.total"].shape == (4,)


def test_seeds(tiny_path):
    a = simulate(tiny_path, layers=["c3"], seed=7)
    b = simulate(tiny_path, layers=["c3"], seed=7)
    c = simulate(tiny_path, layers=["c3"], seed=8)
    assert a.to_json() == b.to_json()
    assert a.layers[0]["products"] != c.layers[0]["products"]
    assert c.meta["seed"] == 8


def test_layer_selection_keeps_layer_tensors(tiny_path):
    """A layer's synthetic tensors do not depend on which other layers are simulated."""
    alone = simulate(tiny_path, layers=["c2"]).layers[0].record
    both = simulate(tiny_path, layers=["c1", "c2"]).layers[1].record
    assert alone["products"] == both["products"]
    assert alone["weight_density"] == both["weight_density"]


# ------------------------------------------------------------------------------ errors


def test_unknown_layer(tiny_path):
    with pytest.raises(WorkloadError, match="conv9"):
        simulate(tiny_path, layers=["conv9"])


def test_unknown_workload():
    with pytest.raises(WorkloadError):
        simulate("no_such_network")


@pytest.mark.parametrize("density", [1.5, -0.1])
def test_bad_density(tiny_path, density):
    with pytest.raises(OptionError, match=r"^density: must be a number in \[0, 1\] or null"):
        simulate(tiny_path, density=density)


def test_bad_granularity(tiny_path):
    with pytest.raises(SparsityError):
        simulate(tiny_path, granularity="bogus")


def test_bad_arch_and_energy(tiny_path, tmp_path):
    bad = tmp_path / "a.yaml"
    bad.write_text("multiplier: {F: 0}\n")
    with pytest.raises(ConfigError, match="multiplier.F"):
        simulate(tiny_path, arch=bad)
    with pytest.raises(ConfigError):
        simulate(tiny_path, energy="no_such_table")


def test_unmappable_layer_names_the_layer(tmp_path):
    p = tmp_path / "big.yaml"
    p.write_text("name: big\nlayers:\n  - {name: wide, C: 2, K: 64, R: 3, S: 3, H: 64, W: 64,"
                 " padding: 1, weight_density: 0.2, act_density: 0.2}\n")
    arch = load_arch().replace(
        **{"dataflow.kc": 64, "dataflow.subtiles": [1, 1]})
    with pytest.raises(SimulationError) as exc:
        simulate(p, arch=arch)
    assert str(exc.value).startswith("wide")


def test_speedup_positive_and_sane(conv3):
    rec = conv3.layers[0].record
    # Sparse conv3 (35% weights, 53% activations) is faster than dense on equal multipliers.
    assert rec["speedup_vs_dcnn"] > 1
    assert rec["cycles"] >= math.ceil(rec["oracle_cycles"])


def test_group_index_format_shrinks_weight_fifo_and_dram_traffic():
    """Index saving reaches the weight FIFO and DRAM: a kept 3x3 kernel costs one index
    instead of nine, so its FIFO entries carry fewer bits; SCNN's format is 16 + 4 bits per
    weight, F = 4 weights per entry; an entry never costs less than its F values."""
    kw = dict(layers=["conv3"], granularity="kernel", density=0.35)
    scnn = simulate("alexnet", weight_format="scnn", **kw).layers[0].record
    group = simulate("alexnet", weight_format="group", **kw).layers[0].record
    a_s, a_g = scnn["accesses"], group["accesses"]
    assert a_s["weight_fifo_read_bits"] == 80 * a_s["weight_fifo_reads"]
    assert a_g["weight_fifo_read_bits"] >= 64 * a_g["weight_fifo_reads"]
    assert a_g["weight_fifo_reads"] == a_s["weight_fifo_reads"]  # same entries, fewer bits
    assert a_g["weight_fifo_read_bits"] < 0.85 * a_s["weight_fifo_read_bits"]
    assert a_g["dram_read_bits_weight_index"] < 0.2 * a_s["dram_read_bits_weight_index"]
    assert group["energy_pj"]["weight_fifo"] < scnn["energy_pj"]["weight_fifo"]
    assert group["products"] == scnn["products"] and group["cycles"] == scnn["cycles"]
