"""``scnn-sim import MODEL.onnx``: ONNX models built here with onnx.helper."""

from __future__ import annotations

import numpy as np
import pytest

from scnn_sim import cli
from scnn_sim.engine.layer import reference_conv
from scnn_sim.workload.h5io import read_attrs, read_layers, read_stored
from scnn_sim.workload.shapes import load_workload

onnx = pytest.importorskip("onnx", reason="ONNX import tests need the onnx package "
                           "(pip install 'scnn-sim[onnx]')")
from onnx import TensorProto  # noqa: E402
from onnx import helper as oh  # noqa: E402
from onnx import numpy_helper as nh  # noqa: E402


def _weights(rng, shape):
    w = rng.standard_normal(shape).astype(np.float32)
    w[np.abs(w) < 0.5] = 0.0  # about 38 % zeros: a "pruned" model
    return w


def make_model(path, *, conv1_attrs=None, batch="N", extra_nodes=(), softmax=False):
    """conv1 (3x3, pad 1) -> relu -> maxpool 2x2/2 -> conv2 (grouped, 2 groups) -> relu ->
    conv3/s2 (strided) -> relu -> flatten -> gemm (fc, transB) [-> softmax]."""
    rng = np.random.default_rng(0)
    tensors = {"w1": _weights(rng, (8, 3, 3, 3)), "b1": rng.standard_normal(8).astype(np.float32),
               "w2": _weights(rng, (16, 4, 3, 3)), "w3": _weights(rng, (16, 16, 3, 3)),
               "wf": _weights(rng, (10, 16 * 3 * 3)), "bf": np.zeros(10, np.float32)}
    attrs = {"pads": [1, 1, 1, 1], "strides": [1, 1], **(conv1_attrs or {})}
    nodes = [
        oh.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", **attrs),
        oh.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        oh.make_node("MaxPool", ["r1"], ["p1"], name="pool1", kernel_shape=[2, 2],
                     strides=[2, 2]),
        oh.make_node("Conv", ["p1", "w2"], ["c2"], name="conv2", pads=[1, 1, 1, 1], group=2),
        oh.make_node("Relu", ["c2"], ["r2"], name="relu2"),
        oh.make_node("Conv", ["r2", "w3"], ["c3"], name="conv3/s2", strides=[2, 2]),
        oh.make_node("Relu", ["c3"], ["r3"], name="relu3"),
        oh.make_node("Flatten", ["r3"], ["f"], name="flatten"),
        oh.make_node("Gemm", ["f", "wf", "bf"], ["y" if not softmax else "logits"], name="fc",
                     transB=1),
        *extra_nodes,
    ]
    if softmax:
        nodes.append(oh.make_node("Softmax", ["logits"], ["y"], name="softmax"))
    graph = oh.make_graph(
        nodes, "tiny",
        [oh.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 3, 16, 16])],
        [oh.make_tensor_value_info("y", TensorProto.FLOAT, [batch, 10])],
        [nh.from_array(v, k) for k, v in tensors.items()])
    model = oh.make_model(graph, opset_imports=[oh.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return tensors


@pytest.fixture
def model(tmp_path):
    p = tmp_path / "tiny.onnx"
    tensors = make_model(p, softmax=True)
    images = np.random.default_rng(1).standard_normal((2, 3, 16, 16)).astype(np.float32)
    np.save(tmp_path / "images.npy", images)
    return p, tensors, images


def _one_line_error(capsys, code):
    out, err = capsys.readouterr()
    assert code == 2, out + err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("scnn-sim: error: "), err
    assert "Traceback" not in err
    return lines[0]


def test_import_with_images_captures_real_inputs_and_runs_verified(model, tmp_path, capsys):
    path, tensors, images = model
    out = tmp_path / "net.h5"
    assert cli.main(["import", str(path), "--images", str(tmp_path / "images.npy"),
                     "-o", str(out)]) == 0
    o, err = capsys.readouterr()
    assert "3 conv layer(s)" in o and "fc_layers" in o and "pool1 after conv1" in o
    assert err.strip().splitlines() == ["scnn-sim: not modelled: Softmax x1"]

    wl, lts = read_layers(out)
    assert [lay.name for lay in wl.layers] == ["conv1", "conv2", "conv3/s2"]
    c1, c2, c3 = wl.layers
    assert (c1.padding, c1.stride, c1.groups) == (1, 1, 1)
    assert (c2.C, c2.K, c2.H, c2.groups, c2.padding) == (8, 16, 8, 2, 1)
    assert (c3.stride, c3.padding, c3.H) == (2, 0, 8)
    np.testing.assert_array_equal(lts[0].weights, tensors["w1"])
    np.testing.assert_array_equal(lts[1].weights, tensors["w2"])
    # conv1 reads the image; conv2 reads maxpool(relu(conv1 + bias)) as onnxruntime ran it.
    np.testing.assert_array_equal(lts[0].activations, images[0])
    ref = reference_conv(tensors["w1"], images[0], c1) + tensors["b1"][:, None, None]
    pooled = np.maximum(ref, 0).reshape(8, 8, 2, 8, 2).max(axis=(2, 4))
    np.testing.assert_allclose(lts[1].activations, pooled, rtol=1e-4, atol=1e-4)
    stored = read_stored(out, full_batch=True)[1]
    assert stored[0].batch.shape == (2, 3, 16, 16)  # the whole batch is kept
    attrs = read_attrs(out)
    assert attrs["fc_layers"] == "fc: 144->10"
    assert "pool1 after conv1: max window 2 stride 2 padding 0" in attrs["pooling"]
    assert attrs["not_modelled"] == "Softmax x1"

    assert cli.main(["run", str(out), "--verify", "--columns", "verified"]) == 0
    o = capsys.readouterr().out
    rows = [line for line in o.splitlines() if line.startswith(("conv1", "conv2", "conv3/s2"))]
    assert len(rows) == 3 and all(r.rstrip().endswith("yes") for r in rows)


def test_import_synthetic_activations_at_density(model, tmp_path, capsys):
    path, _, _ = model
    out = tmp_path / "syn.h5"
    assert cli.main(["import", str(path), "--input-shape", "1,3,16,16", "--act-density",
                     "0.3", "--seed", "4", "-o", str(out)]) == 0
    _, lts = read_layers(out)
    dens = [np.count_nonzero(lt.activations) / lt.activations.size for lt in lts]
    assert dens[0] == 1.0  # the image is dense
    assert dens[1:] == [pytest.approx(0.3, abs=1e-3)] * 2
    out2 = tmp_path / "syn2.h5"
    assert cli.main(["import", str(path), "--input-shape", "1,3,16,16", "--act-density",
                     "0.3", "--seed", "4", "-o", str(out2)]) == 0
    np.testing.assert_array_equal(read_layers(out2)[1][1].activations, lts[1].activations)


def test_shapes_only_yaml_loads_and_runs(model, tmp_path, capsys):
    path, tensors, _ = model
    out = tmp_path / "net.yaml"
    assert cli.main(["import", str(path), "--shapes-only", "--images",
                     str(tmp_path / "images.npy"), "-o", str(out)]) == 0
    wl = load_workload(out)
    assert [(lay.name, lay.kind) for lay in wl.layers] == [
        ("conv1", "conv"), ("conv2", "conv"), ("conv3/s2", "conv"), ("fc", "fc")]
    assert wl.layers[3].C == 144 and wl.layers[3].K == 10
    w1 = tensors["w1"]
    assert wl.layers[0].weight_density == pytest.approx(np.count_nonzero(w1) / w1.size,
                                                        abs=1e-6)
    assert all(lay.density_source == "measured" for lay in wl.layers)
    assert wl.layers[0].act_density == 1.0 and wl.layers[1].act_density < 1.0
    text = out.read_text()
    # the pooling node is the layer's `pool:` field, which the loader reads (not a comment)
    conv1_line = next(line for line in text.splitlines() if 'name: "conv1"' in line)
    assert "pool: {kind: max, window: 2, stride: 2, padding: 0, ceil_mode: false}" in conv1_line
    assert "# pool:" not in text and "no pooling model" not in text
    assert wl.layers[0].pool is not None
    assert (wl.layers[0].pool.kind, wl.layers[0].pool.window, wl.layers[0].pool.stride) \
        == ("max", 2, 2)
    assert wl.layers[1].pool is None
    capsys.readouterr()
    assert cli.main(["run", str(out)]) == 0


@pytest.mark.parametrize("attrs, expected", [
    ({"pads": [0, 0, 1, 1]}, "conv1: asymmetric pads [0, 0, 1, 1]"),
    ({"dilations": [2, 2]}, "conv1: dilations [2, 2] are not supported"),
    ({"strides": [1, 2]}, "conv1: non-square stride [1, 2]"),
])
def test_unsupported_conv_refused_in_one_line(tmp_path, capsys, attrs, expected):
    p = tmp_path / "bad.onnx"
    make_model(p, conv1_attrs=attrs)
    line = _one_line_error(capsys, cli.main(["import", str(p), "--input-shape", "1,3,16,16",
                                             "-o", str(tmp_path / "x.h5")]))
    assert f"{p}:{expected}" in line
    assert not (tmp_path / "x.h5").exists()


def test_malformed_and_misused_inputs_refused(model, tmp_path, capsys):
    path, _, _ = model
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x08\x07 definitely not a protobuf \xff\xfe" * 10)
    line = _one_line_error(capsys, cli.main(["import", str(junk), "-o", str(tmp_path / "j.h5")]))
    assert f"{junk}: " in line and "ONNX" in line
    line = _one_line_error(capsys, cli.main(["import", str(path), "-o", str(tmp_path / "a.h5")]))
    assert "symbolic dimension 'N'" in line and "--input-shape" in line
    line = _one_line_error(capsys, cli.main(["import", str(path), "-o", str(tmp_path / "a.yaml"),
                                             "--input-shape", "1,3,16,16"]))
    assert "--shapes-only" in line
    np.save(tmp_path / "bad.npy", np.zeros((2, 4, 16, 16), np.float32))
    line = _one_line_error(capsys, cli.main(["import", str(path), "--images",
                                             str(tmp_path / "bad.npy"), "-o",
                                             str(tmp_path / "a.h5")]))
    assert "dimension 3, given 4" in line
    line = _one_line_error(capsys, cli.main(["import", str(path), "--weight-density", "0.5",
                                             "-o", str(tmp_path / "a.h5")]))
    assert "--weight-density: only for SCALE-Sim CSVs" in line
