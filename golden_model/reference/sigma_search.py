"""Row entropy and the per-point sigma search over ``u = log2(b)`` (steps 2-3 of the float
reference): bisection, K-section and the Fireworks Algorithm, one batched implementation per
policy that serves single rows and whole classes alike."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..config import POLICIES, AccelConfig

LN2 = math.log(2.0)
#: Default stop tolerance of the float reference, in bits of entropy.  Float64 converges, so the
#: reference uses a tolerance far below any hardware table resolution (compare
#: :func:`hardware_tolerance`).
DEFAULT_TOL = 1e-5
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
