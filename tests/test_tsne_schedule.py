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
    assert timing.tsne_overlap_delay(124, 16, 4, symmetric=False) == 83
    # 2 slices (every 8 cycles): the stream catches the update up: 123 * 8 + 38 - 17 - 123 * 5 = 390
    assert timing.tsne_overlap_delay(124, 16, 2, symmetric=False) == 390
    # tiny: N = 32, K = 4, 4 slices: max(3 * 4 + 38 - 3, 38 - 5) = 47
    assert timing.tsne_overlap_delay(32, 4, 4, symmetric=False) == 47


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
    base, d = ts.base_cycles(n, k, symmetric=False), timing.tsne_overlap_delay(n, k, s, symmetric=False)
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
    """Symmetric dataflow, N = 124, K = 16: every block first takes 8 ring steps, then broadcasts j >=
    16 b + 16 (block 0 108 slots, blocks 1..6 92, 76, 60, 44, 28, 12); the last block has no such j
    and broadcasts one masked slot (j = 123): 64 + 421 = 485 slots; the hand-over waits 4 more
    cycles for the J memory.  The update's reads of block 0 come 8 slots earlier than with every j
    streamed, but the PRIME still binds the overlap delay (83) with 4 slices."""
    assert timing.tsne_ring_steps(16, True) == 8 and timing.tsne_ring_steps(16, False) == 0
    assert timing.tsne_min_slots(16) == 7 and timing.tsne_scan_delay(16, True) == 4
    assert [timing.tsne_block_start(b, 124, 16, True) for b in range(8)] == [16 * b + 16 for b in range(7)] + [123]
    assert ts.stream_slots(124, 16, symmetric=True) == 485
    base = 1 + 16 + 485 * 5 + timing.TSNE_FLUSH + 4 + 16 + timing.TSNE_RECIP + timing.TSNE_COEF
    assert ts.base_cycles(124, 16, symmetric=True) == base
    assert timing.tsne_overlap_delay(124, 16, 4, symmetric=True) == 83
    assert ts.run_cycles(124, 16, 3, slices=4, symmetric=True) == 1 + 3 * base + 2 * 83 + 123 * 4 + 38
    # 2 slices (IV 8 > II 5): the stream catches the update up: 38 + 123 * 3 - (1 + 16 + 40 - 80) = 430
    assert timing.tsne_overlap_delay(124, 16, 2, symmetric=True) == 430
    # tiny, N = 9, K = 4: 2 ring steps; broadcast min 1 for block 0, 2 after it (min 4 slots):
    # block 0 j = 4 .. 8, block 1 j = 7, 8 (j = 7 masked), block 2 j = 7, 8 (both masked)
    assert timing.tsne_min_slots(4) == 4
    assert [timing.tsne_block_start(b, 9, 4, True) for b in range(3)] == [4, 7, 7]
    assert ts.stream_slots(9, 4, symmetric=True) == 3 * 2 + 5 + 2 + 2
    # one block (N <= K): no broadcast read of a point >= K, the PRIME term alone
    assert timing.tsne_overlap_delay(3, 4, 1, symmetric=True) == timing.TSNE_UPD_PIPE + 1 + 2 * 15
    b = ts.busy_share(124, 16, slices=4, symmetric=True)
    assert b["multipliers"] == pytest.approx((124 * 123 // 2 * 10 + 1) / (32 * (base + 83)))
    assert b["multipliers"] > 0.9


def test_ring_steps_pair_each_block_pair_once():
    """The ring steps' issue rule (`timing.tsne_ring_issue`) covers every pair of a block's K points
    exactly once, for even and odd K."""
    for k in range(2, 19):
        seen = []
        for t in range(1, timing.tsne_ring_steps(k, True) + 1):
            seen += [frozenset((l, (l + t) % k)) for l in range(k) if timing.tsne_ring_issue(t, l, k)]
        assert len(seen) == len(set(seen)) == k * (k - 1) // 2, k


def _violations(n, k, slices, d, symmetric=False):
    """Event-level check, written independently of the model: the update's reads and writes from
    u0 = 0, the next iteration's PRIME from d, its y reads and its A/R hand-over writes.  Symmetric:
    each block takes its ring steps, then broadcasts from `timing.tsne_block_start` (only j >= bK + K
    are used); checked: the visitor flush (K cycles from two after the last ring step's x term) ends
    before the next block's first ring term; the V and J entries a hand-over shift reads are written
    before it; a block's hand-over ends before the next block's snap writes the scan registers; the
    update has read A, R before the hand-over writes them."""
    iv, ii = timing.tsne_update_interval(slices), timing.pair_interval("tpair")
    rd, ac0 = timing.TSNE_READ, timing.uses("tpair", "tacc")[0]
    write = {i: i * iv + timing.TSNE_UPD_PIPE for i in range(n)}     # y, v, gains written
    ar_read = {i: i * iv for i in range(n)}                           # the update reads A_i, R_i
    bad = []
    for l in range(min(k, n)):                                        # PRIME: y_l address in d + l
        if not d + l > write[l]:
            bad.append(("prime", l))
    s0 = d + timing.TSNE_PRIME + k
    ring = k // 2 if symmetric else 0
    shift0 = timing.latency("tsnap") + timing.tsne_scan_delay(k, symmetric)   # snap issue -> first shift
    first_write = min(s for s, r in enumerate(timing.LANE_OPS["tsnap"].stages) if r)
    slot, j_written, prev = 0, {}, None
    for blk in range(ts.blocks(n, k)):
        t0 = s0 + ii * slot
        js = timing.tsne_block_start(blk, n, k, symmetric)
        used = blk * k + k if symmetric else 0
        for s, j in enumerate(range(js, n)):                          # the block's broadcast
            at = t0 + ii * (ring + s)
            if j >= used and not at > write[j]:
                bad.append(("stream", blk, j))
            if j >= used:
                j_written[j] = at + rd + ac0 + timing.tsne_jtree(k) + 1
        length = ring + n - js
        bg = t0 + ii * (length - 1) + rd                              # the snap, with the last slot
        if symmetric:
            x_last = t0 + ii * (ring - 1) + rd + ac0
            if prev is not None and not t0 + rd + ac0 > prev:          # the previous block's flush
                bad.append(("flush", blk))
            prev = x_last + 2 + k - 1
        for i in range(blk * k, min(n, blk * k + k)):
            shift = bg + shift0 + (i - blk * k)
            if symmetric:
                if not shift > x_last + 2 + (i - blk * k - ring) % k:
                    bad.append(("visitor", i))
                if blk > 0 and not shift > j_written[i]:
                    bad.append(("j", i))
            if not shift + (1 if symmetric else 0) >= ar_read[i]:
                bad.append(("handover", i))
        if blk + 1 < ts.blocks(n, k):
            nxt_len = ring + n - timing.tsne_block_start(blk + 1, n, k, symmetric)
            if not bg + shift0 + k - 1 < bg + ii * nxt_len + first_write:
                bad.append(("scan", blk))
        slot += length
    return bad


@pytest.mark.parametrize("n,k,slices", [(124, 16, 4), (124, 16, 2), (32, 4, 4), (32, 4, 1), (5, 4, 1),
                                        (17, 16, 2), (64, 8, 8), (9, 4, 3), (2, 2, 16), (256, 16, 1),
                                        (3, 64, 1), (100, 2, 2), (113, 16, 2), (66, 32, 1), (40, 3, 1)])
def test_overlap_delay_is_the_smallest_safe_delay(n, k, slices):
    for sym in (False, True):
        d = timing.tsne_overlap_delay(n, k, slices, symmetric=sym)
        assert _violations(n, k, slices, d, sym) == []
        # symmetric with a block 0 broadcast starting below K (K < N < K + broadcast min) reads later
        # than the delay assumes: safe, not the smallest
        if not sym or n <= k or timing.tsne_block_start(0, n, k, True) == k:
            assert _violations(n, k, slices, d - 1, sym) != []


def test_every_stream_fits_for_every_lane_count():
    """`timing.tsne_stream_ok` for N up to 3K (no block would need a broadcast j below 0)."""
    for k in range(2, 65):
        assert all(timing.tsne_stream_ok(n, k) for n in range(2, 3 * k + 1)), k


def test_event_check_sees_a_short_flush_and_an_early_visitor_read(monkeypatch):
    """The symmetric checks of `_violations` can fail: with no broadcast minimum the visitor flush of
    block 0 (N = 17, K = 16: one broadcast slot) runs into block 1's ring; with no scan delay at
    K = 64 a hand-over shift reads V before the flush wrote it."""
    d = timing.tsne_overlap_delay(17, 16, 4, symmetric=True)
    assert _violations(17, 16, 4, d, True) == []
    monkeypatch.setattr(timing, "tsne_broadcast_min", lambda lanes, first, last: 1)
    assert ("flush", 1) in _violations(17, 16, 4, d, True)
    monkeypatch.undo()
    d = timing.tsne_overlap_delay(200, 64, 4, symmetric=True)
    assert _violations(200, 64, 4, d, True) == []
    monkeypatch.setattr(timing, "tsne_scan_delay", lambda lanes, symmetric: 0)
    assert any(v[0] == "visitor" for v in _violations(200, 64, 4, d, True))
