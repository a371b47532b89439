"""Numba kernels: the per-cycle work of the PE array, over plain arrays and scalars.

One call simulates every work tile (a PE's planar tile, or one spatial sub-tile of it) of one
convolution group through every output-channel group. Work tiles are independent between
barriers, so they run in parallel (``prange``); the barrier itself is applied by the caller
from the per-tile, per-group cycle counts this kernel returns.

Per work tile and output-channel group the loop nest is SCNN's PT-IS-CP-sparse
(Parashar et al., ISCA 2017, section 4)::

    for c in input channels:                      # input stationary
      for p in stride phases:                     # see engine.layer for the decomposition
        (the activation block (t, p, c) and the weight block (g, p, c), their coordinates
        recovered from the zero-run indices as the hardware's coordinate computation does)
        for each I-wide activation vector:
          for each F-wide weight vector:          # one issue slot of the multiplier array
            F x I Cartesian product -> accumulator addresses -> banks

Bank contention (``contention``):
  0 = queued: each bank has a queue of ``depth`` entries behind the crossbar and retires one
      update per cycle; a vector pair issues when every bank it targets has room for its
      products (a bank receiving more than ``depth`` products needs an empty queue); the
      array stalls otherwise. Queues drain at the end of each output-channel group.
  1 = lock-step: a vector pair occupies the array for as many cycles as its most-loaded bank.

Two timing kernels compute the same counts (:func:`simulate_tiles` picks one):

* :func:`tiles_general` follows the loop nest literally, product by product: any bank
  mapping, access model and size.
* :func:`tiles_bitsliced`, for the common case (linear ``addr mod banks`` mapping with a
  power-of-two ``banks <= 32``, every product loading a bank, bank queues receiving every
  product), replaces the per-product work by word operations on all banks at once. A set of
  banks is a bit mask (lane ``b`` = bank ``b``). Since ``(w + a) mod banks`` is ``a mod
  banks`` rotated by ``w mod banks``, the banks that one weight's products hit are the
  activation vector's bank mask rotated by the weight's bank: one shift. Per-bank counts (a
  pair's bank loads, the queue occupancies) are kept bit-sliced: plane ``k`` is the mask of
  the banks whose count has bit ``k`` set, so adding two count
  vectors, comparing them with the depth and draining one update from every queue are a few
  ``and``/``or``/``xor`` of whole planes. The queue rule is the same; only its arithmetic is
  done 32 banks at a time. ``tests/test_kernel_paths.py`` checks both kernels give equal counts.

Under per-product access the merge counters (``count_merges``: accesses if same-address
products, or products in one wide word, merged) do not affect the timing; with the bit-sliced
timing they come from :func:`merge_counts`, which counts a pair's distinct addresses and
wide words on 64-bit address masks. The functional model (``verify``: the products' values
accumulated into the output buffers) is :func:`accumulate_outputs`, separate from the timing,
in the same loop order.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

QUEUED = 0
LOCKSTEP = 1
MAP_LINEAR = 0
MAP_XOR = 1
MAP_DNNSIM = 2
ACC_PER_PRODUCT = 0
ACC_SAME_ADDRESS = 1
ACC_WIDE = 2


@njit(cache=True, inline="always")
def _bank(addr: int, banks: int, mapping: int, shift: int) -> int:
    if mapping == MAP_XOR:
        return ((addr ^ (addr >> shift)) ^ (addr >> (2 * shift))) & (banks - 1)
    return addr % banks


@njit(cache=True, inline="always")
def _bank_dnnsim(k: int, x: int, y: int, banks: int) -> int:
    # DNNsim's hash of an absolute output coordinate (k, row x, column y) (SCNN.cpp:9-12).
    return ((((k & 4) << 2) ^ ((x & 2) << 3) ^ ((y & 2) << 3)) + ((x & 1) << 3)
            + ((y & 1) << 2) + (k & 3)) % banks


@njit(cache=True, parallel=True)
def decode_activation_offsets(a_runs, a_ptr, CA, NP, a_ncols, a_u0, a_w0, tile_oy, tile_ox,
                              BW):
    """Recover each activation entry's buffer offset from the zero runs, as the PE does.

    Blocks are (work tile t, phase p, channel c); an entry at position ``pos`` of its block
    (``pos += run + 1`` per entry, placeholders included) sits at phase row
    ``u0 + pos // ncols`` and column ``w0 + pos % ncols``; its offset in the tile's
    accumulator buffer is ``(u - oy0) * BW + (w - ox0)``. The row and column are carried
    from entry to entry (a division only when a run crosses a row).
    """
    off = np.empty(a_runs.shape[0], np.int32)
    T = tile_oy.shape[0]
    for t in prange(T):
        for p in range(NP):
            tp = t * NP + p
            ncols = a_ncols[tp]
            origin = (a_u0[tp] - tile_oy[t]) * BW + (a_w0[tp] - tile_ox[t])
            for c in range(CA):
                b = tp * CA + c
                row = 0
                col = -1
                for e in range(a_ptr[b], a_ptr[b + 1]):
                    col += a_runs[e] + 1
                    if col >= ncols:
                        row += col // ncols
                        col = col % ncols
                    off[e] = origin + row * BW + col
    return off


@njit(cache=True)
def decode_weight_offsets(w_runs, w_ptr, C, NP, group_kc, phase_rv, phase_sv, dim_of, BH, BW):
    """Recover each weight entry's (k, v, x) from the zero runs; return ``k*BH*BW - v*BW - x``.

    Blocks are (output-channel group g, phase p, input channel c), each ``Kc x Rv x Sv`` in
    the configured linear order (``dim_of[i]``: 0 = k, 1 = r, 2 = s; i = 0 outermost). The
    weights are broadcast, so every PE decodes the same stream: it is decoded once here.
    """
    off = np.empty(w_runs.shape[0], np.int32)
    plane = BH * BW
    G = group_kc.shape[0]
    for g in range(G):
        kc = group_kc[g]
        for p in range(NP):
            rv = phase_rv[p]
            sv = phase_sv[p]
            d1 = kc if dim_of[1] == 0 else (rv if dim_of[1] == 1 else sv)
            d2 = kc if dim_of[2] == 0 else (rv if dim_of[2] == 1 else sv)
            for c in range(C):
                b = (g * NP + p) * C + c
                pos = -1
                for e in range(w_ptr[b], w_ptr[b + 1]):
                    pos += w_runs[e] + 1
                    idx0 = pos // (d1 * d2)
                    idx1 = (pos // d2) % d1
                    idx2 = pos % d2
                    kk = 0
                    vv = 0
                    xx = 0
                    for q in range(3):
                        idx = idx0 if q == 0 else (idx1 if q == 1 else idx2)
                        if dim_of[q] == 0:
                            kk = idx
                        elif dim_of[q] == 1:
                            vv = idx
                        else:
                            xx = idx
                    off[e] = kk * plane - vv * BW - xx
    return off


@njit(cache=True, inline="always")
def _count_arrays(T, G, n_chan):
    """Zeroed per-(tile, group) counts of both timing kernels: busy, stall, products,
    acc_same, acc_wide, pairs, iaram, fifo_r, fifo_w, on_plane [T, G] and chan [T, G, n_chan]."""
    return (np.zeros((T, G), np.int64), np.zeros((T, G), np.int64), np.zeros((T, G), np.int64),
            np.zeros((T, G), np.int64), np.zeros((T, G), np.int64), np.zeros((T, G), np.int64),
            np.zeros((T, G), np.int64), np.zeros((T, G), np.int64), np.zeros((T, G), np.int64),
            np.zeros((T, G), np.int64), np.zeros((T, G, n_chan), np.int64))


@njit(cache=True, parallel=True)
def tiles_general(
    a_vals, a_off, a_ptr,             # activation entries, blocks (t, p, c) -> (t*NP + p)*CA + c
    w_vals, w_off, w_ptr,             # weight entries, blocks (g, p, c) -> (g*NP + p)*C + c
    group_k0, group_kc,               # per g: first output channel (within conv group), Kc
    T, C, CA, c_off, NP, F, I, BH, BW,  # tiles; channels of this conv group, of the act stream
    banks, mapping, contention, depth, wide_words,
    per_channel, merges, access_model,
    tile_oy, tile_ox, k_base, P, Q, on_plane_only,
):
    """Simulate all work tiles through all output-channel groups, product by product.

    Arguments and returned counts as :func:`simulate_tiles` (without ``verify``, ``K_out``
    and the output buffers).
    """
    G = group_k0.shape[0]
    (busy, stall, products, acc_same, acc_wide, pairs, iaram, fifo_r, fifo_w, on_plane,
     chan) = _count_arrays(T, G, C if per_channel else 1)

    plane = BH * BW
    wide_cols = (BW + wide_words - 1) // wide_words
    kc_max = 0
    for g in range(G):
        kc_max = max(kc_max, group_kc[g])
    n_addr = kc_max * plane
    n_wide = kc_max * BH * wide_cols
    shift = 0
    while (1 << shift) < banks:
        shift += 1
    shift = max(shift, 1)

    # Address -> bank and address -> wide-access word, tabulated once (no division per product).
    # A wide word (wide_words adjacent entries of one buffer row) lives in one bank.
    bank_of = np.empty(max(n_addr, 1), np.int32)
    wide_of = np.empty(max(n_addr, 1), np.int32)
    wide_bank_of = np.empty(max(n_wide, 1), np.int32)
    for addr in range(n_addr):
        bank_of[addr] = _bank(addr, banks, mapping, shift)
        row = addr // BW
        wide_of[addr] = row * wide_cols + (addr - row * BW) // wide_words
    for wkey in range(n_wide):
        wide_bank_of[wkey] = _bank(wkey, banks, mapping, shift)

    for t in prange(T):
        tbank = np.empty(max(n_addr, 1), np.int32)
        tvalid = np.empty(max(n_addr, 1), np.int64)
        addr_stamp = np.full(max(n_addr, 1), -1, np.int32)
        wide_stamp = np.full(max(n_wide, 1), -1, np.int32)
        bank_stamp = np.full(banks, -1, np.int32)
        load = np.zeros(banks, np.int64)
        touched = np.empty(banks, np.int64)
        occ_at = np.zeros(banks, np.int64)
        last = np.zeros(banks, np.int64)
        pid = 0
        for g in range(G):
            k0 = group_k0[g]
            for addr in range(group_kc[g] * plane):
                kk = addr // plane
                row = (addr - kk * plane) // BW
                orow = tile_oy[t] + row
                ocol = tile_ox[t] + (addr - kk * plane - row * BW)
                ok = 1 if (orow >= 0 and orow < P and ocol >= 0 and ocol < Q) else 0
                tvalid[addr] = ok
                if mapping == MAP_DNNSIM:
                    bk = _bank_dnnsim(k_base + k0 + kk, orow, ocol, banks)
                else:
                    bk = bank_of[addr]
                tbank[addr] = bk if (ok == 1 or not on_plane_only) else -1
            now = 0
            n_busy = 0
            n_stall = 0
            s_prod = 0
            s_same = 0
            s_wide = 0
            s_pairs = 0
            s_iaram = 0
            s_fifo_r = 0
            s_fifo_w = 0
            s_plane = 0
            for b in range(banks):
                occ_at[b] = 0
                last[b] = 0
            for c in range(C):
                chan_start = now
                for p in range(NP):
                    ab = (t * NP + p) * CA + c_off + c
                    wb = (g * NP + p) * C + c
                    a_lo = a_ptr[ab]
                    na = a_ptr[ab + 1] - a_lo
                    w_lo = w_ptr[wb]
                    nw = w_ptr[wb + 1] - w_lo
                    if na == 0 or nw == 0:
                        continue
                    n_av = (na + I - 1) // I
                    n_wv = (nw + F - 1) // F
                    s_iaram += na
                    s_fifo_w += nw
                    s_fifo_r += n_av * nw
                    for av in range(n_av):
                        i_lo = a_lo + av * I
                        i_hi = min(i_lo + I, a_lo + na)
                        for wv in range(n_wv):
                            j_lo = w_lo + wv * F
                            j_hi = min(j_lo + F, w_lo + nw)
                            pid += 1
                            if pid == 2147483000:  # int32 stamps: restart them before overflow
                                addr_stamp[:] = -1
                                wide_stamp[:] = -1
                                bank_stamp[:] = -1
                                pid = 0
                            nt = 0
                            n_prod = 0
                            n_same = 0
                            n_wide_acc = 0
                            n_plane = 0
                            for j in range(j_lo, j_hi):
                                if w_vals[j] == 0.0:
                                    continue  # placeholder: the multiplier is gated
                                wo = w_off[j]
                                for i in range(i_lo, i_hi):
                                    if a_vals[i] == 0.0:
                                        continue
                                    addr = wo + a_off[i]
                                    n_prod += 1
                                    n_plane += tvalid[addr]
                                    bk = tbank[addr]
                                    if merges:
                                        new_addr = 1 if addr_stamp[addr] != pid else 0
                                        addr_stamp[addr] = pid
                                        n_same += new_addr
                                        wkey = wide_of[addr]
                                        new_wide = 1 if wide_stamp[wkey] != pid else 0
                                        wide_stamp[wkey] = pid
                                        n_wide_acc += new_wide
                                        # Merged products occupy one bank-queue slot.
                                        if access_model == ACC_SAME_ADDRESS:
                                            bk = bk if new_addr == 1 else -1
                                        elif access_model == ACC_WIDE:
                                            bk = (wide_bank_of[wkey] if new_wide == 1 and bk >= 0
                                                  else -1)
                                    if bk >= 0:
                                        # Branch-free: whether bk is new in this pair is
                                        # data-dependent and would mispredict half the time.
                                        fresh = 1 if bank_stamp[bk] != pid else 0
                                        bank_stamp[bk] = pid
                                        touched[nt] = bk
                                        nt += fresh
                                        load[bk] = load[bk] * (1 - fresh) + 1
                            s_prod += n_prod
                            s_plane += n_plane
                            s_same += n_same
                            s_wide += n_wide_acc
                            s_pairs += 1
                            if contention == LOCKSTEP:
                                worst = 1
                                for q in range(nt):
                                    worst = max(worst, load[touched[q]])
                                now += worst
                                n_busy += 1
                                n_stall += worst - 1
                            else:
                                wait = 0
                                for q in range(nt):
                                    bk = touched[q]
                                    occ = max(occ_at[bk] - (now - last[bk]), 0)
                                    need = occ + load[bk] - max(depth, load[bk])
                                    wait = max(wait, need)
                                now += wait
                                n_stall += wait
                                for q in range(nt):
                                    bk = touched[q]
                                    occ = max(occ_at[bk] - (now - last[bk]), 0)
                                    occ_at[bk] = occ + load[bk]
                                    last[bk] = now
                                now += 1
                                n_busy += 1
                if per_channel:
                    # A barrier after every input channel: queues drain before it.
                    if contention == QUEUED:
                        tail = 0
                        for b in range(banks):
                            tail = max(tail, last[b] + occ_at[b] - now)
                            occ_at[b] = 0
                        now += tail
                        n_stall += tail
                    chan[t, g, c] = now - chan_start
            if contention == QUEUED and not per_channel:
                tail = 0
                for b in range(banks):
                    tail = max(tail, last[b] + occ_at[b] - now)
                now += tail
                n_stall += tail
            busy[t, g] = n_busy
            stall[t, g] = n_stall
            products[t, g] = s_prod
            acc_same[t, g] = s_same
            acc_wide[t, g] = s_wide
            pairs[t, g] = s_pairs
            iaram[t, g] = s_iaram
            fifo_r[t, g] = s_fifo_r
            fifo_w[t, g] = s_fifo_w
            on_plane[t, g] = s_plane
    return (busy, stall, products, acc_same, acc_wide, pairs, iaram, fifo_r, fifo_w, chan,
            on_plane)


def bitsliced_applies(banks: int, mapping: int, F: int, I: int, depth: int,
                      merged_access: bool, on_plane_only: bool) -> bool:
    """Whether :func:`tiles_bitsliced` can time a call (else :func:`tiles_general` does).

    It needs the linear mapping with a power-of-two ``banks <= 32`` (a bank mask and its copy
    fit one 64-bit word), bank queues that receive every product (not merged accesses),
    every product loading a bank, and counts
    that fit its five bit planes: a pair loads a bank at most ``F * I`` times, a queue holds
    at most ``max(depth, F * I) - 1`` between pairs, so their sum must stay below 32 (SCNN's
    F = I = 4 with a depth up to 16).
    """
    return (mapping == MAP_LINEAR and 1 <= banks <= 32 and banks & (banks - 1) == 0
            and not merged_access and not on_plane_only and max(depth, F * I) + F * I <= 32)


def simulate_tiles(
    a_vals, a_off, a_ptr, w_vals, w_off, w_ptr, group_k0, group_kc,
    T, C, CA, c_off, NP, F, I, BH, BW,
    banks, mapping, contention, depth, wide_words,
    per_channel, verify, K_out, merges, access_model,
    tile_oy, tile_ox, k_base, P, Q, on_plane_only,
):
    """Simulate all work tiles through all output-channel groups; return per-(t, g) counts.

    Activation entries are in blocks (t, p, c) -> ``(t*NP + p)*CA + c_off + c``, weight
    entries in blocks (g, p, c) -> ``(g*NP + p)*C + c``; ``group_k0``/``group_kc`` are each
    output-channel group's first channel (within the convolution group) and size Kc.
    ``a_off`` and ``w_off`` are the decoded buffer offsets (:func:`decode_activation_offsets`,
    :func:`decode_weight_offsets`); a product's accumulator address is their sum. Entries whose
    value is 0 are placeholders: they occupy a vector slot but their product is gated.

    ``access_model`` (needs ``merges``) sets what a bank queue receives: every product
    (``ACC_PER_PRODUCT``), one update per distinct address of a vector pair, the products
    summed in the scatter network (``ACC_SAME_ADDRESS``), or one update per distinct wide word
    (``ACC_WIDE``; a wide word is ``wide_words`` adjacent entries of one buffer row, held in
    one bank).

    ``tile_oy``, ``tile_ox`` (per work tile: output coordinate of the buffer origin), ``k_base``
    (absolute output channel of this convolution group's first one) and the output plane
    ``P x Q`` place every address on the output plane: products off the plane are counted
    apart (``on_plane``), load no bank when ``on_plane_only``, and ``MAP_DNNSIM`` hashes the
    absolute (k, row, column) to a bank.

    The timing comes from :func:`tiles_bitsliced` when :func:`bitsliced_applies`, else from
    :func:`tiles_general` (equal counts); with the bit-sliced timing, the merge counts
    (``merges`` under ``ACC_PER_PRODUCT``, which they do not time) come from
    :func:`merge_counts`; the outputs (``verify``) from :func:`accumulate_outputs`.

    Returns
    -------
    tuple of arrays, each int64 [T, G] unless noted:
        busy (issue cycles), stall (bank-conflict stall cycles, queue drain included),
        products, acc_same_address (accesses if same-address products merge; 0 unless
        ``merges``), acc_wide (accesses if one wide access serves ``wide_words`` adjacent words
        of a buffer row), pairs (vector pairs issued), iaram_reads (activation entries read),
        fifo_reads (weight entries read), fifo_writes (weight entries written),
        chan_cycles [T, G, C or 1] (cycles per input channel, when ``per_channel``),
        on_plane (products whose output lies on the P x Q plane),
        out float64 [T, K_out, BH, BW] (accumulated partial sums, when ``verify``; else
        [1, 1, 1, 1] zeros).
    """
    merged_access = merges and access_model != ACC_PER_PRODUCT
    if bitsliced_applies(banks, mapping, F, I, depth, merged_access, on_plane_only):
        counts = tiles_bitsliced(a_vals, a_off, a_ptr, w_vals, w_off, w_ptr, group_kc,
                                 T, C, CA, c_off, NP, F, I, BH, BW, banks, contention, depth,
                                 per_channel, tile_oy, tile_ox, P, Q)
        if merges:   # the timing does not depend on them: counted apart
            acc_same, acc_wide = merge_counts(a_vals, a_off, a_ptr, w_vals, w_off, w_ptr,
                                              group_kc, T, C, CA, c_off, NP, F, I, BH, BW,
                                              wide_words)
            counts = (*counts[:3], acc_same, acc_wide, *counts[5:])
    else:
        counts = tiles_general(a_vals, a_off, a_ptr, w_vals, w_off, w_ptr, group_k0, group_kc,
                               T, C, CA, c_off, NP, F, I, BH, BW, banks, mapping, contention,
                               depth, wide_words, per_channel, merges, access_model,
                               tile_oy, tile_ox, k_base, P, Q, on_plane_only)
    if verify:
        out = accumulate_outputs(a_vals, a_off, a_ptr, w_vals, w_off, w_ptr, group_k0,
                                 T, C, CA, c_off, NP, F, I, BH, BW, K_out)
    else:
        out = np.zeros((1, 1, 1, 1), np.float64)
    return (*counts, out)


@njit(cache=True, inline="always")
def _vector_starts(ptr, width):
    """Blocks of entries ``ptr[b]:ptr[b + 1]`` cut into vectors of ``width``: the index of
    each block's first vector, and the total at the end (``[n_blocks + 1]``)."""
    n = ptr.shape[0] - 1
    starts = np.empty(n + 1, np.int64)
    starts[0] = 0
    for b in range(n):
        starts[b + 1] = starts[b] + (ptr[b + 1] - ptr[b] + width - 1) // width
    return starts


@njit(cache=True, inline="always")
def _popcount(x):
    """Set bits of a 64-bit word (SWAR)."""
    x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2))
                                               & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return np.int64((x * np.uint64(0x0101010101010101)) >> np.uint64(56))


@njit(cache=True, inline="always")
def _mask_counts(u, not_start, wide_words):
    """Distinct addresses and distinct wide words of the address set ``u`` (bit k: address
    base + k), given ``not_start``: the mask of the positions that do not start a word."""
    after = (u << _ONE) & not_start   # positions after a set bit within its word
    for _ in range(wide_words - 2):
        after |= (after << _ONE) & not_start
    return _popcount(u), _popcount(u & ~after)


@njit(cache=True, parallel=True)
def merge_counts(a_vals, a_off, a_ptr, w_vals, w_off, w_ptr, group_kc,
                 T, C, CA, c_off, NP, F, I, BH, BW, wide_words):
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
                                u = _ZERO
                                for q in range(q0, q0 + F):
                                    u |= am << np.uint64(w_rel[q])
                                n_s, n_w = _mask_counts(
                                    u, not_start[(w_min[vw] + a_min[va]) % BW], wide_words)
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


@njit(cache=True, parallel=True)
def accumulate_outputs(a_vals, a_off, a_ptr, w_vals, w_off, w_ptr, group_k0,
                       T, C, CA, c_off, NP, F, I, BH, BW, K_out):
    """The functional model: every product's value added into its tile's output buffer.

    Same block and vector-pair order as the timing kernels, so the float64 sums are the same
    whichever kernel timed the layer. Returns ``out [T, K_out, BH, BW]``.
    """
    G = group_k0.shape[0]
    plane = BH * BW
    out = np.zeros((T, K_out, BH, BW), np.float64)
    for t in prange(T):
        for g in range(G):
            k0 = group_k0[g]
            for c in range(C):
                for p in range(NP):
                    ab = (t * NP + p) * CA + c_off + c
                    wb = (g * NP + p) * C + c
                    a_lo = a_ptr[ab]
                    a_hi = a_ptr[ab + 1]
                    w_lo = w_ptr[wb]
                    w_hi = w_ptr[wb + 1]
                    for i_lo in range(a_lo, a_hi, I):
                        i_hi = min(i_lo + I, a_hi)
                        for j_lo in range(w_lo, w_hi, F):
                            j_hi = min(j_lo + F, w_hi)
                            for j in range(j_lo, j_hi):
                                if w_vals[j] == 0.0:
                                    continue
                                for i in range(i_lo, i_hi):
                                    if a_vals[i] == 0.0:
                                        continue
                                    addr = w_off[j] + a_off[i]
                                    out[t, k0 + addr // plane, (addr % plane) // BW,
                                        addr % BW] += (np.float64(w_vals[j])
                                                       * np.float64(a_vals[i]))
    return out


# --------------------------------------------------------------------------------------------
# Bit-sliced timing: per-bank counts as five bit planes of 64-bit masks (lane b = bank b).
# --------------------------------------------------------------------------------------------

_ZERO = np.uint64(0)
_ONE = np.uint64(1)
_ALL = np.uint64(0xFFFFFFFFFFFFFFFF)


@njit(cache=True, inline="always")
def _rotate(a2, shift, lanes):
    """Bank mask ``a2`` (doubled: ``a | a << banks``) rotated by ``banks - shift``; shift 0
    means no weight in the slot (an empty mask)."""
    return (a2 >> np.uint64(shift)) & (lanes if shift != 0 else _ZERO)


@njit(cache=True, inline="always")
def _sum4(m0, m1, m2, m3):
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
def _add(o0, o1, o2, o3, o4, l0, l1, l2, l3, l4):
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
def _exceeds(s0, s1, s2, s3, s4, g0, g1, g2, g3, g4):
    """Mask of the lanes whose count exceeds ``depth``: the carry out of ``count + (31 -
    depth)``, whose bits are given as all-ones or zero masks ``g0..g4``."""
    c = s0 & g0
    c = (s1 & c) | ((s1 | c) & g1)
    c = (s2 & c) | ((s2 | c) & g2)
    c = (s3 & c) | ((s3 | c) & g3)
    return (s4 & c) | ((s4 | c) & g4)


@njit(cache=True, inline="always")
def _drain1(s0, s1, s2, s3, s4):
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
def _drain(o0, o1, o2, o3, o4, w):
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
def _issue3(o0, o1, l0, l1, l2, h0, h1, h2):
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
def _lane(s0, s1, s2, s3, s4, b):
    """The count of lane ``b``."""
    u = np.uint64(b)
    return np.int64(((s0 >> u) & _ONE) | (((s1 >> u) & _ONE) << np.uint64(1))
                    | (((s2 >> u) & _ONE) << np.uint64(2))
                    | (((s3 >> u) & _ONE) << np.uint64(3))
                    | (((s4 >> u) & _ONE) << np.uint64(4)))


@njit(cache=True, inline="always")
def _max_lane(s0, s1, s2, s3, s4):
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
def _issue(o0, o1, o2, o3, o4, l0, l1, l2, l3, l4, g0, g1, g2, g3, g4, contention, depth,
           banks):
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
def tiles_bitsliced(a_vals, a_off, a_ptr, w_vals, w_off, w_ptr, group_kc,
                    T, C, CA, c_off, NP, F, I, BH, BW, banks, contention, depth,
                    per_channel, tile_oy, tile_ox, P, Q):
    """:func:`tiles_general`'s counts for the linear mapping, 32 banks at a time.

    Preconditions: :func:`bitsliced_applies`. Per work tile the activation vectors are first
    reduced to bank masks (a vector whose entries share a bank gets one mask per multiplicity,
    so every mask is a set); per vector pair the bank loads are the sum over the pair's weights
    of those masks rotated by the weight's bank, and the queue occupancies are updated with
    the rule of :func:`tiles_general` on whole planes (:func:`_issue`). Products are counted
    per block; those off the output plane are counted only for activations near the plane's
    border, from how many weights of each reach the block has.
    Returns the first eleven arrays of :func:`simulate_tiles` (merge counts zero).
    """
    G = group_kc.shape[0]
    (busy, stall, products, acc_same, acc_wide, pairs, iaram, fifo_r, fifo_w, on_plane,
     chan) = _count_arrays(T, G, C if per_channel else 1)

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
            busy[t, g] = n_busy
            stall[t, g] = n_stall
            products[t, g] = s_prod
            pairs[t, g] = s_pairs
            iaram[t, g] = s_iaram
            fifo_r[t, g] = s_fifo_r
            fifo_w[t, g] = s_fifo_w
            on_plane[t, g] = s_plane
    return (busy, stall, products, acc_same, acc_wide, pairs, iaram, fifo_r, fifo_w, chan,
            on_plane)
