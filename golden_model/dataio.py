"""Loading and validation of a user's data set for exemplar selection.

The accelerator (and therefore the golden model) takes, per class, at most ``cfg.n_max`` points
of at most ``cfg.d_max`` *unsigned integer* features in ``0 .. 2**cfg.feature_bits - 1``.  This
module turns a file (``.npz``, ``.npy`` + labels, ``.csv``) into a pair ``(X, y)`` and checks it
against an :class:`~golden_model.config.AccelConfig`.  Every problem raises :class:`DataError`
(a ``ValueError``) whose message names the offending parameter/position/value and the allowed
range, so that a command-line tool can print it verbatim.

Nothing here modifies the caller's arrays: validation works on copies and returns new arrays.

Public API
----------
``load_dataset(path, labels=None, label_column=None, header=None) -> Dataset``
    Read a file; checks file existence, extension and (for CSV) that every cell is present and
    numeric.  Does not check against a configuration.
``validate_features(X, cfg)``, ``validate_labels(y, n)``, ``class_sizes(y)``,
``validate_classes(y, cfg)``, ``validate_ratio(ratio)``, ``validate_perplexity(p, sizes)``
    The individual checks (each returns a validated copy or value).
``validate_dataset(X, y, cfg, ratio=None, perplexity=None) -> ValidatedData``
    All checks at once, in the order a user would want to hear about them.
"""

from __future__ import annotations

import csv
import math
import os
import zipfile
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from .config import AccelConfig
from .fit import advice, feature_bits_needed

#: File extensions :func:`load_dataset` understands.
SUPPORTED_EXTENSIONS = (".npz", ".npy", ".csv")


class DataError(ValueError):
    """The user's data (or a data-related argument) is invalid; the message says why and what is
    allowed."""


# --------------------------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------------------------
def _cfg_name(cfg: AccelConfig) -> str:
    return f"configuration {cfg.name!r}"


def label_to_python(v: Any) -> Any:
    """A label as a plain Python ``int`` or ``str`` (JSON-serialisable, kept as given)."""
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.str_, str)):
        return str(v)
    if isinstance(v, (np.bool_, bool)):
        return bool(v)
    if isinstance(v, (np.floating, float)):
        return float(v)
    return v


def _fmt_label(v: Any) -> str:
    return repr(label_to_python(v))


def _parse_number(cell: str):
    """float(cell) or None if the cell is not a number (empty cells -> None too)."""
    try:
        return float(cell)
    except ValueError:
        return None


def _is_int_literal(s: str) -> bool:
    try:
        int(s)
        return True
    except ValueError:
        return False


# --------------------------------------------------------------------------------------------
# loading
# --------------------------------------------------------------------------------------------
@dataclass
class Dataset:
    """A loaded (not yet validated) data set.

    Attributes
    ----------
    X : ndarray
        Features as read (any numeric dtype; CSV gives float64).
    y : ndarray
        Labels as read (1-D; integers or strings).
    source : str
        Where it came from (for messages and the summary).
    feature_names : list of str or None
        CSV header names of the feature columns, when the file had a header.
    label_name : str or None
        CSV header name of the label column.
    """

    X: np.ndarray
    y: np.ndarray
    source: str
    feature_names: list | None = None
    label_name: str | None = None


def _check_file(path: str, what: str) -> None:
    if not os.path.exists(path):
        raise DataError(f"{what} file {path!r} does not exist")
    if os.path.isdir(path):
        raise DataError(f"{what} file {path!r} is a directory, not a file")


#: First bytes of a .npy file and of a zip archive (.npz).
NPY_MAGIC = b"\x93NUMPY"
ZIP_MAGIC = b"PK\x03\x04"


def _magic(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read(6)


def _load_npy(path: str, what: str) -> np.ndarray:
    _check_file(path, what)
    head = _magic(path)
    if head.startswith(ZIP_MAGIC):
        raise DataError(f"{what} file {path!r} is an .npz archive; give it the .npz extension")
    if head != NPY_MAGIC:
        raise DataError(f"{what} file {path!r} is not a .npy file (it does not start with the .npy "
                        f"signature); write it with np.save")
    try:
        arr = np.load(path, allow_pickle=False)
    except ValueError as e:
        if "allow_pickle" in str(e) or "Object arrays" in str(e):
            raise DataError(
                f"{what} file {path!r} holds a Python-object array (dtype=object), which is not "
                f"loaded for safety; save it as a numeric or string array "
                f"(e.g. np.save(path, np.asarray(a, dtype=str)))") from None
        raise DataError(f"{what} file {path!r} is not a valid .npy file: {e}") from None
    except (OSError, EOFError) as e:
        raise DataError(f"{what} file {path!r} is not a valid .npy file: {e}") from None
    if isinstance(arr, np.lib.npyio.NpzFile):  # an .npz renamed to .npy
        arr.close()
        raise DataError(f"{what} file {path!r} is an .npz archive; give it the .npz extension")
    if arr.dtype.names is not None:
        raise DataError(
            f"{what} file {path!r} holds a structured array (fields {list(arr.dtype.names)}); "
            f"save the features and labels as separate arrays instead: "
            f"np.savez(path, X=features, y=labels) and pass the .npz file")
    return arr


def _load_npz(path: str):
    _check_file(path, "input")
    if not zipfile.is_zipfile(path):  # np.load would take it for a pickle
        kind = ("a .npy file; give it the .npy extension (and the labels with --labels)"
                if _magic(path) == NPY_MAGIC else "not a zip file")
        raise DataError(f"input file {path!r} is not an .npz archive: it is {kind}; an .npz input is "
                        f"written by np.savez(path, X=features, y=labels)")
    try:
        with np.load(path, allow_pickle=False) as z:
            names = list(z.files)
            if "X" not in names:
                raise DataError(f"input file {path!r} has no array 'X' (it holds {names}); an .npz "
                                f"input needs arrays 'X' (features, n_samples x n_features) and 'y' (labels)")
            X = z["X"]
            y = z["y"] if "y" in names else None
    except DataError:
        raise
    except ValueError as e:
        if "allow_pickle" in str(e) or "Object arrays" in str(e):
            raise DataError(f"input file {path!r} holds a Python-object array (dtype=object), which is "
                            f"not loaded for safety; save X as a numeric array and y as an integer "
                            f"or string array") from None
        raise DataError(f"input file {path!r} is not a valid .npz archive: {e}") from None
    except (OSError, EOFError, zipfile.BadZipFile) as e:
        raise DataError(f"input file {path!r} is not a valid .npz archive: {e}") from None
    for nm, a in (("X", X), ("y", y)):
        if a is not None and a.dtype.names is not None:
            raise DataError(f"array {nm!r} in {path!r} is a structured array; store plain arrays")
    return X, y, names


def _resolve_label_column(spec, header: list | None, ncols: int) -> int:
    """Column index of the label column from a name, an index (int or digit string) or None."""
    if spec is None:
        return ncols - 1
    if isinstance(spec, str):
        if header is not None and spec in header:
            if header.count(spec) > 1:
                raise DataError(f"label column name {spec!r} occurs {header.count(spec)} times in the CSV header")
            return header.index(spec)
        if not _is_int_literal(spec.strip()):
            if header is None:
                raise DataError(f"label column {spec!r} is a name but the CSV file has no header row; "
                                f"give the column index instead (allowed {-ncols} .. {ncols - 1})")
            raise DataError(f"label column {spec!r} not found in the CSV header; columns are {header}")
        spec = int(spec.strip())
    if isinstance(spec, bool) or not isinstance(spec, (int, np.integer)):
        raise DataError(f"label column must be a column name or index, got {spec!r}")
    if not -ncols <= spec < ncols:
        raise DataError(f"label column index {spec} is out of range: allowed {-ncols} .. {ncols - 1} "
                        f"({ncols} columns)")
    return int(spec) % ncols


def _row_is_header(row: list, skip: int | None) -> bool:
    """Auto-detection: the first row is a header when none of its cells (except the label column,
    whose values may legitimately be strings) parses as a number."""
    cells = [c for j, c in enumerate(row) if skip is None or j != skip % len(row)]
    if not cells:  # single-column file: look at the one cell
        cells = row
    return all(_parse_number(c.strip()) is None and c.strip() != "" for c in cells)


def _csv_labels(raw: list) -> np.ndarray:
    """Labels from CSV cells: integers when every cell is an integer (``1`` or ``1.0``), otherwise
    the strings as written (stripped)."""
    if all(_is_int_literal(s) for s in raw):
        return np.array([int(s) for s in raw], dtype=np.int64)
    nums = [_parse_number(s) for s in raw]
    if all(v is not None and math.isfinite(v) and v == int(v) for v in nums):
        return np.array([int(v) for v in nums], dtype=np.int64)
    return np.array(raw, dtype=str)


def csv_layout(first: list, label_column, header: str, has_labels: bool) -> tuple:
    """From the first non-blank row: ``(is_header, header names or None, label column index or
    None)`` (see :func:`load_csv` for the rules)."""
    if header not in ("auto", "yes", "no"):
        raise DataError(f"header must be one of auto, yes, no; got {header!r}")
    ncols = len(first)
    if not has_labels and label_column is not None:
        raise DataError("a label column cannot be chosen when the labels are given in a separate file")
    # The label column index may depend on the header; for auto-detection use the numeric spec
    # (or the last column) to know which cell may hold a string.
    guess = None
    if has_labels:
        if label_column is None:
            guess = ncols - 1
        elif isinstance(label_column, (int, np.integer)) and not isinstance(label_column, bool):
            guess = int(label_column)
        elif isinstance(label_column, str) and label_column in [c.strip() for c in first]:
            guess = [c.strip() for c in first].index(label_column)
        elif isinstance(label_column, str) and _is_int_literal(label_column.strip()):
            guess = int(label_column.strip())
    if header == "yes":
        is_header = True
    elif header == "no":
        is_header = False
    else:
        is_header = _row_is_header(first, guess if (guess is not None and -ncols <= guess < ncols) else None)
    names = [c.strip() for c in first] if is_header else None
    lab = _resolve_label_column(label_column, names, ncols) if has_labels else None
    return is_header, names, lab


def load_csv(path: str, label_column=None, header: str = "auto", has_labels: bool = True) -> Dataset:
    """Read a numeric CSV file (comma separated).

    Parameters
    ----------
    label_column : str, int or None
        The label column: a header name, or an index (negative counts from the end); default the
        last column.  A string of digits is taken as a name when the header has such a column,
        else as an index.
    header : "auto", "yes" or "no"
        Whether the first row is a header.  ``"auto"``: it is when none of its feature cells is a
        number.
    has_labels : bool
        False when the labels come from elsewhere (every column is then a feature).
    """
    _check_file(path, "input")
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = [(ln, r) for ln, r in enumerate(csv.reader(f), start=1)]
    except UnicodeDecodeError as e:
        raise DataError(f"input file {path!r} is not a UTF-8 text CSV file ({e.reason} at byte {e.start})") from None
    except csv.Error as e:
        raise DataError(f"input file {path!r} is not a valid CSV file: {e}") from None
    # skip blank lines
    rows = [(ln, r) for ln, r in rows if any(c.strip() for c in r)]
    if not rows:
        raise DataError(f"input file {path!r} is empty (no rows)")
    first_ln, first = rows[0]
    ncols = len(first)
    is_header, names, lab = csv_layout(first, label_column, header, has_labels)
    data = rows[1:] if is_header else rows
    if not data:
        raise DataError(f"input file {path!r} has a header but no data rows")
    feat_cols = [j for j in range(ncols) if j != lab]
    if not feat_cols:
        raise DataError(f"input file {path!r} has only the label column; at least one feature column is needed")

    def col_desc(j: int) -> str:
        fj = feat_cols.index(j)
        return f"column {fj}" + (f" ({names[j]!r})" if names else "")

    X = np.empty((len(data), len(feat_cols)), dtype=np.float64)
    y_raw: list = []
    for i, (ln, r) in enumerate(data):
        if len(r) != ncols:
            raise DataError(f"input file {path!r}: line {ln} has {len(r)} fields, expected {ncols} "
                            f"(like line {first_ln})")
        for fj, j in enumerate(feat_cols):
            cell = r[j].strip()
            if cell == "":
                raise DataError(f"missing value at row {i} (file line {ln}), {col_desc(j)}: every feature "
                                f"cell must hold an unsigned integer")
            v = _parse_number(cell)
            if v is None:
                raise DataError(f"non-numeric value {cell!r} at row {i} (file line {ln}), {col_desc(j)}: "
                                f"features must be unsigned integers")
            X[i, fj] = v
        if lab is not None:
            cell = r[lab].strip()
            if cell == "":
                raise DataError(f"missing label at row {i} (file line {ln}), label column "
                                f"{lab}" + (f" ({names[lab]!r})" if names else ""))
            y_raw.append(cell)
    y = _csv_labels(y_raw) if lab is not None else np.empty(0)
    return Dataset(X=X, y=y, source=path,
                   feature_names=[names[j] for j in feat_cols] if names else None,
                   label_name=names[lab] if (names and lab is not None) else None)


def load_dataset(path: str, labels: str | None = None, label_column=None, header: str | None = None) -> Dataset:
    """Load features and labels from `path`.

    * ``.npz``: arrays ``X`` (n_samples x n_features) and ``y`` (n_samples labels); `labels` may
      supply ``y`` instead when the archive has none.
    * ``.npy``: the feature matrix; the labels must come from `labels` (a 1-D ``.npy``).
    * ``.csv``: numeric feature columns plus one label column (see :func:`load_csv`); with
      `labels` every column is a feature.

    `label_column` and `header` (None means ``"auto"``) apply to CSV input only; given for
    another format they are refused rather than ignored.

    Raises :class:`DataError` for a missing file, an unknown extension, an unreadable file or a
    missing/non-numeric CSV cell.  Range checks against a configuration are
    :func:`validate_dataset`'s job.
    """
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower()
    if ext not in SUPPORTED_EXTENSIONS:
        raise DataError(f"unsupported input file extension {ext or '(none)'!r} of {path!r}: "
                        f"allowed {', '.join(SUPPORTED_EXTENSIONS)}")
    _check_file(path, "input")
    if labels is not None:
        labels = os.fspath(labels)
        lext = os.path.splitext(labels)[1].lower()
        if lext != ".npy":
            raise DataError(f"unsupported labels file extension {lext or '(none)'!r} of {labels!r}: allowed .npy")
    if ext != ".csv":
        for opt, val in (("--label-column", label_column), ("--header", header)):
            if val is not None:
                raise DataError(f"{opt} applies to CSV input only; {path!r} is a {ext} file")
    if ext == ".npz":
        X, y, names = _load_npz(path)
        if labels is not None:
            if y is not None:
                raise DataError(f"labels given twice: {path!r} has an array 'y' and a labels file "
                                f"{labels!r} was given; use one")
            y = _load_npy(labels, "labels")
        if y is None:
            raise DataError(f"input file {path!r} has no array 'y' (it holds {names}); store the labels "
                            f"as 'y' or give them with a labels .npy file")
        return Dataset(X=X, y=y, source=path)
    if ext == ".npy":
        X = _load_npy(path, "input")
        if labels is None:
            raise DataError(f"a .npy input holds only the features; give the labels with a labels .npy file "
                            f"(--labels LABELS.npy), or use an .npz with arrays 'X' and 'y', or a CSV file")
        y = _load_npy(labels, "labels")
        return Dataset(X=X, y=y, source=path)
    # .csv
    ds = load_csv(path, label_column=label_column, header=header or "auto", has_labels=labels is None)
    if labels is not None:
        ds.y = _load_npy(labels, "labels")
    return ds


# --------------------------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------------------------
def validate_features(X, cfg: AccelConfig, name: str = "X", feature_names: Sequence[str] | None = None,
                      needs: dict | None = None) -> np.ndarray:
    """Check the feature matrix against `cfg`; return a new int64 array.

    Requirements: 2-D (n_samples, n_features) with n_samples >= 1; 1 <= n_features <= cfg.d_max;
    numeric, finite, integral values in ``0 .. 2**cfg.feature_bits - 1`` (the accelerator takes
    unsigned integer features).  The first offending entry is named by row/column (0-based sample
    and feature indices; with `feature_names` the column's name is added).  `needs` (see
    :func:`golden_model.fit.advice`) describes the whole input for the advice of a size error;
    by default it is derived from `X` alone.
    """
    A = np.asarray(X)
    if A.dtype.names is not None:
        raise DataError(f"{name} is a structured array; pass a plain 2-D numeric array")
    if A.ndim != 2:
        raise DataError(f"{name} must be a 2-D array (n_samples, n_features), got {A.ndim}-D with shape {A.shape}")
    n, d = A.shape
    if n == 0:
        raise DataError(f"{name} has no rows (shape {A.shape}); at least 2 samples per class are needed")
    if d == 0:
        raise DataError(f"{name} has no feature columns (shape {A.shape}); allowed 1 .. d_max={cfg.d_max}")
    if needs is None:
        needs = {"d_max": d, "feature_bits": feature_bits_needed(A)}
    if d > cfg.d_max:
        raise DataError(
            f"{name} has D={d} features; {_cfg_name(cfg)} allows D in 1 .. d_max={cfg.d_max} "
            f"({advice(cfg, needs)})")
    hi = cfg.feature_max
    rng = f"allowed 0 .. {hi} (unsigned {cfg.feature_bits}-bit integers, feature_bits={cfg.feature_bits})"
    if A.dtype == bool:
        return A.astype(np.int64)
    if np.issubdtype(A.dtype, np.complexfloating) or not (
            np.issubdtype(A.dtype, np.integer) or np.issubdtype(A.dtype, np.floating)):
        raise DataError(f"{name} must be numeric (unsigned integer features), got dtype {A.dtype}")

    def where(mask) -> tuple:
        r, c = (int(v) for v in np.argwhere(mask)[0])
        return r, c, int(np.count_nonzero(mask))

    def col(c: int) -> str:
        if feature_names is not None and len(feature_names) == d:
            return f"column {c} ({feature_names[c]!r})"
        return f"column {c}"

    if np.issubdtype(A.dtype, np.floating):
        nonfinite = ~np.isfinite(A)
        if nonfinite.any():
            r, c, cnt = where(nonfinite)
            kind = "a NaN" if np.isnan(A[r, c]) else f"an infinite value ({float(A[r, c])})"
            raise DataError(f"{name} contains {kind} at row {r}, {col(c)} "
                            f"({cnt} non-finite value(s) in total): features must be finite unsigned integers, {rng}")
        frac = A != np.floor(A)
        if frac.any():
            r, c, cnt = where(frac)
            raise DataError(f"{name} has a non-integer feature {float(A[r, c])!r} at row {r}, {col(c)} "
                            f"({cnt} in total): the hardware takes unsigned integer features, {rng}; "
                            f"quantise your data first")
    neg = A < 0
    if neg.any():
        r, c, cnt = where(neg)
        v = A[r, c]
        v = int(v) if np.issubdtype(A.dtype, np.integer) else float(v)
        raise DataError(f"{name} has a negative feature {v!r} at row {r}, {col(c)} ({cnt} in total): "
                        f"the hardware takes unsigned integer features, {rng}")
    big = A > hi
    if big.any():
        r, c, cnt = where(big)
        v = A[r, c]
        v = int(v) if np.issubdtype(A.dtype, np.integer) else float(v)
        need = max(1, int(np.max(A)).bit_length())
        raise DataError(f"{name} has a feature {v!r} at row {r}, {col(c)} out of range ({cnt} in total): "
                        f"{rng} for {_cfg_name(cfg)} "
                        f"(max value {int(np.max(A))} needs feature_bits >= {need}; "
                        f"{advice(cfg, dict(needs, feature_bits=need))})")
    return A.astype(np.int64)  # always a copy


def validate_labels(y, n: int, name: str = "y") -> np.ndarray:
    """Check the labels: 1-D, `n` entries, integers or strings (integral floats become ints).
    Returns a new array.  A column vector (n, 1) is refused like any other 2-D array."""
    a = np.asarray(y)
    if a.dtype.names is not None:
        raise DataError(f"labels {name} are a structured array; pass a 1-D array of integers or strings")
    if a.ndim != 1:
        hint = "; flatten them first (e.g. y.ravel())" if a.ndim == 2 and 1 in a.shape else ""
        raise DataError(f"labels {name} must be a 1-D array (one label per sample), got shape {a.shape}{hint}")
    if a.shape[0] != n:
        raise DataError(f"length mismatch: {a.shape[0]} labels but X has {n} rows (samples); "
                        f"exactly one label per row is required")
    if a.dtype == bool or np.issubdtype(a.dtype, np.integer):
        return a.astype(np.int64) if a.dtype != np.uint64 else a.copy()
    if a.dtype.kind in ("U", "S"):
        s = a.astype(str)
        empty = np.flatnonzero(np.char.strip(s) == "")
        if empty.size:
            raise DataError(f"labels {name} have an empty (missing) label at row {int(empty[0])}")
        return s.copy()
    if np.issubdtype(a.dtype, np.floating):
        bad = ~np.isfinite(a)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DataError(f"labels {name} contain a missing/non-finite label ({float(a[i])}) at row {i}; "
                            f"labels must be integers or strings")
        frac = a != np.floor(a)
        if frac.any():
            i = int(np.flatnonzero(frac)[0])
            raise DataError(f"labels {name} contain a non-integer label {float(a[i])!r} at row {i}; "
                            f"labels must be integers or strings")
        return a.astype(np.int64)
    raise DataError(f"labels {name} must be integers or strings, got dtype {a.dtype}")


def class_sizes(y) -> dict:
    """``{label: count}`` in sorted label order, labels as Python ints/strings."""
    labels, counts = np.unique(np.asarray(y), return_counts=True)
    return {label_to_python(l): int(c) for l, c in zip(labels, counts)}


def validate_classes(y, cfg: AccelConfig, needs: dict | None = None) -> dict:
    """Every class must have 2 .. cfg.n_max samples.  Returns :func:`class_sizes`.  `needs`: the
    rest of the input's size facts, for the advice (:func:`golden_model.fit.advice`)."""
    sizes = class_sizes(y)
    for lab, cnt in sizes.items():
        if cnt < 2:
            raise DataError(f"class {lab!r} has {cnt} sample; allowed class size 2 .. n_max={cfg.n_max}: "
                            f"every class needs at least 2 samples (drop or merge that class)")
    big = {l: c for l, c in sizes.items() if c > cfg.n_max}
    if big:
        lab, cnt = max(big.items(), key=lambda kv: kv[1])
        more = f" ({len(big)} classes too large)" if len(big) > 1 else ""
        raise DataError(
            f"class {lab!r} has {cnt} samples; allowed class size 2 .. n_max={cfg.n_max} for "
            f"{_cfg_name(cfg)}{more} ({advice(cfg, dict(needs or {}, n_max=cnt))})")
    return sizes


def validate_ratio(ratio) -> float:
    """The per-class budget ratio r must be a number in (0, 1]."""
    if isinstance(ratio, bool):
        raise DataError(f"ratio must be a number in (0, 1], got {ratio!r}")
    try:
        r = float(ratio)
    except (TypeError, ValueError):
        raise DataError(f"ratio must be a number in (0, 1], got {ratio!r}") from None
    if not math.isfinite(r) or not 0.0 < r <= 1.0:
        raise DataError(f"ratio={ratio!r} is out of range: allowed (0, 1] (fraction of each class to keep)")
    return r


def validate_perplexity(perplexity, sizes: dict, name: str = "perplexity") -> float:
    """A user-given target perplexity must exceed 1 and be below the size of every class.

    (Inside that range the golden model still clamps it per class to ``max(1, (N - 1)/2)``, see
    :func:`golden_model.reference.effective_perplexity`.)
    """
    if isinstance(perplexity, bool):
        raise DataError(f"{name} must be a number > 1, got {perplexity!r}")
    try:
        p = float(perplexity)
    except (TypeError, ValueError):
        raise DataError(f"{name} must be a number > 1, got {perplexity!r}") from None
    if not math.isfinite(p) or p <= 1.0:
        raise DataError(f"{name}={perplexity!r} is out of range: allowed 1 < perplexity < smallest class size")
    if sizes:
        lab, n = min(sizes.items(), key=lambda kv: (kv[1], str(kv[0])))
        if p >= n:
            raise DataError(f"{name}={perplexity!r} is not below the size of class {lab!r} ({n} samples): "
                            f"allowed 1 < perplexity < {n} for this data (smallest class)")
    return p


def effective_perplexity(perplexity: float, n: int) -> float:
    """The perplexity actually used for a class of `n` points (same rule as the reference model)."""
    from .reference import effective_perplexity as _eff
    return _eff(perplexity, n)


@dataclass
class ValidatedData:
    """Validated copies of the user's data."""

    X: np.ndarray              # int64 (N, D), values in 0 .. cfg.feature_max
    y: np.ndarray              # int64 or str, (N,)
    sizes: dict                # {label: N_c} in sorted label order
    ratio: float | None = None
    perplexity: float | None = None


def input_needs(X, y) -> dict:
    """The size facts of ``(X, y)`` for :func:`golden_model.fit.advice`: largest class, D and
    feature bits (None for a fact that cannot be established, e.g. labels of the wrong length)."""
    A = np.asarray(X)
    needs = {"n_max": None, "d_max": A.shape[1] if A.ndim == 2 else None,
             "feature_bits": feature_bits_needed(A) if A.ndim == 2 else None}
    if A.ndim == 2:
        try:
            sizes = class_sizes(validate_labels(y, A.shape[0]))
            needs["n_max"] = max(sizes.values()) if sizes else None
        except DataError:
            pass  # reported by validate_labels in its turn
    return needs


def validate_dataset(X, y, cfg: AccelConfig, ratio=None, perplexity=None,
                     feature_names: Sequence[str] | None = None) -> ValidatedData:
    """All checks for selecting exemplars from ``(X, y)`` with `cfg`.

    Order: ratio, X shape/type/range, labels (length), class sizes, perplexity.  The inputs are
    never modified; the returned arrays are new.
    """
    r = validate_ratio(ratio) if ratio is not None else None
    needs = input_needs(X, y)
    Xv = validate_features(X, cfg, feature_names=feature_names, needs=needs)
    yv = validate_labels(y, Xv.shape[0])
    sizes = validate_classes(yv, cfg, needs=needs)
    p = validate_perplexity(perplexity, sizes) if perplexity is not None else None
    return ValidatedData(X=Xv, y=yv, sizes=sizes, ratio=r, perplexity=p)


__all__ = [
    "DataError", "Dataset", "ValidatedData", "SUPPORTED_EXTENSIONS", "load_dataset", "load_csv",
    "validate_features", "validate_labels", "validate_classes", "class_sizes", "validate_ratio",
    "validate_perplexity", "validate_dataset", "effective_perplexity", "label_to_python", "csv_layout",
    "input_needs",
]
