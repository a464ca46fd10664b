"""The digits evaluation (`golden_model.evaluate`): one quick run through the CLI entry point,
then checks on the files it writes and on the numbers in them."""

import json
import math
import os

import numpy as np
import pytest

from golden_model import evaluate as ev
from golden_model import reference as ref
from golden_model import select as sel
from golden_model.config import POLICIES, get_preset

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
OUTPUTS = ("report.md", "report.json", "embeddings.png", "entropy_sawtooth.png")


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("digits_quick")
    assert ev.main(["--quick", "--jobs", "1", "--out", str(out)]) == 0
    with open(out / "report.json") as f:
        rep = json.load(f)
    md = (out / "report.md").read_text()
    return out, rep, md


def test_all_outputs_written(quick_run):
    out, rep, md = quick_run
    for name in OUTPUTS:
        p = out / name
        assert p.is_file() and p.stat().st_size > 0, name
    for name in ("embeddings.png", "entropy_sawtooth.png"):
        assert (out / name).read_bytes()[:8] == PNG_MAGIC
        assert f"({name})" in md  # the Markdown embeds both figures
    assert rep["format"] == ev.REPORT_FORMAT
    assert rep["settings"]["quick"] is True


def test_every_method_and_ratio_has_sane_accuracy(quick_run):
    _, rep, _ = quick_run
    acc = rep["accuracy"]["accuracy"]
    assert set(acc) == set(ev.CLASSIFIERS)
    for clf, table in acc.items():
        assert set(table) == set(ev.METHODS) | {"full"}
        for m in ev.METHODS:
            assert set(table[m]) == {ev._rkey(r) for r in ev.RATIOS}, (clf, m)
            for r, cell in table[m].items():
                assert 0.0 <= cell["mean"] <= 1.0 and cell["std"] >= 0.0, (clf, m, r)
                assert cell["n"] == len(cell["values"]) >= 1
                assert all(0.0 <= v <= 1.0 for v in cell["values"])
                assert math.isclose(cell["mean"], float(np.mean(cell["values"])), rel_tol=1e-12)
        full = table["full"]
        assert 0.0 <= full["mean"] <= 1.0 and full["std"] >= 0.0
        # the full training set must beat a random 5 % subset
        assert full["mean"] > table["random"][ev._rkey(0.05)]["mean"], clf


def test_budgets_are_per_class_and_equal_across_methods(quick_run):
    _, rep, _ = quick_run
    acc = rep["accuracy"]["accuracy"]["mlp"]
    n_train, n_cls = rep["dataset"]["n_train"], 10
    for r in ev.RATIOS:
        sizes = {m: acc[m][ev._rkey(r)]["subset_size"] for m in ev.METHODS}
        assert len(set(sizes.values())) == 1, sizes
        assert next(iter(sizes.values())) == n_cls * sel.class_budget(n_train // n_cls, r)


def test_seeds_recorded(quick_run):
    _, rep, _ = quick_run
    s = rep["settings"]
    acc = rep["accuracy"]["accuracy"]["mlp"]
    for m in ev.METHODS:
        want = s["seeds"][: s["tsne_seeds"][m]] if m in ev.TSNE_METHODS else s["seeds"]
        assert acc[m][ev._rkey(0.10)]["seeds"] == want
    summ = rep["accuracy"]["selection_summary"]
    for m in ev.TSNE_METHODS:
        assert summ[m], m
        for per_seed in summ[m].values():
            assert len(per_seed["perplexity"]) == 10
            assert 0.0 <= per_seed["search_converged_share"] <= 1.0


def test_search_quality_table_complete(quick_run):
    _, rep, md = quick_run
    sq = rep["search_quality"]
    variants = [k for k, _ in ev.arithmetic_variants(ev.Settings.make(quick=True))]
    assert len(variants) == 2 + 4 * 2 * 2
    cells = {(r["policy"], r["variant"]): r for r in sq["rows"]}
    assert set(cells) == {(p, v) for p in POLICIES for v in variants}
    for (p, v), r in cells.items():
        assert r["n_points"] == sq["n_points"] > 0
        assert 0.0 <= r["miss_rate"] <= 1.0
        assert 0.0 <= r["true_err_mean"] <= r["true_err_max"] + 1e-15
        assert r["true_err_p95"] <= r["true_err_max"] + 1e-15
        assert 0.0 <= r["beta_off_10pct"] <= 1.0
        assert 1 <= r["passes_mean"] <= r["passes_max"] <= get_preset("digits").max_passes
        assert r["evals_mean"] >= r["passes_mean"] - 1e-9
        assert f"| {v} |" in md
    # float64 bisection converges everywhere and is accurate to its tolerance
    b = cells[("bisection", "float64 tol=1e-05")]
    assert b["miss_rate"] == 0.0 and b["true_err_max"] <= ref.DEFAULT_TOL
    # with the row-minimum shift and 8-bit interpolated tables (the preset) the true error is small
    for p in POLICIES:
        assert cells[(p, "fixed 8b interp shift")]["true_err_max"] < 0.02


def test_sawtooth_study(quick_run):
    _, rep, _ = quick_run
    saw = rep["sawtooth"]
    assert set(saw["curves"]) == {"typical", "far"}
    for c in saw["curves"].values():
        n = 2 * saw["window_lsb"] + 1
        assert len(c["u"]) == len(c["float64"]) == n
        assert np.all(np.diff(c["float64"]) < 0)  # float64 H falls monotonically with u
        for k, f in c["fixed"].items():
            assert len(f["H"]) == n and 0.0 <= f["rising_steps"] <= 1.0, k
    assert len(saw["monotonicity"]) == 4 * 2 * 2


def test_markdown_is_self_contained(quick_run):
    _, rep, md = quick_run
    for label in list(ev.METHODS.values()) + ["full training set", "What is fixed-point today",
                                              "QUICK MODE", "Versions", "wall time"]:
        assert label in md, label
    for r in ("5 %", "10 %", "20 %"):
        assert r in md


def test_grid_resampling_equals_select_at_every_ratio():
    """The run selects once per (method, seed) and grid-samples the same embeddings at the other
    budgets; this must equal calling select() at each budget."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    keep = np.flatnonzero(y < 2)[:60]
    X, y = X[keep], y[keep]
    cfg = get_preset("digits").with_overrides(tsne_iters=60, tsne_exaggeration_iters=20,
                                              perplexity_candidates=(5.0, 10.0), seed=3)
    for method, arith in (("adapsne", "float"), ("nms", "float")):
        first, det = sel.select(X, y, 0.05, method=method, cfg=cfg, arithmetic=arith, return_details=True)
        for lab, d in det.items():
            d["class_index"] = np.flatnonzero(y == lab)
        assert np.array_equal(ev.grid_ratio_indices(det, 0.05), first)
        for r in (0.10, 0.20):
            direct = sel.select(X, y, r, method=method, cfg=cfg, arithmetic=arith)
            assert np.array_equal(ev.grid_ratio_indices(det, r), direct), (method, r)


def test_exact_u_solves_the_entropy_equation():
    rng = np.random.default_rng(0)
    d = rng.integers(0, 500, size=40)
    cfg = get_preset("digits")
    u = ev.exact_u(d, 10.0, cfg)
    assert abs(ref.row_entropy_bits(d, 2.0 ** u)[0] - math.log2(10.0)) < 1e-9


def test_cli_rejects_unknown_option(capsys):
    with pytest.raises(SystemExit):
        ev.main(["--no-such-option"])
