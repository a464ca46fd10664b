"""Move flip-flops into the ECP5 block RAMs' output registers: a pass over Yosys' JSON netlist.

Why: Yosys maps each synchronous memory read port to a DP16KD read port with its output
register bypassed (``REGMODE = NOREG``): the data leave the block 5.83 ns after the clock in
nextpnr's model, against 0.96 ns with the block's own output register (``OUTREG``; both
measured on a one-RAM design, ECP5 speed 6).  The RTL already puts a register after every read
port whose data travel far (the distance engine's feature banks), but nextpnr places that
register beside its loads, not beside the RAM: on digits the feature-bank paths were the last
ones over 10 ns (block RAM at one end of the die, its output register at the other, a 4.7 ns
route).  This pass runs between Yosys and nextpnr (`synth.flow.run_pnr`, after
`synth.dsp_regs`) and moves such a register into the RAM: the register's flip-flops are deleted
and their outputs become the RAM's data outputs with ``REGMODE_<port> = OUTREG``.  The cycle
behaviour is unchanged: one more register level after the read, as before.

Only flip-flops that mean the same as the block's output register qualify: rising clock, the
read port's clock, no reset (no ``LSR`` net: ``RST<port>`` would also reset the read itself),
initial value 0 (``REGSET = RESET``, the block's output register after configuration), the
RAM's ``GSR`` setting, no ``keep`` attribute; an enable becomes ``OCE<port>``.  A read port
moves only when every used data bit feeds only such flip-flops with one enable, and its
``RST<port>`` is a constant 0.  The read port's own clock enable ``CE<port>`` stays as it is.

The DP16KD output register's behaviour assumed here (a D flip-flop clocked by ``CLK<port>``,
enabled by ``OCE<port>``, reset by ``RST<port>``) is Lattice's documented sysMEM block
(TN1264); Yosys has no simulation model of DP16KD, so `tests/test_bram_regs.py` proves the pass
against a model written to that description, by a bounded equivalence check of the netlist
before and after.  The RTL, the simulations and the generic / ASIC reports are unaffected.
"""

from __future__ import annotations

from .dsp_regs import FF, _Netlist, _param, remove_and_rename

__all__ = ["absorb_bram_registers"]

BRAM = "DP16KD"
DATA_BITS = 18
#: flip-flop parameters with the meaning of the RAM's output register (absent = the default)
_FF_OK = {"CLKMUX": ("CLK",), "REGSET": ("RESET",), "CEMUX": ("CE", "1")}


def _ff_control(cell: dict):
    """(clock, enable, GSR) of a flip-flop that behaves as a block-RAM output register, else None."""
    if cell["type"] != FF or cell.get("attributes", {}).get("keep"):
        return None
    for key, ok in _FF_OK.items():
        if _param(cell, key) not in ok:
            return None
    con = cell["connections"]
    if con.get("LSR", ["0"])[0] != "0":
        return None
    ce = "1" if _param(cell, "CEMUX") == "1" else con.get("CE", ["1"])[0]
    return (con["CLK"][0], ce, _param(cell, "GSR"))


def _read_port(nl: _Netlist, ram: dict, port: str):
    """(enable, {DO bit index: [flip-flops it feeds]}) when every used data bit of read port
    `port` ("A" / "B") feeds only equivalent output-register flip-flops, else None."""
    params, con = ram.get("parameters", {}), ram["connections"]
    if str(params.get(f"REGMODE_{port}", "NOREG")).strip() != "NOREG":
        return None
    if con.get(f"RST{port}", ["0"])[0] != "0":
        return None
    if str(params.get(f"CLK{port}MUX", f"CLK{port}")).strip() != f"CLK{port}":
        return None
    clock = con.get(f"CLK{port}", ["x"])[0]
    gsr = str(params.get("GSR", "ENABLED")).strip()
    ctrl, regs = None, {}
    for k in range(DATA_BITS):
        b = con.get(f"DO{port}{k}", ["x"])[0]
        if isinstance(b, str) or not nl.loads.get(b):
            continue
        ffs = []
        for cell, pin, _ in nl.loads[b]:
            if cell is None or pin != "DI":
                return None
            c = _ff_control(nl.cells[cell])
            if c is None or c[0] != clock or c[2] != gsr or (ctrl is not None and c != ctrl):
                return None
            ctrl = c
            ffs.append(cell)
        regs[k] = ffs
    return (ctrl[1], regs) if ctrl is not None else None


def absorb_bram_registers(netlist: dict, top: str) -> dict:
    """Move output registers into the DP16KD cells of module `top` of a Yosys JSON `netlist`
    (in place).  Returns counts: ``rams`` (DP16KD cells), ``ports`` (read ports given an output
    register) and ``ffs_removed``."""
    mod = netlist["modules"][top]
    nl = _Netlist(mod)
    stats = {"rams": 0, "ports": 0, "ffs_removed": 0}
    rename, dead = {}, set()
    for name in sorted(n for n, c in mod["cells"].items() if c["type"] == BRAM):
        ram = mod["cells"][name]
        stats["rams"] += 1
        for port in ("A", "B"):
            found = _read_port(nl, ram, port)
            if found is None:
                continue
            ce, regs = found
            con = ram["connections"]
            ram.setdefault("parameters", {})[f"REGMODE_{port}"] = "OUTREG"
            con[f"OCE{port}"] = [ce]
            ram.setdefault("port_directions", {})[f"OCE{port}"] = "input"
            if not isinstance(ce, str):
                nl.loads[ce].append((name, f"OCE{port}", 0))
            for k, ffs in regs.items():
                dbit = con[f"DO{port}{k}"][0]
                for ff in ffs:
                    rename[nl.cells[ff]["connections"]["Q"][0]] = dbit
                    dead.add(ff)
                nl.loads[dbit] = []
            stats["ports"] += 1
    remove_and_rename(mod, nl, dead, rename)
    stats["ffs_removed"] = len(dead)
    return stats
