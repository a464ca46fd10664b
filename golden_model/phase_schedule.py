"""Cycle models of the entropy and grid-sampling phases (`hw.entropy.EntropyUnit`,
`hw.grid.GridSampler`; docs/hardware.md, "Entropy and grid phases").  Exact: the RTL tests
compare the simulated cycle counts with these functions.  Every state length comes from
`golden_model.timing`; the data-dependent counts (grid sides tried, occupied cells, picks) from
the golden model (`entropy_fixed`, `grid_fixed`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import timing
from .config import AccelConfig
from .entropy_fixed import cell_coords
from .grid_fixed import occupied_cells, sample_side
from .reference import entropy_grid_side


def minmax_cycles(n: int) -> int:
    """From the cell unit's ``mm_go`` to ``mm_done`` visible."""
    return n + timing.CELL_MINMAX


def pass_cycles(n: int, g: int, frac: int) -> int:
    """From a cell pass's ``pass_go`` to its last ``out_valid`` (point i every ``Q`` cycles,
    ``Q = bitlen(g) + frac`` divider steps)."""
    return timing.CELL_FILL + n * (int(g).bit_length() + frac) + timing.CELL_OUT


def entropy_cycles(n: int, cfg: AccelConfig) -> int:
    """`hw.entropy.EntropyUnit`: from the ``go`` cycle to the cycle ``done`` is visible.

    MINMAX, hand-over, CLEAR of G^2 counters (its last cycle starts the pass), the cell pass
    (``bitlen(G)`` divider steps per point), the last count's write, SUM over G^2 cells and its
    pipeline, FIN."""
    G = entropy_grid_side(n, cfg)
    return (minmax_cycles(n) + timing.CELL_HANDOFF + G * G - 1 + pass_cycles(n, G, 0) + timing.HIST_RMW
            + G * G + timing.ENT_SUM_PIPE + timing.ent_fin(cfg.w_frac))


def entropy_lower_bound(n: int, cfg: AccelConfig) -> int:
    """Reads the phase cannot avoid with one embedding port and one counter port: 2 passes over
    the points (min/max, cells) and one over the G^2 counters."""
    G = entropy_grid_side(n, cfg)
    return 2 * n + G * G


@dataclass
class GridWork:
    """The data-dependent work of one grid-sampler run (from the golden model)."""

    search: list        # grid sides of the search passes, in order
    g: int              # side of the final pass
    top_scans: int      # scans over the counters (top list + the one finding none, if degenerate)
    picks: int          # pick scans over the points (round robin over the top list)


def grid_work(Y, k: int, cfg: AccelConfig, g_limit: int) -> GridWork:
    """Passes and scans of `hw.grid.GridSampler` on the integer embedding ``Y`` (k < N)."""
    Y = np.asarray(Y, dtype=np.int64)
    search: list = []
    for g in range(1, g_limit + 1):
        search.append(g)
        if occupied_cells(Y, g) >= k:
            break
    g = sample_side(Y, k, g_limit)
    col, row, _, _ = cell_coords(Y, g)
    counts = np.bincount(row * g + col, minlength=g * g)
    sizes = sorted((int(c) for c in counts if c > 0), reverse=True)
    top = sizes[:k]
    picks, chosen, depth = 0, 0, 0
    while chosen < k:                   # round robin as `grid_fixed.grid_sample_fixed`
        for s in top:
            picks += 1
            chosen += depth < s
            if chosen == k:
                break
        depth += 1
    return GridWork(search=search, g=g, top_scans=len(top) + (len(sizes) < k), picks=picks)


def grid_cycles(Y, k: int, cfg: AccelConfig, g_limit: int) -> int:
    """`hw.grid.GridSampler` with ``ready`` always high: from the ``go`` cycle to the cycle
    ``done`` is visible (after the last beat moved)."""
    n = len(Y)
    emit = n + timing.GRID_EMIT_END
    if k >= n:
        return 1 + emit
    w = grid_work(Y, k, cfg, g_limit)
    c = minmax_cycles(n) + timing.CELL_HANDOFF
    for g in w.search:      # CLEAR (its last cycle starts the pass), pass, last write, CHECK
        c += g * g - 1 + pass_cycles(n, g, 0) + timing.HIST_RMW + timing.GRID_DECIDE
    c += w.g * w.g - 1 + pass_cycles(n, w.g, cfg.grid_frac) + timing.HIST_RMW
    c += w.top_scans * (w.g * w.g + timing.GRID_SCAN_PIPE + timing.GRID_DECIDE)
    c += w.picks * (timing.GRID_TOP_READ + n + timing.GRID_SCAN_PIPE + timing.GRID_DECIDE)
    return c + emit


__all__ = ["minmax_cycles", "pass_cycles", "entropy_cycles", "entropy_lower_bound", "GridWork",
           "grid_work", "grid_cycles"]
