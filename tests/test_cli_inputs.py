"""Input checks of `python -m golden_model.cli select`: file-format messages, valid fit advice,
options that do not apply to the input format, label shape, early rejection of inputs that cannot
fit."""

from __future__ import annotations

import re
import time
import tracemalloc

import numpy as np
import pytest

from golden_model import cli, dataio
from golden_model.config import PRESETS, SIZE_LIMITS, get_preset
from test_cli import FAST_ARGS, _assert_fails, _npz, blobs, run

N_MAX_HI = SIZE_LIMITS["n_max"][1]
BITS_HI = SIZE_LIMITS["feature_bits"][1]


# --------------------------------------------------------------------------------------------
# 5. file-format messages
# --------------------------------------------------------------------------------------------
def test_npz_that_is_not_a_zip_file(tmp_path):
    p = tmp_path / "d.npz"
    p.write_text("x,y\n1,2\n")
    err = _assert_fails(tmp_path, [p], ["not an .npz archive", "not a zip file", "np.savez"])
    assert "object" not in err and "pickle" not in err


def test_npy_renamed_npz(tmp_path):
    X, _ = blobs()
    np.save(tmp_path / "x.npy", X)
    p = tmp_path / "x.npz"
    (tmp_path / "x.npy").rename(p)
    err = _assert_fails(tmp_path, [p], ["not an .npz archive", "is a .npy file", ".npy extension"])
    assert "object" not in err


def test_npy_that_is_not_npy(tmp_path):
    p, lp = tmp_path / "x.npy", tmp_path / "y.npy"
    p.write_bytes(b"garbage" * 10)
    np.save(lp, np.zeros(4, dtype=int))
    err = _assert_fails(tmp_path, [p, "--labels", lp], ["not a .npy file", "np.save"])
    assert "object" not in err


# --------------------------------------------------------------------------------------------
# 6. suggestions: valid settings only, presets that accept the whole input
# --------------------------------------------------------------------------------------------
def _accepting(X, y):
    """Presets that accept (X, y), found by running the validation with each of them."""
    names = []
    for name, cfg in PRESETS.items():
        try:
            dataio.validate_dataset(X, y, cfg)
        except dataio.DataError:
            continue
        names.append(name)
    return names


def _check_advice(err, X, y, cfg):
    """Every preset and every --set offered in `err` makes (X, y) acceptable, and every preset
    that accepts it is offered."""
    m = re.search(r"presets that would accept it: ([\w, ]+)", err)
    offered = m.group(1).split(", ") if m else []
    assert offered == _accepting(X, y), err
    if not offered:
        assert "no built-in preset accepts it" in err
    sets = dict(kv.split("=") for kv in re.findall(r"--set (\w+=\d+)", err))
    if sets:
        fixed = cfg.with_overrides(**{k: int(v) for k, v in sets.items()})
        dataio.validate_dataset(X, y, fixed)  # raises if the suggestion is not enough


@pytest.mark.parametrize("case", ["big_class", "wide_and_high", "wide", "class_and_range"])
def test_advice_accepts_the_whole_input(tmp_path, case):
    if case == "big_class":  # fits large only: digits has room for N but not for 0..255
        X, y = blobs(n_per_class=(12, 100, 12))
    elif case == "wide_and_high":  # D=20 and a value of 300: no preset, --set d_max and feature_bits
        X, y = blobs(d=20)
        X[5, 3] = 300
    elif case == "wide":
        X, y = blobs(d=20)
    else:  # N=100 and 0..300
        X, y = blobs(n_per_class=(12, 100, 12))
        X[0, 0] = 300
    rc, _, err = run(["select", _npz(tmp_path, X, y), "--ratio", "0.25", "--preset", "tiny"])
    assert rc == 2
    _check_advice(err, X, y, get_preset("tiny"))


def test_class_beyond_every_configuration(tmp_path):
    X = np.zeros((N_MAX_HI + 5, 2), dtype=np.int64)
    X[:, 0] = np.arange(X.shape[0]) % 256
    y = np.zeros(X.shape[0], dtype=np.int64)
    err = _assert_fails(tmp_path, [_npz(tmp_path, X, y)], [
        f"{N_MAX_HI + 5} samples", "no configuration can accept", f"n_max is at most {N_MAX_HI}",
        f"split the class into classes of at most {N_MAX_HI} samples"])
    assert "--set n_max" not in err and "would accept" not in err


def test_feature_beyond_every_configuration(tmp_path):
    X, y = blobs()
    X = X.astype(float)
    X[2, 1] = 1e20
    err = _assert_fails(tmp_path, [_npz(tmp_path, X, y)], [
        "needs feature_bits >= 67", "no configuration can accept", f"feature_bits is at most {BITS_HI}",
        f"rescale and quantise", f"0 .. {2 ** BITS_HI - 1}"])
    assert "--set feature_bits" not in err and "would accept" not in err


def test_dimension_beyond_every_configuration(tmp_path):
    d_hi = SIZE_LIMITS["d_max"][1]
    X, y = blobs(d=d_hi + 1)
    err = _assert_fails(tmp_path, [_npz(tmp_path, X, y)], [
        f"D={d_hi + 1}", f"d_max is at most {d_hi}", "reduce the data"])
    assert "--set d_max" not in err


# --------------------------------------------------------------------------------------------
# 7. one rule for options that do not apply, labels strictly 1-D
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["npz", "npy"])
@pytest.mark.parametrize("option", [("--header", "yes"), ("--header", "auto"), ("--label-column", "0")])
def test_csv_options_refused_for_arrays(tmp_path, fmt, option):
    X, y = blobs()
    if fmt == "npz":
        argv = [_npz(tmp_path, X, y)]
    else:
        np.save(tmp_path / "x.npy", X)
        np.save(tmp_path / "y.npy", y)
        argv = [tmp_path / "x.npy", "--labels", tmp_path / "y.npy"]
    _assert_fails(tmp_path, argv + list(option), [option[0], "applies to CSV input only", f".{fmt}"])


@pytest.mark.parametrize("shape", [(36, 1), (1, 36)])
def test_column_vector_labels_are_refused(tmp_path, shape):
    X, y = blobs()
    _assert_fails(tmp_path, [_npz(tmp_path, X, y.reshape(shape))], [
        "must be a 1-D array", str(shape), "y.ravel()"])


def test_column_vector_labels_file_is_refused(tmp_path):
    X, y = blobs()
    np.save(tmp_path / "x.npy", X)
    np.save(tmp_path / "y.npy", y[:, None])
    _assert_fails(tmp_path, [tmp_path / "x.npy", "--labels", tmp_path / "y.npy"], ["1-D", "(36, 1)"])


def test_header_still_applies_to_csv(tmp_path):
    X, y = blobs()
    p = tmp_path / "d.csv"
    p.write_text("".join(",".join(map(str, r)) + f",{c}\n" for r, c in zip(X, y)))
    rc, _, err = run(["select", p, "--ratio", "0.25", *FAST_ARGS, "--header", "no",
                      "--out", tmp_path / "o.json"])
    assert rc == 0, err


# --------------------------------------------------------------------------------------------
# 8. inputs that cannot fit are refused from their sizes, before they are loaded
# --------------------------------------------------------------------------------------------
def _big_csv(path, rows, classes=1):
    """A CSV larger than cli.FULL_CHECK_BYTES: `rows` rows of 3 features, labels cycling
    through `classes` values (so every class grows at the same pace)."""
    lines = ["a,b,c,label\n"] + [f"{i % 200},{(7 * i) % 256},3,{i % classes}\n" for i in range(rows)]
    path.write_text("".join(lines))
    assert path.stat().st_size > getattr(cli, "FULL_CHECK_BYTES", 0)  # (getattr: runs on old code too)
    return path


def test_huge_class_in_a_big_csv_is_refused_early(tmp_path):
    p = _big_csv(tmp_path / "big.csv", 800_000)
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        err = _assert_fails(tmp_path, [p], [
            "class 0 has more than", f"{N_MAX_HI} samples", "n_max=32", "no configuration can accept",
            "split the class"])
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert time.perf_counter() - t0 < 3.0
    assert peak < 8 << 20  # the whole file is ~10 MB; loading it would take hundreds of MB
    assert "--set n_max" not in err


def test_too_large_classes_in_a_big_csv_are_refused_before_loading(tmp_path, monkeypatch):
    p = _big_csv(tmp_path / "big.csv", 800_000, classes=2000)  # 400 samples per class
    monkeypatch.setattr(dataio, "load_csv", lambda *a, **k: pytest.fail("the CSV was loaded"))
    err = _assert_fails(tmp_path, [p], [
        "400 samples", "n_max=32", "(2000 classes too large)", "--set n_max=400",
        "presets large enough for the largest class size and D: large",
        "the feature range not checked yet"])
    assert "would accept" not in err


def test_wide_npy_is_refused_from_its_header(tmp_path, monkeypatch):
    X, y = blobs(d=40)
    np.save(tmp_path / "x.npy", X)
    np.save(tmp_path / "y.npy", y)
    monkeypatch.setattr(cli, "FULL_CHECK_BYTES", 0)  # treat it as big
    monkeypatch.setattr(dataio, "_load_npy", lambda *a, **k: pytest.fail("the features were loaded"))
    _assert_fails(tmp_path, [tmp_path / "x.npy", "--labels", tmp_path / "y.npy"], [
        "D=40", "d_max=16", "presets large enough for the largest class size and D: digits, large"])


def test_help_states_the_limits(capsys):
    cli.main(["select", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert f"n_max={N_MAX_HI}" in text and "refused before they are loaded" in text
