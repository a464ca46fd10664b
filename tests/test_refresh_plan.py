"""synth.refresh_plan: the commands that regenerate stale reports, derived from the reports."""

from __future__ import annotations

import fnmatch
import json

import pytest

from synth import freshness, refresh_plan
from synth.refresh_plan import plan, to_text


def _write(root, rel, obj):
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(obj))


@pytest.fixture
def root(tmp_path):
    _write(tmp_path, "reports/synth/tiny.json", {
        "name": "tiny", "preset": "tiny", "overrides": {}, "asic": {}, "fpga": {}, "blocks": {},
        "runtime_s": {"total": 1200.0, "pnr_ecp5-25f": 300.0, "pnr_ecp5-85f": 420.0},
        "pnr": {"ice40-up5k": {"fits": False, "seed": 1},
                "ecp5-25f": {"fits": True, "seed": 1, "fmax_by_seed": {"1": 120.0, "2": 110.0, "3": 115.0}},
                "ecp5-85f": {"fits": True, "seed": 1, "fmax_by_seed": {"1": 120.0, "2": 110.0, "3": 115.0}}}})
    _write(tmp_path, "synth/baselines/tiny.json", {"preset": "tiny"})
    _write(tmp_path, "reports/synth/digits-phases=True.json", {
        "name": "digits-phases=True", "preset": "digits", "overrides": {"phases": True}, "blocks": {},
        "attribution": {}, "runtime_s": {"total": 600.0}})
    _write(tmp_path, "reports/synth/sweep.json", {"base": "tiny", "lanes": [4, 64], "tables": [6, 8],
                                                   "targets": ["ecp5-25f", "ecp5-85f"], "pnr_timeout_s": None})
    _write(tmp_path, "reports/synth/sweep_points/tiny-K4.json", {"name": "tiny-K4", "overrides": {"lanes": 4},
                                                                  "pnr": {"ecp5-85f": {"fits": True}}})
    _write(tmp_path, "reports/synth/sweep_points/tiny-K32.json", {
        "name": "tiny-K32", "overrides": {"lanes": 32}, "runtime_s": {"total": 7200.0},
        "pnr": {"ecp5-85f": {"fits": True, "placer": "static", "router": "router1"}}})
    _write(tmp_path, "reports/rtl_report.json", {"meta": {"quick": False, "seconds": 300.0}})
    _write(tmp_path, "reports/phase_report.json", {"meta": {"rtl": True}})
    _write(tmp_path, "reports/synth/board-ecp5-25f-tiny.json", {"target": "ecp5-25f", "rtl_sha256": {"tiny": "ab"}})
    return tmp_path


def test_commands_are_derived_from_the_reports_in_dependency_order(root):
    stale = ["reports/phase_report.json [tiny+phases]", "reports/phase_report.json [digits+phases]",
             "reports/synth/speed.json [digits]", "reports/rtl_report.json [tiny]",
             "reports/synth/board-ecp5-25f-tiny.json [tiny]", "reports/synth/sweep_points/tiny-K4.json",
             "reports/synth/sweep_points/tiny-K32.json", "synth/baselines/tiny.json", "reports/synth/tiny.json",
             "reports/synth/digits-phases=True.json"]
    steps = plan(stale, root)
    assert [(s.stage, s.command, s.minutes) for s in steps] == [
        ("synthesis", "python -m synth.report --preset tiny --targets ice40-up5k,ecp5-25f,ecp5-85f "
                      "--update-baseline", 20.0),      # once for the report and its baseline
        ("synthesis", "python -m synth.report --preset digits --set phases=true --no-asic --no-fpga --no-pnr "
                      "--attribute", 10.0),
        ("seeds", "python -m synth.seeds reports/synth/tiny.json --seeds 2,3 --workdir build/synth/tiny --jobs 2",
         7.0),
        # each point alone first (on the targets it was tried on, the static-placer one with its
        # placer), then the whole sweep (K = 32 too) takes them with --reuse
        ("sweep", "python -m synth.sweep --base tiny --lanes 4 --tables \"\" --targets ecp5-85f "
                  "--out build/synth/sweep/tiny-K4", None),
        ("sweep", "python -m synth.sweep --base tiny --lanes 32 --tables \"\" --targets ecp5-85f "
                  "--placer static --out build/synth/sweep/tiny-K32", 120.0),
        ("sweep", "python -m synth.sweep --base tiny --lanes 4,32,64 --tables 6,8 --targets ecp5-25f,ecp5-85f "
                  "--reuse", None),
        ("board", "python -m synth.board --target ecp5-25f --preset tiny && "
                  "cp build/board/ecp5-25f-tiny/board.json reports/synth/board-ecp5-25f-tiny.json", None),
        ("cycles", "python -m tb.phase_report --rtl", None),
        ("cycles", "python -m tb.report", 5.0),
        ("speed", "python -m synth.speed", None),
        ("readme", "python -m synth.readme_table --readme README.md", None),
        ("check", "python -m pytest -m reports -n 0", None)]
    text = to_text(steps)
    assert text.count("\n") == len(steps) + 1 and "~120 min" in text


def test_nothing_stale_nothing_to_do_and_an_unknown_report_is_refused(root):
    assert plan([], root) == [] and "nothing to regenerate" in to_text([])
    with pytest.raises(ValueError, match="no regeneration rule"):
        plan(["reports/other.json"], root)


def test_every_kind_of_committed_report_has_a_rule():
    for pattern, _ in freshness.REPORT_FILES:
        found = sorted(freshness.ROOT.glob(pattern))
        assert found, pattern
        for path in found:
            rel = str(path.relative_to(freshness.ROOT))
            assert any(fnmatch.fnmatch(rel, g) for g, _ in refresh_plan.PLANNERS), rel
            assert plan([rel], freshness.ROOT)
