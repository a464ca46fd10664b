"""Joint affinities and the exact 2-D t-SNE in float64 (steps 4-5 of the float reference)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..config import AccelConfig

MACHINE_EPSILON = np.finfo(np.float64).eps


def conditional_p(D: np.ndarray, betas: np.ndarray) -> np.ndarray:
    """Conditional affinities ``P[i, j] = p_{j|i} ~ exp(-beta_i (D_ij - m_i))``, ``P[i, i] = 0``.

    Parameters
    ----------
    D : ndarray (N, N)
        Squared distances.
    betas : ndarray (N,)
        Natural-log precisions (``beta = 2**u ln 2``), positive.

    Returns
    -------
    ndarray (N, N), float64, each row sums to 1.
    """
    D = np.asarray(D, dtype=np.float64)
    betas = np.asarray(betas, dtype=np.float64)
    N = D.shape[0]
    if N < 2:
        raise ValueError(f"conditional_p needs at least 2 points, got {N}")
    off = ~np.eye(N, dtype=bool)
    Dm = np.where(off, D, np.inf)
    m = Dm.min(axis=1)
    S = np.where(off, D - m[:, None], 0.0)
    W = np.where(off, np.exp(-betas[:, None] * S), 0.0)
    return W / W.sum(axis=1, keepdims=True)


def joint_p(P_cond: np.ndarray) -> np.ndarray:
    """Symmetrised joint affinities ``(P + P.T) / (2N)`` (sums to 1 when rows of P do)."""
    P_cond = np.asarray(P_cond, dtype=np.float64)
    return (P_cond + P_cond.T) / (2.0 * P_cond.shape[0])


@dataclass
class TSNEResult:
    """Embedding ``Y`` (N, 2), final KL divergence (nats) and the learning rate used."""

    Y: np.ndarray
    kl: float
    learning_rate: float

    def __iter__(self):
        """Unpack as ``Y, kl = tsne(...)``."""
        return iter((self.Y, self.kl))


def tsne_learning_rate(n: int, cfg: AccelConfig, learning_rate=None) -> float:
    """Resolve the t-SNE step size.

    ``None`` -> ``cfg.tsne_learning_rate``; ``"auto"`` -> ``max(N / exaggeration / 4, 50)``
    (scikit-learn's rule); a number is used as given.
    """
    if learning_rate is None:
        return float(cfg.tsne_learning_rate)
    if isinstance(learning_rate, str):
        if learning_rate != "auto":
            raise ValueError(
                f"learning_rate must be a positive number, None or 'auto', got {learning_rate!r}")
        return max(n / cfg.tsne_exaggeration / 4.0, 50.0)
    lr = float(learning_rate)
    if not (math.isfinite(lr) and lr > 0):
        raise ValueError(f"learning_rate must be a positive number, got {learning_rate!r}")
    return lr


def kl_divergence(P: np.ndarray, Y: np.ndarray) -> float:
    """KL(P || Q) in nats for the Student-t Q of embedding `Y` (entries floored at machine eps,
    as scikit-learn does)."""
    d2 = _pair_sq(Y)
    num = 1.0 / (1.0 + d2)
    np.fill_diagonal(num, 0.0)
    Q = np.maximum(num / num.sum(), MACHINE_EPSILON)
    off = ~np.eye(P.shape[0], dtype=bool)
    Pm = np.maximum(P[off], MACHINE_EPSILON)
    return float(np.sum(P[off] * np.log(Pm / Q[off])))


def kl_gradient(P: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Gradient of KL(P || Q) w.r.t. `Y`: ``4 sum_j (p_ij - q_ij)(y_i - y_j)/(1 + |y_i - y_j|^2)``.

    This is exactly the update direction :func:`tsne` uses (with `P` exaggerated in the early
    phase).
    """
    num = 1.0 / (1.0 + _pair_sq(Y))
    np.fill_diagonal(num, 0.0)
    W = (P - num / num.sum()) * num
    return 4.0 * (W.sum(axis=1)[:, None] * Y - W @ Y)


def _pair_sq(Y: np.ndarray) -> np.ndarray:
    dx = Y[:, 0:1] - Y[:, 0:1].T
    dy = Y[:, 1:2] - Y[:, 1:2].T
    return dx * dx + dy * dy


def tsne(P: np.ndarray, cfg: AccelConfig, seed=None, learning_rate=None,
         Y0: np.ndarray | None = None) -> TSNEResult:
    """Exact t-SNE of joint affinities `P` to 2-D.

    Student-t kernel ``q_ij ~ 1/(1 + |y_i - y_j|^2)``; gradient
    ``4 sum_j (p_ij - q_ij)(y_i - y_j)/(1 + |y_i - y_j|^2)``.  The schedule follows
    scikit-learn's exact method: ``cfg.tsne_exaggeration_iters`` iterations with P multiplied by
    ``cfg.tsne_exaggeration`` and momentum ``cfg.tsne_momentum_early``, then the remaining
    ``cfg.tsne_iters - cfg.tsne_exaggeration_iters`` iterations with plain P and momentum
    ``cfg.tsne_momentum_late``.  Per-coordinate gains: +0.2 when the gradient sign differs from
    the previous update's, times 0.8 otherwise, floored at ``cfg.tsne_min_gain``.  Velocity and
    gains are reset when the phase switches (as scikit-learn does).  There is no early stop: the
    hardware runs a fixed iteration count.

    Parameters
    ----------
    P : ndarray (N, N)
        Joint affinities (symmetric, zero diagonal, summing to 1).
    cfg : AccelConfig
        Schedule parameters.
    seed : int or sequence of int, optional
        Seed of ``numpy.random.default_rng`` for the initialisation ``Y0 ~ N(0, 1e-4^2)``;
        defaults to ``cfg.seed``.
    learning_rate : float, "auto" or None
        See :func:`tsne_learning_rate`.
    Y0 : ndarray (N, 2), optional
        Explicit initial embedding (overrides `seed`).

    Returns
    -------
    TSNEResult
    """
    P = np.asarray(P, dtype=np.float64)
    N = P.shape[0]
    lr = tsne_learning_rate(N, cfg, learning_rate)
    if Y0 is None:
        rng = np.random.default_rng(cfg.seed if seed is None else seed)
        Y = 1e-4 * rng.standard_normal((N, 2))
    else:
        Y = np.array(Y0, dtype=np.float64, copy=True)
    if N < 2:
        return TSNEResult(Y=Y, kl=0.0, learning_rate=lr)
    update = np.zeros_like(Y)
    gains = np.ones_like(Y)
    P_ex = P * cfg.tsne_exaggeration
    for it in range(cfg.tsne_iters):
        early = it < cfg.tsne_exaggeration_iters
        if it == cfg.tsne_exaggeration_iters and it > 0:
            update[:] = 0.0
            gains[:] = 1.0
        Pe = P_ex if early else P
        momentum = cfg.tsne_momentum_early if early else cfg.tsne_momentum_late
        grad = kl_gradient(Pe, Y)
        inc = update * grad < 0.0
        gains = np.where(inc, gains + 0.2, gains * 0.8)
        np.maximum(gains, cfg.tsne_min_gain, out=gains)
        update = momentum * update - lr * (gains * grad)
        Y = Y + update
    return TSNEResult(Y=Y, kl=kl_divergence(P, Y), learning_rate=lr)
