"""Lane-count and table-size sweep: ``python -m synth.sweep [--base small] [--lanes 4,8,16,32,64]``.

For each K of ``--lanes`` (the base preset with ``lanes=K``) and each table size of ``--tables``
(the base preset with exp/log/recip table index bits = b), runs the synthesis report flow
(`synth.report.synthesize`, no per-block breakdown) and collects area (transistor / NAND2
estimate, LUTs, FFs, DSP, BRAM) and fmax per target.  Once K does not fit a device, larger K are
not tried on it.  Writes ``OUT/sweep.json``, ``OUT/sweep.md`` and ``OUT/sweep.png`` (area and fmax
against K and against table size) and reports the largest K that places and routes on each
device.  A benchmark: it takes from tens of minutes (small) to hours (digits, K=64); not part of
the default tests.

Each point's full report is written to ``OUT/sweep_points/`` (and ``build/synth/sweep/reports/``).  With ``--reuse`` a
point is taken from there (the work directory's copy first, then ``OUT/sweep_points/``, so a
committed point serves a new machine) instead of re-synthesised when its Verilog hash, tool
versions, seed and steps match and it covers every target still alive, so a long sweep can be
resumed, or split over several processes (``--lanes 4,8`` in one, ``--lanes 16`` in another) and
then merged by one ``--reuse`` run over all points.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ["AMARANTH_USE_YOSYS"] = "builtin"

from golden_model.config import ConfigError, get_preset  # noqa: E402

from . import design, flow, harness  # noqa: E402
from .report import DEFAULT_WORK, fmax_of, synthesize, write_report  # noqa: E402
from .tools import versions  # noqa: E402


def point_summary(rep: dict) -> dict:
    c = rep["config"]
    p = {"lanes": c["lanes"], "table_bits": c["exp_table_bits"], "name": rep["name"],
         "runtime_s": rep["runtime_s"].get("total")}
    if "asic" in rep:
        p["generic_cells"] = rep["asic"]["generic"]["num_cells"]
        p["transistors"] = rep["asic"]["cmos"]["transistors"]
        p["nand2_equivalent"] = rep["asic"]["cmos"]["nand2_equivalent"]
    for fam, f in rep.get("fpga", {}).items():
        for var, v in f["variants"].items():
            p[f"{fam}_{var}"] = {k: v[k] for k in ("luts", "ffs", "carry", "dsp", "bram")}
    p["pnr"] = {k: {"fits": bool(v.get("fits")), "fmax_mhz": fmax_of(v) if v.get("fits") else None,
                    "variant": v.get("variant"), "error": v.get("error"),
                    **({"router": flow.choice_of(v, "router")} if flow.choice_of(v, "router") != flow.DEFAULT_ROUTER else {}),
                    **({"placer": flow.choice_of(v, "placer")} if flow.choice_of(v, "placer") != flow.DEFAULT_PLACER else {}),
                    **({"timed_out": True, "timeout_s": v.get("timeout_s")} if v.get("timed_out") else {})}
                for k, v in rep.get("pnr", {}).items()}
    return p


def reusable(path: Path, cfg, targets: list, asic: bool, tools: dict, pnr_timeout_s: float | None = None,
             router: str = flow.DEFAULT_ROUTER, placer: str = flow.DEFAULT_PLACER) -> dict | None:
    """The stored report at `path` if it is a run of exactly this design with these tools and
    steps covering `targets`; otherwise None (the point is synthesised again).  A target whose
    nextpnr run hit a time limit is reused only when this run's limit is not longer and asks for
    the router and placer that run had (`router`, `placer`); a routed point is reused whatever
    its router and placer."""
    if not path.exists():
        return None
    rep = json.loads(path.read_text())
    for v in rep.get("pnr", {}).values():
        if v.get("timed_out") and (pnr_timeout_s is None or pnr_timeout_s > v.get("timeout_s", 0)
                                   or flow.choice_of(v, "router") != router or flow.choice_of(v, "placer") != placer):
            return None
    vtext = design.to_verilog(design.build_core(cfg), design.TOP)
    same = (rep.get("design", {}).get("verilog_sha256") == design.sha256(vtext)
            and rep.get("tools") == tools and ("asic" in rep) == asic and not rep.get("errors")
            and rep.get("design", {}).get("pnr_flow") == flow.PNR_FLOW
            and set(targets) <= set(rep.get("pnr", {}))
            and all(v.get("seed", flow.DEFAULT_SEED) == flow.DEFAULT_SEED for v in rep.get("pnr", {}).values()))
    return rep if same else None


def run_sweep(base: str, lanes: list, tables: list, targets: list, asic: bool, out: Path, log,
              reuse: bool = False, pnr_timeout_s: float | None = None, router: str = flow.DEFAULT_ROUTER,
              placer: str = flow.DEFAULT_PLACER) -> dict:
    cfg0 = get_preset(base)
    res = {"base": base, "lanes": lanes, "tables": tables, "targets": targets, "k_points": [], "table_points": [],
           "skipped": [], "pnr_timeout_s": pnr_timeout_s}
    alive = list(targets)
    work = DEFAULT_WORK / "sweep"
    tools = versions() if reuse else None

    def point(cfg, name, overrides, tg):
        rep = None
        for stored in ((work / "reports", Path(out) / "sweep_points") if reuse else ()):
            rep = reusable(stored / f"{name}.json", cfg, tg, asic, tools, pnr_timeout_s, router, placer)
            if rep is not None:
                log(f"{name}: reusing the stored report {stored / f'{name}.json'}")
                break
        if rep is None:
            rep = synthesize(cfg, name=name, preset=base, overrides=overrides, targets=tg, asic=asic,
                             blocks=False, workdir=work / name, pnr_timeout_s=pnr_timeout_s, router=router,
                             placer=placer)
            write_report(rep, work / "reports")
        write_report(rep, Path(out) / "sweep_points")  # kept with the sweep: tests check them
        return rep
    for K in lanes:
        try:
            cfg = cfg0.with_overrides(lanes=K, name=f"{base}-K{K}")
        except ConfigError as e:
            res["skipped"].append({"lanes": K, "reason": str(e)})
            continue
        log(f"K={K}: targets {alive}")
        pt = point_summary(point(cfg, f"{base}-K{K}", {"lanes": K}, alive))
        res["k_points"].append(pt)
        for t in list(alive):
            if not pt["pnr"].get(t, {}).get("fits"):
                alive.remove(t)
        log(f"K={K}: {json.dumps(pt['pnr'])}")
    for b in tables:
        try:
            cfg = cfg0.with_overrides(exp_table_bits=b, log_table_bits=b, recip_table_bits=b,
                                      name=f"{base}-T{b}")
        except ConfigError as e:
            res["skipped"].append({"table_bits": b, "reason": str(e)})
            continue
        if b == cfg0.exp_table_bits and cfg0.log_table_bits == b and cfg0.recip_table_bits == b:
            same = [p for p in res["k_points"] if p["lanes"] == cfg0.lanes]
            if same:
                res["table_points"].append(same[0])
                continue
        log(f"tables={b}")
        rep = point(cfg, f"{base}-T{b}", {"exp_table_bits": b, "log_table_bits": b, "recip_table_bits": b},
                    targets)
        res["table_points"].append(point_summary(rep))
    res["largest_fitting"] = {}
    for t in targets:
        ok = [p for p in res["k_points"] if p["pnr"].get(t, {}).get("fits")]
        best = max(ok, key=lambda p: p["lanes"]) if ok else None
        tried = [p["lanes"] for p in res["k_points"] if t in p["pnr"]]
        res["largest_fitting"][t] = {"lanes": best["lanes"] if best else None,
                                     "fmax_mhz": best["pnr"][t]["fmax_mhz"] if best else None,
                                     "largest_tried": max(tried) if tried else None}
    return res


def plot(res: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(2, 2, figsize=(11, 8))
    for row, (key, xname, xlabel) in enumerate([("k_points", "lanes", "lanes K"),
                                                 ("table_points", "table_bits", "table index bits (exp/log/recip)")]):
        pts = sorted(res[key], key=lambda p: p[xname])
        if not pts:
            axes[row][0].set_visible(False)
            axes[row][1].set_visible(False)
            continue
        xs = [p[xname] for p in pts]
        ax = axes[row][0]
        if any("nand2_equivalent" in p for p in pts):
            ax.plot(xs, [p.get("nand2_equivalent") for p in pts], "o-", label="NAND2 eq. (ASIC est.)")
        for fam in ("ice40", "ecp5"):
            k = f"{fam}_dsp"
            if any(k in p for p in pts):
                ax.plot(xs, [p.get(k, {}).get("luts") for p in pts], "s--", label=f"{fam} LUT4 (DSP inference)")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("area")
        ax.set_yscale("log")
        if row == 0:
            ax.set_xscale("log", base=2)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
        ax.set_title(f"area vs {xlabel} ({res['base']})")
        ax = axes[row][1]
        for t in res["targets"]:
            ys = [p["pnr"].get(t, {}).get("fmax_mhz") for p in pts]
            if any(y is not None for y in ys):
                ax.plot(xs, [y if y is not None else float("nan") for y in ys], "o-", label=t)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("fmax (MHz)")
        if row == 0:
            ax.set_xscale("log", base=2)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
        ax.set_title(f"fmax vs {'K' if row == 0 else 'table bits'} (no point = does not fit)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def lane_coverage(res: dict) -> tuple:
    """(lane counts in the sweep, powers of two between its smallest and largest that are not)."""
    swept = sorted(p["lanes"] for p in res.get("k_points", []))
    gaps = [K for K in range(swept[0], swept[-1]) if K & (K - 1) == 0 and K not in swept] if swept else []
    return swept, gaps


def to_markdown(res: dict) -> str:
    L = [f"# Lane / table-size sweep (base preset `{res['base']}`)", "",
         "| K | table bits | generic cells | NAND2 eq. | iCE40 LUT/FF/DSP/BRAM | ECP5 LUT/FF/DSP/BRAM | "
         + " | ".join(f"{t} fmax" for t in res["targets"]) + " |",
         "|---:|---:|---:|---:|---|---|" + "---|" * len(res["targets"])]
    for p in res["k_points"] + [q for q in res["table_points"] if q not in res["k_points"]]:
        def fr(k):
            v = p.get(k)
            return f"{v['luts']}/{v['ffs']}/{v['dsp']}/{v['bram']}" if v else "-"
        cells = []
        for t in res["targets"]:
            q = p["pnr"].get(t)
            cells.append("-" if q is None else (f"{q['fmax_mhz']:.1f}" + ("" if q["variant"] == "dsp" else " (no DSP)")
                                                + "".join(f" ({q[k]})" for k in ("router", "placer") if q.get(k))
                                                if q["fits"] else f"not routed in {q['timeout_s'] / 60:g} min"
                                                if q.get("timed_out") else "no fit"))
        L.append(f"| {p['lanes']} | {p['table_bits']} | {p.get('generic_cells', '-')} | {p.get('nand2_equivalent', '-')} | "
                 f"{fr('ice40_dsp')} | {fr('ecp5_dsp')} | " + " | ".join(cells) + " |")
    swept, gaps = lane_coverage(res)
    L += ["", f"Lane counts in this sweep: {', '.join(map(str, swept))}"
          + (f" (not in it: {', '.join(map(str, gaps))}; 'largest K' below is among these)" if gaps else "") + ".",
          "", "Largest K that places and routes:", ""]
    for t, v in res["largest_fitting"].items():
        bound = (" (the largest K tried on it: larger K not synthesised)"
                 if v["lanes"] is not None and v["lanes"] == v.get("largest_tried") else "")
        L.append(f"- {t}: K = {v['lanes'] if v['lanes'] is not None else 'none (not even the smallest K)'}"
                 + (f" at {v['fmax_mhz']:.1f} MHz" if v["fmax_mhz"] else "") + bound)
    for s in res["skipped"]:
        L.append(f"- skipped {s}")
    fails = [(p["name"], t, q["error"]) for p in res["k_points"] + res["table_points"]
             for t, q in p["pnr"].items() if not q["fits"] and q.get("error")]
    if fails:
        L += ["", "Points that did not place and route:", ""]
        L += [f"- {n} on {t}: {e}" for n, t, e in dict.fromkeys(fails)]
    L += ["", "![sweep](sweep.png)", ""]
    return "\n".join(L)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m synth.sweep", description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", default="small", help="base preset (default small)")
    ap.add_argument("--lanes", default="4,8,16,32,64")
    ap.add_argument("--tables", default="6,8,10", help="exp/log/recip table index bits to sweep at the base K")
    ap.add_argument("--targets", default=None, help="P&R targets (default: those of the base preset)")
    ap.add_argument("--no-asic", action="store_true", help="skip the CMOS estimate (much faster)")
    ap.add_argument("--out", default="reports/synth")
    ap.add_argument("--reuse", action="store_true",
                    help="take points from earlier runs of the same design and tools (resume / merge)")
    flow.add_run_arguments(ap)   # --pnr-timeout, --router, --placer (with --reuse, a point stopped by a
    # time limit is routed again when its limit was shorter or its router / placer another)
    args = ap.parse_args(argv)
    targets = args.targets.split(",") if args.targets else harness.default_targets(args.base)
    try:
        timeout_s = flow.pnr_timeout_s(args.pnr_timeout)
    except ValueError as e:
        ap.error(str(e))

    def log(m):
        print(f"[sweep {time.strftime('%H:%M:%S')}] {m}", file=sys.stderr, flush=True)

    res = run_sweep(args.base, [int(x) for x in args.lanes.split(",") if x],
                    [int(x) for x in args.tables.split(",") if x], targets, not args.no_asic, Path(args.out), log,
                    reuse=args.reuse, pnr_timeout_s=timeout_s,
                    router=args.router, placer=args.placer)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "sweep.json").write_text(json.dumps(res, indent=1) + "\n")
    plot(res, out / "sweep.png")
    (out / "sweep.md").write_text(to_markdown(res))
    print(f"wrote {out / 'sweep.json'}, {out / 'sweep.md'} and {out / 'sweep.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
