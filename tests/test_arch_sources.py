"""Architecture sources (shipped names, YAML paths, dicts, merged lists) and ``.npz`` layers:
the Python API, the CLI (one-line errors, exit 2) and sweep specs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from scnn_sim import cli, simulate
from scnn_sim.errors import ConfigError, FormatError
from scnn_sim.inputs.arch import load_arch, shipped_archs
from scnn_sim.sweep import spec_from_dict
from scnn_sim.workload.npzio import read_npz_layer


def _errors_cleanly(capsys, code):
    out, err = capsys.readouterr()
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("scnn-sim: error: ")
    assert "Traceback" not in err + out
    return lines[0]


@pytest.fixture
def kc8(tmp_path):
    p = tmp_path / "kc8.yaml"
    p.write_text("dataflow:\n  kc: 8\n")
    return str(p)


def _layer_npz(path, **over):
    rng = np.random.default_rng(0)
    f = {"C": 4, "K": 8, "R": 3, "S": 3, "H": 10, "W": 10, "stride": 1, "padding": 1,
         "groups": 2}
    f.update({k: v for k, v in over.items() if k in f})
    w = rng.integers(0, 3, (f["K"], f["C"] // f["groups"], f["R"], f["S"])).astype(np.float32)
    a = rng.integers(0, 3, (f["C"], f["H"], f["W"])).astype(np.float32)
    arrays = {"weights": over.get("weights", w), "activations": over.get("activations", a)}
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None},
             **{k: v for k, v in f.items() if over.get(k, 0) is not None})
    return str(path)


# ---------------------------------------------------------------- architecture sources


def test_shipped_names():
    assert {"scnn", "dnnsim"} <= set(shipped_archs())
    d = load_arch("dnnsim")
    assert d.name == "dnnsim" and d.kc_rule == "dnnsim" and d.tiling == "padded"
    assert load_arch("scnn") == load_arch()


def test_later_sources_override_earlier(kc8):
    a = load_arch(["dnnsim", kc8])
    assert a.kc == 8 and a.kc_rule == "dnnsim"  # kc from the second, the rest from the first
    b = load_arch(["dnnsim", kc8, {"dataflow": {"kc": 4}}])
    assert b.kc == 4
    # field by field: dnnsim.yaml does not set kc, so the earlier kc8.yaml's value stays
    c = load_arch([kc8, "dnnsim"])
    assert c.kc == 8 and c.name == "dnnsim"
    assert load_arch([{"dataflow": {"kc": 4}}, {"dataflow": {"kc": 2}}]).kc == 2


def test_unknown_name_lists_shipped():
    with pytest.raises(ConfigError) as exc:
        load_arch(["dnnsim", "dnsim"])
    msg = str(exc.value)
    assert "dnsim: unknown architecture" in msg and "dnnsim, scnn" in msg
    assert "\n" not in msg


def test_bad_source_names_its_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("dataflow: {kc_rule: fancy}\n")
    with pytest.raises(ConfigError, match=r"bad.yaml:dataflow.kc_rule: must be one of"):
        load_arch(["dnnsim", str(bad)])


def test_simulate_with_arch_list(tmp_path):
    path = _layer_npz(tmp_path / "lay.npz")
    res = simulate(path, arch=["dnnsim", {"dataflow": {"kc": 2}}])
    assert res.meta["arch"]["name"] == "dnnsim"
    assert res.layers[0]["mapping"]["kc"] == 2
    assert res.meta["arch"]["dataflow"]["kc"] == 2


def test_cli_run_repeated_arch(tmp_path, kc8, capsys):
    path = _layer_npz(tmp_path / "lay.npz")
    out = tmp_path / "r.json"
    assert cli.main(["run", path, "--arch", "dnnsim", "--arch", kc8, "--json", str(out)]) == 0
    d = json.loads(out.read_text())
    assert d["arch"]["dataflow"]["kc"] == 8 and d["arch"]["dataflow"]["kc_rule"] == "dnnsim"
    assert d["layers"][0]["mapping"]["kc"] == 4  # Kc = 8 capped at K / groups = 4
    assert "arch=dnnsim" in capsys.readouterr().out


def test_cli_granularity_repeated_arch(tmp_path, kc8, capsys):
    path = _layer_npz(tmp_path / "lay.npz", groups=1)
    out = tmp_path / "g.json"
    code = cli.main(["granularity", path, "--density", "0.5", "--granularities", "fine,filter",
                     "--arch", "dnnsim", "--arch", kc8, "--json", str(out)])
    assert code == 0
    d = json.loads(out.read_text())
    assert d["arch"]["name"] == "dnnsim" and d["arch"]["dataflow"]["kc"] == 8


def test_cli_arch_show_merges(kc8, capsys):
    assert cli.main(["arch", "dnnsim", "--arch", kc8, "--show"]) == 0
    shown = yaml.safe_load(capsys.readouterr().out)
    assert shown["name"] == "dnnsim" and shown["dataflow"]["kc"] == 8
    assert shown["accumulator"]["bank_mapping"] == "dnnsim_xor"


@pytest.mark.parametrize("argv", [["run", "alexnet", "--arch", "dnsim"],
                                  ["arch", "dnsim", "--show"]])
def test_cli_unknown_arch_name(argv, capsys):
    line = _errors_cleanly(capsys, cli.main(argv))
    assert "dnsim: unknown architecture" in line and "dnnsim, scnn" in line


def test_sweep_spec_arch_list(tmp_path, kc8):
    path = _layer_npz(tmp_path / "lay.npz")
    spec = spec_from_dict({"workloads": [path], "arch": ["dnnsim", "kc8.yaml"],
                           "vary": {"multiplier.F": [2, 4]}}, base_dir=tmp_path)
    pts = spec.points()
    assert len(pts) == 2
    assert all(p.arch["name"] == "dnnsim" and p.arch["dataflow"]["kc"] == 8 for p in pts)
    assert spec_from_dict({"workloads": [path], "arch": "dnnsim"},
                          base_dir=tmp_path).points()[0].arch["dataflow"]["tiling"] == "padded"
    with pytest.raises(ConfigError, match=r"<spec>:arch: dnsim: unknown architecture"):
        spec_from_dict({"workloads": [path], "arch": ["dnsim"]}, base_dir=tmp_path)
    with pytest.raises(ConfigError, match=r"<spec>:arch: must be"):
        spec_from_dict({"workloads": [path], "arch": []}, base_dir=tmp_path)


# ---------------------------------------------------------------- .npz layers


def test_npz_reads_layer(tmp_path):
    path = _layer_npz(tmp_path / "mylayer.npz")
    wl, tensors = read_npz_layer(path)
    (lt,) = tensors
    assert wl.name == "mylayer" and lt.layer.name == "mylayer"
    assert (lt.layer.C, lt.layer.K, lt.layer.groups, lt.layer.padding) == (4, 8, 2, 1)
    z = np.load(path)
    np.testing.assert_array_equal(lt.weights, z["weights"])
    assert lt.layer.weight_density == np.count_nonzero(z["weights"]) / z["weights"].size
    res = simulate(path, verify=True)
    assert res.layers[0]["verified"] is True


@pytest.mark.parametrize("over, needle", [
    ({"weights": None}, "weights: missing array"),
    ({"activations": None}, "activations: missing array"),
    ({"stride": None}, "stride: missing scalar"),
    ({"weights": np.zeros((8, 4, 3, 3), np.float32)},
     "weights: expected shape [8, 2, 3, 3] got [8, 4, 3, 3]"),
    ({"activations": np.zeros((4, 10, 9), np.float32)},
     "activations: expected shape [4, 10, 10] got [4, 10, 9]"),
    ({"activations": np.full((4, 10, 10), np.nan, np.float32)}, "activations: contains NaN"),
    ({"weights": np.full((8, 2, 3, 3), np.inf, np.float32)}, "weights: contains NaN or Inf"),
    ({"padding": 1.5}, "padding: expected an integer, got 1.5"),
    ({"groups": 3}, "is not divisible by groups=3"),
    ({"R": 30, "weights": np.zeros((8, 2, 30, 3), np.float32)}, "R: kernel 30 is larger"),
])
def test_npz_bad_forms(tmp_path, over, needle, capsys):
    path = _layer_npz(tmp_path / "bad.npz", **over)
    with pytest.raises(FormatError) as exc:
        read_npz_layer(path)
    msg = str(exc.value)
    assert msg.startswith(f"{path}: ") and needle in msg and "\n" not in msg
    line = _errors_cleanly(capsys, cli.main(["run", path]))
    assert needle in line


def test_npz_unreadable(tmp_path, capsys):
    p = tmp_path / "junk.npz"
    p.write_bytes(b"not a zip")
    with pytest.raises(FormatError, match="junk.npz: cannot read as .npz"):
        read_npz_layer(p)
    line = _errors_cleanly(capsys, cli.main(["run", str(tmp_path / "missing.npz")]))
    assert "missing.npz: no such file" in line


def test_npz_in_sweep_spec_validated_on_load(tmp_path):
    bad = _layer_npz(tmp_path / "bad.npz", activations=np.zeros((4, 10, 9), np.float32))
    with pytest.raises(ConfigError, match=r"workloads\[0\]: .*bad.npz: activations: expected"):
        spec_from_dict({"workloads": [bad]}, base_dir=tmp_path)
