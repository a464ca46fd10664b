"""Phase sequencer of the whole core: search, then joint affinities, then t-SNE (docs/hardware.md,
"Phase sequencer").

With the MODE register at 1 (core generated with ``cfg.phases``) `hw.top.AdapSNECore` runs, on one
distance engine and one set of K lanes:

1. the sigma search (`hw.search`); every result beat still goes to ``res``, and the
   beat's ``u`` is written into the affinity phase's u memory (address = the beat's index) in the
   cycle the beat enters the output register.  With the candidate-parallel search (``skip_aff``:
   DATAFLOW = 0) each point's affinity row runs inside the search, after its result (the search's
   AFFROW state, `hw.affinity` ``row_go``), and the sequencer goes from SEARCH straight to
   ``INIT_GO`` (or ``PDUMP_GO``);
2. otherwise, after the last result beat has been taken (the core's FINISH state): ``AFF_GO`` (one cycle,
   ``aff_go``), ``AFF`` until ``aff_done`` - the affinity controller (`hw.affinity`) owns the
   distance engine's commands, lane 0's search ops (``cand``, ``kern``) and lane 0's ``trecip``;
   with the DEBUG register's bit 0 (``pdump``) then ``PDUMP_GO``, ``PDUMP``: the P memory on ``emb``
   (`hw.pdump`);
3. ``INIT_GO`` (``tsne_init``), ``INIT`` until ``tsne_done`` (PRNG embedding from the SEED
   register), ``TSNE_GO`` (``tsne_go``), ``TSNE`` until ``tsne_done``: the t-SNE engine (`hw.tsne`,
   ``ext``) owns every lane's t-SNE ops and lane 0's ``prng`` op, and reads S from the affinity
   phase's P memory (one memory); its trace stream is the core's ``emb`` stream;
4. ``done`` pulses with the t-SNE engine's last ``done``; the core then goes idle (done = 1).

The sequencer holds the phase (``phase``, registered through its FSM state) the core's operand
multiplexers select on, and the u capture; `drive` is the multiplexer helper.
"""

from __future__ import annotations

from amaranth.hdl import Module, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from golden_model.config import AccelConfig

from .layouts import CoreLayouts

__all__ = ["PhaseSequencer", "Phase", "drive"]


class Phase:
    """Values of ``PhaseSequencer.phase``: who drives the shared engine and lane 0."""
    SEARCH = 0
    AFF = 1
    TSNE = 2


def _member(obj, path):
    for p in path:
        obj = getattr(obj, p) if isinstance(p, str) else obj[p]
    return obj


def drive(m: Module, dst, src) -> None:
    """``dst`` (a consumer-side interface, e.g. a lane's ``ops``) takes every output member of
    ``src`` (a producer-side interface of the same signature), as comb statements at the current
    ``If`` nesting of ``m``: placed under a phase condition after the default ``wiring.connect``,
    they override it in that phase."""
    for path, member, value in src.signature.flatten(src):
        if member.flow == Out:
            m.d.comb += _member(dst, path).eq(value)


class PhaseSequencer(wiring.Component):
    """Sequence of the phases after the search, and the capture of the searched u.

    Parameters
    ----------
    cfg : AccelConfig

    Attributes
    ----------
    start : In(1)
        The search has finished and its last beat was taken (pulse; ignored unless idle).
    beat_valid : In(1), beat_index : In(range(n_max)), beat_u : In(signed(u_bits))
        A search result beat entering the core's output register.
    u_we, u_addr, u_data : Out
        Write port of the affinity phase's u memory (`hw.affinity.AffinityController`).
    aff_go, tsne_init, tsne_go : Out(1)
        Start pulses of the affinity phase, the t-SNE initialisation and the t-SNE run.
    aff_done, tsne_done : In(1)
        Their ``done`` pulses.
    skip_aff : In(1)
        The affinity rows ran inside the search (fused rows; stable for a run): ``start`` goes to
        ``INIT_GO`` (or ``PDUMP_GO``) instead of ``AFF_GO``.
    pdump : In(1)
        The run's DEBUG bit 0: after the affinity phase ``PDUMP_GO`` (``pd_go``) and ``PDUMP``
        until ``pd_done`` (`hw.pdump`; ``pd_active`` in both states), then ``INIT_GO``.
    phase : Out(range(3))
        `Phase` value: the owner of the distance engine's commands and of lane 0's shared ops.
    done : Out(1)
        Pulses in the cycle the t-SNE run's ``done`` is seen.
    """

    def __init__(self, cfg: AccelConfig):
        self.cfg = cfg
        L = CoreLayouts(cfg)
        super().__init__({
            "start": In(1),
            "beat_valid": In(1), "beat_index": In(range(cfg.n_max)), "beat_u": In(signed(L.u_bits)),
            "u_we": Out(1), "u_addr": Out(range(cfg.n_max)), "u_data": Out(signed(L.u_bits)),
            "aff_go": Out(1), "aff_done": In(1), "tsne_init": Out(1), "tsne_go": Out(1), "tsne_done": In(1),
            "skip_aff": In(1),
            "phase": Out(range(3)), "done": Out(1),
            # P dump (DEBUG bit 0, `hw.pdump`) between the affinity phase and INIT_GO
            "pdump": In(1), "pd_go": Out(1), "pd_done": In(1), "pd_active": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        # every search beat is captured (the affinity's u port only writes while that phase is idle)
        m.d.comb += [self.u_we.eq(self.beat_valid), self.u_addr.eq(self.beat_index), self.u_data.eq(self.beat_u)]
        with m.FSM(name="phases"):
            with m.State("SEARCH"):
                m.d.comb += self.phase.eq(Phase.SEARCH)
                with m.If(self.start):
                    m.next = "AFF_GO"
                    with m.If(self.skip_aff):
                        m.next = "INIT_GO"
                        with m.If(self.pdump):
                            m.next = "PDUMP_GO"
            with m.State("AFF_GO"):
                m.d.comb += [self.phase.eq(Phase.AFF), self.aff_go.eq(1)]
                m.next = "AFF"
            with m.State("AFF"):
                m.d.comb += self.phase.eq(Phase.AFF)
                with m.If(self.aff_done):
                    m.next = "INIT_GO"
                    with m.If(self.pdump):
                        m.next = "PDUMP_GO"
            with m.State("PDUMP_GO"):        # phase stays AFF: nobody drives the engine or lane 0
                m.d.comb += [self.phase.eq(Phase.AFF), self.pd_active.eq(1), self.pd_go.eq(1)]
                m.next = "PDUMP"
            with m.State("PDUMP"):
                m.d.comb += [self.phase.eq(Phase.AFF), self.pd_active.eq(1)]
                with m.If(self.pd_done):
                    m.next = "INIT_GO"
            with m.State("INIT_GO"):
                m.d.comb += [self.phase.eq(Phase.TSNE), self.tsne_init.eq(1)]
                m.next = "INIT"
            with m.State("INIT"):
                m.d.comb += self.phase.eq(Phase.TSNE)
                with m.If(self.tsne_done):
                    m.next = "TSNE_GO"
            with m.State("TSNE_GO"):
                m.d.comb += [self.phase.eq(Phase.TSNE), self.tsne_go.eq(1)]
                m.next = "TSNE"
            with m.State("TSNE"):
                m.d.comb += self.phase.eq(Phase.TSNE)
                with m.If(self.tsne_done):
                    m.d.comb += self.done.eq(1)
                    m.next = "SEARCH"
        return m
