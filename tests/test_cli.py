"""Tests of the user-facing command (golden_model.cli) and of the data loading/validation
(golden_model.dataio).

Every run uses a reduced-cost configuration (preset tiny, short t-SNE) so the suite takes seconds.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from golden_model import dataio
from golden_model.cli import main
from golden_model.config import get_preset
from golden_model.select import select

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Reduced-cost settings shared by the CLI runs and the direct select() calls.
FAST = {"tsne_iters": 60, "tsne_exaggeration_iters": 20}
FAST_ARGS = ["--preset", "tiny"] + [a for k, v in FAST.items() for a in ("--set", f"{k}={v}")]
TINY = get_preset("tiny").with_overrides(**FAST)
SENTINEL = b"previous results - must survive a failed run\n"


def run(argv):
    """main(argv) -> (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    rc = main([str(a) for a in argv], stdout=out, stderr=err)
    return rc, out.getvalue(), err.getvalue()


def blobs(n_per_class=(12, 12, 12), d=6, seed=0, hi=255):
    rng = np.random.default_rng(seed)
    Xs, ys = [], []
    for c, n in enumerate(n_per_class):
        spread = max(1, hi // 8)
        centre = rng.integers(spread, hi - spread + 1, d)
        Xs.append(np.clip(centre + rng.integers(-spread, spread + 1, (n, d)), 0, hi))
        ys.append(np.full(n, c))
    return np.vstack(Xs).astype(np.int64), np.concatenate(ys)


def write_csv(path, X, y, header=True, label_first=False, names=None):
    d = X.shape[1]
    names = names or [f"f{j}" for j in range(d)]
    with open(path, "w") as f:
        if header:
            cols = (["label"] + names) if label_first else (names + ["label"])
            f.write(",".join(cols) + "\n")
        for row, lab in zip(X, y):
            cells = [str(v) for v in row]
            cells = ([str(lab)] + cells) if label_first else (cells + [str(lab)])
            f.write(",".join(cells) + "\n")


# --------------------------------------------------------------------------------------------
# bad input: exit 2, precise message, nothing written
# --------------------------------------------------------------------------------------------
def _npz(tmp, X, y, name="data.npz"):
    p = tmp / name
    np.savez(p, X=X, y=y)
    return p


def case_missing_file(tmp):
    return [tmp / "nope.npz"], ["does not exist", "nope.npz"]


def case_unknown_extension(tmp):
    p = tmp / "data.txt"
    p.write_text("1,2,0\n")
    return [p], ["extension", ".txt", ".npz", ".npy", ".csv"]


def case_csv_missing_cell(tmp):
    p = tmp / "d.csv"
    p.write_text("a,b,label\n1,2,0\n3,,0\n4,5,1\n6,7,1\n")
    return [p], ["missing value", "row 1", "line 3", "column 1", "'b'"]


def case_csv_non_numeric(tmp):
    p = tmp / "d.csv"
    p.write_text("a,b,label\n1,2,0\n3,x7,0\n4,5,1\n6,7,1\n")
    return [p], ["non-numeric", "'x7'", "row 1", "column 1", "unsigned integer"]


def case_csv_ragged(tmp):
    p = tmp / "d.csv"
    p.write_text("a,b,label\n1,2,0\n3,4,5,0\n4,5,1\n6,7,1\n")
    return [p], ["line 3", "4 fields", "expected 3"]


def case_csv_label_column_unknown(tmp):
    p = tmp / "d.csv"
    p.write_text("a,b,label\n1,2,0\n3,4,0\n4,5,1\n6,7,1\n")
    return [p, "--label-column", "klass"], ["'klass'", "not found", "['a', 'b', 'label']"]


def case_csv_label_column_index(tmp):
    p = tmp / "d.csv"
    p.write_text("a,b,label\n1,2,0\n3,4,0\n4,5,1\n6,7,1\n")
    return [p, "--label-column", "5"], ["label column index 5", "allowed -3 .. 2"]


def case_nan(tmp):
    X, y = blobs()
    X = X.astype(float)
    X[4, 2] = np.nan
    return [_npz(tmp, X, y)], ["NaN", "row 4", "column 2", "finite"]


def case_inf(tmp):
    X, y = blobs()
    X = X.astype(float)
    X[7, 1] = np.inf
    return [_npz(tmp, X, y)], ["infinite", "row 7", "column 1"]


def case_csv_nan(tmp):
    X, y = blobs()
    p = tmp / "d.csv"
    write_csv(p, X, y)
    lines = p.read_text().splitlines()
    lines[3] = "nan," + lines[3].split(",", 1)[1]
    p.write_text("\n".join(lines) + "\n")
    return [p], ["NaN", "row 2", "column 0"]


def case_non_integer(tmp):
    X, y = blobs()
    X = X.astype(float)
    X[3, 5] = 12.5
    return [_npz(tmp, X, y)], ["non-integer", "12.5", "row 3", "column 5", "unsigned integer",
                               "0 .. 255"]


def case_negative(tmp):
    X, y = blobs()
    X[9, 0] = -3
    return [_npz(tmp, X, y)], ["negative", "-3", "row 9", "column 0", "0 .. 255", "feature_bits=8"]


def case_too_large(tmp):
    X, y = blobs()
    X[2, 4] = 256
    return [_npz(tmp, X, y)], ["256", "row 2", "column 4", "out of range", "0 .. 255",
                               "feature_bits=8", "feature_bits >= 9"]


def case_too_large_narrow_width(tmp):
    X, y = blobs(hi=15)
    X[1, 1] = 16
    return [_npz(tmp, X, y), "--set", "feature_bits=4"], ["16", "row 1", "column 1", "0 .. 15",
                                                         "feature_bits=4"]


def case_length_mismatch(tmp):
    X, y = blobs()
    return [_npz(tmp, X, y[:-1])], ["length mismatch", "35 labels", "36 rows"]


def case_too_many_features(tmp):
    X, y = blobs(d=17)
    return [_npz(tmp, X, y)], ["D=17", "d_max=16", "1 .. d_max", "'tiny'"]


def case_not_2d(tmp):
    X, y = blobs()
    p = tmp / "x.npy"
    np.save(p, X.ravel()[:36])
    lp = tmp / "y.npy"
    np.save(lp, y)
    return [p, "--labels", lp], ["2-D", "(n_samples, n_features)", "(36,)"]


def case_3d(tmp):
    X, y = blobs()
    return [_npz(tmp, X.reshape(36, 3, 2), y)], ["2-D", "3-D", "(36, 3, 2)"]


def case_singleton_class(tmp):
    X, y = blobs()
    y = y.copy()
    y[0] = 7
    return [_npz(tmp, X, y)], ["class 7", "1 sample", "2 .. n_max=32"]


def case_class_too_large(tmp):
    X, y = blobs(n_per_class=(12, 33, 12))
    return [_npz(tmp, X, y)], ["class 1", "33 samples", "2 .. n_max=32", "'tiny'"]


def case_string_class_too_small(tmp):
    X, y = blobs()
    ys = np.array(["cat"] * 12 + ["dog"] * 23 + ["emu"])
    return [_npz(tmp, X, ys)], ["class 'emu'", "1 sample", "at least 2"]


@pytest.mark.parametrize("bad", ["0", "-0.1", "1.5", "nan", "inf", "abc"])
def test_ratio_out_of_range(tmp_path, bad):
    X, y = blobs()
    _assert_fails(tmp_path, [_npz(tmp_path, X, y), "--ratio", bad],
                  ["ratio", "(0, 1]"], ratio=None)


def case_perplexity_not_below_class(tmp):
    X, y = blobs(n_per_class=(12, 6, 12))
    return [_npz(tmp, X, y), "--perplexity", "6"], ["perplexity", "class 1", "6 samples",
                                                    "1 < perplexity < 6"]


def case_perplexity_nms_set(tmp):
    X, y = blobs(n_per_class=(12, 6, 12))
    return [_npz(tmp, X, y), "--method", "nms", "--set", "perplexity=8"], [
        "perplexity=8", "class 1", "6 samples", "< 6"]


def case_perplexity_candidates_set(tmp):
    X, y = blobs(n_per_class=(12, 5, 12))
    return [_npz(tmp, X, y), "--set", "perplexity_candidates=2,5"], [
        "perplexity_candidates", "class 1", "5 samples", "< 5"]


def case_perplexity_too_small(tmp):
    X, y = blobs()
    return [_npz(tmp, X, y), "--perplexity", "1"], ["perplexity", "allowed 1 < perplexity"]


def case_perplexity_above_n_max(tmp):
    X, y = blobs()
    return [_npz(tmp, X, y), "--perplexity", "40"], ["--perplexity", "perplexity=40", "(1.0, 32.0]"]


def case_perplexity_not_a_number(tmp):
    X, y = blobs()
    return [_npz(tmp, X, y), "--perplexity", "lots"], ["--perplexity", "number", "'lots'"]


def case_unknown_method(tmp):
    X, y = blobs()
    return [_npz(tmp, X, y), "--method", "pca"], ["--method", "'pca'", "adapsne", "nms"]


def case_unknown_arithmetic(tmp):
    X, y = blobs()
    return [_npz(tmp, X, y), "--arithmetic", "double"], ["--arithmetic", "'double'", "float", "fixed"]


def case_unknown_preset(tmp):
    X, y = blobs()
    return [_npz(tmp, X, y), "--preset", "huge"], ["unknown preset 'huge'", "tiny", "small", "digits"]


def case_unknown_set_key(tmp):
    X, y = blobs()
    return [_npz(tmp, X, y), "--set", "lane=4"], ["unknown parameter 'lane'", "lanes"]


def case_set_not_key_value(tmp):
    X, y = blobs()
    return [_npz(tmp, X, y), "--set", "lanes"], ["--set", "key=value", "'lanes'"]


def case_set_bad_type(tmp):
    X, y = blobs()
    return [_npz(tmp, X, y), "--set", "lanes=many"], ["--set", "lanes", "integer", "[1, 256]", "'many'"]


def case_set_out_of_range(tmp):
    X, y = blobs()
    return [_npz(tmp, X, y), "--set", "tsne_iters=0"], ["--set", "tsne_iters=0", "[1, 100000]"]


def case_set_bad_bool(tmp):
    X, y = blobs()
    return [_npz(tmp, X, y), "--set", "interpolate=maybe"], ["interpolate", "bool", "'maybe'"]


def case_npy_without_labels(tmp):
    X, _ = blobs()
    p = tmp / "x.npy"
    np.save(p, X)
    return [p], ["--labels", "LABELS.npy", ".npz"]


def case_npz_without_y(tmp):
    X, _ = blobs()
    p = tmp / "d.npz"
    np.savez(p, X=X, labels=np.zeros(36))
    return [p], ["no array 'y'", "'labels'"]


def case_structured_npy(tmp):
    a = np.zeros(4, dtype=[("x", "i4", (3,)), ("y", "i4")])
    p = tmp / "s.npy"
    np.save(p, a)
    lp = tmp / "y.npy"
    np.save(lp, np.zeros(4, dtype=int))
    return [p, "--labels", lp], ["structured array", "np.savez", "X=", "y="]


def case_float_labels(tmp):
    X, y = blobs()
    return [_npz(tmp, X, y + 0.5)], ["non-integer label", "0.5", "integers or strings"]


def case_out_dir_missing(tmp):
    X, y = blobs()
    return [_npz(tmp, X, y), "--out", tmp / "no" / "such" / "dir.json"], ["--out", "does not exist"]


def case_out_is_input(tmp):
    X, y = blobs()
    p = _npz(tmp, X, y)
    return [p, "--indices", p], ["--indices", "input file", "refusing"]


def case_missing_ratio(tmp):
    X, y = blobs()
    return [_npz(tmp, X, y)], ["--ratio", "required"]


CASES = {name[5:]: fn for name, fn in dict(globals()).items() if name.startswith("case_")}


def _assert_fails(tmp_path, argv, keywords, ratio="0.25"):
    out_json = tmp_path / "results.json"
    out_json.write_bytes(SENTINEL)
    out_npy = tmp_path / "results_idx.npy"
    extra = [] if ratio is None else ["--ratio", ratio]
    if "--out" not in argv:
        extra += ["--out", out_json]
    if "--indices" not in argv:
        extra += ["--indices", out_npy]
    before = sorted(os.listdir(tmp_path))
    rc, stdout, stderr = run(["select", *argv] + FAST_ARGS[:2] * ("--preset" not in argv) + extra)
    assert rc == 2, (rc, stdout, stderr)
    for kw in keywords:
        assert kw in stderr, f"{kw!r} not in {stderr!r}"
    assert stderr.startswith("error: ") or "usage" in stderr
    assert out_json.read_bytes() == SENTINEL  # not clobbered
    assert not out_npy.exists()
    assert sorted(os.listdir(tmp_path)) == before  # no temporary left behind either
    return stderr


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input(tmp_path, case):
    argv, keywords = CASES[case](tmp_path)
    _assert_fails(tmp_path, argv, keywords, ratio=None if case == "missing_ratio" else "0.25")


def test_bad_input_via_subprocess(tmp_path):
    """The module runs as a program and exits with 2 on bad input."""
    X, y = blobs()
    X[0, 0] = 300
    p = _npz(tmp_path, X, y)
    r = subprocess.run([sys.executable, "-m", "golden_model.cli", "select", str(p), "--ratio", "0.2",
                        "--preset", "tiny", "--out", str(tmp_path / "o.json")],
                       capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 2
    assert "300" in r.stderr and "0 .. 255" in r.stderr
    assert not (tmp_path / "o.json").exists()


# --------------------------------------------------------------------------------------------
# good runs
# --------------------------------------------------------------------------------------------
def _good(tmp_path, inp, extra=(), method="adapsne", ratio="0.25", fast_args=FAST_ARGS, name="r"):
    out_json, out_npy = tmp_path / f"{name}.json", tmp_path / f"{name}.npy"
    rc, stdout, stderr = run(["select", inp, "--ratio", ratio, "--method", method, *fast_args,
                              "--out", out_json, "--indices", out_npy, *extra])
    assert rc == 0, stderr
    assert stderr == ""
    doc = json.loads(out_json.read_text())
    idx = np.load(out_npy)
    assert idx.dtype == np.int64
    assert doc["indices"] == idx.tolist()
    return doc, idx, stdout


def _check_against_select(doc, idx, X, y, ratio, method, cfg, arithmetic="float"):
    ref, det = select(X, y, ratio, method=method, cfg=cfg, arithmetic=arithmetic, return_details=True)
    np.testing.assert_array_equal(idx, ref)
    assert doc["config"] == json.loads(json.dumps(cfg.to_dict()))
    assert doc["method"] == method and doc["arithmetic"] == arithmetic
    assert doc["n_selected"] == len(ref)
    assert [c["label"] for c in doc["classes"]] == [k for k in det]
    for c in doc["classes"]:
        d = det[c["label"]]
        assert (c["n"], c["k"]) == (d["n"], d["k"])
        assert c["perplexity"] == d["perplexity"]
        assert c["indices"] == d["indices"].tolist()


@pytest.mark.parametrize("method", ["adapsne", "nms"])
def test_good_npz_matches_select(tmp_path, method):
    X, y = blobs()
    p = _npz(tmp_path, X, y)
    doc, idx, stdout = _good(tmp_path, p, method=method)
    _check_against_select(doc, idx, X, y, 0.25, method, TINY)
    assert doc["preset"] == "tiny" and doc["overrides"] == FAST
    assert doc["config_name"] == "tiny"
    assert doc["input"]["n_samples"] == 36 and doc["input"]["n_classes"] == 3
    assert [c["k"] for c in doc["classes"]] == [3, 3, 3]
    assert "36 samples" in stdout and "9 selected" in stdout and "wrote" in stdout


def test_good_csv_string_labels_header(tmp_path):
    X, y = blobs()
    ys = np.array(["cat", "dog", "emu"])[y]
    p = tmp_path / "d.csv"
    write_csv(p, X, ys)
    doc, idx, stdout = _good(tmp_path, p)
    assert [c["label"] for c in doc["classes"]] == ["cat", "dog", "emu"]  # kept as given
    _check_against_select(doc, idx, X, ys, 0.25, "adapsne", TINY)
    assert "cat" in stdout


def test_good_csv_label_column_by_name_and_index_no_header(tmp_path):
    X, y = blobs()
    p = tmp_path / "named.csv"
    write_csv(p, X, y + 10, label_first=True)
    doc1, idx1, _ = _good(tmp_path, p, extra=["--label-column", "label"], name="a")
    q = tmp_path / "plain.csv"
    write_csv(q, X, y + 10, header=False, label_first=True)
    doc2, idx2, _ = _good(tmp_path, q, extra=["--label-column", "0"], name="b")
    np.testing.assert_array_equal(idx1, idx2)
    assert [c["label"] for c in doc2["classes"]] == [10, 11, 12]
    _check_against_select(doc2, idx2, X, y + 10, 0.25, "adapsne", TINY)


def test_good_npy_with_labels_and_perplexity(tmp_path):
    X, y = blobs()
    p, lp = tmp_path / "x.npy", tmp_path / "y.npy"
    np.save(p, X.astype(np.uint8))
    np.save(lp, y)
    doc, idx, stdout = _good(tmp_path, p, extra=["--labels", lp, "--perplexity", "8"], method="nms")
    cfg = TINY.with_overrides(perplexity=8.0)
    _check_against_select(doc, idx, X, y, 0.25, "nms", cfg)
    # N = 12: the cap (N - 1)/2 = 5.5 applies, and is reported
    assert all(c["perplexity"] == 5.5 and c["perplexity_requested"] == 8.0 for c in doc["classes"])
    assert "clamped" in stdout and "5.5" in stdout


def test_adapsne_perplexity_fixes_candidates(tmp_path):
    X, y = blobs()
    p = _npz(tmp_path, X, y)
    doc, idx, _ = _good(tmp_path, p, extra=["--perplexity", "4"])
    cfg = TINY.with_overrides(perplexity=4.0, perplexity_candidates=(4.0,))
    _check_against_select(doc, idx, X, y, 0.25, "adapsne", cfg)
    assert all(len(c["perplexity_history"]) == 1 for c in doc["classes"])


def digits():
    """scikit-learn's digits as (data float64 0..16, target int).  Read straight from the file
    scikit-learn ships (importing sklearn costs seconds on a loaded 2-core machine); falls back to
    load_digits."""
    import importlib.util
    spec = importlib.util.find_spec("sklearn")
    if spec is not None and spec.submodule_search_locations:
        path = os.path.join(list(spec.submodule_search_locations)[0], "datasets", "data", "digits.csv.gz")
        if os.path.exists(path):
            a = np.loadtxt(path, delimiter=",")
            return a[:, :-1], a[:, -1].astype(int)
    from sklearn.datasets import load_digits
    d = load_digits()
    return d.data, d.target


def test_good_digits_subset(tmp_path):
    data, target = digits()
    assert data.shape == (1797, 64)
    keep = np.concatenate([np.flatnonzero(target == c)[:12] for c in (0, 3, 8)])
    X, y = data[keep], target[keep]  # float64 0..16, as scikit-learn stores them
    p = _npz(tmp_path, X, y)
    args = ["--preset", "digits", "--set", "tsne_iters=60", "--set", "tsne_exaggeration_iters=20",
            "--set", "perplexity_candidates=3,5"]
    doc, idx, _ = _good(tmp_path, p, fast_args=args, ratio="0.2")
    cfg = get_preset("digits").with_overrides(tsne_iters=60, tsne_exaggeration_iters=20,
                                               perplexity_candidates=(3.0, 5.0))
    _check_against_select(doc, idx, X, y, 0.2, "adapsne", cfg)
    assert [c["label"] for c in doc["classes"]] == [0, 3, 8]
    assert doc["input"]["n_features"] == 64 and doc["config_name"] == "digits"


def test_digits_need_a_fitting_preset(tmp_path):
    data, target = digits()
    keep = np.concatenate([np.flatnonzero(target == c)[:8] for c in (0, 1)])
    p = _npz(tmp_path, data[keep], target[keep])
    err = _assert_fails(tmp_path, [p], ["D=64", "d_max=16", "digits"])
    assert "presets that would accept it" in err


def test_details_and_stdout_indices(tmp_path):
    X, y = blobs()
    p = _npz(tmp_path, X, y)
    doc, idx, _ = _good(tmp_path, p, extra=["--details"])
    ref, det = select(X, y, 0.25, method="adapsne", cfg=TINY, return_details=True)
    for c in doc["classes"]:
        dd = c["details"]
        np.testing.assert_allclose(np.array(dd["embedding"]), det[c["label"]]["Y"], rtol=0, atol=0)
        np.testing.assert_array_equal(dd["betas"], det[c["label"]]["betas"])
        assert dd["passes"] == det[c["label"]]["passes"].tolist()
        assert c["kl"] == det[c["label"]]["kl"]
    # without output files the indices go to stdout
    rc, stdout, _ = run(["select", p, "--ratio", "0.25", *FAST_ARGS])
    assert rc == 0
    line = [ln for ln in stdout.splitlines() if ln.startswith("indices: ")][0]
    assert [int(v) for v in line.split()[1:]] == ref.tolist()


def test_deterministic_bytes(tmp_path):
    X, y = blobs(seed=3)
    p = _npz(tmp_path, X, y)
    outs = []
    for name in ("one", "two"):
        rc, _, err = run(["select", p, "--ratio", "0.3", *FAST_ARGS, "--details",
                          "--out", tmp_path / f"{name}.json", "--indices", tmp_path / f"{name}.npy"])
        assert rc == 0, err
        outs.append(((tmp_path / f"{name}.json").read_bytes(), (tmp_path / f"{name}.npy").read_bytes()))
    assert outs[0] == outs[1]


def test_success_replaces_existing_output(tmp_path):
    X, y = blobs()
    p = _npz(tmp_path, X, y)
    (tmp_path / "r.json").write_bytes(SENTINEL)
    doc, _, _ = _good(tmp_path, p)
    assert doc["format"] == "adapsne-select/1"
    assert sorted(os.listdir(tmp_path)) == ["data.npz", "r.json", "r.npy"]


def test_fixed_arithmetic_matches_select(tmp_path):
    X, y = blobs(n_per_class=(10, 10))
    ref = select(X, y, 0.3, method="nms", cfg=TINY, arithmetic="fixed")
    p = _npz(tmp_path, X, y)
    doc, idx, _ = _good(tmp_path, p, method="nms", ratio="0.3", extra=["--arithmetic", "fixed"])
    np.testing.assert_array_equal(idx, ref)
    assert doc["arithmetic"] == "fixed"


def test_good_run_via_subprocess(tmp_path):
    X, y = blobs()
    p = _npz(tmp_path, X, y)
    r = subprocess.run([sys.executable, "-m", "golden_model.cli", "select", str(p), "--ratio", "0.25",
                        "--method", "nms", *FAST_ARGS, "--indices", str(tmp_path / "i.npy")],
                       capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 0, r.stderr
    np.testing.assert_array_equal(np.load(tmp_path / "i.npy"),
                                  select(X, y, 0.25, method="nms", cfg=TINY))


def test_presets_and_help():
    rc, out, _ = run(["presets"])
    assert rc == 0 and "tiny" in out and "digits" in out and "0..31" in out
    rc, _, err = run([])
    assert rc == 2 and "command" in err


# --------------------------------------------------------------------------------------------
# dataio as a library
# --------------------------------------------------------------------------------------------
def test_validation_never_modifies_inputs():
    X, y = blobs()
    for Xin in (X.copy(), X.astype(np.float64), X.astype(np.uint8)):
        yin = y.astype(np.float64)
        Xin.setflags(write=False)  # any in-place write would raise
        yin.setflags(write=False)
        X0, y0 = Xin.copy(), yin.copy()
        v = dataio.validate_dataset(Xin, yin, TINY, ratio=0.25, perplexity=4)
        np.testing.assert_array_equal(Xin, X0)
        np.testing.assert_array_equal(yin, y0)
        assert Xin.dtype == X0.dtype and yin.dtype == y0.dtype
        assert not np.shares_memory(v.X, Xin) and not np.shares_memory(v.y, yin)
        assert v.X.dtype == np.int64 and v.y.dtype == np.int64
        assert v.sizes == {0: 12, 1: 12, 2: 12}
        # and the pipeline on the validated copies leaves the user's arrays alone too
        select(v.X, v.y, 0.25, method="nms", cfg=TINY)
        np.testing.assert_array_equal(Xin, X0)


def test_dataio_errors_are_value_errors():
    X, y = blobs()
    with pytest.raises(ValueError, match=r"0 \.\. 255"):
        dataio.validate_features(np.where(np.arange(X.size).reshape(X.shape) == 5, -1, X), TINY)
    with pytest.raises(dataio.DataError, match=r"class 'x' has 1 sample"):
        dataio.validate_classes(np.array(["x", "y", "y"]), TINY)
    assert dataio.validate_ratio(1) == 1.0
    with pytest.raises(dataio.DataError, match=r"\(0, 1\]"):
        dataio.validate_ratio(True)


def test_csv_header_autodetect(tmp_path):
    p = tmp_path / "h.csv"
    p.write_text("x1,x2,y\n1,2,a\n3,4,b\n")
    ds = dataio.load_dataset(p)
    assert ds.feature_names == ["x1", "x2"] and ds.label_name == "y"
    assert ds.y.tolist() == ["a", "b"] and ds.X.tolist() == [[1, 2], [3, 4]]
    q = tmp_path / "n.csv"
    q.write_text("1,2,a\n3,4,b\n")
    ds = dataio.load_dataset(q)
    assert ds.feature_names is None and ds.X.shape == (2, 2)
    ds = dataio.load_dataset(q, header="yes")
    assert ds.X.shape == (1, 2)
