"""Every result records how it was made (one provenance function), and run, granularity and
sweep share one weight-format default, so the same point reports the same numbers."""

from __future__ import annotations

import json

import h5py
import pytest

from scnn_sim import __version__
from scnn_sim.cli import main
from scnn_sim.pricing.energy import load_energy_table
from scnn_sim.results.provenance import DEFAULT_WEIGHT_FORMAT, FORMAT_VERSION

OPTIONS = ["--energy", "accelergy45", "--seed", "3", "--clustered", "0.5",
           "--pointwise-group", "2", "--layers", "c2"]


@pytest.fixture()
def tiny(tmp_path, tiny_workload):
    p = tmp_path / "tiny.yaml"
    p.write_text(tiny_workload)
    return p


def check_provenance(meta: dict, kind: str, tiny) -> None:
    table = load_energy_table("accelergy45")
    assert meta["format"] == kind and meta["format_version"] == FORMAT_VERSION
    assert meta["scnn_sim_version"] == __version__
    assert meta["workload"] == "tiny" and meta["workload_source"] == str(tiny)
    assert meta["arch"]["pe_array"] == {"rows": 8, "cols": 8}
    assert meta["energy_table"] == "accelergy45"
    assert meta["energy"]["energy_pj"] == dict(table.energy_pj)
    assert meta["energy"]["technology_node"] == table.technology_node
    assert meta["seed"] == 3 and meta["clustered"] == 0.5 and meta["pointwise_group"] == 2
    assert meta["layer_subset"] == ["c2"] and meta["weight_format"] == DEFAULT_WEIGHT_FORMAT


def test_run_json_and_h5_carry_the_provenance(tiny, tmp_path, capsys):
    js, h5 = tmp_path / "r.json", tmp_path / "r.h5"
    assert main(["run", str(tiny), *OPTIONS, "--json", str(js), "--h5", str(h5)]) == 0
    meta = json.loads(js.read_text())
    check_provenance(meta, "scnn-sim-results", tiny)
    with h5py.File(h5) as f:
        assert f.attrs["format"] == "scnn-sim-table"
        assert f.attrs["scnn_sim_version"] == __version__
        check_provenance(json.loads(f.attrs["provenance_json"]), "scnn-sim-results", tiny)


def test_granularity_json_carries_the_same_provenance(tiny, tmp_path, capsys):
    js = tmp_path / "g.json"
    assert main(["granularity", str(tiny), "--density", "0.5", "--granularities",
                 "fine,kernel", *OPTIONS, "--json", str(js)]) == 0
    study = json.loads(js.read_text())
    check_provenance(study, "scnn-sim-granularity", tiny)
    assert study["density"] == 0.5


def test_one_weight_format_default_for_run_granularity_and_sweep(tiny, tmp_path, capsys):
    """The same kernel/0.35 point gives the same DRAM bits and energy in all three."""
    rj, gj = tmp_path / "r.json", tmp_path / "g.json"
    assert main(["run", str(tiny), "--granularity", "kernel", "--density", "0.35",
                 "--json", str(rj)]) == 0
    assert main(["granularity", str(tiny), "--density", "0.35", "--granularities", "kernel",
                 "--json", str(gj)]) == 0
    spec = tmp_path / "s.yaml"
    spec.write_text(f"workloads: [{tiny}]\ngranularities: [kernel]\ndensities: [0.35]\n")
    assert main(["sweep", str(spec), "-o", str(tmp_path / "s.sqlite"), "--workers", "1",
                 "--no-progress"]) == 0
    from scnn_sim.results.tables import table_records
    from scnn_sim.sweep import load_sweep_results

    run_tot = json.loads(rj.read_text())["totals"]
    gran_tot = json.loads(gj.read_text())["granularities"]["kernel"]["totals"]
    sweep_tot = next(r for r in table_records(load_sweep_results(tmp_path / "s.sqlite"))
                     if r["layer"] == "total")
    dram = {k: v for k, v in run_tot["accesses"].items() if k.startswith("dram_")}
    assert dram == {k: v for k, v in gran_tot["accesses"].items() if k.startswith("dram_")}
    assert all(sweep_tot[f"accesses.{k}"] == v for k, v in dram.items())
    e = run_tot["energy_pj"]["total"]
    assert gran_tot["energy_pj"]["total"] == e and sweep_tot["energy_pj.total"] == e
    # ... and it is the group format, which stores fewer index bits than SCNN's for kernels.
    sj = tmp_path / "scnn.json"
    assert main(["run", str(tiny), "--granularity", "kernel", "--density", "0.35",
                 "--weight-format", "scnn", "--json", str(sj)]) == 0
    scnn_tot = json.loads(sj.read_text())["totals"]
    assert scnn_tot["accesses"]["dram_read_bits_weight_index"] > \
        run_tot["accesses"]["dram_read_bits_weight_index"]


def test_run_header_shows_options_that_differ_from_the_default(tiny, capsys):
    assert main(["run", str(tiny)]) == 0
    head = capsys.readouterr().out.split("\nlayer")[0]  # the header (wrapped at 120)
    for opt in ("weight_format=", "clustered=", "pointwise_group=", "layers=", "density="):
        assert opt not in head
    assert main(["run", str(tiny), "--weight-format", "scnn", "--density", "0.3",
                 *OPTIONS]) == 0
    head = " ".join(capsys.readouterr().out.split("\nlayer")[0].split())
    for opt in ("weight_format=scnn", "density=0.3", "clustered=0.5", "pointwise_group=2",
                "layers=c2", "seed=3", "energy=accelergy45"):
        assert opt in head, head
