"""synth.dsp_regs: registers moved into ECP5 multipliers, proven equivalent by a bounded check.

The toy (tests/data/dsp_regs_toy.v) is synthesised with ``synth_ecp5``; the pass runs on a copy;
Yosys then checks, with its own TRELLIS_FF / LUT / carry models and our MULT18X18D register
model, that both netlists give the same outputs for 8 cycles from reset for every input
sequence (SAT).  A netlist with one wrong register enable must fail the same check.
"""

from __future__ import annotations

import copy
import json
import shutil
from collections import Counter
from pathlib import Path

import pytest

from synth.dsp_regs import absorb_dsp_registers
from synth.tools import run_tool

DATA = Path(__file__).parent / "data"

CHECK = """read_verilog +/ecp5/common_sim.vh +/ecp5/ccu2c_sim.vh
read_verilog mult18x18d_model.v
read_json gold.json
hierarchy -top gold
proc
flatten
design -stash g
read_verilog +/ecp5/common_sim.vh +/ecp5/ccu2c_sim.vh
read_verilog mult18x18d_model.v
read_json gate.json
hierarchy -top gate
proc
flatten
design -stash t
design -copy-from g -as gold gold
design -copy-from t -as gate gate
miter -equiv -flatten -make_assert gold gate miter
hierarchy -top miter
opt
sat -verify -seq 8 -set-init-zero -prove-asserts miter
"""


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    work = tmp_path_factory.mktemp("dsp_regs")
    shutil.copy(DATA / "dsp_regs_toy.v", work / "toy.v")
    shutil.copy(DATA / "mult18x18d_model.v", work / "mult18x18d_model.v")
    run_tool("yosys", ["-q", "-p", "read_verilog toy.v; synth_ecp5 -top top -json pre.json"], work)
    pre = json.loads((work / "pre.json").read_text())
    post = copy.deepcopy(pre)
    stats = absorb_dsp_registers(post, "top")
    return work, pre, post, stats


def _only(netlist: dict, name: str) -> dict:
    return {**netlist, "modules": {name: netlist["modules"]["top"]}}


def _equivalent(work: Path, gold: dict, gate: dict) -> bool:
    (work / "gold.json").write_text(json.dumps(_only(gold, "gold")))
    (work / "gate.json").write_text(json.dumps(_only(gate, "gate")))
    (work / "check.ys").write_text(CHECK)
    run = run_tool("yosys", ["-q", "check.ys"], work, check=False, timeout=600)
    if run.returncode != 0 and "proof did fail" not in run.output:
        raise AssertionError(f"the equivalence check did not run:\n{run.output[-2000:]}")
    return run.returncode == 0


def _dsps(netlist: dict) -> list:
    return [c for c in netlist["modules"]["top"]["cells"].values() if c["type"] == "MULT18X18D"]


def test_registers_move_into_the_multipliers(toy):
    _, pre, post, stats = toy
    ffs = lambda n: Counter(c["type"] for c in n["modules"]["top"]["cells"].values())["TRELLIS_FF"]
    # four multipliers: p, q (operands and product), w (operands; its product feeds an adder),
    # s (the product only: its operand br qualifies, but its other operand is p, already p's
    # product register, and operand registers move in pairs)
    assert stats == {"dsps": 4, "input_ports": 6, "outputs": 3, "ffs_removed": ffs(pre) - ffs(post),
                     "bram_operands": 0, "deep_operands": 0, "unpaired_operands": 1}
    # removed: cr (6), p (19; y's flip-flops stay), q (15), s (18); ar stays (it also feeds
    # ar_out), br stays (unpaired)
    assert ffs(pre) - ffs(post) == 6 + 19 + 15 + 18
    regs = [sorted(k for k in d["parameters"] if k.endswith("_CLK")) for d in _dsps(post)]
    assert sorted(regs) == sorted([["REG_INPUTA_CLK", "REG_INPUTB_CLK", "REG_OUTPUT_CLK"]] * 2 +
                                  [["REG_INPUTA_CLK", "REG_INPUTB_CLK"], ["REG_OUTPUT_CLK"]])
    # no multiplier with one input register and not the other (nextpnr cannot time that mode)
    assert all(("REG_INPUTA_CLK" in d["parameters"]) == ("REG_INPUTB_CLK" in d["parameters"]) for d in _dsps(post))
    assert all(d["parameters"]["RESETMODE"] == "SYNC" for d in _dsps(post))


def test_moved_registers_are_equivalent_and_the_check_catches_a_wrong_enable(toy):
    work, pre, post, _ = toy
    assert _equivalent(work, pre, post)
    bad = copy.deepcopy(post)
    dsp = next(d for d in _dsps(bad) if d["parameters"].get("REG_OUTPUT_CE") not in (None, "CE0"))
    dsp["parameters"]["REG_OUTPUT_CE"] = "CE0"       # the operands' enable, not the product's
    assert not _equivalent(work, pre, bad)


def test_kept_flip_flops_stay_in_the_fabric(toy):
    _, pre, _, _ = toy
    kept = copy.deepcopy(pre)
    for c in kept["modules"]["top"]["cells"].values():
        if c["type"] == "TRELLIS_FF":
            c.setdefault("attributes", {})["keep"] = "00000000000000000000000000000001"
    stats = absorb_dsp_registers(kept, "top")
    assert stats["input_ports"] == stats["outputs"] == stats["ffs_removed"] == 0
    assert all(not any(k.endswith("_CLK") for k in d["parameters"]) for d in _dsps(kept))


def test_operands_behind_a_block_ram_or_deep_logic_stay_in_the_fabric(tmp_path):
    shutil.copy(DATA / "dsp_regs_fabric.v", tmp_path / "fabric.v")
    run_tool("yosys", ["-q", "-p", "read_verilog fabric.v; synth_ecp5 -top top -json pre.json"], tmp_path)
    netlist = json.loads((tmp_path / "pre.json").read_text())
    types = Counter(c["type"] for c in netlist["modules"]["top"]["cells"].values())
    assert types["DP16KD"] == 1 and types["MULT18X18D"] == 2, types
    stats = absorb_dsp_registers(netlist, "top")
    # each multiplier's other operand qualifies, but operand registers move in pairs only
    assert (stats["bram_operands"], stats["deep_operands"], stats["input_ports"], stats["outputs"],
            stats["unpaired_operands"]) == (1, 1, 0, 2, 2)
    cells = netlist["modules"]["top"]["cells"]
    ff_q = {b for c in cells.values() if c["type"] == "TRELLIS_FF" for b in c["connections"]["Q"]}
    for dsp in _dsps(netlist):
        regs = sorted(k for k in dsp["parameters"] if k.endswith("_CLK"))
        assert regs == ["REG_OUTPUT_CLK"], regs
        # both operands are still driven by their fabric flip-flops
        for letter in "AB":
            assert any(dsp["connections"][f"{letter}{k}"][0] in ff_q for k in range(18))
