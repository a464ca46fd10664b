"""P dump: the affinity phase's P memory as ``TRACE_P`` beats on the core's ``emb`` stream
(docs/hardware.md, "Phase sequencer"; DEBUG register bit 0).

After ``go`` every entry ``S_ij`` of the N x N pair-sum matrix is read through the affinity
controller's idle read port (``p_rd_bank``/``p_rd_addr``, data `timing.P_READ` cycles later;
layout `hw.tsne.s_location`) and sent as one beat ``kind = TRACE_P, index = i, iter = j, data =
S_ij``, row-major, the diagonal (0) and both copies of each pair included, so every word the t-SNE
phase will read is observable (`golden_model.tsne_fixed.p_beats`).  With ``ready`` held high one
beat per cycle; the cycles are `timing.PDUMP_FIRST` + N^2 - 1 + `timing.PDUMP_END`
(`golden_model.run_schedule`).

The reads run ahead of the stream (`hw.readahead.ReadAhead`: a read is issued while the elements
in flight and those waiting in a buffer of ``P_READ + 1`` entries leave room), so back-pressure
never loses a word and ``ready`` steers no address (the bank address is a register).

Timing (ready high): ``go`` in cycle g (element (0, 0) issued: its address is driven while idle),
its word arrives in g + P_READ and ``valid`` rises in g + P_READ + 1 = g + PDUMP_FIRST; beat k
transfers in g + PDUMP_FIRST + k; ``done`` pulses in the cycle after the last transfer.
"""

from __future__ import annotations

from amaranth.hdl import C, Cat, Module, Mux, Shape, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from golden_model import timing
from golden_model import tsne_fixed as tf
from golden_model.config import AccelConfig

from .readahead import ReadAhead
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
        Its data (``p_rd_data``), `timing.P_READ` cycles after the address.
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
        RL = timing.P_READ
        assert RL >= 1, "the P read port has at least the bank's own read register"
        o = self.out
        n_last = Signal(cfg.count_bits)
        m.d.sync += n_last.eq(self.n - 1)

        def after(i, j, ib, base):
            row_end = j == n_last
            return (Mux(row_end, i + 1, i), Mux(row_end, 0, j + 1),
                    Mux(row_end, Mux(ib == K - 1, 0, ib + 1), ib),
                    Mux(row_end & (ib == K - 1), base + cfg.n_max, base))

        def coords(tag):
            return (Signal(range(cfg.n_max + 1), name=f"{tag}i"), Signal(range(cfg.n_max + 1), name=f"{tag}j"),
                    Signal.like(self.rd_bank, name=f"{tag}ib"), Signal(range(self.sdepth + cfg.n_max + 1), name=f"{tag}base"))

        # ---- read side: the element to issue (i, j) and the one after it, both addresses registers
        cur, nxt = coords("cur_"), coords("nxt_")
        i, j, ib, base = cur
        cur_addr, nxt_addr = (Signal(range(self.sdepth + 2 * cfg.n_max + 1), name=n) for n in ("cur_addr", "nxt_addr"))
        more = Signal()                  # element (i, j) exists (i <= N - 1)
        m.d.comb += [self.rd_bank.eq(ib), self.rd_addr.eq(cur_addr)]

        def start(now, after_now):       # (i, j) := now, the element after := after_now
            m.d.sync += [a.eq(b) for a, b in zip(cur + nxt, now + after_now)]
            m.d.sync += [cur_addr.eq(now[3] + now[1]), nxt_addr.eq(after_now[3] + after_now[1]),
                         more.eq(now[0] <= n_last)]

        # ---- reads ahead: the (i, j) of each read in flight, a buffer of P_READ + 1 words
        running = Signal()
        ij = Signal(len(i) + len(j))
        ra = ReadAhead(RL, tag=ij, data=self.rd_data, name="pd")
        issue = running & more & ra.room
        with m.If(issue):
            start(nxt, after(*nxt))
        take = ~o.valid | o.ready        # the output register is free this cycle
        emit, out_ij, out_d = ra.step(m, issue, Cat(i, j), self.rd_data, take)
        with m.If(take):
            m.d.sync += o.valid.eq(emit)
            with m.If(emit):
                m.d.sync += [o.kind.eq(tf.TRACE_P), o.index.eq(out_ij[:len(i)]), o.iter.eq(out_ij[len(i):]),
                             o.data.eq(out_d)]

        # ---- done: the last element (N - 1, N - 1) left the output register
        last_out = o.valid & o.ready & (o.index == n_last) & (o.iter == n_last)
        m.d.sync += self.done.eq(0)
        zero = (C(0, 1),) * 4
        with m.FSM(name="pdump"):
            with m.State("IDLE"):
                with m.If(self.go):          # (0, 0) is issued now: its address is driven while idle
                    start(after(*zero), after(*after(*zero)))
                    m.d.sync += [ra.fl_v[0].eq(1), ra.fl_tag[0].eq(0), running.eq(1)]
                    m.next = "STREAM"
                with m.Else():
                    start(zero, after(*zero))
            with m.State("STREAM"):
                with m.If(last_out):
                    m.d.sync += [running.eq(0), self.done.eq(1)]
                    m.next = "IDLE"
        return m
