"""Compressed-sparse formats: SCNN's zero-run stream, a group index, bitmask and CSR sizes.

SCNN zero-run (RLE) stream
--------------------------
A stream holds many *blocks* (e.g. one per (output-channel group, input channel) of the
weights, or per (tile, channel) of the activations). Within a block, each non-zero is one
entry: its value and ``run``, the number of zeros preceding it since the block start or the
previous entry. A run is stored in ``index_bits`` bits, so the largest run is
``M = 2**index_bits - 1``.

**Placeholder rule.** A non-zero preceded by ``g`` zeros is emitted as ``g // (M + 1)``
placeholder entries -- value ``0.0`` stored explicitly, run ``M``: each stands for ``M`` zeros
plus itself (a zero), i.e. ``M + 1`` dense positions -- followed by the value with run
``g % (M + 1)``. Trailing zeros of a block are not encoded (the block's dense length is known).
Decoding walks ``pos = pos + run + 1`` per entry within a block. Every entry (placeholders
included) costs ``bits_per_value + index_bits``.

Group-index format
------------------
For coarse-grained pruning (vector / kernel / filter / block granularities of
:mod:`scnn_sim.sparsity.pruning`) one index per kept *group* suffices. The groups of a layer are
enumerated in the row-major order of the block grid (``group = ((i*nC + j)*nR + u)*nS + v``
for block ``(i, j, u, v)``; the same order pruning uses) and form one sequence per layer.
Each kept group is one entry: ``run`` = the number of skipped (all-zero) groups since the
previous entry (or the sequence start), followed by the group's values stored *densely* --
every weight of the group in row-major ``(k, c, r, s)`` order, zeros inside a kept group
included; a partial edge group stores only its in-tensor weights. Runs of a real entry are in
``0 .. M - 1``; the code ``M`` is reserved for **placeholders**: an index-only entry (no values)
meaning "skip M groups". A kept group after ``g`` skipped groups is therefore emitted as
``g // M`` placeholders then the group with run ``g % M``. Trailing skipped groups are not
encoded (the group count follows from the layer shape). Decoding: a run ``M`` advances the
group position by ``M``; any other run ``r`` advances it by ``r``, emits a group, then advances
by one. Modelling choice: unlike SCNN's placeholders, a group placeholder stores no values --
a placeholder storing a whole zero group would cost up to ``C*R*S`` values (a filter).

Other formats (sizes only)
--------------------------
* bitmask: one bit per dense weight, plus the non-zero values.
* CSR: the weight tensor as a ``K x (C*R*S)`` matrix; a column index of
  ``ceil(log2(C*R*S))`` bits per non-zero plus ``K + 1`` row pointers of
  ``ceil(log2(K*C*R*S + 1))`` bits each (enough to count every weight), plus the values.
* N:M (``nm:N:M`` pruning): each kept weight carries its position within its group of ``M``
  input channels, ``ceil(log2(M))`` bits; no placeholders.

Every width is at least 1 bit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from scnn_sim.errors import FormatError, SparsityError
from scnn_sim.sparsity.pruning import (
    Granularity,
    block_shape_for,
    blockify,
    parse_granularity,
    unblockify,
)
from scnn_sim.sparsity.rle import (
    RLEStream,
    _bits_for,
    _check_index_bits,
    _check_value_bits,
    _run_dtype,
    rle_count_blocks,
    rle_decode_blocks,
    rle_encode_blocks,
)

__all__ = [
    "FormatSize",
    "GroupIndexStream",
    "RLEStream",
    "activation_blocks_scnn",
    "decode_group_index",
    "encode_group_index",
    "encode_scnn_activations",
    "encode_scnn_weights",
    "rle_count_blocks",
    "rle_decode_blocks",
    "rle_encode_blocks",
    "size_bitmask",
    "size_csr",
    "size_group_index",
    "size_nm",
    "size_scnn_rle",
    "weight_blocks_scnn",
]


# --------------------------------------------------------------------------------------------
# SCNN block layouts
# --------------------------------------------------------------------------------------------


def weight_blocks_scnn(
    weights: np.ndarray, kc: int, order: str = "krs"
) -> tuple[np.ndarray, np.ndarray]:
    """Lay the weights out as SCNN weight blocks.

    One block per (output-channel group ``k'`` of ``kc`` consecutive output channels, input
    channel ``c``); blocks are ordered ``k'``-major then ``c`` (block index ``k' * C + c``).
    Each block is the ``kc x R x S`` slice ``W[k'*kc:(k'+1)*kc, c, :, :]`` linearised in
    ``order`` (first letter outermost: ``"krs"`` = s fastest). The last group has fewer than
    ``kc`` channels when ``K % kc != 0``; ``kc > K`` gives one group of ``K``.

    Parameters
    ----------
    weights : np.ndarray
        ``[K, C, R, S]``.
    kc : int
        Output channels per group, ``>= 1``.
    order : str
        A permutation of ``"krs"``.

    Returns
    -------
    flat : np.ndarray
        float32 concatenation of the blocks.
    block_lengths : np.ndarray
        int64, ``ceil(K / kc) * C`` block lengths.

    Raises
    ------
    FormatError
        Wrong rank, ``kc < 1`` or a bad ``order``.
    """
    w = np.asarray(weights)
    if w.ndim != 4:
        raise FormatError(f"weights must have rank 4 [K, C, R, S], got shape {w.shape}")
    if isinstance(kc, bool) or not isinstance(kc, (int, np.integer)) or kc < 1:
        raise FormatError(f"kc must be a positive integer, got {kc!r}")
    if not isinstance(order, str) or sorted(order) != ["k", "r", "s"]:
        raise FormatError(f"order must be a permutation of 'krs', got {order!r}")
    K, C, R, S = w.shape
    kc = min(int(kc), K) if K else int(kc)
    ax = {"k": 2, "r": 3, "s": 4}  # axes of [groups, C, kc, R, S]
    perm = (0, 1) + tuple(ax[a] for a in order)
    n_full, rem = divmod(K, kc)
    parts: list[np.ndarray] = []
    lengths: list[np.ndarray] = []
    if n_full:
        full = w[: n_full * kc].reshape(n_full, kc, C, R, S).transpose(0, 2, 1, 3, 4)
        parts.append(full.transpose(perm).astype(np.float32).ravel())
        lengths.append(np.full(n_full * C, kc * R * S, dtype=np.int64))
    if rem:
        last = w[n_full * kc :].reshape(1, rem, C, R, S).transpose(0, 2, 1, 3, 4)
        parts.append(last.transpose(perm).astype(np.float32).ravel())
        lengths.append(np.full(C, rem * R * S, dtype=np.int64))
    if not parts:
        return np.zeros(0, np.float32), np.zeros(0, np.int64)
    return np.concatenate(parts), np.concatenate(lengths)


def _boundaries(spec: Sequence, n: int, what: str) -> np.ndarray:
    """Tile boundaries ``[0, b1, ..., n]`` from edges or from ``np.array_split`` output."""
    items = list(spec)
    if items and all(isinstance(x, np.ndarray) and x.ndim == 1 for x in items):
        # A list of index arrays (np.array_split(np.arange(n), t)): contiguous ranges.
        edges = [0]
        for x in items:
            if x.size and (x[0] != edges[-1] or np.any(np.diff(x) != 1)):
                raise FormatError(f"{what}: index arrays must be contiguous consecutive ranges")
            edges.append(edges[-1] + int(x.size))
        b = np.asarray(edges, dtype=np.int64)
    else:
        try:
            b = np.asarray(items, dtype=np.int64)
        except (TypeError, ValueError):
            raise FormatError(f"{what} must be integer tile boundaries, got {spec!r}") from None
    if b.ndim != 1 or b.size < 2 or b[0] != 0 or b[-1] != n or np.any(np.diff(b) < 0):
        raise FormatError(
            f"{what} must be non-decreasing boundaries from 0 to {n} (e.g. [0, 7, 14]), "
            f"got {list(b.ravel())}"
        )
    return b


def activation_blocks_scnn(
    acts: np.ndarray, tile_rows: Sequence, tile_cols: Sequence
) -> tuple[np.ndarray, np.ndarray]:
    """Lay activations ``[C, H, W]`` out as SCNN blocks: one per (planar tile, channel).

    Tiles are ordered row-major over the tile grid (tile ``i * n_tile_cols + j`` covers rows
    ``tile_rows[i]:tile_rows[i+1]`` and columns ``tile_cols[j]:tile_cols[j+1]``); blocks are
    ordered tile-major then channel (block index ``tile * C + c``); each block is its
    ``acts[c, rows, cols]`` slice in row-major order. Empty tiles give zero-length blocks.

    Parameters
    ----------
    acts : np.ndarray
        ``[C, H, W]``.
    tile_rows, tile_cols : sequence
        Tile boundaries ``[0, b1, ..., H]`` (resp. ``W``), non-decreasing; or the list of
        index arrays ``np.array_split(np.arange(H), n)`` returns.

    Returns
    -------
    flat : np.ndarray
        float32 concatenation of the blocks.
    block_lengths : np.ndarray
        int64, ``n_tiles * C`` lengths.

    Raises
    ------
    FormatError
        Wrong rank or bad boundaries.
    """
    a = np.asarray(acts)
    if a.ndim != 3:
        raise FormatError(f"activations must have rank 3 [C, H, W], got shape {a.shape}")
    C, H, W = a.shape
    rb = _boundaries(tile_rows, H, "tile_rows")
    cb = _boundaries(tile_cols, W, "tile_cols")
    parts: list[np.ndarray] = []
    lengths: list[np.ndarray] = []
    # One iteration per tile (tens of tiles), not per block or element.
    for i in range(rb.size - 1):
        for j in range(cb.size - 1):
            tile = a[:, rb[i] : rb[i + 1], cb[j] : cb[j + 1]]
            parts.append(tile.astype(np.float32).reshape(-1))
            lengths.append(np.full(C, tile.shape[1] * tile.shape[2], dtype=np.int64))
    return np.concatenate(parts), np.concatenate(lengths)


def encode_scnn_weights(
    weights: np.ndarray, kc: int, order: str = "krs", index_bits: int = 4
) -> RLEStream:
    """SCNN zero-run stream of the weights (blocks of :func:`weight_blocks_scnn`)."""
    flat, bl = weight_blocks_scnn(weights, kc, order)
    return rle_encode_blocks(flat, bl, index_bits)


def encode_scnn_activations(
    acts: np.ndarray, tile_rows: Sequence, tile_cols: Sequence, index_bits: int = 4
) -> RLEStream:
    """SCNN zero-run stream of the activations (blocks of :func:`activation_blocks_scnn`)."""
    flat, bl = activation_blocks_scnn(acts, tile_rows, tile_cols)
    return rle_encode_blocks(flat, bl, index_bits)


# --------------------------------------------------------------------------------------------
# Group index
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GroupIndexStream:
    """A weight tensor in the group-index format (module docstring).

    Attributes
    ----------
    values : np.ndarray
        float32: the in-tensor weights of every kept group, groups in sequence order.
    runs : np.ndarray
        uint8 / uint16, one per entry: skipped groups before a kept group (``< M``), or ``M``
        for a placeholder ("skip M groups", no values).
    shape : tuple of int
        The dense ``(K, C, R, S)``.
    block : tuple of int
        Group block shape along K, C, R, S.
    index_bits : int
        Run width; ``M = 2**index_bits - 1``.
    """

    values: np.ndarray
    runs: np.ndarray
    shape: tuple[int, int, int, int]
    block: tuple[int, int, int, int]
    index_bits: int

    @property
    def n_entries(self) -> int:
        """Index entries (kept groups plus placeholders)."""
        return int(self.runs.size)

    @property
    def placeholders(self) -> int:
        """Index-only entries (run ``M``)."""
        return int(np.count_nonzero(self.runs == (1 << self.index_bits) - 1))

    @property
    def kept_groups(self) -> int:
        """Kept groups (entries with values)."""
        return self.n_entries - self.placeholders

    @property
    def n_groups(self) -> int:
        """Groups in the sequence (kept or not)."""
        return math.prod(-(-d // b) for d, b in zip(self.shape, self.block, strict=True))


@dataclass(frozen=True)
class FormatSize:
    """Storage of one tensor in one format.

    Attributes
    ----------
    value_bits : int
        Bits of stored values (including explicit zeros: SCNN placeholders, zeros inside kept
        groups).
    index_bits : int
        Bits of the index metadata (runs, bitmask, column indices + row pointers...).
    placeholders : int
        Placeholder entries (SCNN: explicit zero values; group index: index-only skips).
    entries : int
        Index entries (SCNN / group index: runs stored; bitmask: non-zeros; CSR: non-zeros).
    """

    value_bits: int
    index_bits: int
    placeholders: int
    entries: int

    @property
    def total_bits(self) -> int:
        """``value_bits + index_bits``."""
        return self.value_bits + self.index_bits

    def __add__(self, other: FormatSize) -> FormatSize:
        return FormatSize(
            self.value_bits + other.value_bits,
            self.index_bits + other.index_bits,
            self.placeholders + other.placeholders,
            self.entries + other.entries,
        )


def _weights4(weights: np.ndarray) -> np.ndarray:
    w = np.asarray(weights)
    if w.ndim != 4:
        raise FormatError(f"weights must have rank 4 [K, C, R, S], got shape {w.shape}")
    if w.dtype.kind not in "fiub":
        raise FormatError(f"weights must be numeric, got dtype {w.dtype}")
    return w


def _kept_groups(
    weights: np.ndarray,
    granularity: str | Granularity,
    mask: np.ndarray | None,
    pointwise_group: int,
) -> tuple[tuple[int, int, int, int], np.ndarray, np.ndarray, np.ndarray]:
    """(block, rows, valid, kept) of the group sequence; a group is kept if any mask/weight is."""
    g = parse_granularity(granularity)
    if g.kind == "nm":
        # N:M has no rectangular groups; the group index degenerates to single weights.
        g = parse_granularity("fine")
    block = block_shape_for(weights.shape, g, pointwise_group)
    rows, valid = blockify(weights, block, fill=0)
    sel = weights != 0 if mask is None else np.asarray(mask, dtype=bool)
    if sel.shape != weights.shape:
        raise FormatError(f"mask shape {sel.shape} differs from weights shape {weights.shape}")
    srows, _ = blockify(sel, block, fill=False)
    kept = np.asarray(srows.any(axis=1))
    return block, rows, valid, kept


def _group_runs(kept: np.ndarray, ib: int) -> tuple[np.ndarray, int]:
    """Runs (with placeholder codes ``M``) of a kept-group indicator; also the placeholders."""
    m = (1 << ib) - 1
    idx = np.flatnonzero(kept)
    prev_end = np.empty_like(idx)
    if idx.size:
        prev_end[0] = 0
        prev_end[1:] = idx[:-1] + 1
    gap = idx - prev_end
    n_ph = gap // m
    per = n_ph + 1
    end = np.cumsum(per)
    total = int(end[-1]) if end.size else 0
    runs = np.full(total, m, dtype=_run_dtype(ib))
    runs[end - 1] = (gap % m).astype(runs.dtype)
    return runs, int(n_ph.sum())


def encode_group_index(
    weights: np.ndarray,
    granularity: str | Granularity,
    mask: np.ndarray | None = None,
    index_bits: int = 4,
    pointwise_group: int = 1,
) -> GroupIndexStream:
    """Encode a (pruned) weight tensor in the group-index format (module docstring).

    Parameters
    ----------
    weights : np.ndarray
        ``[K, C, R, S]``.
    granularity : str or Granularity
        Defines the groups (``nm`` degenerates to single weights, like ``fine``).
    mask : np.ndarray, optional
        bool keep-mask from :func:`scnn_sim.sparsity.pruning.prune`; a group is kept if any of its
        mask bits is set (so a kept group of zero-valued weights stays kept). Without a mask a
        group is kept if any of its weights is non-zero.
    index_bits : int
        Run width, 1..16.
    pointwise_group : int
        As in :func:`scnn_sim.sparsity.pruning.prune`.

    Returns
    -------
    GroupIndexStream

    Raises
    ------
    FormatError, SparsityError
        Bad tensor, mask, index width or granularity.
    """
    ib = _check_index_bits(index_bits)
    w = _weights4(weights)
    block, rows, valid, kept = _kept_groups(w, granularity, mask, pointwise_group)
    runs, _ = _group_runs(kept, ib)
    values = rows[kept][valid[kept]].astype(np.float32)
    return GroupIndexStream(
        values=values,
        runs=runs,
        shape=tuple(int(d) for d in w.shape),  # type: ignore[arg-type]
        block=block,
        index_bits=ib,
    )


def decode_group_index(stream: GroupIndexStream) -> np.ndarray:
    """Decode a :class:`GroupIndexStream` back to the dense float32 ``[K, C, R, S]`` tensor.

    Raises
    ------
    FormatError
        On runs beyond the group count or a value count that does not match the kept groups.
    """
    ib = _check_index_bits(stream.index_bits)
    m = (1 << ib) - 1
    shape, block = tuple(stream.shape), tuple(stream.block)
    if len(shape) != 4 or len(block) != 4 or min(block) < 1 or min(shape) < 0:
        raise FormatError(f"bad group-index shape {shape} / block {block}")
    runs = np.asarray(stream.runs).astype(np.int64)
    if runs.size and (runs.min() < 0 or runs.max() > m):
        raise FormatError(f"a run exceeds the {ib}-bit maximum {m}")
    is_ph = runs == m
    step = np.where(is_ph, m, runs + 1)
    end = np.cumsum(step)
    gpos = (end - 1)[~is_ph]  # group index of every kept group
    dummy = np.zeros(shape, dtype=bool)
    _, valid = blockify(dummy, block, fill=False)  # type: ignore[arg-type]
    n_groups = valid.shape[0]
    if end.size and int(end[-1]) > n_groups:
        raise FormatError(f"group-index runs pass the last of {n_groups} groups")
    vk = valid[gpos]
    if int(vk.sum()) != stream.values.size:
        raise FormatError(
            f"group index stores {stream.values.size} values but its kept groups hold "
            f"{int(vk.sum())}"
        )
    rows = np.zeros(valid.shape, dtype=np.float32)
    sub = np.zeros(vk.shape, dtype=np.float32)
    sub[vk] = stream.values
    rows[gpos] = sub
    return unblockify(rows, shape, block)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# Sizes
# --------------------------------------------------------------------------------------------


def size_scnn_rle(
    weights: np.ndarray,
    value_bits: int = 16,
    index_bits: int = 4,
    kc: int = 8,
    order: str = "krs",
) -> FormatSize:
    """Size of the weights in SCNN's per-weight zero-run format.

    Blocks as in :func:`weight_blocks_scnn` (one per (group of ``kc`` output channels, input
    channel)); each entry -- non-zero or placeholder -- costs ``value_bits + index_bits``.
    """
    vb = _check_value_bits(value_bits)
    w = _weights4(weights)
    flat, bl = weight_blocks_scnn(w, kc, order)
    entries, ph = rle_count_blocks(flat, bl, index_bits)
    return FormatSize(entries * vb, entries * int(index_bits), ph, entries)


def size_group_index(
    weights: np.ndarray,
    granularity: str | Granularity,
    mask: np.ndarray | None = None,
    value_bits: int = 16,
    index_bits: int = 4,
    pointwise_group: int = 1,
) -> FormatSize:
    """Size of the weights in the group-index format (module docstring).

    Values: every in-tensor weight of every kept group (``value_bits`` each); index: one run of
    ``index_bits`` per kept group and per placeholder. Arguments as in
    :func:`encode_group_index`.
    """
    vb = _check_value_bits(value_bits)
    ib = _check_index_bits(index_bits)
    w = _weights4(weights)
    _, _, valid, kept = _kept_groups(w, granularity, mask, pointwise_group)
    m = (1 << ib) - 1
    idx = np.flatnonzero(kept)
    gaps = np.diff(idx, prepend=-1) - 1
    ph = int((gaps // m).sum())
    entries = int(idx.size) + ph
    n_values = int(valid[kept].sum())
    return FormatSize(n_values * vb, entries * ib, ph, entries)


def size_bitmask(weights: np.ndarray, value_bits: int = 16) -> FormatSize:
    """Size with a one-bit-per-weight presence mask plus the non-zero values."""
    vb = _check_value_bits(value_bits)
    w = _weights4(weights)
    nnz = int(np.count_nonzero(w))
    return FormatSize(nnz * vb, int(w.size), 0, nnz)


def size_csr(weights: np.ndarray, value_bits: int = 16) -> FormatSize:
    """Size as CSR of the ``K x (C*R*S)`` matrix (widths in the module docstring)."""
    vb = _check_value_bits(value_bits)
    w = _weights4(weights)
    K = w.shape[0]
    cols = int(np.prod(w.shape[1:]))
    nnz = int(np.count_nonzero(w))
    col_bits = _bits_for(cols)
    ptr_bits = _bits_for(int(w.size) + 1)
    return FormatSize(nnz * vb, nnz * col_bits + (K + 1) * ptr_bits, 0, nnz)


def size_nm(
    weights: np.ndarray,
    granularity: str | Granularity,
    mask: np.ndarray | None = None,
    value_bits: int = 16,
) -> FormatSize:
    """Size of ``nm:N:M``-pruned weights: each kept weight + its ``ceil(log2 M)``-bit position."""
    vb = _check_value_bits(value_bits)
    g = parse_granularity(granularity)
    if g.kind != "nm":
        raise SparsityError(f"size_nm needs an nm:N:M granularity, got {g.spec}")
    w = _weights4(weights)
    kept = int(np.count_nonzero(w if mask is None else np.asarray(mask, dtype=bool)))
    return FormatSize(kept * vb, kept * _bits_for(g.m), 0, kept)
