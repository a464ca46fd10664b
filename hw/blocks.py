"""Standalone blocks of the core for a per-block area breakdown (used by synth/).

`synthesis_blocks(cfg)` returns ``{name: factory}``; each factory takes no argument and returns a
fresh `wiring.Component` whose ports are all top-level ports (so it can be converted with
``verilog.convert(block(), name=name, emit_src=False)`` and synthesised alone).  The core contains

===================  ========  ================================================================
block                count     content
===================  ========  ================================================================
``lane``             K         one PE lane as the core builds it (MULA, t*w multiplier,
                               accumulators, PRNG, pipeline registers, its ``function_unit``;
                               with ``phases`` also the t-SNE pair and affinity ops,
                               `hw.lane_tsne`; the update is not a lane op)
``function_unit``    K         a lane's table ROM (exp2; with ``phases`` also recip; with slopes)
                               + interpolation
``feature_bank``     K         one feature memory bank (1 write, 2 read ports)
``row_bank``         K         one distance-row bank (1 write, 1 read port)
``distance_engine``  1         all K feature and row banks + load / DIST sequencing + min/max tree
``controller``       1         search controller (FSM, bracket, best-ever, FWA population, and
                               its ``rowend_unit``)
``rowend_unit``      1         the shared row-end unit (`hw.rowend`: normaliser, LOG and RECIP
                               ROMs, T r multiplier), listed alone; part of ``controller``
===================  ========  ================================================================

With ``phases`` also ``update_slice`` (count S = ``tsne_update_slices``: a pipelined unit with the
update op ``tupd``, `hw.tsne_update`; part of ``tsne_engine``, listed alone) and (count 1 each):
``tsne_engine`` (`hw.tsne`: embedding, velocity, gains and accumulator memories, iteration
control, its S update slices), ``affinity`` (`hw.affinity`), ``select_unit`` (`hw.select`: entropy, grid
sampler, outer perplexity search), ``phase_sequencer`` (`hw.phases`), and ``lane_search_only``
(count 0: the lane without the phase ops, the "before" of the lane's area, not part of the core).

So ``core ~ K * lane + distance_engine + controller + top-level registers`` (+ the phase blocks
with ``phases``)
(the whole core is `hw.generate.build_core`; it is not repeated here).  A lane synthesised alone
would keep every op whose issue is a port; `SearchLane` ties the phase ops off, as the core
without ``phases`` does, so the ``lane`` row is the lane the core really contains.
"""

from __future__ import annotations

from amaranth.hdl import Module, unsigned
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from golden_model.config import AccelConfig

from .arith import FunctionUnit, FuOp
from .distance import DistanceEngine
from .lane import Lane
from .search import SearchController
from .rowend import RowendUnit

__all__ = ["synthesis_blocks", "block_counts", "MemoryBank", "SearchLane", "PHASE_PORTS"]

#: the lane ports of the phase ops (t-SNE, affinities): driven only in a core built with ``phases``
PHASE_PORTS = ("tsne", "tscan_in", "tscan_out", "aff")


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


class SearchLane(wiring.Component):
    """`hw.lane.Lane` as in a core built without ``phases`` (none of `timing.PHASE_OPS` built),
    without its `PHASE_PORTS`."""

    def __init__(self, cfg: AccelConfig):
        self._lane = Lane(cfg, 0, with_phases=False)
        super().__init__({k: v for k, v in self._lane.signature.members.items() if k not in PHASE_PORTS})

    def elaborate(self, platform):
        m = Module()
        m.submodules.lane = ln = self._lane
        for name, member in self.signature.members.items():
            outer, inner = getattr(self, name), getattr(ln, name)
            if member.is_signature:
                wiring.connect(m, wiring.flipped(outer), inner)
            elif member.flow == wiring.In:
                m.d.comb += inner.eq(outer)
            else:
                m.d.comb += outer.eq(inner)
        return m


def synthesis_blocks(cfg: AccelConfig) -> dict:
    """``{block name: zero-argument factory of a standalone wiring.Component}`` (see module doc)."""
    rows = -(-cfg.n_max // cfg.lanes)
    blocks = {
        "lane": (lambda: Lane(cfg, 0)) if cfg.phases else (lambda: SearchLane(cfg)),
        "function_unit": lambda: FunctionUnit(cfg, ops=(FuOp.EXP_T, FuOp.EXP_U) + (
            (FuOp.RECIP,) if cfg.phases else ())),
        "feature_bank": lambda: MemoryBank(cfg.feature_bits, rows * cfg.d_max, n_read=2),
        "row_bank": lambda: MemoryBank(cfg.dist_bits, rows, n_read=1),
        "distance_engine": lambda: DistanceEngine(cfg),
        "controller": lambda: SearchController(cfg),
        "rowend_unit": lambda: RowendUnit(cfg),
    }
    if cfg.phases:
        from .affinity import AffinityController
        from .phases import PhaseSequencer
        from .select import SelectUnit
        from .tsne import TsneEngine
        from .tsne_update import UpdateSlice
        blocks.update({
            "lane_search_only": lambda: SearchLane(cfg),
            "update_slice": lambda: UpdateSlice(cfg),
            "tsne_engine": lambda: TsneEngine(cfg, ext=True),
            "affinity": lambda: AffinityController(cfg),
            "select_unit": lambda: SelectUnit(cfg),
            "phase_sequencer": lambda: PhaseSequencer(cfg),
        })
    return blocks


#: how many instances of each block the core contains (for scaling a breakdown)
def block_counts(cfg: AccelConfig) -> dict:
    K = cfg.lanes
    counts = {"lane": K, "function_unit": K, "feature_bank": K, "row_bank": K,
              "distance_engine": 1, "controller": 1, "rowend_unit": 1}
    if cfg.phases:
        counts.update({"update_slice": cfg.tsne_update_slices, "lane_search_only": 0, "tsne_engine": 1, "affinity": 1,
                       "select_unit": 1,
                       "phase_sequencer": 1})
    return counts
