"""Whole-core Amaranth simulation: every result beat equals search_fixed.search_row bit for bit and
appears on the cycle golden_model.schedule predicts; status/error behaviour; back-pressure."""

from __future__ import annotations

import numpy as np
import pytest
from amaranth.sim import Simulator

from golden_model import fixed as fx
from golden_model import schedule as sch
from golden_model import timing
from golden_model import search_fixed as sf
from golden_model.config import PRESETS
from hw.layouts import COMMANDS, POLICY_CODES, REGISTERS
from hw.simharness import run_class, write_reg
from hw.top import AdapSNECore

TINY = PRESETS["tiny"]


def _golden(X, perp_q, policy, cfg, seed=None, trace=False):
    X = np.asarray(X, dtype=np.int64)
    sq = (X * X).sum(axis=1)
    D = sq[:, None] + sq[None, :] - 2 * X @ X.T
    c = cfg if seed is None else cfg.with_overrides(seed=seed)
    return [sf.search_row(D[i], i, perp_q, policy, c, trace=trace) for i in range(len(X))]


def _check(run, X, perp_q, policy, cfg, seed=None, timing=True, dataflow="candidate"):
    ref = _golden(X, perp_q, policy, cfg, seed)
    assert run.status == {"busy": 0, "done": 1, "error": 0, "error_code": 0}
    got = [b for _, b in run.beats]
    exp = [dict(index=i, u=r.u, h=r.h, passes=r.passes, converged=int(r.converged)) for i, r in enumerate(ref)]
    assert got == exp
    if timing:
        s = sch.schedule(cfg, X.shape[0], X.shape[1], policy, ref, dataflow=dataflow)
        assert [c for c, _ in run.beats] == s.result_cycles
        assert run.done_cycle == s.done_cycle
    return ref


def _random_class(n, d, seed, hi=256):
    return np.random.default_rng(seed).integers(0, hi, size=(n, d))


def _digits_subset(n=8, digit=3):
    from sklearn.datasets import load_digits
    dg = load_digits()
    X = dg.data[dg.target == digit][:n].astype(np.int64).reshape(-1, 8, 8)
    # 2x2 sum pooling: 16 features in 0..64 (fits the tiny preset: d_max 16, 8-bit features)
    return X.reshape(-1, 4, 2, 4, 2).sum(axis=(2, 4)).reshape(len(X), 16)


@pytest.mark.parametrize("policy", ["bisection", "ksection", "fwa"])
def test_random_class_all_policies(policy):
    X = _random_class(7, 3, seed=11)
    perp_q = fx.perplexity_to_reg(3.0, TINY)
    run = run_class(TINY, X, perp_q, policy)
    _check(run, X, perp_q, policy, TINY)


@pytest.mark.parametrize("policy", ["bisection", "ksection", "fwa"])
def test_digits_subset_all_policies(policy):
    X = _digits_subset(6)
    perp_q = fx.perplexity_to_reg(2.5, TINY)
    run = run_class(TINY, X, perp_q, policy, seed=0xC0FFEE)
    _check(run, X, perp_q, policy, TINY, seed=0xC0FFEE)


@pytest.mark.parametrize("n", [4, 7, 9])
def test_point_parallel_bisection(n):
    """DATAFLOW = 1: each lane searches its own point (groups of K, a partial last group): the
    same results as the golden bisection, on the point-parallel schedule."""
    X = _digits_subset(n)
    perp_q = fx.perplexity_to_reg(1.5, TINY)
    run = run_class(TINY, X, perp_q, "bisection", dataflow=1)
    _check(run, X, perp_q, "bisection", TINY, dataflow="point")


def test_point_parallel_trace_under_backpressure():
    """DATAFLOW = 1 with the trace on and random ready: results unchanged; one trace beat per pass
    of each point while it is searched (lane = its lane in the group), in scan order; and, with
    ready always high, every trace beat on its scheduled cycle."""
    X = _digits_subset(6)
    perp_q = fx.perplexity_to_reg(1.5, TINY)
    ref_t = _golden(X, perp_q, "bisection", TINY, trace=True)
    K = TINY.lanes
    exp, cyc = [], []
    sched = sch.schedule(TINY, 6, 16, "bisection", ref_t, dataflow="point")
    for g0 in range(0, 6, K):
        grp = list(range(g0, min(g0 + K, 6)))
        for p in range(max(ref_t[i].passes for i in grp)):
            for i in grp:
                if p < ref_t[i].passes:
                    pt = ref_t[i].trace[p]
                    exp.append(dict(u=pt.candidates[0], z=pt.z[0], t=pt.t[0], h=pt.h[0], lane=i - g0,
                                    pass_index=p, index=i))
                    cyc.append(sched.trace_cycles[i][p][0])
    run = run_class(TINY, X, perp_q, "bisection", trace=True, res_ready_prob=0.4, trace_ready_prob=0.5,
                    rng_seed=5, dataflow=1)
    _check(run, X, perp_q, "bisection", TINY, timing=False)
    assert [t for _, t in run.traces] == exp
    run = run_class(TINY, X, perp_q, "bisection", trace=True, dataflow=1)
    _check(run, X, perp_q, "bisection", TINY, dataflow="point")
    assert [t for _, t in run.traces] == exp and [c for c, _ in run.traces] == cyc


def test_fewer_points_than_lanes_fwa():
    cfg = TINY.with_overrides(lanes=8)  # N <= 3 has no valid perplexity (fixed.perplexity_max)
    X = _random_class(5, 2, seed=5, hi=16)
    perp_q = fx.perplexity_to_reg(2.0, cfg)
    run = run_class(cfg, X, perp_q, "fwa")
    _check(run, X, perp_q, "fwa", cfg)


VARIANTS = {
    # non-power-of-two K, N = n_max (every bank row, partial last group), no interpolation
    "k3-nmax-nointerp": (TINY.with_overrides(lanes=3, n_max=13, d_max=3, interpolate=False, exp_table_bits=4,
                                             log_table_bits=3, recip_table_bits=5), "ksection", 13, 2),
    # 5 lanes, 3 fireworks + 2 Gaussian, rank shift 4 (left-shifted, saturating sparks), odd formats
    "k5-fwa-formats": (TINY.with_overrides(lanes=5, fwa_fireworks=3, fwa_gauss_sparks=2, fwa_amp_rank_shift=4,
                                           perp_frac=3, feature_bits=3, w_frac=9, h_frac=12, u_frac=11,
                                           exp_table_bits=9, log_table_bits=4), "fwa", 6, 3),
}


@pytest.mark.parametrize("name", list(VARIANTS))
def test_variant_configs(name):
    cfg, policy, n, d = VARIANTS[name]
    X = _random_class(n, d, seed=2, hi=cfg.feature_max + 1)
    perp_q = fx.perplexity_to_reg(2.5, cfg)
    run = run_class(cfg, X, perp_q, policy)
    _check(run, X, perp_q, policy, cfg)


@pytest.mark.parametrize("policy, X, perp", [
    # D_ij = dist_max (all-0 vs all-255 over d_max features): the widest distances and u_lo
    ("fwa", np.array([[0] * 16, [255] * 16, [255] * 15 + [0], [0] * 15 + [255]]), 1.5),
    # N = 4, two pairs of identical points: D_ij = 0 terms, perplexity at the cap (N-1)/2
    ("ksection", np.array([[3, 9], [200, 1], [3, 9], [200, 1]]), 1.5),
], ids=["dist-max-fwa", "n4-pairs-ksection"])
def test_extreme_rows(policy, X, perp):
    perp_q = fx.perplexity_to_reg(perp, TINY)
    run = run_class(TINY, X, perp_q, policy)
    _check(run, X, perp_q, policy, TINY)


def test_backpressure_and_trace():
    """Random ready on res and trace: nothing lost or changed; trace beats equal PassTrace."""
    X = _random_class(5, 2, seed=8)
    perp_q = fx.perplexity_to_reg(2.0, TINY)
    run = run_class(TINY, X, perp_q, "fwa", trace=True, res_ready_prob=0.3, trace_ready_prob=0.5, rng_seed=3)
    ref = _check(run, X, perp_q, "fwa", TINY, timing=False)
    ref_t = _golden(X, perp_q, "fwa", TINY, trace=True)
    exp = []
    for i, r in enumerate(ref_t):
        for p, pt in enumerate(r.trace):
            for l, c in enumerate(pt.candidates):
                exp.append(dict(u=c, z=pt.z[l], t=pt.t[l], h=pt.h[l], lane=l, pass_index=p, index=i))
    assert [t for _, t in run.traces] == exp
    assert ref


def test_trace_timing_bisection():
    X = _random_class(4, 2, seed=9)
    perp_q = fx.perplexity_to_reg(1.5, TINY)
    run = run_class(TINY, X, perp_q, "bisection", trace=True)
    ref = _check(run, X, perp_q, "bisection", TINY)
    s = sch.schedule(TINY, 4, 2, "bisection", ref)
    assert [c for c, _ in run.traces] == [c for pt in s.trace_cycles for pas in pt for c in pas]


# --------------------------------------------------------------------------- status and errors

STATUS = ("busy", "done", "error", "error_code")


def _status(ctx, dut):
    v = ctx.get(dut.status)
    return {k: int(getattr(v, k)) for k in STATUS}


def test_error_codes_no_hang_and_recovery():
    cfg = TINY
    dut = AdapSNECore(cfg)
    log = []
    X = _random_class(5, 2, seed=1)
    perp_ok = fx.perplexity_to_reg(2.0, cfg)  # the cap (N-1)/2 of N = 5

    async def start_expect(ctx, regs, code):
        for a, v in regs.items():
            await write_reg(ctx, dut, REGISTERS[a], v)
        await write_reg(ctx, dut, REGISTERS["CMD"], COMMANDS["START"])
        ctx.set(dut.feat.valid, 1)
        ctx.set(dut.res.ready, 1)
        for _ in range(20):  # a refused START never accepts features nor outputs anything
            _, _, rdy, rv = await ctx.tick().sample(dut.feat.ready, dut.res.valid)
            assert not rdy and not rv
        ctx.set(dut.feat.valid, 0)
        st = _status(ctx, dut)
        log.append((code, st))
        assert st == {"busy": 0, "done": 0, "error": 1, "error_code": code}
        await write_reg(ctx, dut, REGISTERS["CMD"], COMMANDS["CLEAR"])
        assert _status(ctx, dut) == {"busy": 0, "done": 0, "error": 0, "error_code": 0}

    async def tb(ctx):
        await start_expect(ctx, {"N": 1, "D": 2, "PERP": perp_ok, "POLICY": 0}, 1)
        await start_expect(ctx, {"N": cfg.n_max + 1}, 1)
        await start_expect(ctx, {"N": 0xFFFFFFFF}, 1)
        await start_expect(ctx, {"N": 5, "D": 0}, 2)
        await start_expect(ctx, {"D": cfg.d_max + 1}, 2)
        await start_expect(ctx, {"D": 2, "PERP": 1 << cfg.perp_frac}, 3)
        await start_expect(ctx, {"PERP": fx.perp_reg_max(5, cfg) + 1}, 3)  # Perp > (N-1)/2
        await start_expect(ctx, {"PERP": 0xFFFFFFFF}, 3)
        await start_expect(ctx, {"PERP": perp_ok, "POLICY": 3}, 4)
        await start_expect(ctx, {"POLICY": 7}, 4)
        # a valid run after the errors; START while busy -> code 5, run continues
        await write_reg(ctx, dut, REGISTERS["POLICY"], POLICY_CODES["ksection"])
        await write_reg(ctx, dut, REGISTERS["CMD"], COMMANDS["START"])
        assert _status(ctx, dut)["busy"] == 0          # START acts START_REGISTER edges after its write
        await ctx.tick().repeat(timing.START_REGISTER)
        assert _status(ctx, dut)["busy"] == 1
        await write_reg(ctx, dut, REGISTERS["CMD"], COMMANDS["START"])
        await ctx.tick().repeat(timing.START_REGISTER)
        st = _status(ctx, dut)
        assert st == {"busy": 1, "done": 0, "error": 1, "error_code": 5}
        feats = [int(v) for v in X.reshape(-1)]
        k = 0
        ctx.set(dut.feat.valid, 1)
        ctx.set(dut.feat.payload, feats[0])
        while k < len(feats):
            _, _, rdy = await ctx.tick().sample(dut.feat.ready)
            if rdy:
                k += 1
                ctx.set(dut.feat.payload, feats[k] if k < len(feats) else 0)
        ctx.set(dut.feat.valid, 0)
        ctx.set(dut.res.ready, 1)
        beats = []
        for _ in range(20000):
            _, _, v, p = await ctx.tick().sample(dut.res.valid, dut.res.payload)
            if v:
                beats.append((int(p.index), int(p.u), int(p.h), int(p.passes)))
            if not _status(ctx, dut)["busy"]:
                break
        log.append(("run", beats))
        st = _status(ctx, dut)
        assert st == {"busy": 0, "done": 1, "error": 1, "error_code": 5}
        await write_reg(ctx, dut, REGISTERS["CMD"], COMMANDS["CLEAR"])
        assert _status(ctx, dut) == {"busy": 0, "done": 0, "error": 0, "error_code": 0}

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    ref = _golden(X, perp_ok, "ksection", cfg)
    assert log[-1][1] == [(i, r.u, r.h, r.passes) for i, r in enumerate(ref)]
