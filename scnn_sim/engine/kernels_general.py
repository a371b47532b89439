"""The product-by-product timing kernel: any bank mapping, access model and size.

:func:`tiles_general` follows the loop nest of :mod:`scnn_sim.engine.kernels` literally: per
vector pair it visits every product, finds its accumulator address and bank (tabulated per
output-channel group: the linear, xor or DNNsim hash of the address, or no bank when the
product is off the output plane under ``bank_load: on_plane``), merges products that share an
address or a wide word when the access model says so, and applies the contention rule to the
banks the pair touched.
"""

from __future__ import annotations

# The @njit kernels are typed by numba from their arguments at compile time; their parameters
# are annotated `Any` because static numpy typing adds nothing checkable there.
from typing import Any

import numpy as np
from numba import njit, prange

from scnn_sim.engine.kernels_common import (
    ACC_SAME_ADDRESS,
    ACC_WIDE,
    LOCKSTEP,
    MAP_DNNSIM,
    MAP_XOR,
    QUEUED,
    _close_group,
    _count_arrays,
)


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
def tiles_general(acts: Any, wts: Any, geom: Any, model: Any) -> Any:
    """Simulate all work tiles through all output-channel groups, product by product.

    Arguments as :func:`~scnn_sim.engine.kernels.simulate_tiles`; returns the counts of
    ``[len(COUNT_NAMES), T, G]`` and the cycles per input channel.
    """
    a_vals, a_off, a_ptr = acts
    w_vals, w_off, w_ptr = wts
    (T, C, CA, c_off, NP, F, I, BH, BW, group_k0, group_kc, tile_oy, tile_ox, k_base, P, Q,
     _) = geom
    (banks, mapping, contention, depth, wide_words, per_channel, merges, access_model,
     on_plane_only) = model
    G = group_k0.shape[0]
    counts, chan = _count_arrays(T, G, C if per_channel else 1)

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
            _close_group(counts, t, g, (n_busy, n_stall, s_prod, s_same, s_wide, s_pairs,
                                        s_iaram, s_fifo_r, s_fifo_w, s_plane))
    return counts, chan
