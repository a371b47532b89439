"""Numba loops of the SCNN zero-run encoder (:func:`scnn_sim.sparsity.formats.rle_encode_blocks`).

Imported on first use, so that reading configurations or sizing formats does not load numba.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def rle_encode(flat, block_lengths, index_bits, placeholders):
    """Entries of the zero-run code of concatenated blocks, in two passes over ``flat``.

    A non-zero after ``gap`` zeros (within its block) is one entry with run ``gap``; with
    ``placeholders``, ``gap >> index_bits`` placeholder entries (value 0, run ``2**index_bits
    - 1``) come first and the entry's run is ``gap`` modulo ``2**index_bits``. Trailing zeros
    of a block are not encoded.

    Returns
    -------
    values float32, runs uint32 (one per entry), block_ptr int64 (n_blocks + 1).
    """
    n_blocks = block_lengths.shape[0]
    top = (1 << index_bits) - 1
    block_ptr = np.empty(n_blocks + 1, np.int64)
    block_ptr[0] = 0
    n = 0
    start = 0
    for b in range(n_blocks):
        gap = 0
        for i in range(start, start + block_lengths[b]):
            if flat[i] != 0:
                n += 1 + (gap >> index_bits if placeholders else 0)
                gap = 0
            else:
                gap += 1
        start += block_lengths[b]
        block_ptr[b + 1] = n
    values = np.zeros(n, np.float32)
    runs = np.empty(n, np.uint32)
    e = 0
    start = 0
    for b in range(n_blocks):
        gap = 0
        for i in range(start, start + block_lengths[b]):
            if flat[i] != 0:
                if placeholders:
                    for _ in range(gap >> index_bits):
                        runs[e] = top
                        e += 1
                    gap &= top
                values[e] = flat[i]
                runs[e] = gap
                e += 1
                gap = 0
            else:
                gap += 1
        start += block_lengths[b]
    return values, runs, block_ptr
