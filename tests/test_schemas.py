"""JSON Schemas (scnn_sim.results.schemas): shipped = generated from the models; every shipped
example
and real run / granularity output validates; bad inputs fail the schema and the loader alike."""

from __future__ import annotations

import copy
import json
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
import yaml

from scnn_sim.cli import main
from scnn_sim.errors import ScnnSimError
from scnn_sim.inputs.arch import arch_from_dict
from scnn_sim.pricing.energy import table_from_dict
from scnn_sim.results.schemas import KINDS, schema, schema_text, shipped_schema_text, write_schemas
from scnn_sim.workload.shapes import builtin_dir, load_workload

ROOT = Path(__file__).resolve().parents[1]
DATA = resources.files("scnn_sim").joinpath("data")


def _validator(kind: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(json.loads(shipped_schema_text(kind)))


def _errors(kind: str, doc: object) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in _validator(kind).iter_errors(doc)]


@pytest.mark.parametrize("kind", list(KINDS))
def test_shipped_schema_is_what_the_model_generates(kind):
    assert shipped_schema_text(kind) == schema_text(kind), (
        f"scnn_sim/data/schemas/{kind}.json is stale: run `scnn-sim schema --write`")
    jsonschema.Draft202012Validator.check_schema(schema(kind))


def _yaml(path) -> object:
    return yaml.safe_load(Path(str(path)).read_text())


def _examples() -> list[tuple[str, object]]:
    out = [("arch", p) for p in DATA.joinpath("arch").iterdir() if p.name.endswith(".yaml")]
    out += [("energy", p) for p in DATA.joinpath("energy").iterdir() if p.name.endswith(".yaml")]
    out += [("ert-mapping", DATA.joinpath("ert/example_mapping.yaml")),
            ("ert-mapping", ROOT / "tests/data/ert_small_mapping.yaml")]
    out += [("workload", p) for p in sorted(builtin_dir().glob("*.yaml"))]
    out += [("sweep", p) for p in sorted((builtin_dir() / "sweeps").glob("*.yaml"))]
    return out


@pytest.mark.parametrize(("kind", "path"), _examples(),
                         ids=[f"{k}-{Path(str(p)).name}" for k, p in _examples()])
def test_every_shipped_example_validates(kind, path):
    assert _errors(kind, _yaml(path)) == []


def test_examples_cover_every_input_kind():
    assert {k for k, _ in _examples()} == {k for k in KINDS if not k.endswith("-output")}


# ------------------------------------------------------------------------------ bad inputs
# The schema and the loader are two readings of one model: a bad input fails both.

def _arch(d: dict) -> None:
    arch_from_dict(d, where="a.yaml")


def _workload(d: dict, tmp_path: Path) -> None:
    p = tmp_path / "w.yaml"
    p.write_text(yaml.safe_dump(d))
    load_workload(p)


LAYER = {"name": "c1", "C": 4, "K": 8, "R": 3, "S": 3, "H": 8, "W": 8}


def _table(mutate) -> dict:
    doc = copy.deepcopy(_yaml(DATA.joinpath("energy/horowitz45.yaml")))
    mutate(doc)
    return doc


@pytest.mark.parametrize(("kind", "doc"), [
    ("arch", {"multiplier": {"F": 0}}),
    ("arch", {"accumulator": {"contention": "fifo"}}),
    ("arch", {"dataflow": {"subtiles": [2]}}),
    ("arch", {"pe_array": {"rows": 2000}}),
    ("arch", {"colour": "red"}),
    ("workload", {"layers": []}),
    ("workload", {"layers": [{**LAYER, "stride": 0}]}),
    ("workload", {"layers": [{**LAYER, "weight_density": 1.5}]}),
    ("workload", {"layers": [{**LAYER, "pool": {"kind": "max"}}]}),
    ("workload", {"layers": [{k: v for k, v in LAYER.items() if k != "K"}]}),
    ("energy", _table(lambda d: d.pop("actions"))),
    ("energy", _table(lambda d: d["actions"]["iaram_read"].pop("bits"))),
    ("energy", _table(lambda d: d["actions"]["add"].update(energy_pj=-1))),
    ("energy", _table(lambda d: d["actions"].pop("dram_bit"))),
])
def test_bad_input_fails_schema_and_loader(kind, doc, tmp_path):
    assert _errors(kind, doc), doc
    with pytest.raises(ScnnSimError):
        {"arch": lambda: _arch(doc), "workload": lambda: _workload(doc, tmp_path),
         "energy": lambda: table_from_dict(doc, "t.yaml")}[kind]()


# ------------------------------------------------------------------------------ outputs


@pytest.fixture(scope="module")
def run_json(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("run") / "run.json"
    assert main(["run", "alexnet", "--layers", "conv5", "--json", str(out)]) == 0
    return json.loads(out.read_text())


@pytest.fixture(scope="module")
def granularity_json(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("gran") / "gran.json"
    assert main(["granularity", "alexnet", "--layers", "conv5", "--density", "0.4",
                 "--granularities", "fine,kernel", "--json", str(out)]) == 0
    return json.loads(out.read_text())


def test_run_json_validates(run_json):
    assert _errors("run-output", run_json) == []


def test_granularity_json_validates(granularity_json):
    assert _errors("granularity-output", granularity_json) == []
    assert list(granularity_json["granularities"]) == ["fine", "kernel"]


@pytest.mark.parametrize(("mutate", "where"), [
    (lambda d: d.pop("totals"), "'totals' is a required property"),
    (lambda d: d["layers"][0].update(cycles="many"), "'many' is not of type 'integer'"),
    (lambda d: d["layers"][0]["energy_pj"].pop("dram"), "'dram' is a required property"),
    (lambda d: d["totals"].update(name="all"), "'all' is not one of ['total']"),
    (lambda d: d["arch"]["multiplier"].update(F=0), "0 is less than the minimum of 1"),
    (lambda d: d.update(format_version=99), "99 is not one of [1]"),
])
def test_output_schema_pins_keys_and_types(run_json, mutate, where):
    d = copy.deepcopy(run_json)
    mutate(d)
    assert any(where in e for e in _errors("run-output", d)), _errors("run-output", d)


def test_output_schema_leaves_counts_open(run_json):
    """Per-action counts and mapping details are open: a new counter is not a schema break."""
    d = copy.deepcopy(run_json)
    d["layers"][0]["accesses"]["new_counter"] = 3
    d["layers"][0]["mapping"]["new_detail"] = "x"
    d["layers"][0]["new_metric"] = 1.5
    assert _errors("run-output", d) == []


# ------------------------------------------------------------------------------ command


def test_schema_command_prints_one_kind(capsys):
    assert main(["schema", "workload"]) == 0
    out = capsys.readouterr().out
    assert json.loads(out) == schema("workload")
    assert json.loads(out)["title"] == "scnn-sim workload"


def test_schema_command_lists_kinds_in_help(capsys):
    with pytest.raises(SystemExit):
        main(["schema", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for kind in KINDS:
        assert kind in text


@pytest.mark.parametrize("argv", [["schema", "bogus"], ["schema"]])
def test_schema_command_mistakes_are_one_line(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("scnn-sim: error: schema: ")


def test_schema_write(tmp_path, capsys):
    assert main(["schema", "--write", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{k}.json" for k in KINDS)
    for kind in KINDS:
        assert (tmp_path / f"{kind}.json").read_text() == shipped_schema_text(kind)
    assert write_schemas(tmp_path / "again")[0].parent == tmp_path / "again"


def test_unknown_kind_from_the_library():
    with pytest.raises(ScnnSimError, match="unknown kind 'nope'"):
        schema("nope")
