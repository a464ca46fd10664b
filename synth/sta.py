"""Which registers miss the clock: every endpoint's arrival time from nextpnr-ecp5's detailed timing report.

nextpnr's log names one critical path per clock, so a run of the digits core (about 50 minutes)
shows one path to cut.  Run with ``--detailed-timing-report`` (``synth.flow.run_pnr`` always
passes it), the ``--report`` JSON lists, for every routed net, nextpnr's own arrival time at each
of its sinks.  This module keeps the sinks that end a path (flip-flop data / enable / reset
inputs, block-RAM and DSP inputs), groups the bits of one register (``core.ctrl.pop_err0`` for
``core.ctrl.pop_err0_TRELLIS_FF_Q_3``) and ranks the groups by their worst arrival: the whole
list of what a target clock period would have to cut, from one run.  The ranking is by arrival:
the report gives no setup times, so the critical path (arrival + setup) may end at a group a
little below the first, e.g. a block RAM address (setup ~0.2 ns) under a flip-flop's data input
(a test checks this on a fresh tiny run).

    python -m synth.sta WORKDIR/pnr_ecp5-85f.json --mhz 100 [--top 40]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = ["EndpointGroup", "endpoint_groups", "block_of", "slow_summary", "render", "main"]

#: flip-flop inputs that end a path (data, direct data, clock enable, local set/reset).  ECP5 only:
#: nextpnr-ice40 packs each flip-flop into a logic cell with its LUT, so its report does not say
#: which logic-cell inputs end a path
FF_PORTS = ("DI", "M", "CE", "LSR")
#: block RAM (address, data, enables) and DSP (operands, signs) inputs: DP16KD, MULT18X18D, ALU54B
MACRO_PORT = re.compile(r"(AD|DI)[AB]\d+|CE[AB]|OCE[AB]|WE[AB]|CS[AB]\d|RST[AB]|[ABC]\d+|SIGNED[AB]")
_REG_SUFFIX = re.compile(r"_TRELLIS_FF_Q.*$")
_MACRO = re.compile(r"MULT18X18D|ALU54B|DP16KD")
_LANE = re.compile(r"\.lane\d+\b")


@dataclass(frozen=True)
class EndpointGroup:
    """The worst-arriving bit of one register or macro: ``arrival_ns`` after the launching edge,
    at ``cell``.``port``; ``inputs``: how many flip-flop / macro inputs of the group end a path."""
    group: str
    arrival_ns: float
    cell: str
    port: str
    inputs: int


def _is_endpoint(cell: str, port: str) -> bool:
    leaf = cell.rsplit(".", 1)[-1]
    if "TRELLIS_FF" in leaf and not _MACRO.search(leaf):
        return port in FF_PORTS
    return MACRO_PORT.fullmatch(port) is not None


def group_of(cell: str) -> str:
    """``x_TRELLIS_FF_Q_3`` -> ``x``; a DSP named after the register it feeds,
    ``x_TRELLIS_FF_Q_35_DI_MULT18X18D_P35`` -> ``x (MULT18X18D)``; block RAMs keep their name."""
    m = _MACRO.search(cell)
    if m and "_TRELLIS_FF_Q" in cell:
        return f"{_REG_SUFFIX.sub('', cell)} ({m.group(0)})"
    return _REG_SUFFIX.sub("", cell)


def endpoint_groups(report: dict) -> list:
    """The endpoint groups of a nextpnr ``--report`` JSON (written with
    ``--detailed-timing-report``), worst arrival first.  Raises ValueError when the report has no
    detailed net timings."""
    nets = report.get("detailed_net_timings")
    if not nets:
        raise ValueError("the nextpnr report has no 'detailed_net_timings': run nextpnr with "
                         "--detailed-timing-report (synth.flow.run_pnr does)")
    worst: dict = {}
    bits: dict = {}
    for net in nets:
        for e in net.get("endpoints", []):
            cell, port = e["cell"], e["port"]
            if not _is_endpoint(cell, port):
                continue
            d = e["delay"]
            a = max(d) if isinstance(d, list) else float(d)
            g = group_of(cell)
            bits.setdefault(g, set()).add((cell, port))
            if g not in worst or a > worst[g][0]:
                worst[g] = (a, cell, port)
    out = [EndpointGroup(g, round(a, 3), c, p, len(bits[g])) for g, (a, c, p) in worst.items()]
    return sorted(out, key=lambda x: (-x.arrival_ns, x.group))


def block_of(group: str) -> str:
    """The block a group belongs to, lanes folded together: ``core.lane7.fu.word`` -> ``core.lane*``."""
    parts = _LANE.sub(".lane*", group).split(".")
    return ".".join(parts[:2]) if parts[0] == "core" and len(parts) > 2 else parts[0]


def slow_summary(groups: list, period_ns: float, top: int = 20) -> dict:
    """What a clock period of `period_ns` would have to cut: the number of groups arriving later,
    per block, and the `top` slowest groups."""
    slow = [g for g in groups if g.arrival_ns > period_ns]
    per_block: dict = {}
    for g in slow:
        per_block[block_of(g.group)] = per_block.get(block_of(g.group), 0) + 1
    return {"period_ns": period_ns, "groups_over": len(slow), "groups_total": len(groups),
            "per_block": dict(sorted(per_block.items(), key=lambda kv: (-kv[1], kv[0]))),
            "slowest": [asdict(g) for g in groups[:top]]}


def render(summary: dict) -> str:
    """Markdown of a `slow_summary`."""
    p = summary["period_ns"]
    lines = [f"{summary['groups_over']} of {summary['groups_total']} register groups arrive later than "
             f"{p:g} ns ({1000 / p:.1f} MHz)"
             + (": " + ", ".join(f"{b} {n}" for b, n in summary["per_block"].items()) if summary["per_block"] else "")
             + ".", "", "| arrival (ns) | register group | port | inputs |", "|---:|---|---|---:|"]
    lines += [f"| {g['arrival_ns']:.2f} | `{g['group']}` | {g['port']} | {g['inputs']} |" for g in summary["slowest"]]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m synth.sta", description=__doc__.split("\n\n")[0])
    ap.add_argument("report", type=Path, help="nextpnr --report JSON written with --detailed-timing-report")
    ap.add_argument("--mhz", type=float, default=100.0, help="target clock (default 100 MHz)")
    ap.add_argument("--top", type=int, default=40, help="rows of the table (default 40)")
    ap.add_argument("--json", type=Path, help="also write the summary here")
    a = ap.parse_args(argv)
    if a.mhz <= 0 or a.top < 0:
        ap.error(f"--mhz must be > 0 and --top >= 0 (got {a.mhz}, {a.top})")
    if not a.report.is_file():
        ap.error(f"no such report: {a.report}")
    try:
        groups = endpoint_groups(json.loads(a.report.read_text()))
    except (ValueError, json.JSONDecodeError) as e:
        print(f"error: {a.report}: {e}", file=sys.stderr)
        return 2
    s = slow_summary(groups, 1000.0 / a.mhz, a.top)
    if a.json:
        a.json.write_text(json.dumps(s, indent=1) + "\n")
    sys.stdout.write(render(s))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
