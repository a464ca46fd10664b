"""synth/sta.py: endpoint groups from nextpnr's detailed timing report (the fresh tiny run in
tests/test_synth.py checks that the worst group's arrival is nextpnr's critical path)."""

from __future__ import annotations

import json

import pytest

from synth import sta


def _net(driver, port, *sinks):
    return {"driver": driver, "port": port, "net": f"{driver}.{port}",
            "endpoints": [{"cell": c, "port": p, "delay": [a / 2, a], "event": "posedge clk"} for c, p, a in sinks]}


REPORT = {"detailed_net_timings": [
    _net("core.ctrl.cnt_TRELLIS_FF_Q", "Q",
         ("core.ctrl.x_LUT4_Z", "A", 30.0),                          # a LUT input: not an endpoint
         ("core.ctrl.pop_err0_TRELLIS_FF_Q_3", "CE", 9.5),
         ("core.ctrl.pop_err0_TRELLIS_FF_Q_4", "DI", 11.25),
         ("core.ctrl.pop_err0_TRELLIS_FF_Q_4", "CLK", 50.0)),        # the clock pin: not a path end
    _net("core.ctrl.x_LUT4_Z", "F",
         ("core.lane3.fu.rom.0.0", "ADA9", 10.5),                    # block RAM address
         ("core.lane12.p_lo_TRELLIS_FF_Q_35_DI_MULT18X18D_P35", "A4", 4.0),   # DSP operand
         ("core.lane12.y_TRELLIS_FF_Q", "M", 10.2),
         ("core.dist.addr_b_TRELLIS_FF_Q_9", "DI", 7.0)),
]}


def test_groups_keep_path_ends_and_rank_by_worst_arrival():
    g = sta.endpoint_groups(REPORT)
    assert [x.group for x in g] == ["core.ctrl.pop_err0", "core.lane3.fu.rom.0.0", "core.lane12.y",
                                    "core.dist.addr_b", "core.lane12.p_lo (MULT18X18D)"]
    by = {x.group: x for x in g}
    assert "core.ctrl.x_LUT4_Z" not in by
    assert by["core.ctrl.pop_err0"].arrival_ns == 11.25 and by["core.ctrl.pop_err0"].port == "DI"
    assert by["core.ctrl.pop_err0"].inputs == 2          # CE of bit 3, DI of bit 4; not the clock
    assert by["core.lane3.fu.rom.0.0"].arrival_ns == 10.5
    assert [x.arrival_ns for x in g] == sorted((x.arrival_ns for x in g), reverse=True)
    assert g[0].group == "core.ctrl.pop_err0" and len(g) == 5


def test_summary_counts_groups_over_the_period_per_block():
    s = sta.slow_summary(sta.endpoint_groups(REPORT), 10.0, top=2)
    assert s["groups_over"] == 3 and s["groups_total"] == 5
    assert s["per_block"] == {"core.lane*": 2, "core.ctrl": 1}
    assert [r["group"] for r in s["slowest"]] == ["core.ctrl.pop_err0", "core.lane3.fu.rom.0.0"]
    md = sta.render(s)
    assert md.startswith("3 of 5 register groups arrive later than 10 ns (100.0 MHz): core.lane* 2, core.ctrl 1.")
    assert "| 11.25 | `core.ctrl.pop_err0` | DI | 2 |" in md


def test_a_report_without_detailed_timings_is_refused():
    with pytest.raises(ValueError, match="--detailed-timing-report"):
        sta.endpoint_groups({"critical_paths": []})


def test_cli(tmp_path, capsys):
    rep = tmp_path / "pnr.json"
    rep.write_text(json.dumps(REPORT))
    out = tmp_path / "s.json"
    assert sta.main([str(rep), "--mhz", "50", "--json", str(out)]) == 0
    assert capsys.readouterr().out.startswith("0 of 5 register groups arrive later than 20 ns")
    assert json.loads(out.read_text())["period_ns"] == 20.0
    (tmp_path / "bare.json").write_text("{}")
    assert sta.main([str(tmp_path / "bare.json")]) == 2
    assert "detailed-timing-report" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        sta.main([str(tmp_path / "missing.json")])
    assert "no such report" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        sta.main([str(rep), "--mhz", "0"])
    assert "--mhz must be > 0" in capsys.readouterr().err


def test_block_timing_names_the_blocks_when_one_is_unknown(tmp_path):
    """`synth.block_timing` refuses an unknown block before any tool runs, naming the blocks."""
    from golden_model.config import get_preset
    from synth.block_timing import block_timing
    cfg = get_preset("tiny").with_overrides(phases=True)
    with pytest.raises(SystemExit) as e:
        block_timing(cfg, "tsne_engin", workdir=tmp_path)
    msg = str(e.value)
    assert "unknown block 'tsne_engin'" in msg and "tsne_engine" in msg and "lane" in msg
    assert not any(tmp_path.iterdir())
