"""I/O harness for place and route, and the FPGA targets (real boards from amaranth-boards).

Why a harness: fmax read from nextpnr is only meaningful for register-to-register paths inside the
design.  Connected straight to pins, the core's combinational port paths would run pad to pad (or
be left unconstrained) and its ~100-300 port bits would not fit a UP5K SG48 package (39 I/O) or
the free connector pins of a ULX3S anyway.  `SerialHarness` therefore

* registers every core input in a holding register (``hold_in``) and every core output in an
  output register (``out_q``) -- all core I/O is registered, so every timing path through the
  core starts and ends at a flip-flop;
* loads ``hold_in`` from a shift register filled one bit per cycle from pin ``si`` while ``shift``
  is high (``load`` copies it to the core inputs), and copies ``out_q`` into an output shift
  register on ``capture`` which shifts out on ``so`` while ``shift`` is high;
* registers the four control/data input pins once before use.

Pins: 5 signal pins on one connector of the board (iCEBreaker PMOD1A, ULX3S GPIO bank 0) plus the
board's clock pin; the clock domain (with power-on reset) is the board's default one created by
the amaranth-boards platform, so ``platform.build(SerialHarness(core), ...)`` builds the same
design for the real board.  The harness costs about 2 flip-flops per core port bit, which is
reported separately (``harness_overhead`` = placed design minus core-only synthesis).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from amaranth import Cat, Elaboratable, Module, Signal
from amaranth.build import Attrs, Pins, Resource, Subsignal
from amaranth.hdl import Value
from amaranth.lib import io, wiring

HARNESS_PINS = ("si", "shift", "load", "capture", "so")


class SerialHarness(Elaboratable):
    """Wrap a `wiring.Component` so that all of its I/O is registered and reached through a
    5-pin serial interface (see module docstring).

    Without a platform (simulation, unit tests) the pins are plain signals ``si, shift, load,
    capture`` (inputs) and ``so`` (output) on the harness object.
    """

    def __init__(self, core: wiring.Component):
        self.core = core
        self.inputs, self.outputs = [], []
        for path, member, value in core.signature.flatten(core):
            v = Value.cast(value)
            (self.inputs if member.flow == wiring.In else self.outputs).append(v)
        self.in_bits = sum(len(v) for v in self.inputs)
        self.out_bits = sum(len(v) for v in self.outputs)
        self.si, self.shift, self.load, self.capture = Signal(), Signal(), Signal(), Signal()
        self.so = Signal()

    def elaborate(self, platform):
        m = Module()
        m.submodules.core = self.core
        if platform is not None:
            pins = platform.request("harness", 0, dir="-")
            regs = {}
            for n in ("si", "shift", "load", "capture"):
                m.submodules[f"{n}_buf"] = buf = io.Buffer("i", getattr(pins, n))
                regs[n] = Signal(name=f"{n}_q")
                m.d.sync += regs[n].eq(buf.i)
            si, shift, load, capture = regs["si"], regs["shift"], regs["load"], regs["capture"]
            m.submodules.so_buf = so_buf = io.Buffer("o", pins.so)
            m.d.comb += so_buf.o.eq(self.so)
        else:
            si, shift, load, capture = self.si, self.shift, self.load, self.capture

        nin, nout = max(1, self.in_bits), max(1, self.out_bits)
        sreg_in = Signal(nin)
        hold_in = Signal(nin)
        out_q = Signal(nout)
        sreg_out = Signal(nout)
        with m.If(shift):
            m.d.sync += sreg_in.eq(Cat(sreg_in[1:], si))
        with m.If(load):
            m.d.sync += hold_in.eq(sreg_in)
        if self.inputs:
            m.d.comb += Cat(*self.inputs).eq(hold_in)
        if self.outputs:
            m.d.sync += out_q.eq(Cat(*self.outputs))
        with m.If(capture):
            m.d.sync += sreg_out.eq(out_q)
        with m.Elif(shift):
            m.d.sync += sreg_out.eq(sreg_out >> 1)
        m.d.comb += self.so.eq(sreg_out[0])
        return m


# --------------------------------------------------------------------------- targets


@dataclass(frozen=True)
class Target:
    """One FPGA target: a device taken from a real board's amaranth-boards platform."""
    key: str           # report key, e.g. "ice40-up5k"
    family: str        # "ice40" | "ecp5"
    platform: str      # "module:Class" in amaranth_boards
    connector: tuple   # (name, number) of the connector carrying the harness pins
    conn_pins: tuple   # connector pin names for si, shift, load, capture, so
    io_attrs: tuple    # ((key, value), ...) I/O standard attributes
    pnr_mhz: float     # P&R target clock frequency (replaces the board oscillator's constraint)
    capacity: tuple = ()  # ((resource, count), ...) from the device data sheet (checked against
    #                       nextpnr's "available" counts by tests/test_synth.py)

    @property
    def capacity_dict(self) -> dict:
        return dict(self.capacity)

    def platform_class(self):
        mod, cls = self.platform.split(":")
        return getattr(importlib.import_module(mod), cls)

    def make_platform(self):
        plat = self.platform_class()()
        sub = [Subsignal(name, Pins(pin, dir="o" if name == "so" else "i", conn=self.connector))
               for name, pin in zip(HARNESS_PINS, self.conn_pins)]
        plat.add_resources([Resource("harness", 0, *sub, Attrs(**dict(self.io_attrs)))])
        return plat

    def describe(self) -> dict:
        plat = self.platform_class()()
        d = {"target": self.key, "family": self.family, "board_platform": self.platform,
             "device": plat.device, "package": plat.package,
             "speed": getattr(plat, "speed", None), "board_clock": plat.default_clk,
             "board_clock_mhz": plat.default_clk_frequency / 1e6,
             "harness_pins": {n: f"{self.connector[0]}_{self.connector[1]}:{p}"
                              for n, p in zip(HARNESS_PINS, self.conn_pins)},
             "pnr_target_mhz": self.pnr_mhz, "capacity": self.capacity_dict}
        return d

    def nextpnr_device_args(self) -> list:
        """Device and package options exactly as the amaranth-boards platform passes them."""
        plat = self.platform_class()()
        if self.family == "ice40":
            pkg = plat.package.lower() + plat._nextpnr_package_options.get(plat.device, "")
            return [plat._nextpnr_device_options[plat.device], "--package", pkg]
        return [plat._nextpnr_device_options[plat.device], "--package",
                plat._nextpnr_package_options[plat.package].upper(), "--speed", str(plat.speed)]


TARGETS = {
    "ice40-up5k": Target("ice40-up5k", "ice40", "amaranth_boards.icebreaker:ICEBreakerPlatform",
                         ("pmod", 0), ("1", "2", "3", "4", "7"), (("IO_STANDARD", "SB_LVCMOS"),), 48.0,
                         (("luts", 5280), ("dsp", 8), ("bram", 30), ("spram", 4))),
    "ecp5-25f": Target("ecp5-25f", "ecp5", "amaranth_boards.ulx3s:ULX3S_25F_Platform",
                       ("gpio", 0), ("0+", "0-", "1+", "1-", "2+"), (("IO_TYPE", "LVCMOS33"),), 125.0,
                       (("luts", 24288), ("dsp", 28), ("bram", 56))),
    "ecp5-85f": Target("ecp5-85f", "ecp5", "amaranth_boards.ulx3s:ULX3S_85F_Platform",
                       ("gpio", 0), ("0+", "0-", "1+", "1-", "2+"), (("IO_TYPE", "LVCMOS33"),), 125.0,
                       (("luts", 83640), ("dsp", 156), ("bram", 208))),
}


def default_targets(preset: str) -> list:
    """The issue's target list: UP5K for tiny/small, ECP5 25F and 85F for every preset."""
    keys = ["ice40-up5k"] if preset in ("tiny", "small") else []
    return keys + ["ecp5-25f", "ecp5-85f"]


def prepare_board_files(target: Target, core: wiring.Component, name: str = "top") -> dict:
    """RTLIL and constraint file of the harnessed core for `target`, from the board's platform
    (``platform.prepare``).  Returns ``{filename: text}`` with ``{name}.il`` and ``{name}.pcf`` or
    ``{name}.lpf``, plus the clock-constraint line found in it."""
    plat = target.make_platform()
    plan = plat.prepare(SerialHarness(core), name=name)
    files = {}
    for fn, content in plan.files.items():
        if fn.endswith((".il", ".pcf", ".lpf")):
            files[fn] = content if isinstance(content, str) else content.decode()
    return files
