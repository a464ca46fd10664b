"""One PE lane: main multiplier, accumulators, table function unit, per-lane PRNG.

The same lane runs every phase of the accelerator by time-multiplexing.  Its ops, the resources
each pipeline stage occupies and their latencies are declared once in `golden_model.timing`
(`LANE_OPS`); this module builds the valid chain of every op and the steering of every shared
resource (main multiplier ``MULA``, the `FunctionUnit`) from that table, and with
``checks=True`` (simulation) asserts that no two ops claim one resource in one cycle.  Adding an
op means adding a row to the table, its operand signature and its datapath stages here.

Ops (see the table for stages and latencies):

``dist``   ``acc += (x_i - x_j)^2`` per cycle; the group's last element emits ``D_ij``
           (``dist.dout``/``dist.dwr``) and updates the lane-local min/max over valid ``j != i``.
``cand``   candidate ``u = mirror_clamp(base + shift(A * B))`` with B = the lane's K-section
           weight, its PRNG's uniform/Gaussian sample, or 0 (bisection); then ``bm = 2^-g``
           (function unit, ``EXP_U``) and the shift ``ui``; clears Z and T.
``kern``   one kernel evaluation per cycle: ``t = sat(d bm 2^(ui-W+T))``, ``w = 2^-t``
           (``EXP_T`` + shift), ``tw = floor(t w / 2^T)``, ``Z += w``, ``T += tw``.
``scan``   shift (u, Z, T) one lane towards lane 0; lane 0's feed the shared row-end unit
           (`hw.rowend.RowendUnit`: ``H = log2 Z + T/Z``, one lane per cycle).
``prng``   load the per-point seed / advance the xorshift32 state.
``kprob``  (affinity phase) ``w`` as ``kern`` (not accumulated), then ``p = min(floor(w r /
           2^(2W + e - P)), 2^P - 1)`` on TMW (M0 + M1) with the row's ``r = recip(m_Z)`` and ``e``.

Interfaces: `dist_ops_signature` (distance engine -> lane), `search_ops_signature` (search
controller -> lane), `aff_ops_signature` (affinity controller -> lane), `scan_signature` (lane ->
next lane towards the controller).
"""

from __future__ import annotations

from amaranth.hdl import Assert, C, Cat, Format, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from golden_model import search_fixed as sf
from golden_model import timing
from golden_model.config import AccelConfig

from .arith import FunctionUnit, FuOp
from .delay import delay_line
from .layouts import CoreLayouts
from .lane_tsne import TsneLaneMixin, TsneWidths, tscan_signature, tsne_ops_signature
from .opchain import check_conflicts, steer, valid_chains
from .regnext import next_values

__all__ = ["Lane", "LANE_LATENCY", "CandKind", "lane_roles", "xorshift32_hw", "dist_ops_signature",
           "search_ops_signature", "aff_ops_signature", "scan_signature"]

#: cycles from an op's issue cycle to its result being visible (read from the op table)
LANE_LATENCY = {
    "dist_minmax": timing.latency("dist"),
    "dist_dout": timing.LANE_OPS["dist"].mark("dout"),
    "cand": timing.latency("cand"),
    "kern": timing.latency("kern"),
}


class CandKind:
    DIRECT = 0   # u = base (bisection)
    KSEC = 1     # u = base + floor(A * C_l / 2^16)
    FWA = 2      # u = mirror_clamp(centre + spark(A, PRNG), lo, hi)
    LANE = 3     # u = centre (point-parallel bisection: each lane's own midpoint)


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


def dist_ops_signature(cfg: AccelConfig) -> wiring.Signature:
    """Distance engine -> lane: the ``dist`` op with its tags, and the lane's distance results.

    ``issue``/``first``/``last``/``valid``/``is_self``: DIST op, first/last feature of a group,
    ``j < N``, ``j == i``; ``xi`` (broadcast), ``xj`` (this lane's point); ``mm_clear`` resets the
    lane min/max.  Back: ``dout`` (D_ij, valid with ``dwr``), ``lmin``/``lmax``."""
    fb, db = cfg.feature_bits, cfg.dist_bits
    return wiring.Signature({
        "issue": Out(1), "first": Out(1), "last": Out(1), "valid": Out(1), "is_self": Out(1),
        "xi": Out(fb), "xj": Out(fb), "mm_clear": Out(1),
        "dout": In(db), "dwr": In(1),
        "lmin": In(db, init=(1 << db) - 1), "lmax": In(db),
    })


def search_ops_signature(cfg: AccelConfig) -> wiring.Signature:
    """Search controller -> lane: the ``cand``, ``kern``, ``prng`` and ``scan`` ops."""
    L = CoreLayouts(cfg)
    us = signed(L.u_bits)
    return wiring.Signature({
        "cand": Out(wiring.Signature({
            "issue": Out(1), "kind": Out(2), "base": Out(us), "centre": Out(us),
            "a": Out(L.u_range_bits), "lo": Out(us), "hi": Out(us)})),
        "kern": Out(wiring.Signature({"issue": Out(1), "d": Out(cfg.dist_bits)})),
        "prng": Out(wiring.Signature({"load": Out(1), "step": Out(1), "point": Out(32)})),
        "scan": Out(1),
    })


def aff_ops_signature(cfg: AccelConfig) -> wiring.Signature:
    """Affinity controller -> lane: the ``kprob`` op (``d = D_ij - m_i``; the row's reciprocal
    mantissa ``r`` (UQ1.W) and exponent ``e`` of ``Z_i = 2^(e+W) (1 + m)``, latched at every issue:
    the same for all ops of a row); back: ``p`` (UQ0.p_frac), valid ``latency("kprob")`` cycles
    after the issue."""
    W = cfg.w_frac
    return wiring.Signature({
        "kprob": Out(wiring.Signature({"issue": Out(1), "d": Out(cfg.dist_bits), "r": Out(W + 1),
                                       "e": Out(range(cfg.z_bits + 1))})),
        "p": In(cfg.p_frac),
    })


def scan_signature(cfg: AccelConfig) -> wiring.Signature:
    """A lane's scan registers (candidate u and its row sums Z, T), towards lane 0."""
    L = CoreLayouts(cfg)
    return wiring.Signature({"u": Out(signed(L.u_bits)), "z": Out(cfg.z_bits), "t": Out(cfg.z_bits)})


class Lane(TsneLaneMixin, wiring.Component):
    """One processing-element lane.

    Parameters
    ----------
    cfg : AccelConfig
    index : int
        Lane number ``l`` (fixes its K-section weight, FWA role and PRNG seed offset).
    checks : bool
        Add simulation assertions: no two ops claim one lane resource in one cycle
        (`golden_model.timing.LANE_OPS`).  Off for the generated Verilog.
    with_phases : bool or None
        Build the ops of the later phases (`timing.PHASE_OPS`: affinities, t-SNE; None:
        ``cfg.phases``).  Without them the phase ports stay in the signature, unused, and the
        search-only Verilog does not depend on those datapaths.

    Attributes
    ----------
    dist : In(dist_ops_signature(cfg))
        The ``dist`` op from the distance engine, and the distance results back.
    ops : In(search_ops_signature(cfg))
        The ``cand``, ``kern``, ``prng`` and ``scan`` ops from the search controller.
    scan_in : In(scan_signature(cfg))
        The next lane's scan registers (shifted in by ``scan``).
    scan_out : Out(scan_signature(cfg))
        This lane's candidate ``u`` and its row-end results ``h``, ``z``, ``t``.
    state : Out(32)
        PRNG state (observability for the unit tests).
    gauss : Out(signed(11))
        Irwin-Hall sample of the state (`search_fixed.gauss_approx`; the t-SNE initialisation).
    tsne : In(tsne_ops_signature(cfg))
        The t-SNE ops (``tpair``, ``trecip``, ``tnext``, ``tload``, ``tsnap``, ``tscan``, ``tmul``)
        from the t-SNE controller (`hw.lane_tsne`; the update ``tupd`` runs on `hw.tsne_update`).
    tscan_in : In(tscan_signature(cfg)), tscan_out : Out(tscan_signature(cfg))
        This lane's scan registers (a block's snapped sums), and the next lane's (shifted in by
        ``tscan``).
    aff : In(aff_ops_signature(cfg))
        The ``kprob`` op from the affinity controller (`hw.affinity`) and its result ``p``.
    """

    def __init__(self, cfg: AccelConfig, index: int, checks: bool = False, with_phases: bool | None = None):
        self.cfg = cfg
        self.index = index
        self.checks = checks
        self.with_phases = cfg.phases if with_phases is None else with_phases
        L = self.lay = CoreLayouts(cfg)
        roles = lane_roles(cfg)
        self.role = roles[index]
        self.ksec_weight = sf.ksection_weights(cfg)[index]
        W = cfg.w_frac
        # MULA's unsigned operand: a distance (dist, kern, kprob), a feature difference, the
        # candidate span (cand); T r is on the shared ROWEND unit
        self.ma_bits = max(cfg.dist_bits, cfg.feature_bits, L.u_range_bits)
        self.mb_bits = max(W + 1, 16, cfg.feature_bits) + 1
        if self.with_phases:    # MULA is tpair's M2 (`timing.TPAIR_MULS`): dx, signed 18 bits, on b
            self.mb_bits = max(self.mb_bits, TsneWidths(cfg).na)
        super().__init__({
            "dist": In(dist_ops_signature(cfg)),
            "ops": In(search_ops_signature(cfg)),
            "scan_in": In(scan_signature(cfg)),
            "scan_out": Out(scan_signature(cfg)),
            "state": Out(32),
            "gauss": Out(signed(11), init=-510),
            "tsne": In(tsne_ops_signature(cfg)),
            "tscan_in": In(tscan_signature(cfg)),
            "tscan_out": Out(tscan_signature(cfg)),
            "aff": In(aff_ops_signature(cfg)),
        })

    def _valid_chains(self, m):
        """``{op: [valid of stage 0, 1, ...]}`` built from the op table."""
        o = self.ops
        issue = {"dist": self.dist.issue, "cand": o.cand.issue, "kern": o.kern.issue,
                 "scan": o.scan, "prng": o.prng.load | o.prng.step,
                 "tpair": self.tsne.pair.issue, "trecip": self.tsne.recip.issue, "tscan": self.tsne.scan,
                 "tnext": self.tsne.next, "tload": self.tsne.load, "tzsnap": self.tsne.zsnap, "tsnap": self.tsne.snap,
                 "tmul": self.tsne.mul.issue, "kprob": self.aff.kprob.issue}
        built = set(timing.LANE_OPS) - {"tupd"}     # the update runs on `hw.tsne_update`
        if not self.with_phases:        # a search-only lane: its phase ports stay unused
            built -= timing.PHASE_OPS
            issue = {k: s for k, s in issue.items() if k in built}
        assert set(issue) == built, "every op of the table this lane builds needs an issue port"
        v = valid_chains(m, issue)
        if self.checks:
            check_conflicts(m, v, f"lane {self.index}")
        return v

    def elaborate(self, platform):
        m = Module()
        cfg, L = self.cfg, self.lay
        W, T, U = cfg.w_frac, cfg.t_frac, cfg.u_frac
        DB, FB = cfg.dist_bits, cfg.feature_bits
        dist, cand, kern, prng = self.dist, self.ops.cand, self.ops.kern, self.ops.prng
        out = self.scan_out
        v = self._valid_chains(m)
        sd = timing.stage_of

        def at(op, res):
            """Valid of the stage of ``op`` that uses ``res`` (0 for an op this lane does not build)."""
            return v[op][sd(op, res)] if op in v else C(0, 1)

        def delayed(sig, n, name):
            """``sig`` through ``n`` unconditional registers (ops advance one stage per cycle)."""
            return delay_line(m, sig, n, f"{name}_d")

        # addressed: each FU claimant presents its own ROM address (the AND-OR multiplexer of
        # `opchain.steer` then feeds the ROM's address input directly)
        # its ROM holds the tables of the ops this lane builds: exp2 (cand, kern, kprob), and the
        # reciprocal of the t-SNE ops (the row-end LOG / RECIP are on the shared `RowendUnit`)
        m.submodules.fu = fu = FunctionUnit(cfg, addressed=True, ops=(FuOp.EXP_T, FuOp.EXP_U) + (
            (FuOp.RECIP,) if self.with_phases else ()))

        # ------------------------------------------------------------ MULA (stages timing.MUL)
        # operand registers; partial products of at most 18 x 18 bits (one DSP block each); sum
        mul_a = Signal(self.ma_bits)
        mul_b = Signal(signed(self.mb_bits))
        mul_en = Signal()
        a_q = Signal(self.ma_bits)
        b_q = Signal(signed(self.mb_bits))
        with m.If(mul_en):
            m.d.sync += [a_q.eq(mul_a), b_q.eq(mul_b)]
        SPLIT = 17
        prod = Signal(signed(self.ma_bits + self.mb_bits))
        p_lo = Signal(signed(SPLIT + self.mb_bits + 1))
        m.d.sync += p_lo.eq(_zx(a_q[:SPLIT]) * b_q)
        if self.ma_bits > SPLIT:
            p_hi = Signal(signed(self.ma_bits - SPLIT + self.mb_bits + 1))
            m.d.sync += p_hi.eq(_zx(a_q[SPLIT:]) * b_q)
            m.d.sync += prod.eq(p_lo + (p_hi << SPLIT))
        else:
            m.d.sync += prod.eq(p_lo)
        self._mula = (mul_en, mul_a, mul_b, p_lo)      # tpair's M2 (`hw.lane_tsne`)

        # ------------------------------------------------------------ DIST
        absd = Signal(FB)
        tags = delayed(Cat(dist.first, dist.last, dist.valid, dist.is_self), sd("dist", "dacc"), "dist_tags")
        diff = Signal(signed(FB + 1))
        m.d.comb += diff.eq(_zx(dist.xi) - _zx(dist.xj))
        with m.If(at("dist", "absdiff")):
            m.d.sync += absd.eq(Mux(diff < 0, -diff, diff))
        dacc = Signal(DB)
        dnew = Signal(DB)
        m.d.comb += dnew.eq(Mux(tags[0], 0, dacc) + prod[:DB])
        mm_ok = Signal()
        m.d.sync += [dist.dwr.eq(0)]
        with m.If(at("dist", "dacc")):
            m.d.sync += dacc.eq(dnew)
            with m.If(tags[1]):
                m.d.sync += [dist.dout.eq(dnew), dist.dwr.eq(1), mm_ok.eq(tags[2] & ~tags[3])]
        with m.If(dist.mm_clear):
            m.d.sync += [dist.lmin.eq((1 << DB) - 1), dist.lmax.eq(0)]
        with m.Elif(at("dist", "minmax") & dist.dwr & mm_ok):
            with m.If(dist.dout < dist.lmin):
                m.d.sync += dist.lmin.eq(dist.dout)
            with m.If(dist.dout > dist.lmax):
                m.d.sync += dist.lmax.eq(dist.dout)

        # ------------------------------------------------------------ PRNG
        state = self.state
        off = ((self.index + 1) * sf.SEED_LANE_STEP) & sf.MASK32
        # the seed (point + offset, 0 -> 1) is registered every cycle: the controllers present the
        # point one cycle before its load (checked below), so no adder sits before the state
        seed_sum, seed = Signal(32), Signal(32)
        m.d.comb += seed_sum.eq(prng.point + off)
        # seed_sum == 0 tested on the point itself (point == -off), beside the adder, not behind it
        m.d.sync += seed.eq(Mux(prng.point == ((-off) & sf.MASK32), 1, seed_sum))
        if self.checks:
            point_prev = Signal(32)
            m.d.sync += point_prev.eq(prng.point)
            m.d.sync += Assert(~prng.load | (prng.point == point_prev),
                               Format(f"lane {self.index}: prng.point changed in the cycle of its load"))
        xs = Signal(32)
        m.d.comb += xs.eq(xorshift32_hw(state))
        state_nxt = next_values(m, state)
        with m.If(prng.load):
            m.d.comb += state_nxt.eq(seed)
        with m.Elif(prng.step):
            m.d.comb += state_nxt.eq(xs)
        uni = state[16:32].as_signed()
        # registered so that it always equals the sum of the current state's bytes (reset: state 0,
        # gauss -510 = the port's init) while the byte adders stay off the multiplier's operand
        # path; one set of byte adders behind the next state's select (a set per source, as before,
        # cost more lane logic: part of session 24's measured cut)
        def byte_sum(x):
            return x[0:8] + x[8:16] + x[16:24] + x[24:32] - 510
        gauss = self.gauss
        with m.If(prng.load | prng.step):
            if self.index == 0 and self.with_phases:
                # lane 0 of a phases core: its strobes come from the t-SNE engine's INIT through
                # the core's op multiplexers (late), so both sums side by side and the strobe last
                m.d.sync += gauss.eq(Mux(prng.load, byte_sum(seed), byte_sum(xs)))
            else:
                m.d.sync += gauss.eq(byte_sum(Mux(prng.load, seed, xs)))

        # ------------------------------------------------------------ CAND
        # the op's operands are latched at issue (the controller may move on)
        us = signed(L.u_bits)
        c_kind = Signal(2)
        c_base, c_centre, c_lo, c_hi = (Signal(us, name=f"cand_{n}") for n in ("base", "centre", "lo", "hi"))
        with m.If(cand.issue):
            m.d.sync += [c_kind.eq(cand.kind), c_base.eq(cand.base), c_centre.eq(cand.centre),
                         c_lo.eq(cand.lo), c_hi.eq(cand.hi)]
        cand_b = Signal(signed(self.mb_bits))
        with m.Switch(cand.kind):
            with m.Case(CandKind.KSEC):
                m.d.comb += cand_b.eq(self.ksec_weight)
            with m.Case(CandKind.FWA):
                m.d.comb += cand_b.eq(uni if self.role >= 0 else gauss)
        rb = L.u_range_bits
        dsat = (1 << (rb + 2)) - 1
        sh = self.role * cfg.fwa_amp_rank_shift - 15 if self.role >= 0 else -7
        fwa_full = (prod << sh) if sh >= 0 else (prod >> -sh)
        # clamp to [-dsat, dsat], dsat = 2^(rb+2) - 1, with the comparisons as bit reductions (a
        # wide comparison with a constant would be a carry chain behind the multiplier's sum):
        # x > dsat <=> x >= 0 with a one above bit rb+1; x < -dsat <=> x < 0 and not (ones above
        # bit rb+1 and some one below)
        fw = len(fwa_full)
        if fw - 1 > rb + 2:
            sign, mid, low = fwa_full[fw - 1], fwa_full[rb + 2: fw - 1], fwa_full[: rb + 2]
            over = ~sign & mid.any()
            under = sign & (~mid.all() | ~low.any())
        else:
            over = Mux(fwa_full > dsat, 1, 0)
            under = Mux(fwa_full < -dsat, 1, 0)
        # the clamp is applied one stage later (cand_sum): cand_delta registers the raw delta and
        # the two saturation flags, so the reductions behind prod end at two flip-flops and the
        # delta bits leave prod through one multiplexer level
        delta_raw = Signal(signed(rb + 3))
        d_over, d_under = Signal(), Signal()
        delta = Signal(signed(rb + 3))
        m.d.comb += delta.eq(Mux(d_over, dsat, Mux(d_under, -dsat, delta_raw)))
        base = Signal(us)
        base_sel = Signal(us)
        m.d.comb += base_sel.eq(Mux((c_kind == CandKind.FWA) | (c_kind == CandKind.LANE), c_centre, c_base))
        xb = max(L.u_bits, rb + 3) + 3
        # The mirror at the bracket, y = x > hi ? 2 hi - x : x < lo ? 2 lo - x : x with x = base +
        # delta registered in cand_sum: the two comparisons and the two differences run side by
        # side in cand_mirror. (Session 16 registered the bound differences with base and did
        # three sums and two comparisons with x, a one-multiplexer mirror stage; that was ~8 % of
        # the lane's logic for an op issued once per pass, measured, and K = 32 needs the area.)
        with m.If(at("cand", "cand_delta")):
            m.d.sync += base.eq(base_sel)
            is_fwa = c_kind == CandKind.FWA
            m.d.sync += [d_over.eq(is_fwa & over), d_under.eq(is_fwa & under)]
            with m.Switch(c_kind):
                with m.Case(CandKind.KSEC):
                    m.d.sync += delta_raw.eq(prod >> sf.KSECTION_SHIFT)
                with m.Case(CandKind.FWA):
                    m.d.sync += delta_raw.eq(fwa_full)
                with m.Default():
                    m.d.sync += delta_raw.eq(0)
        x = Signal(signed(xb))
        y = Signal(signed(xb))
        with m.If(at("cand", "cand_sum")):
            m.d.sync += x.eq(base + delta)
        with m.If(at("cand", "cand_mirror")):
            m.d.sync += y.eq(Mux(x > c_hi, 2 * c_hi - x, Mux(x < c_lo, 2 * c_lo - x, x)))
        # g = -u mod 2^U (EXP_U's fraction) is registered beside u from the same clamp: the
        # negations of y and of the bounds run beside the comparisons, so the function unit's
        # address sees a register, not a carry chain behind u (re-timing, session 17; -x mod 2^U
        # depends on x's low U bits only)
        g = Signal(U)
        with m.If(at("cand", "u")):
            m.d.sync += [out.u.eq(Mux(y > c_hi, c_hi, Mux(y < c_lo, c_lo, y))),
                         g.eq(Mux(y > c_hi, (-c_hi)[:U], Mux(y < c_lo, (-c_lo)[:U], (-y)[:U])))]
        if self.checks:
            with m.If(at("cand", "fu_rom")):
                m.d.sync += Assert(g == (-out.u)[:U], Format("lane: g is not -u mod 2^U"))
        ui = Signal(signed(L.u_bits - U + 2))
        m.d.comb += ui.eq((out.u + ((1 << U) - 1)) >> U)
        ui_d = Signal.like(ui)
        with m.If(at("cand", "fu_rom")):
            m.d.sync += ui_d.eq(ui)
        # bm, right-shift amount of the kernel's exponent argument
        s_max = (cfg.u_hi >> U) - W + T
        SL = max(0, s_max)
        bm = Signal(W + 1)
        rs = Signal(range(SL + W - T + L.u_bits + 2 + (DB + 4)))
        with m.If(at("cand", "bm")):
            m.d.sync += [bm.eq(fu.o_y), rs.eq(SL + W - T - ui_d)]

        # ------------------------------------------------------------ KERN
        limit = L.t_limit
        pk = prod[: DB + W + 1]
        tfull = Signal(DB + W + 1 + SL)
        kp = self.aff.kprob

        def kern_or_kprob(res):
            """``kprob`` runs the kernel's stages up to ``w`` on the same registers."""
            return at("kern", res) | at("kprob", res)
        with m.If(kern_or_kprob("tshift")):
            m.d.sync += tfull.eq((pk << SL) >> rs)
        tq = Signal(L.t_bits)
        sat = Signal()
        with m.If(kern_or_kprob("tsat")):
            m.d.sync += [tq.eq(Mux(tfull >= limit, limit, tfull)), sat.eq(tfull >= limit)]
        s_tq = sd("kern", "tsat") + 1                     # stage in which tq is visible
        tq_w = delayed(tq, sd("kern", "wshift") - s_tq, "tq_w")
        sat_w = delayed(sat, sd("kern", "wshift") - s_tq, "sat_w")
        # t for the t w multiplier: in the stage twmul (search-only lanes), or in the stage before,
        # where it is written into the multiplier's operand register (lanes with the phases, below)
        tq_tw = delayed(tq, sd("kern", "twmul") - s_tq - (1 if self.with_phases else 0), "tq_tw")
        n_w = tq_w >> T
        w = Signal(W + 1)
        w_new = Mux(sat_w | (n_w > W), 0, fu.o_y >> n_w)
        with m.If(kern_or_kprob("wshift")):
            m.d.sync += w.eq(w_new)
        # KPROB: the row's r and e, latched at issue; w r on TMW (steered in `hw.lane_tsne`), then
        # the shift by 2W + e - P and the saturation (register ``psat``)
        kp_r = Signal(W + 1)
        # the shift 2W - P + e, added at the issue (not in the psat stage, which shifts and saturates)
        kp_sh = Signal(range(2 * W + cfg.z_bits + 1))
        if self.with_phases:
            with m.If(kp.issue):
                m.d.sync += [kp_r.eq(kp.r), kp_sh.eq(2 * W - cfg.p_frac + kp.e)]
        self._kprob_tm0 = (w, kp_r)

        def kprob_out(prod):
            # p = min(q, 2^P - 1), q = prod >> kp_sh (prod = w r >= 0): q[:P], or all ones when a
            # bit of q at P or above is set, tested on prod through a mask of its bits at kp_sh + P
            # and above (registered at the issue: beside the shifter, not after it)
            pf, pw = cfg.p_frac, len(prod)
            q = Signal(pw, name="kprob_q")
            m.d.comb += q.eq(prod >> kp_sh)
            hi_mask = Signal(pw, name="kprob_hi")
            if self.with_phases:
                ones = C((1 << pw) - 1, pw)
                low = 2 * W + kp.e                                # kp_sh + P of this issue
                with m.If(kp.issue):
                    m.d.sync += hi_mask.eq(~(ones >> (pw - Mux(low > pw, pw, low)).as_unsigned()))
            with m.If(at("kprob", "psat")):
                m.d.sync += self.aff.p.eq(Mux((prod & hi_mask).any(), (1 << pf) - 1, q[:pf]))
        self._kprob_out = kprob_out
        tw = Signal(W + 1 + 1)
        if not self.with_phases:
            with m.If(at("kern", "twmul")):
                m.d.sync += tw.eq((tq_tw * w) >> T)
        else:
            # the t w multiplier is also tpair's M3 (`timing.TPAIR_MULS`): operand registers of
            # its own (resource ``twmul_in``: kern writes t and w into them beside w, tpair its
            # dx and r2), so the DSP takes registers and the multiplexer sits in front of them;
            # the product registered for each (kern's tw, M3's product)
            tsw = TsneWidths(cfg)
            assert sd("kern", "twmul_in") == sd("kern", "wshift") == sd("kern", "twmul") - 1
            tw_a, tw_b, tw_en = (Signal(signed(max(tsw.na, len(tq) + 1)), name="twmul_a"),
                                 Signal(max(len(w), tsw.nbw), name="twmul_b"), Signal(name="twmul_en"))
            tw_aq, tw_bq = Signal.like(tw_a, name="twmul_aq"), Signal.like(tw_b, name="twmul_bq")
            with m.If(tw_en):
                m.d.sync += [tw_aq.eq(tw_a), tw_bq.eq(tw_b)]
            self._twmul_kern = [tw_en.eq(1), tw_a.eq(tq_tw), tw_b.eq(w_new)]
            tw_p = Signal(signed(len(tw_a) + len(tw_b)), name="twmul_p")
            m.d.comb += tw_p.eq(tw_aq * tw_bq)
            with m.If(at("kern", "twmul")):
                m.d.sync += tw.eq(tw_p >> T)
            m3_prod = Signal(signed(tsw.npw), name="tm3_prod")
            m.d.sync += m3_prod.eq(tw_p)
            self._m3 = (tw_a, tw_b, tw_en, m3_prod)
        zacc, tacc = out.z, out.t
        # Z through its next value (`regnext`): CAND's clear and SCAN's shift as next values
        zacc_nxt = next_values(m, zacc)
        with m.If(cand.issue):
            m.d.comb += zacc_nxt.eq(0)
            m.d.sync += tacc.eq(0)
        with m.Else():
            with m.If(at("kern", "z")):
                m.d.comb += zacc_nxt.eq(zacc + w)
            with m.If(at("kern", "t")):
                m.d.sync += tacc.eq(tacc + tw)

        # ------------------------------------------------------------ shared resources
        def mul(a, b):
            return [mul_en.eq(1), mul_a.eq(a), mul_b.eq(b)]

        # the t-SNE datapath: its drives of the function unit and of MULA (tpair's M2)
        tsne = self._elaborate_tsne(m, v, fu, delayed) if self.with_phases else {"fu_rom": {}, "mul_in": {}}
        if self.with_phases:
            steer(m, v, "twmul_in", {("kern", sd("kern", "twmul_in")): self._twmul_kern, **tsne["twmul_in"]})
        steer(m, v, "mul_in", {
            ("dist", sd("dist", "mul_in")): mul(absd, absd),
            ("cand", sd("cand", "mul_in")): mul(cand.a, cand_b),
            ("kern", sd("kern", "mul_in")): mul(kern.d, bm),
            ("kprob", sd("kprob", "mul_in")): mul(kp.d, bm),
            **tsne["mul_in"],
        })

        def fu_in(op, f):
            return fu.operand(op, f)

        steer(m, v, "fu_rom", {**tsne["fu_rom"],
            ("cand", sd("cand", "fu_rom")): fu_in(FuOp.EXP_U, g),
            ("kern", sd("kern", "fu_rom")): fu_in(FuOp.EXP_T, tq[:T]),
            ("kprob", sd("kprob", "fu_rom")): fu_in(FuOp.EXP_T, tq[:T]),
        })

        # ------------------------------------------------------------ scan chain
        with m.If(v["scan"][0]):
            m.d.sync += [out.u.eq(self.scan_in.u), tacc.eq(self.scan_in.t)]
            m.d.comb += zacc_nxt.eq(self.scan_in.z)
        return m
