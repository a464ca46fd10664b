"""Stored synthesis baselines and the comparison of a fresh run against them.

``synth/baselines/<preset>.json`` holds the headline metrics of one report (`baseline_metrics`),
the tool versions and the design's Verilog hash.  `compare` checks a fresh report against it with
relative tolerances: +-10 % for cell, flop, LUT, carry and transistor counts, +-5 % for fmax, and
exact DSP / block-RAM counts (a change of one block is a real change).  Fewer resources than the
baseline is reported just like more: either means the design or the tools changed, and the
baseline should be renewed deliberately (``python -m synth.report --preset P --update-baseline``).

``python -m synth.compare REPORT.json [--baseline FILE]`` compares an existing report.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

BASELINE_DIR = Path(__file__).parent / "baselines"
BASELINE_SCHEMA = "adapsne-synth-baseline/1"

TOLERANCES = {"count": 0.10, "fmax": 0.05, "exact": 0.0}


def metric_kind(key: str) -> str:
    leaf = key.rsplit(".", 1)[-1]
    if leaf.startswith("fmax"):
        return "fmax"
    if leaf in ("dsp", "bram", "spram", "fits", "sram_bits"):
        return "exact"
    return "count"


def baseline_metrics(rep: dict) -> dict:
    """Flat ``{metric: value}`` of the headline numbers of a report."""
    m = {}
    if "asic" in rep:
        g, c = rep["asic"]["generic"], rep["asic"]["cmos"]
        m["asic.generic_cells"] = g["num_cells"]
        m["asic.flops"] = g["flops"]
        m["asic.logic_transistors"] = c["logic_transistors"]
        m["asic.sram_bits"] = c["sram_bits"]
        m["asic.transistors"] = c["transistors"]
    for fam, f in rep.get("fpga", {}).items():
        for var, v in f["variants"].items():
            for k in ("luts", "ffs", "carry", "dsp", "bram"):
                m[f"fpga.{fam}.{var}.{k}"] = v[k]
    for key, p in rep.get("pnr", {}).items():
        m[f"pnr.{key}.fits"] = int(bool(p.get("fits")))
        for k in ("luts", "ffs", "carry", "dsp", "bram"):
            if k in p.get("synth_resources", {}):
                m[f"pnr.{key}.synth.{k}"] = p["synth_resources"][k]
        if p.get("fits"):
            from .report import fmax_of
            m[f"pnr.{key}.fmax_mhz"] = fmax_of(p)
            for bel, u in p.get("utilization", {}).items():
                if bel in ("ICESTORM_LC", "TRELLIS_COMB", "TRELLIS_FF"):
                    m[f"pnr.{key}.{bel.lower()}"] = u["used"]
    return m


@dataclass
class Deviation:
    metric: str
    baseline: float
    fresh: float | None
    tolerance: float
    ok: bool

    @property
    def rel(self) -> float | None:
        if self.fresh is None:
            return None
        if self.baseline == 0:
            return 0.0 if self.fresh == 0 else float("inf")
        return (self.fresh - self.baseline) / abs(self.baseline)

    def __str__(self) -> str:
        if self.fresh is None:
            return f"{self.metric}: missing from the fresh run (baseline {self.baseline})"
        return (f"{self.metric}: baseline {self.baseline}, fresh {self.fresh} "
                f"({self.rel:+.1%}, tolerance +-{self.tolerance:.0%}) {'ok' if self.ok else 'FAIL'}")


def compare(baseline: dict, fresh: dict, prefixes: tuple | None = None, tolerances: dict | None = None) -> list:
    """Compare metric dicts (`baseline_metrics` form, or baseline files with a "metrics" key).
    Only metrics starting with one of `prefixes` (all when None) are checked.  Returns a list of
    `Deviation`; `failures(result)` are the ones out of tolerance."""
    tol = {**TOLERANCES, **(tolerances or {})}
    b = baseline.get("metrics", baseline)
    f = fresh.get("metrics", fresh)
    out = []
    for k, bv in sorted(b.items()):
        if prefixes is not None and not k.startswith(tuple(prefixes)):
            continue
        t = tol[metric_kind(k)]
        fv = f.get(k)
        if fv is None:
            out.append(Deviation(k, bv, None, t, False))
            continue
        ok = abs(fv - bv) <= t * abs(bv) + 1e-9
        out.append(Deviation(k, bv, fv, t, ok))
    return out


def failures(devs: list) -> list:
    return [d for d in devs if not d.ok]


def baseline_path(preset: str) -> Path:
    return BASELINE_DIR / f"{preset}.json"


def make_baseline(rep: dict) -> dict:
    return {
        "schema": BASELINE_SCHEMA,
        "preset": rep["preset"],
        "design": {**{k: rep["design"][k] for k in ("source", "standin", "generator", "verilog_sha256")},
                   "pnr_flow": rep["design"].get("pnr_flow")},
        "tools": rep["tools"],
        "seed": next(iter(rep.get("pnr", {}).values()), {}).get("seed"),
        "tolerances": TOLERANCES,
        "metrics": baseline_metrics(rep),
        "runtime_s": rep.get("runtime_s", {}),
    }


def write_baseline(rep: dict, path: Path | None = None) -> Path:
    path = Path(path or baseline_path(rep["preset"]))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(make_baseline(rep), indent=1, sort_keys=True) + "\n")
    return path


def load_baseline(preset: str) -> dict:
    return json.loads(baseline_path(preset).read_text())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m synth.compare", description="Compare a synthesis report "
                                 "with its stored baseline.")
    ap.add_argument("report", help="report JSON from python -m synth.report")
    ap.add_argument("--baseline", default=None, help="baseline JSON (default synth/baselines/<preset>.json)")
    ap.add_argument("--partial", action="store_true",
                    help="the report ran only some steps: compare the metrics it has, list the others as not measured")
    args = ap.parse_args(argv)
    rep = json.loads(Path(args.report).read_text())
    base = json.loads(Path(args.baseline).read_text()) if args.baseline else load_baseline(rep["preset"])
    devs = compare(base, baseline_metrics(rep))
    if args.partial:
        missing = [d for d in devs if d.fresh is None]
        devs = [d for d in devs if d.fresh is not None]
        print(f"{len(missing)} baseline metrics not measured by this report (--partial)")
        if not devs:
            print("error: the report has none of the baseline's metrics", file=sys.stderr)
            return 1
    for d in devs:
        print(d)
    if base.get("tools", {}).get("packages") != rep["tools"].get("packages"):
        print("note: tool versions differ from the baseline's")
    bad = failures(devs)
    print(f"{len(devs) - len(bad)} within tolerance, {len(bad)} out of tolerance")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
