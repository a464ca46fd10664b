"""Whole-run cycle model of the core in MODE 1 (search, joint affinities, t-SNE; `hw.phases`), exact.

Cycle numbering as `golden_model.schedule` (cycle 0: the last feature beat is accepted; no
back-pressure on ``res`` or ``emb``).  The phases follow each other through the sequencer's
one-cycle start states (`GO_CYCLES`); every other length is an existing phase model:

    L        = schedule(...).end_cycle                FINISH (the last result beat taken)
    aff_go   = L + 1                                 AFF_GO (``go`` = cycle 0 of the affinity model)
    aff_done = aff_go + affinity_schedule.run_cycles(N, D, K)
    init     = aff_done + 1                          INIT_GO

With the candidate-parallel search (`fused_rows`) each point's affinity row runs inside the
search, after its result beat (`schedule.schedule(..., fused=True)`; L is after the last row),
and the sequencer skips AFF_GO and AFF: init = L + 1.
    tsne_go  = init + tsne_schedule.init_cycles(N) + 1          TSNE_GO
    tsne_done = tsne_go + tsne_schedule.traced_run_cycles(N, K, iters, EMB_EVERY_LOG2, slices=S, symmetric=cfg.tsne_symmetric)
    done     = tsne_done + 1                         first cycle with busy = 0

With the P dump (DEBUG bit 0, ``p_dump``) PDUMP_GO takes the cycle INIT_GO had (``g``), P beat
``k`` (`tsne_fixed.p_beats` order) is in cycle ``g + timing.PDUMP_FIRST + k`` and INIT_GO follows
the last one after ``timing.PDUMP_END + GO_CYCLES``; the rest moves by that much.

``emb`` beats (in stream order: per iteration its Zq beat, after the last iteration the N
embedding beats) come in the cycles of `tsne_schedule.traced_run` after ``tsne_go`` (S =
``cfg.tsne_update_slices``): an overlapped iteration's Zq beat when its update starts, the last
iteration's beats from the TRACE state after its update.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import affinity_schedule as asch
from . import schedule as sch
from . import timing
from . import tsne_schedule as ts
from .config import AccelConfig
from .tsne_fixed import trace_selected

__all__ = ["GO_CYCLES", "EMB_EVERY_LOG2", "RunSchedule", "run_schedule", "emb_stream_iters", "fused_rows"]

#: cycles of each start state of the sequencer (AFF_GO, INIT_GO, TSNE_GO: `hw.phases`)
GO_CYCLES = 1
#: the core's t-SNE trace selection on ``emb`` (`tsne_fixed.trace_selected`; used by `hw.top`):
#: 2^17 exceeds every iteration count (<= 100000), so only the embedding after the last iteration
EMB_EVERY_LOG2 = 17


@dataclass
class RunSchedule:
    search: sch.Schedule     # the search phase (result beats as in MODE 0; fused rows inside it)
    aff_go: int              # AFF_GO, or (fused rows) the cycle after FINISH: INIT_GO
    tsne_init: int
    tsne_go: int
    emb_cycles: list         # cycle of every emb beat, stream order
    done_cycle: int          # first cycle with busy = 0, done = 1
    p_cycles: list = None    # cycle of every P dump beat (p_dump; also the first N^2 emb_cycles)


def fused_rows(dataflow: str) -> bool:
    """Do the affinity rows run inside the search (MODE 1-3)?  With the candidate-parallel search
    (DATAFLOW = 0) yes: each row follows its point's result while the row is in the row buffer
    (`affinity_schedule.fused_row_cycles`); with the point-parallel one the affinity phase runs
    after the search (`affinity_schedule.run_cycles`)."""
    return dataflow == "candidate"


def emb_stream_iters(n: int, iters: int) -> list:
    """Iteration of every ``emb`` beat in stream order (Zq per iteration, then N embedding beats
    after the selected iterations)."""
    out = []
    for it in range(iters):
        out.append(it)
        if trace_selected(it, iters, EMB_EVERY_LOG2):
            out += [it] * n
    return out


def run_schedule(cfg: AccelConfig, n: int, d: int, policy: str, results: list,
                 p_dump: bool = False, dataflow: str = "candidate") -> RunSchedule:
    """Cycle of every result and ``emb`` beat and of the end of a MODE 1 run, for ``results`` the
    golden search results in index order; ``dataflow`` is the search's (DATAFLOW register; the
    affinity phase always runs the engine candidate-parallel).  The t-SNE schedule comes from
    ``cfg.tsne_iters`` / ``cfg.tsne_exaggeration_iters``."""
    if len(results) != n:
        raise ValueError(f"results must hold one search result per point (n={n}), got {len(results)}")
    fused = fused_rows(dataflow)
    s = sch.schedule(cfg, n, d, policy, results, dataflow=dataflow, fused=fused)
    K, iters = cfg.lanes, cfg.tsne_iters
    aff_go = s.end_cycle + GO_CYCLES
    init = aff_go if fused else aff_go + asch.run_cycles(n, d, K) + GO_CYCLES
    pc = []
    if p_dump:     # PDUMP_GO in the cycle INIT_GO had
        pc = [init + timing.PDUMP_FIRST + k for k in range(n * n)]
        init = pc[-1] + timing.PDUMP_END + GO_CYCLES
    go = init + ts.init_cycles(n) + GO_CYCLES
    beats, cycles = ts.traced_run(n, K, iters, EMB_EVERY_LOG2, slices=cfg.tsne_update_slices,
                                   symmetric=cfg.tsne_symmetric)
    emb = [go + c for c in beats]
    done = go + cycles + 1
    assert len(emb) == len(emb_stream_iters(n, iters)) and emb[-1] == done - 2
    return RunSchedule(search=s, aff_go=aff_go, tsne_init=init, tsne_go=go, emb_cycles=pc + emb, done_cycle=done,
                       p_cycles=pc)
