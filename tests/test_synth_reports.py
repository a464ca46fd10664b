"""The committed synthesis results are those of the current RTL.

The README table, `reports/synth/<preset>.json` and `synth/baselines/<preset>.json` are produced by
the (deterministic, pinned) YoWASP tools, far too slowly to re-run in the default suite for every
preset.  These tests make the committed numbers trustworthy without re-running them:

* each report and baseline was made from exactly the Verilog the generator emits today (SHA-256);
* each report is within its baseline's tolerances (they are the same run when committed);
* the README section is exactly what `synth.readme_table` renders from the reports;
* the sweep's points are of the current RTL, and its base point agrees with the base preset's
  baseline within tolerance (so the plot and the table tell the same story).

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
from synth import compare, design  # noqa: E402
from synth.readme_table import README_NOTE, readme_section, summary  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
REPORTS = ROOT / "reports" / "synth"
README_PRESETS = ("tiny", "small", "digits")


def _verilog_sha(cfg: AccelConfig) -> str:
    return design.sha256(design.to_verilog(design.build_core(cfg), design.TOP))


@pytest.mark.parametrize("preset", README_PRESETS)
def test_report_and_baseline_are_of_the_current_rtl(preset):
    rep = json.loads((REPORTS / f"{preset}.json").read_text())
    base = compare.load_baseline(preset)
    sha = _verilog_sha(PRESETS[preset])
    assert rep["design"]["verilog_sha256"] == sha, (
        f"reports/synth/{preset}.json is stale: re-run `python -m synth.report --preset {preset} --update-baseline`")
    assert base["design"]["verilog_sha256"] == sha, f"synth/baselines/{preset}.json is stale"
    assert rep["design"]["standin"] is False and not rep["errors"]
    devs = compare.compare(base, compare.baseline_metrics(rep))
    assert devs and not compare.failures(devs), "\n".join(map(str, compare.failures(devs)))
    assert base["tools"]["packages"] == rep["tools"]["packages"]


def test_readme_synth_table_is_generated_from_the_reports():
    section = readme_section((ROOT / "README.md").read_text())
    expected = f"\n{README_NOTE}\n\n{summary(REPORTS).rstrip()}\n\n"
    assert section == expected, "README is out of date: run `python -m synth.readme_table --readme README.md`"


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


@pytest.mark.parametrize("kind", ["k_points", "table_points"])
def test_sweep_points_are_of_the_current_rtl(kind):
    sw = _sweep()
    base = PRESETS[sw["base"]]
    for p in sw[kind]:
        rep = json.loads((REPORTS / "sweep_points" / f"{p['name']}.json").read_text())
        cfg = base.with_overrides(**rep["overrides"])
        assert rep["design"]["verilog_sha256"] == _verilog_sha(cfg), f"sweep point {p['name']} is stale"


def test_sweep_base_point_matches_the_base_preset_baseline():
    """The sweep point at the base preset's own K and table size is that preset: its numbers must lie
    within the stored baseline's tolerances, so the plot and the README table agree."""
    sw = _sweep()
    base = PRESETS[sw["base"]]
    same = [p for p in sw["k_points"] if p["lanes"] == base.lanes and p["table_bits"] == base.exp_table_bits]
    assert same, "the sweep does not contain the base preset's own point"
    rep = json.loads((REPORTS / "sweep_points" / f"{same[0]['name']}.json").read_text())
    devs = compare.compare(compare.load_baseline(sw["base"]), compare.baseline_metrics(rep))
    assert len(devs) > 20 and not compare.failures(devs), "\n".join(map(str, compare.failures(devs)))
