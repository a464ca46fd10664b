"""The t-SNE cycle model with the update overlapped on the update slices (`golden_model.tsne_schedule`,
`timing.tsne_overlap_delay`): hand-computed cases, and an event-level check of the delay."""

from __future__ import annotations

import pytest

from golden_model import timing
from golden_model import tsne_schedule as ts


def test_overlap_delay_hand_computed():
    # digits class of N = 124, K = 16, one slice: a point every 2 cycles (point i read in 2 i),
    # TSNE_UPD_PIPE = 28 (tupd 26): PRIME reads l in p0 + l after its write: l = 15 needs 30 + 29 -
    # 15 = 44; STREAM's block 0 reads j in p0 + 17 + 2j: 2j + 29 - 17 - 2j = 12; the hand-over
    # never binds
    assert timing.tsne_update_interval(1) == 2 and timing.TSNE_UPD_PIPE == 28
    assert [timing.tsne_update_offset(i, 1) for i in (0, 7, 8, 15, 16, 123)] == [0, 14, 16, 30, 32, 246]
    assert timing.TSNE_PRIME == 1 and timing.pair_interval("tpair") == 2
    assert timing.tsne_overlap_delay(124, 16, 1, symmetric=False) == 44
    # 2 slices (a point every cycle): PRIME l + 29 - l = 29
    assert [timing.tsne_update_offset(i, 2) for i in (0, 1, 2, 123)] == [0, 1, 2, 123]
    assert timing.tsne_overlap_delay(124, 16, 2, symmetric=False) == 29
    # tiny: N = 32, K = 4, one slice: PRIME 6 + 29 - 3 = 32; STREAM 2j + 29 - 5 - 2j = 24
    assert timing.tsne_overlap_delay(32, 4, 1, symmetric=False) == 32


def test_overlapped_iteration_and_run_hand_computed():
    # ordered pairs: 8 blocks of 124 slots (N > tsne_ordered_min_slots(16) = 17: no padding)
    assert timing.tsne_ordered_slots(124, 16) == 124
    # the last snap with the last slot's read (PRIME 1 + K + (slots - 1) II + READ 1), FLUSH 19 (Zq:
    # tap 16 + two 4-input tree levels + the addition), RECIP 2 (the update starts a cycle after
    # TRECIP's issue: point 0's first rz product, tupd stage 5, comes 2 + 1 + 5 = 8 cycles after it,
    # as TRECIP's result, 7 + 1)
    assert timing.tsne_zq_levels(16) == 2 and timing.TSNE_ZQ_TAP == 16 and timing.TSNE_RECIP == 2
    assert timing.TUPD_RZ_STAGE == 5 and timing.latency("trecip") == 7
    assert timing.tsne_flush_cycles(124, 16, 1, symmetric=False) == 19
    base = 1 + 16 + (8 * 124 - 1) * 2 + 1 + 19 + 2
    assert ts.base_cycles(124, 16, slices=1, symmetric=False) == base
    assert ts.iteration_cycles(124, 16, slices=1, symmetric=False) == base + 44
    # 3 iterations after SCALE (N + 2): two overlapped updates, the last one alone (246 + 29)
    assert timing.TSNE_SCALE == 2 and ts.scale_cycles(124) == 126
    assert ts.run_cycles(124, 16, 3, slices=1, symmetric=False) == 1 + 126 + 3 * base + 2 * 44 + 246 + 29
    # SCALE lasts until its TMUL of ex rn (cycle 8: recip(N), issued in cycle 0, is captured by then)
    assert timing.TSNE_CA_ISSUE == 8 and [ts.scale_cycles(n) for n in (2, 6, 7, 8)] == [9, 9, 9, 10]


def test_short_ordered_blocks_need_no_padding_for_the_hand_over():
    """Ordered pairs, two or more blocks: a block's hand-over (tsnap: 23 cycles, then K - 1 more
    shifts) must end before the next block's snap writes A, R (its x sums in stage 21 of a tsnap
    issued slots x II cycles later, the y sums in stage 22, since session 52; Zq, written at stage
    15, is not shifted since session 39): 23 + 3 < 2 s + 21 needs s >= 3 slots for K = 4, 23 + 15 <
    2 s + 21: s >= 9 for K = 16, so every N > K is long enough (until session 38, with Zq in the
    scan chain, N = 5 was padded to 6 slots at K = 4)."""
    assert timing.latency("tsnap") == 23 and timing.tsne_scan_write() == 21
    assert timing.tsne_ordered_min_slots(4) == 5 and timing.tsne_ordered_min_slots(16) == 17
    assert [timing.tsne_ordered_slots(n, 4) for n in (3, 4, 5, 6, 7)] == [3, 4, 5, 6, 7]
    assert ts.stream_slots(5, 4, symmetric=False) == 2 * 5


def test_traced_run_hand_computed():
    """Trace on, k = 1 over 3 iterations of N = 5, K = 4, S = 1: iteration 0 overlapped (its Zq beat
    when its update starts), iteration 1 selected (update alone, Zq + 5 embedding beats), the last
    (2) selected too."""
    n, k, s = 5, 4, 1
    base, d = ts.base_cycles(n, k, slices=s, symmetric=False), timing.tsne_overlap_delay(n, k, s, symmetric=False)
    alone = 8 + 29                              # point 4 read 8 cycles after point 0, written 28 later
    assert timing.tsne_update_cycles(n, s) == alone
    u0 = 1 + 9 + base                           # go, SCALE (until its TMUL in cycle 8), iteration 0
    p1 = u0 + d
    w1 = p1 + base + alone - 1                  # iteration 1's last write
    p2 = w1 + 1 + 6                             # after its 6 beats
    w2 = p2 + base + alone - 1
    beats, cycles = ts.traced_run(n, k, 3, 1, slices=s, symmetric=False)
    assert beats == [u0] + [w1 + 1 + j for j in range(6)] + [w2 + 1 + j for j in range(6)]
    assert cycles == w2 + 6 + 1
    assert ts.traced_run_cycles(n, k, 3, 1, slices=s, symmetric=False) == cycles
    # trace off: the same run without beats, iteration 1 overlapped as well
    assert ts.run_cycles(n, k, 3, slices=s, symmetric=False) == 1 + 9 + 3 * base + 2 * d + alone


def test_overlapped_busy_hand_computed():
    c = ts.iteration_cycles(124, 16, slices=1, symmetric=False)
    b = ts.busy_share(124, 16, slices=1, symmetric=False)
    # 8 products per pair on 4 multipliers per lane (ca: once per run, in SCALE)
    assert b["multipliers"] == pytest.approx((124 * 123 * 8) / (64 * c))
    assert b["multipliers"] > 0.9
    assert b["update_multipliers"] == pytest.approx(124 * 32 / (16 * c))
    assert b["function_unit"] == pytest.approx((124 * 123 + 1) / (16 * c))     # + TRECIP of Zq
    assert ts.lower_bound(124, 16, slices=1) == pytest.approx((124 * 123 * 8) / 64)
    assert ts.lower_bound(3, 16, slices=1) == pytest.approx(3 * 32 / 16)    # the update's share binds


def test_symmetric_run_hand_computed():
    """Symmetric dataflow, N = 124, K = 16: every block first takes 8 ring steps, then broadcasts j >=
    16 b + 16; a block before the last keeps floor(17 / II) = 8 broadcast slots for the visitor
    flush (block 0 108 slots, blocks 1..6 92, 76, 60, 44, 28, 12); the last block needs
    tsne_min_slots - 8 = 4 for the hand-over (23 + 6 + 15 - 22 = 22 cycles: 12 slots): j = 120 ..
    123, 64 + 420 + 4 = 488 slots; the hand-over waits 6 more cycles for the visitor sums (V:
    tacc 20 + 3 + (16 - 8) - II - 23).  The last block's Zq snap comes with its last ring step, 4
    slots before its snap.  The PRIME binds the overlap delay (44) with one slice."""
    assert timing.tsne_ring_steps(16, True) == 8 and timing.tsne_ring_steps(16, False) == 0
    assert timing.tsne_min_slots(16) == 12 and timing.tsne_scan_delay(16, True) == 6
    assert [timing.tsne_block_start(b, 124, 16, True) for b in range(8)] == [16 * b + 16 for b in range(7)] + [120]
    assert ts.stream_slots(124, 16, symmetric=True) == 488
    # FLUSH from the last snap: Zq 16 + 2 + 1 after the Zq snap, 4 slots (8 cycles) earlier: 11
    assert timing.tsne_flush_cycles(124, 16, 1, symmetric=True) == 11
    base = 1 + 16 + 487 * 2 + 1 + 11 + 2
    assert ts.base_cycles(124, 16, slices=1, symmetric=True) == base
    # a single block (N = 9 <= K): the update's first read waits for the hand-over's first write
    # (snap + 23 + scan delay 6 + 1), a cycle after it: FLUSH 23 + 6 + 1 + 1 - RECIP 2 = 29
    assert timing.tsne_flush_cycles(9, 16, 1, symmetric=True) == 29
    assert timing.tsne_overlap_delay(124, 16, 1, symmetric=True) == 44
    assert ts.run_cycles(124, 16, 3, slices=1, symmetric=True) == 1 + 126 + 3 * base + 2 * 44 + 246 + 29
    # 2 slices (a point every cycle): the PRIME term l + 29 - l
    assert timing.tsne_overlap_delay(124, 16, 2, symmetric=True) == 29
    # tiny, N = 9, K = 4: 2 ring steps; broadcast min 2 for block 0 (flush: floor(5 / 2)), 2 after it
    # (tsne_min_slots(4) = 4: 23 + 2 + 3 - 22 = 6 cycles, 4 slots with the 2 ring steps; block 1 keeps
    # 2 for the flush): block 0 from j = 4, blocks 1 and 2 from j = 7
    assert timing.tsne_min_slots(4) == 4
    assert [timing.tsne_block_start(b, 9, 4, True) for b in range(3)] == [4, 7, 7]
    assert ts.stream_slots(9, 4, symmetric=True) == 3 * 2 + 5 + 2 + 2
    # one block (N <= K): no broadcast read of a point >= K, the PRIME term alone
    assert timing.tsne_overlap_delay(3, 4, 1, symmetric=True) == timing.TSNE_UPD_PIPE + 1 + 2    # y_2: written 4 + 28, read p0 + 2
    # busy: 8 ops per unordered pair, 64 multipliers; the fixed part of an iteration (PRIME 17,
    # FLUSH 11, RECIP 2, the overlap 44) and the last block's 4 broadcast slots beyond its pairs:
    # 0.909 for a class of 124; the smallest digits class (122: 474 slots, 977 + 44 cycles) 0.904
    b = ts.busy_share(124, 16, slices=1, symmetric=True)
    assert b["multipliers"] == pytest.approx((124 * 123 // 2 * 8) / (64 * (base + 44)))
    assert 0.9 < b["multipliers"] < 0.91
    assert ts.stream_slots(122, 16, symmetric=True) == 474
    assert ts.iteration_cycles(122, 16, slices=1, symmetric=True) == 1 + 16 + 473 * 2 + 1 + 11 + 2 + 44
    assert ts.busy_share(122, 16, slices=1, symmetric=True)["multipliers"] == pytest.approx(7381 * 8 / (64 * 1021))


def test_ring_steps_pair_each_block_pair_once():
    """The ring steps' issue rule (`timing.tsne_ring_issue`) covers every pair of a block's K points
    exactly once, for even and odd K."""
    for k in range(2, 19):
        seen = []
        for t in range(1, timing.tsne_ring_steps(k, True) + 1):
            seen += [frozenset((l, (l + t) % k)) for l in range(k) if timing.tsne_ring_issue(t, l, k)]
        assert len(seen) == len(set(seen)) == k * (k - 1) // 2, k


def _violations(n, k, slices, d, symmetric=False, scan_write=None):
    """Event-level check, written independently of the model: the update's reads and writes from
    u0 = 0, the next iteration's PRIME from d, its y reads and its A/R hand-over writes.  Symmetric:
    each block takes its ring steps, then broadcasts from `timing.tsne_block_start` (only j >= bK + K
    are used); checked: the visitor flush (K cycles from two after the last ring step's x term) ends
    before the next block's first ring term; the V and J entries a hand-over shift reads are written
    before it; a block's hand-over ends before the next block's snap writes the scan registers; the
    update has read A, R before the hand-over writes them.  The update reads point i in bursts: S
    points in consecutive cycles, one burst every S x interval cycles.  The tail of the iteration
    before u0 (FLUSH, `timing.tsne_flush_cycles`, and RECIP): each of its blocks' hand-overs writes
    A, R of each of its points before the update reads them; its Zq (the last block's Zq snap:
    symmetric with its last ring step, ordered with its last slot; then the tree) is complete when
    RECIP begins; its last hand-over ends before the next PRIME."""
    iv, ii = timing.tsne_update_interval(slices), timing.pair_interval("tpair")
    rd, ac0 = timing.TSNE_READ, timing.uses("tpair", "tacc")[0]
    ring = k // 2 if symmetric else 0

    def read_at(i):
        return (i // slices) * slices * iv + i % slices
    write = {i: read_at(i) + timing.TSNE_UPD_PIPE for i in range(n)}     # y, v, gains written
    ar_read = {i: read_at(i) for i in range(n)}                           # the update reads A_i, R_i
    lengths = [ring + n - timing.tsne_block_start(b, n, k, True) if symmetric else timing.tsne_ordered_slots(n, k)
               for b in range(ts.blocks(n, k))]
    bad = []
    shift_0 = timing.latency("tsnap") + timing.tsne_scan_delay(k, symmetric)   # snap issue -> first shift
    last_snap = -timing.TSNE_RECIP - timing.tsne_flush_cycles(n, k, slices, symmetric=symmetric)
    b_last = ts.blocks(n, k) - 1
    for b in range(b_last + 1):                                       # the iteration's hand-overs
        snap_b = last_snap - ii * sum(lengths[b + 1:])
        for i in range(b * k, min(n, b * k + k)):
            wrote = snap_b + shift_0 + (i - b * k) + (1 if symmetric else 0)
            if not ar_read[i] > wrote:
                bad.append(("tail", i))
    zsnap = last_snap - ii * (lengths[-1] - ring) if symmetric else last_snap
    if not zsnap + timing.TSNE_ZQ_TAP + timing.tsne_zq_levels(k) + 1 <= -timing.TSNE_RECIP:
        bad.append(("zq",))
    if not last_snap + shift_0 + k - 1 < d:
        bad.append(("tail-prime",))
    for l in range(min(k, n)):                                        # PRIME: y_l address in d + l
        if not d + l > write[l]:
            bad.append(("prime", l))
    s0 = d + timing.TSNE_PRIME + k
    first_write = min(s for s, r in enumerate(timing.LANE_OPS["tsnap"].stages) if "tsa" in r)   # A, R
    if scan_write is not None:
        first_write = scan_write
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
        length = lengths[blk]                                         # ordered: padded
        bg = t0 + ii * (length - 1) + rd                              # the snap, with the last slot
        if symmetric:
            x_last = t0 + ii * (ring - 1) + rd + ac0
            if prev is not None and not t0 + rd + ac0 > prev:          # the previous block's flush
                bad.append(("flush", blk))
            prev = x_last + 2 + k - 1
        for i in range(blk * k, min(n, blk * k + k)):
            shift = bg + shift_0 + (i - blk * k)
            if symmetric:
                if not shift > x_last + 2 + (i - blk * k - ring) % k:
                    bad.append(("visitor", i))
                if blk > 0 and not shift > j_written[i]:
                    bad.append(("j", i))
            if not shift + (1 if symmetric else 0) >= ar_read[i]:
                bad.append(("handover", i))
        if blk + 1 < ts.blocks(n, k):
            if not bg + shift_0 + k - 1 < bg + ii * lengths[blk + 1] + first_write:
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


def test_every_stream_fits_for_every_lane_count(monkeypatch):
    """`timing.tsne_stream_ok` for N up to 3K (no block would need a broadcast j below 0) from K = 2
    on (until session 38, with Zq in the scan chain, K = 2 and 3 needed more broadcast slots than
    short classes have); `AccelConfig` refuses the symmetric dataflow where a stream does not fit."""
    from golden_model.config import ConfigError, PRESETS
    for k in range(2, 65):
        assert all(timing.tsne_stream_ok(n, k) for n in range(2, 3 * k + 1)), k
    for k in (2, 3):
        PRESETS["tiny"].with_overrides(phases=True, lanes=k, fwa_fireworks=1, fwa_gauss_sparks=0)
    monkeypatch.setattr(timing, "tsne_stream_ok", lambda n, lanes: n != 3)
    with pytest.raises(ConfigError, match="the t-SNE stream of lanes=2 does not fit short classes"):
        PRESETS["tiny"].with_overrides(phases=True, lanes=2, fwa_fireworks=1, fwa_gauss_sparks=0)
    PRESETS["tiny"].with_overrides(phases=True, lanes=2, tsne_symmetric=False, fwa_fireworks=1, fwa_gauss_sparks=0)


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


def test_event_check_sees_a_flush_that_ignores_the_hand_over(monkeypatch):
    """FLUSH waits for the last block's hand-over in short classes: with the Zq term alone (N = 9,
    K = 16, one block) the update would read A_0, R_0 before the hand-over wrote them."""
    d = timing.tsne_overlap_delay(9, 16, 8, symmetric=True)
    assert _violations(9, 16, 8, d, True) == []
    zq_only = timing.TSNE_ZQ_TAP + timing.tsne_zq_levels(16) + 1
    assert timing.tsne_flush_cycles(9, 16, 8, symmetric=True) > zq_only
    monkeypatch.setattr(timing, "tsne_flush_cycles", lambda n, lanes, slices, symmetric: zq_only)
    assert ("tail", 0) in _violations(9, 16, 8, d, True)


def test_event_check_sees_a_snap_over_a_running_hand_over():
    """Had the snap written the shifted registers at Zq's stage 14 (as until session 38), block 1's
    snap (N = 5, K = 4, 5 slots: unpadded) would overwrite block 0's scan registers before its last
    shift: the event check's scan test fails; at stage 21 (A, R) it passes."""
    d = timing.tsne_overlap_delay(5, 4, 1, symmetric=False)
    assert timing.tsne_ordered_slots(5, 4) == 5
    assert _violations(5, 4, 1, d) == []
    assert ("scan", 0) in _violations(5, 4, 1, d, scan_write=timing.stage_of("tzsnap", "tsz"))


def test_event_check_sees_an_early_update_read_of_an_earlier_block(monkeypatch):
    """Short blocks (N = 7, K = 6, one slice: a last block of one point, a short stream): FLUSH
    waits for block 0's hand-over too; one cycle less and the update would read A_0, R_0 before
    block 0's hand-over wrote them (found by the first simulation of the shorter RECIP, on tiny
    with the update of session 49; since session 52, whose earlier x snap lengthens short blocks,
    block 0 and the last block bind together: 14 cycles)."""
    n, k, s = 7, 6, 1
    d = timing.tsne_overlap_delay(n, k, s, symmetric=True)
    assert _violations(n, k, s, d, True) == []
    flush = timing.tsne_flush_cycles(n, k, s, symmetric=True)
    monkeypatch.setattr(timing, "tsne_flush_cycles", lambda n, lanes, slices, symmetric: flush - 1)
    assert ("tail", 0) in _violations(n, k, s, d, True)


def test_event_check_sees_an_incomplete_zq(monkeypatch):
    """The last block's Zq snap comes with its last ring step (N = 124, K = 16: 4 broadcast slots,
    8 cycles, before its snap); had FLUSH assumed one more slot of lead, RECIP would read Zq before
    the tree's last addition."""
    d = timing.tsne_overlap_delay(124, 16, 1, symmetric=True)
    assert timing.tsne_zq_lead(124, 16, True) == 4
    assert _violations(124, 16, 1, d, True) == []
    monkeypatch.setattr(timing, "tsne_zq_lead", lambda n, lanes, symmetric: 5)
    assert ("zq",) in _violations(124, 16, 1, d, True)
