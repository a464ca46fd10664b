"""Accelerator speed versus software on scikit-learn's digits: ``python -m synth.speed``.

Work measured: for every class of the digits *training* set (stratified 70/30 split,
``train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)``), the squared distances of
the class and the sigma search of every point at the target perplexity (``cfg.perplexity``,
capped for small classes by ``golden_model.reference.effective_perplexity``).

Accelerator: cycles from ``golden_model.schedule`` (the analytic cycle schedule of the RTL; the
cocotb / Amaranth simulations check the RTL emits its result beats on exactly these cycles), fed
with the per-point pass counts of the bit-accurate golden model
(``golden_model.search_fixed.search_class``), plus the register writes (6), the START / target
computation (7 cycles, hw/top.py) and one cycle per streamed feature (N*D).  Classes run one after
the other.  Time = cycles / fmax, with fmax from the place-and-route report of the ``digits``
preset (``reports/synth/digits.json``, slowest routed ECP5 target) unless ``--fmax`` is given.

Software (one thread: ``OPENBLAS_NUM_THREADS=1`` etc. are set before NumPy loads; median of
``--runs`` runs, wall clock ``time.perf_counter``):

* ``reference``: the project's float64 NumPy reference, ``sq_distances`` + ``search_all_rows``
  (batched) with the same policy, at the hardware's tolerance (``hardware_tolerance(cfg)``) and at
  the reference's default 1e-5 bits;
* ``sklearn_affinity``: ``pairwise_distances(squared=True)`` + ``sklearn.manifold._t_sne.
  _joint_probabilities`` (Cython ``_binary_search_perplexity``, float32, tolerance 1e-5 bits,
  bisection; includes symmetrisation), i.e. what sklearn's exact t-SNE does before its gradient
  descent;
* ``sklearn_tsne_exact``: ``TSNE(method="exact", init="random", random_state=0)`` fitted per
  class (gradient descent included: a much larger workload, shown for scale).

Scaling with N: the same measurement on classes subsampled to ``--sizes`` points per class.

t-SNE per class and the whole NMS / AdapSNE selection against their CPU peers (issues #9, #10):
`synth.speed_select` (method in its docstring; skipped with ``--no-tsne`` / ``--no-selection``).
The accelerator's clock for every table is the fmax of the committed place-and-route report of the
search-only ``digits`` core (the report names its RTL hash); the t-SNE and selection cycles are
those of the same preset generated with ``phases`` (not place-and-routed).
Writes ``OUT/speed.json`` and ``OUT/speed.md``.
"""

from __future__ import annotations

import os

for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from golden_model.walltime import median_time  # noqa: E402
from golden_model import timing  # noqa: E402
from golden_model.config import POLICIES, AccelConfig, get_preset  # noqa: E402

CFG_WRITES = 6        # N, D, PERP, POLICY, SEED, CMD: one register write per cycle
START_CYCLES = timing.START_REGISTER + timing.START_TARGET   # START write -> target entropy computed


def digits_train():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    X, y = load_digits(return_X_y=True)
    Xtr, _, ytr, _ = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
    return Xtr.astype(np.int64), ytr


def class_sets(X, y, size: int | None = None, seed: int = 0) -> list:
    """Per-class feature matrices; subsampled to `size` points (fixed permutation) when given."""
    rng = np.random.default_rng(seed)
    out = []
    for c in np.unique(y):
        Xc = X[y == c]
        if size is not None and size < len(Xc):
            Xc = Xc[np.sort(rng.permutation(len(Xc))[:size])]
        out.append(Xc)
    return out


def perplexity_for(cfg: AccelConfig, n: int) -> float:
    from golden_model.reference import effective_perplexity
    return float(effective_perplexity(cfg.perplexity, n))


# --------------------------------------------------------------------------- accelerator


def accel_cycles(cfg: AccelConfig, classes: list, policy: str) -> dict:
    from golden_model.schedule import schedule
    from golden_model.search_fixed import search_class
    total = search = load = 0
    passes = evals = points = 0
    for Xc in classes:
        n, d = Xc.shape
        res = search_class(Xc, perplexity_for(cfg, n), policy, cfg)
        s = schedule(cfg, n, d, policy, res)
        c_load = CFG_WRITES + START_CYCLES + n * d
        total += c_load + s.done_cycle
        search += s.done_cycle
        load += c_load
        passes += sum(r.passes for r in res)
        evals += s.kernel_evaluations
        points += n
    return {"cycles": total, "cycles_after_load": search, "cycles_load": load,
            "passes": passes, "mean_passes": passes / max(1, points), "kernel_evaluations": evals,
            "points": points}


# --------------------------------------------------------------------------- software


def sw_reference(cfg, classes, policy, tol):
    from golden_model.reference import search_all_rows, sq_distances

    def run():
        for Xc in classes:
            D = sq_distances(Xc)
            search_all_rows(D, perplexity_for(cfg, len(Xc)), policy, cfg, tol=tol)
    return run


def sw_sklearn_affinity(cfg, classes):
    from sklearn.manifold._t_sne import _joint_probabilities
    from sklearn.metrics import pairwise_distances

    def run():
        for Xc in classes:
            D = pairwise_distances(Xc.astype(np.float64), metric="euclidean", squared=True)
            _joint_probabilities(D, perplexity_for(cfg, len(Xc)), 0)
    return run


def sw_sklearn_tsne(cfg, classes):
    from sklearn.manifold import TSNE

    def run():
        for Xc in classes:
            TSNE(n_components=2, perplexity=perplexity_for(cfg, len(Xc)), method="exact", init="random",
                 random_state=0).fit_transform(Xc.astype(np.float64))
    return run


# --------------------------------------------------------------------------- driver


def fmax_from_report(path: Path) -> tuple:
    rep = json.loads(Path(path).read_text())
    from .report import fmax_of
    best = [(fmax_of(p), k) for k, p in rep.get("pnr", {}).items() if p.get("fits") and k.startswith("ecp5")]
    if not best:
        raise SystemExit(f"{path}: no routed ECP5 target with an fmax; pass --fmax MHz")
    f, k = min(best)
    sha = rep["design"].get("verilog_sha256") or ""
    return f, f"{path} ({k}, {rep['design']['generator']}, RTL {sha[:12]})"


def measure(cfg, classes, policies, runs, tsne_runs, fmax_mhz, log=print) -> dict:
    out = {"n_points": int(sum(len(c) for c in classes)), "class_sizes": [len(c) for c in classes],
           "policies": {}, "software": {}}
    from golden_model.reference import DEFAULT_TOL, hardware_tolerance
    log(f"  sklearn affinity ({runs} runs)")
    out["software"]["sklearn_affinity"] = median_time(sw_sklearn_affinity(cfg, classes), runs)
    if tsne_runs:
        log(f"  sklearn exact t-SNE ({tsne_runs} runs)")
        out["software"]["sklearn_tsne_exact"] = median_time(sw_sklearn_tsne(cfg, classes), tsne_runs)
    for pol in policies:
        log(f"  {pol}: golden model + schedule")
        t0 = time.perf_counter()
        acc = accel_cycles(cfg, classes, pol)
        acc["golden_model_s"] = round(time.perf_counter() - t0, 2)
        acc["time_s"] = acc["cycles"] / (fmax_mhz * 1e6)
        acc["time_after_load_s"] = acc["cycles_after_load"] / (fmax_mhz * 1e6)
        log(f"  {pol}: reference ({runs} runs)")
        ref_hw = median_time(sw_reference(cfg, classes, pol, hardware_tolerance(cfg)), runs)
        ref_def = median_time(sw_reference(cfg, classes, pol, DEFAULT_TOL), runs)
        sk = out["software"]["sklearn_affinity"]["median_s"]
        entry = {"accelerator": acc,
                 "reference_hw_tol": ref_hw, "reference_default_tol": ref_def,
                 "speedup_vs_reference_hw_tol": ref_hw["median_s"] / acc["time_s"],
                 "speedup_vs_reference_default_tol": ref_def["median_s"] / acc["time_s"],
                 "speedup_vs_sklearn_affinity": sk / acc["time_s"]}
        if "sklearn_tsne_exact" in out["software"]:
            entry["speedup_vs_sklearn_tsne_exact"] = out["software"]["sklearn_tsne_exact"]["median_s"] / acc["time_s"]
        out["policies"][pol] = entry
    return out


def search_markdown(rep: dict) -> list:
    L = ["", "## Distances + sigma search: full training set", "",
         "| policy | accel. cycles | accel. time (ms) | mean passes | reference hw-tol (ms) | reference 1e-5 (ms) | "
         "sklearn affinity (ms) | speed-up vs reference (hw tol) | vs sklearn affinity | vs sklearn exact t-SNE |",
         "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    full = rep["full"]
    sk = full["software"]["sklearn_affinity"]["median_s"]
    for pol, e in full["policies"].items():
        a = e["accelerator"]
        L.append(f"| {pol} | {a['cycles']:,} | {a['time_s'] * 1e3:.3f} | {a['mean_passes']:.1f} | "
                 f"{e['reference_hw_tol']['median_s'] * 1e3:.1f} | {e['reference_default_tol']['median_s'] * 1e3:.1f} | "
                 f"{sk * 1e3:.1f} | {e['speedup_vs_reference_hw_tol']:.1f}x | {e['speedup_vs_sklearn_affinity']:.1f}x | "
                 + (f"{e['speedup_vs_sklearn_tsne_exact']:.0f}x |" if "speedup_vs_sklearn_tsne_exact" in e else "- |"))
    if "sklearn_tsne_exact" in full["software"]:
        L += ["", f"sklearn exact t-SNE (all classes, gradient descent included): "
              f"{full['software']['sklearn_tsne_exact']['median_s']:.2f} s."]
    L += ["", "## Scaling with N (classes subsampled to n points each)", "",
          "| n per class | policy | accel. cycles | accel. time (ms) | reference hw-tol (ms) | sklearn affinity (ms) | "
          "speed-up vs reference | vs sklearn affinity |", "|---:|---|---:|---:|---:|---:|---:|---:|"]
    for n, s in rep["scaling"].items():
        sk = s["software"]["sklearn_affinity"]["median_s"]
        for pol, e in s["policies"].items():
            a = e["accelerator"]
            L.append(f"| {n} | {pol} | {a['cycles']:,} | {a['time_s'] * 1e3:.3f} | "
                     f"{e['reference_hw_tol']['median_s'] * 1e3:.2f} | {sk * 1e3:.2f} | "
                     f"{e['speedup_vs_reference_hw_tol']:.1f}x | {e['speedup_vs_sklearn_affinity']:.1f}x |")
    return L


def to_markdown(rep: dict) -> str:
    n_pts = rep["full"]["n_points"] if "full" in rep else rep.get("selection", {}).get("n_points", "?")
    L = ["# Accelerator vs software: digits distances + sigma search, t-SNE, whole selection", "",
         f"Data: sklearn digits training split ({n_pts} points, 10 classes, "
         f"stratified 70/30, random_state=0); preset `{rep['preset']}` (K={rep['config']['lanes']} lanes), "
         f"perplexity {rep['config']['perplexity']}.", "",
         f"Accelerator clock: **{rep['fmax_mhz']:.1f} MHz** ({rep['fmax_source']}; the search-only core: the core "
         f"generated with `phases`, RTL `{rep['rtl_sha256'].get(rep['preset'] + '+phases', '?')[:12]}`, has not been "
         "placed and routed, its fmax may be lower).", "",
         f"Software: {rep['host']['cpu']}, Python {rep['host']['python']}, NumPy {rep['host']['numpy']}, "
         f"scikit-learn {rep['host']['sklearn']}, one thread, median of {rep['runs']} runs "
         f"(t-SNE: {rep['tsne_runs']}); load average at start / end "
         f"{rep['host']['loadavg_at_start'][0]:.1f} / {rep['host']['loadavg_at_end'][0]:.1f} on "
         f"{rep['host']['cores']} cores (other jobs inflate software times)."]
    load = max(rep["host"]["loadavg_at_start"][0], rep["host"]["loadavg_at_end"][0])
    if load > rep["host"]["cores"]:
        L += ["", f"**Measured on a loaded machine** (load average up to {load:.1f} on {rep['host']['cores']} cores): "
              "a one-thread software run got less than a whole core, so the software times are inflated and every "
              f"speed-up below is overstated, by up to about {load / rep['host']['cores']:.1f}x; the accelerator times are cycle counts / fmax and "
              "do not depend on the load."]
    if "full" in rep:
        L += search_markdown(rep)
    from .speed_select import markdown as sel_markdown
    L += sel_markdown(rep)
    L += ["", "## Method", "", __doc__.split("\n\n", 1)[1].strip(), "",
          "### t-SNE and selection", "", speed_select_doc().strip(), ""]
    return "\n".join(L)


def speed_select_doc() -> str:
    from . import speed_select
    return speed_select.__doc__.split("\n\n", 1)[1]



def main(argv=None) -> int:
    from .report import CLOCK_REPORT
    ap = argparse.ArgumentParser(prog="python -m synth.speed", description=__doc__.split("\n\n")[0])
    ap.add_argument("--preset", default="digits")
    ap.add_argument("--policies", default=",".join(POLICIES))
    ap.add_argument("--runs", type=int, default=5, help="software runs per measurement (median)")
    ap.add_argument("--tsne-runs", type=int, default=3, help="runs of sklearn exact t-SNE (0: skip)")
    ap.add_argument("--sizes", default="16,32,64", help="points per class for the scaling table")
    ap.add_argument("--fmax", type=float, default=None, help="accelerator clock in MHz (default: from report)")
    ap.add_argument("--report", default=str(CLOCK_REPORT), help="synthesis report giving fmax")
    ap.add_argument("--out", default="reports/synth")
    ap.add_argument("--no-search", action="store_true", help="skip the distances + search tables")
    ap.add_argument("--no-tsne", action="store_true", help="skip the t-SNE tables")
    ap.add_argument("--no-selection", action="store_true", help="skip the whole-selection table")
    ap.add_argument("--peer-runs", type=int, default=3, help="runs per t-SNE / selection measurement (median)")
    ap.add_argument("--tsne-sizes", default="32,64", help="points per class for the t-SNE scaling table")
    ap.add_argument("--render-only", action="store_true", help="rewrite OUT/speed.md from OUT/speed.json")
    args = ap.parse_args(argv)
    if args.render_only:
        out = Path(args.out)
        (out / "speed.md").write_text(to_markdown(json.loads((out / "speed.json").read_text())))
        print(f"wrote {out / 'speed.md'}")
        return 0
    cfg = get_preset(args.preset)
    if args.fmax is not None:
        fmax, src = args.fmax, "--fmax given on the command line"
    else:
        fmax, src = fmax_from_report(Path(args.report))
    policies = [p for p in args.policies.split(",") if p]
    X, y = digits_train()
    import sklearn

    def log(m):
        print(f"[speed {time.strftime('%H:%M:%S')}] {m}", file=sys.stderr, flush=True)

    from .freshness import current_sha
    pcfg = cfg.with_overrides(phases=True)
    rep = {"preset": args.preset, "config": cfg.to_dict(derived=False), "fmax_mhz": fmax, "fmax_source": src,
           "rtl_sha256": {args.preset: current_sha(cfg), f"{args.preset}+phases": current_sha(pcfg)},
           "runs": args.runs, "tsne_runs": args.tsne_runs, "tsne_runs_peer": args.peer_runs,
           "selection_runs": args.peer_runs,
           "host": {"cpu": platform.processor() or platform.machine(), "python": platform.python_version(),
                    "numpy": np.__version__, "sklearn": sklearn.__version__,
                    "threads": {v: os.environ.get(v) for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")},
                    "cores": os.cpu_count(), "loadavg_at_start": list(os.getloadavg())},
           "method": __doc__}
    if args.no_search and args.out == "reports/synth":
        ap.error("--no-search would drop the search tables from the committed report: use --out elsewhere")
    if not args.no_search:
        log("full training set")
        rep["full"] = measure(cfg, class_sets(X, y), policies, args.runs, args.tsne_runs, fmax, log)
        rep["scaling"] = {}
        for n in [int(s) for s in args.sizes.split(",") if s]:
            log(f"scaling: {n} points per class")
            rep["scaling"][str(n)] = measure(cfg, class_sets(X, y, n), policies, args.runs,
                                             0, fmax, log)
        full_n = max(len(c) for c in class_sets(X, y))
        rep["scaling"][f"all (<= {full_n})"] = rep["full"]
    from . import speed_select
    classes = list(enumerate(class_sets(X, y)))
    if not args.no_tsne:
        rep["tsne"] = speed_select.tsne_table(pcfg, classes, fmax, args.peer_runs,
                                              [int(s) for s in args.tsne_sizes.split(",") if s], log)
    if not args.no_selection:
        rep["selection"] = speed_select.selection_table(pcfg, X, y, fmax, args.peer_runs, log)
    rep["host"]["loadavg_at_end"] = list(os.getloadavg())
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "speed.json").write_text(json.dumps(rep, indent=1) + "\n")
    (out / "speed.md").write_text(to_markdown(rep))
    print(f"wrote {out / 'speed.json'} and {out / 'speed.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
