"""``scnn-sim import torchvision:NAME --weights FILE.pth``: a torchvision model with one's own
checkpoint. The end-to-end tests run where torchvision is installed (it is not in the test
extra: PyPI's torchvision must match the local torch build); the refusals run everywhere."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from scnn_sim.cli import main as cli_main
from scnn_sim.workload.h5io import read_layers


def _err(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    return err


def test_refusals_before_any_import(tmp_path, capsys):
    out = str(tmp_path / "r.h5")
    assert cli_main(["import", "torchvision:resnet18", "-o", str(tmp_path / "r.yaml")]) == 2
    assert "exported-layer file (.h5)" in _err(capsys)
    assert cli_main(["import", "torchvision:resnet18", "--weights", "nope.pth", "-o", out]) == 2
    assert "nope.pth: --weights: no such file" in _err(capsys)
    assert cli_main(["import", "torchvision:resnet18", "--shapes-only", "-o", out]) == 2
    assert "--shapes-only: not for torchvision" in _err(capsys)
    bad = tmp_path / "x.npy"
    np.save(bad, np.zeros((3, 8, 8), np.float32))
    assert cli_main(["import", "torchvision:resnet18", "--images", str(bad), "-o", out]) == 2
    assert "expected a float N x C x H x W array" in _err(capsys)
    onnx = tmp_path / "m.onnx"
    onnx.write_bytes(b"")
    assert cli_main(["import", str(onnx), "--weights", str(bad), "-o", out]) == 2
    assert "--weights: only for torchvision" in _err(capsys)
    assert not (tmp_path / "r.h5").exists()


def test_missing_torchvision_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "torchvision", None)   # import torchvision -> ImportError
    assert cli_main(["import", "torchvision:resnet18", "-o", str(tmp_path / "r.h5")]) == 2
    err = _err(capsys)
    assert "torchvision: cannot import it" in err and "pip install" in err


@pytest.fixture(scope="module")
def tv():
    torch = pytest.importorskip("torch")
    try:
        import torchvision
    except Exception as exc:  # noqa: BLE001 - a torchvision built for another torch
        pytest.skip(f"torchvision not importable here: {exc}")
    return torch, torchvision


def test_own_checkpoint_round_trip(tv, tmp_path, capsys):
    """A resnet18 checkpoint with a pruned conv: the file holds its convs in forward order,
    the checkpoint's weights (zeros included) and real activations; `run --verify` passes."""
    torch, torchvision = tv
    torch.manual_seed(1)
    model = torchvision.models.resnet18(weights=None, num_classes=10)
    with torch.no_grad():
        w = model.layer1[0].conv1.weight
        w[w.abs() < w.abs().median()] = 0.0            # half of one conv pruned
    ckpt = tmp_path / "r18.pth"
    torch.save({"state_dict": model.state_dict()}, ckpt)
    # num_classes differs from the default 1000: the checkpoint does not fit, one line.
    out = tmp_path / "r18.h5"
    assert cli_main(["import", "torchvision:resnet18", "--weights", str(ckpt),
                     "--input-shape", "1,3,64,64", "-o", str(out)]) == 2
    assert "does not fit torchvision resnet18" in _err(capsys)
    model = torchvision.models.resnet18(weights=None)
    with torch.no_grad():
        w = model.layer1[0].conv1.weight
        w[w.abs() < w.abs().median()] = 0.0
    torch.save(model.state_dict(), ckpt)
    images = tmp_path / "x.npy"
    np.save(images, np.random.default_rng(0).standard_normal((2, 3, 64, 64)).astype(np.float32))
    assert cli_main(["import", "torchvision:resnet18", "--weights", str(ckpt), "--images",
                     str(images), "-o", str(out)]) == 0
    assert "20 conv layer(s) of torchvision resnet18" in capsys.readouterr().out
    _, layers = read_layers(out)
    assert [lt.layer.name for lt in layers][:3] == ["conv1", "layer1.0.conv1", "layer1.0.conv2"]
    got = next(lt for lt in layers if lt.layer.name == "layer1.0.conv1")
    want = model.layer1[0].conv1.weight.detach().numpy()
    np.testing.assert_array_equal(got.weights, want)
    assert 0.45 < np.count_nonzero(got.weights) / got.weights.size < 0.55
    assert layers[0].layer.H == 64 and np.count_nonzero(layers[0].activations) > 0
    assert cli_main(["run", str(out), "--layers", "layer1.0.conv1,layer4.1.conv2",
                     "--verify"]) == 0
