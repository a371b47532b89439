"""Tests of scnn_sim.sparsity.formats: SCNN zero-run streams, block layouts, group index and
sizes."""

from __future__ import annotations

import dataclasses
import math
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scnn_sim.errors import FormatError, SparsityError
from scnn_sim.sparsity.formats import (
    FormatSize,
    RLEStream,
    activation_blocks_scnn,
    decode_group_index,
    encode_group_index,
    encode_scnn_activations,
    encode_scnn_weights,
    rle_count_blocks,
    rle_decode_blocks,
    rle_encode_blocks,
    size_bitmask,
    size_csr,
    size_group_index,
    size_nm,
    size_scnn_rle,
    weight_blocks_scnn,
)
from scnn_sim.sparsity.pruning import block_shape_for, blockify, prune, synthetic_weights

# ---------------------------------------------------------------------------- references


def ref_encode(flat: np.ndarray, lengths: list[int], index_bits: int):
    """Straightforward Python encoder following the documented placeholder rule."""
    m = 2**index_bits - 1
    values: list[float] = []
    runs: list[int] = []
    ptr = [0]
    pos = 0
    for n in lengths:
        zeros = 0
        for i in range(pos, pos + n):
            v = float(flat[i])
            if v == 0:
                zeros += 1
                continue
            while zeros > m:
                values.append(0.0)
                runs.append(m)
                zeros -= m + 1
            values.append(v)
            runs.append(zeros)
            zeros = 0
        pos += n
        ptr.append(len(values))
    return values, runs, ptr


def ref_group_runs(kept: np.ndarray, index_bits: int) -> tuple[list[int], int]:
    m = 2**index_bits - 1
    runs: list[int] = []
    ph = 0
    skipped = 0
    for k in kept:
        if not k:
            skipped += 1
            continue
        while skipped >= m:
            runs.append(m)
            ph += 1
            skipped -= m
        runs.append(skipped)
        skipped = 0
    return runs, ph


@st.composite
def blocked_arrays(draw):
    lengths = draw(st.lists(st.integers(0, 40), min_size=0, max_size=12))
    n = sum(lengths)
    density = draw(st.sampled_from([0.0, 1.0, 0.02, 0.1, 0.5, 0.9]))
    seed = draw(st.integers(0, 2**20))
    rng = np.random.default_rng(seed)
    flat = rng.standard_normal(n).astype(np.float32)
    flat[rng.random(n) >= density] = 0
    if lengths and draw(st.booleans()):  # force an all-zero block
        b = draw(st.integers(0, len(lengths) - 1))
        start = sum(lengths[:b])
        flat[start : start + lengths[b]] = 0
    return flat, lengths


# ---------------------------------------------------------------------------- RLE stream


@settings(max_examples=300, deadline=None)
@given(data=blocked_arrays(), index_bits=st.integers(1, 8))
def test_rle_round_trip_and_reference(data, index_bits: int) -> None:
    flat, lengths = data
    s = rle_encode_blocks(flat, np.array(lengths, dtype=np.int64), index_bits)
    assert np.array_equal(rle_decode_blocks(s), flat)
    values, runs, ptr = ref_encode(flat, lengths, index_bits)
    assert s.values.dtype == np.float32 and s.runs.dtype == np.uint8
    assert s.block_ptr.dtype == np.int64 and s.block_lengths.dtype == np.int64
    assert s.values.tolist() == values
    assert s.runs.tolist() == runs
    assert s.block_ptr.tolist() == ptr
    nnz = int(np.count_nonzero(flat))
    assert s.n_entries >= nnz
    assert s.placeholders == s.n_entries - nnz == values.count(0.0)
    assert s.index_bits_total == s.n_entries * index_bits
    assert s.value_bits(16) == s.n_entries * 16
    assert rle_count_blocks(flat, lengths, index_bits) == (s.n_entries, s.placeholders)


@pytest.mark.parametrize("index_bits", [9, 12, 16])
def test_rle_wide_runs_uint16(index_bits: int) -> None:
    flat = np.zeros(70000, np.float32)
    flat[[0, 300, 69999]] = [1.0, 2.0, 3.0]
    s = rle_encode_blocks(flat, [70000], index_bits)
    assert s.runs.dtype == np.uint16
    assert np.array_equal(rle_decode_blocks(s), flat)
    values, runs, _ = ref_encode(flat, [70000], index_bits)
    assert s.runs.tolist() == runs


def test_rle_placeholder_rule_example() -> None:
    # index_bits 2: M = 3; a non-zero after 9 zeros -> 9 // 4 = 2 placeholders, then run 1.
    flat = np.array([0] * 9 + [5] + [0, 0], dtype=np.float32)
    s = rle_encode_blocks(flat, [12], 2)
    assert s.values.tolist() == [0.0, 0.0, 5.0]
    assert s.runs.tolist() == [3, 3, 1]
    assert s.placeholders == 2
    # Block boundaries reset the run.
    s = rle_encode_blocks(np.array([0, 0, 1, 0, 0, 2], np.float32), [3, 3], 4)
    assert s.runs.tolist() == [2, 2] and s.block_ptr.tolist() == [0, 1, 2]


def test_rle_empty_inputs() -> None:
    s = rle_encode_blocks(np.zeros(0, np.float32), np.zeros(0, np.int64))
    assert s.n_entries == 0 and s.block_ptr.tolist() == [0]
    assert rle_decode_blocks(s).size == 0
    s = rle_encode_blocks(np.zeros(10, np.float32), [0, 10, 0])
    assert s.n_entries == 0 and s.block_ptr.tolist() == [0, 0, 0, 0]
    assert np.array_equal(rle_decode_blocks(s), np.zeros(10))


@pytest.mark.parametrize("bits", [0, 17, -1, 2.5, True])
def test_rle_bad_index_bits(bits) -> None:
    with pytest.raises(FormatError, match="index_bits"):
        rle_encode_blocks(np.ones(3, np.float32), [3], bits)


def test_rle_bad_blocks() -> None:
    with pytest.raises(FormatError, match="sum to"):
        rle_encode_blocks(np.ones(5, np.float32), [2, 2])
    with pytest.raises(FormatError, match=">= 0"):
        rle_encode_blocks(np.ones(5, np.float32), [7, -2])
    with pytest.raises(FormatError, match="one-dimensional"):
        rle_encode_blocks(np.ones((2, 2), np.float32), [4])


def test_rle_decode_validation() -> None:
    flat = np.array([0, 0, 1, 0, 2, 0], np.float32)
    s = rle_encode_blocks(flat, [3, 3], 4)
    bad = dataclasses.replace(s, runs=np.array([2, 3], np.uint8))
    with pytest.raises(FormatError, match="exceed the block length"):
        rle_decode_blocks(bad)
    bad = dataclasses.replace(s, runs=np.array([2, 16], np.uint8))
    with pytest.raises(FormatError, match="4-bit maximum"):
        rle_decode_blocks(bad)
    bad = dataclasses.replace(s, block_ptr=np.array([0, 2, 1], np.int64))
    with pytest.raises(FormatError, match="block_ptr"):
        rle_decode_blocks(bad)
    bad = dataclasses.replace(s, block_ptr=np.array([0, 2], np.int64))
    with pytest.raises(FormatError, match="block_ptr"):
        rle_decode_blocks(bad)
    bad = dataclasses.replace(s, values=np.ones(3, np.float32))
    with pytest.raises(FormatError, match="equal length"):
        rle_decode_blocks(bad)


def test_rle_encode_speed() -> None:
    rng = np.random.default_rng(0)
    flat = rng.random(5_000_000).astype(np.float32)
    flat[rng.random(flat.size) > 0.35] = 0
    bl = np.full(50_000, 100)
    rle_encode_blocks(flat[:1000], bl[:10])  # warm-up
    t = time.perf_counter()
    s = rle_encode_blocks(flat, bl, 4)
    dt = time.perf_counter() - t
    # Aim is > 20 M elements/s; assert a loose floor that only a per-element loop would miss.
    assert flat.size / dt > 5e6, dt
    assert s.n_entries >= np.count_nonzero(flat)


# ---------------------------------------------------------------------------- SCNN layouts


@pytest.mark.parametrize("order", ["krs", "ksr", "rks", "rsk", "skr", "srk"])
@pytest.mark.parametrize("kc", [1, 3, 4, 8])
def test_weight_blocks_reference(order: str, kc: int) -> None:
    rng = np.random.default_rng(0)
    w = rng.standard_normal((7, 3, 2, 3)).astype(np.float32)
    flat, bl = weight_blocks_scnn(w, kc, order)
    K, C, R, S = w.shape
    ref, lens = [], []
    for k0 in range(0, K, kc):
        for c in range(C):
            blk = w[k0 : k0 + kc, c]  # [k, r, s]
            perm = tuple("krs".index(a) for a in order)
            ref.extend(blk.transpose(perm).ravel().tolist())
            lens.append(blk.size)
    assert flat.tolist() == pytest.approx(ref)
    assert bl.tolist() == lens


def test_weight_blocks_bad() -> None:
    w = np.ones((4, 2, 3, 3), np.float32)
    with pytest.raises(FormatError, match="order"):
        weight_blocks_scnn(w, 2, "kr")
    with pytest.raises(FormatError, match="kc"):
        weight_blocks_scnn(w, 0)
    with pytest.raises(FormatError, match="rank 4"):
        weight_blocks_scnn(np.ones((4, 2, 3)), 2)


def test_encode_scnn_weights_round_trip() -> None:
    w = synthetic_weights((20, 6, 3, 3), np.random.default_rng(1))
    p, _ = prune(w, 0.2, "fine")
    s = encode_scnn_weights(p, 8, "krs", 3)
    flat, bl = weight_blocks_scnn(p, 8, "krs")
    assert np.array_equal(rle_decode_blocks(s), flat)
    assert s.block_lengths.tolist() == bl.tolist()
    assert len(bl) == 3 * 6


def test_activation_blocks_reference() -> None:
    rng = np.random.default_rng(0)
    a = rng.random((3, 7, 9)).astype(np.float32)
    rows, cols = [0, 3, 7], [0, 2, 5, 9]
    flat, bl = activation_blocks_scnn(a, rows, cols)
    ref, lens = [], []
    for i in range(2):
        for j in range(3):
            for c in range(3):
                t = a[c, rows[i] : rows[i + 1], cols[j] : cols[j + 1]]
                ref.extend(t.ravel().tolist())
                lens.append(t.size)
    assert flat.tolist() == ref and bl.tolist() == lens
    # np.array_split output is accepted too.
    f2, b2 = activation_blocks_scnn(
        a, np.array_split(np.arange(7), 2), np.array_split(np.arange(9), 3)
    )
    f3, b3 = activation_blocks_scnn(a, [0, 4, 7], [0, 3, 6, 9])
    assert np.array_equal(f2, f3) and np.array_equal(b2, b3)


def test_activation_blocks_empty_tiles_and_round_trip() -> None:
    a = np.zeros((2, 4, 4), np.float32)
    a[1, 3, 3] = 2.0
    flat, bl = activation_blocks_scnn(a, [0, 0, 4], [0, 4])
    assert bl.tolist() == [0, 0, 16, 16]
    s = encode_scnn_activations(a, [0, 2, 4], [0, 4], index_bits=2)
    assert np.array_equal(rle_decode_blocks(s), activation_blocks_scnn(a, [0, 2, 4], [0, 4])[0])


@pytest.mark.parametrize("rows", [[0, 5], [1, 4], [0, 3, 2, 4], [0], "ab"])
def test_activation_blocks_bad_boundaries(rows) -> None:
    with pytest.raises(FormatError, match="tile_rows"):
        activation_blocks_scnn(np.zeros((1, 4, 4)), rows, [0, 4])


def test_activation_blocks_bad_rank() -> None:
    with pytest.raises(FormatError, match="rank 3"):
        activation_blocks_scnn(np.zeros((4, 4)), [0, 4], [0, 4])


# ---------------------------------------------------------------------------- group index

gi_shapes = st.tuples(st.integers(1, 7), st.integers(1, 7), st.integers(1, 3), st.integers(1, 3))


@settings(max_examples=200, deadline=None)
@given(
    shape=gi_shapes,
    spec=st.sampled_from(["fine", "vector", "kernel", "filter", "channel", "block:1x2x1x1"]),
    density=st.sampled_from([0.0, 0.05, 0.3, 0.7, 1.0]),
    index_bits=st.integers(1, 8),
    seed=st.integers(0, 2**16),
)
def test_group_index_round_trip(shape, spec, density, index_bits, seed) -> None:
    if spec == "block:1x2x1x1" and shape[1] < 2:
        return
    w = synthetic_weights(shape, np.random.default_rng(seed))
    p, mask = prune(w, density, spec)
    s = encode_group_index(p, spec, mask, index_bits)
    assert np.array_equal(decode_group_index(s), p)
    block = block_shape_for(shape, spec)
    krows, _ = blockify(mask, block, fill=False)
    kept = krows.any(axis=1)
    runs, ph = ref_group_runs(kept, index_bits)
    assert s.runs.tolist() == runs
    assert s.placeholders == ph
    assert s.kept_groups == int(kept.sum())
    assert s.values.size == int(mask.sum())
    fs = size_group_index(p, spec, mask, 16, index_bits)
    assert fs.entries == s.n_entries and fs.placeholders == ph
    assert fs.index_bits == s.n_entries * index_bits
    assert fs.value_bits == 16 * s.values.size


def test_group_index_keeps_zeros_inside_kept_groups() -> None:
    w = np.zeros((2, 2, 3, 3), np.float32)
    w[0, 1, 1, 1] = 3.0  # one non-zero in kernel (0, 1)
    mask = np.zeros_like(w, bool)
    mask[0, 1] = True
    mask[1, 0] = True  # a kept kernel that is entirely zero
    s = encode_group_index(w, "kernel", mask, index_bits=4)
    assert s.kept_groups == 2 and s.values.size == 18
    assert s.runs.tolist() == [1, 0]
    assert np.array_equal(decode_group_index(s), w)
    # Without a mask only groups holding a non-zero count.
    s2 = encode_group_index(w, "kernel", index_bits=4)
    assert s2.kept_groups == 1 and s2.runs.tolist() == [1]


def test_group_index_placeholders_example() -> None:
    w = np.zeros((12, 1, 1, 3), np.float32)
    w[10] = 1.0  # vector groups: 12 rows; kept group 10 after 10 skipped
    s = encode_group_index(w, "vector", index_bits=2)  # M = 3: 3 placeholders, run 1
    assert s.runs.tolist() == [3, 3, 3, 1]
    assert s.placeholders == 3 and s.kept_groups == 1
    assert np.array_equal(decode_group_index(s), w)


def test_group_index_decode_validation() -> None:
    w = np.zeros((4, 1, 1, 3), np.float32)
    w[1] = 1.0
    s = encode_group_index(w, "vector", index_bits=4)
    with pytest.raises(FormatError, match="pass the last"):
        decode_group_index(dataclasses.replace(s, runs=np.array([9], np.uint8)))
    with pytest.raises(FormatError, match="stores 2 values"):
        decode_group_index(dataclasses.replace(s, values=np.ones(2, np.float32)))
    with pytest.raises(FormatError, match="mask shape"):
        encode_group_index(w, "vector", np.ones((4, 1, 1), bool))


# ---------------------------------------------------------------------------- sizes


def test_size_scnn_rle_matches_stream() -> None:
    w = synthetic_weights((20, 6, 3, 3), np.random.default_rng(1))
    p, _ = prune(w, 0.1, "fine")
    s = encode_scnn_weights(p, 8, index_bits=2)
    fs = size_scnn_rle(p, value_bits=8, index_bits=2, kc=8)
    assert fs == FormatSize(s.value_bits(8), s.index_bits_total, s.placeholders, s.n_entries)
    assert fs.total_bits == fs.value_bits + fs.index_bits


def test_size_bitmask_and_csr() -> None:
    w = np.zeros((4, 3, 3, 3), np.float32)  # 108 weights, rows of 27
    w[0, 0, 0, 0] = w[3, 2, 2, 2] = w[1, 1, 1, 1] = 1.0
    bm = size_bitmask(w, 8)
    assert bm == FormatSize(3 * 8, 108, 0, 3)
    csr = size_csr(w, 16)
    col_bits = math.ceil(math.log2(27))  # 5
    ptr_bits = math.ceil(math.log2(109))  # 7
    assert csr == FormatSize(3 * 16, 3 * col_bits + 5 * ptr_bits, 0, 3)


def test_size_nm() -> None:
    w = synthetic_weights((4, 8, 3, 3), np.random.default_rng(0))
    p, mask = prune(w, None, "nm:2:4")
    fs = size_nm(p, "nm:2:4", mask, 16)
    kept = int(mask.sum())
    assert fs == FormatSize(kept * 16, kept * 2, 0, kept)
    with pytest.raises(SparsityError, match="nm:N:M"):
        size_nm(p, "kernel")


def test_kernel_index_cheaper_than_fine() -> None:
    w = synthetic_weights((64, 64, 3, 3), np.random.default_rng(0))
    pf, _ = prune(w, 0.35, "fine")
    pk, mk = prune(w, 0.35, "kernel")
    fine = size_scnn_rle(pf, 16, 4)
    kern = size_group_index(pk, "kernel", mk, 16, 4)
    assert kern.index_bits * 5 < fine.index_bits


def test_format_size_add() -> None:
    a = FormatSize(1, 2, 3, 4) + FormatSize(10, 20, 30, 40)
    assert a == FormatSize(11, 22, 33, 44) and a.total_bits == 33


def test_rle_stream_is_frozen() -> None:
    s = rle_encode_blocks(np.ones(3, np.float32), [3])
    assert isinstance(s, RLEStream)
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.index_bits = 5  # type: ignore[misc]
