"""The digits data of the evaluation: the fixed stratified split and the quick-mode subsample."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .settings import Settings


@dataclass
class Data:
    X_train: np.ndarray  # integer-valued float64 0..16
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    X_train_all: np.ndarray  # before the quick-mode subsample (search-quality study uses it)
    y_train_all: np.ndarray


def load_data(s: Settings) -> Data:
    """Digits, stratified split (``random_state = split_seed``); quick mode keeps the first
    `train_per_class` points of each class of a seeded permutation of the training split."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=s.test_size, stratify=y,
                                          random_state=s.split_seed)
    Xa, ya = Xtr, ytr
    if s.train_per_class:
        rng = np.random.default_rng(s.split_seed)
        keep = []
        for c in np.unique(ytr):
            idx = np.flatnonzero(ytr == c)
            keep.append(np.sort(rng.permutation(idx)[: s.train_per_class]))
        keep = np.sort(np.concatenate(keep))
        Xtr, ytr = Xtr[keep], ytr[keep]
    return Data(Xtr, ytr, Xte, yte, Xa, ya)
