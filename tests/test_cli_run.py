"""``scnn-sim run`` and ``scnn-sim arch``: output with units, files, and clean one-line errors."""

from __future__ import annotations

import argparse
import json

import pytest
import yaml

from scnn_sim import cli
from scnn_sim.commands import arch as arch_cmd
from scnn_sim.commands import run as run_cmd
from scnn_sim.inputs.arch import load_arch

TINY = """\
name: tiny
layers:
  - {name: c1, C: 3, K: 8, R: 3, S: 3, H: 12, W: 12, padding: 1, weight_density: 0.6,
     act_density: 1.0}
  - {name: c2, C: 8, K: 6, R: 3, S: 3, H: 12, W: 12, stride: 2, padding: 1, groups: 2,
     weight_density: 0.5, act_density: 0.5}
"""


@pytest.fixture
def tiny(tmp_path):
    p = tmp_path / "tiny.yaml"
    p.write_text(TINY)
    return str(p)


def _errors_cleanly(capsys, code):
    out, err = capsys.readouterr()
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("scnn-sim: error: ")
    assert "Traceback" not in err + out
    return lines[0]


def test_run_alexnet_with_files(tmp_path, capsys):
    js, h5 = tmp_path / "out.json", tmp_path / "out.h5"
    code = cli.main(["run", "alexnet", "--layers", "conv3,conv4", "--json", str(js),
                     "--h5", str(h5)])
    out, err = capsys.readouterr()
    assert code == 0, err
    for unit in ("cycles [k]", "products [M]", "energy [uJ]", "DRAM [Mbit]", "vs DCNN [x]"):
        assert unit in out
    rows = [line.split()[0] for line in out.splitlines() if line.strip()]
    assert "conv3" in rows and "conv4" in rows and "total" in rows
    assert "conv5" not in rows
    assert "ms at 1 GHz" in out
    assert f"wrote {js}" in out and f"wrote {h5}" in out
    data = json.loads(js.read_text())
    assert [r["name"] for r in data["layers"]] == ["conv3", "conv4"]
    assert data["totals"]["cycles"] == sum(r["cycles"] for r in data["layers"])
    h5py = pytest.importorskip("h5py")
    with h5py.File(h5, "r") as f:
        assert f["rows/cycles"].shape == (3,)
        assert f["rows/cycles"][-1] == data["totals"]["cycles"]


def test_run_verify_custom_workload(tiny, capsys):
    code = cli.main(["run", tiny, "--verify", "--seed", "3"])
    out, err = capsys.readouterr()
    assert code == 0, err
    rows = {line.split()[0]: line.split() for line in out.splitlines()
            if line.split() and line.split()[0] in ("c1", "c2", "total")}
    assert set(rows) == {"c1", "c2", "total"}
    assert all(r[-1] == "yes" for r in rows.values())
    assert "seed=3" in out


def test_run_without_verify_shows_dash(tiny, capsys):
    assert cli.main(["run", tiny, "--layers", "c2"]) == 0
    out = capsys.readouterr().out
    # The 120-column table wraps into blocks; the last block ends with "verified".
    row = [line.split() for line in out.splitlines() if line.startswith("c2")][-1]
    assert row[-1] == "-"


def test_run_verify_failure_exit_1(tiny, capsys, monkeypatch):
    import scnn_sim.engine.layer as layer_mod

    real = layer_mod.reference_conv
    monkeypatch.setattr(layer_mod, "reference_conv", lambda w, a, lay: real(w, a, lay) + 1.0)
    code = cli.main(["run", tiny, "--verify", "--layers", "c1"])
    out, err = capsys.readouterr()
    assert code == 1
    assert "verification failed" in err
    row = [line.split() for line in out.splitlines() if line.startswith("c1")][-1]
    assert row[-1] == "NO"


def test_run_options_reach_the_simulation(tiny, tmp_path, capsys):
    arch = tmp_path / "arch.yaml"
    arch.write_text("pe_array: {rows: 2, cols: 2}\naccumulator: {contention: lockstep}\n")
    js = tmp_path / "o.json"
    code = cli.main(["run", tiny, "--arch", str(arch), "--energy", "accelergy45",
                     "--granularity", "kernel", "--density", "0.4", "--count-merges",
                     "--json", str(js)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "2x2 PEs" in out and "lockstep" in out and "granularity=kernel" in out
    d = json.loads(js.read_text())
    assert d["arch"]["pe_array"] == {"rows": 2, "cols": 2}
    assert d["energy_table"] == "accelergy45" and d["density"] == 0.4
    assert d["layers"][0]["accumulator_accesses"]["same_address"] is not None


def test_run_through_register(tiny, capsys):
    """The run command on its own parser (independent of the other commands' modules)."""
    parser = argparse.ArgumentParser()
    run_cmd.register(parser.add_subparsers())
    args = parser.parse_args(["run", tiny, "--layers", "c1", "--verify"])
    assert args.func(args) == 0
    assert "yes" in capsys.readouterr().out


def _bad_arch(tmp_path, text):
    p = tmp_path / "bad_arch.yaml"
    p.write_text(text)
    return str(p)


@pytest.mark.parametrize(("argv", "needle"), [
    (["run", "no_such_network"], "no_such_network"),
    (["run", "alexnet", "--layers", "conv3", "--density", "1.5"], "density"),
    (["run", "alexnet", "--layers", "conv3", "--granularity", "bogus"], "bogus"),
    (["run", "alexnet", "--layers", "conv9"], "conv9"),
    (["run", "alexnet", "--layers", "conv3", "--energy", "no_such_table"], "no_such_table"),
    (["run", "alexnet", "--layers", "conv3", "--arch", "ARCH:multiplier: {F: 0}\n"],
     "multiplier.F"),
    (["run", "alexnet", "--layers", "conv3", "--arch", "ARCH:pe_array: [8\n"], "malformed"),
    (["run", "alexnet", "--layers", "conv3", "--arch", "ARCH:buffers: {iaram_bytes: 8}\n"],
     "buffers.iaram_bytes"),
    (["run", "alexnet", "--layers", "conv3", "--arch", "ARCH:bogus: 1\n"], "bogus"),
    (["run", "alexnet", "--layers", "conv3", "--arch", "/nonexistent/arch.yaml"],
     "arch.yaml"),
    (["run", "BIG", "--arch", "ARCH:dataflow: {kc: 64, subtiles: [1, 1]}\n"], "Kc=64"),
])
def test_run_bad_inputs(tmp_path, capsys, argv, needle):
    argv = list(argv)
    for i, a in enumerate(argv):
        if a.startswith("ARCH:"):
            argv[i] = _bad_arch(tmp_path, a[5:])
        elif a == "BIG":
            p = tmp_path / "big.yaml"
            p.write_text("name: big\nlayers:\n  - {name: wide, C: 2, K: 64, R: 3, S: 3, H: 64,"
                         " W: 64, padding: 1, weight_density: 0.2, act_density: 0.2}\n")
            argv[i] = str(p)
    line = _errors_cleanly(capsys, cli.main(argv))
    assert needle in line


def test_arch_show_round_trips(tmp_path, capsys):
    assert cli.main(["arch", "--show"]) == 0
    out = capsys.readouterr().out
    p = tmp_path / "shown.yaml"
    p.write_text(out)
    assert load_arch(p) == load_arch()
    assert "64 PEs x 4x4 = 1024 multipliers" in out
    assert "1024 accumulator entries" in out and "400 DRAM bits/cycle" in out
    assert yaml.safe_load(out)["multiplier"] == {"F": 4, "I": 4}


def test_arch_validates_a_file(tmp_path, capsys):
    good = tmp_path / "g.yaml"
    good.write_text("multiplier: {F: 8}\n")
    assert cli.main(["arch", str(good)]) == 0
    assert "64 PEs x 8x4 = 2048 multipliers" in capsys.readouterr().out
    bad = tmp_path / "b.yaml"
    bad.write_text("accumulator: {banks: 24, bank_mapping: xor}\n")
    line = _errors_cleanly(capsys, cli.main(["arch", str(bad)]))
    assert "accumulator.bank_mapping" in line


def test_arch_through_register(capsys):
    parser = argparse.ArgumentParser()
    arch_cmd.register(parser.add_subparsers())
    args = parser.parse_args(["arch", "--show"])
    assert args.func(args) == 0
    assert "pe_array:" in capsys.readouterr().out
