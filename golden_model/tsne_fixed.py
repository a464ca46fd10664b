"""Bit-accurate exact t-SNE of the accelerator (the RTL's oracle), 2-D.

One iteration is one pass over all ordered pairs (i, j), i != j (lanes work on different pairs).
The pairs see y in the 17-bit block-floating-point *pair format*: iteration t uses
``y^ = sat17(floor(y / 2^s))`` (`pair_y`), ``s = s_t`` from the embedding of iteration ``t - 1``
(`pair_shift`; the update keeps y_frac), so that every pair product is one 18 x 18 multiplier;
with ``F = y_frac - s`` the pair's fraction bits:

* ``dx = y^_i - y^_j`` (exact, Q.F), ``d2 = floor((dx^2 + dy^2) 2^(W - 2F))`` in UQ.W;
* kernel ``q = 1/(1 + d2)`` by the normaliser and the reciprocal table of `golden_model.fixed`:
  ``1 + d2 = 2^(e+W) (1 + m)``, ``q = r 2^-(W+e)`` with ``r = recip(m)`` (UQ1.W); ``Zq += r`` shifted
  by ``q_frac - W - e`` (UQ1.q_frac);
* force sums per point (`floor_shift`: a floor for a right shift, exact for a left one):
  attractive ``A_i += floor(sr dx 2^-(W + e + F - grad_frac))`` with ``sr = floor(S_ij r / 2^p_frac)``,
  repulsive ``R_i += floor(r2 dx 2^-(W + 2e + F - grad_frac))`` with ``r2 = floor(r r / 2^W)``.

At the end of the pass (one per point): ``g_i = (2 ex / N) A_i - (4 / Zq) R_i`` (Q.grad_frac), the
two constants again through normaliser + reciprocal table; then, per coordinate (scikit-learn's
exact method, as `reference.tsne`): gain ``+0.2`` when the gradient's sign differs from the
velocity's, else ``x0.8``, floored at the minimum gain; velocity ``v = mu v - lr gain g``;
``y += v``.  Velocity and gains are reset when the exaggeration phase ends.  Every right shift is a
floor; y, v, gains and g saturate.  The pairwise part uses int64 NumPy (every product stays below
2^62: AccelConfig enforces it), the O(N) end-of-pass part uses Python integers.

Formats and bounds: docs/fixed_point.md ("Affinities and t-SNE").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import fixed as fx
from .config import AccelConfig
from .search_fixed import MASK32, gauss_approx, lane_seed, xorshift32

#: Seed offset of the initialisation stream, so that it never equals a sigma-search lane stream.
TSNE_INIT_STREAM = 0x74534E45  # "tSNE"
#: scikit-learn's gain rule (constants rounded to gain_frac bits by `Coefs`).
GAIN_INC, GAIN_DEC = 0.2, 0.8


def _round(x: float, frac: int) -> int:
    return int(np.floor(x * (1 << frac) + 0.5))


@dataclass(frozen=True)
class Coefs:
    """Register values of the schedule (host-rounded to nearest once)."""
    lr: int          # UQ.coef_frac
    ex: int          # UQ.coef_frac
    mom_early: int   # UQ0.coef_frac
    mom_late: int
    gain_one: int    # UQ.gain_frac
    gain_inc: int
    gain_dec: int
    gain_min: int
    gain_max: int

    @classmethod
    def of(cls, cfg: AccelConfig, learning_rate: float | None = None) -> "Coefs":
        C, G = cfg.coef_frac, cfg.gain_frac
        lr = cfg.tsne_learning_rate if learning_rate is None else float(learning_rate)
        return cls(lr=_round(lr, C), ex=_round(cfg.tsne_exaggeration, C),
                   mom_early=_round(cfg.tsne_momentum_early, C), mom_late=_round(cfg.tsne_momentum_late, C),
                   gain_one=1 << G, gain_inc=_round(GAIN_INC, G), gain_dec=_round(GAIN_DEC, G),
                   gain_min=max(1, _round(cfg.tsne_min_gain, G)),
                   gain_max=(1 << (cfg.gain_int_bits + G)) - 1)

    def as_float(self, cfg: AccelConfig) -> dict:
        """The values the registers hold, as float (for a float run with identical constants)."""
        C, G = 2.0 ** -cfg.coef_frac, 2.0 ** -cfg.gain_frac
        return {"lr": self.lr * C, "ex": self.ex * C, "mom_early": self.mom_early * C,
                "mom_late": self.mom_late * C, "gain_inc": self.gain_inc * G, "gain_dec": self.gain_dec * G,
                "gain_min": self.gain_min * G, "gain_max": self.gain_max * G}


def y_limit(cfg: AccelConfig) -> int:
    """Largest |y| and |v| in LSBs (signed Q(y_int_bits).y_frac, symmetric saturation)."""
    return (1 << (cfg.y_int_bits + cfg.y_frac)) - 1


def grad_limit(cfg: AccelConfig) -> int:
    return (1 << (cfg.y_int_bits + cfg.grad_frac)) - 1


# --------------------------------------------------------------------------- initialisation


def init_embedding(n: int, cfg: AccelConfig, seed: int | None = None) -> np.ndarray:
    """Initial ``y`` (n, 2) int64 in Q.y_frac: coordinate c of point i is
    ``gauss_approx(xorshift32(lane_seed(seed ^ TSNE_INIT_STREAM, i, c))) << (y_frac - tsne_init_frac)``
    (one PRNG step per coordinate; ``seed`` defaults to cfg.seed)."""
    s0 = ((cfg.seed if seed is None else int(seed)) ^ TSNE_INIT_STREAM) & MASK32
    sh = cfg.y_frac - cfg.tsne_init_frac
    return np.array([[gauss_approx(xorshift32(lane_seed(s0, i, c))) << sh for c in range(2)]
                     for i in range(n)], dtype=np.int64)


# --------------------------------------------------------------------------- kernel


def kernel_parts(d2: np.ndarray, cfg: AccelConfig) -> tuple:
    """``1 / (1 + d2)`` for ``d2`` in UQ.W (int64 array) as mantissa and exponent ``(r, e)``:
    ``q = r 2^-(W + e)``, ``r`` = recip(m) in UQ1.W, ``e >= 0`` (leading one of ``1 + d2``)."""
    W = cfg.w_frac
    x = d2 + (np.int64(1) << W)
    p = np.frexp(x.astype(np.float64))[1].astype(np.int64) - 1  # leading one; exact below 2^53
    mn = ((x - (np.int64(1) << p)) << W) >> p
    r = fx.table_interp(fx.recip_table(cfg.recip_table_bits, W), mn, W, cfg.recip_table_bits, cfg.interpolate)
    return r, p - W


def kernel_np(d2: np.ndarray, cfg: AccelConfig) -> np.ndarray:
    """``1 / (1 + d2)`` in UQ1.q_frac (the term added to Zq): ``r`` shifted by ``q_frac - W - e``."""
    r, e = kernel_parts(d2, cfg)
    sh = cfg.q_frac - cfg.w_frac - e  # as the Zq term of `forces`
    return np.where(sh >= 0, r << np.maximum(sh, 0), r >> np.minimum(np.maximum(-sh, 0), 62))


def kernel_rel_bound(cfg: AccelConfig) -> float:
    """Relative bound on the kernel ``r 2^-(W+e)`` at an exactly represented d2: reciprocal table
    (``rb`` LSB of a mantissa in [1/2, 1], i.e. ``2 rb 2^-W``) plus the floored mantissa (``2^-W``)."""
    return (2 * fx.recip_bound_lsb(cfg) + 1) * 2.0 ** -cfg.w_frac


def kernel_bound(q: np.ndarray, cfg: AccelConfig) -> np.ndarray:
    """Bound on ``|kernel_np - 2^q_frac / (1 + d2)|`` in UQ1.q_frac LSBs, for the true value ``q``:
    `kernel_rel_bound` plus the final floor (1 LSB)."""
    return q * kernel_rel_bound(cfg) * (1 << cfg.q_frac) + 1.0


def _recip_parts(x: int, x_frac: int, cfg: AccelConfig) -> tuple:
    """1/x for x = x_q / 2^x_frac > 0 as (r, k): 1/x ~ r 2^-k, r = recip(m) in UQ1.W."""
    p, mn = fx.normalise(x, cfg)
    return fx.recip_mantissa(mn, cfg), p - x_frac + cfg.w_frac


#: the pair format: ``y^`` is PAIR_BITS bits signed, so ``|dx| < 2^PAIR_BITS`` (one 18 x 18 multiplier)
PAIR_BITS = 17


def pair_shift_max(cfg: AccelConfig) -> int:
    """The largest pair shift: at it every representable y fits the pair format."""
    return max(0, cfg.y_int_bits + cfg.y_frac + 1 - PAIR_BITS)


def pair_shift(Y: np.ndarray, cfg: AccelConfig) -> int:
    """The pair shift an embedding calls for: with ``b`` the bit length of the OR over every
    coordinate of ``y XOR sign(y)`` (``|y|``, one's complement for negatives), the smallest
    ``s >= 0`` with ``b - s <= PAIR_BITS - 1 - pair_headroom`` (``pair_headroom`` bits to grow before
    `pair_y` saturates), at most `pair_shift_max`."""
    Y = np.asarray(Y, dtype=np.int64)
    m = int(np.bitwise_or.reduce((Y ^ (Y >> 63)).ravel())) if Y.size else 0
    return min(pair_shift_max(cfg), max(0, m.bit_length() + cfg.pair_headroom - (PAIR_BITS - 1)))


def pair_y(Y: np.ndarray, shift: int, cfg: AccelConfig) -> np.ndarray:
    """The embedding as the pair datapath sees it: ``floor(y / 2^shift)`` saturated to PAIR_BITS
    bits signed (int64, Q.(y_frac - shift))."""
    lim = 1 << (PAIR_BITS - 1)
    return np.clip(np.asarray(Y, dtype=np.int64) >> shift, -lim, lim - 1)


def floor_shift(v: np.ndarray, k) -> np.ndarray:
    """``floor(v 2^-k)`` elementwise for integer ``k`` of either sign (int64): ``(v << L) >> (k + L)``
    with ``L`` the largest left shift in ``k``, right shifts capped at 62 (the same floor while
    ``|v| 2^L < 2^62``, which the pair widths keep: ``|v| < 2^35``, ``L <= 16``)."""
    k = np.asarray(k)
    L = max(0, -int(k.min())) if k.size else 0
    return (v << L) >> np.minimum(k + L, 62)


def _shift(v, k: int):
    """floor(v / 2^k) for any integer k (left shift when negative); Python ints or object arrays."""
    return v >> k if k >= 0 else v << -k


# --------------------------------------------------------------------------- one pass


@dataclass
class Forces:
    """What one pass accumulates, and the gradient formed at its end (object arrays of ints)."""
    zq: int                 # sum of the kernel, UQ.q_frac
    att: np.ndarray         # (n, 2) attractive sums, Q.grad_frac (without 2 ex / N)
    rep: np.ndarray         # (n, 2) repulsive sums, Q.grad_frac (without 4 / Zq)
    grad: np.ndarray        # (n, 2) gradient, Q.grad_frac, saturated


def forces(S: np.ndarray, Y: np.ndarray, ex: int, cfg: AccelConfig, shift: int | None = None) -> Forces:
    """One pass over all pairs: kernel, Zq, attractive and repulsive sums, gradient.

    Parameters
    ----------
    S : (n, n) int64
        Pair sums of `golden_model.affinity_fixed.joint_fixed` (UQ1.p_frac).
    Y : (n, 2) int64
        Embedding, Q.y_frac.
    ex : int
        Exaggeration register (UQ.coef_frac) of the current phase (1.0 = 2^coef_frac).
    shift : int, optional
        Pair shift (`pair_y`); default ``pair_shift(Y)`` (a run uses the previous iteration's).
    """
    W, QF, PF, GF = cfg.w_frac, cfg.q_frac, cfg.p_frac, cfg.grad_frac
    n = Y.shape[0]
    s = pair_shift(Y, cfg) if shift is None else int(shift)
    FP = cfg.y_frac - s                                      # the pair's fraction bits
    Yp = pair_y(Y, s, cfg)
    dx = Yp[:, None, :] - Yp[None, :, :]                     # (n, n, 2), Q.FP, |dx| < 2^17
    d2 = floor_shift(dx[..., 0] * dx[..., 0] + dx[..., 1] * dx[..., 1], 2 * FP - W)
    r, e = kernel_parts(d2, cfg)
    np.fill_diagonal(r, 0)
    sz = QF - W - e                                          # Zq term: r in UQ1.q_frac
    zq = int(np.where(sz >= 0, r << np.maximum(sz, 0), r >> np.minimum(np.maximum(-sz, 0), 62)).sum())
    # the force terms use the kernel as mantissa r and exponent e (a shifter on the accumulate
    # path), so far pairs keep W significant bits; shifts beyond 62 give the same floor
    sr = (S * r) >> PF                                       # S r, UQ.W
    r2 = (r * r) >> W                                        # r^2, UQ1.W
    sa = (W + e + FP - GF)[..., None]
    sb = (W + 2 * e + FP - GF)[..., None]
    att = floor_shift(sr[..., None] * dx, sa).sum(axis=1)
    rep = floor_shift(r2[..., None] * dx, sb).sum(axis=1)
    att_o, rep_o = att.astype(object), rep.astype(object)
    # 2 ex / N: 1/N from the reciprocal unit, times the exaggeration register (one floor)
    rn, kn = _recip_parts(n, 0, cfg)
    ca = (ex * rn) >> cfg.coef_frac                          # ex / (1+m_N), UQ.W
    g_att = _shift(att_o * ca, kn - 1)                       # 2 ex / N = 2 ca 2^-kn
    if zq > 0:
        rz, kz = _recip_parts(zq, QF, cfg)
        g_rep = _shift(rep_o * rz, kz - 2)                   # 4 / Zq = 4 rz 2^-kz
    else:  # all kernels underflowed (points beyond the y range): no repulsion to apply
        g_rep = rep_o * 0
    lim = grad_limit(cfg)
    g = np.clip(g_att - g_rep, -lim, lim)
    return Forces(zq=zq, att=att_o, rep=rep_o, grad=g)


def update(Y, V, G, grad, mom: int, co: Coefs, cfg: AccelConfig) -> tuple:
    """Gains, velocity and position update of one iteration (object arrays of ints)."""
    inc = ((V > 0) & (grad < 0)) | ((V < 0) & (grad > 0))
    G = np.where(inc, G + co.gain_inc, (G * co.gain_dec) >> cfg.gain_frac)
    G = np.clip(G, co.gain_min, co.gain_max)
    step = (co.lr * G * grad) >> (cfg.coef_frac + cfg.gain_frac + cfg.grad_frac - cfg.y_frac)
    lim = y_limit(cfg)
    V = np.clip(((mom * V) >> cfg.coef_frac) - step, -lim, lim)
    Y = np.clip(Y + V, -lim, lim)
    return Y, V, G


# --------------------------------------------------------------------------- error bounds


def gradient_bound(S: np.ndarray, Y: np.ndarray, ex: int, cfg: AccelConfig, shift: int | None = None) -> np.ndarray:
    """Bound on ``|forces(S, Y, ex).grad - g|`` in Q.grad_frac LSBs, elementwise, where ``g`` is the
    float64 gradient `reference.kl_gradient` of ``P = S / (2N 2^p_frac)`` (times the register
    value of the exaggeration) at the same, exactly represented ``Y``.

    The pairs see ``Y^`` (`pair_y`, ``shift`` as in `forces`), so by the triangle inequality the bound is the arithmetic's
    bound at ``Y^`` plus ``|g(Y^) - g(Y)|`` (both float64 gradients, computed here).  The
    arithmetic's part, first order, from the state (docs/fixed_point.md): kernel ``eq = 2^(1-W) n^2``
    (floored d2) + ``kernel_rel_bound n``; sums ``eA = sum_j (s eq + 2 n 2^-W)|x| + (N-1)
    2^-grad_frac`` (the floor of ``S r``), ``eR = sum_j (2 n eq + eq^2 + 4 n^2 2^-W)|x| + (N-1)
    2^-grad_frac`` (the floor of ``r^2``), ``eZ = sum (eq + 2^-q_frac)``; constants ``2 ex / N``
    (relative ``(2 rb + 2) 2^-W``) and ``4 / Zq`` (relative ``(2 rb + 1) 2^-W + eZ / Z``); two
    final floors."""
    W, QF, GF = cfg.w_frac, cfg.q_frac, cfg.grad_frac
    rb = fx.recip_bound_lsb(cfg)
    n = Y.shape[0]
    s = np.asarray(S, dtype=np.float64) / (1 << cfg.p_frac)
    ca = 2.0 * ex / (1 << cfg.coef_frac) / n

    def sums(y):
        x = y[:, None, :] - y[None, :, :]
        k = 1.0 / (1.0 + (x * x).sum(axis=2))
        np.fill_diagonal(k, 0.0)
        return x, k, ((s * k)[..., None] * x).sum(axis=1), ((k * k)[..., None] * x).sum(axis=1), k.sum()

    y = np.asarray(Y, dtype=np.float64) / (1 << cfg.y_frac)
    sh = pair_shift(Y, cfg) if shift is None else int(shift)
    yp = pair_y(Y, sh, cfg).astype(np.float64) / 2.0 ** (cfg.y_frac - sh)
    x, k, A, R, z = sums(yp)
    _, _, A0, R0, z0 = sums(y)
    eq = 2.0 ** (1 - W) * k * k + kernel_rel_bound(cfg) * k
    ax = np.abs(x)
    lsb = (n - 1) * 2.0 ** -GF
    eA = ((s * eq + 2 * k * 2.0 ** -W)[..., None] * ax).sum(axis=1) + lsb
    eR = ((2 * k * eq + eq * eq + 4 * k * k * 2.0 ** -W)[..., None] * ax).sum(axis=1) + lsb
    ez = eq.sum() + n * (n - 1) * 2.0 ** -QF
    rel_a = (2 * rb + 2) * 2.0 ** -W
    rel_z = (2 * rb + 1) * 2.0 ** -W + ez / z
    cr = 4.0 / z
    e = ca * (1 + rel_a) * eA + ca * rel_a * np.abs(A) + cr * (1 + rel_z) * eR + cr * rel_z * np.abs(R)
    e += np.abs((ca * A - cr * R) - (ca * A0 - 4.0 / z0 * R0))     # the pair format's floor of y
    return e * (1 << GF) + 2.0


def step_bound(grad_err_lsb: np.ndarray, grad: np.ndarray, G: np.ndarray, co: Coefs, cfg: AccelConfig) -> np.ndarray:
    """Bound on ``|y' - y'_float|`` in Q.y_frac LSBs after one `update` from the same state (y, v,
    gains) with the same gain decision, the float step using the register values
    (`Coefs.as_float`): ``lr (G' |dg| + |dG'| |g|) + 2`` with ``|dG'| <= 2^-gain_frac`` (the
    floored x0.8; G' the new gain, float) and two floors (momentum product and step)."""
    YF, GF = cfg.y_frac, cfg.grad_frac
    lr = co.lr / (1 << cfg.coef_frac)
    g = np.abs(np.asarray(grad, dtype=np.float64)) / (1 << GF)
    Gf = np.asarray(G, dtype=np.float64) / (1 << cfg.gain_frac)
    dg = np.asarray(grad_err_lsb, dtype=np.float64) / (1 << GF)
    return lr * (Gf * dg + 2.0 ** -cfg.gain_frac * g) * (1 << YF) + 2.0


# --------------------------------------------------------------------------- the run


@dataclass
class TSNEFixedResult:
    Y: np.ndarray        # (n, 2) int64, Q.y_frac
    Y0: np.ndarray       # initial embedding, Q.y_frac
    V: np.ndarray        # final velocity
    G: np.ndarray        # final gains, UQ.gain_frac
    coefs: Coefs

    def y_float(self, cfg: AccelConfig) -> np.ndarray:
        return self.Y.astype(np.float64) / (1 << cfg.y_frac)


#: trace beat kinds of the engine's debug stream (`hw.tsne`, docs/hardware.md "t-SNE engine");
#: TRACE_P: the core's P dump (`hw.pdump`, DEBUG register bit 0) on the same stream
TRACE_ZQ, TRACE_Y, TRACE_P = 0, 1, 2


def trace_selected(it: int, iters: int, every_log2: int) -> bool:
    """Whether the embedding after iteration ``it`` (0-based) is traced: every ``2^every_log2``-th
    iteration (``(it + 1) mod 2^k == 0``) and the last."""
    return (it + 1) % (1 << every_log2) == 0 or it == iters - 1


def trace_beats(S: np.ndarray, cfg: AccelConfig, every_log2: int, **kw) -> list:
    """The debug stream of a run (`tsne_fixed` arguments in ``kw``): per iteration a Zq beat
    ``(TRACE_ZQ, it, 0, Zq)``, then, if `trace_selected`, one beat ``(TRACE_Y, it, i, (y_i0, y_i1))``
    per point with the embedding after the iteration's update."""
    beats = []

    def on_iter(it, zq, Y):
        beats.append((TRACE_ZQ, it, 0, int(zq)))
        if trace_selected(it, kw.get("iters") or cfg.tsne_iters, every_log2):
            beats.extend((TRACE_Y, it, i, (int(Y[i, 0]), int(Y[i, 1]))) for i in range(Y.shape[0]))
    tsne_fixed(S, cfg, on_iter=on_iter, **kw)
    return beats


def p_beats(S: np.ndarray) -> list:
    """The P dump (`hw.pdump`): one beat ``(TRACE_P, j, i, S_ij)`` per entry of the pair-sum
    matrix, row-major, diagonal (0) and both copies of each pair included (the ``iter`` field
    carries the column ``j``)."""
    S = np.asarray(S)
    return [(TRACE_P, j, i, int(S[i, j])) for i in range(S.shape[0]) for j in range(S.shape[1])]


def tsne_fixed(S: np.ndarray, cfg: AccelConfig, seed: int | None = None, Y0: np.ndarray | None = None,
               learning_rate: float | None = None, iters: int | None = None, on_iter=None) -> TSNEFixedResult:
    """Exact 2-D t-SNE of pair sums `S` in the accelerator's arithmetic.

    Schedule as `reference.tsne` (cfg.tsne_*): ``tsne_exaggeration_iters`` iterations with the
    exaggeration and early momentum, then plain P and late momentum; velocity and gains reset at
    the switch; fixed iteration count.  `Y0` (Q.y_frac int) overrides the PRNG initialisation;
    `iters` overrides cfg.tsne_iters (tests); ``on_iter(it, zq, Y)`` is called after each
    iteration's update (the trace stream, `trace_beats`)."""
    S = np.asarray(S)
    if S.ndim != 2 or S.shape[0] != S.shape[1] or S.shape[0] < 2 or S.shape[0] > cfg.n_max:
        raise ValueError(f"S must be a square pair-sum matrix of 2 .. n_max={cfg.n_max} points, got shape {S.shape}")
    if not np.issubdtype(S.dtype, np.integer) or S.min() < 0 or S.max() >= 1 << (cfg.p_frac + 1):
        raise ValueError(f"S must hold integers in [0, 2^(p_frac + 1) - 1] = [0, {(1 << (cfg.p_frac + 1)) - 1}]")
    S = S.astype(np.int64)
    n = S.shape[0]
    co = Coefs.of(cfg, learning_rate)
    Yi = init_embedding(n, cfg, seed) if Y0 is None else np.asarray(Y0, dtype=np.int64)
    if Yi.shape != (n, 2) or np.abs(Yi).max() > y_limit(cfg):
        raise ValueError(f"Y0 must have shape ({n}, 2) and |Y0| <= {y_limit(cfg)} (Q.y_frac)")
    Y = Yi.astype(object)
    V = np.zeros((n, 2), dtype=object) * 0
    G = np.full((n, 2), co.gain_one, dtype=object)
    one = 1 << cfg.coef_frac
    total = cfg.tsne_iters if iters is None else int(iters)
    y_prev = Yi              # the embedding of the previous iteration (iteration 0: its own)
    for it in range(total):
        early = it < cfg.tsne_exaggeration_iters
        if it == cfg.tsne_exaggeration_iters and it > 0:
            V = V * 0
            G = np.full((n, 2), co.gain_one, dtype=object)
        # the pair shift of the previous iteration's embedding: the hardware's next stream starts
        # while the update still writes this one (docs/fixed_point.md, "The pair format")
        shift = pair_shift(y_prev, cfg)
        y_prev = Y.astype(np.int64)
        f = forces(S, y_prev, co.ex if early else one, cfg, shift)
        Y, V, G = update(Y, V, G, f.grad, co.mom_early if early else co.mom_late, co, cfg)
        if on_iter is not None:
            on_iter(it, f.zq, Y)
    return TSNEFixedResult(Y=Y.astype(np.int64), Y0=Yi, V=V.astype(np.int64), G=G.astype(np.int64), coefs=co)
