"""The shared row-end unit: ``H = log2 Z + T/Z`` of one lane per cycle, at the scan chain's exit.

Every search pass ends with each active lane's row sums (Z, T) turned into the row entropy H.  The
lanes do not do this themselves: the scan chain shifts (u, Z, T) towards lane 0 one lane per cycle,
and lane 0's registers feed this unit, which takes one item per cycle and hands (u, H) to the
search controller `timing.ROWEND` cycles later.  One unit replaces a normaliser, two table reads,
a multiplier use and a barrel shifter in every lane (the pass length is unchanged: A + ROWEND scan
cycles instead of ROWEND + A).  With ``ext`` the item is the PERP register and the unit computes
``log2 PERP`` (the target entropy, START), bit-exact with `golden_model.fixed.target_entropy`.

Bit-exact with `golden_model.fixed.row_end_entropy`; the stages are `golden_model.timing.ROWEND_STAGES`.
The whole pipeline advances only with the clock enable the caller wraps it in
(`amaranth.hdl.EnableInserter`): the search controller stalls it, with the scan chain, while the
trace output is back-pressured.
"""

from __future__ import annotations

from amaranth.hdl import C, Cat, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from golden_model import timing
from golden_model.config import AccelConfig

from .arith import FU_LATENCY, FunctionUnit, FuOp
from .layouts import CoreLayouts

__all__ = ["RowendUnit", "rowend_in_signature", "rowend_out_signature"]

assert timing.ROWEND == 3 + FU_LATENCY + 5, "hw.rowend builds the stages of timing.ROWEND_STAGES"


def rowend_in_signature(cfg: AccelConfig) -> wiring.Signature:
    """An item into the unit: ``valid``; ``ext`` (``x`` is the PERP register) or lane 0's scan
    registers ``u``, ``z``, ``t``."""
    L = CoreLayouts(cfg)
    return wiring.Signature({"valid": Out(1), "ext": Out(1), "x": Out(cfg.perp_bits),
                             "u": Out(signed(L.u_bits)), "z": Out(cfg.z_bits), "t": Out(cfg.z_bits)})


def rowend_out_signature(cfg: AccelConfig, carry_zt: bool) -> wiring.Signature:
    """An item out of the unit: ``valid``, ``u`` and ``h`` (and ``z``, ``t`` with ``carry_zt``)."""
    L = CoreLayouts(cfg)
    zt = {"z": Out(cfg.z_bits), "t": Out(cfg.z_bits)} if carry_zt else {}
    return wiring.Signature({"valid": Out(1), "u": Out(signed(L.u_bits)), "h": Out(L.h_bits), **zt})


class RowendUnit(wiring.Component):
    """Pipelined row-end entropy, one item per cycle.

    Parameters
    ----------
    cfg : AccelConfig
    carry_zt : bool
        Carry Z and T to the output (the trace beat reports them); without it T leaves the
        pipeline at the multiplier.

    Attributes
    ----------
    i : In(rowend_in_signature(cfg))
        The item presented in this cycle (sampled when ``valid``; the datapath ignores ``valid``,
        it travels alongside).
    o : Out(rowend_out_signature(cfg))
        The item presented `timing.ROWEND` (enabled) cycles earlier, in registers.
    """

    def __init__(self, cfg: AccelConfig, carry_zt: bool = False):
        self.cfg = cfg
        self.carry_zt = carry_zt
        self.norm_bits = max(cfg.z_bits, cfg.perp_bits)
        super().__init__({"i": In(rowend_in_signature(cfg)),
                          "o": Out(rowend_out_signature(cfg, carry_zt))})

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg
        W, Hf, PF, ZB = cfg.w_frac, cfg.h_frac, cfg.perp_frac, cfg.z_bits
        nb = self.norm_bits
        inp, out = self.i, self.o

        def stage(sig, name):
            """``sig`` one stage further (a register)."""
            nxt = Signal.like(sig, name=name)
            m.d.sync += nxt.eq(sig)
            return nxt

        def carry(sig, name, n):
            for k in range(n):
                sig = stage(sig, f"{name}_s{k}")
            return sig

        # stage in: the normaliser register; u, T, ext and valid alongside
        nx = stage(Mux(inp.ext, inp.x, inp.z), "nx")
        ext1, u1, t1, z1, v1 = (stage(s, f"{n}_in") for s, n in
                                ((inp.ext, "ext"), (inp.u, "u"), (inp.t, "t"), (inp.z, "z"), (inp.valid, "v")))
        # stage norm: the leading one of nx
        lead = Signal(range(max(nb, 2)))
        for k in range(nb):
            with m.If(nx[k]):
                m.d.comb += lead.eq(k)
        p_q = stage(lead, "p_q")
        nx2 = stage(nx, "nx2")
        ext2, u2, t2, z2, v2 = (stage(s, f"{s.name}_n") for s in (ext1, u1, t1, z1, v1))
        # stage norm_shift: mantissa, exponent and the product's shift amount (base_sh + e)
        lz = Signal(range(max(nb, 2)))
        m.d.comb += lz.eq(nb - 1 - p_q)
        xl = Signal(nb)
        m.d.comb += xl.eq((nx2 << lz)[:nb])
        mn = Signal(W)
        if nb - 1 >= W:
            m.d.comb += mn.eq(xl[nb - 1 - W: nb - 1])
        elif nb > 1:
            m.d.comb += mn.eq(xl[: nb - 1] << (W - (nb - 1)))
        pre = max(0, Hf - 2 * W)
        base_sh = max(0, 2 * W - Hf)
        e_nx = Signal(range(nb + 1))
        m.d.comb += e_nx.eq(p_q - Mux(ext2, PF, W))
        sh_nx = Signal(range(nb + 1 + base_sh))
        m.d.comb += sh_nx.eq(e_nx + base_sh)
        mn_q = stage(mn, "mn_q")
        e3, sh3 = stage(e_nx, "e"), stage(sh_nx, "sh")
        ext3, u3, t3, z3, v3 = (stage(s, f"{s.name}s") for s in (ext2, u2, t2, z2, v2))
        # stages fu_*: LOG and RECIP of the mantissa on two function units at once
        m.submodules.fu_log = fu_log = FunctionUnit(cfg, ops=(FuOp.LOG,))
        m.submodules.fu_recip = fu_rec = FunctionUnit(cfg, ops=(FuOp.RECIP,))
        m.d.comb += fu_log.operand(FuOp.LOG, mn_q) + fu_rec.operand(FuOp.RECIP, mn_q)
        e7, sh7, ext7, u7, t7, z7, v7 = (carry(s, s.name, FU_LATENCY) for s in (e3, sh3, ext3, u3, t3, z3, v3))
        # stage mul_in: T and r into the multiplier's operand registers, log2(1 + m) registered
        rr = fu_rec.o_y[: W + 1]
        a_q, b_q = stage(t7, "mul_a"), stage(rr, "mul_b")
        logv8 = stage(fu_log.o_y[: Hf + 1], "logv")
        e8, sh8, ext8, u8, v8 = (stage(s, f"{s.name}m") for s in (e7, sh7, ext7, u7, v7))
        # stage mul: partial products of at most 18 x 18 bits (one DSP block each)
        SPLIT = 17
        p_lo = stage(a_q[:SPLIT] * b_q, "p_lo")
        p_hi = stage(a_q[SPLIT:] * b_q, "p_hi") if ZB > SPLIT else None
        carried = (e8, sh8, ext8, u8, v8, logv8)
        e9, sh9, ext9, u9, v9, logv9 = (stage(s, f"{s.name}p") for s in carried)
        # stage mul_sum: T r
        prod = Signal(ZB + W + 1)
        m.d.sync += prod.eq(p_lo + (p_hi << SPLIT) if p_hi is not None else p_lo)
        e10, sh10, ext10, u10, v10, logv10 = (stage(s, f"{s.name}q") for s in (e9, sh9, ext9, u9, v9, logv9))
        # stage hshift: q = T r >> (base_sh + e) in two steps, (x >> 4a) >> b with sh = 4a + b: the
        # coarse shift here, the last two levels in front of stage h's adder
        q = Signal(ZB + W + 1 + pre)
        m.d.sync += q.eq((prod << pre) >> Cat(C(0, 2), sh10[2:]))
        sh_lo = stage(sh10[:2], "sh_lo")
        e11, ext11, u11, v11, logv11 = (stage(s, f"{s.name}h") for s in (e10, ext10, u10, v10, logv10))
        # stage h: the output registers
        m.d.sync += [out.h.eq((e11 << Hf) + logv11 + Mux(ext11, 0, q >> sh_lo)), out.u.eq(u11), out.valid.eq(v11)]
        if self.carry_zt:
            m.d.sync += [out.z.eq(carry(z7, "z_out", 4)), out.t.eq(carry(t7, "t_out", 4))]
        return m
