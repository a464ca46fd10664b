"""Run your own data through the RTL: per-class selection on the Verilator model of the core (MODE 2
NMS / MODE 3 AdapSNE), compared with the fixed-point golden model.

    python -m tb.select_rtl INPUT --ratio R [--method adapsne|nms] [--preset P] [--set K=V ...]
        [--perplexity P] [--labels L.npy] [--label-column C] [--header auto|yes|no]
        [--out OUT.json|-] [--indices OUT.npy] [--details] [--quiet]
        [--class C] [--waves [--waves-from T --waves-to T]] [--json-report R.json]
    python -m tb.select_rtl --digits --class 3 --ratio 0.1 --preset digits     # one digits class
    python -m tb.select_rtl --digits --class 3 --ratio 0.1 --method nms --dataflow point

``--dataflow point``: the search point-parallel (DATAFLOW = 1; NMS's bisection only), the
affinity and t-SNE phases as always.

Same inputs, same checks and error messages (exit status 2), same output files as
``python -m golden_model.cli select`` (its parser, configuration, input loading/validation,
output-location rules and JSON layout are reused from `golden_model.cli`); ``--arithmetic`` is
``fixed`` (the only arithmetic the RTL has).  Every class (or the one of ``--class``) runs through
the Verilator model of the preset's core generated with ``phases`` - MODE 3 for ``adapsne``, MODE
2 for ``nms``, BUDGET = ``max(1, round(R * N))``, POLICY as `golden_model.select` (FWA / bisection)
- and through ``select(arithmetic="fixed")``; the indices must be identical.  The testbench
(`tb.select_tests`) also checks every ``sel`` beat and its cycle against
`golden_model.select_schedule`.  The JSON (``--out``) is the golden CLI's document with the RTL's
indices and an ``rtl`` section per class and overall (identical?, golden indices, the summary
beat, cycles, simulation speed).  ``--digits``: scikit-learn's digits, the project's training
split (`tb.data.digits_train`, 1257 points, 64 features 0..16, labels 0..9) instead of INPUT.
Exit status 0 iff every class is identical and the testbench passed; 1 otherwise; 2 bad input.
docs/verification.md ("Selection modes in Verilator").
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from golden_model import cli as gcli
from golden_model import outfiles
from golden_model.config import ConfigError
from golden_model.dataio import (DataError, ValidatedData, label_to_python, load_dataset, validate_dataset,
                                 validate_perplexity, validate_ratio)
from golden_model.precheck import precheck
from golden_model.schedule import DATAFLOWS
from golden_model.select import METHOD_POLICY, class_budget, select

from . import runner
from .select_ref import METHOD_MODE, PROGRESS_TAG, select_job, select_scenario

PROG = "python -m tb.select_rtl"
#: simulated cycles between two progress lines of a long class (~30 s on the digits core)
PROGRESS_CYCLES = 500_000
TEST_MODULE = "tb.select_tests"
DIGITS_SOURCE = "sklearn digits (training split, tb.data.digits_train)"


def rtl_config(cfg):
    """The configuration of the simulated core: `cfg` generated with ``phases`` (MODE 2, 3)."""
    return cfg if cfg.phases else cfg.with_overrides(phases=True)


@contextlib.contextmanager
def _follow(log: Path, progress):
    """While the body runs, pass the simulator's progress lines (`tb.select_ref.PROGRESS_TAG`,
    written to `log`) to `progress` as text."""
    if progress is None:
        yield
        return
    with contextlib.suppress(FileNotFoundError):
        log.unlink()                     # never read a previous run's lines
    stop = threading.Event()

    def follow():
        pos, last = 0, False
        while not last:
            last = stop.wait(2.0)          # one more read after the run ended
            if not log.is_file():
                continue
            with open(log, errors="replace") as fh:
                fh.seek(pos)
                text = fh.read()
            cut = text.rfind("\n") + 1
            pos += len(text[:cut].encode(errors="replace"))
            for ln in text[:cut].splitlines():
                if PROGRESS_TAG in ln:
                    done, total, rate = (int(v) for v in ln.split()[-3:])
                    left = (total - done) / max(rate, 1)
                    progress(f"simulated {done / 1e6:.2f} M of {total / 1e6:.2f} M cycles ({100 * done / total:.0f} %), "
                             f"{rate:,} cycles/s, ~{left / 60:.1f} min left")
    t = threading.Thread(target=follow, daemon=True)
    t.start()
    try:
        yield
    finally:
        stop.set()
        t.join()


def run_class(X, cfg, method: str, k: int, name: str = "class", waves: bool = False, waves_from=None,
              waves_to=None, policy: str | None = None, progress=None, dataflow: str = "candidate") -> dict:
    """One class through the Verilator model with the testbench's checks.

    Parameters
    ----------
    X : (N, D) integer array
        The class's features (they must fit `cfg`).
    cfg : AccelConfig
        The configuration; the simulated core is `rtl_config(cfg)` (generated with ``phases``).
    method : {"adapsne", "nms"}
        MODE 3 or MODE 2.
    k : int
        BUDGET, ``1 <= k <= N``.
    name : str
        Run directory name (``build/sim/<model>/runs/select_rtl-<preset>-<name>``).
    waves, waves_from, waves_to
        FST waveforms of the run, optionally a window (`tb.runner.run`).
    policy : str, optional
        POLICY; default `golden_model.select.METHOD_POLICY` of the method.
    progress : callable, optional
        ``progress(text)`` gets a line every `PROGRESS_CYCLES` simulated cycles (cycles done of
        the expected total, cycles/s, time left).
    dataflow : {"candidate", "point"}
        The search's dataflow (DATAFLOW register); "point" (point-parallel) needs bisection and a
        core generated with ``point_parallel``.

    Returns
    -------
    dict
        ``indices`` (local, ascending; None if the run failed), ``summary`` (the summary beat),
        ``passed`` (every sel beat's value and cycle and the end of the run equal
        `golden_select` / `select_schedule`), ``mismatches``, ``cycles`` (last feature to busy =
        0), ``expected_cycles``, ``phases`` (schedule cycles per phase), ``cycles_per_s``
        (simulated, after the feature load), ``cycles_per_cpu_s`` (``cycles`` per CPU second of
        the simulator process, start-up included: less dependent on the machine's load),
        ``wall_s`` (golden expectation, model build, simulation, simulator CPU), ``run_dir``,
        ``waves_file``.
    """
    if method not in METHOD_MODE:
        raise ValueError(f"method must be one of {tuple(METHOD_MODE)}, got {method!r}")
    rcfg = rtl_config(cfg)
    t0 = time.perf_counter()
    job = select_job(X, rcfg, METHOD_MODE[method], k, policy or METHOD_POLICY[method], name=name, dataflow=dataflow)
    t_gold = time.perf_counter() - t0
    if progress is not None:
        job["progress_cycles"] = PROGRESS_CYCLES
    # one class per run: without waves, the tied-reset wrapper (tb/simtop.py, several times faster)
    model = runner.build(rcfg, dut="core", waves=waves, tie_reset=not waves)
    run_name = f"select_rtl-{rcfg.name}-{name}"
    with _follow(model.build_dir / "runs" / runner._safe(run_name) / "sim.log", progress):
        res = runner.run(model, {"scenarios": [select_scenario("select", [job])]}, name=run_name,
                         test_module=TEST_MODULE, waves=waves or None, waves_from=waves_from, waves_to=waves_to,
                         echo=False)
    o = ((res.observations or {}).get("select") or {}).get("jobs") or [{}]
    o = o[0]
    mism = (res.observations or {}).get("select", {}).get("mismatches") or []
    if not res.passed and not mism:
        mism = [res.exit_error or "simulator failed without observations"] + \
               [ln for f in res.failures() for ln in f.message.splitlines()[:5]]
    out = {"indices": o.get("indices"), "summary": o.get("summary"), "passed": res.passed, "mismatches": mism[:20],
           "cycles": o.get("done_rel_cycle"), "expected_cycles": job["done_cycle"], "phases": job["phases"],
           "wall_s": {"golden_expectation": round(t_gold, 2), "build": round(model.build_seconds, 1),
                      "simulation": round(res.seconds, 1), "simulator_cpu": round(res.cpu_seconds, 1)},
           "run_dir": str(res.run_dir), "waves_file": str(res.waves_file) if res.waves_file else None}
    if o.get("wall_last_sel") and o.get("wall_last_feat") and o.get("sel_rel_cycles"):
        out["cycles_per_s"] = round(o["sel_rel_cycles"][-1] / max(o["wall_last_sel"] - o["wall_last_feat"], 1e-9))
    if res.cpu_seconds > 0 and out["cycles"]:   # per CPU second of the simulator: less dependent on the load
        out["cycles_per_cpu_s"] = round(out["cycles"] / res.cpu_seconds)
    return out


def select_rtl(X, y, ratio, method: str = "adapsne", cfg=None, classes=None, progress=None, waves: bool = False,
               waves_from=None, waves_to=None, dataflow: str = "candidate") -> dict:
    """Python API: every class (or those in `classes`) of ``(X, y)`` through the RTL (`run_class`)
    and through ``select(arithmetic="fixed")``.

    Parameters
    ----------
    X, y : arrays
        Features (N, D) and labels (N,), already valid for `cfg` (`golden_model.dataio`).
    ratio : float
        Fraction of each class to keep, in (0, 1]; k = `golden_model.select.class_budget`.
    method : {"adapsne", "nms"}
    cfg : AccelConfig, optional
        Default: the golden CLI's default preset.
    classes : list, optional
        Labels to run (default: all, sorted).
    progress : callable, optional
        ``progress(text)`` gets a line per step.
    waves, waves_from, waves_to, dataflow
        As `run_class`.

    Returns
    -------
    dict
        ``{label: {"n", "k", "rtl_indices", "golden_indices" (global, ascending), "identical",
        "summary_equal", "details" (select's, with the RTL's global indices), "rtl" (`run_class`)}}``.

    Raises
    ------
    ValueError
        As `select` (bad ratio, a class that does not fit `cfg`, ...).
    """
    from golden_model.config import get_preset
    cfg = get_preset(gcli.DEFAULT_PRESET) if cfg is None else cfg
    ratio = validate_ratio(ratio)
    X, y = np.asarray(X), np.asarray(y)
    labels = [label_to_python(v) for v in np.unique(y)]
    todo = labels if classes is None else list(classes)
    say = progress or (lambda text: None)
    out = {}
    for ci, lab in enumerate(todo):
        idx = np.flatnonzero(y == lab)
        n, k = int(idx.size), class_budget(idx.size, ratio)
        head = f"[{ci + 1}/{len(todo)}] class {lab!r} (N={n}, k={k})"
        say(f"{head}: RTL (Verilator, MODE {METHOD_MODE[method]}: expected beats from golden_select, then the "
            f"simulation) and, beside it, the golden model (select, arithmetic=fixed) ...")

        def golden():
            t0 = time.perf_counter()
            got = select(X[idx], np.zeros(n, dtype=np.int64), ratio, method, cfg, arithmetic="fixed",
                         return_details=True)
            return got, time.perf_counter() - t0
        # the simulator is a subprocess: select() runs in a thread while the parent waits for it
        with ThreadPoolExecutor(max_workers=1) as pool:
            fut = pool.submit(golden)
            r = run_class(X[idx], cfg, method, k, name=f"class{lab}", waves=waves, waves_from=waves_from,
                          waves_to=waves_to, progress=lambda text, h=head: say(f"{h}: {text}"), dataflow=dataflow)
            (loc, det), t_gold = fut.result()
        det = det[0]
        r["wall_s"]["golden_select"] = round(t_gold, 2)
        rtl_glob = sorted(int(idx[i]) for i in r["indices"]) if r["indices"] is not None else None
        gold_glob = [int(v) for v in idx[loc]]
        s = r["summary"] or {}
        summary_equal = (s.get("perp") == round(det["perplexity"] * (1 << cfg.perp_frac))
                         and s.get("h") == det["occupancy_entropy_q"]
                         and s.get("evals") == len(det["perplexity_history"]))
        same = rtl_glob == gold_glob
        cps = f", {r['cycles_per_s']:,} cycles/s" if "cycles_per_s" in r else ""
        cps += f" ({r['cycles_per_cpu_s']:,} per simulator CPU second)" if "cycles_per_cpu_s" in r else ""
        cyc = f"{r['cycles']:,}" if r["cycles"] is not None else "?"
        say(f"{head}: indices {'identical' if same else 'DIFFER'}; {cyc} cycles in "
            f"{r['wall_s']['simulation']:.1f} s{cps}" + ("" if r["passed"] else "; TESTBENCH FAILED"))
        det = dict(det, indices=np.array(gold_glob if rtl_glob is None else rtl_glob, dtype=np.int64))
        out[lab] = {"n": n, "k": k, "rtl_indices": rtl_glob, "golden_indices": gold_glob, "identical": same,
                    "summary_equal": bool(summary_equal), "details": det, "rtl": r}
    return out


# --------------------------------------------------------------------------------------------
# command line: golden_model.cli's `select` parser plus the RTL options
# --------------------------------------------------------------------------------------------
def _parser() -> argparse.ArgumentParser:
    top = gcli.build_parser()
    sub = next(a for a in top._actions if isinstance(a, argparse._SubParsersAction)).choices["select"]
    sub.prog = PROG
    sub.description = __doc__.split("\n\n")[0]
    for a in sub._actions:
        if a.dest == "input":           # optional with --digits
            a.nargs, a.default = "?", None
    sub.set_defaults(arithmetic="fixed")
    sub.add_argument("--digits", action="store_true", help=f"use {DIGITS_SOURCE} instead of INPUT")
    sub.add_argument("--class", dest="label", default=None, metavar="C", help="run only class C (its label)")
    sub.add_argument("--waves", action="store_true", help="FST waveforms per class (use a window on long runs)")
    sub.add_argument("--waves-from", default=None, metavar="T", help="waveform window start (cycles or e.g. 5us)")
    sub.add_argument("--waves-to", default=None, metavar="T", help="waveform window end")
    sub.add_argument("--json-report", default=None, metavar="R.json", help="also write the per-class RTL report")
    sub.add_argument("--dataflow", choices=DATAFLOWS, default=DATAFLOWS[0],
                     help="the search's dataflow (DATAFLOW register): point = point-parallel bisection "
                          "(--method nms only; a core generated with point_parallel)")
    return sub


def _pick_class(text: str, sizes: dict):
    for lab in sizes:
        if str(lab) == text:
            return lab
    shown = ", ".join(repr(v) for v in list(sizes)[:20])
    raise DataError(f"--class {text!r} is not a class of the input; classes: {shown}")


def _cmd(args, out, err) -> int:
    t0 = time.perf_counter()
    if args.arithmetic != "fixed":
        raise gcli.UsageError(f"{PROG}: --arithmetic must be fixed (the RTL's arithmetic), got {args.arithmetic!r}")
    if args.digits == (args.input is not None):
        raise gcli.UsageError(f"{PROG}: give either INPUT or --digits")
    if (args.waves_from or args.waves_to) and not args.waves:
        raise gcli.UsageError(f"{PROG}: --waves-from/--waves-to need --waves")
    # 1.-3. exactly the golden CLI's checks, in its order
    ratio = validate_ratio(args.ratio)
    perplexity = gcli.parse_float_arg("--perplexity", args.perplexity)
    if perplexity is not None and not (np.isfinite(perplexity) and perplexity > 1.0):
        raise DataError(f"--perplexity={args.perplexity} is out of range: allowed 1 < perplexity < "
                        f"smallest class size")
    cfg, overrides = gcli.resolve_config(args.preset, args.sets, perplexity, args.method)
    if args.dataflow == "point" and (METHOD_POLICY[args.method] != "bisection" or not cfg.point_parallel):
        raise gcli.UsageError(f"{PROG}: --dataflow point (point-parallel search) needs the bisection policy "
                              f"(--method nms; {args.method} searches with {METHOD_POLICY[args.method]}) and a "
                              f"core generated with point_parallel (preset {cfg.name}: {cfg.point_parallel})")
    targets = outfiles.prepare([("--out", args.out), ("--indices", args.indices), ("--json-report", args.json_report)],
                               inputs=[args.input, args.labels], stdout_ok=("--out",))
    try:
        to_stdout = any(t.is_stdout for t in targets)
        report = err if to_stdout else out
        if args.digits:
            from .data import digits_train
            Xd, yd = digits_train()
            args.input = DIGITS_SOURCE
            data = validate_dataset(Xd, yd, cfg, ratio=ratio)
        else:
            try:                # sizes first; small inputs are then checked in full (a better message)
                precheck(args.input, cfg, labels=args.labels, label_column=args.label_column, header=args.header)
            except DataError:
                if os.path.getsize(args.input) > gcli.FULL_CHECK_BYTES:
                    raise
            ds = load_dataset(args.input, labels=args.labels, label_column=args.label_column, header=args.header)
            data = validate_dataset(ds.X, ds.y, cfg, ratio=ratio, feature_names=ds.feature_names)
        for name, p in gcli.user_perplexities(args.method, overrides, perplexity):
            validate_perplexity(p, data.sizes, name=name)
        classes = list(data.sizes) if args.label is None else [_pick_class(args.label, data.sizes)]
        # 4. the runs
        say = (lambda text: None) if args.quiet else (lambda text: (err.write(text + "\n"), err.flush()))
        rc = rtl_config(cfg)
        mdir = runner.model_dir(rc, waves=args.waves and "fst", tie_reset=not args.waves)
        say(f"Verilator model of {rc.name} with phases: {mdir} (built on first use, cached)")
        runs = select_rtl(data.X, data.y, ratio, args.method, cfg, classes, say, args.waves, args.waves_from,
                          args.waves_to, dataflow=args.dataflow)
        # 5. outputs (the golden CLI's document, the RTL's indices), all or nothing
        rtl_all = np.array(sorted(i for r in runs.values() for i in (r["rtl_indices"] or [])), dtype=np.int64)
        shown = ValidatedData(X=data.X, y=data.y, sizes={lab: data.sizes[lab] for lab in classes}, ratio=ratio)
        doc = gcli.build_summary(args, cfg, overrides, shown, rtl_all, {lab: r["details"] for lab, r in runs.items()},
                                 args.preset)
        for c in doc["classes"]:
            r = runs[c["label"]]
            c["rtl"] = _rtl_entry(r)
        ok = all(r["identical"] and r["summary_equal"] and r["rtl"]["passed"] for r in runs.values())
        doc["rtl"] = {"identical": all(r["identical"] for r in runs.values()), "passed": ok,
                      "classes_run": [label_to_python(c) for c in classes], "simulator": "verilator",
                      "mode": METHOD_MODE[args.method], "dataflow": args.dataflow}
        payloads = {"--out": gcli.dumps_json(doc).encode(), "--indices": gcli.npy_bytes(rtl_all),
                    "--json-report": (json.dumps({str(k): _rtl_entry(r) for k, r in runs.items()}, indent=1)
                                      + "\n").encode()}
        outfiles.commit(targets, [payloads[t.option] for t in targets])
    finally:
        outfiles.discard(targets)
    if to_stdout:
        out.write(payloads["--out"].decode())
        out.flush()
    written = [t.given for t in targets if not t.is_stdout]
    if not args.quiet:
        report.write(gcli.format_summary(doc, time.perf_counter() - t0, written))
    yn = {True: "yes", False: "NO"}
    for lab, r in runs.items():
        report.write(f"class {lab!r} (N={r['n']}, k={r['k']}), MODE {METHOD_MODE[args.method]}:\n"
                     f"  RTL indices:    {' '.join(map(str, r['rtl_indices'] or []))}\n"
                     f"  golden indices: {' '.join(map(str, r['golden_indices']))}\n"
                     f"  identical: {yn[r['identical']]}; summary beat (perplexity, entropy, evaluations) equal: "
                     f"{yn[r['summary_equal']]}; testbench (every sel beat's value and cycle, end of run): "
                     f"{'passed' if r['rtl']['passed'] else 'FAILED'}\n")
        for m in r["rtl"]["mismatches"] if not r["rtl"]["passed"] else []:
            report.write(f"  ! {m}\n")
        if r["rtl"].get("waves_file"):
            report.write(f"  waves: {r['rtl']['waves_file']}\n")
    report.write(f"RTL vs golden model: {'identical' if doc['rtl']['identical'] else 'NOT identical'} "
                 f"({len(runs)} class{'es' if len(runs) != 1 else ''})\n")
    return 0 if ok else 1


def _rtl_entry(r: dict) -> dict:
    x = r["rtl"]
    return {"identical": r["identical"], "summary_equal": r["summary_equal"], "testbench_passed": x["passed"],
            "rtl_indices": r["rtl_indices"], "golden_indices": r["golden_indices"], "summary_beat": x["summary"],
            "cycles": x["cycles"], "expected_cycles": x["expected_cycles"], "phase_cycles": x["phases"],
            "cycles_per_s": x.get("cycles_per_s"),
            "cycles_per_cpu_s": x.get("cycles_per_cpu_s"), "wall_s": x["wall_s"], "mismatches": x["mismatches"],
            "waves_file": x["waves_file"]}


def main(argv=None, stdout=None, stderr=None) -> int:
    """Run the command line `argv` (default ``sys.argv[1:]``); return the exit status."""
    stdout = sys.stdout if stdout is None else stdout
    stderr = sys.stderr if stderr is None else stderr
    parser = _parser()
    try:
        try:
            args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
        except SystemExit as e:  # --help
            return int(e.code or 0)
        return _cmd(args, stdout, stderr)
    except (gcli.UsageError, DataError, ConfigError, outfiles.OutputError) as e:
        stderr.write(f"error: {e}\n")
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
