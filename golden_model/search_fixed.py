"""Bit-accurate sigma search of the accelerator: bisection, K-section and the Fireworks Algorithm.

This is the oracle for the RTL's search controllers.  One *pass* evaluates the candidates held by
the K lanes over one sweep of the distance row (`fixed.evaluate_candidates_np`); the controllers
below decide the next pass's candidates using only integer operations the hardware performs.
See docs/fixed_point.md ("Search controllers") for the prose version.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import fixed as fx
from .config import POLICIES, AccelConfig

MASK32 = 0xFFFFFFFF
SEED_POINT_STEP = 0x9E3779B9  # golden-ratio increment per point index
SEED_LANE_STEP = 0x6C8E9CF5   # per-lane offset (lane l adds (l+1) times this)
KSECTION_SHIFT = 16           # K-section weights C_l = round((l+1) 2^16 / (K+1))


# --------------------------------------------------------------------------- PRNG


def xorshift32(s: int) -> int:
    """Marsaglia xorshift32 (13, 17, 5); never maps a non-zero state to zero."""
    s ^= (s << 13) & MASK32
    s ^= s >> 17
    s ^= (s << 5) & MASK32
    return s & MASK32


def lane_seed(seed: int, point: int, lane: int) -> int:
    """PRNG state of `lane` at the start of point `point`.  The hardware keeps a per-point register
    that adds SEED_POINT_STEP each point; lanes add a constant.  Zero is replaced by 1."""
    s = (seed + point * SEED_POINT_STEP + (lane + 1) * SEED_LANE_STEP) & MASK32
    return s or 1


def uniform_s16(state: int) -> int:
    """Signed 16-bit uniform from the top half of a state: [-32768, 32767]."""
    v = state >> 16
    return v - 0x10000 if v & 0x8000 else v


def gauss_approx(state: int) -> int:
    """Irwin-Hall approximation of a Gaussian: sum of the state's four bytes minus 510, in
    [-510, 510], mean 0, standard deviation 147.8."""
    return sum((state >> (8 * k)) & 0xFF for k in range(4)) - 510


# --------------------------------------------------------------------------- helpers


def ksection_weights(cfg: AccelConfig) -> tuple:
    K = cfg.lanes
    return tuple(((l + 1) * (1 << KSECTION_SHIFT) + (K + 1) // 2) // (K + 1) for l in range(K))


def ksection_grid(lo: int, hi: int, cfg: AccelConfig) -> list:
    """lo + floor((hi - lo) * C_l / 2^16) for every lane."""
    width = hi - lo
    return [lo + ((width * c) >> KSECTION_SHIFT) for c in ksection_weights(cfg)]


def mirror_clamp(x: int, lo: int, hi: int) -> int:
    """Boundary mapping: reflect once at the violated end, then clamp."""
    if x > hi:
        x = 2 * hi - x
    elif x < lo:
        x = 2 * lo - x
    return min(max(x, lo), hi)


@dataclass
class PassTrace:
    """Per-pass, per-lane values (what the RTL's trace port emits): candidates and results,
    None for idle lanes."""
    candidates: list
    h: list
    z: list
    t: list


@dataclass
class SearchResult:
    u: int                 # best candidate u = log2(b), u_frac fraction bits
    h: int                 # its entropy, h_frac fraction bits
    err: int               # |h - target|
    passes: int
    converged: bool
    target: int
    lo0: int               # initial bracket
    hi0: int
    evaluations: int       # useful candidates evaluated
    trace: list = field(default_factory=list)

    def beta(self, cfg: AccelConfig) -> float:
        """beta of the Gaussian, p_j|i ~ exp(-beta D_ij): b = 2^u bits per distance unit, beta = b ln 2."""
        return float(2.0 ** (self.u / (1 << cfg.u_frac)) * np.log(2.0))


class _Best:
    """Best-ever candidate; a later candidate replaces it only if strictly better (so the earliest
    pass and, within a pass, the lowest lane wins ties)."""

    def __init__(self):
        self.u = 0
        self.h = 0
        self.err = None

    def offer(self, u: int, h: int, err: int) -> bool:
        if self.err is None or err < self.err:
            self.u, self.h, self.err = u, h, err
            return True
        return False


# --------------------------------------------------------------------------- the search


def search_row(row, i: int, perp_q: int, policy: str, cfg: AccelConfig, point_index: int | None = None,
               trace: bool = False, row_min_shift: bool = True) -> SearchResult:
    """Sigma search for point i of a class.

    Parameters
    ----------
    row : sequence of int
        Squared distances D_ij for all j of the class (self included; ignored).
    i : int
        Index of the point in its class.
    perp_q : int
        Perplexity register value (UQ.perp_frac), see `fixed.perplexity_to_reg`.
    policy : {"bisection", "fwa", "ksection"}
    cfg : AccelConfig
    point_index : int, optional
        Index used to seed the PRNG (defaults to i; the hardware uses the point's index in the class).
    trace : bool
        Record a PassTrace per pass.
    row_min_shift : bool
        The hardware always subtracts the row minimum (m_i) before the exponent.  False is a
        study-only variant (m = 0) showing the underflow the shift prevents; the RTL has no such mode.
    """
    if policy not in POLICIES:
        raise ValueError(f"unknown policy {policy!r}; allowed: {', '.join(POLICIES)}")
    row = np.asarray(row, dtype=np.int64)
    n = len(row)
    others = np.delete(row, i)
    m = int(others.min()) if row_min_shift else 0
    dmax_s = int(others.max()) - m
    lo, hi = fx.search_range(dmax_s, cfg)
    target = fx.target_entropy(perp_q, cfg)
    tol = cfg.tolerance_lsb
    K = cfg.lanes
    pidx = i if point_index is None else point_index
    best = _Best()
    traces = []
    evaluations = 0

    def run_pass(cands: list) -> list:
        """cands: K entries, None = idle lane."""
        nonlocal evaluations
        active = [c for c in cands if c is not None]
        res = fx.evaluate_candidates_np(row, i, m, active, cfg)
        evaluations += len(active)
        it = iter(res)
        out = [next(it) if c is not None else None for c in cands]
        if trace:
            traces.append(PassTrace(list(cands), [o[0] if o else None for o in out],
                                    [o[1] if o else None for o in out], [o[2] if o else None for o in out]))
        for c, o in zip(cands, out):
            if o is not None:
                best.offer(c, o[0], abs(o[0] - target))
        return out

    passes = 0
    blo, bhi = lo, hi
    if policy == "bisection":
        while True:
            mid = (blo + bhi) >> 1
            h = run_pass([mid] + [None] * (K - 1))[0][0]
            passes += 1
            if h > target:
                blo = mid
            else:
                bhi = mid
            if best.err <= tol or passes >= cfg.max_passes or bhi - blo <= 1:
                break
    elif policy == "ksection":
        while True:
            cands = ksection_grid(blo, bhi, cfg)
            out = run_pass(cands)
            passes += 1
            first = next((l for l in range(K) if out[l][0] <= target), None)
            if first is None:
                blo = cands[K - 1]
            else:
                bhi = cands[first]
                if first > 0:
                    blo = cands[first - 1]
            if best.err <= tol or passes >= cfg.max_passes or bhi - blo <= 1:
                break
    else:  # fwa
        nf = cfg.fwa_fireworks
        sparks = cfg.fwa_spark_lanes
        # static lane roles: rank of the firework each lane sparks from, or -1 for Gaussian lanes
        roles = [r for r, s in enumerate(sparks) for _ in range(s)] + [-1] * cfg.fwa_gauss_sparks
        states = [lane_seed(cfg.seed, pidx, l) for l in range(K)]
        pop: list = []  # fireworks [(err, u, h)], sorted by err, distinct u

        def insert(err: int, u: int, h: int) -> None:
            if any(p[1] == u for p in pop):
                return
            pos = next((k for k, p in enumerate(pop) if err < p[0]), len(pop))
            if pos < nf:
                pop.insert(pos, (err, u, h))
                del pop[nf:]

        cands = ksection_grid(lo, hi, cfg)
        amp = max(1, (hi - lo) >> cfg.fwa_amp_init_shift)
        while True:
            prev_best = pop[0][0] if pop else None
            out = run_pass(cands)
            passes += 1
            for c, o in zip(cands, out):
                insert(abs(o[0] - target), c, o[0])
            if passes > 1:
                s = cfg.fwa_amp_adapt_shift
                amp = amp + (amp >> s) if pop[0][0] < prev_best else amp - (amp >> s)
                amp = min(max(amp, 1), hi - lo)
            if best.err <= tol or passes >= cfg.max_passes:
                break
            # next pass's candidates: every lane advances its PRNG once
            states = [xorshift32(s) for s in states]
            cands = []
            for l in range(K):
                r = roles[l]
                if r >= 0:
                    centre = pop[r][1] if r < len(pop) else pop[0][1]
                    a = amp << (r * cfg.fwa_amp_rank_shift)
                    x = centre + ((a * uniform_s16(states[l])) >> 15)
                else:
                    x = pop[0][1] + ((amp * gauss_approx(states[l])) >> 7)
                cands.append(mirror_clamp(x, lo, hi))
    return SearchResult(u=best.u, h=best.h, err=best.err, passes=passes, converged=best.err <= tol,
                        target=target, lo0=lo, hi0=hi, evaluations=evaluations, trace=traces)


def search_class(X: np.ndarray, perplexity: float, policy: str, cfg: AccelConfig, trace: bool = False,
                 row_min_shift: bool = True) -> list:
    """Search every point of one class (integer features X, shape (N, D)); one SearchResult each."""
    X = np.asarray(X, dtype=np.int64)
    perp_q = fx.perplexity_to_reg(perplexity, cfg)
    sq = (X * X).sum(axis=1)
    D = sq[:, None] + sq[None, :] - 2 * X @ X.T
    return [search_row(D[i], i, perp_q, policy, cfg, trace=trace, row_min_shift=row_min_shift)
            for i in range(len(X))]
