"""Outer FWA over log2 perplexity in RTL (MODE 3 on a core generated with ``perplexity_search =
"fwa"``; twin of the FWA part of `golden_model.entropy_fixed.choose_perplexity_fixed`).

`PerpFwa` keeps every evaluation ``(perp register, entropy h, v = log2 perp)`` (``v`` is the search
controller's target ``log2 PERP``, computed by its TGT for that candidate: the golden model's
``log2_fixed(pq, perp_frac)``), and, called by `hw.select.SelectUnit` after the candidate list
(``step``), runs ``cfg.perplexity_fwa_iters`` iterations:

``INIT``   (first step) ``width = max(1, v_hi - v_lo)``, ``A = max(1, width >> fwa_amp_init_shift)``,
           PRNG states ``lane_seed(SEED ^ PERP_FWA_STREAM, 0, r)``;
``ITER``   best entropy at the iteration start latched (``before``); ``nf = min(fwa_fireworks, E)``
           with ``E`` the evaluations so far;
``RANK``   ``nf`` scans over the ``E`` evaluations, one per cycle: the largest ``h`` not taken yet,
           ties -> the smaller register (``E`` cycles per scan);
``GEN``    per firework ``r`` (``GEN_CYCLES`` each): state advanced (xorshift32), ``x = v_r +
           floor((A << r rank_shift) s16 / 2^15)`` reflected once into ``[v_lo, v_hi]`` and clamped,
           ``2^x`` as `entropy_fixed.perp_from_log2` on an own `hw.arith.FunctionUnit` (EXP),
           clamped to ``[p_lo, p_hi]``;
``CHECK``  per spark in order: already evaluated (this iteration's sparks included) -> skipped (one
           cycle); else ``spark`` pulses with ``pq`` and the unit waits (``WAIT``) for the next
           ``step``, which comes after that candidate's run and DECIDE;
``AMP``    ``A += A >> s`` if the best entropy rose in the iteration, else ``A -= A >> s``, clamped to
           ``[1, width]``; ``fin`` pulses after the last iteration.

Cycles: `golden_model.select_schedule` (``FWA_*``).
"""

from __future__ import annotations

from amaranth.hdl import C, Cat, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from golden_model import search_fixed as sf
from golden_model.config import AccelConfig, bit_length
from golden_model.entropy_fixed import PERP_FWA_STREAM
from golden_model.select_schedule import FWA_GEN_CYCLES

from .arith import FU_LATENCY, FunctionUnit, FuOp

__all__ = ["PerpFwa", "fwa_entries", "exp_op"]


def fwa_entries(cfg: AccelConfig) -> int:
    """Most evaluations of one class: the candidate list and one spark per firework per iteration."""
    return len(cfg.perplexity_candidates) + cfg.perplexity_fwa_iters * cfg.fwa_fireworks


def exp_op(cfg: AccelConfig):
    """(FuOp, fraction bits) of the function unit's exp2 op used for ``2^-g`` (g in Q.h_frac): one
    whose fraction has at least h_frac bits (then the table lookup equals the golden model's), or
    None (MODE 3 with the outer FWA is then refused, error code MODE)."""
    for op, fr in ((FuOp.EXP_T, cfg.t_frac), (FuOp.EXP_U, cfg.u_frac)):
        if fr >= cfg.h_frac:
            return op, fr
    return None


def _xorshift32(s):
    """One xorshift32 step (13, 17, 5) as an expression on a 32-bit value."""
    a = (s ^ (s << 13))[:32]
    b = a ^ (a >> 17)
    return (b ^ (b << 5))[:32]


class PerpFwa(wiring.Component):
    """Outer FWA controller (module doc).

    Attributes
    ----------
    begin : In(1)
        An accepted START: no evaluations, not started.
    rec : In(1), rec_pq, rec_h, rec_v : In
        Record an evaluation (a candidate's DECIDE).
    best_h : In(signed)
        The best entropy so far (`SelectUnit`'s register).
    seed : In(32)
        SEED register of the run.
    step : In(1)
        Continue: the first step initialises; later ones follow each spark's evaluation.
    spark : Out(1), pq : Out(perp_bits)
        Pulse: evaluate ``pq`` (held until the next spark).
    fin : Out(1)
        Pulse: no iteration left.
    """

    def __init__(self, cfg: AccelConfig, h_bits: int, v_bits: int):
        self.cfg, self.hb, self.vb = cfg, h_bits, v_bits
        self.E = fwa_entries(cfg)
        super().__init__({
            "begin": In(1), "rec": In(1), "rec_pq": In(cfg.perp_bits), "rec_h": In(signed(h_bits)),
            "rec_v": In(v_bits), "best_h": In(signed(h_bits)), "seed": In(32),
            "step": In(1), "spark": Out(1), "pq": Out(cfg.perp_bits), "fin": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        cfg, E, F = self.cfg, self.E, self.cfg.fwa_fireworks
        PB, HB, VB = cfg.perp_bits, self.hb, self.vb
        Hf, W, PF = cfg.h_frac, cfg.w_frac, cfg.perp_frac
        eb = bit_length(E)
        e_pq = [Signal(PB, name=f"e_pq{i}") for i in range(E)]
        e_h = [Signal(signed(HB), name=f"e_h{i}") for i in range(E)]
        e_v = [Signal(VB, name=f"e_v{i}") for i in range(E)]
        cnt = Signal(range(E + 1))
        p_lo, p_hi = Signal(PB), Signal(PB)
        v_lo, v_hi = Signal(VB), Signal(VB)
        with m.If(self.rec):
            with m.Switch(cnt):
                for i in range(E):
                    with m.Case(i):
                        m.d.sync += [e_pq[i].eq(self.rec_pq), e_h[i].eq(self.rec_h), e_v[i].eq(self.rec_v)]
            m.d.sync += cnt.eq(cnt + 1)
            with m.If((cnt == 0) | (self.rec_pq < p_lo)):
                m.d.sync += [p_lo.eq(self.rec_pq), v_lo.eq(self.rec_v)]
            with m.If((cnt == 0) | (self.rec_pq > p_hi)):
                m.d.sync += [p_hi.eq(self.rec_pq), v_hi.eq(self.rec_v)]
        with m.If(self.begin):
            m.d.sync += cnt.eq(0)

        # amplitude, PRNG states, fireworks, sparks
        ab = VB + (F - 1) * cfg.fwa_amp_rank_shift + 1
        width, A = Signal(VB + 1), Signal(VB + 1)
        states = [Signal(32, name=f"st{r}") for r in range(F)]
        fv = [Signal(VB, name=f"fv{r}") for r in range(F)]
        sp = [Signal(PB, name=f"sp{r}") for r in range(F)]
        nf = Signal(range(F + 1))
        r = Signal(range(F + 1))
        i = Signal(range(E + 1))
        it = Signal(range(cfg.perplexity_fwa_iters + 1))
        before = Signal(signed(HB))
        taken = Signal(E)
        found = Signal()
        bh, bpq, bv, bi = Signal(signed(HB)), Signal(PB), Signal(VB), Signal(range(E))
        cc = Signal(range(FWA_GEN_CYCLES + 1))

        op = exp_op(cfg)
        m.submodules.fu = fu = FunctionUnit(cfg)
        s0 = Signal(32)
        m.d.comb += s0.eq(self.seed ^ PERP_FWA_STREAM)

        # RANK: entry i against the best so far (comb), the scan's winner in its last cycle
        eh, epq, ev = Signal(signed(HB)), Signal(PB), Signal(VB)
        with m.Switch(i):
            for k in range(E):
                with m.Case(k):
                    m.d.comb += [eh.eq(e_h[k]), epq.eq(e_pq[k]), ev.eq(e_v[k])]
        better = Signal()
        m.d.comb += better.eq(~taken.bit_select(i, 1) & (~found | (eh > bh) | ((eh == bh) & (epq < bpq))))
        nbv, nbi = Signal(VB), Signal(range(E))
        m.d.comb += [nbv.eq(Mux(better, ev, bv)), nbi.eq(Mux(better, i, bi))]

        # GEN datapath for firework r
        st_r, fv_r = Signal(32), Signal(VB)
        with m.Switch(r):
            for k in range(F):
                with m.Case(k):
                    m.d.comb += [st_r.eq(states[k]), fv_r.eq(fv[k])]
        s16 = st_r[16:32].as_signed()
        a_r = Signal(ab)
        with m.Switch(r):
            for k in range(F):
                with m.Case(k):
                    m.d.comb += a_r.eq(A << (k * cfg.fwa_amp_rank_shift))
        xw = max(VB, ab) + 4
        x0 = Signal(signed(xw))
        m.d.comb += x0.eq(fv_r.as_signed() + ((a_r.as_signed() * s16) >> 15))
        xr = Signal(signed(xw))
        x1 = Mux(x0 > v_hi, 2 * v_hi - x0, Mux(x0 < v_lo, 2 * v_lo - x0, x0))
        xc = Mux(x1 > v_hi, v_hi, Mux(x1 < v_lo, v_lo, x1))
        x = xr.as_unsigned()[:VB + 1]
        vi = Signal(VB - Hf + 2)
        m.d.comb += vi.eq((x + (1 << Hf) - 1) >> Hf)
        g = Signal(Hf)
        m.d.comb += g.eq((vi << Hf) - x)
        t = Signal(range(VB + PF + 2))                  # vi + perp_frac: 2^x = mant 2^(t - W)
        m.d.comb += t.eq(vi + PF)
        mant = fu.o_y[:W + 1]
        up_max = max(1, VB + PF + 1 - W)
        up_sh, dn_m1 = Signal(range(up_max + 1)), Signal(range(W))
        m.d.comb += [up_sh.eq(Mux(t >= W, t - W, 0)), dn_m1.eq(Mux(t < W, W - 1 - t, 0))]
        pq_raw = Signal(W + 1 + up_max)
        # t < W: round to nearest (add half an LSB of the result, then shift), as perp_from_log2
        m.d.comb += pq_raw.eq(Mux(t >= W, mant << up_sh, (mant + (C(1, W + 1) << dn_m1)) >> (dn_m1 + 1)))
        pq_c = Mux(pq_raw > p_hi, p_hi, Mux(pq_raw < p_lo, p_lo, pq_raw))

        # CHECK: is spark r already evaluated?
        spr = Signal(PB)
        with m.Switch(r):
            for k in range(F):
                with m.Case(k):
                    m.d.comb += spr.eq(sp[k])
        cached = Signal()
        m.d.comb += cached.eq(Cat(*[(e_pq[k] == spr) & (k < cnt) for k in range(E)]).any())
        m.d.comb += self.pq.eq(spr)

        with m.FSM(name="fwa"):
            with m.State("IDLE"):
                with m.If(self.step):
                    wd = Mux(v_hi - v_lo > 1, v_hi - v_lo, 1)
                    m.d.sync += [width.eq(wd), A.eq(Mux((wd >> cfg.fwa_amp_init_shift) > 1,
                                                        wd >> cfg.fwa_amp_init_shift, 1)), it.eq(0)]
                    for k in range(F):
                        sk = (s0 + (k + 1) * sf.SEED_LANE_STEP)[:32]
                        m.d.sync += states[k].eq(Mux(sk == 0, 1, sk))
                    m.next = "ITER"
            with m.State("ITER"):
                with m.If(it == cfg.perplexity_fwa_iters):
                    m.d.comb += self.fin.eq(1)
                    m.next = "DONE"
                with m.Else():
                    m.d.sync += [before.eq(self.best_h), nf.eq(Mux(cnt < F, cnt, F)), r.eq(0), i.eq(0),
                                 taken.eq(0), found.eq(0)]
                    m.next = "RANK"
            with m.State("RANK"):
                m.d.sync += i.eq(i + 1)
                with m.If(better):
                    m.d.sync += [found.eq(1), bh.eq(eh), bpq.eq(epq), bv.eq(ev), bi.eq(i)]
                with m.If(i == cnt - 1):
                    with m.Switch(r):
                        for k in range(F):
                            with m.Case(k):
                                m.d.sync += fv[k].eq(nbv)
                    m.d.sync += [taken.eq(taken | (C(1, E) << nbi)), found.eq(0), i.eq(0), r.eq(r + 1)]
                    with m.If(r + 1 == nf):
                        m.d.sync += [r.eq(0), cc.eq(0)]
                        m.next = "GEN"
            with m.State("GEN"):
                # cc 0: state advanced; 1: x registered; 2: EXP issued; 2 + FUL: spark registered
                m.d.sync += cc.eq(cc + 1)
                with m.If(cc == 0):
                    with m.Switch(r):
                        for k in range(F):
                            with m.Case(k):
                                m.d.sync += states[k].eq(_xorshift32(states[k]))
                with m.If(cc == 1):
                    m.d.sync += xr.eq(xc)
                with m.If(cc == 2):
                    m.d.comb += [fu.i_valid.eq(1), fu.i_op.eq(op[0]), fu.i_frac.eq(g << (op[1] - Hf))]
                with m.If(cc == 2 + FU_LATENCY):
                    with m.Switch(r):
                        for k in range(F):
                            with m.Case(k):
                                m.d.sync += sp[k].eq(pq_c)
                    m.d.sync += [cc.eq(0), r.eq(r + 1)]
                    with m.If(r + 1 == nf):
                        m.d.sync += r.eq(0)
                        m.next = "CHECK"
            with m.State("CHECK"):
                with m.If(r == nf):
                    m.next = "AMP"
                with m.Elif(cached):
                    m.d.sync += r.eq(r + 1)
                with m.Else():
                    m.d.comb += self.spark.eq(1)
                    m.next = "WAIT"
            with m.State("WAIT"):
                with m.If(self.step):
                    m.d.sync += r.eq(r + 1)
                    m.next = "CHECK"
            with m.State("AMP"):
                s = cfg.fwa_amp_adapt_shift
                an = Mux(self.best_h > before, A + (A >> s), A - (A >> s))
                m.d.sync += [A.eq(Mux(an < 1, 1, Mux(an > width, width, an))), it.eq(it + 1)]
                m.next = "ITER"
            with m.State("DONE"):
                with m.If(self.begin):
                    m.next = "IDLE"
        with m.If(self.begin):
            m.d.sync += it.eq(0)
        assert FWA_GEN_CYCLES == 3 + FU_LATENCY
        return m
