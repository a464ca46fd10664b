"""t-SNE pass controller on K lanes (dataflow (a), docs/hardware.md "t-SNE engine").

Bit-exact with `golden_model.tsne_fixed.forces` + `update` for one iteration per ``go``, in
exactly `golden_model.tsne_schedule.iteration_cycles` cycles (+1 for the ``go`` cycle):

``SCAN``    read-ahead + K ``tscan`` shifts: block b's ``y_i`` enter at the last lane, block b-1's
            Zq partials and A, R leave at lane 0 (into the accumulator memories, Zq summed);
``STREAM``  per ``j``: ``y_j`` and the K S banks read, then ``tpair`` issued ``TSNE_READ`` cycles
            later to every lane whose ``i = bK + l`` is ``< N`` and ``!= j``; one ``j`` every II;
``DRAIN``   until the last pair's accumulation; after the last block a final ``SCAN``;
``RECIP``   ``trecip`` of N and of Zq on lane 0 (``p``, ``recip(m)``);
``COEF``    ``ca = ex rn >> coef_frac``;
``UPDATE``  one point per cycle: gradient, gains, velocity, position (`tsne_fixed.update`).

Memories (own, loaded through the ``ld_*`` port while idle): S in K banks (row ``i`` in bank
``i mod K`` at ``(i div K) n_max + j``, `s_location`), Y, V, G (both coordinates per word), and
the accumulators A, R of the last pass (read back through ``rd_*``).
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from golden_model import timing
from golden_model import tsne_fixed as tf
from golden_model.config import AccelConfig

from .lane import Lane
from .lane_tsne import TsneWidths, split_mul

__all__ = ["TsneEngine", "s_location", "LD_S", "LD_Y", "LD_V", "LD_G"]

LD_S, LD_Y, LD_V, LD_G = 0, 1, 2, 3


def s_location(cfg: AccelConfig, i: int, j: int) -> tuple:
    """(bank, address) of ``S_ij``."""
    return i % cfg.lanes, (i // cfg.lanes) * cfg.n_max + j


def _pack(lo, hi, w):
    return Cat(lo[:w], hi[:w])


class TsneEngine(wiring.Component):
    """One t-SNE iteration (force pass, gradient, update) on K lanes.

    Parameters
    ----------
    cfg : AccelConfig
    checks : bool
        Lane resource-conflict assertions (simulation).

    Attributes
    ----------
    n : In(count_bits)
        N, 2 .. n_max (stable while busy).
    ex, mom_early, mom_late, lr : In
        Exaggeration (UQ.coef_frac), momenta (UQ0.coef_frac), learning rate (UQ.coef_frac)
        registers (`tsne_fixed.Coefs`).
    iters, ex_iters : In(17)
        Iterations of a run (>= 1) and how many of them are exaggerated (momentum early); at
        iteration ``ex_iters`` (if > 0) velocity and gains restart from 0 and 1.0, as
        `tsne_fixed.tsne_fixed`.
    iter : Out(17)
        Index of the running iteration.
    go : In(1)
        Start a run of ``iters`` iterations from the loaded state (when idle).
    busy : Out(1), done : Out(1)
        Busy; ``done`` pulses once in the cycle after the last update write.
    zq : Out
        Zq of the last pass (UQ.q_frac).
    ld_we, ld_sel, ld_bank, ld_addr, ld_data : In
        Load port (idle only): ``ld_sel`` `LD_S` (bank, address of `s_location`), `LD_Y`, `LD_V`,
        `LD_G` (address = point, data = coordinate 0 | coordinate 1 << width).
    rd_addr : In, rd_y, rd_v, rd_g, rd_a, rd_r : Out
        Read port (idle only; data one cycle after the address): both coordinates per word.
    """

    def __init__(self, cfg: AccelConfig, checks: bool = False):
        self.cfg = cfg
        self.checks = checks
        tw = self.tw = TsneWidths(cfg)
        cf = cfg.coef_frac
        self.sdepth = -(-cfg.n_max // cfg.lanes) * cfg.n_max
        ldw = max(2 * tw.yb, 2 * tw.gainb, cfg.p_frac + 1)
        super().__init__({
            "n": In(cfg.count_bits), "ex": In(cf + 7), "mom_early": In(cf), "mom_late": In(cf), "lr": In(cf + 17),
            "iters": In(17), "ex_iters": In(17), "iter": Out(17),
            "go": In(1), "busy": Out(1), "done": Out(1), "zq": Out(tw.zq_total),
            "ld_we": In(1), "ld_sel": In(2), "ld_bank": In(range(cfg.lanes)), "ld_addr": In(range(self.sdepth)),
            "ld_data": In(ldw),
            "rd_addr": In(range(cfg.n_max)), "rd_y": Out(2 * tw.yb), "rd_v": Out(2 * tw.yb),
            "rd_g": Out(2 * tw.gainb), "rd_a": Out(2 * tw.accb), "rd_r": Out(2 * tw.accb),
        })

    def elaborate(self, platform):
        m = Module()
        cfg, tw = self.cfg, self.tw
        K, W, Q, CF, GF, YF, GnF = cfg.lanes, cfg.w_frac, cfg.q_frac, cfg.coef_frac, cfg.grad_frac, cfg.y_frac, cfg.gain_frac
        II = timing.pair_interval("tpair")
        co = tf.Coefs.of(cfg)
        ylim, glim = tf.y_limit(cfg), tf.grad_limit(cfg)
        ush = CF + GnF + GF - YF
        assert ush >= 0, "the step shift coef_frac + gain_frac + grad_frac - y_frac must be >= 0"
        yb, ab, gb = tw.yb, tw.accb, tw.gainb

        lanes = [Lane(cfg, l, checks=self.checks) for l in range(K)]
        for l, ln in enumerate(lanes):
            m.submodules[f"lane{l}"] = ln
        for l in range(K - 1):
            wiring.connect(m, lanes[l].tscan_in, lanes[l + 1].tscan_out)

        # ------------------------------------------------------------ memories
        sbanks = [Memory(shape=cfg.p_frac + 1, depth=self.sdepth, init=[]) for _ in range(K)]
        ymem, vmem = (Memory(shape=2 * yb, depth=cfg.n_max, init=[]) for _ in range(2))
        gmem = Memory(shape=2 * gb, depth=cfg.n_max, init=[])
        amem, rmem = (Memory(shape=2 * ab, depth=cfg.n_max, init=[]) for _ in range(2))
        for k, b in enumerate(sbanks):
            m.submodules[f"sbank{k}"] = b
        m.submodules.ymem, m.submodules.vmem, m.submodules.gmem = ymem, vmem, gmem
        m.submodules.amem, m.submodules.rmem = amem, rmem
        s_rd = [b.read_port() for b in sbanks]
        s_wr = [b.write_port() for b in sbanks]
        y_rd, v_rd, g_rd, a_rd, r_rd = (x.read_port() for x in (ymem, vmem, gmem, amem, rmem))
        y_wr, v_wr, g_wr, a_wr, r_wr = (x.write_port() for x in (ymem, vmem, gmem, amem, rmem))
        m.d.comb += [self.rd_y.eq(y_rd.data), self.rd_v.eq(v_rd.data), self.rd_g.eq(g_rd.data),
                     self.rd_a.eq(a_rd.data), self.rd_r.eq(r_rd.data)]

        # ------------------------------------------------------------ state
        n_last = Signal(cfg.count_bits)
        m.d.sync += n_last.eq(self.n - 1)
        B_last = Signal(range(cfg.n_max + 1))         # index of the last block: (N - 1) div K
        m.d.comb += B_last.eq(n_last // K)
        cnt = Signal(range(max(cfg.n_max * II, cfg.n_max + timing.TSNE_UPD_PIPE, timing.TSNE_RECIP, K) + 2))
        blk = Signal(range(cfg.n_max + 2))
        ybase = Signal(range(cfg.n_max + 2 * K + 1))  # blk K
        sbase = Signal(range(self.sdepth + cfg.n_max + 1))
        j = Signal(range(cfg.n_max + 1))
        ph = Signal(range(II))
        zq = self.zq
        pn, pz = Signal(range(tw.nin + 1)), Signal(range(tw.nin + 1))
        rn, rz = Signal(tw.rb), Signal(tw.rb)
        ca = Signal(cfg.coef_frac + 7 + tw.rb)

        # read addresses: idle -> rd_addr; scan -> next y_i; stream -> j; update -> point
        ra = Signal(range(cfg.n_max + 2 * K + 1))
        for rp in (y_rd, v_rd, g_rd, a_rd, r_rd):
            m.d.comb += rp.addr.eq(ra)
        for rp in s_rd:
            m.d.comb += rp.addr.eq(sbase + j)

        # loads
        with m.If(self.ld_we & ~self.busy):
            with m.Switch(self.ld_sel):
                with m.Case(LD_S):
                    for k, wp in enumerate(s_wr):
                        m.d.comb += [wp.addr.eq(self.ld_addr), wp.data.eq(self.ld_data), wp.en.eq(self.ld_bank == k)]
                with m.Case(LD_Y):
                    m.d.comb += [y_wr.addr.eq(self.ld_addr), y_wr.data.eq(self.ld_data), y_wr.en.eq(1)]
                with m.Case(LD_V):
                    m.d.comb += [v_wr.addr.eq(self.ld_addr), v_wr.data.eq(self.ld_data), v_wr.en.eq(1)]
                with m.Case(LD_G):
                    m.d.comb += [g_wr.addr.eq(self.ld_addr), g_wr.data.eq(self.ld_data), g_wr.en.eq(1)]

        # ------------------------------------------------------------ lane ops
        scan = Signal()
        push_ok = Signal()
        issue = Signal(K)
        m.d.comb += [lanes[K - 1].tscan_in.y0.eq(Mux(push_ok, y_rd.data[:yb].as_signed(), 0)),
                     lanes[K - 1].tscan_in.y1.eq(Mux(push_ok, y_rd.data[yb:].as_signed(), 0))]
        rissue = Signal()
        rx = Signal(tw.nin)
        for l, ln in enumerate(lanes):
            m.d.comb += [ln.tsne.scan.eq(scan), ln.tsne.pair.issue.eq(issue[l]),
                         ln.tsne.pair.y0.eq(y_rd.data[:yb].as_signed()), ln.tsne.pair.y1.eq(y_rd.data[yb:].as_signed()),
                         ln.tsne.pair.s.eq(s_rd[l].data)]
        m.d.comb += [lanes[0].tsne.recip.issue.eq(rissue), lanes[0].tsne.recip.x.eq(rx)]
        out0 = lanes[0].tscan_out

        # ------------------------------------------------------------ FSM
        upd = Signal()          # update stage 0 valid (a point's memories read this cycle)
        m.d.sync += self.done.eq(0)
        with m.FSM(name="tsne"):
            with m.State("IDLE"):
                m.d.comb += ra.eq(self.rd_addr)
                with m.If(self.go):
                    m.d.sync += [cnt.eq(0), blk.eq(0), ybase.eq(0), sbase.eq(0), zq.eq(0), self.busy.eq(1),
                                 self.iter.eq(0)]
                    m.next = "SCAN"
            with m.State("SCAN"):
                # read y of point ybase + cnt; shift in cycles 1..K (the read of cycle cnt-1)
                m.d.comb += ra.eq(ybase + cnt)
                pin = Signal(range(cfg.n_max + 2 * K + 1))
                pout = Signal(range(cfg.n_max + 2 * K + 1))
                m.d.sync += [pin.eq(ybase + cnt)]
                m.d.comb += [pout.eq(pin - K), push_ok.eq(pin <= n_last)]
                m.d.sync += cnt.eq(cnt + 1)
                with m.If(cnt != 0):
                    m.d.comb += scan.eq(1)
                    with m.If((blk != 0) & (pout <= n_last)):
                        m.d.comb += [a_wr.addr.eq(pout), a_wr.data.eq(Cat(out0.ax, out0.ay)), a_wr.en.eq(1),
                                     r_wr.addr.eq(pout), r_wr.data.eq(Cat(out0.rx, out0.ry)), r_wr.en.eq(1)]
                        m.d.sync += zq.eq(zq + out0.zq)
                with m.If(cnt == K):
                    m.d.sync += [cnt.eq(0), j.eq(0), ph.eq(0)]
                    with m.If(blk == B_last + 1):
                        m.next = "RECIP"
                    with m.Else():
                        m.next = "STREAM"
            with m.State("STREAM"):
                m.d.comb += ra.eq(j)
                m.d.sync += ph.eq(Mux(ph == II - 1, 0, ph + 1))
                with m.If(ph == timing.TSNE_READ):
                    for l in range(K):
                        m.d.comb += issue[l].eq((ybase + l <= n_last) & (ybase + l != j))
                with m.If(ph == II - 1):
                    m.d.sync += j.eq(j + 1)
                    with m.If(j == n_last):
                        m.d.sync += cnt.eq(0)
                        m.next = "DRAIN"
            with m.State("DRAIN"):
                m.d.sync += cnt.eq(cnt + 1)
                with m.If(cnt == timing.TSNE_DRAIN - 1):
                    m.d.sync += [cnt.eq(0), blk.eq(blk + 1), ybase.eq(ybase + K), sbase.eq(sbase + cfg.n_max)]
                    m.next = "SCAN"
            with m.State("RECIP"):
                L = timing.latency("trecip")
                m.d.sync += cnt.eq(cnt + 1)
                m.d.comb += [rissue.eq(cnt <= 1), rx.eq(Mux(cnt == 0, self.n, zq))]
                with m.If(cnt == L):
                    m.d.sync += [pn.eq(lanes[0].tsne.p), rn.eq(lanes[0].tsne.r)]
                with m.If(cnt == L + 1):
                    m.d.sync += [pz.eq(lanes[0].tsne.p), rz.eq(lanes[0].tsne.r), cnt.eq(0)]
                    m.next = "COEF"
            with m.State("COEF"):
                m.d.sync += cnt.eq(cnt + 1)
                with m.If(cnt == timing.TSNE_COEF - 1):
                    m.d.sync += cnt.eq(0)
                    m.next = "UPDATE"
            with m.State("UPDATE"):
                m.d.comb += [ra.eq(cnt), upd.eq(cnt <= n_last)]
                m.d.sync += cnt.eq(cnt + 1)
                with m.If(cnt == n_last + timing.TSNE_UPD_PIPE):
                    with m.If(self.iter + 1 == self.iters):
                        m.d.sync += [self.busy.eq(0), self.done.eq(1)]
                        m.next = "IDLE"
                    with m.Else():      # next iteration: no gap (tsne_schedule.run_cycles)
                        m.d.sync += [cnt.eq(0), blk.eq(0), ybase.eq(0), sbase.eq(0), zq.eq(0),
                                     self.iter.eq(self.iter + 1)]
                        m.next = "SCAN"

        # ------------------------------------------------------------ COEF: ca = ex rn >> coef_frac
        early = Signal()
        restart = Signal()        # first iteration after the exaggeration: v = 0, gains = 1.0
        m.d.comb += [early.eq(self.iter < self.ex_iters), restart.eq((self.iter == self.ex_iters) & (self.iter != 0))]
        ex = Signal.like(self.ex)
        m.d.comb += ex.eq(Mux(early, self.ex, 1 << CF))
        pca = split_mul(m, ex, rn, "ca", a_signed=False)
        assert timing.TSNE_COEF == 3        # operands (registers), partials, sum, then the shift
        m.d.sync += ca.eq(pca >> CF)

        # ------------------------------------------------------------ UPDATE pipeline
        mom = Signal.like(self.mom_early)
        m.d.comb += mom.eq(Mux(early, self.mom_early, self.mom_late))
        self._update(m, upd, y_rd, v_rd, g_rd, a_rd, r_rd, y_wr, v_wr, g_wr, ca, pn, pz, rz, zq, co, ylim, glim, ush,
                     mom, restart)
        return m

    def _update(self, m, upd, y_rd, v_rd, g_rd, a_rd, r_rd, y_wr, v_wr, g_wr, ca, pn, pz, rz, zq, co, ylim, glim, ush,
                mom, restart):
        """One point per cycle: read in u0, products from u1, write in u`TSNE_UPD_PIPE`."""
        cfg, tw = self.cfg, self.tw
        W, Q, CF, GnF = cfg.w_frac, cfg.q_frac, cfg.coef_frac, cfg.gain_frac
        yb, ab, gb = tw.yb, tw.accb, tw.gainb
        P = timing.TSNE_UPD_PIPE

        def d(sig, k, name):
            for q in range(k):
                nxt = Signal.like(sig, name=f"{name}_d{q + 1}")
                m.d.sync += nxt.eq(sig)
                sig = nxt
            return sig

        vld = d(upd, P, "u_v")
        addr = d(y_rd.addr, P, "u_addr")
        # shifts of 2 ex / N = 2 ca 2^-kn and 4 / Zq = 4 rz 2^-kz (kz - 2 may be negative: left shift)
        kn1 = Signal(range(tw.nin + W + 1))
        kzr = Signal(range(tw.nin + W + 1))
        kzl = Signal(range(Q + 3))
        kneg = Signal()
        m.d.comb += [kn1.eq(pn + W - 1), kneg.eq(pz + W < Q + 2),
                     kzr.eq(Mux(kneg, 0, pz + W - Q - 2)), kzl.eq(Mux(kneg, Q + 2 - W - pz, 0))]
        ys, vs, gs = [], [], []
        for c in range(2):
            A = a_rd.data[c * ab:(c + 1) * ab].as_signed()
            R = r_rd.data[c * ab:(c + 1) * ab].as_signed()
            Y = y_rd.data[c * yb:(c + 1) * yb].as_signed()
            V, G = Signal(signed(yb), name=f"u{c}_V"), Signal(gb, name=f"u{c}_G")
            m.d.comb += [V.eq(Mux(restart, 0, v_rd.data[c * yb:(c + 1) * yb].as_signed())),
                         G.eq(Mux(restart, co.gain_one, g_rd.data[c * gb:(c + 1) * gb]))]
            # u1: products (visible u3)
            pa = split_mul(m, A, ca, f"u{c}_a")
            pr = split_mul(m, R, rz, f"u{c}_r")
            pg = split_mul(m, G, self._const(co.gain_dec, GnF + 1), f"u{c}_g", a_signed=False)
            pm = split_mul(m, V, mom, f"u{c}_m")
            # u3: the two gradient terms, decayed gain, momentum term
            ga = Signal(signed(len(pa)), name=f"u{c}_ga")
            gr = Signal(signed(len(pr) + Q + 2), name=f"u{c}_gr")
            gd = Signal(gb + 1, name=f"u{c}_gd")
            mv = Signal(signed(yb + 1), name=f"u{c}_mv")
            m.d.sync += [ga.eq(pa >> kn1), gd.eq(pg >> GnF), mv.eq(pm >> CF),
                         gr.eq(Mux(zq == 0, 0, Mux(kneg, pr << kzl, pr >> kzr)))]
            # u4: g, saturated
            diff = ga - gr
            g = Signal(signed(tw.gb + 1), name=f"u{c}_grad")
            m.d.sync += g.eq(Mux(diff > glim, glim, Mux(diff < -glim, -glim, diff)))
            # u5: gain
            V5, G5 = d(V, 4, f"u{c}_V5"), d(G, 4, f"u{c}_G5")
            inc = ((V5 > 0) & (g < 0)) | ((V5 < 0) & (g > 0))
            gd5 = d(gd, 1, f"u{c}_gd5")
            gnew = Mux(inc, G5 + co.gain_inc, gd5)
            G6 = Signal(gb, name=f"u{c}_G6")
            m.d.sync += G6.eq(Mux(gnew < co.gain_min, co.gain_min, Mux(gnew > co.gain_max, co.gain_max, gnew)))
            # u6: lr G' (visible u8); u8: (lr G') g (visible u10)
            plg = split_mul(m, self.lr, G6, f"u{c}_lg", a_signed=False)
            g8 = d(g, 3, f"u{c}_g8")
            pst = split_mul(m, plg, g8, f"u{c}_st")
            # u10: step; u11: velocity; u12: position
            step = Signal(signed(len(pst)), name=f"u{c}_step")
            m.d.sync += step.eq(pst >> ush)
            mv11 = d(mv, 7, f"u{c}_mv11")
            vn = mv11 - step
            V12 = Signal(signed(yb), name=f"u{c}_V12")
            m.d.sync += V12.eq(Mux(vn > ylim, ylim, Mux(vn < -ylim, -ylim, vn)))
            Y12 = d(Y, 11, f"u{c}_Y12")
            yn = Y12 + V12
            Y13 = Signal(signed(yb), name=f"u{c}_Y13")
            m.d.sync += Y13.eq(Mux(yn > ylim, ylim, Mux(yn < -ylim, -ylim, yn)))
            ys.append(Y13)
            vs.append(d(V12, 1, f"u{c}_V13"))
            gs.append(d(G6, 7, f"u{c}_G13"))
        # u13: write back
        with m.If(vld):
            m.d.comb += [y_wr.addr.eq(addr), y_wr.data.eq(_pack(ys[0], ys[1], yb)), y_wr.en.eq(1),
                         v_wr.addr.eq(addr), v_wr.data.eq(_pack(vs[0], vs[1], yb)), v_wr.en.eq(1),
                         g_wr.addr.eq(addr), g_wr.data.eq(_pack(gs[0], gs[1], gb)), g_wr.en.eq(1)]

    @staticmethod
    def _const(value: int, width: int):
        from amaranth.hdl import C
        return C(value, width)
