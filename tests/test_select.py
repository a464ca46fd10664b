"""Tests of select() (AdapSNE / NMS) and of the baselines, on a small digits subset."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits

from golden_model import baselines
from golden_model.config import PRESETS
from golden_model.select import class_budget, select

# Short t-SNE and a 2-candidate outer loop keep each select() call near a second.
CFG = PRESETS["small"].with_overrides(
    tsne_iters=200, tsne_exaggeration_iters=60, perplexity=8.0, perplexity_candidates=(4.0, 10.0),
    perplexity_search="fixed", max_passes=24)


@pytest.fixture(scope="module")
def data():
    X, y = load_digits(return_X_y=True)
    keep = np.concatenate([np.flatnonzero(y == c)[:n] for c, n in ((0, 30), (4, 25), (7, 35))])
    return X[keep], y[keep]


def _check_per_class(idx, y, ratio):
    assert idx.dtype == np.int64 and np.all(np.diff(idx) > 0)
    for c in np.unique(y):
        n = int(np.sum(y == c))
        assert int(np.sum(y[idx] == c)) == class_budget(n, ratio)


def test_class_budget():
    assert class_budget(35, 0.1) == 4  # 3.5 rounds half up
    assert class_budget(25, 0.1) == 3  # 2.5 -> 3 (Python's round would give 2)
    assert class_budget(10, 0.01) == 1  # at least one
    assert class_budget(7, 1.0) == 7


@pytest.mark.parametrize("method", ["nms", "adapsne"])
def test_select_deterministic_and_budgeted(data, method):
    X, y = data
    a, det = select(X, y, 0.2, method=method, cfg=CFG, return_details=True)
    b = select(X, y, 0.2, method=method, cfg=CFG)
    assert np.array_equal(a, b)
    _check_per_class(a, y, 0.2)
    assert set(det) == {0, 4, 7}
    for label, d in det.items():
        n = int(np.sum(y == label))
        assert d["n"] == n and d["Y"].shape == (n, 2) and d["betas"].shape == (n,)
        assert np.all(y[d["indices"]] == label) and d["indices"].size == d["k"]
        assert d["kl"] > 0 and np.isfinite(d["occupancy_entropy"])
        if method == "nms":
            assert d["perplexity"] == 8.0 and np.all(d["evaluations"] == d["passes"])
            assert d["converged"].all()
        else:
            assert d["perplexity"] in (4.0, 10.0) and len(d["perplexity_history"]) == 2
            assert np.all(d["evaluations"] == CFG.lanes * d["passes"])


def test_select_seed_changes_result(data):
    X, y = data
    a = select(X, y, 0.2, method="nms", cfg=CFG)
    b = select(X, y, 0.2, method="nms", cfg=CFG.with_overrides(seed=2))
    c = select(X, y, 0.2, method="nms", cfg=CFG.with_overrides(seed=2))
    assert np.array_equal(b, c)
    _check_per_class(b, y, 0.2)
    assert not np.array_equal(a, b)  # t-SNE init differs (checked for these seeds)


def test_select_small_ratio_and_full(data):
    X, y = data
    idx = select(X, y, 0.01, method="nms", cfg=CFG)
    assert idx.size == 3
    assert np.array_equal(select(X, y, 1.0, method="nms", cfg=CFG), np.arange(len(y)))


@pytest.mark.parametrize("ratio", [0, 0.0, -0.1, 1.0001, 2, float("nan"), float("inf"), "0.5", None, True])
def test_select_rejects_bad_ratio(data, ratio):
    X, y = data
    with pytest.raises(ValueError, match="ratio"):
        select(X, y, ratio, method="nms", cfg=CFG)


def test_select_error_cases(data):
    X, y = data
    with pytest.raises(ValueError, match="unknown method 'foo'"):
        select(X, y, 0.1, method="foo", cfg=CFG)
    with pytest.raises(ValueError, match="unknown arithmetic"):
        select(X, y, 0.1, method="nms", cfg=CFG, arithmetic="double")
    with pytest.raises(ValueError, match="unknown search policy"):
        select(X, y, 0.1, method="nms", cfg=CFG, policy="newton")
    y1 = y.copy()
    y1[0] = 99  # a singleton class
    with pytest.raises(ValueError, match=r"class 99 has 1 sample\(s\); every class needs at least 2"):
        select(X, y1, 0.1, method="nms", cfg=CFG)
    Xn = X.astype(float).copy()
    Xn[3, 5] = np.nan
    with pytest.raises(ValueError, match="non-finite value \\(nan\\) at row 3, column 5"):
        select(Xn, y, 0.1, method="nms", cfg=CFG)
    Xi = X.astype(float).copy()
    Xi[1, 1] = np.inf
    with pytest.raises(ValueError, match="non-finite"):
        select(Xi, y, 0.1, method="adapsne", cfg=CFG)
    with pytest.raises(ValueError, match="integer feature values"):
        select(X + 0.5, y, 0.1, method="nms", cfg=CFG)
    with pytest.raises(ValueError, match="but y has"):
        select(X, y[:-1], 0.1, method="nms", cfg=CFG)
    with pytest.raises(ValueError, match="2-D"):
        select(X[0], y[:1], 0.1, method="nms", cfg=CFG)


# ------------------------------------------------------------------------------ baselines
@pytest.mark.parametrize("name", ["random", "kcenter", "herding"])
def test_baselines_budget_and_determinism(data, name):
    X, y = data
    a = baselines.baseline_select(X, y, 0.2, name, seed=3)
    b = baselines.baseline_select(X, y, 0.2, name, seed=3)
    assert np.array_equal(a, b)
    _check_per_class(a, y, 0.2)
    assert np.array_equal(baselines.baseline_select(X, y, 1.0, name), np.arange(len(y)))


def test_random_baseline_seeded(data):
    X, y = data
    assert not np.array_equal(baselines.random_select(X, y, 0.2, seed=1),
                              baselines.random_select(X, y, 0.2, seed=2))


def test_kcenter_and_herding_first_pick_is_nearest_mean(data):
    X, y = data
    Xc = X[y == 4].astype(float)
    nearest = int(np.argmin(((Xc - Xc.mean(0)) ** 2).sum(1)))
    assert baselines._kcenter(Xc, 1).tolist() == [nearest]
    assert baselines._herd(Xc, 1).tolist() == [nearest]
    # k-center: the second pick is the point farthest from the first
    far = int(np.argmax(((Xc - Xc[nearest]) ** 2).sum(1)))
    assert baselines._kcenter(Xc, 2).tolist() == [nearest, far]


def test_herding_tracks_the_mean():
    rng = np.random.default_rng(0)
    Xc = rng.standard_normal((200, 5))
    mu = Xc.mean(0)
    h = Xc[baselines._herd(Xc, 20)].mean(0)
    r = Xc[rng.choice(200, 20, replace=False)].mean(0)
    assert np.linalg.norm(h - mu) < 0.25 * np.linalg.norm(r - mu)


def test_kcenter_handles_duplicates():
    Xc = np.zeros((6, 3))
    assert sorted(baselines._kcenter(Xc, 4).tolist()) == [0, 1, 2, 3]


def test_baselines_errors(data):
    X, y = data
    with pytest.raises(ValueError, match="ratio"):
        baselines.kcenter_greedy(X, y, 0)
    with pytest.raises(ValueError, match="unknown baseline"):
        baselines.baseline_select(X, y, 0.1, "coreset")
    Xn = X.astype(float).copy()
    Xn[0, 0] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        baselines.herding(Xn, y, 0.1)
