"""Cycle model of the t-SNE engine: the implemented dataflow (exact, `hw.tsne` must match it) and
the alternatives it was chosen against (docs/hardware.md, "t-SNE engine").

Every latency comes from `golden_model.timing`.  Work per ordered pair on the lane multipliers
(TM0, TM1: signed ``a`` split at bit 17 x unsigned ``b`` of at most 17 bits, one multiplier op each):
``|dx| lo17(|dx|)``, ``|dx| hi(|dx|)`` and the same for dy (the squares), ``S r``, ``r r`` and
``sr dx``, ``sr dy``, ``r2 dx``, ``r2 dy``: `MUL_OPS_PER_PAIR` = 10.  The function unit does one
RECIP per pair.  The update runs on the same multipliers (`MUL_OPS_PER_POINT` chunk products per
point, op ``tupd``), and the constant ``ca = ex rn`` is one ``tmul``: both count in the lower bound
and the busy share.

Only the first U = ``AccelConfig.tsne_update_lanes`` lanes contain ``tupd``: every cycle count takes
U as the keyword ``update_lanes`` (no default: a caller with a configuration passes
``cfg.tsne_update_lanes``), and the UPDATE state issues one point every `timing.tsne_update_interval`
(U) cycles.

    python -m golden_model.tsne_schedule [--n 124] [--preset digits] [--update-lanes U] [--mhz 100] [--peer-s 0.062]
    python -m golden_model.tsne_schedule --preset digits --u-table 180 256
    python -m golden_model.tsne_schedule --preset digits --overlap-table
"""

from __future__ import annotations

import argparse
import math

from . import timing
from .config import get_preset

MUL_OPS_PER_PAIR = 10
#: multiplier ops of one point's update (`timing.TUPD_MULS`, both coordinates), and the one TMUL
#: of the iteration's constant ca
MUL_OPS_PER_POINT = 2 * sum(na * nb for _, na, nb, _ in timing.TUPD_MULS)
MUL_OPS_PER_ITER = 1
#: multipliers per lane in the pair pass (TM0, TM1)
TSNE_MULS = 2


def blocks(n: int, lanes: int) -> int:
    return -(-n // lanes)


# --------------------------------------------------------------------------- implemented: (a) ordered


def iteration_cycles(n: int, lanes: int, *, update_lanes: int) -> int:
    """Cycles of one t-SNE iteration of `hw.tsne.TsneEngine` (force pass + gradient + update).

    ``B = ceil(N/K)`` blocks; lane ``l`` of block ``b`` owns point ``bK + l``.  PRIME (read-ahead +
    K cycles: block 0's ``y_i`` latched by ``tnext``), then one STREAM of B N slots (one ``j`` every
    II cycles, ``y_j`` broadcast, ``S_ij`` from bank ``l``) with no gap between blocks: a block's
    last slot issues ``tsnap`` (its sums into the scan registers) and the next slot ``tload`` (the
    next block's ``y_i``, latched from the broadcast while ``j`` passed them), and the snapped sums
    leave at lane 0 during the next block (`timing.tsne_handover_ok`); after the last block FLUSH
    (`timing.TSNE_FLUSH` + K), TRECIP of N and Zq on lane 0, the constant ``2 ex / N``, and the
    update pipeline over the points (one point every `timing.tsne_update_interval`
    (``update_lanes``) cycles)."""
    ii = timing.pair_interval("tpair")
    B = blocks(n, lanes)
    return (timing.TSNE_PRIME + lanes + B * ii * n + timing.TSNE_FLUSH + lanes + timing.TSNE_RECIP
            + timing.TSNE_COEF + timing.tsne_update_cycles(n, update_lanes))


def init_cycles(n: int) -> int:
    """Cycles of the PRNG initialisation from ``init`` to ``done``: 1 start cycle, N points of
    `timing.TSNE_INIT_POINT` cycles, the last point's write."""
    return 1 + n * timing.TSNE_INIT_POINT + 1


def run_cycles(n: int, lanes: int, iters: int, *, update_lanes: int) -> int:
    """Cycles of ``iters`` iterations: from ``go`` to ``done`` (1 start cycle + iterations)."""
    return 1 + iters * iteration_cycles(n, lanes, update_lanes=update_lanes)


def mul_ops(n: int, symmetric: bool = False) -> int:
    """Necessary multiplier ops of one iteration: the pairs, the update, the constant."""
    pairs = n * (n - 1) // (2 if symmetric else 1)
    return pairs * MUL_OPS_PER_PAIR + n * MUL_OPS_PER_POINT + MUL_OPS_PER_ITER


def traced_run_cycles(n: int, lanes: int, iters: int, every_log2: int, *, update_lanes: int) -> int:
    """`run_cycles` with the trace stream on and never back-pressured: after each update a TRACE
    state of one Zq beat plus N embedding beats when `tsne_fixed.trace_selected`."""
    from .tsne_fixed import trace_selected
    return run_cycles(n, lanes, iters, update_lanes=update_lanes) + sum(1 + n * trace_selected(it, iters, every_log2) for it in range(iters))


def lower_bound(n: int, lanes: int, symmetric: bool = False) -> float:
    """Necessary multiplier ops / multipliers of one iteration (pair pass and update).

    The unit count is all 2K multipliers TM0/TM1 (every lane has them for the pair ops), whatever
    ``tsne_update_lanes``: the update's chunk products stay necessary work, and a core with U < K
    has idle multipliers during UPDATE, which shows as a larger cycles / bound ratio (a bound over
    the 2U update multipliers alone would call that idleness necessary)."""
    return mul_ops(n, symmetric) / (lanes * TSNE_MULS)


def busy_share(n: int, lanes: int, *, update_lanes: int) -> dict:
    """Busy share of the lane unit classes over one iteration of the implemented engine: necessary
    ops (`mul_ops`, one RECIP per pair + 2) / (units x `iteration_cycles`), the units being all K
    lanes' (see `lower_bound`)."""
    c = iteration_cycles(n, lanes, update_lanes=update_lanes)
    pairs = n * (n - 1)
    return {"multipliers": mul_ops(n) / (lanes * TSNE_MULS * c),
            "function_unit": (pairs + 2) / (lanes * c)}


# --------------------------------------------------------------------------- alternatives


def symmetric_point_parallel_cycles(n: int, lanes: int, *, update_lanes: int) -> int:
    """(a') point-parallel with symmetry: block b streams only j >= bK (j <= i masked), each lane's
    pair also yields the j-side terms (``-t - sticky``, exact), summed over the K lanes by an adder
    tree (``ceil(log2 K)`` levels) and accumulated into a per-point accumulator memory (read-modify-
    write, one j per II cycles, no hazard); the block hand-over as in (a), but each block's stream
    ends with the tree and the memory write before the next block's j-side sums may start."""
    ii = timing.pair_interval("tpair")
    B = blocks(n, lanes)
    tree = max(0, (lanes - 1).bit_length()) + 2        # tree levels + memory read + write
    stream = sum(ii * (n - b * lanes) + tree for b in range(B))
    return (timing.TSNE_PRIME + lanes + stream + timing.TSNE_FLUSH + lanes + timing.TSNE_RECIP
            + timing.TSNE_COEF + timing.tsne_update_cycles(n, update_lanes))


def pair_parallel_cycles(n: int, lanes: int, *, update_lanes: int) -> int:
    """(b) pair-parallel with symmetry, idealised: every lane takes the next unordered pair, one per
    II cycles, no memory conflicts.  Each pair updates two points' accumulators: 2K read-modify-
    writes every II cycles, so each lane needs a private accumulator copy of every point
    (K x N x 4 accumulators) and a reduction of the K copies (N K / K = N cycles with a K-input
    tree per point) before the gradient."""
    ii = timing.pair_interval("tpair")
    pairs = n * (n - 1) // 2
    return (-(-pairs // lanes) * ii + timing.TSNE_FLUSH + n + timing.TSNE_RECIP + timing.TSNE_COEF
            + timing.tsne_update_cycles(n, update_lanes))


# --------------------------------------------------------------------------- (next step) overlapped update
# Not built.  The update of iteration t needs that iteration's final Zq, so it cannot overlap
# t's own pair stream; it can overlap the PRIME and STREAM of iteration t + 1, if the lanes' TM0/TM1
# (busy in every STREAM cycle) do not run it: a shared update unit of ``slices`` slices, each one
# TM pair with the ``tupd`` datapath (one point every `timing.tsne_update_interval` (slices)
# cycles, the same self-collision rule as U update lanes), writing y, v, gains while the next
# iteration reads y.  Every read of a point must come after its update's write, and every A/R read
# of the update before the next iteration's hand-over overwrites that point's sums.


def overlap_delay(n: int, lanes: int, slices: int) -> int:
    """Cycles from the first read of the overlapped update (cycle ``u0``: point i read at ``u0 + i
    IV``, written at ``u0 + i IV + TSNE_UPD_PIPE``) to the next iteration's PRIME (``p0``), the
    smallest with:

    * PRIME reads ``y_l`` at ``p0 + l`` (l < min(K, N)), STREAM block 0 reads ``y_j`` at ``s0 + II
      j`` with ``s0 = p0 + TSNE_PRIME + K``: each read at least one cycle after the write of that
      point (a read port that is not transparent);
    * the next iteration's hand-over writes point i's A, R (block b = i div K) in cycle ``s0 +
      II (N (b + 1) - 1) + TSNE_READ + latency("tsnap") + (i - bK)``, not before the update reads
      them (``u0 + i IV``)."""
    iv = timing.tsne_update_interval(slices)
    ii = timing.pair_interval("tpair")
    lead = timing.TSNE_PRIME + lanes          # p0 -> s0
    snap = timing.latency("tsnap")
    need = 0
    for i in range(n):
        w = i * iv + timing.TSNE_UPD_PIPE + 1  # first cycle (from u0) a read sees point i's update
        if i < lanes:
            need = max(need, w - i)
        need = max(need, w - lead - ii * i)
        b = i // lanes
        handover = lead + ii * (n * (b + 1) - 1) + timing.TSNE_READ + snap + (i - b * lanes)
        need = max(need, i * iv - handover)
    return need


def overlapped_base_cycles(n: int, lanes: int) -> int:
    """An iteration without its update: PRIME, STREAM, FLUSH, RECIP, COEF (as `iteration_cycles`)."""
    ii = timing.pair_interval("tpair")
    return (timing.TSNE_PRIME + lanes + blocks(n, lanes) * ii * n + timing.TSNE_FLUSH + lanes + timing.TSNE_RECIP
            + timing.TSNE_COEF)


def overlapped_iteration_cycles(n: int, lanes: int, *, slices: int) -> int:
    """Steady-state cycles per iteration (PRIME to the next PRIME) with the update overlapped."""
    return overlapped_base_cycles(n, lanes) + overlap_delay(n, lanes, slices)


def overlapped_run_cycles(n: int, lanes: int, iters: int, *, slices: int) -> int:
    """``go`` to ``done``: the last iteration's update has nothing to overlap."""
    return (1 + iters * overlapped_base_cycles(n, lanes) + (iters - 1) * overlap_delay(n, lanes, slices)
            + timing.tsne_update_cycles(n, slices))


def overlapped_busy_share(n: int, lanes: int, *, slices: int) -> dict:
    """Busy shares over a steady-state iteration: the lanes' TM0/TM1 (pair ops and ``ca``), the
    update unit's multipliers (2 per slice), all multipliers together, the function unit."""
    c = overlapped_iteration_cycles(n, lanes, slices=slices)
    pair_ops = n * (n - 1) * MUL_OPS_PER_PAIR + MUL_OPS_PER_ITER
    upd_ops = n * MUL_OPS_PER_POINT
    tm, um = lanes * TSNE_MULS, slices * TSNE_MULS
    return {"lane_multipliers": pair_ops / (tm * c), "update_multipliers": upd_ops / (um * c),
            "all_multipliers": (pair_ops + upd_ops) / ((tm + um) * c),
            "function_unit": (n * (n - 1) + 2) / (lanes * c)}


def overlap_table(cases, iters: int) -> list:
    """Rows ``(name, N, K, U, built cycles / iteration, busy, slices, overlapped cycles / iteration,
    lane multipliers busy, all multipliers busy, run cycles ratio overlapped / built)`` for cases
    ``(name, N, K, U)`` and slices 2 and 4."""
    rows = []
    for name, n, k, u in cases:
        built = iteration_cycles(n, k, update_lanes=u)
        b_busy = busy_share(n, k, update_lanes=u)["multipliers"]
        for s in (2, 4):
            ob = overlapped_busy_share(n, k, slices=s)
            ratio = overlapped_run_cycles(n, k, iters, slices=s) / run_cycles(n, k, iters, update_lanes=u)
            rows.append((name, n, k, u, built, b_busy, s, overlapped_iteration_cycles(n, k, slices=s),
                         ob["lane_multipliers"], ob["all_multipliers"], ratio))
    return rows


def memory_kbit(n: int, cfg, lanes: int | None = None) -> dict:
    """On-chip kbit of the P layouts (a) needs, and of (b)'s private accumulators."""
    K = cfg.lanes if lanes is None else lanes
    pb = cfg.p_frac + 1
    accb = cfg.y_int_bits + 3 + cfg.grad_frac + cfg.count_bits
    full = n * n * pb
    tri = n * (n - 1) // 2 * pb
    return {"p_full_rows": full / 1024, "p_triangle": tri / 1024,
            "pair_parallel_private_acc": K * n * 4 * accb / 1024}


def comparison(n: int, lanes: int, iters: int, mhz: float, peer_s: float | None = None, *, update_lanes: int) -> list:
    """Rows (name, cycles/iteration, ms per run, lower-bound ratio, speed-up over ``peer_s``)."""
    rows = []
    for name, fn, sym in (("(a) point-parallel, ordered pairs [built]", iteration_cycles, False),
                          ("(a') point-parallel, symmetric", symmetric_point_parallel_cycles, True),
                          ("(b) pair-parallel, symmetric (ideal)", pair_parallel_cycles, True)):
        c = fn(n, lanes, update_lanes=update_lanes)
        ms = c * iters / (mhz * 1e3)
        rows.append((name, c, ms, c / lower_bound(n, lanes, sym), (peer_s * 1e3 / ms) if peer_s else None))
    return rows


def update_lanes_table(ns, lanes: int, iters: int) -> list:
    """Rows ``(N, U, cycles / iteration, cycles / run, busy share of the busiest unit class)`` for
    U = 1, 2, 4, ... K (docs/hardware.md, "Area of the phases")."""
    us = [1 << k for k in range(lanes.bit_length()) if 1 << k <= lanes]
    us += [] if lanes in us else [lanes]
    rows = []
    for n in ns:
        for u in us:
            busy = busy_share(n, lanes, update_lanes=u)
            rows.append((n, u, iteration_cycles(n, lanes, update_lanes=u), run_cycles(n, lanes, iters, update_lanes=u),
                         max(busy, key=busy.get), max(busy.values())))
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="t-SNE engine cycle model")
    ap.add_argument("--n", type=int, default=124)
    ap.add_argument("--preset", default="digits")
    ap.add_argument("--update-lanes", type=int, default=None, help="U (default: the preset's tsne_update_lanes)")
    ap.add_argument("--mhz", type=float, default=100.0)
    ap.add_argument("--peer-s", type=float, default=None, help="fastest CPU peer, seconds per run")
    ap.add_argument("--u-table", type=int, nargs="*", default=None, metavar="N",
                    help="print cycles per iteration / run and busy share for U = 1, 2, 4 .. K at these N")
    ap.add_argument("--overlap-table", action="store_true",
                    help="the overlapped update (not built): presets at n_max and digits classes of N = 124, 180")
    a = ap.parse_args(argv)
    cfg = get_preset(a.preset)
    if a.overlap_table:
        cases = [(p, get_preset(p).n_max, get_preset(p).lanes, get_preset(p).tsne_update_lanes) for p in ("tiny", "small")]
        dg = get_preset("digits")
        cases += [("digits", n, dg.lanes, dg.tsne_update_lanes) for n in (124, 180, dg.n_max)]
        print(f"{cfg.tsne_iters} iterations (the {cfg.name} preset's) for the run ratio")
        print("| preset | N | K | U | built: cycles / iteration | built: multipliers busy | slices | overlapped: cycles / "
              "iteration | lane TM0/TM1 busy | all multipliers busy | run cycles vs built |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for name, n, k, u, c, b, s_, oc, lb, ab, r in overlap_table(cases, cfg.tsne_iters):
            print(f"| {name} | {n} | {k} | {u} | {c:,} | {b:.3f} | {s_} | {oc:,} | {lb:.3f} | {ab:.3f} | {r:.3f} |")
        return 0
    if a.u_table is not None:
        print(f"{cfg.name}: K={cfg.lanes}, {cfg.tsne_iters} iterations")
        print("| N | U | cycles / iteration | cycles / run | busiest unit class: busy share |")
        print("|---:|---:|---:|---:|---|")
        for n, u, it, run, unit, b in update_lanes_table(a.u_table or [180, 256], cfg.lanes, cfg.tsne_iters):
            print(f"| {n} | {u} | {it:,} | {run:,} | {unit}: {b:.3f} |")
        return 0
    u = cfg.tsne_update_lanes if a.update_lanes is None else cfg.with_overrides(tsne_update_lanes=a.update_lanes).tsne_update_lanes
    print(f"N={a.n} K={cfg.lanes} U={u} iters={cfg.tsne_iters} II={timing.pair_interval('tpair')} "
          f"tpair latency={timing.latency('tpair')}")
    print("| dataflow | cycles / iteration | ms / run | cycles / lower bound | x fastest peer |")
    print("|---|---:|---:|---:|---:|")
    for name, c, ms, r, x in comparison(a.n, cfg.lanes, cfg.tsne_iters, a.mhz, a.peer_s, update_lanes=u):
        print(f"| {name} | {c:,} | {ms:.1f} | {r:.3f} | {'' if x is None else f'{x:.1f}'} |")
    print("busy:", {k: round(v, 3) for k, v in busy_share(a.n, cfg.lanes, update_lanes=u).items()})
    for nn in (256, 1024, 4096):
        print(nn, {k: math.ceil(v) for k, v in memory_kbit(nn, cfg).items()})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
