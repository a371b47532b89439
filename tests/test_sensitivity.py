"""Sensitivity to the open modelling choices (issue 23): the declared list is complete, pricing
choices re-price instead of re-simulating, the ranges are what a hand computation from the
counts gives, and bad input is refused in one line before any work."""

from __future__ import annotations

import json
import re
import typing
from pathlib import Path

import pytest

import scnn_sim.simulation as simulation
from scnn_sim.cli import main
from scnn_sim.inputs.arch import arch_field_types, arch_fields, load_arch
from scnn_sim.inputs.choices import CHOICES, NOT_CHOICES, ChoiceError, get_choices
from scnn_sim.pricing.energy import ACTIONS, builtin_tables, load_energy_table
from scnn_sim.pricing.layer import record_penalty
from scnn_sim.results.records import first_difference
from scnn_sim.studies.granularity import granularity_study, reprice_study
from scnn_sim.studies.sensitivity import (
    READINGS,
    apply_energy,
    granularity_sensitivity,
    reprice,
    sensitivity,
)

MODELLING = Path(__file__).resolve().parents[1] / "docs" / "modelling.md"
TINY = """\
name: tiny
layers:
  - {name: c1, kind: conv, C: 8, K: 16, R: 3, S: 3, H: 12, W: 12, stride: 1, padding: 1,
     groups: 1, weight_density: 0.5, act_density: 0.6}
"""


@pytest.fixture()
def tiny(tmp_path):
    p = tmp_path / "tiny.yaml"
    p.write_text(TINY)
    return str(p)


@pytest.fixture()
def engine_calls(monkeypatch):
    """Counts the calls to the engine (one per simulated layer)."""
    import scnn_sim.engine.network as network

    calls = []
    real = network.simulate_layer

    def counting(*a, **k):
        calls.append(1)
        return real(*a, **k)

    monkeypatch.setattr(network, "simulate_layer", counting)
    return calls


def _choice_fields() -> set[str]:
    return {path for c in CHOICES for a in c.alternatives for path in a.arch}


# ----------------------------------------------------------------------------- the list

def _is_rule(tp) -> bool:
    """An enum-valued (Literal) or boolean architecture field."""
    args = typing.get_args(typing.get_args(tp)[0] if typing.get_origin(tp) is typing.Annotated
                           else tp)
    base = typing.get_args(tp)[0] if typing.get_origin(tp) is typing.Annotated else tp
    return base is bool or typing.get_origin(base) is typing.Literal or any(
        typing.get_origin(a) is typing.Literal for a in args)


def test_every_modelling_rule_field_is_a_choice_or_listed_as_not_one():
    declared = _choice_fields()
    rules = {p for p, tp in arch_field_types().items() if _is_rule(tp)}
    assert {"accumulator.contention", "dataflow.tiling", "data.placeholders"} <= rules
    missing = rules - declared - set(NOT_CHOICES)
    assert not missing, f"classify these in scnn_sim/inputs/choices.py: {sorted(missing)}"
    assert not declared & set(NOT_CHOICES)
    assert set(NOT_CHOICES) <= set(arch_fields()) and declared <= set(arch_fields())


def test_every_field_the_docs_call_a_modelling_choice_is_classified():
    # The docs' "Modelling choices" page, without its fenced blocks (a fence's backticks would
    # pair with inline ones).
    section = re.sub(r"```.*?```", "", MODELLING.read_text(), flags=re.S)
    paths = arch_fields()
    by_key: dict[str, list[str]] = {}
    for p in paths:
        by_key.setdefault(p.split(".")[-1], []).append(p)
    named = set()
    for tok in re.findall(r"`([^`\n]+)`", section):
        tok = tok.split(":")[0].strip()
        if tok in paths:
            named.add(tok)
        elif len(by_key.get(tok, ())) == 1:
            named.add(by_key[tok][0])
    assert len(named) > 10  # the parse found the section's fields
    missing = named - _choice_fields() - set(NOT_CHOICES)
    assert not missing, f"classify these in scnn_sim/inputs/choices.py: {sorted(missing)}"


def test_every_alternative_is_ordinary_valid_configuration():
    arch = load_arch()
    default_table = load_energy_table()
    for c in CHOICES:
        assert c.kind in ("simulation", "pricing", "reading") and len(c.alternatives) >= 2
        names = [a.name for a in c.alternatives]
        assert len(set(names)) == len(names)
        for a in c.alternatives:
            assert a.source
            if c.kind == "simulation":
                assert a.arch and not (a.energy or a.energy_table or a.reading)
                arch.replace(**a.arch)  # validates
            elif c.kind == "pricing":
                assert (a.energy or a.energy_table) and not (a.arch or a.reading)
                assert set(a.energy) <= set(ACTIONS)
                assert a.energy_table is None or a.energy_table in builtin_tables()
                apply_energy(default_table, a)
            else:
                assert a.reading and all(r in READINGS[m] for m, r in a.reading.items())
        # the first alternative is scnn-sim's default configuration
        d = c.default
        if c.kind == "simulation":
            assert arch.replace(**d.arch) == arch, c.name
        elif c.kind == "pricing":
            assert apply_energy(default_table, d).energy_pj == default_table.energy_pj, c.name
        else:
            assert all(READINGS[m][0] == r for m, r in d.reading.items())


def test_bad_choices_refused():
    with pytest.raises(ChoiceError, match="unknown choice 'nope'"):
        get_choices("tiling,nope")
    with pytest.raises(ChoiceError, match="given twice"):
        get_choices(["tiling", "tiling"])
    with pytest.raises(ChoiceError, match="at least one"):
        get_choices(" , ")
    assert [c.name for c in get_choices("dram_energy, tiling")] == ["dram_energy", "tiling"]


# ----------------------------------------------------------------------------- re-pricing

def test_reprice_equals_simulating_with_the_table(tiny):
    other = apply_energy(load_energy_table("horowitz45"), CHOICES_BY["crossbar_energy"][2])
    base = simulation.simulate(tiny)
    # Equal values (a record built by the engine may hold numpy scalars where one decoded
    # from JSON holds Python numbers: the JSON written is the same).
    assert first_difference(reprice(base, other).to_dict(),
                            simulation.simulate(tiny, energy=other).to_dict(),
                            strict_types=False) is None
    assert reprice(base, other).totals["energy_pj"]["total"] != base.totals["energy_pj"]["total"]


def test_reprice_study_equals_the_study_with_the_table(tiny):
    kw = {"density": 0.4, "granularities": "fine,kernel"}
    base = granularity_study(tiny, **kw)
    assert first_difference(reprice_study(base, load_energy_table("accelergy45")),
                            granularity_study(tiny, energy="accelergy45", **kw),
                            strict_types=False) is None


CHOICES_BY = {c.name: c.alternatives for c in CHOICES}
PRICING_AND_READING = [c.name for c in CHOICES if c.kind != "simulation"]


def test_pricing_and_reading_choices_do_not_resimulate(tiny, engine_calls):
    s = sensitivity(tiny, choices=PRICING_AND_READING)
    assert len(engine_calls) == 1  # the base run's one layer, nothing more
    assert s["simulations"] == 1
    by = {r["produced_by"] for ch in s["choices"] for r in ch["results"]}
    assert by == {"re-pricing", "reading"}
    engine_calls.clear()
    s = sensitivity(tiny, choices="tiling,dram_energy")
    # ceil is the base run: base + balanced + padded, the DRAM energies only re-priced
    assert len(engine_calls) == 3 and s["simulations"] == 3


# ----------------------------------------------------------------------------- by hand

def test_pricing_ranges_by_hand(tiny):
    s = sensitivity(tiny, choices="crossbar_energy,dram_energy,barrier_reading")
    tot = simulation.simulate(tiny).totals.record
    acc = tot["accesses"]
    xbar_words = acc["crossbar_bits"] / 24  # the tables' crossbar entry is per 24 bits
    dram_bits = sum(v for k, v in acc.items() if k.startswith("dram_"))
    e0 = tot["energy_pj"]["total"]

    def energy(xbar: float, dram: float) -> float:  # aladdin40: crossbar 0.324, DRAM 20
        return (e0 + (xbar - 0.324) * xbar_words + (dram - 20.0) * dram_bits) / 1e6

    rows = {(ch["name"], r["alternative"]): r["values"] for ch in s["choices"]
            for r in ch["results"]}
    assert rows["crossbar_energy", "4.09 pJ"]["energy_uj"] == pytest.approx(energy(4.09, 20))
    assert rows["dram_energy", "3.9 pJ/bit"]["energy_uj"] == pytest.approx(energy(0.324, 3.9))
    rng = s["range"]["metrics"]["energy_uj"]
    assert rng["min"] == pytest.approx(energy(0.324, 3.9))
    assert rng["max"] == pytest.approx(energy(4.09, 70.0))
    assert rng["max_at"]["crossbar_energy"] == "4.09 pJ"
    assert rng["max_at"]["dram_energy"] == "70 pJ/bit"
    assert s["range"]["exhaustive"] and s["range"]["combinations"] == 3 * 5 * 2
    # the barrier reading: all PEs by default, active PEs as the alternative
    b = s["range"]["metrics"]["barrier"]
    lo, hi = sorted([tot["barrier_fraction"], tot["barrier_fraction_active"]])
    assert (b["min"], b["max"]) == (pytest.approx(lo), pytest.approx(hi))
    assert s["base"]["barrier"] == pytest.approx(tot["barrier_fraction"])
    # a pricing choice moves no count
    assert s["choices"][0]["swing"]["cycles"][0] == s["choices"][0]["swing"]["cycles"][1]


def test_simulation_ranges_by_hand(tiny):
    s = sensitivity(tiny, choices="tiling,contention")
    arch = load_arch()
    cycles = {}
    for t in ("ceil", "balanced", "padded"):
        for c in ("queued", "lockstep"):
            a = arch.replace(**{"dataflow.tiling": t, "accumulator.contention": c})
            cycles[t, c] = simulation.simulate(tiny, arch=a).totals["cycles"] / 1e3
    rows = {(ch["name"], r["alternative"]): r["values"] for ch in s["choices"]
            for r in ch["results"]}
    assert rows["tiling", "padded"]["cycles"] == cycles["padded", "queued"]
    assert rows["contention", "lockstep"]["cycles"] == cycles["ceil", "lockstep"]
    rng = s["range"]["metrics"]["cycles"]
    assert s["range"]["exhaustive"] and s["range"]["simulated_configurations"] == 6
    assert (rng["min"], rng["max"]) == (min(cycles.values()), max(cycles.values()))
    lo = min(cycles, key=cycles.get)
    assert (rng["min_at"]["tiling"], rng["min_at"]["contention"]) == lo


def test_one_at_a_time_only_beyond_max_simulations(tiny, engine_calls):
    s = sensitivity(tiny, choices="tiling,contention", max_simulations=5)
    assert not s["range"]["exhaustive"]
    assert len(engine_calls) == 4  # base, balanced, padded, lockstep: no combination
    assert "one-at-a-time" in s["range"]["note"]


# ----------------------------------------------------------------------------- CLI

def test_cli_sensitivity_json_and_plot(tiny, tmp_path, capsys):
    out, png = tmp_path / "s.json", tmp_path / "s.png"
    assert main(["sensitivity", tiny, "--choices", "tiling,crossbar_energy,barrier_reading",
                 "--json", str(out), "--plot", str(png)]) == 0
    text = capsys.readouterr().out
    assert "tiling=balanced" in text and "re-priced" in text and "range of each metric" in text
    doc = json.loads(out.read_text())
    assert doc["format"] == "scnn-sim-sensitivity"
    for ch in doc["choices"]:
        for r in ch["results"]:
            assert set(r["values"]) == set(doc["metrics"])
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_bad_choices_one_line_before_work(tiny, monkeypatch, capsys):
    def boom(*_a, **_k):
        raise AssertionError("simulated before the options were checked")

    monkeypatch.setattr("scnn_sim.studies.sensitivity.sensitivity", boom)
    monkeypatch.setattr("scnn_sim.studies.sensitivity.granularity_sensitivity", boom)
    for argv in (["sensitivity", tiny, "--choices", "tiling,frobnicate"],
                 ["granularity", tiny, "--density", "0.5", "--sensitivity",
                  "--choices", "frobnicate"]):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "unknown choice 'frobnicate'" in err[0], err
    assert main(["sensitivity", tiny, "--plot", "x.txt"]) == 2
    assert ".png" in capsys.readouterr().err
    assert main(["granularity", tiny, "--density", "0.5", "--choices", "tiling"]) == 2
    assert "--choices needs --sensitivity" in capsys.readouterr().err


def test_cli_list_choices(capsys):
    assert main(["sensitivity", "--list-choices"]) == 0
    out = capsys.readouterr().out
    assert all(c.name in out for c in CHOICES)


def test_granularity_sensitivity_verdicts(tiny, tmp_path, capsys):
    out = tmp_path / "g.json"
    assert main(["granularity", tiny, "--density", "0.4", "--granularities", "fine,kernel",
                 "--sensitivity", "--choices", "access_model,crossbar_energy",
                 "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "claims of Mao et al." in text
    doc = json.loads(out.read_text())["sensitivity"]
    assert doc["simulations"] == 3  # per_product (base), same_address, wide
    verdicts = {v["claim"]: v for v in doc["verdicts"]}
    # holds under every / some / never is what the per-alternative ratios say
    for v in verdicts.values():
        values = [r["ratios"]["kernel"][v["ratio"]] for ch in doc["choices"]
                  for r in ch["results"]]
        assert len(v["holds_under"]) + len(v["fails_under"]) == len(values)
        assert v["holds"] == ("every" if not v["fails_under"] else
                              "never" if not v["holds_under"] else "some")


def test_granularity_sensitivity_prices_without_simulating(tiny, engine_calls):
    gs = granularity_sensitivity(tiny, choices="energy_table,dram_energy", density=0.4,
                                 granularities="fine,kernel")
    assert len(engine_calls) == 2  # fine and kernel of the base study only
    energies = {r["ratios"]["kernel"]["energy"] for ch in gs["choices"]
                for r in ch["results"]}
    assert len(energies) > 1  # re-pricing moves the energy ratio


def test_temporal_tiling_penalty_baselines_by_hand(tiny):
    # one PE with a 512-byte IARAM: the layer's activations are tiled in time
    arch = load_arch().replace(**{"pe_array.rows": 1, "pe_array.cols": 1,
                                  "buffers.iaram_bytes": 512})
    rec = simulation.simulate(tiny, arch=arch).layers[0].record
    m, acc = rec["mapping"], rec["accesses"]
    assert m["overflow"] != "resident" and m["weight_dram_fetches"] > m["accumulator_passes"]
    act = acc["dram_read_bits_act_values"] + acc["dram_read_bits_act_index"]
    w = acc["dram_read_bits_weight_values"] + acc["dram_read_bits_weight_index"]
    spared_w = w * (1 - m["accumulator_passes"] / m["weight_dram_fetches"])
    e = rec["energy_pj"]["total"]
    dram_pj = 20.0  # aladdin40's DRAM pJ/bit
    once = e / (e - dram_pj * (act * (1 - 1 / m["act_dram_fetches"]) + spared_w))
    on_chip = e / (e - dram_pj * (act + spared_w))
    table = load_energy_table()
    assert rec["temporal_tiling_penalty"] == pytest.approx(once)
    assert record_penalty(rec, table, "on_chip") == pytest.approx(on_chip)
    s = sensitivity(tiny, arch=arch, choices="penalty_baseline")
    vals = {r["alternative"]: r["values"]["temporal_tiling_penalty"]
            for r in s["choices"][0]["results"]}
    assert vals == {"DRAM once": pytest.approx(once), "on chip": pytest.approx(on_chip)}


def test_cli_on_an_exported_file(tmp_path, tensors, capsys):
    from scnn_sim.workload.h5io import write_layers

    path = tmp_path / "net.h5"
    write_layers(path, [tensors(8, 16, 3, 3, 10, 10, padding=1, wd=0.4, ad=0.5, name="a")],
                 source_model="tiny")
    out = tmp_path / "s.json"
    assert main(["sensitivity", str(path), "--choices", "kc_rule,sram_energy",
                 "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["workload_source"] and doc["granularity"] == "as exported"
    assert main(["granularity", str(path), "--density", "0.4", "--granularities",
                 "fine,vector", "--sensitivity", "--choices", "sram_energy"]) == 0
    assert "vector uses less energy than fine" in capsys.readouterr().out
