"""synth.seeds: more nextpnr seeds for a finished report (nextpnr replaced by a stand-in here;
`tests/test_synth.py` runs the real flow)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from golden_model.config import get_preset
from synth import design, flow, seeds
from synth.report import median_fields

def _report_and_workdir(tmp_path):
    """A report of the current tiny RTL with one routed target, its netlist in `tmp_path`."""
    tiny = get_preset("tiny")
    sha = design.sha256(design.to_verilog(design.build_core(tiny), design.TOP))
    (tmp_path / "top_ecp5_dsp.json").write_text("{}")
    (tmp_path / "top_ecp5_dsp_stat.json").write_text("{}")
    return {"name": "tiny", "preset": "tiny", "overrides": {},
            "design": {"verilog_sha256": sha, "pnr_flow": dict(flow.PNR_FLOW)},
            "pnr": {"ecp5-25f": {"fits": True, "seed": 1, "variant": "dsp", "netlist": "top_ecp5_dsp.json",
                                 "fmax_mhz": {"clk": 101.0}},
                    "ecp5-85f": {"fits": False, "seed": 1, "variant": "dsp"}}}


def test_median_fields():
    assert median_fields({"1": 10.0, "2": None, "3": 30.0, "4": 20.0}) == \
        {"fmax_by_seed": {"1": 10.0, "2": None, "3": 30.0, "4": 20.0}, "fmax_median_mhz": 20.0}
    assert median_fields({"1": 10.0, "2": 30.0})["fmax_median_mhz"] == 20.0
    assert median_fields({"1": None})["fmax_median_mhz"] is None


def test_seeds_are_routed_in_their_own_directories_and_merged(tmp_path, monkeypatch):
    rep = _report_and_workdir(tmp_path)
    calls = []

    def fake_pnr(workdir, target, files, top="top", seed=1, variant="dsp", synth_json=None, **kw):
        assert (Path(workdir) / synth_json).exists() and Path(workdir).name == f"seed{seed}"
        calls.append((target.key, seed))
        return {"fits": True, "fmax_mhz": {"clk": 100.0 + seed}}

    monkeypatch.setattr(flow, "run_pnr", fake_pnr)
    seeds.add_seeds(rep, tmp_path, [1, 7, 8], jobs=2, log=lambda m: None)
    assert sorted(calls) == [("ecp5-25f", 7), ("ecp5-25f", 8)]    # seed 1 is the report's; 85F did not fit
    assert rep["pnr"]["ecp5-25f"]["fmax_by_seed"] == {"1": 101.0, "7": 107.0, "8": 108.0}
    assert rep["pnr"]["ecp5-25f"]["fmax_median_mhz"] == 107.0 and "fmax_by_seed" not in rep["pnr"]["ecp5-85f"]


def test_a_report_of_other_rtl_or_flow_or_without_its_netlist_is_refused(tmp_path):
    rep = _report_and_workdir(tmp_path)
    other = copy.deepcopy(rep)
    other["design"]["verilog_sha256"] = "0" * 64
    with pytest.raises(ValueError, match="current RTL"):
        seeds.add_seeds(other, tmp_path, [2], log=lambda m: None)
    other = copy.deepcopy(rep)
    other["design"]["pnr_flow"] = {**flow.PNR_FLOW, "dsp_regs": False}
    with pytest.raises(ValueError, match="flow options"):
        seeds.add_seeds(other, tmp_path, [2], log=lambda m: None)
    with pytest.raises(FileNotFoundError):
        seeds.add_seeds(copy.deepcopy(rep), tmp_path / "missing", [2], log=lambda m: None)


def test_a_second_run_on_a_locked_report_is_refused_and_leaves_it_alone(tmp_path, monkeypatch, capsys):
    import fcntl
    import json
    rep = _report_and_workdir(tmp_path)
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(rep))
    monkeypatch.setattr(flow, "run_pnr", lambda *a, **k: pytest.fail("a refused run must not route"))
    with open(path) as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        assert seeds.main([str(path), "--seeds", "2", "--workdir", str(tmp_path)]) == 2
    assert "another synth.seeds run" in capsys.readouterr().err
    assert json.loads(path.read_text()) == rep and not path.with_suffix(".md").exists()


def test_a_seed_already_routed_for_the_same_netlist_is_taken_not_routed_again(tmp_path, monkeypatch):
    calls = []

    def fake_pnr(workdir, target, files, top="top", seed=1, variant="dsp", synth_json=None, **kw):
        calls.append((seed, kw.get("placer")))
        return {"fits": True, "fmax_mhz": {"clk": 100.0 + seed + len(calls)}}

    monkeypatch.setattr(flow, "run_pnr", fake_pnr)
    rep = _report_and_workdir(tmp_path)
    seeds.add_seeds(rep, tmp_path, [2], log=lambda m: None)
    assert calls == [(2, "heap")] and rep["pnr"]["ecp5-25f"]["fmax_by_seed"]["2"] == 103.0
    # a second report of the same netlist (a resumed run, or a sweep point and a probe of it)
    again = _report_and_workdir(tmp_path)
    seeds.add_seeds(again, tmp_path, [2], log=lambda m: None)
    assert calls == [(2, "heap")] and again["pnr"]["ecp5-25f"]["fmax_by_seed"]["2"] == 103.0
    # another placer, or another netlist in the work directory: routed again
    other = _report_and_workdir(tmp_path)
    other["pnr"]["ecp5-25f"]["placer"] = "static"
    seeds.add_seeds(other, tmp_path, [2], log=lambda m: None)
    assert calls[-1] == (2, "static") and other["pnr"]["ecp5-25f"]["fmax_by_seed"]["2"] == 104.0
    changed = _report_and_workdir(tmp_path)
    changed["pnr"]["ecp5-25f"]["placer"] = "static"
    (tmp_path / "top_ecp5_dsp.json").write_text('{"modules": {}}')
    seeds.add_seeds(changed, tmp_path, [2], log=lambda m: None)
    assert calls[-1] == (2, "static") and len(calls) == 3
