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
    accumulator buffer is ``(u - oy0) * BW + (w - ox0)``.
    """
    off = np.empty(a_runs.shape[0], np.int32)
    T = tile_oy.shape[0]
    for t in prange(T):
        for p in range(NP):
            tp = t * NP + p
            ncols = a_ncols[tp]
            for c in range(CA):
                b = tp * CA + c
                pos = -1
                for e in range(a_ptr[b], a_ptr[b + 1]):
                    pos += a_runs[e] + 1
                    u = a_u0[tp] + pos // ncols
                    w = a_w0[tp] + pos % ncols
                    off[e] = (u - tile_oy[t]) * BW + (w - tile_ox[t])
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


@njit(cache=True, parallel=True)
def simulate_tiles(
    a_vals, a_off, a_ptr,             # activation entries, blocks (t, p, c) -> (t*NP + p)*CA + c
    w_vals, w_off, w_ptr,             # weight entries, blocks (g, p, c) -> (g*NP + p)*C + c
    group_k0, group_kc,               # per g: first output channel (within conv group), Kc
    T, C, CA, c_off, NP, F, I, BH, BW,  # tiles; channels of this conv group, of the act stream
    banks, mapping, contention, depth, wide_words,
    per_channel, verify, K_out, merges, access_model,
    tile_oy, tile_ox, k_base, P, Q, on_plane_only,
):
    """Simulate all work tiles through all output-channel groups; return per-(t, g) counts.

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
    absolute (k, row, column) to a bank. These per-tile tables are rebuilt per group.

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
        out float64 [T, K_out, BH, BW] (accumulated partial sums, when ``verify``).
    """
    G = group_k0.shape[0]
    busy = np.zeros((T, G), np.int64)
    stall = np.zeros((T, G), np.int64)
    products = np.zeros((T, G), np.int64)
    acc_same = np.zeros((T, G), np.int64)
    acc_wide = np.zeros((T, G), np.int64)
    pairs = np.zeros((T, G), np.int64)
    iaram = np.zeros((T, G), np.int64)
    fifo_r = np.zeros((T, G), np.int64)
    fifo_w = np.zeros((T, G), np.int64)
    on_plane = np.zeros((T, G), np.int64)
    chan = np.zeros((T, G, C if per_channel else 1), np.int64)
    if verify:
        out = np.zeros((T, K_out, BH, BW), np.float64)
    else:
        out = np.zeros((1, 1, 1, 1), np.float64)

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
                            if verify:
                                # Functional model: the pair's products, scattered by value.
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
            on_plane, out)
