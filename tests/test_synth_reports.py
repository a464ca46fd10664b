"""The committed synthesis results are those of the current RTL.

The README table, `reports/synth/<preset>.json` and `synth/baselines/<preset>.json` are produced by
the (deterministic, pinned) YoWASP tools, far too slowly to re-run in the default suite for every
preset.  These tests make the committed numbers trustworthy without re-running them:

* each report is within its baseline's tolerances and of the same Verilog (the same run);
* the README section is what `synth.readme_table` renders from the reports (modulo the generated
  freshness lines, which change with every RTL edit);
* the sweep's base point agrees with the base preset's baseline within tolerance (so the plot and
  the table tell the same story).

Marker ``reports`` (`python -m pytest -m reports`, not in the default suite): every committed report,
baseline and sweep point is of the Verilog the generator emits today (SHA-256,
`synth.freshness`), and the README is exactly the generated text including its freshness lines.
While RTL work is in progress these fail; the default suite does not, so RTL work lands in steps.

A fresh tiny synthesis against its baseline runs in `test_synth.py` (marker ``synth``); after an
RTL change, re-run the reports (see docs/synthesis.md) and these tests say which are stale.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

os.environ["AMARANTH_USE_YOSYS"] = "builtin"

from golden_model.config import PRESETS, AccelConfig  # noqa: E402
from synth import compare, flow, freshness  # noqa: E402
from synth.readme_table import README_NOTE, readme_section, summary  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
REPORTS = ROOT / "reports" / "synth"
README_PRESETS = ("tiny", "small", "digits")


def _verilog_sha(cfg: AccelConfig) -> str:
    return freshness.current_sha(cfg)


@pytest.mark.parametrize("preset", README_PRESETS)
def test_report_is_within_its_baseline(preset):
    rep = json.loads((REPORTS / f"{preset}.json").read_text())
    base = compare.load_baseline(preset)
    assert base["design"]["verilog_sha256"] == rep["design"]["verilog_sha256"], (
        f"reports/synth/{preset}.json and synth/baselines/{preset}.json are of different RTL: "
        f"re-run `python -m synth.report --preset {preset} --update-baseline`")
    assert rep["design"]["standin"] is False and not rep["errors"]
    devs = compare.compare(base, compare.baseline_metrics(rep))
    assert devs and not compare.failures(devs), "\n".join(map(str, compare.failures(devs)))
    assert base["tools"]["packages"] == rep["tools"]["packages"]


def test_readme_synth_table_is_generated_from_the_reports():
    section = readme_section((ROOT / "README.md").read_text())
    expected = f"\n{README_NOTE}\n\n{summary(REPORTS, markers=False).rstrip()}\n\n"
    assert freshness.strip_markers(section) == freshness.strip_markers(expected), (
        "README is out of date: run `python -m synth.readme_table --readme README.md`")


@pytest.mark.reports
def test_readme_synth_table_is_exactly_generated_with_freshness_lines():
    section = readme_section((ROOT / "README.md").read_text())
    expected = f"\n{README_NOTE}\n\n{summary(REPORTS).rstrip()}\n\n"
    assert section == expected, "README is out of date: run `python -m synth.readme_table --readme README.md`"


@pytest.mark.reports
def test_every_committed_report_is_of_the_current_rtl():
    stale = [e for e in freshness.entries(ROOT) if not e.fresh]
    assert not stale, "stale reports (regenerate them, see docs/synthesis.md):\n" + freshness.to_markdown(stale)


@pytest.mark.reports
def test_speed_report_clock_is_the_committed_digits_report():
    speed = json.loads((REPORTS / "speed.json").read_text())
    digits = json.loads((REPORTS / "digits.json").read_text())
    assert "RTL " + digits["design"]["verilog_sha256"][:12] in speed["fmax_source"], (
        "reports/synth/speed.json took its clock from another digits report: re-run `python -m synth.speed`")


def test_freshness_flags_a_stale_report_and_markers_are_stripped(tmp_path):
    """The freshness check can fail: a report recording another hash is stale, one without a hash too."""
    rep = json.loads((REPORTS / "tiny.json").read_text())
    (tmp_path / "reports" / "synth").mkdir(parents=True)
    rep["design"]["verilog_sha256"] = "0" * 64
    (tmp_path / "reports" / "synth" / "tiny.json").write_text(json.dumps(rep))
    (tmp_path / "reports" / "rtl_report.json").write_text(json.dumps({"meta": {}, "runs": []}))
    es = {e.path: e for e in freshness.entries(tmp_path)}
    assert not es["reports/synth/tiny.json"].fresh and es["reports/synth/tiny.json"].measured == "0" * 64
    assert es["reports/synth/tiny.json"].current == _verilog_sha(PRESETS["tiny"])
    assert not es["reports/rtl_report.json [(no RTL hash recorded)]"].fresh
    # the right RTL, routed with other flow options: stale too
    rep["design"]["verilog_sha256"] = _verilog_sha(PRESETS["tiny"])
    rep["design"]["pnr_flow"] = {**flow.PNR_FLOW, "dsp_regs": not flow.PNR_FLOW["dsp_regs"]}
    rep["pnr"]["ecp5-25f"]["fmax_mhz"] = 100.0
    (tmp_path / "reports" / "synth" / "tiny.json").write_text(json.dumps(rep))
    e = {e.path: e for e in freshness.entries(tmp_path)}["reports/synth/tiny.json"]
    assert e.measured == e.current and not e.flow_ok and not e.fresh
    rep["design"]["pnr_flow"] = dict(flow.PNR_FLOW)
    (tmp_path / "reports" / "synth" / "tiny.json").write_text(json.dumps(rep))
    assert {e.path: e for e in freshness.entries(tmp_path)}["reports/synth/tiny.json"].fresh
    m = freshness.marker("tiny", "0" * 64, "1" * 64)
    assert "STALE" in m and freshness.strip_markers(f"a\n{m}\nb") == freshness.strip_markers("a\n_x: current RTL y_\nb")
    assert freshness.strip_markers("a\nb") == "a\nb"


def test_stale_report_is_detected():
    """The hash check above can fail: a different configuration gives different Verilog."""
    assert _verilog_sha(PRESETS["tiny"]) != _verilog_sha(PRESETS["tiny"].with_overrides(exp_table_bits=7))


def _sweep():
    return json.loads((REPORTS / "sweep.json").read_text())


def test_sweep_outputs_exist_and_agree_with_their_point_reports():
    from synth.sweep import point_summary, to_markdown
    sw = _sweep()
    assert (REPORTS / "sweep.png").stat().st_size > 10_000
    assert (REPORTS / "sweep.md").read_text() == to_markdown(sw)
    assert len(sw["k_points"]) >= 3 and sw["largest_fitting"]
    for p in sw["k_points"] + sw["table_points"]:
        rep = json.loads((REPORTS / "sweep_points" / f"{p['name']}.json").read_text())
        summary_now = point_summary(rep)
        summary_now.pop("runtime_s", None)
        assert {k: v for k, v in p.items() if k != "runtime_s"} == summary_now, p["name"]
        assert rep["design"]["standin"] is False and not rep["errors"]


def test_sweep_base_point_matches_the_base_preset_baseline():
    """The sweep point at the base preset's own K and table size is that preset: its numbers must lie
    within the stored baseline's tolerances, so the plot and the README table agree."""
    sw = _sweep()
    base = PRESETS[sw["base"]]
    same = [p for p in sw["k_points"] if p["lanes"] == base.lanes and p["table_bits"] == base.exp_table_bits]
    assert same, "the sweep does not contain the base preset's own point"
    rep = json.loads((REPORTS / "sweep_points" / f"{same[0]['name']}.json").read_text())
    base_rep = compare.load_baseline(sw["base"])
    if rep["design"]["verilog_sha256"] != base_rep["design"]["verilog_sha256"]:
        # different RTL (the sweep is awaiting a re-run): the README must say the sweep is stale
        section = readme_section((ROOT / "README.md").read_text())
        assert "_sweep points:" in section and "STALE" in section.split("_sweep points:", 1)[1].split("\n", 1)[0]
        return
    devs = compare.compare(base_rep, compare.baseline_metrics(rep))
    assert len(devs) > 20 and not compare.failures(devs), "\n".join(map(str, compare.failures(devs)))


def test_phase_report_is_registered_with_the_phases_cores(tmp_path):
    """reports/phase_report.json is in the staleness table; its labels name the presets generated with
    ``phases`` (the RTL its cycle models describe), so an RTL change there makes it stale."""
    assert ("reports/phase_report.json", freshness._tagged) in freshness.REPORT_FILES
    assert freshness.label_config("tiny+phases") == PRESETS["tiny"].with_overrides(phases=True)
    assert freshness.label_config("tiny") == PRESETS["tiny"]
    p = tmp_path / "r.json"
    p.write_text(json.dumps({"meta": {"rtl_sha256": {"small+phases": "0" * 64}}}))
    (sha, cfg, label, _), = freshness._tagged(p)
    assert sha == "0" * 64 and cfg.phases and cfg.lanes == PRESETS["small"].lanes and label == "small+phases"


def test_readme_names_a_lane_count_routed_outside_the_sweep(tmp_path):
    """A K missing from the sweep but committed as its own point (K = 32, static placer) is named
    in the README with its routed fmax and seeds; a missing point adds nothing."""
    from synth.readme_table import _separate_point
    (tmp_path / "sweep_points").mkdir()
    assert _separate_point(tmp_path, "tiny", 32) == ""
    rep = {"pnr": {"ecp5-85f": {"fits": True, "fmax_mhz": {"clk": 78.56}, "placer": "static", "variant": "dsp",
                                "fmax_by_seed": {"1": 78.56, "2": 75.33, "3": 76.1}, "fmax_median_mhz": 76.1},
                   "ecp5-25f": {"fits": False}}}
    (tmp_path / "sweep_points" / "tiny-K32.json").write_text(json.dumps(rep))
    text = _separate_point(tmp_path, "tiny", 32)
    assert "tiny-K32.md" in text and "ecp5-85f 78.6 MHz (median of seeds 1/2/3: 76.1), static placer" in text
    assert "ecp5-25f" not in text
