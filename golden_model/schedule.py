"""Cycle schedule of the RTL core (hw/), derived from its documented phase latencies.

This is an analytic model of the micro-architecture described in docs/hardware.md, not a fit:
every number below is a pipeline depth or a state length of the RTL, and tests/test_hw_core_sim.py
checks that the Amaranth simulation of the core produces its result beats on exactly these cycles.

Cycle numbering: cycle 0 is the cycle in which the last feature beat is accepted
(``feat.valid & feat.ready``); the search controller's ``go`` follows in cycle ``timing.LOAD_GO``
(the ``go`` argument: MODE 3's later candidates start from ``go`` with the features already
loaded); the result beat of a point "appears" in the first cycle in which
``res.valid`` is high for it.  No back-pressure is assumed (``res.ready`` and ``trace.ready``
always 1); back-pressure only delays, it never changes a result.

Per point ``i`` (``G = ceil(N / K)`` distance groups): the distance phase (``G*D`` feature cycles
plus ``timing.point_pre(K)``), ``passes`` passes of
``pass_cycles = N + A + timing.pass_overhead()`` (SETUP, STREAM, DRAIN, ROWEND, SCAN, SCAN_PIPE),
DECIDE (the last pass's stop) and OUT; every length is in `golden_model.timing` (rendered in docs/hardware.md, "Timing"),
with ``A`` the number of active lanes (1 for bisection, K for K-section and FWA).  The next point
starts in the cycle its predecessor's beat appears.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import affinity_schedule as asch
from . import timing
from .config import AccelConfig

# Every phase length comes from golden_model.timing (the lane op table and the controllers' state
# lengths, the same module the RTL is built from).
SETUP, DRAIN, ROWEND, SCAN_PIPE, DECIDE, OUT = (timing.SETUP, timing.DRAIN, timing.ROWEND, timing.SCAN_PIPE,
                                                timing.DECIDE, timing.OUT)


def active_lanes(cfg: AccelConfig, policy: str) -> int:
    return 1 if policy == "bisection" else cfg.lanes


def groups(cfg: AccelConfig, n: int) -> int:
    return -(-n // cfg.lanes)


def dist_cycles(cfg: AccelConfig, n: int, d: int) -> int:
    """Cycles from PSTART to the first pass's SETUP."""
    return groups(cfg, n) * d + timing.point_pre(cfg.lanes)


def pass_cycles(cfg: AccelConfig, n: int, policy: str) -> int:
    return n + active_lanes(cfg, policy) + timing.pass_overhead()


def point_cycles(cfg: AccelConfig, n: int, d: int, policy: str, passes: int) -> int:
    """Cycles from point 0's PSTART to its beat (later points overlap their rows: `schedule`)."""
    return dist_cycles(cfg, n, d) + passes * pass_cycles(cfg, n, policy) + DECIDE + OUT


@dataclass
class Schedule:
    result_cycles: list      # cycle of each result beat (index order)
    end_cycle: int           # the run FSM's FINISH: the last beat's cycle, or after the last fused row
    trace_cycles: list       # per point, per pass, per active lane: cycle of the trace beat
    done_cycle: int          # first cycle with busy = 0, done = 1
    kernel_evaluations: int  # useful kernel evaluations (candidates x (N - 1))
    utilisation: float       # kernel_evaluations / (K * result_cycles[-1])
    lane_busy: float         # (kernel evaluations + N*N*D distance MACs) / (K * result_cycles[-1])
    fused_rows: int = 0      # cycles of the affinity rows fused into the search (``fused=True``)


def nth_grant(cfg: AccelConfig, n: int, policy: str, first_setup: int, passes: int, count: int,
              row: int = 0) -> int:
    """Controller cycle of the ``count``-th distance grant (1-based) counted from ``first_setup``:
    `timing.pass_grants` in each of the ``passes`` passes, then every cycle from OUT on, except
    the ``row`` cycles after OUT (a fused affinity row grants nothing)."""
    pc = pass_cycles(cfg, n, policy)
    segs = timing.pass_grants(n, active_lanes(cfg, policy))
    per_pass = sum(k for _, k in segs)
    full = min(passes, (count - 1) // per_pass) if per_pass else passes
    left = count - full * per_pass
    for p in range(full, passes):
        for off, k in segs:
            if left <= k:
                return first_setup + p * pc + off + left - 1
            left -= k
    c = first_setup + passes * pc + left - 1             # the stop's SETUP cycles, OUT, WAITD: all granted
    return c + row if c > first_setup + passes * pc + DECIDE else c


DATAFLOWS = ("candidate", "point")


def schedule_point_parallel(cfg: AccelConfig, n: int, d: int, results: list, go: int = timing.LOAD_GO) -> Schedule:
    """Cycles of a bisection run in the point-parallel dataflow (DATAFLOW = 1).

    Per group of K points (``p = 0, 1, ...``; PSTART of group 0 in cycle ``go + 1``): PSTART, the K rows
    at full rate (``N*D`` feature steps; lane ``l`` computes point ``pK + l``'s row), WAITD until
    ``dist_done`` (``PSTART + N*D + dist_done_latency``), PP_RANGE (``K + PP_RANGE_PIPE``), then
    ``max(passes)`` passes of ``N + K + pass_overhead()`` cycles (every lane scanned), DECIDE, and
    one OUT cycle per point of the group (its beat in the next cycle); the next group's PSTART
    follows the last OUT.  Trace beats: pass ``p``, lane ``l`` while the lane's point is not done.
    """
    K = cfg.lanes
    pc = n + K + timing.pass_overhead()
    out, traces = [], []
    evals = 0
    start = go + 1
    for g0 in range(0, len(results), K):
        grp = results[g0: g0 + K]
        done = start + n * d + timing.dist_done_latency(K)
        first_setup = done + 1 + K + timing.PP_RANGE_PIPE
        passes = max(r.passes for r in grp)
        for l, r in enumerate(grp):
            scan0 = [first_setup + p * pc + SETUP + n + DRAIN + ROWEND + l for p in range(r.passes)]
            traces.append([[c] for c in scan0])
            evals += r.evaluations * (n - 1)
        o0 = first_setup + passes * pc + DECIDE
        out += [o0 + l + OUT for l in range(len(grp))]
        start = o0 + len(grp)
    total = out[-1] if out else 0
    util = evals / (K * total) if total else 0.0
    busy = (evals + len(results) * n * d) / (K * total) if total else 0.0
    return Schedule(result_cycles=out, end_cycle=total, trace_cycles=traces, done_cycle=total + 1,
                    kernel_evaluations=evals, utilisation=util, lane_busy=busy)


def schedule(cfg: AccelConfig, n: int, d: int, policy: str, results: list, dataflow: str = "candidate",
             go: int = timing.LOAD_GO, fused: bool = False) -> Schedule:
    """Cycle of every result (and trace) beat of a class run without back-pressure.

    Point 0's row is computed at full rate (PSTART, WAITD).  Point ``i + 1``'s row starts with
    point ``i``'s PINIT and advances on the controller's grants (`timing.pass_grants`, then every
    cycle from OUT); its ``dist_done`` comes ``dist_done_latency - ENGINE_CMD`` cycles after the
    last granted feature step's address.  Point ``i + 1``'s RANGE follows ``max(WAITD entry,
    dist_done) + 1``.

    Parameters
    ----------
    cfg : AccelConfig
    n, d : int
        Points and features of the class.
    policy : {"bisection", "fwa", "ksection"}
    results : list of SearchResult (or any objects with ``passes`` and ``evaluations``)
        The golden model's results for the class, in index order.
    dataflow : {"candidate", "point"}
        The DATAFLOW register: "point" (bisection only) is `schedule_point_parallel`.
    go : int
        Cycle of the search controller's ``go`` (default: a run that loaded its features).
    fused : bool
        Each point's affinity row runs after its OUT (`affinity_schedule.fused_row_cycles`: MODE
        1-3 with the candidate-parallel search, `fused_rows`): the next point's WAITD, and any
        distance grant after OUT, move by the row's cycles; the run ends after the last row.
    """
    if dataflow not in DATAFLOWS:
        raise ValueError(f"dataflow must be one of {DATAFLOWS}, got {dataflow!r}")
    if fused and dataflow != "candidate":
        raise ValueError("fused affinity rows follow a candidate-parallel search only")
    if dataflow == "point":
        if policy != "bisection":
            raise ValueError(f"the point-parallel dataflow runs bisection only, not {policy!r}")
        return schedule_point_parallel(cfg, n, d, results, go)
    K = cfg.lanes
    steps = groups(cfg, n) * d                     # granted feature steps per row
    lat = timing.dist_done_latency(K)
    out = []
    traces = []
    pc = pass_cycles(cfg, n, policy)
    a = active_lanes(cfg, policy)
    evals = 0
    first_setup = go + 1 + dist_cycles(cfg, n, d)  # point 0: PSTART in cycle go + 1, row at full rate
    for idx, r in enumerate(results):
        pts = []
        for p in range(r.passes):
            scan0 = first_setup + p * pc + SETUP + n + DRAIN + ROWEND
            pts.append([scan0 + l for l in range(a)])
        traces.append(pts)
        out_cycle = first_setup + r.passes * pc + DECIDE   # OUT (no back-pressure); beat in the next cycle
        out.append(out_cycle + OUT)
        evals += r.evaluations * (n - 1)
        row = asch.fused_row_cycles(idx, n, K) if fused else 0
        end = out_cycle + OUT + row
        if idx + 1 < len(results):
            # the address of the last step is one cycle after its grant (ENGINE_CMD)
            done = nth_grant(cfg, n, policy, first_setup, r.passes, steps, row) + timing.ENGINE_CMD + lat - 1
            waitd = out_cycle + OUT + row
            first_setup = max(waitd, done) + 1 + timing.RANGE + timing.PINIT
    total = out[-1] if out else 0
    util = evals / (K * total) if total else 0.0
    macs = len(results) * n * d
    busy = (evals + macs) / (K * total) if total else 0.0
    return Schedule(result_cycles=out, end_cycle=end if out else 0, trace_cycles=traces, done_cycle=total + 1,
                    kernel_evaluations=evals, utilisation=util, lane_busy=busy,
                    fused_rows=asch.fused_cycles(n, K) if fused and out else 0)
