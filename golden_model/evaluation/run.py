"""The command line and the run: every study, the figures, report.json and report.md."""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import time
from dataclasses import asdict

import numpy as np

from .accuracy import run_accuracy
from .criterion import run_criterion
from .data import load_data
from .plots import plot_embeddings, plot_sawtooth
from .render import render_markdown
from .search_study import run_sawtooth, run_search_quality
from ..config import RESULT_NEUTRAL_FIELDS
from .settings import DEFAULT_JOBS, REPORT_FORMAT, TSNE_METHODS, Settings


def versions() -> dict:
    import matplotlib
    import scipy
    import sklearn

    v = {"python": platform.python_version(), "numpy": np.__version__, "scipy": scipy.__version__,
         "scikit-learn": sklearn.__version__, "matplotlib": matplotlib.__version__,
         "platform": platform.platform(), "cpu_count": os.cpu_count()}
    try:
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                              timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        v["git_commit"] = head + (" (with uncommitted changes)" if dirty else "")
    except Exception:  # noqa: BLE001
        v["git_commit"] = "unknown"
    return v


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


#: Keys of ``tsne_fixed.json`` (``python -m golden_model.eval_tsne_fixed``) the report quotes.
KL_CLASS_KEYS = ("n", "kl_float_mean", "kl_fixed_mean", "ratio_of_means", "ratio_sem", "ratio_min",
                 "ratio_max", "control_ratio_of_means", "p_within_bound")


def load_kl_study(path: str, cfg) -> dict | None:
    """The fixed- vs float-t-SNE study (same P, same initial embedding) from `path`, reduced to
    what the report quotes, or None when the file is absent.  `cfg`: the run's configuration
    (an `AccelConfig`, or a stored report's ``cfg`` dict).  ``same_config`` says whether it was
    made with the configuration of this run (else the report marks it as from another config)."""
    if not path or not os.path.isfile(path):
        return None
    with open(path) as f:
        t = json.load(f)
    mine = cfg if isinstance(cfg, dict) else cfg.to_dict(derived=False)  # a stored report's own dict
    theirs = t.get("config", {})
    diff = sorted(k for k in mine if k in theirs and mine[k] != theirs[k] and k != "seed"
                  and k not in RESULT_NEUTRAL_FIELDS)
    return {"path": path, "preset": t.get("preset"), "quick": t.get("quick"),
            "policy": t.get("policy"), "perplexity": t.get("perplexity"), "seeds": t.get("seeds"),
            "elapsed_s": t.get("elapsed_s"), "config_differs_in": diff,
            "classes": {c: {k: v[k] for k in KL_CLASS_KEYS if k in v} for c, v in t["classes"].items()},
            "summary": t.get("summary"), "downstream": t.get("downstream")}


def run(s: Settings, out_dir: str, log=print, kl_study: str | None = None) -> dict:
    """Every study, both figures, then ``report.json`` and ``report.md`` in `out_dir`.

    `kl_study`: ``tsne_fixed.json`` to quote (default ``out_dir/tsne_fixed.json``)."""
    t0 = time.perf_counter()
    cpu0 = _cpu_seconds()
    os.makedirs(out_dir, exist_ok=True)
    vers = versions()  # at the start: the code that runs, not what the tree holds at the end
    data = load_data(s)
    cfg = s.cfg()
    log(f"[evaluate] {'quick' if s.quick else 'full'} run: {len(data.y_train)} training points, "
        f"{len(data.y_test)} test points, seeds {list(s.seeds)}, jobs {s.jobs}")
    acc = run_accuracy(s, data, log)
    t1 = time.perf_counter()
    sq = run_search_quality(s, data, log)
    t2 = time.perf_counter()
    saw = run_sawtooth(s, data, log)
    t2b = time.perf_counter()
    crit = run_criterion(s, data, log)
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
        "kl_study": load_kl_study(os.path.join(out_dir, "tsne_fixed.json") if kl_study is None else kl_study,
                                  cfg),
        "accuracy": {k: v for k, v in acc.items() if not k.startswith("_")},
        "search_quality": sq,
        "sawtooth": saw,
        "criterion": crit,
        "versions": vers,
    }
    t4 = time.perf_counter()
    rep["wall_time_s"] = {"accuracy": t1 - t0, "search_quality": t2 - t1, "sawtooth": t2b - t2,
                          "criterion": t3 - t2b, "plots": t4 - t3, "total": t4 - t0}
    rep["cpu_time_s"] = _cpu_seconds() - cpu0
    rep = _jsonable(rep)
    with open(os.path.join(out_dir, "report.json"), "w") as f:  # kept should rendering fail
        json.dump(rep, f, indent=1, sort_keys=False)
    # The total is final before rendering: --render-only must reproduce report.md from report.json.
    rep["wall_time_s"]["total"] = time.perf_counter() - t0
    md = render_markdown(rep)
    with open(os.path.join(out_dir, "report.json"), "w") as f:
        json.dump(rep, f, indent=1, sort_keys=False)
        f.write("\n")
    with open(os.path.join(out_dir, "report.md"), "w") as f:
        f.write(md)
    log(f"[evaluate] wrote {out_dir}/report.md, report.json, embeddings.png, entropy_sawtooth.png "
        f"in {rep['wall_time_s']['total']:.0f} s")
    return rep


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m golden_model.evaluate",
                                description="Evaluation of AdapSNE / NMS exemplar selection on "
                                            "scikit-learn's digits.")
    p.add_argument("--quick", action="store_true", help="smoke test (< ~1 min): fewer points, seeds, shorter t-SNE")
    p.add_argument("--out", default="reports/digits", help="output directory (default reports/digits)")
    p.add_argument("--jobs", type=int, default=DEFAULT_JOBS,
                   help=f"worker processes (default min(2, CPUs) = {DEFAULT_JOBS})")
    p.add_argument("--seeds", type=int, default=None, help="number of run seeds (default 5, quick 2)")
    p.add_argument("--tsne-seeds", type=int, default=None,
                   help="seeds for the t-SNE based methods, a prefix of the run seeds (default: all "
                        "run seeds, quick 2)")
    p.add_argument("--kl-study", default=None,
                   help="tsne_fixed.json of `python -m golden_model.eval_tsne_fixed` to quote "
                        "(default OUT/tsne_fixed.json; the report says when it is absent)")
    p.add_argument("--render-only", action="store_true",
                   help="only rewrite OUT/report.md from OUT/report.json (after a change of the text); "
                        "with --kl-study FILE, first replace the quoted KL study in OUT/report.json by FILE's")
    a = p.parse_args(argv)
    if a.render_only:
        with open(os.path.join(a.out, "report.json")) as f:
            rep = json.load(f)
        if a.kl_study is not None:  # quote a newer KL study (an independent run) without the rest
            if not os.path.isfile(a.kl_study):
                p.error(f"--kl-study {a.kl_study}: no such file")
            # against the stored run's own configuration: keys it predates are not differences
            rep["kl_study"] = _jsonable(load_kl_study(a.kl_study, rep["cfg"]))
            with open(os.path.join(a.out, "report.json"), "w") as f:
                json.dump(rep, f, indent=1, sort_keys=False)
                f.write("\n")
        with open(os.path.join(a.out, "report.md"), "w") as f:
            f.write(render_markdown(rep))
        return 0
    kw = {"jobs": max(1, a.jobs)}
    if a.seeds is not None:
        if a.seeds < 1:
            p.error(f"--seeds must be >= 1, got {a.seeds}")
        kw["seeds"] = tuple(range(a.seeds))
    if a.tsne_seeds is not None and a.tsne_seeds < 1:
        p.error(f"--tsne-seeds must be >= 1, got {a.tsne_seeds}")
    s = Settings.make(quick=a.quick, **kw)
    if a.tsne_seeds is not None:
        s.tsne_seeds = {m: min(a.tsne_seeds, len(s.seeds)) for m in TSNE_METHODS}
    elif a.seeds is not None and not a.quick:
        s.tsne_seeds = {m: len(s.seeds) for m in TSNE_METHODS}
    run(s, a.out, kl_study=a.kl_study)
    return 0
