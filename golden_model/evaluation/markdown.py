"""Markdown building blocks of the report: number formats, tables, the headline summary and the
entropy-criterion section (every sentence computed from report.json, no hand-written claims)."""

from __future__ import annotations

import math

import numpy as np

from ..config import POLICIES
from .search_study import fmt_tol
from .settings import FIXED_FLOAT, FLOAT_TOL, METHODS, PAIRS, SHORT, rkey


def pm(d: dict, scale=100.0, digits=1, signed=False) -> str:
    m = f"{d['mean'] * scale:{'+' if signed else ''}.{digits}f}"
    if d.get("n", 2) < 2:
        return f"{m} (n=1)"
    return f"{m} ± {d['std'] * scale:.{digits}f}"


def md_table(header: list, rows: list) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(x) for x in r) + " |" for r in rows]
    return "\n".join(out)


def noise_verdict(a: dict, b: dict) -> str:
    """Difference of means in pp; 'within noise' unless it exceeds twice its standard error
    sqrt(s_a^2/n_a + s_b^2/n_b) (a rough screen with n = 2..5 seeds, not a significance test)."""
    diff = (a["mean"] - b["mean"]) * 100
    se = math.sqrt(a["std"] ** 2 / a["n"] + b["std"] ** 2 / b["n"]) * 100
    word = "within noise" if abs(diff) <= 2 * se else ("higher" if diff > 0 else "lower")
    return f"{diff:+.1f} pp ({word}, 2 SE = {2 * se:.1f})"


def random_pair_jaccard(r: float) -> float:
    """Expected Jaccard index of two independent uniform subsets of the same fraction r."""
    return r * r / (2 * r - r * r)


def sq_cell(rep: dict, policy: str, variant: str) -> dict:
    return next(r for r in rep["search_quality"]["rows"] if r["policy"] == policy and r["variant"] == variant)


def summary_lines(rep: dict) -> list:
    """Headline numbers, computed from the report (no hand-written claims)."""
    s, cfg = rep["settings"], rep["cfg"]
    acc = rep["accuracy"]["accuracy"]
    ratios = [rkey(r) for r in s["ratios"]]
    pct = lambda r: f"{int(round(float(r) * 100))} %"  # noqa: E731
    L = ["## Summary", ""]
    L.append(f"* **Full training set**: MLP {pm(acc['mlp']['full'])} %, logistic regression "
             f"{pm(acc['logreg']['full'])} %.")
    for r in ratios:
        ranked = sorted(METHODS, key=lambda m: -acc["mlp"][m][r]["mean"])
        L.append(f"* **MLP at {pct(r)}**: " + ", ".join(
            f"{SHORT[m]} {pm(acc['mlp'][m][r])}" for m in ranked) + " (best first).")
    from .fixed_float import summary_bullets  # (fixed_float imports this module)

    L += summary_bullets(rep)
    pdm = rep["accuracy"]["paired_differences"]["mlp"]
    for a, b in [p for p in PAIRS if p not in FIXED_FLOAT][:1]:
        L.append(f"* **{SHORT[a]} − {SHORT[b]}** (MLP, paired over seeds): " + " / ".join(
            f"{pm(pdm[f'{a}-{b}'][r], signed=True)} pp" for r in ratios if pdm[f"{a}-{b}"][r])
            + f" at {' / '.join(pct(r) for r in ratios)}.")
    pv = f"fixed {cfg['exp_table_bits']}b {'interp' if cfg['interpolate'] else 'no-interp'} shift"
    cells = [sq_cell(rep, p, pv) for p in POLICIES]
    L.append(f"* **Sigma search, preset arithmetic** ({pv}, tolerance 2^-{cfg['exp_table_bits']}), "
             f"{' / '.join(POLICIES)}: miss the tolerance on "
             + " / ".join(f"{100 * c['miss_rate']:.1f}" for c in cells) + " % of points; true float64 "
             "entropy error p95 " + " / ".join(f"{c['true_err_p95']:.1e}" for c in cells) + " bits; "
             + " / ".join(f"{c['passes_mean']:.1f}" for c in cells) + " passes and "
             + " / ".join(f"{c['evals_mean']:.0f}" for c in cells) + " candidate evaluations per point.")
    fl = [sq_cell(rep, p, f"float64 tol={fmt_tol(FLOAT_TOL)}") for p in POLICIES]
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
    L.append(criterion_headline(rep))
    L.append(f"* **Run**: {rep['wall_time_s']['total']:.0f} s wall, {rep['cpu_time_s']:.0f} s CPU "
             f"({s['jobs']} worker process(es)).")
    L.append("")
    return L


def _crit_counts(rep: dict, variant: str, grid: str = "size") -> tuple:
    var = rep["criterion"]["variants"][variant]
    within = sum(v[grid]["within_noise"] for v in var.values())
    return within, len(var)


def criterion_headline(rep: dict) -> str:
    """The summary bullet of the entropy-criterion study."""
    cr = rep["criterion"]
    parts = []
    for v, name in (("full", "full classes"), ("small", f"classes of {cr['small_n']} points")):
        var = cr["variants"][v]
        w, n = _crit_counts(rep, v)
        sd = np.median([x["size"]["seed_sd"] for x in var.values()])
        sb = np.median([_best_sd(x["size"]) for x in var.values()])
        rg = np.median([x["size"]["range"] for x in var.values()])
        mg = np.median([x["size"]["margin"] for x in var.values()])
        parts.append(f"{name}: within the seed noise for {w} of {n} digits (medians over digits: seed "
                     f"std {sd:.3f} nats pooled, {sb:.3f} for the best candidate; range over candidates "
                     f"{rg:.3f}; best minus runner-up {mg:.3f})")
    t_fixed, t_size, runs = _crit_ties(rep, "small")
    return (f"* **Entropy criterion** ({len(cr['seeds'])} t-SNE seeds, class-size grid): the chosen "
            "perplexity is " + "; ".join(parts) + f". On the old fixed {cr['grid_g']}x{cr['grid_g']} "
            f"grid two or more candidates shared the highest entropy (candidate order decided) in "
            f"{t_fixed} of {runs} (small class, seed) runs, on the class-size grid in {t_size} (section 5).")


def _crit_ties(rep: dict, variant: str) -> tuple:
    """(runs with a tie at the maximum on the fixed grid, on the class-size grid, runs)."""
    var = rep["criterion"]["variants"][variant]
    runs = len(rep["criterion"]["seeds"]) * len(var)
    return (sum(x["fixed"]["ties"] for x in var.values()), sum(x["size"]["ties"] for x in var.values()), runs)


def _best_sd(z: dict) -> float:
    """Seed std of the entropy of the best candidate."""
    return z["sd"][z["candidates"].index(z["best"])]


def _crit_row(label, x: dict) -> list:
    z, f = x["size"], x["fixed"]
    g = lambda p: f"{p:g}"  # noqa: E731
    return [label, x["n"], f"{x['grid']}x{x['grid']}", f"{z['seed_sd']:.3f} / {_best_sd(z):.3f}",
            f"{z['range']:.3f}",
            f"{g(z['best'])} ({max(z['mean']):.3f})", f"{z['margin']:.3f} / {z['two_se']:.3f}",
            ", ".join(g(p) for p in z["tied"]), "/".join(g(p) for p in z["winners"]),
            f"{f['seed_sd']:.3f} / {f['range']:.3f} / " + "/".join(g(p) for p in f["winners"])
            + f" / {f['ties']}"]


def _crit_sentence(label, x: dict) -> str:
    z = x["size"]
    g = lambda p: f"{p:g}"  # noqa: E731
    won = "/".join(g(p) for p in z["winners"])
    if len(z["candidates"]) < 2:
        return f"* digit {label}: a single candidate after clamping ({g(z['best'])}), nothing to choose."
    if z["within_noise"]:
        return (f"* digit {label}: best {g(z['best'])} by {z['margin']:.3f} nats, below 2 SE = "
                f"{z['two_se']:.3f}: **within noise**; {', '.join(g(p) for p in z['tied'])} cannot be "
                f"told apart with these seeds (per-seed choices {won}).")
    return (f"* digit {label}: {g(z['best'])} beats the runner-up by {z['margin']:.3f} nats > 2 SE = "
            f"{z['two_se']:.3f}: **above noise** (per-seed choices {won}).")


def criterion_section(rep: dict) -> list:
    """Section 5 of the report: spread of the entropy criterion across seeds and candidates."""
    cr = rep["criterion"]
    m, gmax = cr["entropy_cell_points"], cr["grid_g"]
    L = ["## 5. The entropy criterion: seed noise against the perplexity choice", ""]
    L.append(f"AdapSNE keeps the candidate perplexity whose embedding has the highest occupancy entropy, "
             f"measured on the smallest G x G grid with G^2 x {m} >= N (at least 2x2, at most "
             f"{gmax}x{gmax}; `reference.entropy_grid_side`, this project's rule: about {m} points per "
             "cell). Here every candidate of every class is embedded with "
             f"{len(cr['seeds'])} t-SNE seeds (run seeds {cr['seeds']}, cfg.seed = seed + 1: the embeddings "
             "AdapSNE float computes for those seeds). Columns: *seed std*: std of the entropy across seeds "
             "(nats), pooled over the candidates / of the best candidate; *range*: max - min over candidates of the seed-mean entropy; *best*: "
             "the candidate with the highest mean (its mean); *margin / 2 SE*: best minus runner-up mean "
             "and twice the standard error of that difference - the choice is **within noise** when the "
             "margin is smaller; *tied*: candidates within 2 SE of the best; *per seed*: the candidate "
             f"each seed would choose; last column: the same embeddings on the old fixed {gmax}x{gmax} grid "
             "(seed std / range / per-seed choices / seeds at which two or more candidates tie for the "
             "highest entropy, so that the candidate order decides).")
    hdr = ["digit", "N", "grid", "seed std (pooled / best)", "range", "best (mean)", "margin / 2 SE", "tied with best",
           "per seed", f"{gmax}x{gmax}: seed std / range / per seed / ties"]
    for v, title in (("full", "Full training classes"),
                     ("small", f"Small classes ({cr['small_n']} points per class, seeded subsample)")):
        var = cr["variants"][v]
        w, n = _crit_counts(rep, v)
        L += ["", f"### {title}", ""]
        L.append(md_table(hdr, [_crit_row(k, x) for k, x in var.items()]))
        L.append("")
        L += [_crit_sentence(k, x) for k, x in var.items()]
        L.append("")
        t_fixed, t_size, runs = _crit_ties(rep, v)
        counts = {}
        for x in var.values():
            for p in x["size"]["candidates"]:
                counts[p] = counts.get(p, 0) + (p in x["size"]["tied"])
        L.append("Digits in which a candidate is within 2 SE of the best (tied or best): "
                 + ", ".join(f"{p:g}: {c}" for p, c in sorted(counts.items())) + ".")
        L.append("")
        L.append(f"Within noise for {w} of {n} digits. Two or more candidates tie for the highest "
                 f"entropy in {t_size} of {runs} (digit, seed) runs on the class-size grid and in "
                 f"{t_fixed} of {runs} on the fixed {gmax}x{gmax} grid, where the choice is within noise "
                 f"for {_crit_counts(rep, v, 'fixed')[0]} of {n} digits.")
    L.append("")
    return L
