"""The Python API contract (issue 20): every public loader and ``simulate()`` raise only
:class:`~scnn_sim.errors.ScnnSimError` (or a subclass) for bad input.

Hypothesis drives each entry point with wrong inputs: wrong types, random file contents behind
the right suffix, tensors of the wrong shape, dtype, size or with NaN/inf, and wrong options.
Any other exception (TypeError, ValueError, KeyError, RecursionError, MemoryError ...) fails.
Examples are few and small (no big allocation) so the file stays fast.
"""

from __future__ import annotations

import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scnn_sim.errors import ScnnSimError

SETTINGS = settings(max_examples=25, deadline=None, derandomize=True,
                    suppress_health_check=list(HealthCheck))

#: Values of the wrong kind for any argument.
WRONG = st.one_of(
    st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True),
    st.just(float("inf")), st.just(float("nan")), st.text(max_size=12),
    st.binary(max_size=12), st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=3),
    st.just(object()), st.just(np.zeros(3)), st.just(Path("/nonexistent/x.yaml")),
    st.just(Path("/")),
)


def _loaders():
    from scnn_sim.inputs.arch import arch_from_dict, load_arch
    from scnn_sim.plot import load_results
    from scnn_sim.pricing.area import load_area_table
    from scnn_sim.pricing.energy import load_energy_table
    from scnn_sim.results.compare import load_run
    from scnn_sim.results.h5table import read_table
    from scnn_sim.sweep import load_spec, load_sweep_results, spec_from_dict
    from scnn_sim.workload.h5io import read_attrs, read_layers
    from scnn_sim.workload.importers.scalesim import read_scalesim_csv
    from scnn_sim.workload.npzio import read_npz_layer
    from scnn_sim.workload.shapes import load_workload

    return {
        "load_arch": (load_arch, ".yaml"), "arch_from_dict": (arch_from_dict, None),
        "load_energy_table": (load_energy_table, ".yaml"),
        "load_area_table": (load_area_table, ".yaml"),
        "load_workload": (load_workload, ".yaml"), "load_spec": (load_spec, ".yaml"),
        "spec_from_dict": (spec_from_dict, None), "read_npz_layer": (read_npz_layer, ".npz"),
        "read_layers": (read_layers, ".h5"), "read_attrs": (read_attrs, ".h5"),
        "read_table": (read_table, ".h5"), "load_run": (load_run, ".json"),
        "load_results": (load_results, ".json"),
        "load_sweep_results": (load_sweep_results, ".sqlite"),
        "read_scalesim_csv": (read_scalesim_csv, ".csv"),
        **_onnx_loaders(),
    }


def _onnx_loaders() -> dict:
    try:
        import onnx  # noqa: F401
    except ImportError:
        return {}
    from scnn_sim.workload.importers.onnx_model import read_onnx

    return {"read_onnx": (read_onnx, ".onnx")}


LOADERS = sorted(_loaders())


def _call(fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except ScnnSimError as exc:
        assert str(exc), "an error without a message"
    # anything else propagates and fails the test


@pytest.mark.parametrize("name", LOADERS)
@SETTINGS
@given(value=WRONG)
def test_loaders_raise_only_scnn_sim_errors_for_wrong_values(name, value):
    fn, _ = _loaders()[name]
    _call(fn, value)


#: File contents behind the right suffix: random bytes, and near misses of each format.
CONTENT = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=200).map(str.encode),
    st.sampled_from([b"", b"\x00" * 64, b"SQLite format 3\x00" + b"\x00" * 200,
                     b"\x89HDF\r\n\x1a\n" + b"\x00" * 200, b"PK\x03\x04" + b"\x00" * 100,
                     b"\x93NUMPY\x01\x00" + b"\x00" * 50, b"[" * 5000, b"{" * 5000,
                     b"a: &a [*a]", b"layers: .inf", b"- 1e400", b"name: x\nlayers: []",
                     b'{"layers": [], "totals": {}, "workload": 1}',
                     b"Layer name,IFMAP Height\n" + b"x" * 200_000]),
)


@pytest.mark.parametrize("name", [n for n in LOADERS if _loaders()[n][1]])
@SETTINGS
@given(data=CONTENT)
def test_loaders_raise_only_scnn_sim_errors_for_bad_files(name, data):
    fn, suffix = _loaders()[name]
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / f"bad{suffix}"
        p.write_bytes(data)
        _call(fn, p)


def _npz_bytes(arrays: dict) -> bytes:
    import io

    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _array(shape: tuple, dtype: str, fill: float) -> np.ndarray:
    if dtype == "O":
        return np.array([None] * int(np.prod(shape)), dtype=object)
    with np.errstate(invalid="ignore"):   # NaN/inf cast to integers: any value will do
        return np.full(shape, fill, dtype=dtype)


ARRAYS = st.builds(
    _array,
    st.lists(st.integers(0, 4), min_size=0, max_size=5).map(tuple),
    st.sampled_from(["f4", "f8", "i8", "u1", "?", "c8", "U2", "O"]),
    st.sampled_from([0, 1, -1, float("nan"), float("inf")]),
)


@SETTINGS
@given(w=ARRAYS, a=ARRAYS, dims=st.dictionaries(
    st.sampled_from(["C", "K", "R", "S", "H", "W", "stride", "padding", "groups"]),
    st.one_of(st.integers(-3, 5), st.floats(allow_nan=True), st.just(10**12)), max_size=9))
def test_npz_layers_with_wrong_arrays_raise_only_scnn_sim_errors(w, a, dims):
    from scnn_sim.workload.npzio import read_npz_layer

    try:
        data = _npz_bytes({"weights": w, "activations": a, **dims})
    except (TypeError, ValueError):
        return
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "l.npz"
        p.write_bytes(data)
        _call(read_npz_layer, p)


@pytest.fixture(scope="module")
def tiny_path(tmp_path_factory, tiny_workload):
    p = tmp_path_factory.mktemp("api") / "tiny.yaml"
    p.write_text(tiny_workload)
    return p


SIMULATE_KWARGS = ["workload", "arch", "energy", "granularity", "density", "seed", "verify",
                   "clustered", "pointwise_group", "layers", "weight_format", "area"]


@pytest.mark.parametrize("kwarg", SIMULATE_KWARGS)
@settings(max_examples=12, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(value=WRONG)
def test_simulate_raises_only_scnn_sim_errors_for_wrong_options(kwarg, value, tiny_path):
    from scnn_sim.simulation import simulate

    kwargs = {"workload": tiny_path, "layers": ["c1"]}
    kwargs[kwarg] = value
    _call(simulate, **kwargs)


@settings(max_examples=15, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(w=ARRAYS, a=ARRAYS)
def test_simulate_raises_only_scnn_sim_errors_for_wrong_tensors(w, a):
    from scnn_sim.simulation import simulate
    from scnn_sim.workload.shapes import Layer
    from scnn_sim.workload.tensors import LayerTensors

    layer = Layer(name="l", C=2, K=3, R=3, S=3, H=4, W=4, stride=1, padding=1, groups=1)
    try:
        lt = LayerTensors(layer=layer, weights=w, activations=a)
    except ScnnSimError:
        return
    _call(simulate, [lt])


def test_a_zip_bomb_npz_is_not_read(tmp_path):
    """A .npz whose member declares a huge array is refused from the header."""
    from scnn_sim.workload.npzio import read_npz_layer

    p = tmp_path / "bomb.npz"
    header = b"\x93NUMPY\x01\x00" + b"v\x00" + (
        b"{'descr': '<f4', 'fortran_order': False, 'shape': (100000, 100000), }"
        .ljust(117) + b"\n")
    with zipfile.ZipFile(p, "w") as zf:
        zf.writestr("weights.npy", header)
    with pytest.raises(ScnnSimError):
        read_npz_layer(p)
