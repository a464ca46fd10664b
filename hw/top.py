"""Top level of the AdapSNE sigma-search core: registers, status, lanes, distance engine, controller.

Port contract (the cocotb testbenches rely on it; Verilog names follow Amaranth's flattening,
e.g. ``feat__valid``, ``res__payload``):

==============  =====================================  ============================================
port            shape                                  meaning
==============  =====================================  ============================================
``cfg_we``      In(1)                                  register write strobe (one write per cycle)
``cfg_addr``    In(4)                                  register address (hw.regmap.REGISTER_TABLE)
``cfg_wdata``   In(32)                                 write data
``status``      Out(StatusLayout)                      busy, done, error, error_code (LSB first)
``feat``        In(stream.Signature(feature_bits))     N*D features, row-major, after START
``res``         Out(stream.Signature(result layout))   one beat per point, in index order
``trace``       Out(stream.Signature(trace layout))    only with ``trace=True``
``emb``         Out(hw.tsne.trace_signature(cfg))      only with ``cfg.phases``: MODE = 1 output
==============  =====================================  ============================================

With ``cfg.phases`` and MODE = 1 the run continues after the last result beat with the joint
affinities and t-SNE (`hw.phases`); ``emb`` carries, per t-SNE iteration, its Zq beat and after
the last iteration the N embedding beats (`hw.tsne.trace_signature`); busy stays 1 until the last
``emb`` beat is taken.  MODE = 0 (the default) is the search-only run below, cycle for cycle.

Registers, commands and error codes: the tables of `hw.regmap` (rendered in docs/hardware.md).
The register file and the START checks below are loops over those tables.  Registers may be
written while busy; START latches them for the run.

START while idle runs the table's checks in order (codes 1-4, 7-9); a failing check refuses the START:
the core stays idle with error=1 and the code, done=0, no feature is accepted and nothing is
output.  An accepted START clears done/error, sets busy, computes the target entropy (``golden_model.timing.START_TARGET`` cycles),
then accepts exactly N*D features.  START while busy sets error=1, code BUSY and is otherwise
ignored.  After the last result beat is accepted: busy=0, done=1.

ABORT while busy: the search controller, the distance engine, the lanes and the phase units are
wrapped in ``ResetInserter``.  The write is registered once beside the register file
(``abort_req``), and each block's reset is a copy of that register of its own (``hw.replica``),
placed by the block.  At the second edge after the write the blocks return to their reset state,
and the same edge sets busy=0, done=0, error=1, error_code=ABORTED and clears ``res.valid``
(an unaccepted beat is dropped, and so is the one waiting in the skid register behind it; beats
are single words, so none is half-transferred).  A beat or feature whose handshake completes in
the ABORT cycle or the two cycles after transfers normally; a START written before the ABORT
has taken effect is overridden by it.  From then on ``feat.ready`` is 0 until the next START's
load phase.
Bound: ``hw.regmap.ABORT_CYCLES`` = 3 edges.  ABORT while idle is ignored.
"""

from __future__ import annotations

from amaranth.hdl import Assert, Format, Module, Mux, ResetInserter, Signal, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from golden_model.config import AccelConfig
from golden_model.run_schedule import EMB_EVERY_LOG2

from .distance import DistanceEngine
from .lane import Lane
from .layouts import CoreLayouts, StatusLayout
from .regmap import ADDR_BITS, COMMANDS, DATA_BITS, ERR, ERROR_TABLE, REGISTER_TABLE
from .replica import replica
from .search import SearchController

__all__ = ["AdapSNECore"]


class AdapSNECore(wiring.Component):
    """The AdapSNE sigma-search core (distance phase + bisection / K-section / FWA search).

    Parameters
    ----------
    cfg : AccelConfig
    trace : bool
        Add the ``trace`` stream: one beat per active lane per pass (candidate u, Z, T, H, lane,
        0-based pass index, point index).  The search waits while the trace beat is not taken.
    checks : bool
        Simulation only: every lane asserts that no two ops claim one of its resources in one
        cycle (`hw.lane.Lane`), which also checks the controller's grants to the distance engine.

    Attributes
    ----------
    cfg_we : In(1)
    cfg_addr : In(4)
    cfg_wdata : In(32)
    status : Out(StatusLayout)
    feat : In(stream.Signature(unsigned(feature_bits)))
    res : Out(stream.Signature(CoreLayouts(cfg).result))
    trace : Out(stream.Signature(CoreLayouts(cfg).trace)), only if ``trace``
    """

    def __init__(self, cfg: AccelConfig, trace: bool = False, checks: bool = False):
        self.cfg = cfg
        self.trace_en = trace
        self.checks = checks
        self.layouts = CoreLayouts(cfg)
        sig = {
            "cfg_we": In(1),
            "cfg_addr": In(ADDR_BITS),
            "cfg_wdata": In(DATA_BITS),
            "status": Out(StatusLayout),
            "feat": In(stream.Signature(unsigned(cfg.feature_bits))),
            "res": Out(stream.Signature(self.layouts.result)),
        }
        if trace:
            sig["trace"] = Out(stream.Signature(self.layouts.trace))
        if cfg.phases:
            from .tsne import trace_signature
            sig["emb"] = Out(trace_signature(cfg))
            from .select import select_layout
            sig["sel"] = Out(stream.Signature(select_layout(cfg)))
        super().__init__(sig)

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg
        K = cfg.lanes

        # ------------------------------------------------------------ registers (hw.regmap)
        regs = {r.name: Signal(r.width(cfg), init=r.reset(cfg), name=f"r_{r.name.lower()}")
                for r in REGISTER_TABLE if r.access == "wo"}
        r_n, r_d, r_perp, r_pol, r_seed = (regs[k] for k in ("N", "D", "PERP", "POLICY", "SEED"))
        run_n = Signal(cfg.count_bits)
        run_d = Signal(cfg.dim_bits)
        run_perp = Signal(cfg.perp_bits)
        run_pol = Signal.like(r_pol)
        run_seed = Signal.like(r_seed)
        run_pp = Signal()
        run_mode = Signal(2)
        run_k = Signal(cfg.count_bits)
        run_dbg = Signal()          # DEBUG bit 0: P dump (MODE 1, hw.pdump)

        wd = self.cfg_wdata
        cmd = {name: Signal(name=f"cmd_{name.lower()}") for name in COMMANDS}
        with m.If(self.cfg_we):
            with m.Switch(self.cfg_addr):
                for r in REGISTER_TABLE:
                    with m.Case(r.addr):
                        if r.name in regs:
                            sat = r.sat(cfg)
                            # saturate (not truncate) so that an out-of-range value stays out of range
                            m.d.sync += regs[r.name].eq(wd if sat is None else Mux(wd > sat, sat, wd))
                        else:  # CMD: one strobe per command
                            m.d.comb += [cmd[name].eq(wd == v) for name, v in COMMANDS.items()]
        cmd_clear, cmd_abort = cmd["CLEAR"], cmd["ABORT"]

        # START checks: the table's check functions, first failing code wins.  Both the checks and
        # the START strobe are registered (re-timing), so START acts one edge after its write, on
        # the registers as they are after every earlier write.
        st = self.status
        code_now = Signal(len(st.error_code))
        for e in reversed([e for e in ERROR_TABLE if e.check is not None]):
            with m.If(e.check(regs, cfg)):
                m.d.comb += code_now.eq(e.code)
        code = Signal(len(st.error_code))
        cmd_start = Signal()
        m.d.sync += [code.eq(code_now), cmd_start.eq(cmd["START"])]
        # ABORT while busy.  The reset reaches every register of the core, so it starts from
        # registers: the write is registered once here (a decode from the register port straight
        # into copies across the die was the digits run's critical path, session 13), and each
        # block resets from a copy of that register of its own (`_under_abort`).
        abort_req = Signal()
        m.d.sync += abort_req.eq(cmd_abort & (st.busy | cmd_start))
        abort = Signal()        # the top's own copy, in step with the blocks' copies
        m.d.sync += abort.eq(abort_req)

        # ------------------------------------------------------------ submodules
        lanes = [Lane(cfg, l, checks=self.checks) for l in range(K)]
        for l, ln in enumerate(lanes):
            self._under_abort(m, abort_req, f"lane{l}", ln)
        eng = DistanceEngine(cfg, checks=self.checks)
        self._under_abort(m, abort_req, "dist", eng)
        ctl = SearchController(cfg, trace=self.trace_en, checks=self.checks, fused_rows=cfg.phases)
        self._under_abort(m, abort_req, "ctrl", ctl)

        m.d.comb += [eng.n.eq(run_n), eng.d.eq(run_d),
                     ctl.n.eq(run_n), ctl.policy.eq(run_pol), ctl.perp.eq(run_perp), ctl.seed.eq(run_seed)]
        wiring.connect(m, wiring.flipped(self.feat), eng.feat)

        # engine <-> controller
        m.d.comb += [eng.point_first.eq(ctl.eng_point_first), eng.point_next.eq(ctl.eng_point_next),
                     eng.point_start.eq(ctl.eng_point_start),
                     ctl.eng_dist_done.eq(eng.dist_done), ctl.eng_dmin.eq(eng.dmin), ctl.eng_dmax.eq(eng.dmax),
                     eng.rd_en.eq(ctl.eng_rd_en), eng.rd_restart.eq(ctl.eng_rd_restart),
                     eng.rd_half.eq(ctl.eng_rd_half), eng.grant.eq(ctl.eng_grant),
                     eng.pp.eq(run_pp), ctl.pp.eq(run_pp), eng.mm_sel.eq(ctl.eng_mm_sel),
                     ctl.eng_sel_min.eq(eng.sel_min), ctl.eng_sel_max.eq(eng.sel_max),
                     *[ctl.eng_pp_d[l].eq(eng.pp_d[l]) for l in range(K)],
                     ctl.eng_rd_data.eq(eng.rd_data)]
        # lanes: distance ops from the engine, search ops from the controller, scan chain to lane 0
        for l, ln in enumerate(lanes):
            wiring.connect(m, eng.lanes[l], ln.dist)
            wiring.connect(m, ctl.lanes[l], ln.ops)
            if l + 1 < K:
                wiring.connect(m, lanes[l + 1].scan_out, ln.scan_in)
        wiring.connect(m, lanes[0].scan_out, ctl.scan)
        if self.trace_en:
            m.d.comb += [self.trace.valid.eq(ctl.trace_valid), self.trace.payload.eq(ctl.trace_payload),
                         ctl.trace_ready.eq(self.trace.ready)]

        # ------------------------------------------------------------ output register
        # out_v: the register's valid; in the selection modes (MODE 2, 3) the beats stay inside
        # (u capture, convergence count) as if res.ready were 1, and res.valid stays 0
        # A skid register behind it makes the controller's ready a register (`~skid_v`): res.ready
        # reaches the two output registers only, never the controller's FSM or the distance engine.
        # With res.ready held at 1 the skid stays empty and the beats leave as without it.
        out_v = Signal()
        skid_v = Signal()
        skid_nx = Signal()      # skid_v's next value
        skid = Signal.like(self.res.payload)
        sel_mode = Signal()
        m.d.comb += [sel_mode.eq(run_mode[1]), self.res.valid.eq(out_v & ~sel_mode)]
        # the controller side reads a copy of skid_v of its own (`hw.replica`), placed by the
        # controller: the output register sits by the pins, away from the controller's FSM
        skid_c = replica(m, skid_nx, "skid_v_ctl")
        out_free = ~skid_c
        if self.checks:
            m.d.sync += Assert(skid_c == skid_v, Format("core: the skid copies disagree"))
        seq = (self._phases(m, abort_req, lanes, eng, ctl, run_n, run_seed, out_free, run_dbg, run_mode, run_pp)
               if cfg.phases else None)
        sel = self._select(m, abort_req, ctl, run_n, run_k, run_perp, run_mode, run_seed, out_free) if cfg.phases else None
        m.d.comb += ctl.out_ready.eq(out_free)
        take = ctl.out_valid & ~skid_v
        # The payload registers load whenever they may (their contents do not matter while their
        # valid bit is low), so their enables and multiplexers see local registers only, not the
        # controller's state (`take`), which is half a die away on the larger presets.
        m.d.comb += skid_nx.eq(skid_v)
        m.d.sync += skid_v.eq(skid_nx)
        with m.If(~out_v | self.res.ready | sel_mode):      # the output register is free
            with m.If(skid_v):
                m.d.comb += skid_nx.eq(0)
                m.d.sync += [out_v.eq(1), self.res.payload.eq(skid)]
            with m.Else():
                m.d.sync += [out_v.eq(take), self.res.payload.eq(ctl.out_payload)]
        with m.Else():                                       # held: a new beat waits in the skid
            m.d.comb += skid_nx.eq(skid_v | take)
            m.d.sync += skid.eq(Mux(skid_v, skid, ctl.out_payload))
        with m.If(abort):  # unaccepted beats are dropped (the one exception to the stream rule)
            m.d.comb += skid_nx.eq(0)
            m.d.sync += out_v.eq(0)

        # ------------------------------------------------------------ run FSM + status
        IDLE, TGT, TGT_WAIT, LOAD, RUN, FINISH, PHASES, SELECT = range(8)
        state = Signal(range(8 if cfg.phases else 6), name="run_state")
        rerun = Signal()        # MODE 3, a later candidate: the features are already loaded
        with m.If(cmd_clear):
            m.d.sync += [st.error.eq(0), st.error_code.eq(ERR["NONE"]), st.done.eq(0)]
        with m.Switch(state):
            with m.Case(IDLE):
                with m.If(cmd_start):
                    m.d.sync += st.done.eq(0)
                    with m.If(code != ERR["NONE"]):
                        m.d.sync += [st.error.eq(1), st.error_code.eq(code)]
                    with m.Else():
                        m.d.sync += [st.busy.eq(1), st.error.eq(0), st.error_code.eq(ERR["NONE"]),
                                     run_n.eq(r_n), run_d.eq(r_d), run_perp.eq(r_perp),
                                     run_pol.eq(r_pol), run_seed.eq(r_seed), run_pp.eq(regs["DATAFLOW"]),
                                     run_mode.eq(regs["MODE"]), run_k.eq(regs["BUDGET"]), rerun.eq(0),
                                     run_dbg.eq(regs["DEBUG"][0]),
                                     state.eq(TGT)]
                        if sel is not None:
                            m.d.comb += sel.begin.eq(1)
            with m.Case(TGT):
                m.d.comb += ctl.tgt_start.eq(1)
                m.d.sync += state.eq(TGT_WAIT)
            with m.Case(TGT_WAIT):
                with m.If(ctl.tgt_done & rerun):
                    m.d.comb += ctl.go.eq(1)
                    m.d.sync += state.eq(RUN)
                with m.Elif(ctl.tgt_done):
                    m.d.comb += eng.load_start.eq(1)
                    m.d.sync += state.eq(LOAD)
            with m.Case(LOAD):
                with m.If(eng.loaded):
                    m.d.comb += ctl.go.eq(1)
                    m.d.sync += state.eq(RUN)
            with m.Case(RUN):
                with m.If(ctl.all_done):
                    m.d.sync += state.eq(FINISH)
            with m.Case(FINISH):
                with m.If(~skid_v & (~out_v | self.res.ready | sel_mode)):
                    if seq is None:
                        m.d.sync += [st.busy.eq(0), st.done.eq(1), state.eq(IDLE)]
                    else:
                        with m.If(run_mode != 0):
                            m.d.comb += seq.start.eq(1)
                            m.d.sync += state.eq(PHASES)
                        with m.Else():
                            m.d.sync += [st.busy.eq(0), st.done.eq(1), state.eq(IDLE)]
            if seq is not None:
                with m.Case(PHASES):
                    with m.If(seq.done & sel_mode):
                        m.d.comb += sel.go.eq(1)
                        m.d.sync += state.eq(SELECT)
                    with m.Elif(seq.done):
                        m.d.sync += [st.busy.eq(0), st.done.eq(1), state.eq(IDLE)]
                with m.Case(SELECT):
                    with m.If(sel.next):
                        m.d.sync += [rerun.eq(1), state.eq(TGT)]
                    with m.Elif(sel.done):
                        m.d.sync += [st.busy.eq(0), st.done.eq(1), state.eq(IDLE)]
        # START while busy: flag it, the run continues
        with m.If(cmd_start & st.busy):
            m.d.sync += [st.error.eq(1), st.error_code.eq(ERR["BUSY"])]
        with m.If(abort):
            m.d.sync += [st.busy.eq(0), st.done.eq(0), st.error.eq(1), st.error_code.eq(ERR["ABORTED"]),
                         state.eq(IDLE)]
        return m

    @staticmethod
    def _under_abort(m, abort_req, name, block):
        """Add `block` as submodule `name`, reset by a copy of ABORT of its own (`hw.replica`)."""
        m.submodules[name] = ResetInserter(replica(m, abort_req, f"abort_{name}"))(block)

    def _phases(self, m, abort_req, lanes, eng, ctl, run_n, run_seed, out_free, run_dbg, run_mode, run_pp):
        """The affinity phase, the t-SNE engine and their sequencer (``cfg.phases``): submodules
        under the abort reset, the u capture, and the phase multiplexers in front of the distance
        engine's commands and lane 0 (module docstring of `hw.phases`)."""
        from golden_model import tsne_fixed as tf

        from .affinity import AffinityController
        from .phases import Phase, PhaseSequencer, drive
        from .tsne import TsneEngine
        cfg, K = self.cfg, self.cfg.lanes
        seq, aff, tsn = PhaseSequencer(cfg), AffinityController(cfg, checks=self.checks), TsneEngine(cfg, checks=self.checks, ext=True)
        self.phase_units = {"seq": seq, "aff": aff, "tsne": tsn}     # simulation handles
        self._under_abort(m, abort_req, "phases", seq)
        self._under_abort(m, abort_req, "aff", aff)
        self._under_abort(m, abort_req, "tsne", tsn)
        in_aff, in_tsne = seq.phase == Phase.AFF, seq.phase == Phase.TSNE
        l0 = lanes[0]
        # u capture: every search beat entering the output register
        m.d.comb += [seq.beat_valid.eq(ctl.out_valid & out_free), seq.beat_index.eq(ctl.out_payload.index),
                     seq.beat_u.eq(ctl.out_payload.u),
                     aff.u_we.eq(seq.u_we), aff.u_addr.eq(seq.u_addr), aff.u_data.eq(seq.u_data),
                     aff.go.eq(seq.aff_go), seq.aff_done.eq(aff.done), aff.n.eq(run_n),
                     tsn.init.eq(seq.tsne_init), tsn.go.eq(seq.tsne_go), seq.tsne_done.eq(tsn.done)]
        # fused rows (MODE 1-3, candidate-parallel search): each point's affinity row inside the
        # search (its AFFROW state), on the row the search left in the row buffer
        fuse = Signal()
        m.d.comb += [fuse.eq((run_mode != 0) & ~run_pp), ctl.fuse.eq(fuse), seq.skip_aff.eq(fuse),
                     aff.row_go.eq(ctl.aff_row_go), aff.row_first.eq(ctl.aff_row_first),
                     aff.row_u.eq(ctl.aff_row_u), aff.row_m.eq(ctl.aff_row_m), ctl.aff_row_done.eq(aff.row_done)]
        aff_owns = in_aff | ctl.aff_row
        # affinity phase / fused row: engine commands (the phase only) and read port, grant, lane 0's
        # cand/kern/trecip (the search drives them otherwise)
        for name in ("point_first", "point_next", "point_start"):
            with m.If(in_aff):
                m.d.comb += getattr(eng, name).eq(getattr(aff, f"eng_{name}"))
        for name in ("grant", "rd_en", "rd_restart", "rd_half"):
            with m.If(aff_owns):
                m.d.comb += getattr(eng, name).eq(getattr(aff, f"eng_{name}"))
        for name in ("dist_done", "dmin", "rd_data"):
            m.d.comb += getattr(aff, f"eng_{name}").eq(getattr(eng, name))
        # the search controller keeps any dist_done for its next point (`dready`): the affinity
        # phase's row recomputations must not reach it, or the next search's point 0 (the next run,
        # or MODE 3's next candidate) takes a stale row
        # outside the search the engine runs candidate-parallel (the affinity phase's row
        # recomputations), whatever DATAFLOW the run's search uses
        with m.If(seq.phase != Phase.SEARCH):
            m.d.comb += [ctl.eng_dist_done.eq(0), eng.pp.eq(0)]
        wiring.connect(m, aff.aff, l0.aff)
        m.d.comb += [aff.lane_z.eq(l0.scan_out.z), aff.rcp_p.eq(l0.tsne.p), aff.rcp_r.eq(l0.tsne.r)]
        # t-SNE: every lane's t-SNE ops and scan chain; lane 0's prng op in the t-SNE phase
        for l, ln in enumerate(lanes):
            wiring.connect(m, tsn.lane_port(l), ln.tsne)
            if l + 1 < K:
                wiring.connect(m, lanes[l + 1].tscan_out, ln.tscan_in)
        wiring.connect(m, tsn.tscan_push, lanes[K - 1].tscan_in)
        wiring.connect(m, l0.tscan_out, tsn.tscan0)
        m.d.comb += tsn.gauss.eq(l0.gauss)
        with m.If(aff_owns):
            drive(m, l0.ops, aff.lane)
            m.d.comb += [l0.tsne.recip.issue.eq(aff.rcp_issue), l0.tsne.recip.x.eq(aff.rcp_x)]
        with m.If(in_tsne):
            drive(m, l0.ops.prng, tsn.prng)
        # one P memory: the t-SNE engine reads S through the affinity phase's idle read port
        m.d.comb += [*[aff.p_rd_addr[k].eq(tsn.s_addr[k]) for k in range(K)],
                     *[tsn.s_data[k].eq(aff.p_rd_all[k]) for k in range(K)],
                     aff.p_rd_used.eq(in_tsne | seq.pd_active)]
        # P dump (DEBUG bit 0): the same read port while the sequencer is in PDUMP_GO / PDUMP
        from .pdump import PDump
        pd = PDump(cfg)
        self._under_abort(m, abort_req, "pdump", pd)
        m.d.comb += [pd.n.eq(run_n), pd.go.eq(seq.pd_go), seq.pd_done.eq(pd.done), seq.pdump.eq(run_dbg),
                     pd.rd_data.eq(aff.p_rd_data)]
        with m.If(seq.pd_active):
            m.d.comb += [*[aff.p_rd_addr[k].eq(pd.rd_addr) for k in range(K)], aff.p_rd_bank.eq(pd.rd_bank)]
        # schedule constants (cfg) and the emb stream (Zq of every iteration, the last embedding)
        co = tf.Coefs.of(cfg)
        m.d.comb += [tsn.n.eq(run_n), tsn.seed.eq(run_seed), tsn.ex.eq(co.ex), tsn.mom_early.eq(co.mom_early),
                     tsn.mom_late.eq(co.mom_late), tsn.lr.eq(co.lr), tsn.iters.eq(cfg.tsne_iters),
                     tsn.ex_iters.eq(cfg.tsne_exaggeration_iters), tsn.trace_en.eq(1),
                     tsn.trace_every_log2.eq(EMB_EVERY_LOG2)]
        # emb: the P dump's beats in PDUMP (its valid is 0 elsewhere), else the t-SNE trace
        drive(m, self.emb, tsn.trace)
        with m.If(seq.pd_active):
            drive(m, self.emb, pd.out)
        m.d.comb += [tsn.trace.ready.eq(self.emb.ready), pd.out.ready.eq(self.emb.ready)]
        return seq

    def _select(self, m, abort_req, ctl, run_n, run_k, run_perp, run_mode, run_seed, out_free):
        """MODE 2 and 3 (`hw.select`): the selection unit under the abort reset, on the t-SNE
        engine's y read port; it supplies the search's perplexity (MODE 3: the running
        candidate) and turns the t-SNE trace off (both override the assignments made earlier)."""
        from .select import SelectUnit
        cfg = self.cfg
        sel = SelectUnit(cfg)
        self.phase_units["select"] = sel
        self._under_abort(m, abort_req, "select", sel)
        tsn = self.phase_units["tsne"]
        m.d.comb += [sel.mode3.eq(run_mode == 3), sel.n.eq(run_n), sel.k.eq(run_k), sel.run_perp.eq(run_perp),
                     sel.beat_valid.eq(ctl.out_valid & out_free), sel.beat_conv.eq(ctl.out_payload.converged),
                     tsn.rd_addr.eq(sel.yrd.addr), sel.yrd.data.eq(tsn.rd_y),
                     sel.v.eq(ctl.target), sel.seed.eq(run_seed),
                     ctl.perp.eq(sel.perp), tsn.trace_en.eq(run_mode == 1)]
        wiring.connect(m, sel.sel, wiring.flipped(self.sel))
        return sel
