"""The SimPy layer timeline (engine.timeline.run_timeline), on hand-made step lists whose
totals are derived by hand from the process rules in the module docstring."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scnn_sim.engine.timeline import Step, run_timeline


def step(compute=0, halo=0, drain=0, w=0.0, act=0.0, out=0.0, first=False) -> Step:
    return Step(compute_cycles=compute, halo_cycles=halo, drain_cycles=drain, weight_bits=w,
                act_bits=act, out_bits=out, first_of_pass=first)


def test_no_dram_total_is_compute_plus_halo_plus_last_drain():
    steps = [step(10, 2, 5, first=True), step(20, 0, 5), step(7, 1, 3)]
    tl = run_timeline(steps, bits_per_cycle=400.0, latency=100, double_buffered=True)
    assert tl.compute == 37
    assert tl.halo == 3
    assert tl.dram_stall == 0
    assert tl.dram_busy == 0
    assert tl.drain_stall == 3                      # only the final drain is exposed
    assert tl.total == 37 + 3 + 3
    assert tl.total == tl.compute + tl.halo + tl.dram_stall + tl.drain_stall


def test_empty_step_list():
    tl = run_timeline([], 10.0, 5, True)
    assert (tl.total, tl.compute, tl.dram_stall, tl.drain_stall) == (0, 0, 0, 0)


def test_weights_slower_than_compute_stall_is_the_difference():
    # One step: 1000 bits at 10 bits/cycle = 100 busy cycles, +7 latency; compute 40.
    tl = run_timeline([step(40, 0, 0, w=1000, first=True)], 10.0, 7, True)
    assert tl.dram_busy == 100
    assert tl.dram_stall == 100 + 7 - 40
    assert tl.total == 107


def test_weights_prefetched_one_step_ahead():
    """Step i+1's weights stream while step i computes (after step i's arrived).
    Two steps of 10 compute cycles, 1000-bit weights at 10 b/c, no latency:
    w0 0..100, w1 100..200; compute 0..10 then wait (90), 100..110 then wait (90)."""
    steps = [step(10, 0, 0, w=1000, first=True), step(10, 0, 0, w=1000)]
    tl = run_timeline(steps, 10.0, 0, True)
    assert tl.total == 200
    assert tl.dram_stall == 180 == 200 - 20
    assert tl.dram_busy == 200
    # Compute-bound: weights of 100 cycles hide under 150-cycle steps except the first.
    steps = [step(150, 0, 0, w=1000, first=True), step(150, 0, 0, w=1000)]
    tl = run_timeline(steps, 10.0, 0, True)
    assert tl.dram_stall == 0
    assert tl.total == 300


def test_weight_fetch_waits_for_previous_step_start():
    """The fetcher runs at most one step ahead: step 2's weights wait for step 1 to start.
    Step 0 computes 0..300 (its weights 0..10 are needed only at the end of compute); step 1's
    weights 10..20; step 2's weights only after step 1 starts (t=300): 300..310. Step 1
    computes 300..301, step 2 301..302 and then waits for its weights until 310."""
    steps = [step(300, w=100, first=True), step(1, w=100), step(1, w=100)]
    tl = run_timeline(steps, 10.0, 0, True)
    assert tl.dram_stall == 8
    assert tl.total == 310


def test_single_buffered_accumulator_exposes_drains():
    steps = [step(10, 0, 30, first=True), step(10, 0, 30)]
    single = run_timeline(steps, 10.0, 0, double_buffered=False)
    # step0 0..10, drain 10..40; step1 waits to 40, 40..50, drain 50..80.
    assert single.drain_stall == 30 + 30
    assert single.total == 80
    double = run_timeline(steps, 10.0, 0, double_buffered=True)
    # step1 10..20 in the other buffer; drains 10..40 and 20..50: final wait 30.
    assert double.drain_stall == 30
    assert double.total == 50


def test_double_buffer_reuses_buffer_two_steps_back():
    # Drains of 50 after 10-cycle steps: step 2 needs step 0's drain (10..60).
    steps = [step(10, 0, 50, first=True), step(10, 0, 50), step(10, 0, 50)]
    tl = run_timeline(steps, 10.0, 0, True)
    # s0 0..10 (d 10..60), s1 10..20 (d 20..70), s2 waits to 60, 60..70 (d 70..120).
    assert tl.drain_stall == 40 + 50
    assert tl.total == 120


def test_activation_streaming_per_pass():
    """Pass 0's activations (500 bits at 10 b/c + 5 latency) before step 0; pass 1's stream
    while pass 0 computes, starting when pass 0 started (t=55): 55..105 (+5) -> 110."""
    steps = [step(10, act=500, first=True), step(10),
             step(10, act=500, first=True), step(10)]
    tl = run_timeline(steps, 10.0, 5, True)
    # s0 55..65, s1 65..75, s2 waits to 110 (35), 110..120, s3 120..130.
    assert tl.dram_stall == 55 + 35
    assert tl.dram_busy == 100
    assert tl.total == 130
    # Long compute hides pass 1's fetch entirely.
    steps = [step(100, act=500, first=True), step(100),
             step(100, act=500, first=True), step(100)]
    tl = run_timeline(steps, 10.0, 5, True)
    assert tl.dram_stall == 55
    assert tl.total == 55 + 400


def test_output_spill_write_after_drain():
    # Drain 5, then 200 output bits at 10 b/c + latency 3 before the layer ends.
    tl = run_timeline([step(10, 0, 5, out=200, first=True)], 10.0, 3, True)
    assert tl.total == 10 + 5 + 20 + 3
    assert tl.drain_stall == 28
    assert tl.dram_busy == 20


def test_dram_channel_is_shared():
    """Weights and activations of the first step both need the single DRAM channel: the
    step cannot start before both transfers (10 cycles each) have used it."""
    tl = run_timeline([step(1, w=100, act=100, first=True)], 10.0, 0, True)
    assert tl.dram_busy == 20
    assert tl.total in (20, 21)  # 21 when the weights win the channel first


def test_fractional_bits_round_up():
    tl = run_timeline([step(0, w=1.0, first=True)], 400.0, 0, True)
    assert tl.dram_busy == 1


step_lists = st.lists(
    st.builds(step, compute=st.integers(0, 50), halo=st.integers(0, 5),
              drain=st.integers(0, 60), w=st.sampled_from([0.0, 10.0, 800.0, 3000.0]),
              act=st.sampled_from([0.0, 500.0, 5000.0]), out=st.sampled_from([0.0, 300.0]),
              first=st.booleans()),
    min_size=1, max_size=8)


@settings(max_examples=60, deadline=None)
@given(steps=step_lists, bpc=st.sampled_from([8.0, 100.0, 400.0]),
       latency=st.integers(0, 100), double=st.booleans())
def test_total_is_sum_of_causes(steps, bpc, latency, double):
    steps = [step(s.compute_cycles, s.halo_cycles, s.drain_cycles, s.weight_bits,
                  s.act_bits, s.out_bits, first=(i == 0) or s.first_of_pass)
             for i, s in enumerate(steps)]
    tl = run_timeline(steps, bpc, latency, double)
    assert tl.total == tl.compute + tl.halo + tl.dram_stall + tl.drain_stall
    assert tl.compute == sum(s.compute_cycles for s in steps)
    assert tl.halo == sum(s.halo_cycles for s in steps)
    assert min(tl.dram_stall, tl.drain_stall) >= 0
    bits = [s.weight_bits for s in steps] + [s.act_bits for s in steps if s.first_of_pass] + \
           [s.out_bits for s in steps]
    assert tl.dram_busy == sum(int(-(-b // bpc)) for b in bits if b > 0)
    # Never faster than compute + halo + the last drain, nor than the DRAM's busy time.
    assert tl.total >= tl.compute + tl.halo + steps[-1].drain_cycles
    assert tl.total >= tl.dram_busy
    # Double buffering never hurts.
    if not double:
        assert run_timeline(steps, bpc, latency, True).total <= tl.total


@pytest.mark.parametrize("latency", [0, 100])
def test_latency_overlaps_next_transfer(latency):
    # Two steps, each 400 bits at 400 b/c. Step 0's weights hold the channel for cycle 0 and
    # arrive at 1 + latency; step 1's transfer starts when step 0 starts (one step ahead),
    # takes the channel at cycle 1 and arrives at 2 + latency: its latency overlaps.
    steps = [step(0, w=400, first=True), step(0, w=400)]
    tl = run_timeline(steps, 400.0, latency, True)
    assert tl.total == 2 + latency
