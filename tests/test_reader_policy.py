"""The reader policy and the size gate (issue 20): every way data enters is bounded.

``.npz``/``.npy`` are never unpickled and their dtype and declared size are checked from the
headers before an array is read; JSON and CSV have explicit depth and size limits; sweep-store
rows are validated when read; ONNX, torchvision and SCALE-Sim inputs go through the same
memory estimate as ``run`` (``SCNN_SIM_MAX_MEMORY_GB``) before any array is built.
"""

from __future__ import annotations

import contextlib
import io
import json
import sqlite3
import zipfile
from pathlib import Path

import numpy as np
import pytest

from scnn_sim import cli
from scnn_sim.errors import FormatError, ScnnSimError
from scnn_sim.inputs.limits import ResourceLimitError
from scnn_sim.inputs.readers import MAX_CSV_FIELD, MAX_JSON_DEPTH, parse_json, read_json
from scnn_sim.workload.npzio import read_npz_layer

DIMS = {"C": 2, "K": 3, "R": 3, "S": 3, "H": 6, "W": 6, "stride": 1, "padding": 1,
        "groups": 1}


def _npz(path: Path, **over) -> Path:
    rng = np.random.default_rng(0)
    arrays = {"weights": rng.standard_normal((3, 2, 3, 3)).astype(np.float32),
              "activations": np.abs(rng.standard_normal((2, 6, 6))).astype(np.float32),
              **{k: np.int64(v) for k, v in DIMS.items()}}
    arrays.update(over)
    np.savez(path, **arrays)
    return path


def _one_line(capsys, status: int) -> str:
    err = capsys.readouterr().err
    assert status == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("scnn-sim: error: "), err
    return lines[0]


def _huge_npy_member(declared: tuple[int, ...]) -> bytes:
    """A .npy header declaring ``declared`` float32 elements, with no data behind it."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f4", "fortran_order": False,
                                               "shape": declared})
    return buf.getvalue()


# ------------------------------------------------------------------------------ .npz


@pytest.mark.parametrize("member", ["weights", "activations", "C"])
def test_npz_object_arrays_are_refused_from_the_header(member, tmp_path):
    p = _npz(tmp_path / "l.npz", **{member: np.array([{"a": 1}, None], dtype=object)})
    with pytest.raises(FormatError, match=f"{member}: holds Python objects"):
        read_npz_layer(p)


@pytest.mark.parametrize("command", [["run", "{f}"], ["show", "{f}"],
                                     ["storage", "{f}", "--density", "0.5"]])
def test_npz_object_arrays_are_one_line_in_every_command(command, tmp_path, capsys):
    p = _npz(tmp_path / "l.npz", weights=np.array([object()] * 4, dtype=object))
    line = _one_line(capsys, cli.main([a.format(f=p) for a in command]))
    assert "holds Python objects" in line and str(p) in line


def test_npz_declared_size_is_gated_before_reading(tmp_path, monkeypatch):
    p = _npz(tmp_path / "l.npz")
    with zipfile.ZipFile(p, "a") as zf:
        zf.writestr("extra.npy", _huge_npy_member((200000, 200000)))
    with pytest.raises(ResourceLimitError, match="extra.*needs about"):
        read_npz_layer(p)
    big = _npz(tmp_path / "big.npz", C=np.int64(30000), H=np.int64(30000), W=np.int64(30000))
    monkeypatch.setattr(np.lib.npyio.NpzFile, "__getitem__", _forbidden_read(
        np.lib.npyio.NpzFile.__getitem__))
    with pytest.raises(ResourceLimitError, match="needs about"):
        read_npz_layer(big)


def _forbidden_read(orig):
    def getitem(self, key):
        if key in ("weights", "activations"):
            raise AssertionError(f"{key} was read before the checks")
        return orig(self, key)
    return getitem


def test_npz_shape_mismatch_is_refused_before_the_tensor_is_read(tmp_path, monkeypatch):
    p = _npz(tmp_path / "l.npz", weights=np.zeros((3, 2, 5, 5), np.float32))
    monkeypatch.setattr(np.lib.npyio.NpzFile, "__getitem__", _forbidden_read(
        np.lib.npyio.NpzFile.__getitem__))
    with pytest.raises(FormatError, match=r"weights: expected shape \[3, 2, 3, 3\]"):
        read_npz_layer(p)


@pytest.mark.parametrize("dtype", ["U5", "c8", "S3", "M8[s]"])
def test_npz_non_real_dtypes_are_refused(dtype, tmp_path):
    p = _npz(tmp_path / "l.npz", weights=np.zeros((3, 2, 3, 3), dtype=dtype))
    with pytest.raises(FormatError, match="expected real numbers"):
        read_npz_layer(p)


# ------------------------------------------------------------------------------ JSON / CSV


def _deep_json(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 100_000])
def test_deep_json_is_one_line_in_compare(depth, tmp_path, capsys):
    a = tmp_path / "a.json"
    a.write_text(_deep_json(depth))
    line = _one_line(capsys, cli.main(["compare", str(a), str(a)]))
    assert "nested deeper than" in line and str(a) in line


def test_json_text_over_the_size_limit_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("SCNN_SIM_MAX_MEMORY_GB", str(8 * 1024 / 1024 ** 3))  # 8 KB -> 1 KB
    p = tmp_path / "big.json"
    p.write_text(json.dumps({"layers": ["x" * 2000]}))
    with pytest.raises(ScnnSimError, match="larger than the limit"):
        read_json(p, ScnnSimError)


@pytest.mark.parametrize("text", ["{", "\ud800", "[1, 2", '{"a": NaN'])
def test_malformed_json_is_one_error(text):
    with pytest.raises(ScnnSimError) as exc:
        parse_json(text, "f.json", ScnnSimError)
    assert "\n" not in str(exc.value) and str(exc.value).startswith("f.json")


def test_csv_field_over_the_limit_is_one_line(tmp_path, capsys):
    p = tmp_path / "topo.csv"
    p.write_text("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, "
                 "Channels, Num Filter, Strides,\n"
                 f"conv1, 8, 8, 3, 3, 2, 4, 1,\n\"{'x' * (MAX_CSV_FIELD + 10)}\", 1\n")
    line = _one_line(capsys, cli.main(["import", str(p), "-o", str(tmp_path / "w.yaml")]))
    assert f"{p}:3: malformed CSV" in line


def test_scalesim_layer_over_the_memory_limit_is_refused(tmp_path, capsys):
    p = tmp_path / "topo.csv"
    p.write_text("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, "
                 "Channels, Num Filter, Strides,\nhuge, 30000, 30000, 3, 3, 64, 64, 1,\n")
    line = _one_line(capsys, cli.main(["import", str(p), "-o", str(tmp_path / "w.yaml")]))
    assert "huge: needs about" in line and not (tmp_path / "w.yaml").exists()


# ------------------------------------------------------------------------------ compare format


def _run_doc(**over):
    return {"format": "scnn-sim-results", "format_version": 1, "workload": "w",
            "layers": [], "totals": {}, **over}


@pytest.mark.parametrize("over, expected", [
    ({"format": "scnn-sim-granularity"}, "format 'scnn-sim-granularity' is not"),
    ({"format_version": 99}, "format_version 99 of 'scnn-sim-results' is not 1"),
    ({"format_version": "1"}, "format_version '1'"),
])
def test_compare_refuses_other_formats_and_versions(over, expected, tmp_path, capsys):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(_run_doc(**over)))
    b.write_text(json.dumps(_run_doc()))
    line = _one_line(capsys, cli.main(["compare", str(a), str(b)]))
    assert expected in line and str(a) in line


# ------------------------------------------------------------------------------ sweep store


@pytest.fixture
def store(tmp_path):
    from scnn_sim.sweep import SweepStore

    p = tmp_path / "s.sqlite"
    st = SweepStore(p)
    st.ensure()
    st.append([{"point_id": "p1", "layer": "total", "status": "ok", "workload": "w",
                "cycles": 5.0}], params={})
    return p


@pytest.mark.parametrize("data", ["{not json", "[1, 2]", _deep_json(50_000),
                                  '{"point_id": "other", "layer": "total"}',
                                  '{"point_id": "p1", "layer": 3}', "\udcff"])
def test_damaged_store_rows_are_one_line_naming_the_row(data, store, capsys):
    from scnn_sim.sweep import load_sweep_results

    with contextlib.closing(sqlite3.connect(store)) as db:
        db.execute("UPDATE rows SET data = ?", (data.encode("utf-8", "surrogatepass")
                                                if "\udcff" in data else data,))
        db.commit()
    with pytest.raises(ScnnSimError, match="row 0 of point p1"):
        load_sweep_results(store)
    line = _one_line(capsys, cli.main(["plot", str(store), "--kind", "cycles", "-o",
                                       str(store.parent / "f.png")]))
    assert "row 0 of point p1" in line


# ------------------------------------------------------------------------------ ONNX


onnx = pytest.importorskip("onnx")


def _onnx(path: Path, w: np.ndarray | None = None, x_shape=(1, 3, 16, 16), tensor=None,
          attrs=None):
    from onnx import TensorProto
    from onnx import helper as oh
    from onnx import numpy_helper as nh

    init = tensor if tensor is not None else nh.from_array(
        w if w is not None else np.ones((4, x_shape[1], 3, 3), np.float32), "w")
    graph = oh.make_graph(
        [oh.make_node("Conv", ["x", "w"], ["y"], name="conv1",
                      **(attrs if attrs is not None else {"pads": [1, 1, 1, 1]}))], "g",
        [oh.make_tensor_value_info("x", TensorProto.FLOAT, list(x_shape))],
        [oh.make_tensor_value_info("y", TensorProto.FLOAT, [x_shape[0], None, None, None])],
        [init])
    model = oh.make_model(graph, opset_imports=[oh.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def test_onnx_declaring_a_huge_input_is_refused_before_building_arrays(tmp_path, capsys):
    p = _onnx(tmp_path / "m.onnx", x_shape=(1, 3, 25000, 25000))
    assert p.stat().st_size < 4096
    line = _one_line(capsys, cli.main(["import", str(p), "-o", str(tmp_path / "o.h5")]))
    assert "conv1: needs about" in line and "SCNN_SIM_MAX_MEMORY_GB" in line


def test_onnx_weights_are_gated_on_their_declared_dims(tmp_path, capsys, monkeypatch):
    p = _onnx(tmp_path / "m.onnx")   # 4x3x3x3 weights
    monkeypatch.setenv("SCNN_SIM_MAX_MEMORY_GB", "1e-6")  # ~1 KB: below the weights' need
    monkeypatch.setattr("onnx.numpy_helper.to_array", lambda *_a, **_k: pytest.fail(
        "the weights were built before the size gate"))
    line = _one_line(capsys, cli.main(["import", str(p), "-o", str(tmp_path / "o.h5")]))
    assert "weights 'w': an array of shape [4, 3, 3, 3] needs about" in line


def test_onnx_zero_filters_and_string_weights_are_refused(tmp_path, capsys):
    from onnx import TensorProto
    from onnx import helper as oh

    p = _onnx(tmp_path / "z.onnx", w=np.zeros((0, 3, 3, 3), np.float32))
    line = _one_line(capsys, cli.main(["import", str(p), "-o", str(tmp_path / "o.h5")]))
    assert "empty tensor" in line or "zero" in line
    t = oh.make_tensor("w", TensorProto.STRING, [4, 3, 3, 3], vals=[b"a"] * 108)
    p = _onnx(tmp_path / "s.onnx", tensor=t)
    line = _one_line(capsys, cli.main(["import", str(p), "-o", str(tmp_path / "o.h5")]))
    assert "data type STRING" in line or "invalid ONNX" in line


@pytest.mark.parametrize("attrs", [
    {"auto_pad": "SAME_UPPER", "strides": [0, 0]}, {"strides": [0, 0]}, {"group": 0},
    {"group": -1}, {"dilations": [0, 0]}, {"pads": [-1, -1, -1, -1]}])
def test_onnx_impossible_conv_attributes_are_refused(attrs, tmp_path, capsys):
    p = _onnx(tmp_path / "m.onnx", attrs=attrs)
    line = _one_line(capsys, cli.main(["import", str(p), "-o", str(tmp_path / "o.h5")]))
    assert "conv1" in line or "invalid ONNX" in line


def test_onnx_images_header_checked_before_loading(tmp_path, capsys):
    p = _onnx(tmp_path / "m.onnx")
    bad = tmp_path / "objs.npy"
    np.save(bad, np.array([None, 1], dtype=object), allow_pickle=True)
    line = _one_line(capsys, cli.main(["import", str(p), "-o", str(tmp_path / "o.h5"),
                                       "--images", str(bad)]))
    assert "holds Python objects" in line
    huge = tmp_path / "huge.npy"
    huge.write_bytes(b"\x93NUMPY" + _huge_npy_member((64, 3, 20000, 20000))[6:])
    line = _one_line(capsys, cli.main(["import", str(p), "-o", str(tmp_path / "o.h5"),
                                       "--images", str(huge)]))
    assert "needs about" in line


def test_torchvision_input_shape_is_gated_before_torchvision(tmp_path, capsys):
    line = _one_line(capsys, cli.main(["import", "torchvision:resnet18", "-o",
                                       str(tmp_path / "o.h5"), "--input-shape",
                                       "64,3,30000,30000"]))
    assert "--input-shape" in line and "needs about" in line


def test_flipped_bytes_in_a_store_are_one_error(tmp_path):
    """Random byte flips anywhere in a store (the fuzzing corpus's case): only ScnnSimError."""
    import random

    from scnn_sim.sweep import SweepStore, load_sweep_results

    p = tmp_path / "s.sqlite"
    st = SweepStore(p)
    st.ensure(spec_json='{"name": "x"}')
    for i in range(20):
        st.append([{"point_id": f"p{i}", "layer": layer, "status": "ok", "workload": "w",
                    "arch_json": "{}", "cycles": float(i)} for layer in ("c1", "total")],
                  params={"i": i})
    data = p.read_bytes()
    rng = random.Random(0)
    for _ in range(250):
        b = bytearray(data)
        for _ in range(rng.choice([1, 2, 4, 16])):
            b[rng.randrange(len(b))] = rng.randrange(256)
        q = tmp_path / "t.sqlite"
        q.write_bytes(bytes(b))
        with contextlib.suppress(ScnnSimError):
            load_sweep_results(q)
        for f in tmp_path.glob("t.sqlite*"):
            f.unlink()


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs fork")
def test_a_read_stuck_in_c_code_ends_the_command_with_one_line(tmp_path):
    """libhdf5 can loop forever on a corrupt file, holding the interpreter: the watchdog
    prints one line and ends the command; a block that ends in time leaves no trace."""
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent("""\
        import ctypes, sys
        from scnn_sim.inputs.readers import stuck_guard
        from scnn_sim.outputs import interrupts_raise
        with interrupts_raise():
            with stuck_guard("fast.h5", 5):
                pass
            print("fast done", flush=True)
            with stuck_guard("slow.h5", 1):
                ctypes.PyDLL(None).sleep(20)   # C code holding the interpreter
        print("not reached", flush=True)
        """)
    env = {**__import__("os").environ,
           "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, timeout=60)
    assert out.stdout.splitlines() == ["fast done"]
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "slow.h5: still reading after 1 s" in lines[0], out.stderr
    assert out.returncode == -9
