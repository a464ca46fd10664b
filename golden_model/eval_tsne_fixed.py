"""Fixed-point affinities + t-SNE against float64 on scikit-learn's digits.

    python -m golden_model.eval_tsne_fixed [--quick] [--out reports/digits] [--seeds 64]
                                           [--downstream-seeds 16] [--no-downstream]
                                           [--preset digits] [--set KEY=VALUE ...]

Per class of the training split (stratified 70/30, random_state 0): the fixed-point sigma search
(`search_fixed.search_class`, perplexity 30) gives ``u_i``; from the same ``u_i``

* fixed: `affinity_fixed.joint_fixed` + `tsne_fixed.tsne_fixed` (bit-accurate, PRNG init);
* float: ``P = reference.joint_p(reference.conditional_p(D, beta))`` with ``beta = 2^u ln 2`` and
  `reference.tsne` started from the *same* initial embedding (the fixed-point init as float) with
  the same schedule;

KL(P || Q) of both embeddings against the float P.  Each init seed is one paired run.  Optional
downstream check: NMS-style selections (bisection, perplexity 30, grid sampler) at 10 % with the
fixed-point search + P + t-SNE versus the float64 pipeline, MLP test accuracy mean +- std over seeds.
Writes ``tsne_fixed.json`` and ``tsne_fixed.md`` to --out.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from . import affinity_fixed as af
from . import reference as ref
from . import search_fixed as sf
from . import tsne_fixed as tf
from .config import get_preset, parse_overrides

KL_TOLERANCE = 0.05  # |KL fixed / KL float - 1| allowed (issue 9)
RATIO = 0.10
PERTURB = 1e-9  # relative perturbation of P for the float-only sensitivity baseline
MLP = dict(hidden_layer_sizes=(128,), max_iter=2000, learning_rate_init=3e-3)
#: allowed --seeds / --downstream-seeds.  The float KL of one class varies by 27-36 % over seeds, so
#: the standard error of a class's ratio of means is ~2-3.5 % at 16 seeds: a 5 % check then fails
#: by chance in about one class of ten; 64 seeds halve it (docs/fixed_point.md)
MAX_SEEDS = 64
DOWNSTREAM_SEEDS = 16  # default: MLP runs of the selection check (each trains 2 MLPs, runs 20 t-SNEs)


def load_split(split_seed: int = 0):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    X, y = load_digits(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, stratify=y, random_state=split_seed)
    return Xtr.astype(np.int64), ytr, Xte.astype(np.int64), yte


def class_pair(Xc: np.ndarray, cfg, seeds, perplexity: float = 30.0, policy: str = "fwa",
               controls: bool = True) -> dict:
    """Search once, then one paired fixed/float t-SNE run per seed.  Returns KLs and timings;
    `controls` adds two float-only runs per seed (on the fixed P, and on a 1e-9-perturbed P)."""
    t0 = time.perf_counter()
    res = sf.search_class(Xc, ref.effective_perplexity(perplexity, len(Xc)), policy, cfg)
    t_search = time.perf_counter() - t0
    D = ref.sq_distances(Xc).astype(np.int64)
    u = af.searched_u(res)
    t0 = time.perf_counter()
    Pc = af.conditional_fixed(D, u, cfg)
    S = af.pair_sums(Pc)
    t_p = time.perf_counter() - t0
    betas = np.array([r.beta(cfg) for r in res])
    Pcf = ref.conditional_p(D, betas)
    P = ref.joint_p(Pcf)
    perr = np.abs(Pc - Pcf * (1 << cfg.p_frac))
    pbound = af.conditional_error_bound(D, u, cfg)
    runs = []
    for seed in seeds:
        t0 = time.perf_counter()
        r = tf.tsne_fixed(S, cfg, seed=seed)
        t_fx = time.perf_counter() - t0
        Y0 = r.Y0.astype(np.float64) / (1 << cfg.y_frac)
        t0 = time.perf_counter()
        rf = ref.tsne(P, cfg, Y0=Y0)
        t_fl = time.perf_counter() - t0
        run = {"seed": int(seed), "kl_float": float(rf.kl), "kl_fixed": ref.kl_divergence(P, r.y_float(cfg)),
               "t_fixed_s": t_fx, "t_float_s": t_fl}
        if controls:
            rq = ref.tsne(af.joint_to_float(S, cfg), cfg, Y0=Y0)  # float t-SNE on the fixed P
            # the float run's own sensitivity: P perturbed by PERTURB (relative), symmetrised
            e = np.random.default_rng(seed).standard_normal(P.shape)
            rp = ref.tsne(P * (1 + PERTURB * (e + e.T) / 2), cfg, Y0=Y0)
            run.update(kl_float_on_fixed_p=ref.kl_divergence(P, rq.Y), kl_float_perturbed=ref.kl_divergence(P, rp.Y))
        runs.append(run)
    kf = np.array([x["kl_float"] for x in runs])
    kx = np.array([x["kl_fixed"] for x in runs])
    extra = {}
    if controls:
        kp = np.array([x["kl_float_perturbed"] for x in runs])
        extra = {"control_ratio_of_means": float(kp.mean() / kf.mean()),
                 "kl_float_on_fixed_p_mean": float(np.mean([x["kl_float_on_fixed_p"] for x in runs]))}
    return {"n": int(len(Xc)), "t_search_s": t_search, "t_p_s": t_p, "runs": runs,
            "p_err_max_lsb": float(perr.max()), "p_bound_max_lsb": float(pbound.max()),
            "p_within_bound": bool((perr <= pbound).all()),
            "kl_float_mean": float(kf.mean()), "kl_fixed_mean": float(kx.mean()),
            "ratio_of_means": float(kx.mean() / kf.mean()),
            "ratio_min": float((kx / kf).min()), "ratio_max": float((kx / kf).max()),
            "ratio_sem": float(np.std(kx - kf, ddof=1) / np.sqrt(len(runs)) / kf.mean()) if len(runs) > 1 else None,
            **extra}


# --------------------------------------------------------------------------- downstream


def nms_fixed_embedding(Xc, cfg, seed):
    res = sf.search_class(Xc, ref.effective_perplexity(30.0, len(Xc)), "bisection", cfg)
    S = af.joint_fixed(ref.sq_distances(Xc).astype(np.int64), af.searched_u(res), cfg)
    r = tf.tsne_fixed(S, cfg, seed=seed)
    return r.y_float(cfg), r.Y0.astype(np.float64) / (1 << cfg.y_frac)


def downstream(Xtr, ytr, Xte, yte, cfg, seeds, ratio: float = RATIO) -> dict:
    """NMS-style selections (fixed vs float pipelines, same init) and MLP accuracy per seed."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    from .select import class_budget
    acc = {"fixed": [], "float": []}
    for seed in seeds:
        idx = {"fixed": [], "float": []}
        for c in np.unique(ytr):
            ci = np.flatnonzero(ytr == c)
            Xc = Xtr[ci]
            k = class_budget(len(ci), ratio)
            Yfx, Y0 = nms_fixed_embedding(Xc, cfg, seed)
            D = ref.sq_distances(Xc)
            st = ref.search_all_rows(D, ref.effective_perplexity(30.0, len(Xc)), "bisection", cfg)
            Yfl = ref.tsne(ref.joint_p(ref.conditional_p(D, st.betas)), cfg, Y0=Y0).Y
            idx["fixed"].append(ci[ref.grid_sample(Yfx, k)])
            idx["float"].append(ci[ref.grid_sample(Yfl, k)])
        for arith in acc:
            sel = np.sort(np.concatenate(idx[arith]))
            clf = MLPClassifier(random_state=seed, **MLP)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                clf.fit(Xtr[sel] / 16.0, ytr[sel])
            acc[arith].append(float(clf.score(Xte / 16.0, yte)))
    out = {a: {"per_seed": v, "mean": float(np.mean(v)), "std": float(np.std(v))} for a, v in acc.items()}
    out["ratio"] = ratio
    out["seeds"] = list(seeds)
    return out


# --------------------------------------------------------------------------- report


def _seed_list(seeds: list) -> str:
    """``1..64`` for a contiguous run of seeds, else the list."""
    if len(seeds) > 2 and list(seeds) == list(range(seeds[0], seeds[-1] + 1)):
        return f"{seeds[0]}..{seeds[-1]} ({len(seeds)})"
    return str(list(seeds))


def report_md(rep: dict) -> str:
    c = rep["config"]
    L = ["# Fixed-point affinities and t-SNE versus float64 (digits)", "",
         f"Preset `{rep['preset']}`"
         + (f" with overrides `{rep['overrides']}`" if rep.get("overrides") else "")
         + f"; formats p_frac {c['p_frac']}, y Q{c['y_int_bits']}.{c['y_frac']}, "
         f"q_frac {c['q_frac']}, grad_frac {c['grad_frac']}, gains UQ{c['gain_int_bits']}.{c['gain_frac']}, "
         f"coef_frac {c['coef_frac']}, w_frac {c['w_frac']}, {c['recip_table_bits']}-bit reciprocal table"
         f"{' (interpolated)' if c['interpolate'] else ''}; {c['tsne_iters']} iterations "
         f"({c['tsne_exaggeration_iters']} exaggerated x{c['tsne_exaggeration']}), learning rate "
         f"{c['tsne_learning_rate']}.", "",
         f"Per class of the training split: fixed-point {rep['policy']} sigma search at perplexity "
         f"{rep['perplexity']}; from the same searched betas the fixed-point P + t-SNE and the float64 "
         "`reference.joint_p`/`reference.tsne` from the same initial embedding (the fixed-point PRNG init "
         f"as float), seeds {_seed_list(rep['seeds'])}.  KL(P || Q) in nats against the float P.  "
         "`ratio` = KL fixed / KL float (± its standard error over the paired seeds).  Controls, float "
         "only: the float t-SNE on the fixed-point P (isolates the P quantisation), and the float t-SNE on "
         f"the float P perturbed by {PERTURB:g} (relative), whose ratio of means to the float run shows "
         "how far two float runs that differ only by rounding noise drift apart.", "",
         f"| class | n | KL float (seed {rep['seeds'][0]}) | KL fixed | ratio | mean KL float | mean KL fixed "
         "| ratio of means ± s.e. | per-seed ratio min..max | control: float, P perturbed | control: float on fixed P "
         "| max err p_j|i (LSB) / bound | fixed t-SNE s/run | float s/run | search s |",
         "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for lab, d in rep["classes"].items():
        r0 = d["runs"][0]
        L.append(f"| {lab} | {d['n']} | {r0['kl_float']:.4f} | {r0['kl_fixed']:.4f} | "
                 f"{r0['kl_fixed'] / r0['kl_float']:.3f} | {d['kl_float_mean']:.4f} | {d['kl_fixed_mean']:.4f} | "
                 f"{d['ratio_of_means']:.3f} ± {d['ratio_sem'] or 0:.3f} | {d['ratio_min']:.3f}..{d['ratio_max']:.3f} | "
                 f"{d['control_ratio_of_means']:.3f} | {d['kl_float_on_fixed_p_mean'] / d['kl_float_mean']:.3f} | "
                 f"{d['p_err_max_lsb']:.2f} / {d['p_bound_max_lsb']:.1f} | "
                 f"{np.mean([x['t_fixed_s'] for x in d['runs']]):.2f} | "
                 f"{np.mean([x['t_float_s'] for x in d['runs']]):.2f} | {d['t_search_s']:.2f} |")
    s = rep["summary"]
    L += ["", f"* Classes whose mean-over-seeds KL (fixed) is within {100 * KL_TOLERANCE:.0f} % of the float one: "
          f"**{s['classes_mean_within']} of {s['classes']}** (control, float with perturbed P: "
          f"{s['control_classes_within']} of {s['classes']}); over all classes and seeds the fixed/float KL "
          f"ratio is **{s['overall_ratio']:.3f}**.  Single paired runs within {100 * KL_TOLERANCE:.0f} %: "
          f"{s['pairs_within']} of {s['pairs']}.",
          f"* Mean |KL / KL float - 1| of a single paired run: fixed {100 * s['fixed_pair_dev']:.1f} %, "
          f"float on the fixed P {100 * s['float_p_pair_dev']:.1f} %, float with P perturbed by {PERTURB:g} "
          f"{100 * s['float_perturbed_pair_dev']:.1f} %; the float KL of one class varies over the seeds by "
          f"{100 * s['float_seed_spread']:.1f} % ((max - min) / mean).  Exact t-SNE with this schedule "
          "amplifies any perturbation of its trajectory to an O(1) difference of the embedding within a "
          "few dozen iterations (docs/fixed_point.md), so a single paired run cannot agree to 5 % even "
          "between two float runs; the mean over seeds is the meaningful comparison.",
          f"* p_j|i within its documented bound on every element of every class: {s['p_within_bound']}."]
    if "downstream" in rep:
        d = rep["downstream"]
        L += ["", f"## Downstream: NMS-style selection at {100 * d['ratio']:.0f} %", "",
              "Bisection, perplexity 30 (capped at (n-1)/2), grid sampler; fixed = fixed-point search + P + "
              "t-SNE, float = float64 search (`reference.search_all_rows`) + P + t-SNE from the same init; "
              f"MLP (128 hidden) test accuracy over seeds {_seed_list(d['seeds'])} (seed = init seed = MLP seed).", "",
              "| pipeline | MLP accuracy % (mean ± std) | per seed |", "|---|---|---|"]
        for a in ("fixed", "float"):
            L.append(f"| {a} | {100 * d[a]['mean']:.1f} ± {100 * d[a]['std']:.1f} | "
                     + ", ".join(f"{100 * v:.1f}" for v in d[a]["per_seed"]) + " |")
    args = " --quick" if rep["quick"] else f" --seeds {len(rep['seeds'])}"
    if "downstream" in rep and not rep["quick"] and len(rep["downstream"]["seeds"]) != min(len(rep["seeds"]), DOWNSTREAM_SEEDS):
        args += f" --downstream-seeds {len(rep['downstream']['seeds'])}"
    L += ["", f"Total time {rep['elapsed_s']:.0f} s on one core.  Reproduce: "
          f"`python -m golden_model.eval_tsne_fixed{args}`.", ""]
    return "\n".join(L)


def summarise(classes: dict) -> dict:
    pairs = [x for d in classes.values() for x in d["runs"]]
    within = sum(abs(x["kl_fixed"] / x["kl_float"] - 1) <= KL_TOLERANCE for x in pairs)
    spread = [(max(k) - min(k)) / np.mean(k) for k in ([x["kl_float"] for x in d["runs"]] for d in classes.values())]
    return {"pairs": len(pairs), "pairs_within": int(within), "classes": len(classes),
            "classes_mean_within": int(sum(abs(d["ratio_of_means"] - 1) <= KL_TOLERANCE for d in classes.values())),
            "overall_ratio": float(np.mean([x["kl_fixed"] for x in pairs]) / np.mean([x["kl_float"] for x in pairs])),
            "float_seed_spread": float(np.mean(spread)),
            "float_p_pair_dev": float(np.mean([abs(x["kl_float_on_fixed_p"] / x["kl_float"] - 1) for x in pairs])),
            "float_perturbed_pair_dev": float(np.mean([abs(x["kl_float_perturbed"] / x["kl_float"] - 1) for x in pairs])),
            "fixed_pair_dev": float(np.mean([abs(x["kl_fixed"] / x["kl_float"] - 1) for x in pairs])),
            "control_classes_within": int(sum(abs(d["control_ratio_of_means"] - 1) <= KL_TOLERANCE
                                              for d in classes.values())),
            "p_within_bound": all(d["p_within_bound"] for d in classes.values())}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m golden_model.eval_tsne_fixed", description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="reports/digits", help="output directory (default reports/digits)")
    ap.add_argument("--preset", default="digits")
    ap.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                    help="override one AccelConfig parameter (repeatable), e.g. a narrower embedding "
                         "format: --set y_int_bits=8 --set y_frac=8 --set grad_frac=24")
    ap.add_argument("--seeds", type=int, default=8, help=f"paired t-SNE runs per class, 1..{MAX_SEEDS} (default 8)")
    ap.add_argument("--downstream-seeds", type=int, default=None,
                    help=f"seeds of the selection check, 1..{MAX_SEEDS} (default min(--seeds, {DOWNSTREAM_SEEDS}))")
    ap.add_argument("--quick", action="store_true", help="40 points per class, 2 seeds, no downstream")
    ap.add_argument("--no-downstream", action="store_true", help="skip the MLP selection check")
    a = ap.parse_args(argv)
    for opt, v in (("--seeds", a.seeds), ("--downstream-seeds", a.downstream_seeds)):
        if v is not None and not 1 <= v <= MAX_SEEDS:
            print(f"error: {opt} {v} is out of range: allowed [1, {MAX_SEEDS}]", file=sys.stderr)
            return 2
    try:
        cfg = get_preset(a.preset)
        overrides = parse_overrides(a.sets)
        if overrides:
            cfg = cfg.with_overrides(**overrides)
    except ValueError as e:
        print(f"error: {'--set: ' if a.sets else ''}{e}", file=sys.stderr)
        return 2
    out = Path(a.out)
    if out.exists() and not out.is_dir():
        print(f"error: --out {out} exists and is not a directory", file=sys.stderr)
        return 2
    seeds = tuple(range(1, (2 if a.quick else a.seeds) + 1))
    t0 = time.perf_counter()
    Xtr, ytr, Xte, yte = load_split()
    classes = {}
    for c in np.unique(ytr):
        Xc = Xtr[ytr == c][: 40 if a.quick else None]
        classes[str(int(c))] = d = class_pair(Xc, cfg, seeds)
        print(f"class {c}: n={d['n']} ratio of means {d['ratio_of_means']:.3f}", file=sys.stderr)
    rep = {"preset": a.preset, "overrides": overrides, "quick": a.quick, "policy": "fwa", "perplexity": 30.0, "seeds": list(seeds),
           "config": cfg.to_dict(derived=False), "classes": classes, "summary": summarise(classes)}
    if not (a.quick or a.no_downstream):
        nd = a.downstream_seeds or min(a.seeds, DOWNSTREAM_SEEDS)
        rep["downstream"] = downstream(Xtr, ytr, Xte, yte, cfg, tuple(range(1, nd + 1)))
    rep["elapsed_s"] = time.perf_counter() - t0
    out.mkdir(parents=True, exist_ok=True)
    (out / "tsne_fixed.json").write_text(json.dumps(rep, indent=1, default=list) + "\n")
    (out / "tsne_fixed.md").write_text(report_md(rep))
    print(f"wrote {out / 'tsne_fixed.md'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
