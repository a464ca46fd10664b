"""Simulation-only wrapper that ties the core's reset to 0, for long single runs (MODE 1 with the
configured t-SNE schedule: `tb.tsne_rtl`, the slow digits test).

Why: Amaranth's Verilog computes every register's next value in an ``always @*`` block that
starts ``if (rst) next = init`` - so all next-state logic depends on the top-level input ``rst``.
Verilator re-evaluates logic that depends on top-level inputs (its "ico" region) in every
``eval``, i.e. at both clock edges, on top of the clocked evaluation: ``perf`` on the digits core
put about half of the time there.  Tied to a constant, ``rst`` folds away and that region shrinks
to the small cones of the data inputs (measured: about 2x the cycles per second).

What changes: the wrapper ``<top>_sim`` has exactly the core's ports (the testbench is unchanged)
and instantiates the core with ``.rst(1'b0)``; its own ``rst`` port is not connected.  The core's
registers start from their ``init`` values (Amaranth declares them, Verilator honours them), which
are the values a reset would load, so a simulation that starts with a reset and never resets
again behaves identically.  `tb.runner.run` therefore refuses more than one scenario per run on
such a model (each cocotb scenario begins with a reset).  The default suite keeps the real reset.
The core's Verilog is unchanged (the wrapper is appended).

The clock: with ``clock_period_ns`` the wrapper also generates ``clk`` itself (an output, high
from time 0, a delay toggles it every half period; Verilator ``--timing``), so no VPI timer
callback and value put run at each edge from cocotb's clock (`tb.runner.INTERNAL_CLOCK`; about 5 %
of the long runs' time, docs/verification.md "Simulation speed").
"""

from __future__ import annotations

import re

__all__ = ["tied_reset_wrapper"]


def tied_reset_wrapper(text: str, top: str, clock_period_ns: int | None = None) -> tuple:
    """(Verilog of the wrapper module, its name) for the module `top` of `text`.  With
    `clock_period_ns` the wrapper also makes the clock: ``clk`` becomes an output, high from time 0
    and toggled every half period by a delay (Verilator ``--timing``), so rising edge ``k`` is at
    ``k`` periods; the testbench then starts no clock of its own (`tb.driver.Clocking`)."""
    start = text.find(f"module {top}(")
    if start < 0:
        raise ValueError(f"module {top} not found in the generated Verilog")
    body = text[start:text.index("endmodule", start)]
    ports = [p.strip() for p in re.match(rf"module {re.escape(top)}\(([^)]*)\);", body).group(1).split(",")]
    decl = {m.group(3): (m.group(1), m.group(2) or "")
            for m in re.finditer(r"^\s*(input|output)\s*(\[[^\]]+\])?\s*\\?([\w$]+)\s*;", body, re.M)}
    missing = [p for p in ports if p not in decl]
    if missing or "rst" not in ports:
        raise ValueError(f"tied_reset_wrapper: cannot read the direction of {missing or ['rst']} in {top}")
    name = f"{top}_sim"
    lines = [f"// simulation wrapper (tb/simtop.py): {top} with rst tied to 0", f"module {name}({', '.join(ports)});"]
    lines += [f"  {decl[p][0]} {decl[p][1] + ' ' if decl[p][1] else ''}{p};" for p in ports
              if not (clock_period_ns and p == "clk")]
    if clock_period_ns:
        if "clk" not in ports or clock_period_ns % 2:
            raise ValueError(f"tied_reset_wrapper: an internal clock needs a clk port and an even period in ns, "
                             f"got {clock_period_ns}")
        lines += ["  output reg clk;", "  initial clk = 1'b1;", f"  always #{clock_period_ns // 2} clk = ~clk;"]
    zero = "1'b0"
    conn = ", ".join(f".{p}({zero if p == 'rst' else p})" for p in ports)
    lines += [f"  {top} core ({conn});", "endmodule", ""]
    return "\n".join(lines), name
