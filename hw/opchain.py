"""What every unit running ops of the op table (`golden_model.timing.LANE_OPS`) builds from it: the
valid chain of each op, the simulation assertion that no two ops (or two stages of one op) claim
one resource in a cycle, and the steering of each shared resource from the stage that claims it.

Used by the lane (`hw.lane.Lane`) and by the t-SNE update slice (`hw.tsne_update.UpdateSlice`),
so that both read the stage plan the same way and check it the same way.
"""

from __future__ import annotations

import operator
from functools import reduce

from amaranth.hdl import Assert, Format, Mux, Signal

from golden_model import timing

__all__ = ["valid_chains", "check_conflicts", "steer"]


def valid_chains(m, issue: dict) -> dict:
    """``{op: [valid of stage 0, 1, ...]}`` for the ops in ``issue`` (op name -> its issue signal),
    in the table's order: stage 0 is the issue itself, each later stage one register further."""
    v = {}
    for name, op in timing.LANE_OPS.items():
        if name not in issue:           # an op this unit does not build
            continue
        chain = [Signal(name=f"{name}_s{s}") for s in range(op.latency)]
        m.d.comb += chain[0].eq(issue[name])
        for s in range(1, op.latency):
            m.d.sync += chain[s].eq(chain[s - 1])
        v[name] = chain
    return v


def check_conflicts(m, v: dict, label: str) -> None:
    """Simulation assertions: for every resource, at most one of its claimants among the built ops
    ``v`` is valid in a cycle; the message names ``label``, the resource, the cycle since reset
    and every claimant's valid."""
    cycle = Signal(32)                  # cycles since reset, named in the message
    m.d.sync += cycle.eq(cycle + 1)
    for res in timing.RESOURCES:
        users = [(op, st) for op, st in timing.claims(res) if op in v]
        if len(users) > 1:
            busy = sum(v[op][st] for op, st in users)
            who = " ".join(f"{op}.{st}={{}}" for op, st in users)
            # checked at the clock edge (settled values): a combinational check would also see the
            # delta-cycle glitches of the simulator
            m.d.sync += Assert(busy <= 1, Format(f"{label}: two ops claim resource {res!r} "
                                                 f"in the cycle ending at edge {{}} after reset ({who})",
                                                 cycle, *[v[op][st] for op, st in users]))


def steer(m, v: dict, resource: str, drives: dict) -> None:
    """Drive a shared resource from the stage that claims it (`timing.claims`; built ops only).
    ``drives``: ``{(op, stage): [x.eq(y), ...]}`` for every claimant this unit builds."""
    users = [(op, st) for op, st in timing.claims(resource) if op in v]
    drives = {k: d for k, d in drives.items() if k[0] in v}
    assert set(users) == set(drives), (resource, users, list(drives))
    # an AND-OR multiplexer: at most one claimant is valid in a cycle (`check_conflicts`), so each
    # input is gated by its own valid and the inputs are ORed - no priority chain of the valids in
    # front of the resource's operand registers
    terms = {}
    for op, st in users:
        for stmt in drives[(op, st)]:
            assert isinstance(stmt.lhs, Signal) and stmt.lhs.init == 0, stmt     # x.eq(y) statements
            term = Signal(stmt.lhs.shape(), name=f"{resource}_{op}{st}_{stmt.lhs.name}")
            m.d.comb += term.eq(Mux(v[op][st], stmt.rhs, 0))
            terms.setdefault(id(stmt.lhs), (stmt.lhs, []))[1].append(term)
    for lhs, ts in terms.values():
        m.d.comb += lhs.eq(reduce(operator.or_, ts))
