"""Standalone blocks of the core for a per-block area breakdown (used by synth/).

`synthesis_blocks(cfg)` returns ``{name: factory}``; each factory takes no argument and returns a
fresh `wiring.Component` whose ports are all top-level ports (so it can be converted with
``verilog.convert(block(), name=name, emit_src=False)`` and synthesised alone).  The core contains

==================  ========  =================================================================
block               count     content
==================  ========  =================================================================
``lane``            K         one PE lane (MULA, t*w multiplier, accumulators, PRNG, pipeline
                              registers) *including* its ``function_unit``
``function_unit``   K         table ROM (exp2 / log2 / recip, with slopes) + interpolation
``feature_bank``    K         one feature memory bank (1 write, 2 read ports)
``row_bank``        K         one distance-row bank (1 write, 1 read port)
``distance_engine`` 1         all K feature and row banks + load / DIST sequencing + min/max tree
``controller``      1         search controller (FSM, bracket, best-ever, FWA population)
==================  ========  =================================================================

So ``core ~ K * lane + distance_engine + controller + top-level registers`` (the whole core is
`hw.generate.build_core`; it is not repeated here).
"""

from __future__ import annotations

from amaranth.hdl import Module, unsigned
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from golden_model.config import AccelConfig

from .arith import FunctionUnit
from .distance import DistanceEngine
from .lane import Lane
from .search import SearchController

__all__ = ["synthesis_blocks", "block_counts", "MemoryBank"]


class MemoryBank(wiring.Component):
    """One memory bank with ``n_read`` synchronous read ports and one write port.

    Parameters
    ----------
    width, depth, n_read : int

    Attributes
    ----------
    we : In(1), waddr : In(range(depth)), wdata : In(width)
    raddr{k} : In(range(depth)), rdata{k} : Out(width)
    """

    def __init__(self, width: int, depth: int, n_read: int = 1):
        self.width, self.depth, self.n_read = width, depth, n_read
        ab = max(1, (depth - 1).bit_length())
        sig = {"we": In(1), "waddr": In(ab), "wdata": In(width)}
        for k in range(n_read):
            sig[f"raddr{k}"] = In(ab)
            sig[f"rdata{k}"] = Out(width)
        super().__init__(sig)

    def elaborate(self, platform):
        m = Module()
        mem = Memory(shape=unsigned(self.width), depth=self.depth, init=[])
        m.submodules.mem = mem
        wp = mem.write_port()
        m.d.comb += [wp.addr.eq(self.waddr), wp.data.eq(self.wdata), wp.en.eq(self.we)]
        for k in range(self.n_read):
            rp = mem.read_port()
            m.d.comb += [rp.addr.eq(getattr(self, f"raddr{k}")), getattr(self, f"rdata{k}").eq(rp.data)]
        return m


def synthesis_blocks(cfg: AccelConfig) -> dict:
    """``{block name: zero-argument factory of a standalone wiring.Component}`` (see module doc)."""
    rows = -(-cfg.n_max // cfg.lanes)
    return {
        "lane": lambda: Lane(cfg, 0),
        "function_unit": lambda: FunctionUnit(cfg),
        "feature_bank": lambda: MemoryBank(cfg.feature_bits, rows * cfg.d_max, n_read=2),
        "row_bank": lambda: MemoryBank(cfg.dist_bits, rows, n_read=1),
        "distance_engine": lambda: DistanceEngine(cfg),
        "controller": lambda: SearchController(cfg),
    }


#: how many instances of each block the core contains (for scaling a breakdown)
def block_counts(cfg: AccelConfig) -> dict:
    K = cfg.lanes
    return {"lane": K, "function_unit": K, "feature_bank": K, "row_bank": K,
            "distance_engine": 1, "controller": 1}
