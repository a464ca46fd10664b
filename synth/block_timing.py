"""Place and route one block of the core alone, to find its slow paths quickly.

A whole core with the phases takes hours to route on the ECP5-85F (tiny: 32.5 MHz estimated after
placement, not routed in 32 minutes), and nextpnr names its slow paths only after routing.  One
block (a lane, the t-SNE engine, the affinity unit, ...) inside `harness.SerialHarness` routes in
minutes; every block port is registered there, as nearly every port is in the core, so the
block's internal register-to-register paths are timed as in the core (the paths *between* blocks
are not: time those in the whole core).

    python -m synth.block_timing --preset tiny --set phases=true --block lane [--target ecp5-85f]

prints the block's fmax and its slowest register groups (`synth.sta`) and writes the nextpnr
report to ``build/synth/block-<preset>-<block>/``.  A diagnosis tool: its numbers are not a
committed report (the core's fmax is ``python -m synth.report``'s).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import flow, harness, sta
from .design import block_component
from .report import DEFAULT_WORK, make_config


def block_timing(cfg, block: str, target: str = "ecp5-85f", seed: int = flow.DEFAULT_SEED,
                 workdir: Path | None = None, timeout_s: float | None = None) -> dict:
    """P&R result (`flow.run_pnr`) of block `block` of configuration `cfg` in the serial harness."""
    try:
        comp = block_component(cfg, block)
    except ValueError as e:     # a CLI refusal, before any tool runs
        raise SystemExit(str(e)) from None
    tg = harness.TARGETS[target]
    workdir = Path(workdir or DEFAULT_WORK / f"block-{cfg.name}-{block}")
    workdir.mkdir(parents=True, exist_ok=True)
    files = harness.prepare_board_files(tg, comp, name="top")
    return flow.run_pnr(workdir, tg, files, top="top", seed=seed, timeout_s=timeout_s) | {"workdir": str(workdir)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="tiny")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--block", required=True)
    ap.add_argument("--target", default="ecp5-85f", choices=sorted(harness.TARGETS))
    ap.add_argument("--seed", type=int, default=flow.DEFAULT_SEED)
    ap.add_argument("--mhz", type=float, default=100.0, help="period the slow groups are listed against")
    ap.add_argument("--top", type=int, default=30)
    ap.add_argument("--timeout", type=float, default=None, help="nextpnr time limit in seconds")
    a = ap.parse_args(argv)
    cfg, _, name = make_config(a.preset, a.set)
    res = block_timing(cfg, a.block, a.target, a.seed, timeout_s=a.timeout,
                       workdir=DEFAULT_WORK / f"block-{name}-{a.block}")
    if not res.get("fits"):
        print(f"{a.block}: not placed and routed: {res.get('error')}", file=sys.stderr)
        return 1
    print(f"{a.block} on {a.target}: fmax {res['fmax_mhz']} MHz "
          f"(work dir {res['workdir']})")
    rep = json.loads((Path(res["workdir"]) / f"pnr_{a.target}.json").read_text())
    print(sta.render(sta.slow_summary(sta.endpoint_groups(rep), round(1000.0 / a.mhz, 3), a.top)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
