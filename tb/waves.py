"""Waveform options of the cocotb + Verilator runs: format, time window, scope and depth.

One table (`OPTIONS`) lists every option with its `tb.runner` parameter, pytest flag and
environment variable; tests/conftest.py registers the flags from it and docs/verification.md
documents it (tests/test_waves.py checks the docs name every flag and variable).

* Format (build time): FST by default (compressed, ~20-50x smaller than VCD), VCD selectable.
  The model is verilated with `--trace` (cocotb's runner adds it for waves=True) plus
  `--trace-fst` for FST; cocotb's main writes `dump.fst` / `dump.vcd` in the run directory.
* Window, scope, depth (run time, no rebuild): cocotb's Verilator main is compiled through
  tb/waves_main.cpp, which swaps its trace class for a subclass reading the plusargs built by
  `plusargs()`.  Verilator 5.048 ignores Verilog `$dumpoff`/`$dumpon`, hence the C++ route.
* Generated names: Amaranth/Yosys name intermediate wires `$1`, `$10`, ..., the Yosys init
  trigger `$auto$verilog_backend...`, and de-duplicated copies `lmin$132` (the parent-side wire
  of a submodule port, whose value is traced in the submodule).  A Verilator control file
  (`CONTROL_FILE`) switches tracing off for every name containing `$`; the Verilog itself is
  compiled unchanged (byte-identical to `hw.generate`'s output).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

FORMATS = ("fst", "vcd")
DEFAULT_FORMAT = "fst"
DUMP_FILES = {"fst": "dump.fst", "vcd": "dump.vcd"}   # names cocotb's verilator.cpp writes
BUILD_ARGS = {"fst": ["--trace-fst"], "vcd": []}       # on top of cocotb's own --trace
MAX_DEPTH = 1000
TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("", "0", "false", "no", "off")

# Verilator control file: no tracing of generated names (see the module docstring).
CONTROL_FILE = '`verilator_config\ntracing_off -scope "*$*"\n'

MAIN_CPP = Path(__file__).resolve().parent / "waves_main.cpp"
COCOTB_MAIN_REL = Path("lib") / "verilator" / "verilator.cpp"   # under cocotb_tools.config.share_dir


@dataclass(frozen=True)
class Option:
    param: str      # keyword of tb.runner.build/run
    flag: str       # pytest option
    env: str        # environment variable
    metavar: str
    help: str


OPTIONS = (
    Option("waves", "--waves", "ADAPSNE_WAVES", "",
           "record waveforms in the cocotb runs (variable: 1/0, or a format name fst/vcd)"),
    Option("waves_format", "--waves-format", "ADAPSNE_WAVES_FORMAT", "fst|vcd",
           f"waveform file format (default {DEFAULT_FORMAT}); a separate model per format"),
    Option("waves_from", "--waves-from", "ADAPSNE_WAVES_FROM", "T",
           "start of the dump window: clock cycles since time 0 (e.g. 500) or a time (e.g. 5000ns, 5us)"),
    Option("waves_to", "--waves-to", "ADAPSNE_WAVES_TO", "T",
           "end of the dump window (inclusive), same units as --waves-from"),
    Option("waves_scope", "--waves-scope", "ADAPSNE_WAVES_SCOPE", "PATH",
           "dump only this instance and below, dotted from the top module (e.g. adapsne_core.ctrl)"),
    Option("waves_depth", "--waves-depth", "ADAPSNE_WAVES_DEPTH", "N",
           f"levels to dump below the scope: 1 = its own signals only, 0 = all (default), at most {MAX_DEPTH}"),
)
BY_PARAM = {o.param: o for o in OPTIONS}


class WavesError(ValueError):
    """A waveform option has a bad value; the message names the option and the allowed values."""


def _source(param: str, explicit) -> tuple:
    """(value, name to quote in errors): the explicit parameter, else the environment variable."""
    opt = BY_PARAM[param]
    if explicit is not None:
        return explicit, f"{param}="
    return os.environ.get(opt.env), f"{opt.env} ({opt.flag})="


def resolve_format(waves=None, waves_format=None) -> str | None:
    """The waveform format to build for ('fst'/'vcd'), or None for no waveforms.

    `waves`: True/False, a format name, or None (then $ADAPSNE_WAVES).  `waves_format`: a format
    name or None (then $ADAPSNE_WAVES_FORMAT, else the format named by `waves`, else FST)."""
    value, where = _source("waves", waves)
    named = None
    if isinstance(value, str):
        word = value.strip().lower()
        if word in FORMATS:
            named = word
        elif word in TRUE_WORDS:
            value = True
        elif word in FALSE_WORDS:
            value = False
        else:
            raise WavesError(f"{where}{value!r}: expected 1/0 (true/false, yes/no, on/off) or a format "
                             f"name ({'/'.join(FORMATS)})")
    if not (named or value):
        return None
    fmt, where = _source("waves_format", waves_format)
    if fmt is None or (isinstance(fmt, str) and not fmt.strip()):
        return named or DEFAULT_FORMAT
    word = str(fmt).strip().lower()
    if word not in FORMATS:
        raise WavesError(f"{where}{fmt!r}: the waveform format must be one of {', '.join(FORMATS)}")
    return word


_TIME_RE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(cycles?|cyc|ps|ns|us|ms)?\s*$", re.I)
_NS_PER = {"ps": 1e-3, "ns": 1.0, "us": 1e3, "ms": 1e6}


def parse_time(text, period_ns: float, where: str = "time") -> float:
    """A window bound in ns: a bare number (or with 'cycles') counts clock cycles from time 0,
    a number with ps/ns/us/ms is a simulation time."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        text = str(text)
    m = _TIME_RE.match(str(text)) if isinstance(text, str) else None
    if not m:
        raise WavesError(f"{where}{text!r}: expected a non-negative number of clock cycles (e.g. 500) or a "
                         "time with unit ps/ns/us/ms (e.g. 5000ns, 5us)")
    value, unit = float(m.group(1)), (m.group(2) or "cycles").lower()
    return value * _NS_PER[unit] if unit in _NS_PER else value * period_ns


_SCOPE_RE = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*$")


@dataclass(frozen=True)
class Window:
    """Run-time restriction of a dump (None: no restriction)."""
    from_ns: float | None = None
    to_ns: float | None = None
    scope: str | None = None
    depth: int | None = None

    def plusargs(self) -> list:
        """Plusargs read by tb/waves_main.cpp."""
        out = []
        if self.from_ns is not None:
            out.append(f"+adapsne_waves_from_ns={self.from_ns:.6f}")
        if self.to_ns is not None:
            out.append(f"+adapsne_waves_to_ns={self.to_ns:.6f}")
        if self.scope is not None:
            out.append(f"+adapsne_waves_scope={self.scope}")
            out.append(f"+adapsne_waves_depth={self.depth or 0}")
        return out


def resolve_window(toplevel: str | None, scopes, period_ns: float, waves_from=None, waves_to=None,
                   waves_scope=None, waves_depth=None) -> Window:
    """Check and combine the window options (explicit parameters, else environment variables).

    `scopes`: the instance paths of the model (dotted, starting with `toplevel`); a scope that is
    not one of them is refused, as it would silently give an empty dump.  `scopes` None (no model
    yet): the scope's syntax only."""
    f, wf = _source("waves_from", waves_from)
    t, wt = _source("waves_to", waves_to)
    s, ws = _source("waves_scope", waves_scope)
    d, wd = _source("waves_depth", waves_depth)
    blank = lambda v: v is None or (isinstance(v, str) and not v.strip())  # noqa: E731
    from_ns = None if blank(f) else parse_time(f, period_ns, wf)
    to_ns = None if blank(t) else parse_time(t, period_ns, wt)
    if from_ns is not None and to_ns is not None and to_ns < from_ns:
        raise WavesError(f"empty dump window: {wt}{t!r} ({to_ns:g} ns) is before {wf}{f!r} ({from_ns:g} ns)")
    depth = None
    if not blank(d):
        try:
            depth = int(str(d).strip())
        except ValueError:
            depth = -1
        if not 0 <= depth <= MAX_DEPTH or isinstance(d, bool):
            raise WavesError(f"{wd}{d!r}: the depth must be an integer from 0 (all levels) to {MAX_DEPTH}")
    scope = None
    if not blank(s):
        scope = str(s).strip()
        if scopes is None:  # no model yet: syntax only
            if not _SCOPE_RE.match(scope):
                raise WavesError(f"{ws}{s!r}: expected a dotted instance path such as {toplevel or 'adapsne_core'}.ctrl")
        elif scope not in scopes:
            shown = ", ".join(sorted(scopes)[:12]) + (", ..." if len(scopes) > 12 else "")
            bad = "" if _SCOPE_RE.match(scope) else " (a dotted instance path)"
            raise WavesError(f"{ws}{s!r}{bad}: no such instance; the scopes of this model are: {shown}")
    # Default scope: the top module, which leaves out Verilator's `$rootio` copy of its ports.
    return Window(from_ns, to_ns, scope or toplevel, depth)


def check_environment(period_ns: float) -> str | None:
    """Check the ADAPSNE_WAVES* variables (all but the existence of the scope, which needs a
    model); returns the format, or None when waves are off.  Raises WavesError."""
    fmt = resolve_format()
    if fmt is not None:
        resolve_window(None, None, period_ns)
    return fmt


def instance_paths(verilog: str, top: str) -> list:
    """Dotted instance paths ('top', 'top.ctrl', ...) of a flat Verilog netlist as Yosys writes it
    (one instantiation `<module> <instance> (` per line)."""
    bodies, cur = {}, None
    for line in verilog.splitlines():
        m = re.match(r"\s*module\s+\\?(\S+?)\s*[(;]", line)
        if m:
            cur = m.group(1)
            bodies[cur] = []
        elif cur is not None:
            if re.match(r"\s*endmodule\b", line):
                cur = None
            else:
                bodies[cur].append(line)
    children = {}
    for mod, lines in bodies.items():
        kids = []
        for line in lines:
            m = re.match(r"\s*\\?(\S+)\s+\\?(\S+)\s*\($", line.rstrip())
            if m and m.group(1) in bodies:
                kids.append((m.group(1), m.group(2)))
        children[mod] = kids
    out, stack = [], [(top, top)]
    while stack:
        mod, path = stack.pop()
        out.append(path)
        stack.extend((kid, f"{path}.{inst}") for kid, inst in reversed(children.get(mod, [])))
    return out


def main_source(cocotb_main: Path) -> str:
    """Text of the model's C++ main: cocotb's, wrapped by tb/waves_main.cpp."""
    return (f'// generated by tb/waves.py: cocotb\'s Verilator main with the dump window of tb/waves_main.cpp\n'
            f'#define ADAPSNE_COCOTB_MAIN "{cocotb_main}"\n#include "{MAIN_CPP}"\n')


def dump_file(run_dir: Path, fmt: str) -> Path:
    return Path(run_dir) / DUMP_FILES[fmt]
