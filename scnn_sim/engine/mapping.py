"""Mapping a layer on the PE array: planar tiles, spatial sub-tiles, stride phases, Kc.

Conventions (README "Modelling choices" explains why):

* **Planar tiling (PT).** The *input* plane H x W is split over the PE grid: rows over
  ``pe_rows``, columns over ``pe_cols``. ``balanced`` splits like ``np.array_split`` (tiles
  differ by at most one pixel); ``ceil`` gives every PE ``ceil(H / pe_rows)`` rows and leaves
  the last PEs short or idle; ``padded`` (DNNsim) gives equal tiles of the zero-padded plane.
* **Spatial sub-tiles.** A PE may process its tile as ``sub_rows x sub_cols`` sub-tiles, one
  after the other (a *pass* each): needed when the accumulator cannot hold Kc channels of the
  whole tile plus halo, or when the tile's compressed activations exceed the IARAM. The set of
  all PEs' sub-tiles are the *work tiles*; work tile ``t = pass * n_pes + pe``.
* **Stride phases.** A stride-``st`` layer is decomposed into ``st * st`` stride-1 phase
  convolutions. With padded coordinates ``yp = y + pad``, input row ``y`` is in phase
  ``a = yp % st`` with phase coordinate ``u = yp // st``; kernel row ``r = a + st * v`` of
  phase ``a`` has phase coordinate ``v``; the output row is ``u - v``. Only activations and
  weights of the same phase are multiplied, so no product is wasted on the stride.
* **Accumulator buffer.** A work tile's products land in output rows
  ``[min_p(u_first - (Rv_p - 1)), max_p u_last]`` (halos included, also the halo outside the
  output plane, which is discarded at drain, as in SCNN's ``(Wt + R - 1) x (Ht + S - 1)``
  buffer). Every work tile uses the largest tile's buffer shape ``BH x BW`` so that weight
  coordinates map to one address layout: address = ``k * BH * BW + row * BW + col``.
* **Output ownership.** Output row ``o`` is owned by the tile holding input row
  ``clip(o * st - pad + (R - 1) // 2, 0, H - 1)`` (the kernel centre); the PPU of the owner
  finishes it. Accumulator entries of valid outputs a tile does not own are halo words.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scnn_sim.workload.shapes import Layer


def split_bounds(n: int, parts: int, mode: str = "balanced",
                 pad: int = 0) -> list[tuple[int, int]]:
    """Split ``range(n)`` into ``parts`` contiguous ranges ``(lo, hi)``; some may be empty.

    ``padded`` (DNNsim's rule) splits the zero-padded extent ``n + 2 * pad``, rounded up to a
    multiple of ``parts``, into equal tiles and maps them back to input coordinates (padding
    pixels hold zeros, so only the input part of a tile is kept).
    """
    if mode == "padded":
        step = -(-(n + 2 * pad) // parts)
        return [(min(max(i * step - pad, 0), n), min(max((i + 1) * step - pad, 0), n))
                for i in range(parts)]
    if mode == "ceil":
        step = -(-n // parts)
        return [(min(i * step, n), min((i + 1) * step, n)) for i in range(parts)]
    base, extra = divmod(n, parts)
    out, lo = [], 0
    for i in range(parts):
        hi = lo + base + (1 if i < extra else 0)
        out.append((lo, hi))
        lo = hi
    return out


@dataclass(frozen=True)
class Phase:
    """One stride phase: input rows/cols with ``(y + pad) % st == (a, b)``; sub-kernel size."""

    a: int
    b: int
    rv: int
    sv: int


def phases(layer: Layer) -> list[Phase]:
    """The ``stride**2`` phase convolutions of a layer (stride 1 gives one phase)."""
    st = layer.stride
    out = []
    for a in range(st):
        for b in range(st):
            rv = len(range(a, layer.R, st))
            sv = len(range(b, layer.S, st))
            out.append(Phase(a, b, rv, sv))
    return out


@dataclass(frozen=True)
class Tiling:
    """Work tiles of a layer for a given PE grid and sub-tiling.

    Attributes
    ----------
    rows, cols : list of (lo, hi)
        Input-row and input-column range of each work tile (``len == T``).
    pe_of, pass_of : np.ndarray
        PE index and pass index of each work tile.
    oy, ox : np.ndarray
        Output coordinate of each tile's accumulator-buffer origin.
    bh, bw : np.ndarray
        Each tile's own buffer extent (0 for an empty tile).
    BH, BW : int
        Largest buffer extent: the layout every tile uses.
    phase_rows, phase_cols : list of list of np.ndarray
        ``[t][p]``: the input rows / cols of tile t in phase p.
    """

    n_pes: int
    n_passes: int
    sub: tuple[int, int]
    rows: list[tuple[int, int]]
    cols: list[tuple[int, int]]
    pe_of: np.ndarray
    pass_of: np.ndarray
    oy: np.ndarray
    ox: np.ndarray
    bh: np.ndarray
    bw: np.ndarray
    BH: int
    BW: int
    phase_rows: list[list[np.ndarray]]
    phase_cols: list[list[np.ndarray]]

    @property
    def n_tiles(self) -> int:
        """Number of work tiles (PEs x passes)."""
        return len(self.rows)


def _phase_extent(lo: int, hi: int, a: int, pad: int, st: int) -> np.ndarray:
    """Input coordinates in [lo, hi) of phase ``a``."""
    first = lo + ((a - (lo + pad)) % st)
    return np.arange(first, hi, st, dtype=np.int64)


def make_tiling(layer: Layer, pe_rows: int, pe_cols: int, sub: tuple[int, int],
                mode: str) -> Tiling:
    """Work tiles of ``layer`` on a ``pe_rows x pe_cols`` grid with ``sub`` sub-tiles per PE."""
    st, pad = layer.stride, layer.padding
    phs = phases(layer)
    pe_r = split_bounds(layer.H, pe_rows, mode, layer.padding)
    pe_c = split_bounds(layer.W, pe_cols, mode, layer.padding)
    rows: list[tuple[int, int]] = []
    cols: list[tuple[int, int]] = []
    pe_of, pass_of = [], []
    n_pes = pe_rows * pe_cols
    for si in range(sub[0]):
        for sj in range(sub[1]):
            for i, (r0, r1) in enumerate(pe_r):
                for j, (c0, c1) in enumerate(pe_c):
                    sr = split_bounds(r1 - r0, sub[0])[si]
                    sc = split_bounds(c1 - c0, sub[1])[sj]
                    rows.append((r0 + sr[0], r0 + sr[1]))
                    cols.append((c0 + sc[0], c0 + sc[1]))
                    pe_of.append(i * pe_cols + j)
                    pass_of.append(si * sub[1] + sj)
    T = len(rows)
    oy = np.zeros(T, np.int64)
    ox = np.zeros(T, np.int64)
    bh = np.zeros(T, np.int64)
    bw = np.zeros(T, np.int64)
    prow: list[list[np.ndarray]] = []
    pcol: list[list[np.ndarray]] = []
    for t in range(T):
        pr = [_phase_extent(*rows[t], ph.a, pad, st) for ph in phs]
        pc = [_phase_extent(*cols[t], ph.b, pad, st) for ph in phs]
        prow.append(pr)
        pcol.append(pc)
        lo_r = [(ys[0] + pad) // st - (ph.rv - 1) for ys, ph in zip(pr, phs, strict=True)
                if len(ys) and ph.rv]
        hi_r = [(ys[-1] + pad) // st for ys, ph in zip(pr, phs, strict=True) if len(ys) and ph.rv]
        lo_c = [(xs[0] + pad) // st - (ph.sv - 1) for xs, ph in zip(pc, phs, strict=True)
                if len(xs) and ph.sv]
        hi_c = [(xs[-1] + pad) // st for xs, ph in zip(pc, phs, strict=True) if len(xs) and ph.sv]
        if lo_r and lo_c:
            oy[t], ox[t] = min(lo_r), min(lo_c)
            bh[t], bw[t] = max(hi_r) - oy[t] + 1, max(hi_c) - ox[t] + 1
    return Tiling(
        n_pes=n_pes, n_passes=sub[0] * sub[1], sub=sub, rows=rows, cols=cols,
        pe_of=np.asarray(pe_of, np.int64), pass_of=np.asarray(pass_of, np.int64),
        oy=oy, ox=ox, bh=bh, bw=bw, BH=int(max(bh.max(), 1)), BW=int(max(bw.max(), 1)),
        phase_rows=prow, phase_cols=pcol,
    )


def owner_bounds(layer: Layer, in_bounds: list[tuple[int, int]], n_out: int,
                 axis: str) -> list[tuple[int, int]]:
    """Output range owned by each input range (by the kernel-centre rule), along one axis."""
    k = layer.R if axis == "row" else layer.S
    n_in = layer.H if axis == "row" else layer.W
    o = np.arange(n_out)
    centre = np.clip(o * layer.stride - layer.padding + (k - 1) // 2, 0, n_in - 1)
    # centre never decreases with o: the outputs whose centre is in [lo, hi) are one run.
    bounds = np.asarray(in_bounds, np.int64).reshape(-1, 2)
    first = np.searchsorted(centre, bounds[:, 0], side="left")
    end = np.searchsorted(centre, bounds[:, 1], side="left")
    return [(int(a), int(b)) if b > a else (0, 0)
            for a, b in zip(first.tolist(), end.tolist(), strict=True)]


def halo_entries(layer: Layer, tiling: Tiling) -> np.ndarray:
    """Per work tile: accumulator entries (per output channel) of valid outputs it does not own."""
    own_r = owner_bounds(layer, tiling.rows, layer.P, "row")
    own_c = owner_bounds(layer, tiling.cols, layer.Q, "col")
    out = np.zeros(tiling.n_tiles, np.int64)
    for t in range(tiling.n_tiles):
        if tiling.bh[t] == 0:
            continue
        r0, r1 = max(tiling.oy[t], 0), min(tiling.oy[t] + tiling.bh[t], layer.P)
        c0, c1 = max(tiling.ox[t], 0), min(tiling.ox[t] + tiling.bw[t], layer.Q)
        vr, vc = max(0, r1 - r0), max(0, c1 - c0)
        # Owned outputs outside the buffer (border outputs that see only padding) are
        # produced by the PPU without partial sums: they are not in the buffer.
        own_in_r = max(0, min(own_r[t][1], r1) - max(own_r[t][0], r0))
        own_in_c = max(0, min(own_c[t][1], c1) - max(own_c[t][0], c0))
        out[t] = vr * vc - own_in_r * own_in_c
    return out


def candidate_subtiles(tile_h: int, tile_w: int):
    """Sub-tilings in the order tried: split the longer sub-tile side first, down to pixels."""
    sr, sc = 1, 1
    yield (sr, sc)
    while sr < max(tile_h, 1) or sc < max(tile_w, 1):
        if (-(-tile_h // sr) >= -(-tile_w // sc) and sr < tile_h) or sc >= tile_w:
            sr += 1
        else:
            sc += 1
        yield (sr, sc)
