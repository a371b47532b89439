"""Area model (scnn_sim.pricing.area): SCNN's Table 4 at the default, each scaling rule, table
validation, and ``area_mm2`` in run JSON and sweep rows."""

from __future__ import annotations

import copy
import json
import textwrap
from importlib import resources

import pytest
import yaml

from scnn_sim import cli
from scnn_sim.errors import ConfigError
from scnn_sim.inputs.arch import load_arch
from scnn_sim.pricing.area import (
    AREA_COMPONENTS,
    area_model,
    builtin_area_tables,
    load_area_table,
)

# SCNN, Parashar et al. ISCA 2017, Table 4 (mm2 per PE) and the 64-PE accelerator.
TABLE4 = {"iaram_oaram": 0.031, "weight_fifo": 0.004, "multipliers": 0.008, "crossbar": 0.026,
          "accumulator": 0.036, "other": 0.019}
TABLE4_PE_TOTAL = 0.123
TABLE4_CHIP = 7.9

TINY = textwrap.dedent("""\
    name: tiny
    layers:
      - {name: c1, kind: conv, C: 8, K: 16, R: 3, S: 3, H: 12, W: 12, stride: 1, padding: 1,
         groups: 1, weight_density: 0.5, act_density: 0.6}
      - {name: c2, kind: conv, C: 16, K: 8, R: 1, S: 1, H: 12, W: 12, stride: 1, padding: 0,
         groups: 1, weight_density: 0.4, act_density: 0.5}
    """)


def _default_yaml() -> dict:
    return yaml.safe_load(resources.files("scnn_sim").joinpath(
        "data/area/scnn16.yaml").read_text())


def _write(tmp_path, data, name="mine.yaml"):
    p = tmp_path / name
    p.write_text(yaml.safe_dump(data))
    return p


# --------------------------------------------------------------------------- Table 4


def test_default_reproduces_table4():
    m = area_model(load_arch())
    assert m.table == "scnn16" and m.n_pes == 64
    for comp, value in TABLE4.items():
        assert m.per_pe[comp] == pytest.approx(value, rel=1e-12)
    # Table 4's components sum to 0.124 (rounded entries); its stated total is 0.123.
    assert m.per_pe_total == pytest.approx(TABLE4_PE_TOTAL, rel=0.01)
    assert m.total == pytest.approx(TABLE4_CHIP, rel=0.01)
    assert m.total == pytest.approx(64 * m.per_pe_total)


def test_to_dict_shape_and_dcnn_constant():
    d = area_model(load_arch()).to_dict()
    assert set(d) == {*AREA_COMPONENTS, "total", "per_pe", "dcnn", "dcnn_opt"}
    assert set(d["per_pe"]) == {*AREA_COMPONENTS, "total"}
    assert d["total"] == pytest.approx(sum(d[c] for c in AREA_COMPONENTS))
    assert d["per_pe"]["total"] == pytest.approx(sum(d["per_pe"][c] for c in AREA_COMPONENTS))
    assert d["dcnn"] == d["dcnn_opt"] == 5.9  # Table 5
    # The baseline is a constant: it does not follow the SCNN configuration.
    big = area_model(load_arch().replace(**{"pe_array.rows": 16})).to_dict()
    assert big["dcnn"] == 5.9 and big["total"] == pytest.approx(2 * d["total"])


# --------------------------------------------------------------------------- scaling rules


def _ratios(**overrides):
    base = area_model(load_arch()).per_pe
    new = area_model(load_arch().replace(**overrides)).per_pe
    return {c: new[c] / base[c] for c in AREA_COMPONENTS}


def _only(ratios, **expected):
    for comp in AREA_COMPONENTS:
        assert ratios[comp] == pytest.approx(expected.get(comp, 1.0)), comp


def test_sram_scales_per_byte():
    _only(_ratios(**{"buffers.iaram_bytes": 20480, "buffers.oaram_bytes": 20480}),
          iaram_oaram=2.0)
    _only(_ratios(**{"buffers.iaram_bytes": 20480}), iaram_oaram=1.5)


def test_weight_fifo_scales_per_bit():
    _only(_ratios(**{"buffers.weight_fifo_entries": 100}), weight_fifo=2.0)
    # entries x F x (value + index bits): 16 + 4 -> 16 + 8 bits per weight.
    _only(_ratios(**{"data.index_bits": 8}), weight_fifo=24 / 20)


def test_fxi_8x8_scales_multipliers_crossbar_and_fifo():
    # 64 multipliers (x4); the crossbar grows with its F*I inputs (x4) at the same A;
    # the weight FIFO holds F-wide entries (x2).
    _only(_ratios(**{"multiplier.F": 8, "multiplier.I": 8}),
          multipliers=4.0, crossbar=4.0, weight_fifo=2.0)
    # With A = 2 x F x I banks (SCNN's ratio) the crossbar is F*I x A: x16; accumulator x4.
    _only(_ratios(**{"multiplier.F": 8, "multiplier.I": 8, "accumulator.banks": 128}),
          multipliers=4.0, crossbar=16.0, weight_fifo=2.0, accumulator=4.0)


def test_banks_entries_and_double_buffering():
    _only(_ratios(**{"accumulator.banks": 64}), accumulator=2.0, crossbar=2.0)
    _only(_ratios(**{"accumulator.entries_per_bank": 64}), accumulator=2.0)
    _only(_ratios(**{"accumulator.double_buffered": False}), accumulator=0.5)
    # Accumulator width sets the accumulator bits and the crossbar's data width.
    _only(_ratios(**{"data.accumulator_bits": 12}), accumulator=0.5, crossbar=0.5)


def test_multiplier_width_scaling(tmp_path):
    # Default: quadratic in the operand width.
    _only(_ratios(**{"data.value_bits": 8}), multipliers=0.25, weight_fifo=12 / 20)
    d = _default_yaml()
    d["components"]["multipliers"]["width_exponent"] = 1
    t = load_area_table(_write(tmp_path, d))
    arch8 = load_arch().replace(**{"data.value_bits": 8})
    assert area_model(arch8, t).per_pe["multipliers"] == pytest.approx(0.004)
    # At the reference width the exponent does not matter.
    assert area_model(load_arch(), t).per_pe["multipliers"] == pytest.approx(0.008)


def test_other_is_fixed_per_pe_and_chip_scales_with_pes():
    r = _ratios(**{"multiplier.F": 16, "multiplier.I": 16, "buffers.iaram_bytes": 1 << 17})
    assert r["other"] == 1.0
    base = area_model(load_arch())
    four = area_model(load_arch().replace(**{"pe_array.rows": 2, "pe_array.cols": 2}))
    assert four.per_pe == base.per_pe
    assert four.total == pytest.approx(base.total / 16)


# --------------------------------------------------------------------------- tables


def test_builtin_and_custom_table(tmp_path):
    assert "scnn16" in builtin_area_tables()
    t = load_area_table()
    assert t.name == "scnn16" and t.technology_node.startswith("TSMC 16")
    assert all(t.sources[c] for c in AREA_COMPONENTS)
    d = _default_yaml()
    d["name"] = "halved_sram"
    d["components"]["iaram_oaram"]["area_mm2"] = 0.0155
    m = area_model(load_arch(), str(_write(tmp_path, d)))
    assert m.table == "halved_sram"
    assert m.per_pe["iaram_oaram"] == pytest.approx(0.0155)
    assert m.per_pe["crossbar"] == pytest.approx(0.026)


@pytest.mark.parametrize("mutate, field", [
    (lambda d: d["components"].pop("crossbar"), "components.crossbar: missing"),
    (lambda d: d["components"]["crossbar"].update(area_mm2=-1), "crossbar.area_mm2: must be"),
    (lambda d: d["components"]["crossbar"].update(area_mm2="big"), "crossbar.area_mm2: must"),
    (lambda d: d["components"]["crossbar"].update(area_mm2=True), "crossbar.area_mm2: must"),
    (lambda d: d["components"]["iaram_oaram"].update(reference=0),
     "iaram_oaram.reference: must be a number > 0"),
    (lambda d: d["components"]["other"].pop("source"), "components.other.source: every entry"),
    (lambda d: d["components"].update(cache={"area_mm2": 1, "reference": 1, "source": "x"}),
     "components.cache: unknown component"),
    (lambda d: d["components"]["crossbar"].update(width_exponent=2),
     "components.crossbar.width_exponent: unknown field"),
    (lambda d: d["components"]["multipliers"].update(width_exponent=-1),
     "multipliers.width_exponent: must be a number >= 0"),
    (lambda d: d["components"]["multipliers"].update(reference_bits=0),
     "multipliers.reference_bits: must be a number > 0"),
    (lambda d: d.pop("baselines"), "baselines.dcnn: missing"),
    (lambda d: d["baselines"]["dcnn"].update(area_mm2=None), "baselines.dcnn.area_mm2: must"),
    (lambda d: d.update(wiring=1), "mine.yaml:wiring: unknown field"),
    (lambda d: d.pop("components"), "needs a mapping with a 'components' mapping"),
])
def test_malformed_area_table_is_refused_in_one_line(tmp_path, mutate, field):
    d = copy.deepcopy(_default_yaml())
    mutate(d)
    p = _write(tmp_path, d)
    with pytest.raises(ConfigError) as exc:
        load_area_table(p)
    msg = str(exc.value)
    assert field in msg and str(p) in msg
    assert "\n" not in msg


def test_area_table_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match=r"nope\.yaml: cannot read area table.*scnn16"):
        load_area_table(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("components: [unclosed\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml"):
        load_area_table(bad)


# --------------------------------------------------------------------------- results


def test_run_json_carries_area(tmp_path, capsys):
    (tmp_path / "tiny.yaml").write_text(TINY)
    arch = tmp_path / "arch.yaml"
    arch.write_text("pe_array: {rows: 2, cols: 2}\nmultiplier: {F: 8, I: 8}\n")
    js = tmp_path / "out.json"
    assert cli.main(["run", str(tmp_path / "tiny.yaml"), "--arch", str(arch),
                     "--json", str(js)]) == 0
    d = json.loads(js.read_text())
    assert d["area_table"] == "scnn16"
    expected = area_model(load_arch(arch)).to_dict()
    per_pe = d["area_mm2"].pop("per_pe")
    assert per_pe == pytest.approx(expected.pop("per_pe"))
    assert d["area_mm2"] == pytest.approx(expected)
    assert per_pe["multipliers"] == pytest.approx(4 * TABLE4["multipliers"])
    assert d["area_mm2"]["total"] == pytest.approx(4 * per_pe["total"])


def test_run_area_option(tmp_path, capsys):
    (tmp_path / "tiny.yaml").write_text(TINY)
    d = _default_yaml()
    d["components"]["other"]["area_mm2"] = 0.0
    table = _write(tmp_path, d, "noother.yaml")
    js = tmp_path / "out.json"
    assert cli.main(["run", str(tmp_path / "tiny.yaml"), "--area", str(table),
                     "--json", str(js)]) == 0
    area = json.loads(js.read_text())["area_mm2"]
    assert area["other"] == 0.0 and area["per_pe"]["total"] == pytest.approx(0.105)
    capsys.readouterr()
    code = cli.main(["run", str(tmp_path / "tiny.yaml"), "--area", str(tmp_path / "no.yaml")])
    _, err = capsys.readouterr()
    assert code == 2
    assert err.strip().count("\n") == 0 and "no.yaml: cannot read area table" in err


def test_sweep_rows_carry_area(tmp_path):
    from scnn_sim.sweep import load_sweep_results, run_sweep

    (tmp_path / "tiny.yaml").write_text(TINY)
    (tmp_path / "spec.yaml").write_text(textwrap.dedent("""\
        workloads: [tiny.yaml]
        mode: list
        points:
          - {label: small, pe_array.rows: 4, pe_array.cols: 4}
          - {label: large, pe_array.rows: 2, pe_array.cols: 2, multiplier.F: 8,
             multiplier.I: 8, accumulator.banks: 128}
        """))
    run_sweep(tmp_path / "spec.yaml", tmp_path / "sweep.sqlite", workers=1, progress=False)
    df = load_sweep_results(tmp_path / "sweep.sqlite")
    assert (df["status"] == "ok").all()
    small = load_arch().replace(**{"pe_array.rows": 4, "pe_array.cols": 4})
    large = small.replace(**{"pe_array.rows": 2, "pe_array.cols": 2, "multiplier.F": 8,
                             "multiplier.I": 8, "accumulator.banks": 128})
    for label, arch in (("small", small), ("large", large)):
        rows = df[df["label"] == label]
        assert len(rows) == 3  # two layers and the total
        want = area_model(arch)
        assert rows["area_mm2.total"].to_numpy() == pytest.approx([want.total] * 3)
        assert rows["area_mm2.per_pe.crossbar"].iloc[0] == pytest.approx(
            want.per_pe["crossbar"])
