"""Yosys / nextpnr scripts of the synthesis report and the parsers of their outputs.

Three kinds of run, each a single tool invocation in a work directory (relative paths only):

``asic``  (Yosys)  generic synthesis and a CMOS transistor estimate of one module::

        synth -flatten -top T -run :fine        # coarse synthesis, memories kept as $mem_v2
        techmap -map asic_sram_map.v t:$mem_v2  # RAMs >= SRAM_MIN_BITS -> ASIC_SRAM black boxes
        synth -flatten -top T -run fine:        # the rest (ROMs, small RAMs) -> gates and flops
        delete t:$scopeinfo                     # flatten's scope annotations are not cells
        stat -json                              # generic cell counts by type
        dfflegalize -cell $_DFF_P_ 01           # every flop -> plain posedge D flop (+ gates)
        abc -g cmos2                            # gates -> NAND/NOR/NOT
        stat -tech cmos -json (all but ASIC_SRAM)

    The transistor count is ``logic (stat -tech cmos) + SRAM bit cells`` with (4 + 2 ports)
    transistors per bit (6T single-port, 8T one-read-one-write), periphery not included; the
    NAND2-equivalent gate count is transistors / 4.  Both are *estimates* (no library, no sizing,
    no wiring).  A count that Yosys marks incomplete (ending in ``+``: a cell type without a CMOS
    model) raises `IncompleteCmosCount`.

``fpga``  (Yosys)  out-of-context mapping of one module for one FPGA family, with and without DSP
    inference (``synth_ice40 -device u [-dsp]``; ``synth_ecp5 [-nodsp]``): LUTs, FFs, carry
    cells, DSP blocks, block RAMs.

``pnr``   (Yosys + nextpnr)  the module inside `harness.SerialHarness` for a real board
    (amaranth-boards platform: RTLIL and pin constraints from ``platform.prepare``), synthesised
    with the family's default DSP setting (ice40 ``-dsp``, ecp5 DSP on), placed and routed with a
    fixed seed, ``--timing-allow-fail --report``; fmax per clock from the report JSON.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

from hw.replica import REPLICA_ATTR

from .tools import ToolError, run_tool

SCRIPTS = Path(__file__).parent / "scripts"
SRAM_MIN_BITS = 1024
DEFAULT_SEED = 1
#: The place-and-route flow's options and their defaults, written once: `run_pnr`, the report
#: CLI and `synth.freshness` (a committed report made with other options is stale) read it.
#: ``dsp_regs``: operand / product registers moved into the ECP5 multipliers (`synth.dsp_regs`);
#: ``dsp_input_pairs``: with ``dsp_regs``, a multiplier's operand registers move in pairs only
#: (both or neither: nextpnr cannot time one registered input; the rule of `synth.dsp_regs` since
#: session 16 - reports routed before it record no such key and are stale);
#: ``bram_regs``: the register after a block-RAM read port moved into the ECP5 block RAM's output
#: register (`synth.bram_regs`; reports routed before session 20 record no such key and are stale);
#: ``no_rw_check``: memories marked no_rw_check without a read-during-write bypass
#: (`honour_no_rw_check`);
#: ``placer_timing_weight``: nextpnr's ``--placer-heap-timingweight`` (nextpnr's own default is 10).
#: Ours is 30: on the digits core (ECP5-85F) it gave 92.9 / 89.5 MHz (seeds 1 / 2) where the default
#: gave 84.0 (seed 1) on the same netlist, and 91.0 against 86.8 on an earlier one (session 17/18).
PNR_FLOW = {"dsp_regs": True, "dsp_input_pairs": True, "bram_regs": True, "no_rw_check": True,
            "placer_timing_weight": 30}


#: nextpnr's routers (``--router``): router1, nextpnr's default and ours, or router2 (a negotiated-
#: congestion router; on session 42's tiny phases netlist it oscillated where router1 routed in ~20
#: minutes, docs/synthesis.md).  The router is a per-run choice like the seed, recorded in each P&R
#: result as ``router``, not a flow option: a report routed by either is of today's flow.
ROUTERS = ("router1", "router2")
DEFAULT_ROUTER = "router1"


#: nextpnr's placers (``--placer``): heap (HeAP, nextpnr's default and ours, with the flow's timing
#: weight) or static (the electrostatic placer; on the K = 32 sweep point of session 46 it left
#: 24 % less wire length than HeAP and router1 routed it, at 66.6 MHz, where on HeAP's placement
#: it does not converge, docs/synthesis.md).  A per-run choice like the router, recorded in each
#: P&R result as ``placer``.
PLACERS = ("heap", "static")
DEFAULT_PLACER = "heap"


#: the per-run nextpnr choices: option name -> (allowed values, default); written once for
#: `run_pnr`, the reports, the CLIs (`add_run_arguments`) and the recorded results (`choice_of`)
RUN_CHOICES = {"router": (ROUTERS, DEFAULT_ROUTER), "placer": (PLACERS, DEFAULT_PLACER)}


def check_choice(kind: str, value: str) -> str:
    """`value` if it is allowed for nextpnr option `kind` (`RUN_CHOICES`), else a ValueError
    naming the allowed values."""
    allowed = RUN_CHOICES[kind][0]
    if value not in allowed:
        raise ValueError(f"nextpnr {kind} {value!r} is not supported: allowed {', '.join(allowed)}")
    return value


def choice_of(res: dict, kind: str) -> str:
    """The `kind` a P&R result was made with (results made before the key existed: the default)."""
    return res.get(kind, RUN_CHOICES[kind][1])


def add_run_arguments(ap) -> None:
    """The CLIs' per-run nextpnr options (`synth.report`, `synth.sweep`): --pnr-timeout and one
    option per `RUN_CHOICES` entry; `pnr_timeout_s` checks and converts the timeout."""
    ap.add_argument("--pnr-timeout", type=float, default=None, metavar="MINUTES",
                    help="stop each nextpnr run after this many minutes (> 0); it is then recorded as not "
                         "routed within the limit (default: no limit)")
    for kind, (allowed, default) in RUN_CHOICES.items():
        ap.add_argument(f"--{kind}", default=default, choices=allowed,
                        help=f"nextpnr {kind} (default {default}; recorded in each P&R result)")


def pnr_timeout_s(minutes: float | None) -> float | None:
    """--pnr-timeout MINUTES in seconds (None: no limit); a ValueError when not > 0."""
    if minutes is None:
        return None
    if not minutes > 0:
        raise ValueError(f"--pnr-timeout {minutes:g} is out of range: allowed > 0 minutes")
    return 60.0 * minutes


def placer_args(placer: str = DEFAULT_PLACER) -> list:
    """nextpnr arguments of `placer` with the flow's placer options (`PNR_FLOW`: HeAP's timing
    weight; the default placer is not named, so earlier reports' commands stay as they were)."""
    check_choice("placer", placer)
    if placer == "heap":
        return ["--placer-heap-timingweight", str(PNR_FLOW["placer_timing_weight"])]
    return ["--placer", placer]

# Cell types with a transistor model in `stat -tech cmos` that abc -g cmos2 + dfflegalize produce.
CMOS_CELLS = {"$_NOT_": 2, "$_NAND_": 4, "$_NOR_": 4, "$_DFF_P_": 16}


class IncompleteCmosCount(RuntimeError):
    """`stat -tech cmos` could not count every cell (its count ends in '+', or cells are missing)."""


# --------------------------------------------------------------------------- scripts


#: the flip-flops driving a signal with `hw.replica.REPLICA_ATTR` (one fan-out copy per lane) are
#: marked ``keep``, so that ``opt_merge`` does not merge the copies back into one register
#: (``proc`` first: read from Verilog, a register is a process until then)
KEEP_REPLICAS = ["proc", f"setattr -set keep 1 a:{REPLICA_ATTR} %ci1:+[Q] t:$dff %i"]


def honour_no_rw_check(max_read_ports: int = 4, max_write_ports: int = 2) -> list:
    """Yosys commands giving memories marked ``no_rw_check`` undefined read-during-write results.

    Amaranth emits every read port with ``COLLISION_X_MASK = 0`` (a read that collides with a
    write returns the old word), so Yosys wraps each block RAM in a registered write port and a
    bypass multiplexer; the ``no_rw_check`` attribute the RTL sets on the banks whose used reads
    never collide (checked by simulation assertions) is ignored when reading RTLIL (Yosys' Verilog
    front end is what turns it into the mask).  These lines set the mask on those memories; they
    follow `read_lines` (whose ``proc`` they need)."""
    lines = ["memory_collect"]
    for rd in range(1, max_read_ports + 1):
        for wr in range(1, max_write_ports + 1):
            n = rd * wr
            lines.append(f"setparam -set RD_COLLISION_X_MASK {n}'b{'1' * n} t:$mem_v2 a:no_rw_check %i "
                         f"r:RD_PORTS={rd} %i r:WR_PORTS={wr} %i")
    return lines


def read_lines(src: str, src_kind: str) -> list:
    """Read the design and keep its fan-out replicas (`KEEP_REPLICAS`)."""
    return [f"read_verilog -sv {src}" if src_kind == "verilog" else f"read_rtlil {src}", *KEEP_REPLICAS]


def asic_script(src: str, top: str, src_kind: str = "verilog", sram_min_bits: int = SRAM_MIN_BITS,
                prefix: str = "asic") -> str:
    return "\n".join([
        *read_lines(src, src_kind),
        "read_verilog -lib asic_sram_bb.v",
        f"hierarchy -check -top {top}",
        f"synth -flatten -top {top} -run :fine",
        f"techmap -D ASIC_SRAM_MIN_BITS={sram_min_bits} -map asic_sram_map.v t:$mem_v2",
        f"synth -flatten -top {top} -run fine:",
        "delete t:$scopeinfo",
        f"tee -q -o {prefix}_generic_stat.json stat -json",
        f"tee -q -o {prefix}_srams.il dump t:ASIC_SRAM",
        "dfflegalize -cell $_DFF_P_ 01",
        "abc -g cmos2",
        "opt_clean",
        f"tee -q -o {prefix}_cmos_stat.json stat -tech cmos -json t:ASIC_SRAM %n",
        "",
    ])


FPGA_VARIANTS = {
    # family -> [(variant, synth command without -top), ...]; the first is the P&R default
    "ice40": [("dsp", "synth_ice40 -device u -dsp"), ("nodsp", "synth_ice40 -device u")],
    "ecp5": [("dsp", "synth_ecp5"), ("nodsp", "synth_ecp5 -nodsp")],
}


#: Workaround for Yosys issue #4349 (abc9 re-integration asserts ``count_id(wire->name) == 0``
#: on some Amaranth netlists): split multi-bit nets before LUT mapping.  Used only when the plain
#: command hits that assertion; the report then records ``"workaround"``.
ABC9_WORKAROUND = "splitnets before map_luts (Yosys issue #4349)"


def synth_lines(cmd: str, top: str, json_out: str | None = None, workaround: bool = False) -> list:
    js = f" -json {json_out}" if json_out else ""
    if not workaround:
        return [f"{cmd} -top {top}{js}"]
    return [f"{cmd} -top {top} -run :map_luts", "splitnets", f"{cmd} -top {top} -run map_luts:{js}"]


def _is_abc9_name_clash(err: Exception) -> bool:
    return isinstance(err, ToolError) and "count_id(" in str(err)


def fpga_script(src: str, top: str, family: str, variants=None, src_kind: str = "verilog",
                prefix: str = "fpga", json_out: str | None = None, workaround: bool = False) -> str:
    lines = [*read_lines(src, src_kind), f"hierarchy -check -top {top}", "design -save rtl"]
    first = True
    for variant, cmd in FPGA_VARIANTS[family]:
        if variants is not None and variant not in variants:
            continue
        if not first:
            lines.append("design -load rtl")
        first = False
        lines += synth_lines(cmd, top, json_out, workaround)
        lines.append(f"tee -q -o {prefix}_{family}_{variant}_stat.json stat -json")
    return "\n".join(lines + [""])


def copy_scripts(workdir: Path) -> None:
    for f in ("asic_sram_map.v", "asic_sram_bb.v"):
        shutil.copy(SCRIPTS / f, workdir / f)


# --------------------------------------------------------------------------- parsers


def stat_module(stat: dict, top: str | None = None) -> dict:
    """The statistics of the (flattened) top module from a `stat -json` output."""
    if "design" in stat:
        return stat["design"]
    mods = stat.get("modules", {})
    if top is not None and ("\\" + top) in mods:
        return mods["\\" + top]
    if len(mods) == 1:
        return next(iter(mods.values()))
    raise ValueError(f"cannot find the top module in stat output (modules: {list(mods)})")


def cmos_count(stat: dict, top: str | None = None) -> dict:
    """Transistor count of a `stat -tech cmos -json` output; raises IncompleteCmosCount when Yosys
    marks the count incomplete ('+') or a cell type has no CMOS model."""
    mod = stat_module(stat, top)
    est = mod.get("estimated_num_transistors")
    if est is None:
        raise IncompleteCmosCount("stat -tech cmos printed no transistor estimate")
    est = str(est).strip()
    if est.endswith("+"):
        unknown = sorted(set(mod.get("num_cells_by_type", {})) - set(CMOS_CELLS))
        raise IncompleteCmosCount(
            f"incomplete CMOS transistor count {est!r}: cell types without a CMOS model: {unknown} "
            "(legalise flops with dfflegalize and map with abc -g cmos2 first)")
    cells = mod.get("num_cells_by_type", {})
    unknown = sorted(set(cells) - set(CMOS_CELLS))
    if unknown:
        raise IncompleteCmosCount(f"cells without a CMOS model left after mapping: {unknown}")
    n = int(est)
    check = sum(CMOS_CELLS[c] * k for c, k in cells.items())
    if check != n:
        raise IncompleteCmosCount(f"transistor count {n} does not match the cell counts ({check})")
    if sum(cells.values()) != mod.get("num_cells", sum(cells.values())):
        raise IncompleteCmosCount("cells missing from the per-type count")
    return {"transistors": n, "cells_by_type": dict(sorted(cells.items())), "num_cells": mod.get("num_cells")}


def _param_int(v: str) -> int:
    v = v.strip()
    m = re.fullmatch(r"(\d+)'([01xz]+)", v)
    if m:
        return int(m.group(2).replace("x", "0").replace("z", "0"), 2)
    return int(v)


def parse_srams(dump: str) -> list:
    """ASIC_SRAM cells (name and parameters) from a Yosys `dump` of them."""
    out = []
    cur = None
    for line in dump.splitlines():
        s = line.strip()
        m = re.match(r"cell \\ASIC_SRAM (\S+)", s)
        if m:
            cur = {"name": m.group(1).lstrip("\\")}
            continue
        if cur is not None:
            m = re.match(r"parameter \\(\w+) (.+)", s)
            if m:
                cur[m.group(1).lower()] = _param_int(m.group(2))
            elif s == "end":
                out.append(cur)
                cur = None
    for c in out:
        c["bits"] = c["size"] * c["width"]
        c["ports"] = c["rd_ports"] + c["wr_ports"]
        c["transistors_per_bit"] = 4 + 2 * c["ports"]
        c["transistors"] = c["bits"] * c["transistors_per_bit"]
    return out


def precheck_fit(target, res: dict) -> str | None:
    """Reason why out-of-context resources `res` cannot fit `target` (None if they may)."""
    cap = target.capacity_dict
    for k in ("luts", "ffs", "bram", "dsp"):
        c = cap.get("luts" if k == "ffs" else k)
        if c is not None and res.get(k, 0) > c:
            return f"does not fit (synthesis): {res[k]} {k} > {c} on {target.key}"
    return None


def choose_variant(target, res_by_variant: dict) -> tuple:
    """(variant, note): the DSP-inferring variant unless it needs more DSP blocks than the device
    has, then the variant without DSP inference."""
    cap = target.capacity_dict.get("dsp")
    dsp = res_by_variant.get("dsp", {}).get("dsp", 0)
    if cap is not None and dsp > cap and "nodsp" in res_by_variant:
        return "nodsp", f"{dsp} multipliers would need more DSP blocks than the {cap} of {target.key}: no DSP inference"
    return "dsp", ""


def fpga_resources(family: str, cells: dict) -> dict:
    """Summarise a mapped netlist's cells: LUTs, FFs, carry, DSP, BRAM (+ what else is there)."""
    def s(pred):
        return sum(k for c, k in cells.items() if pred(c))
    if family == "ice40":
        return {
            "luts": s(lambda c: c == "SB_LUT4"),
            "ffs": s(lambda c: c.startswith("SB_DFF")),
            "carry": s(lambda c: c == "SB_CARRY"),
            "dsp": s(lambda c: c == "SB_MAC16"),
            "bram": s(lambda c: c.startswith("SB_RAM40")),
            "spram": s(lambda c: c == "SB_SPRAM256KA"),
        }
    return {
        "luts": s(lambda c: c == "LUT4"),
        "ffs": s(lambda c: c == "TRELLIS_FF"),
        "carry": s(lambda c: c == "CCU2C"),
        "dsp": s(lambda c: c in ("MULT18X18D", "ALU54B")),
        "bram": s(lambda c: c == "DP16KD"),
        "lutram": s(lambda c: c == "TRELLIS_DPR16X4"),
        "widemux": s(lambda c: c in ("PFUMX", "L6MUX21")),
    }


# --------------------------------------------------------------------------- runs


def run_asic(workdir: Path, src: str, top: str, src_kind: str = "verilog", prefix: str = "asic",
             sram_min_bits: int = SRAM_MIN_BITS) -> dict:
    workdir = Path(workdir)
    copy_scripts(workdir)
    script = asic_script(src, top, src_kind, sram_min_bits, prefix)
    (workdir / f"{prefix}.ys").write_text(script)
    run = run_tool("yosys", ["-q", "-l", f"{prefix}.log", f"{prefix}.ys"], workdir)
    gen = stat_module(json.loads((workdir / f"{prefix}_generic_stat.json").read_text()), top)
    srams = parse_srams((workdir / f"{prefix}_srams.il").read_text())
    cm = cmos_count(json.loads((workdir / f"{prefix}_cmos_stat.json").read_text()), top)
    sram_t = sum(c["transistors"] for c in srams)
    total = cm["transistors"] + sram_t
    generic_cells = dict(sorted(gen.get("num_cells_by_type", {}).items()))
    return {
        "script": script,
        "run": run.to_dict(),
        "generic": {
            "num_cells": gen.get("num_cells"),
            "cells_by_type": generic_cells,
            "flops": sum(k for c, k in generic_cells.items() if "DFF" in c or "DLATCH" in c),
            "sram_macros": len(srams),
        },
        "cmos": {
            "logic_transistors": cm["transistors"],
            "cells_by_type": cm["cells_by_type"],
            "sram_macros": srams,
            "sram_bits": sum(c["bits"] for c in srams),
            "sram_bitcell_transistors": sram_t,
            "transistors": total,
            "nand2_equivalent": round(total / 4),
            "logic_nand2_equivalent": round(cm["transistors"] / 4),
            "sram_min_bits": sram_min_bits,
            "note": ("estimate: Yosys `stat -tech cmos` after dfflegalize + abc -g cmos2 (NOT 2, NAND/NOR 4, "
                     "DFF 16 transistors) plus (4 + 2*ports) transistors per SRAM bit (no periphery); "
                     "NAND2 equivalent = transistors / 4"),
        },
    }


def run_fpga(workdir: Path, src: str, top: str, family: str, src_kind: str = "verilog",
             prefix: str = "fpga", variants=None) -> dict:
    workdir = Path(workdir)
    name = f"{prefix}_{family}"
    workaround = False
    while True:
        script = fpga_script(src, top, family, variants, src_kind, prefix, workaround=workaround)
        (workdir / f"{name}.ys").write_text(script)
        try:
            run = run_tool("yosys", ["-q", "-l", f"{name}.log", f"{name}.ys"], workdir)
            break
        except ToolError as e:
            if workaround or not _is_abc9_name_clash(e):
                raise
            workaround = True
    out = {"script": script, "run": run.to_dict(), "variants": {}}
    if workaround:
        out["workaround"] = ABC9_WORKAROUND
    for variant, cmd in FPGA_VARIANTS[family]:
        if variants is not None and variant not in variants:
            continue
        st = stat_module(json.loads((workdir / f"{prefix}_{family}_{variant}_stat.json").read_text()), top)
        cells = dict(sorted(st.get("num_cells_by_type", {}).items()))
        out["variants"][variant] = {"command": f"{cmd} -top {top}", **fpga_resources(family, cells),
                                    "cells_by_type": cells}
        if workaround:
            out["variants"][variant]["workaround"] = ABC9_WORKAROUND
    return out


def _last_progress(log: str) -> str:
    """The last line of nextpnr's log that says where it is (a router or placer progress row)."""
    rows = [ln.strip() for ln in log.splitlines() if ln.startswith("Info:") and ("|" in ln or "iter" in ln)]
    return " ".join(rows[-1].split()) if rows else ""


def _nextpnr_fail_reason(log: str) -> str:
    for line in log.splitlines()[::-1]:
        if "ERROR" in line or "Unable to place" in line or "but device" in line:
            return line.strip()
    return "nextpnr failed (see log)"


def _set_clock_target(constraints: str, family: str, mhz: float) -> tuple:
    if family == "ice40":
        pat = re.compile(r"^(set_frequency\s+\S+\s+)([0-9.eE+-]+)\s*$", re.M)
        new, n = pat.subn(lambda m: f"{m.group(1)}{mhz}", constraints)
    else:
        pat = re.compile(r'^(FREQUENCY\s+PORT\s+"[^"]+"\s+)([0-9.eE+-]+)(\s*HZ;)\s*$', re.M)
        new, n = pat.subn(lambda m: f"{m.group(1)}{mhz * 1e6}{m.group(3)}", constraints)
    if n != 1:
        raise ToolError(f"expected one clock constraint in the board constraints, found {n}")
    return new, n


def netlist_passes(netlist: dict, top: str, dsp_regs: bool = PNR_FLOW["dsp_regs"],
                   bram_regs: bool = PNR_FLOW["bram_regs"]) -> dict:
    """Apply the flow's ECP5 netlist passes to a Yosys JSON `netlist` (in place), in order:
    registers into the multipliers (`synth.dsp_regs`), then into the block RAMs' output
    registers (`synth.bram_regs`; a multiplier operand fed straight by a block RAM stays in the
    fabric, so the RAM can take it).  Returns each pass's counts under its name."""
    from .bram_regs import absorb_bram_registers
    from .dsp_regs import absorb_dsp_registers
    out = {}
    if dsp_regs:
        out["dsp_regs"] = absorb_dsp_registers(netlist, top)
    if bram_regs:
        out["bram_regs"] = absorb_bram_registers(netlist, top)
    return out


def run_pnr(workdir: Path, target, files: dict, top: str = "top", seed: int = DEFAULT_SEED,
            variant: str = "dsp", synth_json: str | None = None,
            dsp_regs: bool = PNR_FLOW["dsp_regs"], no_rw_check: bool = PNR_FLOW["no_rw_check"],
            bram_regs: bool = PNR_FLOW["bram_regs"], timeout_s: float | None = None,
            router: str = DEFAULT_ROUTER, placer: str = DEFAULT_PLACER) -> dict:
    """Place and route the harnessed design `files` (from harness.prepare_board_files) on
    `target`, synthesised with the family's `variant` ("dsp" or "nodsp").  `synth_json`, when
    given, is an already synthesised netlist of the same variant in `workdir` (the two ECP5
    targets share one).  `dsp_regs` (ECP5): move operand and product registers into the
    multipliers (`synth.dsp_regs`) before nextpnr; the counts are recorded as ``dsp_regs``.
    `bram_regs` (ECP5): then move the registers after block-RAM read ports into the RAMs' output
    registers (`synth.bram_regs`; counts recorded as ``bram_regs``).
    `no_rw_check`: synthesise with `honour_no_rw_check` (recorded as ``no_rw_check``).
    `timeout_s`: stop nextpnr after this many seconds; the result is then ``fits: False``,
    ``timed_out: True`` and an error naming the limit and nextpnr's last progress line (a
    congested design can route for hours without converging).
    `router`: nextpnr's router (`ROUTERS`), recorded as ``router``; router2 also writes its
    congestion heatmaps under ``heat_<target>/h`` in `workdir` (recorded as ``router2_heatmap``;
    `synth.congestion` reads them, also after a run stopped by `timeout_s`).
    `placer`: nextpnr's placer (`PLACERS`), recorded as ``placer``."""
    check_choice("router", router)
    check_choice("placer", placer)
    workdir = Path(workdir)
    fam = target.family
    cmd = dict(FPGA_VARIANTS[fam])[variant]
    cons_name = f"{top}.pcf" if fam == "ice40" else f"{top}.lpf"
    cons, _ = _set_clock_target(files[cons_name], fam, target.pnr_mhz)
    cons_file = f"{target.key}.{cons_name.split('.')[-1]}"
    (workdir / cons_file).write_text(cons)
    out = {**target.describe(), "seed": seed, "router": router, "placer": placer, "variant": variant}
    out["no_rw_check"] = bool(no_rw_check)
    stem = f"{top}_{fam}_{variant}"
    if synth_json is None:
        (workdir / f"{top}.il").write_text(files[f"{top}.il"])
        synth_json = f"{stem}.json"
        workaround = False
        while True:
            script = "\n".join([*read_lines(f"{top}.il", "rtlil"), *(honour_no_rw_check() if no_rw_check else []),
                                *synth_lines(cmd, top, synth_json, workaround),
                                f"tee -q -o {stem}_stat.json stat -json", ""])
            (workdir / f"{stem}.ys").write_text(script)
            try:
                yrun = run_tool("yosys", ["-q", "-l", f"{stem}.log", f"{stem}.ys"], workdir)
                break
            except ToolError as e:
                if workaround or not _is_abc9_name_clash(e):
                    raise
                workaround = True
        if workaround:
            out["workaround"] = ABC9_WORKAROUND
        out["synth_script"] = script
        out["synth_run"] = yrun.to_dict()
    out["synth_flags"] = cmd
    out["netlist"] = synth_json
    st = stat_module(json.loads((workdir / f"{stem}_stat.json").read_text()), top)
    out["synth_resources"] = fpga_resources(fam, st.get("num_cells_by_type", {}))
    report = f"pnr_{target.key}.json"
    pnr_json = synth_json
    if (dsp_regs or bram_regs) and fam == "ecp5":
        netlist = json.loads((workdir / synth_json).read_text())
        out.update(netlist_passes(netlist, top, dsp_regs, bram_regs))
        pnr_json = f"{stem}_dspregs.json"
        (workdir / pnr_json).write_text(json.dumps(netlist))
    args = [*target.nextpnr_device_args(), "--json", pnr_json,
            "--pcf" if fam == "ice40" else "--lpf", cons_file,
            "--seed", str(seed), "--timing-allow-fail", "--report", report, "--detailed-timing-report",
            "--log", f"pnr_{target.key}.log", *placer_args(placer),
            *(["--router", router] if router != DEFAULT_ROUTER else [])]
    if router == "router2":     # congestion heatmaps per iteration, for `synth.congestion`
        heat = f"heat_{target.key}"
        (workdir / heat).mkdir(exist_ok=True)
        args += ["--router2-heatmap", f"{heat}/h"]
        out["router2_heatmap"] = f"{heat}/h"
    if placer == "heap":
        out["placer_timing_weight"] = PNR_FLOW["placer_timing_weight"]
    rpath = workdir / report
    if rpath.exists():
        rpath.unlink()
    if timeout_s is not None:
        out["timeout_s"] = timeout_s
    try:
        run = run_tool(f"nextpnr-{fam}", args, workdir, check=False, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        log = workdir / f"pnr_{target.key}.log"
        last = _last_progress(log.read_text(errors="replace") if log.exists() else "")
        out.update(constraints=cons_file, fits=False, timed_out=True,
                   error=f"nextpnr did not finish within the time limit of {timeout_s:g} s; not routed"
                         + (f" (its last progress line: {last})" if last else ""))
        return out
    out["pnr_run"] = run.to_dict()
    out["constraints"] = cons_file
    if run.returncode != 0 or not rpath.exists():
        out["fits"] = False
        out["error"] = _nextpnr_fail_reason(run.output)
        return out
    rep = json.loads(rpath.read_text())
    out["fits"] = True
    out["fmax_mhz"] = {clk: round(v["achieved"], 2) for clk, v in rep.get("fmax", {}).items()}
    out["fmax_constraint_mhz"] = {clk: round(v["constraint"], 2) for clk, v in rep.get("fmax", {}).items()}
    out["utilization"] = {bel: {"used": v["used"], "available": v["available"]}
                          for bel, v in rep.get("utilization", {}).items()}
    out["critical_paths"] = _critical_paths(rep)
    # every register group later than the target's period, not only the one critical path
    if fam == "ecp5" and rep.get("detailed_net_timings"):
        from . import sta
        out["slow_endpoints"] = sta.slow_summary(sta.endpoint_groups(rep), round(1000.0 / target.pnr_mhz, 3))
    return out


def _critical_paths(rep: dict) -> list:
    out = []
    for cp in rep.get("critical_paths", []):
        path = cp.get("path", [])
        if not path:
            continue
        out.append({"from": cp.get("from"), "to": cp.get("to"),
                    "start": path[0].get("from", {}).get("cell"), "end": path[-1].get("to", {}).get("cell"),
                    "delay_ns": round(sum(p.get("delay", 0.0) for p in path), 3),
                    "logic_levels": sum(1 for p in path if p.get("type") == "logic")})
    return out
