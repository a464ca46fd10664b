"""Stand-in core used by the synthesis flow only while `hw.generate` does not exist yet.

It has the AdapSNE core's port contract (cfg_we/cfg_addr/cfg_wdata, status, feat stream in, res
stream out) and a datapath of the same *kind* -- a feature memory, K lanes of pipelined
squared-difference multiply-accumulate, a result stream -- so that every step of the flow (memory
inference, DSP inference, I/O harness, place and route) is exercised.  Its numbers mean nothing
for the accelerator; every report made with it says ``"design": {"standin": true}``.
"""

from __future__ import annotations

from amaranth import Cat, Module, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from golden_model.config import AccelConfig

StatusLayout = data.StructLayout({"busy": 1, "done": 1, "error": 1, "error_code": 4})


class StandinMacCore(wiring.Component):
    """Row-by-row squared distance of every point to K reference points (one per lane)."""

    def __init__(self, cfg: AccelConfig):
        self.cfg = cfg
        self.res_layout = data.StructLayout({"index": cfg.index_bits, "lane": cfg.lane_bits,
                                             "dist": cfg.dist_bits})
        super().__init__({
            "cfg_we": In(1), "cfg_addr": In(4), "cfg_wdata": In(32),
            "status": Out(StatusLayout),
            "feat": In(stream.Signature(unsigned(cfg.feature_bits))),
            "res": Out(stream.Signature(self.res_layout)),
        })

    def elaborate(self, platform):
        cfg = self.cfg
        K, fb = cfg.lanes, cfg.feature_bits
        m = Module()
        n = Signal(range(cfg.n_max + 1))
        d = Signal(range(cfg.d_max + 1))
        with m.If(self.cfg_we & (self.cfg_addr == 0)):
            m.d.sync += n.eq(self.cfg_wdata)
        with m.If(self.cfg_we & (self.cfg_addr == 1)):
            m.d.sync += d.eq(self.cfg_wdata)

        mem = m.submodules.fmem = Memory(shape=unsigned(fb), depth=cfg.n_max * cfg.d_max, init=[])
        wp = mem.write_port()
        rp = mem.read_port()
        # K reference rows (the first K points), one small memory per lane
        refs = []
        for lane in range(K):
            r = Memory(shape=unsigned(fb), depth=cfg.d_max, init=[])
            m.submodules[f"ref{lane}"] = r
            refs.append((r.write_port(), r.read_port()))

        waddr = Signal(range(cfg.n_max * cfg.d_max))
        raddr = Signal(range(cfg.n_max * cfg.d_max))
        col = Signal(range(cfg.d_max))
        row = Signal(range(cfg.n_max))
        busy = Signal()
        m.d.comb += self.status.busy.eq(busy)

        m.d.comb += [self.feat.ready.eq(~busy), wp.addr.eq(waddr), wp.data.eq(self.feat.payload),
                     wp.en.eq(self.feat.valid & ~busy)]
        wcol = Signal(range(cfg.d_max))
        wrow = Signal(range(cfg.n_max))
        for lane, (rw, _) in enumerate(refs):
            m.d.comb += [rw.addr.eq(wcol), rw.data.eq(self.feat.payload),
                         rw.en.eq(self.feat.valid & ~busy & (wrow == lane))]
        with m.If(self.feat.valid & ~busy):
            m.d.sync += [waddr.eq(waddr + 1), wcol.eq(wcol + 1)]
            with m.If(wcol == d - 1):
                m.d.sync += [wcol.eq(0), wrow.eq(wrow + 1)]
            with m.If(waddr == n * d - 1):
                m.d.sync += [busy.eq(1), raddr.eq(0), col.eq(0), row.eq(0)]

        # pipeline: addr -> (read) -> diff -> square -> accumulate
        m.d.comb += rp.addr.eq(raddr)
        for _, rr in refs:
            m.d.comb += rr.addr.eq(col)
        v1, v2 = Signal(), Signal()
        last1, last2, last3 = Signal(), Signal(), Signal()
        row1, row2, row3 = Signal.like(row), Signal.like(row), Signal.like(row)
        with m.If(busy):
            m.d.sync += [raddr.eq(raddr + 1), col.eq(col + 1)]
            with m.If(col == d - 1):
                m.d.sync += [col.eq(0), row.eq(row + 1)]
                with m.If(row == n - 1):
                    m.d.sync += [busy.eq(0), waddr.eq(0), wcol.eq(0), wrow.eq(0)]
        m.d.sync += [v1.eq(busy), last1.eq(busy & (col == d - 1)), row1.eq(row),
                     v2.eq(v1), last2.eq(last1), row2.eq(row1), last3.eq(last2), row3.eq(row2)]
        accs = []
        for lane, (_, rr) in enumerate(refs):
            diff = Signal(range(-(1 << fb), 1 << fb), name=f"diff{lane}")
            sq = Signal(2 * fb, name=f"sq{lane}")
            acc = Signal(cfg.dist_bits, name=f"acc{lane}")
            m.d.sync += [diff.eq(rp.data - rr.data), sq.eq(diff * diff)]
            with m.If(v2):
                m.d.sync += acc.eq(acc + sq)
            with m.If(last3):
                m.d.sync += acc.eq(0)
            accs.append(acc)

        # result: one beat per lane at the end of each row (a small output buffer register)
        out_lane = Signal(range(K + 1))
        hold = [Signal(cfg.dist_bits, name=f"hold{lane}") for lane in range(K)]
        hold_row = Signal.like(row)
        with m.If(last3):
            m.d.sync += [h.eq(a) for h, a in zip(hold, accs)]
            m.d.sync += [out_lane.eq(0), hold_row.eq(row3)]
        m.d.comb += self.res.valid.eq(out_lane < K)
        m.d.comb += [self.res.payload.index.eq(hold_row), self.res.payload.lane.eq(out_lane)]
        with m.Switch(out_lane):
            for lane in range(K):
                with m.Case(lane):
                    m.d.comb += self.res.payload.dist.eq(hold[lane])
        with m.If(self.res.valid & self.res.ready & ~last3):
            m.d.sync += out_lane.eq(out_lane + 1)
        m.d.comb += self.status.done.eq(~busy & (out_lane == K))
        return m


def build_standin(cfg: AccelConfig, trace: bool = False) -> StandinMacCore:
    return StandinMacCore(cfg)


def standin_blocks(cfg: AccelConfig) -> dict:
    """Per-block breakdown of the stand-in (the whole core; the real one lists its blocks)."""
    return {"core": lambda: StandinMacCore(cfg)}
