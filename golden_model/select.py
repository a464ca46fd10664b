"""Per-class dataset selection with AdapSNE or the NMS baseline.

:func:`select` is the one entry point the evaluation code and the CLI call.  It runs, for every
class separately, the pipeline of :mod:`golden_model.reference` (distances, sigma search, joint
affinities, t-SNE, grid sampling) and returns the selected global indices.

* ``method="nms"``: bisection sigma search at ``cfg.perplexity`` (clamped for small classes), no
  outer loop.
* ``method="adapsne"``: Fireworks sigma search and the entropy-guided target perplexity
  (:func:`golden_model.reference.choose_perplexity`, mode ``cfg.perplexity_search``).

``arithmetic="fixed"`` runs the whole pipeline in the accelerator's arithmetic, bit for bit:
fixed-point sigma search (``search_fixed``) -> pair sums (``affinity_fixed``) -> t-SNE
(``tsne_fixed``) -> occupancy entropy and outer perplexity search (``entropy_fixed``) -> grid
sampler (``grid_fixed``).  The class must fit the configuration (size <= ``n_max``, features in
``[0, 2^feature_bits - 1]``, at most ``d_max`` of them).
"""

from __future__ import annotations

import math
from numbers import Real

import numpy as np

from . import affinity_fixed as af
from . import entropy_fixed as ef
from . import fixed as fx
from . import reference as ref
from .config import POLICIES, AccelConfig
from .grid_fixed import grid_sample_fixed

METHODS = ("adapsne", "nms")
ARITHMETICS = ("float", "fixed")
#: Sigma-search policy of each method.
METHOD_POLICY = {"nms": "bisection", "adapsne": "fwa"}


def class_budget(n: int, ratio: float) -> int:
    """Samples kept from a class of `n`: ``max(1, round(ratio * n))``, at most `n`.

    Rounding is half-up (``floor(x + 0.5)``, after rounding ``ratio * n`` to 9 decimals so that
    binary fractions such as ``0.1 * 35 = 3.5000000000000004`` do not flip the result), not
    Python's round-half-even.  Baselines use the same budget.
    """
    k = int(math.floor(round(float(ratio) * int(n), 9) + 0.5))
    return int(min(int(n), max(1, k)))


def validate_ratio(ratio) -> float:
    """Return `ratio` as float or raise ``ValueError`` unless it is a finite number in (0, 1]."""
    if isinstance(ratio, bool) or not isinstance(ratio, (Real, np.floating, np.integer)):
        raise ValueError(f"ratio must be a number in (0, 1], got {ratio!r}")
    r = float(ratio)
    if not math.isfinite(r) or not 0.0 < r <= 1.0:
        raise ValueError(f"ratio must be in (0, 1], got {ratio!r}")
    return r


def validate_xy(X, y, min_class_size: int = 2, integer_features: bool = True) -> tuple:
    """Check features and labels; return ``(X, y, classes)``.

    Raises ``ValueError`` for: X not 2-D or empty, non-numeric or non-finite X, non-integer
    features (when `integer_features`), y not 1-D or of another length, non-finite labels, and a
    class with fewer than `min_class_size` samples.  `X` comes back as int64 when
    `integer_features`, else as float64; classes are ``np.unique(y)`` (ascending).
    """
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"X must be a 2-D array (n_samples, n_features), got shape {X.shape}")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"X must have at least one sample and one feature, got shape {X.shape}")
    if not (np.issubdtype(X.dtype, np.number) or X.dtype == bool):
        raise ValueError(f"X must be numeric, got dtype {X.dtype}")
    if np.issubdtype(X.dtype, np.inexact) and not np.all(np.isfinite(X)):
        i, j = np.argwhere(~np.isfinite(X))[0]
        raise ValueError(f"X contains a non-finite value ({X[i, j]}) at row {i}, column {j}")
    if integer_features:
        X = ref.as_integer_features(X)
    else:
        X = X.astype(np.float64)
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must be a 1-D array of labels, got shape {y.shape}")
    if y.shape[0] != X.shape[0]:
        raise ValueError(f"X has {X.shape[0]} samples but y has {y.shape[0]} labels")
    if np.issubdtype(y.dtype, np.inexact) and not np.all(np.isfinite(y)):
        i = int(np.flatnonzero(~np.isfinite(y))[0])
        raise ValueError(f"y contains a non-finite label ({y[i]}) at index {i}")
    classes, counts = np.unique(y, return_counts=True)
    small = np.flatnonzero(counts < min_class_size)
    if small.size:
        c = small[0]
        raise ValueError(
            f"class {classes[c].item()!r} has {counts[c]} sample(s); every class needs at least "
            f"{min_class_size} samples")
    return X, y, classes


def check_fits(X: np.ndarray, y: np.ndarray, classes, cfg: AccelConfig) -> None:
    """``arithmetic="fixed"``: every class fits the core of `cfg` (``ValueError`` naming the
    parameter and its allowed range otherwise)."""
    if X.shape[1] > cfg.d_max:
        raise ValueError(f"X has {X.shape[1]} features; allowed 1 .. d_max={cfg.d_max} for arithmetic='fixed'")
    if X.min() < 0 or X.max() > cfg.feature_max:
        raise ValueError(f"features must lie in [0, {cfg.feature_max}] (feature_bits={cfg.feature_bits}) for "
                         f"arithmetic='fixed', got [{X.min()}, {X.max()}]")
    for label in classes:
        n = int(np.sum(y == label))
        if n > cfg.n_max:
            raise ValueError(f"class {label.item() if hasattr(label, 'item') else label!r} has {n} samples; "
                             f"allowed 2 .. n_max={cfg.n_max} for arithmetic='fixed'")


def _class_fixed(D: np.ndarray, method: str, policy: str, cfg: AccelConfig, learning_rate) -> dict:
    """One class through the fixed-point pipeline; the fields of :func:`select`'s details (floats
    are the represented values; ``Y_q`` the integer embedding, ``occupancy_entropy_q`` bits in
    Q.h_frac; ``occupancy_entropy`` and the history in nats, as the float pipeline reports)."""
    n = D.shape[0]
    lr = ref.tsne_learning_rate(n, cfg, learning_rate)
    pf, hs = float(1 << cfg.perp_frac), float(1 << cfg.h_frac)
    if method == "nms":
        pq = min(fx.perplexity_to_reg(cfg.perplexity, cfg), ef.perp_reg_cap(n, cfg))
        emb = ef.embed_class_fixed(D, pq, cfg, policy, learning_rate=lr)
        history = [(pq, emb.h_q)]
    else:
        choice = ef.choose_perplexity_fixed(D, cfg, policy=policy, learning_rate=lr)
        emb, history = choice.embedding, choice.history
    Yf = emb.Y.astype(np.float64) / (1 << cfg.y_frac)
    res = emb.search
    return {
        "Y": Yf, "Y_q": emb.Y, "perplexity": emb.perp_q / pf,
        "perplexity_history": [(q / pf, h / hs * math.log(2.0)) for q, h in history],
        "betas": np.array([r.beta(cfg) for r in res]),
        "passes": np.array([r.passes for r in res], dtype=np.int64),
        "evaluations": np.array([r.evaluations for r in res], dtype=np.int64),
        "converged": np.array([r.converged for r in res], dtype=bool),
        "kl": ref.kl_divergence(af.joint_to_float(emb.S, cfg), Yf),
        "occupancy_entropy": emb.h_q / hs * math.log(2.0), "occupancy_entropy_q": int(emb.h_q),
        "entropy_grid": emb.grid,
    }


def _class_float(D: np.ndarray, method: str, policy: str, cfg: AccelConfig, tol: float,
                 learning_rate) -> dict:
    """One class through the float64 reference; the fields of :func:`select`'s details."""
    if method == "nms":
        perp = ref.effective_perplexity(cfg.perplexity, D.shape[0])
        emb = ref.embed_class(D, perp, cfg, policy, tol=tol, learning_rate=learning_rate)
        history = [(perp, emb.occupancy_entropy)]
    else:
        choice = ref.choose_perplexity(None, cfg, policy=policy, tol=tol, D=D, learning_rate=learning_rate)
        emb, history = choice.embedding, choice.history
    return {"Y": emb.Y, "perplexity": emb.perplexity, "perplexity_history": history,
            "betas": emb.search.betas, "passes": emb.search.passes,
            "evaluations": emb.search.evaluations, "converged": emb.search.converged,
            "kl": emb.kl, "occupancy_entropy": emb.occupancy_entropy, "entropy_grid": emb.entropy_grid}


def sample_class(d: dict, k: int, cfg: AccelConfig) -> np.ndarray:
    """Grid-sample `k` local indices from one class's details (:func:`select`): the fixed-point
    sampler on ``Y_q`` when the class ran in fixed point (grids up to ``cfg.grid_g``, the core's
    counter memory), else ``reference.grid_sample`` on ``Y``."""
    if "Y_q" in d:
        return grid_sample_fixed(d["Y_q"], k, cfg, g_limit=cfg.grid_g)
    return ref.grid_sample(d["Y"], k)


def select(X, y, ratio, method: str = "adapsne", cfg: AccelConfig | None = None,
           arithmetic: str = "float", return_details: bool = False, *, policy: str | None = None,
           tol: float | None = None, learning_rate=None, progress=None):
    """Select a per-class subset with AdapSNE or NMS.

    Parameters
    ----------
    X : array_like (n_samples, n_features)
        Integer feature values (integral floats accepted), finite.
    y : array_like (n_samples,)
        Class labels; every class needs at least 2 samples.
    ratio : float in (0, 1]
        Budget per class: ``k = max(1, round(ratio * N_c))`` (:func:`class_budget`).
    method : {"adapsne", "nms"}
        ``"nms"``: bisection at ``cfg.perplexity``; ``"adapsne"``: FWA search and entropy-guided
        perplexity.
    cfg : AccelConfig, optional
        Defaults to ``AccelConfig()``.  Seeds come from ``cfg.seed`` (FWA streams and the t-SNE
        initialisation, the same t-SNE seed for every class).
    arithmetic : {"float", "fixed"}
        ``"float"``: the float64 reference (:mod:`golden_model.reference`).  ``"fixed"``: the
        whole pipeline bit for bit in the accelerator's arithmetic (module doc); every class must
        fit `cfg` (:func:`check_fits`).
    return_details : bool
        Also return a dict ``{label: details}``.
    policy : str, optional
        Override the sigma-search policy of the method (``"bisection"``, ``"ksection"``,
        ``"fwa"``); for experiments.
    tol : float, optional
        Float search tolerance in bits (default :data:`reference.DEFAULT_TOL`; ignored by the
        fixed-point search, which uses the config's).
    learning_rate : float, "auto" or None
        t-SNE step size override (:func:`reference.tsne_learning_rate`; in fixed point rounded to
        the register's ``coef_frac`` bits).
    progress : callable, optional
        ``progress(event, info)`` with event ``"start"`` before and ``"done"`` after each class;
        `info` holds ``index``, ``n_classes``, ``label``, ``n``, ``k`` and, for ``"done"``,
        ``converged_fraction`` (share of points whose sigma search reached its tolerance).

    Returns
    -------
    indices : ndarray of int64
        Selected global indices, sorted ascending.
    details : dict, only with ``return_details``
        Per class label: ``indices`` (global, sorted), ``n``, ``k``, ``Y`` (embedding),
        ``perplexity`` (target used), ``perplexity_history`` (list of (perplexity, occupancy
        entropy)), ``betas``, ``passes``, ``evaluations``, ``converged`` (per point), ``kl``,
        ``occupancy_entropy``, ``entropy_grid`` (side G of its grid,
        :func:`reference.entropy_grid_side`).  Occupancy entropies are in nats in both
        arithmetics.  ``arithmetic="fixed"`` adds ``Y_q`` (the integer embedding, Q.y_frac) and
        ``occupancy_entropy_q`` (bits, Q.h_frac); ``Y`` is then ``Y_q / 2^y_frac`` and ``kl`` the
        float64 KL of the represented P and Y (a diagnostic: the hardware does not compute it).
        :func:`sample_class` re-samples a class at another budget from its details.

    Raises
    ------
    ValueError
        ratio outside (0, 1], unknown method/arithmetic/policy, a class with fewer than 2 samples,
        non-finite or non-integer features, mismatched shapes; with ``arithmetic="fixed"`` a
        class larger than ``cfg.n_max``, features outside ``[0, cfg.feature_max]`` or more than
        ``cfg.d_max`` of them.
    """
    ratio = validate_ratio(ratio)
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; expected one of {METHODS}")
    if arithmetic not in ARITHMETICS:
        raise ValueError(f"unknown arithmetic {arithmetic!r}; expected one of {ARITHMETICS}")
    if policy is None:
        policy = METHOD_POLICY[method]
    elif policy not in POLICIES:
        raise ValueError(f"unknown search policy {policy!r}; expected one of {POLICIES}")
    if cfg is None:
        cfg = AccelConfig()
    elif not isinstance(cfg, AccelConfig):
        raise ValueError(f"cfg must be an AccelConfig, got {type(cfg).__name__}")
    if tol is None:
        tol = ref.DEFAULT_TOL
    elif not (isinstance(tol, (Real, np.floating)) and math.isfinite(tol) and tol > 0):
        raise ValueError(f"tol must be a positive finite number, got {tol!r}")
    X, y, classes = validate_xy(X, y, min_class_size=2, integer_features=True)
    if arithmetic == "fixed":
        check_fits(X, y, classes, cfg)

    selected = []
    details = {}
    for ci, label in enumerate(classes):
        idx = np.flatnonzero(y == label)
        n = idx.size
        k = class_budget(n, ratio)
        info = {"index": ci, "n_classes": len(classes),
                "label": label.item() if hasattr(label, "item") else label, "n": int(n), "k": int(k)}
        if progress is not None:
            progress("start", info)
        D = ref.sq_distances(X[idx])
        if arithmetic == "fixed":
            det = _class_fixed(D, method, policy, cfg, learning_rate)
        else:
            det = _class_float(D, method, policy, cfg, tol, learning_rate)
        local = sample_class(det, k, cfg)
        glob = idx[local]
        selected.append(glob)
        if progress is not None:
            progress("done", dict(info, converged_fraction=float(np.mean(det["converged"]))))
        if return_details:
            details[label.item() if hasattr(label, "item") else label] = dict(
                {"indices": np.sort(glob), "n": int(n), "k": int(k)}, **det)
    out = np.sort(np.concatenate(selected)).astype(np.int64)
    return (out, details) if return_details else out


__all__ = ["select", "class_budget", "validate_ratio", "validate_xy", "check_fits", "sample_class",
           "METHODS", "ARITHMETICS", "METHOD_POLICY"]
