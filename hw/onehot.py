"""A state machine with one flip-flop per state, written like Amaranth's ``m.FSM``.

Why: Amaranth 0.5 encodes ``m.FSM`` states in binary and Yosys will not re-encode them (the state
register has an initialisation value), so every use of a state is a decode that ABC merges with
the next-state logic of far-away registers.  On the search controller that made the FSM's own
clock enable the critical path (docs/hardware.md, "Where the clock stands").  Here a state is one
register bit: "in state X" is a wire, and the next-state logic of bit X depends only on the
conditions that enter or leave X.

Usage (the same shape as ``m.FSM``)::

    fsm = OneHotFSM(m, ["IDLE", "RUN"], name="ctrl")
    with fsm.State("IDLE"):
        with m.If(go):
            fsm.goto("RUN")
    with fsm.State("RUN"):
        ...

``goto`` assigns the whole next-state vector, so, as with ``m.next``, the last ``goto`` executed
in a cycle wins.  ``ongoing(X)`` is state X's flip-flop; ``entering(X)`` is its next value (high in
the cycle before X is ongoing), for flags that must be registered in step with the state.
"""

from __future__ import annotations

from amaranth.hdl import Signal

__all__ = ["OneHotFSM"]


class OneHotFSM:
    """One-hot state register ``<name>_state`` (bit k = ``states[k]``) and its next value.

    Parameters
    ----------
    m : Module
    states : list of str
        Every state, the first being the reset state unless ``init`` names another.
    name : str
    init : str, optional
    domain : str
    """

    def __init__(self, m, states, *, name: str, init: str | None = None, domain: str = "sync"):
        if len(set(states)) != len(states) or not states:
            raise ValueError(f"OneHotFSM {name!r}: states must be distinct and non-empty, got {states}")
        init = states[0] if init is None else init
        self._m = m
        self._index = {s: k for k, s in enumerate(states)}
        self.state = Signal(len(states), init=1 << self._index[init], name=f"{name}_state")
        self.next_state = Signal(len(states), name=f"{name}_next")
        m.d.comb += self.next_state.eq(self.state)
        m.d[domain] += self.state.eq(self.next_state)

    def _bit(self, state: str) -> int:
        try:
            return self._index[state]
        except KeyError:
            raise ValueError(f"unknown state {state!r}; states are {list(self._index)}") from None

    def State(self, state: str):
        """Context: the statements inside act while ``state`` is ongoing."""
        return self._m.If(self.state[self._bit(state)])

    def goto(self, state: str) -> None:
        """Next cycle, be in ``state`` (the last ``goto`` of a cycle wins)."""
        self._m.d.comb += self.next_state.eq(1 << self._bit(state))

    def ongoing(self, state: str):
        return self.state[self._bit(state)]

    def entering(self, state: str):
        return self.next_state[self._bit(state)]
