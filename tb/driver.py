"""Stimulus for the AdapSNE core: clock/reset, register writes and the feature stream.

Timing discipline (docs/verification.md): inputs are driven right after the falling clock edge;
handshakes are evaluated in the ReadOnly phase of the same half cycle, i.e. with the values the
next rising edge will sample.  A transfer "happens at" that rising edge; edges are numbered from
the clock start (`Clocking.cycle_of_next_edge`), so cycles are computed from simulation time
instead of by counting edges in Python.
"""

from __future__ import annotations

import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly
from cocotb.utils import get_sim_steps, get_sim_time

from .regs import (CMD_CLEAR, CMD_START, POLICY_CODES, REG_CMD, REG_D, REG_N, REG_PERP,  # noqa: F401
                   REG_POLICY, REG_SEED, REG_DATAFLOW, REG_MODE, REG_DEBUG)


#: the clock is toggled by cocotb's C++ GPI clock: no Python runs per cycle unless a testbench
#: coroutine waits for edges (docs/verification.md, "Simulation speed"); the Python coroutine
#: clock ("py") costs two Python wake-ups per cycle (about 8k cycles/s on the tiny core)
CLOCK_IMPL = "gpi"


class Clocking:
    """The clock and the mapping from simulation time to edge numbers."""

    def __init__(self, dut, period_ns: int, internal: bool = False):
        self.dut = dut
        self.internal = internal        # the model makes its own clock (`tb.simtop`, tied-reset models)
        self.period_ns = period_ns
        self.period_steps = None
        self.t0 = None

    async def start(self):
        # the clock starts high: rising edge k is at t0 + k * period
        self.t0 = int(get_sim_time("step"))
        self.period_steps = int(get_sim_steps(self.period_ns, "ns"))
        if self.internal:       # high from time 0, rising edges at whole periods
            self.t0 -= self.t0 % self.period_steps
            return
        Clock(self.dut.clk, self.period_ns, unit="ns", impl=CLOCK_IMPL).start(start_high=True)

    def now(self) -> int:
        return int(get_sim_time("step"))

    def cycle_of_next_edge(self) -> int:
        """Number of the next rising edge strictly after now (call it mid-cycle, e.g. in ReadOnly
        after a falling edge: that is the edge where the current handshake transfers)."""
        dt = self.now() - self.t0
        return dt // self.period_steps + 1

    async def cycles(self, n: int):
        for _ in range(n):
            await FallingEdge(self.dut.clk)


async def reset(dut, clocking: Clocking, cycles: int = 4):
    dut.cfg_we.value = 0
    dut.cfg_addr.value = 0
    dut.cfg_wdata.value = 0
    dut.feat__valid.value = 0
    dut.feat__payload.value = 0
    dut.res__ready.value = 0
    dut.rst.value = 1
    await clocking.cycles(cycles)
    dut.rst.value = 0
    await FallingEdge(dut.clk)


class RegisterDriver:
    """cfg_we/cfg_addr/cfg_wdata: one write per cycle, driven after a falling edge."""

    def __init__(self, dut):
        self.dut = dut

    async def write(self, addr: int, value: int):
        """Write one register; returns after the rising edge that performed the write (at the
        following falling edge)."""
        d = self.dut
        if not _at_falling_edge(d):
            await FallingEdge(d.clk)
        d.cfg_we.value = 1
        d.cfg_addr.value = addr
        d.cfg_wdata.value = value & 0xFFFFFFFF
        await FallingEdge(d.clk)
        d.cfg_we.value = 0

    async def configure(self, n: int, dim: int, perp_q: int, policy: int, seed: int, dataflow: int = 0,
                        mode: int | None = None, debug: int | None = None):
        """MODE and DEBUG are written only when given (search-only jobs leave them alone)."""
        regs = [(REG_N, n), (REG_D, dim), (REG_PERP, perp_q), (REG_POLICY, policy), (REG_SEED, seed),
                (REG_DATAFLOW, dataflow)]
        regs += [(a, v) for a, v in ((REG_MODE, mode), (REG_DEBUG, debug)) if v is not None]
        for a, v in regs:
            await self.write(a, v)

    async def start(self):
        await self.write(REG_CMD, CMD_START)

    async def clear(self):
        await self.write(REG_CMD, CMD_CLEAR)


def _at_falling_edge(dut) -> bool:
    # All drivers here return right after a falling edge, with clk low; a caller that has just
    # awaited FallingEdge may write immediately.
    try:
        return int(dut.clk.value) == 0
    except ValueError:
        return False


class FeatureDriver:
    """Drives `feat__valid/payload` with a list of features (row-major), optionally inserting
    random idle cycles (probability `gap_prob` per cycle, seeded; the payload carries random
    garbage while valid is low).  Records the edge numbers of the first and the last accepted
    beat."""

    def __init__(self, dut, clocking: Clocking, gap_prob: float = 0.0, rng_seed: int = 1):
        self.dut = dut
        self.clk = clocking
        self.gap_prob = gap_prob
        self.rng = random.Random(rng_seed)
        self.accepted = 0
        self.last_accept_cycle = None
        self.first_accept_cycle = None

    async def send(self, features, abort=None):
        """Send all features; returns after the last one was accepted.  `abort` (an Event) stops
        early (used by error scenarios)."""
        d = self.dut
        feats = [int(v) for v in features]
        k = 0
        if not _at_falling_edge(d):
            await FallingEdge(d.clk)
        while k < len(feats):
            if abort is not None and abort.is_set():
                break
            if self.gap_prob > 0 and self.rng.random() < self.gap_prob:
                d.feat__valid.value = 0
                d.feat__payload.value = self.rng.getrandbits(len(d.feat__payload))  # garbage while idle
                await FallingEdge(d.clk)
                continue
            d.feat__valid.value = 1
            d.feat__payload.value = feats[k]
            await ReadOnly()
            if int(d.feat__ready.value):
                c = self.clk.cycle_of_next_edge()
                if self.first_accept_cycle is None:
                    self.first_accept_cycle = c
                self.last_accept_cycle = c
                self.accepted += 1
                k += 1
            await FallingEdge(d.clk)
        d.feat__valid.value = 0
        return self.last_accept_cycle

    async def offer_and_expect_refusal(self, features, cycles: int) -> int:
        """Hold valid high with data for `cycles` cycles; return how many beats were accepted
        (an error-state core must accept none)."""
        d = self.dut
        if not _at_falling_edge(d):
            await FallingEdge(d.clk)
        taken = 0
        for c in range(cycles):
            d.feat__valid.value = 1
            d.feat__payload.value = int(features[c % len(features)])
            await ReadOnly()
            taken += int(d.feat__ready.value)
            await FallingEdge(d.clk)
        d.feat__valid.value = 0
        return taken
