"""Fixed-point grid sampler (golden_model.grid_fixed): hand-made cases with known answers (ties,
the clamped maximum, degenerate embeddings), agreement with reference.grid_sample on the same
embedding converted to float (digits classes through the fixed pipeline, random embeddings), the
one kind of case where they differ (float rounding of the cell index), and input validation."""

import numpy as np
import pytest
from sklearn.datasets import load_digits

from golden_model import affinity_fixed as af
from golden_model import fixed as fx
from golden_model import grid_fixed as gf
from golden_model import reference as ref
from golden_model import search_fixed as sf
from golden_model import tsne_fixed as tf
from golden_model.config import GRID_G_LIMIT, PRESETS

DIGITS = PRESETS["digits"]


def _f(Y, cfg=DIGITS):
    return np.asarray(Y, dtype=np.float64) / (1 << cfg.y_frac)


# --------------------------------------------------------------------------- hand cases


def test_two_cells_nearest_to_centre():
    # g = 1 has one occupied cell; g = 2: {0, 3} in cell 0, {1, 2, 4} in cell 3 (5/10 -> cell 1)
    Y = np.array([[0, 0], [10, 10], [5, 5], [1, 1], [9, 9]], dtype=np.int64) << 12
    assert gf.sample_side(Y, 2) == 2
    # cell 3 (3 points) first: centre 0.75, point 4 at 0.9 is nearest; cell 0: point 3 at 0.1
    assert gf.grid_sample_fixed(Y, 2, DIGITS).tolist() == [3, 4]
    assert gf.grid_sample_fixed(Y, 1, DIGITS).tolist() == [2]  # g = 1: centre 0.5, point 2 exactly


def test_equal_distances_take_the_lower_index():
    # points 1 (1.0, clamped) and 2 (0.5) are both 0.25 from the centre 0.75 of cell 3
    Y = np.array([[0, 0], [10, 10], [5, 5], [1, 1]], dtype=np.int64) << 12
    assert gf.grid_sample_fixed(Y, 2, DIGITS).tolist() == [1, 3]
    Y2 = Y[[0, 2, 1, 3]]  # swap the tied points' indices: the lower index is still taken
    assert gf.grid_sample_fixed(Y2, 2, DIGITS).tolist() == [1, 3]


def test_population_ties_take_the_lower_cell():
    # g = 2, k = 1 is reached at g = 1 already; k = 3 on four singleton cells at g = 2 -> cells
    # 0, 1, 2 (row-major), i.e. points (0,0), (1,0), (0,1)
    Y = np.array([[10, 10], [0, 10], [10, 0], [0, 0]], dtype=np.int64)
    assert gf.sample_side(Y, 3) == 2
    assert gf.grid_sample_fixed(Y, 3, DIGITS).tolist() == [1, 2, 3]


def test_identical_points_round_robin():
    Y = np.full((5, 2), 7, dtype=np.int64)
    assert gf.grid_sample_fixed(Y, 3, DIGITS, g_limit=16).tolist() == [0, 1, 2]
    assert ref.grid_sample(_f(Y), 3, g_limit=16).tolist() == [0, 1, 2]


def test_two_positions_round_robin_most_populated_first():
    Y = np.array([[0, 0], [0, 0], [0, 0], [10, 10], [10, 10]], dtype=np.int64)
    assert gf.sample_side(Y, 3, g_limit=16) == 2                 # smallest g with the most cells
    assert gf.grid_sample_fixed(Y, 3, DIGITS, g_limit=16).tolist() == [0, 1, 3]
    assert ref.grid_sample(_f(Y), 3, g_limit=16).tolist() == [0, 1, 3]


def test_k_at_least_n_returns_everything():
    Y = np.array([[0, 0], [3, 1], [5, 2]], dtype=np.int64)
    assert gf.grid_sample_fixed(Y, 3, DIGITS).tolist() == [0, 1, 2]
    assert gf.grid_sample_fixed(Y, 10, DIGITS).tolist() == [0, 1, 2]


def test_exact_cells_where_float_rounding_differs():
    """x = 0..22 LSB plus a second point at 22, on a constant y.  Exactly, x = a lands in cell a of
    the 22 x 22 grid (22 is clamped into 21), so g = 22 reaches 22 occupied cells: cell 21 holds
    {21, 22, 23} (first, all 0.5 cell from its centre: the lowest index, 21), then cells 0..20.
    In float, 15/22 * 22 rounds to 14.999..., so the reference puts x = 15 into cell 14, sees 21
    cells at g = 22, samples the 23 x 23 grid and takes point 22 instead of 21."""
    x = np.concatenate([np.arange(23), [22]])
    Y = np.stack([x, np.zeros_like(x)], axis=1).astype(np.int64)
    assert np.floor((15 / 22) * 22) == 14                         # the float rounding itself
    assert gf.sample_side(Y, 22) == 22
    assert gf.grid_sample_fixed(Y, 22, DIGITS).tolist() == list(range(22))
    assert ref.grid_sample(_f(Y), 22).tolist() == list(range(21)) + [22]


# --------------------------------------------------------------------------- against the float sampler


@pytest.fixture(scope="module")
def digits_embeddings():
    """Fixed-point embeddings of every digits class (bisection at perplexity 30, short t-SNE)."""
    cfg = DIGITS.with_overrides(tsne_iters=120, tsne_exaggeration_iters=40)
    X, y = load_digits(return_X_y=True)
    out = []
    for c in range(10):
        Xc = X[y == c].astype(np.int64)
        D = ref.sq_distances(Xc)
        pq = fx.perplexity_to_reg(ref.effective_perplexity(30.0, len(Xc)), cfg)
        u = [sf.search_row(D[i], i, pq, "bisection", cfg).u for i in range(len(Xc))]
        out.append(tf.tsne_fixed(af.joint_fixed(D, u, cfg), cfg).Y)
    return out


def test_identical_to_float_sampler_on_digits_classes(digits_embeddings):
    for Y in digits_embeddings:
        n = Y.shape[0]
        for k in sorted({1, 2, 3, 5, 8, round(0.05 * n), round(0.1 * n), round(0.2 * n), round(0.5 * n), n - 1}):
            assert np.array_equal(gf.grid_sample_fixed(Y, k, DIGITS), ref.grid_sample(_f(Y), k)), (n, k)


@pytest.mark.parametrize("scale", [1e-4, 1.0, 200.0])
def test_identical_to_float_sampler_on_random_embeddings(scale):
    rng = np.random.default_rng(int(scale * 10) + 1)
    for _ in range(4):
        Y = np.round(rng.standard_normal((80, 2)) * scale * (1 << DIGITS.y_frac)).astype(np.int64)
        for k in (1, 4, 9, 17, 40, 79):
            assert np.array_equal(gf.grid_sample_fixed(Y, k, DIGITS), ref.grid_sample(_f(Y), k))


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize("Y, k, kw, words", [
    (np.zeros((4, 3), dtype=np.int64), 2, {}, ["Y", "(N, 2)"]),
    (np.zeros((4, 2)), 2, {}, ["Y", "integers"]),
    (np.full((4, 2), 1 << 40, dtype=np.int64), 2, {}, ["Y", "Q10.20"]),
    (np.zeros((4, 2), dtype=np.int64), 0, {}, ["k", ">= 1"]),
    (np.zeros((4, 2), dtype=np.int64), 2.0, {}, ["k", "integer"]),
    (np.zeros((4, 2), dtype=np.int64), True, {}, ["k", "integer"]),
    (np.zeros((4, 2), dtype=np.int64), 2, {"g_limit": 0}, ["g_limit", f"[1, {GRID_G_LIMIT}]"]),
    (np.zeros((4, 2), dtype=np.int64), 2, {"g_limit": GRID_G_LIMIT + 1}, ["g_limit"]),
])
def test_bad_input_is_refused(Y, k, kw, words):
    with pytest.raises(ValueError) as e:
        gf.grid_sample_fixed(Y, k, DIGITS, **kw)
    for w in words:
        assert w in str(e.value)
