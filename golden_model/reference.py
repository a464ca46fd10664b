"""Float64 reference algorithm of AdapSNE and of the NMS baseline (one class at a time).

This module is the *specification in float* of what the accelerator computes.  The fixed-point
golden model (``golden_model.fixed*``, ``golden_model.search_fixed``) implements the same steps
bit for bit in the hardware's arithmetic; this module is what it is compared against.

Pipeline for one class of N integer feature vectors (see docs/algorithm.md):

1. :func:`sq_distances` -- exact integer squared Euclidean distances.
2. :func:`row_entropy_bits` -- entropy in bits of one conditional distribution with the
   row-minimum shift.
3. sigma search per row over ``u = log2(b)`` with ``b = beta * log2(e)``:
   :func:`search_bisection`, :func:`search_ksection`, :func:`search_fwa`.
4. :func:`conditional_p`, :func:`joint_p`.
5. :func:`tsne` -- exact 2-D t-SNE.
6. :func:`occupancy_entropy` and :func:`choose_perplexity` -- entropy-guided target perplexity.
7. :func:`grid_sample` -- exemplar selection in the embedding.

Every concrete choice (search brackets, FWA details, tie-breaks, clamps) is this project's own;
the source papers' settings are not available to us.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .config import GRID_G_LIMIT, POLICIES, AccelConfig

LN2 = math.log(2.0)
#: Default stop tolerance of the float reference, in bits of entropy.  Float64 converges, so the
#: reference uses a tolerance far below any hardware table resolution (compare
#: :func:`hardware_tolerance`).
DEFAULT_TOL = 1e-5
MACHINE_EPSILON = np.finfo(np.float64).eps
# Stream tag mixed into the seed of the outer (perplexity) FWA so that it never shares a random
# stream with a per-point sigma search (those use [seed, point_index]).
_OUTER_STREAM = 0x6F75746572  # "outer"
# Amplitude control of the float FWA sigma search (:func:`search_fwa`; our own choices, not the
# paper's; docs/algorithm.md section 3).  The hardware's fixed-point FWA does not use them.
#: Initial and smallest amplitude coefficient: a firework's amplitude is this multiple of its
#: estimated distance to the root (> 1: the sparks still cover the root when the estimate is short).
FWA_FLOAT_AMP_COVER = 2.0
#: A spark pass *stalls* when the sign bracket keeps more than this fraction of its width.
FWA_FLOAT_MIN_SHRINK = 0.5
#: The coefficient is multiplied by this after a stalled pass (the estimate was too short) ...
FWA_FLOAT_GAIN_UP = 4.0
#: ... and by this (not below FWA_FLOAT_AMP_COVER) after a pass that shrank the bracket enough.
FWA_FLOAT_GAIN_DOWN = 0.5


# --------------------------------------------------------------------------------------------
# 1. distances
# --------------------------------------------------------------------------------------------
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


# --------------------------------------------------------------------------------------------
# 2. row entropy
# --------------------------------------------------------------------------------------------
def row_entropy_bits(d_row: np.ndarray, b):
    """Entropy in bits of ``p_j ~ 2**(-b * D_j)`` with the row-minimum shift.

    ``t_j = b (D_j - m)``, ``w_j = 2**-t_j``, ``Z = sum w``, ``T = sum t w`` and
    ``H = log2 Z + T / Z``, with ``m = min_j D_j``.  ``b = beta * log2(e)`` is the precision in
    bits per distance unit, so ``2**(-b D) = exp(-beta D)``.  The shift cancels in ``p_j`` and
    keeps ``Z >= 1`` (no underflow).

    Parameters
    ----------
    d_row : array_like of shape (M,)
        One distance row *without* the self distance (M = N - 1 >= 1).
    b : float or array_like of shape (K,)
        One precision, or K precisions evaluated at once (the vectorised form: one pass over the
        row serves all K candidates, like the K lanes of the accelerator).

    Returns
    -------
    H, Z, T : float or ndarray of shape (K,)
        Entropy (bits), partition sum and ``sum t w``; scalars when `b` is a scalar.
    """
    d = np.asarray(d_row, dtype=np.float64)
    s = d - d.min()
    bb = np.asarray(b, dtype=np.float64)
    t = bb.reshape(-1, 1) * s[None, :]
    w = np.exp2(-t)
    Z = w.sum(axis=1)
    T = (t * w).sum(axis=1)
    H = np.log2(Z) + T / Z
    if bb.ndim == 0:
        return float(H[0]), float(Z[0]), float(T[0])
    return H.reshape(bb.shape), Z.reshape(bb.shape), T.reshape(bb.shape)


def row_entropy_bits_many(d_row: np.ndarray, bs) -> tuple:
    """Vectorised :func:`row_entropy_bits` over a 1-D array of precisions (always arrays)."""
    return row_entropy_bits(d_row, np.atleast_1d(np.asarray(bs, dtype=np.float64)))


# --------------------------------------------------------------------------------------------
# 3. sigma search over u = log2(b)
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SearchResult:
    """Outcome of one per-point sigma search.

    Attributes
    ----------
    u : float
        Best search variable found, ``u = log2(b)``.
    beta : float
        Natural-log precision ``2**u * ln 2`` (``p_j ~ exp(-beta D_j)``).
    H : float
        Entropy (bits) at `u`.
    passes : int
        Passes over the distance row (iterations).
    evaluations : int
        Candidates evaluated (bisection: 1 per pass, K-section and FWA: ``cfg.lanes`` per pass).
    converged : bool
        ``|H - log2 Perp| <= tol`` was reached before the pass cap.
    target : float
        ``log2(perplexity)``.
    """

    u: float
    beta: float
    H: float
    passes: int
    evaluations: int
    converged: bool
    target: float = float("nan")

    @property
    def b(self) -> float:
        """Precision in bits per distance unit, ``2**u``."""
        return 2.0 ** self.u

    @property
    def error(self) -> float:
        """Fitness ``|H - log2 Perp|`` of the returned candidate."""
        return abs(self.H - self.target)


def hardware_tolerance(cfg: AccelConfig) -> float:
    """The fixed-point stop tolerance of `cfg` in bits (``tolerance_lsb * 2**-h_frac``)."""
    return cfg.tolerance_lsb / float(1 << cfg.h_frac)


def search_bracket(d_row: np.ndarray, cfg: AccelConfig) -> tuple:
    """Search range ``[u_lo, u_hi]`` of ``u = log2(b)`` for one row.

    ``u_lo = -(bitlen(max_j (D_j - m)) + 2)`` makes every exponent ``t_j <= 1/4`` (nearly uniform
    distribution, H close to log2(N-1)); ``u_hi = cfg.u_hi / 2**cfg.u_frac`` makes ``t_j >= 2
    (w_frac + 1)`` for every non-minimal (integer) distance, so only the minimum terms survive.
    """
    d = np.asarray(d_row, dtype=np.float64)
    span = int(math.ceil(float(d.max() - d.min())))
    u_lo = -float(span.bit_length() + 2)
    u_hi = cfg.u_hi / float(1 << cfg.u_frac)
    return u_lo, u_hi


def _target_bits(perplexity: float) -> float:
    if not (isinstance(perplexity, (int, float, np.floating, np.integer)) and math.isfinite(perplexity)
            and perplexity > 0):
        raise ValueError(f"perplexity must be a finite positive number, got {perplexity!r}")
    return math.log2(float(perplexity))


class _BestRows:
    """Best-ever candidate of each row (lowest fitness; ties keep the earlier pass, then the lower
    lane, because ``argmin`` returns the first minimum and only a strictly lower E replaces)."""

    def __init__(self, R: int) -> None:
        self.u = np.full(R, np.nan)
        self.H = np.full(R, np.nan)
        self.E = np.full(R, np.inf)

    def offer(self, rows: np.ndarray, us: np.ndarray, Hs: np.ndarray, Es: np.ndarray) -> np.ndarray:
        """Offer one pass's candidates ``us`` (len(rows), K); True where the row's best improved."""
        i = np.argmin(Es, axis=1)
        k = np.arange(rows.size)
        e = Es[k, i]
        better = e < self.E[rows]
        r = rows[better]
        self.u[r], self.H[r], self.E[r] = us[k, i][better], Hs[k, i][better], e[better]
        return better


#: Chunk size of :func:`_entropy_rows`: rows per chunk such that rows * K * (N-1) stays below
#: about 2M doubles (memory, not arithmetic: every row is computed the same way in any chunk).
_BATCH_ELEMS = 1 << 21


def _entropy_rows(S: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Entropy (bits) of every row of shifted distances ``S`` (R, M) at that row's K precisions
    ``B`` (R, K): one pass over each row serves its K candidates (the K lanes).  Same operations
    as :func:`row_entropy_bits`."""
    R, M = S.shape
    K = B.shape[1]
    out = np.empty((R, K))
    step = max(1, _BATCH_ELEMS // max(1, K * M))
    for a in range(0, R, step):
        t = B[a:a + step, :, None] * S[a:a + step, None, :]
        w = np.exp2(-t)
        Z = w.sum(axis=2)
        T = (t * w).sum(axis=2)
        out[a:a + step] = np.log2(Z) + T / Z
    return out


def _kgrid(lo, hi, k: int) -> np.ndarray:
    """K equally spaced interior points ``lo + (hi - lo) (l + 1) / (K + 1)`` (per row when `lo`,
    `hi` are arrays of shape (R,): result (R, K))."""
    frac = np.arange(1, k + 1, dtype=np.float64) / (k + 1)
    lo, hi = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
    return lo[..., None] + (hi - lo)[..., None] * frac


def _reflect(x: np.ndarray, lo, hi) -> np.ndarray:
    """Boundary mapping: mirror once at the end that was crossed, then clamp (the clamp only acts
    when the overshoot exceeds the bracket width)."""
    x = np.where(x < lo, 2.0 * lo - x, np.where(x > hi, 2.0 * hi - x, x))
    return np.clip(x, lo, hi)


def point_rng(seed, point_index: int) -> np.random.Generator:
    """Random stream of the FWA search of one point: ``default_rng([seed, point_index])``."""
    return np.random.default_rng([int(seed), int(point_index)])


def _bisection_rows(S, lo, hi, target, cfg, tol, best, passes):
    """Bisection of every row (see :func:`search_bisection`); updates `best`, `passes`, `lo`,
    `hi` in place and returns the evaluations per pass."""
    act = np.arange(S.shape[0])
    while act.size:
        mid = 0.5 * (lo[act] + hi[act])
        Hs = _entropy_rows(S[act], 2.0 ** mid[:, None])
        passes[act] += 1
        best.offer(act, mid[:, None], Hs, np.abs(Hs - target))
        up = Hs[:, 0] > target  # too flat: b too small
        lo[act[up]] = mid[up]
        hi[act[~up]] = mid[~up]
        act = act[(best.E[act] > tol) & (passes[act] < cfg.max_passes)]
    return 1


def _ksection_rows(S, lo, hi, target, cfg, tol, best, passes):
    """K-section of every row (see :func:`search_ksection`); same contract as
    :func:`_bisection_rows`."""
    K = cfg.lanes
    act = np.arange(S.shape[0])
    while act.size:
        us = _kgrid(lo[act], hi[act], K)
        Hs = _entropy_rows(S[act], 2.0 ** us)
        passes[act] += 1
        best.offer(act, us, Hs, np.abs(Hs - target))
        below = Hs <= target
        f = np.where(below.any(axis=1), np.argmax(below, axis=1), K)  # first crossing, lane order
        k = np.arange(act.size)
        new_lo = np.where(f > 0, us[k, np.maximum(f - 1, 0)], lo[act])
        new_hi = np.where(f < K, us[k, np.minimum(f, K - 1)], hi[act])
        lo[act], hi[act] = new_lo, new_hi
        act = act[(best.E[act] > tol) & (passes[act] < cfg.max_passes)]
    return K


def _fwa_rows(S, lo, hi, target, cfg, tol, best, passes, rngs):
    """Float FWA over the rows of `S` (see :func:`search_fwa`); `rngs[i]` is row i's stream."""
    K = cfg.lanes
    n = cfg.fwa_fireworks
    lane_rank = np.repeat(np.arange(n), cfg.fwa_spark_lanes)  # firework rank feeding each lane
    n_gauss = cfg.fwa_gauss_sparks
    R = S.shape[0]
    # Sign bracket [L, Rt]: the largest u seen with H > target and the smallest with H <= target
    # (H falls monotonically in u), and H there (NaN while an end is the unevaluated range end).
    L, Rt = lo, hi
    HL = np.full(R, np.nan)
    HR = np.full(R, np.nan)
    pop_u = np.empty((R, 0))
    pop_E = np.empty((R, 0))
    coef = np.full(R, FWA_FLOAT_AMP_COVER)  # amplitude coefficient
    W_prev = np.full(R, np.inf)  # bracket width before the last spark pass
    act = np.arange(R)
    us = _kgrid(lo, hi, K)  # pass 1: the K-section grid of the whole range
    while act.size:
        Hs = _entropy_rows(S[act], 2.0 ** us)
        Es = np.abs(Hs - target)
        passes[act] += 1
        best.offer(act, us, Hs, Es)
        k = np.arange(act.size)
        above = Hs > target
        uL = np.where(above, us, -np.inf)
        j = np.argmax(uL, axis=1)
        upd = uL[k, j] > L[act]
        L[act[upd]], HL[act[upd]] = uL[k, j][upd], Hs[k, j][upd]
        uR = np.where(above, np.inf, us)
        j = np.argmin(uR, axis=1)
        upd = uR[k, j] < Rt[act]
        Rt[act[upd]], HR[act[upd]] = uR[k, j][upd], Hs[k, j][upd]
        go = (best.E[act] > tol) & (passes[act] < cfg.max_passes)
        act, us, Es = act[go], us[go], Es[go]
        if not act.size:
            break
        # elitist selection: the n best-ever distinct candidates (ties: smaller u first)
        cu = np.concatenate([pop_u[go], us], axis=1)
        cE = np.concatenate([pop_E[go], Es], axis=1)
        order = np.lexsort((cu, cE), axis=-1)
        cu = np.take_along_axis(cu, order, axis=1)
        cE = np.take_along_axis(cE, order, axis=1)
        keep = np.ones(cu.shape, dtype=bool)
        keep[:, 1:] = cu[:, 1:] != cu[:, :-1]  # equal u have equal E, hence are adjacent
        first = np.argsort(~keep, axis=1, kind="stable")[:, :n]
        pop_u = np.take_along_axis(cu, first, axis=1)
        pop_E = np.take_along_axis(cE, first, axis=1)
        # amplitude adaptation: a pass that failed to halve the bracket means the distance estimate
        # was short (curved or flat H), so widen; otherwise relax back towards the cover factor
        a, b = L[act], Rt[act]
        width = b - a
        stalled = width > FWA_FLOAT_MIN_SHRINK * W_prev[act]
        coef[act] = np.where(stalled, coef[act] * FWA_FLOAT_GAIN_UP,
                             np.maximum(FWA_FLOAT_AMP_COVER, coef[act] * FWA_FLOAT_GAIN_DOWN))
        W_prev[act] = width
        # A_r = coef * E_r / secant slope = coef x (estimated distance of firework r to the root),
        # at most the bracket width (also while an end of the bracket is unevaluated)
        slope = np.abs(HL[act] - HR[act]) / np.where(width > 0, width, 1.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            A = coef[act, None] * pop_E / slope[:, None]
        A = np.where(np.isfinite(A), np.minimum(A, width[:, None]), width[:, None])
        U = np.stack([rngs[i].uniform(-1.0, 1.0, size=lane_rank.size) for i in act])
        sparks = pop_u[:, lane_rank] + A[:, lane_rank] * U
        if n_gauss:
            G = np.stack([rngs[i].standard_normal(n_gauss) for i in act])
            sparks = np.concatenate([sparks, pop_u[:, :1] + A[:, :1] * G], axis=1)
        us = _reflect(sparks, a[:, None], b[:, None])  # boundary mapping into the sign bracket
    return K


_POLICY_ROWS = {"bisection": _bisection_rows, "ksection": _ksection_rows, "fwa": _fwa_rows}


def _search_rows(S: np.ndarray, lo: np.ndarray, perplexity: float, policy: str, cfg: AccelConfig,
                 tol: float, point_indices, seed=None) -> tuple:
    """The sigma search of every row of ``S`` (R, M): shifted distance rows, ``lo`` their lower
    bracket ends.  Rows are independent (each row's result is the same searched alone or with
    others).  Returns ``(u, H, E, passes, evaluations_per_pass)`` arrays of length R."""
    if policy not in _POLICY_ROWS:
        raise ValueError(f"unknown search policy {policy!r}; expected one of {POLICIES}")
    target = _target_bits(perplexity)
    R = S.shape[0]
    lo = np.array(lo, dtype=np.float64)
    hi = np.full(R, cfg.u_hi / float(1 << cfg.u_frac))
    best = _BestRows(R)
    passes = np.zeros(R, dtype=np.int64)
    if policy == "fwa":
        s = cfg.seed if seed is None else seed
        per_pass = _fwa_rows(S, lo, hi, target, cfg, tol, best, passes,
                             [point_rng(s, i) for i in point_indices])
    else:
        per_pass = _POLICY_ROWS[policy](S, lo, hi, target, cfg, tol, best, passes)
    return best.u, best.H, best.E, passes, per_pass


def _search_one(d_row, perplexity, policy, cfg, tol, point_index=0, seed=None) -> SearchResult:
    """One row through :func:`_search_rows` (a stack of one)."""
    d = np.asarray(d_row, dtype=np.float64)
    S = (d - d.min())[None, :]
    lo = np.array([search_bracket(d, cfg)[0]])
    u, H, E, passes, per_pass = _search_rows(S, lo, perplexity, policy, cfg, tol, [point_index], seed)
    u0 = float(u[0])
    return SearchResult(u=u0, beta=(2.0 ** u0) * LN2, H=float(H[0]), passes=int(passes[0]),
                        evaluations=int(passes[0]) * per_pass, converged=bool(E[0] <= tol),
                        target=_target_bits(perplexity))


def search_bisection(d_row: np.ndarray, perplexity: float, cfg: AccelConfig,
                     tol: float = DEFAULT_TOL) -> SearchResult:
    """Bisection on ``u = log2(b)`` (NMS / DE-SNE style): one candidate per pass.

    The bracket is :func:`search_bracket`.  Each pass evaluates the midpoint; ``H > target``
    (distribution too flat) moves the lower end up, otherwise the upper end down.  Stops when the
    best-ever candidate has ``|H - log2 Perp| <= tol`` or after ``cfg.max_passes`` passes; the
    best-ever candidate is returned.

    Parameters
    ----------
    d_row : array_like of shape (N-1,)
        Distance row without the self distance (integers).
    perplexity : float
        Target perplexity; the target entropy is ``log2(perplexity)`` bits.
    cfg : AccelConfig
        Supplies ``max_passes``, ``u_hi`` and ``u_frac``.
    tol : float, default 1e-5
        Stop tolerance in bits.  The float reference uses 1e-5 (float64 converges); the
        hardware uses :func:`hardware_tolerance`.
    """
    return _search_one(d_row, perplexity, "bisection", cfg, tol)


def search_ksection(d_row: np.ndarray, perplexity: float, cfg: AccelConfig,
                    tol: float = DEFAULT_TOL) -> SearchResult:
    """K-section on ``u = log2(b)``: K = ``cfg.lanes`` candidates per pass (our own addition).

    Candidates sit at ``lo + (hi - lo)(l + 1)/(K + 1)``, l = 0..K-1.  The new bracket runs from the
    last candidate with ``H > target`` to the first candidate with ``H <= target`` (the first
    crossing in lane order; the bracket ends stand in when no candidate is on one side), so the
    bracket shrinks (K+1)-fold per pass.  Same stop rule and best-ever rule as
    :func:`search_bisection`.
    """
    return _search_one(d_row, perplexity, "ksection", cfg, tol)


def search_fwa(d_row: np.ndarray, perplexity: float, cfg: AccelConfig, tol: float = DEFAULT_TOL,
               point_index: int = 0, seed: int | None = None) -> SearchResult:
    """Fireworks Algorithm on ``u = log2(b)`` (AdapSNE's policy; this float version is our own
    bracketed, fitness-scaled design, see docs/algorithm.md section 3).

    With ``K = cfg.lanes`` candidates per pass:

    * pass 1 evaluates the K-section grid of the whole bracket of :func:`search_bracket`;
    * the *sign bracket* ``[L, R]`` is the largest evaluated u with ``H > target`` and the smallest
      with ``H <= target`` (the search-range ends until such candidates exist); H(u) falls
      monotonically in float64, so the root stays inside it;
    * the population is the ``n = cfg.fwa_fireworks`` best *distinct* candidates ever evaluated,
      ranked by fitness ``E = |H - log2 Perp|`` (ties: smaller u first) -- elitist selection;
    * amplitude of the firework of rank r: ``A_r = min(R - L, c * E_r / s)`` with
      ``s = |H(L) - H(R)| / (R - L)`` the bracket's secant slope, i.e. ``c`` times the firework's
      estimated distance to the root (``R - L`` while an end is unevaluated);
    * amplitude adaptation: ``c`` starts at ``FWA_FLOAT_AMP_COVER``; after a spark pass that left
      the bracket wider than ``FWA_FLOAT_MIN_SHRINK`` times its previous width it is multiplied by
      ``FWA_FLOAT_GAIN_UP``, otherwise by ``FWA_FLOAT_GAIN_DOWN`` (not below the cover factor);
    * the firework of rank r emits ``cfg.fwa_spark_lanes[r]`` sparks ``f_r + A_r U``,
      ``U ~ U[-1, 1)``, and ``cfg.fwa_gauss_sparks`` Gaussian sparks ``f_0 + A_0 N(0, 1)``;
    * every spark is mirrored once at the end of ``[L, R]`` it crossed, then clamped into it;
    * stop when the best-ever fitness is ``<= tol`` or after ``cfg.max_passes`` passes.

    Random numbers are drawn, per pass, first the uniforms of rank 0, 1, ... (one call of
    ``sum(cfg.fwa_spark_lanes)`` uniforms) then the normals, from
    ``numpy.random.default_rng([seed, point_index])`` (`seed` defaults to ``cfg.seed``), so a
    search is reproducible and independent of the order in which points are processed.  The
    fixed-point FWA of the hardware (``search_fixed``) is a different controller: success-adapted
    amplitude over the whole range and an xorshift PRNG.
    """
    return _search_one(d_row, perplexity, "fwa", cfg, tol, point_index=point_index, seed=seed)


def search_row(d_row: np.ndarray, perplexity: float, policy: str, cfg: AccelConfig,
               tol: float = DEFAULT_TOL, point_index: int = 0) -> SearchResult:
    """Dispatch to the float search `policy` (one of ``config.POLICIES``)."""
    if policy not in _POLICY_ROWS:
        raise ValueError(f"unknown search policy {policy!r}; expected one of {POLICIES}")
    return _search_one(d_row, perplexity, policy, cfg, tol, point_index=point_index)


def row_without_self(D: np.ndarray, i: int) -> np.ndarray:
    """Row i of `D` with the diagonal entry removed."""
    return np.delete(D[i], i)


@dataclass
class RowSearchStats:
    """Per-point search outcomes of one class (arrays of length N)."""

    betas: np.ndarray
    u: np.ndarray
    H: np.ndarray
    passes: np.ndarray
    evaluations: np.ndarray
    converged: np.ndarray


#: Signature of a pluggable row search: ``(d_row, perplexity, policy, cfg, point_index) -> obj``
#: where ``obj`` has at least ``beta`` and optionally ``u, H, passes, evaluations, converged``.
RowSearch = Callable[[np.ndarray, float, str, AccelConfig, int], object]


def search_all_rows(D: np.ndarray, perplexity: float, policy: str, cfg: AccelConfig,
                    tol: float = DEFAULT_TOL, row_search: RowSearch | None = None,
                    batched: bool = True) -> RowSearchStats:
    """Run the sigma search of every point of a class (point index = row index).

    Parameters
    ----------
    D : ndarray (N, N)
        Integer squared distances of the class.
    row_search : callable, optional
        Replaces the float search (used to plug in the fixed-point search); called as
        ``row_search(d_row, perplexity, policy, cfg, i)``.
    batched : bool, default True
        Float search only: search all rows in one call of the row-vectorised search (less Python
        overhead); False calls :func:`search_row` row by row.  Rows are independent, so both
        give identical results.
    """
    N = D.shape[0]
    if row_search is None and batched and N >= 2:
        off = ~np.eye(N, dtype=bool)
        rows = np.asarray(D)[off].reshape(N, N - 1).astype(np.float64)
        S = rows - rows.min(axis=1, keepdims=True)
        lo = np.array([search_bracket(r, cfg)[0] for r in rows])
        u, H, E, passes, per_pass = _search_rows(S, lo, perplexity, policy, cfg, tol, range(N))
        # scalar pow, exactly as SearchResult.beta (NumPy's vector pow may differ by an ulp)
        betas = np.array([(2.0 ** float(v)) * LN2 for v in u])
        return RowSearchStats(betas=betas, u=u, H=H, passes=passes,
                              evaluations=passes * per_pass, converged=E <= tol)
    out = {k: np.empty(N) for k in ("betas", "u", "H")}
    passes = np.zeros(N, dtype=np.int64)
    evals = np.zeros(N, dtype=np.int64)
    conv = np.zeros(N, dtype=bool)
    for i in range(N):
        d = row_without_self(D, i)
        if row_search is None:
            r = search_row(d, perplexity, policy, cfg, tol=tol, point_index=i)
        else:
            r = row_search(d, perplexity, policy, cfg, i)
        beta = float(r.beta)
        out["betas"][i] = beta
        out["u"][i] = float(getattr(r, "u", math.log2(beta / LN2)))
        out["H"][i] = float(getattr(r, "H", float("nan")))
        passes[i] = int(getattr(r, "passes", 0))
        evals[i] = int(getattr(r, "evaluations", 0))
        conv[i] = bool(getattr(r, "converged", False))
    return RowSearchStats(betas=out["betas"], u=out["u"], H=out["H"], passes=passes,
                          evaluations=evals, converged=conv)


# --------------------------------------------------------------------------------------------
# 4. affinities
# --------------------------------------------------------------------------------------------
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


# --------------------------------------------------------------------------------------------
# 5. t-SNE
# --------------------------------------------------------------------------------------------
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


# --------------------------------------------------------------------------------------------
# 6./7. occupancy entropy and grid sampling
# --------------------------------------------------------------------------------------------
def normalise_unit(Y: np.ndarray) -> np.ndarray:
    """Min-max normalise each axis of `Y` to [0, 1]; a constant axis maps to 0."""
    Y = np.asarray(Y, dtype=np.float64)
    lo = Y.min(axis=0)
    span = Y.max(axis=0) - lo
    safe = np.where(span > 0, span, 1.0)
    return np.where(span > 0, (Y - lo) / safe, 0.0)


def grid_cells(Yn: np.ndarray, g: int) -> tuple:
    """Cell coordinates of normalised points on a g x g grid.

    Column = ``floor(g * y[:, 0])``, row = ``floor(g * y[:, 1])``, both clipped to ``g - 1`` (so
    the value 1.0 lands in the last cell).  Returns ``(col, row, index)`` with the row-major cell
    index ``row * g + col``.
    """
    cr = np.minimum(np.floor(Yn * g).astype(np.int64), g - 1)
    col, row = cr[:, 0], cr[:, 1]
    return col, row, row * g + col


def occupancy_entropy(Y: np.ndarray, G: int) -> float:
    """Occupancy entropy of a 2-D embedding, in nats.

    `Y` is min-max normalised per axis to [0, 1]^2 and histogrammed on a G x G grid
    (:func:`grid_cells`); with ``pi_c = count_c / N`` the result is ``-sum_c pi_c ln pi_c``
    (natural log; maximum ``ln(min(N, G^2))``).
    """
    Y = np.asarray(Y, dtype=np.float64)
    if Y.ndim != 2 or Y.shape[1] != 2 or Y.shape[0] == 0:
        raise ValueError(f"Y must have shape (N, 2) with N >= 1, got {Y.shape}")
    _, _, idx = grid_cells(normalise_unit(Y), int(G))
    counts = np.bincount(idx)
    pi = counts[counts > 0] / float(Y.shape[0])
    return float(-np.sum(pi * np.log(pi)))


def entropy_grid_side(n: int, cfg: AccelConfig) -> int:
    """Side G of the occupancy-entropy grid for a class of `n` points (our rule).

    The smallest G with ``G * G * cfg.entropy_cell_points >= n``, at least 2 and at most
    ``cfg.grid_g``.  A fixed grid much finer than the class (16 x 16 = 256 cells for 40-70
    points) puts every point in its own cell for every candidate perplexity, so every candidate
    scores exactly ``ln n`` and the criterion cannot choose; sizing the grid for a few points per
    cell makes it measure how evenly the class fills the plane at the scale of the grid sampler.
    The side depends on `n` only (not on the budget), so one perplexity choice serves every
    budget.  Integer arithmetic only (the hardware derives G the same way).
    """
    n = int(n)
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    m = int(cfg.entropy_cell_points)
    g = math.isqrt(-(-n // m))  # floor(sqrt(ceil(n / m)))
    if g * g * m < n:
        g += 1
    return int(min(int(cfg.grid_g), max(2, g)))


#: Largest grid side :func:`grid_sample` tries before falling back (see its docstring).
GRID_SAMPLE_G_LIMIT = GRID_G_LIMIT


def grid_sample(Y: np.ndarray, k: int, g_limit: int = GRID_SAMPLE_G_LIMIT) -> np.ndarray:
    """Pick k exemplars from a 2-D embedding by grid sampling.

    1. Normalise `Y` per axis to [0, 1] (:func:`normalise_unit`).
    2. g = the smallest grid side (1, 2, 3, ...) whose g x g grid has at least k occupied cells
       (cells as in :func:`grid_cells`).
    3. Take the k most populated cells; ties by row-major cell index ascending.
    4. In each, the sample nearest (Euclidean, normalised coordinates) to the cell centre
       ``((col + 0.5)/g, (row + 0.5)/g)``; ties -> lowest sample index.

    If ``k >= N`` every index is returned.  Degenerate case: when no ``g <= g_limit`` reaches k
    occupied cells (only when fewer than k distinct embedding positions exist, or points closer
    than ``1/g_limit``), the smallest g with the most occupied cells is used and the cells are
    visited round robin in the order of step 3, taking the next-nearest unused sample each time,
    until k samples are chosen.

    Returns
    -------
    ndarray of int64, sorted ascending, k distinct indices.
    """
    Y = np.asarray(Y, dtype=np.float64)
    N = Y.shape[0]
    k = int(k)
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if k >= N:
        return np.arange(N, dtype=np.int64)
    Yn = normalise_unit(Y)
    best_g, best_occ = 1, 0
    for g in range(1, int(g_limit) + 1):
        occ = np.unique(grid_cells(Yn, g)[2]).size
        if occ > best_occ:
            best_g, best_occ = g, occ
        if occ >= k:
            best_g = g
            break
    g = best_g
    col, row, idx = grid_cells(Yn, g)
    cells, counts = np.unique(idx, return_counts=True)  # cells ascending
    order = np.lexsort((cells, -counts))  # most populated first, then lower cell index
    top = cells[order][:k] if cells.size >= k else cells[order]
    cx = (col + 0.5) / g
    cy = (row + 0.5) / g
    dist = (Yn[:, 0] - cx) ** 2 + (Yn[:, 1] - cy) ** 2
    members = []
    for c in top:
        m = np.flatnonzero(idx == c)  # ascending sample index
        members.append(m[np.lexsort((m, dist[m]))])
    chosen: list = []
    depth = 0
    while len(chosen) < k:  # one round in the normal case
        for m in members:
            if depth < m.size:
                chosen.append(int(m[depth]))
                if len(chosen) == k:
                    break
        depth += 1
    return np.sort(np.asarray(chosen, dtype=np.int64))


# --------------------------------------------------------------------------------------------
# per-class embedding and the entropy-guided perplexity
# --------------------------------------------------------------------------------------------
def perplexity_cap(n: int) -> float:
    """Largest target perplexity used for a class of `n` points: ``max(1, (n - 1) / 2)``.

    A conditional distribution has n - 1 terms, so only perplexities below n - 1 are reachable
    at all, and those close to n - 1 make every affinity nearly uniform.  Halving keeps the target
    inside the part of the search range where H actually varies.  (Classes of 2 or 3 points get
    perplexity 1.)
    """
    from .fixed import perplexity_max  # the one rule (the core's START check uses it too)
    return max(1.0, perplexity_max(n))


def effective_perplexity(perplexity: float, n: int) -> float:
    """``min(perplexity, perplexity_cap(n))``."""
    return float(min(float(perplexity), perplexity_cap(n)))


@dataclass
class ClassEmbedding:
    """Everything computed for one class at one target perplexity."""

    perplexity: float
    search: RowSearchStats
    P: np.ndarray
    Y: np.ndarray
    kl: float
    occupancy_entropy: float
    #: side G of the grid the occupancy entropy was measured on (:func:`entropy_grid_side`)
    entropy_grid: int = 0


def embed_class(D: np.ndarray, perplexity: float, cfg: AccelConfig, policy: str,
                tol: float = DEFAULT_TOL, tsne_seed=None, learning_rate=None,
                row_search: RowSearch | None = None) -> ClassEmbedding:
    """Sigma search of every row, joint P, t-SNE and occupancy entropy at one perplexity.

    The perplexity is used as given (callers clamp with :func:`effective_perplexity`).  The
    occupancy entropy is measured on the :func:`entropy_grid_side` grid of the class.
    """
    stats = search_all_rows(D, perplexity, policy, cfg, tol=tol, row_search=row_search)
    P = joint_p(conditional_p(D, stats.betas))
    res = tsne(P, cfg, seed=tsne_seed, learning_rate=learning_rate)
    G = entropy_grid_side(D.shape[0], cfg)
    return ClassEmbedding(perplexity=float(perplexity), search=stats, P=P, Y=res.Y, kl=res.kl,
                          occupancy_entropy=occupancy_entropy(res.Y, G), entropy_grid=G)


@dataclass
class PerplexityChoice:
    """Result of :func:`choose_perplexity`.

    Attributes
    ----------
    perplexity : float
        The chosen target perplexity (the occupancy-entropy maximiser).
    embedding : ClassEmbedding
        The embedding computed at that perplexity.
    history : list of (perplexity, occupancy entropy)
        Every evaluated perplexity in evaluation order (each costs one t-SNE run).
    """

    perplexity: float
    embedding: ClassEmbedding
    history: list = field(default_factory=list)

    @property
    def tsne_runs(self) -> int:
        return len(self.history)


def candidate_perplexities(cfg: AccelConfig, n: int) -> list:
    """The fixed candidate set for a class of `n` points: ``cfg.perplexity_candidates``, each
    clamped with :func:`effective_perplexity`, duplicates after clamping dropped (first-seen
    order)."""
    cands: list = []
    for p in cfg.perplexity_candidates:
        pe = effective_perplexity(p, n)
        if pe not in cands:
            cands.append(pe)
    return cands


def _quantise_perplexity(p: float, cfg: AccelConfig) -> float:
    """Round to the perplexity register's resolution ``2**-cfg.perp_frac``."""
    q = float(1 << cfg.perp_frac)
    return math.floor(p * q + 0.5) / q


def choose_perplexity(X_class: np.ndarray | None, cfg: AccelConfig, policy: str = "fwa",
                      tol: float = DEFAULT_TOL, D: np.ndarray | None = None, tsne_seed=None,
                      learning_rate=None, row_search: RowSearch | None = None) -> PerplexityChoice:
    """Entropy-guided target perplexity of one class.

    Candidates are ``cfg.perplexity_candidates``, each clamped with :func:`effective_perplexity`
    (duplicates after clamping are evaluated once, in first-seen order).  Each evaluation runs the
    sigma search (`policy`), joint P, t-SNE (same seed for every candidate, so the comparison is
    not confounded by initialisation noise) and :func:`occupancy_entropy` on the
    :func:`entropy_grid_side` grid of the class (the same G for every candidate); the maximiser
    wins, ties -> the earlier evaluation.

    ``cfg.perplexity_search == "fixed"``: exactly the candidate set.

    ``cfg.perplexity_search == "fwa"``: the candidate set is the initial population of a 1-D
    Fireworks Algorithm over ``v = ln(perplexity)`` on ``[ln p_min, ln p_max]`` (the clamped
    candidates' extremes).  Then ``cfg.perplexity_fwa_iters`` iterations; in each the
    ``n = min(cfg.fwa_fireworks, evaluated)`` best distinct perplexities are fireworks and the
    one of rank r emits one spark ``v_r + A 2**(r fwa_amp_rank_shift) U``, ``U ~ U[-1, 1)``,
    mirrored/clamped into the range, mapped back with ``exp`` and rounded to
    ``2**-cfg.perp_frac`` (already-evaluated perplexities are not re-run).  ``A`` starts at
    ``(ln p_max - ln p_min) / 2**cfg.fwa_amp_init_shift`` and is multiplied by
    ``1 + 2**-fwa_amp_adapt_shift`` after an iteration that improved the best entropy, else by
    ``1 - 2**-fwa_amp_adapt_shift``.  Randomness: ``default_rng([cfg.seed, 0x6F75746572])``.

    Parameters
    ----------
    X_class : ndarray (N, D) or None
        Integer features of the class (ignored when `D` is given).
    D : ndarray (N, N), optional
        Precomputed :func:`sq_distances`.
    tsne_seed : optional
        Seed of the t-SNE initialisation; defaults to ``cfg.seed``.
    """
    if D is None:
        D = sq_distances(X_class)
    N = D.shape[0]
    cache: dict = {}
    history: list = []
    best: list = [None]  # ClassEmbedding with the highest entropy so far

    def evaluate(p: float) -> float:
        if p in cache:
            return cache[p]
        emb = embed_class(D, p, cfg, policy, tol=tol, tsne_seed=tsne_seed,
                          learning_rate=learning_rate, row_search=row_search)
        cache[p] = emb.occupancy_entropy
        history.append((p, emb.occupancy_entropy))
        if best[0] is None or emb.occupancy_entropy > best[0].occupancy_entropy:
            best[0] = emb
        return emb.occupancy_entropy

    cands = candidate_perplexities(cfg, N)
    for p in cands:
        evaluate(p)

    if cfg.perplexity_search == "fwa" and len(cands) > 1:
        v_lo, v_hi = math.log(min(cands)), math.log(max(cands))
        A = (v_hi - v_lo) / float(1 << cfg.fwa_amp_init_shift)
        grow = 1.0 + 2.0 ** -cfg.fwa_amp_adapt_shift
        shrink = 1.0 - 2.0 ** -cfg.fwa_amp_adapt_shift
        rng = np.random.default_rng([int(cfg.seed), _OUTER_STREAM])
        for _ in range(cfg.perplexity_fwa_iters):
            before = best[0].occupancy_entropy
            # rank by entropy (descending), ties -> smaller perplexity
            ranked = sorted(cache.items(), key=lambda kv: (-kv[1], kv[0]))
            fireworks = [math.log(p) for p, _ in ranked[:min(cfg.fwa_fireworks, len(ranked))]]
            sparks = []
            for r, v in enumerate(fireworks):
                a_r = A * 2.0 ** (r * cfg.fwa_amp_rank_shift)
                sparks.append(v + a_r * rng.uniform(-1.0, 1.0))
            sparks = _reflect(np.asarray(sparks), v_lo, v_hi)
            for v in sparks:
                p = _quantise_perplexity(math.exp(float(v)), cfg)
                p = min(max(p, min(cands)), max(cands))
                evaluate(p)
            A *= grow if best[0].occupancy_entropy > before else shrink
    emb = best[0]
    return PerplexityChoice(perplexity=emb.perplexity, embedding=emb, history=history)


__all__ = [
    "DEFAULT_TOL", "SearchResult", "RowSearchStats", "TSNEResult", "ClassEmbedding",
    "PerplexityChoice", "as_integer_features", "sq_distances", "row_entropy_bits",
    "row_entropy_bits_many", "search_bracket", "search_bisection", "search_ksection",
    "search_fwa", "search_row", "search_all_rows", "hardware_tolerance", "conditional_p",
    "joint_p", "tsne", "tsne_learning_rate", "kl_divergence", "kl_gradient", "normalise_unit", "grid_cells",
    "occupancy_entropy", "entropy_grid_side", "grid_sample", "perplexity_cap",
    "candidate_perplexities", "effective_perplexity", "embed_class",
    "choose_perplexity", "row_without_self", "point_rng",
]
