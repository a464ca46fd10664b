"""Whole-run model of the selection modes (MODE 2 NMS, MODE 3 AdapSNE; `hw.select`): the expected
``sel`` beats and the cycle of every beat, exact.

Values come from the functions of `golden_model.select.select(..., arithmetic="fixed")`
(`entropy_fixed.embed_class_fixed` per candidate, the strictly-larger-entropy rule of
`entropy_fixed.choose_perplexity_fixed`, `grid_fixed.grid_sample_fixed`), never from the RTL; the
tests also compare them with `select` itself.  The grid sampler is the hardware's, and `select`'s in fixed
point: ``g_limit = cfg.grid_g`` (the core's counter memory, docs/hardware.md "Selection modes").

Cycle numbering as `golden_model.run_schedule` (cycle 0: the last feature beat is accepted; no
back-pressure on ``sel``).  Candidate ``c`` (its search controller ``go`` in cycle ``go_c``,
``go_0 = timing.LOAD_GO``)::

    L          = go_c + schedule(...).end_cycle            the last result beat (kept inside)
    aff_go     = L + GO_CYCLES;  init = aff_go + affinity run + GO_CYCLES
                 (candidate-parallel search: the rows fused into it, `run_schedule.fused_rows`;
                 L after the last row, init = aff_go)
    tsne_go    = init + tsne init + GO_CYCLES
    tsne_done  = tsne_go + tsne_schedule.run_cycles(N, K, iters, slices=S, symmetric=cfg.tsne_symmetric)        (no trace in MODE 2, 3)
    ent_go     = tsne_done + SEL_ENT_GO
    ent_done   = ent_go + phase_schedule.entropy_cycles(N)
    next       = ent_done + 1 + (N + 1 if the candidate is the new best (COPY) else 0)
    go_{c+1}   = next + SEL_RERUN                 (MODE 3, a candidate left: TGT, then the search)

with the outer FWA (MODE 3, ``perplexity_search = "fwa"``, `hw.perp_fwa`), from the list's last
``next``: ITER one cycle later; per iteration (``E`` evaluations so far, ``nf = min(fwa_fireworks,
E)``) the first CHECK ``1 + nf (E + FWA_GEN_CYCLES)`` cycles after ITER; a skipped spark 1 cycle,
an evaluated one ``go = CHECK + SEL_RERUN`` and the next CHECK one cycle after its ``next``; ITER
two cycles after the last CHECK; the last ITER is the grid's ``go`` (`fwa_replay` gives which
sparks run).  After the last candidate (or the last ITER) the grid sampler's ``go`` is in cycle ``next``; with
``D = next + phase_schedule.grid_cycles(Y_best, k, cfg, grid_g)`` the index beat of point ``j``
appears in cycle ``D - N + j``, the summary beat in ``D + 1``, and busy = 0 from ``D + 2``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import affinity_schedule as asch
from . import entropy_fixed as ef
from . import fixed as fx
from . import phase_schedule as ps
from . import schedule as sch
from . import timing
from . import tsne_schedule as ts
from .config import AccelConfig
from .grid_fixed import grid_sample_fixed
from .run_schedule import GO_CYCLES, fused_rows

__all__ = ["SEL_ENT_GO", "SEL_COPY_EXTRA", "SEL_RERUN", "FWA_GEN_CYCLES", "SelectGolden", "golden_select",
           "FwaIteration", "fwa_replay", "SelectSchedule", "select_schedule", "expected_beats", "search_dataflow"]

#: from the t-SNE engine's ``done`` to the entropy unit's ``go`` (`hw.select` ENT_GO state)
SEL_ENT_GO = 1
#: COPY of a new best embedding: ``N + SEL_COPY_EXTRA`` cycles (read address i, write i one cycle later)
SEL_COPY_EXTRA = 1
#: from NEXT (``next`` pulse) to the search controller's ``go`` of the next candidate: the core's
#: TGT state, the controller's TGT (`timing.START_TARGET`), ``go`` in the ``tgt_done`` cycle
SEL_RERUN = 1 + 1 + timing.START_TARGET
#: outer FWA (`hw.perp_fwa`), per firework: PRNG step, x register, EXP issue + function unit, spark register
FWA_GEN_CYCLES = 3 + len(timing.FU)


@dataclass
class SelectGolden:
    """What a selection run computes, from the golden model."""

    candidates: list         # entropy_fixed.FixedClassEmbedding per evaluated candidate, in order
    best: int                # position of the chosen candidate in `candidates`
    indices: list            # selected points, ascending (the index beats)
    summary: dict            # the summary beat's fields (hw.select.select_layout, kind 1)
    n_list: int = 0          # evaluations of the candidate list (the rest are outer-FWA sparks)
    fwa: list = field(default_factory=list)   # FwaIteration per outer-FWA iteration


@dataclass
class FwaIteration:
    """One outer-FWA iteration as the controller sees it."""

    evaluated: int           # evaluations at its start (the RANK scan length)
    fireworks: int           # min(fwa_fireworks, evaluated)
    run: list                # per spark: True = evaluated, False = already evaluated (skipped)


def fwa_replay(history: list, n_list: int, cfg: AccelConfig) -> list:
    """Replay `entropy_fixed.choose_perplexity_fixed`'s outer FWA on its ``history`` (``(pq, h)`` in
    evaluation order, the first ``n_list`` from the candidate list) with the same functions,
    checking that every evaluated spark is the history's next entry; returns the `FwaIteration` list
    (which sparks ran, which were skipped) the cycle model needs."""
    from . import search_fixed as sf
    cache = dict(history[:n_list])
    best = max(h for _, h in history[:n_list])
    pf = cfg.perp_frac
    regs = [pq for pq, _ in history[:n_list]]
    p_lo, p_hi = min(regs), max(regs)
    v_lo, v_hi = fx.log2_fixed(p_lo, pf, cfg), fx.log2_fixed(p_hi, pf, cfg)
    width = max(1, v_hi - v_lo)
    A = max(1, width >> cfg.fwa_amp_init_shift)
    s0 = (int(cfg.seed) ^ ef.PERP_FWA_STREAM) & sf.MASK32
    states = [sf.lane_seed(s0, 0, r) for r in range(cfg.fwa_fireworks)]
    j, out = n_list, []
    for _ in range(cfg.perplexity_fwa_iters):
        before = best
        ranked = sorted(cache.items(), key=lambda kv: (-kv[1], kv[0]))[:cfg.fwa_fireworks]
        it = FwaIteration(evaluated=len(cache), fireworks=len(ranked), run=[])
        sparks = []
        for r, (pq, _) in enumerate(ranked):
            states[r] = sf.xorshift32(states[r])
            x = sf.mirror_clamp(fx.log2_fixed(pq, pf, cfg)
                                + (((A << (r * cfg.fwa_amp_rank_shift)) * sf.uniform_s16(states[r])) >> 15), v_lo, v_hi)
            sparks.append(min(max(ef.perp_from_log2(x, cfg), p_lo), p_hi))
        for pq in sparks:
            it.run.append(pq not in cache)
            if pq not in cache:
                if j >= len(history) or history[j][0] != pq:
                    raise ValueError(f"history does not follow the outer FWA at evaluation {j}: spark {pq}")
                cache[pq] = history[j][1]
                best = max(best, history[j][1])
                j += 1
        s = cfg.fwa_amp_adapt_shift
        A = min(max(A + (A >> s) if best > before else A - (A >> s), 1), width)
        out.append(it)
    if j != len(history):
        raise ValueError(f"history has {len(history) - j} evaluations the outer FWA does not make")
    return out


def _sq(X) -> np.ndarray:
    X = np.asarray(X, dtype=np.int64)
    sq = (X * X).sum(axis=1)
    return sq[:, None] + sq[None, :] - 2 * X @ X.T


def golden_select(X, cfg: AccelConfig, mode: int, k: int, policy: str, perp_q: int | None = None) -> SelectGolden:
    """The expected result of a MODE 2 (``perp_q`` = the PERP register) or MODE 3 run
    (``entropy_fixed.candidate_regs``: ``cfg.perplexity_candidates`` clamped, duplicates dropped;
    needs ``cfg.perplexity_search == "fixed"``) with BUDGET ``k`` on the features ``X``."""
    if mode not in (2, 3):
        raise ValueError(f"mode must be 2 (NMS) or 3 (AdapSNE), got {mode!r}")
    X = np.asarray(X, dtype=np.int64)
    n = X.shape[0]
    if not 1 <= int(k) <= n:
        raise ValueError(f"k must satisfy 1 <= k <= N={n}, got {k!r}")
    if mode == 2 and perp_q is None:
        raise ValueError("mode 2 needs perp_q (the PERP register)")
    D = _sq(X)
    regs = [int(perp_q)] if mode == 2 else ef.candidate_regs(cfg, n)
    n_list, fwa = len(regs), []
    if mode == 3 and cfg.perplexity_search == "fwa" and n_list > 1:
        hist = ef.choose_perplexity_fixed(D, cfg, policy=policy).history
        fwa = fwa_replay(hist, n_list, cfg)
        regs = [pq for pq, _ in hist]
    cands = [ef.embed_class_fixed(D, q, cfg, policy) for q in regs]
    best = 0
    for c, e in enumerate(cands):       # strictly larger replaces: ties -> the earlier candidate
        if e.h_q > cands[best].h_q:
            best = c
    b = cands[best]
    idx = [int(i) for i in grid_sample_fixed(b.Y, int(k), cfg, g_limit=cfg.grid_g)]
    g = 0 if k >= n else ps.grid_work(b.Y, int(k), cfg, cfg.grid_g).g
    summary = {"kind": 1, "perp": b.perp_q, "h": int(b.h_q), "g": g, "evals": len(cands),
               "unconv": sum(not r.converged for r in b.search)}
    return SelectGolden(candidates=cands, best=best, indices=idx, summary=summary, n_list=n_list, fwa=fwa)


def expected_beats(gold: SelectGolden) -> list:
    """The ``sel`` beats (kind, index or summary fields) in stream order, as the harness records
    them (`hw.simharness.SEL_FIELDS`; fields a beat does not carry are 0)."""
    zero = {"kind": 0, "index": 0, "perp": 0, "h": 0, "g": 0, "evals": 0, "unconv": 0}
    return [dict(zero, index=i) for i in gold.indices] + [dict(zero, **gold.summary)]


@dataclass
class SelectSchedule:
    go: list = field(default_factory=list)          # search controller go per candidate
    tsne_done: list = field(default_factory=list)   # t-SNE done per candidate
    ent_done: list = field(default_factory=list)    # entropy done per candidate
    grid_go: int = 0
    sel_cycles: list = field(default_factory=list)  # every sel beat, stream order
    done_cycle: int = 0                             # first cycle with busy = 0
    phases: dict = field(default_factory=dict)      # cycles per phase, summed over candidates


def search_dataflow(cfg: AccelConfig, policy: str) -> str:
    """The faster search dataflow for ``policy`` on the core of ``cfg``: "point" (point-parallel,
    DATAFLOW = 1) for bisection on a core generated with ``point_parallel``, else "candidate".  The
    reports (`tb.phase_report`, `synth.speed_select`) run NMS this way."""
    return "point" if policy == "bisection" and cfg.point_parallel else "candidate"


def select_schedule(cfg: AccelConfig, n: int, d: int, policy: str, gold: SelectGolden, k: int,
                    dataflow: str = "candidate") -> SelectSchedule:
    """Cycle of every ``sel`` beat and of the end of a MODE 2 / 3 run (module doc); ``dataflow``
    is the searches' (DATAFLOW register: "point" for point-parallel bisection)."""
    K, it = cfg.lanes, cfg.tsne_iters
    out = SelectSchedule()
    ph = {"search": 0, "affinity": 0, "tsne init": 0, "tsne": 0, "entropy": 0, "decide + copy": 0, "rerun": 0}
    best_h = None

    def candidate(e, go):
        """One candidate from its search go; returns the NEXT cycle."""
        nonlocal best_h
        fused = fused_rows(dataflow)
        s = sch.schedule(cfg, n, d, policy, e.search, dataflow=dataflow, go=0, fused=fused)   # from this candidate's go
        aff_go = go + s.end_cycle + GO_CYCLES
        init = aff_go if fused else aff_go + asch.run_cycles(n, d, K) + GO_CYCLES
        rows = s.fused_rows
        tsne_go = init + ts.init_cycles(n) + GO_CYCLES
        tsne_done = tsne_go + ts.run_cycles(n, K, it, slices=cfg.tsne_update_slices, symmetric=cfg.tsne_symmetric)
        ent_go = tsne_done + SEL_ENT_GO
        ent_done = ent_go + ps.entropy_cycles(n, cfg)
        new_best = best_h is None or e.h_q > best_h
        best_h = e.h_q if new_best else best_h
        nxt = ent_done + 1 + (n + SEL_COPY_EXTRA if new_best else 0)
        ph["search"] += aff_go - go - rows
        ph["affinity"] += init - aff_go + rows
        ph["tsne init"] += tsne_go - init
        ph["tsne"] += tsne_done - tsne_go
        ph["entropy"] += ent_done - tsne_done
        ph["decide + copy"] += nxt - ent_done
        out.go.append(go)
        out.tsne_done.append(tsne_done)
        out.ent_done.append(ent_done)
        return nxt

    cands = iter(gold.candidates)
    go = timing.LOAD_GO
    for c in range(max(1, gold.n_list)):
        if c:
            go += SEL_RERUN
            ph["rerun"] += SEL_RERUN
        go = candidate(next(cands), go)
    if gold.fwa:
        # NEXT: step -> ITER; per iteration RANK, GEN, CHECK (a skipped spark 1 cycle; an evaluated
        # one: spark -> re-run -> its NEXT -> step -> CHECK), AMP -> ITER; fin in the last ITER
        y = go + 1
        fwa_ctrl = 1
        for fi in gold.fwa:
            z = y + 1 + fi.fireworks * (fi.evaluated + FWA_GEN_CYCLES)      # the first CHECK
            fwa_ctrl += z - y
            for run in fi.run:
                if run:
                    ph["rerun"] += SEL_RERUN
                    z = candidate(next(cands), z + SEL_RERUN) + 1
                fwa_ctrl += 1
                z += 0 if run else 1
            y = z + 2                                           # CHECK (none left), AMP, ITER
            fwa_ctrl += 2
        go = y
        ph["outer FWA"] = fwa_ctrl
    out.grid_go = go
    Y = gold.candidates[gold.best].Y
    D = go + ps.grid_cycles(Y, k, cfg, cfg.grid_g)
    out.sel_cycles = [D - n + j for j in gold.indices] + [D + 1]
    out.done_cycle = D + 2
    ph["grid + summary"] = D + 2 - go
    out.phases = ph
    return out


def main(argv=None) -> int:
    """Cycles per phase of a MODE 2 and a MODE 3 run on a random tiny class (the preset's t-SNE
    schedule unless --iters)."""
    import argparse

    from .config import get_preset
    ap = argparse.ArgumentParser(description="selection-mode cycle model")
    ap.add_argument("--preset", default="tiny")
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--d", type=int, default=16)
    ap.add_argument("--k", type=int, default=4)
    ap.add_argument("--iters", type=int, default=None)
    ap.add_argument("--policy", default="bisection")
    ap.add_argument("--fwa", action="store_true", help="perplexity_search = fwa (the outer FWA in MODE 3)")
    a = ap.parse_args(argv)
    cfg = get_preset(a.preset)
    if a.fwa:
        cfg = cfg.with_overrides(perplexity_search="fwa")
    if a.iters is not None:
        cfg = cfg.with_overrides(tsne_iters=a.iters, tsne_exaggeration_iters=min(cfg.tsne_exaggeration_iters, a.iters))
    X = np.random.default_rng(0).integers(0, 1 << cfg.feature_bits, size=(a.n, a.d))
    pq = min(fx.perplexity_to_reg(cfg.perplexity, cfg), ef.perp_reg_cap(a.n, cfg))
    names = ["search", "affinity", "tsne init", "tsne", "entropy", "decide + copy", "rerun", "outer FWA",
             "grid + summary"]
    print(f"| mode | candidates | {' | '.join(names)} | total |")
    print("|---|---:|" + "---:|" * (len(names) + 1))
    for mode in (2, 3):
        g = golden_select(X, cfg, mode, a.k, a.policy, pq)
        s = select_schedule(cfg, a.n, a.d, a.policy, g, a.k)
        assert sum(s.phases.values()) == s.done_cycle
        print(f"| {mode} | {len(g.candidates)} | " + " | ".join(f"{s.phases.get(k, 0):,}" for k in names)
              + f" | {s.done_cycle:,} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
