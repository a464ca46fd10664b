"""Build the harnessed core for a real board: ``python -m synth.board --target ecp5-25f --preset tiny``.

Uses the amaranth-boards platform of the target (iCEBreaker for ``ice40-up5k``, ULX3S 25F/85F for
``ecp5-25f``/``ecp5-85f``) and its own build script (``platform.build``), with the pinned YoWASP
tools substituted through Amaranth's tool environment variables (``YOSYS``, ``NEXTPNR_ICE40`` /
``NEXTPNR_ECP5``, ``ICEPACK`` / ``ECPPACK``).  The result is a bitstream in ``--out`` (default
``build/board/<target>-<preset>``) for the same design and pins that `synth.report` places and
routes -- the core inside `synth.harness.SerialHarness`, on the board's oscillator (12 / 25 MHz;
the report's fmax says how much faster a PLL could clock it).  Nothing is programmed.

``--dry-run`` only writes the build tree (``platform.build(..., do_build=False)``).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

os.environ["AMARANTH_USE_YOSYS"] = "builtin"

from golden_model.config import DEFAULT_PRESET, ConfigError, PRESETS  # noqa: E402

from . import design, flow, harness  # noqa: E402
from .report import make_config  # noqa: E402
from .tools import TOOLS  # noqa: E402


def yowasp_env(family: str) -> dict:
    """Environment variables that make Amaranth's build script call the YoWASP tools."""
    py = sys.executable

    def wrap(tool):
        mod, fn, _ = TOOLS[tool]
        return f'{py} -c "import {mod}; {mod}.{fn}()"'
    env = {"YOSYS": wrap("yosys"), "AMARANTH_USE_YOSYS": "builtin"}
    if family == "ice40":
        env.update(NEXTPNR_ICE40=wrap("nextpnr-ice40"), ICEPACK=wrap("icepack"))
    else:
        env.update(NEXTPNR_ECP5=wrap("nextpnr-ecp5"), ECPPACK=wrap("ecppack"))
    return env


class BoardBuildError(RuntimeError):
    pass


def build(target: str, core, out: Path, dry_run: bool = False) -> Path:
    """Build `core` inside `harness.SerialHarness` for `target` in `out` with the board's own
    build script and the YoWASP tools.  Returns the bitstream path (the build script's path with
    `dry_run`).  Raises BoardBuildError if the build gives no bitstream."""
    tg = harness.TARGETS[target]
    plat = tg.make_platform()
    top = harness.SerialHarness(core)
    out = Path(out)
    # Amaranth's tool lookup uses shutil.which on the variable's value, which must name one
    # executable; write small wrapper scripts and point the variables at them.
    out.mkdir(parents=True, exist_ok=True)
    env = {}
    for var, cmd in yowasp_env(tg.family).items():
        if var == "AMARANTH_USE_YOSYS":
            env[var] = cmd
            continue
        # the report's flow: the netlist passes (synth.dsp_regs, synth.bram_regs) first
        if var == "NEXTPNR_ECP5" and (flow.PNR_FLOW["dsp_regs"] or flow.PNR_FLOW["bram_regs"]):
            pass_ = Path(__file__).with_name("dsp_regs.py")     # by path: the build runs in `out`
            cmd = f"{shlex.quote(sys.executable)} {shlex.quote(str(pass_))} --exec {shlex.quote(cmd)} --"
        if var.startswith("NEXTPNR_"):     # the report's placer options
            cmd = " ".join([cmd, *flow.placer_args()])
        w = (out / f"_{var.lower()}.sh").resolve()
        w.write_text(f"#!/bin/sh\nexec {cmd} \"$@\"\n")
        w.chmod(0o755)
        env[var] = str(w)
    # platform.build(do_build=True) insists on the programmer (openFPGALoader / iceprog) being
    # installed even with do_program=False; we never program, so prepare the plan and run it.
    # the report's flow (`flow.PNR_FLOW`): replicas kept, no_rw_check memories without a bypass
    after_read = [*flow.KEEP_REPLICAS, *(flow.honour_no_rw_check() if flow.PNR_FLOW["no_rw_check"] else [])]
    plan = plat.build(top, name="top", build_dir=str(out), do_build=False,
                      script_after_read="\n".join(after_read))
    if dry_run:
        plan.extract(str(out))
        return out / "build_top.sh"
    plan.execute_local(str(out), env={**os.environ, **env})
    bitstream = out / f"top.{'bin' if tg.family == 'ice40' else 'bit'}"
    if not bitstream.exists() or bitstream.stat().st_size == 0:
        raise BoardBuildError(f"the build in {out} finished without {bitstream.name}")
    return bitstream


def build_summary(target: str, bitstream: Path) -> dict:
    """What a user needs to know about a board build: the bitstream, its hash and whether the
    routed design meets the board clock (nextpnr's last 'Max frequency' line in top.tim)."""
    import hashlib
    import re
    tg = harness.TARGETS[target]
    log = (bitstream.parent / "top.tim").read_text(errors="replace")
    runs = re.findall(r"Max frequency for clock '([^']+)': ([0-9.]+) MHz \((PASS|FAIL) at ([0-9.]+) MHz\)", log)
    clock = runs[-1] if runs else None
    return {"target": target, "platform": tg.platform, "bitstream": bitstream.name,
            "bytes": bitstream.stat().st_size, "sha256": hashlib.sha256(bitstream.read_bytes()).hexdigest(),
            "fmax_mhz": float(clock[1]) if clock else None, "board_clock_mhz": float(clock[3]) if clock else None,
            "meets_board_clock": clock[2] == "PASS" if clock else None,
            "pnr_flow": pnr_flow(target)}


def pnr_flow(target: str) -> dict:
    """The flow options a build for `target` runs (`flow.PNR_FLOW`; the netlist passes are ECP5's)."""
    fam = harness.TARGETS[target].family
    return {k: (v and fam == "ecp5") if k in ("dsp_regs", "dsp_input_pairs", "bram_regs") else v
            for k, v in flow.PNR_FLOW.items()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m synth.board", description=__doc__.split("\n\n")[0])
    # the default preset is the project's one default; the default board is one it fits on
    ap.add_argument("--target", default="ecp5-85f", choices=list(harness.TARGETS),
                    help="board target (default ecp5-85f, which the default preset fits)")
    ap.add_argument("--preset", default=DEFAULT_PRESET, help=f"preset ({', '.join(PRESETS)}); default {DEFAULT_PRESET}")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--out", default=None, help="build directory (default build/board/<target>-<name>)")
    ap.add_argument("--dry-run", action="store_true", help="write the build tree only")
    args = ap.parse_args(argv)
    try:
        cfg, _, name = make_config(args.preset, args.overrides)
    except (ConfigError, TypeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    out = Path(args.out or f"build/board/{args.target}-{name}")
    try:
        path = build(args.target, design.build_core(cfg), out, dry_run=args.dry_run)
    except (BoardBuildError, subprocess.CalledProcessError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    if args.dry_run:
        print(f"wrote the build tree to {out}; run {path.name} there")
    else:
        summary = build_summary(args.target, path)
        if not args.overrides:    # the committed board reports name the RTL they were built from
            from .freshness import current_sha
            summary["rtl_sha256"] = {args.preset: current_sha(cfg)}
        (out / "board.json").write_text(json.dumps(summary, indent=1) + "\n")
        print(f"built {path} ({summary['bytes']} bytes) for {summary['platform']}: fmax {summary['fmax_mhz']} MHz, "
              f"board clock {summary['board_clock_mhz']} MHz {'met' if summary['meets_board_clock'] else 'NOT met'}; "
              f"summary in {out / 'board.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
