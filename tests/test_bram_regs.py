"""synth.bram_regs: registers moved into ECP5 block RAMs' output registers, proven equivalent.

The toy (tests/data/bram_regs_toy.v) is synthesised with ``synth_ecp5``; the pass runs on a copy;
Yosys then checks, with its own TRELLIS_FF / LUT / carry models and our DP16KD model
(tests/data/dp16kd_model.v), that both netlists give the same outputs for 8 cycles from reset for
every input sequence (SAT).  Netlists with a wrong output-register enable, or with the register
moved but the RAM left without its output register, must fail the same check.
"""

from __future__ import annotations

import copy
import json
import shutil
from collections import Counter
from pathlib import Path

import pytest

from synth.bram_regs import absorb_bram_registers
from synth.tools import run_tool

DATA = Path(__file__).parent / "data"

CHECK = """read_verilog +/ecp5/common_sim.vh +/ecp5/ccu2c_sim.vh
read_verilog dp16kd_model.v
read_json gold.json
hierarchy -top gold
proc
flatten
memory
design -stash g
read_verilog +/ecp5/common_sim.vh +/ecp5/ccu2c_sim.vh
read_verilog dp16kd_model.v
read_json gate.json
hierarchy -top gate
proc
flatten
memory
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
    work = tmp_path_factory.mktemp("bram_regs")
    shutil.copy(DATA / "bram_regs_toy.v", work / "toy.v")
    shutil.copy(DATA / "dp16kd_model.v", work / "dp16kd_model.v")
    run_tool("yosys", ["-q", "-p", "read_verilog toy.v; synth_ecp5 -top top -json pre.json"], work)
    pre = json.loads((work / "pre.json").read_text())
    post = copy.deepcopy(pre)
    stats = absorb_bram_registers(post, "top")
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


def _rams(netlist: dict) -> dict:
    return {n: c for n, c in netlist["modules"]["top"]["cells"].items() if c["type"] == "DP16KD"}


def test_output_registers_move_into_the_rams(toy):
    _, pre, post, stats = toy
    ffs = lambda n: Counter(c["type"] for c in n["modules"]["top"]["cells"].values())["TRELLIS_FF"]
    # m1's plain register and m2's enabled one move (9 bits each); m3's (a reset) and m4's
    # (logic between the RAM and the register) stay
    assert stats == {"rams": 4, "ports": 2, "ffs_removed": 18}
    assert ffs(pre) - ffs(post) == 18
    modes = {n.split(".")[0]: c["parameters"]["REGMODE_B"] for n, c in _rams(post).items()}
    assert modes == {"m1": "OUTREG", "m2": "OUTREG", "m3": "NOREG", "m4": "NOREG"}
    ram = _rams(post)
    enables = {n.split(".")[0]: c["connections"]["OCEB"][0] for n, c in ram.items()}
    assert enables["m1"] == "1" and not isinstance(enables["m2"], str)   # m2's enable is a net


def test_moved_registers_are_equivalent_and_the_check_catches_mistakes(toy):
    work, pre, post, _ = toy
    assert _equivalent(work, pre, post)
    m2 = lambda n: next(c for k, c in _rams(n).items() if k.startswith("m2"))
    bad = copy.deepcopy(post)
    m2(bad)["connections"]["OCEB"] = ["1"]              # the register's enable dropped
    assert not _equivalent(work, pre, bad)
    early = copy.deepcopy(post)
    m2(early)["parameters"]["REGMODE_B"] = "NOREG"      # flip-flops removed, no register in their place
    assert not _equivalent(work, pre, early)


def test_kept_flip_flops_stay_in_the_fabric(toy):
    _, pre, _, _ = toy
    kept = copy.deepcopy(pre)
    for c in kept["modules"]["top"]["cells"].values():
        if c["type"] == "TRELLIS_FF":
            c.setdefault("attributes", {})["keep"] = "00000000000000000000000000000001"
    assert absorb_bram_registers(kept, "top") == {"rams": 4, "ports": 0, "ffs_removed": 0}
    assert all(c["parameters"]["REGMODE_B"] == "NOREG" for c in _rams(kept).values())
