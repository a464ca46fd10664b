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


def time_peers(cls: int = 0, repeat: int = 3, preset: str = "digits") -> dict:
    """Seconds per peer for one class of the digits training split (see module doc)."""
    from .eval_tsne_fixed import load_split
    cfg = get_preset(preset)
    Xtr, ytr, _, _ = load_split()
    Xc = Xtr[ytr == cls].astype(np.float64)
    n = len(Xc)
    perp = ref.effective_perplexity(30.0, n)
    D = ref.sq_distances(Xc.astype(np.int64))
    st = ref.search_all_rows(D, perp, "bisection", cfg)
    P = ref.joint_p(ref.conditional_p(D, st.betas))
    it, ex_it, ex = cfg.tsne_iters, cfg.tsne_exaggeration_iters, cfg.tsne_exaggeration
    out = {"n": n, "iters": it, "pairs_ordered_per_iter": n * (n - 1)}
    out["reference"] = _median(lambda: ref.tsne(P, cfg), repeat)
    from sklearn.manifold import TSNE
    for method in ("exact", "barnes_hut"):
        kw = dict(n_components=2, perplexity=perp, early_exaggeration=ex, learning_rate=cfg.tsne_learning_rate,
                  init="random", random_state=0, method=method, n_jobs=1)
        try:
            t = TSNE(max_iter=it, **kw)
        except TypeError:  # scikit-learn < 1.5
            t = TSNE(n_iter=it, **kw)
        out[f"sklearn-{'bh' if method == 'barnes_hut' else method}"] = _median(lambda: t.fit_transform(Xc), repeat)
    try:
        from openTSNE import TSNEEmbedding
        from openTSNE.affinity import PrecomputedAffinities
        from scipy.sparse import csr_matrix
    except ImportError:
        out["opentsne-bh"] = None
    else:
        aff = PrecomputedAffinities(csr_matrix(P), normalize=False)

        def run_otsne():
            rng = np.random.default_rng(0)
            E = TSNEEmbedding(rng.standard_normal((n, 2)) * 1e-4, aff, n_jobs=1, negative_gradient_method="bh",
                              random_state=0, verbose=False)
            E = E.optimize(ex_it, exaggeration=ex, momentum=cfg.tsne_momentum_early,
                           learning_rate=cfg.tsne_learning_rate, n_jobs=1)
            E.optimize(it - ex_it, momentum=cfg.tsne_momentum_late, learning_rate=cfg.tsne_learning_rate, n_jobs=1)
        out["opentsne-bh"] = _median(run_otsne, repeat)
    peers = [v for k, v in out.items() if k in ("reference", "sklearn-exact", "sklearn-bh", "opentsne-bh") and v]
    out["fastest_s"] = min(peers)
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
