"""Selection modes (MODE 2 NMS, MODE 3 AdapSNE) on the Verilator model, cocotb against the golden
model (`tb.select_tests`, `tb.select_ref`).

The expected ``sel`` beats come from `golden_model.select_schedule.golden_select` (the functions of
``select(arithmetic="fixed")``; tests/test_select_rtl.py checks them against `select` itself, and
`test_select_jobs_equal_select` here for the classes used) and the cycles from `select_schedule`.
tiny preset with ``phases`` and a short t-SNE schedule (3 iterations, 2 exaggerated; generation-
time constants, a model of its own).  Runtime: see docs/verification.md ("Selection modes in
Verilator").
"""

from __future__ import annotations

import numpy as np
import pytest

from golden_model.config import get_preset
from golden_model.select import select
from tb import reference as ref
from tb import runner
from tb import select_ref as sr
from tb.data import digits_classes, synthetic_class

#: the short t-SNE schedule of tests/test_select_rtl.py
SHORT = {"phases": True, "tsne_iters": 3, "tsne_exaggeration_iters": 2}
TEST_MODULE = "tb.select_tests"


def _model():
    return runner.build(get_preset("tiny").with_overrides(**SHORT), dut="core")


def _features(n, d, seed, cfg):
    X = synthetic_class(n, d, cfg, seed=seed)
    X[1] = np.clip(X[0] + 1, 0, cfg.feature_max)        # a near-duplicate pair
    return X


def _jobs(cfg) -> dict:
    """MODE 3 with three distinct candidates (N = 12), MODE 3 with a clamped duplicate candidate
    (N = 9: registers 3, 4, 4), MODE 2 with k = N (every index), MODE 2 on a larger class (and the
    same class with the point-parallel search, DATAFLOW = 1), a digits class (2x2-pooled, 32
    points) in MODE 3."""
    (_, Xd), = digits_classes(cfg, classes=(5,), n_per_class=cfg.n_max)
    return {
        "m3": sr.select_job(_features(12, 5, 3, cfg), cfg, 3, 4, "bisection", name="m3-bisection-N12"),
        "m3dup": sr.select_job(_features(9, 7, 2, cfg), cfg, 3, 2, "fwa", name="m3-fwa-N9-dup", seed=cfg.seed + 3),
        "m2all": sr.select_job(_features(6, 16, 4, cfg), cfg, 2, 6, "ksection", name="m2-ksection-k=N"),
        "m2": sr.select_job(_features(24, 12, 5, cfg), cfg, 2, 6, "bisection", name="m2-bisection-N24"),
        "m2pp": sr.select_job(_features(24, 12, 5, cfg), cfg, 2, 6, "bisection", name="m2-bisection-point-N24",
                              dataflow="point"),
        "digits": sr.select_job(Xd, cfg, 3, 8, "fwa", name="m3-fwa-digit5"),
    }


@pytest.fixture(scope="module")
def model():
    return _model()


@pytest.fixture(scope="module")
def jobs(model):
    return _jobs(model.cfg)


def test_select_jobs_equal_select(model, jobs):
    """The references used below equal `select(arithmetic="fixed")` itself (one class, ratio k/N,
    the job's policy and seed): indices, chosen perplexity, its entropy, evaluations."""
    cfg = model.cfg
    for j in jobs.values():
        X = np.asarray(j["features"]).reshape(j["n"], j["d"])
        c = cfg.with_overrides(seed=j["seed"])
        idx, det = select(X, np.zeros(j["n"], dtype=np.int64), j["budget"] / j["n"], sr.MODE_METHOD[j["mode"]],
                          c, arithmetic="fixed", return_details=True, policy=j["policy"])
        det = det[0]
        summ = j["sel"][-1]
        assert [b["index"] for b in j["sel"][:-1]] == idx.tolist(), j["name"]
        assert summ["perp"] == round(det["perplexity"] * (1 << cfg.perp_frac))
        assert summ["h"] == det["occupancy_entropy_q"] and summ["evals"] == len(det["perplexity_history"])


def test_core_select(model, jobs, request):
    """(a) MODE 3 and MODE 2 clean: every sel beat's fields and cycle, and the end of the run, equal
    the golden model / `select_schedule`; (b) the same classes and a FWA-policy digits class with
    random feature gaps (0.25) and sel back-pressure (0.5): values; (c) back to back on one core
    without reset: MODE 3 (duplicate candidate), a MODE 0 class (res beats, nothing on sel), a MODE
    1 class (res + emb), MODE 2 with k = N, the digits class, MODE 2 with the point-parallel search
    and the same class candidate-parallel (DATAFLOW switched back): values + cycles."""
    cfg = model.cfg
    mode0 = dict(ref.class_job(synthetic_class(10, 5, cfg, seed=44), 3.0, "fwa", cfg, name="mode0-between"),
                 mode=0, debug=0)
    mode1 = ref.mode1_job(synthetic_class(8, 6, cfg, seed=45), 2.5, "ksection", cfg, name="mode1-between")
    spec = {"scenarios": [
        sr.select_scenario("a_clean", [jobs["m3"], jobs["m2"]]),
        sr.select_scenario("b_gaps_backpressure", [jobs["m3"], jobs["digits"], jobs["m2"], jobs["m2pp"]],
                           feat_gap=0.25, sel_stall=0.5, rng_seed=29),
        sr.select_scenario("c_back_to_back", [jobs["m3dup"], mode0, mode1, jobs["m2all"], jobs["digits"],
                                              jobs["m2pp"], jobs["m2"]]),
    ]}
    res = runner.run(model, spec, name=request.node.name, test_module=TEST_MODULE)
    res.raise_on_failure()
    obs = res.observations
    a = obs["a_clean"]["jobs"]
    assert a[0]["sel_rel_cycles"] == jobs["m3"]["sel_cycles"] and a[0]["done_rel_cycle"] == jobs["m3"]["done_cycle"]
    assert a[1]["indices"] == [b["index"] for b in jobs["m2"]["sel"][:-1]]
    assert obs["b_gaps_backpressure"]["jobs"][1]["sel_stall_cycles"] > 0
    c = obs["c_back_to_back"]["jobs"]
    assert c[3]["indices"] == list(range(6)) and c[4]["sel_rel_cycles"] == jobs["digits"]["sel_cycles"]
    assert c[5]["sel_rel_cycles"] == jobs["m2pp"]["sel_cycles"] and c[6]["sel_rel_cycles"] == jobs["m2"]["sel_cycles"]
    assert jobs["m2pp"]["sel_cycles"][-1] < jobs["m2"]["sel_cycles"][-1]
    assert obs["b_gaps_backpressure"]["jobs"][3]["indices"] == c[6]["indices"]


def test_core_select_errors(model, jobs, request):
    """BUDGET 0 / N + 1 / beyond n_max, MODE 3 with N = 3, MODE 2 with PERP above (N-1)/2, MODE 2
    with DATAFLOW = 1 and FWA: each refused with its code (no feature taken, nothing on sel), CLEAR; then a
    MODE 3 class equals the golden model (values + cycles)."""
    from hw.regmap import start_error
    sc = sr.select_errors_scenario("errors", model.cfg, jobs["m3"])
    for case in sc["cases"]:        # the host-side table agrees with the hand-chosen codes
        assert start_error(case["regs"], model.cfg) == case["code"], case["what"]
    res = runner.run(model, {"scenarios": [sc]}, name=request.node.name, test_module=TEST_MODULE)
    res.raise_on_failure()
    obs = res.observations["errors"]
    assert [c["status"]["error_code"] for c in obs["cases"]] == [c["code"] for c in sc["cases"]]
    assert obs["recovery"]["sel_rel_cycles"] == jobs["m3"]["sel_cycles"]


def test_core_select_wrong_reference_fails(model, jobs, request):
    """One index + 1, the summary's entropy + 1 and one beat cycle + 1 must each be reported."""
    good = jobs["m3"]
    bad = sr.corrupt_sel(good, index_beat=1, summary_field="h", cycle_beat=2)
    res = runner.run(model, {"scenarios": [sr.select_scenario("wrong", [bad])]}, name=request.node.name,
                     test_module=TEST_MODULE)
    assert not res.passed, "the bench accepted a wrong selection reference"
    msg = res.failures()[0].message
    k = len(good["sel"]) - 1
    assert f"sel beat 1 (index beat 1): index expected {bad['sel'][1]['index']}, got {good['sel'][1]['index']}" in msg
    assert f"sel beat {k} (summary beat): h expected {bad['sel'][k]['h']}, got {good['sel'][k]['h']}" in msg
    assert f"sel beat 2 (index beat 2): cycle expected {bad['sel_cycles'][2]}, got {good['sel_cycles'][2]}" in msg
    assert "3 mismatches" in msg


def test_core_select_outer_fwa(request):
    """MODE 3 on a core generated with the outer FWA over log2 perplexity (`hw.perp_fwa`, one
    iteration): the class of tests/test_select_rtl.py where a spark (not a list candidate) wins;
    clean (values + cycles), then with feature gaps and sel back-pressure (values), then MODE 2 on
    the same core."""
    from golden_model import select_schedule as ss
    model = runner.build(get_preset("tiny").with_overrides(**SHORT, perplexity_search="fwa", perplexity_fwa_iters=1),
                         dut="core")
    cfg = model.cfg
    X = np.random.default_rng(1).integers(0, 256, size=(12, 5))
    X[1] = np.clip(X[0] + 1, 0, 255)
    gold = ss.golden_select(X, cfg, 3, 3, "bisection")
    assert gold.n_list == 3 and len(gold.candidates) == 5 and gold.best >= gold.n_list   # a spark wins
    m3 = sr.select_job(X, cfg, 3, 3, "bisection", name="m3-outer-fwa")
    m2 = sr.select_job(_features(16, 8, 6, cfg), cfg, 2, 5, "fwa", name="m2-on-fwa-core")
    assert m3["sel"] == ss.expected_beats(gold) and m3["sel"][-1]["evals"] == 5
    spec = {"scenarios": [sr.select_scenario("a_clean", [m3, m2]),
                          sr.select_scenario("b_gaps_backpressure", [m3], feat_gap=0.3, sel_stall=0.6, rng_seed=31)]}
    res = runner.run(model, spec, name=request.node.name, test_module=TEST_MODULE)
    res.raise_on_failure()
    assert res.observations["a_clean"]["jobs"][0]["sel_rel_cycles"] == m3["sel_cycles"]


@pytest.mark.slow
@pytest.mark.timeout(21600)
@pytest.mark.parametrize("method,dataflow", [("nms", "candidate"), ("nms", "point"), ("adapsne", "candidate")],
                         ids=["nms", "nms-point", "adapsne"])
def test_select_digits_all_classes(method, dataflow):
    """Every digits class (the training split, 122-128 points each), `digits` preset generated with
    phases and its configured t-SNE schedule (750 iterations, 250 exaggerated), ratio 0.1: for
    each class `tb.select_rtl.select_rtl` runs the Verilator model (its tied-reset -O2 model, one
    class per run; MODE 2 for nms, in both search dataflows, MODE 3 for adapsne) and
    ``select(arithmetic="fixed")``; the indices are identical, the summary beat
    carries select's perplexity, entropy and evaluation count, and every sel beat and the end of
    the run are on their `select_schedule` cycles.  Runtime: docs/verification.md ("Selection
    modes in Verilator")."""
    from tb.data import digits_train
    from tb.select_rtl import select_rtl
    X, y = digits_train()
    runs = select_rtl(X, y, 0.1, method, get_preset("digits"), progress=print, dataflow=dataflow)
    assert len(runs) == 10 and sum(r["n"] for r in runs.values()) == 1257
    bad = {lab: (r["rtl_indices"], r["golden_indices"], r["rtl"]["mismatches"]) for lab, r in runs.items()
           if not (r["identical"] and r["summary_equal"] and r["rtl"]["passed"])}
    assert not bad, bad
