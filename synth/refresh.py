"""Regenerate every stale report, several commands at a time: ``python -m synth.refresh [--jobs 2]``.

Runs the steps of `synth.refresh_plan` (the commands ``python -m synth.freshness --plan`` prints)
as a small job graph instead of one after the other.  A step starts when the steps it depends on
have succeeded and a ``--jobs`` process slot is free.  Ready steps start in order of the longest
remaining chain of known minutes they head, so a long synthesis and its seeds are not left for
last; a step running several processes (`Step.cores`: two for ``synth.seeds --jobs 2``) counts
that many slots, and starts on one free slot when it is first in line rather than let shorter
steps pass it (the machine is then briefly oversubscribed instead of a core idling).

Dependencies (ours, from what each command reads):

- ``seeds`` of a report after that report's ``synthesis`` step (they route its netlist);
- the whole ``--reuse`` sweep after every single-point sweep (it takes their results);
- ``speed`` after the synthesis and seeds of its clock report (``reports/synth/digits.json``);
- the README table after every other step, the ``pytest -m reports`` check after the table.

Each command's output goes to ``LOG_DIR/<n>-<stage>.log``; one line per start and end is
printed.  A failed step skips the steps that depend on it, the others go on; the exit status is
1 if any step failed or was skipped.  ``--dry-run`` prints the graph and changes nothing.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from .refresh_plan import Step
from .report import CLOCK_REPORT

#: the synthesis report `synth.speed` takes its clock from (its ``--report`` default)
SPEED_CLOCK_REPORT = str(CLOCK_REPORT)
DEFAULT_LOG_DIR = Path("build/refresh")


@dataclass
class Job:
    index: int
    step: Step
    needs: set = field(default_factory=set)     # indices of the jobs that must succeed first
    state: str = "waiting"                      # waiting, running, done, failed, skipped
    rc: int | None = None


def dependencies(steps: list) -> list:
    """`steps` as jobs, each with the indices of the jobs it needs (rules in the module docstring)."""
    jobs = [Job(i, st) for i, st in enumerate(steps)]
    for job in jobs:
        st = job.step
        for other in jobs:
            o = other.step
            if other is job:
                continue
            if ((st.stage == "seeds" and o.stage == "synthesis" and o.report == st.report)
                    or (st.stage == "sweep" and st.late and o.stage == "sweep" and not o.late)
                    or (st.stage == "speed" and o.stage in ("synthesis", "seeds") and o.report == SPEED_CLOCK_REPORT)
                    or (st.stage == "readme" and o.stage not in ("readme", "check"))
                    or (st.stage == "check" and o.stage != "check")):
                job.needs.add(other.index)
    return jobs


def chain_minutes(jobs: list) -> dict:
    """For each job, its known minutes plus the longest chain of known minutes that waits on it."""
    memo: dict = {}

    def length(i):
        if i not in memo:
            after = [j.index for j in jobs if i in j.needs]
            memo[i] = (jobs[i].step.minutes or 0.0) + max((length(k) for k in after), default=0.0)
        return memo[i]
    return {j.index: length(j.index) for j in jobs}


def to_text(jobs: list) -> str:
    lines = ["# steps (index, stage, cores, minutes, needs)"]
    for j in jobs:
        mins = f"~{j.step.minutes:g} min" if j.step.minutes is not None else "minutes unknown"
        needs = ",".join(map(str, sorted(j.needs))) or "-"
        lines.append(f"{j.index:>2} {j.step.stage:<9} {j.step.cores} core(s) {mins:<16} needs {needs:<10} "
                     f"{j.step.command}")
    return "\n".join(lines) + "\n"


def run(jobs: list, slots: int, log_dir: Path, cwd: Path, log=print, poll_s: float = 5.0) -> bool:
    """Run the jobs within `slots` process slots; True when every one succeeded."""
    if slots < 1:
        raise ValueError(f"--jobs must be >= 1, got {slots}")
    log_dir.mkdir(parents=True, exist_ok=True)
    priority = chain_minutes(jobs)
    running: dict = {}      # index -> (Popen, start time, log file)
    while True:
        for j in jobs:      # a failure upstream skips a job for good
            if j.state == "waiting" and any(jobs[k].state in ("failed", "skipped") for k in j.needs):
                j.state = "skipped"
                log(f"[refresh {time.strftime('%H:%M:%S')}] skipped {j.index} ({j.step.stage}): a step it needs failed")
        ready = sorted((j for j in jobs if j.state == "waiting" and all(jobs[k].state == "done" for k in j.needs)),
                       key=lambda j: (-priority[j.index], j.index))
        busy = sum(min(jobs[i].step.cores, slots) for i in running)
        for j in ready:     # in priority order, while a slot is free; no lower step jumps the queue
            if busy >= slots:
                break
            need = min(j.step.cores, slots)
            out = open(log_dir / f"{j.index:02d}-{j.step.stage}.log", "w")
            proc = subprocess.Popen(j.step.command, shell=True, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                    env={**os.environ, "PYTHONUNBUFFERED": "1"})
            running[j.index] = (proc, time.monotonic(), out)
            j.state = "running"
            busy += need
            log(f"[refresh {time.strftime('%H:%M:%S')}] start {j.index} ({j.step.stage}): {j.step.command}")
        if not running:
            break
        time.sleep(poll_s)
        for i, (proc, t0, out) in list(running.items()):
            rc = proc.poll()
            if rc is None:
                continue
            out.close()
            del running[i]
            jobs[i].rc, jobs[i].state = rc, ("done" if rc == 0 else "failed")
            log(f"[refresh {time.strftime('%H:%M:%S')}] {'done' if rc == 0 else f'FAILED (exit {rc})'} {i} "
                f"({jobs[i].step.stage}) after {(time.monotonic() - t0) / 60:.1f} min; log {out.name}")
    return all(j.state == "done" for j in jobs)


def main(argv=None) -> int:
    from . import freshness
    from .refresh_plan import plan
    ap = argparse.ArgumentParser(prog="python -m synth.refresh", description=__doc__.split("\n\n")[0])
    ap.add_argument("--jobs", type=int, default=2, help="process slots (default 2; >= 1)")
    ap.add_argument("--log-dir", default=str(DEFAULT_LOG_DIR), help="one log per step (default build/refresh)")
    ap.add_argument("--dry-run", action="store_true", help="print the steps and their dependencies only")
    args = ap.parse_args(argv)
    if args.jobs < 1:
        ap.error(f"--jobs must be >= 1, got {args.jobs}")
    stale = [e.path for e in freshness.entries() if not e.fresh]
    jobs = dependencies(plan(stale, freshness.ROOT))
    if not jobs:
        print("every report is of the current RTL: nothing to regenerate")
        return 0
    print(to_text(jobs), end="")
    if args.dry_run:
        return 0
    ok = run(jobs, args.jobs, Path(args.log_dir), freshness.ROOT)
    failed = [j for j in jobs if j.state != "done"]
    for j in failed:
        print(f"not done: {j.index} ({j.step.stage}, {j.state}): {j.step.command}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
