"""cocotb test module for the selection modes (MODE 2 NMS, MODE 3 AdapSNE) of a core generated
with phases, driven by a JSON scenario spec (`tb.select_ref`; run through
``tb.runner.run(..., test_module="tb.select_tests")``).  Not named test_*.py on purpose.

* kind "select": the spec's jobs back to back without reset.  A selection job: registers (MODE,
  BUDGET = k, ...), START, N*D features (random gaps with ``feat_gap``), then the ``sel`` stream
  (random back-pressure with ``sel_stall``): every index beat and the summary beat field by field
  against `golden_model.select_schedule.golden_select`, and - without gaps and back-pressure -
  each beat's cycle and the first cycle with busy = 0 against `select_schedule` (cycle 0 = the
  last feature accepted); nothing on ``res`` / ``emb``; then busy = 0, done = 1, error = 0.  MODE 0
  / 1 jobs (`tb.reference`) run through `tb.core_tests.Bench.run_job` and must put nothing on
  ``sel``.
* kind "select_errors": each case's registers, START: the expected error code within
  ERROR_LATENCY_MAX cycles, busy = 0, no feature accepted, nothing on ``sel``; CLEAR clears it;
  then a valid selection job on the same core.

Every port is a top-level port; no internal name is read.  All waits are bounded.
"""

from __future__ import annotations

import time

import cocotb
from cocotb.triggers import FallingEdge, First, ReadOnly, SimTimeoutError, Timer, with_timeout

from .core_tests import ERROR_LATENCY_MAX, SPEC, Bench, _fmt_status, _status
from .driver import FeatureDriver
from .monitor import StreamMonitor, ValidWatch
from .regs import ERROR_NAMES, REGISTERS
from .select_ref import PROGRESS_TAG

SCENARIOS = {s["name"]: s for s in SPEC.get("scenarios", [])}
SEL_MODES = (2, 3)
#: cycles after the summary beat within which busy = 0 must be seen (any check: the exact cycle
#: is compared with `select_schedule` when checking cycles)
DONE_LATENCY_MAX = 4


class SelectBench(Bench):
    """`tb.core_tests.Bench` plus a monitor on ``sel``."""

    async def start(self, stall: float = 0.0, rng_seed: int = 1, emb_stall: float | None = None):
        await super().start(stall=stall, rng_seed=rng_seed, emb_stall=emb_stall)
        self.sel_mon = StreamMonitor(self.dut, self.clk, "sel", SPEC["ports"]["sel__payload"], stall_prob=stall,
                                     rng_seed=rng_seed + 32452843)
        cocotb.start_soon(self.sel_mon.run())

    async def write_regs(self, regs: dict) -> None:
        for name, v in regs.items():
            await self.regs.write(REGISTERS[name], v)

    async def wait_sel(self, job: dict, budget: int, last: int, label: str) -> None:
        """Wait for the job's last sel beat, at most `budget` cycles (SimTimeoutError).  With
        ``job["progress_cycles"]``, wake up every that many cycles and log a `PROGRESS_TAG` line
        (simulated cycles since the last feature, the expected total, cycles/s) for a parent
        process that follows sim.log; no Python runs per cycle either way."""
        step = job.get("progress_cycles")
        if not step:
            await with_timeout(self.sel_mon.done.wait(), budget * self.period, "ns")
            return
        t_wall, end = time.perf_counter(), self.clk.now() + budget * self.clk.period_steps
        while not self.sel_mon.done.is_set():
            left = (end - self.clk.now()) // self.clk.period_steps
            if left <= 0:
                raise SimTimeoutError()
            await First(self.sel_mon.done.wait(), Timer(min(step, left) * self.period, "ns"))
            if not self.sel_mon.done.is_set():
                done = self.clk.cycle_of_next_edge() - 1 - last
                rate = done / max(time.perf_counter() - t_wall, 1e-9)
                self.dut._log.info(f"{PROGRESS_TAG} {label} {done} {job['done_cycle']} {rate:.0f}")

    async def run_select(self, job: dict, feat_gap: float, rng_seed: int, check_cycles: bool, label: str) -> dict:
        dut, sb, sm = self.dut, self.sb, self.sel_mon
        n, d, exp = job["n"], job["d"], job["sel"]
        await self.write_regs({"N": n, "D": d, "PERP": job["perp_q"], "POLICY": job["policy_code"],
                               "SEED": job["seed"], "DATAFLOW": job.get("dataflow", 0), "MODE": job["mode"], "DEBUG": 0,
                               "BUDGET": job["budget"]})
        start_edge = await self.write_start()
        sbase, rbase = len(sm.beats), len(self.mon.beats)
        ebase = len(self.emb_mon.beats) if self.emb_mon else 0
        sm.expect(sbase + len(exp))
        drv = FeatureDriver(dut, self.clk, gap_prob=feat_gap, rng_seed=rng_seed)
        obs = {"job": job["name"], "n": n, "d": d, "mode": job["mode"], "k": job["budget"], "start_edge": start_edge,
               "wall_start": time.perf_counter()}
        t0 = self.clk.now()
        try:
            await with_timeout(drv.send(job["features"]), job["timeout_cycles"] * self.period, "ns")
        except SimTimeoutError:
            sb.error(f"hang: only {drv.accepted} of {n * d} features accepted within {job['timeout_cycles']} "
                     f"cycles; status {_fmt_status(_status(dut))}", run=label)
            return obs
        last = drv.last_accept_cycle
        obs.update(last_feat_edge=last, wall_last_feat=time.perf_counter())
        elapsed = (self.clk.now() - t0) // self.clk.period_steps
        try:
            await self.wait_sel(job, max(1, job["timeout_cycles"] - elapsed), last, label)
        except SimTimeoutError:
            sb.error(f"hang: {len(sm.beats) - sbase} of {len(exp)} sel beats within {job['timeout_cycles']} cycles "
                     f"of START; status {_fmt_status(_status(dut))}", run=label)
        obs["wall_last_sel"] = time.perf_counter()
        # busy = 0: numbered as the beats (and `select_schedule`'s done cycle): the next edge after
        # the ReadOnly phase that first sees it
        await FallingEdge(dut.clk)      # leave the ReadOnly phase the monitor's event fired in
        done_edge = None
        for _ in range(DONE_LATENCY_MAX + 1):
            await ReadOnly()
            st = _status(dut)
            await FallingEdge(dut.clk)
            if not st["busy"]:
                done_edge = self.clk.cycle_of_next_edge() - 1
                break
        got = sm.beats[sbase:sbase + len(exp)]
        cyc = job["sel_cycles"] if check_cycles else None
        bad = 0
        for k, (g, e) in enumerate(zip(got, exp)):
            what = "summary beat" if e["kind"] == 1 else f"index beat {k}"
            diff = [f for f in e if g.value.get(f) != e[f]]
            if cyc is not None and g.cycle - last != cyc[k]:
                diff.append("cycle")
            for f in diff:
                ev, gv = (cyc[k], g.cycle - last) if f == "cycle" else (e[f], g.value.get(f))
                bad += 1
                if bad <= 12:
                    sb.error(f"sel beat {k} ({what}): {f} expected {ev}, got {gv}", run=label)
        if bad > 12:
            sb.error(f"sel: {bad - 12} more mismatching fields", run=label)
        if len(sm.beats) - sbase != len(exp):
            sb.error(f"sel: {len(sm.beats) - sbase} beats, golden model {len(exp)} (k = {job['budget']} index "
                     f"beats and one summary)", run=label)
        if len(self.mon.beats) != rbase:
            sb.error(f"{len(self.mon.beats) - rbase} res beats in a MODE {job['mode']} run", run=label)
        if self.emb_mon is not None and len(self.emb_mon.beats) != ebase:
            sb.error(f"{len(self.emb_mon.beats) - ebase} emb beats in a MODE {job['mode']} run", run=label)
        if done_edge is None:
            sb.error(f"busy = 1 {DONE_LATENCY_MAX} cycles after the summary beat: status {_fmt_status(st)}", run=label)
        else:
            if cyc is not None and done_edge - last != job["done_cycle"]:
                sb.error(f"end of run (first cycle with busy = 0): expected {job['done_cycle']}, got {done_edge - last}",
                         run=label)
            if st["done"] != 1 or st["error"]:
                sb.error(f"status after a valid run: {_fmt_status(st)} (expected done=1 error=0)", run=label)
        obs.update(sel=[b.value for b in got], sel_rel_cycles=[b.cycle - last for b in got],
                   done_rel_cycle=None if done_edge is None else done_edge - last, sel_stall_cycles=sm.stall_cycles,
                   indices=[b.value["index"] for b in got if b.value["kind"] == 0],
                   summary=got[-1].value if got and got[-1].value["kind"] == 1 else None)
        for v in sm.violations + self.mon.violations:
            sb.protocol(v, run=label)
        sm.violations.clear()
        self.mon.violations.clear()
        return obs


async def run_select(dut, sc: dict) -> None:
    bench = SelectBench(dut, sc)
    await bench.start(stall=sc["sel_stall"], rng_seed=sc["rng_seed"])
    jobs_obs = []
    for k, job in enumerate(sc["jobs"]):
        label = f"{sc['name']}/{k}:{job['name']}"
        seed = sc["rng_seed"] + 101 * k
        if job.get("mode") in SEL_MODES:
            o = await bench.run_select(job, sc["feat_gap"], seed, sc["check_cycles"], label)
        else:
            sbase = len(bench.sel_mon.beats)
            o = await bench.run_job(job, sc["feat_gap"], seed, sc["check_cycles"], label)
            if len(bench.sel_mon.beats) != sbase:
                bench.sb.error(f"{len(bench.sel_mon.beats) - sbase} sel beats in a MODE {job.get('mode', 0)} run",
                               run=label)
        jobs_obs.append(o)
        if any("hang" in str(m) for m in bench.sb.mismatches):
            break  # a hung core makes the remaining classes meaningless
    bench.finish({"kind": "select", "jobs": jobs_obs})


async def run_select_errors(dut, sc: dict) -> None:
    bench = SelectBench(dut, sc)
    await bench.start()
    sb = bench.sb
    watch = ValidWatch(dut.sel__valid)
    cocotb.start_soon(watch.run())
    drv = FeatureDriver(dut, bench.clk)
    feats = sc["recovery"]["features"]
    cases_obs = []
    for case in sc["cases"]:
        label = f"{sc['name']}/{case['what']}"
        await bench.write_regs(case["regs"])
        rises0, beats0 = watch.rises, len(bench.sel_mon.beats)
        await bench.write_start()
        ok, lat, st = await bench.wait_status(lambda s: s["error"] == 1, ERROR_LATENCY_MAX)
        taken = await drv.offer_and_expect_refusal(feats, sc["watch_cycles"])
        await ReadOnly()
        st = _status(dut)
        await FallingEdge(dut.clk)
        cases_obs.append({"case": case["what"], "code": case["code"], "status": st, "accepted": taken,
                          "error_latency": lat if ok else None})
        if not ok:
            sb.error(f"error flag not set within {ERROR_LATENCY_MAX} cycles of START: status {_fmt_status(st)}",
                     run=label)
        if st["error_code"] != case["code"]:
            sb.error(f"error_code expected {case['code']} ({case['code_name']}), got {st['error_code']} "
                     f"({ERROR_NAMES.get(st['error_code'], '?')})", run=label)
        if st["busy"]:
            sb.error(f"busy=1 after a refused START: status {_fmt_status(st)}", run=label)
        if taken:
            sb.error(f"{taken} features accepted in {sc['watch_cycles']} cycles after a refused START", run=label)
        if watch.rises != rises0 or len(bench.sel_mon.beats) != beats0:
            sb.error(f"sel stream active after a refused START ({len(bench.sel_mon.beats) - beats0} beats)", run=label)
        await bench.regs.clear()
        ok, _, st = await bench.wait_status(lambda s: s["error"] == 0, ERROR_LATENCY_MAX)
        if not ok or st["done"]:
            sb.error(f"CLEAR did not clear the error: status {_fmt_status(st)}", run=label)
    rec = await bench.run_select(sc["recovery"], 0.0, 1, True, f"{sc['name']}/after-clear")
    bench.finish({"kind": "select_errors", "cases": cases_obs, "recovery": rec})


@cocotb.test()
@cocotb.parametrize(scenario=[cocotb.Param(n, name=n) for n in SCENARIOS] or ["<no spec>"])
async def select_scenario(dut, scenario: str):
    """One scenario of the spec (see module docstring)."""
    if scenario not in SCENARIOS:
        raise RuntimeError("no scenario spec: run through tb.runner.run (ADAPSNE_TB_SPEC unset)")
    sc = SCENARIOS[scenario]
    if sc["kind"] == "select":
        await run_select(dut, sc)
    elif sc["kind"] == "select_errors":
        await run_select_errors(dut, sc)
    else:
        raise ValueError(f"unknown scenario kind {sc['kind']!r}")
