"""Search controller: per-point sequencing and the three sigma-search policies.

Bit-exact with `golden_model.search_fixed.search_row`.  Per point ``i``:

``PSTART``  start the distance phase (distance engine), load the lanes' PRNGs with
            ``seed + i * SEED_POINT_STEP`` (each lane adds ``(l+1) * SEED_LANE_STEP``).
``WAITD``   wait for ``dist_done``; ``m = min``, span ``max - min`` registered.
``RANGE``   ``u_lo = -(bitlen(max - min) + 2) 2^U``.
``PINIT``   bracket, amplitude, best-ever and population reset.
then passes, each (lengths in `golden_model.timing`, rendered in docs/hardware.md)::

    SETUP       cand_issue: every lane computes its candidate and bm = 2^-g
    STREAM (N)  row element j read once, broadcast as d = D_ij - m to all lanes (j == i masked)
    DRAIN       row-buffer read and registers + lane kernel pipeline empty
    SCAN (A + ROWEND)  the A active lanes' (u, Z, T) shift out of lane 0 into the shared ROWEND
                unit (`hw.rowend`, H = log2 Z + T/Z), one per cycle (A = 1 for bisection, K
                otherwise); ROWEND cycles later its (u, H, |H - target|) go into the scan
                register, one per cycle; the best-ever, bracket / population update from that
                register lands one cycle later (SCAN_PIPE, with the PRNG step)
    then the next SETUP: its CAND is issued at once (speculatively) with the new pass count and
    amplitude; the stop rule is registered in its first cycle and applied in its second
    (timing.DECIDE): a stop drops the CAND and goes to OUT.

``OUT``     hand the result to the output register (waits while it is full).

The pass length is ``N + A + timing.pass_overhead()`` cycles (see `golden_model.schedule`).
"""

from __future__ import annotations

from types import SimpleNamespace

from amaranth.hdl import Array, Assert, C, Cat, EnableInserter, Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from golden_model import search_fixed as sf
from golden_model.config import AccelConfig

from golden_model import timing

from .lane import CandKind, lane_roles, scan_signature, search_ops_signature
from .layouts import CoreLayouts, POLICY_CODES
from .onehot import OneHotFSM
from .regnext import next_values
from .replica import replica
from .rowend import RowendUnit

__all__ = ["SearchController"]

# every state length comes from golden_model.timing (the op table and the controller state lengths)

P_BISECT = POLICY_CODES["bisection"]
P_FWA = POLICY_CODES["fwa"]
P_KSEC = POLICY_CODES["ksection"]


def _zx(v):
    return Cat(v, C(0, 1)).as_signed()


def _wrap(v: int, bits: int) -> int:
    """`v` as a `bits`-bit two's-complement value (what a signed register of that width holds)."""
    return ((v + (1 << (bits - 1))) % (1 << bits)) - (1 << (bits - 1))


def bracket_narrow(m, lo, hi, name):
    """``hi <= lo + 1`` as one subtraction (a bit wider than the operands, so exact) and the sign
    bit or a zero test of its high bits: no adder in front of a comparator (re-timing)."""
    span = Signal(signed(max(len(lo), len(hi)) + 1), name=name)
    m.d.comb += span.eq(hi - lo)
    return span[-1] | (span[1:-1] == 0)


class SearchController(wiring.Component):
    """Point / pass sequencer and sigma-search policies (bisection, K-section, FWA).

    Parameters
    ----------
    cfg : AccelConfig
    trace : bool
        Emit one trace beat per active lane per pass (during SCAN; SCAN waits on back-pressure).
    checks : bool
        Simulation assertions on the controller's own invariants (the registered SETUP flags).

    Attributes
    ----------
    n : In(count_bits), policy : In(2), perp : In(perp_bits), seed : In(32)
        Run parameters (stable during a run).
    tgt_start : In(1)
        Compute the target entropy log2(PERP) on the ROWEND unit; ``tgt_done`` pulses when finished.
    go : In(1)
        Start point 0 (features loaded).
    all_done : Out(1)
        Pulse after the last point's result was handed over.
    out_valid : Out(1), out_payload : Out(result layout), out_ready : In(1)
        Result hand-over to the output register.
    eng_* :
        Distance engine control (see `hw.distance`).
    lanes : Out(search_ops_signature(cfg)).array(K)
        The search ops to each lane (mostly broadcast; ``kern.issue`` and ``cand.centre`` per lane).
    scan : In(scan_signature(cfg))
        Lane 0's scan registers (into the controller's ROWEND unit).
    fuse : In(1), aff_row_go : Out(1), aff_row_first : Out(1), aff_row_u : Out(signed(u_bits)),
    aff_row_m : Out(dist_bits), aff_row : Out(1), aff_row_done : In(1)
        (``fused_rows`` only: a core with the later phases) With ``fuse`` (stable for a run) each
        point's OUT is followed by AFFROW, in which the affinity controller (`hw.affinity`,
        ``row_go``) runs the point's affinity row on the row and ``m_i`` still in the row buffer:
        ``aff_row_go`` pulses as OUT hands the beat over (``aff_row_first`` for point 0, the
        point's ``u`` and ``m_i`` on ``aff_row_u`` / ``aff_row_m``), ``aff_row`` is high in AFFROW
        (the core gives the affinity controller the engine's read port and grant and lane 0), and
        ``aff_row_done`` ends it: WAITD for the next point, or (the last) ``all_done``.
    """

    def __init__(self, cfg: AccelConfig, trace: bool = False, checks: bool = False, fused_rows: bool = False):
        self.cfg = cfg
        self.trace_en = trace
        self.checks = checks
        self.fused_rows = fused_rows
        L = self.lay = CoreLayouts(cfg)
        K = cfg.lanes
        us = signed(L.u_bits)
        sig = {
            "n": In(cfg.count_bits), "policy": In(2), "perp": In(cfg.perp_bits), "seed": In(32),
            "tgt_start": In(1), "tgt_done": Out(1), "target": Out(L.target_bits),
            "go": In(1), "all_done": Out(1),
            "out_valid": Out(1), "out_payload": Out(L.result), "out_ready": In(1),
            "eng_point_first": Out(1), "eng_point_next": Out(1), "eng_point_start": Out(1),
            "eng_dist_done": In(1), "eng_dmin": In(cfg.dist_bits), "eng_dmax": In(cfg.dist_bits),
            "eng_rd_en": Out(1), "eng_rd_restart": Out(1), "eng_rd_half": Out(1), "eng_rd_data": In(cfg.dist_bits),
            "eng_grant": Out(1),
            "pp": In(1), "eng_pp_d": In(cfg.dist_bits).array(K), "eng_mm_sel": Out(range(max(K, 2))),
            "eng_sel_min": In(cfg.dist_bits), "eng_sel_max": In(cfg.dist_bits),
            "lanes": Out(search_ops_signature(cfg)).array(K),
            "scan": In(scan_signature(cfg)),
        }
        if fused_rows:
            sig.update({"fuse": In(1), "aff_row_go": Out(1), "aff_row_first": Out(1), "aff_row_u": Out(us),
                        "aff_row_m": Out(cfg.dist_bits), "aff_row": Out(1), "aff_row_done": In(1)})
        if trace:
            sig["trace_valid"] = Out(1)
            sig["trace_payload"] = Out(L.trace)
            sig["trace_ready"] = In(1)
        super().__init__(sig)

    def elaborate(self, platform):
        m = Module()
        cfg, L = self.cfg, self.lay
        K, U, nf = cfg.lanes, cfg.u_frac, cfg.fwa_fireworks
        EB = L.err_bits
        us = signed(L.u_bits)
        roles = lane_roles(cfg)
        # point-parallel bisection (DATAFLOW = 1): lane l searches point i + l. Its bracket, best
        # and pass count are entry l of a K-entry table (LUT RAM), written one lane per cycle (the
        # PP_RANGE reset, the SCAN update, which also applies the lane's stop rule); registers hold
        # only what all lanes need at once: the done flags (the KERN mask, the group's stop) and
        # the bracket midpoints (the LANE CANDs' centres). One table instead of K sets of registers
        # with their own comparators and adders: the point-parallel dataflow's area no longer grows
        # with K beyond those registers (K = 32 needs the area; docs/hardware.md)
        pp = self.pp if cfg.point_parallel else C(0, 1)
        pp_entry = data.StructLayout({"blo": us, "bhi": us, "best_u": us, "best_h": L.h_bits,
                                      "best_err": EB, "bv": 1, "passes": 8})
        pdone = Signal(K, name="pp_done")
        pcentre = [Signal(us, name=f"pp_centre{l}") for l in range(K)]
        # broadcast op signals, fanned out to every lane's `ops` port at the end
        bc = SimpleNamespace(
            cand_issue=Signal(), cand_kind=Signal(2), cand_blo=Signal(us), cand_bhi=Signal(us),
            cand_amp=Signal(L.u_range_bits),
            cand_lo=Signal(us), cand_centre=Signal(data.ArrayLayout(us, K)),
            prng_load=Signal(), prng_step=Signal(), prng_point=Signal(32),
            kern_issue=Signal(K), kern_d=Signal(cfg.dist_bits))
        # the scan shift: SCAN's first A positions (`feeding`), held while a trace beat waits
        # (`stall`); each lane gets a copy of the `feeding` register of its own (its next value
        # through `hw.replica`), so the shift that selects every scan register's input starts at
        # a flip-flop beside the lane, not at one register fanned out over the die
        stall = Signal()
        feeding = Signal()
        feeding_nxt = next_values(m, feeding)
        feed_copy = [replica(m, feeding_nxt, f"feed{l}") for l in range(K)]
        if self.checks:
            m.d.sync += Assert(Cat(*feed_copy) == Mux(feeding, (1 << K) - 1, 0), "search: a lane's feed copy differs")
        # every op reaches the lanes through one broadcast register (timing.BROADCAST), a copy per
        # lane (`hw.replica`: synthesis must not merge them), so the route to a lane ends at a
        # flip-flop beside it and the lane's logic starts there; the scan shift is a copy of its
        # own, gated by the stall combinationally (lane 0 is read in the same cycle)
        for l in range(K):
            o = self.lanes[l]
            m.d.comb += o.scan.eq(feed_copy[l] & ~stall)
            # the bracket and the amplitude are copied, and the CAND's base and span computed
            # behind the copies (the same values a cycle later as computed in front of them): the
            # adders sit beside the lane, not in front of the route across the die
            kind, blo_r, bhi_r, amp_r = (replica(m, src, f"bc{l}_{name}") for name, src in (
                ("cand_kind", bc.cand_kind), ("cand_blo", bc.cand_blo), ("cand_bhi", bc.cand_bhi),
                ("cand_amp", bc.cand_amp)))
            m.d.comb += o.cand.kind.eq(kind)
            with m.Switch(kind):
                with m.Case(CandKind.DIRECT):
                    m.d.comb += o.cand.base.eq((blo_r + bhi_r) >> 1)
                with m.Case(CandKind.KSEC):
                    m.d.comb += [o.cand.base.eq(blo_r), o.cand.a.eq(bhi_r - blo_r)]
                with m.Case(CandKind.FWA):
                    m.d.comb += o.cand.a.eq(amp_r)
            for name, port, src in (
                    ("cand_issue", o.cand.issue, bc.cand_issue),
                    ("cand_lo", o.cand.lo, bc.cand_lo),
                    ("cand_centre", o.cand.centre, bc.cand_centre[l]),
                    ("prng_load", o.prng.load, bc.prng_load), ("prng_step", o.prng.step, bc.prng_step),
                    ("prng_point", o.prng.point, bc.prng_point),
                    ("kern_issue", o.kern.issue, bc.kern_issue[l]),
                    ("kern_d", o.kern.d, Mux(pp, self.eng_pp_d[l], bc.kern_d))):
                m.d.comb += port.eq(replica(m, src, f"bc{l}_{name}"))
            # the upper end of u's range is a constant: a copy of it would carry only the reset
            # (a net from the controller's ABORT copy to every lane)
            m.d.comb += o.cand.hi.eq(cfg.u_hi)
        hi = cfg.u_hi
        tol = cfg.tolerance_lsb

        # ------------------------------------------------------------ state
        target = self.target
        pseed = Signal(32)
        i = Signal(cfg.index_bits)
        mrow = Signal(cfg.dist_bits)
        lo = Signal(us)
        blo = Signal(us)
        bhi = Signal(us)
        amp = Signal(L.u_range_bits)
        best_u = Signal(us)
        best_h = Signal(L.h_bits)
        best_err = Signal(EB)
        best_v = Signal()
        pop_u = [Signal(us, name=f"pop_u{k}") for k in range(nf)]
        pop_err = [Signal(EB, name=f"pop_err{k}") for k in range(nf)]
        pop_v = [Signal(name=f"pop_v{k}") for k in range(nf)]
        passes = Signal(8)
        found = Signal()
        prev_u = Signal(us)
        sl = Signal(range(K + 1))
        cnt = Signal(range(max(timing.SETUP, timing.DRAIN, K + timing.ROWEND, timing.START_TARGET) + 2))
        j = Signal(range(cfg.n_max + 1))

        # N - 1, registered (N is stable for a run; keeps the subtraction off the compare paths)
        n_last = Signal(cfg.count_bits)
        m.d.sync += n_last.eq(self.n - 1)

        is_bis = self.policy == P_BISECT
        more = Signal()          # a point follows the current one
        m.d.comb += more.eq(i != n_last)
        dready = Signal()        # the next point's distances are done (dist_done seen)
        no_grant = Signal()      # the lanes' multiplier is claimed GRANT_LEAD cycles from now
        is_fwa = self.policy == P_FWA
        fwa_pass = Signal()     # FWA after its first pass: sparks around the population (a register)
        amp_eff = Signal(L.u_range_bits)   # the amplitude of this SETUP's CAND (set below)
        nact_last = Mux(is_bis & ~pp, 0, K - 1)

        # ------------------------------------------------------------ lane broadcast (from registers)
        m.d.comb += [bc.cand_lo.eq(Mux(pp, -(1 << (L.u_bits - 1)), lo)),
                     bc.prng_point.eq(pseed)]
        # the kinds' operands (base, span) are computed per lane behind the broadcast copies (above)
        m.d.comb += [bc.cand_blo.eq(blo), bc.cand_bhi.eq(bhi), bc.cand_amp.eq(amp_eff)]
        with m.If(pp):
            m.d.comb += bc.cand_kind.eq(CandKind.LANE)
        with m.Elif(is_bis):
            m.d.comb += bc.cand_kind.eq(CandKind.DIRECT)
        with m.Elif(fwa_pass):
            m.d.comb += bc.cand_kind.eq(CandKind.FWA)
        with m.Else():
            m.d.comb += bc.cand_kind.eq(CandKind.KSEC)
        for l in range(K):
            r = roles[l]
            fwa_c = Mux(pop_v[r], pop_u[r], pop_u[0]) if r > 0 else pop_u[0]
            m.d.comb += bc.cand_centre[l].eq(Mux(pp, pcentre[l], fwa_c))

        # ------------------------------------------------------------ stream pipeline
        # a read command in cycle c: registered at the engine (c+1), read (c+2), bank register (c+3),
        # multiplexer register (c+4), d = D - m registered: kern issued in c + ROW_READ
        st_rd = Signal()
        ds = Signal(cfg.dist_bits)
        m.d.sync += ds.eq(self.eng_rd_data - mrow)
        # the K-bit issue vector: candidate-parallel, every active lane on j != i; point-parallel,
        # lane l on j != i + l unless its point is done (or beyond N)
        jrel = Signal(signed(cfg.index_bits + 2))
        m.d.comb += jrel.eq(j - i)
        lane_en = Cat(C(1, 1), *[~is_bis for _ in range(K - 1)])
        kiss = Mux(pp, Cat(*[st_rd & (jrel != l) & ~pdone[l] for l in range(K)]),
                   Mux(st_rd & (j != i), lane_en, 0))
        # the stream flag, delayed: a grant now would meet a KERN op at the multiplier
        st_rd_q = st_rd
        for k in range(timing.STREAM_NO_GRANT_DELAY):
            nxt = Signal(name=f"st_rd_q{k + 1}")
            m.d.sync += nxt.eq(st_rd_q)
            st_rd_q = nxt
        for k in range(timing.ROW_READ):
            nxt = Signal(K, name=f"kiss{k + 1}")
            m.d.sync += nxt.eq(kiss)
            kiss = nxt
        m.d.comb += [bc.kern_issue.eq(kiss), bc.kern_d.eq(ds)]

        # ------------------------------------------------------------ scan datapath
        # lane 0's (u, Z, T) feed the ROWEND unit, one lane per cycle; its (u, H) and |H - target|
        # go into a register (SCAN_PIPE); the update uses the register.  The unit and the chain
        # stand still while a trace beat waits (`stall`).
        ru = RowendUnit(cfg, carry_zt=self.trace_en)
        m.submodules.rowend = EnableInserter(~stall)(ru)
        m.d.comb += [ru.i.u.eq(self.scan.u), ru.i.z.eq(self.scan.z), ru.i.t.eq(self.scan.t),
                     ru.i.x.eq(self.perp)]
        sh = ru.o.h
        diff = Signal(signed(max(L.h_bits, L.target_bits) + 2))
        m.d.comb += diff.eq(_zx(sh) - _zx(target))
        su = ru.o.u
        adv = Signal()
        scanning = Signal()
        q_v = Signal()
        q_u = Signal(us)
        q_h = Signal(L.h_bits)
        # q_h > target, registered with q_h from the difference the error is taken from (target
        # is constant during a search): the bracket updates start at a flip-flop, not a comparator
        q_gt = Signal()
        err = Signal(EB)
        q_sl = Signal(range(K + 1))
        q_oh = Signal(K)         # one-hot q_sl (point-parallel: the lane the update is for)
        m.d.sync += [q_v.eq(0), q_oh.eq(0)]
        if self.trace_en:
            m.d.comb += [self.trace_payload.u.eq(su), self.trace_payload.z.eq(ru.o.z),
                         self.trace_payload.t.eq(ru.o.t), self.trace_payload.h.eq(sh),
                         self.trace_payload.lane.eq(sl), self.trace_payload.pass_index.eq(passes),
                         self.trace_payload.index.eq(Mux(pp, i + sl, i))]

        # population insertion (FWA)
        dup = Signal()
        m.d.comb += dup.eq(Cat(*[pop_v[k] & (pop_u[k] == q_u) for k in range(nf)]).any())
        lt = [Signal(name=f"lt{k}") for k in range(nf)]
        for k in range(nf):
            m.d.comb += lt[k].eq(~pop_v[k] | (err < pop_err[k]))

        # ------------------------------------------------------------ FSM
        passes_n = passes + 1
        # the stop rule's own subtraction (the K-section broadcast's cand_a is computed beside each
        # lane from copies: sharing one carry chain would place the stop rule beside a lane)
        narrow = Signal()
        m.d.comb += narrow.eq(bracket_narrow(m, blo, bhi, "bracket_span"))
        stop = Signal()
        # (`tol >= best_err` and `passes >= max - 1` rather than the output's `best_err <= tol` and
        # `passes + 1`, so the stop rule has comparators of its own, placed beside the FSM)
        m.d.comb += stop.eq((tol >= best_err) | (passes >= cfg.max_passes - 1) | (~is_fwa & narrow))
        # FWA amplitude adaptation, off the SETUP path: both outcomes are clamped into registers
        # while the pass runs (amp is stable from SETUP to SETUP), and "the best improved" is a flag
        # set by an insertion at rank 0 (pop_err[0] only ever decreases, so that insertion is
        # exactly "pop_err[0] below its value at the last SETUP")
        s_ad = cfg.fwa_amp_adapt_shift
        amp_up = Signal(L.u_range_bits + 1)
        amp_dn = Signal(L.u_range_bits + 1)
        amp_cap = Signal(L.u_range_bits + 1)
        amp_up_c = Signal(L.u_range_bits)
        amp_dn_c = Signal(L.u_range_bits)
        improved = Signal()
        adapt = Signal()         # the next SETUP adapts the amplitude (FWA, from its third pass on)
        # the two sums and the cap are registers too (re-timing: a pass lasts far longer than the
        # three cycles the clamped values take to follow amp, which changes only at SETUP, and
        # lo, which changes only before a point's first pass)
        m.d.sync += [amp_up.eq(amp + (amp >> s_ad)), amp_dn.eq(amp - (amp >> s_ad)),
                     amp_cap.eq(hi - lo)]
        m.d.sync += [amp_up_c.eq(Mux(amp_up < 1, 1, Mux(amp_up > amp_cap, amp_cap, amp_up))),
                     amp_dn_c.eq(Mux(amp_dn < 1, 1, Mux(amp_dn > amp_cap, amp_cap, amp_dn)))]
        stop_q = Signal()
        stop_a = Signal()        # candidate-parallel stop rule, registered a cycle before stop_q
        # point-parallel: the lane of the group's next result beat (one beat ahead of res_q, so the
        # K-way select behind res_q starts at a register, not at an incrementer; past the group's
        # last lane it wraps unused)
        ol_nx = Signal(range(max(K, 2)))
        # the result beat is a register (`res_q`), loaded one beat ahead with its end flags: the
        # K-way lane select and the "last point" comparisons stay off the output handshake
        res_q = Signal(L.result)
        out_last = Signal()               # res_q is the run's last point
        ol_last = Signal()                # point-parallel: res_q is the group's last lane

        # "converged" of the best, a register behind its comparison with tol: a best is final from
        # SETUP cycle 0 on and the result is loaded in cycle DECIDE - 1 >= 1, so the flag is current
        assert timing.DECIDE >= 2
        best_conv = Signal()
        m.d.sync += best_conv.eq(best_err <= tol)

        # the point-parallel table: one write port (PP_RANGE reset or SCAN update), a read port for
        # the SCAN addressed by the lane being captured (asynchronous, its data registered with the
        # capture as `pp_e`, so the update starts at a flip-flop, and the capture cycle already
        # computes the lane's next midpoints from it) and one for the results (PP_OUT's next lane,
        # a LUT-RAM read in place of a K-way select)
        if cfg.point_parallel:
            m.submodules.pp_table = pp_tab = Memory(shape=pp_entry, depth=K, init=[])
            pp_wr, pp_rd, pp_out = (pp_tab.write_port(), pp_tab.read_port(domain="comb"),
                                    pp_tab.read_port(domain="comb"))
        else:
            pp_wr = pp_rd = pp_out = SimpleNamespace(addr=Signal(range(max(K, 2))), en=Signal(),
                                                     data=Signal(pp_entry))

        def pp_result():
            """Assignments loading res_q's values from the table's result port."""
            e = pp_out.data
            return [res_q.u.eq(e.best_u), res_q.h.eq(e.best_h), res_q.passes.eq(e.passes),
                    res_q.converged.eq(e.best_err <= tol)]
        cont = Signal()          # SETUP follows a pass (not PINIT): update and test the stop rule
        m.d.comb += amp_eff.eq(Mux(adapt, Mux(improved, amp_up_c, amp_dn_c), amp))
        bl = Signal(range(cfg.dist_bits + 1))
        dspan = Signal(cfg.dist_bits)
        for k in range(cfg.dist_bits):
            with m.If(dspan[k]):
                m.d.comb += bl.eq(k + 1)
        # the lower end of u's range from the row's span (RANGE, PP_RANGE); point-parallel, the
        # range's midpoint is registered beside it (`ppr_mid`, the reset's LANE CAND centre: no
        # adder in front of the K midpoint copies), looked up by the span's bit length
        lo_nx, ppr_mid = Signal(us), Signal(us)
        m.d.comb += lo_nx.eq(-((bl + 2) << U))
        mid_by_bl = Array(C(_wrap((_wrap(-((b + 2) << U), L.u_bits) + hi) >> 1, L.u_bits), us)
                          for b in range(cfg.dist_bits + 1))
        amp0 = Signal(L.u_range_bits)
        m.d.comb += amp0.eq((hi - lo) >> cfg.fwa_amp_init_shift)
        # A0 = max(1, (hi - lo) >> shift): lo <= -(2 << U) (RANGE), so where that bound already
        # gives A0 >= 1 the zero test is left out (it sat behind the subtraction, re-timing)
        amp_init = amp0 if (hi + (2 << U)) >> cfg.fwa_amp_init_shift >= 1 else Mux(amp0 == 0, 1, amp0)

        # a trace beat is the unit's output (valid) in SCAN
        # point-parallel: a lane whose point is done has no trace beat (its scan cycle still passes)
        trace_skip = Signal()
        cap_done = Signal()      # the done flag of the lane being captured
        m.d.comb += cap_done.eq(Array(pdone[l] for l in range(K))[sl])
        if self.trace_en:
            m.d.comb += [trace_skip.eq(pp & cap_done),
                         self.trace_valid.eq(scanning & ru.o.valid & ~trace_skip),
                         stall.eq(self.trace_valid & ~self.trace_ready)]
        m.d.comb += [adv.eq(scanning & ~stall), ru.i.valid.eq(feeding)]
        m.d.sync += [self.tgt_done.eq(0)]
        # point-parallel: lane l's bracket reset (PP_RANGE, cnt = l + PP_RANGE_PIPE) from a one-hot
        # register (the done flag's and midpoint's enables) and the table address beside it
        ppr_sel = Signal(K)
        ppr_any = Signal()       # ppr_sel != 0, registered beside it (no K-input OR before the midpoint)
        ppr_addr = Signal(range(max(K, 2)))
        m.d.sync += [ppr_sel.eq(0), ppr_any.eq(0)]
        # a dist_done of the next point that arrives while this one is searched waits here
        # (WAITD, below, clears it when it takes the row)
        with m.If(self.eng_dist_done):
            m.d.sync += dready.eq(1)
        # one flip-flop per state (hw/onehot.py): the state decodes fan out to wide registers
        fsm = OneHotFSM(m, ["IDLE", "TGT", "PSTART", "WAITD", "PP_RANGE", "RANGE", "PINIT", "SETUP",
                            "STREAM", "DRAIN", "SCAN", "SCAN_PIPE", "OUT", "PP_OUT"]
                        + (["AFFROW"] if self.fused_rows else []), name="search")
        with fsm.State("IDLE"):
            with m.If(self.tgt_start):
                m.d.sync += cnt.eq(0)
                fsm.goto("TGT")
            with m.Elif(self.go):
                m.d.comb += self.eng_point_first.eq(1)
                m.d.sync += [i.eq(0), pseed.eq(self.seed)]
                fsm.goto("PSTART")
        with fsm.State("TGT"):
            m.d.comb += [ru.i.valid.eq(cnt == 0), ru.i.ext.eq(1)]
            m.d.sync += cnt.eq(cnt + 1)
            with m.If(cnt == timing.ROWEND):
                m.d.sync += [target.eq(ru.o.h), self.tgt_done.eq(1)]
                fsm.goto("IDLE")
        with fsm.State("PSTART"):
            m.d.comb += self.eng_point_start.eq(1)
            fsm.goto("WAITD")
        with fsm.State("WAITD"):
            with m.If(dready | self.eng_dist_done):
                m.d.sync += [mrow.eq(self.eng_dmin), dspan.eq(self.eng_dmax - self.eng_dmin), dready.eq(0),
                             cnt.eq(0)]
                with m.If(pp):
                    fsm.goto("PP_RANGE")
                with m.Else():
                    fsm.goto("RANGE")
        # the engine's select is MM_SEL_LATENCY cycles deep: lane cnt's min / max is asked for
        # that many cycles minus one ahead, lane 0 before PP_RANGE (the select rests at 0)
        assert timing.MM_SEL_LATENCY == 3
        m.d.comb += self.eng_mm_sel.eq(Mux(fsm.ongoing("PP_RANGE"), cnt + 2, fsm.entering("PP_RANGE")))
        with fsm.State("PP_RANGE"):
            # lane c's min / max (engine, registered), its span, its u_lo (both registered), then
            # the lane's bracket / best / pass reset: K + PP_RANGE_PIPE cycles
            m.d.sync += [cnt.eq(cnt + 1), dspan.eq(self.eng_sel_max - self.eng_sel_min),
                         lo.eq(lo_nx), ppr_mid.eq(mid_by_bl[bl]),
                         ppr_addr.eq(cnt - (timing.PP_RANGE_PIPE - 1))]
            for l in range(K):
                with m.If(cnt == l + timing.PP_RANGE_PIPE - 1):
                    m.d.sync += [ppr_sel[l].eq(1), ppr_any.eq(1)]
            with m.If(cnt == K - 1 + timing.PP_RANGE_PIPE):
                m.d.sync += [passes.eq(0), cnt.eq(0), cont.eq(0), fwa_pass.eq(0), adapt.eq(0)]
                fsm.goto("SETUP")
        with fsm.State("RANGE"):
            m.d.sync += lo.eq(lo_nx)
            m.d.comb += [bc.prng_load.eq(1), self.eng_point_next.eq(more)]
            fsm.goto("PINIT")
        with fsm.State("PINIT"):
            # the next point's row is computed in the lanes' free cycles while this one is searched
            m.d.comb += self.eng_point_start.eq(more)
            m.d.sync += [blo.eq(lo), bhi.eq(hi), amp.eq(amp_init),
                         best_v.eq(0), passes.eq(0), cnt.eq(0), fwa_pass.eq(0), cont.eq(0),
                         adapt.eq(0)]
            m.d.sync += [v.eq(0) for v in pop_v]
            fsm.goto("SETUP")
        # SETUP's cycles 0 and 1 as flags registered from the state's next value (every entry into
        # SETUP clears cnt, and SETUP never follows itself): the wide per-lane enables of cycle 0
        # (pass counts, stop flags, the amplitude) start at one flip-flop, not at a decode of cnt
        setup0, setup1 = Signal(), Signal()
        m.d.sync += [setup0.eq(fsm.entering("SETUP") & ~fsm.ongoing("SETUP")), setup1.eq(setup0)]
        if self.checks:
            m.d.sync += [Assert(setup0 == (fsm.ongoing("SETUP") & (cnt == 0)), "search: setup0 != (SETUP, cnt 0)"),
                         Assert(setup1 == (fsm.ongoing("SETUP") & (cnt == 1)), "search: setup1 != (SETUP, cnt 1)")]
        # j == 0 and j == n_last as flags beside j: STREAM's exit and the engine's restart start at
        # a flip-flop, not at a comparator in front of the one-hot state register
        j_first = Signal()
        j_last = Signal()
        if self.checks:
            m.d.sync += Assert(~fsm.ongoing("STREAM") | ((j_first == (j == 0)) & (j_last == (j == n_last))),
                               "search: j_first / j_last disagree with j")
        with fsm.State("SETUP"):
            # after a pass, CAND is issued speculatively while the stop rule is registered
            # (cycle 0) and applied (cycle 1): a stop drops the CAND and goes to OUT
            m.d.comb += bc.cand_issue.eq(setup0)
            m.d.sync += cnt.eq(cnt + 1)
            with m.If(setup1):
                # point-parallel: every lane's stop rule was applied by its SCAN update (pdone),
                # so the all-lanes AND is a register-to-register step
                m.d.sync += stop_q.eq(Mux(pp, cont & pdone.all(), stop_a))
            with m.If(setup0):
                m.d.sync += [found.eq(0), sl.eq(0), improved.eq(0), stop_a.eq(cont & stop)]
                with m.If(cont):
                    m.d.sync += [passes.eq(passes_n), amp.eq(amp_eff)]
            with m.If((cnt == timing.DECIDE - 1) & stop_q):
                # the first result beat is registered here (the per-point values are final from
                # SETUP cycle 0 on); the output handshake then reads registers only
                m.d.sync += [ol_nx.eq(1), res_q.index.eq(i), out_last.eq(i == n_last),
                             ol_last.eq(K == 1)]
                with m.If(pp):
                    m.d.sync += pp_result()
                    fsm.goto("PP_OUT")
                with m.Else():
                    m.d.sync += [res_q.u.eq(best_u), res_q.h.eq(best_h), res_q.passes.eq(passes),
                                 res_q.converged.eq(best_conv)]
                    fsm.goto("OUT")
            with m.Elif(cnt == timing.SETUP - 1):
                m.d.sync += [j.eq(0), j_first.eq(1), j_last.eq(n_last == 0)]
                fsm.goto("STREAM")
        with fsm.State("STREAM"):
            m.d.comb += [st_rd.eq(1), self.eng_rd_en.eq(1), self.eng_rd_restart.eq(j_first)]
            m.d.comb += no_grant.eq(st_rd_q)
            m.d.sync += [j.eq(j + 1), j_first.eq(0), j_last.eq(j + 1 == n_last)]
            with m.If(j_last):
                m.d.sync += cnt.eq(0)
                fsm.goto("DRAIN")
        with fsm.State("DRAIN"):
            m.d.comb += no_grant.eq(st_rd_q)
            m.d.sync += cnt.eq(cnt + 1)
            with m.If(cnt == timing.DRAIN - 1):
                m.d.sync += [cnt.eq(0), scanning.eq(1)]
                m.d.comb += feeding_nxt.eq(1)
                fsm.goto("SCAN")
        with fsm.State("SCAN"):
            # cnt: the scan position (advances with the unit); the next (speculative) CAND's
            # multiplier: the last positions of the scan
            m.d.comb += no_grant.eq(cnt + timing.CAND_SCAN_BACK >= nact_last + timing.ROWEND)
            with m.If(adv):
                m.d.sync += cnt.eq(cnt + 1)
                with m.If(cnt == nact_last):
                    m.d.comb += feeding_nxt.eq(0)
                with m.If(ru.o.valid):
                    m.d.sync += [sl.eq(sl + 1), q_v.eq(1), q_u.eq(su), q_h.eq(sh), q_sl.eq(sl), q_oh.eq(1 << sl),
                                 q_gt.eq(diff > 0), err.eq(Mux(diff < 0, -diff, diff))]
                    with m.If(sl == nact_last):
                        m.d.sync += scanning.eq(0)
                        fsm.goto("SCAN_PIPE")
        with fsm.State("SCAN_PIPE"):        # the last lane's update (below) lands in this cycle
            # the lanes' PRNGs step now, so the next SETUP's (speculative) CAND sees it
            m.d.comb += bc.prng_step.eq(is_fwa)
            m.d.sync += [cnt.eq(0), fwa_pass.eq(is_fwa), cont.eq(1), adapt.eq(is_fwa & (passes != 0))]
            fsm.goto("SETUP")
        with fsm.State("OUT"):
            m.d.comb += self.out_valid.eq(1)
            if not self.fused_rows:
                with m.If(self.out_ready):
                    with m.If(out_last):
                        m.d.comb += self.all_done.eq(1)
                        fsm.goto("IDLE")
                    with m.Else():
                        m.d.sync += [i.eq(i + 1), pseed.eq(pseed + sf.SEED_POINT_STEP)]
                        fsm.goto("WAITD")
            else:
                with m.If(self.out_ready):
                    with m.If(self.fuse):
                        # the point's affinity row next (its row, m_i and u are still here)
                        m.d.comb += [self.aff_row_go.eq(1), self.aff_row_first.eq(i == 0)]
                        fsm.goto("AFFROW")
                    with m.Elif(out_last):
                        m.d.comb += self.all_done.eq(1)
                        fsm.goto("IDLE")
                    with m.Else():
                        fsm.goto("WAITD")
                    with m.If(~out_last):
                        m.d.sync += [i.eq(i + 1), pseed.eq(pseed + sf.SEED_POINT_STEP)]
        if self.fused_rows:
            m.d.comb += [self.aff_row_u.eq(res_q.u), self.aff_row_m.eq(mrow)]
            with fsm.State("AFFROW"):
                m.d.comb += self.aff_row.eq(1)
                with m.If(self.aff_row_done):
                    with m.If(out_last):
                        m.d.comb += self.all_done.eq(1)
                        fsm.goto("IDLE")
                    with m.Else():
                        fsm.goto("WAITD")
        with fsm.State("PP_OUT"):
            # one result per point of the group, in index order
            m.d.comb += self.out_valid.eq(1)
            with m.If(self.out_ready):
                with m.If(out_last):
                    m.d.comb += self.all_done.eq(1)
                    fsm.goto("IDLE")
                with m.Elif(ol_last):
                    m.d.comb += self.eng_point_next.eq(1)
                    m.d.sync += i.eq(i + K)
                    fsm.goto("PSTART")
                with m.Else():
                    # the next beat from the next lane, and its end flags, one beat ahead
                    m.d.sync += [ol_nx.eq(ol_nx + 1), res_q.index.eq(res_q.index + 1),
                                 out_last.eq(res_q.index + 1 == n_last), ol_last.eq(ol_nx == K - 1)]
                    m.d.sync += pp_result()
        # ------------------------------------------------------------ scan update (one cycle after capture)
        # point-parallel: lane q_sl's own bisection step (skipped once it is done), read from the
        # table in the capture cycle, written back here with the pass counted and the lane's stop
        # rule applied (as the next SETUP would: the best, the bracket and the old pass count)
        # The table entry, the lane's done flag and both possible midpoints (the new u above or
        # below the target) are read and computed in the capture cycle and registered every cycle
        # (used only after a capture): the update picks one midpoint by q_gt (no adder, comparator
        # or K-input reduction between the registers and the K `pp_centre` copies). The done flag
        # taken at the capture is still the lane's at its update: a lane's flag changes only at
        # PP_RANGE and one cycle after the lane's own update, once per scan.
        e = Signal(pp_entry, name="pp_e")
        cap_u = Signal(us)
        q_mid_up, q_mid_dn, q_done = Signal(us), Signal(us), Signal()
        m.d.comb += cap_u.eq(su)
        m.d.sync += [e.eq(pp_rd.data), q_done.eq(cap_done),
                     q_mid_up.eq((cap_u + pp_rd.data.bhi) >> 1), q_mid_dn.eq((pp_rd.data.blo + cap_u) >> 1)]
        pp_upd = Signal()
        m.d.comb += pp_upd.eq(q_v & pp & ~q_done)
        better = ~e.bv | (err < e.best_err)
        n_blo, n_bhi, n_err = Signal(us), Signal(us), Signal(EB)
        m.d.comb += [n_blo.eq(Mux(q_gt, q_u, e.blo)), n_bhi.eq(Mux(q_gt, e.bhi, q_u)),
                     n_err.eq(Mux(better, err, e.best_err))]
        # the stop rule on the written entry, its terms side by side (each comparison on both
        # candidates, the choice after them: no comparator behind a multiplexer behind a
        # comparator) and registered; the done flag is set one cycle later (pp_stop_q), still
        # before SETUP's second cycle reads the flags (the last lane's update lands in SCAN_PIPE)
        pp_stop = Signal()
        m.d.comb += pp_stop.eq(Mux(better, tol >= err, tol >= e.best_err) | (e.passes >= cfg.max_passes - 1) |
                               Mux(q_gt, bracket_narrow(m, q_u, e.bhi, "pp_span_up"),
                                   bracket_narrow(m, e.blo, q_u, "pp_span_dn")))
        pp_stop_q = Signal()
        pp_stop_oh = Signal(K)      # the lane of pp_stop_q
        m.d.sync += [pp_stop_q.eq(pp_upd & pp_stop), pp_stop_oh.eq(q_oh)]
        m.d.comb += [pp_rd.addr.eq(sl), pp_out.addr.eq(Mux(fsm.ongoing("PP_OUT"), ol_nx, 0))]
        with m.If(ppr_any):
            m.d.comb += [pp_wr.en.eq(1), pp_wr.addr.eq(ppr_addr), pp_wr.data.blo.eq(lo),
                         pp_wr.data.bhi.eq(hi)]
        with m.Elif(pp_upd):
            m.d.comb += [pp_wr.en.eq(1), pp_wr.addr.eq(q_sl), pp_wr.data.blo.eq(n_blo),
                         pp_wr.data.bhi.eq(n_bhi), pp_wr.data.best_u.eq(Mux(better, q_u, e.best_u)),
                         pp_wr.data.best_h.eq(Mux(better, q_h, e.best_h)), pp_wr.data.best_err.eq(n_err),
                         pp_wr.data.bv.eq(1), pp_wr.data.passes.eq(e.passes + 1)]
        # the written entry's midpoint (the lane's next LANE CAND) and done flag
        centre = Signal(us)
        m.d.comb += centre.eq(Mux(ppr_any, ppr_mid, Mux(q_gt, q_mid_up, q_mid_dn)))
        ppr_done = Signal()
        m.d.comb += ppr_done.eq(self.n - i <= ppr_addr)
        for l in range(K):
            with m.If(ppr_sel[l]):
                m.d.sync += [pcentre[l].eq(centre), pdone[l].eq(ppr_done)]
            with m.If(q_oh[l] & pp_upd):
                m.d.sync += pcentre[l].eq(centre)
            with m.If(pp_stop_oh[l] & pp_stop_q):
                m.d.sync += pdone[l].eq(1)
        with m.If(q_v & ~pp):
            m.d.sync += prev_u.eq(q_u)
            with m.If(~best_v | (err < best_err)):
                m.d.sync += [best_v.eq(1), best_u.eq(q_u), best_h.eq(q_h), best_err.eq(err)]
            with m.Switch(self.policy):
                with m.Case(P_BISECT):
                    with m.If(q_gt):
                        m.d.sync += blo.eq(q_u)
                    with m.Else():
                        m.d.sync += bhi.eq(q_u)
                with m.Case(P_KSEC):
                    with m.If(~found):
                        with m.If(~q_gt):
                            m.d.sync += [found.eq(1), bhi.eq(q_u)]
                            with m.If(q_sl != 0):
                                m.d.sync += blo.eq(prev_u)
                        with m.Elif(q_sl == K - 1):
                            m.d.sync += blo.eq(q_u)
                with m.Case(P_FWA):
                    with m.If(~dup):
                        for k in range(nf):
                            with m.If(lt[k]):
                                if k == 0:
                                    m.d.sync += [pop_u[0].eq(q_u), pop_err[0].eq(err), pop_v[0].eq(1),
                                                 improved.eq(1)]
                                else:
                                    with m.If(lt[k - 1]):
                                        m.d.sync += [pop_u[k].eq(pop_u[k - 1]), pop_err[k].eq(pop_err[k - 1]),
                                                     pop_v[k].eq(pop_v[k - 1])]
                                    with m.Else():
                                        m.d.sync += [pop_u[k].eq(q_u), pop_err[k].eq(err), pop_v[k].eq(1)]

        m.d.comb += [self.eng_grant.eq(~no_grant), self.eng_rd_half.eq(i[0])]

        m.d.comb += self.out_payload.eq(res_q)
        return m
