"""Port layouts as plain JSON, so the cocotb side can decode flat Verilog vectors without Amaranth.

`describe(shape)` turns an Amaranth shape / data layout into JSON:

    {"kind": "int", "width": 8, "signed": false}
    {"kind": "struct", "width": 41, "fields": {"index": {"offset": 0, "shape": {...}}, ...}}
    {"kind": "array", "width": 64, "length": 4, "elem": {...}}

`decode(desc, value)` turns the integer value of the flat vector back into Python ints / dicts /
lists; `encode(desc, obj)` is the inverse (used by self-tests and drivers).  Layouts are read off
the component's signature at build time (`ports_of`), never hard-coded, so the testbench follows
whatever `hw/layouts.py` defines.
"""

from __future__ import annotations

from amaranth.hdl import Shape
from amaranth.lib import data, wiring


def describe(shape) -> dict:
    if isinstance(shape, data.ArrayLayout):
        return {"kind": "array", "width": shape.size, "length": shape.length, "elem": describe(shape.elem_shape)}
    if isinstance(shape, data.Layout):  # struct (or union: every offset 0)
        fields = {str(name): {"offset": f.offset, "shape": describe(f.shape)} for name, f in shape}
        return {"kind": "struct", "width": shape.size, "fields": fields}
    s = Shape.cast(shape)
    return {"kind": "int", "width": s.width, "signed": s.signed}


def decode(desc: dict, value: int):
    kind = desc["kind"]
    value &= (1 << desc["width"]) - 1 if desc["width"] else 0
    if kind == "int":
        if desc["signed"] and desc["width"] and value >> (desc["width"] - 1):
            value -= 1 << desc["width"]
        return value
    if kind == "struct":
        return {name: decode(f["shape"], value >> f["offset"]) for name, f in desc["fields"].items()}
    if kind == "array":
        ew = desc["elem"]["width"]
        return [decode(desc["elem"], value >> (k * ew)) for k in range(desc["length"])]
    raise ValueError(f"unknown layout kind {kind!r}")


def encode(desc: dict, obj) -> int:
    kind = desc["kind"]
    if kind == "int":
        return int(obj) & ((1 << desc["width"]) - 1)
    if kind == "struct":
        v = 0
        for name, f in desc["fields"].items():
            v |= encode(f["shape"], obj.get(name, 0)) << f["offset"]
        return v
    if kind == "array":
        ew = desc["elem"]["width"]
        return sum(encode(desc["elem"], o) << (k * ew) for k, o in enumerate(obj))
    raise ValueError(f"unknown layout kind {kind!r}")


def field_widths(desc: dict) -> dict:
    """{field: (width, signed)} of a struct of ints (for messages and range checks)."""
    return {n: (f["shape"]["width"], f["shape"].get("signed", False)) for n, f in desc["fields"].items()}


def ports_of(component: wiring.Component) -> dict:
    """Verilog port names (Amaranth flattening: `res__payload`) -> layout description."""
    out = {}

    def walk(prefix: tuple, members):
        for name, member in members.items():
            path = prefix + (name,)
            if member.is_signature:
                walk(path, member.signature.members)
            elif member.is_port:
                out["__".join(path)] = {"flow": member.flow.name, **describe(member.shape)}
    walk((), component.signature.members)
    return out
