"""Per-class embedding and the entropy-guided choice of the target perplexity (the float
reference's outer loop over steps 3-6)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..config import AccelConfig
from .distances import sq_distances
from .grid import entropy_grid_side, occupancy_entropy
from .sigma_search import DEFAULT_TOL, RowSearch, RowSearchStats, _reflect, search_all_rows
from .tsne_float import conditional_p, joint_p, tsne

# Stream tag mixed into the seed of the outer (perplexity) FWA so that it never shares a random
# stream with a per-point sigma search (those use [seed, point_index]).
_OUTER_STREAM = 0x6F75746572  # "outer"


def perplexity_cap(n: int) -> float:
    """Largest target perplexity used for a class of `n` points: ``max(1, (n - 1) / 2)``.

    A conditional distribution has n - 1 terms, so only perplexities below n - 1 are reachable
    at all, and those close to n - 1 make every affinity nearly uniform.  Halving keeps the target
    inside the part of the search range where H actually varies.  (Classes of 2 or 3 points get
    perplexity 1.)
    """
    from ..fixed import perplexity_max  # the one rule (the core's START check uses it too)
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
