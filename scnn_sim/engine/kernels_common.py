"""What every numba kernel of :mod:`scnn_sim.engine.kernels` shares: codes, bundles, counts.

The kernels take their inputs as three named bundles instead of dozens of positional
arguments: the compressed streams (:class:`Stream`, once for the activations and once for the
weights), where their blocks lie and where the accumulator buffer sits on the output plane
(:class:`Geometry`), and how the accumulator banks behave (:class:`BankModel`). They are
named tuples of plain arrays and scalars, which numba passes as one typed tuple each; every
kernel unpacks them into locals first, so its loops read as before.

Thread policy (issue 22). The kernels' parallel loops run on numba's OpenMP threading layer,
whose worker threads by default spin for a while after each parallel section; between the
many short sections of a network (a few per layer) they spin on the cores the main thread
and the next section need, and on a loaded machine two threads were slower than one. So:

* the package sets ``OMP_WAIT_POLICY=PASSIVE`` (workers sleep at once) unless the user has
  set it; this module is imported before any parallel kernel runs, which is when the OpenMP
  runtime reads it (override: ``OMP_WAIT_POLICY=ACTIVE``);
* before each call, :func:`scnn_sim.engine.kernels.simulate_tiles` takes one thread more than
  the idle cores (the 1-minute load average), all of them on an idle machine and one when
  other processes fill the cores (override: ``NUMBA_NUM_THREADS``, fixed; ``1``: no worker
  threads).

``benchmarks/bench_threads.py`` measures the policies against each other and one thread.
"""

from __future__ import annotations

import os

# The @njit kernels are typed by numba from their arguments at compile time; their parameters
# are annotated `Any` because static numpy typing adds nothing checkable there.
from typing import Any, NamedTuple

import numpy as np
from numba import njit

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

QUEUED = 0
LOCKSTEP = 1
MAP_LINEAR = 0
MAP_XOR = 1
MAP_DNNSIM = 2
ACC_PER_PRODUCT = 0
ACC_SAME_ADDRESS = 1
ACC_WIDE = 2

_ZERO = np.uint64(0)
_ONE = np.uint64(1)
_ALL = np.uint64(0xFFFFFFFFFFFFFFFF)


class Stream(NamedTuple):
    """Entries of one compressed stream, in blocks.

    Activation blocks are (work tile t, phase p, channel c) -> ``(t*NP + p)*CA + c``, weight
    blocks (output-channel group g, phase p, channel c) -> ``(g*NP + p)*C + c``.
    """

    vals: np.ndarray   #: float32 [n]: values; 0 is a placeholder (its product is gated)
    off: np.ndarray    #: int32 [n]: decoded accumulator-buffer offsets (address = sum)
    ptr: np.ndarray    #: int64 [blocks + 1]: first entry of each block


class Geometry(NamedTuple):
    """The blocks of one convolution group and where its buffers lie on the output plane."""

    T: int                 #: work tiles
    C: int                 #: input channels of this convolution group
    CA: int                #: channels of the activation stream (all groups)
    c_off: int             #: this group's first channel in the activation stream
    NP: int                #: stride phases
    F: int                 #: weights per vector
    I: int                 #: activations per vector  # noqa: E741
    BH: int                #: accumulator buffer rows
    BW: int                #: accumulator buffer columns
    group_k0: np.ndarray   #: int64 [G]: first output channel of each output-channel group
    group_kc: np.ndarray   #: int64 [G]: output channels (Kc) of each group
    tile_oy: np.ndarray    #: int64 [T]: output row of each work tile's buffer origin
    tile_ox: np.ndarray    #: int64 [T]: output column of each work tile's buffer origin
    k_base: int            #: absolute output channel of this convolution group's first one
    P: int                 #: output plane rows
    Q: int                 #: output plane columns
    K_out: int             #: output channels of the output buffers (``verify``)


class BankModel(NamedTuple):
    """How products reach the accumulator banks (the codes above)."""

    banks: int
    mapping: int           #: MAP_LINEAR, MAP_XOR or MAP_DNNSIM
    contention: int        #: QUEUED or LOCKSTEP
    depth: int             #: bank queue entries
    wide_words: int        #: adjacent words of a buffer row served by one wide access
    per_channel: bool      #: a barrier after every input channel
    merges: bool           #: count the merge counters (same-address, wide)
    access_model: int      #: ACC_PER_PRODUCT, ACC_SAME_ADDRESS or ACC_WIDE
    on_plane_only: bool    #: products off the output plane load no bank


class TileCounts(NamedTuple):
    """Per-(work tile, output-channel group) counts of one kernel call, int64 [T, G] unless
    noted (see :func:`scnn_sim.engine.kernels.simulate_tiles`)."""

    busy: np.ndarray
    stall: np.ndarray
    products: np.ndarray
    acc_same: np.ndarray
    acc_wide: np.ndarray
    pairs: np.ndarray
    iaram: np.ndarray
    fifo_r: np.ndarray
    fifo_w: np.ndarray
    on_plane: np.ndarray
    chan: np.ndarray       #: [T, G, C or 1]
    out: np.ndarray        #: float64 [T, K_out, BH, BW], or [1, 1, 1, 1] without ``verify``


#: The per-(tile, group) counts the timing kernels return as one int64 array
#: ``[len(COUNT_NAMES), T, G]``, in this order (the fields of :class:`TileCounts`).
COUNT_NAMES = ("busy", "stall", "products", "acc_same", "acc_wide", "pairs", "iaram",
               "fifo_r", "fifo_w", "on_plane")


@njit(cache=True, inline="always")
def _count_arrays(T: Any, G: Any, n_chan: Any) -> Any:
    """Zeroed counts of both timing kernels: ``[len(COUNT_NAMES), T, G]`` and the cycles per
    input channel ``[T, G, n_chan]``.

    One array, not a tuple of arrays: numba's parallel loops lose writes into arrays they
    reach through a tuple.
    """
    return np.zeros((10, T, G), np.int64), np.zeros((T, G, n_chan), np.int64)


@njit(cache=True, inline="always")
def _close_group(counts: Any, t: Any, g: Any, sums: Any) -> Any:
    """Store one (tile, group)'s totals ``sums`` (in :data:`COUNT_NAMES` order): the closing
    code of both timing kernels (the per-channel cycles are stored at each barrier)."""
    n_busy, n_stall, s_prod, s_same, s_wide, s_pairs, s_iaram, s_fifo_r, s_fifo_w, s_plane = (
        sums)
    counts[0, t, g] = n_busy
    counts[1, t, g] = n_stall
    counts[2, t, g] = s_prod
    counts[3, t, g] = s_same
    counts[4, t, g] = s_wide
    counts[5, t, g] = s_pairs
    counts[6, t, g] = s_iaram
    counts[7, t, g] = s_fifo_r
    counts[8, t, g] = s_fifo_w
    counts[9, t, g] = s_plane


@njit(cache=True, inline="always")
def _vector_starts(ptr: Any, width: Any) -> Any:
    """Blocks of entries ``ptr[b]:ptr[b + 1]`` cut into vectors of ``width``: the index of
    each block's first vector, and the total at the end (``[n_blocks + 1]``)."""
    n = ptr.shape[0] - 1
    starts = np.empty(n + 1, np.int64)
    starts[0] = 0
    for b in range(n):
        starts[b + 1] = starts[b] + (ptr[b + 1] - ptr[b] + width - 1) // width
    return starts
