"""Evaluation of AdapSNE / NMS exemplar selection on scikit-learn's digits.

    python -m golden_model.evaluate [--quick] [--out reports/digits] [--jobs N]
                                    [--seeds N] [--tsne-seeds N] [--kl-study tsne_fixed.json]

Three studies, one report (``report.md`` + ``report.json`` + two PNG figures):

1. **Downstream accuracy.**  Subsets of the training split at 5 / 10 / 20 % per-class budgets,
   chosen by random, k-center greedy, herding, NMS (bisection sigma search, perplexity 30) and
   AdapSNE, each of the last two in float64 and with the whole pipeline in the bit-accurate
   fixed point, plus the full training set.  Each subset trains a logistic regression and a
   small MLP; test accuracy is reported as mean +- std over seeds (5 by default, every method),
   with paired fixed - float differences, a noise screen and, for a difference above it, what
   differs between the pipelines; the fixed- vs float-t-SNE KL study
   (``python -m golden_model.eval_tsne_fixed``, ``tsne_fixed.json``) is quoted.
2. **Sigma-search quality.**  Per policy (bisection, FWA, K-section) and arithmetic (float64, and
   fixed point with 4/6/8/10-bit exp/log/recip tables, interpolation on/off, row-minimum shift
   on/off): the share of points that miss the stop tolerance, the *true* float64 entropy error at
   the returned beta, and passes / evaluations per point.
3. **Entropy criterion.**  Per class, the occupancy entropy of every candidate perplexity over
   several t-SNE seeds: its spread across seeds next to its spread across candidates, and
   whether the choice is within the seed noise.

Which phases run in fixed point is not stated here: the report's table comes from tracing the
selections (:mod:`.trace`).

Selections are cached per (method, seed) inside a run: the embedding does not depend on the
budget, so each t-SNE based method is run once per seed and grid-sampled at every ratio (the
equivalence with a direct ``select`` call at every ratio is checked by the tests).

See docs/evaluation.md for the design and the interpretation of the committed report.

Modules (one job each): :mod:`.settings` (constants, :class:`Settings`), :mod:`.data` (split),
:mod:`.accuracy` (selections and classifiers), :mod:`.search_study` (sigma-search quality and
H(u) shape), :mod:`.criterion` (seed noise of the entropy criterion), :mod:`.plots`,
:mod:`.fixed_float` (fixed vs float Markdown), :mod:`.trace` (which code a selection runs),
:mod:`.render` (Markdown) and :mod:`.run` (command line, report files).
"""

import os

# BLAS threads are fixed before NumPy is first imported (the pool workers inherit this).
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from .run import main, run  # noqa: E402

__all__ = ["main", "run"]
