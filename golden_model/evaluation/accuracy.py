"""The downstream-accuracy study: selections of every method, classifiers, paired differences."""

from __future__ import annotations

import math
import time
import warnings

import numpy as np

from .. import baselines as bl
from .. import reference as ref
from .. import select as sel
from ..config import AccelConfig
from ..grid_fixed import sample_side
from .data import Data
from .settings import (CLASSIFIERS, FIXED_FLOAT, METHODS, NOISE_SE, PAIRS, PIPELINES, TSNE_METHODS,
                       Settings, pool_map, rkey)
from .trace import FirstClassTracer, phase_table, reference_helpers


def grid_ratio_indices(details: dict, ratio: float, cfg: AccelConfig) -> np.ndarray:
    """Global indices for another budget from the per-class embeddings of one select run (the
    same grid sampler, float or fixed point, that `select` performs: `select.sample_class`)."""
    out = []
    for lab in sorted(details):
        d = details[lab]
        k = sel.class_budget(d["n"], ratio)
        out.append(d["class_index"][sel.sample_class(d, k, cfg)])
    return np.sort(np.concatenate(out)).astype(np.int64)


def sampler_side(d: dict, k: int, cfg: AccelConfig) -> int:
    """Grid side the grid sampler uses for `k` exemplars from one class's details (0 when
    ``k >= n``: every point is taken, no grid): ``grid_fixed.sample_side`` with the core's
    ``cfg.grid_g`` limit for a fixed-point class, else the same rule as ``reference.grid_sample``."""
    if k >= d["n"]:
        return 0
    if "Y_q" in d:
        return sample_side(d["Y_q"], k, cfg.grid_g)
    Yn = ref.normalise_unit(d["Y"])
    best_g, best_occ = 1, 0
    for g in range(1, ref.GRID_SAMPLE_G_LIMIT + 1):
        occ = np.unique(ref.grid_cells(Yn, g)[2]).size
        if occ >= k:
            return g
        if occ > best_occ:
            best_g, best_occ = g, occ
    return best_g


def _tsne_select_task(args):
    """Worker: one (method, seed) t-SNE based selection at every ratio; `trace` records the code
    the first class executes (:mod:`.trace`)."""
    method, seed, X, y, ratios, cfg_dict, trace = args
    cfg = AccelConfig.from_dict(cfg_dict).with_overrides(seed=seed + 1)
    t0 = time.perf_counter()
    c0 = time.process_time()
    m, arith = PIPELINES[method]
    r0 = ratios[0]
    tracer = FirstClassTracer() if trace else None
    first, det = sel.select(X, y, r0, method=m, cfg=cfg, arithmetic=arith, return_details=True,
                            progress=tracer)
    y_arr = np.asarray(y)
    for lab, d in det.items():
        d["class_index"] = np.flatnonzero(y_arr == lab)
    by_ratio = {r0: first}
    for r in ratios[1:]:
        by_ratio[r] = grid_ratio_indices(det, r, cfg)
    assert np.array_equal(grid_ratio_indices(det, r0, cfg), first), "grid re-sampling disagrees with select"
    summary = {
        "perplexity": {int(k): float(v["perplexity"]) for k, v in det.items()},
        "tsne_runs": int(sum(len(v["perplexity_history"]) for v in det.values())),
        "search_converged_share": float(np.mean(np.concatenate([v["converged"] for v in det.values()]))),
        "search_evaluations_mean": float(np.mean(np.concatenate([v["evaluations"] for v in det.values()]))),
        "search_passes_mean": float(np.mean(np.concatenate([v["passes"] for v in det.values()]))),
        "occupancy_entropy": {int(k): float(v["occupancy_entropy"]) for k, v in det.items()},
        "kl": {int(k): float(v["kl"]) for k, v in det.items()},
        "entropy_grid": {int(k): int(v["entropy_grid"]) for k, v in det.items()},
        "sampler_side": {rkey(r): {int(k): sampler_side(v, sel.class_budget(v["n"], r), cfg)
                                   for k, v in det.items()} for r in ratios},
    }
    if tracer is not None:
        summary["traced_calls"] = sorted(tracer.calls)
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
    tasks = [(m, seed, Xtr, ytr, tuple(s.ratios), cfg.to_dict(derived=False), seed == s.seeds[0])
             for m in TSNE_METHODS for seed in s.seeds_for(m)]
    # longest first so that a pool balances (measured CPU per seed: AdapSNE fixed ~70 s, NMS
    # fixed ~13 s, AdapSNE float ~4 s, NMS float ~1 s on digits)
    weight = {"adapsne_fixed": 4, "nms_fixed": 3, "adapsne_float": 2, "nms": 1}
    tasks.sort(key=lambda t: -weight[t[0]])
    summaries: dict = {m: {} for m in TSNE_METHODS}
    embeddings: dict = {}
    pipelines: dict = {}
    for method, seed, by_ratio, summ, emb, dt in pool_map(_tsne_select_task, tasks, s.jobs):
        if "traced_calls" in summ:
            calls = summ.pop("traced_calls")
            pipelines[method] = {"select": dict(zip(("method", "arithmetic"), PIPELINES[method])),
                                 "traced_seed": seed, "phases": phase_table(calls),
                                 "reference_helpers": reference_helpers(calls)}
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
    results = dict(pool_map(_train_task, train_tasks, s.jobs))
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
                acc[c][m][rkey(r)] = seed_stats(vals, seeds) | {"subset_size": sizes[0] if len(sizes) == 1 else sizes}
        vals = [results[("full", 1.0, sd)][c][0] for sd in s.seeds]
        acc[c]["full"] = seed_stats(vals, s.seeds) | {"subset_size": int(len(ytr))}
        conv_warn[c] = int(sum(v[c][1] for v in results.values()))
    paired = {c: {f"{a}-{b}": {rkey(r): paired_diff(acc[c][a][rkey(r)], acc[c][b][rkey(r)])
                               for r in s.ratios} for a, b in PAIRS} for c in CLASSIFIERS}
    # selection overlap between methods (seed 0, mean Jaccard) - how different are the subsets?
    overlap = {}
    for r in s.ratios:
        sets = {m: set(selections[(m, r, s.seeds[0])].tolist()) for m in METHODS}
        overlap[rkey(r)] = {f"{a}|{b}": len(sets[a] & sets[b]) / len(sets[a] | sets[b])
                             for i, a in enumerate(METHODS) for b in list(METHODS)[i + 1:]}
    return {
        "accuracy": acc,
        "paired_differences": paired,
        "fixed_vs_float": {f"{a}-{b}": fixed_float_diagnostics(summaries[a], summaries[b], selections, a, b, s)
                           for a, b in FIXED_FLOAT},
        "pipelines": {m: pipelines[m] for m in TSNE_METHODS if m in pipelines},
        "selection_summary": {m: {str(k): v for k, v in d.items()} for m, d in summaries.items()},
        "selection_overlap_seed0": overlap,
        "convergence_warnings": conv_warn,
        "n_fits": len(train_tasks) * len(CLASSIFIERS),
        "time_s": {"selection": t_sel, "training": t_train,
                   "selection_per_method_cpu": sel_time},
        "_embeddings": embeddings,
        "_selections": selections,
    }


def seed_stats(vals, seeds) -> dict:
    a = np.asarray(vals, dtype=np.float64)
    return {"mean": float(a.mean()), "std": float(a.std(ddof=1)) if a.size > 1 else 0.0,
            "n": int(a.size), "seeds": [int(x) for x in seeds], "values": [float(v) for v in a]}


def paired_diff(a: dict, b: dict) -> dict | None:
    """Per-seed differences a - b over the seeds both cells share (same cfg.seed, same MLP seed)."""
    va = dict(zip(a["seeds"], a["values"]))
    vb = dict(zip(b["seeds"], b["values"]))
    common = [sd for sd in a["seeds"] if sd in vb]
    if not common:
        return None
    d = np.array([va[sd] - vb[sd] for sd in common])
    sd = float(d.std(ddof=1)) if d.size > 1 else 0.0
    se = sd / math.sqrt(d.size)
    return {"mean": float(d.mean()), "std": sd, "se": se, "n": int(d.size), "seeds": common,
            "values": d.tolist(),
            # |mean| > NOISE_SE standard errors; undecidable (False) with a single seed
            "above_noise": bool(d.size > 1 and abs(float(d.mean())) > NOISE_SE * se)}


def fixed_float_diagnostics(fx: dict, fl: dict, selections: dict, a: str, b: str, s: Settings) -> dict:
    """What differs between a fixed-point method `a` and its float twin `b` over their common seeds
    (per-seed selection summaries `fx`, `fl`): chosen perplexities, KL, occupancy entropy, the
    entropy-grid and grid-sampler sides, and the overlap of the selected subsets."""
    seeds = sorted(sd for sd in fx if sd in fl)
    if not seeds:
        return {"seeds": []}
    labels = sorted(fx[seeds[0]]["perplexity"])
    pairs = [(fx[sd], fl[sd]) for sd in seeds]
    per = lambda key: [(x[key][c], y[key][c]) for x, y in pairs for c in labels]  # noqa: E731
    kl = np.array(per("kl"))
    ent = np.array(per("occupancy_entropy"))
    same_p = np.array([p == q for p, q in per("perplexity")])
    # KL depends on the perplexity: compare it where both pipelines chose the same one
    kl_same = kl[same_p] if same_p.any() else np.full((1, 2), np.nan)
    # reference for the perplexity agreement: the float method at consecutive seeds
    fl_same = [fl[s0]["perplexity"][c] == fl[s1]["perplexity"][c]
               for s0, s1 in zip(seeds[:-1], seeds[1:]) for c in labels]
    out = {
        "seeds": [int(x) for x in seeds], "class_runs": len(kl),
        "same_perplexity": int(same_p.sum()),
        "float_seed_same_perplexity": float(np.mean(fl_same)) if fl_same else float("nan"),
        "kl_same_perplexity_ratio": float(kl_same[:, 0].mean() / kl_same[:, 1].mean()),
        "perplexity_fixed_mean": float(np.mean([p for p, _ in per("perplexity")])),
        "perplexity_float_mean": float(np.mean([q for _, q in per("perplexity")])),
        "kl_fixed_mean": float(kl[:, 0].mean()), "kl_float_mean": float(kl[:, 1].mean()),
        "kl_ratio_of_means": float(kl[:, 0].mean() / kl[:, 1].mean()),
        "entropy_fixed_mean": float(ent[:, 0].mean()), "entropy_float_mean": float(ent[:, 1].mean()),
        "same_entropy_grid": int(sum(p == q for p, q in per("entropy_grid"))),
        "sampler": {}, "jaccard": {}, "float_seed_jaccard": {},
    }
    for r in s.ratios:
        sides = np.array([(x["sampler_side"][rkey(r)][c], y["sampler_side"][rkey(r)][c])
                          for x, y in pairs for c in labels])
        out["sampler"][rkey(r)] = {"fixed_mean": float(sides[:, 0].mean()), "float_mean": float(sides[:, 1].mean()),
                                   "same": int(np.sum(sides[:, 0] == sides[:, 1]))}
        jac = [_jaccard(selections[(a, r, int(sd))], selections[(b, r, int(sd))]) for sd in seeds]
        out["jaccard"][rkey(r)] = float(np.mean(jac))
        # reference: the float method against itself at consecutive seeds (differs only by seed)
        fj = [_jaccard(selections[(b, r, int(s0))], selections[(b, r, int(s1))])
              for s0, s1 in zip(seeds[:-1], seeds[1:])]
        out["float_seed_jaccard"][rkey(r)] = float(np.mean(fj)) if fj else float("nan")
    return out


def _jaccard(a, b) -> float:
    a, b = set(np.asarray(a).tolist()), set(np.asarray(b).tolist())
    return len(a & b) / len(a | b)

