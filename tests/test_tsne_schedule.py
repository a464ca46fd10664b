"""The t-SNE cycle model's overlapped-update alternative (`golden_model.tsne_schedule`, "(next step)
overlapped update"; not built): hand-computed cases, and an event-level check of its delay."""

from __future__ import annotations

import pytest

from golden_model import timing
from golden_model import tsne_schedule as ts


def test_overlap_delay_hand_computed():
    # digits class of N = 124, K = 16, 4 slices (one point every 4 cycles), TSNE_UPD_PIPE = 37:
    # PRIME's last read (l = 15) needs 15 * 4 + 38 - 15 = 83; STREAM's block 0 needs at most
    # 38 - 17 = 21 (the update outruns the stream); the hand-over never binds
    assert timing.tsne_update_interval(4) == 4 and timing.TSNE_UPD_PIPE == 37
    assert timing.TSNE_PRIME == 1 and timing.pair_interval("tpair") == 5
    assert ts.overlap_delay(124, 16, 4) == 83
    # 2 slices (every 8 cycles): the stream catches the update up: 123 * 8 + 38 - 17 - 123 * 5 = 390
    assert ts.overlap_delay(124, 16, 2) == 390
    # tiny: N = 32, K = 4, 4 slices: max(3 * 4 + 38 - 3, 38 - 5) = 47
    assert ts.overlap_delay(32, 4, 4) == 47


def test_overlapped_iteration_and_run_hand_computed():
    base = 1 + 16 + 8 * 5 * 124 + timing.TSNE_FLUSH + 16 + timing.TSNE_RECIP + timing.TSNE_COEF
    assert ts.overlapped_base_cycles(124, 16) == base
    assert ts.overlapped_iteration_cycles(124, 16, slices=4) == base + 83
    # built engine, U = 2: the update takes 123 * 8 + 38 cycles after the base
    assert ts.iteration_cycles(124, 16, update_lanes=2) == base + 123 * 8 + 38
    # 3 iterations: two overlapped updates, the last one alone (123 * 4 + 38 cycles)
    assert ts.overlapped_run_cycles(124, 16, 3, slices=4) == 1 + 3 * base + 2 * 83 + 123 * 4 + 38


def test_overlapped_busy_hand_computed():
    c = ts.overlapped_iteration_cycles(124, 16, slices=4)
    b = ts.overlapped_busy_share(124, 16, slices=4)
    assert b["lane_multipliers"] == pytest.approx((124 * 123 * 10 + 1) / (32 * c))
    assert b["lane_multipliers"] > 0.9
    assert b["update_multipliers"] == pytest.approx(124 * 32 / (8 * c))
    assert b["all_multipliers"] == pytest.approx((124 * 123 * 10 + 1 + 124 * 32) / (40 * c))


def _violations(n, k, slices, d):
    """Event-level check, written independently of the model: the update's reads and writes from
    u0 = 0, the next iteration's PRIME from d, its y reads and its A/R hand-over writes."""
    iv, ii = timing.tsne_update_interval(slices), timing.pair_interval("tpair")
    write = {i: i * iv + timing.TSNE_UPD_PIPE for i in range(n)}     # y, v, gains written
    ar_read = {i: i * iv for i in range(n)}                           # the update reads A_i, R_i
    bad = []
    for l in range(min(k, n)):                                        # PRIME: y_l address in d + l
        if not d + l > write[l]:
            bad.append(("prime", l))
    s0 = d + timing.TSNE_PRIME + k
    for blk in range(ts.blocks(n, k)):
        for j in range(n):                                            # every block reads every y_j
            if not s0 + ii * (blk * n + j) > write[j]:
                bad.append(("stream", blk, j))
        snap = s0 + ii * (n * (blk + 1) - 1) + timing.TSNE_READ + timing.latency("tsnap")
        for i in range(blk * k, min(n, blk * k + k)):
            if not snap + (i - blk * k) >= ar_read[i]:
                bad.append(("handover", i))
    return bad


@pytest.mark.parametrize("n,k,slices", [(124, 16, 4), (124, 16, 2), (32, 4, 4), (32, 4, 1), (5, 4, 1),
                                        (17, 16, 2), (64, 8, 8)])
def test_overlap_delay_is_the_smallest_safe_delay(n, k, slices):
    d = ts.overlap_delay(n, k, slices)
    assert _violations(n, k, slices, d) == []
    assert _violations(n, k, slices, d - 1) != []
