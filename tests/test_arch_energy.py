"""Architecture configuration (scnn_sim.inputs.arch) and energy tables (scnn_sim.pricing.energy)."""

from __future__ import annotations

import copy
from importlib import resources

import pytest
import yaml

from scnn_sim.errors import ConfigError, ScnnSimError
from scnn_sim.inputs.arch import ArchConfig, arch_fields, arch_from_dict, load_arch
from scnn_sim.pricing.energy import ACTIONS, COMPONENTS, builtin_tables, load_energy_table

# --------------------------------------------------------------------------- defaults


def test_defaults_are_scnn_table3():
    a = load_arch()
    assert a == load_arch("scnn")
    assert (a.pe_rows, a.pe_cols, a.n_pes) == (8, 8, 64)
    assert (a.F, a.I) == (4, 4)
    assert a.multipliers == 1024
    assert (a.acc_banks, a.acc_entries_per_bank, a.acc_capacity) == (32, 32, 1024)
    assert a.acc_double_buffered is True
    assert a.iaram_bytes == a.oaram_bytes == 10 * 1024
    assert a.weight_fifo_entries == 50
    assert (a.value_bits, a.acc_bits, a.index_bits) == (16, 24, 4)
    assert a.clock_ghz == 1.0
    assert a.dram_gbytes_per_s == 50.0
    assert a.dram_bits_per_cycle == 400.0
    assert a.kc is None and a.subtiles is None


def test_dram_bits_per_cycle_scales_with_clock():
    a = load_arch().replace(**{"clock_ghz": 2.0, "dram.bandwidth_gbytes_per_s": 25})
    assert a.dram_bits_per_cycle == 100.0


def test_replace_and_round_trip():
    a = load_arch()
    b = a.replace(**{"multiplier.F": 8, "dataflow.subtiles": [2, 3], "dataflow.kc": 5})
    assert (b.F, b.subtiles, b.kc) == (8, (2, 3), 5)
    assert a.F == 4                                          # frozen original untouched
    assert arch_from_dict(b.to_dict()) == b
    assert b.to_dict()["dataflow"]["subtiles"] == [2, 3]
    assert a.to_dict()["dataflow"]["kc"] == "auto"
    with pytest.raises(Exception):  # noqa: B017 - frozen dataclass
        a.F = 2  # type: ignore[misc]


def test_arch_fields_are_the_yaml_paths():
    fields = arch_fields()
    assert "multiplier.F" in fields and "accumulator.banks" in fields and "name" in fields
    assert len(fields) == len(set(fields)) == len(ArchConfig.__dataclass_fields__)
    d = load_arch().to_dict()
    for path in fields:
        node = d
        for key in path.split("."):
            node = node[key]


def test_partial_file_takes_defaults(tmp_path):
    p = tmp_path / "small.yaml"
    p.write_text("pe_array: {rows: 2}\naccumulator:\n  contention: lockstep\n")
    a = load_arch(p)
    assert (a.pe_rows, a.pe_cols, a.contention, a.F) == (2, 8, "lockstep", 4)
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    assert load_arch(empty) == load_arch()


def test_shipped_yaml_round_trips(tmp_path):
    p = tmp_path / "dump.yaml"
    p.write_text(yaml.safe_dump(load_arch().to_dict()))
    assert load_arch(p) == load_arch()


# --------------------------------------------------------------------------- errors

BAD = [
    ({"bogus": 1}, "bogus"),
    ({"multiplier": {"G": 4}}, "multiplier.G"),
    ({"multiplier": 4}, "multiplier"),
    ({"clock_ghz": {"x": 1}}, "clock_ghz"),
    ({"multiplier": {"F": 0}}, "multiplier.F"),
    ({"multiplier": {"I": -1}}, "multiplier.I"),
    ({"multiplier": {"F": "four"}}, "multiplier.F"),
    ({"multiplier": {"F": 2.5}}, "multiplier.F"),
    ({"multiplier": {"F": True}}, "multiplier.F"),
    ({"pe_array": {"rows": 0}}, "pe_array.rows"),
    ({"pe_array": {"cols": None}}, "pe_array.cols"),
    ({"clock_ghz": 0}, "clock_ghz"),
    ({"clock_ghz": -1.0}, "clock_ghz"),
    ({"clock_ghz": float("nan")}, "clock_ghz"),
    ({"dram": {"bandwidth_gbytes_per_s": 0}}, "dram.bandwidth_gbytes_per_s"),
    ({"dram": {"latency_cycles": -1}}, "dram.latency_cycles"),
    ({"data": {"value_bits": 0}}, "data.value_bits"),
    ({"data": {"value_bits": 33}}, "data.value_bits"),
    ({"data": {"index_bits": 17}}, "data.index_bits"),
    ({"data": {"accumulator_bits": -24}}, "data.accumulator_bits"),
    ({"accumulator": {"banks": 0}}, "accumulator.banks"),
    ({"accumulator": {"entries_per_bank": 0}}, "accumulator.entries_per_bank"),
    ({"accumulator": {"double_buffered": "yes"}}, "accumulator.double_buffered"),
    ({"accumulator": {"contention": "fifo"}}, "accumulator.contention"),
    ({"accumulator": {"queue_depth": 0}}, "accumulator.queue_depth"),
    ({"accumulator": {"bank_mapping": "hash"}}, "accumulator.bank_mapping"),
    ({"accumulator": {"banks": 24, "bank_mapping": "xor"}}, "accumulator.bank_mapping"),
    ({"accumulator": {"access_model": "merged"}}, "accumulator.access_model"),
    ({"accumulator": {"wide_words": 0}}, "accumulator.wide_words"),
    ({"buffers": {"iaram_bytes": 0}}, "buffers.iaram_bytes"),
    ({"buffers": {"iaram_bytes": 8}}, "buffers.iaram_bytes"),
    ({"buffers": {"oaram_bytes": -5}}, "buffers.oaram_bytes"),
    ({"buffers": {"weight_fifo_entries": 0}}, "buffers.weight_fifo_entries"),
    ({"dataflow": {"weight_order": "kkr"}}, "dataflow.weight_order"),
    ({"dataflow": {"weight_order": 3}}, "dataflow.weight_order"),
    ({"dataflow": {"kc": 0}}, "dataflow.kc"),
    ({"dataflow": {"kc": "big"}}, "dataflow.kc"),
    ({"dataflow": {"kc_max": 0}}, "dataflow.kc_max"),
    ({"dataflow": {"subtiles": [2]}}, "dataflow.subtiles"),
    ({"dataflow": {"subtiles": [2, 0]}}, "dataflow.subtiles"),
    ({"dataflow": {"subtiles": "2x2"}}, "dataflow.subtiles"),
    ({"dataflow": {"tiling": "floor"}}, "dataflow.tiling"),
    ({"dataflow": {"barrier": "none"}}, "dataflow.barrier"),
    ({"dataflow": {"halo_words_per_cycle": 0}}, "dataflow.halo_words_per_cycle"),
    ({"dataflow": {"drain_words_per_cycle": 0}}, "dataflow.drain_words_per_cycle"),
]


@pytest.mark.parametrize(("data", "path"), BAD, ids=[p + "-" + str(i) for i, (_, p)
                                                     in enumerate(BAD)])
def test_bad_field_names_its_path(data, path):
    with pytest.raises(ConfigError) as exc:
        arch_from_dict(data, where="mine.yaml")
    msg = str(exc.value)
    assert msg.startswith(f"mine.yaml:{path}"), msg
    assert "\n" not in msg


def test_bad_override_through_replace():
    with pytest.raises(ConfigError, match="multiplier.F"):
        load_arch().replace(**{"multiplier.F": 0})
    with pytest.raises(ConfigError, match="nosuch"):
        load_arch().replace(**{"nosuch.key": 1})


def test_every_field_rejects_a_wrong_type():
    """Every dotted path refuses a value of an unrelated type (a nested list of dicts)."""
    for path in arch_fields():
        if path == "name":
            continue
        keys = path.split(".")
        data: dict = {}
        node = data
        for k in keys[:-1]:
            node = node.setdefault(k, {})
        node[keys[-1]] = [{"x": 1}]
        with pytest.raises(ConfigError, match=rf"^w:{path.replace('.', '[.]')}"):
            arch_from_dict(copy.deepcopy(data), where="w")


def test_top_level_not_a_mapping(tmp_path):
    p = tmp_path / "list.yaml"
    p.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_arch(p)


def test_malformed_yaml_names_the_line(tmp_path):
    p = tmp_path / "broken.yaml"
    p.write_text("pe_array:\n  rows: 8\n  cols: [8\nmultiplier:\n  F: 4\n")
    with pytest.raises(ConfigError) as exc:
        load_arch(p)
    msg = str(exc.value)
    assert msg.startswith(f"{p}:")
    line = int(msg[len(str(p)) + 1:].split(":")[0])
    assert 3 <= line <= 5
    assert "malformed YAML" in msg


def test_missing_file(tmp_path):
    p = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError, match="nope.yaml"):
        load_arch(p)


def test_bad_value_in_file_names_file_and_path(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("accumulator:\n  banks: 0\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml:accumulator\.banks"):
        load_arch(p)


def test_config_error_is_scnn_sim_error():
    assert issubclass(ConfigError, ScnnSimError)


# ----------------------------------------------------------------------------- energy


@pytest.mark.parametrize("name", ["horowitz45", "accelergy45"])
def test_shipped_tables_load_with_sources(name):
    assert name in builtin_tables()
    t = load_energy_table(name)
    assert t.name == name
    assert set(t.energy_pj) == set(ACTIONS) == set(t.sources)
    for act in ACTIONS:
        assert t.energy_pj[act] >= 0
        assert t.sources[act].strip()


def test_default_table_is_aladdin40():
    assert load_energy_table().name == "aladdin40"
    assert load_energy_table(None).energy_pj == load_energy_table("aladdin40").energy_pj


def _table_dict():
    text = resources.files("scnn_sim").joinpath("data/energy/horowitz45.yaml").read_text()
    return yaml.safe_load(text)


def _write(tmp_path, data):
    p = tmp_path / "table.yaml"
    p.write_text(yaml.safe_dump(data))
    return p


def test_custom_table_from_file(tmp_path):
    d = _table_dict()
    d["name"] = "mine"
    d["actions"]["multiply"]["energy_pj"] = 9.5
    t = load_energy_table(_write(tmp_path, d))
    assert t.name == "mine" and t.energy_pj["multiply"] == 9.5


@pytest.mark.parametrize(("mutate", "field"), [
    (lambda d: d["actions"].pop("dram_bit"), "actions.dram_bit"),
    (lambda d: d["actions"]["multiply"].update(energy_pj=-1.0), "actions.multiply.energy_pj"),
    (lambda d: d["actions"]["multiply"].update(energy_pj="cheap"), "actions.multiply.energy_pj"),
    (lambda d: d["actions"]["multiply"].update(energy_pj=True), "actions.multiply.energy_pj"),
    (lambda d: d["actions"]["ppu_op"].pop("source"), "actions.ppu_op.source"),
    (lambda d: d["actions"]["ppu_op"].update(source="  "), "actions.ppu_op.source"),
    (lambda d: d["actions"].update(teleport={"energy_pj": 1, "source": "x"}),
     "actions.teleport"),
    (lambda d: d.pop("actions"), "actions"),
])
def test_bad_energy_table(tmp_path, mutate, field):
    d = _table_dict()
    mutate(d)
    p = _write(tmp_path, d)
    with pytest.raises(ConfigError) as exc:
        load_energy_table(p)
    assert field in str(exc.value)
    assert str(exc.value).startswith(str(p))


def test_energy_table_missing_file_and_malformed(tmp_path):
    with pytest.raises(ConfigError, match="horowitz45"):   # lists the built-in tables
        load_energy_table(tmp_path / "nope.yaml")
    p = tmp_path / "bad.yaml"
    p.write_text("actions: {multiply: [1,\n")
    with pytest.raises(ConfigError, match="malformed"):
        load_energy_table(p)


def test_breakdown_is_counts_times_table(tmp_path):
    d = _table_dict()
    for i, act in enumerate(ACTIONS):
        d["actions"][act]["energy_pj"] = float(2 ** i)  # distinct, exactly representable
        if "bits" in d["actions"][act]:
            d["actions"][act]["bits"] = 4.0
    t = load_energy_table(_write(tmp_path, d))
    e = {act: float(2 ** i) for i, act in enumerate(ACTIONS)}
    # Counts only (no *_bits keys): every access is priced at its entry's width.
    acc = {
        "multiplies": 100, "adds": 95, "coord_ops": 93, "crossbar_transfers": 90,
        "acc_reads": 80, "acc_writes": 70, "acc_drain_reads": 5, "iaram_reads": 60,
        "iaram_writes": 55, "oaram_writes": 50, "weight_fifo_reads": 40,
        "weight_fifo_writes": 30, "weight_broadcasts": 25, "ppu_ops": 20, "halo_words": 10,
        "dram_read_bits_weight_values": 1000, "dram_read_bits_weight_index": 250,
        "dram_read_bits_act_values": 300, "dram_read_bits_act_index": 75,
        "dram_write_bits_values": 16, "dram_write_bits_index": 4,
        "leakage_multiplier_cycles": 7, "leakage_sram_kb_cycles": 3,
    }
    b = t.breakdown(acc)
    assert list(b) == list(COMPONENTS)
    expected = {
        "multipliers": 100 * e["multiply"],
        "adders": 95 * e["add"],
        "coordinates": 93 * e["coordinate"],
        "accumulator": (80 + 5) * e["accumulator_read"] + 70 * e["accumulator_write"],
        "crossbar": 90 * e["crossbar_transfer"],
        "iaram": 60 * e["iaram_read"] + 55 * e["iaram_write"],
        "oaram": 50 * e["oaram_write"],
        "weight_fifo": 40 * e["weight_fifo_read"] + 30 * e["weight_fifo_write"],
        "weight_broadcast": 25 * e["weight_broadcast"],
        "ppu": 20 * e["ppu_op"],
        "halo": 10 * e["halo_word"],
        "dram": (1000 + 250 + 300 + 75 + 16 + 4) / 4.0 * e["dram_bit"],
        "leakage": 7 * e["leakage_multiplier"] + 3 * e["leakage_sram_kb"],
    }
    assert b == expected
    # With bits moved: priced per bit (entry width 4 bits), whatever the access count.
    acc.update(acc_read_bits=8, acc_drain_read_bits=4, acc_write_bits=12)
    b = t.breakdown(acc)
    assert b["accumulator"] == (8 + 4) / 4 * e["accumulator_read"] + 12 / 4 * e[
        "accumulator_write"]


def test_breakdown_with_horowitz_numbers():
    t = load_energy_table("horowitz45")
    acc = {"multiplies": 1000, "dram_read_bits_weight_values": 160}
    b = t.breakdown(acc)
    assert b["multipliers"] == pytest.approx(1000 * t.energy_pj["multiply"])
    assert b["dram"] == pytest.approx(160 * t.energy_pj["dram_bit"])
    assert sum(v for k, v in b.items() if k not in ("multipliers", "dram")) == 0


def test_duplicate_keys_refused_in_arch_and_energy(tmp_path):
    """A repeated key is a mistake, not 'last one wins': both readers name file and line."""
    arch = tmp_path / "dup.yaml"
    arch.write_text("multiplier:\n  F: 4\n  F: 8\n")
    with pytest.raises(ConfigError, match=r"dup\.yaml:3: malformed YAML: found duplicate key 'F'"):
        load_arch(arch)
    table = tmp_path / "dup_energy.yaml"
    table.write_text("name: x\nname: y\nactions: {}\n")
    with pytest.raises(ConfigError, match=r"dup_energy\.yaml:2: malformed YAML"):
        load_energy_table(table)


def test_energy_entry_bits_price_per_bit(tmp_path):
    data = yaml.safe_load(resources.files("scnn_sim").joinpath(
        "data/energy/horowitz45.yaml").read_text())
    t = load_energy_table("horowitz45")
    assert t.bits["weight_fifo_read"] == 80  # an entry of F = 4 weights: 4 x (16 + 4) bits
    acc = {"weight_fifo_reads": 10, "weight_fifo_writes": 4, "weight_fifo_read_bits": 700,
           "weight_fifo_write_bits": 320}
    # 700 / 80 * 2.5 + 320 / 80 * 2.5
    assert t.breakdown(acc)["weight_fifo"] == pytest.approx(8.75 * 2.5 + 4 * 2.5)
    del acc["weight_fifo_read_bits"], acc["weight_fifo_write_bits"]
    assert t.breakdown(acc)["weight_fifo"] == pytest.approx(14 * 2.5)
    data["actions"]["weight_fifo_read"]["bits"] = 0
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match=r"actions\.weight_fifo_read\.bits"):
        load_energy_table(bad)
    # An action priced per bit must state its width.
    del data["actions"]["weight_fifo_read"]["bits"]
    bad.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match=r"actions\.weight_fifo_read\.bits: missing"):
        load_energy_table(bad)
