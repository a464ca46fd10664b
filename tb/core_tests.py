"""cocotb test module for the AdapSNE core (and the stand-in), driven by a JSON scenario spec.

Not named test_*.py on purpose (pytest must not collect it).  `tb.runner.run` writes the spec and
points $ADAPSNE_TB_SPEC at it.  One cocotb test per scenario in the spec:

* kind "classes": run the spec's classes back to back without reset (scenario (a) one class, no
  gaps/back-pressure, values + cycles; (b) random input gaps + output back-pressure, values;
  (d) several classes back to back).  Every class: configure registers, START, stream N*D
  features, collect N result beats, check them in order against the golden model, check
  busy=0/done=1 after the last beat.  A job with ``mode`` 1 (`tb.reference.mode1_job`, a core
  generated with phases) also writes MODE/DEBUG and checks every ``emb`` beat (P dump, Zq, final
  embedding) and its cycle (`Bench.check_emb`) before the busy/done check; a MODE 0 job on such a
  core must produce no ``emb`` beat.
* kind "errors": scenario (c) — error codes 1-4 (nothing accepted, nothing output, status flags,
  no hang, CLEAR clears), a valid class after CLEAR, code 5 (START while busy) during a run, which
  must still complete correctly, then CLEAR.
* kind "abort": ABORT in the load phase, in the search phase (after some beats) and while a result
  beat is held by back-pressure: within `abort_cycles` edges busy=0, error=1, code ABORTED, no
  valid result/trace beat, no feature accepted afterwards; the beats received before the ABORT
  are correct; then a normal class (values + cycles) on the same core, without reset.

All waits are bounded (`with_timeout`), so a hanging core fails a test instead of the run.
Observations (beats, cycles, status) are written to spec["out"] for tb.report.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import cocotb
from cocotb.triggers import FallingEdge, ReadOnly, SimTimeoutError, with_timeout

from . import layout as lay
from .driver import Clocking, FeatureDriver, RegisterDriver, reset
from .monitor import StreamMonitor, ValidWatch
from .regs import CMD_ABORT, ERR_ABORTED, ERROR_NAMES, REG_CMD
from .scoreboard import Scoreboard

_SPEC_PATH = os.environ.get("ADAPSNE_TB_SPEC")
SPEC = json.loads(Path(_SPEC_PATH).read_text()) if _SPEC_PATH else {"scenarios": []}
SCENARIOS = {s["name"]: s for s in SPEC.get("scenarios", [])}
DONE_LATENCY_MAX = int(SPEC.get("done_latency_max", 4))
ERROR_LATENCY_MAX = int(SPEC.get("error_latency_max", 4))


def _status(dut) -> dict:
    return lay.decode(SPEC["ports"]["status"], int(dut.status.value))


def _fmt_status(st: dict) -> str:
    return " ".join(f"{k}={v}" for k, v in st.items())


def _save(name: str, obs: dict) -> None:
    out = SPEC.get("out")
    if not out:
        return
    p = Path(out)
    data = json.loads(p.read_text()) if p.is_file() else {}
    data[name] = obs
    p.write_text(json.dumps(data))


def trace_note(job: dict, got_by_point: dict, pos: int) -> str:
    """First diverging pass/lane of point `pos` between the golden PassTrace and the RTL trace."""
    from .scoreboard import trace_diff
    exp = job["trace"][pos]
    got_passes = got_by_point.get(pos, {})
    records = []
    for p in range(max(got_passes.keys(), default=-1) + 1):
        lanes = got_passes.get(p, {})
        k = max(len(exp[0]["candidates"]) if exp else 0, max(lanes.keys(), default=-1) + 1)
        records.append({"candidates": [lanes[l]["u"] if l in lanes else None for l in range(k)],
                        "h": [lanes[l]["h"] if l in lanes else None for l in range(k)],
                        "z": [lanes[l]["z"] if l in lanes else None for l in range(k)],
                        "t": [lanes[l]["t"] if l in lanes else None for l in range(k)]})
    return trace_diff(exp, records)


class Bench:
    def __init__(self, dut, scenario: dict):
        self.dut = dut
        self.sc = scenario
        self.clk = Clocking(dut, SPEC["clock_period_ns"], internal=SPEC.get("clock_internal", False))
        self.regs = RegisterDriver(dut)
        self.sb = Scoreboard(name=scenario["name"])
        self.mon = None
        self.trace_mon = None
        self.emb_mon = None
        self.period = SPEC["clock_period_ns"]

    async def start(self, stall: float = 0.0, rng_seed: int = 1, emb_stall: float | None = None):
        await self.clk.start()
        await reset(self.dut, self.clk)
        self.mon = StreamMonitor(self.dut, self.clk, "res", SPEC["ports"]["res__payload"], stall_prob=stall,
                                 rng_seed=rng_seed + 7919)
        cocotb.start_soon(self.mon.run())
        if "trace__payload" in SPEC["ports"]:
            self.trace_mon = StreamMonitor(self.dut, self.clk, "trace", SPEC["ports"]["trace__payload"],
                                           stall_prob=stall, rng_seed=rng_seed + 104729,
                                           drive_ready="trace__ready" in SPEC["ports"])
            cocotb.start_soon(self.trace_mon.run())
        if "emb__valid" in SPEC["ports"]:   # a core generated with phases (MODE 1 output)
            P = SPEC["ports"]
            self.emb_mon = StreamMonitor(self.dut, self.clk, "emb", None, rng_seed=rng_seed + 15485863,
                                         stall_prob=stall if emb_stall is None else emb_stall,
                                         fields={k: P[f"emb__{k}"] for k in ("kind", "iter", "index", "data")})
            cocotb.start_soon(self.emb_mon.run())

    async def write_start(self) -> int:
        """START; returns the edge that performed the write."""
        edge = self.clk.cycle_of_next_edge()
        await self.regs.start()
        return edge

    async def wait_status(self, pred, max_cycles: int) -> tuple:
        """Poll status after falling edges until pred(status) holds; (ok, cycles waited, status)."""
        for k in range(max_cycles + 1):
            await ReadOnly()
            st = _status(self.dut)
            if pred(st):
                await FallingEdge(self.dut.clk)
                return True, k, st
            await FallingEdge(self.dut.clk)
        return False, max_cycles, st

    async def run_job(self, job: dict, feat_gap: float, rng_seed: int, check_cycles: bool, label: str) -> dict:
        dut, sb, mon = self.dut, self.sb, self.mon
        n, d = job["n"], job["d"]
        await self.regs.configure(n, d, job["perp_q"], job["policy_code"], job["seed"],
                                  job.get("dataflow", 0), job.get("mode"), job.get("debug"))
        start_edge = await self.write_start()
        base = len(mon.beats)
        tbase = len(self.trace_mon.beats) if self.trace_mon else 0
        ebase = len(self.emb_mon.beats) if self.emb_mon else 0
        mon.expect(base + n)
        if job.get("mode"):
            self.emb_mon.expect(ebase + len(job["emb"]))
        drv = FeatureDriver(dut, self.clk, gap_prob=feat_gap, rng_seed=rng_seed)
        budget_ns = job["timeout_cycles"] * self.period
        obs = {"job": job["name"], "n": n, "d": d, "policy": job["policy"], "start_edge": start_edge,
               "wall_start": time.perf_counter()}
        t0 = self.clk.now()
        try:
            await with_timeout(drv.send(job["features"]), budget_ns, "ns")
        except SimTimeoutError:
            sb.error(f"hang: only {drv.accepted} of {n * d} features accepted within {job['timeout_cycles']} "
                     f"cycles; status {_fmt_status(_status(dut))}", run=label)
            return obs
        obs.update(first_feat_edge=drv.first_accept_cycle, last_feat_edge=drv.last_accept_cycle,
                   wall_last_feat=time.perf_counter())
        elapsed = (self.clk.now() - t0) // self.clk.period_steps
        remaining = max(1, job["timeout_cycles"] - elapsed) * self.period
        try:
            await with_timeout(mon.done.wait(), remaining, "ns")
        except SimTimeoutError:
            sb.error(f"hang: {len(mon.beats) - base} of {n} result beats within {job['timeout_cycles']} cycles "
                     f"of START; status {_fmt_status(_status(dut))}", run=label)
        await FallingEdge(dut.clk)  # leave the ReadOnly phase the monitor's event fired in
        beats = mon.beats[base:base + n]
        sb.check_count(len(beats), n, run=label)
        exp_cycles = job.get("cycles") if check_cycles else None
        last = drv.last_accept_cycle
        traces = None
        if self.trace_mon is not None and job.get("trace") is not None:
            traces = self.check_trace(job, self.trace_mon.beats[tbase:], last, check_cycles, label)
        note_fn = (lambda pos, f: trace_note(job, traces, pos)) if traces is not None else None
        rel = []
        for k, b in enumerate(beats):
            rel.append(b.cycle - last)
            sb.check_beat(k, b.value, job["expected"][k], got_cycle=rel[-1] if exp_cycles else None,
                          expected_cycle=exp_cycles[k] if exp_cycles else None, run=label, note_fn=note_fn)
        if self.trace_mon is not None:
            obs["trace_beats"] = len(self.trace_mon.beats) - tbase
        obs.update(beats=[b.value for b in beats], beat_edges=[b.cycle for b in beats], rel_cycles=rel,
                   expected_rel_cycles=job.get("cycles"), stall_cycles=mon.stall_cycles)
        if job.get("mode") and len(beats) == n:
            if not await self.check_emb(job, ebase, t0, last, check_cycles, label, obs):
                return obs
        elif self.emb_mon is not None and len(self.emb_mon.beats) != ebase:
            sb.error(f"{len(self.emb_mon.beats) - ebase} emb beats in a MODE 0 run", run=label)
        if len(beats) == n:
            ok, waited, st = await self.wait_status(lambda s: s["busy"] == 0 and s["done"] == 1, DONE_LATENCY_MAX)
            obs["done_latency"] = waited if ok else None
            if not ok:
                sb.error(f"after the last result beat busy=0/done=1 not seen within {DONE_LATENCY_MAX} cycles: "
                         f"status {_fmt_status(st)}", run=label)
            elif st["error"]:
                sb.error(f"error flag set after a valid run: {_fmt_status(st)}", run=label)
        for v in mon.violations:
            sb.protocol(v, run=label)
        mon.violations.clear()
        obs["wall_end"] = time.perf_counter()
        dut._log.info(f"{label}: done at edge {self.clk.cycle_of_next_edge()}, "
                      f"{obs['wall_end'] - obs['wall_start']:.1f} s, {len(sb.mismatches)} mismatches so far")
        return obs

    async def check_emb(self, job: dict, ebase: int, t0: int, last: int, check_cycles: bool, label: str,
                        obs: dict) -> bool:
        """MODE 1: wait for the job's ``emb`` beats (P dump, t-SNE Zq and embedding), compare them
        in order field by field and, when checking cycles, their edges (relative to the last
        feature) with `golden_model.run_schedule`.  False if they did not all arrive."""
        sb, em, exp = self.sb, self.emb_mon, job["emb"]
        elapsed = (self.clk.now() - t0) // self.clk.period_steps
        try:
            await with_timeout(em.done.wait(), max(1, job["timeout_cycles"] - elapsed) * self.period, "ns")
        except SimTimeoutError:
            sb.error(f"hang: {len(em.beats) - ebase} of {len(exp)} emb beats within {job['timeout_cycles']} cycles "
                     f"of START; status {_fmt_status(_status(self.dut))}", run=label)
        await FallingEdge(self.dut.clk)
        got = em.beats[ebase:ebase + len(exp)]
        cyc = job["emb_cycles"] if check_cycles else None
        np_ = job.get("p_beats", 0)
        n_y = job["n"]                      # the final embedding: the last N beats
        reported = bad = 0
        bad_by = {"p": 0, "zq": 0, "y": 0, "final_y": 0, "cycle": 0}
        for k, (g, e) in enumerate(zip(got, exp)):
            diff = [f for f in ("kind", "iter", "index", "data") if g.value[f] != e[f]]
            if diff:
                cat = "p" if k < np_ else ("zq" if e["kind"] == 0 else "y")
                bad_by[cat] += 1
                bad_by["final_y"] += k >= len(exp) - n_y
            if cyc is not None and g.cycle - last != cyc[k]:
                diff.append("cycle")
                bad_by["cycle"] += 1
            if diff:
                bad += 1
                if reported < 10:
                    what = (f"P[{e['index']}][{e['iter']}]" if k < np_ else
                            f"iteration {e['iter']} " + ("Zq" if e["kind"] == 0 else f"y[{e['index']}]"))
                    f = diff[0]
                    ev, gv = (cyc[k], g.cycle - last) if f == "cycle" else (e[f], g.value[f])
                    sb.error(f"emb beat {k} ({what}): {f} expected {ev}, got {gv}"
                             + (f"; also differs: {', '.join(diff[1:])}" if diff[1:] else ""), run=label)
                    reported += 1
        if bad > reported:
            sb.error(f"emb: {bad - reported} more mismatching beats", run=label)
        if len(got) != len(exp):
            sb.error(f"emb: {len(got)} beats, golden model {len(exp)}", run=label)
        walls = {"last_res": self.mon.beats[-1].wall if self.mon.beats else None,
                 "last_p": got[np_ - 1].wall if 0 < np_ <= len(got) else None,
                 "last_p_edge": got[np_ - 1].cycle - last if 0 < np_ <= len(got) else None,
                 "last_emb": got[-1].wall if got else None}
        obs.update(emb_beats=len(got), emb_mismatches=bad, emb_bad=bad_by, emb_stall_cycles=em.stall_cycles,
                   walls=walls,
                   emb_rel_cycles=[b.cycle - last for b in got] if len(got) <= 4096 else None,
                   emb_last_rel=(got[-1].cycle - last) if got else None, p_beats=np_,
                   phase_cycles=job.get("phase_cycles"))
        for v in em.violations:
            sb.protocol(v, run=label)
        em.violations.clear()
        return len(got) == len(exp)

    def check_trace(self, job: dict, tbeats: list, last: int, check_cycles: bool, label: str) -> dict:
        """Every trace beat (one per active lane per pass) against the golden model's PassTrace:
        point index, pass index, lane, candidate u, Z, T, H; and its cycle against
        golden_model.schedule when checking cycles.  Returns {point: [[record per lane] per pass]}
        for locating the first divergence of a result mismatch."""
        sb = self.sb
        exp = []
        for i, passes in enumerate(job["trace"]):
            for p, pt in enumerate(passes):
                for lane, cand in enumerate(pt["candidates"]):
                    if cand is not None:
                        exp.append({"index": i, "pass_index": p, "lane": lane, "u": cand,
                                    "z": pt["z"][lane], "t": pt["t"][lane], "h": pt["h"][lane]})
        cyc = None
        if check_cycles and job.get("trace_cycles") is not None:
            cyc = [c for pts in job["trace_cycles"] for lanes in pts for c in lanes]
        got_by_point: dict = {}
        for b in tbeats:
            v = b.value
            rec = got_by_point.setdefault(v.get("index"), {})
            rec.setdefault(v.get("pass_index"), {})[v.get("lane")] = v
        reported = 0
        for k, e in enumerate(exp):
            if k >= len(tbeats):
                sb.error(f"trace: {len(tbeats)} beats, golden model {len(exp)} (missing from point {e['index']} "
                         f"pass {e['pass_index']} lane {e['lane']})", run=label, point=e["index"])
                break
            g, gc = tbeats[k].value, tbeats[k].cycle - last
            bad = [f for f in ("index", "pass_index", "lane", "u", "z", "t", "h") if g.get(f) != e[f]]
            if cyc is not None and gc != cyc[k]:
                bad.append("cycle")
            if bad and reported < 10:
                f = bad[0]
                ev, gv = (cyc[k], gc) if f == "cycle" else (e[f], g.get(f))
                sb.error(f"trace beat {k} (point {e['index']}, pass {e['pass_index']}, lane {e['lane']}): {f} "
                         f"expected {ev}, got {gv}" + (f"; also differs: {', '.join(bad[1:])}" if bad[1:] else ""),
                         run=label, point=e["index"])
                reported += 1
        if len(tbeats) > len(exp):
            sb.error(f"trace: {len(tbeats)} beats, golden model {len(exp)} (extra beats)", run=label)
        return got_by_point

    def finish(self, obs: dict) -> None:
        obs["mismatches"] = [str(m) for m in self.sb.mismatches]
        _save(self.sc["name"], obs)
        self.dut._log.info(self.sb.report())
        if not self.sb.ok:
            raise AssertionError(self.sb.report())


async def run_classes(dut, sc: dict) -> None:
    bench = Bench(dut, sc)
    await bench.start(stall=sc["res_stall"], rng_seed=sc["rng_seed"], emb_stall=sc.get("emb_stall"))
    jobs_obs = []
    for k, job in enumerate(sc["jobs"]):
        label = f"{sc['name']}/{k}:{job['name']}"
        o = await bench.run_job(job, sc["feat_gap"], sc["rng_seed"] + 101 * k, sc["check_cycles"], label)
        jobs_obs.append(o)
        if not bench.sb.ok and any("hang" in str(m) for m in bench.sb.mismatches):
            break  # a hung core makes the remaining classes meaningless
    total = sum(j["n"] for j in sc["jobs"][:len(jobs_obs)])
    await FallingEdge(dut.clk)
    bench.sb.check_count(len(bench.mon.beats), total, run=f"{sc['name']}/total")
    bench.finish({"kind": "classes", "jobs": jobs_obs, "end_edge": bench.clk.cycle_of_next_edge()})


async def run_errors(dut, sc: dict) -> None:
    bench = Bench(dut, sc)
    await bench.start()
    sb = bench.sb
    watch = ValidWatch(dut.res__valid)
    cocotb.start_soon(watch.run())
    drv = FeatureDriver(dut, bench.clk)
    feats = sc["recovery"]["features"]
    cases_obs = []
    for case in sc["cases"]:
        label = f"{sc['name']}/code{case['code']}({case['what']})"
        await bench.regs.configure(case["n"], case["d"], case["perp_q"], case["policy_code"], sc["recovery"]["seed"],
                                  case.get("dataflow", 0))
        rises0, beats0 = watch.rises, len(bench.mon.beats)
        await bench.write_start()
        ok, lat, st = await bench.wait_status(lambda s: s["error"] == 1, ERROR_LATENCY_MAX)
        taken = await drv.offer_and_expect_refusal(feats, sc["watch_cycles"])
        await ReadOnly()
        st = _status(dut)
        valid_now = int(dut.res__valid.value)
        await FallingEdge(dut.clk)
        cases_obs.append({"case": case["what"], "code": case["code"], "status": st, "accepted": taken,
                          "error_latency": lat if ok else None})
        if not ok or st["error"] != 1:
            sb.error(f"error flag not set within {ERROR_LATENCY_MAX} cycles of START: status {_fmt_status(st)}", run=label)
        if st["error_code"] != case["code"]:
            sb.error(f"error_code expected {case['code']} ({ERROR_NAMES[case['code']]}), got {st['error_code']} "
                     f"({ERROR_NAMES.get(st['error_code'], '?')})", run=label)
        if st["busy"]:
            sb.error(f"busy=1 after a rejected START: status {_fmt_status(st)}", run=label)
        if taken:
            sb.error(f"{taken} features accepted in {sc['watch_cycles']} cycles after a rejected START", run=label)
        if watch.rises != rises0 or valid_now or len(bench.mon.beats) != beats0:
            sb.error(f"result stream active after a rejected START ({len(bench.mon.beats) - beats0} beats)", run=label)
        await bench.regs.clear()
        ok, _, st = await bench.wait_status(lambda s: s["error"] == 0, ERROR_LATENCY_MAX)
        if not ok or st["error_code"] not in (0, case["code"]) or st["done"]:
            sb.error(f"CLEAR did not clear the error: status {_fmt_status(st)}", run=label)
    # the core must still work after errors + CLEAR
    rec = await bench.run_job(sc["recovery"], 0.0, 1, True, f"{sc['name']}/after-clear")
    # code 5: START while busy (in the search phase, after all features were accepted)
    job = sc["busy"]
    label = f"{sc['name']}/code5"
    await bench.regs.configure(job["n"], job["d"], job["perp_q"], job["policy_code"], job["seed"],
                                  job.get("dataflow", 0))
    await bench.write_start()
    base = len(bench.mon.beats)
    bench.mon.expect(base + job["n"])
    try:
        await with_timeout(drv.send(job["features"]), job["timeout_cycles"] * bench.period, "ns")
    except SimTimeoutError:
        sb.error("hang while streaming features", run=label)
    await bench.clk.cycles(2)
    busy_before = _status(dut)["busy"]
    await bench.write_start()
    ok, lat, st = await bench.wait_status(lambda s: s["error"] == 1 and s["error_code"] == 5, ERROR_LATENCY_MAX)
    if not busy_before:
        sb.error("core not busy 2 cycles after its last feature; START-while-busy not exercised", run=label)
    elif not ok:
        sb.error(f"START while busy: error 5 not flagged within {ERROR_LATENCY_MAX} cycles: status {_fmt_status(st)}",
                 run=label)
    try:
        await with_timeout(bench.mon.done.wait(), job["timeout_cycles"] * bench.period, "ns")
    except SimTimeoutError:
        sb.error(f"hang after START-while-busy: {len(bench.mon.beats) - base} of {job['n']} beats", run=label)
    await FallingEdge(dut.clk)
    for k, b in enumerate(bench.mon.beats[base:base + job["n"]]):
        sb.check_beat(k, b.value, job["expected"][k], run=label)
    sb.check_count(len(bench.mon.beats) - base, job["n"], run=label)
    ok, _, st = await bench.wait_status(lambda s: s["busy"] == 0, DONE_LATENCY_MAX)
    if not ok:
        sb.error(f"still busy after the interrupted run: {_fmt_status(st)}", run=label)
    await bench.regs.clear()
    ok, _, st = await bench.wait_status(lambda s: s["error"] == 0, ERROR_LATENCY_MAX)
    if not ok:
        sb.error(f"CLEAR after code 5 did not clear the error: {_fmt_status(st)}", run=label)
    bench.finish({"kind": "errors", "cases": cases_obs, "recovery": rec})


async def run_abort(dut, sc: dict) -> None:
    bench = Bench(dut, sc)
    await bench.start()
    sb, mon, clk = bench.sb, bench.mon, bench.clk
    job, bound = sc["job"], int(sc["abort_cycles"])
    n, d = job["n"], job["d"]
    cases_obs = []
    for case in sc["cases"]:
        label = f"{sc['name']}/{case}"
        await bench.regs.configure(n, d, job["perp_q"], job["policy_code"], job["seed"],
                                  job.get("dataflow", 0))
        await bench.write_start()
        base = len(mon.beats)
        mon.expect(base + n)
        drv = FeatureDriver(dut, clk)
        budget = job["timeout_cycles"] * bench.period
        try:
            if case == "load":
                await with_timeout(drv.send(job["features"][: (n * d) // 2]), budget, "ns")
            else:
                if case == "backpressure":
                    mon.stall_prob = 1.0          # ready stays 0: the first beat is held
                    dut.res__ready.value = 0
                await with_timeout(drv.send(job["features"]), budget, "ns")
                if case == "search":
                    mon.expect(base + 2)
                    await with_timeout(mon.done.wait(), budget, "ns")
                else:
                    ok, _, _ = await bench.wait_status(lambda s: int(dut.res__valid.value) == 1, job["timeout_cycles"])
                    if not ok:
                        sb.error("no result beat became valid", run=label)
                    await clk.cycles(3)
        except SimTimeoutError:
            sb.error(f"hang before the ABORT ({case})", run=label)
            break
        await FallingEdge(dut.clk)
        got_before = len(mon.beats) - base
        viol_before = len(mon.violations)
        abort_edge = clk.cycle_of_next_edge()
        await bench.regs.write(REG_CMD, CMD_ABORT)
        ok, waited, st = await bench.wait_status(
            lambda s: s["busy"] == 0 and s["error_code"] == ERR_ABORTED and int(dut.res__valid.value) == 0
            and int(dut.feat__ready.value) == 0
            and ("trace__payload" not in SPEC["ports"] or int(dut.trace__valid.value) == 0),
            4 * bound + 8)
        latency = waited + 1          # edges after the one that performed the write, counting it
        if not ok or latency > bound:
            sb.error(f"not idle within {bound} edges of ABORT (edge {abort_edge}): waited {waited} cycles, "
                     f"status {_fmt_status(st)}", run=label)
        elif st["error"] != 1 or st["done"] != 0:
            sb.error(f"status after ABORT: {_fmt_status(st)} (expected error=1 done=0)", run=label)
        if case == "backpressure":
            mon.stall_prob = 0.0
            dut.res__ready.value = 1
        taken = await drv.offer_and_expect_refusal(job["features"], sc["watch_cycles"])
        if taken:
            sb.error(f"{taken} features accepted after ABORT", run=label)
        if len(mon.beats) - base != got_before:
            sb.error(f"{len(mon.beats) - base - got_before} result beats after ABORT", run=label)
        for k, b in enumerate(mon.beats[base:base + got_before]):
            sb.check_beat(k, b.value, job["expected"][k], run=label)
        if case == "search" and got_before < 2:
            sb.error(f"only {got_before} beats before the ABORT in the search phase", run=label)
        # the one allowed stream-rule exception: a held beat dropped by ABORT
        drops = [v for v in mon.violations[viol_before:] if v.startswith("valid dropped")]
        mon.violations[viol_before:] = [v for v in mon.violations[viol_before:] if v not in drops]
        if case == "backpressure" and not drops:
            sb.error("no held beat was pending at the ABORT (back-pressure case not exercised)", run=label)
        cases_obs.append({"case": case, "abort_edge": abort_edge, "latency": latency if ok else None,
                          "beats_before": got_before, "dropped_held_beat": bool(drops), "status": st})
    rec = await bench.run_job(sc["recovery"], 0.0, 1, True, f"{sc['name']}/after-abort")
    bench.finish({"kind": "abort", "cases": cases_obs, "recovery": rec})


@cocotb.test()
@cocotb.parametrize(scenario=[cocotb.Param(n, name=n) for n in SCENARIOS] or ["<no spec>"])
async def scenario(dut, scenario: str):
    """One scenario of the spec (see module docstring)."""
    if scenario not in SCENARIOS:
        raise RuntimeError("no scenario spec: run through tb.runner.run (ADAPSNE_TB_SPEC unset)")
    sc = SCENARIOS[scenario]
    if sc["kind"] == "classes":
        await run_classes(dut, sc)
    elif sc["kind"] == "errors":
        await run_errors(dut, sc)
    elif sc["kind"] == "abort":
        await run_abort(dut, sc)
    else:
        raise ValueError(f"unknown scenario kind {sc['kind']!r}")
