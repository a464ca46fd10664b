"""t-SNE and whole-selection speed of the accelerator versus CPU software (issues #9, #10); part of
``python -m synth.speed`` (which sets one thread before NumPy loads and writes the report).

**t-SNE per digits class** (`tsne_table`).  Accelerator: the t-SNE phase of the core with P in
its memory, INIT_GO .. done = ``GO + tsne_schedule.init_cycles(N) + GO + run_cycles(N, K,
tsne_iters)``, and the whole MODE 1 run from the first register write (register writes, START,
N x D feature beats, then `run_schedule` with K-section at perplexity 30: features in, embedding
out).  Software, the peers of `golden_model.tsne_peers` (`peer_runs`, the same code) with the same settings (``tsne_iters``
iterations, ``tsne_exaggeration_iters`` exaggerated, the preset's learning rate and momenta, one
thread, median of ``runs``):

* ``reference``: the project's float64 exact t-SNE (`reference.tsne`) on the float64 P
  (bisection at perplexity 30) - given P, like the accelerator's t-SNE phase;
* ``opentsne_bh``: openTSNE Barnes-Hut (`TSNEEmbedding.optimize`) on the same P - given P;
* ``sklearn_exact``, ``sklearn_bh``: scikit-learn ``TSNE(method=...)`` fitted on the features
  (their own affinities included: compare with the accelerator's MODE 1 column).

Scaling with N: the same on every class subsampled to n points (fixed permutation, seed 0) and on
pairs of classes merged (classes 2c and 2c + 1, N up to 256 = the digits preset's n_max).

**Whole selection of digits** (`selection_table`: all ten classes, ratio `RATIO`).  Accelerator:
per class the register writes (`SELECT_WRITES`), START, N x D feature beats and the MODE 2 / 3
run of `select_schedule` (cycles from the fixed-point golden model's own searches and embeddings,
`golden_select`: NMS = bisection at PERP = min(30, (N-1)/2), AdapSNE = FWA over the candidate list),
classes one after the other.  The searches run in `select_schedule.search_dataflow`: NMS's bisection point-parallel
on a core generated with ``point_parallel`` (DATAFLOW = 1; its candidate-parallel cycles are
reported beside it), AdapSNE's FWA candidate-parallel.  Software (median of ``runs`` each, all classes):

* ``reference``: ``golden_model.select.select(X, y, ratio, method, cfg, arithmetic="float")``;
* ``sklearn_exact``, ``sklearn_bh``, ``opentsne_bh`` pipelines: per class and per candidate
  perplexity of the method (NMS: 30 clamped; AdapSNE: the clamped, de-duplicated candidate list
  that `select` evaluates) the library's own affinities + t-SNE on the features, the occupancy
  entropy (`reference.occupancy_entropy`), the largest wins, `reference.grid_sample`.
"""

from __future__ import annotations

import numpy as np

from golden_model import affinity_schedule as asch
from golden_model import reference as ref
from golden_model import run_schedule as rsch
from golden_model import timing
from golden_model import tsne_schedule as ts
from golden_model.tsne_peers import opentsne_embed, peer_runs, sklearn_tsne
from golden_model.walltime import median_time

RATIO = 0.1
#: MODE 2 / 3 register writes before START (N, D, PERP, POLICY, SEED, DATAFLOW, MODE, DEBUG, BUDGET;
#: `tb.select_tests`' host flow), one per cycle, then CMD
SELECT_WRITES = 9 + 1
MODE1_WRITES = 8 + 1       # the same without BUDGET
START_CYCLES = timing.START_REGISTER + timing.START_TARGET
PEERS = ("reference", "sklearn_exact", "sklearn_bh", "opentsne_bh")


def tsne_accel_cycles(cfg, Xc) -> dict:
    """Accelerator cycles of one class: ``tsne`` (INIT_GO .. done, no trace) and ``mode1`` (first
    register write .. the last embedding beat, K-section search)."""
    from golden_model.search_fixed import search_class
    X = np.asarray(Xc, dtype=np.int64)
    n, d = X.shape
    K = cfg.lanes
    tsne = rsch.GO_CYCLES + ts.init_cycles(n) + rsch.GO_CYCLES + ts.run_cycles(n, K, cfg.tsne_iters,
                                                                             slices=cfg.tsne_update_slices,
                                                                             symmetric=cfg.tsne_symmetric)
    perp = ref.effective_perplexity(cfg.perplexity, n)
    r = rsch.run_schedule(cfg, n, d, "ksection", search_class(X, perp, "ksection", cfg))
    return {"n": n, "tsne": tsne, "mode1": MODE1_WRITES + START_CYCLES + n * d + r.done_cycle,
            "iteration": ts.iteration_cycles(n, K, slices=cfg.tsne_update_slices, symmetric=cfg.tsne_symmetric)}


def tsne_sets(sets: list, cfg, fmax_mhz: float, runs: int, log=print) -> dict:
    """Accelerator and peers on each class of ``sets`` (``[(label, X)]``), and the sums."""
    rows = []
    for label, Xc in sets:
        a = tsne_accel_cycles(cfg, Xc)
        perp = ref.effective_perplexity(cfg.perplexity, len(Xc))
        sw = {k: median_time(fn, runs) for k, fn in peer_runs(Xc, cfg, perp).items()}
        row = {"set": label, "n": a["n"], "perplexity": perp, "accel_cycles": a,
               "accel_tsne_s": a["tsne"] / (fmax_mhz * 1e6), "accel_mode1_s": a["mode1"] / (fmax_mhz * 1e6),
               "software_s": {k: v["median_s"] for k, v in sw.items()}, "software_runs_s": sw}
        log(f"  t-SNE {label} (N={a['n']}): accel {row['accel_tsne_s'] * 1e3:.1f} ms, "
            + ", ".join(f"{k} {v * 1e3:.0f} ms" for k, v in row["software_s"].items()))
        rows.append(row)
    tot = {"n_points": sum(r["n"] for r in rows), "accel_tsne_s": sum(r["accel_tsne_s"] for r in rows),
           "accel_mode1_s": sum(r["accel_mode1_s"] for r in rows),
           "software_s": {k: sum(r["software_s"][k] for r in rows) for k in PEERS}}
    return {"rows": rows, "total": tot}


def subsample(classes: list, size: int, seed: int = 0) -> list:
    """Each class cut to ``size`` points (fixed permutation, sorted indices)."""
    rng = np.random.default_rng(seed)
    out = []
    for label, Xc in classes:
        if size < len(Xc):
            Xc = Xc[np.sort(rng.permutation(len(Xc))[:size])]
        out.append((label, Xc))
    return out


def merged_pairs(classes: list, n_max: int) -> list:
    """Classes 2c and 2c + 1 merged (cut to ``n_max``): sets near the core's largest class."""
    out = []
    for i in range(0, len(classes) - 1, 2):
        (a, Xa), (b, Xb) = classes[i], classes[i + 1]
        out.append((f"{a}+{b}", np.concatenate([Xa, Xb])[:n_max]))
    return out


def tsne_table(cfg, classes: list, fmax_mhz: float, runs: int, sizes=(32, 64), log=print) -> dict:
    """Per-class t-SNE table (``classes`` = ``[(label, X)]``) and the scaling-with-N table."""
    log("t-SNE per class")
    out = {"per_class": tsne_sets(classes, cfg, fmax_mhz, runs, log), "scaling": {}}
    for s in sizes:
        log(f"t-SNE scaling: {s} points per class")
        out["scaling"][str(s)] = tsne_sets(subsample(classes, s), cfg, fmax_mhz, runs, log)["total"]
    out["scaling"]["class"] = out["per_class"]["total"]
    log("t-SNE scaling: pairs of classes merged")
    pairs = tsne_sets(merged_pairs(classes, cfg.n_max), cfg, fmax_mhz, runs, log)
    out["scaling"]["pairs"] = pairs["total"]
    out["pairs"] = pairs["rows"]
    return out


# --------------------------------------------------------------------------- whole selection


def select_accel_cycles(cfg, classes: list, method: str, dataflow: str | None = None) -> dict:
    """Accelerator cycles of the whole selection (module doc), per class and in all; ``dataflow``
    of the searches (default `golden_model.select_schedule.search_dataflow`)."""
    from golden_model import select_schedule as ss
    from golden_model.entropy_fixed import perp_reg_cap
    from golden_model.fixed import perplexity_to_reg
    from golden_model.select import METHOD_POLICY, class_budget
    mode, policy = (2 if method == "nms" else 3), METHOD_POLICY[method]
    dataflow = ss.search_dataflow(cfg, policy) if dataflow is None else dataflow
    per = []
    for label, Xc in classes:
        X = np.asarray(Xc, dtype=np.int64)
        n, d = X.shape
        k = class_budget(n, RATIO)
        pq = min(perplexity_to_reg(cfg.perplexity, cfg), perp_reg_cap(n, cfg))
        g = ss.golden_select(X, cfg, mode, k, policy, pq)
        s = ss.select_schedule(cfg, n, d, policy, g, k, dataflow=dataflow)
        per.append({"class": label, "n": n, "k": k, "evaluations": len(g.candidates), "run": s.done_cycle,
                    "load": SELECT_WRITES + START_CYCLES + n * d, "phases": s.phases})
    return {"classes": per, "cycles": sum(c["run"] + c["load"] for c in per), "dataflow": dataflow}


def select_peer_pipeline(classes: list, cfg, method: str, peer: str):
    """A callable running the whole selection with a library's affinities + t-SNE (module doc)."""
    from openTSNE.affinity import PerplexityBasedNN
    from golden_model.select import class_budget

    def perps(n):
        if method == "nms":
            return [ref.effective_perplexity(cfg.perplexity, n)]
        out = []
        for p in cfg.perplexity_candidates:
            q = ref.effective_perplexity(p, n)
            if q not in out:
                out.append(q)
        return out

    def embed(Xf, p):
        if peer == "opentsne_bh":
            return opentsne_embed(PerplexityBasedNN(Xf, perplexity=p, method="exact", n_jobs=1, random_state=0),
                             len(Xf), cfg)
        return sklearn_tsne(cfg, p, "exact" if peer == "sklearn_exact" else "barnes_hut").fit_transform(Xf)

    def run():
        for _, Xc in classes:
            Xf = np.asarray(Xc, dtype=np.float64)
            n = len(Xf)
            G = ref.entropy_grid_side(n, cfg)
            best, best_h = None, None
            for p in perps(n):
                Y = embed(Xf, p)
                h = ref.occupancy_entropy(Y, G)
                if best_h is None or h > best_h:
                    best, best_h = Y, h
            ref.grid_sample(best, class_budget(n, RATIO))
    return run


def selection_table(cfg, X, y, fmax_mhz: float, runs: int, log=print) -> dict:
    """Whole NMS and AdapSNE selection of ``(X, y)``: accelerator vs the float64 `select` and the
    library pipelines, measured in this run."""
    from golden_model.select import select
    classes = [(int(c), X[y == c]) for c in np.unique(y)]
    out = {"ratio": RATIO, "n_points": int(len(X)), "methods": {}}
    for method in ("nms", "adapsne"):
        log(f"selection {method}: golden model + schedule")
        acc = select_accel_cycles(cfg, classes, method)
        acc["time_s"] = acc["cycles"] / (fmax_mhz * 1e6)
        alt = None
        if acc["dataflow"] != "candidate":      # the same method with the candidate-parallel search
            alt = select_accel_cycles(cfg, classes, method, "candidate")
            alt["time_s"] = alt["cycles"] / (fmax_mhz * 1e6)
        sw = {"reference": median_time(lambda: select(X, y, RATIO, method, cfg, arithmetic="float"), runs)}
        for peer in PEERS[1:]:
            log(f"selection {method}: {peer} pipeline ({runs} runs)")
            sw[peer] = median_time(select_peer_pipeline(classes, cfg, method, peer), runs)
        med = {k: v["median_s"] for k, v in sw.items()}
        best = min((k for k in PEERS[1:]), key=med.get)
        out["methods"][method] = {"accelerator": acc, "software_s": med, "software_runs_s": sw,
                                  "best_peer": best,
                                  "speedup_vs_reference": med["reference"] / acc["time_s"],
                                  "speedup_vs_best_peer": med[best] / acc["time_s"]}
        if alt is not None:
            alt["speedup_vs_reference"] = med["reference"] / alt["time_s"]
            out["methods"][method]["accelerator_candidate_parallel"] = alt
        log(f"selection {method}: accel {acc['time_s']:.3f} s, reference {med['reference']:.3f} s, "
            f"best peer {best} {med[best]:.3f} s")
    return out


# --------------------------------------------------------------------------- markdown


def _ms(s: float) -> str:
    return f"{s * 1e3:,.1f}"


def markdown(rep: dict) -> list:
    """The t-SNE and selection sections of speed.md (lines)."""
    L = []
    t = rep.get("tsne")
    if t:
        L += ["", "## t-SNE per digits class (issue #9)", "",
              f"Accelerator at {rep['fmax_mhz']:.1f} MHz: the t-SNE phase (P in memory; PRNG initialisation + "
              f"{rep['config']['tsne_iters']} iterations) and the whole MODE 1 run (registers, feature load, K-section "
              "search, P, t-SNE).  Peers on one thread, median of "
              f"{rep['tsne_runs_peer']} runs: the reference and openTSNE are given the float64 P (compare with the "
              "t-SNE column), scikit-learn fits the features (its affinities included: compare with MODE 1).", "",
              "| class | N | cycles / iteration | accel. t-SNE (ms) | accel. MODE 1 (ms) | float64 reference (ms) | "
              "openTSNE BH (ms) | sklearn exact (ms) | sklearn BH (ms) | vs reference | vs openTSNE | "
              "MODE 1 vs sklearn exact | MODE 1 vs sklearn BH |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for r in t["per_class"]["rows"] + [dict(set="all", n=t["per_class"]["total"]["n_points"], **{
                k: t["per_class"]["total"][k] for k in ("accel_tsne_s", "accel_mode1_s", "software_s")})]:
            sw, at, am = r["software_s"], r["accel_tsne_s"], r["accel_mode1_s"]
            it = f"{r['accel_cycles']['iteration']:,}" if "accel_cycles" in r else ""
            L.append(f"| {r['set']} | {r['n']} | {it} | {_ms(at)} | {_ms(am)} | {_ms(sw['reference'])} | "
                     f"{_ms(sw['opentsne_bh'])} | {_ms(sw['sklearn_exact'])} | {_ms(sw['sklearn_bh'])} | "
                     f"{sw['reference'] / at:.2f}x | {sw['opentsne_bh'] / at:.2f}x | {sw['sklearn_exact'] / am:.2f}x | "
                     f"{sw['sklearn_bh'] / am:.2f}x |")
        L += ["", "**Scaling with N** (all ten sets of each size summed; 'class' = the whole classes, 'pairs' = "
              "classes 2c and 2c+1 merged, N up to 256):", "",
              "| n per set | points | accel. t-SNE (ms) | reference (ms) | openTSNE BH (ms) | sklearn exact (ms) | "
              "sklearn BH (ms) | vs reference | vs openTSNE | MODE 1 vs sklearn BH |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for s, r in t["scaling"].items():
            sw, at = r["software_s"], r["accel_tsne_s"]
            L.append(f"| {s} | {r['n_points']} | {_ms(at)} | {_ms(sw['reference'])} | {_ms(sw['opentsne_bh'])} | "
                     f"{_ms(sw['sklearn_exact'])} | {_ms(sw['sklearn_bh'])} | {sw['reference'] / at:.2f}x | "
                     f"{sw['opentsne_bh'] / at:.2f}x | {sw['sklearn_bh'] / r['accel_mode1_s']:.2f}x |")
        L += ["", "The accelerator's t-SNE grows as N^2 / K (`tsne_schedule.iteration_cycles`: "
              + ("unordered pairs (j > i)" if rep["config"].get("tsne_symmetric") else "ordered pairs")
              + f" at one per {timing.pair_interval('tpair')} cycles per lane); the exact peers (float64 reference, sklearn exact) as N^2 with a per-iteration "
              "overhead that dominates at small N, the Barnes-Hut peers about as N log N."]
    s = rep.get("selection")
    if s:
        L += ["", "## Whole selection of digits (issue #10)", "",
              f"All ten classes ({s['n_points']} points), ratio {s['ratio']}; accelerator at {rep['fmax_mhz']:.1f} MHz "
              "(classes one after the other, register writes and feature load included); software on one "
              f"thread, median of {rep['selection_runs']} runs, measured in this run.", "",
              "| method | evaluations | accel. cycles | accel. (ms) | float64 `select` (ms) | sklearn exact pipeline "
              "(ms) | sklearn BH pipeline (ms) | openTSNE BH pipeline (ms) | speed-up vs float64 reference | "
              "vs best peer | target (>= 10x vs reference) |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
        for m, e in s["methods"].items():
            a, sw = e["accelerator"], e["software_s"]
            ev = sum(c["evaluations"] for c in a["classes"])
            df = " (search point-parallel)" if a.get("dataflow") == "point" else ""
            L.append(f"| {m}{df} | {ev} | {a['cycles']:,} | {_ms(a['time_s'])} | {_ms(sw['reference'])} | "
                     f"{_ms(sw['sklearn_exact'])} | {_ms(sw['sklearn_bh'])} | {_ms(sw['opentsne_bh'])} | "
                     f"{e['speedup_vs_reference']:.2f}x | {e['speedup_vs_best_peer']:.2f}x ({e['best_peer']}) | "
                     f"{'met' if e['speedup_vs_reference'] >= 10 else '**not met**'} |")
        for m, e in s["methods"].items():
            alt = e.get("accelerator_candidate_parallel")
            if alt:
                L += ["", f"{m} with the candidate-parallel search (DATAFLOW = 0): {alt['cycles']:,} cycles, "
                      f"{_ms(alt['time_s'])} ms, {alt['speedup_vs_reference']:.2f}x the float64 reference."]
        ph = {}
        for e in s["methods"].values():
            for c in e["accelerator"]["classes"]:
                for k, v in c["phases"].items():
                    ph[k] = ph.get(k, 0) + v
        tot = sum(ph.values())
        L += ["", "Where the accelerator's cycles go (both methods, all classes; `select_schedule` phases): "
              + ", ".join(f"{k} {100 * v / tot:.1f} %" for k, v in sorted(ph.items(), key=lambda kv: -kv[1]) if v) + "."]
        L += ["", "What the 10x target needs (Amdahl, t-SNE share f of the accelerator's cycles, speed-up x now): "
              "the t-SNE phase alone would have to become f / (x / 10 - (1 - f)) times faster:", ""]
        for m, e in s["methods"].items():
            c = e["accelerator"]["classes"]
            f = sum(x["phases"].get("tsne", 0) for x in c) / sum(sum(x["phases"].values()) for x in c)
            x = e["speedup_vs_reference"]
            need = f / (x / 10 - (1 - f)) if x / 10 > 1 - f else None
            if x >= 10:
                L.append(f"* {m}: f = {f:.3f}, x = {x:.2f}: met, no t-SNE speed-up needed.")
                continue
            L.append(f"* {m}: f = {f:.3f}, x = {x:.2f}: " + (f"t-SNE {need:.1f}x faster" if need else
                     "not reachable through the t-SNE phase alone (the other phases already exceed the budget)")
                     + ".")
        K = rep["config"].get("lanes")
        point = {m: e for m, e in s["methods"].items() if e["accelerator"].get("dataflow") == "point"}
        if K and point:
            L += ["", "With a candidate-parallel search each affinity row runs inside the search, after its "
                  "point's result (built, session 39: `affinity_schedule.fused_cycles`); after the "
                  "point-parallel search the affinity phase recomputes every row.  Its alternative (a model, not "
                  "built: `affinity_schedule.stored_rows_cycles`, the search's distance rows kept in an n_max^2 x "
                  "dist_bits memory), every evaluation's affinity phase replaced, against this run's reference:", ""]
            for m, e in point.items():
                a = e["accelerator"]
                saved = sum(c["evaluations"] * (asch.run_cycles(c["n"], class_d(c), K)
                                                - asch.stored_rows_cycles(c["n"], class_d(c), K))
                            for c in a["classes"])
                t = (a["cycles"] - saved) / (rep["fmax_mhz"] * 1e6)
                L.append(f"* {m}: stored rows {a['cycles'] - saved:,} cycles, {e['software_s']['reference'] / t:.2f}x.")
    return L


def class_d(c: dict) -> int:
    """Features of a class of the selection table, from its load cycles (`select_accel_cycles`)."""
    nd = c["load"] - SELECT_WRITES - START_CYCLES
    if nd % c["n"]:
        raise ValueError(f"class {c.get('class')}: load {c['load']} is not writes + START + N x D")
    return nd // c["n"]
