"""Cheap early rejection of inputs that cannot fit a configuration, before they are loaded.

:func:`precheck` looks only at the sizes: the feature dimension D (first CSV row, the .npy
header, the header of the ``X.npy`` member of an .npz) and the class sizes (one streaming pass
over the CSV label column counting labels, or the labels array, which is small).  Memory stays
bounded by the number of distinct labels; a CSV class larger than the largest ``n_max`` any
configuration allows stops the pass at once.

Anything it cannot read it leaves alone: :func:`golden_model.dataio.load_dataset` and
:func:`golden_model.dataio.validate_dataset` then report the problem precisely.  The counts are
never larger than the final ones (CSV labels are counted as the stripped text), so an input that
passes the full validation is never refused here.
"""

from __future__ import annotations

import csv
import os
import zipfile
from collections import Counter

import numpy as np

from .config import SIZE_LIMITS, AccelConfig
from .dataio import NPY_MAGIC, DataError, csv_layout, label_to_python
from .fit import advice


def _npy_shape(f) -> tuple | None:
    """Shape from an open .npy stream's header, or None if it is not a plain .npy header."""
    try:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, _, _ = np.lib.format.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, _, _ = np.lib.format.read_array_header_2_0(f)
        else:
            return None
    except (ValueError, OSError, EOFError):
        return None
    return tuple(shape)


def _label_counts(path: str) -> Counter | None:
    """Class sizes from a labels array (.npy path or ``(npz, member)``), None if unreadable."""
    try:
        y = np.load(path, allow_pickle=False) if isinstance(path, str) else path[0][path[1]]
    except Exception:  # noqa: BLE001 - any problem is reported by the full load
        return None
    if not isinstance(y, np.ndarray) or y.ndim != 1:
        return None
    labels, counts = np.unique(y, return_counts=True)
    return Counter({label_to_python(l): int(c) for l, c in zip(labels, counts)})


def _check_d(path: str, d: int | None, cfg: AccelConfig, counts: Counter | None = None) -> None:
    if d is not None and d > cfg.d_max:
        n = max(counts.values()) if counts else None
        raise DataError(f"input file {path!r} has D={d} features; configuration {cfg.name!r} allows D in "
                        f"1 .. d_max={cfg.d_max} ({advice(cfg, {'d_max': d, 'n_max': n})})")


def _shown(label):
    """A CSV label cell as the full load will read it when it is an integer (``7`` -> 7)."""
    if isinstance(label, str):
        try:
            return int(label)
        except ValueError:
            return label
    return label


def _check_counts(counts: Counter, d: int | None, cfg: AccelConfig) -> None:
    big = {l: c for l, c in counts.items() if c > cfg.n_max}
    if big:
        lab, cnt = max(big.items(), key=lambda kv: kv[1])
        lab = _shown(lab)
        more = f" ({len(big)} classes too large)" if len(big) > 1 else ""
        raise DataError(f"class {lab!r} has {cnt} samples; allowed class size 2 .. n_max={cfg.n_max} for "
                        f"configuration {cfg.name!r}{more} ({advice(cfg, {'n_max': cnt, 'd_max': d})})")


def _csv(path: str, cfg: AccelConfig, label_column, header: str, has_labels: bool) -> tuple:
    """Stream the CSV: D from the first row, class sizes from the label column (or the number of
    data rows when the labels come from a file).  Returns ``(D, rows)``."""
    hard = SIZE_LIMITS["n_max"][1]
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            rows = (r for r in reader if any(c.strip() for c in r))
            first = next(rows, None)
            if first is None:
                return None, None
            is_header, _, lab = csv_layout(first, label_column, header, has_labels)
            d = len(first) - (lab is not None)
            _check_d(path, d, cfg)
            if lab is None:
                return d, sum(1 for _ in rows) + (not is_header)
            counts: Counter = Counter()
            if not is_header:
                counts[first[lab].strip()] += 1
            for r in rows:
                if len(r) > lab:
                    key = r[lab].strip()
                    counts[key] += 1
                    if counts[key] > hard:  # nothing can hold it: no need to read on
                        raise DataError(
                            f"class {_shown(key)!r} has more than {hard} samples (counted up to line "
                            f"{reader.line_num} of {path!r}); allowed class size 2 .. n_max={cfg.n_max} "
                            f"for configuration {cfg.name!r} ({advice(cfg, {'n_max': hard + 1})})")
    except (UnicodeDecodeError, csv.Error):
        return None, None  # reported by the full load
    _check_counts(counts, d, cfg)
    return d, sum(counts.values())


def precheck(path: str, cfg: AccelConfig, labels: str | None = None, label_column=None,
             header: str | None = None) -> None:
    """Raise :class:`DataError` when the input's D or a class size cannot fit `cfg`, without
    loading the features.  Silently returns when something cannot be read cheaply."""
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower()
    if not os.path.isfile(path):
        return
    counts = None
    d = rows = None
    if labels is not None and os.path.isfile(labels):
        with open(labels, "rb") as f:
            ok = f.read(6) == NPY_MAGIC
        counts = _label_counts(os.fspath(labels)) if ok else None
    if ext == ".csv":
        d, rows = _csv(path, cfg, label_column, header or "auto", labels is None)
    elif ext == ".npy":
        with open(path, "rb") as f:
            shape = _npy_shape(f)
        if shape is not None and len(shape) == 2:
            d, rows = shape[1], shape[0]
    elif ext == ".npz" and zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as z, z.open("X.npy") as m:
                shape = _npy_shape(m)
        except (KeyError, OSError, zipfile.BadZipFile, RuntimeError):
            shape = None
        if shape is not None and len(shape) == 2:
            d, rows = shape[1], shape[0]
        if labels is None:
            try:
                with np.load(path, allow_pickle=False) as z:
                    if "y" in z.files:
                        counts = _label_counts((z, "y"))
            except Exception:  # noqa: BLE001 - reported by the full load
                counts = None
    if counts is not None and sum(counts.values()) != rows:
        counts = None  # a length mismatch (or unknown length) is the full validation's to report
    _check_d(path, d, cfg, counts)
    if counts:
        _check_counts(counts, d, cfg)


__all__ = ["precheck"]
