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
    for g in w.search:      # CLEAR (its last cycle starts the pass), pass, last write, SETTLE, CHECK
        c += g * g - 1 + pass_cycles(n, g, 0) + timing.HIST_RMW + timing.GRID_CHECK
    c += w.g * w.g - 1 + pass_cycles(n, w.g, cfg.grid_frac) + timing.HIST_RMW
    c += w.top_scans * (w.g * w.g + timing.GRID_SCAN_PIPE + timing.GRID_DECIDE)
    c += w.picks * (timing.GRID_TOP_READ + n + timing.GRID_SCAN_PIPE + timing.GRID_DECIDE)
    return c + emit


__all__ = ["minmax_cycles", "pass_cycles", "entropy_cycles", "entropy_lower_bound", "GridWork",
           "grid_work", "grid_cycles"]


def main(argv=None) -> int:
    """Per digits class: entropy and grid-sampler cycles at 5/10/20 % on the fixed pipeline's
    embedding (bisection search at cfg.perplexity, the preset's t-SNE schedule, seed = class)."""
    import argparse

    from sklearn.datasets import load_digits

    from . import fixed as fx
    from . import grid_fixed as gf
    from . import reference as ref
    from . import tsne_schedule as ts
    from .config import get_preset
    from .entropy_fixed import embed_class_fixed, perp_reg_cap

    ap = argparse.ArgumentParser(description="entropy / grid phase cycle model on digits classes")
    ap.add_argument("--preset", default="digits")
    ap.add_argument("--classes", type=int, default=10)
    a = ap.parse_args(argv)
    cfg = get_preset(a.preset)
    X, y = load_digits(return_X_y=True)
    print("| class | N | G | entropy cycles (lower bound) | k, g, grid cycles at 5 / 10 / 20 % | "
          "g with g_limit 4096 | t-SNE cycles / iteration |")
    print("|---|---:|---:|---:|---|---|---:|")
    for c in range(a.classes):
        Xc = X[y == c].astype(np.int64)
        n = len(Xc)
        D = ref.sq_distances(Xc).astype(np.int64)
        pq = min(fx.perplexity_to_reg(cfg.perplexity, cfg), perp_reg_cap(n, cfg))
        Y = embed_class_fixed(D, pq, cfg, "bisection", tsne_seed=c).Y
        cells, wide = [], []
        for pct in (5, 10, 20):
            k = max(1, round(n * pct / 100))
            w = grid_work(Y, k, cfg, cfg.grid_g)
            cells.append(f"{k}, {w.g}, {grid_cycles(Y, k, cfg, cfg.grid_g):,}")
            wide.append(str(gf.sample_side(Y, k, 4096)))
        print(f"| {c} | {n} | {entropy_grid_side(n, cfg)} | {entropy_cycles(n, cfg):,} "
              f"({entropy_lower_bound(n, cfg)}) | {' / '.join(cells)} | {' / '.join(wide)} | "
              f"{ts.iteration_cycles(n, cfg.lanes, slices=cfg.tsne_update_slices, symmetric=cfg.tsne_symmetric):,} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
