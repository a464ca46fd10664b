"""The commands that regenerate stale reports, in the order they depend on each other:
``python -m synth.freshness --plan``.

Each command is derived from the committed report itself (its preset, overrides, steps, targets,
placer and router, extra seeds, output directory), so a report is made again the way it was made,
and the minutes given are its last run's where the report recorded them.  `synth.refresh` runs
them as a job graph.  Order: synthesis reports (with their baselines), their extra seeds, the
sweep (each stale point alone, then the whole sweep), board builds, the cycle reports
(Verilator), the speed report (its clock is `reports/synth/digits.json`'s), the README table, and
the check that all of it is of the current RTL.
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass
from pathlib import Path

from . import flow

#: plan stages, in the order their commands run
STAGES = ("synthesis", "seeds", "sweep", "board", "cycles", "speed", "readme", "check")


@dataclass(frozen=True)
class Step:
    stage: str
    command: str
    minutes: float | None = None      # the last run's, where the report recorded it
    late: bool = False                # runs after the stage's other steps (takes their results)
    report: str | None = None         # the synthesis report a synthesis / seeds step writes
    cores: int = 1                    # processes it runs at once (`synth.refresh` schedules by it)


def _minutes(seconds) -> float | None:
    return round(seconds / 60, 1) if isinstance(seconds, (int, float)) else None


def _value(v) -> str:
    return str(v).lower() if isinstance(v, bool) else str(v)


def _choice_args(pnr: dict) -> list:
    """``--router`` / ``--placer`` when a routed result used a non-default one."""
    out = []
    for kind in flow.RUN_CHOICES:
        used = {flow.choice_of(v, kind) for v in pnr.values() if v.get("fits")}
        other = sorted(used - {flow.RUN_CHOICES[kind][1]})
        if other:
            out.append(f"--{kind} {other[0]}")
    return out


def synth_report_steps(path: Path, root: Path) -> list:
    """`synth.report` (and `synth.seeds`) commands that make report `path` again."""
    from .report import DEFAULT_OUT, DEFAULT_WORK
    rep = json.loads(path.read_text())
    overrides = rep.get("overrides") or {}
    args = ["python -m synth.report", f"--preset {rep['preset']}"]
    args += [f"--set {k}={_value(v)}" for k, v in overrides.items()]
    pnr = rep.get("pnr") or {}
    args += [] if "asic" in rep else ["--no-asic"]
    args += [] if "fpga" in rep else ["--no-fpga"]
    args += [f"--targets {','.join(pnr)}"] if pnr else ["--no-pnr"]
    args += [] if "blocks" in rep else ["--blocks none"]
    args += ["--attribute"] if "attribution" in rep else []
    args += _choice_args(pnr)
    out = path.parent.relative_to(root)
    args += [] if out == DEFAULT_OUT else [f"--out {out}"]
    if not overrides and (root / "synth" / "baselines" / f"{rep['preset']}.json").exists():
        args.append("--update-baseline")
    rt = rep.get("runtime_s") or {}
    rel = str(path.relative_to(root))
    steps = [Step("synthesis", " ".join(args), _minutes(rt.get("total")), report=rel)]
    extra = sorted({int(s) for v in pnr.values() for s in (v.get("fmax_by_seed") or {})
                    if str(s) != str(v.get("seed", flow.DEFAULT_SEED))})
    if extra:
        pnr_s = max((rt.get(f"pnr_{k}") or 0) for k in pnr)
        steps.append(Step("seeds", f"python -m synth.seeds {rel} --seeds "
                                   f"{','.join(map(str, extra))} --workdir {DEFAULT_WORK / rep['name']} --jobs 2",
                          _minutes(pnr_s * -(-len(extra) // 2)) if pnr_s else None,
                          report=rel, cores=min(2, len(extra))))
    return steps


def baseline_steps(path: Path, root: Path) -> list:
    """A baseline is written by its preset's report run (``--update-baseline``)."""
    rep = json.loads(path.read_text())
    report = root / "reports" / "synth" / f"{rep['preset']}.json"
    return synth_report_steps(report, root)[:1] if report.exists() else \
        [Step("synthesis", f"python -m synth.report --preset {rep['preset']} --update-baseline")]


def sweep_point_steps(path: Path, root: Path) -> list:
    """Each stale point is swept alone (into its own directory under the sweep's work directory,
    with the targets, placer and router it was made with), so that points can run side by side;
    the whole sweep then runs with ``--reuse`` and takes them from there."""
    from .report import DEFAULT_WORK
    sw = json.loads((path.parent.parent / "sweep.json").read_text())
    rep = json.loads(path.read_text())
    # every committed point, also one the last sweep run left out
    points = [json.loads(p.read_text()).get("overrides") or {} for p in sorted(path.parent.glob("*.json"))]
    lanes = sorted(set(sw["lanes"]) | {p["lanes"] for p in points if "lanes" in p})
    tables = sorted(set(sw["tables"]) | {p["exp_table_bits"] for p in points if "exp_table_bits" in p})
    timeout = f" --pnr-timeout {round(sw['pnr_timeout_s'] / 60)}" if sw.get("pnr_timeout_s") else ""
    whole = (f"python -m synth.sweep --base {sw['base']} --lanes {','.join(map(str, lanes))} "
             f"--tables {','.join(map(str, tables))} --targets {','.join(sw['targets'])} --reuse" + timeout)
    ov = rep.get("overrides") or {}
    what = (f"--lanes {ov['lanes']} --tables \"\"" if "lanes" in ov else
            f"--lanes \"\" --tables {ov.get('exp_table_bits')}")
    # the targets this point was tried on (the whole sweep drops a target after a K that missed it)
    tried = [t for t in sw["targets"] if t in (rep.get("pnr") or {})] or list(sw["targets"])
    choice = "".join(f" {c}" for c in _choice_args(rep.get("pnr") or {}))
    alone = Step("sweep", f"python -m synth.sweep --base {sw['base']} {what} --targets {','.join(tried)}"
                          f"{choice}{timeout} --out {DEFAULT_WORK / 'sweep' / rep['name']}",
                 _minutes((rep.get("runtime_s") or {}).get("total")))
    return [alone, Step("sweep", whole, late=True)]


def board_steps(path: Path, root: Path) -> list:
    rep = json.loads(path.read_text())
    (preset, _), = rep["rtl_sha256"].items()
    build = f"build/board/{rep['target']}-{preset}"
    return [Step("board", f"python -m synth.board --target {rep['target']} --preset {preset} && "
                          f"cp {build}/board.json {path.relative_to(root)}")]


def rtl_report_steps(path: Path, root: Path) -> list:
    meta = json.loads(path.read_text()).get("meta", {})
    return [Step("cycles", "python -m tb.report" + (" --quick" if meta.get("quick") else ""),
                 _minutes(meta.get("seconds")))]


def phase_report_steps(path: Path, root: Path) -> list:
    meta = json.loads(path.read_text()).get("meta", {})
    return [Step("cycles", "python -m tb.phase_report" + (" --rtl" if meta.get("rtl") else ""))]


def speed_steps(path: Path, root: Path) -> list:
    return [Step("speed", "python -m synth.speed")]


#: (glob relative to the repository root, planner): the same globs as `freshness.REPORT_FILES`
PLANNERS = (
    ("reports/synth/sweep_points/*.json", sweep_point_steps),
    ("reports/synth/speed.json", speed_steps),
    ("reports/synth/board-*.json", board_steps),
    ("reports/synth/*.json", synth_report_steps),
    ("synth/baselines/*.json", baseline_steps),
    ("reports/rtl_report.json", rtl_report_steps),
    ("reports/phase_report.json", phase_report_steps),
)


def plan(stale: list, root: Path) -> list:
    """The steps regenerating the reports at `stale` (paths relative to `root`; a ``[label]``
    suffix is ignored), each command once, in `STAGES` order, then the README table and the check."""
    steps, seen = [], set()
    for rel in dict.fromkeys(s.split(" [")[0] for s in stale):
        planner = next((p for g, p in PLANNERS if fnmatch.fnmatch(rel, g)), None)
        if planner is None:
            raise ValueError(f"{rel}: no regeneration rule (add one to synth.refresh_plan.PLANNERS)")
        for st in planner(root / rel, root):
            if st.command not in seen:
                seen.add(st.command)
                steps.append(st)
    if steps:
        steps += [Step("readme", "python -m synth.readme_table --readme README.md"),
                  Step("check", "python -m pytest -m reports -n 0")]
    return sorted(steps, key=lambda s: (STAGES.index(s.stage), s.late))


def to_text(steps: list) -> str:
    if not steps:
        return "# every report is of the current RTL: nothing to regenerate\n"
    lines = ["# regenerate the stale reports (minutes: the last run's, one job on a 2-core machine)"]
    for st in steps:
        note = f"  # {st.stage}" + (f", ~{st.minutes:g} min" if st.minutes is not None else "")
        lines.append(st.command + note)
    return "\n".join(lines) + "\n"
