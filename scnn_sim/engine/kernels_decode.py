"""Decoding of the compressed streams: each entry's accumulator-buffer offset recovered from
the zero runs, as the PE's coordinate computation does."""

from __future__ import annotations

# The @njit kernels are typed by numba from their arguments at compile time; their parameters
# are annotated `Any` because static numpy typing adds nothing checkable there.
from typing import Any

import numpy as np
from numba import njit


@njit(cache=True)
def decode_activation_offsets(a_runs: Any, a_ptr: Any, CA: Any, NP: Any, a_ncols: Any, a_u0: Any,
                              a_w0: Any, tile_oy: Any, tile_ox: Any, BW: Any) -> Any:
    """Recover each activation entry's buffer offset from the zero runs, as the PE does.

    Blocks are (work tile t, phase p, channel c); an entry at position ``pos`` of its block
    (``pos += run + 1`` per entry, placeholders included) sits at phase row
    ``u0 + pos // ncols`` and column ``w0 + pos % ncols``; its offset in the tile's
    accumulator buffer is ``(u - oy0) * BW + (w - ox0)``. The row and column are carried
    from entry to entry (a division only when a run crosses a row). Serial: a few
    operations per entry do not pay for starting the worker threads (on a loaded machine
    a parallel section waits for a time slice).
    """
    off = np.empty(a_runs.shape[0], np.int32)
    T = tile_oy.shape[0]
    for t in range(T):
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
def decode_weight_offsets(w_runs: Any, w_ptr: Any, C: Any, NP: Any, group_kc: Any, phase_rv: Any,
                          phase_sv: Any, dim_of: Any, BH: Any, BW: Any) -> Any:
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
