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

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from scnn_sim.errors import SimulationError
from scnn_sim.inputs.arch import ArchConfig
from scnn_sim.sparsity.formats import RLEStream, rle_encode_blocks
from scnn_sim.workload.shapes import Layer
from scnn_sim.workload.tensors import LayerTensors


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
    sub_r = [split_bounds(r1 - r0, sub[0]) for r0, r1 in pe_r]
    sub_c = [split_bounds(c1 - c0, sub[1]) for c0, c1 in pe_c]
    for si in range(sub[0]):
        for sj in range(sub[1]):
            for i, (r0, _) in enumerate(pe_r):
                for j, (c0, _) in enumerate(pe_c):
                    sr = sub_r[i][si]
                    sc = sub_c[j][sj]
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


def candidate_subtiles(tile_h: int, tile_w: int) -> Iterator[tuple[int, int]]:
    """Sub-tilings in the order tried: split the longer sub-tile side first, down to pixels."""
    sr, sc = 1, 1
    yield (sr, sc)
    while sr < max(tile_h, 1) or sc < max(tile_w, 1):
        if (-(-tile_h // sr) >= -(-tile_w // sc) and sr < tile_h) or sc >= tile_w:
            sr += 1
        else:
            sc += 1
        yield (sr, sc)


# --------------------------------------------------------------------------------------------
# The mapping of one layer: sub-tiling, Kc and temporal tiling; the encoded activations.
# --------------------------------------------------------------------------------------------


def _order_axes(order: str) -> tuple[tuple[int, ...], np.ndarray]:
    axis = {"k": 0, "r": 2, "s": 3}
    perm = (1,) + tuple(axis[ch] for ch in order)
    dim_of = np.array(["krs".index(ch) for ch in order], np.int64)
    return perm, dim_of


def _encode_activations(acts: np.ndarray, tiling: Tiling, n_phases: int,
                        index_bits: int, placeholders: bool = True) -> RLEStream:
    """Blocks (work tile, phase, channel), each row-major over the tile's phase pixels."""
    C, W = acts.shape[0], acts.shape[2]
    # One gather of every (tile, phase) block's pixels (row-major per block), then each
    # block's C x n values channel-major, block after block.
    pix, sizes = [], []
    for t in range(tiling.n_tiles):
        for p in range(n_phases):
            ys, xs = tiling.phase_rows[t][p], tiling.phase_cols[t][p]
            pix.append((ys[:, None] * W + xs[None, :]).ravel())
            sizes.append(len(ys) * len(xs))
    pos = np.concatenate(pix) if pix else np.zeros(0, np.int64)
    gathered = acts.reshape(C, -1)[:, pos]
    ends = np.cumsum(sizes)
    parts = [gathered[:, e - n:e].ravel() for e, n in zip(ends.tolist(), sizes, strict=True)
             if n]
    flat = np.concatenate(parts) if parts else np.zeros(0, np.float32)
    return rle_encode_blocks(flat.astype(np.float32, copy=False),
                             np.repeat(np.asarray(sizes, np.int64), C), index_bits,
                             placeholders)


def _encode_weights(w: np.ndarray, layer: Layer, groups_k: list[tuple[int, int]],
                    order: str, index_bits: int, placeholders: bool = True) -> RLEStream:
    """Blocks (output-channel group, phase, input channel), each Kc x Rv x Sv in ``order``."""
    st = layer.stride
    perm, _ = _order_axes(order)
    parts, lengths = [], []
    Cg = w.shape[1]
    for k0, k1 in groups_k:
        for ph in phases(layer):
            sub = w[k0:k1, :, ph.a::st, ph.b::st]
            n = (k1 - k0) * ph.rv * ph.sv
            if n:
                parts.append(np.ascontiguousarray(sub.transpose(perm)).ravel())
            lengths.append(np.full(Cg, n, np.int64))
    flat = np.concatenate(parts) if parts else np.zeros(0, np.float32)
    return rle_encode_blocks(flat.astype(np.float32, copy=False), np.concatenate(lengths),
                             index_bits, placeholders)


def _tile_entries(stream: RLEStream, n_tiles: int) -> np.ndarray:
    """Entries (values incl. placeholders) of each work tile in an activation stream."""
    per_block = np.diff(stream.block_ptr)
    entries: np.ndarray = per_block.reshape(n_tiles, -1).sum(axis=1)
    return entries


@dataclass(frozen=True)
class MappingPlan:
    """What :func:`plan_mapping` chose for a layer.

    Attributes
    ----------
    tiling, kc, stream
        Work tiles, output channels per group and the encoded activations.
    resident
        The activations fit the IARAM whole (no temporal tiling).
    overflow
        ``"resident"`` or the ``dataflow.overflow`` rule that tiled the activations in time.
    acc_passes
        Passes the accumulator alone needs (Kc rule); ``tiling.n_passes`` may be more when
        the IARAM forced extra passes.
    """

    tiling: Tiling
    kc: int
    stream: RLEStream
    resident: bool
    overflow: str
    acc_passes: int


def channel_bits(stream: RLEStream, n_tiles: int, n_phases: int, n_channels: int,
                 entry_bits: int) -> np.ndarray:
    """IARAM bits of each (work tile, input channel) of an activation stream, phases summed."""
    per_block = np.diff(stream.block_ptr).reshape(n_tiles, n_phases, n_channels)
    bits: np.ndarray = per_block.sum(axis=1) * entry_bits
    return bits


def handover_bits(chan: np.ndarray, n_pes: int) -> np.ndarray:
    """Peak IARAM bits of each work tile under ``fewest_passes`` streaming.

    ``chan`` is :func:`channel_bits` (``[T, C]``, ``t = pass * n_pes + pe``). While a PE's
    last output-channel group of a pass consumes channel ``c``, channels ``< c`` of the pass
    are free and the next pass's channels ``0..c`` have been staged, so the IARAM holds
    ``cur[c:] + nxt[:c + 1]``; the peak over ``c`` is what must fit (the next pass's first
    channel block is the staging reserve). The last pass holds only itself.
    """
    T, C = chan.shape
    peak: np.ndarray = chan.sum(axis=1).astype(np.int64)
    if T > n_pes and C:
        cur, nxt = chan[:-n_pes], chan[n_pes:]
        suffix = np.cumsum(cur[:, ::-1], axis=1)[:, ::-1]
        prefix = np.cumsum(nxt, axis=1)
        peak[:-n_pes] = np.maximum(peak[:-n_pes], (suffix + prefix).max(axis=1))
    return peak


def _fewest_pass_candidates(first: tuple[int, int], tile_h: int,
                            tile_w: int) -> Iterator[tuple[int, int]]:
    """From the accumulator's sub-tiling, more passes: rows first, then columns."""
    sr, sc = first
    rows = max(tile_h, sr, 1)
    for r in range(sr, rows + 1):
        yield (r, sc)
    for c in range(sc + 1, max(tile_w, sc, 1) + 1):
        yield (rows, c)


def choose_mapping(lt: LayerTensors, arch: ArchConfig) -> tuple[Tiling, int, RLEStream, bool]:
    """Pick the sub-tiling and Kc (README "Kc and sub-tiles"); encode the activations.

    Returns the tiling, Kc, the activation stream and whether the activations stay resident
    in IARAM (False: they are streamed from DRAM, see :func:`plan_mapping`).
    """
    plan = plan_mapping(lt, arch)
    return plan.tiling, plan.kc, plan.stream, plan.resident


def plan_mapping(lt: LayerTensors, arch: ArchConfig) -> MappingPlan:
    """The sub-tiling, Kc and temporal tiling of a layer (README "Temporal tiling").

    When every PE's compressed activations fit its IARAM they stay resident and only the
    accumulator (Kc rule) splits tiles into passes. Otherwise ``arch.overflow`` decides:
    ``half_iaram`` (the smallest sub-tiling whose work tiles fit half the IARAM),
    ``fewest_passes`` (the fewest passes, rows first, whose :func:`handover_bits` fit the
    IARAM) or ``channel_chunk`` (the accumulator's sub-tiling; input channels are chunked
    later, see :func:`channel_chunks`).
    """
    if arch.kc_rule == "dnnsim":
        return _kc_dnnsim(lt, arch)
    pl = _Planner(lt, arch)
    if pl.resident:
        return pl.plan(pl.acc_tiling, pl.stream_of(pl.acc_tiling), "resident")
    if arch.overflow == "channel_chunk":
        return pl.channel_chunk()
    if arch.overflow == "fewest_passes":
        return pl.fewest_passes()
    return pl.half_iaram()


class _Planner:
    """The candidates of :func:`plan_mapping` for one layer, each tiling and encoded stream
    built once (the resident check, the accumulator's sub-tiling and the overflow rules often
    ask for the same sub-tiling)."""

    def __init__(self, lt: LayerTensors, arch: ArchConfig) -> None:
        self.lt, self.arch, self.layer = lt, arch, lt.layer
        layer = lt.layer
        self.entry_bits = arch.value_bits + arch.index_bits
        self.iaram_bits = arch.iaram_bytes * 8
        self.n_ph = layer.stride ** 2
        self.kc_need = min(layer.K // layer.groups,
                           arch.kc if arch.kc is not None else arch.kc_max)
        pe_r = split_bounds(layer.H, arch.pe_rows, arch.tiling, layer.padding)
        pe_c = split_bounds(layer.W, arch.pe_cols, arch.tiling, layer.padding)
        self.tile_h = max(hi - lo for lo, hi in pe_r)
        self.tile_w = max(hi - lo for lo, hi in pe_c)
        self.cands = ([arch.subtiles] if arch.subtiles is not None
                      else list(candidate_subtiles(self.tile_h, self.tile_w)))
        # Non-zeros per work tile (a lower bound of its entries) from a 2-D prefix sum, so
        # that candidates that cannot fit are rejected before they are encoded.
        self.nz = np.zeros((layer.H + 1, layer.W + 1), np.int64)
        self.nz[1:, 1:] = np.count_nonzero(lt.activations, axis=0).cumsum(0).cumsum(1)
        self.tilings: dict[tuple[int, int], Tiling] = {}
        self.streams: dict[tuple[tuple[int, int], bool], RLEStream] = {}
        per_pe_nnz = max(self.nnz_rect(r0, r1, c0, c1) for r0, r1 in pe_r for c0, c1 in pe_c)
        self.resident = per_pe_nnz * self.entry_bits <= self.iaram_bits
        if self.resident:
            # Placeholders count too: check the exact encoded size of each PE's whole tile.
            whole = self.tiling_of((1, 1))
            stream = self.stream_of(whole, arch.placeholders)
            self.resident = bool(_tile_entries(stream, whole.n_tiles).max(initial=0)
                                 * self.entry_bits <= self.iaram_bits)
        # The accumulator's sub-tiling: the first candidate whose buffer holds Kc channels.
        acc_tiling = None
        for sub in self.cands:
            acc_tiling = self.tiling_of(sub)
            if self.kc_need * acc_tiling.BH * acc_tiling.BW <= arch.acc_capacity:
                break
        assert acc_tiling is not None
        self.acc_tiling = acc_tiling

    def tiling_of(self, sub: tuple[int, int]) -> Tiling:
        sub = (sub[0], sub[1])   # a list from the configuration as a key
        if sub not in self.tilings:
            a = self.arch
            self.tilings[sub] = make_tiling(self.layer, a.pe_rows, a.pe_cols, sub, a.tiling)
        return self.tilings[sub]

    def stream_of(self, tiling: Tiling, placeholders: bool = True) -> RLEStream:
        key = ((tiling.sub[0], tiling.sub[1]), bool(placeholders))
        if key not in self.streams:
            self.streams[key] = _encode_activations(self.lt.activations, tiling, self.n_ph,
                                                    self.arch.index_bits, placeholders)
        return self.streams[key]

    def nnz_rect(self, r0: int, r1: int, c0: int, c1: int) -> int:
        nz = self.nz
        return int(nz[r1, c1] - nz[r0, c1] - nz[r1, c0] + nz[r0, c0])

    def max_tile_nnz(self, tiling: Tiling) -> int:
        return max(self.nnz_rect(r0, r1, c0, c1)
                   for (r0, r1), (c0, c1) in zip(tiling.rows, tiling.cols, strict=True))

    def kc_for(self, tiling: Tiling) -> int:
        arch, kc_need, name = self.arch, self.kc_need, self.layer.name
        buf = tiling.BH * tiling.BW
        if kc_need * buf <= arch.acc_capacity:
            return kc_need
        if arch.kc is not None:
            raise SimulationError(
                f"{name}: Kc={kc_need} x {tiling.BH}x{tiling.BW} accumulator entries "
                f"exceed the {arch.acc_capacity}-entry accumulator; lower dataflow.kc or "
                f"raise dataflow.subtiles")
        kc = arch.acc_capacity // buf
        if kc < 1:
            raise SimulationError(
                f"{name}: one output channel of a {tiling.BH}x{tiling.BW} buffer "
                f"does not fit {arch.acc_capacity} accumulator entries")
        return kc

    def plan(self, tiling: Tiling, stream: RLEStream, rule: str) -> MappingPlan:
        return MappingPlan(tiling, self.kc_for(tiling), stream, self.resident, rule,
                           self.acc_tiling.n_passes)

    def channel_chunk(self) -> MappingPlan:
        """The accumulator's sub-tiling; every channel of a work tile must fit half the IARAM."""
        acc_tiling, half = self.acc_tiling, self.iaram_bits // 2
        stream = self.stream_of(acc_tiling)
        chan = channel_bits(stream, acc_tiling.n_tiles, self.n_ph, self.layer.C,
                            self.entry_bits)
        if chan.max(initial=0) > half:
            raise SimulationError(
                f"{self.layer.name}: one input channel of a work tile needs "
                f"{int(chan.max())} bits, half the IARAM holds {half} (dataflow.overflow: "
                f"channel_chunk double-buffers channel chunks)")
        return self.plan(acc_tiling, stream, "channel_chunk")

    def fewest_passes(self) -> MappingPlan:
        """The fewest passes (rows first) whose hand-over between passes fits the IARAM."""
        fp = [self.acc_tiling.sub] if self.arch.subtiles is not None else list(
            _fewest_pass_candidates(self.acc_tiling.sub, self.tile_h, self.tile_w))
        need = 0
        for i, sub in enumerate(fp):
            tiling = self.tiling_of(sub)
            if (i < len(fp) - 1
                    and self.max_tile_nnz(tiling) * self.entry_bits > self.iaram_bits):
                continue
            stream = self.stream_of(tiling)
            peak = handover_bits(channel_bits(stream, tiling.n_tiles, self.n_ph,
                                              self.layer.C, self.entry_bits), tiling.n_pes)
            need = int(peak.max(initial=0))
            if need <= self.iaram_bits:
                return self.plan(tiling, stream, "fewest_passes")
        raise SimulationError(
            f"{self.layer.name}: cannot map on the PE array with subtiles={list(fp[-1])}: a "
            f"pass and the next pass's first channel need {need} bits, IARAM holds "
            f"{self.iaram_bits} (dataflow.overflow: fewest_passes)")

    def half_iaram(self) -> MappingPlan:
        """The smallest sub-tiling (longer side first) that fits half the IARAM."""
        arch, cands, half = self.arch, self.cands, self.iaram_bits // 2
        last_reason = ""
        for sub in cands:
            final = arch.subtiles is not None or sub == cands[-1]
            tiling = self.tiling_of(sub)
            fits_acc = self.kc_need * tiling.BH * tiling.BW <= arch.acc_capacity
            if not fits_acc and not final:
                continue
            if not final and self.max_tile_nnz(tiling) * self.entry_bits > half:
                last_reason = "sub-tile activations exceed half the IARAM"
                continue
            stream = self.stream_of(tiling, arch.placeholders)
            tile_bits = _tile_entries(stream, tiling.n_tiles) * self.entry_bits
            if tile_bits.max(initial=0) <= half:
                return self.plan(tiling, stream, "half_iaram")
            last_reason = (f"sub-tile activations need {int(tile_bits.max())} bits, IARAM "
                           f"holds {self.iaram_bits} (half for double-buffered streaming)")
        raise SimulationError(f"{self.layer.name}: cannot map on the PE array with "
                              f"subtiles={cands[-1]}: {last_reason}")


def channel_chunks(chan: np.ndarray, c0: int, c1: int, capacity: int) -> list[tuple[int, int]]:
    """Split input channels ``[c0, c1)`` into contiguous chunks for ``channel_chunk``.

    ``chan`` holds the bits of each (work tile of one pass, channel); a chunk is one DRAM
    transfer for all PEs, so a channel joins the current chunk while every PE's share still
    fits ``capacity`` (half the IARAM: the next chunk streams in while this one computes).
    """
    out, lo = [], c0
    acc = np.zeros(chan.shape[0], np.int64)
    for c in range(c0, c1):
        if c > lo and (acc + chan[:, c]).max(initial=0) > capacity:
            out.append((lo, c))
            lo, acc = c, np.zeros_like(acc)
        acc += chan[:, c]
    out.append((lo, c1))
    return out


def _kc_dnnsim(lt: LayerTensors, arch: ArchConfig) -> MappingPlan:
    """DNNsim's Kc rule: accumulator entries // the output tile's area; whole tiles, no cap.

    The output tile is ``ceil(P / pe_rows) x ceil(Q / pe_cols)`` (SCNN.cpp:266-270); the halo
    is not counted and the accumulator capacity is not checked (no sub-tiles). An explicit
    ``dataflow.kc`` replaces the rule.
    """
    layer = lt.layer
    if arch.kc is not None:
        kc = arch.kc
    else:
        area = -(-layer.P // arch.pe_rows) * -(-layer.Q // arch.pe_cols)
        kc = arch.acc_capacity // area
        if kc < 1:
            raise SimulationError(
                f"{layer.name}: dataflow.kc_rule: dnnsim: an output tile of {area} entries "
                f"exceeds the {arch.acc_capacity}-entry accumulator")
    kc = min(kc, layer.K // layer.groups)
    tiling = make_tiling(layer, arch.pe_rows, arch.pe_cols, (1, 1), arch.tiling)
    stream = _encode_activations(lt.activations, tiling, layer.stride ** 2, arch.index_bits,
                                 arch.placeholders)
    entry_bits = arch.value_bits + arch.index_bits
    resident = bool(_tile_entries(stream, tiling.n_tiles).max(initial=0) * entry_bits
                    <= arch.iaram_bytes * 8)
    # DNNsim does not tile in time: a layer that does not fit the IARAM runs whole anyway
    # (overflow "untiled"); its activations are counted as read from DRAM once.
    return MappingPlan(tiling, kc, stream, resident, "resident" if resident else "untiled", 1)
