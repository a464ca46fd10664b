"""Move flip-flops into the ECP5 multipliers' own registers: a pass over Yosys' JSON netlist.

Why: Yosys' ``synth_ecp5`` maps each multiplication to a MULT18X18D with every register bypassed
(it absorbs DSP registers for Xilinx and, since 2026, Nexus, but not ECP5).  The lanes register a
multiplier's operands and its product in the fabric, so each product costs a route from the
fabric into the DSP, the DSP's combinational multiply and a route back: about 7 ns alone (a
registered 18 x 18 multiply on the 25F: 142 MHz in the fabric's registers, 519 MHz in the DSP's
own), about 10 ns inside the digits core.  This pass runs between Yosys and nextpnr
(`synth.flow.run_pnr`) and moves those registers into the DSP block:

* **input registers** (``REG_INPUTA`` / ``REG_INPUTB``): every bit of a multiplier operand is a
  flip-flop (or a constant 0) with one clock, clock enable and reset.  The DSP port is rewired to
  the flip-flops' D inputs; a flip-flop left without loads is deleted (one that also feeds other
  logic stays: the DSP keeps a copy).
* **output register** (``REG_OUTPUT``): every used product bit feeds only flip-flops with one
  clock, enable and reset; those flip-flops are deleted and their outputs become the DSP's.

Only flip-flops that mean the same as a DSP register qualify: rising clock, active-high enable
(or none), synchronous active-high reset to 0 that overrides the enable (``LSR_OVER_CE``; the
DSP is set to ``RESETMODE = SYNC``), one ``GSR`` setting (copied to the DSP), no ``keep``
attribute; the sign inputs must be constants.
An operand register stays in the fabric when its D logic is deep: fed straight by a block RAM
(absorbed, the RAM's clock-to-out, about 4.5 ns, and a route to the DSP fill the cycle: the
function-unit ROM word into ``fu.prod``, 11-12 ns on digits) or by more than
``OPERAND_LUT_LEVELS`` LUT levels, a carry chain or a wide multiplexer (the lanes' steered
operands: 10-12 ns into the DSP input register).  In the fabric the register is the end of that
logic, and only the route into the DSP and the multiply lie between it and the product register.
Operand registers move **in pairs**: both of a multiplier's, or neither (the other one is then
counted as ``unpaired_operands``).  nextpnr-ecp5 does not time a multiplier whose A and B input
registers differ ("unsupported mixed input register modes"): it times it as though neither were
registered, so the path from the logic in front of the absorbed register through the multiply
counts as one, the reported fmax is pessimistic and the timing-driven placer works on false
paths.  On digits, absorbing one operand of 48 multipliers gave 80.8 MHz with 43 register groups
over 10 ns at 100 MHz; pairs only (here: none of digits' multipliers has two operands that
qualify) gave 85.2 MHz with 11 groups, and place and route took 12 instead of ~30 minutes.
The DSP register's behaviour assumed here (synchronous reset to 0 that overrides the enable) is
Lattice's documented sysDSP register (TN1267); Yosys has no simulation model of MULT18X18D, so
`tests/test_dsp_regs.py` proves the pass against a model written to that description, by a
bounded equivalence check of the netlist before and after.

The RTL, the simulations and the generic / ASIC reports are unaffected: the pass changes where
the FPGA netlist's registers sit, not what they compute.
"""

from __future__ import annotations

from collections import defaultdict

__all__ = ["absorb_dsp_registers"]

DSP = "MULT18X18D"
FF = "TRELLIS_FF"
#: block RAMs: an operand register fed straight by one stays in the fabric (below)
BRAMS = ("DP16KD", "PDPW16KD")
#: an operand register absorbed into the DSP may have at most this many LUT levels in front of it
OPERAND_LUT_LEVELS = 1
A_BITS, B_BITS, P_BITS = 18, 18, 36
#: flip-flop parameters with the meaning of a DSP register (absent = the cell's default)
_FF_OK = {"CLKMUX": ("CLK",), "LSRMUX": ("LSR",), "REGSET": ("RESET",), "SRMODE": ("LSR_OVER_CE",),
          "LSRMODE": ("LSR",), "GSR": ("ENABLED", "DISABLED"), "CEMUX": ("CE", "1")}
#: the defaults of Yosys' TRELLIS_FF model (an absent CEMUX ignores CE)
_FF_DEFAULT = {"CLKMUX": "CLK", "LSRMUX": "LSR", "REGSET": "RESET", "SRMODE": "LSR_OVER_CE",
               "LSRMODE": "LSR", "GSR": "ENABLED", "CEMUX": "1"}
_FLAGS = ("SIGNEDA", "SIGNEDB", "SOURCEA", "SOURCEB")
_REG_PARAMS = ("REG_INPUTA_CLK", "REG_INPUTB_CLK", "REG_INPUTC_CLK", "REG_PIPELINE_CLK", "REG_OUTPUT_CLK")


def _param(cell: dict, key: str) -> str:
    v = cell.get("parameters", {}).get(key, _FF_DEFAULT.get(key))
    return v.strip() if isinstance(v, str) else v


def _ff_control(cell: dict):
    """(clock, enable, reset, GSR) of a flip-flop that behaves as a DSP register, else None."""
    if cell["type"] != FF or cell.get("attributes", {}).get("keep"):
        return None
    for key, ok in _FF_OK.items():
        if _param(cell, key) not in ok:
            return None
    con = cell["connections"]
    ce = "1" if _param(cell, "CEMUX") == "1" else con.get("CE", ["1"])[0]
    return (con["CLK"][0], ce, con.get("LSR", ["0"])[0], _param(cell, "GSR"))


class _Netlist:
    def __init__(self, mod: dict):
        self.mod = mod
        self.cells = mod["cells"]
        self.driver = {}
        self.loads = defaultdict(list)
        for name, c in self.cells.items():
            dirs = c.get("port_directions", {})
            for port, bits in c["connections"].items():
                d = dirs.get(port, "output" if (c["type"] == FF and port == "Q") or
                             (c["type"] == DSP and port.startswith("P")) else "input")
                for k, b in enumerate(bits):
                    if isinstance(b, str):
                        continue
                    if d == "output":
                        self.driver[b] = (name, port)
                    else:
                        self.loads[b].append((name, port, k))
        for pname, p in mod.get("ports", {}).items():
            for k, b in enumerate(p["bits"]):
                if isinstance(b, str):
                    continue
                if p["direction"] == "input":
                    self.driver[b] = (None, pname)
                else:
                    self.loads[b].append((None, pname, k))

    def drop_load(self, bit, cell, port):
        self.loads[bit] = [x for x in self.loads[bit] if not (x[0] == cell and x[1] == port)]


def _shallow(nl: _Netlist, bit, levels: int) -> bool:
    """True when `bit` comes from flip-flops, ports or constants through at most `levels` LUT4s."""
    if isinstance(bit, str):
        return True
    drv = nl.driver.get(bit)
    if drv is None or drv[0] is None:
        return True
    cell = nl.cells[drv[0]]
    if cell["type"] == FF:
        return True
    if cell["type"] != "LUT4" or levels == 0:
        return False        # a block RAM, a DSP, a carry chain, a wide multiplexer, or too deep
    return all(_shallow(nl, cell["connections"][p][0], levels - 1)
               for p in ("A", "B", "C", "D") if p in cell["connections"])


def _operand(nl: _Netlist, dsp: dict, letter: str, width: int, moved: set):
    """(control, [D bit per port bit], [flip-flop per port bit]) when the operand is registered,
    None when it is not, "bram" / "deep" when it is but a block RAM / deep logic drives a D input.
    A flip-flop in `moved` is already another multiplier's product register: its D input is
    that multiplier's output, registered from now on, so it cannot be taken again."""
    from_bram = deep = False
    ctrl, ds, ffs = None, [], []
    for k in range(width):
        b = dsp["connections"][f"{letter}{k}"][0]
        if b in ("0", "x", "z"):
            ds.append("0")
            ffs.append(None)
            continue
        if isinstance(b, str):          # a constant 1 would read 0 after a reset
            return None
        drv = nl.driver.get(b)
        if drv is None or drv[0] is None or drv[1] != "Q" or drv[0] in moved:
            return None
        ff = nl.cells[drv[0]]
        c = _ff_control(ff)
        if c is None or (ctrl is not None and c != ctrl):
            return None
        ctrl = c
        ds.append(ff["connections"]["DI"][0])
        ffs.append(drv[0])
        src = nl.driver.get(ds[-1]) if not isinstance(ds[-1], str) else None
        from_bram |= src is not None and src[0] is not None and nl.cells[src[0]]["type"] in BRAMS
        deep |= not _shallow(nl, ds[-1], OPERAND_LUT_LEVELS)
    if ctrl is None:
        return None
    return "bram" if from_bram else "deep" if deep else (ctrl, ds, ffs)


def _product(nl: _Netlist, dsp: dict):
    """(control, {P bit index: [flip-flops it feeds]}) when every used product bit feeds only
    equivalent flip-flops' D inputs."""
    ctrl, regs = None, {}
    for k in range(P_BITS):
        b = dsp["connections"].get(f"P{k}", ["x"])[0]
        if isinstance(b, str) or not nl.loads.get(b):
            continue
        ffs = []
        for cell, port, _ in nl.loads[b]:
            if cell is None or port != "DI":
                return None
            c = _ff_control(nl.cells[cell])
            if c is None or (ctrl is not None and c != ctrl):
                return None
            ctrl = c
            ffs.append(cell)
        regs[k] = ffs
    return (ctrl, regs) if ctrl is not None else None


class _Pins:
    """The DSP's CE0-3 / RST0-3 pins, one per distinct net."""

    def __init__(self, prefix: str, idle: str):
        self.prefix, self.idle, self.nets = prefix, idle, []

    def pin(self, net) -> str | None:
        if net not in self.nets:
            if len(self.nets) == 4:
                return None
            self.nets.append(net)
        return f"{self.prefix}{self.nets.index(net)}"


def remove_and_rename(mod: dict, nl: _Netlist, dead: set, rename: dict) -> None:
    """Delete the flip-flops `dead` from module `mod` and substitute each bit of `rename` (a moved
    register's output -> the block output that replaces it) everywhere in the module."""
    for ff in dead:
        cell = mod["cells"].pop(ff)
        for port in ("DI", "CE", "LSR", "CLK"):
            b = cell["connections"].get(port, ["0"])[0]
            if not isinstance(b, str):
                nl.drop_load(b, ff, port)
    if not rename:
        return

    def sub(bits):
        return [rename.get(b, b) if not isinstance(b, str) else b for b in bits]
    for c in mod["cells"].values():
        for port, bits in c["connections"].items():
            c["connections"][port] = sub(bits)
    for p in mod.get("ports", {}).values():
        p["bits"] = sub(p["bits"])
    for n in mod.get("netnames", {}).values():
        n["bits"] = sub(n["bits"])


def absorb_dsp_registers(netlist: dict, top: str) -> dict:
    """Move registers into the MULT18X18D cells of module `top` of a Yosys JSON `netlist` (in
    place).  Returns counts: ``dsps``, ``input_ports`` and ``outputs`` absorbed,
    ``ffs_removed``, ``bram_operands`` / ``deep_operands`` (operand registers left in the
    fabric because a block RAM / deep logic feeds them) and ``unpaired_operands`` (operand
    registers that qualify, left in the fabric because the multiplier's other operand does not)."""
    mod = netlist["modules"][top]
    nl = _Netlist(mod)
    stats = {"dsps": 0, "input_ports": 0, "outputs": 0, "ffs_removed": 0, "bram_operands": 0,
             "deep_operands": 0, "unpaired_operands": 0}
    candidates = set()          # operand flip-flops that may be left without loads
    rename = {}                 # flip-flop output bit -> product bit
    dead = set()
    for name in sorted(n for n, c in mod["cells"].items() if c["type"] == DSP):
        dsp = mod["cells"][name]
        params = dsp.setdefault("parameters", {})
        if any(str(params.get(p, "NONE")).strip() != "NONE" for p in _REG_PARAMS):
            continue
        if any(not isinstance(dsp["connections"].get(f, ["0"])[0], str) for f in _FLAGS):
            continue
        stats["dsps"] += 1
        ces, rsts = _Pins("CE", "1"), _Pins("RST", "0")
        clock = None
        plan = []
        ops = {}
        for letter, width in (("A", A_BITS), ("B", B_BITS)):
            op = _operand(nl, dsp, letter, width, dead)
            if op in ("bram", "deep"):
                stats[f"{op}_operands"] += 1
            elif op is not None:
                ops[letter] = op
        # both operand registers or neither: nextpnr times a multiplier with one input registered
        # as though neither were ("unsupported mixed input register modes"), which makes its fmax
        # pessimistic and points the timing-driven placer at false paths
        if len(ops) == 2 and (ops["A"][0][0], ops["A"][0][3]) == (ops["B"][0][0], ops["B"][0][3]):
            pins = [(ces.pin(op[0][1]), rsts.pin(op[0][2])) for op in ops.values()]  # at most 2 + 2 nets
            clock = (ops["A"][0][0], ops["A"][0][3])
            plan = [("in", letter, op, ce, rst) for (letter, op), (ce, rst) in zip(ops.items(), pins)]
        else:
            stats["unpaired_operands"] += len(ops)
        prod = _product(nl, dsp)
        if prod is not None and (clock is None or (prod[0][0], prod[0][3]) == clock):
            ce, rst = ces.pin(prod[0][1]), rsts.pin(prod[0][2])
            if ce is not None and rst is not None:
                clock = (prod[0][0], prod[0][3])
                plan.append(("out", "P", prod, ce, rst))
        if not plan:
            continue
        con = dsp["connections"]
        dirs = dsp.setdefault("port_directions", {})
        con["CLK0"] = [clock[0]]
        dirs["CLK0"] = "input"
        for pins in (ces, rsts):
            for k, net in enumerate(pins.nets):
                con[f"{pins.prefix}{k}"] = [net]
                dirs[f"{pins.prefix}{k}"] = "input"
        for kind, letter, op, ce, rst in plan:
            reg = f"REG_INPUT{letter}" if kind == "in" else "REG_OUTPUT"
            params.update({f"{reg}_CLK": "CLK0", f"{reg}_CE": ce, f"{reg}_RST": rst})
            if kind == "in":
                _, ds, ffs = op
                for k, (d, ff) in enumerate(zip(ds, ffs)):
                    port = f"{letter}{k}"
                    old = con[port][0]
                    if not isinstance(old, str):
                        nl.drop_load(old, name, port)
                    con[port] = [d]
                    if not isinstance(d, str):
                        nl.loads[d].append((name, port, 0))
                    if ff is not None:
                        candidates.add(ff)
                stats["input_ports"] += 1
            else:
                _, regs = op
                for k, ffs in regs.items():
                    pbit = con[f"P{k}"][0]
                    for ff in ffs:
                        rename[nl.cells[ff]["connections"]["Q"][0]] = pbit
                        dead.add(ff)
                    nl.loads[pbit] = []
                stats["outputs"] += 1
        params["RESETMODE"] = "SYNC"
        params["GSR"] = clock[1]
    # operand flip-flops whose every load is now inside a DSP
    for ff in sorted(candidates - dead):
        q = nl.cells[ff]["connections"]["Q"][0]
        if not nl.loads.get(q):
            dead.add(ff)
    remove_and_rename(mod, nl, dead, rename)
    stats["ffs_removed"] = len(dead)
    return stats


def main(argv=None) -> int:
    """``python -m synth.dsp_regs --exec NEXTPNR [--top top] -- NEXTPNR_ARGS...``: apply the flow's
    netlist passes (`synth.flow.netlist_passes`: this one, then `synth.bram_regs`) to the netlist
    named by ``--json`` in the nextpnr arguments (written beside it as ``<stem>_dspregs.json``),
    then run nextpnr on it.  `synth.board` points Amaranth's
    ``NEXTPNR_ECP5`` at this, so a board build routes the same netlist as `synth.report`."""
    import argparse
    import json
    import shlex
    import subprocess
    import sys
    from pathlib import Path
    ap = argparse.ArgumentParser(prog="python -m synth.dsp_regs", description=main.__doc__.split("\n")[0])
    ap.add_argument("--exec", dest="nextpnr", required=True, help="the nextpnr-ecp5 command to run")
    ap.add_argument("--top", default="top")
    ap.add_argument("args", nargs=argparse.REMAINDER)
    a = ap.parse_args(argv)
    args = [x for x in a.args if x != "--"] if a.args[:1] == ["--"] else list(a.args)
    if "--json" not in args or args.index("--json") + 1 >= len(args):
        print("error: the nextpnr arguments name no --json netlist", file=sys.stderr)
        return 2
    k = args.index("--json") + 1
    src = Path(args[k])
    netlist = json.loads(src.read_text())
    if a.top not in netlist.get("modules", {}):
        print(f"error: {src} has no module {a.top!r}", file=sys.stderr)
        return 2
    # the flow's passes (this one, then synth.bram_regs), as `synth.flow.run_pnr` applies them
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))     # run by path from a board build
    from synth.flow import netlist_passes
    stats = netlist_passes(netlist, a.top)
    dst = src.with_name(f"{src.stem}_dspregs.json")
    dst.write_text(json.dumps(netlist))
    print(f"synth.dsp_regs: {stats} -> {dst.name}", file=sys.stderr)
    args[k] = str(dst)
    return subprocess.run([*shlex.split(a.nextpnr), *args]).returncode


if __name__ == "__main__":
    raise SystemExit(main())
