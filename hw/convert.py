"""Amaranth's Verilog / RTLIL conversion with Python's cyclic garbage collector paused.

Elaborating and converting a core creates millions of small objects that stay alive until the
conversion ends, so each of the collector's automatic passes walks an ever larger heap and frees
almost nothing: for the digits core with the phases the collector took more than half of the
conversion's CPU time (22.4 s -> 9.2 s with it paused, session 50).  Pausing it changes no output
(the same Verilog bytes; `tests/test_generate.py`); whatever the conversion left in cycles is
collected by the next automatic pass after it.
"""

from __future__ import annotations

import contextlib
import gc

__all__ = ["gc_paused", "to_verilog", "to_rtlil"]


@contextlib.contextmanager
def gc_paused():
    """The cyclic garbage collector off for the ``with`` body (restored as it was, also on error)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def to_verilog(top, **kwargs) -> str:
    """``amaranth.back.verilog.convert(top, **kwargs)`` with the collector paused."""
    from amaranth.back import verilog
    with gc_paused():
        return verilog.convert(top, **kwargs)


def to_rtlil(top, **kwargs) -> str:
    """``amaranth.back.rtlil.convert(top, **kwargs)`` with the collector paused."""
    from amaranth.back import rtlil
    with gc_paused():
        return rtlil.convert(top, **kwargs)
