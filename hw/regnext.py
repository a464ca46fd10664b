"""Registers driven through their next value, so logic can be registered *in step* with them.

``next_values(m, r1, r2, ...)`` returns one combinational ``<name>_nxt`` per register: it defaults
to the register's value, the register takes it at every edge, and a counter changes by assigning
``m.d.comb += r_nxt.eq(...)`` instead of ``m.d.sync += r.eq(...)``.  Reading ``r_nxt`` in a
``sync`` assignment then registers a function of ``r`` that is valid in the same cycle as ``r``
(an address ``base + offset``, a flag ``count == last``) with no adder or comparator between
``r`` and the consumer: the re-timing used by the distance engine's addresses and the lane's PRNG.
"""

from __future__ import annotations

from amaranth.hdl import Signal

__all__ = ["next_values"]


def next_values(m, *regs, domain: str = "sync"):
    """``<name>_nxt`` for each register (a tuple, or the signal itself for one register)."""
    nxts = []
    for r in regs:
        nxt = Signal.like(r, name=f"{r.name}_nxt")
        m.d.comb += nxt.eq(r)
        m.d[domain] += r.eq(nxt)
        nxts.append(nxt)
    return nxts[0] if len(nxts) == 1 else tuple(nxts)
