"""SCNN's zero-run stream (:class:`RLEStream`): encode, count and decode, and the width checks
shared by the other formats.

Moved out of :mod:`scnn_sim.sparsity.formats` (which still re-exports the public names and
documents the format).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from scnn_sim.errors import FormatError

__all__ = ["RLEStream", "rle_count_blocks", "rle_decode_blocks", "rle_encode_blocks"]


def _check_index_bits(index_bits: int) -> int:
    if isinstance(index_bits, bool) or not isinstance(index_bits, (int, np.integer)):
        raise FormatError(f"index_bits must be an integer in 1..16, got {index_bits!r}")
    if not 1 <= int(index_bits) <= 16:
        raise FormatError(f"index_bits must be in 1..16, got {index_bits}")
    return int(index_bits)


def _check_value_bits(bits_per_value: int) -> int:
    if isinstance(bits_per_value, bool) or not isinstance(bits_per_value, (int, np.integer)):
        raise FormatError(f"bits per value must be a positive integer, got {bits_per_value!r}")
    if bits_per_value < 1:
        raise FormatError(f"bits per value must be >= 1, got {bits_per_value}")
    return int(bits_per_value)


def _run_dtype(index_bits: int) -> type[np.unsignedinteger]:
    return np.uint8 if index_bits <= 8 else np.uint16


def _bits_for(n: int) -> int:
    """Bits to store values ``0 .. n - 1`` (at least 1)."""
    return max(1, math.ceil(math.log2(n))) if n > 1 else 1


# --------------------------------------------------------------------------------------------
# SCNN zero-run stream
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RLEStream:
    """SCNN compressed-sparse stream of many blocks: non-zero values, each with the count of
    zeros preceding it.

    Attributes
    ----------
    values : np.ndarray
        float32, one per entry; placeholder entries have value 0.0.
    runs : np.ndarray
        uint8 if ``index_bits <= 8`` else uint16 (uint32 without placeholders): zeros
        preceding each entry, within its block.
    block_ptr : np.ndarray
        int64, ``n_blocks + 1``: entries of block b are ``[block_ptr[b], block_ptr[b+1])``.
    block_lengths : np.ndarray
        int64, dense length of each block.
    index_bits : int
        Width of a run; the largest run is ``2**index_bits - 1``.
    """

    values: np.ndarray
    runs: np.ndarray
    block_ptr: np.ndarray
    block_lengths: np.ndarray
    index_bits: int

    @property
    def n_entries(self) -> int:
        """Number of entries (non-zeros plus placeholders)."""
        return int(self.values.size)

    @property
    def n_blocks(self) -> int:
        """Number of blocks."""
        return int(self.block_lengths.size)

    @property
    def placeholders(self) -> int:
        """Entries whose value is 0 (placeholders)."""
        return int(self.values.size - np.count_nonzero(self.values))

    def value_bits(self, bits_per_value: int) -> int:
        """Bits of the stored values: ``n_entries * bits_per_value``."""
        return self.n_entries * _check_value_bits(bits_per_value)

    @property
    def index_bits_total(self) -> int:
        """Bits of the stored runs: ``n_entries * index_bits``."""
        return self.n_entries * self.index_bits

    def block_entries(self) -> np.ndarray:
        """int64 entry count of every block."""
        return np.diff(self.block_ptr)


def _check_blocks(n: int, block_lengths: np.ndarray | Sequence[int]) -> np.ndarray:
    bl = np.asarray(block_lengths)
    if bl.ndim != 1:
        raise FormatError(f"block_lengths must be one-dimensional, got shape {bl.shape}")
    if bl.size and bl.dtype.kind not in "iu":
        if bl.dtype.kind == "f" and np.all(np.isfinite(bl)) and np.all(bl == np.round(bl)):
            pass
        else:
            raise FormatError(f"block_lengths must be integers, got dtype {bl.dtype}")
    bl = bl.astype(np.int64)
    if bl.size and bl.min() < 0:
        raise FormatError("block_lengths must be >= 0")
    if int(bl.sum()) != n:
        raise FormatError(f"block_lengths sum to {int(bl.sum())} but the array has {n} elements")
    return bl


def _gaps(flat: np.ndarray, bl: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Non-zero positions, each block's start, and the zeros preceding each non-zero."""
    nz = np.flatnonzero(flat)
    starts = np.cumsum(bl) - bl
    if nz.size == 0:
        return nz, starts, np.zeros(0, np.int64)
    # A zero run starts after the previous non-zero (or at 0) ...
    prev_end = np.empty_like(nz)
    prev_end[0] = 0
    prev_end[1:] = nz[:-1] + 1
    # ... unless a block starts between that non-zero and this one: then at the latest such
    # block start. Only the first non-zero at or after each block start is affected, so this
    # costs one search per block instead of a per-element block map.
    j = np.searchsorted(nz, starts, side="left")
    inside = j < nz.size
    j, s = j[inside], starts[inside]
    if j.size:
        last = np.append(j[1:] != j[:-1], True)  # starts are sorted: keep the latest per j
        j, s = j[last], s[last]
        prev_end[j] = np.maximum(prev_end[j], s)
    return nz, starts, nz - prev_end


def rle_encode_blocks(
    flat: np.ndarray, block_lengths: np.ndarray | Sequence[int], index_bits: int = 4,
    placeholders: bool = True,
) -> RLEStream:
    """Encode concatenated dense blocks into an SCNN zero-run stream (two passes of a numba loop).

    Parameters
    ----------
    flat : np.ndarray
        One-dimensional concatenation of every block's dense values (cast to float32; the
        round trip is exact on the float32 values).
    block_lengths : array of int
        Dense length of every block (``>= 0``, zero-length blocks allowed); sums to
        ``len(flat)``.
    index_bits : int
        Run width, 1..16 (module docstring for the placeholder rule).
    placeholders : bool
        False: runs are unbounded (stored as uint32) and no placeholder entries are emitted,
        an idealised index (DNNsim's model); entries are exactly the non-zeros.

    Returns
    -------
    RLEStream

    Raises
    ------
    FormatError
        On a bad ``index_bits``, a non-1-D ``flat`` or block lengths that do not match it.
    """
    from scnn_sim.sparsity.rle_kernel import rle_encode  # numba, loaded on first use

    ib = _check_index_bits(index_bits)
    f = np.asarray(flat)
    if f.ndim != 1:
        raise FormatError(f"flat must be one-dimensional, got shape {f.shape}")
    f = np.ascontiguousarray(f, dtype=np.float32)
    bl = _check_blocks(f.size, block_lengths)
    values, runs, block_ptr = rle_encode(f, bl, ib, bool(placeholders))
    rdt = _run_dtype(ib) if placeholders else np.uint32
    return RLEStream(values=values, runs=runs.astype(rdt, copy=False), block_ptr=block_ptr,
                     block_lengths=bl, index_bits=ib)


def rle_count_blocks(
    flat: np.ndarray, block_lengths: np.ndarray | Sequence[int], index_bits: int = 4
) -> tuple[int, int]:
    """``(n_entries, placeholders)`` the stream of :func:`rle_encode_blocks` would have.

    Same arguments; cheaper (no stream is built). Used for storage sizes.
    """
    ib = _check_index_bits(index_bits)
    f = np.asarray(flat)
    if f.ndim != 1:
        raise FormatError(f"flat must be one-dimensional, got shape {f.shape}")
    bl = _check_blocks(f.size, block_lengths)
    nz, _, gap = _gaps(f.astype(np.float32, copy=False), bl)
    ph = int((gap >> ib).sum())
    return int(nz.size) + ph, ph


def rle_decode_blocks(stream: RLEStream) -> np.ndarray:
    """Decode an SCNN zero-run stream back to the dense concatenated blocks (float32).

    Parameters
    ----------
    stream : RLEStream

    Returns
    -------
    np.ndarray
        float32, length ``block_lengths.sum()``; the exact inverse of
        :func:`rle_encode_blocks`.

    Raises
    ------
    FormatError
        On inconsistent array sizes, a malformed ``block_ptr``, a run larger than
        ``2**index_bits - 1`` or entries running past their block's length.
    """
    ib = _check_index_bits(stream.index_bits)
    values = np.asarray(stream.values)
    runs = np.asarray(stream.runs)
    bptr = np.asarray(stream.block_ptr)
    if values.ndim != 1 or runs.shape != values.shape:
        raise FormatError(
            f"values and runs must be 1-D of equal length, got {values.shape} and {runs.shape}"
        )
    if runs.size and runs.dtype.kind not in "iu":
        raise FormatError(f"runs must be integers, got dtype {runs.dtype}")
    bl = np.asarray(stream.block_lengths)
    if bl.ndim != 1 or (bl.size and bl.dtype.kind not in "iu"):
        raise FormatError("block_lengths must be a 1-D integer array")
    bl = bl.astype(np.int64)
    if bl.size and bl.min() < 0:
        raise FormatError("block_lengths must be >= 0")
    if bptr.ndim != 1 or bptr.size != bl.size + 1:
        raise FormatError(
            f"block_ptr must have n_blocks + 1 = {bl.size + 1} entries, got {bptr.size}"
        )
    bptr = bptr.astype(np.int64)
    if bptr[0] != 0 or bptr[-1] != values.size or np.any(np.diff(bptr) < 0):
        raise FormatError("block_ptr must rise monotonically from 0 to the number of entries")
    max_run = (1 << ib) - 1
    r = runs.astype(np.int64)
    if r.size and (r.min() < 0 or r.max() > max_run):
        raise FormatError(f"a run exceeds the {ib}-bit maximum {max_run}")
    out = np.zeros(int(bl.sum()), dtype=np.float32)
    if values.size == 0:
        return out
    cnt = np.diff(bptr)
    eblk = np.repeat(np.arange(bl.size), cnt)
    step = np.cumsum(r + 1)  # dense positions consumed up to and including each entry
    base = np.concatenate(([0], step))[bptr[:-1]]  # consumed before each block's first entry
    pos = step - base[eblk] - 1  # position of each entry within its block
    if np.any(pos >= bl[eblk]):
        bad = int(eblk[np.argmax(pos >= bl[eblk])])
        raise FormatError(
            f"block {bad}: runs exceed the block length {int(bl[bad])} (corrupt stream)"
        )
    starts = np.cumsum(bl) - bl
    out[starts[eblk] + pos] = values.astype(np.float32, copy=False)
    return out
