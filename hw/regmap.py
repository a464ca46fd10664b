"""The control interface of the AdapSNE core as data: registers, commands, policies, error codes.

This is the single definition the RTL register file and START checks (`hw.top`), the testbench
constants (`tb.regs`, `tb.standin`), the JSON description and the C header (`hw.generate`,
`hw.cheader`) and the tables in docs/hardware.md (``python -m hw.regmap --markdown``) are built
from.  Change a register or a code here and everything else follows.

* `REGISTER_TABLE` -- one `Register` per address: name, width, reset value, access, meaning,
  scaling and how a written value is saturated (widths, resets and saturation values depend on
  the configuration and are functions of ``cfg``).
* `COMMAND_TABLE` -- values written to CMD.
* `POLICY_TABLE` -- values of POLICY.
* `MODE_TABLE` -- values of MODE.
* `ERROR_TABLE` -- status ``error_code`` values.  Codes 1-4 and 7-9 carry the START check as a function
  ``check(regs, cfg)`` that works on Python integers (host side, `start_error`) and on Amaranth
  values (the RTL builds its checks from the very same functions), evaluated in table order.

The interface has no read path: every register is write-only (``wo``); the core reports through
the ``status`` port.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import Callable, Optional

from golden_model import fixed as fx
from golden_model.config import AccelConfig, bit_length

__all__ = ["Register", "ErrorCode", "REGISTER_TABLE", "COMMAND_TABLE", "POLICY_TABLE", "ERROR_TABLE",
           "REGISTERS", "COMMANDS", "POLICY_CODES", "ERROR_CODES", "ERR", "MODE_TABLE", "MODES", "ADDR_BITS", "DATA_BITS",
           "ABORT_CYCLES", "register", "start_error", "describe", "markdown", "main"]

#: width of ``cfg_addr`` and ``cfg_wdata``.
ADDR_BITS = 4
DATA_BITS = 32
#: ABORT bound: after the edge that performs the ABORT write the core is idle (busy=0, error code
#: ABORTED, no valid result/trace beat, feat.ready=0).  Checked by the cocotb abort scenario.
ABORT_CYCLES = 3   # the write edge registers the strobe, the next copies it to every block, the third resets


@dataclass(frozen=True)
class Register:
    """One configuration register (all write-only; START latches them for the run)."""
    addr: int
    name: str
    access: str                              # "wo" (write-only) or "wo-strobe" (CMD)
    meaning: str
    scaling: str                             # how the number is read
    width_doc: str
    reset_doc: str
    saturation_doc: str
    width: Callable[[AccelConfig], int]
    reset: Callable[[AccelConfig], int]
    #: largest stored value (a larger write stores this; None = plain truncation to the width)
    sat: Callable[[AccelConfig], Optional[int]]


def _perp_sat(cfg: AccelConfig) -> int:
    return cfg.n_max << cfg.perp_frac


def _perp_reset(cfg: AccelConfig) -> int:
    return min(fx.perplexity_to_reg(cfg.perplexity, cfg), _perp_sat(cfg))


REGISTER_TABLE = (
    Register(0, "N", "wo", "number of points of the class", "points",
             "bitlen(n_max + 1)", "0", "values > n_max store n_max + 1 (refused by START, code N_RANGE)",
             lambda c: bit_length(c.n_max + 1), lambda c: 0, lambda c: c.n_max + 1),
    Register(1, "D", "wo", "features per point", "features",
             "bitlen(d_max + 1)", "0", "values > d_max store d_max + 1 (refused by START, code D_RANGE)",
             lambda c: bit_length(c.d_max + 1), lambda c: 0, lambda c: c.d_max + 1),
    Register(2, "PERP", "wo", "target perplexity", "perplexity x 2^perp_frac (UQ.perp_frac)",
             "perp_bits", "perplexity_to_reg(cfg.perplexity)",
             "values > n_max x 2^perp_frac store n_max x 2^perp_frac (refused by START, code PERP_RANGE)",
             lambda c: c.perp_bits, _perp_reset, _perp_sat),
    Register(3, "POLICY", "wo", "search policy (see policy codes)", "code",
             "2", "0 (bisection)", "values > 3 store 3 (refused by START, code POLICY)",
             lambda c: 2, lambda c: 0, lambda c: 3),
    Register(4, "SEED", "wo", "PRNG seed of the FWA policy", "32-bit integer",
             "32", "cfg.seed", "none (32 bits)",
             lambda c: 32, lambda c: c.seed, lambda c: None),
    Register(5, "DATAFLOW", "wo", "search dataflow: 0 candidate-parallel (all policies), 1 point-parallel "
             "(bisection; each lane searches its own point)", "code",
             "1", "0 (candidate-parallel)", "values > 1 store 1",
             lambda c: 1, lambda c: 0, lambda c: 1),
    Register(6, "MODE", "wo", "run mode (see mode codes): 0 search only (result beats); 1 search, joint "
             "affinities, t-SNE (result beats, then the embedding on the emb stream); 2 NMS selection and "
             "3 AdapSNE selection (index beats and one summary beat on the sel stream); 1-3 need a core "
             "generated with phases", "code",
             "2", "0 (search only)", "none (2 bits, every value is a mode)",
             lambda c: 2, lambda c: 0, lambda c: None),
    Register(7, "CMD", "wo-strobe", "command (see commands); not stored", "code",
             "32", "-", "other values are ignored",
             lambda c: DATA_BITS, lambda c: 0, lambda c: None),
    Register(8, "BUDGET", "wo", "MODE 2, 3: k, the number of points selected from the class", "points",
             "bitlen(n_max + 1)", "0", "values > n_max store n_max + 1 (refused by START, code BUDGET)",
             lambda c: bit_length(c.n_max + 1), lambda c: 0, lambda c: c.n_max + 1),
    Register(9, "DEBUG", "wo", "debug outputs: bit 0 = P dump (MODE = 1: after the affinity phase every S_ij, "
             "row-major, as TRACE_P beats on emb; 0 = none, the run's cycles unchanged)", "bit field",
             "1", "0 (no debug output)", "values > 1 store 1",
             lambda c: 1, lambda c: 0, lambda c: 1),
)
# addresses 10-15 are ignored

#: values of MODE: (value, name, meaning); the selection modes are `hw.select`
MODE_TABLE = (
    (0, "SEARCH", "sigma search only: one result beat per point on res"),
    (1, "EMBED", "search, joint affinities, t-SNE: result beats on res, the embedding on emb"),
    (2, "NMS", "NMS selection: search at PERP, affinities, t-SNE, occupancy entropy, grid sampling of "
               "BUDGET points: index beats and a summary beat on sel (nothing on res / emb)"),
    (3, "ADAPSNE", "AdapSNE selection: as NMS for every candidate perplexity of cfg.perplexity_candidates "
                   "(each clamped to max(1, (N-1)/2), duplicates skipped, PERP ignored) and, on a core generated "
                   "with perplexity_search = fwa, the outer FWA's sparks; the embedding of the largest entropy "
                   "kept; then grid sampling of it"),
)

#: values written to CMD: (value, name, meaning)
COMMAND_TABLE = (
    (1, "START", "idle: check the registers (error codes 1-4, 7-9) and start a run; busy: error BUSY"),
    (2, "CLEAR", "clear error, error_code and done (never stops a run)"),
    (3, "ABORT", f"busy: stop the run, idle within {ABORT_CYCLES} cycles (error ABORTED); idle: ignored"),
)

#: values of POLICY: (value, name)
POLICY_TABLE = ((0, "bisection"), (1, "fwa"), (2, "ksection"))


@dataclass(frozen=True)
class ErrorCode:
    code: int
    name: str
    meaning: str
    #: START check, True = refuse; works on ints and on Amaranth values (``regs`` maps names)
    check: Optional[Callable] = None


ERROR_TABLE = (
    ErrorCode(0, "NONE", "no error"),
    ErrorCode(1, "N_RANGE", "N out of range: N must satisfy 2 <= N <= n_max",
              lambda r, c: (r["N"] < 2) | (r["N"] > c.n_max)),
    ErrorCode(2, "D_RANGE", "D out of range: D must satisfy 1 <= D <= d_max",
              lambda r, c: (r["D"] == 0) | (r["D"] > c.d_max)),
    ErrorCode(3, "PERP_RANGE", "perplexity out of range: PERP must satisfy 1 < PERP <= (N-1)/2 "
              "(register: 2^perp_frac < PERP <= fixed.perp_reg_max(N)); MODE 3 ignores PERP but needs "
              "(N-1)/2 > 1, i.e. N >= 4 (its candidates are clamped to (N-1)/2)",
              lambda r, c: (((r["PERP"] <= (1 << c.perp_frac)) | (r["PERP"] > fx.perp_reg_max(r["N"], c)))
                            & (r["MODE"] != 3))
              | ((r["MODE"] == 3) & (fx.perp_reg_max(r["N"], c) <= (1 << c.perp_frac)))),
    ErrorCode(4, "POLICY", "unknown policy: POLICY must be 0, 1 or 2",
              lambda r, c: r["POLICY"] > max(v for v, _ in POLICY_TABLE)),
    ErrorCode(5, "BUSY", "START while busy (ignored, the run continues)"),
    ErrorCode(6, "ABORTED", "the run was stopped by ABORT (no further beats; START may follow)"),
    ErrorCode(7, "DATAFLOW", "point-parallel dataflow (DATAFLOW = 1) needs POLICY = 0 (bisection) and a core "
              "generated with point_parallel",
              lambda r, c: (r["DATAFLOW"] == 1) & ((r["POLICY"] != 0) | (not c.point_parallel))),
    ErrorCode(8, "MODE", "MODE 1-3 need a core generated with phases; MODE 3 with the outer FWA "
              "(perplexity_search = fwa) needs max(t_frac, u_frac) >= h_frac (its exp2 of log2 perplexity)",
              # (a search-only core keeps the DATAFLOW term of the old rule, always true there, so
              # that its Verilog and every report measured on it stay byte for byte the same)
              lambda r, c: ((r["MODE"] != 0) & (((r["DATAFLOW"] != 0) | True) if not c.phases else False))
              | ((r["MODE"] == 3) & (c.perplexity_search == "fwa") & (max(c.t_frac, c.u_frac) < c.h_frac))),
    ErrorCode(9, "BUDGET", "MODE 2, 3: BUDGET out of range: BUDGET must satisfy 1 <= BUDGET <= N",
              lambda r, c: (r["MODE"] >= 2) & ((r["BUDGET"] == 0) | (r["BUDGET"] > r["N"]))),
)

# --------------------------------------------------------------------------- derived lookups
REGISTERS = {r.name: r.addr for r in REGISTER_TABLE}
COMMANDS = {name: v for v, name, _ in COMMAND_TABLE}
POLICY_CODES = {name: v for v, name in POLICY_TABLE}
ERROR_CODES = {e.code: e.meaning for e in ERROR_TABLE}
ERR = {e.name: e.code for e in ERROR_TABLE}
MODES = {name: v for v, name, _ in MODE_TABLE}


def register(name: str) -> Register:
    return next(r for r in REGISTER_TABLE if r.name == name)


def start_error(regs: dict, cfg: AccelConfig) -> int:
    """Error code a START with register values ``regs`` (after saturation) gets; 0 = accepted.
    Registers missing from ``regs`` hold their reset values."""
    regs = {**{r.name: r.reset(cfg) for r in REGISTER_TABLE if r.access == "wo"}, **regs}
    for e in ERROR_TABLE:
        if e.check is not None and bool(e.check(regs, cfg)):
            return e.code
    return 0


def describe(cfg: AccelConfig) -> dict:
    """JSON-friendly register map, commands, policies and error codes for ``cfg``."""
    return {
        "addr_bits": ADDR_BITS, "data_bits": DATA_BITS, "abort_cycles": ABORT_CYCLES,
        "registers": {r.name: {"addr": r.addr, "width": r.width(cfg), "reset": r.reset(cfg), "access": r.access,
                               "meaning": r.meaning, "scaling": r.scaling, "saturate_to": r.sat(cfg),
                               "saturation": r.saturation_doc} for r in REGISTER_TABLE},
        "commands": {name: {"value": v, "meaning": m} for v, name, m in COMMAND_TABLE},
        "policies": dict(POLICY_CODES),
        "modes": dict(MODES),
        "error_codes": {str(e.code): {"name": e.name, "meaning": e.meaning} for e in ERROR_TABLE},
    }


# --------------------------------------------------------------------------- docs
MD_BEGIN = "<!-- BEGIN generated by `python -m hw.regmap --markdown`; do not edit -->"
MD_END = "<!-- END generated -->"


def markdown() -> str:
    """The register, command, policy and error tables of docs/hardware.md (between MD_BEGIN/MD_END)."""
    L = ["| addr | register | access | width | reset | scaling | meaning | a larger write |",
         "|---|---|---|---|---|---|---|---|"]
    for r in REGISTER_TABLE:
        L.append(f"| {r.addr} | `{r.name}` | {r.access} | {r.width_doc} | {r.reset_doc} | {r.scaling} | "
                 f"{r.meaning} | {r.saturation_doc} |")
    L += ["", "| CMD value | command | effect |", "|---|---|---|"]
    L += [f"| {v} | `{n}` | {m} |" for v, n, m in COMMAND_TABLE]
    L += ["", "| POLICY value | policy |", "|---|---|"]
    L += [f"| {v} | `{n}` |" for v, n in POLICY_TABLE]
    L += ["", "| MODE value | mode | run |", "|---|---|---|"]
    L += [f"| {v} | `{n}` | {m} |" for v, n, m in MODE_TABLE]
    L += ["", "| error_code | name | meaning |", "|---|---|---|"]
    L += [f"| {e.code} | `{e.name}` | {e.meaning} |" for e in ERROR_TABLE]
    return "\n".join([MD_BEGIN, *L, MD_END]) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m hw.regmap",
                                 description="Print the core's register map / error codes.")
    ap.add_argument("--markdown", action="store_true", help="the Markdown tables of docs/hardware.md")
    args = ap.parse_args(argv)
    if not args.markdown:
        ap.print_help()
        return 2
    sys.stdout.write(markdown())
    return 0


if __name__ == "__main__":
    sys.exit(main())
