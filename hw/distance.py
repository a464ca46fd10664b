"""Distance engine: feature memory, distance-row buffer, sequencing of the lanes' DIST ops.

Memory organisation (banked by lane, ``K = cfg.lanes``):

* feature bank ``l`` holds the features of the points ``j = l, l+K, l+2K, ...``: point ``j``,
  feature ``d`` at address ``(j div K) * d_max + d``; depth ``ceil(n_max/K) * d_max``, width
  ``feature_bits``; one write port (loading) and two read ports (``x_j`` for the lane, ``x_i``
  for the broadcast; the ``x_i`` read of bank ``i mod K`` is selected).
* row bank ``l`` holds ``D_ij`` for the same ``j``: address ``j div K``; depth ``ceil(n_max/K)``,
  width ``dist_bits``.  Written by lane ``l`` (all lanes at once at the end of a group), read one
  element per cycle in ``j`` order during the search stream (bank ``j mod K``).

Distance phase of point ``i``: groups ``g = 0 .. ceil(N/K)-1``; in group ``g`` lane ``l`` computes
``D_{i, gK+l}`` as ``sum_d (x_id - x_jd)^2`` over ``D`` cycles (one feature per cycle, groups
back to back).  Each lane keeps the min/max of its valid ``j != i`` values; a scan over the lanes,
one per cycle through the lane select, gives ``m_i``, ``M_i`` at the end.

Timing (`point_start` in cycle ``p``; every command from the controller is registered here first,
``timing.ENGINE_CMD`` cycles): feature addresses in cycles ``p+1+ENGINE_CMD .. p+G*D+ENGINE_CMD``
(``G = ceil(N/K)``), the lanes' ``dist`` ops ``timing.DIST_FEATURE_READ`` cycles later (memory read
+ x registers); the min/max scan takes ``K + timing.MM_SEL_LATENCY`` cycles; ``dist_done`` (one-cycle
pulse) with ``dmin``/``dmax`` valid in ``p + G*D + timing.dist_done_latency(K)``.
"""

from __future__ import annotations

from amaranth.hdl import Assert, C, Cat, Format, Module, Mux, Signal, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from golden_model.config import AccelConfig

from golden_model import timing

from .lane import dist_ops_signature
from .regnext import next_values

__all__ = ["DistanceEngine"]



class DistanceEngine(wiring.Component):
    """Feature memory + row buffer + DIST sequencing.

    Parameters
    ----------
    cfg : AccelConfig
    checks : bool
        Simulation only: assert that no feature is written in a cycle whose bank read is used
        (the ``no_rw_check`` the feature memories are synthesised with rests on it).

    Attributes
    ----------
    n : In(count_bits), d : In(dim_bits)
        Run parameters N and D, sampled from the cycle of ``load_start`` on and held to the end
        of the run (the engine registers N - 1 and D - 1; ``load_start`` takes its first end
        flags from the ports, so N and D may be set in its cycle).
    load_start : In(1)
        Reset the load counters; features are then accepted from `feat`.
    feat : In(stream.Signature(feature_bits))
        Feature stream, ready while loading.
    loaded : Out(1)
        One-cycle pulse `timing.LOAD_GO` cycles after the cycle the last feature is accepted.
    point_first : In(1)
        Reset the point counter to point 0.
    point_next : In(1)
        Advance to the next point.
    point_start : In(1)
        Compute the distance row of the current point (into the row-buffer half not being read).
    grant : In(1)
        The lanes' multipliers are free for a ``dist`` op ``timing.GRANT_LEAD`` cycles later: the
        next feature step may be issued (the controller lends the lanes between its own ops, so
        the next point's row is computed while the current point is searched).
    dist_done : Out(1)
        One-cycle pulse: row written, ``dmin``/``dmax`` valid.
    dmin, dmax : Out(dist_bits)
    rd_en, rd_restart : In(1)
        Read row element ``j`` (0 when ``rd_restart``, else the previous ``j + 1``).
    rd_half : In(1)
        Row-buffer half to read (the searched point's parity; rows are double-buffered).
    pp : In(1)
        Point-parallel mode (stable during a run; only with ``cfg.point_parallel``): a "point" is a
        group of K points, lane ``l`` computes the row of point ``pK + l`` against every ``j``
        (``x_j`` broadcast, ``x_{pK+l}`` from its own bank) into its own row bank at address
        ``j``, and a row read gives every lane its own element ``j``, minus its own row minimum,
        on ``pp_d``.
    pp_d : Out(dist_bits).array(K)
        Point-parallel row stream: ``D_{pK+l, j} - m_{pK+l}``, ``ROW_READ - ENGINE_CMD`` cycles
        after the read command reaches the engine (as ``rd_data`` plus the controller's register).
    mm_sel : In(range(K)), sel_min, sel_max : Out(dist_bits)
        Lane ``mm_sel``'s row minimum and maximum, ``timing.MM_SEL_LATENCY`` cycles later (the
        select, a group's values and the chosen group's values registered).
    rd_data : Out(dist_bits)
        The element read three cycles earlier (memory read, bank register, multiplexer register).
    lanes : Out(dist_ops_signature(cfg)).array(K)
        The ``dist`` op to each lane and its distance results (see `hw.lane.Lane`).
    """

    def __init__(self, cfg: AccelConfig, checks: bool = False):
        self.cfg = cfg
        self.checks = checks
        K = cfg.lanes
        self.rows_per_bank = -(-cfg.n_max // K)
        #: row-bank depth: two halves of ceil(n_max/K) rows, or a whole row per lane (point-parallel)
        self.row_depth = max(2 * self.rows_per_bank, cfg.n_max if cfg.point_parallel else 0)
        self.feat_depth = self.rows_per_bank * cfg.d_max
        fb, db = cfg.feature_bits, cfg.dist_bits
        super().__init__({
            "n": In(cfg.count_bits), "d": In(cfg.dim_bits),
            "load_start": In(1),
            "feat": In(stream.Signature(unsigned(fb))),
            "loaded": Out(1),
            "point_first": In(1), "point_next": In(1), "point_start": In(1), "grant": In(1),
            "dist_done": Out(1),
            "dmin": Out(db), "dmax": Out(db),
            "rd_en": In(1), "rd_restart": In(1), "rd_half": In(1), "pp": In(1),
            "pp_d": Out(db).array(K), "mm_sel": In(range(max(K, 2))), "sel_min": Out(db), "sel_max": Out(db),
            "rd_data": Out(db),
            "lanes": Out(dist_ops_signature(cfg)).array(K),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg
        K, DM = cfg.lanes, cfg.d_max
        RPB = self.rows_per_bank
        fdepth = self.feat_depth

        fbanks, rbanks = [], []
        for l in range(K):
            # no_rw_check: a feature bank is written only while loading and read (for use) only
            # while issuing, never both (asserted below with checks=True).  Yosys ignores the
            # attribute in RTLIL; `synth.flow.honour_no_rw_check` applies it (--no-rw-check),
            # removing the address-compare bypass it otherwise puts behind each read port
            fm = Memory(shape=unsigned(cfg.feature_bits), depth=fdepth, init=[], attrs={"no_rw_check": 1})
            # two row halves (candidate-parallel) or one whole row per lane (point-parallel);
            # no_rw_check for the same reason: a row is never written where its used read is
            # (asserted below)
            rm = Memory(shape=unsigned(cfg.dist_bits), depth=self.row_depth, init=[],
                        attrs={"no_rw_check": 1})
            m.submodules[f"feat_bank{l}"] = fm
            m.submodules[f"row_bank{l}"] = rm
            fbanks.append((fm.write_port(), fm.read_port(), fm.read_port()))
            rbanks.append((rm.write_port(), rm.read_port()))

        # N - 1 and D - 1, registered (N and D are stable for a run; keeps the subtractions off the
        # compare paths)
        n_last = Signal.like(self.n)
        d_last = Signal.like(self.d)
        m.d.sync += [n_last.eq(self.n - 1), d_last.eq(self.d - 1)]

        # ------------------------------------------------------------ loading
        loading = Signal()
        ld_d = Signal(range(max(cfg.d_max, 2)))
        ld_bank = Signal(range(max(K, 2)))
        ld_base = Signal(range(fdepth + DM + 1))
        ld_pt = Signal(range(cfg.n_max + 1))
        m.d.comb += self.feat.ready.eq(loading)
        # next values -> registered write address and end-of-point / end-of-class flags, so that
        # neither an adder nor a comparator sits between the counters and the banks or `loaded`
        ld_d_nxt, ld_pt_nxt, ld_base_nxt = next_values(m, ld_d, ld_pt, ld_base)
        ld_addr = Signal(range(fdepth + 2 * DM + 1))
        ld_last_d, ld_last_pt = Signal(), Signal()     # == (ld_d == d_last), (ld_pt == n_last)
        m.d.sync += [ld_addr.eq(ld_base_nxt + ld_d_nxt),
                     ld_last_d.eq(ld_d_nxt == d_last), ld_last_pt.eq(ld_pt_nxt == n_last)]
        if self.checks:     # the flags assume N, D stable while loading (they are: run_n / run_d)
            m.d.sync += Assert(~loading | ((ld_last_d == (ld_d == d_last)) & (ld_last_pt == (ld_pt == n_last))),
                               Format("distance engine: N or D changed while loading"))
        # `loaded` is a one-cycle pulse, registered (timing.LOAD_GO): the feature stream's valid does
        # not reach the run FSM and the search controller's start in the same cycle
        assert timing.LOAD_GO == 1
        m.d.sync += self.loaded.eq(0)
        with m.If(self.load_start):
            # the first feature's end flags from the ports: N - 1, D - 1 are registers, a cycle
            # behind an N or D written in this cycle
            m.d.sync += [loading.eq(1), ld_bank.eq(0), ld_last_d.eq(self.d == 1), ld_last_pt.eq(self.n == 1)]
            m.d.comb += [ld_d_nxt.eq(0), ld_pt_nxt.eq(0), ld_base_nxt.eq(0)]
        for l, (wp, _, _) in enumerate(fbanks):
            m.d.comb += [wp.addr.eq(ld_addr), wp.data.eq(self.feat.payload),
                         wp.en.eq(loading & self.feat.valid & (ld_bank == l))]
        with m.If(loading & self.feat.valid):
            with m.If(ld_last_d):
                m.d.comb += ld_d_nxt.eq(0)
                with m.If(ld_last_pt):
                    m.d.sync += [self.loaded.eq(1), loading.eq(0)]
                m.d.comb += ld_pt_nxt.eq(ld_pt + 1)
                with m.If(ld_bank == K - 1):
                    m.d.sync += ld_bank.eq(0)
                    m.d.comb += ld_base_nxt.eq(ld_base + DM)
                with m.Else():
                    m.d.sync += ld_bank.eq(ld_bank + 1)
            with m.Else():
                m.d.comb += ld_d_nxt.eq(ld_d + 1)

        # ------------------------------------------------------------ commands, registered (timing.ENGINE_CMD)
        # one name each (a tuple assignment would leave them as `$signal$N` in the timing reports)
        point_first = Signal()
        point_next = Signal()
        point_start = Signal()
        rd_en = Signal()
        rd_restart = Signal()
        rd_half = Signal()
        grant = Signal()
        m.d.sync += [point_first.eq(self.point_first), point_next.eq(self.point_next),
                     point_start.eq(self.point_start), rd_en.eq(self.rd_en), rd_restart.eq(self.rd_restart),
                     rd_half.eq(self.rd_half), grant.eq(self.grant)]
        assert timing.ENGINE_CMD == 1

        pp = self.pp if cfg.point_parallel else C(0, 1)

        # ------------------------------------------------------------ point counters
        i_mod = Signal(range(max(K, 2)))
        i_div = Signal(range(RPB + 1))
        i_base = Signal(range(fdepth + DM + 1))
        wr_half = Signal()      # the half the distance side writes: the parity of its point
        prem = Signal(range(cfg.n_max + 1))      # point-parallel: N - pK (points from this group on)
        # the feature-bank read addresses are registers computed from the counters' next values
        # (i_base_nxt, gbase_nxt, dd_nxt), which keeps the address adder off the memory's input path
        # i_base + DM and i_mod == K - 1 are registers beside their counters (as gbase_dm, gm_last
        # below), so that only multiplexers sit between the point commands and the read addresses
        i_base_dm = Signal(range(fdepth + 2 * DM + 1), init=DM)
        i_last = Signal(init=K == 1)
        i_base_nxt, wr_half_nxt = next_values(m, i_base, wr_half)
        with m.If(point_first):
            m.d.sync += [i_mod.eq(0), i_div.eq(0), prem.eq(self.n), i_base_dm.eq(DM), i_last.eq(K == 1)]
            m.d.comb += [i_base_nxt.eq(0), wr_half_nxt.eq(0)]
        with m.Elif(point_next):
            m.d.sync += prem.eq(prem - K)
            m.d.comb += wr_half_nxt.eq(~wr_half)
            with m.If(i_last | pp):       # point-parallel: the next group of K points
                m.d.sync += [i_mod.eq(0), i_div.eq(i_div + 1), i_base_dm.eq(i_base_dm + DM), i_last.eq(K == 1)]
                m.d.comb += i_base_nxt.eq(i_base_dm)
            with m.Else():
                m.d.sync += [i_mod.eq(i_mod + 1), i_last.eq(i_mod == K - 2)]
        if self.checks:
            m.d.sync += Assert((i_base_dm == i_base + DM) & (i_last == (i_mod == K - 1)),
                               Format("distance engine: a registered point decision disagrees with its counter"))

        # ------------------------------------------------------------ distance issue
        issuing = Signal()
        g = Signal(range(RPB + 1))
        gbase = Signal(range(fdepth + DM + 1))
        dd = Signal(range(max(cfg.d_max, 2)))
        rem = Signal(range(cfg.n_max + 1))          # N - g*K (points left from this group on); pp: N - j
        gm = Signal(range(max(K, 2)))               # point-parallel: j mod K (g = j div K)
        drain = Signal(range(timing.dist_done_latency(K) + 1))
        draining = Signal()
        gbase_nxt, dd_nxt = next_values(m, gbase, dd)
        # the step's decisions are registers kept beside their counters, so that behind the
        # granted step there are multiplexers only: gbase + DM (gbase_dm), gm == K - 1 (gm_last)
        # and "this group is the last" (last_g == rem <= (pp ? 1 : K), from rem's candidates)
        gbase_dm = Signal(range(fdepth + 2 * DM + 1), init=DM)
        gm_last = Signal(init=K == 1)
        last_g = Signal()
        gm_nxt, gbase_dm_nxt, last_g_nxt = next_values(m, gm, gbase_dm, last_g)
        g_thr = Mux(pp, 1, K)
        with m.If(point_start):
            m.d.sync += [issuing.eq(1), g.eq(0), rem.eq(self.n)]
            m.d.comb += [gbase_nxt.eq(0), dd_nxt.eq(0), gm_nxt.eq(0), gbase_dm_nxt.eq(DM),
                         last_g_nxt.eq(self.n <= g_thr)]
        m.d.sync += gm_last.eq(gm_nxt == K - 1)
        # "last feature of the row" and "first feature" are registers from dd's next value (D is
        # stable while a row is issued), so no comparator sits in front of the address and tags
        last_d, first_d = Signal(), Signal(init=1)
        m.d.sync += [last_d.eq(dd_nxt == d_last), first_d.eq(dd_nxt == 0)]
        if self.checks:
            m.d.sync += Assert(~issuing | ((last_d == (dd == d_last)) & (first_d == (dd == 0))),
                               Format("distance engine: D changed while a row is issued"))
        if self.checks:
            m.d.sync += Assert(~issuing | ((last_g == (rem <= g_thr)) & (gm_last == (gm == K - 1)) &
                                           (gbase_dm == gbase + DM)),
                               Format("distance engine: a registered step decision disagrees with its counter"))
        step = issuing & grant
        if self.checks:
            m.d.sync += Assert(~(step & loading & self.feat.valid),
                               Format("distance engine: a feature bank written in a cycle whose read is used"))
        with m.If(step):
            with m.If(last_d):
                m.d.comb += dd_nxt.eq(0)
                with m.If(pp):       # next j: bank j mod K, base += d_max every K points
                    m.d.sync += rem.eq(rem - 1)
                    m.d.comb += last_g_nxt.eq(rem <= 2)          # rem - 1 <= 1
                    with m.If(gm_last):
                        m.d.sync += g.eq(g + 1)
                        m.d.comb += [gm_nxt.eq(0), gbase_nxt.eq(gbase_dm), gbase_dm_nxt.eq(gbase_dm + DM)]
                    with m.Else():
                        m.d.comb += gm_nxt.eq(gm + 1)
                with m.Else():       # next group of K points
                    m.d.sync += [g.eq(g + 1), rem.eq(rem - K)]
                    # rem - K <= K; past the last group rem wraps, but issuing ends there
                    m.d.comb += [last_g_nxt.eq(rem <= 2 * K), gbase_nxt.eq(gbase_dm),
                                 gbase_dm_nxt.eq(gbase_dm + DM)]
                with m.If(last_g):
                    m.d.sync += [issuing.eq(0), draining.eq(1), drain.eq(0)]
            with m.Else():
                m.d.comb += dd_nxt.eq(dd + 1)
        # candidate-parallel: lane l reads point gK+l (port a), bank i mod K supplies x_i (port b);
        # point-parallel: lane l reads its own point pK+l (port a), bank j mod K supplies x_j (b).
        # Registered: each equals (base + dd) of the current cycle (reset 0 = base 0, dd 0).
        # Kept without an adder behind the grant: a step within a point's features is `addr + 1`
        # (from the register), and every other change of (base, dd) - a new base at a group's or
        # point's end, a new point, a new row - comes with dd_nxt = 0, so the address is the new
        # base itself (the base adders, e.g. gbase + DM, start at registers)
        addr_a = Signal(range(fdepth + 2 * DM + 1))
        addr_b = Signal(range(fdepth + 2 * DM + 1))
        rebase = point_start | point_first | point_next | (step & last_d)
        for addr, base_nxt in ((addr_a, Mux(pp, i_base_nxt, gbase_nxt)), (addr_b, Mux(pp, gbase_nxt, i_base_nxt))):
            with m.If(rebase):
                m.d.sync += addr.eq(base_nxt)
            with m.Elif(step):
                m.d.sync += addr.eq(addr + 1)
        if self.checks:
            m.d.sync += Assert(~(point_first | point_next | point_start) | (dd == 0) & ~issuing,
                               Format("distance engine: a point command while a row is issued"))
        for l, (_, rpa, rpb) in enumerate(fbanks):
            m.d.comb += [rpa.addr.eq(addr_a), rpb.addr.eq(addr_b)]
        # tags, aligned with the read data (one cycle later)
        # tags travel with the feature data: memory read (1), registers at each bank's output (keep
        # the block RAM's slow clock-to-out local), the x_i bank multiplexer + x_i / x_j registers (1)
        n_tag = timing.DIST_FEATURE_READ
        bsel = Signal.like(i_mod)                   # the bank of the broadcast operand
        m.d.comb += bsel.eq(Mux(pp, gm, i_mod))
        # the first tag register holds the compact form (points left, "this group holds i", bank),
        # the second the per-lane valid / self masks decoded from it: the K comparisons sit between
        # two tag registers instead of behind the counters' multiplexers (re-timing, session 17)
        left = Signal.like(rem, name="dist_left")
        m.d.comb += left.eq(Mux(pp, prem, rem))
        raw = Signal(3 + len(left) + 1 + len(bsel), name="dist_tag1")
        m.d.sync += raw.eq(Cat(step, first_d, last_d, left, g == i_div, bsel))
        r_left = raw[3: 3 + len(left)]
        r_grp, r_bsel = raw[3 + len(left)], raw[4 + len(left):]
        tag = Cat(raw[:3], Cat(*[r_left > l for l in range(K)]),
                  Cat(*[r_grp & (r_bsel == l) for l in range(K)]), r_bsel)
        tags = [None, raw]
        for k in range(1, n_tag):
            nxt = Signal(len(tag), name=f"dist_tag{k + 1}")
            m.d.sync += nxt.eq(tag)
            tag = nxt
            tags.append(tag)
        t_issue, t_first, t_last = tag[0], tag[1], tag[2]
        t_valid, t_self = tag[3: 3 + K], tag[3 + K: 3 + 2 * K]
        n_bank = n_tag - 2          # register levels between a bank and the x_i multiplexer / x_j register
        assert n_bank >= 1
        xib = [rpb.data for _, _, rpb in fbanks]
        xja = [rpa.data for _, rpa, _ in fbanks]
        for k in range(n_bank):
            sfx = "" if k == 0 else f"_{k + 1}"
            # data only (the tags say when it is used): no reset, so each flip-flop has no LSR
            # net tying it to the engine's reset and can sit beside its block RAM
            xib_q = [Signal(cfg.feature_bits, name=f"xi_bank{l}{sfx}", reset_less=True) for l in range(K)]
            xja_q = [Signal(cfg.feature_bits, name=f"xj_bank{l}{sfx}", reset_less=True) for l in range(K)]
            m.d.sync += [r.eq(v) for r, v in zip(xib_q + xja_q, xib + xja)]
            xib, xja = xib_q, xja_q
        xi_sel = Signal(cfg.feature_bits)
        # the multiplexer sees the bank registers of the address n_tag - 1 cycles back: its select
        # travels with the tags (it changes every D cycles in point-parallel mode)
        with m.Switch(tags[n_tag - 1][3 + 2 * K:]):
            for l in range(K):
                with m.Case(l):
                    m.d.comb += xi_sel.eq(xib[l])
        xi_q = Signal(cfg.feature_bits, reset_less=True)
        m.d.sync += xi_q.eq(xi_sel)
        for l in range(K):
            ln = self.lanes[l]
            xj_q = Signal(cfg.feature_bits, name=f"xj_q{l}", reset_less=True)
            m.d.sync += xj_q.eq(xja[l])
            m.d.comb += [ln.issue.eq(t_issue), ln.first.eq(t_first), ln.last.eq(t_last),
                         ln.valid.eq(t_valid[l]), ln.is_self.eq(t_self[l]), ln.mm_clear.eq(point_start),
                         ln.xi.eq(xi_q), ln.xj.eq(xj_q)]

        # ------------------------------------------------------------ row writes
        wr_addr = Signal(range(self.row_depth + 1))
        wr_addr_nxt = next_values(m, wr_addr)
        with m.If(point_start):
            m.d.comb += wr_addr_nxt.eq(0)
        with m.Elif(self.lanes[0].dwr):
            m.d.comb += wr_addr_nxt.eq(wr_addr + 1)
        # the banks' write address wr_addr + (the upper half ? RPB : 0) is a register computed from
        # the next values, so no adder sits in front of the block RAMs' address inputs
        wr_full = Signal(range(self.row_depth + RPB + 1))
        m.d.sync += wr_full.eq(wr_addr_nxt + Mux(wr_half_nxt & ~pp, RPB, 0))
        if self.checks:
            m.d.sync += Assert(~self.lanes[0].dwr | (wr_full == wr_addr + Mux(wr_half & ~pp, RPB, 0)),
                               Format("distance engine: the registered row write address disagrees"))
        for l, (wp, _) in enumerate(rbanks):
            m.d.comb += [wp.addr.eq(wr_full), wp.data.eq(self.lanes[l].dout), wp.en.eq(self.lanes[l].dwr)]

        # ------------------------------------------------------------ min / max reduction
        # The row's min / max over the lanes, one lane per cycle through the lane select below
        # (`timing.dist_done`: K cycles + the select's latency), into one pair of running registers:
        # the row end is once per point (or group), so a K-input comparator tree (2 (K - 1)
        # registered comparators) was area spent for log2 K cycles. (The point-parallel PP_RANGE
        # reads the same select after `dist_done`; the two never overlap.)
        # dist_done is registered in cycle point_start + G*D + dist_done_latency - 1; `drain` counts
        # from 0 in the cycle after the last feature address
        m.d.sync += self.dist_done.eq(0)
        # the end of the drain is a register (`drain_end` == draining & (drain == C)) from drain's
        # previous value: the enable of dmin / dmax and the end of `draining` start at a flip-flop,
        # not at a comparison on the counter
        c_end = timing.dist_done_latency(K) - timing.ENGINE_CMD - 2
        # lane 0 is presented to the select at drain == red_first (its lmin / lmax are final one
        # cycle later, when the select samples them), lane K-1 K-1 cycles later; lane c's value
        # leaves the select at drain == c_end - K + c, the last one is in the running pair at c_end
        red_first = c_end - K - timing.MM_SEL_LATENCY
        assert red_first >= 1
        drain_end = Signal()
        m.d.sync += drain_end.eq(draining & ~drain_end & (drain == c_end - 1))
        red_on = Signal()                       # presenting lane red_idx to the select
        red_idx = Signal(range(max(K, 2)))
        with m.If(draining & ~red_on & (drain == red_first - 1)):
            m.d.sync += [red_on.eq(1), red_idx.eq(0)]
        with m.Elif(red_on):
            m.d.sync += red_idx.eq(red_idx + 1)
            with m.If(red_idx == K - 1):
                m.d.sync += [red_on.eq(0), red_idx.eq(0)]
        # the select's output is lane c's MM_SEL_LATENCY cycles after c was presented
        red_v = Cat(red_on, red_idx == 0)
        for k in range(timing.MM_SEL_LATENCY):
            nxt = Signal(2, name=f"red_v{k + 1}")
            m.d.sync += nxt.eq(red_v)
            red_v = nxt
        run_min, run_max = Signal(cfg.dist_bits), Signal(cfg.dist_bits)
        with m.If(red_v[0]):
            m.d.sync += [run_min.eq(Mux(red_v[1] | (self.sel_min < run_min), self.sel_min, run_min)),
                         run_max.eq(Mux(red_v[1] | (self.sel_max > run_max), self.sel_max, run_max))]
        if self.checks:
            m.d.sync += Assert(drain_end == (draining & (drain == c_end)),
                               Format("distance engine: drain_end disagrees with the drain counter"))
            m.d.sync += Assert(~red_on | (draining & (drain == red_first + red_idx)),
                               Format("distance engine: the min/max scan left its drain window"))
            m.d.sync += Assert(~red_on | (self.mm_sel == 0), Format("distance engine: mm_sel used during the min/max scan"))
            m.d.sync += Assert(red_on | (red_idx == 0), Format("distance engine: the min/max scan index rests at 0"))
        with m.If(draining):
            m.d.sync += drain.eq(drain + 1)
            with m.If(drain_end):
                m.d.sync += [draining.eq(0), self.dist_done.eq(1),
                             self.dmin.eq(run_min), self.dmax.eq(run_max)]

        # ------------------------------------------------------------ row read (search stream)
        rj_mod = Signal(range(max(K, 2)))
        rj_div = Signal(range(RPB + 1))
        cur_mod = Signal.like(rj_mod)
        cur_div = Signal.like(rj_div)
        m.d.comb += [cur_mod.eq(Mux(rd_restart, 0, rj_mod)), cur_div.eq(Mux(rd_restart, 0, rj_div))]
        with m.If(rd_en):
            with m.If(cur_mod == K - 1):
                m.d.sync += [rj_mod.eq(0), rj_div.eq(cur_div + 1)]
            with m.Else():
                m.d.sync += [rj_mod.eq(cur_mod + 1), rj_div.eq(cur_div)]
        rj_lin = Signal(range(self.row_depth + 1))     # point-parallel: j
        cur_lin = Signal.like(rj_lin)
        m.d.comb += cur_lin.eq(Mux(rd_restart, 0, rj_lin))
        with m.If(rd_en):
            m.d.sync += rj_lin.eq(cur_lin + 1)
        rd_mod_d = Signal.like(rj_mod)
        rd_mod_dd = Signal.like(rj_mod)
        m.d.sync += [rd_mod_d.eq(cur_mod), rd_mod_dd.eq(rd_mod_d)]
        rb = [Signal(cfg.dist_bits, name=f"row_bank_q{l}") for l in range(K)]
        for l, (_, rp) in enumerate(rbanks):
            m.d.comb += rp.addr.eq(Mux(pp, cur_lin, cur_div + Mux(rd_half, RPB, 0)))
            m.d.sync += rb[l].eq(rp.data)        # at the bank: the block RAM's clock-to-out stays local
            if self.checks:
                wp = rbanks[l][0]
                m.d.sync += Assert(~(wp.en & rd_en & (wp.addr == rp.addr)),
                                   Format(f"distance engine: row bank {l} written at the address of its used read"))
        with m.Switch(rd_mod_dd):
            for l in range(K):
                with m.Case(l):
                    m.d.sync += self.rd_data.eq(rb[l])
        # point-parallel: every lane its own element minus its own row minimum (the same two
        # register stages as rd_data + the controller's d = D - m register)
        for l in range(K):
            dl = Signal(cfg.dist_bits, name=f"pp_d_sub{l}")
            m.d.sync += [dl.eq(rb[l] - self.lanes[l].lmin), self.pp_d[l].eq(dl)]

        # ------------------------------------------------------------ one lane's min / max
        # the select is registered first (it comes from the controller, across the chip), then
        # each group of MM_SEL_GROUP neighbouring lanes selects into a register of its own and a
        # last register selects the group: no K-way multiplexer spans the lanes
        # (timing.MM_SEL_LATENCY cycles; the controller presents the select that much ahead)
        G = timing.MM_SEL_GROUP
        assert timing.MM_SEL_LATENCY == 3 and G & (G - 1) == 0, "a power-of-two group: its select is mm_sel's low bits"
        mm_sel = Signal.like(self.mm_sel)
        mm_grp = Signal(range(max((K + G - 1) // G, 2)))
        # the scan's index and the controller's select never overlap and each rests at 0 (asserted
        # above): an OR, not a multiplexer steered by red_on, on the controller's path
        m.d.sync += [mm_sel.eq(self.mm_sel | red_idx), mm_grp.eq(mm_sel // G)]
        grp_min, grp_max = [], []
        for g in range(0, K, G):
            gmin = Signal(cfg.dist_bits, name=f"mm_grp_min{g // G}")
            gmax = Signal(cfg.dist_bits, name=f"mm_grp_max{g // G}")
            with m.Switch(mm_sel % G):
                for l in range(g, min(g + G, K)):
                    with m.Case(l - g):
                        m.d.sync += [gmin.eq(self.lanes[l].lmin), gmax.eq(self.lanes[l].lmax)]
            grp_min.append(gmin)
            grp_max.append(gmax)
        with m.Switch(mm_grp):
            for g in range(len(grp_min)):
                with m.Case(g):
                    m.d.sync += [self.sel_min.eq(grp_min[g]), self.sel_max.eq(grp_max[g])]
        return m
