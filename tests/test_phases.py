"""MODE 1 of the whole core (search, joint affinities, t-SNE; `hw.phases`), Amaranth simulator.

The result beats equal `search_fixed.search_row`; the ``emb`` stream (Zq of every iteration, the
final embedding) equals `tsne_fixed.trace_beats` run on `affinity_fixed.joint_fixed` of the golden
search's u (so every P entry and the capture of every u are checked through the embedding); every
beat appears on the cycle `golden_model.run_schedule` predicts.  Short t-SNE runs:
``cfg.tsne_iters`` = 3 with 2 exaggerated iterations (the velocity/gain restart happens).
"""

from __future__ import annotations

import functools
from types import SimpleNamespace

import numpy as np
import pytest

from golden_model import affinity_fixed as af
from golden_model import fixed as fx
from golden_model import run_schedule as rs
from golden_model import search_fixed as sf
from golden_model import tsne_fixed as tf
from golden_model.config import ConfigError, get_preset
from hw import regmap
from hw.lane_tsne import TsneWidths
from hw.simharness import read_p, run_class

TINY = get_preset("tiny")
CFG = TINY.with_overrides(phases=True, tsne_iters=3, tsne_exaggeration_iters=2)


def _sq(X):
    X = np.asarray(X, dtype=np.int64)
    sq = (X * X).sum(axis=1)
    return sq[:, None] + sq[None, :] - 2 * X @ X.T


def golden(cfg, X, perp_q, policy):
    """Search results, S and the emb beats of the golden model (independent of the RTL)."""
    D = _sq(X)
    res = [sf.search_row(D[i], i, perp_q, policy, cfg) for i in range(len(X))]
    S = af.joint_fixed(D, af.searched_u(res), cfg)
    return res, S, tf.trace_beats(S, cfg, rs.EMB_EVERY_LOG2)


def emb_tuples(cfg, run):
    """The run's emb beats as `tsne_fixed.trace_beats` tuples (coordinates unpacked, signed)."""
    yb = TsneWidths(cfg).yb

    def sx(v):
        v &= (1 << yb) - 1
        return v - (1 << yb) if v >> (yb - 1) else v
    return [(b["kind"], b["iter"], b["index"], b["data"] if b["kind"] in (tf.TRACE_ZQ, tf.TRACE_P)
             else (sx(b["data"]), sx(b["data"] >> yb))) for _, b in run.emb]


def matches(P_rtl, S_ref):
    """Bit-exact comparison of the P memory (the check the wrong reference below must fail)."""
    return P_rtl.shape == S_ref.shape and bool((P_rtl == S_ref).all())


CASES = [(6, 5, "bisection", 1), (9, 7, "fwa", 2), (5, 16, "ksection", 3)]


def _inputs(n, d, seed):
    """A case's features (with a near-duplicate pair) and PERP register."""
    X = np.random.default_rng(seed).integers(0, 1 << CFG.feature_bits, size=(n, d))
    X[1] = np.clip(X[0] + 1, 0, (1 << CFG.feature_bits) - 1)
    return X, min(fx.perplexity_to_reg(2.0, CFG), fx.perp_reg_max(n, CFG))


@functools.lru_cache(maxsize=None)
def _run(n, d, policy, seed, emb_ready=1.0, res_ready=1.0, debug=0):
    X, perp_q = _inputs(n, d, seed)
    run = run_class(CFG, X, perp_q, policy, mode=1, max_cycles=1_000_000, emb_ready_prob=emb_ready,
                    res_ready_prob=res_ready, rng_seed=seed, after=read_p, debug=debug)
    return X, perp_q, run


def _assert_values(X, perp_q, policy, run):
    res, S, beats = golden(CFG, X, perp_q, policy)
    assert run.status == {"busy": 0, "done": 1, "error": 0, "error_code": 0}
    assert [b for _, b in run.beats] == [dict(index=i, u=r.u, h=r.h, passes=r.passes, converged=int(r.converged))
                                         for i, r in enumerate(res)]
    assert matches(run.p, S), f"P differs at {np.argwhere(run.p != S)[:5].tolist()}"
    assert emb_tuples(CFG, run) == beats
    return res, S, beats


@pytest.mark.parametrize("n,d,policy,seed", CASES)
def test_mode1_embedding_and_cycles_equal_golden(n, d, policy, seed):
    X, perp_q, run = _run(n, d, policy, seed)
    res, S, beats = _assert_values(X, perp_q, policy, run)
    assert len(beats) == CFG.tsne_iters + n and S[np.triu_indices(n, 1)].min() >= 0 and S.max() > 0
    s = rs.run_schedule(CFG, n, d, policy, res)
    assert [c for c, _ in run.beats] == s.search.result_cycles
    assert [c for c, _ in run.emb] == s.emb_cycles
    assert run.done_cycle == s.done_cycle


def test_mode1_point_parallel_search():
    """DATAFLOW = 1 in MODE 1 (bisection, N = 6 on K = 4: a full group and a partial one): the same
    values as the candidate-parallel run, the search on `schedule_point_parallel`'s cycles, and the
    affinity phase after it on the engine run candidate-parallel (P equal, every cycle on
    `run_schedule(dataflow="point")`)."""
    n, d, policy, seed = CASES[0]
    X, perp_q = _inputs(n, d, seed)
    run = run_class(CFG, X, perp_q, policy, mode=1, max_cycles=1_000_000, rng_seed=seed, after=read_p,
                    dataflow=1)
    res, _, _ = _assert_values(X, perp_q, policy, run)
    s = rs.run_schedule(CFG, n, d, policy, res, dataflow="point")
    assert [c for c, _ in run.beats] == s.search.result_cycles
    assert [c for c, _ in run.emb] == s.emb_cycles
    assert run.done_cycle == s.done_cycle
    assert s.done_cycle != rs.run_schedule(CFG, n, d, policy, res).done_cycle


def test_back_pressure_changes_cycles_not_values():
    X, perp_q, run = _run(6, 5, "bisection", 1, emb_ready=0.4, res_ready=0.6)
    res, _, _ = _assert_values(X, perp_q, "bisection", run)
    assert run.done_cycle > rs.run_schedule(CFG, 6, 5, "bisection", res).done_cycle


def test_wrong_reference_is_caught():
    """One u off by one LSB: P and the embedding differ from the run's; one P pair off by one LSB:
    the P comparison fails (the 3-iteration embedding alone does not see it: measured here, so P
    is compared directly)."""
    X, perp_q, run = _run(*CASES[0])
    res, S, beats = golden(CFG, X, perp_q, "bisection")
    got = emb_tuples(CFG, run)
    assert got == beats and matches(run.p, S)
    u = af.searched_u(res)
    u[3] += 1
    S_u = af.joint_fixed(_sq(X), u, CFG)
    assert not matches(run.p, S_u)
    assert got != tf.trace_beats(S_u, CFG, rs.EMB_EVERY_LOG2)
    S2 = S.copy()
    S2[3, 4] += 1
    S2[4, 3] += 1
    assert not matches(run.p, S2)
    assert got == tf.trace_beats(S2, CFG, rs.EMB_EVERY_LOG2)   # why P is read directly
    s = rs.run_schedule(CFG, 6, 5, "bisection", res)
    assert [c for c, _ in run.emb] != [c + 1 for c in s.emb_cycles]


@pytest.mark.parametrize("n,d,policy,seed", CASES[1:])
def test_p_dump_on_emb_equals_golden_and_schedule(n, d, policy, seed):
    """DEBUG bit 0: the N^2 P beats (`tsne_fixed.p_beats` of the golden S), then the t-SNE beats
    unchanged; every beat on the `run_schedule(p_dump=True)` cycle; the dump equals the memory."""
    X, perp_q, run = _run(n, d, policy, seed, debug=1)
    res, S, beats = golden(CFG, X, perp_q, policy)
    assert run.status == {"busy": 0, "done": 1, "error": 0, "error_code": 0}
    got = emb_tuples(CFG, run)
    assert got[:n * n] == tf.p_beats(S) and got[n * n:] == beats
    assert matches(run.p, S)
    s = rs.run_schedule(CFG, n, d, policy, res, p_dump=True)
    assert [c for c, _ in run.emb] == s.emb_cycles and s.emb_cycles[:n * n] == s.p_cycles
    assert run.done_cycle == s.done_cycle
    # the dump only inserts its own cycles (hand count of hw.pdump: a read, its data register,
    # the output register: beats in g + 3 .. g + 2 + N^2 after PDUMP_GO in cycle g, done in
    # g + 3 + N^2, INIT_GO one later instead of in g)
    s0 = rs.run_schedule(CFG, n, d, policy, res)
    assert s.done_cycle - s0.done_cycle == n * n + 4


def test_p_dump_under_back_pressure_and_wrong_reference():
    """Random emb/res back-pressure: the same P and t-SNE beats, later.  One P pair off by one LSB
    (invisible in a 3-iteration embedding, see below) is caught on the P beats."""
    n, d, policy, seed = CASES[0]
    X, perp_q, run = _run(n, d, policy, seed, emb_ready=0.4, res_ready=0.6, debug=1)
    res, S, beats = golden(CFG, X, perp_q, policy)
    got = emb_tuples(CFG, run)
    assert got == tf.p_beats(S) + beats
    assert run.done_cycle > rs.run_schedule(CFG, n, d, policy, res, p_dump=True).done_cycle
    S2 = S.copy()
    S2[3, 4] += 1
    S2[4, 3] += 1
    assert got[:n * n] != tf.p_beats(S2)
    assert got[n * n:] == tf.trace_beats(S2, CFG, rs.EMB_EVERY_LOG2)


def test_mode0_on_a_phases_core_is_the_search_run():
    """MODE 0 (default) on a core generated with phases: the search-only cycles, no emb beat."""
    from golden_model import schedule as sch
    X, _ = _inputs(*CASES[0][:2], CASES[0][3])
    perp_q = fx.perplexity_to_reg(2.0, CFG)
    run = run_class(CFG, X, perp_q, "bisection")
    res, _, _ = golden(CFG, X, perp_q, "bisection")
    s = sch.schedule(CFG, 6, 5, "bisection", res)
    assert [c for c, _ in run.beats] == s.result_cycles and run.done_cycle == s.done_cycle
    assert run.emb == [] and run.status["done"] == 1


@pytest.mark.parametrize("cfg,regs,code", [(TINY, {"MODE": 1}, "MODE"),
                                            (CFG, {"MODE": 1, "DATAFLOW": 1, "POLICY": 1}, "DATAFLOW")])
def test_mode1_refused_without_phases_or_point_parallel_fwa(cfg, regs, code):
    """START refused (host check and RTL): MODE 1 on a core without phases (code MODE); the
    point-parallel dataflow with FWA (code DATAFLOW, as in MODE 0).  No feature accepted, nothing
    output."""
    from hw.simharness import refused_start
    ok = {"N": 6, "D": 5, "PERP": fx.perplexity_to_reg(2.0, cfg)}
    assert regmap.start_error(ok, cfg) == 0
    assert regmap.start_error({**ok, **regs}, cfg) == regmap.ERR[code]
    seen = refused_start(cfg, {**ok, **regs})
    assert seen == {"busy": 0, "done": 0, "error": 1, "error_code": regmap.ERR[code]}


def test_config_phases_must_be_bool():
    with pytest.raises(ConfigError, match="phases must be a bool"):
        TINY.with_overrides(phases=1)


def test_run_schedule_rejects_wrong_results():
    with pytest.raises(ValueError, match="one search result per point"):
        rs.run_schedule(CFG, 6, 5, "bisection", [])


def test_mode1_with_three_update_slices():
    """The core with S = 3 update slices (bursts of 3 points in 3 cycles; CFG: the preset's S = 1,
    a point every 2 cycles): the emb stream equals the golden model's and every beat is on the
    cycle `run_schedule` predicts for S = 3, which is not the cycle it predicts for the preset's S
    (N = 9: the update of block 0 ends earlier with S = 3)."""
    cfg = CFG.with_overrides(tsne_update_slices=3)
    n, d, policy, seed = 9, 5, "bisection", 4
    X = np.random.default_rng(seed).integers(0, 1 << cfg.feature_bits, size=(n, d))
    perp_q = min(fx.perplexity_to_reg(2.0, cfg), fx.perp_reg_max(n, cfg))
    run = run_class(cfg, X, perp_q, policy, mode=1, max_cycles=1_000_000, rng_seed=seed)
    res, _, beats = golden(cfg, X, perp_q, policy)
    assert run.status == {"busy": 0, "done": 1, "error": 0, "error_code": 0}
    assert emb_tuples(cfg, run) == beats
    s = rs.run_schedule(cfg, n, d, policy, res)
    assert [c for c, _ in run.emb] == s.emb_cycles and run.done_cycle == s.done_cycle
    assert run.done_cycle != rs.run_schedule(CFG, n, d, policy, res).done_cycle


def test_abort_during_the_p_dump_then_a_full_run():
    """ABORT while the P dump streams, with a beat held by emb back-pressure: idle within
    ABORT_CYCLES with code ABORTED, the held beat dropped and no emb beat after; a following START
    (P dump again) gives the golden P and t-SNE beats on the `run_schedule(p_dump=True)` cycles."""

    from hw.layouts import COMMANDS, POLICY_CODES, REGISTERS
    from hw.simharness import EMB_FIELDS, simulate, write_reg
    from hw.top import AdapSNECore
    n, d, policy, seed = CASES[0]
    X = np.random.default_rng(seed).integers(0, 1 << CFG.feature_bits, size=(n, d))
    perp_q = min(fx.perplexity_to_reg(2.0, CFG), fx.perp_reg_max(n, CFG))
    res, S, beats = golden(CFG, X, perp_q, policy)
    s = rs.run_schedule(CFG, n, d, policy, res, p_dump=True)
    dut = AdapSNECore(CFG, checks=True)
    runs = []

    async def start(ctx):
        for a, v in {"N": n, "D": d, "PERP": perp_q, "POLICY": POLICY_CODES[policy], "MODE": 1, "DEBUG": 1}.items():
            await write_reg(ctx, dut, REGISTERS[a], v)
        await write_reg(ctx, dut, REGISTERS["CMD"], COMMANDS["START"])
        ctx.set(dut.emb.ready, 1)
        ctx.set(dut.res.ready, 1)
        ctx.set(dut.feat.valid, 1)
        for f in X.reshape(-1):
            ctx.set(dut.feat.payload, int(f))
            while not (await ctx.tick().sample(dut.feat.ready))[2]:
                pass
        ctx.set(dut.feat.valid, 0)

    async def aborted(ctx):
        await start(ctx)
        seen = c = 0
        while seen < 3:                   # three P beats through, then the consumer stalls
            _, _, v, k = await ctx.tick().sample(dut.emb.valid, dut.emb.kind)
            seen += v and k == tf.TRACE_P
            c += 1
            assert c < 20_000, "no P dump"
        ctx.set(dut.emb.ready, 0)
        await ctx.tick().repeat(4)
        held = ctx.get(dut.emb.valid)
        await write_reg(ctx, dut, REGISTERS["CMD"], COMMANDS["ABORT"])
        await ctx.tick().repeat(regmap.ABORT_CYCLES - 1)
        st = ctx.get(dut.status)
        ctx.set(dut.emb.ready, 1)
        late = 0
        for _ in range(200):
            late += (await ctx.tick().sample(dut.emb.valid))[2]
        runs.append({"held": held, "busy": int(st.busy), "code": int(st.error_code), "late": late})

    async def full(ctx):
        await start(ctx)
        got, c = [], 0
        while True:
            _, _, v, st, *p = await ctx.tick().sample(dut.emb.valid, dut.status, *(getattr(dut.emb, f) for f in EMB_FIELDS))
            c += 1
            if v:
                got.append((c, {f: int(x) for f, x in zip(EMB_FIELDS, p)}))
            if not st.busy:
                runs.append({"emb": got, "done_cycle": c, "code": int(st.error_code)})
                return
            assert c < 20_000, "the run after ABORT hangs"

    async def tb(ctx):
        await aborted(ctx)
        await full(ctx)

    simulate(dut, tb)
    ab, run = runs
    assert ab == {"held": 1, "busy": 0, "code": regmap.ERR["ABORTED"], "late": 0}
    assert run["code"] == 0 and run["done_cycle"] == s.done_cycle
    assert [c for c, _ in run["emb"]] == s.emb_cycles
    assert emb_tuples(CFG, SimpleNamespace(emb=run["emb"])) == tf.p_beats(S) + beats
