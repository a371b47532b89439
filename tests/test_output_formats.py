"""``--format table|csv|markdown|json`` and ``--columns`` of run, storage, granularity."""

from __future__ import annotations

import csv
import io
import json

import pytest

from scnn_sim import cli
from scnn_sim.report import column_key, format_table

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
