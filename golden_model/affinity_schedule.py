"""Cycle model of the affinity phase (`hw.affinity.AffinityController`, exact) and the busy
shares of the lane units, with the alternative it was chosen against (docs/hardware.md,
"Affinity phase").  Every latency comes from `golden_model.timing`.

Per point ``i`` (``G = ceil(N/K)`` distance groups of ``D`` feature steps):

    PSTART(i)  = 1 (point 0, the cycle after ``go``);  PSTART(i+1) = END(i) + AFF_GAP
    DONE(i)    = PSTART(i) + G*D + dist_done_latency(K)       (row i recomputed, m_i)
    END(i)     = DONE(i) + N + AFF_Z + AFF_RECIP + N + floor(i/K) - 1   (last STREAM2 read)
    done       = END(N-1) + AFF_WRITE + 1                        (``go`` is cycle 0)

Unit work per point: MULA ``K G D`` (every lane's ``dist`` ops; ``N D`` of them useful) +
1 ``cand`` + ``2 (N-1)`` (``kern``, ``kprob``); function unit ``1 + 2 (N-1)`` (EXP_U, EXP_T twice)
+ 1 RECIP (``trecip``); TM0 ``N - 1``.

With a candidate-parallel search in MODE 1-3 the phase does not run: each row's affinities run
inside the search, right after the point's result (`fused_row_cycles`, session 39).

    python -m golden_model.affinity_schedule [--n 124] [--d 64] [--preset digits]
"""

from __future__ import annotations

import argparse

from . import timing
from .config import get_preset

__all__ = ["groups", "point_cycles", "run_cycles", "busy", "wide_read_cycles", "stored_rows_cycles",
           "fused_row_cycles", "fused_cycles", "fused_busy", "summary"]


def groups(n: int, lanes: int) -> int:
    return -(-n // lanes)


def _check(n: int, d: int, lanes: int) -> None:
    if n < 2:
        raise ValueError(f"n must be >= 2 (a class of at least two points), got {n}")
    if d < 1:
        raise ValueError(f"d must be >= 1 (features per point), got {d}")
    if lanes < 1:
        raise ValueError(f"lanes must be >= 1, got {lanes}")


def point_cycles(i: int, n: int, d: int, lanes: int) -> int:
    """Cycles from PSTART(i) to PSTART(i+1) (point ``i`` < N-1)."""
    _check(n, d, lanes)
    return (groups(n, lanes) * d + timing.dist_done_latency(lanes) + 2 * n + timing.AFF_Z
            + timing.AFF_RECIP + i // lanes - 1 + timing.AFF_GAP)


def run_cycles(n: int, d: int, lanes: int) -> int:
    """Cycles from ``go`` (cycle 0) to the ``done`` pulse, for a class of ``n`` points of ``d``
    features (the phase of `hw.affinity`, bit-exact cycle model)."""
    _check(n, d, lanes)
    start = 1
    for i in range(n - 1):
        start += point_cycles(i, n, d, lanes)
    end = start + point_cycles(n - 1, n, d, lanes) - timing.AFF_GAP
    return end + timing.AFF_WRITE + 1


def busy(n: int, d: int, lanes: int) -> dict:
    """Busy shares of the lane units over the phase (claimed unit-cycles / (lanes x cycles)) and
    the ratio of the cycles to the MULA lower bound ``(N D + 2 (N-1) + 1) N / K`` (useful
    multiplier ops over all lanes)."""
    cyc = run_cycles(n, d, lanes)
    mula = n * (lanes * groups(n, lanes) * d + 1 + 2 * (n - 1))
    fu = n * (1 + 2 * (n - 1) + 1)
    tm0 = n * (n - 1)
    bound = n * (n * d + 2 * (n - 1) + 1) / lanes
    return {"cycles": cyc, "mula": mula / (lanes * cyc), "fu": fu / (lanes * cyc),
            "tm0": tm0 / (lanes * cyc), "lower_bound": bound, "ratio": cyc / bound}


def wide_read_cycles(n: int, d: int, lanes: int) -> int:
    """Not built: the same controller with a K-wide row read (all row banks at one address per
    cycle, element ``j`` to lane ``j mod K``, Z summed over the lanes by the scan, ``ceil(log2 K)``
    more cycles): both streams take ``G`` cycles instead of ``N``, and the bank-conflict bubbles
    become one per group (the K writes of a group's transposed half go to K distinct banks, the
    row half needs a K-wide write: P written a group per cycle)."""
    _check(n, d, lanes)
    g = groups(n, lanes)
    per = (g * d + timing.dist_done_latency(lanes) + 2 * g + timing.AFF_Z + lanes + timing.AFF_RECIP
           - 1 + timing.AFF_GAP)
    return 1 + n * per - timing.AFF_GAP + timing.AFF_WRITE + 1


def stored_rows_cycles(n: int, d: int, lanes: int) -> int:
    """Not built: the same controller reading each row from a memory that kept every distance row
    of the search (``n_max^2 dist_bits`` bits, 1 Mbit at the digits n_max = 256) instead of
    recomputing it: per point the recomputation's ``G D + dist_done_latency(K)`` cycles become the
    memory's read latency (``ROW_READ``)."""
    _check(n, d, lanes)
    saved = groups(n, lanes) * d + timing.dist_done_latency(lanes) - timing.ROW_READ
    return run_cycles(n, d, lanes) - n * saved


def fused_row_cycles(i: int, n: int, lanes: int) -> int:
    """Cycles of point ``i``'s fused affinity row (built, session 39: `hw.search` AFFROW, `hw.affinity`
    ``row_go``), from the cycle after its result beat's OUT to the search's WAITD (exclusive):
    ``AFF_FUSED_CAND`` (the CAND's broadcast after the search's last grant) + ``SETUP`` (as a
    search pass: CAND to the first read) + STREAM1 ``N`` + DRAIN1 ``AFF_Z - 1`` + RECIP
    ``AFF_RECIP`` + STREAM2 ``N + floor(i/K)`` + ``AFF_FUSED_GAP`` (the last row: ``AFF_WRITE``, its
    P writes done).  The row is the one the search left in the row buffer: no recomputation."""
    _check(n, 1, lanes)
    if not 0 <= i < n:
        raise ValueError(f"i must be a point of the class, 0 <= i < {n}, got {i}")
    tail = timing.AFF_FUSED_GAP if i < n - 1 else timing.AFF_WRITE
    return (timing.AFF_FUSED_CAND + timing.SETUP + 2 * n + timing.AFF_Z - 1 + timing.AFF_RECIP + i // lanes
            + tail)


def fused_cycles(n: int, lanes: int) -> int:
    """Cycles of a class's fused affinity rows (every `fused_row_cycles`): the affinity work inside
    a candidate-parallel search (the search's own cycles besides them are `schedule.schedule`'s)."""
    return sum(fused_row_cycles(i, n, lanes) for i in range(n))


def fused_busy(n: int, lanes: int) -> dict:
    """Busy shares of the fused rows (lane 0 only: ``cand``, ``2 (N-1)`` MULA ops (``kern``,
    ``kprob``); function unit ``1 + 2 (N-1) + 1``; TM0 ``N - 1``) and their cycles over the MULA
    bound without the row recomputation, ``(2 (N-1) + 1) N / K``: the rows run on one lane, so
    the ratio is about K."""
    cyc = fused_cycles(n, lanes)
    mula = n * (1 + 2 * (n - 1))
    fu = n * (1 + 2 * (n - 1) + 1)
    bound = mula / lanes
    return {"cycles": cyc, "mula": mula / (lanes * cyc), "fu": fu / (lanes * cyc),
            "tm0": n * (n - 1) / (lanes * cyc), "lower_bound": bound, "ratio": cyc / bound}


def summary(n: int, d: int, lanes: int) -> str:
    b = busy(n, d, lanes)
    return (f"N={n} D={d} K={lanes}: {b['cycles']:,} cycles ({b['cycles'] / n:.1f} per point), "
            f"MULA busy {b['mula']:.3f}, FU {b['fu']:.3f}, TM0 {b['tm0']:.3f}, "
            f"{b['ratio']:.2f} x the MULA lower bound; wide read (not built): "
            f"{wide_read_cycles(n, d, lanes):,} cycles; stored rows (not built): {stored_rows_cycles(n, d, lanes):,}; "
            f"fused into a candidate-parallel search (built): {fused_cycles(n, lanes):,}")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--preset", default="digits")
    ap.add_argument("--n", type=int, default=124)
    ap.add_argument("--d", type=int, default=None, help="features (default: the preset's d_max)")
    a = ap.parse_args(argv)
    cfg = get_preset(a.preset)
    print(summary(a.n, a.d if a.d is not None else cfg.d_max, cfg.lanes))


if __name__ == "__main__":
    main()
