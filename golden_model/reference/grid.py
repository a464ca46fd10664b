"""Occupancy entropy of an embedding and the grid sampler (steps 6-7 of the float reference)."""

from __future__ import annotations

import math

import numpy as np

from ..config import GRID_G_LIMIT, AccelConfig


def normalise_unit(Y: np.ndarray) -> np.ndarray:
    """Min-max normalise each axis of `Y` to [0, 1]; a constant axis maps to 0."""
    Y = np.asarray(Y, dtype=np.float64)
    lo = Y.min(axis=0)
    span = Y.max(axis=0) - lo
    safe = np.where(span > 0, span, 1.0)
    return np.where(span > 0, (Y - lo) / safe, 0.0)


def grid_cells(Yn: np.ndarray, g: int) -> tuple:
    """Cell coordinates of normalised points on a g x g grid.

    Column = ``floor(g * y[:, 0])``, row = ``floor(g * y[:, 1])``, both clipped to ``g - 1`` (so
    the value 1.0 lands in the last cell).  Returns ``(col, row, index)`` with the row-major cell
    index ``row * g + col``.
    """
    cr = np.minimum(np.floor(Yn * g).astype(np.int64), g - 1)
    col, row = cr[:, 0], cr[:, 1]
    return col, row, row * g + col


def occupancy_entropy(Y: np.ndarray, G: int) -> float:
    """Occupancy entropy of a 2-D embedding, in nats.

    `Y` is min-max normalised per axis to [0, 1]^2 and histogrammed on a G x G grid
    (:func:`grid_cells`); with ``pi_c = count_c / N`` the result is ``-sum_c pi_c ln pi_c``
    (natural log; maximum ``ln(min(N, G^2))``).
    """
    Y = np.asarray(Y, dtype=np.float64)
    if Y.ndim != 2 or Y.shape[1] != 2 or Y.shape[0] == 0:
        raise ValueError(f"Y must have shape (N, 2) with N >= 1, got {Y.shape}")
    _, _, idx = grid_cells(normalise_unit(Y), int(G))
    counts = np.bincount(idx)
    pi = counts[counts > 0] / float(Y.shape[0])
    return float(-np.sum(pi * np.log(pi)))


def entropy_grid_side(n: int, cfg: AccelConfig) -> int:
    """Side G of the occupancy-entropy grid for a class of `n` points (our rule).

    The smallest G with ``G * G * cfg.entropy_cell_points >= n``, at least 2 and at most
    ``cfg.grid_g``.  A fixed grid much finer than the class (16 x 16 = 256 cells for 40-70
    points) puts every point in its own cell for every candidate perplexity, so every candidate
    scores exactly ``ln n`` and the criterion cannot choose; sizing the grid for a few points per
    cell makes it measure how evenly the class fills the plane at the scale of the grid sampler.
    The side depends on `n` only (not on the budget), so one perplexity choice serves every
    budget.  Integer arithmetic only (the hardware derives G the same way).
    """
    n = int(n)
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    m = int(cfg.entropy_cell_points)
    g = math.isqrt(-(-n // m))  # floor(sqrt(ceil(n / m)))
    if g * g * m < n:
        g += 1
    return int(min(int(cfg.grid_g), max(2, g)))


#: Largest grid side :func:`grid_sample` tries before falling back (see its docstring).
GRID_SAMPLE_G_LIMIT = GRID_G_LIMIT


def grid_sample(Y: np.ndarray, k: int, g_limit: int = GRID_SAMPLE_G_LIMIT) -> np.ndarray:
    """Pick k exemplars from a 2-D embedding by grid sampling.

    1. Normalise `Y` per axis to [0, 1] (:func:`normalise_unit`).
    2. g = the smallest grid side (1, 2, 3, ...) whose g x g grid has at least k occupied cells
       (cells as in :func:`grid_cells`).
    3. Take the k most populated cells; ties by row-major cell index ascending.
    4. In each, the sample nearest (Euclidean, normalised coordinates) to the cell centre
       ``((col + 0.5)/g, (row + 0.5)/g)``; ties -> lowest sample index.

    If ``k >= N`` every index is returned.  Degenerate case: when no ``g <= g_limit`` reaches k
    occupied cells (only when fewer than k distinct embedding positions exist, or points closer
    than ``1/g_limit``), the smallest g with the most occupied cells is used and the cells are
    visited round robin in the order of step 3, taking the next-nearest unused sample each time,
    until k samples are chosen.

    Returns
    -------
    ndarray of int64, sorted ascending, k distinct indices.
    """
    Y = np.asarray(Y, dtype=np.float64)
    N = Y.shape[0]
    k = int(k)
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if k >= N:
        return np.arange(N, dtype=np.int64)
    Yn = normalise_unit(Y)
    best_g, best_occ = 1, 0
    for g in range(1, int(g_limit) + 1):
        occ = np.unique(grid_cells(Yn, g)[2]).size
        if occ > best_occ:
            best_g, best_occ = g, occ
        if occ >= k:
            best_g = g
            break
    g = best_g
    col, row, idx = grid_cells(Yn, g)
    cells, counts = np.unique(idx, return_counts=True)  # cells ascending
    order = np.lexsort((cells, -counts))  # most populated first, then lower cell index
    top = cells[order][:k] if cells.size >= k else cells[order]
    cx = (col + 0.5) / g
    cy = (row + 0.5) / g
    dist = (Yn[:, 0] - cx) ** 2 + (Yn[:, 1] - cy) ** 2
    members = []
    for c in top:
        m = np.flatnonzero(idx == c)  # ascending sample index
        members.append(m[np.lexsort((m, dist[m]))])
    chosen: list = []
    depth = 0
    while len(chosen) < k:  # one round in the normal case
        for m in members:
            if depth < m.size:
                chosen.append(int(m[depth]))
                if len(chosen) == k:
                    break
        depth += 1
    return np.sort(np.asarray(chosen, dtype=np.int64))
