"""Place and route a report's netlist again with more nextpnr seeds, in parallel:
``python -m synth.seeds reports/synth/digits.json --seeds 2,3 --workdir build/synth/digits --jobs 2``.

`synth.report --extra-seeds` runs the extra seeds one after the other inside the whole flow; on
the digits preset one P&R takes about half an hour, so this adds seeds to a finished report
instead: each seed routes the netlist the report's run left in ``--workdir`` (its own
sub-directory ``seed<N>``, so runs do not share files), and the report's P&R results get
``fmax_by_seed`` and ``fmax_median_mhz`` as `synth.report` writes them (the headline stays the
report's own seed; each seed is placed and routed with the report's placer and router).  Each
routed seed leaves ``seed<N>/seed_result_<target>.json`` (the netlist's SHA-256, the seed, router,
placer, flow options and fmax); a later run finding one that matches all of these takes its fmax
instead of routing again (an interrupted run resumes; a second report of the same netlist, e.g.
a sweep point and a probe of it, shares the seeds when its work directory holds them).  Refused
unless the report is of the current RTL, was routed with today's flow options
(`flow.PNR_FLOW`) and the work directory holds its netlist.  One run at a time per report:
the report file is locked (``flock``) while its seeds are routed, and a second run on it is refused
at once instead of overwriting the first one's seeds when both write the file back.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import shutil
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

os.environ["AMARANTH_USE_YOSYS"] = "builtin"

from . import design, flow, harness  # noqa: E402
from .report import fmax_of, make_config, median_fields, to_markdown  # noqa: E402
from .tools import ToolError  # noqa: E402


def add_seeds(rep: dict, workdir: Path, seeds: list, jobs: int = 2, log=print) -> dict:
    """Route each fitting P&R result of `rep` again with `seeds`; updates `rep` in place."""
    cfg, _, _ = make_config(rep["preset"], rep.get("overrides") or {})
    vtext = design.to_verilog(design.build_core(cfg), design.TOP)
    if design.sha256(vtext) != rep["design"]["verilog_sha256"]:
        raise ValueError("the report is not of the current RTL: run synth.report again")
    if rep["design"].get("pnr_flow") != flow.PNR_FLOW:
        raise ValueError(f"the report was routed with flow options {rep['design'].get('pnr_flow')}, "
                         f"today's are {flow.PNR_FLOW}: run synth.report again")
    todo = []
    for key, res in rep["pnr"].items():
        if not res.get("fits"):
            continue
        net = Path(workdir) / res["netlist"]
        if not net.exists():
            raise FileNotFoundError(f"{net}: the work directory of the report's run is needed")
        tg = harness.TARGETS[key]
        files = harness.prepare_board_files(tg, design.build_core(cfg), name="top")
        for s in seeds:
            if str(s) == str(res["seed"]):
                continue
            sub = Path(workdir) / f"seed{s}"
            sub.mkdir(exist_ok=True)
            shutil.copy(net, sub / net.name)
            # the stat file run_pnr reads beside a given netlist
            stat = net.with_name(net.stem + "_stat.json")
            if stat.exists():
                shutil.copy(stat, sub / stat.name)
            todo.append((key, s, tg, files, sub, res))

    def one(item):
        key, s, tg, files, sub, res = item
        done = sub / f"seed_result_{key}.json"
        ident = {"netlist_sha256": hashlib.sha256((sub / res["netlist"]).read_bytes()).hexdigest(),
                 "target": key, "seed": s, "router": flow.choice_of(res, "router"),
                 "placer": flow.choice_of(res, "placer"), "pnr_flow": dict(flow.PNR_FLOW)}
        if done.exists():
            old = json.loads(done.read_text())
            if {k: old.get(k) for k in ident} == ident:
                log(f"{rep['name']}: {key}: seed {s} already routed for this netlist in {sub}: {old['fmax_mhz']}")
                return key, s, old["fmax_mhz"]
        log(f"{rep['name']}: {key}: place and route with seed {s} in {sub}")
        try:
            r = flow.run_pnr(sub, tg, files, top="top", seed=s, variant=res["variant"], synth_json=res["netlist"],
                             router=ident["router"], placer=ident["placer"])
        except ToolError as e:
            log(f"{rep['name']}: {key}: seed {s} failed: {str(e).splitlines()[0]}")
            return key, s, None
        f = fmax_of(r) if r.get("fits") else None
        done.write_text(json.dumps({**ident, "fmax_mhz": f}, indent=1) + "\n")
        return key, s, f

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as ex:
        results = list(ex.map(one, todo))
    for key, res in rep["pnr"].items():
        mine = [(s, f) for k, s, f in results if k == key]
        if not mine:
            continue
        by_seed = dict(res.get("fmax_by_seed") or {str(res["seed"]): fmax_of(res)})
        by_seed.update({str(s): f for s, f in mine})
        res.update(median_fields(dict(sorted(by_seed.items(), key=lambda kv: int(kv[0])))))
        log(f"{rep['name']}: {key}: fmax by seed {res['fmax_by_seed']}, median {res['fmax_median_mhz']}")
    return rep


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m synth.seeds", description=__doc__.split("\n\n")[0])
    ap.add_argument("report", help="a synth.report JSON (rewritten in place, with its Markdown twin)")
    ap.add_argument("--seeds", required=True, help="comma-separated nextpnr seeds")
    ap.add_argument("--workdir", required=True, help="the work directory of the report's run")
    ap.add_argument("--jobs", type=int, default=2, help="seeds routed at once (default 2)")
    args = ap.parse_args(argv)
    try:
        seeds = [int(x) for x in args.seeds.split(",") if x.strip()]
    except ValueError:
        print(f"error: --seeds must be comma-separated integers, got {args.seeds!r}", file=sys.stderr)
        return 2
    path = Path(args.report)
    with open(path) as held:
        try:
            fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"error: {path} is being updated by another synth.seeds run: give all seeds to one run "
                  f"(--seeds ... --jobs N) or wait for it", file=sys.stderr)
            return 2
        rep = json.loads(path.read_text())
        try:
            add_seeds(rep, Path(args.workdir), seeds, args.jobs, log=lambda m: print(m, file=sys.stderr, flush=True))
        except (ValueError, FileNotFoundError) as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        path.write_text(json.dumps(rep, indent=1, sort_keys=False) + "\n")
        path.with_suffix(".md").write_text(to_markdown(rep))
    print(f"updated {path} and {path.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
