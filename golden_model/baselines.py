"""Baseline subset selectors, per class, with the same budget as :func:`select.select`.

* :func:`random_select` -- uniform without replacement, seeded.
* :func:`kcenter_greedy` -- farthest-point (k-center) greedy in feature space.
* :func:`herding` -- greedy mean matching in feature space (Welling 2009 herding with a linear
  kernel, as used by iCaRL).

All are deterministic given their inputs (and seed), process classes in ascending label order and
return sorted global indices.  Features may be any finite numbers (no integer requirement); a
class of one sample is allowed (k = 1).
"""

from __future__ import annotations

import numpy as np

from .select import class_budget, validate_ratio, validate_xy


def _per_class(X, y, ratio, pick) -> np.ndarray:
    ratio = validate_ratio(ratio)
    X, y, classes = validate_xy(X, y, min_class_size=1, integer_features=False)
    out = []
    for label in classes:
        idx = np.flatnonzero(y == label)
        k = class_budget(idx.size, ratio)
        local = np.asarray(pick(X[idx], k), dtype=np.int64)
        out.append(idx[local])
    return np.sort(np.concatenate(out)).astype(np.int64)


def random_select(X, y, ratio, seed: int = 1) -> np.ndarray:
    """Uniform random subset per class; one ``default_rng(seed)`` stream over the classes in
    ascending label order."""
    rng = np.random.default_rng(seed)
    return _per_class(X, y, ratio, lambda Xc, k: rng.choice(Xc.shape[0], size=k, replace=False))


def _kcenter(Xc: np.ndarray, k: int) -> np.ndarray:
    # start: the point nearest to the class mean (ties -> lowest index, argmin's first hit)
    mu = Xc.mean(axis=0)
    first = int(np.argmin(((Xc - mu) ** 2).sum(axis=1)))
    chosen = [first]
    mind = ((Xc - Xc[first]) ** 2).sum(axis=1)
    mind[first] = -1.0  # never re-pick, even when all remaining points are duplicates
    for _ in range(k - 1):
        j = int(np.argmax(mind))  # farthest from the chosen set; ties -> lowest index
        chosen.append(j)
        mind = np.minimum(mind, ((Xc - Xc[j]) ** 2).sum(axis=1))
        mind[chosen] = -1.0
    return np.asarray(chosen)


def kcenter_greedy(X, y, ratio) -> np.ndarray:
    """k-center greedy per class: start at the point nearest the class mean, then repeatedly add
    the point whose squared Euclidean distance to its nearest chosen point is largest (ties ->
    lowest index)."""
    return _per_class(X, y, ratio, _kcenter)


def _herd(Xc: np.ndarray, k: int) -> np.ndarray:
    mu = Xc.mean(axis=0)
    acc = np.zeros_like(mu)
    free = np.ones(Xc.shape[0], dtype=bool)
    chosen = []
    for t in range(1, k + 1):
        # the candidate whose addition brings the running mean closest to the class mean
        err = (((acc + Xc) / t - mu) ** 2).sum(axis=1)
        err[~free] = np.inf
        j = int(np.argmin(err))  # ties -> lowest index
        chosen.append(j)
        free[j] = False
        acc += Xc[j]
    return np.asarray(chosen)


def herding(X, y, ratio) -> np.ndarray:
    """Herding per class: greedily pick, without replacement, the sample that minimises
    ``|mu - (sum of chosen + x) / t|^2`` at step t (kernel mean matching with the linear kernel;
    ties -> lowest index)."""
    return _per_class(X, y, ratio, _herd)


BASELINES = {"random": random_select, "kcenter": kcenter_greedy, "herding": herding}


def baseline_select(X, y, ratio, method: str, seed: int = 1) -> np.ndarray:
    """Dispatch by name: ``"random"`` (uses `seed`), ``"kcenter"``, ``"herding"``."""
    if method not in BASELINES:
        raise ValueError(f"unknown baseline {method!r}; expected one of {tuple(BASELINES)}")
    if method == "random":
        return random_select(X, y, ratio, seed=seed)
    return BASELINES[method](X, y, ratio)


__all__ = ["random_select", "kcenter_greedy", "herding", "baseline_select", "BASELINES"]
