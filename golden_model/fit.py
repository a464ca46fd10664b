"""What configuration would accept a data set: the advice appended to a size/range error.

The three size facts of an input (largest class, feature dimension, bits of the largest feature)
are compared with a configuration's ``n_max``, ``d_max`` and ``feature_bits``.  Suggestions stay
within :data:`golden_model.config.SIZE_LIMITS` (a ``--set`` is only offered when the resulting
configuration validates), presets are offered only when they accept every known fact together,
and when no setting can accept the input the advice says what the user must change instead.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from .config import PRESETS, SIZE_LIMITS, AccelConfig, ConfigError

#: The size facts, in the order they are reported, with what each one measures.
NEEDS = {"n_max": "the largest class size", "d_max": "D", "feature_bits": "the feature range"}


def _remedy(key: str, hi: int) -> str:
    if key == "n_max":
        return f"n_max is at most {hi}: split the class into classes of at most {hi} samples (or subsample it)"
    if key == "d_max":
        return f"d_max is at most {hi}: reduce the data to at most {hi} features (e.g. PCA or pooling)"
    return f"feature_bits is at most {hi}: rescale and quantise the features into 0 .. {(1 << hi) - 1}"


def feature_bits_needed(X) -> int | None:
    """Bits of the largest feature value, or None when the features are not all finite,
    integral and non-negative numbers (then no width can accept them)."""
    A = np.asarray(X)
    if A.size == 0 or A.dtype.names is not None:
        return None
    if A.dtype == bool:
        return 1
    if np.issubdtype(A.dtype, np.integer):
        if A.min() < 0:
            return None
        return max(1, int(A.max()).bit_length())
    if not np.issubdtype(A.dtype, np.floating):
        return None
    if not np.isfinite(A).all() or (A < 0).any() or (A != np.floor(A)).any():
        return None
    return max(1, int(A.max()).bit_length())


def advice(cfg: AccelConfig, needs: Mapping[str, int | None]) -> str:
    """Text to append to an error: the ``--set`` values and presets that would accept the input.

    Parameters
    ----------
    cfg : AccelConfig
        The configuration that rejected the input.
    needs : mapping
        ``{"n_max": largest class, "d_max": D, "feature_bits": bits}``; a value of None (or a
        missing key) means that fact is not known (yet), and the advice says so.
    """
    known = {k: int(needs[k]) for k in NEEDS if needs.get(k) is not None}
    beyond = [(k, v) for k, v in known.items() if v > SIZE_LIMITS[k][1]]
    if beyond:
        return ("no configuration can accept this input: "
                + "; ".join(_remedy(k, SIZE_LIMITS[k][1]) for k, _ in beyond))
    sets = {k: v for k, v in known.items() if v > getattr(cfg, k)}
    parts = []
    fits = [n for n, c in PRESETS.items() if all(getattr(c, k) >= v for k, v in known.items())]
    if len(known) == len(NEEDS):
        parts.append(("presets that would accept it: " + ", ".join(fits)) if fits
                     else "no built-in preset accepts it")
    else:
        what = " and ".join(NEEDS[k] for k in known)
        unknown = " and ".join(NEEDS[k] for k in NEEDS if k not in known)
        parts.append((f"presets large enough for {what}: " + ", ".join(fits) if fits
                      else f"no built-in preset is large enough for {what}")
                     + f" ({unknown} not checked yet)")
    if sets:
        try:
            cfg.with_overrides(**sets)
        except ConfigError:
            pass  # a combination the configuration refuses is not offered
        else:
            parts.append("or " + " ".join(f"--set {k}={v}" for k, v in sets.items()))
    return "; ".join(parts)


__all__ = ["NEEDS", "advice", "feature_bits_needed"]
