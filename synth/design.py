"""Where the synthesised design comes from: the real generator (`hw`) or, until it exists, the
flow's own stand-in (`synth.standin`).

`design_source()` says which one is used; reports record it, and a report made from the stand-in
is marked as such everywhere (JSON ``design.standin``, a warning line in the Markdown).
"""

from __future__ import annotations

import hashlib
import importlib
import os
import re
from dataclasses import dataclass

from amaranth.back import verilog
from amaranth.hdl import Value
from amaranth.lib import wiring

from golden_model.config import AccelConfig

TOP = "adapsne_core"


def _real_hw_available() -> bool:
    if os.environ.get("ADAPSNE_SYNTH_STANDIN") == "1":
        return False
    try:
        gen = importlib.import_module("hw.generate")
    except ImportError:
        return False
    return hasattr(gen, "build_core")


def design_source() -> str:
    """``"hw"`` when hw.generate.build_core exists (and ADAPSNE_SYNTH_STANDIN is not 1), else
    ``"standin"``."""
    return "hw" if _real_hw_available() else "standin"


def build_core(cfg: AccelConfig) -> wiring.Component:
    if design_source() == "hw":
        from hw.generate import build_core as real
        return real(cfg, trace=False)
    from .standin import build_standin
    return build_standin(cfg)


def synthesis_blocks(cfg: AccelConfig) -> dict:
    """``{name: factory}`` of standalone blocks for the per-block breakdown."""
    if design_source() == "hw":
        try:
            blocks = importlib.import_module("hw.blocks")
        except ImportError:
            return {}
        return dict(blocks.synthesis_blocks(cfg))
    from .standin import standin_blocks
    return standin_blocks(cfg)


def module_name(block: str) -> str:
    return "blk_" + re.sub(r"[^A-Za-z0-9_]", "_", block)


@dataclass
class PortSummary:
    in_bits: int
    out_bits: int
    ports: list  # [(name, direction, width)]

    def to_dict(self) -> dict:
        return {"in_bits": self.in_bits, "out_bits": self.out_bits,
                "ports": [{"name": n, "dir": d, "width": w} for n, d, w in self.ports]}


def port_summary(component: wiring.Component) -> PortSummary:
    ports = []
    for path, member, value in component.signature.flatten(component):
        v = Value.cast(value)
        ports.append(("__".join(map(str, path)), "i" if member.flow == wiring.In else "o", len(v)))
    return PortSummary(sum(w for _, d, w in ports if d == "i"), sum(w for _, d, w in ports if d == "o"), ports)


def to_verilog(component: wiring.Component, name: str) -> str:
    os.environ["AMARANTH_USE_YOSYS"] = "builtin"
    return verilog.convert(component, name=name, emit_src=False)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
