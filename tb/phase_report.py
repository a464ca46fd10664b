"""Per-phase performance report of the core: ``python -m tb.phase_report [--rtl]``.

For presets tiny, small and digits (each generated with ``phases``), MODE 1 (search + affinities +
t-SNE; POLICY K-section, `tb.tsne_rtl`'s default), MODE 2 (NMS: bisection at the preset's
perplexity, clamped to (N-1)/2) and MODE 3 (AdapSNE: FWA over ``cfg.perplexity_candidates``), on every
class of the data `tb.report` uses (`tb.data.digits_classes`: the digits training split, pooled
for d_max < 64, classes cut to n_max), BUDGET ``select.class_budget(N, RATIO)``:

* cycles of each phase: distances + search (cycle 0 = last feature accepted .. last result beat,
  without the fused affinity rows), P (with a candidate-parallel search the rows fused into it,
  `affinity_schedule.fused_cycles`; after a point-parallel one the phase,
  `affinity_schedule.run_cycles`), t-SNE iterations (`tsne_schedule.run_cycles`; MODE 1 with its
  ``emb`` trace beats), entropy (`phase_schedule.entropy_cycles`), grid sampling
  (`phase_schedule.grid_cycles`), other (the sequencer's start states, t-SNE PRNG initialisation,
  decide/copy, re-run TGT, outer-FWA control) and the total (`run_schedule` / `select_schedule`);
  summed over the evaluated candidates in MODE 3;
* per phase the busy share of each unit class (operations / (units x cycles)) and the ratio
  cycles / lower bound (`affinity_schedule.busy`, `tsne_schedule.busy_share` / `lower_bound`,
  `phase_schedule.entropy_lower_bound`, and `golden_model.phase_bounds` for search, entropy busy
  and grid).

The numbers are the golden cycle models, which are the RTL's schedule: the cocotb / Verilator
tests check every output beat on the modelled cycle (`tests/test_cocotb.py::test_core_scenarios`,
`::test_core_mode1`, `tests/test_select_cocotb.py::test_core_select`, `::test_core_select_outer_fwa`,
and in the Amaranth simulator `tests/test_phases.py`, `tests/test_select_rtl.py`,
`test_affinity_rtl.py`, `test_tsne_rtl.py`, `test_entropy_rtl.py`, `test_grid_rtl.py`).
``--rtl`` also runs the tiny and small classes (``--rtl-classes``) through the Verilator model
(`tb.tsne_rtl.run_class`, `tb.select_rtl.run_class`) and adds "RTL cycles == schedule".

Writes ``OUT/phase_report.json`` (with the RTL hash of each preset's phases core, checked by
`synth.freshness`) and ``OUT/phase_report.md``.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from golden_model import affinity_schedule as asch  # noqa: E402
from golden_model import phase_bounds as pb  # noqa: E402
from golden_model import phase_schedule as ps  # noqa: E402
from golden_model import run_schedule as rsch  # noqa: E402
from golden_model import schedule as sch  # noqa: E402
from golden_model import select_schedule as ss  # noqa: E402
from golden_model import timing  # noqa: E402
from golden_model import tsne_schedule as ts  # noqa: E402
from golden_model.config import get_preset  # noqa: E402
from golden_model.select import class_budget  # noqa: E402

from .data import digits_classes  # noqa: E402
from .select_ref import nms_perp_reg  # noqa: E402

PRESETS = ("tiny", "small", "digits")
#: MODE -> (name, POLICY as the core is used in that mode)
MODES = {1: ("t-SNE only", "ksection"), 2: ("NMS", "bisection"), 3: ("AdapSNE", "fwa")}
RATIO = 0.1
PHASES = ("search", "P", "tsne", "entropy", "grid")
RTL_PRESETS = ("tiny", "small")


def phase_config(preset: str):
    """The configuration whose schedule is reported: the preset generated with ``phases``."""
    return get_preset(preset).with_overrides(phases=True)


def _acc() -> dict:
    return {"cycles": 0, "bound": 0.0, "ops": {}, "units": {}}


def _add(acc: dict, cycles: int, bound: float, ops: dict, units: dict) -> None:
    acc["cycles"] += int(cycles)
    acc["bound"] += float(bound)
    for u, v in ops.items():
        acc["ops"][u] = acc["ops"].get(u, 0) + v
        acc["units"][u] = units[u]


def _search(cfg, n, d, policy, results, go=timing.LOAD_GO, dataflow="candidate") -> tuple:
    """The search's own cycles: to its FINISH, less the fused affinity rows (the P phase's)."""
    fused = rsch.fused_rows(dataflow)
    s = sch.schedule(cfg, n, d, policy, results, dataflow=dataflow, go=go, fused=fused)
    cyc = s.end_cycle - s.fused_rows
    o = pb.search_ops(n, d, s.kernel_evaluations)
    K = cfg.lanes
    return cyc, pb.search_lower_bound(n, d, s.kernel_evaluations, K), \
        {"mula": o["macs_core"] + o["kernel"], "fu": o["kernel"]}, {"mula": K, "fu": K}


def _affinity(cfg, n, d, dataflow) -> tuple:
    K = cfg.lanes
    b = asch.fused_busy(n, K) if rsch.fused_rows(dataflow) else asch.busy(n, d, K)
    ops = {u: round(b[u] * K * b["cycles"]) for u in ("mula", "fu", "tm0")}
    return b["cycles"], b["lower_bound"], ops, {u: K for u in ops}


def _tsne(cfg, n, traced: bool) -> tuple:
    K, it = cfg.lanes, cfg.tsne_iters
    S = cfg.tsne_update_slices
    sym = cfg.tsne_symmetric
    cyc = (ts.traced_run_cycles(n, K, it, rsch.EMB_EVERY_LOG2, slices=S, symmetric=sym) if traced
           else ts.run_cycles(n, K, it, slices=S, symmetric=sym))
    ops = {"multipliers": it * ts.mul_ops(n, sym), "update_multipliers": it * ts.update_mul_ops(n),
           "fu": it * ts.fu_ops(n, sym) + 1}     # + TRECIP of N, once per run (SCALE)
    return (cyc, it * ts.lower_bound(n, K, sym, slices=S), ops,
            {"multipliers": ts.TSNE_MULS * K, "update_multipliers": ts.UPDATE_MULS * S, "fu": K})


def _finish(phases: dict, total: int) -> dict:
    out = {}
    for p, a in phases.items():
        if not a["cycles"]:
            continue
        busy = {u: a["ops"][u] / (a["units"][u] * a["cycles"]) for u in a["ops"]}
        out[p] = {"cycles": a["cycles"], "lower_bound": round(a["bound"], 1),
                  "ratio": a["cycles"] / a["bound"] if a["bound"] else None,
                  "busy": {u: round(v, 4) for u, v in busy.items()},
                  "busiest": max(busy, key=busy.get) if busy else None,
                  "ops": {u: int(v) for u, v in a["ops"].items()}, "units": dict(a["units"])}
    other = total - sum(v["cycles"] for v in out.values())
    if other < 0:
        raise AssertionError(f"phases exceed the total ({other})")
    out["other"] = {"cycles": other}
    return out


def mode1_class(cfg, X) -> dict:
    """MODE 1 (K-section): per-phase cycles, bounds and busy shares from `run_schedule`."""
    n, d = X.shape
    policy = MODES[1][1]
    from golden_model.search_fixed import search_class
    perp = min(float(cfg.perplexity), (n - 1) / 2)
    results = search_class(X, perp, policy, cfg)
    r = rsch.run_schedule(cfg, n, d, policy, results)
    ph = {p: _acc() for p in PHASES}
    _add(ph["search"], *_search(cfg, n, d, policy, results))
    _add(ph["P"], *_affinity(cfg, n, d, "candidate"))
    _add(ph["tsne"], *_tsne(cfg, n, traced=True))
    out = _finish(ph, r.done_cycle)
    assert out["search"]["cycles"] + out["P"]["cycles"] + rsch.GO_CYCLES == r.aff_go
    return {"mode": 1, "policy": policy, "n": n, "d": d, "perplexity": perp, "evaluations": 1, "k": None,
            "total": r.done_cycle, "phases": out}


def select_class(cfg, X, mode: int) -> dict:
    """MODE 2 / 3: per-phase cycles, bounds and busy shares from `select_schedule`, per evaluated
    candidate (`golden_select`: the fixed-point pipeline's own search results and embeddings)."""
    n, d = X.shape
    policy = MODES[mode][1]
    k = class_budget(n, RATIO)
    gold = ss.golden_select(X, cfg, mode, k, policy, nms_perp_reg(n, cfg))
    df = ss.search_dataflow(cfg, policy)
    s = ss.select_schedule(cfg, n, d, policy, gold, k, dataflow=df)
    ph = {p: _acc() for p in PHASES}
    for e in gold.candidates:
        _add(ph["search"], *_search(cfg, n, d, policy, e.search, go=0, dataflow=df))    # from each candidate's go
        _add(ph["P"], *_affinity(cfg, n, d, df))
        _add(ph["tsne"], *_tsne(cfg, n, traced=False))
        _add(ph["entropy"], ps.entropy_cycles(n, cfg), ps.entropy_lower_bound(n, cfg), pb.entropy_ops(n, cfg),
             pb.ENTROPY_UNITS)
    Y = gold.candidates[gold.best].Y
    g = cfg.grid_g
    _add(ph["grid"], ps.grid_cycles(Y, k, cfg, g), pb.grid_lower_bound(Y, k, cfg, g), pb.grid_ops(Y, k, cfg, g),
         pb.GRID_UNITS)
    out = _finish(ph, s.done_cycle)
    # the same models as select_schedule's own phase split (start states aside)
    m = len(gold.candidates)
    assert out["search"]["cycles"] + m * rsch.GO_CYCLES == s.phases["search"]
    assert out["tsne"]["cycles"] == s.phases["tsne"]
    assert out["entropy"]["cycles"] + m * ss.SEL_ENT_GO == s.phases["entropy"]
    perps = [e.perp_q / (1 << cfg.perp_frac) for e in gold.candidates]
    return {"mode": mode, "policy": policy, "dataflow": df, "n": n, "d": d, "perplexity": perps[gold.best],
            "candidates": perps, "evaluations": m, "k": k, "total": s.done_cycle, "phases": out}


def aggregate(rows: list) -> dict:
    """Sum of the classes' phases: cycles, bounds, busy shares over the summed cycles."""
    out = {}
    for p in PHASES + ("other",):
        rs_ = [r["phases"][p] for r in rows if p in r["phases"]]
        if not rs_:
            continue
        cyc = sum(x["cycles"] for x in rs_)
        e = {"cycles": cyc}
        if p != "other":
            bound = sum(x["lower_bound"] for x in rs_)
            ops = {u: sum(x["ops"][u] for x in rs_) for u in rs_[0]["ops"]}
            busy = {u: ops[u] / (rs_[0]["units"][u] * cyc) for u in ops}
            e.update(lower_bound=round(bound, 1), ratio=cyc / bound, busy={u: round(v, 4) for u, v in busy.items()},
                     busiest=max(busy, key=busy.get))
        out[p] = e
    out["total"] = sum(r["total"] for r in rows)
    return out


def rtl_check(preset: str, cfg, label: int, X, row: dict) -> dict:
    """One class through the Verilator model (`tb.tsne_rtl` MODE 1 without the P dump,
    `tb.select_rtl` MODE 2 / 3): every beat on the schedule's cycle and the end cycle equal?"""
    if row["mode"] == 1:
        from .tsne_rtl import run_class
        r = run_class(label, preset, MODES[1][1], perplexity=row["perplexity"], p_dump=False)
        return {"equal": bool(r["passed"] and r["cycles_equal"]), "rtl_cycles_from_start": r["total_cycles"],
                "sim_s": r["wall_s"]["simulation"]}
    from .select_rtl import run_class
    r = run_class(X, cfg, "nms" if row["mode"] == 2 else "adapsne", row["k"], name=f"phase-report-{label}",
                  dataflow=row.get("dataflow", "candidate"))
    return {"equal": bool(r["passed"] and r["cycles"] == r["expected_cycles"] == row["total"]),
            "rtl_cycles": r["cycles"], "sim_s": r["wall_s"]["simulation"]}


def preset_rows(preset: str, modes=(1, 2, 3), classes=None, log=print) -> list:
    """Every (mode, class) row of one preset."""
    cfg = phase_config(preset)
    rows = []
    for label, X in digits_classes(cfg, classes=classes):
        for mode in modes:
            t0 = time.perf_counter()
            r = mode1_class(cfg, X) if mode == 1 else select_class(cfg, X, mode)
            r.update(preset=preset, lanes=cfg.lanes, cls=int(label), golden_s=round(time.perf_counter() - t0, 2))
            log(f"{preset} MODE {mode} class {label}: N={r['n']} total {r['total']:,} cycles ({r['golden_s']} s)")
            rows.append(r)
    return rows


def _f(v, nd=2):
    return "-" if v is None else f"{v:.{nd}f}"


def _cell(p: dict | None) -> str:
    if not p:
        return "-"
    return f"{p['cycles']:,}" + (f" ({p['ratio']:.2f})" if p.get("ratio") else "")


def to_markdown(rep: dict) -> str:
    meta = rep["meta"]
    L = ["# Per-phase performance of the core (cycle models = the RTL's schedule)", "",
         f"Generated by `python -m tb.phase_report{' --rtl' if meta.get('rtl') else ''}`.  Data: the classes "
         "`tb.report` uses (digits training split, stratified 70/30, random_state=0; pooled for d_max < 64; "
         f"classes cut to n_max); BUDGET = class_budget(N, {meta['ratio']}).  MODE 1: POLICY K-section at the "
         "preset's perplexity; MODE 2 (NMS): bisection, PERP = min(perplexity, (N-1)/2), the search "
         "point-parallel (DATAFLOW = 1) on cores generated with point_parallel (`select_schedule.search_dataflow`); MODE 3 (AdapSNE): FWA "
         "over `perplexity_candidates` (clamped, duplicates dropped).  t-SNE: the preset's "
         f"{meta['tsne_iters']} iterations.  Cycle 0 = the last feature accepted (the N x D feature load, one "
         "beat per cycle, comes before it); no back-pressure.", "",
         "Cycles are the exact golden cycle models (`golden_model/schedule.py`, `affinity_schedule.py`, "
         "`tsne_schedule.py`, `phase_schedule.py`, `run_schedule.py`, `select_schedule.py`), which the RTL "
         "follows beat for beat: " + meta["proof"], "",
         "Each phase cell: cycles (cycles / lower bound).  Lower bounds = necessary operations / units of the "
         "limiting unit class: search (N(N-1)D/2 distance MACs + the policy's kernel evaluations) / K MULAs; "
         "P: MULA ops / K (with a candidate-parallel search, MODE 1 and 3 here, the affinity rows run "
         "inside the search, after each point's result, on lane 0 and the row the search left: no row "
         "recomputation, about K x their bound, `affinity_schedule.fused_cycles`; the search column "
         f"excludes them); t-SNE: the larger of the lanes' multiplier ops / {ts.TSNE_MULS}K (M0 .. M3: the pairs) "
         f"and the update's chunk products / {ts.UPDATE_MULS}S (S update slices of {ts.UPDATE_MULS} multipliers, "
         "overlapped); entropy: 2N + G^2 reads; grid: the reads of "
         "`phase_bounds.grid_lower_bound`.  MODE 3 sums the candidates.  'other' = start states, t-SNE "
         "PRNG initialisation (4N + 2), decide/copy, re-run TGT, outer FWA, summary beat.", ""]
    for preset in meta["presets"]:
        rows = [r for r in rep["rows"] if r["preset"] == preset]
        if not rows:
            continue
        L += [f"## {preset} (K = {rows[0]['lanes']}, RTL `{meta['rtl_sha256'][preset + '+phases'][:12]}`)", "",
              "| mode | class | N | D | k | evals | search | P | t-SNE | entropy | grid | other | total |"
              + (" RTL == schedule |" if meta.get("rtl") else ""),
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|" + ("---|" if meta.get("rtl") else "")]
        for r in rows:
            ph = r["phases"]
            rt = r.get("rtl")
            pol = r["policy"] + (", point-parallel" if r.get("dataflow") == "point" else "")
            L.append(f"| {r['mode']} {MODES[r['mode']][0]} ({pol}) | {r['cls']} | {r['n']} | {r['d']} | "
                     f"{r['k'] or '-'} | {r['evaluations']} | " + " | ".join(_cell(ph.get(p)) for p in PHASES)
                     + f" | {ph['other']['cycles']:,} | {r['total']:,} |"
                     + ((" yes |" if rt["equal"] else " **NO** |") if rt else (" not run |" if meta.get("rtl") else "")))
        L += ["", f"Busy shares per unit class (operations / (units x cycles), all classes of {preset} summed; "
              "the busiest class first):", "",
              "| mode | phase | cycles | / lower bound | busy shares |", "|---|---|---:|---:|---|"]
        for mode in sorted({r["mode"] for r in rows}):
            ag = rep["aggregate"][preset][str(mode)]
            for p in PHASES:
                if p not in ag:
                    continue
                b = sorted(ag[p]["busy"].items(), key=lambda kv: -kv[1])
                L.append(f"| {mode} | {p} | {ag[p]['cycles']:,} | {_f(ag[p]['ratio'])} | "
                         + ", ".join(f"{u} {v:.3f}" for u, v in b) + " |")
            L.append(f"| {mode} | total | {ag['total']:,} | | other {ag['other']['cycles']:,} |")
        L.append("")
    L += ["## Issue #9 criteria for the t-SNE phase (per class)", "",
          "Busiest unit class >= 0.9 and cycles <= 1.15 x lower bound:", "",
          "| preset | N range | multiplier busy (min - max) | ratio (min - max) | busy >= 0.9 | ratio <= 1.15 |",
          "|---|---|---|---|---|---|"]
    for preset in meta["presets"]:
        t = [r["phases"]["tsne"] for r in rep["rows"] if r["preset"] == preset and r["mode"] == 2]
        ns = [r["n"] for r in rep["rows"] if r["preset"] == preset and r["mode"] == 2]
        if not t:
            continue
        bz = [x["busy"]["multipliers"] for x in t]
        ra = [x["ratio"] for x in t]
        L.append(f"| {preset} | {min(ns)} - {max(ns)} | {min(bz):.3f} - {max(bz):.3f} | {min(ra):.3f} - {max(ra):.3f} "
                 f"| {'yes' if min(bz) >= 0.9 else 'no'} | {'yes' if max(ra) <= 1.15 else 'no'} |")
    L += ["", "Per-class busy shares, operation counts and bounds: `phase_report.json`.", ""]
    return "\n".join(L)


PROOF = ("`tests/test_cocotb.py::test_core_scenarios` (search, Verilator), `::test_core_mode1` (MODE 1), "
         "`tests/test_select_cocotb.py::test_core_select` and `::test_core_select_outer_fwa` (MODE 2 / 3: every "
         "`sel` beat and the end on the `select_schedule` cycle), and per unit in the Amaranth simulator "
         "`tests/test_affinity_rtl.py`, `test_tsne_rtl.py`, `test_entropy_rtl.py`, `test_grid_rtl.py`, "
         "`test_phases.py`, `test_select_rtl.py` (cycles equal to the models).")


def build_report(presets=PRESETS, modes=(1, 2, 3), classes=None, rtl: bool = False, rtl_classes=None,
                 log=print, hashes: bool = True) -> dict:
    """The report dict (``meta``, ``rows``, ``aggregate``)."""
    rows = []
    for p in presets:
        rows += preset_rows(p, modes, classes, log)
    if rtl:
        for r in rows:
            if r["preset"] in RTL_PRESETS and (rtl_classes is None or r["cls"] in rtl_classes):
                cfg = phase_config(r["preset"])
                (_, X), = digits_classes(cfg, classes=(r["cls"],))
                log(f"RTL: {r['preset']} MODE {r['mode']} class {r['cls']} ...")
                r["rtl"] = rtl_check(r["preset"], cfg, r["cls"], X, r)
                log(f"RTL: {'equal' if r['rtl']['equal'] else 'DIFFERENT'} ({r['rtl']['sim_s']} s)")
    agg = {p: {str(m): aggregate([r for r in rows if r["preset"] == p and r["mode"] == m])
               for m in modes if any(r["preset"] == p and r["mode"] == m for r in rows)} for p in presets}
    meta = {"presets": list(presets), "modes": list(modes), "ratio": RATIO, "rtl": rtl,
            "tsne_iters": phase_config(presets[0]).tsne_iters, "proof": PROOF,
            "policies": {str(m): v[1] for m, v in MODES.items()}}
    if hashes:
        from synth.freshness import current_sha
        meta["rtl_sha256"] = {f"{p}+phases": current_sha(phase_config(p)) for p in presets}
    return {"meta": meta, "rows": rows, "aggregate": agg}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tb.phase_report", description=__doc__.split("\n\n")[0])
    ap.add_argument("--presets", nargs="+", default=list(PRESETS), choices=PRESETS)
    ap.add_argument("--classes", type=int, nargs="+", default=None, help="digit classes (default: all)")
    ap.add_argument("--rtl", action="store_true", help="also run tiny/small through Verilator (slow)")
    ap.add_argument("--rtl-classes", type=int, nargs="+", default=None, help="classes for --rtl (default: all)")
    ap.add_argument("--out", default="reports")
    a = ap.parse_args(argv)
    os.environ.setdefault("AMARANTH_USE_YOSYS", "builtin")

    def log(m):
        print(f"[phase_report {time.strftime('%H:%M:%S')}] {m}", file=sys.stderr, flush=True)
    rep = build_report(tuple(a.presets), classes=a.classes, rtl=a.rtl, rtl_classes=a.rtl_classes, log=log)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "phase_report.json").write_text(json.dumps(rep, indent=1) + "\n")
    (out / "phase_report.md").write_text(to_markdown(rep))
    print(f"wrote {out / 'phase_report.json'} and {out / 'phase_report.md'}")
    bad = [r for r in rep["rows"] if r.get("rtl") and not r["rtl"]["equal"]]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
