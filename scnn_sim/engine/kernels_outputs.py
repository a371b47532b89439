"""The functional model (``verify``): every product's value accumulated into its work
tile's output buffer, apart from the timing and in the same loop order."""

from __future__ import annotations

# The @njit kernels are typed by numba from their arguments at compile time; their parameters
# are annotated `Any` because static numpy typing adds nothing checkable there.
from typing import Any

import numpy as np
from numba import njit, prange


@njit(cache=True, parallel=True)
def accumulate_outputs(acts: Any, wts: Any, geom: Any) -> Any:
    """The functional model: every product's value added into its tile's output buffer.

    Same block and vector-pair order as the timing kernels, so the float64 sums are the same
    whichever kernel timed the layer. Returns ``out [T, K_out, BH, BW]``.
    """
    a_vals, a_off, a_ptr = acts
    w_vals, w_off, w_ptr = wts
    T, C, CA, c_off, NP, F, I, BH, BW, group_k0, _, _, _, _, _, _, K_out = geom
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
