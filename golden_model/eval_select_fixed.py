"""How often the fixed-point pipeline selects what the float64 pipeline selects, on digits.

    python -m golden_model.eval_select_fixed [--seeds 3] [--ratio 0.1] [--preset digits]
                                             [--method adapsne] [--out FILE.json]

Per seed (``cfg.seed = seed``) and class of scikit-learn's digits (every class whole, <= 183
points), ``select(..., arithmetic="float")`` and ``select(..., arithmetic="fixed")`` are run and
compared: the chosen perplexity, the selected indices (identical / Jaccard overlap), the
occupancy entropy (bits) of the chosen embedding and, candidate by candidate (mode "fixed"
evaluates the same candidates in both), the entropy difference.  The two t-SNE runs start from
different initialisations (NumPy normal vs the core's PRNG) and the trajectory is chaotic
(docs/fixed_point.md, "Accuracy against float64"), so equal selections are not expected; the
numbers say how far apart the two pipelines' choices are.  Prints a summary; ``--out`` writes
every per-class record as JSON.
"""

from __future__ import annotations

import argparse
import json
import math
import time

import numpy as np

from . import reference as ref
from .config import get_preset
from .select import select


def compare(X, y, cfg, method: str, ratio: float) -> list:
    """One record per class: float vs fixed selection of one seed."""
    _, df = select(X, y, ratio, method=method, cfg=cfg, arithmetic="float", return_details=True)
    _, dx = select(X, y, ratio, method=method, cfg=cfg, arithmetic="fixed", return_details=True)
    out = []
    for lab in sorted(df):
        a, b = df[lab], dx[lab]
        sa, sb = set(a["indices"].tolist()), set(b["indices"].tolist())
        ha = [h / math.log(2) for _, h in a["perplexity_history"]]
        hb = [h / math.log(2) for _, h in b["perplexity_history"]]
        out.append({
            "label": int(lab), "n": a["n"], "k": a["k"],
            "perplexity_float": a["perplexity"], "perplexity_fixed": b["perplexity"],
            "same_perplexity": a["perplexity"] == b["perplexity"],
            "same_selection": sa == sb, "jaccard": _jaccard(sa, sb),
            "entropy_bits_float": a["occupancy_entropy"] / math.log(2),
            "entropy_bits_fixed": b["occupancy_entropy"] / math.log(2),
            "candidate_entropy_diff_bits": [hx - hf for hf, hx in zip(ha, hb)],
            "kl_float": a["kl"], "kl_fixed": b["kl"],
            "indices_float": sorted(sa), "indices_fixed": sorted(sb),
            "candidate_entropies_float_bits": ha,
            # the fixed entropy and sampler against the float ones on the same (fixed) embedding
            "same_embedding_entropy_diff_bits": b["occupancy_entropy_q"] / float(1 << cfg.h_frac)
            - ref.occupancy_entropy(b["Y"], b["entropy_grid"]) / math.log(2),
            "same_embedding_same_selection": set(np.flatnonzero(np.asarray(y) == lab)[
                ref.grid_sample(b["Y"], b["k"])].tolist()) == sb,
        })
    return out


def _jaccard(a, b) -> float:
    a, b = set(a), set(b)
    return len(a & b) / len(a | b)


def summarise(records: list) -> str:
    r = records
    d_ch = np.array([x["entropy_bits_fixed"] - x["entropy_bits_float"] for x in r])
    d_c = np.concatenate([x["candidate_entropy_diff_bits"] for x in r])
    ent = np.array([x["entropy_bits_float"] for x in r])
    lines = [
        f"classes x seeds: {len(r)}",
        f"same perplexity: {sum(x['same_perplexity'] for x in r)} / {len(r)}",
        f"identical selection: {sum(x['same_selection'] for x in r)} / {len(r)}; "
        f"Jaccard mean {np.mean([x['jaccard'] for x in r]):.3f}",
        f"chosen entropy (bits): float mean {ent.mean():.4f}; fixed - float mean {d_ch.mean():+.4f}, "
        f"mean |.| {np.abs(d_ch).mean():.4f}, max |.| {np.abs(d_ch).max():.4f}",
        f"per candidate entropy fixed - float (bits): mean {d_c.mean():+.4f}, mean |.| "
        f"{np.abs(d_c).mean():.4f}, max |.| {np.abs(d_c).max():.4f}",
        f"KL fixed / float: mean {np.mean([x['kl_fixed'] / x['kl_float'] for x in r]):.3f}",
    ]
    # seed-noise control: float against float of the next seed, same class
    by = {(x["seed"], x["label"]): x for x in r}
    ctl = [_jaccard(x["indices_float"], by[(x["seed"] + 1, x["label"])]["indices_float"])
           for x in r if (x["seed"] + 1, x["label"]) in by]
    ctp = [x["perplexity_float"] == by[(x["seed"] + 1, x["label"])]["perplexity_float"]
           for x in r if (x["seed"] + 1, x["label"]) in by]
    if "same_embedding_entropy_diff_bits" in r[0]:
        se = np.array([x["same_embedding_entropy_diff_bits"] for x in r])
        spread = [max(x["candidate_entropies_float_bits"]) - min(x["candidate_entropies_float_bits"])
                  for x in r if len(x["candidate_entropies_float_bits"]) > 1]
        lines.append(f"same (fixed) embedding: entropy fixed - float max |.| {np.abs(se).max():.2e} bits; "
                     f"identical grid selection {sum(x['same_embedding_same_selection'] for x in r)} / {len(r)}")
        if spread:
            lines.append(f"float candidates' entropy spread per class (max - min, bits): median "
                         f"{np.median(spread):.3f}, min {np.min(spread):.3f}, max {np.max(spread):.3f}")
    if ctl:
        lines.append(f"control, float seed s vs float seed s+1: Jaccard mean {np.mean(ctl):.3f}, "
                     f"same perplexity {sum(ctp)} / {len(ctp)}")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m golden_model.eval_select_fixed", description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--ratio", type=float, default=0.1)
    ap.add_argument("--preset", default="digits")
    ap.add_argument("--method", default="adapsne", choices=("adapsne", "nms"))
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    records = []
    for seed in range(1, args.seeds + 1):
        t0 = time.perf_counter()
        cfg = get_preset(args.preset).with_overrides(seed=seed)
        recs = compare(X.astype(np.int64), y, cfg, args.method, args.ratio)
        for x in recs:
            x["seed"] = seed
        records += recs
        print(f"seed {seed}: {time.perf_counter() - t0:.0f} s", flush=True)
    print(summarise(records))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(records, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
