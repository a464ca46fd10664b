"""Expected result beats and cycles, and the scenario descriptions handed to the simulator.

* Values: `golden_model.search_fixed.search_class` (bit-accurate), one beat per point:
  index, u, h, passes, converged.
* Cycles: `golden_model.schedule` (analytic cycle schedule of the RTL without back-pressure): the
  edge of each result beat relative to the edge that accepted the last feature.
* For the stand-in (`dut="standin"`) both come from `tb.standin.standin_reference`.

`class_job(...)` bundles one class's features, register values and expectations into the JSON
the cocotb module consumes; `bounded_cycles(...)` gives the generous upper bound used for the
no-hang timeouts.
"""

from __future__ import annotations

import numpy as np

from golden_model import fixed as fx
from golden_model.config import AccelConfig
from golden_model.search_fixed import search_class
from golden_model.schedule import DATAFLOWS

from .regs import POLICY_CODES

RESULT_FIELDS = ("index", "u", "h", "passes", "converged")


def expected_results(X, perplexity: float, policy: str, cfg: AccelConfig, trace: bool = False) -> list:
    return search_class(np.asarray(X, dtype=np.int64), perplexity, policy, cfg, trace=trace)


def beats_from_results(results) -> list:
    return [{"index": i, "u": int(r.u), "h": int(r.h), "passes": int(r.passes), "converged": int(bool(r.converged))}
            for i, r in enumerate(results)]


def expected_schedule(cfg: AccelConfig, X, policy: str, results, dataflow: str = "candidate"):
    """`golden_model.schedule.schedule(cfg, N, D, policy, results)`: result_cycles (cycle of each
    result beat, cycle 0 = the cycle that accepted the last feature), trace_cycles, done_cycle,
    kernel_evaluations, utilisation."""
    from golden_model import schedule as sch

    n, d = np.asarray(X).shape
    return sch.schedule(cfg, n, d, policy, results, dataflow=dataflow)


def expected_cycles(cfg: AccelConfig, X, policy: str, results) -> list | None:
    s = expected_schedule(cfg, X, policy, results)
    return None if s is None else [int(c) for c in s.result_cycles]


def bounded_cycles(cfg: AccelConfig, n: int, d: int, slowdown: float = 1.0) -> int:
    """Generous upper bound (edges) for one class from START to the last result beat, used as the
    no-hang timeout: features + distances + every point at the iteration cap, times 4."""
    feat = n * d
    dist = n * n * max(1, d) // max(1, min(cfg.lanes, n)) + n * n
    search = n * cfg.max_passes * (n + 4 * cfg.lanes + 64)
    return int(4 * slowdown * (feat + dist + search) + 20000)


def class_job(X, perplexity: float, policy: str, cfg: AccelConfig, dut: str = "core", seed: int | None = None,
              with_cycles: bool = True, name: str | None = None, trace: bool = False, results=None,
              dataflow: str = "candidate") -> dict:
    """One class for the simulator: features, register values (DATAFLOW from `dataflow`), expected
    beats and cycles.  The trace of a point-parallel run is checked by tests/test_hw_core_sim.py
    (its beats interleave the group's points), not here."""
    if dataflow == "point" and trace:
        raise ValueError("class_job: the point-parallel trace order is not modelled here")
    X = np.asarray(X, dtype=np.int64)
    if X.ndim != 2:
        raise ValueError("X must be (N, D)")
    n, d = X.shape
    seed = cfg.seed if seed is None else seed
    job = {"name": name or f"{policy}-N{n}-D{d}", "n": n, "d": d, "policy": policy,
           "policy_code": POLICY_CODES[policy], "perplexity": perplexity,
           "perp_q": fx.perplexity_to_reg(perplexity, cfg), "seed": seed,
           "dataflow": DATAFLOWS.index(dataflow),
           "features": [int(v) for v in X.reshape(-1)], "timeout_cycles": bounded_cycles(cfg, n, d)}
    if dut == "standin":
        from .standin import standin_reference
        beats, cycles = standin_reference(X)
        job.update(expected=beats, cycles=cycles if with_cycles else None, evaluations=None)
        return job
    c = cfg if seed == cfg.seed else cfg.with_overrides(seed=seed)
    if results is None:
        results = expected_results(X, perplexity, policy, c, trace=trace)
    job["expected"] = beats_from_results(results)
    job["evaluations"] = [int(r.evaluations) for r in results]
    sch = expected_schedule(c, X, policy, results, dataflow) if with_cycles else None
    job["cycles"] = None if sch is None else [int(v) for v in sch.result_cycles]
    if trace:
        job["trace"] = [[{"candidates": t.candidates, "h": t.h, "z": t.z, "t": t.t} for t in r.trace]
                        for r in results]
        job["trace_cycles"] = None if sch is None else [[[int(v) for v in lanes] for lanes in pt]
                                                         for pt in sch.trace_cycles]
    return job


def classes_scenario(name: str, jobs: list, feat_gap: float = 0.0, res_stall: float = 0.0, rng_seed: int = 1,
                     check_cycles: bool | None = None, emb_stall: float | None = None) -> dict:
    """Run the classes back to back (no reset in between).  Cycles are checked only without gaps
    and back-pressure, and only where the jobs carry expected cycles.  ``emb_stall``: probability
    of ``emb.ready`` low per cycle (None = ``res_stall``; `mode1_job` classes)."""
    if check_cycles is None:
        check_cycles = feat_gap == 0 and res_stall == 0 and not emb_stall
    return {"name": name, "kind": "classes", "jobs": jobs, "feat_gap": feat_gap, "res_stall": res_stall,
            "emb_stall": emb_stall, "rng_seed": rng_seed, "check_cycles": bool(check_cycles)}


def errors_scenario(name: str, cfg: AccelConfig, recovery_job: dict, busy_job: dict | None = None) -> dict:
    """Error codes 1-5 and 7: bad N, D, perplexity (1 and one LSB above fixed.perp_reg_max), policy (both
    sides of each range where one exists),
    START while busy; `recovery_job` is run after CLEAR to show the core is usable again."""
    n_ok, d_ok = recovery_job["n"], recovery_job["d"]
    one = 1 << cfg.perp_frac
    cases = [
        {"code": 1, "what": "N=1", "n": 1},
        {"code": 1, "what": f"N=n_max+1={cfg.n_max + 1}", "n": cfg.n_max + 1},
        {"code": 2, "what": "D=0", "d": 0},
        {"code": 2, "what": f"D=d_max+1={cfg.d_max + 1}", "d": cfg.d_max + 1},
        {"code": 3, "what": "Perp=1", "perp_q": one},
        {"code": 3, "what": f"Perp=(N-1)/2+1LSB (N={n_ok})", "perp_q": fx.perp_reg_max(n_ok, cfg) + 1},
        {"code": 4, "what": "policy=3", "policy_code": 3},
        {"code": 4, "what": "policy=15", "policy_code": 15},
        {"code": 7, "what": "DATAFLOW=1 with K-section", "policy_code": 2, "dataflow": 1},
    ]
    for c in cases:
        c.setdefault("n", n_ok)
        c.setdefault("d", d_ok)
        c.setdefault("perp_q", recovery_job["perp_q"])
        c.setdefault("policy_code", recovery_job["policy_code"])
        c.setdefault("dataflow", recovery_job.get("dataflow", 0))
    return {"name": name, "kind": "errors", "cases": cases, "recovery": recovery_job,
            "busy": busy_job or recovery_job, "watch_cycles": 64}


def abort_scenario(name: str, job: dict, recovery_job: dict, watch_cycles: int = 32) -> dict:
    """ABORT in the load phase, in the search phase and under output back-pressure (each on
    `job`), then `recovery_job` on the same core (values + cycles)."""
    from .regs import ABORT_CYCLES
    return {"name": name, "kind": "abort", "job": job, "recovery": recovery_job, "abort_cycles": ABORT_CYCLES,
            "cases": ["load", "search", "backpressure"], "watch_cycles": watch_cycles}


def corrupt(job: dict, h_lsb_beat: int | None = None, cycle_beat: int | None = None) -> dict:
    """A deliberately wrong copy of a job's reference: flip the LSB of one beat's h and/or shift
    one expected cycle by one (the scoreboard must catch both)."""
    import copy
    j = copy.deepcopy(job)
    if h_lsb_beat is not None:
        j["expected"][h_lsb_beat]["h"] ^= 1
    if cycle_beat is not None:
        if j.get("cycles") is None:
            raise ValueError("job has no expected cycles to corrupt")
        j["cycles"][cycle_beat] += 1
    return j


# --------------------------------------------------------------------------- MODE 1 (phases)


def emb_word(beat: tuple, cfg: AccelConfig) -> dict:
    """A `tsne_fixed.trace_beats` / `p_beats` tuple as the ``emb`` port's fields (the embedding's
    two coordinates packed as two's complement, `hw.tsne.trace_signature`)."""
    from golden_model import tsne_fixed as tf
    from hw.lane_tsne import TsneWidths
    kind, it, index, data = beat
    if kind == tf.TRACE_Y:
        yb = TsneWidths(cfg).yb
        mk = (1 << yb) - 1
        data = (int(data[0]) & mk) | ((int(data[1]) & mk) << yb)
    return {"kind": int(kind), "iter": int(it), "index": int(index), "data": int(data)}


def mode1_job(X, perplexity: float, policy: str, cfg: AccelConfig, name: str | None = None,
              p_dump: bool = True, seed: int | None = None) -> dict:
    """One MODE 1 class (search, joint affinities, t-SNE; core generated with ``cfg.phases``):
    `class_job`'s result beats (their cycles from `run_schedule`: each point's affinity row follows
    its beat, the fused rows), plus the expected ``emb`` beats - with ``p_dump`` (the
    DEBUG register's bit 0) first `tsne_fixed.p_beats` of `affinity_fixed.joint_fixed` of the
    golden search's u, then `tsne_fixed.trace_beats` of that S - and their cycles from
    `golden_model.run_schedule` (cycle 0 = the last feature accepted), and the cycle of each phase
    start for the report."""
    from golden_model import affinity_fixed as af
    from golden_model import run_schedule as rs
    from golden_model import tsne_fixed as tf
    if not cfg.phases:
        raise ValueError("mode1_job: cfg.phases must be True (MODE 1 needs a core generated with phases)")
    X = np.asarray(X, dtype=np.int64)
    n, d = X.shape
    c = cfg if seed is None or seed == cfg.seed else cfg.with_overrides(seed=seed)
    results = expected_results(X, perplexity, policy, c)
    job = class_job(X, perplexity, policy, cfg, name=name, seed=seed, results=results)
    sq = (X * X).sum(axis=1)
    S = af.joint_fixed(sq[:, None] + sq[None, :] - 2 * X @ X.T, af.searched_u(results), c)
    beats = (tf.p_beats(S) if p_dump else []) + tf.trace_beats(S, c, rs.EMB_EVERY_LOG2)
    s = rs.run_schedule(c, n, d, policy, results, p_dump=p_dump)
    # the result beats of MODE 1: each point's affinity row follows its beat (fused rows)
    rows = s.search.fused_rows
    job.update(mode=1, debug=int(p_dump), emb=[emb_word(b, c) for b in beats], emb_cycles=[int(v) for v in s.emb_cycles],
               p_beats=n * n if p_dump else 0, cycles=[int(v) for v in s.search.result_cycles],
               phase_cycles={"search_end": int(s.search.end_cycle), "rows": int(rows), "aff_go": int(s.aff_go),
                             "tsne_init": int(s.tsne_init), "tsne_go": int(s.tsne_go), "done": int(s.done_cycle)},
               timeout_cycles=4 * int(s.done_cycle) + 20000 + job["timeout_cycles"])
    return job


def corrupt_emb(job: dict, p_beat: int | None = None, y_beat: int | None = None, cycle_beat: int | None = None) -> dict:
    """A deliberately wrong MODE 1 reference: one P entry + 1 LSB (emb beat ``p_beat``), one
    embedding word + 1 LSB (``y_beat``, counted from the end), one emb cycle + 1."""
    import copy
    j = copy.deepcopy(job)
    if p_beat is not None:
        j["emb"][p_beat]["data"] += 1
    if y_beat is not None:
        j["emb"][-1 - y_beat]["data"] ^= 1
    if cycle_beat is not None:
        j["emb_cycles"][cycle_beat] += 1
    return j
