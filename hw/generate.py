"""Generate the Verilog of the AdapSNE core: ``python -m hw.generate [--preset NAME] [--set k=v] ...``.

Writes ``OUT/<folder>/<top>.v``, ``<top>.json`` and ``<top>.h`` where ``<top>`` is
``<prefix>adapsne_core`` and ``<folder>`` is ``--name`` or ``<preset>[-<hash>][-trace]`` (the hash
of the resolved parameters when ``--set`` changed the preset).  The JSON holds ``cfg.to_json()``
contents plus the ports (``clk``/``rst`` included), the layout field offsets and the full register
map; the header the same interface for C (`hw.cheader`).  The same parameters always give
byte-identical files (no source locations, no timestamps, sorted JSON).

Python API: `build_core(cfg, trace=False)`, `generate_verilog(cfg, trace=False, prefix="")`,
`core_description(cfg, trace=False, prefix="")`.
"""

from __future__ import annotations

import argparse
import hashlib
import dataclasses
import json
import os
import re
import sys
from pathlib import Path

os.environ["AMARANTH_USE_YOSYS"] = "builtin"

from hw.toolcheck import ToolchainError, check_toolchain  # noqa: E402
from golden_model.config import (DEFAULT_PRESET, PRESETS, AccelConfig, ConfigError, get_preset,  # noqa: E402,F401
                                 parse_override)

__all__ = ["build_core", "generate_verilog", "core_description", "parse_override", "main", "TOP_NAME", "top_name",
           "CLOCK_PORTS"]

TOP_NAME = "adapsne_core"


def build_core(cfg: AccelConfig, trace: bool = False):
    """The top-level `hw.top.AdapSNECore` component for ``cfg``."""
    from .top import AdapSNECore
    top = AdapSNECore(cfg, trace=trace)
    top._MustUse__silence = True    # callers often only read the signature
    return top


def top_name(prefix: str = "") -> str:
    """Top module name; Amaranth names every submodule ``<top>.<path>``, so the prefix reaches
    all module names of the file."""
    return prefix + TOP_NAME


def generate_verilog(cfg: AccelConfig, trace: bool = False, top=None, prefix: str = "") -> str:
    """Verilog text of the core (top module ``<prefix>adapsne_core``), deterministic."""
    from .convert import to_verilog
    top = build_core(cfg, trace=trace) if top is None else top
    return to_verilog(top, name=top_name(prefix), emit_src=False)


#: the implicit clock and reset of Amaranth's ``sync`` domain, as emitted by verilog.convert
#: (ClockDomain("sync"): rising edge, synchronous active-high reset; checked by test_generate).
CLOCK_PORTS = {
    "clk": {"flow": "In", "width": 1, "signed": False, "role": "clock", "edge": "rising"},
    "rst": {"flow": "In", "width": 1, "signed": False, "role": "reset", "polarity": "active high",
            "synchronous": True},
}


def _ports(top) -> dict:
    out = {}

    def walk(prefix, members):
        for name, member in members.items():
            path = prefix + (name,)
            if member.is_signature:
                walk(path, member.signature.members)
            else:
                from amaranth.hdl import Shape
                from amaranth.lib import data
                shape = member.shape
                entry = {"flow": member.flow.name}
                if isinstance(shape, data.Layout):
                    entry["width"] = shape.size
                    entry["fields"] = {str(n): [f.offset, Shape.cast(f.shape).width, Shape.cast(f.shape).signed]
                                       for n, f in shape}
                else:
                    s = Shape.cast(shape)
                    entry["width"] = s.width
                    entry["signed"] = s.signed
                out["__".join(path)] = entry
    walk((), top.signature.members)
    out.update(CLOCK_PORTS)
    return out


def core_description(cfg: AccelConfig, trace: bool = False, top=None, prefix: str = "") -> dict:
    """cfg.to_dict() plus ``hw`` (ports, layouts, widths, register map, timing constants)."""
    from golden_model import schedule as sch
    from golden_model import timing
    from . import regmap
    from .layouts import CoreLayouts
    if top is None:
        top = build_core(cfg, trace=trace)   # only the signature is read
    d = cfg.to_dict()
    d["hw"] = {
        "top": top_name(prefix),
        "trace": trace,
        "ports": _ports(top),
        "layouts": CoreLayouts(cfg).describe(),
        **regmap.describe(cfg),
        "timing": {
            "point_pre": timing.point_pre(cfg.lanes), "setup": timing.SETUP, "drain": timing.DRAIN,
            "rowend": timing.ROWEND, "scan_pipe": timing.SCAN_PIPE, "decide": timing.DECIDE, "out": timing.OUT,
            "pass_cycles": "SETUP + N + DRAIN + A + ROWEND + SCAN_PIPE (A = 1 bisection, K otherwise)",
            "point_cycles": "point 0: ceil(N/K)*D + POINT_PRE + passes * pass_cycles + DECIDE + OUT; later points "
                            "overlap their distance rows with the previous search (golden_model.schedule)",
            "grant_lead": timing.GRANT_LEAD,
            "start_target": timing.START_TARGET,
            "lane_ops": {name: {"latency": op.latency, "stages": [list(st) for st in op.stages]}
                         for name, op in timing.LANE_OPS.items()},
        },
    }
    return d


# --------------------------------------------------------------------------- CLI


def _help_epilog() -> str:
    lines = ["output: OUT/<preset>/ (default OUT = build), OUT/<preset>-<hash>/ when --set changes the",
             "preset (hash of the resolved parameters), '-trace' appended with --trace; --name NAME",
             "replaces the folder name.  Files: <top>.v, <top>.json, <top>.h with <top> = <prefix>adapsne_core.",
             "", "presets:"]
    for name, c in PRESETS.items():
        lines.append(f"  {name:8s} lanes={c.lanes} n_max={c.n_max} d_max={c.d_max} "
                     f"feature_bits={c.feature_bits} w_frac={c.w_frac} exp_table_bits={c.exp_table_bits}")
    lines.append("")
    lines.append("parameters (--set key=value; defaults of AccelConfig, presets override some):")
    base = AccelConfig()
    for f in dataclasses.fields(AccelConfig):
        lines.append(f"  {f.name} = {getattr(base, f.name)!r}")
    return "\n".join(lines)


_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_FOLDER = re.compile(r"[A-Za-z0-9_.+-]+\Z")


def _check_args(args) -> str | None:
    """A one-line error for bad --prefix / --name / --out, or None (checked before elaboration)."""
    if args.prefix and not _IDENT.match(args.prefix):
        return (f"--prefix {args.prefix!r} is not a Verilog/C identifier prefix: letters, digits, '_', "
                f"not starting with a digit")
    if args.name is not None and (not _FOLDER.match(args.name) or args.name in (".", "..")):
        return f"--name {args.name!r} must be one folder name of letters, digits, '_', '.', '+', '-'"
    return None


def _make_outdir(path: Path) -> str | None:
    """Create the output folder; a one-line error if that is impossible."""
    for p in (path, *path.parents):
        if p.exists() and not p.is_dir():
            return f"--out: {p} exists and is not a directory"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        return f"--out: cannot create {path}: {e.strerror or e}"
    if not os.access(path, os.W_OK):
        return f"--out: {path} is not writable"
    return None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m hw.generate",
        description="Generate the AdapSNE core's Verilog, its JSON description and its C header.",
        epilog=_help_epilog(), formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default=DEFAULT_PRESET,
                    help=f"configuration preset ({', '.join(PRESETS)}); default {DEFAULT_PRESET}")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                    help="override an AccelConfig field (repeatable), typed by the field")
    ap.add_argument("--trace", action="store_true", help="add the trace stream port")
    ap.add_argument("--out", default="build", metavar="OUT",
                    help="parent directory of the output folder (default build/)")
    ap.add_argument("--name", default=None, metavar="FOLDER",
                    help="output folder name inside OUT (default <preset>[-<hash>][-trace])")
    ap.add_argument("--prefix", default="", metavar="PREFIX",
                    help="prefix of every Verilog module name and of the C macros, so that two "
                         "configurations can live in one design (default none)")
    args = ap.parse_args(argv)
    msg = _check_args(args)
    if msg:
        print(f"error: {msg}", file=sys.stderr)
        return 2
    try:
        check_toolchain(("amaranth",))
    except ToolchainError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        cfg = get_preset(args.preset)
        ov = dict(parse_override(s) for s in args.overrides)
        if ov:
            cfg = cfg.with_overrides(**ov)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except TypeError as e:  # dataclass construction with a wrongly typed value
        print(f"error: {e}", file=sys.stderr)
        return 2
    # A configuration changed by --set gets its own directory (preset name + hash of the resolved
    # parameters) so it never overwrites the preset's files; the trace variant likewise.
    name = args.preset
    if cfg != get_preset(args.preset):
        name += "-" + hashlib.sha256(cfg.to_json().encode()).hexdigest()[:8]
    if args.trace:
        name += "-trace"
    outdir = Path(args.out) / (args.name or name)
    msg = _make_outdir(outdir)
    if msg:
        print(f"error: {msg}", file=sys.stderr)
        return 2
    from .cheader import c_header
    top_mod = top_name(args.prefix)
    top = build_core(cfg, trace=args.trace)
    desc = core_description(cfg, trace=args.trace, top=top, prefix=args.prefix)
    text = generate_verilog(cfg, trace=args.trace, top=top, prefix=args.prefix)
    files = {f"{top_mod}.v": text, f"{top_mod}.json": json.dumps(desc, indent=2, sort_keys=True) + "\n",
             f"{top_mod}.h": c_header(cfg, top_mod, trace=args.trace)}
    try:
        for fname, content in files.items():
            (outdir / fname).write_text(content)
    except OSError as e:
        print(f"error: cannot write {outdir / fname}: {e.strerror or e}", file=sys.stderr)
        return 2
    print(f"wrote {', '.join(str(outdir / f) for f in files)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
