"""Tests of scnn_sim.workload.shapes (built-in YAMLs, loader validation) and the workloads/show
CLI."""

from __future__ import annotations

import argparse
import math
import statistics
from pathlib import Path

import pytest

from scnn_sim.commands import workloads as workloads_cmd
from scnn_sim.errors import ScnnSimError, WorkloadError
from scnn_sim.workload.shapes import (
    Layer,
    Workload,
    builtin_dir,
    builtin_names,
    load_workload,
    validate_layer,
)

# SCNN Fig. 1, as given in the task CSV: (network, layer) -> (act density, weight density).
PUBLISHED = {
    ("alexnet", "conv1"): (1.000, 0.845),
    ("alexnet", "conv2"): (0.936, 0.379),
    ("alexnet", "conv3"): (0.527, 0.346),
    ("alexnet", "conv4"): (0.389, 0.372),
    ("alexnet", "conv5"): (0.429, 0.369),
    ("googlenet", "inception_3a/1x1"): (0.709, 0.379),
    ("googlenet", "inception_3a/3x3_reduce"): (0.709, 0.414),
    ("googlenet", "inception_3a/3x3"): (0.664, 0.452),
    ("googlenet", "inception_3a/5x5_reduce"): (0.709, 0.356),
    ("googlenet", "inception_3a/5x5"): (0.775, 0.340),
    ("googlenet", "inception_3a/pool_proj"): (0.956, 0.461),
    ("googlenet", "inception_5b/1x1"): (0.309, 0.319),
    ("googlenet", "inception_5b/3x3_reduce"): (0.309, 0.329),
    ("googlenet", "inception_5b/3x3"): (0.301, 0.366),
    ("googlenet", "inception_5b/5x5_reduce"): (0.309, 0.330),
    ("googlenet", "inception_5b/5x5"): (0.459, 0.346),
    ("googlenet", "inception_5b/pool_proj"): (0.569, 0.314),
    ("vgg16", "conv1_1"): (1.000, 0.566),
    ("vgg16", "conv1_2"): (0.507, 0.217),
    ("vgg16", "conv2_1"): (0.897, 0.339),
    ("vgg16", "conv2_2"): (0.788, 0.355),
    ("vgg16", "conv3_1"): (0.814, 0.530),
    ("vgg16", "conv3_2"): (0.639, 0.236),
    ("vgg16", "conv3_3"): (0.688, 0.417),
    ("vgg16", "conv4_1"): (0.707, 0.321),
    ("vgg16", "conv4_2"): (0.502, 0.266),
    ("vgg16", "conv4_3"): (0.452, 0.343),
    ("vgg16", "conv5_1"): (0.393, 0.352),
    ("vgg16", "conv5_2"): (0.330, 0.287),
    ("vgg16", "conv5_3"): (0.306, 0.363),
}

BUILTINS = ["alexnet", "densenet121", "googlenet", "resnet50", "vgg16"]

# bvlc_googlenet inception modules: input C, 1x1, 3x3_reduce, 3x3, 5x5_reduce, 5x5, pool_proj, H.
INCEPTION = {
    "3a": (192, 64, 96, 128, 16, 32, 32, 28),
    "3b": (256, 128, 128, 192, 32, 96, 64, 28),
    "4a": (480, 192, 96, 208, 16, 48, 64, 14),
    "4b": (512, 160, 112, 224, 24, 64, 64, 14),
    "4c": (512, 128, 128, 256, 24, 64, 64, 14),
    "4d": (512, 112, 144, 288, 32, 64, 64, 14),
    "4e": (528, 256, 160, 320, 32, 128, 128, 14),
    "5a": (832, 256, 160, 320, 32, 128, 128, 7),
    "5b": (832, 384, 192, 384, 48, 128, 128, 7),
}


@pytest.fixture(scope="module")
def nets() -> dict[str, Workload]:
    return {name: load_workload(name) for name in BUILTINS}


# --------------------------------------------------------------------------- Layer geometry


def test_layer_geometry() -> None:
    layer = Layer("c", C=96, K=256, R=5, S=3, H=27, W=20, stride=2, padding=2, groups=2)
    assert layer.P == (27 + 4 - 5) // 2 + 1 == 14
    assert layer.Q == (20 + 4 - 3) // 2 + 1 == 11
    assert layer.weight_shape == (256, 48, 5, 3)
    assert layer.dense_macs == 256 * 48 * 5 * 3 * 14 * 11
    changed = layer.with_densities(0.3, 0.4, "published")
    assert (changed.weight_density, changed.act_density, changed.density_source) == (
        0.3,
        0.4,
        "published",
    )
    assert changed.C == 96 and layer.weight_density == 1.0  # original untouched


def test_layer_construction_does_not_validate() -> None:
    bad = Layer("x", C=3, K=4, R=3, S=3, H=8, W=8, stride=0)
    with pytest.raises(WorkloadError, match=r"^here:x:stride: must be a positive integer, got 0$"):
        validate_layer(bad, "here:x")


def test_validate_layer_accepts_good_layer() -> None:
    validate_layer(Layer("fc", C=10, K=5, R=1, S=1, H=1, W=1, kind="fc"), "w")
    validate_layer(Layer("c", C=4, K=4, R=3, S=3, H=1, W=1, padding=1, act_density=0), "w")


# --------------------------------------------------------------------------- built-ins


def test_builtin_names_and_dir() -> None:
    assert builtin_dir() == Path(__file__).resolve().parent.parent / "workloads"
    assert builtin_names() == BUILTINS
    assert (builtin_dir() / "README.md").is_file()


def test_every_builtin_loads_with_provenance(nets: dict[str, Workload]) -> None:
    for name, w in nets.items():
        assert w.name == name
        assert Path(w.source) == builtin_dir() / f"{name}.yaml"
        assert "SCNN" in w.provenance and "Fig. 1" in w.provenance
        assert w.layers[0].kind == "conv"
        assert w.layers[-1].kind == "fc"


def test_dense_macs_known_totals(nets: dict[str, Workload]) -> None:
    assert nets["alexnet"].dense_macs == pytest.approx(0.666e9, rel=0.01)
    assert nets["vgg16"].dense_macs == pytest.approx(15.35e9, rel=0.01)
    assert nets["resnet50"].dense_macs == pytest.approx(4.1e9, rel=0.03)
    assert 1.5e9 <= nets["googlenet"].dense_macs <= 1.6e9
    assert 2.8e9 <= nets["densenet121"].dense_macs <= 2.9e9
    # dense_macs counts conv layers only
    alex = nets["alexnet"]
    assert alex.dense_macs == sum(layer.dense_macs for layer in alex.layers) - (
        9216 * 4096 + 4096 * 4096 + 4096 * 1000
    )


def test_layer_counts(nets: dict[str, Workload]) -> None:
    counts = {
        name: (len(w.conv_layers), len(w.layers) - len(w.conv_layers)) for name, w in nets.items()
    }
    assert counts == {
        "alexnet": (5, 3),
        "vgg16": (13, 3),
        "googlenet": (57, 1),
        "resnet50": (53, 1),
        "densenet121": (120, 1),
    }
    downsample = [n.name for n in nets["resnet50"].layers if n.name.endswith("downsample")]
    assert downsample == [f"layer{i}.0.downsample" for i in range(1, 5)]


def _conv_macs(c: int, k: int, r: int, p: int, groups: int = 1) -> int:
    return k * (c // groups) * r * r * p * p


def test_alexnet_macs_independent_formula(nets: dict[str, Workload]) -> None:
    expected = (
        _conv_macs(3, 96, 11, 55)
        + _conv_macs(96, 256, 5, 27, 2)
        + _conv_macs(256, 384, 3, 13)
        + _conv_macs(384, 384, 3, 13, 2)
        + _conv_macs(384, 256, 3, 13, 2)
    )
    assert nets["alexnet"].dense_macs == expected == 665_784_864


def test_googlenet_macs_independent_formula(nets: dict[str, Workload]) -> None:
    expected = _conv_macs(3, 64, 7, 112) + _conv_macs(64, 64, 1, 56) + _conv_macs(64, 192, 3, 56)
    for cin, o1, r3, o3, r5, o5, pp, h in INCEPTION.values():
        expected += h * h * (cin * (o1 + r3 + r5 + pp) + 9 * r3 * o3 + 25 * r5 * o5)
    g = nets["googlenet"]
    assert g.dense_macs == expected
    assert 1.5e9 <= expected <= 1.6e9


def test_googlenet_names_and_shapes(nets: dict[str, Workload]) -> None:
    g = nets["googlenet"]
    names = [layer.name for layer in g.conv_layers]
    expected = ["conv1/7x7_s2", "conv2/3x3_reduce", "conv2/3x3"]
    for m in INCEPTION:
        expected += [
            f"inception_{m}/{b}"
            for b in ("1x1", "3x3_reduce", "3x3", "5x5_reduce", "5x5", "pool_proj")
        ]
    assert names == expected
    assert [layer.name for layer in g.fc_layers] == ["loss3/classifier"]
    previous_out = 192  # conv2/3x3 output
    for m, (cin, o1, r3, o3, r5, o5, pp, h) in INCEPTION.items():
        assert cin == previous_out, m  # module input = concat of the previous module outputs
        b = {
            n: g.layer(f"inception_{m}/{n}")
            for n in ("1x1", "3x3_reduce", "3x3", "5x5_reduce", "5x5", "pool_proj")
        }
        assert b["3x3"].C == b["3x3_reduce"].K and b["5x5"].C == b["5x5_reduce"].K
        assert b["5x5"].padding == 2 and b["3x3"].padding == 1
        for layer in b.values():
            assert (layer.H, layer.W, layer.P, layer.Q) == (h, h, h, h)
        assert (b["1x1"].K, b["3x3_reduce"].K, b["3x3"].K) == (o1, r3, o3)
        assert (b["5x5_reduce"].K, b["5x5"].K, b["pool_proj"].K) == (r5, o5, pp)
        previous_out = o1 + o3 + o5 + pp
    assert g.layer("loss3/classifier").C == previous_out == 1024


def test_resnet50_structure(nets: dict[str, Workload]) -> None:
    r = nets["resnet50"]
    stem = r.layers[0]
    assert (stem.name, stem.C, stem.K, stem.R, stem.stride, stem.padding, stem.P) == (
        "conv1",
        3,
        64,
        7,
        2,
        3,
        112,
    )
    cin, h = 64, 56
    expected = _conv_macs(3, 64, 7, 112)
    for i, (width, blocks) in enumerate([(64, 3), (128, 4), (256, 6), (512, 3)], 1):
        for b in range(blocks):
            stride = 2 if (i > 1 and b == 0) else 1
            c1, c2, c3 = (r.layer(f"layer{i}.{b}.conv{j}") for j in (1, 2, 3))
            assert (c1.C, c1.K, c1.R, c1.stride, c1.H) == (cin, width, 1, 1, h)
            assert (c2.C, c2.K, c2.R, c2.stride, c2.padding, c2.H) == (
                width,
                width,
                3,
                stride,
                1,
                h,
            )
            assert (c3.C, c3.K, c3.R, c3.H) == (width, 4 * width, 1, h // stride)  # v1.5
            assert c3.P == c2.P == h // stride
            expected += c1.dense_macs + c2.dense_macs + c3.dense_macs
            if b == 0:
                ds = r.layer(f"layer{i}.0.downsample")
                assert (ds.C, ds.K, ds.R, ds.stride, ds.H, ds.P) == (
                    cin,
                    4 * width,
                    1,
                    stride,
                    h,
                    h // stride,
                )
                expected += ds.dense_macs
            cin, h = 4 * width, h // stride
    assert h == 7 and r.layer("fc").C == cin == 2048
    assert r.dense_macs == expected
    # independent closed form: per stage, blocks * (bottleneck MACs) + downsample
    closed = 118_013_952  # 7*7*3*64*112*112
    for width, blocks, h_in, stride in [
        (64, 3, 56, 1),
        (128, 4, 56, 2),
        (256, 6, 28, 2),
        (512, 3, 14, 2),
    ]:
        ho = h_in // stride
        first_in = 64 if width == 64 else 2 * width
        closed += h_in * h_in * first_in * width  # block 0 conv1 at the stage input size
        closed += (blocks - 1) * ho * ho * 4 * width * width  # other blocks' conv1
        closed += blocks * ho * ho * 9 * width * width  # conv2
        closed += blocks * ho * ho * width * 4 * width  # conv3
        closed += ho * ho * first_in * 4 * width  # downsample
    assert r.dense_macs == closed


def test_densenet121_structure(nets: dict[str, Workload]) -> None:
    d = nets["densenet121"]
    c, h = 64, 56
    closed = 7 * 7 * 3 * 64 * 112 * 112
    for bi, n in enumerate([6, 12, 24, 16], 1):
        for li in range(1, n + 1):
            c1 = d.layer(f"denseblock{bi}.denselayer{li}.conv1")
            c2 = d.layer(f"denseblock{bi}.denselayer{li}.conv2")
            assert (c1.C, c1.K, c1.R, c1.H) == (c + 32 * (li - 1), 128, 1, h)
            assert (c2.C, c2.K, c2.R, c2.padding, c2.H, c2.P) == (128, 32, 3, 1, h, h)
        # sum over layers of (c + 32 j) * 128 + 9 * 128 * 32, j = 0..n-1
        closed += h * h * (128 * (n * c + 32 * n * (n - 1) // 2) + n * 9 * 128 * 32)
        c += 32 * n
        if bi < 4:
            t = d.layer(f"transition{bi}.conv")
            assert (t.C, t.K, t.R, t.H) == (c, c // 2, 1, h)
            closed += h * h * c * (c // 2)
            c, h = c // 2, h // 2
    assert (c, h) == (1024, 7)
    assert d.layer("classifier").C == 1024
    assert d.dense_macs == closed
    assert 2.8e9 <= closed <= 2.9e9


def _pool(h: int, kernel: int, stride: int, pad: int = 0, ceil: bool = False) -> int:
    num = h + 2 * pad - kernel
    return (-(-num // stride) if ceil else num // stride) + 1


def test_vgg16_chain(nets: dict[str, Workload]) -> None:
    v = nets["vgg16"]
    convs = v.conv_layers
    assert [layer.name for layer in convs] == [
        f"conv{s}_{i}" for s, n in enumerate([2, 2, 3, 3, 3], 1) for i in range(1, n + 1)
    ]
    assert (convs[0].C, convs[0].H) == (3, 224)
    for a, b in zip(convs, convs[1:], strict=False):
        assert (a.R, a.S, a.stride, a.padding) == (3, 3, 1, 1)
        assert b.C == a.K, (a.name, b.name)
        pooled = a.name.split("_")[0] != b.name.split("_")[0]  # new stage: 2x2/2 max pool
        assert b.H == (_pool(a.P, 2, 2) if pooled else a.P), (a.name, b.name)
        assert b.W == (_pool(a.Q, 2, 2) if pooled else a.Q)
    last = convs[-1]
    fc6, fc7, fc8 = v.fc_layers
    assert fc6.C == last.K * _pool(last.P, 2, 2) * _pool(last.Q, 2, 2) == 25088
    assert (fc6.K, fc7.C, fc7.K, fc8.C, fc8.K) == (4096, 4096, 4096, 4096, 1000)


def test_alexnet_chain(nets: dict[str, Workload]) -> None:
    a = nets["alexnet"]
    c1, c2, c3, c4, c5 = a.conv_layers
    assert (c1.C, c1.K, c1.R, c1.H, c1.stride, c1.padding, c1.groups) == (3, 96, 11, 227, 4, 0, 1)
    assert c1.P == 55
    assert c2.H == _pool(c1.P, 3, 2) == 27 and c2.C == c1.K and c2.groups == 2
    assert c3.H == _pool(c2.P, 3, 2) == 13 and c3.C == c2.K and c3.groups == 1
    assert (c4.C, c4.H, c4.groups, c5.C, c5.H, c5.groups) == (c3.K, c3.P, 2, c4.K, c4.P, 2)
    fc6, fc7, fc8 = a.fc_layers
    assert fc6.C == c5.K * _pool(c5.P, 3, 2) ** 2 == 9216
    assert (fc6.K, fc7.C, fc7.K, fc8.C, fc8.K) == (4096, 4096, 4096, 4096, 1000)


def test_published_densities_exact(nets: dict[str, Workload]) -> None:
    for (net, name), (act, weight) in PUBLISHED.items():
        layer = nets[net].layer(name)
        assert layer.act_density == act, (net, name)
        assert layer.weight_density == weight, (net, name)
        assert layer.density_source == "published", (net, name)
    for net, w in nets.items():
        published = {layer.name for layer in w.layers if layer.density_source == "published"}
        assert published == {n for (k, n) in PUBLISHED if k == net}, net


def test_first_layer_act_density_is_one(nets: dict[str, Workload]) -> None:
    for w in nets.values():
        assert w.layers[0].act_density == 1.0


def test_default_density_rule(nets: dict[str, Workload]) -> None:
    for net in ("googlenet", "alexnet", "vgg16"):
        vals = [v for (k, _), v in PUBLISHED.items() if k == net]
        mean_act = statistics.fmean(a for a, _ in vals)
        mean_w = statistics.fmean(w for _, w in vals)
        defaults = [layer for layer in nets[net].layers[1:] if layer.density_source == "default"]
        assert defaults, net
        for layer in defaults:
            assert layer.weight_density == pytest.approx(mean_w, abs=5e-7), (net, layer.name)
            assert layer.act_density == pytest.approx(mean_act, abs=5e-7), (net, layer.name)
    assert len([x for x in PUBLISHED if x[0] == "googlenet"]) == 12
    for net in ("resnet50", "densenet121"):
        w = nets[net]
        assert {layer.density_source for layer in w.layers} == {"default"}
        assert {layer.weight_density for layer in w.layers} == {0.35}
        assert {layer.act_density for layer in w.layers[1:]} == {0.5}
    # Fc layers of AlexNet/VGG are not published, so they use the default
    for net in ("alexnet", "vgg16"):
        assert {layer.density_source for layer in nets[net].fc_layers} == {"default"}
    # The first GoogLeNet layer: act 1.0 (the image), weight the default
    first = nets["googlenet"].layers[0]
    assert first.density_source == "default"
    assert first.weight_density == pytest.approx(0.367167, abs=1e-6)


def test_builtin_reasons_documented() -> None:
    import yaml

    for name in BUILTINS:
        doc = yaml.safe_load((builtin_dir() / f"{name}.yaml").read_text())
        reason = doc["default_densities"]["reason"]
        assert reason.strip(), name
        if name in ("resnet50", "densenet121"):
            assert "assumption" in reason.lower() and "not published" in reason.lower()
    readme = (builtin_dir() / "README.md").read_text()
    assert "Fig. 1" in readme and "1,581,647,872" in readme


def test_load_by_path_and_pathlike(tmp_path: Path) -> None:
    src = builtin_dir() / "alexnet.yaml"
    assert load_workload(src).dense_macs == load_workload(str(src)).dense_macs == 665_784_864
    assert load_workload("AlexNet").name == "alexnet"


# --------------------------------------------------------------------------- bad inputs

GOOD_LAYER = (
    "{name: conv1, kind: conv, C: 4, K: 8, R: 3, S: 3, H: 8, W: 8, "
    "stride: 1, padding: 1, groups: 1}"
)


def _write(tmp_path: Path, text: str, name: str = "w.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def _one_layer(tmp_path: Path, **override: object) -> Path:
    fields = {
        "name": "conv2",
        "kind": "conv",
        "C": 4,
        "K": 8,
        "R": 3,
        "S": 3,
        "H": 8,
        "W": 8,
        "stride": 1,
        "padding": 1,
        "groups": 1,
    }
    fields.update(override)
    body = ", ".join(f"{k}: {v}" for k, v in fields.items() if v is not _DROP)
    return _write(tmp_path, f"name: t\nlayers:\n  - {GOOD_LAYER}\n  - {{{body}}}\n")


_DROP = object()


def test_good_tmp_file_loads(tmp_path: Path) -> None:
    p = _one_layer(tmp_path, weight_density=0.5)
    w = load_workload(p)
    assert [layer.name for layer in w.layers] == ["conv1", "conv2"]
    # no default_densities: dense; one density given -> source default
    assert (w.layers[1].weight_density, w.layers[1].act_density) == (0.5, 1.0)
    assert w.layers[1].density_source == "default"
    assert w.source == str(p)


@pytest.mark.parametrize(
    ("override", "field", "fragment"),
    [
        ({"stride": 0}, "stride", "must be a positive integer, got 0"),
        ({"C": -4}, "C", "must be a positive integer"),
        ({"K": 0}, "K", "must be a positive integer"),
        ({"R": 2.5}, "R", "must be a positive integer, got 2.5"),
        ({"S": "three"}, "S", "must be a positive integer"),
        ({"H": "true"}, "H", "must be a positive integer, got True"),
        ({"W": "null"}, "W", "must be a positive integer, got None"),
        ({"groups": 0}, "groups", "must be a positive integer"),
        ({"padding": -1}, "padding", "must be a non-negative integer, got -1"),
        ({"padding": 1.0}, "padding", "must be a non-negative integer"),
        ({"groups": 3}, "C", "not divisible by groups=3"),
        ({"C": 8, "K": 6, "groups": 4}, "K", "not divisible by groups=4"),
        ({"R": 11, "padding": 0}, "R", "larger than the padded input"),
        ({"S": 11, "padding": 1}, "S", "larger than the padded input"),
        ({"H": 1, "R": 5, "padding": 1}, "R", "output P would be < 1"),
        ({"weight_density": 1.5}, "weight_density", "must be a number in [0, 1] or null, got 1.5"),
        ({"act_density": -0.1}, "act_density", "must be a number in [0, 1]"),
        ({"act_density": ".nan"}, "act_density", "NaN"),
        ({"weight_density": "'high'"}, "weight_density", "must be a number in [0, 1]"),
        ({"weight_density": "true"}, "weight_density", "must be a number"),
        ({"kind": "pool"}, "kind", "must be one of conv, fc, got 'pool'"),
        ({"density_source": "guess"}, "density_source",
         "must be one of default, measured, published"),
        ({"kind": "fc", "R": 1, "S": 1, "H": 1, "W": 2, "padding": 0}, "W", "must be 1 for an fc"),
        ({"kind": "fc", "R": 3, "S": 1, "H": 1, "W": 1}, "R", "must be 1 for an fc"),
        ({"kind": "fc", "R": 1, "S": 1, "H": 1, "W": 1, "padding": 1}, "padding", "must be 0"),
        ({"stride": _DROP, "bogus": 1}, "bogus", "unknown key"),
        ({"K": _DROP}, "K", "missing required key"),
    ],
)
def test_bad_layer_field(tmp_path: Path, override: dict, field: str, fragment: str) -> None:
    p = _one_layer(tmp_path, **override)
    with pytest.raises(WorkloadError) as info:
        load_workload(p)
    msg = str(info.value)
    assert msg.startswith(f"{p}:conv2:{field}: "), msg
    assert fragment in msg
    assert "\n" not in msg


def test_stride_message_exact(tmp_path: Path) -> None:
    p = _one_layer(tmp_path, stride=0)
    with pytest.raises(WorkloadError, match=r":conv2:stride: must be a positive integer, got 0$"):
        load_workload(p)


def test_duplicate_layer_name(tmp_path: Path) -> None:
    p = _write(tmp_path, f"layers:\n  - {GOOD_LAYER}\n  - {GOOD_LAYER}\n")
    with pytest.raises(WorkloadError, match=r"w\.yaml:conv1:name: duplicate layer name"):
        load_workload(p)


def test_unnamed_layer_reported_by_index(tmp_path: Path) -> None:
    p = _write(
        tmp_path,
        f"layers:\n  - {GOOD_LAYER}\n  - {{name: '', C: 1, K: 1, R: 1, S: 1, H: 1, W: 1}}\n",
    )
    with pytest.raises(
        WorkloadError, match=r"w\.yaml:layers\[1\]:name: must be a non-empty string"
    ):
        load_workload(p)
    p = _write(tmp_path, "layers:\n  - [1, 2, 3]\n")
    with pytest.raises(WorkloadError, match=r"w\.yaml:layers\[0\]: must be a mapping \(keys: name"):
        load_workload(p)
    p = _write(tmp_path, "layers:\n  - {C: 1, K: 1, R: 1, S: 1, H: 1, W: 1}\n")
    with pytest.raises(WorkloadError, match=r"w\.yaml:layers\[0\]:name: missing required key"):
        load_workload(p)


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("", r"w\.yaml: empty file"),
        ("- 1\n- 2\n", r"w\.yaml: top level must be a mapping"),
        ("just a string\n", r"w\.yaml: top level must be a mapping"),
        ("name: x\n", r"w\.yaml:layers: missing required key"),
        ("layers: []\n", r"w\.yaml:layers: must be a non-empty list"),
        ("layers: {a: 1}\n", r"w\.yaml:layers: must be a non-empty list"),
        (f"layerz: []\nlayers:\n  - {GOOD_LAYER}\n", r"w\.yaml:layerz: unknown key"),
        (f"name: [1]\nlayers:\n  - {GOOD_LAYER}\n", r"w\.yaml:name: must be a non-empty string"),
        (
            f"default_densities: {{weight: 2, act: 0.5}}\nlayers:\n  - {GOOD_LAYER}\n",
            r"w\.yaml:default_densities:weight: must be a number in \[0, 1\], got 2",
        ),
        (
            f"default_densities: {{weight: 0.3}}\nlayers:\n  - {GOOD_LAYER}\n",
            r"w\.yaml:default_densities:act: missing required key",
        ),
        (
            f"default_densities: {{weight: 0.3, act: 0.5, why: x}}\nlayers:\n  - {GOOD_LAYER}\n",
            r"w\.yaml:default_densities:why: unknown key",
        ),
    ],
)
def test_bad_top_level(tmp_path: Path, text: str, pattern: str) -> None:
    p = _write(tmp_path, text)
    with pytest.raises(WorkloadError, match=pattern):
        load_workload(p)


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("name: t\nlayers:\n  - {name: a, C: [1, 2}\n", 3),
        ("name: t\nlayers: [\n", 3),
        ("name: t\n  bad: indent\n", 2),
        ("name: t\nname: u\nlayers: []\n", 2),  # duplicate key is not silently overwritten
    ],
)
def test_malformed_yaml_one_line(tmp_path: Path, text: str, line: int) -> None:
    p = _write(tmp_path, text)
    with pytest.raises(WorkloadError) as info:
        load_workload(p)
    msg = str(info.value)
    assert msg.startswith(f"{p}:{line}: malformed YAML: "), msg
    assert "\n" not in msg


def test_missing_file_and_unknown_name(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(WorkloadError, match=r"nope\.yaml: no such workload file"):
        load_workload(missing)
    with pytest.raises(WorkloadError, match=r"nope\.yaml: no such workload file"):
        load_workload(str(missing))
    with pytest.raises(WorkloadError) as info:
        load_workload("lenet")
    msg = str(info.value)
    assert "'lenet'" in msg
    for name in BUILTINS:
        assert name in msg
    with pytest.raises(WorkloadError, match="not a file"):
        load_workload(tmp_path)


def test_workload_error_is_scnn_error() -> None:
    assert issubclass(WorkloadError, ScnnSimError)


def test_density_defaults_applied_from_file(tmp_path: Path) -> None:
    p = _write(
        tmp_path,
        "default_densities: {weight: 0.25, act: 0.75, reason: test}\n"
        f"layers:\n  - {GOOD_LAYER}\n"
        "  - {name: fc, kind: fc, C: 512, K: 10, R: 1, S: 1, H: 1, W: 1, "
        "weight_density: 0.1, act_density: 1}\n",
    )
    w = load_workload(p)
    c, f = w.layers
    assert (c.weight_density, c.act_density, c.density_source) == (0.25, 0.75, "default")
    assert (f.weight_density, f.act_density, f.density_source) == (0.1, 1.0, "published")
    assert isinstance(f.act_density, float)
    assert w.dense_macs == c.dense_macs == 8 * 4 * 9 * 64
    assert f.dense_macs == 5120
    assert w.name == "w"  # defaults to the file stem


# --------------------------------------------------------------------------- CLI


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="scnn-sim")
    sub = parser.add_subparsers(dest="command")
    workloads_cmd.register(sub)
    args = parser.parse_args(argv)
    return args.func(args)


def test_cli_workloads(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["workloads"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert "dense conv MACs [GMAC]" in lines[0]
    rows = {line.split()[0]: line.split() for line in lines[2:]}
    assert set(rows) == set(BUILTINS)
    assert rows["alexnet"][1:6] == ["5", "3", "0.666", "5/8", "published"]
    assert rows["googlenet"][1:6] == ["57", "1", "1.582", "12/58", "published"]
    assert rows["vgg16"][1:4] == ["13", "3", "15.347"]
    assert rows["resnet50"][1:5] == ["53", "1", "4.087", "0/54"]
    assert rows["densenet121"][1:5] == ["120", "1", "2.833", "0/121"]


def test_cli_show(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["show", "alexnet"]) == 0
    out = capsys.readouterr().out
    assert "dense MACs [M]" in out and "weight density" in out and "act density" in out
    # The table wraps at 120 columns: join the blocks' conv2 rows (each repeats the name).
    parts = [line.split() for line in out.splitlines() if line.startswith("conv2 ")]
    assert parts[0] + [c for p in parts[1:] for c in p[1:]] == [
        "conv2",
        "conv",
        "96",
        "256",
        "5x5",
        "27x27",
        "1",
        "2",
        "2",
        "27x27",
        "max3x3/2->13x13",
        "223.9",
        "0.379",
        "0.936",
        "published",
    ]
    fc8 = [line.split() for line in out.splitlines() if line.startswith("fc8 ")]
    assert fc8[-1][-1] == "default" and fc8[0][1] == "fc"
    assert "dense conv MACs: 665,784,864" in out


def test_cli_show_path_and_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = _one_layer(tmp_path)
    assert _run(["show", str(p)]) == 0
    out = capsys.readouterr().out
    assert "conv2" in out and str(p) in out
    with pytest.raises(WorkloadError, match="unknown workload"):
        _run(["show", "not-a-network"])


def test_no_nan_or_zero_macs_in_builtins(nets: dict[str, Workload]) -> None:
    for w in nets.values():
        for layer in w.layers:
            assert layer.dense_macs > 0
            assert not math.isnan(layer.weight_density)
