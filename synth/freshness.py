"""Which committed reports were measured on the current RTL: ``python -m synth.freshness``.

Every committed report names the SHA-256 of the Verilog it was made from (the generator's
output for the report's configuration).  While RTL work is in progress the reports go stale; the
default test suite does not fail on that (RTL work lands in steps), but the README table and the
summaries carry a generated, visible marker ("measured on RTL <hash>, current RTL <hash>"), and
``python -m pytest -m reports`` fails until every report is regenerated.

The one table of committed reports is `REPORT_FILES`; each entry says where the report keeps its
measured hash and which configuration the current hash is computed for.  A synthesis report with
place-and-route results is also stale when it was made with other flow options than
`synth.flow.PNR_FLOW` (they change fmax and resources as much as an RTL edit does).
"""

from __future__ import annotations

import argparse
import functools
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from golden_model.config import PRESETS, AccelConfig

ROOT = Path(__file__).resolve().parent.parent
SHORT = 12


@functools.lru_cache(maxsize=None)
def current_sha(cfg: AccelConfig) -> str:
    """SHA-256 of the Verilog `python -m hw.generate` emits today for ``cfg`` (cached per config)."""
    from . import design
    return design.sha256(design.to_verilog(design.build_core(cfg), design.TOP))


@dataclass(frozen=True)
class Entry:
    path: str             # relative to the repository root
    measured: str | None  # hash recorded in the report (None: the report records none)
    current: str
    flow_ok: bool = True  # made with today's place-and-route options (`flow.PNR_FLOW`)

    @property
    def fresh(self) -> bool:
        return self.measured == self.current and self.flow_ok


def flow_matches(rep: dict) -> bool:
    """True when synthesis report `rep` has no routed result or was routed with `flow.PNR_FLOW`."""
    from .flow import PNR_FLOW
    routed = (any(isinstance(v, dict) and "fmax_mhz" in v for v in (rep.get("pnr") or {}).values())
              or any(k.startswith("pnr.") for k in rep.get("metrics") or {}))    # a baseline
    return not routed or rep["design"].get("pnr_flow") == PNR_FLOW


def _synth_report(path: Path) -> tuple:
    rep = json.loads(path.read_text())
    cfg = PRESETS[rep["preset"]].with_overrides(**rep["overrides"]) if rep.get("overrides") else PRESETS[rep["preset"]]
    return [(rep["design"].get("verilog_sha256"), cfg, rep.get("name", rep["preset"]), flow_matches(rep))]


def _sweep_point(path: Path) -> tuple:
    rep = json.loads(path.read_text())
    sw = json.loads((path.parent.parent / "sweep.json").read_text())
    return [(rep["design"].get("verilog_sha256"), PRESETS[sw["base"]].with_overrides(**rep["overrides"]), "",
             flow_matches(rep))]


def _tagged(path: Path) -> list:
    """Reports that record ``rtl_sha256 = {preset: hash}`` at the top level or under ``meta``."""
    rep = json.loads(path.read_text())
    shas = rep.get("meta", rep).get("rtl_sha256")
    if not isinstance(shas, dict) or not shas:
        return [(None, PRESETS["tiny"], "(no RTL hash recorded)", True)]
    return [(sha, label_config(label), label, True) for label, sha in sorted(shas.items())]


def _board(path: Path) -> list:
    """A board build summary: tagged like `_tagged`, and built with today's flow options."""
    from .board import pnr_flow
    rep = json.loads(path.read_text())
    ok = rep.get("pnr_flow") == pnr_flow(rep["target"])
    return [(sha, cfg, label, ok) for sha, cfg, label, _ in _tagged(path)]


def label_config(label: str) -> AccelConfig:
    """The configuration of a report's hash label: a preset name, optionally with boolean generation
    flags set, ``"digits+phases"`` = ``PRESETS["digits"].with_overrides(phases=True)``."""
    preset, *flags = label.split("+")
    return PRESETS[preset].with_overrides(**{f: True for f in flags}) if flags else PRESETS[preset]


#: (glob relative to the repository root, reader returning [(measured hash, config, label, flow ok)])
REPORT_FILES = (
    ("reports/synth/tiny.json", _synth_report),
    ("reports/synth/small.json", _synth_report),
    ("reports/synth/digits.json", _synth_report),
    ("reports/synth/digits-phases=True.json", _synth_report),
    ("reports/synth/tiny-phases=True.json", _synth_report),
    ("synth/baselines/*.json", _synth_report),
    ("reports/synth/sweep_points/*.json", _sweep_point),
    ("reports/synth/speed.json", _tagged),
    ("reports/synth/board-*.json", _board),
    ("reports/rtl_report.json", _tagged),
    ("reports/phase_report.json", _tagged),
)


def entries(root: Path = ROOT, only: str | None = None) -> list:
    """Every committed report (or those whose glob contains ``only``) with its measured/current hash."""
    out = []
    for pattern, reader in REPORT_FILES:
        if only is not None and only not in pattern:
            continue
        for path in sorted(root.glob(pattern)):
            for measured, cfg, label, flow_ok in reader(path):
                name = str(path.relative_to(root)) + (f" [{label}]" if label and reader in (_tagged, _board) else "")
                out.append(Entry(name, measured, current_sha(cfg), flow_ok))
    return out


def short(sha: str | None) -> str:
    return sha[:SHORT] if sha else "none recorded"


def marker(label: str, measured: str | None, current: str, flow_ok: bool = True) -> str:
    """The visible line under a generated table: which RTL a report was measured on."""
    state = ("up to date" if measured == current and flow_ok else
             "**STALE: regenerate before quoting**" if measured != current else
             "**STALE: made with other P&R flow options; regenerate before quoting**")
    return f"_{label}: measured on RTL `{short(measured)}`, current RTL `{short(current)}` ({state})._"


MARKER_RE = re.compile(r"^_[^\n]*current RTL[^\n]*_$", re.M)


def group_marker(label: str, es: list) -> str:
    """One line for a group of reports (e.g. the sweep points)."""
    fresh = sum(e.fresh for e in es)
    state = "up to date" if fresh == len(es) else "**STALE: regenerate before quoting**"
    return f"_{label}: {fresh} of {len(es)} measured on the current RTL ({state})._"


def strip_markers(text: str) -> str:
    """``text`` with the freshness markers blanked (they change with every RTL edit)."""
    return MARKER_RE.sub("_(freshness marker)_", text)


def to_markdown(es: list) -> str:
    lines = ["| report | measured on RTL | current RTL | state |", "|---|---|---|---|"]
    for e in es:
        lines.append(f"| `{e.path}` | `{short(e.measured)}` | `{short(e.current)}` | "
                     f"{'up to date' if e.fresh else 'STALE' if e.flow_ok else 'STALE (P&R flow)'} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m synth.freshness", description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="exit 1 if any report is stale")
    ap.add_argument("--plan", action="store_true",
                    help="print the commands that regenerate the stale reports, in order (synth.refresh_plan)")
    args = ap.parse_args(argv)
    es = entries()
    stale = [e for e in es if not e.fresh]
    if args.plan:
        from .refresh_plan import plan, to_text
        print(to_text(plan([e.path for e in stale], ROOT)), end="")
    else:
        print(to_markdown(es))
    print(f"{len(stale)} of {len(es)} reports stale", file=sys.stderr)
    return 1 if (args.check and stale) else 0


if __name__ == "__main__":
    sys.exit(main())
