"""README summary table from the synthesis reports: ``python -m synth.readme_table``.

Reads ``reports/synth/<preset>.json`` for the presets that have a report (and ``speed.json`` /
``sweep.json`` when present), prints the Markdown and writes ``reports/synth/summary.md``.
``--readme README.md`` also replaces the README's section between the ``<!-- synth-table -->`` and
``<!-- /synth-table -->`` markers with it (a test checks the README is up to date).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from golden_model.config import PRESETS

from . import flow, freshness
from .report import fmax_of
from .sweep import lane_coverage


def _n(x) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:.1f}"
    return f"{x:,}"


def _res(v: dict | None) -> str:
    if not v:
        return "-"
    return f"{_n(v['luts'])} / {_n(v['ffs'])} / {v['dsp']} / {v['bram']}"


def _pnr(rep: dict, key: str) -> str:
    p = rep.get("pnr", {}).get(key)
    if p is None:
        return "-"
    if not p.get("fits"):
        return "does not fit"
    util = p.get("utilization", {})
    lc = util.get("ICESTORM_LC") or util.get("TRELLIS_COMB")
    pct = f", {100 * lc['used'] / lc['available']:.0f} % {'LCs' if 'ICESTORM_LC' in util else 'LUTs'}" if lc else ""
    flag = "" if p.get("variant") == "dsp" else " (no DSP)"
    med = p.get("fmax_median_mhz")
    seeds = f" (median of seeds {'/'.join(p['fmax_by_seed'])}: {med:.1f})" if med is not None else ""
    return f"{fmax_of(p):.1f} MHz{seeds}{pct}{flag}"


def _nextpnr_version(tools: dict) -> str:
    m = re.search(r"nextpnr-([0-9][0-9.]*)", tools.get("nextpnr-ecp5", ""))
    return m.group(1) if m else tools.get("nextpnr-ecp5", "?")


def load_reports(d: Path) -> dict:
    out = {}
    for name in PRESETS:
        f = d / f"{name}.json"
        if f.exists():
            out[name] = json.loads(f.read_text())
    return out


def summary(d: Path, markers: bool = True) -> str:
    """README/summary Markdown.  ``markers=False`` skips computing the current RTL hashes (seconds per
    preset) and writes placeholder freshness lines (the default test compares modulo those lines)."""
    reps = load_reports(d)
    cur = freshness.current_sha if markers else (lambda cfg: "(not computed)")
    L = ["### Synthesis results", ""]
    if not reps:
        return "\n".join(L + ["No synthesis report found: run `python -m synth.report --preset tiny`.", ""])
    if any(r["design"]["standin"] for r in reps.values()):
        L += ["> Some reports were made from the synthesis flow's stand-in design, not the AdapSNE core.", ""]
    L += ["| preset | K | n_max x d_max | generic cells | transistors (est.) | NAND2 eq. (est.) | "
          "iCE40 LUT / FF / DSP / BRAM | iCE40 UP5K fmax | ECP5 LUT / FF / DSP / BRAM | ECP5-25F fmax | ECP5-85F fmax |",
          "|---|---:|---|---:|---:|---:|---|---|---|---|---|"]
    for name, r in reps.items():
        c = r["config"]
        a = r.get("asic", {})
        fp = r.get("fpga", {})
        ice = fp.get("ice40", {}).get("variants", {}).get("dsp")
        ecp = fp.get("ecp5", {}).get("variants", {}).get("dsp")
        L.append(f"| {name} | {c['lanes']} | {c['n_max']} x {c['d_max']} | "
                 f"{_n(a.get('generic', {}).get('num_cells'))} | {_n(a.get('cmos', {}).get('transistors'))} | "
                 f"{_n(a.get('cmos', {}).get('nand2_equivalent'))} | {_res(ice)} | {_pnr(r, 'ice40-up5k')} | "
                 f"{_res(ecp)} | {_pnr(r, 'ecp5-25f')} | {_pnr(r, 'ecp5-85f')} |")
    any_rep = next(iter(reps.values()))
    t = any_rep["tools"]
    L += ["", "Transistor and NAND2-equivalent counts are technology-independent *estimates* (Yosys "
          "`abc -g cmos2` + `stat -tech cmos`, SRAM bit cells added, NAND2 eq. = transistors / 4). "
          "FPGA resources: the core alone with DSP inference (`synth_ice40 -device u -dsp`, `synth_ecp5`); "
          "fmax: core inside an I/O-registering serial harness, placed and routed on the iCEBreaker (UP5K SG48) "
          "and ULX3S (LFE5U-25F / -85F, CABGA381, speed 6) board definitions of amaranth-boards, nextpnr seed 1. "
          f"Tools: {t['yosys'].split(' (')[0]}, nextpnr {_nextpnr_version(t)} (YoWASP). "
          "Details: `reports/synth/<preset>.md`, method: `docs/synthesis.md`.", ""]
    for name, r in reps.items():
        L.append(freshness.marker(name, r["design"].get("verilog_sha256"), cur(PRESETS[name]),
                                  freshness.flow_matches(r)))
        L.append("")
    sp = d / "speed.json"
    if sp.exists():
        s = json.loads(sp.read_text())
        full = s["full"]
        L += ["### Accelerator vs software (digits, distances + sigma search of all training points)", "",
              f"Accelerator ({s['preset']}, K={s['config']['lanes']}) at {s['fmax_mhz']:.1f} MHz; software on one "
              f"thread of this machine, median of {s['runs']} runs.", "",
              "| policy | accelerator | float64 reference (hw tol.) | sklearn affinity | speed-up vs reference | "
              "vs sklearn affinity |", "|---|---:|---:|---:|---:|---:|"]
        sk = full["software"]["sklearn_affinity"]["median_s"]
        for pol, e in full["policies"].items():
            L.append(f"| {pol} | {e['accelerator']['time_s'] * 1e3:.2f} ms | "
                     f"{e['reference_hw_tol']['median_s'] * 1e3:.1f} ms | {sk * 1e3:.1f} ms | "
                     f"{e['speedup_vs_reference_hw_tol']:.1f}x | {e['speedup_vs_sklearn_affinity']:.1f}x |")
        L += ["", "Method and scaling with N: `reports/synth/speed.md`.", "",
              freshness.marker("speed", (s.get("rtl_sha256") or {}).get(s["preset"]),
                               cur(PRESETS[s["preset"]])), ""]
    sw = d / "sweep.json"
    if sw.exists():
        s = json.loads(sw.read_text())
        L += ["### Largest K that fits (lane sweep)", "",
              "| device | largest K routed | fmax at that K |", "|---|---:|---:|"]
        for dev, v in s.get("largest_fitting", {}).items():
            k = v.get("lanes")
            at_edge = k is not None and k == v.get("largest_tried")
            L.append(f"| {dev} | {k if k is not None else 'none'}{' (largest tried)' if at_edge else ''} | "
                     f"{_n(v.get('fmax_mhz')) + ' MHz' if k is not None else '-'} |")
        swept, gaps = lane_coverage(s)
        L += ["", f"Lane counts swept: {', '.join(map(str, swept))}"
              + (f" (K = {', '.join(map(str, gaps))} not in this sweep)" if gaps else "") + "."
              + "".join(_separate_point(d, s["base"], K) for K in gaps),
              "", f"Base preset `{s['base']}`; plot `reports/synth/sweep.png`, details `reports/synth/sweep.md`.", "",
              freshness.group_marker("sweep points", freshness.entries(d.parent.parent, "sweep_points"))
              if markers else "_sweep points: (current RTL not computed)_", ""]
    return "\n".join(L)


def _separate_point(d: Path, base: str, lanes: int) -> str:
    """A lane count missing from the sweep but committed as a point report of its own (e.g. routed
    alone with another placer): its routed targets, so the README does not hide it."""
    path = d / "sweep_points" / f"{base}-K{lanes}.json"
    if not path.exists():
        return ""
    rep = json.loads(path.read_text())
    routed = [f"{t} {_pnr(rep, t)}"
              + (f", {flow.choice_of(v, 'placer')} placer" if flow.choice_of(v, "placer") != flow.DEFAULT_PLACER else "")
              for t, v in (rep.get("pnr") or {}).items() if v.get("fits")]
    return (f" K = {lanes} has its own point report, `reports/synth/sweep_points/{path.stem}.md`: "
            + ("; ".join(routed) if routed else "not routed") + ".")


BEGIN, END = "<!-- synth-table -->", "<!-- /synth-table -->"
README_NOTE = "(generated by `python -m synth.readme_table --readme README.md` from `reports/synth/*.json`)"


def readme_section(readme: str) -> str:
    """The generated part of the README, between the markers (ValueError if they are missing)."""
    if readme.count(BEGIN) != 1 or readme.count(END) != 1 or readme.index(BEGIN) > readme.index(END):
        raise ValueError(f"the README must contain {BEGIN} ... {END} once, in that order")
    return readme.split(BEGIN, 1)[1].split(END, 1)[0]


def with_section(readme: str, table: str) -> str:
    old = readme_section(readme)
    return readme.replace(BEGIN + old + END, f"{BEGIN}\n{README_NOTE}\n\n{table.rstrip()}\n\n{END}", 1)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m synth.readme_table", description=__doc__.split("\n\n")[0])
    ap.add_argument("--dir", default="reports/synth", help="directory with the JSON reports")
    ap.add_argument("--out", default=None, help="output file (default DIR/summary.md; '-' for stdout only)")
    ap.add_argument("--readme", default=None, help="also rewrite the generated section of this README")
    args = ap.parse_args(argv)
    d = Path(args.dir)
    text = summary(d)
    print(text)
    if args.out != "-":
        out = Path(args.out) if args.out else d / "summary.md"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
        print(f"wrote {out}", file=sys.stderr)
    if args.readme:
        rp = Path(args.readme)
        try:
            rp.write_text(with_section(rp.read_text(), text))
        except ValueError as e:
            print(f"error: {rp}: {e}", file=sys.stderr)
            return 2
        print(f"updated {rp}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
