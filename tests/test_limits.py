"""Bad inputs are refused with one line before any compiled code runs or memory is taken."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scnn_sim import simulate
from scnn_sim.errors import ConfigError, ScnnSimError, SparsityError, WorkloadError
from scnn_sim.inputs.arch import load_arch
from scnn_sim.inputs.limits import (
    ENV_MAX_MEMORY,
    GB,
    ResourceLimitError,
    estimate_layer_bytes,
    memory_limit_bytes,
)
from scnn_sim.workload.shapes import Layer
from scnn_sim.workload.tensors import LayerTensors, validate_tensors


def _good(layer: Layer, seed: int = 0) -> LayerTensors:
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(layer.weight_shape).astype(np.float32)
    w[rng.random(w.shape) < 0.5] = 0
    a = np.maximum(rng.standard_normal((layer.C, layer.H, layer.W)), 0).astype(np.float32)
    return LayerTensors(layer, w, a)


def _one_line(exc: BaseException) -> str:
    msg = str(exc)
    assert msg and "\n" not in msg
    return msg


# ---------------------------------------------------------------------------------------------
# Tensors against their layer


MUTATIONS = ("act_channels", "act_height", "act_width", "act_rank", "w_kernel_r", "w_kernel_s",
             "w_filters", "w_channels", "w_rank", "int_dtype", "complex_dtype", "nan", "inf",
             "too_big_for_f32", "list_not_array")


def _mutate(lt: LayerTensors, kind: str, delta: int) -> tuple[np.ndarray, np.ndarray]:
    w, a = lt.weights, lt.activations
    grow = lambda arr, axis: np.concatenate(  # noqa: E731
        [arr, np.zeros_like(np.take(arr, [0] * delta, axis=axis))], axis=axis)
    if kind == "act_channels":
        a = grow(a, 0)
    elif kind == "act_height":
        a = grow(a, 1)
    elif kind == "act_width":
        a = grow(a, 2)
    elif kind == "act_rank":
        a = a[None]
    elif kind == "w_kernel_r":
        w = grow(w, 2)
    elif kind == "w_kernel_s":
        w = grow(w, 3)
    elif kind == "w_filters":
        w = grow(w, 0)
    elif kind == "w_channels":
        w = grow(w, 1)
    elif kind == "w_rank":
        w = w[..., 0]
    elif kind == "int_dtype":
        a = a.astype(np.int32)
    elif kind == "complex_dtype":
        w = w.astype(np.complex64)
    elif kind == "nan":
        w = w.copy()
        w.flat[delta % w.size] = np.nan
    elif kind == "inf":
        a = a.copy()
        a.flat[delta % a.size] = np.inf
    elif kind == "too_big_for_f32":
        w = w.astype(np.float64)
        w.flat[delta % w.size] = 1e300
    elif kind == "list_not_array":
        a = a.tolist()
    return w, a


layers = st.builds(
    lambda c, k, r, h, w, stride, groups, pad: Layer(
        "L", C=c * groups, K=k * groups, R=r, S=r, H=h, W=w, stride=stride,
        padding=min(pad, r - 1), groups=groups),
    st.integers(1, 4), st.integers(1, 4), st.sampled_from([1, 3]), st.integers(3, 9),
    st.integers(3, 9), st.sampled_from([1, 2]), st.sampled_from([1, 2]), st.integers(0, 1))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(layer=layers, kind=st.sampled_from(MUTATIONS), delta=st.integers(1, 3),
       bypass=st.booleans())
def test_wrong_tensors_raise_scnn_sim_error(layer, kind, delta, bypass):
    good = _good(layer)
    w, a = _mutate(good, kind, delta)
    with pytest.raises(ScnnSimError) as exc:
        if bypass:  # past LayerTensors' own check: simulate checks again
            lt = _good(layer)
            object.__setattr__(lt, "weights", w)
            object.__setattr__(lt, "activations", a)
        else:
            lt = LayerTensors(layer, w, a)
        simulate([lt], arch=load_arch(None))
    assert _one_line(exc.value).startswith(("L", "tensors:L"))


def test_validate_tensors_is_public_and_names_the_place():
    lt = _good(Layer("conv9", C=4, K=4, R=3, S=3, H=6, W=6, padding=1))
    validate_tensors(lt, "x.npz:conv9")  # a good one passes
    object.__setattr__(lt, "activations", np.zeros((5, 6, 6), np.float32))
    with pytest.raises(WorkloadError, match=r"^x\.npz:conv9: activations shape \(5, 6, 6\)"):
        validate_tensors(lt, "x.npz:conv9")


def test_layer_tensors_store_contiguous_float32():
    layer = Layer("c", C=2, K=2, R=1, S=1, H=4, W=4)
    w = np.ones((2, 2, 1, 1), np.float64)
    a = np.asfortranarray(np.ones((2, 4, 4), np.float32))
    lt = LayerTensors(layer, w, a)
    assert lt.weights.dtype == np.float32 and lt.activations.flags.c_contiguous


BOUNDS = textwrap.dedent("""\
    import numpy as np
    from scnn_sim import simulate
    from scnn_sim.workload.tensors import LayerTensors
    from scnn_sim.workload.shapes import Layer
    rng = np.random.default_rng(0)
    shapes = [Layer("plain", C=6, K=8, R=3, S=3, H=9, W=7, padding=1),
              Layer("strided", C=4, K=6, R=3, S=3, H=11, W=10, stride=2, padding=1),
              Layer("grouped", C=8, K=8, R=3, S=3, H=8, W=8, padding=1, groups=2),
              Layer("pointwise", C=5, K=7, R=1, S=1, H=6, W=5)]
    for layer in shapes:
        w = rng.standard_normal(layer.weight_shape).astype(np.float32)
        w[rng.random(w.shape) < 0.6] = 0
        a = np.maximum(rng.standard_normal((layer.C, layer.H, layer.W)), 0).astype(np.float32)
        r = simulate([LayerTensors(layer, w, a)], verify=True)
        assert r.layers[0]["max_abs_error"] < 1e-3, layer.name
    r = simulate("alexnet", layers=["conv2"], seed=1)
    assert r.totals["cycles"] > 0
    print("bounds ok")
    """)


def test_kernels_under_numba_bounds_checking(tmp_path):
    env = dict(os.environ, NUMBA_BOUNDSCHECK="1", NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    r = subprocess.run([sys.executable, "-c", BOUNDS], env=env, capture_output=True, text=True,
                       timeout=900)
    assert r.returncode == 0 and "bounds ok" in r.stdout, r.stderr[-3000:]


# ---------------------------------------------------------------------------------------------
# Memory and time


def _fast_refusal(fn, exc_type=ScnnSimError) -> str:
    t0 = time.monotonic()
    with pytest.raises(exc_type) as exc:
        fn()
    assert time.monotonic() - t0 < 5.0
    return _one_line(exc.value)


def test_huge_yaml_layer_is_refused_up_front(tmp_path):
    (tmp_path / "big.yaml").write_text(textwrap.dedent("""\
        name: big
        layers:
          - {name: small, kind: conv, C: 3, K: 4, R: 3, S: 3, H: 8, W: 8, padding: 1}
          - {name: huge, kind: conv, C: 1, K: 1, R: 3, S: 3, H: 15000, W: 15000, padding: 1}
        """))
    msg = _fast_refusal(lambda: simulate(tmp_path / "big.yaml"), ResourceLimitError)
    assert msg.startswith("big:huge: needs about") and "GB" in msg and ENV_MAX_MEMORY in msg


def test_huge_channel_counts_are_refused():
    layer = Layer("wide", C=10**6, K=10**6, R=1, S=1, H=1, W=1)
    msg = _fast_refusal(lambda: simulate_layer_shape(layer), ResourceLimitError)
    assert "wide" in msg and "weights 1000000x1000000x1x1" in msg


def simulate_layer_shape(layer: Layer):
    from scnn_sim.workload.shapes import Workload

    return simulate(Workload("w", (layer,), "<test>", ""))


def test_declared_huge_hdf5_is_refused_before_reading(tmp_path):
    import h5py

    from scnn_sim.workload.h5io import read_layers, write_layers

    path = tmp_path / "decl.h5"
    write_layers(path, [_good(Layer("c1", C=2, K=1, R=1, S=1, H=4, W=4))], source_model="x")
    with h5py.File(path, "a") as f:
        g = next(iter(f["layers"].values()))
        del g["activations"]
        g.create_dataset("activations", shape=(2, 30000, 30000), dtype="f4",
                         chunks=(1, 1000, 1000), compression="gzip")
    assert path.stat().st_size < 100_000
    msg = _fast_refusal(lambda: read_layers(path), ResourceLimitError)
    assert "c1" in msg and "activations 2x30000x30000" in msg
    _fast_refusal(lambda: simulate(path), ResourceLimitError)


def test_memory_limit_from_the_environment(monkeypatch):
    monkeypatch.setenv(ENV_MAX_MEMORY, "0.07")
    assert memory_limit_bytes() == int(0.07 * GB)
    # AlexNet conv1 (3x227x227 in, 96x3x11x11) needs more than 70 MB by the estimate.
    msg = _fast_refusal(lambda: simulate("alexnet", layers=["conv1"]), ResourceLimitError)
    assert "alexnet:conv1" in msg and "limit of 0.07 GB" in msg
    for bad in ("zero", "-1", "0", "nan"):
        monkeypatch.setenv(ENV_MAX_MEMORY, bad)
        with pytest.raises(ConfigError, match=ENV_MAX_MEMORY):
            memory_limit_bytes()
    monkeypatch.delenv(ENV_MAX_MEMORY)
    assert 0 < memory_limit_bytes() <= 8 * GB


def test_estimate_grows_with_every_size():
    base = Layer("b", C=8, K=8, R=3, S=3, H=16, W=16, padding=1)
    e0 = estimate_layer_bytes(base)
    for field in ("C", "K", "H", "W", "R"):
        bigger = replace(base, **{field: getattr(base, field) * 2})
        assert estimate_layer_bytes(bigger) > e0, field


@pytest.mark.parametrize("arch, match", [
    ("pe_array: {rows: 100000, cols: 100000}",
     "pe_array.rows: must be a positive integer up to 1024, got 100000"),
    ("pe_array: {rows: 1024, cols: 1024}", "pe_array: 1024x1024 = 1048576 PEs"),
    ("multiplier: {F: 5000, I: 4}",
     "multiplier.F: must be a positive integer up to 1024, got 5000"),
])
def test_pe_grid_caps(tmp_path, arch, match):
    (tmp_path / "a.yaml").write_text(arch + "\n")
    msg = _fast_refusal(lambda: load_arch(tmp_path / "a.yaml"), ConfigError)
    assert match in msg and msg.startswith(str(tmp_path / "a.yaml"))


# ---------------------------------------------------------------------------------------------
# Nonsense configurations


def test_subtiles_beyond_the_pe_tile_are_refused(tmp_path):
    (tmp_path / "s.yaml").write_text("dataflow: {subtiles: [64, 64]}\n")
    msg = _fast_refusal(lambda: simulate("alexnet", arch=tmp_path / "s.yaml",
                                         layers=["conv5"]), ConfigError)
    assert msg.startswith("alexnet:conv5: dataflow.subtiles [64, 64] exceeds the PE tile of 2x2")
    # Exactly the tile (one pixel per sub-tile) is allowed and runs.
    (tmp_path / "ok.yaml").write_text("dataflow: {subtiles: [2, 2]}\n")
    r = simulate("alexnet", arch=tmp_path / "ok.yaml", layers=["conv5"])
    assert r.layers[0]["cycles"] > 0


@pytest.mark.parametrize("gran, dens, ok", [
    ("nm:2:4", 0.3, False), ("nm:1:4", 0.5, False), ("nm:2:4", 0.5, True),
    ("nm:1:8", 0.125, True), ("nm:2:4", None, True), ("block:1x1x3x3", 0.3, True),
])
def test_nm_fixes_the_density(gran, dens, ok):
    run = lambda: simulate("alexnet", layers=["conv3"], granularity=gran,  # noqa: E731
                           density=dens)
    if ok:
        r = run()
        assert r.meta["density"] == dens
        if gran.startswith("nm"):
            n, m = map(int, gran.split(":")[1:])
            assert r.layers[0]["weight_density"] == pytest.approx(n / m, abs=0.01)
    else:
        msg = _fast_refusal(run, SparsityError)
        assert "fixes the density at" in msg and "drop --density or pass" in msg


def test_sweep_spec_refuses_nm_with_another_density(tmp_path):
    from scnn_sim.sweep import load_spec

    (tmp_path / "s.yaml").write_text(
        "workloads: [alexnet]\ngranularities: [fine, nm:2:4]\ndensities: [0.3]\n")
    with pytest.raises(ConfigError) as exc:
        load_spec(tmp_path / "s.yaml")
    msg = _one_line(exc.value)
    assert "nm:2:4 fixes the density at 0.5" in msg and msg.startswith(str(tmp_path))


def test_coarse_granularity_records_requested_and_achieved():
    r = simulate("alexnet", layers=["conv1"], granularity="filter", density=0.3)
    assert r.meta["density"] == 0.3  # what was asked
    achieved = r.layers[0]["weight_density"]  # what was done (whole filters of 96)
    assert abs(achieved - 0.3) < 0.02 and achieved != 0.3


@pytest.mark.parametrize("arch, match", [
    ("accumulator: {banks: 1000000000}",
     "accumulator.banks: must be a positive integer up to 65536"),
    ("dataflow: {halo_words_per_cycle: 1000000000000000000000}", "integer up to 2**40, got"),
    ("dram: {latency_cycles: 100000000000000000000000}", "non-negative integer up to 2**40"),
    ("dram: {bandwidth_gbytes_per_s: 1.0e-300}", "must be a number in [1e-06, 1e+09], got 1e-300"),
    ("clock_ghz: 1.0e+300", "clock_ghz: must be a number in [1e-06, 1e+09]"),
])
def test_out_of_range_knobs_are_refused(tmp_path, arch, match):
    (tmp_path / "a.yaml").write_text(arch + "\n")
    msg = _fast_refusal(lambda: load_arch(tmp_path / "a.yaml"), ConfigError)
    assert match in msg


@pytest.mark.parametrize("fields", [
    "C: 3, K: 4, R: 3, S: 3, H: 8, W: 8, padding: 100000",
    "C: 3, K: 4, R: 1000000, S: 1000000, H: 8, W: 8, padding: 500000",
    "C: 3000, K: 4000, R: 11, S: 11, H: 300, W: 300",
    "C: 100000000000000000000, K: 4, R: 3, S: 3, H: 8, W: 8",
])
def test_oversized_yaml_layers_are_refused(tmp_path, fields):
    (tmp_path / "w.yaml").write_text(f"name: t\nlayers:\n  - {{name: L, kind: conv, {fields}}}\n")
    msg = _fast_refusal(lambda: simulate(tmp_path / "w.yaml"), ResourceLimitError)
    assert msg.startswith("t:L: needs about")


def test_sweep_spec_refuses_unsimulable_points_up_front(tmp_path):
    from scnn_sim.sweep import load_spec

    (tmp_path / "s.yaml").write_text(
        "workloads: [alexnet]\nlayers: [conv5]\nvary: {dataflow.subtiles: [[2, 2], [64, 64]]}\n")
    t0 = time.monotonic()
    with pytest.raises(ConfigError) as exc:
        load_spec(tmp_path / "s.yaml")
    assert time.monotonic() - t0 < 5
    msg = _one_line(exc.value)
    assert msg.startswith(str(tmp_path / "s.yaml"))
    assert "alexnet:conv5: dataflow.subtiles [64" in msg
    (tmp_path / "big.yaml").write_text(
        "name: big\nlayers:\n  - {name: huge, kind: conv, C: 1, K: 1, R: 3, S: 3, H: 15000, "
        "W: 15000, padding: 1}\n")
    (tmp_path / "s2.yaml").write_text("workloads: [big.yaml]\n")
    with pytest.raises(ConfigError, match="big.yaml:huge: needs about"):
        load_spec(tmp_path / "s2.yaml")
