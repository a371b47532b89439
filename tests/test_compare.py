"""``scnn-sim compare``: ratios of two alexnet runs on two architectures, and refusals."""

from __future__ import annotations

import json
import math

import pytest
import yaml

from scnn_sim import cli
from scnn_sim.inputs.arch import load_arch
from scnn_sim.results.compare import CompareError, compare_runs, load_run, render_comparison


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    from scnn_sim.simulation import simulate

    d = tmp_path_factory.mktemp("compare")
    arch = load_arch(None).to_dict()
    arch["pe_array"]["rows"] = arch["pe_array"]["cols"] = 4
    arch["name"] = "scnn-16pe"
    (d / "pe16.yaml").write_text(yaml.safe_dump(arch))
    simulate("alexnet").write_json(d / "a.json")
    simulate("alexnet", arch=d / "pe16.yaml").write_json(d / "b.json")
    (d / "tiny.yaml").write_text(
        "name: tiny\nlayers:\n  - {name: conv1, C: 3, K: 8, R: 3, S: 3, H: 12, W: 12}\n")
    simulate(d / "tiny.yaml").write_json(d / "tiny.json")
    return d


def _one_line_error(capsys, code):
    out, err = capsys.readouterr()
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("scnn-sim: error: "), err
    return lines[0]


def test_ratios_are_b_over_a(runs):
    cmp = compare_runs([runs / "a.json", runs / "b.json"])
    a = json.loads((runs / "a.json").read_text())
    b = json.loads((runs / "b.json").read_text())
    assert cmp.layer_names == [r["name"] for r in a["layers"]]
    for ra, rb in zip(a["layers"], b["layers"], strict=True):
        r = cmp.ratios(cmp.runs[1], ra["name"])
        assert r["cycles"] == pytest.approx(rb["cycles"] / ra["cycles"])
        assert r["energy_pj.dram"] == pytest.approx(rb["energy_pj"]["dram"]
                                                    / ra["energy_pj"]["dram"])
        dram = [sum(v for k, v in x["accesses"].items() if k.startswith("dram_"))
                for x in (ra, rb)]
        assert r["dram_bits"] == pytest.approx(dram[1] / dram[0])
    tot = cmp.ratios(cmp.runs[1])
    assert tot["energy_pj"] == pytest.approx(b["totals"]["energy_pj"]["total"]
                                             / a["totals"]["energy_pj"]["total"])
    assert tot["cycles"] > 1.0  # 16 PEs are slower than 64


def test_cli_table_fits_120_columns_and_writes_plot_and_json(runs, tmp_path, capsys):
    png, js = tmp_path / "cmp.png", tmp_path / "cmp.json"
    assert cli.main(["compare", str(runs / "a.json"), str(runs / "b.json"), str(runs / "b.json"),
                     "--plot", str(png), "--json", str(js)]) == 0
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines() if not line.startswith("wrote ")) <= 120
    assert "per layer, B = " in out and "per layer, C = " in out
    assert "  dram [uJ]" in out and "C/A [x]" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    data = json.loads(js.read_text())
    assert data["ratios"][1]["totals"]["cycles"] == pytest.approx(
        data["ratios"][0]["totals"]["cycles"])
    text = render_comparison(compare_runs([runs / "a.json", runs / "a.json"]))
    total_line = next(line for line in text.splitlines() if line.startswith("total"))
    assert total_line.split()[2] == "1.000"  # a run against itself


def test_different_workloads_refused_unless_forced(runs, capsys):
    line = _one_line_error(capsys, cli.main(["compare", str(runs / "a.json"),
                                             str(runs / "tiny.json")]))
    assert "workload 'tiny' differs" in line and "--force" in line
    cmp = compare_runs([runs / "a.json", runs / "tiny.json"], force=True)
    assert cmp.layer_names == ["conv1"]  # the shared layer


def test_different_layer_lists_refused(runs, tmp_path, capsys):
    a = json.loads((runs / "a.json").read_text())
    a["layers"] = a["layers"][:3]
    (tmp_path / "part.json").write_text(json.dumps(a))
    line = _one_line_error(capsys, cli.main(["compare", str(runs / "a.json"),
                                             str(tmp_path / "part.json")]))
    assert "layer list differs" in line and "conv4, conv5" in line
    cmp = compare_runs([runs / "a.json", tmp_path / "part.json"], force=True)
    assert cmp.layer_names == ["conv1", "conv2", "conv3"]


@pytest.mark.parametrize("content, expected", [
    ('{"workload": "x", "granularities": {}}', "not a `scnn-sim run --json` result"),
    ("[1, 2]", "not a `scnn-sim run --json` result"),
    ("{not json", ":1: malformed JSON"),
])
def test_non_run_json_is_one_line(runs, tmp_path, capsys, content, expected):
    p = tmp_path / "x.json"
    p.write_text(content)
    with pytest.raises(CompareError):
        load_run(p)
    line = _one_line_error(capsys, cli.main(["compare", str(runs / "a.json"), str(p)]))
    assert f"{p}" in line and expected in line


def test_zero_reference_gives_nan(runs, tmp_path):
    a = json.loads((runs / "a.json").read_text())
    a["layers"][0]["energy_pj"]["ppu"] = 0.0
    (tmp_path / "z.json").write_text(json.dumps(a))
    cmp = compare_runs([tmp_path / "z.json", runs / "b.json"])
    assert math.isnan(cmp.ratios(cmp.runs[1], "conv1")["energy_pj.ppu"])


def test_plot_ratio_axis(runs):
    from scnn_sim.plot import plot_compare

    cmp = compare_runs([runs / "a.json", runs / "b.json"])
    ax = plot_compare(cmp).axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == [f"conv{i}" for i in range(1, 6)]
    spread = max(cmp.ratios(cmp.runs[1], n)[k] for n in cmp.layer_names
                 for k in ("cycles", "energy_pj", "dram_bits")) / min(
        cmp.ratios(cmp.runs[1], n)[k] for n in cmp.layer_names
        for k in ("cycles", "energy_pj", "dram_bits"))
    assert ax.get_yscale() == ("log" if spread > 10 else "linear")
    assert len(ax.lines[0].get_ydata()) == 5  # one marker per layer
    same = plot_compare(compare_runs([runs / "a.json", runs / "a.json"])).axes[0]
    assert same.get_yscale() == "linear"
    assert list(same.lines[0].get_ydata()) == [1.0] * 5
    assert same.figure.get_suptitle().startswith("alexnet | density per-layer (fine) | energy")


def test_memory_references_use_the_one_definition(tmp_path):
    """compare's memory references are run's (scnn_sim.results.records.memory_references): accesses
    at native width, not a sum of every count (bits, multiplies, leakage cycles)."""
    from scnn_sim import simulate
    from scnn_sim.results.compare import compare_runs

    res = simulate("alexnet", layers=["conv5"])
    p = tmp_path / "a.json"
    p.write_text(res.to_json())
    cmp = compare_runs([p, p])
    rec = res.layers[0].record
    got = cmp.runs[0].layers["conv5"]["memory_refs"]
    assert got == pytest.approx(rec["memory_references"]["accesses"])
