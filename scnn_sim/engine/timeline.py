"""The coarse, concurrent part of a layer, as a SimPy model.

Processes (no event per multiply: the per-cycle work of a step comes from the numba kernel):

* **sequencer**: runs the steps (one output-channel group of one pass of one convolution
  group) in order. A step waits for its activations (first step of a pass), for a free
  accumulator buffer (double-buffered: the drain of step ``i - 2`` must be done), computes for
  the slowest PE's cycles, waits for its weights to have streamed in, exchanges halos (the
  barrier), then hands the buffer to the drain.
* **weight fetcher**: streams each step's compressed weights from DRAM, running at most one
  step ahead of compute (the weight FIFO is only 50 entries deep).
* **activation fetcher**: when a layer's activations do not fit the IARAM, streams the next
  pass's sub-tiles while the current pass computes (a double-buffered IARAM).
* **drain**: PPU drain of an accumulator buffer (halo add, ReLU, compression into OARAM), then
  the outputs' DRAM write when they spill.
* **DRAM channel**: a ``simpy.Resource`` of capacity 1; a transfer holds it for
  ``bits / bits_per_cycle`` cycles and arrives ``latency`` cycles later; the latency of one
  transfer overlaps the next (pipelined requests).
"""

from __future__ import annotations

from dataclasses import dataclass

import simpy


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
                 double_buffered: bool) -> Timeline:
    """Simulate the steps of one layer; return its cycles by cause."""
    env = simpy.Environment()
    dram = simpy.Resource(env, capacity=1)
    n = len(steps)
    started = [env.event() for _ in range(n)]
    w_ready = [env.event() for _ in range(n)]
    a_ready = [env.event() for _ in range(n)]
    drained = [env.event() for _ in range(n)]
    writes: list[simpy.Process] = []
    stats = {"compute": 0, "halo": 0, "dram_stall": 0, "drain_stall": 0, "dram_busy": 0}

    def arrive(done: simpy.Event):
        yield env.timeout(latency)
        done.succeed()

    def transfer(bits: float, done: simpy.Event | None):
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

    def weight_fetcher():
        for i, st in enumerate(steps):
            if i > 0:
                yield started[i - 1]
            yield env.process(transfer(st.weight_bits, w_ready[i]))

    def act_fetcher():
        prev_pass_start = None
        for i, st in enumerate(steps):
            if not st.first_of_pass:
                a_ready[i].succeed()
                continue
            if prev_pass_start is not None:
                yield started[prev_pass_start]
            yield env.process(transfer(st.act_bits, a_ready[i]))
            prev_pass_start = i

    def drain(i: int):
        yield env.timeout(steps[i].drain_cycles)
        drained[i].succeed()
        if steps[i].out_bits > 0:
            written = env.event()
            yield env.process(transfer(steps[i].out_bits, written))
            yield written

    def sequencer():
        reuse = 2 if double_buffered else 1
        for i, st in enumerate(steps):
            t0 = env.now
            yield a_ready[i]
            stats["dram_stall"] += env.now - t0
            if i >= reuse:
                t0 = env.now
                yield drained[i - reuse]
                stats["drain_stall"] += env.now - t0
            started[i].succeed()
            yield env.timeout(st.compute_cycles)
            stats["compute"] += st.compute_cycles
            t0 = env.now
            yield w_ready[i]
            stats["dram_stall"] += env.now - t0
            yield env.timeout(st.halo_cycles)
            stats["halo"] += st.halo_cycles
            writes.append(env.process(drain(i)))
        t0 = env.now
        if writes:
            yield simpy.AllOf(env, writes)
        stats["drain_stall"] += env.now - t0

    env.process(weight_fetcher())
    env.process(act_fetcher())
    env.process(sequencer())
    env.run()
    total = int(env.now)
    return Timeline(total=total, compute=stats["compute"], halo=stats["halo"],
                    dram_stall=stats["dram_stall"], drain_stall=stats["drain_stall"],
                    dram_busy=stats["dram_busy"])
