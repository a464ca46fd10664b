"""Grid-sampling phase in RTL (twin of `golden_model.grid_fixed.grid_sample_fixed`; docs/hardware.md,
"Entropy and grid phases").

`GridSampler` reads the embedding through the same kind of read port as `hw.entropy.EntropyUnit`
and shares its `CellUnit` (min/max, iterative dividers).  States:

``MM``      per-axis min and span (once);
``CLEAR``   the g^2 counters of the next pass set to 0 (its last cycle starts the pass);
``HIST``    cell pass: count += 1 per point (read-modify-write, write-transparent read port),
            occupied cells counted (a count read as 0); a *search* pass (g = 1, 2, ...) has
            ``bitlen(g)`` divider steps per point, the *final* pass ``bitlen(g) + grid_frac`` and
            also writes each point's cell and squared offset from the cell centre into the point
            memory;
``HWAIT``   after a pass, one cycle: the last point's count is written in the next
            (`timing.HIST_RMW`, `hw.entropy.histogram_rmw`); then TOP or:
``SETTLE``  after a search pass, the last point's count written (`timing.GRID_CHECK`);
``CHECK``   ``occupied >= k`` -> final pass on g; ``g = g_limit`` -> final pass
            on the smallest g with the most occupied cells; else g + 1;
``TOP``     ``min(k, occupied)`` scans over the counters: the most populated cell (strictly larger
            replaces: ties -> lower cell index) into the top list, its counter zeroed; a scan
            finding no occupied cell ends the list (degenerate case);
``PICK``    per pick one scan over the point memory for the cell of the top list entry: the
            nearest unpicked point (strictly smaller squared offset: ties -> lower index) is
            marked; the top list is visited round robin until k points are marked (one round
            unless degenerate);
``EMIT``    the marked indices in ascending order (`grid_sample_fixed`'s order) on a valid/ready
            stream; ``k >= N``: every index.

Cycles (``ready`` always high): `golden_model.phase_schedule.grid_cycles`.
"""

from __future__ import annotations

from amaranth.hdl import C, Cat, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from golden_model import timing
from golden_model.config import AccelConfig

from .entropy import CellUnit, embedding_read_signature, histogram_rmw

__all__ = ["GridSampler", "sample_stream_signature"]


def sample_stream_signature(cfg: AccelConfig) -> wiring.Signature:
    """Producer's view of the selected-index stream: a beat moves in a cycle with ``valid`` and
    ``ready`` high; ``valid`` and ``index`` are registers held until then."""
    return wiring.Signature({"valid": Out(1), "ready": In(1), "index": Out(range(cfg.n_max))})


class GridSampler(wiring.Component):
    """k exemplars from the embedding by grid sampling (see module doc).

    Parameters
    ----------
    cfg : AccelConfig
    g_limit : int
        Largest grid side tried (``grid_sample_fixed``'s ``g_limit``); the counter memory has
        ``g_limit^2`` words.

    Attributes
    ----------
    emb : Out(embedding_read_signature(cfg))
    n, k : In(count_bits)
        N >= 1 and k >= 1 (set at least one cycle before ``go``, stable while busy).
    go : In(1)
        Start (idle only).
    busy, done : Out(1)
        ``done`` pulses in the cycle after the last beat moved.
    g_side : Out
        Grid side of the final pass (0 when ``k >= N``).
    out : Out(sample_stream_signature(cfg))
    """

    def __init__(self, cfg: AccelConfig, g_limit: int):
        if isinstance(g_limit, bool) or not isinstance(g_limit, int) or not 1 <= g_limit <= 1024:
            self._MustUse__silence = True       # never elaborated: no "created but never used" warning
            raise ValueError(f"g_limit must be an integer in [1, 1024] (the counter memory has g_limit^2 "
                             f"words), got {g_limit!r}")
        self.cfg, self.g_limit = cfg, g_limit
        super().__init__({
            "emb": Out(embedding_read_signature(cfg)),
            "n": In(cfg.count_bits), "k": In(cfg.count_bits), "go": In(1),
            "busy": Out(1), "done": Out(1), "g_side": Out(range(g_limit + 1)),
            "out": Out(sample_stream_signature(cfg)),
        })

    def elaborate(self, platform):
        m = Module()
        cfg, GL, NM = self.cfg, self.g_limit, self.cfg.n_max
        m.submodules.cu = cu = CellUnit(cfg, GL, cfg.grid_frac)
        wiring.connect(m, wiring.flipped(self.emb), cu.emb)
        CBt, DBt = cu.cell_bits, cu.dist_bits
        n, k = self.n, self.k
        # N - 1 + GRID_SCAN_PIPE and k >= N as registers (N and k are stable long before `go`): no
        # adder or comparator from the far-away run registers before the FSM's decisions
        scan_end = Signal(cfg.count_bits + 1)
        k_ge_n = Signal()
        m.d.sync += [scan_end.eq(n - 1 + timing.GRID_SCAN_PIPE), k_ge_n.eq(k >= n)]

        cntm = Memory(shape=cfg.count_bits, depth=GL * GL, init=[])
        pmem = Memory(shape=CBt + DBt, depth=NM, init=[])          # cell | squared offset << CBt
        topm = Memory(shape=CBt, depth=NM, init=[])
        m.submodules.cntm, m.submodules.pmem, m.submodules.topm = cntm, pmem, topm
        c_wp = cntm.write_port()
        c_rp = cntm.read_port(transparent_for=(c_wp,))
        p_wp, p_rp = pmem.write_port(), pmem.read_port()
        t_wp, t_rp = topm.write_port(), topm.read_port()

        g = Signal(range(GL + 1))
        # g^2 kept beside g (and best_g^2 beside best_g): no multiplier before the scans' compares
        gsq = Signal(range(GL * GL + 1))
        best_gsq = Signal.like(gsq)
        m.d.comb += [cu.n.eq(n), cu.g.eq(g)]
        final = Signal()
        m.d.comb += cu.fine.eq(final)
        best_g = Signal(range(GL + 1))
        occ, best_occ = Signal(range(NM + 1)), Signal(range(NM + 1))
        cnt = Signal(range(max(GL * GL, NM) + 3))
        kc = Signal(range(NM + 1))                 # top-list entries
        t = Signal(range(NM + 1))                  # pick: top-list position
        chosen = Signal(range(NM + 1))
        picked = Signal(NM)
        every = Signal()                           # k >= N
        m.d.sync += self.done.eq(0)

        # HIST: count read in the output cycle, count + 1 written HIST_RMW cycles later
        h_valid = Signal()
        h_we, h_old = histogram_rmw(m, c_rp, c_wp, h_valid, cu.out_cell)
        with m.If(h_we):
            m.d.sync += occ.eq(occ + (h_old == 0))

        # scans: address cnt, data registered (sv1), compared in the next cycle (sv2:
        # GRID_SCAN_PIPE = 2; a block RAM's output goes to a register, not into the compares)
        assert timing.GRID_SCAN_PIPE == 2
        sv1, sv2 = Signal(), Signal()
        s_i1, s_i2 = Signal.like(cnt), Signal.like(cnt)
        cq = Signal.like(c_rp.data)
        pq, tq = Signal.like(p_rp.data), Signal.like(t_rp.data)
        m.d.sync += [sv2.eq(sv1), s_i2.eq(s_i1), cq.eq(c_rp.data), pq.eq(p_rp.data), tq.eq(t_rp.data)]
        best_c = Signal(cfg.count_bits)
        best_cell = Signal(CBt)
        best_i = Signal(range(NM))
        best_d = Signal(DBt)
        found = Signal()
        m.d.sync += sv1.eq(0)
        p_cell, p_dist = pq[:CBt], pq[CBt:]
        m.d.comb += p_rp.addr.eq(cnt)
        m.d.comb += t_rp.addr.eq(t)

        o = self.out
        xfer_ok = ~o.valid | o.ready

        with m.FSM(name="grid"):
            with m.State("IDLE"):
                with m.If(self.go):
                    m.d.sync += [self.busy.eq(1), cnt.eq(0), o.valid.eq(0)]
                    with m.If(k_ge_n):
                        m.d.sync += [every.eq(1), self.g_side.eq(0)]
                        m.next = "EMIT"
                    with m.Else():
                        m.d.comb += cu.mm_go.eq(1)
                        m.d.sync += [g.eq(1), gsq.eq(1), best_g.eq(1), best_gsq.eq(1), best_occ.eq(0), final.eq(0)]
                        m.next = "MM"
            with m.State("MM"):
                with m.If(cu.mm_done):
                    m.next = "CLEAR"
            with m.State("CLEAR"):
                m.d.comb += [c_wp.en.eq(1), c_wp.addr.eq(cnt), c_wp.data.eq(0)]
                m.d.sync += cnt.eq(cnt + 1)
                with m.If(cnt == gsq - 1):
                    m.d.comb += cu.pass_go.eq(1)
                    m.d.sync += occ.eq(0)
                    m.next = "HIST"
            with m.State("HIST"):
                m.d.comb += [c_rp.addr.eq(cu.out_cell), h_valid.eq(cu.out_valid)]
                with m.If(cu.out_valid & final):
                    m.d.comb += [p_wp.en.eq(1), p_wp.addr.eq(cu.out_index),
                                 p_wp.data.eq(Cat(cu.out_cell, cu.out_dist))]
                with m.If(cu.out_last):
                    m.d.sync += [cnt.eq(0), kc.eq(0), best_c.eq(0)]
                    with m.If(final):
                        m.d.sync += self.g_side.eq(g)
                    m.next = "HWAIT"
            with m.State("HWAIT"):
                # HIST_RMW: the last count is written in the next cycle (a transparent TOP read
                # sees it)
                with m.If(final):
                    m.next = "TOP"
                with m.Else():
                    m.next = "SETTLE"
            with m.State("SETTLE"):
                # the last point's count is written in this cycle (GRID_CHECK: CHECK decides on occ)
                m.next = "CHECK"
            with m.State("CHECK"):
                m.d.sync += cnt.eq(0)
                m.next = "CLEAR"
                with m.If(occ >= k):
                    m.d.sync += final.eq(1)
                with m.Elif(g == GL):
                    m.d.sync += [final.eq(1), g.eq(Mux(occ > best_occ, g, best_g)), gsq.eq(Mux(occ > best_occ, gsq, best_gsq))]
                with m.Else():
                    with m.If(occ > best_occ):
                        m.d.sync += [best_g.eq(g), best_gsq.eq(gsq), best_occ.eq(occ)]
                    m.d.sync += [g.eq(g + 1), gsq.eq(gsq + (g << 1) + 1)]
            with m.State("TOP"):
                # counters in ascending cell order; strictly larger replaces (ties -> lower cell)
                m.d.comb += c_rp.addr.eq(cnt)
                m.d.sync += [cnt.eq(cnt + 1), sv1.eq(cnt < gsq), s_i1.eq(cnt)]
                with m.If(sv2 & (cq > best_c)):
                    m.d.sync += [best_c.eq(cq), best_cell.eq(s_i2)]
                with m.If(cnt == gsq - 1 + timing.GRID_SCAN_PIPE):
                    m.next = "TOPD"
            with m.State("TOPD"):
                m.d.sync += [cnt.eq(0), best_c.eq(0), t.eq(0), chosen.eq(0)]
                with m.If(best_c == 0):
                    m.next = "PTOP"
                with m.Else():
                    m.d.comb += [t_wp.en.eq(1), t_wp.addr.eq(kc), t_wp.data.eq(best_cell),
                                 c_wp.en.eq(1), c_wp.addr.eq(best_cell), c_wp.data.eq(0)]
                    m.d.sync += kc.eq(kc + 1)
                    with m.If(kc + 1 == k):
                        m.next = "PTOP"
                    with m.Else():
                        m.next = "TOP"
            with m.State("PTOP"):
                # the pick's cell: top list entry t (read, GRID_TOP_READ)
                m.d.sync += [cnt.eq(0), found.eq(0)]
                m.next = "PSCAN"
            with m.State("PSCAN"):
                m.d.sync += [cnt.eq(cnt + 1), sv1.eq(cnt < n), s_i1.eq(cnt)]
                hit = sv2 & (p_cell == tq) & ~picked.bit_select(s_i2, 1)
                with m.If(hit & (~found | (p_dist < best_d))):
                    m.d.sync += [found.eq(1), best_d.eq(p_dist), best_i.eq(s_i2)]
                with m.If(cnt == scan_end):
                    m.next = "PDEC"
            with m.State("PDEC"):
                m.d.sync += [cnt.eq(0), t.eq(Mux(t + 1 == kc, 0, t + 1))]
                m.next = "PTOP"
                with m.If(found):
                    m.d.sync += [picked.eq(picked | (C(1, NM) << best_i)), chosen.eq(chosen + 1)]
                    with m.If(chosen + 1 == k):
                        m.next = "EMIT"
            with m.State("EMIT"):
                with m.If(xfer_ok):
                    with m.If(cnt < n):
                        m.d.sync += [o.valid.eq(every | picked.bit_select(cnt, 1)), o.index.eq(cnt),
                                     cnt.eq(cnt + 1)]
                    with m.Else():
                        m.d.sync += [o.valid.eq(0), self.done.eq(1), self.busy.eq(0), picked.eq(0),
                                     every.eq(0)]
                        m.next = "IDLE"
        return m
