"""Amaranth-simulator harness of the entropy and grid phases (used by tests/test_entropy_rtl.py and
tests/test_grid_rtl.py): an embedding memory with the t-SNE engine's layout (coordinate 0 |
coordinate 1 << yb per point) behind a synchronous read port, the unit under test on it."""

from __future__ import annotations

import numpy as np
from amaranth.hdl import Elaboratable, Module
from amaranth.lib.memory import Memory
from amaranth.sim import Simulator

from golden_model.config import AccelConfig

from .entropy import EntropyUnit, y_bits

__all__ = ["pack_embedding", "WithEmbedding", "run_entropy", "run_grid"]


def pack_embedding(Y, cfg: AccelConfig) -> list:
    """Memory words of an integer embedding (two's complement coordinates, yb bits each)."""
    yb = y_bits(cfg)
    mk = (1 << yb) - 1
    return [(int(a) & mk) | ((int(b) & mk) << yb) for a, b in np.asarray(Y, dtype=np.int64)]


class WithEmbedding(Elaboratable):
    """``dut`` (a component with an ``emb`` read port) on an embedding memory holding ``Y``."""

    def __init__(self, dut, cfg: AccelConfig, Y):
        self.dut, self.cfg = dut, cfg
        self.words = pack_embedding(Y, cfg)

    def elaborate(self, platform):
        m = Module()
        m.submodules.dut = self.dut
        mem = Memory(shape=2 * y_bits(self.cfg), depth=self.cfg.n_max, init=self.words)
        m.submodules.ymem = mem
        rp = mem.read_port()
        m.d.comb += [rp.addr.eq(self.dut.emb.addr), self.dut.emb.data.eq(rp.data)]
        return m


def _signed(v: int, w: int) -> int:
    return v - (1 << w) if v >> (w - 1) else v


def run_entropy(cfg: AccelConfig, Y, runs: int = 1) -> dict:
    """Run `EntropyUnit` ``runs`` times back to back on ``Y``; returns ``h`` (Q.h_frac), ``G``,
    ``hist`` (G^2 counts read back through the histogram port) and ``cycles`` (``go`` cycle to
    ``done`` visible) of the last run, and ``all_cycles``."""
    n = len(Y)
    dut = EntropyUnit(cfg)
    out = {"all_cycles": []}

    async def tb(ctx):
        ctx.set(dut.n, n)
        for _ in range(runs):
            ctx.set(dut.go, 1)
            await ctx.tick()
            ctx.set(dut.go, 0)
            c = 1
            while not ctx.get(dut.done):
                await ctx.tick()
                c += 1
                assert c < 100 * (n + cfg.grid_g ** 2) + 1000, "entropy unit hangs"
            out["all_cycles"].append(c)
        out["cycles"] = c
        out["h"] = _signed(ctx.get(dut.h), dut.h_bits)
        G = out["G"] = ctx.get(dut.g_side)
        await ctx.tick()
        hist = []
        for cell in range(G * G):
            ctx.set(dut.rd_addr, cell)
            await ctx.tick()
            hist.append(ctx.get(dut.rd_count))
        out["hist"] = np.array(hist, dtype=np.int64)

    sim = Simulator(WithEmbedding(dut, cfg, Y))
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    return out


def run_grid(cfg: AccelConfig, Y, k: int, g_limit: int, p_ready: float = 1.0, seed: int = 0,
             runs: int = 1) -> dict:
    """Run `GridSampler` ``runs`` times back to back on ``Y`` with ``ready`` high with probability
    ``p_ready`` in each cycle (seeded); returns the ``indices`` of the last run (beats in stream
    order), ``g`` and ``cycles`` (``go`` cycle to ``done`` visible), and ``all`` (indices per run)."""
    from .grid import GridSampler
    n = len(Y)
    dut = GridSampler(cfg, g_limit)
    rng = np.random.default_rng(seed)
    out = {"all": []}

    async def tb(ctx):
        ctx.set(dut.n, n)
        ctx.set(dut.k, k)
        await ctx.tick()        # N and k settle a cycle before go (GridSampler's registered compares)
        for _ in range(runs):
            ctx.set(dut.go, 1)
            beats = []
            c = 0
            while True:
                rdy = int(rng.random() < p_ready)
                ctx.set(dut.out.ready, rdy)
                if rdy and ctx.get(dut.out.valid):
                    beats.append(int(ctx.get(dut.out.index)))
                await ctx.tick()
                ctx.set(dut.go, 0)
                c += 1
                if ctx.get(dut.done):
                    break
                assert c < 10_000_000, "grid sampler hangs"
            out["all"].append(beats)
            out["cycles"] = c
            out["g"] = ctx.get(dut.g_side)
        out["indices"] = out["all"][-1]

    sim = Simulator(WithEmbedding(dut, cfg, Y))
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    return out


def fixed_embedding(X, cfg: AccelConfig, perplexity: float = 5.0, seed: int = 0):
    """The fixed-point pipeline's embedding of the rows of ``X`` (integer features): bisection
    sigma search, pair sums, `tsne_fixed.tsne_fixed` with ``cfg``'s schedule (int64 Q.y_frac)."""
    from golden_model import affinity_fixed as af
    from golden_model import fixed as fx
    from golden_model import reference as ref
    from golden_model import search_fixed as sf
    from golden_model import tsne_fixed as tf
    X = np.asarray(X, dtype=np.int64)
    D = ref.sq_distances(X).astype(np.int64)
    pq = min(fx.perplexity_to_reg(perplexity, cfg), max(1 << cfg.perp_frac, fx.perp_reg_max(len(X), cfg)))
    res = [sf.search_row(D[i], i, pq, "bisection", cfg, point_index=i) for i in range(len(X))]
    S = af.joint_fixed(D, af.searched_u(res), cfg)
    return tf.tsne_fixed(S, cfg, seed=seed).Y
