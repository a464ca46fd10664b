"""Result-stream monitor (and trace-stream monitor) with cycle stamps from simulation time.

While `res__valid` is low and there is no back-pressure to randomise, the monitor sleeps on the
valid signal's rising edge instead of waking up every clock, so a long search (hundreds of
thousands of cycles between beats) costs no Python work.  While valid is high it works cycle by
cycle: right after the falling edge it drives `res__ready` (1, or random with probability
`1 - stall_prob`, seeded), then samples valid/payload in ReadOnly; a beat transfers at the next
rising edge, whose number (`Clocking.cycle_of_next_edge`) is stored with the beat.

It also checks the stream rules: once valid is high with ready low, valid must stay high and the
payload must not change until the transfer (AXI-style stability).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

from cocotb.triggers import Event, FallingEdge, ReadOnly, RisingEdge

from . import layout as lay


@dataclass
class Beat:
    seq: int          # order of arrival (0, 1, ...)
    raw: int          # the flat payload vector
    value: dict       # decoded payload
    cycle: int        # absolute edge number of the transfer
    wall: float = 0.0  # time.perf_counter() when the monitor saw it (simulation speed reports)


class StreamMonitor:
    def __init__(self, dut, clocking, prefix: str, payload_desc: dict, stall_prob: float = 0.0,
                 rng_seed: int = 1, drive_ready: bool = True, on_beat=None, fields: dict | None = None):
        """`fields` ({name: layout description}): a stream whose payload is one port per field
        (``<prefix>__<name>``, e.g. ``emb``) instead of one ``<prefix>__payload`` vector."""
        self.dut = dut
        self.clk = clocking
        self.valid = getattr(dut, f"{prefix}__valid")
        self.ready = getattr(dut, f"{prefix}__ready") if drive_ready else None
        self.fields = None if fields is None else {k: (getattr(dut, f"{prefix}__{k}"), v) for k, v in fields.items()}
        self.payload = None if fields is not None else getattr(dut, f"{prefix}__payload")
        self.desc = payload_desc
        self.stall_prob = stall_prob
        self.rng = random.Random(rng_seed)
        self.beats: list = []
        self.violations: list = []
        self.on_beat = on_beat
        self.expected_count = None
        self.done = Event()
        self.stall_cycles = 0
        self._running = False

    def expect(self, count: int):
        """Set the number of beats after which `done` fires (cumulative over the run)."""
        self.expected_count = count
        self.done.clear()
        if len(self.beats) >= count:
            self.done.set()

    def _raw(self):
        if self.fields is None:
            return int(self.payload.value)
        return tuple(int(h.value) for h, _ in self.fields.values())

    def _decode(self, raw) -> dict:
        if self.fields is None:
            return lay.decode(self.desc, raw)
        return {k: lay.decode(desc, v) for (k, (_, desc)), v in zip(self.fields.items(), raw)}

    def _ready_value(self) -> int:
        if self.stall_prob <= 0:
            return 1
        return 0 if self.rng.random() < self.stall_prob else 1

    async def run(self):
        d = self.dut
        self._running = True
        pending = None  # (raw) of a valid beat that was stalled in the previous cycle
        await FallingEdge(d.clk)
        while True:
            r = self._ready_value()
            if self.ready is not None:
                self.ready.value = r
            await ReadOnly()
            v = int(self.valid.value)
            if pending is not None:
                raw_now = self._raw()
                if not v:
                    self.violations.append(f"valid dropped at edge {self.clk.cycle_of_next_edge()} before the "
                                           f"stalled beat {len(self.beats)} was accepted")
                elif raw_now != pending:
                    self.violations.append(f"payload changed while stalled at edge {self.clk.cycle_of_next_edge()} "
                                           f"(beat {len(self.beats)}): {pending} -> {raw_now}")
                pending = None
            if v:
                raw = self._raw()
                if r:
                    beat = Beat(seq=len(self.beats), raw=raw, value=self._decode(raw),
                                cycle=self.clk.cycle_of_next_edge(), wall=time.perf_counter())
                    self.beats.append(beat)
                    if self.on_beat is not None:
                        self.on_beat(beat)
                    if self.expected_count is not None and len(self.beats) >= self.expected_count:
                        self.done.set()
                else:
                    self.stall_cycles += 1
                    pending = raw
                await FallingEdge(d.clk)
            else:
                # idle: sleep until valid rises (no per-cycle Python work); ready keeps its value
                await RisingEdge(self.valid)
                await FallingEdge(d.clk)


class ValidWatch:
    """Counts cycles in which a valid (or ready) signal is high, cheaply: sleeps on its edges."""

    def __init__(self, signal):
        self.signal = signal
        self.rises = 0

    async def run(self):
        while True:
            await RisingEdge(self.signal)
            self.rises += 1
