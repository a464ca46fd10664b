"""Where a block's logic comes from: coarse cells grouped by the Amaranth source line that made them.

    python -m synth.attribute --preset digits --set phases=true --block update_slice [--top 30] [--by file]

A block of `hw.blocks` (or the whole core, ``--block core``) is converted to RTLIL with Amaranth's
source locations, and Yosys reduces it to coarse word-level cells (``proc; flatten; opt; wreduce;
alumacc; opt; memory -nomap``: adders, multiplexers, shifters, compares, flip-flops, memories)
before any technology mapping.  Each cell keeps the ``src`` of the Python line that built it, and is
given a LUT4 estimate from its widths (`lut4_estimate`, below).  The estimate is a *model of ours*,
for ranking, not a synthesis result: ``synth.report`` gives the mapped LUT4 / CCU2C counts of every
block (docs/synthesis.md compares the two on the digits lane and update slice).  Multipliers are
counted apart (they map to DSP blocks) and so are flip-flop bits.

Use it before cutting area: it names the lines worth re-designing (docs/synthesis.md, "Where the
area goes").  Work files go to ``build/synth/attr-<name>-<block>/``.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections import defaultdict
from pathlib import Path

from . import design, tools
from .report import DEFAULT_WORK, make_config

#: Yosys passes that leave word-level cells with their ``src`` (no technology mapping)
COARSE_SCRIPT = ("read_rtlil {il}; hierarchy -top {top}; proc; flatten; opt; wreduce; alumacc; opt; "
                 "memory -nomap; opt_clean; write_json {json}")

_ARITH = {"$add", "$sub", "$alu", "$neg", "$macc"}
_MACC = "$macc_v2"   # alumacc's sum of products and addends
_SHIFT = {"$shl", "$shr", "$sshr", "$sshl", "$shift", "$shiftx"}
_CMP = {"$lt", "$le", "$gt", "$ge", "$eq", "$ne", "$eqx", "$nex"}
_BITWISE = {"$and", "$or", "$xor", "$xnor", "$not", "$logic_not", "$logic_and", "$logic_or",
            "$reduce_or", "$reduce_and", "$reduce_bool", "$reduce_xor", "$reduce_xnor", "$bweqx", "$bwmux"}
_FF = {"$dff", "$dffe", "$adff", "$adffe", "$sdff", "$sdffe", "$sdffce", "$aldff", "$aldffe", "$dffsr",
       "$dffsre"}


def _int(p: dict, key: str) -> int:
    v = p.get(key, 0)
    return int(v, 2) if isinstance(v, str) else int(v)


def lut4_estimate(ctype: str, params: dict) -> float:
    """LUT4-equivalents of one coarse cell (ours; for ranking lines, not a mapped count).

    An adder / subtractor / comparator with carry is one carry-chain cell per output bit (a CCU2C
    does two bits in two LUT4 sites), so its width; a 2:1 multiplexer fits two bits per LUT4; a
    ``P``-way parallel multiplexer (``$pmux``) about ``P / 2`` LUT4 per bit; a barrel shifter one
    2:1 multiplexer level per shift-amount bit (capped at log2 of the data width); an equality or
    magnitude compare half a LUT4 per operand bit; bitwise logic a quarter per bit (it merges into
    neighbouring LUTs).  Multipliers, flip-flops and memories count zero here (DSP blocks, FFs and
    block RAMs are reported apart); a ``$macc_v2`` (alumacc's sum of products and addends) one
    adder of its output width per term after the first."""
    yw, aw, bw = _int(params, "Y_WIDTH"), _int(params, "A_WIDTH"), _int(params, "B_WIDTH")
    if ctype in _ARITH:
        return float(yw)
    if ctype == _MACC:   # the products are multipliers (`macc_products`); one adder per further term
        return float(yw * max(0, _int(params, "NADDENDS") + _int(params, "NPRODUCTS") - 1))
    if ctype == "$mux":
        return _int(params, "WIDTH") / 2
    if ctype == "$pmux":
        return _int(params, "WIDTH") * _int(params, "S_WIDTH") / 2
    if ctype in _SHIFT:
        return yw * min(bw, math.ceil(math.log2(max(aw, 2)))) / 2
    if ctype in _CMP:
        return max(aw, bw) / 2
    if ctype in _BITWISE:
        return max(yw, aw) / 4
    return 0.0


def _project_path(path: str, root: Path) -> str:
    """`path` relative to the project `root`; a library file as ``<package>/...`` (so that a report
    names the same file on every machine)."""
    p = Path(path)
    try:
        return str(p.resolve().relative_to(root))
    except ValueError:
        pass
    parts = p.parts
    if "site-packages" in parts:
        return "/".join(parts[parts.index("site-packages") + 1:])
    return f"(python) {p.name}"


def _src_line(attrs: dict, root: Path) -> str:
    """The first source location of a cell as ``path:line`` (relative to `root` when below it)."""
    src = attrs.get("src", "")
    if not src:
        return "(no source)"
    first = src.split("|")[0]
    m = re.match(r"(.*?):(\d+)(?:\.\d+(?:-\d+\.\d+)?)?$", first)
    path, line = (m.group(1), m.group(2)) if m else (first, "?")
    return f"{_project_path(path, root)}:{line}"


def _sources(cells: dict, max_depth: int = 32) -> dict:
    """Cell name -> its ``src`` attributes; a cell without one (the multiplexers `proc` builds from
    a process's ``if`` / ``case`` tree carry none) takes the ``src`` of the first cell with one that
    its output reaches (in the end the register or memory port the tree updates)."""
    readers = defaultdict(list)
    for name, c in cells.items():
        for port, bits in c.get("connections", {}).items():
            if c.get("port_directions", {}).get(port) == "input":
                for b in bits:
                    if isinstance(b, int):
                        readers[b].append(name)
    known = {n: c["attributes"] for n, c in cells.items() if c.get("attributes", {}).get("src")}

    def outputs(c):
        return [b for p, bits in c.get("connections", {}).items()
                if c.get("port_directions", {}).get(p) == "output" for b in bits if isinstance(b, int)]

    out = {}
    for name, c in cells.items():
        if name in known:
            out[name] = known[name]
            continue
        seen, frontier, found = {name}, [name], {}
        for _ in range(max_depth):
            nxt = []
            for n in frontier:
                for b in outputs(cells[n]):
                    for r in readers[b]:
                        if r in seen:
                            continue
                        seen.add(r)
                        if r in known:
                            found = known[r]
                            break
                        nxt.append(r)
                    if found:
                        break
                if found:
                    break
            if found or not nxt:
                break
            frontier = sorted(nxt)
        out[name] = found
    return out


def attribute_json(netlist: dict, top: str, root: Path) -> dict:
    """Group the coarse cells of Yosys JSON `netlist` (module `top`) by source line (`_sources`)."""
    rows = defaultdict(lambda: {"lut4": 0.0, "ff_bits": 0, "mul": 0, "cells": defaultdict(int)})
    cells = netlist["modules"][top]["cells"]
    srcs = _sources(cells)
    for cname, cell in cells.items():
        ctype, params = cell["type"], cell.get("parameters", {})
        row = rows[_src_line(srcs[cname], root)]
        row["cells"][ctype] += 1
        if ctype in _FF:
            row["ff_bits"] += _int(params, "WIDTH")
        elif ctype == "$mul":
            row["mul"] += 1
        else:
            row["mul"] += _int(params, "NPRODUCTS") if ctype == _MACC else 0
            row["lut4"] += lut4_estimate(ctype, params)
    out = [{"src": s, "lut4": round(r["lut4"], 1), "ff_bits": r["ff_bits"], "mul": r["mul"],
            "cells": dict(sorted(r["cells"].items()))} for s, r in rows.items()]
    out.sort(key=lambda r: (-r["lut4"], -r["ff_bits"], r["src"]))
    return {"rows": out, "lut4": round(sum(r["lut4"] for r in out), 1),
            "ff_bits": sum(r["ff_bits"] for r in out), "mul": sum(r["mul"] for r in out)}


def by_file(att: dict) -> list:
    """The rows of `attribute_json` summed per source file."""
    files = defaultdict(lambda: {"lut4": 0.0, "ff_bits": 0, "mul": 0})
    for r in att["rows"]:
        f = files[r["src"].rsplit(":", 1)[0]]
        f["lut4"] += r["lut4"]
        f["ff_bits"] += r["ff_bits"]
        f["mul"] += r["mul"]
    return sorted(({"src": k, "lut4": round(v["lut4"], 1), "ff_bits": v["ff_bits"], "mul": v["mul"]}
                   for k, v in files.items()), key=lambda r: (-r["lut4"], r["src"]))


def attribute_component(component, workdir: Path, name: str = "blk", root: Path | None = None) -> dict:
    """Convert `component` to RTLIL with source locations, reduce it to coarse cells, attribute."""
    from hw.convert import to_rtlil
    root = (root or Path.cwd()).resolve()
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "design.il").write_text(to_rtlil(component, name=name, emit_src=True))
    script = COARSE_SCRIPT.format(il="design.il", top=name, json="coarse.json")
    (workdir / "coarse.ys").write_text(script.replace("; ", "\n") + "\n")
    tools.run_tool("yosys", ["-q", "-l", "coarse.log", "coarse.ys"], workdir)
    return attribute_json(json.loads((workdir / "coarse.json").read_text()), name, root)


def attribute_block(cfg, block: str, workdir: Path | None = None) -> dict:
    """`attribute_component` of block `block` of `cfg` (``core`` = the whole core)."""
    comp = design.block_component(cfg, block, core=True)
    workdir = Path(workdir or DEFAULT_WORK / f"attr-{cfg.name}-{block}")
    return attribute_component(comp, workdir, name=design.module_name(block))


#: what a report keeps of an attribution (`summary`)
SUMMARY_FILES, SUMMARY_LINES = 12, 15


def summary(att: dict) -> dict:
    """The part of `attribute_json`'s result a synthesis report keeps: totals, the files, the
    heaviest lines."""
    return {"model": "synth.attribute.lut4_estimate (word-level estimate, not a mapped count)",
            "lut4": att["lut4"], "ff_bits": att["ff_bits"], "mul": att["mul"],
            "by_file": by_file(att)[:SUMMARY_FILES], "top_lines": att["rows"][:SUMMARY_LINES]}


def summary_markdown(s: dict) -> list:
    """Markdown lines of a report's attribution section (`summary`)."""
    L = ["## Where the area goes (word-level estimate, `synth.attribute`)", "",
         f"The whole core reduced to word-level cells (no technology mapping) and grouped by the Amaranth "
         f"source line that built them, each cell given a LUT4 estimate from its widths "
         f"(`{s['model'].split(' ')[0]}`, a model for ranking, not a mapped count): "
         f"**{s['lut4']:,.0f} LUT4-eq**, {s['ff_bits']:,} flip-flop bits, {s['mul']} multipliers.", "",
         "| source file | LUT4-eq | share | FF bits | multipliers |", "|---|---:|---:|---:|---:|"]
    for r in s["by_file"]:
        L.append(f"| `{r['src']}` | {r['lut4']:,.0f} | {r['lut4'] / max(s['lut4'], 1e-9):.1%} | "
                 f"{r['ff_bits']:,} | {r['mul']} |")
    L += ["", "Heaviest source lines:", "", "| source line | LUT4-eq | FF bits | cells |", "|---|---:|---:|---|"]
    for r in s["top_lines"]:
        cells = ", ".join(f"{k} x{v}" for k, v in r["cells"].items())
        L.append(f"| `{r['src']}` | {r['lut4']:,.0f} | {r['ff_bits']:,} | {cells} |")
    return L + [""]


def to_text(att: dict, top: int = 30, files: bool = False) -> str:
    rows = by_file(att) if files else att["rows"][:top]
    lines = [f"coarse-cell estimate: {att['lut4']:,.0f} LUT4-eq, {att['ff_bits']:,} FF bits, {att['mul']} multipliers",
             f"{'LUT4-eq':>9} {'share':>6} {'FF bits':>8} {'mul':>4}  source" + ("" if files else "  (cells)")]
    for r in rows:
        share = r["lut4"] / att["lut4"] if att["lut4"] else 0.0
        cells = "" if files else "  " + ", ".join(f"{k} x{v}" for k, v in r["cells"].items())
        lines.append(f"{r['lut4']:9,.0f} {share:6.1%} {r['ff_bits']:8,} {r['mul']:4}  {r['src']}{cells}")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m synth.attribute", description=__doc__.split("\n\n")[0])
    ap.add_argument("--preset", default="digits")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                    help="configuration override (repeatable), e.g. phases=true")
    ap.add_argument("--block", required=True, help="a block of hw.blocks, or 'core'")
    ap.add_argument("--top", type=int, default=30, help="source lines to print (default 30)")
    ap.add_argument("--by", choices=("line", "file"), default="line")
    ap.add_argument("--json", type=Path, help="also write the attribution as JSON")
    a = ap.parse_args(argv)
    if a.top < 1:
        ap.error(f"--top must be >= 1, got {a.top}")
    try:   # a bad preset, override or block is named before any tool runs
        cfg, _, name = make_config(a.preset, a.overrides)
        att = attribute_block(cfg, a.block, DEFAULT_WORK / f"attr-{name}-{a.block}")
    except (ValueError, KeyError) as e:
        ap.error(str(e.args[0]) if isinstance(e, KeyError) else str(e))
    print(f"{name}, block {a.block}:")
    print(to_text(att, a.top, files=a.by == "file"))
    if a.json:
        a.json.write_text(json.dumps(att, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
