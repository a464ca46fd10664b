"""Bit-accurate occupancy entropy and entropy-guided perplexity search of the accelerator.

The fixed-point twin of ``reference.normalise_unit`` / ``grid_cells`` / ``occupancy_entropy`` /
``choose_perplexity`` (docs/fixed_point.md, "Entropy and grid sampling").  Everything works on the
integer embedding of `golden_model.tsne_fixed` (int64, signed Q(y_int_bits).y_frac):

* **normalisation to the unit square = cell index by an exact divider.**  Per axis
  ``lo = min y``, ``span = max y - lo`` (integers); the cell of a point on a g x g grid is
  ``floor((y - lo) g / span)``, clamped to ``g - 1`` (the maximum lands in the last cell), 0 on a
  constant axis.  The quotient comes from a restoring shift-subtract divider (:func:`divide_floor`)
  with ``bitlen(g) + frac`` quotient bits, so it is the exact floor -- no reciprocal-table error.
  The extra ``frac`` bits are the position inside the cell (used by the grid sampler).
* **histogram** of the ``G x G`` cells, ``G = reference.entropy_grid_side(n, cfg)``, row-major
  index ``row G + col``, counters of ``count_bits``.
* **entropy in bits**, ``H = log2 N - (1/N) sum_c c log2 c``, in Q.h_frac: every ``log2`` from the
  log2 unit of `golden_model.fixed` (leading one + table), ``S = sum c L(c)`` exact, ``S / N`` by
  the normaliser and the reciprocal table (one multiply and a floor).  Error bound:
  :func:`entropy_bound_lsb`.
* **outer perplexity search** (:func:`choose_perplexity_fixed`): the candidate registers, or a
  fixed-point Fireworks Algorithm over ``v = log2 perplexity``; every candidate runs the fixed
  sigma search, affinities, t-SNE and this entropy.

The float reference reports the occupancy entropy in nats; this module works in bits (the
arithmetic's native unit, ``H_nats = H_bits ln 2``: the same ranking).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import affinity_fixed as af
from . import fixed as fx
from . import reference as ref
from . import search_fixed as sf
from . import tsne_fixed as tf
from .config import GRID_G_LIMIT, AccelConfig

#: Seed offset of the outer (perplexity) FWA's PRNG, so that it never shares a stream with a
#: sigma-search lane or the t-SNE initialisation.
PERP_FWA_STREAM = 0x6F757472  # "outr"


# --------------------------------------------------------------------------- normalisation


def check_embedding(Y, cfg: AccelConfig, name: str = "Y") -> np.ndarray:
    """`Y` as int64 (N, 2), N >= 1, every |y| <= ``tsne_fixed.y_limit(cfg)``; ValueError otherwise."""
    Y = np.asarray(Y)
    if Y.ndim != 2 or Y.shape[1] != 2 or Y.shape[0] < 1:
        raise ValueError(f"{name} must have shape (N, 2) with N >= 1, got {Y.shape}")
    if not np.issubdtype(Y.dtype, np.integer):
        raise ValueError(f"{name} must hold integers (Q{cfg.y_int_bits}.{cfg.y_frac} coordinates), "
                         f"got dtype {Y.dtype}")
    lim = tf.y_limit(cfg)
    if np.abs(Y.astype(np.int64)).max() > lim:
        raise ValueError(f"{name} coordinates must lie in [-{lim}, {lim}] (Q{cfg.y_int_bits}.{cfg.y_frac})")
    return Y.astype(np.int64)


def check_grid_side(g, name: str = "g") -> int:
    """`g` as int in [1, GRID_G_LIMIT]; ValueError otherwise."""
    if isinstance(g, bool) or not isinstance(g, (int, np.integer)) or not 1 <= int(g) <= GRID_G_LIMIT:
        raise ValueError(f"{name} must be an integer in [1, {GRID_G_LIMIT}], got {g!r}")
    return int(g)


def divide_floor(num: np.ndarray, den: np.ndarray, qbits: int) -> tuple:
    """Restoring shift-subtract divider: ``(floor(num / den), num mod den)``, elementwise.

    ``qbits`` quotient bits, most significant first: bit i is set when the remainder is at least
    ``den << i``, which is then subtracted.  Requires ``den >= 1`` and ``0 <= num < den << qbits``
    (the hardware's divider runs exactly qbits steps); int64 arrays, ``den << qbits < 2^63``.
    """
    num = np.asarray(num, dtype=np.int64)
    den = np.asarray(den, dtype=np.int64)
    rem = num.copy()
    q = np.zeros(np.broadcast(num, den).shape, dtype=np.int64)
    for i in range(qbits - 1, -1, -1):
        trial = den << i
        ge = rem >= trial
        rem = np.where(ge, rem - trial, rem)
        q |= ge.astype(np.int64) << i
    return q, rem


def axis_range(Y: np.ndarray) -> tuple:
    """Per-axis ``(lo, span)`` of an integer embedding: ``lo = min``, ``span = max - min`` (int64 (2,))."""
    lo = Y.min(axis=0)
    return lo, Y.max(axis=0) - lo


def cell_coords(Y: np.ndarray, g: int, frac: int = 0) -> tuple:
    """Cell and in-cell position of every point of an integer embedding on a g x g grid.

    Per axis the divider delivers ``q = floor((y - lo) g 2^frac / span)`` (``bitlen(g) + frac``
    quotient bits) and the remainder; the cell is ``min(q >> frac, g - 1)``.  The in-cell offset
    from the cell centre is returned as ``e``, in units of ``2^-(frac + 1)`` cell widths:
    ``z = q - cell 2^frac`` (``2^frac`` only for the clamped maximum), ``e = 2 z - 2^frac`` when the
    division was exact (remainder 0), else ``2 z + 1 - 2^frac`` (the midpoint of the floored
    interval).  A constant axis puts every point at position 0 of cell 0, like
    ``reference.normalise_unit``.

    Returns
    -------
    col, row, ex, ey : ndarray of int64 (N,)
    """
    g = check_grid_side(g)
    lo, span = axis_range(Y)
    qbits = g.bit_length() + frac
    out = []
    for a in range(2):
        if span[a] == 0:
            cell = np.zeros(Y.shape[0], dtype=np.int64)
            e = np.full(Y.shape[0], -(1 << frac), dtype=np.int64)
        else:
            q, rem = divide_floor((Y[:, a] - lo[a]) * (g << frac), span[a], qbits)
            cell = np.minimum(q >> frac, g - 1)
            e = 2 * (q - (cell << frac)) - (1 << frac) + (rem != 0)
        out.append((cell, e))
    (col, ex), (row, ey) = out
    return col, row, ex, ey


# --------------------------------------------------------------------------- histogram and entropy


def histogram(Y, G: int, cfg: AccelConfig) -> np.ndarray:
    """Occupancy counts of the ``G x G`` grid (int64, length ``G^2``, row-major ``row G + col``)."""
    Y = check_embedding(Y, cfg)
    G = check_grid_side(G, "G")
    col, row, _, _ = cell_coords(Y, G)
    return np.bincount(row * G + col, minlength=G * G).astype(np.int64)


def count_log2(c: int, cfg: AccelConfig) -> int:
    """``L(c) = log2 c`` in Q.h_frac from the log2 unit (``fixed.log2_fixed``; L(1) = 0)."""
    return fx.log2_fixed(int(c), 0, cfg)


def entropy_from_counts(counts, cfg: AccelConfig) -> int:
    """Occupancy entropy in bits, Q.h_frac (signed int), of a histogram of non-negative counts.

    ``N = sum c``; ``S = sum_{c > 0} c L(c)`` (exact); ``1/N = r 2^-(W + p)`` with ``p`` the leading
    one of N and ``r = recip(m)`` (UQ1.W, `fixed.recip_mantissa`);
    ``H = L(N) - floor(S r / 2^(W + p))``.
    """
    c = np.asarray(counts, dtype=np.int64)
    if c.ndim != 1 or c.size == 0 or c.min() < 0 or c.sum() < 1:
        raise ValueError("counts must be a non-empty 1-D array of non-negative integers with a positive sum")
    n = int(c.sum())
    S = sum(int(v) * count_log2(int(v), cfg) for v in c[c > 1])  # c = 1 contributes 1 * L(1) = 0
    p, mn = fx.normalise(n, cfg)
    r = fx.recip_mantissa(mn, cfg)
    return count_log2(n, cfg) - ((S * r) >> (cfg.w_frac + p))


def entropy_float_bits(counts) -> float:
    """The float64 entropy in bits of a histogram, ``log2 N - (1/N) sum c log2 c`` (reference for
    the bound; equals ``reference.occupancy_entropy / ln 2`` on the same histogram)."""
    c = np.asarray(counts, dtype=np.float64)
    c = c[c > 0]
    n = c.sum()
    return float(np.log2(n) - np.sum(c * np.log2(c)) / n)


def entropy_bound_lsb(n: int, cfg: AccelConfig) -> float:
    """Bound on ``|entropy_from_counts - 2^h_frac entropy_float_bits|`` in Q.h_frac LSBs for any
    histogram of `n` points.

    ``lb`` bounds every ``L(c)``, ``c <= n``: 0.5 (a table entry's rounding) when
    ``n < 2^(log_table_bits + 1)`` -- then the mantissa of an integer ``c`` has at most
    ``log_table_bits`` bits and indexes an entry exactly -- else `fixed.log2_bound_lsb`.  It applies to
    ``L(N)`` and, weighted by ``c / N`` (summing to 1), to the mean.  The reciprocal of N is
    relatively within ``rel = (2 rb + f) 2^-W`` (``rb`` LSB of a mantissa >= 1/2: 0.5 for an exact
    entry when ``n < 2^(recip_table_bits + 1)``, else `fixed.recip_bound_lsb`; ``f = 1`` when N's
    mantissa is floored, i.e. ``n >= 2^(W + 1)``), applied to the mean ``<= log2 N`` bits; one LSB
    for the final floor::

        lb + (lb + 2^Hf log2 N)(1 + rel) - 2^Hf log2 N + 1 = 2 lb + rel (lb + 2^Hf log2 N) + 1
    """
    n = max(int(n), 1)
    W = cfg.w_frac
    lb = 0.5 if n < 1 << (cfg.log_table_bits + 1) else fx.log2_bound_lsb(cfg)
    rb = 0.5 if n < 1 << (cfg.recip_table_bits + 1) else fx.recip_bound_lsb(cfg)
    rel = (2 * rb + (1 if n >= 1 << (W + 1) else 0)) * 2.0 ** -W
    top = (1 << cfg.h_frac) * float(np.log2(n))
    return 2 * lb + rel * (lb + top) + 1.0


def occupancy_entropy_fixed(Y, G: int, cfg: AccelConfig) -> int:
    """Occupancy entropy (bits, Q.h_frac) of an integer embedding on the ``G x G`` grid."""
    return entropy_from_counts(histogram(Y, G, cfg), cfg)


# --------------------------------------------------------------------------- one candidate


@dataclass
class FixedClassEmbedding:
    """Everything the fixed-point pipeline computes for one class at one perplexity register."""

    perp_q: int              # perplexity register, UQ.perp_frac
    search: list             # search_fixed.SearchResult per point
    S: np.ndarray            # pair sums (affinity_fixed.joint_fixed), UQ1.p_frac
    tsne: tf.TSNEFixedResult
    h_q: int                 # occupancy entropy, bits in Q.h_frac
    grid: int                # side G of the entropy grid

    @property
    def Y(self) -> np.ndarray:
        """Final embedding, int64 Q.y_frac."""
        return self.tsne.Y


def perp_reg_cap(n: int, cfg: AccelConfig) -> int:
    """Largest perplexity register used for a class of `n` points: ``max(1.0, (n - 1) / 2)`` in
    UQ.perp_frac (`reference.perplexity_cap` in register units)."""
    return max(1 << cfg.perp_frac, fx.perp_reg_max(int(n), cfg))


def embed_class_fixed(D: np.ndarray, perp_q: int, cfg: AccelConfig, policy: str, tsne_seed=None,
                      learning_rate: float | None = None) -> FixedClassEmbedding:
    """Sigma search of every row (``search_fixed.search_row``, point index = row), pair sums,
    t-SNE and occupancy entropy (grid ``reference.entropy_grid_side(n, cfg)``) at one register
    value.  `learning_rate` is a number (None: cfg's), rounded to the register by ``tsne_fixed``."""
    D = np.asarray(D, dtype=np.int64)
    n = D.shape[0]
    res = [sf.search_row(D[i], i, int(perp_q), policy, cfg, point_index=i) for i in range(n)]
    S = af.joint_fixed(D, af.searched_u(res), cfg)
    run = tf.tsne_fixed(S, cfg, seed=tsne_seed, learning_rate=learning_rate)
    G = ref.entropy_grid_side(n, cfg)
    return FixedClassEmbedding(perp_q=int(perp_q), search=res, S=S, tsne=run,
                               h_q=occupancy_entropy_fixed(run.Y, G, cfg), grid=G)


# --------------------------------------------------------------------------- outer search


@dataclass
class FixedPerplexityChoice:
    """Result of :func:`choose_perplexity_fixed`: the chosen embedding and every evaluation
    ``(perp_q, h_q)`` in evaluation order."""

    embedding: FixedClassEmbedding
    history: list = field(default_factory=list)

    @property
    def perp_q(self) -> int:
        return self.embedding.perp_q


def candidate_regs(cfg: AccelConfig, n: int) -> list:
    """``cfg.perplexity_candidates`` as registers (``fixed.perplexity_to_reg``), each clamped to
    :func:`perp_reg_cap`, duplicates dropped (first-seen order)."""
    cap = perp_reg_cap(n, cfg)
    out: list = []
    for p in cfg.perplexity_candidates:
        q = min(fx.perplexity_to_reg(p, cfg), cap)
        if q not in out:
            out.append(q)
    return out


def perp_from_log2(v_q: int, cfg: AccelConfig) -> int:
    """``round(2^v 2^perp_frac)`` for ``v = v_q / 2^h_frac >= 0``, by the exp2 unit: ``vi = ceil v``,
    ``2^v = 2^vi 2^-g`` with ``2^-g`` from `fixed.exp2neg_frac` (UQ1.W), then one rounding shift."""
    Hf, W, E = cfg.h_frac, cfg.w_frac, cfg.exp_table_bits
    vi = -((-int(v_q)) >> Hf)
    g = (vi << Hf) - int(v_q)
    fb = max(Hf, E)  # the table is indexed by the top E bits of the fraction
    mant = fx.exp2neg_frac(g << (fb - Hf), fb, cfg)
    sh = vi + cfg.perp_frac - W
    return mant << sh if sh >= 0 else (mant + (1 << (-sh - 1))) >> (-sh)


def choose_perplexity_fixed(D: np.ndarray, cfg: AccelConfig, policy: str = "fwa", tsne_seed=None,
                            learning_rate: float | None = None) -> FixedPerplexityChoice:
    """Entropy-guided perplexity of one class in the accelerator's arithmetic.

    Candidates: :func:`candidate_regs`, evaluated in order (:func:`embed_class_fixed`, the same
    t-SNE seed for every candidate).  The winner is the largest ``h_q``; ties -> the earlier
    evaluation (only a strictly larger entropy replaces the best).

    ``cfg.perplexity_search == "fwa"`` (with at least two distinct candidates) adds
    ``cfg.perplexity_fwa_iters`` iterations of a fixed-point FWA over ``v = log2 perplexity``
    (Q.h_frac, from the log2 unit) on ``[v_lo, v_hi]`` (the extreme candidates' logs):

    * fireworks: the ``min(fwa_fireworks, evaluated)`` evaluations ranked by ``h_q`` descending,
      ties -> smaller register;
    * rank r sparks once per iteration: ``v_r + floor(A_r s16 / 2^15)``, ``A_r = A << (r
      fwa_amp_rank_shift)``, ``s16`` the top half of rank r's xorshift32 state (seeded
      ``lane_seed(cfg.seed ^ PERP_FWA_STREAM, 0, r)``, advanced once per iteration before use);
    * reflect once at the violated end of ``[v_lo, v_hi]``, clamp; register
      :func:`perp_from_log2`, clamped to the candidates' range; an already evaluated register is
      not re-run;
    * ``A`` starts at ``max(1, (v_hi - v_lo) >> fwa_amp_init_shift)``; after each iteration
      ``A += A >> fwa_amp_adapt_shift`` if the best entropy rose, else ``A -= A >> ...``, clamped to
      ``[1, v_hi - v_lo]``.

    This controller is the hardware's; the float reference's outer FWA (NumPy uniforms, natural
    log) samples other perplexities, so only mode "fixed" evaluates the same candidates in both.
    """
    D = np.asarray(D, dtype=np.int64)
    n = D.shape[0]
    cache: dict = {}
    history: list = []
    best: list = [None]

    def evaluate(pq: int) -> None:
        if pq in cache:
            return
        emb = embed_class_fixed(D, pq, cfg, policy, tsne_seed=tsne_seed, learning_rate=learning_rate)
        cache[pq] = emb.h_q
        history.append((pq, emb.h_q))
        if best[0] is None or emb.h_q > best[0].h_q:
            best[0] = emb

    cands = candidate_regs(cfg, n)
    for pq in cands:
        evaluate(pq)
    if cfg.perplexity_search == "fwa" and len(cands) > 1:
        PF = cfg.perp_frac
        p_lo, p_hi = min(cands), max(cands)
        v_lo, v_hi = fx.log2_fixed(p_lo, PF, cfg), fx.log2_fixed(p_hi, PF, cfg)
        width = max(1, v_hi - v_lo)
        A = max(1, width >> cfg.fwa_amp_init_shift)
        s0 = (int(cfg.seed) ^ PERP_FWA_STREAM) & sf.MASK32
        states = [sf.lane_seed(s0, 0, r) for r in range(cfg.fwa_fireworks)]
        for _ in range(cfg.perplexity_fwa_iters):
            before = best[0].h_q
            ranked = sorted(cache.items(), key=lambda kv: (-kv[1], kv[0]))
            fireworks = [fx.log2_fixed(pq, PF, cfg) for pq, _ in ranked[:cfg.fwa_fireworks]]
            sparks = []
            for r, v in enumerate(fireworks):
                states[r] = sf.xorshift32(states[r])
                a_r = A << (r * cfg.fwa_amp_rank_shift)
                x = sf.mirror_clamp(v + ((a_r * sf.uniform_s16(states[r])) >> 15), v_lo, v_hi)
                sparks.append(min(max(perp_from_log2(x, cfg), p_lo), p_hi))
            for pq in sparks:
                evaluate(pq)
            s = cfg.fwa_amp_adapt_shift
            A = A + (A >> s) if best[0].h_q > before else A - (A >> s)
            A = min(max(A, 1), width)
    return FixedPerplexityChoice(embedding=best[0], history=history)


__all__ = ["PERP_FWA_STREAM", "check_embedding", "check_grid_side", "divide_floor", "axis_range",
           "cell_coords", "histogram", "count_log2", "entropy_from_counts", "entropy_float_bits",
           "entropy_bound_lsb", "occupancy_entropy_fixed", "FixedClassEmbedding", "perp_reg_cap",
           "embed_class_fixed", "FixedPerplexityChoice", "candidate_regs", "perp_from_log2",
           "choose_perplexity_fixed"]
