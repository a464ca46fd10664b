"""Markdown of the fixed-point vs float64 comparison: what runs in fixed point (from the traced
selections), the paired fixed - float accuracy differences with their noise screen and, for any
difference above it, what differs between the two pipelines; and the same-P / same-init KL study
of ``python -m golden_model.eval_tsne_fixed``.  Every sentence is computed from report.json."""

from __future__ import annotations

import math

from .markdown import md_table, pm
from .settings import CLASSIFIERS, FIXED_FLOAT, NOISE_SE, PIPELINES, SHORT, TSNE_METHODS, rkey


def pct(r) -> str:
    return f"{int(round(float(r) * 100))} %"


def chance_rate(n: int, k: float = NOISE_SE) -> float:
    """P(|mean| > k SE) for a paired difference of n seeds with no true effect (Student's t,
    n - 1 degrees of freedom): how often the noise screen flags pure noise."""
    if n < 2:
        return float("nan")
    from scipy.stats import t

    return float(2 * t.sf(k, n - 1))


def pipeline_lines(rep: dict) -> list:
    """'What is fixed-point': per t-SNE based method, the arithmetic of each phase as traced."""
    pl = rep["accuracy"].get("pipelines", {})
    if not pl:
        return ["  **What is fixed-point**: no t-SNE based selection was traced in this run."]
    phases = [p["phase"] for p in next(iter(pl.values()))["phases"]]
    rows = []
    for m in TSNE_METHODS:
        if m not in pl:
            continue
        cells = [f"{p['arithmetic']} ({', '.join(f'`{c}`' for c in p['code'])})" if p["code"] else p["arithmetic"]
                 for p in pl[m]["phases"]]
        rows.append([SHORT[m], f"`{pl[m]['select']['method']}`, `{pl[m]['select']['arithmetic']}`"] + cells)
    L = ["  **What is fixed-point** (generated: the first class of each t-SNE based method's first-seed "
         "selection runs under a profiler hook, `evaluation.trace`, that records every golden-model "
         "function it calls; a phase is *fixed* when its bit-accurate module ran, *float64* when the "
         "float reference's function did):", ""]
    L.append("  " + md_table(["method", "select(method, arithmetic)"] + phases, rows).replace("\n", "\n  "))
    fixed = [m for m in TSNE_METHODS if m in pl and PIPELINES[m][1] == "fixed"]
    if fixed:
        helpers = sorted({h for m in fixed for h in pl[m]["reference_helpers"]})
        allfixed = [m for m in fixed if all(p["arithmetic"] == "fixed" for p in pl[m]["phases"])]
        L.append("")
        L.append(f"  Every phase in fixed point: {', '.join(SHORT[m] for m in allfixed) or 'none'}"
                 f"{'' if len(allfixed) == len(fixed) else ' (not: ' + ', '.join(SHORT[m] for m in fixed if m not in allfixed) + ')'}. "
                 "Float-reference functions the fixed-point runs still call (integer helpers shared with "
                 "the float pipeline, and the KL the report quotes, a diagnostic the hardware does not "
                 "compute): " + ", ".join(f"`reference.{h}`" for h in helpers) + ". The fixed and float "
                 "t-SNE start from different initialisations (the core's PRNG vs NumPy's), so a fixed run "
                 "and the float run of the same seed differ like two float runs of different seeds.")
    return L


def flagged(rep: dict) -> list:
    """Paired fixed - float cells above the noise screen: (fixed, float, classifier, ratio key)."""
    pd = rep["accuracy"]["paired_differences"]
    return [(a, b, c, r) for a, b in FIXED_FLOAT for c in CLASSIFIERS
            for r, x in pd[c][f"{a}-{b}"].items() if x and x["above_noise"]]


def summary_bullets(rep: dict) -> list:
    """Headline bullets: fixed - float per method and classifier, and how many exceed the noise."""
    pd = rep["accuracy"]["paired_differences"]
    ratios = [rkey(r) for r in rep["settings"]["ratios"]]
    L = []
    for a, b in FIXED_FLOAT:
        cells = "; ".join(f"{CLASSIFIERS[c].split(' (')[0]} " + " / ".join(
            pm(pd[c][f"{a}-{b}"][r], signed=True) for r in ratios if pd[c][f"{a}-{b}"][r]) for c in CLASSIFIERS)
        n = next((pd[c][f"{a}-{b}"][r]["n"] for c in CLASSIFIERS for r in ratios if pd[c][f"{a}-{b}"][r]), 0)
        L.append(f"* **{SHORT[a]} − {SHORT[b]}** (pp, paired over {n} seeds, at "
                 f"{' / '.join(pct(r) for r in ratios)}): {cells}.")
    fl = flagged(rep)
    total = len(FIXED_FLOAT) * len(CLASSIFIERS) * len(ratios)
    n = next((x["n"] for c in CLASSIFIERS for a, b in FIXED_FLOAT for x in pd[c][f"{a}-{b}"].values() if x), 0)
    rate = chance_rate(n)
    L.append(f"* **Fixed − float above the seed noise** (|mean| > {NOISE_SE:g} SE): {len(fl)} of {total} "
             + (f"(by chance alone about {rate * total:.1f} of {total}: {100 * rate:.0f} % each with {n} seeds)"
                if n > 1 else "(one seed: no noise estimate)")
             + (": " + "; ".join(f"{SHORT[a]} {CLASSIFIERS[c].split(' (')[0]} {pct(r)}" for a, _, c, r in fl)
                + " (section 2, *Fixed point against float64*)" if fl else "") + ".")
    return L


def _explain(rep: dict, a: str, b: str, c: str, r: str) -> str:
    pd = rep["accuracy"]["paired_differences"][c][f"{a}-{b}"][r]
    acc = rep["accuracy"]["accuracy"][c]
    dg = rep["accuracy"]["fixed_vs_float"][f"{a}-{b}"]
    sm = dg["sampler"][r]
    sp = sampler_stats(rep, a, b, r)
    unpaired = math.sqrt(acc[a][r]["std"] ** 2 + acc[b][r]["std"] ** 2) * 100
    return (f"* **{SHORT[a]} − {SHORT[b]}, {CLASSIFIERS[c]}, {pct(r)}**: {pm(pd, signed=True)} pp, "
            f"{NOISE_SE:g} SE = {NOISE_SE * pd['se'] * 100:.1f} pp. What differs: chosen perplexity equal in "
            f"{dg['same_perplexity']} of {dg['class_runs']} (class, seed) runs (mean {dg['perplexity_fixed_mean']:.1f} "
            f"fixed vs {dg['perplexity_float_mean']:.1f} float; two float seeds agree in "
            f"{100 * dg['float_seed_same_perplexity']:.0f} %); KL fixed / float {dg['kl_ratio_of_means']:.3f} "
            f"(means {dg['kl_fixed_mean']:.3f} / {dg['kl_float_mean']:.3f}; at equal perplexity "
            f"{dg['kl_same_perplexity_ratio']:.3f}); occupancy entropy "
            f"{dg['entropy_fixed_mean']:.3f} / {dg['entropy_float_mean']:.3f} nats; entropy grid equal in "
            f"{dg['same_entropy_grid']} of {dg['class_runs']}; sampler grid side at this budget "
            f"{sm['fixed_mean']:.2f} / {sm['float_mean']:.2f}, equal in {sm['same']} of {dg['class_runs']} "
            f"(two float seeds: {100 * sp['float_seed_same']:.0f} %; fixed at the core's limit "
            f"{sp['grid_g']}: {sp['fixed_at_limit']}, float beyond it: {sp['float_beyond_limit']}); "
            f"subset overlap {dg['jaccard'][r]:.2f} (two float seeds: {dg['float_seed_jaccard'][r]:.2f}). "
            f"The unpaired seed noise of the two means is {unpaired:.1f} pp "
            f"(sqrt(std_fixed^2 + std_float^2)); " + _verdict(dg, r, sp) + ".")


def sampler_stats(rep: dict, a: str, b: str, r: str) -> dict:
    """Grid-sampler sides at budget `r` from the per-seed selection summaries: runs where the
    fixed sampler sits at the core's ``grid_g`` limit, runs where the float sampler went beyond
    it (the only systematic sampler difference), and how often two consecutive float seeds use
    the same side (the reference for the fixed / float agreement)."""
    ss = rep["accuracy"]["selection_summary"]
    gmax = rep["cfg"]["grid_g"]
    seeds = sorted((k for k in ss[a] if k in ss[b]), key=int)
    fx = [v for sd in seeds for v in ss[a][sd]["sampler_side"][r].values()]
    fl = [v for sd in seeds for v in ss[b][sd]["sampler_side"][r].values()]
    same_fl = [ss[b][s0]["sampler_side"][r][c] == ss[b][s1]["sampler_side"][r][c]
               for s0, s1 in zip(seeds[:-1], seeds[1:]) for c in ss[b][s0]["sampler_side"][r]]
    return {"fixed_at_limit": sum(v == gmax for v in fx), "float_beyond_limit": sum(v > gmax for v in fl),
            "float_seed_same": sum(same_fl) / len(same_fl) if same_fl else float("nan"), "grid_g": gmax}


def _verdict(dg: dict, r: str, sp: dict) -> str:
    """The explanation sentence, from the diagnostics.  A systematic pipeline difference would show
    as a KL shift at equal perplexity (> 5 %, the issue's KL tolerance), a perplexity choice or a
    sampler grid side that agrees less with the float one than two float seeds agree with each
    other, or a float sampler grid beyond the core's limit; otherwise the subsets differ as two
    float seeds' subsets do."""
    sm = dg["sampler"][r]
    runs = dg["class_runs"]
    causes = []
    if abs(dg["kl_same_perplexity_ratio"] - 1) > 0.05:
        causes.append(f"the KL at equal perplexity differs by {100 * (dg['kl_same_perplexity_ratio'] - 1):+.0f} %")
    if dg["same_perplexity"] / runs < dg["float_seed_same_perplexity"] - 0.1:
        causes.append(f"the perplexity choice agrees with float in {100 * dg['same_perplexity'] / runs:.0f} % of "
                      f"runs, two float seeds in {100 * dg['float_seed_same_perplexity']:.0f} %")
    if sp["float_beyond_limit"]:
        causes.append(f"the float sampler used a grid finer than the core's {sp['grid_g']}x{sp['grid_g']} "
                      f"in {sp['float_beyond_limit']} runs")
    if sm["same"] / runs < sp["float_seed_same"] - 0.1:
        causes.append(f"the sampler grid side agrees with float in {100 * sm['same'] / runs:.0f} % of runs, "
                      f"two float seeds in {100 * sp['float_seed_same']:.0f} %")
    like_float = dg["jaccard"][r] <= dg["float_seed_jaccard"][r] + 0.05
    tail = ("the fixed and float subsets overlap no more than two float seeds' subsets do (they differ "
            "by the t-SNE initialisation)" if like_float else
            "the fixed and float subsets overlap more than two float seeds' subsets")
    if not causes:
        return (f"{tail}, and nothing systematic differs (KL at equal perplexity within 5 %, perplexity and "
                "sampler-grid agreement as between two float seeds, no float grid beyond the core's limit): "
                "seed-to-seed variation of the embedding")
    return f"{tail}; possible systematic causes: " + "; ".join(causes)


def section(rep: dict) -> list:
    """Section 2 addendum: paired fixed - float table with the noise screen, diagnostics, flags."""
    s = rep["settings"]
    ratios = [rkey(r) for r in s["ratios"]]
    pd = rep["accuracy"]["paired_differences"]
    ff = rep["accuracy"]["fixed_vs_float"]
    L = ["### Fixed point against float64", ""]
    n = next((x["n"] for c in CLASSIFIERS for a, b in FIXED_FLOAT for x in pd[c][f"{a}-{b}"].values() if x), 0)
    L.append(f"Paired per-seed differences fixed − float (pp; same run seed, so the same cfg.seed and MLP "
             f"seed, but different t-SNE initialisations). A cell is **above noise** (marked †) when |mean| > "
             f"{NOISE_SE:g} SE, SE = std / sqrt(n); with n = {n} seeds this screen flags "
             f"{100 * chance_rate(n):.0f} % of differences that are pure noise (Student's t with {max(n - 1, 0)} "
             "degree(s) of freedom), so over the table a few flags are expected by chance.")
    L.append("")
    rows = []
    for a, b in FIXED_FLOAT:
        for c in CLASSIFIERS:
            cells = [pd[c][f"{a}-{b}"][r] for r in ratios]
            rows.append([f"{SHORT[a]} − {SHORT[b]}", CLASSIFIERS[c]]
                        + [(pm(x, signed=True) + (f" (2 SE {NOISE_SE * x['se'] * 100:.1f})" if x["n"] > 1 else "")
                            + (" †" if x["above_noise"] else "")) if x else "-" for x in cells]
                        + [cells[0]["n"] if cells[0] else 0])
    L.append(md_table(["difference", "classifier"] + [pct(r) for r in ratios] + ["n seeds"], rows))
    L.append("")
    L.append("What differs between the two pipelines (over the seeds both ran, every class): chosen "
             "perplexity (in brackets: how often the float method chooses the same one at two consecutive "
             "seeds), KL(P || Q) of the final embedding (against each pipeline's own P; KL depends on the "
             "perplexity, hence also the ratio over the runs where both chose the same one), occupancy "
             "entropy of the chosen embedding, entropy-grid side, grid-sampler side (mean over classes; "
             "the fixed sampler is limited to the core's `grid_g`) and the Jaccard overlap of the selected "
             "subsets, next to the overlap of the float method's subsets at two consecutive seeds.")
    L.append("")
    rows = []
    for a, b in FIXED_FLOAT:
        dg = ff[f"{a}-{b}"]
        if not dg["seeds"]:
            continue
        rows.append([f"{SHORT[a]} / {SHORT[b]}", f"{dg['same_perplexity']} / {dg['class_runs']} "
                     f"({100 * dg['float_seed_same_perplexity']:.0f} %)",
                     f"{dg['kl_fixed_mean']:.3f} / {dg['kl_float_mean']:.3f} ({dg['kl_ratio_of_means']:.3f}; "
                     f"{dg['kl_same_perplexity_ratio']:.3f})",
                     f"{dg['entropy_fixed_mean']:.3f} / {dg['entropy_float_mean']:.3f}",
                     f"{dg['same_entropy_grid']} / {dg['class_runs']}"]
                    + [f"{dg['sampler'][r]['fixed_mean']:.2f} / {dg['sampler'][r]['float_mean']:.2f}" for r in ratios]
                    + [" / ".join(f"{dg['jaccard'][r]:.2f} ({dg['float_seed_jaccard'][r]:.2f})" for r in ratios)])
    L.append(md_table(["fixed / float", "same perplexity (two float seeds)",
                       "KL fixed / float (ratio; ratio at equal perplexity)", "entropy (nats)",
                       "same entropy grid"] + [f"sampler side {pct(r)}" for r in ratios]
                      + [f"Jaccard fixed/float (two float seeds) at {' / '.join(pct(r) for r in ratios)}"], rows))
    L.append("")
    fl = flagged(rep)
    if fl:
        L.append("Differences above the noise screen, and what the diagnostics say about them:")
        L.append("")
        L += [_explain(rep, a, b, c, r) for a, b, c, r in fl]
    else:
        L.append("No fixed − float difference exceeds the noise screen.")
    L.append("")
    return L


def kl_section(rep: dict) -> list:
    """Fixed vs float t-SNE on the same P and initial embedding, quoted from tsne_fixed.json."""
    k = rep.get("kl_study")
    L = ["### KL of the fixed-point t-SNE against float64 (same P, same initialisation)", ""]
    if not k:
        L.append("Not available: no `tsne_fixed.json` next to this report. Run "
                 "`python -m golden_model.eval_tsne_fixed --out <dir>` first (or pass `--kl-study`).")
        L.append("")
        return L
    cfg_note = ("the same configuration as this run" if not k["config_differs_in"] else
                "**a configuration that differs from this run's** in " + ", ".join(k["config_differs_in"]))
    L.append(f"Quoted from `{k['path']}` (`python -m golden_model.eval_tsne_fixed`{' --quick' if k['quick'] else ''}; "
             f"{cfg_note}; {k['elapsed_s']:.0f} s): per class, the {k['policy']} fixed-point sigma search at "
             f"perplexity {k['perplexity']:g}, then from the same betas the fixed-point P + t-SNE and the float64 "
             f"P + t-SNE from the same initial embedding, {len(k['seeds'])} init seeds; KL in nats against the "
             "float P. *Control*: the float t-SNE on the float P perturbed by 1e-9 (relative), i.e. how far "
             "two float runs that differ only by rounding drift apart.")
    L.append("")
    rows = [[c, v["n"], f"{v['kl_float_mean']:.4f}", f"{v['kl_fixed_mean']:.4f}",
             f"{v['ratio_of_means']:.3f} ± {v['ratio_sem']:.3f}", f"{v['ratio_min']:.3f}..{v['ratio_max']:.3f}",
             f"{v['control_ratio_of_means']:.3f}"] for c, v in k["classes"].items()]
    L.append(md_table(["class", "n", "mean KL float", "mean KL fixed", "ratio of means ± s.e.",
                       "per-seed ratio", "control ratio"], rows))
    sm = k["summary"]
    L.append("")
    L.append(f"Classes whose mean KL (fixed) is within 5 % of the float one: **{sm['classes_mean_within']} of "
             f"{sm['classes']}** (control: {sm['control_classes_within']} of {sm['classes']}); over all classes "
             f"and seeds the fixed / float KL ratio is **{sm['overall_ratio']:.3f}**. A single paired run deviates "
             f"by {100 * sm['fixed_pair_dev']:.1f} % on average (float with a 1e-9-perturbed P: "
             f"{100 * sm['float_perturbed_pair_dev']:.1f} %): the exact t-SNE amplifies any perturbation, so only "
             f"the mean over seeds compares the arithmetic. p_j|i within its error bound everywhere: {sm['p_within_bound']}.")
    ds = k.get("downstream")
    if ds:
        L.append("")
        L.append(f"Its downstream check (NMS-style selection at {pct(ds['ratio'])}, MLP, {len(ds['seeds'])} seeds, "
                 f"same init for fixed and float): fixed {pm(ds['fixed'])} %, float {pm(ds['float'])} %.")
    L.append("")
    return L
