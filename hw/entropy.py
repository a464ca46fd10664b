"""Occupancy-entropy phase in RTL (twin of `golden_model.entropy_fixed`; docs/hardware.md,
"Entropy and grid phases").

`CellUnit` (shared with `hw.grid`): reads the integer embedding through an embedding read port
(the t-SNE engine's y memory layout: one word per point, coordinate 0 | coordinate 1 << yb,
signed Q(y_int_bits).y_frac, synchronous read) and

* ``MINMAX``: per axis ``lo = min y``, ``span = max y - lo`` (one point per cycle);
* ``PASS``: per point and axis the cell ``min(floor((y - lo) g 2^fr / span) >> fr, g - 1)`` and the
  in-cell offset ``e`` of `entropy_fixed.cell_coords` (``fr`` = 0 or ``frac``), by one iterative
  restoring divider per axis: ``bitlen(g) + fr`` cycles per point (the next point's read,
  ``y - lo`` and ``(y - lo) g`` are prepared during the steps, so the divider never waits); the
  output is the cell index ``row g + col`` and the squared offset ``ex^2 + ey^2``.

`EntropyUnit`: MINMAX (and ``G = reference.entropy_grid_side(N, cfg)`` by an increment loop in
parallel), CLEAR of the ``G^2`` counters, the cell PASS into the counter memory
(read-modify-write; a write-transparent read port forwards a count written in the cycle of the
next read, so hits on one cell in consecutive cycles count right), SUM ``S = sum c L(c)`` over
the cells through a `hw.arith.FunctionUnit` (LOG) and one ``count x log`` multiplier, FIN
``H = L(N) - floor(S r / 2^(W + p))`` (LOG and RECIP of N on the same function unit, ``S r`` by
shift-add).  Cycles: `golden_model.phase_schedule.entropy_cycles`.
"""

from __future__ import annotations

from amaranth.hdl import C, Cat, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from golden_model import timing
from golden_model.config import AccelConfig, bit_length

from .arith import FU_LATENCY, FunctionUnit, FuOp, normalise
from .regnext import next_values

__all__ = ["embedding_read_signature", "y_bits", "histogram_rmw", "CellUnit", "EntropyUnit"]


def y_bits(cfg: AccelConfig) -> int:
    """Width of one signed coordinate in the embedding memory (`hw.lane_tsne.TsneWidths.yb`)."""
    return 1 + cfg.y_int_bits + cfg.y_frac


def embedding_read_signature(cfg: AccelConfig) -> wiring.Signature:
    """Reader's view of an embedding memory read port: ``addr`` (point), ``data`` = coordinate 0 |
    coordinate 1 << yb one cycle after the address (a synchronous read port of `hw.tsne`'s y
    memory, or of a copy with the same layout)."""
    return wiring.Signature({"addr": Out(range(cfg.n_max)), "data": In(2 * y_bits(cfg))})


def histogram_rmw(m: Module, rp, wp, valid, cell, name: str = "h"):
    """Count ``cell`` (a counter memory's read-modify-write, `timing.HIST_RMW` = 2 cycles): the
    caller drives ``rp.addr = cell`` in the cycle of ``valid``; the count arrives a cycle later and
    is registered (no logic after the block RAM's output), ``count + 1`` is written one cycle after
    that.  ``rp`` must be write-transparent for ``wp``, which forwards a write to a read in the
    same cycle; a write one cycle after the read (the previous point's, when both hit one cell) is
    forwarded here.  Returns ``(we, old)``: the write strobe and the count before the increment."""
    assert timing.HIST_RMW == 2
    v1, v2, fwd = (Signal(name=f"{name}_{n}") for n in ("v1", "v2", "fwd"))
    c1, c2 = Signal.like(cell, name=f"{name}_c1"), Signal.like(cell, name=f"{name}_c2")
    rq, wlast = Signal.like(rp.data, name=f"{name}_rq"), Signal.like(rp.data, name=f"{name}_wlast")
    # stage 1: the read; stage 2: the data registered, and the write (c2) - the point in stage 1
    # reads before that write lands, so it takes the written value if it hits the same cell
    m.d.sync += [v1.eq(valid), c1.eq(cell), v2.eq(v1), c2.eq(c1), rq.eq(rp.data), fwd.eq(v2 & (c1 == c2))]
    old = Signal.like(rp.data, name=f"{name}_old")
    m.d.comb += old.eq(Mux(fwd, wlast, rq))
    with m.If(v2):
        m.d.comb += [wp.en.eq(1), wp.addr.eq(c2), wp.data.eq(old + 1)]
        m.d.sync += wlast.eq(old + 1)
    return v2, old


class CellUnit(wiring.Component):
    """Min/max pass and cell pass over the embedding (see module doc).

    Parameters
    ----------
    cfg : AccelConfig
    g_max : int
        Largest grid side of a pass.
    frac : int
        In-cell position bits of a ``fine`` pass.

    Attributes
    ----------
    emb : Out(embedding_read_signature(cfg))
    n : In(count_bits)
        N >= 1, set at least one cycle before ``mm_go`` and stable until the pass ends.
    mm_go : In(1)
        Start MINMAX (idle only); ``mm_done`` pulses `timing.CELL_MINMAX` + N cycles later.
    pass_go : In(1), g : In, fine : In(1)
        Start a cell pass on the g x g grid (idle only, after a MINMAX), with ``frac`` offset bits
        if ``fine``.  Point i's ``out_valid`` is high in cycle ``go + CELL_FILL + (i + 1) Q +
        CELL_OUT``, ``Q = bitlen(g) + (frac if fine else 0)``; ``out_last`` with point N - 1.
    out_index, out_cell, out_dist : Out
        Point, ``row g + col``, ``ex^2 + ey^2`` (units of ``2^-2(frac + 1)`` cell widths squared).
    """

    def __init__(self, cfg: AccelConfig, g_max: int, frac: int):
        self.cfg, self.g_max, self.frac = cfg, g_max, frac
        self.gb = bit_length(g_max)                      # quotient bits of the cell part
        self.qmax = self.gb + frac
        self.cell_bits = max(1, bit_length(g_max * g_max - 1))
        self.dist_bits = 2 * frac + 2
        super().__init__({
            "emb": Out(embedding_read_signature(cfg)),
            "n": In(cfg.count_bits),
            "mm_go": In(1), "mm_done": Out(1),
            "pass_go": In(1), "g": In(range(g_max + 1)), "fine": In(1),
            "out_valid": Out(1), "out_last": Out(1), "out_index": Out(range(cfg.n_max)),
            "out_cell": Out(self.cell_bits), "out_dist": Out(self.dist_bits),
        })

    def elaborate(self, platform):
        m = Module()
        cfg, GB, FR, QM = self.cfg, self.gb, self.frac, self.qmax
        yb = y_bits(cfg)
        ys = [self.emb.data[:yb].as_signed(), self.emb.data[yb:2 * yb].as_signed()]
        lo = [Signal(signed(yb), name=f"lo{a}") for a in range(2)]
        mn = [Signal(signed(yb), name=f"mn{a}") for a in range(2)]
        mx = [Signal(signed(yb), name=f"mx{a}") for a in range(2)]
        span = [Signal(yb, name=f"span{a}") for a in range(2)]
        nb = cfg.count_bits + 1
        ptr = Signal(nb)
        ptr1 = Signal(nb + 1)                               # ptr + 1, kept (no adder before the address)
        adv = Signal()
        pass_end = Signal()                                 # PASS's last cycle
        m.d.comb += self.emb.addr.eq(Mux(adv, ptr1, ptr))   # look-ahead: data follows ptr
        # N + 1, N + 2 and N - 1 as registers (N is stable long before a pass): no adder before a
        # compare
        n_p1, n_p2, n_m1 = Signal(cfg.count_bits + 1), Signal(cfg.count_bits + 1), Signal(cfg.count_bits)
        m.d.sync += [n_p1.eq(self.n + 1), n_p2.eq(self.n + 2), n_m1.eq(self.n - 1)]
        # MINMAX compares registered coordinates (the y port's data straight into the compares
        # and the min / max enables: 10.0-10.3 ns in session 43); ptr is 0 in IDLE, so point 0 is
        # read in mm_go's cycle and the registered copy costs no cycle
        ys_q = [Signal(signed(yb), name=f"ysq{a}") for a in range(2)]
        m.d.sync += [ys_q[a].eq(ys[a]) for a in range(2)]
        m.d.sync += self.mm_done.eq(0)

        # pass registers
        g = Signal(range(self.g_max + 1))
        B = Signal(range(GB + 1))                           # bitlen(g)
        BL = Signal(range(GB + 1))                          # GB - bitlen(g): left-alignment of the low bits
        fine = Signal()
        FILL = timing.CELL_FILL
        fill = Signal(range(FILL + 1))
        fill_nxt = next_values(m, fill)
        dgb = yb + GB
        DL = min(yb, 18)                                    # d's low bits: d g = d_lo g + (d_hi g << DL)
        d = [Signal(yb, name=f"d{a}") for a in range(2)]
        dpl = [Signal(DL + GB, name=f"dpl{a}") for a in range(2)]
        dph = [Signal(max(1, yb - DL + GB), name=f"dph{a}") for a in range(2)]
        dg = [Signal(dgb, name=f"dg{a}") for a in range(2)]
        v_d, v_dp, v_dg = Signal(), Signal(), Signal()
        i_d, i_dp, i_dg, i_div = (Signal(range(cfg.n_max), name=n) for n in ("i_d", "i_dp", "i_dg", "i_div"))
        hi = [Signal(yb, name=f"hi{a}") for a in range(2)]
        lob = [Signal(GB, name=f"lob{a}") for a in range(2)]
        q = [Signal(QM, name=f"q{a}") for a in range(2)]
        st = Signal(range(QM + 1))
        dbusy = Signal()
        st_nxt, dbusy_nxt = next_values(m, st, dbusy)
        # adv's two terms as registers of the next values (session 43): adv feeds the look-ahead
        # address of the embedding read, the select unit's y port (rd_y, 11.0 ns in session 42)
        fmid, dz = Signal(), Signal()
        m.d.sync += [fmid.eq((fill_nxt != 0) & (fill_nxt != FILL)), dz.eq(dbusy_nxt & (st_nxt == 0))]
        v1, last1 = Signal(), Signal()
        q1 = [Signal(QM, name=f"q1_{a}") for a in range(2)]
        nz1 = [Signal(name=f"nz1_{a}") for a in range(2)]
        i1 = Signal(range(cfg.n_max))
        m.d.sync += v1.eq(0)

        bl = Signal(range(GB + 1))                          # bitlen of the g input
        for k in range(GB):
            with m.If(self.g[k]):
                m.d.comb += bl.eq(k + 1)

        with m.FSM(name="cell"):
            with m.State("IDLE"):
                with m.If(self.mm_go):
                    m.d.sync += [ptr.eq(1), ptr1.eq(2)]     # point 0 read in this cycle (ptr = 0)
                    m.next = "MM"
                with m.Elif(self.pass_go):
                    m.d.comb += fill_nxt.eq(0)
                    m.d.sync += [ptr.eq(0), ptr1.eq(1), g.eq(self.g), B.eq(bl), BL.eq(GB - bl), fine.eq(self.fine),
                                 v_d.eq(0), v_dp.eq(0), v_dg.eq(0)]
                    m.next = "PASS"
            with m.State("MM"):
                # address ptr in cycle ptr (from mm_go's cycle, ptr = 0, on); point ptr - 1's
                # coordinates arrive, point ptr - 2's are in ys_q
                m.d.sync += [ptr.eq(ptr1), ptr1.eq(ptr1 + 1)]
                for a in range(2):
                    with m.If(ptr == 2):
                        m.d.sync += [mn[a].eq(ys_q[a]), mx[a].eq(ys_q[a])]
                    with m.Elif((ptr >= 3) & (ptr <= n_p1)):
                        with m.If(ys_q[a] < mn[a]):
                            m.d.sync += mn[a].eq(ys_q[a])
                        with m.If(ys_q[a] > mx[a]):
                            m.d.sync += mx[a].eq(ys_q[a])
                with m.If(ptr == n_p2):
                    m.d.sync += [self.mm_done.eq(1), ptr.eq(0), ptr1.eq(1)] + [
                        x for a in range(2) for x in (lo[a].eq(mn[a]), span[a].eq(mx[a] - mn[a]))]
                    m.next = "IDLE"
            with m.State("PASS"):
                # fill 1 .. FILL - 1: advance the front end (the last also loads the divider)
                with m.If(fill != FILL):
                    m.d.comb += fill_nxt.eq(fill + 1)
                m.d.comb += adv.eq(fmid | dz)           # (fill not 0 or FILL) | (dbusy & st == 0)
                with m.If(dz & (i_div == n_m1)):
                    m.d.comb += pass_end.eq(1)
                    m.next = "IDLE"

        # front end: y - lo, (y - lo) g, one step per advance; the product in two stages: the
        # partial products of d's low 18 and high bits (each one 18 x 18 DSP straight into a
        # register, which synth.dsp_regs moves into the DSP), then their sum.  (Split at g's bits
        # instead, session 41, each partial product still took two DSPs and an adder: 12.2 ns)
        assert FILL == 5, "CELL_FILL: address, read, d, the partial products, d g"
        with m.If(adv):
            m.d.sync += [ptr.eq(ptr1), ptr1.eq(ptr1 + 1), v_d.eq(ptr < self.n), i_d.eq(ptr),
                         v_dp.eq(v_d), i_dp.eq(i_d), v_dg.eq(v_dp), i_dg.eq(i_dp)]
            for a in range(2):
                m.d.sync += [d[a].eq(ys[a] - lo[a]), dpl[a].eq(d[a][:DL] * g),
                             dph[a].eq(d[a][DL:] * g if yb > DL else 0),
                             dg[a].eq(dpl[a] + (dph[a] << DL))]

        with m.If(pass_end):                                # ptr is 0 in IDLE (MINMAX's first read)
            m.d.sync += [ptr.eq(0), ptr1.eq(1)]

        # dividers: load, then Q = B + fr steps t = 2 hi + next bit; t >= span -> subtract
        Q = Signal(range(QM + 1))
        m.d.comb += Q.eq(B + Mux(fine, FR, 0))
        with m.If(dbusy):
            m.d.comb += st_nxt.eq(st - 1)
            for a in range(2):
                t = Cat(lob[a][GB - 1], hi[a])
                ge = t >= span[a]
                hn = Mux(ge, t - span[a], t)
                m.d.sync += [hi[a].eq(hn), lob[a].eq(lob[a] << 1), q[a].eq(Cat(ge, q[a]))]
                with m.If(dz):                      # dz = dbusy & st == 0
                    const = span[a] == 0                    # constant axis: position 0 of cell 0
                    m.d.sync += [q1[a].eq(Mux(const, 0, Cat(ge, q[a]))), nz1[a].eq(~const & (hn != 0))]
            with m.If(dz):                          # dz = dbusy & st == 0
                m.d.comb += dbusy_nxt.eq(0)
                m.d.sync += [v1.eq(1), i1.eq(i_div), last1.eq(i_div == n_m1)]
        with m.If(adv & v_dg):
            m.d.comb += [dbusy_nxt.eq(1), st_nxt.eq(Q - 1)]
            m.d.sync += i_div.eq(i_dg)
            for a in range(2):
                m.d.sync += [hi[a].eq(dg[a] >> B), lob[a].eq((dg[a] << BL)[:GB]), q[a].eq(0)]

        # output stages: cell and offset, then cell index and squared offset
        v2, last2 = Signal(), Signal()
        i2 = Signal(range(cfg.n_max))
        cell = [Signal(range(self.g_max), name=f"cell{a}") for a in range(2)]
        # |e| (FR + 2 bits: |e| < 2^(FR + 2)): the squares are then unsigned (FR + 2) x (FR + 2)-bit
        # products, one 18 x 18 multiplier each for grid_frac 16 (a signed 19-bit square took
        # several and their sum: 10.6 ns before session 41)
        e = [Signal(FR + 2, name=f"ae{a}") for a in range(2)]
        m.d.sync += [v2.eq(v1), last2.eq(last1), i2.eq(i1)]
        # e = 2 z + nz1 - k with z = q1 - c (c << FR when fine), k = 1 (2^FR when fine): both
        # cases of the clamp c = min(qi, g - 1) side by side, each one subtraction (z = the low FR
        # bits of q1, or 0, unclamped; q1 - (g - 1 << FR) clamped, its constants folded into the
        # pass register cc), the clamp's compare choosing, not in series with them
        gm1 = Signal(signed(len(g) + 1))
        cc = Signal(signed(len(g) + FR + 4))
        m.d.sync += [gm1.eq(g - 1), cc.eq((Mux(fine, (g - 1) << FR, g - 1) << 1) + Mux(fine, 1 << FR, 1))]
        for a in range(2):
            qi = Mux(fine, q1[a] >> FR, q1[a])
            clamp = qi > gm1
            low = Mux(fine, q1[a][:FR], 0) if FR else C(0, 1)
            def mag(x, c):      # |x - c|: both differences side by side, chosen by the sign of one
                dif = Signal(signed(max(len(x), len(c)) + 2), name=f"edif{a}_{len(c)}")
                m.d.comb += dif.eq(x - c)
                return Mux(dif[-1], c - x, dif)
            e_free = mag(Cat(nz1[a], low), Mux(fine, C(1 << FR, FR + 2), C(1, FR + 2)))
            e_clamp = mag(Cat(nz1[a], q1[a]), cc)
            m.d.sync += [cell[a].eq(Mux(clamp, gm1, qi)), e[a].eq(Mux(clamp, e_clamp, e_free))]
        # cell index and the two squares, then their sum: two stages (a multiplier and an adder
        # in one would be the unit's longest path)
        v3, last3 = Signal(), Signal()
        i3 = Signal(range(cfg.n_max))
        # the cell index likewise: row g, then + col (the multiply-add in one stage: 10.9 ns)
        row3, col3 = Signal.like(self.out_cell, name="row3"), Signal.like(cell[0], name="col3")
        sq = [Signal(2 * (FR + 3), name=f"sq{a}") for a in range(2)]
        m.d.sync += [v3.eq(v2), last3.eq(v2 & last2), i3.eq(i2), row3.eq(cell[1] * g), col3.eq(cell[0]),
                     *[sq[a].eq(e[a] * e[a]) for a in range(2)]]
        m.d.sync += [self.out_valid.eq(v3), self.out_last.eq(last3), self.out_index.eq(i3),
                     self.out_cell.eq(row3 + col3), self.out_dist.eq(sq[0] + sq[1])]
        return m


class EntropyUnit(wiring.Component):
    """Occupancy entropy of the embedding (`entropy_fixed.occupancy_entropy_fixed`).

    Attributes
    ----------
    emb : Out(embedding_read_signature(cfg))
    n : In(count_bits)
        N, 1 .. n_max (stable while busy).
    go : In(1)
        Start (idle only).
    busy, done : Out(1)
        ``done`` pulses once, `phase_schedule.entropy_cycles` cycles after ``go``.
    h : Out(signed)
        Entropy in bits, Q.h_frac (valid from ``done``).
    g_side : Out
        G of the run (`reference.entropy_grid_side`).
    rd_addr : In, rd_count : Out
        Histogram read port (idle only; data one cycle after the address): cell ``row G + col``.
    """

    def __init__(self, cfg: AccelConfig):
        self.cfg = cfg
        self.cells = cfg.grid_g * cfg.grid_g
        self.l_bits = bit_length(cfg.count_bits) + cfg.h_frac + 1
        self.s_bits = cfg.count_bits + self.l_bits
        self.h_bits = self.l_bits + 2
        super().__init__({
            "emb": Out(embedding_read_signature(cfg)),
            "n": In(cfg.count_bits), "go": In(1), "busy": Out(1), "done": Out(1),
            "h": Out(signed(self.h_bits)), "g_side": Out(range(cfg.grid_g + 1)),
            "rd_addr": In(range(self.cells)), "rd_count": Out(cfg.count_bits),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg
        W, Hf, CB = cfg.w_frac, cfg.h_frac, cfg.count_bits
        m.submodules.cu = cu = CellUnit(cfg, cfg.grid_g, 0)
        wiring.connect(m, wiring.flipped(self.emb), cu.emb)
        m.d.comb += [cu.n.eq(self.n), cu.g.eq(self.g_side), cu.fine.eq(0)]
        m.submodules.fu = fu = FunctionUnit(cfg)

        hist = Memory(shape=CB, depth=self.cells, init=[])
        m.submodules.hist = hist
        wp = hist.write_port()
        rp = hist.read_port(transparent_for=(wp,))
        m.d.comb += self.rd_count.eq(rp.data)

        G = self.g_side
        sq = Signal(range(4 * cfg.grid_g * cfg.grid_g + 1))   # G^2
        cnt = Signal(range(self.cells + timing.ENT_SUM_PIPE + timing.ent_fin(W) + 2))
        m.d.sync += self.done.eq(0)

        # HIST: read in the output cycle, count + 1 written HIST_RMW cycles later
        h_valid = Signal()
        histogram_rmw(m, rp, wp, h_valid, cu.out_cell)

        # SUM pipeline (ENT_SUM_PIPE): cell read in cycle c (sv0), count registered in c + 1,
        # normaliser register in c + 2, LOG issued in c + 3 (sv3), c L(c) registered in c + 3 + FUL,
        # S += in the next
        FUL = FU_LATENCY
        S = Signal(self.s_bits)
        sv0, sv1, sv2, sv3 = Signal(), Signal(), Signal(), Signal()
        c0, c1 = Signal(CB), Signal(CB)
        p, mnt = normalise(m, c0, CB, W, name="cnorm")
        p1, mn1 = Signal.like(p), Signal(W)
        m.d.sync += [sv1.eq(sv0), sv2.eq(sv1), sv3.eq(sv2), c0.eq(rp.data), c1.eq(c0), p1.eq(p), mn1.eq(mnt)]
        cd, pd, vd = c1, p1, sv3
        for k in range(FUL):
            cn, pn, vn = Signal.like(c1, name=f"c_d{k}"), Signal.like(p1, name=f"p_d{k}"), Signal(name=f"sv_d{k}")
            m.d.sync += [cn.eq(cd), pn.eq(pd), vn.eq(vd)]
            cd, pd, vd = cn, pn, vn
        prod = Signal(CB + self.l_bits)
        pv = Signal()
        m.d.sync += [pv.eq(vd), prod.eq(Mux(cd > 1, cd * ((pd << Hf) + fu.o_y), 0))]
        with m.If(sv3):
            m.d.comb += [fu.i_valid.eq(1), fu.i_op.eq(FuOp.LOG), fu.i_frac.eq(mn1)]
        with m.If(pv):
            m.d.sync += S.eq(S + prod)
        assert timing.ENT_SUM_PIPE == 4 + FUL

        # FIN registers
        pN, mN = normalise(m, self.n, CB, W, name="nnorm")
        pN1, mN1 = Signal.like(pN), Signal(W)
        LN = Signal(self.l_bits)
        r = Signal(W + 1)
        acc = Signal(self.s_bits + W + 1)

        with m.FSM(name="entropy"):
            with m.State("IDLE"):
                m.d.comb += rp.addr.eq(self.rd_addr)
                with m.If(self.go):
                    m.d.comb += cu.mm_go.eq(1)
                    m.d.sync += [self.busy.eq(1), G.eq(2), sq.eq(4), S.eq(0)]
                    m.next = "MM"
            with m.State("MM"):
                # G: the smallest side >= 2 with G^2 entropy_cell_points >= N, at most grid_g
                with m.If((G != cfg.grid_g) & (sq * cfg.entropy_cell_points < self.n)):
                    m.d.sync += [G.eq(G + 1), sq.eq(sq + 2 * G + 1)]
                with m.If(cu.mm_done):
                    m.d.sync += cnt.eq(0)
                    m.next = "CLEAR"
            with m.State("CLEAR"):
                m.d.comb += [wp.en.eq(1), wp.addr.eq(cnt), wp.data.eq(0)]
                m.d.sync += cnt.eq(cnt + 1)
                with m.If(cnt == sq - 1):
                    m.d.comb += cu.pass_go.eq(1)
                    m.next = "HIST"
            with m.State("HIST"):
                m.d.comb += [rp.addr.eq(cu.out_cell), h_valid.eq(cu.out_valid)]
                with m.If(cu.out_last):
                    m.d.sync += cnt.eq(0)
                    m.next = "HWAIT"
            with m.State("HWAIT"):
                # the last count is written in the first SUM cycle (a transparent read sees it)
                m.next = "SUM"
            with m.State("SUM"):
                m.d.comb += [rp.addr.eq(cnt), sv0.eq(cnt < sq)]
                m.d.sync += cnt.eq(cnt + 1)
                with m.If(cnt == sq + timing.ENT_SUM_PIPE - 1):
                    m.d.sync += cnt.eq(0)
                    m.next = "FIN"
            with m.State("FIN"):
                m.d.sync += cnt.eq(cnt + 1)
                with m.If(cnt == 0):
                    m.d.sync += [pN1.eq(pN), mN1.eq(mN)]
                with m.If((cnt == 1) | (cnt == 2)):
                    m.d.comb += [fu.i_valid.eq(1), fu.i_op.eq(Mux(cnt == 1, FuOp.LOG, FuOp.RECIP)),
                                 fu.i_frac.eq(mN1)]
                with m.If(cnt == 1 + FUL):
                    m.d.sync += LN.eq((pN1 << Hf) + fu.o_y)
                with m.If(cnt == 2 + FUL):
                    m.d.sync += [r.eq(fu.o_y), acc.eq(0)]
                with m.If((cnt >= 3 + FUL) & (cnt <= 3 + FUL + W)):
                    # S r, most significant bit of r first
                    m.d.sync += [acc.eq((acc << 1) + Mux(r[W], S, 0)), r.eq(r << 1)]
                with m.If(cnt == timing.ent_fin(W) - 1):
                    m.d.sync += [self.h.eq(LN - (acc >> (pN1 + W))), self.done.eq(1), self.busy.eq(0)]
                    m.next = "IDLE"
        assert timing.ent_fin(W) - 1 == 4 + FUL + W
        return m
