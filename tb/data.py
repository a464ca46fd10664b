"""Test data for the RTL runs: synthetic classes and scikit-learn's digits (shipped with sklearn,
no download).

* `digits_train()` — the project's split: stratified 70/30, `train_test_split(random_state=0,
  stratify=y)`; returns the training features (uint, 0..16, 64 per image) and labels.
* `digits_classes(cfg, ...)` — per-class feature matrices that fit a configuration: if
  `cfg.d_max < 64` the 8x8 images are pooled (2x2 sums -> 16 features, 0..64; 4x4 sums -> 4
  features), classes are subsampled to at most `n_per_class` points (deterministically, the first
  ones of the training split) and features are checked against `feature_bits`.
* `synthetic_class(...)` — clustered random integer features (seeded).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from golden_model.config import AccelConfig


@lru_cache(maxsize=1)
def digits_train() -> tuple:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    X, y = load_digits(return_X_y=True)
    X = X.astype(np.int64)
    Xtr, _Xte, ytr, _yte = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
    return Xtr, ytr


def pool(X: np.ndarray, d_max: int) -> np.ndarray:
    """Sum-pool 8x8 digit images until at most d_max features remain."""
    img = X.reshape(-1, 8, 8)
    k = 1
    while (8 // k) ** 2 > d_max:
        k *= 2
    if k > 8:
        raise ValueError(f"d_max={d_max} too small for pooled digits")
    return img.reshape(-1, 8 // k, k, 8 // k, k).sum(axis=(2, 4)).reshape(len(X), -1)


def digits_classes(cfg: AccelConfig, classes=None, n_per_class: int | None = None) -> list:
    """[(label, X_class)] fitted to cfg (pooled if needed, subsampled to n_per_class <= n_max)."""
    Xtr, ytr = digits_train()
    Xp = pool(Xtr, cfg.d_max) if cfg.d_max < 64 else Xtr
    if int(Xp.max()) > cfg.feature_max:
        raise ValueError(f"digits features reach {int(Xp.max())} > feature_max {cfg.feature_max} of {cfg.name}")
    labels = sorted(set(int(v) for v in ytr)) if classes is None else list(classes)
    cap = cfg.n_max if n_per_class is None else min(n_per_class, cfg.n_max)
    out = []
    for c in labels:
        Xc = Xp[ytr == c][:cap]
        out.append((c, Xc))
    return out


def synthetic_class(n: int, d: int, cfg: AccelConfig, seed: int, clusters: int = 3) -> np.ndarray:
    """Clustered integer features in [0, feature_max] (seeded)."""
    rng = np.random.default_rng(seed)
    fm = cfg.feature_max
    centres = rng.integers(0, fm + 1, size=(clusters, d))
    lab = rng.integers(0, clusters, size=n)
    spread = max(1, fm // 6)
    X = centres[lab] + rng.integers(-spread, spread + 1, size=(n, d))
    return np.clip(X, 0, fm).astype(np.int64)
