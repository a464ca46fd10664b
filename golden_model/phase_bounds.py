"""Lower bounds and unit busy shares of the phases whose cycle models have none: the distance +
sigma-search phase, the occupancy-entropy phase and the grid sampler (docs/performance.md).

Each function counts *operations* per unit class from the phase's documented dataflow
(docs/hardware.md) and the golden model's data-dependent counts (search passes, grid sides,
picks); nothing here is measured on the RTL.  Conventions, as `affinity_schedule.busy` and
`tsne_schedule.busy_share`:

* busy share of a unit class = operations on it / (units of the class x phase cycles); 1.0 is one
  operation per unit per cycle;
* lower bound = necessary operations / units of the class that limits the phase (cycles);
  ratio = phase cycles / lower bound (>= 1 for a true bound).

The cycle counts themselves are the exact models (`schedule`, `phase_schedule`); these functions
only add the counts they are divided by.
"""

from __future__ import annotations

import numpy as np

from . import phase_schedule as ps
from .config import AccelConfig
from .grid_fixed import occupied_cells
from .reference import entropy_grid_side

__all__ = ["search_ops", "search_lower_bound", "search_busy", "entropy_ops", "entropy_busy", "grid_ops",
           "grid_lower_bound", "grid_busy"]


def _check_n(n: int, d: int | None = None) -> None:
    if int(n) < 2:
        raise ValueError(f"n must be >= 2 (points of the class), got {n}")
    if d is not None and int(d) < 1:
        raise ValueError(f"d must be >= 1 (features per point), got {d}")


# --------------------------------------------------------------------------- distances + search


def search_ops(n: int, d: int, evaluations: int) -> dict:
    """Operations of the distance + sigma-search phase of one class.

    Parameters
    ----------
    n, d : int
        Points and features of the class.
    evaluations : int
        Kernel evaluations the search makes: sum over points of (candidates evaluated) x (N - 1),
        as `schedule.Schedule.kernel_evaluations` (policy-dependent: bisection one candidate per
        pass, FWA and K-section K).

    Returns
    -------
    dict
        ``macs_needed`` = N (N - 1) D / 2 (every unordered pair's squared distance once),
        ``macs_core`` = N N D (what `schedule.Schedule.lane_busy` counts: a row per point, each
        D_ij computed twice), ``kernel`` = `evaluations` (one MULA product and one function-unit
        EXP each).
    """
    _check_n(n, d)
    if int(evaluations) < 0:
        raise ValueError(f"evaluations must be >= 0, got {evaluations}")
    return {"macs_needed": n * (n - 1) * d // 2, "macs_core": n * n * d, "kernel": int(evaluations)}


def search_lower_bound(n: int, d: int, evaluations: int, lanes: int) -> float:
    """Necessary MULA ops / K: ``(N (N-1) D / 2 + evaluations) / K`` cycles.

    Each lane's MULA multiplier takes one distance MAC or one kernel product per cycle; the
    kernel evaluations are those of the policy's own search sequence (a faster search needs fewer,
    which this bound does not credit)."""
    if int(lanes) < 1:
        raise ValueError(f"lanes must be >= 1, got {lanes}")
    o = search_ops(n, d, evaluations)
    return (o["macs_needed"] + o["kernel"]) / lanes


def search_busy(n: int, d: int, evaluations: int, lanes: int, cycles: int) -> dict:
    """Busy shares over ``cycles`` (the phase): ``mula`` = (N N D + evaluations) / (K cycles), the
    executed count of `schedule.Schedule.lane_busy`; ``fu`` = evaluations / (K cycles) (one EXP per
    kernel evaluation, `Schedule.utilisation`)."""
    if int(cycles) < 1:
        raise ValueError(f"cycles must be >= 1, got {cycles}")
    o = search_ops(n, d, evaluations)
    return {"mula": (o["macs_core"] + o["kernel"]) / (lanes * cycles), "fu": o["kernel"] / (lanes * cycles)}


# --------------------------------------------------------------------------- entropy


def entropy_ops(n: int, cfg: AccelConfig) -> dict:
    """Operations of `hw.entropy.EntropyUnit` on a class of ``n`` points (``G`` =
    `reference.entropy_grid_side`), per unit class (one unit each, the dividers two: one per axis):

    * ``emb_port``: 2 N embedding reads (MINMAX pass, cell pass);
    * ``dividers``: 2 N bitlen(G) restoring-divider steps (N per axis, bitlen(G) steps each);
    * ``counter_read``: N (read of each increment) + G^2 (SUM);
    * ``counter_write``: G^2 (CLEAR) + N (increments);
    * ``fu``: G^2 LOG (SUM) + 2 (LOG and RECIP of N in FIN).
    """
    _check_n(n)
    G = entropy_grid_side(n, cfg)
    return {"emb_port": 2 * n, "dividers": 2 * n * int(G).bit_length(), "counter_read": n + G * G,
            "counter_write": G * G + n, "fu": G * G + 2}


ENTROPY_UNITS = {"emb_port": 1, "dividers": 2, "counter_read": 1, "counter_write": 1, "fu": 1}


def entropy_busy(n: int, cfg: AccelConfig, cycles: int | None = None) -> dict:
    """Busy share of each unit class of `entropy_ops` over ``cycles`` (default: the exact
    `phase_schedule.entropy_cycles`)."""
    cyc = ps.entropy_cycles(n, cfg) if cycles is None else int(cycles)
    return {u: v / (ENTROPY_UNITS[u] * cyc) for u, v in entropy_ops(n, cfg).items()}


# --------------------------------------------------------------------------- grid sampler


GRID_UNITS = {"emb_port": 1, "dividers": 2, "counter_read": 1, "counter_write": 1, "point_read": 1, "sel": 1}


def grid_ops(Y, k: int, cfg: AccelConfig, g_limit: int) -> dict:
    """Operations of `hw.grid.GridSampler` (one unit each, the dividers two), from
    `phase_schedule.grid_work` (search sides ``g_s``, final side ``g_f``, top scans, picks):

    * ``emb_port``: N (MINMAX) + N per pass (search passes and the final pass);
    * ``dividers``: 2 N (sum over search passes of bitlen(g_s) + bitlen(g_f) + grid_frac);
    * ``counter_read``: N per pass (increment reads) + top_scans g_f^2;
    * ``counter_write``: per pass g^2 (CLEAR) + N (increments), + one zeroing per top entry;
    * ``point_read``: picks x N (each pick scans the point memory);
    * ``sel``: k index beats.

    ``k >= N``: only the N index beats (every index, no pass)."""
    Y = np.asarray(Y)
    n = len(Y)
    _check_n(n)
    if not 1 <= int(k):
        raise ValueError(f"k must be >= 1, got {k}")
    if int(k) >= n:
        return {"emb_port": 0, "dividers": 0, "counter_read": 0, "counter_write": 0, "point_read": 0, "sel": n}
    w = ps.grid_work(Y, int(k), cfg, g_limit)
    sides = list(w.search) + [w.g]
    steps = sum(int(g).bit_length() for g in w.search) + int(w.g).bit_length() + cfg.grid_frac
    top_entries = min(int(k), occupied_cells(Y, w.g))      # the top list (each counter zeroed once)
    return {"emb_port": n * (1 + len(sides)), "dividers": 2 * n * steps,
            "counter_read": n * len(sides) + w.top_scans * w.g * w.g,
            "counter_write": sum(g * g + n for g in sides) + top_entries,
            "point_read": w.picks * n, "sel": int(k)}


def grid_lower_bound(Y, k: int, cfg: AccelConfig, g_limit: int) -> int:
    """Reads the sampler's algorithm cannot avoid with one embedding port, one counter read port
    and one point-memory read port, in dependency order (a step needs the previous one's result):
    N (min/max) + N per grid side tried (the occupancy of side g needs every point's cell; the
    last search pass could also produce the offsets, so the final pass counts only when its side
    is not the last one tried) + g_f^2 (each counter read once to rank the cells) + N (one scan
    can pick the nearest point of every top cell) + k (one ``sel`` beat per index).  ``k >= N``:
    N (the index beats)."""
    Y = np.asarray(Y)
    n = len(Y)
    _check_n(n)
    if int(k) >= n:
        return n
    w = ps.grid_work(Y, int(k), cfg, g_limit)
    passes = len(w.search) + (w.g != w.search[-1])
    return n + n * passes + w.g * w.g + n + int(k)


def grid_busy(Y, k: int, cfg: AccelConfig, g_limit: int, cycles: int | None = None) -> dict:
    """Busy share of each unit class of `grid_ops` over ``cycles`` (default: the exact
    `phase_schedule.grid_cycles`)."""
    cyc = ps.grid_cycles(Y, k, cfg, g_limit) if cycles is None else int(cycles)
    return {u: v / (GRID_UNITS[u] * cyc) for u, v in grid_ops(Y, k, cfg, g_limit).items()}
