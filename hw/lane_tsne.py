"""The lane's t-SNE datapath: ops ``tpair``, ``trecip``, ``tscan`` (stages in `golden_model.timing`).

Bit-exact with `golden_model.tsne_fixed.forces` (per pair) and its constants:

``tpair``  in the pair format (`tsne_fixed.pair_y`: the engine broadcasts 17-bit ``y^``, and the
           iteration's shifts ``d2sh``, ``fsh``): ``dx = y^_i - y^_j`` (18 bits signed);
           ``d2 = floor((dx^2 + dy^2) 2^(W - 2F))`` (M0, M1, one shifter); ``1 + d2 = 2^(e+W) (1 + m)``
           (normaliser), ``r = recip(m)`` (function unit); ``Zq += (r << (Q-W)) >> e``;
           ``sr = S r >> P``, ``r2 = r r >> W`` (M2, M3); ``A += floor(sr dx 2^-(W+e+F-G))``,
           ``R += floor(r2 dx 2^-(W+2e+F-G))``: x on M2, M3, y on M0, M1, one pair of shifters.
``trecip`` ``p`` and ``recip(m)`` of an external operand ``x = 2^p (1 + m)`` (N and Zq, lane 0).
``tnext``  latch the broadcast ``y^_j`` as the next block's ``y^_i``; ``tload`` make it ``y^_i``.
``tzsnap`` the live Zq into the snapped Zq register ``szq``, cleared; ``tsnap`` the live A, R into
           the scan registers, cleared (each in the stage after its last ``tpair`` write, so a
           snap issued with a block's last slot takes that block's sums and none of the next
           one's; the last block's ``tzsnap`` comes with its last ring step).
``tscan``  shift the scan registers ``(Zq, A, R)`` one lane towards lane 0 (the last lane takes
           the controller's zeros).

Widths (all from `AccelConfig`) are in `TsneWidths`.  The lane's four multipliers M0 .. M3
(`narrow_multiplier`: operand registers, product register; signed 18 x unsigned 17 bits, one
18 x 18 DSP each) carry ``tpair``; M0 and M1 together are the wide TMW (``kprob``, ``tmul``:
the signed operand split at bit 17, the partial products summed in a third stage).  The update
slices keep their own wide TM0 / TM1 (`tm_multiplier`).
"""

from __future__ import annotations

from amaranth.hdl import Cat, C, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from golden_model import timing
from golden_model import tsne_fixed as tf
from golden_model import tsne_schedule as ts
from golden_model.config import AccelConfig, bit_length

from .arith import FuOp, leading_one
from .opchain import steer

__all__ = ["TsneWidths", "tsne_ops_signature", "update_signature", "tscan_signature", "TsneLaneMixin", "SPLIT",
           "tm_multiplier", "narrow_multiplier", "pair_constants"]

SPLIT = 17   # operand split of every multiplier (an 18 x 18 signed DSP takes 17 unsigned bits)


def pair_constants(cfg: AccelConfig, shift: int) -> tuple:
    """The iteration constants the engine broadcasts for pair shift ``shift``: ``(d2sh, fsh)``,
    the d2 shift ``2F - W`` and the force shift base ``W + F - G`` (``F = y_frac - shift``), each
    offset by the constant left shift that makes it non-negative (`TsneWidths.lq`, ``lf``)."""
    tw = TsneWidths(cfg)
    F = cfg.y_frac - shift
    return 2 * F - cfg.w_frac + tw.lq, cfg.w_frac + F - cfg.grad_frac + tw.lf


class TsneWidths:
    """Every width of the t-SNE datapath, derived from the configuration."""

    def __init__(self, cfg: AccelConfig):
        W, P, Y, Q, G = cfg.w_frac, cfg.p_frac, cfg.y_frac, cfg.q_frac, cfg.grad_frac
        self.yb = 1 + cfg.y_int_bits + Y               # signed y, v
        self.dxb = self.yb + 1                         # signed y_i - y_j at full width (the update slices' aw)
        self.adx = self.yb
        self.aw = max(self.dxb, P + 2, W + 2, 32)      # TM operand a, signed (>= 32: `timing.TUPD_MULS`)
        self.bw = max(SPLIT, self.adx - SPLIT, W + 1)  # TM operand b, unsigned
        self.pw = self.aw + self.bw                    # TM product, signed
        # the pair format (`tsne_fixed.pair_y`): y^ signed PAIR_BITS, dx one more, |dx| PAIR_BITS
        self.pyb = tf.PAIR_BITS
        self.pdxb = self.pyb + 1
        self.na, self.nbw = SPLIT + 1, SPLIT           # narrow multiplier: signed 18 x unsigned 17
        self.npw = self.na + self.nbw                  # its product, signed
        smax = tf.pair_shift_max(cfg)
        # d2 = floor(ss 2^-(2F - W)), F = Y - s, s in [0, smax]: ss << lq >> d2sh with d2sh >= 0
        self.lq = max(0, W - 2 * (Y - smax))
        self.d2sh_max = 2 * Y - W + self.lq
        self.ssb = 2 * tf.PAIR_BITS + 1                # dx^2 + dy^2 < 2^(2 PAIR_BITS + 1)
        self.sqb = self.ssb + self.lq                  # d2
        # force terms: floor(prod 2^-(W + F - G + k e)) = (prod << lf) >> (fsh + k e), fsh >= 0
        self.lf = max(0, G - W - (Y - smax))
        self.fsh_max = W + Y - G + self.lf
        self.zq_total = Q + 1 + 2 * cfg.count_bits     # Zq of a pass (n_max^2 terms <= 2^Q)
        self.nb = max(self.sqb + 1, W + 1) + 1         # 2^W + d2
        self.nin = max(self.nb, self.zq_total, cfg.count_bits)
        self.zql = Q + 1 + cfg.count_bits              # a lane's Zq partial (n_max terms)
        self.accb = cfg.y_int_bits + 3 + G + cfg.count_bits
        # a force term floor((prod << lf) 2^-s) is a signed tb-bit value (the shifters' input
        # width); sums of at most n terms (and as many sticky bits) need tb + bitlen(n) bits: the
        # visitor ring's (K div 2 ring steps) and the j-side adder tree's (K lanes), at most accb
        # (every sum is taken modulo 2^accb: the final ones fit, so any partial sum may wrap)
        self.tb = self.npw + self.lf
        self.termb = min(self.tb, self.accb)           # a term as the sums see it
        self.ringb = min(self.accb, self.termb + bit_length(max(1, cfg.lanes // 2)))
        self.jtreeb = min(self.accb, self.termb + bit_length(cfg.lanes))
        self.rb = W + 1
        self.gb = cfg.y_int_bits + G + 1               # gradient, signed
        self.gainb = cfg.gain_int_bits + cfg.gain_frac
        self.cab = 7 + W                               # ca = ex rn >> coef_frac < 2^(7 + W) (ex < 2^(coef_frac+7))
        self.lrb = cfg.coef_frac + 17                  # learning-rate register


def update_signature(cfg: AccelConfig) -> wiring.Signature:
    """t-SNE controller -> update slice (`hw.tsne_update`): ``tupd`` (``upd``: one point's A, R,
    y, v, gains and the iteration's constants, `hw.lane_tupd`); back: the results ``uy*``,
    ``uv*``, ``ug*``, valid ``latency("tupd")`` cycles after the issue."""
    tw = TsneWidths(cfg)
    acc, ys = signed(tw.accb), signed(tw.yb)
    upd = {"issue": Out(1), "a0": Out(acc), "a1": Out(acc), "r0": Out(acc), "r1": Out(acc),
           "y0": Out(ys), "y1": Out(ys), "v0": Out(ys), "v1": Out(ys), "g0": Out(tw.gainb), "g1": Out(tw.gainb),
           "ca": Out(tw.cab), "kn": Out(range(tw.nin + cfg.w_frac + 1)), "kzr": Out(range(tw.nin + cfg.w_frac + 1)),
           "kzl": Out(range(cfg.q_frac + 3)), "kneg": Out(1), "zq0": Out(1), "rz": Out(tw.rb),
           "mom": Out(cfg.coef_frac), "lr": Out(tw.lrb)}
    return wiring.Signature({"upd": Out(wiring.Signature(upd)),
                             "uy0": In(ys), "uy1": In(ys), "uv0": In(ys), "uv1": In(ys), "ug0": In(tw.gainb),
                             "ug1": In(tw.gainb)})


def tm_multiplier(m, tw: "TsneWidths", name: str):
    """A wide TM multiplier (TM0 / TM1 of an update slice): operand registers (enabled by
    ``en``), partial products of the signed operand split at `SPLIT` bits, their sum; the product
    is there ``len(timing.TM0)`` cycles after the operands.  Returns ``(a, b, en, prod)``."""
    a, b, en = Signal(signed(tw.aw), name=f"{name}_a"), Signal(tw.bw, name=f"{name}_b"), Signal(name=f"{name}_en")
    a_q, b_q = Signal.like(a, name=f"{name}_aq"), Signal.like(b, name=f"{name}_bq")
    with m.If(en):
        m.d.sync += [a_q.eq(a), b_q.eq(b)]
    parts = []
    for k in range(0, tw.aw, SPLIT):
        hi = min(tw.aw, k + SPLIT)
        ch = a_q[k:hi].as_signed() if hi == tw.aw else a_q[k:hi]
        p = Signal(signed(hi - k + tw.bw + 1), name=f"{name}_p{k}")
        m.d.sync += p.eq(ch * b_q)
        parts.append((k, p))
    prod = Signal(signed(tw.pw), name=f"{name}_prod")
    m.d.sync += prod.eq(sum(p << k for k, p in parts))
    return a, b, en, prod


def narrow_multiplier(m, tw: "TsneWidths", name: str):
    """M0 or M1 of a lane: operand registers (enabled by ``en``; ``a`` signed 18 bits, ``b``
    unsigned 17), the product register: the product is there two cycles after the operands (one
    18 x 18 DSP).  Returns ``(a, b, en, prod)``.  (M2 and M3 are the search's multipliers, MULA
    and the t w multiplier of `hw.lane`: `timing.TPAIR_MULS`.)"""
    a, b, en = Signal(signed(tw.na), name=f"{name}_a"), Signal(tw.nbw, name=f"{name}_b"), Signal(name=f"{name}_en")
    a_q, b_q = Signal.like(a, name=f"{name}_aq"), Signal.like(b, name=f"{name}_bq")
    with m.If(en):
        m.d.sync += [a_q.eq(a), b_q.eq(b)]
    prod = Signal(signed(tw.npw), name=f"{name}_prod")
    m.d.sync += prod.eq(a_q * b_q)
    return a, b, en, prod


def tsne_ops_signature(cfg: AccelConfig) -> wiring.Signature:
    """t-SNE controller -> lane: ``tpair`` (``y^_j`` and ``S_ij`` of this lane's bank, read in
    the issue stage; the iteration's shifts ``d2sh``, ``fsh``, stable through a pass),
    ``trecip`` (external operand), ``tscan``, ``tmul`` (TMW on external operands); back: the
    ``trecip`` result ``p``, ``r`` (valid ``latency("trecip")`` cycles after the issue), the
    ``tmul`` product ``prod``, the snapped Zq partial ``szq`` (the engine's Zq tree reads it) and,
    with ``tsne_symmetric``, the pair's force terms ``jfa``, ``jfr``
    (``floor(sr dx / 2^sa)``, ``floor(r2 dx / 2^sb)``; x in ``tpair``'s first ``tacc`` stage, y in
    the next, ``jv`` high in both) and their sticky bits ``jstka``, ``jstkr`` (the shifted-out bits
    are not all zero), from which the engine forms the j-side terms ``-t - sticky`` (for its visitor
    sums also as registers ready to add, ``jna``, ``jnr`` = ``~t`` and ``jca``, ``jcr`` = ``~sticky``
    when ``jv``, else all ones and 1: ``base - t - sticky = base + jn + jc`` with the carry in at
    bit 0), and the latched next ``y_i`` ``yn0``, ``yn1`` (the engine's visitor ring starts from
    them).  (The update
    is not a lane op: `update_signature`.)"""
    tw = TsneWidths(cfg)
    # symmetric dataflow: the pair's force terms as the lane accumulates them (x in the first tacc
    # stage, y in the next, ``jv`` high in both) and their sticky bits, for the j-side sums
    # and the latched next y_i (``tnext``), from which the engine's visitor ring takes its y's
    jside = {} if not cfg.tsne_symmetric else {
        "jfa": In(signed(tw.accb)), "jfr": In(signed(tw.accb)), "jstka": In(1), "jstkr": In(1), "jv": In(1),
        "jna": In(tw.ringb), "jnr": In(tw.ringb), "jca": In(1), "jcr": In(1), "jring": Out(1),
        "yn0": In(signed(tw.pyb)), "yn1": In(signed(tw.pyb))}
    return wiring.Signature({
        **jside,
        "mul": Out(wiring.Signature({"issue": Out(1), "a": Out(signed(tw.aw)), "b": Out(tw.bw)})),
        "prod": In(signed(tw.pw)),
        "pair": Out(wiring.Signature({"issue": Out(1), "y0": Out(signed(tw.pyb)), "y1": Out(signed(tw.pyb)),
                                      "s": Out(cfg.p_frac + 1), "d2sh": Out(range(tw.d2sh_max + 1)),
                                      "fsh": Out(range(tw.fsh_max + 1))})),
        "recip": Out(wiring.Signature({"issue": Out(1), "x": Out(tw.nin)})),
        "next": Out(1), "load": Out(1), "zsnap": Out(1), "snap": Out(1), "scan": Out(1),
        "p": In(range(tw.nin + 1)), "r": In(tw.rb),
        "szq": In(tw.zql),
    })


def tscan_signature(cfg: AccelConfig) -> wiring.Signature:
    """A lane's scan registers: the pass sums of its last block (A, R), taken by ``tsnap`` and
    shifted towards lane 0 by ``tscan`` (its Zq partial stays in the lane: ``szq``)."""
    tw = TsneWidths(cfg)
    acc = signed(tw.accb)
    return wiring.Signature({"ax": Out(acc), "ay": Out(acc), "rx": Out(acc), "ry": Out(acc)})


class TsneLaneMixin:
    """Mixed into `hw.lane.Lane`: builds the t-SNE stages; returns the function-unit drives."""

    def _elaborate_tsne(self, m, v, fu, delayed):
        cfg = self.cfg
        W, P, Q = cfg.w_frac, cfg.p_frac, cfg.q_frac
        tw = TsneWidths(cfg)
        t, sc_in, out = self.tsne, self.tscan_in, self.tscan_out
        uses = timing.uses

        II = timing.pair_interval("tpair")
        copies = {}

        def hold(sig, written, read, name):
            """A register written (only) in stage ``written`` of ``tpair``, as seen in stage ``read``:
            the next ``tpair`` overwrites it II stages later, so a copy register is taken every II
            stages (enabled by the op's valid) instead of a register per stage."""
            assert read > written
            k = 0
            while read > written + II:
                key = (id(sig), written + II)
                if key not in copies:
                    nxt = Signal.like(sig, name=f"{name}_c{k}")
                    with m.If(v["tpair"][written + II]):
                        m.d.sync += nxt.eq(sig)
                    copies[key] = nxt
                sig, written, k = copies[key], written + II, k + 1
            return sig

        # ------------------------------------------------------------ M0 .. M3, TMW = M0 + M1
        # M0, M1 of their own; M2 = MULA (product: its first partial product, the operand on its
        # first chunk); M3 = kern's t w multiplier (`hw.lane`)
        mula_en, mula_a, mula_b, mula_p = self._mula
        assert tw.rb <= SPLIT and len(mula_b) >= tw.na, (tw.rb, len(mula_b))
        m2_prod = Signal(signed(tw.npw), name="tm2_prod")
        m.d.comb += m2_prod.eq(mula_p)
        mults = [narrow_multiplier(m, tw, "tm0"), narrow_multiplier(m, tw, "tm1"), None, self._m3]
        assert len(mults) == ts.TSNE_MULS
        prods = [mults[0][3], mults[1][3], m2_prod, self._m3[3]]
        assert tw.aw <= SPLIT + tw.na and tw.bw <= tw.nbw, (tw.aw, tw.bw)   # TMW: two chunks
        prod_w = Signal(signed(tw.pw), name="tmw_prod")
        m.d.sync += prod_w.eq(prods[0] + (prods[1] << SPLIT))
        m.d.comb += t.prod.eq(prod_w)
        self._kprob_out(prod_w)             # affinity op KPROB: w r on TMW (`hw.lane`)

        op = "tpair"
        st = {r: uses(op, r) for r in ("tdiff", "tsq", "tsqsh", "tnorm_in", "tnorm", "tnorm_shift", "tzt", "tzq", "tsr",
                                       "tfshift", "tffine", "tacc", "tm0_in", timing.TPAIR_MULS[2][0])}
        vp = v[op]
        L = len(timing.TMW) - 1             # a narrow product is there L stages after its issue

        # ------------------------------------------------------------ y^_i: latched from the broadcast, loaded at a hand-over
        yi = [Signal(signed(tw.pyb), name=f"t_yi{c}") for c in range(2)]
        yn = [Signal(signed(tw.pyb), name=f"t_ynext{c}") for c in range(2)]
        with m.If(v["tnext"][timing.stage_of("tnext", "tynext")]):
            m.d.sync += [yn[0].eq(t.pair.y0), yn[1].eq(t.pair.y1)]
        with m.If(v["tload"][0]):
            m.d.sync += [yi[0].eq(yn[0]), yi[1].eq(yn[1])]

        # ------------------------------------------------------------ differences
        s0 = st["tdiff"][0]
        dx, dy = Signal(signed(tw.pdxb), name="t_dx"), Signal(signed(tw.pdxb), name="t_dy")
        s_ij = Signal(cfg.p_frac + 1, name="t_s")
        with m.If(vp[s0]):
            m.d.sync += [dx.eq(yi[0] - t.pair.y0), dy.eq(yi[1] - t.pair.y1), s_ij.eq(t.pair.s)]
        # M0, M1: the squares, then S r and r r; M2, M3: the x forces, then (the next stage) the y
        # forces, so each force shifter takes one multiplier's product (no select before it)
        q0, r0 = st["tm0_in"]
        f0, f1 = st[timing.TPAIR_MULS[2][0]]
        assert f1 == f0 + 1, st
        assert q0 == s0 + 1 and st["tsq"] == [q0 + L] and st["tsqsh"] == [q0 + L + 1], st
        adx, ady = Signal(tw.pyb, name="t_adx"), Signal(tw.pyb, name="t_ady")
        m.d.comb += [adx.eq(Mux(dx < 0, -dx, dx)), ady.eq(Mux(dy < 0, -dy, dy))]

        # ------------------------------------------------------------ squares, d2, normaliser
        ss = Signal(tw.ssb, name="t_ss")
        with m.If(vp[st["tsq"][0]]):
            m.d.sync += ss.eq(prods[0] + prods[1])
        d2 = Signal(tw.sqb, name="t_d2")
        with m.If(vp[st["tsqsh"][0]]):
            m.d.sync += d2.eq((ss << tw.lq) >> t.pair.d2sh)
        nx = Signal(tw.nin, name="t_nx")
        assert st["tnorm_in"] == [st["tsqsh"][0] + 1], st
        with m.If(vp[st["tnorm_in"][0]]):
            m.d.sync += nx.eq(d2 + (1 << W))
        with m.Elif(v["trecip"][0]):
            m.d.sync += nx.eq(t.recip.x)
        nb = tw.nin
        lead = Signal(range(nb), name="t_lead")
        m.d.comb += lead.eq(leading_one(nx)[1])
        p_q = Signal(range(nb), name="t_p")
        nx_q = Signal(nb, name="t_nxq")
        with m.If(vp[st["tnorm"][0]] | v["trecip"][1]):
            m.d.sync += [p_q.eq(lead), nx_q.eq(nx)]
        xl = Signal(nb, name="t_xl")
        lz = Signal(range(nb), name="t_lz")
        m.d.comb += [lz.eq(nb - 1 - p_q), xl.eq((nx_q << lz)[:nb])]
        mn = Signal(W, name="t_mn")
        m.d.comb += mn.eq(xl[nb - 1 - W: nb - 1] if nb - 1 >= W else (xl[:nb - 1] << (W - (nb - 1))))
        mn_q = Signal(W, name="t_mnq")
        pp = Signal(range(nb), name="t_pp")     # leading-one position of the normalised operand
        pe = Signal(range(nb), name="t_pe")     # tpair: e = p - W >= 0 (1 + d2 >= 1), registered
        with m.If(vp[st["tnorm_shift"][0]] | v["trecip"][2]):
            m.d.sync += [mn_q.eq(mn), pp.eq(p_q), pe.eq(p_q - W)]
        r = fu.o_y[:tw.rb]
        s_fu = timing.stage_of(op, timing.FU[0])  # the FU RECIP stage of tpair (m_q held until then)
        ns_r = timing.stage_of("trecip", "tnorm_shift")
        m.d.comb += [t.r.eq(r), t.p.eq(delayed(pp, timing.latency("trecip") - ns_r - 1, "t_prec"))]
        # the stage plan this datapath relies on (products visible L stages after issue)
        assert st["tzt"] == [r0] == [s_fu + len(timing.FU)] and st["tzq"] == [r0 + 1] and st["tsr"] == [r0 + L], st
        assert f0 > st["tsr"][0] and st["tfshift"] == [f0 + L, f1 + L] and f1 == f0 + 1, st
        assert st["tffine"] == [f0 + L + 1, f1 + L + 1] and st["tacc"] == [f0 + L + 2, f1 + L + 2], st

        # ------------------------------------------------------------ Zq, S r, r r
        s_r = st["tzt"][0]                      # r visible
        e_z = Signal(range(nb), name="t_ez")
        m.d.comb += e_z.eq(hold(pe, st["tnorm_shift"][0], s_r, "t_pz"))
        # Zq's term, registered, added in the next stage (the shift and the add in one stage were
        # 11.1 ns: session 41)
        zt = Signal(tw.zql, name="t_zt")
        with m.If(vp[s_r]):
            m.d.sync += zt.eq((r << (Q - W)) >> e_z)
        # live sums; ``tzsnap`` moves Zq to ``szq``, ``tsnap`` A and R to the scan registers (`out`)
        zq_l = Signal(tw.zql, name="t_zq")
        snap_zq = v["tzsnap"][timing.stage_of("tzsnap", "tsz")]
        snap_st = [s_ for s_, r_ in enumerate(timing.LANE_OPS["tsnap"].stages) if "tsa" in r_]     # x, then y
        szq = Signal(tw.zql, name="t_szq")
        m.d.comb += t.szq.eq(szq)
        with m.If(snap_zq):
            m.d.sync += [szq.eq(zq_l), zq_l.eq(0)]
        with m.If(vp[st["tzq"][0]]):
            m.d.sync += zq_l.eq(zq_l + zt)
        s_d = hold(s_ij, s0, s_r, "t_s_d")
        sr, r2 = Signal(tw.rb, name="t_sr"), Signal(tw.rb, name="t_r2")
        with m.If(vp[st["tsr"][0]]):
            m.d.sync += [sr.eq(prods[0] >> P), r2.eq(prods[1] >> W)]

        # ------------------------------------------------------------ forces
        dx_f = hold(dx, s0, f0, "t_dx_f")
        dy_f = hold(dy, s0, f1, "t_dy_f")
        sh0, sh1 = st["tfshift"]
        # the product shifted left by lf (so that every shift is a right shift); any larger shift
        # than cap gives the same floor
        fpw = tw.tb
        cap = fpw - 1
        # one pair of shifters for both coordinates: x's products are shifted in stage sh0, y's in
        # sh1 = sh0 + 1, both from M2 (attractive) and M3 (repulsive): product register to shifter
        # the pair's shifts sa = fsh + e, sb = fsh + 2 e (capped), registered in stage sh0 - 2,
        # copied in sh0 - 1 into the shifters' amount registers (with the masks of their
        # shifted-out bits), which the next pair rewrites only II >= 2 stages later
        # (the sums fsh + k e registered a stage earlier, in sh0 - 3, and capped in sh0 - 2: the
        # add and the cap's compare in one stage were 10.4-10.8 ns in session 42; fsh changes only
        # between passes, with no pair in flight)
        assert sh0 - 3 > st["tnorm_shift"][0] and II >= 2, (sh0, st, II)
        e_s = Signal(range(nb), name="t_es")
        m.d.comb += e_s.eq(hold(pe, st["tnorm_shift"][0], sh0 - 3, "t_pa"))
        fsh = t.pair.fsh
        sum_bits = bit_length(tw.fsh_max + 2 * (nb - 1))
        sa_s, sb_s = Signal(sum_bits, name="t_sas"), Signal(sum_bits, name="t_sbs")
        with m.If(vp[sh0 - 3]):
            m.d.sync += [sa_s.eq(fsh + e_s), sb_s.eq(fsh + 2 * e_s)]
        sa, sb = Signal(range(cap + 1), name="t_sa"), Signal(range(cap + 1), name="t_sb")
        with m.If(vp[sh0 - 2]):
            m.d.sync += [sa.eq(Mux(sa_s > cap, cap, sa_s)), sb.eq(Mux(sb_s > cap, cap, sb_s))]
        sa_q, sb_q = Signal(range(cap + 1), name="t_saq"), Signal(range(cap + 1), name="t_sbq")
        with m.If(vp[sh0 - 1]):
            m.d.sync += [sa_q.eq(sa), sb_q.eq(sb)]
        acc = signed(tw.accb)
        pa = Signal(signed(fpw), name="t_pa_in")
        pr = Signal(signed(fpw), name="t_pr_in")
        m.d.comb += [pa.eq(prods[2] << tw.lf), pr.eq(prods[3] << tw.lf)]
        # floor(p 2^-s) in two stages: by s's multiple of 4 (tfshift, from the product register),
        # then by s mod 4 (tffine); the low acc + 3 bits of the first are all the second needs.
        # (The whole shift behind the DSP's output was 10.2-10.9 ns in session 43.)
        fn0, fn1 = st["tffine"]
        cb = tw.accb + 3
        ca_, cr_ = Signal(cb, name="t_fca"), Signal(cb, name="t_fcr")
        with m.If(vp[sh0] | vp[sh1]):
            m.d.sync += [ca_.eq(pa >> Cat(C(0, 2), sa_q[2:])), cr_.eq(pr >> Cat(C(0, 2), sb_q[2:]))]
        # s mod 4 for both coordinates' fine shifts (sa_q, sb_q hold the next pair's from sh1 + 1)
        la, lb = Signal(2, name="t_fsa"), Signal(2, name="t_fsb")
        with m.If(vp[sh0]):
            m.d.sync += [la.eq(sa_q[:2]), lb.eq(sb_q[:2])]
        fa, fr = Signal(acc, name="t_fa"), Signal(acc, name="t_fr")
        m.d.comb += [fa.eq((ca_ >> la)[:tw.accb]), fr.eq((cr_ >> lb)[:tw.accb])]
        # one register per term for both coordinates: x's is read (accumulated) in stage ac0 = fn1,
        # in whose cycle y's is written
        tfa, tfr = Signal(acc, name="t_fa_q"), Signal(acc, name="t_fr_q")
        with m.If(vp[fn0] | vp[fn1]):
            m.d.sync += [tfa.eq(fa), tfr.eq(fr)]
        ac0, ac1 = st["tacc"]
        assert (fn0, fn1) == (sh1, sh1 + 1) and (ac0, ac1) == (fn1, fn1 + 1), (ac0, ac1, fn0, sh1)
        if cfg.tsne_symmetric:
            # sticky bits: the shifted-out bits are not all zero (with the capped shift: equal, as
            # |prod << lf| < 2^cap), computed as below (no mask of the s low bits, session 52)
            # in step with the two-stage shift s = 4 c + f: the coarse part (any of the c low
            # nibbles of the product, through a thermometer of c registered from sa, sb), then the
            # fine part (any of the f low bits of the coarse shift's result).  (A mask of the s
            # low bits cost ~27 more LUT4 and 29 more FFs per sticky bit: session 52.)
            nn = (fpw + 3) // 4
            nib = lambda v_: Cat(*(v_[4 * i:min(4 * i + 4, fpw)].any() for i in range(nn)))
            therm = lambda s_: Cat(*(s_[2:] > i for i in range(nn)))     # nibble i wholly shifted out
            th_a, th_b = Signal(nn, name="t_tha"), Signal(nn, name="t_thb")
            with m.If(vp[sh0 - 1]):
                m.d.sync += [th_a.eq(therm(sa)), th_b.eq(therm(sb))]
            stca, stcr = Signal(name="t_stka_c"), Signal(name="t_stkr_c")     # beside ca_, cr_
            with m.If(vp[sh0] | vp[sh1]):
                m.d.sync += [stca.eq((nib(pa) & th_a).any()), stcr.eq((nib(pr) & th_b).any())]
            low3 = lambda f_: Cat(f_ > 0, f_ > 1, f_ > 2)
            stka, stkr = Signal(name="t_stka"), Signal(name="t_stkr")
            m.d.comb += [stka.eq(stca | (ca_[:3] & low3(la)).any()), stkr.eq(stcr | (cr_[:3] & low3(lb)).any())]
            stka_q, stkr_q = Signal(name="t_stka_q"), Signal(name="t_stkr_q")    # in step with tfa, tfr
            fv = vp[fn0] | vp[fn1]
            with m.If(fv):
                m.d.sync += [stka_q.eq(stka), stkr_q.eq(stkr)]
            # the visitor sums' operands, registered beside tfa, tfr (the jv multiplexers in front
            # of the engine's adders were 10.2 ns in session 43)
            # (the ring's sums are ringb bits wide: `TsneWidths.ringb`)
            ones = C((1 << tw.ringb) - 1, tw.ringb)
            jna, jnr = Signal(tw.ringb, name="t_jna"), Signal(tw.ringb, name="t_jnr")
            jca, jcr = Signal(name="t_jca"), Signal(name="t_jcr")
            rv = fv & t.jring         # a ring step's term (the engine's jring); else the ring shifts
            m.d.sync += [jna.eq(Mux(rv, ~fa.as_unsigned()[:tw.ringb], ones)),
                         jnr.eq(Mux(rv, ~fr.as_unsigned()[:tw.ringb], ones)),
                         jca.eq(Mux(rv, ~stka, 1)), jcr.eq(Mux(rv, ~stkr, 1))]
            m.d.comb += [t.jna.eq(jna), t.jnr.eq(jnr), t.jca.eq(jca), t.jcr.eq(jcr)]
            m.d.comb += [t.jfa.eq(tfa), t.jfr.eq(tfr), t.jstka.eq(stka_q), t.jstkr.eq(stkr_q),
                         t.jv.eq(vp[ac0] | vp[ac1]), t.yn0.eq(yn[0]), t.yn1.eq(yn[1])]
        lax, lay, lrx, lry = (Signal(acc, name=f"t_l{n}") for n in ("ax", "ay", "rx", "ry"))
        with m.If(v["tscan"][0]):
            m.d.sync += [out.ax.eq(sc_in.ax), out.ay.eq(sc_in.ay), out.rx.eq(sc_in.rx),
                         out.ry.eq(sc_in.ry)]
        # the x sums are taken (and cleared) in the last pair's y cycle, the y sums in the next
        # cycle (`timing._snap_stages`): never in a cycle that adds a term to them
        assert snap_st == [ac1, ac1 + 1] and ac1 == ac0 + 1 and II == 2, (snap_st, ac0, ac1, II)
        with m.If(v["tsnap"][snap_st[0]]):
            m.d.sync += [out.ax.eq(lax), out.rx.eq(lrx), lax.eq(0), lrx.eq(0)]
        with m.If(v["tsnap"][snap_st[1]]):
            m.d.sync += [out.ay.eq(lay), out.ry.eq(lry), lay.eq(0), lry.eq(0)]
        with m.If(vp[ac0]):
            m.d.sync += [lax.eq(lax + tfa), lrx.eq(lrx + tfr)]
        with m.If(vp[ac1]):
            m.d.sync += [lay.eq(lay + tfa), lry.eq(lry + tfr)]

        # ------------------------------------------------------------ multiplier operand steering
        def mul(k, x, y):
            a, b, en, _ = mults[k]
            return [en.eq(1), a.eq(x), b.eq(y)]
        # sr, r2 as seen by the force products (copies where the next tpair has overwritten them)
        s_sr = st["tsr"][0]
        sr_0, sr_1 = hold(sr, s_sr, f0, "t_sr_f"), hold(sr, s_sr, f1, "t_sr_f")
        r2_0, r2_1 = hold(r2, s_sr, f0, "t_r2_f"), hold(r2, s_sr, f1, "t_r2_f")
        lo = SPLIT

        def wide(a_, b_, name):
            """TMW: the operand as a signed aw-bit word, its two chunks on M0 and M1."""
            full = Signal(signed(tw.aw), name=f"tmw_{name}")
            m.d.comb += full.eq(a_)
            return {"tm0_in": mul(0, full[:lo], b_), "tm1_in": mul(1, full[lo:].as_signed(), b_)}
        kp = timing.stage_of("kprob", "tm0_in")
        tmw = {k: wide(*ab, k[0]) for k, ab in {("tmul", 0): (t.mul.a, t.mul.b),
                                                 ("kprob", kp): self._kprob_tm0}.items() if k[0] in v}
        steer(m, v, "tm0_in", {(op, q0): mul(0, adx, adx), (op, r0): mul(0, s_d, r),
                               **{k: w["tm0_in"] for k, w in tmw.items()}})
        steer(m, v, "tm1_in", {(op, q0): mul(1, ady, ady), (op, r0): mul(1, r, r),
                               **{k: w["tm1_in"] for k, w in tmw.items()}})
        # M2 on MULA: the unsigned sr on its (unsigned) a, dx on its (signed) b
        def mula(x, y):
            return [mula_en.eq(1), mula_a.eq(y), mula_b.eq(x)]
        # the function unit's RECIP for both ops (mn_q of the shared normaliser)
        fu_in = fu.operand(FuOp.RECIP, mn_q)
        return {"fu_rom": {(op, s_fu): fu_in, ("trecip", timing.stage_of("trecip", timing.FU[0])): fu_in},
                "mul_in": {(op, f0): mula(dx_f, sr_0), (op, f1): mula(dy_f, sr_1)},
                "twmul_in": {(op, f0): mul(3, dx_f, r2_0), (op, f1): mul(3, dy_f, r2_1)}}
