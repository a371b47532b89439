"""The post-processing unit's pooling ([SCNN] section 4: ReLU, pooling, compression).

SCNN's PPU drains an accumulator buffer, adds halos, applies ReLU, *pools*, compresses and
writes the result to OARAM. Pooling therefore happens before OARAM: OARAM writes, the OARAM
occupancy (spill) decision and output DRAM bits are of the pooled outputs.

Conventions (README "Modelling choices: PPU pooling and layer chaining"):

* Output size per axis, ``n`` conv outputs, window ``w``, stride ``s``, padding ``p``:
  ``(n + 2p - w) // s + 1``; with ``ceil_mode`` (Caffe's rounding)
  ``ceil((n + 2p - w) / s) + 1``, minus one when the last window would start in the right
  padding (the PyTorch / Caffe rule).
* Padding never wins a max and is not counted by an average (``count_include_pad=False``):
  windows are clipped to the conv output plane.
* PPU pooling operations per pooled output and channel: ``n_valid - 1`` comparisons (max) or
  ``n_valid - 1`` additions plus one scaling multiply (avg), ``n_valid`` the window's elements
  inside the plane. They are added to ``ppu_ops``.
* Ownership: pooled output ``o`` is finished by the PE that owns the conv output at the
  window's centre, ``clip(o * s - p + (w - 1) // 2, 0, n - 1)`` (the kernel-centre rule the
  conv outputs use). Window elements owned by a neighbour are not counted as halo traffic
  (a simplification: at most ``w - 1`` rows or columns per tile edge).
"""

from __future__ import annotations

import numpy as np

from scnn_sim.workload.shapes import Pool

__all__ = ["pool2d", "pool_ops", "pooled_owner_bounds", "pooled_size", "window_counts"]


def pooled_size(n: int, pool: Pool) -> int:
    """Pooled extent of ``n`` conv outputs along one axis (see the module docstring)."""
    return pool.out_size(n)


def _window_starts(n: int, pool: Pool) -> np.ndarray:
    """First conv-output coordinate (may be negative: padding) of every pooling window."""
    return np.arange(pool.out_size(n), dtype=np.int64) * pool.stride - pool.padding


def window_counts(n: int, pool: Pool) -> np.ndarray:
    """Per pooled coordinate along one axis: window elements inside the ``n`` conv outputs."""
    lo = _window_starts(n, pool)
    hi = lo + pool.window
    counts: np.ndarray = np.minimum(hi, n) - np.maximum(lo, 0)
    return counts


def pool2d(x: np.ndarray, pool: Pool) -> np.ndarray:
    """Pool a ``[C, P, Q]`` activation map; returns ``[C, P', Q']`` in float32.

    Parameters
    ----------
    x : np.ndarray
        Conv outputs after ReLU, ``[C, P, Q]``.
    pool : Pool
        Kind (``max`` or ``avg``), window, stride, padding and rounding.

    Returns
    -------
    np.ndarray
        The pooled map. Max ignores padding; avg divides by the in-plane elements only.
    """
    C, P, Q = x.shape
    Pp, Qp = pool.out_size(P), pool.out_size(Q)
    w, s, p = pool.window, pool.stride, pool.padding
    # Pad so that every window (also ceil-mode ones running past the plane) is in range.
    need_r = (Pp - 1) * s + w - P - p
    need_c = (Qp - 1) * s + w - Q - p
    fill = -np.inf if pool.kind == "max" else 0.0
    xp = np.pad(x.astype(np.float64), ((0, 0), (p, max(need_r, 0)), (p, max(need_c, 0))),
                constant_values=fill)
    win = np.lib.stride_tricks.sliding_window_view(xp, (w, w), axis=(1, 2))
    win = win[:, ::s, ::s][:, :Pp, :Qp]                     # [C, P', Q', w, w]
    if pool.kind == "max":
        out = win.max(axis=(3, 4))
    else:
        n = window_counts(P, pool)[:, None] * window_counts(Q, pool)[None, :]
        out = win.sum(axis=(3, 4)) / n
    pooled: np.ndarray = out.astype(np.float32)
    return pooled


def pool_ops(K: int, P: int, Q: int, pool: Pool | None) -> int:
    """PPU pooling operations of a ``[K, P, Q]`` output map (0 without pooling)."""
    if pool is None:
        return 0
    n = window_counts(P, pool)[:, None] * window_counts(Q, pool)[None, :]
    per_channel = int((n - 1).sum()) if pool.kind == "max" else int(n.sum())
    return K * per_channel


def pooled_owner_bounds(own: list[tuple[int, int]], n: int, n_out: int,
                        pool: Pool | None) -> list[tuple[int, int]]:
    """Pooled-output range each PE finishes, from the conv-output range it owns (one axis).

    ``own`` are the PEs' owned conv-output ranges along the axis, ``n`` the conv output extent
    and ``n_out`` the pooled extent. Without ``pool`` but with ``n_out < n`` (an exported
    network whose pooling parameters are unknown), pooled output ``o`` is assigned by its
    proportional centre ``(2 o + 1) n // (2 n_out)``.
    """
    o = np.arange(n_out, dtype=np.int64)
    if pool is not None:
        centre = np.clip(o * pool.stride - pool.padding + (pool.window - 1) // 2, 0, n - 1)
    else:
        centre = np.clip((2 * o + 1) * n // (2 * max(n_out, 1)), 0, n - 1)
    out = []
    for lo, hi in own:
        mine = o[(centre >= lo) & (centre < hi)]
        out.append((int(mine[0]), int(mine[-1]) + 1) if len(mine) else (0, 0))
    return out
