"""t-SNE engine RTL (`hw/tsne.py`, `hw/lane_tsne.py`) against the golden model, Amaranth simulator.

One iteration per run, from a random S (symmetric, UQ1.p_frac) and a random state (y, v, gains):
the pass sums, Zq, and the updated y, v, gains equal `tsne_fixed.forces` / `update` bit for bit, and
the cycle count equals `tsne_schedule.run_cycles`.
"""

from __future__ import annotations

import numpy as np
import pytest
from amaranth.sim import Simulator

from golden_model import search_fixed as sf
from golden_model import timing
from golden_model import tsne_fixed as tf
from golden_model import tsne_schedule as ts
from golden_model.config import get_preset
from hw.lane_tsne import TsneWidths
from hw.tsne import LD_G, LD_S, LD_V, LD_Y, TsneEngine, s_location


def _signed(v, w):
    return v - (1 << w) if v >> (w - 1) else v


def _pair(word, w, signed=True):
    lo, hi = word & ((1 << w) - 1), (word >> w) & ((1 << w) - 1)
    return (_signed(lo, w), _signed(hi, w)) if signed else (lo, hi)


def random_state(cfg, n, seed, y_scale_bits=None):
    """S (symmetric, zero diagonal), Y, V, G of a random mid-run state (all seeded)."""
    rng = np.random.default_rng(seed)
    PF = cfg.p_frac
    Pc = rng.integers(0, 1 << PF, size=(n, n)) >> rng.integers(0, PF, size=(n, n))
    np.fill_diagonal(Pc, 0)
    S = (Pc + Pc.T).astype(np.int64)
    yb = cfg.y_frac + (2 if y_scale_bits is None else y_scale_bits)
    Y = rng.integers(-(1 << yb), 1 << yb, size=(n, 2))
    Y[0] = [tf.y_limit(cfg), -tf.y_limit(cfg)]         # the saturation corner
    V = rng.integers(-(1 << (cfg.y_frac - 4)), 1 << (cfg.y_frac - 4), size=(n, 2))
    co = tf.Coefs.of(cfg)
    G = rng.integers(co.gain_min, 4 << cfg.gain_frac, size=(n, 2))
    return S, Y.astype(np.int64), V.astype(np.int64), G.astype(np.int64)


def run_rtl(cfg, S, Y, V, G, ex, mom, lr, iters=1, ex_iters=None, mom_late=None, init=False, trace=None):
    """Load, run ``iters`` iterations (one with ``ex``/``mom`` by default), read back.  Returns a
    dict of arrays and the cycle count (``go`` cycle to ``done``).  With ``init`` the engine's PRNG
    initialisation (seed register = cfg.seed) replaces the loads of Y, V, G: its y, v, gains are
    read back as ``y0``, ``v0``, ``g0`` and its cycles as ``init_cycles``.  ``trace = (every_log2,
    p_ready, seed)`` turns the trace stream on with ``ready`` high with probability ``p_ready`` in
    each cycle (seeded); the beats moved are in ``beats``."""
    ex_iters = 1 if ex_iters is None else ex_iters
    mom_late = mom if mom_late is None else mom_late
    n = S.shape[0]
    tw = TsneWidths(cfg)
    dut = TsneEngine(cfg, checks=True)
    out = {}

    async def tb(ctx):
        async def load(sel, addr, data, bank=0):
            ctx.set(dut.ld_we, 1)
            ctx.set(dut.ld_sel, sel)
            ctx.set(dut.ld_bank, bank)
            ctx.set(dut.ld_addr, addr)
            ctx.set(dut.ld_data, data)
            await ctx.tick()
        for i in range(n):
            for j in range(n):
                b, a = s_location(cfg, i, j)
                await load(LD_S, a, int(S[i, j]), b)
            if init:
                continue
            mk = (1 << tw.yb) - 1
            await load(LD_Y, i, (int(Y[i, 0]) & mk) | ((int(Y[i, 1]) & mk) << tw.yb))
            await load(LD_V, i, (int(V[i, 0]) & mk) | ((int(V[i, 1]) & mk) << tw.yb))
            await load(LD_G, i, int(G[i, 0]) | (int(G[i, 1]) << tw.gainb))
        ctx.set(dut.ld_we, 0)
        ctx.set(dut.n, n)
        ctx.set(dut.ex, ex)
        ctx.set(dut.mom_early, mom)
        ctx.set(dut.mom_late, mom_late)
        ctx.set(dut.iters, iters)
        ctx.set(dut.ex_iters, ex_iters)
        ctx.set(dut.lr, lr)
        await ctx.tick()

        async def read_back(suffix=""):
            rows = {k: [] for k in ("y", "v", "g", "a", "r")}
            for i in range(n):
                ctx.set(dut.rd_addr, i)
                ctx.set(dut.st_addr, i)
                await ctx.tick()
                rows["y"].append(_pair(ctx.get(dut.rd_y), tw.yb))
                rows["v"].append(_pair(ctx.get(dut.rd_v), tw.yb))
                rows["g"].append(_pair(ctx.get(dut.rd_g), tw.gainb, signed=False))
                rows["a"].append(_pair(ctx.get(dut.rd_a), tw.accb))
                rows["r"].append(_pair(ctx.get(dut.rd_r), tw.accb))
            out.update({k + suffix: np.array(v, dtype=object) for k, v in rows.items()})

        if init:
            ctx.set(dut.init, 1)
            await ctx.tick()
            ctx.set(dut.init, 0)
            c = 1
            while not ctx.get(dut.done):
                await ctx.tick()
                c += 1
                assert c < 10 * ts.init_cycles(n), "init hangs"
            out["init_cycles"] = c
            await read_back("0")
        beats, rng = [], np.random.default_rng(trace[2] if trace else 0)
        if trace:
            ctx.set(dut.trace_en, 1)
            ctx.set(dut.trace_every_log2, trace[0])
        ctx.set(dut.go, 1)
        await ctx.tick()
        ctx.set(dut.go, 0)
        c = 1
        while not ctx.get(dut.done):
            if trace:       # the beat of this cycle moves if valid and ready
                rdy = int(rng.random() < trace[1])
                ctx.set(dut.trace.ready, rdy)
                if rdy and ctx.get(dut.trace.valid):
                    kind, it, idx, data = (ctx.get(getattr(dut.trace, f)) for f in ("kind", "iter", "index", "data"))
                    beats.append((kind, it, idx, int(data) if kind == tf.TRACE_ZQ else _pair(data, tw.yb)))
            await ctx.tick()
            c += 1
            assert c < 50 * ts.run_cycles(n, cfg.lanes, iters, slices=cfg.tsne_update_slices,
                                                      symmetric=cfg.tsne_symmetric), "engine hangs"
        out["beats"] = beats
        out["cycles"] = c
        out["zq"] = ctx.get(dut.zq)
        await read_back()

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    return out


def golden(cfg, S, Y, V, G, ex, mom, co):
    f = tf.forces(S, Y, ex, cfg)
    Yn, Vn, Gn = tf.update(Y.astype(object), V.astype(object), G.astype(object), f.grad, mom, co, cfg)
    return f, Yn, Vn, Gn


def mismatches(cfg, rtl, S, Y, V, G, ex, mom, co) -> list:
    f, Yn, Vn, Gn = golden(cfg, S, Y, V, G, ex, mom, co)
    bad = []
    for name, got, want in (("zq", rtl["zq"], f.zq), ("att", rtl["a"], f.att), ("rep", rtl["r"], f.rep),
                            ("y", rtl["y"], Yn), ("v", rtl["v"], Vn), ("gain", rtl["g"], Gn)):
        if not np.array_equal(np.asarray(got, dtype=object), np.asarray(want, dtype=object)):
            bad.append(name)
    return bad


# tiny N = 5: the second block's snap comes 25 cycles after the first, before the first block's
# sums have left (two hand-overs in flight); N = 2 and small N = 8 = K: one block, FLUSH only;
# tiny N = 32: 8 blocks (the symmetric engine's V memory halves alternate); tiny N = 14, small N = 17:
# a partial last block (2 points of 4, 1 of 8: ring steps with absent partners)
CASES = [("tiny", 6, 1, True), ("tiny", 9, 2, False), ("small", 11, 3, True), ("tiny", 5, 4, True),
         ("tiny", 2, 5, False), ("small", 8, 6, False), ("tiny", 32, 7, False), ("tiny", 14, 8, True),
         ("small", 17, 9, False)]


@pytest.mark.parametrize("symmetric", [True, False], ids=["symmetric", "ordered"])
@pytest.mark.parametrize("preset,n,seed,early", CASES)
def test_one_iteration_bit_and_cycle_exact(preset, n, seed, early, symmetric):
    """Both dataflows (`AccelConfig.tsne_symmetric`): the same bits, each its own schedule (tiny N = 9
    and small N = 11 put the symmetric engine's later blocks' broadcasts below bK + K: masked
    slots)."""
    cfg = get_preset(preset).with_overrides(tsne_symmetric=symmetric)
    co = tf.Coefs.of(cfg)
    S, Y, V, G = random_state(cfg, n, seed)
    ex, mom = (co.ex, co.mom_early) if early else (1 << cfg.coef_frac, co.mom_late)
    rtl = run_rtl(cfg, S, Y, V, G, co.ex, mom, co.lr, ex_iters=int(early))
    assert mismatches(cfg, rtl, S, Y, V, G, ex, mom, co) == []
    assert rtl["cycles"] == ts.run_cycles(n, cfg.lanes, 1, slices=cfg.tsne_update_slices,
                                                      symmetric=cfg.tsne_symmetric)
    if n > 2 * cfg.lanes:   # the two schedules differ, so the check above tells the dataflows apart
        # (with two blocks the ordered engine's padded blocks may take as long as the symmetric one)
        assert rtl["cycles"] != ts.run_cycles(n, cfg.lanes, 1, slices=cfg.tsne_update_slices, symmetric=not symmetric)


@pytest.mark.parametrize("preset,n", [("tiny", 6), ("small", 4)])
def test_spread_embedding_takes_the_left_shift_of_the_repulsion(preset, n):
    """An embedding spread over the whole y range makes Zq so small that the repulsive term is
    shifted left (``kneg``: ``pz + W < Q + 2``); the update is still bit- and cycle-exact."""
    cfg = get_preset(preset)
    co = tf.Coefs.of(cfg)
    S, Y, V, G = random_state(cfg, n, 5, y_scale_bits=cfg.y_int_bits)
    pz = int(tf.forces(S, Y, co.ex, cfg).zq).bit_length() - 1
    assert pz + cfg.w_frac < cfg.q_frac + 2, "the case no longer reaches the left-shift path"
    rtl = run_rtl(cfg, S, Y, V, G, co.ex, co.mom_early, co.lr)
    assert mismatches(cfg, rtl, S, Y, V, G, co.ex, co.mom_early, co) == []
    assert rtl["cycles"] == ts.run_cycles(n, cfg.lanes, 1, slices=cfg.tsne_update_slices,
                                                      symmetric=cfg.tsne_symmetric)


def test_wrong_reference_is_caught():
    """The comparison fails against deliberately wrong references (exaggeration + 1.0; one S pair + 2^(p_frac/2))."""
    cfg = get_preset("tiny")
    co = tf.Coefs.of(cfg)
    S, Y, V, G = random_state(cfg, 5, 7)
    rtl = run_rtl(cfg, S, Y, V, G, co.ex, co.mom_early, co.lr)
    assert mismatches(cfg, rtl, S, Y, V, G, co.ex, co.mom_early, co) == []
    assert "y" in mismatches(cfg, rtl, S, Y, V, G, co.ex + (1 << cfg.coef_frac), co.mom_early, co)
    Sb = S.copy()
    Sb[1, 2] += 1 << (cfg.p_frac // 2)
    Sb[2, 1] += 1 << (cfg.p_frac // 2)
    assert "att" in mismatches(cfg, rtl, Sb, Y, V, G, co.ex, co.mom_early, co)


def test_pair_interval_keeps_the_four_multipliers_busy():
    """tpair claims M0 .. M3 (operand registers and product) in II stages each: full use at one
    issue every II cycles; M2 and M3 are the search's MULA and t w DSP (hand-written names)."""
    ii = timing.pair_interval("tpair")
    assert timing.TPAIR_MULS == (("tm0_in", "tm0"), ("tm1_in", "tm1"), ("mul_in", "mul"), ("twmul_in", "twmul"))
    assert ii == 2 and all(len(timing.uses("tpair", r)) == ii for mul in timing.TPAIR_MULS for r in mul)
    # the shared ones are the search's: claimed by kern / cand / dist, never by another t-SNE op;
    # kern writes the t w operand registers in the stage before its product, as tpair does
    assert {op for op, _ in timing.claims("twmul")} == {op for op, _ in timing.claims("twmul_in")} == {"kern", "tpair"}
    assert timing.stage_of("kern", "twmul_in") + 1 == timing.stage_of("kern", "twmul")
    assert {op for op, _ in timing.claims("mul_in")} == {"dist", "cand", "kern", "kprob", "tpair"}
    assert ts.MUL_OPS_PER_PAIR == ts.TSNE_MULS * ii == 8
    # digits N = 124: with the update overlapped on one slice (a point every II cycles, as the
    # stream reads them) an iteration is within 15 % of the multiplier bound, in both dataflows
    for sym in (False, True):
        assert ts.iteration_cycles(124, 16, slices=1, symmetric=sym) / ts.lower_bound(124, 16, slices=1, symmetric=sym) < 1.15


def test_update_op_keeps_its_multipliers_busy():
    """tupd's 16 chunk products per coordinate (`TUPD_MULS`) go two per multiplier TU0 .. TU7, an
    odd issue stage with an even one: one point per update slice every 2 cycles with every
    multiplier busy (hand-computed pairing of the chunk stages 1-7, 12, 13 13 14 14 (gpg), 18 18 19
    19 (tlr))."""
    ii = timing.pair_interval("tupd")
    assert ii == timing.TUPD_INTERVAL == 2 and len(timing.TUPD_CHUNKS) == 16 and timing.TUPD_MULTIPLIERS == 8
    assert ts.MUL_OPS_PER_POINT == 32 and ts.UPDATE_MULS == 16
    assert [timing.uses("tupd", f"tu{k}_in") for k in range(8)] == [
        [1, 2], [3, 4], [5, 6], [7, 12], [13, 14], [13, 14], [18, 19], [18, 19]]
    assert all(len(timing.uses("tupd", r)) == 2 for k in range(8) for r in timing.tu(k))
    # the latency: rrz (5, 6) summed in 9, gr 11, grad 12, gain 13, gpg 13-14 summed in 17, tlr
    # 18-19 summed in 22, step 23, vel 24, pos 25
    assert timing.latency("tupd") == 26 and timing.TSNE_UPD_PIPE == 28
    # one point every 2 cycles on one slice, every cycle on two or more
    assert [timing.tsne_update_interval(u) for u in (1, 2, 3, 4, 8, 16)] == [2, 1, 1, 1, 1, 1]
    # TU3 takes stages 7 and 12: a slice cannot take a point every 5 cycles
    assert [p for p in range(1, 14) if timing.tsne_update_period_ok(p)] == [2, 3, 4, 6, 7, 8, 9, 10, 11, 12, 13]
    with pytest.raises(ValueError, match="slices must be an integer >= 1"):
        timing.tsne_update_interval(0)


@pytest.mark.parametrize("preset,n,iters,ex_iters", [("tiny", 7, 4, 2), ("small", 10, 3, 1)])
def test_schedule_run_matches_tsne_fixed(preset, n, iters, ex_iters):
    """Several iterations with the exaggeration/momentum switch (v, gains reset) from the PRNG
    initialisation: final y, v, gains equal `tsne_fixed.tsne_fixed`; cycles = run_cycles."""
    cfg = get_preset(preset).with_overrides(tsne_iters=iters, tsne_exaggeration_iters=ex_iters)
    co = tf.Coefs.of(cfg)
    S, _, _, _ = random_state(cfg, n, 11)
    Y0 = tf.init_embedding(n, cfg)
    Y0 = Y0 * 64            # spread the PRNG start so that the forces are not all tiny
    ref = tf.tsne_fixed(S, cfg, Y0=Y0)
    V0 = np.zeros((n, 2), dtype=np.int64)
    G0 = np.full((n, 2), co.gain_one, dtype=np.int64)
    rtl = run_rtl(cfg, S, Y0, V0, G0, co.ex, co.mom_early, co.lr, iters=iters, ex_iters=ex_iters,
                  mom_late=co.mom_late)
    assert np.array_equal(rtl["y"].astype(np.int64), ref.Y)
    assert np.array_equal(rtl["v"].astype(np.int64), ref.V)
    assert np.array_equal(rtl["g"].astype(np.int64), ref.G)
    assert rtl["cycles"] == ts.run_cycles(n, cfg.lanes, iters, slices=cfg.tsne_update_slices,
                                                      symmetric=cfg.tsne_symmetric)


@pytest.mark.parametrize("preset,n,seed", [("tiny", 9, 5), ("small", 13, 0xDEADBEEF)])
def test_prng_initialisation_and_run_from_it(preset, n, seed):
    """The engine's PRNG initialisation (seed register) writes y0 = `tsne_fixed.init_embedding`,
    v = 0, gains = 1.0 in `init_cycles`; two iterations from it equal `tsne_fixed.tsne_fixed` with
    its own initialisation."""
    cfg = get_preset(preset).with_overrides(seed=seed, tsne_iters=2, tsne_exaggeration_iters=1)
    co = tf.Coefs.of(cfg)
    S, _, _, _ = random_state(cfg, n, 3)
    rtl = run_rtl(cfg, S, None, None, None, co.ex, co.mom_early, co.lr, iters=2, ex_iters=1,
                  mom_late=co.mom_late, init=True)
    want0 = [[sf.gauss_approx(sf.xorshift32(sf.lane_seed((seed ^ tf.TSNE_INIT_STREAM) & sf.MASK32, i, c)))
              << (cfg.y_frac - cfg.tsne_init_frac) for c in range(2)] for i in range(n)]
    assert rtl["y0"].tolist() == want0 and np.array_equal(rtl["y0"].astype(np.int64), tf.init_embedding(n, cfg))
    assert (rtl["v0"] == 0).all() and (rtl["g0"] == co.gain_one).all()
    assert rtl["init_cycles"] == ts.init_cycles(n)
    ref = tf.tsne_fixed(S, cfg)
    assert np.array_equal(rtl["y"].astype(np.int64), ref.Y) and np.array_equal(rtl["g"].astype(np.int64), ref.G)
    assert rtl["cycles"] == ts.run_cycles(n, cfg.lanes, 2, slices=cfg.tsne_update_slices,
                                                      symmetric=cfg.tsne_symmetric)


@pytest.mark.parametrize("preset,n,iters,k,p_ready", [("tiny", 6, 5, 1, 0.3), ("small", 9, 3, 0, 1.0)])
def test_trace_stream_under_back_pressure(preset, n, iters, k, p_ready):
    """Trace stream on: every iteration's Zq and the embedding after iterations 2^k, 2*2^k, ... and
    the last equal `tsne_fixed.trace_beats`, in order, under random ``ready`` (seeded); the run's
    results are unchanged; with ``ready`` always high the cycles are `traced_run_cycles`."""
    cfg = get_preset(preset).with_overrides(tsne_iters=iters, tsne_exaggeration_iters=1)
    co = tf.Coefs.of(cfg)
    S, _, _, _ = random_state(cfg, n, 5)
    Y0 = tf.init_embedding(n, cfg) * 64
    V0, G0 = np.zeros((n, 2), dtype=np.int64), np.full((n, 2), co.gain_one, dtype=np.int64)
    rtl = run_rtl(cfg, S, Y0, V0, G0, co.ex, co.mom_early, co.lr, iters=iters, ex_iters=1,
                  mom_late=co.mom_late, trace=(k, p_ready, 17))
    want = tf.trace_beats(S, cfg, k, Y0=Y0)
    assert sum(b[0] == tf.TRACE_Y for b in want) == n * len([it for it in range(iters) if tf.trace_selected(it, iters, k)])
    assert rtl["beats"] == want
    ref = tf.tsne_fixed(S, cfg, Y0=Y0)
    assert np.array_equal(rtl["y"].astype(np.int64), ref.Y) and np.array_equal(rtl["v"].astype(np.int64), ref.V)
    if p_ready == 1.0:
        assert rtl["cycles"] == ts.traced_run_cycles(n, cfg.lanes, iters, k, slices=cfg.tsne_update_slices,
                                                      symmetric=cfg.tsne_symmetric)
    else:
        assert rtl["cycles"] > ts.traced_run_cycles(n, cfg.lanes, iters, k, slices=cfg.tsne_update_slices,
                                                      symmetric=cfg.tsne_symmetric)


def test_trace_selection_rule():
    """Hand-computed: k = 1 over 5 iterations traces iterations 1, 3 and the last (4); k = 0 all."""
    assert [it for it in range(5) if tf.trace_selected(it, 5, 1)] == [1, 3, 4]
    assert [it for it in range(3) if tf.trace_selected(it, 3, 0)] == [0, 1, 2]
    assert [it for it in range(6) if tf.trace_selected(it, 6, 4)] == [5]


@pytest.mark.parametrize("preset,s,n,iters,seed", [("tiny", 2, 9, 3, 21), ("tiny", 3, 9, 3, 22),
                                                  ("small", 2, 11, 2, 23)])
def test_update_slices_bit_and_cycle_exact(preset, s, n, iters, seed):
    """S update slices other than the presets' 1 (which run in the tests above): S = 2 (a point
    every cycle, point i on slice i mod 2), S = 3 (bursts of 3 in 3 cycles, point i on slice
    i mod 3).  Several iterations, so that updates overlap the next pass:
    final y, v, gains equal `tsne_fixed.tsne_fixed`, and the cycles are the golden schedule's for
    this S and for no S with another interval."""
    cfg = get_preset(preset).with_overrides(tsne_update_slices=s, tsne_iters=iters, tsne_exaggeration_iters=1)
    co = tf.Coefs.of(cfg)
    S, _, _, _ = random_state(cfg, n, seed)
    Y0 = tf.init_embedding(n, cfg) * 64
    V0, G0 = np.zeros((n, 2), dtype=np.int64), np.full((n, 2), co.gain_one, dtype=np.int64)
    rtl = run_rtl(cfg, S, Y0, V0, G0, co.ex, co.mom_early, co.lr, iters=iters, ex_iters=1, mom_late=co.mom_late)
    ref = tf.tsne_fixed(S, cfg, Y0=Y0)
    assert np.array_equal(rtl["y"].astype(np.int64), ref.Y) and np.array_equal(rtl["v"].astype(np.int64), ref.V)
    assert np.array_equal(rtl["g"].astype(np.int64), ref.G)
    assert rtl["cycles"] == ts.run_cycles(n, cfg.lanes, iters, slices=s, symmetric=cfg.tsne_symmetric)
    # a schedule with a wrong S would be caught: every S with another interval gives another count
    wrong = [w for w in range(1, 17) if timing.tsne_update_interval(w) != timing.tsne_update_interval(s)]
    assert wrong and all(rtl["cycles"] != ts.run_cycles(n, cfg.lanes, iters, slices=w, symmetric=cfg.tsne_symmetric) for w in wrong)


def test_update_is_on_the_slices_not_the_lanes():
    """No lane has ``upd`` ports, a ``tupd`` valid chain or the op's registers; an update slice
    (`hw.tsne_update`) has them, and the engine builds ``tsne_update_slices`` of them."""
    from amaranth.back import verilog

    from hw.lane import Lane
    from hw.tsne_update import UpdateSlice
    cfg = get_preset("tiny").with_overrides(phases=True, tsne_update_slices=3)

    def text(x):
        return verilog.convert(x, name="x", emit_src=False)
    lane, sl = text(Lane(cfg, 0)), text(UpdateSlice(cfg))
    assert not {"upd", "uy0", "uv0", "ug0"} & set(Lane(cfg, 0).signature.members["tsne"].signature.members)
    for name in ("tupd_s0", "u0_A", "u1_Yn", "u0_shin"):
        assert name in sl and name not in lane, name
    eng = text(TsneEngine(cfg))
    assert all(f"upd_slice{k}" in eng for k in range(3)) and "upd_slice3" not in eng


def test_update_slice_conflict_assertion_fires():
    """A slice's simulation assertion (`hw.opchain.check_conflicts`) fires when two ``tupd`` are
    issued so close that two of their stages claim one resource in a cycle; one ``tupd`` alone
    does not make it fire."""
    from hw.tsne_update import UpdateSlice
    cfg = get_preset("tiny").with_overrides(phases=True)
    res, gap = next((r, st[1] - st[0]) for r in timing.RESOURCES
                    for st in [timing.uses("tupd", r)] if len(st) > 1)

    def run(gaps):
        sl = UpdateSlice(cfg, 0, checks=True)

        async def tb(ctx):
            for g in gaps:
                ctx.set(sl.tsne.upd.issue, 1)
                await ctx.tick()
                ctx.set(sl.tsne.upd.issue, 0)
                if g > 1:
                    await ctx.tick().repeat(g - 1)
            await ctx.tick().repeat(timing.latency("tupd") + 2)
        sim = Simulator(sl)
        sim.add_clock(1e-6)
        sim.add_testbench(tb)
        sim.run()

    run([1])
    with pytest.raises(AssertionError, match=f"update slice 0: two ops claim resource {res!r}"):
        run([gap, 1])


def test_jside_identity_with_the_capped_shift():
    """The symmetric engine's j-side term: the lane shifts its product by min(s, pw - 1) (`hw.lane_tsne`:
    any larger shift gives the same floor) and the engine forms ``-floor - sticky``; that equals the
    golden model's floor of the negated product for every product a pw-bit signed x unsigned
    multiplier can give (|prod| < 2^(pw-1)) and every shift, here exhaustively for pw = 9."""
    pw = 9
    cap = pw - 1
    for prod in range(-(1 << (pw - 1)) + 1, 1 << (pw - 1)):
        for s in range(0, pw + 4):
            sc = min(s, cap)
            sticky = int(prod & ((1 << sc) - 1) != 0)
            assert -(prod >> sc) - sticky == (-prod) >> s, (prod, s)
    # the one product outside the multiplier's range breaks it (why the range matters)
    prod, s = -(1 << (pw - 1)), pw + 1
    assert -(prod >> cap) - int(prod & ((1 << cap) - 1) != 0) != (-prod) >> s


@pytest.mark.parametrize("preset", ["tiny", "small", "digits"])
def test_pair_saturation_thresholds_equal_the_pair_format(preset):
    """The engine saturates the pair format by comparing y itself with two thresholds set with the
    pair shift (`hw.tsne.pair_saturation_thresholds`), not the shifted word: for every shift, y on
    both sides of each threshold, y's extremes and random y, the result equals `tsne_fixed.pair_y`."""
    from hw.tsne import pair_saturation_thresholds
    cfg = get_preset(preset).with_overrides(phases=True)
    tw = TsneWidths(cfg)
    lim, ymin, ymax = 1 << (tw.pyb - 1), -(1 << (tw.yb - 1)), (1 << (tw.yb - 1)) - 1
    rng = np.random.default_rng(44)
    for sv in range(tf.pair_shift_max(cfg) + 1):
        hi, lo = pair_saturation_thresholds(cfg, sv)
        ys = [ymin, ymax, hi, hi - 1, lo, lo - 1, lim << sv, (lim << sv) - 1, -(lim << sv), -(lim << sv) - 1]
        ys = np.array([y for y in ys if ymin <= y <= ymax] + list(rng.integers(ymin, ymax + 1, size=500)), dtype=np.int64)
        rule = np.where(ys >= hi, lim - 1, np.where(ys < lo, -lim, ys >> sv))     # the engine's rule
        assert (rule == tf.pair_y(ys, sv, cfg)).all(), sv
