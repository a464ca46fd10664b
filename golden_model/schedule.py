"""Cycle schedule of the RTL core (hw/), derived from its documented phase latencies.

This is an analytic model of the micro-architecture described in docs/hardware.md, not a fit:
every number below is a pipeline depth or a state length of the RTL, and tests/test_hw_core_sim.py
checks that the Amaranth simulation of the core produces its result beats on exactly these cycles.

Cycle numbering: cycle 0 is the cycle in which the last feature beat is accepted
(``feat.valid & feat.ready``); the result beat of a point "appears" in the first cycle in which
``res.valid`` is high for it.  No back-pressure is assumed (``res.ready`` and ``trace.ready``
always 1); back-pressure only delays, it never changes a result.

Per point ``i`` (``G = ceil(N / K)`` distance groups): the distance phase (``G*D`` feature cycles
plus ``timing.point_pre(K)``), ``passes`` passes of
``pass_cycles = N + A + timing.pass_overhead()`` (SETUP, STREAM, DRAIN, ROWEND, SCAN, SCAN_PIPE,
DECIDE) and OUT; every length is in `golden_model.timing` (rendered in docs/hardware.md, "Timing"),
with ``A`` the number of active lanes (1 for bisection, K for K-section and FWA).  The next point
starts in the cycle its predecessor's beat appears.
"""

from __future__ import annotations

from dataclasses import dataclass

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
    """Cycles from PSTART of a point to PSTART of the next (= to its beat)."""
    return dist_cycles(cfg, n, d) + passes * pass_cycles(cfg, n, policy) + OUT


@dataclass
class Schedule:
    result_cycles: list      # cycle of each result beat (index order)
    trace_cycles: list       # per point, per pass, per active lane: cycle of the trace beat
    done_cycle: int          # first cycle with busy = 0, done = 1
    kernel_evaluations: int  # useful kernel evaluations (candidates x (N - 1))
    utilisation: float       # kernel_evaluations / (K * result_cycles[-1])
    lane_busy: float         # (kernel evaluations + N*N*D distance MACs) / (K * result_cycles[-1])


def schedule(cfg: AccelConfig, n: int, d: int, policy: str, results: list) -> Schedule:
    """Cycle of every result (and trace) beat of a class run without back-pressure.

    Parameters
    ----------
    cfg : AccelConfig
    n, d : int
        Points and features of the class.
    policy : {"bisection", "fwa", "ksection"}
    results : list of SearchResult (or any objects with ``passes`` and ``evaluations``)
        The golden model's results for the class, in index order.
    """
    start = 1                     # PSTART of point 0: the cycle after the last feature
    out = []
    traces = []
    pc = pass_cycles(cfg, n, policy)
    a = active_lanes(cfg, policy)
    evals = 0
    for r in results:
        first_setup = start + dist_cycles(cfg, n, d)
        pts = []
        for p in range(r.passes):
            scan0 = first_setup + p * pc + SETUP + n + DRAIN + ROWEND
            pts.append([scan0 + l for l in range(a)])
        traces.append(pts)
        beat = start + point_cycles(cfg, n, d, policy, r.passes)
        out.append(beat)
        start = beat
        evals += r.evaluations * (n - 1)
    total = out[-1] if out else 0
    util = evals / (cfg.lanes * total) if total else 0.0
    macs = len(results) * n * d
    busy = (evals + macs) / (cfg.lanes * total) if total else 0.0
    return Schedule(result_cycles=out, trace_cycles=traces, done_cycle=total + 1,
                    kernel_evaluations=evals, utilisation=util, lane_busy=busy)
