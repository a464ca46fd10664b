"""Bit-accurate fixed-point arithmetic of the accelerator (the RTL's oracle).

Everything here works on Python integers with explicit formats, exactly as the hardware computes:
tables are rounded once at generation time, every later step is a floor (arithmetic right shift)
or an exact integer operation.  No float enters a computed value except when a table is built.
Formats are documented in docs/fixed_point.md; `W`, `T`, `U`, `Hf` below are cfg.w_frac,
cfg.t_frac, cfg.u_frac and cfg.h_frac.

Naming: a trailing `_q` means "fixed-point integer"; the value is `x_q / 2**frac`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .config import AccelConfig

# --------------------------------------------------------------------------- tables


@lru_cache(maxsize=None)
def exp2neg_table(index_bits: int, out_frac: int) -> tuple:
    """round(2^out_frac * 2^(-k / 2^index_bits)) for k = 0 .. 2^index_bits (one extra entry for
    interpolation).  Values lie in [2^(out_frac-1), 2^out_frac] (format UQ1.out_frac)."""
    n = 1 << index_bits
    return tuple(int(math.floor((2.0 ** out_frac) * 2.0 ** (-k / n) + 0.5)) for k in range(n + 1))


@lru_cache(maxsize=None)
def log2_table(index_bits: int, out_frac: int) -> tuple:
    """round(2^out_frac * log2(1 + k / 2^index_bits)), k = 0 .. 2^index_bits; values in [0, 2^out_frac]."""
    n = 1 << index_bits
    return tuple(int(math.floor((2.0 ** out_frac) * math.log2(1.0 + k / n) + 0.5)) for k in range(n + 1))


@lru_cache(maxsize=None)
def recip_table(index_bits: int, out_frac: int) -> tuple:
    """round(2^out_frac / (1 + k / 2^index_bits)), k = 0 .. 2^index_bits; values in [2^(out_frac-1), 2^out_frac]."""
    n = 1 << index_bits
    return tuple(int(math.floor((2.0 ** out_frac) / (1.0 + k / n) + 0.5)) for k in range(n + 1))


def table_interp(table: tuple, frac_q: int, frac_bits: int, index_bits: int, interpolate: bool) -> int:
    """Look up a table indexed by the top `index_bits` of a `frac_bits`-bit fraction.

    With interpolation the remaining r = frac_bits - index_bits bits weight the next entry:
    y = y0 + floor((y1 - y0) * rem / 2^r)  (floor of a possibly negative product, i.e. arithmetic
    shift, as the hardware does it)."""
    if isinstance(frac_q, np.ndarray):      # the vectorised golden model: same integers, int64
        table = np.asarray(table, dtype=np.int64)
    r = frac_bits - index_bits
    idx = frac_q >> r
    y0 = table[idx]
    if not interpolate or r == 0:
        return y0
    rem = frac_q & ((1 << r) - 1)
    return y0 + (((table[idx + 1] - y0) * rem) >> r)


# --------------------------------------------------------------------------- function units


def exp2neg_frac(f_q: int, frac_bits: int, cfg: AccelConfig) -> int:
    """2^-f for a fraction f = f_q / 2^frac_bits in [0, 1); result UQ1.W in [2^(W-1), 2^W]."""
    tab = exp2neg_table(cfg.exp_table_bits, cfg.w_frac)
    return table_interp(tab, f_q, frac_bits, cfg.exp_table_bits, cfg.interpolate)


def exp2neg(t_q: int, cfg: AccelConfig) -> int:
    """w = 2^-t for t = t_q / 2^T >= 0, format UQ1.W: integer part n shifts the table value right.
    t >= W + 1 gives 0 (the shifter's range ends there)."""
    T, W = cfg.t_frac, cfg.w_frac
    n = t_q >> T
    if n > W:
        return 0
    mant = exp2neg_frac(t_q & ((1 << T) - 1), T, cfg)
    return mant >> n


def log2_fixed(x_q: int, x_frac: int, cfg: AccelConfig) -> int:
    """log2 of x = x_q / 2^x_frac (x_q > 0) in Q.h_frac, by leading-one detection + table.

    p = position of the leading one; e = p - x_frac; mantissa m = (x_q - 2^p) / 2^p normalised to a
    W-bit fraction (floor); log2 x = e + log2(1 + m) from the table."""
    if x_q <= 0:
        raise ValueError("log2 of a non-positive value")
    p = x_q.bit_length() - 1
    mn = ((x_q - (1 << p)) << cfg.w_frac) >> p
    tab = log2_table(cfg.log_table_bits, cfg.h_frac)
    frac = table_interp(tab, mn, cfg.w_frac, cfg.log_table_bits, cfg.interpolate)
    return ((p - x_frac) << cfg.h_frac) + frac


def recip_mantissa(mn: int, cfg: AccelConfig) -> int:
    """1/(1+m) for a W-bit mantissa fraction m, format UQ1.W."""
    tab = recip_table(cfg.recip_table_bits, cfg.w_frac)
    return table_interp(tab, mn, cfg.w_frac, cfg.recip_table_bits, cfg.interpolate)


def normalise(x_q: int, cfg: AccelConfig) -> tuple:
    """Leading-one detection: x_q = 2^p (1 + mn / 2^W) (mn floored).  Returns (p, mn)."""
    p = x_q.bit_length() - 1
    return p, ((x_q - (1 << p)) << cfg.w_frac) >> p


# --------------------------------------------------------------------------- the lane's datapath


def candidate_multiplier(u_q: int, cfg: AccelConfig) -> tuple:
    """b = 2^u as (bm, ui): u = ui - g with ui = ceil(u), g in [0,1); b = bm * 2^(ui - W) with
    bm = 2^-g in UQ1.W from the exp2 unit (so bm in (2^(W-1), 2^W])."""
    U = cfg.u_frac
    ui = -((-u_q) >> U)  # ceil
    g = (ui << U) - u_q
    return exp2neg_frac(g, U, cfg), ui


def exponent_arg(d: int, bm: int, ui: int, cfg: AccelConfig) -> tuple:
    """t = b*d in UQ.T, and whether it saturated (t >= W+1, where w is 0 anyway).

    t_q = floor(d * bm * 2^(ui - W + T)); saturated values are returned as the clamp value
    (W+1) << T."""
    s = ui - cfg.w_frac + cfg.t_frac
    prod = d * bm
    t_q = prod << s if s >= 0 else prod >> (-s)
    limit = (cfg.w_frac + 1) << cfg.t_frac
    if t_q >= limit:
        return limit, True
    return t_q, False


def kernel_terms(d: int, bm: int, ui: int, cfg: AccelConfig) -> tuple:
    """One element of a row for one lane: (w, tw) with w = 2^-t in UQ1.W and tw = floor(t*w) in
    UQ.W (the product t_q * w has T + W fraction bits; T of them are dropped)."""
    t_q, sat = exponent_arg(d, bm, ui, cfg)
    if sat:
        return 0, 0
    w = exp2neg(t_q, cfg)
    return w, (t_q * w) >> cfg.t_frac


def row_end_entropy(z: int, tacc: int, cfg: AccelConfig) -> int:
    """H = log2 Z + T/Z in Q.h_frac from the accumulators (both UQ.W).  Z >= 2^W always holds
    (the row minimum contributes exactly 1.0), so e >= 0 below.

    log2 Z: leading one p, e = p - W, table log2(1+m).
    T/Z  : 1/Z = 2^-e * r/2^W with r = recip(m) in UQ1.W, so T/Z in Q.h_frac is
           floor(tacc * r / 2^(2W - h_frac + e))."""
    W, Hf = cfg.w_frac, cfg.h_frac
    if z <= 0:
        # Only reachable in the study-only variant without the row-minimum shift (every weight
        # underflowed); the hardware always has Z >= 1.0.  Report H = 0.
        return 0
    p, mn = normalise(z, cfg)
    e = p - W
    tab = log2_table(cfg.log_table_bits, Hf)
    log2z = (e << Hf) + table_interp(tab, mn, W, cfg.log_table_bits, cfg.interpolate)
    r = recip_mantissa(mn, cfg)
    sh = 2 * W - Hf + e
    q = (tacc * r) >> sh if sh >= 0 else (tacc * r) << (-sh)
    return log2z + q


def target_entropy(perp_q: int, cfg: AccelConfig) -> int:
    """log2(Perp) in Q.h_frac for the perplexity register perp_q (UQ.perp_frac)."""
    return log2_fixed(perp_q, cfg.perp_frac, cfg)


def perplexity_to_reg(perplexity: float, cfg: AccelConfig) -> int:
    """The host's quantisation of a perplexity into the register format (round to nearest)."""
    return int(math.floor(perplexity * (1 << cfg.perp_frac) + 0.5))


def perplexity_max(n: int) -> float:
    """Largest perplexity allowed for a class of ``n`` points: ``(n - 1) / 2``.

    The one perplexity rule of the project (our choice): a conditional distribution has n - 1
    terms, so perplexities close to n - 1 make every affinity nearly uniform and are not reached
    by the search; halving keeps the target where H varies.  The core refuses a START with
    ``PERP > perp_reg_max(N)`` (error PERP_RANGE), the golden model and the host clamp to it
    (`reference.perplexity_cap`).  Together with ``Perp > 1`` classes of N <= 3 have no valid
    perplexity on the core.
    """
    return (n - 1) / 2.0


def perp_reg_max(n, cfg: AccelConfig):
    """Largest PERP register value START accepts for ``N = n``: ``floor((n - 1) 2^perp_frac / 2)``,
    i.e. `perplexity_max` in register units (``perplexity_to_reg(perplexity_max(n)) ==
    perp_reg_max(n)``).  Written with shifts only so that ``n`` may also be an Amaranth value (the
    RTL's START check is built from this function)."""
    return ((n - 1) << cfg.perp_frac) >> 1


@dataclass(frozen=True)
class RowStats:
    """What the distance engine delivers per point: the row (self excluded), min and max."""
    row: tuple          # D_ij for all j (self included, ignored by the search)
    minimum: int        # m_i = min_{j != i} D_ij
    maximum: int        # max_{j != i} D_ij


def row_stats(X: np.ndarray, i: int) -> RowStats:
    xi = X[i].astype(np.int64)
    row = ((X.astype(np.int64) - xi) ** 2).sum(axis=1)
    others = np.delete(row, i)
    return RowStats(tuple(int(v) for v in row), int(others.min()), int(others.max()))


def search_range(dmax_shifted: int, cfg: AccelConfig) -> tuple:
    """[u_lo, u_hi] in u LSBs.  At u_lo every shifted distance gives t < 1/4 (H near its maximum
    log2(N-1)); at u_hi every non-minimum term is 0 (H at its minimum)."""
    u_lo = -((dmax_shifted.bit_length() + 2) << cfg.u_frac)
    return u_lo, cfg.u_hi


def evaluate_candidate(row: tuple, i: int, m: int, u_q: int, cfg: AccelConfig) -> tuple:
    """One lane, one pass: (H_q, Z, T) for candidate u over the whole row."""
    bm, ui = candidate_multiplier(u_q, cfg)
    z = tacc = 0
    for j, dij in enumerate(row):
        if j == i:
            continue
        w, tw = kernel_terms(dij - m, bm, ui, cfg)
        z += w
        tacc += tw
    return row_end_entropy(z, tacc, cfg), z, tacc


def kernel_terms_np(d: np.ndarray, bm, s, cfg: AccelConfig) -> tuple:
    """`kernel_terms` on arrays: ``(t, w)`` for shifted distances ``d`` (int64) with multiplier
    ``bm`` and exponent shift ``s = ui - W + T`` (scalars or arrays broadcasting against ``d``).
    Needs ``d * bm < 2^62``."""
    W, T = cfg.w_frac, cfg.t_frac
    limit = (W + 1) << T
    prod = d * np.asarray(bm, dtype=np.int64)
    s = np.asarray(s, dtype=np.int64)
    sl = np.maximum(s, 0)
    # guard the left shift against overflow: anything above ceil(limit / 2^s) saturates anyway
    over = prod >= ((limit + (np.int64(1) << sl) - 1) >> sl)
    t = np.where(s >= 0, np.where(over, limit, prod << sl), prod >> np.maximum(-s, 0))
    sat = t >= limit
    t = np.where(sat, 0, t)
    n = t >> T
    mant = table_interp(exp2neg_table(cfg.exp_table_bits, W), t & ((1 << T) - 1), T,
                           cfg.exp_table_bits, cfg.interpolate)
    return t, np.where(sat | (n > W), 0, mant >> np.minimum(n, 62))


def evaluate_candidates_np(row: np.ndarray, i: int, m: int, us: list, cfg: AccelConfig) -> list:
    """Vectorised `evaluate_candidate` for many candidates (identical integers, for speed).

    Uses int64 / Python-int-safe steps: d*bm < 2^(dist_bits + W + 1) must fit in 63 bits."""
    if cfg.dist_bits + cfg.w_frac + 2 > 62:
        return [evaluate_candidate(tuple(int(v) for v in row), i, m, u, cfg) for u in us]
    d = np.delete(np.asarray(row, dtype=np.int64), i) - m
    W, T = cfg.w_frac, cfg.t_frac
    out = []
    for u_q in us:
        bm, ui = candidate_multiplier(u_q, cfg)
        t, w = kernel_terms_np(d, bm, ui - W + T, cfg)
        tw = (t * w) >> T
        z = int(w.sum())
        tacc = int(tw.sum())
        out.append((row_end_entropy(z, tacc, cfg), z, tacc))
    return out


# --------------------------------------------------------------------------- documented error bounds
# Each bound is the worst case of (table rounding 0.5 LSB) + (interpolation or step error of the
# function, from its derivatives) + (1 LSB per floor).  tests/test_fixed.py checks them
# exhaustively (every table index and fraction) for small formats and on dense samples otherwise.

LN2 = math.log(2.0)


def exp2neg_frac_bound_lsb(cfg: AccelConfig) -> float:
    """|exp2neg_frac(f) - 2^W 2^-f| in UQ1.W LSBs, f with any number of fraction bits."""
    h = 2.0 ** -cfg.exp_table_bits
    scale = 2.0 ** cfg.w_frac
    if cfg.interpolate:  # convex: chord error <= h^2/8 max|f''|, plus the floored product
        return 0.5 + 1.0 + scale * h * h * LN2 * LN2 / 8
    return 0.5 + scale * (1.0 - 2.0 ** -h)  # step error of a floor-indexed table


def exp2neg_bound_lsb(cfg: AccelConfig) -> float:
    """|exp2neg(t_q) - 2^W 2^-t| for exactly representable t (one more LSB for the final shift)."""
    return exp2neg_frac_bound_lsb(cfg) + 1.0


def log2_bound_lsb(cfg: AccelConfig) -> float:
    """|log2_fixed(x) - 2^Hf log2(x)| in Q.h_frac LSBs (mantissa floored to W bits included)."""
    h = 2.0 ** -cfg.log_table_bits
    scale = 2.0 ** cfg.h_frac
    mant = scale * (2.0 ** -cfg.w_frac) / LN2
    if cfg.interpolate:  # concave, |f''| <= 1/ln2
        return 0.5 + 1.0 + scale * h * h / (8 * LN2) + mant
    return 0.5 + scale * h / LN2 + mant


def recip_bound_lsb(cfg: AccelConfig) -> float:
    """|recip_mantissa(mn) - 2^W / (1 + mn 2^-W)| in UQ1.W LSBs."""
    h = 2.0 ** -cfg.recip_table_bits
    scale = 2.0 ** cfg.w_frac
    if cfg.interpolate:  # convex, |f''| <= 2
        return 0.5 + 1.0 + scale * h * h / 4
    return 0.5 + scale * h
