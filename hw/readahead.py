"""Reads ahead of a registered stream output: the words in flight from a read port with a fixed
latency, and a small buffer that catches them while the stream is stalled.

A consumer that reads a memory for a stream (the P dump, `hw.pdump`; the t-SNE trace's embedding
beats, `hw.tsne`) would otherwise steer the read address with the stream's ``ready``: a long path
from the stream's far end into a memory address.  Here a read issues whenever the buffer has room
for every word in flight (`ReadAhead.room`), so the address depends on registers only, and the
buffer (``latency + 1`` entries, FIFO order, head at entry 0) never drops a word however
``ready`` moves.  With ``ready`` high a word goes straight from the read port into the output
register (the bypass), one beat per cycle.
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal

__all__ = ["ReadAhead"]


class ReadAhead:
    """In-flight tags and the catch buffer of one read-ahead stream (module docstring).

    Parameters
    ----------
    latency : int
        Cycles from a read's address to its data (>= 1).
    tag, data : Signal
        Shapes of what travels with a read (e.g. the element's index) and of the read data.
    name : str
        Prefix of the registers' names.
    depth : int, optional
        Buffer entries, ``latency + 1`` unless given (fewer still keep every word, but leave
        bubbles in the stream with ``ready`` high: a test shows its check catching that).

    Attributes
    ----------
    fl_v, fl_tag : list of Signal
        The reads in flight (stage 0: issued in the cycle before).  A user may set stage 0 itself,
        for a read issued before the stream starts (later statements win).
    count : Signal
        Words waiting in the buffer (set it to 0 when a stream starts).
    room : Value
        A read may issue this cycle.
    """

    def __init__(self, latency: int, tag: Signal, data: Signal, name: str, depth: int | None = None):
        assert latency >= 1, "a read port has at least one register"
        self.latency, self.depth = latency, latency + 1 if depth is None else depth
        self.fl_v = [Signal(name=f"{name}_fl_v{k}") for k in range(latency)]
        self.fl_tag = [Signal.like(tag, name=f"{name}_fl_tag{k}") for k in range(latency)]
        self.buf_tag = [Signal.like(tag, name=f"{name}_buf_tag{k}") for k in range(self.depth)]
        self.buf_data = [Signal.like(data, name=f"{name}_buf_data{k}") for k in range(self.depth)]
        self.count = Signal(range(self.depth + 1), name=f"{name}_count")
        self.room = self.count + sum(self.fl_v) < self.depth

    def step(self, m: Module, issue, tag, data, take) -> tuple:
        """The cycle's statements (under the caller's conditions): ``issue`` a read of ``tag``
        now; ``data`` is the read port's word of the read issued ``latency`` cycles ago; the
        output register is free after this cycle if ``take``.  Returns ``(emit, out_tag,
        out_data)``: whether a word goes into the output register, and which."""
        v, t = self.fl_v, self.fl_tag
        m.d.sync += [v[0].eq(issue), t[0].eq(tag)]
        m.d.sync += [x[k].eq(x[k - 1]) for k in range(1, self.latency) for x in (v, t)]
        arrive, arr_tag = v[-1], t[-1]
        count = self.count
        pop = take & (count != 0)
        bypass = take & (count == 0) & arrive
        push = arrive & ~bypass
        m.d.sync += count.eq(count - pop + push)
        # shift out the head on pop; the arriving word goes behind the remaining entries (entries
        # at or beyond the count hold stale words: only the count says what is valid)
        for k in range(self.depth):
            here = (self.buf_tag[k], self.buf_data[k])
            behind = (self.buf_tag[k + 1], self.buf_data[k + 1]) if k + 1 < self.depth else here
            is_tail = push & ((count - pop) == k)
            for reg, new, nxt in zip(here, (arr_tag, data), behind):
                m.d.sync += reg.eq(Mux(is_tail, new, Mux(pop, nxt, reg)))
        return (pop | bypass, Mux(pop, self.buf_tag[0], arr_tag), Mux(pop, self.buf_data[0], data))
