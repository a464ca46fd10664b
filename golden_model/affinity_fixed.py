"""Bit-accurate conditional and joint affinities of the accelerator (the RTL's oracle).

After the sigma search every row is swept once more with its searched candidate ``u_i`` (the
distance row is recomputed from the feature memory, as in the search), using the search's own
kernel, so there is no second approximation of ``exp``:

* ``w_ij = 2^-t_ij`` exactly as the search lane computes it (`fixed.kernel_terms`), ``Z_i = sum w``;
* ``p_{j|i} = w_ij / Z_i`` by the normaliser and the reciprocal table (`fixed.normalise`,
  `fixed.recip_mantissa`): ``Z = 2^(e+W) (1 + m)``, ``p = floor(w r / 2^(2W + e - p_frac))`` with
  ``r = recip(m)`` in UQ1.W, saturated at ``2^p_frac - 1`` (format UQ0.p_frac);
* the stored pair value ``S_ij = p_{j|i} + p_{i|j}`` (UQ1.p_frac, exact integer add, symmetric); the
  joint affinity is ``p_ij = S_ij / 2N``.  The ``1/2N`` is not applied to the memory: the t-SNE
  phase folds it into one per-phase constant (`golden_model.tsne_fixed`).

Formats, bounds and the memory table: docs/fixed_point.md ("Affinities and t-SNE").
"""

from __future__ import annotations

import math

import numpy as np

from . import fixed as fx
from .config import AccelConfig

# --------------------------------------------------------------------------- search-lane weights


def row_weights(d: np.ndarray, u_q: np.ndarray, cfg: AccelConfig) -> np.ndarray:
    """Search-lane weights ``w = 2^-t`` (UQ1.W) for shifted distances ``d`` (rows, int64) with one
    candidate ``u_q`` per row; identical to `fixed.kernel_terms` element by element."""
    W, T = cfg.w_frac, cfg.t_frac
    bm_ui = [fx.candidate_multiplier(int(u), cfg) for u in u_q]
    bm = np.array([b for b, _ in bm_ui], dtype=np.int64)[:, None]
    s = np.array([ui - W + T for _, ui in bm_ui], dtype=np.int64)[:, None]
    return fx.kernel_terms_np(d, bm, s, cfg)[1]


def _check_inputs(D: np.ndarray, u_q, cfg: AccelConfig) -> tuple:
    D = np.asarray(D)
    if D.ndim != 2 or D.shape[0] != D.shape[1] or D.shape[0] < 2:
        raise ValueError(f"D must be a square matrix of at least 2 x 2 squared distances, got shape {D.shape}")
    n = D.shape[0]
    if n > cfg.n_max:
        raise ValueError(f"class of {n} points exceeds n_max={cfg.n_max}: allowed [2, {cfg.n_max}]")
    if not np.issubdtype(D.dtype, np.integer) or D.min() < 0 or D.max() > cfg.dist_max:
        raise ValueError(f"D must hold integer squared distances in [0, {cfg.dist_max}] (dist_max)")
    u_q = np.asarray(u_q, dtype=np.int64)
    if u_q.shape != (n,):
        raise ValueError(f"need one searched u per point: {n}, got shape {u_q.shape}")
    return D.astype(np.int64), u_q


def class_weights(D: np.ndarray, u_q, cfg: AccelConfig) -> tuple:
    """``(w, Z, m)``: the search kernel of every row at its own ``u_i`` (``w_ii = 0``), the row sums
    (UQ.W) and the row minima."""
    D, u_q = _check_inputs(D, u_q, cfg)
    n = D.shape[0]
    off = ~np.eye(n, dtype=bool)
    m = np.where(off, D, np.iinfo(np.int64).max).min(axis=1)
    d = np.where(off, D - m[:, None], 0)
    w = np.where(off, row_weights(d, u_q, cfg), 0)
    return w, w.sum(axis=1), m


def conditional_fixed(D: np.ndarray, u_q, cfg: AccelConfig) -> np.ndarray:
    """Conditional affinities ``P[i, j] = p_{j|i}`` in UQ0.p_frac (int64, ``P[i, i] = 0``).

    Parameters
    ----------
    D : ndarray (N, N) of int
        Exact squared distances of the class.
    u_q : sequence of int
        Searched ``u_i = log2 b_i`` per point (``SearchResult.u``, u_frac fraction bits).
    cfg : AccelConfig
    """
    w, z, _ = class_weights(D, u_q, cfg)
    W, PF = cfg.w_frac, cfg.p_frac
    out = np.empty_like(w)
    for i in range(w.shape[0]):  # one normalisation per row (row end), then a multiply per element
        p, mn = fx.normalise(int(z[i]), cfg)
        r = fx.recip_mantissa(mn, cfg)
        out[i] = (w[i] * r) >> (2 * W + (p - W) - PF)  # Z >= 1.0, so e = p - W >= 0
    return np.minimum(out, (1 << PF) - 1)


def pair_sums(P_cond: np.ndarray) -> np.ndarray:
    """``S = P + P^T`` (UQ1.p_frac, symmetric, zero diagonal): the value stored per pair."""
    P_cond = np.asarray(P_cond, dtype=np.int64)
    return P_cond + P_cond.T


def joint_fixed(D: np.ndarray, u_q, cfg: AccelConfig) -> np.ndarray:
    """Pair sums ``S_ij`` of a class (see module doc); the joint affinity is ``S / (2N 2^p_frac)``."""
    return pair_sums(conditional_fixed(D, u_q, cfg))


def joint_to_float(S: np.ndarray, cfg: AccelConfig) -> np.ndarray:
    """The joint affinities ``S / (2N 2^p_frac)`` that `S` represents, as float64."""
    S = np.asarray(S)
    return S.astype(np.float64) / (2.0 * S.shape[0] * (1 << cfg.p_frac))


def searched_u(results) -> np.ndarray:
    """``u`` of every `search_fixed.SearchResult` of a class."""
    return np.array([r.u for r in results], dtype=np.int64)


# --------------------------------------------------------------------------- error bound


def conditional_error_bound(D: np.ndarray, u_q, cfg: AccelConfig) -> np.ndarray:
    """Elementwise bound on ``|p_{j|i} (fixed) - p_{j|i} (float64 at the same beta)|`` in UQ0.p_frac
    LSBs (float64 reference: `reference.conditional_p` with ``beta = 2^u ln 2``).

    Per weight: ``|w - 2^-bd| <= ln2 w (2 eb_f 2^-W t + 2^-T) + eb 2^-W`` (``bm`` within the
    2^-f table bound ``eb_f``, the floor of ``t``, the 2^-t bound ``eb``).  Per ratio ``w / Z``:
    ``(ew_ij + p sum_k ew_ik) / (Z - sum_k ew_ik)`` plus the normalisation (mantissa floor and
    reciprocal table, relative ``(2 rb + 1) 2^-W``), the final floor and the saturation (1 LSB
    each)."""
    D, u_q = _check_inputs(D, u_q, cfg)
    n = D.shape[0]
    W, T = cfg.w_frac, cfg.t_frac
    off = ~np.eye(n, dtype=bool)
    m = np.where(off, D, np.iinfo(np.int64).max).min(axis=1)
    d = np.where(off, D - m[:, None], 0).astype(np.float64)
    b = 2.0 ** (u_q.astype(np.float64) / (1 << cfg.u_frac))
    t = b[:, None] * d
    w = np.where(off, 2.0 ** -t, 0.0)
    z = w.sum(axis=1, keepdims=True)
    p = w / z
    ebf, eb, rb = fx.exp2neg_frac_bound_lsb(cfg), fx.exp2neg_bound_lsb(cfg), fx.recip_bound_lsb(cfg)
    ew = np.where(off, fx.LN2 * w * (2 * ebf * 2.0 ** -W * t + 2.0 ** -T) + eb * 2.0 ** -W, 0.0)
    sew = ew.sum(axis=1, keepdims=True)
    ratio = (ew + p * sew) / np.maximum(z - sew, 1e-300)
    norm = p * (2 * rb + 1) * 2.0 ** -W
    return np.where(off, (ratio + norm) * (1 << cfg.p_frac) + 2.0, 0.0)


# --------------------------------------------------------------------------- on-chip memory


#: Neighbours kept per row by the sparse option of the memory table (3 x perplexity, as
#: scikit-learn's Barnes-Hut t-SNE does, at the default perplexity 30): our sizing assumption.
SPARSE_NEIGHBOURS = 90


def memory_bits(n: int, cfg: AccelConfig, neighbours: int = SPARSE_NEIGHBOURS) -> dict:
    """On-chip bits of each way to hold the affinity/embedding state for a class of ``n`` points.

    Keys: ``features`` (n d_max feature_bits, already on chip), ``d_dense`` / ``d_triangle`` (stored
    squared distances), ``p_dense`` / ``p_triangle`` (S_ij, p_frac + 1 bits each), ``p_sparse``
    (symmetrised k-NN: up to 2k entries per row, each an index and a value), ``embedding`` (y,
    velocity and gain, 2 coordinates each)."""
    pb = cfg.p_frac + 1
    ib = max(1, (n - 1).bit_length())
    ybits = 1 + cfg.y_int_bits + cfg.y_frac
    tri = n * (n - 1) // 2
    return {
        "features": n * cfg.d_max * cfg.feature_bits,
        "d_dense": n * n * cfg.dist_bits,
        "d_triangle": tri * cfg.dist_bits,
        "p_dense": n * n * pb,
        "p_triangle": tri * pb,
        "p_sparse": n * min(2 * neighbours, n - 1) * (ib + pb),
        "embedding": n * 2 * (2 * ybits + cfg.gain_int_bits + cfg.gain_frac),
    }


MEMORY_TABLE_N = (64, 256, 1024, 4096)


def memory_table_md(cfg: AccelConfig, ns=MEMORY_TABLE_N) -> str:
    """Markdown table of `memory_bits` in kibit (1024 bits) for several class sizes (docs)."""
    cols = [("features", "features (held)"), ("d_triangle", "D, triangle"), ("p_dense", "P dense"),
            ("p_triangle", "P triangle (chosen)"), ("p_sparse", f"P sparse k={SPARSE_NEIGHBOURS}"),
            ("embedding", "y, velocity, gains")]
    lines = ["| n | " + " | ".join(c[1] for c in cols) + " |", "|---:|" + "---:|" * len(cols)]
    for n in ns:
        mb = memory_bits(n, cfg)
        lines.append(f"| {n} | " + " | ".join(f"{math.ceil(mb[k] / 1024):,}" for k, _ in cols) + " |")
    return "\n".join(lines)
