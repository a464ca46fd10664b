"""The t-SNE update unit's slice: a pipelined unit with the update op ``tupd`` and nothing else.

The update (gradient, gains, velocity, position of one point, `golden_model.tsne_fixed.update`)
is not a lane op: it runs on ``cfg.tsne_update_slices`` slices owned by the t-SNE engine
(`hw.tsne`), outside the lanes, so that an iteration's update can run while the lanes' TM0/TM1 are
busy with the next iteration's pair stream (docs/hardware.md, "The update unit").  A slice builds
``tupd``'s valid chain and stage plan from the op table (`golden_model.timing.LANE_OPS`, the
resources ``tu_in`` .. ``tu_pos`` and ``tu0_in`` .. ``tu7_sum``), its `timing.TUPD_MULTIPLIERS`
multipliers per coordinate as wide TMs (`hw.lane_tsne.tm_multiplier`, each taking two chunk
products of a point in stages of opposite parity) and the datapath of `hw.lane_tupd`, so a slice
takes a point every `timing.TUPD_INTERVAL` = 2 cycles (session 50; before, a slice had one TM per
coordinate and took a point every 16 cycles).  The engine issues point ``i`` to slice ``i mod S``,
the S slices' points in S consecutive cycles, one burst every ``S x`` `timing.tsne_update_interval`
(S) cycles (a period at which ``tupd`` does not collide with itself,
`timing.tsne_update_period_ok`); the presets have S = 1.
"""

from __future__ import annotations

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In

from golden_model import timing
from golden_model.config import AccelConfig

from .lane_tsne import TsneWidths, tm_multiplier, update_signature
from .lane_tupd import TupdLaneMixin
from .opchain import check_conflicts, steer, valid_chains

__all__ = ["UpdateSlice"]


class UpdateSlice(TupdLaneMixin, wiring.Component):
    """One update slice.

    Parameters
    ----------
    cfg : AccelConfig
    index : int
        Slice number (names only).
    checks : bool
        Simulation assertion: no two ``tupd`` in flight claim one resource in one cycle (the
        engine's issue period must be a free one).

    Attributes
    ----------
    tsne : In(update_signature(cfg))
        ``upd``: the point's A, R, y, v, gains and the iteration's constants with ``issue``;
        ``uy0``, ``uy1``, ``uv0``, ``uv1``, ``ug0``, ``ug1``: its results, ``latency("tupd")``
        cycles after the issue.
    """

    def __init__(self, cfg: AccelConfig, index: int = 0, checks: bool = False):
        self.cfg = cfg
        self.index = index
        self.checks = checks
        super().__init__({"tsne": In(update_signature(cfg))})

    def elaborate(self, platform):
        m = Module()
        v = valid_chains(m, {"tupd": self.tsne.upd.issue})
        if self.checks:
            check_conflicts(m, v, f"update slice {self.index}")
        tw = TsneWidths(self.cfg)
        tms = [[tm_multiplier(m, tw, f"tu{k}c{c}") for k in range(timing.TUPD_MULTIPLIERS)] for c in range(2)]
        for resource, drives in self._elaborate_tupd(m, v, tms).items():
            steer(m, v, resource, drives)
        return m
