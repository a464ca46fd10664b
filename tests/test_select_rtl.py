"""Selection modes of the whole core (MODE 2 NMS, MODE 3 AdapSNE; `hw.select`), Amaranth simulator.

The ``sel`` beats (selected indices, then the summary: chosen perplexity register, its entropy,
final grid side, candidates evaluated, unconverged searches) equal `golden_model.select_schedule.
golden_select` - built from the functions of `select(..., arithmetic="fixed")` and checked against
`select` itself here - and every beat and the end appear on the cycles `select_schedule` predicts.
Short t-SNE runs (3 iterations, 2 exaggerated) on tiny.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

from golden_model import entropy_fixed as ef
from golden_model import fixed as fx
from golden_model import select_schedule as ss
from golden_model.config import get_preset
from golden_model.select import select
from hw import regmap
from hw.simharness import run_class

TINY = get_preset("tiny")
CFG = TINY.with_overrides(phases=True, tsne_iters=3, tsne_exaggeration_iters=2)
#: max_passes = 3: most searches stop unconverged (the summary's unconv count)
#: the outer FWA over log2 perplexity (`hw.perp_fwa`): one iteration; two iterations with the smallest
#: amplitude (A = 1: sparks land on evaluated registers and are skipped)
CFGS = {"short": CFG, "passes3": CFG.with_overrides(max_passes=3),
        "fwa": CFG.with_overrides(perplexity_search="fwa", perplexity_fwa_iters=1),
        "fwa_a1": CFG.with_overrides(perplexity_search="fwa", perplexity_fwa_iters=2, fwa_amp_init_shift=16)}
METHOD = {2: "nms", 3: "adapsne"}

# (config, mode, policy, N, D, k, seed): N = 9 clamps the candidates (3, 5, 8) to (3, 4, 4): the
# duplicate is skipped; N = 12: three candidates, the middle one wins; k = N: every index; the
# "passes3" case (N = 11): both candidates have entropy 1726 (a tie: the first is kept, the second
# would select other points) and 8 / 10 unconverged searches; "fwa": a spark wins; "fwa_a1": two sparks
# evaluated, then two skipped
CASES = [("short", 2, "bisection", 9, 5, 3, 1), ("short", 3, "fwa", 9, 7, 2, 2),
         ("short", 3, "bisection", 12, 5, 4, 3), ("short", 2, "ksection", 6, 16, 6, 4),
         ("passes3", 3, "ksection", 11, 5, 3, 3), ("fwa", 3, "bisection", 12, 5, 3, 1),
         ("fwa_a1", 3, "bisection", 9, 5, 3, 0)]


def _features(n, d, seed):
    X = np.random.default_rng(seed).integers(0, 1 << CFG.feature_bits, size=(n, d))
    X[1] = np.clip(X[0] + 1, 0, (1 << CFG.feature_bits) - 1)        # a near-duplicate pair
    return X


def _perp(n):
    """PERP of an NMS run: select's `cfg.perplexity` clamped to the class (`_class_fixed`)."""
    return min(fx.perplexity_to_reg(CFG.perplexity, CFG), ef.perp_reg_cap(n, CFG))


@functools.lru_cache(maxsize=None)
def _run(cfg, mode, policy, n, d, k, seed, sel_ready=1.0):
    X = _features(n, d, seed)
    run = run_class(CFGS[cfg], X, _perp(n), policy, mode=mode, budget=k, max_cycles=3_000_000,
                    sel_ready_prob=sel_ready, rng_seed=seed)
    return X, run


@functools.lru_cache(maxsize=None)
def _gold(cfg, mode, policy, n, d, k, seed):
    return ss.golden_select(_features(n, d, seed), CFGS[cfg], mode, k, policy, _perp(n))


#: five candidate runs at N = 12 (about a minute): in the slow suite
SLOW = {5}


@pytest.mark.parametrize("case", [pytest.param(c, marks=pytest.mark.slow) if i in SLOW else c
                                  for i, c in enumerate(CASES)],
                         ids=[f"{c[0]}-mode{c[1]}-{c[2]}-n{c[3]}-k{c[5]}" for c in CASES])
def test_selection_equals_golden_and_schedule(case):
    cfg, mode, policy, n, d, k, seed = case
    cfg = CFGS[cfg]
    X, run = _run(*case)
    gold = _gold(*case)
    assert run.status == {"busy": 0, "done": 1, "error": 0, "error_code": 0}
    assert run.beats == [] and run.emb == []           # MODE 2, 3 output only on sel
    assert [b for _, b in run.sel] == ss.expected_beats(gold)
    s = ss.select_schedule(cfg, n, d, policy, gold, k)
    assert [c for c, _ in run.sel] == s.sel_cycles
    assert run.done_cycle == s.done_cycle
    # the oracle is select(arithmetic="fixed") itself (one class, ratio k / N)
    idx, det = select(X, np.zeros(n, dtype=np.int64), k / n, METHOD[mode], cfg, arithmetic="fixed",
                      return_details=True, policy=policy)
    det = det[0]
    assert gold.indices == idx.tolist()
    assert gold.summary["perp"] == round(det["perplexity"] * (1 << cfg.perp_frac))
    assert gold.summary["h"] == det["occupancy_entropy_q"]
    assert gold.summary["evals"] == len(det["perplexity_history"])
    assert gold.summary["unconv"] == int((~det["converged"]).sum())


def test_candidate_list_clamped_and_deduplicated():
    """N = 9: (3, 5, 8) -> registers (768, 1024, 1024): two evaluations, the second wins here."""
    gold = _gold(*CASES[1])
    assert [c.perp_q for c in gold.candidates] == [768, 1024]
    assert gold.summary["evals"] == 2
    assert len(_gold(*CASES[2]).candidates) == 3


def test_tie_keeps_the_first_candidate_and_its_unconverged_count():
    """CASES[4]: equal entropies; the later candidate's embedding would select other points and
    it has another unconverged count, so keeping it (ties the other way) is caught."""
    from golden_model.grid_fixed import grid_sample_fixed
    gold = _gold(*CASES[4])
    a, b = gold.candidates
    assert a.h_q == b.h_q and gold.best == 0
    unc = [sum(not r.converged for r in c.search) for c in gold.candidates]
    assert unc[0] != unc[1] and 0 < gold.summary["unconv"] == unc[0] < CASES[4][3]
    other = grid_sample_fixed(b.Y, CASES[4][5], CFGS["passes3"], g_limit=CFG.grid_g).tolist()
    assert other != gold.indices
    _, run = _run(*CASES[4])
    assert [b["index"] for _, b in run.sel[:-1]] == gold.indices != other
    assert run.sel[-1][1]["unconv"] == unc[0]


#: the point-parallel search (DATAFLOW = 1, bisection) in the selection modes: N = 9 on K = 4 is
#: two full groups and one point; MODE 3 re-runs it for a second candidate after the affinity and
#: t-SNE phases have used the engine candidate-parallel
PP_CASES = [("short", 2, "bisection", 9, 5, 3, 1), ("short", 3, "bisection", 9, 5, 3, 2)]


@pytest.mark.parametrize("case", PP_CASES, ids=[f"mode{c[1]}-n{c[3]}" for c in PP_CASES])
def test_point_parallel_search_equals_golden_and_schedule(case):
    cfg, mode, policy, n, d, k, seed = case
    cfg = CFGS[cfg]
    X = _features(n, d, seed)
    run = run_class(cfg, X, _perp(n), policy, mode=mode, budget=k, max_cycles=3_000_000, rng_seed=seed,
                    dataflow=1)
    gold = _gold(*case)
    assert run.status == {"busy": 0, "done": 1, "error": 0, "error_code": 0}
    assert [b for _, b in run.sel] == ss.expected_beats(gold)
    s = ss.select_schedule(cfg, n, d, policy, gold, k, dataflow="point")
    assert [c for c, _ in run.sel] == s.sel_cycles
    assert run.done_cycle == s.done_cycle
    # the point-parallel search is faster than the candidate-parallel one on the same class
    assert s.phases["search"] < ss.select_schedule(cfg, n, d, policy, gold, k).phases["search"]


def test_back_pressure_changes_cycles_not_values():
    case = CASES[0]
    _, run = _run(*case, sel_ready=0.3)
    gold = _gold(*case)
    assert run.status["done"] == 1
    assert [b for _, b in run.sel] == ss.expected_beats(gold)
    _, _, policy, n, d, k, _ = case
    assert run.done_cycle > ss.select_schedule(CFG, n, d, policy, gold, k).done_cycle


def test_wrong_reference_is_caught():
    """A reference that keeps the other candidate (ties / order the other way), one budget more,
    or one cycle later differs from the run."""
    _, mode, policy, n, d, k, seed = case = CASES[2]
    _, run = _run(*case)
    gold = _gold(*case)
    got = [b for _, b in run.sel]
    assert got == ss.expected_beats(gold)
    for c in range(len(gold.candidates)):
        if c != gold.best:
            other = ss.SelectGolden(gold.candidates, c, gold.indices, dict(gold.summary, perp=gold.candidates[c].perp_q,
                                                                          h=gold.candidates[c].h_q))
            assert got != ss.expected_beats(other)
    assert got != ss.expected_beats(ss.golden_select(_features(n, d, seed), CFG, mode, k + 1, policy))
    s = ss.select_schedule(CFG, n, d, policy, gold, k)
    assert [c for c, _ in run.sel] != [c + 1 for c in s.sel_cycles]


def test_entropies_of_the_candidates_differ():
    """The cases are not trivial: the candidates' entropies differ, so the choice matters (the
    winner is neither the first nor the last candidate in CASES[2])."""
    g = _gold(*CASES[2])
    hs = [c.h_q for c in g.candidates]
    assert len(set(hs)) > 1 and g.best == int(np.argmax(hs)) and 0 < g.best < len(hs) - 1


OK = {"N": 9, "D": 5, "PERP": fx.perplexity_to_reg(2.0, CFG), "BUDGET": 3}


@pytest.mark.parametrize("cfg,regs,code", [
    (CFG, {"MODE": 2, "BUDGET": 0}, "BUDGET"),
    (CFG, {"MODE": 3, "BUDGET": 10}, "BUDGET"),
    (CFG, {"MODE": 2, "BUDGET": CFG.n_max + 5}, "BUDGET"),
    (CFG, {"MODE": 2, "DATAFLOW": 1, "POLICY": 1}, "DATAFLOW"),
    (TINY, {"MODE": 3}, "MODE"),
    (CFG.with_overrides(perplexity_search="fwa", h_frac=12), {"MODE": 3}, "MODE"),
    (CFG, {"MODE": 2, "PERP": fx.perplexity_to_reg(5.0, CFG)}, "PERP_RANGE"),
])
def test_start_checks_host(cfg, regs, code):
    assert regmap.start_error(OK, cfg) == 0
    r = {**OK, **regs}
    r["BUDGET"] = min(r["BUDGET"], cfg.n_max + 1)          # the register saturates
    assert regmap.start_error(r, cfg) == regmap.ERR[code]


def test_outer_fwa_cases_are_not_trivial():
    """CASES[5]: a spark (not a list candidate) is chosen; CASES[6]: the second iteration's sparks
    are skipped (already evaluated); both histories equal `choose_perplexity_fixed`'s."""
    g = _gold(*CASES[5])
    assert g.n_list == 3 and len(g.candidates) == 5 and g.best >= g.n_list
    assert [f.run for f in g.fwa] == [[True, True]]
    g = _gold(*CASES[6])
    assert g.n_list == 2 and [f.run for f in g.fwa] == [[True, True], [False, False]]
    assert [f.evaluated for f in g.fwa] == [2, 4]


def test_fwa_replay_rejects_a_wrong_history():
    """The replay checks every spark against the history (a wrong reference fails loudly)."""
    g = _gold(*CASES[5])
    hist = [(c.perp_q, c.h_q) for c in g.candidates]
    cfg = CFGS["fwa"]
    assert [f.run for f in ss.fwa_replay(hist, 3, cfg)] == [[True, True]]
    bad = hist[:3] + [(hist[3][0] + 1, hist[3][1])] + hist[4:]
    with pytest.raises(ValueError, match="does not follow the outer FWA"):
        ss.fwa_replay(bad, 3, cfg)
    with pytest.raises(ValueError, match="does not make"):
        ss.fwa_replay(hist + [(900, 0)], 3, cfg)
    # the list's entropies tie (1827), so the fireworks are 768 and 1280; a larger entropy of 1408
    # makes it a firework and changes the sparks
    assert hist[0][1] == hist[1][1] == hist[2][1]
    other = hist[:2] + [(hist[2][0], hist[2][1] + 1)] + hist[3:]
    with pytest.raises(ValueError, match="does not follow"):
        ss.fwa_replay(other, 3, cfg)


def test_mode3_ignores_perp():
    """MODE 3 does not use PERP: an out-of-range PERP is accepted (MODE 2 refuses it); it refuses
    N <= 3, where every candidate would be clamped to perplexity 1."""
    bad = {**OK, "PERP": 0}
    assert regmap.start_error({**bad, "MODE": 3}, CFG) == 0
    assert regmap.start_error({**bad, "MODE": 2}, CFG) == regmap.ERR["PERP_RANGE"]
    for n, code in ((3, "PERP_RANGE"), (4, "NONE")):
        assert regmap.start_error({**OK, "N": n, "MODE": 3}, CFG) == regmap.ERR[code]


@pytest.mark.parametrize("regs,code", [({"MODE": 2, "BUDGET": 0}, "BUDGET"), ({"MODE": 3, "BUDGET": 10}, "BUDGET"),
                                       ({"MODE": 3, "DATAFLOW": 1, "POLICY": 1}, "DATAFLOW")])
def test_start_refused_in_rtl(regs, code):
    """The RTL refuses the START with the table's code: no feature accepted, nothing on sel."""
    from hw.simharness import refused_start
    seen = refused_start(CFG, {**OK, **regs}, out="sel")
    assert seen == {"busy": 0, "done": 0, "error": 1, "error_code": regmap.ERR[code]}


@pytest.mark.parametrize("kw,match", [({"mode": 1}, "mode must be 2"), ({"k": 0}, "k must satisfy"),
                                      ({"k": 10}, "k must satisfy"), ({"mode": 2, "perp_q": None}, "needs perp_q")])
def test_golden_select_rejects_bad_arguments(kw, match):
    args = dict(X=_features(9, 5, 1), cfg=CFG, mode=3, k=3, policy="bisection", perp_q=1024)
    args.update(kw)
    with pytest.raises(ValueError, match=match):
        ss.golden_select(**args)


def test_abort_in_a_rerun_then_a_full_run():
    """ABORT during the second candidate's search (MODE 3): idle within ABORT_CYCLES with code
    ABORTED and nothing on sel; a following START runs the same class to the golden beats on the
    schedule's cycles (no state of the aborted run survives: candidate index, best, re-run flag)."""

    from hw.layouts import COMMANDS, POLICY_CODES, REGISTERS
    from hw.simharness import SEL_FIELDS, simulate, write_reg
    from hw.top import AdapSNECore
    _, mode, policy, n, d, k, seed = case = CASES[1]
    X = _features(n, d, seed)
    gold = _gold(*case)
    s = ss.select_schedule(CFG, n, d, policy, gold, k)
    dut = AdapSNECore(CFG)
    runs = []

    async def one_run(ctx, abort_at=None):
        for a, v in {"N": n, "D": d, "POLICY": POLICY_CODES[policy], "MODE": mode, "BUDGET": k}.items():
            await write_reg(ctx, dut, REGISTERS[a], v)
        await write_reg(ctx, dut, REGISTERS["CMD"], COMMANDS["START"])
        ctx.set(dut.sel.ready, 1)
        ctx.set(dut.feat.valid, 1)
        for f in X.reshape(-1):
            ctx.set(dut.feat.payload, int(f))
            while True:
                _, _, rdy = await ctx.tick().sample(dut.feat.ready)
                if rdy:
                    break
        ctx.set(dut.feat.valid, 0)
        beats, c = [], 0
        while True:
            if c == abort_at:
                await write_reg(ctx, dut, REGISTERS["CMD"], COMMANDS["ABORT"])
                for _ in range(regmap.ABORT_CYCLES - 1):
                    await ctx.tick()
                st = ctx.get(dut.status)
                runs.append({"busy": int(st.busy), "code": int(st.error_code), "sel_valid": ctx.get(dut.sel.valid),
                             "beats": beats})
                return
            _, _, v, p, st = await ctx.tick().sample(dut.sel.valid, dut.sel.payload, dut.status)
            c += 1
            if v:
                beats.append((c, {f: int(getattr(p, f)) for f in SEL_FIELDS}))
            if not st.busy:
                runs.append({"beats": beats, "done_cycle": c, "code": int(st.error_code)})
                return

    async def tb(ctx):
        await one_run(ctx, abort_at=s.go[1] + 50)
        await one_run(ctx)

    simulate(dut, tb)
    aborted, full = runs
    assert aborted == {"busy": 0, "code": regmap.ERR["ABORTED"], "sel_valid": 0, "beats": []}
    assert [b for _, b in full["beats"]] == ss.expected_beats(gold) and full["code"] == 0
    assert [c for c, _ in full["beats"]] == s.sel_cycles and full["done_cycle"] == s.done_cycle
