"""One PE lane: main multiplier, accumulators, table function unit, per-lane PRNG.

The same lane runs every phase of the accelerator by time-multiplexing; the controller issues
*ops*, each op travels down its own fixed-latency chain of pipeline registers, and the shared
resources (main multiplier ``MULA``, the `FunctionUnit`, the accumulators) are steered by the
chain whose stage is active.  The controller never issues two ops that need the same resource in
the same cycle (their latencies are fixed, see docs/hardware.md).

Ops implemented now
-------------------
``DIST``   (distance phase) ``acc += (x_i - x_j)^2`` per cycle; the group's last element emits
           ``D_ij`` (``dout``/``dwr``) and updates the lane-local min/max over valid ``j != i``.
``CAND``   (pass set-up) candidate ``u = mirror_clamp(base + shift(A * B))`` with B = the lane's
           K-section weight, its PRNG's uniform/Gaussian sample, or 0 (bisection); then
           ``bm = 2^-g`` (function unit, ``EXP_U``) and the shift ``ui``; clears Z and T.
``KERN``   (stream) one kernel evaluation per cycle: ``t = sat(d bm 2^(ui-W+T))``,
           ``w = 2^-t`` (``EXP_T`` + shift), ``tw = floor(t w / 2^T)``, ``Z += w``, ``T += tw``.
``ROWEND`` (row end) ``H = log2 Z + T/Z`` (normaliser, ``LOG``, ``RECIP``, MULA for T*r);
           with ``re_ext`` it computes ``log2`` of the external operand (the PERP register,
           target entropy) instead.
``SCAN``   shift (u, H, Z, T) one lane towards lane 0 (the controller reads lane 0).
``PRNG``   load the per-point seed / advance the xorshift32 state.

Planned for the t-SNE phases on the same resources (not built yet): Student-t kernel
``q = 1/(1+d)`` (``RECIP`` + normaliser), force MAC (``MULA`` + accumulators), occupancy entropy
(``LOG`` + MAC).

Latencies (cycles from issue to result visible), see `LANE_LATENCY`.
"""

from __future__ import annotations

from amaranth.hdl import C, Cat, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from golden_model import search_fixed as sf
from golden_model.config import AccelConfig

from .arith import FunctionUnit, FuOp, normalise
from .layouts import CoreLayouts

__all__ = ["Lane", "LANE_LATENCY", "CandKind", "lane_roles", "xorshift32_hw"]

#: cycles from an op's issue cycle to the first cycle its result is visible
LANE_LATENCY = {
    "dist_minmax": 4,   # dist_issue at c -> lmin/lmax updated, visible at c+4 (dout/dwr at c+3)
    "dist_dout": 3,
    "cand": 4,          # cand_issue at c -> bm/shift valid at c+4 (first kern_issue)
    "kern": 6,          # kern_issue at c -> Z/T include it at c+6
    "rowend": 6,        # re_issue at c -> h visible at c+6
}


class CandKind:
    DIRECT = 0   # u = base (bisection)
    KSEC = 1     # u = base + floor(A * C_l / 2^16)
    FWA = 2      # u = mirror_clamp(centre + spark(A, PRNG), lo, hi)


def lane_roles(cfg: AccelConfig) -> list:
    """Static FWA role per lane: rank of the firework it sparks from, or -1 (Gaussian spark)."""
    roles = [r for r, s in enumerate(cfg.fwa_spark_lanes) for _ in range(s)]
    return roles + [-1] * cfg.fwa_gauss_sparks


def xorshift32_hw(s):
    """xorshift32 (13, 17, 5) as an Amaranth expression of a 32-bit value."""
    s1 = s ^ (s << 13)[:32]
    s2 = s1 ^ (s1 >> 17)
    return (s2 ^ (s2 << 5)[:32])[:32]


def _zx(v):
    """Zero-extend an unsigned value by one bit and view it as signed."""
    return Cat(v, C(0, 1)).as_signed()


class Lane(wiring.Component):
    """One processing-element lane.

    Parameters
    ----------
    cfg : AccelConfig
    index : int
        Lane number ``l`` (fixes its K-section weight, FWA role and PRNG seed offset).

    Attributes
    ----------
    dist_issue, dist_first, dist_last, dist_valid, dist_self : In(1)
        DIST op and its tags (first/last feature of a group; ``j < N``; ``j == i``).
    xi, xj : In(feature_bits)
        Features of point i (broadcast) and of this lane's point j.
    mm_clear : In(1)
        Reset the lane-local min/max (start of a point).
    dout : Out(dist_bits)
        D_ij of the group just finished, valid when ``dwr``.
    dwr : Out(1)
    lmin, lmax : Out(dist_bits)
        Lane-local min / max of valid D_ij, j != i.
    cand_issue : In(1)
    cand_kind : In(2)
        `CandKind`.
    cand_base : In(signed(u_bits))
        Bisection mid or K-section lower bound.
    cand_centre : In(signed(u_bits))
        Firework centre for this lane's rank (FWA).
    cand_a : In(u_range_bits)
        Bracket width (K-section) or core amplitude A0 (FWA).
    cand_lo, cand_hi : In(signed(u_bits))
        Search range for the boundary mapping.
    prng_load, prng_step : In(1)
    prng_point : In(32)
        ``seed + point * SEED_POINT_STEP`` (the lane adds its own offset).
    kern_issue : In(1)
    kern_d : In(dist_bits)
        Shifted distance ``D_ij - m_i``.
    re_issue, re_ext : In(1)
    ext_x : In(perp_bits)
        External log2 operand (PERP register, ``perp_frac`` fraction bits).
    scan_shift : In(1)
    scan_in : In(scan layout)
        Next lane's scan registers.
    u : Out(signed(u_bits)), h : Out(h_bits), z : Out(z_bits), t : Out(z_bits)
        This lane's candidate and its row-end results (the scan registers).
    """

    def __init__(self, cfg: AccelConfig, index: int):
        self.cfg = cfg
        self.index = index
        L = self.lay = CoreLayouts(cfg)
        roles = lane_roles(cfg)
        self.role = roles[index]
        self.ksec_weight = sf.ksection_weights(cfg)[index]
        W = cfg.w_frac
        self.ma_bits = max(cfg.dist_bits, cfg.z_bits, cfg.feature_bits, L.u_range_bits)
        self.mb_bits = max(W + 1, 16, cfg.feature_bits) + 1
        self.norm_bits = max(cfg.z_bits, cfg.perp_bits)
        super().__init__({
            "dist_issue": In(1), "dist_first": In(1), "dist_last": In(1),
            "dist_valid": In(1), "dist_self": In(1),
            "xi": In(cfg.feature_bits), "xj": In(cfg.feature_bits),
            "mm_clear": In(1),
            "dout": Out(cfg.dist_bits), "dwr": Out(1),
            "lmin": Out(cfg.dist_bits, init=(1 << cfg.dist_bits) - 1), "lmax": Out(cfg.dist_bits),
            "cand_issue": In(1), "cand_kind": In(2),
            "cand_base": In(signed(L.u_bits)), "cand_centre": In(signed(L.u_bits)),
            "cand_a": In(L.u_range_bits),
            "cand_lo": In(signed(L.u_bits)), "cand_hi": In(signed(L.u_bits)),
            "prng_load": In(1), "prng_step": In(1), "prng_point": In(32),
            "kern_issue": In(1), "kern_d": In(cfg.dist_bits),
            "re_issue": In(1), "re_ext": In(1), "ext_x": In(cfg.perp_bits),
            "scan_shift": In(1),
            "scan_in_u": In(signed(L.u_bits)), "scan_in_h": In(L.h_bits),
            "scan_in_z": In(cfg.z_bits), "scan_in_t": In(cfg.z_bits),
            "u": Out(signed(L.u_bits)), "h": Out(L.h_bits),
            "z": Out(cfg.z_bits), "t": Out(cfg.z_bits),
            "state": Out(32),
        })

    def elaborate(self, platform):
        m = Module()
        cfg, L = self.cfg, self.lay
        W, T, U, Hf, PF = cfg.w_frac, cfg.t_frac, cfg.u_frac, cfg.h_frac, cfg.perp_frac
        DB, FB, ZB = cfg.dist_bits, cfg.feature_bits, cfg.z_bits

        m.submodules.fu = fu = FunctionUnit(cfg)

        # ------------------------------------------------------------ shared multiplier MULA
        mul_a = Signal(self.ma_bits)
        mul_b = Signal(signed(self.mb_bits))
        prod = Signal(signed(self.ma_bits + self.mb_bits))
        mul_en = Signal()
        with m.If(mul_en):
            m.d.sync += prod.eq(mul_a * mul_b)

        # ------------------------------------------------------------ DIST chain
        absd = Signal(FB)
        d1 = Signal(5)   # v, first, last, valid, self
        d2 = Signal(5)
        m.d.sync += d1.eq(Cat(self.dist_issue, self.dist_first, self.dist_last,
                              self.dist_valid, self.dist_self))
        diff = Signal(signed(FB + 1))
        m.d.comb += diff.eq(_zx(self.xi) - _zx(self.xj))
        with m.If(self.dist_issue):
            m.d.sync += absd.eq(Mux(diff < 0, -diff, diff))
        m.d.sync += d2.eq(d1)
        dacc = Signal(DB)
        dnew = Signal(DB)
        m.d.comb += dnew.eq(Mux(d2[1], 0, dacc) + prod[:DB])
        mm_ok = Signal()
        m.d.sync += [self.dwr.eq(0)]
        with m.If(d2[0]):
            m.d.sync += dacc.eq(dnew)
            with m.If(d2[2]):
                m.d.sync += [self.dout.eq(dnew), self.dwr.eq(1), mm_ok.eq(d2[3] & ~d2[4])]
        with m.If(self.mm_clear):
            m.d.sync += [self.lmin.eq((1 << DB) - 1), self.lmax.eq(0)]
        with m.Elif(self.dwr & mm_ok):
            with m.If(self.dout < self.lmin):
                m.d.sync += self.lmin.eq(self.dout)
            with m.If(self.dout > self.lmax):
                m.d.sync += self.lmax.eq(self.dout)

        # ------------------------------------------------------------ PRNG
        state = self.state
        off = ((self.index + 1) * sf.SEED_LANE_STEP) & sf.MASK32
        seed_sum = Signal(32)
        m.d.comb += seed_sum.eq(self.prng_point + off)
        with m.If(self.prng_load):
            m.d.sync += state.eq(Mux(seed_sum == 0, 1, seed_sum))
        with m.Elif(self.prng_step):
            m.d.sync += state.eq(xorshift32_hw(state))
        uni = state[16:32].as_signed()
        gauss = Signal(signed(11))
        m.d.comb += gauss.eq(state[0:8] + state[8:16] + state[16:24] + state[24:32] - 510)

        # ------------------------------------------------------------ CAND chain
        c1 = Signal()
        c2 = Signal()
        c3 = Signal()
        kind_d = Signal(2)
        m.d.sync += [c1.eq(self.cand_issue), c2.eq(c1), c3.eq(c2)]
        with m.If(self.cand_issue):
            m.d.sync += kind_d.eq(self.cand_kind)
        # candidate multiplier operand B
        cand_b = Signal(signed(self.mb_bits))
        with m.Switch(self.cand_kind):
            with m.Case(CandKind.KSEC):
                m.d.comb += cand_b.eq(self.ksec_weight)
            with m.Case(CandKind.FWA):
                m.d.comb += cand_b.eq(uni if self.role >= 0 else gauss)
        # stage c1: delta, boundary mapping
        rb = L.u_range_bits
        dsat = (1 << (rb + 2)) - 1
        if self.role >= 0:
            sh = self.role * cfg.fwa_amp_rank_shift - 15
        else:
            sh = -7
        fwa_full = (prod << sh) if sh >= 0 else (prod >> -sh)
        fwa_delta = Signal(signed(rb + 3))
        m.d.comb += fwa_delta.eq(Mux(fwa_full > dsat, dsat, Mux(fwa_full < -dsat, -dsat, fwa_full)))
        delta = Signal(signed(rb + 3))
        base = Signal(signed(L.u_bits))
        with m.Switch(kind_d):
            with m.Case(CandKind.KSEC):
                m.d.comb += [delta.eq(prod >> sf.KSECTION_SHIFT), base.eq(self.cand_base)]
            with m.Case(CandKind.FWA):
                m.d.comb += [delta.eq(fwa_delta), base.eq(self.cand_centre)]
            with m.Default():
                m.d.comb += [delta.eq(0), base.eq(self.cand_base)]
        xb = max(L.u_bits, rb + 3) + 3
        x = Signal(signed(xb))
        y = Signal(signed(xb))
        lo, hi = self.cand_lo, self.cand_hi
        m.d.comb += x.eq(base + delta)
        m.d.comb += y.eq(Mux(x > hi, 2 * hi - x, Mux(x < lo, 2 * lo - x, x)))
        with m.If(c1):
            m.d.sync += self.u.eq(Mux(y > hi, hi, Mux(y < lo, lo, y)))
        # stage c2: g, ui -> function unit (EXP_U)
        g = Signal(U)
        m.d.comb += g.eq((-self.u)[:U])
        ui = Signal(signed(L.u_bits - U + 2))
        m.d.comb += ui.eq((self.u + ((1 << U) - 1)) >> U)
        ui_d = Signal.like(ui)
        with m.If(c2):
            m.d.sync += ui_d.eq(ui)
        # stage c3: bm, right-shift amount of the kernel's exponent argument
        s_max = (cfg.u_hi >> U) - W + T
        SL = max(0, s_max)
        bm = Signal(W + 1)
        rs = Signal(range(SL + W - T + L.u_bits + 2 + (DB + 4)))
        with m.If(c3):
            m.d.sync += [bm.eq(fu.o_y), rs.eq(SL + W - T - ui_d)]

        # ------------------------------------------------------------ KERN chain
        limit = L.t_limit
        k1 = Signal()
        k2 = Signal()
        k3 = Signal()
        k4 = Signal()
        k5 = Signal()
        m.d.sync += [k1.eq(self.kern_issue), k2.eq(k1), k3.eq(k2), k4.eq(k3), k5.eq(k4)]
        pk = prod[: DB + W + 1]
        tfull = Signal(DB + W + 1 + SL)
        m.d.comb += tfull.eq((pk << SL) >> rs)
        tq = Signal(L.t_bits)
        sat = Signal()
        with m.If(k1):
            m.d.sync += [tq.eq(Mux(tfull >= limit, limit, tfull)), sat.eq(tfull >= limit)]
        tq_d = Signal(L.t_bits)
        sat_d = Signal()
        with m.If(k2):
            m.d.sync += [tq_d.eq(tq), sat_d.eq(sat)]
        n_d = tq_d >> T
        w = Signal(W + 1)
        tq_dd = Signal(L.t_bits)
        with m.If(k3):
            m.d.sync += [w.eq(Mux(sat_d | (n_d > W), 0, fu.o_y >> n_d)), tq_dd.eq(tq_d)]
        tw = Signal(W + 1 + 1)
        w_d = Signal(W + 1)
        with m.If(k4):
            m.d.sync += [tw.eq((tq_dd * w) >> T), w_d.eq(w)]
        zacc, tacc = self.z, self.t
        with m.If(self.cand_issue):
            m.d.sync += [zacc.eq(0), tacc.eq(0)]
        with m.Elif(k5):
            m.d.sync += [zacc.eq(zacc + w_d), tacc.eq(tacc + tw)]

        # ------------------------------------------------------------ ROWEND chain
        r1 = Signal()
        r2 = Signal()
        r3 = Signal()
        r4 = Signal()
        r5 = Signal()
        m.d.sync += [r1.eq(self.re_issue), r2.eq(r1), r3.eq(r2), r4.eq(r3), r5.eq(r4)]
        nb = self.norm_bits
        nx = Signal(nb)
        m.d.comb += nx.eq(Mux(self.re_ext, self.ext_x, zacc))
        p, mn = normalise(m, nx, nb, W, name="zn")
        e = Signal(range(nb + 1))
        mn_d = Signal(W)
        ext_d = Signal()
        with m.If(self.re_issue):
            m.d.sync += [e.eq(p - Mux(self.re_ext, PF, W)), mn_d.eq(mn), ext_d.eq(self.re_ext)]
        logv = Signal(Hf + 1)
        with m.If(r2):
            m.d.sync += logv.eq(fu.o_y)
        rr = Signal(W + 1)
        with m.If(r3):
            m.d.sync += rr.eq(fu.o_y)
        pre = max(0, Hf - 2 * W)
        base_sh = max(0, 2 * W - Hf)
        q = Signal(ZB + W + 1 + pre)
        m.d.comb += q.eq((prod[: ZB + W + 1] << pre) >> (base_sh + e))
        with m.If(r5):
            m.d.sync += self.h.eq((e << Hf) + logv + Mux(ext_d, 0, q))

        # ------------------------------------------------------------ shared resources
        with m.If(d1[0]):
            m.d.comb += [mul_en.eq(1), mul_a.eq(absd), mul_b.eq(absd)]
        with m.Elif(self.cand_issue):
            m.d.comb += [mul_en.eq(1), mul_a.eq(self.cand_a), mul_b.eq(cand_b)]
        with m.Elif(self.kern_issue):
            m.d.comb += [mul_en.eq(1), mul_a.eq(self.kern_d), mul_b.eq(bm)]
        with m.Elif(r4):
            m.d.comb += [mul_en.eq(1), mul_a.eq(tacc), mul_b.eq(rr)]

        with m.If(c2):
            m.d.comb += [fu.i_valid.eq(1), fu.i_op.eq(FuOp.EXP_U), fu.i_frac.eq(g)]
        with m.Elif(k2):
            m.d.comb += [fu.i_valid.eq(1), fu.i_op.eq(FuOp.EXP_T), fu.i_frac.eq(tq[:T])]
        with m.Elif(r1):
            m.d.comb += [fu.i_valid.eq(1), fu.i_op.eq(FuOp.LOG), fu.i_frac.eq(mn_d)]
        with m.Elif(r2):
            m.d.comb += [fu.i_valid.eq(1), fu.i_op.eq(FuOp.RECIP), fu.i_frac.eq(mn_d)]

        # ------------------------------------------------------------ scan chain
        with m.If(self.scan_shift):
            m.d.sync += [self.u.eq(self.scan_in_u), self.h.eq(self.scan_in_h),
                         zacc.eq(self.scan_in_z), tacc.eq(self.scan_in_t)]
        return m
