"""hw.readahead.ReadAhead: every word read ahead reaches the stream once, in order, whatever the
stream's ready does, one beat per cycle when ready stays high; with a buffer one entry short the
room check still keeps every word but the stream gets bubbles, and the throughput check says so."""

from __future__ import annotations

import numpy as np
import pytest
from amaranth.hdl import Elaboratable, Module, Signal
from amaranth.sim import Simulator

from hw.readahead import ReadAhead


class _Stream(Elaboratable):
    """Reads of word t (value 3 t + 1) issued whenever there is room, the data `latency` cycles
    later; the stream's output register (valid, tag, data) under ready."""

    def __init__(self, latency: int, n: int, depth: int | None = None):
        self.latency, self.n, self.depth = latency, n, depth
        self.ready, self.valid = Signal(), Signal()
        self.tag, self.data = Signal(8), Signal(10)

    def elaborate(self, platform):
        m = Module()
        nxt = Signal(8)                               # the next word to read
        pipe = [Signal(10, name=f"rd{k}") for k in range(self.latency)]   # the read port's stages
        ra = ReadAhead(self.latency, tag=nxt, data=pipe[-1], name="t", depth=self.depth)
        issue = (nxt < self.n) & ra.room
        m.d.sync += pipe[0].eq(nxt * 3 + 1)
        m.d.sync += [pipe[k].eq(pipe[k - 1]) for k in range(1, self.latency)]
        with m.If(issue):
            m.d.sync += nxt.eq(nxt + 1)
        take = ~self.valid | self.ready
        emit, out_tag, out_data = ra.step(m, issue, nxt, pipe[-1], take)
        with m.If(take):
            m.d.sync += self.valid.eq(emit)
            with m.If(emit):
                m.d.sync += [self.tag.eq(out_tag), self.data.eq(out_data)]
        return m


def _run(latency: int, n: int, p_ready: float, seed: int, depth: int | None = None):
    """(beats as (tag, data) in transfer order, cycle of each transfer)."""
    dut = _Stream(latency, n, depth)
    rng = np.random.default_rng(seed)
    beats, cycles = [], []

    async def tb(ctx):
        for c in range(40 * n + 20):
            r = int(p_ready >= 1.0 or rng.random() < p_ready)
            ctx.set(dut.ready, r)
            await ctx.delay(1e-8)
            if r and ctx.get(dut.valid):
                beats.append((ctx.get(dut.tag), ctx.get(dut.data)))
                cycles.append(c)
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    return beats, cycles


def _in_order(beats, n):
    return beats == [(t, 3 * t + 1) for t in range(n)]


@pytest.mark.parametrize("latency", [1, 2, 3])
def test_one_beat_per_cycle_with_ready_high(latency):
    beats, cycles = _run(latency, 12, 1.0, 0)
    assert _in_order(beats, 12)
    assert _one_per_cycle(cycles, 12, latency + 1)     # read, latency, output register; no bubble


@pytest.mark.parametrize("latency,p_ready,seed", [(1, 0.3, 1), (2, 0.3, 2), (2, 0.6, 3), (3, 0.5, 4)])
def test_every_word_once_in_order_under_back_pressure(latency, p_ready, seed):
    beats, _ = _run(latency, 20, p_ready, seed)
    assert _in_order(beats, 20)


def _one_per_cycle(cycles, n, first):
    return cycles == list(range(first, first + n))


@pytest.mark.parametrize("latency", [1, 2, 3])
def test_a_buffer_one_entry_short_keeps_every_word_but_the_throughput_check_fails(latency):
    beats, cycles = _run(latency, 12, 1.0, 0, depth=latency)
    assert _in_order(beats, 12)
    assert not _one_per_cycle(cycles, 12, latency + 1)
