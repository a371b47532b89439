"""The typed result records (scnn_sim.results.records): one declaration of a layer record,
from which the network record, its totals, the JSON, the table columns and the field
documentation come."""

from __future__ import annotations

import fnmatch
import json
import math
from pathlib import Path

import msgspec
import pytest

from scnn_sim.results.records import (
    DERIVED,
    FIELD_TABLE_MARKERS,
    TOTAL_RULES,
    LayerRecord,
    NetworkRecord,
    field_docs,
    field_table,
    flat_columns,
    network_totals,
    plain,
    rule_of,
    totals_record,
)
from scnn_sim.simulation import simulate


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, tiny_workload):
    path = tmp_path_factory.mktemp("rec") / "tiny.yaml"
    path.write_text(tiny_workload)
    return simulate(path, verify=True, count_merges=True)


def test_every_field_declares_a_known_total_rule_and_a_description():
    for row in field_docs(LayerRecord):
        assert row["total"] in TOTAL_RULES, row
        assert row["description"], f"{row['path']}: no description"


def test_network_record_is_the_layer_record_without_layer_only_fields():
    layer_only = [f for f in LayerRecord.__struct_fields__ if rule_of(LayerRecord, f) == "layer"]
    assert set(layer_only) == {"shape", "weight_density", "act_density", "mapping",
                               "max_abs_error"}
    assert NetworkRecord.__struct_fields__ == tuple(
        f for f in LayerRecord.__struct_fields__ if f not in layer_only)


def test_derived_fields_have_a_formula():
    derived = {f for f in LayerRecord.__struct_fields__ if rule_of(LayerRecord, f) == "derived"}
    assert derived and derived <= set(DERIVED)


def test_layer_json_is_the_typed_record_in_field_order(tiny):
    for lr in tiny.layers:
        assert isinstance(lr.data, LayerRecord)
        assert list(lr.record) == list(LayerRecord.__struct_fields__)
        assert lr.record == plain(lr.data)
    assert list(tiny.totals.record) == list(NetworkRecord.__struct_fields__)
    assert tiny.to_dict()["layers"][0]["mapping"]["input_source"] == "dram"


def test_sum_fields_are_sums_and_max_fields_maxima(tiny):
    layers, tot = [lr.record for lr in tiny.layers], tiny.totals.record
    for f in NetworkRecord.__struct_fields__:
        rule = rule_of(LayerRecord, f)
        vals = [r[f] for r in layers]
        if rule == "max":
            assert tot[f] == max(vals)
        elif rule == "sum" and isinstance(tot[f], (int, float)):
            assert tot[f] == pytest.approx(sum(vals)), f
        elif rule == "sum" and f == "energy_pj":
            assert tot[f]["total"] == pytest.approx(sum(v["total"] for v in vals))
    assert tot["dcnn"]["cycles"] == sum(r["dcnn"]["cycles"] for r in layers)
    assert tot["verified"] is True


def test_ratios_are_recomputed_from_the_sums_not_averaged(tiny):
    tot = tiny.totals.record
    mult = round(tot["products"] / tot["oracle_cycles"])
    assert tot["multiplier_utilization"] == tot["products"] / (tot["cycles"] * mult)
    assert tot["speedup_vs_dcnn"] == tot["dcnn"]["cycles"] / tot["cycles"]
    assert tot["memory_references"]["bits"] == pytest.approx(
        sum(r["memory_references"]["bits"] for r in (lr.record for lr in tiny.layers)))


def test_totals_of_plain_records_match_the_typed_totals(tiny):
    again = totals_record([lr.record for lr in tiny.layers],
                          round(tiny.totals.data.products / tiny.totals.data.oracle_cycles))
    for k, v in tiny.totals.record.items():
        if isinstance(v, float):
            assert math.isclose(again[k], v, rel_tol=1e-12), k
        else:
            assert json.dumps(again[k]) == json.dumps(v) or again[k] == v, k


def test_none_propagates_through_sums(tiny):
    rec = tiny.layers[0].data
    one = msgspec.structs.replace(rec, accumulator_accesses={"per_product": 4, "wide": None})
    other = msgspec.structs.replace(rec, accumulator_accesses={"per_product": 3, "wide": 2},
                                    verified=None)
    tot = network_totals([one, other], multipliers=4)
    assert tot.accumulator_accesses == {"per_product": 7, "wide": None}
    assert tot.verified is None
    assert tot.active_pes == rec.active_pes and tot.cycles == 2 * rec.cycles


def test_table_columns_come_from_the_declaration(tiny):
    patterns = ["layer", "area_mm2.*"] + flat_columns(LayerRecord)
    for row in tiny.table_rows():
        for key in row:
            assert any(fnmatch.fnmatchcase(key, p) for p in patterns), key


def test_docs_field_table_is_generated_from_the_declaration():
    """The docs' record fields are printed by the code, never pasted: ``python docs/regen.py``
    fills them from :func:`field_table`."""
    page = (Path(__file__).parent.parent / "docs" / "formats.md").read_text()
    start, end = FIELD_TABLE_MARKERS
    block = page[page.index(start) + len(start):]
    block = block[:block.index(end)]
    assert block.strip("\n") == field_table().strip("\n"), "docs/formats.md fields are stale"
