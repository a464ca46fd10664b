"""Fixed-point conditional / joint affinities (golden_model.affinity_fixed): bit-exact against a
scalar loop over the lane's units, the search's own kernel, the documented error bound, the
memory table of docs/fixed_point.md."""

from pathlib import Path

import numpy as np
import pytest

from golden_model import affinity_fixed as af
from golden_model import fixed as fx
from golden_model import reference as ref
from golden_model import search_fixed as sf
from golden_model.config import PRESETS

TINY = PRESETS["tiny"]
DIGITS = PRESETS["digits"]
CFGS = [TINY, TINY.with_overrides(interpolate=False), DIGITS]
IDS = ["tiny", "tiny-nointerp", "digits"]
DOCS = Path(__file__).resolve().parents[1] / "docs" / "fixed_point.md"


def _class(cfg, n=14, seed=3):
    """A small random class within the preset's feature range, its distances and searched u."""
    rng = np.random.default_rng(seed)
    d = min(cfg.d_max, 8)
    X = rng.integers(0, cfg.feature_max + 1, size=(n, d))
    X[1] = X[0]  # a duplicate: a zero distance off the diagonal
    res = sf.search_class(X, 4.0, "fwa", cfg)
    return X, ref.sq_distances(X).astype(np.int64), af.searched_u(res)


def _loop_conditional(D, u, cfg):
    """The documented arithmetic, one element at a time with the scalar units of fixed.py."""
    n = len(D)
    W, PF = cfg.w_frac, cfg.p_frac
    out = [[0] * n for _ in range(n)]
    for i in range(n):
        m = min(int(D[i][j]) for j in range(n) if j != i)
        bm, ui = fx.candidate_multiplier(int(u[i]), cfg)
        w = {j: fx.kernel_terms(int(D[i][j]) - m, bm, ui, cfg)[0] for j in range(n) if j != i}
        z = sum(w.values())
        p, mn = fx.normalise(z, cfg)
        r = fx.recip_mantissa(mn, cfg)
        for j, wj in w.items():
            out[i][j] = min((wj * r) >> (W + p - PF), (1 << PF) - 1)
    return np.array(out, dtype=np.int64)


@pytest.mark.parametrize("cfg", CFGS, ids=IDS)
def test_weights_are_the_search_kernel(cfg):
    _, D, u = _class(cfg)
    w, z, m = af.class_weights(D, u, cfg)
    for i in range(len(D)):
        _, z_search, _ = fx.evaluate_candidate(tuple(int(v) for v in D[i]), i, int(m[i]), int(u[i]), cfg)
        assert int(z[i]) == z_search


@pytest.mark.parametrize("cfg", CFGS, ids=IDS)
def test_conditional_bit_exact_against_scalar_loop(cfg):
    _, D, u = _class(cfg)
    assert np.array_equal(af.conditional_fixed(D, u, cfg), _loop_conditional(D, u, cfg))


@pytest.mark.parametrize("cfg", CFGS, ids=IDS)
def test_conditional_within_documented_bound(cfg):
    _, D, u = _class(cfg, n=20, seed=5)
    Pc = af.conditional_fixed(D, u, cfg)
    beta = 2.0 ** (u / (1 << cfg.u_frac)) * np.log(2.0)
    err = np.abs(Pc - ref.conditional_p(D, beta) * (1 << cfg.p_frac))
    bound = af.conditional_error_bound(D, u, cfg)
    assert (err <= bound).all(), float((err - bound).max())
    assert err.max() >= 1.0  # the comparison is not trivially exact


def test_conditional_bound_is_tight_enough_on_digits():
    """With the digits preset the bound is a few tens of LSB of 2^-16: small against p ~ 1/30."""
    from sklearn.datasets import load_digits
    X, y = load_digits(return_X_y=True)
    Xc = X[y == 7][:50].astype(np.int64)
    D = ref.sq_distances(Xc).astype(np.int64)
    u = af.searched_u(sf.search_class(Xc, 10.0, "fwa", DIGITS))
    Pc = af.conditional_fixed(D, u, DIGITS)
    beta = 2.0 ** (u / (1 << DIGITS.u_frac)) * np.log(2.0)
    err = np.abs(Pc - ref.conditional_p(D, beta) * (1 << DIGITS.p_frac))
    bound = af.conditional_error_bound(D, u, DIGITS)
    assert (err <= bound).all()
    assert bound.max() <= 64


@pytest.mark.parametrize("cfg", CFGS, ids=IDS)
def test_rows_sum_to_one_within_floor_and_normalisation(cfg):
    _, D, u = _class(cfg)
    Pc = af.conditional_fixed(D, u, cfg)
    n = len(D)
    rel = (2 * fx.recip_bound_lsb(cfg) + 1) * 2.0 ** -cfg.w_frac
    one = 1 << cfg.p_frac
    rows = Pc.sum(axis=1)
    assert (rows <= one * (1 + rel)).all()
    assert (rows >= one * (1 - rel) - (n - 1)).all()


def test_joint_pair_sums_symmetric_zero_diagonal():
    _, D, u = _class(TINY)
    Pc = af.conditional_fixed(D, u, TINY)
    S = af.joint_fixed(D, u, TINY)
    assert np.array_equal(S, S.T) and not np.diag(S).any()
    assert np.array_equal(S, Pc + Pc.T)
    assert S.max() < 1 << (TINY.p_frac + 1)  # fits UQ1.p_frac
    P = af.joint_to_float(S, TINY)
    rel = (2 * fx.recip_bound_lsb(TINY) + 1) * 2.0 ** -TINY.w_frac
    assert abs(P.sum() - 1.0) <= rel + (len(D) - 1) * 2.0 ** -TINY.p_frac  # mean row sum


def test_two_points_saturate_below_one():
    D = np.array([[0, 9], [9, 0]])
    Pc = af.conditional_fixed(D, [0, 0], TINY)
    assert Pc[0, 1] == Pc[1, 0] == (1 << TINY.p_frac) - 1  # 1.0 does not fit UQ0.p_frac


@pytest.mark.parametrize("D, u, msg", [
    (np.zeros((3, 2), dtype=np.int64), [0, 0, 0], "square matrix"),
    (np.zeros((1, 1), dtype=np.int64), [0], "square matrix"),
    (np.zeros((40, 40), dtype=np.int64), [0] * 40, "exceeds n_max=32"),
    (np.array([[0, -1], [-1, 0]]), [0, 0], "integer squared distances"),
    (np.array([[0.0, 1.0], [1.0, 0.0]]), [0, 0], "integer squared distances"),
    (np.array([[0, 1], [1, 0]]), [0], "one searched u per point"),
])
def test_bad_inputs_are_named(D, u, msg):
    with pytest.raises(ValueError, match=msg):
        af.conditional_fixed(D, u, TINY)


def test_memory_bits_hand_computed():
    mb = af.memory_bits(256, DIGITS)
    assert mb["p_triangle"] == 256 * 255 // 2 * 17          # 16 fraction bits + 1 integer bit
    assert mb["p_dense"] == 256 * 256 * 17
    assert mb["d_triangle"] == 256 * 255 // 2 * 16          # 64 * 31^2 = 61504 < 2^16
    assert mb["p_sparse"] == 256 * 180 * (8 + 17)
    assert mb["embedding"] == 256 * 2 * (2 * 31 + 8 + 12)


def test_docs_memory_table_is_generated():
    assert af.memory_table_md(DIGITS) in DOCS.read_text()
