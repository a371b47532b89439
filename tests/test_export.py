"""PyTorch exporter: a tiny pruned CNN exported, read back and compared to a manual forward."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from scnn_sim.errors import FormatError
from scnn_sim.workload.h5io import read_attrs, read_layers, read_stored

torch = pytest.importorskip("torch")
nn = torch.nn
torch_prune = pytest.importorskip("torch.nn.utils.prune")


class TinyCNN(nn.Module):
    """Three convs: 3x3 pad 1; 3x3 stride 2 pad 1 groups 2 (pruned); 1x1."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.block = nn.Sequential(
            nn.ReLU(),
            nn.Conv2d(8, 8, 3, stride=2, padding=1, groups=2, bias=False),
            nn.ReLU(inplace=True),
        )
        self.head = nn.Conv2d(8, 4, 1)

    def forward(self, x):
        return self.head(self.block(self.conv1(x)))


@pytest.fixture()
def model() -> TinyCNN:
    torch.manual_seed(0)
    m = TinyCNN()
    torch_prune.l1_unstructured(m.block[1], "weight", amount=0.6)
    return m


@pytest.fixture()
def inputs():
    torch.manual_seed(1)
    return torch.randn(2, 3, 12, 12)


def _manual_forward(m: TinyCNN, x) -> dict[str, np.ndarray]:
    """Inputs of each conv computed by hand (no hooks)."""
    with torch.no_grad():
        a1 = x
        a2 = torch.relu(m.conv1(a1))
        a3 = torch.relu(m.block[1](a2))
    return {"conv1": a1.numpy(), "block.1": a2.numpy(), "head": a3.numpy()}


def test_export_round_trip(tmp_path: Path, model: TinyCNN, inputs) -> None:
    from scnn_sim.workload.export import from_torch

    path = tmp_path / "tiny.h5"
    model.train()
    model.block[2].eval()  # mixed modes are restored module by module
    modes = [m.training for m in model.modules()]
    names = from_torch(model, inputs, path, granularity="fine", density=0.4)
    assert names == ["conv1", "block.1", "head"]
    assert [m.training for m in model.modules()] == modes
    assert all(not m._forward_hooks for m in model.modules())

    wl, tensors = read_layers(path)
    assert wl.name == "tiny"
    assert [lay.name for lay in wl.layers] == names
    expected = _manual_forward(model.eval(), inputs)
    modules = {"conv1": model.conv1, "block.1": model.block[1], "head": model.head}
    for lt in tensors:
        mod = modules[lt.layer.name]
        np.testing.assert_array_equal(lt.weights, mod.weight.detach().numpy())
        np.testing.assert_array_equal(lt.activations, expected[lt.layer.name][0])
        assert (lt.layer.stride, lt.layer.padding, lt.layer.groups) == (
            mod.stride[0], mod.padding[0], mod.groups)
        assert (lt.layer.K, lt.layer.C // lt.layer.groups, lt.layer.R, lt.layer.S) == tuple(
            mod.weight.shape)
    assert [(t.layer.stride, t.layer.padding, t.layer.groups) for t in tensors] == [
        (1, 1, 1), (2, 1, 2), (1, 0, 1)]

    # the pruned layer: mask stored and applied
    _, stored = read_stored(path, full_batch=True)
    pruned = stored[1]
    mask = model.block[1].weight_mask.detach().numpy().astype(bool)
    np.testing.assert_array_equal(pruned.mask, mask)
    assert not pruned.tensors.weights[~mask].any()
    assert pruned.tensors.layer.weight_density == pytest.approx(mask.mean())
    assert pruned.tensors.layer.weight_density == pytest.approx(0.4, abs=0.01)
    assert stored[0].mask is None and stored[2].mask is None
    assert tensors[0].layer.weight_density == 1.0

    # the second conv's input is the ReLU output of the first: non-negative with zeros
    a2 = tensors[1].activations
    assert (a2 >= 0).all() and (a2 == 0).any()
    assert 0 < tensors[1].layer.act_density < 1

    # the whole batch is stored; sample 1 reads the second input
    for s in stored:
        np.testing.assert_array_equal(s.batch, expected[s.tensors.layer.name])
    _, second = read_layers(path, sample=1)
    np.testing.assert_array_equal(second[2].activations, expected["head"][1])

    attrs = read_attrs(path)
    assert attrs["framework"] == f"torch {torch.__version__}"
    assert attrs["source_model"] == "TinyCNN"
    assert attrs["created_by"] == "scnn_sim.workload.export.from_torch"
    assert attrs["layers"]["block.1"]["granularity"] == "fine"
    assert attrs["layers"]["block.1"]["density"] == 0.4


def test_export_same_padding_and_name(tmp_path: Path) -> None:
    from scnn_sim.workload.export import from_torch

    torch.manual_seed(0)
    m = nn.Sequential(nn.Conv2d(2, 4, 3, padding="same"), nn.Conv2d(4, 4, 3, padding="valid"))
    path = tmp_path / "same.h5"
    assert from_torch(m, torch.randn(1, 2, 6, 6), path, source_model="seq") == ["0", "1"]
    wl, _ = read_layers(path)
    assert [lay.padding for lay in wl.layers] == [1, 0]
    assert read_attrs(path)["source_model"] == "seq"


@pytest.mark.parametrize(
    ("conv", "match"),
    [
        (lambda: nn.Conv2d(3, 4, 3, stride=(1, 2)), "non-square stride"),
        (lambda: nn.Conv2d(3, 4, 3, padding=(1, 0)), "non-square padding"),
        (lambda: nn.Conv2d(3, 4, 3, dilation=2), "dilation"),
        (lambda: nn.Conv2d(3, 4, 3, padding=1, padding_mode="reflect"), "padding_mode"),
        (lambda: nn.Conv2d(3, 4, (3, 2), padding="same"), "padding='same'"),
    ],
)
def test_export_refuses_unsupported_conv(tmp_path: Path, conv, match: str) -> None:
    from scnn_sim.workload.export import from_torch

    m = nn.Sequential(nn.Conv2d(3, 3, 1), conv())
    path = tmp_path / "x.h5"
    with pytest.raises(FormatError, match=rf"x\.h5:1: .*{match}"):
        from_torch(m, torch.randn(1, 3, 8, 8), path)
    assert not path.exists()


def test_export_cleans_up_on_error(tmp_path: Path, model: TinyCNN) -> None:
    from scnn_sim.workload.export import from_torch

    model.train()
    with pytest.raises(RuntimeError):
        from_torch(model, torch.randn(1, 5, 8, 8), tmp_path / "x.h5")  # wrong channel count
    assert model.training and all(m.training for m in model.modules())
    assert all(not m._forward_hooks for m in model.modules())
    assert not (tmp_path / "x.h5").exists()


def test_export_refuses_reused_conv_and_bad_inputs(tmp_path: Path) -> None:
    from scnn_sim.workload.export import from_torch

    class Twice(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.c = nn.Conv2d(2, 2, 3, padding=1)

        def forward(self, x):
            return self.c(self.c(x))

    with pytest.raises(FormatError, match="called 2 times"):
        from_torch(Twice(), torch.randn(1, 2, 5, 5), tmp_path / "x.h5")
    with pytest.raises(FormatError, match=r"\[N, C, H, W\]"):
        from_torch(Twice(), torch.randn(2, 5, 5), tmp_path / "x.h5")
    with pytest.raises(FormatError, match="no torch.nn.Conv2d"):
        from_torch(nn.ReLU(), torch.randn(1, 2, 5, 5), tmp_path / "x.h5")
    assert list(tmp_path.iterdir()) == []


def test_export_then_prune_command(tmp_path: Path, model: TinyCNN, inputs) -> None:
    from scnn_sim.cli import main as cli_main
    from scnn_sim.workload.export import from_torch

    src, dst = tmp_path / "tiny.h5", tmp_path / "tiny_filter.h5"
    from_torch(model, inputs, src)
    assert cli_main(["prune", str(src), "-g", "filter", "-d", "0.5", "-o", str(dst)]) == 0
    attrs, stored = read_stored(dst)
    assert attrs["framework"] == f"torch {torch.__version__}"
    for s in stored:
        kept = s.mask.reshape(s.mask.shape[0], -1)
        assert (kept.all(axis=1) | ~kept.any(axis=1)).all()
        assert s.mask.mean() == pytest.approx(0.5)
