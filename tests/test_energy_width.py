"""Energy priced by width: new components counted by hand on tiny layers, width pricing,
the Accelergy ERT import (incl. malformed ERTs), DCNN / DCNN-opt pricing, memory references
and the ``energy`` command."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from scnn_sim import simulate
from scnn_sim.cli import main as cli_main
from scnn_sim.engine.baselines import DCNN_SRAM_BITS, dcnn_counts
from scnn_sim.engine.layer import simulate_layer
from scnn_sim.errors import ConfigError
from scnn_sim.pricing.energy import ACTIONS, load_energy_table, load_ert_table
from scnn_sim.results.records import memory_references
from scnn_sim.workload.shapes import Layer
from scnn_sim.workload.tensors import LayerTensors

DATA = Path(__file__).parent / "data"
ERT = DATA / "ert_small.yaml"
MAPPING = DATA / "ert_small_mapping.yaml"


def _row_layer(K: int, acts: list[float]) -> LayerTensors:
    """1x1 conv, C = 1, one row of W = len(acts) pixels, weights 1..K (all non-zero)."""
    layer = Layer("row", C=1, K=K, R=1, S=1, H=1, W=len(acts))
    w = np.arange(1, K + 1, dtype=np.float32).reshape(layer.weight_shape)
    return LayerTensors(layer, w, np.asarray(acts, np.float32).reshape(1, 1, len(acts)))


def test_new_components_counted_by_hand(arch1):
    """K = 4 weights x 4 activations on one PE (F = I = 4): one vector pair, 16 products.

    By hand: 16 adds and 16 coordinate computations (one per product); crossbar 16 x 24 bits;
    IARAM 4 entry reads of 20 bits, and 4 writes (a first layer: from DRAM); one FIFO entry
    of F = 4 weights = 80 bits written and read once; one broadcast of that entry; leakage of
    16 multipliers and of the PE's SRAM (10 + 10 KB RAMs, 2 x 1024 x 24-bit accumulators,
    50 entries x 80 bits) for every cycle."""
    lt = _row_layer(4, [1.0, 2.0, 3.0, 4.0])
    c = simulate_layer(lt, arch1, verify=True, input_from_dram=True)
    a = c.accesses
    assert c.products == 16 and c.vector_pairs == 1
    assert (a["adds"], a["coord_ops"]) == (16, 16)
    assert (a["crossbar_transfers"], a["crossbar_bits"]) == (16, 16 * 24)
    assert (a["iaram_reads"], a["iaram_read_bits"]) == (4, 80)
    assert (a["iaram_writes"], a["iaram_write_bits"]) == (4, 80)
    assert (a["weight_fifo_writes"], a["weight_fifo_write_bits"]) == (1, 80)
    assert (a["weight_fifo_reads"], a["weight_fifo_read_bits"]) == (1, 80)
    assert (a["weight_broadcasts"], a["weight_broadcast_bits"]) == (1, 80)
    assert (a["acc_reads"], a["acc_read_bits"]) == (16, 16 * 24)
    assert a["leakage_multiplier_cycles"] == 16 * c.cycles
    kb = (10240 + 10240 + 2 * 1024 * 24 / 8 + 50 * 4 * 20 / 8) / 1024
    assert a["leakage_sram_kb_cycles"] == pytest.approx(kb * c.cycles)
    # Resident activations from the previous layer are not copied (OARAM/IARAM swap).
    c2 = simulate_layer(lt, arch1, verify=True, input_from_dram=False)
    assert c2.accesses["iaram_writes"] == 0
    # Priced with horowitz45, by hand.
    e = load_energy_table("horowitz45").breakdown(a)
    assert e["adders"] == pytest.approx(16 * 0.075)
    assert e["coordinates"] == pytest.approx(16 * 0.09)
    assert e["crossbar"] == pytest.approx(16 * 1.125)
    assert e["iaram"] == pytest.approx(8 * 3.125)
    assert e["weight_fifo"] == pytest.approx(2 * 2.5)
    assert e["weight_broadcast"] == pytest.approx(236.0)
    assert e["leakage"] == pytest.approx(16 * c.cycles * 0.008 + kb * c.cycles * 0.01)


def test_partial_fifo_entry_costs_a_whole_entry(arch1):
    """K = 5 weights with F = 4: two physical entries (the second holds one weight), each
    written once and read once per activation vector, each priced at 80 bits."""
    lt = _row_layer(5, [1.0, 1.0, 1.0, 1.0])
    a = simulate_layer(lt, arch1, verify=True).accesses
    assert (a["weight_fifo_writes"], a["weight_fifo_write_bits"]) == (2, 160)
    assert (a["weight_fifo_reads"], a["weight_fifo_read_bits"]) == (2, 160)


def test_wide_access_priced_by_its_width(arch1):
    """Under accumulator.access_model: wide, one access moves wide_words x 24 bits: it costs
    more per access than a per-product access (0.75 pJ per 24 bits, horowitz45)."""
    lt = _row_layer(4, [1.0, 2.0, 3.0, 4.0])
    t = load_energy_table("horowitz45")
    per_product = simulate_layer(lt, arch1, verify=True)
    wide = simulate_layer(lt, arch1.replace(**{"accumulator.access_model": "wide"}),
                          verify=True)
    ww = arch1.wide_words
    n = wide.accesses["acc_reads"]
    assert n == wide.accumulator_accesses["wide"] < per_product.accesses["acc_reads"]
    assert wide.accesses["acc_read_bits"] == n * 24 * ww
    e_w = t.breakdown(wide.accesses)["accumulator"]
    e_p = t.breakdown(per_product.accesses)["accumulator"]
    drain = per_product.accesses["acc_drain_reads"] * 0.75
    per_access_wide = (e_w - drain) / (2 * n)
    per_access_pp = (e_p - drain) / (2 * per_product.accesses["acc_reads"])
    assert per_access_wide == pytest.approx(0.75 * ww)
    assert per_access_pp == pytest.approx(0.75)
    assert per_access_wide > per_access_pp
    assert wide.accumulator_access_bits["wide"] == n * 24 * ww


def test_default_table_prices_a_wide_access_as_data_bits_plus_one_decode(arch1):
    """aladdin40 prices an accumulator bank as Accelergy's regfile primitive: 0.009 pJ per
    data bit plus a width-independent decode (32 x a 5-bit comparator, 0.145 pJ). A wide
    access of 4 words costs 0.145 + 4 x 0.216 pJ: more than one word (0.361), less than four
    separate words."""
    t = load_energy_table()
    assert t.name == "aladdin40"
    word = t.access_pj("accumulator_read", 24)
    wide = t.access_pj("accumulator_read", 24 * arch1.wide_words)
    assert word == pytest.approx(0.361)
    assert wide == pytest.approx(0.145 + arch1.wide_words * 0.216)
    assert word < wide < arch1.wide_words * word
    lt = _row_layer(4, [1.0, 2.0, 3.0, 4.0])
    per_product = simulate_layer(lt, arch1, verify=True)
    w = simulate_layer(lt, arch1.replace(**{"accumulator.access_model": "wide"}), verify=True)
    drain = per_product.accesses["acc_drain_reads"] * word
    e_w = (t.breakdown(w.accesses)["accumulator"] - drain) / (2 * w.accesses["acc_reads"])
    e_p = ((t.breakdown(per_product.accesses)["accumulator"] - drain)
           / (2 * per_product.accesses["acc_reads"]))
    assert e_w == pytest.approx(wide) and e_p == pytest.approx(word)


def test_fixed_overhead_per_access(tmp_path):
    d = yaml.safe_load((Path(__file__).parents[1] / "scnn_sim/data/energy/horowitz45.yaml")
                       .read_text())
    d["actions"]["accumulator_read"].update(energy_pj=1.0, fixed_pj=0.25, bits=24)
    p = tmp_path / "t.yaml"
    p.write_text(yaml.safe_dump(d))
    t = load_energy_table(p)
    assert t.access_pj("accumulator_read", 96) == pytest.approx(0.25 + 0.75 * 4)
    e = t.breakdown({"acc_reads": 2, "acc_read_bits": 192})["accumulator"]
    assert e == pytest.approx(2 * 0.25 + 0.75 * 192 / 24)
    d["actions"]["accumulator_read"]["fixed_pj"] = 2.0
    p.write_text(yaml.safe_dump(d))
    with pytest.raises(ConfigError, match=r"actions\.accumulator_read\.fixed_pj"):
        load_energy_table(p)


# ----------------------------------------------------------------------------- Accelergy ERT

def test_ert_import_matches_the_table_it_restates():
    """The fixture ERT restates horowitz45 per component: same prices, ERT sources."""
    t = load_ert_table(ERT, MAPPING)
    h = load_energy_table("horowitz45")
    assert t.name == "ert-small"
    for act in ACTIONS:
        width = h.bits.get(act)
        assert t.access_pj(act, width) == pytest.approx(h.access_pj(act, width)), act
    assert t.sources["accumulator_read"].startswith("Accelergy ERT ert_small.yaml")
    assert t.bits["dram_bit"] == 64 and t.energy_pj["dram_bit"] == 1280.0
    # Through the mapping's 'ert:' key, usable wherever a table is.
    via = load_energy_table(MAPPING)
    assert via.energy_pj == t.energy_pj
    lt = _row_layer(4, [1.0, 0.0, 3.0, 4.0])
    r_ert = simulate([lt], energy=str(MAPPING)).totals.record["energy_pj"]
    r_h = simulate([lt], energy="horowitz45").totals.record["energy_pj"]
    assert r_ert == pytest.approx(r_h)


def _ert(tmp_path, text: str) -> Path:
    p = tmp_path / "ERT.yaml"
    p.write_text(text)
    return p


@pytest.mark.parametrize(("text", "field"), [
    ("tables: []\n", "needs a top-level 'ERT'"),
    ("ERT: {version: 0.3, tables: []}\n", "ERT.tables"),
    ("ERT: {version: 0.3, tables: [{actions: []}]}\n", "ERT.tables[0].name"),
    ("ERT: {version: 0.3, tables: [{name: a, actions: 3}]}\n", "ERT.tables[0].actions"),
    ("ERT: {version: 0.3, tables: [{name: a, actions: [{name: read, energy: fast}]}]}\n",
     "ERT.tables[0].actions[0].energy"),
    ("ERT: {version: 0.3, tables: [{name: a, actions: [{energy: 1}]}]}\n",
     "ERT.tables[0].actions[0].name"),
    ("ERT: {version: 0.3, tables: [\n", "malformed YAML"),
])
def test_malformed_ert_refused_with_one_line(tmp_path, text, field):
    p = _ert(tmp_path, text)
    with pytest.raises(ConfigError) as exc:
        load_ert_table(p, MAPPING)
    msg = str(exc.value)
    assert field in msg and msg.startswith(str(p)) and "\n" not in msg


def test_mapping_errors_name_the_action(tmp_path):
    m = yaml.safe_load(MAPPING.read_text())
    bad = tmp_path / "map.yaml"

    def refused(mutate, field):
        d = yaml.safe_load(MAPPING.read_text())
        mutate(d)
        bad.write_text(yaml.safe_dump(d))
        with pytest.raises(ConfigError) as exc:
            load_ert_table(ERT, bad)
        assert field in str(exc.value) and str(exc.value).startswith(str(bad))

    refused(lambda d: d["actions"]["multiply"].update(component="system.nope"),
            "actions.multiply: ")
    refused(lambda d: d["actions"]["accumulator_read"].pop("arguments"),
            "actions.accumulator_read.arguments")      # two entries: ambiguous
    refused(lambda d: d["actions"]["accumulator_read"].update(arguments={"x": 1}),
            "actions.accumulator_read.arguments")
    refused(lambda d: d["actions"]["iaram_read"].pop("bits"), "actions.iaram_read.bits")
    refused(lambda d: d["actions"].pop("halo_word"), "actions.halo_word")
    refused(lambda d: d["actions"]["ppu_op"].update(colour="red"), "actions.ppu_op.colour")
    assert m["ert"] == "ert_small.yaml"
    with pytest.raises(ConfigError, match="is an Accelergy ERT"):
        load_energy_table(ERT)


def test_energy_command_prints_widths_and_sources(capsys):
    assert cli_main(["energy"]) == 0
    out = capsys.readouterr().out
    assert "aladdin40" in out and "width [bit]" in out and "fixed [pJ]" in out
    # The table wraps at 120 columns: join the row's blocks.
    line = " ".join(ln for ln in out.splitlines() if ln.startswith("weight_fifo_read")) + " "
    assert " 80 " in line and " 0.272 " in line and "regfile primitive" in line
    # Small energies keep their digits (one shared float format would print 0.1).
    add = " ".join(ln for ln in out.splitlines() if ln.startswith("add ")) + " "
    assert " 0.0643 " in add
    assert cli_main(["energy", "horowitz45"]) == 0
    line = " ".join(ln for ln in capsys.readouterr().out.splitlines()
                    if ln.startswith("weight_fifo_read")) + " "
    assert " 80 " in line and "Han et al. 2015" in line
    assert cli_main(["energy", str(ERT), "--mapping", str(MAPPING)]) == 0
    assert "Accelergy ERT ert_small.yaml" in capsys.readouterr().out
    assert cli_main(["energy", str(ERT)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Accelergy ERT" in err
    assert cli_main(["energy", "nope.yaml"]) == 2
    assert capsys.readouterr().err.startswith("scnn-sim: error: nope.yaml: cannot read")


# ----------------------------------------------------------------------------- DCNN

def test_dcnn_accesses_by_hand(arch1):
    """Dense 1x1 layer, K = 4, 4 pixels, 1 PE: 16 MACs; one add per MAC; 16 / I accumulator
    RMWs; input stationary: each of the 4 pixels' I-wide activation vectors (4 x 16 bits)
    read once (all K = 4 channels fit the accumulator); every MAC reads its 16-bit weight
    (16 / F = 4 entries of F values); one weight entry of F dense values written and
    broadcast once; DRAM: 4 weights + 4 input activations x 16 bits."""
    lt = _row_layer(4, [1.0, 2.0, 3.0, 4.0])
    c = simulate_layer(lt, arch1, verify=True, input_from_dram=True)
    base = dcnn_counts(lt.layer, arch1, c, input_from_dram=True)
    d = base["dcnn"]["accesses"]
    assert (d["multiplies"], d["adds"], d["coord_ops"]) == (16, 16, 0)
    assert (d["acc_reads"], d["acc_read_bits"]) == (4, 96)
    assert (d["iaram_reads"], d["iaram_read_bits"]) == (4, 4 * 64)
    assert (d["weight_fifo_reads"], d["weight_fifo_read_bits"]) == (4, 16 * 16)
    assert (d["weight_fifo_writes"], d["weight_fifo_write_bits"]) == (1, 64)
    assert (d["weight_broadcasts"], d["weight_broadcast_bits"]) == (1, 64)
    assert d["dram_read_bits_weight_values"] == 64 and d["dram_read_bits_act_values"] == 64
    cyc = base["dcnn"]["cycles"]
    assert d["leakage_sram_kb_cycles"] == DCNN_SRAM_BITS / 8 / 1024 * cyc
    # Dense data: the compressed form (20 bits per entry) is larger, so DCNN-opt sends the
    # dense one and never moves more DRAM bits than DCNN.
    o = base["dcnn_opt"]["accesses"]
    for k in d:
        if k.startswith("dram_"):
            assert o[k] == d[k], k


def test_dcnn_input_stationary_reads_follow_the_accumulator(arch1):
    """Activation reads of DCNN (input stationary): once per group of Kc output channels.

    3x3 conv, C = 4 (one I-vector), K = 8, 8x8 plane with padding 1, one PE owning 64
    outputs. With 1,024 accumulator entries all 8 channels fit (Kc = 8): each of the 64
    input pixels is read once. With 32 entries (32 banks x 1) even one channel's 64 outputs
    do not fit: Kc = 1 and two spatial chunks, so 8 x 2 = 16 reads per pixel."""
    layer = Layer("sq", C=4, K=8, R=3, S=3, H=8, W=8, padding=1)
    rng = np.random.default_rng(3)
    lt = LayerTensors(layer, rng.uniform(0.5, 1, layer.weight_shape).astype(np.float32),
                      rng.uniform(0.5, 1, (4, 8, 8)).astype(np.float32))
    c = simulate_layer(lt, arch1, verify=True)
    d = dcnn_counts(layer, arch1, c, input_from_dram=False)["dcnn"]["accesses"]
    assert (d["iaram_reads"], d["iaram_read_bits"]) == (64, 64 * 64)
    assert d["weight_fifo_read_bits"] == layer.dense_macs * 16
    small = arch1.replace(**{"accumulator.entries_per_bank": 1})
    assert small.acc_capacity == 32
    d = dcnn_counts(layer, small, simulate_layer(lt, small, verify=True), False)["dcnn"]["accesses"]
    assert d["iaram_reads"] == 64 * 8 * 2


def test_dcnn_opt_saves_multipliers_and_dram_only():
    """DCNN-opt = DCNN with zero-gated multipliers and compressed DRAM transfers (SCNN
    Table 6): every other component costs the same."""
    rec = simulate("alexnet", layers=["conv2"]).layers[0].record
    d, o = rec["dcnn"]["energy_pj"], rec["dcnn_opt"]["energy_pj"]
    t = load_energy_table()
    assert o["multipliers"] == pytest.approx(rec["products"] * t.energy_pj["multiply"])
    assert d["multipliers"] == pytest.approx(rec["dense_macs"] * t.energy_pj["multiply"])
    assert o["dram"] < d["dram"]
    for k in d:
        if k not in ("multipliers", "dram", "total"):
            assert o[k] == d[k], k
    assert rec["dcnn_opt"]["memory_references"]["bits"] < rec["dcnn"]["memory_references"][
        "bits"]


def test_dcnn_opt_never_costs_more_than_dcnn_at_full_density():
    layer = Layer("dense", C=8, K=8, R=3, S=3, H=8, W=8, padding=1,
                  weight_density=1.0, act_density=1.0)
    rng = np.random.default_rng(0)
    lt = LayerTensors(layer, rng.uniform(0.5, 1.0, layer.weight_shape).astype(np.float32),
                      rng.uniform(0.5, 1.0, (8, 8, 8)).astype(np.float32))
    rec = simulate([lt]).layers[0].record
    assert rec["dcnn_opt"]["energy_pj"]["total"] <= rec["dcnn"]["energy_pj"]["total"]


# ----------------------------------------------------------------------------- memory refs

def test_memory_references_definition(arch1):
    lt = _row_layer(4, [1.0, 2.0, 3.0, 4.0])
    rec = simulate([lt], arch=arch1).layers[0].record
    a, mr = rec["accesses"], rec["memory_references"]
    per = mr["per_structure"]
    assert per["accumulator"]["accesses"] == 2 * 16 + a["acc_drain_reads"]
    assert per["weight_fifo"] == {"accesses": 2, "bits": 160}
    assert per["iaram"]["accesses"] == 4 + a["iaram_writes"]
    dram = sum(v for k, v in a.items() if k.startswith("dram_"))
    assert per["dram"] == {"accesses": dram / 32, "bits": dram}
    assert mr["accesses"] == pytest.approx(sum(v["accesses"] for v in per.values()))
    assert mr["bits"] == sum(v["bits"] for v in per.values())
    assert memory_references(a) == mr
    # Transfers over wires are not memory references.
    assert memory_references(dict(a, crossbar_bits=10 ** 9, halo_bits=10 ** 9,
                                  weight_broadcast_bits=10 ** 9)) == mr


def test_run_table_lists_memory_references(capsys):
    assert cli_main(["run", "alexnet", "--layers", "conv5"]) == 0
    out = capsys.readouterr().out
    assert "mem refs [M]" in out and "bits moved [Mbit]" in out
    lines = out.splitlines()
    i = next(i for i, ln in enumerate(lines) if ln.startswith("memory references by structure"))
    line = lines[i]
    for more in lines[i + 1:]:  # the summary wraps at 120 columns, continuations indented
        if not more.startswith("  "):
            break
        line += " " + more.strip()
    line += " "
    for name in ("accumulator", "iaram", "oaram", "weight_fifo", "dram"):
        assert f"{name} " in line
    rec = simulate("alexnet", layers=["conv5"]).totals.record
    assert f"{rec['memory_references']['accesses'] / 1e6:.3f}" in out
    assert set(rec["energy_pj"]) >= {"adders", "coordinates", "weight_broadcast", "leakage",
                                      "total"}
