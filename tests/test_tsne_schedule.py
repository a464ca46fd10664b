"""The t-SNE cycle model with the update overlapped on the update slices (`golden_model.tsne_schedule`,
`timing.tsne_overlap_delay`): hand-computed cases, and an event-level check of the delay."""

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
    assert timing.tsne_overlap_delay(124, 16, 4) == 83
    # 2 slices (every 8 cycles): the stream catches the update up: 123 * 8 + 38 - 17 - 123 * 5 = 390
    assert timing.tsne_overlap_delay(124, 16, 2) == 390
    # tiny: N = 32, K = 4, 4 slices: max(3 * 4 + 38 - 3, 38 - 5) = 47
    assert timing.tsne_overlap_delay(32, 4, 4) == 47


def test_overlapped_iteration_and_run_hand_computed():
    base = 1 + 16 + 8 * 5 * 124 + timing.TSNE_FLUSH + 16 + timing.TSNE_RECIP + timing.TSNE_COEF
    assert ts.base_cycles(124, 16, symmetric=False) == base
    assert ts.iteration_cycles(124, 16, slices=4, symmetric=False) == base + 83
    # the engine until session 29, U = 2 lanes: the update takes 123 * 8 + 38 cycles after the base
    assert ts.lanes_update_iteration_cycles(124, 16, update_lanes=2) == base + 123 * 8 + 38
    # 3 iterations: two overlapped updates, the last one alone (123 * 4 + 38 cycles)
    assert ts.run_cycles(124, 16, 3, slices=4, symmetric=False) == 1 + 3 * base + 2 * 83 + 123 * 4 + 38


def test_traced_run_hand_computed():
    """Trace on, k = 1 over 3 iterations of N = 5, K = 4, S = 4: iteration 0 overlapped (its Zq beat
    when its update starts), iteration 1 selected (update alone, Zq + 5 embedding beats), the last
    (2) selected too."""
    n, k, s = 5, 4, 4
    base, d = ts.base_cycles(n, k, symmetric=False), timing.tsne_overlap_delay(n, k, s)
    alone = 4 * 4 + 38
    assert timing.tsne_update_cycles(n, s) == alone
    u0 = 1 + base
    p1 = u0 + d
    w1 = p1 + base + alone - 1                  # iteration 1's last write
    p2 = w1 + 1 + 6                             # after its 6 beats
    w2 = p2 + base + alone - 1
    beats, cycles = ts.traced_run(n, k, 3, 1, slices=s, symmetric=False)
    assert beats == [u0] + [w1 + 1 + j for j in range(6)] + [w2 + 1 + j for j in range(6)]
    assert cycles == w2 + 6 + 1
    assert ts.traced_run_cycles(n, k, 3, 1, slices=s, symmetric=False) == cycles
    # trace off: the same run without beats, iteration 1 overlapped as well
    assert ts.run_cycles(n, k, 3, slices=s, symmetric=False) == 1 + 3 * base + 2 * d + alone


def test_overlapped_busy_hand_computed():
    c = ts.iteration_cycles(124, 16, slices=4, symmetric=False)
    b = ts.busy_share(124, 16, slices=4, symmetric=False)
    assert b["multipliers"] == pytest.approx((124 * 123 * 10 + 1) / (32 * c))
    assert b["multipliers"] > 0.9
    assert b["update_multipliers"] == pytest.approx(124 * 32 / (8 * c))
    assert b["function_unit"] == pytest.approx((124 * 123 + 2) / (16 * c))
    assert ts.lower_bound(124, 16, slices=4) == pytest.approx((124 * 123 * 10 + 1) / 32)
    assert ts.lower_bound(3, 16, slices=1) == pytest.approx(3 * 32 / 2)     # the update's share binds


def test_symmetric_run_hand_computed():
    """Symmetric dataflow, N = 124, K = 16: block 0 streams j = 0 .. 123, block b > 0 j = 16 b + 1 ..
    123 (every block has at least `tsne_min_slots` = 7 slots), 544 - 7 slots; the hand-over waits 4
    more cycles for the J memory."""
    assert timing.tsne_min_slots(16) == 7 and timing.tsne_scan_delay(16, True) == 4
    assert [timing.tsne_block_start(b, 124, 16, True) for b in range(8)] == [0] + [16 * b + 1 for b in range(1, 8)]
    base = 1 + 16 + 537 * 5 + timing.TSNE_FLUSH + 4 + 16 + timing.TSNE_RECIP + timing.TSNE_COEF
    assert ts.base_cycles(124, 16, symmetric=True) == base
    assert ts.run_cycles(124, 16, 3, slices=4, symmetric=True) == 1 + 3 * base + 2 * 83 + 123 * 4 + 38
    # tiny, N = 9, K = 4 (min 4 slots): blocks start at 0, 5 and 5 (not 9)
    assert timing.tsne_min_slots(4) == 4
    assert [timing.tsne_block_start(b, 9, 4, True) for b in range(3)] == [0, 5, 5]
    assert ts.stream_slots(9, 4, symmetric=True) == 9 + 4 + 4
    b = ts.busy_share(124, 16, slices=4, symmetric=True)
    assert b["multipliers"] == pytest.approx((124 * 123 // 2 * 10 + 1) / (32 * (base + 83)))


def _violations(n, k, slices, d, symmetric=False):
    """Event-level check, written independently of the model: the update's reads and writes from
    u0 = 0, the next iteration's PRIME from d, its y reads and its A/R hand-over writes (symmetric:
    block b streams from its start, the hand-over waits `tsne_scan_delay` and writes a cycle after
    each shift)."""
    iv, ii = timing.tsne_update_interval(slices), timing.pair_interval("tpair")
    write = {i: i * iv + timing.TSNE_UPD_PIPE for i in range(n)}     # y, v, gains written
    ar_read = {i: i * iv for i in range(n)}                           # the update reads A_i, R_i
    bad = []
    for l in range(min(k, n)):                                        # PRIME: y_l address in d + l
        if not d + l > write[l]:
            bad.append(("prime", l))
    s0 = d + timing.TSNE_PRIME + k
    slot = 0
    for blk in range(ts.blocks(n, k)):
        js = blk * k + (blk > 0) if symmetric else 0
        while symmetric and n - js < timing.tsne_min_slots(k) and js > 0:
            js -= 1
        for j in range(js, n):                                        # the block's y_j reads
            if not s0 + ii * (slot + j - js) > write[j]:
                bad.append(("stream", blk, j))
        slot += n - js
        snap = s0 + ii * (slot - 1) + timing.TSNE_READ + timing.latency("tsnap")
        if symmetric:
            snap += timing.tsne_scan_delay(k, True) + 1
        for i in range(blk * k, min(n, blk * k + k)):
            if not snap + (i - blk * k) >= ar_read[i]:
                bad.append(("handover", i))
    return bad


@pytest.mark.parametrize("n,k,slices", [(124, 16, 4), (124, 16, 2), (32, 4, 4), (32, 4, 1), (5, 4, 1),
                                        (17, 16, 2), (64, 8, 8), (9, 4, 3), (2, 2, 16), (256, 16, 1),
                                        (3, 64, 1), (100, 2, 2)])
def test_overlap_delay_is_the_smallest_safe_delay(n, k, slices):
    d = timing.tsne_overlap_delay(n, k, slices)
    for sym in (False, True):       # block 0 streams every j in both dataflows
        assert _violations(n, k, slices, d, sym) == []
        assert _violations(n, k, slices, d - 1, sym) != []

