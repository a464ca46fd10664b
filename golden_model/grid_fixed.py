"""Bit-accurate grid sampler of the accelerator: k exemplars from the integer embedding.

The fixed-point twin of ``reference.grid_sample`` (docs/fixed_point.md, "Entropy and grid
sampling"), on the int64 Q(y_int_bits).y_frac embedding of `golden_model.tsne_fixed`:

1. cells on a g x g grid from the exact divider of `entropy_fixed.cell_coords` (cell =
   ``floor((y - lo) g / span)`` clamped to g - 1; ``grid_frac`` more quotient bits give the position
   inside the cell);
2. g = the smallest side 1, 2, ... whose grid has at least k occupied cells;
3. the k most populated cells, ties -> lower row-major cell index;
4. in each, the point nearest the cell centre: squared offset ``ex^2 + ey^2`` in units of
   ``2^-2(grid_frac + 1)`` cell widths squared (both axes have cell width 1/g in normalised
   coordinates, so this orders like the float distance), ties -> lower point index.

Degenerate case as the float sampler: when no ``g <= g_limit`` reaches k occupied cells, the
smallest g with the most occupied cells is used and its cells are visited round robin (order of
step 3), each time taking the next-nearest unused point.  ``k >= N`` returns every index.
"""

from __future__ import annotations

import numpy as np

from .config import GRID_G_LIMIT, AccelConfig
from .entropy_fixed import cell_coords, check_embedding, check_grid_side


def occupied_cells(Y: np.ndarray, g: int) -> int:
    """Number of distinct occupied cells of the g x g grid (integer embedding, already checked)."""
    col, row, _, _ = cell_coords(Y, g)
    return int(np.count_nonzero(np.bincount(row * g + col, minlength=g * g)))


def sample_side(Y: np.ndarray, k: int, g_limit: int = GRID_G_LIMIT) -> int:
    """Grid side of step 2 (or of the degenerate case): the smallest g with >= k occupied cells,
    else the smallest g with the most occupied cells among ``1 .. g_limit``."""
    best_g, best_occ = 1, 0
    for g in range(1, g_limit + 1):
        occ = occupied_cells(Y, g)
        if occ >= k:
            return g
        if occ > best_occ:
            best_g, best_occ = g, occ
    return best_g


def grid_sample_fixed(Y, k, cfg: AccelConfig, g_limit: int = GRID_G_LIMIT) -> np.ndarray:
    """Pick k exemplars from an integer 2-D embedding by grid sampling (see module doc).

    Parameters
    ----------
    Y : array_like of int, shape (N, 2)
        Embedding in Q(y_int_bits).y_frac (``tsne_fixed.TSNEFixedResult.Y``), |y| <= y_limit.
    k : int >= 1
        Number of exemplars.
    cfg : AccelConfig
        Supplies ``grid_frac`` and the coordinate format.
    g_limit : int in [1, GRID_G_LIMIT]
        Largest grid side tried.

    Returns
    -------
    ndarray of int64, sorted ascending: ``min(k, N)`` distinct indices.

    Raises
    ------
    ValueError
        `Y` not an (N, 2) integer array inside the coordinate range, `k` not an integer >= 1,
        `g_limit` outside [1, GRID_G_LIMIT].
    """
    Y = check_embedding(Y, cfg)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or int(k) < 1:
        raise ValueError(f"k must be an integer >= 1, got {k!r}")
    k = int(k)
    g_limit = check_grid_side(g_limit, "g_limit")
    N = Y.shape[0]
    if k >= N:
        return np.arange(N, dtype=np.int64)
    g = sample_side(Y, k, g_limit)
    col, row, ex, ey = cell_coords(Y, g, cfg.grid_frac)
    idx = row * g + col
    counts = np.bincount(idx, minlength=g * g)
    cells = np.flatnonzero(counts)                       # ascending cell index
    order = np.lexsort((cells, -counts[cells]))          # most populated first, then lower index
    top = cells[order][:k]
    dist = ex * ex + ey * ey
    members = []
    for c in top:
        m = np.flatnonzero(idx == c)                     # ascending point index
        members.append(m[np.lexsort((m, dist[m]))])
    chosen: list = []
    depth = 0
    while len(chosen) < k:  # one round unless degenerate
        for m in members:
            if depth < m.size:
                chosen.append(int(m[depth]))
                if len(chosen) == k:
                    break
        depth += 1
    return np.sort(np.asarray(chosen, dtype=np.int64))


__all__ = ["occupied_cells", "sample_side", "grid_sample_fixed"]
