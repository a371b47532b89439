"""Mapping a layer on the PE array (engine.mapping, engine.layer.choose_mapping): balanced and
ceil splits, stride-phase coverage, output ownership, halos, Kc / sub-tile choice, IARAM
residency."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scnn_sim.engine.layer import choose_mapping, simulate_layer
from scnn_sim.engine.mapping import (
    candidate_subtiles,
    halo_entries,
    make_tiling,
    owner_bounds,
    phases,
    split_bounds,
)
from scnn_sim.errors import SimulationError
from scnn_sim.workload.shapes import Layer

# ----------------------------------------------------------------------------- splits


@pytest.mark.parametrize(("n", "parts", "mode", "expected"), [
    (10, 3, "balanced", [(0, 4), (4, 7), (7, 10)]),
    (10, 3, "ceil", [(0, 4), (4, 8), (8, 10)]),
    (13, 8, "balanced", [(0, 2), (2, 4), (4, 6), (6, 8), (8, 10), (10, 11), (11, 12),
                         (12, 13)]),
    (13, 8, "ceil", [(0, 2), (2, 4), (4, 6), (6, 8), (8, 10), (10, 12), (12, 13), (13, 13)]),
    (3, 8, "balanced", [(0, 1), (1, 2), (2, 3)] + [(3, 3)] * 5),
    (3, 8, "ceil", [(0, 1), (1, 2), (2, 3)] + [(3, 3)] * 5),
    (9, 4, "ceil", [(0, 3), (3, 6), (6, 9), (9, 9)]),
    (9, 4, "balanced", [(0, 3), (3, 5), (5, 7), (7, 9)]),
    (224, 8, "balanced", [(28 * i, 28 * (i + 1)) for i in range(8)]),
])
def test_split_bounds(n, parts, mode, expected):
    assert split_bounds(n, parts, mode) == expected


@given(n=st.integers(0, 300), parts=st.integers(1, 16), mode=st.sampled_from(["balanced",
                                                                                "ceil"]))
def test_split_bounds_partition(n, parts, mode):
    b = split_bounds(n, parts, mode)
    assert len(b) == parts
    assert b[0][0] == 0 and b[-1][1] == n
    for (lo, hi), (lo2, _) in zip(b, b[1:], strict=False):
        assert lo <= hi == lo2
    sizes = [hi - lo for lo, hi in b]
    if mode == "balanced":
        assert max(sizes) - min(sizes) <= 1
    else:
        # Every PE gets ceil(n / parts) rows until the rows run out.
        step = -(-n // parts)
        assert sizes == sorted(sizes, reverse=True)
        assert [s for s in sizes if s not in (0, step)] == ([n % step] if step and n % step
                                                             else [])


# ----------------------------------------------------------------------- phases, tiling

layers = st.builds(
    lambda R, S, stride, pad, H, W: Layer("m", C=1, K=1, R=R, S=S, H=max(H, R - 2 * pad, 1),
                                          W=max(W, S - 2 * pad, 1), stride=stride, padding=pad),
    R=st.integers(1, 11), S=st.integers(1, 11), stride=st.integers(1, 4), pad=st.integers(0, 3),
    H=st.integers(1, 30), W=st.integers(1, 30))


def test_phases_of_alexnet_conv1():
    lay = Layer("c1", C=3, K=96, R=11, S=11, H=227, W=227, stride=4)
    ph = phases(lay)
    assert len(ph) == 16
    # Kernel rows 0..10 split by r % 4: 3, 3, 3, 2 rows.
    assert sorted({(p.a, p.rv) for p in ph}) == [(0, 3), (1, 3), (2, 3), (3, 2)]
    assert sum(p.rv * p.sv for p in ph) == 121


@settings(max_examples=60, deadline=None)
@given(lay=layers, rows=st.integers(1, 5), cols=st.integers(1, 5),
       sub=st.tuples(st.integers(1, 3), st.integers(1, 3)),
       mode=st.sampled_from(["balanced", "ceil"]))
def test_phases_cover_each_input_pixel_once(lay, rows, cols, sub, mode):
    t = make_tiling(lay, rows, cols, sub, mode)
    assert t.n_tiles == rows * cols * sub[0] * sub[1]
    hits = np.zeros((lay.H, lay.W), np.int64)
    ph = phases(lay)
    for ti in range(t.n_tiles):
        r0, r1 = t.rows[ti]
        c0, c1 = t.cols[ti]
        for p, phase in enumerate(ph):
            ys, xs = t.phase_rows[ti][p], t.phase_cols[ti][p]
            assert all(r0 <= y < r1 and (y + lay.padding) % lay.stride == phase.a for y in ys)
            assert all(c0 <= x < c1 and (x + lay.padding) % lay.stride == phase.b for x in xs)
            hits[np.ix_(ys, xs)] += 1
    assert (hits == 1).all()
    # Work tile -> (PE, pass) is a bijection.
    pairs = set(zip(t.pe_of.tolist(), t.pass_of.tolist(), strict=True))
    assert len(pairs) == t.n_tiles
    # Every tile's products fit its buffer, and its buffer fits the common layout.
    st_, pad = lay.stride, lay.padding
    for ti in range(t.n_tiles):
        assert t.bh[ti] <= t.BH and t.bw[ti] <= t.BW
        for p, phase in enumerate(ph):
            ys, xs = t.phase_rows[ti][p], t.phase_cols[ti][p]
            if not (len(ys) and len(xs) and phase.rv and phase.sv):
                continue  # no pixels or no weights in this phase: no products
            u = (ys + pad) // st_
            lo, hi = u.min() - (phase.rv - 1), u.max()
            assert t.oy[ti] <= lo and hi < t.oy[ti] + t.bh[ti]
            w = (xs + pad) // st_
            lo, hi = w.min() - (phase.sv - 1), w.max()
            assert t.ox[ti] <= lo and hi < t.ox[ti] + t.bw[ti]


@settings(max_examples=60, deadline=None)
@given(lay=layers, rows=st.integers(1, 8), cols=st.integers(1, 8),
       mode=st.sampled_from(["balanced", "ceil"]))
def test_ownership_partitions_the_output_plane(lay, rows, cols, mode):
    rb = split_bounds(lay.H, rows, mode)
    cb = split_bounds(lay.W, cols, mode)
    own_r = owner_bounds(lay, rb, lay.P, "row")
    own_c = owner_bounds(lay, cb, lay.Q, "col")
    owned = np.zeros((lay.P, lay.Q), np.int64)
    for r0, r1 in own_r:
        for c0, c1 in own_c:
            owned[r0:r1, c0:c1] += 1
    assert (owned == 1).all()
    # An empty input tile owns nothing.
    for (lo, hi), (o0, o1) in zip(rb, own_r, strict=True):
        if lo == hi:
            assert o0 == o1


def test_owner_is_the_kernel_centre_tile():
    lay = Layer("m", C=1, K=1, R=3, S=3, H=8, W=8, padding=1)
    assert owner_bounds(lay, [(0, 4), (4, 8)], 8, "row") == [(0, 4), (4, 8)]
    lay = Layer("m", C=1, K=1, R=3, S=3, H=9, W=9, stride=2)   # P = 4, centre = 2o + 1
    assert owner_bounds(lay, [(0, 3), (3, 6), (6, 9)], 4, "row") == [(0, 1), (1, 3), (3, 4)]


def test_halo_zero_on_one_pe():
    for lay in (Layer("a", C=1, K=1, R=3, S=3, H=8, W=8, padding=1),
                Layer("b", C=1, K=1, R=5, S=5, H=9, W=13, stride=2, padding=2),
                Layer("c", C=1, K=1, R=11, S=11, H=31, W=31, stride=4)):
        t = make_tiling(lay, 1, 1, (1, 1), "balanced")
        assert halo_entries(lay, t).tolist() == [0]


def test_halo_hand_derived_2x2():
    """8x8, 3x3 pad 1 on 2x2 PEs: each 4x4 tile's buffer covers 6x6 output coordinates, of
    which 5x5 are valid outputs and 4x4 are owned: 9 halo entries per tile."""
    lay = Layer("a", C=1, K=1, R=3, S=3, H=8, W=8, padding=1)
    t = make_tiling(lay, 2, 2, (1, 1), "balanced")
    assert (t.BH, t.BW) == (6, 6)
    assert t.oy.tolist() == [-1, -1, 3, 3] and t.ox.tolist() == [-1, 3, -1, 3]
    assert halo_entries(lay, t).tolist() == [9, 9, 9, 9]


def test_halo_words_counted_per_output_channel(arch, tensors):
    a = arch.replace(**{"pe_array.rows": 2, "pe_array.cols": 2})
    lt = tensors(C=2, K=5, R=3, S=3, H=8, W=8, padding=1)
    c = simulate_layer(lt, a, verify=True)
    assert c.accesses["halo_words"] == 4 * 9 * 5
    assert c.accesses["ppu_ops"] == 5 * 8 * 8 + 4 * 9 * 5
    # 5 channels in one group: the slowest tile sends 45 words at 4 words/cycle.
    assert c.halo_cycles == -(-45 // 4)


def test_candidate_subtiles_order():
    got = list(candidate_subtiles(28, 28))
    assert got[:6] == [(1, 1), (2, 1), (2, 2), (3, 2), (3, 3), (4, 3)]
    assert got[-1] == (28, 28)
    assert list(candidate_subtiles(1, 1)) == [(1, 1)]
    assert list(candidate_subtiles(1, 3)) == [(1, 1), (1, 2), (1, 3)]


# ----------------------------------------------------------------- Kc, sub-tiles, IARAM


def test_auto_subtiles_reach_kc_max_on_vgg_like_plane(arch, tensors):
    """224x224 on 8x8 PEs: 28x28 tiles, a 30x30 buffer holds only 1 channel of 1024 entries;
    auto sub-tiling splits until Kc = min(K, kc_max) = 8 fits: (4, 3) sub-tiles, 9x12."""
    lt = tensors(C=4, K=16, R=3, S=3, H=224, W=224, padding=1, wd=0.3, ad=0.3)
    tiling, kc, _, resident = choose_mapping(lt, arch)
    assert kc == 8
    assert tiling.sub == (4, 3)
    assert kc * tiling.BH * tiling.BW <= arch.acc_capacity
    assert (tiling.BH, tiling.BW) == (9, 12)
    assert resident
    # K below kc_max: Kc = K.
    lt4 = tensors(C=4, K=3, R=3, S=3, H=224, W=224, padding=1, wd=0.3, ad=0.3)
    tiling4, kc4, _, _ = choose_mapping(lt4, arch)
    assert kc4 == 3 and 3 * tiling4.BH * tiling4.BW <= arch.acc_capacity
    assert tiling4.n_passes < tiling.n_passes


def test_forced_subtiles_with_small_accumulator_lower_kc(arch, tensors):
    lt = tensors(C=2, K=16, R=3, S=3, H=64, W=64, padding=1)
    t, kc, _, _ = choose_mapping(lt, arch.replace(**{"dataflow.subtiles": [1, 1],
                                                     "dataflow.kc_max": 16}))
    assert (t.BH, t.BW) == (10, 10)
    assert kc == 1024 // 100


def test_iaram_overflow_streams_activations(arch1, tensors):
    """One PE, dense 32x32x16 input: 16384 entries x 20 bits > 10 KB. The activations are not
    resident: they stream from DRAM even though the layer is not the network's first, and
    under half_iaram every pass's sub-tiles fit half the IARAM."""
    lt = tensors(C=16, K=4, R=3, S=3, H=32, W=32, padding=1, wd=0.2, ad=1.0)
    c = simulate_layer(lt, arch1, verify=True)
    assert c.verified
    assert c.mapping["activations_resident"] is False
    assert c.mapping["passes"] > 1
    assert c.accesses["dram_read_bits_act_values"] == c.mapping["act_entries"] * 16 > 0
    assert c.accesses["dram_read_bits_act_index"] == c.mapping["act_entries"] * 4
    half = arch1.replace(**{"dataflow.overflow": "half_iaram"})
    tiling, _, stream, resident = choose_mapping(lt, half)
    assert not resident
    per_tile = np.diff(stream.block_ptr).reshape(tiling.n_tiles, -1).sum(axis=1) * 20
    assert per_tile.max() <= arch1.iaram_bytes * 8 // 2
    # The same tensors at low density do fit.
    sparse = tensors(C=16, K=4, R=3, S=3, H=32, W=32, padding=1, wd=0.2, ad=0.1)
    c = simulate_layer(sparse, arch1, verify=True)
    assert c.mapping["activations_resident"] is True
    assert c.accesses["dram_read_bits_act_values"] == 0


def test_iaram_too_small_for_any_subtile(arch1, tensors):
    lt = tensors(C=64, K=4, R=1, S=1, H=4, W=4, wd=0.5, ad=1.0)
    a = arch1.replace(**{"buffers.iaram_bytes": 64})
    with pytest.raises(SimulationError, match="IARAM"):
        simulate_layer(lt, a, verify=True)
