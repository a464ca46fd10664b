"""Selection-mode jobs (MODE 2 NMS, MODE 3 AdapSNE) for the cocotb bench `tb.select_tests`.

* Values: `golden_model.select_schedule.golden_select` (the functions of
  ``select(..., arithmetic="fixed")``) -> `expected_beats`: the ``sel`` index beats (ascending)
  and the summary beat (perp, h, g, evals, unconv).
* Cycles: `golden_model.select_schedule.select_schedule` -> the cycle of every ``sel`` beat and
  the first cycle with busy = 0, relative to the cycle that accepted the last feature (as
  `tb.reference` / `golden_model.run_schedule`; without input gaps or back-pressure).

`select_job(...)` bundles one class's features, register values (BUDGET = k) and expectations
into the JSON the cocotb module consumes; `select_scenario(...)` runs jobs back to back (MODE 0/1
jobs of `tb.reference` may be mixed in), `select_errors_scenario(...)` the START refusals of the
selection modes, `corrupt_sel(...)` makes a deliberately wrong reference.
"""

from __future__ import annotations

import copy
import time

import numpy as np

from golden_model import entropy_fixed as ef
from golden_model import fixed as fx
from golden_model import select_schedule as ss
from golden_model.config import AccelConfig
from golden_model.schedule import DATAFLOWS

from .reference import bounded_cycles
from .regs import ERR, POLICY_CODES

#: the MODE register value of each `golden_model.select` method
METHOD_MODE = {"nms": 2, "adapsne": 3}
MODE_METHOD = {m: name for name, m in METHOD_MODE.items()}
#: marks the progress lines the bench logs to sim.log (`tb.select_tests.SelectBench.wait_sel`:
#: "<tag> <label> <cycles done> <cycles expected> <cycles/s>"; followed by `tb.select_rtl`)
PROGRESS_TAG = "SELECT_PROGRESS"


def nms_perp_reg(n: int, cfg: AccelConfig) -> int:
    """PERP of a MODE 2 run as `select(method="nms", arithmetic="fixed")` uses it: ``cfg.perplexity``
    clamped to the class (``min(perplexity_to_reg, perp_reg_cap(N))``)."""
    return min(fx.perplexity_to_reg(cfg.perplexity, cfg), ef.perp_reg_cap(int(n), cfg))


def select_job(X, cfg: AccelConfig, mode: int, k: int, policy: str, perp_q: int | None = None,
               name: str | None = None, seed: int | None = None, dataflow: str = "candidate") -> dict:
    """One selection-mode class for the simulator.

    Parameters
    ----------
    X : (N, D) integer array
        The class's features.
    cfg : AccelConfig
        The core's configuration (``phases`` must be True).
    mode : {2, 3}
        MODE register: 2 NMS at ``perp_q``, 3 AdapSNE over the candidate list.
    k : int
        BUDGET register, ``1 <= k <= N``.
    policy : str
        Sigma-search policy (POLICY register).
    perp_q : int, optional
        PERP register; default `nms_perp_reg` (MODE 3 ignores it).
    seed : int, optional
        SEED register (FWA policy); default ``cfg.seed``.
    dataflow : {"candidate", "point"}
        The searches' dataflow (DATAFLOW register 0 / 1; "point": bisection on a core generated
        with ``point_parallel``).
    """
    if not cfg.phases:
        raise ValueError("select_job: cfg.phases must be True (MODE 2, 3 need a core generated with phases)")
    X = np.asarray(X, dtype=np.int64)
    if X.ndim != 2:
        raise ValueError(f"X must be (N, D), got shape {X.shape}")
    n, d = X.shape
    seed = cfg.seed if seed is None else int(seed)
    c = cfg if seed == cfg.seed else cfg.with_overrides(seed=seed)
    perp_q = nms_perp_reg(n, cfg) if perp_q is None else int(perp_q)
    t0 = time.perf_counter()
    gold = ss.golden_select(X, c, mode, k, policy, perp_q)
    sched = ss.select_schedule(c, n, d, policy, gold, k, dataflow=dataflow)
    return {"name": name or f"mode{mode}-{policy}-N{n}-D{d}-k{k}", "n": n, "d": d, "policy": policy,
            "policy_code": POLICY_CODES[policy], "perp_q": perp_q, "seed": seed,
            "dataflow": DATAFLOWS.index(dataflow),
            "mode": int(mode), "debug": 0, "budget": int(k), "features": [int(v) for v in X.reshape(-1)],
            "sel": ss.expected_beats(gold), "sel_cycles": [int(v) for v in sched.sel_cycles],
            "done_cycle": int(sched.done_cycle), "phases": {p: int(v) for p, v in sched.phases.items()},
            "golden_seconds": round(time.perf_counter() - t0, 3),
            "timeout_cycles": 4 * int(sched.done_cycle) + 20000 + bounded_cycles(cfg, n, d)}


def select_scenario(name: str, jobs: list, feat_gap: float = 0.0, sel_stall: float = 0.0, rng_seed: int = 1,
                    check_cycles: bool | None = None) -> dict:
    """Run the jobs back to back on one core (no reset in between).  ``sel_stall``: probability of
    ``sel.ready`` low per cycle (also used on ``res`` / ``emb`` for MODE 0 / 1 jobs).  Cycles are
    checked only without gaps and back-pressure."""
    if check_cycles is None:
        check_cycles = feat_gap == 0 and sel_stall == 0
    return {"name": name, "kind": "select", "jobs": jobs, "feat_gap": feat_gap, "sel_stall": sel_stall,
            "rng_seed": rng_seed, "check_cycles": bool(check_cycles)}


def select_errors_scenario(name: str, cfg: AccelConfig, recovery_job: dict) -> dict:
    """START refusals of the selection modes (hand-chosen cases, each with the code it must get):
    BUDGET 0, N + 1 and beyond n_max (the register saturates), MODE 3 with N = 3 (every candidate
    would clamp to perplexity 1), MODE 2 with PERP above (N-1)/2, MODE 2 with DATAFLOW = 1 and FWA;
    each followed by CLEAR; then `recovery_job` on the same core (values + cycles)."""
    n, d = recovery_job["n"], recovery_job["d"]
    base = {"N": n, "D": d, "PERP": recovery_job["perp_q"], "POLICY": recovery_job["policy_code"],
            "SEED": recovery_job["seed"], "DATAFLOW": 0, "MODE": 2, "DEBUG": 0, "BUDGET": recovery_job["budget"]}
    cases = [
        ("MODE 2, BUDGET = 0", {"BUDGET": 0}, "BUDGET"),
        (f"MODE 3, BUDGET = N + 1 = {n + 1}", {"MODE": 3, "BUDGET": n + 1}, "BUDGET"),
        (f"MODE 2, BUDGET = n_max + 5 = {cfg.n_max + 5} (saturates)", {"BUDGET": cfg.n_max + 5}, "BUDGET"),
        ("MODE 3, N = 3", {"MODE": 3, "N": 3, "BUDGET": 2}, "PERP_RANGE"),
        ("MODE 2, PERP = (N-1)/2 + 1 LSB", {"PERP": fx.perp_reg_max(n, cfg) + 1}, "PERP_RANGE"),
        ("MODE 2, DATAFLOW = 1 with FWA", {"DATAFLOW": 1, "POLICY": 1}, "DATAFLOW"),
    ]
    return {"name": name, "kind": "select_errors", "watch_cycles": 64, "recovery": recovery_job,
            "cases": [{"what": w, "regs": {**base, **r}, "code": ERR[c], "code_name": c} for w, r, c in cases]}


def corrupt_sel(job: dict, index_beat: int | None = None, summary_field: str | None = None,
                cycle_beat: int | None = None) -> dict:
    """A deliberately wrong copy of a selection job: one index beat's index + 1, one summary
    field + 1, one expected beat cycle + 1 (the bench must report each)."""
    j = copy.deepcopy(job)
    if index_beat is not None:
        j["sel"][index_beat]["index"] += 1
    if summary_field is not None:
        j["sel"][-1][summary_field] += 1
    if cycle_beat is not None:
        j["sel_cycles"][cycle_beat] += 1
    return j
