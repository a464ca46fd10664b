"""Generate the Verilog of the AdapSNE core: ``python -m hw.generate [--preset NAME] [--set k=v] ...``.

Writes ``DIR/<preset>[-<hash>][-trace]/adapsne_core.v`` and ``DIR/<preset>/adapsne_core.json`` (``cfg.to_json()``
contents plus the port list and the layout field offsets).  The same parameters always give
byte-identical files (no source locations, no timestamps, sorted JSON).

Python API: `build_core(cfg, trace=False)`, `generate_verilog(cfg, trace=False)`,
`core_description(cfg, trace=False)`.
"""

from __future__ import annotations

import argparse
import hashlib
import dataclasses
import json
import os
import sys
from pathlib import Path

os.environ["AMARANTH_USE_YOSYS"] = "builtin"

from hw.toolcheck import ToolchainError, check_toolchain  # noqa: E402
from golden_model.config import PRESETS, AccelConfig, ConfigError, get_preset, parse_override  # noqa: E402,F401

__all__ = ["build_core", "generate_verilog", "core_description", "parse_override", "main", "TOP_NAME"]

TOP_NAME = "adapsne_core"


def build_core(cfg: AccelConfig, trace: bool = False):
    """The top-level `hw.top.AdapSNECore` component for ``cfg``."""
    from .top import AdapSNECore
    top = AdapSNECore(cfg, trace=trace)
    top._MustUse__silence = True    # callers often only read the signature
    return top


def generate_verilog(cfg: AccelConfig, trace: bool = False, top=None) -> str:
    """Verilog text of the core (top module ``adapsne_core``), deterministic."""
    from amaranth.back import verilog
    top = build_core(cfg, trace=trace) if top is None else top
    return verilog.convert(top, name=TOP_NAME, emit_src=False)


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
    return out


def core_description(cfg: AccelConfig, trace: bool = False, top=None) -> dict:
    """cfg.to_dict() plus ``hw`` (ports, layouts, widths, registers, timing constants)."""
    from golden_model import schedule as sch
    from golden_model import timing
    from .layouts import COMMANDS, ERROR_CODES, POLICY_CODES, REGISTERS, CoreLayouts
    if top is None:
        top = build_core(cfg, trace=trace)   # only the signature is read
    d = cfg.to_dict()
    d["hw"] = {
        "top": TOP_NAME,
        "trace": trace,
        "ports": _ports(top),
        "layouts": CoreLayouts(cfg).describe(),
        "registers": REGISTERS,
        "commands": COMMANDS,
        "policies": POLICY_CODES,
        "error_codes": {str(k): v for k, v in ERROR_CODES.items()},
        "timing": {
            "point_pre": sch.POINT_PRE, "setup": sch.SETUP, "drain": sch.DRAIN,
            "rowend": sch.ROWEND, "decide": sch.DECIDE, "out": sch.OUT,
            "pass_cycles": "SETUP + N + DRAIN + ROWEND + A + DECIDE (A = 1 bisection, K otherwise)",
            "point_cycles": "ceil(N/K)*D + POINT_PRE + passes * pass_cycles + OUT",
            "start_target": timing.START_TARGET,
            "lane_ops": {name: {"latency": op.latency, "stages": [list(st) for st in op.stages]}
                         for name, op in timing.LANE_OPS.items()},
        },
    }
    return d


# --------------------------------------------------------------------------- CLI


def _help_epilog() -> str:
    lines = ["presets:"]
    for name, c in PRESETS.items():
        lines.append(f"  {name:8s} lanes={c.lanes} n_max={c.n_max} d_max={c.d_max} "
                     f"feature_bits={c.feature_bits} w_frac={c.w_frac} exp_table_bits={c.exp_table_bits}")
    lines.append("")
    lines.append("parameters (--set key=value; defaults of AccelConfig, presets override some):")
    base = AccelConfig()
    for f in dataclasses.fields(AccelConfig):
        lines.append(f"  {f.name} = {getattr(base, f.name)!r}")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m hw.generate",
        description="Generate the AdapSNE core's Verilog and its JSON description.",
        epilog=_help_epilog(), formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="tiny", help=f"configuration preset ({', '.join(PRESETS)}); default tiny")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                    help="override an AccelConfig field (repeatable), typed by the field")
    ap.add_argument("--trace", action="store_true", help="add the trace stream port")
    ap.add_argument("--out", default="build", help="output directory (default build/)")
    args = ap.parse_args(argv)
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
    outdir = Path(args.out) / name
    outdir.mkdir(parents=True, exist_ok=True)
    top = build_core(cfg, trace=args.trace)
    desc = core_description(cfg, trace=args.trace, top=top)
    text = generate_verilog(cfg, trace=args.trace, top=top)
    (outdir / f"{TOP_NAME}.v").write_text(text)
    (outdir / f"{TOP_NAME}.json").write_text(json.dumps(desc, indent=2, sort_keys=True) + "\n")
    print(f"wrote {outdir / (TOP_NAME + '.v')} and {outdir / (TOP_NAME + '.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
