"""The synthesised design: the generator's core (`hw.generate.build_core`) and its blocks
(`hw.blocks.synthesis_blocks`), converted to Verilog exactly as `python -m hw.generate` does."""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass

from amaranth.hdl import Value
from amaranth.lib import wiring

from golden_model.config import AccelConfig
from hw import convert as hw_convert

TOP = "adapsne_core"


def build_core(cfg: AccelConfig) -> wiring.Component:
    from hw.generate import build_core as real
    return real(cfg, trace=False)


def synthesis_blocks(cfg: AccelConfig) -> dict:
    """``{name: factory}`` of standalone blocks for the per-block breakdown."""
    from hw.blocks import synthesis_blocks as blocks
    return dict(blocks(cfg))


def block_component(cfg: AccelConfig, block: str, core: bool = False) -> wiring.Component:
    """A fresh instance of block `block` of `cfg` (with `core`, ``"core"`` is the whole core);
    an unknown name is refused with the names this configuration has."""
    blocks = synthesis_blocks(cfg)
    if core and block == "core":
        return build_core(cfg)
    if block not in blocks:
        raise ValueError(f"unknown block {block!r}; the blocks of this configuration: "
                         + ", ".join((["core"] if core else []) + sorted(blocks)))
    return blocks[block]()


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
    return hw_convert.to_verilog(component, name=name, emit_src=False)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
