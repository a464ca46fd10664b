"""Exact integer squared Euclidean distances of one class (step 1 of the float reference)."""

from __future__ import annotations

import numpy as np


def as_integer_features(X: np.ndarray, name: str = "X") -> np.ndarray:
    """Return `X` as an int64 2-D array, checking that every value is a finite integer.

    Float arrays are accepted when all their values are integral (scikit-learn's digits are
    stored as float64 0..16); anything else raises ``ValueError``.
    """
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (n_samples, n_features), got shape {X.shape}")
    if X.dtype == bool:
        return X.astype(np.int64)
    if np.issubdtype(X.dtype, np.integer):
        return X.astype(np.int64, copy=False)
    if not np.issubdtype(X.dtype, np.floating):
        raise ValueError(f"{name} must be numeric, got dtype {X.dtype}")
    if not np.all(np.isfinite(X)):
        bad = np.argwhere(~np.isfinite(X))[0]
        raise ValueError(f"{name} contains a non-finite value at index {tuple(int(v) for v in bad)}")
    if not np.all(X == np.round(X)):
        bad = np.argwhere(X != np.round(X))[0]
        raise ValueError(
            f"{name} must hold integer feature values (the accelerator computes exact integer "
            f"distances); found {X[tuple(bad)]!r} at index {tuple(int(v) for v in bad)}")
    return X.astype(np.int64)


def sq_distances(X: np.ndarray) -> np.ndarray:
    """Exact integer squared Euclidean distances.

    Parameters
    ----------
    X : ndarray of shape (N, D)
        Integer feature values (an integral float array is accepted).

    Returns
    -------
    ndarray of shape (N, N), int64
        ``D[i, j] = sum_d (X[i, d] - X[j, d])**2``; zero diagonal, symmetric.
    """
    Xi = as_integer_features(X)
    # Integer matmul is exact (no BLAS); |x|^2 + |y|^2 - 2 x.y is then exact too.
    g = Xi @ Xi.T
    sq = np.diag(g)
    D = sq[:, None] + sq[None, :] - 2 * g
    np.fill_diagonal(D, 0)
    return D
