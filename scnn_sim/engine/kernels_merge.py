"""The merge counters alone: accumulator accesses if products to one address or one wide
word of a vector pair merge, counted on 64-bit address masks beside the bit-sliced timing
(which they do not affect under per-product access)."""

from __future__ import annotations

# The @njit kernels are typed by numba from their arguments at compile time; their parameters
# are annotated `Any` because static numpy typing adds nothing checkable there.
from typing import Any

import numpy as np
from numba import njit, prange

from scnn_sim.engine.kernels_common import _ONE, _ZERO, _vector_starts


@njit(cache=True, inline="always")
def _popcount(x: Any) -> Any:
    """Set bits of a 64-bit word (SWAR)."""
    x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2))
                                               & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return np.int64((x * np.uint64(0x0101010101010101)) >> np.uint64(56))


@njit(cache=True, inline="always")
def _mask_counts(u: Any, not_start: Any, wide_words: Any) -> Any:
    """Distinct addresses and distinct wide words of the address set ``u`` (bit k: address
    base + k), given ``not_start``: the mask of the positions that do not start a word."""
    after = (u << _ONE) & not_start   # positions after a set bit within its word
    for _ in range(wide_words - 2):
        after |= (after << _ONE) & not_start
    return _popcount(u), _popcount(u & ~after)


@njit(cache=True, parallel=True)
def merge_counts(acts: Any, wts: Any, geom: Any, wide_words: Any) -> Any:
    """:func:`tiles_general`'s merge counts alone, without the timing.

    Per (work tile, output-channel group): the accumulator accesses if the products of a
    vector pair that share an address merge into one (``acc_same``), and if one access serves
    a wide word of ``wide_words`` adjacent entries of a buffer row (``acc_wide``). Gated
    placeholders count in neither. Returns ``acc_same, acc_wide``, int64 [T, G].

    A pair's addresses are counted on 64-bit masks: the address set of a run of weights is
    the activation vector's offset mask shifted by each weight's offset (OR); the distinct
    addresses are its set bits, and the distinct wide words are the set bits that no smaller
    set bit of the same wide word precedes (word starts are where a buffer column is a
    multiple of ``wide_words``). Weights (in ascending offset) further apart than the
    activations' span cannot share an address, so they are counted in separate masks, one
    word less where the last address of one and the first of the next share a wide word
    (addresses ascend across masks and a word is never revisited). A pair with a run of
    weights that spans a mask's 64 bits is counted by stamping each address and word with the
    pair's number, as :func:`tiles_general` does.
    """
    a_vals, a_off, a_ptr = acts
    w_vals, w_off, w_ptr = wts
    T, C, CA, c_off, NP, F, I, BH, BW, _, group_kc, _, _, _, _, _, _ = geom
    G = group_kc.shape[0]
    acc_same = np.zeros((T, G), np.int64)
    acc_wide = np.zeros((T, G), np.int64)
    plane = BH * BW
    wide_cols = (BW + wide_words - 1) // wide_words
    kc_max = 0
    for g in range(G):
        kc_max = max(kc_max, group_kc[g])
    n_addr = max(kc_max * plane, 1)
    wide_of = np.empty(n_addr, np.int32)
    for addr in range(n_addr):
        row = addr // BW
        wide_of[addr] = row * wide_cols + (addr - row * BW) // wide_words
    # Per buffer column col0: the mask of the positions k < 64 after it that start a word.
    not_start = np.empty(BW, np.uint64)
    for col0 in range(BW):
        m = _ZERO
        for k in range(64):
            if ((col0 + k) % BW) % wide_words == 0:
                m |= _ONE << np.uint64(k)
        not_start[col0] = ~m
    # Weight vectors (shared by all tiles): the smallest offset of the weights that multiply
    # (-1 span: none), their span and number, and each one's offset from the smallest in
    # ascending order, padded with the first (an OR ignores repeats).
    n_wblk = w_ptr.shape[0] - 1
    w_vec = _vector_starts(w_ptr, F)
    n_wv = w_vec[n_wblk]
    w_min = np.zeros(n_wv, np.int64)
    w_col = np.zeros(n_wv, np.int64)    # w_min mod BW: no division per pair
    w_span = np.full(n_wv, -1, np.int64)
    w_n = np.zeros(n_wv, np.int64)
    w_rel = np.zeros(n_wv * F, np.int64)
    for b in range(n_wblk):
        for v in range(w_vec[b], w_vec[b + 1]):
            j_lo = w_ptr[b] + (v - w_vec[b]) * F
            j_hi = min(j_lo + F, w_ptr[b + 1])
            lo = 1 << 62
            hi = -(1 << 62)
            for j in range(j_lo, j_hi):
                if w_vals[j] != 0.0:
                    lo = min(lo, w_off[j])
                    hi = max(hi, w_off[j])
            if hi < lo:
                continue
            w_min[v] = lo
            w_col[v] = lo % BW
            w_span[v] = hi - lo
            q = v * F
            for j in range(j_lo, j_hi):
                if w_vals[j] != 0.0:
                    x = w_off[j] - lo
                    k = q + w_n[v]
                    while k > q and w_rel[k - 1] > x:   # insertion sort
                        w_rel[k] = w_rel[k - 1]
                        k -= 1
                    w_rel[k] = x
                    w_n[v] += 1

    for t in prange(T):
        addr_stamp = np.full(n_addr, -1, np.int32)
        wide_stamp = np.full(max(kc_max * BH * wide_cols, 1), -1, np.int32)
        pid = 0
        # Activation vectors of this tile, blocks (c, p): smallest offset of the activations
        # that multiply, span (-1: none) and offset mask from the smallest.
        n_blk = C * NP
        a_vec = np.empty(n_blk + 1, np.int64)
        a_vec[0] = 0
        for bb in range(n_blk):
            ab = (t * NP + bb % NP) * CA + c_off + bb // NP
            a_vec[bb + 1] = a_vec[bb] + (a_ptr[ab + 1] - a_ptr[ab] + I - 1) // I
        n_av = a_vec[n_blk]
        a_min = np.zeros(n_av, np.int64)
        a_col = np.zeros(n_av, np.int64)
        a_span = np.full(n_av, -1, np.int64)
        a_mask = np.zeros(n_av, np.uint64)
        for bb in range(n_blk):
            ab = (t * NP + bb % NP) * CA + c_off + bb // NP
            for e in range(a_ptr[ab], a_ptr[ab + 1]):
                if a_vals[e] == 0.0:
                    continue
                v = a_vec[bb] + (e - a_ptr[ab]) // I
                if a_span[v] < 0:
                    a_min[v] = a_off[e]
                    a_col[v] = a_off[e] % BW
                d = a_off[e] - a_min[v]    # offsets ascend within a vector
                a_span[v] = d
                if d < 64:
                    a_mask[v] |= _ONE << np.uint64(d)
        for g in range(G):
            s_same = 0
            s_wide = 0
            for c in range(C):
                for p in range(NP):
                    bb = c * NP + p
                    ab = (t * NP + p) * CA + c_off + c
                    wb = (g * NP + p) * C + c
                    if a_ptr[ab + 1] == a_ptr[ab] or w_ptr[wb + 1] == w_ptr[wb]:
                        continue
                    for va in range(a_vec[bb], a_vec[bb + 1]):
                        if a_span[va] < 0:
                            continue   # every activation gated: no product
                        am = a_mask[va]
                        for vw in range(w_vec[wb], w_vec[wb + 1]):
                            if w_span[vw] < 0:
                                continue   # every weight gated
                            asp = a_span[va]
                            q0 = vw * F
                            if w_span[vw] + asp < 64:   # one mask (padding: offset 0)
                                wcol = w_col[vw] + a_col[va]   # (w_min + a_min) mod BW
                                if wcol >= BW:
                                    wcol -= BW
                                u = _ZERO
                                for q in range(q0, q0 + F):
                                    u |= am << np.uint64(w_rel[q])
                                n_s, n_w = _mask_counts(
                                    u, not_start[wcol], wide_words)
                                s_same += n_s
                                s_wide += n_w
                                continue
                            # Runs of weights no further apart than the activations' span.
                            n_s = 0
                            n_w = 0
                            fits = True
                            last_word = -1
                            lo = w_rel[q0]
                            u = _ZERO
                            for q in range(q0, q0 + w_n[vw] + 1):
                                if q == q0 + w_n[vw] or (q > q0 and w_rel[q] - w_rel[q - 1] > asp):
                                    base = w_min[vw] + lo + a_min[va]
                                    m_s, m_w = _mask_counts(u, not_start[base % BW],
                                                            wide_words)
                                    n_s += m_s
                                    n_w += m_w - (1 if wide_of[base] == last_word else 0)
                                    last_word = wide_of[w_min[vw] + w_rel[q - 1] + a_min[va]
                                                        + asp]
                                    if q == q0 + w_n[vw]:
                                        break
                                    lo = w_rel[q]
                                    u = _ZERO
                                if w_rel[q] - lo + asp >= 64:
                                    fits = False
                                    break
                                u |= am << np.uint64(w_rel[q] - lo)
                            if fits:
                                s_same += n_s
                                s_wide += n_w
                                continue
                            pid += 1
                            if pid == 2147483000:  # int32 stamps: restart before overflow
                                addr_stamp[:] = -1
                                wide_stamp[:] = -1
                                pid = 0
                            i_lo = a_ptr[ab] + (va - a_vec[bb]) * I
                            i_hi = min(i_lo + I, a_ptr[ab + 1])
                            j_lo = w_ptr[wb] + (vw - w_vec[wb]) * F
                            j_hi = min(j_lo + F, w_ptr[wb + 1])
                            for j in range(j_lo, j_hi):
                                if w_vals[j] == 0.0:
                                    continue
                                wo = w_off[j]
                                for i in range(i_lo, i_hi):
                                    if a_vals[i] == 0.0:
                                        continue
                                    addr = wo + a_off[i]
                                    s_same += 1 if addr_stamp[addr] != pid else 0
                                    addr_stamp[addr] = pid
                                    wkey = wide_of[addr]
                                    s_wide += 1 if wide_stamp[wkey] != pid else 0
                                    wide_stamp[wkey] = pid
            acc_same[t, g] = s_same
            acc_wide[t, g] = s_wide
    return acc_same, acc_wide
