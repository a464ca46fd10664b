"""Affinity-phase controller: the joint pair sums S_ij into the P memory (docs/hardware.md,
"Affinity phase").

Bit-exact with `golden_model.affinity_fixed.joint_fixed` from the searched ``u_i`` (its own
memory, loaded through ``u_*``), in exactly `golden_model.affinity_schedule.run_cycles` cycles.
Per point ``i`` (state lengths in `golden_model.timing`, ``AFF_*``):

``PSTART``   the distance engine recomputes row ``i`` (all K lanes, ``G*D`` feature steps) into the
             row-buffer half ``i mod 2``; ``AFF_CAND`` cycles later a DIRECT ``cand`` at ``u_i``
             (lane 0: ``bm``, the shift; clears Z) - before the first ``dist`` op reaches MULA.
``WAITD``    until ``dist_done``: ``m_i`` = row minimum.
``STREAM1``  ``N`` reads, ``kern`` on lane 0 with ``d = D_ij - m_i`` (``j != i``): ``Z_i``.
``DRAIN1``   until lane 0's Z is final (``AFF_Z``), then ``RECIP``: ``trecip`` of Z on lane 0
             gives ``Z = 2^p (1 + m)``, ``r = recip(m)``; ``e = p - W`` and ``r`` are registered.
``STREAM2``  ``N`` reads, ``kprob`` on lane 0 (``w`` again, ``w r`` on TMW, shift, saturation):
             ``p_{j|i}`` ``AFF_WRITE`` cycles after the read; after an element ``j < i`` with
             ``j = i (mod K)`` one bubble cycle (its two P writes hit one bank).
``GAP``      ``AFF_GAP`` cycles, then the next point (the row's P writes finish meanwhile).

P memory (own, the t-SNE engine's layout `hw.tsne.s_location`: row ``i`` in bank ``i mod K`` at
``(i div K) n_max + j``, ``p_frac + 1`` bits, one read and one write port per bank).  Rows are
processed in order, so for each pair the first row (``min(i, j)``) stashes ``p`` in the later
row's copy, and the later row completes both copies:

* ``j > i``: write ``S[j][i] = p_{j|i}`` (bank ``j mod K``);
* ``j < i``: read ``S[i][j]`` (= ``p_{i|j}``, bank ``i mod K``) one cycle before ``p`` arrives,
  write ``S[i][j] = S[j][i] = p_{i|j} + p_{j|i}`` (banks ``i mod K`` and ``j mod K``; if equal, the
  second write goes into the bubble cycle);
* ``j = i``: write ``S[i][i] = 0``.
"""

from __future__ import annotations

from amaranth.hdl import Assert, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from golden_model import timing
from golden_model.config import AccelConfig

from .delay import delay_line
from .lane import CandKind, aff_ops_signature, search_ops_signature
from .lane_tsne import TsneWidths
from .layouts import CoreLayouts

__all__ = ["AffinityController"]


class AffinityController(wiring.Component):
    """Affinity phase on the distance engine and lane 0.

    Parameters
    ----------
    cfg : AccelConfig
    checks : bool
        Simulation assertions: a deferred P write never meets another write of its bank; no P
        bank is written at the address of a used read (the banks' ``no_rw_check`` rests on it);
        ``p_rd_used`` never while the phase owns the banks.

    Attributes
    ----------
    n : In(count_bits)
        N, 2 .. n_max (stable while busy).
    go : In(1)
        Start the phase (idle; features loaded into the distance engine, ``u`` loaded).
    busy : Out(1), done : Out(1)
        Busy; ``done`` pulses in the cycle after the last P write.
    u_we, u_addr, u_data : In
        Load port of the searched ``u_i`` (UQ.u_frac, signed), idle only (the search fills it later).
    p_rd_bank : In, p_rd_addr : In(range(sdepth)).array(K), p_rd_data : Out(p_frac + 1)
        P read port (idle only; `hw.tsne.s_location`): bank ``k`` reads at ``p_rd_addr[k]`` (the
        t-SNE engine's ring steps read a different column in each bank; the P dump gives all banks
        one address), ``p_rd_data`` is bank ``p_rd_bank``'s word `timing.P_READ` cycles after the
        address (from the banks' data registers).  Each address goes straight to its bank (drive it from a register:
        on tiny the banks are flip-flop memories with deep read multiplexers).
    p_rd_all : Out(p_frac + 1).array(K)
        Every bank's read data, one cycle after the address (idle only): the t-SNE engine's S
        read, which registers it (reset-less, as the data registers here, so Yosys merges the two
        copies into one, and `synth.bram_regs` can move it into the block RAM: the banks are
        ``no_rw_check``).
    p_rd_used : In(1)
        The reads of ``p_rd_addr`` are used this cycle (the t-SNE engine or the P dump runs).
        Simulation checks only: it must be 0 while the phase owns the banks (busy, or a fused
        row's writes still to come); nothing else reads it.
    eng_* :
        Distance-engine control (`hw.distance.DistanceEngine`: point commands, grant, row reads).
    lane : Out(search_ops_signature(cfg))
        ``cand`` and ``kern`` to lane 0 (through the broadcast register).
    aff : Out(aff_ops_signature(cfg))
        ``kprob`` to lane 0, and its result ``p``.
    lane_z : In(z_bits)
        Lane 0's Z accumulator (``scan_out.z``).
    rcp_issue, rcp_x : Out, rcp_p, rcp_r : In
        Lane 0's ``trecip`` op (``tsne.recip``) and its results (``tsne.p``, ``tsne.r``).
    row_go : In(1), row_first : In(1), row_u : In(signed(u_bits)), row_m : In(dist_bits),
    row_done : Out(1)
        Fused rows (`hw.search` AFFROW, idle between rows): ``row_go`` runs the next point's row
        (point 0 with ``row_first``) on the row the search left in the row buffer (half ``i mod
        2``), with its ``u`` and row minimum given: the CAND ``timing.AFF_FUSED_CAND`` cycles in,
        the first read ``SETUP`` cycles after it, then STREAM1 .. STREAM2 as above, and
        ``row_done`` in the row's last cycle (``AFF_FUSED_GAP`` after its last read; the class's
        last row: ``AFF_WRITE``, with ``done``).  No point command; ``eng_grant`` is 0 in a fused
        row (the search's next row waits), 1 otherwise.  Exactly
        `golden_model.affinity_schedule.fused_row_cycles`.
    """

    def __init__(self, cfg: AccelConfig, checks: bool = False):
        self.cfg = cfg
        self.checks = checks
        L = CoreLayouts(cfg)
        tw = TsneWidths(cfg)
        K = cfg.lanes
        self.sdepth = -(-cfg.n_max // K) * cfg.n_max
        self.u_bits = L.u_bits
        super().__init__({
            "n": In(cfg.count_bits), "go": In(1), "busy": Out(1), "done": Out(1),
            "u_we": In(1), "u_addr": In(range(cfg.n_max)), "u_data": In(signed(L.u_bits)),
            "p_rd_bank": In(range(max(K, 2))), "p_rd_addr": In(range(self.sdepth)).array(K),
            "p_rd_data": Out(cfg.p_frac + 1), "p_rd_all": Out(cfg.p_frac + 1).array(K), "p_rd_used": In(1),
            "eng_point_first": Out(1), "eng_point_next": Out(1), "eng_point_start": Out(1),
            "eng_grant": Out(1), "eng_dist_done": In(1), "eng_dmin": In(cfg.dist_bits),
            "eng_rd_en": Out(1), "eng_rd_restart": Out(1), "eng_rd_half": Out(1),
            "eng_rd_data": In(cfg.dist_bits),
            "lane": Out(search_ops_signature(cfg)),
            "aff": Out(aff_ops_signature(cfg)),
            "lane_z": In(cfg.z_bits),
            "rcp_issue": Out(1), "rcp_x": Out(tw.nin), "rcp_p": In(range(tw.nin + 1)), "rcp_r": In(tw.rb),
            "row_go": In(1), "row_first": In(1), "row_u": In(signed(L.u_bits)), "row_m": In(cfg.dist_bits),
            "row_done": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg
        K, W, NM, DB = cfg.lanes, cfg.w_frac, cfg.n_max, cfg.dist_bits
        SD = self.sdepth
        t = timing
        assert t.AFF_CAND >= 1 and t.AFF_Z >= 2 and t.AFF_GAP >= 2 and t.AFF_WRITE > t.AFF_GAP

        # ------------------------------------------------------------ memories
        umem = Memory(shape=signed(self.u_bits), depth=NM, init=[])
        m.submodules.umem = umem
        u_wr, u_rd = umem.write_port(), umem.read_port()
        m.d.comb += [u_wr.addr.eq(self.u_addr), u_wr.data.eq(self.u_data), u_wr.en.eq(self.u_we & ~self.busy)]
        # no_rw_check: no bank is written at the address of a read whose word is used (the RMW
        # pre-read trails the row's writes; the outside reads come while the phase is idle, when
        # nothing writes): asserted below with checks=True.  Without it Yosys keeps a
        # read-during-write bypass behind each bank and no data register goes into the block RAM
        banks = [Memory(shape=cfg.p_frac + 1, depth=SD, init=[], attrs={"no_rw_check": 1}) for _ in range(K)]
        for k, b in enumerate(banks):
            m.submodules[f"pbank{k}"] = b
        self.pbanks = banks          # simulation handle (tests read P after a whole-core run)
        p_wr = [b.write_port() for b in banks]
        p_rd = [b.read_port() for b in banks]

        # ------------------------------------------------------------ state
        i = Signal(range(NM + 1))
        i_mod = Signal(range(max(K, 2)))
        i_base = Signal(range(SD + NM + 1))           # (i div K) n_max
        n_last = Signal(cfg.count_bits)
        m.d.sync += n_last.eq(self.n - 1)
        mrow = Signal(DB)
        cnt = Signal(range(max(t.AFF_Z, t.AFF_RECIP, t.AFF_WRITE, t.AFF_FUSED_CAND + t.SETUP) + 2))
        j = Signal(range(NM + 1))
        j_mod = Signal(range(max(K, 2)))
        bubble = Signal()
        r_q = Signal(W + 1)
        e_q = Signal.like(self.aff.kprob.e)
        fused = Signal()          # the running row is a fused one (`row_go`)
        urow = Signal(signed(self.u_bits))
        m.d.comb += [u_rd.addr.eq(i), self.eng_rd_half.eq(i[0]), self.eng_grant.eq(~fused)]

        # ------------------------------------------------------------ lane ops (broadcast register)
        bc_cand, bc_kern, bc_kprob, bc_rcp = Signal(), Signal(), Signal(), Signal()
        ds = Signal(DB)
        c, ln = self.lane.cand, self.lane
        u_i = Mux(fused, urow, u_rd.data)
        m.d.sync += [c.issue.eq(bc_cand), c.kind.eq(CandKind.DIRECT), c.a.eq(0),
                     c.base.eq(u_i), c.lo.eq(u_i), c.hi.eq(u_i), c.centre.eq(u_i),
                     ln.kern.issue.eq(bc_kern), ln.kern.d.eq(ds),
                     self.aff.kprob.issue.eq(bc_kprob), self.aff.kprob.d.eq(ds),
                     self.aff.kprob.r.eq(r_q), self.aff.kprob.e.eq(e_q),
                     self.rcp_issue.eq(bc_rcp), self.rcp_x.eq(self.lane_z)]

        def delayed(sig, n, name):
            return delay_line(m, sig, n, name)

        # a row read in cycle c: engine command register, read, bank and multiplexer registers,
        # d = D - m registered: the op leaves the controller in c + ROW_READ
        s1, s2, st_rd = Signal(), Signal(), Signal()
        m.d.sync += ds.eq(self.eng_rd_data - mrow)
        m.d.comb += [bc_kern.eq(delayed(st_rd & s1 & (j != i), t.ROW_READ, "k1_")),
                     bc_kprob.eq(delayed(st_rd & s2 & (j != i), t.ROW_READ, "k2_"))]
        # r, p of Z: BROADCAST + latency(trecip) cycles after the issue
        with m.If(delayed(bc_rcp, t.BROADCAST + t.latency("trecip"), "rcp_")):
            m.d.sync += [r_q.eq(self.rcp_r), e_q.eq(self.rcp_p - W)]

        # ------------------------------------------------------------ P: RMW read stage, write stage
        wi = Signal.like(i)                  # the streamed row (kept while the next one starts)
        wim = Signal.like(i_mod)
        wbase_i = Signal.like(i_base)
        rj = Signal.like(j)                  # read stage: the element whose p arrives next cycle
        rjm = Signal.like(j_mod)
        rbase_j = Signal.like(i_base)
        # the banks are read one cycle before the read stage (``v_pre``) at rmw_addr (wbase_i plus
        # the elements pre-read so far, a counter: no adder before the address) and the data
        # registered, so that the write stage's add starts from a register, not a RAM output (no
        # hazard: an element is read long after the write that gave it its value)
        assert t.AFF_WRITE >= 3
        rmw_addr = Signal.like(i_base)
        v_pre = delayed(st_rd & s2, t.AFF_WRITE - 2, "pv_")
        v_rd = Signal()
        m.d.sync += v_rd.eq(v_pre)
        with m.If(v_pre):
            m.d.sync += rmw_addr.eq(rmw_addr + 1)
        with m.If(v_rd):
            m.d.sync += rj.eq(rj + 1)
            with m.If(rjm == K - 1):
                m.d.sync += [rjm.eq(0), rbase_j.eq(rbase_j + NM)]
            with m.Else():
                m.d.sync += rjm.eq(rjm + 1)
        # p_rd_data: bank p_rd_bank's word P_READ cycles after the address, from the data registers
        # (rdq, below): every bank output feeds registers only, not the dump's multiplexer
        assert t.P_READ == 2
        rd_sel, rd_sel2 = Signal.like(self.p_rd_bank), Signal.like(self.p_rd_bank)
        m.d.sync += [rd_sel.eq(self.p_rd_bank), rd_sel2.eq(rd_sel)]
        # the banks' read port is the RMW pre-read's while a row runs and until its last element's
        # pre-read (a fused row ends AFF_FUSED_GAP cycles after its last read, its writes follow)
        tail = Signal(range(t.AFF_WRITE + 1))
        with m.If(st_rd & s2):
            m.d.sync += tail.eq(t.AFF_WRITE)
        with m.Elif(tail != 0):
            m.d.sync += tail.eq(tail - 1)
        p_own = self.busy | (tail != 0)
        for k, rp in enumerate(p_rd):
            m.d.comb += rp.addr.eq(Mux(p_own, rmw_addr, self.p_rd_addr[k]))
        m.d.comb += [self.p_rd_all[k].eq(rp.data) for k, rp in enumerate(p_rd)]
        rdq = [Signal(cfg.p_frac + 1, name=f"p_rdq{k}", reset_less=True) for k in range(K)]
        m.d.sync += [q.eq(rp.data) for q, rp in zip(rdq, p_rd)]
        with m.Switch(rd_sel2):
            for k, q in enumerate(rdq):
                with m.Case(k):
                    m.d.comb += self.p_rd_data.eq(q)
        # write stage (registered from the read stage)
        wv, lower, diag, conf = Signal(), Signal(), Signal(), Signal()
        wjm = Signal.like(j_mod)
        a_row, a_tr = Signal.like(i_base), Signal.like(i_base)
        m.d.sync += [wv.eq(v_rd), lower.eq(rj < wi), diag.eq(rj == wi), conf.eq((rj < wi) & (rjm == wim)),
                     wjm.eq(rjm), a_row.eq(wbase_i + rj), a_tr.eq(rbase_j + wi)]
        old = Signal(cfg.p_frac + 1)
        with m.Switch(wim):
            for k, q in enumerate(rdq):
                with m.Case(k):
                    m.d.comb += old.eq(q)
        s_new = Signal(cfg.p_frac + 1)
        m.d.comb += s_new.eq(self.aff.p + Mux(lower, old, 0))
        row_en = wv & (lower | diag)
        tr_en = wv & ~diag & ~conf
        pend_v, pend_a, pend_d = Signal(), Signal.like(a_tr), Signal.like(s_new)
        m.d.sync += [pend_v.eq(wv & conf), pend_a.eq(a_tr), pend_d.eq(s_new)]
        for k, wp in enumerate(p_wr):
            with m.If(pend_v & (wim == k)):
                m.d.comb += [wp.en.eq(1), wp.addr.eq(pend_a), wp.data.eq(pend_d)]
            with m.Elif(row_en & (wim == k)):
                m.d.comb += [wp.en.eq(1), wp.addr.eq(a_row), wp.data.eq(Mux(diag, 0, s_new))]
            with m.Elif(tr_en & (wjm == k)):
                m.d.comb += [wp.en.eq(1), wp.addr.eq(a_tr), wp.data.eq(s_new)]
        if self.checks:
            m.d.sync += Assert(~(pend_v & wv), "a deferred P write met another element's writes")
            m.d.sync += Assert(~(self.p_rd_used & p_own),
                               "affinity: P read for use while the affinity phase owns the banks")
            for k, (wp, rp) in enumerate(zip(p_wr, p_rd)):
                used = (v_pre & (wim == k)) | (self.p_rd_used & ~p_own)
                m.d.sync += Assert(~(wp.en & used & (wp.addr == rp.addr)),
                                   f"affinity: P bank {k} written at the address of its used read")

        # ------------------------------------------------------------ FSM
        m.d.sync += self.done.eq(0)
        last = i == n_last
        # RECIP's first cycle as a register set on entry (not a compare of cnt behind the state
        # decode: the row registers' enables were the affinity phase's slowest path, 11.6 ns)
        rc_first = Signal()
        m.d.sync += rc_first.eq(0)
        with m.FSM(name="affinity"):
            with m.State("IDLE"):
                with m.If(self.go):
                    m.d.sync += [i.eq(0), i_mod.eq(0), i_base.eq(0), fused.eq(0)]
                    m.next = "PSTART"
                with m.Elif(self.row_go):
                    m.d.sync += [fused.eq(1), urow.eq(self.row_u), mrow.eq(self.row_m), cnt.eq(0)]
                    with m.If(self.row_first):
                        m.d.sync += [i.eq(0), i_mod.eq(0), i_base.eq(0)]
                    m.next = "RCAND"
            with m.State("RCAND"):
                # the fused row's CAND after the search's last grant has left MULA, then SETUP
                # cycles to the first read, as in a search pass
                m.d.comb += [self.busy.eq(1), bc_cand.eq(cnt == t.AFF_FUSED_CAND)]
                m.d.sync += cnt.eq(cnt + 1)
                with m.If(cnt == t.AFF_FUSED_CAND + t.SETUP - 1):
                    m.d.sync += j.eq(0)
                    m.next = "STREAM1"
            with m.State("PSTART"):
                m.d.comb += [self.busy.eq(1), self.eng_point_start.eq(1),
                             self.eng_point_first.eq(i == 0), self.eng_point_next.eq(i != 0)]
                m.d.sync += cnt.eq(0)
                m.next = "WAITD"
            with m.State("WAITD"):
                m.d.comb += [self.busy.eq(1), bc_cand.eq(cnt == t.AFF_CAND - 1)]
                with m.If(cnt < t.AFF_CAND):
                    m.d.sync += cnt.eq(cnt + 1)
                with m.If(self.eng_dist_done):
                    m.d.sync += [mrow.eq(self.eng_dmin), j.eq(0)]
                    m.next = "STREAM1"
            with m.State("STREAM1"):
                m.d.comb += [self.busy.eq(1), s1.eq(1), st_rd.eq(1), self.eng_rd_en.eq(1),
                             self.eng_rd_restart.eq(j == 0)]
                m.d.sync += j.eq(j + 1)
                with m.If(j == n_last):
                    m.d.sync += cnt.eq(0)
                    m.next = "DRAIN1"
            with m.State("DRAIN1"):
                m.d.comb += self.busy.eq(1)
                m.d.sync += cnt.eq(cnt + 1)
                with m.If(cnt == t.AFF_Z - 2):
                    m.d.sync += [cnt.eq(0), rc_first.eq(1)]
                    m.next = "RECIP"
            with m.State("RECIP"):
                m.d.comb += [self.busy.eq(1), bc_rcp.eq(rc_first)]
                m.d.sync += cnt.eq(cnt + 1)
                with m.If(rc_first):
                    m.d.sync += [wi.eq(i), wim.eq(i_mod), wbase_i.eq(i_base), rj.eq(0), rmw_addr.eq(i_base), rjm.eq(0),
                                 rbase_j.eq(0), j.eq(0), j_mod.eq(0), bubble.eq(0)]
                with m.If(cnt == t.AFF_RECIP - 1):
                    m.next = "STREAM2"
            with m.State("STREAM2"):
                m.d.comb += self.busy.eq(1)
                with m.If(bubble):
                    m.d.sync += bubble.eq(0)
                with m.Else():
                    m.d.comb += [s2.eq(1), st_rd.eq(1), self.eng_rd_en.eq(1), self.eng_rd_restart.eq(j == 0)]
                    m.d.sync += [j.eq(j + 1), j_mod.eq(Mux(j_mod == K - 1, 0, j_mod + 1)),
                                 bubble.eq((j_mod == i_mod) & (j < i))]
                    with m.If(j == n_last):
                        m.d.sync += cnt.eq(0)
                        m.next = "GAP"
            with m.State("GAP"):
                m.d.comb += self.busy.eq(1)
                m.d.sync += cnt.eq(cnt + 1)
                nxt_i = [i.eq(i + 1), i_mod.eq(Mux(i_mod == K - 1, 0, i_mod + 1)),
                         i_base.eq(Mux(i_mod == K - 1, i_base + NM, i_base))]
                with m.If(~last & fused & (cnt == t.AFF_FUSED_GAP - 1)):
                    m.d.comb += self.row_done.eq(1)
                    m.d.sync += nxt_i
                    m.next = "IDLE"
                with m.If(~last & ~fused & (cnt == t.AFF_GAP - 2)):
                    m.d.sync += nxt_i
                    m.next = "PSTART"
                with m.If(last & (cnt == t.AFF_WRITE - 1)):
                    m.d.comb += self.row_done.eq(fused)
                    m.d.sync += self.done.eq(1)
                    m.next = "IDLE"
        return m
