"""The entropy-criterion study: is the perplexity AdapSNE chooses above the t-SNE seed noise?

For every class and every candidate perplexity the occupancy entropy is measured over several
t-SNE seeds, exactly as ``select(method="adapsne", arithmetic="float")`` measures it for one seed
(FWA sigma search at the float tolerance, ``cfg.seed = run seed + 1``, the class-size grid of
``reference.entropy_grid_side``).  Per class the study gives the spread across seeds next to the
spread across candidates, and calls the choice *within noise* when the best candidate's mean
beats the runner-up's by no more than twice the standard error of that difference (the same
rough screen as the accuracy tables, not a significance test).  The old fixed grid
(``cfg.grid_g`` x ``cfg.grid_g``) is measured on the same embeddings for comparison.

Two variants: the full training classes, and small classes (a seeded subsample of
``Settings.crit_small_n`` points per class), where the fixed grid saturates at ln N.
"""

from __future__ import annotations

import math
import time

import numpy as np

from .. import reference as ref
from ..config import AccelConfig
from .data import Data
from .settings import FLOAT_TOL, Settings, pool_map

#: Grids compared: key -> description (``"size"``: the rule select uses).
GRIDS = {"size": "class-size grid (entropy_grid_side)", "fixed": "fixed grid_g x grid_g grid"}


def criterion_classes(s: Settings, data: Data) -> dict:
    """Variant -> list of (label, integer features of the class)."""
    out = {"full": [], "small": []}
    rng = np.random.default_rng(4321 + s.split_seed)
    for c in np.unique(data.y_train):
        Xc = ref.as_integer_features(data.X_train[data.y_train == c])
        out["full"].append((int(c), Xc))
        keep = np.sort(rng.permutation(len(Xc))[: s.crit_small_n])
        out["small"].append((int(c), Xc[keep]))
    return out


def _criterion_task(args):
    """Worker: every class and candidate of one variant at one seed -> entropies per grid."""
    variant, seed, classes, cfg_dict = args
    cfg = AccelConfig.from_dict(cfg_dict).with_overrides(seed=seed + 1)
    out = {}
    for label, Xc in classes:
        D = ref.sq_distances(Xc)
        n = D.shape[0]
        rows = []
        for p in ref.candidate_perplexities(cfg, n):
            e = ref.embed_class(D, p, cfg, "fwa", tol=FLOAT_TOL)
            rows.append({"perplexity": p, "size": e.occupancy_entropy,
                         "fixed": ref.occupancy_entropy(e.Y, cfg.grid_g)})
        out[label] = {"n": int(n), "grid": ref.entropy_grid_side(n, cfg), "rows": rows}
    return variant, seed, out


def summarise(cands: list, H: np.ndarray) -> dict:
    """Spread statistics of an entropy matrix ``H[candidate, seed]`` (nats).

    ``seed_sd``: pooled std over seeds (root mean of the per-candidate variances, ddof 1);
    ``range``: max - min of the per-candidate means; ``margin``: best mean - runner-up mean and
    ``two_se`` twice its standard error; ``tied``: candidates whose mean is within two standard
    errors of the best one (the best included); ``winners``: the maximiser at each seed (ties ->
    the earlier candidate, as ``choose_perplexity``); ``ties``: seeds at which two or more
    candidates share the highest entropy (the candidate order decides, not the data);
    ``within_noise``: ``margin <= two_se``.
    """
    H = np.asarray(H, dtype=np.float64)
    n_seeds = H.shape[1]
    mean = H.mean(axis=1)
    sd = H.std(axis=1, ddof=1) if n_seeds > 1 else np.zeros(len(cands))
    order = sorted(range(len(cands)), key=lambda i: (-mean[i], i))
    best = order[0]
    se = lambda i, j: math.sqrt((sd[i] ** 2 + sd[j] ** 2) / n_seeds)  # noqa: E731
    out = {"candidates": [float(p) for p in cands], "mean": mean.tolist(), "sd": sd.tolist(),
           "seed_sd": float(math.sqrt(np.mean(sd ** 2))), "range": float(mean.max() - mean.min()),
           "best": float(cands[best]),
           "winners": [float(cands[int(np.argmax(H[:, j]))]) for j in range(n_seeds)],
           "tied": [float(cands[i]) for i in order if mean[best] - mean[i] <= 2 * se(best, i)],
           "ties": int(sum(np.sum(H[:, j] == H[:, j].max()) > 1 for j in range(n_seeds)))}
    if len(cands) > 1:
        ru = order[1]
        out["margin"] = float(mean[best] - mean[ru])
        out["two_se"] = float(2 * se(best, ru))
        out["within_noise"] = bool(out["margin"] <= out["two_se"])
    else:
        out.update(margin=0.0, two_se=0.0, within_noise=True)
    return out


def run_criterion(s: Settings, data: Data, log=print) -> dict:
    """The study over ``s.crit_seeds`` seeds; returns per variant and class the entropies and
    :func:`summarise` for both grids."""
    cfg = s.cfg()
    t0 = time.perf_counter()
    classes = criterion_classes(s, data)
    seeds = tuple(s.seeds[: s.crit_seeds])
    tasks = [(v, sd, classes[v], cfg.to_dict(derived=False)) for v in classes for sd in seeds]
    res = pool_map(_criterion_task, tasks, s.jobs)
    out = {"seeds": list(seeds), "small_n": s.crit_small_n, "grid_g": cfg.grid_g,
           "entropy_cell_points": cfg.entropy_cell_points, "variants": {}}
    for v in classes:
        per_seed = {sd: o for vv, sd, o in res if vv == v}
        var = {}
        for label, _ in classes[v]:
            first = per_seed[seeds[0]][label]
            cands = [r["perplexity"] for r in first["rows"]]
            entry = {"n": first["n"], "grid": first["grid"]}
            for g in GRIDS:
                H = [[per_seed[sd][label]["rows"][i][g] for sd in seeds] for i in range(len(cands))]
                entry[g] = {"entropy": H, **summarise(cands, np.asarray(H))}
            var[label] = entry
        out["variants"][v] = var
    out["time_s"] = time.perf_counter() - t0
    log(f"[criterion] {len(tasks)} (variant, seed) runs over {len(classes['full'])} classes in "
        f"{out['time_s']:.1f} s")
    return out


__all__ = ["GRIDS", "criterion_classes", "summarise", "run_criterion"]
