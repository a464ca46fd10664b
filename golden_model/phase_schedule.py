"""Cycle models of the entropy and grid-sampling phases (`hw.entropy.EntropyUnit`,
`hw.grid.GridSampler`; docs/hardware.md, "Entropy and grid phases").  Exact: the RTL tests
compare the simulated cycle counts with these functions.  Every state length comes from
`golden_model.timing`; the data-dependent counts (grid sides tried, occupied cells, picks) from
the golden model (`entropy_fixed`, `grid_fixed`).
"""

from __future__ import annotations

import numpy as np

from . import timing
from .config import AccelConfig
from .entropy_fixed import cell_coords
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


__all__ = ["minmax_cycles", "pass_cycles", "entropy_cycles", "entropy_lower_bound"]
