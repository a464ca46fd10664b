"""Affinity-phase RTL (`hw/affinity.py` + `hw/distance.py` + `hw/lane.py`) against the golden
model, Amaranth simulator.

A harness wires the distance engine, K lanes (resource-conflict assertions on) and the
controller; features enter through the engine's ``feat`` stream, the searched ``u`` through the
controller's load port (from `search_fixed.search_class`).  The P memory must equal
`affinity_fixed.joint_fixed` (the independent NumPy oracle) bit for bit, and the cycles from ``go``
to ``done`` must equal `affinity_schedule.run_cycles`.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.sim import Simulator

from golden_model import affinity_fixed as af
from golden_model import affinity_schedule as asch
from golden_model import fixed as fx
from golden_model import search_fixed as sf
from golden_model import timing
from golden_model.config import get_preset
from hw.affinity import AffinityController
from hw.distance import DistanceEngine
from hw.lane import Lane
from hw.tsne import s_location


class Harness(wiring.Elaboratable):
    """DistanceEngine + K lanes + AffinityController (lane 0 runs the streams)."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.eng = DistanceEngine(cfg)
        self.lanes = [Lane(cfg, l, checks=True, with_phases=True) for l in range(cfg.lanes)]
        self.ctl = AffinityController(cfg, checks=True)

    def elaborate(self, platform):
        m = Module()
        eng, ctl, lanes = self.eng, self.ctl, self.lanes
        m.submodules.eng, m.submodules.ctl = eng, ctl
        for l, ln in enumerate(lanes):
            m.submodules[f"lane{l}"] = ln
            wiring.connect(m, eng.lanes[l], ln.dist)
        l0 = lanes[0]
        wiring.connect(m, ctl.lane, l0.ops)
        wiring.connect(m, ctl.aff, l0.aff)
        m.d.comb += [eng.n.eq(ctl.n), ctl.lane_z.eq(l0.scan_out.z),
                     l0.tsne.recip.issue.eq(ctl.rcp_issue), l0.tsne.recip.x.eq(ctl.rcp_x),
                     ctl.rcp_p.eq(l0.tsne.p), ctl.rcp_r.eq(l0.tsne.r)]
        for name in ("point_first", "point_next", "point_start", "grant", "rd_en", "rd_restart", "rd_half"):
            m.d.comb += getattr(eng, name).eq(getattr(ctl, f"eng_{name}"))
        for name in ("dist_done", "dmin", "rd_data"):
            m.d.comb += getattr(ctl, f"eng_{name}").eq(getattr(eng, name))
        return m


def random_class(cfg, n, d, seed):
    """Integer features (seeded) with a few near-duplicate points (small distances)."""
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 1 << cfg.feature_bits, size=(n, d))
    X[1] = np.clip(X[0] + rng.integers(-1, 2, size=d), 0, (1 << cfg.feature_bits) - 1)
    return X.astype(np.int64)


def sq_dists(X):
    sq = (X * X).sum(axis=1)
    return sq[:, None] + sq[None, :] - 2 * X @ X.T


def searched_u(cfg, X, policy="bisection"):
    perp = min(cfg.perplexity, 0.9 * fx.perplexity_max(len(X)))
    return af.searched_u(sf.search_class(X, perp, policy, cfg))


def run_rtl(cfg, X, u, read_while_busy=False):
    """Load, run the phase, read P back (``p_rd_used`` set while reading): ``(S (N x N), cycles
    from go to done)``.  ``read_while_busy``: ``p_rd_used`` set from ``go`` on (a consumer reading
    P while the phase writes it: the controller's assertion must fire)."""
    n, d = X.shape
    h = Harness(cfg)
    eng, ctl = h.eng, h.ctl
    out = {}

    async def tb(ctx):
        ctx.set(ctl.n, n)
        ctx.set(eng.d, d)
        ctx.set(eng.load_start, 1)
        await ctx.tick()
        ctx.set(eng.load_start, 0)
        for x in X.reshape(-1):
            ctx.set(eng.feat.valid, 1)
            ctx.set(eng.feat.payload, int(x))
            assert ctx.get(eng.feat.ready)
            await ctx.tick()
        ctx.set(eng.feat.valid, 0)
        for k, v in enumerate(u):
            ctx.set(ctl.u_we, 1)
            ctx.set(ctl.u_addr, k)
            ctx.set(ctl.u_data, int(v))
            await ctx.tick()
        ctx.set(ctl.u_we, 0)
        ctx.set(ctl.go, 1)
        ctx.set(ctl.p_rd_used, read_while_busy)
        await ctx.tick()
        ctx.set(ctl.go, 0)
        c = 1
        limit = 3 * asch.run_cycles(n, d, cfg.lanes)
        while not ctx.get(ctl.done):
            await ctx.tick()
            c += 1
            assert c < limit, "affinity phase hangs"
        out["cycles"] = c
        await ctx.tick()
        ctx.set(ctl.p_rd_used, 1)
        S = np.zeros((n, n), dtype=np.int64)
        for a in range(n):
            for b in range(n):
                bank, addr = s_location(cfg, a, b)
                ctx.set(ctl.p_rd_bank, bank)
                for k in range(cfg.lanes):      # the other banks elsewhere: the port is per bank
                    ctx.set(ctl.p_rd_addr[k], addr if k == bank else 0)
                await ctx.tick().repeat(timing.P_READ)
                S[a, b] = ctx.get(ctl.p_rd_data)
        out["S"] = S

    sim = Simulator(h)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    return out["S"], out["cycles"]


def matches(S_rtl, S_ref):
    """Bit-exact comparison (the check every test relies on, and the one the wrong reference hits)."""
    return S_rtl.shape == S_ref.shape and bool((S_rtl == S_ref).all())


# (preset, N, D, seed, policy of the search that gives u): tiny (K = 4) and small (K = 8),
# classes of 5..20 points (N = 20 on K = 4: up to 4 bank-conflict bubbles per row)
CASES = [("tiny", 5, 16, 1, "bisection"), ("tiny", 20, 9, 2, "fwa"), ("small", 20, 32, 3, "ksection"),
         ("small", 11, 5, 4, "bisection")]


@functools.lru_cache(maxsize=None)
def _run(preset, n, d, seed, policy):
    cfg = get_preset(preset)
    X = random_class(cfg, n, d, seed)
    u = searched_u(cfg, X, policy)
    S, cycles = run_rtl(cfg, X, u)
    return cfg, X, u, S, cycles


@pytest.mark.parametrize("preset,n,d,seed,policy", CASES)
def test_p_memory_equals_joint_fixed_and_cycles_equal_schedule(preset, n, d, seed, policy):
    cfg, X, u, S, cycles = _run(preset, n, d, seed, policy)
    ref = af.joint_fixed(sq_dists(X), u, cfg)
    assert matches(S, ref), f"P differs at {np.argwhere(S != ref)[:5].tolist()}"
    assert ref[np.triu_indices(n, 1)].min() >= 0 and ref.max() > 0   # a non-trivial P
    assert cycles == asch.run_cycles(n, d, cfg.lanes)


def test_wrong_reference_is_caught():
    """One S entry off by one (and its mirror), or the u of one point changed: the comparison fails."""
    cfg, X, u, S, _ = _run(*CASES[2])
    ref = af.joint_fixed(sq_dists(X), u, cfg)
    assert matches(S, ref)
    bad = ref.copy()
    bad[3, 7] += 1
    bad[7, 3] += 1
    assert not matches(S, bad)
    u2 = np.array(u)
    u2[4] += 1
    assert not matches(S, af.joint_fixed(sq_dists(X), u2, cfg))


def test_p_read_while_the_phase_writes_assertion_fires():
    """The P banks are synthesised with no_rw_check; a consumer that marks its reads used while
    the phase owns the banks trips the controller's assertion (the normal order, reads after
    ``done``, runs quiet in every case above)."""
    cfg = get_preset("tiny")
    X = random_class(cfg, 5, 4, 7)
    with pytest.raises(AssertionError, match="P read for use while the affinity phase owns the banks"):
        run_rtl(cfg, X, searched_u(cfg, X), read_while_busy=True)


def test_schedule_rejects_bad_arguments():
    with pytest.raises(ValueError, match="n must be >= 2"):
        asch.run_cycles(1, 4, 4)
    with pytest.raises(ValueError, match="d must be >= 1"):
        asch.run_cycles(5, 0, 4)


def test_busy_shares_hand_counted():
    """N = 5, D = 16, K = 4 (G = 2): MULA 5 (4 x 2 x 16 + 1 + 2 x 4) = 685 lane-cycles, FU 5 (1 + 8 + 1)
    = 50, TM0 5 x 4 = 20; lower bound 5 (5 x 16 + 9) / 4 = 111.25."""
    b = asch.busy(5, 16, 4)
    c = b["cycles"]
    assert round(b["mula"] * 4 * c) == 685 and round(b["fu"] * 4 * c) == 50 and round(b["tm0"] * 4 * c) == 20
    assert b["lower_bound"] == 111.25 and b["ratio"] == c / 111.25


def test_alternatives_and_fused_rows_hand_counted():
    """The stored-rows alternative (not built) = the built phase without the recomputation (per
    point 2N + AFF_Z + AFF_RECIP + floor(i/K) - 1 + AFF_GAP, plus the row memory's read, the cycle
    model's closed form of the module doc).  The fused rows (built, session 39; the whole-core
    simulations of tests/test_phases.py and test_select_rtl.py check the RTL against them), N = 5,
    K = 4: CAND after 5 cycles (the search's last grant), SETUP 7, two streams of 5, DRAIN1 16,
    RECIP 4 = 42 cycles, plus floor(i/4) bubbles and the end, 2 cycles after the last read (20 for
    the class's last row, its P writes): 4 x 44 + 63 = 239."""
    from golden_model import timing as t
    n, d, k = 20, 16, 4
    per = [2 * n + t.AFF_Z + t.AFF_RECIP + i // k - 1 + t.AFF_GAP + t.ROW_READ for i in range(n)]
    assert asch.stored_rows_cycles(n, d, k) == 1 + sum(per) - t.AFF_GAP + t.AFF_WRITE + 1
    assert asch.stored_rows_cycles(n, d, k) < asch.run_cycles(n, d, k)
    assert (t.AFF_FUSED_CAND, t.SETUP, t.AFF_Z, t.AFF_RECIP, t.AFF_FUSED_GAP, t.AFF_WRITE) == (5, 7, 17, 4, 2, 20)
    assert [asch.fused_row_cycles(i, 5, 4) for i in range(5)] == [44, 44, 44, 44, 63]
    assert asch.fused_cycles(5, 4) == 239
    with pytest.raises(ValueError, match="0 <= i < 5"):
        asch.fused_row_cycles(5, 5, 4)


def test_fused_rows_delay_the_search_by_their_cycles():
    """`schedule.schedule(fused=True)`: each later point's result beat comes exactly the earlier
    points' row cycles later than without the rows, and the search ends after the last row - also
    when the next point's distance row still needs grants after OUT (one pass a point, D = 64: a
    row of 2 x 64 feature steps outlasts a pass), since a fused row grants nothing."""
    from types import SimpleNamespace
    from golden_model import schedule as sch
    cfg = get_preset("tiny")
    n = 6
    for passes, d in ((9, 8), (1, 64)):
        res = [SimpleNamespace(passes=passes, evaluations=passes * cfg.lanes) for _ in range(n)]
        plain = sch.schedule(cfg, n, d, "ksection", res)
        fused = sch.schedule(cfg, n, d, "ksection", res, fused=True)
        rows = [asch.fused_row_cycles(i, n, cfg.lanes) for i in range(n)]
        assert fused.result_cycles == [c + sum(rows[:i]) for i, c in enumerate(plain.result_cycles)]
        assert fused.end_cycle == plain.end_cycle + sum(rows) and plain.end_cycle == plain.result_cycles[-1]
        assert fused.fused_rows == sum(rows) and plain.fused_rows == 0     # what the reports subtract
    with pytest.raises(ValueError, match="candidate-parallel search only"):
        sch.schedule(cfg, n, 8, "bisection", res, dataflow="point", fused=True)
