"""Where a design that does not route is congested: nextpnr's router2 heatmaps by design block.

``python -m synth.congestion build/pnr/heat/h --iteration 2 [--depth 2] [--top 20]``

nextpnr's ``router2`` writes, with ``--router2-heatmap PREFIX``, after each routing iteration
``PREFIX_congestion_by_net_<i>.csv`` (``net,overuse`` rows: how many wires the net shares with
others beyond their capacity) and ``PREFIX_congestion_by_coordinate_<i>.csv`` (one row of
per-tile overuse counts per grid row).  This module groups the per-net overuse by the design's
hierarchy: a net's name is its Amaranth path (``core.lane7.prod[12]``, or a Yosys-made name that
starts with one), so its first ``depth`` path components, with instance numbers folded
(``lane7`` -> ``lane*``) and bit indices dropped, name the block it belongs to.  The coordinate
map says whether the overuse is a hot spot or spread over the die (row and column sums, the
largest against the mean).  Run it on an early iteration: router2's first ones show the demand
before its history costs move the nets around.

`synth.flow.run_pnr(router="router2")` (``synth.report`` / ``synth.sweep --router router2``) has
nextpnr write them under ``heat_<target>/h`` in the work directory, also when a time limit stops
it; for a nextpnr run by hand pass ``--router2-heatmap PREFIX`` (docs/synthesis.md, "Where a
congested point is congested").
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from collections import Counter
from pathlib import Path

__all__ = ["read_by_net", "read_by_coordinate", "block_of", "group_by_block", "spread", "summary",
           "summary_markdown", "heatmap_files"]


def heatmap_files(prefix: str | Path, iteration: int) -> tuple:
    """(by-net CSV, by-coordinate CSV) of router2 iteration `iteration` for heatmap `prefix`;
    a FileNotFoundError names the iterations that exist when the asked one does not."""
    prefix = Path(prefix)
    net = prefix.with_name(f"{prefix.name}_congestion_by_net_{iteration}.csv")
    coord = prefix.with_name(f"{prefix.name}_congestion_by_coordinate_{iteration}.csv")
    if not net.is_file():
        have = sorted(int(m.group(1)) for p in prefix.parent.glob(f"{prefix.name}_congestion_by_net_*.csv")
                      if (m := re.search(r"_(\d+)\.csv$", p.name)))
        raise FileNotFoundError(f"{net}: no router2 heatmap of iteration {iteration} "
                                + (f"(iterations written: {', '.join(map(str, have))})" if have
                                   else f"(none under the prefix {prefix}: run nextpnr with --router router2 "
                                        f"--router2-heatmap {prefix})"))
    return net, coord


def read_by_net(path: Path) -> list:
    """``[(net, overuse)]`` from a ``congestion_by_net`` CSV (rows without an integer are skipped)."""
    out = []
    with open(path, newline="") as f:
        for row in csv.reader(f):
            if len(row) >= 2 and row[-1].strip().isdigit():
                out.append((",".join(row[:-1]), int(row[-1])))
    return out


def read_by_coordinate(path: Path) -> list:
    """The ``congestion_by_coordinate`` grid: one list of per-tile overuse counts per CSV row."""
    with open(path, newline="") as f:
        return [[int(x) for x in row if x.strip() != ""] for row in csv.reader(f)]


def block_of(net: str, depth: int = 2) -> str:
    """The block a net belongs to: its first `depth` hierarchy components, instance numbers
    folded (``lane7`` -> ``lane*``) and bit indices dropped; nextpnr's own nets (``$PACKER_...``)
    and unnamed ones are ``(tool)``."""
    if depth < 1:
        raise ValueError(f"depth {depth} is out of range: allowed >= 1")
    if net.startswith("$"):
        return "(tool)"
    parts = re.sub(r"\[\d+\]", "", net).split(".")
    return ".".join(re.sub(r"\d+$", "*", p) for p in parts[:depth])


def group_by_block(rows: list, depth: int = 2) -> Counter:
    """Overuse summed per `block_of` the nets."""
    g = Counter()
    for net, v in rows:
        g[block_of(net, depth)] += v
    return g


def spread(grid: list) -> dict:
    """Row / column sums of the coordinate grid over the tiles that carry overuse, the largest
    against their mean (1.0: evenly spread; a hot spot shows as several times the mean)."""
    width = max((len(r) for r in grid), default=0)
    rows = [sum(r) for r in grid]
    cols = [sum(r[i] for r in grid if i < len(r)) for i in range(width)]
    out = {"total": sum(rows)}
    for name, sums in (("rows", rows), ("columns", cols)):
        used = [s for s in sums if s]
        mean = sum(used) / len(used) if used else 0.0
        out[name] = {"with_overuse": len(used), "of": len(sums), "max": max(used, default=0),
                     "max_over_mean": round(max(used) / mean, 2) if used else None}
    return out


def summary(prefix: str | Path, iteration: int, depth: int = 2, top: int = 20) -> dict:
    net_csv, coord_csv = heatmap_files(prefix, iteration)
    rows = read_by_net(net_csv)
    total = sum(v for _, v in rows)
    blocks = group_by_block(rows, depth)
    out = {"iteration": iteration, "nets": len(rows), "overuse": total, "depth": depth,
           "blocks": [{"block": b, "overuse": v, "share": round(v / total, 4) if total else 0.0}
                      for b, v in blocks.most_common()],
           "nets_top": [{"net": n, "overuse": v} for n, v in sorted(rows, key=lambda x: -x[1])[:top]]}
    if coord_csv.is_file():
        out["spread"] = spread(read_by_coordinate(coord_csv))
    return out


def summary_markdown(s: dict, top: int = 20) -> str:
    L = [f"router2 iteration {s['iteration']}: {s['overuse']:,} overused wire uses on {s['nets']:,} nets", "",
         "| block | overuse | share |", "|---|---:|---:|"]
    L += [f"| `{b['block']}` | {b['overuse']:,} | {100 * b['share']:.1f} % |" for b in s["blocks"][:top]]
    L += ["", "| net | overuse |", "|---|---:|"]
    L += [f"| `{n['net']}` | {n['overuse']:,} |" for n in s["nets_top"][:top]]
    if "spread" in s:
        sp = s["spread"]
        L += ["", f"Over the die: {sp['rows']['with_overuse']} of {sp['rows']['of']} rows and "
                  f"{sp['columns']['with_overuse']} of {sp['columns']['of']} columns carry overuse; the largest "
                  f"row sum is {sp['rows']['max_over_mean']}x their mean, the largest column "
                  f"{sp['columns']['max_over_mean']}x (near 1: spread over the die; several times: a hot spot)."]
    return "\n".join(L) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m synth.congestion", description=__doc__.split("\n\n")[0])
    ap.add_argument("prefix", help="the --router2-heatmap prefix given to nextpnr (e.g. build/pnr/heat/h)")
    ap.add_argument("--iteration", type=int, default=1, help="router2 iteration (default 1)")
    ap.add_argument("--depth", type=int, default=2, help="hierarchy components that name a block (default 2)")
    ap.add_argument("--top", type=int, default=20, help="blocks and nets to list (default 20)")
    ap.add_argument("--json", default=None, help="also write the summary as JSON")
    args = ap.parse_args(argv)
    for name, v, lo in (("--iteration", args.iteration, 1), ("--depth", args.depth, 1), ("--top", args.top, 1)):
        if v < lo:
            print(f"error: {name} {v} is out of range: allowed >= {lo}", file=sys.stderr)
            return 2
    try:
        s = summary(args.prefix, args.iteration, args.depth, args.top)
    except FileNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(summary_markdown(s, args.top), end="")
    if args.json:
        Path(args.json).write_text(json.dumps(s, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
