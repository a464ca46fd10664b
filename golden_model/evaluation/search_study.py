"""Sigma-search studies: quality per policy and arithmetic, and the shape of H(u) (staircase / sawtooth)."""

from __future__ import annotations

import math
import time

import numpy as np

from .. import fixed as fx
from .. import reference as ref
from .. import search_fixed as sf
from ..config import POLICIES, AccelConfig, get_preset
from .data import Data
from .settings import Settings, pool_map


def exact_u(d_row: np.ndarray, perplexity: float, cfg: AccelConfig) -> float:
    """The float64 root of H(2^u) = log2 Perp (Brent's method on the search bracket)."""
    from scipy.optimize import brentq

    target = math.log2(perplexity)
    lo, hi = ref.search_bracket(d_row, cfg)
    f = lambda u: ref.row_entropy_bits(d_row, 2.0 ** u)[0] - target  # noqa: E731
    if f(lo) < 0 or f(hi) > 0:
        return float("nan")
    return float(brentq(f, lo, hi, xtol=1e-13, rtol=4 * np.finfo(float).eps, maxiter=200))


def arithmetic_variants(s: Settings) -> list:
    """(key, description, kind, params) for every arithmetic of the study."""
    out = []
    for tol in s.sq_float_tols:
        key = f"float64 tol={fmt_tol(tol)}"
        out.append((key, {"arithmetic": "float64", "tol": tol, "table_bits": None,
                          "interpolate": None, "row_min_shift": True}))
    for tb in s.sq_table_bits:
        for interp in (True, False):
            for shift in (True, False):
                key = f"fixed {tb}b {'interp' if interp else 'no-interp'} {'shift' if shift else 'no-shift'}"
                out.append((key, {"arithmetic": "fixed", "tol": 2.0 ** -tb, "table_bits": tb,
                                  "interpolate": interp, "row_min_shift": shift}))
    return out


def fmt_tol(t: float) -> str:
    e = math.log2(t)
    return f"2^{int(e)}" if e == int(e) else f"{t:g}"


def sq_points(s: Settings, data: Data) -> list:
    """(class, local index, class X) for the study: `sq_points_per_class` points per class, a
    seeded random choice; the distance rows are the full class rows of the training split."""
    rng = np.random.default_rng(1234 + s.split_seed)
    pts = []
    for c in s.sq_classes:
        idx = np.flatnonzero(data.y_train_all == c)
        Xc = ref.as_integer_features(data.X_train_all[idx])
        chosen = np.sort(rng.choice(idx.size, size=min(s.sq_points_per_class, idx.size), replace=False))
        pts.append((int(c), Xc, [int(i) for i in chosen]))
    return pts


def _sq_task(args):
    """Worker: every policy for one arithmetic variant, over all study points."""
    key, params, pts, perplexity, cfg_dict, exact = args
    cfg = AccelConfig.from_dict(cfg_dict)
    if params["arithmetic"] == "fixed":
        tb = params["table_bits"]
        cfg = cfg.with_overrides(exp_table_bits=tb, log_table_bits=tb, recip_table_bits=tb,
                                 interpolate=params["interpolate"], tolerance_log2=None)
        perp_q = fx.perplexity_to_reg(perplexity, cfg)
    target = math.log2(perplexity)
    rows = []
    for policy in POLICIES:
        conv, err, own, rel, passes, evals = [], [], [], [], [], []
        t0 = time.perf_counter()
        for (c, Xc, chosen), ex_c in zip(pts, exact):
            D = ref.sq_distances(Xc)
            for i, u_star in zip(chosen, ex_c):
                d = ref.row_without_self(D, i)
                if params["arithmetic"] == "float64":
                    r = ref.search_row(d, perplexity, policy, cfg, tol=params["tol"], point_index=i)
                    u, ok, e_own = r.u, r.converged, abs(r.H - r.target)
                else:
                    r = sf.search_row(D[i], i, perp_q, policy, cfg, row_min_shift=params["row_min_shift"])
                    u, ok = r.u / float(1 << cfg.u_frac), r.converged
                    e_own = r.err / float(1 << cfg.h_frac)
                H64 = ref.row_entropy_bits(d, 2.0 ** u)[0]
                conv.append(ok)
                err.append(abs(H64 - target))
                own.append(e_own)
                rel.append(abs(2.0 ** (u - u_star) - 1.0))
                passes.append(r.passes)
                evals.append(r.evaluations)
        err = np.asarray(err)
        rel = np.asarray(rel)
        rows.append({
            "policy": policy, "variant": key, **params, "n_points": int(err.size),
            "miss_rate": float(1.0 - np.mean(conv)),
            "true_err_mean": float(err.mean()), "true_err_p95": float(np.percentile(err, 95)),
            "true_err_max": float(err.max()),
            "own_err_mean": float(np.mean(own)),
            "beta_off_10pct": float(np.mean(rel > 0.10)),
            "beta_rel_err_p95": float(np.percentile(rel, 95)),
            "passes_mean": float(np.mean(passes)), "passes_max": int(np.max(passes)),
            "evals_mean": float(np.mean(evals)),
            "time_s": time.perf_counter() - t0,
        })
    return key, rows


def run_search_quality(s: Settings, data: Data, log=print) -> dict:
    cfg = get_preset(s.preset)  # the search study always uses the unmodified preset
    t0 = time.perf_counter()
    pts = sq_points(s, data)
    exact = []
    for c, Xc, chosen in pts:
        D = ref.sq_distances(Xc)
        exact.append([exact_u(ref.row_without_self(D, i), s.sq_perplexity, cfg) for i in chosen])
    variants = arithmetic_variants(s)
    tasks = [(k, p, pts, s.sq_perplexity, cfg.to_dict(derived=False), exact) for k, p in variants]
    res = dict(pool_map(_sq_task, tasks, s.jobs))
    rows = [row for k, _ in variants for row in res[k]]
    dt = time.perf_counter() - t0
    log(f"[search] {len(rows)} (policy, arithmetic) cells on {rows[0]['n_points']} points in {dt:.1f} s")
    return {"perplexity": s.sq_perplexity, "classes": list(s.sq_classes),
            "points_per_class": s.sq_points_per_class, "n_points": rows[0]["n_points"],
            "cfg": {k: getattr(cfg, k) for k in ("w_frac", "t_frac", "u_frac", "h_frac", "lanes",
                                                  "max_passes", "fwa_fireworks", "fwa_gauss_sparks")},
            "rows": rows, "time_s": dt}


# --------------------------------------------------------------------------------------------
# H(u) near the solution: the staircase / sawtooth
# --------------------------------------------------------------------------------------------
def fixed_h_curve(row, i, us_q, cfg, shift=True) -> np.ndarray:
    """Fixed-point H (bits) at the candidates `us_q` (u LSBs) of point i of a class row."""
    others = np.delete(np.asarray(row, dtype=np.int64), i)
    m = int(others.min()) if shift else 0
    out = fx.evaluate_candidates_np(np.asarray(row, dtype=np.int64), i, m, list(us_q), cfg)
    return np.array([o[0] for o in out], dtype=np.float64) / float(1 << cfg.h_frac)


def _table_cfg(cfg, tb, interp):
    return cfg.with_overrides(exp_table_bits=tb, log_table_bits=tb, recip_table_bits=tb,
                              interpolate=interp)


def monotonicity_stats(H: np.ndarray, H64: np.ndarray) -> dict:
    dh = np.diff(H)
    return {"rising_steps": float(np.mean(dh > 0)), "max_rise_bits": float(max(0.0, dh.max())),
            "flat_steps": float(np.mean(dh == 0)), "max_abs_dev_bits": float(np.max(np.abs(H - H64)))}


SAW_VARIANTS = ((4, False), (8, False), (8, True))


def run_sawtooth(s: Settings, data: Data, log=print) -> dict:
    """H(u) at every u LSB in a window around the float64 solution, float64 vs table arithmetic,
    for two points (a typical one and the one with the largest nearest-neighbour distance), with
    and without the row-minimum shift; plus monotonicity statistics over `mono_points` points."""
    cfg = get_preset(s.preset)
    t0 = time.perf_counter()
    U = 1 << cfg.u_frac
    idx = np.flatnonzero(data.y_train_all == s.saw_class)
    Xc = ref.as_integer_features(data.X_train_all[idx])
    D = ref.sq_distances(Xc)
    mins = np.array([ref.row_without_self(D, i).min() for i in range(len(Xc))])
    order = np.argsort(mins, kind="stable")
    picks = {"typical": int(order[len(order) // 2]), "far": int(order[-1])}
    curves = {}
    hw = s.saw_halfwidth_lsb
    for name, i in picks.items():
        d = ref.row_without_self(D, i)
        u_star = exact_u(d, s.sq_perplexity, cfg)
        u0 = int(round(u_star * U))
        us_q = np.arange(u0 - hw, u0 + hw + 1)
        H64 = ref.row_entropy_bits(d, 2.0 ** (us_q / U))[0]
        c = {"point": i, "class": s.saw_class, "nn_dist": int(mins[i]), "u_star": u_star,
             "u": (us_q / U).tolist(), "float64": H64.tolist(), "fixed": {}}
        for tb, interp in SAW_VARIANTS:
            for shift in (True, False):
                H = fixed_h_curve(D[i], i, us_q, _table_cfg(cfg, tb, interp), shift)
                c["fixed"][saw_key(tb, interp, shift)] = {"H": H.tolist(), **monotonicity_stats(H, H64)}
        curves[name] = c
    # monotonicity over several points (with the shift; both interpolation settings)
    rng = np.random.default_rng(77)
    mpts = np.sort(rng.choice(len(Xc), size=min(s.mono_points, len(Xc)), replace=False))
    mono = {}
    for tb in s.sq_table_bits:
        for interp in (False, True):
            for shift in (True, False):
                c2 = _table_cfg(cfg, tb, interp)
                st = []
                for i in mpts:
                    d = ref.row_without_self(D, i)
                    u0 = int(round(exact_u(d, s.sq_perplexity, cfg) * U))
                    us_q = np.arange(u0 - hw, u0 + hw + 1)
                    H64 = ref.row_entropy_bits(d, 2.0 ** (us_q / U))[0]
                    st.append(monotonicity_stats(fixed_h_curve(D[i], i, us_q, c2, shift), H64))
                mono[saw_key(tb, interp, shift)] = {
                    "table_bits": tb, "interpolate": interp, "row_min_shift": shift,
                    "rising_steps": float(np.mean([x["rising_steps"] for x in st])),
                    "max_rise_bits": float(np.max([x["max_rise_bits"] for x in st])),
                    "flat_steps": float(np.mean([x["flat_steps"] for x in st])),
                    "max_abs_dev_bits": float(np.max([x["max_abs_dev_bits"] for x in st])),
                }
    dt = time.perf_counter() - t0
    log(f"[sawtooth] curves and monotonicity on {len(mpts)} points in {dt:.1f} s")
    return {"window_lsb": hw, "u_lsb": 1.0 / U, "curves": curves, "monotonicity": mono,
            "mono_points": int(len(mpts)), "time_s": dt}


def saw_key(tb, interp, shift):
    return f"{tb}b {'interp' if interp else 'no-interp'} {'shift' if shift else 'no-shift'}"
