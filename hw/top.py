"""Top level of the AdapSNE sigma-search core: registers, status, lanes, distance engine, controller.

Port contract (the cocotb testbenches rely on it; Verilog names follow Amaranth's flattening,
e.g. ``feat__valid``, ``res__payload``):

==============  =====================================  ============================================
port            shape                                  meaning
==============  =====================================  ============================================
``cfg_we``      In(1)                                  register write strobe (one write per cycle)
``cfg_addr``    In(4)                                  0 N, 1 D, 2 PERP, 3 POLICY, 4 SEED, 7 CMD
``cfg_wdata``   In(32)                                 write data
``status``      Out(StatusLayout)                      busy, done, error, error_code (LSB first)
``feat``        In(stream.Signature(feature_bits))     N*D features, row-major, after START
``res``         Out(stream.Signature(result layout))   one beat per point, in index order
``trace``       Out(stream.Signature(trace layout))    only with ``trace=True``
==============  =====================================  ============================================

Registers (written values are saturated into the register width, so out-of-range values stay
out of range): N (reset 0), D (reset 0), PERP (reset ``perplexity_to_reg(cfg.perplexity)``),
POLICY (reset 0 = bisection; 1 fwa, 2 ksection), SEED (reset ``cfg.seed``).  CMD: 1 = START,
2 = CLEAR (clears error, error_code and done); other values and addresses 5, 6 are ignored.
Registers may be written while busy; they take effect at the next START (START latches them).

START while idle checks, in this order: 1 N (N < 2 or N > n_max), 2 D (D == 0 or D > d_max),
3 PERP (PERP <= 1.0 or PERP >= N), 4 POLICY (> 2).  A failing check refuses the START: the core
stays idle with error=1 and the code, done=0, no feature is accepted and nothing is output.  An
accepted START clears done/error, sets busy, computes the target entropy (``golden_model.timing.START_TARGET`` cycles), then accepts
exactly N*D features.  START while busy sets error=1, code 5 and is otherwise ignored.  After the
last result beat is accepted: busy=0, done=1.
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from golden_model import fixed as fx
from golden_model.config import AccelConfig, bit_length

from .distance import DistanceEngine
from .lane import Lane
from .layouts import COMMANDS, REGISTERS, CoreLayouts, StatusLayout
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

    def __init__(self, cfg: AccelConfig, trace: bool = False):
        self.cfg = cfg
        self.trace_en = trace
        self.layouts = CoreLayouts(cfg)
        sig = {
            "cfg_we": In(1),
            "cfg_addr": In(4),
            "cfg_wdata": In(32),
            "status": Out(StatusLayout),
            "feat": In(stream.Signature(unsigned(cfg.feature_bits))),
            "res": Out(stream.Signature(self.layouts.result)),
        }
        if trace:
            sig["trace"] = Out(stream.Signature(self.layouts.trace))
        super().__init__(sig)

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg
        K = cfg.lanes

        # ------------------------------------------------------------ registers
        nb = bit_length(cfg.n_max + 1)
        db = bit_length(cfg.d_max + 1)
        perp_sat = cfg.n_max << cfg.perp_frac
        perp_reset = min(fx.perplexity_to_reg(cfg.perplexity, cfg), perp_sat)
        r_n = Signal(nb)
        r_d = Signal(db)
        r_perp = Signal(cfg.perp_bits, init=perp_reset)
        r_pol = Signal(2)
        r_seed = Signal(32, init=cfg.seed)
        run_n = Signal(cfg.count_bits)
        run_d = Signal(cfg.dim_bits)
        run_perp = Signal(cfg.perp_bits)
        run_pol = Signal(2)
        run_seed = Signal(32)

        wd = self.cfg_wdata
        cmd_start = Signal()
        cmd_clear = Signal()
        with m.If(self.cfg_we):
            with m.Switch(self.cfg_addr):
                with m.Case(REGISTERS["N"]):
                    m.d.sync += r_n.eq(Mux(wd > cfg.n_max, cfg.n_max + 1, wd))
                with m.Case(REGISTERS["D"]):
                    m.d.sync += r_d.eq(Mux(wd > cfg.d_max, cfg.d_max + 1, wd))
                with m.Case(REGISTERS["PERP"]):
                    m.d.sync += r_perp.eq(Mux(wd > perp_sat, perp_sat, wd))
                with m.Case(REGISTERS["POLICY"]):
                    m.d.sync += r_pol.eq(Mux(wd > 3, 3, wd))
                with m.Case(REGISTERS["SEED"]):
                    m.d.sync += r_seed.eq(wd)
                with m.Case(REGISTERS["CMD"]):
                    m.d.comb += [cmd_start.eq(wd == COMMANDS["START"]), cmd_clear.eq(wd == COMMANDS["CLEAR"])]

        st = self.status
        code = Signal(4)
        with m.If((r_n < 2) | (r_n > cfg.n_max)):
            m.d.comb += code.eq(1)
        with m.Elif((r_d == 0) | (r_d > cfg.d_max)):
            m.d.comb += code.eq(2)
        with m.Elif((r_perp <= (1 << cfg.perp_frac)) | (r_perp >= (r_n << cfg.perp_frac))):
            m.d.comb += code.eq(3)
        with m.Elif(r_pol > 2):
            m.d.comb += code.eq(4)

        # ------------------------------------------------------------ submodules
        lanes = [Lane(cfg, l) for l in range(K)]
        for l, ln in enumerate(lanes):
            m.submodules[f"lane{l}"] = ln
        m.submodules.dist = eng = DistanceEngine(cfg)
        m.submodules.ctrl = ctl = SearchController(cfg, trace=self.trace_en)

        m.d.comb += [eng.n.eq(run_n), eng.d.eq(run_d),
                     ctl.n.eq(run_n), ctl.policy.eq(run_pol), ctl.perp.eq(run_perp), ctl.seed.eq(run_seed)]
        wiring.connect(m, wiring.flipped(self.feat), eng.feat)

        # engine <-> controller
        m.d.comb += [eng.point_first.eq(ctl.eng_point_first), eng.point_next.eq(ctl.eng_point_next),
                     eng.point_start.eq(ctl.eng_point_start),
                     ctl.eng_dist_done.eq(eng.dist_done), ctl.eng_dmin.eq(eng.dmin), ctl.eng_dmax.eq(eng.dmax),
                     eng.rd_en.eq(ctl.eng_rd_en), eng.rd_restart.eq(ctl.eng_rd_restart),
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
        out_free = ~self.res.valid | self.res.ready
        m.d.comb += ctl.out_ready.eq(out_free)
        with m.If(self.res.valid & self.res.ready):
            m.d.sync += self.res.valid.eq(0)
        with m.If(ctl.out_valid & out_free):
            m.d.sync += [self.res.valid.eq(1), self.res.payload.eq(ctl.out_payload)]

        # ------------------------------------------------------------ run FSM + status
        with m.If(cmd_clear):
            m.d.sync += [st.error.eq(0), st.error_code.eq(0), st.done.eq(0)]
        with m.FSM(name="run"):
            with m.State("IDLE"):
                with m.If(cmd_start):
                    m.d.sync += st.done.eq(0)
                    with m.If(code != 0):
                        m.d.sync += [st.error.eq(1), st.error_code.eq(code)]
                    with m.Else():
                        m.d.sync += [st.busy.eq(1), st.error.eq(0), st.error_code.eq(0),
                                     run_n.eq(r_n), run_d.eq(r_d), run_perp.eq(r_perp),
                                     run_pol.eq(r_pol), run_seed.eq(r_seed)]
                        m.next = "TGT"
            with m.State("TGT"):
                m.d.comb += ctl.tgt_start.eq(1)
                m.next = "TGT_WAIT"
            with m.State("TGT_WAIT"):
                with m.If(ctl.tgt_done):
                    m.d.comb += eng.load_start.eq(1)
                    m.next = "LOAD"
            with m.State("LOAD"):
                with m.If(eng.loaded):
                    m.d.comb += ctl.go.eq(1)
                    m.next = "RUN"
            with m.State("RUN"):
                with m.If(ctl.all_done):
                    m.next = "FINISH"
            with m.State("FINISH"):
                with m.If(~self.res.valid | self.res.ready):
                    m.d.sync += [st.busy.eq(0), st.done.eq(1)]
                    m.next = "IDLE"
        # START while busy: flag it, the run continues
        with m.If(cmd_start & st.busy):
            m.d.sync += [st.error.eq(1), st.error_code.eq(5)]
        return m
