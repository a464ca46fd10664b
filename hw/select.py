"""Selection phases of the whole core (MODE 2 NMS, MODE 3 AdapSNE; docs/hardware.md, "Selection
modes").

`SelectUnit` runs after each candidate's t-SNE (`hw.phases`) and owns the outer perplexity loop:

``ENT_GO``  one cycle after the t-SNE engine's ``done`` (the engine is idle; its y read port is
            free), then ``ENT``: `hw.entropy.EntropyUnit` on the t-SNE engine's y memory
            (``yrd``), ``entropy_cycles(N)``;
``DECIDE``  the first candidate, or a strictly larger entropy than the best so far (ties -> the
            earlier candidate, as `entropy_fixed.choose_perplexity_fixed`), becomes the best: its
            perplexity register, entropy and count of unconverged searches are latched and
            ``COPY`` copies its embedding into the best-embedding memory (``N + 1`` cycles: read
            address i, write i one cycle later); otherwise straight to ``NEXT``;
``NEXT``    MODE 3 with a candidate left (the next one whose clamped register is not a duplicate
            of an earlier one): ``next`` pulses, the core re-runs TGT and the search at
            ``perp`` (features stay in the distance engine), affinities, t-SNE; MODE 3 on a core
            generated with ``perplexity_search = "fwa"`` and at least two distinct candidates:
            ``FWA``: `hw.perp_fwa.PerpFwa` is stepped (every evaluation was recorded at DECIDE
            with the search's ``log2 PERP`` target) and answers with a ``spark`` (run it like a
            candidate, ``perp`` = the spark) or ``fin``; else ``GRID``;
``GRID``    `hw.grid.GridSampler` (``g_limit = cfg.grid_g``) on the best-embedding memory, its
            index beats passed through to ``sel``; then ``SUM``: the summary beat; ``done``.

Why a copy of the best embedding (``n_max x 2 yb`` bits, one block RAM on digits) and not a
re-run of the best candidate or its indices: a re-run costs a whole candidate (search, affinities
and every t-SNE iteration, ~8.7 M cycles on a digits class), grid sampling each new best costs
6-20 k cycles; the copy costs ``N + 1`` cycles per new best.

The ``sel`` stream (`select_layout`): ``kind`` 0 = index beat (``index``: a selected point,
ascending), ``kind`` 1 = the summary beat, the last one (``perp``: the chosen candidate's
perplexity register, ``h``: its occupancy entropy Q.h_frac bits, ``g``: the side of the grid
sampler's final pass (0 when ``BUDGET >= N``), ``evals``: evaluations (list and sparks), ``unconv``: points
whose sigma search of the chosen candidate stopped at ``max_passes`` without converging).
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from golden_model import fixed as fx
from golden_model.config import AccelConfig, bit_length

from .entropy import EntropyUnit, embedding_read_signature, y_bits
from .grid import GridSampler
from .layouts import CoreLayouts
from .perp_fwa import PerpFwa, exp_op, fwa_entries

__all__ = ["SelectUnit", "select_layout", "candidate_consts", "KIND_INDEX", "KIND_SUMMARY"]

KIND_INDEX, KIND_SUMMARY = 0, 1


def candidate_consts(cfg: AccelConfig) -> list:
    """``cfg.perplexity_candidates`` as register values (before the per-class clamp)."""
    return [fx.perplexity_to_reg(p, cfg) for p in cfg.perplexity_candidates]


def h_bits(cfg: AccelConfig) -> int:
    """Signed width of an occupancy entropy (`hw.entropy.EntropyUnit.h`)."""
    return bit_length(cfg.count_bits) + cfg.h_frac + 1 + 2


def select_layout(cfg: AccelConfig) -> data.StructLayout:
    """Payload of the ``sel`` stream (LSB first; module doc)."""
    return data.StructLayout({
        "kind": 1, "index": cfg.index_bits, "perp": cfg.perp_bits, "h": signed(h_bits(cfg)),
        "g": bit_length(cfg.grid_g), "evals": bit_length(fwa_entries(cfg)),
        "unconv": cfg.count_bits})


class SelectUnit(wiring.Component):
    """Entropy, best-candidate keeping, candidate loop and grid sampling (module doc).

    Attributes
    ----------
    begin : In(1)
        An accepted START (pulse): candidate 0, no best yet.
    mode3 : In(1)
        The run is MODE 3 (candidate list); else one candidate at ``run_perp``.
    n, k : In(count_bits)
        N and BUDGET of the run (stable while busy).
    run_perp : In(perp_bits)
        PERP register of the run (MODE 2).
    perp : Out(perp_bits)
        Perplexity register of the running candidate (to the search controller); a register that
        follows the candidate, N and ``run_perp`` one cycle later (valid two cycles after ``begin``
        or ``next``, when the controller's TGT reads it).
    beat_valid, beat_conv : In(1)
        A search result beat (and its ``converged``) entering the core's output register.
    go : In(1)
        The candidate's t-SNE run is done (pulse).
    next : Out(1)
        Pulse: run the search, affinities and t-SNE of the next candidate.
    done : Out(1)
        Pulse: the summary beat moved.
    yrd : Out(embedding_read_signature(cfg))
        Read port of the t-SNE engine's y memory.
    sel : Out(stream.Signature(select_layout(cfg)))
    """

    def __init__(self, cfg: AccelConfig):
        self.cfg = cfg
        self.ncand = len(cfg.perplexity_candidates)
        super().__init__({
            "begin": In(1), "mode3": In(1), "n": In(cfg.count_bits), "k": In(cfg.count_bits),
            "run_perp": In(cfg.perp_bits), "perp": Out(cfg.perp_bits),
            "beat_valid": In(1), "beat_conv": In(1),
            "v": In(CoreLayouts(cfg).target_bits), "seed": In(32),
            "go": In(1), "next": Out(1), "done": Out(1),
            "yrd": Out(embedding_read_signature(cfg)),
            "sel": Out(stream.Signature(select_layout(cfg))),
        })

    def elaborate(self, platform):
        m = Module()
        cfg, NC = self.cfg, self.ncand
        m.submodules.ent = ent = EntropyUnit(cfg)
        m.submodules.grid = grid = GridSampler(cfg, cfg.grid_g)
        best_mem = Memory(shape=2 * y_bits(cfg), depth=cfg.n_max, init=[])
        m.submodules.best_y = best_mem
        b_wp, b_rp = best_mem.write_port(), best_mem.read_port()
        m.d.comb += [ent.n.eq(self.n), grid.n.eq(self.n), grid.k.eq(self.k),
                     ent.emb.data.eq(self.yrd.data),
                     b_rp.addr.eq(grid.emb.addr), grid.emb.data.eq(b_rp.data)]

        # candidates: register values clamped to max(1, (N - 1) / 2) (`entropy_fixed.perp_reg_cap`);
        # a clamped value equal to an earlier one's is skipped (`entropy_fixed.candidate_regs`)
        # Each clamp decision ``q > cap(N)`` is a compare of N with a constant (cap is monotone in
        # N: the threshold is found here, at elaboration), so N's decrement and the 14-bit compares
        # no longer sit in series in front of `perp` (N is latched at START, perp read two cycles
        # later: no room for a register)
        def cap_of(n):
            pmax = fx.perp_reg_max(n, cfg)
            return max(pmax, 1 << cfg.perp_frac) if isinstance(n, int) else Mux(pmax < (1 << cfg.perp_frac), 1 << cfg.perp_frac, pmax)
        cap = Signal(cfg.perp_bits)
        m.d.comb += cap.eq(cap_of(self.n))
        clamped = [Signal(cfg.perp_bits, name=f"cand{c}") for c in range(NC)]
        n_all = range(1 << len(self.n))
        for c, q in enumerate(candidate_consts(cfg)):
            over = [q > cap_of(n) for n in n_all]
            below = over.index(False) if False in over else len(over)   # q > cap(N) <=> N < below
            assert over == [n < below for n in n_all], "cap(N) must be monotone"
            m.d.comb += clamped[c].eq(Mux(self.n < below, cap, q))
        # dup[c]: registers (N's clamp and the 14-bit compares in front of `nxt` were 11.4 ns in a
        # session 42 trial); `nxt` follows N two cycles later, long before NEXT reads it
        dup = [Signal(name=f"dup{c}") for c in range(NC)]
        for c in range(1, NC):
            m.d.sync += dup[c].eq(Cat(clamped[j] == clamped[c] for j in range(c)).any())
        cand = Signal(range(NC + 1))
        spark_run = Signal()            # the running candidate is an outer-FWA spark
        fwa = None
        if cfg.perplexity_search == "fwa" and exp_op(cfg) is not None and NC > 1:
            m.submodules.fwa = fwa = PerpFwa(cfg, h_bits(cfg), CoreLayouts(cfg).target_bits)
        # `perp` is a register: the clamp (from N) and the candidate multiplexer end at a flip-flop,
        # not in the search controller's ROWEND unit and the best-candidate registers.  It follows
        # `cand`, `run_perp` and N one cycle later, in time for the controller's TGT, which reads it
        # two cycles after START or `next`.
        with m.Switch(cand):
            for c in range(NC):
                with m.Case(c):
                    m.d.sync += self.perp.eq(Mux(self.mode3, clamped[c], self.run_perp))
        if fwa is not None:
            with m.If(spark_run):
                m.d.sync += self.perp.eq(fwa.pq)
        # the next candidate that is not a duplicate (NC: none left); a register, since NEXT reads
        # it long after `cand` and N last changed
        nxt = Signal(range(NC + 1))
        nxt_c = Signal(range(NC + 1))
        m.d.comb += nxt_c.eq(NC)
        for c in reversed(range(1, NC)):
            with m.If((c > cand) & ~dup[c]):
                m.d.comb += nxt_c.eq(c)
        m.d.sync += nxt.eq(nxt_c)

        hb = h_bits(cfg)
        best_h, best_perp = Signal(signed(hb)), Signal(cfg.perp_bits)
        best_unconv, unconv = Signal(cfg.count_bits), Signal(cfg.count_bits)
        evals = Signal(range(fwa_entries(cfg) + 1))
        cnt = Signal(range(cfg.n_max + 2))
        with m.If(self.beat_valid & ~self.beat_conv):
            m.d.sync += unconv.eq(unconv + 1)
        with m.If(self.begin):
            m.d.sync += [cand.eq(0), evals.eq(0), unconv.eq(0), spark_run.eq(0)]
        if fwa is not None:
            m.d.comb += [fwa.begin.eq(self.begin), fwa.rec_pq.eq(self.perp), fwa.rec_h.eq(ent.h),
                         fwa.rec_v.eq(self.v), fwa.best_h.eq(best_h), fwa.seed.eq(self.seed)]

        # the y read address: the copy's counter in COPY, else the entropy unit's; one multiplexer
        # steered by a register (the address crosses to the t-SNE engine's y memory)
        copying = Signal()
        m.d.comb += self.yrd.addr.eq(Mux(copying, cnt, ent.emb.addr))

        o = self.sel
        with m.FSM(name="select"):
            with m.State("IDLE"):
                with m.If(self.go):
                    m.next = "ENT_GO"
            with m.State("ENT_GO"):
                m.d.comb += ent.go.eq(1)
                m.next = "ENT"
            with m.State("ENT"):
                with m.If(ent.done):
                    m.d.sync += [evals.eq(evals + 1), unconv.eq(0), cnt.eq(0)]
                    if fwa is not None:
                        m.d.comb += fwa.rec.eq(self.mode3)
                    with m.If((evals == 0) | (ent.h > best_h)):
                        m.d.sync += [best_h.eq(ent.h), best_perp.eq(self.perp), best_unconv.eq(unconv),
                                     copying.eq(1)]
                        m.next = "COPY"
                    with m.Else():
                        m.next = "NEXT"
            with m.State("COPY"):
                # address i in cycle i, its word written in cycle i + 1
                m.d.sync += cnt.eq(cnt + 1)
                with m.If(cnt != 0):
                    m.d.comb += [b_wp.en.eq(1), b_wp.addr.eq(cnt - 1), b_wp.data.eq(self.yrd.data)]
                with m.If(cnt == self.n):
                    m.d.sync += copying.eq(0)
                    m.next = "NEXT"
            with m.State("NEXT"):
                with m.If(self.mode3 & (nxt != NC) & ~spark_run):
                    m.d.comb += self.next.eq(1)
                    m.d.sync += cand.eq(nxt)
                    m.next = "IDLE"
                if fwa is not None:
                    # at least two distinct candidates: the outer FWA (evals > 1 here)
                    with m.Elif(self.mode3 & (evals > 1)):
                        m.d.comb += fwa.step.eq(1)
                        m.next = "FWA"
                with m.Else():
                    m.d.comb += grid.go.eq(1)
                    m.next = "GRID"
            if fwa is not None:
                with m.State("FWA"):
                    with m.If(fwa.spark):
                        m.d.comb += self.next.eq(1)
                        m.d.sync += spark_run.eq(1)
                        m.next = "IDLE"
                    with m.Elif(fwa.fin):
                        m.d.comb += grid.go.eq(1)
                        m.next = "GRID"
            with m.State("GRID"):
                m.d.comb += [o.valid.eq(grid.out.valid), o.payload.kind.eq(KIND_INDEX),
                             o.payload.index.eq(grid.out.index), grid.out.ready.eq(o.ready)]
                with m.If(grid.done):
                    m.next = "SUM"
            with m.State("SUM"):
                m.d.comb += [o.valid.eq(1), o.payload.kind.eq(KIND_SUMMARY), o.payload.perp.eq(best_perp),
                             o.payload.h.eq(best_h), o.payload.g.eq(grid.g_side), o.payload.evals.eq(evals),
                             o.payload.unconv.eq(best_unconv)]
                with m.If(o.ready):
                    m.d.comb += self.done.eq(1)
                    m.next = "IDLE"
        return m
