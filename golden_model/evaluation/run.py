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
from .settings import DEFAULT_JOBS, REPORT_FORMAT, Settings


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


def run(s: Settings, out_dir: str, log=print) -> dict:
    """Every study, both figures, then ``report.json`` and ``report.md`` in `out_dir`."""
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
        "fixed_point_scope": ("the whole pipeline is fixed-point: integer squared distances, sigma search "
                              "(search_fixed), pair sums (affinity_fixed), t-SNE (tsne_fixed), occupancy "
                              "entropy and outer perplexity search (entropy_fixed), grid sampler (grid_fixed)"),
        "accuracy": {k: v for k, v in acc.items() if not k.startswith("_")},
        "search_quality": sq,
        "sawtooth": saw,
        "criterion": crit,
        "versions": versions(),
    }
    t4 = time.perf_counter()
    rep["wall_time_s"] = {"accuracy": t1 - t0, "search_quality": t2 - t1, "sawtooth": t2b - t2,
                          "criterion": t3 - t2b, "plots": t4 - t3, "total": t4 - t0}
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
    p = argparse.ArgumentParser(prog="python -m golden_model.evaluate",
                                description="Evaluation of AdapSNE / NMS exemplar selection on "
                                            "scikit-learn's digits.")
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
