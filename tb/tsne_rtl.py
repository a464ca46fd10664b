"""One digits class through the Verilator model of the whole core in MODE 1 (search, joint
affinities with the P dump, t-SNE), against the golden model.

    python -m tb.tsne_rtl --class 3 [--preset digits] [--policy ksection] [--iters 750] [--waves]

Prints whether the result beats, P (every S_ij, from the P dump on ``emb``) and the final
embedding equal the golden model's bit for bit, whether every beat came on the cycle of
`golden_model.run_schedule`, the cycles per phase (search, affinities + P dump, t-SNE) and the
simulated cycles per second (whole run, and the t-SNE phase alone: from the last P beat to the last
embedding beat, a stretch in which no Python runs per cycle), and the cycles of the whole run per
CPU second of the simulator process (less dependent on the machine's load).  The model is the
core inside the tied-reset wrapper of `tb.simtop`, compiled with `tb.runner.LONG_RUN_OPT`
(``--waves`` uses the plain core).  Exit status 0 iff everything is equal.  The t-SNE schedule
is the preset's (``tsne_iters``, ``tsne_exaggeration_iters``) unless ``--iters`` / ``--ex-iters``
override it (the schedule is a generation-time constant: another model).  docs/verification.md ("MODE 1 in Verilator").
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from golden_model.config import ConfigError, get_preset

from . import reference as ref
from . import runner
from .data import digits_classes

POLICIES = ("bisection", "fwa", "ksection")


def phase_cycles(job: dict) -> dict:
    """Cycles of each phase from the (verified) schedule: search = START .. FINISH (the feature load
    included) without the affinity rows fused into it, affinities = those rows + the cycles to
    INIT_GO (with the P dump), t-SNE = INIT_GO .. done."""
    pc = job["phase_cycles"]
    return {"search": job["load_cycles"] + pc["aff_go"] - pc["rows"],
            "affinities": pc["rows"] + pc["tsne_init"] - pc["aff_go"], "tsne": pc["done"] - pc["tsne_init"]}


def run_class(label: int, preset: str = "digits", policy: str = "ksection", perplexity: float | None = None,
              iters: int | None = None, ex_iters: int | None = None, p_dump: bool = True, waves: bool = False,
              waves_from=None, waves_to=None, echo: bool = False) -> dict:
    """Run digits class `label` through the RTL; a report dict (see `main`)."""
    over = {"phases": True}
    if iters is not None:
        over["tsne_iters"] = iters
        over["tsne_exaggeration_iters"] = min(ex_iters if ex_iters is not None else iters // 3, iters)
    elif ex_iters is not None:
        over["tsne_exaggeration_iters"] = ex_iters
    cfg = get_preset(preset).with_overrides(**over)
    perplexity = cfg.perplexity if perplexity is None else perplexity
    (_, X), = digits_classes(cfg, classes=(label,))
    t0 = time.perf_counter()
    job = ref.mode1_job(X, perplexity, policy, cfg, name=f"digit{label}", p_dump=p_dump)
    t_ref = time.perf_counter() - t0
    job["load_cycles"] = 0
    # one long run: the tied-reset wrapper (tb/simtop.py, about 2x faster, -O2); waves use the plain core
    model = runner.build(cfg, dut="core", waves=waves, tie_reset=not waves)
    res = runner.run(model, {"scenarios": [ref.classes_scenario("mode1", [job])]}, name=f"tsne_rtl-{preset}-{label}",
                     waves=waves or None, waves_from=waves_from, waves_to=waves_to, echo=echo)
    o = (res.observations or {}).get("mode1", {})
    jo = (o.get("jobs") or [{}])[0]
    bad = jo.get("emb_bad") or {}
    mism = o.get("mismatches") or ["no observations (simulator failed)"]
    job["load_cycles"] = (jo.get("last_feat_edge", 0) - jo.get("start_edge", 0)) if jo else 0
    got_all = jo.get("emb_beats") == len(job["emb"])
    res_ok = not [m for m in mism if "point" in m and "emb" not in m] and jo.get("beats") is not None
    w = jo.get("walls") or {}
    out = {"preset": preset, "class": label, "n": job["n"], "d": job["d"], "policy": policy,
           "perplexity": perplexity, "tsne_iters": cfg.tsne_iters, "p_dump": p_dump,
           "results_equal": bool(res_ok), "p_equal": bool(got_all and p_dump and bad.get("p", 1) == 0),
           "embedding_equal": bool(got_all and bad.get("final_y", 1) == 0 and bad.get("y", 1) == 0),
           "zq_equal": bool(got_all and bad.get("zq", 1) == 0),
           "cycles_equal": bool(got_all and bad.get("cycle", 1) == 0 and res_ok),
           "passed": res.passed, "mismatches": mism[:20], "phase_cycles": phase_cycles(job),
           "total_cycles": job["load_cycles"] + job["phase_cycles"]["done"],
           "wall_s": {"golden": round(t_ref, 2), "build": round(model.build_seconds, 1), "simulation": round(res.seconds, 1),
                     "simulator_cpu": round(res.cpu_seconds, 1)},
           "run_dir": str(res.run_dir)}
    if w.get("last_p") and w.get("last_emb") and jo.get("emb_last_rel") is not None:
        dc = jo["emb_last_rel"] - w["last_p_edge"]
        out["tsne_cycles_per_s"] = round(dc / max(w["last_emb"] - w["last_p"], 1e-9))
        out["tsne_measured_cycles"] = dc
    if jo.get("wall_start") and w.get("last_emb"):
        out["run_cycles_per_s"] = round(out["total_cycles"] / max(w["last_emb"] - jo["wall_start"], 1e-9))
    if res.cpu_seconds > 0:     # CPU time of the simulator process: less dependent on the machine's load
        out["run_cycles_per_cpu_s"] = round(out["total_cycles"] / res.cpu_seconds)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tb.tsne_rtl", description=__doc__.split("\n\n")[0])
    ap.add_argument("--class", dest="label", type=int, required=True, help="digit class 0..9")
    ap.add_argument("--preset", default="digits", help="configuration preset (default digits)")
    ap.add_argument("--policy", default="ksection", choices=POLICIES, help="sigma search policy (default ksection)")
    ap.add_argument("--perplexity", type=float, default=None, help="default: the preset's")
    ap.add_argument("--iters", type=int, default=None, help="t-SNE iterations (default: the preset's)")
    ap.add_argument("--ex-iters", type=int, default=None, help="exaggerated iterations (default: the preset's)")
    ap.add_argument("--no-p-dump", action="store_true", help="DEBUG = 0: no P beats (P is then not compared)")
    ap.add_argument("--waves", action="store_true", help="FST waveforms (use a window on long runs)")
    ap.add_argument("--waves-from", default=None, help="waveform window start (cycles or e.g. 5us)")
    ap.add_argument("--waves-to", default=None, help="waveform window end")
    ap.add_argument("--json", default=None, help="also write the report as JSON to this file")
    a = ap.parse_args(argv)
    if not 0 <= a.label <= 9:
        ap.error(f"--class must be a digit class 0..9, got {a.label}")
    try:
        r = run_class(a.label, a.preset, a.policy, a.perplexity, a.iters, a.ex_iters, not a.no_p_dump, a.waves,
                      a.waves_from, a.waves_to)
    except (ConfigError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    yn = {True: "yes", False: "NO"}
    pc = r["phase_cycles"]
    print(f"digits class {r['class']} on {r['preset']} (N={r['n']}, D={r['d']}, {r['policy']}, perplexity "
          f"{r['perplexity']}, {r['tsne_iters']} t-SNE iterations), RTL (Verilator) vs golden model:")
    print(f"  result beats equal:      {yn[r['results_equal']]}")
    print(f"  P equal (all N^2 S_ij):  {yn[r['p_equal']] if r['p_dump'] else 'not dumped (--no-p-dump)'}")
    print(f"  Zq per iteration equal: {yn[r['zq_equal']]}")
    print(f"  final embedding equal:   {yn[r['embedding_equal']]}")
    print(f"  every beat on the run_schedule cycle: {yn[r['cycles_equal']]}")
    print(f"  cycles: search {pc['search']:,} (from START), affinities {pc['affinities']:,} "
          f"(incl. P dump), t-SNE {pc['tsne']:,}; total {r['total_cycles']:,}")
    if "tsne_cycles_per_s" in r:
        print(f"  simulation: {r['tsne_cycles_per_s']:,} cycles/s in the t-SNE phase, "
              f"{r.get('run_cycles_per_s', 0):,} cycles/s over the run"
              + (f", {r['run_cycles_per_cpu_s']:,} per CPU second of the simulator"
                 if "run_cycles_per_cpu_s" in r else ""))
    print(f"  wall: golden model {r['wall_s']['golden']} s, model build {r['wall_s']['build']} s, "
          f"simulation {r['wall_s']['simulation']} s (simulator CPU {r['wall_s']['simulator_cpu']} s; {r['run_dir']})")
    for m in r["mismatches"] if not r["passed"] else []:
        print(f"  ! {m}")
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(r, fh, indent=1)
    return 0 if r["passed"] and r["p_equal"] == r["p_dump"] and r["embedding_equal"] else 1


if __name__ == "__main__":
    sys.exit(main())
