"""Fan-out registers that synthesis keeps apart: one copy per consumer.

A controller that drives K lanes registers each broadcast operand once per lane, so that the long
route to a lane ends at a flip-flop placed beside that lane and the lane's own logic starts from a
local register.  Synthesis tools merge flip-flops with identical inputs (Yosys' ``opt_merge``), which
turns K such copies back into one register whose fan-out spans the die.  Each copy is therefore a
signal with the attribute `REPLICA_ATTR`; the project's Yosys flows mark the flip-flops driving
those signals ``keep`` (`synth.flow.KEEP_REPLICAS`), which ``opt_merge`` respects.  In simulation
and in the Verilog's behaviour a replica is an ordinary register (the attribute has no meaning
there); other flows should apply the same rule to keep the timing of our reports.
"""

from __future__ import annotations

from amaranth.hdl import Signal, Value

__all__ = ["REPLICA_ATTR", "replica"]

#: the Verilog / RTLIL attribute naming a fan-out copy that must not be merged with its twins
REPLICA_ATTR = "adapsne_replica"


def replica(m, value, name: str, domain: str = "sync") -> Signal:
    """A register of ``value`` (one cycle later) that synthesis keeps as a copy of its own."""
    value = Value.cast(value)
    reg = Signal(value.shape(), name=name, attrs={REPLICA_ATTR: 1})
    m.d[domain] += reg.eq(value)
    return reg
