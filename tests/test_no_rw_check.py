"""synth.flow.honour_no_rw_check: Amaranth memories marked no_rw_check map without a bypass.

Amaranth's RTLIL read ports demand the old word on a collision with a write, so ``synth_ecp5``
adds a registered write port and a bypass multiplexer to the block RAM, and Yosys ignores the
``no_rw_check`` attribute there (only its Verilog front end reads it).  The flow's lines set the
collision mask of the marked memories; unmarked memories keep the emulation.
"""

from __future__ import annotations

import re

import pytest
from amaranth.back import rtlil
from amaranth.hdl import Elaboratable, Module, Signal
from amaranth.lib.memory import Memory

from synth.flow import honour_no_rw_check, read_lines
from synth.tools import run_tool


class _Bank(Elaboratable):
    """One 256 x 16 block RAM, a write port and `reads` registered read ports."""

    def __init__(self, marked: bool, reads: int):
        self.marked, self.reads = marked, reads
        self.wa, self.wd, self.we = Signal(8), Signal(16), Signal()
        self.ra = [Signal(8, name=f"ra{k}") for k in range(reads)]
        self.q = [Signal(16, name=f"q{k}") for k in range(reads)]

    def elaborate(self, platform):
        m = Module()
        m.submodules.mem = mem = Memory(shape=16, depth=256, init=[],
                                        attrs={"no_rw_check": 1} if self.marked else {})
        w = mem.write_port()
        m.d.comb += [w.addr.eq(self.wa), w.data.eq(self.wd), w.en.eq(self.we)]
        for ra, q in zip(self.ra, self.q):
            r = mem.read_port()
            m.d.comb += r.addr.eq(ra)
            m.d.sync += q.eq(r.data)
        return m


def _flip_flops(tmp_path, marked: bool, reads: int, honour: bool) -> int:
    bank = _Bank(marked, reads)
    (tmp_path / "bank.il").write_text(rtlil.convert(bank, ports=[bank.wa, bank.wd, bank.we, *bank.ra, *bank.q]))
    script = [*read_lines("bank.il", "rtlil"), *(honour_no_rw_check() if honour else []), "synth_ecp5 -top top",
              "tee -o stat.txt stat"]
    (tmp_path / "s.ys").write_text("\n".join(script) + "\n")
    run_tool("yosys", ["-q", "s.ys"], tmp_path)
    m = re.search(r"(\d+)\s+TRELLIS_FF\b", (tmp_path / "stat.txt").read_text())
    return int(m.group(1)) if m else 0


@pytest.mark.parametrize("reads", [1, 2])
def test_marked_memories_lose_the_bypass_and_unmarked_ones_keep_it(tmp_path, reads):
    only_outputs = 16 * reads                     # the q registers of the test design
    assert _flip_flops(tmp_path, True, reads, True) == only_outputs
    # without the lines, or without the mark, Yosys emulates the old-word read (registered write
    # port: 8 + 16 + 1 flip-flops, and the bypass select / data per read port)
    assert _flip_flops(tmp_path, True, reads, False) > only_outputs + 25
    assert _flip_flops(tmp_path, False, reads, True) > only_outputs + 25
