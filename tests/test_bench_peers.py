"""The pure-Python parts of benchmarks/bench_peers.py and bench_sweep_scaling.py (no SCALE-Sim,
no sweep run): SCALE-Sim topology/layout/config writing and the report parser."""

from __future__ import annotations

import configparser
import importlib
import sys
from pathlib import Path

import pytest

from scnn_sim.workload.importers.scalesim import read_scalesim_csv
from scnn_sim.workload.shapes import load_workload

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.fixture(scope="module")
def peers():
    sys.path.insert(0, str(BENCH))
    try:
        yield importlib.import_module("bench_peers")
    finally:
        sys.path.remove(str(BENCH))


@pytest.fixture(scope="module")
def scaling():
    sys.path.insert(0, str(BENCH))
    try:
        yield importlib.import_module("bench_sweep_scaling")
    finally:
        sys.path.remove(str(BENCH))


def _alexnet():
    return list(load_workload("alexnet").conv_layers)


def test_groups_become_ungrouped_halves(peers):
    rows = peers.scalesim_rows(_alexnet())
    names = [r[0] for r in rows]
    assert names == ["conv1", "conv2_g0", "conv2_g1", "conv3", "conv4_g0", "conv4_g1",
                     "conv5_g0", "conv5_g1"]
    conv2 = rows[1]
    # 27x27 input padded by 2 on each side; 96/2 channels, 256/2 filters
    assert conv2[1:] == (31, 31, 5, 5, 48, 128, 1)


def test_topology_macs_equal_the_workloads(peers):
    layers = _alexnet()
    rows = peers.scalesim_rows(layers)
    total = sum(peers.row_macs(r) for r in rows)
    per_layer = sum(L.dense_macs for L in layers)
    assert total == per_layer == 665_784_864


def test_topology_csv_reads_back_with_the_scalesim_importer(peers, tmp_path):
    rows = peers.scalesim_rows(_alexnet())
    path = tmp_path / "t.csv"
    peers.write_topology(rows, path)
    text = path.read_text().splitlines()
    assert all(line.endswith(",") for line in text)   # SCALE-Sim drops the last field
    layers, _ = read_scalesim_csv(path)
    got = [(L.name, L.H, L.W, L.R, L.S, L.C, L.K, L.stride) for L in layers]
    assert got == [tuple(r) for r in rows]
    assert all(L.padding == 0 and L.groups == 1 for L in layers)


def test_layout_has_one_full_row_per_layer(peers, tmp_path):
    rows = peers.scalesim_rows(_alexnet())
    path = tmp_path / "l.csv"
    peers.write_layout(rows, path)
    lines = path.read_text().splitlines()
    assert len(lines) == 1 + len(rows)
    for line, row in zip(lines[1:], rows, strict=True):
        fields = line.split(",")[:-1]            # as SCALE-Sim parses it
        assert fields[0] == row[0]
        assert len(fields) == len(peers.LAYOUT_HEADER)
        assert all(f.isdigit() for f in fields[1:])


def test_config_has_every_key_scalesim_3_reads(peers, tmp_path):
    path = tmp_path / "s.cfg"
    peers.write_config(path)
    cfg = configparser.ConfigParser()
    cfg.read(path)
    arch = cfg["architecture_presets"]
    assert (arch["ArrayHeight"], arch["ArrayWidth"], arch["Dataflow"]) == ("32", "32", "ws")
    for key in ("ifmapsramszkB", "filtersramszkB", "ofmapsramszkB"):
        assert arch[key] == "64"
    for key in ("IfmapOffset", "FilterOffset", "OfmapOffset", "ReadRequestBuffer",
                "WriteRequestBuffer", "Bandwidth"):
        assert arch[key].isdigit()
    lay = cfg["layout"]
    assert not lay.getboolean("IfmapCustomLayout") and not lay.getboolean("FilterCustomLayout")
    # SCALE-Sim 3.0 asserts bank bandwidth x banks == interface bandwidth
    for side in ("Ifmap", "Filter"):
        assert (int(lay[f"{side}SRAMBankBandwidth"]) * int(lay[f"{side}SRAMBankNum"])
                == int(arch["Bandwidth"]))
    assert cfg["run_presets"]["InterfaceBandwidth"] == "USER"
    assert cfg["run_presets"]["UseRamulatorTrace"] == "False"
    assert cfg["sparsity"]["SparsitySupport"] == "false"
    assert cfg["general"]["run_name"]


def test_dense_workload_yaml_loads_dense(peers, tmp_path):
    path = tmp_path / "d.yaml"
    layers = _alexnet()
    peers.dense_workload_yaml(layers, path)
    wl = load_workload(path)
    assert [L.name for L in wl.layers] == [L.name for L in layers]
    assert all(L.weight_density == 1.0 and L.act_density == 1.0 for L in wl.layers)
    assert [L.pool for L in wl.layers] == [L.pool for L in layers]
    assert wl.dense_macs == 665_784_864


def test_report_cycles_sums_total_cycles(peers, tmp_path):
    path = tmp_path / "COMPUTE_REPORT.csv"
    path.write_text(
        "LayerID, Total Cycles (incl. prefetch), Total Cycles, Stall Cycles, Overall Util %,\n"
        "0, 110, 100, 3, 61.7,\n1, 220, 200, 0, 50.0,\n")
    assert peers.report_cycles(path) == 300


def test_sweep_cases_and_commands(scaling, tmp_path):
    assert scaling.parse_case("local2") == ("local", 2)
    assert scaling.parse_case("dask1") == ("dask", 1)
    for bad in ("local0", "dask", "thread2"):
        with pytest.raises(SystemExit):
            scaling.parse_case(bad)
    out = tmp_path / "x.sqlite"
    local = scaling.sweep_cmd("example", out, "local", 2)
    assert local[-2:] == ["--workers", "2"] and str(out) in local
    dask = scaling.sweep_cmd("example", out, "dask", 1, "tcp://127.0.0.1:1")
    assert dask[-2:] == ["--scheduler", "tcp://127.0.0.1:1"] and "--workers" not in dask
    assert scaling.count_points("example") == 8
