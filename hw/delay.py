"""``delay_line(m, sig, n, prefix)``: ``sig`` through ``n`` unconditional registers (an op's valid or
data moving one stage per cycle), named ``<prefix>1`` .. ``<prefix>n``; returns the last one (``sig``
itself for ``n = 0``)."""

from __future__ import annotations

from amaranth.hdl import Signal

__all__ = ["delay_line"]


def delay_line(m, sig, n: int, prefix: str, domain: str = "sync"):
    for k in range(n):
        nxt = Signal.like(sig, name=f"{prefix}{k + 1}")
        m.d[domain] += nxt.eq(sig)
        sig = nxt
    return sig
