"""Exported-layer HDF5 files: round trip, validation of damaged files, fuzzing, ``prune``."""

from __future__ import annotations

import faulthandler
import math
import os
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scnn_sim import __version__
from scnn_sim.cli import main as cli_main
from scnn_sim.errors import FormatError, OutputError, WorkloadError
from scnn_sim.workload.h5io import (
    FORMAT,
    FORMAT_VERSION,
    escape_name,
    read_attrs,
    read_layers,
    read_stored,
    unescape_name,
    write_layers,
)
from scnn_sim.workload.shapes import Layer, validate_layer
from scnn_sim.workload.tensors import LayerTensors

# --------------------------------------------------------------------------- helpers


def _layers(seed: int = 0, batch: int = 2) -> tuple[list[LayerTensors], list, list]:
    """Three layers (a branchy net: layer 3 does not chain on layer 2), masks and batches."""
    rng = np.random.default_rng(seed)
    shapes = [
        Layer("block/conv1", C=3, K=4, R=3, S=3, H=8, W=8, padding=1),
        Layer("conv2", C=4, K=6, R=3, S=3, H=8, W=8, stride=2, groups=2),
        Layer("down", C=3, K=2, R=1, S=1, H=8, W=8),
    ]
    tensors, masks, batches = [], [], []
    for i, layer in enumerate(shapes):
        w = rng.standard_normal(layer.weight_shape).astype(np.float32)
        m = None
        if i == 0:
            m = np.abs(w) > 0.7
            w = np.where(m, w, 0).astype(np.float32)
        b = np.maximum(rng.standard_normal((batch, layer.C, layer.H, layer.W)), 0)
        b = b.astype(np.float32)
        tensors.append(LayerTensors(layer, w, b[0]))
        masks.append(m)
        batches.append(b)
    return tensors, masks, batches


def _write(path: Path, **kw) -> tuple[list[LayerTensors], list, list]:
    tensors, masks, batches = _layers()
    write_layers(path, tensors, source_model="toy", framework="numpy", masks=masks,
                 batch=batches, **kw)
    return tensors, masks, batches


def _assert_consistent(wl, tensors) -> None:
    """Whatever a successful read returns must be usable by the engine."""
    assert len(wl.layers) == len(tensors) >= 1
    names = [lay.name for lay in wl.layers]
    assert len(set(names)) == len(names)
    for layer, lt in zip(wl.layers, tensors, strict=True):
        assert lt.layer == layer
        validate_layer(layer.with_densities(1.0, 1.0, "default"), "read")
        assert layer.density_source == "measured"
        assert lt.weights.dtype == np.float32 and lt.activations.dtype == np.float32
        assert lt.weights.shape == layer.weight_shape
        assert lt.activations.shape == (layer.C, layer.H, layer.W)
        assert np.isfinite(lt.weights).all() and np.isfinite(lt.activations).all()
        assert layer.P >= 1 and layer.Q >= 1
        assert layer.weight_density == np.count_nonzero(lt.weights) / lt.weights.size
        assert layer.act_density == np.count_nonzero(lt.activations) / lt.activations.size


def _damage(path: Path, fn: Callable[[h5py.File], None]) -> Path:
    with h5py.File(path, "r+") as f:
        fn(f)
    return path


def _replace(f: h5py.File, name: str, data) -> None:
    del f[name]
    f.create_dataset(name, data=data)


# --------------------------------------------------------------------------- round trip


def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "toy.h5"
    tensors, masks, batches = _write(path, granularity="fine", density=0.4)
    wl, got = read_layers(path)
    assert wl.name == "toy"
    assert wl.source == str(path)
    assert "toy" in wl.provenance and "numpy" in wl.provenance
    assert [lay.name for lay in wl.layers] == ["block/conv1", "conv2", "down"]
    _assert_consistent(wl, got)
    for want, have in zip(tensors, got, strict=True):
        np.testing.assert_array_equal(have.weights, want.weights)
        np.testing.assert_array_equal(have.activations, want.activations)
        for f in ("C", "K", "R", "S", "H", "W", "stride", "padding", "groups", "kind"):
            assert getattr(have.layer, f) == getattr(want.layer, f)
    assert got[0].layer.weight_density < 1.0
    # another sample of the batch
    _, got1 = read_layers(path, sample=1)
    for b, have in zip(batches, got1, strict=True):
        np.testing.assert_array_equal(have.activations, b[1])
    # masks, granularity, density, full batch
    attrs, stored = read_stored(path, full_batch=True)
    assert attrs["format"] == FORMAT and attrs["format_version"] == FORMAT_VERSION
    np.testing.assert_array_equal(stored[0].mask, masks[0])
    assert stored[1].mask is None
    assert [s.granularity for s in stored] == ["fine"] * 3
    assert [s.density for s in stored] == [0.4] * 3
    assert [s.order for s in stored] == [0, 1, 2]
    for b, s in zip(batches, stored, strict=True):
        np.testing.assert_array_equal(s.batch, b)


def test_attrs_and_name_escaping(tmp_path: Path) -> None:
    path = tmp_path / "toy.h5"
    _write(path)
    with h5py.File(path, "r") as f:
        assert sorted(f["layers"]) == ["block|conv1", "conv2", "down"]
        for name in f["layers"]:
            for ds in f["layers"][name].values():
                assert ds.compression == "gzip" and ds.shuffle and ds.fletcher32
    attrs = read_attrs(path)
    assert attrs["format"] == FORMAT
    assert attrs["source_model"] == "toy"
    assert attrs["framework"] == "numpy"
    assert attrs["scnn_sim_version"] == __version__
    assert attrs["created_by"] == "scnn_sim.workload.h5io.write_layers"
    assert list(attrs["layers"]) == ["block/conv1", "conv2", "down"]
    conv2 = attrs["layers"]["conv2"]
    assert conv2["order"] == 1 and conv2["stride"] == 2 and conv2["groups"] == 2
    assert conv2["kind"] == "conv" and conv2["granularity"] == "dense"
    assert math.isnan(conv2["density"])
    assert escape_name("a/b/c") == "a|b|c" and unescape_name("a|b|c") == "a/b/c"
    for bad in ("", " ", ".", "a|b"):
        with pytest.raises(FormatError):
            escape_name(bad)


def test_order_attribute_not_group_name_decides(tmp_path: Path) -> None:
    path = tmp_path / "toy.h5"
    _write(path)

    def reorder(f: h5py.File) -> None:
        f["layers/block|conv1"].attrs["order"] = 7
        f["layers/down"].attrs["order"] = -3

    _damage(path, reorder)
    wl, _ = read_layers(path)
    assert [lay.name for lay in wl.layers] == ["down", "conv2", "block/conv1"]


def test_three_d_activations_and_foreign_string_attrs(tmp_path: Path) -> None:
    """[C, H, W] activations; variable-length string attributes (as h5py writes by default)."""
    path = tmp_path / "plain.h5"
    tensors, _, _ = _layers()
    write_layers(path, tensors, source_model="toy")

    def vlen(f: h5py.File) -> None:
        f.attrs["format"] = FORMAT
        f.attrs["source_model"] = "other"
        f["layers/conv2"].attrs["kind"] = "conv"

    _damage(path, vlen)
    wl, got = read_layers(path)
    _assert_consistent(wl, got)
    assert read_attrs(path)["source_model"] == "other"
    with pytest.raises(FormatError, match="sample 1 out of range"):
        read_layers(path, sample=1)


def test_write_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "toy.h5"
    _write(path)
    before = path.read_bytes()

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr("scnn_sim.outputs.os.replace", boom)
    with pytest.raises(OutputError, match="cannot write"):  # the output gate's error
        _write(path, granularity="fine")
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["toy.h5"]


def test_written_file_mode_follows_umask(tmp_path: Path) -> None:
    path = tmp_path / "toy.h5"
    old = os.umask(0o022)
    try:
        _write(path)
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda t, m, b: (t[:1] + [LayerTensors(t[1].layer, t[1].weights[:, :1],
                                                t[1].activations)], None, None),
         "weights shape"),
        (lambda t, m, b: ([LayerTensors(t[0].layer, t[0].weights, t[0].activations[:2])],
                          None, None), "activations shape"),
        (lambda t, m, b: ([LayerTensors(t[0].layer, t[0].weights * np.nan,
                                        t[0].activations)], None, None), "NaN"),
        (lambda t, m, b: ([LayerTensors(t[0].layer, t[0].weights.astype(np.int32),
                                        t[0].activations)], None, None), "floating"),
        (lambda t, m, b: (t[:1], [m[0].astype(np.uint8)], None), "mask must be bool"),
        (lambda t, m, b: (t[:1], [~m[0]], None), "non-zero where the mask is False"),
        (lambda t, m, b: (t[:1], None, [b[0][:, :1]]), "batch activations shape"),
        (lambda t, m, b: (t[:1] + t[:1], None, None), "duplicate layer name"),
        (lambda t, m, b: ([], None, None), "no layers"),
        (lambda t, m, b: ([LayerTensors(Layer("a|b", 3, 4, 3, 3, 8, 8, padding=1),
                                        t[0].weights, t[0].activations)], None, None),
         "reserved"),
        (lambda t, m, b: ([LayerTensors(Layer("big", 3, 4, 9, 9, 4, 4), np.zeros(
            (4, 3, 9, 9), np.float32), np.zeros((3, 4, 4), np.float32))], None, None),
         "larger than the padded input"),
    ],
)
def test_writer_refuses(tmp_path: Path, change, match: str) -> None:
    tensors, masks, batches = _layers()
    path = tmp_path / "bad.h5"
    # Tensors that do not fit their layer are refused when the LayerTensors is built
    # (WorkloadError); the rest by the writer (FormatError).
    with pytest.raises((FormatError, WorkloadError), match=match):
        layers, m, b = change(tensors, masks, batches)
        write_layers(path, layers, source_model="x", masks=m, batch=b)
    assert not path.exists()
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- damaged files


def _del_attr(obj: str, key: str) -> Callable[[h5py.File], None]:
    def fn(f: h5py.File) -> None:
        del f[obj].attrs[key]
    return fn


def _set_attr(obj: str, key: str, value) -> Callable[[h5py.File], None]:
    def fn(f: h5py.File) -> None:
        f[obj].attrs[key] = value
    return fn


def _set_data(name: str, make: Callable[[np.ndarray], np.ndarray]) -> Callable[[h5py.File], None]:
    def fn(f: h5py.File) -> None:
        data = f[name][()]
        _replace(f, name, make(data))
    return fn


def _nan_at(a: np.ndarray, value: float = np.nan) -> np.ndarray:
    a = a.copy()
    a.flat[a.size // 2] = value
    return a


G1, G2 = "layers/block|conv1", "layers/conv2"

DAMAGES = {
    "missing format": (_del_attr("/", "format"), "no 'format' attribute"),
    "wrong format": (_set_attr("/", "format", "other"), "format is 'other'"),
    "missing version": (_del_attr("/", "format_version"), "format_version"),
    "future version": (_set_attr("/", "format_version", 2), "format_version 2"),
    "text version": (_set_attr("/", "format_version", "1"), "format_version must be"),
    "no layers group": (lambda f: f.__delitem__("layers"), "no layers"),
    "empty layers": (lambda f: [f["layers"].__delitem__(k) for k in list(f["layers"])],
                     "no layers"),
    "layers not a group": (lambda f: (f.__delitem__("layers"),
                                      f.create_dataset("layers", data=1)), "not a group"),
    "missing weights": (lambda f: f[G2].__delitem__("weights"), "missing dataset 'weights'"),
    "missing activations": (lambda f: f[G2].__delitem__("activations"),
                            "missing dataset 'activations'"),
    "weights rank": (_set_data(f"{G2}/weights", lambda a: a[0]), "weights must have rank 4"),
    "activations rank": (_set_data(f"{G2}/activations", lambda a: a[0, 0]),
                         "activations must have rank 3 or 4"),
    "int weights": (_set_data(f"{G2}/weights", lambda a: a.astype(np.int32)),
                    "weights must be floating point"),
    "string activations": (_set_data(f"{G2}/activations", lambda a: np.full(a.shape, b"x")),
                           "activations must be floating point"),
    "nan weights": (_set_data(f"{G2}/weights", _nan_at), "weights contain NaN or Inf"),
    "inf activations": (_set_data(f"{G2}/activations", lambda a: _nan_at(a[:1], np.inf)),
                        "activations contain NaN or Inf"),
    "channel mismatch": (_set_data(f"{G2}/weights", lambda a: a[:, :1]), "expects 2 input"),
    "groups mismatch": (_set_attr(G2, "groups", 1), "expects 2 input channels"),
    "K not divisible": (lambda f: (f[G2].attrs.__setitem__("groups", 4),
                                   _replace(f, f"{G2}/weights",
                                            np.ones((6, 1, 3, 3), np.float32))),
                        "not divisible by groups=4"),
    "missing stride": (_del_attr(G2, "stride"), "missing attribute 'stride'"),
    "zero stride": (_set_attr(G2, "stride", 0), "'stride' must be a positive integer"),
    "float stride": (_set_attr(G2, "stride", 2.0), "'stride' must be an integer"),
    "array stride": (_set_attr(G2, "stride", [2, 2]), "'stride' must be an integer"),
    "negative padding": (_set_attr(G2, "padding", -1), "'padding' must be a >= 0 integer"),
    "missing padding": (_del_attr(G2, "padding"), "missing attribute 'padding'"),
    "zero groups": (_set_attr(G2, "groups", 0), "'groups' must be a positive integer"),
    "missing groups": (_del_attr(G2, "groups"), "missing attribute 'groups'"),
    "missing order": (_del_attr(G2, "order"), "missing attribute 'order'"),
    "duplicate order": (_set_attr(G2, "order", 0), "duplicate order 0"),
    "kind fc": (_set_attr(G2, "kind", "fc"), "kind must be 'conv'"),
    "density out of range": (_set_attr(G2, "density", 1.5), "'density' must be in"),
    "no output": (lambda f: _replace(f, f"{G2}/weights", np.ones((6, 2, 9, 9), np.float32)),
                  "larger than the padded input"),
    "mask shape": (_set_data(f"{G1}/mask", lambda a: a[:2]), "mask shape"),
    "mask dtype": (_set_data(f"{G1}/mask", lambda a: a.astype(np.uint8)), "mask must be bool"),
    "mask inconsistent": (_set_data(f"{G1}/mask", lambda a: ~a),
                          "non-zero where the mask is False"),
    "layer is a dataset": (lambda f: f["layers"].create_dataset("x", data=1), "not a group"),
}


@pytest.mark.parametrize("case", list(DAMAGES))
def test_reader_refuses_damaged_file(tmp_path: Path, case: str) -> None:
    path = tmp_path / "toy.h5"
    _write(path)
    fn, match = DAMAGES[case]
    _damage(path, fn)
    with pytest.raises(FormatError, match=match) as info:
        read_layers(path)
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith(str(path))


def test_only_the_read_sample_is_checked(tmp_path: Path) -> None:
    path = tmp_path / "toy.h5"
    _write(path)

    def inf_in_sample_1(f: h5py.File) -> None:
        a = f[f"{G2}/activations"][()]
        a[1, 0, 0, 0] = np.inf
        _replace(f, f"{G2}/activations", a)

    _damage(path, inf_in_sample_1)
    read_layers(path, sample=0)
    with pytest.raises(FormatError, match="conv2: activations contain NaN or Inf"):
        read_layers(path, sample=1)
    with pytest.raises(FormatError, match="conv2: activations contain NaN or Inf"):
        read_stored(path, full_batch=True)


def test_layer_errors_name_the_layer(tmp_path: Path) -> None:
    path = tmp_path / "toy.h5"
    _write(path)
    _damage(path, _set_attr(G2, "stride", 0))
    with pytest.raises(FormatError, match=rf"^{path}:conv2:"):
        read_layers(path)


def test_consecutive_layers_need_not_chain(tmp_path: Path) -> None:
    path = tmp_path / "toy.h5"
    tensors, _, _ = _write(path)
    assert tensors[2].layer.C != tensors[1].layer.K
    wl, got = read_layers(path)
    _assert_consistent(wl, got)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda p: p.mkdir(), "not a file"),
        (lambda p: None, "no such file"),
        (lambda p: p.write_text("hello"), "not a readable HDF5 file"),
        (lambda p: p.write_bytes(b""), "not a readable HDF5 file"),
    ],
)
def test_not_an_h5_file(tmp_path: Path, make, match: str) -> None:
    path = tmp_path / "x.h5"
    make(path)
    for reader in (read_layers, read_attrs):
        with pytest.raises(FormatError, match=match):
            reader(path)


def test_truncated_file(tmp_path: Path) -> None:
    path = tmp_path / "toy.h5"
    _write(path)
    data = path.read_bytes()
    for cut in (8, len(data) // 3, len(data) // 2, len(data) - 1):
        path.write_bytes(data[:cut])
        with pytest.raises(FormatError, match="not a readable HDF5 file|unreadable"):
            read_layers(path)


def test_bad_sample_argument(tmp_path: Path) -> None:
    path = tmp_path / "toy.h5"
    _write(path)
    for bad in (-1, 2, 1.0, True):
        with pytest.raises(FormatError, match="sample"):
            read_layers(path, sample=bad)


# --------------------------------------------------------------------------- fuzzing


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes, list, list]:
    """A valid file's bytes, the list of its datasets and of its (object, attribute) pairs."""
    d = tmp_path_factory.mktemp("fuzz")
    path = d / "base.h5"
    _write(path)
    datasets, attrs = [], [("/", k) for k in ("format", "format_version", "source_model")]
    with h5py.File(path, "r") as f:
        for g in f["layers"]:
            attrs += [(f"layers/{g}", k) for k in f["layers"][g].attrs]
            datasets += [f"layers/{g}/{k}" for k in f["layers"][g]]
    return d, path.read_bytes(), datasets, attrs


def _check_read(path: Path) -> None:
    """A damaged file must read consistently or raise FormatError: nothing else."""
    try:
        wl, tensors = read_layers(path)
    except FormatError as exc:
        assert "\n" not in str(exc)
    else:
        _assert_consistent(wl, tensors)
    for fn in (lambda: read_attrs(path), lambda: read_stored(path, full_batch=True)):
        try:
            fn()
        except FormatError as exc:
            assert "\n" not in str(exc)


_ATTR_VALUES = st.one_of(
    st.integers(-3, 40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(st.characters(blacklist_characters="\x00"), max_size=6),  # h5py: no NUL
    st.booleans(),
    st.lists(st.integers(0, 3), min_size=1, max_size=3),
)
_DTYPES = st.sampled_from(
    [np.int8, np.int32, np.uint8, np.float16, np.float64, np.complex64, np.bool_, "S3"]
)
_SHAPES = st.lists(st.integers(1, 9), min_size=0, max_size=5).map(tuple)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fuzz_damaged_files(pristine, data) -> None:
    d, base, datasets, attrs = pristine
    path = d / "damaged.h5"
    path.write_bytes(base)
    kind = data.draw(st.sampled_from(
        ["truncate", "flip", "delete", "dtype", "shape", "nonfinite", "attr"]), label="kind")
    if kind == "truncate":
        cut = data.draw(st.integers(0, len(base) - 1), label="cut")
        path.write_bytes(base[:cut])
    elif kind == "flip":
        flips = data.draw(st.lists(st.tuples(st.integers(0, len(base) - 1),
                                             st.integers(1, 255)), min_size=1, max_size=8),
                          label="flips")
        buf = bytearray(base)
        for off, x in flips:
            buf[off] ^= x
        path.write_bytes(bytes(buf))
    elif kind == "delete":
        items = [("ds", n) for n in datasets] + [("attr", a) for a in attrs]
        items += [("group", "layers/conv2"), ("group", "layers")]
        what, target = data.draw(st.sampled_from(items), label="delete")
        with h5py.File(path, "r+") as f:
            if what == "attr":
                del f[target[0]].attrs[target[1]]
            else:
                del f[target]
    elif kind in ("dtype", "shape", "nonfinite"):
        name = data.draw(st.sampled_from(datasets), label="dataset")
        with h5py.File(path, "r+") as f:
            arr = f[name][()]
            if kind == "dtype":
                new = arr.astype(data.draw(_DTYPES, label="dtype"))
            elif kind == "shape":
                shape = data.draw(_SHAPES, label="shape")
                rng = np.random.default_rng(data.draw(st.integers(0, 99), label="seed"))
                new = rng.standard_normal(shape).astype(arr.dtype)
            else:
                new = arr.astype(np.float32)
                idx = data.draw(st.integers(0, new.size - 1), label="index")
                new.flat[idx] = data.draw(st.sampled_from([np.nan, np.inf, -np.inf]))
            _replace(f, name, new)
    else:
        obj, key = data.draw(st.sampled_from(attrs), label="attr")
        value = data.draw(_ATTR_VALUES, label="value")
        with h5py.File(path, "r+") as f:
            f[obj].attrs[key] = value
    faulthandler.dump_traceback_later(120, exit=True)  # a hang must not stall the suite
    try:
        _check_read(path)
    finally:
        faulthandler.cancel_dump_traceback_later()


def test_byte_flip_sweep(tmp_path: Path) -> None:
    """Flip every 29th byte of a valid file: detected (checksums) or harmless, never a crash."""
    path = tmp_path / "toy.h5"
    _write(path)
    base = path.read_bytes()
    want, _ = read_layers(path)
    harmless = 0
    faulthandler.dump_traceback_later(300, exit=True)
    try:
        for off in range(0, len(base), 29):
            buf = bytearray(base)
            buf[off] ^= 0xFF
            path.write_bytes(bytes(buf))
            try:
                wl, tensors = read_layers(path)
            except FormatError:
                continue
            harmless += 1
            assert wl == want  # undetected flips only ever hit unused bytes
            _assert_consistent(wl, tensors)
    finally:
        faulthandler.cancel_dump_traceback_later()
    assert harmless < len(base) // 29


# --------------------------------------------------------------------------- scnn-sim prune


def test_prune_command(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    src, dst = tmp_path / "toy.h5", tmp_path / "out" / "pruned.h5"
    tensors, _, batches = _write(src)
    rc = cli_main(["prune", str(src), "--granularity", "kernel", "--density", "0.5",
                   "-o", str(dst), "--norm", "l2"])
    assert rc == 0
    out = capsys.readouterr().out
    for name in ("block/conv1", "conv2", "down", "total", "kept", "density"):
        assert name in out
    attrs, stored = read_stored(dst, full_batch=True)
    assert attrs["created_by"] == "scnn-sim prune"
    assert attrs["input_file"] == str(src.resolve())
    assert len(attrs["input_sha256"]) == 64
    assert attrs["input_created_by"] == "scnn_sim.workload.h5io.write_layers"
    assert attrs["prune_norm"] == "l2" and attrs["prune_pointwise_group"] == 1
    assert attrs["scnn_sim_version"] == __version__
    assert attrs["source_model"] == "toy"
    for lt, b, s in zip(tensors, batches, stored, strict=True):
        assert s.granularity == "kernel" and s.density == 0.5
        assert s.mask is not None and s.mask.shape == lt.weights.shape
        # kernel granularity: every (k, c) kernel is kept or dropped whole
        per_kernel = s.mask.reshape(*s.mask.shape[:2], -1)
        assert (per_kernel.all(axis=2) | ~per_kernel.any(axis=2)).all()
        np.testing.assert_array_equal(s.tensors.weights, np.where(s.mask, lt.weights, 0))
        np.testing.assert_array_equal(s.batch, b)
        assert abs(s.mask.mean() - 0.5) <= 0.5 * lt.weights[0, 0].size / lt.weights.size + 1e-9


def test_prune_nm_needs_no_density(tmp_path: Path) -> None:
    src, dst = tmp_path / "toy.h5", tmp_path / "nm.h5"
    _write(src)
    assert cli_main(["prune", str(src), "-g", "nm:1:2", "-o", str(dst)]) == 0
    assert {s.density for s in read_stored(dst)[1]} == {0.5}


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (["-g", "fine", "-d", "0.5", "-o", "{src}"], "output is the input"),
        (["-g", "fine", "-d", "0.5", "-o", "{dir}/./toy.h5"], "output is the input"),
        (["-g", "diagonal", "-d", "0.5", "-o", "{dir}/o.h5"], "granularity"),
        (["-g", "fine", "-o", "{dir}/o.h5"], "--density is required"),
        (["-g", "block:9x9x9x9", "-d", "0.5", "-o", "{dir}/o.h5"], "toy.h5:"),
    ],
)
def test_prune_refuses(tmp_path: Path, capsys: pytest.CaptureFixture, argv, match) -> None:
    src = tmp_path / "toy.h5"
    _write(src)
    before = src.read_bytes()
    args = [a.format(src=src, dir=tmp_path) for a in argv]
    assert cli_main(["prune", str(src), *args]) == 2
    err = capsys.readouterr().err
    assert match in err and err.count("\n") == 1
    assert src.read_bytes() == before
    assert not (tmp_path / "o.h5").exists()


def test_prune_refuses_damaged_input(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    src = tmp_path / "toy.h5"
    _write(src)
    _damage(src, _set_attr(G2, "groups", 0))
    assert cli_main(["prune", str(src), "-g", "fine", "-d", "0.5", "-o",
                     str(tmp_path / "o.h5")]) == 2
    assert "conv2" in capsys.readouterr().err


def test_prune_bad_density_is_a_usage_error(tmp_path: Path) -> None:
    src = tmp_path / "toy.h5"
    _write(src)
    with pytest.raises(SystemExit):
        cli_main(["prune", str(src), "-g", "fine", "-d", "1.5", "-o", str(tmp_path / "o.h5")])
