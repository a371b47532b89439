"""``scnn-sim import topology.csv``: SCALE-Sim topology CSVs (fixtures written here)."""

from __future__ import annotations

import textwrap

import pytest

from scnn_sim import cli
from scnn_sim.workload.importers import ModelImportError
from scnn_sim.workload.importers.scalesim import read_scalesim_csv
from scnn_sim.workload.shapes import load_workload


def _one_line_error(capsys, code):
    out, err = capsys.readouterr()
    assert code == 2, out + err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("scnn-sim: error: "), err
    assert "Traceback" not in err
    return lines[0]


HEADER = ("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, "
          "Num Filter, Strides,")


def test_scalesim_csv_mapping(tmp_path, capsys):
    p = tmp_path / "topo.csv"
    p.write_text(HEADER + "\n" + textwrap.dedent("""\
        Conv1,  224, 224, 11, 11,   3,  96, 4,
        Conv2,   31,  31,  5,  5,  96, 256, 1,
        DP_Conv3, 15, 15,  3,  3,  32,   2, 1,
        """))
    out = tmp_path / "topo.yaml"
    assert cli.main(["import", str(p), "-o", str(out), "--weight-density", "0.4"]) == 0
    assert "3 conv layers" in capsys.readouterr().out
    wl = load_workload(out)
    c1, c2, dp = wl.layers
    # IFMAP includes padding: H = IFMAP, padding 0.
    assert (c1.H, c1.W, c1.R, c1.C, c1.K, c1.stride, c1.padding) == (224, 224, 11, 3, 96, 4, 0)
    assert (c2.P, c2.Q) == (27, 27)
    assert (dp.groups, dp.C, dp.K) == (32, 32, 64)  # depthwise: groups = C, K = C x filters
    assert all(lay.weight_density == 0.4 and lay.act_density == 1.0 for lay in wl.layers)
    text = out.read_text()
    # Conv1: (224 - 11) % 4 != 0, SCALE-Sim's ceil gives 55 rows, scnn-sim's floor 54.
    assert c1.P == 54
    assert text.count("partial last window") == 1
    assert text.index("partial last window") > text.index('name: "Conv1"')
    assert cli.main(["run", str(out), "--layers", "DP_Conv3"]) == 0


@pytest.mark.parametrize("body, expected", [
    ("Layer name, IFMAP Height, IFMAP Width, Filter Height, Channels, Num Filter, Strides,\n"
     "c,8,8,3,3,4,1,\n", ":1: missing column(s) Filter Width"),
    (HEADER + "\nc,8,8,3,3,4,x,1,\n", ":2:Num Filter: must be an integer, got 'x'"),
    (HEADER + "\nc,8,8,3,3,4,4,1,2,\n", ":2:Strides: row stride 1 != column stride 2"),
    (HEADER + "\nc,8,8,3,3,4,4,1,\nc,8,8,3,3,4,4,1,\n", ":3:Layer name: duplicate 'c'"),
    (HEADER + "\nc,2,2,3,3,4,4,1,\n", ":2:c:R: kernel 3 is larger than the padded input 2"),
    ("", ": empty topology file"),
])
def test_scalesim_csv_errors(tmp_path, capsys, body, expected):
    p = tmp_path / "t.csv"
    p.write_text(body)
    with pytest.raises(ModelImportError) as exc:
        read_scalesim_csv(p)
    assert f"{p}{expected}" in str(exc.value) and "\n" not in str(exc.value)
    line = _one_line_error(capsys, cli.main(["import", str(p), "-o", str(tmp_path / "t.yaml")]))
    assert expected in line
    assert not (tmp_path / "t.yaml").exists()


def test_onnx_options_and_wrong_outputs_refused(tmp_path, capsys):
    p = tmp_path / "t.csv"
    p.write_text(HEADER + "\nc,8,8,3,3,4,4,1,\n")
    line = _one_line_error(capsys, cli.main(["import", str(p), "--images", "x.npy", "-o",
                                             str(tmp_path / "t.yaml")]))
    assert "--images: only for ONNX models" in line
    line = _one_line_error(capsys, cli.main(["import", str(p), "-o", str(tmp_path / "t.h5")]))
    assert "becomes a workload (.yaml)" in line
    line = _one_line_error(capsys, cli.main(["import", str(tmp_path / "m.pb"), "-o", "x.h5"]))
    assert "unknown model type '.pb'" in line
