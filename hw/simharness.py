"""Amaranth-simulator harness for the whole core (used by tests/test_hw_core_sim.py).

`run_class` writes the registers, issues START, streams the features and records every result
(and trace) beat with its cycle number, counted as in `golden_model.schedule`: cycle 0 is the
cycle in which the last feature beat is accepted.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import numpy as np
from amaranth.sim import Simulator

from golden_model import fixed as fx
from golden_model.config import AccelConfig

from .layouts import COMMANDS, POLICY_CODES, REGISTERS
from .top import AdapSNECore

__all__ = ["RunResult", "run_class", "write_reg", "read_p", "refused_start"]


@dataclass
class RunResult:
    beats: list = field(default_factory=list)    # (cycle, {index, u, h, passes, converged})
    traces: list = field(default_factory=list)   # (cycle, {u, z, t, h, lane, pass_index, index})
    status: dict = field(default_factory=dict)   # final status
    done_cycle: int | None = None                # first cycle with busy=0 after the run
    load_cycles: int = 0                         # cycles from START to the last feature
    emb: list = field(default_factory=list)      # (cycle, {kind, iter, index, data}) (MODE = 1)
    n: int = 0                                   # points of the run
    sel: list = field(default_factory=list)      # (cycle, {kind, index, perp, h, g, evals, unconv}) (MODE 2, 3)
    p: object = None                             # P memory (read_p hook)


def _view(v, names):
    return {n: int(getattr(v, n)) for n in names}


RES_FIELDS = ("index", "u", "h", "passes", "converged")
TRACE_FIELDS = ("u", "z", "t", "h", "lane", "pass_index", "index")
STATUS_FIELDS = ("busy", "done", "error", "error_code")
EMB_FIELDS = ("kind", "iter", "index", "data")
SEL_FIELDS = ("kind", "index", "perp", "h", "g", "evals", "unconv")


def simulate(dut, testbench) -> None:
    """Run one async ``testbench(ctx)`` on ``dut`` with the 1 MHz clock the harnesses use."""
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    sim.run()


async def write_reg(ctx, dut, addr, value):
    ctx.set(dut.cfg_we, 1)
    ctx.set(dut.cfg_addr, addr)
    ctx.set(dut.cfg_wdata, value)
    await ctx.tick()
    ctx.set(dut.cfg_we, 0)


def run_class(cfg: AccelConfig, X, perp_q: int, policy: str, *, seed: int | None = None,
              trace: bool = False, res_ready_prob: float = 1.0, trace_ready_prob: float = 1.0,
              max_cycles: int = 500_000, rng_seed: int = 0, dut=None, dataflow: int = 0, mode: int = 0,
              emb_ready_prob: float = 1.0, after=None, budget: int | None = None,
              sel_ready_prob: float = 1.0, debug: int = 0) -> RunResult:
    """Simulate one class run of the core.

    Parameters
    ----------
    X : array (N, D) of int
    perp_q : int
        PERP register value.
    policy : str
    seed : int, optional
        SEED register value (default: leave the reset value cfg.seed).
    res_ready_prob, trace_ready_prob, emb_ready_prob : float
        Probability that ``ready`` is high in a cycle (back-pressure test); ``sel_ready_prob``
        likewise for ``sel``.
    mode : int
        MODE register (written only if not 0): 1 runs the affinity and t-SNE phases after the
        search (a core generated with ``cfg.phases``); their ``emb`` beats are in ``emb``.  2 and 3:
        the selection modes (`hw.select`); the ``sel`` beats are in ``sel``.
    budget : int, optional
        BUDGET register (written only if given).
    debug : int
        DEBUG register (written only if not 0; bit 0: the P dump on ``emb``, `hw.pdump`).
    after : async callable ``(ctx, dut, out)``, optional
        Run by the testbench after the core went idle (e.g. `read_p`).
    """
    X = np.asarray(X)
    n, d = X.shape
    # lanes assert resource conflicts: every whole-core simulation also checks the op schedule
    dut = dut if dut is not None else AdapSNECore(cfg, trace=trace, checks=True)
    out = RunResult(n=n)
    rnd = random.Random(rng_seed)

    async def tb(ctx):
        await write_reg(ctx, dut, REGISTERS["N"], n)
        await write_reg(ctx, dut, REGISTERS["D"], d)
        await write_reg(ctx, dut, REGISTERS["PERP"], perp_q)
        await write_reg(ctx, dut, REGISTERS["POLICY"], POLICY_CODES[policy])
        await write_reg(ctx, dut, REGISTERS["DATAFLOW"], dataflow)
        if seed is not None:
            await write_reg(ctx, dut, REGISTERS["SEED"], seed)
        if mode:
            await write_reg(ctx, dut, REGISTERS["MODE"], mode)
        if budget is not None:
            await write_reg(ctx, dut, REGISTERS["BUDGET"], budget)
        if debug:
            await write_reg(ctx, dut, REGISTERS["DEBUG"], debug)
        await write_reg(ctx, dut, REGISTERS["CMD"], COMMANDS["START"])
        st = _view(ctx.get(dut.status), STATUS_FIELDS)
        if st["error"]:
            out.status = st
            return
        feats = [int(v) for v in X.reshape(-1)]
        k = 0
        ctx.set(dut.feat.valid, 1)
        ctx.set(dut.feat.payload, feats[0])
        cyc = 0
        while k < len(feats):
            _, _, rdy = await ctx.tick().sample(dut.feat.ready)
            cyc += 1
            if rdy:
                k += 1
                if k < len(feats):
                    ctx.set(dut.feat.payload, feats[k])
                else:
                    ctx.set(dut.feat.valid, 0)
            if cyc > max_cycles:
                raise RuntimeError("feature load hangs")
        out.load_cycles = cyc
        # cycle 0 was the last sampled tick
        c = 0
        r_ready = 1
        t_ready = 1
        ctx.set(dut.res.ready, r_ready)
        if trace:
            ctx.set(dut.trace.ready, t_ready)
        has_emb = hasattr(dut, "emb")
        e_ready = 1
        if has_emb:
            ctx.set(dut.emb.ready, e_ready)
        sigs = [dut.res.valid, dut.res.payload, dut.status]
        if trace:
            sigs += [dut.trace.valid, dut.trace.payload]
        if has_emb:
            sigs += [dut.emb.valid, *(getattr(dut.emb, f) for f in EMB_FIELDS)]
        has_sel = hasattr(dut, "sel")
        s_ready = 1
        if has_sel:
            ctx.set(dut.sel.ready, s_ready)
            sigs += [dut.sel.valid, dut.sel.payload]
        async for sample in ctx.tick().sample(*sigs):
            c += 1
            vals = sample[2:]
            if vals[0] and r_ready:
                out.beats.append((c, _view(vals[1], RES_FIELDS)))
            if trace and vals[3] and t_ready:
                out.traces.append((c, _view(vals[4], TRACE_FIELDS)))
            ev = vals[-7:-2] if has_sel else vals[-5:]
            if has_emb and ev[0] and e_ready:
                out.emb.append((c, {f: int(v) for f, v in zip(EMB_FIELDS, ev[1:])}))
            if has_sel and vals[-2] and s_ready:
                out.sel.append((c, _view(vals[-1], SEL_FIELDS)))
            st = _view(vals[2], STATUS_FIELDS)
            if not st["busy"]:
                out.status = st
                out.done_cycle = c
                break
            if c > max_cycles:
                raise RuntimeError(f"core did not finish within {max_cycles} cycles: {st}")
            if res_ready_prob < 1.0:
                r_ready = int(rnd.random() < res_ready_prob)
                ctx.set(dut.res.ready, r_ready)
            if trace and trace_ready_prob < 1.0:
                t_ready = int(rnd.random() < trace_ready_prob)
                ctx.set(dut.trace.ready, t_ready)
            if has_emb and emb_ready_prob < 1.0:
                e_ready = int(rnd.random() < emb_ready_prob)
                ctx.set(dut.emb.ready, e_ready)
            if has_sel and sel_ready_prob < 1.0:
                s_ready = int(rnd.random() < sel_ready_prob)
                ctx.set(dut.sel.ready, s_ready)
        if after is not None:
            await after(ctx, dut, out)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    return out


def perp_reg(perplexity: float, cfg: AccelConfig) -> int:
    return fx.perplexity_to_reg(perplexity, cfg)


async def read_p(ctx, dut, out):
    """`run_class` ``after`` hook: the affinity phase's P memory (MODE 1) as ``out.p`` (N x N, the
    layout of `hw.tsne.s_location`), read from the simulator's memory state."""
    from .tsne import s_location
    n = out.n
    banks = dut.phase_units["aff"].pbanks
    P = np.zeros((n, n), dtype=np.int64)
    for i in range(n):
        for j in range(n):
            b, a = s_location(dut.cfg, i, j)
            P[i, j] = ctx.get(banks[b].data[a])
    out.p = P


def refused_start(cfg: AccelConfig, regs: dict, out: str = "res", cycles: int = 10) -> dict:
    """Write `regs` (name -> value) and START with ``feat.valid`` and ``<out>.ready`` high; check
    for `cycles` cycles that no feature is accepted and nothing appears on `out`, and return the
    status fields (busy, done, error, error_code) then: a START the core refuses."""
    from amaranth.sim import Simulator

    from .layouts import COMMANDS, REGISTERS
    from .top import AdapSNECore
    dut = AdapSNECore(cfg)
    seen = {}

    async def tb(ctx):
        for a, v in regs.items():
            await write_reg(ctx, dut, REGISTERS[a], v)
        await write_reg(ctx, dut, REGISTERS["CMD"], COMMANDS["START"])
        stream = getattr(dut, out)
        ctx.set(dut.feat.valid, 1)
        ctx.set(stream.ready, 1)
        for _ in range(cycles):
            _, _, rdy, ov = await ctx.tick().sample(dut.feat.ready, stream.valid)
            assert not rdy and not ov, "a refused START accepted a feature or produced output"
        v = ctx.get(dut.status)
        seen.update({k: int(getattr(v, k)) for k in ("busy", "done", "error", "error_code")})

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    return seen
