"""The two timing kernels of ``engine.kernels`` give equal counts wherever both apply.

``tiles_bitsliced`` (all banks at once, bit-sliced counts) must reproduce ``tiles_general``
(product by product) exactly: every layer count and cycle, for random layers and the
configurations the bit-sliced kernel accepts, with the merge counts (``count_merges``) that
``merge_counts`` adds beside it.
"""

from __future__ import annotations

from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from scnn_sim.engine import kernels
from scnn_sim.engine.layer import reference_conv, simulate_layer


@st.composite
def bitsliced_case(draw):
    groups = draw(st.sampled_from([1, 1, 2]))
    R = draw(st.integers(1, 5))
    S = draw(st.integers(1, 5))
    pad = draw(st.integers(0, 2))
    kw = dict(C=draw(st.integers(1, 4)) * groups, K=draw(st.integers(1, 9)) * groups, R=R, S=S,
              H=draw(st.integers(max(1, R - 2 * pad), 14)),
              W=draw(st.integers(max(1, S - 2 * pad), 14)),
              stride=draw(st.sampled_from([1, 1, 2, 3])), padding=pad, groups=groups,
              wd=draw(st.sampled_from([0.1, 0.3, 0.6, 1.0])),
              ad=draw(st.sampled_from([0.05, 0.3, 0.7, 1.0])),
              seed=draw(st.integers(0, 10_000)))
    banks = draw(st.sampled_from([1, 2, 4, 8, 16, 32]))
    F, I = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    over = {
        "pe_array.rows": draw(st.integers(1, 3)),
        "pe_array.cols": draw(st.integers(1, 3)),
        "multiplier.F": F,
        "multiplier.I": I,
        "accumulator.banks": banks,
        "accumulator.entries_per_bank": max(32, 512 // banks),
        "accumulator.contention": draw(st.sampled_from(["queued", "lockstep"])),
        # Up to the largest depth the five bit planes hold.
        "accumulator.queue_depth": draw(st.integers(1, 12) | st.just(32 - F * I)),
        "data.index_bits": draw(st.sampled_from([2, 4])),
        "dataflow.kc_max": draw(st.integers(1, 8)),
        "dataflow.tiling": draw(st.sampled_from(["balanced", "ceil", "padded"])),
        "dataflow.barrier": draw(st.sampled_from(["group", "input_channel"])),
    }
    if draw(st.booleans()):
        over["dataflow.subtiles"] = [draw(st.integers(1, 3)), draw(st.integers(1, 3))]
    if draw(st.booleans()):
        over["accumulator.wide_words"] = draw(st.sampled_from([1, 2, 3, 4]))
    return kw, over, draw(st.booleans())


def _both(lt, arch, count_merges=False):
    out = np.maximum(reference_conv(lt.weights, lt.activations, lt.layer), 0)
    out = out.astype(np.float32)
    fast = simulate_layer(lt, arch, out_activations=out, count_merges=count_merges)
    with mock.patch.object(kernels, "bitsliced_applies", lambda *args: False):
        slow = simulate_layer(lt, arch, out_activations=out, count_merges=count_merges)
    return fast, slow


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=bitsliced_case())
def test_bitsliced_equals_general(case, arch, tensors):
    kw, over, count_merges = case
    a = arch.replace(**over)
    assert kernels.bitsliced_applies(a.acc_banks, kernels.MAP_LINEAR, a.F, a.I,
                                     a.queue_depth, False, False)
    fast, slow = _both(tensors(**kw), a, count_merges)
    assert fast == slow
    if count_merges:
        assert fast.accumulator_accesses["same_address"] is not None


def test_bitsliced_equals_general_under_heavy_conflicts(arch, tensors):
    """Two banks, depth 1, dense 4 x 4 pairs: stalls on most pairs, multi-cycle waits."""
    lt = tensors(C=6, K=16, R=3, S=3, H=12, W=12, padding=1, wd=1.0, ad=1.0, seed=3)
    for cont in ("queued", "lockstep"):
        a = arch.replace(**{"accumulator.banks": 2, "accumulator.entries_per_bank": 1024,
                            "accumulator.queue_depth": 1, "accumulator.contention": cont,
                            "pe_array.rows": 2, "pe_array.cols": 2})
        fast, slow = _both(lt, a)
        assert fast.conflict_stall_cycles > 3 * fast.busy_cycles
        assert fast == slow


@pytest.mark.parametrize("banks,depth", [(4, 4), (4, 6), (8, 5), (8, 7), (2, 3)])
def test_bitsliced_equals_general_with_deep_queues(arch, tensors, banks, depth):
    """Queues that fill past three bits (depth above 4, or activation vectors hitting one bank
    twice) between pairs the three-plane step takes: the hand-over must keep every count."""
    lt = tensors(C=5, K=12, R=3, S=3, H=11, W=11, padding=1, wd=0.9, ad=0.8, seed=depth)
    a = arch.replace(**{"accumulator.banks": banks, "accumulator.entries_per_bank": 1024,
                        "accumulator.queue_depth": depth, "pe_array.rows": 2,
                        "pe_array.cols": 2})
    fast, slow = _both(lt, a)
    assert fast.conflict_stall_cycles > 0.1 * fast.busy_cycles
    assert fast == slow


def test_bitsliced_applies_only_where_it_can():
    ok = dict(banks=32, mapping=kernels.MAP_LINEAR, F=4, I=4, depth=4, merged_access=False,
              on_plane_only=False)
    assert kernels.bitsliced_applies(**ok)
    for change in ({"banks": 64}, {"banks": 24}, {"mapping": kernels.MAP_XOR},
                   {"mapping": kernels.MAP_DNNSIM}, {"merged_access": True},
                   {"on_plane_only": True}, {"F": 5, "I": 4}, {"depth": 17}):
        assert not kernels.bitsliced_applies(**{**ok, **change}), change


def test_merge_counts_beside_the_bitsliced_timing(arch, tensors):
    """Per-product access with merge counts keeps the bit-sliced timing and adds the counts
    of the product-by-product kernel: distinct addresses and wide words per vector pair."""
    lt = tensors(C=4, K=8, R=3, S=3, H=10, W=10, padding=1, wd=0.8, ad=0.9, seed=5)
    a = arch.replace(**{"pe_array.rows": 2, "pe_array.cols": 2, "accumulator.wide_words": 4})
    calls = []
    real = kernels.tiles_bitsliced

    def spy(*args):
        calls.append(1)
        return real(*args)

    with mock.patch.object(kernels, "tiles_bitsliced", spy):
        fast, slow = _both(lt, a, count_merges=True)
    assert calls, "the bit-sliced kernel did not time the merge-counting run"
    assert fast == slow
    # Dense 3x3 weights on a dense plane: pairs do share addresses and wide words.
    acc = fast.accumulator_accesses
    assert acc["wide"] < acc["same_address"] < acc["per_product"] == fast.products


def _merge_counts_by_hand(a_vals, a_off, w_vals, w_off, F, I, BW, wide_words):
    """Distinct addresses and wide words per vector pair, summed: the definition."""
    wide_cols = -(-BW // wide_words)
    same = wide = 0
    for i0 in range(0, len(a_off), I):
        for j0 in range(0, len(w_off), F):
            addrs = {w_off[j] + a_off[i] for j in range(j0, min(j0 + F, len(w_off)))
                     for i in range(i0, min(i0 + I, len(a_off)))
                     if w_vals[j] != 0 and a_vals[i] != 0}
            same += len(addrs)
            wide += len({(x // BW) * wide_cols + (x % BW) // wide_words for x in addrs})
    return same, wide


GAPS = st.sampled_from([0, 1, 1, 2, 3, 5, 31, 32, 33, 60, 61, 62, 63, 64, 65, 130])


@settings(max_examples=300, deadline=None)
# A word of three holding two addresses with a gap: the fill must reach two past the first.
@example(F=4, I=4, BW=40, wide_words=3, a_gaps=[2], w_gaps=[], w_k=[0] * 8,
         a_gated=[False] * 8, w_gated=[False] * 8, a_start=0, extra_rows=0)
# Two runs of weights (gap 1 > the single activation's span 0, the run spanning 64 or more)
# whose boundary addresses share a wide word.
@example(F=4, I=1, BW=40, wide_words=4, a_gaps=[], w_gaps=[1, 70, 1], w_k=[0] * 8,
         a_gated=[False] * 8, w_gated=[False] * 8, a_start=0, extra_rows=0)
# Spans of exactly 63 (one mask) and 64 (not).
@example(F=2, I=2, BW=40, wide_words=2, a_gaps=[31], w_gaps=[32], w_k=[0] * 8,
         a_gated=[False] * 8, w_gated=[False] * 8, a_start=1, extra_rows=0)
@example(F=2, I=2, BW=40, wide_words=2, a_gaps=[32], w_gaps=[32], w_k=[0] * 8,
         a_gated=[False] * 8, w_gated=[False] * 8, a_start=1, extra_rows=0)
@given(F=st.integers(1, 4), I=st.integers(1, 4), BW=st.integers(1, 40),
       wide_words=st.sampled_from([1, 2, 3, 4, 8]),
       a_gaps=st.lists(GAPS.filter(bool), min_size=0, max_size=7),
       w_gaps=st.lists(GAPS, min_size=0, max_size=7),
       w_k=st.lists(st.integers(0, 2), min_size=8, max_size=8),
       a_gated=st.lists(st.booleans(), min_size=8, max_size=8),
       w_gated=st.lists(st.booleans(), min_size=8, max_size=8),
       a_start=st.integers(0, 70), extra_rows=st.integers(0, 2))
def test_merge_counts_by_definition(F, I, BW, wide_words, a_gaps, w_gaps, w_k, a_gated,
                                    w_gated, a_start, extra_rows):
    """``merge_counts`` on one block of hand-made offsets against the definition. The gaps
    between offsets straddle a 64-bit mask's reach, so pairs take every path: one mask, runs
    of weights in separate masks (adjacent runs sharing a wide word among them) and stamps."""
    a_off = a_start + np.cumsum([0, *a_gaps])
    w_rel = np.cumsum([0, *w_gaps])
    reach = int(a_off.max() + w_rel.max()) + 1
    BH = -(-reach // BW) + extra_rows
    plane = BH * BW
    w_off = (np.array(w_k[: w_rel.size]) * plane + w_rel).astype(np.int32)
    a_off = a_off.astype(np.int32)
    # Gated placeholders (value 0): never all, so that some pairs multiply.
    a_vals = np.array([0.0 if g else 1.0 for g in a_gated[: a_off.size]], np.float32)
    w_vals = np.array([0.0 if g else 1.0 for g in w_gated[: w_off.size]], np.float32)
    a_vals[0] = w_vals[-1] = 1.0
    kc = int(w_off.max()) // plane + 1
    one = np.zeros(1, np.int64)
    geom = kernels.Geometry(T=1, C=1, CA=1, c_off=0, NP=1, F=F, I=I, BH=BH, BW=BW,
                            group_k0=one, group_kc=np.array([kc]), tile_oy=one, tile_ox=one,
                            k_base=0, P=BH, Q=BW, K_out=kc)
    got = kernels.merge_counts(kernels.Stream(a_vals, a_off, np.array([0, a_off.size])),
                               kernels.Stream(w_vals, w_off, np.array([0, w_off.size])),
                               geom, wide_words)
    want = _merge_counts_by_hand(a_vals, a_off, w_vals, w_off, F, I, BW, wide_words)
    assert (int(got[0][0, 0]), int(got[1][0, 0])) == want


@pytest.mark.parametrize("user", [None, "ACTIVE"])
def test_thread_policy_default_and_override(user):
    """The kernels make OpenMP workers sleep between parallel sections (PASSIVE) unless the
    user chose a wait policy; set before any parallel kernel starts the OpenMP runtime."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if user is not None:
        env["OMP_WAIT_POLICY"] = user
    code = ("import os, scnn_sim.engine.kernels as k; "
            "print(os.environ['OMP_WAIT_POLICY'])")
    out = subprocess.run([sys.executable, "-c", code], env=env, check=True,
                         capture_output=True, text=True).stdout.strip()
    assert out == (user or "PASSIVE")


def test_threads_for_load():
    """All cores on an idle machine (the load is this process), fewer as other processes
    fill them, never fewer than one nor more than numba allows."""
    assert kernels.threads_for_load(1.0, 2, 2) == 2
    assert kernels.threads_for_load(0.0, 4, 4) == 4
    assert kernels.threads_for_load(2.0, 2, 2) == 1
    assert kernels.threads_for_load(2.6, 4, 4) == 2
    assert kernels.threads_for_load(40.0, 8, 8) == 1
    assert kernels.threads_for_load(0.0, 16, 3) == 3


def test_thread_policy_follows_the_load_unless_fixed(arch, tensors, monkeypatch):
    import os

    import numba

    lt = tensors(C=2, K=4, R=3, S=3, H=8, W=8, padding=1)
    out = np.maximum(reference_conv(lt.weights, lt.activations, lt.layer), 0)
    top = numba.config.NUMBA_NUM_THREADS
    monkeypatch.delenv("NUMBA_NUM_THREADS", raising=False)
    monkeypatch.setattr(kernels, "_threads_set", [])
    numba.set_num_threads(top)
    try:
        monkeypatch.setattr(os, "getloadavg", lambda: (50.0, 50.0, 50.0))
        simulate_layer(lt, arch, out_activations=out.astype(np.float32))
        assert numba.get_num_threads() == 1
        monkeypatch.setattr(os, "getloadavg", lambda: (0.0, 0.0, 0.0))
        simulate_layer(lt, arch, out_activations=out.astype(np.float32))
        assert numba.get_num_threads() == kernels.threads_for_load(0.0, os.cpu_count(), top)
        # A count chosen by other code (a sweep worker), or NUMBA_NUM_THREADS, is kept.
        numba.set_num_threads(1)
        simulate_layer(lt, arch, out_activations=out.astype(np.float32))
        assert numba.get_num_threads() == 1
        monkeypatch.setenv("NUMBA_NUM_THREADS", str(top))
        monkeypatch.setattr(kernels, "_threads_set", [])
        simulate_layer(lt, arch, out_activations=out.astype(np.float32))
        assert numba.get_num_threads() == 1
    finally:
        numba.set_num_threads(top)
