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

* :func:`~scnn_sim.engine.kernels_general.tiles_general` follows the loop nest literally,
  product by product: any bank mapping, access model and size.
* :func:`~scnn_sim.engine.kernels_bitsliced.tiles_bitsliced`, for the common case (linear
  ``addr mod banks`` mapping with a power-of-two ``banks <= 32``, every product loading a
  bank, bank queues receiving every product), replaces the per-product work by word
  operations on all banks at once: a set of banks is a bit mask, a weight's products hit the
  activation vector's bank mask rotated by the weight's bank, and per-bank counts are kept as
  bit planes (its module docstring explains). ``tests/test_kernel_paths.py`` checks both
  kernels give equal counts.

Under per-product access the merge counters (``count_merges``: accesses if same-address
products, or products in one wide word, merged) do not affect the timing; with the bit-sliced
timing they come from :func:`~scnn_sim.engine.kernels_merge.merge_counts`, which counts a
pair's distinct addresses and wide words on 64-bit address masks. The functional model
(``verify``: the products' values accumulated into the output buffers) is
:func:`~scnn_sim.engine.kernels_outputs.accumulate_outputs`, separate from the timing, in the
same loop order.

One module per kernel (``kernels_decode``, ``kernels_general``, ``kernels_bitsliced``,
``kernels_merge``, ``kernels_outputs``); what they share is in ``kernels_common``: their
inputs come as named bundles (:class:`Stream` for each stream, :class:`Geometry`,
:class:`BankModel`) and their counts as :class:`TileCounts`. This module picks the kernels
for a call.
"""

from __future__ import annotations

import os

import numba
import numpy as np

from scnn_sim.engine.kernels_bitsliced import tiles_bitsliced
from scnn_sim.engine.kernels_common import (
    ACC_PER_PRODUCT,
    ACC_SAME_ADDRESS,
    ACC_WIDE,
    LOCKSTEP,
    MAP_DNNSIM,
    MAP_LINEAR,
    MAP_XOR,
    QUEUED,
    BankModel,
    Geometry,
    Stream,
    TileCounts,
)
from scnn_sim.engine.kernels_decode import decode_activation_offsets, decode_weight_offsets
from scnn_sim.engine.kernels_general import tiles_general
from scnn_sim.engine.kernels_merge import merge_counts
from scnn_sim.engine.kernels_outputs import accumulate_outputs

__all__ = [
    "ACC_PER_PRODUCT", "ACC_SAME_ADDRESS", "ACC_WIDE", "LOCKSTEP", "MAP_DNNSIM", "MAP_LINEAR",
    "MAP_XOR", "QUEUED", "BankModel", "Geometry", "Stream", "TileCounts",
    "accumulate_outputs", "bitsliced_applies", "decode_activation_offsets",
    "decode_weight_offsets", "merge_counts", "simulate_tiles", "threads_for_load",
    "tiles_bitsliced", "tiles_general",
]


def threads_for_load(load1: float, cpus: int, max_threads: int) -> int:
    """Worker threads for a kernel call when ``load1`` runnable processes (the 1-minute load
    average, this process included) share ``cpus`` cores: one more than the idle cores, at
    least 1 and at most ``max_threads``.

    On an idle machine (load about 1: this process) every core gets a thread; once the other
    processes fill the cores, a parallel section would wait for their time slices at its end,
    so one thread is used (measured in ``benchmarks/bench_threads.py``).
    """
    return max(1, min(max_threads, cpus - int(load1 + 0.5) + 1))


_threads_set: list[int] = []   # the count this module last chose (empty: none yet)


def numba_default_threads() -> int:
    """numba's default thread count (``NUMBA_NUM_THREADS`` or the CPU count)."""
    # numba.config sets its options with setattr at import: invisible to the type checker
    return int(numba.config.NUMBA_NUM_THREADS)  # type: ignore[attr-defined]


def _apply_thread_policy() -> None:
    """Set numba's threads from the load (:func:`threads_for_load`) before a kernel call.

    Left alone when the user fixed ``NUMBA_NUM_THREADS`` (the override; ``1``: no worker
    threads) or when other code (a sweep worker) chose a count since this module last did.
    """
    if "NUMBA_NUM_THREADS" in os.environ:
        return
    current = numba.get_num_threads()
    expected = _threads_set[-1] if _threads_set else numba_default_threads()
    if current != expected:
        return
    try:
        load1 = os.getloadavg()[0]
    except (AttributeError, OSError):   # no load average on this platform: keep numba's
        return
    n = threads_for_load(load1, os.cpu_count() or 1, numba_default_threads())
    if n != current:
        numba.set_num_threads(n)
    _threads_set[:] = [n]


def bitsliced_applies(banks: int, mapping: int, F: int, I: int, depth: int,  # noqa: E741
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


def simulate_tiles(acts: Stream, wts: Stream, geom: Geometry, model: BankModel, *,
                   verify: bool = False) -> TileCounts:
    """Simulate all work tiles through all output-channel groups; return per-(t, g) counts.

    ``acts`` and ``wts`` are the activation and weight streams with their decoded buffer
    offsets (:func:`decode_activation_offsets`, :func:`decode_weight_offsets`); a product's
    accumulator address is their sum. ``geom`` places the blocks and the buffers: the
    output-channel groups (``group_k0``/``group_kc``: first channel within the convolution
    group, size Kc), each work tile's buffer origin on the output plane (``tile_oy``,
    ``tile_ox``), this convolution group's first absolute output channel (``k_base``) and the
    plane ``P x Q``; products off the plane are counted apart (``on_plane``), load no bank
    under ``model.on_plane_only``, and ``MAP_DNNSIM`` hashes the absolute (k, row, column).

    ``model.access_model`` (needs ``model.merges``) sets what a bank queue receives: every
    product (``ACC_PER_PRODUCT``), one update per distinct address of a vector pair
    (``ACC_SAME_ADDRESS``: products summed in the scatter network), or one update per distinct
    wide word (``ACC_WIDE``; ``wide_words`` adjacent entries of one buffer row, in one bank).

    The timing comes from :func:`tiles_bitsliced` when :func:`bitsliced_applies`, else from
    :func:`tiles_general` (equal counts); with the bit-sliced timing, the merge counts
    (``merges`` under ``ACC_PER_PRODUCT``, which they do not time) come from
    :func:`merge_counts`; the outputs (``verify``) from :func:`accumulate_outputs`.

    Returns
    -------
    TileCounts
        Each int64 [T, G] unless noted: busy (issue cycles), stall (bank-conflict stall
        cycles, queue drain included), products, acc_same (accesses if same-address products
        merge; 0 unless ``merges``), acc_wide (accesses if one wide access serves
        ``wide_words`` adjacent words of a buffer row), pairs (vector pairs issued), iaram
        (activation entries read), fifo_r (weight entries read), fifo_w (weight entries
        written), on_plane (products whose output lies on the P x Q plane), chan [T, G, C
        or 1] (cycles per input channel, when ``per_channel``), out float64
        [T, K_out, BH, BW] (accumulated partial sums, when ``verify``; else [1, 1, 1, 1]
        zeros).
    """
    _apply_thread_policy()
    merged_access = model.merges and model.access_model != ACC_PER_PRODUCT
    if bitsliced_applies(model.banks, model.mapping, geom.F, geom.I, model.depth,
                         merged_access, model.on_plane_only):
        counts, chan = tiles_bitsliced(acts, wts, geom, model)
        if model.merges:   # the timing does not depend on them: counted apart
            counts[3], counts[4] = merge_counts(acts, wts, geom, model.wide_words)
    else:
        counts, chan = tiles_general(acts, wts, geom, model)
    if verify:
        out = accumulate_outputs(acts, wts, geom)
    else:
        out = np.zeros((1, 1, 1, 1), np.float64)
    return TileCounts._make((*counts, chan, out))
