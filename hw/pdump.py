"""P dump: the affinity phase's P memory as ``TRACE_P`` beats on the core's ``emb`` stream
(docs/hardware.md, "Phase sequencer"; DEBUG register bit 0).

After ``go`` every entry ``S_ij`` of the N x N pair-sum matrix is read through the affinity
controller's idle read port (``p_rd_bank``/``p_rd_addr``, data one cycle later; layout
`hw.tsne.s_location`) and sent as one beat ``kind = TRACE_P, index = i, iter = j, data = S_ij``,
row-major, the diagonal (0) and both copies of each pair included, so every word the t-SNE phase
will read is observable (`golden_model.tsne_fixed.p_beats`).  With ``ready`` held high one beat per
cycle; the cycles are `DUMP_LAT` + N^2 (`golden_model.run_schedule`).

Timing (ready high): ``go`` in cycle g (address (0, 0) driven while idle), the first word is read
back in g + 1 and ``valid`` rises in g + 2; beat k transfers in g + 2 + k; ``done`` pulses in the
cycle after the last transfer.
"""

from __future__ import annotations

from amaranth.hdl import C, Module, Mux, Shape, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from golden_model import tsne_fixed as tf
from golden_model.config import AccelConfig

from .tsne import trace_signature

__all__ = ["PDump"]


class PDump(wiring.Component):
    """Streams the P memory out (module docstring).

    Parameters
    ----------
    cfg : AccelConfig

    Attributes
    ----------
    n : In(count_bits)
        N (stable while busy).
    go : In(1)
        Start (idle only).
    done : Out(1)
        Pulses in the cycle after the last beat was taken.
    rd_bank, rd_addr : Out
        The affinity controller's P read port (``p_rd_bank``, ``p_rd_addr``; it must be idle).
    rd_data : In(p_frac + 1)
        Its data (``p_rd_data``), one cycle after the address.
    out : Out(`hw.tsne.trace_signature`)
        The beats.
    """

    def __init__(self, cfg: AccelConfig):
        self.cfg = cfg
        sig = trace_signature(cfg)
        width = {k: Shape.cast(sig.members[k].shape).width for k in ("data", "iter")}
        assert width["data"] >= cfg.p_frac + 1, "emb data too narrow for S_ij"
        assert (1 << width["iter"]) > cfg.n_max, "emb iter too narrow for the column"
        self.sdepth = -(-cfg.n_max // cfg.lanes) * cfg.n_max
        super().__init__({
            "n": In(cfg.count_bits), "go": In(1), "done": Out(1),
            "rd_bank": Out(range(max(cfg.lanes, 2))), "rd_addr": Out(range(self.sdepth)),
            "rd_data": In(cfg.p_frac + 1), "out": Out(sig),
        })

    def elaborate(self, platform):
        m = Module()
        cfg, K = self.cfg, self.cfg.lanes
        o = self.out
        n_last = Signal(cfg.count_bits)
        m.d.sync += n_last.eq(self.n - 1)
        # the element (i, j) whose word is being read (bank ib, base (i div K) n_max), the one after
        # it (ni, nj) and both addresses, all registers: the read address is one multiplexer on
        # ``adv`` (the stream's ready) with no adder in front of the P banks
        def after(i, j, ib, base):
            row_end = j == n_last
            return (Mux(row_end, i + 1, i), Mux(row_end, 0, j + 1),
                    Mux(row_end, Mux(ib == K - 1, 0, ib + 1), ib),
                    Mux(row_end & (ib == K - 1), base + cfg.n_max, base))

        def coords(tag):
            return (Signal(range(cfg.n_max + 1), name=f"{tag}i"), Signal(range(cfg.n_max + 1), name=f"{tag}j"),
                    Signal.like(self.rd_bank, name=f"{tag}ib"), Signal(range(self.sdepth + cfg.n_max + 1), name=f"{tag}base"))

        cur, nxt = coords("cur_"), coords("nxt_")
        i, j, ib, base = cur
        cur_addr, nxt_addr = (Signal(range(self.sdepth + 2 * cfg.n_max + 1), name=n) for n in ("cur_addr", "nxt_addr"))
        more = Signal()                  # i <= N - 1: element (i, j) exists

        def start(now, after_now):       # (i, j) := now, the element after := after_now
            m.d.sync += [a.eq(b) for a, b in zip(cur + nxt, now + after_now)]
            m.d.sync += [cur_addr.eq(now[3] + now[1]), nxt_addr.eq(after_now[3] + after_now[1]),
                         more.eq(now[0] <= n_last)]

        adv = Signal()
        m.d.comb += [self.rd_bank.eq(Mux(adv, nxt[2], ib)), self.rd_addr.eq(Mux(adv, nxt_addr, cur_addr))]
        with m.If(adv):
            start(nxt, after(*nxt))

        def load():      # the word read in the previous cycle (element (i, j)) into the output register
            m.d.sync += [o.valid.eq(1), o.kind.eq(tf.TRACE_P), o.index.eq(i), o.iter.eq(j), o.data.eq(self.rd_data)]
            m.d.comb += adv.eq(1)

        m.d.sync += self.done.eq(0)
        with m.FSM(name="pdump"):
            with m.State("IDLE"):
                m.d.comb += [self.rd_bank.eq(0), self.rd_addr.eq(0)]
                with m.If(self.go):          # (0, 0) is being read
                    zero = (C(0, 1),) * 4
                    start(zero, after(*zero))
                    m.next = "FIRST"
            with m.State("FIRST"):
                load()
                m.next = "STREAM"
            with m.State("STREAM"):
                # invariant: rd_data = S at (i, j), the element after the one in the output register
                with m.If(o.valid & o.ready):
                    with m.If(more):
                        load()
                    with m.Else():
                        m.d.sync += [o.valid.eq(0), self.done.eq(1)]
                        m.next = "IDLE"
        return m
