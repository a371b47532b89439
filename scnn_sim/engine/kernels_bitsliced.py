"""The bit-sliced timing kernel: :func:`tiles_general`'s counts, all banks at once.

For the common case (linear ``addr mod banks`` mapping with a power-of-two ``banks <= 32``,
every product loading a bank, bank queues receiving every product) the per-product work is
replaced by word operations on all banks at once. A set of banks is a bit mask (lane ``b`` =
bank ``b``). Since ``(w + a) mod banks`` is ``a mod banks`` rotated by ``w mod banks``, the
banks that one weight's products hit are the activation vector's bank mask rotated by the
weight's bank: one shift. Per-bank counts (a pair's bank loads, the queue occupancies) are
kept bit-sliced: plane ``k`` is the mask of the banks whose count has bit ``k`` set, so adding
two count vectors, comparing them with the depth and draining one update from every queue
are a few ``and``/``or``/``xor`` of whole planes. The queue rule is the same as
:func:`~scnn_sim.engine.kernels_general.tiles_general`'s; only its arithmetic is done 32 banks
at a time. ``tests/test_kernel_paths.py`` checks both kernels give equal counts.
"""

from __future__ import annotations

# The @njit kernels are typed by numba from their arguments at compile time; their parameters
# are annotated `Any` because static numpy typing adds nothing checkable there.
from typing import Any

import numpy as np
from numba import njit, prange

from scnn_sim.engine.kernels_common import (
    _ALL,
    _ONE,
    _ZERO,
    LOCKSTEP,
    QUEUED,
    _close_group,
    _count_arrays,
    _vector_starts,
)

# --------------------------------------------------------------------------------------------
# Per-bank counts as five bit planes of 64-bit masks (lane b = bank b).
# --------------------------------------------------------------------------------------------


@njit(cache=True, inline="always")
def _rotate(a2: Any, shift: Any, lanes: Any) -> Any:
    """Bank mask ``a2`` (doubled: ``a | a << banks``) rotated by ``banks - shift``; shift 0
    means no weight in the slot (an empty mask)."""
    return (a2 >> np.uint64(shift)) & (lanes if shift != 0 else _ZERO)


@njit(cache=True, inline="always")
def _sum4(m0: Any, m1: Any, m2: Any, m3: Any) -> Any:
    """Per-lane count (planes b0, b1, b2) of four one-bit masks: a carry-save adder tree."""
    s01 = m0 ^ m1
    c01 = m0 & m1
    s23 = m2 ^ m3
    c23 = m2 & m3
    b0 = s01 ^ s23
    c0 = s01 & s23
    t = c01 ^ c23
    return b0, t ^ c0, (c01 & c23) | (t & c0)


@njit(cache=True, inline="always")
def _add(o0: Any, o1: Any, o2: Any, o3: Any, o4: Any, l0: Any, l1: Any, l2: Any, l3: Any,
         l4: Any) -> Any:
    """Lane-wise sum of two five-plane counts (no lane exceeds 31)."""
    s0 = o0 ^ l0
    c = o0 & l0
    x = o1 ^ l1
    s1 = x ^ c
    c = (o1 & l1) | (c & x)
    x = o2 ^ l2
    s2 = x ^ c
    c = (o2 & l2) | (c & x)
    x = o3 ^ l3
    s3 = x ^ c
    c = (o3 & l3) | (c & x)
    return s0, s1, s2, s3, o4 ^ l4 ^ c


@njit(cache=True, inline="always")
def _exceeds(s0: Any, s1: Any, s2: Any, s3: Any, s4: Any, g0: Any, g1: Any, g2: Any, g3: Any,
             g4: Any) -> Any:
    """Mask of the lanes whose count exceeds ``depth``: the carry out of ``count + (31 -
    depth)``, whose bits are given as all-ones or zero masks ``g0..g4``."""
    c = s0 & g0
    c = (s1 & c) | ((s1 | c) & g1)
    c = (s2 & c) | ((s2 | c) & g2)
    c = (s3 & c) | ((s3 | c) & g3)
    return (s4 & c) | ((s4 | c) & g4)


@njit(cache=True, inline="always")
def _drain1(s0: Any, s1: Any, s2: Any, s3: Any, s4: Any) -> Any:
    """One cycle: every non-empty lane minus one."""
    b = s0 | s1 | s2 | s3 | s4
    o0 = s0 ^ b
    b &= ~s0
    o1 = s1 ^ b
    b &= ~s1
    o2 = s2 ^ b
    b &= ~s2
    o3 = s3 ^ b
    b &= ~s3
    return o0, o1, o2, o3, s4 ^ b


@njit(cache=True, inline="always")
def _drain(o0: Any, o1: Any, o2: Any, o3: Any, o4: Any, w: Any) -> Any:
    """``w`` cycles (0 <= w < 32): every lane minus ``w``, not below zero."""
    w0 = _ALL if w & 1 else _ZERO
    w1 = _ALL if w & 2 else _ZERO
    w2 = _ALL if w & 4 else _ZERO
    w3 = _ALL if w & 8 else _ZERO
    w4 = _ALL if w & 16 else _ZERO
    d0 = o0 ^ w0
    br = ~o0 & w0
    d1 = o1 ^ w1 ^ br
    br = (~o1 & (w1 | br)) | (o1 & w1 & br)
    d2 = o2 ^ w2 ^ br
    br = (~o2 & (w2 | br)) | (o2 & w2 & br)
    d3 = o3 ^ w3 ^ br
    br = (~o3 & (w3 | br)) | (o3 & w3 & br)
    d4 = o4 ^ w4 ^ br
    br = (~o4 & (w4 | br)) | (o4 & w4 & br)
    keep = ~br  # lanes that did not go below zero
    return d0 & keep, d1 & keep, d2 & keep, d3 & keep, d4 & keep


@njit(cache=True, inline="always")
def _issue3(o0: Any, o1: Any, l0: Any, l1: Any, l2: Any, h0: Any, h1: Any, h2: Any) -> Any:
    """:func:`_issue` under ``QUEUED`` for occupancies below 4 (planes ``o0, o1``) and loads of
    at most 4 (``l0..l2``), whose sums fit three planes, when no bank lacks room.

    Returns the new occupancies (three planes) and whether the pair issued without waiting;
    if not, :func:`_issue` must take the pair. ``h0..h2`` are the bits of ``7 - depth`` as
    masks (the carry out of ``count + 7 - depth``: count > depth; depth <= 7).
    """
    s0 = o0 ^ l0
    c = o0 & l0
    x = o1 ^ l1
    s1 = x ^ c
    s2 = l2 ^ ((o1 & l1) | (c & x))
    c = s0 & h0
    c = (s1 & c) | ((s1 | c) & h1)
    c = (s2 & c) | ((s2 | c) & h2)
    if c & (l0 | l1 | l2) != _ZERO:
        return o0, o1, _ZERO, False
    b = s0 | s1 | s2   # drain one update from every non-empty queue
    d0 = s0 ^ b
    b &= ~s0
    d1 = s1 ^ b
    b &= ~s1
    return d0, d1, s2 ^ b, True


@njit(cache=True, inline="always")
def _lane(s0: Any, s1: Any, s2: Any, s3: Any, s4: Any, b: Any) -> Any:
    """The count of lane ``b``."""
    u = np.uint64(b)
    return np.int64(((s0 >> u) & _ONE) | (((s1 >> u) & _ONE) << np.uint64(1))
                    | (((s2 >> u) & _ONE) << np.uint64(2))
                    | (((s3 >> u) & _ONE) << np.uint64(3))
                    | (((s4 >> u) & _ONE) << np.uint64(4)))


@njit(cache=True, inline="always")
def _max_lane(s0: Any, s1: Any, s2: Any, s3: Any, s4: Any) -> Any:
    """The largest lane count: from the top plane down, keep the lanes that have the bit."""
    v = 0
    live = _ALL
    for k, s in ((4, s4), (3, s3), (2, s2), (1, s1), (0, s0)):
        hit = live & s
        if hit != _ZERO:
            v += 1 << k
            live = hit
    return v


@njit(cache=True, inline="always")
def _issue(o0: Any, o1: Any, o2: Any, o3: Any, o4: Any, l0: Any, l1: Any, l2: Any, l3: Any, l4: Any,
           g0: Any, g1: Any, g2: Any, g3: Any, g4: Any, contention: Any, depth: Any,
           banks: Any) -> Any:
    """One vector pair with bank loads ``l``: the new queue occupancies ``o`` and the stall.

    The rule of :func:`tiles_general`: under ``QUEUED`` the pair waits until every bank it
    loads has room (occupancy + load <= depth, or an empty queue for a load above depth),
    then adds its loads; one cycle drains one update per bank. Under ``LOCKSTEP`` it stalls
    for its most-loaded bank.
    """
    if contention == LOCKSTEP:
        return o0, o1, o2, o3, o4, max(_max_lane(l0, l1, l2, l3, l4) - 1, 0)
    s0, s1, s2, s3, s4 = _add(o0, o1, o2, o3, o4, l0, l1, l2, l3, l4)
    # Banks that may lack room (occupancy + load > depth), checked one by one.
    over = _exceeds(s0, s1, s2, s3, s4, g0, g1, g2, g3, g4) & (l0 | l1 | l2 | l3 | l4)
    wait = 0
    if over != _ZERO:
        for b in range(banks):
            if (over >> np.uint64(b)) & _ONE:
                wait = max(wait, _lane(s0, s1, s2, s3, s4, b)
                           - max(depth, _lane(l0, l1, l2, l3, l4, b)))
        if wait > 0:
            o0, o1, o2, o3, o4 = _drain(o0, o1, o2, o3, o4, wait)
            s0, s1, s2, s3, s4 = _add(o0, o1, o2, o3, o4, l0, l1, l2, l3, l4)
    o0, o1, o2, o3, o4 = _drain1(s0, s1, s2, s3, s4)
    return o0, o1, o2, o3, o4, wait



@njit(cache=True, parallel=True)
def tiles_bitsliced(acts: Any, wts: Any, geom: Any, model: Any) -> Any:
    """:func:`tiles_general`'s counts for the linear mapping, 32 banks at a time.

    Preconditions: :func:`bitsliced_applies`. Per work tile the activation vectors are first
    reduced to bank masks (a vector whose entries share a bank gets one mask per multiplicity,
    so every mask is a set); per vector pair the bank loads are the sum over the pair's weights
    of those masks rotated by the weight's bank, and the queue occupancies are updated with
    the rule of :func:`tiles_general` on whole planes (:func:`_issue`). Products are counted
    per block; those off the output plane are counted only for activations near the plane's
    border, from how many weights of each reach the block has.
    Arguments as :func:`~scnn_sim.engine.kernels.simulate_tiles`; returns the counts of
    ``[len(COUNT_NAMES), T, G]`` and the cycles per input channel (merge counts zero).
    """
    a_vals, a_off, a_ptr = acts
    w_vals, w_off, w_ptr = wts
    T, C, CA, c_off, NP, F, I, BH, BW, _, group_kc, tile_oy, tile_ox, _, P, Q, _ = geom
    banks, _, contention, depth, _, per_channel, _, _, _ = model
    G = group_kc.shape[0]
    counts, chan = _count_arrays(T, G, C if per_channel else 1)

    plane = BH * BW
    lanes = (_ONE << np.uint64(banks)) - _ONE
    bmod = banks - 1
    # Bits of 31 - depth as masks, for _exceeds.
    spare = 31 - depth
    g0 = _ALL if spare & 1 else _ZERO
    g1 = _ALL if spare & 2 else _ZERO
    g2 = _ALL if spare & 4 else _ZERO
    g3 = _ALL if spare & 8 else _ZERO
    g4 = _ALL if spare & 16 else _ZERO
    # Queued banks: while every occupancy is below 4, a four-mask pair (loads <= 4) sums to
    # at most 7 and _issue3 takes it on three planes (the bits of 7 - depth as masks). With
    # depth <= 4 and F <= 4 occupancies stay below 4 after every such pair.
    three = contention == QUEUED and depth <= 7
    h0 = _ALL if (7 - depth) & 1 else _ZERO
    h1 = _ALL if (7 - depth) & 2 else _ZERO
    h2 = _ALL if (7 - depth) & 4 else _ZERO

    # Weight vectors (shared by all tiles): per slot the shift that rotates a doubled bank
    # mask by the weight's bank (0: padding or a gated placeholder); per block the weights
    # that multiply.
    n_wblk = w_ptr.shape[0] - 1
    w_vec = _vector_starts(w_ptr, F)
    slots = 4 if F <= 4 else F   # F <= 4: padded to four slots, all on the 4-mask path
    w_shift = np.zeros(w_vec[n_wblk] * slots, np.uint8)
    w_nz = np.zeros(n_wblk, np.int64)
    # The reach of a weight, (-offset) mod plane: how far before its activation (in buffer
    # positions) the product lands. Per block, the weights of each distinct reach.
    reach_of = np.full(max(plane, 1), -1, np.int64)
    n_reach = 0
    for e in range(w_off.shape[0]):
        m = (-w_off[e]) % plane
        if w_vals[e] != 0.0 and reach_of[m] < 0:
            reach_of[m] = n_reach
            n_reach += 1
    reach_at = np.empty(n_reach, np.int64)
    for m in range(plane):
        if reach_of[m] >= 0:
            reach_at[reach_of[m]] = m
    w_reach = np.zeros(n_wblk * n_reach, np.int64)
    for b in range(n_wblk):
        for e in range(w_ptr[b], w_ptr[b + 1]):
            if w_vals[e] != 0.0:
                k = e - w_ptr[b]
                w_shift[(w_vec[b] + k // F) * slots + k % F] = banks - (w_off[e] & bmod)
                w_nz[b] += 1
                w_reach[b * n_reach + reach_of[(-w_off[e]) % plane]] += 1

    for t in prange(T):
        oy = tile_oy[t]
        ox = tile_ox[t]
        # Off-plane products are possible only in a tile whose buffer leaves the plane. The
        # validity of a position is the same in every output channel's part of the buffer.
        inside = oy >= 0 and oy + BH <= P and ox >= 0 and ox + BW <= Q
        valid = np.ones(plane if not inside else 1, np.bool_)
        if not inside:
            for row in range(BH):
                for col in range(BW):
                    valid[row * BW + col] = 0 <= oy + row < P and 0 <= ox + col < Q
        # Activation vectors of blocks (c, p), in loop order: bank masks, doubled (x | x <<
        # banks) so that rotating by r is one shift right by banks - r. The blocks with
        # activations are listed with what the group loop needs of them (no division there).
        n_blk = C * NP
        a_vec = np.empty(n_blk + 1, np.int64)
        a_vec[0] = 0
        act_c = np.empty(n_blk, np.int64)        # blocks with activations, in loop order:
        act_p = np.empty(n_blk, np.int64)        # channel, phase, entries, vectors, first
        act_na = np.empty(n_blk, np.int64)       # vector and multiplying activations
        act_nav = np.empty(n_blk, np.int64)
        act_va0 = np.empty(n_blk, np.int64)
        act_nz = np.zeros(n_blk, np.int64)
        n_active = 0
        bb = 0
        for c in range(C):
            for p in range(NP):
                ab = (t * NP + p) * CA + c_off + c
                na = a_ptr[ab + 1] - a_ptr[ab]
                nav = (na + I - 1) // I
                a_vec[bb + 1] = a_vec[bb] + nav
                if na > 0:
                    act_c[n_active] = c
                    act_p[n_active] = p
                    act_na[n_active] = na
                    act_nav[n_active] = nav
                    act_va0[n_active] = a_vec[bb]
                    n_active += 1
                bb += 1
        n_av = a_vec[n_blk]
        a_sets = np.zeros(n_av * I, np.uint64)   # masks of vector v: a_sets[v*I : v*I + n]
        a_nsets = np.zeros(n_av, np.int64)
        # Per block near the border: its activations whose product with a weight of each
        # reach lands off the plane (dense, then as a list of the non-zero (reach, count)).
        blk_off = np.zeros(n_active * n_reach if not inside else 1, np.int64)
        for ib in range(n_active):
            e_lo = a_ptr[(t * NP + act_p[ib]) * CA + c_off + act_c[ib]]
            e_end = e_lo + act_na[ib]
            for v in range(act_va0[ib], act_va0[ib] + act_nav[ib]):
                for e in range(e_lo, min(e_lo + I, e_end)):
                    if a_vals[e] == 0.0:
                        continue
                    act_nz[ib] += 1
                    bit = _ONE << np.uint64(a_off[e] & bmod)
                    q = 0
                    while q < a_nsets[v] and a_sets[v * I + q] & bit:
                        q += 1
                    a_sets[v * I + q] |= bit
                    a_nsets[v] = max(a_nsets[v], q + 1)
                    if not inside:
                        for r in range(n_reach):
                            d = a_off[e] - reach_at[r]
                            if d < 0 or d >= plane:
                                d %= plane
                            if not valid[d]:
                                blk_off[ib * n_reach + r] += 1
                e_lo += I
        for i in range(n_av * I):
            a_sets[i] |= a_sets[i] << np.uint64(banks)
        off_ptr = np.zeros(n_active + 1, np.int64)
        n_off = 0
        for i in range(blk_off.shape[0] if not inside else 0):
            n_off += 1 if blk_off[i] != 0 else 0
        off_r = np.empty(n_off, np.int64)
        off_n = np.empty(n_off, np.int64)
        k = 0
        for ib in range(n_active if not inside else 0):
            for r in range(n_reach):
                if blk_off[ib * n_reach + r] != 0:
                    off_r[k] = r
                    off_n[k] = blk_off[ib * n_reach + r]
                    k += 1
            off_ptr[ib + 1] = k

        for g in range(G):
            now = 0
            n_busy = 0
            n_stall = 0
            s_prod = 0
            s_pairs = 0
            s_iaram = 0
            s_fifo_r = 0
            s_fifo_w = 0
            s_plane = 0
            o0 = o1 = o2 = o3 = o4 = _ZERO    # queue occupancy per bank
            chan_start = 0
            for ib in range(n_active):
                c = act_c[ib]
                wb = (g * NP + act_p[ib]) * C + c
                nw = w_ptr[wb + 1] - w_ptr[wb]
                if nw > 0:
                    na = act_na[ib]
                    n_avb = act_nav[ib]
                    wv0 = w_vec[wb]
                    n_wvb = w_vec[wb + 1] - wv0
                    s_iaram += na
                    s_fifo_w += nw
                    s_fifo_r += n_avb * nw
                    s_pairs += n_avb * n_wvb
                    s_prod += act_nz[ib] * w_nz[wb]
                    s_plane += act_nz[ib] * w_nz[wb]
                    n_busy += n_avb * n_wvb
                    now += n_avb * n_wvb      # one issue cycle per pair; stalls added below
                    if not inside:
                        for k in range(off_ptr[ib], off_ptr[ib + 1]):
                            s_plane -= off_n[k] * w_reach[wb * n_reach + off_r[k]]
                    for va in range(act_va0[ib], act_va0[ib] + n_avb):
                        sets = a_nsets[va]
                        A = a_sets[va * I]
                        for vw in range(wv0, wv0 + n_wvb):
                            # The pair's bank loads (planes l0..l4), then its issue.
                            if slots == 4 and sets <= 1:
                                j = vw * 4
                                l0, l1, l2 = _sum4(_rotate(A, w_shift[j], lanes),
                                                   _rotate(A, w_shift[j + 1], lanes),
                                                   _rotate(A, w_shift[j + 2], lanes),
                                                   _rotate(A, w_shift[j + 3], lanes))
                                if three and (o2 | o3 | o4) == _ZERO:
                                    o0, o1, o2, issued = _issue3(o0, o1, l0, l1, l2,
                                                                 h0, h1, h2)
                                    if issued:
                                        continue
                                o0, o1, o2, o3, o4, wait = _issue(
                                    o0, o1, o2, o3, o4, l0, l1, l2, _ZERO, _ZERO,
                                    g0, g1, g2, g3, g4, contention, depth, banks)
                            else:
                                l0 = l1 = l2 = l3 = l4 = _ZERO
                                for q in range(sets):
                                    Aq = a_sets[va * I + q]
                                    for j in range(vw * slots, vw * slots + F):
                                        # Add the one-bit mask x into the count.
                                        x = _rotate(Aq, w_shift[j], lanes)
                                        y = l0 & x
                                        l0 ^= x
                                        x = l1 & y
                                        l1 ^= y
                                        y = l2 & x
                                        l2 ^= x
                                        x = l3 & y
                                        l3 ^= y
                                        l4 ^= x
                                o0, o1, o2, o3, o4, wait = _issue(
                                    o0, o1, o2, o3, o4, l0, l1, l2, l3, l4,
                                    g0, g1, g2, g3, g4, contention, depth, banks)
                            now += wait
                            n_stall += wait
                if per_channel and (ib == n_active - 1 or act_c[ib + 1] != c):
                    # A barrier after every input channel: queues drain before it.
                    if contention == QUEUED:
                        tail = _max_lane(o0, o1, o2, o3, o4)
                        o0 = o1 = o2 = o3 = o4 = _ZERO
                        now += tail
                        n_stall += tail
                    chan[t, g, c] = now - chan_start
                    chan_start = now
            if contention == QUEUED and not per_channel:
                tail = _max_lane(o0, o1, o2, o3, o4)
                now += tail
                n_stall += tail
            _close_group(counts, t, g, (n_busy, n_stall, s_prod, 0, 0, s_pairs, s_iaram,
                                        s_fifo_r, s_fifo_w, s_plane))
    return counts, chan
