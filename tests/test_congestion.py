"""`synth.congestion`: router2 heatmaps grouped by design block (synthetic heatmaps, no tool run)."""

from __future__ import annotations

import json

import pytest

from synth import congestion as cg

BY_NET = """core.lane7.prod[3],5
core.lane12.prod[4],3
core.lane0.fu.o_y[1],2
core.ctrl.ds[0],4
core.run_pp,10
$PACKER_VCC_NET,1
core.dist.mm_sel[1],0
header,not-a-number
"""
BY_COORD = "0,0,0,\n0,9,1,\n0,1,1,\n"


def _write(tmp_path, it=2):
    (tmp_path / f"h_congestion_by_net_{it}.csv").write_text(BY_NET)
    (tmp_path / f"h_congestion_by_coordinate_{it}.csv").write_text(BY_COORD)
    return tmp_path / "h"


def test_nets_are_grouped_by_block_with_instances_folded_and_bits_dropped():
    assert cg.block_of("core.lane7.prod[3]") == "core.lane*"
    assert cg.block_of("core.lane7.prod[3]", depth=3) == "core.lane*.prod"
    assert cg.block_of("core.lane0.fu.o_y[1]", depth=3) == "core.lane*.fu"
    assert cg.block_of("core.run_pp") == "core.run_pp"
    assert cg.block_of("$PACKER_GND_NET") == "(tool)"
    with pytest.raises(ValueError, match="depth 0 is out of range: allowed >= 1"):
        cg.block_of("core.x", depth=0)


def test_summary_shares_top_nets_and_spread(tmp_path):
    s = cg.summary(_write(tmp_path), 2, depth=2, top=3)
    assert s["overuse"] == 25 and s["nets"] == 7
    blocks = {b["block"]: b["overuse"] for b in s["blocks"]}
    assert blocks == {"core.lane*": 10, "core.run_pp": 10, "core.ctrl": 4, "(tool)": 1, "core.dist": 0}
    assert [n["net"] for n in s["nets_top"]] == ["core.run_pp", "core.lane7.prod[3]", "core.ctrl.ds[0]"]
    sp = s["spread"]
    assert sp["total"] == 12 and sp["rows"]["with_overuse"] == 2 and sp["rows"]["max"] == 10
    assert sp["rows"]["max_over_mean"] == round(10 / 6, 2) and sp["columns"]["max_over_mean"] == round(10 / 6, 2)
    md = cg.summary_markdown(s)
    assert "| `core.lane*` | 10 | 40.0 % |" in md and "25 overused wire uses on 7 nets" in md


def test_cli_writes_json_and_names_the_iterations_that_exist(tmp_path, capsys):
    prefix = _write(tmp_path)
    assert cg.main([str(prefix), "--iteration", "2", "--json", str(tmp_path / "s.json")]) == 0
    assert json.loads((tmp_path / "s.json").read_text())["overuse"] == 25
    assert cg.main([str(prefix), "--iteration", "5"]) == 2
    assert "no router2 heatmap of iteration 5 (iterations written: 2)" in capsys.readouterr().err
    assert cg.main([str(tmp_path / "none" / "h")]) == 2
    assert "--router2-heatmap" in capsys.readouterr().err
    assert cg.main([str(prefix), "--iteration", "2", "--depth", "0"]) == 2
    assert "--depth 0 is out of range: allowed >= 1" in capsys.readouterr().err
