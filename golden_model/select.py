"""Per-class dataset selection with AdapSNE or the NMS baseline.

:func:`select` is the one entry point the evaluation code and the CLI call.  It runs, for every
class separately, the pipeline of :mod:`golden_model.reference` (distances, sigma search, joint
affinities, t-SNE, grid sampling) and returns the selected global indices.

* ``method="nms"``: bisection sigma search at ``cfg.perplexity`` (clamped for small classes), no
  outer loop.
* ``method="adapsne"``: Fireworks sigma search and the entropy-guided target perplexity
  (:func:`golden_model.reference.choose_perplexity`, mode ``cfg.perplexity_search``).

``arithmetic="fixed"`` swaps only the per-point sigma search for the bit-exact fixed-point one
(``golden_model.search_fixed.search_row``); everything above the search stays float.
"""

from __future__ import annotations

import math
from numbers import Real

import numpy as np

from . import reference as ref
from .config import AccelConfig

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


def _fixed_row_search():
    """The fixed-point row search as a :data:`reference.RowSearch` callable (lazy import).

    Wraps ``golden_model.search_fixed.search_row(row, i, perp_q, policy, cfg, point_index=...)``
    (full distance row with the self entry, perplexity as register value
    ``fixed.perplexity_to_reg``) and converts its integer result to a float
    :class:`reference.SearchResult`.
    """
    try:
        from . import fixed, search_fixed  # noqa: PLC0415 - written separately, imported on demand
    except ModuleNotFoundError as e:
        if e.name not in (__package__ + ".search_fixed", __package__ + ".fixed"):
            raise
        raise NotImplementedError(
            "arithmetic='fixed' needs golden_model.search_fixed.search_row, which is not "
            "available yet") from e
    fn = getattr(search_fixed, "search_row", None)
    to_reg = getattr(fixed, "perplexity_to_reg", None)
    if fn is None or to_reg is None:
        raise NotImplementedError(
            "arithmetic='fixed' needs golden_model.search_fixed.search_row and "
            "golden_model.fixed.perplexity_to_reg, which are not defined yet")

    def row_search(d_row, perplexity, policy, cfg, point_index):
        full = np.insert(np.asarray(d_row, dtype=np.int64), point_index, 0)  # self entry, ignored
        r = fn(full, point_index, to_reg(perplexity, cfg), policy, cfg, point_index=point_index)
        hs = float(1 << cfg.h_frac)
        return ref.SearchResult(u=r.u / float(1 << cfg.u_frac), beta=r.beta(cfg), H=r.h / hs,
                                passes=int(r.passes), evaluations=int(r.evaluations),
                                converged=bool(r.converged), target=r.target / hs)

    return row_search


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
        Arithmetic of the sigma search.
    return_details : bool
        Also return a dict ``{label: details}``.
    policy : str, optional
        Override the sigma-search policy of the method (``"bisection"``, ``"ksection"``,
        ``"fwa"``); for experiments.
    tol : float, optional
        Float search tolerance in bits (default :data:`reference.DEFAULT_TOL`; ignored by the
        fixed-point search, which uses the config's).
    learning_rate : float, "auto" or None
        t-SNE step size override (:func:`reference.tsne_learning_rate`).
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
        :func:`reference.entropy_grid_side`).

    Raises
    ------
    ValueError
        ratio outside (0, 1], unknown method/arithmetic/policy, a class with fewer than 2 samples,
        non-finite or non-integer features, mismatched shapes.
    NotImplementedError
        ``arithmetic="fixed"`` while ``golden_model.search_fixed`` is not available.
    """
    ratio = validate_ratio(ratio)
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; expected one of {METHODS}")
    if arithmetic not in ARITHMETICS:
        raise ValueError(f"unknown arithmetic {arithmetic!r}; expected one of {ARITHMETICS}")
    if policy is None:
        policy = METHOD_POLICY[method]
    elif policy not in ref.POLICIES:
        raise ValueError(f"unknown search policy {policy!r}; expected one of {ref.POLICIES}")
    if cfg is None:
        cfg = AccelConfig()
    elif not isinstance(cfg, AccelConfig):
        raise ValueError(f"cfg must be an AccelConfig, got {type(cfg).__name__}")
    if tol is None:
        tol = ref.DEFAULT_TOL
    elif not (isinstance(tol, (Real, np.floating)) and math.isfinite(tol) and tol > 0):
        raise ValueError(f"tol must be a positive finite number, got {tol!r}")
    X, y, classes = validate_xy(X, y, min_class_size=2, integer_features=True)
    row_search = _fixed_row_search() if arithmetic == "fixed" else None

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
        if method == "nms":
            perp = ref.effective_perplexity(cfg.perplexity, n)
            emb = ref.embed_class(D, perp, cfg, policy, tol=tol, learning_rate=learning_rate,
                                  row_search=row_search)
            history = [(perp, emb.occupancy_entropy)]
        else:
            choice = ref.choose_perplexity(None, cfg, policy=policy, tol=tol, D=D,
                                           learning_rate=learning_rate, row_search=row_search)
            emb, history = choice.embedding, choice.history
        local = ref.grid_sample(emb.Y, k)
        glob = idx[local]
        selected.append(glob)
        if progress is not None:
            progress("done", dict(info, converged_fraction=float(np.mean(emb.search.converged))))
        if return_details:
            details[label.item() if hasattr(label, "item") else label] = {
                "indices": np.sort(glob), "n": int(n), "k": int(k), "Y": emb.Y,
                "perplexity": emb.perplexity, "perplexity_history": history,
                "betas": emb.search.betas, "passes": emb.search.passes,
                "evaluations": emb.search.evaluations, "converged": emb.search.converged,
                "kl": emb.kl, "occupancy_entropy": emb.occupancy_entropy,
                "entropy_grid": emb.entropy_grid,
            }
    out = np.sort(np.concatenate(selected)).astype(np.int64)
    return (out, details) if return_details else out


__all__ = ["select", "class_budget", "validate_ratio", "validate_xy", "METHODS", "ARITHMETICS",
           "METHOD_POLICY"]
