"""A small stand-in for the AdapSNE core with the same top-level port contract.

It exists to prove the verification infrastructure (Amaranth -> Verilog -> Verilator via the
cocotb runner -> driver / monitor / scoreboard, error handling, back-pressure) independently of the
real accelerator, and it stays in the test suite as a self-test of the testbench.

Behaviour ("row-sum core"):

* Register interface and status/error semantics as the real core (docs/verification.md): the
  addresses, commands, START checks and error codes of `hw.regmap` (registers stored unsaturated,
  32 bits wide; ABORT while busy returns to idle at the next edge with error ABORTED).
* After START it accepts exactly N*D features (row-major) and sums each row.
* `latency` cycles after the last feature it emits one result beat per point in order, using the
  real core's ResultLayout field names: index = i, h = row sum, u = row sum - 100 (signed),
  passes = row sum mod 256, converged = row sum mod 2.  The first beat can transfer at the edge
  `latency + 2` edges after the edge that accepted the last feature; beat k at `latency + 2 + k`
  when the result stream is never stalled (see `standin_reference`).

`StandinCore(cfg, latency=3)`; `generate_verilog(cfg) -> str`.
"""

from __future__ import annotations

from amaranth import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from golden_model.config import AccelConfig

from hw.convert import to_verilog
from hw.regmap import ERROR_TABLE, REGISTER_TABLE

from .regs import (CMD_ABORT, CMD_CLEAR, CMD_START, ERR_ABORTED, ERR_BUSY, REG_CMD, REG_D, REG_N, REG_PERP,
                   REG_POLICY, REG_SEED)

from hw.layouts import StatusLayout  # noqa: E402  (the real core's layout)


def standin_result_layout(cfg: AccelConfig) -> data.StructLayout:
    sum_bits = (cfg.d_max * cfg.feature_max).bit_length()
    return data.StructLayout({
        "index": cfg.index_bits,
        "u": signed(sum_bits + 1),
        "h": unsigned(sum_bits),
        "passes": 8,
        "converged": 1,
    })


def standin_values(rowsum: int) -> dict:
    return {"u": rowsum - 100, "h": rowsum, "passes": rowsum & 0xFF, "converged": rowsum & 1}


def standin_reference(X, latency: int = 3) -> tuple:
    """Expected beats (list of dicts) and expected relative cycles for the stand-in."""
    beats, cycles = [], []
    for i, row in enumerate(X):
        s = int(sum(int(v) for v in row))
        beats.append({"index": i, **standin_values(s)})
        cycles.append(latency + 2 + i)
    return beats, cycles


class StandinCore(wiring.Component):
    def __init__(self, cfg: AccelConfig, latency: int = 3):
        self.cfg = cfg
        self.latency = latency
        self.res_layout = standin_result_layout(cfg)
        super().__init__({
            "cfg_we": In(1),
            "cfg_addr": In(4),
            "cfg_wdata": In(32),
            "status": Out(StatusLayout),
            "feat": In(stream.Signature(cfg.feature_bits)),
            "res": Out(stream.Signature(self.res_layout)),
        })

    def elaborate(self, platform):
        cfg = self.cfg
        m = Module()
        sum_bits = (cfg.d_max * cfg.feature_max).bit_length()

        n_reg = Signal(32)
        d_reg = Signal(32)
        perp_reg = Signal(32)
        pol_reg = Signal(32)
        seed_reg = Signal(32)

        busy = Signal()
        done = Signal()
        err = Signal()
        err_code = Signal(4)
        m.d.comb += [self.status.busy.eq(busy), self.status.done.eq(done),
                     self.status.error.eq(err), self.status.error_code.eq(err_code)]

        mem = m.submodules.mem = Memory(shape=unsigned(sum_bits), depth=cfg.n_max, init=[])
        wr = mem.write_port()
        rd = mem.read_port(domain="comb")

        row = Signal(range(cfg.n_max + 1))
        col = Signal(range(cfg.d_max + 1))
        acc = Signal(sum_bits)
        cnt = Signal(range(self.latency + 2))
        out_i = Signal(range(cfg.n_max + 1))

        start = Signal()
        clear = Signal()
        abort = Signal()
        # the registers the stand-in has no use for (DATAFLOW, MODE, ...) are still held, so the
        # table's START checks see them
        other_regs = [r for r in REGISTER_TABLE
                      if r.access == "wo" and r.name not in ("N", "D", "PERP", "POLICY", "SEED")]
        other = {r.name: Signal(r.width(cfg), init=r.reset(cfg), name=f"r_{r.name.lower()}") for r in other_regs}
        with m.If(self.cfg_we):
            with m.Switch(self.cfg_addr):
                with m.Case(REG_N):
                    m.d.sync += n_reg.eq(self.cfg_wdata)
                with m.Case(REG_D):
                    m.d.sync += d_reg.eq(self.cfg_wdata)
                with m.Case(REG_PERP):
                    m.d.sync += perp_reg.eq(self.cfg_wdata)
                with m.Case(REG_POLICY):
                    m.d.sync += pol_reg.eq(self.cfg_wdata)
                with m.Case(REG_SEED):
                    m.d.sync += seed_reg.eq(self.cfg_wdata)
                for r in other_regs:
                    with m.Case(r.addr):
                        m.d.sync += other[r.name].eq(Mux(self.cfg_wdata > r.sat(cfg), r.sat(cfg), self.cfg_wdata)
                                                     if r.sat(cfg) is not None else self.cfg_wdata)
                with m.Case(REG_CMD):
                    m.d.comb += [start.eq(self.cfg_wdata == CMD_START), clear.eq(self.cfg_wdata == CMD_CLEAR),
                                 abort.eq((self.cfg_wdata == CMD_ABORT) & busy)]

        regs = {"N": n_reg, "D": d_reg, "PERP": perp_reg, "POLICY": pol_reg, **other}
        code = Signal(4)
        for e in reversed([e for e in ERROR_TABLE if e.check is not None]):  # first failing check wins
            with m.If(e.check(regs, cfg)):
                m.d.comb += code.eq(e.code)
        with m.If(clear):
            m.d.sync += [err.eq(0), err_code.eq(0), done.eq(0)]

        # row sums and outputs
        m.d.comb += [wr.addr.eq(row), wr.data.eq(acc + self.feat.payload), rd.addr.eq(out_i)]
        m.d.comb += [self.res.payload.index.eq(out_i),
                     self.res.payload.h.eq(rd.data),
                     self.res.payload.u.eq(rd.data - 100),
                     self.res.payload.passes.eq(rd.data[:8]),
                     self.res.payload.converged.eq(rd.data[0])]

        with m.FSM():
            with m.State("IDLE"):
                with m.If(start):
                    with m.If(code != 0):
                        m.d.sync += [err.eq(1), err_code.eq(code)]
                    with m.Else():
                        m.d.sync += [busy.eq(1), done.eq(0), row.eq(0), col.eq(0), acc.eq(0), out_i.eq(0)]
                        m.next = "LOAD"
            with m.State("LOAD"):
                m.d.comb += self.feat.ready.eq(1)
                with m.If(self.feat.valid):
                    with m.If(col == d_reg - 1):
                        m.d.comb += wr.en.eq(1)
                        m.d.sync += [col.eq(0), acc.eq(0), row.eq(row + 1)]
                        with m.If(row == n_reg - 1):
                            m.d.sync += cnt.eq(self.latency)
                            m.next = "WAIT"
                    with m.Else():
                        m.d.sync += [col.eq(col + 1), acc.eq(acc + self.feat.payload)]
                with m.If(abort):
                    m.next = "IDLE"
            with m.State("WAIT"):
                with m.If(cnt == 0):
                    m.next = "OUT"
                with m.Else():
                    m.d.sync += cnt.eq(cnt - 1)
                with m.If(abort):
                    m.next = "IDLE"
            with m.State("OUT"):
                m.d.comb += self.res.valid.eq(1)
                with m.If(self.res.ready):
                    m.d.sync += out_i.eq(out_i + 1)
                    with m.If(out_i == n_reg - 1):
                        m.d.sync += [busy.eq(0), done.eq(1)]
                        m.next = "IDLE"
                with m.If(abort):
                    m.next = "IDLE"
        # START while busy: flag it, keep running
        with m.If(start & busy):
            m.d.sync += [err.eq(1), err_code.eq(ERR_BUSY)]
        with m.If(abort):
            m.d.sync += [busy.eq(0), done.eq(0), err.eq(1), err_code.eq(ERR_ABORTED)]
        return m


def generate_verilog(cfg: AccelConfig, latency: int = 3, name: str = "adapsne_core") -> str:
    core = StandinCore(cfg, latency=latency)
    return to_verilog(core, name=name, emit_src=False)


def build_core(cfg: AccelConfig, trace: bool = False, latency: int = 3) -> StandinCore:
    return StandinCore(cfg, latency=latency)
