"""`python -m tb.select_rtl`: the golden CLI's inputs, errors and output format, with the RTL's
indices (Verilator) compared with `select(arithmetic="fixed")` per class.

Errors: the same argv gives the same exit status (2) and the same message as
``python -m golden_model.cli select ... --arithmetic fixed`` (nothing is simulated); plus the RTL
command's own argument errors.  Runs: a two-class .npz on tiny with a short t-SNE schedule (the
configuration of tests/test_select_cocotb.py, as its tied-reset model: `tb/simtop.py`, one class per
run, compiled -O2), both methods: exit 0, the JSON equals the golden CLI's
document except for the ``rtl`` sections, the .npy equals the golden indices; a golden model
that disagrees (one index moved) gives exit 1 and "NOT identical".
"""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from golden_model import cli as gcli
from tb import runner, select_rtl

#: tiny with the short t-SNE schedule (3 iterations, 2 exaggerated): the configuration of
#: tests/test_select_cocotb.py (tb.select_rtl builds its tied-reset model)
SHORT = ["--preset", "tiny", "--set", "tsne_iters=3", "--set", "tsne_exaggeration_iters=2"]


def _run(main, argv):
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("selrtl")
    rng = np.random.default_rng(7)
    X = rng.integers(0, 256, size=(24, 6))
    X[3] = X[2]                                         # a duplicate point
    y = np.array([4] * 10 + [9] * 14)
    p = d / "two.npz"
    np.savez(p, X=X, y=y)
    big = d / "big.npz"                                 # a class of 40 > tiny's n_max = 32
    np.savez(big, X=rng.integers(0, 256, size=(42, 6)), y=np.array([0] * 40 + [1] * 2))
    wide = d / "wide.npz"                               # a feature of 300 > tiny's 255
    Xw = X.copy()
    Xw[5, 2] = 300
    np.savez(wide, X=Xw, y=y)
    return {"dir": d, "npz": str(p), "big": str(big), "wide": str(wide), "X": X, "y": y}


@pytest.mark.parametrize("extra", [
    ["--ratio", "0"], ["--ratio", "1.5"], ["--ratio", "abc"], ["--perplexity", "1"],
    ["--ratio", "0.2", "--preset", "nosuch"], ["--ratio", "0.2", "--set", "lanes=0"],
    ["--ratio", "0.2", "--set", "nokey=1"], ["--ratio", "0.2", "--out", "{dir}"],
    ["--ratio", "0.2", "--method", "tsne"],
], ids=lambda v: " ".join(v))
def test_same_errors_as_the_golden_cli(data, extra):
    extra = [e.format(dir=data["dir"]) for e in extra]
    argv = [data["npz"], *(["--ratio", "0.2"] if "--ratio" not in extra else []), *SHORT, *extra]
    g = _run(gcli.main, ["select", *argv, "--arithmetic", "fixed"])
    r = _run(select_rtl.main, argv)
    assert g[0] == r[0] == 2
    assert r[2].replace(select_rtl.PROG, "P") == g[2].replace("python -m golden_model.cli select", "P")
    assert r[2].startswith("error: ")


@pytest.mark.parametrize("which", ["big", "wide", "missing"])
def test_same_data_errors_as_the_golden_cli(data, which):
    path = data.get(which, str(data["dir"] / "missing.npz"))
    g = _run(gcli.main, ["select", path, "--ratio", "0.2", *SHORT, "--arithmetic", "fixed"])
    r = _run(select_rtl.main, [path, "--ratio", "0.2", *SHORT])
    assert g[0] == r[0] == 2 and r[2] == g[2] and r[2].startswith("error: ")


@pytest.mark.parametrize("extra,match", [
    (["--arithmetic", "float"], "--arithmetic must be fixed"),
    (["--class", "5"], "--class '5' is not a class of the input; classes: 4, 9"),
    (["--digits"], "give either INPUT or --digits"),
    (["--waves-from", "100"], "--waves-from/--waves-to need --waves"),
    (["--method", "adapsne", "--dataflow", "point"], "--dataflow point (point-parallel search) needs the bisection"),
])
def test_rtl_argument_errors(data, extra, match):
    code, out, err = _run(select_rtl.main, [data["npz"], "--ratio", "0.2", *SHORT, *extra])
    assert code == 2 and match in err and out == ""


def test_no_input_is_an_error():
    code, _, err = _run(select_rtl.main, ["--ratio", "0.2", *SHORT])
    assert code == 2 and "give either INPUT or --digits" in err


@pytest.mark.parametrize("method,dataflow", [("adapsne", "candidate"), ("nms", "candidate"), ("nms", "point")])
def test_tiny_run_identical_and_same_format(data, method, dataflow):
    d = data["dir"]
    out_r, npy_r = d / f"rtl-{method}-{dataflow}.json", d / f"rtl-{method}-{dataflow}.npy"
    out_g, npy_g = d / f"gold-{method}-{dataflow}.json", d / f"gold-{method}-{dataflow}.npy"
    args = [data["npz"], "--ratio", "0.25", "--method", method, *SHORT]
    g = _run(gcli.main, ["select", *args, "--arithmetic", "fixed", "--out", str(out_g), "--indices", str(npy_g)])
    assert g[0] == 0, g[2]
    code, out, err = _run(select_rtl.main, [*args, "--dataflow", dataflow, "--out", str(out_r), "--indices", str(npy_r)])
    assert code == 0, out + err
    doc_r, doc_g = json.loads(out_r.read_text()), json.loads(out_g.read_text())
    rtl = doc_r.pop("rtl")
    assert rtl["identical"] and rtl["passed"] and rtl["mode"] == {"adapsne": 3, "nms": 2}[method]
    assert rtl["dataflow"] == dataflow
    for c in doc_r["classes"]:
        cr = c.pop("rtl")
        assert cr["identical"] and cr["rtl_indices"] == cr["golden_indices"] == c["indices"]
        assert cr["cycles"] == cr["expected_cycles"] > 0
    assert doc_r == doc_g                                  # the golden CLI's document, value for value
    assert np.load(npy_r).tolist() == np.load(npy_g).tolist()
    assert "identical: yes" in out and "RTL vs golden model: identical (2 classes)" in out
    assert "[1/2] class 4 (N=10, k=3)" in err and "[2/2] class 9 (N=14, k=4)" in err
    # each class ran on the tied-reset long-run model (tb/simtop.py, tb.runner.LONG_RUN_OPT)
    opt = runner.opt_fast(long_run=True)
    assert f"tiny-tiedrst{'' if opt == '-Os' else opt}-" in err
    assert all(c["rtl"]["cycles_per_cpu_s"] > 0 for c in json.loads(out_r.read_text())["classes"])


def test_one_class_and_a_disagreeing_golden_model(data, monkeypatch):
    """--class runs one class (with progress lines from the simulator); a golden model that picks
    another point must give exit 1."""
    real = select_rtl.select

    def moved(X, *a, **kw):
        idx, det = real(X, *a, **kw)
        free = next(j for j in range(len(X)) if j not in idx)
        return np.sort(np.append(idx[1:], free)), det
    monkeypatch.setattr(select_rtl, "select", moved)
    monkeypatch.setattr(select_rtl, "PROGRESS_CYCLES", 10_000)      # progress lines on a short run
    code, out, err = _run(select_rtl.main, [data["npz"], "--ratio", "0.25", "--class", "9", *SHORT])
    assert code == 1
    assert "[1/1] class 9 (N=14, k=4): simulated 0.01 M of" in err and "cycles/s, ~" in err, err
    assert "class 9 (N=14, k=4)" in out and "identical: NO" in out and "NOT identical (1 class)" in out
    assert "class 4" not in out + err
