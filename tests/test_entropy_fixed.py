"""Fixed-point occupancy entropy and outer perplexity search (golden_model.entropy_fixed): the
divider against Python's exact integer division, cells and in-cell offsets against exact
fractions and the float reference, the entropy against float64 within the documented bound
(random histograms, every histogram of small classes, hand cases), the perplexity registers, the
outer search's tie-break and FWA controller (against a loop written here), the whole candidate
pipeline against its parts, and input validation."""

import math
from fractions import Fraction

import numpy as np
import pytest
from sklearn.datasets import load_digits

from golden_model import affinity_fixed as af
from golden_model import entropy_fixed as ef
from golden_model import fixed as fx
from golden_model import reference as ref
from golden_model import search_fixed as sf
from golden_model import tsne_fixed as tf
from golden_model.config import GRID_G_LIMIT, PRESETS, AccelConfig, ConfigError

TINY = PRESETS["tiny"]
DIGITS = PRESETS["digits"]
COARSE = TINY.with_overrides(log_table_bits=3, recip_table_bits=3)  # the inexact-table branch
CFGS = [TINY, TINY.with_overrides(interpolate=False), COARSE, COARSE.with_overrides(interpolate=False), DIGITS]
IDS = ["tiny", "tiny-nointerp", "coarse", "coarse-nointerp", "digits"]
M32 = 0xFFFFFFFF


def _rand_y(n, cfg, scale, seed=0):
    rng = np.random.default_rng(seed)
    return np.round(rng.standard_normal((n, 2)) * scale * (1 << cfg.y_frac)).astype(np.int64)


# --------------------------------------------------------------------------- divider and cells


def test_divider_exhaustive_small():
    for qbits in range(1, 5):
        for den in range(1, 12):
            num = np.arange(den << qbits)
            q, r = ef.divide_floor(num, den, qbits)
            assert np.array_equal(q, num // den) and np.array_equal(r, num % den)


def test_divider_wide_operands():
    rng = np.random.default_rng(1)
    den = rng.integers(1, 1 << 31, 2000)
    qbits = 29  # bitlen(4096) + 16: the digits preset's widest case
    num = (rng.random(2000) * (den.astype(float) * 2.0 ** qbits)).astype(np.int64)
    num = np.minimum(num, (den << qbits) - 1)
    q, r = ef.divide_floor(num, den, qbits)
    assert all(int(a) == int(n) // int(d) and int(b) == int(n) % int(d)
               for a, b, n, d in zip(q, r, num, den))


def _cells_exact(Y, g, frac):
    """Cell and in-cell offset code with exact fractions (the documented rule, point by point)."""
    out = []
    for a in range(2):
        col = Y[:, a]
        lo, span = int(col.min()), int(col.max() - col.min())
        cells, codes = [], []
        for v in col:
            if span == 0:
                cells.append(0)
                codes.append(-(1 << frac))
                continue
            x = Fraction((int(v) - lo) * g, span)          # exact normalised position times g
            c = min(math.floor(x), g - 1)
            z = (x - c) * (1 << frac)                       # in [0, 2^frac]
            zf = math.floor(z)
            cells.append(c)
            codes.append(2 * zf - (1 << frac) + (0 if z == zf else 1))
        out.append((np.array(cells), np.array(codes)))
    return out


@pytest.mark.parametrize("g", [1, 2, 3, 5, 7, 16, 100])
def test_cells_and_offsets_match_exact_fractions(g):
    cfg = DIGITS
    Y = _rand_y(60, cfg, 5.0, seed=g)
    Y[3] = Y[7]                                             # a duplicate point
    Y[10, 0] = Y[:, 0].min() + (Y[:, 0].max() - Y[:, 0].min()) // 2  # near a boundary for even g
    col, row, ex, ey = ef.cell_coords(Y, g, cfg.grid_frac)
    (c0, e0), (c1, e1) = _cells_exact(Y, g, cfg.grid_frac)
    assert np.array_equal(col, c0) and np.array_equal(ex, e0)
    assert np.array_equal(row, c1) and np.array_equal(ey, e1)
    # the offset code is within half a code step of the true offset from the centre (float)
    Yn = ref.normalise_unit(Y.astype(np.float64))
    true = (Yn[:, 0] * g - col - 0.5) * (1 << (cfg.grid_frac + 1))
    assert np.all(np.abs(ex - true) <= 1.0 + 1e-6)


def test_cells_clamp_the_maximum_and_constant_axis():
    Y = np.array([[0, 5], [10, 5], [3, 5], [10, 5]], dtype=np.int64)  # y axis constant
    col, row, ex, ey = ef.cell_coords(Y, 4, frac=3)
    assert col.tolist() == [0, 3, 1, 3]                    # 10 -> 4 clamped to 3; 3*4/10 = 1.2 -> 1
    assert row.tolist() == [0, 0, 0, 0]
    assert ex.tolist() == [-8, 8, 2 * 1 + 1 - 8, 8]        # exact ends: -2^f and +2^f; 1.2 -> z = 1.6 -> 1
    assert ey.tolist() == [-8] * 4


@pytest.mark.parametrize("G", [2, 3, 5, 8, 16])
def test_histogram_equals_reference_cells(G):
    cfg = DIGITS
    for seed, scale in ((0, 1e-4), (1, 1.0), (2, 30.0)):
        Y = _rand_y(120, cfg, scale, seed)
        _, _, idx = ref.grid_cells(ref.normalise_unit(Y / float(1 << cfg.y_frac)), G)
        assert np.array_equal(ef.histogram(Y, G, cfg), np.bincount(idx, minlength=G * G))


# --------------------------------------------------------------------------- entropy


@pytest.mark.parametrize("cfg", CFGS, ids=IDS)
def test_entropy_within_bound_random_histograms(cfg):
    rng = np.random.default_rng(2)
    worst = 0.0
    for _ in range(1500):
        n = int(rng.integers(1, cfg.n_max + 1))
        c = np.bincount(rng.integers(0, int(rng.integers(1, n + 1)), n) ** int(rng.integers(1, 3)))
        err = abs(ef.entropy_from_counts(c, cfg) - ef.entropy_float_bits(c) * (1 << cfg.h_frac))
        b = ef.entropy_bound_lsb(n, cfg)
        assert err <= b, (c, err, b)
        worst = max(worst, err / b)
    assert worst > 0.2  # the bound is not vacuous


@pytest.mark.parametrize("cfg", [TINY, COARSE], ids=["tiny", "coarse"])
def test_entropy_within_bound_every_histogram_of_small_classes(cfg):
    def partitions(n, most):
        if n == 0:
            yield []
            return
        for first in range(min(n, most), 0, -1):
            for rest in partitions(n - first, first):
                yield [first] + rest

    for n in range(1, 19):
        b = ef.entropy_bound_lsb(n, cfg)
        for part in partitions(n, n):
            err = abs(ef.entropy_from_counts(part, cfg) - ef.entropy_float_bits(part) * (1 << cfg.h_frac))
            assert err <= b, (part, err, b)


def test_entropy_hand_cases():
    cfg = DIGITS
    one = 1 << cfg.h_frac
    assert ef.entropy_from_counts([2, 2], cfg) == one           # 1 bit, every step exact
    assert ef.entropy_from_counts([1, 1, 1, 1, 0, 0], cfg) == 2 * one
    assert ef.entropy_from_counts([8], cfg) == 0                # L(8) = 3 exactly, S / 8 = 3
    assert ef.entropy_from_counts([1], cfg) == 0
    h = ef.entropy_from_counts([1] * 100, cfg)                  # log2 100 = 6.6439 bits
    assert abs(h - math.log2(100) * one) <= ef.entropy_bound_lsb(100, cfg)


def test_occupancy_entropy_matches_reference_in_bits():
    cfg = DIGITS
    for seed in range(4):
        Y = _rand_y(150, cfg, 10.0, seed)
        G = ref.entropy_grid_side(150, cfg)
        h = ef.occupancy_entropy_fixed(Y, G, cfg)
        hf = ref.occupancy_entropy(Y / float(1 << cfg.y_frac), G) / math.log(2)
        assert abs(h - hf * (1 << cfg.h_frac)) <= ef.entropy_bound_lsb(150, cfg)


# --------------------------------------------------------------------------- perplexity registers


def test_candidate_regs_clamp_and_dedup():
    cfg = TINY.with_overrides(perplexity_candidates=(3.0, 5.0, 8.0, 7.0))
    PF = cfg.perp_frac
    assert ef.candidate_regs(cfg, 30) == [3 << PF, 5 << PF, 8 << PF, 7 << PF]
    assert ef.candidate_regs(cfg, 11) == [3 << PF, 5 << PF]     # cap (11 - 1) / 2 = 5
    assert ef.candidate_regs(cfg, 12) == [3 << PF, 5 << PF, (11 << PF) // 2]
    assert ef.candidate_regs(cfg, 3) == [1 << PF]               # cap max(1, 1) = 1
    for n in (3, 11, 12, 30):
        assert [q / (1 << PF) for q in ef.candidate_regs(cfg, n)] == ref.candidate_perplexities(cfg, n)


@pytest.mark.parametrize("cfg", [TINY, DIGITS], ids=["tiny", "digits"])
def test_perp_from_log2_is_two_to_the_v(cfg):
    Hf, PF = cfg.h_frac, cfg.perp_frac
    rel = fx.exp2neg_frac_bound_lsb(cfg) * 2.0 ** (1 - cfg.w_frac)
    for v in range(0, 7 << Hf, 37):
        exact = 2.0 ** (v / (1 << Hf) + PF)
        assert abs(ef.perp_from_log2(v, cfg) - exact) <= exact * rel + 0.5 + 1e-9
    for p in (1.5, 5.0, 30.0, 50.0):  # round trip through the log2 unit
        q = fx.perplexity_to_reg(p, cfg)
        back = ef.perp_from_log2(fx.log2_fixed(q, PF, cfg), cfg)
        assert abs(back - q) <= q * (rel + fx.log2_bound_lsb(cfg) * 2.0 ** -Hf) + 1


# --------------------------------------------------------------------------- outer search


class _Fake:
    """Stands in for embed_class_fixed: entropy = a fixed function of the register."""

    def __init__(self, fn):
        self.fn, self.calls = fn, []

    def __call__(self, D, pq, cfg, policy, tsne_seed=None, learning_rate=None):
        self.calls.append(pq)
        return ef.FixedClassEmbedding(perp_q=pq, search=[], S=None, tsne=None, h_q=self.fn(pq), grid=2)


def test_fixed_mode_ties_go_to_the_earlier_candidate(monkeypatch):
    cfg = TINY.with_overrides(perplexity_candidates=(3.0, 5.0, 8.0), perplexity_search="fixed")
    PF = cfg.perp_frac
    h = {3 << PF: 100, 5 << PF: 200, 8 << PF: 200}
    fake = _Fake(h.get)
    monkeypatch.setattr(ef, "embed_class_fixed", fake)
    ch = ef.choose_perplexity_fixed(np.zeros((30, 30), dtype=np.int64), cfg)
    assert fake.calls == [3 << PF, 5 << PF, 8 << PF]
    assert ch.perp_q == 5 << PF and ch.history == [(q, h[q]) for q in fake.calls]


def _fwa_expected(cfg, n, h_of):
    """The documented outer FWA, written out with Python integers (xorshift inline)."""
    PF, Hf = cfg.perp_frac, cfg.h_frac
    cands = ef.candidate_regs(cfg, n)
    seen = {q: h_of(q) for q in cands}
    order = list(cands)
    lo, hi = min(cands), max(cands)
    vlo, vhi = fx.log2_fixed(lo, PF, cfg), fx.log2_fixed(hi, PF, cfg)
    A = max(1, (vhi - vlo) >> cfg.fwa_amp_init_shift)
    states = []
    for r in range(cfg.fwa_fireworks):
        s = (((cfg.seed ^ 0x6F757472) & M32) + (r + 1) * 0x6C8E9CF5) & M32
        states.append(s or 1)
    for _ in range(cfg.perplexity_fwa_iters):
        best_before = max(seen.values())
        ranked = sorted(seen, key=lambda q: (-seen[q], q))[:cfg.fwa_fireworks]
        new = []
        for r, q in enumerate(ranked):
            s = states[r]
            s ^= (s << 13) & M32
            s ^= s >> 17
            s ^= (s << 5) & M32
            states[r] = s
            u = s >> 16
            u = u - 0x10000 if u >= 0x8000 else u
            x = fx.log2_fixed(q, PF, cfg) + (((A << (r * cfg.fwa_amp_rank_shift)) * u) >> 15)
            x = 2 * vhi - x if x > vhi else (2 * vlo - x if x < vlo else x)
            x = min(max(x, vlo), vhi)
            xi = -((-x) >> Hf)
            m = fx.exp2neg_frac(((xi << Hf) - x) << max(0, cfg.exp_table_bits - Hf), max(Hf, cfg.exp_table_bits), cfg)
            sh = xi + PF - cfg.w_frac
            p = m << sh if sh >= 0 else (m + (1 << (-sh - 1))) >> -sh
            new.append(min(max(p, lo), hi))
        for q in new:
            if q not in seen:
                seen[q] = h_of(q)
                order.append(q)
        A = A + (A >> cfg.fwa_amp_adapt_shift) if max(seen.values()) > best_before else A - (A >> cfg.fwa_amp_adapt_shift)
        A = min(max(A, 1), max(1, vhi - vlo))
    return order


@pytest.mark.parametrize("seed", [1, 2, 77])
def test_fwa_mode_follows_the_documented_controller(monkeypatch, seed):
    cfg = DIGITS.with_overrides(perplexity_candidates=(5.0, 10.0, 20.0, 30.0, 50.0), perplexity_search="fwa",
                                perplexity_fwa_iters=4, seed=seed)
    peak = 17 << cfg.perp_frac
    h_of = lambda q: 10_000 - abs(q - peak) // 16  # noqa: E731 - a single-peaked entropy curve
    fake = _Fake(h_of)
    monkeypatch.setattr(ef, "embed_class_fixed", fake)
    ch = ef.choose_perplexity_fixed(np.zeros((120, 120), dtype=np.int64), cfg)
    expected = _fwa_expected(cfg, 120, h_of)
    assert fake.calls == expected and len(expected) > 5       # the sparks found new registers
    assert len(set(fake.calls)) == len(fake.calls)           # nothing re-run
    assert all(5 << cfg.perp_frac <= q <= 50 << cfg.perp_frac for q in fake.calls)
    best = max(h_of(q) for q in expected)
    assert ch.perp_q == next(q for q in expected if h_of(q) == best)


def test_embed_class_fixed_is_the_composition_of_the_fixed_units():
    cfg = PRESETS["small"].with_overrides(tsne_iters=40, tsne_exaggeration_iters=15)
    X, y = load_digits(return_X_y=True)
    Xc = X[y == 5][:24].astype(np.int64)
    D = ref.sq_distances(Xc)
    pq = fx.perplexity_to_reg(6.0, cfg)
    emb = ef.embed_class_fixed(D, pq, cfg, "bisection", tsne_seed=9)
    u = [sf.search_row(D[i], i, pq, "bisection", cfg).u for i in range(24)]
    S = af.joint_fixed(D, u, cfg)
    Y = tf.tsne_fixed(S, cfg, seed=9).Y
    assert np.array_equal(emb.S, S) and np.array_equal(emb.Y, Y)
    G = ref.entropy_grid_side(24, cfg)
    assert emb.grid == G
    hf = ref.occupancy_entropy(Y / float(1 << cfg.y_frac), G) / math.log(2)
    assert abs(emb.h_q - hf * (1 << cfg.h_frac)) <= ef.entropy_bound_lsb(24, cfg)


def test_choose_fixed_mode_on_a_digits_class_evaluates_the_candidates():
    cfg = PRESETS["small"].with_overrides(tsne_iters=40, tsne_exaggeration_iters=15,
                                          perplexity_candidates=(4.0, 8.0, 30.0), perplexity_search="fixed")
    X, y = load_digits(return_X_y=True)
    D = ref.sq_distances(X[y == 2][:30])
    ch = ef.choose_perplexity_fixed(D, cfg, policy="fwa")
    regs = [q for q, _ in ch.history]
    assert regs == ef.candidate_regs(cfg, 30) == [4 << 8, 8 << 8, (29 << 8) // 2]
    hs = [h for _, h in ch.history]
    assert ch.embedding.h_q == max(hs) and ch.perp_q == regs[hs.index(max(hs))]


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize("Y, words", [
    (np.zeros((3, 3), dtype=np.int64), ["Y", "(N, 2)"]),
    (np.zeros((0, 2), dtype=np.int64), ["Y", "N >= 1"]),
    (np.zeros((3, 2)), ["Y", "integers", "float64"]),
    (np.array([[0, 1 << 31], [0, 0]], dtype=np.int64), ["Y", "Q10.20"]),
])
def test_bad_embedding_is_refused(Y, words):
    with pytest.raises(ValueError) as e:
        ef.histogram(Y, 4, DIGITS)
    for w in words:
        assert w in str(e.value)


@pytest.mark.parametrize("G", [0, GRID_G_LIMIT + 1, 2.0, True])
def test_bad_grid_side_is_refused(G):
    with pytest.raises(ValueError, match=rf"G must be an integer in \[1, {GRID_G_LIMIT}\]"):
        ef.histogram(np.zeros((3, 2), dtype=np.int64), G, DIGITS)


@pytest.mark.parametrize("counts", [[], [0, 0], [1, -1, 3], [[1, 2]]])
def test_bad_counts_are_refused(counts):
    with pytest.raises(ValueError, match="counts"):
        ef.entropy_from_counts(counts, DIGITS)


def test_grid_frac_config_validation():
    assert AccelConfig().grid_frac == 16
    with pytest.raises(ConfigError, match=r"grid_frac=19 is out of range: allowed \[1, 18\]"):
        AccelConfig(grid_frac=19)
    with pytest.raises(ConfigError, match=r"grid_frac=0"):
        AccelConfig(grid_frac=0)
    assert AccelConfig(y_frac=16, y_int_bits=8, tsne_init_frac=16, grid_frac=23).grid_frac == 23  # 8 + 16 + 1 + 13 + 23 = 61

