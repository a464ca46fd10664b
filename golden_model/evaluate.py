"""Evaluation of AdapSNE / NMS exemplar selection on scikit-learn's digits.

    python -m golden_model.evaluate [--quick] [--out reports/digits] [--jobs N]
                                    [--seeds N] [--tsne-seeds N]

Two studies, one report (``report.md`` + ``report.json`` + two PNG figures):

1. **Downstream accuracy.**  Subsets of the training split at 5 / 10 / 20 % per-class budgets,
   chosen by random, k-center greedy, herding, NMS (bisection sigma search, perplexity 30),
   AdapSNE with float64 sigma search and AdapSNE with the bit-accurate fixed-point sigma search,
   plus the full training set.  Each subset trains a logistic regression and a small MLP; test
   accuracy is reported as mean +- std over seeds.
2. **Sigma-search quality.**  Per policy (bisection, FWA, K-section) and arithmetic (float64, and
   fixed point with 4/6/8/10-bit exp/log/recip tables, interpolation on/off, row-minimum shift
   on/off): the share of points that miss the stop tolerance, the *true* float64 entropy error at
   the returned beta, and passes / evaluations per point.

What is fixed-point today: ``arithmetic="fixed"`` replaces only the per-point sigma search
(integer distances + the fixed-point search of ``search_fixed``); joint P, t-SNE, the occupancy
entropy and grid sampling stay float64.

Selections are cached per (method, seed) inside a run: the embedding does not depend on the
budget, so each t-SNE based method is run once per seed and grid-sampled at every ratio (the
equivalence with a direct ``select`` call at every ratio is checked by the tests).

See docs/evaluation.md for the design and the interpretation of the committed report.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402
from dataclasses import asdict, dataclass, field  # noqa: E402

import numpy as np  # noqa: E402

from . import baselines as bl  # noqa: E402
from . import fixed as fx  # noqa: E402
from . import reference as ref  # noqa: E402
from . import search_fixed as sf  # noqa: E402
from . import select as sel  # noqa: E402
from .config import POLICIES, AccelConfig, get_preset  # noqa: E402

#: Methods in report order: key -> (label, kind).
METHODS = {
    "random": "random",
    "kcenter": "k-center greedy",
    "herding": "herding",
    "nms": "NMS (bisection, perplexity 30)",
    "adapsne_float": "AdapSNE, float64 sigma search",
    "adapsne_fixed": "AdapSNE, fixed-point sigma search",
}
#: Short names for tables.
SHORT = {"random": "random", "kcenter": "k-center", "herding": "herding", "nms": "NMS",
         "adapsne_float": "AdapSNE float", "adapsne_fixed": "AdapSNE fixed"}
TSNE_METHODS = ("nms", "adapsne_float", "adapsne_fixed")
CLASSIFIERS = {"mlp": "MLP (128 hidden)", "logreg": "logistic regression"}
RATIOS = (0.05, 0.10, 0.20)
FLOAT_TOL = ref.DEFAULT_TOL
REPORT_FORMAT = "adapsne-evaluation/1"
DEFAULT_JOBS = max(1, min(2, os.cpu_count() or 1))


# --------------------------------------------------------------------------------------------
# settings
# --------------------------------------------------------------------------------------------
@dataclass
class Settings:
    """Everything that determines a run (written to report.json)."""

    quick: bool = False
    preset: str = "digits"
    split_seed: int = 0
    test_size: float = 0.3
    ratios: tuple = RATIOS
    seeds: tuple = (0, 1, 2, 3, 4)
    #: seeds used by each t-SNE based method (a prefix of `seeds`)
    tsne_seeds: dict = field(default_factory=lambda: {"nms": 5, "adapsne_float": 3, "adapsne_fixed": 3})
    #: quick mode: keep this many training points per class (None = all)
    train_per_class: int | None = None
    #: quick mode: AccelConfig overrides (shorter t-SNE)
    cfg_overrides: dict = field(default_factory=dict)
    # classifiers
    mlp_hidden: int = 128
    mlp_max_iter: int = 2000
    mlp_learning_rate_init: float = 3e-3
    logreg_C: float = 1.0
    logreg_max_iter: int = 5000
    # sigma-search quality study
    sq_perplexity: float = 30.0
    sq_classes: tuple = tuple(range(10))
    sq_points_per_class: int = 20
    sq_table_bits: tuple = (4, 6, 8, 10)
    sq_float_tols: tuple = (FLOAT_TOL, 2.0 ** -8)
    # sawtooth / monotonicity study
    saw_class: int = 3
    saw_halfwidth_lsb: int = 400
    mono_points: int = 10
    # plots
    embed_ratio: float = 0.10
    dpi: int = 110
    jobs: int = 1

    @classmethod
    def make(cls, quick: bool = False, **kw) -> "Settings":
        if quick:
            base = dict(quick=True, seeds=(0, 1),
                        tsne_seeds={"nms": 2, "adapsne_float": 1, "adapsne_fixed": 1},
                        train_per_class=30,
                        cfg_overrides={"tsne_iters": 250, "tsne_exaggeration_iters": 100,
                                       "perplexity_candidates": (5.0, 10.0)},
                        sq_classes=(0, 3, 8), sq_points_per_class=4, mono_points=3,
                        saw_halfwidth_lsb=200, dpi=70)
        else:
            base = {}
        base.update({k: v for k, v in kw.items() if v is not None})
        s = cls(**base)
        n = len(s.seeds)
        s.tsne_seeds = {m: max(1, min(int(v), n)) for m, v in s.tsne_seeds.items()}
        return s

    def cfg(self) -> AccelConfig:
        c = get_preset(self.preset)
        return c.with_overrides(**self.cfg_overrides) if self.cfg_overrides else c

    def seeds_for(self, method: str) -> tuple:
        if method in TSNE_METHODS:
            return tuple(self.seeds[: self.tsne_seeds[method]])
        return tuple(self.seeds)


# --------------------------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------------------------
@dataclass
class Data:
    X_train: np.ndarray  # integer-valued float64 0..16
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    X_train_all: np.ndarray  # before the quick-mode subsample (search-quality study uses it)
    y_train_all: np.ndarray


def load_data(s: Settings) -> Data:
    """Digits, stratified split (``random_state = split_seed``); quick mode keeps the first
    `train_per_class` points of each class of a seeded permutation of the training split."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=s.test_size, stratify=y,
                                          random_state=s.split_seed)
    Xa, ya = Xtr, ytr
    if s.train_per_class:
        rng = np.random.default_rng(s.split_seed)
        keep = []
        for c in np.unique(ytr):
            idx = np.flatnonzero(ytr == c)
            keep.append(np.sort(rng.permutation(idx)[: s.train_per_class]))
        keep = np.sort(np.concatenate(keep))
        Xtr, ytr = Xtr[keep], ytr[keep]
    return Data(Xtr, ytr, Xte, yte, Xa, ya)


# --------------------------------------------------------------------------------------------
# selections
# --------------------------------------------------------------------------------------------
def grid_ratio_indices(details: dict, ratio: float) -> np.ndarray:
    """Global indices for another budget from the per-class embeddings of one select run (the
    same ``grid_sample(Y, class_budget(n, ratio))`` that `select` performs)."""
    out = []
    for lab in sorted(details):
        d = details[lab]
        k = sel.class_budget(d["n"], ratio)
        out.append(d["class_index"][ref.grid_sample(d["Y"], k)])
    return np.sort(np.concatenate(out)).astype(np.int64)


def _tsne_select_task(args):
    """Worker: one (method, seed) t-SNE based selection at every ratio."""
    method, seed, X, y, ratios, cfg_dict = args
    cfg = AccelConfig.from_dict(cfg_dict).with_overrides(seed=seed + 1)
    t0 = time.perf_counter()
    c0 = time.process_time()
    m = "nms" if method == "nms" else "adapsne"
    arith = "fixed" if method == "adapsne_fixed" else "float"
    r0 = ratios[0]
    first, det = sel.select(X, y, r0, method=m, cfg=cfg, arithmetic=arith, return_details=True)
    y_arr = np.asarray(y)
    for lab, d in det.items():
        d["class_index"] = np.flatnonzero(y_arr == lab)
    by_ratio = {r0: first}
    for r in ratios[1:]:
        by_ratio[r] = grid_ratio_indices(det, r)
    assert np.array_equal(grid_ratio_indices(det, r0), first), "grid re-sampling disagrees with select"
    summary = {
        "perplexity": {int(k): float(v["perplexity"]) for k, v in det.items()},
        "tsne_runs": int(sum(len(v["perplexity_history"]) for v in det.values())),
        "search_converged_share": float(np.mean(np.concatenate([v["converged"] for v in det.values()]))),
        "search_evaluations_mean": float(np.mean(np.concatenate([v["evaluations"] for v in det.values()]))),
        "search_passes_mean": float(np.mean(np.concatenate([v["passes"] for v in det.values()]))),
        "occupancy_entropy": {int(k): float(v["occupancy_entropy"]) for k, v in det.items()},
    }
    # embeddings are kept only for plotting (seed 0)
    emb = {int(k): {"Y": v["Y"], "class_index": v["class_index"], "n": v["n"]} for k, v in det.items()} \
        if seed == 0 else None
    summary["cpu_s"] = time.process_time() - c0
    summary["wall_s"] = time.perf_counter() - t0
    return method, seed, by_ratio, summary, emb, summary["cpu_s"]


def _cheap_select(method, seed, X, y, ratio):
    if method == "random":
        return bl.random_select(X, y, ratio, seed=seed + 1)
    if method == "kcenter":
        return bl.kcenter_greedy(X, y, ratio)
    return bl.herding(X, y, ratio)


# --------------------------------------------------------------------------------------------
# classifiers
# --------------------------------------------------------------------------------------------
def make_classifier(name: str, seed: int, s: Settings):
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier

    if name == "mlp":
        return MLPClassifier(hidden_layer_sizes=(s.mlp_hidden,), max_iter=s.mlp_max_iter,
                             learning_rate_init=s.mlp_learning_rate_init, early_stopping=False,
                             random_state=seed)
    if name == "logreg":
        return LogisticRegression(C=s.logreg_C, max_iter=s.logreg_max_iter)
    raise ValueError(f"unknown classifier {name!r}")


def _train_task(args):
    """Worker: fit every classifier on one subset; returns accuracies and convergence flags."""
    key, idx, seed, Xtr, ytr, Xte, yte, s = args
    from sklearn.exceptions import ConvergenceWarning

    out = {}
    for name in CLASSIFIERS:
        clf = make_classifier(name, seed, s)
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always", ConvergenceWarning)
            clf.fit(Xtr[idx] / 16.0, ytr[idx])
        nconv = sum(issubclass(x.category, ConvergenceWarning) for x in w)
        out[name] = (float(clf.score(Xte / 16.0, yte)), int(nconv))
    return key, out


def _pool_map(fn, tasks, jobs):
    if jobs <= 1 or len(tasks) <= 1:
        return [fn(t) for t in tasks]
    with ProcessPoolExecutor(max_workers=jobs) as ex:
        return list(ex.map(fn, tasks))


def run_accuracy(s: Settings, data: Data, log=print) -> dict:
    """Selections for every method / ratio / seed, then both classifiers on each subset."""
    cfg = s.cfg()
    Xtr, ytr = data.X_train, data.y_train
    t0 = time.perf_counter()
    selections: dict = {}  # (method, ratio, seed) -> indices
    sel_time: dict = {m: 0.0 for m in METHODS}
    for m in ("random", "kcenter", "herding"):
        t = time.process_time()
        for seed in s.seeds_for(m):
            for r in s.ratios:
                selections[(m, r, seed)] = _cheap_select(m, seed, Xtr, ytr, r)
        sel_time[m] = time.process_time() - t
    tasks = [(m, seed, Xtr, ytr, tuple(s.ratios), cfg.to_dict(derived=False))
             for m in TSNE_METHODS for seed in s.seeds_for(m)]
    # longest first so that a pool balances
    weight = {"adapsne_fixed": 3, "adapsne_float": 2, "nms": 1}
    tasks.sort(key=lambda t: -weight[t[0]])
    summaries: dict = {m: {} for m in TSNE_METHODS}
    embeddings: dict = {}
    for method, seed, by_ratio, summ, emb, dt in _pool_map(_tsne_select_task, tasks, s.jobs):
        for r, idx in by_ratio.items():
            selections[(method, r, seed)] = idx
        summaries[method][seed] = summ
        sel_time[method] += dt
        if emb is not None:
            embeddings[method] = emb
        log(f"[accuracy] selected {method} seed {seed}: {summ['wall_s']:.1f} s wall, {dt:.1f} s CPU "
            f"(perplexities {sorted(set(summ['perplexity'].values()))})")
    t_sel = time.perf_counter() - t0

    t1 = time.perf_counter()
    train_tasks = [((m, r, seed), idx, seed, Xtr, ytr, data.X_test, data.y_test, s)
                   for (m, r, seed), idx in selections.items()]
    full_idx = np.arange(len(ytr))
    train_tasks += [(("full", 1.0, seed), full_idx, seed, Xtr, ytr, data.X_test, data.y_test, s)
                    for seed in s.seeds]
    results = dict(_pool_map(_train_task, train_tasks, s.jobs))
    t_train = time.perf_counter() - t1
    log(f"[accuracy] {len(train_tasks)} subsets x {len(CLASSIFIERS)} classifiers trained in {t_train:.1f} s")

    acc: dict = {c: {} for c in CLASSIFIERS}
    conv_warn = {c: 0 for c in CLASSIFIERS}
    for c in CLASSIFIERS:
        for m in METHODS:
            acc[c][m] = {}
            for r in s.ratios:
                seeds = s.seeds_for(m)
                vals = [results[(m, r, sd)][c][0] for sd in seeds]
                sizes = sorted({int(len(selections[(m, r, sd)])) for sd in seeds})
                acc[c][m][_rkey(r)] = _stats(vals, seeds) | {"subset_size": sizes[0] if len(sizes) == 1 else sizes}
        vals = [results[("full", 1.0, sd)][c][0] for sd in s.seeds]
        acc[c]["full"] = _stats(vals, s.seeds) | {"subset_size": int(len(ytr))}
        conv_warn[c] = int(sum(v[c][1] for v in results.values()))
    paired = {c: {f"{a}-{b}": {_rkey(r): paired_diff(acc[c][a][_rkey(r)], acc[c][b][_rkey(r)])
                               for r in s.ratios} for a, b in PAIRS} for c in CLASSIFIERS}
    # selection overlap between methods (seed 0, mean Jaccard) - how different are the subsets?
    overlap = {}
    for r in s.ratios:
        sets = {m: set(selections[(m, r, s.seeds[0])].tolist()) for m in METHODS}
        overlap[_rkey(r)] = {f"{a}|{b}": len(sets[a] & sets[b]) / len(sets[a] | sets[b])
                             for i, a in enumerate(METHODS) for b in list(METHODS)[i + 1:]}
    return {
        "accuracy": acc,
        "paired_differences": paired,
        "selection_summary": {m: {str(k): v for k, v in d.items()} for m, d in summaries.items()},
        "selection_overlap_seed0": overlap,
        "convergence_warnings": conv_warn,
        "n_fits": len(train_tasks) * len(CLASSIFIERS),
        "time_s": {"selection": t_sel, "training": t_train,
                   "selection_per_method_cpu": sel_time},
        "_embeddings": embeddings,
        "_selections": selections,
    }


def _rkey(r: float) -> str:
    return f"{r:.2f}"


def _stats(vals, seeds) -> dict:
    a = np.asarray(vals, dtype=np.float64)
    return {"mean": float(a.mean()), "std": float(a.std(ddof=1)) if a.size > 1 else 0.0,
            "n": int(a.size), "seeds": [int(x) for x in seeds], "values": [float(v) for v in a]}


# --------------------------------------------------------------------------------------------
# sigma-search quality
# --------------------------------------------------------------------------------------------
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
        key = f"float64 tol={_fmt_tol(tol)}"
        out.append((key, {"arithmetic": "float64", "tol": tol, "table_bits": None,
                          "interpolate": None, "row_min_shift": True}))
    for tb in s.sq_table_bits:
        for interp in (True, False):
            for shift in (True, False):
                key = f"fixed {tb}b {'interp' if interp else 'no-interp'} {'shift' if shift else 'no-shift'}"
                out.append((key, {"arithmetic": "fixed", "tol": 2.0 ** -tb, "table_bits": tb,
                                  "interpolate": interp, "row_min_shift": shift}))
    return out


def _fmt_tol(t: float) -> str:
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
    res = dict(_pool_map(_sq_task, tasks, s.jobs))
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
                c["fixed"][_saw_key(tb, interp, shift)] = {"H": H.tolist(), **monotonicity_stats(H, H64)}
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
                mono[_saw_key(tb, interp, shift)] = {
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


def _saw_key(tb, interp, shift):
    return f"{tb}b {'interp' if interp else 'no-interp'} {'shift' if shift else 'no-shift'}"


# --------------------------------------------------------------------------------------------
# plots
# --------------------------------------------------------------------------------------------
def _mpl():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_sawtooth(saw: dict, path: str, s: Settings, tol_bits=(4, 8), zoom_lsb=40) -> None:
    plt = _mpl()
    fig, axes = plt.subplots(2, 3, figsize=(17, 8), sharey=False,
                             gridspec_kw={"width_ratios": [1, 1, 0.8]})
    target = math.log2(s.sq_perplexity)
    styles = {(4, False): ("tab:red", "-"), (8, False): ("tab:blue", "-"), (8, True): ("tab:green", "--")}
    for r, (name, c) in enumerate(saw["curves"].items()):
        u = np.asarray(c["u"])
        for col, shift in enumerate((True, False)):
            ax = axes[r, col]
            ax.plot(u, c["float64"], color="k", lw=2.0, label="float64", zorder=5)
            for (tb, interp), (color, ls) in styles.items():
                H = c["fixed"][_saw_key(tb, interp, shift)]["H"]
                ax.plot(u, H, color=color, ls=ls, lw=1.0, drawstyle="steps-post",
                        label=f"{tb}-bit tables, {'interp' if interp else 'no interp'}")
            ax.axhline(target, color="0.3", lw=0.8)
            for tb, a in zip(tol_bits, (0.10, 0.25)):
                ax.axhspan(target - 2.0 ** -tb, target + 2.0 ** -tb, color="orange", alpha=a, lw=0)
            ax.axvline(c["u_star"], color="0.5", ls=":", lw=0.8)
            ax.set_title(f"class {c['class']} point {c['point']} ({name}, nearest-neighbour D={c['nn_dist']}), "
                         f"row-min shift {'on' if shift else 'OFF'}", fontsize=9)
            ax.set_xlabel("u = log2(b)   (b = beta log2 e)")
            ax.set_ylabel("H (bits)")
            if r == 0 and col == 0:
                ax.legend(fontsize=8, loc="upper right")
        # zoom on the non-monotone wiggles of the study-only no-shift variant
        ax = axes[r, 2]
        n0 = len(u) // 2
        z = slice(max(0, n0 - zoom_lsb), n0 + zoom_lsb + 1)
        x = np.arange(len(u))[z] - n0  # u LSBs from the grid point nearest u*
        ax.plot(x, np.asarray(c["float64"])[z], color="k", lw=2.0, label="float64")
        for tb, interp in ((8, False), (8, True)):
            color, ls = styles[(tb, interp)]
            H = np.asarray(c["fixed"][_saw_key(tb, interp, False)]["H"])
            ax.plot(x, H[z], color=color, ls=ls, lw=1.0, drawstyle="steps-post", marker=".", ms=2,
                    label=f"{tb}-bit, {'interp' if interp else 'no interp'}, shift OFF")
        H = np.asarray(c["fixed"][_saw_key(8, True, True)]["H"])
        ax.plot(x, H[z], color="0.5", ls=":", lw=1.0, drawstyle="steps-post",
                label="8-bit, interp, shift on")
        ax.set_title(f"zoom ±{zoom_lsb} u LSB around u*: shift OFF vs on", fontsize=9)
        ax.set_xlabel("u - u*  (u LSBs of 2^-12)")
        ax.set_ylabel("H (bits)")
        if r == 0:
            ax.legend(fontsize=7, loc="upper right")
    fig.suptitle(f"Row entropy H(u) near the solution, perplexity {s.sq_perplexity:g}: float64 vs table arithmetic "
                 f"(bands: tolerance 2^-4 and 2^-8 around log2 Perp; one step = 1 u LSB = 2^-12)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=s.dpi)
    plt.close(fig)


def _grid_side(Yn: np.ndarray, k: int) -> int:
    for g in range(1, ref.GRID_SAMPLE_G_LIMIT + 1):
        if np.unique(ref.grid_cells(Yn, g)[2]).size >= k:
            return g
    return ref.GRID_SAMPLE_G_LIMIT


def plot_embeddings(emb: dict, selections: dict, path: str, s: Settings, summaries: dict) -> None:
    """Rows: AdapSNE (float) and NMS for classes 0-4, then for classes 5-9; exemplars at
    `embed_ratio` (seed 0) marked, with the sampler's grid."""
    plt = _mpl()
    methods = [m for m in ("adapsne_float", "nms") if m in emb]
    classes = sorted(emb[methods[0]])
    ncol = min(5, len(classes))
    nblk = math.ceil(len(classes) / ncol)
    fig, axes = plt.subplots(nblk * len(methods), ncol, figsize=(2.6 * ncol, 2.7 * nblk * len(methods)),
                             squeeze=False)
    r = s.embed_ratio
    for b in range(nblk):
        for mi, m in enumerate(methods):
            for j in range(ncol):
                ax = axes[b * len(methods) + mi, j]
                ci = b * ncol + j
                ax.set_xticks([])
                ax.set_yticks([])
                if ci >= len(classes):
                    ax.axis("off")
                    continue
                c = classes[ci]
                e = emb[m][c]
                Yn = ref.normalise_unit(e["Y"])
                chosen = set(selections[(m, r, s.seeds[0])].tolist())
                mask = np.array([g in chosen for g in e["class_index"]])
                k = int(mask.sum())
                g = _grid_side(Yn, k)
                for t in np.linspace(0, 1, g + 1):
                    ax.axvline(t, color="0.88", lw=0.5, zorder=0)
                    ax.axhline(t, color="0.88", lw=0.5, zorder=0)
                ax.scatter(Yn[~mask, 0], Yn[~mask, 1], s=6, c="tab:blue", alpha=0.6, lw=0)
                ax.scatter(Yn[mask, 0], Yn[mask, 1], s=40, c="red", marker="x", lw=1.5)
                perp = summaries[m][str(s.seeds[0])]["perplexity"][c]
                name = "AdapSNE" if m == "adapsne_float" else "NMS"
                ax.set_title(f"{name}, digit {c}: perp {perp:g}, k={k}, grid {g}x{g}", fontsize=8)
                ax.set_xlim(-0.03, 1.03)
                ax.set_ylim(-0.03, 1.03)
    fig.suptitle(f"Per-class t-SNE embeddings (normalised to [0,1]^2, seed {s.seeds[0]}) with the "
                 f"{int(round(r * 100))} % exemplars (red x) and the grid-sampling grid", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=s.dpi)
    plt.close(fig)


# --------------------------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------------------------
def versions() -> dict:
    import matplotlib
    import scipy
    import sklearn

    v = {"python": platform.python_version(), "numpy": np.__version__, "scipy": scipy.__version__,
         "scikit-learn": sklearn.__version__, "matplotlib": matplotlib.__version__,
         "platform": platform.platform(), "cpu_count": os.cpu_count()}
    try:
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                              timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        v["git_commit"] = head + (" (with uncommitted changes)" if dirty else "")
    except Exception:  # noqa: BLE001
        v["git_commit"] = "unknown"
    return v


def _pm(d: dict, scale=100.0, digits=1, signed=False) -> str:
    m = f"{d['mean'] * scale:{'+' if signed else ''}.{digits}f}"
    if d.get("n", 2) < 2:
        return f"{m} (n=1)"
    return f"{m} ± {d['std'] * scale:.{digits}f}"


def _md_table(header: list, rows: list) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(x) for x in r) + " |" for r in rows]
    return "\n".join(out)


def _noise_verdict(a: dict, b: dict) -> str:
    """Difference of means in pp; 'within noise' unless it exceeds twice its standard error
    sqrt(s_a^2/n_a + s_b^2/n_b) (a rough screen with n = 2..5 seeds, not a significance test)."""
    diff = (a["mean"] - b["mean"]) * 100
    se = math.sqrt(a["std"] ** 2 / a["n"] + b["std"] ** 2 / b["n"]) * 100
    word = "within noise" if abs(diff) <= 2 * se else ("higher" if diff > 0 else "lower")
    return f"{diff:+.1f} pp ({word}, 2 SE = {2 * se:.1f})"


def paired_diff(a: dict, b: dict) -> dict | None:
    """Per-seed differences a - b over the seeds both cells share (same cfg.seed, same MLP seed)."""
    va = dict(zip(a["seeds"], a["values"]))
    vb = dict(zip(b["seeds"], b["values"]))
    common = [sd for sd in a["seeds"] if sd in vb]
    if not common:
        return None
    d = np.array([va[sd] - vb[sd] for sd in common])
    return {"mean": float(d.mean()), "std": float(d.std(ddof=1)) if d.size > 1 else 0.0,
            "n": int(d.size), "seeds": common, "values": d.tolist()}


PAIRS = (("adapsne_float", "nms"), ("adapsne_fixed", "adapsne_float"), ("adapsne_fixed", "nms"))


def random_pair_jaccard(r: float) -> float:
    """Expected Jaccard index of two independent uniform subsets of the same fraction r."""
    return r * r / (2 * r - r * r)


def _sq_cell(rep: dict, policy: str, variant: str) -> dict:
    return next(r for r in rep["search_quality"]["rows"] if r["policy"] == policy and r["variant"] == variant)


def _summary(rep: dict) -> list:
    """Headline numbers, computed from the report (no hand-written claims)."""
    s, cfg = rep["settings"], rep["cfg"]
    acc = rep["accuracy"]["accuracy"]
    ratios = [_rkey(r) for r in s["ratios"]]
    pct = lambda r: f"{int(round(float(r) * 100))} %"  # noqa: E731
    L = ["## Summary", ""]
    L.append(f"* **Full training set**: MLP {_pm(acc['mlp']['full'])} %, logistic regression "
             f"{_pm(acc['logreg']['full'])} %.")
    for r in ratios:
        ranked = sorted(METHODS, key=lambda m: -acc["mlp"][m][r]["mean"])
        L.append(f"* **MLP at {pct(r)}**: " + ", ".join(
            f"{SHORT[m]} {_pm(acc['mlp'][m][r])}" for m in ranked) + " (best first).")
    pdm = rep["accuracy"]["paired_differences"]["mlp"]
    for a, b in PAIRS[:2]:
        L.append(f"* **{SHORT[a]} − {SHORT[b]}** (MLP, paired over seeds): " + " / ".join(
            f"{_pm(pdm[f'{a}-{b}'][r], signed=True)} pp" for r in ratios if pdm[f"{a}-{b}"][r])
            + f" at {' / '.join(pct(r) for r in ratios)}.")
    pv = f"fixed {cfg['exp_table_bits']}b {'interp' if cfg['interpolate'] else 'no-interp'} shift"
    cells = [_sq_cell(rep, p, pv) for p in POLICIES]
    L.append(f"* **Sigma search, preset arithmetic** ({pv}, tolerance 2^-{cfg['exp_table_bits']}), "
             f"{' / '.join(POLICIES)}: miss the tolerance on "
             + " / ".join(f"{100 * c['miss_rate']:.1f}" for c in cells) + " % of points; true float64 "
             "entropy error p95 " + " / ".join(f"{c['true_err_p95']:.1e}" for c in cells) + " bits; "
             + " / ".join(f"{c['passes_mean']:.1f}" for c in cells) + " passes and "
             + " / ".join(f"{c['evals_mean']:.0f}" for c in cells) + " candidate evaluations per point.")
    fl = [_sq_cell(rep, p, f"float64 tol={_fmt_tol(FLOAT_TOL)}") for p in POLICIES]
    L.append(f"* **Float64 at tolerance {FLOAT_TOL:g}**, {' / '.join(POLICIES)}: miss "
             + " / ".join(f"{100 * c['miss_rate']:.1f}" for c in fl) + " % of points within "
             f"{rep['search_quality']['cfg']['max_passes']} passes, "
             + " / ".join(f"{c['evals_mean']:.0f}" for c in fl) + " evaluations per point.")
    tb = cfg["exp_table_bits"]
    fixed_rows = [r for r in rep["search_quality"]["rows"]
                  if r["arithmetic"] == "fixed" and r["table_bits"] == tb]
    sh = [r for r in fixed_rows if r["row_min_shift"]]
    ns = [r for r in fixed_rows if not r["row_min_shift"]]
    L.append(f"* **Row-minimum shift** ({tb}-bit tables, both interpolation settings, all policies): worst "
             f"true entropy error {max(r['true_err_max'] for r in sh):.3f} bits with the shift, "
             f"{max(r['true_err_max'] for r in ns):.3f} bits without; mean "
             f"{max(r['true_err_mean'] for r in sh):.4f} vs {max(r['true_err_mean'] for r in ns):.4f} bits; "
             f"points with beta off by more than 10 %: {100 * max(r['beta_off_10pct'] for r in sh):.1f} % "
             f"with, up to {100 * max(r['beta_off_10pct'] for r in ns):.1f} % without.")
    mono = rep["sawtooth"]["monotonicity"]
    ms = [v for v in mono.values() if v["row_min_shift"]]
    mn = [v for v in mono.values() if not v["row_min_shift"]]
    L.append("* **Shape of the computed H(u)**: with the shift, "
             f"{100 * max(v['rising_steps'] for v in ms):.2f} % of one-LSB steps in u go up (max rise "
             f"{max(v['max_rise_bits'] for v in ms):.1e} bits) over all table sizes; without it up to "
             f"{100 * max(v['rising_steps'] for v in mn):.2f} % (max rise {max(v['max_rise_bits'] for v in mn):.1e} "
             "bits). Without interpolation H is a staircase: "
             + ", ".join(f"{v['table_bits']}-bit {100 * v['flat_steps']:.0f} % flat steps" for v in ms
                         if not v["interpolate"]) + ".")
    L.append(f"* **Run**: {rep['wall_time_s']['total']:.0f} s wall, {rep['cpu_time_s']:.0f} s CPU "
             f"({s['jobs']} worker process(es)).")
    L.append("")
    return L


def render_markdown(rep: dict) -> str:
    s = rep["settings"]
    acc = rep["accuracy"]["accuracy"]
    ratios = [_rkey(r) for r in s["ratios"]]
    L = []
    L.append("# AdapSNE / NMS exemplar selection on scikit-learn digits: evaluation report")
    L.append("")
    if s["quick"]:
        L.append("> **QUICK MODE** (smoke test): training split cut to "
                 f"{s['train_per_class']} points per class, shortened t-SNE "
                 f"({s['cfg_overrides']}), {len(s['seeds'])} seeds, a handful of search-study points. "
                 "The numbers below only show that the pipeline runs; do not compare methods with them.")
        L.append("")
    L.append(f"Generated by `python -m golden_model.evaluate{' --quick' if s['quick'] else ''}` "
             f"in {rep['wall_time_s']['total']:.0f} s wall time ({s['jobs']} worker process(es)); "
             f"code {rep['versions'].get('git_commit', '?')}. All choices below (budgets, seeds, "
             "classifier settings, search settings) are this project's own; the source papers' "
             "settings are not available to us.")
    L.append("")
    L += _summary(rep)
    # ---------------------------------------------------------------- setup
    L.append("## 1. What was run")
    L.append("")
    d = rep["dataset"]
    L.append(f"* **Data**: `sklearn.datasets.load_digits` ({d['n_total']} images, 8x8, 64 integer "
             f"features 0..16, 10 classes). Stratified {int((1 - s['test_size']) * 100)}/"
             f"{int(s['test_size'] * 100)} train/test split with `random_state={s['split_seed']}`: "
             f"{d['n_train']} training points used for selection ({d['class_sizes_min']}..{d['class_sizes_max']} "
             f"per class), {d['n_test']} test points.")
    L.append("* **Budgets**: per class, k = max(1, round(r N_c)) for r = "
             + ", ".join(f"{int(round(r * 100))} %" for r in s["ratios"])
             + f" (`select.class_budget`; the same for every method). Subset sizes: "
             + ", ".join(f"{int(round(float(r) * 100))} % -> {acc['mlp']['random'][r]['subset_size']}" for r in ratios)
             + f" of {d['n_train']}.")
    L.append("* **Methods** (all per class):")
    L.append("  * *random*: uniform without replacement (`baselines.random_select`, seed = run seed + 1).")
    L.append("  * *k-center greedy*: farthest-point selection from the point nearest the class mean "
             "(`baselines.kcenter_greedy`, deterministic).")
    L.append("  * *herding*: greedy mean matching in feature space (`baselines.herding`, deterministic).")
    L.append("  * *NMS*: `select(method=\"nms\")` - bisection sigma search at perplexity "
             f"{rep['cfg']['perplexity']:g} (clamped to (N_c - 1)/2), one exact t-SNE per class, grid sampling.")
    L.append("  * *AdapSNE float*: `select(method=\"adapsne\", arithmetic=\"float\")` - FWA sigma search in "
             "float64 and the entropy-guided perplexity (one t-SNE per candidate perplexity "
             f"{tuple(rep['cfg']['perplexity_candidates'])}, keep the one with the highest occupancy "
             f"entropy on a {rep['cfg']['grid_g']}x{rep['cfg']['grid_g']} grid), grid sampling.")
    L.append("  * *AdapSNE fixed*: the same, with the bit-accurate fixed-point FWA sigma search "
             "(`search_fixed.search_row`, preset tables: "
             f"{rep['cfg']['exp_table_bits']}-bit exp/log/recip, interpolation "
             f"{'on' if rep['cfg']['interpolate'] else 'off'}, tolerance 2^-{rep['cfg']['exp_table_bits']} bits).")
    L.append("")
    L.append("  **What is fixed-point today**: only the integer squared distances and the per-point "
             "sigma search (the phase the accelerator's search controllers implement bit for bit). "
             "Conditional/joint P, t-SNE, the occupancy entropy and grid sampling are float64 in both "
             "AdapSNE variants, so *AdapSNE fixed* differs from *AdapSNE float* only through the betas "
             "the fixed-point search returns.")
    L.append(f"* **Configuration**: AccelConfig preset `{s['preset']}` "
             f"({rep['cfg']['lanes']} lanes, t-SNE {rep['cfg']['tsne_iters']} iterations with "
             f"{rep['cfg']['tsne_exaggeration_iters']} exaggerated, learning rate {rep['cfg']['tsne_learning_rate']:g}); "
             "`cfg.seed` = run seed + 1 (it seeds the FWA streams and the t-SNE initialisation).")
    L.append(f"* **Classifiers** (inputs scaled to [0,1] by /16): logistic regression (lbfgs, C={s['logreg_C']}, "
             f"max_iter {s['logreg_max_iter']}) and `MLPClassifier(hidden_layer_sizes=({s['mlp_hidden']},), "
             f"learning_rate_init={s['mlp_learning_rate_init']}, max_iter={s['mlp_max_iter']}, "
             "early_stopping=False, random_state=run seed)` (adam; the loss-based stopping rule ends "
             "training long before max_iter). "
             f"Convergence warnings over all {rep['accuracy']['n_fits']} fits: "
             f"MLP {rep['accuracy']['convergence_warnings']['mlp']}, logistic regression "
             f"{rep['accuracy']['convergence_warnings']['logreg']}.")
    seeds_txt = ", ".join(f"{SHORT[m]}: {len(s['seeds'][:s['tsne_seeds'][m]])}" for m in TSNE_METHODS)
    L.append(f"* **Seeds**: run seeds {list(s['seeds'])} for random / k-center / herding / full data. "
             f"The t-SNE based methods are costly and use the first seeds only ({seeds_txt}); see "
             "section 5 for the cost. The run seed drives the selection (where it is random) *and* "
             "the MLP initialisation, so the std mixes both. Logistic regression is deterministic: its "
             "std comes from the selection alone (0 for the deterministic k-center and herding).")
    L.append("")
    # ---------------------------------------------------------------- accuracy
    L.append("## 2. Downstream test accuracy (%)")
    L.append("")
    L.append("Mean ± sample std over seeds (n = number of seeds). Test set: the "
             f"{d['n_test']} held-out points.")
    for c, cname in CLASSIFIERS.items():
        L.append("")
        L.append(f"### {cname}")
        L.append("")
        rows = []
        for m, mname in METHODS.items():
            rows.append([mname] + [_pm(acc[c][m][r]) for r in ratios] + [acc[c][m][ratios[0]]["n"]])
        rows.append(["full training set"] + [_pm(acc[c]["full"])] * 1 + [""] * (len(ratios) - 1)
                    + [acc[c]["full"]["n"]])
        L.append(_md_table(["method"] + [f"{int(round(float(r) * 100))} %" for r in ratios] + ["n"], rows))
    L.append("")
    L.append("**Paired differences** of the t-SNE based methods (percentage points, mean ± std over the "
             "seeds both methods ran with; a seed fixes cfg.seed - hence the t-SNE initialisation - and the "
             "MLP initialisation, so pairing removes part of the seed noise):")
    L.append("")
    pd = rep["accuracy"]["paired_differences"]
    rows = []
    for a, b in PAIRS:
        for c in CLASSIFIERS:
            cells = [pd[c][f"{a}-{b}"][r] for r in ratios]
            rows.append([f"{SHORT[a]} − {SHORT[b]}", CLASSIFIERS[c]]
                        + [_pm(x, signed=True) if x else "-" for x in cells]
                        + [cells[0]["n"] if cells[0] else 0])
    L.append(_md_table(["difference", "classifier"] + [f"{int(round(float(r) * 100))} %" for r in ratios]
                       + ["n seeds"], rows))
    L.append("")
    L.append("Against the baselines (MLP; difference of means, *within noise* unless it exceeds twice its "
             "standard error - a rough screen with 2 to 5 seeds, not a significance test):")
    L.append("")
    for a, b in (("adapsne_float", "random"), ("nms", "random"), ("adapsne_float", "herding"),
                 ("adapsne_float", "kcenter"), ("kcenter", "random"), ("herding", "random")):
        L.append(f"* {SHORT[a]} vs {SHORT[b]}: "
                 + "; ".join(f"{int(round(float(r) * 100))} %: {_noise_verdict(acc['mlp'][a][r], acc['mlp'][b][r])}"
                             for r in ratios))
    L.append("")
    # selection summaries
    ss = rep["accuracy"]["selection_summary"]
    L.append("### What the t-SNE based selections did")
    L.append("")
    rows = []
    for m in TSNE_METHODS:
        if not ss.get(m):
            continue
        per = list(ss[m].values())
        perps = {}
        for p in per:
            for c, v in p["perplexity"].items():
                perps.setdefault(int(c), []).append(v)
        ptxt = ", ".join(f"{c}: {'/'.join(f'{x:g}' for x in v)}" for c, v in sorted(perps.items()))
        rows.append([SHORT[m], f"{np.mean([p['tsne_runs'] for p in per]):.0f}",
                     f"{100 * np.mean([p['search_converged_share'] for p in per]):.1f} %",
                     f"{np.mean([p['search_passes_mean'] for p in per]):.1f}",
                     f"{np.mean([p['search_evaluations_mean'] for p in per]):.0f}", ptxt])
    L.append(_md_table(["method", "t-SNE runs / selection", "sigma searches within tolerance",
                        "passes / point", "evaluations / point", "target perplexity per digit (per seed)"], rows))
    L.append("")
    L.append("The float searches stop at 1e-5 bits (the float reference's tolerance), the fixed-point "
             "search at its table-matched tolerance; a point that misses it keeps the best candidate seen. "
             "Perplexities above (N_c - 1)/2 are clamped (`reference.effective_perplexity`).")
    L.append("")
    ov = rep["accuracy"]["selection_overlap_seed0"]
    L.append("Overlap of the selected subsets (Jaccard index, seed "
             f"{s['seeds'][0]}): "
             + "; ".join(f"{int(round(float(r) * 100))} %: AdapSNE float/NMS {ov[r]['nms|adapsne_float']:.2f}, "
                         f"AdapSNE float/fixed {ov[r]['adapsne_float|adapsne_fixed']:.2f}, "
                         f"AdapSNE float/random {ov[r]['random|adapsne_float']:.2f} "
                         f"(two independent random subsets: {random_pair_jaccard(float(r)):.2f})"
                         for r in ratios) + ".")
    L.append("")
    L.append("![embeddings](embeddings.png)")
    L.append("")
    L.append(f"`embeddings.png`: each class's embedding (AdapSNE float and NMS, seed {s['seeds'][0]}) "
             f"normalised to [0,1]^2, the exemplars of the {int(round(s['embed_ratio'] * 100))} % budget as "
             "red crosses, and the grid of the grid sampler (the smallest g x g grid with at least k "
             "occupied cells; one exemplar from each of the k most populated cells, nearest its centre).")
    L.append("")
    # ---------------------------------------------------------------- search quality
    sq = rep["search_quality"]
    L.append("## 3. Sigma-search quality")
    L.append("")
    L.append(f"{sq['n_points']} training points ({sq['points_per_class']} random points from each of digits "
             f"{sq['classes']}; distance rows over the whole class), target perplexity {sq['perplexity']:g} "
             f"(log2 Perp = {math.log2(sq['perplexity']):.4f} bits), preset `{s['preset']}` "
             f"({sq['cfg']['lanes']} lanes, max {sq['cfg']['max_passes']} passes, W={sq['cfg']['w_frac']}, "
             f"T={sq['cfg']['t_frac']}, U={sq['cfg']['u_frac']}, Hf={sq['cfg']['h_frac']}); only the tables, "
             "interpolation and the row-minimum shift vary.")
    L.append("")
    L.append("Columns:")
    L.append("* *tol*: stop tolerance in bits. float64 rows: the reference's 1e-5 and the hardware's 2^-8. "
             "Fixed rows: matched to the table, 2^-(table bits) (the config default).")
    L.append("* *miss %*: share of points whose search ended at the pass cap without reaching the tolerance "
             "**in the arithmetic used** (`converged == False`).")
    L.append("* *true error*: |H(b) - log2 Perp| with H computed in **float64** (row-min shift) at the "
             "returned b = 2^u; mean / 95th percentile / max over points, in bits. This is what the "
             "affinities actually get. *own err*: the search's own |H - target| in its arithmetic (mean).")
    L.append("* *beta off >10 %*: share of points whose returned beta differs by more than 10 % from the exact "
             "float64 root (Brent's method); *p95 |dbeta|/beta*: its 95th percentile.")
    L.append("* *passes*, *evals*: passes over the distance row and kernel-row evaluations (candidates) per "
             "point (bisection: 1 per pass; K-section/FWA: up to the lane count per pass).")
    L.append("* `no-shift` is a study-only variant without the row-minimum subtraction "
             "(`search_fixed.search_row(row_min_shift=False)`; the hardware always shifts).")
    for policy in POLICIES:
        L.append("")
        L.append(f"### {policy}")
        L.append("")
        rows = []
        for row in sq["rows"]:
            if row["policy"] != policy:
                continue
            rows.append([row["variant"], _fmt_tol(row["tol"]), f"{100 * row['miss_rate']:.1f}",
                         f"{row['true_err_mean']:.2e}", f"{row['true_err_p95']:.2e}", f"{row['true_err_max']:.2e}",
                         f"{row['own_err_mean']:.2e}",
                         f"{100 * row['beta_off_10pct']:.1f}", f"{100 * row['beta_rel_err_p95']:.2f} %",
                         f"{row['passes_mean']:.1f} (max {row['passes_max']})", f"{row['evals_mean']:.0f}"])
        L.append(_md_table(["arithmetic", "tol", "miss %", "true err mean", "true err p95", "true err max",
                            "own err mean", "beta off >10 % (%)", "p95 |dbeta|/beta", "passes", "evals"], rows))
    L.append("")
    # ---------------------------------------------------------------- sawtooth
    saw = rep["sawtooth"]
    L.append("## 4. H(beta) under table arithmetic: staircase, sawtooth, bias")
    L.append("")
    L.append("![entropy sawtooth](entropy_sawtooth.png)")
    L.append("")
    L.append(f"`entropy_sawtooth.png`: H evaluated at every u LSB (2^-12) in a ±{saw['window_lsb']} LSB window "
             "around the exact float64 solution u*, for a typical point and for the point with the largest "
             "nearest-neighbour distance of its class, with (left) and without (right) the row-minimum shift. "
             "Black: float64; red: 4-bit tables; blue: 8-bit tables, both without interpolation; green dashed: "
             "8-bit with interpolation (the preset). Shaded: the 2^-4 and 2^-8 tolerance bands. Right column: "
             "a ±40 LSB zoom of the no-shift curves (8-bit tables), where the only non-monotone steps of "
             "this datapath show up.")
    L.append("")
    L.append(f"Monotonicity over the window, {saw['mono_points']} points of digit {s['saw_class']} "
             "(*rising steps*: share of one-LSB steps in u where the computed H goes *up* - in exact "
             "arithmetic H falls monotonically; *flat steps*: steps where H does not change; *max |H - H64|*: "
             "largest deviation from float64 in the window):")
    L.append("")
    rows = []
    for k, v in saw["monotonicity"].items():
        rows.append([k, f"{100 * v['rising_steps']:.2f} %", f"{v['max_rise_bits']:.2e}",
                     f"{100 * v['flat_steps']:.1f} %", f"{v['max_abs_dev_bits']:.2e}"])
    L.append(_md_table(["tables", "rising steps", "max rise (bits)", "flat steps", "max |H - H64| (bits)"], rows))
    L.append("")
    # ---------------------------------------------------------------- cost
    L.append("## 5. Run time and cost")
    L.append("")
    tm = rep["wall_time_s"]
    at = rep["accuracy"]["time_s"]
    L.append(f"* Wall time: total {tm['total']:.0f} s = selections {at['selection']:.0f} s + training "
             f"{at['training']:.0f} s + search study {tm['search_quality']:.0f} s + H(u) study "
             f"{tm['sawtooth']:.0f} s + plots/report {tm['plots']:.0f} s "
             f"({s['jobs']} worker process(es), BLAS pinned to 1 thread). CPU time of the whole run "
             f"(all processes): {rep['cpu_time_s']:.0f} s, i.e. about {rep['cpu_time_s'] / max(1, s['jobs']):.0f} s "
             f"of wall time on {max(1, s['jobs'])} otherwise idle core(s) (plus the short serial parts); "
             f"this run got {100 * rep['cpu_time_s'] / max(1e-9, rep['wall_time_s']['total'] * max(1, s['jobs'])):.0f} % "
             f"of {max(1, s['jobs'])} core(s) over its wall time - the rest went to other processes on the machine "
             "or to idle workers.")
    cpu = at["selection_per_method_cpu"]
    per_seed = {m: cpu[m] / max(1, len(s["seeds"][: s["tsne_seeds"][m]])) for m in TSNE_METHODS}
    L.append("* Selection CPU time summed over seeds: "
             + ", ".join(f"{SHORT[m]} {cpu[m]:.1f} s" for m in METHODS)
             + " (per seed: " + ", ".join(f"{SHORT[m]} {per_seed[m]:.0f} s" for m in TSNE_METHODS) + ").")
    L.append("* The AdapSNE selections cost one t-SNE per candidate perplexity and class; AdapSNE fixed is "
             "slower still because the bit-accurate search evaluates each candidate in Python integers / NumPy. "
             "This is why the t-SNE based methods use fewer seeds (section 1).")
    L.append("")
    L.append("## 6. Versions and reproduction")
    L.append("")
    L.append(_md_table(["component", "version"], [[k, v] for k, v in rep["versions"].items()]))
    L.append("")
    L.append("Reproduce: `python -m golden_model.evaluate --out reports/digits` (full) or "
             "`--quick` (smoke test, < 1 min). Every number above is also in `report.json` "
             "(per-seed values included).")
    L.append("")
    return "\n".join(L)


def _jsonable(o):
    if isinstance(o, dict):
        return {str(k): _jsonable(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_jsonable(v) for v in o]
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, (np.bool_,)):
        return bool(o)
    return o


def _cpu_seconds() -> float:
    """User + system CPU of this process and of its reaped children (the pool workers)."""
    import resource

    a = resource.getrusage(resource.RUSAGE_SELF)
    b = resource.getrusage(resource.RUSAGE_CHILDREN)
    return a.ru_utime + a.ru_stime + b.ru_utime + b.ru_stime


def run(s: Settings, out_dir: str, log=print) -> dict:
    t0 = time.perf_counter()
    cpu0 = _cpu_seconds()
    os.makedirs(out_dir, exist_ok=True)
    data = load_data(s)
    cfg = s.cfg()
    log(f"[evaluate] {'quick' if s.quick else 'full'} run: {len(data.y_train)} training points, "
        f"{len(data.y_test)} test points, seeds {list(s.seeds)}, jobs {s.jobs}")
    acc = run_accuracy(s, data, log)
    t1 = time.perf_counter()
    sq = run_search_quality(s, data, log)
    t2 = time.perf_counter()
    saw = run_sawtooth(s, data, log)
    t3 = time.perf_counter()
    plot_sawtooth(saw, os.path.join(out_dir, "entropy_sawtooth.png"), s)
    plot_embeddings(acc["_embeddings"], acc["_selections"], os.path.join(out_dir, "embeddings.png"), s,
                    acc["selection_summary"])
    sizes = np.bincount(data.y_train)
    rep = {
        "format": REPORT_FORMAT,
        "settings": asdict(s) | {"ratios": list(s.ratios), "seeds": list(s.seeds)},
        "cfg": cfg.to_dict(derived=False),
        "dataset": {"name": "sklearn digits", "n_total": int(len(data.y_train_all) + len(data.y_test)),
                    "n_train": int(len(data.y_train)), "n_test": int(len(data.y_test)),
                    "class_sizes_min": int(sizes.min()), "class_sizes_max": int(sizes.max())},
        "fixed_point_scope": ("integer squared distances and the per-point sigma search are fixed-point "
                              "(search_fixed); conditional/joint P, t-SNE, occupancy entropy and grid "
                              "sampling are float64"),
        "accuracy": {k: v for k, v in acc.items() if not k.startswith("_")},
        "search_quality": sq,
        "sawtooth": saw,
        "versions": versions(),
    }
    t4 = time.perf_counter()
    rep["wall_time_s"] = {"accuracy": t1 - t0, "search_quality": t2 - t1, "sawtooth": t3 - t2,
                          "plots": t4 - t3, "total": t4 - t0}
    rep["cpu_time_s"] = _cpu_seconds() - cpu0
    rep = _jsonable(rep)
    md = render_markdown(rep)
    rep["wall_time_s"]["total"] = time.perf_counter() - t0
    with open(os.path.join(out_dir, "report.json"), "w") as f:
        json.dump(rep, f, indent=1, sort_keys=False)
        f.write("\n")
    with open(os.path.join(out_dir, "report.md"), "w") as f:
        f.write(md)
    log(f"[evaluate] wrote {out_dir}/report.md, report.json, embeddings.png, entropy_sawtooth.png "
        f"in {rep['wall_time_s']['total']:.0f} s")
    return rep


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m golden_model.evaluate", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="smoke test (< ~1 min): fewer points, seeds, shorter t-SNE")
    p.add_argument("--out", default="reports/digits", help="output directory (default reports/digits)")
    p.add_argument("--jobs", type=int, default=DEFAULT_JOBS,
                   help=f"worker processes (default min(2, CPUs) = {DEFAULT_JOBS})")
    p.add_argument("--seeds", type=int, default=None, help="number of run seeds (default 5, quick 2)")
    p.add_argument("--tsne-seeds", type=int, default=None,
                   help="seeds for both AdapSNE methods (default 3, quick 1); NMS uses all seeds")
    a = p.parse_args(argv)
    kw = {"jobs": max(1, a.jobs)}
    if a.seeds is not None:
        kw["seeds"] = tuple(range(max(1, a.seeds)))
    s = Settings.make(quick=a.quick, **kw)
    if a.tsne_seeds is not None:
        s.tsne_seeds = {"nms": len(s.seeds), "adapsne_float": min(a.tsne_seeds, len(s.seeds)),
                        "adapsne_fixed": min(a.tsne_seeds, len(s.seeds))}
    elif a.seeds is not None and not a.quick:
        s.tsne_seeds["nms"] = len(s.seeds)
    run(s, a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
