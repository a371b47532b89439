"""Tests of scnn_sim.sparsity.pruning: synthetic tensors, granularity parsing and pruning."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scnn_sim.errors import ScnnSimError, SparsityError
from scnn_sim.sparsity.pruning import (
    Granularity,
    achieved_density,
    block_shape_for,
    blockify,
    parse_granularity,
    prune,
    synthetic_activations,
    synthetic_weights,
)

# ---------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("spec", "kind", "canonical"),
    [
        ("fine", "fine", "fine"),
        ("vector", "vector", "vector"),
        (" Kernel ", "kernel", "kernel"),
        ("filter", "filter", "filter"),
        ("channel", "channel", "channel"),
        ("block:1x4x1x1", "block", "block:1x4x1x1"),
        ("nm:2:4", "nm", "nm:2:4"),
    ],
)
def test_parse_granularity_ok(spec: str, kind: str, canonical: str) -> None:
    g = parse_granularity(spec)
    assert g.kind == kind
    assert g.spec == canonical
    assert parse_granularity(g) is g


def test_parse_block_and_nm_fields() -> None:
    g = parse_granularity("block:2x3x1x1")
    assert g.block == (2, 3, 1, 1)
    g = parse_granularity("nm:2:4")
    assert (g.n, g.m) == (2, 4)
    assert g.implied_density == 0.5
    assert parse_granularity("fine").implied_density is None


@pytest.mark.parametrize(
    "spec",
    [
        "coarse",
        "",
        "block",
        "block:1x2x3",
        "block:1x2x3x4x5",
        "block:0x1x1x1",
        "block:ax1x1x1",
        "nm:3:2",
        "nm:0:4",
        "nm:2",
        "nm:a:b",
    ],
)
def test_parse_granularity_bad(spec: str) -> None:
    with pytest.raises(SparsityError) as exc:
        parse_granularity(spec)
    assert repr(spec) in str(exc.value)


def test_parse_granularity_not_string() -> None:
    with pytest.raises(SparsityError, match="granularity"):
        parse_granularity(3)  # type: ignore[arg-type]


def test_block_shapes() -> None:
    shape = (8, 6, 3, 5)
    assert block_shape_for(shape, "fine") == (1, 1, 1, 1)
    assert block_shape_for(shape, "vector") == (1, 1, 1, 5)
    assert block_shape_for(shape, "kernel") == (1, 1, 3, 5)
    assert block_shape_for(shape, "filter") == (1, 6, 3, 5)
    assert block_shape_for(shape, "channel") == (8, 1, 3, 5)
    assert block_shape_for(shape, "block:2x4x1x1") == (2, 4, 1, 1)
    # 1x1 layers: vector/kernel collapse to single weights unless pointwise_group > 1
    pw = (8, 6, 1, 1)
    assert block_shape_for(pw, "vector") == (1, 1, 1, 1)
    assert block_shape_for(pw, "kernel", pointwise_group=4) == (1, 4, 1, 1)
    assert block_shape_for(pw, "kernel", pointwise_group=100) == (1, 6, 1, 1)
    assert block_shape_for(pw, "filter", pointwise_group=4) == (1, 6, 1, 1)


def test_block_larger_than_tensor() -> None:
    with pytest.raises(SparsityError, match="block size 5 along C exceeds"):
        block_shape_for((4, 4, 3, 3), "block:1x5x1x1")
    with pytest.raises(SparsityError, match="exceeds"):
        prune(np.ones((4, 4, 3, 3)), 0.5, "block:1x1x4x1")


def test_bad_pointwise_group() -> None:
    with pytest.raises(SparsityError, match="pointwise_group"):
        prune(np.ones((4, 4, 1, 1)), 0.5, "kernel", pointwise_group=0)


# ---------------------------------------------------------------------------- pruning helpers


def _group_size(shape: tuple[int, ...], spec: str, pointwise_group: int = 1) -> int:
    g = parse_granularity(spec)
    if g.kind == "nm":
        return 1
    return math.prod(block_shape_for(shape, g, pointwise_group))


def _groups_whole(mask: np.ndarray, block: tuple[int, int, int, int]) -> bool:
    rows, valid = blockify(mask, block, fill=False)
    kept = (rows & valid).any(axis=1)
    return bool(np.all((rows & valid) == (kept[:, None] & valid)))


shapes = st.tuples(
    st.integers(1, 9), st.integers(1, 9), st.integers(1, 4), st.integers(1, 4)
)
densities = st.one_of(st.sampled_from([0.0, 1.0, 0.5]), st.floats(0.0, 1.0))
block_specs = st.sampled_from(
    ["fine", "vector", "kernel", "filter", "channel", "block:1x2x1x1", "block:2x3x1x1",
     "block:1x1x2x2"]
)


@settings(max_examples=150, deadline=None)
@given(shape=shapes, density=densities, spec=block_specs, seed=st.integers(0, 2**16),
       norm=st.sampled_from(["l1", "l2"]), pg=st.integers(1, 4))
def test_prune_properties(
    shape: tuple[int, int, int, int], density: float, spec: str, seed: int, norm: str, pg: int
) -> None:
    g = parse_granularity(spec)
    if g.kind == "block" and any(b > d for b, d in zip(g.block, shape, strict=True)):
        with pytest.raises(SparsityError):
            prune(np.ones(shape), density, spec)
        return
    w = synthetic_weights(shape, np.random.default_rng(seed))
    pruned, mask = prune(w, density, spec, norm=norm, pointwise_group=pg)
    assert mask.dtype == bool and mask.shape == w.shape
    assert pruned.dtype == w.dtype
    assert np.array_equal(pruned, np.where(mask, w, 0))
    block = block_shape_for(shape, spec, pg)
    assert _groups_whole(mask, block)
    # Kept count within one group of the target (half a group when all groups are equal).
    kept = int(mask.sum())
    assert abs(kept - density * w.size) <= math.prod(block) + 1e-9
    assert achieved_density(mask) == pytest.approx(kept / w.size)
    # Every kept group is at least as salient as every pruned group.
    mag = np.abs(w.astype(np.float64)) if norm == "l1" else w.astype(np.float64) ** 2
    rows, valid = blockify(mag, block)
    sal = rows.sum(axis=1)
    if norm == "l2":
        sal = np.sqrt(sal)
    krow, _ = blockify(mask, block, fill=False)
    kept_g = krow.any(axis=1)
    if kept_g.any() and (~kept_g).any():
        assert sal[kept_g].min() >= sal[~kept_g].max()


def test_prune_fine_matches_sort_reference() -> None:
    rng = np.random.default_rng(3)
    w = rng.standard_normal((7, 5, 3, 3)).astype(np.float32)
    w[0, 0] = 0.5  # ties
    w[1, 1] = -0.5
    for d in (0.0, 0.1, 0.33, 0.5, 0.77, 1.0):
        _, mask = prune(w, d, "fine")
        flat = np.abs(w.ravel().astype(np.float64))
        order = np.lexsort((np.arange(flat.size), -flat))
        n_keep = int(math.floor(d * flat.size + 0.5))
        ref = np.zeros(flat.size, bool)
        ref[order[:n_keep]] = True
        assert np.array_equal(mask.ravel(), ref), d


def test_prune_ties_deterministic_lowest_index() -> None:
    w = np.ones((4, 2, 3, 3), dtype=np.float32)
    _, mask = prune(w, 0.5, "kernel")
    # 8 equal kernels, keep 4: the first four in (k, c) order.
    assert mask[:2].all() and not mask[2:].any()
    _, mask2 = prune(w, 0.5, "kernel")
    assert np.array_equal(mask, mask2)


def test_prune_partial_blocks_are_smaller_groups() -> None:
    w = synthetic_weights((5, 7, 3, 3), np.random.default_rng(0))
    _, mask = prune(w, 0.4, "block:2x3x1x1")
    assert _groups_whole(mask, (2, 3, 1, 1))
    assert abs(mask.sum() - 0.4 * w.size) <= 6


def test_prune_density_extremes() -> None:
    w = synthetic_weights((4, 3, 3, 3), np.random.default_rng(0))
    for spec in ("fine", "vector", "kernel", "filter", "channel"):
        assert prune(w, 0.0, spec)[1].sum() == 0
        assert prune(w, 1.0, spec)[1].all()


def test_pointwise_collapse_and_grouping() -> None:
    w = synthetic_weights((16, 12, 1, 1), np.random.default_rng(1))
    fine = prune(w, 0.3, "fine")[1]
    assert np.array_equal(prune(w, 0.3, "vector")[1], fine)
    assert np.array_equal(prune(w, 0.3, "kernel")[1], fine)
    _, m4 = prune(w, 0.3, "kernel", pointwise_group=4)
    assert _groups_whole(m4, (1, 4, 1, 1))
    assert not np.array_equal(m4, fine)
    _, m5 = prune(w, 0.3, "vector", pointwise_group=5)  # 12 = 5 + 5 + 2
    assert _groups_whole(m5, (1, 5, 1, 1))


@settings(max_examples=60, deadline=None)
@given(shape=shapes, n=st.integers(1, 4), m=st.integers(1, 6), seed=st.integers(0, 999))
def test_prune_nm(shape: tuple[int, int, int, int], n: int, m: int, seed: int) -> None:
    if n > m:
        n, m = m, n
    w = synthetic_weights(shape, np.random.default_rng(seed))
    _, mask = prune(w, None, f"nm:{n}:{m}")
    K, C, R, S = shape
    for start in range(0, C, m):
        chunk = mask[:, start : start + m]
        size = chunk.shape[1]
        assert np.all(chunk.sum(axis=1) == min(n, size))
        a = np.abs(w[:, start : start + m])
        kept_min = np.where(chunk, a, np.inf).min(axis=1)
        pruned_max = np.where(chunk, -np.inf, a).max(axis=1)
        assert np.all(kept_min >= pruned_max)


def test_prune_nm_ignores_density() -> None:
    w = synthetic_weights((8, 8, 3, 3), np.random.default_rng(0))
    a = prune(w, 0.9, "nm:2:4")[1]
    b = prune(w, None, "nm:2:4")[1]
    assert np.array_equal(a, b)
    assert achieved_density(a) == 0.5


@pytest.mark.parametrize("density", [-0.1, 1.5, float("nan"), "x", None])
def test_prune_bad_density(density: object) -> None:
    with pytest.raises(SparsityError, match="density"):
        prune(np.ones((2, 2, 1, 1)), density, "fine")  # type: ignore[arg-type]


def test_prune_bad_inputs() -> None:
    w = np.ones((2, 2, 3, 3))
    bad = w.copy()
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(SparsityError, match="NaN or Inf"):
        prune(bad, 0.5)
    bad[0, 0, 0, 0] = np.inf
    with pytest.raises(SparsityError, match="NaN or Inf"):
        prune(bad, 0.5)
    with pytest.raises(SparsityError, match="rank 4"):
        prune(np.ones((3, 3)), 0.5)
    with pytest.raises(SparsityError, match="norm"):
        prune(w, 0.5, norm="l3")
    with pytest.raises(SparsityError, match="unknown granularity"):
        prune(w, 0.5, "bogus")
    with pytest.raises(SparsityError, match="real numeric"):
        prune(np.array([[[["a"]]]]), 0.5)
    assert issubclass(SparsityError, ScnnSimError)


def test_prune_is_fast() -> None:
    w = synthetic_weights((512, 512, 3, 3), np.random.default_rng(0))
    for spec in ("fine", "vector", "kernel", "filter"):
        t = time.perf_counter()
        prune(w, 0.35, spec)
        assert time.perf_counter() - t < 1.0, spec


def test_granularity_dataclass_str() -> None:
    assert str(Granularity(kind="fine", spec="fine")) == "fine"


# ---------------------------------------------------------------------------- synthetic tensors


def test_synthetic_weights() -> None:
    a = synthetic_weights((64, 32, 3, 3), np.random.default_rng(5))
    b = synthetic_weights((64, 32, 3, 3), np.random.default_rng(5))
    assert a.dtype == np.float32 and a.shape == (64, 32, 3, 3)
    assert np.array_equal(a, b)
    assert np.count_nonzero(a) == a.size
    assert a.std() == pytest.approx(math.sqrt(2 / (32 * 9)), rel=0.05)
    with pytest.raises(SparsityError, match="rank 4"):
        synthetic_weights((3, 3, 3), np.random.default_rng(0))  # type: ignore[arg-type]


@pytest.mark.parametrize("clustered", [0.0, 0.3, 1.0])
@pytest.mark.parametrize("density", [0.0, 0.013, 0.4, 1.0])
def test_synthetic_activations_exact_count(clustered: float, density: float) -> None:
    shape = (5, 13, 17)
    a = synthetic_activations(shape, density, np.random.default_rng(2), clustered=clustered)
    assert a.dtype == np.float32 and a.shape == shape
    assert a.min() >= 0
    assert np.count_nonzero(a) == math.floor(density * a.size + 0.5)
    b = synthetic_activations(shape, density, np.random.default_rng(2), clustered=clustered)
    assert np.array_equal(a, b)


def _tile_density_spread(a: np.ndarray, t: int) -> float:
    C, H, W = a.shape
    d = (a != 0).reshape(C, H // t, t, W // t, t).mean(axis=(2, 4))
    return float(d.std())


def test_clustered_activations_vary_across_plane() -> None:
    rng = np.random.default_rng(0)
    uni = synthetic_activations((16, 56, 56), 0.4, rng, clustered=0.0)
    clu = synthetic_activations((16, 56, 56), 0.4, rng, clustered=1.0)
    assert np.count_nonzero(uni) == np.count_nonzero(clu)
    assert _tile_density_spread(clu, 7) > 3 * _tile_density_spread(uni, 7)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"shape": (3, 4)}, "shape"),
        ({"shape": (3, 0, 4)}, "shape"),
        ({"density": 1.2}, "density"),
        ({"clustered": -0.5}, "clustered"),
        ({"clustered": 2.0}, "clustered"),
        ({"clustered": 0.5, "cluster_sigma": -1.0}, "cluster_sigma"),
    ],
)
def test_synthetic_activations_bad(kwargs: dict, match: str) -> None:
    args = {"shape": (2, 4, 4), "density": 0.5, "rng": np.random.default_rng(0)}
    args.update(kwargs)
    with pytest.raises(SparsityError, match=match):
        synthetic_activations(**args)


def test_achieved_density() -> None:
    assert achieved_density(np.array([True, False, True, True])) == 0.75
    assert achieved_density(np.zeros(0, bool)) == 0.0
