"""Cycle model of the t-SNE engine: the implemented dataflow (exact, `hw.tsne` must match it) and
the alternatives it was chosen against (docs/hardware.md, "t-SNE engine").

Every latency comes from `golden_model.timing`.  Work per pair on the lane multipliers M0 .. M3
(18 x 18 each; the pair format `tsne_fixed.pair_y` keeps every operand within 17 bits and a sign):
``|dx| |dx|``, ``|dy| |dy|``, ``S r``, ``r r``, ``sr dx``, ``sr dy``, ``r2 dx``, ``r2 dy``:
`MUL_OPS_PER_PAIR` = 8; the constant ``ca = ex rn`` is one ``tmul`` on lane 0's TMW (M0 + M1) once
per run, in SCALE (after the exaggeration ``ca = rn``): no multiplier op per iteration.  The
function unit does one RECIP per pair.  The update runs on the
update unit's S slices (``AccelConfig.tsne_update_slices``, `hw.tsne_update`; `MUL_OPS_PER_POINT`
chunk products per point on a slice's `UPDATE_MULS` multipliers), overlapped with the next iteration's PRIME and
STREAM (`timing.tsne_overlap_delay`), except after the last iteration and after an iteration whose
embedding is traced: every cycle count takes S as the keyword ``slices`` (no default: a caller with
a configuration passes ``cfg.tsne_update_slices``).

    python -m golden_model.tsne_schedule [--n 124] [--preset digits] [--slices S] [--mhz 100] [--peer-s 0.062]
    python -m golden_model.tsne_schedule --preset digits --s-table 124 180 256
"""

from __future__ import annotations

import argparse
import math

from . import timing
from .config import get_preset

MUL_OPS_PER_PAIR = 8
#: multiplier ops of one point's update (`timing.TUPD_MULS`, both coordinates)
MUL_OPS_PER_POINT = 2 * len(timing.TUPD_CHUNKS)
#: multipliers per lane in the pair pass (M0 .. M3: `timing.TPAIR_MULS`)
TSNE_MULS = len(timing.TPAIR_MULS)
#: multipliers per update slice (TU0 .. TU7 per coordinate: one chunk product each per cycle)
UPDATE_MULS = 2 * timing.TUPD_MULTIPLIERS


def blocks(n: int, lanes: int) -> int:
    return -(-n // lanes)


# --------------------------------------------------------------------------- implemented: (a) ordered


def stream_slots(n: int, lanes: int, *, symmetric: bool) -> int:
    """Slots of one iteration's STREAM: B `timing.tsne_ordered_slots` (ordered pairs: N, padded for
    short classes), or the sum over blocks of the ring steps (`timing.tsne_ring_steps`) and ``N -
    timing.tsne_block_start`` broadcast slots (symmetric)."""
    if not symmetric:
        return blocks(n, lanes) * timing.tsne_ordered_slots(n, lanes)
    ring = timing.tsne_ring_steps(lanes, symmetric)
    return sum(ring + n - timing.tsne_block_start(b, n, lanes, symmetric) for b in range(blocks(n, lanes)))


def base_cycles(n: int, lanes: int, *, slices: int, symmetric: bool) -> int:
    """Cycles of one iteration of `hw.tsne.TsneEngine` up to its update: ``B = ceil(N/K)`` blocks;
    lane ``l`` of block ``b`` owns point ``bK + l``.  PRIME (read-ahead + K cycles: block 0's
    ``y_i`` latched by ``tnext``), then one STREAM (`stream_slots`, one ``j`` every II cycles, ``y_j``
    broadcast, ``S_ij`` from bank ``l``) with no gap between blocks: a block's last slot issues
    ``tsnap`` (its sums into the scan registers) and the next slot ``tload`` (the next block's
    ``y_i``, latched from the broadcast while ``j`` passed them); the snapped Zq partials are summed
    by an adder tree and the snapped A, R leave at lane 0 during the next block
    (`timing.tsne_handover_ok`); after the last block's snap (``TSNE_READ`` cycles into its last
    slot) FLUSH (`timing.tsne_flush_cycles`: Zq complete, and for short classes the last block's
    hand-over ahead of the update's reads), then RECIP (`timing.TSNE_RECIP`: TRECIP of Zq on lane 0; the
    update starts before it is captured, `timing.TUPD_RZ_STAGE`).  The update's first read follows
    in the next cycle.
    ``symmetric`` (`AccelConfig.tsne_symmetric`): block b first pairs its own points in
    `timing.tsne_ring_steps` ring slots, then broadcasts from `timing.tsne_block_start` (the
    j-side terms through the J memory, the ring's through the visitor sums)."""
    ii = timing.pair_interval("tpair")
    last_snap = timing.TSNE_PRIME + lanes + (stream_slots(n, lanes, symmetric=symmetric) - 1) * ii + timing.TSNE_READ
    return (last_snap + timing.tsne_flush_cycles(n, lanes, slices, symmetric=symmetric) + timing.TSNE_RECIP)


def iteration_cycles(n: int, lanes: int, *, slices: int, symmetric: bool) -> int:
    """Cycles per iteration in a run, PRIME to the next PRIME, with the update overlapped
    (`base_cycles` + `timing.tsne_overlap_delay`)."""
    return (base_cycles(n, lanes, slices=slices, symmetric=symmetric)
            + timing.tsne_overlap_delay(n, lanes, slices, symmetric=symmetric))


def init_cycles(n: int) -> int:
    """Cycles of the PRNG initialisation from ``init`` to ``done``: 1 start cycle, N points of
    `timing.TSNE_INIT_POINT` cycles, the last point's write."""
    return 1 + n * timing.TSNE_INIT_POINT + 1


def scale_cycles(n: int) -> int:
    """Cycles of a run's SCALE state: the pair shift of the initial embedding (N reads, then
    `timing.TSNE_SCALE`), and at least until its ``tmul`` of ``ex rn`` (`timing.TSNE_CA_ISSUE`)."""
    return max(n + timing.TSNE_SCALE, timing.TSNE_CA_ISSUE + 1)


def traced_run(n: int, lanes: int, iters: int, every_log2: int | None, *, slices: int, symmetric: bool) -> tuple:
    """``(beats, cycles)`` of a run of ``iters`` iterations, ``go`` in cycle 0: ``cycles`` from
    ``go`` to ``done``, and with the trace on (``every_log2`` not None; ``ready`` always high) the
    cycle of every trace beat in stream order (each iteration's Zq beat, then after the selected
    iterations (`tsne_fixed.trace_selected`) the N embedding beats).

    Iteration ``it`` begins (PRIME) in ``p0`` (1 + `scale_cycles` for the first) and starts its update
    in ``u0 = p0 + base_cycles``.  An overlapped iteration (not the last, its embedding not traced) sends its Zq
    beat in ``u0`` (while its update runs) and the next one begins in ``u0 +
    timing.tsne_overlap_delay``.  Otherwise the update runs alone until its last write ``w = u0 +
    timing.tsne_update_cycles - 1``; with the trace on, the TRACE state sends the Zq beat in ``w +
    1`` and, if selected, the N embedding beats in the following cycles; the next iteration (or
    ``done``) follows in the cycle after."""
    from .tsne_fixed import trace_selected
    base = base_cycles(n, lanes, slices=slices, symmetric=symmetric)
    delay = timing.tsne_overlap_delay(n, lanes, slices, symmetric=symmetric)
    alone = timing.tsne_update_cycles(n, slices)
    traced = every_log2 is not None
    beats, p0 = [], 1 + scale_cycles(n)
    for it in range(iters):
        u0 = p0 + base
        sel = traced and trace_selected(it, iters, every_log2)
        if it < iters - 1 and not sel:
            if traced:
                beats.append(u0)
            p0 = u0 + delay
            continue
        end = u0 + alone - 1
        if traced:
            beats += [end + 1 + k for k in range(1 + (n if sel else 0))]
            end = beats[-1]
        p0 = end + 1
    return beats, p0


def run_cycles(n: int, lanes: int, iters: int, *, slices: int, symmetric: bool) -> int:
    """Cycles of ``iters`` iterations from ``go`` to ``done``, the trace off: ``1 + scale + iters B +
    (iters - 1) delay + update`` (the last update runs alone)."""
    return traced_run(n, lanes, iters, None, slices=slices, symmetric=symmetric)[1]


def pairs(n: int, symmetric: bool = False) -> int:
    """Pairs of one iteration's pass: every ordered pair, or (``symmetric``) each unordered one once."""
    return n * (n - 1) // (2 if symmetric else 1)


def mul_ops(n: int, symmetric: bool = False) -> int:
    """Necessary ops of one iteration on the lanes' multipliers M0 .. M3: the pairs (the update
    runs on the update slices: `update_mul_ops`; ``ca`` is computed once per run)."""
    return pairs(n, symmetric) * MUL_OPS_PER_PAIR


def fu_ops(n: int, symmetric: bool = False) -> int:
    """Function-unit ops of one iteration: one RECIP per pair, and TRECIP of Zq (TRECIP of N is
    once per run, in SCALE)."""
    return pairs(n, symmetric) + 1


def update_mul_ops(n: int) -> int:
    """Chunk products of one iteration's update on the update slices' multipliers."""
    return n * MUL_OPS_PER_POINT


def traced_run_cycles(n: int, lanes: int, iters: int, every_log2: int, *, slices: int, symmetric: bool) -> int:
    """`run_cycles` with the trace stream on and never back-pressured (`traced_run`)."""
    return traced_run(n, lanes, iters, every_log2, slices=slices, symmetric=symmetric)[1]


def lower_bound(n: int, lanes: int, symmetric: bool = False, *, slices: int) -> float:
    """Cycles of one iteration at one op per multiplier per cycle: the larger of the lanes' share
    (`mul_ops` / 4K) and the update slices' (`update_mul_ops` / (`UPDATE_MULS` S)), since both run at once."""
    return max(mul_ops(n, symmetric) / (lanes * TSNE_MULS), update_mul_ops(n) / (slices * UPDATE_MULS))


def busy_share(n: int, lanes: int, *, slices: int, symmetric: bool) -> dict:
    """Busy share of each unit class over a steady-state iteration (`iteration_cycles`): the
    lanes' multipliers M0 .. M3 (``multipliers``: pair ops and ``ca``), the update slices'
    (``update_multipliers``), the function unit (one RECIP per pair + 1)."""
    c = iteration_cycles(n, lanes, slices=slices, symmetric=symmetric)
    return {"multipliers": mul_ops(n, symmetric) / (lanes * TSNE_MULS * c),
            "update_multipliers": update_mul_ops(n) / (slices * UPDATE_MULS * c),
            "function_unit": fu_ops(n, symmetric) / (lanes * c)}


# --------------------------------------------------------------------------- alternatives


def pair_parallel_cycles(n: int, lanes: int, *, slices: int) -> int:
    """(b) pair-parallel with symmetry, idealised: every lane takes the next unordered pair, one per
    II cycles, no memory conflicts.  Each pair updates two points' accumulators: 2K read-modify-
    writes every II cycles, so each lane needs a private accumulator copy of every point
    (K x N x 4 accumulators) and a reduction of the K copies (N K / K = N cycles with a K-input
    tree per point) before the gradient; the update overlapped as in (a) (approximately: the pair
    order of the next pass would have to follow the update's point order)."""
    ii = timing.pair_interval("tpair")
    return (-(-pairs(n, True) // lanes) * ii + timing.latency("tsnap") - ii + timing.TSNE_READ + n + timing.TSNE_RECIP
            + timing.tsne_overlap_delay(n, lanes, slices, symmetric=False))


def memory_kbit(n: int, cfg, lanes: int | None = None) -> dict:
    """On-chip kbit of the P layouts (a) needs, and of (b)'s private accumulators."""
    K = cfg.lanes if lanes is None else lanes
    pb = cfg.p_frac + 1
    accb = cfg.y_int_bits + 3 + cfg.grad_frac + cfg.count_bits
    full = n * n * pb
    tri = n * (n - 1) // 2 * pb
    return {"p_full_rows": full / 1024, "p_triangle": tri / 1024,
            "pair_parallel_private_acc": K * n * 4 * accb / 1024}


def comparison(n: int, lanes: int, iters: int, mhz: float, peer_s: float | None = None, *, slices: int) -> list:
    """Rows (name, cycles/iteration, ms per run, lower-bound ratio, speed-up over ``peer_s``)."""
    rows = []
    for name, fn, sym in (("(a) point-parallel, ordered pairs [built: tsne_symmetric=False]",
                           lambda n, k, slices: iteration_cycles(n, k, slices=slices, symmetric=False), False),
                          ("(a') point-parallel, symmetric [built: tsne_symmetric=True]",
                           lambda n, k, slices: iteration_cycles(n, k, slices=slices, symmetric=True), True),
                          ("(b) pair-parallel, symmetric (ideal)", pair_parallel_cycles, True)):
        c = fn(n, lanes, slices=slices)
        ms = c * iters / (mhz * 1e3)
        rows.append((name, c, ms, c / lower_bound(n, lanes, sym, slices=slices), (peer_s * 1e3 / ms) if peer_s else None))
    return rows


def slices_table(ns, lanes: int, iters: int, *, symmetric: bool) -> list:
    """Rows ``(N, S, cycles / iteration, cycles / run, lanes' multipliers busy, update multipliers
    busy, cycles / lower bound)`` for S = 1, 2, 4 (docs/hardware.md, "The update unit")."""
    rows = []
    for n in ns:
        for s in (1, 2, 4):
            b = busy_share(n, lanes, slices=s, symmetric=symmetric)
            it = iteration_cycles(n, lanes, slices=s, symmetric=symmetric)
            run = run_cycles(n, lanes, iters, slices=s, symmetric=symmetric)
            rows.append((n, s, it, run, b["multipliers"], b["update_multipliers"],
                         it / lower_bound(n, lanes, symmetric, slices=s)))
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="t-SNE engine cycle model")
    ap.add_argument("--n", type=int, default=124)
    ap.add_argument("--preset", default="digits")
    ap.add_argument("--slices", type=int, default=None, help="S (default: the preset's tsne_update_slices)")
    ap.add_argument("--mhz", type=float, default=100.0)
    ap.add_argument("--peer-s", type=float, default=None, help="fastest CPU peer, seconds per run")
    ap.add_argument("--s-table", type=int, nargs="*", default=None, metavar="N",
                    help="cycles per iteration / run, busy shares and the bound ratio for S = 1, 2, 4 at these N "
                         "(the preset's dataflow)")
    a = ap.parse_args(argv)
    cfg = get_preset(a.preset)
    if a.s_table is not None:
        print(f"{cfg.name}: K={cfg.lanes}, {cfg.tsne_iters} iterations, tsne_symmetric={cfg.tsne_symmetric}")
        print("| N | S | cycles / iteration | cycles / run | lanes' multipliers busy | update multipliers busy | "
              "cycles / lower bound |")
        print("|---:|---:|---:|---:|---:|---:|---:|")
        for n, s_, it, run, bm, bu, r in slices_table(a.s_table or [124, 180, 256], cfg.lanes, cfg.tsne_iters,
                                                      symmetric=cfg.tsne_symmetric):
            print(f"| {n} | {s_} | {it:,} | {run:,} | {bm:.3f} | {bu:.3f} | {r:.3f} |")
        return 0
    s = cfg.tsne_update_slices if a.slices is None else cfg.with_overrides(tsne_update_slices=a.slices).tsne_update_slices
    print(f"N={a.n} K={cfg.lanes} S={s} iters={cfg.tsne_iters} II={timing.pair_interval('tpair')} "
          f"tpair latency={timing.latency('tpair')}")
    print("| dataflow | cycles / iteration | ms / run | cycles / lower bound | x fastest peer |")
    print("|---|---:|---:|---:|---:|")
    for name, c, ms, r, x in comparison(a.n, cfg.lanes, cfg.tsne_iters, a.mhz, a.peer_s, slices=s):
        print(f"| {name} | {c:,} | {ms:.1f} | {r:.3f} | {'' if x is None else f'{x:.1f}'} |")
    for sym in (False, True):
        print("busy" + (" (symmetric)" if sym else "") + ":",
              {k: round(v, 3) for k, v in busy_share(a.n, cfg.lanes, slices=s, symmetric=sym).items()})
    for nn in (256, 1024, 4096):
        print(nn, {k: math.ceil(v) for k, v in memory_kbit(nn, cfg).items()})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
