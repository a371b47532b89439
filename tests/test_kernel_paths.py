"""The two timing kernels of ``engine.kernels`` give equal counts wherever both apply.

``tiles_bitsliced`` (all banks at once, bit-sliced counts) must reproduce ``tiles_general``
(product by product) exactly: every layer count and cycle, for random layers and the
configurations the bit-sliced kernel accepts.
"""

from __future__ import annotations

from unittest import mock

import numpy as np
from hypothesis import HealthCheck, given, settings
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
    return kw, over


def _both(lt, arch):
    out = np.maximum(reference_conv(lt.weights, lt.activations, lt.layer), 0)
    out = out.astype(np.float32)
    fast = simulate_layer(lt, arch, out_activations=out)
    with mock.patch.object(kernels, "bitsliced_applies", lambda *args: False):
        slow = simulate_layer(lt, arch, out_activations=out)
    return fast, slow


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=bitsliced_case())
def test_bitsliced_equals_general(case, arch, tensors):
    kw, over = case
    a = arch.replace(**over)
    assert kernels.bitsliced_applies(a.acc_banks, kernels.MAP_LINEAR, a.F, a.I,
                                     a.queue_depth, False, False)
    fast, slow = _both(tensors(**kw), a)
    assert fast == slow


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


def test_bitsliced_applies_only_where_it_can():
    ok = dict(banks=32, mapping=kernels.MAP_LINEAR, F=4, I=4, depth=4, merges=False,
              on_plane_only=False)
    assert kernels.bitsliced_applies(**ok)
    for change in ({"banks": 64}, {"banks": 24}, {"mapping": kernels.MAP_XOR},
                   {"mapping": kernels.MAP_DNNSIM}, {"merges": True}, {"on_plane_only": True},
                   {"F": 5, "I": 4}, {"depth": 17}):
        assert not kernels.bitsliced_applies(**{**ok, **change}), change
