"""The coarse, concurrent part of a layer, as a SimPy model.

Processes (no event per multiply: the per-cycle work of a step comes from the numba kernel):

* **sequencer**: runs the steps (one output-channel group of one pass of one convolution
  group) in order. A step waits for its activations (first step of a pass), for a free
  accumulator buffer (double-buffered: the drain of step ``i - 2`` must be done), computes for
  the slowest PE's cycles, waits for its weights to have streamed in, exchanges halos (the
  barrier), then hands the buffer to the drain.
* **weight fetcher**: streams each step's compressed weights from DRAM, running at most one
  step ahead of compute (the weight FIFO is only 50 entries deep).
* **activation fetcher**: when a layer's activations do not fit the IARAM, streams them from
  DRAM as a list of :class:`Fetch` transfers, in order. A fetch is *released* by the start of
  a given step (the IARAM space it fills is free then) and is *needed by* a step, which either
  waits for it before starting or, when ``streamed`` (channels arrive in the order they are
  consumed), starts at once and cannot end before it has arrived. Without an explicit list,
  each pass's activations are fetched when the previous pass starts (``half_iaram``: a
  double-buffered IARAM).
* **drain**: PPU drain of an accumulator buffer (halo add, ReLU, compression into OARAM), then
  the outputs' DRAM write when they spill.
* **DRAM channel**: a ``simpy.Resource`` of capacity 1; a transfer holds it for
  ``bits / bits_per_cycle`` cycles and arrives ``latency`` cycles later; the latency of one
  transfer overlaps the next (pipelined requests).
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, cast

import simpy

#: A simpy process body.
_Proc = Generator[simpy.Event, Any, None]


@dataclass(frozen=True)
class Step:
    """One (pass, convolution group, output-channel group) step of a layer."""

    compute_cycles: int       # slowest PE's cycles, barrier included
    halo_cycles: int          # halo exchange after the barrier
    drain_cycles: int         # PPU drain of the accumulator buffer
    weight_bits: float        # DRAM bits of the step's weights
    act_bits: float           # DRAM bits of activations that must arrive before the step
    out_bits: float           # DRAM bits written after the drain
    first_of_pass: bool
    ends_group: bool = True   # False: a channel chunk inside a group (no barrier/halo/drain)


@dataclass(frozen=True)
class Fetch:
    """One activation transfer from DRAM (see the module docstring)."""

    bits: float
    release: int              # step whose start allows the transfer (-1: at time 0)
    needed_by: int            # step that needs the data
    streamed: bool = False    # needed_by may start before arrival, not end before it


def pass_fetches(steps: list[Step]) -> list[Fetch]:
    """The default fetches: a pass's activations, released when the previous pass starts."""
    out, prev = [], -1
    for i, st in enumerate(steps):
        if st.first_of_pass:
            out.append(Fetch(st.act_bits, prev, i))
            prev = i
    return out


@dataclass(frozen=True)
class Timeline:
    """Cycle breakdown of a layer's coarse events. ``total`` is the sum of the others."""

    total: int
    compute: int
    halo: int
    dram_stall: int
    drain_stall: int
    dram_busy: int


def run_timeline(steps: list[Step], bits_per_cycle: float, latency: int,
                 double_buffered: bool, fetches: list[Fetch] | None = None) -> Timeline:
    """Simulate the steps of one layer; return its cycles by cause.

    Parameters
    ----------
    steps
        The layer's steps in execution order.
    bits_per_cycle, latency
        DRAM bandwidth (bits per cycle) and latency (cycles).
    double_buffered
        Two accumulator buffers: a group's drain overlaps the next group's compute.
    fetches
        Activation transfers; default :func:`pass_fetches` of ``steps``.
    """
    # Over 80 lines: the SimPy processes below are closures over the events they share.
    env = simpy.Environment()
    dram = simpy.Resource(env, capacity=1)
    n = len(steps)
    if fetches is None:
        fetches = pass_fetches(steps)
    started = [env.event() for _ in range(n)]
    w_ready = [env.event() for _ in range(n)]
    before: list[list[simpy.Event]] = [[] for _ in range(n)]
    after: list[list[simpy.Event]] = [[] for _ in range(n)]
    f_done = []
    for f in fetches:
        ev = env.event()
        f_done.append(ev)
        (after if f.streamed else before)[f.needed_by].append(ev)
    group_of, g = [], 0
    for st in steps:
        group_of.append(g)
        g += 1 if st.ends_group else 0
    drained = [env.event() for _ in range(g + 1)]
    writes: list[simpy.Process] = []
    stats: dict[str, int] = {"compute": 0, "halo": 0, "dram_stall": 0, "drain_stall": 0,
                             "dram_busy": 0}

    def now() -> int:
        # every delay below is a whole number of cycles (int), so the clock stays an int
        return cast(int, env.now)

    def arrive(done: simpy.Event) -> _Proc:
        yield env.timeout(latency)
        done.succeed()

    def transfer(bits: float, done: simpy.Event | None) -> _Proc:
        # Holds the channel for the transfer only; the latency overlaps the next transfer
        # (requests are pipelined), and ``done`` fires when the data has arrived.
        if bits > 0:
            with dram.request() as req:
                yield req
                busy = int(-(-bits // bits_per_cycle))
                stats["dram_busy"] += busy
                yield env.timeout(busy)
            if done is not None:
                env.process(arrive(done))
        elif done is not None:
            done.succeed()

    def weight_fetcher() -> _Proc:
        for i, st in enumerate(steps):
            if i > 0:
                yield started[i - 1]
            yield env.process(transfer(st.weight_bits, w_ready[i]))

    def act_fetcher() -> _Proc:
        for f, done in zip(fetches, f_done, strict=True):
            if f.release >= 0:
                yield started[f.release]
            yield env.process(transfer(f.bits, done))

    def drain(i: int) -> _Proc:
        yield env.timeout(steps[i].drain_cycles)
        drained[group_of[i]].succeed()
        if steps[i].out_bits > 0:
            written = env.event()
            yield env.process(transfer(steps[i].out_bits, written))
            yield written

    def sequencer() -> _Proc:
        reuse = 2 if double_buffered else 1
        for i, st in enumerate(steps):
            t0 = now()
            if before[i]:
                yield before[i][0] if len(before[i]) == 1 else simpy.AllOf(env, before[i])
            stats["dram_stall"] += now() - t0
            gi = group_of[i]
            if gi >= reuse and (i == 0 or group_of[i - 1] != gi):
                t0 = now()
                yield drained[gi - reuse]
                stats["drain_stall"] += now() - t0
            started[i].succeed()
            yield env.timeout(st.compute_cycles)
            stats["compute"] += st.compute_cycles
            t0 = now()
            yield simpy.AllOf(env, [w_ready[i], *after[i]]) if after[i] else w_ready[i]
            stats["dram_stall"] += now() - t0
            if not st.ends_group:
                continue
            yield env.timeout(st.halo_cycles)
            stats["halo"] += st.halo_cycles
            writes.append(env.process(drain(i)))
        t0 = now()
        if writes:
            yield simpy.AllOf(env, writes)
        stats["drain_stall"] += now() - t0

    env.process(weight_fetcher())
    env.process(act_fetcher())
    env.process(sequencer())
    env.run()
    total = int(env.now)
    return Timeline(total=total, compute=stats["compute"], halo=stats["halo"],
                    dram_stall=stats["dram_stall"], drain_stall=stats["drain_stall"],
                    dram_busy=stats["dram_busy"])
