"""The digits evaluation (`golden_model.evaluation`, command `python -m golden_model.evaluate`):
one quick run through the CLI entry point, then checks on the files it writes and on the numbers
in them."""

import importlib
import json
import math
import os
import sys
from pathlib import Path

import numpy as np
import pytest

from golden_model import evaluate as ev_cli
from golden_model import reference as ref
from golden_model import select as sel
from golden_model.config import POLICIES, get_preset
from golden_model.evaluation import accuracy, criterion, fixed_float, search_study, settings as st, trace

REPO = Path(__file__).resolve().parent.parent

ev_run = importlib.import_module("golden_model.evaluation.run")  # (the package exports run())

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
OUTPUTS = ("report.md", "report.json", "embeddings.png", "entropy_sawtooth.png")


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("digits_quick")
    assert ev_cli.main(["--quick", "--jobs", "1", "--out", str(out)]) == 0
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
    assert rep["format"] == st.REPORT_FORMAT
    assert rep["settings"]["quick"] is True


def test_every_method_and_ratio_has_sane_accuracy(quick_run):
    _, rep, _ = quick_run
    acc = rep["accuracy"]["accuracy"]
    assert set(acc) == set(st.CLASSIFIERS)
    for clf, table in acc.items():
        assert set(table) == set(st.METHODS) | {"full"}
        for m in st.METHODS:
            assert set(table[m]) == {st.rkey(r) for r in st.RATIOS}, (clf, m)
            for r, cell in table[m].items():
                assert 0.0 <= cell["mean"] <= 1.0 and cell["std"] >= 0.0, (clf, m, r)
                assert cell["n"] == len(cell["values"]) >= 1
                assert all(0.0 <= v <= 1.0 for v in cell["values"])
                assert math.isclose(cell["mean"], float(np.mean(cell["values"])), rel_tol=1e-12)
        full = table["full"]
        assert 0.0 <= full["mean"] <= 1.0 and full["std"] >= 0.0
        # the full training set must beat a random 5 % subset
        assert full["mean"] > table["random"][st.rkey(0.05)]["mean"], clf


def test_budgets_are_per_class_and_equal_across_methods(quick_run):
    _, rep, _ = quick_run
    acc = rep["accuracy"]["accuracy"]["mlp"]
    n_train, n_cls = rep["dataset"]["n_train"], 10
    for r in st.RATIOS:
        sizes = {m: acc[m][st.rkey(r)]["subset_size"] for m in st.METHODS}
        assert len(set(sizes.values())) == 1, sizes
        assert next(iter(sizes.values())) == n_cls * sel.class_budget(n_train // n_cls, r)


def test_seeds_recorded(quick_run):
    _, rep, _ = quick_run
    s = rep["settings"]
    acc = rep["accuracy"]["accuracy"]["mlp"]
    for m in st.METHODS:
        want = s["seeds"][: s["tsne_seeds"][m]] if m in st.TSNE_METHODS else s["seeds"]
        assert acc[m][st.rkey(0.10)]["seeds"] == want
    summ = rep["accuracy"]["selection_summary"]
    for m in st.TSNE_METHODS:
        assert summ[m], m
        for per_seed in summ[m].values():
            assert len(per_seed["perplexity"]) == 10
            assert 0.0 <= per_seed["search_converged_share"] <= 1.0


def test_search_quality_table_complete(quick_run):
    _, rep, md = quick_run
    sq = rep["search_quality"]
    variants = [k for k, _ in search_study.arithmetic_variants(st.Settings.make(quick=True))]
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
    for label in list(st.METHODS.values()) + ["full training set", "What is fixed-point",
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
    for method, arith in (("adapsne", "float"), ("nms", "float"), ("adapsne", "fixed"), ("nms", "fixed")):
        first, det = sel.select(X, y, 0.05, method=method, cfg=cfg, arithmetic=arith, return_details=True)
        for lab, d in det.items():
            d["class_index"] = np.flatnonzero(y == lab)
        assert np.array_equal(accuracy.grid_ratio_indices(det, 0.05, cfg), first)
        for r in (0.10, 0.20):
            direct = sel.select(X, y, r, method=method, cfg=cfg, arithmetic=arith)
            assert np.array_equal(accuracy.grid_ratio_indices(det, r, cfg), direct), (method, r)


def test_exact_u_solves_the_entropy_equation():
    rng = np.random.default_rng(0)
    d = rng.integers(0, 500, size=40)
    cfg = get_preset("digits")
    u = search_study.exact_u(d, 10.0, cfg)
    assert abs(ref.row_entropy_bits(d, 2.0 ** u)[0] - math.log2(10.0)) < 1e-9


def test_cli_rejects_unknown_option(capsys):
    with pytest.raises(SystemExit):
        ev_cli.main(["--no-such-option"])


def test_criterion_study(quick_run):
    """Shape of the entropy-criterion study, and a cross-check against the selections: at the seed
    AdapSNE float ran with, the study's per-seed choice is the perplexity select() chose."""
    _, rep, md = quick_run
    cr = rep["criterion"]
    assert set(cr["variants"]) == {"full", "small"}
    n_seeds = len(cr["seeds"])
    chosen = rep["accuracy"]["selection_summary"]["adapsne_float"][str(cr["seeds"][0])]["perplexity"]
    for v, var in cr["variants"].items():
        assert len(var) == 10
        for label, x in var.items():
            if v == "small":
                assert x["n"] == cr["small_n"]
            for g in criterion.GRIDS:
                H = np.asarray(x[g]["entropy"])
                assert H.shape == (len(x[g]["candidates"]), n_seeds)
                cells = x["grid"] ** 2 if g == "size" else cr["grid_g"] ** 2
                assert np.all(H >= 0) and np.all(H <= math.log(min(x["n"], cells)) + 1e-12)
                assert len(x[g]["winners"]) == n_seeds and x[g]["best"] in x[g]["tied"]
                assert x[g]["ties"] == sum(int(np.sum(H[:, j] == H[:, j].max()) > 1) for j in range(n_seeds))
            if v == "full":
                assert x["size"]["winners"][0] == chosen[label], label
    assert "## 5. The entropy criterion" in md and "**Entropy criterion**" in md


def test_criterion_summary_known_values():
    # worked by hand: means 1.1 / 2.1 / 2.0, every per-candidate std 0.1 sqrt(2); best 10 by 0.1,
    # 2 SE = 2 sqrt((0.02 + 0.02) / 2) = 0.2828 -> within noise, 20 tied with it, 5 not
    s = criterion.summarise([5.0, 10.0, 20.0], np.array([[1.0, 1.2], [2.0, 2.2], [2.1, 1.9]]))
    assert s["best"] == 10.0 and s["winners"] == [20.0, 10.0]
    assert s["range"] == pytest.approx(1.0) and s["margin"] == pytest.approx(0.1)
    assert s["seed_sd"] == pytest.approx(0.1 * math.sqrt(2)) and s["two_se"] == pytest.approx(0.2 * math.sqrt(2))
    assert s["within_noise"] is True and s["tied"] == [10.0, 20.0] and s["ties"] == 0
    # same means, seed std 0.01 sqrt(2): the margin 0.1 exceeds 2 SE = 0.0283
    s = criterion.summarise([5.0, 10.0, 20.0], np.array([[1.09, 1.11], [2.09, 2.11], [2.01, 1.99]]))
    assert s["within_noise"] is False and s["tied"] == [10.0] and s["winners"] == [10.0, 10.0]
    # every candidate at ln 4 at both seeds (each point in its own cell): two ties, first one wins
    s = criterion.summarise([5.0, 10.0], np.full((2, 2), math.log(4)))
    assert s["ties"] == 2 and s["winners"] == [5.0, 5.0] and s["range"] == 0.0 and s["within_noise"]


# --------------------------------------------------------------------------------------------
# fixed point against float64 (issues 9 and 10)
# --------------------------------------------------------------------------------------------
def test_every_tsne_method_runs_every_seed_and_each_arithmetic(quick_run):
    _, rep, md = quick_run
    s = rep["settings"]
    acc = rep["accuracy"]["accuracy"]["mlp"]
    assert set(st.TSNE_METHODS) == {"nms", "nms_fixed", "adapsne_float", "adapsne_fixed"}
    assert st.FIXED_FLOAT == (("nms_fixed", "nms"), ("adapsne_fixed", "adapsne_float"))
    for m in st.TSNE_METHODS:
        assert acc[m][st.rkey(0.05)]["seeds"] == s["seeds"], m
    # full mode: every t-SNE method at every one of at least 5 seeds (issue 10)
    full = st.Settings.make()
    assert len(full.seeds) >= 5
    assert all(full.seeds_for(m) == full.seeds for m in st.TSNE_METHODS)


def test_traced_pipelines_are_what_the_method_says(quick_run):
    """The 'what is fixed-point' table comes from the traced selections: every phase of a fixed
    method ran its bit-accurate module, every phase of a float method the float reference."""
    _, rep, md = quick_run
    pl = rep["accuracy"]["pipelines"]
    assert set(pl) == set(st.TSNE_METHODS)
    for m, p in pl.items():
        want = {"fixed": "fixed", "float": "float64"}[st.PIPELINES[m][1]]
        assert [x["arithmetic"] for x in p["phases"]] == [want] * len(p["phases"]), (m, p["phases"])
        assert p["select"] == {"method": st.PIPELINES[m][0], "arithmetic": st.PIPELINES[m][1]}
    assert "Every phase in fixed point: NMS fixed, AdapSNE fixed." in md
    assert "only the squared distances" not in md


def test_phase_table_hand_cases():
    calls = {("golden_model.search_fixed", "search_class"), ("golden_model.reference.tsne_float", "tsne"),
             ("golden_model.reference.tsne_float", "joint_p"), ("golden_model.affinity_fixed", "joint_fixed"),
             ("golden_model.reference.distances", "sq_distances")}
    got = {p["phase"]: (p["arithmetic"], p["code"]) for p in trace.phase_table(calls)}
    assert got["sigma search"] == ("fixed", ["search_fixed"])
    assert got["joint affinities P"] == ("both", ["affinity_fixed", "reference.joint_p"])
    assert got["t-SNE"] == ("float64", ["reference.tsne"])
    assert got["grid sampler"] == ("not run", [])
    assert trace.reference_helpers(calls | {("golden_model.reference.tsne_float", "_pair_sq")}) == ["sq_distances"]
    # a module whose name only begins like the package's is not the reference
    assert trace.phase_table({("golden_model.reference_other", "tsne")})[2]["arithmetic"] == "not run"


def test_traced_records_golden_model_calls_only():
    calls = set()
    with trace.traced(calls):
        ref.sq_distances(np.array([[0, 1], [2, 3]]))
        np.sort(np.arange(3))
    assert ("golden_model.reference.distances", "sq_distances") in calls
    assert all(m.startswith("golden_model.") for m, _ in calls)
    assert sys.getprofile() is None


def test_paired_fixed_float_differences_recomputed(quick_run):
    """Paired differences and the noise flag, recomputed from the per-seed accuracies."""
    _, rep, md = quick_run
    acc = rep["accuracy"]["accuracy"]
    pd = rep["accuracy"]["paired_differences"]
    for a, b in st.PAIRS:
        for c in st.CLASSIFIERS:
            for r in (st.rkey(x) for x in st.RATIOS):
                va = dict(zip(acc[c][a][r]["seeds"], acc[c][a][r]["values"]))
                vb = dict(zip(acc[c][b][r]["seeds"], acc[c][b][r]["values"]))
                d = [va[k] - vb[k] for k in va if k in vb]
                x = pd[c][f"{a}-{b}"][r]
                mean = sum(d) / len(d)
                sd = math.sqrt(sum((v - mean) ** 2 for v in d) / (len(d) - 1))
                assert x["n"] == len(d) == 2
                assert x["mean"] == pytest.approx(mean, abs=1e-12) and x["std"] == pytest.approx(sd, abs=1e-12)
                assert x["above_noise"] == (abs(mean) > st.NOISE_SE * sd / math.sqrt(len(d)))
    n_flag = len(fixed_float.flagged(rep))
    assert md.count(" † |") + md.count(" † ") >= n_flag
    assert f"above the seed noise** (|mean| > 2 SE): {n_flag} of 12" in md
    assert "### Fixed point against float64" in md


def test_paired_diff_known_values():
    a = {"seeds": [0, 1, 2], "values": [0.90, 0.80, 0.70]}
    # d = 0.05, 0, 0.10: mean 0.05, sd 0.05, SE 0.0289, 2 SE 0.0577 > 0.05 -> within noise
    x = accuracy.paired_diff(a, {"seeds": [0, 1, 2], "values": [0.85, 0.80, 0.60]})
    assert x["mean"] == pytest.approx(0.05) and x["std"] == pytest.approx(0.05)
    assert x["se"] == pytest.approx(0.05 / math.sqrt(3)) and x["above_noise"] is False
    # d = 0.10, 0.12, 0.11: mean 0.11, sd 0.01, 2 SE 0.0115 < 0.11 -> above noise
    x = accuracy.paired_diff(a, {"seeds": [0, 1, 2], "values": [0.80, 0.68, 0.59]})
    assert x["mean"] == pytest.approx(0.11) and x["std"] == pytest.approx(0.01) and x["above_noise"] is True
    # only the common seeds pair; a single seed cannot be flagged
    x = accuracy.paired_diff(a, {"seeds": [2], "values": [0.5]})
    assert x["n"] == 1 and x["seeds"] == [2] and x["above_noise"] is False
    assert accuracy.paired_diff(a, {"seeds": [7], "values": [0.5]}) is None


def test_chance_rate_closed_form():
    # 1 degree of freedom: Cauchy, P(|T| > 2) = 1 - (2 / pi) atan 2
    assert fixed_float.chance_rate(2) == pytest.approx(1 - 2 / math.pi * math.atan(2.0))
    # 2 degrees of freedom: P(|T| > t) = 1 - t / sqrt(2 + t^2)
    assert fixed_float.chance_rate(3) == pytest.approx(1 - 2 / math.sqrt(6))
    assert math.isnan(fixed_float.chance_rate(1))


def _lattice(m):
    """m x m lattice points (one per cell of the m x m grid), float and Q.y_frac integer."""
    pts = np.array([(i, j) for i in range(m) for j in range(m)], dtype=np.float64)
    return pts, (pts * (1 << 20)).astype(np.int64)


def test_sampler_side_hand_cases():
    cfg = get_preset("digits")
    Yf, Yq = _lattice(4)
    for k, g in ((1, 1), (4, 2), (5, 3), (9, 3), (10, 4), (15, 4)):
        assert accuracy.sampler_side({"n": 16, "Y": Yf}, k, cfg) == g, k
        assert accuracy.sampler_side({"n": 16, "Y": Yf, "Y_q": Yq}, k, cfg) == g, k
    assert accuracy.sampler_side({"n": 16, "Y": Yf}, 16, cfg) == 0  # every point, no grid


def _summ(perp, kl, side):
    return {"perplexity": perp, "kl": kl, "occupancy_entropy": {0: 1.0, 1: 2.0},
            "entropy_grid": {0: 2, 1: 2}, "sampler_side": {st.rkey(0.1): side}}


def test_fixed_float_diagnostics_hand_case():
    s = st.Settings.make(quick=True, ratios=(0.1,))
    fx = {0: _summ({0: 10.0, 1: 20.0}, {0: 0.4, 1: 0.6}, {0: 3, 1: 3}),
          1: _summ({0: 10.0, 1: 10.0}, {0: 0.5, 1: 0.5}, {0: 3, 1: 4})}
    fl = {0: _summ({0: 10.0, 1: 10.0}, {0: 0.5, 1: 0.5}, {0: 3, 1: 3}),
          1: _summ({0: 10.0, 1: 20.0}, {0: 0.5, 1: 0.5}, {0: 3, 1: 3})}
    r = 0.1
    sel_ = {("f", r, 0): np.array([1, 2, 3]), ("f", r, 1): np.array([1, 2]),
            ("g", r, 0): np.array([2, 3, 4, 5]), ("g", r, 1): np.array([5])}
    d = accuracy.fixed_float_diagnostics(fx, fl, sel_, "f", "g", s)
    assert d["seeds"] == [0, 1] and d["class_runs"] == 4
    assert d["same_perplexity"] == 2  # (seed 0, class 0), (seed 1, class 0)
    assert d["float_seed_same_perplexity"] == 0.5  # float seeds 0 / 1 agree for class 0 only
    assert d["kl_ratio_of_means"] == pytest.approx(0.5 / 0.5)
    assert d["kl_same_perplexity_ratio"] == pytest.approx((0.4 + 0.5) / 2 / 0.5)
    assert d["sampler"][st.rkey(r)] == {"fixed_mean": 3.25, "float_mean": 3.0, "same": 3}
    # Jaccard: seed 0 {1,2,3} vs {2,3,4,5} = 2/5; seed 1 {1,2} vs {5} = 0
    assert d["jaccard"][st.rkey(r)] == pytest.approx(0.2)
    assert d["float_seed_jaccard"][st.rkey(r)] == pytest.approx(0.25)  # {2,3,4,5} vs {5}


def test_kl_study_quoted_from_its_json(tmp_path):
    """The KL table is generated from tsne_fixed.json (the committed one), not copied by hand."""
    path = os.path.join(os.path.dirname(__file__), "..", "reports", "digits", "tsne_fixed.json")
    with open(path) as f:
        t = json.load(f)
    k = ev_run.load_kl_study(path, get_preset("digits"))
    assert k["config_differs_in"] == []  # the committed study matches the digits preset
    md = "\n".join(fixed_float.kl_section({"kl_study": k}))
    for c, v in t["classes"].items():
        assert f"| {c} | {v['n']} | {v['kl_float_mean']:.4f} | {v['kl_fixed_mean']:.4f} | " \
               f"{v['ratio_of_means']:.3f} ± {v['ratio_sem']:.3f} |" in md, c
    assert f"**{t['summary']['overall_ratio']:.3f}**" in md
    other = ev_run.load_kl_study(path, get_preset("digits").with_overrides(perplexity=20.0))
    assert other["config_differs_in"] == ["perplexity"]
    assert "differs from this run's** in perplexity" in "\n".join(fixed_float.kl_section({"kl_study": other}))
    assert ev_run.load_kl_study(str(tmp_path / "none.json"), get_preset("digits")) is None
    assert "Not available" in "\n".join(fixed_float.kl_section({"kl_study": None}))


def test_quick_report_without_kl_study(quick_run):
    _, rep, md = quick_run
    assert rep["kl_study"] is None and "### KL of the fixed-point t-SNE against float64" in md
    assert "Not available: no `tsne_fixed.json`" in md


@pytest.mark.parametrize("opt", ["--seeds", "--tsne-seeds"])
def test_cli_rejects_seed_counts_below_one(opt, capsys):
    with pytest.raises(SystemExit):
        ev_cli.main([opt, "0", "--quick"])
    assert f"{opt} must be >= 1, got 0" in capsys.readouterr().err


def test_sampler_stats_hand_case():
    side = lambda a, b: {"sampler_side": {"0.10": {"0": a, "1": b}}}  # noqa: E731
    rep = {"cfg": {"grid_g": 16},
           "accuracy": {"selection_summary": {"f": {"0": side(16, 3), "1": side(4, 3)},
                                              "g": {"0": side(17, 3), "1": side(4, 5)}}}}
    sp = fixed_float.sampler_stats(rep, "f", "g", "0.10")
    # fixed at 16 once; float beyond 16 once; float seeds 0 / 1 agree for neither class
    assert sp == {"fixed_at_limit": 1, "float_beyond_limit": 1, "float_seed_same": 0.0, "grid_g": 16}


def test_render_only_rewrites_markdown_from_json(quick_run, tmp_path):
    out, rep, md = quick_run
    (tmp_path / "report.json").write_text((out / "report.json").read_text())
    assert ev_cli.main(["--render-only", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "report.md").read_text() == md


def test_render_only_with_kl_study_quotes_the_new_study(quick_run, tmp_path, capsys):
    out, rep, md = quick_run
    (tmp_path / "report.json").write_text((out / "report.json").read_text())
    with pytest.raises(SystemExit):
        ev_cli.main(["--render-only", "--out", str(tmp_path), "--kl-study", str(tmp_path / "none.json")])
    err = capsys.readouterr().err
    assert "--kl-study" in err and "no such file" in err
    study = json.loads((REPO / "reports" / "digits" / "tsne_fixed.json").read_text())
    study["seeds"] = [7, 8, 9]       # marks this file's quote apart from the run's own
    (tmp_path / "kl.json").write_text(json.dumps(study))
    assert ev_cli.main(["--render-only", "--out", str(tmp_path), "--kl-study", str(tmp_path / "kl.json")]) == 0
    q = json.loads((tmp_path / "report.json").read_text())["kl_study"]
    assert q["seeds"] == [7, 8, 9] and "runs" not in q["classes"]["0"]
    assert q["classes"]["6"]["ratio_of_means"] == study["classes"]["6"]["ratio_of_means"]
    assert (tmp_path / "report.md").read_text() != md
