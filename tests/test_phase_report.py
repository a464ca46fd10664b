"""tb.phase_report: the per-phase split adds up to the cycle models the RTL tests check, the lower
bounds are bounds, the aggregation is a weighted mean, and the committed report is the
generator's output (tiny regenerated here; digits/small are too slow for the default suite)."""

import json
import warnings
from pathlib import Path

import pytest

from golden_model import run_schedule as rsch
from golden_model.config import PRESETS
from synth.freshness import current_sha
from tb import phase_report as pr
from tb.phase_report import phase_config
from tb.data import digits_classes
from tb.select_ref import select_job

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "reports" / "phase_report.json"


@pytest.fixture(scope="module")
def tiny_rows():
    return pr.build_report(("tiny",), classes=[0], hashes=False)["rows"]


def test_phases_add_up_and_bounds_hold(tiny_rows):
    assert [r["mode"] for r in tiny_rows] == [1, 2, 3]
    for r in tiny_rows:
        ph = r["phases"]
        assert sum(v["cycles"] for v in ph.values()) == r["total"]
        assert ph["other"]["cycles"] >= 0
        for p, v in ph.items():
            if p != "other":
                assert v["ratio"] >= 1.0, (r["mode"], p, v)       # a lower bound must not exceed the cycles
                assert all(0 <= b <= 1.0 for b in v["busy"].values()), (r["mode"], p, v["busy"])
    assert tiny_rows[2]["evaluations"] == 3 and "entropy" in tiny_rows[2]["phases"]
    assert "entropy" not in tiny_rows[0]["phases"]


def test_totals_are_the_cycles_the_rtl_benches_expect(tiny_rows):
    """MODE 1: run_schedule's done (test_core_mode1 checks beats on it); MODE 2 / 3: the done cycle of
    tb.select_ref.select_job (test_core_select checks the RTL's end against it)."""
    cfg = pr.phase_config("tiny")
    (_, X), = digits_classes(cfg, classes=(0,))
    from golden_model.search_fixed import search_class
    n, d = X.shape
    res = search_class(X, tiny_rows[0]["perplexity"], "ksection", cfg)
    assert tiny_rows[0]["total"] == rsch.run_schedule(cfg, n, d, "ksection", res).done_cycle
    # NMS searches point-parallel (tiny is generated with point_parallel), AdapSNE's FWA cannot
    assert [r["dataflow"] for r in tiny_rows[1:]] == ["point", "candidate"]
    for r in tiny_rows[1:]:
        job = select_job(X, cfg, r["mode"], r["k"], r["policy"], dataflow=r["dataflow"])
        assert r["total"] == job["done_cycle"]


def test_aggregate_is_weighted_by_cycles():
    rows = [{"total": 120, "phases": {"P": {"cycles": 100, "lower_bound": 50.0, "ops": {"mula": 200}, "units": {"mula": 4}},
                                      "other": {"cycles": 20}}},
            {"total": 330, "phases": {"P": {"cycles": 300, "lower_bound": 250.0, "ops": {"mula": 400}, "units": {"mula": 4}},
                                      "other": {"cycles": 30}}}]
    ag = pr.aggregate(rows)
    assert ag["P"]["cycles"] == 400 and ag["P"]["ratio"] == pytest.approx(400 / 300)
    assert ag["P"]["busy"]["mula"] == pytest.approx(600 / 1600) and ag["other"]["cycles"] == 50
    assert ag["total"] == 450


def test_committed_report_is_the_generators_output(tiny_rows):
    rep = json.loads(REPORT.read_text())
    assert (ROOT / "reports" / "phase_report.md").read_text() == pr.to_markdown(rep)
    assert set(rep["meta"]["rtl_sha256"]) == {"tiny+phases", "small+phases", "digits+phases"}
    committed = [r for r in rep["rows"] if r["preset"] == "tiny" and r["cls"] == 0]
    strip = lambda r: {k: v for k, v in r.items() if k not in ("golden_s", "rtl")}  # noqa: E731
    fresh = [strip(json.loads(json.dumps(r))) for r in tiny_rows]
    assert [sorted(r) for r in map(strip, committed)] == [sorted(r) for r in fresh]
    if rep["meta"]["rtl_sha256"]["tiny+phases"] == current_sha(phase_config("tiny")):
        assert [strip(r) for r in committed] == fresh
    else:
        # RTL work in progress: the schedule moved with the RTL; `pytest -m reports` flags the stale
        # report and the rendered Markdown carries the marker
        warnings.warn("reports/phase_report.json is of older RTL: its tiny rows are not compared")
    assert {r["preset"] for r in rep["rows"]} == {"tiny", "small", "digits"}
    assert len(rep["rows"]) == 3 * 3 * 10


def test_rtl_presets_exclude_digits():
    """--rtl never simulates the digits preset (hours in Verilator)."""
    assert "digits" not in pr.RTL_PRESETS and set(pr.RTL_PRESETS) <= set(PRESETS)


@pytest.mark.slow   # builds two Verilator models of the tiny phases core, simulates ~6.4 M cycles (minutes)
def test_rtl_column_on_tiny_class0():
    """--rtl: MODE 1, 2, 3 of tiny class 0 on the Verilator model, every beat and the end on the
    schedule's cycle."""
    rep = pr.build_report(("tiny",), classes=[0], rtl=True, hashes=False, log=lambda m: None)
    assert [r["rtl"]["equal"] for r in rep["rows"]] == [True, True, True]
    assert "| yes |" in pr.to_markdown(dict(rep, meta=dict(rep["meta"], rtl_sha256={"tiny+phases": "0" * 64})))


@pytest.mark.parametrize("preset,n", [("digits", 124), ("tiny", 32)])
def test_tsne_busy_shares_count_the_units_the_schedule_counts(preset, n):
    """The report's t-SNE busy shares over a run (SCALE and the last update alone included) are
    those of `tsne_schedule.busy_share` over a steady-state iteration to within 5 %, for the lanes'
    multipliers and for the update slices' (whose unit count is the slices' multipliers,
    `tsne_schedule.UPDATE_MULS` per slice, not the lanes')."""
    from golden_model import tsne_schedule as ts
    cfg = phase_config(preset)
    cyc, _, ops, units = pr._tsne(cfg, n, traced=False)
    steady = ts.busy_share(n, cfg.lanes, slices=cfg.tsne_update_slices, symmetric=cfg.tsne_symmetric)
    for unit in ("multipliers", "update_multipliers"):
        assert ops[unit] / (units[unit] * cyc) == pytest.approx(steady[unit], rel=0.05), unit
