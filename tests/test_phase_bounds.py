"""golden_model.phase_bounds against hand-computed small cases (every expected number below is
counted by hand from the docstrings' dataflow, not produced by the code)."""

import numpy as np
import pytest

from golden_model import phase_bounds as pb
from golden_model import phase_schedule as ps
from golden_model.config import get_preset

CFG = get_preset("digits")       # grid_frac 16, entropy_cell_points 4, y_frac 20


def test_search_counts_hand_case():
    # N = 4, D = 2: 6 pairs x 2 features = 12 necessary MACs; the core's rows: 4 x 4 x 2 = 32
    assert pb.search_ops(4, 2, 10) == {"macs_needed": 12, "macs_core": 32, "kernel": 10}
    assert pb.search_lower_bound(4, 2, 10, lanes=2) == (12 + 10) / 2
    b = pb.search_busy(4, 2, 10, lanes=2, cycles=21)
    assert b["mula"] == pytest.approx(42 / 42) and b["fu"] == pytest.approx(10 / 42)


def test_entropy_counts_hand_case():
    # N = 10: G = 2 (2^2 x 4 cell points >= 10), bitlen(2) = 2 divider steps per point and axis
    assert pb.entropy_ops(10, CFG) == {"emb_port": 20, "dividers": 40, "counter_read": 14, "counter_write": 14,
                                       "fu": 6}
    b = pb.entropy_busy(10, CFG, cycles=100)
    assert b["dividers"] == pytest.approx(40 / 200) and b["fu"] == pytest.approx(6 / 100)
    assert pb.entropy_busy(10, CFG) == pb.entropy_busy(10, CFG, cycles=ps.entropy_cycles(10, CFG))


def test_grid_counts_hand_case_corners():
    # four corners, k = 2: side 1 has 1 occupied cell, side 2 has 4 -> search [1, 2], final pass on 2;
    # top list = 2 cells of one point each, one pick per cell
    S = 1 << CFG.y_frac
    Y = np.array([[0, 0], [0, S], [S, 0], [S, S]])
    assert pb.grid_ops(Y, 2, CFG, 16) == {
        "emb_port": 4 * 4,                                  # min/max + 3 passes
        "dividers": 2 * 4 * (1 + 2 + 2 + 16),               # bitlen 1, 2, then 2 + grid_frac
        "counter_read": 4 * 3 + 2 * 4,                      # increments + 2 top scans of 4 counters
        "counter_write": (1 + 4) + (4 + 4) + (4 + 4) + 2,   # clears + increments per pass, 2 zeroed
        "point_read": 2 * 4, "sel": 2}
    assert pb.grid_lower_bound(Y, 2, CFG, 16) == 4 + 4 * 2 + 4 + 4 + 2
    assert pb.grid_lower_bound(Y, 2, CFG, 16) <= ps.grid_cycles(Y, 2, CFG, 16)


def test_grid_counts_hand_case_degenerate():
    # four identical points, k = 2, g_limit 3: sides 1, 2, 3 tried (1 occupied cell each), final
    # pass on side 1; one top cell of 4 points visited twice (two picks), plus the empty top scan
    Y = np.zeros((4, 2), dtype=np.int64)
    o = pb.grid_ops(Y, 2, CFG, 3)
    assert o["emb_port"] == 4 * 5 and o["dividers"] == 2 * 4 * (1 + 2 + 2 + 1 + 16)
    assert o["counter_read"] == 4 * 4 + 2 * 1 and o["counter_write"] == 5 + 8 + 13 + 5 + 1
    assert o["point_read"] == 8
    assert pb.grid_lower_bound(Y, 2, CFG, 3) == 4 + 4 * (3 + 1) + 1 + 4 + 2


def test_grid_budget_at_least_n_is_only_the_index_beats():
    Y = np.arange(10).reshape(5, 2)
    assert pb.grid_lower_bound(Y, 5, CFG, 16) == 5
    assert pb.grid_ops(Y, 7, CFG, 16)["sel"] == 5 and pb.grid_ops(Y, 7, CFG, 16)["dividers"] == 0


@pytest.mark.parametrize("call, msg", [
    (lambda: pb.search_ops(1, 2, 0), "n must be >= 2"),
    (lambda: pb.search_ops(4, 0, 0), "d must be >= 1"),
    (lambda: pb.search_ops(4, 2, -1), "evaluations must be >= 0"),
    (lambda: pb.search_lower_bound(4, 2, 0, 0), "lanes must be >= 1"),
    (lambda: pb.search_busy(4, 2, 0, 2, 0), "cycles must be >= 1"),
    (lambda: pb.grid_ops(np.zeros((4, 2)), 0, CFG, 16), "k must be >= 1"),
])
def test_bad_arguments(call, msg):
    with pytest.raises(ValueError, match=msg):
        call()
