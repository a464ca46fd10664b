"""Fixed-point function units against float64, within their documented error bounds.

Exhaustive over every table index and fraction where the input space is small (tiny preset,
with and without interpolation), dense samples otherwise; plus hypothesis properties."""

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from golden_model import fixed as fx
from golden_model.config import PRESETS, AccelConfig

TINY = PRESETS["tiny"]
CFGS = [TINY, TINY.with_overrides(interpolate=False), PRESETS["digits"],
        PRESETS["digits"].with_overrides(exp_table_bits=4, log_table_bits=4, recip_table_bits=4, interpolate=False)]
IDS = ["tiny", "tiny-nointerp", "digits", "digits-4bit-nointerp"]


def _fracs(cfg, bits):
    n = 1 << bits
    if n <= 1 << 14:
        return np.arange(n)
    return np.unique(np.concatenate([np.arange(0, n, 7), np.arange(n - 64, n)]))


@pytest.mark.parametrize("cfg", CFGS, ids=IDS)
def test_exp2neg_frac_within_bound(cfg):
    bound = fx.exp2neg_frac_bound_lsb(cfg)
    T = cfg.t_frac
    worst = 0.0
    for f in _fracs(cfg, T):
        got = fx.exp2neg_frac(int(f), T, cfg)
        ref = 2.0 ** cfg.w_frac * 2.0 ** (-f / 2 ** T)
        worst = max(worst, abs(got - ref))
    assert worst <= bound, (worst, bound)
    # the bound is not vacuous: the worst case uses a good part of it
    assert worst >= 0.25 * bound or worst >= 0.9


@pytest.mark.parametrize("cfg", CFGS, ids=IDS)
def test_exp2neg_within_bound_and_zero_beyond_range(cfg):
    bound = fx.exp2neg_bound_lsb(cfg)
    T, W = cfg.t_frac, cfg.w_frac
    step = 1 if (W + 2) << T <= 1 << 16 else 13
    for t in range(0, (W + 2) << T, step):
        got = fx.exp2neg(t, cfg)
        ref = 2.0 ** W * 2.0 ** (-t / 2 ** T)
        assert abs(got - ref) <= bound, (t, got, ref, bound)
        if (t >> T) > W:
            assert got == 0
    assert fx.exp2neg(0, cfg) == 1 << W  # the row minimum contributes exactly 1.0


@pytest.mark.parametrize("cfg", CFGS, ids=IDS)
def test_log2_within_bound(cfg):
    bound = fx.log2_bound_lsb(cfg)
    # every mantissa at several exponents, and the perplexity-register inputs
    xs = [int(m) + (1 << cfg.w_frac) for m in _fracs(cfg, cfg.w_frac)]
    for shift in (0, 3):
        for x in xs[:: max(1, len(xs) // 3000)]:
            xq = x << shift
            got = fx.log2_fixed(xq, cfg.w_frac, cfg)
            ref = 2.0 ** cfg.h_frac * math.log2(xq / 2 ** cfg.w_frac)
            assert abs(got - ref) <= bound, (xq, got, ref, bound)
    for pq in range((1 << cfg.perp_frac) + 1, cfg.n_max << cfg.perp_frac, 37):
        got = fx.target_entropy(pq, cfg)
        ref = 2.0 ** cfg.h_frac * math.log2(pq / 2 ** cfg.perp_frac)
        assert abs(got - ref) <= bound


@pytest.mark.parametrize("cfg", CFGS, ids=IDS)
def test_recip_within_bound(cfg):
    bound = fx.recip_bound_lsb(cfg)
    W = cfg.w_frac
    for mn in _fracs(cfg, W):
        got = fx.recip_mantissa(int(mn), cfg)
        ref = 2.0 ** W / (1 + mn / 2 ** W)
        assert abs(got - ref) <= bound, (mn, got, ref, bound)


def test_bounds_without_interpolation_are_much_looser():
    on, off = TINY, TINY.with_overrides(interpolate=False)
    assert fx.exp2neg_frac_bound_lsb(off) > 5 * fx.exp2neg_frac_bound_lsb(on)


def test_tables_have_exact_endpoints():
    for cfg in CFGS:
        e = fx.exp2neg_table(cfg.exp_table_bits, cfg.w_frac)
        assert e[0] == 1 << cfg.w_frac and e[-1] == 1 << (cfg.w_frac - 1)
        lg = fx.log2_table(cfg.log_table_bits, cfg.h_frac)
        assert lg[0] == 0 and lg[-1] == 1 << cfg.h_frac
        r = fx.recip_table(cfg.recip_table_bits, cfg.w_frac)
        assert r[0] == 1 << cfg.w_frac and r[-1] == 1 << (cfg.w_frac - 1)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 4000), min_size=3, max_size=40), st.integers(-14000, 5000))
def test_row_entropy_fixed_close_to_float(row, u_q):
    """The fixed-point row entropy stays close to float64 at the same (quantised) b."""
    cfg = PRESETS["digits"]
    row = [0] + row  # point 0 is the query; D_00 = 0
    others = row[1:]
    m = min(others)
    h_q, z, t = fx.evaluate_candidate(tuple(row), 0, m, u_q, cfg)
    b = 2.0 ** (u_q / 2 ** cfg.u_frac)
    d = np.array(others, dtype=float) - m
    tt = b * d
    w = 2.0 ** -tt
    H = math.log2(w.sum()) + (tt * w).sum() / w.sum()
    # per-term errors of a few LSB of 2^-16, summed over <= 40 terms, and the log/recip units
    assert abs(h_q / 2 ** cfg.h_frac - H) < 0.01
    assert z >= 1 << cfg.w_frac


def test_vectorised_evaluation_identical_to_scalar():
    rng = np.random.default_rng(3)
    for cfg in (TINY, PRESETS["digits"], TINY.with_overrides(interpolate=False)):
        X = rng.integers(0, cfg.feature_max + 1, size=(12, 6))
        rs = fx.row_stats(X, 5)
        lo, hi = fx.search_range(rs.maximum - rs.minimum, cfg)
        us = [int(u) for u in np.linspace(lo, hi, 23)]
        vec = fx.evaluate_candidates_np(np.array(rs.row), 5, rs.minimum, us, cfg)
        for u, v in zip(us, vec):
            assert v == fx.evaluate_candidate(rs.row, 5, rs.minimum, u, cfg)
