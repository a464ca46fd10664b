"""P dump: the affinity phase's P memory as ``TRACE_P`` beats on the core's ``emb`` stream
(docs/hardware.md, "Phase sequencer"; DEBUG register bit 0).

After ``go`` every entry ``S_ij`` of the N x N pair-sum matrix is read through the affinity
controller's idle read port (``p_rd_bank``/``p_rd_addr``, data `timing.P_READ` cycles later;
layout `hw.tsne.s_location`) and sent as one beat ``kind = TRACE_P, index = i, iter = j, data =
S_ij``, row-major, the diagonal (0) and both copies of each pair included, so every word the t-SNE
phase will read is observable (`golden_model.tsne_fixed.p_beats`).  With ``ready`` held high one
beat per cycle; the cycles are `timing.PDUMP_FIRST` + N^2 - 1 + `timing.PDUMP_END`
(`golden_model.run_schedule`).

The reads run ahead of the stream: a read is issued while the elements in flight and those
waiting in a small buffer (``P_READ + 1`` entries) leave room, so back-pressure never loses a
word and ``ready`` steers no address (the bank address is a register).

Timing (ready high): ``go`` in cycle g (element (0, 0) issued: its address is driven while idle),
its word arrives in g + P_READ and ``valid`` rises in g + P_READ + 1 = g + PDUMP_FIRST; beat k
transfers in g + PDUMP_FIRST + k; ``done`` pulses in the cycle after the last transfer.
"""

from __future__ import annotations

from amaranth.hdl import C, Module, Mux, Shape, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from golden_model import timing
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
        DEPTH = RL + 1                   # buffer entries: every word in flight fits while stalled
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

        # ---- in flight: (valid, i, j) of the read issued RL cycles ago arrives with rd_data
        running = Signal()
        issue = Signal()
        tv = [Signal(name=f"fl_v{k}") for k in range(RL)]
        ti = [Signal.like(i, name=f"fl_i{k}") for k in range(RL)]
        tj = [Signal.like(j, name=f"fl_j{k}") for k in range(RL)]
        m.d.sync += [tv[0].eq(issue), ti[0].eq(i), tj[0].eq(j)]
        m.d.sync += [x[k].eq(x[k - 1]) for k in range(1, RL) for x in (tv, ti, tj)]
        arr_v, arr_i, arr_j = tv[-1], ti[-1], tj[-1]

        # ---- buffer (registers, FIFO order, head at 0) in front of the output register
        bi = [Signal.like(i, name=f"buf_i{k}") for k in range(DEPTH)]
        bj = [Signal.like(j, name=f"buf_j{k}") for k in range(DEPTH)]
        bd = [Signal.like(self.rd_data, name=f"buf_d{k}") for k in range(DEPTH)]
        count = Signal(range(DEPTH + 1))
        inflight = Signal(range(RL + 1))
        m.d.comb += inflight.eq(sum(tv))
        m.d.comb += issue.eq(running & more & (count + inflight < DEPTH))
        with m.If(issue):
            start(nxt, after(*nxt))
        take = ~o.valid | o.ready        # the output register is free this cycle
        pop = take & (count != 0)
        bypass = take & (count == 0) & arr_v
        push = arr_v & ~bypass
        # shift out the head on pop; append the arriving word behind the remaining entries
        new_count = count - pop + push
        m.d.sync += count.eq(new_count)
        for k in range(DEPTH):
            src = k + 1 if k + 1 < DEPTH else None
            # entries at or beyond the count hold stale words (only the count says what is valid)
            keep = [bi[src], bj[src], bd[src]] if src is not None else [bi[k], bj[k], bd[k]]
            slot_after_pop = [Mux(pop, a, b) for a, b in zip(keep, (bi[k], bj[k], bd[k]))]
            is_tail = push & ((count - pop) == k)
            m.d.sync += [bi[k].eq(Mux(is_tail, arr_i, slot_after_pop[0])), bj[k].eq(Mux(is_tail, arr_j, slot_after_pop[1])),
                         bd[k].eq(Mux(is_tail, self.rd_data, slot_after_pop[2]))]
        with m.If(take):
            m.d.sync += o.valid.eq(pop | bypass)
            with m.If(pop | bypass):
                m.d.sync += [o.kind.eq(tf.TRACE_P), o.index.eq(Mux(pop, bi[0], arr_i)), o.iter.eq(Mux(pop, bj[0], arr_j)),
                             o.data.eq(Mux(pop, bd[0], self.rd_data))]

        # ---- done: the last element (N - 1, N - 1) left the output register
        last_out = o.valid & o.ready & (o.index == n_last) & (o.iter == n_last)
        m.d.sync += self.done.eq(0)
        zero = (C(0, 1),) * 4
        with m.FSM(name="pdump"):
            with m.State("IDLE"):
                with m.If(self.go):          # (0, 0) is issued now: its address is driven while idle
                    start(after(*zero), after(*after(*zero)))
                    m.d.sync += [tv[0].eq(1), ti[0].eq(0), tj[0].eq(0), running.eq(1)]
                    m.next = "STREAM"
                with m.Else():
                    start(zero, after(*zero))
            with m.State("STREAM"):
                with m.If(last_out):
                    m.d.sync += [running.eq(0), self.done.eq(1)]
                    m.next = "IDLE"
        return m
