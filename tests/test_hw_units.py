"""Amaranth-simulator unit tests of the arithmetic units and of one PE lane, against
golden_model.fixed / search_fixed bit for bit."""

from __future__ import annotations

import random

import numpy as np
import pytest
from amaranth.hdl import Module, Signal
from amaranth.lib.memory import Memory
from amaranth.sim import Simulator

from golden_model import fixed as fx
from golden_model import schedule as sch
from golden_model import search_fixed as sf
from golden_model.config import PRESETS
from hw import search as hsearch
from hw.arith import FU_LATENCY, Exp2Unit, FunctionUnit, FuOp, Log2Unit, leading_one
from golden_model import timing
from hw.lane import LANE_LATENCY, CandKind, Lane, lane_roles
from hw.layouts import CoreLayouts

TINY = PRESETS["tiny"]
DIGITS = PRESETS["digits"]


def _stream(dut_factory, inputs: dict, outputs: list, n: int, latency: int) -> list:
    """Drive the DUT's input ports from ROMs of stimuli (one vector per cycle, in hardware, so the
    simulation is fast) and sample `outputs` `latency` cycles later.  Returns n tuples."""
    dut = dut_factory()
    m = Module()
    m.submodules.dut = dut
    addr = Signal(range(n + 2))
    m.d.sync += addr.eq(addr + 1)
    for k, (port, values) in enumerate(inputs.items()):
        width = len(getattr(dut, port))
        mem = Memory(shape=width, depth=n + 1, init=[v & ((1 << width) - 1) for v in values] + [0])
        m.submodules[f"stim{k}"] = mem
        rp = mem.read_port(domain="comb")
        m.d.comb += [rp.addr.eq(addr), getattr(dut, port).eq(rp.data)]
    got = []

    async def tb(ctx):
        c = 0
        async for sample in ctx.tick().sample(*[getattr(dut, o) for o in outputs]):
            vals = sample[2:]
            if c >= latency:
                got.append(tuple(int(v) for v in vals))
            c += 1
            if len(got) == n:
                break

    sim = Simulator(m)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    return got


def _fu_expected(cfg, op, f):
    if op in (FuOp.EXP_T, FuOp.EXP_U):
        return fx.exp2neg_frac(f, cfg.t_frac if op == FuOp.EXP_T else cfg.u_frac, cfg)
    if op == FuOp.LOG:
        return fx.table_interp(fx.log2_table(cfg.log_table_bits, cfg.h_frac), f, cfg.w_frac,
                                cfg.log_table_bits, cfg.interpolate)
    return fx.recip_mantissa(f, cfg)


def _fu_cases(cfg, exhaustive: bool, samples: int = 0, seed: int = 0):
    fbits = {FuOp.EXP_T: cfg.t_frac, FuOp.EXP_U: cfg.u_frac, FuOp.LOG: cfg.w_frac, FuOp.RECIP: cfg.w_frac}
    rnd = random.Random(seed)
    cases = []
    for op, fb in fbits.items():
        if exhaustive:
            fs = range(1 << fb)
        else:
            fs = sorted(set([0, (1 << fb) - 1] + [rnd.randrange(1 << fb) for _ in range(samples)]))
        cases += [(int(op), f) for f in fs]
    return cases


def _check_fu(cfg, cases):
    # the FU's output is combinational in the cycle after its input: sample 1 cycle later
    got = _stream(lambda: FunctionUnit(cfg), {"i_op": [c[0] for c in cases], "i_frac": [c[1] for c in cases],
                                              "i_valid": [1] * len(cases)}, ["o_y"], len(cases), FU_LATENCY)
    exp = [(_fu_expected(cfg, FuOp(op), f),) for op, f in cases]
    bad = [(c, g, e) for c, g, e in zip(cases, got, exp) if g != e]
    assert not bad, f"{len(bad)} mismatches, first {bad[:5]}"


def test_function_unit_exhaustive_tiny():
    """Every table index and every fraction of every op (exp2 for t and u, log2, recip)."""
    _check_fu(TINY, _fu_cases(TINY, exhaustive=True))


def test_function_unit_exhaustive_tiny_no_interpolation():
    cfg = TINY.with_overrides(interpolate=False, w_frac=10, exp_table_bits=5, log_table_bits=4, recip_table_bits=7)
    _check_fu(cfg, _fu_cases(cfg, exhaustive=True))


def test_function_unit_sampled_digits():
    _check_fu(DIGITS, _fu_cases(DIGITS, exhaustive=False, samples=1500, seed=7))


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 13, 43])
def test_leading_one_tree(n):
    """`hw.arith.leading_one` (the lanes' t-SNE normaliser): the position of the leading one and
    whether there is one, against Python's bit_length - every value for n <= 13, sampled for 43."""
    m = Module()
    x, p, a = Signal(n), Signal(8), Signal()
    anyone, pos = leading_one(x)
    m.d.comb += [p.eq(pos), a.eq(anyone)]
    rng = random.Random(n)
    vals = range(1 << n) if n <= 13 else [0, 1, (1 << n) - 1] + [rng.getrandbits(rng.randint(1, n)) for _ in range(2000)]
    bad = []

    async def bench(ctx):
        for v in vals:
            ctx.set(x, v)
            if (ctx.get(p), ctx.get(a)) != (max(v.bit_length() - 1, 0), int(v != 0)):
                bad.append(v)
    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()
    assert not bad, bad[:5]


@pytest.mark.parametrize("cfg", [TINY, DIGITS], ids=["tiny", "digits"])
def test_exp2_unit(cfg):
    """2^-t with the integer shift: every t_q for tiny, a sampled sweep for digits."""
    limit = (cfg.w_frac + 1) << cfg.t_frac
    if cfg is TINY:
        ts = list(range(limit + 1))
    else:
        rnd = random.Random(3)
        ts = sorted(set([0, 1, limit - 1, limit] + [rnd.randrange(limit) for _ in range(3000)]))
    got = _stream(lambda: Exp2Unit(cfg), {"t": ts, "i_valid": [1] * len(ts)}, ["w"], len(ts), FU_LATENCY + 1)
    exp = [(fx.exp2neg(t, cfg),) for t in ts]
    assert got == exp


@pytest.mark.parametrize("cfg", [TINY, DIGITS], ids=["tiny", "digits"])
def test_log2_unit_perplexity_register(cfg):
    """log2 of every PERP register value (tiny) / a sampled sweep (digits) = fixed.target_entropy."""
    nmax = cfg.n_max << cfg.perp_frac
    if cfg is TINY:
        xs = list(range(1, nmax))
    else:
        rnd = random.Random(5)
        xs = sorted(set([1, nmax - 1] + [rnd.randrange(1, nmax) for _ in range(2000)]))
    got = _stream(lambda: Log2Unit(cfg, cfg.perp_bits, cfg.perp_frac), {"x": xs, "i_valid": [1] * len(xs)},
                  ["y"], len(xs), FU_LATENCY + 2)
    exp = [(fx.target_entropy(x, cfg),) for x in xs]
    assert got == exp


def test_log2_unit_z_accumulator():
    """log2 of Z-accumulator values (w_frac fraction bits, up to z_bits wide), tiny."""
    cfg = TINY
    rnd = random.Random(9)
    zs = sorted(set([1 << cfg.w_frac, (1 << cfg.z_bits) - 1] +
                    [rnd.randrange(1 << cfg.w_frac, 1 << cfg.z_bits) for _ in range(3000)]))
    got = _stream(lambda: Log2Unit(cfg, cfg.z_bits, cfg.w_frac), {"x": zs, "i_valid": [1] * len(zs)},
                  ["y"], len(zs), FU_LATENCY + 2)
    assert got == [(fx.log2_fixed(z, cfg.w_frac, cfg),) for z in zs]


# --------------------------------------------------------------------------- lane


class LaneDriver:
    """Per-cycle driver of one lane (set/get testbench; used for short op sequences)."""

    def __init__(self, ctx, dut):
        self.ctx, self.dut = ctx, dut

    async def tick(self, n=1):
        for _ in range(n):
            await self.ctx.tick()

    async def pulse(self, **sigs):
        for k, v in sigs.items():
            self.ctx.set(getattr(self.dut, k), v)
        await self.ctx.tick()
        for k in sigs:
            if k in ("cand_issue", "kern_issue", "prng_load", "prng_step", "dist_issue", "mm_clear"):
                self.ctx.set(getattr(self.dut, k), 0)

    async def candidate(self, kind, base=0, a=0, centre=0, lo=0, hi=0):
        await self.pulse(cand_issue=1, cand_kind=kind, cand_base=base, cand_a=a, cand_centre=centre,
                         cand_lo=lo, cand_hi=hi)
        await self.tick(LANE_LATENCY["cand"] - 1)
        return self.ctx.get(self.dut.u)

    async def row(self, ds, mask):
        for d, v in zip(ds, mask):
            self.ctx.set(self.dut.kern_issue, int(v))
            self.ctx.set(self.dut.kern_d, d)
            await self.ctx.tick()
        self.ctx.set(self.dut.kern_issue, 0)
        await self.tick(LANE_LATENCY["kern"] - 1)


class _LanePorts:
    """Flat names for the lane's op interfaces (``cand_issue`` -> ``ops.cand.issue`` ...)."""
    MAP = {"cand_issue": "ops.cand.issue", "cand_kind": "ops.cand.kind", "cand_base": "ops.cand.base",
           "cand_centre": "ops.cand.centre", "cand_a": "ops.cand.a", "cand_lo": "ops.cand.lo",
           "cand_hi": "ops.cand.hi", "kern_issue": "ops.kern.issue", "kern_d": "ops.kern.d",
           "prng_load": "ops.prng.load", "prng_step": "ops.prng.step", "prng_point": "ops.prng.point",
           "scan_shift": "ops.scan",
           "dist_issue": "dist.issue", "dist_first": "dist.first", "dist_last": "dist.last",
           "dist_valid": "dist.valid", "dist_self": "dist.is_self", "xi": "dist.xi", "xj": "dist.xj",
           "mm_clear": "dist.mm_clear", "dwr": "dist.dwr", "dout": "dist.dout", "lmin": "dist.lmin",
           "lmax": "dist.lmax", "u": "scan_out.u", "z": "scan_out.z", "t": "scan_out.t"}

    def __init__(self, dut):
        self._dut = dut

    def __getattr__(self, name):
        obj = self._dut
        for part in self.MAP.get(name, name).split("."):
            obj = getattr(obj, part)
        return obj


def _run_lane(cfg, index, body):
    lane = Lane(cfg, index, checks=True)
    dut = _LanePorts(lane)
    res = {}

    async def tb(ctx):
        await body(LaneDriver(ctx, dut), ctx, dut, res)

    sim = Simulator(lane)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    return res


def test_lane_resource_conflict_assertion_fires():
    """Two ops that claim one resource in one cycle (cand and kern both load MULA's operand
    registers at stage 0) make the lane's simulation assertion fire; the same ops one after the
    other do not."""
    cfg = TINY
    assert ("cand", 0) in timing.claims("mul_in") and ("kern", 0) in timing.claims("mul_in")

    async def clash(drv, ctx, dut, res):
        ctx.set(dut.cand_issue, 1)
        ctx.set(dut.kern_issue, 1)
        await drv.tick(2)

    with pytest.raises(AssertionError, match="resource 'mul_in'"):
        _run_lane(cfg, 0, clash)

    async def apart(drv, ctx, dut, res):
        await drv.pulse(cand_issue=1)
        await drv.tick(timing.latency("cand"))
        await drv.pulse(kern_issue=1)
        await drv.tick(timing.latency("kern"))

    _run_lane(cfg, 0, apart)


@pytest.mark.parametrize("cfg", [TINY, TINY.with_overrides(interpolate=False, exp_table_bits=3)],
                         ids=["tiny", "tiny-nointerp"])
def test_lane_kernel_row_sums(cfg):
    """KERN stream (j == i masked) = fixed.evaluate_candidate's Z, T (and u) for candidates across
    the whole search range, incl. both ends and saturating ones; H of those sums is the ROWEND
    unit's (`test_rowend_unit_*`)."""
    rng = np.random.default_rng(2)
    X = rng.integers(0, 256, size=(11, 5))
    i = 4
    st = fx.row_stats(X, i)
    lo, hi = fx.search_range(st.maximum - st.minimum, cfg)
    us = [lo, hi, hi - 1, lo + 1, 0, -(1 << cfg.u_frac)] + [int(v) for v in rng.integers(lo, hi, size=10)]
    ds = [(d - st.minimum) & ((1 << cfg.dist_bits) - 1) for d in st.row]
    mask = [j != i for j in range(len(ds))]

    async def body(drv, ctx, dut, res):
        out = []
        for u in us:
            uu = await drv.candidate(CandKind.DIRECT, base=u, lo=lo, hi=hi)
            await drv.row(ds, mask)
            await drv.tick(timing.DRAIN - timing.ROW_READ - timing.BROADCAST - LANE_LATENCY["kern"] + 1)
            out.append((uu, ctx.get(dut.z), ctx.get(dut.t)))
        res["out"] = out

    res = _run_lane(cfg, 0, body)
    exp = [(u,) + tuple(fx.evaluate_candidate(st.row, i, st.minimum, u, cfg))[1:] for u in us]
    assert res["out"] == exp


def _run_rowend(cfg, items, enables, carry_zt=True):
    """Present ``items`` (dicts of `RowendUnit` inputs, or None for an idle cycle) one per cycle
    under the clock enables ``enables`` (an item is taken only in an enabled cycle; a disabled
    cycle presents it again).  Returns the outputs in order with the number of enabled edges
    each took from input to output."""
    from amaranth.hdl import EnableInserter
    from hw.rowend import RowendUnit
    unit = RowendUnit(cfg, carry_zt=carry_zt)
    en = Signal()
    m = Module()
    m.submodules.unit = EnableInserter(en)(unit)
    got = []

    async def tb(ctx):
        pending = list(items)
        edges = 0
        taken = []                # enabled-edge index of each valid item taken
        for e in enables:
            item = pending[0] if pending else None
            ctx.set(en, e)
            ctx.set(unit.i.valid, int(item is not None))
            for k, v in (item or {}).items():
                ctx.set(getattr(unit.i, k), v)
            await ctx.tick()
            if e:
                if item is not None:
                    taken.append(edges)
                edges += 1
                if pending:
                    pending.pop(0)
            if ctx.get(unit.o.valid) and e:
                out = {k: ctx.get(getattr(unit.o, k)) for k in ("u", "h", "z", "t") if carry_zt or k in "uh"}
                got.append((out, edges - 1 - taken[len(got)]))

    sim = Simulator(m)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    return got


@pytest.mark.parametrize("cfg", [TINY, DIGITS, TINY.with_overrides(interpolate=False)], ids=["tiny", "digits", "tiny-nointerp"])
def test_rowend_unit_matches_golden(cfg):
    """The shared ROWEND unit: H = fixed.row_end_entropy(Z, T) for lanes' row sums fed back to back
    (and with gaps and random clock-enable stalls), log2 PERP = fixed.target_entropy for ``ext``
    items between them; u, Z, T leave with H; every item takes exactly timing.ROWEND enabled
    edges."""
    rnd = random.Random(7)
    W, ZB = cfg.w_frac, cfg.z_bits
    items, exp = [], []
    for k in range(300):
        if k % 37 == 5:
            x = fx.perplexity_to_reg(rnd.choice([1.01, 2.0, 5.0, 30.0, 0.9 * fx.perplexity_max(cfg.n_max)]), cfg)
            items.append({"ext": 1, "x": x, "u": 0, "z": 0, "t": 0})
            exp.append(fx.target_entropy(x, cfg))
        else:
            z = rnd.choice([1 << W, (1 << ZB) - 1, rnd.randrange(1 << W, 1 << ZB)])
            t = rnd.randrange(0, min((1 << ZB), z * (W + 1)))
            u = rnd.randrange(-(1 << 12), 1 << 12)
            items.append({"ext": 0, "x": rnd.randrange(1 << cfg.perp_bits), "u": u, "z": z, "t": t})
            exp.append(fx.row_end_entropy(z, t, cfg))
        if k % 11 == 3:
            items.append(None)
    for enables in ([1] * (len(items) + timing.ROWEND + 5),
                    [int(rnd.random() < 0.7) for _ in range(2 * len(items) + 4 * timing.ROWEND)]):
        got = _run_rowend(cfg, items, enables)
        valid = [it for it in items if it is not None]
        assert len(got) == len(valid)
        assert [o["h"] for o, _ in got] == exp
        assert [(o["u"], o["z"], o["t"]) for o, _ in got if True] == [
            (it["u"], it["z"], it["t"]) for it in valid]
        assert {lat for _, lat in got} == {timing.ROWEND - 1}


def test_rowend_unit_scoreboard_can_fail():
    """The unit test's comparison sees a wrong H: the same items against a golden value off by one."""
    cfg = TINY
    z, t = 3 << cfg.w_frac, 5 << cfg.w_frac
    got = _run_rowend(cfg, [{"ext": 0, "x": 0, "u": 1, "z": z, "t": t}], [1] * (timing.ROWEND + 2))
    assert got[0][0]["h"] == fx.row_end_entropy(z, t, cfg)
    assert got[0][0]["h"] != fx.row_end_entropy(z, t + (1 << cfg.w_frac), cfg)


def test_lane_dist_op_minmax():
    """DIST: acc of (x_i - x_j)^2 over D cycles per group, dout at the group end, min/max over
    valid j != i."""
    cfg = TINY
    rng = np.random.default_rng(4)
    X = rng.integers(0, 256, size=(5, 7))
    i = 2

    async def body(drv, ctx, dut, res):
        await drv.pulse(mm_clear=1)
        outs = []
        for j in range(5):
            for d in range(7):
                ctx.set(dut.dist_issue, 1)
                ctx.set(dut.dist_first, int(d == 0))
                ctx.set(dut.dist_last, int(d == 6))
                ctx.set(dut.dist_valid, int(j != 4))   # pretend point 4 is past N
                ctx.set(dut.dist_self, int(j == i))
                ctx.set(dut.xi, int(X[i, d]))
                ctx.set(dut.xj, int(X[j, d]))
                await ctx.tick()
                if ctx.get(dut.dwr):
                    outs.append(ctx.get(dut.dout))
        ctx.set(dut.dist_issue, 0)
        for _ in range(LANE_LATENCY["dist_minmax"]):
            await ctx.tick()
            if ctx.get(dut.dwr):
                outs.append(ctx.get(dut.dout))
        res["outs"] = outs
        res["mm"] = (ctx.get(dut.lmin), ctx.get(dut.lmax))

    res = _run_lane(cfg, 0, body)
    row = fx.row_stats(X, i).row
    assert res["outs"] == list(row)
    valid = [row[j] for j in range(4) if j != i]
    assert res["mm"] == (min(valid), max(valid))


def test_lane_candidates_ksection_and_fwa():
    """CAND op: K-section grid point of the lane and FWA sparks (uniform and Gaussian lanes) from
    the lane's xorshift32 state, with mirror_clamp; PRNG seeding and stepping."""
    cfg = TINY.with_overrides(fwa_amp_rank_shift=4)   # rank-1 sparks shift left (saturation path)
    L = CoreLayouts(cfg)
    roles = lane_roles(cfg)
    lo, hi = -20 << cfg.u_frac, cfg.u_hi
    rnd = random.Random(1)
    for lane in range(cfg.lanes):
        r = roles[lane]
        cases = [(rnd.randrange(lo, hi), rnd.randrange(1, hi - lo)) for _ in range(6)]
        cases += [(lo, hi - lo), (hi, hi - lo), (lo, 1)]
        point_seed = 0x12345678

        async def body(drv, ctx, dut, res):
            ctx.set(dut.prng_point, point_seed)
            await drv.tick(1)               # the point is presented one cycle before its load
            await drv.pulse(prng_load=1)
            out = []
            for k, (centre, amp) in enumerate(cases):
                await drv.pulse(prng_step=1)
                st = ctx.get(dut.state)
                u_k = await drv.candidate(CandKind.KSEC, base=lo, a=hi - lo, lo=lo, hi=hi)
                u_f = await drv.candidate(CandKind.FWA, a=amp, centre=centre, lo=lo, hi=hi)
                out.append((st, u_k, u_f))
            res["out"] = out

        got = _run_lane(cfg, lane, body)["out"]
        s = sf.lane_seed(point_seed, 0, lane)
        grid = sf.ksection_grid(lo, hi, cfg)[lane]
        for (centre, amp), (st, u_k, u_f) in zip(cases, got):
            s = sf.xorshift32(s)
            assert st == s
            assert u_k == grid
            if r >= 0:
                x = centre + (((amp << (r * cfg.fwa_amp_rank_shift)) * sf.uniform_s16(s)) >> 15)
            else:
                x = centre + ((amp * sf.gauss_approx(s)) >> 7)
            assert u_f == sf.mirror_clamp(x, lo, hi), (lane, centre, amp)
    assert L.u_bits > 0


def test_lane_prng_seed_must_be_presented_before_its_load():
    """The lane registers its seed (point + offset): a point presented in the cycle of its load
    makes the lane's simulation assertion fire; the same point one cycle earlier seeds the state."""
    seed = 0x0BADCAFE

    async def late(drv, ctx, dut, res):
        ctx.set(dut.prng_point, seed)
        await drv.pulse(prng_load=1)
        await drv.tick(1)

    with pytest.raises(AssertionError, match="prng.point changed in the cycle of its load"):
        _run_lane(TINY, 1, late)

    async def early(drv, ctx, dut, res):
        ctx.set(dut.prng_point, seed)
        await drv.tick(1)
        await drv.pulse(prng_load=1)
        res["state"] = ctx.get(dut.state)

    assert _run_lane(TINY, 1, early)["state"] == sf.lane_seed(seed, 0, 1)


def test_docs_timing_table_is_generated_from_the_op_table():
    """docs/hardware.md's op/phase tables are `python -m golden_model.timing --markdown` output."""
    from pathlib import Path
    doc = (Path(__file__).resolve().parent.parent / "docs" / "hardware.md").read_text()
    section = doc.split("<!-- timing-table -->", 1)[1].split("<!-- /timing-table -->", 1)[0]
    assert timing.markdown() in section, "run `python -m golden_model.timing --markdown` into docs/hardware.md"


def test_op_table_is_consistent():
    """Every resource named in a stage exists and is declared once (two units sharing a name
    would hide a conflict from the checker); every op's latency is its stage count."""
    assert len(set(timing.RESOURCES)) == len(timing.RESOURCES), "a resource name is declared twice"
    for op in timing.LANE_OPS.values():
        assert op.latency == len(op.stages) >= 1
        for st in op.stages:
            assert set(st) <= set(timing.RESOURCES), (op.name, st)


def _engine_load_and_issue(issue_while_loading: bool):
    """A distance engine (checks on) loading N = 3 points of D = 2; its first row is started
    either while the features still stream in or after the last one."""
    from amaranth.sim import Simulator

    from hw.distance import DistanceEngine
    cfg = TINY
    dut = DistanceEngine(cfg, checks=True)

    async def tb(ctx):
        ctx.set(dut.n, 3)
        ctx.set(dut.d, 2)
        ctx.set(dut.grant, 1)
        ctx.set(dut.load_start, 1)
        await ctx.tick()
        ctx.set(dut.load_start, 0)
        ctx.set(dut.feat.valid, 1)
        ctx.set(dut.feat.payload, 1)
        for k in range(6):
            if issue_while_loading and k == 1:
                ctx.set(dut.point_first, 1)
                ctx.set(dut.point_start, 1)
            await ctx.tick()
            ctx.set(dut.point_first, 0)
            ctx.set(dut.point_start, 0)
        ctx.set(dut.feat.valid, 0)
        if not issue_while_loading:
            ctx.set(dut.point_first, 1)
            ctx.set(dut.point_start, 1)
            await ctx.tick()
            ctx.set(dut.point_first, 0)
            ctx.set(dut.point_start, 0)
        await ctx.tick().repeat(20)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()


def _engine_row_write_and_read(same_half: bool):
    """A distance engine (checks on): lane 0 writes its row bank at address 0 (half 0) while the
    search stream reads that bank from half 0 (the collision) or from half 1."""
    from amaranth.sim import Simulator

    from hw.distance import DistanceEngine
    dut = DistanceEngine(TINY, checks=True)

    async def tb(ctx):
        ctx.set(dut.rd_en, 1)
        ctx.set(dut.rd_restart, 1)
        ctx.set(dut.rd_half, 0 if same_half else 1)
        await ctx.tick()                 # the engine registers its commands (timing.ENGINE_CMD)
        ctx.set(dut.lanes[0].dwr, 1)     # the first write: address 0 of half 0
        await ctx.tick().repeat(2)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()


def test_row_bank_write_at_used_read_address_assertion_fires():
    """The row banks are synthesised with no_rw_check too; the assertion catches a write at the
    address being read for use, and stays quiet when the read is in the other half."""
    with pytest.raises(AssertionError, match="row bank 0 written"):
        _engine_row_write_and_read(True)
    _engine_row_write_and_read(False)


def test_feature_bank_write_during_used_read_assertion_fires():
    """The feature banks are synthesised with no_rw_check; the engine's simulation assertion
    catches a row issued while features are still written, and stays quiet in the real order."""
    with pytest.raises(AssertionError, match="feature bank written"):
        _engine_load_and_issue(True)
    _engine_load_and_issue(False)


@pytest.mark.parametrize("before,run", [((3, 2), (1, 1)), ((1, 1), (3, 2)), ((2, 3), (2, 1)), ((3, 1), (1, 3))])
def test_engine_takes_n_d_set_with_load_start(before, run):
    """N and D written in the cycle of load_start (the engine's N - 1, D - 1 registers still hold
    the old values then): the load takes exactly N x D features and `loaded` pulses once."""
    from amaranth.sim import Simulator

    from hw.distance import DistanceEngine
    dut = DistanceEngine(TINY, checks=True)
    res = {}

    async def tb(ctx):
        ctx.set(dut.n, before[0])
        ctx.set(dut.d, before[1])
        await ctx.tick().repeat(3)
        ctx.set(dut.n, run[0])
        ctx.set(dut.d, run[1])
        ctx.set(dut.load_start, 1)
        await ctx.tick()
        ctx.set(dut.load_start, 0)
        ctx.set(dut.feat.valid, 1)
        accepted = loaded = 0
        for _ in range(20):
            ready = ctx.get(dut.feat.ready)
            await ctx.tick()
            accepted += ready
            loaded += ctx.get(dut.loaded)
        res["got"] = (accepted, loaded)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    assert res["got"] == (run[0] * run[1], 1)


def test_one_hot_fsm_follows_m_fsm_semantics():
    """`hw.onehot.OneHotFSM`: reset state, stay without a goto, the last goto of a cycle wins,
    `entering` leads `ongoing` by one cycle, and an unknown state is refused by name."""
    from hw.onehot import OneHotFSM

    m = Module()
    go, both = Signal(), Signal()
    fsm = OneHotFSM(m, ["A", "B", "C"], name="t")
    with fsm.State("A"):
        with m.If(go):
            fsm.goto("B")
        with m.If(both):             # a later goto in the same cycle overrides the first
            fsm.goto("C")
    with fsm.State("B"):
        fsm.goto("A")
    with fsm.State("C"):
        fsm.goto("A")
    with pytest.raises(ValueError, match="unknown state 'D'"):
        fsm.goto("D")
    seen = []

    async def bench(ctx):
        for g, b in [(0, 0), (1, 0), (0, 0), (1, 1), (0, 0), (0, 0)]:
            ctx.set(go, g)
            ctx.set(both, b)
            seen.append((ctx.get(fsm.state), ctx.get(fsm.entering("B")), ctx.get(fsm.entering("C"))))
            await ctx.tick()

    sim = Simulator(m)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    # state bits: A=1, B=2, C=4
    assert seen == [(1, 0, 0), (1, 1, 0), (2, 0, 0), (1, 0, 1), (4, 0, 0), (1, 0, 0)]
