"""Run settings and the constants every part of the digits evaluation shares."""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

from .. import reference as ref
from ..config import AccelConfig, get_preset


#: Methods in report order: key -> label.
METHODS = {
    "random": "random",
    "kcenter": "k-center greedy",
    "herding": "herding",
    "nms": "NMS float64 (bisection, perplexity 30)",
    "nms_fixed": "NMS, fixed-point pipeline",
    "adapsne_float": "AdapSNE float64",
    "adapsne_fixed": "AdapSNE, fixed-point pipeline",
}
#: Short names for tables.
SHORT = {"random": "random", "kcenter": "k-center", "herding": "herding", "nms": "NMS float",
         "nms_fixed": "NMS fixed", "adapsne_float": "AdapSNE float", "adapsne_fixed": "AdapSNE fixed"}
#: The t-SNE based methods: key -> (``select`` method, arithmetic).  The only place that says
#: which evaluated method runs in which arithmetic (the report's text is generated from it and
#: from the modules each selection was traced to execute).
PIPELINES = {"nms": ("nms", "float"), "nms_fixed": ("nms", "fixed"),
             "adapsne_float": ("adapsne", "float"), "adapsne_fixed": ("adapsne", "fixed")}
TSNE_METHODS = tuple(PIPELINES)
#: (fixed, float) twins: the same ``select`` method in both arithmetics.
FIXED_FLOAT = tuple((fx, fl) for fx, (mx, ax) in PIPELINES.items() if ax == "fixed"
                    for fl, (mf, af) in PIPELINES.items() if af == "float" and mf == mx)
CLASSIFIERS = {"mlp": "MLP (128 hidden)", "logreg": "logistic regression"}
RATIOS = (0.05, 0.10, 0.20)
FLOAT_TOL = ref.DEFAULT_TOL
REPORT_FORMAT = "adapsne-evaluation/1"
DEFAULT_JOBS = max(1, min(2, os.cpu_count() or 1))
#: Paired per-seed differences the report gives (a - b): fixed - float of each method first.
PAIRS = FIXED_FLOAT + (("adapsne_float", "nms"), ("adapsne_fixed", "nms_fixed"))
#: A paired difference is flagged as larger than the seed noise when |mean| > NOISE_SE x its
#: standard error sd / sqrt(n) (a screen, not a significance test; the report gives its chance
#: rate from Student's t).
NOISE_SE = 2.0


@dataclass
class Settings:
    """Everything that determines a run (written to report.json)."""

    quick: bool = False
    preset: str = "digits"
    split_seed: int = 0
    test_size: float = 0.3
    ratios: tuple = RATIOS
    seeds: tuple = (0, 1, 2, 3, 4)
    #: seeds used by each t-SNE based method (a prefix of `seeds`)
    tsne_seeds: dict = field(default_factory=lambda: {m: 5 for m in TSNE_METHODS})
    #: quick mode: keep this many training points per class (None = all)
    train_per_class: int | None = None
    #: quick mode: AccelConfig overrides (shorter t-SNE)
    cfg_overrides: dict = field(default_factory=dict)
    # classifiers
    mlp_hidden: int = 128
    mlp_max_iter: int = 2000
    mlp_learning_rate_init: float = 3e-3
    logreg_C: float = 1.0
    logreg_max_iter: int = 5000
    # sigma-search quality study
    sq_perplexity: float = 30.0
    sq_classes: tuple = tuple(range(10))
    sq_points_per_class: int = 20
    sq_table_bits: tuple = (4, 6, 8, 10)
    sq_float_tols: tuple = (FLOAT_TOL, 2.0 ** -8)
    # sawtooth / monotonicity study
    saw_class: int = 3
    saw_halfwidth_lsb: int = 400
    mono_points: int = 10
    # entropy-criterion study: t-SNE seeds (a prefix of `seeds`) and the small-class size
    crit_seeds: int = 5
    crit_small_n: int = 50
    # plots
    embed_ratio: float = 0.10
    dpi: int = 110
    jobs: int = 1

    @classmethod
    def make(cls, quick: bool = False, **kw) -> "Settings":
        if quick:
            base = dict(quick=True, seeds=(0, 1),
                        tsne_seeds={m: 2 for m in TSNE_METHODS},
                        train_per_class=30,
                        cfg_overrides={"tsne_iters": 250, "tsne_exaggeration_iters": 100,
                                       "perplexity_candidates": (5.0, 10.0)},
                        sq_classes=(0, 3, 8), sq_points_per_class=4, mono_points=3,
                        saw_halfwidth_lsb=200, crit_seeds=2, crit_small_n=20, dpi=70)
        else:
            base = {}
        base.update({k: v for k, v in kw.items() if v is not None})
        s = cls(**base)
        n = len(s.seeds)
        s.tsne_seeds = {m: max(1, min(int(v), n)) for m, v in s.tsne_seeds.items()}
        s.crit_seeds = max(1, min(int(s.crit_seeds), n))
        return s

    def cfg(self) -> AccelConfig:
        c = get_preset(self.preset)
        return c.with_overrides(**self.cfg_overrides) if self.cfg_overrides else c

    def seeds_for(self, method: str) -> tuple:
        if method in TSNE_METHODS:
            return tuple(self.seeds[: self.tsne_seeds[method]])
        return tuple(self.seeds)


def rkey(r: float) -> str:
    """Key of a budget ratio in report.json (``"0.05"``)."""
    return f"{r:.2f}"


def pool_map(fn, tasks, jobs):
    """``[fn(t) for t in tasks]``, in `jobs` worker processes when jobs > 1 (order kept)."""
    if jobs <= 1 or len(tasks) <= 1:
        return [fn(t) for t in tasks]
    with ProcessPoolExecutor(max_workers=jobs) as ex:
        return list(ex.map(fn, tasks))

