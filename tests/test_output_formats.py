"""``--format table|csv|markdown|json`` and ``--columns`` of run, storage, granularity."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

from scnn_sim import cli
from scnn_sim.results.tables import column_key, format_table

TINY = """\
name: tiny
layers:
  - {name: c1, C: 4, K: 8, R: 3, S: 3, H: 8, W: 8, padding: 1, weight_density: 0.5,
     act_density: 0.6}
  - {name: c2, C: 8, K: 8, R: 3, S: 3, H: 8, W: 8, padding: 1, weight_density: 0.4,
     act_density: 0.5}
"""


@pytest.fixture
def tiny(tmp_path):
    p = tmp_path / "tiny.yaml"
    p.write_text(TINY)
    return str(p)


def _out(capsys, argv):
    assert cli.main(argv) == 0
    return capsys.readouterr().out


def test_column_key_keeps_units():
    assert column_key("energy [uJ]") == "energy_uJ"
    assert column_key("cycles") == "cycles"
    assert column_key("intra-PE [frac]") == "intra_PE_frac"


def test_one_number_format_per_column():
    text = format_table(["layer", "x", "e [uJ]"], [["a", 0.002, 80.728], ["b", 4.958e-4, 145.8]])
    rows = [line.split() for line in text.splitlines()[2:]]
    assert [r[1] for r in rows] == ["2.000e-03", "4.958e-04"]
    assert [r[2] for r in rows] == ["80.7", "145.8"]


def test_wide_table_splits_into_blocks_of_at_most_120():
    headers = ["layer"] + [f"column number {i} [M]" for i in range(20)]
    text = format_table(headers, [["conv1"] + [1234.5] * 20])
    assert max(len(line) for line in text.splitlines()) <= 120
    assert all(f"column number {i} [M]" in text for i in range(20))
    assert text.count("conv1") > 1  # the label column repeats in every block
    assert max(len(line) for line in format_table(headers, [["c"] + [1.0] * 20],
                                                  width=None).splitlines()) > 120


@pytest.mark.parametrize("command", [
    ["run", "{w}", "--layers", "c1,c2"],
    ["storage", "{w}", "--density", "0.4", "--granularities", "fine,kernel"],
    ["granularity", "{w}", "--density", "0.4", "--granularities", "fine,kernel"],
])
def test_formats(command, tiny, tmp_path, capsys):
    argv = [a.format(w=tiny) for a in command]
    table = _out(capsys, argv)
    assert max(len(line) for line in table.splitlines()) <= 120

    rows = list(csv.reader(io.StringIO(_out(capsys, [*argv, "--format", "csv"]))))
    header = rows[0]
    assert all(" " not in h and "[" not in h for h in header)
    assert any(h.endswith(("_uJ", "_Mbit", "_k", "_M")) for h in header)
    assert len(rows) >= 3 and all(len(r) == len(header) for r in rows)
    float(rows[1][2])  # full-precision numbers

    md = _out(capsys, [*argv, "--format", "markdown"]).strip().splitlines()
    assert md[0].startswith("|") and set(md[1]) <= set("|-: ")
    assert len({line.count("|") for line in md}) == 1

    js = tmp_path / "out.json"
    doc = json.loads(_out(capsys, [*argv, "--format", "json", "--json", str(js)]))
    assert doc == json.loads(js.read_text())

    picked = list(csv.reader(io.StringIO(
        _out(capsys, [*argv, "--format", "csv", "--columns", header[-1]]))))
    assert picked[0] == [header[0], header[-1]]


@pytest.mark.parametrize(("command", "listed"), [
    (["run", "{w}", "--columns", "cycles_k,nope"], "energy_uJ"),
    (["storage", "{w}", "--density", "0.4", "--columns", "nope"], "total_Mbit"),
])
def test_unknown_column_is_one_line_before_work(command, listed, tiny, capsys):
    assert cli.main([a.format(w=tiny) for a in command]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert "unknown column 'nope'" in err and "allowed:" in err and listed in err


# ------------------------------------------------------------ one's own files: show, storage


@pytest.fixture
def own_files(tmp_path):
    """An exported-layer .h5 (kernel-pruned layer) and a one-layer .npz, written with numpy's
    and the project's writers."""
    from scnn_sim.sparsity.pruning import prune
    from scnn_sim.workload.h5io import write_layers
    from scnn_sim.workload.shapes import Layer
    from scnn_sim.workload.tensors import LayerTensors

    rng = np.random.default_rng(5)
    lay = Layer("conv1", C=8, K=16, R=3, S=3, H=8, W=8, padding=1)
    w, _ = prune(rng.standard_normal(lay.weight_shape).astype(np.float32), 0.25, "kernel")
    a = np.maximum(rng.standard_normal((8, 8, 8)), 0).astype(np.float32)
    h5 = tmp_path / "mine.h5"
    write_layers(h5, [LayerTensors(lay, w, a)], source_model="test", granularity="kernel",
                 density=0.25)
    npz = tmp_path / "mine.npz"
    np.savez(npz, weights=w, activations=a, C=8, K=16, R=3, S=3, H=8, W=8, stride=1, padding=1,
             groups=1)
    return str(h5), str(npz), w


@pytest.mark.parametrize("which", [0, 1])
def test_storage_of_own_file_uses_its_weights(own_files, which, capsys):
    path, w = own_files[which], own_files[2]
    rows = {r["granularity"]: r for r in csv.DictReader(io.StringIO(_out(
        capsys, ["storage", path, "--granularities", "fine,kernel", "--format", "csv"])))}
    nnz = int(np.count_nonzero(w))
    # No pruning: every granularity stores exactly the file's non-zeros; the kernel index
    # (one run per kept 3x3 kernel) is far smaller than SCNN's per-weight one.
    assert int(rows["fine"]["non_zero_weights"]) == nnz
    assert int(rows["kernel"]["non_zero_weights"]) == nnz
    assert float(rows["kernel"]["index_bits_Mbit"]) < float(rows["fine"]["index_bits_Mbit"]) / 4
    doc = json.loads(_out(capsys, ["storage", path, "--format", "json"]))
    assert doc["weights"] == "stored" and doc["density"] is None
    # With --density the real weights are pruned further.
    pruned = json.loads(_out(capsys, ["storage", path, "--density", "0.1", "--format", "json"]))
    assert pruned["granularities"][0]["kept_weights"] < nnz


def test_show_own_files(own_files, capsys):
    for path in own_files[:2]:
        out = _out(capsys, ["show", path])
        assert "0.250" in out  # the weight density measured in the file


def test_storage_needs_density_without_weights(tiny, capsys):
    assert cli.main(["storage", tiny]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "density" in err


@pytest.mark.parametrize("name", ["bad.h5", "bad.npz"])
def test_bad_own_file_is_one_line(tmp_path, name, capsys):
    p = tmp_path / name
    p.write_bytes(b"not a file of that kind")
    for cmd in (["show", str(p)], ["storage", str(p)]):
        assert cli.main(cmd) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and name in err
