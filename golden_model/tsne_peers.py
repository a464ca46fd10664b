"""Wall-clock time of CPU t-SNE peers on one digits class (one thread), for the t-SNE engine's
throughput target (docs/hardware.md, "t-SNE engine").

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 python -m golden_model.tsne_peers [--cls 0] [--repeat 3]

Every peer gets the same joint P (float64 search at perplexity 30, as the NMS baseline) where it
accepts one, and runs ``cfg.tsne_iters`` iterations (``tsne_exaggeration_iters`` of them
exaggerated) of the digits preset:

* ``reference``      the project's float64 exact t-SNE (`reference.tsne`, NumPy);
* ``sklearn-exact``  scikit-learn ``TSNE(method="exact")`` on the class features (its own P);
* ``sklearn-bh``     scikit-learn ``TSNE(method="barnes_hut")`` on the class features;
* ``opentsne-bh``    openTSNE ``TSNEEmbedding.optimize`` (Barnes-Hut) on our P (if installed).

The median of ``repeat`` runs is reported (seconds; `walltime.median_time`, as every benchmark).  The thread environment variables must be set
before NumPy loads, hence on the command line.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from . import reference as ref
from .config import get_preset
from .walltime import median_time


def _median(fn, repeat: int) -> float:
    return median_time(fn, repeat)["median_s"]


def sklearn_tsne(cfg, perp: float, method: str):
    """scikit-learn ``TSNE`` with the preset's schedule, one thread (``method``: exact / barnes_hut)."""
    from sklearn.manifold import TSNE
    kw = dict(n_components=2, perplexity=perp, early_exaggeration=cfg.tsne_exaggeration,
              learning_rate=cfg.tsne_learning_rate, init="random", random_state=0, method=method, n_jobs=1)
    try:
        return TSNE(max_iter=cfg.tsne_iters, **kw)
    except TypeError:  # scikit-learn < 1.5
        return TSNE(n_iter=cfg.tsne_iters, **kw)


def opentsne_embed(aff, n: int, cfg) -> np.ndarray:
    """openTSNE Barnes-Hut on the affinities ``aff`` with the preset's schedule, one thread."""
    from openTSNE import TSNEEmbedding
    rng = np.random.default_rng(0)
    E = TSNEEmbedding(rng.standard_normal((n, 2)) * 1e-4, aff, n_jobs=1, negative_gradient_method="bh",
                      random_state=0, verbose=False)
    E = E.optimize(cfg.tsne_exaggeration_iters, exaggeration=cfg.tsne_exaggeration,
                   momentum=cfg.tsne_momentum_early, learning_rate=cfg.tsne_learning_rate, n_jobs=1)
    return np.asarray(E.optimize(cfg.tsne_iters - cfg.tsne_exaggeration_iters, momentum=cfg.tsne_momentum_late,
                                 learning_rate=cfg.tsne_learning_rate, n_jobs=1))


def float_p(Xc, perp: float, cfg) -> np.ndarray:
    """The float64 joint P of a class (bisection at ``perp``, as the NMS baseline)."""
    D = ref.sq_distances(np.asarray(Xc, dtype=np.int64))
    st = ref.search_all_rows(D, perp, "bisection", cfg)
    return ref.joint_p(ref.conditional_p(D, st.betas))


def peer_runs(Xc, cfg, perp: float) -> dict:
    """name -> callable running that peer once on the class ``Xc`` (module doc); ``opentsne_bh``
    only if openTSNE is installed (the ``bench`` extra)."""
    Xf = np.asarray(Xc, dtype=np.float64)
    P = float_p(Xc, perp, cfg)
    runs = {"reference": lambda: ref.tsne(P, cfg),
            "sklearn_exact": lambda: sklearn_tsne(cfg, perp, "exact").fit_transform(Xf),
            "sklearn_bh": lambda: sklearn_tsne(cfg, perp, "barnes_hut").fit_transform(Xf)}
    try:
        from openTSNE.affinity import PrecomputedAffinities
        from scipy.sparse import csr_matrix
    except ImportError:
        return runs
    aff = PrecomputedAffinities(csr_matrix(P), normalize=False)
    runs["opentsne_bh"] = lambda: opentsne_embed(aff, len(Xf), cfg)
    return runs


def time_peers(cls: int = 0, repeat: int = 3, preset: str = "digits") -> dict:
    """Seconds per peer for one class of the digits training split (see module doc)."""
    from .eval_tsne_fixed import load_split
    cfg = get_preset(preset)
    Xtr, ytr, _, _ = load_split()
    Xc = Xtr[ytr == cls]
    n = len(Xc)
    runs = peer_runs(Xc, cfg, ref.effective_perplexity(30.0, n))
    out = {"n": n, "iters": cfg.tsne_iters, "pairs_ordered_per_iter": n * (n - 1)}
    for key, name in (("reference", "reference"), ("sklearn_exact", "sklearn-exact"),
                      ("sklearn_bh", "sklearn-bh"), ("opentsne_bh", "opentsne-bh")):
        out[name] = _median(runs[key], repeat) if key in runs else None
    out["fastest_s"] = min(v for k, v in out.items() if k in ("reference", "sklearn-exact", "sklearn-bh", "opentsne-bh") and v)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cls", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args(argv)
    print(json.dumps(time_peers(a.cls, a.repeat), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
